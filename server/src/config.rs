//! Configuration (docs/configuration.md): built-in defaults, then the YAML file (`--config`), then
//! `NOTARIUM_*` environment variables, then command-line flags; checked once at start-up into
//! a [`Config`] so that nothing is re-validated per request.
//!
//! Every key of the YAML file has an environment variable of the same name in upper case with
//! the prefix `NOTARIUM_` (`body_limit_bytes` ↔ `NOTARIUM_BODY_LIMIT_BYTES`). The file is
//! flat on purpose: one name per setting, the same in YAML, in the environment and in the docs.
//! The one exception is `oidc` (trusted CI issuers and their rules, `docs/oidc.md`): lists of
//! issuers with nested rules have no sensible single-variable form, so it is set in the file
//! only and has no `NOTARIUM_*` variable.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use notarium_core::checkpoint::Origin;
use notarium_core::LedgerName;
use notarium_ledger::Durability;
use serde::Deserialize;

use crate::oidc::{OidcConfig, RawOidc};

/// The YAML file and the environment, before validation. Every field is optional: absent means
/// "the default". Unknown keys in the file are rejected.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Address to listen on, `127.0.0.1:7373` by default; port 0 picks a free port.
    pub listen: Option<String>,
    /// Where ledgers live, `./notarium-data` by default.
    pub data_dir: Option<PathBuf>,
    /// Checkpoint origins are `<origin_prefix>/<ledger>`; `localhost/notarium` by default.
    pub origin_prefix: Option<String>,
    /// The server admin token (a secret). Prefer `admin_token_file`.
    pub admin_token: Option<String>,
    /// A file whose first line is the server admin token.
    pub admin_token_file: Option<PathBuf>,
    /// `text` (default) or `json` log lines on stderr.
    pub log_format: Option<String>,
    /// A tracing filter such as `info` (default) or `notarium_server=debug,info`.
    pub log_level: Option<String>,
    /// `full` (default: an answered write survives a power cut) or `normal`.
    pub durability: Option<String>,
    /// Largest request body in bytes (default 1 MiB).
    pub body_limit_bytes: Option<u64>,
    /// Most entries in one batch request (default and maximum 1,000).
    pub batch_max_entries: Option<u64>,
    /// Most hashes in one authenticate request (default and maximum 1,000).
    pub authenticate_max_hashes: Option<u64>,
    /// Most entries in one audit report (default and maximum 10,000).
    pub report_max_entries: Option<u64>,
    /// A request that takes longer gets 503 `timeout` (default 30,000 ms).
    pub request_timeout_ms: Option<u64>,
    /// Requests served at once; more get 503 `overloaded` (default 1,024).
    pub max_concurrent_requests: Option<u64>,
    /// Sustained requests per second per API key (default 1,000; 0 disables rate limiting).
    pub rate_limit_per_second: Option<u64>,
    /// Requests a key may make in a burst above the sustained rate (default 2,000).
    pub rate_limit_burst: Option<u64>,
    /// Most entries the sequencer commits in one transaction (default 4,096).
    pub commit_max_entries: Option<u64>,
    /// Most ledgers on this server (default 1,000).
    pub max_ledgers: Option<u64>,
    /// Read-only SQLite connections kept per ledger (default 8): enough for concurrent
    /// readers not to open connections per request, few enough to bound page-cache memory.
    pub ledger_readers: Option<u64>,
    /// How long shutdown waits for in-flight requests (default 30,000 ms).
    pub shutdown_timeout_ms: Option<u64>,
    /// Trusted CI issuers whose OIDC tokens are credentials, and their rules (`docs/oidc.md`).
    /// File only: nested, so no `NOTARIUM_*` variable.
    pub oidc: Option<RawOidc>,
}

