//! What a client verifies against a signed checkpoint: receipts (JSON and `.tlog-proof`),
//! status answers (`verify_status`) and audit reports. Every checkpoint in the input is
//! re-signed first ([`crate::Resigner`]), so that the fuzzer plays a server holding the key.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use notarium_core::api::Authentication;
use notarium_core::checkpoint::UnverifiedCheckpoint;
use notarium_core::index::{IndexAnswer, IndexKey};
use notarium_core::status::verify_status;
use notarium_core::{AuditReport, Entry, Receipt, Sha256, SignedCheckpoint, Status};
use serde::Deserialize;

use crate::rfc6962::{naive_leaf, naive_verify_consistency, naive_verify_inclusion};
use crate::{signer_for, Resigner};

/// The checkpoint `note` verified with the key [`signer_for`] its claimed origin.
fn verified_checkpoint(note: &str) -> Option<SignedCheckpoint> {
    let u = UnverifiedCheckpoint::parse(note).ok()?;
    let key = signer_for(u.claimed().origin.as_str())?;
    u.verify(&key.verifier()).ok()
}

/// A receipt, its checkpoint re-signed: when it verifies, the naive RFC 6962 reference must
/// lead its leaf to the signed root too, its entry must be its bytes, and its tlog-proof form
/// must verify the same.
pub fn check_receipt(mut r: Receipt) {
    Resigner::default().fix(&mut r.checkpoint);
    let Some(cp) = verified_checkpoint(&r.checkpoint) else {
        return;
    };
    let key = signer_for(cp.checkpoint().origin.as_str()).expect("it verified");
    let Ok(v) = r.verify(&key.verifier()) else {
        return;
    };
    let leaf = B64.decode(&r.leaf).expect("an accepted leaf is base64");
    assert_eq!(v.leaf, leaf);
    assert!(
        naive_verify_inclusion(
            &naive_leaf(&leaf),
            r.index,
            cp.size().0,
            &r.inclusion_proof,
            &cp.root()
        ),
        "core accepted an inclusion proof that the naive reference refuses"
    );
    assert_eq!(Entry::from_bytes(&leaf).as_ref(), Ok(&v.entry));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&leaf)
            .ok()
            .as_ref(),
        Some(&r.entry)
    );
    let proof = r.to_tlog_proof().expect("leaf is base64").render();
    let again = notarium_client::receipts::parse_receipt(&proof).expect("a rendered proof reads");
    let w = again
        .verify(&key.verifier())
        .expect("the tlog-proof of an accepted receipt verifies");
    assert_eq!(w.entry, v.entry);
    assert_eq!(w.index, v.index);
}

/// A receipt file in JSON (as the server sends it and `notarize --receipts` saves it).
pub fn receipt(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = notarium_client::receipts::parse_receipt(text) {
        check_receipt(r);
    }
}

/// The shape of `server/tests/data/status_answers_v1.json`'s vectors: the question and the
/// server's answer.
#[derive(Deserialize)]
struct Question {
    sha256: Sha256,
    #[serde(default)]
    signers: Vec<String>,
    answer: Authentication,
}

/// Re-signs every checkpoint an answer carries.
pub(crate) fn resign_answer(a: &mut Authentication, signer: &mut Resigner) {
    if let Some(c) = &mut a.checkpoint {
        signer.fix(c);
    }
    let receipts =
        a.receipt
            .iter_mut()
            .chain(a.revocation.iter_mut())
            .chain(a.proof.iter_mut().flat_map(|p| {
                p.skipped
                    .iter_mut()
                    .chain(p.signer_created.iter_mut())
                    .collect::<Vec<_>>()
            }));
    for r in receipts {
        signer.fix(&mut r.checkpoint);
    }
}

/// What `verify_status` says of a question whose checkpoints were re-signed: `None` when the
/// answer's checkpoint does not verify (the outcome then is the signature's).
pub fn status_outcome(
    sha256: &Sha256,
    signers: &[String],
    answer: &mut Authentication,
) -> Option<(
    SignedCheckpoint,
    Result<notarium_core::status::VerifiedStatus, notarium_core::Error>,
)> {
    resign_answer(answer, &mut Resigner::default());
    let cp = verified_checkpoint(answer.checkpoint.as_deref()?)?;
    let outcome = verify_status(&cp, sha256, signers, answer);
    Some((cp, outcome))
}

