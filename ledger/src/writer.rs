//! The sequencer: one thread per ledger that owns the write connection, takes queued appends,
//! commits them in batches (group commit) and only then answers every caller in the batch.
//!
//! It does only what must be serial: check key changes against the stored keys, assign
//! indices and the batch's time, finish the entries (their bytes were built and size-checked,
//! and their leaf hashes taken up to the time, by the callers: see [`crate::entries`]), append
//! leaf hashes to the right edge, extend the status index, sign the checkpoint and commit. It
//! reaches storage only through [`crate::store::Writer`]. A second thread, the recorder, makes
//! the record of each signed checkpoint durable ([`crate::signer`]), publishes the batch and
//! answers its callers, while the sequencer already commits the next batch: the two syncs of a
//! batch overlap those of its neighbours instead of adding up.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use notarium_core::api::Key;
use notarium_core::entry::{KeyEntry, ENTRY_VERSION};
use notarium_core::{
    leaf_hash, Checkpoint, Entry, KeyAction, LedgerName, Origin, Role, SignedCheckpoint, SignerKey,
    Timestamp, TreeSize, UnverifiedCheckpoint, VerifierKey,
};

use crate::entries::{Draft, KeyChange};
use crate::signer::SignedRecord;
use crate::store::Writer as Store;
use crate::tiles::{EdgeChanges, StoredTiles, TileEdge, TileTree};
use crate::{Appended, CommitInfo, CommitObserver, Error, Shared, Snapshot};

pub(crate) type Done = Box<dyn FnOnce(Result<Appended, Error>) + Send>;

/// One caller's entries, appended all-or-nothing.
pub(crate) struct Request {
    pub drafts: Vec<Draft>,
    pub done: Done,
}

/// An attested checkpoint and the snapshot of the same tree.
pub(crate) type Attested = (SignedCheckpoint, Arc<Snapshot>);

/// What the sequencer is asked: to append, or to attest its latest tree with the time.
pub(crate) enum Msg {
    Append(Request),
    /// Answered with the attested checkpoint and its snapshot.
    Attest(Box<dyn FnOnce(Result<Attested, Error>) + Send>),
}

/// What only the writer knows: the right edge of the tree, the status index's root and the
/// signing key.
pub(crate) struct State {
    ledger: LedgerName,
    origin: Origin,
    key: SignerKey,
    edge: TileEdge,
    /// The version of the status index's root node (`None`: the empty index).
    index_root: Option<u64>,
    /// Whether the ledger keeps the status index (see `LedgerOptions::status_index`).
    indexed: bool,
    checkpoint: SignedCheckpoint,
    last_time_us: i64,
}

impl State {
    /// Loads the right edge in O(log n) and checks it against the latest signed checkpoint, the
    /// last entry and the record of the latest checkpoint ever signed (kept outside storage);
    /// a new ledger is given its first, empty checkpoint.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when the stored checkpoint, tiles and entries disagree, or storage is
    /// behind or beside what was signed (lost, restored from an older copy, another ledger).
    pub fn load(
        store: &mut dyn Store,
        ledger: &LedgerName,
        origin: &Origin,
        key: SignerKey,
        is_new: bool,
        indexed: bool,
        record: &mut SignedRecord,
    ) -> Result<State, Error> {
        let mut state = Self::load_stored(store, ledger, origin, key, is_new, indexed)?;
        state.check_record(store, record)?;
        if indexed && state.checkpoint.checkpoint().index_root()?.is_none() {
            state.build_index(store, record)?;
        }
        Ok(state)
    }

    /// Gives a ledger written before the status index existed its index, and re-signs its
    /// latest checkpoint over the same tree with the index line, so that answers can be proven
    /// complete before the next commit.
    fn build_index(
        &mut self,
        store: &mut dyn Store,
        record: &mut SignedRecord,
    ) -> Result<(), Error> {
        let size = self.edge.size();
        let started = Instant::now();
        tracing::info!(ledger = %self.ledger, entries = size,
            "building the status index of a ledger written before it existed (once)");
        let root = crate::index::build(store, size, |done, total| {
            if done < total {
                tracing::info!(ledger = %self.ledger, done, total, "building the status index");
            }
        })?;
        let root_hash = crate::index::root_hash(store.reads(), root)?;
        let mut body = self.checkpoint.checkpoint().clone();
        body.set_index_root(&root_hash);
        let checkpoint = body.sign(&self.key)?;
        let mut tx = store.begin()?;
        tx.resign_checkpoint(size, checkpoint.note(), root)?;
        tx.commit()?;
        record.record(&checkpoint)?;
        self.index_root = root;
        self.checkpoint = checkpoint;
        tracing::info!(ledger = %self.ledger, entries = size,
            seconds = started.elapsed().as_secs_f64(), "status index built");
        Ok(())
    }