impl fmt::Debug for RawConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawConfig")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("admin_token_file", &self.admin_token_file)
            .field("oidc", &self.oidc)
            .finish_non_exhaustive()
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret text; call only where the secret is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Request limits and protection.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body in bytes.
    pub body_bytes: usize,
    /// Most entries in one batch.
    pub batch_entries: usize,
    /// Most hashes in one authenticate request.
    pub authenticate_hashes: usize,
    /// Most entries in one audit report.
    pub report_entries: u64,
    /// Per-request time limit.
    pub request_timeout: Duration,
    /// Requests served at once.
    pub concurrent_requests: usize,
    /// Sustained requests per second per key; 0 disables rate limiting.
    pub rate_per_second: u64,
    /// Burst size per key.
    pub rate_burst: u64,
    /// Most ledgers.
    pub ledgers: usize,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Origin prefix (no trailing slash).
    pub origin_prefix: String,
    /// The admin token, when fixed by configuration.
    pub admin_token: Option<Secret>,
    /// Log format.
    pub log_format: LogFormat,
    /// Tracing filter.
    pub log_level: String,
    /// Commit durability.
    pub durability: Durability,
    /// Limits.
    pub limits: Limits,
    /// Sequencer batch size.
    pub commit_max_entries: usize,
    /// Pooled read connections per ledger.
    pub ledger_readers: usize,
    /// Graceful shutdown limit.
    pub shutdown_timeout: Duration,
    /// Trusted CI issuers and their rules (none by default: CI tokens are refused).
    pub oidc: OidcConfig,
}

/// The most entries a batch and hashes an authenticate request may hold (docs/http-api.md).
pub const MAX_BATCH: u64 = 1000;

/// The most entries an audit report may hold: a report is one JSON document, built in memory.
pub const MAX_REPORT_ENTRIES: u64 = 10_000;

/// Names of every [`RawConfig`] key, which are also the environment variable suffixes; all but
/// `oidc`, which is nested and set in the file only.
pub const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "origin_prefix",
    "admin_token",
    "admin_token_file",
    "log_format",
    "log_level",
    "durability",
    "body_limit_bytes",
    "batch_max_entries",
    "authenticate_max_hashes",
    "report_max_entries",
    "request_timeout_ms",
    "max_concurrent_requests",
    "rate_limit_per_second",
    "rate_limit_burst",
    "commit_max_entries",
    "max_ledgers",
    "ledger_readers",
    "shutdown_timeout_ms",
];

