//! Authenticate (one hash or many) and the history of a hash.

use axum::extract::State;
use axum::http::request::Parts;
use axum::Json;
use notarium_core::api::{
    AuthenticateRequest, Authentication, BatchAuthentication, ErrorBody, HashResult, Page,
};
use notarium_core::Sha256;

use crate::error::{ApiError, ApiResult};
use crate::extract::{path_param, Access, ApiJson, Params, Read};
use crate::state::AppState;

/// The hash of an `/artifacts/{sha256}` path.
pub struct PathSha256(Sha256);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathSha256 {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let raw = path_param(parts, "sha256").await?;
        Sha256::parse(&raw)
            .map(PathSha256)
            .map_err(|e| ApiError::bad_request("invalid_sha256", e.to_string()))
    }
}

/// Authenticates an artifact by its SHA-256: the status decided by its latest entry (from
/// the given signers), with the receipt of that entry. `unknown` is a 200.
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}/artifacts/{sha256}", tag = "artifacts",
    params(
        ("ledger" = String, Path, description = "Ledger name", pattern = "^[a-z0-9][a-z0-9_-]{0,63}$"),
        ("sha256" = String, Path, description = "64 hex characters", pattern = "^[0-9a-fA-F]{64}$"),
        ("signer" = Option<String>, Query, description = "Only these signers decide (repeat or comma-separate)"),
    ),
    responses((status = 200, body = Authentication), (status = "4XX", body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn authenticate(
    access: Access<Read>,
    PathSha256(sha256): PathSha256,
    mut params: Params,
) -> ApiResult<Json<Authentication>> {
    let signers = params.signers();
    params.finish()?;
    Ok(Json(
        access
            .handle
            .read(move |ledger| ledger.authenticate(&sha256, &signers))
            .await?,
    ))
}

/// Authenticates many hashes at once, all against one checkpoint.
#[utoipa::path(post, path = "/api/v1/ledgers/{ledger}/authenticate", tag = "artifacts",
    params(("ledger" = String, Path, description = "Ledger name", pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")),
    request_body = AuthenticateRequest,
    responses((status = 200, body = BatchAuthentication), (status = "4XX", body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn authenticate_many(
    access: Access<Read>,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<AuthenticateRequest>,
) -> ApiResult<Json<BatchAuthentication>> {
    let max = state.config().limits.authenticate_hashes;
    if req.sha256.is_empty() || req.sha256.len() > max {
        return Err(ApiError::Invalid(format!(
            "sha256: give 1 to {max} hashes, got {}",
            req.sha256.len()
        )));
    }
    let signers = req.signer.map(|s| s.into_vec()).unwrap_or_default();
    let hashes = req.sha256;
    let (checkpoint, answers, hashes) = access
        .handle
        .read(move |ledger| {
            let (cp, answers) = ledger.authenticate_many(&hashes, &signers)?;
            Ok::<_, notarium_ledger::Error>((cp, answers, hashes))
        })
        .await?;
    let results = hashes
        .into_iter()
        .zip(answers)
        .map(|(sha256, answer)| HashResult { sha256, answer })
        .collect();
    Ok(Json(BatchAuthentication {
        checkpoint: checkpoint.note().to_owned(),
        results,
    }))
}

/// Every entry for a hash, oldest first, each with a receipt in one checkpoint.
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}/artifacts/{sha256}/history", tag = "artifacts",
    params(
        ("ledger" = String, Path, description = "Ledger name", pattern = "^[a-z0-9][a-z0-9_-]{0,63}$"),
        ("sha256" = String, Path, description = "64 hex characters", pattern = "^[0-9a-fA-F]{64}$"),
        ("after" = Option<u64>, Query, description = "Cursor: only entries with a greater index"),
        ("limit" = Option<u64>, Query, description = "Page size, 1-1000 (default 100)", minimum = 1, maximum = 1000),
    ),
    responses((status = 200, body = Page), (status = "4XX", body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn history(
    access: Access<Read>,
    PathSha256(sha256): PathSha256,
    mut params: Params,
) -> ApiResult<Json<Page>> {
    let after = params.parse("after")?;
    let limit = params.page_limit()?;
    params.finish()?;
    Ok(Json(
        access
            .handle
            .read(move |l| l.history(&sha256, after, limit))
            .await?,
    ))
}
