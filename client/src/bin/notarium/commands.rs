//! The commands of docs/cli.md. Each returns the exit code of its outcome; failures are
//! errors whose kind decides the code (see `exit_code` in main.rs).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use notarium_client::api::{attr_filter, parse_attrs, SearchParams};
use notarium_client::exit::usage;
use notarium_client::identity::PolicyArgs;
use notarium_client::status::{Offline, StatusFile};

use notarium_client::receipts::ReceiptDir;
use notarium_client::results::printable;
use notarium_client::{Client, Verifier};
use notarium_core::api::{Key, LedgerInfo};
use notarium_core::{
    ArtifactRequest, ArtifactStatus, Entry, Receipt, Role, Sha256, Status, VerifierKey,
};

use crate::subjects::{self, Subject};
use crate::{code, Global};
use notarium_client::manifest::Manifest;
use notarium_client::results::{self as output, Row};

/// `notarize`, `untrust`, `unsupport`.
#[derive(Args, Debug)]
pub struct NotarizeArgs {
    /// Files, directories (recursively), globs, `dir://DIR` (a directory as one artifact), or
    /// `-` to read paths from stdin.
    pub subjects: Vec<String>,
    /// A SHA-256 to record without a file (needs --name).
    #[arg(long)]
    pub hash: Option<String>,
    /// The artifact name (with --hash, or for a single subject).
    #[arg(long)]
    pub name: Option<String>,
    /// The artifact kind (default: file, or dir for dir://).
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
}

