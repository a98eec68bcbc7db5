//! The HTTP wire contract (docs/http-api.md), defined once: the JSON shapes `notariumd` sends and
//! reads, `/openapi.json` describes, and `notarium` parses. Serde shapes and limits only — no
//! HTTP, no I/O, nothing verified: every answer here is a claim until the client has checked its
//! proofs (docs/verification.md).
//!
//! With the `openapi` feature each type also derives `utoipa::ToSchema`, so that the server's
//! OpenAPI description is generated from these very types instead of hand-written mirrors.

use serde::{Deserialize, Serialize};

use crate::entry::{ArtifactRequest, Role, Status};
use crate::hash::{Hash, Sha256};
use crate::index::IndexProof;
use crate::name::LedgerName;
use crate::policy::SignerPolicy;
use crate::receipt::Receipt;

/// The limits of the protocol: the largest values a server may be configured with. A server
/// may be configured lower and says so in [`Limits`], which clients read instead of assuming.
pub mod limits {
    /// Most entries in one batch notarization.
    pub const BATCH_MAX_ENTRIES: usize = 1000;
    /// Most hashes in one batch authentication.
    pub const AUTHENTICATE_MAX_HASHES: usize = 1000;
    /// Largest page of search and history.
    pub const PAGE_MAX: usize = 1000;
    /// The page size when none is asked for.
    pub const PAGE_DEFAULT: usize = 100;
    /// Most signers in one authenticate filter.
    pub const SIGNERS_MAX: usize = 32;
    /// Most entries in one audit report (a report is one JSON document, built in memory).
    pub const REPORT_MAX_ENTRIES: u64 = 10_000;
}

/// The body of every error answer: `{"error":{"code":"<snake_case>","message":"<for humans>"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// A stable snake_case code to act on.
    pub code: String,
    /// A message for humans.
    pub message: String,
}

/// The limits a server enforces for one ledger (at most those of [`limits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Limits {
    /// Most entries in one `POST /entries/batch`.
    pub batch_max_entries: usize,
    /// Most hashes in one `POST /authenticate`.
    pub authenticate_max_hashes: usize,
    /// Largest page of search and history.
    pub page_max: usize,
}

impl Default for Limits {
    /// The protocol's maximum values: what a server that does not say otherwise accepts.
    fn default() -> Self {
        Limits {
            batch_max_entries: limits::BATCH_MAX_ENTRIES,
            authenticate_max_hashes: limits::AUTHENTICATE_MAX_HASHES,
            page_max: limits::PAGE_MAX,
        }
    }
}

/// `GET /api/v1/ledgers/{ledger}`: a ledger's description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerInfo {
    /// Name.
    pub name: String,
    /// Checkpoint origin, `<origin prefix>/<name>`.
    pub origin: String,
    /// The key that verifies its checkpoints (C2SP signed-note verifier key).
    pub verifier_key: String,
    /// Entries in the ledger (latest checkpoint's tree size).
    pub size: u64,
    /// Whether reads need no key.
    pub public_read: bool,
    /// What this server accepts in one request (absent from servers before 0.2: the protocol
    /// maxima then apply).
    #[serde(default)]
    pub limits: Limits,
}

/// `GET /api/v1/ledgers`: every ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerList {
    /// By name.
    pub ledgers: Vec<LedgerInfo>,
}

/// `POST /api/v1/ledgers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateLedger {
    /// 1–64 of `a-z 0-9 - _`, starting with a letter or digit.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "releases",
        pattern = "^[a-z0-9][a-z0-9_-]{0,63}$"))]
    pub name: LedgerName,
    /// Reads (authenticate, history, proofs, tiles) need no key.
    #[serde(default)]
    pub public_read: bool,
}

/// `POST /api/v1/ledgers/{ledger}/keys`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// A name for humans, e.g. the CI project using it (1–128 characters).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub name: String,
    /// `read`, `write` or `admin`.
    pub role: Role,
}

/// A new API key. `key` is the bearer secret: it is shown here once and stored only as a hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewKey {
    /// Public key id; the `signer` of entries made with it.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The secret bearer token.
    pub key: String,
    /// The receipt of the `key` entry that records the creation.
    pub receipt: Receipt,
}

