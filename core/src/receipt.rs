//! Receipts (docs/http-api.md): an entry with everything needed to verify it offline — entry bytes
//! → leaf hash → inclusion in the checkpoint's root → checkpoint signature by the pinned key.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checkpoint::{SignedCheckpoint, UnverifiedCheckpoint};
use crate::entry::Entry;
use crate::hash::{leaf_hash, Hash, LeafIndex, B64};
use crate::merkle::verify_inclusion;
use crate::note::VerifierKey;
use crate::tlog_proof::TlogProof;
use crate::Error;

/// A receipt as the server returns it and `notarium` saves it. Nothing in it is trusted until
/// [`Receipt::verify`] succeeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    /// The ledger's name.
    pub ledger: String,
    /// The entry's index.
    pub index: u64,
    /// The entry as JSON, for reading; must equal the parsed `leaf`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub entry: Value,
    /// Base64 of the exact entry bytes.
    pub leaf: String,
    /// `SHA256(0x00 || leaf)`, hex.
    pub leaf_hash: Hash,
    /// The signed checkpoint that covers the entry.
    pub checkpoint: String,
    /// Inclusion proof of `index` in the checkpoint's tree, leaf's sibling first.
    pub inclusion_proof: Vec<Hash>,
    /// The ledger's verifier key text.
    pub verifier_key: String,
}

/// A receipt that passed every check, with its parsed parts.
#[derive(Clone, Debug)]
pub struct VerifiedReceipt {
    /// The entry, parsed from the verified bytes.
    pub entry: Entry,
    /// The exact entry bytes.
    pub leaf: Vec<u8>,
    /// The entry's index.
    pub index: LeafIndex,
    /// The checkpoint, signature verified.
    pub checkpoint: SignedCheckpoint,
}

impl Receipt {
    /// Verifies the receipt against the pinned `key` (never against `self.verifier_key`, which
    /// is only a hint).
    ///
    /// # Errors
    /// [`Error::InvalidProof`], [`Error::BadSignature`], [`Error::WrongOrigin`],
    /// [`Error::MalformedEntry`] or [`Error::ReceiptMismatch`] naming what disagrees.
    pub fn verify(&self, key: &VerifierKey) -> Result<VerifiedReceipt, Error> {
        let checkpoint = UnverifiedCheckpoint::parse(&self.checkpoint)?.verify(key)?;
        self.verify_in(checkpoint)
    }

    /// Like [`Receipt::verify`], for a caller that already verified the receipt's checkpoint
    /// (e.g. once for a whole batch of receipts): the receipt must carry exactly that note.
    ///
    /// # Errors
    /// As [`Receipt::verify`].
    pub fn verify_in(&self, checkpoint: SignedCheckpoint) -> Result<VerifiedReceipt, Error> {
        if self.checkpoint != checkpoint.note() {
            return Err(Error::ReceiptMismatch(
                "the receipt carries another checkpoint",
            ));
        }
        let leaf = B64
            .decode(&self.leaf)
            .map_err(|_| Error::ReceiptMismatch("leaf is not base64"))?;
        if leaf_hash(&leaf) != self.leaf_hash {
            return Err(Error::ReceiptMismatch("leaf_hash is not the hash of leaf"));
        }
        let value: Value = serde_json::from_slice(&leaf)
            .map_err(|e| Error::MalformedEntry(format!("leaf is not JSON: {e}")))?;
        if value != self.entry {
            return Err(Error::ReceiptMismatch(
                "entry does not match the leaf bytes",
            ));
        }
        let entry = Entry::from_bytes(&leaf)?;
        let ledger = match &entry {
            Entry::Artifact(a) => &a.ledger,
            Entry::Key(k) => &k.ledger,
        };
        if ledger != &self.ledger {
            return Err(Error::ReceiptMismatch("entry belongs to another ledger"));
        }
        // The ledger writes an identity only with the signer derived from it: anyone can
        // recompute it, and an entry that disagrees was not written by an honest ledger.
        if let Entry::Artifact(a) = &entry {
            if a.identity
                .as_ref()
                .is_some_and(|id| id.signer_id() != a.signer)
            {
                return Err(Error::ReceiptMismatch(
                    "the entry's signer is not the id of its verified identity",
                ));
            }
        }
        verify_inclusion(
            &self.leaf_hash,
            LeafIndex(self.index),
            checkpoint.size(),
            &self.inclusion_proof,
            &checkpoint.root(),
        )?;
        Ok(VerifiedReceipt {
            entry,
            leaf,
            index: LeafIndex(self.index),
            checkpoint,
        })
    }

