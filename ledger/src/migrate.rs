//! Moving a ledger from its SQLite file into a PostgreSQL database (`notariumd migrate`,
//! docs/postgresql.md): the source must audit clean; every row is copied in one transaction, so
//! that a migration that fails leaves nothing behind; then the copy is held against the source
//! — every tile and checkpoint compared one by one, every entry and status-index node through
//! a digest of all of them in order, keys, revocations and attributes as sets — and audited
//! in the database the way `notariumd audit` recomputes a ledger.
//!
//! A ledger that already exists in the database is never overwritten or merged into: when it
//! holds the source's history (the same checkpoints, the same entries — a migration done
//! before, possibly grown since), it is reported as such and nothing is copied; otherwise the
//! migration of that ledger is refused.

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use notarium_core::LedgerName;

use crate::store::sqlite::Sqlite;
use crate::store::Reader;
use crate::tiles::stored_tiles;
use crate::{audit, audit_postgres, Error, Postgres};

/// What [`migrate_to_postgres`] did with one ledger.
#[derive(Clone, Debug, Serialize)]
pub struct Migrated {
    /// The ledger.
    pub ledger: String,
    /// Entries in the source.
    pub entries: u64,
    /// Signed checkpoints compared.
    pub checkpoints: u64,
    /// Tiles compared.
    pub tiles: u64,
    /// Status-index nodes compared.
    pub index_nodes: u64,
    /// The database held this history already (nothing was copied); it may have grown since.
    pub already_there: bool,
}

/// Copies the SQLite ledger in `dir` into `db` as ledger `name`, then checks the copy. The
/// ledger must not be served meanwhile (the caller holds the data directory's lock).
/// `progress` is told each step.
///
/// # Errors
/// [`Error::Corrupt`] when the source does not audit clean or the copy differs from it;
/// [`Error::Conflict`] when the database holds another history under this name; storage
/// errors.
pub fn migrate_to_postgres(
    dir: &Path,
    name: &LedgerName,
    db: &Postgres,
    mut progress: impl FnMut(&str),
) -> Result<Migrated, Error> {
    let source = Sqlite::existing_reader(dir)?;
    let source = source.as_ref();
    let stored_name = source.meta("name")?;
    if stored_name.as_deref().is_some_and(|n| n != name.as_str()) {
        return Err(Error::Config(format!(
            "the ledger in {} is named {stored_name:?}, not {name:?}",
            dir.display()
        )));
    }
    progress("auditing the SQLite ledger");
    let audited = audit(dir, |_, _| {})?;
    if let Some(first) = audited.findings.first() {
        return Err(Error::Corrupt(format!(
            "the ledger in {} does not audit clean ({}): run `notariumd audit` and repair it \
             before moving it",
            dir.display(),
            first.message
        )));
    }
    let size = audited.entries;
    if db.ledgers()?.iter().any(|l| l == name.as_str()) {
        progress("the database holds this ledger already: comparing its history");
        return db.read_snapshot(name.as_str(), |target| {
            holds_history(source, target, size, name)?;
            Ok(Migrated {
                ledger: name.to_string(),
                entries: size,
                checkpoints: source.checkpoints()?.len() as u64,
                tiles: stored_tiles(size).len() as u64,
                index_nodes: 0,
                already_there: true,
            })
        });
    }
    progress("copying every row in one transaction");
    db.import(name.as_str(), source, size)?;
    progress("comparing the copy with the source");
    let compared = db.read_snapshot(name.as_str(), |target| compare(source, target, size))?;
    progress("auditing the copy in the database");
    let report = audit_postgres(db, name, dir, |_, _| {})?;
    if let Some(first) = report.findings.first() {
        return Err(Error::Corrupt(format!(
            "the copy of ledger {name} in the database does not audit clean: {}",
            first.message
        )));
    }
    Ok(Migrated {
        ledger: name.to_string(),
        entries: size,
        checkpoints: compared.checkpoints,
        tiles: compared.tiles,
        index_nodes: compared.index_nodes,
        already_there: false,
    })
}

