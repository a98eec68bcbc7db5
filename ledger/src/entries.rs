//! What the caller asks to append ([`NewEntry`]), turned into entries before it reaches the
//! sequencer: each request is validated, built into its canonical bytes (all but the time,
//! which the sequencer fills in) and size-checked on the caller's thread, so that a bad request
//! is refused alone and the sequencer only does the serial part. Also the secondary-index
//! columns of an entry, which the writer stores and the audit recomputes from the bytes alone.

use std::collections::BTreeMap;

use notarium_core::entry::{ArtifactEntry, KeyEntry, ENTRY_VERSION, MAX_ENTRY_BYTES};
use notarium_core::index::IndexKey;
use notarium_core::time::TIMESTAMP_LEN;
use notarium_core::{
    leaf_hash, ArtifactRequest, ArtifactStatus, Entry, EntryTemplate, Hash, KeyAction, LeafPrefix,
    Role, Timestamp, VerifiedIdentity,
};

use sha2::{Digest, Sha256};

use crate::Error;

/// One entry to append. The ledger sets `ledger`, `time`, `type` and `v` itself.
#[derive(Clone, Debug)]
pub enum NewEntry {
    /// A notarization or status change, signed by `signer` (the caller's identity).
    Artifact {
        /// What the caller asked for.
        request: ArtifactRequest,
        /// Who asked: an API key id, `admin`, or another identity the caller vouches for.
        signer: String,
        /// Who built it, as the caller verified it (a CI token): recorded as the entry's
        /// `identity`, and then `signer` must be its [`VerifiedIdentity::signer_id`]. `None`
        /// for API-key writes: the entry has no `identity` at all.
        identity: Option<VerifiedIdentity>,
    },
    /// A new API key. `credential` is the SHA-256 of the secret; it is stored beside the
    /// ledger, never in the entry, which records only its own SHA-256 (the entry's
    /// `credential`, docs/ledger.md).
    KeyCreated {
        /// Public key id.
        id: String,
        /// Human name.
        name: String,
        /// Role.
        role: Role,
        /// Who created it.
        signer: String,
        /// SHA-256 of the bearer secret.
        credential: [u8; 32],
    },
    /// Revokes an API key; its notarizations then authenticate as `revoked`.
    KeyRevoked {
        /// The key id.
        id: String,
        /// Who revoked it.
        signer: String,
    },
    /// Opaque bytes (imports and interoperability tests): logged and proven, not indexed.
    Opaque(Vec<u8>),
}

/// The secondary-index columns of an entry, derived from its bytes alone (the audit recomputes
/// them the same way).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Columns {
    pub kind: Option<&'static str>,
    pub sha256: Option<[u8; 32]>,
    pub name: Option<String>,
    pub signer: Option<String>,
    pub status: Option<&'static str>,
    pub time_us: Option<i64>,
    pub attributes: BTreeMap<String, String>,
}

impl Columns {
    /// The columns of a stored entry (its time parsed from the entry).
    pub(crate) fn of(entry: &Entry) -> Self {
        Self::at(entry, Timestamp::parse(entry.time()).ok().map(|t| t.0))
    }

    /// The columns of an entry whose time is known (the sequencer's case).
    fn at(entry: &Entry, time_us: Option<i64>) -> Self {
        match entry {
            Entry::Artifact(a) => Columns {
                kind: Some("artifact"),
                sha256: Some(a.sha256.0),
                name: Some(a.name.clone()),
                signer: Some(a.signer.clone()),
                status: Some(a.status.as_str()),
                time_us,
                attributes: a.attributes.clone(),
            },
            Entry::Key(k) => Columns {
                kind: Some("key"),
                signer: Some(k.signer.clone()),
                time_us,
                ..Columns::default()
            },
        }
    }
}

/// A change to the API keys that an entry makes, checked by the sequencer against the stored
/// keys (which only it may read consistently with what it is about to write).
#[derive(Clone, Debug)]
pub(crate) enum KeyChange {
    Created {
        id: String,
        name: String,
        role: Role,
        credential: [u8; 32],
    },
    /// The entry cannot be built before the sequencer has read the key's name and role.
    Revoked { id: String, signer: String },
}

/// An entry ready for the sequencer: its canonical bytes without the time, its index columns
/// without the time, and the key change it makes.
#[derive(Clone, Debug)]
pub(crate) struct Draft {
    /// `None` for a revocation (built by the sequencer) and for opaque bytes (`opaque`); with
    /// the part of its leaf hash that comes before the time.
    template: Option<(EntryTemplate, LeafPrefix)>,
    opaque: Option<Vec<u8>>,
    columns: Columns,
    pub key: Option<KeyChange>,
    /// The status-index key the entry concerns (none for opaque bytes).
    pub index_key: Option<IndexKey>,
}

