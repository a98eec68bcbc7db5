//! The ledger's status index (docs/status-index.md): for every artifact hash and every signer,
//! the entries that concern it, as a versioned sparse Merkle tree (`core::index::tree`) whose
//! root every checkpoint commits to in its `notarium-index/v1` line. The sequencer extends it
//! in each commit; readers prove from it; a ledger written before the index gets it built once,
//! when this version first opens it.

use notarium_core::index::tree::{self, NibblePath, Node, NodeKey, NodeReader};
use notarium_core::index::IndexKey;
use notarium_core::{Entry, Hash};

use crate::store::{Reader, Writer};
use crate::Error;

/// The stored index nodes as a `core` node source.
pub(crate) struct StoredIndex<'a>(pub &'a dyn Reader);

impl NodeReader for StoredIndex<'_> {
    type Error = Error;

    fn node(&self, key: &NodeKey) -> Result<Option<Node>, Error> {
        self.0.index_node(key)
    }
}

/// The sequencer's copy of the index's upper levels: every batch reads the same few thousand
/// nodes near the root (a key's path is about five nodes, and the top four levels are shared by
/// nearly all keys), so keeping the latest node of each path up to [`NodeCache::DEPTH`] nibbles
/// in memory leaves about one storage read per key. Nodes are immutable under their key
/// (version and path), so a cached node is never stale: a lookup hits only on the exact version.
#[derive(Default)]
pub(crate) struct NodeCache {
    by_path: std::collections::HashMap<NibblePath, (u64, Node)>,
}

impl NodeCache {
    /// Paths of at most this many nibbles are cached: at most 1 + 16 + 256 + 4,096 + 65,536
    /// nodes (tens of MB at millions of keys).
    const DEPTH: usize = 4;

    /// Keeps `node`, written under `key`, when it is near enough the root.
    pub(crate) fn put(&mut self, key: &NodeKey, node: &Node) {
        if key.path.len() <= Self::DEPTH {
            self.by_path.insert(key.path, (key.version, node.clone()));
        }
    }

    fn get(&self, key: &NodeKey) -> Option<Node> {
        self.by_path
            .get(&key.path)
            .filter(|(version, _)| *version == key.version)
            .map(|(_, node)| node.clone())
    }
}

/// The stored index nodes behind the sequencer's [`NodeCache`]; nodes read from storage near
/// the root are cached as well.
pub(crate) struct CachedIndex<'a> {
    pub store: &'a dyn Reader,
    pub cache: &'a std::cell::RefCell<NodeCache>,
}

impl NodeReader for CachedIndex<'_> {
    type Error = Error;

    fn node(&self, key: &NodeKey) -> Result<Option<Node>, Error> {
        if let Some(node) = self.cache.borrow().get(key) {
            return Ok(Some(node));
        }
        let node = self.store.index_node(key)?;
        if let Some(n) = &node {
            self.cache.borrow_mut().put(key, n);
        }
        Ok(node)
    }
}

/// The hash of the index whose root node was written at `version`.
///
/// # Errors
/// [`Error::Corrupt`] when the root node is missing; storage errors.
pub(crate) fn root_hash(reader: &dyn Reader, version: Option<u64>) -> Result<Hash, Error> {
    tree::root_hash(&StoredIndex(reader), version)
}

/// Entries read and keyed per step of a build: bounds the memory of building the index of a
/// large ledger, and the size of each transaction.
const BUILD_STEP: u64 = 65_536;

/// Builds the index of the first `size` entries of a ledger written before the index existed,
/// writing its nodes in steps of [`BUILD_STEP`] entries, each its own transaction (the index is
/// derived data: a crash in the middle leaves nodes no checkpoint points to, and the build
/// starts over). Returns the root's version (`None` when no entry concerns any key).
///
/// # Errors
/// Storage errors; [`Error::Corrupt`] for an entry that does not parse.
pub(crate) fn build(
    store: &mut dyn Writer,
    size: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<Option<u64>, Error> {
    // Nodes of an earlier build that did not finish: no checkpoint points to them.
    store.clear_index()?;
    let mut root: Option<u64> = None;
    let mut start = 0u64;
    while start < size {
        let end = (start + BUILD_STEP).min(size);
        let mut keyed = Vec::with_capacity((end - start) as usize);
        for (index, bytes) in store.reads().entries(start, end)? {
            // Opaque entries (imports) concern no key.
            if let Ok(entry) = Entry::from_bytes(&bytes) {
                keyed.push((index, IndexKey::of_entry(&entry)));
            }
        }
        if !keyed.is_empty() {
            let applied = tree::apply_entries(&StoredIndex(store.reads()), root, &keyed, end)?;
            let mut tx = store.begin()?;
            for (key, node) in &applied.nodes {
                tx.index_node(key, node)?;
            }
            tx.commit()?;
            root = Some(end);
        }
        progress(end, size);
        start = end;
    }
    Ok(root)
}
