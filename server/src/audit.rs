//! `notariumd audit DATA_DIR`: the offline audit of every ledger of a data directory
//! (docs/configuration.md), or with `--database` of every ledger of a PostgreSQL database
//! (docs/postgresql.md), with a readable or JSON report.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use notarium_ledger::LedgerAudit;
use serde::Serialize;

/// The audit of one ledger of the data directory, by name.
#[derive(Debug, Serialize)]
pub struct NamedAudit {
    /// Ledger name (its directory name).
    pub ledger: String,
    /// What the recomputation found (`report` in the JSON output).
    pub report: LedgerAudit,
}

/// Audits every ledger under `<data_dir>/ledgers/`.
///
/// # Errors
/// When the directory holds no ledgers or a database cannot be read at all.
pub fn audit_data_dir(data_dir: &Path) -> anyhow::Result<Vec<NamedAudit>> {
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
            Ok(NamedAudit { ledger, report })
        })
        .collect()
}

/// Audits every ledger of the PostgreSQL database `db`, each on one snapshot of it, with the
/// signing keys under `<data_dir>/ledgers/`.
///
/// # Errors
/// When the database holds no ledgers or cannot be read at all.
pub fn audit_database(
    data_dir: &Path,
    db: &notarium_ledger::Postgres,
) -> anyhow::Result<Vec<NamedAudit>> {
    let names = db.ledgers()?;
    if names.is_empty() {
        anyhow::bail!("no ledgers in the database {db}");
    }
    names
        .into_iter()
        .map(|ledger| {
            let name = notarium_core::LedgerName::new(&ledger)
                .with_context(|| format!("a ledger named {ledger:?} in the database"))?;
            let dir = data_dir.join("ledgers").join(&ledger);
            let report = notarium_ledger::audit_postgres(db, &name, &dir, |_, _| {})
                .with_context(|| format!("cannot audit ledger {ledger}"))?;
            Ok(NamedAudit { ledger, report })
        })
        .collect()
}

/// Writes a human-readable report.
///
/// # Errors
/// When writing fails.
pub fn print_text(out: &mut impl Write, audits: &[NamedAudit]) -> std::io::Result<()> {
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
