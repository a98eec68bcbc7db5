//! Notarium's embedded ledger (docs/ledger.md): an append-only RFC 6962 log of entries with its
//! hashes stored as C2SP tlog-tiles, a group-commit sequencer, signed checkpoints, proofs,
//! secondary indexes and an offline audit.
//!
//! Storage is one SQLite file per ledger (the default), or a PostgreSQL database that several
//! processes share ([`Postgres`], docs/postgresql.md): they take turns at sequencing, each
//! holding a ledger's lease while it appends, and read what the others committed.
//!
//! Use it as a library ([`Ledger::open`], [`Ledger::append`], [`Ledger::get`],
//! [`Ledger::prove_inclusion`], [`Ledger::prove_consistency`], [`Ledger::checkpoint`]) or
//! behind `notariumd`. Out of scope: HTTP, authentication of callers (the caller says who the
//! signer is), and anything that needs the whole tree in memory: the ledger keeps only the
//! right edge of the tree (O(log n) tiles) and reads everything else from storage.
//!
//! Rooms: [`entries`] turns requests into entries on the caller's thread; `writer` is the
//! sequencer; `read` answers reads against one published snapshot; `follow` brings that snapshot
//! up to what other processes committed to a shared store; `store` is the only place that knows
//! how rows are kept (SQLite or PostgreSQL, behind a narrow interface); `audit` recomputes a
//! ledger offline; `migrate` copies SQLite ledgers into PostgreSQL.
//!
//! Threads: one writer thread per ledger owns the only write connection; readers use a small
//! pool of read connections and never block the writer.

#![forbid(unsafe_code)]

mod audit;
mod backup;
mod entries;
mod follow;
mod index;
pub mod migrate;
mod pool;
mod read;
mod signer;
mod store;
#[cfg(feature = "test-postgres")]
pub mod test_postgres;
mod tiles;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use notarium_core::{LedgerName, Origin, Receipt, SignedCheckpoint, SignerKey, VerifierKey};

pub use audit::{audit, audit_postgres, AuditFinding, FindingKind, LedgerAudit};
pub use backup::{backup, Backup};
pub use entries::NewEntry;
pub use read::SearchQuery;
pub use store::postgres::{Postgres, DEFAULT_LEASE};

use entries::Draft;
use pool::ReaderPool;
use store::{Backend, Reader};
use tiles::{TileCache, TileEdge, TileTree};

/// Everything the ledger can fail with. Callers act on the variant: bad input and
/// `NotFound`/`Conflict` are the caller's; `Storage`, `Io` and `Corrupt` are the operator's.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that violates a format or limit (from `core`).
    #[error(transparent)]
    Invalid(notarium_core::Error),
    /// Entry `position` of a multi-entry append violates a format or limit.
    #[error("entry {position}: {source}")]
    InvalidEntry {
        /// Its position in the append, from 0.
        position: usize,
        /// What is wrong with it.
        source: notarium_core::Error,
    },
    /// Something asked for does not exist (index, size, key, tile).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request conflicts with the ledger's state (e.g. revoking a revoked key).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Stored data disagrees with itself; the ledger refuses to serve it.
    #[error("ledger is corrupt: {0}")]
    Corrupt(String),
    /// Options that cannot work with the stored ledger.
    #[error("configuration: {0}")]
    Config(String),
    /// SQLite failed (disk full, read-only, I/O error).
    #[error("storage: {0}")]
    Storage(#[from] rusqlite::Error),
    /// PostgreSQL failed (unreachable, refused a statement, lost the connection).
    #[error("database: {0}")]
    Database(#[from] postgres::Error),
    /// A file operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The ledger is shutting down or its writer stopped after a storage failure.
    #[error("ledger is not accepting writes: {0}")]
    Unavailable(String),
}

impl From<notarium_core::Error> for Error {
    /// `core`'s errors are the caller's input, except a damaged status index, which is the
    /// storage's.
    fn from(e: notarium_core::Error) -> Self {
        match e {
            notarium_core::Error::CorruptIndex(what) => {
                Error::Corrupt(format!("the status index is damaged: {what}"))
            }
            other => Error::Invalid(other),
        }
    }
}

/// How hard a commit pushes data to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: an answered append survives a power cut (the default).
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a process crash; a power cut may lose the last commits.
    Normal,
}

/// What the writer reports after each committed batch (for metrics).
#[derive(Clone, Copy, Debug)]
pub struct CommitInfo {
    /// Entries in the batch.
    pub entries: usize,
    /// Tree size after the batch.
    pub size: u64,
    /// Time spent in `COMMIT` (the fsync), in seconds.
    pub commit_seconds: f64,
    /// Time spent extending the status index (reading the nodes it changes, computing and
    /// writing the new ones), in seconds.
    pub index_seconds: f64,
    /// Time spent writing the entries' rows (with their secondary indexes), in seconds.
    pub rows_seconds: f64,
    /// Time for the whole batch, in seconds.
    pub batch_seconds: f64,
}

