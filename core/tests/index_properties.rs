//! Property tests of the status index (`notarium_core::index`) against the naive reference of
//! `common/mod.rs`, written straight from `docs/status-index.md`: keys derived with `sha2`
//! there, the map's root computed by recursion over a sorted list of keys (no nodes, no
//! versions), proofs as the siblings of that recursion.
//!
//! Random sequences of notarize / untrust / unsupport / create-key / revoke-key entries, in
//! random batches, go through the versioned store ([`MemIndex::apply_entries`]) and, as final
//! values, through [`MemIndex::apply`]; both must give the reference root at every version.
//! Every membership and absence proof, at the latest and at older versions, must equal the
//! reference proof and verify; every mutated proof must be rejected. Keys crafted to share
//! long prefixes (down to 255 bits) exercise deep paths that SHA-256 keys never reach.
//! Pruning the nodes that older batches made stale keeps newer checkpoints provable.
//!
//! The generator is a fixed-seed splitmix64. Set `NOTARIUM_PROPTEST_SEED` (decimal or 0x-hex)
//! to try another seed; the seed in use is printed.

use std::collections::BTreeMap;

use notarium_core::entry::{ArtifactEntry, ArtifactStatus, Entry, KeyAction, KeyEntry, Role};
use notarium_core::hash::{Hash, Sha256 as ArtifactSha256, TreeSize};
use notarium_core::index::tree::{LeafNode, MapProof, MemIndex};
use notarium_core::index::{IndexAnswer, IndexKey, IndexProof, Suffix, Terminal, Value, EMPTY};

mod common;
use common::{naive_at, naive_chain, naive_key, naive_map_root, naive_path, seed, NaiveMap, Rng};

// ---------------------------------------------------------------------------------------------
// Entries.

#[derive(Clone, Copy, Debug)]
enum Op {
    Notarize(usize),
    Untrust(usize),
    Unsupport(usize),
    CreateKey(usize),
    RevokeKey(usize),
}

fn entry_of(op: Op, artifacts: &[[u8; 32]], signers: &[String]) -> Entry {
    let artifact = |i: usize, status| {
        Entry::Artifact(ArtifactEntry {
            v: 1,
            ledger: "default".into(),
            sha256: ArtifactSha256(artifacts[i]),
            name: format!("artifact-{i}.tar.gz"),
            kind: "file".into(),
            size: Some(1234),
            status,
            attributes: BTreeMap::new(),
            ci: BTreeMap::new(),
            identity: None,
            signer: signers[0].clone(),
            time: "2026-11-21T10:00:00.000000Z".into(),
        })
    };
    let key = |i: usize, action| {
        Entry::Key(KeyEntry {
            v: 1,
            ledger: "default".into(),
            action,
            id: signers[i].clone(),
            name: format!("ci key {i}"),
            role: Role::Write,
            signer: "admin".into(),
            time: "2026-11-21T10:00:00.000000Z".into(),
            credential: None,
        })
    };
    match op {
        Op::Notarize(i) => artifact(i, ArtifactStatus::Trusted),
        Op::Untrust(i) => artifact(i, ArtifactStatus::Untrusted),
        Op::Unsupport(i) => artifact(i, ArtifactStatus::Unsupported),
        Op::CreateKey(i) => key(i, KeyAction::Created),
        Op::RevokeKey(i) => key(i, KeyAction::Revoked),
    }
}

fn random_op(rng: &mut Rng, artifacts: usize, signers: usize) -> Op {
    let a = rng.below(artifacts as u64) as usize;
    let s = rng.below(signers as u64) as usize;
    match rng.below(10) {
        0..=4 => Op::Notarize(a),
        5 => Op::Untrust(a),
        6 => Op::Unsupport(a),
        7 | 8 => Op::CreateKey(s),
        _ => Op::RevokeKey(s),
    }
}

