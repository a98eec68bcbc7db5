//! Thin handlers: parse, call the ledger through its handle, serialize. Each is documented for
//! OpenAPI where it is registered, so the router and `/openapi.json` come from the same list.
//! The shapes they send and read are the wire types of [`notarium_core::api`].

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

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
