//! Results as `notarium` prints them (DESIGN.md §6): a table, or with `--output json` one
//! document `{exit_code, results: [{subject, sha256, status, code, reason, index, signer, time}], …}`,
//! so that whatever reads the CLI's JSON (the action's summary, `status --from-json`) reads
//! this too.

use serde::Serialize;

use crate::code;

/// One artifact's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// What it is called (the asset's name).
    pub subject: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Status, or what happened.
    pub status: String,
    /// The exit code this row contributes.
    pub code: u8,
    /// A machine-readable reason.
    pub reason: &'static str,
    /// The deciding or recorded entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// Who signed that entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// When it was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

/// The reason word of an exit code, as the CLI spells it.
pub fn reason_for_code(c: u8) -> &'static str {
    match c {
        code::OK => "trusted",
        code::UNTRUSTED => "untrusted",
        code::UNKNOWN => "unknown",
        code::UNSUPPORTED => "unsupported",
        code::REVOKED => "revoked",
        code::TAMPERING => "verification_failed",
        code::UNREACHABLE => "server_unreachable",
        _ => "usage",
    }
}

/// Prints `rows` (and, in JSON, the fields of `extra`); returns the worst code.
pub fn print(rows: &[Row], json: bool, extra: serde_json::Value) -> u8 {
    let worst = rows.iter().map(|r| r.code).max().unwrap_or(code::OK);
    if json {
        let mut doc = serde_json::json!({ "exit_code": worst, "results": rows });
        if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                d.insert(k.clone(), v.clone());
            }
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON values serialize")
        );
        return worst;
    }
    let w_status = rows.iter().map(|r| r.status.len()).fold(6, usize::max);
    let w_subject = rows
        .iter()
        .map(|r| r.subject.chars().count())
        .fold(7, usize::max);
    println!(
        "{:<w_status$}  {:<w_subject$}  {:<12}  {:>8}  SIGNER",
        "STATUS", "SUBJECT", "SHA256", "INDEX"
    );
    for r in rows {
        println!(
            "{:<w_status$}  {:<w_subject$}  {:<12}  {:>8}  {}",
            r.status,
            r.subject,
            &r.sha256[..12.min(r.sha256.len())],
            r.index.map_or_else(|| "-".to_owned(), |i| i.to_string()),
            r.signer.as_deref().unwrap_or("-")
        );
    }
    worst
}
