//! The dashboard's JavaScript verifier (`server/assets/verify.js`) against `notarium-core` on
//! the status_answer fuzz corpus and its regressions: each input's answer, re-signed as the
//! fuzz target re-signs it, with core's outcome, is handed to `fuzz/js/status_corpus.mjs`,
//! which requires verify.js to accept exactly what core accepts (same status, same entry
//! count) and to refuse the rest with the same kind of failure.

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

#[test]
fn verify_js_agrees_with_core_on_the_status_corpus() {
    let Some(node) = require_tool("node", "browser") else {
        return;
    };
    let mut cases = Vec::new();
    for kind_dir in ["corpus", "regressions"] {
        let dir = fuzz_dir().join(kind_dir).join("status_answer");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let Ok(mut q) = serde_json::from_slice::<Question>(&std::fs::read(&file).unwrap())
            else {
                continue;
            };
            let Some(origin) = q
                .answer
                .checkpoint
                .as_deref()
                .and_then(|c| UnverifiedCheckpoint::parse(c).ok())
                .map(|c| c.claimed().origin.as_str().to_owned())
            else {
                continue;
            };
            let key = signer_for(&origin).expect("a parsed origin names a key");
            let outcome = match status_outcome(&q.sha256, &q.signers, &mut q.answer) {
                None => {
                    json!({"valid": false, "kind": "signature", "error": "the checkpoint does not verify"})
                }
                Some((_, Ok(v))) => {
                    json!({"valid": true, "status": v.status, "entries": v.entries})
                }
                Some((_, Err(e))) => {
                    json!({"valid": false, "kind": kind(&e), "error": e.to_string()})
                }
            };
            cases.push(json!({
                "name": format!("{kind_dir}/{}", file.file_name().unwrap().to_string_lossy()),
                "sha256": q.sha256,
                "signers": q.signers,
                "verifier_key": key.verifier().to_string(),
                "answer": serde_json::to_value(&q.answer).unwrap(),
                "outcome": outcome,
            }));
        }
    }
    let valid = cases
        .iter()
        .filter(|c| c["outcome"]["valid"] == true)
        .count();
    assert!(
        valid > 0 && cases.len() > valid,
        "{} cases, {valid} valid",
        cases.len()
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
