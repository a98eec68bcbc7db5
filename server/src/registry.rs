//! The open ledgers, each behind a [`LedgerHandle`]: the one gated path through which requests
//! read a ledger and append to it.
//!
//! Reads block on storage, so they run off the async executor; at most one per read
//! connection of the ledger runs at a time, and requests beyond that wait here as cheap tasks
//! instead of as blocking threads parked on the ledger's pool (with 64 parked threads
//! `http-bench` served fewer authentications per second than with 4 connections).
//!
//! With a PostgreSQL database (docs/postgresql.md) the ledgers are those of the database, and
//! other instances may append to them: each request first brings its ledger's snapshot up to
//! what any instance committed ([`LedgerHandle::refresh`]).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use notarium_core::api::{Key, LedgerInfo, Limits};
use notarium_core::{LedgerName, Origin, Receipt, SignedCheckpoint, VerifierKey};
use notarium_ledger::{Ledger, LedgerOptions, NewEntry, Postgres};
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::datadir::{DataDir, LedgerMeta};
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;

/// An open ledger and the server's settings for it.
#[derive(Debug)]
pub struct LedgerHandle {
    ledger: Arc<Ledger>,
    meta: LedgerMeta,
    /// One permit per read connection of the ledger (`ledger_readers`).
    reads: Semaphore,
    /// Kept in a database other instances may write too.
    shared: bool,
}

impl LedgerHandle {
    /// Runs a blocking read of the ledger off the executor, through the ledger's read gate.
    ///
    /// # Errors
    /// The error of `f`, mapped once by [`ApiError`].
    pub async fn read<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
        &self,
        f: impl FnOnce(&Ledger) -> Result<T, E> + Send + 'static,
    ) -> ApiResult<T> {
        let _permit = self
            .reads
            .acquire()
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let ledger = self.ledger.clone();
        tokio::task::spawn_blocking(move || f(&ledger))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(Into::into)
    }

    /// Brings the ledger's snapshot up to the latest checkpoint any instance committed, when it
    /// lives in a shared database (one small query; nothing on SQLite, or while this instance
    /// sequences the ledger): a request then sees every write acknowledged before it began.
    ///
    /// # Errors
    /// 503 when the database cannot be read or went back in time.
    pub async fn refresh(&self) -> ApiResult<()> {
        if !self.shared {
            return Ok(());
        }
        self.read(|ledger| ledger.refresh()).await
    }

    /// Whether the ledger lives in a database that other instances may write too.
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// Queues entries with the ledger's group-commit sequencer (all-or-nothing), waits without
    /// blocking a thread until their batch is durable, then builds their receipts.
    ///
    /// # Errors
    /// 422 for an invalid entry (refused alone), 409/404 for key conflicts, 503 when the
    /// commit failed.
    pub async fn append(&self, entries: Vec<NewEntry>) -> ApiResult<Vec<Receipt>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.ledger.append_with(entries, move |result| {
            let _ = tx.send(result);
        });
        let appended = rx
            .await
            .map_err(|_| ApiError::Storage("the writer stopped without answering".into()))??;
        // The proofs' nodes are in memory (the batch's tiles): no read connection, no
        // blocking thread. Only when the tile cache has evicted one are they read.
        if let Some(receipts) = self.ledger.receipts_from_memory(&appended) {
            return Ok(receipts);
        }
        self.read(move |ledger| ledger.receipts(&appended)).await
    }

    /// The ledger's name.
    pub fn name(&self) -> &LedgerName {
        self.ledger.name()
    }

    /// The checkpoint origin.
    pub fn origin(&self) -> &Origin {
        self.ledger.origin()
    }

    /// The key that verifies the ledger's checkpoints.
    pub fn verifier_key(&self) -> &VerifierKey {
        self.ledger.verifier_key()
    }

    /// The latest signed checkpoint (held in memory: no read needed).
    pub fn checkpoint(&self) -> SignedCheckpoint {
        self.ledger.checkpoint()
    }

    /// The current tree size.
    pub fn size(&self) -> u64 {
        self.ledger.size()
    }

    /// Why the ledger's writer refuses appends, once it does.
    pub fn stopped(&self) -> Option<String> {
        self.ledger.stopped()
    }

    /// The server's settings for the ledger.
    pub fn meta(&self) -> LedgerMeta {
        self.meta
    }

    /// The ledger's description, with the limits this server enforces.
    pub fn info(&self, limits: Limits) -> LedgerInfo {
        LedgerInfo {
            name: self.name().to_string(),
            origin: self.origin().to_string(),
            verifier_key: self.verifier_key().to_string(),
            size: self.size(),
            public_read: self.meta.public_read,
            limits,
        }
    }

    /// Stops accepting appends and finishes queued batches. Blocking.
    pub fn close(&self) {
        self.ledger.close();
    }
}

/// Every open ledger, by name.
pub struct Registry {
    data: DataDir,
    /// The database holding the ledgers, when they are not SQLite files.
    database: Option<Postgres>,
    config: Config,
    metrics: Arc<Metrics>,
    ledgers: RwLock<BTreeMap<String, Arc<LedgerHandle>>>,
    /// Serialises ledger creation (which writes files) without blocking readers of the map.
    creating: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

/// What opening a ledger finds of its API keys: each key with the hash of its secret.
pub type StoredKeys = Vec<([u8; 32], Key)>;

impl Registry {
    /// An empty registry over `data`, with the ledgers in `database` when given.
    pub fn new(
        data: DataDir,
        database: Option<Postgres>,
        config: Config,
        metrics: Arc<Metrics>,
    ) -> Self {
        Registry {
            data,
            database,
            config,
            metrics,
            ledgers: RwLock::new(BTreeMap::new()),
            creating: tokio::sync::Mutex::new(()),
        }
    }