    /// Holds storage against the record of what was signed, and brings the record up to the
    /// stored checkpoint (a crash can fall between a commit and its record).
    fn check_record(&self, store: &mut dyn Store, record: &mut SignedRecord) -> Result<(), Error> {
        const RECORDED: &str = "signed_record";
        let verifier = self.key.verifier();
        let Some(signed) = record.latest(&verifier)? else {
            if store.reads().meta(RECORDED)?.is_some() {
                return Err(Error::Corrupt(format!(
                    "the record of the latest signed checkpoint ({}) is missing: it may have \
                     been deleted together with newer data. Restore it from a backup with the \
                     database; without it this ledger cannot tell a rolled-back database \
                     from a whole one. (On a database that several instances share, each \
                     keeps its own record: a new instance starts from a copy of another's \
                     ledger directory, key and record together.)",
                    record.path().display()
                )));
            }
            // First open by a version that keeps the record.
            record.record(&self.checkpoint)?;
            store.set_meta(RECORDED, "v1")?;
            return Ok(());
        };
        let (stored, signed_size) = (self.edge.size(), signed.size().0);
        if stored < signed_size {
            return Err(Error::Corrupt(format!(
                "storage holds {stored} entries but this ledger signed a checkpoint of \
                 {signed_size} (recorded in {}): the database was restored from an older copy, \
                 or its write-ahead log was lost, and entries {stored}..{signed_size} that \
                 clients were answered about are gone. Continuing would sign a fork. Restore \
                 a copy that holds at least {signed_size} entries (`notariumd backup` makes \
                 one), or retire this ledger and create a new one",
                record.path().display()
            )));
        }
        let root = notarium_core::merkle::root(&StoredTiles(store.reads()), signed.size())?;
        if root != signed.root() {
            return Err(Error::Corrupt(format!(
                "storage disagrees with the checkpoint of size {signed_size} this ledger signed \
                 (recorded in {}): the database is another ledger's, or was rewritten. Serving \
                 it would sign a fork. Restore this ledger's own database",
                record.path().display()
            )));
        }
        if stored > signed_size {
            record.record(&self.checkpoint)?;
        }
        Ok(())
    }

    fn load_stored(
        store: &mut dyn Store,
        ledger: &LedgerName,
        origin: &Origin,
        key: SignerKey,
        is_new: bool,
        indexed: bool,
    ) -> Result<State, Error> {
        let mut empty = Checkpoint {
            origin: origin.clone(),
            size: TreeSize(0),
            root: notarium_core::hash::empty_root(),
            extensions: vec![],
        };
        if indexed {
            empty.set_index_root(&notarium_core::index::EMPTY);
        }
        let empty = empty.sign(&key)?;
        let Some((size, note)) = store.reads().latest_checkpoint()? else {
            if !is_new {
                return Err(Error::Corrupt("the ledger has no checkpoint".into()));
            }
            store.create(ledger.as_str(), origin.as_str(), empty.note())?;
            return Ok(State {
                ledger: ledger.clone(),
                origin: origin.clone(),
                key,
                edge: TileEdge::default(),
                index_root: None,
                indexed,
                checkpoint: empty,
                last_time_us: 0,
            });
        };
        let checkpoint = UnverifiedCheckpoint::parse(&note)
            .and_then(|c| c.verify(&key.verifier()))
            .map_err(|e| Error::Corrupt(format!("latest checkpoint (size {size}): {e}")))?;
        if checkpoint.size().0 != size {
            return Err(Error::Corrupt(format!(
                "checkpoint row {size} holds size {}",
                checkpoint.size()
            )));
        }
        let last = store.reads().last_entry()?;
        let entries = last.as_ref().map_or(0, |(i, _, _)| i + 1);
        if entries != size {
            return Err(Error::Corrupt(format!(
                "{entries} entries stored but the latest checkpoint covers {size}"
            )));
        }
        let edge = TileEdge::load(store.reads(), size)?;
        let root = edge.root()?;
        if root != checkpoint.root() {
            return Err(Error::Corrupt(format!(
                "stored tiles give root {root} at size {size}, the signed checkpoint says {}",
                checkpoint.root()
            )));
        }
        let mut last_time_us = 0;
        if let Some((index, data, time_us)) = last {
            let stored = match edge.last_leaf() {
                Some(h) => Some(h),
                // The last tile of level 0 is full: the leaf is its last hash.
                None => store
                    .reads()
                    .tile(0, index / 256)?
                    .and_then(|b| TileTree::from_bytes(0, index / 256, &b).ok())
                    .and_then(|t| t.stored(255)),
            };
            if stored != Some(leaf_hash(&data)) {
                return Err(Error::Corrupt(format!(
                    "the last entry ({index}) does not match its hash in the tiles"
                )));
            }
            last_time_us = time_us.unwrap_or(0);
        }
        // The stored index must be the one the checkpoint commits to.
        let index_root = store.reads().index_version(size)?;
        if let Some(committed) = checkpoint.checkpoint().index_root()? {
            let stored = crate::index::root_hash(store.reads(), index_root)?;
            if stored != committed {
                return Err(Error::Corrupt(format!(
                    "the stored status index has root {stored}, the signed checkpoint of size \
                     {size} commits to {committed}"
                )));
            }
        }
        Ok(State {
            ledger: ledger.clone(),
            origin: origin.clone(),
            key,
            edge,
            index_root,
            indexed,
            checkpoint,
            last_time_us,
        })
    }

