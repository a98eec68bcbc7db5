//! One registry's HTTP session: the scheme (HTTPS; plain HTTP only on loopback), the
//! authentication dance of the distribution spec (anonymous, `Basic`, and the `Bearer` token
//! flow of docker's token authentication spec), bounded reads, and the registry's error
//! bodies turned into [`Error`]s.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use serde::Deserialize;
use url::Url;

use super::credentials::Basic;
use super::Error;

/// The largest token or error body read.
const MAX_SMALL_BODY: usize = 1 << 20;

/// How many redirects a request may follow (blob downloads are often redirected to storage).
const MAX_REDIRECTS: usize = 10;

/// What a request needs to be allowed to do in a repository (a token scope's actions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Access {
    Pull,
    Push,
}

impl Access {
    fn actions(self) -> &'static str {
        match self {
            Access::Pull => "pull",
            Access::Push => "pull,push",
        }
    }
}

/// A request: where, with which access to which repository, what it accepts and carries.
pub(crate) struct Request<'a> {
    pub method: Method,
    /// A path below the registry's root (`v2/…`) or an absolute URL (an upload location).
    pub target: Target,
    pub repository: &'a str,
    pub access: Access,
    pub accept: Option<&'a str>,
    pub body: Option<(Vec<u8>, &'a str)>,
}

/// Where a request goes.
pub(crate) enum Target {
    Path(String),
    Url(Url),
}

/// How the registry wants to be authenticated, learned from its first `401`.
#[derive(Debug, Clone)]
enum Scheme {
    Unknown,
    Basic,
    Bearer { realm: Url, service: Option<String> },
}

/// An open session with one registry.
pub(crate) struct Session {
    http: reqwest::Client,
    /// `https://host/` or `http://host/`.
    base: Url,
    /// The registry as written in references, for messages.
    registry: String,
    credentials: Option<Basic>,
    scheme: Mutex<Scheme>,
    /// Bearer tokens by scope (`repository:NAME:ACTIONS`).
    tokens: Mutex<HashMap<String, String>>,
}

/// Whether `host` (a name, an IP address, or a bracketed IPv6 address, without port) is a
/// loopback address: `localhost`, 127.0.0.0/8 or ::1, where docker allows plain HTTP.
pub fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host part of `registry` (`host`, `host:port`, `[v6]:port`).
fn host_of(registry: &str) -> &str {
    if registry.starts_with('[') {
        return registry
            .split_once(']')
            .map_or(registry, |(h, _)| h)
            .trim_start_matches('[');
    }
    registry.split(':').next().unwrap_or(registry)
}

/// Refuses a plain-HTTP URL unless its host is a loopback address.
pub(crate) fn check_scheme(url: &Url, what: &str) -> Result<(), Error> {
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = url.host_str().unwrap_or("");
            if is_loopback(host) {
                Ok(())
            } else {
                Err(Error::PlainHttpRefused {
                    host: host.to_owned(),
                    context: what.to_owned(),
                })
            }
        }
        other => Err(Error::Registry {
            url: url.to_string(),
            status: None,
            detail: format!("{what}: unsupported URL scheme {other:?}"),
        }),
    }
}

/// The reqwest client every session shares: our user agent, the CA bundle, timeouts, and a
/// redirect policy that applies the plain-HTTP rule to every hop.
pub(crate) fn http_client(
    ca_bundle: Option<&[u8]>,
    timeout: Duration,
) -> Result<reqwest::Client, Error> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        match check_scheme(attempt.url(), "redirect") {
            Ok(()) => attempt.follow(),
            Err(e) => attempt.error(e.to_string()),
        }
    });
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("notarium/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(timeout)
        .redirect(policy);
    if let Some(pem) = ca_bundle {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| Error::Config(format!("CA bundle: {e}")))?;
        if certs.is_empty() {
            return Err(Error::Config("CA bundle: no PEM certificate in it".into()));
        }
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    builder
        .build()
        .map_err(|e| Error::Config(format!("HTTP client: {}", cause_chain(&e))))
}