/// An API key as a ledger records it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Key {
    /// Public id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Index of its `created` entry.
    pub created_index: u64,
    /// Index of its `revoked` entry, if revoked.
    pub revoked_index: Option<u64>,
}

/// `GET /api/v1/ledgers/{ledger}/keys`: every API key of a ledger, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyList {
    /// Keys.
    pub keys: Vec<Key>,
}

/// `DELETE /api/v1/ledgers/{ledger}/keys/{id}`: a revoked key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokedKey {
    /// Key id.
    pub id: String,
    /// The receipt of the `key` entry that records the revocation.
    pub receipt: Receipt,
}

/// `POST /api/v1/ledgers/{ledger}/entries/batch`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to [`Limits::batch_max_entries`] notarizations or status changes, appended
    /// all-or-nothing.
    pub entries: Vec<ArtifactRequest>,
}

/// The receipts of a batch, in request order, all covered by one checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchReceipts {
    /// Receipts.
    pub receipts: Vec<Receipt>,
}

/// The answer to "what is the status of this hash?" (`GET /artifacts/{sha256}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Authentication {
    /// `trusted`, `untrusted`, `unsupported`, `revoked` or `unknown`.
    pub status: Status,
    /// The signed checkpoint the answer is proven against (a single authentication; a batch
    /// gives it once for all results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// The latest entry that decided the status (absent for `unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// For `revoked`: the `key` entry that revoked the deciding entry's signer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<Receipt>,
    /// When a signer policy was asked for (`signer_issuer`, `signer_repository`,
    /// `signer_workflow`, `signer_ref`) and an entry decides: whether that entry's verified
    /// identity matches it. The server's evaluation, for callers that do not verify; clients
    /// evaluate the policy on the entry they verified instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_policy: Option<PolicyOutcome>,
    /// The proof that the answer is complete: that the deciding entry is the latest one (from
    /// the signers asked for), that the signer's latest key entry is the one shown, or that
    /// no entry about the hash exists (docs/status-index.md). Absent from servers before 0.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<StatusProof>,
}

/// What proves a status answer complete, against the index root its checkpoint commits to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StatusProof {
    /// The entries about the artifact: the last of them, from the deciding entry on (all of
    /// them when no entry decides).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub index: IndexProof,
    /// The entries about the artifact after the deciding one — by signers not asked for — in
    /// order, each proven against the checkpoint (all of them when no entry decides).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Receipt>,
    /// For a deciding entry: the entries about its signer, the latest of them revealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub signer: Option<IndexProof>,
    /// When the signer's latest entry is its creation (so it is not revoked): that entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_created: Option<Receipt>,
}

/// Whether the deciding entry matches the signer policy asked for
/// ([`crate::policy::SignerPolicy`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyOutcome {
    /// True when every part of the policy matches the entry's verified identity.
    pub matched: bool,
    /// What does not match, in words (empty when `matched`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<String>,
}

impl PolicyOutcome {
    /// The outcome of [`SignerPolicy::check`].
    pub fn of(result: Result<(), Vec<String>>) -> Self {
        match result {
            Ok(()) => PolicyOutcome {
                matched: true,
                mismatches: Vec::new(),
            },
            Err(mismatches) => PolicyOutcome {
                matched: false,
                mismatches,
            },
        }
    }
}

/// One signer or several.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Signers {
    /// One key id.
    One(String),
    /// Several key ids.
    Many(Vec<String>),
}

impl Signers {
    /// The key ids.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Signers::One(s) => vec![s],
            Signers::Many(v) => v,
        }
    }
}

/// `POST /api/v1/ledgers/{ledger}/authenticate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AuthenticateRequest {
    /// 1 to [`Limits::authenticate_max_hashes`] SHA-256 hashes.
    pub sha256: Vec<Sha256>,
    /// Only entries by these signers (key ids) decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<Signers>,
    /// Answer against a fresh attestation of the latest tree: its checkpoint signed again with
    /// the current time (a `notarium-time/v1` line), so that the answers say how recent they
    /// are when verified offline later (docs/status-index.md, "Fresh status").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fresh: bool,
    /// Signer policy: the deciding entry's verified issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_issuer: Option<String>,
    /// Signer policy: the deciding entry's verified repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_repository: Option<String>,
    /// Signer policy: the deciding entry's verified workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_workflow: Option<String>,
    /// Signer policy: the deciding entry's verified Git ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_ref: Option<String>,
}

