//! The typed HTTP API (docs/http-api.md), with the wire types of [`notarium_core::api`]. Nothing
//! here verifies anything: answers are claims until [`crate::Verifier`] has checked them.

use std::collections::BTreeMap;
use std::fmt;
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

/// The HTTP client for one server and ledger.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    ledger: String,
    key: Option<ApiKey>,
}

impl Client {
    /// A client for `server` (e.g. `http://127.0.0.1:7373`) and `ledger`.
    ///
    /// # Errors
    /// [`Error::Usage`] for a malformed URL or ledger name.
    pub fn new(server: &str, ledger: &str, key: Option<ApiKey>) -> Result<Self, Error> {
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
        let http = reqwest::Client::builder()
            .user_agent(concat!("notarium/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| Error::Usage(format!("HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            ledger: ledger.to_owned(),
            key,
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
    ) -> Result<reqwest::Response, Error> {
        let url = self.url(path)?;
        let mut req = self.http.request(method, url.clone());
        if let Some(k) = &self.key {
            req = req.bearer_auth(&k.0);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| Error::Unreachable {
            url: url.to_string(),
            cause: cause_chain(&e.without_url()),
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => (b.error.code, b.error.message),
            Err(_) => ("http_error".to_owned(), text.chars().take(200).collect()),
        };
        Err(Error::Api {
            url: url.to_string(),
            status: status.as_u16(),
            code,
            message,
        })
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, Error> {
        let resp = self.send(method, path, body).await?;
        let url = resp.url().to_string();
        let bytes = resp.bytes().await.map_err(|e| Error::Unreachable {
            url: url.clone(),
            cause: cause_chain(&e),
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Tampering(format!("malformed answer from {url}: {e}")))
    }

    async fn bytes(&self, path: &str) -> Result<Vec<u8>, Error> {
        let resp = self.send(Method::GET, path, None).await?;
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
        self.json(
            Method::POST,
            &self.ledger_path("/authenticate"),
            Some(&body),
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

/// Whether an HTTP status is the server's fault (exit 6) rather than the request's.
pub fn is_server_error(status: u16) -> bool {
    StatusCode::from_u16(status).is_ok_and(|s| s.is_server_error())
}
