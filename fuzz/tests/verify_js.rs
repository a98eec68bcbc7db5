//! The dashboard's JavaScript verifier (`server/assets/verify.js`) against `notarium-core` on
//! the status_answer fuzz corpus, its regressions, the status answer vectors
//! (`server/tests/data/status_answers_v1.json`), and every one-step change of each answer core
//! accepts. Each answer, re-signed as the fuzz target re-signs it, goes with core's outcome to
//! `fuzz/js/status_corpus.mjs`, which requires verify.js to accept exactly what core accepts
//! (same status, same entry count) and to refuse the rest: the corpus's and the vectors'
//! answers with the same kind of failure. `FUZZ_STATUS_CORPUS` (a path list) adds the grown
//! corpora of longer runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use notarium_core::api::Authentication;
use notarium_core::checkpoint::UnverifiedCheckpoint;
use notarium_core::{Error, Sha256};
use notarium_e2e::ci_plugins::require_tool;
use notarium_fuzz::{signer_for, status_outcome};
use serde_json::{json, Value};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The kind of a rejection, as verify.js reports it (as in server/tests/status_answers.rs).
fn kind(e: &Error) -> &'static str {
    match e {
        Error::NoIndexCommitment | Error::MalformedCheckpoint(_) => "no_index_commitment",
        Error::InvalidIndexProof(_) => "invalid_index_proof",
        Error::InvalidStatus(_) => "invalid_status",
        Error::ReceiptMismatch(_) | Error::InvalidProof(_) | Error::MalformedEntry(_) => {
            "invalid_receipt"
        }
        _ => "other",
    }
}

#[derive(serde::Deserialize)]
struct Question {
    sha256: Sha256,
    #[serde(default)]
    signers: Vec<String>,
    answer: Authentication,
}

/// The case for the question `q`, named `name`: its answer with the checkpoints re-signed, and
/// core's outcome. `None` when the answer names no checkpoint origin (nothing to sign with).
/// `strict_kind`: whether verify.js must refuse with the same kind of failure as core (for the
/// corpus) or only refuse (for mutants, where the two may meet a lie in a different order).
fn case(name: String, mut q: Question, strict_kind: bool) -> Option<Value> {
    let origin = q
        .answer
        .checkpoint
        .as_deref()
        .and_then(|c| UnverifiedCheckpoint::parse(c).ok())
        .map(|c| c.claimed().origin.as_str().to_owned())?;
    let key = signer_for(&origin)?;
    let outcome = match status_outcome(&q.sha256, &q.signers, &mut q.answer) {
        None => {
            json!({"valid": false, "kind": "signature", "error": "the checkpoint does not verify"})
        }
        Some((_, Ok(v))) => json!({"valid": true, "status": v.status, "entries": v.entries}),
        Some((_, Err(e))) => json!({"valid": false, "kind": kind(&e), "error": e.to_string()}),
    };
    Some(json!({
        "name": name,
        "sha256": q.sha256,
        "signers": q.signers,
        "verifier_key": key.verifier().to_string(),
        "answer": serde_json::to_value(&q.answer).unwrap(),
        "outcome": outcome,
        "strict_kind": strict_kind,
    }))
}

/// Every one-step change of `v`'s leaves and lists, each with where it was made: a string's
/// middle character changed (a hex digit, a base64 character, a line of a note), a number
/// plus one, a boolean flipped, a list's last element dropped, a status claimed as each other
/// status.
fn mutants(v: &Value, at: &str, out: &mut Vec<(String, Value)>) {
    const STATUSES: &[&str] = &["trusted", "untrusted", "unsupported", "revoked", "unknown"];
    let mut push = |what: &str, m: Value| out.push((format!("{at} {what}"), m));
    match v {
        Value::String(s) if STATUSES.contains(&s.as_str()) => {
            for other in STATUSES.iter().filter(|o| **o != s) {
                push(other, json!(other));
            }
        }
        Value::String(s) if !s.is_empty() => {
            let mut chars: Vec<char> = s.chars().collect();
            let mid = chars.len() / 2;
            chars[mid] = if chars[mid] == 'a' { 'b' } else { 'a' };
            push("changed", Value::String(chars.into_iter().collect()));
        }
        Value::Number(n) => {
            if let Some(n) = n.as_u64() {
                push("plus one", json!(n + 1));
            }
        }
        Value::Bool(b) => push("flipped", json!(!b)),
        Value::Array(items) => {
            if !items.is_empty() {
                push("last dropped", json!(items[..items.len() - 1]));
            }
            for (i, item) in items.iter().enumerate() {
                let mut inner = Vec::new();
                mutants(item, &format!("{at}[{i}]"), &mut inner);
                for (what, m) in inner {
                    let mut copy = items.clone();
                    copy[i] = m;
                    out.push((what, Value::Array(copy)));
                }
            }
        }
        Value::Object(fields) => {
            for (k, item) in fields {
                let mut inner = Vec::new();
                mutants(item, &format!("{at}.{k}"), &mut inner);
                for (what, m) in inner {
                    let mut copy = fields.clone();
                    copy.insert(k.clone(), m);
                    out.push((what, Value::Object(copy)));
                }
            }
        }
        _ => {}
    }
}

