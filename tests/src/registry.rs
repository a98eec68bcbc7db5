//! Real container registries on 127.0.0.1 for the image-subject tests (`tests/tests/oci.rs`):
//!
//! - [`Registry::distribution`]: Debian's `docker-registry` (the CNCF distribution registry
//!   2.8, which has no referrers API) with filesystem storage in a temporary directory,
//!   anonymous, behind htpasswd basic auth, or behind docker's token authentication with a
//!   token server run here ([`TokenServer`]: basic credentials in, an ES256 JWT that the
//!   registry trusts out, signed by a certificate made at run time and given to the registry
//!   as its `rootcertbundle`); optionally over TLS with a CA made at run time ([`TestCa`]).
//! - [`Registry::with_referrers`]: `notarium-referrers-registry` (`tests/referrers-registry`:
//!   go-containerregistry's registry with its OCI 1.1 referrers API switched on).
//!
//! Images are pushed through the distribution API with this module's own small client
//! ([`Registry::push_image`], [`Registry::push_index`], [`Registry::push_manifest`]), not
//! with the code under test. Both tools are installed by `.ci/install-registry.sh`; without
//! them the constructors return `None` after printing `SKIPPED` (and panic when `CI` is set).
//! Readiness is the registry's "listening" log line, read with a deadline; nothing sleeps.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use notarium_core::Sha256;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::ci_plugins::require_tool;
use crate::random_hex;

/// How long a registry may take to say it listens.
pub const REGISTRY_START_DEADLINE: Duration = Duration::from_secs(60);

/// The user every authenticated test registry knows.
pub const USER: &str = "notarium-ci";

/// The `service` of the token-auth registries (the JWT audience).
pub const TOKEN_SERVICE: &str = "notarium-test-registry";

/// The issuer of the test token server's JWTs.
const TOKEN_ISSUER: &str = "notarium-test-token-server";

/// OCI media types the pushed images use.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// How a distribution registry authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Anyone may pull and push.
    None,
    /// htpasswd (bcrypt) basic auth for [`USER`].
    Htpasswd,
    /// docker's token authentication against a [`TokenServer`] that knows [`USER`].
    Token,
    /// Token authentication whose realm is the given URL, for tests of where a client may be
    /// sent; no token server runs.
    TokenRealm(String),
}

/// A CA made at run time and a server certificate for 127.0.0.1 and localhost signed by it.
pub struct TestCa {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
}

impl TestCa {
    /// A fresh CA and server certificate (ECDSA P-256).
    ///
    /// # Panics
    /// When rcgen fails, which it does not for these parameters.
    pub fn new() -> TestCa {
        let alg = &rcgen::PKCS_ECDSA_P256_SHA256;
        let ca_key = rcgen::KeyPair::generate_for(alg).expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "notarium test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");
        let key = rcgen::KeyPair::generate_for(alg).expect("server key");
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("server params");
        let cert = params.signed_by(&key, &ca).expect("server certificate");
        TestCa {
            ca_pem: ca.pem(),
            server_cert_pem: cert.pem(),
            server_key_pem: key.serialize_pem(),
        }
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

/// What the registry binary is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Distribution,
    Referrers,
}

/// A running registry on 127.0.0.1 with its storage in a temporary directory. Killed on drop.
pub struct Registry {
    child: Option<Child>,
    dir: TempDir,
    host: String,
    scheme: &'static str,
    kind: Kind,
    auth: Auth,
    password: String,
    token: Option<TokenServer>,
    http: reqwest::Client,
}

