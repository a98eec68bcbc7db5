//! RFC 6962 Merkle tree proofs: generation from any source of node hashes, and verification.
//!
//! Generation follows RFC 6962 §2.1.1 (`PATH`) and §2.1.2 (`PROOF`/`SUBPROOF`); verification
//! follows RFC 9162 §2.1.3.2 and §2.1.4.2. Nodes are addressed as `(level, index)`: the root of
//! the complete subtree over leaves `[index << level, (index + 1) << level)`.
//!
//! Policy for `size1 == 0` consistency proofs: the empty tree is a prefix of every tree, so the
//! only valid proof from size 0 is the empty proof, and it verifies only when `root1` is the
//! empty-tree root `SHA256("")`. A client holding no checkpoint yet simply has nothing to check.

use crate::hash::{node_hash, Hash, LeafIndex, TreeSize};
use crate::Error;

/// A source of complete-subtree hashes, e.g. stored tiles or an in-memory tree.
pub trait NodeSource {
    /// The error a lookup may return (storage failures).
    type Error: From<Error>;

    /// The hash of the complete subtree at `level` and `index`.
    ///
    /// # Errors
    /// Whatever the storage reports; callers only ask for nodes inside the tree.
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[start:end])` for a subtree that appears in RFC 6962's recursion: `start` is aligned
/// to a power of two at least as large as `end - start` (private: callers cannot break that).
fn subtree_hash<S: NodeSource>(src: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    debug_assert!(end > start);
    let len = end - start;
    if len.is_power_of_two() {
        let level = len.trailing_zeros() as u8;
        return src.node(level, start >> level);
    }
    // Fold the complete subtrees of the right edge from the right.
    let mut parts = Vec::with_capacity(64);
    let mut s = start;
    while s < end {
        let k = 1u64 << (63 - (end - s).leading_zeros());
        parts.push((s, k));
        s += k;
    }
    let (last_start, last_len) = parts.pop().expect("len > 0");
    let lvl = last_len.trailing_zeros() as u8;
    let mut acc = src.node(lvl, last_start >> lvl)?;
    while let Some((ps, pl)) = parts.pop() {
        let lvl = pl.trailing_zeros() as u8;
        acc = node_hash(&src.node(lvl, ps >> lvl)?, &acc);
    }
    Ok(acc)
}

/// The root of the tree of `size` leaves.
///
/// # Errors
/// Storage errors from `src`.
pub fn root<S: NodeSource>(src: &S, size: TreeSize) -> Result<Hash, S::Error> {
    if size.0 == 0 {
        return Ok(crate::hash::empty_root());
    }
    subtree_hash(src, 0, size.0)
}

/// The inclusion proof (audit path) of leaf `index` in the tree of `size` leaves, leaf's
/// sibling first (RFC 6962 §2.1.1).
///
/// # Errors
/// [`Error::IndexOutOfRange`] when `index >= size`; storage errors from `src`.
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    index: LeafIndex,
    size: TreeSize,
) -> Result<Vec<Hash>, S::Error> {
    if index.0 >= size.0 {
        return Err(Error::IndexOutOfRange {
            index: index.0,
            size: size.0,
        }
        .into());
    }
    let mut proof = Vec::with_capacity(64);
    let (mut start, mut end, m) = (0u64, size.0, index.0);
    // Walk from the root down, collecting siblings, then reverse (leaf's sibling first).
    while end - start > 1 {
        let k = split_point(end - start);
        if m < start + k {
            proof.push(subtree_hash(src, start + k, end)?);
            end = start + k;
        } else {
            proof.push(subtree_hash(src, start, start + k)?);
            start += k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The consistency proof between the trees of `size1` and `size2` leaves (RFC 6962 §2.1.2).
///
/// # Errors
/// [`Error::InvalidSizes`] unless `size1 <= size2`; storage errors from `src`.
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    size1: TreeSize,
    size2: TreeSize,
) -> Result<Vec<Hash>, S::Error> {
    let (m, n) = (size1.0, size2.0);
    if m > n {
        return Err(Error::InvalidSizes { size1: m, size2: n }.into());
    }
    if m == 0 || m == n {
        return Ok(Vec::new());
    }
    let mut proof = Vec::with_capacity(64);
    // SUBPROOF(m, D[start:end], b), iteratively from the root.
    let (mut start, mut end, mut b) = (0u64, n, true);
    let mut m_rel = m;
    loop {
        let len = end - start;
        if m_rel == len {
            if !b {
                proof.push(subtree_hash(src, start, end)?);
            }
            break;
        }
        let k = split_point(len);
        if m_rel <= k {
            proof.push(subtree_hash(src, start + k, end)?);
            end = start + k;
        } else {
            proof.push(subtree_hash(src, start, start + k)?);
            start += k;
            m_rel -= k;
            b = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Verifies that `leaf` is at `index` in the tree of `size` leaves with root `root`
/// (RFC 9162 §2.1.3.2).
///
/// # Errors
/// [`Error::InvalidProof`] on any mismatch, including a wrong proof length.
pub fn verify_inclusion(
    leaf: &Hash,
    index: LeafIndex,
    size: TreeSize,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    let computed = root_from_inclusion(leaf, index, size, proof)?;
    if &computed != root {
        return Err(Error::InvalidProof(
            "inclusion proof does not lead to the root",
        ));
    }
    Ok(())
}

/// The root implied by an inclusion proof (RFC 9162 §2.1.3.2 steps 1–5).
///
/// # Errors
/// [`Error::InvalidProof`] when the index is out of range or the proof has the wrong length.
pub fn root_from_inclusion(
    leaf: &Hash,
    index: LeafIndex,
    size: TreeSize,
    proof: &[Hash],
) -> Result<Hash, Error> {
    if index.0 >= size.0 {
        return Err(Error::InvalidProof("leaf index is not inside the tree"));
    }
    let (mut fn_, mut sn) = (index.0, size.0 - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(Error::InvalidProof("inclusion proof is too long"));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(Error::InvalidProof("inclusion proof is too short"));
    }
    Ok(r)
}

/// Verifies that the tree of `size1` leaves with `root1` is a prefix of the tree of `size2`
/// leaves with `root2` (RFC 9162 §2.1.4.2). See the module docs for the `size1 == 0` policy.
///
/// # Errors
/// [`Error::InvalidProof`] on any mismatch.
pub fn verify_consistency(
    size1: TreeSize,
    size2: TreeSize,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), Error> {
    let (m, n) = (size1.0, size2.0);
    if m > n {
        return Err(Error::InvalidProof(
            "the first tree is larger than the second",
        ));
    }
    if m == n {
        if !proof.is_empty() {
            return Err(Error::InvalidProof(
                "consistency proof between equal sizes must be empty",
            ));
        }
        if root1 != root2 {
            return Err(Error::InvalidProof("same tree size with different roots"));
        }
        if m == 0 && *root1 != crate::hash::empty_root() {
            return Err(Error::InvalidProof(
                "the root of an empty tree must be SHA256(\"\")",
            ));
        }
        return Ok(());
    }
    if m == 0 {
        if !proof.is_empty() {
            return Err(Error::InvalidProof(
                "consistency proof from the empty tree must be empty",
            ));
        }
        if *root1 != crate::hash::empty_root() {
            return Err(Error::InvalidProof(
                "the root of an empty tree must be SHA256(\"\")",
            ));
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(Error::InvalidProof("consistency proof is empty"));
    }
    // RFC 9162 §2.1.4.2.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if m.is_power_of_two() {
        path.push(*root1);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (m - 1, n - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if sn == 0 {
            return Err(Error::InvalidProof("consistency proof is too long"));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(Error::InvalidProof("consistency proof is too short"));
    }
    if &fr != root1 {
        return Err(Error::InvalidProof(
            "consistency proof does not lead to the first root",
        ));
    }
    if &sr != root2 {
        return Err(Error::InvalidProof(
            "consistency proof does not lead to the second root",
        ));
    }
    Ok(())
}

/// The right edge of a tree: the roots of its maximal complete subtrees, largest first.
///
/// This is all the state an appender needs (O(log n) hashes): appending a leaf merges equal
/// subtrees like a binary counter, and the root is the fold of the edge from the right.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RightEdge {
    size: u64,
    /// `(level, hash)` of each maximal complete subtree, left to right.
    nodes: Vec<(u8, Hash)>,
}

impl RightEdge {
    /// The edge of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the edge of a tree of `size` leaves from its complete subtrees.
    ///
    /// # Errors
    /// Storage errors from `src`.
    pub fn from_source<S: NodeSource>(src: &S, size: TreeSize) -> Result<Self, S::Error> {
        let mut nodes = Vec::new();
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            if size.0 & (1u64 << level) != 0 {
                nodes.push((level, src.node(level, start >> level)?));
                start += 1u64 << level;
            }
        }
        Ok(RightEdge {
            size: size.0,
            nodes,
        })
    }

    /// The number of leaves.
    pub fn size(&self) -> TreeSize {
        TreeSize(self.size)
    }

    /// Appends a leaf hash. `on_complete(level, index, hash)` is called for every complete
    /// subtree this append finishes, the leaf itself (level 0) included.
    pub fn push(&mut self, leaf: Hash, mut on_complete: impl FnMut(u8, u64, &Hash)) {
        let index = self.size;
        on_complete(0, index, &leaf);
        let mut level = 0u8;
        let mut hash = leaf;
        while let Some(&(l, left)) = self.nodes.last() {
            if l != level {
                break;
            }
            self.nodes.pop();
            hash = node_hash(&left, &hash);
            level += 1;
            on_complete(level, index >> level, &hash);
        }
        self.nodes.push((level, hash));
        self.size += 1;
    }

    /// The root hash (`SHA256("")` for the empty tree).
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        match iter.next() {
            None => crate::hash::empty_root(),
            Some(&(_, last)) => iter.fold(last, |acc, (_, h)| node_hash(h, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    struct Mem(Vec<Vec<Hash>>);

    impl Mem {
        fn new(n: u64) -> Self {
            let mut levels = vec![(0..n)
                .map(|i| leaf_hash(&i.to_be_bytes()))
                .collect::<Vec<_>>()];
            while levels.last().unwrap().len() > 1 {
                let prev = levels.last().unwrap();
                let next = prev
                    .chunks_exact(2)
                    .map(|c| node_hash(&c[0], &c[1]))
                    .collect();
                levels.push(next);
            }
            Mem(levels)
        }
    }

    impl NodeSource for Mem {
        type Error = Error;
        fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
            Ok(self.0[level as usize][index as usize])
        }
    }

    #[test]
    fn right_edge_matches_source_root() {
        let mem = Mem::new(300);
        let mut edge = RightEdge::new();
        for i in 0..300u64 {
            assert_eq!(edge.root(), root(&mem, TreeSize(i)).unwrap(), "size {i}");
            assert_eq!(edge, RightEdge::from_source(&mem, TreeSize(i)).unwrap());
            edge.push(leaf_hash(&i.to_be_bytes()), |_, _, _| {});
        }
    }

    #[test]
    fn proofs_roundtrip_small_trees() {
        let mem = Mem::new(64);
        for n in 1..=64u64 {
            let r = root(&mem, TreeSize(n)).unwrap();
            for m in 0..n {
                let p = inclusion_proof(&mem, LeafIndex(m), TreeSize(n)).unwrap();
                verify_inclusion(&mem.0[0][m as usize], LeafIndex(m), TreeSize(n), &p, &r).unwrap();
            }
            for m in 0..=n {
                let r1 = root(&mem, TreeSize(m)).unwrap();
                let p = consistency_proof(&mem, TreeSize(m), TreeSize(n)).unwrap();
                verify_consistency(TreeSize(m), TreeSize(n), &p, &r1, &r).unwrap();
            }
        }
    }
}
