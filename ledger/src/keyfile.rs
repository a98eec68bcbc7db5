//! The ledger's signing key: a C2SP signer key text in `signing.key` beside the database,
//! readable only by its owner. It is not storage: a backend never sees it.

use std::fs;
use std::io::Write;
use std::path::Path;

use notarium_core::SignerKey;

use crate::Error;

/// The signing key file inside a ledger directory (mode 0600).
pub(crate) const KEY_FILE: &str = "signing.key";

/// Loads the ledger's signing key, or creates one (mode 0600) when the ledger is new.
///
/// # Errors
/// [`Error::Corrupt`] when the key of an existing ledger is missing or unreadable;
/// [`Error::Config`] when it belongs to another origin or differs from `imported`.
pub(crate) fn load_or_create(
    dir: &Path,
    origin: &str,
    imported: Option<&SignerKey>,
    ledger_is_new: bool,
) -> Result<SignerKey, Error> {
    let path = dir.join(KEY_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let key = SignerKey::parse(&text).map_err(|e| {
                Error::Corrupt(format!("signing key {} is unreadable: {e}", path.display()))
            })?;
            if key.name() != origin {
                return Err(Error::Config(format!(
                    "signing key is for origin {:?}, the ledger's origin is {origin:?}",
                    key.name()
                )));
            }
            if let Some(imp) = imported {
                if imp.verifier() != key.verifier() {
                    return Err(Error::Config(
                        "a different signing key is already stored".into(),
                    ));
                }
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !ledger_is_new {
                return Err(Error::Corrupt(format!(
                    "signing key {} is missing for an existing ledger",
                    path.display()
                )));
            }
            let key = match imported {
                Some(k) => k.clone(),
                None => {
                    let mut seed = [0u8; 32];
                    getrandom::getrandom(&mut seed)
                        .map_err(|e| Error::Config(format!("no randomness for a key: {e}")))?;
                    SignerKey::from_seed(origin, seed)?
                }
            };
            write_secret(&path, &key.to_text())?;
            Ok(key)
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads the signing key of an existing ledger (for the offline audit).
///
/// # Errors
/// When the file is missing or unreadable.
pub(crate) fn read(dir: &Path) -> Result<SignerKey, String> {
    fs::read_to_string(dir.join(KEY_FILE))
        .map_err(|e| e.to_string())
        .and_then(|t| SignerKey::parse(&t).map_err(|e| e.to_string()))
}

/// Writes a secret file readable only by its owner, durably; never over an existing file.
fn write_secret(path: &Path, text: &str) -> Result<(), Error> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(())
}
