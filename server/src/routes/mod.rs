//! Thin handlers: parse, call the ledger, serialize. Each is documented for OpenAPI where it
//! is registered, so the router and `/openapi.json` come from the same list.

use notarium_core::Receipt;
use notarium_ledger::NewEntry;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, LedgerHandle};

pub mod artifacts;
pub mod entries;
pub mod ledgers;
pub mod log;
pub mod ops;
pub mod overview;
pub mod reports;

/// Every route of the service, with its OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ledgers::list, ledgers::create))
        .routes(routes!(ledgers::describe))
        .routes(routes!(ledgers::create_key, ledgers::list_keys))
        .routes(routes!(ledgers::revoke_key))
        .routes(routes!(overview::whoami))
        .routes(routes!(overview::stats))
        .routes(routes!(reports::report))
        .routes(routes!(entries::notarize, entries::search))
        .routes(routes!(entries::notarize_batch))
        .routes(routes!(entries::get))
        .routes(routes!(artifacts::authenticate))
        .routes(routes!(artifacts::authenticate_many))
        .routes(routes!(artifacts::history))
        .routes(routes!(log::checkpoint))
        .routes(routes!(log::inclusion))
        .routes(routes!(log::consistency))
        .routes(routes!(log::log_checkpoint))
        .routes(routes!(log::tile))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
        .routes(routes!(crate::dashboard::index))
        .routes(routes!(crate::dashboard::asset))
}

/// Runs blocking ledger work off the async executor.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, notarium_ledger::Error> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(Into::into)
}

/// Runs blocking work that fails with an [`ApiError`] off the async executor.
pub(crate) async fn blocking_api<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// Queues entries with the ledger's group-commit sequencer (all-or-nothing), waits without
/// blocking a thread until their batch is durable, then builds their receipts.
pub(crate) async fn append(
    handle: &LedgerHandle,
    entries: Vec<NewEntry>,
) -> ApiResult<Vec<Receipt>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    handle.ledger.append_with(entries, move |result| {
        let _ = tx.send(result);
    });
    let appended = rx
        .await
        .map_err(|_| ApiError::Storage("the writer stopped without answering".into()))??;
    handle.read(move |ledger| ledger.receipts(&appended)).await
}