impl AuthenticateRequest {
    /// The signer policy of the request's `signer_*` fields.
    pub fn policy(&self) -> SignerPolicy {
        SignerPolicy {
            issuer: self.signer_issuer.clone(),
            repository: self.signer_repository.clone(),
            workflow: self.signer_workflow.clone(),
            git_ref: self.signer_ref.clone(),
        }
    }
}

/// The status of one hash of a batch authentication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HashResult {
    /// The hash asked about.
    pub sha256: Sha256,
    /// Status, receipt and revocation, as for a single hash.
    #[serde(flatten)]
    pub answer: Authentication,
}

/// Every hash of a batch authentication, answered against one checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchAuthentication {
    /// The signed checkpoint every receipt is proven against.
    pub checkpoint: String,
    /// In request order.
    pub results: Vec<HashResult>,
}

/// One page of history or search: entries oldest first, each with a receipt in one checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page {
    /// The signed checkpoint every receipt is proven against.
    pub checkpoint: String,
    /// The entries, oldest first.
    pub entries: Vec<Receipt>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
    /// For a history: every entry about the hash up to the checkpoint, proven complete
    /// against its index root (the pages together must be exactly these).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub index_proof: Option<IndexProof>,
}

/// `GET /proof/inclusion`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InclusionProof {
    /// Leaf index.
    pub index: u64,
    /// Tree size the proof is for.
    pub size: u64,
    /// Hex hashes, the leaf's sibling first (RFC 6962 §2.1.1).
    pub proof: Vec<Hash>,
}

/// `GET /proof/consistency`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsistencyProof {
    /// The smaller tree size.
    pub from: u64,
    /// The larger tree size.
    pub to: u64,
    /// Hex hashes (RFC 6962 §2.1.2).
    pub proof: Vec<Hash>,
}

/// `GET /api/v1/whoami`: the caller behind the `Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhoAmI {
    /// True for the server admin token, which may manage every ledger.
    pub admin_token: bool,
    /// `read`, `write` or `admin` (the admin token: `admin`).
    pub role: Role,
    /// The one ledger an API key is scoped to; absent for the admin token.
    pub ledger: Option<String>,
    /// The API key's id (the `signer` of its entries); absent for the admin token.
    pub key_id: Option<String>,
}

/// `GET /api/v1/ledgers/{ledger}/stats`: a ledger's activity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerStats {
    /// The ledger's name.
    pub ledger: String,
    /// Entries in the latest checkpoint.
    pub size: u64,
    /// The latest signed checkpoint.
    pub checkpoint: String,
    /// When the latest entry was sequenced (its checkpoint was signed in the same commit);
    /// absent for an empty ledger.
    pub latest_entry_time: Option<String>,
    /// The window the rate is measured over, in seconds.
    pub window_seconds: u64,
    /// Entries sequenced within the window.
    pub entries_in_window: u64,
    /// `entries_in_window` per minute.
    pub per_minute: f64,
}

/// `/healthz` and `/readyz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok` or `ready`.
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_info_without_limits_means_the_protocol_maxima() {
        let old = r#"{"name":"a","origin":"o/a","verifier_key":"k","size":3,"public_read":false}"#;
        let info: LedgerInfo = serde_json::from_str(old).unwrap();
        assert_eq!(info.limits, Limits::default());
    }

    #[test]
    fn batch_results_flatten_the_single_answer() {
        let r = HashResult {
            sha256: Sha256::of(b"x"),
            answer: Authentication {
                status: Status::Unknown,
                checkpoint: None,
                receipt: None,
                revocation: None,
                proof: None,
                signer_policy: None,
            },
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["status"], "unknown");
        assert!(v.get("answer").is_none());
        assert_eq!(serde_json::from_value::<HashResult>(v).unwrap(), r);
    }
}