impl Session {
    /// Opens a session with `registry`, served at `api_host`. HTTPS unless `plain_http`
    /// (refused for a non-loopback host); on a loopback host HTTPS is tried first and plain
    /// HTTP used when it cannot be spoken there, as docker does.
    pub(crate) async fn open(
        http: reqwest::Client,
        registry: &str,
        api_host: &str,
        credentials: Option<Basic>,
        plain_http: bool,
    ) -> Result<Session, Error> {
        let host = host_of(api_host);
        let url = |scheme: &str| {
            Url::parse(&format!("{scheme}://{api_host}/")).map_err(|e| Error::Reference {
                input: registry.to_owned(),
                reason: format!("not a usable host: {e}"),
            })
        };
        let session = |base: Url| Session {
            http: http.clone(),
            base,
            registry: registry.to_owned(),
            credentials: credentials.clone(),
            scheme: Mutex::new(Scheme::Unknown),
            tokens: Mutex::new(HashMap::new()),
        };
        if plain_http {
            let base = url("http")?;
            check_scheme(&base, "plain HTTP was asked for")?;
            return Ok(session(base));
        }
        let https = url("https")?;
        if !is_loopback(host) {
            return Ok(session(https));
        }
        // Loopback: probe `/v2/` over HTTPS; when HTTPS cannot be spoken there, plain HTTP,
        // if what answers it is a registry (`/v2/` says 200 or 401; a TLS server's "HTTP
        // request to an HTTPS server" is not).
        let probe = |base: Url| {
            let http = http.clone();
            async move {
                let u = base.join("v2/").expect("a static path joins");
                http.get(u).send().await.map(|r| r.status())
            }
        };
        let tls = match probe(https.clone()).await {
            Ok(_) => return Ok(session(https)),
            Err(e) => cause_chain(&e.without_url()),
        };
        let plain = url("http")?;
        let why_not = match probe(plain.clone()).await {
            Ok(StatusCode::OK | StatusCode::UNAUTHORIZED) => return Ok(session(plain)),
            Ok(status) => format!("{status} to /v2/, not a registry's answer"),
            Err(e) => cause_chain(&e.without_url()),
        };
        Err(Error::Unreachable {
            url: https.to_string(),
            cause: format!("over HTTPS: {tls}; over plain HTTP: {why_not}"),
        })
    }

    /// The registry's base URL (`https://host/`).
    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// Sends `req`, authenticating as the registry asks. Any status but `401`/`403` is
    /// returned for the caller to interpret.
    ///
    /// # Errors
    /// [`Error::Unreachable`] for transport failures; [`Error::Unauthorized`] when the
    /// registry still says `401` with the credentials it asked for (or none were there);
    /// [`Error::Denied`] for `403`; [`Error::PlainHttpRefused`] for a token realm on plain
    /// HTTP off loopback.
    pub(crate) async fn send(&self, req: Request<'_>) -> Result<Response, Error> {
        let url = match &req.target {
            Target::Path(p) => self.base.join(p).map_err(|e| Error::Registry {
                url: format!("{}{p}", self.base),
                status: None,
                detail: e.to_string(),
            })?,
            Target::Url(u) => u.clone(),
        };
        check_scheme(&url, "registry request")?;
        let scope = format!("repository:{}:{}", req.repository, req.access.actions());
        let mut retried = false;
        loop {
            let auth = if same_origin(&url, &self.base) {
                self.authorization(&scope).await?
            } else {
                None
            };
            let resp = self.attempt(&req, &url, auth.as_deref()).await?;
            match resp.status() {
                StatusCode::UNAUTHORIZED if !retried => {
                    retried = true;
                    let challenge = parse_challenge(resp.headers());
                    self.learn(challenge, &scope).await?;
                }
                StatusCode::UNAUTHORIZED => {
                    let detail = registry_error_text(resp).await;
                    return Err(Error::Unauthorized {
                        registry: self.registry.clone(),
                        detail: match &self.credentials {
                            Some(c) => {
                                format!("credentials of {:?} were refused: {detail}", c.username)
                            }
                            None => format!("no credentials for this registry: {detail}"),
                        },
                    });
                }
                StatusCode::FORBIDDEN => {
                    let detail = registry_error_text(resp).await;
                    return Err(Error::Denied {
                        registry: self.registry.clone(),
                        detail: format!(
                            "{} access to {}: {detail}",
                            req.access.actions(),
                            req.repository
                        ),
                    });
                }
                _ => return Ok(resp),
            }
        }
    }

    async fn attempt(
        &self,
        req: &Request<'_>,
        url: &Url,
        auth: Option<&str>,
    ) -> Result<Response, Error> {
        let mut r = self.http.request(req.method.clone(), url.clone());
        if let Some(a) = auth {
            r = r.header(AUTHORIZATION, a);
        }
        if let Some(a) = req.accept {
            r = r.header(ACCEPT, a);
        }
        if let Some((body, content_type)) = &req.body {
            r = r.header(CONTENT_TYPE, *content_type).body(body.clone());
        }
        r.send().await.map_err(|e| Error::Unreachable {
            url: redact(url),
            cause: cause_chain(&e.without_url()),
        })
    }

