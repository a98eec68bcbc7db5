//! Receipt files as `notarium notarize --receipts DIR` and the plugins keep them: for each
//! artifact `<name>.receipt.json` (the receipt of docs/http-api.md) and `<name>.tlog-proof` (the
//! same as a C2SP tlog-proof, entry bytes as its extra data), plus `<name>.manifest` for a
//! directory notarized as one artifact.

use std::path::{Path, PathBuf};

use notarium_core::Receipt;

use crate::Error;

/// The file-name stem for an artifact name: `dist/app.tar.gz` → `dist_app.tar.gz`.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes the receipt files of one artifact into `dir` (created if needed) and returns the
/// path of the JSON receipt.
///
/// # Errors
/// [`Error::State`] when a file cannot be written; [`Error::Tampering`] for a receipt whose
/// leaf is not base64 (it could not have verified).
pub fn write(
    dir: &Path,
    name: &str,
    receipt: &Receipt,
    manifest: Option<&str>,
) -> Result<PathBuf, Error> {
    let io = |p: &Path, e: std::io::Error| Error::State(format!("writing {}: {e}", p.display()));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let stem = file_stem(name);
    let json = dir.join(format!("{stem}.receipt.json"));
    let text = serde_json::to_string_pretty(receipt).expect("receipts serialize") + "\n";
    std::fs::write(&json, text).map_err(|e| io(&json, e))?;
    let proof = receipt
        .to_tlog_proof()
        .map_err(|e| Error::Tampering(format!("{name}: {e}")))?
        .render();
    let path = dir.join(format!("{stem}.tlog-proof"));
    std::fs::write(&path, proof).map_err(|e| io(&path, e))?;
    if let Some(m) = manifest {
        let path = dir.join(format!("{stem}.manifest"));
        std::fs::write(&path, m).map_err(|e| io(&path, e))?;
    }
    Ok(json)
}
