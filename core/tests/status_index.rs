//! The status index's vectors and outside checks.
//!
//! - `tests/data/status_index_v1.json`: maps of several shapes with their roots, proofs of
//!   membership and absence in both wire forms, and negative cases, generated here from
//!   fixed inputs and compared byte for byte (`NOTARIUM_WRITE_VECTORS=1` rewrites the file
//!   after a deliberate change of the format; the diff then shows what changed).
//! - Every vector is checked again with `core` (roots from the versioned store, proofs parsed,
//!   re-encoded and verified, negatives rejected) and with an independent verifier written in
//!   Python from `docs/status-index.md` alone (`tests/independent/status_index.py`).
//! - The checkpoint line: Tessera's signed checkpoint 15 from `../shared/vectors`, re-signed
//!   with its published test key after appending `notarium-index/v1 <root>`, verifies with
//!   `core` and with Go's `golang.org/x/mod/sumdb/note` + `transparency-dev/formats/log`
//!   (`tests/independent/go-checkpoint`, its modules fetched into Go's module cache by
//!   `.ci/install-core.sh`; the test itself runs offline), which ignore the line; changing
//!   the line breaks the signature for both.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use notarium_core::checkpoint::{Checkpoint, UnverifiedCheckpoint, INDEX_LINE_PREFIX};
use notarium_core::hash::{Hash, Sha256 as ArtifactSha256, TreeSize};
use notarium_core::index::tree::{LeafNode, MemIndex};
use notarium_core::index::{IndexAnswer, IndexKey, IndexProof, Suffix, Terminal, Value, EMPTY};
use notarium_core::note::{SignerKey, VerifierKey};
use notarium_core::Error;
use serde_json::{json, Value as Json};

mod common;
use common::{naive_chain, naive_implied_root, naive_leaf, naive_map_root, sha, Rng};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/status_index_v1.json"
);
const TESSERA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/vectors/tessera_tiled_log_15_entries.json"
);

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn hexs(b: &[u8]) -> String {
    hex::encode(b)
}

fn unhex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The maps.

#[derive(Clone)]
enum Subject {
    Artifact([u8; 32]),
    Signer(String),
    /// A raw key, to build shapes that derived keys practically never have.
    Raw([u8; 32]),
}

impl Subject {
    fn key(&self) -> IndexKey {
        match self {
            Subject::Artifact(h) => IndexKey::artifact(&ArtifactSha256(*h)),
            Subject::Signer(id) => IndexKey::signer(id),
            Subject::Raw(k) => IndexKey(*k),
        }
    }

    fn to_json(&self) -> Json {
        match self {
            Subject::Artifact(h) => json!({"artifact": hexs(h)}),
            Subject::Signer(id) => json!({"signer": id}),
            Subject::Raw(_) => Json::Null,
        }
    }
}

fn artifact(name: &str) -> Subject {
    Subject::Artifact(sha(&[name.as_bytes()]))
}

fn signer(id: &str) -> Subject {
    Subject::Signer(id.to_owned())
}

