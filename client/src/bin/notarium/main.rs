//! `notarium`: notarize and authenticate build outputs against a Notarium ledger, trusting
//! nothing without a proof. Every outcome becomes an exit code in one place ([`code::finish`]).

#![forbid(unsafe_code)]

mod args;
mod commands;
mod images;
mod offline;
mod report;
mod subjects;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes of docs/cli.md (shared with the plugins).
pub use notarium_client::exit as code;

#[derive(Parser, Debug)]
#[command(
    name = "notarium",
    version,
    about = "Notarize and authenticate build outputs with proofs.",
    after_help = code::HELP
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

pub use notarium_client::cli::{LedgerArgs as Global, Output};

#[derive(Subcommand, Debug)]
enum Command {
    /// Record files (or hashes) as trusted.
    Notarize(args::NotarizeArgs),
    /// Record files (or hashes) as untrusted.
    Untrust(args::NotarizeArgs),
    /// Record files (or hashes) as unsupported.
    Unsupport(args::NotarizeArgs),
    /// Check files (or hashes): exit 0 trusted, 1 untrusted, 2 unknown, 3 unsupported, 4 revoked,
    /// 8 signer mismatch (with --signer-issuer, --signer-repository, --signer-workflow, --signer-ref).
    Authenticate(args::AuthenticateArgs),
    /// Show every entry for a file or hash, verified.
    Inspect(args::InspectArgs),
    /// Search entries, verified.
    Search(args::SearchArgs),
    /// Fetch, verify and print the latest checkpoint.
    Checkpoint,
    /// Verify a saved receipt (JSON or .tlog-proof) offline, optionally against a file.
    VerifyReceipt(args::VerifyReceiptArgs),
    /// Verify a downloaded audit report offline: exit 0 valid, 5 invalid.
    VerifyReport(report::VerifyReportArgs),
    /// Download the whole ledger through its tiles, recompute it and check it.
    Audit,
    /// Manage ledgers (admin token).
    #[command(subcommand)]
    Ledger(args::LedgerCmd),
    /// Manage API keys (admin).
    #[command(subcommand)]
    Key(args::KeyCmd),
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
            eprintln!("notarium: cannot start: {e}");
            return ExitCode::from(code::UNREACHABLE);
        }
    };
    let g = &cli.global;
    let result = runtime.block_on(async {
        use commands::*;
        match cli.command {
            Command::Notarize(a) => notarize(g, a, notarium_core::ArtifactStatus::Trusted).await,
            Command::Untrust(a) => notarize(g, a, notarium_core::ArtifactStatus::Untrusted).await,
            Command::Unsupport(a) => {
                notarize(g, a, notarium_core::ArtifactStatus::Unsupported).await
            }
            Command::Authenticate(a) => authenticate(g, a).await,
            Command::Inspect(a) => inspect(g, a).await,
            Command::Search(a) => search(g, a).await,
            Command::Checkpoint => checkpoint(g).await,
            Command::VerifyReceipt(a) => verify_receipt(g, a).await,
            Command::VerifyReport(a) => report::verify_report(g, a),
            Command::Audit => audit(g).await,
            Command::Ledger(c) => ledger_cmd(g, c).await,
            Command::Key(c) => key_cmd(g, c).await,
        }
    });
    code::finish(
        "notarium",
        g.json(),
        Some("usage: notarium [--server URL] [--ledger NAME] [--output text|json] <command> (see notarium --help)"),
        result,
        |_| None,
    )
}
