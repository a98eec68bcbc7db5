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
pub mod dashboard;
pub mod datadir;
pub mod error;
pub mod extract;
pub mod limits;
pub mod metrics;
pub mod oidc;
pub mod openapi;
pub mod registry;
pub mod report;
pub mod routes;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tokio::net::TcpListener;

pub use config::{Config, RawConfig};
pub use error::ApiError;
pub use state::AppState;

/// The router of every route, with limits, metrics and request logs.
pub fn app(state: AppState) -> Router {
    static DOCUMENT: OnceLock<openapi::Document> = OnceLock::new();
    let (router, api) = routes::router().split_for_parts();
    let document = DOCUMENT.get_or_init(|| openapi::document(api)).clone();
    let body_limit = state.config().limits.body_bytes;
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(document))
        // Layers run bottom-up: observe sees every answer, including 429 and 503.
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), limit))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes, then stops accepting, finishes the
/// requests in flight (bounded by `shutdown_timeout`), and closes every ledger after its
/// queued batches are committed.
///
/// # Errors
/// When the listener fails.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let (drain_tx, drain_rx) = tokio::sync::watch::channel(false);
    let draining = state.clone();
    let signal = async move {
        shutdown.await;
        draining.set_ready(false);
        tracing::info!("shutting down: finishing requests in flight");
        let _ = drain_tx.send(true);
    };
    let server = axum::serve(
        listener,
        app(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    state.set_ready(true);
    tracing::info!(%addr, "notariumd ready on http://{addr}");
    println!("notariumd ready on http://{addr}");
    let grace = state.config().shutdown_timeout;
    let mut drain_rx = drain_rx;
    let deadline = async move {
        let _ = drain_rx.wait_for(|d| *d).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        r = server => r?,
        () = deadline => tracing::warn!("requests still in flight after the shutdown timeout; stopping anyway"),
    }
    let closing = state.clone();
    tokio::task::spawn_blocking(move || closing.close())
        .await
        .map_err(std::io::Error::other)?;
    tracing::info!("stopped; every ledger closed");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Concurrency limit (503 `overloaded` when full) and request timeout (503 `timeout`).
async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
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
