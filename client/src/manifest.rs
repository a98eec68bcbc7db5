//! `dir://` manifests: a directory notarized as one artifact is identified by the SHA-256 of
//! its manifest, one `<sha256>  <relative path>` line per file, sorted by path, like
//! `sha256sum`. `notarium notarize --receipts` keeps the manifest next to the receipt, and
//! `notarium authenticate --manifest FILE` reads it back (a file anyone could have written, so
//! it is authenticated by its hash before the files that differ are listed).
//!
//! One directory, one text; one text, one directory. A path is its components joined by `/`,
//! each component as the file system names it, so it must be UTF-8 and free of control
//! characters: a newline in a file name would let one directory's manifest read as another's
//! (`a\n<sha256>  b` as two files), a name made UTF-8 by replacing bytes would share its line
//! with another, and `\` is an ordinary character on Unix, not a separator. A directory
//! holding such a name is refused, not given an ambiguous manifest; a manifest file is read
//! only in the form [`Manifest::text`] writes, so that what is authenticated is the file given.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use notarium_core::Sha256;

use crate::Error;

/// A directory's manifest: relative path → the file's SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Relative path (`/`-separated) → hash.
    pub files: BTreeMap<String, Sha256>,
}

/// Whether `p` can stand on a manifest line: non-empty, no control character, and its
/// `/`-separated components neither empty nor `.` or `..`.
fn representable(p: &str) -> bool {
    !p.is_empty()
        && !p.chars().any(char::is_control)
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
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
    /// [`Error::Usage`] for a file whose path a manifest cannot hold unambiguously: not under
    /// `root`, not UTF-8, or with a control character in a name.
    pub fn of_dir(
        root: &Path,
        files: impl IntoIterator<Item = (PathBuf, Sha256)>,
    ) -> Result<Self, Error> {
        let mut out = BTreeMap::new();
        for (f, h) in files {
            let refuse = |why: &str| {
                Error::Usage(format!(
                    "{}: {why}, so the directory cannot be notarized as dir://",
                    f.display()
                ))
            };
            let rel = f
                .strip_prefix(root)
                .map_err(|_| refuse("not inside the directory"))?;
            let mut parts = Vec::new();
            for c in rel.components() {
                let Component::Normal(name) = c else {
                    return Err(refuse("not a plain path inside the directory"));
                };
                parts.push(
                    name.to_str()
                        .ok_or_else(|| refuse("the file name is not UTF-8"))?,
                );
            }
            let rel = parts.join("/");
            if !representable(&rel) {
                return Err(refuse(
                    "the file name holds a control character (a newline, say) that a manifest line cannot hold",
                ));
            }
            if out.insert(rel, h).is_some() {
                return Err(refuse("listed twice"));
            }
        }
        Ok(Manifest { files: out })
    }

    /// Parses manifest text, in the one form [`Manifest::text`] writes: lines of
    /// `<64 lowercase hex>  <path>`, each ending in a newline, paths sorted and unique.
    ///
    /// # Errors
    /// [`Error::Usage`] naming the first line that is not so.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut files = BTreeMap::new();
        let body = match text.strip_suffix('\n') {
            Some(body) => body,
            None if text.is_empty() => return Ok(Manifest { files }),
            None => {
                return Err(Error::Usage(
                    "a manifest ends with a newline after its last line".into(),
                ))
            }
        };
        let mut last: Option<&str> = None;
        for (n, line) in body.split('\n').enumerate() {
            let bad = |why: &str| Error::Usage(format!("manifest line {}: {why}", n + 1));
            let (h, p) = line
                .split_once("  ")
                .ok_or_else(|| bad("not '<sha256>  <path>'"))?;
            let sha = Sha256::parse(h).map_err(|e| bad(&e.to_string()))?;
            if sha.to_hex() != h {
                return Err(bad("the SHA-256 is not in lowercase hex"));
            }
            if !representable(p) {
                return Err(bad("not a relative path without control characters"));
            }
            if last.is_some_and(|l| l >= p) {
                return Err(bad("paths must be sorted and unique"));
            }
            last = Some(p);
            files.insert(p.to_owned(), sha);
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
