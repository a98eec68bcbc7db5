//! The entries of docs/ledger.md: what one leaf of a ledger holds, and its canonical bytes.
//!
//! An entry is the UTF-8 JSON object with keys sorted by their UTF-8 bytes and no
//! insignificant whitespace. The server writes these bytes once; everyone else hashes the bytes
//! they receive and never re-serializes.
//!
//! Limits (checked by [`ArtifactRequest::validate`] and [`canonical_bytes`]):
//!
//! | field | limit |
//! |---|---|
//! | whole entry | 16 KiB ([`MAX_ENTRY_BYTES`]) |
//! | `name` | 1–1,024 bytes, no control characters |
//! | `kind` | 1–32 of `a-z 0-9 - _ .`, default `file` |
//! | `attributes` | ≤ 64 pairs; key 1–128 of `A-Z a-z 0-9 - _ . /`; value ≤ 1,024 bytes, no control characters |
//! | `ci` | keys from [`CI_KEYS`] only; values ≤ 1,024 bytes, no control characters |
//! | `size` | any `u64` |
//! | `identity` | written by the server only (CI token writes, [`VerifiedIdentity::validate`]): `issuer` an `https://` URL and `subject` 1–1,024 bytes, no control characters; `provider` 1–32 of `a-z 0-9 - _`; `context` keys from [`CI_KEYS`] but `provider`, and [`VERIFIED_CI_KEYS`]; values 1–1,024 bytes, no control characters |
//!
//! `ci` is what the client asserted; `identity` is what the server verified (an OIDC token of a
//! CI the operator trusts). An entry without `identity` has none of its bytes, so entries
//! written before it existed keep theirs.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hash::Sha256;
use crate::Error;

/// Largest entry, in canonical bytes.
pub const MAX_ENTRY_BYTES: usize = 16 * 1024;
/// Largest artifact name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Most attributes per entry.
pub const MAX_ATTRIBUTES: usize = 64;
/// Largest attribute key.
pub const MAX_ATTR_KEY_BYTES: usize = 128;
/// Largest attribute or CI value.
pub const MAX_VALUE_BYTES: usize = 1024;
/// The CI context keys an entry may carry: never tokens or secrets.
pub const CI_KEYS: &[&str] = &[
    "provider",
    "repository",
    "commit",
    "ref",
    "run_id",
    "run_url",
    "pipeline_id",
    "pipeline_url",
    "job",
    "workflow",
    "actor",
    "server_url",
];
/// Keys an identity's verified `context` may carry besides those of [`CI_KEYS`] (except
/// `provider`, which is a field of the identity itself): what CI tokens say that clients never
/// asserted. `docs/oidc.md` maps each provider's claims onto them.
pub const VERIFIED_CI_KEYS: &[&str] = &[
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "workflow_ref",
    "job_workflow_ref",
    "event_name",
    "environment",
    "runner_environment",
    "ref_type",
    "ref_protected",
    "run_attempt",
];
/// Largest identity issuer or subject, in bytes.
pub const MAX_IDENTITY_BYTES: usize = 1024;
/// The prefix of every signer id derived from a verified identity ([`oidc_signer_id`]).
pub const OIDC_SIGNER_PREFIX: &str = "oidc:";
/// The entry format version written today.
pub const ENTRY_VERSION: u32 = 1;

/// The status a notarization assigns to an artifact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ArtifactStatus {
    /// Built and vouched for.
    #[default]
    Trusted,
    /// Explicitly distrusted.
    Untrusted,
    /// No longer supported (e.g. end of life), but not known bad.
    Unsupported,
}

impl ArtifactStatus {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactStatus::Trusted => "trusted",
            ArtifactStatus::Untrusted => "untrusted",
            ArtifactStatus::Unsupported => "unsupported",
        }
    }

    /// Parses a lowercase name.
    ///
    /// # Errors
    /// [`Error::InvalidField`].
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "trusted" => Ok(ArtifactStatus::Trusted),
            "untrusted" => Ok(ArtifactStatus::Untrusted),
            "unsupported" => Ok(ArtifactStatus::Unsupported),
            _ => Err(Error::InvalidField(
                "status",
                "must be trusted, untrusted or unsupported".into(),
            )),
        }
    }
}

