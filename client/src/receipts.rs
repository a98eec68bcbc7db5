//! Receipt files as `notarium notarize --receipts DIR` and the plugins keep them: for each
//! artifact `<stem>.receipt.json` (the receipt of docs/http-api.md) and `<stem>.tlog-proof` (the
//! same as a C2SP tlog-proof, entry bytes as its extra data), plus `<stem>.manifest` for a
//! directory notarized as one artifact. The stem is the artifact's name made safe for a file
//! name ([`file_stem`]).
//!
//! Different names can make the same stem (`a/dist` and `b/dist` notarized as directories are
//! both named `dist`; `файл.bin` and `блок.bin` both become `____.bin`). A receipt is never
//! overwritten by another artifact's: when the stem is taken — by an artifact written earlier
//! in the same run, or by files in the directory that are not a receipt of the same artifact
//! (same ledger, name and SHA-256) — the files go to `<stem>~<index>` instead, the entry's
//! index in its ledger. `~` never occurs in a stem made from a name, so such a stem cannot
//! collide with an ordinary one. A receipt of the same artifact from an earlier run (e.g.
//! notarized, then untrusted) is replaced by the newer one.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use base64::Engine;
use notarium_core::tlog_proof::{TlogProof, HEADER};
use notarium_core::{leaf_hash, Receipt};
use sha2::Digest;

use crate::Error;

/// The longest stem in bytes: with `.receipt.json` it stays within the 255 bytes of a file
/// name on common file systems.
const MAX_STEM: usize = 200;

/// The file-name stem for an artifact name: `dist/app.tar.gz` → `dist_app.tar.gz`. Names too
/// long for a file name keep their start and get a `~` and 16 hex digits of their SHA-256.
pub fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.len() <= MAX_STEM {
        return stem;
    }
    let digest = hex::encode(sha2::Sha256::digest(name.as_bytes()));
    format!("{}~{}", &stem[..MAX_STEM - 17], &digest[..16])
}

/// Reads a receipt file as `notarium verify-receipt` and `authenticate --receipt` take it: the
/// JSON receipt, or a C2SP tlog-proof (`<stem>.tlog-proof`) whose extra data are the entry
/// bytes. Nothing is verified here: the caller verifies the receipt against a pinned key.
///
/// # Errors
/// [`Error::Tampering`] for a malformed tlog-proof or one without entry bytes;
/// [`Error::Usage`] for text that is neither.
pub fn parse_file(text: &str) -> Result<Receipt, Error> {
    if text.starts_with(HEADER) {
        let p = TlogProof::parse(text).map_err(|e| Error::Tampering(e.to_string()))?;
        let leaf = p
            .extra
            .ok_or_else(|| Error::Tampering("the tlog-proof carries no entry bytes".into()))?;
        let entry: serde_json::Value = serde_json::from_slice(&leaf)
            .map_err(|e| Error::Tampering(format!("entry bytes: {e}")))?;
        let ledger = entry["ledger"].as_str().unwrap_or_default().to_owned();
        return Ok(Receipt {
            ledger,
            index: p.index.0,
            entry,
            leaf: base64::engine::general_purpose::STANDARD.encode(&leaf),
            leaf_hash: leaf_hash(&leaf),
            checkpoint: p.checkpoint,
            inclusion_proof: p.proof,
            verifier_key: String::new(),
        });
    }
    serde_json::from_str(text).map_err(|e| Error::Usage(format!("is not a receipt: {e}")))
}

/// The receipt files of one run in one directory.
#[derive(Debug)]
pub struct ReceiptDir {
    dir: PathBuf,
    /// Stems written in this run.
    written: HashSet<String>,
}

/// Where a receipt was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The JSON receipt.
    pub path: PathBuf,
    /// The usual path of the artifact's receipt when another artifact's receipt holds it (the
    /// receipt went to `path` instead): a tool says so.
    pub instead_of: Option<PathBuf>,
}

impl ReceiptDir {
    /// The receipt files of a run that writes into `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> ReceiptDir {
        ReceiptDir {
            dir: dir.into(),
            written: HashSet::new(),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes the receipt files of the artifact `name` under the first stem that is free (see
    /// the module's description) and returns where the JSON receipt went.
    ///
    /// # Errors
    /// [`Error::State`] when a file cannot be written; [`Error::Tampering`] for a receipt
    /// whose leaf is not base64 (it could not have verified).
    pub fn write(
        &mut self,
        name: &str,
        receipt: &Receipt,
        manifest: Option<&str>,
    ) -> Result<Written, Error> {
        let io =
            |p: &Path, e: std::io::Error| Error::State(format!("writing {}: {e}", p.display()));
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let proof = receipt
            .to_tlog_proof()
            .map_err(|e| Error::Tampering(format!("{name}: {e}")))?
            .render();
        let usual = file_stem(name);
        let stem = std::iter::once(usual.clone())
            .chain((1u32..).map(|n| match n {
                1 => format!("{usual}~{}", receipt.index),
                n => format!("{usual}~{}~{n}", receipt.index),
            }))
            .find(|s| self.is_free(s, receipt))
            .expect("an unbounded sequence of stems has a free one");
        let json = self.dir.join(format!("{stem}.receipt.json"));
        let text = serde_json::to_string_pretty(receipt).expect("receipts serialize") + "\n";
        std::fs::write(&json, text).map_err(|e| io(&json, e))?;
        let path = self.dir.join(format!("{stem}.tlog-proof"));
        std::fs::write(&path, proof).map_err(|e| io(&path, e))?;
        if let Some(m) = manifest {
            let path = self.dir.join(format!("{stem}.manifest"));
            std::fs::write(&path, m).map_err(|e| io(&path, e))?;
        }
        let instead_of = (stem != usual).then(|| self.dir.join(format!("{usual}.receipt.json")));
        self.written.insert(stem);
        Ok(Written {
            path: json,
            instead_of,
        })
    }

    /// Whether `stem` may take `receipt`'s files: not written in this run, and either unused
    /// in the directory or holding a receipt of the same artifact.
    fn is_free(&self, stem: &str, receipt: &Receipt) -> bool {
        if self.written.contains(stem) {
            return false;
        }
        let file = |ext: &str| self.dir.join(format!("{stem}.{ext}"));
        let json = file("receipt.json");
        if !json.exists() {
            return !file("tlog-proof").exists() && !file("manifest").exists();
        }
        let Ok(old) = std::fs::read(&json) else {
            return false;
        };
        let Ok(old) = serde_json::from_slice::<serde_json::Value>(&old) else {
            return false;
        };
        old["ledger"] == receipt.ledger.as_str()
            && old["entry"]["type"] == "artifact"
            && old["entry"]["name"] == receipt.entry["name"]
            && old["entry"]["sha256"] == receipt.entry["sha256"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_file_names() {
        assert_eq!(file_stem("dist/app.tar.gz"), "dist_app.tar.gz");
        assert_eq!(file_stem("файл.bin"), "____.bin");
        assert_eq!(file_stem("../x y"), ".._x_y");
        let long = "a".repeat(1000);
        let stem = file_stem(&long);
        assert_eq!(stem.len(), MAX_STEM);
        assert!(stem.starts_with(&"a".repeat(MAX_STEM - 17)));
        assert_ne!(stem, file_stem(&"a".repeat(999)), "long names stay apart");
        assert!(
            !file_stem("a~b").contains('~'),
            "`~` is kept for taken stems"
        );
    }
}
