//! The dashboard at `/`: plain HTML, CSS and JavaScript modules from `server/assets/`, embedded
//! in the binary (no build step, no request to another origin). The page calls `/api/v1` with
//! the key the user signed in with, kept in the tab's session storage only.
//!
//! Every dashboard response carries a strict Content-Security-Policy (no inline script or
//! style, nothing from elsewhere), `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer`. Assets are revalidated by ETag (`Cache-Control: no-cache`),
//! so that an upgraded server never runs with stale scripts.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::path_param;
use crate::state::AppState;

/// The policy of every dashboard page and asset.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($($name:literal => $type:expr),* $(,)?) => {
        &[$(Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../assets/", $name)),
        }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of `server/assets/` that the page uses.
static ASSETS: &[Asset] = assets![
    "index.html" => "text/html; charset=utf-8",
    "app.css" => "text/css; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "app.js" => JS,
    "api.js" => JS,
    "ui.js" => JS,
    "verify.js" => JS,
    "overview.js" => JS,
    "entries.js" => JS,
    "artifact.js" => JS,
    "verify-page.js" => JS,
    "admin.js" => JS,
    "reports.js" => JS,
];

/// The strong ETag of each asset, by position in [`ASSETS`].
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{}\"", hex::encode(&Sha256::digest(a.body)[..12])))
            .collect()
    })
}

/// Adds the dashboard's security headers with the policy `csp`.
pub fn secure(headers: &mut HeaderMap, csp: &str) {
    if let Ok(v) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(pos) = ASSETS.iter().position(|a| a.name == name) else {
        let mut resp = ApiError::NotFound(format!("no dashboard asset {name:.80}")).into_response();
        secure(resp.headers_mut(), CSP);
        return resp;
    };
    let asset = &ASSETS[pos];
    respond(asset, asset.body.into(), &etags()[pos], request)
}

/// The page with its links under the public URL's path prefix: `/assets/app.js` becomes
/// `/notarium/assets/app.js`, so that the page loads behind a reverse proxy that serves it
/// there. (Scripts find the API relative to their own URL, see `assets/api.js`.)
fn index_page(prefix: &str, request: &HeaderMap) -> Response {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == "index.html")
        .expect("index.html is embedded");
    if prefix.is_empty() {
        return serve("index.html", request);
    }
    let text =
        String::from_utf8_lossy(asset.body).replace("\"/assets/", &format!("\"{prefix}/assets/"));
    let etag = format!(
        "\"{}\"",
        hex::encode(&Sha256::digest(text.as_bytes())[..12])
    );
    respond(asset, text.into_bytes().into(), &etag, request)
}

fn respond(
    asset: &Asset,
    body: std::borrow::Cow<'static, [u8]>,
    etag: &str,
    request: &HeaderMap,
) -> Response {
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_owned().into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    secure(h, CSP);
    resp
}

/// The dashboard's single page.
#[utoipa::path(get, path = "/", tag = "dashboard",
    responses((status = 200, content_type = "text/html", body = String),
        (status = 304, description = "Not modified (If-None-Match)")))]
pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let prefix = state
        .config()
        .public_url
        .as_ref()
        .map_or("", |u| u.prefix());
    index_page(prefix, &headers)
}

/// The name of an `/assets/{file}` path.
pub struct AssetName(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for AssetName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        path_param(parts, "file").await.map(AssetName)
    }
}

/// A script, stylesheet or image of the dashboard.
#[utoipa::path(get, path = "/assets/{*file}", tag = "dashboard",
    params(("file" = String, Path, description = "Asset name, e.g. app.js")),
    responses((status = 200, description = "The asset, with its content type", body = Vec<u8>),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 404, body = notarium_core::api::ErrorBody)))]
pub async fn asset(AssetName(name): AssetName, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        let names: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
        for a in ASSETS
            .iter()
            .filter(|a| a.name.ends_with(".js") || a.name.ends_with(".html"))
        {
            let text = std::str::from_utf8(a.body).unwrap();
            for part in text
                .split("/assets/")
                .skip(1)
                .chain(text.split("from './").skip(1))
            {
                let file: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                    .collect();
                assert!(
                    names.contains(&file.as_str()),
                    "{} uses {file}, not embedded",
                    a.name
                );
            }
        }
    }

    #[test]
    fn no_inline_script_or_style() {
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".html")) {
            let text = std::str::from_utf8(a.body).unwrap();
            assert!(!text.contains("<style"), "{}: inline style", a.name);
            assert!(!text.contains(" style="), "{}: style attribute", a.name);
            let handler = text.match_indices(" on").any(|(i, _)| {
                let rest = &text[i + 3..];
                let word = rest.bytes().take_while(u8::is_ascii_lowercase).count();
                word > 0 && rest[word..].starts_with('=')
            });
            assert!(!handler, "{}: inline event handler", a.name);
            for script in text.split("<script").skip(1) {
                assert!(
                    script.trim_start().contains("src=\"/assets/"),
                    "{}: inline script",
                    a.name
                );
            }
        }
    }
}