/// A callback the writer calls after each commit.
pub type CommitObserver = Arc<dyn Fn(CommitInfo) + Send + Sync>;

/// Options for [`Ledger::open`].
#[derive(Clone)]
pub struct LedgerOptions {
    /// The ledger's name (written into every entry).
    pub name: LedgerName,
    /// The checkpoint origin, e.g. `localhost/notarium/default`; fixed at creation.
    pub origin: Origin,
    /// Commit durability.
    pub durability: Durability,
    /// Keep the ledger in this PostgreSQL database instead of a SQLite file in its directory
    /// (which then holds only the signing key and the record of the latest signed checkpoint).
    pub database: Option<Postgres>,
    /// A signing key to use when the ledger is created (otherwise one is generated).
    pub signer: Option<SignerKey>,
    /// Most entries committed in one batch.
    pub max_batch: usize,
    /// Read connections kept for readers.
    pub readers: usize,
    /// Full tiles cached in memory (16 KiB each).
    pub tile_cache: usize,
    /// Called after every commit.
    pub on_commit: Option<CommitObserver>,
    /// Keep the status index and commit to it in every checkpoint (the default, and always
    /// on in `notariumd`). Off, the ledger is a plain C2SP transparency log — for interoperable
    /// logs of opaque entries, whose checkpoints other logs must reproduce byte for byte.
    pub status_index: bool,
    /// The sequencer's clock, in microseconds since the Unix epoch (`None`: the system
    /// clock). A fixed clock makes a ledger byte for byte reproducible — same entries, same
    /// checkpoints, same proofs — for test vectors; entry times never decrease either way.
    pub clock: Option<fn() -> i64>,
}

impl LedgerOptions {
    /// Defaults for a ledger: FULL durability, batches of up to 4,096 entries.
    pub fn new(name: LedgerName, origin: Origin) -> Self {
        LedgerOptions {
            name,
            origin,
            durability: Durability::Full,
            database: None,
            signer: None,
            max_batch: 4096,
            readers: 4,
            tile_cache: 1024,
            on_commit: None,
            status_index: true,
            clock: None,
        }
    }
}

impl std::fmt::Debug for LedgerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerOptions")
            .field("name", &self.name)
            .field("origin", &self.origin)
            .field("durability", &self.durability)
            .field("database", &self.database)
            .field("signer", &self.signer.as_ref().map(|_| "<redacted>"))
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

/// What the sequencer has done since the ledger was opened.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// Batches committed.
    pub batches: u64,
    /// Entries appended.
    pub entries: u64,
}

#[derive(Default)]
struct AtomicCounters {
    batches: AtomicU64,
    entries: AtomicU64,
}

/// The state readers see: a signed checkpoint and the right edge of its tree.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub checkpoint: SignedCheckpoint,
    pub edge: TileEdge,
    /// The version of the status index's root node the checkpoint commits to.
    pub index_root: Option<u64>,
}

impl Snapshot {
    pub fn size(&self) -> u64 {
        self.checkpoint.size().0
    }

    /// Whether the checkpoint commits to a status index (proofs can be given against it).
    pub fn indexed(&self) -> bool {
        self.checkpoint
            .checkpoint()
            .extensions
            .iter()
            .any(|l| l.starts_with(notarium_core::checkpoint::INDEX_LINE_PREFIX))
    }
}

/// What the sequencer and the readers share.
pub(crate) struct Shared {
    name: LedgerName,
    origin: Origin,
    verifier: VerifierKey,
    /// `verifier` as text, once: every receipt carries it.
    verifier_text: String,
    backend: Box<dyn Backend>,
    readers: ReaderPool,
    snapshot: RwLock<Arc<Snapshot>>,
    cache: Mutex<TileCache>,
    counters: AtomicCounters,
    /// Why the writer refuses appends, once it does (see [`Ledger::stopped`]).
    stopped: Mutex<Option<String>>,
}

impl Shared {
    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Makes a committed batch visible: its full tiles to the cache, then its snapshot —
    /// unless a larger one is already published (read from a shared store meanwhile).
    fn publish(&self, snapshot: Arc<Snapshot>, completed: Vec<Arc<TileTree>>) {
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for tile in completed {
                cache.insert(tile);
            }
        }
        let mut published = self.snapshot.write().unwrap_or_else(|e| e.into_inner());
        if snapshot.size() >= published.size() {
            *published = snapshot;
        }
    }

    /// Records that the writer refuses appends from now on, and why.
    fn stopped(&self, why: &str) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.to_owned());
    }

    /// Runs `f` with a pooled read connection.
    fn with_reader<T>(&self, f: impl FnOnce(&dyn Reader) -> Result<T, Error>) -> Result<T, Error> {
        self.readers.with(self.backend.as_ref(), f)
    }
}

