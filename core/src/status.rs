//! Verification of a status answer (docs/status-index.md, "Status answers"): not only that the
//! deciding entry is in the ledger, but that it is the latest entry about the hash (from the
//! signers asked for), that its signer's latest key entry is the one shown — so a revocation
//! cannot be hidden — or that no entry about the hash exists at all. Everything is checked
//! against the index root that the (already verified) checkpoint commits to.
//!
//! The caller has verified the checkpoint: its signature by the pinned key and its consistency
//! with what it saw before. This module only needs the checkpoint itself.

use crate::api::Authentication;
use crate::checkpoint::SignedCheckpoint;
use crate::entry::{Entry, KeyAction, Status};
use crate::hash::Sha256;
use crate::index::{IndexAnswer, IndexKey};
use crate::receipt::{Receipt, VerifiedReceipt};
use crate::Error;

/// A status answer that passed every check.
#[derive(Clone, Debug)]
pub struct VerifiedStatus {
    /// The proven status.
    pub status: Status,
    /// The deciding entry (absent for `unknown`).
    pub deciding: Option<VerifiedReceipt>,
    /// For `revoked`: the revocation of the deciding entry's signer.
    pub revocation: Option<VerifiedReceipt>,
    /// How many entries concern the hash up to the checkpoint.
    pub entries: u64,
}

fn bad(msg: String) -> Error {
    Error::InvalidStatus(msg)
}