    pub fn verifier(&self) -> VerifierKey {
        self.key.verifier()
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            checkpoint: self.checkpoint.clone(),
            edge: self.edge.clone(),
            index_root: self.index_root,
        }
    }
}

/// How the sequencer runs, from the ledger's options.
pub(crate) struct Settings {
    /// Most entries committed in one batch.
    pub max_batch: usize,
    /// Called after every commit.
    pub on_commit: Option<CommitObserver>,
    /// The time source (`None`: the system clock).
    pub clock: Option<fn() -> i64>,
}

pub(crate) fn spawn(
    store: Box<dyn Store>,
    state: State,
    record: SignedRecord,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Msg>,
    settings: Settings,
) -> Result<std::thread::JoinHandle<()>, Error> {
    let name = format!("ledger-{}", state.ledger);
    let record = Arc::new(Mutex::new(record));
    let record_failed = Arc::new(Mutex::new(None));
    let (to_recorder, pending) = mpsc::channel();
    let recorder = {
        let (record, shared, failed) = (record.clone(), shared.clone(), record_failed.clone());
        std::thread::Builder::new()
            .name(format!("record-{}", state.ledger))
            .spawn(move || record_and_answer(&record, &shared, &failed, &pending))?
    };
    let writer = Writer {
        store,
        state,
        record,
        recorder: Some((to_recorder, recorder)),
        record_failed,
        index_cache: std::cell::RefCell::default(),
        shared,
        max_batch: settings.max_batch.max(1),
        on_commit: settings.on_commit,
        clock: settings.clock.unwrap_or(system_time_us),
        failed: None,
    };
    Ok(std::thread::Builder::new()
        .name(name)
        .spawn(move || writer.run(rx))?)
}

/// The system clock in microseconds since the Unix epoch (0 before it).
fn system_time_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// A committed batch on its way to its callers: what the recorder must make durable in the
/// record, publish, and answer.
struct Committed {
    checkpoint: SignedCheckpoint,
    snapshot: Arc<Snapshot>,
    completed: Vec<Arc<TileTree>>,
    /// Each caller with its part of the batch (as in [`Written`]).
    answers: Vec<(Done, Leaves)>,
}

/// One caller's part of a batch: the index of its first entry and its entries' bytes.
type Leaves = (u64, Vec<Vec<u8>>);

