//! Figures of the status index at 1,000,000 keys (`docs/status-index.md` §12): proof sizes,
//! proof generation and verification times, and what a batch writes per key. A measurement,
//! not a check, so it is ignored by default; run it in release mode:
//!
//! ```sh
//! cargo test --release -p notarium-core --test index_bench -- --ignored --nocapture
//! ```
//!
//! `NOTARIUM_INDEX_BENCH_KEYS` changes the map size (default 1,000,000).

use std::time::{Duration, Instant};

use notarium_core::hash::TreeSize;
use notarium_core::index::tree::{self, MemIndex, Node};
use notarium_core::index::{self, IndexAnswer, IndexKey, IndexProof, Value};

mod common;
use common::Rng;

/// The SHA-256 calls that computing a node's hash takes: one for a leaf; for an internal
/// node, one per pair of its 16-slot binary tree that holds two keys or more (§4 rule 3).
fn hashes_to_write(n: &Node) -> usize {
    let Node::Internal(node) = n else {
        return 1;
    };
    // 0 = empty, 1 = one leaf, 2 = two keys or more.
    let mut level: Vec<u8> = node
        .children()
        .iter()
        .map(|c| match c {
            None => 0,
            Some(c) if c.is_leaf => 1,
            Some(_) => 2,
        })
        .collect();
    let mut calls = 0;
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|p| match (p[0], p[1]) {
                (0, x) | (x, 0) => x,
                _ => {
                    calls += 1;
                    2
                }
            })
            .collect();
    }
    calls
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[test]
#[ignore = "a measurement (minutes, ~1 GiB of memory): run by hand in release mode"]
fn figures_at_one_million_keys() {
    let keys: u64 = std::env::var("NOTARIUM_INDEX_BENCH_KEYS")
        .ok()
        .map_or(1_000_000, |s| s.parse().expect("a number"));
    let mut rng = Rng(0x6265_6e63_6821);
    let mut idx = MemIndex::new();
    let mut size = 0u64;

    // Fill: one entry per key, in batches of 100,000 (the shape of the map, not a ledger's
    // batching, is what the figures below depend on).
    let t = Instant::now();
    let mut present = Vec::with_capacity(keys as usize);
    while size < keys {
        let n = (keys - size).min(100_000);
        let entries: Vec<(u64, IndexKey)> = (size..size + n)
            .map(|i| {
                let k = IndexKey(rng.bytes32());
                present.push(k);
                (i, k)
            })
            .collect();
        size += n;
        idx.apply_entries(&entries, size).unwrap();
    }
    println!(
        "fill: {keys} keys in {:.1} s ({} nodes stored)",
        t.elapsed().as_secs_f64(),
        idx.nodes.0.len()
    );

    // An audit's rebuild: the root from the values sorted by key, no node stored.
    let mut sorted: Vec<(IndexKey, Value)> = present
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, Value::NONE.push(i as u64)))
        .collect();
    sorted.sort_unstable_by_key(|(k, _)| *k);
    let t = Instant::now();
    let streamed = index::root_of_sorted(sorted).unwrap();
    println!(
        "root_of_sorted: {keys} keys in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(streamed, idx.root_at(size));

    // The cost of one interior-node hash on this machine.
    let hash_ns = {
        let (mut h, n) = (notarium_core::hash::Hash([7u8; 32]), 200_000u32);
        let t = Instant::now();
        for _ in 0..n {
            h = notarium_core::index::node_hash(&h, &h);
        }
        assert_ne!(h.0, [0u8; 32]);
        t.elapsed().as_secs_f64() * 1e9 / f64::from(n)
    };

    // Batches at this size: what one batch writes per key, and the time to compute it (reads
    // from memory: the ledger adds its storage reads and writes).
    for batch in [64u64, 1000, 4096] {
        let rounds = 20;
        let (mut nodes, mut internal, mut bytes, mut key_bytes) = (0usize, 0usize, 0usize, 0usize);
        let mut hashes = 0usize;
        let (mut stale, mut stale_bytes) = (0usize, 0usize);
        let mut time = Duration::ZERO;
        for _ in 0..rounds {
            // 90% new artifacts, 10% later entries about known ones (a status change).
            let entries: Vec<(u64, IndexKey)> = (size..size + batch)
                .map(|i| {
                    let k = if rng.below(10) == 0 {
                        present[rng.below(present.len() as u64) as usize]
                    } else {
                        IndexKey(rng.bytes32())
                    };
                    (i, k)
                })
                .collect();
            let t = Instant::now();
            let applied =
                tree::apply_entries(&idx.nodes, idx.latest(), &entries, size + batch).unwrap();
            time += t.elapsed();
            nodes += applied.nodes.len();
            for (k, n) in &applied.nodes {
                bytes += n.encode().len();
                key_bytes += k.to_bytes().len();
                hashes += hashes_to_write(n);
                if matches!(n, Node::Internal(_)) {
                    internal += 1;
                }
            }
            for k in &applied.stale {
                stale += 1;
                stale_bytes += idx.nodes.0[k].encode().len() + k.to_bytes().len();
            }
            size += batch;
            idx.nodes.0.extend(applied.nodes);
            idx.roots.insert(size, applied.root_hash);
        }
        let per_key = (rounds * batch) as f64;
        println!(
            "batch {batch:>5}: {:.2} nodes/key made stale ({:.0} bytes/key): the index grows by {:.0} bytes/key when stale nodes are pruned",
            stale as f64 / per_key,
            stale_bytes as f64 / per_key,
            (bytes + key_bytes - stale_bytes) as f64 / per_key
        );
        // Chain steps: one per entry.
        hashes += (rounds * batch) as usize;
        println!(
            "batch {batch:>5}: {:.1} SHA-256 calls/key ({:.1} µs/key at {:.0} ns per 65-byte hash)",
            hashes as f64 / per_key,
            hashes as f64 / per_key * hash_ns / 1e3,
            hash_ns
        );
        println!(
            "batch {batch:>5}: {:.2} nodes/key ({:.2} internal + {:.2} leaf), {:.0} node bytes/key + {:.0} key bytes/key, apply {:.1} µs/key ({:.2} ms/batch)",
            nodes as f64 / per_key,
            internal as f64 / per_key,
            (nodes - internal) as f64 / per_key,
            bytes as f64 / per_key,
            key_bytes as f64 / per_key,
            micros(time) / per_key,
            time.as_secs_f64() * 1e3 / rounds as f64,
        );
    }

    // Node sizes in the store.
    let (mut isizes, mut lsize) = (Vec::new(), 0usize);
    for n in idx.nodes.0.values() {
        match n {
            Node::Internal(_) => isizes.push(n.encode().len()),
            Node::Leaf(_) => lsize = n.encode().len(),
        }
    }
    isizes.sort_unstable();
    println!(
        "node bytes: leaf {lsize}; internal median {} p90 {} max {} ({} internal nodes of {} stored)",
        isizes[isizes.len() / 2],
        isizes[isizes.len() * 9 / 10],
        isizes[isizes.len() - 1],
        isizes.len(),
        idx.nodes.0.len()
    );

    // Proofs at the latest version: half of present keys (latest entry), half absent.
    let root = idx.root_at(size);
    let samples = 20_000;
    let (mut gen, mut ver) = (Vec::new(), Vec::new());
    let (mut sib, mut bin, mut json) = (Vec::new(), Vec::new(), Vec::new());
    for s in 0..samples {
        // Fill entry `pos` is the only entry about `present[pos]` unless a batch above added
        // one (then its indices are not tracked here and the sample is skipped).
        let pos = rng.below(present.len() as u64);
        let key = if s % 2 == 0 {
            present[pos as usize]
        } else {
            IndexKey(rng.bytes32())
        };
        let t = Instant::now();
        let map = idx.prove(&key, size).unwrap();
        gen.push(t.elapsed());
        let indices = match map.leaf {
            Some(l) if l.key == key && l.value.count == 1 => vec![pos],
            Some(l) if l.key == key => continue,
            _ => Vec::new(),
        };
        let proof = IndexProof::from_map(map, &key, &indices, 1).unwrap();
        let t = Instant::now();
        let answer = proof.verify(&key, &root, TreeSize(size)).unwrap();
        ver.push(t.elapsed());
        assert_eq!(answer == IndexAnswer::Absent, s % 2 == 1);
        sib.push(proof.siblings.len());
        bin.push(proof.to_bytes().len());
        json.push(proof.to_json().len());
    }
    gen.sort_unstable();
    ver.sort_unstable();
    sib.sort_unstable();
    bin.sort_unstable();
    json.sort_unstable();
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len() as f64;
    println!(
        "proofs ({} samples): siblings mean {:.1} max {}; binary bytes mean {:.0} max {}; JSON bytes mean {:.0} max {}",
        ver.len(),
        mean(&sib),
        sib[sib.len() - 1],
        mean(&bin),
        bin[bin.len() - 1],
        mean(&json),
        json[json.len() - 1]
    );
    println!(
        "prove from memory: median {:.1} µs p99 {:.1} µs; verify: median {:.1} µs p99 {:.1} µs",
        micros(percentile(&gen, 0.5)),
        micros(percentile(&gen, 0.99)),
        micros(percentile(&ver, 0.5)),
        micros(percentile(&ver, 0.99)),
    );
}