/// `authenticate`.
#[derive(Args, Debug)]
pub struct AuthenticateArgs {
    /// Files, directories, globs, `dir://DIR`, or `-`.
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
    /// Verify the receipt without any network access.
    #[arg(long, requires = "receipt")]
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
    /// The file to inspect.
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

async fn verifier(g: &Global) -> Result<Verifier> {
    let v = Verifier::open(g.client()?, &g.state_dir(), g.pinned_key()?).await?;
    for line in v.first_use_notice().unwrap_or_default() {
        eprintln!("notarium: {line}");
    }
    Ok(v)
}

fn progress(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() || len < 20 {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix(what.to_owned());
    pb
}

pub async fn notarize(g: &Global, a: NotarizeArgs, status: ArtifactStatus) -> Result<u8> {
    let attributes = parse_attrs(&a.attrs).map_err(|e| usage(e.to_string()))?;
    let ci = if a.ci {
        notarium_client::ci::context()
    } else {
        BTreeMap::new()
    };
    let mut subjects: Vec<Subject> = Vec::new();
    if let Some(h) = &a.hash {
        let sha256 = Sha256::parse(h)
            .map_err(|_| usage(format!("--hash {h:?} is not 64 hex characters")))?;
        let name = a.name.clone().ok_or_else(|| usage("--hash needs --name"))?;
        subjects.push(Subject {
            display: h.clone(),
            name,
            kind: "hash",
            sha256,
            size: None,
            manifest: None,
        });
    }
    if !a.subjects.is_empty() {
        let pb = progress(0, "hashing");
        subjects.extend(subjects::resolve(&a.subjects, &pb).map_err(|e| usage(format!("{e:#}")))?);
        pb.finish_and_clear();
    }
    if subjects.is_empty() {
        bail!(usage(
            "nothing to notarize: name files, directories, globs, `-`, or --hash with --name"
        ));
    }
    if a.name.is_some() && a.hash.is_none() && subjects.len() > 1 {
        bail!(usage("--name applies to a single subject"));
    }
    let requests: Vec<ArtifactRequest> = subjects
        .iter()
        .map(|s| {
            let mut attrs = attributes.clone();
            if let Some(m) = &s.manifest {
                attrs.insert("manifest_files".into(), m.files.len().to_string());
            }
            ArtifactRequest {
                sha256: s.sha256,
                name: if s.kind != "hash" {
                    a.name.clone().unwrap_or_else(|| s.name.clone())
                } else {
                    s.name.clone()
                },
                size: s.size,
                kind: Some(a.kind.clone().unwrap_or_else(|| {
                    if s.kind == "dir" {
                        "dir".into()
                    } else {
                        "file".into()
                    }
                })),
                status: (status != ArtifactStatus::Trusted).then_some(status),
                attributes: attrs,
                ci: ci.clone(),
            }
        })
        .collect();
    for r in &requests {
        r.validate()
            .map_err(|e| usage(format!("{}: {e}", r.name)))?;
    }
    let mut v = verifier(g).await?;
    let pb = progress(requests.len() as u64, "notarizing");
    let notarized = v.notarize_many(&requests, |n| pb.inc(n as u64)).await?;
    pb.finish_and_clear();
    let mut rows = Vec::with_capacity(notarized.len());
    let mut receipts = a.receipts.as_deref().map(ReceiptDir::new);
    for ((req, n), s) in requests.iter().zip(&notarized).zip(&subjects) {
        let mut row = Row::of_notarized(&s.display, n, status);
        if let Some(dir) = &mut receipts {
            let manifest = s.manifest.as_ref().map(Manifest::text);
            let written = dir.write(&req.name, &n.receipt, manifest.as_deref())?;
            if let Some(usual) = &written.instead_of {
                eprintln!(
                    "notarium: {} holds another artifact's receipt: the receipt of {} is {}",
                    usual.display(),
                    s.display,
                    written.path.display()
                );
            }
            row.receipt = Some(written.path.display().to_string());
        }
        rows.push(row);
    }
    v.commit()?;
    let cp = v
        .latest()
        .map(|c| serde_json::json!({ "size": c.size().0, "root": c.root().to_base64() }));
    output::print(&rows, g.json(), serde_json::json!({ "checkpoint": cp }));
    Ok(code::OK)
}

pub async fn authenticate(g: &Global, a: AuthenticateArgs) -> Result<u8> {
    if a.offline {
        return authenticate_offline(g, &a);
    }
    if a.receipt.is_some() {
        bail!(usage("--receipt verifies offline: add --offline"));
    }
    let mut subjects: Vec<Subject> = Vec::new();
    for h in &a.hashes {
        let sha256 = Sha256::parse(h)
            .map_err(|_| usage(format!("--hash {h:?} is not 64 hex characters")))?;
        subjects.push(Subject {
            display: h.clone(),
            name: h.clone(),
            kind: "hash",
            sha256,
            size: None,
            manifest: None,
        });
    }
    if !a.subjects.is_empty() {
        let pb = progress(0, "hashing");
        subjects.extend(subjects::resolve(&a.subjects, &pb).map_err(|e| usage(format!("{e:#}")))?);
        pb.finish_and_clear();
    }
    if subjects.is_empty() {
        bail!(usage(
            "nothing to authenticate: name files, directories, globs, `-`, or --hash"
        ));
    }
    let mut v = verifier(g).await?;
    let hashes: Vec<Sha256> = subjects.iter().map(|s| s.sha256).collect();
    let pb = progress(hashes.len() as u64, "checking");
    let verdicts = if let Some(path) = &a.save_status {
        let (verdicts, file) = v
            .fresh_status(&hashes, &a.signers, |n| pb.inc(n as u64))
            .await?;
        file.write(path)?;
        verdicts
    } else {
        v.authenticate_many(&hashes, &a.signers, |n| pb.inc(n as u64))
            .await?
    };
    pb.finish_and_clear();
    let policy = a.policy.policy();
    let mut rows = Vec::with_capacity(verdicts.len());
    for (s, verdict) in subjects.iter().zip(&verdicts) {
        let mut row = Row::of_verdict_under(&s.display, verdict, &policy);
        if let (Some(now), Some(path)) = (&s.manifest, &a.manifest) {
            if verdict.status != Status::Trusted {
                row.details = manifest_diff(&mut v, now, path, &a.signers).await?;
            }
        }
        rows.push(row);
    }
    v.commit()?;
    let cp = v
        .latest()
        .map(|c| serde_json::json!({ "size": c.size().0, "root": c.root().to_base64() }));
    Ok(output::print(
        &rows,
        g.json(),
        serde_json::json!({ "checkpoint": cp }),
    ))
}

/// Lists what changed in a directory since its manifest was notarized; the old manifest is
/// itself authenticated, so the list is only printed if the ledger vouches for it.
async fn manifest_diff(
    v: &mut Verifier,
    now: &Manifest,
    path: &Path,
    signers: &[String],
) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading manifest {}", path.display()))
        .map_err(|e| usage(format!("{e:#}")))?;
    let old = Manifest::parse(&text).map_err(|e| usage(format!("{}: {e:#}", path.display())))?;
    let old_sha = Sha256::of(old.text().as_bytes());
    let verdict = v.authenticate(&old_sha, signers).await?;
    let mut out = vec![format!(
        "notarized manifest {} is {}",
        path.display(),
        verdict.status
    )];
    if verdict.status != Status::Trusted {
        return Ok(out);
    }
    for (p, what) in now.diff(&old) {
        out.push(format!("{what}: {p}"));
    }
    Ok(out)
}

fn read_receipt(path: &Path) -> Result<Receipt> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(|e| usage(format!("{e:#}")))?;
    notarium_client::receipts::parse_file(&text).map_err(|e| match e {
        notarium_client::Error::Usage(m) => usage(format!("{} {m}", path.display())),
        notarium_client::Error::Tampering(m) => {
            notarium_client::Error::Tampering(format!("{}: {m}", path.display())).into()
        }
        other => other.into(),
    })
}

