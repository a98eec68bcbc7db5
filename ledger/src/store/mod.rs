//! The storage interface: every row the ledger keeps, behind two narrow traits. The sequencer
//! writes through [`Writer`], readers and the audit read through [`Reader`]; nothing else in
//! the crate knows how rows are stored. [`sqlite`] is the embedded backend (the default);
//! [`postgres`] keeps the same rows in a PostgreSQL database that several processes share, and
//! implements [`Backend`], [`Reader`] and [`Writer`] and nothing else.
//!
//! What is stored (docs/ledger.md): the entries by index with their secondary-index columns,
//! attribute pairs, API keys (with the SHA-256 of their secret, which is not public and
//! therefore not in the entries) and revocations, C2SP hash tiles, every signed checkpoint,
//! and the ledger's name and origin.

pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::time::Duration;

use notarium_core::api::Key;
use notarium_core::index::tree::{Node, NodeKey};
use notarium_core::{ArtifactStatus, Sha256, Timestamp};

use crate::entries::Columns;
use crate::Error;

/// A storage backend: hands out the one write connection and read connections.
pub(crate) trait Backend: Send + Sync {
    /// Opens a read connection. Each sees the state of the latest commit when it reads.
    fn reader(&self) -> Result<Box<dyn Reader>, Error>;
    /// Opens the write connection (once, for the sequencer), bringing the schema up to date.
    fn writer(&self) -> Result<Box<dyn Writer>, Error>;
    /// Whether the published snapshot is known to be the latest committed state: always for a
    /// store only this process writes; for a shared one, while this process's writer holds
    /// the lease (otherwise readers look for newer checkpoints, see `Ledger::refresh`).
    fn serves_latest(&self) -> bool {
        true
    }
}

/// The filters of a search, already validated; all given filters must match.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter<'a> {
    pub sha256: Option<&'a Sha256>,
    pub name: Option<&'a str>,
    pub signer: Option<&'a str>,
    pub status: Option<ArtifactStatus>,
    pub attr: Option<(&'a str, &'a str)>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// An entry row as the audit reads it: its bytes and the index columns stored beside them, as
/// stored (the audit compares them with what the bytes give).
pub(crate) struct StoredEntry {
    pub index: u64,
    pub data: Vec<u8>,
    pub kind: Option<String>,
    pub sha256: Option<Vec<u8>>,
    pub name: Option<String>,
    pub signer: Option<String>,
    pub status: Option<String>,
    pub time_us: Option<i64>,
}

/// Called with each stored index node: its key's bytes and the node's bytes.
pub(crate) type NodeVisitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), Error> + 'a;

/// The last entry's index, bytes and sequencing time (µs).
pub(crate) type LastEntry = (u64, Vec<u8>, Option<i64>);