struct MapCase {
    name: &'static str,
    description: &'static str,
    size: u64,
    entries: Vec<(Subject, Vec<u64>)>,
    /// The proofs to publish: subject and how many of the last indices to reveal.
    proofs: Vec<(&'static str, Subject, u64)>,
}

fn with_bit(base: [u8; 32], bit: usize) -> [u8; 32] {
    let mut k = base;
    k[bit / 8] ^= 1 << (7 - bit % 8);
    k
}

fn cases() -> Vec<MapCase> {
    let mut out = Vec::new();
    out.push(MapCase {
        name: "empty",
        description: "The empty map (a ledger of 0 entries): its root is 32 zero bytes and every key is absent with no siblings.",
        size: 0,
        entries: vec![],
        proofs: vec![
            ("an artifact is unknown", artifact("app-1.0.tar.gz"), 1),
            ("a signer was never created", signer("k_demo"), 1),
        ],
    });
    out.push(MapCase {
        name: "one-artifact",
        description: "One artifact notarized trusted (entry 0), untrusted (1), trusted again (2): the root is that one leaf's hash; another key's absence ends at that leaf at depth 0.",
        size: 3,
        entries: vec![(artifact("app-1.0.tar.gz"), vec![0, 1, 2])],
        proofs: vec![
            ("latest entry", artifact("app-1.0.tar.gz"), 1),
            ("last two entries", artifact("app-1.0.tar.gz"), 2),
            ("whole history", artifact("app-1.0.tar.gz"), u64::MAX),
            ("another artifact is unknown", artifact("app-2.0.tar.gz"), 1),
        ],
    });
    out.push(MapCase {
        name: "signer-revoked",
        description:
            "Key k_demo created (entry 0), an artifact it notarized (1), k_demo revoked (2).",
        size: 3,
        entries: vec![
            (signer("k_demo"), vec![0, 2]),
            (artifact("app-1.0.tar.gz"), vec![1]),
        ],
        proofs: vec![
            (
                "the signer's latest entry is its revocation",
                signer("k_demo"),
                1,
            ),
            ("the signer's whole history", signer("k_demo"), u64::MAX),
            ("the artifact", artifact("app-1.0.tar.gz"), 1),
            ("another signer was never created", signer("k_other"), 1),
        ],
    });
    let base = sha(&[b"notarium/vectors/two-keys"]);
    let b = with_bit(base, 255);
    out.push(MapCase {
        name: "two-keys-255-bits",
        description: "Two raw keys that share their first 255 bits: 255 siblings for either, all 32 zero bytes but the leaf-side one; a third key that leaves them at bit 254 is absent at depth 255.",
        size: 3,
        entries: vec![(Subject::Raw(base), vec![0]), (Subject::Raw(b), vec![1, 2])],
        proofs: vec![
            ("first key", Subject::Raw(base), 1),
            ("second key, whole history", Subject::Raw(b), u64::MAX),
            ("a key leaving the pair at bit 254", Subject::Raw(with_bit(base, 254)), 1),
            ("a key leaving the pair at bit 0", Subject::Raw(with_bit(base, 0)), 1),
        ],
    });
    let base = sha(&[b"notarium/vectors/nibbles"]);
    let raw: Vec<[u8; 32]> = vec![
        base,
        with_bit(base, 3),
        with_bit(base, 4),
        with_bit(base, 5),
        with_bit(base, 127),
    ];
    out.push(MapCase {
        name: "keys-around-nibble-borders",
        description: "Five raw keys that part at bits 3, 4, 5 and 127: around the 4-bit borders of the stored 16-ary nodes, which must not show in the binary proofs.",
        size: 5,
        entries: raw
            .iter()
            .enumerate()
            .map(|(i, k)| (Subject::Raw(*k), vec![i as u64]))
            .collect(),
        proofs: vec![
            ("the base key", Subject::Raw(raw[0]), 1),
            ("the key parting at bit 4", Subject::Raw(raw[2]), 1),
            ("the key parting at bit 127", Subject::Raw(raw[4]), 1),
            ("a key parting at bit 6", Subject::Raw(with_bit(base, 6)), 1),
            ("a key parting at bit 200", Subject::Raw(with_bit(base, 200)), 1),
        ],
    });
    out.push(hundreds());
    out
}

/// 300 artifacts and 12 signers, 1,000 entries from a fixed-seed generator.
fn hundreds() -> MapCase {
    let mut rng = Rng(0x7665_6374_6f72_7331); // "vectors1"
    let artifacts: Vec<Subject> = (0..300)
        .map(|i| artifact(&format!("artifact-{i}")))
        .collect();
    let signers: Vec<Subject> = (0..12).map(|i| signer(&format!("k_{i:02}"))).collect();
    let mut log: Vec<usize> = Vec::new(); // subject number per entry: artifacts, then signers
                                          // Every signer is created before anything else; some are revoked later.
    for s in 0..12 {
        log.push(300 + s);
    }
    while log.len() < 1000 {
        if rng.below(20) == 0 {
            log.push(300 + rng.below(12) as usize);
        } else {
            // A skewed choice so that some artifacts have long histories.
            let a = if rng.below(4) == 0 {
                rng.below(10)
            } else {
                rng.below(300)
            };
            log.push(a as usize);
        }
    }
    let mut by_subject: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for (i, s) in log.iter().enumerate() {
        by_subject.entry(*s).or_default().push(i as u64);
    }
    let subject = |n: usize| {
        if n < 300 {
            artifacts[n].clone()
        } else {
            signers[n - 300].clone()
        }
    };
    let entries: Vec<(Subject, Vec<u64>)> = by_subject
        .iter()
        .map(|(n, ix)| (subject(*n), ix.clone()))
        .collect();
    let long = by_subject
        .iter()
        .find(|(n, ix)| **n < 300 && ix.len() >= 6)
        .map(|(n, _)| *n)
        .expect("a long history");
    let single = by_subject
        .iter()
        .find(|(n, ix)| **n < 300 && ix.len() == 1)
        .map(|(n, _)| *n)
        .expect("a single entry");
    let revoked = by_subject
        .iter()
        .find(|(n, ix)| **n >= 300 && ix.len() >= 2)
        .map(|(n, _)| *n)
        .expect("a revoked signer");
    // Unknown artifacts whose paths end at an empty subtree and at another leaf.
    let map: BTreeMap<IndexKey, ()> = entries.iter().map(|(s, _)| (s.key(), ())).collect();
    let mut idx = MemIndex::new();
    let ups: Vec<_> = entries
        .iter()
        .map(|(s, ix)| (s.key(), Value::of(ix).unwrap()))
        .collect();
    idx.apply(&ups, 1000).unwrap();
    let (mut unknown_empty, mut unknown_other) = (None, None);
    for i in 0.. {
        let s = artifact(&format!("unknown-{i}"));
        assert!(!map.contains_key(&s.key()));
        match idx.prove(&s.key(), 1000).unwrap().leaf {
            None if unknown_empty.is_none() => unknown_empty = Some(s),
            Some(_) if unknown_other.is_none() => unknown_other = Some(s),
            _ => {}
        }
        if unknown_empty.is_some() && unknown_other.is_some() {
            break;
        }
    }
    MapCase {
        name: "hundreds",
        description: "A ledger of 1,000 entries about 300 artifacts (some with long histories) and 12 signers (all created first, some revoked later), from a fixed-seed generator.",
        size: 1000,
        entries,
        proofs: vec![
            ("latest entry of a long history", subject(long), 1),
            ("last three entries of a long history", subject(long), 3),
            ("whole long history", subject(long), u64::MAX),
            ("an artifact notarized once", subject(single), 1),
            ("a revoked signer", subject(revoked), 1),
            ("an unknown artifact: empty subtree", unknown_empty.unwrap(), 1),
            ("an unknown artifact: another leaf", unknown_other.unwrap(), 1),
            ("an unknown signer", signer("k_99"), 1),
        ],
    }
}

fn answer_json(a: &IndexAnswer) -> Json {
    match a {
        IndexAnswer::Absent => json!({"kind": "absent"}),
        IndexAnswer::Present {
            count,
            from,
            indices,
        } => json!({"kind": "present", "count": count, "from": from, "indices": indices}),
    }
}

fn terminal_name(p: &IndexProof) -> &'static str {
    match p.terminal {
        Terminal::Empty => "empty",
        Terminal::Other(_) => "other",
        Terminal::Member(_) => "member",
    }
}

struct Built {
    index: MemIndex,
    root: Hash,
    indices: BTreeMap<IndexKey, Vec<u64>>,
}

fn build_map(case: &MapCase) -> Built {
    let mut index = MemIndex::new();
    let mut naive = BTreeMap::new();
    let mut entries: Vec<(u64, IndexKey)> = Vec::new();
    for (s, ix) in &case.entries {
        naive.insert(s.key().0, ix.clone());
        entries.extend(ix.iter().map(|i| (*i, s.key())));
    }
    entries.sort_unstable();
    // Apply in batches of 64 entries, as a ledger would.
    let mut done = 0;
    for chunk in entries.chunks(64) {
        done = chunk.last().unwrap().0 + 1;
        index.apply_entries(chunk, done).unwrap();
    }
    assert!(done <= case.size);
    let root = index.root_at(case.size);
    assert_eq!(root, naive_map_root(&naive), "map {}", case.name);
    let indices = naive.into_iter().map(|(k, v)| (IndexKey(k), v)).collect();
    Built {
        index,
        root,
        indices,
    }
}