    /// The `Authorization` header for `scope`, once the registry's scheme is known: with
    /// the token flow, a token for a scope not seen yet is fetched before the request rather
    /// than after its `401`.
    async fn authorization(&self, scope: &str) -> Result<Option<String>, Error> {
        let scheme = self.scheme.lock().expect("scheme lock").clone();
        match scheme {
            Scheme::Basic => Ok(self.credentials.as_ref().map(Basic::header)),
            Scheme::Bearer { realm, service } => {
                let cached = {
                    let tokens = self.tokens.lock().expect("token lock");
                    let push_scope = scope.replace(":pull", ":pull,push");
                    tokens
                        .get(scope)
                        .or_else(|| tokens.get(&push_scope))
                        .cloned()
                };
                let token = match cached {
                    Some(t) => t,
                    None => {
                        let t = self
                            .fetch_token(&realm, service.as_deref(), scope, None)
                            .await?;
                        self.tokens
                            .lock()
                            .expect("token lock")
                            .insert(scope.to_owned(), t.clone());
                        t
                    }
                };
                Ok(Some(format!("Bearer {token}")))
            }
            Scheme::Unknown => Ok(None),
        }
    }

    /// Learns from a `401` how to authenticate, and gets what it takes (a token) for `scope`.
    async fn learn(&self, challenge: Option<Challenge>, scope: &str) -> Result<(), Error> {
        let scheme = match challenge {
            Some(Challenge::Basic) => {
                if self.credentials.is_none() {
                    return Err(Error::Unauthorized {
                        registry: self.registry.clone(),
                        detail: "the registry asks for a user name and password, and none were found \
                                 (docker's config.json or NOTARIUM_OCI_USERNAME/NOTARIUM_OCI_PASSWORD)"
                            .into(),
                    });
                }
                Scheme::Basic
            }
            Some(Challenge::Bearer {
                realm,
                service,
                scope: asked,
            }) => {
                let realm = Url::parse(&realm).map_err(|e| Error::Registry {
                    url: self.base.to_string(),
                    status: Some(401),
                    detail: format!("token realm {realm:?} is not a URL: {e}"),
                })?;
                check_scheme(&realm, "token realm")?;
                let token = self
                    .fetch_token(&realm, service.as_deref(), scope, asked.as_deref())
                    .await?;
                self.tokens
                    .lock()
                    .expect("token lock")
                    .insert(scope.to_owned(), token);
                Scheme::Bearer { realm, service }
            }
            None => {
                return Err(Error::Unauthorized {
                    registry: self.registry.clone(),
                    detail: "401 without a Basic or Bearer challenge".into(),
                })
            }
        };
        *self.scheme.lock().expect("scheme lock") = scheme;
        Ok(())
    }

    /// docker's token authentication: `GET realm?service=…&scope=…`, with the credentials
    /// (if any) as basic auth; the answer's `token` (or `access_token`) is the bearer token.
    async fn fetch_token(
        &self,
        realm: &Url,
        service: Option<&str>,
        scope: &str,
        asked: Option<&str>,
    ) -> Result<String, Error> {
        let mut url = realm.clone();
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            q.append_pair("scope", scope);
            if let Some(a) = asked.filter(|a| *a != scope) {
                for s in a.split(' ').filter(|s| !s.is_empty()) {
                    q.append_pair("scope", s);
                }
            }
        }
        let mut r = self.http.get(url.clone());
        if let Some(c) = &self.credentials {
            r = r.header(AUTHORIZATION, c.header());
        }
        let resp = r.send().await.map_err(|e| Error::Unreachable {
            url: redact(&url),
            cause: cause_chain(&e.without_url()),
        })?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let detail = registry_error_text(resp).await;
            return Err(Error::Unauthorized {
                registry: self.registry.clone(),
                detail: match &self.credentials {
                    Some(c) => format!(
                        "the token server refused the credentials of {:?}: {detail}",
                        c.username
                    ),
                    None => {
                        format!("the token server wants credentials, and none were found: {detail}")
                    }
                },
            });
        }
        if !status.is_success() {
            let detail = registry_error_text(resp).await;
            return Err(Error::Registry {
                url: redact(&url),
                status: Some(status.as_u16()),
                detail,
            });
        }
        let body = read_limited(resp, MAX_SMALL_BODY, "token answer").await?;
        #[derive(Deserialize)]
        struct TokenAnswer {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| Error::Malformed {
            what: "token answer".into(),
            reason: e.to_string(),
        })?;
        answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| Error::Malformed {
                what: "token answer".into(),
                reason: "no usable token or access_token".into(),
            })
    }
}

