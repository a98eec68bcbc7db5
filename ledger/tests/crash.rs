//! Crash safety: a child process appends under load and prints every acknowledged entry and
//! checkpoint; it is killed with SIGKILL at random moments. After each kill the ledger must
//! reopen with every acknowledged entry provable, and its tree must be consistent with every
//! checkpoint the child ever saw. On both stores: on PostgreSQL the killed child also held the
//! ledger's sequencer lease, which the next opener takes once it expires.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notarium_core::merkle::verify_consistency;
use notarium_core::{Hash, TreeSize};

const CHILD_ENV: &str = "NOTARIUM_CRASH_CHILD_DIR";
/// The child's database URL, when the ledger is kept in PostgreSQL.
const CHILD_DB_ENV: &str = "NOTARIUM_CRASH_CHILD_DATABASE";
/// The child's lease: short, so that each round's reopening waits little for a dead holder.
const CHILD_LEASE: Duration = Duration::from_millis(500);

/// The child: appends from 8 threads until killed. Run only by `kill_nine_loses_nothing`.
#[test]
#[ignore = "child process of kill_nine_loses_nothing, which runs it with --ignored"]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut options = common::options("default");
    if let Ok(url) = std::env::var(CHILD_DB_ENV) {
        let db = notarium_ledger::Postgres::connect(&url).unwrap();
        options.database = Some(db.with_lease(CHILD_LEASE));
    }
    let ledger = Arc::new(notarium_ledger::Ledger::open(&dir, options).unwrap());
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let (ledger, out) = (ledger.clone(), out.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let n = (std::process::id() as u64) << 32 | t << 24 | i;
                    let batch = if i % 5 == 0 { 10 } else { 1 };
                    let entries = (0..batch)
                        .map(|j| common::artifact(n * 16 + j, "crash"))
                        .collect();
                    let receipts = ledger.append(entries).unwrap();
                    let cp = notarium_core::UnverifiedCheckpoint::parse(&receipts[0].checkpoint)
                        .unwrap();
                    let mut out = out.lock().unwrap();
                    for r in &receipts {
                        writeln!(out, "ack {} {}", r.index, r.leaf_hash).unwrap();
                    }
                    writeln!(out, "cp {} {}", cp.claimed().size, cp.claimed().root).unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// splitmix64, so the kill moments vary but the run can be replayed from its seed.
fn next(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn kill_nine_loses_nothing(store: &common::Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut acked: BTreeMap<u64, Hash> = BTreeMap::new();
    let mut seen: BTreeMap<u64, Hash> = BTreeMap::new();
    const ROUNDS: usize = 20;
    for round in 0..ROUNDS {
        let wait_for = 1 + next(&mut seed) % 400;
        let mut child = Command::new(std::env::current_exe().unwrap());
        if let Some(db) = store.test_database() {
            child.env(CHILD_DB_ENV, db.url());
        }
        let mut child = child
            .args([
                "--ignored",
                "--exact",
                "crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let reader = {
            let lines = lines.clone();
            let stdout = child.stdout.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    lines.lock().unwrap().push(line);
                }
            })
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("ack"))
            .count()
            < wait_for as usize
        {
            assert!(
                Instant::now() < deadline,
                "child made no progress in round {round}"
            );
            std::thread::yield_now();
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        for line in lines.lock().unwrap().iter() {
            let mut parts = line.split(' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("ack"), Some(i), Some(h)) => {
                    acked.insert(i.parse().unwrap(), Hash::from_hex(h).unwrap());
                }
                (Some("cp"), Some(s), Some(r)) => {
                    let (size, root) = (s.parse().unwrap(), Hash::from_hex(r).unwrap());
                    if let Some(prev) = seen.insert(size, root) {
                        assert_eq!(
                            prev, root,
                            "two checkpoints of size {size} with different roots"
                        );
                    }
                }
                _ => {} // the test harness's own lines, or a line cut by the kill
            }
        }

        let ledger = store.open(dir.path());
        let key = ledger.verifier_key().clone();
        let size = ledger.size();
        for (&i, h) in acked.range(
            acked
                .keys()
                .next_back()
                .map_or(0, |l| l.saturating_sub(300))..,
        ) {
            let r = ledger
                .get(i)
                .unwrap_or_else(|e| panic!("acknowledged entry {i} lost: {e}"));
            assert_eq!(&r.leaf_hash, h, "entry {i} changed");
            r.verify(&key).unwrap();
        }
        assert!(acked.keys().all(|&i| i < size));
        let current = ledger.checkpoint();
        for (&s, root) in seen.range(
            seen.keys()
                .next_back()
                .map_or(0, |l| l.saturating_sub(2000))..,
        ) {
            let p = ledger.prove_consistency(s, size).unwrap();
            verify_consistency(TreeSize(s), current.size(), &p, root, &current.root())
                .unwrap_or_else(|e| {
                    panic!("checkpoint {s} seen before the kill is inconsistent: {e}")
                });
        }
    }
    assert!(
        acked.len() > ROUNDS,
        "too few acknowledgements to mean anything"
    );
    let ledger = store.open(dir.path());
    for (&i, h) in &acked {
        assert_eq!(&ledger.get(i).unwrap().leaf_hash, h);
    }
    drop(ledger);
    let report = store.audit(dir.path());
    assert!(report.is_clean(), "{:#?}", report.findings);
    eprintln!(
        "{} rounds, {} acknowledged entries, {} checkpoints seen",
        ROUNDS,
        acked.len(),
        seen.len()
    );
}

on_both_stores!(kill_nine_loses_nothing);
