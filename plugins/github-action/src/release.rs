//! `release notarize|authenticate --tag T`: every asset of a GitHub release, downloaded and
//! hashed as it streams, then notarized or authenticated through `notarium_client`, whose
//! [`Verifier`] checks every answer (DESIGN.md §5). Exit codes are the CLI's (§6).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use notarium_client::api::{parse_attrs, MAX_BATCH};
use notarium_client::{KeySource, Verifier};
use notarium_core::{ArtifactRequest, ArtifactStatus, Sha256, Status};

use crate::github::{Asset, GitHub, Release};
use crate::{code, usage, Global};
use notarium_client::report::{self, Row};

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
    let v = Verifier::open(g.client()?, &g.state_dir(), g.pinned_key()?).await?;
    if *v.key_source() == KeySource::FirstUse {
        eprintln!(
            "notarium-github: NOTICE: no verifier key was pinned for ledger {:?} on {}.",
            g.notarium.ledger, g.notarium.server
        );
        eprintln!(
            "notarium-github: NOTICE: trusting this key on first use: {}",
            v.key()
        );
        eprintln!(
            "notarium-github: NOTICE: pin it with --verifier-key or NOTARIUM_VERIFIER_KEY; it is remembered in {}",
            v.state_path().display()
        );
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
    let mut rows = Vec::with_capacity(requests.len());
    for chunk in requests.chunks(MAX_BATCH) {
        let receipts = v.client().notarize_batch(chunk).await?;
        if receipts.len() != chunk.len() {
            bail!(notarium_client::Error::Tampering(format!(
                "asked for {} receipts, got {}",
                chunk.len(),
                receipts.len()
            )));
        }
        for (req, r) in chunk.iter().zip(&receipts) {
            let verified = v.verify_notarization(req, r).await?;
            if let Some(dir) = &a.receipts {
                notarium_client::receipts::write(dir, &req.name, r, None)?;
            }
            rows.push(Row {
                subject: req.name.clone(),
                sha256: req.sha256.to_hex(),
                status: ArtifactStatus::Trusted.as_str().to_owned(),
                code: code::OK,
                reason: "notarized",
                index: Some(verified.index.0),
                signer: Some(verified.entry.signer().to_owned()),
                time: Some(verified.entry.time().to_owned()),
                details: vec![],
            });
        }
    }
    v.commit()?;
    Ok(report::print(&rows, g.json(), release_json(&release, &v)))
}

/// Authenticates every asset of the release; returns the worst exit code.
///
/// # Errors
/// GitHub, ledger and verification failures.
pub async fn authenticate(g: &Global, gh: &GitHub, a: AuthenticateArgs) -> Result<u8> {
    let (release, assets) = hash_release(gh, &a.tag).await?;
    let mut v = verifier(g).await?;
    let mut rows = Vec::with_capacity(assets.len());
    let mut any_unknown = false;
    for chunk in assets.chunks(MAX_BATCH) {
        let hashes: Vec<Sha256> = chunk.iter().map(|h| h.sha256).collect();
        let ans = v.client().authenticate_many(&hashes, &a.signers).await?;
        let cp = v.accept_checkpoint(&ans.checkpoint).await?;
        if ans.results.len() != hashes.len() {
            bail!(notarium_client::Error::Tampering(format!(
                "asked about {} hashes, got {} answers",
                hashes.len(),
                ans.results.len()
            )));
        }
        for (h, res) in chunk.iter().zip(&ans.results) {
            if res.sha256 != h.sha256 {
                bail!(notarium_client::Error::Tampering(format!(
                    "the answer for {} came in the place of {}",
                    res.sha256, h.sha256
                )));
            }
            if res
                .answer
                .receipt
                .as_ref()
                .is_some_and(|r| r.checkpoint != cp.note())
            {
                bail!(notarium_client::Error::Tampering(
                    "a result is proven against another checkpoint than the batch's".into()
                ));
            }
            let verdict = v.verify_answer(&h.sha256, &a.signers, &res.answer).await?;
            any_unknown |= verdict.status == Status::Unknown;
            let c = code::for_status(verdict.status);
            let (index, signer, time) = match &verdict.receipt {
                Some(r) => (
                    Some(r.index.0),
                    Some(r.entry.signer().to_owned()),
                    Some(r.entry.time().to_owned()),
                ),
                None => (None, None, None),
            };
            rows.push(Row {
                subject: h.asset.name.clone(),
                sha256: h.sha256.to_hex(),
                status: verdict.status.as_str().to_owned(),
                code: c,
                reason: code::reason(c),
                index,
                signer,
                time,
                details: vec![],
            });
        }
    }
    if any_unknown {
        // An unknown answer carries no proof: still check that the ledger did not fork.
        v.refresh().await?;
    }
    v.commit()?;
    Ok(report::print(&rows, g.json(), release_json(&release, &v)))
}
