//! Tiles in memory: a tile's 256 stored hashes plus its 255 interior nodes, so that any node
//! inside a cached tile is one lookup; the right edge of the tree as tiles ([`TileEdge`]), which
//! the sequencer appends to, every snapshot carries and the audit rebuilds; and a bounded cache
//! of full tiles shared by readers.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use notarium_core::merkle::{self, NodeSource};
use notarium_core::tiles::{TILE_BYTES, TILE_WIDTH};
use notarium_core::{node_hash, Hash, TreeSize};

use crate::store::Reader;
use crate::Error;

/// One tile with its interior levels: `nodes[r]` holds the complete nodes `r` levels above
/// the tile's stored hashes (`nodes[0]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TileTree {
    pub level: u8,
    pub index: u64,
    nodes: [Vec<Hash>; 9],
}

impl TileTree {
    pub fn empty(level: u8, index: u64) -> Self {
        TileTree {
            level,
            index,
            nodes: Default::default(),
        }
    }

    /// Rebuilds a tile from its stored bytes (a multiple of 32, at most 8 KiB).
    pub fn from_bytes(level: u8, index: u64, bytes: &[u8]) -> Result<Self, Error> {
        if !bytes.len().is_multiple_of(32) || bytes.len() > TILE_BYTES {
            return Err(Error::Corrupt(format!(
                "tile {level}/{index} holds {} bytes, not a multiple of 32 up to 8192",
                bytes.len()
            )));
        }
        let mut t = TileTree::empty(level, index);
        for chunk in bytes.chunks_exact(32) {
            t.push(Hash::from_slice(chunk).expect("32-byte chunk"));
        }
        Ok(t)
    }

    /// Number of stored hashes.
    pub fn width(&self) -> usize {
        self.nodes[0].len()
    }

    pub fn is_full(&self) -> bool {
        self.width() as u64 == TILE_WIDTH
    }

    /// Appends a stored hash and completes the interior nodes it finishes.
    pub fn push(&mut self, h: Hash) {
        debug_assert!(!self.is_full());
        self.nodes[0].push(h);
        let mut i = self.nodes[0].len() - 1;
        let mut r = 0;
        while r < 8 && i & 1 == 1 {
            let parent = node_hash(&self.nodes[r][i - 1], &self.nodes[r][i]);
            self.nodes[r + 1].push(parent);
            i >>= 1;
            r += 1;
        }
    }

    /// The root of a full tile (the hash one tile level up).
    pub fn root(&self) -> Option<Hash> {
        self.nodes[8].first().copied()
    }

    /// The node `r` levels above the stored hashes, at position `pos` within this tile.
    pub fn node(&self, r: u8, pos: u64) -> Option<Hash> {
        self.nodes[r as usize].get(pos as usize).copied()
    }

    /// The stored hashes as tile bytes; `width` limits them to a prefix.
    pub fn bytes(&self, width: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(width * 32);
        for h in &self.nodes[0][..width.min(self.width())] {
            out.extend_from_slice(&h.0);
        }
        out
    }

    /// The stored hash at `pos`.
    pub fn stored(&self, pos: usize) -> Option<Hash> {
        self.nodes[0].get(pos).copied()
    }
}

/// The right edge of the tree as tiles: the right-most tile of each level (partial, or empty
/// when the level's last tile is full), for a tree of `size` leaves. It is all the sequencer
/// keeps in memory (O(log n)), enough to append leaves and compute the root.
#[derive(Clone, Debug, Default)]
pub(crate) struct TileEdge {
    size: u64,
    tiles: Vec<Arc<TileTree>>,
}

/// What appending to a [`TileEdge`] changed, to be written in the same batch.
#[derive(Debug, Default)]
pub(crate) struct EdgeChanges {
    /// Tiles that became full, in order.
    pub completed: Vec<Arc<TileTree>>,
    /// Levels `0..levels` have a right-most tile that changed.
    pub levels: usize,
}

impl TileEdge {
    /// Loads the right edge of a tree of `size` leaves from stored tiles: one tile per level.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when a right-most tile has another width than the size implies.
    pub fn load(reader: &dyn Reader, size: u64) -> Result<Self, Error> {
        Self::load_at(reader, size, false)
    }

    /// Loads the right edge of the tree of `size` leaves while other processes may append to
    /// storage: a right-most tile that has grown since is cut back to `size` (tiles only ever
    /// grow by appending, so its first hashes are those of the tree of `size`).
    ///
    /// # Errors
    /// [`Error::Corrupt`] when a right-most tile holds fewer hashes than the size implies.
    pub fn load_grown(reader: &dyn Reader, size: u64) -> Result<Self, Error> {
        Self::load_at(reader, size, true)
    }