fn prove(b: &Built, key: &IndexKey, size: u64, last: u64) -> IndexProof {
    let map = b.index.prove(key, size).unwrap();
    let ix = b.indices.get(key).cloned().unwrap_or_default();
    IndexProof::from_map(map, key, &ix, last).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Negative cases.

/// A negative case: a proof (JSON text and/or binary) that must be refused for `query` at
/// (`root`, `size`).
struct Negative {
    name: String,
    rule: &'static str,
    query: IndexKey,
    root: Hash,
    size: u64,
    json: Option<String>,
    binary: Option<Vec<u8>>,
}

fn negatives(hundreds: &Built, two: &Built) -> Vec<Negative> {
    let mut out = Vec::new();
    let size = 1000;
    let root = hundreds.root;
    let long = hundreds
        .indices
        .iter()
        .find(|(_, ix)| ix.len() >= 6)
        .map(|(k, _)| *k)
        .unwrap();
    let member = prove(hundreds, &long, size, 2);
    let full = prove(hundreds, &long, size, u64::MAX);
    let (mut other, mut empty) = (None, None);
    for i in 0.. {
        let k = artifact(&format!("unknown-{i}")).key();
        let p = prove(hundreds, &k, size, 1);
        match p.terminal {
            Terminal::Other(_) if other.is_none() => other = Some((k, p)),
            Terminal::Empty if empty.is_none() => empty = Some((k, p)),
            _ => {}
        }
        if other.is_some() && empty.is_some() {
            break;
        }
    }
    let (other_q, other) = other.unwrap();
    let (empty_q, empty) = empty.unwrap();

    // A proof that only a structural rule rejects: the root is the one its hashing reaches.
    let mut structural = |name: &str, rule: &'static str, q: IndexKey, p: IndexProof, size: u64| {
        let root = naive_implied_root(&q.0, &p);
        out.push(Negative {
            name: name.into(),
            rule,
            query: q,
            root,
            size,
            json: Some(raw_json(&p)),
            binary: Some(raw_binary(&p)),
        });
    };
    let mut m = suffix_of(&member);
    m.indices.swap(0, 1);
    structural(
        "indices not increasing",
        "6.3",
        long,
        with_suffix(&member, m),
        size,
    );
    let mut m = suffix_of(&member);
    m.indices[1] = m.indices[0];
    structural(
        "a repeated index",
        "6.3",
        long,
        with_suffix(&member, m),
        size,
    );
    let mut m = suffix_of(&full);
    m.prev = Hash(sha(&[b"not zero"]));
    structural(
        "from = 1 with a prev that is not zero",
        "6.3",
        long,
        with_suffix(&full, m),
        size,
    );
    let mut m = suffix_of(&member);
    m.prev = EMPTY;
    structural(
        "from > 1 with a zero prev",
        "6.3",
        long,
        with_suffix(&member, m),
        size,
    );
    let m = Suffix {
        count: 5,
        from: 4,
        prev: Hash(sha(&[b"chain"])),
        indices: vec![1, 2],
    };
    structural(
        "an index smaller than its position",
        "6.3",
        long,
        with_suffix(&member, m),
        size,
    );
    let m = Suffix {
        count: 3,
        from: 2,
        prev: Hash(sha(&[b"chain"])),
        indices: vec![5, 9, 11],
    };
    structural(
        "more indices than count - from + 1",
        "6.3",
        long,
        with_suffix(&member, m),
        size,
    );
    let mut p = empty.clone();
    p.siblings.insert(0, EMPTY);
    structural("the leaf-side sibling is zero", "6.2", empty_q, p, size);
    let mut p = other.clone();
    let Terminal::Other(l) = &mut p.terminal else {
        unreachable!()
    };
    l.key = other_q;
    structural(
        "the other leaf is the query's own key",
        "6.4",
        other_q,
        p,
        size,
    );
    let mut p = other.clone();
    let Terminal::Other(l) = &mut p.terminal else {
        unreachable!()
    };
    l.key = IndexKey(with_bit(l.key.0, 0));
    structural(
        "the other leaf is off the query's path",
        "6.4",
        other_q,
        p,
        size,
    );
    let mut p = other.clone();
    let Terminal::Other(l) = &mut p.terminal else {
        unreachable!()
    };
    l.value.count = 0;
    structural("the other leaf has count 0", "6.4", other_q, p, size);

    // Proofs whose hashing does not reach the root.
    let mut plain =
        |name: &str, rule: &'static str, q: IndexKey, p: &IndexProof, root: Hash, size: u64| {
            out.push(Negative {
                name: name.into(),
                rule,
                query: q,
                root,
                size,
                json: Some(p.to_json()),
                binary: Some(p.to_bytes()),
            });
        };
    let mut p = member.clone();
    p.siblings = (0..257).map(|i| Hash(sha(&[b"s", &[i as u8]]))).collect();
    plain("257 siblings", "6.2", long, &p, root, size);
    let latest = *suffix_of(&member).indices.last().unwrap();
    plain(
        "the tree leaves out the latest index",
        "6.3",
        long,
        &member,
        root,
        latest,
    );
    let Terminal::Other(l) = &other.terminal else {
        unreachable!()
    };
    plain(
        "the other leaf counts more entries than the tree",
        "6.4",
        other_q,
        &other,
        root,
        l.value.count - 1,
    );
    let mut p = member.clone();
    p.siblings[0] = Hash(with_bit(p.siblings[0].0, 77));
    plain(
        "a sibling with one bit flipped",
        "6.6",
        long,
        &p,
        root,
        size,
    );
    let mut p = member.clone();
    p.siblings.pop();
    plain("the root-side sibling dropped", "6.6", long, &p, root, size);
    let mut p = member.clone();
    let mut m = suffix_of(&member);
    m.indices.pop();
    m.count -= 1;
    p.terminal = Terminal::Member(m);
    plain(
        "the latest entry hidden (count and suffix shortened)",
        "6.6",
        long,
        &p,
        root,
        size,
    );
    let mut p = member.clone();
    let mut m = suffix_of(&member);
    let all = &hundreds.indices[&long];
    let (k, r) = (all.len(), m.indices.len());
    m.indices = all[k - 1 - r..k - 1].to_vec();
    m.prev = Value::of(&all[..k - 1 - r]).unwrap().chain;
    p.terminal = Terminal::Member(m);
    plain(
        "the latest entry hidden (older entries shown as the last)",
        "6.6",
        long,
        &p,
        root,
        size,
    );
    let mut p = member.clone();
    p.terminal = Terminal::Empty;
    plain("a present key claimed absent", "6.6", long, &p, root, size);
    let another = hundreds
        .indices
        .keys()
        .find(|k| **k != long)
        .copied()
        .unwrap();
    plain(
        "a proof for another key",
        "6.6",
        another,
        &member,
        root,
        size,
    );
    plain(
        "a proof against another root",
        "6.6",
        long,
        &member,
        two.root,
        size,
    );

    // Encodings that a parser must refuse before any hashing.
    let mut bin = |name: &str, rule: &'static str, bytes: Vec<u8>| {
        out.push(Negative {
            name: name.into(),
            rule,
            query: long,
            root,
            size,
            json: None,
            binary: Some(bytes),
        });
    };
    let good = member.to_bytes();
    let mut b = good.clone();
    b.push(0);
    bin("binary: a trailing byte", "7.2", b);
    bin("binary: truncated", "7.2", good[..good.len() - 1].to_vec());
    bin("binary: empty", "7.2", vec![]);
    let mut b = good.clone();
    b[0] = 0x02;
    bin("binary: unknown format version", "7.2", b);
    let mut b = good.clone();
    b[1] = 0x03;
    bin("binary: unknown terminal kind", "7.2", b);
    let mut b = empty.to_bytes();
    b[1] = 0x02;
    bin("binary: member kind without a suffix", "7.2", b);
    let mut b = good.clone();
    b[2] = 0x01;
    b[3] = 0x01;
    bin("binary: 257 siblings announced", "7.2", b);

    let mut js = |name: &str, rule: &'static str, text: String| {
        out.push(Negative {
            name: name.into(),
            rule,
            query: long,
            root,
            size,
            json: Some(text),
            binary: None,
        });
    };
    let good = member.to_json();
    let sib = member.siblings[0].to_hex();
    js(
        "json: uppercase hex",
        "7.1",
        good.replacen(&sib, &sib.to_uppercase(), 1),
    );
    js(
        "json: 63 hex characters",
        "7.1",
        good.replacen(&sib, &sib[1..], 1),
    );
    js(
        "json: an unknown member",
        "7.1",
        good.replacen('{', "{\"note\":\"x\",", 1),
    );
    js(
        "json: a duplicated member",
        "7.1",
        good.replacen('{', "{\"kind\":\"member\",", 1),
    );
    js(
        "json: whitespace (not the canonical bytes)",
        "7.1",
        good.replacen(',', ", ", 1),
    );
    js("json: members out of order", "7.1", {
        let v: Json = serde_json::from_str(&good).unwrap();
        let mut s = String::from("{");
        for k in ["siblings", "kind", "count", "from", "prev", "indices"] {
            if s.len() > 1 {
                s.push(',');
            }
            s.push_str(&format!("{}:{}", json!(k), v[k]));
        }
        s.push('}');
        s
    });
    let Terminal::Member(m) = &member.terminal else {
        unreachable!()
    };
    let count = format!("\"count\":{}", m.count);
    js(
        "json: a number written as a float",
        "7.1",
        good.replacen(&count, &format!("\"count\":{}.0", m.count), 1),
    );
    js(
        "json: a number with an exponent",
        "7.1",
        good.replacen(&count, &format!("\"count\":{}e0", m.count), 1),
    );
    js(
        "json: a number above 2^53 - 1",
        "7.1",
        good.replacen(&count, "\"count\":9007199254740992", 1),
    );
    js(
        "json: a negative number",
        "7.1",
        good.replacen(&count, "\"count\":-1", 1),
    );
    js(
        "json: a number as a string",
        "7.1",
        good.replacen(&count, &format!("\"count\":\"{}\"", m.count), 1),
    );
    js(
        "json: prev missing",
        "7.1",
        good.replacen(&format!(",\"prev\":\"{}\"", m.prev.to_hex()), "", 1),
    );
    js("json: a member proof with a leaf", "7.1", {
        let Terminal::Other(l) = &other.terminal else {
            unreachable!()
        };
        good.replacen(
            ",\"count\"",
            &format!(
                ",\"leaf\":{{\"key\":\"{}\",\"count\":{},\"chain\":\"{}\"}},\"count\"",
                l.key.to_hex(),
                l.value.count,
                l.value.chain.to_hex()
            ),
            1,
        )
    });
    js(
        "json: an absence proof with a count",
        "7.1",
        empty.to_json().replacen('}', ",\"count\":1}", 1),
    );
    js(
        "json: unknown kind",
        "7.1",
        good.replacen("\"member\"", "\"present\"", 1),
    );
    js(
        "json: siblings not an array",
        "7.1",
        empty
            .to_json()
            .replacen("\"siblings\":[]", "\"siblings\":\"\"", 1),
    );
    let mut rest = out;
    // The deep pair: a zero sibling where the leaf-side one must be non-zero.
    let deep_q = two.indices.keys().next().copied().unwrap();
    let mut p = prove(two, &deep_q, 3, 1);
    p.siblings[0] = EMPTY;
    rest.push(Negative {
        name: "two-keys map: the leaf-side sibling zeroed".into(),
        rule: "6.2",
        query: deep_q,
        root: naive_implied_root(&deep_q.0, &p),
        size: 3,
        json: Some(raw_json(&p)),
        binary: Some(raw_binary(&p)),
    });
    rest
}

