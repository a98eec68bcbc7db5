//! The SQLite file of one ledger: schema, connection settings, and the rows the ledger keeps.
//!
//! Tables (one database file per ledger):
//! - `entries`: one row per leaf, by index, with the entry bytes and its secondary-index
//!   columns (`type`, `sha256`, `name`, `signer`, `status`, `time_us`), each with an index.
//! - `attributes`: `(key, value, idx)` for attribute search.
//! - `revocations`, `api_keys`: key lifecycle, derived from `key` entries (plus the credential
//!   hash, which is not public and therefore not in the entry).
//! - `tiles`: C2SP hash tiles by `(level, idx)`, 32 bytes per hash; only the right-most tile
//!   of each level is ever rewritten, and only by appending hashes.
//! - `checkpoints`: every signed checkpoint, by size.
//! - `meta`: name and origin.

use std::fs;
use std::io::Write;
use std::path::Path;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use notarium_core::SignerKey;

use crate::{Durability, Error};

/// Numbered migrations; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE entries (
    idx INTEGER PRIMARY KEY,
    data BLOB NOT NULL,
    type TEXT,
    sha256 BLOB,
    name TEXT,
    signer TEXT,
    status TEXT,
    time_us INTEGER
);
CREATE INDEX entries_by_sha256 ON entries (sha256, idx);
CREATE INDEX entries_by_name ON entries (name, idx);
CREATE INDEX entries_by_signer ON entries (signer, idx);
CREATE INDEX entries_by_time ON entries (time_us, idx);
CREATE TABLE attributes (
    key TEXT NOT NULL, value TEXT NOT NULL, idx INTEGER NOT NULL,
    PRIMARY KEY (key, value, idx)
) WITHOUT ROWID;
CREATE TABLE revocations (key_id TEXT PRIMARY KEY, idx INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    credential BLOB NOT NULL UNIQUE,
    created_idx INTEGER NOT NULL,
    revoked_idx INTEGER
) WITHOUT ROWID;
CREATE TABLE tiles (
    level INTEGER NOT NULL, idx INTEGER NOT NULL, hashes BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL);
"];

/// The database file inside a ledger directory.
pub(crate) const DB_FILE: &str = "ledger.db";
/// The signing key file inside a ledger directory (mode 0600).
pub(crate) const KEY_FILE: &str = "signing.key";

/// Opens the writer connection and brings the schema up to date.
pub(crate) fn open_writer(path: &Path, durability: Durability) -> Result<Connection, Error> {
    let conn = Connection::open(path)?;
    // WAL: readers see the last commit and never block the single writer.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL fsyncs the WAL at every commit, so an answered append survives power loss;
    // NORMAL fsyncs only at checkpoints (survives a process crash, not a power cut).
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    // Entries and tiles are written once; a larger page cache spares re-reads of hot tiles.
    conn.pragma_update(None, "cache_size", -16_384)?;
    // Never auto-checkpoint on the commit path more often than every ~16 MiB of WAL.
    conn.pragma_update(None, "wal_autocheckpoint", 4096)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    migrate(&conn)?;
    Ok(conn)
}

/// Opens a read-only connection for readers and audits.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // 4 MiB per reader: the OS page cache holds the file; this keeps hot index pages close.
    conn.pragma_update(None, "cache_size", -4_096)?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), Error> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(Error::Corrupt(format!(
            "database schema version {version} is newer than this program ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

pub(crate) fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>, Error> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
        params![key, value],
    )?;
    Ok(())
}

/// Loads the ledger's signing key, or creates one (mode 0600) when the ledger is new.
pub(crate) fn load_or_create_key(
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

/// Writes a secret file readable only by its owner, durably.
pub(crate) fn write_secret(path: &Path, text: &str) -> Result<(), Error> {
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
