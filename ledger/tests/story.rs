//! The ledger's life story on a temp directory: create, notarize, change statuses, revoke a
//! key, search, prove, reopen — every answer verified with `core`. Each test runs on both
//! stores (SQLite and PostgreSQL).

mod common;

use std::sync::Arc;

use notarium_core::merkle::{verify_consistency, verify_inclusion};
use notarium_core::{
    ArtifactRequest, ArtifactStatus, LeafIndex, Role, Sha256, Status, Timestamp, TreeSize,
};
use notarium_ledger::{Ledger, NewEntry, SearchQuery};

use common::{artifact, Store};

fn status_change(sha: Sha256, status: ArtifactStatus, signer: &str) -> NewEntry {
    NewEntry::Artifact {
        request: ArtifactRequest {
            sha256: sha,
            name: "app.tar.gz".into(),
            size: None,
            kind: None,
            status: Some(status),
            attributes: Default::default(),
            ci: Default::default(),
        },
        signer: signer.into(),
        identity: None,
    }
}

fn story(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = store.open(dir.path());
    let key = ledger.verifier_key().clone();
    assert_eq!(ledger.size(), 0);
    assert_eq!(
        ledger.checkpoint().root(),
        notarium_core::hash::empty_root()
    );

    // A key is created; it notarizes 600 artifacts in batches (crossing tile boundaries).
    ledger
        .append(vec![NewEntry::KeyCreated {
            id: "k_ci".into(),
            name: "ci".into(),
            role: Role::Write,
            signer: "admin".into(),
            credential: [7; 32],
        }])
        .unwrap();
    let mut receipts = Vec::new();
    for chunk in (0..600u64).collect::<Vec<_>>().chunks(150) {
        receipts.extend(
            ledger
                .append(chunk.iter().map(|i| artifact(*i, "k_ci")).collect())
                .unwrap(),
        );
    }
    assert_eq!(ledger.size(), 601);
    for (i, r) in receipts.iter().enumerate() {
        assert_eq!(r.index, i as u64 + 1);
        let v = r.verify(&key).unwrap();
        assert!(v.checkpoint.size().0 > r.index);
    }

    // Authenticate: trusted, then untrusted after a status change, and unknown.
    let sha5 = Sha256::of(&5u64.to_be_bytes());
    let a = ledger.authenticate(&sha5, &[]).unwrap();
    assert_eq!(a.status, Status::Trusted);
    a.receipt.as_ref().unwrap().verify(&key).unwrap();
    ledger
        .append(vec![status_change(sha5, ArtifactStatus::Untrusted, "k_ci")])
        .unwrap();
    assert_eq!(
        ledger.authenticate(&sha5, &[]).unwrap().status,
        Status::Untrusted
    );
    assert_eq!(
        ledger
            .authenticate(&sha5, &["someone-else".into()])
            .unwrap()
            .status,
        Status::Unknown
    );
    assert_eq!(
        ledger
            .authenticate(&Sha256::of(b"nope"), &[])
            .unwrap()
            .status,
        Status::Unknown
    );

    // Revoking the signer turns its notarizations into `revoked`, with a provable revocation.
    assert_eq!(
        ledger.find_credential(&[7; 32]).unwrap().unwrap().id,
        "k_ci"
    );
    ledger
        .append(vec![NewEntry::KeyRevoked {
            id: "k_ci".into(),
            signer: "admin".into(),
        }])
        .unwrap();
    let a = ledger
        .authenticate(&Sha256::of(&9u64.to_be_bytes()), &[])
        .unwrap();
    assert_eq!(a.status, Status::Revoked);
    a.revocation.unwrap().verify(&key).unwrap();
    assert!(ledger
        .find_credential(&[7; 32])
        .unwrap()
        .unwrap()
        .revoked_index
        .is_some());
    let again = ledger.append(vec![NewEntry::KeyRevoked {
        id: "k_ci".into(),
        signer: "admin".into(),
    }]);
    assert!(
        matches!(again, Err(notarium_ledger::Error::Conflict(_))),
        "{again:?}"
    );
    let unknown = ledger.append(vec![NewEntry::KeyRevoked {
        id: "k_x".into(),
        signer: "admin".into(),
    }]);
    assert!(
        matches!(unknown, Err(notarium_ledger::Error::NotFound(_))),
        "{unknown:?}"
    );

    // A batch with one bad entry appends nothing.
    let size = ledger.size();
    let mut bad = artifact(1000, "k2");
    if let NewEntry::Artifact { request, .. } = &mut bad {
        request.ci.insert("token".into(), "secret".into());
    }
    assert!(ledger.append(vec![artifact(999, "k2"), bad]).is_err());
    assert_eq!(ledger.size(), size);

    // History and search, paginated by index.
    let page = ledger.history(&sha5, None, 0).unwrap();
    assert_eq!(page.entries.len(), 2);
    let q = SearchQuery {
        attr: Some(("build".into(), "3".into())),
        limit: 10,
        ..Default::default()
    };
    let p1 = ledger.search(&q).unwrap();
    assert_eq!(p1.entries.len(), 10);
    let p2 = ledger
        .search(&SearchQuery {
            after: p1.next,
            ..q.clone()
        })
        .unwrap();
    assert!(p2.entries[0].index > p1.entries[9].index);
    let all: usize = {
        let mut n = 0;
        let mut after = None;
        loop {
            let p = ledger
                .search(&SearchQuery {
                    after,
                    limit: 37,
                    ..q.clone()
                })
                .unwrap();
            n += p.entries.len();
            for r in &p.entries {
                r.verify(&key).unwrap();
            }
            match p.next {
                Some(c) => after = Some(c),
                None => break n,
            }
        }
    };
    assert_eq!(all, (0..600).filter(|i| i % 7 == 3).count());
    let by_name = ledger
        .search(&SearchQuery {
            name: Some("artifact-42.tar.gz".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_name.entries.len(), 1);
    let untrusted = ledger
        .search(&SearchQuery {
            status: Some(ArtifactStatus::Untrusted),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(untrusted.entries.len(), 1);
    let future = ledger
        .search(&SearchQuery {
            since: Some(Timestamp::parse("2999-01-01").unwrap()),
            ..Default::default()
        })
        .unwrap();
    assert!(future.entries.is_empty());

    // Proofs between every checkpointed pair of a sample of sizes.
    let n = ledger.size();
    for (m, k) in [(1, n), (256, 300), (257, n), (300, 512), (0, 5), (n, n)] {
        let p = ledger.prove_consistency(m, k).unwrap();
        verify_consistency(
            TreeSize(m),
            TreeSize(k),
            &p,
            &ledger.root_at(m).unwrap(),
            &ledger.root_at(k).unwrap(),
        )
        .unwrap();
    }
    let r = ledger.get(300).unwrap();
    let p = ledger.prove_inclusion(300, 400).unwrap();
    verify_inclusion(
        &r.leaf_hash,
        LeafIndex(300),
        TreeSize(400),
        &p,
        &ledger.root_at(400).unwrap(),
    )
    .unwrap();
    assert!(ledger.prove_inclusion(0, n + 1).is_err());
    assert!(ledger.prove_consistency(5, 4).is_err());
    assert!(ledger.get(n).is_err());

    // Tiles: the level-0 tiles concatenate the leaf hashes.
    let t0 = ledger.tile(0, 0, 256).unwrap();
    assert_eq!(&t0[32..64], &ledger.get(1).unwrap().leaf_hash.0);
    let partial = (n % 256) as u16;
    assert_eq!(
        ledger.tile(0, n / 256, partial).unwrap().len(),
        partial as usize * 32
    );
    assert!(ledger.tile(0, n / 256, 256).is_err());
    assert_eq!(ledger.tile(1, 0, 2).unwrap().len(), 64);
    let bundle = ledger.entry_bundle(0, 256).unwrap();
    assert_eq!(
        notarium_core::tiles::decode_bundle(&bundle).unwrap().len(),
        256
    );

    // Reopen: same state, no rebuild, and appends continue consistently.
    let before = ledger.checkpoint();
    drop(ledger);
    let ledger = store.open(dir.path());
    assert_eq!(ledger.checkpoint(), before);
    assert_eq!(ledger.verifier_key(), &key);
    ledger.append(vec![artifact(5000, "k2")]).unwrap();
    let p = ledger
        .prove_consistency(before.size().0, ledger.size())
        .unwrap();
    verify_consistency(
        before.size(),
        TreeSize(ledger.size()),
        &p,
        &before.root(),
        &ledger.checkpoint().root(),
    )
    .unwrap();
    let report = store.audit(dir.path());
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert_eq!(report.entries, ledger.size());
}

fn concurrent_appenders_are_batched_and_all_answered(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(store.open(dir.path()));
    let key = ledger.verifier_key().clone();
    let threads: Vec<_> = (0..16u64)
        .map(|t| {
            let ledger = ledger.clone();
            std::thread::spawn(move || {
                (0..50u64)
                    .map(|i| {
                        ledger
                            .append(vec![artifact(t * 1000 + i, "k")])
                            .unwrap()
                            .remove(0)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut indices: Vec<u64> = Vec::new();
    for t in threads {
        for r in t.join().unwrap() {
            r.verify(&key).unwrap();
            indices.push(r.index);
        }
    }
    indices.sort_unstable();
    assert_eq!(indices, (0..800).collect::<Vec<_>>());
    let stats = ledger.counters();
    assert!(
        stats.batches < 800,
        "16 concurrent appenders should share commits: {stats:?}"
    );
    assert!(store.audit(dir.path()).is_clean());
}

fn options_must_match_the_stored_ledger(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    drop(store.open(dir.path()));
    let mut other = store.options("default");
    other.origin = notarium_core::Origin::new("example.com/other").unwrap();
    assert!(matches!(
        Ledger::open(dir.path(), other),
        Err(notarium_ledger::Error::Config(_))
    ));
    std::fs::remove_file(dir.path().join("signing.key")).unwrap();
    assert!(matches!(
        Ledger::open(dir.path(), store.options("default")),
        Err(notarium_ledger::Error::Corrupt(_))
    ));
}

fn signing_key_is_private(store: &Store) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    drop(store.open(dir.path()));
    let mode = std::fs::metadata(dir.path().join("signing.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// One request whose entry passes every field limit but not the 16 KiB limit of the whole
/// entry is refused alone, with `Invalid`, while the 1,000 valid requests queued around it
/// commit (in shared batches) and are all answered.
fn an_oversized_request_is_refused_alone_and_its_neighbours_commit(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(store.open(dir.path()));
    let key = ledger.verifier_key().clone();
    let mut oversized = artifact(1_000_000, "k_big");
    if let NewEntry::Artifact { request, .. } = &mut oversized {
        request.attributes = (0..64)
            .map(|i| (format!("attr-{i:02}"), "x".repeat(1000)))
            .collect();
        request
            .validate()
            .expect("each field is within its own limit");
    }
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..1001u64 {
        let entry = if i == 500 {
            oversized.clone()
        } else {
            artifact(i, "k")
        };
        let tx = tx.clone();
        ledger.append_with(vec![entry], move |r| {
            let _ = tx.send((i, r.map(|a| a.first_index)));
        });
    }
    drop(tx);
    let answers: Vec<_> = rx.iter().collect();
    assert_eq!(answers.len(), 1001);
    for (i, r) in &answers {
        if *i == 500 {
            assert!(
                matches!(
                    r,
                    Err(notarium_ledger::Error::Invalid(
                        notarium_core::Error::EntryTooLarge(n)
                    )) if *n > 16 * 1024
                ),
                "{r:?}"
            );
        } else {
            assert!(r.is_ok(), "request {i}: {r:?}");
        }
    }
    assert_eq!(ledger.size(), 1000);
    let counters = ledger.counters();
    assert!(
        counters.batches < 1000,
        "the valid requests shared commits with each other: {counters:?}"
    );
    for index in [0, 499, 999] {
        ledger.get(index).unwrap().verify(&key).unwrap();
    }
    assert!(store.audit(dir.path()).is_clean());
}

on_both_stores!(
    story,
    concurrent_appenders_are_batched_and_all_answered,
    options_must_match_the_stored_ledger,
    signing_key_is_private,
    an_oversized_request_is_refused_alone_and_its_neighbours_commit,
);

/// Appends `n` artifacts (from `from`) as one request and returns what the writer answered.
fn append_one_request(ledger: &Ledger, from: u64, n: u64) -> notarium_ledger::Appended {
    let (tx, rx) = std::sync::mpsc::channel();
    let entries = (from..from + n).map(|i| artifact(i, "k")).collect();
    ledger.append_with(entries, move |r| {
        let _ = tx.send(r);
    });
    rx.recv().unwrap().unwrap()
}

/// The receipts of just-appended entries built from memory (the batch's right-edge tiles and
/// the tiles it completed) are exactly the ones the read path builds, across tile boundaries
/// and batches of every size; when the tile cache has evicted a tile a proof needs, memory
/// says so instead of answering.
#[test]
fn receipts_from_memory_are_the_read_paths() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(
        dir.path(),
        notarium_ledger::LedgerOptions {
            tile_cache: 1,
            ..common::options("default")
        },
    )
    .unwrap();
    let key = ledger.verifier_key().clone();
    let mut next = 0;
    // Sizes that end batches on, just before and just after the 256-leaf tile boundaries.
    for n in [1, 2, 3, 250, 1, 255, 256, 257, 300, 1, 70] {
        let appended = append_one_request(&ledger, next, n);
        next += n;
        let from_memory = ledger
            .receipts_from_memory(&appended)
            .expect("a just-appended batch's nodes are in memory");
        assert_eq!(
            from_memory,
            ledger.receipts(&appended).unwrap(),
            "batch of {n}"
        );
        for r in &from_memory {
            r.verify(&key).unwrap();
        }
    }

    // Entries in a tile this batch completed, after reading an older tile evicted it from
    // the one-tile cache: not in memory any more, and the read path still answers.
    let appended = append_one_request(&ledger, next, 600);
    let first_full = appended.first_index.div_ceil(256) * 256;
    assert!(first_full + 256 <= next + 600, "the batch completes a tile");
    ledger.get(0).unwrap();
    assert_eq!(ledger.receipts_from_memory(&appended), None);
    for r in ledger.receipts(&appended).unwrap() {
        r.verify(&key).unwrap();
    }
}
