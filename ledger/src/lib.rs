//! Notarium's embedded ledger (DESIGN.md §2): an append-only RFC 6962 log of entries in one
//! SQLite file, its hashes stored as C2SP tlog-tiles, with a group-commit sequencer, signed
//! checkpoints, proofs, secondary indexes and an offline audit.
//!
//! Use it as a library ([`Ledger::open`], [`Ledger::append`], [`Ledger::get`],
//! [`Ledger::prove_inclusion`], [`Ledger::prove_consistency`], [`Ledger::checkpoint`]) or
//! behind `notariumd`. Out of scope: HTTP, authentication of callers (the caller says who the
//! signer is), and anything that needs the whole tree in memory: the ledger keeps only the
//! right edge of the tree (O(log n) tiles) and reads everything else from SQLite.
//!
//! Threads: one writer thread per ledger owns the only write connection; readers use a small
//! pool of read-only connections on the WAL and never block the writer.

#![forbid(unsafe_code)]

mod audit;
mod read;
mod store;
mod tiles;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use rusqlite::Connection;

use notarium_core::merkle::{self, NodeSource};
use notarium_core::{
    ArtifactRequest, Hash, LeafIndex, LedgerName, Origin, Receipt, Role, SignedCheckpoint,
    SignerKey, TreeSize, VerifierKey,
};

pub use audit::{audit, AuditFinding, AuditReport, FindingKind};
pub use read::{Authentication, Page, SearchQuery};

use tiles::{locate, TileCache, TileTree};

/// Everything the ledger can fail with. Callers act on the variant: bad input and
/// `NotFound`/`Conflict` are the caller's; `Storage`, `Io` and `Corrupt` are the operator's.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that violates a format or limit (from `core`).
    #[error(transparent)]
    Invalid(#[from] notarium_core::Error),
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
    /// A file operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The ledger is shutting down or its writer stopped after a storage failure.
    #[error("ledger is not accepting writes: {0}")]
    Unavailable(String),
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
    /// A signing key to use when the ledger is created (otherwise one is generated).
    pub signer: Option<SignerKey>,
    /// Most entries committed in one batch.
    pub max_batch: usize,
    /// Read-only connections kept for readers.
    pub readers: usize,
    /// Full tiles cached in memory (16 KiB each).
    pub tile_cache: usize,
    /// Called after every commit.
    pub on_commit: Option<CommitObserver>,
}

impl LedgerOptions {
    /// Defaults for a ledger: FULL durability, batches of up to 4,096 entries.
    pub fn new(name: LedgerName, origin: Origin) -> Self {
        LedgerOptions {
            name,
            origin,
            durability: Durability::Full,
            signer: None,
            max_batch: 4096,
            readers: 4,
            tile_cache: 1024,
            on_commit: None,
        }
    }
}

impl std::fmt::Debug for LedgerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerOptions")
            .field("name", &self.name)
            .field("origin", &self.origin)
            .field("durability", &self.durability)
            .field("signer", &self.signer.as_ref().map(|_| "<redacted>"))
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

/// One entry to append. The ledger sets `ledger`, `time`, `type` and `v` itself.
#[derive(Clone, Debug)]
pub enum NewEntry {
    /// A notarization or status change, signed by the API key `signer`.
    Artifact {
        /// What the caller asked for.
        request: ArtifactRequest,
        /// The id of the key that asked.
        signer: String,
    },
    /// A new API key. `credential` is the SHA-256 of the secret; it is stored beside the
    /// ledger, never in the entry.
    KeyCreated {
        /// Public key id.
        id: String,
        /// Human name.
        name: String,
        /// Role.
        role: Role,
        /// Who created it.
        signer: String,
        /// SHA-256 of the bearer secret.
        credential: [u8; 32],
    },
    /// Revokes an API key; its notarizations then authenticate as `revoked`.
    KeyRevoked {
        /// The key id.
        id: String,
        /// Who revoked it.
        signer: String,
    },
    /// Opaque bytes (imports and interoperability tests): logged and proven, not indexed.
    Opaque(Vec<u8>),
}

/// An API key as the ledger records it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyRecord {
    /// Public id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Index of its `created` entry.
    pub created_index: u64,
    /// Index of its `revoked` entry, if revoked.
    pub revoked_index: Option<u64>,
}

