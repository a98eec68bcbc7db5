//! Extractors that turn every kind of bad input into the one error schema: JSON bodies,
//! query strings, path segments, and the caller's credentials and role.

use std::borrow::Cow;
use std::collections::HashSet;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use notarium_core::api::limits;
use notarium_core::{LedgerName, Role, VerifiedIdentity};
use serde::de::DeserializeOwned;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::limits::RequestLimits;
use crate::oidc::OidcError;
use crate::registry::LedgerHandle;
use crate::state::AppState;

/// A JSON body, strict: wrong content type → 415, too large → 413, bad syntax or a key given
/// twice in any object → 400 `invalid_json`, wrong shape (unknown field, wrong type, missing
/// field) → 400 `invalid_body`.
///
/// Duplicate keys are refused because parsers disagree on them: serde keeps the last, others
/// the first, so `{"status":"trusted","status":"revoked"}` would mean one thing to the server
/// and another to a proxy or a log reader that checked it (RFC 8259 §4, I-JSON RFC 7493 §2.3).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = state.config().limits.body_bytes;
        let body = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(limit)
            } else {
                ApiError::bad_request("invalid_body", r.body_text())
            }
        })?;
        parse_json(&body).map(ApiJson)
    }
}

/// `application/json` or `application/<anything>+json`, with any parameters.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim();
    let Some((kind, sub)) = mime.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json") || sub.to_ascii_lowercase().ends_with("+json"))
}

/// Parses a request body: first a pass that refuses a key given twice in any object, then the
/// typed parse. Both passes stop at the first error; serde's message names the position.
///
/// # Errors
/// 400 `invalid_json` for syntax errors and duplicate keys, `invalid_body` for the wrong shape.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    use serde::de::DeserializeSeed;
    let mut unique = serde_json::Deserializer::from_slice(body);
    UniqueKeys
        .deserialize(&mut unique)
        .and_then(|()| unique.end())
        .map_err(|e| ApiError::bad_request("invalid_json", clip(&e)))?;
    serde_json::from_slice(body).map_err(|e| {
        let code = match e.classify() {
            serde_json::error::Category::Data => "invalid_body",
            _ => "invalid_json",
        };
        ApiError::bad_request(code, clip(&e))
    })
}

fn clip(e: &serde_json::Error) -> String {
    e.to_string().chars().take(300).collect()
}

/// Walks any JSON value and fails on the first object that names a key twice. Syntax errors
/// surface here too, with serde_json's position.
struct UniqueKeys;

/// An object key, borrowed from the body when it can be.
struct Key;

impl<'de> serde::de::DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Keys borrowed from the body where they hold no escapes; a short list for the small
        // objects of the API, a hash set once an object grows (a hostile body of 100,000 keys
        // must not cost 100,000² comparisons).
        let mut few: Vec<Cow<'de, str>> = Vec::new();
        let mut many: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(key) = map.next_key_seed(Key)? {
            let repeated = if many.is_empty() {
                let seen = few.contains(&key);
                if !seen && few.len() == 16 {
                    many.extend(few.drain(..));
                }
                seen
            } else {
                many.contains(&key)
            };
            if repeated {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key {:?}: each key may appear once in an object",
                    key.chars().take(64).collect::<String>()
                )));
            }
            map.next_value_seed(UniqueKeys)?;
            if many.is_empty() {
                few.push(key);
            } else {
                many.insert(key);
            }
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(UniqueKeys)?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// The query string as name/value pairs, consumed strictly: each handler takes the names it
/// knows and [`Params::finish`] rejects any left over, so a typo is an error, not a no-op.
#[derive(Debug)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
        Ok(Params(pairs))
    }
}

/// A bad query parameter.
pub fn bad_param(name: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_query", format!("query parameter {name}: {why}"))
}

