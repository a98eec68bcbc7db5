//! The typed HTTP API (docs/http-api.md), with the wire types of [`notarium_core::api`]. Nothing
//! here verifies anything: answers are claims until [`crate::Verifier`] has checked them.
//!
//! A request the server refuses for now (429, 503) is sent again after the wait its
//! `Retry-After` asks for, within a [`RetryPolicy`] — unless it is a write the server may have
//! acted on: a retried notarization must never be recorded twice, so a write is sent again
//! only when the answer proves nothing was done (429 `rate_limited`, 503 `overloaded`: both
//! refused before any handler ran).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use notarium_core::api::{
    AuthenticateRequest, Authentication, BatchAuthentication, BatchReceipts, BatchRequest,
    ConsistencyProof, CreateKey, CreateLedger, ErrorBody, KeyList, LedgerInfo, LedgerList, NewKey,
    Page, RevokedKey, Signers,
};
use notarium_core::{ArtifactRequest, LedgerName, Receipt, Role, Sha256};

use crate::Error;

/// A bearer secret that never shows in `Debug` output or logs.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a secret, trimming surrounding whitespace (as read from a file).
    pub fn new(secret: &str) -> Self {
        ApiKey(secret.trim().to_owned())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Search filters (`GET /ledgers/{l}/entries`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct SearchParams {
    /// Artifact name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Signer key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Recorded status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `key:value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attr: Option<String>,
    /// Lower time bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Upper time bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Cursor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// Page size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// How many times, and how long in all, a refused request is asked again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The most time spent waiting for one request, all retries together. A `Retry-After`
    /// beyond what is left is not waited for at all: the request fails at once.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    /// 5 retries within 60 s: enough to ride out the server's default rate limit (its
    /// `Retry-After` is whole seconds) without hanging a CI job on a server that stays down.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Told before each retry with a line for the user (e.g. `… 429 rate_limited: retrying in 1 s
/// (retry 1 of 5)`), so that a tool can say on stderr why it is waiting.
pub type RetryNotice = Arc<dyn Fn(&str) + Send + Sync>;

/// How a [`Client`] connects: extra trusted CAs, and how refused requests are retried.
#[derive(Clone, Default)]
pub struct ClientOptions {
    /// PEM certificates of CAs trusted besides the system's roots (a server with a
    /// certificate from an internal CA).
    pub ca_pem: Option<Vec<u8>>,
    /// Retries of requests the server refused for now.
    pub retry: RetryPolicy,
    /// Told about each retry.
    pub on_retry: Option<RetryNotice>,
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field("retry", &self.retry)
            .field("on_retry", &self.on_retry.is_some())
            .finish()
    }
}

/// Whether a request may be sent again when the server might have acted on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    /// Reads (GET, and `POST /authenticate`): asking twice changes nothing.
    Read,
    /// Writes: sent again only when the answer proves the server did nothing.
    Write,
}

/// The HTTP client for one server and ledger.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    ledger: String,
    key: Option<ApiKey>,
    options: ClientOptions,
}

impl Client {
    /// A client for `server` (e.g. `http://127.0.0.1:7373`) and `ledger`, with the system's
    /// roots and the default [`RetryPolicy`].
    ///
    /// # Errors
    /// [`Error::Usage`] for a malformed URL or ledger name.
    pub fn new(server: &str, ledger: &str, key: Option<ApiKey>) -> Result<Self, Error> {
        Client::with_options(server, ledger, key, ClientOptions::default())
    }

    /// [`Client::new`] with `options`.
    ///
    /// # Errors
    /// [`Error::Usage`] for a malformed URL or ledger name, or a CA bundle without a PEM
    /// certificate.
    pub fn with_options(
        server: &str,
        ledger: &str,
        key: Option<ApiKey>,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        let mut base =
            Url::parse(server).map_err(|e| Error::Usage(format!("server URL {server:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Usage(format!(
                "server URL must be http(s): {server}"
            )));
        }
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        notarium_core::LedgerName::new(ledger).map_err(|e| Error::Usage(e.to_string()))?;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("notarium/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120));
        if let Some(pem) = &options.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Error::Usage(format!("CA bundle: {}", cause_chain(&e))))?;
            if certs.is_empty() {
                return Err(Error::Usage("CA bundle: no PEM certificate in it".into()));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder
            .build()
            .map_err(|e| Error::Usage(format!("HTTP client: {}", cause_chain(&e))))?;
        Ok(Client {
            http,
            base,
            ledger: ledger.to_owned(),
            key,
            options,
        })
    }