/// The state readers see: a signed checkpoint and the right-most tile of each level.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub checkpoint: SignedCheckpoint,
    pub right: Vec<Arc<TileTree>>,
}

impl Snapshot {
    pub fn size(&self) -> u64 {
        self.checkpoint.size().0
    }
}

/// Counters since open.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct LedgerStats {
    /// Current tree size.
    pub size: u64,
    /// Batches committed since open.
    pub batches: u64,
    /// Entries appended since open.
    pub entries: u64,
}

/// Read-only connections: the idle ones, and how many exist in all.
#[derive(Default)]
pub(crate) struct ReaderPool {
    idle: Vec<Connection>,
    open: usize,
}

pub(crate) struct Shared {
    name: LedgerName,
    origin: Origin,
    verifier: VerifierKey,
    /// `verifier` as text, once: every receipt carries it.
    verifier_text: String,
    db_path: PathBuf,
    snapshot: RwLock<Arc<Snapshot>>,
    cache: Mutex<TileCache>,
    readers: Mutex<ReaderPool>,
    /// Signalled when a reader connection is returned to the pool.
    reader_free: std::sync::Condvar,
    max_readers: usize,
    batches: AtomicU64,
    entries: AtomicU64,
}

impl Shared {
    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs `f` with a pooled read-only connection. At most `max_readers` connections exist;
    /// when all are busy the caller waits for one, rather than opening a cold connection whose
    /// page cache would be thrown away after one query.
    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T, Error>) -> Result<T, Error> {
        let conn = {
            let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(c) = pool.idle.pop() {
                    break c;
                }
                if pool.open < self.max_readers {
                    pool.open += 1;
                    drop(pool);
                    match store::open_reader(&self.db_path) {
                        Ok(c) => break c,
                        Err(e) => {
                            self.readers.lock().unwrap_or_else(|e| e.into_inner()).open -= 1;
                            self.reader_free.notify_one();
                            return Err(e);
                        }
                    }
                }
                pool = self
                    .reader_free
                    .wait(pool)
                    .unwrap_or_else(|e| e.into_inner());
            }
        };
        let out = f(&conn);
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .idle
            .push(conn);
        self.reader_free.notify_one();
        out
    }

    /// A full tile, from the cache or the database.
    fn full_tile(&self, conn: &Connection, level: u8, index: u64) -> Result<Arc<TileTree>, Error> {
        if let Some(t) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(level, index)
        {
            return Ok(t);
        }
        let bytes = read::tile_bytes(conn, level, index)?
            .ok_or_else(|| Error::Corrupt(format!("tile {level}/{index} is missing")))?;
        let tile = TileTree::from_bytes(level, index, &bytes)?;
        if !tile.is_full() {
            return Err(Error::Corrupt(format!(
                "tile {level}/{index} should be full but holds {} hashes",
                tile.width()
            )));
        }
        let tile = Arc::new(tile);
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tile.clone());
        Ok(tile)
    }
}

/// Node lookups for one snapshot: right-edge tiles from the snapshot, full tiles from the
/// cache or the database.
pub(crate) struct View<'a> {
    shared: &'a Shared,
    snap: &'a Snapshot,
    conn: &'a Connection,
}