impl Params {
    /// Every value of `name`, removed from the set.
    pub fn all(&mut self, name: &str) -> Vec<String> {
        let (hits, rest) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|(k, _)| k == name);
        self.0 = rest;
        hits.into_iter().map(|(_, v)| v).collect()
    }

    /// The single value of `name`, if given.
    ///
    /// # Errors
    /// 400 when given twice.
    pub fn opt(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let mut v = self.all(name);
        match v.len() {
            0 => Ok(None),
            1 => Ok(v.pop()),
            _ => Err(bad_param(name, "given more than once")),
        }
    }

    /// The single value of `name`, parsed.
    ///
    /// # Errors
    /// 400 when it does not parse or is given twice.
    pub fn parse<T: FromStr>(&mut self, name: &str) -> Result<Option<T>, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        self.opt(name)?
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| bad_param(name, format!("{v:.40}: {e}")))
            })
            .transpose()
    }

    /// The single value of `name`, parsed and required.
    ///
    /// # Errors
    /// 400 when absent, malformed or given twice.
    pub fn required<T: FromStr>(&mut self, name: &str) -> Result<T, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        self.parse(name)?
            .ok_or_else(|| bad_param(name, "is required"))
    }

    /// `limit=`: the page size of search and history, 1 to the protocol's largest page
    /// (default [`limits::PAGE_DEFAULT`]).
    ///
    /// # Errors
    /// 400 when malformed or out of range.
    pub fn page_limit(&mut self) -> Result<usize, ApiError> {
        match self.parse::<usize>("limit")? {
            None => Ok(limits::PAGE_DEFAULT),
            Some(n) if (1..=limits::PAGE_MAX).contains(&n) => Ok(n),
            Some(_) => Err(bad_param(
                "limit",
                format!("must be 1 to {}", limits::PAGE_MAX),
            )),
        }
    }

    /// Signer filters: `signer=a&signer=b` or `signer=a,b`.
    pub fn signers(&mut self) -> Vec<String> {
        self.all("signer")
            .iter()
            .flat_map(|v| v.split(','))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Rejects parameters nobody took.
    ///
    /// # Errors
    /// 400 naming the first unknown parameter.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.0.first() {
            None => Ok(()),
            Some((k, _)) => Err(bad_param(
                &k.chars().take(40).collect::<String>(),
                "unknown parameter",
            )),
        }
    }
}

/// A path segment other than the ledger, by name, raw.
pub async fn path_param(parts: &mut Parts, name: &str) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))?;
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .ok_or_else(|| ApiError::Internal(format!("route has no {name} parameter")))
}

/// The role a route needs.
pub trait Need: Send + Sync + 'static {
    /// The least role.
    const ROLE: Role;
}

/// Reads: authenticate, history, search, proofs, tiles (no key on `public_read` ledgers).
#[derive(Debug)]
pub struct Read;
/// Notarize and change statuses.
#[derive(Debug)]
pub struct Write;
/// Manage the ledger's keys.
#[derive(Debug)]
pub struct Admin;

impl Need for Read {
    const ROLE: Role = Role::Read;
}
impl Need for Write {
    const ROLE: Role = Role::Write;
}
impl Need for Admin {
    const ROLE: Role = Role::Admin;
}

/// A caller allowed role `N` on the ledger named in the path (`{ledger}`).
///
/// Order of checks, so that nothing about a ledger leaks to callers who may not see it:
/// ledger name syntax (400) → credentials (401; a CI token is verified and its rules consulted
/// for this ledger: 401, 403 or 503) → ledger exists (404 for the server admin and for a token
/// whose rule names the ledger, 403 for a key of another ledger, 401 without a key) → role and
/// ledger of the key or token (403) → rate limit per key or token identity (429; the server
/// admin token is exempt). Nothing is read or written for a refused caller.
#[derive(Debug)]
pub struct Access<N: Need> {
    /// The ledger.
    pub handle: Arc<LedgerHandle>,
    /// Who signs entries made by this request: the key id, the CI identity's signer id,
    /// `admin`, or `anonymous`.
    pub signer: String,
    /// For a CI token: who built it, as verified, to record in the entries it makes.
    pub identity: Option<VerifiedIdentity>,
    _need: PhantomData<N>,
}

impl<N: Need> Access<N> {
    fn new(handle: Arc<LedgerHandle>, signer: String, identity: Option<VerifiedIdentity>) -> Self {
        Access {
            handle,
            signer,
            identity,
            _need: PhantomData,
        }
    }

    /// The access, once its ledger's snapshot holds what any instance on a shared database
    /// committed before this request (a no-op for SQLite).
    async fn fresh(self) -> Result<Self, ApiError> {
        self.handle.refresh().await?;
        Ok(self)
    }
}

