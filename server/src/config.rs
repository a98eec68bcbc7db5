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
    /// Where ledgers live, `./notarium-data` by default; with `database`, only what must not
    /// be in the database (signing keys, records, ledger settings, the admin token's hash).
    pub data_dir: Option<PathBuf>,
    /// Keep the ledgers in this PostgreSQL database (`postgres://…`, a secret: it may hold a
    /// password), which several instances may share (docs/postgresql.md).
    pub database: Option<String>,
    /// How long a sequencer that stopped answering keeps other instances on the database from
    /// writing (default 5,000 ms).
    pub sequencer_lease_ms: Option<u64>,
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
    /// The URL clients use to reach this server (`https://notary.example.com/notarium`):
    /// scheme, host and path prefix, when a reverse proxy serves it. Links, the dashboard and
    /// the API description use it, and on first start it gives the origin.
    pub public_url: Option<String>,
    /// A PEM file with the TLS certificate chain: serve HTTPS (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// A PEM file with the TLS private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// A connection must send a complete request head within this time once it has sent its
    /// first byte (default 10,000 ms).
    pub header_read_timeout_ms: Option<u64>,
    /// A connection with no request in flight is closed after this time (default 60,000 ms).
    pub idle_timeout_ms: Option<u64>,
    /// Connections open at once (default: from the file-descriptor limit).
    pub max_connections: Option<u64>,
    /// Connections open at once from one client address (default 256; 0: no cap).
    pub max_connections_per_address: Option<u64>,
    /// A bearer token that `/metrics` requires (a secret). Prefer `metrics_token_file`.
    pub metrics_token: Option<String>,
    /// A file whose first line is the token that `/metrics` requires.
    pub metrics_token_file: Option<PathBuf>,
    /// Label metrics with ledger names (default false: totals over all ledgers).
    pub metrics_ledger_names: Option<bool>,
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
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .field("metrics_token_file", &self.metrics_token_file)
            .field("public_url", &self.public_url)
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

/// Limits on connections, which protect the server before any request is read.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// From a connection's first byte of a request head to the whole head.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight is closed after this.
    pub idle_timeout: Duration,
    /// Connections open at once; `None`: from the file-descriptor limit at start.
    pub max: Option<usize>,
    /// Connections open at once from one client address; 0: no cap.
    pub per_address: usize,
}

/// Where the TLS certificate and key are read from (and reread when they change).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Who may read `/metrics` and what it shows.
#[derive(Clone, Debug)]
pub struct MetricsAccess {
    /// The bearer token it requires (the admin token is accepted too); `None`: no credential.
    pub token: Option<Secret>,
    /// Whether series carry ledger names.
    pub ledger_names: bool,
}

/// The URL clients reach the server at, when it differs from its listen address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    url: url::Url,
    prefix: String,
}

/// Path segments that the server's own routes start with: a prefix may not be one of them.
const ROUTE_ROOTS: &[&str] = &[
    "api",
    "assets",
    "healthz",
    "readyz",
    "metrics",
    "openapi.json",
];

impl PublicUrl {
    /// Parses and checks a public URL: `http` or `https`, a host, an optional path prefix, and
    /// nothing else (no user, query or fragment).
    ///
    /// # Errors
    /// Naming what is wrong.
    pub fn parse(text: &str) -> anyhow::Result<PublicUrl> {
        let url = url::Url::parse(text.trim())
            .with_context(|| format!("{text:?} is not a URL such as https://notary.example.com"))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("{text:?}: the scheme must be http or https");
        }
        if url.host_str().is_none_or(str::is_empty) {
            bail!("{text:?}: a host is required");
        }
        if !url.username().is_empty() || url.password().is_some() {
            bail!("{text:?}: no user or password");
        }
        if url.query().is_some() || url.fragment().is_some() {
            bail!("{text:?}: no query or fragment");
        }
        let prefix = url.path().trim_end_matches('/').to_owned();
        if let Some(first) = prefix.split('/').nth(1) {
            if ROUTE_ROOTS.contains(&first) {
                bail!(
                    "{text:?}: the path prefix cannot start with /{first}, a route of the server"
                );
            }
        }
        if prefix.contains("//") || prefix.contains(['%', ' ', '+']) {
            bail!("{text:?}: the path prefix must be plain segments such as /notarium");
        }
        Ok(PublicUrl { url, prefix })
    }

    /// The path prefix without a trailing slash: `""` or `/notarium`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The URL without a trailing slash, e.g. `https://notary.example.com/notarium`.
    pub fn base(&self) -> String {
        let mut base = format!("{}://{}", self.url.scheme(), self.authority());
        base.push_str(&self.prefix);
        base
    }

    /// Host and port as written (the port only when not the scheme's default).
    fn authority(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        }
    }

    /// The origin prefix this URL gives: host, port when not the default, and path prefix,
    /// without scheme (C2SP checkpoints: an origin is a schema-less URL).
    pub fn origin_prefix(&self) -> String {
        format!("{}{}", self.authority(), self.prefix)
    }
}

