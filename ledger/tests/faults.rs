//! What happens to the ledger's files never makes it sign a fork or silently drop what it
//! acknowledged: a database deleted or its log lost under a running writer stops the writer
//! (after writing back what it can), and a database that is gone, empty, older than what was
//! signed or rewritten is refused on open with a message that says what happened. Plus online
//! backups under write load.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use notarium_core::merkle::verify_consistency;
use notarium_ledger::{audit, backup, Error, Ledger};

use common::{artifact, open, options};

fn fill(ledger: &Ledger, from: u64, n: u64) {
    for chunk in (from..from + n).collect::<Vec<_>>().chunks(50) {
        ledger
            .append(chunk.iter().map(|i| artifact(*i, "k")).collect())
            .unwrap();
    }
}

fn remove(dir: &Path, files: &[&str]) {
    for f in files {
        let _ = std::fs::remove_file(dir.join(f));
    }
}

fn refused(dir: &Path) -> String {
    match Ledger::open(dir, options("default")) {
        Err(Error::Corrupt(msg)) => msg,
        Err(other) => panic!("expected a refusal, got {other:?}"),
        Ok(_) => panic!("the ledger opened"),
    }
}

#[test]
fn deleting_the_database_under_the_writer_stops_it_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(dir.path());
    fill(&ledger, 0, 300);
    let acknowledged = ledger.checkpoint();
    remove(dir.path(), &["ledger.db", "ledger.db-wal", "ledger.db-shm"]);
    let after = ledger.append(vec![artifact(1000, "k")]);
    assert!(
        matches!(&after, Err(Error::Unavailable(m)) if m.contains("removed or replaced")),
        "{after:?}"
    );
    assert!(
        ledger.append(vec![artifact(1001, "k")]).is_err(),
        "and it stays stopped"
    );
    assert_eq!(ledger.checkpoint(), acknowledged, "nothing new was signed");
    drop(ledger);
    // Everything acknowledged was written back from the open connection.
    let ledger = open(dir.path());
    assert_eq!(ledger.checkpoint(), acknowledged);
    assert!(audit(dir.path(), |_, _| {}).unwrap().is_clean());
}

#[test]
fn losing_the_log_under_the_writer_stops_it_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(dir.path());
    fill(&ledger, 0, 300);
    let acknowledged = ledger.checkpoint();
    remove(dir.path(), &["ledger.db-wal"]);
    let after = ledger.append(vec![artifact(1000, "k")]);
    assert!(
        matches!(&after, Err(Error::Unavailable(m)) if m.contains("folded into")),
        "{after:?}"
    );
    drop(ledger);
    let ledger = open(dir.path());
    assert_eq!(ledger.checkpoint(), acknowledged, "the open log was saved");
    assert!(audit(dir.path(), |_, _| {}).unwrap().is_clean());
}

#[test]
fn a_lost_or_empty_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fill(&open(dir.path()), 0, 10);
    // Zero bytes where the database was.
    remove(dir.path(), &["ledger.db-wal", "ledger.db-shm"]);
    std::fs::write(dir.path().join("ledger.db"), b"").unwrap();
    let msg = refused(dir.path());
    assert!(msg.contains("database was lost"), "{msg}");
    // No database file at all.
    remove(dir.path(), &["ledger.db"]);
    let msg = refused(dir.path());
    assert!(msg.contains("sign a second, different history"), "{msg}");
    assert!(
        !dir.path().join("ledger.db").exists(),
        "a refusal leaves no empty database behind"
    );
}

#[test]
fn an_older_copy_is_refused_naming_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let old = tempfile::tempdir().unwrap();
    {
        let ledger = open(dir.path());
        fill(&ledger, 0, 100);
    }
    std::fs::copy(dir.path().join("ledger.db"), old.path().join("ledger.db")).unwrap();
    {
        let ledger = open(dir.path());
        fill(&ledger, 100, 40);
    }
    std::fs::copy(old.path().join("ledger.db"), dir.path().join("ledger.db")).unwrap();
    let msg = refused(dir.path());
    assert!(msg.contains("storage holds 100 entries"), "{msg}");
    assert!(msg.contains("checkpoint of 140"), "{msg}");
    assert!(msg.contains("entries 100..140"), "{msg}");
}

#[test]
fn another_ledger_s_database_is_refused() {
    // Same name and origin, same key — but a different history of the same size.
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    {
        let ledger = open(a.path());
        fill(&ledger, 0, 20);
    }
    std::fs::copy(a.path().join("signing.key"), b.path().join("signing.key")).unwrap();
    {
        // Ledger b reuses a's key from the start (as if imported), then records other entries.
        let mut opts = options("default");
        opts.signer = Some(
            notarium_core::SignerKey::parse(
                &std::fs::read_to_string(a.path().join("signing.key")).unwrap(),
            )
            .unwrap(),
        );
        std::fs::remove_file(b.path().join("signing.key")).unwrap();
        let ledger = Ledger::open(b.path(), opts).unwrap();
        fill(&ledger, 500, 20);
    }
    std::fs::copy(b.path().join("ledger.db"), a.path().join("ledger.db")).unwrap();
    remove(a.path(), &["ledger.db-wal", "ledger.db-shm"]);
    let msg = refused(a.path());
    assert!(
        msg.contains("disagrees with the checkpoint of size 20"),
        "{msg}"
    );
}

#[test]
fn a_crash_between_commit_and_record_heals_and_a_lost_record_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let saved = tempfile::tempdir().unwrap();
    {
        let ledger = open(dir.path());
        fill(&ledger, 0, 30);
    }
    std::fs::copy(
        dir.path().join("signed-checkpoint"),
        saved.path().join("signed-checkpoint"),
    )
    .unwrap();
    let latest = {
        let ledger = open(dir.path());
        fill(&ledger, 30, 30);
        ledger.checkpoint()
    };
    // The record lags the database, as after a crash between a commit and its record.
    std::fs::copy(
        saved.path().join("signed-checkpoint"),
        dir.path().join("signed-checkpoint"),
    )
    .unwrap();
    let ledger = open(dir.path());
    assert_eq!(ledger.checkpoint(), latest);
    drop(ledger);
    // A ledger that kept a record and lost it is refused.
    std::fs::remove_file(dir.path().join("signed-checkpoint")).unwrap();
    let msg = refused(dir.path());
    assert!(msg.contains("is missing"), "{msg}");
}

#[test]
fn backups_under_write_load_are_whole_and_open() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(open(dir.path()));
    fill(&ledger, 0, 500);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (ledger, stop) = (ledger.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 10_000;
            while !stop.load(Ordering::Relaxed) {
                ledger.append(vec![artifact(i, "k")]).unwrap();
                i += 1;
            }
        })
    };
    let copies = tempfile::tempdir().unwrap();
    let mut sizes = Vec::new();
    for n in 0..3 {
        let before = ledger.checkpoint();
        let dest = copies.path().join(format!("copy-{n}"));
        let made = backup(dir.path(), &dest).unwrap();
        assert!(
            made.entries >= before.size().0,
            "the copy holds what was signed"
        );
        let copy = open(&dest);
        let cp = copy.checkpoint();
        assert!(cp.size() >= before.size());
        // The copy's history extends what the running ledger had signed before the copy began.
        let proof = ledger
            .prove_consistency(before.size().0, cp.size().0)
            .unwrap();
        verify_consistency(before.size(), cp.size(), &proof, &before.root(), &cp.root()).unwrap();
        sizes.push(cp.size().0);
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
    assert!(
        backup(dir.path(), &copies.path().join("copy-0")).is_err(),
        "never over an existing directory"
    );
}
