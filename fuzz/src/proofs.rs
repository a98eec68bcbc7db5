//! Proofs against the naive references: RFC 6962 inclusion and consistency
//! (`core/tests/common/rfc6962.rs`), status-index proofs (`core/tests/common/mod.rs`), and the
//! index proofs' two wire forms.

use std::cell::RefCell;
use std::sync::OnceLock;

use notarium_core::hash::{leaf_hash, node_hash, Hash, LeafIndex, TreeSize};
use notarium_core::index::proof::JSON_MAX_INT;
use notarium_core::index::tree::{LeafNode, MemIndex};
use notarium_core::index::{IndexAnswer, IndexKey, IndexProof, Terminal, Value, EMPTY};
use notarium_core::merkle::{self, NodeSource};

use crate::index_reference::{naive_at, naive_map_root, NaiveMap};
use crate::rfc6962::{naive_verify_consistency, naive_verify_inclusion, Naive};
use crate::Input;

/// Leaves of the trees the Merkle target proves in: sizes 1 to this.
const MAX_LEAVES: usize = 1024;

/// Every complete subtree of a tree of [`MAX_LEAVES`] leaves, computed once.
struct Levels(Vec<Vec<Hash>>);

fn levels() -> &'static Levels {
    static LEVELS: OnceLock<Levels> = OnceLock::new();
    LEVELS.get_or_init(|| {
        let mut levels = vec![(0..MAX_LEAVES as u64)
            .map(|i| leaf_hash(&i.to_be_bytes()))
            .collect::<Vec<_>>()];
        while levels.last().expect("non-empty").len() > 1 {
            let next = levels
                .last()
                .expect("non-empty")
                .chunks_exact(2)
                .map(|c| node_hash(&c[0], &c[1]))
                .collect();
            levels.push(next);
        }
        Levels(levels)
    })
}

impl NodeSource for Levels {
    type Error = notarium_core::Error;
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error> {
        Ok(self.0[usize::from(level)][index as usize])
    }
}

thread_local! {
    /// The naive tree over the same leaves, memoised across inputs.
    static NAIVE: RefCell<Option<Naive>> = const { RefCell::new(None) };
}

fn with_naive<T>(f: impl FnOnce(&Naive) -> T) -> T {
    NAIVE.with(|n| {
        let mut n = n.borrow_mut();
        let naive = n.get_or_insert_with(|| Naive::new(levels().0[0].clone()));
        f(naive)
    })
}

/// Mutates a Merkle proof and its claims as the fuzzer says: bit flips, dropped, repeated,
/// inserted and swapped hashes, other indices, sizes, leaves and roots.
fn mutate(input: &mut Input, proof: &mut Vec<Hash>, nums: [&mut u64; 2], hashes: [&mut Hash; 2]) {
    let [a, b] = nums;
    let [x, y] = hashes;
    for _ in 0..16 {
        if input.is_empty() {
            break;
        }
        let op = input.byte();
        let at = usize::from(input.byte());
        let len = proof.len();
        match op % 10 {
            0 if len > 0 => {
                let bit = usize::from(input.byte());
                proof[at % len].0[bit / 8] ^= 1 << (bit % 8);
            }
            1 if len > 0 => {
                proof.remove(at % len);
            }
            2 if len > 0 => {
                let h = proof[at % len];
                proof.insert(at % len, h);
            }
            3 => proof.insert(at % (len + 1), Hash(input.array())),
            4 if len > 1 => proof.swap(at % len, usize::from(input.byte()) % len),
            5 => *a = a.wrapping_add(u64::from(input.byte())).wrapping_sub(128),
            6 => *b = b.wrapping_add(u64::from(input.byte())).wrapping_sub(128),
            7 => *a = input.u64(),
            8 => *b = input.u64(),
            9 => {
                let node = levels().0[0][at % MAX_LEAVES];
                if input.byte() & 1 == 0 {
                    *x = node;
                } else {
                    *y = node;
                }
            }
            _ => proof.truncate(at % (len + 1)),
        }
    }
}

