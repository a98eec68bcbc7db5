//! `notarium-github`: the GitHub-only features of Notarium's GitHub plugin (docs/plugins.md).
//! `status` sets a commit status with a verdict; `release notarize|authenticate --tag T` does
//! to every asset of a GitHub release what `notarium notarize|authenticate` does to files.
//! It talks to `GITHUB_API_URL` (github.com or GitHub Enterprise Server) with `GITHUB_TOKEN`,
//! and to the ledger through `notarium_client`, which verifies every answer, with the job's
//! OIDC ID token as its credential when Actions offers one ([`oidc`]), else the API key.
//!
//! Out of scope: ledger logic (all in `notarium_client`), and what the composite action does
//! with the `notarium` CLI (summary, annotations, receipts, state cache). Every outcome becomes
//! an exit code in one place, [`exit_code`], with the CLI's codes (§6).

#![forbid(unsafe_code)]

mod github;
mod oidc;
mod release;
mod status;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use notarium_client::cli::LedgerArgs;
use notarium_client::Client;
use notarium_core::VerifierKey;

use crate::github::{GitHub, NewStatus};

/// Exit codes of docs/cli.md, the same as `notarium`'s.
pub use notarium_client::exit as code;

#[derive(Parser, Debug)]
#[command(
    name = "notarium-github",
    version,
    about = "Commit statuses and release assets for Notarium on GitHub (GITHUB_TOKEN from the environment).",
    after_help = code::HELP
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Flags every command takes: the ledger's (as `notarium`'s, with the same variables) and
/// GitHub's.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The ledger's flags, as `notarium`'s.
    #[command(flatten)]
    pub notarium: LedgerArgs,
    /// The GitHub repository, OWNER/NAME.
    #[arg(long, global = true, env = "GITHUB_REPOSITORY")]
    pub repo: Option<String>,
    /// The GitHub REST API (GitHub Enterprise Server: https://HOST/api/v3).
    #[arg(long, global = true, env = "GITHUB_API_URL", default_value = github::DEFAULT_API_URL)]
    pub api_url: String,
    /// The ledger credential: `true` uses the job's OIDC ID token when Actions offers one
    /// (`permissions: id-token: write`), else the API key; `false` the API key only.
    #[arg(
        long,
        global = true,
        env = "NOTARIUM_OIDC",
        value_name = "true|false",
        default_value = "true",
        value_parser = oidc::Mode::parse
    )]
    pub oidc: oidc::Mode,
    /// The audience of the ID token: the one the server's oidc configuration expects.
    #[arg(
        long,
        global = true,
        env = "NOTARIUM_OIDC_AUDIENCE",
        default_value = oidc::DEFAULT_AUDIENCE,
        value_parser = non_empty_or(oidc::DEFAULT_AUDIENCE)
    )]
    pub oidc_audience: String,
}

/// A value, or `default` for an empty one (an unset input in a workflow).
fn non_empty_or(default: &'static str) -> impl clap::builder::TypedValueParser<Value = String> {
    use clap::builder::TypedValueParser as _;
    clap::builder::StringValueParser::new().map(move |v| {
        if v.trim().is_empty() {
            default.to_owned()
        } else {
            v.trim().to_owned()
        }
    })
}

impl Global {
    /// The ledger's API client, with the job's ID token as its credential when Actions offers
    /// one and `--oidc` is `auto`, else the API key. Call it just before the ledger is used:
    /// the token is requested here and lives minutes.
    ///
    /// # Errors
    /// A bad server URL or ledger name, an unreadable key file, a token that cannot be had.
    pub async fn client(&self) -> Result<Client> {
        let request = match self.oidc {
            oidc::Mode::Auto => oidc::TokenRequest::from_env()?,
            oidc::Mode::Off => None,
        };
        let key = match request {
            Some(r) => {
                let token = r.fetch(&self.oidc_audience).await?;
                eprintln!(
                    "notarium-github: credential: the job's OIDC ID token (audience {})",
                    self.oidc_audience
                );
                Some(token)
            }
            None => self.notarium.api_key()?,
        };
        let n = &self.notarium;
        Ok(Client::with_options(
            &n.server,
            &n.ledger,
            key,
            n.options()?,
        )?)
    }

    /// The pinned verifier key, if any.
    ///
    /// # Errors
    /// A malformed key (usage).
    pub fn pinned_key(&self) -> Result<Option<VerifierKey>> {
        Ok(self.notarium.pinned_key()?)
    }