/// Entries accepted by one [`Ledger::append_with`] call, durable and covered by `checkpoint`.
#[derive(Debug)]
pub struct Appended {
    /// Index of the first entry.
    pub first_index: u64,
    /// The canonical bytes of each entry, in order.
    pub leaves: Vec<Vec<u8>>,
    snapshot: Arc<Snapshot>,
}

impl Appended {
    /// The checkpoint that covers these entries.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.snapshot.checkpoint
    }
}

/// An open ledger. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Ledger {
    shared: Arc<Shared>,
    tx: Mutex<Option<mpsc::Sender<writer::Msg>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Opens the ledger stored in `dir`, creating it (and its signing key) if absent.
    ///
    /// Opening is O(log n): it loads the right-most tile of each level, recomputes the root
    /// and checks it and the signature of the latest stored checkpoint, and checks the last
    /// entry against its tile. It refuses to open when any of these disagree.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when stored data disagrees; [`Error::Config`] when `options` do not
    /// match the stored ledger (origin, key); storage and I/O errors.
    pub fn open(dir: impl AsRef<Path>, options: LedgerOptions) -> Result<Ledger, Error> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)?;
        let key_exists = dir.join(signer::KEY_FILE).exists();
        let lost = |dir: &Path| match &options.database {
            None => Error::Corrupt(format!(
                "the signing key of ledger {} exists in {} but its database holds nothing: the \
                 database was lost (deleted or emptied). Starting again would sign a second, \
                 different history under the same key. Restore the database (with its -wal \
                 file) from a copy; if this ledger never served anything, remove the directory \
                 to create it anew",
                options.name,
                dir.display()
            )),
            Some(db) => Error::Corrupt(format!(
                "the signing key of ledger {} exists in {} but the database {db} holds no \
                 ledger {0}. Starting again would sign a second, different history under the \
                 same key. If this directory served the ledger from SQLite, copy it into the \
                 database with `notariumd migrate`; if the database lost it, restore the \
                 database; if this ledger never served anything, remove the directory to \
                 create it anew",
                options.name,
                dir.display()
            )),
        };
        let backend: Box<dyn Backend> = match &options.database {
            None => {
                let db_len =
                    std::fs::metadata(dir.join(store::sqlite::DB_FILE)).map_or(0, |m| m.len());
                if key_exists && db_len == 0 {
                    // Refuse before opening, which would create an empty database in its place.
                    return Err(lost(dir));
                }
                Box::new(store::sqlite::Sqlite::new(dir, options.durability))
            }
            Some(db) => Box::new(db.backend(options.name.as_str(), options.durability)),
        };
        let mut store = backend.writer()?;
        // On a shared store, what is loaded below is what this process will extend.
        store.take_turn()?;
        let stored_origin = store.reads().meta("origin")?;
        let is_new = stored_origin.is_none();
        for (what, stored, wanted) in [
            ("has origin", stored_origin, options.origin.as_str()),
            (
                "is named",
                store.reads().meta("name")?,
                options.name.as_str(),
            ),
        ] {
            if let Some(stored) = stored.filter(|s| s != wanted) {
                return Err(Error::Config(format!(
                    "ledger in {} {what} {stored:?}, not {wanted:?}",
                    dir.display()
                )));
            }
        }
        if is_new && key_exists {
            return Err(lost(dir));
        }
        let mut record = signer::SignedRecord::open(dir)?;
        let key = signer::load_or_create(
            dir,
            options.origin.as_str(),
            options.signer.as_ref(),
            is_new,
        )?;
        let state = writer::State::load(
            store.as_mut(),
            &options.name,
            &options.origin,
            key,
            is_new,
            options.status_index,
            &mut record,
        )?;
        let verifier = state.verifier();
        let shared = Arc::new(Shared {
            name: options.name.clone(),
            origin: options.origin.clone(),
            verifier_text: verifier.to_string(),
            verifier,
            backend,
            readers: ReaderPool::new(options.readers),
            snapshot: RwLock::new(Arc::new(state.snapshot())),
            cache: Mutex::new(TileCache::new(options.tile_cache)),
            counters: AtomicCounters::default(),
            stopped: Mutex::new(None),
        });
        let (tx, rx) = mpsc::channel();
        let handle = writer::spawn(
            store,
            state,
            record,
            shared.clone(),
            rx,
            writer::Settings {
                max_batch: options.max_batch,
                on_commit: options.on_commit,
                clock: options.clock,
            },
        )?;
        Ok(Ledger {
            shared,
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
        })
    }

    /// The ledger's name.
    pub fn name(&self) -> &LedgerName {
        &self.shared.name
    }

    /// The checkpoint origin.
    pub fn origin(&self) -> &Origin {
        &self.shared.origin
    }

    /// The key that verifies this ledger's checkpoints.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.shared.verifier
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> SignedCheckpoint {
        self.shared.snapshot().checkpoint.clone()
    }

    /// The current tree size.
    pub fn size(&self) -> u64 {
        self.shared.snapshot().size()
    }

    /// Why the ledger no longer accepts appends, once its writer has stopped after a storage
    /// failure it could not recover from (its state could not be reloaded from storage); `None`
    /// while it writes. A server reports it as not ready: only an operator can repair this.
    /// A commit that fails and leaves a state that reloads (a full disk) does not stop the
    /// writer: the next batch is tried again.
    pub fn stopped(&self) -> Option<String> {
        self.shared
            .stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What the sequencer has done since the ledger was opened.
    pub fn counters(&self) -> Counters {
        Counters {
            batches: self.shared.counters.batches.load(Ordering::Relaxed),
            entries: self.shared.counters.entries.load(Ordering::Relaxed),
        }
    }

    /// Validates and builds `entries` on this thread, then queues them (all-or-nothing) and
    /// calls `done` once they are durable, or failed. A request that is invalid is refused at
    /// once, alone: it never reaches the sequencer. `done` runs on the writer thread (or on
    /// this one, for a refused request): keep it short (send on a channel).
    pub fn append_with(
        &self,
        entries: Vec<NewEntry>,
        done: impl FnOnce(Result<Appended, Error>) + Send + 'static,
    ) {
        let drafts = match self.draft(entries) {
            Ok(d) => d,
            Err(e) => return done(Err(e)),
        };
        let req = writer::Request {
            drafts,
            done: Box::new(done),
        };
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match tx {
            Some(tx) => {
                if let Err(mpsc::SendError(writer::Msg::Append(req))) =
                    tx.send(writer::Msg::Append(req))
                {
                    (req.done)(Err(Error::Unavailable("the writer has stopped".into())));
                }
            }
            None => (req.done)(Err(Error::Unavailable("the ledger is closed".into()))),
        }
    }

    /// The latest checkpoint, signed again with the current time (`notarium-time/v1`), and the
    /// snapshot of its tree: the ledger's statement that its latest tree, as of now, is this one.
    fn attest(&self) -> Result<(SignedCheckpoint, Arc<Snapshot>), Error> {
        let (tx, rx) = mpsc::channel();
        let sender = self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(sender) = sender else {
            return Err(Error::Unavailable("the ledger is closed".into()));
        };
        sender
            .send(writer::Msg::Attest(Box::new(move |r| {
                let _ = tx.send(r);
            })))
            .map_err(|_| Error::Unavailable("the writer has stopped".into()))?;
        rx.recv()
            .map_err(|_| Error::Unavailable("the writer stopped".into()))?
    }

    fn draft(&self, entries: Vec<NewEntry>) -> Result<Vec<Draft>, Error> {
        if entries.is_empty() {
            return Err(notarium_core::Error::InvalidField("entries", "empty batch".into()).into());
        }
        let single = entries.len() == 1;
        entries
            .into_iter()
            .enumerate()
            .map(|(position, e)| {
                Draft::build(self.shared.name.as_str(), e).map_err(|e| match e {
                    Error::Invalid(source) if !single => Error::InvalidEntry { position, source },
                    other => other,
                })
            })
            .collect()
    }

    /// Appends `entries` (all-or-nothing), blocking until they are durable, and returns a
    /// receipt for each, covered by the checkpoint of their batch.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::InvalidEntry`] or [`Error::Conflict`] for a bad entry
    /// (nothing is appended); [`Error::Unavailable`] when the commit failed (nothing is
    /// appended).
    pub fn append(&self, entries: Vec<NewEntry>) -> Result<Vec<Receipt>, Error> {
        let (tx, rx) = mpsc::channel();
        self.append_with(entries, move |r| {
            let _ = tx.send(r);
        });
        let appended = rx
            .recv()
            .map_err(|_| Error::Unavailable("the writer stopped".into()))??;
        match self.receipts_from_memory(&appended) {
            Some(receipts) => Ok(receipts),
            None => self.receipts(&appended),
        }
    }

    /// Stops accepting appends, finishes every queued batch and waits for the writer.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.close();
    }
}