/// RFC 6962 proofs, differential: core generates the reference's proofs and roots, and core
/// and the reference accept exactly the same mutated inclusion and consistency proofs.
pub fn merkle(data: &[u8]) {
    let mut input = Input::new(data);
    let inclusion = input.byte() & 1 == 0;
    let n = 1 + u64::from(input.u16()) % MAX_LEAVES as u64;
    let tree = levels();
    with_naive(|naive| {
        let root = merkle::root(tree, TreeSize(n)).expect("in memory");
        assert_eq!(root, naive.mth(0, n as usize), "root of {n}");
        if inclusion {
            let m = input.u64() % n;
            let mut proof =
                merkle::inclusion_proof(tree, LeafIndex(m), TreeSize(n)).expect("m < n");
            assert_eq!(
                proof,
                naive.path(m as usize, 0, n as usize),
                "PATH({m}, {n})"
            );
            let (mut m, mut n, mut leaf, mut root) = (m, n, naive.d[m as usize], root);
            mutate(
                &mut input,
                &mut proof,
                [&mut m, &mut n],
                [&mut leaf, &mut root],
            );
            let core =
                merkle::verify_inclusion(&leaf, LeafIndex(m), TreeSize(n), &proof, &root).is_ok();
            let reference = naive_verify_inclusion(&leaf, m, n, &proof, &root);
            assert_eq!(core, reference, "inclusion of {m} in {n}: {proof:?}");
        } else {
            let m = input.u64() % (n + 1);
            let mut proof =
                merkle::consistency_proof(tree, TreeSize(m), TreeSize(n)).expect("m <= n");
            assert_eq!(
                proof,
                naive.proof(m as usize, n as usize),
                "PROOF({m}, {n})"
            );
            let (mut m, mut n, mut r1, mut r2) = (m, n, naive.mth(0, m as usize), root);
            mutate(&mut input, &mut proof, [&mut m, &mut n], [&mut r1, &mut r2]);
            let core =
                merkle::verify_consistency(TreeSize(m), TreeSize(n), &proof, &r1, &r2).is_ok();
            let reference = naive_verify_consistency(m, n, &proof, &r1, &r2);
            assert_eq!(core, reference, "consistency {m} → {n}: {proof:?}");
        }
    });
}