/// Where the origin prefix came from: said loudly on the first start, which freezes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginSource {
    /// `origin_prefix` was set.
    Configured,
    /// Derived from `public_url`.
    PublicUrl,
    /// Neither was set: the built-in `localhost/notarium`.
    Default,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// The PostgreSQL database that holds the ledgers, when not SQLite files.
    pub database: Option<Secret>,
    /// The sequencer lease on a shared database.
    pub sequencer_lease: Duration,
    /// Origin prefix (no trailing slash).
    pub origin_prefix: String,
    /// Where `origin_prefix` came from.
    pub origin_source: OriginSource,
    /// The URL clients use, when set.
    pub public_url: Option<PublicUrl>,
    /// Serve HTTPS with these files.
    pub tls: Option<TlsFiles>,
    /// Connection limits.
    pub connections: ConnectionLimits,
    /// `/metrics` access.
    pub metrics: MetricsAccess,
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

/// The longest request target (path and query) the server reads: 414 beyond.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The largest request head (request line and headers) the server reads: 431 beyond.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// The most entries a batch and hashes an authenticate request may hold (docs/http-api.md).
pub const MAX_BATCH: u64 = 1000;

/// The most entries an audit report may hold: a report is one JSON document, built in memory.
pub const MAX_REPORT_ENTRIES: u64 = 10_000;

