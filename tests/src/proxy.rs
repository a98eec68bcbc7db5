//! A small HTTP proxy between the CLI and a real `notariumd`, listening on 127.0.0.1 port 0.
//! It forwards every request unchanged and, per [`Route`], may rewrite the server's answer:
//! that is how the tamper tests play a malicious or compromised server (docs/verification.md).
//! It can also answer with an error instead of the server, before or after forwarding
//! ([`Fault`]): a rate limit that refused the request, or a timeout after the server acted.
//! [`Proxy::start_tls`] serves it over HTTPS with a certificate of a CA made at run time, as a
//! TLS-terminating reverse proxy in front of the server.
//!
//! It runs on its own Tokio runtime, so tests stay synchronous and run the CLI as a process;
//! dropping the proxy shuts the runtime down.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// The answers a rule can apply to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET …/checkpoint` and `GET …/log/checkpoint`: the signed note, as text.
    Checkpoint,
    /// `GET …/proof/consistency?from=&to=`.
    Consistency,
    /// `GET …/artifacts/{sha256}`: one authenticate answer.
    Artifact,
    /// `POST …/authenticate`: a batch authenticate answer.
    BatchAuthenticate,
    /// `POST …/entries/batch`: a batch notarization's receipts.
    BatchNotarize,
    /// `POST …/entries`: one notarization's receipt.
    Notarize,
}

impl Route {
    fn matches(self, method: &Method, path: &str) -> bool {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        // api / v1 / ledgers / {ledger} / …
        let rest = match segments.as_slice() {
            ["api", "v1", "ledgers", _, rest @ ..] => rest,
            _ => return false,
        };
        match self {
            Route::Checkpoint => {
                method == Method::GET && matches!(rest, ["checkpoint"] | ["log", "checkpoint"])
            }
            Route::Consistency => method == Method::GET && rest == ["proof", "consistency"],
            Route::Artifact => method == Method::GET && matches!(rest, ["artifacts", _]),
            Route::BatchAuthenticate => method == Method::POST && rest == ["authenticate"],
            Route::BatchNotarize => method == Method::POST && rest == ["entries", "batch"],
            Route::Notarize => method == Method::POST && rest == ["entries"],
        }
    }
}

/// Rewrites an answer body (status and content type are kept).
pub type Rewrite = Arc<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

/// An error answer the proxy gives instead of the server's, to the next `times` requests of
/// `route`.
#[derive(Clone, Debug)]
pub struct Fault {
    /// The requests it applies to.
    pub route: Route,
    /// How many more requests it answers.
    pub times: usize,
    /// Forward the request first (the server acts on it; its answer is lost), as a gateway
    /// that timed out waiting for the answer. Otherwise the server never sees the request.
    pub after_forwarding: bool,
    /// The status to answer.
    pub status: StatusCode,
    /// A `Retry-After` header to send, if any.
    pub retry_after: Option<String>,
    /// The body (JSON when it starts with `{`).
    pub body: String,
}

impl Fault {
    /// The server's error body: `{"error":{"code":…,"message":…}}`.
    pub fn api_error(code: &str, message: &str) -> String {
        serde_json::json!({ "error": { "code": code, "message": message } }).to_string()
    }
}

struct Shared {
    upstream: Mutex<String>,
    http: reqwest::Client,
    rules: Mutex<Vec<(Route, Rewrite)>>,
    faults: Mutex<Vec<Fault>>,
    seen: Mutex<Vec<(Method, String)>>,
    forwarded: AtomicUsize,
    tampered: AtomicUsize,
}

/// The running proxy.
pub struct Proxy {
    url: String,
    ca_pem: Option<String>,
    shared: Arc<Shared>,
    // Dropping the runtime stops the proxy.
    _runtime: tokio::runtime::Runtime,
}

