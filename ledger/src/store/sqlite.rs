//! The embedded backend: one SQLite file per ledger. Every SQL statement of the crate is here.
//!
//! Tables:
//! - `entries`: one row per leaf, by index, with the entry bytes and its secondary-index
//!   columns (`type`, `sha256`, `name`, `signer`, `status`, `time_us`), each with an index.
//! - `attributes`: `(key, value, idx)` for attribute search.
//! - `revocations`, `api_keys`: key lifecycle, derived from `key` entries (plus the credential
//!   hash, which is not public: a `created` entry since 0.2 commits to it by its own SHA-256).
//! - `tiles`: C2SP hash tiles by `(level, idx)`, 32 bytes per hash; only the right-most tile
//!   of each level is ever rewritten, and only by appending hashes.
//! - `checkpoints`: every signed checkpoint, by size, with the version of the status-index
//!   root it commits to.
//! - `index_nodes`: the status index's versioned nodes (core::index::tree), written once.
//! - `meta`: name and origin.
//!
//! Connections: one writer (WAL, the configured `synchronous`), and read-only readers that see
//! the last commit and never block the writer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension, Transaction};

use notarium_core::api::Key;
use notarium_core::index::tree::{Node, NodeKey};
use notarium_core::{Role, Sha256};

use super::{Backend, Batch, Filter, LastEntry, NodeVisitor, Reader, StoredEntry, Writer};
use crate::entries::Columns;
use crate::{Durability, Error};

/// The database file inside a ledger directory.
pub(crate) const DB_FILE: &str = "ledger.db";

/// Numbered migrations; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r"
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
",
    r"
-- The status index (docs/status-index.md): versioned nodes under their key, whose bytes sort
-- by version first so that a commit's nodes are appended at the end of the B-tree; and the
-- version of the index root each checkpoint commits to (NULL before the index existed).
CREATE TABLE index_nodes (key BLOB PRIMARY KEY, node BLOB NOT NULL) WITHOUT ROWID;
ALTER TABLE checkpoints ADD COLUMN index_version INTEGER;
",
];

/// The SQLite file of one ledger.
pub(crate) struct Sqlite {
    path: PathBuf,
    durability: Durability,
}

impl Sqlite {
    /// The backend for the ledger directory `dir`.
    pub(crate) fn new(dir: &Path, durability: Durability) -> Self {
        Sqlite {
            path: dir.join(DB_FILE),
            durability,
        }
    }

    /// Copies the database in `dir` to `dest` (a new file) while a server may be writing it:
    /// SQLite's online backup in one step, so the copy is one committed state (in WAL mode the
    /// reader's snapshot does not block the writer). The copy is synced to disk.
    ///
    /// # Errors
    /// When the database cannot be read or `dest` written.
    pub(crate) fn copy_to(dir: &Path, dest: &Path) -> Result<(), Error> {
        let src = open_reader(&dir.join(DB_FILE))?;
        copy_connection(&src, dest)
    }

    /// A read connection to an existing database, for the offline audit.
    pub(crate) fn existing_reader(dir: &Path) -> Result<Box<dyn Reader>, Error> {
        let path = dir.join(DB_FILE);
        if !path.exists() {
            return Err(Error::NotFound(format!(
                "no ledger database in {}",
                dir.display()
            )));
        }
        Ok(Box::new(Conn(open_reader(&path)?)))
    }
}

impl Backend for Sqlite {
    fn reader(&self) -> Result<Box<dyn Reader>, Error> {
        Ok(Box::new(Conn(open_reader(&self.path)?)))
    }

    fn writer(&self) -> Result<Box<dyn Writer>, Error> {
        let conn = open_writer(&self.path, self.durability)?;
        let db = file_id(&self.path)?.ok_or_else(|| {
            Error::Corrupt(format!("{} vanished as it was opened", self.path.display()))
        })?;
        Ok(Box::new(WriteConn {
            conn: Conn(conn),
            path: self.path.clone(),
            db,
            wal: None,
        }))
    }
}

/// The write connection, with the identity of the files it writes: a database file or
/// write-ahead log removed or replaced under it would silently take every later commit with
/// it, so each commit first checks that they are still in place.
struct WriteConn {
    conn: Conn,
    path: PathBuf,
    db: FileId,
    /// The WAL's identity, once it exists (SQLite creates it on the first write).
    wal: Option<FileId>,
}

