//! Audit reports: every entry a ledger sequenced in a time range, with the signed checkpoints at
//! both ends, the consistency proof between them, and each entry's inclusion proof in the later
//! one, so that an auditor can check the whole report offline with the ledger's verifier key.
//!
//! Entry times never decrease with the index (the sequencer's clock is monotone and every entry
//! of a batch carries the batch's time), so the entries of `[since, until)` are one index range
//! `[first_index, end_index)` whose ends are checkpointed tree sizes. The report proves that
//! range complete: the entry before it (if any) is older than `since`, and the entry after it
//! (if any) is not older than `until`, each with its own proof.
//!
//! In scope: the report's shape and its verification. Out of scope: building it (the server
//! reads the ledger) and rendering it.

use serde::{Deserialize, Serialize};

use crate::checkpoint::{SignedCheckpoint, UnverifiedCheckpoint};
use crate::entry::{ArtifactStatus, Entry, KeyAction};
use crate::hash::{Hash, TreeSize};
use crate::merkle::verify_consistency;
use crate::note::VerifierKey;
use crate::receipt::Receipt;
use crate::time::Timestamp;
use crate::Error;

/// The `format` of version 1 reports.
pub const REPORT_FORMAT: &str = "notarium-audit-report/v1";

/// An audit report as the server writes it. Nothing in it is trusted until
/// [`AuditReport::verify`] succeeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditReport {
    /// Always [`REPORT_FORMAT`].
    pub format: String,
    /// The ledger's name.
    pub ledger: String,
    /// The ledger's checkpoint origin.
    pub origin: String,
    /// The ledger's verifier key (a hint: verify against a pinned key).
    pub verifier_key: String,
    /// When the server built the report.
    pub generated_at: String,
    /// The time range and the index range it covers.
    pub range: ReportRange,
    /// The most entries a report may hold on the server that built it.
    pub max_entries: u64,
    /// The signed checkpoint of tree size `range.first_index`.
    pub from: String,
    /// The signed checkpoint of tree size `range.end_index`.
    pub to: String,
    /// The consistency proof from `from` to `to` (RFC 6962 §2.1.2), hex.
    pub consistency_proof: Vec<Hash>,
    /// Every entry of `[first_index, end_index)`, in order, each proven against `to`.
    pub entries: Vec<Receipt>,
    /// The entry just before the range (sequenced before `since`), proven against `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Receipt>,
    /// The entry just after the range (sequenced at or after `until`), proven against a later
    /// checkpoint (the one in the receipt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Receipt>,
    /// The consistency proof from `to` to the checkpoint of `after`, hex.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_consistency_proof: Vec<Hash>,
    /// Counts of what the entries record.
    pub summary: ReportSummary,
}

/// The range a report covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportRange {
    /// Entries sequenced at or after this time (absent: from the first entry).
    pub since: Option<String>,
    /// Entries sequenced before this time (absent: up to the report's `to` checkpoint).
    pub until: Option<String>,
    /// The index of the first entry in the range (the size of `from`).
    pub first_index: u64,
    /// One past the index of the last entry in the range (the size of `to`).
    pub end_index: u64,
}

/// What a report's entries record, counted by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportSummary {
    /// All entries.
    pub entries: u64,
    /// Artifact entries recorded as `trusted`.
    pub notarizations: u64,
    /// Artifact entries recorded as `untrusted` or `unsupported`.
    pub status_changes: u64,
    /// API keys created.
    pub keys_created: u64,
    /// API keys revoked.
    pub revocations: u64,
}

impl ReportSummary {
    /// Counts `entries`.
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Self {
        let mut s = ReportSummary::default();
        for e in entries {
            s.entries += 1;
            match e {
                Entry::Artifact(a) if a.status == ArtifactStatus::Trusted => s.notarizations += 1,
                Entry::Artifact(_) => s.status_changes += 1,
                Entry::Key(k) if k.action == KeyAction::Created => s.keys_created += 1,
                Entry::Key(_) => s.revocations += 1,
            }
        }
        s
    }
}

