//! `notariumd`: Notarium's HTTP service (docs/http-api.md, docs/configuration.md) over the embedded ledger.
//!
//! In scope: the `/api/v1` routes, authentication of callers (API keys scoped to one ledger and
//! role, the server admin token), limits (body size, timeouts, rate and concurrency), metrics,
//! the OpenAPI description, start-up and graceful shutdown. Out of scope: anything about
//! Merkle trees or storage (that is `notarium-ledger`). The dashboard at `/` ([`dashboard`]) is
//! static files embedded in the binary that call the same `/api/v1`; audit reports
//! ([`report`]) are built here from ledger reads and verified by `notarium-core`.
//!
//! Handlers are thin (parse, call the ledger, serialize); errors map to HTTP in one place
//! ([`error::ApiError`]); the caller and its role are an extractor ([`extract::Access`]).

#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connections;
pub mod dashboard;
pub mod datadir;
pub mod error;
pub mod extract;
pub mod health;
pub mod limits;
pub mod metrics;
pub mod oidc;
pub mod openapi;
pub mod registry;
pub mod report;
pub mod routes;
pub mod serve;
pub mod state;
pub mod tls;

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};

pub use config::{Config, RawConfig};
pub use error::ApiError;
pub use serve::{serve, shutdown_signal};
pub use state::AppState;

/// The router of every route, with limits, metrics and request logs. With a `public_url` that
/// has a path prefix, every route is also served under that prefix, so that a reverse proxy
/// may pass requests on with the prefix or without it.
pub fn app(state: AppState) -> Router {
    static DOCUMENT: OnceLock<openapi::Document> = OnceLock::new();
    let (router, api) = routes::router().split_for_parts();
    let document = match &state.config().public_url {
        None => DOCUMENT
            .get_or_init(|| openapi::document(api, None))
            .clone(),
        Some(url) => openapi::document(api, Some(url)),
    };
    let body_limit = state.config().limits.body_bytes;
    let prefix = state
        .config()
        .public_url
        .as_ref()
        .map(|u| u.prefix().to_owned())
        .unwrap_or_default();
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(document))
        // Layers run bottom-up: observe sees every answer, including 429 and 503.
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), limit))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state);
    if prefix.is_empty() {
        return router;
    }
    let prefix: std::sync::Arc<str> = prefix.into();
    Router::new().fallback_service(tower::ServiceExt::map_request(
        router,
        move |req: Request| strip_prefix(req, &prefix),
    ))
}

/// `/notarium/api/v1/…` → `/api/v1/…` for the prefix `/notarium`; other paths unchanged.
fn strip_prefix(mut req: Request, prefix: &str) -> Request {
    let path = req.uri().path();
    let rest = match path.strip_prefix(prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => return req,
    };
    let pq = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = pq.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The request target's length (414 `uri_too_long`), the concurrency limit (503 `overloaded`
/// when full; health checks are exempt, so that a busy server still says it is alive and
/// ready) and the request timeout (503 `timeout`).
async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > config::MAX_URI_BYTES {
        return ApiError::UriTooLong(config::MAX_URI_BYTES).into_response();
    }
    if matches!(req.uri().path(), "/healthz" | "/readyz") {
        return next.run(req).await;
    }
    let Some(_permit) = state.limits().slot() else {
        return ApiError::Unavailable {
            code: "overloaded",
            message: "too many requests in flight; retry",
        }
        .into_response();
    };
    match tokio::time::timeout(state.config().limits.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Unavailable {
            code: "timeout",
            message: "the request took too long; a write may still have been recorded",
        }
        .into_response(),
    }
}

/// Metrics by route template and a log line per request (never headers, so never secrets).
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let method = method_label(req.method());
    let resp = next.run(req).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    state.metrics().request(&route, method, status, seconds);
    if status >= 500 {
        tracing::warn!(method, %route, status, ms = seconds * 1e3, "request failed");
    } else {
        tracing::debug!(method, %route, status, ms = seconds * 1e3, "request");
    }
    resp
}

fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