    /// The entry parsed from the leaf bytes, unverified: for a server reading its own
    /// receipts. Clients call [`Receipt::verify`].
    ///
    /// # Errors
    /// [`Error::ReceiptMismatch`] for a leaf that is not base64, [`Error::MalformedEntry`].
    pub fn parse_entry(&self) -> Result<Entry, Error> {
        let leaf = B64
            .decode(&self.leaf)
            .map_err(|_| Error::ReceiptMismatch("leaf is not base64"))?;
        Entry::from_bytes(&leaf)
    }

    /// The receipt as a C2SP tlog-proof, with the entry bytes as its extra data so that the
    /// proof alone reconstructs the leaf.
    pub fn to_tlog_proof(&self) -> Result<TlogProof, Error> {
        let leaf = B64
            .decode(&self.leaf)
            .map_err(|_| Error::ReceiptMismatch("leaf is not base64"))?;
        Ok(TlogProof {
            extra: Some(leaf),
            index: LeafIndex(self.index),
            proof: self.inclusion_proof.clone(),
            checkpoint: self.checkpoint.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::checkpoint::{Checkpoint, Origin};
    use crate::entry::{ArtifactEntry, ArtifactStatus, VerifiedIdentity};
    use crate::hash::TreeSize;
    use crate::note::SignerKey;
    use crate::Sha256;

    const ORIGIN: &str = "example.com/notarium/default";

    /// A one-entry ledger's receipt of `entry`, signed by a test key.
    fn receipt_of(entry: &Entry) -> (Receipt, VerifierKey) {
        let key = SignerKey::from_seed(ORIGIN, [9; 32]).unwrap();
        let leaf = entry.to_bytes().unwrap();
        let checkpoint = Checkpoint {
            origin: Origin::new(ORIGIN).unwrap(),
            size: TreeSize(1),
            root: leaf_hash(&leaf),
            extensions: vec![],
        }
        .sign(&key)
        .unwrap();
        let receipt = Receipt {
            ledger: "default".into(),
            index: 0,
            entry: serde_json::from_slice(&leaf).unwrap(),
            leaf: B64.encode(&leaf),
            leaf_hash: leaf_hash(&leaf),
            checkpoint: checkpoint.note().to_owned(),
            inclusion_proof: vec![],
            verifier_key: key.verifier().to_string(),
        };
        (receipt, key.verifier())
    }

    fn entry(signer: &str, identity: Option<VerifiedIdentity>) -> Entry {
        Entry::Artifact(ArtifactEntry {
            v: 1,
            ledger: "default".into(),
            sha256: Sha256::of(b"x"),
            name: "x".into(),
            kind: "file".into(),
            size: None,
            status: ArtifactStatus::Trusted,
            attributes: BTreeMap::new(),
            ci: BTreeMap::new(),
            identity,
            signer: signer.into(),
            time: "2026-11-21T10:00:00.000000Z".into(),
        })
    }

    #[test]
    fn an_identity_must_sign_its_entry() {
        let id = VerifiedIdentity {
            context: BTreeMap::new(),
            issuer: "https://issuer.example".into(),
            provider: "generic".into(),
            subject: "subject".into(),
        };
        let (good, key) = receipt_of(&entry(&id.signer_id(), Some(id.clone())));
        let v = good.verify(&key).unwrap();
        assert!(matches!(v.entry, Entry::Artifact(a) if a.identity == Some(id.clone())));
        let (plain, key) = receipt_of(&entry("k_1", None));
        plain.verify(&key).unwrap();
        // Signed and proven, but the signer is not the identity's: no honest ledger wrote it.
        let (lying, key) = receipt_of(&entry("k_1", Some(id)));
        assert_eq!(
            lying.verify(&key).unwrap_err(),
            Error::ReceiptMismatch("the entry's signer is not the id of its verified identity")
        );
    }
}