/// A report that passed every check of [`AuditReport::verify`].
#[derive(Clone, Debug)]
pub struct VerifiedReport {
    /// The checkpoint at the start, signature verified.
    pub from: SignedCheckpoint,
    /// The checkpoint at the end, signature verified.
    pub to: SignedCheckpoint,
    /// The entries with their indexes, parsed from verified bytes.
    pub entries: Vec<(u64, Entry)>,
    /// The summary, recomputed from the entries (equal to the report's).
    pub summary: ReportSummary,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidReport(msg.into())
}

fn time_of(e: &Entry, index: u64) -> Result<Timestamp, Error> {
    Timestamp::parse(e.time()).map_err(|_| invalid(format!("entry {index} has no valid time")))
}

impl AuditReport {
    /// Verifies the report against the pinned `key`: both checkpoints are signed by it for its
    /// origin; the consistency proof links them; the entries are exactly the indexes
    /// `first_index..end_index`, each included in `to`; their times are within the range and
    /// never decrease; the neighbours prove that no entry of the range was left out; the
    /// summary counts what the entries record.
    ///
    /// # Errors
    /// [`Error::InvalidReport`] naming the first check that failed, or the error of a failed
    /// signature, proof or receipt.
    pub fn verify(&self, key: &VerifierKey) -> Result<VerifiedReport, Error> {
        if self.format != REPORT_FORMAT {
            return Err(invalid(format!(
                "format {:?} is not {REPORT_FORMAT}",
                self.format
            )));
        }
        if self.origin != key.name() {
            return Err(Error::WrongOrigin {
                expected: key.name().to_owned(),
                found: self.origin.clone(),
            });
        }
        let from = UnverifiedCheckpoint::parse(&self.from)?.verify(key)?;
        let to = UnverifiedCheckpoint::parse(&self.to)?.verify(key)?;
        let (a, b) = (self.range.first_index, self.range.end_index);
        if from.size() != TreeSize(a) || to.size() != TreeSize(b) {
            return Err(invalid(format!(
                "the checkpoints are of sizes {} and {}, the range is {a}..{b}",
                from.size().0,
                to.size().0
            )));
        }
        verify_consistency(
            from.size(),
            to.size(),
            &self.consistency_proof,
            &from.root(),
            &to.root(),
        )?;
        let since = self
            .range
            .since
            .as_deref()
            .map(Timestamp::parse)
            .transpose()?;
        let until = self
            .range
            .until
            .as_deref()
            .map(Timestamp::parse)
            .transpose()?;
        if let (Some(s), Some(u)) = (since, until) {
            if s > u {
                return Err(invalid("since is after until"));
            }
        }
        if self.entries.len() as u64 != b - a {
            return Err(invalid(format!(
                "the range {a}..{b} holds {} entries, the report lists {}",
                b - a,
                self.entries.len()
            )));
        }
        let mut entries = Vec::with_capacity(self.entries.len());
        let mut last: Option<Timestamp> = None;
        for (i, r) in self.entries.iter().enumerate() {
            let index = a + i as u64;
            if r.index != index {
                return Err(invalid(format!(
                    "entry {i} of the report has index {}, expected {index}",
                    r.index
                )));
            }
            let e = self.verified_entry(r, &to)?;
            let t = time_of(&e, index)?;
            if since.is_some_and(|s| t < s) || until.is_some_and(|u| t >= u) {
                return Err(invalid(format!(
                    "entry {index} was sequenced at {}, outside the range",
                    e.time()
                )));
            }
            if last.is_some_and(|l| t < l) {
                return Err(invalid(format!(
                    "entry {index} is older than the entry before it"
                )));
            }
            last = Some(t);
            entries.push((index, e));
        }
        self.verify_before(a, since, &to)?;
        self.verify_after(b, until, &to, key)?;
        let summary = ReportSummary::of(entries.iter().map(|(_, e)| e));
        if summary != self.summary {
            return Err(invalid(format!(
                "the summary does not count the entries: it says {:?}, the entries hold {summary:?}",
                self.summary
            )));
        }
        Ok(VerifiedReport {
            from,
            to,
            entries,
            summary,
        })
    }