impl Proxy {
    /// Starts a pass-through proxy to `upstream` (e.g. `http://127.0.0.1:41234`).
    ///
    /// # Panics
    /// When no runtime or port can be had.
    pub fn start(upstream: &str) -> Proxy {
        let (runtime, shared, listener) = Proxy::parts(upstream);
        let addr = listener.local_addr().expect("local address");
        let app = Router::new().fallback(forward).with_state(shared.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy {
            url: format!("http://{addr}"),
            ca_pem: None,
            shared,
            _runtime: runtime,
        }
    }

    /// Starts the proxy over HTTPS (`https://127.0.0.1:PORT`), with a certificate for
    /// `127.0.0.1` and `localhost` issued by a CA made for it ([`Proxy::ca_pem`]).
    ///
    /// # Panics
    /// As [`Proxy::start`], or when no certificate can be made.
    pub fn start_tls(upstream: &str) -> Proxy {
        let (runtime, shared, listener) = Proxy::parts(upstream);
        let addr = listener.local_addr().expect("local address");
        let (ca_pem, config) = crate::oidc::tls_config();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let app = Router::new().fallback(forward).with_state(shared.clone());
        runtime.spawn(serve_tls(listener, acceptor, app));
        Proxy {
            url: format!("https://{addr}"),
            ca_pem: Some(ca_pem),
            shared,
            _runtime: runtime,
        }
    }

    fn parts(
        upstream: &str,
    ) -> (
        tokio::runtime::Runtime,
        Arc<Shared>,
        tokio::net::TcpListener,
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream.trim_end_matches('/').to_owned()),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("HTTP client"),
            rules: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            forwarded: AtomicUsize::new(0),
            tampered: AtomicUsize::new(0),
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        (runtime, shared, listener)
    }

    /// The PEM certificate of the CA that issued the HTTPS proxy's certificate.
    ///
    /// # Panics
    /// For a plain HTTP proxy.
    pub fn ca_pem(&self) -> &str {
        self.ca_pem
            .as_deref()
            .expect("an HTTPS proxy (Proxy::start_tls)")
    }

    /// From now on, answers the next `fault.times` requests of `fault.route` with its error.
    pub fn fault(&self, fault: Fault) {
        self.shared.faults.lock().expect("no poisoning").push(fault);
    }

    /// How many requests of `route` the proxy received (answered by a fault or forwarded).
    pub fn seen(&self, route: Route) -> usize {
        self.shared
            .seen
            .lock()
            .expect("no poisoning")
            .iter()
            .filter(|(m, p)| route.matches(m, p))
            .count()
    }

    /// The proxy's URL, to give the CLI as its server.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Forwards to another server from now on, behind the same URL: how a test plays a
    /// server restored from an old backup, answering genuinely from its older state.
    pub fn set_upstream(&self, upstream: &str) {
        *self.shared.upstream.lock().expect("no poisoning") =
            upstream.trim_end_matches('/').to_owned();
    }

    /// Forwards everything unchanged from now on: no rewrite rules, no faults.
    pub fn pass_through(&self) {
        self.shared.rules.lock().expect("no poisoning").clear();
        self.shared.faults.lock().expect("no poisoning").clear();
    }

    /// From now on, rewrites the answers of `route` with `f` (in addition to earlier rules).
    pub fn rewrite(&self, route: Route, f: impl Fn(&[u8]) -> Vec<u8> + Send + Sync + 'static) {
        self.shared
            .rules
            .lock()
            .expect("no poisoning")
            .push((route, Arc::new(f)));
    }

    /// From now on, rewrites the JSON answers of `route` with `f`.
    pub fn rewrite_json(
        &self,
        route: Route,
        f: impl Fn(&mut serde_json::Value) + Send + Sync + 'static,
    ) {
        self.rewrite(route, move |body| {
            let mut v: serde_json::Value =
                serde_json::from_slice(body).expect("the server answered JSON");
            f(&mut v);
            serde_json::to_vec(&v).expect("JSON serializes")
        });
    }

    /// From now on, answers `route` with `body` whatever the server says.
    pub fn replace(&self, route: Route, body: impl Into<Vec<u8>>) {
        let body = body.into();
        self.rewrite(route, move |_| body.clone());
    }

    /// Requests forwarded so far.
    pub fn forwarded(&self) -> usize {
        self.shared.forwarded.load(Ordering::SeqCst)
    }

    /// Answers rewritten so far.
    pub fn tampered(&self) -> usize {
        self.shared.tampered.load(Ordering::SeqCst)
    }
}

