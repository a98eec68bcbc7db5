//! Ledger benchmark: durable appends at 1, 16 and 64 concurrent appenders, with and without
//! the status index, against plain SQLite inserts of the same rows and indexes in the same run;
//! the one-time index build of an upgrade; proof latency; status answers with their proofs.
//!
//! `cargo run --release -p notarium-bench --bin ledger-bench -- [--entries 1000000] [--appends 20000]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use notarium_bench::{arg, machine, peak_rss_mib, percentile, us};
use notarium_core::{ArtifactRequest, LedgerName, Origin, Sha256};
use notarium_ledger::{Ledger, LedgerOptions, NewEntry};
use rusqlite::params;

fn options() -> LedgerOptions {
    LedgerOptions::new(
        LedgerName::new("bench").unwrap(),
        Origin::new("localhost/notarium/bench").unwrap(),
    )
}

fn entry(i: u64) -> NewEntry {
    NewEntry::Artifact {
        request: ArtifactRequest {
            sha256: Sha256::of(&i.to_le_bytes()),
            name: format!("build-{}/app-{i}.tar.gz", i / 100),
            size: Some(1_000_000 + i),
            kind: None,
            status: None,
            attributes: [("commit".to_string(), format!("{:040x}", i))].into(),
            ci: [("provider".to_string(), "github".to_string())].into(),
        },
        signer: "k_bench".into(),
        identity: None,
    }
}

/// One ledger run with `threads` appenders.
struct LedgerRun {
    rate: f64,
    mean_batch: f64,
    /// Share of the writer's batch time spent in COMMIT (the fsync).
    commit_share: f64,
    /// Mean COMMIT and whole-batch time of the writer, in ms.
    commit_ms: f64,
    batch_ms: f64,
    /// Mean time per batch extending the status index and writing the entries' rows, in ms.
    index_ms: f64,
    rows_ms: f64,
}