impl RawConfig {
    /// Reads a YAML config file.
    ///
    /// # Errors
    /// When the file cannot be read or holds unknown keys or wrong types.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        if text.trim().is_empty() {
            return Ok(RawConfig::default());
        }
        yaml_serde::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Overrides settings from `NOTARIUM_<KEY>` variables given by `var`.
    ///
    /// # Errors
    /// When a numeric variable does not parse.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn num(key: &str, v: &str) -> anyhow::Result<u64> {
            u64::from_str(v.trim())
                .with_context(|| format!("NOTARIUM_{} must be a whole number", key.to_uppercase()))
        }
        for key in KEYS {
            let Some(v) = var(&format!("NOTARIUM_{}", key.to_uppercase())) else {
                continue;
            };
            match *key {
                "listen" => self.listen = Some(v),
                "data_dir" => self.data_dir = Some(v.into()),
                "origin_prefix" => self.origin_prefix = Some(v),
                "admin_token" => self.admin_token = Some(v),
                "admin_token_file" => self.admin_token_file = Some(v.into()),
                "log_format" => self.log_format = Some(v),
                "log_level" => self.log_level = Some(v),
                "durability" => self.durability = Some(v),
                "body_limit_bytes" => self.body_limit_bytes = Some(num(key, &v)?),
                "batch_max_entries" => self.batch_max_entries = Some(num(key, &v)?),
                "authenticate_max_hashes" => self.authenticate_max_hashes = Some(num(key, &v)?),
                "report_max_entries" => self.report_max_entries = Some(num(key, &v)?),
                "request_timeout_ms" => self.request_timeout_ms = Some(num(key, &v)?),
                "max_concurrent_requests" => self.max_concurrent_requests = Some(num(key, &v)?),
                "rate_limit_per_second" => self.rate_limit_per_second = Some(num(key, &v)?),
                "rate_limit_burst" => self.rate_limit_burst = Some(num(key, &v)?),
                "commit_max_entries" => self.commit_max_entries = Some(num(key, &v)?),
                "max_ledgers" => self.max_ledgers = Some(num(key, &v)?),
                "ledger_readers" => self.ledger_readers = Some(num(key, &v)?),
                "shutdown_timeout_ms" => self.shutdown_timeout_ms = Some(num(key, &v)?),
                other => unreachable!("config key {other} has no environment mapping"),
            }
        }
        Ok(())
    }

    /// Checks every setting and fills in defaults.
    ///
    /// # Errors
    /// Naming the first setting that is wrong.
    pub fn validate(self) -> anyhow::Result<Config> {
        let listen = self.listen.as_deref().unwrap_or("127.0.0.1:7373");
        let listen: SocketAddr = listen.parse().with_context(|| {
            format!("listen: {listen:?} is not an address such as 127.0.0.1:7373")
        })?;
        let origin_prefix = self
            .origin_prefix
            .unwrap_or_else(|| "localhost/notarium".into())
            .trim_end_matches('/')
            .to_owned();
        Origin::new(&format!("{origin_prefix}/{}", "x".repeat(64)))
            .map_err(|e| anyhow::anyhow!("origin_prefix: {e}"))?;
        let admin_token = match (self.admin_token, self.admin_token_file) {
            (Some(_), Some(_)) => bail!("set admin_token or admin_token_file, not both"),
            (Some(t), None) => Some(t),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("admin_token_file: cannot read {}", path.display()))?;
                Some(text.lines().next().unwrap_or("").trim().to_owned())
            }
            (None, None) => None,
        };
        if let Some(t) = &admin_token {
            if t.len() < 16 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                bail!("admin token: must be at least 16 characters without spaces");
            }
        }
        let log_format = match self.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => bail!("log_format: {other:?} is not text or json"),
        };
        let durability = match self.durability.as_deref().unwrap_or("full") {
            "full" => Durability::Full,
            "normal" => Durability::Normal,
            other => bail!("durability: {other:?} is not full or normal"),
        };
        let positive =
            |name: &str, v: Option<u64>, default: u64, max: u64| -> anyhow::Result<u64> {
                let v = v.unwrap_or(default);
                if v == 0 || v > max {
                    bail!("{name}: must be between 1 and {max}, got {v}");
                }
                Ok(v)
            };
        let limits = Limits {
            body_bytes: positive("body_limit_bytes", self.body_limit_bytes, 1 << 20, 1 << 30)?
                as usize,
            batch_entries: positive(
                "batch_max_entries",
                self.batch_max_entries,
                MAX_BATCH,
                MAX_BATCH,
            )? as usize,
            authenticate_hashes: positive(
                "authenticate_max_hashes",
                self.authenticate_max_hashes,
                MAX_BATCH,
                MAX_BATCH,
            )? as usize,
            report_entries: positive(
                "report_max_entries",
                self.report_max_entries,
                MAX_REPORT_ENTRIES,
                MAX_REPORT_ENTRIES,
            )?,
            request_timeout: Duration::from_millis(positive(
                "request_timeout_ms",
                self.request_timeout_ms,
                30_000,
                3_600_000,
            )?),
            concurrent_requests: positive(
                "max_concurrent_requests",
                self.max_concurrent_requests,
                1024,
                1 << 20,
            )? as usize,
            rate_per_second: self.rate_limit_per_second.unwrap_or(1000),
            rate_burst: positive("rate_limit_burst", self.rate_limit_burst, 2000, u64::MAX)?,
            ledgers: positive("max_ledgers", self.max_ledgers, 1000, 100_000)? as usize,
        };
        let oidc = OidcConfig::from_raw(self.oidc.unwrap_or_default()).context("oidc")?;
        Ok(Config {
            listen,
            data_dir: self
                .data_dir
                .unwrap_or_else(|| PathBuf::from("notarium-data")),
            origin_prefix,
            admin_token: admin_token.map(Secret),
            log_format,
            log_level: self.log_level.unwrap_or_else(|| "info".into()),
            durability,
            limits,
            commit_max_entries: positive(
                "commit_max_entries",
                self.commit_max_entries,
                4096,
                1 << 20,
            )? as usize,
            ledger_readers: positive("ledger_readers", self.ledger_readers, 8, 256)? as usize,
            shutdown_timeout: Duration::from_millis(positive(
                "shutdown_timeout_ms",
                self.shutdown_timeout_ms,
                30_000,
                3_600_000,
            )?),
            oidc,
        })
    }
}