    /// Verifies `r` in `checkpoint` and that it belongs to this report's ledger.
    fn verified_entry(&self, r: &Receipt, checkpoint: &SignedCheckpoint) -> Result<Entry, Error> {
        if r.ledger != self.ledger {
            return Err(invalid(format!(
                "entry {} belongs to ledger {:?}",
                r.index, r.ledger
            )));
        }
        Ok(r.verify_in(checkpoint.clone())?.entry)
    }

    /// Without `since` the range starts at the first entry; with it, the entry before the
    /// range must be older than `since`.
    fn verify_before(
        &self,
        a: u64,
        since: Option<Timestamp>,
        to: &SignedCheckpoint,
    ) -> Result<(), Error> {
        match (&self.before, since) {
            (None, _) if a == 0 => Ok(()),
            (None, None) => Err(invalid(format!(
                "the report has no since, yet starts at entry {a}, not 0"
            ))),
            (None, Some(_)) => Err(invalid(format!(
                "the entry before the range ({}) is missing",
                a - 1
            ))),
            (Some(_), _) if a == 0 => Err(invalid("an entry before entry 0")),
            (Some(_), None) => Err(invalid("an entry before the range, yet no since")),
            (Some(r), Some(s)) => {
                if r.index != a - 1 {
                    return Err(invalid(format!(
                        "the entry before the range is {}, expected {}",
                        r.index,
                        a - 1
                    )));
                }
                let e = self.verified_entry(r, to)?;
                if time_of(&e, r.index)? >= s {
                    return Err(invalid(format!(
                        "entry {} was sequenced at {}, within the range, but the report leaves it out",
                        r.index,
                        e.time()
                    )));
                }
                Ok(())
            }
        }
    }

