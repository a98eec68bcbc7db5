//! The server's one shared state: the open ledgers, the validated configuration, who holds
//! which credential, rate limits and metrics.
//!
//! Data directory layout:
//! - `<data>/ledgers/<name>/`: one ledger (`ledger.db`, `signing.key`, owned by
//!   `notarium-ledger`) plus `notariumd.json` with the server's settings for it (`public_read`).
//! - `<data>/admin-token.sha256`: the SHA-256 of a generated admin token (mode 0600); the token
//!   itself is printed once and never stored.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use anyhow::Context;
use base64::Engine;
use notarium_core::{LedgerName, Role};
use notarium_ledger::{Ledger, LedgerOptions};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;

/// The ledger that a fresh data directory starts with.
pub const DEFAULT_LEDGER: &str = "default";
const LEDGERS_DIR: &str = "ledgers";
const LEDGER_META: &str = "notariumd.json";
const ADMIN_HASH_FILE: &str = "admin-token.sha256";

/// The server's settings for one ledger, stored beside it.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerMeta {
    /// Reads need no key.
    #[serde(default)]
    pub public_read: bool,
}

/// An open ledger and the server's settings for it.
#[derive(Debug)]
pub struct LedgerHandle {
    /// The ledger.
    pub ledger: Arc<Ledger>,
    /// Its settings.
    pub meta: LedgerMeta,
    /// One permit per reader connection of the ledger (`ledger_readers`).
    reads: Semaphore,
}

impl LedgerHandle {
    /// Runs a blocking read of the ledger off the executor, at most one per reader connection
    /// at a time. Requests beyond that wait here, as cheap tasks, instead of as blocking threads
    /// parked on the ledger's reader pool: with 64 parked threads `http-bench` served fewer
    /// authentications per second than with 4 connections.
    ///
    /// # Errors
    /// The ledger's error, mapped once by [`ApiError`].
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Ledger) -> Result<T, notarium_ledger::Error> + Send + 'static,
    ) -> ApiResult<T> {
        let _permit = self
            .reads
            .acquire()
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let ledger = self.ledger.clone();
        crate::routes::blocking(move || f(&ledger)).await
    }
}

/// An API key the server has seen, by the hash of its secret.
#[derive(Clone, Debug)]
pub struct KeyInfo {
    /// The ledger the key belongs to.
    pub ledger: String,
    /// The key id (the `signer` of its entries).
    pub id: String,
    /// Its role.
    pub role: Role,
    /// Revoked when looked up.
    pub revoked: bool,
}

/// Who is calling.
#[derive(Clone, Debug)]
pub enum Caller {
    /// No `Authorization` header.
    Anonymous,
    /// The server admin token.
    Admin,
    /// An API key.
    Key(KeyInfo),
}

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
    ledgers: RwLock<BTreeMap<String, Arc<LedgerHandle>>>,
    /// Serialises ledger creation (which opens files) without blocking readers of the map.
    creating: tokio::sync::Mutex<()>,
    admin_hash: [u8; 32],
    /// Credential hash → key, filled on first use and on key creation.
    credentials: RwLock<HashMap<[u8; 32], KeyInfo>>,
    /// `(ledger, key id)` revoked by this process. Revoking marks cached keys and records
    /// the id here under the `credentials` write lock; a cache miss checks it under the same
    /// lock before inserting, so a lookup racing a revocation cannot cache a live key.
    revoked: Mutex<HashSet<(String, String)>>,
    limiter: RateLimiter,
    metrics: Arc<Metrics>,
    concurrency: Arc<Semaphore>,
    ready: AtomicBool,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// SHA-256 of a bearer secret: how keys and the admin token are stored and looked up.
pub fn credential_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares two hashes in constant time.
pub fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `n` random bytes from the operating system.
///
/// # Errors
/// When the OS has no randomness to give.
pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(b)
}

