//! What the dashboard's overview reads besides the ledger description: who the caller is (so
//! that a key scoped to one ledger sees that ledger) and how busy a ledger is.

use axum::Json;
use notarium_core::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::blocking;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{bad_param, Access, Identity, Params, Read};
use crate::state::Caller;

/// The caller behind the `Authorization` header.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// True for the server admin token, which may manage every ledger.
    pub admin_token: bool,
    /// `read`, `write` or `admin` (the admin token: `admin`).
    pub role: String,
    /// The one ledger an API key is scoped to; absent for the admin token.
    pub ledger: Option<String>,
    /// The API key's id (the `signer` of its entries); absent for the admin token.
    pub key_id: Option<String>,
}

/// Who the caller is: the admin token, or an API key with its ledger and role.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "ledgers",
    responses((status = 200, body = WhoAmI), (status = "4XX", body = ErrorBody)),
    security(("bearer" = []), ("admin_token" = [])))]
pub async fn whoami(Identity(caller): Identity) -> Json<WhoAmI> {
    Json(match caller {
        Caller::Key(k) => WhoAmI {
            admin_token: false,
            role: k.role.as_str().to_owned(),
            ledger: Some(k.ledger),
            key_id: Some(k.id),
        },
        // The extractor turns anonymous callers away.
        Caller::Admin | Caller::Anonymous => WhoAmI {
            admin_token: true,
            role: "admin".to_owned(),
            ledger: None,
            key_id: None,
        },
    })
}

/// A ledger's activity.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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

/// The longest rate window: one day.
const MAX_WINDOW_SECONDS: u64 = 86_400;

/// Size, latest checkpoint and its time, and entries per minute over the last `window` seconds.
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}/stats", tag = "ledgers",
    params(
        ("ledger" = String, Path, description = "Ledger name"),
        ("window" = Option<u64>, Query, description = "Seconds to measure the rate over, 1-86400 (default 300)"),
    ),
    responses((status = 200, body = LedgerStats), (status = "4XX", body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn stats(access: Access<Read>, mut params: Params) -> ApiResult<Json<LedgerStats>> {
    let window = params.parse::<u64>("window")?.unwrap_or(300);
    if !(1..=MAX_WINDOW_SECONDS).contains(&window) {
        return Err(bad_param(
            "window",
            format!("must be 1 to {MAX_WINDOW_SECONDS}"),
        ));
    }
    params.finish()?;
    let now = now();
    let ledger = access.handle.ledger.clone();
    let stats = blocking(move || {
        let start = ledger.index_at(Timestamp(now.0 - window as i64 * 1_000_000))?;
        // Read after `start`, so that the checkpoint covers it.
        let checkpoint = ledger.checkpoint();
        let size = checkpoint.size().0;
        let latest_entry_time = match size {
            0 => None,
            n => ledger.get(n - 1)?.entry["time"].as_str().map(str::to_owned),
        };
        let entries_in_window = size.saturating_sub(start);
        Ok(LedgerStats {
            ledger: ledger.name().to_string(),
            size,
            checkpoint: checkpoint.note().to_owned(),
            latest_entry_time,
            window_seconds: window,
            entries_in_window,
            per_minute: entries_in_window as f64 * 60.0 / window as f64,
        })
    })
    .await?;
    Ok(Json(stats))
}

/// The wall clock as a timestamp.
pub(crate) fn now() -> Timestamp {
    let us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    Timestamp(i64::try_from(us).unwrap_or(i64::MAX))
}