impl<N: Need> FromRequestParts<AppState> for Access<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let name = path_param(parts, "ledger").await?;
        let name = LedgerName::new(&name)
            .map_err(|e| ApiError::bad_request("invalid_ledger_name", e.to_string()))?;
        let handle = state.ledger(name.as_str());
        let caller = match state.ledger_caller(authorization(parts)?, &name).await {
            // A genuine token that grants nothing here may still read a public ledger, as
            // anyone may (like a key of another ledger).
            Err(ApiError::Oidc {
                error: OidcError::NoRuleMatches { .. },
                ..
            }) if N::ROLE == Role::Read
                && handle.as_ref().is_some_and(|h| h.meta().public_read) =>
            {
                Caller::Anonymous
            }
            other => other?,
        };
        let (handle, signer, identity, rate_key) = match (handle, caller) {
            (None, Caller::Admin) => {
                return Err(ApiError::NotFound(format!("no ledger named {name}")))
            }
            (None, Caller::Key(_)) => {
                return Err(ApiError::Forbidden(
                    "this API key is not valid for that ledger".into(),
                ))
            }
            // The token's rule names this ledger: its absence is no secret to the token.
            (None, Caller::Oidc(_)) => {
                return Err(ApiError::NotFound(format!("no ledger named {name}")))
            }
            (None, Caller::Anonymous) => return Err(missing_key()),
            // The server admin token is the operator's own credential: not rate limited.
            (Some(h), Caller::Admin) => {
                return Access::new(h, "admin".to_owned(), None).fresh().await
            }
            (Some(h), Caller::Key(key)) if key.ledger == name.as_str() => {
                if key.role < N::ROLE {
                    return Err(ApiError::Forbidden(format!(
                        "this needs a {} key; this key's role is {}",
                        N::ROLE.as_str(),
                        key.role.as_str()
                    )));
                }
                let rate_key = format!("{}/{}", key.ledger, key.id);
                (h, key.id, None, rate_key)
            }
            (Some(h), Caller::Oidc(id)) if id.ledger == name => {
                if id.role < N::ROLE {
                    return Err(ApiError::Forbidden(format!(
                        "this needs role {}; rule {:?} grants this CI token role {}",
                        N::ROLE.as_str(),
                        id.rule,
                        id.role.as_str()
                    )));
                }
                // One bucket per identity (issuer and subject), whichever ledger it calls.
                (h, id.signer.clone(), Some(id.entry_identity()), id.signer)
            }
            // A key of another ledger may still read a public ledger, as anyone may.
            (Some(h), Caller::Key(_) | Caller::Anonymous)
                if N::ROLE == Role::Read && h.meta().public_read =>
            {
                let addr = parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0);
                (
                    h,
                    "anonymous".to_owned(),
                    None,
                    RequestLimits::anonymous_identity(addr),
                )
            }
            (Some(_), Caller::Key(_)) => {
                return Err(ApiError::Forbidden(
                    "this API key is not valid for that ledger".into(),
                ))
            }
            (Some(_), Caller::Oidc(_)) => {
                return Err(ApiError::Internal(
                    "a CI token was granted another ledger than asked".into(),
                ))
            }
            (Some(_), Caller::Anonymous) => return Err(missing_key()),
        };
        state.limits().charge(&rate_key)?;
        Access::new(handle, signer, identity).fresh().await
    }
}

/// The server admin token: creates ledgers and lists them.
#[derive(Debug)]
pub struct ServerAdmin;

impl FromRequestParts<AppState> for ServerAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match state.caller(authorization(parts)?)? {
            Caller::Admin => Ok(ServerAdmin),
            Caller::Anonymous => Err(missing_key()),
            Caller::Key(_) | Caller::Oidc(_) => Err(ApiError::Forbidden(
                "this needs the server admin token".into(),
            )),
        }
    }
}

/// Any caller with a credential: the server admin token or a live API key (rate limited as
/// in [`Access`]). For reads about the caller itself, which name no ledger.
#[derive(Debug)]
pub struct Identity(pub Caller);

impl FromRequestParts<AppState> for Identity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match state.caller(authorization(parts)?)? {
            Caller::Anonymous => Err(missing_key()),
            Caller::Admin => Ok(Identity(Caller::Admin)),
            Caller::Key(key) => {
                state
                    .limits()
                    .charge(&format!("{}/{}", key.ledger, key.id))?;
                Ok(Identity(Caller::Key(key)))
            }
            // `caller` never verifies CI tokens: a token is granted per ledger.
            Caller::Oidc(_) => Err(missing_key()),
        }
    }
}

/// A caller allowed to read `/metrics` (see `metrics_token`).
#[derive(Debug)]
pub struct MetricsReader;

impl FromRequestParts<AppState> for MetricsReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state
            .metrics_reader(authorization(parts)?)
            .map(|()| MetricsReader)
    }
}

fn missing_key() -> ApiError {
    ApiError::Unauthorized(
        "an API key or CI token is required: Authorization: Bearer <api key or token>".into(),
    )
}

fn authorization(parts: &Parts) -> Result<Option<&str>, ApiError> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::Unauthorized("malformed Authorization header".into()))
        })
        .transpose()
}
