//! The flags of each command (docs/cli.md), as clap reads them.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use notarium_client::identity::PolicyArgs;

/// `notarize`, `untrust`, `unsupport`.
#[derive(Args, Debug)]
pub struct NotarizeArgs {
    /// Files, directories (recursively), globs, `dir://DIR` (a directory as one artifact),
    /// `oci://REGISTRY/REPO:TAG` or `oci://REGISTRY/REPO@sha256:…` (a container image: the
    /// manifest digest its registry serves, and each platform's), or `-` to read them from
    /// stdin.
    pub subjects: Vec<String>,
    /// A SHA-256 to record without a file (needs --name).
    #[arg(long)]
    pub hash: Option<String>,
    /// The artifact name (with --hash, or for a single subject).
    #[arg(long)]
    pub name: Option<String>,
    /// The artifact kind (default: file; dir for dir://; oci-index or oci-manifest for
    /// oci://).
    #[arg(long)]
    pub kind: Option<String>,
    /// An attribute key=value (repeatable).
    #[arg(long = "attr")]
    pub attrs: Vec<String>,
    /// Record the CI context (GitHub Actions, GitLab CI, Jenkins) from the environment.
    #[arg(long)]
    pub ci: bool,
    /// Write one receipt per artifact into this directory.
    #[arg(long)]
    pub receipts: Option<PathBuf>,
    /// Push each image manifest's receipt beside it in its registry, as an OCI artifact that
    /// refers to it (for `authenticate oci://… --offline`).
    #[arg(long)]
    pub attach: bool,
}

/// `authenticate`.
#[derive(Args, Debug)]
pub struct AuthenticateArgs {
    /// Files, directories, globs, `dir://DIR`, `oci://REGISTRY/REPO:TAG` or
    /// `oci://REGISTRY/REPO@sha256:…` (what the registry serves now), or `-`.
    pub subjects: Vec<String>,
    /// A SHA-256 to authenticate without a file (repeatable).
    #[arg(long = "hash")]
    pub hashes: Vec<String>,
    /// Only entries signed by these key ids count (repeatable).
    #[arg(long = "signer")]
    pub signers: Vec<String>,
    /// A saved receipt to verify instead of asking the server (with --offline).
    #[arg(long)]
    pub receipt: Option<PathBuf>,
    /// Verify without the Notarium server: the receipt of --receipt, or for oci:// subjects
    /// the receipts attached beside the image in its registry.
    #[arg(long)]
    pub offline: bool,
    /// Ask for a fresh status proof (the latest tree, signed with the time) and save it to
    /// FILE, for offline checks later: save it as notarium-status.json next to the receipts.
    #[arg(long, value_name = "FILE", conflicts_with = "offline")]
    pub save_status: Option<PathBuf>,
    /// With --offline: the status proof to check the receipt's status against (default:
    /// notarium-status.json next to the receipt, when there is one).
    #[arg(long, value_name = "FILE", requires = "offline")]
    pub status: Option<PathBuf>,
    /// With --offline: require a status proof no older than this (90s, 30m, 24h, 7d); exit 6
    /// when it is older, or when there is none.
    #[arg(long, value_name = "AGE", requires = "offline", value_parser = parse_age)]
    pub max_status_age: Option<u64>,
    /// For dir://: the manifest saved at notarization, to list the files that differ.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Who must have built it: the deciding entry's verified identity must match (exit 8
    /// otherwise, also for an entry written with an API key).
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// `inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The file to inspect, or an `oci://` image (its manifest, and each platform's).
    pub file: Option<String>,
    /// Or its SHA-256.
    #[arg(long)]
    pub hash: Option<String>,
}

/// `search`.
#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Artifact name.
    #[arg(long)]
    pub name: Option<String>,
    /// Signer key id.
    #[arg(long)]
    pub signer: Option<String>,
    /// Recorded status.
    #[arg(long)]
    pub status: Option<String>,
    /// Recorded attribute `key=value` (as `notarize --attr` writes it; `key:value` works too).
    #[arg(long)]
    pub attr: Option<String>,
    /// From this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<String>,
    /// Before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Cursor: entries after this index.
    #[arg(long)]
    pub after: Option<u64>,
    /// Page size (default 100, at most 1000).
    #[arg(long)]
    pub limit: Option<usize>,
}

/// `verify-receipt`.
#[derive(Args, Debug)]
pub struct VerifyReceiptArgs {
    /// The receipt: JSON as saved by `notarize --receipts`, or a C2SP .tlog-proof.
    pub receipt: PathBuf,
    /// The file it should be the receipt of.
    pub file: Option<PathBuf>,
}

/// `ledger …`.
#[derive(Subcommand, Debug)]
pub enum LedgerCmd {
    /// List ledgers.
    List,
    /// Create a ledger.
    Create {
        /// Its name.
        name: String,
        /// Let anyone authenticate and fetch proofs without a key.
        #[arg(long)]
        public_read: bool,
    },
    /// Show the current ledger.
    Show,
}

/// `key …`.
#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// List the ledger's keys.
    List,
    /// Create a key; its secret is printed once.
    Create {
        /// A name for it.
        name: String,
        /// read, write or admin.
        #[arg(long, default_value = "write")]
        role: String,
    },
    /// Revoke a key: its notarizations authenticate as revoked from now on.
    Revoke {
        /// The key id.
        id: String,
    },
}

/// `--max-status-age`: a number of seconds, minutes, hours or days (`90s`, `30m`, `24h`, `7d`).
fn parse_age(s: &str) -> std::result::Result<u64, String> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit, e.g. 24h"))?;
    let per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: the unit must be s, m, h or d, e.g. 24h")),
    };
    n.checked_mul(per)
        .ok_or_else(|| format!("{s:?} is too long"))
}