impl Registry {
    /// Starts Debian's `docker-registry` (no referrers API) with `auth`, over TLS with `tls`'s
    /// server certificate when given. `None` (after printing `SKIPPED`) when it is not
    /// installed.
    ///
    /// # Panics
    /// When it does not start, or when it is missing and `CI` is set.
    pub async fn distribution(auth: Auth, tls: Option<&TestCa>) -> Option<Registry> {
        let bin = require_tool("docker-registry", "registry")?;
        let dir = temp_dir("notarium-registry-");
        let password = format!("pw-{}", random_hex(8));
        let mut auth_yaml = String::new();
        let mut token = None;
        match &auth {
            Auth::None => {}
            Auth::Htpasswd => {
                let hash = bcrypt::hash(&password, 4).expect("bcrypt");
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, format!("{USER}:{hash}\n")).expect("htpasswd file");
                auth_yaml = format!(
                    "auth:\n  htpasswd:\n    realm: notarium-test\n    path: {}\n",
                    path.display()
                );
            }
            Auth::Token | Auth::TokenRealm(_) => {
                let server = TokenServer::start(&password).await;
                let bundle = dir.path().join("token-signer.pem");
                std::fs::write(&bundle, &server.cert_pem).expect("rootcertbundle");
                let realm = match &auth {
                    Auth::TokenRealm(r) => r.clone(),
                    _ => server.realm(),
                };
                auth_yaml = format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                    bundle.display()
                );
                token = Some(server);
            }
        }
        let mut tls_yaml = String::new();
        if let Some(ca) = tls {
            let cert = dir.path().join("server.pem");
            let key = dir.path().join("server.key");
            std::fs::write(&cert, &ca.server_cert_pem).expect("server cert");
            std::fs::write(&key, &ca.server_key_pem).expect("server key");
            tls_yaml = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            );
        }
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n  secret: {}\n{tls_yaml}{auth_yaml}",
            dir.path().join("data").display(),
            random_hex(16)
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("registry config");
        let mut cmd = Command::new(bin);
        cmd.arg("serve").arg(&config_path);
        let (child, host) = spawn(cmd, &dir, "listening on ");
        let mut http = reqwest::Client::builder().no_proxy();
        if let Some(ca) = tls {
            http = http.add_root_certificate(
                reqwest::Certificate::from_pem(ca.ca_pem.as_bytes()).expect("CA PEM"),
            );
        }
        Some(Registry {
            child: Some(child),
            dir,
            host,
            scheme: if tls.is_some() { "https" } else { "http" },
            kind: Kind::Distribution,
            auth,
            password,
            token,
            http: http.build().expect("HTTP client"),
        })
    }

    /// Starts `notarium-referrers-registry`, a registry with the OCI 1.1 referrers API
    /// (anonymous, manifests in memory, blobs on disk in a temporary directory). `None`
    /// (after printing `SKIPPED`) when it is not installed.
    ///
    /// # Panics
    /// When it does not start, or when it is missing and `CI` is set.
    pub async fn with_referrers() -> Option<Registry> {
        let bin = require_tool("notarium-referrers-registry", "registry")?;
        let dir = temp_dir("notarium-referrers-registry-");
        let blobs = dir.path().join("blobs");
        std::fs::create_dir_all(&blobs).expect("blob directory");
        let mut cmd = Command::new(bin);
        cmd.args(["--address", "127.0.0.1:0", "--disk"]).arg(&blobs);
        let (child, host) = spawn(cmd, &dir, "listening on ");
        Some(Registry {
            child: Some(child),
            dir,
            host,
            scheme: "http",
            kind: Kind::Referrers,
            auth: Auth::None,
            password: String::new(),
            token: None,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("HTTP client"),
        })
    }

    /// `127.0.0.1:PORT`, as a reference's registry.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `oci://127.0.0.1:PORT/REPO:TAG` (or `@sha256:…` when `reference` is a digest).
    pub fn subject(&self, repo: &str, reference: &str) -> String {
        let sep = if reference.starts_with("sha256:") {
            '@'
        } else {
            ':'
        };
        format!("oci://{}/{repo}{sep}{reference}", self.host)
    }

    /// The password of [`USER`] (empty for anonymous registries).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The registry's storage root (distribution's filesystem driver).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Where distribution stores the blob (or manifest) with `digest` (`sha256:…`).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        assert_eq!(
            self.kind,
            Kind::Distribution,
            "only distribution's layout is known"
        );
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// The registry's log so far (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Pushes a single-platform image under `tag`: a config naming the platform and one layer
    /// derived from `seed`, so that different seeds give different digests. Returns the
    /// manifest digest.
    ///
    /// # Panics
    /// When the registry refuses.
    pub async fn push_image(
        &self,
        repo: &str,
        tag: &str,
        seed: &str,
        platform: (&str, &str, Option<&str>),
    ) -> String {
        let bytes = self
            .image_manifest(repo, seed, platform, OCI_MANIFEST)
            .await;
        self.push_manifest(repo, tag, &bytes, OCI_MANIFEST).await
    }

    /// Pushes one image per platform, then an index of them under `tag` (an OCI index, or a
    /// Docker manifest list when `docker` is set), plus — when `attestation` is set — a
    /// buildx-style attestation manifest (`unknown/unknown`). Returns the index digest and
    /// the platform manifests' digests in order.
    ///
    /// # Panics
    /// When the registry refuses.
    pub async fn push_index(
        &self,
        repo: &str,
        tag: &str,
        platforms: &[(&str, &str, Option<&str>)],
        docker: bool,
        attestation: bool,
    ) -> (String, Vec<String>) {
        let (index_type, manifest_type) = if docker {
            (DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)
        } else {
            (OCI_INDEX, OCI_MANIFEST)
        };
        let mut entries = Vec::new();
        let mut digests = Vec::new();
        for &p in platforms {
            let seed = format!("{tag}-{}-{}-{}", p.0, p.1, p.2.unwrap_or(""));
            let bytes = self.image_manifest(repo, &seed, p, manifest_type).await;
            let digest = self
                .push_manifest(repo, &digest_of(&bytes), &bytes, manifest_type)
                .await;
            let mut platform = json!({"os": p.0, "architecture": p.1});
            if let Some(v) = p.2 {
                platform["variant"] = json!(v);
            }
            entries.push(json!({"mediaType": manifest_type, "digest": digest, "size": bytes.len(), "platform": platform}));
            digests.push(digest);
        }
        if attestation {
            let bytes = self
                .image_manifest(
                    repo,
                    &format!("{tag}-attestation"),
                    ("unknown", "unknown", None),
                    manifest_type,
                )
                .await;
            let digest = self
                .push_manifest(repo, &digest_of(&bytes), &bytes, manifest_type)
                .await;
            entries.push(json!({
                "mediaType": manifest_type, "digest": digest, "size": bytes.len(),
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": digests[0]},
            }));
        }
        let index = json!({"schemaVersion": 2, "mediaType": index_type, "manifests": entries});
        let bytes = serde_json::to_vec(&index).expect("JSON");
        let digest = self.push_manifest(repo, tag, &bytes, index_type).await;
        (digest, digests)
    }

    /// Uploads a blob (skipping none: a re-upload is harmless). Returns its digest.
    ///
    /// # Panics
    /// When the registry refuses.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = digest_of(bytes);
        let scope = format!("repository:{repo}:pull,push");
        let start = self
            .request(
                reqwest::Method::POST,
                &format!("v2/{repo}/blobs/uploads/"),
                &scope,
            )
            .send()
            .await
            .expect("upload starts");
        assert_eq!(
            start.status(),
            StatusCode::ACCEPTED,
            "upload start: {}",
            start.text().await.unwrap_or_default()
        );
        let location = start.headers()["location"]
            .to_str()
            .expect("Location")
            .to_owned();
        let base =
            reqwest::Url::parse(&format!("{}://{}/", self.scheme, self.host)).expect("base URL");
        let mut url = base.join(&location).expect("upload URL");
        url.query_pairs_mut().append_pair("digest", &digest);
        let put = self
            .authorize(self.http.put(url), &scope)
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload completes");
        assert_eq!(
            put.status(),
            StatusCode::CREATED,
            "upload: {}",
            put.text().await.unwrap_or_default()
        );
        digest
    }

    /// Pushes manifest `bytes` under `reference` (a tag or digest) with `media_type`.
    /// Returns the digest of the bytes.
    ///
    /// # Panics
    /// When the registry refuses.
    pub async fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> String {
        let scope = format!("repository:{repo}:pull,push");
        let resp = self
            .request(
                reqwest::Method::PUT,
                &format!("v2/{repo}/manifests/{reference}"),
                &scope,
            )
            .header("content-type", media_type)
            .body(bytes.to_vec())
            .send()
            .await
            .expect("manifest push");
        let status = resp.status();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "manifest push: {}\n{}",
            resp.text().await.unwrap_or_default(),
            self.log()
        );
        digest_of(bytes)
    }

    /// `GET` a manifest as the registry stores it: `None` for 404.
    ///
    /// # Panics
    /// For any other failure.
    pub async fn get_manifest(&self, repo: &str, reference: &str) -> Option<Vec<u8>> {
        let scope = format!("repository:{repo}:pull");
        let resp = self
            .request(
                reqwest::Method::GET,
                &format!("v2/{repo}/manifests/{reference}"),
                &scope,
            )
            .header(
                "accept",
                format!("{OCI_INDEX}, {DOCKER_MANIFEST_LIST}, {OCI_MANIFEST}, {DOCKER_MANIFEST}"),
            )
            .send()
            .await
            .expect("manifest get");
        if resp.status() == StatusCode::NOT_FOUND {
            return None;
        }
        assert!(
            resp.status().is_success(),
            "manifest get: {}",
            resp.status()
        );
        Some(resp.bytes().await.expect("manifest body").to_vec())
    }

    async fn image_manifest(
        &self,
        repo: &str,
        seed: &str,
        platform: (&str, &str, Option<&str>),
        media_type: &str,
    ) -> Vec<u8> {
        let docker = media_type == DOCKER_MANIFEST;
        let layer = format!("layer of {seed}").into_bytes();
        let layer_digest = self.push_blob(repo, &layer).await;
        let mut config = json!({
            "architecture": platform.1, "os": platform.0,
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            "config": {"Labels": {"seed": seed}},
        });
        if let Some(v) = platform.2 {
            config["variant"] = json!(v);
        }
        let config = serde_json::to_vec(&config).expect("JSON");
        let config_digest = self.push_blob(repo, &config).await;
        let (config_type, layer_type) = if docker {
            (
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            )
        } else {
            (
                "application/vnd.oci.image.config.v1+json",
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        };
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {"mediaType": config_type, "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": layer_type, "digest": layer_digest, "size": layer.len()}],
        }))
        .expect("JSON")
    }

    fn request(&self, method: reqwest::Method, path: &str, scope: &str) -> reqwest::RequestBuilder {
        let url = format!("{}://{}/{path}", self.scheme, self.host);
        self.authorize(self.http.request(method, url), scope)
    }

    /// The harness authenticates as an administrator would: basic auth, or a token it mints
    /// itself for token-auth registries.
    fn authorize(&self, req: reqwest::RequestBuilder, scope: &str) -> reqwest::RequestBuilder {
        match (&self.auth, &self.token) {
            (Auth::Htpasswd, _) => req.basic_auth(USER, Some(&self.password)),
            (Auth::Token | Auth::TokenRealm(_), Some(t)) => {
                req.bearer_auth(t.mint(USER, &[scope.to_owned()]))
            }
            _ => req,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// docker's token server, as far as the registry and a client need it: `GET /token` with
/// basic credentials of [`USER`] answers `{"token": JWT}` granting the scopes asked for;
/// wrong or missing credentials get 401. The JWT is ES256, with the signing certificate in
/// its `x5c` header; the registry trusts that certificate through its `rootcertbundle`.
pub struct TokenServer {
    addr: std::net::SocketAddr,
    cert_pem: String,
    signer: Arc<Signer>,
    task: tokio::task::JoinHandle<()>,
}

struct Signer {
    key: EcdsaKeyPair,
    cert_der_b64: String,
    password: String,
}

impl TokenServer {
    /// Starts a token server on 127.0.0.1 (on the current tokio runtime) that accepts
    /// [`USER`] with `password`.
    ///
    /// # Panics
    /// When it cannot bind.
    pub async fn start(password: &str) -> TokenServer {
        let alg = &rcgen::PKCS_ECDSA_P256_SHA256;
        let key = rcgen::KeyPair::generate_for(alg).expect("token key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("token params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "notarium test token signer");
        let cert = params.self_signed(&key).expect("token certificate");
        let ring_key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &SystemRandom::new(),
        )
        .expect("ring reads rcgen's PKCS#8");
        let signer = Arc::new(Signer {
            key: ring_key,
            cert_der_b64: base64::engine::general_purpose::STANDARD.encode(cert.der()),
            password: password.to_owned(),
        });
        let app = Router::new()
            .route("/token", get(token))
            .with_state(signer.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TokenServer {
            addr,
            cert_pem: cert.pem(),
            signer,
            task,
        }
    }

    /// The realm URL registries send clients to.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// A token for `subject` with `scopes` (`repository:NAME:ACTIONS`).
    pub fn mint(&self, subject: &str, scopes: &[String]) -> String {
        self.signer.mint(subject, scopes)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Signer {
    fn mint(&self, subject: &str, scopes: &[String]) -> String {
        let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let access: Vec<Value> = scopes
            .iter()
            .filter_map(|s| {
                let mut parts = s.splitn(3, ':');
                let (kind, rest) = (parts.next()?, parts.collect::<Vec<_>>());
                // A repository name has no ':', but it may follow `NAME:ACTIONS` only.
                let (name, actions) = match rest.as_slice() {
                    [name, actions] => (*name, *actions),
                    _ => return None,
                };
                Some(json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
            })
            .collect();
        let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [self.cert_der_b64]});
        let claims = json!({
            "iss": TOKEN_ISSUER, "sub": subject, "aud": TOKEN_SERVICE,
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": random_hex(8),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            b64(&serde_json::to_vec(&header).expect("JSON")),
            b64(&serde_json::to_vec(&claims).expect("JSON"))
        );
        let sig = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .expect("ES256 signature");
        format!("{signing_input}.{}", b64(sig.as_ref()))
    }
}

async fn token(
    State(signer): State<Arc<Signer>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{}", signer.password))
    );
    let given = headers.get("authorization").and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        let body = json!({"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let service = q
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.as_str());
    if service != Some(TOKEN_SERVICE) {
        return (StatusCode::BAD_REQUEST, "unknown service").into_response();
    }
    let scopes: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.clone())
        .collect();
    let jwt = signer.mint(USER, &scopes);
    Json(json!({"token": jwt, "access_token": jwt, "expires_in": 300})).into_response()
}

/// `sha256:` and the hex SHA-256 of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", Sha256::of(bytes).to_hex())
}

/// A docker `config.json` in a new directory with `auths[registry]` holding `user:password`
/// as base64 `auth`, plus `extra` top-level fields. Returns the directory (keep it alive)
/// and the file's path.
pub fn docker_config(
    registry: &str,
    user: &str,
    password: &str,
    extra: BTreeMap<&str, Value>,
) -> (TempDir, PathBuf) {
    let dir = temp_dir("notarium-docker-config-");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut config = json!({"auths": {registry: {"auth": auth}}});
    for (k, v) in extra {
        config[k] = v;
    }
    let path = dir.path().join("config.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).expect("JSON")).expect("config.json");
    (dir, path)
}

fn temp_dir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temporary directory")
}

/// Spawns `cmd` with its output in `dir/registry.log` and a copy of stderr read for the
/// line containing `marker`; returns the child and what follows the marker up to a quote,
/// comma or space (the address or port).
fn spawn(mut cmd: Command, dir: &TempDir, marker: &str) -> (Child, String) {
    let log_path = dir.path().join("registry.log");
    let mut log = File::create(&log_path).expect("registry log");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "REGISTRY_HTTP_ADDR",
    ] {
        cmd.env_remove(var);
    }
    let mut child = cmd.spawn().expect("the registry starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel();
    // Reads stderr to its end into the log, so that the registry never blocks on the pipe.
    std::thread::spawn(move || {
        use std::io::Write;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = writeln!(log, "{line}");
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + REGISTRY_START_DEADLINE;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                if let Some(i) = line.find(marker) {
                    let rest = &line[i + marker.len()..];
                    let end = rest.find(['"', ',', ' ']).unwrap_or(rest.len());
                    return (child, rest[..end].to_owned());
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the registry did not listen within {REGISTRY_START_DEADLINE:?}:\n{}",
                    read(&log_path)
                );
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = child.wait();
                panic!(
                    "the registry exited before it listened ({status:?}):\n{}",
                    read(&log_path)
                );
            }
        }
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}
