//! What the ledger keeps beside its storage, never in it: the signing key (a C2SP signer key
//! text in `signing.key`, readable only by its owner) and the record of the latest checkpoint
//! it signed (`signed-checkpoint`). A backend never sees either.
//!
//! The record is what makes "never sign two inconsistent checkpoints" hold when the database
//! goes backwards — deleted, restored from an older copy, its write-ahead log lost: the record
//! is written and synced after each commit and before any answer carries the checkpoint, and
//! a database that is smaller than the record, or disagrees with it, is refused.
//!
//! The record has two slots written alternately, each with a sequence number and a checksum,
//! so that one `fdatasync` per commit suffices and a write torn by a crash leaves the other
//! slot whole.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use notarium_core::{SignedCheckpoint, SignerKey, UnverifiedCheckpoint, VerifierKey};

use crate::Error;

/// The signing key file inside a ledger directory (mode 0600).
pub(crate) const KEY_FILE: &str = "signing.key";
/// The record of the latest signed checkpoint inside a ledger directory.
pub(crate) const RECORD_FILE: &str = "signed-checkpoint";

/// Bytes per slot of the record: a header line, the note, a checksum; a note is far smaller.
const SLOT: usize = 4096;
const MAGIC: &[u8] = b"notarium-signed-checkpoint/v1\n";

/// The record of the latest checkpoint this ledger signed, kept outside its storage.
pub(crate) struct SignedRecord {
    path: PathBuf,
    file: fs::File,
    /// Sequence number of the slot written last.
    seq: u64,
    latest: Option<String>,
}

impl SignedRecord {
    /// Opens (creating if absent) the record in `dir`, reading the newest whole slot.
    ///
    /// # Errors
    /// I/O errors; [`Error::Corrupt`] when the file exists but no slot is whole.
    pub(crate) fn open(dir: &Path) -> Result<SignedRecord, Error> {
        let path = dir.join(RECORD_FILE);
        let exists = path.exists();
        let mut opts = fs::OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let best = newest_slot(&bytes);
        if exists && !bytes.is_empty() && best.is_none() {
            return Err(Error::Corrupt(format!(
                "{} holds no readable record of the latest signed checkpoint",
                path.display()
            )));
        }
        let (seq, latest) = best.map_or((0, None), |(s, n)| (s, Some(n)));
        Ok(SignedRecord {
            path,
            file,
            seq,
            latest,
        })
    }

    /// Where the record lives.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The latest recorded checkpoint, verified with `key`.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when it does not verify.
    pub(crate) fn latest(&self, key: &VerifierKey) -> Result<Option<SignedCheckpoint>, Error> {
        verify_note(self.latest.as_deref(), key, &self.path)
    }

    /// The latest checkpoint recorded in `dir`, verified with `key`, without opening the record
    /// for writing (for checks of copies and audits).
    ///
    /// # Errors
    /// I/O errors; [`Error::Corrupt`] when no slot is whole or the note does not verify.
    pub(crate) fn read_latest(
        dir: &Path,
        key: &VerifierKey,
    ) -> Result<Option<SignedCheckpoint>, Error> {
        let path = dir.join(RECORD_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if bytes.is_empty() {
            return Ok(None);
        }
        let (_, note) = newest_slot(&bytes).ok_or_else(|| {
            Error::Corrupt(format!(
                "{} holds no readable record of the latest signed checkpoint",
                path.display()
            ))
        })?;
        verify_note(Some(&note), key, &path)
    }

    /// Records `checkpoint` as the latest signed one, durably, in the older slot.
    ///
    /// # Errors
    /// I/O errors: the caller must then not answer with the checkpoint.
    pub(crate) fn record(&mut self, checkpoint: &SignedCheckpoint) -> Result<(), Error> {
        let note = checkpoint.note();
        // Never backwards: a smaller tree than the one recorded is covered by it already (the
        // recorder can hand over a batch committed before a checkpoint the writer recorded
        // itself when it reloaded its state).
        let recorded = self
            .latest
            .as_deref()
            .and_then(|n| n.lines().nth(1))
            .and_then(|size| size.parse::<u64>().ok());
        if recorded.is_some_and(|r| checkpoint.size().0 < r) || self.latest.as_deref() == Some(note)
        {
            return Ok(());
        }
        let seq = self.seq + 1;
        let mut slot = Vec::with_capacity(SLOT);
        slot.extend_from_slice(MAGIC);
        slot.extend_from_slice(format!("{seq} {}\n", note.len()).as_bytes());
        slot.extend_from_slice(note.as_bytes());
        let sum = Sha256::digest(&slot);
        slot.extend_from_slice(&sum);
        if slot.len() > SLOT {
            return Err(Error::Corrupt(format!(
                "a checkpoint of {} bytes does not fit the record",
                note.len()
            )));
        }
        slot.resize(SLOT, 0);
        self.file.seek(SeekFrom::Start((seq % 2) * SLOT as u64))?;
        self.file.write_all(&slot)?;
        self.file.sync_data()?;
        self.seq = seq;
        self.latest = Some(note.to_owned());
        Ok(())
    }
}

fn verify_note(
    note: Option<&str>,
    key: &VerifierKey,
    path: &Path,
) -> Result<Option<SignedCheckpoint>, Error> {
    note.map(|note| {
        UnverifiedCheckpoint::parse(note)
            .and_then(|c| c.verify(key))
            .map_err(|e| {
                Error::Corrupt(format!(
                    "the record of the latest signed checkpoint ({}) does not verify: {e}",
                    path.display()
                ))
            })
    })
    .transpose()
}

/// The newest whole slot of a record: its sequence number and note.
fn newest_slot(bytes: &[u8]) -> Option<(u64, String)> {
    bytes
        .chunks(SLOT)
        .take(2)
        .filter_map(parse_slot)
        .max_by_key(|(seq, _)| *seq)
}

/// A slot's sequence number and note, if it is whole.
fn parse_slot(slot: &[u8]) -> Option<(u64, String)> {
    let rest = slot.strip_prefix(MAGIC)?;
    let nl = rest.iter().position(|b| *b == b'\n')?;
    let header = std::str::from_utf8(&rest[..nl]).ok()?;
    let (seq, len) = header.split_once(' ')?;
    let (seq, len): (u64, usize) = (seq.parse().ok()?, len.parse().ok()?);
    let body_start = MAGIC.len() + nl + 1;
    let end = body_start.checked_add(len)?;
    let sum = slot.get(end..end + 32)?;
    if Sha256::digest(&slot[..end]).as_slice() != sum {
        return None;
    }
    let note = std::str::from_utf8(&slot[body_start..end]).ok()?;
    Some((seq, note.to_owned()))
}

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