/// A new bearer secret with a prefix: `<prefix>` + base64url of 256 random bits.
///
/// # Errors
/// When the OS has no randomness to give.
pub fn new_secret(prefix: &str) -> anyhow::Result<String> {
    let bytes = random_bytes::<32>()?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

impl AppState {
    /// Opens (or initialises) the data directory: every ledger found, `default` when there
    /// is none, and the admin token. Blocking: call it before serving or on a blocking thread.
    ///
    /// # Errors
    /// When the data directory is unusable or a ledger fails to open.
    pub fn open(config: Config) -> anyhow::Result<(AppState, Startup)> {
        let data = config.data_dir.clone();
        let data = data.as_path();
        std::fs::create_dir_all(data.join(LEDGERS_DIR))
            .with_context(|| format!("cannot create data directory {}", data.display()))?;
        check_writable(data)?;
        let mut startup = Startup::default();
        let admin_hash = match &config.admin_token {
            Some(t) => credential_hash(t.expose()),
            None => load_or_create_admin_hash(data, &mut startup)?,
        };
        let state = AppState {
            inner: Arc::new(Inner {
                ledgers: RwLock::new(BTreeMap::new()),
                creating: tokio::sync::Mutex::new(()),
                admin_hash,
                credentials: RwLock::new(HashMap::new()),
                revoked: Mutex::new(HashSet::new()),
                limiter: RateLimiter::new(config.limits.rate_per_second, config.limits.rate_burst),
                metrics: Arc::new(Metrics::default()),
                concurrency: Arc::new(Semaphore::new(config.limits.concurrent_requests)),
                ready: AtomicBool::new(false),
                config,
            }),
        };
        let mut names = Vec::new();
        for dirent in std::fs::read_dir(data.join(LEDGERS_DIR))? {
            let dirent = dirent?;
            let file_name = dirent.file_name();
            let Some(name) = file_name.to_str() else {
                continue;
            };
            match LedgerName::new(name) {
                Ok(n) if dirent.file_type()?.is_dir() => names.push(n),
                _ => tracing::warn!(entry = ?dirent.path(), "ignoring a file that is not a ledger"),
            }
        }
        if names.is_empty() {
            let name = LedgerName::new(DEFAULT_LEDGER).expect("valid");
            let handle = state.open_ledger(&name, Some(LedgerMeta::default()))?;
            startup
                .created_ledgers
                .push((name.to_string(), handle.ledger.verifier_key().to_string()));
            state.insert(handle);
        } else {
            for name in names {
                let handle = state.open_ledger(&name, None)?;
                state.insert(handle);
            }
        }
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

    /// The request slots (for the concurrency limit).
    pub fn concurrency(&self) -> &Arc<Semaphore> {
        &self.inner.concurrency
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
        self.inner
            .ledgers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Every ledger, by name.
    pub fn ledgers(&self) -> Vec<Arc<LedgerHandle>> {
        self.inner
            .ledgers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
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
        let _guard = self.inner.creating.lock().await;
        if self.ledger(name.as_str()).is_some() {
            return Err(ApiError::Conflict(format!("ledger {name} already exists")));
        }
        if self.ledgers().len() >= self.inner.config.limits.ledgers {
            return Err(ApiError::Invalid(format!(
                "this server holds its maximum of {} ledgers",
                self.inner.config.limits.ledgers
            )));
        }
        let state = self.clone();
        let handle = tokio::task::spawn_blocking(move || state.open_ledger(&name, Some(meta)))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Storage(format!("{e:#}")))?;
        self.insert(handle.clone());
        Ok(handle)
    }

    fn insert(&self, handle: Arc<LedgerHandle>) {
        let name = handle.ledger.name().to_string();
        self.inner
            .ledgers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, handle);
    }

    /// Opens ledger `name`; with `create`, writes its settings first (a new ledger).
    fn open_ledger(
        &self,
        name: &LedgerName,
        create: Option<LedgerMeta>,
    ) -> anyhow::Result<Arc<LedgerHandle>> {
        let config = &self.inner.config;
        let dir = config.data_dir.join(LEDGERS_DIR).join(name.as_str());
        let meta_path = dir.join(LEDGER_META);
        let meta = match create {
            Some(meta) => {
                std::fs::create_dir_all(&dir)?;
                write_file(&meta_path, &serde_json::to_vec_pretty(&meta)?, false)?;
                meta
            }
            None => match std::fs::read(&meta_path) {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .with_context(|| format!("invalid {}", meta_path.display()))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => LedgerMeta::default(),
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot read {}", meta_path.display()))
                }
            },
        };
        let mut options = LedgerOptions::new(name.clone(), config.origin(name)?);
        options.durability = config.durability;
        options.max_batch = config.commit_max_entries;
        options.readers = config.ledger_readers;
        // The observer holds the metrics only, not the state: no reference cycle.
        let metrics = self.inner.metrics.clone();
        let ledger_name = name.to_string();
        options.on_commit = Some(Arc::new(move |info| metrics.commit(&ledger_name, info)));
        let ledger = Ledger::open(&dir, options)
            .with_context(|| format!("cannot open ledger {name} in {}", dir.display()))?;
        Ok(Arc::new(LedgerHandle {
            ledger: Arc::new(ledger),
            meta,
            reads: Semaphore::new(self.inner.config.ledger_readers),
        }))
    }

    /// Identifies the caller from an `Authorization` header value.
    ///
    /// # Errors
    /// 401 for a malformed header or an unknown key; 503 when key storage cannot be read.
    pub async fn caller(&self, authorization: Option<&str>) -> ApiResult<Caller> {
        let Some(value) = authorization else {
            return Ok(Caller::Anonymous);
        };
        let token = value
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 512)
            .ok_or_else(|| {
                ApiError::Unauthorized("expected Authorization: Bearer <api key>".into())
            })?;
        let hash = credential_hash(token);
        if ct_eq(&hash, &self.inner.admin_hash) {
            return Ok(Caller::Admin);
        }
        let cached = self
            .inner
            .credentials
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&hash)
            .cloned();
        let info = match cached {
            Some(info) => info,
            None => {
                let state = self.clone();
                let found = tokio::task::spawn_blocking(move || state.find_credential(&hash))
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))??;
                let mut info =
                    found.ok_or_else(|| ApiError::Unauthorized("unknown API key".into()))?;
                let mut credentials = self
                    .inner
                    .credentials
                    .write()
                    .unwrap_or_else(|e| e.into_inner());
                // A revocation that committed after the lookup above has been recorded here.
                let revoked = self.inner.revoked.lock().unwrap_or_else(|e| e.into_inner());
                info.revoked |= revoked.contains(&(info.ledger.clone(), info.id.clone()));
                credentials.insert(hash, info.clone());
                info
            }
        };
        if info.revoked {
            return Err(ApiError::Unauthorized(
                "this API key has been revoked".into(),
            ));
        }
        Ok(Caller::Key(info))
    }

    fn find_credential(&self, hash: &[u8; 32]) -> ApiResult<Option<KeyInfo>> {
        for handle in self.ledgers() {
            if let Some(rec) = handle.ledger.find_credential(hash)? {
                return Ok(Some(KeyInfo {
                    ledger: handle.ledger.name().to_string(),
                    id: rec.id,
                    role: rec.role,
                    revoked: rec.revoked_index.is_some(),
                }));
            }
        }
        Ok(None)
    }

    /// Remembers a key created by this process.
    pub fn remember_key(&self, secret: &str, info: KeyInfo) {
        self.inner
            .credentials
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(credential_hash(secret), info);
    }

    /// Makes a revocation take effect for every later request.
    pub fn forget_key(&self, ledger: &str, id: &str) {
        let mut credentials = self
            .inner
            .credentials
            .write()
            .unwrap_or_else(|e| e.into_inner());
        self.inner
            .revoked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((ledger.to_owned(), id.to_owned()));
        for info in credentials.values_mut() {
            if info.ledger == ledger && info.id == id {
                info.revoked = true;
            }
        }
    }

    /// Charges one request to `who`'s bucket.
    ///
    /// # Errors
    /// 429 with the seconds until a request would be allowed.
    pub fn charge(&self, who: &str) -> ApiResult<()> {
        self.inner
            .limiter
            .charge(who)
            .map_err(ApiError::RateLimited)
    }

    /// The rate-limit identity of an anonymous caller.
    pub fn anonymous_identity(addr: Option<SocketAddr>) -> String {
        addr.map_or_else(|| "anonymous".to_owned(), |a| format!("ip:{}", a.ip()))
    }

    /// Closes every ledger, finishing queued batches. Blocking.
    pub fn close(&self) {
        for handle in self.ledgers() {
            handle.ledger.close();
        }
    }
}

