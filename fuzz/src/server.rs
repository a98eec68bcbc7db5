//! The server's request extractors, through the real router in process: any method, path,
//! query, content type, credential and body gets an answer below 500, and every error answer
//! is the one error schema (docs/http-api.md).

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

/// The admin token of the fuzzed server.
const ADMIN: &str = "fuzz-admin-token-0123456789abcdef";

/// A server in a temporary data directory: ledger `default` (private) with a write and a read
/// key, ledger `pub` (public_read) with a write key, and a few entries in each.
struct World {
    _dir: tempfile::TempDir,
    router: Router,
    runtime: tokio::runtime::Runtime,
    /// Bearer secrets: admin, default's write and read keys, pub's write key.
    tokens: Vec<String>,
}

struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

fn send(w: &World, req: Request<Body>) -> Answer {
    w.runtime.block_on(async {
        let resp = w
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router's error type is Infallible");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("a response body reads")
            .to_vec();
        Answer { status, body }
    })
}

fn json_call(w: &World, method: &str, path: &str, token: &str, body: Value) -> Value {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("a valid request");
    let a = send(w, req);
    assert!(a.status.is_success(), "setting up: {path}: {}", a.status);
    serde_json::from_slice(&a.body).expect("JSON")
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = notarium_server::RawConfig {
            data_dir: Some(dir.path().to_path_buf()),
            admin_token: Some(ADMIN.into()),
            // No fsync per input: durability is not what is fuzzed.
            durability: Some("normal".into()),
            // Enough for any input rate; a bounded number of ledgers the fuzzer may create.
            rate_limit_per_second: Some(1_000_000),
            rate_limit_burst: Some(1_000_000),
            max_ledgers: Some(6),
            ..notarium_server::RawConfig::default()
        }
        .validate()
        .expect("a valid configuration");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (state, _) = {
            let _guard = runtime.enter();
            notarium_server::AppState::open(config).expect("the server opens")
        };
        state.set_ready(true);
        let router = notarium_server::app(state);
        let mut w = World {
            _dir: dir,
            router,
            runtime,
            tokens: vec![ADMIN.to_owned()],
        };
        // A first start makes ledger `default`; `pub` is made here.
        json_call(
            &w,
            "POST",
            "/api/v1/ledgers",
            ADMIN,
            serde_json::json!({"name": "pub", "public_read": true}),
        );
        for (ledger, role) in [("default", "write"), ("default", "read"), ("pub", "write")] {
            let k = json_call(
                &w,
                "POST",
                &format!("/api/v1/ledgers/{ledger}/keys"),
                ADMIN,
                serde_json::json!({"name": format!("fuzz {role}"), "role": role}),
            );
            w.tokens.push(k["key"].as_str().expect("a key").to_owned());
        }
        for (ledger, token) in [("default", 1), ("pub", 3)] {
            for i in 0..3u8 {
                let sha = notarium_core::Sha256::of(&[i]).to_hex();
                json_call(
                    &w,
                    "POST",
                    &format!("/api/v1/ledgers/{ledger}/entries"),
                    &w.tokens[token].clone(),
                    serde_json::json!({"sha256": sha, "name": format!("f{i}")}),
                );
            }
        }
        w
    })
}

const METHODS: &[&str] = &["GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS", "PATCH"];
const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/json"),
    Some("application/vnd.notarium+json; charset=utf-8"),
    Some("text/plain"),
];
const PREFIXES: &[&str] = &[
    "",
    "/api/v1/ledgers/default",
    "/api/v1/ledgers/pub",
    "/api/v1/ledgers/default/artifacts/",
    "/api/v1",
];

/// One request to the real router: the first four bytes pick the method, credential,
/// content type and path prefix; the rest up to the first newline is the path and query,
/// after it the body. The answer is below 500 and, for an error, in the error schema.
pub fn server_request(data: &[u8]) {
    let w = world();
    let (head, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let [m, auth, ct, prefix, ..] = *head else {
        return;
    };
    let Ok(path) = std::str::from_utf8(&head[4..]) else {
        return;
    };
    let uri = format!("{}{path}", PREFIXES[usize::from(prefix) % PREFIXES.len()]);
    let method = METHODS[usize::from(m) % METHODS.len()];
    let mut req = Request::builder().method(method).uri(&uri);
    match usize::from(auth) % (w.tokens.len() + 2) {
        0 => {}
        1 => req = req.header("authorization", "Bearer not-a-key"),
        n => req = req.header("authorization", format!("Bearer {}", w.tokens[n - 2])),
    }
    if let Some(ct) = CONTENT_TYPES[usize::from(ct) % CONTENT_TYPES.len()] {
        req = req.header("content-type", ct);
    }
    let Ok(req) = req.body(Body::from(body.to_vec())) else {
        return; // Not a request hyper would hand the router.
    };
    let a = send(w, req);
    assert!(
        !a.status.is_server_error(),
        "{method} {uri}: {} {}",
        a.status,
        String::from_utf8_lossy(&a.body)
    );
    if a.status.is_client_error() && method != "HEAD" {
        let v: Value = serde_json::from_slice(&a.body).unwrap_or_else(|e| {
            panic!(
                "{method} {uri}: {} with a body that is not JSON ({e})",
                a.status
            )
        });
        let code = v["error"]["code"].as_str();
        assert!(
            code.is_some_and(|c| !c.is_empty())
                && v["error"]["message"].is_string()
                && v.as_object().is_some_and(|o| o.len() == 1),
            "{method} {uri}: {} not in the error schema: {v}",
            a.status
        );
    }
}