/// Reads a body of at most `limit` bytes.
pub(crate) async fn read_limited(
    mut resp: Response,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, Error> {
    let too_big = || Error::Malformed {
        what: what.to_owned(),
        reason: format!("larger than {limit} bytes"),
    };
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_big());
    }
    let url = redact(resp.url());
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| Error::Unreachable {
        url: url.clone(),
        cause: cause_chain(&e.without_url()),
    })? {
        if buf.len() + chunk.len() > limit {
            return Err(too_big());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// The registry's error body (`{"errors":[{"code","message"}]}`), or the start of whatever
/// it sent, as one printable line.
pub(crate) async fn registry_error_text(resp: Response) -> String {
    let status = resp.status();
    let body = read_limited(resp, MAX_SMALL_BODY, "error body")
        .await
        .unwrap_or_default();
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<One>,
    }
    #[derive(Deserialize)]
    struct One {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let text = match serde_json::from_slice::<Errors>(&body) {
        Ok(e) if !e.errors.is_empty() => e
            .errors
            .iter()
            .map(|x| format!("{}: {}", x.code, x.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::from_utf8_lossy(&body).trim().to_owned(),
    };
    let text: String = text.chars().filter(|c| !c.is_control()).take(300).collect();
    if text.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {text}")
    }
}

/// A `WWW-Authenticate` challenge this module can answer.
#[derive(Debug, PartialEq, Eq)]
enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// The first Bearer challenge of the response, else the first Basic one.
fn parse_challenge(headers: &HeaderMap) -> Option<Challenge> {
    let mut basic = false;
    for value in headers.get_all(WWW_AUTHENTICATE) {
        let Ok(v) = value.to_str() else { continue };
        let v = v.trim();
        let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            let params = parse_params(rest);
            if let Some(realm) = params.get("realm") {
                return Some(Challenge::Bearer {
                    realm: realm.clone(),
                    service: params.get("service").cloned(),
                    scope: params.get("scope").cloned(),
                });
            }
        } else if scheme.eq_ignore_ascii_case("basic") {
            basic = true;
        }
    }
    basic.then_some(Challenge::Basic)
}

/// `key=value` and `key="quoted, \"value\""` pairs separated by commas (RFC 9110 §11.2).
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    _ => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    out
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// A URL for messages: without query (upload locations carry state, realms carry scopes)
/// or user info.
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

pub(crate) fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let next = c.to_string();
        if !s.contains(&next) {
            s.push_str(": ");
            s.push_str(&next);
        }
        src = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn loopback_is_localhost_127_8_and_v6_one() {
        for h in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "example.com",
            "10.0.0.1",
            "192.0.2.1",
            "[::2]",
            "localhost.example.com",
            "0.0.0.0",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
        assert_eq!(host_of("[::1]:5000"), "::1");
        assert_eq!(host_of("127.0.0.1:5000"), "127.0.0.1");
        assert_eq!(host_of("r.io"), "r.io");
    }

    #[test]
    fn plain_http_is_only_for_loopback() {
        let ok = [
            "https://r.io/v2/",
            "http://127.0.0.1:5000/v2/",
            "http://localhost/x",
            "http://[::1]:1/",
        ];
        for u in ok {
            check_scheme(&Url::parse(u).unwrap(), "t").unwrap();
        }
        for u in ["http://r.io/v2/", "http://192.0.2.1/token"] {
            let e = check_scheme(&Url::parse(u).unwrap(), "token realm").unwrap_err();
            assert!(matches!(e, Error::PlainHttpRefused { .. }), "{u}");
            assert!(e.to_string().contains("loopback"), "{e}");
        }
        assert!(check_scheme(&Url::parse("ftp://r.io/").unwrap(), "t").is_err());
    }

    #[test]
    fn challenges_parse() {
        let mut h = HeaderMap::new();
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"x\""),
        );
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(
                r#"Bearer realm="https://auth.example/token",service="reg, \"one\"",scope="repository:a/b:pull,push""#,
            ),
        );
        assert_eq!(
            parse_challenge(&h),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("reg, \"one\"".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        let mut h = HeaderMap::new();
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("basic realm=Registry"),
        );
        assert_eq!(parse_challenge(&h), Some(Challenge::Basic));
        let mut h = HeaderMap::new();
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer service=x"),
        );
        assert_eq!(parse_challenge(&h), None);
        assert_eq!(parse_challenge(&HeaderMap::new()), None);
    }

    #[test]
    fn unquoted_params_and_odd_spacing() {
        let p = parse_params(r#" realm=https://a/t , service="s" ,scope=repository:x:pull"#);
        assert_eq!(p["realm"], "https://a/t");
        assert_eq!(p["service"], "s");
        assert_eq!(p["scope"], "repository:x:pull");
    }
}
