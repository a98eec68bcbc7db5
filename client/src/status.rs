//! Status files: fresh status proofs kept next to receipts (docs/status-index.md, "Fresh
//! status"). `notarium authenticate --save-status FILE` asks the server for answers against a
//! fresh attestation of its latest tree — the latest checkpoint signed again with the current
//! time — verifies them, and saves them; `notarium authenticate --receipt R --offline` later
//! verifies them with nothing but the ledger's verifier key, and says how old they are.
//!
//! What a status file proves: at the signed time, the ledger's latest tree held exactly the
//! entries shown about each hash from the deciding one on, and the deciding entry's signer was
//! (or was not) revoked. With a receipt, it also holds the receipt to that tree: the receipt's
//! entry must be among the entries shown when it is not older than them, the same bytes at the
//! same index; a status proof older than the receipt says nothing about it.

use std::path::{Path, PathBuf};

use notarium_core::api::{Authentication, BatchAuthentication};
use notarium_core::status::verify_status;
use notarium_core::{
    leaf_hash, Sha256, SignedCheckpoint, Status, UnverifiedCheckpoint, VerifiedReceipt, VerifierKey,
};
use serde::{Deserialize, Serialize};

use crate::Error;

/// The `format` of a status file.
pub const FORMAT: &str = "notarium-status/v1";

/// The name a status file gets next to receipts, where offline verification looks for it.
pub const FILE_NAME: &str = "notarium-status.json";

/// Fresh answers about a set of hashes, as saved by `notarium authenticate --save-status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// The server asked (informational: the verifier key decides what is trusted).
    pub server: String,
    /// The ledger.
    pub ledger: String,
    /// The signers the answers were restricted to (none: every signer decides).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<String>,
    /// The server's answers, as received: one batch per request, each against its attested
    /// checkpoint.
    pub batches: Vec<BatchAuthentication>,
}

/// What a status file proves about one hash.
#[derive(Clone, Debug)]
pub struct OfflineStatus {
    /// The proven status at the attested time.
    pub status: Status,
    /// The deciding entry (absent for `unknown`).
    pub deciding: Option<VerifiedReceipt>,
    /// The attested checkpoint.
    pub checkpoint: SignedCheckpoint,
    /// When the ledger signed that this tree was its latest (seconds since the Unix epoch).
    pub time: u64,
}

/// The outcome of [`StatusFile::verify_offline`].
#[derive(Clone, Debug)]
pub enum Offline {
    /// The file proves the hash's status at its time.
    Proven(Box<OfflineStatus>),
    /// The file cannot speak about the hash; why.
    NotCovered(String),
}

fn tamper(what: impl Into<String>) -> Error {
    Error::Tampering(what.into())
}

impl StatusFile {
    /// The status file next to a receipt: [`FILE_NAME`] in the receipt's directory.
    pub fn beside(receipt: &Path) -> PathBuf {
        receipt
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(FILE_NAME)
    }