impl Draft {
    /// Validates `new` and builds it for ledger `ledger`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field or limit that fails, including the 16 KiB limit of
    /// the whole entry.
    pub(crate) fn build(ledger: &str, new: NewEntry) -> Result<Draft, Error> {
        let entry = match new {
            NewEntry::Opaque(bytes) => {
                if bytes.len() > MAX_ENTRY_BYTES {
                    return Err(notarium_core::Error::EntryTooLarge(bytes.len()).into());
                }
                return Ok(Draft {
                    template: None,
                    opaque: Some(bytes),
                    columns: Columns::default(),
                    key: None,
                    index_key: None,
                });
            }
            NewEntry::KeyRevoked { id, signer } => {
                check_key_id(&id)?;
                let index_key = Some(IndexKey::signer(&id));
                return Ok(Draft {
                    template: None,
                    opaque: None,
                    columns: Columns::default(),
                    key: Some(KeyChange::Revoked { id, signer }),
                    index_key,
                });
            }
            NewEntry::Artifact {
                request,
                signer,
                identity,
            } => {
                request.validate()?;
                if let Some(id) = &identity {
                    id.validate()?;
                    // Anyone can recompute the id from the entry: a mismatch would be a lie.
                    if signer != id.signer_id() {
                        return Err(notarium_core::Error::InvalidField(
                            "signer",
                            "an entry with a verified identity is signed by that identity's id"
                                .into(),
                        )
                        .into());
                    }
                }
                let ArtifactRequest {
                    sha256,
                    name,
                    size,
                    kind,
                    status,
                    attributes,
                    ci,
                } = request;
                Entry::Artifact(ArtifactEntry {
                    v: ENTRY_VERSION,
                    ledger: ledger.to_owned(),
                    sha256,
                    name,
                    kind: kind.unwrap_or_else(|| "file".into()),
                    size,
                    status: status.unwrap_or(ArtifactStatus::Trusted),
                    attributes,
                    ci,
                    identity,
                    signer,
                    time: String::new(),
                })
            }
            NewEntry::KeyCreated {
                id,
                name,
                role,
                signer,
                credential,
            } => {
                check_key_id(&id)?;
                if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
                    return Err(notarium_core::Error::InvalidField(
                        "name",
                        "key name must be 1-128 characters without control characters".into(),
                    )
                    .into());
                }
                let entry = Entry::Key(KeyEntry {
                    v: ENTRY_VERSION,
                    ledger: ledger.to_owned(),
                    action: KeyAction::Created,
                    id: id.clone(),
                    name: name.clone(),
                    role,
                    signer,
                    time: String::new(),
                    credential: Some(hex::encode(Sha256::digest(credential))),
                });
                let mut draft = Draft::of(&entry)?;
                draft.key = Some(KeyChange::Created {
                    id,
                    name,
                    role,
                    credential,
                });
                return Ok(draft);
            }
        };
        Draft::of(&entry)
    }

    /// A draft of an entry built in full but for its time (the sequencer builds revocations
    /// this way once it has read the key).
    pub(crate) fn of(entry: &Entry) -> Result<Draft, Error> {
        let template = entry.template();
        let len = template.len_with_time(TIMESTAMP_LEN);
        if len > MAX_ENTRY_BYTES {
            return Err(notarium_core::Error::EntryTooLarge(len).into());
        }
        let prefix = template.leaf_prefix();
        Ok(Draft {
            template: Some((template, prefix)),
            opaque: None,
            columns: Columns::at(entry, None),
            key: None,
            index_key: Some(IndexKey::of_entry(entry)),
        })
    }

    /// Whether the sequencer must build the entry itself (a revocation).
    pub(crate) fn is_pending(&self) -> bool {
        self.template.is_none() && self.opaque.is_none()
    }

    /// The entry's bytes, leaf hash and index columns at sequencing time `time` (`time_us` in
    /// µs). The leaf hash is finished from the prefix hashed by the caller: the sequencer
    /// hashes only the time and what follows it.
    pub(crate) fn finish(self, time: &str, time_us: i64) -> (Vec<u8>, Hash, Columns) {
        match (self.template, self.opaque) {
            (Some((t, prefix)), _) => {
                let mut columns = self.columns;
                columns.time_us = Some(time_us);
                (t.with_time(time), t.leaf_with_time(&prefix, time), columns)
            }
            (None, Some(bytes)) => {
                let leaf = leaf_hash(&bytes);
                (bytes, leaf, self.columns)
            }
            (None, None) => unreachable!("a pending draft is built by the sequencer first"),
        }
    }
}

/// How a stored API key row disagrees with the `created` entry that records it, if it does:
/// its id, name and role, and — for entries that commit to it (0.2 and later) — its credential.
pub(crate) fn key_row_mismatch(
    row: &notarium_core::api::Key,
    credential: &[u8; 32],
    created: &KeyEntry,
) -> Option<String> {
    let mut wrong = Vec::new();
    if created.action != KeyAction::Created || created.id != row.id {
        wrong.push("id");
    }
    if created.name != row.name {
        wrong.push("name");
    }
    if created.role != row.role {
        wrong.push("role");
    }
    if let Some(c) = &created.credential {
        if *c != hex::encode(Sha256::digest(credential)) {
            wrong.push("credential");
        }
    }
    (!wrong.is_empty()).then(|| {
        format!(
            "api key {} disagrees with its created entry {} in: {}",
            row.id,
            row.created_index,
            wrong.join(", ")
        )
    })
}

