//! The storage model of the status index: versioned nodes in the style of the Jellyfish Merkle
//! tree (Diem/Aptos), never updated in place, so that the index at every past checkpoint stays
//! provable while the ledger holds only O(log n) of it in memory.
//!
//! A node is stored under a [`NodeKey`]: the *version* that wrote it (the ledger's tree size
//! after the batch) and its [`NibblePath`] from the root. An [`InternalNode`] has up to 16
//! children, one per nibble; each child records its hash, the version it was written at, and
//! whether it is a leaf. Its hash is the binary sparse-Merkle hash of its 16 slots (the hashing
//! rule of `docs/status-index.md` §4), so proofs stay binary. A [`LeafNode`] holds a key and its
//! [`Value`]. A subtree holding a single key is a leaf node at the highest position where the
//! key is alone; an internal node always has two keys or more below it.
//!
//! The index at checkpoint size `N` is the tree under the root node (path `[]`) of the
//! greatest version `≤ N`; no root node means the empty map.
//!
//! [`apply`] turns a batch of updates into the nodes to write (each node on the touched paths
//! written once per batch); [`prove`] reads a key's path back into a [`MapProof`]. Both read
//! through a [`NodeReader`], which the ledger implements over its storage; [`MemNodes`] is an
//! in-memory one for tests.

use std::collections::{BTreeMap, HashMap};

use super::{leaf_hash, node_hash, IndexKey, Value, EMPTY};
use crate::hash::Hash;
use crate::Error;

/// The deepest nibble path: 64 nibbles = 256 bits.
pub const MAX_NIBBLES: usize = 64;

/// The path from the root to a node, in nibbles (at most 64).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NibblePath {
    len: u8,
    /// Packed nibbles, high nibble first; every nibble past `len` is zero.
    bytes: [u8; 32],
}

impl NibblePath {
    /// The root's path.
    pub const ROOT: NibblePath = NibblePath {
        len: 0,
        bytes: [0u8; 32],
    };

    /// The first `len` nibbles of `key`.
    ///
    /// # Panics
    /// When `len > 64`.
    pub fn of_key(key: &IndexKey, len: usize) -> Self {
        assert!(len <= MAX_NIBBLES, "a nibble path has at most 64 nibbles");
        let mut bytes = [0u8; 32];
        bytes[..len / 2].copy_from_slice(&key.0[..len / 2]);
        if len % 2 == 1 {
            bytes[len / 2] = key.0[len / 2] & 0xf0;
        }
        NibblePath {
            len: len as u8,
            bytes,
        }
    }

    /// How many nibbles.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether this is the root's path.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Nibble `i` (`i < len`).
    pub fn nibble(&self, i: usize) -> u8 {
        debug_assert!(i < self.len());
        let b = self.bytes[i / 2];
        if i.is_multiple_of(2) {
            b >> 4
        } else {
            b & 0x0f
        }
    }

    /// The path of child `n` (`n < 16`).
    ///
    /// # Panics
    /// When the path already has 64 nibbles.
    pub fn child(&self, n: u8) -> NibblePath {
        assert!(
            self.len() < MAX_NIBBLES,
            "a nibble path has at most 64 nibbles"
        );
        debug_assert!(n < 16);
        let mut out = *self;
        let i = self.len();
        if i.is_multiple_of(2) {
            out.bytes[i / 2] = n << 4;
        } else {
            out.bytes[i / 2] |= n;
        }
        out.len += 1;
        out
    }

    /// Whether `key`'s path starts with this one.
    pub fn is_prefix_of(&self, key: &IndexKey) -> bool {
        *self == NibblePath::of_key(key, self.len())
    }

    /// The stored form: one byte of length, then `ceil(len / 2)` bytes of packed nibbles
    /// (high nibble first, a last odd nibble padded with 0).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.len().div_ceil(2));
        out.push(self.len);
        out.extend_from_slice(&self.bytes[..self.len().div_ceil(2)]);
        out
    }

    /// Parses [`NibblePath::to_bytes`], refusing a length over 64, a wrong byte count and a
    /// non-zero padding nibble.
    ///
    /// # Errors
    /// [`Error::CorruptIndex`].
    pub fn from_bytes(b: &[u8]) -> Result<Self, Error> {
        let (&len, rest) = b.split_first().ok_or(corrupt("empty nibble path"))?;
        let len = usize::from(len);
        if len > MAX_NIBBLES || rest.len() != len.div_ceil(2) {
            return Err(corrupt("malformed nibble path"));
        }
        if len % 2 == 1 && rest[len / 2] & 0x0f != 0 {
            return Err(corrupt("nibble path padding is not zero"));
        }
        let mut bytes = [0u8; 32];
        bytes[..rest.len()].copy_from_slice(rest);
        Ok(NibblePath {
            len: len as u8,
            bytes,
        })
    }
}

impl std::fmt::Debug for NibblePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let s: String = (0..self.len())
            .map(|i| char::from(DIGITS[usize::from(self.nibble(i))]))
            .collect();
        write!(f, "NibblePath({s:?})")
    }
}

