//! Following a store that other processes append to (PostgreSQL, docs/postgresql.md): before
//! a request is answered, [`Ledger::refresh`] looks for a newer checkpoint than the published
//! one (one small query) and, when there is one, loads its right edge (O(log n) rows), checks
//! it against the signed checkpoint, holds it consistent with what this process published
//! before, and publishes it. A request thus sees every append that was acknowledged before it
//! began, by whichever process. While this process's own writer holds the ledger's lease, its
//! snapshot is the latest by construction and nothing is read.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use notarium_core::merkle::{self, NodeSource};
use notarium_core::{Hash, UnverifiedCheckpoint};

use crate::store::Reader;
use crate::tiles::{locate, TileEdge, TileTree};
use crate::{Error, Ledger, Shared, Snapshot};

impl Ledger {
    /// Brings the published snapshot (what every read answers from) up to the latest
    /// checkpoint in storage, when other processes share it and may have appended. A no-op on
    /// a store only this process writes. Call it before a read that must see what another
    /// process acknowledged; `notariumd` calls it once per request.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when storage holds less than this process already published (the
    /// database went back in time), or a checkpoint that does not verify or is inconsistent
    /// with the published one; storage errors.
    pub fn refresh(&self) -> Result<(), Error> {
        if self.shared.backend.serves_latest() {
            return Ok(());
        }
        self.shared.with_reader(|r| self.shared.follow(r))
    }
}

impl Shared {
    fn follow(&self, reader: &dyn Reader) -> Result<(), Error> {
        // What was published before the query: committed before it began, so storage must hold
        // at least that. (A snapshot taken after the query may be this process's own newer
        // commit, or another refresh's, which the query did not see: no rollback.)
        let current = self.snapshot();
        let Some((size, note)) = reader.latest_checkpoint()? else {
            return Err(Error::Corrupt(format!(
                "ledger {} has no checkpoint in storage any more",
                self.name
            )));
        };
        if note == current.checkpoint.note() {
            return Ok(());
        }
        if size < current.size() {
            return Err(Error::Corrupt(format!(
                "storage holds {size} entries of ledger {} but this process served a checkpoint \
                 of {}: the database went back in time (restored from an older copy, or a \
                 replica that had not caught up took over). Clients that saw the larger tree \
                 will report a rollback; see docs/postgresql.md",
                self.name,
                current.size()
            )));
        }
        let checkpoint = UnverifiedCheckpoint::parse(&note)
            .and_then(|c| c.verify(&self.verifier))
            .map_err(|e| Error::Corrupt(format!("stored checkpoint of size {size}: {e}")))?;
        if checkpoint.size().0 != size {
            return Err(Error::Corrupt(format!(
                "checkpoint row {size} holds size {}",
                checkpoint.size()
            )));
        }
        let edge = TileEdge::load_grown(reader, size)?;
        if edge.root()? != checkpoint.root() {
            return Err(Error::Corrupt(format!(
                "stored tiles do not give the root of the signed checkpoint of size {size}"
            )));
        }
        // The new tree extends the one published before: its first `current` leaves have the
        // published root.
        let tiles = CachedTiles {
            reader,
            tiles: RefCell::new(HashMap::new()),
        };
        if current.size() > 0
            && merkle::root(&tiles, current.checkpoint.size())? != current.checkpoint.root()
        {
            return Err(Error::Corrupt(format!(
                "the checkpoint of size {size} in storage is inconsistent with the one of size {} \
                 this process served",
                current.size()
            )));
        }
        let index_root = reader.index_version(size)?;
        self.publish(
            Arc::new(Snapshot {
                checkpoint,
                edge,
                index_root,
            }),
            Vec::new(),
        );
        Ok(())
    }
}

/// Stored tiles, each read once: a root needs O(log n) nodes, many in the same tile.
struct CachedTiles<'a> {
    reader: &'a dyn Reader,
    tiles: RefCell<HashMap<(u8, u64), TileTree>>,
}

impl NodeSource for CachedTiles<'_> {
    type Error = Error;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        let (tl, t, r, pos) = locate(level, index);
        let mut tiles = self.tiles.borrow_mut();
        let tile = match tiles.entry((tl, t)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let bytes = self.reader.tile(tl, t)?.unwrap_or_default();
                e.insert(TileTree::from_bytes(tl, t, &bytes)?)
            }
        };
        tile.node(r, pos).ok_or_else(|| {
            Error::Corrupt(format!("stored tile {tl}/{t} lacks node {level}/{index}"))
        })
    }
}