fn check_writable(data: &Path) -> anyhow::Result<()> {
    let probe = data.join(".notariumd-write-test");
    std::fs::write(&probe, b"ok")
        .and_then(|()| std::fs::remove_file(&probe))
        .with_context(|| format!("data directory {} is not writable", data.display()))
}

fn load_or_create_admin_hash(data: &Path, startup: &mut Startup) -> anyhow::Result<[u8; 32]> {
    let path: PathBuf = data.join(ADMIN_HASH_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mut hash = [0u8; 32];
            hex::decode_to_slice(text.trim(), &mut hash)
                .with_context(|| format!("{} does not hold a SHA-256 in hex", path.display()))?;
            Ok(hash)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = new_secret("na_")?;
            let hash = credential_hash(&token);
            write_file(&path, format!("{}\n", hex::encode(hash)).as_bytes(), true)?;
            startup.generated_admin_token = Some(token);
            Ok(hash)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes a file durably; `secret` files are created with mode 0600.
fn write_file(path: &Path, bytes: &[u8], secret: bool) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// A token bucket per caller: `rate` requests per second sustained, `burst` at once.
struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Buckets kept before full ones are pruned.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    fn new(rate: u64, burst: u64) -> Self {
        RateLimiter {
            rate: rate as f64,
            burst: burst as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token, or says how many seconds until one is there.
    fn charge(&self, who: &str) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(who) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        if !buckets.contains_key(who) {
            buckets.insert(who.to_owned(), (self.burst, now));
        }
        let (tokens, at) = buckets.get_mut(who).expect("inserted above");
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket() {
        let l = RateLimiter::new(1, 3);
        assert!(l.charge("a").is_ok());
        assert!(l.charge("a").is_ok());
        assert!(l.charge("a").is_ok());
        assert_eq!(l.charge("a"), Err(1));
        assert!(l.charge("b").is_ok(), "buckets are per caller");
        assert!(RateLimiter::new(0, 1).charge("a").is_ok(), "0 disables");
    }

    #[test]
    fn constant_time_eq() {
        let a = credential_hash("x");
        assert!(ct_eq(&a, &credential_hash("x")));
        assert!(!ct_eq(&a, &credential_hash("y")));
    }
}