/// What authenticating a hash answers: an artifact status, or `revoked` / `unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Status {
    /// The deciding entry says trusted and its signer is not revoked.
    Trusted,
    /// The deciding entry says untrusted.
    Untrusted,
    /// The deciding entry says unsupported.
    Unsupported,
    /// The deciding entry's signer key has been revoked.
    Revoked,
    /// No entry for this hash (from the requested signers).
    Unknown,
}

impl Status {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Trusted => "trusted",
            Status::Untrusted => "untrusted",
            Status::Unsupported => "unsupported",
            Status::Revoked => "revoked",
            Status::Unknown => "unknown",
        }
    }
}

impl From<ArtifactStatus> for Status {
    fn from(s: ArtifactStatus) -> Self {
        match s {
            ArtifactStatus::Trusted => Status::Trusted,
            ArtifactStatus::Untrusted => Status::Untrusted,
            ArtifactStatus::Unsupported => Status::Unsupported,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API key's role. Roles are cumulative: `admin` ⊇ `write` ⊇ `read`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Authenticate, history, search, proofs, tiles.
    Read,
    /// Also notarize and change statuses.
    Write,
    /// Also manage the ledger's keys.
    Admin,
}

impl Role {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

/// What happened to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAction {
    /// The key was issued.
    Created,
    /// The key was revoked; notarizations it signed now authenticate as `revoked`.
    Revoked,
}

/// A notarization as a caller asks for it: the fields the server does not set itself.
/// Unknown fields (and `signer`, `time`, `ledger`, `type`, `v`) are rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArtifactRequest {
    /// SHA-256 of the artifact.
    pub sha256: Sha256,
    /// The artifact's name, e.g. a file name (1–1,024 bytes, no control characters).
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 1024, example = "app.tar.gz")
    )]
    pub name: String,
    /// Size in bytes, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub size: Option<u64>,
    /// What the artifact is (`file` by default, `dir`, `container`, …): 1–32 of
    /// `a-z 0-9 - _ .`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 32, pattern = "^[a-z0-9._-]{1,32}$")
    )]
    pub kind: Option<String>,
    /// The status to record (`trusted` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ArtifactStatus>,
    /// Free-form string attributes: at most 64; keys 1–128 of `A-Z a-z 0-9 - _ . /`, values
    /// at most 1,024 bytes without control characters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "openapi", schema(schema_with = openapi::attributes))]
    pub attributes: BTreeMap<String, String>,
    /// Normalised CI context (keys from [`CI_KEYS`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "openapi", schema(schema_with = openapi::ci))]
    pub ci: BTreeMap<String, String>,
}

/// The OpenAPI schemas of the maps of [`ArtifactRequest`], with the limits
/// [`ArtifactRequest::validate`] enforces.
#[cfg(feature = "openapi")]
mod openapi {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};

    use super::{CI_KEYS, MAX_ATTRIBUTES, MAX_ATTR_KEY_BYTES, MAX_VALUE_BYTES};

    fn value() -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(MAX_VALUE_BYTES))
            .description(Some("At most 1,024 bytes, no control characters."))
    }

    pub fn attributes() -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .max_properties(Some(MAX_ATTRIBUTES))
            .property_names(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(MAX_ATTR_KEY_BYTES))
                    .pattern(Some("^[A-Za-z0-9._/-]{1,128}$")),
            ))
            .additional_properties(Some(value()))
            .into()
    }

    pub fn ci() -> Schema {
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        for key in CI_KEYS {
            object = object.property(*key, value());
        }
        object.into()
    }
}

fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), Error> {
    if s.len() > max {
        return Err(Error::InvalidField(
            field,
            format!("longer than {max} bytes"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(Error::InvalidField(
            field,
            "contains control characters".into(),
        ));
    }
    Ok(())
}

impl ArtifactRequest {
    /// Checks every field limit of the module docs.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the first offending field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.name.is_empty() {
            return Err(Error::InvalidField("name", "must not be empty".into()));
        }
        check_text("name", &self.name, MAX_NAME_BYTES)?;
        if let Some(kind) = &self.kind {
            let ok = !kind.is_empty()
                && kind.len() <= 32
                && kind
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
            if !ok {
                return Err(Error::InvalidField(
                    "kind",
                    "must be 1-32 of a-z 0-9 - _ .".into(),
                ));
            }
        }
        if self.attributes.len() > MAX_ATTRIBUTES {
            return Err(Error::InvalidField(
                "attributes",
                format!("more than {MAX_ATTRIBUTES}"),
            ));
        }
        for (k, v) in &self.attributes {
            let ok = !k.is_empty()
                && k.len() <= MAX_ATTR_KEY_BYTES
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
            if !ok {
                return Err(Error::InvalidField(
                    "attributes",
                    format!("key must be 1-{MAX_ATTR_KEY_BYTES} of A-Z a-z 0-9 - _ . /"),
                ));
            }
            check_text("attributes", v, MAX_VALUE_BYTES)?;
        }
        for (k, v) in &self.ci {
            if !CI_KEYS.contains(&k.as_str()) {
                return Err(Error::InvalidField(
                    "ci",
                    format!("unknown key {k:?}; allowed: {}", CI_KEYS.join(", ")),
                ));
            }
            check_text("ci", v, MAX_VALUE_BYTES)?;
        }
        Ok(())
    }
}

/// Who built an artifact, as the server verified it from a CI's OIDC token: the token's
/// issuer and subject, the CI behind the issuer, and the CI context the token's claims carry.
/// Written into an entry by the server, never taken from a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifiedIdentity {
    /// The verified CI context: keys of [`CI_KEYS`] (but `provider`) and [`VERIFIED_CI_KEYS`].
    #[serde(default)]
    pub context: BTreeMap<String, String>,
    /// The token's issuer (`iss`), an `https://` URL.
    pub issuer: String,
    /// The CI behind the issuer: `github`, `gitlab`, `jenkins` or `generic`.
    pub provider: String,
    /// The token's subject (`sub`).
    pub subject: String,
}

impl VerifiedIdentity {
    /// The signer id of this identity: the `signer` of every entry that records it.
    pub fn signer_id(&self) -> String {
        oidc_signer_id(&self.issuer, &self.subject)
    }

    /// Checks the limits of the module docs.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming `identity` and what is wrong.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |why: String| Err(Error::InvalidField("identity", why));
        if !self.issuer.starts_with("https://") {
            return bad("issuer must be an https:// URL".into());
        }
        for (what, v) in [("issuer", &self.issuer), ("subject", &self.subject)] {
            if v.is_empty() || v.len() > MAX_IDENTITY_BYTES || v.chars().any(char::is_control) {
                return bad(format!(
                    "{what} must be 1-{MAX_IDENTITY_BYTES} bytes without control characters"
                ));
            }
        }
        let p = &self.provider;
        if p.is_empty()
            || p.len() > 32
            || !p
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_".contains(&b))
        {
            return bad("provider must be 1-32 of a-z 0-9 - _".into());
        }
        for (k, v) in &self.context {
            let known = (CI_KEYS.contains(&k.as_str()) && k != "provider")
                || VERIFIED_CI_KEYS.contains(&k.as_str());
            if !known {
                return bad(format!("context key {k:?} is not a CI context key"));
            }
            if v.is_empty() || v.len() > MAX_VALUE_BYTES || v.chars().any(char::is_control) {
                return bad(format!(
                    "context {k} must be 1-{MAX_VALUE_BYTES} bytes without control characters"
                ));
            }
        }
        Ok(())
    }
}

/// Domain separation for [`oidc_signer_id`]: no other hash in Notarium starts like this.
const OIDC_SIGNER_DOMAIN: &[u8] = b"notarium/oidc-signer/v1";

