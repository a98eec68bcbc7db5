//! The `notariumd` command line: serve (the default) or `audit DATA_DIR`. Every outcome
//! becomes an exit code here: 0 success, 1 audit findings, 2 usage, configuration or I/O
//! errors.

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
    /// YAML configuration file (every key but the nested `oidc` section also has a
    /// NOTARIUM_<KEY> variable).
    #[arg(long, value_name = "FILE", env = "NOTARIUM_CONFIG", global = true)]
    pub config: Option<PathBuf>,
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
    /// Recompute every ledger of DATA_DIR offline and report where stored tiles, checkpoints
    /// or indexes disagree with the entries. Exit 0 when clean, 1 with findings, 2 on errors.
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
        raw.validate()
    }
}

/// Runs the command line.
pub fn run(cli: Cli) -> ExitCode {
    match &cli.command {
        Some(Command::Audit { data_dir, output }) => return audit(data_dir, *output),
        Some(Command::Backup { data_dir, dest }) => return backup(data_dir, dest),
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
    // Secrets go to stdout once, never to the log.
    if let Some(token) = &startup.generated_admin_token {
        println!("admin token (shown once, only its hash is stored): {token}");
    }
    for (ledger, vkey) in &startup.created_ledgers {
        println!("ledger {ledger} created; verifier key: {vkey}");
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

fn audit(data_dir: &std::path::Path, output: Output) -> ExitCode {
    let audits = match crate::audit::audit_data_dir(data_dir) {
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