    /// The same client (server, key, options, connections) for another ledger.
    ///
    /// # Errors
    /// [`Error::Usage`] for a malformed ledger name.
    pub fn for_ledger(&self, ledger: &str) -> Result<Client, Error> {
        notarium_core::LedgerName::new(ledger).map_err(|e| Error::Usage(e.to_string()))?;
        Ok(Client {
            ledger: ledger.to_owned(),
            ..self.clone()
        })
    }

    /// The server's base URL.
    pub fn server(&self) -> &Url {
        &self.base
    }

    /// The ledger name.
    pub fn ledger(&self) -> &str {
        &self.ledger
    }

    fn url(&self, path: &str) -> Result<Url, Error> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::Usage(e.to_string()))
    }

    fn ledger_path(&self, rest: &str) -> String {
        format!("api/v1/ledgers/{}{rest}", self.ledger)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        effect: Effect,
    ) -> Result<reqwest::Response, Error> {
        let url = self.url(path)?;
        let policy = self.options.retry;
        let (mut retries, mut waited) = (0u32, Duration::ZERO);
        loop {
            let mut req = self.http.request(method.clone(), url.clone());
            if let Some(k) = &self.key {
                req = req.bearer_auth(&k.0);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|e| unreachable(&url, e, effect))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let text = resp.text().await.unwrap_or_default();
            let (code, mut message) = match serde_json::from_str::<ErrorBody>(&text) {
                Ok(b) => (b.error.code, b.error.message),
                Err(_) => ("http_error".to_owned(), text.chars().take(200).collect()),
            };
            let refused = status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE;
            if refused {
                match retry_decision(
                    status,
                    &code,
                    effect,
                    retry_after.as_deref(),
                    retries,
                    waited,
                    policy,
                ) {
                    Decision::Wait(delay) => {
                        retries += 1;
                        waited += delay;
                        if let Some(notice) = &self.options.on_retry {
                            notice(&format!(
                                "{} {}: {} {code}: retrying in {} s (retry {retries} of {})",
                                method,
                                url.path(),
                                status.as_u16(),
                                delay.as_secs(),
                                policy.max_retries
                            ));
                        }
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    Decision::GiveUp(why) => message = format!("{message} ({why})"),
                }
            }
            return Err(Error::Api {
                url: url.to_string(),
                status: status.as_u16(),
                code,
                message,
            });
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, Error> {
        let effect = if method == Method::GET {
            Effect::Read
        } else {
            Effect::Write
        };
        self.json_as(method, path, body, effect).await
    }

    async fn json_as<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        effect: Effect,
    ) -> Result<T, Error> {
        let resp = self.send(method, path, body, effect).await?;
        let url = resp.url().to_string();
        let bytes = resp.bytes().await.map_err(|e| Error::Unreachable {
            url: url.clone(),
            cause: cause_chain(&e),
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Tampering(format!("malformed answer from {url}: {e}")))
    }

    async fn bytes(&self, path: &str) -> Result<Vec<u8>, Error> {
        let resp = self.send(Method::GET, path, None, Effect::Read).await?;
        let url = resp.url().to_string();
        Ok(resp
            .bytes()
            .await
            .map_err(|e| Error::Unreachable {
                url,
                cause: cause_chain(&e),
            })?
            .to_vec())
    }

    /// `GET /ledgers/{l}`.
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn ledger_info(&self) -> Result<LedgerInfo, Error> {
        self.json(Method::GET, &self.ledger_path(""), None).await
    }

    /// `POST /ledgers/{l}/entries`.
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn notarize(&self, req: &ArtifactRequest) -> Result<Receipt, Error> {
        let body = to_value(req)?;
        self.json(Method::POST, &self.ledger_path("/entries"), Some(&body))
            .await
    }

    /// `POST /ledgers/{l}/entries/batch` (at most the server's `batch_max_entries`).
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn notarize_batch(&self, reqs: &[ArtifactRequest]) -> Result<Vec<Receipt>, Error> {
        let body = to_value(&BatchRequest {
            entries: reqs.to_vec(),
        })?;
        let r: BatchReceipts = self
            .json(
                Method::POST,
                &self.ledger_path("/entries/batch"),
                Some(&body),
            )
            .await?;
        Ok(r.receipts)
    }

    /// `GET /ledgers/{l}/artifacts/{sha256}?signer=…`.
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn authenticate(
        &self,
        sha: &Sha256,
        signers: &[String],
    ) -> Result<Authentication, Error> {
        let mut path = self.ledger_path(&format!("/artifacts/{sha}"));
        if !signers.is_empty() {
            let q: Vec<String> = signers
                .iter()
                .map(|s| format!("signer={}", urlencode(s)))
                .collect();
            path = format!("{path}?{}", q.join("&"));
        }
        self.json(Method::GET, &path, None).await
    }

    /// `POST /ledgers/{l}/authenticate`.
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn authenticate_many(
        &self,
        hashes: &[Sha256],
        signers: &[String],
        fresh: bool,
    ) -> Result<BatchAuthentication, Error> {
        // The signer policy is evaluated here, on verified entries (`crate::identity`), never
        // asked of the server: its answer would be a claim, and older servers refuse the fields.
        let body = to_value(&AuthenticateRequest {
            sha256: hashes.to_vec(),
            signer: (!signers.is_empty()).then(|| Signers::Many(signers.to_vec())),
            fresh,
            signer_issuer: None,
            signer_repository: None,
            signer_workflow: None,
            signer_ref: None,
        })?;
        // A POST only because a list of hashes does not fit a URL: it changes nothing.
        self.json_as(
            Method::POST,
            &self.ledger_path("/authenticate"),
            Some(&body),
            Effect::Read,
        )
        .await
    }

    /// `GET /ledgers/{l}/artifacts/{sha256}/history`.
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn history(&self, sha: &Sha256, after: Option<u64>) -> Result<Page, Error> {
        let mut path = self.ledger_path(&format!("/artifacts/{sha}/history"));
        if let Some(a) = after {
            path.push_str(&format!("?after={a}"));
        }
        self.json(Method::GET, &path, None).await
    }

    /// `GET /ledgers/{l}/entries?…`.
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn search(&self, params: &SearchParams) -> Result<Page, Error> {
        let q = serde_json::to_value(params).map_err(|e| Error::Usage(e.to_string()))?;
        let pairs: Vec<String> = q
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    urlencode(&v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                )
            })
            .collect();
        let path = format!("{}?{}", self.ledger_path("/entries"), pairs.join("&"));
        self.json(Method::GET, &path, None).await
    }

    /// `GET /ledgers/{l}/entries/{index}`.
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn entry(&self, index: u64) -> Result<Receipt, Error> {
        self.json(
            Method::GET,
            &self.ledger_path(&format!("/entries/{index}")),
            None,
        )
        .await
    }

    /// `GET /ledgers/{l}/checkpoint`: the signed note, unverified.
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn checkpoint(&self) -> Result<String, Error> {
        let b = self.bytes(&self.ledger_path("/checkpoint")).await?;
        String::from_utf8(b).map_err(|_| Error::Tampering("checkpoint is not UTF-8".into()))
    }

    /// `GET /ledgers/{l}/proof/consistency?from=&to=`.
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn consistency(&self, from: u64, to: u64) -> Result<ConsistencyProof, Error> {
        self.json(
            Method::GET,
            &self.ledger_path(&format!("/proof/consistency?from={from}&to={to}")),
            None,
        )
        .await
    }

    /// `GET /ledgers/{l}/proof/inclusion?index=&size=`.
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn inclusion(
        &self,
        index: u64,
        size: u64,
    ) -> Result<notarium_core::api::InclusionProof, Error> {
        self.json(
            Method::GET,
            &self.ledger_path(&format!("/proof/inclusion?index={index}&size={size}")),
            None,
        )
        .await
    }

    /// A C2SP tile or entry bundle under `/log/`, e.g. `tile/0/x001/234.p/7`.
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn log_file(&self, path: &str) -> Result<Vec<u8>, Error> {
        self.bytes(&self.ledger_path(&format!("/log/{path}"))).await
    }

    /// `GET /ledgers` (admin).
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn list_ledgers(&self) -> Result<LedgerList, Error> {
        self.json(Method::GET, "api/v1/ledgers", None).await
    }

    /// `POST /ledgers` (admin).
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn create_ledger(&self, name: &str, public_read: bool) -> Result<LedgerInfo, Error> {
        let name = LedgerName::new(name).map_err(|e| Error::Usage(e.to_string()))?;
        let body = to_value(&CreateLedger { name, public_read })?;
        self.json(Method::POST, "api/v1/ledgers", Some(&body)).await
    }

    /// `GET /ledgers/{l}/keys` (admin).
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn list_keys(&self) -> Result<KeyList, Error> {
        self.json(Method::GET, &self.ledger_path("/keys"), None)
            .await
    }

    /// `POST /ledgers/{l}/keys` (admin).
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn create_key(&self, name: &str, role: Role) -> Result<NewKey, Error> {
        let body = to_value(&CreateKey {
            name: name.to_owned(),
            role,
        })?;
        self.json(Method::POST, &self.ledger_path("/keys"), Some(&body))
            .await
    }

    /// `DELETE /ledgers/{l}/keys/{id}` (admin).
    ///
    /// # Errors
    /// Network and API errors.
    pub async fn revoke_key(&self, id: &str) -> Result<RevokedKey, Error> {
        self.json(
            Method::DELETE,
            &self.ledger_path(&format!("/keys/{}", urlencode(id))),
            None,
        )
        .await
    }
}

