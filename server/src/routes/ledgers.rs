//! Ledgers and their API keys.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use notarium_core::{LedgerName, Receipt, Role};
use notarium_ledger::{KeyRecord, NewEntry};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{append, blocking};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{path_param, Access, Admin, ApiJson, Read, ServerAdmin};
use crate::openapi::{KeyDoc, ReceiptDoc};
use crate::state::{new_secret, random_bytes, AppState, KeyInfo, LedgerHandle, LedgerMeta};

/// A ledger as `GET /ledgers/{ledger}` describes it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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
}

impl LedgerInfo {
    fn of(h: &LedgerHandle) -> Self {
        LedgerInfo {
            name: h.ledger.name().to_string(),
            origin: h.ledger.origin().to_string(),
            verifier_key: h.ledger.verifier_key().to_string(),
            size: h.ledger.size(),
            public_read: h.meta.public_read,
        }
    }
}

/// Every ledger.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LedgerList {
    /// By name.
    pub ledgers: Vec<LedgerInfo>,
}

/// `POST /ledgers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLedger {
    /// 1–64 of `a-z 0-9 - _`, starting with a letter or digit.
    #[schema(value_type = String, example = "releases")]
    pub name: LedgerName,
    /// Reads (authenticate, history, proofs, tiles) need no key.
    #[serde(default)]
    pub public_read: bool,
}

/// `POST /ledgers/{ledger}/keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// A name for humans, e.g. the CI project using it (1–128 characters).
    pub name: String,
    /// `read`, `write` or `admin`.
    #[schema(value_type = String, example = "write")]
    pub role: Role,
}

/// A new API key. `key` is the bearer secret: it is shown here once and stored only as a hash.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewKey {
    /// Public key id; the `signer` of entries made with it.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    #[schema(value_type = String)]
    pub role: Role,
    /// The secret bearer token.
    pub key: String,
    /// The receipt of the `key` entry that records the creation.
    #[schema(value_type = ReceiptDoc)]
    pub receipt: Receipt,
}

/// Every API key of a ledger, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Keys.
    #[schema(value_type = Vec<KeyDoc>)]
    pub keys: Vec<KeyRecord>,
}

/// A revoked key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevokedKey {
    /// Key id.
    pub id: String,
    /// The receipt of the `key` entry that records the revocation.
    #[schema(value_type = ReceiptDoc)]
    pub receipt: Receipt,
}

/// Lists ledgers.
#[utoipa::path(get, path = "/api/v1/ledgers", tag = "ledgers",
    responses((status = 200, body = LedgerList), (status = "4XX", body = ErrorBody)),
    security(("admin_token" = [])))]
pub async fn list(_admin: ServerAdmin, State(state): State<AppState>) -> Json<LedgerList> {
    Json(LedgerList {
        ledgers: state.ledgers().iter().map(|h| LedgerInfo::of(h)).collect(),
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
    tracing::info!(ledger = %handle.ledger.name(), public_read = req.public_read, "ledger created");
    Ok((StatusCode::CREATED, Json(LedgerInfo::of(&handle))))
}

/// Describes a ledger.
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}", tag = "ledgers",
    params(("ledger" = String, Path, description = "Ledger name")),
    responses((status = 200, body = LedgerInfo), (status = "4XX", body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn describe(access: Access<Read>) -> Json<LedgerInfo> {
    Json(LedgerInfo::of(&access.handle))
}

/// Creates an API key of this ledger; the creation is itself an entry of the ledger.
#[utoipa::path(post, path = "/api/v1/ledgers/{ledger}/keys", tag = "keys", request_body = CreateKey,
    params(("ledger" = String, Path, description = "Ledger name")),
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
        credential: crate::state::credential_hash(&secret),
    };
    let receipt = append(&access.handle, vec![entry]).await?.remove(0);
    let ledger = access.handle.ledger.name().to_string();
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
    params(("ledger" = String, Path, description = "Ledger name")),
    responses((status = 200, body = KeyList), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_keys(access: Access<Admin>) -> ApiResult<Json<KeyList>> {
    let ledger = access.handle.ledger.clone();
    Ok(Json(KeyList {
        keys: blocking(move || ledger.keys()).await?,
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
    params(("ledger" = String, Path, description = "Ledger name"), ("id" = String, Path, description = "Key id")),
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
    let receipt = append(&access.handle, vec![entry]).await?.remove(0);
    let ledger = access.handle.ledger.name().to_string();
    state.forget_key(&ledger, &id);
    tracing::info!(%ledger, key = %id, "API key revoked");
    Ok(Json(RevokedKey { id, receipt }))
}