/// The stable signer id of subject `subject` at issuer `issuer`:
/// `oidc:` + lowercase unpadded RFC 4648 base32 of the first 20 bytes of
/// `SHA-256("notarium/oidc-signer/v1" || u32be(len(iss)) || iss || u32be(len(sub)) || sub)`.
/// 37 characters (the prefix, then 32 of `a-z 2-7`): safe in entries, URLs and file names;
/// 160 bits, so that no one can find another subject with the same id. Anyone can recompute
/// it from an entry's `identity`, so an entry whose `signer` is not its identity's id is
/// refused by the ledger and flagged by clients.
pub fn oidc_signer_id(issuer: &str, subject: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(OIDC_SIGNER_DOMAIN);
    for part in [issuer, subject] {
        h.update((part.len() as u32).to_be_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    format!("{OIDC_SIGNER_PREFIX}{}", base32(&digest[..20]))
}

/// RFC 4648 §6 base32, lowercase, without padding.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// An artifact entry: a notarization or a status change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactEntry {
    /// Format version.
    pub v: u32,
    /// The ledger it belongs to.
    pub ledger: String,
    /// SHA-256 of the artifact.
    pub sha256: Sha256,
    /// The artifact's name.
    pub name: String,
    /// The artifact's kind.
    pub kind: String,
    /// Size in bytes, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The recorded status.
    pub status: ArtifactStatus,
    /// Attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// CI context, as the client asserted it (unverified).
    #[serde(default)]
    pub ci: BTreeMap<String, String>,
    /// Who built it, as the server verified it from a CI token (set by the server; absent for
    /// writes with an API key or the admin token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<VerifiedIdentity>,
    /// Id of the key that signed the request, or of the verified identity (set by the server).
    pub signer: String,
    /// Sequencing time (set by the server).
    pub time: String,
}

/// A key lifecycle entry, so that revocations are themselves in the ledger and provable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// Format version.
    pub v: u32,
    /// The ledger it belongs to.
    pub ledger: String,
    /// Created or revoked.
    pub action: KeyAction,
    /// The key's public id.
    pub id: String,
    /// The key's human name.
    pub name: String,
    /// The key's role.
    pub role: Role,
    /// Who did it (a key id, or `admin` for the server admin token).
    pub signer: String,
    /// Sequencing time.
    pub time: String,
    /// For `created`: SHA-256 (hex) of the stored credential, itself the SHA-256 of the bearer
    /// secret — what the server checks a presented key against, committed to here so that an
    /// audit can tell a credential row rewritten in storage. It reveals nothing usable about
    /// the secret (a second preimage of a 256-bit random value). Absent in entries written
    /// before 0.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Any entry of a ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Entry {
    /// An artifact notarization or status change.
    Artifact(ArtifactEntry),
    /// An API key lifecycle event.
    Key(KeyEntry),
}

impl Entry {
    /// Parses entry bytes as stored in the ledger.
    ///
    /// # Errors
    /// [`Error::MalformedEntry`] for anything that is not a version-1 entry.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(Error::EntryTooLarge(bytes.len()));
        }
        let e: Entry =
            serde_json::from_slice(bytes).map_err(|e| Error::MalformedEntry(e.to_string()))?;
        let v = match &e {
            Entry::Artifact(a) => a.v,
            Entry::Key(k) => k.v,
        };
        if v != ENTRY_VERSION {
            return Err(Error::MalformedEntry(format!(
                "unsupported entry version {v}"
            )));
        }
        Ok(e)
    }

    /// The canonical bytes of this entry, written field by field in sorted key order (the
    /// same bytes as [`canonical_bytes`] of its JSON value, without building that value).
    ///
    /// # Errors
    /// [`Error::EntryTooLarge`] beyond [`MAX_ENTRY_BYTES`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let out = self.template().with_time(self.time());
        if out.len() > MAX_ENTRY_BYTES {
            return Err(Error::EntryTooLarge(out.len()));
        }
        Ok(out)
    }

    /// The canonical bytes of this entry with a hole where its `time` goes. A sequencer builds
    /// the template where the work can run in parallel, checks its size with
    /// [`EntryTemplate::len_with_time`], and fills in the time (fixed width, see
    /// [`crate::time::TIMESTAMP_LEN`]) when it assigns the index. `self.time` is ignored.
    pub fn template(&self) -> EntryTemplate {
        let mut w = Obj::new();
        match self {
            Entry::Artifact(a) => {
                w.map("attributes", &a.attributes);
                w.map("ci", &a.ci);
                if let Some(id) = &a.identity {
                    let mut o = Obj::new();
                    o.map("context", &id.context);
                    o.str("issuer", &id.issuer);
                    o.str("provider", &id.provider);
                    o.str("subject", &id.subject);
                    w.key("identity");
                    w.out.extend_from_slice(&o.finish());
                }
                w.str("kind", &a.kind);
                w.str("ledger", &a.ledger);
                w.str("name", &a.name);
                w.str("sha256", &a.sha256.to_hex());
                w.str("signer", &a.signer);
                if let Some(size) = a.size {
                    w.raw("size", &size.to_string());
                }
                w.str("status", a.status.as_str());
                w.key("time");
                let head = std::mem::take(&mut w.out);
                w.raw("type", "\"artifact\"");
                w.raw("v", &a.v.to_string());
                EntryTemplate {
                    head,
                    tail: w.finish(),
                }
            }
            Entry::Key(k) => {
                w.str(
                    "action",
                    match k.action {
                        KeyAction::Created => "created",
                        KeyAction::Revoked => "revoked",
                    },
                );
                if let Some(c) = &k.credential {
                    w.str("credential", c);
                }
                w.str("id", &k.id);
                w.str("ledger", &k.ledger);
                w.str("name", &k.name);
                w.str("role", k.role.as_str());
                w.str("signer", &k.signer);
                w.key("time");
                let head = std::mem::take(&mut w.out);
                w.raw("type", "\"key\"");
                w.raw("v", &k.v.to_string());
                EntryTemplate {
                    head,
                    tail: w.finish(),
                }
            }
        }
    }

    /// Who signed it.
    pub fn signer(&self) -> &str {
        match self {
            Entry::Artifact(a) => &a.signer,
            Entry::Key(k) => &k.signer,
        }
    }

    /// When it was sequenced.
    pub fn time(&self) -> &str {
        match self {
            Entry::Artifact(a) => &a.time,
            Entry::Key(k) => &k.time,
        }
    }
}

