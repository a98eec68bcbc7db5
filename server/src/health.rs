//! Readiness (`/readyz`): whether this server can do its job now, as a load balancer or an
//! orchestrator asks it. Liveness (`/healthz`) only says that the process answers.
//!
//! Ready means: serving (not starting, not draining after a shutdown signal), every ledger's
//! writer still accepting appends ([`notarium_ledger::Ledger::stopped`]), and the data
//! directory taking a small synced write now. The write probe catches what no read can: a full
//! disk, a file system remounted read-only, one that fails its writes, and one that is frozen
//! (its writes block: the probe is bounded by a timeout, and while a probe hangs no second one
//! is started). Probes run at most once per [`PROBE_INTERVAL`], whatever the rate of
//! `/readyz` requests, which need no credential. With a database (docs/postgresql.md), ready
//! also means that the database answers: a ledger's snapshot is brought up to date within
//! [`PROBE_TIMEOUT`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::datadir::DataDir;
use crate::error::{ApiError, ApiResult};
use crate::registry::LedgerHandle;

/// How long a probe's answer is reused.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a probe may take before the storage counts as unresponsive.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the readiness check remembers between requests.
#[derive(Debug, Default)]
pub struct Readiness {
    serving: AtomicBool,
    probe: tokio::sync::Mutex<Probe>,
    /// The code of the last answer, to log changes once rather than every request.
    last: Mutex<Option<&'static str>>,
}

#[derive(Debug, Default)]
struct Probe {
    /// When the last probe finished, and what it found.
    done: Option<(Instant, Result<(), Arc<std::io::Error>>)>,
    /// A probe that outlived its timeout, still blocked in the file system.
    hung: Option<JoinHandle<std::io::Result<()>>>,
}

impl Readiness {
    /// True from the moment the server serves until shutdown begins.
    pub fn is_serving(&self) -> bool {
        self.serving.load(Ordering::SeqCst)
    }

    /// Marks the server serving or not.
    pub fn set_serving(&self, serving: bool) {
        self.serving.store(serving, Ordering::SeqCst);
    }

    /// Checks readiness: serving, every ledger writing, and the data directory writable.
    ///
    /// # Errors
    /// 503 with the reason as its code: `not_ready`, `ledger_stopped`, `storage_unwritable`,
    /// `storage_unresponsive` or `database_unavailable`. The details go to the log, once per change.
    pub async fn check(&self, data: &DataDir, ledgers: &[Arc<LedgerHandle>]) -> ApiResult<()> {
        let result = self.evaluate(data, ledgers).await;
        let code = result.as_ref().err().map(|(code, _)| *code);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if *last != code {
            match &result {
                Ok(()) if last.is_some() => tracing::info!("ready again"),
                Ok(()) => {}
                Err((code, detail)) => tracing::warn!(reason = code, %detail, "not ready"),
            }
            *last = code;
        }
        result.map_err(|(code, _)| unavailable(code))
    }

    async fn evaluate(
        &self,
        data: &DataDir,
        ledgers: &[Arc<LedgerHandle>],
    ) -> Result<(), (&'static str, String)> {
        if !self.is_serving() {
            return Err(("not_ready", "starting or shutting down".into()));
        }
        for h in ledgers {
            if let Some(why) = h.stopped() {
                return Err(("ledger_stopped", format!("ledger {}: {why}", h.name())));
            }
        }
        if let Some(h) = ledgers.iter().find(|h| h.is_shared()) {
            match tokio::time::timeout(PROBE_TIMEOUT, h.refresh()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Err((
                        "database_unavailable",
                        format!("ledger {}: {e:?}", h.name()),
                    ))
                }
                Err(_) => {
                    return Err((
                        "database_unavailable",
                        format!("the database did not answer within {PROBE_TIMEOUT:?}"),
                    ))
                }
            }
        }
        self.probe(data).await
    }

    async fn probe(&self, data: &DataDir) -> Result<(), (&'static str, String)> {
        let unwritable = |e: &std::io::Error| {
            (
                "storage_unwritable",
                format!("data directory {}: {e}", data.root().display()),
            )
        };
        let unresponsive = || {
            (
                "storage_unresponsive",
                format!(
                    "a write to data directory {} has not finished after {PROBE_TIMEOUT:?}",
                    data.root().display()
                ),
            )
        };
        let mut probe = self.probe.lock().await;
        if let Some(hung) = &probe.hung {
            if !hung.is_finished() {
                return Err(unresponsive());
            }
            probe.hung = None;
        }
        if let Some((at, result)) = &probe.done {
            if at.elapsed() < PROBE_INTERVAL {
                return result.as_ref().map_err(|e| unwritable(e)).copied();
            }
        }
        let dir = data.clone();
        let mut task = tokio::task::spawn_blocking(move || dir.probe_write());
        let result = match tokio::time::timeout(PROBE_TIMEOUT, &mut task).await {
            Ok(Ok(r)) => r.map_err(Arc::new),
            Ok(Err(join)) => Err(Arc::new(std::io::Error::other(join.to_string()))),
            Err(_) => {
                probe.hung = Some(task);
                probe.done = None;
                return Err(unresponsive());
            }
        };
        probe.done = Some((Instant::now(), result.clone()));
        result.map_err(|e| unwritable(&e))
    }
}

fn unavailable(code: &'static str) -> ApiError {
    let message = match code {
        "ledger_stopped" => {
            "a ledger stopped writing after a storage failure it could not recover from; see the \
             server log"
        }
        "storage_unwritable" => {
            "the data directory cannot be written (full, read-only or failing); see the server log"
        }
        "storage_unresponsive" => {
            "a write to the data directory did not finish in time (frozen or hung storage); see \
             the server log"
        }
        "database_unavailable" => "the database does not answer; see the server log",
        _ => "not ready: starting or shutting down",
    };
    ApiError::Unavailable { code, message }
}
