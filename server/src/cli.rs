//! The `notariumd` command line: serve (the default), `audit DATA_DIR`, `backup DATA_DIR DEST`
//! or `migrate --from DATA_DIR`. Every outcome becomes an exit code here: 0 success, 1 audit
//! findings, 2 usage, configuration or I/O errors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Config, LogFormat, RawConfig};
use crate::state::AppState;

/// Notarium's server: notarize build outputs in a verifiable ledger.
#[derive(Debug, Parser)]
#[command(name = "notariumd", version, about)]
pub struct Cli {
    /// Address to listen on [default: 127.0.0.1:7373; port 0 picks a free one].
    #[arg(long, value_name = "ADDR", global = true)]
    pub listen: Option<String>,
    /// Data directory [default: ./notarium-data].
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Keep the ledgers in this PostgreSQL database, postgres://USER:PASSWORD@HOST/DATABASE,
    /// which several notariumd may share (docs/postgresql.md); also NOTARIUM_DATABASE.
    #[arg(long, value_name = "URL", global = true)]
    pub database: Option<String>,
    /// YAML configuration file (every key but the nested `oidc` section also has a
    /// NOTARIUM_<KEY> variable).
    #[arg(long, value_name = "FILE", env = "NOTARIUM_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key); reloaded on change or
    /// SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The URL clients reach this server at, e.g. https://notary.example.com/notarium.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy every ledger of DATA_DIR into DEST while the server may be running (SQLite's
    /// online backup, never a file copy), with the server's own files, then check the copy: it
    /// audits clean and holds at least the checkpoints signed when the copy began. Exit 0 when
    /// the copy checks, 2 otherwise. See docs/operations.md before restoring a copy.
    Backup {
        /// The data directory to copy.
        data_dir: PathBuf,
        /// A new directory for the copy.
        dest: PathBuf,
    },
    /// Copy every SQLite ledger of DATA_DIR into the PostgreSQL database (--database or
    /// NOTARIUM_DATABASE) and check that every row of the copy is the same: every tile and
    /// checkpoint, every entry and index node, keys, revocations, attributes; then audit the
    /// copy. The server must be stopped. A ledger the database holds already is never
    /// overwritten: with the same history it is reported and left alone, with another it is
    /// refused. Exit 0 when every ledger checks, 2 otherwise (docs/postgresql.md).
    Migrate {
        /// The data directory whose ledgers to copy (it keeps the signing keys).
        #[arg(long, value_name = "DATA_DIR")]
        from: PathBuf,
    },
    /// Recompute every ledger of DATA_DIR offline (with --database: every ledger of the
    /// database, with DATA_DIR's signing keys) and report where stored tiles, checkpoints or
    /// indexes disagree with the entries. Exit 0 when clean, 1 with findings, 2 on errors.
    Audit {
        /// The data directory to audit.
        data_dir: PathBuf,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
}

/// Report formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Output {
    /// Lines for humans.
    Text,
    /// One JSON document.
    Json,
}

impl Cli {
    /// Layers defaults, the config file, the environment and the flags into a [`Config`].
    ///
    /// # Errors
    /// Naming the setting that is wrong.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut raw = match &self.config {
            Some(path) => RawConfig::from_file(path)?,
            None => RawConfig::default(),
        };
        raw.apply_env(|k| std::env::var(k).ok())?;
        if let Some(l) = &self.listen {
            raw.listen = Some(l.clone());
        }
        if let Some(d) = &self.data_dir {
            raw.data_dir = Some(d.clone());
        }
        if let Some(d) = &self.database {
            raw.database = Some(d.clone());
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            raw.tls_cert = Some(cert.clone());
            raw.tls_key = Some(key.clone());
        }
        if let Some(u) = &self.public_url {
            raw.public_url = Some(u.clone());
        }
        raw.validate()
    }

    /// The database a maintenance command works on: `--database`, else `NOTARIUM_DATABASE`,
    /// else `database` in the configuration file.
    ///
    /// # Errors
    /// When the configuration file cannot be read.
    pub fn database(&self) -> anyhow::Result<Option<String>> {
        if let Some(d) = &self.database {
            return Ok(Some(d.clone()));
        }
        let mut raw = match &self.config {
            Some(path) => RawConfig::from_file(path)?,
            None => RawConfig::default(),
        };
        raw.apply_env(|k| std::env::var(k).ok())?;
        Ok(raw.database)
    }
}