/// An entry's canonical bytes without its `time` value: see [`Entry::template`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryTemplate {
    /// Everything up to and including `"time":`.
    head: Vec<u8>,
    /// Everything after the time value: `,"type":…,"v":…}`.
    tail: Vec<u8>,
}

impl EntryTemplate {
    /// The length of the entry once a time of `time_len` bytes is filled in.
    pub fn len_with_time(&self, time_len: usize) -> usize {
        // The time is a JSON string: two quotes around characters that need no escaping.
        self.head.len() + time_len + 2 + self.tail.len()
    }

    /// The entry's canonical bytes with `time` (an RFC 3339 timestamp) filled in.
    pub fn with_time(&self, time: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len_with_time(time.len()));
        out.extend_from_slice(&self.head);
        write_json_str(time, &mut out);
        out.extend_from_slice(&self.tail);
        out
    }

    /// The part of the entry's leaf hash that does not depend on the time: SHA-256 over
    /// `0x00 || head`, computed once where the work can run in parallel (most of an entry comes
    /// before its `time`), so that the sequencer hashes only the time and the short tail.
    pub fn leaf_prefix(&self) -> LeafPrefix {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update([0u8]);
        h.update(&self.head);
        LeafPrefix(h)
    }

    /// The RFC 6962 leaf hash ([`crate::leaf_hash`]) of [`EntryTemplate::with_time`]`(time)`,
    /// finished from `prefix`, which must be this template's [`EntryTemplate::leaf_prefix`].
    pub fn leaf_with_time(&self, prefix: &LeafPrefix, time: &str) -> crate::Hash {
        use sha2::Digest;
        let mut h = prefix.0.clone();
        let mut quoted = Vec::with_capacity(time.len() + 2);
        write_json_str(time, &mut quoted);
        h.update(&quoted);
        h.update(&self.tail);
        crate::Hash(h.finalize().into())
    }
}

/// A hash state over the bytes of an entry's leaf before its time: see
/// [`EntryTemplate::leaf_prefix`].
#[derive(Clone)]
pub struct LeafPrefix(sha2::Sha256);

impl fmt::Debug for LeafPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LeafPrefix(..)")
    }
}

/// Writes one JSON object whose keys the caller gives in sorted order.
struct Obj {
    out: Vec<u8>,
    first: bool,
}

impl Obj {
    fn new() -> Self {
        let mut out = Vec::with_capacity(512);
        out.push(b'{');
        Obj { out, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_json_str(k, &mut self.out);
        self.out.push(b':');
    }

    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        write_json_str(v, &mut self.out);
    }