/// The fault that answers this request, if one is armed (and counts it down).
fn take_fault(shared: &Shared, method: &Method, path: &str) -> Option<Fault> {
    let mut faults = shared.faults.lock().expect("no poisoning");
    let f = faults
        .iter_mut()
        .find(|f| f.times > 0 && f.route.matches(method, path))?;
    f.times -= 1;
    Some(f.clone())
}

fn fault_response(f: &Fault) -> Response {
    let mut resp = Response::new(Body::from(f.body.clone()));
    *resp.status_mut() = f.status;
    let ct = if f.body.starts_with('{') {
        "application/json"
    } else {
        "text/plain"
    };
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    if let Some(r) = &f.retry_after {
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(r).expect("a header value"),
        );
    }
    resp
}

async fn forward(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    shared
        .seen
        .lock()
        .expect("no poisoning")
        .push((parts.method.clone(), parts.uri.path().to_owned()));
    let fault = take_fault(&shared, &parts.method, parts.uri.path());
    if let Some(f) = fault.as_ref().filter(|f| !f.after_forwarding) {
        return fault_response(f);
    }
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut upstream = shared
        .http
        .request(
            parts.method.clone(),
            format!(
                "{}{path_and_query}",
                shared.upstream.lock().expect("no poisoning")
            ),
        )
        .body(body);
    for (name, value) in &parts.headers {
        if name != header::HOST && name != header::CONTENT_LENGTH && name != header::CONNECTION {
            upstream = upstream.header(name, value);
        }
    }
    let answer = match upstream.send().await {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    shared.forwarded.fetch_add(1, Ordering::SeqCst);
    if let Some(f) = &fault {
        // The server acted on the request; its answer is lost on the way back.
        return fault_response(f);
    }
    let status = answer.status();
    let content_type: Option<HeaderValue> = answer.headers().get(header::CONTENT_TYPE).cloned();
    let mut bytes = match answer.bytes().await {
        Ok(b) => b.to_vec(),
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    if status.is_success() {
        let rules: Vec<Rewrite> = shared
            .rules
            .lock()
            .expect("no poisoning")
            .iter()
            .filter(|(r, _)| r.matches(&parts.method, parts.uri.path()))
            .map(|(_, f)| f.clone())
            .collect();
        for f in &rules {
            bytes = f(&bytes);
        }
        if !rules.is_empty() {
            shared.tampered.fetch_add(1, Ordering::SeqCst);
        }
    }
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    if let Some(ct) = content_type {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    resp
}

/// Accepts TLS connections and serves `app` over HTTP/1.1 on each.
async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
) {
    use tower::ServiceExt;
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(
                move |req: axum::http::Request<hyper::body::Incoming>| {
                    app.clone().oneshot(req.map(Body::new))
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_their_paths_only() {
        let get = Method::GET;
        let post = Method::POST;
        let l = "/api/v1/ledgers/default";
        assert!(Route::Checkpoint.matches(&get, &format!("{l}/checkpoint")));
        assert!(Route::Checkpoint.matches(&get, &format!("{l}/log/checkpoint")));
        assert!(!Route::Checkpoint.matches(&get, &format!("{l}/log/tile/0/000")));
        assert!(Route::Consistency.matches(&get, &format!("{l}/proof/consistency")));
        assert!(!Route::Consistency.matches(&get, &format!("{l}/proof/inclusion")));
        assert!(Route::Artifact.matches(&get, &format!("{l}/artifacts/ab")));
        assert!(!Route::Artifact.matches(&get, &format!("{l}/artifacts/ab/history")));
        assert!(Route::BatchAuthenticate.matches(&post, &format!("{l}/authenticate")));
        assert!(!Route::BatchAuthenticate.matches(&get, &format!("{l}/authenticate")));
        assert!(Route::BatchNotarize.matches(&post, &format!("{l}/entries/batch")));
        assert!(!Route::BatchNotarize.matches(&post, &format!("{l}/entries")));
        assert!(Route::Notarize.matches(&post, &format!("{l}/entries")));
        assert!(!Route::Notarize.matches(&get, &format!("{l}/entries")));
        assert!(!Route::Notarize.matches(&post, &format!("{l}/entries/batch")));
        assert!(!Route::Checkpoint.matches(&get, "/checkpoint"));
    }
}
