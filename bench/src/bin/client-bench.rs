//! Client benchmark (issue 4): the cost of verifying one receipt offline, and files/s for
//! `notarium notarize` of 10,000 small files against a real `notariumd` (release builds).
//!
//! `cargo build --release --bin notariumd --bin notarium --bin client-bench && target/release/client-bench [--files 10000]`

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use notarium_bench::{arg, machine, percentile, us};
use notarium_core::{ArtifactRequest, LedgerName, Origin, Sha256};
use notarium_ledger::{Ledger, LedgerOptions, NewEntry};

const ADMIN: &str = "bench-admin-token-0123456789";

fn main() -> Result<()> {
    notarium_bench::usage(
        "client-bench: offline receipt verification, and notarium on many files against a real \
         notariumd",
        &[("--files", "N", "files for the CLI rows (10000)")],
    );
    let files: usize = arg("--files", 10_000);
    println!("# client-bench on {}\n", machine());

    // 1. Verification cost per receipt: entry bytes → leaf hash → inclusion → Ed25519 signature.
    let dir = tempfile::tempdir()?;
    let ledger = Ledger::open(
        dir.path(),
        LedgerOptions::new(
            LedgerName::new("bench")?,
            Origin::new("localhost/notarium/bench")?,
        ),
    )?;
    let mut receipts = Vec::new();
    for chunk in 0..100u64 {
        let entries = (0..1000u64)
            .map(|i| NewEntry::Artifact {
                request: ArtifactRequest {
                    sha256: Sha256::of(&(chunk * 1000 + i).to_le_bytes()),
                    name: format!("file-{chunk}-{i}"),
                    size: Some(i),
                    kind: None,
                    status: None,
                    attributes: Default::default(),
                    ci: Default::default(),
                },
                signer: "k_bench".into(),
                identity: None,
            })
            .collect();
        let mut r = ledger.append(entries)?;
        receipts.push(r.swap_remove((chunk as usize * 37) % 1000));
    }
    let key = ledger.verifier_key().clone();
    let mut times = Vec::new();
    for _ in 0..20 {
        for r in &receipts {
            let t = Instant::now();
            r.verify(&key)?;
            times.push(t.elapsed());
        }
    }
    times.sort();
    // In a batch every receipt shares one checkpoint: its signature is checked once.
    let mut shared = Vec::new();
    for _ in 0..20 {
        for r in &receipts {
            let cp = notarium_core::UnverifiedCheckpoint::parse(&r.checkpoint)?.verify(&key)?;
            let t = Instant::now();
            r.verify_in(cp)?;
            shared.push(t.elapsed());
        }
    }
    shared.sort();
    println!("| receipt verification (100,000-entry ledger, 2,000 samples) | median µs | p99 µs |");
    println!("|---|---:|---:|");
    println!(
        "| `Receipt::verify` (with the checkpoint's Ed25519 signature) | {} | {} |",
        us(percentile(&times, 50.0)),
        us(percentile(&times, 99.0))
    );
    println!(
        "| `Receipt::verify_in` (checkpoint already verified, as in a batch) | {} | {} |\n",
        us(percentile(&shared, 50.0)),
        us(percentile(&shared, 99.0))
    );

    // 2. notarize / authenticate of many small files with the real binaries.
    let exe = std::env::current_exe()?;
    let notariumd = exe.with_file_name("notariumd");
    let notarium = exe.with_file_name("notarium");
    for b in [&notariumd, &notarium] {
        if !b.exists() {
            bail!(
                "{} is missing: cargo build --release --bin notariumd --bin notarium",
                b.display()
            );
        }
    }
    let data = tempfile::tempdir()?;
    let mut server = Command::new(&notariumd)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("NOTARIUM_ADMIN_TOKEN", ADMIN)
        .env("NOTARIUM_LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut lines = BufReader::new(server.stdout.take().context("stdout")?).lines();
    let url = loop {
        let Some(line) = lines.next() else {
            bail!("notariumd exited")
        };
        let line = line?;
        if let Some(i) = line.find("ready on ") {
            break line[i + 9..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let state = tempfile::tempdir()?;
    let run = |args: &[&str], key: &str| -> Result<(Duration, std::process::Output)> {
        let t = Instant::now();
        let out = Command::new(&notarium)
            .args(args)
            .env("NOTARIUM_SERVER", &url)
            .env("NOTARIUM_STATE_DIR", state.path())
            .env("NOTARIUM_API_KEY", key)
            .env("NOTARIUM_OUTPUT", "json")
            .output()?;
        Ok((t.elapsed(), out))
    };
    let (_, out) = run(&["key", "create", "bench", "--role", "write"], ADMIN)?;
    let created: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("key create output")?;
    let key = created["key"].as_str().context("key")?.to_owned();
    let tree = tempfile::tempdir()?;
    for i in 0..files {
        let sub = tree.path().join(format!("d{:03}", i / 100));
        std::fs::create_dir_all(&sub)?;
        std::fs::write(
            sub.join(format!("f{i}.bin")),
            format!("artifact {i}\n").repeat(8),
        )?;
    }
    let dirarg = tree.path().to_string_lossy().into_owned();
    let (t_notarize, out) = run(&["notarize", &dirarg], &key)?;
    if !out.status.success() {
        bail!("notarize failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let (t_auth, out) = run(&["authenticate", &dirarg], &key)?;
    if !out.status.success() {
        bail!(
            "authenticate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = server.kill();
    let _ = server.wait();
    println!(
        "| `notarium` on {files} small files (one command, real notariumd) | seconds | files/s |"
    );
    println!("|---|---:|---:|");
    println!(
        "| notarize (hash, batch of 1,000, verify every receipt) | {:.2} | {:.0} |",
        t_notarize.as_secs_f64(),
        files as f64 / t_notarize.as_secs_f64()
    );
    println!(
        "| authenticate (hash, batch authenticate, verify every proof) | {:.2} | {:.0} |",
        t_auth.as_secs_f64(),
        files as f64 / t_auth.as_secs_f64()
    );
    Ok(())
}
