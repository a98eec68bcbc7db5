//! `notarium verify-report FILE`: checks an audit report (as downloaded from the dashboard or
//! `GET /api/v1/ledgers/{l}/report`) offline, with `notarium-core`'s [`AuditReport::verify`],
//! against the pinned verifier key: exit 0 valid, 5 invalid, 64 usage.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use notarium_client::Client;
use notarium_core::{AuditReport, VerifierKey};

use crate::{code, Global, Output};
use notarium_client::exit::usage;

/// `verify-report`.
#[derive(Args, Debug)]
pub struct VerifyReportArgs {
    /// The audit report (JSON).
    pub report: PathBuf,
}

fn tampering(msg: String) -> anyhow::Error {
    notarium_client::Error::Tampering(msg).into()
}

/// The key to check against: `--verifier-key`, else the one this machine pinned for the
/// report's ledger on `--server` (never the key the report names: that is only a hint).
fn key_for(g: &Global, ledger: &str) -> Result<VerifierKey> {
    if let Some(k) = g.pinned_key()? {
        return Ok(k);
    }
    let dir = g.state_dir();
    let server = Client::new(&g.server, ledger, None)?.server().to_string();
    let pinned = notarium_client::trust::StateFile::open(&dir, &server, ledger)
        .ok()
        .and_then(|sf| sf.state.verifier_key);
    let k = pinned.ok_or_else(|| {
        usage(format!(
            "verifying a report needs ledger {ledger:?}'s verifier key, obtained independently: pass --verifier-key (or NOTARIUM_VERIFIER_KEY)"
        ))
    })?;
    Ok(VerifierKey::parse(&k)?)
}

fn read(path: &Path) -> Result<AuditReport> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(|e| usage(format!("{e:#}")))?;
    serde_json::from_str(&text)
        .map_err(|e| tampering(format!("{} is not an audit report: {e}", path.display())))
}

/// Verifies the report and prints its summary.
pub fn verify_report(g: &Global, a: VerifyReportArgs) -> Result<u8> {
    let report = read(&a.report)?;
    // The name becomes part of a state path below: check it before trusting it that far.
    notarium_core::LedgerName::new(&report.ledger)
        .map_err(|e| tampering(format!("{}: ledger: {e}", a.report.display())))?;
    let key = key_for(g, &report.ledger)?;
    let v = report
        .verify(&key)
        .map_err(|e| tampering(format!("{}: {e}", a.report.display())))?;
    let s = v.summary;
    let range = format!(
        "{} to {}",
        report.range.since.as_deref().unwrap_or("the first entry"),
        report
            .range
            .until
            .as_deref()
            .unwrap_or("the end checkpoint")
    );
    if g.output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "exit_code": code::OK,
                "valid": true,
                "ledger": report.ledger,
                "origin": key.name(),
                "range": report.range,
                "summary": s,
            }))
            .expect("serializes")
        );
        return Ok(code::OK);
    }
    println!("audit report of ledger {}: VALID", report.ledger);
    println!("  range        {range}");
    println!(
        "  entries      {} to {} ({} entries)",
        report.range.first_index, report.range.end_index, s.entries
    );
    println!(
        "  checkpoints  sizes {} and {}, both signed by {}",
        v.from.size().0,
        v.to.size().0,
        key
    );
    println!("  consistency  proven from the start checkpoint to the end checkpoint");
    println!("  inclusion    every entry proven in the end checkpoint; times within the range");
    println!(
        "  summary      {} notarizations, {} status changes, {} keys created, {} revocations",
        s.notarizations, s.status_changes, s.keys_created, s.revocations
    );
    Ok(code::OK)
}
