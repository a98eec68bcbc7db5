//! The sequencer: one thread per ledger that owns the write connection, takes queued appends,
//! commits them in batches (group commit) and only then answers every caller in the batch.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};

use notarium_core::entry::{ArtifactEntry, KeyEntry, ENTRY_VERSION};
use notarium_core::merkle::{self, NodeSource};
use notarium_core::{
    leaf_hash, ArtifactStatus, Checkpoint, Entry, Hash, KeyAction, Origin, Role, SignedCheckpoint,
    SignerKey, Timestamp, TreeSize, UnverifiedCheckpoint, VerifierKey,
};

use crate::read::index_columns_at;
use crate::tiles::{locate, TileTree};
use crate::{
    store, Appended, CommitInfo, CommitObserver, Error, LedgerOptions, NewEntry, Shared, Snapshot,
};

pub(crate) type Done = Box<dyn FnOnce(Result<Appended, Error>) + Send>;

pub(crate) struct Request {
    pub entries: Vec<NewEntry>,
    pub done: Done,
}

/// What only the writer knows: the right edge of the tree and the signing key.
pub(crate) struct State {
    ledger: String,
    origin: Origin,
    key: SignerKey,
    size: u64,
    right: Vec<Arc<TileTree>>,
    checkpoint: SignedCheckpoint,
    last_time_us: i64,
}

/// Node lookups confined to the right edge: enough for roots, which is all the writer needs.
struct RightEdge<'a>(&'a [Arc<TileTree>]);

impl NodeSource for RightEdge<'_> {
    type Error = Error;
    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        let (tl, t, r, pos) = locate(level, index);
        self.0
            .get(tl as usize)
            .filter(|tile| tile.index == t)
            .and_then(|tile| tile.node(r, pos))
            .ok_or_else(|| Error::Corrupt(format!("node {level}/{index} is not on the right edge")))
    }
}

impl State {
    /// Loads the right edge in O(log n) and checks it against the latest checkpoint.
    pub fn load(
        conn: &Connection,
        options: &LedgerOptions,
        key: SignerKey,
        is_new: bool,
    ) -> Result<State, Error> {
        let verifier = key.verifier();
        let latest: Option<(u64, String)> = conn
            .query_row(
                "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let mut state = State {
            ledger: options.name.to_string(),
            origin: options.origin.clone(),
            size: 0,
            right: Vec::new(),
            checkpoint: Checkpoint {
                origin: options.origin.clone(),
                size: TreeSize(0),
                root: notarium_core::hash::empty_root(),
                extensions: vec![],
            }
            .sign(&key)?,
            key,
            last_time_us: 0,
        };
        let Some((size, note)) = latest else {
            if !is_new {
                return Err(Error::Corrupt("the ledger has no checkpoint".into()));
            }
            let tx = conn.unchecked_transaction()?;
            store::set_meta(&tx, "name", &state.ledger)?;
            store::set_meta(&tx, "origin", state.origin.as_str())?;
            tx.execute(
                "INSERT INTO checkpoints (size, note) VALUES (0, ?1)",
                [state.checkpoint.note()],
            )?;
            tx.commit()?;
            return Ok(state);
        };
        let checkpoint = UnverifiedCheckpoint::parse(&note)
            .and_then(|c| c.verify(&verifier))
            .map_err(|e| Error::Corrupt(format!("latest checkpoint (size {size}): {e}")))?;
        if checkpoint.size().0 != size {
            return Err(Error::Corrupt(format!(
                "checkpoint row {size} holds size {}",
                checkpoint.size()
            )));
        }
        let entries: u64 =
            conn.query_row("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries", [], |r| {
                r.get(0)
            })?;
        if entries != size {
            return Err(Error::Corrupt(format!(
                "{entries} entries stored but the latest checkpoint covers {size}"
            )));
        }
        let mut right = Vec::new();
        for level in 0u8.. {
            let hashes = if u32::from(level) * 8 >= 64 {
                0
            } else {
                size >> (u32::from(level) * 8)
            };
            if hashes == 0 {
                break;
            }
            let (index, width) = (hashes / 256, (hashes % 256) as usize);
            let tile = if width == 0 {
                TileTree::empty(level, index)
            } else {
                let bytes = crate::read::tile_bytes(conn, level, index)?.unwrap_or_default();
                let tile = TileTree::from_bytes(level, index, &bytes)?;
                if tile.width() != width {
                    return Err(Error::Corrupt(format!(
                        "right-most tile {level}/{index} holds {} hashes, the tree needs {width}",
                        tile.width()
                    )));
                }
                tile
            };
            right.push(Arc::new(tile));
        }
        let root = merkle::root(&RightEdge(&right), TreeSize(size))?;
        if root != checkpoint.root() {
            return Err(Error::Corrupt(format!(
                "stored tiles give root {root} at size {size}, the signed checkpoint says {}",
                checkpoint.root()
            )));
        }
        if size > 0 {
            let (data, time_us): (Vec<u8>, Option<i64>) = conn.query_row(
                "SELECT data, time_us FROM entries WHERE idx = ?1",
                [size - 1],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let stored = match right[0].width() {
                0 => crate::read::tile_bytes(conn, 0, right[0].index - 1)?
                    .and_then(|b| b.get(255 * 32..).and_then(|s| Hash::from_slice(s).ok())),
                w => right[0].stored(w - 1),
            };
            if stored != Some(leaf_hash(&data)) {
                return Err(Error::Corrupt(format!(
                    "the last entry ({}) does not match its hash in the tiles",
                    size - 1
                )));
            }
            state.last_time_us = time_us.unwrap_or(0);
        }
        state.size = size;
        state.right = right;
        state.checkpoint = checkpoint;
        Ok(state)
    }

    pub fn verifier(&self) -> VerifierKey {
        self.key.verifier()
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            checkpoint: self.checkpoint.clone(),
            right: self.right.clone(),
        }
    }

