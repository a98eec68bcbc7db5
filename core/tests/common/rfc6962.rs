//! The naive RFC 6962 reference: §2.1 word for word (`MTH`, `PATH`, `PROOF`/`SUBPROOF`) over
//! a list of leaf hashes, with hashing done here with `sha2` rather than through
//! `notarium_core::hash`, and the verifications as those definitions run backwards. Shared by
//! `tests/properties.rs` and the fuzz targets' differential checks (`fuzz/src`), which hold
//! `notarium_core::merkle` to it on any input.

// Each user takes its own subset.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;

use notarium_core::hash::Hash;
use sha2::{Digest as _, Sha256};

pub fn sha256(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    Hash(h.finalize().into())
}

/// `MTH({d(0)}) = SHA-256(0x00 || d(0))`.
pub fn naive_leaf(data: &[u8]) -> Hash {
    sha256(&[&[0x00], data])
}

/// `SHA-256(0x01 || MTH(left) || MTH(right))`.
pub fn naive_node(l: &Hash, r: &Hash) -> Hash {
    sha256(&[&[0x01], &l.0, &r.0])
}

/// "the largest power of two smaller than n" (n > 1), by counting up (`k < n - k` rather
/// than `2k < n`, so that sizes near `2^64` do not overflow).
pub fn k_of(n: u64) -> u64 {
    assert!(n > 1);
    let mut k = 1;
    while k < n - k {
        k *= 2;
    }
    k
}

pub struct Naive {
    /// The leaf hashes `MTH({d(i)})`.
    pub d: Vec<Hash>,
    /// `MTH(D[lo:hi])` depends only on the leaves in the range, so it is memoised across
    /// tree sizes; this changes no result, only the running time.
    pub memo: RefCell<HashMap<(usize, usize), Hash>>,
}

impl Naive {
    pub fn new(d: Vec<Hash>) -> Self {
        Naive {
            d,
            memo: RefCell::new(HashMap::new()),
        }
    }

    /// `MTH(D[lo:hi])`.
    pub fn mth(&self, lo: usize, hi: usize) -> Hash {
        let n = hi - lo;
        if n == 0 {
            return sha256(&[]);
        }
        if n == 1 {
            return self.d[lo];
        }
        if let Some(h) = self.memo.borrow().get(&(lo, hi)) {
            return *h;
        }
        let k = k_of(n as u64) as usize;
        let h = naive_node(&self.mth(lo, lo + k), &self.mth(lo + k, hi));
        self.memo.borrow_mut().insert((lo, hi), h);
        h
    }

    /// `PATH(m, D[lo:hi])`, `m` relative to `lo`.
    pub fn path(&self, m: usize, lo: usize, hi: usize) -> Vec<Hash> {
        let n = hi - lo;
        if n == 1 {
            return Vec::new();
        }
        let k = k_of(n as u64) as usize;
        if m < k {
            let mut p = self.path(m, lo, lo + k);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.path(m - k, lo + k, hi);
            p.push(self.mth(lo, lo + k));
            p
        }
    }

    /// `PROOF(m, D[n]) = SUBPROOF(m, D[n], true)` for `0 < m < n`; empty otherwise.
    pub fn proof(&self, m: usize, n: usize) -> Vec<Hash> {
        if m == 0 || m == n {
            return Vec::new();
        }
        self.subproof(m, 0, n, true)
    }

    /// `SUBPROOF(m, D[lo:hi], b)`.
    pub fn subproof(&self, m: usize, lo: usize, hi: usize, b: bool) -> Vec<Hash> {
        let n = hi - lo;
        if m == n {
            return if b {
                Vec::new()
            } else {
                vec![self.mth(lo, hi)]
            };
        }
        let k = k_of(n as u64) as usize;
        if m <= k {
            let mut p = self.subproof(m, lo, lo + k, b);
            p.push(self.mth(lo + k, hi));
            p
        } else {
            let mut p = self.subproof(m - k, lo + k, hi, false);
            p.push(self.mth(lo, lo + k));
            p
        }
    }
}

/// The root implied by `PATH(m, D[n])`: `PATH`'s recursion run backwards.
pub fn naive_root_from_path(leaf: &Hash, m: u64, n: u64, proof: &[Hash]) -> Option<Hash> {
    if n == 1 {
        return proof.is_empty().then_some(*leaf);
    }
    let (last, rest) = proof.split_last()?;
    let k = k_of(n);
    if m < k {
        Some(naive_node(&naive_root_from_path(leaf, m, k, rest)?, last))
    } else {
        Some(naive_node(
            last,
            &naive_root_from_path(leaf, m - k, n - k, rest)?,
        ))
    }
}

pub fn naive_verify_inclusion(leaf: &Hash, m: u64, n: u64, proof: &[Hash], root: &Hash) -> bool {
    m < n && naive_root_from_path(leaf, m, n, proof).as_ref() == Some(root)
}

/// `SUBPROOF`'s recursion run backwards: `(MTH of the first m leaves, MTH of all n)` of the
/// subtree, where a `b = true` subtree of exactly `m` leaves is the old tree itself.
pub fn naive_subproof_roots(
    m: u64,
    n: u64,
    b: bool,
    proof: &[Hash],
    root1: &Hash,
) -> Option<(Hash, Hash)> {
    if m == n {
        return if b {
            proof.is_empty().then_some((*root1, *root1))
        } else {
            (proof.len() == 1).then(|| (proof[0], proof[0]))
        };
    }
    let (last, rest) = proof.split_last()?;
    let k = k_of(n);
    if m <= k {
        let (old, new) = naive_subproof_roots(m, k, b, rest, root1)?;
        Some((old, naive_node(&new, last)))
    } else {
        let (old, new) = naive_subproof_roots(m - k, n - k, false, rest, root1)?;
        Some((naive_node(last, &old), naive_node(last, &new)))
    }
}

/// Consistency per RFC 6962 §2.1.2, plus the `size1 == 0` policy of the `merkle` module docs:
/// only the empty proof, only from the empty-tree root.
pub fn naive_verify_consistency(
    m: u64,
    n: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> bool {
    let empty = sha256(&[]);
    if m > n {
        return false;
    }
    if m == 0 {
        return proof.is_empty() && *root1 == empty && (n > 0 || root2 == root1);
    }
    if m == n {
        return proof.is_empty() && root1 == root2;
    }
    naive_subproof_roots(m, n, true, proof, root1) == Some((*root1, *root2))
}