/// The recorder thread: records the newest committed checkpoint (one `fdatasync` for every
/// batch that committed meanwhile), then publishes each batch's snapshot in commit order and
/// answers its callers. It runs beside the sequencer, so that the record's sync of batch `n`
/// overlaps the commit of batch `n + 1`: nobody is answered, and no reader sees a checkpoint,
/// before both the commit and the record that covers it are durable. A database ahead of the
/// record (a crash between the two) is what `State::load` accepts; never the reverse.
fn record_and_answer(
    record: &Mutex<SignedRecord>,
    shared: &Shared,
    failed: &Mutex<Option<String>>,
    pending: &mpsc::Receiver<Committed>,
) {
    while let Ok(first) = pending.recv() {
        let mut batches = vec![first];
        while let Ok(more) = pending.try_recv() {
            batches.push(more);
        }
        let newest = &batches[batches.len() - 1].checkpoint;
        let mut why = failed.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if why.is_none() {
            let recorded = record
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .record(newest);
            if let Err(e) = recorded {
                let msg = format!(
                    "the ledger stopped writing: the record of the signed checkpoint failed: {e}"
                );
                tracing::error!(error = %e, "recording the signed checkpoint failed; the ledger stops writing");
                shared.stopped(&msg);
                *failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(msg.clone());
                why = Some(msg);
            }
        }
        for b in batches {
            match &why {
                None => {
                    shared.publish(b.snapshot.clone(), b.completed);
                    for (done, (first_index, leaves)) in b.answers {
                        done(Ok(Appended {
                            first_index,
                            leaves,
                            snapshot: b.snapshot.clone(),
                        }));
                    }
                }
                Some(why) => {
                    for (done, _) in b.answers {
                        done(Err(Error::Unavailable(why.clone())));
                    }
                }
            }
        }
    }
}

struct Writer {
    store: Box<dyn Store>,
    state: State,
    /// The record of the latest signed checkpoint, written after each commit by the recorder
    /// (and read here when the state must be reloaded).
    record: Arc<Mutex<SignedRecord>>,
    /// The recorder thread and the way to it (taken when the writer stops).
    recorder: Option<(mpsc::Sender<Committed>, std::thread::JoinHandle<()>)>,
    /// Why the recorder failed, once it has: the writer then stops too.
    record_failed: Arc<Mutex<Option<String>>>,
    /// The status index's nodes near the root, as last committed.
    index_cache: std::cell::RefCell<crate::index::NodeCache>,
    shared: Arc<Shared>,
    max_batch: usize,
    on_commit: Option<CommitObserver>,
    /// Microseconds since the Unix epoch: the time written into the entries of a batch.
    clock: fn() -> i64,
    /// Set when a failed commit left a state that could not be reloaded: refuse further writes.
    failed: Option<String>,
}

/// The keys a batch creates and revokes, so that it cannot create a key twice or revoke one
/// that an earlier request of the same batch revoked.
#[derive(Default)]
struct KeyChanges {
    created: HashMap<String, (String, Role)>,
    revoked: HashSet<String>,
}

/// The entries of one batch: each request's index of its first entry and its entry bytes.
type Written = Vec<Leaves>;

/// Where a batch's time went (seconds), for [`CommitInfo`].
struct Timings {
    commit: f64,
    index: f64,
    rows: f64,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        while let Some(first) = self.next(&rx) {
            let (mut batch, mut attests) = (Vec::new(), Vec::new());
            let mut n = 0;
            let mut take = |msg: Msg, n: &mut usize| match msg {
                Msg::Append(req) => {
                    *n += req.drafts.len();
                    batch.push(req);
                }
                Msg::Attest(done) => attests.push(done),
            };
            take(first, &mut n);
            while n < self.max_batch {
                match rx.try_recv() {
                    Ok(msg) => take(msg, &mut n),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.commit_batch(batch);
            }
            // After the batch: an attestation covers what was appended before it was asked.
            for done in attests {
                done(self.attest());
            }
        }
        // Every committed batch recorded and answered before the store closes.
        if let Some((to_recorder, recorder)) = self.recorder.take() {
            drop(to_recorder);
            let _ = recorder.join();
        }
        if let Err(e) = self.store.close() {
            tracing::warn!(ledger = %self.state.ledger, error = %e, "closing the store failed");
        }
    }

