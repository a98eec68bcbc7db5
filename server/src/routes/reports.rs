//! Audit reports of a time range ([`crate::report`]), as JSON or as a printable HTML page.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use notarium_core::Timestamp;

use notarium_core::api::ErrorBody;
use notarium_core::AuditReport;

use super::overview::now;
use crate::error::{ApiError, ApiResult};
use crate::extract::{bad_param, Access, Params, Read};
use crate::state::AppState;

/// Every entry sequenced in `[since, until)` with the signed checkpoints at both ends, the
/// consistency proof between them and each entry's inclusion proof in the end checkpoint;
/// `format=html` gives a printable page of the same content.
#[utoipa::path(get, path = "/api/v1/ledgers/{ledger}/report", tag = "reports",
    params(
        ("ledger" = String, Path, description = "Ledger name", pattern = "^[a-z0-9][a-z0-9_-]{0,63}$"),
        ("since" = Option<String>, Query, description = "Entries sequenced at or after (YYYY-MM-DD or RFC 3339 UTC); default: the first entry"),
        ("until" = Option<String>, Query, description = "Entries sequenced before; default: the latest checkpoint"),
        ("format" = Option<String>, Query, description = "json (default) or html", pattern = "^(json|html)$"),
    ),
    responses(
        (status = 200, description = "The report: JSON by default, a printable page with format=html",
            content((AuditReport = "application/json"), (String = "text/html"))),
        (status = 422, description = "The range holds more entries than a report may (code range_too_large)", body = ErrorBody),
        (status = "4XX", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn report(
    access: Access<Read>,
    State(state): State<AppState>,
    mut params: Params,
) -> ApiResult<Response> {
    let time = |p: &mut Params, name: &str| -> ApiResult<Option<Timestamp>> {
        p.opt(name)?
            .map(|s| Timestamp::parse(&s).map_err(|e| bad_param(name, e)))
            .transpose()
    };
    let since = time(&mut params, "since")?;
    let until = time(&mut params, "until")?;
    let html = match params.opt("format")?.as_deref() {
        None | Some("json") => false,
        Some("html") => true,
        Some(_) => return Err(bad_param("format", "must be json or html")),
    };
    params.finish()?;
    if let (Some(s), Some(u)) = (since, until) {
        if s > u {
            return Err(bad_param("since", "must not be after until"));
        }
    }
    let max = state.config().limits.report_entries;
    let report = access
        .handle
        .read(move |ledger| crate::report::build(ledger, since, until, max, now()))
        .await?;
    let stem = crate::report::file_stem(&report);
    let (body, content_type, ext) = if html {
        (
            crate::report::render_html(&report),
            "text/html; charset=utf-8",
            "html",
        )
    } else {
        (
            serde_json::to_string_pretty(&report).map_err(|e| ApiError::Internal(e.to_string()))?,
            "application/json",
            "json",
        )
    };
    let mut resp = body.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{stem}.{ext}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if html {
        crate::dashboard::secure(headers, crate::report::html_csp());
    }
    Ok(resp)
}
