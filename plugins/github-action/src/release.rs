//! `release notarize|authenticate --tag T`: every asset of a GitHub release, downloaded and
//! hashed as it streams, then notarized or authenticated through `notarium_client`, whose
//! [`Verifier`] checks every answer (docs/verification.md). Exit codes are the CLI's (docs/cli.md).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use notarium_client::api::parse_attrs;
use notarium_client::identity::PolicyArgs;
use notarium_client::Verifier;
use notarium_core::{ArtifactRequest, ArtifactStatus, Sha256};

use crate::github::{Asset, GitHub, Release};
use crate::{usage, Global};
use notarium_client::receipts::ReceiptDir;
use notarium_client::results::{self, Row};

/// `release notarize`.
#[derive(Args, Debug)]
pub struct NotarizeArgs {
    /// The release's tag.
    #[arg(long)]
    pub tag: String,
    /// An attribute key=value for every asset (repeatable).
    #[arg(long = "attr")]
    pub attrs: Vec<String>,
    /// Record the GitHub Actions context of this run.
    #[arg(long)]
    pub ci: bool,
    /// Write one receipt per asset into this directory.
    #[arg(long)]
    pub receipts: Option<PathBuf>,
}

/// `release authenticate`.
#[derive(Args, Debug)]
pub struct AuthenticateArgs {
    /// The release's tag.
    #[arg(long)]
    pub tag: String,
    /// Only entries signed by these key ids count (repeatable).
    #[arg(long = "signer")]
    pub signers: Vec<String>,
    /// Who must have built them: the deciding entry's verified identity must match (exit 8
    /// otherwise, also for an entry written with an API key).
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// An asset and the hash of the bytes GitHub served for it.
struct Hashed {
    asset: Asset,
    sha256: Sha256,
    size: u64,
}

/// Finds the release, lists its assets and hashes each one.
async fn hash_release(gh: &GitHub, tag: &str) -> Result<(Release, Vec<Hashed>)> {
    let release = gh.release_by_tag(tag).await?;
    let assets = gh.assets(&release).await?;
    if assets.is_empty() {
        bail!(usage(format!(
            "release {tag} of {} has no assets",
            gh.repository()
        )));
    }
    let mut out = Vec::with_capacity(assets.len());
    for asset in assets {
        let d = gh.download(&asset).await?;
        eprintln!("notarium-github: {} sha256:{}", asset.name, d.sha256);
        out.push(Hashed {
            asset,
            sha256: d.sha256,
            size: d.size,
        });
    }
    Ok((release, out))
}

async fn verifier(g: &Global) -> Result<Verifier> {
    let v = Verifier::open(g.client().await?, &g.state_dir(), g.pinned_key()?).await?;
    for line in v.first_use_notice().unwrap_or_default() {
        eprintln!("notarium-github: {line}");
    }
    Ok(v)
}

fn release_json(r: &Release, v: &Verifier) -> serde_json::Value {
    let cp = v
        .latest()
        .map(|c| serde_json::json!({ "size": c.size().0, "root": c.root().to_base64() }));
    serde_json::json!({
        "release": { "id": r.id, "tag": r.tag_name, "name": r.name },
        "checkpoint": cp,
    })
}

/// Notarizes every asset of the release as trusted; returns the exit code.
///
/// # Errors
/// GitHub, ledger and verification failures.
pub async fn notarize(g: &Global, gh: &GitHub, a: NotarizeArgs) -> Result<u8> {
    let mut attributes = parse_attrs(&a.attrs).map_err(|e| usage(e.to_string()))?;
    attributes.insert("release_tag".into(), a.tag.clone());
    let ci = if a.ci {
        notarium_client::ci::context()
    } else {
        BTreeMap::new()
    };
    let (release, assets) = hash_release(gh, &a.tag).await?;
    let requests: Vec<ArtifactRequest> = assets
        .iter()
        .map(|h| ArtifactRequest {
            sha256: h.sha256,
            name: h.asset.name.clone(),
            size: Some(h.size),
            kind: Some("file".into()),
            status: None,
            attributes: attributes.clone(),
            ci: ci.clone(),
        })
        .collect();
    for r in &requests {
        r.validate()
            .map_err(|e| usage(format!("{}: {e}", r.name)))?;
    }
    let mut v = verifier(g).await?;
    let notarized = v.notarize_many(&requests, |_| {}).await?;
    let mut rows = Vec::with_capacity(requests.len());
    let mut receipts = a.receipts.as_deref().map(ReceiptDir::new);
    for (req, n) in requests.iter().zip(&notarized) {
        let mut row = Row::of_notarized(&req.name, n, ArtifactStatus::Trusted);
        if let Some(dir) = &mut receipts {
            let written = dir.write(&req.name, &n.receipt, None)?;
            if let Some(usual) = &written.instead_of {
                eprintln!(
                    "notarium-github: {} holds another artifact's receipt: the receipt of {} is {}",
                    usual.display(),
                    req.name,
                    written.path.display()
                );
            }
            row.receipt = Some(written.path.display().to_string());
        }
        rows.push(row);
    }
    v.commit()?;
    Ok(results::print(&rows, g.json(), release_json(&release, &v)))
}

/// Authenticates every asset of the release; returns the worst exit code.
///
/// # Errors
/// GitHub, ledger and verification failures.
pub async fn authenticate(g: &Global, gh: &GitHub, a: AuthenticateArgs) -> Result<u8> {
    let (release, assets) = hash_release(gh, &a.tag).await?;
    let mut v = verifier(g).await?;
    let hashes: Vec<Sha256> = assets.iter().map(|h| h.sha256).collect();
    let verdicts = v.authenticate_many(&hashes, &a.signers, |_| {}).await?;
    let policy = a.policy.policy();
    let rows = assets
        .iter()
        .zip(&verdicts)
        .map(|(h, verdict)| Row::of_verdict_under(&h.asset.name, verdict, &policy))
        .collect::<Vec<_>>();
    v.commit()?;
    Ok(results::print(&rows, g.json(), release_json(&release, &v)))
}
