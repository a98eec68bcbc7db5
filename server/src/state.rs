//! The server's one shared state, composed of its rooms: the validated configuration, the open
//! ledgers ([`crate::registry`]), who holds which credential ([`crate::auth`]), the CI token
//! verifier ([`crate::oidc`]), request limits ([`crate::limits`]), readiness
//! ([`crate::health`]) and metrics.

use std::sync::Arc;

use notarium_core::api::Limits as WireLimits;
use notarium_core::LedgerName;

use crate::auth::{Caller, Credentials, KeyInfo, Presented};
use crate::config::Config;
use crate::datadir::{DataDir, LedgerMeta};
use crate::error::{ApiError, ApiResult};
use crate::health::Readiness;
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
    /// Each ledger created at this start.
    pub created_ledgers: Vec<CreatedLedger>,
}

/// A ledger created at start, with what is now fixed about it.
#[derive(Debug)]
pub struct CreatedLedger {
    /// Its name.
    pub name: String,
    /// The origin frozen into its checkpoints.
    pub origin: String,
    /// The key that verifies them.
    pub verifier_key: String,
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
    readiness: Readiness,
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
        let database = match &config.database {
            None => None,
            Some(url) => Some(
                notarium_ledger::Postgres::connect(url.expose())
                    .map_err(|e| anyhow::anyhow!("database: {e}"))?
                    .with_lease(config.sequencer_lease),
            ),
        };
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
        let registry = Arc::new(Registry::new(
            data,
            database,
            config.clone(),
            metrics.clone(),
        ));
        let names = registry.stored_ledgers()?;
        let oidc = Arc::new(Oidc::new(config.oidc.clone())?);
        let credentials = Credentials::new(admin_hash)
            .with_metrics_token(config.metrics.token.as_ref().map(|t| t.expose()));
        if names.is_empty() {
            let name = LedgerName::new(DEFAULT_LEDGER).expect("valid");
            let handle = registry.create_blocking(&name, LedgerMeta::default())?;
            startup.created_ledgers.push(CreatedLedger {
                name: name.to_string(),
                origin: handle.origin().to_string(),
                verifier_key: handle.verifier_key().to_string(),
            });
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
                readiness: Readiness::default(),
            }),
        };
        Ok((state, startup))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The data directory (locked by this process).
    pub fn data_dir(&self) -> &DataDir {
        self.inner.ledgers.data()
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
        self.inner.readiness.is_serving()
    }

    /// Marks the server serving or not.
    pub fn set_ready(&self, ready: bool) {
        self.inner.readiness.set_serving(ready);
    }

    /// Whether the server can do its job now: serving, every ledger writing, storage taking
    /// writes ([`crate::health`]).
    ///
    /// # Errors
    /// 503 naming the reason.
    pub async fn readiness(&self) -> ApiResult<()> {
        let ledgers = self.ledgers();
        self.inner
            .readiness
            .check(self.inner.ledgers.data(), &ledgers)
            .await
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
        let presented = self.inner.credentials.identify(authorization);
        if self.inner.ledgers.database().is_some() {
            if let Some(caller) = self.shared_key(authorization, ledger, &presented).await? {
                return Ok(caller);
            }
        }
        let token = match presented? {
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

    /// On a database that other instances share, the API key an `Authorization` value
    /// presents, as its ledger stores it now: an unknown one is looked up there (a key created
    /// through another instance) and remembered; a known one is checked there again once
    /// [`crate::auth::SHARED_KEY_RECHECK`] has passed (a revocation through another instance).
    /// `None`: nothing to add to what memory says.
    async fn shared_key(
        &self,
        authorization: Option<&str>,
        ledger: &LedgerName,
        presented: &ApiResult<Presented<'_>>,
    ) -> ApiResult<Option<Caller>> {
        let credentials = &self.inner.credentials;
        let Some(hash) = crate::auth::presented_key(authorization) else {
            return Ok(None);
        };
        let known = match presented {
            Ok(Presented::Caller(Caller::Key(info))) if info.ledger == ledger.as_str() => {
                if credentials.checked_recently(&hash) {
                    return Ok(None);
                }
                true
            }
            Err(ApiError::Unauthorized(_)) => false,
            _ => return Ok(None),
        };
        let Some(handle) = self.ledger(ledger.as_str()) else {
            return Ok(None);
        };
        let Some(key) = handle.read(move |l| l.find_credential(&hash)).await? else {
            return Ok(None);
        };
        credentials.mark_checked(hash);
        if key.revoked_index.is_some() {
            credentials.revoke(ledger.as_str(), &key.id);
            return Err(ApiError::Unauthorized(
                "this API key has been revoked".into(),
            ));
        }
        if known {
            return Ok(None);
        }
        let info = KeyInfo {
            ledger: ledger.to_string(),
            id: key.id.clone(),
            role: key.role,
            revoked: false,
        };
        credentials.load(ledger.as_str(), vec![(hash, key)]);
        Ok(Some(Caller::Key(info)))
    }

    /// The CI token verifier.
    pub fn oidc(&self) -> &Arc<Oidc> {
        &self.inner.oidc
    }

    /// Whether this `Authorization` value may read `/metrics`.
    ///
    /// # Errors
    /// 401 when a metrics token is configured and not given.
    pub fn metrics_reader(&self, authorization: Option<&str>) -> ApiResult<()> {
        self.inner.credentials.metrics_reader(authorization)
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