    fn raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.out.extend_from_slice(v.as_bytes());
    }

    fn map(&mut self, k: &str, m: &BTreeMap<String, String>) {
        self.key(k);
        self.out.push(b'{');
        // BTreeMap<String, _> iterates in byte order: already canonical.
        for (i, (mk, mv)) in m.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_json_str(mk, &mut self.out);
            self.out.push(b':');
            write_json_str(mv, &mut self.out);
        }
        self.out.push(b'}');
    }

    fn finish(mut self) -> Vec<u8> {
        self.out.push(b'}');
        self.out
    }
}

fn write_json_str(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

/// Canonical JSON: object keys sorted by UTF-8 bytes, no insignificant whitespace, numbers
/// only integers (what an entry holds). A fraction or an integer beyond 64 bits is a float,
/// and a float has no one text: serde_json's float parsing is not correctly rounded, so the
/// text it writes for one may read back as another (fuzz finding, docs/fuzzing.md), and one
/// value would have two canonical forms.
///
/// # Errors
/// [`Error::MalformedEntry`] for a number that is not an integer; [`Error::EntryTooLarge`]
/// beyond [`MAX_ENTRY_BYTES`].
pub fn canonical_bytes(v: &Value) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(512);
    if !integers_only(v) {
        return Err(Error::MalformedEntry(
            "canonical JSON holds integer numbers only".into(),
        ));
    }
    write_canonical(v, &mut out);
    if out.len() > MAX_ENTRY_BYTES {
        return Err(Error::EntryTooLarge(out.len()));
    }
    Ok(out)
}

