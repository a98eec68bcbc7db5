//! Consistent copies of a ledger while it serves (docs/operations.md, "Backups"), and their
//! check. A plain file copy of a running ledger can tear; this copies the database with SQLite's
//! online backup (one read snapshot, which does not block the writer) and takes the files
//! beside it in the order that keeps the copy openable: the record of the latest signed
//! checkpoint first (it never runs ahead of the database it describes), the database after.

use std::path::{Path, PathBuf};

use serde::Serialize;

use notarium_core::{SignedCheckpoint, TreeSize};

use crate::signer::{self, SignedRecord};
use crate::store::sqlite::{Sqlite, DB_FILE};
use crate::tiles::StoredTiles;
use crate::{audit, Error};

/// What [`backup`] made and checked.
#[derive(Clone, Debug, Serialize)]
pub struct Backup {
    /// The copy.
    pub dir: PathBuf,
    /// Entries in the copy.
    pub entries: u64,
    /// The latest signed checkpoint in the copy.
    pub checkpoint: String,
}

/// Copies the ledger in `src` into the new directory `dest` — database, signing key, record
/// of the latest signed checkpoint — while a server may be writing it, then checks the copy:
/// it audits clean and holds at least the checkpoint recorded when the copy began.
///
/// # Errors
/// [`Error::Io`] when `dest` exists or cannot be written; [`Error::Corrupt`] when the copy
/// does not check; storage errors reading `src`.
pub fn backup(src: &Path, dest: &Path) -> Result<Backup, Error> {
    if dest.exists() {
        return Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!(
                "{} exists already: back up into a new directory",
                dest.display()
            ),
        )));
    }
    let key = signer::read(src)
        .map_err(|e| Error::NotFound(format!("no ledger signing key in {}: {e}", src.display())))?;
    std::fs::create_dir_all(dest)?;
    copy_private(&src.join(signer::KEY_FILE), &dest.join(signer::KEY_FILE))?;
    // The record first: the database copied after it holds at least what it says.
    let record = src.join(signer::RECORD_FILE);
    let recorded = if record.exists() {
        copy_private(&record, &dest.join(signer::RECORD_FILE))?;
        SignedRecord::read_latest(dest, &key.verifier())?
    } else {
        None
    };
    Sqlite::copy_to(src, &dest.join(DB_FILE))?;
    std::fs::File::open(dest)?.sync_all()?;
    verify(dest, recorded.as_ref())
}

/// Checks a copy: a clean audit, and at least the checkpoint `recorded` (when there is one),
/// consistent with it.
fn verify(dest: &Path, recorded: Option<&SignedCheckpoint>) -> Result<Backup, Error> {
    let report = audit(dest, |_, _| {})?;
    if !report.is_clean() {
        return Err(Error::Corrupt(format!(
            "the copy in {} does not audit clean: {}",
            dest.display(),
            report
                .findings
                .first()
                .map_or_else(String::new, |f| f.message.clone())
        )));
    }
    let reader = Sqlite::existing_reader(dest)?;
    let (size, note) = reader
        .latest_checkpoint()?
        .ok_or_else(|| Error::Corrupt("the copy has no checkpoint".into()))?;
    if let Some(rec) = recorded {
        if size < rec.size().0 {
            return Err(Error::Corrupt(format!(
                "the copy holds {size} entries, fewer than the {} already signed",
                rec.size()
            )));
        }
        let root =
            notarium_core::merkle::root(&StoredTiles(reader.as_ref()), TreeSize(rec.size().0))?;
        if root != rec.root() {
            return Err(Error::Corrupt(
                "the copy disagrees with the checkpoint recorded as signed".into(),
            ));
        }
    }
    Ok(Backup {
        dir: dest.to_owned(),
        entries: report.entries,
        checkpoint: note,
    })
}

/// Copies a file readable only by its owner, synced.
fn copy_private(from: &Path, to: &Path) -> Result<(), Error> {
    let bytes = std::fs::read(from)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(to)?;
    std::io::Write::write_all(&mut f, &bytes)?;
    f.sync_all()?;
    Ok(())
}
