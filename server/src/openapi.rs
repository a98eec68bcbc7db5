//! `/openapi.json`: generated from the same route list as the router
//! ([`crate::routes::router`]), so the description cannot list a route the server lacks or miss
//! one it has, and from the wire types of [`notarium_core::api`], so it cannot drift from the
//! shapes the server sends and the client parses.

use std::sync::Arc;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi};

use crate::config::PublicUrl;

/// The API description as JSON, handed to the `/openapi.json` handler.
#[derive(Clone, Debug)]
pub struct Document(pub Arc<str>);

/// Completes the description the router collected: title, version, security schemes, path
/// templates in OpenAPI's spelling, and the server's public URL when one is configured.
pub fn document(mut api: OpenApi, public_url: Option<&PublicUrl>) -> Document {
    if let Some(url) = public_url {
        api.servers = Some(vec![utoipa::openapi::Server::new(url.base())]);
    }
    api.info = InfoBuilder::new()
        .title("Notarium")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Notarize build outputs in an append-only, verifiable ledger and authenticate them \
             with proofs. Errors are always {\"error\":{\"code\",\"message\"}}.",
        ))
        .build();
    // axum writes a catch-all as `{*tile}`; OpenAPI names it `{tile}`.
    api.paths.paths = std::mem::take(&mut api.paths.paths)
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    let components = api.components.get_or_insert_with(Default::default);
    for name in ["bearer", "admin_token", "metrics_token"] {
        components.add_security_scheme(
            name,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
    let json = api
        .to_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    Document(json.into())
}
