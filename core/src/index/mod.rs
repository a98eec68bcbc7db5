//! The status index (`docs/status-index.md`): a verifiable map, committed to by every signed
//! checkpoint, from each artifact SHA-256 and each signer id to the ordered list of entry
//! indices that concern it. With it a server proves that an answer is the *latest* (no later
//! entry about the hash was left out) and that `unknown` is a real absence.
//!
//! The map is a 256-bit sparse Merkle tree in which a subtree holding a single leaf collapses
//! to that leaf (as in Diem's and Aptos' sparse Merkle trees). Its parts:
//!
//! - [`IndexKey`]: `SHA-256("notarium/index/v1" || 0x00 || kind || key bytes)`.
//! - [`Value`]: how many entries concern the key and the hash chain over their indices.
//! - [`proof`]: status proofs ([`IndexProof`]), their verification, and their canonical JSON
//!   and binary forms.
//! - [`tree`]: the storage model (Jellyfish-Merkle-tree-style versioned 16-ary nodes, never
//!   updated in place), batch updates and proof generation over any [`tree::NodeReader`],
//!   and an in-memory store for tests.
//! - the checkpoint extension line `notarium-index/v1 <base64 root>`: [`crate::checkpoint`]
//!   ([`Checkpoint::index_root`](crate::Checkpoint::index_root)).
//!
//! Out of scope here, as everywhere in `core`: storage and I/O. The ledger stores the nodes
//! [`tree::apply`] returns and reads them back through its own [`tree::NodeReader`].

pub mod proof;
pub mod tree;

use sha2::{Digest, Sha256 as Sha256Hasher};

use crate::entry::Entry;
use crate::hash::{Hash, Sha256};
use crate::Error;

pub use proof::{IndexAnswer, IndexProof, Suffix, Terminal};

/// The hash of a subtree that holds no leaf, and the root of the empty map: 32 zero bytes.
/// No SHA-256 output is expected to equal it, so it never stands for a non-empty subtree.
pub const EMPTY: Hash = Hash([0u8; 32]);

/// The domain-separation string that starts every key derivation.
pub const KEY_DOMAIN: &[u8] = b"notarium/index/v1";

/// Key kind byte of an artifact: the key bytes are the 32 raw bytes of its SHA-256.
pub const KIND_ARTIFACT: u8 = 0x01;
/// Key kind byte of a signer: the key bytes are the UTF-8 of the signer id.
pub const KIND_SIGNER: u8 = 0x02;

/// Prefix byte of a leaf hash.
pub const LEAF_PREFIX: u8 = 0x10;
/// Prefix byte of an interior-node hash.
pub const NODE_PREFIX: u8 = 0x11;
/// Prefix byte of a chain step.
pub const CHAIN_PREFIX: u8 = 0x12;

/// The depth of the tree: keys are 256-bit.
pub const KEY_BITS: usize = 256;

/// The position of a key in the map: a SHA-256 of what the key is about.
///
/// Bits are numbered from 0, most significant bit of the first byte first; bit `i` chooses
/// the right child (1) or the left child (0) at depth `i`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndexKey(pub [u8; 32]);

impl IndexKey {
    /// The key of an artifact: every artifact entry with this SHA-256.
    pub fn artifact(sha256: &Sha256) -> Self {
        Self::derive(KIND_ARTIFACT, &sha256.0)
    }

    /// The key of a signer: the `key` lifecycle entries (created, revoked) of this signer id.
    pub fn signer(id: &str) -> Self {
        Self::derive(KIND_SIGNER, id.as_bytes())
    }

    /// The one key an entry concerns: an artifact entry its SHA-256, a `key` entry the signer
    /// id it creates or revokes (`id`, not `signer`, who performed the change).
    pub fn of_entry(entry: &Entry) -> Self {
        match entry {
            Entry::Artifact(a) => Self::artifact(&a.sha256),
            Entry::Key(k) => Self::signer(&k.id),
        }
    }