fn to_value(v: &impl Serialize) -> Result<serde_json::Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::Usage(e.to_string()))
}

/// Percent-encodes a query or path component.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// What to do with a refused request.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Ask again after this long.
    Wait(Duration),
    /// Fail, for this reason (appended to the server's message).
    GiveUp(String),
}

/// Whether to ask again after a 429 or 503, and when. A write is asked again only when the
/// answer proves nothing was done: 429 (a rate limit refuses before the request is handled)
/// or 503 `overloaded` (the server's gate refused it before any handler ran). A 503 `timeout`
/// may come after the entry was recorded, a 503 `storage_unavailable` after a commit whose
/// error does not prove it was not made durable, and a 503 from a gateway says nothing about
/// the server behind it: sending those again could record a notarization twice.
fn retry_decision(
    status: StatusCode,
    code: &str,
    effect: Effect,
    retry_after: Option<&str>,
    retries: u32,
    waited: Duration,
    policy: RetryPolicy,
) -> Decision {
    let refused_before_acting = status == StatusCode::TOO_MANY_REQUESTS || code == "overloaded";
    if effect == Effect::Write && !refused_before_acting {
        return Decision::GiveUp(
            "not sent again: the server may have acted on it; after a notarization, check \
             with `notarium authenticate` before notarizing again"
                .into(),
        );
    }
    if retries >= policy.max_retries {
        return Decision::GiveUp(format!("gave up after {retries} retries"));
    }
    // Delta-seconds (RFC 9110 §10.2.3); an HTTP date or no header: one second.
    let delay = retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(1), Duration::from_secs);
    if waited + delay > policy.max_wait {
        return Decision::GiveUp(format!(
            "gave up: the server asks to retry in {} s, beyond the {} s this client waits \
             for one request",
            delay.as_secs(),
            policy.max_wait.as_secs()
        ));
    }
    Decision::Wait(delay)
}

