//! The reads behind audit reports: the index range of a time range ([`Ledger::index_at`]) and
//! receipts proven against an older checkpoint ([`Ledger::receipts_in`]), on both stores.

mod common;

use notarium_core::merkle::verify_consistency;
use notarium_core::{Entry, Timestamp};

use common::{artifact, Store};

fn time_ranges_are_index_ranges_with_checkpointed_ends(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = store.open(dir.path());
    let key = ledger.verifier_key().clone();
    assert_eq!(ledger.index_at(Timestamp(0)).unwrap(), 0, "empty ledger");

    let mut times = Vec::new();
    let mut next = 0u64;
    for batch in [3u64, 1, 4, 2, 5] {
        let receipts = ledger
            .append((next..next + batch).map(|i| artifact(i, "k_ci")).collect())
            .unwrap();
        next += batch;
        for r in &receipts {
            let e = Entry::from_bytes(&r.verify(&key).unwrap().leaf).unwrap();
            times.push(Timestamp::parse(e.time()).unwrap());
        }
    }
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "times never decrease"
    );

    // index_at(t) = how many entries are older than t, for every time that matters.
    let mut probes: Vec<Timestamp> = vec![Timestamp(0), Timestamp(i64::MAX)];
    for t in &times {
        probes.extend([Timestamp(t.0 - 1), *t, Timestamp(t.0 + 1)]);
    }
    for t in probes {
        let older = times.iter().filter(|x| **x < t).count() as u64;
        let a = ledger.index_at(t).unwrap();
        assert_eq!(a, older, "index_at({t})");
        // Every such index is a checkpointed size.
        assert!(ledger.checkpoint_at(a).unwrap().is_some(), "checkpoint {a}");
    }

    // Receipts of a middle range, proven against the checkpoint at its end.
    let (a, b) = (
        ledger.index_at(times[3]).unwrap(),
        ledger.index_at(times[8]).unwrap(),
    );
    assert!(a < b);
    let from = ledger.checkpoint_at(a).unwrap().unwrap();
    let to = ledger.checkpoint_at(b).unwrap().unwrap();
    let receipts = ledger.receipts_in(a, b, &to).unwrap();
    assert_eq!(receipts.len() as u64, b - a);
    for (i, r) in receipts.iter().enumerate() {
        assert_eq!(r.index, a + i as u64);
        assert_eq!(r.checkpoint, to.note());
        let v = r.verify(&key).unwrap();
        assert_eq!(v.checkpoint.size(), to.size());
    }
    let proof = ledger.prove_consistency(a, b).unwrap();
    verify_consistency(from.size(), to.size(), &proof, &from.root(), &to.root()).unwrap();

    assert!(ledger.receipts_in(b, a, &to).is_err(), "start after end");
    assert!(
        ledger.receipts_in(a, b + 1, &to).is_err(),
        "past the checkpoint"
    );
    assert!(ledger.receipts_in(b, b, &to).unwrap().is_empty());
}

on_both_stores!(time_ranges_are_index_ranges_with_checkpointed_ends);