#[test]
fn verify_js_agrees_with_core_on_the_status_corpus() {
    let Some(node) = require_tool("node", "browser") else {
        return;
    };
    let mut cases = Vec::new();
    let mut dirs: Vec<(String, PathBuf)> = ["corpus", "regressions"]
        .iter()
        .map(|k| (k.to_string(), fuzz_dir().join(k).join("status_answer")))
        .collect();
    // A grown corpus of a longer run (docs/fuzzing.md), held to the same agreement.
    if let Some(extra) = std::env::var_os("FUZZ_STATUS_CORPUS") {
        dirs.extend(std::env::split_paths(&extra).map(|d| (d.display().to_string(), d)));
    }
    for (kind_dir, dir) in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let Ok(q) = serde_json::from_slice::<Question>(&std::fs::read(&file).unwrap()) else {
                continue;
            };
            let name = format!("{kind_dir}/{}", file.file_name().unwrap().to_string_lossy());
            cases.extend(case(name, q, true));
        }
    }
    // The status answer vectors of a real ledger (server/tests/data), whose accepted answers
    // are told every lie below, whatever the minimised corpus keeps of them.
    let vectors: Value = serde_json::from_slice(
        &std::fs::read(fuzz_dir().join("../server/tests/data/status_answers_v1.json")).unwrap(),
    )
    .unwrap();
    for v in vectors["vectors"].as_array().expect("vectors") {
        let q: Question = serde_json::from_value(v.clone()).expect("a vector is a question");
        let name = format!("vectors/{}", v["name"].as_str().expect("a name"));
        cases.extend(case(name, q, true));
    }
    let valid: Vec<Value> = cases
        .iter()
        .filter(|c| c["outcome"]["valid"] == true)
        .cloned()
        .collect();
    assert!(
        !valid.is_empty() && cases.len() > valid.len(),
        "{} cases, {} valid",
        cases.len(),
        valid.len()
    );
    // Every one-step lie told about each answer core accepts, told to both verifiers.
    let corpus_cases = cases.len();
    let mut accepted_mutants = 0;
    for c in &valid {
        let mut changed = Vec::new();
        mutants(&c["answer"], "", &mut changed);
        for (what, answer) in changed {
            let Ok(answer) = serde_json::from_value::<Authentication>(answer) else {
                continue;
            };
            let q = Question {
                sha256: serde_json::from_value(c["sha256"].clone()).unwrap(),
                signers: serde_json::from_value(c["signers"].clone()).unwrap(),
                answer,
            };
            let name = format!("{} with{what}", c["name"].as_str().unwrap());
            let Some(m) = case(name, q, false) else {
                continue;
            };
            // Core refuses every one-step lie but one about a receipt's `verifier_key`, a hint
            // never trusted (receipts verify against the pinned key, docs/http-api.md).
            if m["outcome"]["valid"] == true {
                accepted_mutants += 1;
                assert!(
                    what.ends_with(".verifier_key changed"),
                    "core accepts {}",
                    m["name"]
                );
            }
            cases.push(m);
        }
    }
    println!(
        "{corpus_cases} corpus answers, {} of them valid; {} one-step mutants of the valid \
         ones, {accepted_mutants} of them (a changed verifier_key hint) valid",
        valid.len(),
        cases.len() - corpus_cases
    );
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), Value::Array(cases).to_string()).unwrap();
    let out = Command::new(node)
        .arg(fuzz_dir().join("js/status_corpus.mjs"))
        .arg(tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "verify.js disagrees with core:\n{stdout}"
    );
}