/// A request that got no answer. For a write, whether the server acted on it is unknown
/// unless the connection was never made: the error says so, and it is not sent again.
fn unreachable(url: &Url, e: reqwest::Error, effect: Effect) -> Error {
    let connect = e.is_connect();
    let mut cause = cause_chain(&e.without_url());
    if cause.contains("certificate") {
        cause.push_str(
            " (a server certificate from a private CA? give its PEM bundle with --ca-file or \
             NOTARIUM_CA_FILE)",
        );
    }
    if effect == Effect::Write && !connect {
        cause.push_str(
            "; the server may still have acted on it: after a notarization, check with \
             `notarium authenticate` before notarizing again",
        );
    }
    Error::Unreachable {
        url: url.to_string(),
        cause,
    }
}

fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Attributes as `k=v` pairs from the command line.
///
/// # Errors
/// [`Error::Usage`] for a pair without `=`.
pub fn parse_attrs(pairs: &[String]) -> Result<BTreeMap<String, String>, Error> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| Error::Usage(format!("--attr {p:?} must be key=value")))
        })
        .collect()
}

/// An attribute filter for search as the server takes it (`key:value`), from `key=value` (as
/// `notarize --attr` writes it) or `key:value`. Attribute keys hold neither `=` nor `:`, so
/// the first of them ends the key; the value may hold both.
///
/// # Errors
/// [`Error::Usage`] without a key or a separator.
pub fn attr_filter(filter: &str) -> Result<String, Error> {
    let bad = || {
        Error::Usage(format!(
            "--attr {filter:?} must be key=value (or key:value)"
        ))
    };
    let at = filter.find(['=', ':']).ok_or_else(bad)?;
    let (key, value) = (&filter[..at], &filter[at + 1..]);
    if key.is_empty() {
        return Err(bad());
    }
    Ok(format!("{key}:{value}"))
}

