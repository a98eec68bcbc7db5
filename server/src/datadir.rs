//! The data directory: where ledgers and the server's own files live, and what a first start
//! writes.
//!
//! Layout:
//! - `<data>/ledgers/<name>/`: one ledger (`ledger.db`, `signing.key`, owned by
//!   `notarium-ledger`) plus `notariumd.json` with the server's settings for it (`public_read`).
//! - `<data>/admin-token.sha256`: the SHA-256 of a generated admin token (mode 0600); the token
//!   itself is shown once and never stored.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use notarium_core::LedgerName;
use serde::{Deserialize, Serialize};

use crate::auth::{credential_hash, new_secret};

const LEDGERS_DIR: &str = "ledgers";
const LEDGER_META: &str = "notariumd.json";
const ADMIN_HASH_FILE: &str = "admin-token.sha256";

/// The server's settings for one ledger, stored beside it.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerMeta {
    /// Reads need no key.
    #[serde(default)]
    pub public_read: bool,
}

/// A data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Opens (creating if needed) the data directory at `root` and checks that it is writable.
    ///
    /// # Errors
    /// When it cannot be created or written.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root.join(LEDGERS_DIR))
            .with_context(|| format!("cannot create data directory {}", root.display()))?;
        let probe = root.join(".notariumd-write-test");
        std::fs::write(&probe, b"ok")
            .and_then(|()| std::fs::remove_file(&probe))
            .with_context(|| format!("data directory {} is not writable", root.display()))?;
        Ok(DataDir {
            root: root.to_owned(),
        })
    }

    /// The directory of ledger `name`.
    pub fn ledger_dir(&self, name: &LedgerName) -> PathBuf {
        self.root.join(LEDGERS_DIR).join(name.as_str())
    }

    /// The names of the ledgers present, sorted.
    ///
    /// # Errors
    /// When the directory cannot be read.
    pub fn ledgers(&self) -> anyhow::Result<Vec<LedgerName>> {
        let mut names = Vec::new();
        for dirent in std::fs::read_dir(self.root.join(LEDGERS_DIR))? {
            let dirent = dirent?;
            let file_name = dirent.file_name();
            match file_name.to_str().map(LedgerName::new) {
                Some(Ok(n)) if dirent.file_type()?.is_dir() => names.push(n),
                _ => tracing::warn!(entry = ?dirent.path(), "ignoring a file that is not a ledger"),
            }
        }
        names.sort();
        Ok(names)
    }

    /// The server's settings of ledger `name` (defaults when none were written).
    ///
    /// # Errors
    /// When the file exists but cannot be read or parsed.
    pub fn read_meta(&self, name: &LedgerName) -> anyhow::Result<LedgerMeta> {
        let path = self.ledger_dir(name).join(LEDGER_META);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("invalid {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LedgerMeta::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the server's settings of a new ledger `name`, creating its directory.
    ///
    /// # Errors
    /// When the files cannot be written.
    pub fn write_meta(&self, name: &LedgerName, meta: LedgerMeta) -> anyhow::Result<()> {
        let dir = self.ledger_dir(name);
        std::fs::create_dir_all(&dir)?;
        write_file(
            &dir.join(LEDGER_META),
            &serde_json::to_vec_pretty(&meta)?,
            false,
        )
    }

    /// The stored hash of the admin token, or a new token (returned once, only its hash kept)
    /// when none exists yet.
    ///
    /// # Errors
    /// When the file cannot be read, parsed or written.
    pub fn admin_hash(&self) -> anyhow::Result<([u8; 32], Option<String>)> {
        let path = self.root.join(ADMIN_HASH_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let mut hash = [0u8; 32];
                hex::decode_to_slice(text.trim(), &mut hash).with_context(|| {
                    format!("{} does not hold a SHA-256 in hex", path.display())
                })?;
                Ok((hash, None))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let token = new_secret("na_")?;
                let hash = credential_hash(&token);
                write_file(&path, format!("{}\n", hex::encode(hash)).as_bytes(), true)?;
                Ok((hash, Some(token)))
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

/// Copies every ledger of the data directory `data` into the new directory `dest`, while a
/// server may be writing them: each ledger with `notarium_ledger::backup` (checked copies), and
/// the server's own files (each ledger's settings, the admin token's hash). Blocking.
///
/// # Errors
/// When `dest` exists, `data` holds no ledgers, or a copy does not check.
pub fn backup(data: &Path, dest: &Path) -> anyhow::Result<Vec<notarium_ledger::Backup>> {
    if dest.exists() {
        anyhow::bail!(
            "{} exists already: back up into a new directory",
            dest.display()
        );
    }
    let source = DataDir {
        root: data.to_owned(),
    };
    let names = source
        .ledgers()
        .with_context(|| format!("{} is not a notariumd data directory", data.display()))?;
    if names.is_empty() {
        anyhow::bail!("no ledgers in {}", data.join(LEDGERS_DIR).display());
    }
    std::fs::create_dir_all(dest.join(LEDGERS_DIR))?;
    let target = DataDir {
        root: dest.to_owned(),
    };
    let admin = data.join(ADMIN_HASH_FILE);
    if admin.exists() {
        std::fs::copy(&admin, dest.join(ADMIN_HASH_FILE))?;
    }
    let mut copies = Vec::with_capacity(names.len());
    for name in names {
        let meta = source.read_meta(&name)?;
        let copy = notarium_ledger::backup(&source.ledger_dir(&name), &target.ledger_dir(&name))
            .with_context(|| format!("ledger {name}"))?;
        target.write_meta(&name, meta)?;
        copies.push(copy);
    }
    Ok(copies)
}

/// Writes a file durably; `secret` files are created with mode 0600.
fn write_file(path: &Path, bytes: &[u8], secret: bool) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