/// Where a node is stored: the version that wrote it and its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKey {
    /// The ledger's tree size after the batch that wrote the node.
    pub version: u64,
    /// The node's position.
    pub path: NibblePath,
}

impl NodeKey {
    /// The stored form: `u64be(version) || path.to_bytes()`. Sorting these bytes sorts by
    /// version first, so a batch's nodes (the newest version) go to the end of an index.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.version.to_be_bytes().to_vec();
        out.extend_from_slice(&self.path.to_bytes());
        out
    }

    /// Parses [`NodeKey::to_bytes`].
    ///
    /// # Errors
    /// [`Error::CorruptIndex`].
    pub fn from_bytes(b: &[u8]) -> Result<Self, Error> {
        if b.len() < 9 {
            return Err(corrupt("node key too short"));
        }
        let (v, p) = b.split_at(8);
        Ok(NodeKey {
            version: u64::from_be_bytes(v.try_into().expect("8 bytes")),
            path: NibblePath::from_bytes(p)?,
        })
    }
}

/// A child pointer of an internal node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Child {
    /// The child's hash (a leaf hash, or an internal node's hash).
    pub hash: Hash,
    /// The version the child was written at.
    pub version: u64,
    /// Whether the child is a leaf node.
    pub is_leaf: bool,
}

/// An internal node: up to 16 children, at least two keys below it.
///
/// Kept as compact as its stored form: two bitmaps and only the children it has (a node deep in
/// the tree has a few; all 16 slots inline took about 900 bytes per node in the sequencer's
/// cache of the upper levels, and as much to copy on every read of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InternalNode {
    /// Bit `n`: child `n` exists.
    exists: u16,
    /// Bit `n`: child `n` is a leaf.
    leaves: u16,
    /// The children that exist, in nibble order: hash and version.
    present: Box<[(Hash, u64)]>,
}

/// A leaf node: one key and its value (`count >= 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafNode {
    /// The key.
    pub key: IndexKey,
    /// Its value.
    pub value: Value,
}

/// A stored node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// An internal node.
    Internal(InternalNode),
    /// A leaf node.
    Leaf(LeafNode),
}

/// Node type byte of an internal node in [`Node::encode`].
const TAG_INTERNAL: u8 = 0x00;
/// Node type byte of a leaf node in [`Node::encode`].
const TAG_LEAF: u8 = 0x01;

fn corrupt(msg: &'static str) -> Error {
    Error::CorruptIndex(msg)
}

/// How a slot range inside an internal node looks under the hashing rule (§4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Empty,
    /// Exactly one key below, in a leaf child at this slot.
    Leaf(u8),
    /// Two keys or more below.
    Many,
}

impl InternalNode {
    /// Builds an internal node.
    ///
    /// # Errors
    /// [`Error::CorruptIndex`] when it would hold fewer than two keys: no child, or a single
    /// child that is a leaf (that leaf belongs one level up).
    pub fn new(children: [Option<Child>; 16]) -> Result<Self, Error> {
        let (mut exists, mut leaves) = (0u16, 0u16);
        let mut present = Vec::with_capacity(children.iter().flatten().count());
        for (i, c) in children.iter().enumerate() {
            if let Some(c) = c {
                exists |= 1 << i;
                if c.is_leaf {
                    leaves |= 1 << i;
                }
                present.push((c.hash, c.version));
            }
        }
        Self::from_parts(exists, leaves, present)
    }

    /// The node from its bitmaps and its children in nibble order (the stored form's parts),
    /// refusing what no valid node is: a leaf bit without a child, no child, a single leaf.
    fn from_parts(exists: u16, leaves: u16, present: Vec<(Hash, u64)>) -> Result<Self, Error> {
        debug_assert_eq!(present.len(), exists.count_ones() as usize);
        if leaves & !exists != 0 {
            return Err(corrupt("a leaf bit without a child"));
        }
        if exists == 0 {
            return Err(corrupt("an internal node without children"));
        }
        if exists.count_ones() == 1 && leaves == exists {
            return Err(corrupt("an internal node with a single leaf below it"));
        }
        Ok(InternalNode {
            exists,
            leaves,
            present: present.into_boxed_slice(),
        })
    }

    /// Child `n` (`n < 16`).
    pub fn child(&self, n: u8) -> Option<Child> {
        let bit = 1u16 << n;
        if self.exists & bit == 0 {
            return None;
        }
        let (hash, version) = self.present[(self.exists & (bit - 1)).count_ones() as usize];
        Some(Child {
            hash,
            version,
            is_leaf: self.leaves & bit != 0,
        })
    }

    /// The children, by nibble.
    pub fn children(&self) -> [Option<Child>; 16] {
        std::array::from_fn(|n| self.child(n as u8))
    }