impl Config {
    /// Defaults for a data directory, as tests and embedders want them.
    ///
    /// # Panics
    /// Never: the defaults are valid.
    pub fn for_data_dir(dir: impl Into<PathBuf>) -> Config {
        RawConfig {
            data_dir: Some(dir.into()),
            ..RawConfig::default()
        }
        .validate()
        .expect("defaults are valid")
    }

    /// The origin of ledger `name`.
    ///
    /// # Errors
    /// When the prefix and name do not form a valid origin (prevented by [`RawConfig::validate`]).
    pub fn origin(&self, name: &LedgerName) -> Result<Origin, notarium_core::Error> {
        Origin::new(&format!("{}/{}", self.origin_prefix, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layering_and_validation() {
        let mut raw: RawConfig =
            yaml_serde::from_str("listen: 127.0.0.1:0\nbody_limit_bytes: 2048\nlog_format: json\n")
                .unwrap();
        raw.apply_env(|k| match k {
            "NOTARIUM_BODY_LIMIT_BYTES" => Some("4096".into()),
            "NOTARIUM_ADMIN_TOKEN" => Some("a-fixed-admin-token-for-tests".into()),
            _ => None,
        })
        .unwrap();
        let c = raw.validate().unwrap();
        assert_eq!(c.limits.body_bytes, 4096);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.listen.port(), 0);
        assert!(
            !format!("{c:?}").contains("a-fixed-admin-token"),
            "secrets never print"
        );

        assert!(
            yaml_serde::from_str::<RawConfig>("lisen: x\n").is_err(),
            "unknown keys are refused"
        );
        for bad in [
            "batch_max_entries: 1001",
            "log_format: xml",
            "listen: nowhere",
            "durability: off",
        ] {
            let raw: RawConfig = yaml_serde::from_str(bad).unwrap();
            assert!(raw.validate().is_err(), "{bad}");
        }
        let mut raw = RawConfig::default();
        assert!(raw
            .apply_env(|k| (k == "NOTARIUM_MAX_LEDGERS").then(|| "many".into()))
            .is_err());
    }

    #[test]
    fn oidc_section_is_checked_at_start() {
        let good = "oidc:\n  max_token_bytes: 4096\n  issuers:\n    - issuer: https://gitlab.example.com\n      provider: gitlab\n      audience: notarium\n      rules:\n        - {ledger: default, role: write, claims: {project_id: \"20\"}}\n";
        let c = yaml_serde::from_str::<RawConfig>(good)
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(c.oidc.issuers.len(), 1);
        assert_eq!(c.oidc.max_token_bytes, 4096);
        assert!(Config::for_data_dir("d").oidc.issuers.is_empty());
        for (bad, needle) in [
            (good.replace("https://gitlab", "http://gitlab"), "https://"),
            (good.replace("role: write", "role: admin"), "admin"),
            (good.replace("project_id", "project_path"), "must pin"),
            (
                good.replace("max_token_bytes: 4096", "max_token_bytes: 10"),
                "max_token_bytes",
            ),
        ] {
            let err = yaml_serde::from_str::<RawConfig>(&bad)
                .unwrap()
                .validate()
                .unwrap_err();
            let err = format!("{err:#}");
            assert!(err.starts_with("oidc"), "{err}");
            assert!(err.contains(needle), "{needle:?} not in {err}");
        }
        assert!(yaml_serde::from_str::<RawConfig>("oidc:\n  issuer: x\n").is_err());
        let mut raw = RawConfig::default();
        raw.apply_env(|k| (k == "NOTARIUM_OIDC").then(|| "x".into()))
            .unwrap();
        assert!(raw.oidc.is_none(), "oidc has no environment variable");
    }
}