/// Runs the command line.
pub fn run(cli: Cli) -> ExitCode {
    let database = || match cli.database() {
        Ok(d) => Ok(d),
        Err(e) => {
            eprintln!("notariumd: {e:#}");
            Err(ExitCode::from(2))
        }
    };
    match &cli.command {
        Some(Command::Audit { data_dir, output }) => {
            return match database() {
                Ok(db) => audit(data_dir, db.as_deref(), *output),
                Err(code) => code,
            }
        }
        Some(Command::Backup { data_dir, dest }) => return backup(data_dir, dest),
        Some(Command::Migrate { from }) => {
            return match database() {
                Ok(Some(db)) => migrate(from, &db),
                Ok(None) => {
                    eprintln!(
                        "notariumd migrate: no database to copy into: give --database \
                         postgres://… (or NOTARIUM_DATABASE)"
                    );
                    ExitCode::from(2)
                }
                Err(code) => code,
            }
        }
        None => {}
    }
    let config = match cli.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("notariumd: {e:#}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("notariumd: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match config.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listen = config.listen;
    let (state, startup) = AppState::open(config)?;
    match &startup.generated_admin_token {
        Some(token) => hand_over_admin_token(&state, token)?,
        None => {
            if let Some(path) = state.data_dir().leftover_first_token() {
                tracing::warn!(path = %path.display(),
                    "the first start's admin token is still in this file: keep it in a secret \
                     store and delete the file");
            }
        }
    }
    for created in &startup.created_ledgers {
        announce_origin(state.config(), created);
    }
    for h in state.ledgers() {
        tracing::info!(ledger = %h.name(), size = h.size(), verifier_key = %h.verifier_key(),
            public_read = h.meta().public_read, "ledger open");
    }
    for i in &state.config().oidc.issuers {
        tracing::info!(issuer = %i.issuer, provider = i.provider.as_str(), rules = i.rules.len(),
            "CI tokens of this issuer are credentials");
    }
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        // Beside serving, not before: an issuer that is down costs its fetch timeout, and must
        // neither delay nor stop the start (its tokens fail closed until it answers).
        let oidc = state.oidc().clone();
        if !oidc.is_empty() {
            tokio::spawn(async move { oidc.warm().await });
        }
        crate::serve(listener, state, crate::shutdown_signal()).await?;
        Ok(())
    })
}