    /// The binary subtree of the 16 slots, level by level: `levels[l]` holds the `2^l`
    /// subtrees at depth `l` inside the node (`levels[4]` are the slots themselves).
    fn levels(&self) -> [Vec<(Hash, Shape)>; 5] {
        let slots: Vec<(Hash, Shape)> = (0..16u8)
            .map(|n| match self.child(n) {
                None => (EMPTY, Shape::Empty),
                Some(c) if c.is_leaf => (c.hash, Shape::Leaf(n)),
                Some(c) => (c.hash, Shape::Many),
            })
            .collect();
        let mut levels: [Vec<(Hash, Shape)>; 5] = Default::default();
        levels[4] = slots;
        for l in (0..4).rev() {
            levels[l] = levels[l + 1]
                .chunks_exact(2)
                .map(|p| combine(p[0], p[1]))
                .collect();
        }
        levels
    }

    /// The node's hash: its 16 slots hashed as a binary tree under the rule of §4.
    pub fn hash(&self) -> Hash {
        let mut level: [(Hash, Shape); 16] = std::array::from_fn(|n| match self.child(n as u8) {
            None => (EMPTY, Shape::Empty),
            Some(c) if c.is_leaf => (c.hash, Shape::Leaf(n as u8)),
            Some(c) => (c.hash, Shape::Many),
        });
        let mut width = 16;
        while width > 1 {
            for i in 0..width / 2 {
                level[i] = combine(level[2 * i], level[2 * i + 1]);
            }
            width /= 2;
        }
        level[0].0
    }
}

/// The hashing rule (§4) for two sibling subtrees: empty and one leaf collapse; two keys or
/// more hash.
fn combine(l: (Hash, Shape), r: (Hash, Shape)) -> (Hash, Shape) {
    match (l.1, r.1) {
        (Shape::Empty, Shape::Empty) => (EMPTY, Shape::Empty),
        (Shape::Empty, Shape::Leaf(_)) => r,
        (Shape::Leaf(_), Shape::Empty) => l,
        _ => (node_hash(&l.0, &r.0), Shape::Many),
    }
}

impl Node {
    /// The node's hash.
    pub fn hash(&self) -> Hash {
        match self {
            Node::Internal(n) => n.hash(),
            Node::Leaf(l) => leaf_hash(&l.key, &l.value),
        }
    }

    /// The stored form (`docs/status-index.md` §8.2): an internal node is `0x00`, `u16be` of
    /// the children bitmap (bit `n` = child `n`), `u16be` of the leaf bitmap, then for each
    /// child in nibble order its hash and its version as a minimal LEB128 varint; a leaf is
    /// `0x01`, the key, the count as a minimal LEB128 varint, and the chain.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Node::Internal(n) => {
                let mut out = Vec::with_capacity(5 + n.present.len() * 42);
                out.push(TAG_INTERNAL);
                out.extend_from_slice(&n.exists.to_be_bytes());
                out.extend_from_slice(&n.leaves.to_be_bytes());
                for (hash, version) in n.present.iter() {
                    out.extend_from_slice(&hash.0);
                    put_varint(&mut out, *version);
                }
                out
            }
            Node::Leaf(l) => {
                let mut out = Vec::with_capacity(1 + 32 + 10 + 32);
                out.push(TAG_LEAF);
                out.extend_from_slice(&l.key.0);
                put_varint(&mut out, l.value.count);
                out.extend_from_slice(&l.value.chain.0);
                out
            }
        }
    }

    /// Parses [`Node::encode`], refusing anything it would not write.
    ///
    /// # Errors
    /// [`Error::CorruptIndex`].
    pub fn decode(b: &[u8]) -> Result<Node, Error> {
        let (&tag, mut rest) = b.split_first().ok_or(corrupt("empty node"))?;
        let node = match tag {
            TAG_INTERNAL => {
                let exists = u16::from_be_bytes(take::<2>(&mut rest)?);
                let leaves = u16::from_be_bytes(take::<2>(&mut rest)?);
                let mut present = Vec::with_capacity(exists.count_ones() as usize);
                for _ in 0..exists.count_ones() {
                    let hash = Hash(take::<32>(&mut rest)?);
                    present.push((hash, get_varint(&mut rest)?));
                }
                Node::Internal(InternalNode::from_parts(exists, leaves, present)?)
            }
            TAG_LEAF => {
                let key = IndexKey(take::<32>(&mut rest)?);
                let count = get_varint(&mut rest)?;
                let chain = Hash(take::<32>(&mut rest)?);
                if count == 0 {
                    return Err(corrupt("a leaf with count 0"));
                }
                Node::Leaf(LeafNode {
                    key,
                    value: Value { count, chain },
                })
            }
            _ => return Err(corrupt("unknown node type")),
        };
        if !rest.is_empty() {
            return Err(corrupt("trailing bytes after a node"));
        }
        Ok(node)
    }
}

fn take<const N: usize>(b: &mut &[u8]) -> Result<[u8; N], Error> {
    if b.len() < N {
        return Err(corrupt("truncated node"));
    }
    let (head, rest) = b.split_at(N);
    *b = rest;
    Ok(head.try_into().expect("N bytes"))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &mut &[u8]) -> Result<u64, Error> {
    let mut v = 0u64;
    for i in 0..10 {
        let (&byte, rest) = b.split_first().ok_or(corrupt("truncated varint"))?;
        *b = rest;
        let bits = u64::from(byte & 0x7f);
        if i == 9 && byte > 1 {
            return Err(corrupt("varint overflows 64 bits"));
        }
        v |= bits << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(corrupt("varint is not minimal"));
            }
            return Ok(v);
        }
    }
    Err(corrupt("varint longer than 10 bytes"))
}

