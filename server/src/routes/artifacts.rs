//! Authenticate (one hash or many) and the history of a hash.

use axum::extract::State;
use axum::http::request::Parts;
use axum::Json;
use notarium_core::api::{
    AuthenticateRequest, Authentication, BatchAuthentication, ErrorBody, HashResult, Page,
    PolicyOutcome,
};
use notarium_core::{Entry, Sha256, SignerPolicy};

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

/// The signer policy of the `signer_*` query parameters.
fn policy_params(params: &mut Params) -> ApiResult<SignerPolicy> {
    Ok(SignerPolicy {
        issuer: params.opt("signer_issuer")?,
        repository: params.opt("signer_repository")?,
        workflow: params.opt("signer_workflow")?,
        git_ref: params.opt("signer_ref")?,
    })
}

/// Evaluates `policy` on the deciding entry of `answer`, for callers that do not verify.
fn evaluate(policy: &SignerPolicy, answer: &mut Authentication) -> ApiResult<()> {
    let Some(receipt) = answer.receipt.as_ref().filter(|_| !policy.is_empty()) else {
        return Ok(());
    };
    let entry = receipt
        .parse_entry()
        .map_err(|e| ApiError::Internal(format!("entry {}: {e}", receipt.index)))?;
    let Entry::Artifact(entry) = entry else {
        return Err(ApiError::Internal(format!(
            "entry {} decides an artifact but is no artifact entry",
            receipt.index
        )));
    };
    answer.signer_policy = Some(PolicyOutcome::of(policy.check(&entry)));
    Ok(())
}

/// Authenticates an artifact by its SHA-256: the status decided by its latest entry (from
/// the given signers), with the receipt of that entry. `unknown` is a 200. With `signer_*`
/// parameters, `signer_policy` says whether the deciding entry's verified identity matches
/// (the status is unchanged: clients evaluate the policy on the entry they verify).
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}/artifacts/{sha256}", tag = "artifacts",
    params(
        ("ledger" = String, Path, description = "Ledger name"),
        ("sha256" = String, Path, description = "64 hex characters"),
        ("signer" = Option<String>, Query, description = "Only these signers decide (repeat or comma-separate)"),
        ("signer_issuer" = Option<String>, Query, description = "Signer policy: the verified issuer of the deciding entry"),
        ("signer_repository" = Option<String>, Query, description = "Signer policy: its verified repository"),
        ("signer_workflow" = Option<String>, Query, description = "Signer policy: its verified workflow"),
        ("signer_ref" = Option<String>, Query, description = "Signer policy: its verified Git ref"),
    ),
    responses((status = 200, body = Authentication), (status = "4XX", body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn authenticate(
    access: Access<Read>,
    PathSha256(sha256): PathSha256,
    mut params: Params,
) -> ApiResult<Json<Authentication>> {
    let signers = params.signers();
    let policy = policy_params(&mut params)?;
    params.finish()?;
    let mut answer = access
        .handle
        .read(move |ledger| ledger.authenticate(&sha256, &signers))
        .await?;
    evaluate(&policy, &mut answer)?;
    Ok(Json(answer))
}

/// Authenticates many hashes at once, all against one checkpoint; with `fresh`, against the
/// latest checkpoint signed again with the current time, for status proofs kept for offline
/// verification.
#[utoipa::path(post, path = "/api/v1/ledgers/{ledger}/authenticate", tag = "artifacts",
    params(("ledger" = String, Path, description = "Ledger name")),
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
    let policy = req.policy();
    let signers = req.signer.map(|s| s.into_vec()).unwrap_or_default();
    let (hashes, fresh) = (req.sha256, req.fresh);
    let (checkpoint, answers, hashes) = access
        .handle
        .read(move |ledger| {
            let (cp, answers) = if fresh {
                ledger.authenticate_attested(&hashes, &signers)?
            } else {
                ledger.authenticate_many(&hashes, &signers)?
            };
            Ok::<_, notarium_ledger::Error>((cp, answers, hashes))
        })
        .await?;
    let results = hashes
        .into_iter()
        .zip(answers)
        .map(|(sha256, mut answer)| {
            // The batch names its checkpoint once, for every result.
            answer.checkpoint = None;
            evaluate(&policy, &mut answer)?;
            Ok(HashResult { sha256, answer })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(BatchAuthentication {
        checkpoint: checkpoint.note().to_owned(),
        results,
    }))
}

/// Every entry for a hash, oldest first, each with a receipt in one checkpoint.
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}/artifacts/{sha256}/history", tag = "artifacts",
    params(
        ("ledger" = String, Path, description = "Ledger name"),
        ("sha256" = String, Path, description = "64 hex characters"),
        ("after" = Option<u64>, Query, description = "Cursor: only entries with a greater index"),
        ("limit" = Option<u64>, Query, description = "Page size, 1-1000 (default 100)"),
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