    /// Reads a status file.
    ///
    /// # Errors
    /// [`Error::Usage`] when it cannot be read or is not a status file of this version.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("reading {}: {e}", path.display())))?;
        let file: StatusFile = serde_json::from_str(&text)
            .map_err(|e| Error::Usage(format!("{} is not a status file: {e}", path.display())))?;
        if file.format != FORMAT {
            return Err(Error::Usage(format!(
                "{}: format {:?}, expected {FORMAT:?}",
                path.display(),
                file.format
            )));
        }
        Ok(file)
    }

    /// Writes the file (to a temporary file renamed into place: a reader never sees half).
    ///
    /// # Errors
    /// [`Error::State`] when it cannot be written.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let io = |e: std::io::Error| Error::State(format!("writing {}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).expect("status files serialize") + "\n";
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Verifies what the file says about `sha` with nothing but the ledger's verifier `key`:
    /// the attested checkpoint's signature and time, and the status proof against it. With
    /// the verified `receipt` of an entry about `sha`, holds the receipt to the attested tree.
    ///
    /// # Errors
    /// [`Error::Usage`] when the file was made for other signers; [`Error::Tampering`] when
    /// anything fails verification, the checkpoint carries no time, or the receipt disagrees
    /// with the attested tree.
    pub fn verify_offline(
        &self,
        key: &VerifierKey,
        sha: &Sha256,
        signers: &[String],
        receipt: Option<&VerifiedReceipt>,
    ) -> Result<Offline, Error> {
        let (mut mine, mut asked) = (self.signers.clone(), signers.to_vec());
        mine.sort();
        asked.sort();
        if mine != asked {
            return Err(Error::Usage(format!(
                "the status file answers for signers [{}], not [{}]: pass the same --signer values it was saved with",
                self.signers.join(", "),
                signers.join(", ")
            )));
        }
        let found = self.batches.iter().find_map(|b| {
            b.results
                .iter()
                .find(|r| r.sha256 == *sha)
                .map(|r| (b, &r.answer))
        });
        let Some((batch, answer)) = found else {
            return Ok(Offline::NotCovered(format!(
                "the status file says nothing about {sha}"
            )));
        };
        let checkpoint = UnverifiedCheckpoint::parse(&batch.checkpoint)
            .map_err(|e| tamper(format!("the status file's checkpoint is malformed: {e}")))?
            .verify(key)
            .map_err(|e| tamper(format!("the status file's checkpoint: {e}")))?;
        let time = checkpoint
            .checkpoint()
            .time()
            .map_err(|e| tamper(format!("the status file's checkpoint: {e}")))?
            .ok_or_else(|| tamper("the status file's checkpoint carries no time"))?;
        let answer = with_checkpoint(answer, &batch.checkpoint)?;
        let v = verify_status(&checkpoint, sha, signers, &answer)
            .map_err(|e| tamper(format!("the status file's answer for {sha}: {e}")))?;
        if let Some(r) = receipt {
            if let Some(why) = hold_receipt(r, &checkpoint, &answer)? {
                return Ok(Offline::NotCovered(why));
            }
        }
        Ok(Offline::Proven(Box::new(OfflineStatus {
            status: v.status,
            deciding: v.deciding,
            checkpoint,
            time,
        })))
    }
}

/// The answer with every receipt required to be in the batch's checkpoint.
fn with_checkpoint(ans: &Authentication, note: &str) -> Result<Authentication, Error> {
    if ans.checkpoint.as_deref().is_some_and(|c| c != note) {
        return Err(tamper(
            "a status file's answer names another checkpoint than its batch's",
        ));
    }
    let receipts = ans
        .proof
        .iter()
        .flat_map(|p| p.skipped.iter().chain(p.signer_created.iter()));
    if [&ans.receipt, &ans.revocation]
        .into_iter()
        .flatten()
        .chain(receipts)
        .any(|r| r.checkpoint != note)
    {
        return Err(tamper(
            "a status file's answer is proven against another checkpoint than its batch's",
        ));
    }
    Ok(ans.clone())
}

/// Holds a receipt to the attested tree: `Some(why)` when the status is older than the
/// receipt (it cannot speak about it), an error when they disagree.
fn hold_receipt(
    r: &VerifiedReceipt,
    attested: &SignedCheckpoint,
    ans: &Authentication,
) -> Result<Option<String>, Error> {
    let (m, n) = (r.checkpoint.size().0, attested.size().0);
    if m > n {
        return Ok(Some(format!(
            "the status proof (a tree of {n} entries) is older than the receipt (a tree of {m})"
        )));
    }
    if m == n && r.checkpoint.root() != attested.root() {
        return Err(tamper(format!(
            "fork: the receipt's tree of {m} entries and the status proof's have different roots"
        )));
    }
    // The entries shown about the hash: the deciding one and those after it (or, without one,
    // all of them).
    let shown: Vec<&notarium_core::Receipt> = ans
        .receipt
        .iter()
        .chain(ans.proof.iter().flat_map(|p| p.skipped.iter()))
        .collect();
    let first = shown.iter().map(|s| s.index).min();
    let index = r.index.0;
    match first {
        None => Err(tamper(format!(
            "the status proof says no entry about the artifact exists, yet the receipt proves entry {index}"
        ))),
        Some(first) if index < first => Ok(None),
        Some(_) => match shown.iter().find(|s| s.index == index) {
            Some(s) if s.leaf_hash == leaf_hash(&r.leaf) => Ok(None),
            Some(_) => Err(tamper(format!(
                "entry {index} of the status proof's tree is not the receipt's entry"
            ))),
            None => Err(tamper(format!(
                "the status proof leaves out the receipt's entry {index}"
            ))),
        },
    }
}