    /// The data directory.
    pub fn data(&self) -> &DataDir {
        &self.data
    }

    /// The database holding the ledgers, when they are not SQLite files.
    pub fn database(&self) -> Option<&Postgres> {
        self.database.as_ref()
    }

    /// The names of the ledgers to open at start: the database's, or the data directory's.
    ///
    /// # Errors
    /// When they cannot be listed.
    pub fn stored_ledgers(&self) -> anyhow::Result<Vec<LedgerName>> {
        let Some(db) = &self.database else {
            return self.data.ledgers();
        };
        let mut names = Vec::new();
        for name in db.ledgers()? {
            match LedgerName::new(&name) {
                Ok(n) => names.push(n),
                Err(e) => tracing::warn!(ledger = %name,
                    "ignoring a ledger of the database with an invalid name: {e}"),
            }
        }
        for here in self.data.ledgers()? {
            if !names.contains(&here) {
                tracing::warn!(ledger = %here,
                    "this data directory holds ledger {here} but the database does not: it is \
                     not served (copy it into the database with `notariumd migrate`)");
            }
        }
        Ok(names)
    }

    /// The ledger named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<LedgerHandle>> {
        self.ledgers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Every ledger, by name.
    pub fn all(&self) -> Vec<Arc<LedgerHandle>> {
        self.ledgers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Opens the existing ledger `name` (blocking), returning its stored API keys.
    ///
    /// # Errors
    /// When its files cannot be read or it does not verify.
    pub fn open(&self, name: &LedgerName) -> anyhow::Result<(Arc<LedgerHandle>, StoredKeys)> {
        let meta = self.data.read_meta(name)?;
        self.open_with(name, meta)
    }

    /// Creates ledger `name` (blocking), returning its handle. A creation that fails (a full
    /// disk, say) leaves nothing behind: a half-made ledger directory would stop the next
    /// start, and its signing key would make a retry look like a lost database.
    ///
    /// # Errors
    /// When its files cannot be written.
    pub fn create_blocking(
        &self,
        name: &LedgerName,
        meta: LedgerMeta,
    ) -> anyhow::Result<Arc<LedgerHandle>> {
        self.data.create_ledger_dir(name, meta)?;
        match self.open_with(name, meta) {
            Ok((handle, _)) => Ok(handle),
            Err(e) => {
                if let Err(cleanup) = self.data.remove_failed_ledger(name) {
                    tracing::error!(ledger = %name, error = %format!("{cleanup:#}"),
                        "a failed ledger creation left files behind");
                }
                Err(e)
            }
        }
    }

    /// Creates a ledger.
    ///
    /// # Errors
    /// 409 when it exists, 422 past `max_ledgers`, 503 when its files cannot be written.
    pub async fn create(
        self: &Arc<Self>,
        name: LedgerName,
        meta: LedgerMeta,
    ) -> ApiResult<Arc<LedgerHandle>> {
        let _guard = self.creating.lock().await;
        if self.get(name.as_str()).is_some() {
            return Err(ApiError::Conflict(format!("ledger {name} already exists")));
        }
        if self.all().len() >= self.config.limits.ledgers {
            return Err(ApiError::Invalid(format!(
                "this server holds its maximum of {} ledgers",
                self.config.limits.ledgers
            )));
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.create_blocking(&name, meta))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Storage(format!("{e:#}")))
    }

    fn open_with(
        &self,
        name: &LedgerName,
        meta: LedgerMeta,
    ) -> anyhow::Result<(Arc<LedgerHandle>, StoredKeys)> {
        use anyhow::Context;
        let config = &self.config;
        let dir = self.data.ledger_dir(name);
        let mut options = LedgerOptions::new(name.clone(), config.origin(name)?);
        options.durability = config.durability;
        options.database = self.database.clone();
        options.max_batch = config.commit_max_entries;
        options.readers = config.ledger_readers;
        // The observer holds the metrics only, not the registry: no reference cycle.
        let metrics = self.metrics.clone();
        let ledger_name = name.to_string();
        options.on_commit = Some(Arc::new(move |info| metrics.commit(&ledger_name, info)));
        let ledger = match Ledger::open(&dir, options) {
            Ok(l) => l,
            Err(e @ notarium_ledger::Error::Config(_)) if e.to_string().contains("origin") => {
                anyhow::bail!(
                    "cannot open ledger {name} in {}: {e}. A ledger's origin is fixed when it \
                     is created: every checkpoint it signed names it and clients pin its key \
                     with it. To serve this ledger, set origin_prefix so that \
                     <origin_prefix>/{name} is its stored origin (origin_prefix takes precedence \
                     over public_url). A new origin needs a new data directory, whose ledgers \
                     clients pin anew",
                    dir.display()
                )
            }
            Err(e @ notarium_ledger::Error::Corrupt(_))
                if self.database.is_some() && !dir.join("signing.key").exists() =>
            {
                anyhow::bail!(
                    "cannot open ledger {name}: {e}. Every instance on a database needs every \
                     ledger's signing key, which never goes into the database: copy {} (the \
                     whole directory: key, record and settings) from the instance that created \
                     the ledger (docs/postgresql.md)",
                    dir.display()
                )
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot open ledger {name} in {}", dir.display()))
            }
        };
        let keys = ledger
            .credentials()
            .with_context(|| format!("cannot read the API keys of ledger {name}"))?;
        let handle = Arc::new(LedgerHandle {
            ledger: Arc::new(ledger),
            meta,
            reads: Semaphore::new(config.ledger_readers),
            shared: self.database.is_some(),
        });
        self.ledgers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), handle.clone());
        Ok((handle, keys))
    }
}