/// A source of stored nodes: the ledger's storage, or [`MemNodes`].
pub trait NodeReader {
    /// The error a lookup may return (storage failures).
    type Error: From<Error>;

    /// The node stored under `key`, or `None` when there is none.
    ///
    /// # Errors
    /// Whatever the storage reports. A missing node that the index points to is reported by
    /// the caller as [`Error::CorruptIndex`].
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, Self::Error>;
}

/// The result of [`apply`]: the new root's hash and the nodes to store, all at the new
/// version, in the order they were finished (children before parents, the root last).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The index root after the batch.
    pub root_hash: Hash,
    /// The nodes to write, each under its key.
    pub nodes: Vec<(NodeKey, Node)>,
    /// The stored nodes this batch replaced: no index root from the new version on reaches
    /// them, so once no checkpoint older than the new version needs proofs they may be
    /// deleted (the stale-node index of the Jellyfish Merkle tree).
    pub stale: Vec<NodeKey>,
}

/// What a subtree held before the batch.
enum Existing {
    None,
    /// A stored node; `Some(true)` when the parent says it is a leaf, `None` for the root.
    Stored {
        version: u64,
        leaf: Option<bool>,
    },
    /// A leaf that a new internal node pushes one level down: rewritten at its new path.
    Moved(LeafNode),
}

struct Batch<'a, R> {
    reader: &'a R,
    version: u64,
    out: Vec<(NodeKey, Node)>,
    /// Every stored node read is rewritten at the new version: all of them go stale.
    stale: Vec<NodeKey>,
}

/// What a batch does to one key.
#[derive(Clone, Debug)]
enum Change {
    /// The key's new value.
    Set(Value),
    /// Entry indices to append to the key's chain, increasing.
    Append(Vec<u64>),
}

type Update = (IndexKey, Change);

/// Applies a batch of updates — each key's new value, `count >= 1` and greater than its
/// stored count — to the index whose root node was written at `old_root` (`None`: the empty
/// map), writing every new node at `new_version`.
///
/// Each node on the touched paths is read once and written once; paths shared by keys of
/// the batch are rewritten once. Keys are never removed.
///
/// # Errors
/// [`Error::InvalidIndexUpdate`] for a repeated key, a count of 0, a count that does not
/// grow, or `new_version` not above `old_root`; [`Error::CorruptIndex`] when the stored nodes
/// are missing or break the index's invariants; storage errors from `reader`.
pub fn apply<R: NodeReader>(
    reader: &R,
    old_root: Option<u64>,
    updates: &[(IndexKey, Value)],
    new_version: u64,
) -> Result<Applied, R::Error> {
    if updates.iter().any(|(_, v)| v.count == 0) {
        return Err(Error::InvalidIndexUpdate("a value with count 0").into());
    }
    let mut sorted: Vec<Update> = updates.iter().map(|(k, v)| (*k, Change::Set(*v))).collect();
    sorted.sort_unstable_by_key(|u| u.0);
    if sorted.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(Error::InvalidIndexUpdate("a key appears twice in one batch").into());
    }
    run(reader, old_root, &sorted, new_version)
}

/// Applies the entries of one batch of the ledger: `entries` are `(entry index, the key it
/// concerns)` in increasing index order, every index in `[old_root, new_version)`; each key's
/// chain is extended by its indices, starting from its stored value.
///
/// This is [`apply`] without a separate lookup of each key's value: the stored leaf is read
/// on the way down anyway.
///
/// # Errors
/// [`Error::InvalidIndexUpdate`] for indices that do not increase or fall outside
/// `[old_root, new_version)`, or `new_version` not above `old_root`; otherwise as [`apply`].
pub fn apply_entries<R: NodeReader>(
    reader: &R,
    old_root: Option<u64>,
    entries: &[(u64, IndexKey)],
    new_version: u64,
) -> Result<Applied, R::Error> {
    if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(Error::InvalidIndexUpdate("entry indices must be strictly increasing").into());
    }
    let low = old_root.unwrap_or(0);
    if entries.iter().any(|(i, _)| *i < low || *i >= new_version) {
        return Err(Error::InvalidIndexUpdate(
            "an entry index outside [old root version, new version)",
        )
        .into());
    }
    let mut by_key: BTreeMap<IndexKey, Vec<u64>> = BTreeMap::new();
    for (i, k) in entries {
        by_key.entry(*k).or_default().push(*i);
    }
    let sorted: Vec<Update> = by_key
        .into_iter()
        .map(|(k, v)| (k, Change::Append(v)))
        .collect();
    run(reader, old_root, &sorted, new_version)
}

