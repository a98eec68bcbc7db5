//! Property tests: `merkle::*` against a naive reference written straight from the RFC 6962
//! §2.1 definitions (`MTH`, `PATH`, `PROOF`/`SUBPROOF`), with hashing done here with `sha2`
//! rather than through `notarium_core::hash`.
//!
//! Every size 1..=64 is checked exhaustively (every index, every size pair), then random sizes
//! up to 5,000 with random indices and size pairs from a fixed-seed splitmix64 generator. Set
//! `NOTARIUM_PROPTEST_SEED` (decimal or 0x-hex) to try another seed; the seed in use is
//! printed, and shown when a test fails.

use std::cell::Cell;

use notarium_core::hash::{Hash, LeafIndex, TreeSize};
use notarium_core::merkle::{self, NodeSource, RightEdge};
use notarium_core::Error;

const DEFAULT_SEED: u64 = 0x6e6f_7461_7269_756d; // "notarium"
/// Leaves in the shared tree: the largest size any test asks for.
const MAX_LEAVES: usize = 5_000;

fn seed() -> u64 {
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
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..n` for test-case selection.
    fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        self.next() % n
    }

    fn hash(&mut self) -> Hash {
        let mut h = [0u8; 32];
        for chunk in h.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        Hash(h)
    }
}

// ---------------------------------------------------------------------------------------------
// The naive reference (RFC 6962 §2.1 word for word) lives in common/rfc6962.rs, shared with
// the fuzz targets.

#[path = "common/rfc6962.rs"]
mod rfc6962;
use rfc6962::*;

// ---------------------------------------------------------------------------------------------
// The source the library reads: complete subtrees of a big tree, refusing any node that is not
// entirely inside the first `size` leaves (a tile store would not have it yet).

struct Levels(Vec<Vec<Hash>>);

impl Levels {
    fn new(leaves: &[Hash]) -> Self {
        let mut levels = vec![leaves.to_vec()];
        while levels.last().expect("non-empty").len() > 1 {
            let next = levels
                .last()
                .expect("non-empty")
                .chunks_exact(2)
                .map(|c| notarium_core::node_hash(&c[0], &c[1]))
                .collect();
            levels.push(next);
        }
        Levels(levels)
    }

    fn view(&self, size: u64) -> View<'_> {
        View {
            levels: self,
            size,
            lookups: Cell::new(0),
        }
    }
}

struct View<'a> {
    levels: &'a Levels,
    size: u64,
    lookups: Cell<u64>,
}

impl NodeSource for View<'_> {
    type Error = Error;
    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        self.lookups.set(self.lookups.get() + 1);
        let end = (index + 1).checked_shl(u32::from(level)).expect("in range");
        assert!(
            end <= self.size,
            "asked for node {level}/{index} outside a tree of {} leaves",
            self.size
        );
        Ok(self.levels.0[usize::from(level)][index as usize])
    }
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut out = *h;
    out.0[bit / 8] ^= 1 << (bit % 8);
    out
}

/// Which bits of each proof hash to flip: all 256, or one random bit.
fn bits_to_flip(rng: &mut Rng, all: bool) -> Vec<usize> {
    if all {
        (0..256).collect()
    } else {
        vec![rng.below(256) as usize]
    }
}

struct Fixture {
    naive: Naive,
    levels: Levels,
    rng: Rng,
    seed: u64,
}

fn fixture() -> Fixture {
    let seed = seed();
    let mut rng = Rng(seed);
    let salt = rng.next();
    let leaves: Vec<Hash> = (0..MAX_LEAVES as u64)
        .map(|i| naive_leaf(&(i ^ salt).to_be_bytes()))
        .collect();
    for (i, l) in leaves.iter().enumerate().take(8) {
        assert_eq!(
            *l,
            notarium_core::leaf_hash(&(i as u64 ^ salt).to_be_bytes())
        );
    }
    Fixture {
        naive: Naive::new(leaves.clone()),
        levels: Levels::new(&leaves),
        rng,
        seed,
    }
}

/// Counters, so that no check can pass by looking at nothing.
#[derive(Default, Debug)]
struct Tally {
    cases: u64,
    rejected_mutations: u64,
    /// Size changes the verifier still accepts (the same path shape): allowed, and checked
    /// against the naive verifier, but counted.
    size_changes_accepted: u64,
}

impl Fixture {
    /// One inclusion case: generation equals the naive `PATH`, it verifies, and every
    /// mutation is rejected, except that a size change gets the naive verifier's verdict.
    /// `all_bits`: flip each of the 256 bits of each proof hash, else one random bit;
    /// `cross_check`: have the naive verifier confirm every rejection too. (Hashing runs at
    /// opt-level 0 in tests, a few microseconds a hash, so the large trees skip both.)
    fn inclusion_case(&mut self, m: u64, n: u64, all_bits: bool, cross_check: bool, t: &mut Tally) {
        let ctx = format!("inclusion m={m} n={n} seed={:#x}", self.seed);
        let view = self.levels.view(n);
        let proof = merkle::inclusion_proof(&view, LeafIndex(m), TreeSize(n)).unwrap();
        assert_eq!(proof, self.naive.path(m as usize, 0, n as usize), "{ctx}");
        let root = self.naive.mth(0, n as usize);
        assert_eq!(merkle::root(&view, TreeSize(n)).unwrap(), root, "{ctx}");
        let leaf = self.naive.d[m as usize];

        let lib = |leaf: &Hash, m: u64, n: u64, p: &[Hash], root: &Hash| {
            merkle::verify_inclusion(leaf, LeafIndex(m), TreeSize(n), p, root).is_ok()
        };
        assert!(lib(&leaf, m, n, &proof, &root), "{ctx}");
        assert!(naive_verify_inclusion(&leaf, m, n, &proof, &root), "{ctx}");
        assert_eq!(
            merkle::root_from_inclusion(&leaf, LeafIndex(m), TreeSize(n), &proof).unwrap(),
            root
        );
        t.cases += 1;

        // Must all be rejected, by both verifiers.
        // Bit flips: by far the most cases, so only the library is asked (the naive verifier
        // is asked about every other mutation below).
        let mut p = proof.clone();
        for i in 0..proof.len() {
            for bit in bits_to_flip(&mut self.rng, all_bits) {
                p[i] = flip(&proof[i], bit);
                assert!(
                    !lib(&leaf, m, n, &p, &root),
                    "{ctx}: flip proof[{i}] bit {bit} was accepted"
                );
                t.rejected_mutations += 1;
            }
            p[i] = proof[i];
        }
        let mut must_fail: Vec<(String, Hash, u64, u64, Vec<Hash>, Hash)> = Vec::new();
        let bit = self.rng.below(256) as usize;
        must_fail.push((
            format!("flip leaf bit {bit}"),
            flip(&leaf, bit),
            m,
            n,
            proof.clone(),
            root,
        ));
        must_fail.push((
            format!("flip root bit {bit}"),
            leaf,
            m,
            n,
            proof.clone(),
            flip(&root, bit),
        ));
        must_fail.push(("index + 1".into(), leaf, m + 1, n, proof.clone(), root));
        if m > 0 {
            must_fail.push(("index - 1".into(), leaf, m - 1, n, proof.clone(), root));
        }
        let extra = self.rng.hash();
        let mut p = proof.clone();
        p.push(extra);
        must_fail.push(("appended hash".into(), leaf, m, n, p, root));
        let mut p = vec![extra];
        p.extend_from_slice(&proof);
        must_fail.push(("prepended hash".into(), leaf, m, n, p, root));
        if let Some(last) = proof.last() {
            let mut p = proof.clone();
            p.push(*last);
            must_fail.push(("repeated last hash".into(), leaf, m, n, p, root));
            must_fail.push((
                "dropped last hash".into(),
                leaf,
                m,
                n,
                proof[..proof.len() - 1].to_vec(),
                root,
            ));
            must_fail.push((
                "dropped first hash".into(),
                leaf,
                m,
                n,
                proof[1..].to_vec(),
                root,
            ));
        }
        if n > 1 {
            let other = self.naive.d[((m + 1) % n) as usize];
            must_fail.push(("another leaf".into(), other, m, n, proof.clone(), root));
        }
        for (what, leaf, m2, n2, p, r) in &must_fail {
            assert!(!lib(leaf, *m2, *n2, p, r), "{ctx}: {what} was accepted");
            if cross_check {
                assert!(
                    !naive_verify_inclusion(leaf, *m2, *n2, p, r),
                    "{ctx}: naive accepts {what}"
                );
            }
            t.rejected_mutations += 1;
        }

        // Size off by one: rejected unless the path has the same shape in the other size;
        // either way the library must agree with the naive verifier.
        for n2 in [n + 1, n - 1] {
            let got = lib(&leaf, m, n2, &proof, &root);
            assert_eq!(
                got,
                naive_verify_inclusion(&leaf, m, n2, &proof, &root),
                "{ctx}: size {n2}"
            );
            if got {
                t.size_changes_accepted += 1;
            } else {
                t.rejected_mutations += 1;
            }
        }
    }

    /// One consistency case, as `inclusion_case`.
    fn consistency_case(
        &mut self,
        m: u64,
        n: u64,
        all_bits: bool,
        cross_check: bool,
        t: &mut Tally,
    ) {
        let ctx = format!("consistency {m} -> {n} seed={:#x}", self.seed);
        let view = self.levels.view(n);
        let proof = merkle::consistency_proof(&view, TreeSize(m), TreeSize(n)).unwrap();
        assert_eq!(proof, self.naive.proof(m as usize, n as usize), "{ctx}");
        let (r1, r2) = (self.naive.mth(0, m as usize), self.naive.mth(0, n as usize));
        let lib = |m: u64, n: u64, p: &[Hash], r1: &Hash, r2: &Hash| {
            merkle::verify_consistency(TreeSize(m), TreeSize(n), p, r1, r2).is_ok()
        };
        assert!(lib(m, n, &proof, &r1, &r2), "{ctx}");
        assert!(naive_verify_consistency(m, n, &proof, &r1, &r2), "{ctx}");
        t.cases += 1;

        let mut p = proof.clone();
        for i in 0..proof.len() {
            for bit in bits_to_flip(&mut self.rng, all_bits) {
                p[i] = flip(&proof[i], bit);
                assert!(
                    !lib(m, n, &p, &r1, &r2),
                    "{ctx}: flip proof[{i}] bit {bit} was accepted"
                );
                t.rejected_mutations += 1;
            }
            p[i] = proof[i];
        }
        let mut must_fail: Vec<(String, u64, u64, Vec<Hash>, Hash, Hash)> = Vec::new();
        let bit = self.rng.below(256) as usize;
        if m < n {
            // With m == n the roots are equal and flipping either one is caught; with m < n
            // root2 is always bound, and root1 too (directly or through the proof).
            must_fail.push((
                format!("flip root1 bit {bit}"),
                m,
                n,
                proof.clone(),
                flip(&r1, bit),
                r2,
            ));
        }
        if m > 0 {
            // From size 0 nothing binds root2 (merkle module docs): that is the policy.
            must_fail.push((
                format!("flip root2 bit {bit}"),
                m,
                n,
                proof.clone(),
                r1,
                flip(&r2, bit),
            ));
        } else {
            assert!(
                lib(m, n, &proof, &r1, &flip(&r2, bit)),
                "{ctx}: size 0 binds no root2"
            );
        }
        if m < n {
            must_fail.push(("swapped roots".into(), m, n, proof.clone(), r2, r1));
        }
        let extra = self.rng.hash();
        let mut p = proof.clone();
        p.push(extra);
        must_fail.push(("appended hash".into(), m, n, p, r1, r2));
        let mut p = vec![extra];
        p.extend_from_slice(&proof);
        must_fail.push(("prepended hash".into(), m, n, p, r1, r2));
        let mut p = vec![r1];
        p.extend_from_slice(&proof);
        must_fail.push(("prepended root1".into(), m, n, p, r1, r2));
        if let Some(last) = proof.last() {
            let mut p = proof.clone();
            p.push(*last);
            must_fail.push(("repeated last hash".into(), m, n, p, r1, r2));
            must_fail.push((
                "dropped last hash".into(),
                m,
                n,
                proof[..proof.len() - 1].to_vec(),
                r1,
                r2,
            ));
            must_fail.push((
                "dropped first hash".into(),
                m,
                n,
                proof[1..].to_vec(),
                r1,
                r2,
            ));
        }
        for (what, m2, n2, p, a, b) in &must_fail {
            assert!(!lib(*m2, *n2, p, a, b), "{ctx}: {what} was accepted");
            if cross_check {
                assert!(
                    !naive_verify_consistency(*m2, *n2, p, a, b),
                    "{ctx}: naive accepts {what}"
                );
            }
            t.rejected_mutations += 1;
        }

        // Sizes off by one, same proof and roots: the library agrees with the naive verifier.
        let mut sizes = vec![(m + 1, n), (m, n + 1)];
        if m > 0 {
            sizes.push((m - 1, n));
        }
        if n > 0 {
            sizes.push((m, n - 1));
        }
        for (m2, n2) in sizes {
            let got = lib(m2, n2, &proof, &r1, &r2);
            let want = naive_verify_consistency(m2, n2, &proof, &r1, &r2);
            assert_eq!(got, want, "{ctx}: sizes {m2} -> {n2}");
            if got {
                t.size_changes_accepted += 1;
            } else {
                t.rejected_mutations += 1;
            }
        }
    }
}

#[test]
fn naive_reference_matches_rfc6962_vectors() {
    // The reference itself is checked against the RFC 6962 tree of shared/vectors, so that
    // agreeing with it means something.
    let leaves: Vec<Hash> = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|h| naive_leaf(&hex::decode(h).unwrap()))
    .collect();
    let naive = Naive::new(leaves);
    let roots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    for (n, want) in roots.iter().enumerate() {
        assert_eq!(naive.mth(0, n).to_hex(), *want, "size {n}");
    }
    // PATH(5, D[8]) and PROOF(6, D[8]) from inclusion_proofs.json / consistency_proofs.json.
    let path: Vec<String> = naive.path(5, 0, 8).iter().map(Hash::to_hex).collect();
    assert_eq!(
        path,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ]
    );
    let proof: Vec<String> = naive.proof(6, 8).iter().map(Hash::to_hex).collect();
    assert_eq!(
        proof,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ]
    );
    assert!(naive_verify_inclusion(
        &naive.d[5],
        5,
        8,
        &naive.path(5, 0, 8),
        &naive.mth(0, 8)
    ));
    assert!(naive_verify_consistency(
        6,
        8,
        &naive.proof(6, 8),
        &naive.mth(0, 6),
        &naive.mth(0, 8)
    ));
    assert!(!naive_verify_consistency(
        6,
        8,
        &naive.proof(6, 8),
        &naive.mth(0, 8),
        &naive.mth(0, 8)
    ));
}

#[test]
fn inclusion_exhaustive_small_trees() {
    let mut f = fixture();
    let mut t = Tally::default();
    for n in 1..=64u64 {
        for m in 0..n {
            f.inclusion_case(m, n, n <= 8, true, &mut t);
        }
    }
    println!("{t:?}");
    assert_eq!(t.cases, (1..=64).sum::<u64>());
    assert!(t.rejected_mutations > 20 * t.cases, "{t:?}");
    assert!(
        t.size_changes_accepted > 0,
        "some size changes keep the path shape: {t:?}"
    );
}

#[test]
fn consistency_exhaustive_small_trees() {
    let mut f = fixture();
    let mut t = Tally::default();
    for n in 1..=64u64 {
        for m in 0..=n {
            f.consistency_case(m, n, n <= 8, true, &mut t);
        }
    }
    println!("{t:?}");
    assert_eq!(t.cases, (1..=64).map(|n| n + 1).sum::<u64>());
    assert!(t.rejected_mutations > 10 * t.cases, "{t:?}");
}

/// Random sizes (plus the powers of two around tile boundaries) up to `MAX_LEAVES`.
fn random_sizes(rng: &mut Rng) -> Vec<u64> {
    let mut sizes = vec![256, 257, 4096, MAX_LEAVES as u64];
    sizes.extend((0..40).map(|_| 1 + rng.below(MAX_LEAVES as u64)));
    sizes
}

#[test]
fn inclusion_random_large_trees() {
    let mut f = fixture();
    let mut t = Tally::default();
    let sizes = random_sizes(&mut f.rng);
    for &n in &sizes {
        let mut indices = vec![0, n - 1, n / 2];
        indices.extend((0..47).map(|_| f.rng.below(n)));
        for m in indices {
            f.inclusion_case(m, n, false, false, &mut t);
        }
    }
    println!("{t:?}");
    assert_eq!(t.cases, sizes.len() as u64 * 50);
    assert!(t.rejected_mutations > 20 * t.cases, "{t:?}");
}

#[test]
fn consistency_random_large_trees() {
    let mut f = fixture();
    let mut t = Tally::default();
    let sizes = random_sizes(&mut f.rng);
    for &n in &sizes {
        let mut pairs = vec![(1, n), (n - 1, n), (n, n), (0, n)];
        pairs.extend((0..46).map(|_| (1 + f.rng.below(n), n)));
        for (m, n) in pairs {
            f.consistency_case(m, n, false, false, &mut t);
        }
    }
    println!("{t:?}");
    assert_eq!(t.cases, sizes.len() as u64 * 50);
    assert!(t.rejected_mutations > 20 * t.cases, "{t:?}");
}

#[test]
fn out_of_range_requests_are_errors() {
    let f = fixture();
    let view = f.levels.view(10);
    for (m, n) in [(10, 10), (11, 10), (0, 0), (u64::MAX, 10)] {
        assert_eq!(
            merkle::inclusion_proof(&view, LeafIndex(m), TreeSize(n)),
            Err(Error::IndexOutOfRange { index: m, size: n })
        );
        assert!(merkle::verify_inclusion(
            &f.naive.d[0],
            LeafIndex(m),
            TreeSize(n),
            &[],
            &f.naive.d[0]
        )
        .is_err());
    }
    assert_eq!(
        merkle::consistency_proof(&view, TreeSize(11), TreeSize(10)),
        Err(Error::InvalidSizes {
            size1: 11,
            size2: 10
        })
    );
    let r = f.naive.mth(0, 10);
    assert!(merkle::verify_consistency(TreeSize(11), TreeSize(10), &[], &r, &r).is_err());
    // Huge sizes with short proofs are rejected, not overflowed.
    let leaf = f.naive.d[0];
    assert!(merkle::verify_inclusion(
        &leaf,
        LeafIndex(u64::MAX - 1),
        TreeSize(u64::MAX),
        &[leaf],
        &leaf
    )
    .is_err());
    assert!(merkle::verify_consistency(
        TreeSize(u64::MAX - 1),
        TreeSize(u64::MAX),
        &[leaf],
        &leaf,
        &leaf
    )
    .is_err());
    assert!(merkle::verify_consistency(
        TreeSize(1 << 63),
        TreeSize(u64::MAX),
        &[leaf],
        &leaf,
        &leaf
    )
    .is_err());
}

/// `RightEdge` (push, root, from_source) against the naive `MTH` at every size up to 1,000;
/// every complete subtree reported by `push` is the right one, and exactly those appear.
#[test]
fn right_edge_matches_naive_root() {
    let f = fixture();
    let mut edge = RightEdge::new();
    let mut reported = 0u64;
    for n in 0..=1000usize {
        let root = f.naive.mth(0, n);
        assert_eq!(edge.root(), root, "size {n} seed={:#x}", f.seed);
        assert_eq!(edge.size(), TreeSize(n as u64));
        assert_eq!(
            RightEdge::from_source(&f.levels.view(n as u64), TreeSize(n as u64)).unwrap(),
            edge
        );
        assert_eq!(
            merkle::root(&f.levels.view(n as u64), TreeSize(n as u64)).unwrap(),
            root
        );
        if n == 1000 {
            break;
        }
        let mut completed = Vec::new();
        edge.push(f.naive.d[n], |level, index, hash| {
            completed.push((level, index, *hash))
        });
        // Leaf n completes the subtrees at levels 0..=trailing_ones(n) that end at n + 1.
        assert_eq!(
            completed.len() as u32,
            (n as u64).trailing_ones() + 1,
            "push {n}"
        );
        for (i, (level, index, hash)) in completed.iter().enumerate() {
            assert_eq!(usize::from(*level), i);
            let (lo, hi) = ((*index as usize) << level, (*index as usize + 1) << level);
            assert_eq!(hi, n + 1, "push {n}: {level}/{index}");
            assert_eq!(*hash, f.naive.mth(lo, hi), "push {n}: {level}/{index}");
            reported += 1;
        }
    }
    // Every complete subtree of a 1,000-leaf tree is reported exactly once.
    assert_eq!(reported, (0..10).map(|l| 1000u64 >> l).sum::<u64>());
}