/// The root by `index::root_of_sorted` (no nodes, O(256) memory).
fn streamed_root(m: &NaiveMap) -> Hash {
    notarium_core::index::root_of_sorted(
        m.iter()
            .map(|(k, ix)| (IndexKey(*k), Value::of(ix).unwrap())),
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Checking one key at one version.

/// What the reference says about `q` at a version: its indices, if any.
fn expected_answer(m: &NaiveMap, q: &[u8; 32], last: u64) -> IndexAnswer {
    match m.get(q) {
        None => IndexAnswer::Absent,
        Some(ix) => {
            let count = ix.len() as u64;
            let reveal = last.clamp(1, count);
            let from = count - reveal + 1;
            IndexAnswer::Present {
                count,
                from,
                indices: ix[(from - 1) as usize..].to_vec(),
            }
        }
    }
}

/// Proves `q` at `version` from the store, checks the map proof against the reference, builds
/// the status proof revealing `last` indices and verifies it. Returns the proof.
fn check_key(
    idx: &MemIndex,
    m: &NaiveMap,
    root: &Hash,
    size: u64,
    q: &[u8; 32],
    last: u64,
) -> IndexProof {
    let key = IndexKey(*q);
    let map: MapProof = idx.prove(&key, size).unwrap();
    let (siblings, leaf) = naive_path(m, q);
    assert_eq!(map.siblings, siblings, "siblings of {key:?} at size {size}");
    assert_eq!(
        map.leaf.map(|l| l.key.0),
        leaf,
        "leaf of {key:?} at size {size}"
    );
    if let Some(l) = &map.leaf {
        let ix = &m[&l.key.0];
        assert_eq!(l.value.count, ix.len() as u64);
        assert_eq!(l.value.chain.0, naive_chain(ix));
    }
    let indices = m.get(q).cloned().unwrap_or_default();
    let proof = IndexProof::from_map(map, &key, &indices, last).unwrap();
    let answer = proof.verify(&key, root, TreeSize(size)).unwrap();
    assert_eq!(answer, expected_answer(m, q, last), "answer for {key:?}");
    proof
}

// ---------------------------------------------------------------------------------------------
// Mutations: each must be rejected.

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut out = *h;
    out.0[bit / 8] ^= 1 << (7 - bit % 8);
    out
}

fn flip_key(k: &IndexKey, bit: usize) -> IndexKey {
    IndexKey(flip(&Hash(k.0), bit).0)
}

fn mutations(p: &IndexProof, size: u64, rng: &mut Rng) -> Vec<(String, IndexProof)> {
    let mut out = Vec::new();
    let mut push = |name: String, f: &dyn Fn(&mut IndexProof)| {
        let mut m = p.clone();
        f(&mut m);
        assert_ne!(&m, p, "mutation {name} changed nothing");
        out.push((name, m));
    };
    let d = p.siblings.len();
    // Flip a bit in the siblings at both ends and in up to ten others.
    let mut which: Vec<usize> = (0..d).filter(|i| *i == 0 || *i + 1 == d).collect();
    which.extend((0..d.min(10)).map(|_| rng.below(d as u64) as usize));
    which.sort_unstable();
    which.dedup();
    for i in which {
        let bit = rng.below(256) as usize;
        push(format!("flip bit {bit} of sibling {i}"), &|m| {
            m.siblings[i] = flip(&m.siblings[i], bit)
        });
    }
    if d > 0 {
        push("drop the leaf-side sibling".into(), &|m| {
            m.siblings.remove(0);
        });
        push("drop the root-side sibling".into(), &|m| {
            m.siblings.pop();
        });
        if p.siblings[0] != p.siblings[d - 1] {
            push("swap the first and last siblings".into(), &|m| {
                m.siblings.swap(0, d - 1)
            });
        }
    }
    let extra = Hash(rng.bytes32());
    push("add a sibling at the leaf side".into(), &|m| {
        m.siblings.insert(0, extra)
    });
    push("add a sibling at the root side".into(), &|m| {
        m.siblings.push(extra)
    });
    push("add an empty sibling at the leaf side".into(), &|m| {
        m.siblings.insert(0, EMPTY)
    });
    push("add an empty sibling at the root side".into(), &|m| {
        m.siblings.push(EMPTY)
    });
    let fake_member = Terminal::Member(Suffix {
        count: 1,
        from: 1,
        prev: EMPTY,
        indices: vec![0],
    });
    match &p.terminal {
        Terminal::Empty => {
            push("claim membership".into(), &|m| {
                m.terminal = fake_member.clone()
            });
            let other = LeafNode {
                key: IndexKey(rng.bytes32()),
                value: Value::NONE.push(0),
            };
            push("claim another leaf".into(), &|m| {
                m.terminal = Terminal::Other(other)
            });
        }
        Terminal::Other(l) => {
            let l = *l;
            push("flip the other key's last bit".into(), &|m| {
                m.terminal = Terminal::Other(LeafNode {
                    key: flip_key(&l.key, 255),
                    ..l
                })
            });
            let bit = rng.below(256) as usize;
            push(format!("flip bit {bit} of the other key"), &|m| {
                m.terminal = Terminal::Other(LeafNode {
                    key: flip_key(&l.key, bit),
                    ..l
                })
            });
            push("other count + 1".into(), &|m| {
                m.terminal = Terminal::Other(LeafNode {
                    value: Value {
                        count: l.value.count + 1,
                        ..l.value
                    },
                    ..l
                })
            });
            push("other count - 1".into(), &|m| {
                m.terminal = Terminal::Other(LeafNode {
                    value: Value {
                        count: l.value.count - 1,
                        ..l.value
                    },
                    ..l
                })
            });
            push("flip the other chain".into(), &|m| {
                m.terminal = Terminal::Other(LeafNode {
                    value: Value {
                        chain: flip(&l.value.chain, 17),
                        ..l.value
                    },
                    ..l
                })
            });
            push("drop the other leaf".into(), &|m| {
                m.terminal = Terminal::Empty
            });
            push("claim membership".into(), &|m| {
                m.terminal = fake_member.clone()
            });
        }
        Terminal::Member(s) => {
            let s = s.clone();
            let with = |f: &dyn Fn(&mut Suffix)| {
                let mut t = s.clone();
                f(&mut t);
                Terminal::Member(t)
            };
            let cases: Vec<(&str, Terminal)> = vec![
                ("count + 1", with(&|t| t.count += 1)),
                ("count - 1", with(&|t| t.count -= 1)),
                ("from + 1", with(&|t| t.from += 1)),
                ("from - 1", with(&|t| t.from -= 1)),
                ("flip prev", with(&|t| t.prev = flip(&t.prev, 3))),
                ("zero prev", with(&|t| t.prev = EMPTY)),
                (
                    "last index + 1",
                    with(&|t| *t.indices.last_mut().unwrap() += 1),
                ),
                (
                    "first index - 1 (or + 1)",
                    with(&|t| {
                        if t.indices[0] > 0 {
                            t.indices[0] -= 1
                        } else {
                            t.indices[0] += 1
                        }
                    }),
                ),
                (
                    "last index = tree size",
                    with(&|t| *t.indices.last_mut().unwrap() = size),
                ),
                (
                    "hide the latest entry",
                    with(&|t| {
                        t.indices.pop();
                        t.count -= 1;
                    }),
                ),
                (
                    "hide the latest entry, keep the count",
                    with(&|t| {
                        t.indices.pop();
                        t.from = t.from.saturating_sub(1).max(1);
                    }),
                ),
                (
                    "add a later entry",
                    with(&|t| {
                        let last = *t.indices.last().unwrap();
                        t.indices.push(last + 1);
                        t.count += 1;
                    }),
                ),
                ("reverse the indices", with(&|t| t.indices.reverse())),
                ("claim absence", Terminal::Empty),
            ];
            for (name, t) in cases {
                if Terminal::Member(s.clone()) != t {
                    push(name.into(), &|m| m.terminal = t.clone());
                }
            }
        }
    }
    out
}

/// Every mutation of `p` is rejected for `q` at (`root`, `size`); the proof is rejected at
/// other roots and at a size that leaves out the latest entry.
fn check_rejections(
    p: &IndexProof,
    q: &IndexKey,
    root: &Hash,
    size: u64,
    other_roots: &[Hash],
    rng: &mut Rng,
) -> usize {
    let mut n = 0;
    for (name, m) in mutations(p, size, rng) {
        assert!(
            m.verify(q, root, TreeSize(size)).is_err(),
            "mutation {name:?} of {p:?} verified"
        );
        n += 1;
    }
    for r in other_roots {
        if r != root {
            assert!(
                p.verify(q, r, TreeSize(size)).is_err(),
                "verified at another root"
            );
            n += 1;
        }
    }
    match &p.terminal {
        Terminal::Member(s) => {
            let latest = *s.indices.last().unwrap();
            assert!(
                p.verify(q, root, TreeSize(latest)).is_err(),
                "verified in a tree without its latest entry"
            );
            n += 1;
        }
        Terminal::Other(l) => {
            assert!(
                p.verify(q, root, TreeSize(l.value.count - 1)).is_err(),
                "a leaf counting more entries than the tree"
            );
            n += 1;
        }
        Terminal::Empty => {}
    }
    n
}

// ---------------------------------------------------------------------------------------------

/// Random entry sequences through both update paths, every proof at every version.
#[test]
fn entry_sequences_match_the_naive_index() {
    let mut rng = Rng(seed());
    let (mut versions_checked, mut proofs, mut absent, mut rejected) = (0, 0, 0, 0);
    for round in 0..10 {
        let artifacts: Vec<[u8; 32]> = (0..2 + rng.below(30)).map(|_| rng.bytes32()).collect();
        let signers: Vec<String> = (0..1 + rng.below(6))
            .map(|i| format!("k{round}x{i}"))
            .collect();
        let mut idx = MemIndex::new();
        let mut by_value = MemIndex::new();
        let mut log: Vec<[u8; 32]> = Vec::new();
        let mut versions = Vec::new();
        let total = 50 + rng.below(250);
        while (log.len() as u64) < total {
            let batch = 1 + rng.below(24);
            let mut entries = Vec::new();
            for _ in 0..batch {
                let e = entry_of(
                    random_op(&mut rng, artifacts.len(), signers.len()),
                    &artifacts,
                    &signers,
                );
                let key = IndexKey::of_entry(&e);
                let naive = match &e {
                    Entry::Artifact(a) => naive_key(0x01, &a.sha256.0),
                    Entry::Key(k) => naive_key(0x02, k.id.as_bytes()),
                };
                assert_eq!(key.0, naive, "key derivation");
                entries.push((log.len() as u64, key));
                log.push(key.0);
            }
            let version = log.len() as u64;
            let root = idx.apply_entries(&entries, version).unwrap();
            let m = naive_at(&log, log.len());
            assert_eq!(root, naive_map_root(&m), "round {round}, version {version}");
            assert_eq!(root, streamed_root(&m));
            // The same batch as final values.
            let touched: BTreeMap<[u8; 32], ()> = entries.iter().map(|(_, k)| (k.0, ())).collect();
            let updates: Vec<(IndexKey, Value)> = touched
                .keys()
                .map(|k| (IndexKey(*k), Value::of(&m[k]).unwrap()))
                .collect();
            assert_eq!(by_value.apply(&updates, version).unwrap(), root);
            versions.push(version);
        }
        let roots: Vec<Hash> = versions.iter().map(|v| idx.root_at(*v)).collect();
        for &v in &versions {
            let m = naive_at(&log, v as usize);
            let root = idx.root_at(v);
            versions_checked += 1;
            let mut queries: Vec<[u8; 32]> = artifacts
                .iter()
                .map(|a| naive_key(0x01, a))
                .chain(signers.iter().map(|s| naive_key(0x02, s.as_bytes())))
                .collect();
            queries.push(rng.bytes32());
            for q in &queries {
                let last = match rng.below(3) {
                    0 => 1,
                    1 => u64::MAX,
                    _ => 1 + rng.below(4),
                };
                let p = check_key(&idx, &m, &root, v, q, last);
                proofs += 1;
                if !m.contains_key(q) {
                    absent += 1;
                }
                rejected += check_rejections(&p, &IndexKey(*q), &root, v, &roots, &mut rng);
            }
            // A checkpoint between two batches uses the older root; its proofs still verify.
            let between = v + 1;
            if !versions.contains(&between) {
                assert_eq!(idx.root_at(between), root);
            }
        }
    }
    println!("{versions_checked} versions, {proofs} proofs ({absent} absent), {rejected} mutations rejected");
    assert!(versions_checked >= 10 && proofs > 1000 && absent > 100 && rejected > 10_000);
}

/// Keys that share long prefixes (every depth from 0 to 255 bits), updated in random
/// batches: deep paths, chains of one-child internal nodes, leaves pushed down.
#[test]
fn crafted_prefixes_match_the_naive_map() {
    let mut rng = Rng(seed() ^ 0x5eed);
    let (mut proofs, mut deep, mut rejected) = (0, 0, 0);
    for _round in 0..5 {
        let base = rng.bytes32();
        // Keys differing from `base` at one chosen bit, and from each other below it.
        let mut pool: Vec<[u8; 32]> = vec![base];
        for &depth in &[
            0usize, 1, 3, 4, 5, 7, 8, 9, 60, 63, 64, 65, 127, 128, 200, 252, 254, 255,
        ] {
            let mut k = base;
            k[depth / 8] ^= 1 << (7 - depth % 8);
            pool.push(k);
            if depth < 250 {
                let mut k2 = k;
                k2[31] ^= 1;
                pool.push(k2);
            }
        }
        for _ in 0..10 {
            pool.push(rng.bytes32());
        }
        let mut idx = MemIndex::new();
        let mut m = NaiveMap::new();
        let mut next_index = 0u64;
        let mut snapshots: Vec<(u64, NaiveMap)> = Vec::new();
        for _batch in 0..12 {
            let mut updates = BTreeMap::new();
            for _ in 0..1 + rng.below(8) {
                let k = pool[rng.below(pool.len() as u64) as usize];
                let ix = m.entry(k).or_default();
                ix.push(next_index);
                next_index += 1;
                updates.insert(k, Value::of(ix).unwrap());
            }
            next_index += rng.below(3); // entries about keys outside the pool
            let ups: Vec<(IndexKey, Value)> =
                updates.iter().map(|(k, v)| (IndexKey(*k), *v)).collect();
            let root = idx.apply(&ups, next_index).unwrap();
            assert_eq!(root, naive_map_root(&m));
            assert_eq!(root, streamed_root(&m));
            snapshots.push((next_index, m.clone()));
        }
        let roots: Vec<Hash> = snapshots.iter().map(|(v, _)| idx.root_at(*v)).collect();
        for (v, snap) in &snapshots {
            let root = idx.root_at(*v);
            // Every pool key, and neighbours of the present ones one bit away at every depth.
            let mut queries = pool.clone();
            for k in snap.keys().take(4) {
                for bit in [0usize, 100, 200, 255] {
                    let mut q = *k;
                    q[bit / 8] ^= 1 << (7 - bit % 8);
                    queries.push(q);
                }
            }
            for q in &queries {
                let p = check_key(&idx, snap, &root, *v, q, 1 + rng.below(3));
                proofs += 1;
                if p.siblings.len() > 64 {
                    deep += 1;
                }
                // Mutating a proof of up to 256 siblings costs ~256 hashes per try: a quarter
                // of them is plenty.
                if rng.below(4) == 0 {
                    rejected += check_rejections(&p, &IndexKey(*q), &root, *v, &roots, &mut rng);
                }
            }
        }
    }
    println!("{proofs} proofs ({deep} deeper than 64 bits), {rejected} mutations rejected");
    assert!(proofs > 1000 && deep > 100 && rejected > 2_000);
}

/// A proof that verifies for one key proves the truth for any other key it verifies for:
/// an absence proof covers every key down the same path, never a present one.
#[test]
fn a_proof_for_one_key_never_lies_about_another() {
    let mut rng = Rng(seed() ^ 0xa11);
    let mut idx = MemIndex::new();
    let mut m = NaiveMap::new();
    let keys: Vec<[u8; 32]> = (0..300).map(|_| rng.bytes32()).collect();
    let mut i = 0u64;
    for chunk in keys.chunks(50) {
        let mut ups = Vec::new();
        for k in chunk {
            m.insert(*k, vec![i]);
            ups.push((IndexKey(*k), Value::NONE.push(i)));
            i += 1;
        }
        idx.apply(&ups, i).unwrap();
    }
    let root = idx.root_at(i);
    let (mut tried, mut accepted) = (0, 0);
    for _ in 0..400 {
        let q = if rng.below(2) == 0 {
            keys[rng.below(300) as usize]
        } else {
            rng.bytes32()
        };
        let p = check_key(&idx, &m, &root, i, &q, 1);
        for other in keys.iter().take(40).chain(std::iter::once(&rng.bytes32())) {
            tried += 1;
            if let Ok(answer) = p.verify(&IndexKey(*other), &root, TreeSize(i)) {
                accepted += 1;
                assert_eq!(
                    answer,
                    expected_answer(&m, other, 1),
                    "a proof lied about a key"
                );
            }
        }
    }
    println!("{tried} cross-checks, {accepted} accepted (each one true)");
    assert!(tried > 10_000);
}

/// Both wire forms round-trip byte for byte and refuse every truncation, extension and
/// single-bit flip (or the flipped proof fails to verify).
#[test]
fn encodings_round_trip_and_refuse_junk() {
    let mut rng = Rng(seed() ^ 0xb17e);
    let mut idx = MemIndex::new();
    let mut m = NaiveMap::new();
    let mut next = 0u64;
    for _ in 0..8 {
        let mut ups = BTreeMap::new();
        for _ in 0..25 {
            let k = if rng.below(3) == 0 && !m.is_empty() {
                *m.keys().nth(rng.below(m.len() as u64) as usize).unwrap()
            } else {
                rng.bytes32()
            };
            let ix = m.entry(k).or_default();
            ix.push(next);
            next += 1;
            ups.insert(k, Value::of(ix).unwrap());
        }
        let ups: Vec<_> = ups.into_iter().map(|(k, v)| (IndexKey(k), v)).collect();
        idx.apply(&ups, next).unwrap();
    }
    let root = idx.root_at(next);
    let (mut flips, mut forms) = (0, 0);
    let present: Vec<[u8; 32]> = m.keys().copied().collect();
    for n in 0..60 {
        let q = if n % 2 == 0 {
            present[rng.below(present.len() as u64) as usize]
        } else {
            rng.bytes32()
        };
        let p = check_key(
            &idx,
            &m,
            &root,
            next,
            &q,
            if n % 3 == 0 { u64::MAX } else { 1 },
        );
        let key = IndexKey(q);
        forms += 1;

        let bin = p.to_bytes();
        assert_eq!(IndexProof::from_bytes(&bin).unwrap(), p);
        for len in 0..bin.len() {
            assert!(
                IndexProof::from_bytes(&bin[..len]).is_err(),
                "truncated to {len}"
            );
        }
        let mut long = bin.clone();
        long.push(0);
        assert!(IndexProof::from_bytes(&long).is_err(), "trailing byte");
        for bit in 0..bin.len() * 8 {
            let mut b = bin.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            if let Ok(parsed) = IndexProof::from_bytes(&b) {
                assert_ne!(parsed, p);
                assert!(
                    parsed.verify(&key, &root, TreeSize(next)).is_err(),
                    "bit {bit} flipped still verifies"
                );
            }
            flips += 1;
        }

        let json = p.to_json();
        let parsed = IndexProof::from_json(&json).unwrap();
        assert_eq!(parsed, p);
        assert_eq!(parsed.to_json(), json);
        // Embedded in a larger document, with other whitespace, through serde.
        let doc = format!("{{ \"status\" : \"x\", \"index_proof\" :\n {json} }}");
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        let embedded: IndexProof = serde_json::from_value(v["index_proof"].clone()).unwrap();
        assert_eq!(embedded, p);
        assert!(
            IndexProof::from_json(&format!(" {json}")).is_err(),
            "whitespace"
        );
        assert!(IndexProof::from_json(&json.replacen(':', ": ", 1)).is_err());
        let upper = json.replacen("\"siblings\":[\"", "\"siblings\":[\"X", 1);
        if upper != json {
            assert!(IndexProof::from_json(&upper).is_err());
        }
        let unknown = json.replacen('{', "{\"extra\":1,", 1);
        assert!(
            serde_json::from_str::<IndexProof>(&unknown).is_err(),
            "unknown field"
        );
        let dup = json.replacen('{', "{\"siblings\":[],", 1);
        assert!(
            serde_json::from_str::<IndexProof>(&dup).is_err(),
            "duplicate field"
        );
        for c in ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] {
            // Uppercase hex anywhere is refused.
            let needle = format!("{c}a");
            if let Some(at) = json.find(&needle) {
                let mut s = json.clone();
                s.replace_range(at + 1..at + 2, "A");
                assert!(
                    serde_json::from_str::<IndexProof>(&s).is_err(),
                    "uppercase hex"
                );
                break;
            }
        }
    }
    println!("{forms} proofs, {flips} single-bit flips of the binary form");
    assert!(forms == 60 && flips > 50_000);
}

