//! An issuer's signing keys: discovered through `/.well-known/openid-configuration` (OpenID
//! Connect Discovery 1.0 §4), fetched from its `jwks_uri` over HTTPS, cached, and refetched
//! when the cache is old or a token names an unknown `kid` — at most once per
//! `jwks_min_refresh` whatever arrives, so that forged `kid`s cannot make the server hammer the
//! issuer. When the keys cannot be fetched and no fresh copy is held, verification fails
//! closed with [`OidcError::IssuerUnavailable`].

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::config::{IssuerConfig, OidcConfig};
use super::error::OidcError;
use super::jws::{Jwk, KeySet};

/// Largest discovery or JWKS document read; real ones are a few KiB.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Where the time comes from: the system's clock in the server, a hand-set one in tests (to
/// expire tokens and age caches without sleeping).
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// What is known of an issuer's keys.
#[derive(Default)]
struct KeyState {
    /// The last keys fetched.
    keys: Arc<KeySet>,
    /// When they were fetched; `None` before the first success.
    fetched_at: Option<SystemTime>,
    /// When the last fetch was tried, successful or not.
    attempted_at: Option<SystemTime>,
    /// Whether that try failed.
    failed: bool,
    /// Bumped by every try, so that waiters see that someone else fetched.
    generation: u64,
}

/// True when at least `interval` passed from `then` to `now`. A clock that went backwards
/// counts as "long ago": a refresh is allowed rather than blocked until the clock catches up.
fn elapsed(then: Option<SystemTime>, now: SystemTime, interval: Duration) -> bool {
    then.is_none_or(|t| now.duration_since(t).map_or(true, |d| d >= interval))
}

impl KeyState {
    fn fresh(&self, now: SystemTime, cache: Duration) -> bool {
        self.fetched_at.is_some() && !elapsed(self.fetched_at, now, cache)
    }
}

/// The keys of one issuer and the HTTPS client that fetches them.
pub(crate) struct IssuerKeys {
    issuer: String,
    client: reqwest::Client,
    cache: Duration,
    min_refresh: Duration,
    clock: Arc<dyn Clock>,
    state: RwLock<KeyState>,
    /// Held while fetching: concurrent misses wait for one fetch instead of starting their own.
    fetching: tokio::sync::Mutex<()>,
}