/// Reads. Implementations hold one connection; every method answers from the committed state.
pub(crate) trait Reader: Send {
    /// The stored bytes of hash tile `level/index` (full or the right-most partial one).
    fn tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, Error>;
    /// The bytes of entry `index`.
    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, Error>;
    /// Entries `start..end` that exist, by index, in order.
    fn entries(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, Error>;
    /// The last entry: its index, bytes and sequencing time.
    fn last_entry(&self) -> Result<Option<LastEntry>, Error>;
    /// The first index whose sequencing time is at or after `time_us`.
    fn first_index_at(&self, time_us: i64) -> Result<Option<u64>, Error>;
    /// The signed checkpoint note of tree size `size`.
    fn checkpoint(&self, size: u64) -> Result<Option<String>, Error>;
    /// The largest stored checkpoint: its size and note.
    fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, Error>;
    /// The version of the status-index root the checkpoint of `size` commits to (`None` before
    /// the index existed, or for an empty index).
    fn index_version(&self, size: u64) -> Result<Option<u64>, Error>;
    /// A node of the status index.
    fn index_node(&self, key: &NodeKey) -> Result<Option<Node>, Error>;
    /// Every artifact entry about `sha256` below `below`, by index.
    fn artifact_indices(&self, sha256: &Sha256, below: u64) -> Result<Vec<u64>, Error>;
    /// The artifact entry with the greatest index below `below` for `sha256`, signed by one of
    /// `signers` (any signer when empty): its index, bytes and signer.
    fn latest_artifact(
        &self,
        sha256: &Sha256,
        below: u64,
        signers: &[String],
    ) -> Result<Option<(u64, Vec<u8>, String)>, Error>;
    /// The index of the revocation of key `id`, if below `below`.
    fn revocation(&self, id: &str, below: u64) -> Result<Option<u64>, Error>;
    /// Entries matching `filter` with `from <= index < below`, in index order, at most `limit`.
    fn search(
        &self,
        filter: &Filter<'_>,
        from: u64,
        below: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, Error>;
    /// The API key whose secret hashes to `credential`.
    fn credential(&self, credential: &[u8; 32]) -> Result<Option<Key>, Error>;
    /// The API key `id`.
    fn key(&self, id: &str) -> Result<Option<Key>, Error>;
    /// Every API key, oldest first.
    fn keys(&self) -> Result<Vec<Key>, Error>;
    /// Every API key with the SHA-256 of its secret, oldest first.
    fn credentials(&self) -> Result<Vec<([u8; 32], Key)>, Error>;
    /// A stored setting (`name`, `origin`).
    fn meta(&self, key: &str) -> Result<Option<String>, Error>;

    // The audit's whole-ledger reads.

    /// The backend's own integrity check: `None` when it finds nothing wrong.
    fn integrity_problem(&self) -> Result<Option<String>, Error>;
    /// Calls `f` with every entry row in index order.
    fn scan_entries(
        &self,
        f: &mut dyn FnMut(StoredEntry) -> Result<(), Error>,
    ) -> Result<(), Error>;
    /// Every attribute row: key, value, entry index.
    fn attribute_rows(&self) -> Result<Vec<(String, String, u64)>, Error>;
    /// Every stored checkpoint, by size.
    fn checkpoints(&self) -> Result<Vec<(u64, String)>, Error>;
    /// Every revocation row: key id and the index of its revocation entry.
    fn revocation_rows(&self) -> Result<Vec<(String, u64)>, Error>;
    /// Calls `f` with every stored node of the status index (its key's bytes and the node's
    /// bytes), in key order.
    fn scan_index_nodes(&self, f: &mut NodeVisitor<'_>) -> Result<(), Error>;
    /// Every stored checkpoint's size with the index version it commits to.
    fn index_versions(&self) -> Result<Vec<(u64, Option<u64>)>, Error>;
    /// How many entry rows exist.
    fn count_entries(&self) -> Result<u64, Error>;
    /// How many tiles are stored.
    fn count_tiles(&self) -> Result<u64, Error>;
}

/// The sequencer's connection: reads (to validate key changes and load the right edge) plus
/// transactions that write a whole batch or nothing.
pub(crate) trait Writer: Send {
    /// Reads on the write connection: they see what this connection committed.
    fn reads(&self) -> &dyn Reader;
    /// Records the ledger's name and origin and its first (empty) checkpoint, atomically.
    fn create(&mut self, name: &str, origin: &str, checkpoint: &str) -> Result<(), Error>;
    /// Stores a setting (see [`Reader::meta`]).
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), Error>;
    /// Checks that the storage written to is still the storage that was opened — for files,
    /// that none was removed or replaced under the open connection, which would lose what is
    /// committed from now on. Called before every commit.
    fn check_in_place(&mut self) -> Result<(), Error>;
    /// Removes every node of the status index (before building it anew for a ledger whose
    /// checkpoints do not commit to any).
    fn clear_index(&mut self) -> Result<(), Error>;
    /// Begins the transaction of one batch.
    fn begin(&mut self) -> Result<Box<dyn Batch + '_>, Error>;
    /// Called once when the ledger closes, after the last batch (e.g. to fold a write-ahead log
    /// into the main file).
    fn close(&mut self) -> Result<(), Error>;

    // Several processes on one store take turns at sequencing (docs/postgresql.md): each holds
    // the store's lease while it has appends to make. A store that only this process writes
    // keeps these defaults.

    /// Takes (or keeps) the lease before a batch, waiting for another process to hand it over.
    /// `true` when it was taken anew: another process may have appended since this writer's
    /// last commit, so its state must be checked against storage.
    fn take_turn(&mut self) -> Result<bool, Error> {
        Ok(false)
    }
    /// Hands the lease over: nothing is queued.
    fn hand_over(&mut self) -> Result<(), Error> {
        Ok(())
    }
    /// How long the writer waits for more work before it hands the lease over (`None`: never).
    fn idle_pause(&self) -> Option<Duration> {
        None
    }
}

/// One batch's transaction. Dropped without [`Batch::commit`], it writes nothing.
pub(crate) trait Batch {
    /// A new entry at `index` with its index columns.
    fn entry(&mut self, index: u64, data: &[u8], columns: &Columns) -> Result<(), Error>;
    /// A new API key, created by entry `key.created_index`.
    fn key_created(&mut self, key: &Key, credential: &[u8; 32]) -> Result<(), Error>;
    /// The revocation of key `id` by entry `index`.
    fn key_revoked(&mut self, id: &str, index: u64) -> Result<(), Error>;
    /// Stores hash tile `level/index` (a full tile, or the right-most one as it grew).
    fn tile(&mut self, level: u8, index: u64, hashes: &[u8]) -> Result<(), Error>;
    /// Stores a node of the status index (nodes are written once, under a new key).
    fn index_node(&mut self, key: &NodeKey, node: &Node) -> Result<(), Error>;
    /// Stores the signed checkpoint of tree size `size` and the version of the index root it
    /// commits to.
    fn checkpoint(&mut self, size: u64, note: &str, index: Option<u64>) -> Result<(), Error>;
    /// Replaces the note of the stored checkpoint of `size` by one over the same tree that
    /// also commits to the index — once, when a ledger written before the index gets it.
    fn resign_checkpoint(&mut self, size: u64, note: &str, index: Option<u64>)
        -> Result<(), Error>;
    /// Makes the whole batch durable with the configured durability, or nothing of it.
    fn commit(self: Box<Self>) -> Result<(), Error>;
}
