//! The server's one shared state, composed of its rooms: the validated configuration, the open
//! ledgers ([`crate::registry`]), who holds which credential ([`crate::auth`]), the CI token
//! verifier ([`crate::oidc`]), request limits ([`crate::limits`]) and metrics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use notarium_core::api::Limits as WireLimits;
use notarium_core::LedgerName;

use crate::auth::{Caller, Credentials, KeyInfo, Presented};
use crate::config::Config;
use crate::datadir::{DataDir, LedgerMeta};
use crate::error::{ApiError, ApiResult};
use crate::limits::RequestLimits;
use crate::metrics::Metrics;
use crate::oidc::Oidc;
use crate::registry::{LedgerHandle, Registry};

/// The ledger that a fresh data directory starts with.
pub const DEFAULT_LEDGER: &str = "default";

/// What a first start generated and must be shown once.
#[derive(Debug, Default)]
pub struct Startup {
    /// A generated admin token (only on the first start without a configured one).
    pub generated_admin_token: Option<String>,
    /// The verifier key of each ledger created at this start.
    pub created_ledgers: Vec<(String, String)>,
}

/// The shared state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    ledgers: Arc<Registry>,
    credentials: Credentials,
    oidc: Arc<Oidc>,
    limits: RequestLimits,
    metrics: Arc<Metrics>,
    ready: AtomicBool,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Opens (or initialises) the data directory: every ledger found, `default` when there
    /// is none, and the admin token. Blocking: call it before serving or on a blocking thread.
    ///
    /// # Errors
    /// When the data directory is unusable or a ledger fails to open.
    pub fn open(config: Config) -> anyhow::Result<(AppState, Startup)> {
        let data = DataDir::open(&config.data_dir)?;
        let mut startup = Startup::default();
        let admin_hash = match &config.admin_token {
            Some(t) => crate::auth::credential_hash(t.expose()),
            None => {
                let (hash, generated) = data.admin_hash()?;
                startup.generated_admin_token = generated;
                hash
            }
        };
        let metrics = Arc::new(Metrics::default());
        let names = data.ledgers()?;
        let registry = Arc::new(Registry::new(data, config.clone(), metrics.clone()));
        let credentials = Credentials::new(admin_hash);
        let oidc = Arc::new(Oidc::new(config.oidc.clone())?);
        if names.is_empty() {
            let name = LedgerName::new(DEFAULT_LEDGER).expect("valid");
            let handle = registry.create_blocking(&name, LedgerMeta::default())?;
            startup
                .created_ledgers
                .push((name.to_string(), handle.verifier_key().to_string()));
        }
        for name in names {
            let (_, keys) = registry.open(&name)?;
            credentials.load(name.as_str(), keys);
        }
        let state = AppState {
            inner: Arc::new(Inner {
                limits: RequestLimits::new(&config.limits),
                config,
                ledgers: registry,
                credentials,
                oidc,
                metrics,
                ready: AtomicBool::new(false),
            }),
        };
        Ok((state, startup))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Request limits: concurrency and rate.
    pub fn limits(&self) -> &RequestLimits {
        &self.inner.limits
    }

    /// What a ledger accepts per request, as clients read it from its description.
    pub fn wire_limits(&self) -> WireLimits {
        let l = &self.inner.config.limits;
        WireLimits {
            batch_max_entries: l.batch_entries,
            authenticate_max_hashes: l.authenticate_hashes,
            page_max: notarium_core::api::limits::PAGE_MAX,
        }
    }

    /// True from the moment the server serves until shutdown begins.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::SeqCst)
    }

    /// Marks the server ready or not.
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::SeqCst);
    }

    /// The ledger named `name`.
    pub fn ledger(&self, name: &str) -> Option<Arc<LedgerHandle>> {
        self.inner.ledgers.get(name)
    }

    /// Every ledger, by name.
    pub fn ledgers(&self) -> Vec<Arc<LedgerHandle>> {
        self.inner.ledgers.all()
    }

    /// Creates a ledger.
    ///
    /// # Errors
    /// 409 when it exists, 422 past `max_ledgers`, 503 when its files cannot be written.
    pub async fn create_ledger(
        &self,
        name: LedgerName,
        meta: LedgerMeta,
    ) -> ApiResult<Arc<LedgerHandle>> {
        self.inner.ledgers.create(name, meta).await
    }

    /// Identifies the caller from an `Authorization` header value.
    ///
    /// # Errors
    /// 401 for a malformed header, an unknown or a revoked key.
    pub fn caller(&self, authorization: Option<&str>) -> ApiResult<Caller> {
        self.inner.credentials.caller(authorization)
    }

    /// Identifies the caller of a request for ledger `ledger`: a credential held here, or a CI
    /// token verified and granted by the rules for that ledger ([`Caller::Oidc`]).
    ///
    /// # Errors
    /// 401 for a malformed header, an unknown or a revoked key; for a CI token, the verifier's
    /// refusal ([`ApiError::Oidc`]: 401, 403 when no rule grants the ledger, 503 when its
    /// issuer cannot be reached).
    pub async fn ledger_caller(
        &self,
        authorization: Option<&str>,
        ledger: &LedgerName,
    ) -> ApiResult<Caller> {
        let token = match self.inner.credentials.identify(authorization)? {
            Presented::Caller(c) => return Ok(c),
            Presented::CiToken(t) => t,
        };
        if self.inner.oidc.is_empty() {
            return Err(ApiError::Unauthorized(
                "unknown API key (this server trusts no CI token issuer)".into(),
            ));
        }
        match self.inner.oidc.authenticate(token, ledger).await {
            Ok(identity) => Ok(Caller::Oidc(Box::new(identity))),
            Err(error) => Err(ApiError::Oidc {
                error,
                retry_after: self.inner.oidc.retry_after().as_secs(),
            }),
        }
    }

    /// The CI token verifier.
    pub fn oidc(&self) -> &Arc<Oidc> {
        &self.inner.oidc
    }

    /// Remembers a key created by this process.
    pub fn remember_key(&self, secret: &str, info: KeyInfo) {
        self.inner.credentials.add(secret, info);
    }

    /// Makes a revocation take effect for every later request.
    pub fn forget_key(&self, ledger: &str, id: &str) {
        self.inner.credentials.revoke(ledger, id);
    }

    /// Closes every ledger, finishing queued batches. Blocking.
    pub fn close(&self) {
        for handle in self.ledgers() {
            handle.close();
        }
    }
}
