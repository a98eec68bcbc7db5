//! Operations endpoints outside `/api/v1`: liveness, readiness, metrics, the API description.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use notarium_core::api::{ErrorBody, Health};

use crate::error::ApiResult;
use crate::extract::MetricsReader;
use crate::openapi::Document;
use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: 200 while the server serves (from its ready line until shutdown begins), every
/// ledger's writer accepts appends and the data directory takes a synced write; 503 otherwise,
/// with the reason as the error code (`not_ready`, `ledger_stopped`, `storage_unwritable`,
/// `storage_unresponsive`).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state.readiness().await?;
    Ok(Json(Health {
        status: "ready".into(),
    }))
}

/// Prometheus metrics (text exposition format 0.0.4). Open unless `metrics_token` is set
/// (then that token or the admin token); series carry ledger names only with
/// `metrics_ledger_names`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, body = ErrorBody)),
    security((), ("metrics_token" = []), ("admin_token" = [])))]
pub async fn metrics(_reader: MetricsReader, State(state): State<AppState>) -> Response {
    let sizes: Vec<(String, u64)> = state
        .ledgers()
        .iter()
        .map(|h| (h.name().to_string(), h.size()))
        .collect();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state
            .metrics()
            .render(&sizes, state.config().metrics.ledger_names),
    )
        .into_response()
}

/// This API's OpenAPI 3.1 description, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn openapi(Extension(doc): Extension<Document>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.to_string(),
    )
        .into_response()
}