    /// The next message, waiting for one. On a store that other processes share, the lease is
    /// handed over once nothing came for a short pause: they may have appends of their own.
    fn next(&mut self, rx: &mpsc::Receiver<Msg>) -> Option<Msg> {
        let Some(pause) = self.store.idle_pause() else {
            return rx.recv().ok();
        };
        match rx.recv_timeout(pause) {
            Ok(msg) => return Some(msg),
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Err(e) = self.store.hand_over() {
            tracing::warn!(ledger = %self.state.ledger, error = %e,
                "handing the sequencer lease over failed; it expires instead");
        }
        rx.recv().ok()
    }

    /// The state as storage holds it now, checked as on open (against the latest signed
    /// checkpoint and the record of what this process signed): after another process's
    /// appends, or a commit that failed late.
    fn stored_state(&mut self) -> Result<State, Error> {
        State::load(
            self.store.as_mut(),
            &self.state.ledger,
            &self.state.origin,
            self.state.key.clone(),
            false,
            self.state.indexed,
            &mut self.record.lock().unwrap_or_else(|e| e.into_inner()),
        )
    }

    /// Takes the store's lease before sequencing (only a store that several processes share
    /// has one), and when another process appended since this writer's last commit, reloads
    /// the state from storage — checked against the latest signed checkpoint and against what
    /// this process signed, as on open — before anything is signed on top of it.
    fn take_turn(&mut self) -> Result<(), Error> {
        if !self.store.take_turn()? {
            return Ok(());
        }
        let latest = self.store.reads().latest_checkpoint()?;
        if latest.is_some_and(|(_, note)| note == self.state.checkpoint.note()) {
            return Ok(());
        }
        self.state = self.stored_state()?;
        self.shared
            .publish(Arc::new(self.state.snapshot()), Vec::new());
        Ok(())
    }

    /// The latest committed tree's checkpoint, signed again with a `notarium-time/v1` line: the
    /// ledger's statement that at this time this tree is its latest (same size, same root,
    /// same index: consistent with every checkpoint it signed).
    fn attest(&mut self) -> Result<Attested, Error> {
        if let Some(why) = &self.failed {
            return Err(Error::Unavailable(why.clone()));
        }
        // Only the sequencer signs, and only what is the latest.
        self.take_turn()?;
        let seconds = u64::try_from((self.clock)() / 1_000_000).unwrap_or(0);
        // The published tree: recorded, and covering every append answered before this was
        // asked (a batch still with the recorder has answered nobody yet).
        let snapshot = self.shared.snapshot();
        let mut body = snapshot.checkpoint.checkpoint().clone();
        body.set_time(seconds);
        Ok((body.sign(&self.state.key)?, snapshot))
    }

    fn commit_batch(&mut self, batch: Vec<Request>) {
        if self.failed.is_none() {
            // The recorder stopped: so does the writer (it already said why).
            self.failed = self
                .record_failed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
        }
        if let Some(why) = &self.failed {
            for req in batch {
                (req.done)(Err(Error::Unavailable(why.clone())));
            }
            return;
        }
        let started = Instant::now();
        if let Err(e) = self.take_turn() {
            let msg = e.to_string();
            if let Error::Corrupt(_) = e {
                // Storage went behind what was signed, or disagrees with it: stop, as on open.
                tracing::error!(ledger = %self.state.ledger, error = %e,
                    "the ledger stops writing");
                let why = format!("the ledger stopped writing: {e}");
                self.shared.stopped(&why);
                self.failed = Some(why);
            } else {
                tracing::warn!(ledger = %self.state.ledger, error = %e,
                    "cannot take the sequencer lease; the batch is refused");
            }
            for req in batch {
                (req.done)(Err(Error::Unavailable(msg.clone())));
            }
            return;
        }
        let time_us = (self.clock)().max(self.state.last_time_us);
        // Key changes are checked against the stored keys: a request that fails is refused
        // alone, and the rest of the batch goes on.
        let mut keys = KeyChanges::default();
        let mut drafts = Vec::with_capacity(batch.len());
        let mut waiting = Vec::with_capacity(batch.len());
        for mut req in batch {
            match self.check_keys(&mut req.drafts, &mut keys) {
                Ok(()) => {
                    drafts.push(req.drafts);
                    waiting.push(req.done);
                }
                Err(e) => (req.done)(Err(e)),
            }
        }
        if drafts.is_empty() {
            return;
        }
        match self.write(drafts, time_us) {
            Ok((written, timings, completed)) => {
                self.state.last_time_us = time_us;
                let snapshot = Arc::new(self.state.snapshot());
                let count: usize = written.iter().map(|(_, l)| l.len()).sum();
                self.shared.counters.batches.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .counters
                    .entries
                    .fetch_add(count as u64, Ordering::Relaxed);
                if let Some(obs) = &self.on_commit {
                    obs(CommitInfo {
                        entries: count,
                        size: self.state.edge.size(),
                        commit_seconds: timings.commit,
                        index_seconds: timings.index,
                        rows_seconds: timings.rows,
                        batch_seconds: started.elapsed().as_secs_f64(),
                    });
                }
                // Recorded, published and answered by the recorder, while this thread goes on
                // with the next batch.
                let committed = Committed {
                    checkpoint: self.state.checkpoint.clone(),
                    snapshot,
                    completed,
                    answers: waiting.into_iter().zip(written).collect(),
                };
                if let Some((to_recorder, _)) = &self.recorder {
                    if let Err(mpsc::SendError(c)) = to_recorder.send(committed) {
                        for (done, _) in c.answers {
                            done(Err(Error::Unavailable("the recorder stopped".into())));
                        }
                    }
                }
            }
            Err(e @ (Error::Corrupt(_) | Error::Io(_))) => {
                // Storage was replaced under the writer, or what was signed could not be
                // recorded: no answer can promise what it must, so none is given from now on.
                tracing::error!(ledger = %self.state.ledger, error = %e,
                    "the ledger stops writing");
                let why = format!("the ledger stopped writing: {e}");
                self.shared.stopped(&why);
                self.failed = Some(why);
                let msg = e.to_string();
                for done in waiting {
                    done(Err(Error::Unavailable(msg.clone())));
                }
            }
            Err(e) => {
                tracing::error!(ledger = %self.state.ledger, error = %e,
                    "batch commit failed; nothing of it was appended");
                // The in-memory state was not touched, but a commit that failed late may have
                // reached the disk: bring the state back to what is stored (and hold that
                // against what was signed).
                let reload = self.stored_state();
                // Whatever the failed batch read stays valid (committed nodes only), but start
                // afresh with the reloaded state all the same.
                self.index_cache.take();
                match reload {
                    Ok(s) => self.state = s,
                    Err(re) => {
                        tracing::error!(ledger = %self.state.ledger, error = %re,
                            "cannot reload the ledger state; refusing writes");
                        let why = format!(
                            "storage failed and the ledger state could not be reloaded: {re}"
                        );
                        self.shared.stopped(&why);
                        self.failed = Some(why);
                    }
                }
                let msg = e.to_string();
                for done in waiting {
                    done(Err(Error::Unavailable(msg.clone())));
                }
            }
        }
    }

    /// Checks one request's key changes against the stored keys and the batch so far, and
    /// builds its revocation entries (which need the revoked key's name and role).
    fn check_keys(&self, drafts: &mut [Draft], batch: &mut KeyChanges) -> Result<(), Error> {
        let mut local = KeyChanges::default();
        for draft in drafts.iter_mut() {
            match draft.key.clone() {
                None => {}
                Some(KeyChange::Created { id, name, role, .. }) => {
                    let exists =
                        self.store.reads().key(&id)?.is_some() || batch.created.contains_key(&id);
                    if exists || local.created.insert(id.clone(), (name, role)).is_some() {
                        return Err(Error::Conflict(format!("key {id} already exists")));
                    }
                }
                Some(KeyChange::Revoked { id, signer }) => {
                    let (name, role) = match self.store.reads().key(&id)? {
                        Some(Key {
                            revoked_index: Some(_),
                            ..
                        }) => return Err(Error::Conflict(format!("key {id} is already revoked"))),
                        Some(k) => (k.name, k.role),
                        None => batch
                            .created
                            .get(&id)
                            .or_else(|| local.created.get(&id))
                            .cloned()
                            .ok_or_else(|| Error::NotFound(format!("key {id}")))?,
                    };
                    if batch.revoked.contains(&id) || !local.revoked.insert(id.clone()) {
                        return Err(Error::Conflict(format!("key {id} is already revoked")));
                    }
                    let key = draft.key.take();
                    *draft = Draft::of(&Entry::Key(KeyEntry {
                        v: ENTRY_VERSION,
                        ledger: self.state.ledger.to_string(),
                        action: KeyAction::Revoked,
                        id,
                        name,
                        role,
                        signer,
                        time: String::new(),
                        credential: None,
                    }))?;
                    draft.key = key;
                }
            }
        }
        batch.created.extend(local.created);
        batch.revoked.extend(local.revoked);
        Ok(())
    }

    /// Writes the batch in one transaction: entries, key rows, tiles, the signed checkpoint.
    /// The in-memory state changes only once the transaction has committed.
    fn write(
        &mut self,
        batch: Vec<Vec<Draft>>,
        time_us: i64,
    ) -> Result<(Written, Timings, Vec<Arc<TileTree>>), Error> {
        let time = Timestamp(time_us).to_string();
        let mut edge = self.state.edge.clone();
        let mut changes = EdgeChanges::default();
        let mut written = Vec::with_capacity(batch.len());
        // The status index: every key this batch's entries concern, extended in one pass
        // (read from committed nodes, before the transaction that writes the new ones).
        let mut keyed = Vec::new();
        let mut next = edge.size();
        for draft in batch.iter().flatten() {
            if let (Some(k), true) = (draft.index_key, self.state.indexed) {
                keyed.push((next, k));
            }
            next += 1;
        }
        let index_started = Instant::now();
        let applied = if keyed.is_empty() {
            None
        } else {
            Some(notarium_core::index::tree::apply_entries(
                &crate::index::CachedIndex {
                    store: self.store.reads(),
                    cache: &self.index_cache,
                },
                self.state.index_root,
                &keyed,
                next,
            )?)
        };
        let mut index_seconds = index_started.elapsed().as_secs_f64();
        self.store.check_in_place()?;
        let mut tx = self.store.begin()?;
        let rows_started = Instant::now();
        for drafts in batch {
            let first = edge.size();
            let mut leaves = Vec::with_capacity(drafts.len());
            for mut draft in drafts {
                debug_assert!(!draft.is_pending(), "revocations are built in check_keys");
                let index = edge.size();
                let key = draft.key.take();
                let (bytes, leaf, columns) = draft.finish(&time, time_us);
                tx.entry(index, &bytes, &columns)?;
                match key {
                    Some(KeyChange::Created {
                        id,
                        name,
                        role,
                        credential,
                    }) => {
                        let key = Key {
                            id,
                            name,
                            role,
                            created_index: index,
                            revoked_index: None,
                        };
                        tx.key_created(&key, &credential)?;
                    }
                    Some(KeyChange::Revoked { id, .. }) => tx.key_revoked(&id, index)?,
                    None => {}
                }
                edge.push(leaf, &mut changes);
                leaves.push(bytes);
            }
            written.push((first, leaves));
        }
        let rows_seconds = rows_started.elapsed().as_secs_f64();
        for tile in &changes.completed {
            tx.tile(tile.level, tile.index, &tile.bytes(256))?;
        }
        for level in 0..changes.levels {
            let tile = edge.tile(level as u8).expect("a touched level has a tile");
            if tile.width() > 0 {
                tx.tile(tile.level, tile.index, &tile.bytes(256))?;
            }
        }
        let size = edge.size();
        debug_assert_eq!(size, next);
        let mut index_root = self.state.index_root;
        let mut index_hash = None;
        if let Some(applied) = &applied {
            let nodes_started = Instant::now();
            for (key, node) in &applied.nodes {
                tx.index_node(key, node)?;
            }
            index_seconds += nodes_started.elapsed().as_secs_f64();
            index_root = Some(size);
            index_hash = Some(applied.root_hash);
        }
        let mut body = Checkpoint {
            origin: self.state.origin.clone(),
            size: TreeSize(size),
            root: edge.root()?,
            extensions: vec![],
        };
        if self.state.indexed {
            let index_hash = match index_hash {
                Some(h) => h,
                None => self
                    .state
                    .checkpoint
                    .checkpoint()
                    .index_root()?
                    .unwrap_or(notarium_core::index::EMPTY),
            };
            body.set_index_root(&index_hash);
        }
        let checkpoint = body.sign(&self.state.key)?;
        tx.checkpoint(size, checkpoint.note(), index_root)?;
        let commit_started = Instant::now();
        tx.commit()?;
        // Committed: the new nodes are what the next batch reads near the root. (Never before
        // the commit: a failed batch's versions are used again by the next one.)
        if let Some(applied) = &applied {
            let mut cache = self.index_cache.borrow_mut();
            for (key, node) in &applied.nodes {
                cache.put(key, node);
            }
        }
        // The record of this checkpoint is made durable by the recorder before anyone is
        // answered with it (see `record_and_answer` and `signer`).
        let commit_seconds = commit_started.elapsed().as_secs_f64();
        self.state.edge = edge;
        self.state.index_root = index_root;
        self.state.checkpoint = checkpoint;
        let timings = Timings {
            commit: commit_seconds,
            index: index_seconds,
            rows: rows_seconds,
        };
        Ok((written, timings, changes.completed))
    }
}