fn suffix_of(p: &IndexProof) -> Suffix {
    match &p.terminal {
        Terminal::Member(s) => s.clone(),
        _ => panic!("not a membership proof"),
    }
}

fn with_suffix(p: &IndexProof, s: Suffix) -> IndexProof {
    IndexProof {
        siblings: p.siblings.clone(),
        terminal: Terminal::Member(s),
    }
}

/// The JSON form of a proof that `IndexProof` itself would refuse to write or read (written
/// field by field, as the canonical form lays them out).
fn raw_json(p: &IndexProof) -> String {
    let sib: Vec<String> = p
        .siblings
        .iter()
        .map(|h| format!("\"{}\"", h.to_hex()))
        .collect();
    let sib = sib.join(",");
    match &p.terminal {
        Terminal::Empty => format!("{{\"kind\":\"absent\",\"siblings\":[{sib}]}}"),
        Terminal::Other(l) => format!(
            "{{\"kind\":\"absent\",\"siblings\":[{sib}],\"leaf\":{{\"key\":\"{}\",\"count\":{},\"chain\":\"{}\"}}}}",
            l.key.to_hex(),
            l.value.count,
            l.value.chain.to_hex()
        ),
        Terminal::Member(s) => format!(
            "{{\"kind\":\"member\",\"siblings\":[{sib}],\"count\":{},\"from\":{},\"prev\":\"{}\",\"indices\":[{}]}}",
            s.count,
            s.from,
            s.prev.to_hex(),
            s.indices.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
        ),
    }
}