    /// The trust state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.notarium.state_dir()
    }

    /// Whether to print JSON.
    pub fn json(&self) -> bool {
        self.notarium.json()
    }

    /// The GitHub client, with `GITHUB_TOKEN` (never taken from the command line).
    fn github(&self) -> Result<GitHub> {
        let repo = self.repo.as_deref().ok_or_else(|| {
            usage("no repository: set GITHUB_REPOSITORY (Actions does) or pass --repo OWNER/NAME")
        })?;
        let token = std::env::var("GITHUB_TOKEN").unwrap_or_default();
        Ok(GitHub::new(&self.api_url, repo, &token)?)
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Set a commit status with a verdict (from `--output json`, or given).
    Status(StatusArgs),
    /// Notarize or authenticate every asset of a release.
    #[command(subcommand)]
    Release(ReleaseCmd),
}

#[derive(Subcommand, Debug)]
enum ReleaseCmd {
    /// Record every asset of the release as trusted.
    Notarize(release::NotarizeArgs),
    /// Check every asset of the release: exit 0 all trusted, else the worst code.
    Authenticate(release::AuthenticateArgs),
}

/// `status`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("verdict").required(true).args(["from_json", "state"])))]
struct StatusArgs {
    /// The commit (in Actions: $GITHUB_SHA).
    #[arg(long)]
    sha: String,
    /// The status's name on the commit.
    #[arg(long, default_value = "notarium")]
    context: String,
    /// Where the details are (default: this workflow run).
    #[arg(long)]
    target_url: Option<String>,
    /// A `--output json` document of notarium or notarium-github (`-`: stdin).
    #[arg(long)]
    from_json: Option<PathBuf>,
    /// The state, instead of --from-json.
    #[arg(long, value_enum, requires = "description")]
    state: Option<status::State>,
    /// The description, with --state (at most 140 characters are kept).
    #[arg(long)]
    description: Option<String>,
}

pub use notarium_client::exit::usage;

async fn set_status(g: &Global, a: StatusArgs) -> Result<u8> {
    let (state, description) = match (&a.from_json, a.state) {
        (Some(path), _) => {
            let text = if path.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("reading stdin")?;
                s
            } else {
                std::fs::read_to_string(path)
                    .map_err(|e| usage(format!("reading {}: {e}", path.display())))?
            };
            let doc: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| usage(format!("{} is not JSON: {e}", path.display())))?;
            status::from_cli_json(&doc).map_err(usage)?
        }
        (None, Some(state)) => (
            state,
            status::clip(a.description.as_deref().unwrap_or_default()),
        ),
        (None, None) => unreachable!("clap requires --from-json or --state"),
    };
    let gh = g.github()?;
    let new = NewStatus {
        state: state.as_str().to_owned(),
        description,
        context: a.context,
        target_url: a.target_url.or_else(notarium_client::ci::github_run_url),
    };
    gh.create_status(&a.sha, &new).await?;
    if g.json() {
        println!(
            "{}",
            serde_json::json!({ "exit_code": 0, "repository": gh.repository(), "sha": a.sha,
                "state": new.state, "description": new.description, "context": new.context,
                "target_url": new.target_url })
        );
    } else {
        println!(
            "{} {}@{}: {} — {}",
            new.context,
            gh.repository(),
            a.sha,
            new.state,
            new.description
        );
    }
    Ok(code::OK)
}

fn main() -> ExitCode {
    let cli: Cli = match code::parse_args() {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("notarium-github: cannot start: {e}");
            return ExitCode::from(code::UNREACHABLE);
        }
    };
    let g = &cli.global;
    let result = runtime.block_on(async {
        match cli.command {
            Command::Status(a) => set_status(g, a).await,
            Command::Release(ReleaseCmd::Notarize(a)) => {
                release::notarize(g, &g.github()?, a).await
            }
            Command::Release(ReleaseCmd::Authenticate(a)) => {
                release::authenticate(g, &g.github()?, a).await
            }
        }
    });
    // GitHub's own failures: its fault (5xx, unreachable) is 6, a refused token 7, the
    // request's a usage error.
    code::finish("notarium-github", g.json(), None, result, |cause| {
        if let Some(oe) = cause.downcast_ref::<oidc::Error>() {
            return Some(match oe {
                oidc::Error::Unreachable(_) => code::UNREACHABLE,
                oidc::Error::Refused(_) => code::UNAUTHORIZED,
            });
        }
        cause.downcast_ref::<github::Error>().map(|ge| {
            if ge.is_server_side() {
                code::UNREACHABLE
            } else if matches!(ge, github::Error::Api { status: 401, .. }) {
                // A refused token, as a refused Notarium key. (GitHub also answers 403 when
                // it rate-limits, so only 401 says the token is wrong.)
                code::UNAUTHORIZED
            } else {
                code::USAGE
            }
        })
    })
}
