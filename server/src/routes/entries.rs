//! Notarize (one or a batch), read one entry, search.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use notarium_core::api::{BatchReceipts, BatchRequest, ErrorBody, Page};
use notarium_core::{ArtifactRequest, ArtifactStatus, Receipt, Sha256, Timestamp};
use notarium_ledger::{NewEntry, SearchQuery};

use crate::error::{ApiError, ApiResult};
use crate::extract::{bad_param, path_param, Access, ApiJson, Params, Read, Write};
use crate::state::AppState;

/// Notarizes one artifact, or records a status change (`status: untrusted | unsupported`).
/// Answered once durable; the receipt proves it is in the ledger. With a CI token, the entry's
/// signer is the token's identity and the server records what it verified as `identity`.
#[utoipa::path(post, path = "/api/v1/ledgers/{ledger}/entries", tag = "entries",
    params(("ledger" = String, Path, description = "Ledger name")),
    request_body = ArtifactRequest,
    responses((status = 201, body = Receipt), (status = "4XX", body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn notarize(
    access: Access<Write>,
    ApiJson(request): ApiJson<ArtifactRequest>,
) -> ApiResult<(StatusCode, Json<Receipt>)> {
    request.validate()?;
    let entry = NewEntry::Artifact {
        request,
        signer: access.signer,
        identity: access.identity,
    };
    let receipt = access.handle.append(vec![entry]).await?.remove(0);
    Ok((StatusCode::CREATED, Json(receipt)))
}

/// Notarizes up to 1,000 artifacts at once, all-or-nothing.
#[utoipa::path(post, path = "/api/v1/ledgers/{ledger}/entries/batch", tag = "entries",
    params(("ledger" = String, Path, description = "Ledger name")),
    request_body = BatchRequest,
    responses((status = 201, body = BatchReceipts), (status = "4XX", body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn notarize_batch(
    access: Access<Write>,
    State(state): State<AppState>,
    ApiJson(batch): ApiJson<BatchRequest>,
) -> ApiResult<(StatusCode, Json<BatchReceipts>)> {
    let max = state.config().limits.batch_entries;
    if batch.entries.is_empty() || batch.entries.len() > max {
        return Err(ApiError::Invalid(format!(
            "entries: a batch holds 1 to {max} entries, got {}",
            batch.entries.len()
        )));
    }
    for (i, request) in batch.entries.iter().enumerate() {
        request
            .validate()
            .map_err(|e| ApiError::Invalid(format!("entries[{i}]: {e}")))?;
    }
    let entries = batch
        .entries
        .into_iter()
        .map(|request| NewEntry::Artifact {
            request,
            signer: access.signer.clone(),
            identity: access.identity.clone(),
        })
        .collect();
    let receipts = access.handle.append(entries).await?;
    Ok((StatusCode::CREATED, Json(BatchReceipts { receipts })))
}

/// The index of a `GET /entries/{index}` path.
pub struct EntryIndex(u64);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for EntryIndex {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let raw = path_param(parts, "index").await?;
        raw.parse::<u64>()
            .map(EntryIndex)
            .map_err(|_| ApiError::bad_request("invalid_path", "an entry index is a whole number"))
    }
}

/// One entry, with its receipt in the latest checkpoint.
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}/entries/{index}", tag = "entries",
    params(("ledger" = String, Path, description = "Ledger name"), ("index" = u64, Path, description = "Entry index")),
    responses((status = 200, body = Receipt), (status = "4XX", body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn get(access: Access<Read>, EntryIndex(index): EntryIndex) -> ApiResult<Json<Receipt>> {
    Ok(Json(access.handle.read(move |l| l.get(index)).await?))
}

/// Searches entries, oldest first; pass `next` back as `after` for the next page.
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}/entries", tag = "entries",
    params(
        ("ledger" = String, Path, description = "Ledger name"),
        ("name" = Option<String>, Query, description = "Exact artifact name"),
        ("sha256" = Option<String>, Query, description = "Artifact SHA-256, 64 hex characters"),
        ("signer" = Option<String>, Query, description = "Key id of the signer"),
        ("status" = Option<String>, Query, description = "trusted, untrusted or unsupported"),
        ("attr" = Option<String>, Query, description = "Attribute filter key:value"),
        ("since" = Option<String>, Query, description = "Sequenced at or after (YYYY-MM-DD or RFC 3339 UTC)"),
        ("until" = Option<String>, Query, description = "Sequenced before"),
        ("after" = Option<u64>, Query, description = "Cursor: only entries with a greater index"),
        ("limit" = Option<u64>, Query, description = "Page size, 1-1000 (default 100)"),
    ),
    responses((status = 200, body = Page), (status = "4XX", body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn search(access: Access<Read>, mut params: Params) -> ApiResult<Json<Page>> {
    let mut q = SearchQuery {
        sha256: params
            .opt("sha256")?
            .map(|s| Sha256::parse(&s).map_err(|e| bad_param("sha256", e)))
            .transpose()?,
        name: params.opt("name")?,
        signer: params.opt("signer")?,
        status: params
            .opt("status")?
            .map(|s| ArtifactStatus::parse(&s).map_err(|e| bad_param("status", e)))
            .transpose()?,
        since: params
            .opt("since")?
            .map(|s| Timestamp::parse(&s).map_err(|e| bad_param("since", e)))
            .transpose()?,
        until: params
            .opt("until")?
            .map(|s| Timestamp::parse(&s).map_err(|e| bad_param("until", e)))
            .transpose()?,
        after: params.parse("after")?,
        limit: params.page_limit()?,
        ..SearchQuery::default()
    };
    if let Some(attr) = params.opt("attr")? {
        let (k, v) = attr
            .split_once(':')
            .ok_or_else(|| bad_param("attr", "expected key:value"))?;
        q.attr = Some((k.to_owned(), v.to_owned()));
    }
    params.finish()?;
    Ok(Json(access.handle.read(move |l| l.search(&q)).await?))
}