    /// Appends a leaf hash to the right edge, recording touched levels and completed tiles.
    fn push(&mut self, h: Hash, dirty: &mut BTreeSet<u8>, completed: &mut Vec<Arc<TileTree>>) {
        let mut level = 0u8;
        let mut h = h;
        loop {
            if self.right.len() <= level as usize {
                self.right.push(Arc::new(TileTree::empty(level, 0)));
            }
            let tile = Arc::make_mut(&mut self.right[level as usize]);
            tile.push(h);
            dirty.insert(level);
            if !tile.is_full() {
                break;
            }
            h = tile.root().expect("full tile has a root");
            let next = TileTree::empty(level, tile.index + 1);
            completed.push(Arc::new(std::mem::replace(tile, next)));
            level += 1;
        }
        self.size += 1;
    }
}

pub(crate) fn spawn(
    conn: Connection,
    state: State,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Request>,
    options: LedgerOptions,
) -> Result<std::thread::JoinHandle<()>, Error> {
    let name = format!("ledger-{}", options.name);
    let writer = Writer {
        conn,
        state,
        shared,
        max_batch: options.max_batch.max(1),
        on_commit: options.on_commit,
        failed: None,
    };
    Ok(std::thread::Builder::new()
        .name(name)
        .spawn(move || writer.run(rx))?)
}

struct Writer {
    conn: Connection,
    state: State,
    shared: Arc<Shared>,
    max_batch: usize,
    on_commit: Option<CommitObserver>,
    /// Set when a failed commit could not be rolled back in memory: refuse further writes.
    failed: Option<String>,
}