/// Why a fetch failed (for the log; callers see [`OidcError::IssuerUnavailable`]).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("{url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: HTTP status {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: document larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge { url: String },
    #[error("{url}: {reason}")]
    Invalid { url: String, reason: String },
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl IssuerKeys {
    /// An empty cache for `issuer`, with an HTTPS-only client trusting the system's roots and
    /// the issuer's CA bundle.
    ///
    /// # Errors
    /// When the TLS client cannot be built.
    pub fn new(
        issuer: &IssuerConfig,
        config: &OidcConfig,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<IssuerKeys> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(true)
            .timeout(config.fetch_timeout)
            .connect_timeout(config.fetch_timeout)
            // A redirect may only lead to another https:// URL, three times at most.
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= 3 || attempt.url().scheme() != "https" {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .user_agent(concat!("notariumd/", env!("CARGO_PKG_VERSION")));
        for cert in &issuer.ca_certificates {
            builder = builder.add_root_certificate(cert.clone());
        }
        Ok(IssuerKeys {
            issuer: issuer.issuer.clone(),
            client: builder.build()?,
            cache: config.jwks_cache,
            min_refresh: config.jwks_min_refresh,
            clock,
            state: RwLock::new(KeyState::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// The key named `kid`, fetching the issuer's keys when the cache is empty or old, or when
    /// `kid` is unknown and the last fetch is at least `min_refresh` old.
    ///
    /// # Errors
    /// [`OidcError::UnknownKid`] when the (fresh) keys have no such `kid`;
    /// [`OidcError::IssuerUnavailable`] when the keys are needed and cannot be fetched, or
    /// failed to be fetched less than `min_refresh` ago.
    pub async fn key(&self, kid: &str) -> Result<Jwk, OidcError> {
        self.keys_for(Some(kid))
            .await?
            .ok_or_else(|| self.unknown_kid())
    }

    /// Fetches the keys unless fresh ones are held, for start-up.
    ///
    /// # Errors
    /// [`OidcError::IssuerUnavailable`] when the fetch fails.
    pub async fn warm(&self) -> Result<(), OidcError> {
        self.keys_for(None).await.map(drop)
    }

    /// The key named `kid` (`None`: no key, only fresh keys), fetching when needed and allowed.
    async fn keys_for(&self, kid: Option<&str>) -> Result<Option<Jwk>, OidcError> {
        let seen = {
            let now = self.clock.now();
            let s = self.read();
            if s.fresh(now, self.cache) {
                let Some(kid) = kid else { return Ok(None) };
                if let Some(k) = s.keys.get(kid) {
                    return Ok(Some(k.clone()));
                }
                if !elapsed(s.attempted_at, now, self.min_refresh) {
                    tracing::debug!(issuer = %self.issuer, "unknown kid; keys fetched too recently to fetch again");
                    return Err(self.unknown_kid());
                }
            } else if s.failed && !elapsed(s.attempted_at, now, self.min_refresh) {
                return Err(self.unavailable());
            }
            s.generation
        };
        let _fetching = self.fetching.lock().await;
        {
            // Another request fetched while this one waited: its outcome answers this one too.
            let s = self.read();
            if s.generation != seen {
                return self.lookup(&s, kid);
            }
        }
        let fetched = self.fetch().await;
        let now = self.clock.now();
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        s.generation += 1;
        s.attempted_at = Some(now);
        match fetched {
            Ok(keys) => {
                tracing::info!(issuer = %self.issuer, keys = keys.len(), "fetched the issuer's signing keys");
                s.keys = Arc::new(keys);
                s.fetched_at = Some(now);
                s.failed = false;
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "cannot fetch the issuer's signing keys");
                s.failed = true;
            }
        }
        self.lookup(&s, kid)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, KeyState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers from the state a fetch just left.
    fn lookup(&self, s: &KeyState, kid: Option<&str>) -> Result<Option<Jwk>, OidcError> {
        if !s.fresh(self.clock.now(), self.cache) {
            return Err(self.unavailable());
        }
        let Some(kid) = kid else { return Ok(None) };
        match s.keys.get(kid) {
            Some(k) => Ok(Some(k.clone())),
            // The unknown kid asked for a fetch that failed: the key may exist, so say so.
            None if s.failed => Err(self.unavailable()),
            None => Err(self.unknown_kid()),
        }
    }

    fn unknown_kid(&self) -> OidcError {
        OidcError::UnknownKid {
            issuer: self.issuer.clone(),
        }
    }

    fn unavailable(&self) -> OidcError {
        OidcError::IssuerUnavailable {
            issuer: self.issuer.clone(),
        }
    }

    /// Discovery, then the JWK Set it names.
    async fn fetch(&self) -> Result<KeySet, FetchError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let body = self.get(&url).await?;
        let doc: Discovery = serde_json::from_slice(&body).map_err(|e| FetchError::Invalid {
            url: url.clone(),
            reason: format!("not an OpenID configuration: {e}"),
        })?;
        // Discovery §4.3: the document must name the very issuer it was fetched for.
        if doc.issuer != self.issuer {
            return Err(FetchError::Invalid {
                url,
                reason: format!("names issuer {:?}, not {:?}", doc.issuer, self.issuer),
            });
        }
        if !doc.jwks_uri.starts_with("https://") {
            return Err(FetchError::Invalid {
                url,
                reason: "jwks_uri is not an https:// URL".into(),
            });
        }
        let body = self.get(&doc.jwks_uri).await?;
        let (keys, skipped) = KeySet::parse(&body).map_err(|reason| FetchError::Invalid {
            url: doc.jwks_uri.clone(),
            reason,
        })?;
        for reason in skipped {
            tracing::debug!(issuer = %self.issuer, %reason, "JWKS key left out");
        }
        Ok(keys)
    }

    /// GETs `url` and reads at most [`MAX_DOCUMENT_BYTES`].
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let http = |source| FetchError::Http {
            url: url.to_owned(),
            source,
        };
        let mut resp = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(http)?;
        if !resp.status().is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: resp.status().as_u16(),
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(http)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::TooLarge {
                    url: url.to_owned(),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
