//! Results as `notarium` prints them (docs/cli.md): a table, or with `--output json` one
//! document `{exit_code, results: [{subject, sha256, status, code, reason, …}], …}` that the
//! plugins read.

use std::collections::BTreeMap;

use notarium_core::api::PolicyOutcome;
use notarium_core::{ArtifactStatus, Entry, SignerPolicy, VerifiedIdentity};
use serde::Serialize;

use crate::identity::evaluate;
use crate::images::{ImageInfo, NearMiss};
use crate::{exit, Found, Notarized, Verdict};

/// One artifact's outcome, as printed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Row {
    /// What the user named.
    pub subject: String,
    /// SHA-256.
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
    /// Who signed the deciding entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// When it was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Notes (e.g. files that differ from a directory's notarized manifest).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// Who built it, as the server verified it from a CI token and the proof checked here
    /// (the entry's `identity`); absent for entries written with an API key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_identity: Option<VerifiedIdentity>,
    /// The CI context the notarizing client asserted (the entry's `ci`): not verified.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub asserted_ci: BTreeMap<String, String>,
    /// The signer policy's outcome on the deciding entry, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer_policy: Option<PolicyOutcome>,
    /// The attributes the entry records (history and search).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Where the receipt was written (`--receipts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// For an `oci://` subject: the manifest, what was attached or found beside it
    /// (docs/oci.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageInfo>,
    /// Why an `unknown` may be a near miss of something notarized (each also in `details`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub near_misses: Vec<NearMiss>,
}

impl Row {
    /// Adds a near miss, in `details` for humans as well.
    pub fn near_miss(&mut self, n: NearMiss) {
        self.details.push(n.text());
        self.near_misses.push(n);
    }
}

impl Row {
    /// The row of a verified authentication of `subject`.
    pub fn of_verdict(subject: &str, v: &Verdict) -> Row {
        let code = exit::for_status(v.status);
        Row {
            subject: subject.to_owned(),
            sha256: v.sha256.to_hex(),
            status: v.status.as_str().to_owned(),
            code,
            reason: exit::reason(code),
            index: v.receipt.as_ref().map(|r| r.index.0),
            signer: v.receipt.as_ref().map(|r| r.entry.signer().to_owned()),
            time: v.receipt.as_ref().map(|r| r.entry.time().to_owned()),
            ..Row::default()
        }
        .provenance(v.receipt.as_ref().map(|r| &r.entry))
    }

    /// The row of a verified authentication held to a signer policy: a deciding entry whose
    /// verified identity does not match (or that has none) is [`exit::SIGNER_MISMATCH`],
    /// whatever status it records.
    pub fn of_verdict_under(subject: &str, v: &Verdict, policy: &SignerPolicy) -> Row {
        let row = Row::of_verdict(subject, v);
        row.under(evaluate(policy, v))
    }

    /// Applies a policy outcome to this row (see [`Row::of_verdict_under`]).
    pub fn under(mut self, outcome: Option<PolicyOutcome>) -> Row {
        if let Some(o) = &outcome {
            if !o.matched {
                self.details.insert(
                    0,
                    format!(
                        "signer mismatch: the deciding entry records {}, but its signer is not the one required",
                        self.status
                    ),
                );
                self.status = "signer_mismatch".into();
                self.code = exit::SIGNER_MISMATCH;
                self.reason = exit::reason(exit::SIGNER_MISMATCH);
            }
        }
        self.signer_policy = outcome;
        self
    }

    /// Fills in what `entry` says of who built it: the verified identity and the asserted CI
    /// context, kept apart.
    pub fn provenance(mut self, entry: Option<&Entry>) -> Row {
        if let Some(Entry::Artifact(a)) = entry {
            self.verified_identity = a.identity.clone();
            self.asserted_ci = a.ci.clone();
        }
        self
    }

