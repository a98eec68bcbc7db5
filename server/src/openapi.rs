//! `/openapi.json`: generated from the same route list as the router ([`crate::routes::router`]),
//! so the description cannot list a route the server lacks or miss one it has.
//!
//! The types below describe shapes defined in `notarium-core` and `notarium-ledger`, which
//! know nothing of OpenAPI; they are documentation only and mirror those types field by field.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi};
use utoipa::ToSchema;

/// A receipt: an entry with everything needed to verify it offline (DESIGN.md §3).
#[derive(Serialize, ToSchema)]
#[schema(as = Receipt)]
pub struct ReceiptDoc {
    /// The ledger's name.
    pub ledger: String,
    /// The entry's index.
    pub index: u64,
    /// The entry as JSON (equal to the parsed `leaf`).
    #[schema(value_type = Object)]
    pub entry: serde_json::Value,
    /// Base64 of the exact entry bytes (the leaf).
    pub leaf: String,
    /// `SHA256(0x00 || leaf)`, hex.
    pub leaf_hash: String,
    /// The signed checkpoint (C2SP signed note) covering the entry.
    pub checkpoint: String,
    /// Inclusion proof of `index` in the checkpoint's tree, hex, the leaf's sibling first.
    pub inclusion_proof: Vec<String>,
    /// The ledger's verifier key (a hint: clients verify against their pinned key).
    pub verifier_key: String,
}

/// A notarization or status change as a caller sends it. Unknown fields, and the fields the
/// server sets (`signer`, `time`, `ledger`, `type`, `v`), are rejected.
#[derive(Serialize, ToSchema)]
#[schema(as = ArtifactRequest)]
pub struct ArtifactRequestDoc {
    /// SHA-256 of the artifact, 64 hex characters.
    #[schema(example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
    pub sha256: String,
    /// The artifact's name (1–1,024 bytes).
    #[schema(example = "app.tar.gz")]
    pub name: String,
    /// Size in bytes.
    pub size: Option<u64>,
    /// `file` (default), `dir`, `container`, … (1–32 of `a-z 0-9 - _ .`).
    pub kind: Option<String>,
    /// `trusted` (default), `untrusted` or `unsupported`.
    pub status: Option<String>,
    /// Up to 64 string attributes.
    pub attributes: Option<BTreeMap<String, String>>,
    /// CI context: provider, repository, commit, ref, run_id, run_url, pipeline_id,
    /// pipeline_url, job, workflow, actor, server_url.
    pub ci: Option<BTreeMap<String, String>>,
}

/// The answer of authenticate.
#[derive(Serialize, ToSchema)]
#[schema(as = Authentication)]
pub struct AuthenticationDoc {
    /// `trusted`, `untrusted`, `unsupported`, `revoked` or `unknown`.
    pub status: String,
    /// The latest entry that decided the status (absent for `unknown`).
    pub receipt: Option<ReceiptDoc>,
    /// For `revoked`: the `key` entry that revoked the deciding entry's signer.
    pub revocation: Option<ReceiptDoc>,
}

/// A page of entries, each with a receipt in one checkpoint.
#[derive(Serialize, ToSchema)]
#[schema(as = Page)]
pub struct PageDoc {
    /// The signed checkpoint every receipt is proven against.
    pub checkpoint: String,
    /// Entries, oldest first.
    pub entries: Vec<ReceiptDoc>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<u64>,
}

/// An API key (never its secret).
#[derive(Serialize, ToSchema)]
#[schema(as = Key)]
pub struct KeyDoc {
    /// Key id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `read`, `write` or `admin`.
    pub role: String,
    /// Index of its `created` entry.
    pub created_index: u64,
    /// Index of its `revoked` entry, if revoked.
    pub revoked_index: Option<u64>,
}

/// An audit report (`notarium-audit-report/v1`): verify it offline with
/// `notarium verify-report`.
#[derive(Serialize, ToSchema)]
#[schema(as = AuditReport)]
pub struct AuditReportDoc {
    /// `notarium-audit-report/v1`.
    pub format: String,
    /// The ledger's name.
    pub ledger: String,
    /// The ledger's checkpoint origin.
    pub origin: String,
    /// The ledger's verifier key (a hint: verify against a pinned key).
    pub verifier_key: String,
    /// When the report was built.
    pub generated_at: String,
    /// The time range and the index range `[first_index, end_index)` it covers.
    pub range: ReportRangeDoc,
    /// The most entries a report may hold on this server.
    pub max_entries: u64,
    /// The signed checkpoint of size `first_index`.
    pub from: String,
    /// The signed checkpoint of size `end_index`.
    pub to: String,
    /// Consistency proof from `from` to `to`, hex.
    pub consistency_proof: Vec<String>,
    /// Every entry of the range, in order, each proven against `to`.
    pub entries: Vec<ReceiptDoc>,
    /// The entry before the range (sequenced before `since`), proven against `to`.
    pub before: Option<ReceiptDoc>,
    /// The entry after the range (sequenced at or after `until`), proven in a later checkpoint.
    pub after: Option<ReceiptDoc>,
    /// Consistency proof from `to` to the checkpoint of `after`, hex.
    pub after_consistency_proof: Option<Vec<String>>,
    /// Counts by kind.
    pub summary: ReportSummaryDoc,
}

/// The range of an audit report.
#[derive(Serialize, ToSchema)]
#[schema(as = ReportRange)]
pub struct ReportRangeDoc {
    /// At or after this time (absent: from the first entry).
    pub since: Option<String>,
    /// Before this time (absent: up to the end checkpoint).
    pub until: Option<String>,
    /// First index in the range.
    pub first_index: u64,
    /// One past the last index in the range.
    pub end_index: u64,
}

/// What a report's entries record.
#[derive(Serialize, ToSchema)]
#[schema(as = ReportSummary)]
pub struct ReportSummaryDoc {
    /// All entries.
    pub entries: u64,
    /// Artifact entries recorded as trusted.
    pub notarizations: u64,
    /// Artifact entries recorded as untrusted or unsupported.
    pub status_changes: u64,
    /// API keys created.
    pub keys_created: u64,
    /// API keys revoked.
    pub revocations: u64,
}

/// The OpenAPI description of every route.
pub fn spec() -> OpenApi {
    let (_, mut api) = crate::routes::router().split_for_parts();
    api.info = InfoBuilder::new()
        .title("Notarium")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Notarize build outputs in an append-only, verifiable ledger and authenticate them \
             with proofs. Errors are always {\"error\":{\"code\",\"message\"}}.",
        ))
        .build();
    // axum writes a catch-all as `{*tile}`; OpenAPI names it `{tile}`.
    api.paths.paths = std::mem::take(&mut api.paths.paths)
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    let components = api.components.get_or_insert_with(Default::default);
    for name in ["bearer", "admin_token"] {
        components.add_security_scheme(
            name,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
    api
}

/// [`spec`] as JSON, built once.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        spec()
            .to_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    })
}