/// The binary form, written without the checks of `IndexProof::to_bytes`.
fn raw_binary(p: &IndexProof) -> Vec<u8> {
    let mut out = vec![0x01];
    out.push(match p.terminal {
        Terminal::Empty => 0,
        Terminal::Other(_) => 1,
        Terminal::Member(_) => 2,
    });
    out.extend_from_slice(&(p.siblings.len() as u16).to_be_bytes());
    for s in &p.siblings {
        out.extend_from_slice(&s.0);
    }
    match &p.terminal {
        Terminal::Empty => {}
        Terminal::Other(l) => {
            out.extend_from_slice(&l.key.0);
            out.extend_from_slice(&l.value.count.to_be_bytes());
            out.extend_from_slice(&l.value.chain.0);
        }
        Terminal::Member(s) => {
            out.extend_from_slice(&s.count.to_be_bytes());
            out.extend_from_slice(&s.from.to_be_bytes());
            out.extend_from_slice(&s.prev.0);
            for i in &s.indices {
                out.extend_from_slice(&i.to_be_bytes());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The checkpoint line.

fn load_json(path: &str) -> Json {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

struct Tessera {
    vkey: String,
    signer: SignerKey,
    body: String,
    signed: String,
}

fn tessera_checkpoint_15() -> Tessera {
    let v = load_json(TESSERA);
    let cp = &v["checkpoints"][15];
    assert_eq!(cp["tree_size"], 15);
    Tessera {
        vkey: v["verifier_key_vkey"].as_str().unwrap().to_owned(),
        signer: SignerKey::parse(v["signer_key_skey_TEST_ONLY"].as_str().unwrap()).unwrap(),
        body: cp["note_text_signed"].as_str().unwrap().to_owned(),
        signed: cp["signed_note"].as_str().unwrap().to_owned(),
    }
}

fn checkpoint_vectors(index_root: &Hash) -> Json {
    let t = tessera_checkpoint_15();
    let mut cp = Checkpoint::parse_body(&t.body).unwrap();
    assert_eq!(cp.index_root().unwrap(), None);
    cp.set_index_root(index_root);
    let signed = cp.sign(&t.signer).unwrap();
    let line = format!("{INDEX_LINE_PREFIX}{}", index_root.to_base64());
    let b64 = index_root.to_base64();
    let lines = vec![
        (vec![line.clone()], Some(*index_root)),
        (vec!["other/v1 x".into(), line.clone()], Some(*index_root)),
        (vec![], None),
        (vec!["notarium-indexed yes".into()], None),
        (vec![line.clone(), line.clone()], None),
        (vec![format!("notarium-index/v2 {b64}")], None),
        (vec![format!("notarium-index/v1  {b64}")], None),
        (vec![format!("notarium-index/v1 {b64} ")], None),
        (
            vec![format!("notarium-index/v1 {}", b64.trim_end_matches('='))],
            None,
        ),
        (
            vec![format!("notarium-index/v1 {}", index_root.to_hex())],
            None,
        ),
        (vec![format!("notarium-index/v1 {}", &b64[4..])], None),
        (vec![format!("Notarium-index/v1 {b64}")], None),
    ];
    let lines: Vec<Json> = lines
        .into_iter()
        .map(|(ext, root)| {
            let ok = root.is_some() || !ext.iter().any(|l| l.starts_with("notarium-index/"));
            json!({
                "extension_lines": ext,
                "valid": ok,
                "index_root": root.map(|r| r.to_hex()),
            })
        })
        .collect();
    json!({
        "description": "Tessera's checkpoint 15 (shared/vectors/tessera_tiled_log_15_entries.json) with the index line of the hundreds map appended, re-signed with Tessera's published test key: outside verifiers that ignore the line accept it.",
        "verifier_key": t.vkey,
        "original_signed_note": t.signed,
        "index_root": index_root.to_hex(),
        "index_line": line,
        "body": cp.to_text(),
        "signed_note": signed.note(),
        "lines": lines,
    })
}

// ---------------------------------------------------------------------------------------------
// The vector file.

fn build_vectors() -> Json {
    let keys = vec![
        json!({"subject": {"artifact": hexs(&sha(&[b""]))}, "key": IndexKey::artifact(&ArtifactSha256(sha(&[b""]))).to_hex()}),
        json!({"subject": {"artifact": hexs(&sha(&[b"app-1.0.tar.gz"]))}, "key": artifact("app-1.0.tar.gz").key().to_hex()}),
        json!({"subject": {"signer": "k_demo"}, "key": IndexKey::signer("k_demo").to_hex()}),
        json!({"subject": {"signer": ""}, "key": IndexKey::signer("").to_hex()}),
        json!({"subject": {"signer": "admin-ключ"}, "key": IndexKey::signer("admin-ключ").to_hex()}),
    ];
    let chains: Vec<Json> = [vec![], vec![0], vec![0, 1, 2], vec![7, 1 << 40]]
        .iter()
        .map(|ix| {
            let v = Value::of(ix).unwrap();
            assert_eq!(v.chain.0, naive_chain(ix));
            json!({"indices": ix, "count": v.count, "chain": v.chain.to_hex()})
        })
        .collect();
    let leaves: Vec<Json> = [(IndexKey::signer("k_demo"), vec![0u64, 2])]
        .iter()
        .map(|(k, ix)| {
            let v = Value::of(ix).unwrap();
            let h = notarium_core::index::leaf_hash(k, &v);
            assert_eq!(h.0, naive_leaf(&k.0, ix));
            json!({"key": k.to_hex(), "count": v.count, "chain": v.chain.to_hex(), "leaf_hash": h.to_hex()})
        })
        .collect();
    let nodes = {
        let l = Hash(sha(&[b"left"]));
        let r = Hash(sha(&[b"right"]));
        vec![
            json!({"left": l.to_hex(), "right": r.to_hex(), "node_hash": notarium_core::index::node_hash(&l, &r).to_hex()}),
        ]
    };

    let mut maps = Vec::new();
    let mut built = BTreeMap::new();
    for case in cases() {
        let b = build_map(&case);
        let mut entries: Vec<(IndexKey, Json)> = case
            .entries
            .iter()
            .map(|(s, ix)| {
                (
                    s.key(),
                    json!({"subject": s.to_json(), "key": s.key().to_hex(), "indices": ix}),
                )
            })
            .collect();
        entries.sort_by_key(|(k, _)| *k);
        let proofs: Vec<Json> = case
            .proofs
            .iter()
            .map(|(name, s, last)| {
                let q = s.key();
                let p = prove(&b, &q, case.size, *last);
                let answer = p.verify(&q, &b.root, TreeSize(case.size)).unwrap();
                json!({
                    "name": name,
                    "subject": s.to_json(),
                    "query": q.to_hex(),
                    "terminal": terminal_name(&p),
                    "depth": p.siblings.len(),
                    "json": p.to_json(),
                    "binary": hexs(&p.to_bytes()),
                    "answer": answer_json(&answer),
                })
            })
            .collect();
        maps.push(json!({
            "name": case.name,
            "description": case.description,
            "size": case.size,
            "root": b.root.to_hex(),
            "entries": entries.into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
            "proofs": proofs,
        }));
        built.insert(case.name, b);
    }
    let neg: Vec<Json> = negatives(&built["hundreds"], &built["two-keys-255-bits"])
        .into_iter()
        .map(|n| {
            json!({
                "name": n.name,
                "rule": n.rule,
                "query": n.query.to_hex(),
                "root": n.root.to_hex(),
                "size": n.size,
                "json": n.json,
                "binary": n.binary.map(|b| hexs(&b)),
            })
        })
        .collect();
    json!({
        "description": "Test vectors of Notarium's status index, format v1. Specification: docs/status-index.md. Hashes and keys are lowercase hex; 'binary' is the hex of the binary proof form; 'json' is the canonical JSON proof text. Every proof in 'maps' must parse in both forms, re-encode to the same bytes, and verify for 'query' against the map's 'root' and 'size' with the given 'answer'. Every case in 'negative' must be refused (by the parser or the verifier) for its 'query', 'root' and 'size', in each form it gives; where the rule is one of 6.2-6.4, 'root' is the root the proof's hashing reaches, so only that rule rejects it. Generated by core/tests/status_index.rs.",
        "key_derivation": keys,
        "chains": chains,
        "leaves": leaves,
        "nodes": nodes,
        "maps": maps,
        "negative": neg,
        "checkpoint": checkpoint_vectors(&built["hundreds"].root),
    })
}

/// The file's layout: objects with sorted keys (whatever `serde_json`'s map order is), one
/// member per line; arrays of numbers on one line, other arrays one element per line.
fn render(v: &Json) -> String {
    let mut s = String::new();
    write_json(&mut s, v, 0);
    s.push('\n');
    s
}

fn write_json(out: &mut String, v: &Json, indent: usize) {
    let pad = |n: usize| " ".repeat(n);
    match v {
        Json::Object(m) if !m.is_empty() => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                out.push_str(&pad(indent + 2));
                out.push_str(&json!(k).to_string());
                out.push_str(": ");
                write_json(out, &m[k.as_str()], indent + 2);
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(indent));
            out.push('}');
        }
        Json::Array(a) if !a.is_empty() && !a.iter().all(Json::is_number) => {
            out.push_str("[\n");
            for (i, x) in a.iter().enumerate() {
                out.push_str(&pad(indent + 2));
                write_json(out, x, indent + 2);
                out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(indent));
            out.push(']');
        }
        Json::Array(a) => {
            let items: Vec<String> = a.iter().map(Json::to_string).collect();
            out.push('[');
            out.push_str(&items.join(", "));
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[test]
fn vectors_file_is_current() {
    let text = render(&build_vectors());
    if std::env::var_os("NOTARIUM_WRITE_VECTORS").is_some() {
        std::fs::write(VECTORS, &text).unwrap();
        println!("wrote {VECTORS}");
        return;
    }
    let stored = std::fs::read_to_string(VECTORS).unwrap();
    assert!(
        stored == text,
        "tests/data/status_index_v1.json differs from what this code generates; if the format \
         changed on purpose, rerun with NOTARIUM_WRITE_VECTORS=1 and review the diff"
    );
}

// ---------------------------------------------------------------------------------------------
// The file, checked with core.

fn parse_negative(n: &Json) -> Vec<Result<IndexProof, Error>> {
    let mut out = Vec::new();
    if let Some(t) = n["json"].as_str() {
        out.push(IndexProof::from_json(t));
    }
    if let Some(b) = n["binary"].as_str() {
        out.push(IndexProof::from_bytes(&hex::decode(b).unwrap()));
    }
    assert!(!out.is_empty());
    out
}

#[test]
fn vectors_verify_with_core() {
    let v = load_json(VECTORS);
    for k in v["key_derivation"].as_array().unwrap() {
        let key = if let Some(a) = k["subject"]["artifact"].as_str() {
            IndexKey::artifact(&ArtifactSha256(unhex32(a)))
        } else {
            IndexKey::signer(k["subject"]["signer"].as_str().unwrap())
        };
        assert_eq!(key.to_hex(), k["key"]);
    }
    let (mut maps, mut proofs, mut negatives) = (0, 0, 0);
    for m in v["maps"].as_array().unwrap() {
        let size = m["size"].as_u64().unwrap();
        let root = Hash::from_hex(m["root"].as_str().unwrap()).unwrap();
        let mut idx = MemIndex::new();
        let ups: Vec<(IndexKey, Value)> = m["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let ix: Vec<u64> = serde_json::from_value(e["indices"].clone()).unwrap();
                (
                    IndexKey(unhex32(e["key"].as_str().unwrap())),
                    Value::of(&ix).unwrap(),
                )
            })
            .collect();
        let mut sorted = ups.clone();
        sorted.sort_unstable_by_key(|(k, _)| *k);
        assert_eq!(
            notarium_core::index::root_of_sorted(sorted).unwrap(),
            root,
            "streamed root of {}",
            m["name"]
        );
        // One batch at the map's size: another batching than the generator's gives the root.
        let got = if ups.is_empty() {
            EMPTY
        } else {
            idx.apply(&ups, size).unwrap()
        };
        assert_eq!(got, root, "map {}", m["name"]);
        maps += 1;
        for p in m["proofs"].as_array().unwrap() {
            let q = IndexKey(unhex32(p["query"].as_str().unwrap()));
            let text = p["json"].as_str().unwrap();
            let bytes = hex::decode(p["binary"].as_str().unwrap()).unwrap();
            let a = IndexProof::from_json(text).unwrap();
            let b = IndexProof::from_bytes(&bytes).unwrap();
            assert_eq!(a, b);
            assert_eq!(a.to_json(), text);
            assert_eq!(a.to_bytes(), bytes);
            let answer = a.verify(&q, &root, TreeSize(size)).unwrap();
            assert_eq!(answer_json(&answer), p["answer"], "{}", p["name"]);
            // The same proof comes out of this map's store, built in another batching.
            let ix: Vec<u64> = m["entries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["key"] == p["query"])
                .map(|e| serde_json::from_value(e["indices"].clone()).unwrap())
                .unwrap_or_default();
            let last = match &answer {
                IndexAnswer::Present { count, from, .. } => count - from + 1,
                IndexAnswer::Absent => 1,
            };
            let again = IndexProof::from_map(idx.prove(&q, size).unwrap(), &q, &ix, last).unwrap();
            assert_eq!(again, a);
            proofs += 1;
        }
    }
    for n in v["negative"].as_array().unwrap() {
        let q = IndexKey(unhex32(n["query"].as_str().unwrap()));
        let root = Hash::from_hex(n["root"].as_str().unwrap()).unwrap();
        let size = TreeSize(n["size"].as_u64().unwrap());
        for p in parse_negative(n).into_iter().flatten() {
            assert!(
                p.verify(&q, &root, size).is_err(),
                "negative {} verified",
                n["name"]
            );
        }
        negatives += 1;
    }
    println!("{maps} maps, {proofs} proofs, {negatives} negative cases");
    assert!(maps >= 6 && proofs >= 25 && negatives >= 40);
}

/// The structural negatives are rejected by the rule they name, not by a root mismatch: their
/// root is what the proof's hashing reaches (a verifier that skipped the rule would accept).
#[test]
fn structural_negatives_reach_their_root() {
    let v = load_json(VECTORS);
    let mut n_checked = 0;
    for n in v["negative"].as_array().unwrap() {
        let rule = n["rule"].as_str().unwrap();
        if !["6.2", "6.3", "6.4"].contains(&rule) {
            continue;
        }
        let Some(text) = n["json"].as_str() else {
            continue;
        };
        let q = unhex32(n["query"].as_str().unwrap());
        // Parse leniently (the strict parser refuses these proofs): the raw JSON fields.
        let j: Json = serde_json::from_str(text).unwrap();
        let siblings: Vec<Hash> = j["siblings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| Hash::from_hex(s.as_str().unwrap()).unwrap())
            .collect();
        let terminal = match (j["kind"].as_str().unwrap(), j.get("leaf")) {
            ("absent", None) => Terminal::Empty,
            ("absent", Some(l)) => Terminal::Other(LeafNode {
                key: IndexKey(unhex32(l["key"].as_str().unwrap())),
                value: Value {
                    count: l["count"].as_u64().unwrap(),
                    chain: Hash::from_hex(l["chain"].as_str().unwrap()).unwrap(),
                },
            }),
            _ => Terminal::Member(Suffix {
                count: j["count"].as_u64().unwrap(),
                from: j["from"].as_u64().unwrap(),
                prev: Hash::from_hex(j["prev"].as_str().unwrap()).unwrap(),
                indices: serde_json::from_value(j["indices"].clone()).unwrap(),
            }),
        };
        let p = IndexProof { siblings, terminal };
        let root = Hash::from_hex(n["root"].as_str().unwrap()).unwrap();
        let size = TreeSize(n["size"].as_u64().unwrap());
        assert!(
            p.verify(&IndexKey(q), &root, size).is_err(),
            "{}",
            n["name"]
        );
        if p.siblings.len() <= 256 {
            assert_eq!(naive_implied_root(&q, &p), root, "{}", n["name"]);
            n_checked += 1;
        }
    }
    assert!(n_checked >= 12, "{n_checked}");
}

// ---------------------------------------------------------------------------------------------
// Outside checks.

/// The tool, or `None` (with SKIPPED printed) when it is missing and `CI` is not set.
fn require_tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_some() {
        return found;
    }
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    assert!(
        !ci,
        "{name} is not installed, and CI is set (it is preinstalled on the CI image)"
    );
    eprintln!("SKIPPED: {name} not installed (the CI image has it preinstalled)");
    None
}

#[test]
fn independent_python_verifier_accepts_the_vectors() {
    let Some(python) = require_tool("python3") else {
        return;
    };
    let dir = crate_dir();
    let out = Command::new(python)
        .arg(dir.join("tests/independent/status_index.py"))
        .arg(dir.join("tests/data/status_index_v1.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    assert!(out.status.success(), "the independent verifier failed");
    let v = load_json(VECTORS);
    let proofs: usize = v["maps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["proofs"].as_array().unwrap().len())
        .sum();
    let expect = format!(
        "ok: {} keys, {} maps, {} proofs, {} negative cases, {} checkpoint lines",
        v["key_derivation"].as_array().unwrap().len(),
        v["maps"].as_array().unwrap().len(),
        proofs,
        v["negative"].as_array().unwrap().len(),
        v["checkpoint"]["lines"].as_array().unwrap().len(),
    );
    assert!(stdout.contains(&expect), "expected {expect:?}");
}

#[test]
fn checkpoint_with_index_line_verifies_and_commits() {
    let t = tessera_checkpoint_15();
    let v = load_json(VECTORS);
    let c = &v["checkpoint"];
    assert_eq!(c["original_signed_note"], t.signed.as_str());
    let vkey = VerifierKey::parse(&t.vkey).unwrap();
    let signed = c["signed_note"].as_str().unwrap();
    let cp = UnverifiedCheckpoint::parse(signed)
        .unwrap()
        .verify(&vkey)
        .unwrap();
    let original = UnverifiedCheckpoint::parse(&t.signed)
        .unwrap()
        .verify(&vkey)
        .unwrap();
    assert_eq!(cp.size(), original.size());
    assert_eq!(cp.root(), original.root());
    let root = Hash::from_hex(c["index_root"].as_str().unwrap()).unwrap();
    assert_eq!(cp.checkpoint().index_root().unwrap(), Some(root));
    assert_eq!(original.checkpoint().index_root().unwrap(), None);
    // The signature covers the line: another root does not verify.
    let forged = signed.replacen(&root.to_base64(), &EMPTY.to_base64(), 1);
    assert_ne!(forged, signed);
    assert!(matches!(
        UnverifiedCheckpoint::parse(&forged).unwrap().verify(&vkey),
        Err(Error::BadSignature(_))
    ));
    // A proof from the hundreds map verifies in the checkpoint (its size, 15, is smaller than
    // the map's: only an absence proof and a proof of an early entry make sense there).
    let m = &v["maps"][5];
    assert_eq!(m["name"], "hundreds");
    let p = m["proofs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["terminal"] == "empty")
        .unwrap();
    let proof = IndexProof::from_json(p["json"].as_str().unwrap()).unwrap();
    let q = IndexKey(unhex32(p["query"].as_str().unwrap()));
    assert_eq!(proof.verify_in(&q, &cp).unwrap(), IndexAnswer::Absent);
    assert!(matches!(
        proof.verify_in(&q, &original),
        Err(Error::NoIndexCommitment)
    ));

    for l in c["lines"].as_array().unwrap() {
        let mut body = Checkpoint::parse_body(&t.body).unwrap();
        body.extensions = serde_json::from_value(l["extension_lines"].clone()).unwrap();
        let text = body.to_text();
        let parsed = Checkpoint::parse_body(&text).unwrap();
        match (parsed.index_root(), l["valid"].as_bool().unwrap()) {
            (Ok(r), true) => assert_eq!(
                r.map(|h| h.to_hex()),
                l["index_root"].as_str().map(str::to_owned)
            ),
            (Err(_), false) => {}
            (got, _) => panic!("{:?}: {got:?}", l["extension_lines"]),
        }
    }
}

#[test]
fn go_checkpoint_verifier_ignores_the_index_line() {
    let Some(go) = require_tool("go") else {
        return;
    };
    let v = load_json(VECTORS);
    let c = &v["checkpoint"];
    let signed = c["signed_note"].as_str().unwrap();
    let root = Hash::from_hex(c["index_root"].as_str().unwrap()).unwrap();
    let forged = signed.replacen(&root.to_base64(), &EMPTY.to_base64(), 1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (good, bad, orig) = (dir.join("good"), dir.join("forged"), dir.join("original"));
    std::fs::write(&good, signed).unwrap();
    std::fs::write(&bad, &forged).unwrap();
    std::fs::write(&orig, c["original_signed_note"].as_str().unwrap()).unwrap();
    let out = Command::new(go)
        .current_dir(crate_dir().join("tests/independent/go-checkpoint"))
        .env("GOFLAGS", "-mod=mod")
        // Offline: the modules must already be in the cache (.ci/install-core.sh).
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .args(["run", "."])
        .arg(c["verifier_key"].as_str().unwrap())
        .args([&good, &orig, &bad])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "go run failed (are its modules downloaded? run .ci/install-core.sh)"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let idx_line = c["index_line"].as_str().unwrap();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("ok example.com/log/testdata 15 "),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].ends_with(&format!("rest={:?}", format!("{idx_line}\n"))),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("ok example.com/log/testdata 15 "),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with("rest=\"\""), "{}", lines[1]);
    assert!(lines[2].starts_with("rejected "), "{}", lines[2]);
    // The same log root as the checkpoint without the line.
    let root_of = |l: &str| l.split(' ').nth(3).unwrap().to_owned();
    assert_eq!(root_of(lines[0]), root_of(lines[1]));
}

/// An attested checkpoint (docs/status-index.md §14): Tessera's checkpoint 15 with a
/// `notarium-time/v1` line before the index line, re-signed; Go's verifier accepts it as the
/// same tree, both lines as opaque rest, and refuses it with the time changed.
#[test]
fn go_checkpoint_verifier_ignores_the_time_line() {
    let t = tessera_checkpoint_15();
    let mut cp = Checkpoint::parse_body(&t.body).unwrap();
    cp.set_index_root(&EMPTY);
    cp.set_time(1_796_000_000);
    assert_eq!(cp.time().unwrap(), Some(1_796_000_000));
    let signed = cp.sign(&t.signer).unwrap();
    let vkey = VerifierKey::parse(&t.vkey).unwrap();
    let ours = UnverifiedCheckpoint::parse(signed.note())
        .unwrap()
        .verify(&vkey)
        .unwrap();
    assert_eq!(ours.checkpoint().time().unwrap(), Some(1_796_000_000));
    assert_eq!(ours.checkpoint().index_root().unwrap(), Some(EMPTY));
    let moved = signed.note().replacen(
        "notarium-time/v1 1796000000",
        "notarium-time/v1 1896000000",
        1,
    );
    assert!(matches!(
        UnverifiedCheckpoint::parse(&moved).unwrap().verify(&vkey),
        Err(Error::BadSignature(_))
    ));
    let Some(go) = require_tool("go") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (good, bad) = (tmp.path().join("attested"), tmp.path().join("moved"));
    std::fs::write(&good, signed.note()).unwrap();
    std::fs::write(&bad, &moved).unwrap();
    let out = Command::new(go)
        .current_dir(crate_dir().join("tests/independent/go-checkpoint"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .args(["run", "."])
        .arg(&t.vkey)
        .args([&good, &bad])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "go run failed");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let rest = format!(
        "notarium-time/v1 1796000000\n{INDEX_LINE_PREFIX}{}\n",
        EMPTY.to_base64()
    );
    assert!(
        lines[0].starts_with("ok example.com/log/testdata 15 ")
            && lines[0].ends_with(&format!("rest={rest:?}")),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with("rejected "), "{}", lines[1]);
}
