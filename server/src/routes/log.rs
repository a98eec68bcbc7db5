//! Checkpoints, proofs and the C2SP tlog-tiles read paths (<https://c2sp.org/tlog-tiles>),
//! byte-exact, below `/api/v1/ledgers/{ledger}/log/`.

use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use notarium_core::api::{ConsistencyProof, ErrorBody, InclusionProof};
use notarium_core::tiles::{TileKind, TilePath};

use crate::error::{ApiError, ApiResult};
use crate::extract::{path_param, Access, Params, Read};

fn text_note(note: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        note.to_owned(),
    )
        .into_response()
}

/// The latest signed checkpoint (C2SP tlog-checkpoint), as text.
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}/checkpoint", tag = "log",
    params(("ledger" = String, Path, description = "Ledger name", pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")),
    responses((status = 200, content_type = "text/plain", body = String), (status = "4XX", body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn checkpoint(access: Access<Read>) -> Response {
    text_note(access.handle.checkpoint().note())
}

/// The same checkpoint at the C2SP tlog-tiles location.
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}/log/checkpoint", tag = "log",
    params(("ledger" = String, Path, description = "Ledger name", pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")),
    responses((status = 200, content_type = "text/plain", body = String), (status = "4XX", body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn log_checkpoint(access: Access<Read>) -> Response {
    text_note(access.handle.checkpoint().note())
}

/// The inclusion proof of entry `index` in the tree of `size` entries (default: the latest).
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}/proof/inclusion", tag = "log",
    params(
        ("ledger" = String, Path, description = "Ledger name", pattern = "^[a-z0-9][a-z0-9_-]{0,63}$"),
        ("index" = u64, Query, description = "Entry index", minimum = 0),
        ("size" = Option<u64>, Query, description = "Tree size, at most the latest (default: the latest)"),
    ),
    responses((status = 200, body = InclusionProof), (status = "4XX", body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn inclusion(
    access: Access<Read>,
    mut params: Params,
) -> ApiResult<Json<InclusionProof>> {
    let index: u64 = params.required("index")?;
    let size: Option<u64> = params.parse("size")?;
    params.finish()?;
    let size = size.unwrap_or_else(|| access.handle.size());
    let proof = access
        .handle
        .read(move |l| l.prove_inclusion(index, size))
        .await?;
    Ok(Json(InclusionProof { index, size, proof }))
}

/// The consistency proof between the trees of `from` and `to` entries (default: the latest).
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}/proof/consistency", tag = "log",
    params(
        ("ledger" = String, Path, description = "Ledger name", pattern = "^[a-z0-9][a-z0-9_-]{0,63}$"),
        ("from" = u64, Query, description = "The smaller tree size", minimum = 0),
        ("to" = Option<u64>, Query, description = "The larger tree size (default: the latest)"),
    ),
    responses((status = 200, body = ConsistencyProof), (status = "4XX", body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn consistency(
    access: Access<Read>,
    mut params: Params,
) -> ApiResult<Json<ConsistencyProof>> {
    let from: u64 = params.required("from")?;
    let to: Option<u64> = params.parse("to")?;
    params.finish()?;
    let to = to.unwrap_or_else(|| access.handle.size());
    let proof = access
        .handle
        .read(move |l| l.prove_consistency(from, to))
        .await?;
    Ok(Json(ConsistencyProof { from, to, proof }))
}

/// The C2SP tile path after `/log/`.
pub struct Tile(TilePath);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Tile {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let rest = path_param(parts, "tile").await?;
        TilePath::parse(&format!("tile/{rest}"))
            .map(Tile)
            .map_err(|e| ApiError::bad_request("invalid_tile_path", e.to_string()))
    }
}

/// A hash tile `tile/{L}/{N}[.p/{W}]` or an entry bundle `tile/entries/{N}[.p/{W}]`,
/// byte-exact per C2SP tlog-tiles. Full tiles never change and may be cached forever.
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}/log/tile/{*tile}", tag = "log",
    params(
        ("ledger" = String, Path, description = "Ledger name", pattern = "^[a-z0-9][a-z0-9_-]{0,63}$"),
        ("tile" = String, Path, description = "`{L}/{N}[.p/{W}]` or `entries/{N}[.p/{W}]`, N in C2SP x-grouped digits"),
    ),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = "4XX", body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn tile(access: Access<Read>, Tile(path): Tile) -> ApiResult<Response> {
    let bytes = access
        .handle
        .read(move |l| match path.kind {
            TileKind::Hashes(level) => l.tile(level, path.index, path.width),
            TileKind::Entries => l.entry_bundle(path.index, path.width),
        })
        .await?;
    let cache = if path.width == 256 {
        HeaderValue::from_static("public, max-age=31536000, immutable")
    } else {
        HeaderValue::from_static("no-cache")
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response())
}
