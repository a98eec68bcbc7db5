//! `notariumd audit DATA_DIR`: the offline audit of every ledger of a data directory
//! (DESIGN.md §4), with a readable or JSON report.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use notarium_ledger::AuditReport;
use serde::Serialize;

/// One ledger's audit.
#[derive(Debug, Serialize)]
pub struct LedgerAudit {
    /// Ledger name (its directory name).
    pub ledger: String,
    /// The report.
    pub report: AuditReport,
}

/// Audits every ledger under `<data_dir>/ledgers/`.
///
/// # Errors
/// When the directory holds no ledgers or a database cannot be read at all.
pub fn audit_data_dir(data_dir: &Path) -> anyhow::Result<Vec<LedgerAudit>> {
    let ledgers = data_dir.join("ledgers");
    let mut dirs: Vec<_> = std::fs::read_dir(&ledgers)
        .with_context(|| format!("{} is not a notariumd data directory", data_dir.display()))?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|d| d.path().is_dir())
        .collect();
    dirs.sort_by_key(|d| d.file_name());
    if dirs.is_empty() {
        anyhow::bail!("no ledgers in {}", ledgers.display());
    }
    dirs.into_iter()
        .map(|d| {
            let ledger = d.file_name().to_string_lossy().into_owned();
            let report = notarium_ledger::audit(&d.path(), |_, _| {})
                .with_context(|| format!("cannot audit ledger {ledger}"))?;
            Ok(LedgerAudit { ledger, report })
        })
        .collect()
}

/// Writes a human-readable report.
///
/// # Errors
/// When writing fails.
pub fn print_text(out: &mut impl Write, audits: &[LedgerAudit]) -> std::io::Result<()> {
    for a in audits {
        let r = &a.report;
        if r.is_clean() {
            writeln!(
                out,
                "ledger {}: ok ({} entries, {} checkpoints, {} tiles checked)",
                a.ledger, r.entries, r.checkpoints, r.tiles
            )?;
            continue;
        }
        let first = r
            .first_bad_index
            .map_or(String::new(), |i| format!(", first bad index {i}"));
        writeln!(
            out,
            "ledger {}: {} finding(s){first} ({} entries checked)",
            a.ledger,
            r.findings.len() as u64 + r.more_findings,
            r.entries
        )?;
        for f in &r.findings {
            let at = f.index.map_or(String::new(), |i| format!(" at index {i}"));
            writeln!(out, "  {:?}{at}: {}", f.kind, f.message)?;
        }
        if r.more_findings > 0 {
            writeln!(out, "  … and {} more", r.more_findings)?;
        }
    }
    Ok(())
}
