//! The data directory: where ledgers and the server's own files live, and what a first start
//! writes.
//!
//! Layout:
//! - `<data>/ledgers/<name>/`: one ledger (`ledger.db`, `signing.key`, owned by
//!   `notarium-ledger`) plus `notariumd.json` with the server's settings for it (`public_read`).
//! - `<data>/admin-token.sha256`: the SHA-256 of a generated admin token (mode 0600); the token
//!   itself is never stored by the server. When stderr is not a terminal, a first start hands
//!   it over in `<data>/admin-token.first-start` (mode 0600) for the operator to move into a
//!   secret store and delete.
//! - `<data>/notariumd.lock`: held with an exclusive lock by the one process that serves the
//!   directory, and holding that process's PID. Two processes on one directory would each
//!   sequence their own view of the same ledgers: the second would serve stale checkpoints
//!   and fail every write, so the second refuses to start instead ([`DirLock`]).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use notarium_core::LedgerName;
use serde::{Deserialize, Serialize};

use crate::auth::{credential_hash, new_secret};

const LEDGERS_DIR: &str = "ledgers";
const LEDGER_META: &str = "notariumd.json";
const ADMIN_HASH_FILE: &str = "admin-token.sha256";
/// Where a first start not on a terminal leaves the generated admin token.
pub const FIRST_TOKEN_FILE: &str = "admin-token.first-start";
/// The lock file of the process serving the directory.
pub const LOCK_FILE: &str = "notariumd.lock";
const PROBE_FILE: &str = ".notariumd-write-probe";

/// The data directory is served by another process.
#[derive(Debug, thiserror::Error)]
#[error(
    "data directory {dir} is in use by {}: one process serves a data directory at a time; \
     stop it first (or point this one at another directory)",
    match .pid { Some(pid) => format!("process {pid}"), None => "another process".to_owned() }
)]
pub struct InUse {
    /// The directory.
    pub dir: PathBuf,
    /// The PID written by the holder of the lock, when it could be read.
    pub pid: Option<u32>,
}

/// The exclusive lock on a data directory, held until dropped (or the process ends, even by
/// SIGKILL: the kernel releases `flock` locks with the file).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the exclusive lock on the data directory `root` (which must exist) and writes this
    /// process's PID into the lock file. For every command that writes a data directory:
    /// serving, and any maintenance command that changes files.
    ///
    /// # Errors
    /// [`InUse`] (inside the `anyhow::Error`) when another process holds it; I/O errors.
    pub fn exclusive(root: &Path) -> anyhow::Result<DirLock> {
        let path = root.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(InUse {
                    dir: root.to_owned(),
                    pid: text.trim().parse().ok(),
                }
                .into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", std::process::id())?;
        file.sync_all()?;
        Ok(DirLock { _file: file })
    }
}

/// The server's settings for one ledger, stored beside it.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerMeta {
    /// Reads need no key.
    #[serde(default)]
    pub public_read: bool,
}

/// A data directory, locked by this process for as long as a clone of it lives.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
    _lock: Arc<DirLock>,
}