fn run<R: NodeReader>(
    reader: &R,
    old_root: Option<u64>,
    sorted: &[Update],
    new_version: u64,
) -> Result<Applied, R::Error> {
    if let Some(v) = old_root {
        if new_version <= v {
            return Err(
                Error::InvalidIndexUpdate("the new version must be above the old root's").into(),
            );
        }
    }
    if sorted.is_empty() {
        return Ok(Applied {
            root_hash: root_hash(reader, old_root)?,
            nodes: Vec::new(),
            stale: Vec::new(),
        });
    }
    let existing = match old_root {
        None => Existing::None,
        Some(version) => Existing::Stored {
            version,
            leaf: None,
        },
    };
    let mut batch = Batch {
        reader,
        version: new_version,
        out: Vec::with_capacity(sorted.len() * 4),
        stale: Vec::with_capacity(sorted.len() * 4),
    };
    let root = batch.subtree(existing, NibblePath::ROOT, sorted)?;
    Ok(Applied {
        root_hash: root.hash,
        nodes: batch.out,
        stale: batch.stale,
    })
}

/// The value of a key after `change`, from `old` (`Value::NONE` for a new key).
fn changed(old: &Value, change: &Change) -> Result<Value, Error> {
    match change {
        Change::Set(v) => {
            if v.count <= old.count {
                return Err(Error::InvalidIndexUpdate("a key's count must grow"));
            }
            Ok(*v)
        }
        Change::Append(indices) => Ok(indices.iter().fold(*old, |v, &i| v.push(i))),
    }
}

impl<R: NodeReader> Batch<'_, R> {
    /// Writes the subtree at `path` that holds `existing` updated with `updates` (sorted, all
    /// under `path`), and returns the pointer to it.
    fn subtree(
        &mut self,
        existing: Existing,
        path: NibblePath,
        updates: &[Update],
    ) -> Result<Child, R::Error> {
        match existing {
            Existing::None => {
                if let [(key, change)] = updates {
                    let value = changed(&Value::NONE, change)?;
                    return Ok(self.leaf(path, *key, value));
                }
                self.internal(path, [None; 16], updates, None)
            }
            Existing::Moved(old) => self.over_leaf(old, path, updates),
            Existing::Stored { version, leaf } => {
                let key = NodeKey { version, path };
                let node = read(self.reader, &key)?;
                self.stale.push(key);
                match (node, leaf) {
                    (Node::Leaf(old), None | Some(true)) => {
                        if !path.is_prefix_of(&old.key) {
                            return Err(corrupt("a leaf stored off its key's path").into());
                        }
                        self.over_leaf(old, path, updates)
                    }
                    (Node::Internal(node), None | Some(false)) => {
                        check_child_versions(&node, version)?;
                        self.internal(path, node.children(), updates, None)
                    }
                    _ => Err(corrupt("a child pointer names the wrong node type").into()),
                }
            }
        }
    }

    /// The subtree at `path` that held only the leaf `old`, updated with `updates`.
    fn over_leaf(
        &mut self,
        old: LeafNode,
        path: NibblePath,
        updates: &[Update],
    ) -> Result<Child, R::Error> {
        match updates.iter().position(|(k, _)| *k == old.key) {
            Some(at) => {
                let value = changed(&old.value, &updates[at].1)?;
                if updates.len() == 1 {
                    return Ok(self.leaf(path, old.key, value));
                }
                // The old key moves down with its new value, next to the other updates.
                let mut rest = updates.to_vec();
                rest.remove(at);
                self.internal(
                    path,
                    [None; 16],
                    &rest,
                    Some(LeafNode {
                        key: old.key,
                        value,
                    }),
                )
            }
            None if updates.is_empty() => Ok(self.leaf(path, old.key, old.value)),
            None => self.internal(path, [None; 16], updates, Some(old)),
        }
    }

    /// Writes the internal node at `path` whose children were `children`, with `updates`
    /// applied and, if given, the leaf `moved` pushed down from `path` into its slot.
    fn internal(
        &mut self,
        path: NibblePath,
        mut children: [Option<Child>; 16],
        updates: &[Update],
        moved: Option<LeafNode>,
    ) -> Result<Child, R::Error> {
        let depth = path.len();
        if depth >= MAX_NIBBLES {
            return Err(corrupt("two keys share all 256 bits").into());
        }
        let moved_nibble = moved.map(|l| l.key.nibble(depth));
        let mut rest = updates;
        for n in 0..16u8 {
            let split = rest.partition_point(|(k, _)| k.nibble(depth) == n);
            let (group, tail) = rest.split_at(split);
            rest = tail;
            let existing = if moved_nibble == Some(n) {
                Existing::Moved(moved.expect("moved_nibble is set"))
            } else if group.is_empty() {
                continue;
            } else {
                match children[usize::from(n)] {
                    None => Existing::None,
                    Some(c) => Existing::Stored {
                        version: c.version,
                        leaf: Some(c.is_leaf),
                    },
                }
            };
            children[usize::from(n)] = Some(self.subtree(existing, path.child(n), group)?);
        }
        debug_assert!(rest.is_empty(), "updates sorted and under path");
        let node = InternalNode::new(children)?;
        let hash = node.hash();
        self.out.push((
            NodeKey {
                version: self.version,
                path,
            },
            Node::Internal(node),
        ));
        Ok(Child {
            hash,
            version: self.version,
            is_leaf: false,
        })
    }

    fn leaf(&mut self, path: NibblePath, key: IndexKey, value: Value) -> Child {
        let leaf = LeafNode { key, value };
        let hash = leaf_hash(&key, &value);
        self.out.push((
            NodeKey {
                version: self.version,
                path,
            },
            Node::Leaf(leaf),
        ));
        Child {
            hash,
            version: self.version,
            is_leaf: true,
        }
    }
}

