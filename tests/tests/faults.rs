//! Faults on a real `notariumd`: what happens to its files never makes it lose an acknowledged
//! notarization silently or sign a checkpoint inconsistent with an earlier one. Deleting the
//! database or its log while it serves stops writes (everything acknowledged is written back);
//! a zero-byte database or an older copy is refused at start with a message that says what
//! happened; `notariumd backup` under write load makes a copy that starts and extends what was
//! signed.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use notarium_core::Sha256;
use notarium_e2e::{binary, random_hex, Setup};

fn sha(s: &str) -> String {
    Sha256::of(s.as_bytes()).to_hex()
}

/// Notarizes `n` new hashes through the CLI; returns how many were acknowledged.
fn notarize(setup: &Setup, tag: &str, n: usize) -> usize {
    (0..n)
        .filter(|i| {
            let name = format!("{tag}-{i}");
            setup
                .cli
                .run(["notarize", "--hash", &sha(&name), "--name", &name])
                .code
                == Some(0)
        })
        .count()
}

fn checkpoint(setup: &Setup) -> String {
    let run = setup.cli.run(["checkpoint"]);
    run.expect_code(0);
    run.stdout.clone()
}

fn remove(setup: &Setup, files: &[&str]) {
    for f in files {
        let _ = std::fs::remove_file(setup.server.default_ledger_dir().join(f));
    }
}

#[test]
fn deleting_the_database_or_its_log_while_serving_stops_writes_and_loses_nothing() {
    for files in [
        &["ledger.db", "ledger.db-wal", "ledger.db-shm"][..],
        &["ledger.db-wal"][..],
    ] {
        let mut setup = Setup::new();
        assert_eq!(notarize(&setup, "before", 20), 20);
        let acknowledged = checkpoint(&setup);
        remove(&setup, files);
        let after = setup
            .cli
            .run(["notarize", "--hash", &sha("after"), "--name", "after"]);
        after.expect_code(6);
        assert!(
            setup.server.log().contains("removed or replaced"),
            "{files:?}: the log says why writes stopped:\n{}",
            setup.server.log()
        );
        assert_eq!(
            checkpoint(&setup),
            acknowledged,
            "{files:?}: nothing new was signed"
        );
        // Restarted, it serves everything acknowledged (written back from the open files),
        // and the CLI's stored view is consistent with it.
        setup.server.restart();
        assert_eq!(checkpoint(&setup), acknowledged, "{files:?}");
        for i in [0, 19] {
            setup
                .cli
                .run(["authenticate", "--hash", &sha(&format!("before-{i}"))])
                .expect_code(0);
        }
    }
}

#[test]
fn a_zero_byte_database_is_refused_at_start() {
    let mut setup = Setup::new();
    notarize(&setup, "x", 3);
    setup.server.stop();
    remove(&setup, &["ledger.db-wal", "ledger.db-shm"]);
    std::fs::write(setup.server.default_ledger_dir().join("ledger.db"), b"").unwrap();
    let why = setup.server.try_restart().unwrap_err();
    assert!(why.contains("database was lost"), "{why}");
    assert!(why.contains("Restore the database"), "{why}");
}

#[test]
fn an_older_copy_is_refused_and_a_current_backup_restores() {
    let mut setup = Setup::new();
    notarize(&setup, "first", 10);
    let copies = tempfile::tempdir().unwrap();
    let old = copies.path().join("old");
    let out = Command::new(binary("notariumd"))
        .arg("backup")
        .arg(setup.server.data_dir())
        .arg(&old)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("every ledger audits clean"));
    notarize(&setup, "second", 5);
    let latest = checkpoint(&setup);
    setup.server.stop();

    // Restoring the older copy over the live data: refused, naming what is missing.
    let data = setup.server.data_dir();
    let ledger = setup.server.default_ledger_dir();
    std::fs::copy(
        old.join("ledgers/default/ledger.db"),
        ledger.join("ledger.db"),
    )
    .unwrap();
    let _ = std::fs::remove_file(ledger.join("ledger.db-wal"));
    let _ = std::fs::remove_file(ledger.join("ledger.db-shm"));
    let why = setup.server.try_restart().unwrap_err();
    assert!(why.contains("signed a checkpoint of"), "{why}");
    assert!(why.contains("were answered about are gone"), "{why}");

    // A backup taken after the last commit restores the same checkpoint (another server: the
    // first one's newer entries exist in no copy).
    std::fs::remove_dir_all(&data).unwrap();
    let restored = copies.path().join("current");
    let mut fresh = Setup::new();
    notarize(&fresh, "current", 7);
    let current = checkpoint(&fresh);
    let out = Command::new(binary("notariumd"))
        .arg("backup")
        .arg(fresh.server.data_dir())
        .arg(&restored)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    fresh.server.stop();
    std::fs::remove_dir_all(fresh.server.data_dir()).unwrap();
    copy_tree(&restored, &fresh.server.data_dir());
    fresh.server.try_restart().unwrap();
    assert_eq!(checkpoint(&fresh), current);
    assert_ne!(latest, current);
}

#[test]
fn backup_under_write_load_starts_and_extends_what_was_signed() {
    let setup = Arc::new(Setup::new());
    notarize(&setup, "seed", 5);
    // A client that saw the ledger just before the backup, and nothing after.
    let observer = setup.cli.with_fresh_state();
    observer.run(["checkpoint"]).expect_code(0);
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (setup, stop) = (setup.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += notarize(&setup, &format!("load-{}", random_hex(4)), 1);
            }
            n
        })
    };
    let copies = tempfile::tempdir().unwrap();
    let dest = copies.path().join("copy");
    let out = Command::new(binary("notariumd"))
        .arg("backup")
        .arg(setup.server.data_dir())
        .arg(&dest)
        .output()
        .unwrap();
    // Writes go on after the copy too: the copy is older than what the load's client saw.
    notarize(&setup, "after-copy", 2);
    stop.store(true, Ordering::Relaxed);
    let written = load.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(written > 0, "writes went on during the backup");

    // Restore the copy in place of the live data, on the same address.
    let mut setup = Arc::try_unwrap(setup).ok().expect("the load thread ended");
    setup.server.stop();
    std::fs::remove_dir_all(setup.server.data_dir()).unwrap();
    copy_tree(&dest, &setup.server.data_dir());
    setup.server.try_restart().unwrap();
    // The observer's view extends to the copy: it verifies a consistency proof from the
    // checkpoint it stored to the restored one.
    observer.run(["checkpoint"]).expect_code(0);
    // The load's client saw entries the copy lacks: it reports a rollback (docs/operations.md
    // says so before anyone restores an older copy).
    let run = setup.cli.run(["checkpoint"]);
    run.expect_code(5);
    run.expect_stderr("rollback");
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}