/// Durable ledger appends with `threads` appenders, each waiting for its receipt.
fn ledger_appends(threads: usize, total: u64, indexed: bool) -> Result<LedgerRun> {
    let dir = tempfile::tempdir()?;
    let times = Arc::new(std::sync::Mutex::new((0f64, 0f64, 0f64, 0f64)));
    let mut opts = options();
    opts.status_index = indexed;
    let t2 = times.clone();
    opts.on_commit = Some(Arc::new(move |c: notarium_ledger::CommitInfo| {
        let mut t = t2.lock().unwrap();
        t.0 += c.commit_seconds;
        t.1 += c.batch_seconds;
        t.2 += c.index_seconds;
        t.3 += c.rows_seconds;
    }));
    let ledger = Arc::new(Ledger::open(dir.path(), opts)?);
    let per = total / threads as u64;
    let start = Instant::now();
    let handles: Vec<_> = (0..threads as u64)
        .map(|t| {
            let ledger = ledger.clone();
            std::thread::spawn(move || -> Result<()> {
                for i in 0..per {
                    ledger.append(vec![entry(t * per + i)])?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().expect("appender panicked")?;
    }
    let secs = start.elapsed().as_secs_f64();
    let stats = ledger.counters();
    let (commit, batch, index, rows) = *times.lock().unwrap();
    Ok(LedgerRun {
        rate: (per * threads as u64) as f64 / secs,
        mean_batch: stats.entries as f64 / stats.batches as f64,
        commit_share: commit / batch.max(f64::EPSILON),
        commit_ms: 1e3 * commit / stats.batches as f64,
        batch_ms: 1e3 * batch / stats.batches as f64,
        index_ms: 1e3 * index / stats.batches as f64,
        rows_ms: 1e3 * rows / stats.batches as f64,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Plain SQLite: the same rows (entry bytes + index columns + attribute row) and the same
/// indexes, WAL + synchronous=FULL, committed in transactions of `batch` rows.
fn sqlite_inserts(total: u64, batch: usize) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let conn = rusqlite::Connection::open(dir.path().join("plain.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL, type TEXT, sha256 BLOB,
            name TEXT, signer TEXT, status TEXT, time_us INTEGER);
         CREATE INDEX e1 ON entries (sha256, idx); CREATE INDEX e2 ON entries (name, idx);
         CREATE INDEX e3 ON entries (signer, idx); CREATE INDEX e4 ON entries (time_us, idx);
         CREATE TABLE attributes (key TEXT NOT NULL, value TEXT NOT NULL, idx INTEGER NOT NULL,
            PRIMARY KEY (key, value, idx)) WITHOUT ROWID;",
    )?;
    // Precompute the rows so that only SQLite is measured.
    let rows: Vec<(Vec<u8>, [u8; 32], String, String)> = (0..total)
        .map(|i| {
            let NewEntry::Artifact { request, .. } = entry(i) else {
                unreachable!()
            };
            let json = serde_json_like(&request, i);
            (json, request.sha256.0, request.name, format!("{:040x}", i))
        })
        .collect();
    let start = Instant::now();
    let mut idx = 0u64;
    for chunk in rows.chunks(batch.max(1)) {
        let tx = conn.unchecked_transaction()?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO entries (idx, data, type, sha256, name, signer, status, time_us) VALUES (?1, ?2, 'artifact', ?3, ?4, 'k_bench', 'trusted', ?5)",
            )?;
            let mut attr = tx.prepare_cached(
                "INSERT INTO attributes (key, value, idx) VALUES ('commit', ?1, ?2)",
            )?;
            for (data, sha, name, commit) in chunk {
                ins.execute(params![
                    idx,
                    data,
                    &sha[..],
                    name,
                    1_790_000_000_000_000i64 + idx as i64
                ])?;
                attr.execute(params![commit, idx])?;
                idx += 1;
            }
        }
        tx.commit()?;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Entry bytes of the same length as the ledger's, without the ledger's code.
fn serde_json_like(r: &ArtifactRequest, i: u64) -> Vec<u8> {
    format!(
        r#"{{"attributes":{{"commit":"{:040x}"}},"ci":{{"provider":"github"}},"kind":"file","ledger":"bench","name":"{}","sha256":"{}","signer":"k_bench","size":{},"status":"trusted","time":"2026-11-21T10:00:00.123456Z","type":"artifact","v":1}}"#,
        i, r.name, r.sha256, 1_000_000 + i
    )
    .into_bytes()
}

fn main() -> Result<()> {
    notarium_bench::usage(
        "ledger-bench: durable appends through the library against plain SQLite in the same run; \
         proofs and status answers at --entries",
        &[
            ("--appends", "N", "appends per appender-count row (20000)"),
            ("--entries", "N", "entries of the large ledger (1000000)"),
            ("--samples", "N", "samples per latency row (10000)"),
            ("--rounds", "N", "alternating rounds of the append rows (3)"),
            ("--verbose", "", "print every round"),
        ],
    );
    let appends: u64 = arg("--appends", 20_000);
    let entries: u64 = arg("--entries", 1_000_000);
    let samples: usize = arg("--samples", 10_000);
    println!(
        "# ledger-bench on {}, durable (WAL, synchronous=FULL)\n",
        machine()
    );

    println!(
        "## Appends: ledger vs plain SQLite (same rows, same indexes, same commits per row)\n"
    );
    let rounds: usize = arg("--rounds", 3);
    println!("Each row: the median of {rounds} rounds, ledger and plain SQLite alternating, so that both");
    println!(
        "see the same machine load. The baseline commits the same rows in batches of the size the"
    );
    println!("ledger's group commit reached in that round.\n");
    println!("| appenders | ledger appends/s | mean batch | writer time in COMMIT | without the status index | plain SQLite rows/s | ratio to SQLite | index cost |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for threads in [1usize, 16, 64] {
        let total = if threads == 1 { appends / 10 } else { appends };
        let (mut rates, mut plain, mut bases, mut ratios, mut costs, mut batches, mut shares) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..rounds {
            let run = ledger_appends(threads, total, true)?;
            let without = ledger_appends(threads, total, false)?;
            let base = sqlite_inserts(total, run.mean_batch.round() as usize)?;
            if notarium_bench::flag("--verbose") {
                eprintln!(
                    "{threads} appenders: ledger commit {:.2} ms, index {:.2} ms, rows {:.2} ms, batch {:.2} ms, cycle {:.2} ms; without index batch {:.2} ms; plain SQLite {:.2} ms per batch",
                    run.commit_ms,
                    run.index_ms,
                    run.rows_ms,
                    run.batch_ms,
                    1e3 * run.mean_batch / run.rate,
                    without.batch_ms,
                    1e3 * run.mean_batch / base
                );
            }
            rates.push(run.rate);
            plain.push(without.rate);
            bases.push(base);
            ratios.push(run.rate / base);
            costs.push(1.0 - run.rate / without.rate);
            batches.push(run.mean_batch);
            shares.push(run.commit_share);
        }
        println!(
            "| {threads} | {:.0} | {:.1} | {:.0}% | {:.0} | {:.0} | {:.0}% | {:.0}% |",
            median(rates),
            median(batches),
            100.0 * median(shares),
            median(plain),
            median(bases),
            100.0 * median(ratios),
            100.0 * median(costs)
        );
    }

    println!("\n## Proofs at {entries} entries\n");
    let dir = tempfile::tempdir()?;
    // Filled as a ledger of 0.1.0 was (no status index), then opened by this version: the
    // upgrade builds the index once.
    let fill = Instant::now();
    {
        let mut opts = options();
        opts.status_index = false;
        let ledger = Ledger::open(dir.path(), opts)?;
        let mut i = 0;
        while i < entries {
            let n = (entries - i).min(4096);
            ledger.append((i..i + n).map(entry).collect())?;
            i += n;
        }
    }
    let fill_secs = fill.elapsed().as_secs_f64();
    let upgrade = Instant::now();
    drop(Ledger::open(dir.path(), options())?);
    let upgrade_secs = upgrade.elapsed().as_secs_f64();
    let open = Instant::now();
    let ledger = Ledger::open(dir.path(), options())?;
    let open_time = open.elapsed();
    println!(
        "upgrade: opening the {entries} entries written without the status index built it in {upgrade_secs:.1} s"
    );
    let size = ledger.size();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut incl = Vec::with_capacity(samples);
    let mut cons = Vec::with_capacity(samples);
    let mut hashes = 0usize;
    for _ in 0..samples {
        let idx = rnd(size);
        let t = Instant::now();
        hashes += ledger.prove_inclusion(idx, size)?.len();
        incl.push(t.elapsed());
        let from = 1 + rnd(size - 1);
        let t = Instant::now();
        ledger.prove_consistency(from, size)?;
        cons.push(t.elapsed());
    }
    incl.sort();
    cons.sort();
    println!(
        "filled in {fill_secs:.1} s without the index ({:.0} entries/s in batches of 4096); reopened in {} µs",
        entries as f64 / fill_secs,
        us(open_time)
    );
    println!(
        "inclusion proofs have {:.1} hashes on average (log2 n = {:.1})\n",
        hashes as f64 / samples as f64,
        (size as f64).log2()
    );
    println!("| proof | samples | median µs | p99 µs | max µs |");
    println!("|---|---:|---:|---:|---:|");
    for (name, v) in [("inclusion", &incl), ("consistency", &cons)] {
        println!(
            "| {name} | {samples} | {} | {} | {} |",
            us(percentile(v, 50.0)),
            us(percentile(v, 99.0)),
            us(*v.last().unwrap_or(&Duration::ZERO))
        );
    }

    // Status answers (docs/status-index.md): authenticate with its proof, its size as JSON, and
    // the client's verification of it, for notarized and never-notarized hashes.
    println!("\n## Status answers at {size} entries\n");
    println!("| answer | samples | authenticate median µs | p99 µs | JSON bytes mean | max | verify_status median µs | p99 µs |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, known) in [("trusted (notarized)", true), ("unknown (absent)", false)] {
        let (mut auth, mut verify, mut sizes) = (vec![], vec![], vec![]);
        for _ in 0..samples.min(5_000) {
            let i = rnd(size);
            let sha = if known {
                Sha256::of(&i.to_le_bytes())
            } else {
                Sha256::of(&(u64::MAX - i).to_be_bytes())
            };
            let t = Instant::now();
            let ans = ledger.authenticate(&sha, &[])?;
            auth.push(t.elapsed());
            let cp = notarium_core::UnverifiedCheckpoint::parse(
                ans.checkpoint.as_deref().unwrap_or(""),
            )?
            .verify(ledger.verifier_key())?;
            let t = Instant::now();
            let v = notarium_core::status::verify_status(&cp, &sha, &[], &ans)?;
            verify.push(t.elapsed());
            assert_eq!(v.status == notarium_core::Status::Unknown, !known);
            sizes.push(serde_json::to_vec(&ans)?.len());
        }
        auth.sort();
        verify.sort();
        println!(
            "| {name} | {} | {} | {} | {:.0} | {} | {} | {} |",
            auth.len(),
            us(percentile(&auth, 50.0)),
            us(percentile(&auth, 99.0)),
            sizes.iter().sum::<usize>() as f64 / sizes.len() as f64,
            sizes.iter().max().unwrap_or(&0),
            us(percentile(&verify, 50.0)),
            us(percentile(&verify, 99.0)),
        );
    }
    println!("\n(verify_status includes the receipts' inclusion proofs and signature checks of the entries it holds; the index proof alone is measured by core/tests/index_bench.rs)");
    if let Some(rss) = peak_rss_mib() {
        println!("\npeak RSS of the benchmark process: {rss:.0} MiB");
    }
    Ok(())
}
