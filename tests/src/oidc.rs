//! A mock OIDC issuer for the tests of keyless CI identity: a real HTTPS server on 127.0.0.1
//! ([`MockIssuer`]) whose CA and certificate are made at run time, serving OpenID Connect
//! discovery and a JWK Set, with signing keys generated at run time (RS256, ES256, EdDSA) that
//! can be added, withdrawn and rotated; it can stop answering (connections dropped) or answer
//! errors. It mints tokens with claims shaped like GitHub Actions', GitLab CI's and the
//! Jenkins oidc-provider plugin's real ones ([`MockIssuer::github_claims`] …), signs any header
//! and claims with any of its keys (published or not), and assembles the bad tokens a verifier
//! must refuse ([`MockIssuer::unsigned`], [`MockIssuer::hmac`], [`encode`]). It also serves
//! GitHub's `ACTIONS_ID_TOKEN_REQUEST_URL` endpoint (GET with `Authorization: bearer
//! $ACTIONS_ID_TOKEN_REQUEST_TOKEN` and `&audience=`, answering `{"value": "<jwt>"}`), over
//! HTTPS and over plain HTTP for runners that cannot be given the CA.
//!
//! Out of scope: a real issuer's web pages and OAuth flows; nothing here reaches the internet.
//! Every request is recorded ([`MockIssuer::requests`]), so tests can count fetches.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{json, Map, Value};
use tempfile::TempDir;
use tower::ServiceExt;

/// Where the JWK Set is served, under the issuer URL (GitHub's path).
pub const JWKS_PATH: &str = "/.well-known/jwks";

/// Where `ACTIONS_ID_TOKEN_REQUEST_URL` points, under the server's origin.
pub const ID_TOKEN_REQUEST_PATH: &str = "/_apis/distributedtask/idtoken";

/// A signature algorithm of the mock's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// RSA 2048, PKCS#1 v1.5, SHA-256.
    Rs256,
    /// ECDSA P-256, SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl Alg {
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }
}

enum Private {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

struct SigningKey {
    kid: String,
    alg: Alg,
    published: bool,
    jwk: Value,
    private: Private,
}

impl SigningKey {
    fn generate(kid: String, alg: Alg) -> SigningKey {
        let rng = SystemRandom::new();
        let (private, jwk) = match alg {
            Alg::Rs256 => {
                use rsa::pkcs8::EncodePrivateKey;
                use rsa::traits::PublicKeyParts;
                let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
                    .expect("RSA key generation");
                let der = key.to_pkcs8_der().expect("PKCS#8 encoding");
                let pair = RsaKeyPair::from_pkcs8(der.as_bytes()).expect("ring reads the key");
                let jwk = json!({
                    "kty": "RSA",
                    "n": b64(&key.n().to_bytes_be()),
                    "e": b64(&key.e().to_bytes_be()),
                });
                (Private::Rsa(pair), jwk)
            }
            Alg::Es256 => {
                let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
                let der = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("P-256 key generation");
                let pair = EcdsaKeyPair::from_pkcs8(alg, der.as_ref(), &rng).expect("P-256 key");
                let point = pair.public_key().as_ref().to_vec();
                let jwk = json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": b64(&point[1..33]),
                    "y": b64(&point[33..65]),
                });
                (Private::Ec(pair), jwk)
            }
            Alg::EdDsa => {
                let der = Ed25519KeyPair::generate_pkcs8(&rng).expect("Ed25519 key generation");
                let pair = Ed25519KeyPair::from_pkcs8(der.as_ref()).expect("Ed25519 key");
                let jwk = json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": b64(pair.public_key().as_ref()),
                });
                (Private::Ed(pair), jwk)
            }
        };
        let mut jwk = jwk;
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(alg.name());
        SigningKey {
            kid,
            alg,
            published: true,
            jwk,
            private,
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.private {
            Private::Rsa(pair) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .expect("RSA signing");
                sig
            }
            Private::Ec(pair) => pair
                .sign(&rng, message)
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
            Private::Ed(pair) => pair.sign(message).as_ref().to_vec(),
        }
    }
}