/// Both wire forms of an index proof: each refuses everything but its canonical form, so what
/// parses renders back to the input, and a proof moves between the forms unchanged (the JSON
/// form only with integers up to 2^53 - 1).
pub fn index_proof(data: &[u8]) {
    if let Ok(p) = IndexProof::from_bytes(data) {
        assert_eq!(p.to_bytes(), data, "binary proof re-encodes differently");
        let json = p.to_json();
        let fits = match &p.terminal {
            Terminal::Empty => true,
            Terminal::Other(l) => l.value.count <= JSON_MAX_INT,
            Terminal::Member(s) => [s.count, s.from]
                .iter()
                .chain(&s.indices)
                .all(|&n| n <= JSON_MAX_INT),
        };
        assert_eq!(
            IndexProof::from_json(&json).ok().as_ref(),
            fits.then_some(&p)
        );
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = IndexProof::from_json(text) {
        assert_eq!(p.to_json(), text);
        assert_eq!(IndexProof::from_bytes(&p.to_bytes()).as_ref(), Ok(&p));
    }
    // Inside a larger document (a status answer) the same values, in any layout.
    if let Ok(p) = serde_json::from_str::<IndexProof>(text) {
        assert_eq!(IndexProof::from_json(&p.to_json()).as_ref(), Ok(&p));
    }
}

/// What the naive map holds for `q`, as a verified proof would say it.
fn truth(map: &NaiveMap, q: &[u8; 32], last: u64) -> IndexAnswer {
    match map.get(q) {
        None => IndexAnswer::Absent,
        Some(ix) => {
            let count = ix.len() as u64;
            let from = count - last.clamp(1, count) + 1;
            IndexAnswer::Present {
                count,
                from,
                indices: ix[(from - 1) as usize..].to_vec(),
            }
        }
    }
}

/// A key near `base`: the fuzzer picks which bytes differ, so keys share long prefixes and
/// paths run deep.
fn key_near(input: &mut Input, base: &[u8; 32]) -> [u8; 32] {
    let mut k = *base;
    let at = usize::from(input.byte()) % 32;
    k[at] ^= input.byte();
    let at = usize::from(input.byte()) % 32;
    k[at] ^= input.byte() & 0x0f;
    k
}

/// The status index, differential: core's index of a log the fuzzer writes has the naive
/// map's root at every batch; core's proofs give the naive map's answers; and whatever the
/// fuzzer turns a proof into (fields, siblings, terminal, key, size, wire form), a proof that
/// verifies says what the naive map holds for its key.
pub fn index_map(data: &[u8]) {
    let mut input = Input::new(data);
    let base = crate::index_reference::naive_key(1, b"fuzz");
    let nkeys = 1 + usize::from(input.byte() % 8);
    let keys: Vec<[u8; 32]> = (0..nkeys).map(|_| key_near(&mut input, &base)).collect();
    let nentries = u64::from(input.byte() % 48);
    let mut log = Vec::new();
    let mut ends = Vec::new();
    for i in 0..nentries {
        let b = input.byte();
        log.push(keys[usize::from(b & 0x7f) % nkeys]);
        if b & 0x80 != 0 || i + 1 == nentries {
            ends.push(i + 1);
        }
    }
    let mut index = MemIndex::new();
    let mut start = 0u64;
    for &end in &ends {
        let batch: Vec<(u64, IndexKey)> = (start..end)
            .map(|i| (i, IndexKey(log[i as usize])))
            .collect();
        index.apply_entries(&batch, end).expect("a valid batch");
        let naive = naive_at(&log, end as usize);
        assert_eq!(index.root_at(end), naive_map_root(&naive), "root at {end}");
        start = end;
    }
    let size = ends
        .get(usize::from(input.byte()) % ends.len().max(1))
        .copied()
        .unwrap_or(0);
    let map = naive_at(&log, size as usize);
    let root = index.root_at(size);
    let q = if input.byte() & 1 == 0 {
        keys[usize::from(input.byte()) % nkeys]
    } else {
        key_near(&mut input, &base)
    };
    let last = u64::from(input.byte());
    let none = Vec::new();
    let indices = map.get(&q).unwrap_or(&none);
    let mut proof = IndexProof::from_map(
        index.prove(&IndexKey(q), size).expect("in memory"),
        &IndexKey(q),
        indices,
        last,
    )
    .expect("the index agrees with its entries");
    assert_eq!(
        proof.verify(&IndexKey(q), &root, TreeSize(size)),
        Ok(truth(&map, &q, last)),
        "an honest proof"
    );

    let (mut q, mut size) = (q, size);
    for _ in 0..12 {
        if input.is_empty() {
            break;
        }
        mutate_index_proof(&mut input, &mut proof, &map, &mut q, &mut size);
    }
    let proof = match input.byte() % 3 {
        0 => proof,
        1 => match IndexProof::from_json(&proof.to_json()) {
            Ok(p) => p,
            Err(_) => return,
        },
        _ => match IndexProof::from_bytes(&proof.to_bytes()) {
            Ok(p) => p,
            Err(_) => return,
        },
    };
    if let Ok(answer) = proof.verify(&IndexKey(q), &root, TreeSize(size)) {
        match (&answer, map.get(&q)) {
            (IndexAnswer::Absent, None) => {}
            (
                IndexAnswer::Present {
                    count,
                    from,
                    indices,
                },
                Some(all),
            ) => {
                assert_eq!(*count, all.len() as u64, "a wrong count was proven");
                assert!(*from >= 1 && *from <= *count);
                assert_eq!(
                    indices.as_slice(),
                    &all[(*from - 1) as usize..],
                    "wrong entries were proven"
                );
            }
            (a, t) => panic!("the proof says {a:?} of a key the map holds as {t:?}"),
        }
    }
}

/// One change to an index proof or what it is checked for.
fn mutate_index_proof(
    input: &mut Input,
    proof: &mut IndexProof,
    map: &NaiveMap,
    q: &mut [u8; 32],
    size: &mut u64,
) {
    let op = input.byte();
    let at = usize::from(input.byte());
    let len = proof.siblings.len();
    let other = |input: &mut Input| {
        let n = usize::from(input.byte()) % map.len().max(1);
        map.iter().nth(n).map(|(k, ix)| LeafNode {
            key: IndexKey(*k),
            value: Value::of(ix).expect("increasing"),
        })
    };
    match op % 12 {
        0 if len > 0 => {
            let bit = usize::from(input.byte());
            proof.siblings[at % len].0[bit / 8] ^= 1 << (bit % 8);
        }
        1 if len > 0 => {
            proof.siblings.remove(at % len);
        }
        2 => {
            let h = if input.byte() & 1 == 0 {
                EMPTY
            } else {
                Hash(input.array())
            };
            proof.siblings.insert(at % (len + 1), h);
        }
        3 if len > 1 => proof
            .siblings
            .swap(at % len, usize::from(input.byte()) % len),
        4 => proof.terminal = Terminal::Empty,
        5 => {
            if let Some(leaf) = other(input) {
                proof.terminal = Terminal::Other(leaf);
            }
        }
        6 => {
            // Another suffix of the same history: true, so it may verify.
            if let (Terminal::Member(s), Some(all)) = (&mut proof.terminal, map.get(q)) {
                let from = 1 + u64::from(input.byte()) % all.len() as u64;
                let split = (from - 1) as usize;
                s.from = from;
                s.prev = Value::of(&all[..split]).expect("increasing").chain;
                s.indices = all[split..].to_vec();
            }
        }
        7 => {
            if let Terminal::Member(s) = &mut proof.terminal {
                match input.byte() % 6 {
                    0 => {
                        s.count = s
                            .count
                            .wrapping_add(u64::from(input.byte()))
                            .wrapping_sub(128)
                    }
                    1 => {
                        s.from = s
                            .from
                            .wrapping_add(u64::from(input.byte()))
                            .wrapping_sub(128)
                    }
                    2 => s.prev = Hash(input.array()),
                    3 => s.indices.push(input.u64()),
                    4 => {
                        s.indices.pop();
                    }
                    _ => {
                        let n = s.indices.len().max(1);
                        if let Some(i) = s.indices.get_mut(at % n) {
                            *i = i.wrapping_add(u64::from(input.byte())).wrapping_sub(128);
                        }
                    }
                }
            }
        }
        8 => {
            if let Terminal::Other(leaf) = &mut proof.terminal {
                match input.byte() % 3 {
                    0 => leaf.key.0[at % 32] ^= input.byte(),
                    1 => leaf.value.count = input.u64(),
                    _ => leaf.value.chain = Hash(input.array()),
                }
            }
        }
        9 => q[at % 32] ^= 1 << (input.byte() % 8),
        10 => *size = input.u64(),
        _ => proof.siblings.truncate(at % (len + 1)),
    }
}