/// The key for offline checks: pinned, else the one this machine stored for the ledger.
fn offline_key(g: &Global) -> Result<VerifierKey> {
    if let Some(k) = g.pinned_key()? {
        return Ok(k);
    }
    let sf = notarium_client::trust::StateFile::open(
        &g.state_dir(),
        Client::new(&g.server, &g.ledger, None)?.server().as_str(),
        &g.ledger,
    )?;
    let k = sf.state.verifier_key.clone().ok_or_else(|| {
        usage("offline verification needs the ledger's verifier key: pass --verifier-key (or NOTARIUM_VERIFIER_KEY)")
    })?;
    Ok(VerifierKey::parse(&k)?)
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

/// `3h 12m` for a number of seconds.
fn age_text(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h {}m", s / 3600, s / 60 % 60),
        s => format!("{}d {}h", s / 86_400, s / 3600 % 24),
    }
}

fn authenticate_offline(g: &Global, a: &AuthenticateArgs) -> Result<u8> {
    let key = offline_key(g)?;
    let path = a.receipt.as_ref().expect("clap requires --receipt");
    let r = read_receipt(path)?;
    let v = r
        .verify(&key)
        .map_err(|e| notarium_client::Error::Tampering(format!("{}: {e}", path.display())))?;
    let Entry::Artifact(art) = &v.entry else {
        bail!(notarium_client::Error::Tampering(
            "the receipt is not for an artifact".into()
        ));
    };
    let status_path = a.status.clone().or_else(|| {
        let beside = StatusFile::beside(path);
        beside.is_file().then_some(beside)
    });
    let status_file = status_path.as_deref().map(StatusFile::read).transpose()?;
    // What the status proof says about the receipt's artifact, verified once.
    let proven = status_file
        .as_ref()
        .map(|f| f.verify_offline(&key, &art.sha256, &a.signers, Some(&v)))
        .transpose()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut subjects = Vec::new();
    for h in &a.hashes {
        subjects.push((
            h.clone(),
            Sha256::parse(h)
                .map_err(|_| usage(format!("--hash {h:?} is not 64 hex characters")))?,
        ));
    }
    if !a.subjects.is_empty() {
        for s in subjects::resolve(&a.subjects, &ProgressBar::hidden())
            .map_err(|e| usage(format!("{e:#}")))?
        {
            subjects.push((s.display, s.sha256));
        }
    }
    if subjects.is_empty() {
        subjects.push((path.display().to_string(), art.sha256));
    }
    let receipt_line = format!(
        "offline: receipt verified against checkpoint {} of {}",
        v.checkpoint.size(),
        key.name()
    );
    let policy = a.policy.policy();
    // An unknown stays unknown: the policy holds only an entry that decides.
    let policy_outcome = |entry: Option<&notarium_core::entry::ArtifactEntry>| {
        let e = entry.filter(|_| !policy.is_empty())?;
        Some(notarium_core::api::PolicyOutcome::of(policy.check(e)))
    };
    let mut rows = Vec::new();
    for (display, sha) in subjects {
        let mut row = Row {
            subject: display,
            sha256: sha.to_hex(),
            status: "verification failed".to_owned(),
            code: code::TAMPERING,
            reason: code::reason(code::TAMPERING),
            index: Some(v.index.0),
            signer: Some(art.signer.clone()),
            time: Some(art.time.clone()),
            details: vec![receipt_line.clone()],
            ..Row::default()
        }
        .provenance(Some(&v.entry));
        if sha != art.sha256 {
            // The receipt itself is sound, but it is not this file's: say only what failed.
            row.details = vec![format!(
                "offline: {} is the receipt of {:?} with SHA-256 {}, not of this file",
                path.display(),
                art.name,
                art.sha256
            )];
            rows.push(row);
            continue;
        }
        let set = |row: &mut Row, s: Status| {
            row.status = s.as_str().to_owned();
            row.code = code::for_status(s);
            row.reason = code::reason(row.code);
        };
        match &proven {
            Some(Offline::Proven(p)) => {
                set(&mut row, p.status);
                if let Some(d) = &p.deciding {
                    row.index = Some(d.index.0);
                    row.signer = Some(d.entry.signer().to_owned());
                    row.time = Some(d.entry.time().to_owned());
                    row = row.provenance(Some(&d.entry));
                }
                // The policy holds the entry that decides now, not the receipt's.
                let decided = match p.deciding.as_ref().map(|d| &d.entry) {
                    Some(Entry::Artifact(d)) => Some(d),
                    _ => None,
                };
                row = row.under(policy_outcome(decided));
                let age = now.saturating_sub(p.time);
                let at = i64::try_from(p.time)
                    .ok()
                    .and_then(|t| t.checked_mul(1_000_000))
                    .map_or_else(
                        || p.time.to_string(),
                        |us| notarium_core::Timestamp(us).to_string(),
                    );
                row.details.push(format!(
                    "offline: status proven current at checkpoint {} as of {at} ({} ago)",
                    p.checkpoint.size(),
                    age_text(age)
                ));
                if p.time > now + 300 {
                    row.details.push(format!(
                        "the status proof is dated {} ahead of this machine's clock",
                        age_text(p.time - now)
                    ));
                }
                if let Some(max) = a.max_status_age.filter(|m| age > *m) {
                    stale(&mut row, format!(
                        "the status proof is {} old, more than --max-status-age {}: save a fresh one with `notarium authenticate FILE --save-status {}`",
                        age_text(age), age_text(max), status_path.as_deref().map_or(String::new(), |p| p.display().to_string())
                    ));
                }
            }
            other => {
                set(&mut row, Status::from(art.status));
                row = row.under(policy_outcome(Some(art)));
                if let Some(Offline::NotCovered(why)) = other {
                    row.details.push(format!("offline: {why}"));
                }
                row.details.push(
                    "offline: later status changes and key revocations cannot be seen without a status proof (save one with `notarium authenticate FILE --save-status notarium-status.json`)".into(),
                );
                if a.max_status_age.is_some() {
                    stale(
                        &mut row,
                        "no status proof covers this receipt, so --max-status-age cannot be met"
                            .into(),
                    );
                }
            }
        }
        rows.push(row);
    }
    Ok(output::print(
        &rows,
        g.json(),
        serde_json::json!({ "offline": true }),
    ))
}