fn check_key_id(s: &str) -> Result<(), Error> {
    if s.is_empty()
        || s.len() > 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(notarium_core::Error::InvalidField(
            "key id",
            "must be 1-64 of A-Z a-z 0-9 _ -".into(),
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use notarium_core::Sha256;

    fn request(attributes: usize, value_len: usize) -> ArtifactRequest {
        ArtifactRequest {
            sha256: Sha256::of(b"x"),
            name: "app.tar.gz".into(),
            size: Some(1),
            kind: None,
            status: None,
            attributes: (0..attributes)
                .map(|i| (format!("k{i:03}"), "v".repeat(value_len)))
                .collect(),
            ci: Default::default(),
        }
    }

    #[test]
    fn finished_drafts_are_the_canonical_entries() {
        let time = Timestamp(1_790_000_000_123_456);
        let text = time.to_string();
        let new = NewEntry::Artifact {
            request: request(3, 10),
            signer: "k_1".into(),
            identity: None,
        };
        let (bytes, leaf, columns) = Draft::build("default", new).unwrap().finish(&text, time.0);
        assert_eq!(leaf, leaf_hash(&bytes));
        let entry = Entry::from_bytes(&bytes).unwrap();
        assert_eq!(entry.to_bytes().unwrap(), bytes);
        assert_eq!(entry.time(), text);
        assert_eq!(columns, Columns::of(&entry));
    }

    #[test]
    fn the_whole_entry_is_bounded_before_sequencing() {
        // Each attribute passes its own limits; together they pass 16 KiB.
        let req = request(64, 1000);
        req.validate().unwrap();
        let err = Draft::build(
            "default",
            NewEntry::Artifact {
                request: req,
                signer: "k_1".into(),
                identity: None,
            },
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Invalid(notarium_core::Error::EntryTooLarge(n)) if n > MAX_ENTRY_BYTES
            ),
            "{err:?}"
        );
        // Around the limit, a draft is accepted exactly when the finished entry fits: the check
        // counts the time that the sequencer fills in. The length is measured independently,
        // by canonicalising the entry's JSON value.
        let time = Timestamp(1_790_000_000_000_000).to_string();
        let mut accepted = 0;
        for values in 240..=280 {
            let req = request(60, values);
            let entry = Entry::Artifact(ArtifactEntry {
                v: ENTRY_VERSION,
                ledger: "default".into(),
                sha256: req.sha256,
                name: req.name.clone(),
                kind: "file".into(),
                size: req.size,
                status: ArtifactStatus::Trusted,
                attributes: req.attributes.clone(),
                ci: req.ci.clone(),
                identity: None,
                signer: "k_1".into(),
                time: time.clone(),
            });
            let fits =
                notarium_core::entry::canonical_bytes(&serde_json::to_value(&entry).unwrap())
                    .is_ok();
            let new = NewEntry::Artifact {
                request: req,
                signer: "k_1".into(),
                identity: None,
            };
            assert_eq!(Draft::build("default", new).is_ok(), fits, "{values}");
            accepted += usize::from(fits);
        }
        assert!(
            accepted > 0 && accepted < 41,
            "the limit falls inside the range"
        );
    }

    #[test]
    fn a_verified_identity_is_recorded_and_signs_the_entry() {
        let identity = VerifiedIdentity {
            context: [("repository".to_owned(), "acme/app".to_owned())].into(),
            issuer: "https://issuer.example".into(),
            provider: "github".into(),
            subject: "repo:acme/app:ref:refs/heads/main".into(),
        };
        let signer = identity.signer_id();
        let time = Timestamp(1_790_000_000_123_456);
        let new = NewEntry::Artifact {
            request: request(1, 1),
            signer: signer.clone(),
            identity: Some(identity.clone()),
        };
        let (bytes, leaf, columns) = Draft::build("default", new)
            .unwrap()
            .finish(&time.to_string(), time.0);
        assert_eq!(leaf, leaf_hash(&bytes));
        let Entry::Artifact(a) = Entry::from_bytes(&bytes).unwrap() else {
            panic!("an artifact entry")
        };
        assert_eq!(a.identity.as_ref(), Some(&identity));
        assert_eq!(columns.signer.as_deref(), Some(signer.as_str()));

        // Another signer than the identity's, or an identity that breaks its limits: refused.
        let lying = NewEntry::Artifact {
            request: request(1, 1),
            signer: "k_1".into(),
            identity: Some(identity.clone()),
        };
        assert!(matches!(
            Draft::build("default", lying),
            Err(Error::Invalid(notarium_core::Error::InvalidField(
                "signer",
                _
            )))
        ));
        let mut bad = identity;
        bad.context.insert("token".into(), "secret".into());
        let bad = NewEntry::Artifact {
            request: request(1, 1),
            signer: bad.signer_id(),
            identity: Some(bad),
        };
        assert!(matches!(
            Draft::build("default", bad),
            Err(Error::Invalid(notarium_core::Error::InvalidField(
                "identity",
                _
            )))
        ));
    }
}
