//! `status`: the verdict as a commit status. Either given outright (`--state`,
//! `--description`) or read from the JSON document `notarium --output json` (or
//! `notarium-github release … --output json`) printed: exit 0 is `success`, 1–5 and 8 (a file
//! is not trusted, the ledger failed verification, or the file was not built by the signer
//! required) `failure`, anything else (6 unreachable, 7 unauthorized, 64 usage) `error`.

use clap::ValueEnum;
use serde_json::Value;

use crate::code;

/// GitHub's commit status states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum State {
    /// The check passed.
    Success,
    /// The check found a problem.
    Failure,
    /// The check could not be done.
    Error,
    /// The check is running.
    Pending,
}

impl State {
    /// The word GitHub expects.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Success => "success",
            State::Failure => "failure",
            State::Error => "error",
            State::Pending => "pending",
        }
    }
}

/// GitHub's limit on a status description, in characters.
pub const MAX_DESCRIPTION: usize = 140;

/// Cuts `s` to [`MAX_DESCRIPTION`] characters, marking the cut.
pub fn clip(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    if s.chars().count() <= MAX_DESCRIPTION {
        return s;
    }
    let mut out: String = s.chars().take(MAX_DESCRIPTION - 1).collect();
    out.push('…');
    out
}

/// The state and description for a `--output json` document.
///
/// # Errors
/// A message when `doc` is not such a document.
pub fn from_cli_json(doc: &Value) -> Result<(State, String), String> {
    let exit = doc["exit_code"]
        .as_u64()
        .ok_or("not a notarium --output json document: no exit_code")?;
    let state = match exit {
        0 => State::Success,
        1..=5 | 8 => State::Failure,
        _ => State::Error,
    };
    let results = doc["results"].as_array().map_or(&[][..], Vec::as_slice);
    if results.is_empty() {
        let reason = doc["reason"]
            .as_str()
            .unwrap_or_else(|| crate::code::reason(exit.min(255) as u8));
        let what = doc["error"].as_str().unwrap_or("no artifacts");
        return Ok((state, clip(&format!("notarium: {reason}: {what}"))));
    }
    // Counts per reason, worst first; then the first artifact that is not fine.
    let mut counts: Vec<(u64, String, usize)> = Vec::new();
    for r in results {
        let c = r["code"].as_u64().unwrap_or(u64::from(code::USAGE));
        let reason = r["reason"].as_str().unwrap_or("unknown").to_owned();
        match counts.iter_mut().find(|(_, w, _)| *w == reason) {
            Some(entry) => entry.2 += 1,
            None => counts.push((c, reason, 1)),
        }
    }
    counts.sort_by_key(|(c, _, _)| std::cmp::Reverse(*c));
    let summary: Vec<String> = counts.iter().map(|(_, w, n)| format!("{n} {w}")).collect();
    let mut text = format!("notarium: {}", summary.join(", "));
    if let Some(bad) = results.iter().find(|r| r["code"].as_u64() != Some(0)) {
        text.push_str(&format!(
            " ({} is {})",
            bad["subject"].as_str().unwrap_or("?"),
            bad["status"].as_str().unwrap_or("?")
        ));
    }
    Ok((state, clip(&text)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(subject: &str, status: &str, code: u8, reason: &str) -> Value {
        json!({ "subject": subject, "sha256": "00", "status": status, "code": code, "reason": reason })
    }

    #[test]
    fn all_trusted_is_success() {
        let doc = json!({ "exit_code": 0, "results": [row("a", "trusted", 0, "trusted"), row("b", "trusted", 0, "trusted")] });
        assert_eq!(
            from_cli_json(&doc).expect("a document"),
            (State::Success, "notarium: 2 trusted".into())
        );
    }

    #[test]
    fn notarized_is_success() {
        let doc = json!({ "exit_code": 0, "results": [row("a", "trusted", 0, "notarized")] });
        assert_eq!(
            from_cli_json(&doc).expect("a document"),
            (State::Success, "notarium: 1 notarized".into())
        );
    }

    #[test]
    fn the_worst_comes_first_and_names_a_file() {
        let doc = json!({ "exit_code": 2, "results": [
            row("a", "trusted", 0, "trusted"),
            row("dist/b", "unknown", 2, "unknown"),
            row("c", "trusted", 0, "trusted"),
        ] });
        assert_eq!(
            from_cli_json(&doc).expect("a document"),
            (
                State::Failure,
                "notarium: 1 unknown, 2 trusted (dist/b is unknown)".into()
            )
        );
    }

    #[test]
    fn tampering_is_a_failure_and_unreachable_an_error() {
        let doc = json!({ "exit_code": 5, "error": "verification failed: rollback", "reason": "verification_failed" });
        assert_eq!(
            from_cli_json(&doc).expect("a document"),
            (
                State::Failure,
                "notarium: verification_failed: verification failed: rollback".into()
            )
        );
        let doc =
            json!({ "exit_code": 6, "error": "cannot reach", "reason": "server_unreachable" });
        assert_eq!(from_cli_json(&doc).expect("a document").0, State::Error);
        let doc = json!({ "exit_code": 64, "error": "bad flag" });
        assert_eq!(
            from_cli_json(&doc).expect("a document"),
            (State::Error, "notarium: usage: bad flag".into())
        );
    }

    #[test]
    fn a_signer_mismatch_is_a_failure() {
        let mut bad = row("dist/app", "signer_mismatch", 8, "signer_mismatch");
        bad["signer_policy"] = json!({ "matched": false, "mismatches": ["repository: required acme/other, verified acme/app"] });
        let doc = json!({ "exit_code": 8, "results": [row("a", "trusted", 0, "trusted"), bad] });
        assert_eq!(
            from_cli_json(&doc).expect("a document"),
            (
                State::Failure,
                "notarium: 1 signer_mismatch, 1 trusted (dist/app is signer_mismatch)".into()
            )
        );
        let doc = json!({ "exit_code": 7, "error": "refused", "reason": "unauthorized" });
        assert_eq!(from_cli_json(&doc).expect("a document").0, State::Error);
    }

    #[test]
    fn not_a_document() {
        assert!(from_cli_json(&json!({ "results": [] })).is_err());
        assert!(from_cli_json(&json!("text")).is_err());
    }

    #[test]
    fn descriptions_fit_github() {
        let long = "x".repeat(500);
        let c = clip(&long);
        assert_eq!(c.chars().count(), MAX_DESCRIPTION);
        assert!(c.ends_with('…'));
        assert_eq!(clip("a\nb"), "a b");
    }
}