    /// The row of a verified notarization of `subject` with `status`.
    pub fn of_notarized(subject: &str, n: &Notarized, status: ArtifactStatus) -> Row {
        let sha256 = match &n.verified.entry {
            notarium_core::Entry::Artifact(a) => a.sha256.to_hex(),
            notarium_core::Entry::Key(_) => String::new(),
        };
        Row {
            subject: subject.to_owned(),
            sha256,
            status: status.as_str().to_owned(),
            code: exit::OK,
            reason: "notarized",
            index: Some(n.verified.index.0),
            signer: Some(n.verified.entry.signer().to_owned()),
            time: Some(n.verified.entry.time().to_owned()),
            ..Row::default()
        }
        .provenance(Some(&n.verified.entry))
    }

    /// The row of a verified entry of a history or search: what it records, attributes and
    /// CI context included.
    pub fn of_found(f: &Found) -> Row {
        let (subject, sha256, status, attributes) = match &f.entry {
            Entry::Artifact(a) => (
                a.name.clone(),
                a.sha256.to_hex(),
                a.status.as_str().to_owned(),
                a.attributes.clone(),
            ),
            Entry::Key(k) => (
                format!("key {} ({})", k.id, k.name),
                String::new(),
                format!("key {:?}", k.action).to_lowercase(),
                BTreeMap::new(),
            ),
        };
        Row {
            subject,
            sha256,
            status,
            code: exit::OK,
            reason: "entry",
            index: Some(f.receipt.index),
            signer: Some(f.entry.signer().to_owned()),
            time: Some(f.entry.time().to_owned()),
            attributes,
            ..Row::default()
        }
        .provenance(Some(&f.entry))
    }
}

/// `text` with control characters escaped, so that what a ledger records cannot move the
/// cursor or forge lines in a terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// `k=v, k=v` of a context map, for one text line.
fn context_line(m: &std::collections::BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, v)| format!("{}={}", printable(k), printable(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints rows as a table (text) or one JSON document; returns the worst (highest) code.
pub fn print(rows: &[Row], json: bool, extra: serde_json::Value) -> u8 {
    let worst = rows.iter().map(|r| r.code).max().unwrap_or(exit::OK);
    if json {
        let mut doc = serde_json::json!({ "exit_code": worst, "results": rows });
        if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                d.insert(k.clone(), v.clone());
            }
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("serializes")
        );
        return worst;
    }
    let w_status = rows
        .iter()
        .map(|r| r.status.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let w_subject = rows
        .iter()
        .map(|r| r.subject.chars().count())
        .max()
        .unwrap_or(7)
        .clamp(7, 60);
    println!(
        "{:<w_status$}  {:<w_subject$}  {:<12}  {:>8}  SIGNER",
        "STATUS", "SUBJECT", "SHA256", "INDEX"
    );
    for r in rows {
        let subject: String = if r.subject.chars().count() > 60 {
            let tail: String = r
                .subject
                .chars()
                .rev()
                .take(57)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("...{tail}")
        } else {
            r.subject.clone()
        };
        println!(
            "{:<w_status$}  {:<w_subject$}  {:<12}  {:>8}  {}",
            r.status,
            subject,
            &r.sha256[..12.min(r.sha256.len())],
            r.index.map_or_else(|| "-".to_owned(), |i| i.to_string()),
            r.signer.as_deref().unwrap_or("-")
        );
        for d in &r.details {
            println!("    {d}");
        }
        for line in provenance_lines(r) {
            println!("    {line}");
        }
        for (k, v) in &r.attributes {
            println!("    attr {}={}", printable(k), printable(v));
        }
    }
    worst
}

/// What a row shows of who built it, in text: the verified identity and context, the
/// asserted context, and each mismatch of the signer policy — each line saying which it is.
pub fn provenance_lines(r: &Row) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(id) = &r.verified_identity {
        out.push(format!(
            "verified identity ({} CI token, checked by the server): issuer {}, subject {}",
            id.provider, id.issuer, id.subject
        ));
        if !id.context.is_empty() {
            out.push(format!("verified context: {}", context_line(&id.context)));
        }
    }
    if !r.asserted_ci.is_empty() {
        out.push(format!(
            "asserted CI context (from the client, not verified): {}",
            context_line(&r.asserted_ci)
        ));
    }
    if let Some(p) = &r.signer_policy {
        if p.matched {
            out.push("signer policy: matched by the verified identity".into());
        }
        for m in &p.mismatches {
            out.push(format!("signer policy: {m}"));
        }
    }
    out
}
