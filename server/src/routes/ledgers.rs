//! Ledgers and their API keys.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use notarium_core::api::{
    CreateKey, CreateLedger, ErrorBody, KeyList, LedgerInfo, LedgerList, NewKey, RevokedKey,
};
use notarium_ledger::NewEntry;

use crate::auth::{credential_hash, new_secret, random_bytes, KeyInfo};
use crate::datadir::LedgerMeta;
use crate::error::{ApiError, ApiResult};
use crate::extract::{path_param, Access, Admin, ApiJson, Read, ServerAdmin};
use crate::state::AppState;

/// Lists ledgers.
#[utoipa::path(get, path = "/api/v1/ledgers", tag = "ledgers",
    responses((status = 200, body = LedgerList), (status = "4XX", body = ErrorBody)),
    security(("admin_token" = [])))]
pub async fn list(_admin: ServerAdmin, State(state): State<AppState>) -> Json<LedgerList> {
    let limits = state.wire_limits();
    Json(LedgerList {
        ledgers: state.ledgers().iter().map(|h| h.info(limits)).collect(),
    })
}

/// Creates a ledger with its own signing key.
#[utoipa::path(post, path = "/api/v1/ledgers", tag = "ledgers", request_body = CreateLedger,
    responses((status = 201, body = LedgerInfo), (status = "4XX", body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("admin_token" = [])))]
pub async fn create(
    _admin: ServerAdmin,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateLedger>,
) -> ApiResult<(StatusCode, Json<LedgerInfo>)> {
    let handle = state
        .create_ledger(
            req.name,
            LedgerMeta {
                public_read: req.public_read,
            },
        )
        .await?;
    tracing::info!(ledger = %handle.name(), public_read = req.public_read, "ledger created");
    Ok((StatusCode::CREATED, Json(handle.info(state.wire_limits()))))
}

/// Describes a ledger.
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}", tag = "ledgers",
    params(("ledger" = String, Path, description = "Ledger name", pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")),
    responses((status = 200, body = LedgerInfo), (status = "4XX", body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn describe(access: Access<Read>, State(state): State<AppState>) -> Json<LedgerInfo> {
    Json(access.handle.info(state.wire_limits()))
}

/// Creates an API key of this ledger; the creation is itself an entry of the ledger.
#[utoipa::path(post, path = "/api/v1/ledgers/{ledger}/keys", tag = "keys", request_body = CreateKey,
    params(("ledger" = String, Path, description = "Ledger name", pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")),
    responses((status = 201, body = NewKey), (status = "4XX", body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_key(
    access: Access<Admin>,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<NewKey>)> {
    let secret = new_secret("nk_").map_err(|e| ApiError::Internal(e.to_string()))?;
    let id = format!(
        "k_{}",
        hex::encode(random_bytes::<6>().map_err(|e| ApiError::Internal(e.to_string()))?)
    );
    let entry = NewEntry::KeyCreated {
        id: id.clone(),
        name: req.name.clone(),
        role: req.role,
        signer: access.signer,
        credential: credential_hash(&secret),
    };
    let receipt = access.handle.append(vec![entry]).await?.remove(0);
    let ledger = access.handle.name().to_string();
    state.remember_key(
        &secret,
        KeyInfo {
            ledger: ledger.clone(),
            id: id.clone(),
            role: req.role,
            revoked: false,
        },
    );
    tracing::info!(%ledger, key = %id, role = req.role.as_str(), "API key created");
    Ok((
        StatusCode::CREATED,
        Json(NewKey {
            id,
            name: req.name,
            role: req.role,
            key: secret,
            receipt,
        }),
    ))
}

/// Lists this ledger's API keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}/keys", tag = "keys",
    params(("ledger" = String, Path, description = "Ledger name", pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")),
    responses((status = 200, body = KeyList), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_keys(access: Access<Admin>) -> ApiResult<Json<KeyList>> {
    Ok(Json(KeyList {
        keys: access.handle.read(|l| l.keys()).await?,
    }))
}

/// The key id of a `DELETE /keys/{id}` path.
pub struct KeyId(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for KeyId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let id = path_param(parts, "id").await?;
        if id.is_empty()
            || id.len() > 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ApiError::bad_request(
                "invalid_path",
                "a key id is 1-64 of A-Z a-z 0-9 _ -",
            ));
        }
        Ok(KeyId(id))
    }
}

/// Revokes an API key at once; artifacts whose deciding entry it signed then authenticate as
/// `revoked`. The revocation is itself an entry of the ledger.
#[utoipa::path(delete, path = "/api/v1/ledgers/{ledger}/keys/{id}", tag = "keys",
    params(("ledger" = String, Path, description = "Ledger name", pattern = "^[a-z0-9][a-z0-9_-]{0,63}$"), ("id" = String, Path, description = "Key id")),
    responses((status = 200, body = RevokedKey), (status = "4XX", body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_key(
    access: Access<Admin>,
    KeyId(id): KeyId,
    State(state): State<AppState>,
) -> ApiResult<Json<RevokedKey>> {
    let entry = NewEntry::KeyRevoked {
        id: id.clone(),
        signer: access.signer,
    };
    let receipt = access.handle.append(vec![entry]).await?.remove(0);
    let ledger = access.handle.name().to_string();
    state.forget_key(&ledger, &id);
    tracing::info!(%ledger, key = %id, "API key revoked");
    Ok(Json(RevokedKey { id, receipt }))
}