/// Per-batch bookkeeping of keys, so that a batch cannot create a key twice or revoke one
/// that an earlier request in the same batch revoked.
#[derive(Default)]
struct KeyChanges {
    created: HashSet<String>,
    revoked: HashSet<String>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Request>) {
        while let Ok(first) = rx.recv() {
            let mut n = first.entries.len();
            let mut batch = vec![first];
            while n < self.max_batch {
                match rx.try_recv() {
                    Ok(req) => {
                        n += req.entries.len();
                        batch.push(req);
                    }
                    Err(_) => break,
                }
            }
            self.commit_batch(batch);
        }
        // Closing: fold the WAL into the database file so a copy of `ledger.db` alone is whole.
        if let Err(e) = self.conn.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
            tracing::warn!(error = %e, "could not checkpoint the WAL on close");
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
        // Validate first: a bad request is refused alone, the rest of the batch goes on.
        let mut keys = KeyChanges::default();
        let mut accepted = Vec::with_capacity(batch.len());
        for req in batch {
            match self.validate(&req.entries, &mut keys) {
                Ok(()) => accepted.push(req),
                Err(e) => (req.done)(Err(e)),
            }
        }
        if accepted.is_empty() {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        let time_us = now.max(self.state.last_time_us);
        match self.write(&accepted, time_us) {
            Ok((results, commit_seconds, completed)) => {
                self.state.last_time_us = time_us;
                let snapshot = Arc::new(self.state.snapshot());
                {
                    let mut cache = self.shared.cache.lock().unwrap_or_else(|e| e.into_inner());
                    for tile in completed {
                        cache.insert(tile);
                    }
                }
                *self
                    .shared
                    .snapshot
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = snapshot.clone();
                let count: usize = results.iter().map(|(_, l)| l.len()).sum();
                self.shared.batches.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .entries
                    .fetch_add(count as u64, Ordering::Relaxed);
                if let Some(obs) = &self.on_commit {
                    obs(CommitInfo {
                        entries: count,
                        size: self.state.size,
                        commit_seconds,
                        batch_seconds: started.elapsed().as_secs_f64(),
                    });
                }
                for (req, (first_index, leaves)) in accepted.into_iter().zip(results) {
                    (req.done)(Ok(Appended {
                        first_index,
                        leaves,
                        snapshot: snapshot.clone(),
                    }));
                }
            }
            Err(e) => {
                tracing::error!(ledger = %self.state.ledger, error = %e, "batch commit failed; nothing of it was appended");
                // The transaction rolled back; bring the in-memory edge back to what is stored.
                let reload = State::load(
                    &self.conn,
                    &LedgerOptions::new(
                        notarium_core::LedgerName::new(&self.state.ledger).expect("valid name"),
                        self.state.origin.clone(),
                    ),
                    self.state.key.clone(),
                    false,
                );
                match reload {
                    Ok(s) => self.state = s,
                    Err(re) => {
                        tracing::error!(error = %re, "cannot reload the ledger state; refusing writes");
                        self.failed = Some(format!(
                            "storage failed and state could not be reloaded: {re}"
                        ));
                    }
                }
                let msg = e.to_string();
                for req in accepted {
                    (req.done)(Err(match &e {
                        Error::Storage(_) | Error::Io(_) => Error::Unavailable(msg.clone()),
                        _ => Error::Unavailable(msg.clone()),
                    }));
                }
            }
        }
    }

    fn validate(&self, entries: &[NewEntry], keys: &mut KeyChanges) -> Result<(), Error> {
        if entries.is_empty() {
            return Err(notarium_core::Error::InvalidField("entries", "empty batch".into()).into());
        }
        let mut local = KeyChanges::default();
        for e in entries {
            match e {
                NewEntry::Artifact { request, .. } => request.validate()?,
                NewEntry::Opaque(bytes) => {
                    if bytes.len() > notarium_core::entry::MAX_ENTRY_BYTES {
                        return Err(notarium_core::Error::EntryTooLarge(bytes.len()).into());
                    }
                }
                NewEntry::KeyCreated { id, name, .. } => {
                    check_key_text("key id", id)?;
                    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
                        return Err(notarium_core::Error::InvalidField(
                            "name",
                            "key name must be 1-128 characters without control characters".into(),
                        )
                        .into());
                    }
                    let exists: bool = self
                        .conn
                        .query_row("SELECT 1 FROM api_keys WHERE id = ?1", [id], |_| Ok(true))
                        .optional()?
                        .unwrap_or(false);
                    if exists || keys.created.contains(id) || !local.created.insert(id.clone()) {
                        return Err(Error::Conflict(format!("key {id} already exists")));
                    }
                }
                NewEntry::KeyRevoked { id, .. } => {
                    let row: Option<Option<i64>> = self
                        .conn
                        .query_row(
                            "SELECT revoked_idx FROM api_keys WHERE id = ?1",
                            [id],
                            |r| r.get(0),
                        )
                        .optional()?;
                    match row {
                        None if !keys.created.contains(id) && !local.created.contains(id) => {
                            return Err(Error::NotFound(format!("key {id}")))
                        }
                        Some(Some(_)) => {
                            return Err(Error::Conflict(format!("key {id} is already revoked")))
                        }
                        _ => {}
                    }
                    if keys.revoked.contains(id) || !local.revoked.insert(id.clone()) {
                        return Err(Error::Conflict(format!("key {id} is already revoked")));
                    }
                }
            }
        }
        keys.created.extend(local.created);
        keys.revoked.extend(local.revoked);
        Ok(())
    }

    /// Writes the batch in one transaction: entries, indexes, tiles, the signed checkpoint.
    #[allow(clippy::type_complexity)]
    fn write(
        &mut self,
        batch: &[Request],
        time_us: i64,
    ) -> Result<(Vec<(u64, Vec<Vec<u8>>)>, f64, Vec<Arc<TileTree>>), Error> {
        let time = Timestamp(time_us).to_string();
        let tx = self.conn.unchecked_transaction()?;
        let mut dirty = BTreeSet::new();
        let mut completed = Vec::new();
        let mut results = Vec::with_capacity(batch.len());
        {
            let mut ins_entry = tx.prepare_cached(
                "INSERT INTO entries (idx, data, type, sha256, name, signer, status, time_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut ins_attr =
                tx.prepare_cached("INSERT INTO attributes (key, value, idx) VALUES (?1, ?2, ?3)")?;
            for req in batch {
                let first = self.state.size;
                let mut leaves = Vec::with_capacity(req.entries.len());
                for new in &req.entries {
                    let idx = self.state.size;
                    let (bytes, entry) = self.build(new, &time)?;
                    let cols = entry
                        .as_ref()
                        .map(|e| index_columns_at(e, Some(time_us)))
                        .unwrap_or_default();
                    ins_entry.execute(params![
                        idx,
                        bytes,
                        cols.kind,
                        cols.sha256.as_ref().map(|h| &h[..]),
                        cols.name,
                        cols.signer,
                        cols.status,
                        cols.time_us
                    ])?;
                    for (k, v) in &cols.attributes {
                        ins_attr.execute(params![k, v, idx])?;
                    }
                    match new {
                        NewEntry::KeyCreated {
                            id,
                            name,
                            role,
                            credential,
                            ..
                        } => {
                            tx.execute(
                                "INSERT INTO api_keys (id, name, role, credential, created_idx)
                                 VALUES (?1, ?2, ?3, ?4, ?5)",
                                params![id, name, role.as_str(), &credential[..], idx],
                            )?;
                        }
                        NewEntry::KeyRevoked { id, .. } => {
                            tx.execute(
                                "UPDATE api_keys SET revoked_idx = ?2 WHERE id = ?1",
                                params![id, idx],
                            )?;
                            tx.execute(
                                "INSERT INTO revocations (key_id, idx) VALUES (?1, ?2)",
                                params![id, idx],
                            )?;
                        }
                        _ => {}
                    }
                    self.state
                        .push(leaf_hash(&bytes), &mut dirty, &mut completed);
                    leaves.push(bytes);
                }
                results.push((first, leaves));
            }
            let mut put_tile = tx.prepare_cached(
                "INSERT INTO tiles (level, idx, hashes) VALUES (?1, ?2, ?3)
                 ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes",
            )?;
            for tile in &completed {
                put_tile.execute(params![tile.level, tile.index, tile.bytes(256)])?;
            }
            for level in &dirty {
                let tile = &self.state.right[*level as usize];
                if tile.width() > 0 {
                    put_tile.execute(params![tile.level, tile.index, tile.bytes(256)])?;
                }
            }
        }
        let root = merkle::root(&RightEdge(&self.state.right), TreeSize(self.state.size))?;
        let checkpoint = Checkpoint {
            origin: self.state.origin.clone(),
            size: TreeSize(self.state.size),
            root,
            extensions: vec![],
        }
        .sign(&self.state.key)?;
        tx.execute(
            "INSERT INTO checkpoints (size, note) VALUES (?1, ?2)",
            params![self.state.size, checkpoint.note()],
        )?;
        let commit_started = Instant::now();
        tx.commit()?;
        let commit_seconds = commit_started.elapsed().as_secs_f64();
        self.state.checkpoint = checkpoint;
        Ok((results, commit_seconds, completed))
    }

    /// The canonical bytes of a new entry, and the parsed entry (absent for opaque bytes).
    fn build(&self, new: &NewEntry, time: &str) -> Result<(Vec<u8>, Option<Entry>), Error> {
        let ledger = self.state.ledger.clone();
        let entry = match new {
            NewEntry::Opaque(bytes) => return Ok((bytes.clone(), None)),
            NewEntry::Artifact { request, signer } => Entry::Artifact(ArtifactEntry {
                v: ENTRY_VERSION,
                ledger,
                sha256: request.sha256,
                name: request.name.clone(),
                kind: request.kind.clone().unwrap_or_else(|| "file".into()),
                size: request.size,
                status: request.status.unwrap_or(ArtifactStatus::Trusted),
                attributes: request.attributes.clone(),
                ci: request.ci.clone(),
                signer: signer.clone(),
                time: time.to_owned(),
            }),
            NewEntry::KeyCreated {
                id,
                name,
                role,
                signer,
                ..
            } => Entry::Key(KeyEntry {
                v: ENTRY_VERSION,
                ledger,
                action: KeyAction::Created,
                id: id.clone(),
                name: name.clone(),
                role: *role,
                signer: signer.clone(),
                time: time.to_owned(),
            }),
            NewEntry::KeyRevoked { id, signer } => {
                let (name, role): (String, String) = self.conn.query_row(
                    "SELECT name, role FROM api_keys WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                Entry::Key(KeyEntry {
                    v: ENTRY_VERSION,
                    ledger,
                    action: KeyAction::Revoked,
                    id: id.clone(),
                    name,
                    role: parse_role(&role)?,
                    signer: signer.clone(),
                    time: time.to_owned(),
                })
            }
        };
        Ok((entry.to_bytes()?, Some(entry)))
    }
}

pub(crate) fn parse_role(s: &str) -> Result<Role, Error> {
    match s {
        "read" => Ok(Role::Read),
        "write" => Ok(Role::Write),
        "admin" => Ok(Role::Admin),
        other => Err(Error::Corrupt(format!(
            "unknown role {other:?} in api_keys"
        ))),
    }
}

fn check_key_text(field: &'static str, s: &str) -> Result<(), Error> {
    if s.is_empty()
        || s.len() > 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(notarium_core::Error::InvalidField(
            field,
            "must be 1-64 of A-Z a-z 0-9 _ -".into(),
        )
        .into());
    }
    Ok(())
}