/// Verifies `ans`, an answer about `sha256` from `signers` (all signers when empty), against
/// `checkpoint`.
///
/// # Errors
/// [`Error::NoIndexCommitment`] when the checkpoint commits to no index;
/// [`Error::InvalidIndexProof`] for an index proof that does not lead to its root;
/// [`Error::InvalidStatus`] naming what else disagrees (a hidden later entry, a hidden
/// revocation, a claimed status that the entries do not give, an unknown that is not); receipt
/// errors.
pub fn verify_status(
    checkpoint: &SignedCheckpoint,
    sha256: &Sha256,
    signers: &[String],
    ans: &Authentication,
) -> Result<VerifiedStatus, Error> {
    let proof = ans
        .proof
        .as_ref()
        .ok_or_else(|| bad(format!("the answer for {sha256} carries no status proof")))?;
    let proven =
        |r: &Receipt| -> Result<VerifiedReceipt, Error> { r.verify_in(checkpoint.clone()) };
    let about = |v: &VerifiedReceipt| -> Result<(), Error> {
        match &v.entry {
            Entry::Artifact(a) if a.sha256 == *sha256 => Ok(()),
            _ => Err(bad(format!("entry {} is not about {sha256}", v.index.0))),
        }
    };
    let indices = match proof
        .index
        .verify_in(&IndexKey::artifact(sha256), checkpoint)?
    {
        IndexAnswer::Absent => {
            if ans.status != Status::Unknown
                || ans.receipt.is_some()
                || ans.revocation.is_some()
                || !proof.skipped.is_empty()
            {
                return Err(bad(format!(
                    "no entry about {sha256} exists, yet the answer says {} with entries",
                    ans.status
                )));
            }
            return Ok(VerifiedStatus {
                status: Status::Unknown,
                deciding: None,
                revocation: None,
                entries: 0,
            });
        }
        IndexAnswer::Present {
            count,
            from,
            indices,
        } => (count, from, indices),
    };
    let (count, from, indices) = indices;
    let Some(raw) = &ans.receipt else {
        // No entry decides: every entry about the hash must be shown, none by the signers.
        if signers.is_empty() || ans.status != Status::Unknown {
            return Err(bad(format!(
                "{count} entries about {sha256} exist, yet the answer shows none deciding"
            )));
        }
        if from != 1 {
            return Err(bad(format!(
                "an unknown from some signers must show all {count} entries about {sha256}"
            )));
        }
        check_skipped(&proof.skipped, &indices, signers, &proven, &about)?;
        return Ok(VerifiedStatus {
            status: Status::Unknown,
            deciding: None,
            revocation: None,
            entries: count,
        });
    };
    let deciding = proven(raw)?;
    about(&deciding)?;
    let Entry::Artifact(entry) = &deciding.entry else {
        unreachable!("about() checked it is an artifact entry");
    };
    let position = indices
        .iter()
        .position(|i| *i == deciding.index.0)
        .ok_or_else(|| {
            bad(format!(
                "the deciding entry {} is not among the last entries about {sha256}",
                deciding.index.0
            ))
        })?;
    if position != 0 {
        return Err(bad(format!(
            "the proof reveals entries about {sha256} before the deciding one {}",
            deciding.index.0
        )));
    }
    if signers.is_empty() {
        if indices.len() != 1 {
            return Err(bad(format!(
                "entry {} is not the latest about {sha256}: {} came after it",
                deciding.index.0,
                indices[indices.len() - 1]
            )));
        }
    } else if !signers.contains(&entry.signer) {
        return Err(bad(format!(
            "the deciding entry {} is signed by {}, not by a signer asked for",
            deciding.index.0, entry.signer
        )));
    }
    check_skipped(&proof.skipped, &indices[1..], signers, &proven, &about)?;

    // The signer: its latest key entry decides whether it was revoked.
    let signer_proof = proof.signer.as_ref().ok_or_else(|| {
        bad(format!(
            "the answer does not prove whether signer {} was revoked",
            entry.signer
        ))
    })?;
    let revocation = match signer_proof.verify_in(&IndexKey::signer(&entry.signer), checkpoint)? {
        IndexAnswer::Absent => {
            if ans.revocation.is_some() || proof.signer_created.is_some() {
                return Err(bad(format!(
                    "signer {} has no key entries, yet the answer shows one",
                    entry.signer
                )));
            }
            None
        }
        IndexAnswer::Present { indices: si, .. } => {
            let latest = *si.last().expect("a present key has an index");
            let (shown, action) = match (&ans.revocation, &proof.signer_created) {
                (Some(r), None) => (r, KeyAction::Revoked),
                (None, Some(c)) => (c, KeyAction::Created),
                _ => {
                    return Err(bad(format!(
                        "the answer must show signer {}'s latest key entry ({latest})",
                        entry.signer
                    )))
                }
            };
            let v = proven(shown)?;
            match &v.entry {
                Entry::Key(k)
                    if k.id == entry.signer && k.action == action && v.index.0 == latest => {}
                _ => {
                    return Err(bad(format!(
                        "entry {} is not signer {}'s latest key entry ({latest})",
                        v.index.0, entry.signer
                    )))
                }
            }
            (action == KeyAction::Revoked).then_some(v)
        }
    };
    let status = if revocation.is_some() {
        Status::Revoked
    } else {
        Status::from(entry.status)
    };
    if status != ans.status {
        return Err(bad(format!(
            "the server says {} but the proven entries give {status}",
            ans.status
        )));
    }
    Ok(VerifiedStatus {
        status,
        deciding: Some(deciding),
        revocation,
        entries: count,
    })
}

/// The entries after the deciding one: exactly `indices`, each about the hash, each by a
/// signer not asked for.
fn check_skipped(
    skipped: &[Receipt],
    indices: &[u64],
    signers: &[String],
    proven: &impl Fn(&Receipt) -> Result<VerifiedReceipt, Error>,
    about: &impl Fn(&VerifiedReceipt) -> Result<(), Error>,
) -> Result<(), Error> {
    if skipped.len() != indices.len() || skipped.iter().zip(indices).any(|(r, i)| r.index != *i) {
        return Err(bad(format!(
            "the answer must show the later entries {indices:?}, it shows {:?}",
            skipped.iter().map(|r| r.index).collect::<Vec<_>>()
        )));
    }
    for r in skipped {
        let v = proven(r)?;
        about(&v)?;
        if signers.contains(&v.entry.signer().to_owned()) {
            return Err(bad(format!(
                "entry {} is by a signer asked for, so it decides, not entry before it",
                v.index.0
            )));
        }
    }
    Ok(())
}