    fn derive(kind: u8, bytes: &[u8]) -> Self {
        let mut h = Sha256Hasher::new();
        h.update(KEY_DOMAIN);
        h.update([0x00, kind]);
        h.update(bytes);
        IndexKey(h.finalize().into())
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Bit `i` (`i < 256`), most significant first: `true` means the right child.
    pub fn bit(&self, i: usize) -> bool {
        (self.0[i / 8] >> (7 - i % 8)) & 1 == 1
    }

    /// Nibble `i` (`i < 64`): bits `4i .. 4i+4` as a number, high nibble of each byte first.
    pub fn nibble(&self, i: usize) -> u8 {
        let b = self.0[i / 2];
        if i.is_multiple_of(2) {
            b >> 4
        } else {
            b & 0x0f
        }
    }

    /// How many leading bits `self` and `other` share (256 when equal).
    pub fn common_prefix_bits(&self, other: &IndexKey) -> usize {
        for (i, (a, b)) in self.0.iter().zip(other.0.iter()).enumerate() {
            let x = a ^ b;
            if x != 0 {
                return i * 8 + x.leading_zeros() as usize;
            }
        }
        KEY_BITS
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        Hash(self.0).to_hex()
    }
}

impl std::fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IndexKey({})", self.to_hex())
    }
}

/// What the map holds for a key: `count` entries, and `chain`, the hash chain over their
/// indices (`chain_0 = EMPTY`, `chain_j = SHA-256(0x12 || chain_{j-1} || u64be(i_j))`).
///
/// A value in the map always has `count >= 1`; [`Value::NONE`] is the state before the first
/// entry and is never stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Value {
    /// How many entries concern the key.
    pub count: u64,
    /// `chain_count`.
    pub chain: Hash,
}

impl Value {
    /// No entry yet: `count = 0`, `chain = chain_0 = EMPTY`.
    pub const NONE: Value = Value {
        count: 0,
        chain: EMPTY,
    };

    /// The value after one more entry, at `index`. The caller appends indices in increasing
    /// order (the chain hides them, so nothing here can check it).
    ///
    /// # Panics
    /// Never in practice: only when `count` would pass `u64::MAX`.
    #[must_use]
    pub fn push(&self, index: u64) -> Value {
        Value {
            count: self.count.checked_add(1).expect("fewer than 2^64 entries"),
            chain: chain_step(&self.chain, index),
        }
    }

    /// The value of a key whose entries are exactly `indices`.
    ///
    /// # Errors
    /// [`Error::InvalidIndexUpdate`] unless `indices` is strictly increasing.
    pub fn of(indices: &[u64]) -> Result<Value, Error> {
        if indices.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::InvalidIndexUpdate(
                "entry indices must be strictly increasing",
            ));
        }
        Ok(indices.iter().fold(Value::NONE, |v, &i| v.push(i)))
    }
}

/// `SHA-256(0x12 || prev || u64be(index))`: one step of a value's chain.
pub fn chain_step(prev: &Hash, index: u64) -> Hash {
    let mut buf = [0u8; 41];
    buf[0] = CHAIN_PREFIX;
    buf[1..33].copy_from_slice(&prev.0);
    buf[33..].copy_from_slice(&index.to_be_bytes());
    Hash(Sha256Hasher::digest(buf).into())
}

/// `SHA-256(0x10 || key || u64be(count) || chain)`: the hash of a leaf, and of every subtree
/// that holds only this leaf.
pub fn leaf_hash(key: &IndexKey, value: &Value) -> Hash {
    let mut buf = [0u8; 73];
    buf[0] = LEAF_PREFIX;
    buf[1..33].copy_from_slice(&key.0);
    buf[33..41].copy_from_slice(&value.count.to_be_bytes());
    buf[41..].copy_from_slice(&value.chain.0);
    Hash(Sha256Hasher::digest(buf).into())
}

/// `SHA-256(0x11 || left || right)`: the hash of a subtree holding two leaves or more.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = NODE_PREFIX;
    buf[1..33].copy_from_slice(&left.0);
    buf[33..].copy_from_slice(&right.0);
    Hash(Sha256Hasher::digest(buf).into())
}

