//! The sequencer: one thread per ledger that owns the write connection, takes queued appends,
//! commits them in batches (group commit) and only then answers every caller in the batch.
//!
//! It does only what must be serial: check key changes against the stored keys, assign
//! indices and the batch's time, finish the entries (their bytes were built and size-checked
//! by the callers, see [`crate::entries`]), append leaf hashes to the right edge, sign the
//! checkpoint and commit. It reaches storage only through [`crate::store::Writer`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use notarium_core::api::Key;
use notarium_core::entry::{KeyEntry, ENTRY_VERSION};
use notarium_core::{
    leaf_hash, Checkpoint, Entry, KeyAction, LedgerName, Origin, Role, SignedCheckpoint, SignerKey,
    Timestamp, TreeSize, UnverifiedCheckpoint, VerifierKey,
};

use crate::entries::{Draft, KeyChange};
use crate::store::Writer as Store;
use crate::tiles::{EdgeChanges, TileEdge, TileTree};
use crate::{Appended, CommitInfo, CommitObserver, Error, Shared, Snapshot};

pub(crate) type Done = Box<dyn FnOnce(Result<Appended, Error>) + Send>;

/// One caller's entries, appended all-or-nothing.
pub(crate) struct Request {
    pub drafts: Vec<Draft>,
    pub done: Done,
}

/// What only the writer knows: the right edge of the tree and the signing key.
pub(crate) struct State {
    ledger: LedgerName,
    origin: Origin,
    key: SignerKey,
    edge: TileEdge,
    checkpoint: SignedCheckpoint,
    last_time_us: i64,
}

impl State {
    /// Loads the right edge in O(log n) and checks it against the latest signed checkpoint and
    /// the last entry; a new ledger is given its first, empty checkpoint.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when the stored checkpoint, tiles and entries disagree.
    pub fn load(
        store: &mut dyn Store,
        ledger: &LedgerName,
        origin: &Origin,
        key: SignerKey,
        is_new: bool,
    ) -> Result<State, Error> {
        let empty = Checkpoint {
            origin: origin.clone(),
            size: TreeSize(0),
            root: notarium_core::hash::empty_root(),
            extensions: vec![],
        }
        .sign(&key)?;
        let Some((size, note)) = store.latest_checkpoint()? else {
            if !is_new {
                return Err(Error::Corrupt("the ledger has no checkpoint".into()));
            }
            store.create(ledger.as_str(), origin.as_str(), empty.note())?;
            return Ok(State {
                ledger: ledger.clone(),
                origin: origin.clone(),
                key,
                edge: TileEdge::default(),
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
        let last = store.last_entry()?;
        let entries = last.as_ref().map_or(0, |(i, _, _)| i + 1);
        if entries != size {
            return Err(Error::Corrupt(format!(
                "{entries} entries stored but the latest checkpoint covers {size}"
            )));
        }
        let edge = TileEdge::load(store, size)?;
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
        Ok(State {
            ledger: ledger.clone(),
            origin: origin.clone(),
            key,
            edge,
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
        }
    }
}

pub(crate) fn spawn(
    store: Box<dyn Store>,
    state: State,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Request>,
    max_batch: usize,
    on_commit: Option<CommitObserver>,
) -> Result<std::thread::JoinHandle<()>, Error> {
    let name = format!("ledger-{}", state.ledger);
    let writer = Writer {
        store,
        state,
        shared,
        max_batch: max_batch.max(1),
        on_commit,
        failed: None,
    };
    Ok(std::thread::Builder::new()
        .name(name)
        .spawn(move || writer.run(rx))?)
}

struct Writer {
    store: Box<dyn Store>,
    state: State,
    shared: Arc<Shared>,
    max_batch: usize,
    on_commit: Option<CommitObserver>,
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
type Written = Vec<(u64, Vec<Vec<u8>>)>;

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Request>) {
        while let Ok(first) = rx.recv() {
            let mut n = first.drafts.len();
            let mut batch = vec![first];
            while n < self.max_batch {
                match rx.try_recv() {
                    Ok(req) => {
                        n += req.drafts.len();
                        batch.push(req);
                    }
                    Err(_) => break,
                }
            }
            self.commit_batch(batch);
        }
        if let Err(e) = self.store.close() {
            tracing::warn!(ledger = %self.state.ledger, error = %e, "closing the store failed");
        }
    }

    fn commit_batch(&mut self, batch: Vec<Request>) {
        if let Some(why) = &self.failed {
            for req in batch {
                (req.done)(Err(Error::Unavailable(why.clone())));
            }
            return;
        }
        let started = Instant::now();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        let time_us = now.max(self.state.last_time_us);
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
            Ok((written, commit_seconds, completed)) => {
                self.state.last_time_us = time_us;
                let snapshot = Arc::new(self.state.snapshot());
                self.shared.publish(snapshot.clone(), completed);
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
                        commit_seconds,
                        batch_seconds: started.elapsed().as_secs_f64(),
                    });
                }
                for (done, (first_index, leaves)) in waiting.into_iter().zip(written) {
                    done(Ok(Appended {
                        first_index,
                        leaves,
                        snapshot: snapshot.clone(),
                    }));
                }
            }
            Err(e) => {
                tracing::error!(ledger = %self.state.ledger, error = %e,
                    "batch commit failed; nothing of it was appended");
                // The in-memory state was not touched, but a commit that failed late may have
                // reached the disk: bring the state back to what is stored.
                let reload = State::load(
                    self.store.as_mut(),
                    &self.state.ledger,
                    &self.state.origin,
                    self.state.key.clone(),
                    false,
                );
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
                    let exists = self.store.key(&id)?.is_some() || batch.created.contains_key(&id);
                    if exists || local.created.insert(id.clone(), (name, role)).is_some() {
                        return Err(Error::Conflict(format!("key {id} already exists")));
                    }
                }
                Some(KeyChange::Revoked { id, signer }) => {
                    let (name, role) = match self.store.key(&id)? {
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
    ) -> Result<(Written, f64, Vec<Arc<TileTree>>), Error> {
        let time = Timestamp(time_us).to_string();
        let mut edge = self.state.edge.clone();
        let mut changes = EdgeChanges::default();
        let mut written = Vec::with_capacity(batch.len());
        let mut tx = self.store.begin()?;
        for drafts in batch {
            let first = edge.size();
            let mut leaves = Vec::with_capacity(drafts.len());
            for mut draft in drafts {
                debug_assert!(!draft.is_pending(), "revocations are built in check_keys");
                let index = edge.size();
                let key = draft.key.take();
                let (bytes, columns) = draft.finish(&time, time_us);
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
                edge.push(leaf_hash(&bytes), &mut changes);
                leaves.push(bytes);
            }
            written.push((first, leaves));
        }
        for tile in &changes.completed {
            tx.tile(tile.level, tile.index, &tile.bytes(256))?;
        }
        for level in 0..changes.levels {
            let tile = edge.tile(level as u8).expect("a touched level has a tile");
            if tile.width() > 0 {
                tx.tile(tile.level, tile.index, &tile.bytes(256))?;
            }
        }
        let checkpoint = Checkpoint {
            origin: self.state.origin.clone(),
            size: TreeSize(edge.size()),
            root: edge.root()?,
            extensions: vec![],
        }
        .sign(&self.state.key)?;
        tx.checkpoint(edge.size(), checkpoint.note())?;
        let commit_started = Instant::now();
        tx.commit()?;
        let commit_seconds = commit_started.elapsed().as_secs_f64();
        self.state.edge = edge;
        self.state.checkpoint = checkpoint;
        Ok((written, commit_seconds, changes.completed))
    }
}
