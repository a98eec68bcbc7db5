//! Helpers shared by the status-index tests: a fixed-seed generator and the naive reference
//! written straight from `docs/status-index.md` (keys derived with `sha2` here, the map's root
//! by recursion over a sorted list of keys, proofs as the siblings of that recursion).

// Each test binary uses its own subset.
#![allow(dead_code)]

use std::collections::BTreeMap;

use notarium_core::hash::Hash;
use notarium_core::index::{IndexProof, Terminal};
use sha2::{Digest as _, Sha256};

pub const DEFAULT_SEED: u64 = 0x6e6f_7461_7269_756d; // "notarium"

pub fn seed() -> u64 {
    let seed = match std::env::var("NOTARIUM_PROPTEST_SEED") {
        Ok(s) => match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).expect("hex seed"),
            None => s.parse().expect("decimal seed"),
        },
        Err(_) => DEFAULT_SEED,
    };
    println!("seed = {seed:#018x} (set NOTARIUM_PROPTEST_SEED to change)");
    seed
}

/// splitmix64 (Steele, Lea, Flood 2014).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        self.next() % n
    }

    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut h = [0u8; 32];
        for chunk in h.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        h
    }
}

// ---------------------------------------------------------------------------------------------
// The naive reference: docs/status-index.md §2–§5, word for word.

pub fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// §2: `SHA-256("notarium/index/v1" || 0x00 || kind || key bytes)`.
pub fn naive_key(kind: u8, bytes: &[u8]) -> [u8; 32] {
    sha(&[b"notarium/index/v1", &[0x00, kind], bytes])
}

/// §3: `chain_j = SHA-256(0x12 || chain_{j-1} || u64be(i_j))`, `chain_0` = 32 zero bytes.
pub fn naive_chain(indices: &[u64]) -> [u8; 32] {
    indices
        .iter()
        .fold([0u8; 32], |c, i| sha(&[&[0x12], &c, &i.to_be_bytes()]))
}

/// §3: `SHA-256(0x10 || k || u64be(count) || chain_count)`.
pub fn naive_leaf(k: &[u8; 32], indices: &[u64]) -> [u8; 32] {
    let count = indices.len() as u64;
    sha(&[&[0x10], k, &count.to_be_bytes(), &naive_chain(indices)])
}

pub fn naive_bit(k: &[u8; 32], i: usize) -> bool {
    (k[i / 8] >> (7 - i % 8)) & 1 == 1
}

/// The map: each key and the indices of the entries about it.
pub type NaiveMap = BTreeMap<[u8; 32], Vec<u64>>;

/// §4: the hash of the subtree at `depth` holding `keys` (which share their first `depth`
/// bits): EMPTY, the single leaf, or `SHA-256(0x11 || left || right)`.
pub fn naive_root(keys: &[(&[u8; 32], &Vec<u64>)], depth: usize) -> [u8; 32] {
    match keys {
        [] => [0u8; 32],
        [(k, v)] => naive_leaf(k, v),
        _ => {
            let (l, r): (Vec<_>, Vec<_>) = keys.iter().partition(|(k, _)| !naive_bit(k, depth));
            sha(&[
                &[0x11],
                &naive_root(&l, depth + 1),
                &naive_root(&r, depth + 1),
            ])
        }
    }
}

pub fn naive_map_root(m: &NaiveMap) -> Hash {
    let keys: Vec<_> = m.iter().collect();
    Hash(naive_root(&keys, 0))
}

/// §5: the siblings (root side first while walking) down to the first subtree on `q`'s path
/// that holds at most one key, and that key.
pub fn naive_path(m: &NaiveMap, q: &[u8; 32]) -> (Vec<Hash>, Option<[u8; 32]>) {
    let mut keys: Vec<_> = m.iter().collect();
    let mut siblings = Vec::new();
    let mut depth = 0;
    loop {
        match keys.len() {
            0 => break (leaf_side_first(siblings), None),
            1 => break (leaf_side_first(siblings), Some(*keys[0].0)),
            _ => {
                let (ours, other): (Vec<_>, Vec<_>) = keys
                    .iter()
                    .partition(|(k, _)| naive_bit(k, depth) == naive_bit(q, depth));
                siblings.push(Hash(naive_root(&other, depth + 1)));
                keys = ours;
                depth += 1;
            }
        }
    }
}

pub fn leaf_side_first(mut root_first: Vec<Hash>) -> Vec<Hash> {
    root_first.reverse();
    root_first
}

/// The naive map of the first `size` entries of `log` (the key of each entry, in order).
pub fn naive_at(log: &[[u8; 32]], size: usize) -> NaiveMap {
    let mut m = NaiveMap::new();
    for (i, k) in log[..size].iter().enumerate() {
        m.entry(*k).or_default().push(i as u64);
    }
    m
}

/// The root a proof's hashing reaches for `q`, skipping every other check of
/// `docs/status-index.md` §6: negative vectors use it so that the check under test, not a
/// root mismatch, is what must reject them.
pub fn naive_implied_root(q: &[u8; 32], p: &IndexProof) -> Hash {
    let terminal = match &p.terminal {
        Terminal::Empty => [0u8; 32],
        Terminal::Other(l) => sha(&[
            &[0x10],
            &l.key.0,
            &l.value.count.to_be_bytes(),
            &l.value.chain.0,
        ]),
        Terminal::Member(s) => {
            let chain = s
                .indices
                .iter()
                .fold(s.prev.0, |c, i| sha(&[&[0x12], &c, &i.to_be_bytes()]));
            sha(&[&[0x10], q, &s.count.to_be_bytes(), &chain])
        }
    };
    let d = p.siblings.len();
    let root = p.siblings.iter().enumerate().fold(terminal, |h, (i, s)| {
        if naive_bit(q, d - 1 - i) {
            sha(&[&[0x11], &s.0, &h])
        } else {
            sha(&[&[0x11], &h, &s.0])
        }
    });
    Hash(root)
}