/// Deleting the nodes that batches up to a version made stale keeps every newer checkpoint
/// provable, with the same proofs.
#[test]
fn pruned_index_still_proves_newer_checkpoints() {
    let mut rng = Rng(seed() ^ 0x9e0e);
    let (mut pruned, mut proofs) = (0, 0);
    for _round in 0..12 {
        let pool: Vec<[u8; 32]> = (0..40).map(|_| rng.bytes32()).collect();
        let mut idx = MemIndex::new();
        let mut log: Vec<[u8; 32]> = Vec::new();
        let mut versions = Vec::new();
        for _ in 0..15 {
            let entries: Vec<(u64, IndexKey)> = (0..1 + rng.below(10))
                .map(|_| {
                    let k = pool[rng.below(40) as usize];
                    log.push(k);
                    ((log.len() - 1) as u64, IndexKey(k))
                })
                .collect();
            idx.apply_entries(&entries, log.len() as u64).unwrap();
            versions.push(log.len() as u64);
        }
        let before = idx.nodes.0.len();
        // Prune at a checkpoint size that may fall between two batches.
        let cut = versions[rng.below(versions.len() as u64) as usize] + rng.below(2);
        let n = idx.prune_below(cut);
        assert_eq!(idx.nodes.0.len(), before - n);
        pruned += n;
        // A checkpoint of size `cut` uses the newest root at or below it: still provable.
        let floor = *versions.iter().rev().find(|v| **v <= cut).unwrap();
        assert_eq!(idx.root_version_at(cut), Some(floor));
        for &v in versions.iter().filter(|v| **v >= floor) {
            let m = naive_at(&log, v as usize);
            let root = idx.root_at(v);
            assert_eq!(
                root,
                naive_map_root(&m),
                "root at {v} after pruning below {cut}"
            );
            for q in &pool {
                check_key(&idx, &m, &root, v, q, 1 + rng.below(3));
                proofs += 1;
            }
        }
    }
    println!("{pruned} nodes pruned, {proofs} proofs checked after pruning");
    assert!(pruned > 500 && proofs > 800);
}
