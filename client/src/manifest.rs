//! `dir://` manifests: a directory notarized as one artifact is identified by the SHA-256 of
//! its manifest, one `<sha256>  <relative path>` line per file, sorted by path, like
//! `sha256sum`. `notarium notarize --receipts` keeps the manifest next to the receipt, and
//! `notarium authenticate --manifest FILE` reads it back (a file anyone could have written, so
//! it is authenticated by its hash before the files that differ are listed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use notarium_core::Sha256;

use crate::Error;

/// A directory's manifest: relative path → the file's SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Relative path (`/`-separated) → hash.
    pub files: BTreeMap<String, Sha256>,
}

impl Manifest {
    /// The canonical text whose SHA-256 identifies the directory.
    pub fn text(&self) -> String {
        self.files
            .iter()
            .map(|(p, h)| format!("{h}  {p}\n"))
            .collect()
    }

    /// The manifest of the directory `root` holding `files` (paths under `root`, with their
    /// hashes).
    ///
    /// # Errors
    /// None yet: every file gets a line.
    pub fn of_dir(
        root: &Path,
        files: impl IntoIterator<Item = (PathBuf, Sha256)>,
    ) -> Result<Self, Error> {
        let files = files
            .into_iter()
            .map(|(f, h)| {
                let rel = f
                    .strip_prefix(root)
                    .unwrap_or(&f)
                    .to_string_lossy()
                    .replace('\\', "/");
                (rel, h)
            })
            .collect();
        Ok(Manifest { files })
    }

    /// Parses manifest text.
    ///
    /// # Errors
    /// [`Error::Usage`] naming the first line that is not `<sha256>  <path>`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut files = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let bad = |why: &str| Error::Usage(format!("manifest line {}: {why}", n + 1));
            let (h, p) = line
                .split_once("  ")
                .ok_or_else(|| bad("not '<sha256>  <path>'"))?;
            files.insert(
                p.to_owned(),
                Sha256::parse(h).map_err(|e| bad(&e.to_string()))?,
            );
        }
        Ok(Manifest { files })
    }

    /// Files added, removed and changed from `old` to `self`.
    pub fn diff(&self, old: &Manifest) -> Vec<(String, &'static str)> {
        let mut out = Vec::new();
        for (p, h) in &self.files {
            match old.files.get(p) {
                None => out.push((p.clone(), "added")),
                Some(o) if o != h => out.push((p.clone(), "changed")),
                _ => {}
            }
        }
        for p in old.files.keys() {
            if !self.files.contains_key(p) {
                out.push((p.clone(), "removed"));
            }
        }
        out.sort();
        out
    }
}