/// Marks a row whose status is not proven recent enough (exit 6: ask the server again),
/// unless a worse outcome (a signer mismatch) already stands.
fn stale(row: &mut Row, why: String) {
    if row.code > code::UNREACHABLE {
        row.details.push(why);
        return;
    }
    row.status = "status too old".to_owned();
    row.code = code::UNREACHABLE;
    row.reason = "status_stale";
    row.details.push(why);
}

pub fn verify_receipt(g: &Global, a: VerifyReceiptArgs) -> Result<u8> {
    let auth = AuthenticateArgs {
        subjects: a.file.iter().map(|f| f.display().to_string()).collect(),
        hashes: vec![],
        signers: vec![],
        receipt: Some(a.receipt),
        offline: true,
        save_status: None,
        status: None,
        max_status_age: None,
        manifest: None,
        policy: PolicyArgs::default(),
    };
    let c = authenticate_offline(g, &auth)?;
    // A valid receipt is success whatever status it records; a mismatch stays 5.
    Ok(if c == code::TAMPERING { c } else { code::OK })
}

fn subject_hash(file: Option<&String>, hash: Option<&String>) -> Result<(String, Sha256)> {
    match (file, hash) {
        (Some(f), None) => Ok((
            f.clone(),
            subjects::hash_file(Path::new(f))
                .map_err(|e| usage(format!("{e:#}")))?
                .0,
        )),
        (None, Some(h)) => Ok((
            h.clone(),
            Sha256::parse(h)
                .map_err(|_| usage(format!("--hash {h:?} is not 64 hex characters")))?,
        )),
        _ => Err(usage("give a file or --hash, not both")),
    }
}