    fn load_at(reader: &dyn Reader, size: u64, grown: bool) -> Result<Self, Error> {
        let mut tiles = Vec::new();
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
                let mut bytes = reader.tile(level, index)?.unwrap_or_default();
                if grown {
                    bytes.truncate(width * 32);
                }
                let tile = TileTree::from_bytes(level, index, &bytes)?;
                if tile.width() != width {
                    return Err(Error::Corrupt(format!(
                        "right-most tile {level}/{index} holds {} hashes, the tree needs {width}",
                        tile.width()
                    )));
                }
                tile
            };
            tiles.push(Arc::new(tile));
        }
        Ok(TileEdge { size, tiles })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The right-most tile of `level`.
    pub fn tile(&self, level: u8) -> Option<&Arc<TileTree>> {
        self.tiles.get(level as usize)
    }

    /// The hash of the last leaf, if it is in the right-most level-0 tile (else it is the
    /// last hash of the full tile before it).
    pub fn last_leaf(&self) -> Option<Hash> {
        let t = self.tiles.first()?;
        t.width().checked_sub(1).and_then(|w| t.stored(w))
    }

    /// Appends a leaf hash, recording the tiles it completes and the levels it touches.
    pub fn push(&mut self, leaf: Hash, changes: &mut EdgeChanges) {
        let mut level = 0usize;
        let mut h = leaf;
        loop {
            if self.tiles.len() <= level {
                self.tiles.push(Arc::new(TileTree::empty(level as u8, 0)));
            }
            let tile = Arc::make_mut(&mut self.tiles[level]);
            tile.push(h);
            changes.levels = changes.levels.max(level + 1);
            if !tile.is_full() {
                break;
            }
            h = tile.root().expect("a full tile has a root");
            let next = TileTree::empty(level as u8, tile.index + 1);
            changes
                .completed
                .push(Arc::new(std::mem::replace(tile, next)));
            level += 1;
        }
        self.size += 1;
    }

    /// The root of the tree.
    ///
    /// # Errors
    /// [`Error::Corrupt`] only if the edge is inconsistent with its size (a bug).
    pub fn root(&self) -> Result<Hash, Error> {
        merkle::root(self, TreeSize(self.size))
    }
}

/// Node lookups confined to the right edge: enough for the roots of the edge's own size.
impl NodeSource for TileEdge {
    type Error = Error;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        let (tl, t, r, pos) = locate(level, index);
        self.tiles
            .get(tl as usize)
            .filter(|tile| tile.index == t)
            .and_then(|tile| tile.node(r, pos))
            .ok_or_else(|| Error::Corrupt(format!("node {level}/{index} is not on the right edge")))
    }
}

/// Every node of the tree as the stored tiles hold it (no cache, no snapshot): for the checks
/// on open and the audit, which must see what storage says.
pub(crate) struct StoredTiles<'a>(pub &'a dyn Reader);

impl NodeSource for StoredTiles<'_> {
    type Error = Error;
    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        let (tl, t, r, pos) = locate(level, index);
        let bytes = self.0.tile(tl, t)?.unwrap_or_default();
        TileTree::from_bytes(tl, t, &bytes)?
            .node(r, pos)
            .ok_or_else(|| {
                Error::Corrupt(format!("stored tile {tl}/{t} lacks node {level}/{index}"))
            })
    }
}

/// Every tile stored for a tree of `size` leaves, `(level, index)`, level by level: the full
/// ones and the partial right-most one.
pub(crate) fn stored_tiles(size: u64) -> Vec<(u8, u64)> {
    let mut out = Vec::new();
    for level in 0u8.. {
        let (full, partial) = notarium_core::tiles::tiles_at_level(size, level);
        if full == 0 && partial == 0 {
            break;
        }
        out.extend((0..full).map(|i| (level, i)));
        if partial > 0 {
            out.push((level, full));
        }
    }
    out
}

/// Where a tree node lives: tile level, tile index, levels above the tile's base, position.
pub(crate) fn locate(level: u8, index: u64) -> (u8, u64, u8, u64) {
    let tile_level = level / 8;
    let r = level % 8;
    let base = index << r; // index of the node's first hash at tree level 8·tile_level
    let tile = base >> 8;
    (tile_level, tile, r, index - (tile << (8 - r)))
}

/// A bounded FIFO cache of full (immutable) tiles.
pub(crate) struct TileCache {
    cap: usize,
    map: HashMap<(u8, u64), Arc<TileTree>>,
    order: VecDeque<(u8, u64)>,
}

impl TileCache {
    pub fn new(cap: usize) -> Self {
        TileCache {
            cap: cap.max(1),
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn get(&self, level: u8, index: u64) -> Option<Arc<TileTree>> {
        self.map.get(&(level, index)).cloned()
    }

    pub fn insert(&mut self, tile: Arc<TileTree>) {
        debug_assert!(tile.is_full());
        let key = (tile.level, tile.index);
        if self.map.insert(key, tile).is_none() {
            self.order.push_back(key);
            while self.map.len() > self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notarium_core::leaf_hash;

    #[test]
    fn tile_nodes_match_pairwise_hashing() {
        let mut t = TileTree::empty(0, 0);
        let leaves: Vec<Hash> = (0..256u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for l in &leaves {
            t.push(*l);
        }
        let mut level = leaves;
        for r in 1..=8u8 {
            level = level
                .chunks_exact(2)
                .map(|c| node_hash(&c[0], &c[1]))
                .collect();
            for (i, h) in level.iter().enumerate() {
                assert_eq!(t.node(r, i as u64), Some(*h));
            }
        }
        assert_eq!(t.root(), Some(level[0]));
        assert_eq!(locate(9, 3), (1, 0, 1, 3));
        assert_eq!(locate(0, 300), (0, 1, 0, 44));
        assert_eq!(locate(3, 40), (0, 1, 3, 8));
    }
}