impl NodeSource for View<'_> {
    type Error = Error;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        let (tl, t, r, pos) = locate(level, index);
        let missing = || Error::Corrupt(format!("tree node {level}/{index} is not in its tile"));
        if let Some(right) = self.snap.right.get(tl as usize) {
            if right.index == t {
                return right.node(r, pos).ok_or_else(missing);
            }
            if t > right.index {
                return Err(missing());
            }
        }
        self.shared
            .full_tile(self.conn, tl, t)?
            .node(r, pos)
            .ok_or_else(missing)
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
    tx: Mutex<Option<mpsc::Sender<writer::Request>>>,
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
        let db_path = dir.join(store::DB_FILE);
        let conn = store::open_writer(&db_path, options.durability)?;
        let is_new = store::get_meta(&conn, "origin")?.is_none();
        if let Some(stored) = store::get_meta(&conn, "origin")? {
            if stored != options.origin.as_str() {
                return Err(Error::Config(format!(
                    "ledger in {} has origin {stored:?}, not {:?}",
                    dir.display(),
                    options.origin.as_str()
                )));
            }
        }
        if let Some(stored) = store::get_meta(&conn, "name")? {
            if stored != options.name.as_str() {
                return Err(Error::Config(format!(
                    "ledger in {} is named {stored:?}, not {:?}",
                    dir.display(),
                    options.name.as_str()
                )));
            }
        }
        let key = store::load_or_create_key(
            dir,
            options.origin.as_str(),
            options.signer.as_ref(),
            is_new,
        )?;
        let state = writer::State::load(&conn, &options, key, is_new)?;
        let snapshot = Arc::new(state.snapshot());
        let shared = Arc::new(Shared {
            name: options.name.clone(),
            origin: options.origin.clone(),
            verifier: state.verifier(),
            verifier_text: state.verifier().to_string(),
            db_path,
            snapshot: RwLock::new(snapshot),
            cache: Mutex::new(TileCache::new(options.tile_cache)),
            readers: Mutex::new(ReaderPool::default()),
            reader_free: std::sync::Condvar::new(),
            max_readers: options.readers.max(1),
            batches: AtomicU64::new(0),
            entries: AtomicU64::new(0),
        });
        let (tx, rx) = mpsc::channel();
        let handle = writer::spawn(conn, state, shared.clone(), rx, options)?;
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

    /// Counters since open.
    pub fn stats(&self) -> LedgerStats {
        LedgerStats {
            size: self.size(),
            batches: self.shared.batches.load(Ordering::Relaxed),
            entries: self.shared.entries.load(Ordering::Relaxed),
        }
    }

    /// Queues `entries` (all-or-nothing) and calls `done` once they are durable, or failed.
    /// `done` runs on the writer thread: keep it short (send on a channel).
    pub fn append_with(
        &self,
        entries: Vec<NewEntry>,
        done: impl FnOnce(Result<Appended, Error>) + Send + 'static,
    ) {
        let req = writer::Request {
            entries,
            done: Box::new(done),
        };
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match tx {
            Some(tx) => {
                if let Err(mpsc::SendError(req)) = tx.send(req) {
                    (req.done)(Err(Error::Unavailable("the writer has stopped".into())));
                }
            }
            None => (req.done)(Err(Error::Unavailable("the ledger is closed".into()))),
        }
    }

    /// Appends `entries` (all-or-nothing), blocking until they are durable, and returns a
    /// receipt for each, covered by the checkpoint of their batch.
    ///
    /// # Errors
    /// [`Error::Invalid`] or [`Error::Conflict`] for a bad entry (nothing is appended);
    /// [`Error::Storage`] when the commit failed (nothing is appended).
    pub fn append(&self, entries: Vec<NewEntry>) -> Result<Vec<Receipt>, Error> {
        let (tx, rx) = mpsc::channel();
        self.append_with(entries, move |r| {
            let _ = tx.send(r);
        });
        let appended = rx
            .recv()
            .map_err(|_| Error::Unavailable("the writer stopped".into()))??;
        self.receipts(&appended)
    }

    /// Receipts for appended entries, with inclusion proofs in their batch's checkpoint.
    ///
    /// # Errors
    /// Storage errors while reading tiles.
    pub fn receipts(&self, appended: &Appended) -> Result<Vec<Receipt>, Error> {
        let snap = &appended.snapshot;
        self.shared.with_reader(|conn| {
            let view = View {
                shared: &self.shared,
                snap,
                conn,
            };
            appended
                .leaves
                .iter()
                .enumerate()
                .map(|(i, leaf)| self.build_receipt(&view, appended.first_index + i as u64, leaf))
                .collect()
        })
    }

    fn build_receipt(&self, view: &View<'_>, index: u64, leaf: &[u8]) -> Result<Receipt, Error> {
        self.build_receipt_in(view, index, leaf, &view.snap.checkpoint)
    }

    /// A receipt proven against `checkpoint`, which must not be larger than the view's.
    fn build_receipt_in(
        &self,
        view: &View<'_>,
        index: u64,
        leaf: &[u8],
        checkpoint: &SignedCheckpoint,
    ) -> Result<Receipt, Error> {
        use base64::Engine;
        let proof = merkle::inclusion_proof(view, LeafIndex(index), checkpoint.size())?;
        Ok(Receipt {
            ledger: self.shared.name.to_string(),
            index,
            entry: serde_json::from_slice(leaf).unwrap_or(serde_json::Value::Null),
            leaf: base64::engine::general_purpose::STANDARD.encode(leaf),
            leaf_hash: notarium_core::leaf_hash(leaf),
            checkpoint: checkpoint.note().to_owned(),
            inclusion_proof: proof,
            verifier_key: self.shared.verifier_text.clone(),
        })
    }

    /// Runs `f` against the latest snapshot with a reader connection.
    fn read<T>(&self, f: impl FnOnce(&View<'_>) -> Result<T, Error>) -> Result<T, Error> {
        let snap = self.shared.snapshot();
        self.shared.with_reader(|conn| {
            f(&View {
                shared: &self.shared,
                snap: &snap,
                conn,
            })
        })
    }

    /// The receipt of entry `index` in the latest checkpoint.
    ///
    /// # Errors
    /// [`Error::NotFound`] past the end of the tree.
    pub fn get(&self, index: u64) -> Result<Receipt, Error> {
        self.read(|view| {
            if index >= view.snap.size() {
                return Err(Error::NotFound(format!(
                    "entry {index} (the ledger has {} entries)",
                    view.snap.size()
                )));
            }
            let leaf = read::entry_bytes(view.conn, index)?;
            self.build_receipt(view, index, &leaf)
        })
    }

    /// The inclusion proof of `index` in the tree of `size` leaves (`size` ≤ current size).
    ///
    /// # Errors
    /// [`Error::NotFound`] when `size` exceeds the tree; [`Error::Invalid`] when
    /// `index >= size`.
    pub fn prove_inclusion(&self, index: u64, size: u64) -> Result<Vec<Hash>, Error> {
        self.read(|view| {
            check_size(view.snap, size)?;
            merkle::inclusion_proof(view, LeafIndex(index), TreeSize(size))
        })
    }

    /// The consistency proof from the tree of `from` leaves to the tree of `to` leaves.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `to` exceeds the tree; [`Error::Invalid`] when `from > to`.
    pub fn prove_consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>, Error> {
        self.read(|view| {
            check_size(view.snap, to)?;
            merkle::consistency_proof(view, TreeSize(from), TreeSize(to))
        })
    }

    /// The root of the tree of `size` leaves.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `size` exceeds the tree.
    pub fn root_at(&self, size: u64) -> Result<Hash, Error> {
        self.read(|view| {
            check_size(view.snap, size)?;
            merkle::root(view, TreeSize(size))
        })
    }

    /// The signed checkpoint of exactly `size`, if the ledger signed one.
    ///
    /// # Errors
    /// Storage errors.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<SignedCheckpoint>, Error> {
        let latest = self.checkpoint();
        if size > latest.size().0 {
            return Ok(None);
        }
        self.shared
            .with_reader(|conn| read::checkpoint_at(conn, &self.shared.verifier, size))
    }

    /// The receipts of entries `start..end`, proven against `checkpoint` (an older signed
    /// checkpoint of this ledger, e.g. from [`Ledger::checkpoint_at`]) instead of the latest.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `checkpoint` is larger than the tree; [`Error::Invalid`] unless
    /// `start <= end <= checkpoint size`.
    pub fn receipts_in(
        &self,
        start: u64,
        end: u64,
        checkpoint: &SignedCheckpoint,
    ) -> Result<Vec<Receipt>, Error> {
        self.read(|view| {
            let size = checkpoint.size().0;
            check_size(view.snap, size)?;
            if start > end || end > size {
                return Err(notarium_core::Error::IndexOutOfRange { index: end, size }.into());
            }
            read::entry_range(view.conn, start, end)?
                .iter()
                .enumerate()
                .map(|(i, leaf)| self.build_receipt_in(view, start + i as u64, leaf, checkpoint))
                .collect()
        })
    }

    /// The index of the first entry sequenced at or after `time`, or the tree size when there
    /// is none. Entry times never decrease with the index (the sequencer's clock is monotone
    /// and a batch shares one time), so the entries sequenced in `[t1, t2)` are exactly the
    /// indexes `index_at(t1)..index_at(t2)`, and both ends are sizes with a signed checkpoint.
    ///
    /// # Errors
    /// Storage errors.
    pub fn index_at(&self, time: notarium_core::Timestamp) -> Result<u64, Error> {
        self.read(|view| {
            let size = view.snap.size();
            let found = read::first_index_at(view.conn, time.0)?;
            Ok(found.map_or(size, |i| i.min(size)))
        })
    }

    /// A C2SP hash tile (`width` 1–256), byte-exact. Partial widths are served for any
    /// width the right-most tile has reached; full tiles only once full.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the tree has no such tile.
    pub fn tile(&self, level: u8, index: u64, width: u16) -> Result<Vec<u8>, Error> {
        self.read(|view| {
            let (full, partial) = notarium_core::tiles::tiles_at_level(view.snap.size(), level);
            let available = if index < full {
                256
            } else if index == full {
                partial
            } else {
                0
            };
            if width == 0 || width > available {
                return Err(Error::NotFound(format!(
                    "tile {level}/{index} of width {width}"
                )));
            }
            if let Some(right) = view.snap.right.get(level as usize) {
                if right.index == index {
                    return Ok(right.bytes(width as usize));
                }
            }
            Ok(view
                .shared
                .full_tile(view.conn, level, index)?
                .bytes(width as usize))
        })
    }

    /// A C2SP entry bundle of `width` entries (1–256) starting at entry `index · 256`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the tree has fewer entries.
    pub fn entry_bundle(&self, index: u64, width: u16) -> Result<Vec<u8>, Error> {
        self.read(|view| {
            let size = view.snap.size();
            let start = index
                .checked_mul(256)
                .ok_or_else(|| Error::NotFound("bundle".into()))?;
            let end = start + u64::from(width);
            if width == 0 || end > size {
                return Err(Error::NotFound(format!(
                    "entry bundle {index} of width {width}"
                )));
            }
            let leaves = read::entry_range(view.conn, start, end)?;
            Ok(notarium_core::tiles::encode_bundle(
                leaves.iter().map(Vec::as_slice),
            )?)
        })
    }

    /// Authenticates `sha256`: the status decided by its latest entry (optionally only from
    /// `signers`), honouring key revocations, with receipts.
    ///
    /// # Errors
    /// Storage errors.
    pub fn authenticate(
        &self,
        sha256: &notarium_core::Sha256,
        signers: &[String],
    ) -> Result<Authentication, Error> {
        self.read(|view| read::authenticate(self, view, sha256, signers))
    }

    /// Authenticates many hashes against one checkpoint.
    ///
    /// # Errors
    /// Storage errors.
    pub fn authenticate_many(
        &self,
        hashes: &[notarium_core::Sha256],
        signers: &[String],
    ) -> Result<(SignedCheckpoint, Vec<Authentication>), Error> {
        self.read(|view| {
            let answers = hashes
                .iter()
                .map(|h| read::authenticate(self, view, h, signers))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((view.snap.checkpoint.clone(), answers))
        })
    }

    /// Every entry for `sha256`, oldest first, after index `after`, at most `limit`.
    ///
    /// # Errors
    /// Storage errors.
    pub fn history(
        &self,
        sha256: &notarium_core::Sha256,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page, Error> {
        let q = SearchQuery {
            sha256: Some(*sha256),
            after,
            limit,
            ..SearchQuery::default()
        };
        self.search(&q)
    }

    /// Searches entries by the query's filters, oldest first, paginated by index.
    ///
    /// # Errors
    /// Storage errors.
    pub fn search(&self, query: &SearchQuery) -> Result<Page, Error> {
        self.read(|view| read::search(self, view, query))
    }

    /// The API key whose secret hashes to `credential`.
    ///
    /// # Errors
    /// Storage errors.
    pub fn find_credential(&self, credential: &[u8; 32]) -> Result<Option<KeyRecord>, Error> {
        self.shared
            .with_reader(|conn| read::find_credential(conn, credential))
    }

    /// Every API key of this ledger, oldest first.
    ///
    /// # Errors
    /// Storage errors.
    pub fn keys(&self) -> Result<Vec<KeyRecord>, Error> {
        self.shared.with_reader(read::keys)
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

fn check_size(snap: &Snapshot, size: u64) -> Result<(), Error> {
    if size > snap.size() {
        return Err(Error::NotFound(format!(
            "tree size {size} (the ledger has {} entries)",
            snap.size()
        )));
    }
    Ok(())
}