impl DataDir {
    /// Opens (creating if needed) the data directory at `root`, takes its lock ([`DirLock`])
    /// and checks that it is writable.
    ///
    /// # Errors
    /// When it cannot be created or written, or another process serves it ([`InUse`]).
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root.join(LEDGERS_DIR))
            .with_context(|| format!("cannot create data directory {}", root.display()))?;
        let lock = DirLock::exclusive(root)?;
        let dir = DataDir {
            root: root.to_owned(),
            _lock: Arc::new(lock),
        };
        dir.probe_write()
            .with_context(|| format!("data directory {} is not writable", root.display()))?;
        Ok(dir)
    }

    /// The directory's path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes, syncs and removes a small file: whether the directory can take a write now (not
    /// full, not read-only, not failing). Blocking, and it blocks for as long as the file
    /// system does (a frozen one blocks until thawed): callers bound it with a timeout.
    ///
    /// # Errors
    /// The file system's error.
    pub fn probe_write(&self) -> std::io::Result<()> {
        let probe = self.root.join(PROBE_FILE);
        let written = (|| {
            let mut f = File::create(&probe)?;
            f.write_all(&[0u8; 512])?;
            f.sync_all()
        })();
        let removed = std::fs::remove_file(&probe);
        written?;
        match removed {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
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
        ledgers_in(&self.root)
    }

    /// The server's settings of ledger `name` (defaults when none were written).
    ///
    /// # Errors
    /// When the file exists but cannot be read or parsed.
    pub fn read_meta(&self, name: &LedgerName) -> anyhow::Result<LedgerMeta> {
        read_meta_in(&self.ledger_dir(name))
    }

    /// Creates the directory of a new ledger `name` with the server's settings for it. The
    /// settings file is written whole or not at all (a temporary file renamed into place), and
    /// when it cannot be, the new directory is removed again.
    ///
    /// # Errors
    /// When the directory exists already (it is left alone) or the files cannot be written.
    pub fn create_ledger_dir(&self, name: &LedgerName, meta: LedgerMeta) -> anyhow::Result<()> {
        let dir = self.ledger_dir(name);
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let written = (|| {
            let tmp = dir.join(format!("{LEDGER_META}.tmp"));
            write_file(&tmp, &serde_json::to_vec_pretty(&meta)?, false)?;
            std::fs::rename(&tmp, dir.join(LEDGER_META))
                .with_context(|| format!("cannot write {}", dir.join(LEDGER_META).display()))?;
            sync_dir(&dir)
        })();
        if written.is_err() {
            let _ = self.remove_failed_ledger(name);
        }
        written
    }

    /// Removes what a ledger creation that failed left of ledger `name`, so that nothing half
    /// made stays behind to stop the next start.
    ///
    /// # Errors
    /// When the directory exists and cannot be removed.
    pub fn remove_failed_ledger(&self, name: &LedgerName) -> anyhow::Result<()> {
        let dir = self.ledger_dir(name);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove {}", dir.display()))
            }
            _ => sync_dir(&self.root.join(LEDGERS_DIR)),
        }
    }

    /// Hands a generated admin token to the operator in [`FIRST_TOKEN_FILE`] (mode 0600),
    /// returning its path.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_first_token(&self, token: &str) -> anyhow::Result<PathBuf> {
        let path = self.root.join(FIRST_TOKEN_FILE);
        write_file(&path, format!("{token}\n").as_bytes(), true)?;
        Ok(path)
    }

    /// The file holding the admin token's hash.
    pub fn admin_hash_file(&self) -> PathBuf {
        self.root.join(ADMIN_HASH_FILE)
    }

    /// The file a first start left the admin token in, while it is still there.
    pub fn leftover_first_token(&self) -> Option<PathBuf> {
        Some(self.root.join(FIRST_TOKEN_FILE)).filter(|p| p.exists())
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

/// The names of the ledgers in the data directory `root`, sorted.
fn ledgers_in(root: &Path) -> anyhow::Result<Vec<LedgerName>> {
    let mut names = Vec::new();
    for dirent in std::fs::read_dir(root.join(LEDGERS_DIR))? {
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

/// The server's settings of the ledger in `dir` (defaults when none were written).
fn read_meta_in(dir: &Path) -> anyhow::Result<LedgerMeta> {
    let path = dir.join(LEDGER_META);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).with_context(|| format!("invalid {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LedgerMeta::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
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
    // The source is served (and locked) by a running server: read it without its lock.
    let names = ledgers_in(data)
        .with_context(|| format!("{} is not a notariumd data directory", data.display()))?;
    if names.is_empty() {
        anyhow::bail!("no ledgers in {}", data.join(LEDGERS_DIR).display());
    }
    for name in &names {
        let from = data.join(LEDGERS_DIR).join(name.as_str());
        if !from.join("ledger.db").exists() && from.join("signing.key").exists() {
            anyhow::bail!(
                "ledger {name} has no SQLite database in {}: a data directory served with \
                 --database keeps the ledgers in PostgreSQL; back the database up with its own \
                 tools, and this directory (its signing keys) with it (docs/postgresql.md)",
                from.display()
            );
        }
    }
    let target = DataDir::open(dest)?;
    let admin = data.join(ADMIN_HASH_FILE);
    if admin.exists() {
        std::fs::copy(&admin, dest.join(ADMIN_HASH_FILE))?;
    }
    let mut copies = Vec::with_capacity(names.len());
    for name in names {
        let from = data.join(LEDGERS_DIR).join(name.as_str());
        let meta = read_meta_in(&from)?;
        let to = target.ledger_dir(&name);
        let copy = notarium_ledger::backup(&from, &to).with_context(|| format!("ledger {name}"))?;
        write_file(
            &to.join(LEDGER_META),
            &serde_json::to_vec_pretty(&meta)?,
            false,
        )?;
        copies.push(copy);
    }
    Ok(copies)
}

/// Copies every SQLite ledger of the data directory `data` into the database `db` and checks
/// each copy (`notarium_ledger::migrate`), holding the directory's lock meanwhile: no server
/// may write the ledgers as they are copied. `progress(ledger, step)` is told each step.
/// Blocking.
///
/// # Errors
/// When the directory is served or holds no ledgers, or a ledger's copy is refused or does not
/// check (the ledgers before it stay copied: running it again finds them there).
pub fn migrate(
    data: &Path,
    db: &notarium_ledger::Postgres,
    mut progress: impl FnMut(&str, &str),
) -> anyhow::Result<Vec<notarium_ledger::migrate::Migrated>> {
    let names = ledgers_in(data)
        .with_context(|| format!("{} is not a notariumd data directory", data.display()))?;
    if names.is_empty() {
        anyhow::bail!("no ledgers in {}", data.join(LEDGERS_DIR).display());
    }
    let _lock = DirLock::exclusive(data)?;
    names
        .iter()
        .map(|name| {
            let dir = data.join(LEDGERS_DIR).join(name.as_str());
            notarium_ledger::migrate::migrate_to_postgres(&dir, name, db, |step| {
                progress(name.as_str(), step);
            })
            .with_context(|| format!("ledger {name}"))
        })
        .collect()
}

/// Makes the entries of `dir` (a create, rename or removal) durable.
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync {}", dir.display()))
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