/// Names of every [`RawConfig`] key, which are also the environment variable suffixes; all but
/// `oidc`, which is nested and set in the file only.
pub const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database",
    "sequencer_lease_ms",
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
    "public_url",
    "tls_cert",
    "tls_key",
    "header_read_timeout_ms",
    "idle_timeout_ms",
    "max_connections",
    "max_connections_per_address",
    "metrics_token",
    "metrics_token_file",
    "metrics_ledger_names",
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
        fn flag(key: &str, v: &str) -> anyhow::Result<bool> {
            match v.trim() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => bail!("NOTARIUM_{} must be true or false", key.to_uppercase()),
            }
        }
        for key in KEYS {
            let Some(v) = var(&format!("NOTARIUM_{}", key.to_uppercase())) else {
                continue;
            };
            match *key {
                "listen" => self.listen = Some(v),
                "data_dir" => self.data_dir = Some(v.into()),
                "database" => self.database = Some(v),
                "sequencer_lease_ms" => self.sequencer_lease_ms = Some(num(key, &v)?),
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
                "public_url" => self.public_url = Some(v),
                "tls_cert" => self.tls_cert = Some(v.into()),
                "tls_key" => self.tls_key = Some(v.into()),
                "header_read_timeout_ms" => self.header_read_timeout_ms = Some(num(key, &v)?),
                "idle_timeout_ms" => self.idle_timeout_ms = Some(num(key, &v)?),
                "max_connections" => self.max_connections = Some(num(key, &v)?),
                "max_connections_per_address" => {
                    self.max_connections_per_address = Some(num(key, &v)?);
                }
                "metrics_token" => self.metrics_token = Some(v),
                "metrics_token_file" => self.metrics_token_file = Some(v.into()),
                "metrics_ledger_names" => self.metrics_ledger_names = Some(flag(key, &v)?),
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
        let public_url = self
            .public_url
            .as_deref()
            .map(PublicUrl::parse)
            .transpose()
            .context("public_url")?;
        let (origin_prefix, origin_source) = match (self.origin_prefix, &public_url) {
            (Some(p), _) => (p, OriginSource::Configured),
            (None, Some(u)) => (u.origin_prefix(), OriginSource::PublicUrl),
            (None, None) => ("localhost/notarium".to_owned(), OriginSource::Default),
        };
        let origin_prefix = origin_prefix.trim_end_matches('/').to_owned();
        Origin::new(&format!("{origin_prefix}/{}", "x".repeat(64)))
            .map_err(|e| anyhow::anyhow!("origin_prefix: {e}"))?;
        let admin_token = token(
            "admin_token",
            self.admin_token,
            self.admin_token_file.as_deref(),
        )?;
        let metrics_token = token(
            "metrics_token",
            self.metrics_token,
            self.metrics_token_file.as_deref(),
        )?;
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => bail!("tls_cert and tls_key: set both (HTTPS) or neither (HTTP)"),
        };
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
        let connections = ConnectionLimits {
            header_read_timeout: Duration::from_millis(positive(
                "header_read_timeout_ms",
                self.header_read_timeout_ms,
                10_000,
                3_600_000,
            )?),
            idle_timeout: Duration::from_millis(positive(
                "idle_timeout_ms",
                self.idle_timeout_ms,
                60_000,
                86_400_000,
            )?),
            max: self
                .max_connections
                .map(|n| positive("max_connections", Some(n), n, 1 << 24))
                .transpose()?
                .map(|n| n as usize),
            per_address: match self.max_connections_per_address {
                Some(n) if n > 1 << 24 => {
                    bail!("max_connections_per_address: must be at most {}", 1 << 24)
                }
                Some(n) => n as usize,
                None => 256,
            },
        };
        Ok(Config {
            listen,
            data_dir: self
                .data_dir
                .unwrap_or_else(|| PathBuf::from("notarium-data")),
            database: match self.database {
                Some(url)
                    if url.trim().starts_with("postgres://")
                        || url.trim().starts_with("postgresql://") =>
                {
                    Some(Secret(url.trim().to_owned()))
                }
                Some(_) => bail!("database: must be a URL such as postgres://user@host/database"),
                None => None,
            },
            sequencer_lease: Duration::from_millis(positive(
                "sequencer_lease_ms",
                self.sequencer_lease_ms,
                5_000,
                600_000,
            )?),
            origin_prefix,
            origin_source,
            public_url,
            tls,
            connections,
            metrics: MetricsAccess {
                token: metrics_token.map(Secret),
                ledger_names: self.metrics_ledger_names.unwrap_or(false),
            },
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

/// A secret given inline or as a file (its first line), checked for a usable length.
fn token(
    name: &str,
    inline: Option<String>,
    file: Option<&Path>,
) -> anyhow::Result<Option<String>> {
    let token = match (inline, file) {
        (Some(_), Some(_)) => bail!("set {name} or {name}_file, not both"),
        (Some(t), None) => t,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{name}_file: cannot read {}", path.display()))?;
            text.lines().next().unwrap_or("").trim().to_owned()
        }
        (None, None) => return Ok(None),
    };
    if token.len() < 16 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("{name}: must be at least 16 characters without spaces");
    }
    Ok(Some(token))
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
    fn the_database_is_a_secret_url() {
        let mut raw = RawConfig::default();
        raw.apply_env(|k| match k {
            "NOTARIUM_DATABASE" => Some("postgres://notarium:s3cret-pw@db.example/n".into()),
            "NOTARIUM_SEQUENCER_LEASE_MS" => Some("2500".into()),
            _ => None,
        })
        .unwrap();
        let c = raw.validate().unwrap();
        assert_eq!(
            c.database.as_ref().map(Secret::expose),
            Some("postgres://notarium:s3cret-pw@db.example/n")
        );
        assert_eq!(c.sequencer_lease, Duration::from_millis(2500));
        assert!(!format!("{c:?}").contains("s3cret"), "secrets never print");
        assert!(Config::for_data_dir("d").database.is_none());
        for bad in [
            "database: /var/lib/notarium.db",
            "database: mysql://db/x",
            "sequencer_lease_ms: 0",
        ] {
            let raw: RawConfig = yaml_serde::from_str(bad).unwrap();
            assert!(raw.validate().is_err(), "{bad}");
        }
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

    #[test]
    fn service_settings_from_the_environment() {
        let mut raw = RawConfig::default();
        raw.apply_env(|k| {
            Some(
                match k {
                    "NOTARIUM_PUBLIC_URL" => "https://notary.example.com:8443/ci/notarium/",
                    "NOTARIUM_TLS_CERT" => "/etc/notarium/tls/cert.pem",
                    "NOTARIUM_TLS_KEY" => "/etc/notarium/tls/key.pem",
                    "NOTARIUM_METRICS_LEDGER_NAMES" => "true",
                    "NOTARIUM_METRICS_TOKEN" => "metrics-token-0123456789",
                    "NOTARIUM_MAX_CONNECTIONS_PER_ADDRESS" => "0",
                    "NOTARIUM_IDLE_TIMEOUT_MS" => "5000",
                    _ => return None,
                }
                .to_owned(),
            )
        })
        .unwrap();
        let c = raw.validate().unwrap();
        let url = c.public_url.as_ref().unwrap();
        assert_eq!(url.prefix(), "/ci/notarium");
        assert_eq!(url.base(), "https://notary.example.com:8443/ci/notarium");
        assert_eq!(c.origin_prefix, "notary.example.com:8443/ci/notarium");
        assert_eq!(c.origin_source, OriginSource::PublicUrl);
        assert!(c.tls.is_some());
        assert!(c.metrics.ledger_names && c.metrics.token.is_some());
        assert!(
            !format!("{c:?}").contains("metrics-token-0123"),
            "secrets never print"
        );
        assert_eq!(c.connections.per_address, 0);
        assert_eq!(c.connections.idle_timeout, Duration::from_secs(5));
        assert_eq!(c.connections.header_read_timeout, Duration::from_secs(10));

        for bad in [
            "tls_cert: /a.pem",
            "public_url: ftp://notary.example.com",
            "public_url: https://notary.example.com/api",
            "public_url: https://notary.example.com/x?y=1",
            "public_url: https://user:pw@notary.example.com",
            "metrics_token: short",
        ] {
            let raw: RawConfig = yaml_serde::from_str(bad).unwrap();
            assert!(raw.validate().is_err(), "{bad}");
        }
        let explicit: RawConfig =
            yaml_serde::from_str("public_url: https://a.example\norigin_prefix: b.example\n")
                .unwrap();
        let c = explicit.validate().unwrap();
        assert_eq!(
            (c.origin_prefix.as_str(), c.origin_source),
            ("b.example", OriginSource::Configured)
        );
        assert_eq!(
            RawConfig::default().validate().unwrap().origin_source,
            OriginSource::Default
        );
    }
}