    /// The entry after the range, if given, must not be older than `until` and must be proven
    /// in a later checkpoint consistent with `to`.
    fn verify_after(
        &self,
        b: u64,
        until: Option<Timestamp>,
        to: &SignedCheckpoint,
        key: &VerifierKey,
    ) -> Result<(), Error> {
        let Some(r) = &self.after else {
            if !self.after_consistency_proof.is_empty() {
                return Err(invalid(
                    "a consistency proof for a missing entry after the range",
                ));
            }
            return Ok(());
        };
        let Some(u) = until else {
            return Err(invalid("an entry after the range, yet no until"));
        };
        if r.index != b {
            return Err(invalid(format!(
                "the entry after the range is {}, expected {b}",
                r.index
            )));
        }
        let later = UnverifiedCheckpoint::parse(&r.checkpoint)?.verify(key)?;
        verify_consistency(
            to.size(),
            later.size(),
            &self.after_consistency_proof,
            &to.root(),
            &later.root(),
        )?;
        let e = self.verified_entry(r, &later)?;
        if time_of(&e, b)? < u {
            return Err(invalid(format!(
                "entry {b} was sequenced at {}, within the range, but the report leaves it out",
                e.time()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::checkpoint::{Checkpoint, Origin};
    use crate::entry::{ArtifactEntry, KeyEntry, Role};
    use crate::hash::{leaf_hash, LeafIndex, Sha256};
    use crate::merkle::{consistency_proof, inclusion_proof, root, NodeSource};
    use crate::note::SignerKey;
    use base64::Engine;

    /// A whole tree in memory: leaf hashes, every node computed on demand.
    struct Tree(Vec<Hash>);

    impl NodeSource for Tree {
        type Error = Error;
        fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
            if level == 0 {
                return Ok(self.0[index as usize]);
            }
            Ok(crate::hash::node_hash(
                &self.node(level - 1, 2 * index)?,
                &self.node(level - 1, 2 * index + 1)?,
            ))
        }
    }

    const ORIGIN: &str = "example.com/notarium/default";

    fn key() -> SignerKey {
        SignerKey::from_seed(ORIGIN, [7; 32]).unwrap()
    }

    fn artifact(i: u64, status: ArtifactStatus) -> Entry {
        Entry::Artifact(ArtifactEntry {
            v: 1,
            ledger: "default".into(),
            sha256: Sha256::of(&i.to_be_bytes()),
            name: format!("file-{i}"),
            kind: "file".into(),
            size: None,
            status,
            attributes: BTreeMap::new(),
            ci: BTreeMap::new(),
            identity: None,
            signer: "k_1".into(),
            time: Timestamp(i as i64 * 1_000_000).to_string(),
        })
    }

    fn key_entry(i: u64, action: KeyAction) -> Entry {
        Entry::Key(KeyEntry {
            v: 1,
            ledger: "default".into(),
            action,
            id: "k_1".into(),
            name: "ci".into(),
            role: Role::Write,
            signer: "admin".into(),
            time: Timestamp(i as i64 * 1_000_000).to_string(),
            credential: None,
        })
    }

    /// Ten entries at seconds 0..10; entry 3 untrusts, 0 creates a key, 9 revokes it.
    fn log() -> (Vec<Vec<u8>>, Tree) {
        let leaves: Vec<Vec<u8>> = (0..10u64)
            .map(|i| match i {
                0 => key_entry(i, KeyAction::Created),
                3 => artifact(i, ArtifactStatus::Untrusted),
                9 => key_entry(i, KeyAction::Revoked),
                _ => artifact(i, ArtifactStatus::Trusted),
            })
            .map(|e| e.to_bytes().unwrap())
            .collect();
        let tree = Tree(leaves.iter().map(|l| leaf_hash(l)).collect());
        (leaves, tree)
    }

    fn checkpoint(tree: &Tree, size: u64) -> SignedCheckpoint {
        let t = Tree(tree.0[..size as usize].to_vec());
        Checkpoint {
            origin: Origin::new(ORIGIN).unwrap(),
            size: TreeSize(size),
            root: root(&t, TreeSize(size)).unwrap(),
            extensions: vec![],
        }
        .sign(&key())
        .unwrap()
    }

    fn receipt(leaves: &[Vec<u8>], tree: &Tree, index: u64, at: &SignedCheckpoint) -> Receipt {
        let t = Tree(tree.0[..at.size().0 as usize].to_vec());
        Receipt {
            ledger: "default".into(),
            index,
            entry: serde_json::from_slice(&leaves[index as usize]).unwrap(),
            leaf: base64::engine::general_purpose::STANDARD.encode(&leaves[index as usize]),
            leaf_hash: leaf_hash(&leaves[index as usize]),
            checkpoint: at.note().to_owned(),
            inclusion_proof: inclusion_proof(&t, LeafIndex(index), at.size()).unwrap(),
            verifier_key: key().verifier().to_string(),
        }
    }

    /// The report of seconds [2, 8) of a ledger whose latest size is 10: entries 2..8.
    fn report() -> AuditReport {
        let (leaves, tree) = log();
        let (a, b) = (2, 8);
        let from = checkpoint(&tree, a);
        let to = checkpoint(&tree, b);
        let latest = checkpoint(&tree, 10);
        let entries: Vec<Receipt> = (a..b).map(|i| receipt(&leaves, &tree, i, &to)).collect();
        let parsed: Vec<Entry> = (a..b)
            .map(|i| Entry::from_bytes(&leaves[i as usize]).unwrap())
            .collect();
        AuditReport {
            format: REPORT_FORMAT.into(),
            ledger: "default".into(),
            origin: ORIGIN.into(),
            verifier_key: key().verifier().to_string(),
            generated_at: Timestamp(100_000_000).to_string(),
            range: ReportRange {
                since: Some(Timestamp(2_000_000).to_string()),
                until: Some(Timestamp(8_000_000).to_string()),
                first_index: a,
                end_index: b,
            },
            max_entries: 10_000,
            from: from.note().to_owned(),
            to: to.note().to_owned(),
            consistency_proof: consistency_proof(&tree, TreeSize(a), TreeSize(b)).unwrap(),
            entries,
            before: Some(receipt(&leaves, &tree, a - 1, &to)),
            after: Some(receipt(&leaves, &tree, b, &latest)),
            after_consistency_proof: consistency_proof(&tree, TreeSize(b), TreeSize(10)).unwrap(),
            summary: ReportSummary::of(&parsed),
        }
    }

    fn fails(r: &AuditReport, needle: &str) {
        let err = r.verify(&key().verifier()).unwrap_err().to_string();
        assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    }

    #[test]
    fn a_complete_report_verifies_and_round_trips() {
        let r = report();
        let v = r.verify(&key().verifier()).unwrap();
        assert_eq!(v.entries.len(), 6);
        assert_eq!(
            v.summary,
            ReportSummary {
                entries: 6,
                notarizations: 5,
                status_changes: 1,
                keys_created: 0,
                revocations: 0
            }
        );
        let json = serde_json::to_string(&r).unwrap();
        let back: AuditReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        back.verify(&key().verifier()).unwrap();
    }

    #[test]
    fn the_whole_ledger_needs_no_neighbours() {
        let (leaves, tree) = log();
        let to = checkpoint(&tree, 10);
        let entries: Vec<Entry> = leaves
            .iter()
            .map(|l| Entry::from_bytes(l).unwrap())
            .collect();
        let r = AuditReport {
            range: ReportRange {
                since: None,
                until: None,
                first_index: 0,
                end_index: 10,
            },
            from: checkpoint(&tree, 0).note().to_owned(),
            to: to.note().to_owned(),
            consistency_proof: vec![],
            entries: (0..10).map(|i| receipt(&leaves, &tree, i, &to)).collect(),
            before: None,
            after: None,
            after_consistency_proof: vec![],
            summary: ReportSummary::of(&entries),
            ..report()
        };
        let v = r.verify(&key().verifier()).unwrap();
        assert_eq!((v.summary.keys_created, v.summary.revocations), (1, 1));
    }

    #[test]
    fn tampering_is_found() {
        let base = report();

        let mut r = base.clone();
        r.entries.remove(2);
        fails(&r, "holds 6 entries, the report lists 5");

        let mut r = base.clone();
        let mut leaf = base64::engine::general_purpose::STANDARD
            .decode(&r.entries[1].leaf)
            .unwrap();
        let pos = leaf.windows(6).position(|w| w == b"file-3").unwrap();
        leaf[pos + 5] = b'4';
        r.entries[1].leaf = base64::engine::general_purpose::STANDARD.encode(&leaf);
        fails(&r, "leaf_hash is not the hash of leaf");

        let mut r = base.clone();
        r.consistency_proof[0] = Hash([0; 32]);
        fails(&r, "consistency proof");

        let mut r = base.clone();
        r.entries[0].inclusion_proof[0] = Hash([1; 32]);
        fails(&r, "inclusion proof");

        let mut r = base.clone();
        r.summary.revocations = 1;
        fails(&r, "summary");

        let mut r = base.clone();
        r.range.since = Some(Timestamp(3_000_000).to_string());
        fails(&r, "outside the range");

        let mut r = base.clone();
        r.range.until = Some(Timestamp(9_000_000).to_string());
        fails(&r, "leaves it out");

        let mut r = base.clone();
        r.before = None;
        fails(&r, "before the range (1) is missing");

        let mut r = base.clone();
        r.to = base.from.clone();
        fails(&r, "the checkpoints are of sizes 2 and 2");

        let mut r = base.clone();
        r.origin = "example.com/other".into();
        fails(&r, "origin");

        let other = SignerKey::from_seed(ORIGIN, [8; 32]).unwrap().verifier();
        assert!(base.verify(&other).is_err(), "another key must not verify");
    }
}