/// A file's device and inode (its identity, whatever its name).
type FileId = (u64, u64);

fn file_id(path: &Path) -> Result<Option<FileId>, Error> {
    match std::fs::metadata(path) {
        #[cfg(unix)]
        Ok(m) => {
            use std::os::unix::fs::MetadataExt;
            Ok(Some((m.dev(), m.ino())))
        }
        #[cfg(not(unix))]
        Ok(_) => Ok(Some((0, 0))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

fn open_writer(path: &Path, durability: Durability) -> Result<Connection, Error> {
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
    conn.busy_timeout(Duration::from_secs(10))?;
    migrate(&conn)?;
    Ok(conn)
}

fn open_reader(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // 2 MiB per reader: the OS page cache holds the file, and every reader caches the same hot
    // pages again. At 1M entries 2 MiB read as fast as 4 MiB (authenticate 6,495 vs 5,097 req/s
    // in the same http-bench run) with a peak RSS of 124 instead of 148 MiB at 8 readers.
    conn.pragma_update(None, "cache_size", -2_048)?;
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

/// Writes the database of `src` as it is now into the new file `dest`, and syncs it.
fn copy_connection(src: &Connection, dest: &Path) -> Result<(), Error> {
    use rusqlite::backup::{Backup, StepResult};
    if dest.exists() {
        return Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists already", dest.display()),
        )));
    }
    {
        let mut dst = Connection::open(dest)?;
        let backup = Backup::new(src, &mut dst)?;
        // All pages in one step: one read snapshot, which a concurrent writer cannot restart.
        match backup.step(-1)? {
            StepResult::Done => {}
            other => {
                return Err(Error::Unavailable(format!(
                    "the database could not be copied now ({other:?}); retry"
                )))
            }
        }
        drop(backup);
        // A copy that stands alone: no WAL beside it.
        dst.pragma_update(None, "journal_mode", "DELETE")?;
    }
    std::fs::File::open(dest)?.sync_all()?;
    Ok(())
}

/// One connection: readers get a read-only one, the sequencer the writable one.
struct Conn(Connection);

fn parse_role(s: &str) -> Result<Role, Error> {
    match s {
        "read" => Ok(Role::Read),
        "write" => Ok(Role::Write),
        "admin" => Ok(Role::Admin),
        other => Err(Error::Corrupt(format!(
            "unknown role {other:?} in api_keys"
        ))),
    }
}

const KEY_COLUMNS: &str = "id, name, role, created_idx, revoked_idx";

fn key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, u64, Option<u64>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn to_key(row: (String, String, String, u64, Option<u64>)) -> Result<Key, Error> {
    Ok(Key {
        id: row.0,
        name: row.1,
        role: parse_role(&row.2)?,
        created_index: row.3,
        revoked_index: row.4,
    })
}

impl Reader for Conn {
    fn tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, Error> {
        Ok(self
            .0
            .prepare_cached("SELECT hashes FROM tiles WHERE level = ?1 AND idx = ?2")?
            .query_row(params![level, index], |r| r.get(0))
            .optional()?)
    }

    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, Error> {
        Ok(self
            .0
            .prepare_cached("SELECT data FROM entries WHERE idx = ?1")?
            .query_row([index], |r| r.get(0))
            .optional()?)
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, Error> {
        let mut stmt = self.0.prepare_cached(
            "SELECT idx, data FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
        )?;
        let rows = stmt.query_map([start, end], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn last_entry(&self) -> Result<Option<LastEntry>, Error> {
        Ok(self
            .0
            .prepare_cached("SELECT idx, data, time_us FROM entries ORDER BY idx DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?)
    }

    fn first_index_at(&self, time_us: i64) -> Result<Option<u64>, Error> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT idx FROM entries WHERE time_us >= ?1 ORDER BY time_us, idx LIMIT 1",
            )?
            .query_row([time_us], |r| r.get(0))
            .optional()?)
    }

    fn checkpoint(&self, size: u64) -> Result<Option<String>, Error> {
        Ok(self
            .0
            .prepare_cached("SELECT note FROM checkpoints WHERE size = ?1")?
            .query_row([size], |r| r.get(0))
            .optional()?)
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, Error> {
        Ok(self
            .0
            .prepare_cached("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn index_version(&self, size: u64) -> Result<Option<u64>, Error> {
        Ok(self
            .0
            .prepare_cached("SELECT index_version FROM checkpoints WHERE size = ?1")?
            .query_row([size], |r| r.get::<_, Option<u64>>(0))
            .optional()?
            .flatten())
    }

    fn index_node(&self, key: &NodeKey) -> Result<Option<Node>, Error> {
        let bytes: Option<Vec<u8>> = self
            .0
            .prepare_cached("SELECT node FROM index_nodes WHERE key = ?1")?
            .query_row([key.to_bytes()], |r| r.get(0))
            .optional()?;
        Ok(bytes.map(|b| Node::decode(&b)).transpose()?)
    }

    fn artifact_indices(&self, sha256: &Sha256, below: u64) -> Result<Vec<u64>, Error> {
        let mut stmt = self.0.prepare_cached(
            "SELECT idx FROM entries WHERE sha256 = ?1 AND idx < ?2 AND type = 'artifact' \
             ORDER BY idx",
        )?;
        let rows = stmt.query_map(params![&sha256.0[..], sql_int(below)], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn latest_artifact(
        &self,
        sha256: &Sha256,
        below: u64,
        signers: &[String],
    ) -> Result<Option<(u64, Vec<u8>, String)>, Error> {
        let mut sql = String::from(
            "SELECT idx, data, signer FROM entries \
             WHERE sha256 = ?1 AND idx < ?2 AND type = 'artifact'",
        );
        if !signers.is_empty() {
            sql.push_str(" AND signer IN (");
            sql.push_str(&vec!["?"; signers.len()].join(","));
            sql.push(')');
        }
        sql.push_str(" ORDER BY idx DESC LIMIT 1");
        let mut args: Vec<Value> = vec![sha256.0.to_vec().into(), sql_int(below).into()];
        args.extend(signers.iter().map(|s| Value::from(s.clone())));
        Ok(self
            .0
            .prepare_cached(&sql)?
            .query_row(params_from_iter(args), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?)
    }

    fn revocation(&self, id: &str, below: u64) -> Result<Option<u64>, Error> {
        Ok(self
            .0
            .prepare_cached("SELECT idx FROM revocations WHERE key_id = ?1 AND idx < ?2")?
            .query_row(params![id, sql_int(below)], |r| r.get(0))
            .optional()?)
    }

    fn search(
        &self,
        q: &Filter<'_>,
        from: u64,
        below: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, Error> {
        let mut sql = String::from("SELECT e.idx, e.data FROM entries e");
        let mut args: Vec<Value> = Vec::new();
        if let Some((k, v)) = q.attr {
            sql.push_str(" JOIN attributes a ON a.idx = e.idx AND a.key = ? AND a.value = ?");
            args.push(k.to_owned().into());
            args.push(v.to_owned().into());
        }
        sql.push_str(" WHERE e.idx < ? AND e.idx >= ?");
        args.push(sql_int(below).into());
        args.push(sql_int(from).into());
        if let Some(h) = q.sha256 {
            sql.push_str(" AND e.sha256 = ?");
            args.push(h.0.to_vec().into());
        }
        if let Some(n) = q.name {
            sql.push_str(" AND e.name = ?");
            args.push(n.to_owned().into());
        }
        if let Some(s) = q.signer {
            sql.push_str(" AND e.signer = ?");
            args.push(s.to_owned().into());
        }
        if let Some(s) = q.status {
            sql.push_str(" AND e.status = ?");
            args.push(s.as_str().to_owned().into());
        }
        if let Some(t) = q.since {
            sql.push_str(" AND e.time_us >= ?");
            args.push(t.0.into());
        }
        if let Some(t) = q.until {
            sql.push_str(" AND e.time_us < ?");
            args.push(t.0.into());
        }
        sql.push_str(" ORDER BY e.idx LIMIT ?");
        args.push(sql_int(limit as u64).into());
        let mut stmt = self.0.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn credential(&self, credential: &[u8; 32]) -> Result<Option<Key>, Error> {
        self.0
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE credential = ?1"
            ))?
            .query_row([&credential[..]], key_row)
            .optional()?
            .map(to_key)
            .transpose()
    }

    fn key(&self, id: &str) -> Result<Option<Key>, Error> {
        self.0
            .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"))?
            .query_row([id], key_row)
            .optional()?
            .map(to_key)
            .transpose()
    }

    fn keys(&self) -> Result<Vec<Key>, Error> {
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_idx"
        ))?;
        let rows = stmt
            .query_map([], key_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(to_key).collect()
    }

    fn credentials(&self) -> Result<Vec<([u8; 32], Key)>, Error> {
        let mut stmt = self.0.prepare_cached(&format!(
            "SELECT credential, {KEY_COLUMNS} FROM api_keys ORDER BY created_idx"
        ))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?),
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(credential, row)| {
                let hash: [u8; 32] = credential.try_into().map_err(|_| {
                    Error::Corrupt(format!("api key {}: a credential is not 32 bytes", row.0))
                })?;
                Ok((hash, to_key(row)?))
            })
            .collect()
    }

    fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        Ok(self
            .0
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    fn integrity_problem(&self) -> Result<Option<String>, Error> {
        let check: String = self.0.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        Ok((check != "ok").then_some(check))
    }

    fn scan_entries(
        &self,
        f: &mut dyn FnMut(StoredEntry) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut stmt = self.0.prepare(
            "SELECT idx, data, type, sha256, name, signer, status, time_us \
             FROM entries ORDER BY idx",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            f(StoredEntry {
                index: row.get(0)?,
                data: row.get(1)?,
                kind: row.get(2)?,
                sha256: row.get(3)?,
                name: row.get(4)?,
                signer: row.get(5)?,
                status: row.get(6)?,
                time_us: row.get(7)?,
            })?;
        }
        Ok(())
    }

    fn attribute_rows(&self) -> Result<Vec<(String, String, u64)>, Error> {
        let mut stmt = self.0.prepare("SELECT key, value, idx FROM attributes")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn checkpoints(&self) -> Result<Vec<(u64, String)>, Error> {
        let mut stmt = self
            .0
            .prepare("SELECT size, note FROM checkpoints ORDER BY size")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn revocation_rows(&self) -> Result<Vec<(String, u64)>, Error> {
        let mut stmt = self.0.prepare("SELECT key_id, idx FROM revocations")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn scan_index_nodes(&self, f: &mut NodeVisitor<'_>) -> Result<(), Error> {
        let mut stmt = self
            .0
            .prepare("SELECT key, node FROM index_nodes ORDER BY key")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let key: Vec<u8> = row.get(0)?;
            let node: Vec<u8> = row.get(1)?;
            f(&key, &node)?;
        }
        Ok(())
    }

    fn index_versions(&self) -> Result<Vec<(u64, Option<u64>)>, Error> {
        let mut stmt = self
            .0
            .prepare("SELECT size, index_version FROM checkpoints ORDER BY size")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count_entries(&self) -> Result<u64, Error> {
        Ok(self
            .0
            .query_row("SELECT COUNT(*) FROM entries", [], |r| r.get(0))?)
    }

    fn count_tiles(&self) -> Result<u64, Error> {
        Ok(self
            .0
            .query_row("SELECT COUNT(*) FROM tiles", [], |r| r.get(0))?)
    }
}

impl Writer for WriteConn {
    fn reads(&self) -> &dyn Reader {
        &self.conn
    }

    fn create(&mut self, name: &str, origin: &str, checkpoint: &str) -> Result<(), Error> {
        let tx = self.conn.0.transaction()?;
        for (k, v) in [("name", name), ("origin", origin)] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = ?2",
                params![k, v],
            )?;
        }
        tx.execute(
            "INSERT INTO checkpoints (size, note) VALUES (0, ?1)",
            [checkpoint],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), Error> {
        self.conn.0.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }

    fn check_in_place(&mut self) -> Result<(), Error> {
        let stop = |what: &Path, rescue: String| {
            Error::Corrupt(format!(
                "{} was removed or replaced while the ledger had it open: what is committed \
                 from now on would be lost, so the ledger stops writing; {rescue}",
                what.display()
            ))
        };
        match file_id(&self.path)? {
            Some(id) if id == self.db => {}
            // Deleted: the open connection still sees everything committed; put it back.
            None => {
                let rescue = match copy_connection(&self.conn.0, &self.path) {
                    Ok(()) => format!(
                        "everything committed was written back to {} from the open connection",
                        self.path.display()
                    ),
                    Err(e) => format!("writing it back from the open connection failed: {e}"),
                };
                tracing::error!("{rescue}");
                return Err(stop(&self.path, rescue));
            }
            Some(_) => {
                return Err(stop(
                    &self.path,
                    "the file now there is left alone: restore the ledger's own database".into(),
                ))
            }
        }
        let wal = wal_path(&self.path);
        match (self.wal, file_id(&wal)?) {
            (None, now) => self.wal = now,
            (Some(was), Some(now)) if was == now => {}
            (Some(_), _) => {
                // The open connection still reads the log it wrote: fold it into the database
                // file, so that nothing committed is lost with it.
                let rescue = match self
                    .conn
                    .0
                    .pragma_update(None, "wal_checkpoint", "TRUNCATE")
                {
                    Ok(()) => format!(
                        "everything committed was folded into {} from the open log",
                        self.path.display()
                    ),
                    Err(e) => format!("folding the open log into the database failed: {e}"),
                };
                tracing::error!("{rescue}");
                return Err(stop(&wal, rescue));
            }
        }
        Ok(())
    }

    fn clear_index(&mut self) -> Result<(), Error> {
        self.conn.0.execute("DELETE FROM index_nodes", [])?;
        Ok(())
    }

    fn begin(&mut self) -> Result<Box<dyn Batch + '_>, Error> {
        Ok(Box::new(SqliteBatch(self.conn.0.transaction()?)))
    }

    fn close(&mut self) -> Result<(), Error> {
        // Fold the WAL into the database file so that a copy of `ledger.db` alone is whole.
        self.conn
            .0
            .pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
        Ok(())
    }
}

struct SqliteBatch<'c>(Transaction<'c>);

impl Batch for SqliteBatch<'_> {
    fn entry(&mut self, index: u64, data: &[u8], c: &Columns) -> Result<(), Error> {
        self.0
            .prepare_cached(
                "INSERT INTO entries (idx, data, type, sha256, name, signer, status, time_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                index,
                data,
                c.kind,
                c.sha256.as_ref().map(|h| &h[..]),
                c.name,
                c.signer,
                c.status,
                c.time_us
            ])?;
        if !c.attributes.is_empty() {
            let mut ins = self
                .0
                .prepare_cached("INSERT INTO attributes (key, value, idx) VALUES (?1, ?2, ?3)")?;
            for (k, v) in &c.attributes {
                ins.execute(params![k, v, index])?;
            }
        }
        Ok(())
    }

    fn key_created(&mut self, key: &Key, credential: &[u8; 32]) -> Result<(), Error> {
        self.0
            .prepare_cached(
                "INSERT INTO api_keys (id, name, role, credential, created_idx)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                key.id,
                key.name,
                key.role.as_str(),
                &credential[..],
                key.created_index
            ])?;
        Ok(())
    }

    fn key_revoked(&mut self, id: &str, index: u64) -> Result<(), Error> {
        self.0
            .prepare_cached("UPDATE api_keys SET revoked_idx = ?2 WHERE id = ?1")?
            .execute(params![id, index])?;
        self.0
            .prepare_cached("INSERT INTO revocations (key_id, idx) VALUES (?1, ?2)")?
            .execute(params![id, index])?;
        Ok(())
    }

    fn tile(&mut self, level: u8, index: u64, hashes: &[u8]) -> Result<(), Error> {
        self.0
            .prepare_cached(
                "INSERT INTO tiles (level, idx, hashes) VALUES (?1, ?2, ?3)
                 ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes",
            )?
            .execute(params![level, index, hashes])?;
        Ok(())
    }

    fn index_node(&mut self, key: &NodeKey, node: &Node) -> Result<(), Error> {
        self.0
            .prepare_cached("INSERT INTO index_nodes (key, node) VALUES (?1, ?2)")?
            .execute(params![key.to_bytes(), node.encode()])?;
        Ok(())
    }

    fn checkpoint(&mut self, size: u64, note: &str, index: Option<u64>) -> Result<(), Error> {
        self.0
            .prepare_cached(
                "INSERT INTO checkpoints (size, note, index_version) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![size, note, index])?;
        Ok(())
    }

    fn resign_checkpoint(
        &mut self,
        size: u64,
        note: &str,
        index: Option<u64>,
    ) -> Result<(), Error> {
        let changed = self
            .0
            .prepare_cached("UPDATE checkpoints SET note = ?2, index_version = ?3 WHERE size = ?1")?
            .execute(params![size, note, index])?;
        if changed != 1 {
            return Err(Error::Corrupt(format!(
                "no checkpoint of size {size} to re-sign"
            )));
        }
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<(), Error> {
        self.0.commit()?;
        Ok(())
    }
}

/// SQLite integers are signed: sizes and indexes past `i64::MAX` cannot exist in a table, so
/// a bound beyond it means "no bound".
fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