/// Base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Assembles a compact JWS from a header, claims and signature bytes, signing nothing: the
/// building block of forged tokens.
pub fn encode(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

/// A `notariumd` configuration (YAML) that trusts `mock` as an issuer of `provider`
/// (`github`, `gitlab`, `jenkins`) with `audience`, its CA, and `rules` (the YAML list under
/// `rules:`, each line indented by 8 spaces). Keys may be refetched at once
/// (`jwks_min_refresh_seconds: 0`), so that no test waits.
pub fn issuer_config(mock: &MockIssuer, provider: &str, audience: &str, rules: &str) -> String {
    format!(
        "oidc:\n  jwks_min_refresh_seconds: 0\n  fetch_timeout_ms: 3000\n  issuers:\n    \
         - issuer: {issuer}\n      provider: {provider}\n      audience: \"{audience}\"\n      \
         algorithms: [RS256, ES256]\n      ca_bundle: {ca}\n      rules:\n{rules}",
        issuer = mock.issuer(),
        ca = mock.ca_bundle().display(),
    )
}

/// Asserts that `text` (a CI run's log, outputs, a command line) holds neither `token` nor any
/// of its three segments that is long enough to be recognised (16 characters or more): a
/// token printed in part is as good as printed.
///
/// # Panics
/// When it does; the message names `what`, never the token.
pub fn assert_no_token(text: &str, token: &str, what: &str) {
    assert!(
        token.is_empty() || !text.contains(token),
        "{what}: the token is in it"
    );
    for (i, seg) in token.split('.').enumerate() {
        assert!(
            seg.len() < 16 || !text.contains(seg),
            "{what}: segment {i} of the token is in it"
        );
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64
}

struct MockState {
    issuer: String,
    keys: Mutex<Vec<SigningKey>>,
    /// The kid the token request endpoint signs with.
    current: Mutex<String>,
    reachable: AtomicBool,
    failing: Mutex<Option<StatusCode>>,
    discovery_issuer: Mutex<Option<String>>,
    requests: Mutex<Vec<String>>,
    issued: Mutex<Vec<String>>,
    request_token: String,
    job_claims: Mutex<Map<String, Value>>,
    next_kid: AtomicU64,
}

impl MockState {
    fn record(&self, what: String) {
        self.requests.lock().expect("no poisoning").push(what);
    }
}

/// A local OIDC issuer over HTTPS. Dropping it stops its server.
pub struct MockIssuer {
    issuer: String,
    origin: String,
    http_origin: String,
    ca_pem: String,
    dir: TempDir,
    state: Arc<MockState>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for MockIssuer {
    fn drop(&mut self) {
        // Never blocks, so the mock may be dropped inside an async test.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl MockIssuer {
    /// Starts an issuer at `https://127.0.0.1:PORT` with one published RS256 key.
    ///
    /// # Panics
    /// When no runtime, port, key or certificate can be had.
    pub fn start() -> MockIssuer {
        MockIssuer::start_at("")
    }

    /// Starts an issuer at `https://127.0.0.1:PORT<path>` (e.g. `/oidc`, as Jenkins' root
    /// issuer, or `/_services/token`, as GitHub Enterprise Server's), with one published RS256
    /// key.
    ///
    /// # Panics
    /// As [`MockIssuer::start`].
    pub fn start_at(path: &str) -> MockIssuer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        // Bound here (not with `block_on`, which a test's own runtime forbids), served there.
        let bind = || {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
            l.set_nonblocking(true).expect("non-blocking listener");
            l
        };
        let (tls_listener, http_listener) = (bind(), bind());
        let origin = format!("https://{}", tls_listener.local_addr().expect("address"));
        let http_origin = format!("http://{}", http_listener.local_addr().expect("address"));
        let issuer = format!("{origin}{}", path.trim_end_matches('/'));
        let (ca_pem, server_config) = tls_config();
        let dir = tempfile::Builder::new()
            .prefix("notarium-oidc-")
            .tempdir()
            .expect("temporary directory");
        std::fs::write(dir.path().join("ca.pem"), &ca_pem).expect("write the CA bundle");
        let mut token = [0u8; 24];
        getrandom::getrandom(&mut token).expect("randomness");
        let state = Arc::new(MockState {
            issuer: issuer.clone(),
            keys: Mutex::new(Vec::new()),
            current: Mutex::new(String::new()),
            reachable: AtomicBool::new(true),
            failing: Mutex::new(None),
            discovery_issuer: Mutex::new(None),
            requests: Mutex::new(Vec::new()),
            issued: Mutex::new(Vec::new()),
            request_token: b64(&token),
            job_claims: Mutex::new(Map::new()),
            next_kid: AtomicU64::new(1),
        });
        let app = Router::new()
            .route(ID_TOKEN_REQUEST_PATH, get(id_token_request))
            .fallback(issuer_handler)
            .with_state(state.clone());
        let http_app = Router::new()
            .route(ID_TOKEN_REQUEST_PATH, get(id_token_request))
            .with_state(state.clone());
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
        let tls_state = state.clone();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(tls_listener).expect("listener");
            serve_tls(listener, acceptor, app, tls_state).await;
        });
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(http_listener).expect("listener");
            let _ = axum::serve(listener, http_app).await;
        });
        let mock = MockIssuer {
            issuer,
            origin,
            http_origin,
            ca_pem,
            dir,
            state,
            runtime: Some(runtime),
        };
        let kid = mock.add_key(Alg::Rs256);
        *mock.state.current.lock().expect("no poisoning") = kid;
        let claims = mock.github_claims("https://github.com/acme");
        mock.set_job_claims(claims);
        mock
    }

    /// The issuer URL, as tokens carry it in `iss` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The CA certificate (PEM) that signed the server's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A file holding [`MockIssuer::ca_pem`], for a verifier's `ca_bundle`.
    pub fn ca_bundle(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Generates a key, publishes it in the JWK Set and returns its kid.
    pub fn add_key(&self, alg: Alg) -> String {
        let kid = self.new_kid(alg);
        let key = SigningKey::generate(kid.clone(), alg);
        self.state.keys.lock().expect("no poisoning").push(key);
        kid
    }

    /// Generates a key that is not published: its tokens name a kid the JWK Set lacks.
    pub fn add_unpublished_key(&self, alg: Alg) -> String {
        let kid = self.add_key(alg);
        self.set_published(&kid, false);
        kid
    }

    /// Publishes or withdraws a key.
    ///
    /// # Panics
    /// When there is no such key.
    pub fn set_published(&self, kid: &str, published: bool) {
        let mut keys = self.state.keys.lock().expect("no poisoning");
        let key = keys
            .iter_mut()
            .find(|k| k.kid == kid)
            .unwrap_or_else(|| panic!("no key {kid}"));
        key.published = published;
    }

    /// Rotates: a new key of `alg` is published and becomes the one the token request endpoint
    /// signs with; every other key is withdrawn. Returns the new kid.
    pub fn rotate(&self, alg: Alg) -> String {
        let kid = self.add_key(alg);
        for k in self.state.keys.lock().expect("no poisoning").iter_mut() {
            k.published = k.kid == kid;
        }
        *self.state.current.lock().expect("no poisoning") = kid.clone();
        kid
    }

    /// The kid the token request endpoint signs with.
    pub fn current_kid(&self) -> String {
        self.state.current.lock().expect("no poisoning").clone()
    }

    /// The public JWK of a key.
    ///
    /// # Panics
    /// When there is no such key.
    pub fn jwk(&self, kid: &str) -> Value {
        self.with_key(kid, |k| k.jwk.clone())
    }

    /// `<alg>-<8 random hex>-<n>`: unique across mocks, so that one mock's kid never names
    /// another's key by chance.
    fn new_kid(&self, alg: Alg) -> String {
        let n = self.state.next_kid.fetch_add(1, Ordering::Relaxed);
        let mut r = [0u8; 4];
        getrandom::getrandom(&mut r).expect("randomness");
        format!(
            "{}-{:08x}-{n}",
            alg.name().to_lowercase(),
            u32::from_be_bytes(r)
        )
    }

    fn with_key<T>(&self, kid: &str, f: impl FnOnce(&SigningKey) -> T) -> T {
        let keys = self.state.keys.lock().expect("no poisoning");
        f(keys
            .iter()
            .find(|k| k.kid == kid)
            .unwrap_or_else(|| panic!("no key {kid}")))
    }

    /// Signs `header` and `claims` as given with key `kid`, whatever the header says: for
    /// tokens whose header lies.
    ///
    /// # Panics
    /// When there is no such key.
    pub fn sign(&self, kid: &str, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.with_key(kid, |k| k.sign(input.as_bytes()));
        format!("{input}.{}", b64(&sig))
    }

    /// The header an issuer writes for key `kid`: `{"alg", "kid", "typ": "JWT"}`.
    pub fn header(&self, kid: &str) -> Value {
        let alg = self.with_key(kid, |k| k.alg);
        json!({ "alg": alg.name(), "kid": kid, "typ": "JWT" })
    }

    /// A token as the issuer mints it: `claims` signed with key `kid` under its usual header.
    pub fn mint(&self, kid: &str, claims: &Value) -> String {
        self.sign(kid, &self.header(kid), claims)
    }

    /// An unsigned token: header `{"alg": alg, "typ": "JWT"}` (`none`, `None`, …) and an
    /// empty signature.
    pub fn unsigned(&self, alg: &str, claims: &Value) -> String {
        encode(&json!({ "alg": alg, "typ": "JWT" }), claims, b"")
    }

    /// A token MACed with `secret` under `alg` (`HS256`, `HS384` or `HS512`), naming `kid`:
    /// the algorithm-confusion attack when `secret` is a published public key.
    ///
    /// # Panics
    /// On another algorithm.
    pub fn hmac(&self, alg: &str, secret: &[u8], kid: &str, claims: &Value) -> String {
        let algorithm = match alg {
            "HS256" => ring::hmac::HMAC_SHA256,
            "HS384" => ring::hmac::HMAC_SHA384,
            "HS512" => ring::hmac::HMAC_SHA512,
            other => panic!("not an HMAC algorithm: {other}"),
        };
        let header = json!({ "alg": alg, "kid": kid, "typ": "JWT" });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let tag = ring::hmac::sign(&ring::hmac::Key::new(algorithm, secret), input.as_bytes());
        format!("{input}.{}", b64(tag.as_ref()))
    }

    /// Claims shaped like a GitHub Actions ID token's (repository `acme/app`, id 892345617,
    /// owner id 1342, a push to `main` running `release.yml`), issued now for 5 minutes.
    pub fn github_claims(&self, audience: &str) -> Value {
        let now = now();
        let sha = "b8962f4eaff8e14fc646cb22c596c81e67d71362";
        let workflow_ref = "acme/app/.github/workflows/release.yml@refs/heads/main";
        json!({
            "jti": jti(),
            "sub": "repo:acme/app:ref:refs/heads/main",
            "aud": audience,
            "ref": "refs/heads/main",
            "ref_protected": "true",
            "ref_type": "branch",
            "sha": sha,
            "repository": "acme/app",
            "repository_owner": "acme",
            "repository_owner_id": "1342",
            "repository_visibility": "private",
            "repository_id": "892345617",
            "actor": "octocat",
            "actor_id": "583231",
            "run_id": "32291736541",
            "run_number": "17",
            "run_attempt": "1",
            "runner_environment": "github-hosted",
            "workflow": "release",
            "workflow_ref": workflow_ref,
            "workflow_sha": sha,
            "job_workflow_ref": workflow_ref,
            "job_workflow_sha": sha,
            "check_run_id": "96193868770",
            "head_ref": "",
            "base_ref": "",
            "event_name": "push",
            "iss": self.issuer,
            "nbf": now - 300,
            "iat": now,
            "exp": now + 300,
        })
    }

    /// Claims shaped like a GitLab CI `id_tokens` token's (project `acme/app`, id 20,
    /// namespace id 72, pipeline 574, job 302 on protected branch `main`), issued now for 5
    /// minutes (GitLab's default without a job timeout).
    pub fn gitlab_claims(&self, audience: &str) -> Value {
        let now = now();
        let sha = "714a629c0b401fdce83e847fc9589983fc6f46bc";
        let host = self
            .issuer
            .trim_start_matches("https://")
            .trim_end_matches('/');
        json!({
            "namespace_id": "72",
            "namespace_path": "acme",
            "project_id": "20",
            "project_path": "acme/app",
            "user_id": "1",
            "user_login": "sample-user",
            "user_email": "sample-user@example.com",
            "user_access_level": "maintainer",
            "user_identities": [{"provider": "github", "extern_uid": "2435223452345"}],
            "pipeline_id": "574",
            "pipeline_source": "push",
            "job_id": "302",
            "ref": "main",
            "ref_type": "branch",
            "ref_path": "refs/heads/main",
            "ref_protected": "true",
            "groups_direct": ["acme"],
            "environment": "production",
            "environment_protected": "true",
            "deployment_tier": "production",
            "environment_action": "start",
            "runner_id": 1,
            "runner_environment": "self-hosted",
            "sha": sha,
            "project_visibility": "internal",
            "ci_config_ref_uri": format!("{host}/acme/app//.gitlab-ci.yml@refs/heads/main"),
            "ci_config_sha": sha,
            "jti": jti(),
            "iss": self.issuer,
            "iat": now,
            "nbf": now - 5,
            "exp": now + 300,
            "sub": "project_path:acme/app:ref_type:branch:ref:main",
            "aud": audience,
        })
    }

    /// Claims shaped like a token of the Jenkins oidc-provider plugin: its default build
    /// claims (`sub` the job URL, `build_number` an integer), one hour of validity and no
    /// `nbf`, plus the `git_url`, `git_commit` and `git_branch` claim templates `docs/oidc.md`
    /// suggests (`git_url` with credentials, as Jenkins' `GIT_URL` may hold them).
    pub fn jenkins_claims(&self, audience: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer,
            "aud": audience,
            "exp": now + 3600,
            "iat": now,
            "sub": "https://jenkins.example.com/job/acme/job/app/job/main/",
            "build_number": 42,
            "git_url": "https://ci-bot:ghp_secret@git.example.com/acme/app.git",
            "git_commit": "0fffdd6505a3f5f573e34338cb9eac1211bace14",
            "git_branch": "main",
        })
    }

    /// Answers no more (connections are dropped, even kept-alive ones), or again.
    pub fn set_reachable(&self, reachable: bool) {
        self.state.reachable.store(reachable, Ordering::SeqCst);
    }

    /// Answers discovery and JWKS requests with this status and no document, or normally
    /// again (`None`).
    pub fn set_failing(&self, status: Option<u16>) {
        *self.state.failing.lock().expect("no poisoning") =
            status.map(|s| StatusCode::from_u16(s).expect("a status code"));
    }

    /// Makes the discovery document name another issuer (`Some`), as a misconfigured or
    /// impersonating server would, or this one again (`None`).
    pub fn set_discovery_issuer(&self, issuer: Option<&str>) {
        *self.state.discovery_issuer.lock().expect("no poisoning") = issuer.map(str::to_owned);
    }

    /// Every request received so far, as `METHOD PATH` (refused ones end in ` (dropped)`).
    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().expect("no poisoning").clone()
    }

    /// How many requests were for the JWK Set.
    pub fn jwks_fetches(&self) -> usize {
        let jwks = format!("GET {}{JWKS_PATH}", self.path());
        self.requests().iter().filter(|r| **r == jwks).count()
    }

    /// Every token the token request endpoint handed out so far, oldest first: what a test
    /// looks for in the logs a CI run must never show it in.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.issued.lock().expect("no poisoning").clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.state.requests.lock().expect("no poisoning").clear();
    }

    fn path(&self) -> &str {
        &self.issuer[self.origin.len()..]
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL` over HTTPS (trusting [`MockIssuer::ca_pem`]).
    pub fn id_token_request_url(&self) -> String {
        format!("{}{ID_TOKEN_REQUEST_PATH}?api-version=2.0", self.origin)
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL` over plain HTTP, for runners without the CA.
    pub fn id_token_request_url_http(&self) -> String {
        format!(
            "{}{ID_TOKEN_REQUEST_PATH}?api-version=2.0",
            self.http_origin
        )
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`: the bearer the endpoint requires.
    pub fn id_token_request_token(&self) -> &str {
        &self.state.request_token
    }

    /// The claims the token request endpoint mints (its `aud` is replaced by the request's
    /// `audience`, and `iat`/`nbf`/`exp`/`jti` are renewed per request); GitHub-shaped by
    /// default.
    pub fn set_job_claims(&self, claims: Value) {
        let Value::Object(m) = claims else {
            panic!("job claims must be an object");
        };
        *self.state.job_claims.lock().expect("no poisoning") = m;
    }
}

fn jti() -> String {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).expect("randomness");
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A CA and a certificate for `127.0.0.1` and `localhost` signed by it: the server's TLS
/// configuration and the CA in PEM.
pub(crate) fn tls_config() -> (String, rustls::ServerConfig) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Notarium test issuer CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().expect("server key");
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("server parameters");
    leaf.distinguished_name
        .push(DnType::CommonName, "Notarium test issuer");
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("server certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        leaf_key.serialize_der(),
    ));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(vec![leaf_cert.der().clone()], key)
    .expect("TLS configuration");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (ca_cert.pem(), config)
}

/// Accepts TLS connections and serves `app` over HTTP/1.1 on each. While the issuer is
/// unreachable, new connections are dropped at once and requests on open ones close them.
async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
    state: Arc<MockState>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        if !state.reachable.load(Ordering::SeqCst) {
            state.record("CONNECT (dropped)".into());
            drop(tcp);
            continue;
        }
        let (acceptor, app, state) = (acceptor.clone(), app.clone(), state.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let (app, state) = (app.clone(), state.clone());
                async move {
                    if !state.reachable.load(Ordering::SeqCst) {
                        state.record(format!("{} {} (dropped)", req.method(), req.uri().path()));
                        return Err(std::io::Error::other("the issuer is unreachable"));
                    }
                    app.oneshot(req.map(axum::body::Body::new))
                        .await
                        .map_err(|never| match never {})
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
        });
    }
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

/// Discovery and the JWK Set under the issuer's path; 404 elsewhere.
async fn issuer_handler(State(state): State<Arc<MockState>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    state.record(format!("{} {path}", req.method()));
    if let Some(status) = *state.failing.lock().expect("no poisoning") {
        return json_response(status, &json!({ "message": "failing on purpose" }));
    }
    let issuer = state.issuer.clone();
    let base = issuer
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
        .unwrap_or_default();
    if path == format!("{base}/.well-known/openid-configuration") {
        let keys = state.keys.lock().expect("no poisoning");
        let mut algs: Vec<&str> = keys.iter().map(|k| k.alg.name()).collect();
        algs.sort_unstable();
        algs.dedup();
        let named = state
            .discovery_issuer
            .lock()
            .expect("no poisoning")
            .clone()
            .unwrap_or_else(|| issuer.clone());
        return json_response(
            StatusCode::OK,
            &json!({
                "issuer": named,
                "jwks_uri": format!("{issuer}{JWKS_PATH}"),
                "subject_types_supported": ["public", "pairwise"],
                "response_types_supported": ["id_token"],
                "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref",
                    "repository", "repository_id", "repository_owner", "repository_owner_id",
                    "run_id", "run_number", "run_attempt", "actor", "actor_id", "workflow",
                    "workflow_ref", "workflow_sha", "head_ref", "base_ref", "event_name",
                    "ref_type", "environment", "job_workflow_ref", "runner_environment"],
                "id_token_signing_alg_values_supported": algs,
                "scopes_supported": ["openid"],
            }),
        );
    }
    if path == format!("{base}{JWKS_PATH}") {
        let keys = state.keys.lock().expect("no poisoning");
        let published: Vec<Value> = keys
            .iter()
            .filter(|k| k.published)
            .map(|k| k.jwk.clone())
            .collect();
        return json_response(StatusCode::OK, &json!({ "keys": published }));
    }
    json_response(StatusCode::NOT_FOUND, &json!({ "message": "Not Found" }))
}

/// GitHub's token request endpoint: `Authorization: bearer <request token>` (any case), an
/// optional `audience`, and `{"value": "<jwt>"}` back.
async fn id_token_request(
    State(state): State<Arc<MockState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let audience = query.get("audience").cloned();
    state.record(format!(
        "GET {ID_TOKEN_REQUEST_PATH} audience={}",
        audience.as_deref().unwrap_or("")
    ));
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    if presented.as_deref() != Some(state.request_token.as_str()) {
        return json_response(
            StatusCode::UNAUTHORIZED,
            &json!({ "message": "invalid or missing ACTIONS_ID_TOKEN_REQUEST_TOKEN" }),
        );
    }
    let mut claims = state.job_claims.lock().expect("no poisoning").clone();
    let now = now();
    let owner = claims
        .get("repository_owner")
        .and_then(Value::as_str)
        .unwrap_or("acme")
        .to_owned();
    claims.insert(
        "aud".into(),
        json!(audience.unwrap_or_else(|| format!("https://github.com/{owner}"))),
    );
    claims.insert("iat".into(), json!(now));
    claims.insert("nbf".into(), json!(now - 300));
    claims.insert("exp".into(), json!(now + 300));
    claims.insert("jti".into(), json!(jti()));
    let kid = state.current.lock().expect("no poisoning").clone();
    let keys = state.keys.lock().expect("no poisoning");
    let Some(key) = keys.iter().find(|k| k.kid == kid) else {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({ "message": "no key" }),
        );
    };
    let header = json!({ "alg": key.alg.name(), "kid": key.kid, "typ": "JWT" });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(Value::Object(claims).to_string().as_bytes())
    );
    let token = format!("{input}.{}", b64(&key.sign(input.as_bytes())));
    state
        .issued
        .lock()
        .expect("no poisoning")
        .push(token.clone());
    json_response(StatusCode::OK, &json!({ "value": token }))
}