pub async fn inspect(g: &Global, a: InspectArgs) -> Result<u8> {
    let (_, sha) = subject_hash(a.file.as_ref(), a.hash.as_ref())?;
    let mut v = verifier(g).await?;
    let found = v.history(&sha).await?;
    v.commit()?;
    let rows: Vec<Row> = found.iter().map(Row::of_found).collect();
    output::print(&rows, g.json(), serde_json::json!({ "sha256": sha }));
    Ok(code::OK)
}

pub async fn search(g: &Global, a: SearchArgs) -> Result<u8> {
    let attr = a.attr.as_deref().map(attr_filter).transpose()?;
    let mut v = verifier(g).await?;
    let params = SearchParams {
        name: a.name,
        signer: a.signer,
        status: a.status,
        attr,
        since: a.since,
        until: a.until,
        after: a.after,
        limit: a.limit,
    };
    let (found, next) = v.search(&params).await?;
    v.commit()?;
    let rows: Vec<Row> = found.iter().map(Row::of_found).collect();
    output::print(&rows, g.json(), serde_json::json!({ "next": next }));
    if let (Some(n), false) = (next, g.json()) {
        eprintln!("more: --after {n}");
    }
    Ok(code::OK)
}

pub async fn checkpoint(g: &Global) -> Result<u8> {
    let mut v = verifier(g).await?;
    let before = v.latest().map(|c| c.size().0);
    let cp = v.refresh().await?;
    v.commit()?;
    if g.json() {
        println!(
            "{}",
            serde_json::json!({ "exit_code": 0, "origin": cp.checkpoint().origin.as_str(), "size": cp.size().0,
                "root": cp.root().to_base64(), "checkpoint": cp.note(), "previous_size": before, "verifier_key": v.key().to_string() })
        );
    } else {
        print!("{}", cp.note());
        match before {
            Some(b) => eprintln!(
                "verified: signed by {}, consistent with the checkpoint of size {b} seen before",
                v.key()
            ),
            None => eprintln!("verified: signed by {}", v.key()),
        }
    }
    Ok(code::OK)
}

pub async fn audit(g: &Global) -> Result<u8> {
    let mut v = verifier(g).await?;
    let pb = progress(0, "auditing");
    let audited = v.audit(|n| pb.inc(n as u64)).await?;
    pb.finish_and_clear();
    v.commit()?;
    let (size, root) = (audited.entries, audited.checkpoint.root().to_base64());
    if g.json() {
        println!(
            "{}",
            serde_json::json!({ "exit_code": 0, "entries": size, "root": root, "verified": true })
        );
    } else {
        println!(
            "audit ok: {size} entries recomputed from the log's tiles give the signed root {root} \
             and the status index it commits to"
        );
        println!(
            "the checkpoint is signed by {} and consistent with this machine's earlier view",
            v.key()
        );
    }
    Ok(code::OK)
}

