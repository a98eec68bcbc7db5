//! Audit reports ([`notarium_core::report`]): built from the ledger for a time range, served as
//! JSON (which `notarium verify-report` checks offline) or as a printable HTML page with the
//! same content.
//!
//! The HTML page is self-contained (one inline stylesheet, no script, no request anywhere), so
//! that a downloaded copy prints as served. Its Content-Security-Policy allows exactly that
//! stylesheet by hash.

use std::fmt::Write as _;
use std::sync::OnceLock;

use base64::Engine;
use notarium_core::report::REPORT_FORMAT;
use notarium_core::{
    ArtifactStatus, AuditReport, Entry, KeyAction, Receipt, ReportRange, ReportSummary, Timestamp,
};
use notarium_ledger::Ledger;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Builds the report of the entries sequenced in `[since, until)` as of the latest checkpoint.
///
/// # Errors
/// 422 `range_too_large` when the range holds more than `max` entries; storage errors.
pub fn build(
    ledger: &Ledger,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    max: u64,
    now: Timestamp,
) -> Result<AuditReport, ApiError> {
    let latest = ledger.checkpoint();
    let size = latest.size().0;
    // Both ends are clamped to one checkpoint; every index at a time boundary is the start of
    // a batch, so it has a signed checkpoint of its own.
    let a = since.map_or(Ok(0), |t| ledger.index_at(t))?.min(size);
    let b = until.map_or(Ok(size), |t| ledger.index_at(t))?.min(size);
    if b - a > max {
        return Err(ApiError::RangeTooLarge(format!(
            "the range holds {} entries; a report holds at most {max}: narrow since and until",
            b - a
        )));
    }
    let checkpoint = |n: u64| -> Result<_, ApiError> {
        ledger
            .checkpoint_at(n)?
            .ok_or_else(|| ApiError::Internal(format!("no signed checkpoint of size {n}")))
    };
    let (from, to) = (checkpoint(a)?, checkpoint(b)?);
    let entries = ledger.receipts_in(a, b, &to)?;
    let before = match since {
        Some(_) if a > 0 => ledger.receipts_in(a - 1, a, &to)?.pop(),
        _ => None,
    };
    let (after, after_consistency_proof) = match until {
        Some(_) if b < size => (
            ledger.receipts_in(b, b + 1, &latest)?.pop(),
            ledger.prove_consistency(b, size)?,
        ),
        _ => (None, Vec::new()),
    };
    let parsed = entries
        .iter()
        .map(|r| {
            r.parse_entry()
                .map_err(|e| ApiError::Internal(format!("entry {}: {e}", r.index)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AuditReport {
        format: REPORT_FORMAT.to_owned(),
        ledger: ledger.name().to_string(),
        origin: ledger.origin().to_string(),
        verifier_key: ledger.verifier_key().to_string(),
        generated_at: now.to_string(),
        range: ReportRange {
            since: since.map(|t| t.to_string()),
            until: until.map(|t| t.to_string()),
            first_index: a,
            end_index: b,
        },
        max_entries: max,
        from: from.note().to_owned(),
        to: to.note().to_owned(),
        consistency_proof: ledger.prove_consistency(a, b)?,
        entries,
        before,
        after,
        after_consistency_proof,
        summary: ReportSummary::of(&parsed),
    })
}

/// The file name a report downloads as, without extension.
pub fn file_stem(r: &AuditReport) -> String {
    format!(
        "notarium-report-{}-{}-{}",
        r.ledger, r.range.first_index, r.range.end_index
    )
}

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1b1f24;margin:2rem auto;max-width:70rem;padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:1.8rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}
.muted{color:#57606a}code,pre,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.85em}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.6rem;white-space:pre-wrap;word-break:break-all}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dl.facts dt{font-weight:600}dl.facts dd{margin:0;word-break:break-all}
.counts{display:flex;gap:1rem;flex-wrap:wrap;padding:0;list-style:none}.counts li{border:1px solid #d0d7de;border-radius:6px;padding:.5rem .8rem;min-width:8rem}
.counts b{display:block;font-size:1.4rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;border-bottom:1px solid #d0d7de;padding:.3rem .4rem}
th{background:#f6f8fa}td.proof{font-size:.7em;color:#57606a;word-break:break-all}
.status{font-weight:600}.trusted{color:#1a7f37}.untrusted,.revoked{color:#cf222e}.unsupported{color:#9a6700}
.note{border-left:4px solid #0969da;background:#ddf4ff;padding:.5rem .8rem}
@media print{body{margin:0;max-width:none;font-size:10pt}h2{break-after:avoid}tr{break-inside:avoid}pre{white-space:pre-wrap}}
"#;

/// The Content-Security-Policy of the HTML report: nothing but its own inline stylesheet.
pub fn html_csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src data:; form-action 'none'; \
             frame-ancestors 'none'; base-uri 'none'"
        )
    })
}

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What an entry records, in words, with a status class.
fn describe(e: Option<&Entry>) -> (String, String, &'static str) {
    match e {
        Some(Entry::Artifact(a)) => {
            let class = match a.status {
                ArtifactStatus::Trusted => "trusted",
                ArtifactStatus::Untrusted => "untrusted",
                ArtifactStatus::Unsupported => "unsupported",
            };
            (a.name.clone(), a.status.as_str().to_owned(), class)
        }
        Some(Entry::Key(k)) => {
            let revoked = k.action == KeyAction::Revoked;
            (
                format!("API key {} ({}, {})", k.id, k.name, k.role.as_str()),
                if revoked {
                    "key revoked"
                } else {
                    "key created"
                }
                .to_owned(),
                if revoked { "revoked" } else { "trusted" },
            )
        }
        None => (String::new(), "unknown entry".to_owned(), "unsupported"),
    }
}

/// A receipt with its entry parsed from the leaf bytes (`None` if they are not an entry).
type Row<'a> = (&'a Receipt, Option<Entry>);

fn entry_rows(out: &mut String, rows: &[&Row<'_>], with_proofs: bool) {
    out.push_str("<table><thead><tr><th scope=\"col\">Index</th><th scope=\"col\">Time</th><th scope=\"col\">Subject</th><th scope=\"col\">SHA-256</th><th scope=\"col\">Status</th><th scope=\"col\">Signer</th></tr></thead><tbody>");
    for (r, entry) in rows {
        let (subject, status, class) = describe(entry.as_ref());
        let sha256 = match entry {
            Some(Entry::Artifact(a)) => a.sha256.to_hex(),
            _ => String::new(),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"status {class}\">{}</td><td class=\"mono\">{}</td></tr>",
            r.index,
            esc(entry.as_ref().map_or("", Entry::time)),
            esc(&subject),
            esc(&sha256),
            esc(&status),
            esc(entry.as_ref().map_or("", Entry::signer)),
        );
        if with_proofs {
            let proof: Vec<String> = r.inclusion_proof.iter().map(|h| h.to_hex()).collect();
            let _ = write!(
                out,
                "<tr><td></td><td class=\"proof\" colspan=\"5\">leaf hash {} · inclusion proof: {}</td></tr>",
                r.leaf_hash.to_hex(),
                if proof.is_empty() { "(none: a one-entry tree)".to_owned() } else { proof.join(" ") }
            );
        }
    }
    out.push_str("</tbody></table>");
}

/// The time an entry was sequenced, from its leaf bytes.
fn time_of(r: &Receipt) -> String {
    r.parse_entry()
        .map(|e| e.time().to_owned())
        .unwrap_or_default()
}

/// The report as one printable, self-contained HTML page.
pub fn render_html(r: &AuditReport) -> String {
    let s = &r.summary;
    let mut out = String::with_capacity(4096 + r.entries.len() * 900);
    let range = format!(
        "{} to {}",
        r.range.since.as_deref().unwrap_or("the first entry"),
        r.range
            .until
            .as_deref()
            .unwrap_or("the report's end checkpoint")
    );
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Audit report: {ledger}, entries {a}–{b}</title><style>{STYLE}</style></head><body><main>\
<h1>Audit report of ledger {ledger}</h1><p class=\"muted\">Entries sequenced from {range} · generated {gen} by notariumd</p>\
<p class=\"note\">Verify this report offline from its JSON form: <code>notarium verify-report {stem}.json --verifier-key KEY</code>, with the ledger's verifier key obtained independently.</p>\
<h2>Summary</h2><ul class=\"counts\"><li><b>{e}</b>entries</li><li><b>{n}</b>notarizations</li><li><b>{sc}</b>status changes</li><li><b>{kc}</b>keys created</li><li><b>{rv}</b>revocations</li></ul>\
<dl class=\"facts\"><dt>Ledger</dt><dd>{ledger}</dd><dt>Origin</dt><dd class=\"mono\">{origin}</dd><dt>Verifier key</dt><dd class=\"mono\">{vkey}</dd><dt>Index range</dt><dd>{a} to {b} (exclusive)</dd><dt>Cap</dt><dd>at most {max} entries per report</dd></dl>",
        ledger = esc(&r.ledger),
        a = r.range.first_index,
        b = r.range.end_index,
        range = esc(&range),
        gen = esc(&r.generated_at),
        stem = esc(&file_stem(r)),
        e = s.entries,
        n = s.notarizations,
        sc = s.status_changes,
        kc = s.keys_created,
        rv = s.revocations,
        origin = esc(&r.origin),
        vkey = esc(&r.verifier_key),
        max = r.max_entries,
    );
    let _ = write!(
        out,
        "<h2>Signed checkpoints</h2><p>At the start (tree size {a}):</p><pre>{from}</pre><p>At the end (tree size {b}):</p><pre>{to}</pre>\
<h2>Consistency proof from {a} to {b}</h2><pre>{proof}</pre>",
        a = r.range.first_index,
        b = r.range.end_index,
        from = esc(&r.from),
        to = esc(&r.to),
        proof = if r.consistency_proof.is_empty() {
            "(empty: one of the trees is empty or both are the same)".to_owned()
        } else {
            r.consistency_proof
                .iter()
                .map(|h| h.to_hex())
                .collect::<Vec<_>>()
                .join("\n")
        },
    );
    let rows: Vec<Row<'_>> = r
        .entries
        .iter()
        .map(|x| (x, x.parse_entry().ok()))
        .collect();
    let revocations: Vec<&Row<'_>> = rows
        .iter()
        .filter(|(_, e)| matches!(e, Some(Entry::Key(k)) if k.action == KeyAction::Revoked))
        .collect();
    let changes: Vec<&Row<'_>> = rows
        .iter()
        .filter(
            |(_, e)| matches!(e, Some(Entry::Artifact(a)) if a.status != ArtifactStatus::Trusted),
        )
        .collect();
    out.push_str("<h2>Revocations</h2>");
    if revocations.is_empty() {
        out.push_str("<p>No API key was revoked in this range.</p>");
    } else {
        entry_rows(&mut out, &revocations, false);
    }
    out.push_str("<h2>Status changes</h2>");
    if changes.is_empty() {
        out.push_str("<p>No artifact was recorded as untrusted or unsupported in this range.</p>");
    } else {
        entry_rows(&mut out, &changes, false);
    }
    let _ = write!(
        out,
        "<h2>Every entry ({}), with its inclusion proof in the end checkpoint</h2>",
        r.entries.len()
    );
    if r.entries.is_empty() {
        out.push_str("<p>No entry was sequenced in this range.</p>");
    } else {
        entry_rows(&mut out, &rows.iter().collect::<Vec<_>>(), true);
    }
    out.push_str("<h2>Completeness</h2><ul>");
    match &r.before {
        Some(b) => {
            let _ = write!(
                out,
                "<li>Entry {} before the range was sequenced at {}, before its start.</li>",
                b.index,
                esc(&time_of(b))
            );
        }
        None => out.push_str(
            "<li>The range starts at the ledger's first entry or at its start time.</li>",
        ),
    }
    match &r.after {
        Some(x) => {
            let _ = write!(
                out,
                "<li>Entry {} after the range was sequenced at {}, at or after its end.</li>",
                x.index,
                esc(&time_of(x))
            );
        }
        None => out.push_str("<li>No entry followed the range when the report was generated.</li>"),
    }
    out.push_str("</ul></main></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_policy_names_the_stylesheet() {
        let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
        assert!(html_csp().contains(&format!("'sha256-{digest}'")));
        assert!(!html_csp().contains("script-src"), "no script may run");
    }
}