/// A status answer (`verify_status`): when it verifies, the status is the one claimed and the
/// proven entries give it; the index proof, verified again on its own, says the deciding entry
/// is the first of the last entries about the hash; the answer, re-serialised, verifies the
/// same.
pub fn status_answer(data: &[u8]) {
    let Ok(mut q) = serde_json::from_slice::<Question>(data) else {
        return;
    };
    let Some((cp, outcome)) = status_outcome(&q.sha256, &q.signers, &mut q.answer) else {
        return;
    };
    let again: Authentication =
        serde_json::from_str(&serde_json::to_string(&q.answer).expect("serialises"))
            .expect("a serialised answer parses");
    let twice = verify_status(&cp, &q.sha256, &q.signers, &again);
    assert_eq!(
        outcome
            .as_ref()
            .map(|v| v.status)
            .map_err(ToString::to_string),
        twice
            .as_ref()
            .map(|v| v.status)
            .map_err(ToString::to_string),
        "an answer verifies differently once re-serialised"
    );
    let Ok(v) = outcome else {
        return;
    };
    assert_eq!(v.status, q.answer.status);
    let proof = q
        .answer
        .proof
        .as_ref()
        .expect("a verified answer has a proof");
    let index = proof
        .index
        .verify_in(&IndexKey::artifact(&q.sha256), &cp)
        .expect("a verified answer's index proof verifies");
    match (&v.deciding, index) {
        (None, IndexAnswer::Absent) => assert_eq!(v.status, Status::Unknown),
        (None, IndexAnswer::Present { from, .. }) => {
            assert_eq!(v.status, Status::Unknown);
            assert!(!q.signers.is_empty() && from == 1);
        }
        (Some(d), IndexAnswer::Present { indices, count, .. }) => {
            assert_eq!(indices.first(), Some(&d.index.0));
            assert_eq!(count, v.entries);
            assert!(matches!(&d.entry, Entry::Artifact(a) if a.sha256 == q.sha256));
            if q.signers.is_empty() {
                assert_eq!(indices.len(), 1, "a later entry was hidden");
            }
        }
        (Some(_), IndexAnswer::Absent) => panic!("a deciding entry for an absent hash"),
    }
}

/// An audit report: when it verifies, the naive reference accepts its consistency proof and
/// every entry's inclusion in the later checkpoint, and the report holds exactly the range.
pub fn report(data: &[u8]) {
    let Ok(mut r) = serde_json::from_slice::<AuditReport>(data) else {
        return;
    };
    let mut signer = Resigner::default();
    signer.fix(&mut r.from);
    signer.fix(&mut r.to);
    for e in r
        .entries
        .iter_mut()
        .chain(r.before.iter_mut())
        .chain(r.after.iter_mut())
    {
        signer.fix(&mut e.checkpoint);
    }
    let Some(key) = signer_for(&r.origin) else {
        return;
    };
    let Ok(v) = r.verify(&key.verifier()) else {
        return;
    };
    assert!(naive_verify_consistency(
        v.from.size().0,
        v.to.size().0,
        &r.consistency_proof,
        &v.from.root(),
        &v.to.root()
    ));
    assert_eq!(
        v.entries.len() as u64,
        r.range.end_index - r.range.first_index
    );
    for (receipt, (index, entry)) in r.entries.iter().zip(&v.entries) {
        assert_eq!(receipt.index, *index);
        let leaf = B64.decode(&receipt.leaf).expect("verified");
        assert_eq!(Entry::from_bytes(&leaf).as_ref(), Ok(entry));
        assert!(naive_verify_inclusion(
            &naive_leaf(&leaf),
            *index,
            v.to.size().0,
            &receipt.inclusion_proof,
            &v.to.root()
        ));
    }
}