/// Whether an HTTP status is the server's fault (exit 6) rather than the request's.
pub fn is_server_error(status: u16) -> bool {
    StatusCode::from_u16(status).is_ok_and(|s| s.is_server_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_filters_take_either_separator() {
        for (given, sent) in [
            ("version=1.2.3", "version:1.2.3"),
            ("version:1.2.3", "version:1.2.3"),
            ("url=https://h:1/?a=b", "url:https://h:1/?a=b"),
            ("url:https://h:1/?a=b", "url:https://h:1/?a=b"),
            ("empty=", "empty:"),
        ] {
            assert_eq!(attr_filter(given).unwrap(), sent, "{given}");
        }
        for bad in ["version", "=1", ":1", ""] {
            assert!(matches!(attr_filter(bad), Err(Error::Usage(_))), "{bad:?}");
        }
    }

    fn decide(status: u16, code: &str, effect: Effect, after: Option<&str>) -> Decision {
        retry_decision(
            StatusCode::from_u16(status).unwrap(),
            code,
            effect,
            after,
            0,
            Duration::ZERO,
            RetryPolicy::default(),
        )
    }

    #[test]
    fn reads_wait_as_asked() {
        let secs = |s| Decision::Wait(Duration::from_secs(s));
        assert_eq!(
            decide(429, "rate_limited", Effect::Read, Some("3")),
            secs(3)
        );
        assert_eq!(decide(503, "timeout", Effect::Read, Some(" 2 ")), secs(2));
        assert_eq!(decide(503, "http_error", Effect::Read, None), secs(1));
        assert_eq!(
            decide(
                503,
                "http_error",
                Effect::Read,
                Some("Wed, 21 Oct 2015 07:28:00 GMT")
            ),
            secs(1)
        );
    }

    #[test]
    fn writes_are_sent_again_only_when_nothing_was_done() {
        let wait = Decision::Wait(Duration::from_secs(1));
        assert_eq!(decide(429, "rate_limited", Effect::Write, Some("1")), wait);
        assert_eq!(decide(429, "http_error", Effect::Write, Some("1")), wait);
        assert_eq!(decide(503, "overloaded", Effect::Write, Some("1")), wait);
        for code in ["timeout", "storage_unavailable", "not_ready", "http_error"] {
            assert!(
                matches!(decide(503, code, Effect::Write, Some("1")), Decision::GiveUp(w) if w.contains("not sent again")),
                "{code}"
            );
        }
    }

    #[test]
    fn retries_are_bounded_in_number_and_time() {
        let p = RetryPolicy::default();
        // As the README and the end-to-end tests say.
        assert_eq!((p.max_retries, p.max_wait), (5, Duration::from_secs(60)));
        let at = |retries, waited: u64, after: &str| {
            retry_decision(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                Effect::Read,
                Some(after),
                retries,
                Duration::from_secs(waited),
                p,
            )
        };
        assert!(matches!(at(p.max_retries - 1, 0, "1"), Decision::Wait(_)));
        assert!(
            matches!(at(p.max_retries, 0, "1"), Decision::GiveUp(w) if w.contains("gave up after"))
        );
        let budget = p.max_wait.as_secs();
        assert!(matches!(at(1, budget - 1, "1"), Decision::Wait(_)));
        assert!(
            matches!(at(1, budget - 1, "2"), Decision::GiveUp(w) if w.contains("retry in 2 s"))
        );
        assert!(matches!(at(0, 0, "3600"), Decision::GiveUp(w) if w.contains("3600")));
        assert!(matches!(
            retry_decision(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                Effect::Read,
                Some("0"),
                0,
                Duration::ZERO,
                RetryPolicy {
                    max_retries: 0,
                    max_wait: Duration::ZERO
                }
            ),
            Decision::GiveUp(_)
        ));
    }
}