fn backup(data_dir: &std::path::Path, dest: &std::path::Path) -> ExitCode {
    match crate::datadir::backup(data_dir, dest) {
        Ok(copies) => {
            for c in &copies {
                let size = c.checkpoint.lines().nth(1).unwrap_or("?");
                println!(
                    "ledger {}: copied and checked ({} entries, checkpoint of size {size})",
                    c.dir
                        .file_name()
                        .map_or_else(Default::default, |n| n.to_string_lossy()),
                    c.entries
                );
            }
            println!("backup in {}: every ledger audits clean", dest.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("notariumd backup: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Says, on stdout and in the log, which origin a new ledger has frozen into its identity and
/// where it came from: every checkpoint names it and clients pin the key with it, so a wrong
/// one (the built-in `localhost/notarium` on a server that clients reach by another name) is
/// cheap to fix now and impossible later.
fn announce_origin(config: &Config, created: &crate::state::CreatedLedger) {
    use crate::config::OriginSource;
    let source = match config.origin_source {
        OriginSource::Configured => "from origin_prefix",
        OriginSource::PublicUrl => "from public_url",
        OriginSource::Default => {
            "the built-in default: neither public_url nor origin_prefix is set"
        }
    };
    println!(
        "ledger {} created with origin {} ({source}); verifier key: {}",
        created.name, created.origin, created.verifier_key
    );
    println!(
        "  the origin is now part of this ledger's identity: every checkpoint names it and it \
         can never change"
    );
    tracing::warn!(ledger = %created.name, origin = %created.origin, source,
        verifier_key = %created.verifier_key, "ledger created; its origin is fixed from now on");
    if config.origin_source == OriginSource::Default {
        println!(
            "  if clients will reach this server by another name, stop it now, remove {} and \
             start again with public_url set (docs/operations.md)",
            config.data_dir.display()
        );
    }
}

/// Shows a generated admin token to the operator, never to a log: on stderr when stderr is a
/// terminal (someone is watching), otherwise in a 0600 file whose path is printed. Under a
/// service manager stdout and stderr are the journal, which many can read and which is kept.
fn hand_over_admin_token(state: &AppState, token: &str) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprintln!("admin token (shown once, only its hash is stored): {token}");
        return Ok(());
    }
    let path = state.data_dir().write_first_token(token).map_err(|e| {
        e.context(format!(
            "cannot hand over the generated admin token; delete {} and start again for a new one",
            state.data_dir().admin_hash_file().display()
        ))
    })?;
    println!(
        "admin token written to {} (mode 0600; the server keeps only its hash): move it to a \
         secret store, then delete the file",
        path.display()
    );
    tracing::info!(path = %path.display(), "generated admin token written to a file");
    Ok(())
}

fn migrate(data_dir: &std::path::Path, url: &str) -> ExitCode {
    let moved = notarium_ledger::Postgres::connect(url)
        .map_err(anyhow::Error::from)
        .and_then(|db| {
            println!("migrating the ledgers of {} into {db}", data_dir.display());
            crate::datadir::migrate(data_dir, &db, |ledger, step| {
                println!("ledger {ledger}: {step}");
            })
        });
    match moved {
        Ok(moved) => {
            for m in &moved {
                if m.already_there {
                    println!(
                        "ledger {}: the database holds its history already ({} entries here, \
                         every checkpoint and entry the same): nothing copied",
                        m.ledger, m.entries
                    );
                } else {
                    println!(
                        "ledger {}: copied and checked ({} entries, {} checkpoints, {} tiles, {} \
                         status-index nodes the same; the copy audits clean)",
                        m.ledger, m.entries, m.checkpoints, m.tiles, m.index_nodes
                    );
                }
            }
            println!(
                "every ledger of {} is in the database: serve it with --data-dir {} --database \
                 URL (the data directory keeps the signing keys; the SQLite files are no longer \
                 read)",
                data_dir.display(),
                data_dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("notariumd migrate: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn audit(data_dir: &std::path::Path, database: Option<&str>, output: Output) -> ExitCode {
    let audits = match database {
        None => crate::audit::audit_data_dir(data_dir),
        Some(url) => notarium_ledger::Postgres::connect(url)
            .map_err(anyhow::Error::from)
            .and_then(|db| crate::audit::audit_database(data_dir, &db)),
    };
    let audits = match audits {
        Ok(a) => a,
        Err(e) => {
            eprintln!("notariumd audit: {e:#}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let written = match output {
        Output::Text => crate::audit::print_text(&mut out, &audits),
        Output::Json => serde_json::to_writer_pretty(&mut out, &audits)
            .map_err(std::io::Error::other)
            .and_then(|()| std::io::Write::write_all(&mut out, b"\n")),
    };
    if let Err(e) = written {
        eprintln!("notariumd audit: {e}");
        return ExitCode::from(2);
    }
    if audits.iter().all(|a| a.report.is_clean()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