pub async fn ledger_cmd(g: &Global, c: LedgerCmd) -> Result<u8> {
    let client = g.client()?;
    match c {
        LedgerCmd::List => {
            let list = client.list_ledgers().await?;
            if g.json() {
                print_json(&list)?;
            } else {
                print_ledgers(&list.ledgers);
            }
        }
        LedgerCmd::Create { name, public_read } => {
            let info = client
                .for_ledger(&name)?
                .create_ledger(&name, public_read)
                .await?;
            if g.json() {
                print_json(&info)?;
            } else {
                println!("created ledger {}", printable(&info.name));
                print_ledger(&info);
                eprintln!(
                    "pin its verifier key in every client: --verifier-key or NOTARIUM_VERIFIER_KEY"
                );
            }
        }
        LedgerCmd::Show => {
            let info = client.ledger_info().await?;
            if g.json() {
                print_json(&info)?;
            } else {
                print_ledger(&info);
            }
        }
    }
    Ok(code::OK)
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The ledgers as a table, one per line.
fn print_ledgers(ledgers: &[LedgerInfo]) {
    let width = ledgers
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    println!(
        "{:<width$}  {:>10}  {:<11}  VERIFIER KEY",
        "NAME", "ENTRIES", "PUBLIC READ"
    );
    for l in ledgers {
        println!(
            "{:<width$}  {:>10}  {:<11}  {}",
            printable(&l.name),
            l.size,
            yes_no(l.public_read),
            printable(&l.verifier_key)
        );
    }
}

/// One ledger, one field per line.
fn print_ledger(l: &LedgerInfo) {
    println!("name:          {}", printable(&l.name));
    println!("origin:        {}", printable(&l.origin));
    println!("entries:       {}", l.size);
    println!("public read:   {}", yes_no(l.public_read));
    println!("verifier key:  {}", printable(&l.verifier_key));
    println!(
        "limits:        {} entries per batch, {} hashes per authenticate, {} entries per page",
        l.limits.batch_max_entries, l.limits.authenticate_max_hashes, l.limits.page_max
    );
}

/// The keys as a table, oldest first.
fn print_keys(keys: &[Key]) {
    let id = keys
        .iter()
        .map(|k| k.id.chars().count())
        .max()
        .unwrap_or(0)
        .max(2);
    let name = keys
        .iter()
        .map(|k| k.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    println!(
        "{:<id$}  {:<name$}  {:<5}  {:>7}  REVOKED",
        "ID", "NAME", "ROLE", "CREATED"
    );
    for k in keys {
        println!(
            "{:<id$}  {:<name$}  {:<5}  {:>7}  {}",
            printable(&k.id),
            printable(&k.name),
            k.role.as_str(),
            k.created_index,
            k.revoked_index
                .map_or_else(|| "-".to_owned(), |i| i.to_string())
        );
    }
}

pub async fn key_cmd(g: &Global, c: KeyCmd) -> Result<u8> {
    let client = g.client()?;
    match c {
        KeyCmd::List => {
            let list = client.list_keys().await?;
            if g.json() {
                print_json(&list)?;
            } else {
                print_keys(&list.keys);
            }
        }
        KeyCmd::Create { name, role } => {
            let role = match role.as_str() {
                "read" => Role::Read,
                "write" => Role::Write,
                "admin" => Role::Admin,
                other => bail!(usage(format!(
                    "--role {other:?}: must be read, write or admin"
                ))),
            };
            let k = client.create_key(&name, role).await?;
            if g.json() {
                print_json(&k)?;
            } else {
                println!(
                    "id:     {}\nname:   {}\nrole:   {}\nsecret: {}",
                    printable(&k.id),
                    printable(&k.name),
                    k.role.as_str(),
                    printable(&k.key)
                );
                eprintln!("the secret is shown once: store it in your CI's secret store");
            }
        }
        KeyCmd::Revoke { id } => {
            let r = client.revoke_key(&id).await?;
            if g.json() {
                print_json(&r)?;
            } else {
                println!(
                    "revoked key {} (entry {}): its notarizations authenticate as revoked from now on",
                    printable(&r.id),
                    r.receipt.index
                );
            }
        }
    }
    Ok(code::OK)
}