fn read<R: NodeReader>(reader: &R, key: &NodeKey) -> Result<Node, R::Error> {
    reader
        .node(key)?
        .ok_or_else(|| corrupt("a node the index points to is missing").into())
}

/// A node is written after its children: none may be newer than it.
fn check_child_versions(node: &InternalNode, version: u64) -> Result<(), Error> {
    if node.present.iter().any(|(_, v)| *v > version) {
        return Err(corrupt("a child newer than its parent"));
    }
    Ok(())
}

/// The hash of the index whose root node was written at `root` (`None`: [`EMPTY`]).
///
/// # Errors
/// [`Error::CorruptIndex`] when the root node is missing; storage errors from `reader`.
pub fn root_hash<R: NodeReader>(reader: &R, root: Option<u64>) -> Result<Hash, R::Error> {
    match root {
        None => Ok(EMPTY),
        Some(version) => Ok(read(
            reader,
            &NodeKey {
                version,
                path: NibblePath::ROOT,
            },
        )?
        .hash()),
    }
}

/// A key's path through the map: the siblings (leaf side first) down to the first subtree
/// that is empty or holds one leaf, and that leaf if there is one. A status proof is built
/// from it with [`super::IndexProof::from_map`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapProof {
    /// The siblings, leaf side first.
    pub siblings: Vec<Hash>,
    /// The leaf at the end of the path: the key's own, another key's, or none.
    pub leaf: Option<LeafNode>,
}

/// Reads `key`'s path in the index whose root node was written at `root`.
///
/// Every node read is checked against the hash its parent records, so a damaged store gives
/// an error here rather than a proof that clients reject.
///
/// # Errors
/// [`Error::CorruptIndex`] for missing or inconsistent nodes; storage errors from `reader`.
pub fn prove<R: NodeReader>(
    reader: &R,
    root: Option<u64>,
    key: &IndexKey,
) -> Result<MapProof, R::Error> {
    let mut siblings = Vec::with_capacity(32);
    let Some(version) = root else {
        return Ok(MapProof {
            siblings,
            leaf: None,
        });
    };
    let mut at = NodeKey {
        version,
        path: NibblePath::ROOT,
    };
    let mut expect: Option<Child> = None;
    let leaf = loop {
        let node = match read(reader, &at)? {
            Node::Leaf(l) => {
                check_leaf(&l, &at, expect.as_ref())?;
                break Some(l);
            }
            Node::Internal(n) => n,
        };
        check_child_versions(&node, at.version)?;
        if at.path.len() >= MAX_NIBBLES {
            return Err(corrupt("an internal node below 64 nibbles").into());
        }
        let levels = node.levels();
        if let Some(c) = expect {
            if c.is_leaf || levels[0][0].0 != c.hash {
                return Err(corrupt("a node's hash differs from its parent's record").into());
            }
        }
        let depth = at.path.len();
        let nibble = key.nibble(depth);
        let mut next = None;
        for b in 0..4 {
            let pos = usize::from(nibble >> (3 - b));
            siblings.push(levels[b + 1][pos ^ 1].0);
            match levels[b + 1][pos].1 {
                Shape::Empty => break,
                Shape::Leaf(slot) => {
                    let c = node.child(slot).expect("a leaf shape is a child");
                    next = Some((slot, c));
                    break;
                }
                Shape::Many if b == 3 => {
                    next = Some((nibble, node.child(nibble).expect("a slot with keys")));
                }
                Shape::Many => {}
            }
        }
        let Some((slot, child)) = next else {
            break None;
        };
        at = NodeKey {
            version: child.version,
            path: at.path.child(slot),
        };
        expect = Some(child);
        if child.is_leaf {
            let Node::Leaf(l) = read(reader, &at)? else {
                return Err(corrupt("a child pointer names the wrong node type").into());
            };
            check_leaf(&l, &at, expect.as_ref())?;
            break Some(l);
        }
    };
    siblings.reverse();
    Ok(MapProof { siblings, leaf })
}

fn check_leaf(l: &LeafNode, at: &NodeKey, expect: Option<&Child>) -> Result<(), Error> {
    if !at.path.is_prefix_of(&l.key) {
        return Err(corrupt("a leaf stored off its key's path"));
    }
    if let Some(c) = expect {
        if !c.is_leaf || leaf_hash(&l.key, &l.value) != c.hash {
            return Err(corrupt("a node's hash differs from its parent's record"));
        }
    }
    Ok(())
}

/// Nodes in memory, for tests and tools: a [`NodeReader`] over a hash map.
#[derive(Clone, Debug, Default)]
pub struct MemNodes(pub HashMap<NodeKey, Node>);