/// What [`compare`] held side by side.
struct Compared {
    checkpoints: u64,
    tiles: u64,
    index_nodes: u64,
}

/// Holds the copy against the source, row for row.
fn compare(source: &dyn Reader, target: &dyn Reader, size: u64) -> Result<Compared, Error> {
    let differ = |what: &str| Error::Corrupt(format!("the copy differs from the source: {what}"));
    for what in ["name", "origin"] {
        if source.meta(what)? != target.meta(what)? {
            return Err(differ(what));
        }
    }
    let checkpoints = source.checkpoints()?;
    if checkpoints != target.checkpoints()?
        || source.index_versions()? != target.index_versions()?
    {
        return Err(differ("the signed checkpoints"));
    }
    let tiles = stored_tiles(size);
    for (level, index) in &tiles {
        if source.tile(*level, *index)? != target.tile(*level, *index)? {
            return Err(differ(&format!("tile {level}/{index}")));
        }
    }
    if target.count_tiles()? != tiles.len() as u64 {
        return Err(differ("the number of tiles"));
    }
    let (entries, n) = entry_digest(source)?;
    if (entries, n) != entry_digest(target)? || n != size {
        return Err(differ("the entries"));
    }
    let (nodes, index_nodes) = node_digest(source)?;
    if (nodes, index_nodes) != node_digest(target)? {
        return Err(differ("the status index"));
    }
    if source.credentials()? != target.credentials()? {
        return Err(differ("the API keys"));
    }
    let sorted = |mut v: Vec<(String, String, u64)>| {
        v.sort();
        v
    };
    if sorted(source.attribute_rows()?) != sorted(target.attribute_rows()?) {
        return Err(differ("the attribute rows"));
    }
    let mut revoked = (source.revocation_rows()?, target.revocation_rows()?);
    revoked.0.sort();
    revoked.1.sort();
    if revoked.0 != revoked.1 {
        return Err(differ("the revocations"));
    }
    Ok(Compared {
        checkpoints: checkpoints.len() as u64,
        tiles: tiles.len() as u64,
        index_nodes,
    })
}

/// Whether `target` holds the history of `source` (a ledger of `size` entries): its every
/// checkpoint and entry, the same.
fn holds_history(
    source: &dyn Reader,
    target: &dyn Reader,
    size: u64,
    name: &LedgerName,
) -> Result<(), Error> {
    let refused = |what: &str| {
        Error::Conflict(format!(
            "ledger {name} exists in the database with another history ({what}): migrate never \
             overwrites or merges a ledger; drop it there or migrate this one under another name"
        ))
    };
    if source.meta("origin")? != target.meta("origin")? {
        return Err(refused("another origin"));
    }
    for (s, note) in source.checkpoints()? {
        if target.checkpoint(s)?.as_deref() != Some(note.as_str()) {
            return Err(refused(&format!("its checkpoint of size {s} differs")));
        }
    }
    let mut start = 0;
    while start < size {
        let end = (start + 10_000).min(size);
        if source.entries(start, end)? != target.entries(start, end)? {
            return Err(refused(&format!("entries {start}..{end} differ")));
        }
        start = end;
    }
    Ok(())
}

/// SHA-256 over every entry (index, length, bytes) in order, and how many.
fn entry_digest(store: &dyn Reader) -> Result<([u8; 32], u64), Error> {
    let (mut h, mut n) = (Sha256::new(), 0u64);
    store.scan_entries(&mut |row| {
        h.update(row.index.to_be_bytes());
        h.update((row.data.len() as u64).to_be_bytes());
        h.update(&row.data);
        n += 1;
        Ok(())
    })?;
    Ok((h.finalize().into(), n))
}

/// SHA-256 over every status-index node (key and node, with lengths) in key order, and how
/// many.
fn node_digest(store: &dyn Reader) -> Result<([u8; 32], u64), Error> {
    let (mut h, mut n) = (Sha256::new(), 0u64);
    store.scan_index_nodes(&mut |key, node| {
        for part in [key, node] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        n += 1;
        Ok(())
    })?;
    Ok((h.finalize().into(), n))
}
