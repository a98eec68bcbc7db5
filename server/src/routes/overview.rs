//! What the dashboard's overview reads besides the ledger description: who the caller is (so
//! that a key scoped to one ledger sees that ledger) and how busy a ledger is.

use axum::Json;
use notarium_core::api::{ErrorBody, LedgerStats, WhoAmI};
use notarium_core::{Role, Timestamp};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{bad_param, Access, Identity, Params, Read};

/// Who the caller is: the admin token, or an API key with its ledger and role.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "ledgers",
    responses((status = 200, body = WhoAmI), (status = "4XX", body = ErrorBody)),
    security(("bearer" = []), ("admin_token" = [])))]
pub async fn whoami(Identity(caller): Identity) -> Json<WhoAmI> {
    Json(match caller {
        Caller::Key(k) => WhoAmI {
            admin_token: false,
            role: k.role,
            ledger: Some(k.ledger),
            key_id: Some(k.id),
        },
        Caller::Oidc(id) => WhoAmI {
            admin_token: false,
            role: id.role,
            ledger: Some(id.ledger.to_string()),
            key_id: Some(id.signer),
        },
        // The extractor turns anonymous callers away.
        Caller::Admin | Caller::Anonymous => WhoAmI {
            admin_token: true,
            role: Role::Admin,
            ledger: None,
            key_id: None,
        },
    })
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
    let stats = access
        .handle
        .read(move |ledger| {
            let start = ledger.index_at(Timestamp(now.0 - window as i64 * 1_000_000))?;
            // Read after `start`, so that the checkpoint covers it.
            let checkpoint = ledger.checkpoint();
            let size = checkpoint.size().0;
            let latest_entry_time = match size {
                0 => None,
                n => Some(ledger.get(n - 1)?.parse_entry()?.time().to_owned()),
            };
            let entries_in_window = size.saturating_sub(start);
            Ok::<_, notarium_ledger::Error>(LedgerStats {
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