impl NodeReader for MemNodes {
    type Error = Error;

    fn node(&self, key: &NodeKey) -> Result<Option<Node>, Error> {
        Ok(self.0.get(key).cloned())
    }
}

/// A whole index in memory: its nodes and the root of every version, for tests and tools
/// (the ledger keeps the same in its storage).
#[derive(Clone, Debug, Default)]
pub struct MemIndex {
    /// Every node written and not pruned.
    pub nodes: MemNodes,
    /// The root hash written at each version.
    pub roots: BTreeMap<u64, Hash>,
    /// The nodes each version made stale.
    pub stale: BTreeMap<u64, Vec<NodeKey>>,
}

impl MemIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// The version of the newest root, if any.
    pub fn latest(&self) -> Option<u64> {
        self.roots.keys().next_back().copied()
    }

    /// Applies a batch at `version` (above every earlier one) and returns the new root.
    ///
    /// # Errors
    /// As [`apply`].
    pub fn apply(&mut self, updates: &[(IndexKey, Value)], version: u64) -> Result<Hash, Error> {
        let applied = apply(&self.nodes, self.latest(), updates, version)?;
        Ok(self.store(applied, version))
    }

    /// Applies one batch of the ledger's entries at `version` and returns the new root.
    ///
    /// # Errors
    /// As [`apply_entries`].
    pub fn apply_entries(
        &mut self,
        entries: &[(u64, IndexKey)],
        version: u64,
    ) -> Result<Hash, Error> {
        let applied = apply_entries(&self.nodes, self.latest(), entries, version)?;
        Ok(self.store(applied, version))
    }

    fn store(&mut self, applied: Applied, version: u64) -> Hash {
        if !applied.nodes.is_empty() {
            self.nodes.0.extend(applied.nodes);
            self.roots.insert(version, applied.root_hash);
            self.stale.insert(version, applied.stale);
        }
        applied.root_hash
    }

    /// Deletes the nodes that only index roots older than `version` reach: afterwards the
    /// index of every checkpoint of size `≥ version` is still provable, older ones are not.
    /// Returns how many nodes were deleted.
    pub fn prune_below(&mut self, version: u64) -> usize {
        let keep = self.stale.split_off(&(version + 1));
        let gone = std::mem::replace(&mut self.stale, keep);
        let mut n = 0;
        for key in gone.into_values().flatten() {
            n += usize::from(self.nodes.0.remove(&key).is_some());
        }
        // Roots older than the newest root at or below `version` are gone with their nodes.
        if let Some(floor) = self.root_version_at(version) {
            self.roots = self.roots.split_off(&floor);
        }
        n
    }

    /// The root node's version for a checkpoint of `size` entries: the greatest `≤ size`.
    pub fn root_version_at(&self, size: u64) -> Option<u64> {
        self.roots.range(..=size).next_back().map(|(v, _)| *v)
    }

    /// The index root for a checkpoint of `size` entries.
    pub fn root_at(&self, size: u64) -> Hash {
        self.roots
            .range(..=size)
            .next_back()
            .map_or(EMPTY, |(_, h)| *h)
    }

    /// `key`'s path in the index of a checkpoint of `size` entries.
    ///
    /// # Errors
    /// As [`prove`].
    pub fn prove(&self, key: &IndexKey, size: u64) -> Result<MapProof, Error> {
        prove(&self.nodes, self.root_version_at(size), key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(first: u8, last: u8) -> IndexKey {
        let mut k = [0u8; 32];
        k[0] = first;
        k[31] = last;
        IndexKey(k)
    }

    fn val(i: u64) -> Value {
        Value::NONE.push(i)
    }

    #[test]
    fn varints_are_minimal() {
        for v in [0u64, 1, 127, 128, 300, 1 << 32, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut s = out.as_slice();
            assert_eq!(get_varint(&mut s).unwrap(), v);
            assert!(s.is_empty());
        }
        for bad in [
            &[0x80u8, 0x00][..],
            &[0xff; 10][..],
            &[0x80][..],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02][..],
        ] {
            let mut s = bad;
            assert!(get_varint(&mut s).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn nibble_paths_round_trip() {
        let k = key(0xab, 0xcd);
        for len in 0..=64 {
            let p = NibblePath::of_key(&k, len);
            assert!(p.is_prefix_of(&k));
            assert_eq!(NibblePath::from_bytes(&p.to_bytes()).unwrap(), p);
            let nk = NodeKey {
                version: 7,
                path: p,
            };
            assert_eq!(NodeKey::from_bytes(&nk.to_bytes()).unwrap(), nk);
            if len < 64 {
                assert_eq!(p.child(k.nibble(len)), NibblePath::of_key(&k, len + 1));
            }
        }
        assert!(NibblePath::from_bytes(&[1, 0xa1]).is_err(), "padding");
        assert!(NibblePath::from_bytes(&[2, 0xa1, 0]).is_err(), "length");
        assert!(NibblePath::from_bytes(&[65]).is_err());
    }

    #[test]
    fn single_key_then_split_moves_the_leaf() {
        let mut idx = MemIndex::new();
        let a = key(0x12, 1);
        let b = key(0x12, 2); // shares 31 bytes with a
        let r1 = idx.apply(&[(a, val(0))], 1).unwrap();
        assert_eq!(r1, leaf_hash(&a, &val(0)));
        let r2 = idx.apply(&[(b, val(1))], 2).unwrap();
        // The binary tree: a and b differ only at bit 254; everything above collapses into
        // interior nodes with one empty side.
        let mut h = node_hash(&leaf_hash(&a, &val(0)), &leaf_hash(&b, &val(1)));
        for depth in (0..254).rev() {
            h = if a.bit(depth) {
                node_hash(&EMPTY, &h)
            } else {
                node_hash(&h, &EMPTY)
            };
        }
        assert_eq!(r2, h);
        // Version 2 rewrote the path down to nibble 63 and moved a's leaf.
        let moved = NodeKey {
            version: 2,
            path: NibblePath::of_key(&a, 64),
        };
        assert_eq!(
            idx.nodes.0.get(&moved),
            Some(&Node::Leaf(LeafNode {
                key: a,
                value: val(0)
            }))
        );
    }

    #[test]
    fn refuses_bad_batches() {
        let mut idx = MemIndex::new();
        let a = key(1, 1);
        assert!(idx.apply(&[(a, val(0)), (a, val(1))], 1).is_err());
        assert!(idx.apply(&[(a, Value::NONE)], 1).is_err());
        idx.apply(&[(a, val(0))], 1).unwrap();
        assert!(idx.apply(&[(a, val(5))], 2).is_err(), "count must grow");
        assert!(
            idx.apply(&[(a, val(0).push(3))], 1).is_err(),
            "version must grow"
        );
        assert!(idx.apply(&[(a, val(0).push(3))], 2).is_ok());
    }

    #[test]
    fn a_damaged_store_gives_errors_not_proofs() {
        let mut idx = MemIndex::new();
        let keys: Vec<IndexKey> = (0..60u8).map(|i| key(i.wrapping_mul(29), i)).collect();
        let ups: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, val(i as u64)))
            .collect();
        idx.apply(&ups, 60).unwrap();
        let leaf_at = |idx: &MemIndex, k: &IndexKey| {
            *idx.nodes
                .0
                .iter()
                .find(|(_, n)| matches!(n, Node::Leaf(l) if l.key == *k))
                .unwrap()
                .0
        };
        // A changed value: its parent's record no longer matches.
        let mut changed = idx.clone();
        let at = leaf_at(&changed, &keys[7]);
        changed.nodes.0.insert(
            at,
            Node::Leaf(LeafNode {
                key: keys[7],
                value: val(99),
            }),
        );
        assert!(matches!(
            changed.prove(&keys[7], 60),
            Err(Error::CorruptIndex(_))
        ));
        // A missing node: both proofs and updates through it fail.
        let mut missing = idx.clone();
        let at = leaf_at(&missing, &keys[9]);
        missing.nodes.0.remove(&at);
        assert!(matches!(
            missing.prove(&keys[9], 60),
            Err(Error::CorruptIndex(_))
        ));
        assert!(matches!(
            missing.apply(&[(keys[9], val(9).push(70))], 80),
            Err(Error::CorruptIndex(_))
        ));
        // A leaf stored off its key's path.
        let mut moved = idx.clone();
        let at = leaf_at(&moved, &keys[11]);
        moved.nodes.0.insert(
            at,
            Node::Leaf(LeafNode {
                key: keys[12],
                value: val(11),
            }),
        );
        assert!(moved.prove(&keys[11], 60).is_err());
        // The undamaged store still proves every key.
        for k in &keys {
            assert_eq!(idx.prove(k, 60).unwrap().leaf.unwrap().key, *k);
        }
    }

    #[test]
    fn nodes_round_trip_and_refuse_junk() {
        let mut idx = MemIndex::new();
        let keys: Vec<IndexKey> = (0..40u8).map(|i| key(i.wrapping_mul(13), i)).collect();
        let ups: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, val(i as u64)))
            .collect();
        idx.apply(&ups, 40).unwrap();
        for node in idx.nodes.0.values() {
            let b = node.encode();
            assert_eq!(&Node::decode(&b).unwrap(), node);
            let mut long = b.clone();
            long.push(0);
            assert!(Node::decode(&long).is_err());
            assert!(Node::decode(&b[..b.len() - 1]).is_err());
        }
        // A single-leaf internal node and a leaf bit without a child are refused.
        let mut one = vec![TAG_INTERNAL, 0, 1, 0, 1];
        one.extend_from_slice(&[7u8; 32]);
        one.push(1);
        assert!(Node::decode(&one).is_err());
        assert!(Node::decode(&[TAG_INTERNAL, 0, 0, 0, 1]).is_err());
        let mut zero = vec![TAG_LEAF];
        zero.extend_from_slice(&[1u8; 32]);
        zero.push(0);
        zero.extend_from_slice(&[2u8; 32]);
        assert!(Node::decode(&zero).is_err(), "count 0");
    }
}