/// The root of the map holding exactly `items`, given in strictly increasing key order, in
/// O(256) memory: for an audit that rebuilds the index from the entries without storing any
/// node (the keys' order is that of [`IndexKey`]'s bytes).
///
/// # Errors
/// [`Error::InvalidIndexUpdate`] for keys out of order or repeated, or a count of 0.
pub fn root_of_sorted<I>(items: I) -> Result<Hash, Error>
where
    I: IntoIterator<Item = (IndexKey, Value)>,
{
    /// A finished subtree: a single leaf, or two keys or more branching at depth `top`.
    #[derive(Clone, Copy)]
    struct Part {
        hash: Hash,
        key: IndexKey,
        top: Option<usize>,
    }
    impl Part {
        /// The hash of the subtree as seen from depth `d` (above its branching point, the
        /// path down to it has one empty side at every level).
        fn at(&self, d: usize) -> Hash {
            let Some(top) = self.top else {
                return self.hash;
            };
            (d..top).rev().fold(self.hash, |h, j| {
                if self.key.bit(j) {
                    node_hash(&EMPTY, &h)
                } else {
                    node_hash(&h, &EMPTY)
                }
            })
        }
    }
    // The right spine: at each branching depth, the finished left side.
    let mut spine: Vec<(usize, Part)> = Vec::new();
    let mut current: Option<Part> = None;
    for (key, value) in items {
        if value.count == 0 {
            return Err(Error::InvalidIndexUpdate("a value with count 0"));
        }
        let leaf = Part {
            hash: leaf_hash(&key, &value),
            key,
            top: None,
        };
        let Some(mut right) = current else {
            current = Some(leaf);
            continue;
        };
        if key <= right.key {
            return Err(Error::InvalidIndexUpdate(
                "keys must be strictly increasing",
            ));
        }
        let split = right.key.common_prefix_bits(&key);
        // Close every branching deeper than the new one.
        while let Some(&(depth, left)) = spine.last() {
            if depth <= split {
                break;
            }
            spine.pop();
            right = Part {
                hash: node_hash(&left.at(depth + 1), &right.at(depth + 1)),
                key: right.key,
                top: Some(depth),
            };
        }
        spine.push((split, right));
        current = Some(leaf);
    }
    let Some(mut right) = current else {
        return Ok(EMPTY);
    };
    while let Some((depth, left)) = spine.pop() {
        right = Part {
            hash: node_hash(&left.at(depth + 1), &right.at(depth + 1)),
            key: right.key,
            top: Some(depth),
        };
    }
    Ok(right.at(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_and_nibbles_agree() {
        let k = IndexKey(std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0xa5));
        for n in 0..64 {
            let from_bits = (0..4).fold(0u8, |acc, b| (acc << 1) | u8::from(k.bit(4 * n + b)));
            assert_eq!(k.nibble(n), from_bits, "nibble {n}");
        }
    }

    #[test]
    fn common_prefix() {
        let a = IndexKey([0u8; 32]);
        assert_eq!(a.common_prefix_bits(&a), 256);
        let mut b = a;
        b.0[31] = 1;
        assert_eq!(a.common_prefix_bits(&b), 255);
        b.0[0] = 0x80;
        assert_eq!(a.common_prefix_bits(&b), 0);
        b.0[0] = 0x01;
        assert_eq!(a.common_prefix_bits(&b), 7);
    }

    #[test]
    fn root_of_sorted_refuses_disorder() {
        let a = IndexKey([1u8; 32]);
        let b = IndexKey([2u8; 32]);
        let v = Value::NONE.push(0);
        assert_eq!(root_of_sorted([]).unwrap(), EMPTY);
        assert_eq!(root_of_sorted([(a, v)]).unwrap(), leaf_hash(&a, &v));
        assert!(root_of_sorted([(b, v), (a, v)]).is_err());
        assert!(root_of_sorted([(a, v), (a, v)]).is_err());
        assert!(root_of_sorted([(a, Value::NONE)]).is_err());
    }

    #[test]
    fn value_of_refuses_unsorted() {
        assert!(Value::of(&[1, 1]).is_err());
        assert!(Value::of(&[2, 1]).is_err());
        assert_eq!(Value::of(&[]).unwrap(), Value::NONE);
        let v = Value::of(&[3, 9]).unwrap();
        assert_eq!(v.count, 2);
        assert_eq!(v.chain, chain_step(&chain_step(&EMPTY, 3), 9));
    }
}