/// Whether every number in `v` is an integer that fits 64 bits (`u64` or `i64`).
fn integers_only(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_u64() || n.is_i64(),
        Value::Array(items) => items.iter().all(integers_only),
        Value::Object(map) => map.values().all(integers_only),
        _ => true,
    }
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut pairs: Vec<(&String, &Value)> = map.iter().collect();
            pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, val)) in pairs.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k).expect("writing to a Vec cannot fail");
                out.push(b':');
                write_canonical(val, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar).expect("writing to a Vec cannot fail"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_hashes_finished_from_the_prefix_are_the_leaf_hashes_of_the_bytes() {
        let hex = "ab".repeat(32);
        // Heads of many lengths, so that the time falls at every offset of a SHA-256 block.
        for pad in 0..70 {
            let text = format!(
                r#"{{"attributes":{{"channel":"{}"}},"ci":{{}},"kind":"file","ledger":"default","name":"app.tar.gz","sha256":"{hex}","signer":"k_2f9c0e1a7b3d","size":123,"status":"trusted","time":"2026-11-21T10:00:00.123456Z","type":"artifact","v":1}}"#,
                "x".repeat(pad)
            );
            let entry = Entry::from_bytes(text.as_bytes()).unwrap();
            let template = entry.template();
            let prefix = template.leaf_prefix();
            for time in ["2026-11-21T10:00:00.123456Z", "2030-01-01T00:00:00.000001Z"] {
                let bytes = template.with_time(time);
                assert_eq!(
                    template.leaf_with_time(&prefix, time),
                    crate::leaf_hash(&bytes),
                    "pad {pad}, time {time}"
                );
            }
        }
    }

    #[test]
    fn canonical_json_refuses_floats_which_have_no_one_text() {
        // serde_json reads this integer beyond 64 bits as a float whose shortest text reads
        // back as another float (fuzz/regressions/entry/float-reads-back-as-another).
        for text in [
            "4444442222222220197382801",
            "[1.5]",
            r#"{"a":{"b":-0.0}}"#,
            "1e3",
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert!(
                matches!(canonical_bytes(&v), Err(Error::MalformedEntry(_))),
                "{text}"
            );
        }
        let v: Value =
            serde_json::from_str(r#"{"b":[18446744073709551615,-9223372036854775808],"a":0}"#)
                .unwrap();
        assert_eq!(
            canonical_bytes(&v).unwrap(),
            br#"{"a":0,"b":[18446744073709551615,-9223372036854775808]}"#
        );
    }

    #[test]
    fn canonical_matches_design_example() {
        let e = Entry::Artifact(ArtifactEntry {
            v: 1,
            ledger: "default".into(),
            sha256: Sha256::parse(&"AB".repeat(32)).unwrap(),
            name: "app.tar.gz".into(),
            kind: "file".into(),
            size: Some(123),
            status: ArtifactStatus::Trusted,
            attributes: BTreeMap::new(),
            ci: BTreeMap::new(),
            identity: None,
            signer: "k1".into(),
            time: "2026-11-21T10:00:00.123456Z".into(),
        });
        let bytes = e.to_bytes().unwrap();
        let want = format!(
            "{{\"attributes\":{{}},\"ci\":{{}},\"kind\":\"file\",\"ledger\":\"default\",\"name\":\"app.tar.gz\",\"sha256\":\"{}\",\"signer\":\"k1\",\"size\":123,\"status\":\"trusted\",\"time\":\"2026-11-21T10:00:00.123456Z\",\"type\":\"artifact\",\"v\":1}}",
            "ab".repeat(32)
        );
        assert_eq!(String::from_utf8(bytes.clone()).unwrap(), want);
        assert_eq!(Entry::from_bytes(&bytes).unwrap(), e);
        assert_eq!(
            canonical_bytes(&serde_json::to_value(&e).unwrap()).unwrap(),
            bytes
        );
    }

    #[test]
    fn direct_writer_matches_canonical_value() {
        let mut attributes = BTreeMap::new();
        for k in [
            "z",
            "a",
            "A",
            "a.b",
            "é-not-allowed-but-sorted",
            "quote\"d",
            "nl\n",
        ] {
            attributes.insert(k.to_string(), format!("v<{k}>\u{1F600}\t"));
        }
        let artifact = Entry::Artifact(ArtifactEntry {
            v: 1,
            ledger: "l".into(),
            sha256: Sha256::of(b"x"),
            name: "a \"name\" with \\ and \u{7f}".into(),
            kind: "dir".into(),
            size: None,
            status: ArtifactStatus::Unsupported,
            attributes,
            ci: [("provider".to_string(), "gitlab".to_string())].into(),
            identity: None,
            signer: "k_1".into(),
            time: "2026-11-21T10:00:00.000001Z".into(),
        });
        let key = Entry::Key(KeyEntry {
            v: 1,
            ledger: "l".into(),
            action: KeyAction::Revoked,
            id: "k_2".into(),
            name: "ci \"bot\"".into(),
            role: Role::Admin,
            signer: "admin".into(),
            time: "2026-11-21T10:00:00.000001Z".into(),
            credential: None,
        });
        for e in [artifact, key] {
            let direct = e.to_bytes().unwrap();
            assert_eq!(
                canonical_bytes(&serde_json::to_value(&e).unwrap()).unwrap(),
                direct
            );
            assert_eq!(Entry::from_bytes(&direct).unwrap(), e);
        }
    }

    #[test]
    fn request_rejects_server_fields_and_bad_limits() {
        let h = "a".repeat(64);
        for body in [
            format!(r#"{{"sha256":"{h}","name":"x","signer":"me"}}"#),
            format!(r#"{{"sha256":"{h}","name":"x","time":"now"}}"#),
            format!(r#"{{"sha256":"{h}","name":"x","bogus":1}}"#),
            format!(r#"{{"sha256":"{}","name":"x"}}"#, "a".repeat(63)),
        ] {
            assert!(
                serde_json::from_str::<ArtifactRequest>(&body).is_err(),
                "{body}"
            );
        }
        let mut r: ArtifactRequest =
            serde_json::from_str(&format!(r#"{{"sha256":"{h}","name":"x"}}"#)).unwrap();
        r.validate().unwrap();
        r.ci.insert("token".into(), "secret".into());
        assert!(r.validate().is_err());
        r.ci.clear();
        r.name = "a\nb".into();
        assert!(r.validate().is_err());
    }

    fn identity() -> VerifiedIdentity {
        VerifiedIdentity {
            context: [
                ("repository", "acme/app"),
                ("ref", "refs/heads/main"),
                (
                    "workflow_ref",
                    "acme/app/.github/workflows/release.yml@refs/heads/main",
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            provider: "github".into(),
            subject: "repo:acme/app:ref:refs/heads/main".into(),
        }
    }

    #[test]
    fn identity_sits_between_ci_and_kind_and_round_trips() {
        let id = identity();
        id.validate().unwrap();
        let e = Entry::Artifact(ArtifactEntry {
            v: 1,
            ledger: "default".into(),
            sha256: Sha256::parse(&"AB".repeat(32)).unwrap(),
            name: "app.tar.gz".into(),
            kind: "file".into(),
            size: None,
            status: ArtifactStatus::Trusted,
            attributes: BTreeMap::new(),
            ci: [("repository".to_string(), "acme/spoofed".to_string())].into(),
            signer: id.signer_id(),
            identity: Some(id.clone()),
            time: "2026-11-21T10:00:00.123456Z".into(),
        });
        let bytes = e.to_bytes().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let want = format!(
            "{{\"attributes\":{{}},\"ci\":{{\"repository\":\"acme/spoofed\"}},\"identity\":{{\"context\":{{\"ref\":\"refs/heads/main\",\"repository\":\"acme/app\",\"workflow_ref\":\"acme/app/.github/workflows/release.yml@refs/heads/main\"}},\"issuer\":\"https://token.actions.githubusercontent.com\",\"provider\":\"github\",\"subject\":\"repo:acme/app:ref:refs/heads/main\"}},\"kind\":\"file\",\"ledger\":\"default\",\"name\":\"app.tar.gz\",\"sha256\":\"{}\",\"signer\":\"{}\",\"status\":\"trusted\",\"time\":\"2026-11-21T10:00:00.123456Z\",\"type\":\"artifact\",\"v\":1}}",
            "ab".repeat(32),
            id.signer_id()
        );
        assert_eq!(text, want);
        assert_eq!(Entry::from_bytes(&bytes).unwrap(), e);
        assert_eq!(
            canonical_bytes(&serde_json::to_value(&e).unwrap()).unwrap(),
            bytes
        );
        // Without an identity, not a byte of it: entries written before it keep their bytes.
        let Entry::Artifact(mut a) = e else {
            unreachable!()
        };
        a.identity = None;
        let plain = Entry::Artifact(a).to_bytes().unwrap();
        assert!(!String::from_utf8(plain).unwrap().contains("identity"));
    }

    #[test]
    fn identity_limits() {
        let mut cases: Vec<(VerifiedIdentity, &str)> = Vec::new();
        let mut i = identity();
        i.issuer = "http://issuer.example".into();
        cases.push((i, "https://"));
        let mut i = identity();
        i.subject = String::new();
        cases.push((i, "subject"));
        let mut i = identity();
        i.subject = "a\nb".into();
        cases.push((i, "subject"));
        let mut i = identity();
        i.subject = "s".repeat(MAX_IDENTITY_BYTES + 1);
        cases.push((i, "subject"));
        let mut i = identity();
        i.provider = "GitHub".into();
        cases.push((i, "provider"));
        let mut i = identity();
        i.context.insert("token".into(), "secret".into());
        cases.push((i, "token"));
        let mut i = identity();
        i.context.insert("provider".into(), "github".into());
        cases.push((i, "provider"));
        let mut i = identity();
        i.context
            .insert("commit".into(), "c".repeat(MAX_VALUE_BYTES + 1));
        cases.push((i, "commit"));
        let mut i = identity();
        i.context.insert("run_id".into(), String::new());
        cases.push((i, "run_id"));
        for (i, needle) in cases {
            let err = i.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
        let mut i = identity();
        i.context.insert("run_attempt".into(), "2".into());
        i.context.insert(
            "run_url".into(),
            "https://github.com/acme/app/actions/runs/1".into(),
        );
        i.validate().unwrap();
    }

    #[test]
    fn requests_cannot_carry_an_identity() {
        let h = "a".repeat(64);
        let body = format!(
            r#"{{"sha256":"{h}","name":"x","identity":{{"issuer":"https://i","provider":"github","subject":"s","context":{{}}}}}}"#
        );
        let err = serde_json::from_str::<ArtifactRequest>(&body).unwrap_err();
        assert!(err.to_string().contains("identity"), "{err}");
    }

    #[test]
    fn oidc_signer_ids() {
        // Pinned (computed independently with Python's hashlib and base64.b32encode).
        assert_eq!(
            oidc_signer_id("https://issuer.example", "subject"),
            "oidc:7csxohlh4wzjclcs4qsoyrbaz24giuul"
        );
        assert_ne!(
            oidc_signer_id("https://a", "bc"),
            oidc_signer_id("https://ab", "c")
        );
        for (input, want) in [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(base32(input.as_bytes()), want);
        }
    }
}
