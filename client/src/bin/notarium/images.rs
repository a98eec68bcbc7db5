//! `oci://` subjects in the commands (docs/oci.md): resolving them through their registry,
//! attaching receipts beside them, near misses for the ones that are `unknown`, and offline
//! authentication from the receipts attached to them.

use std::ops::Range;

use anyhow::Result;
use notarium_client::exit::usage;
use notarium_client::images::{self, check_attached, AttachedInfo, ImageSubject};
use notarium_client::oci::{Options, RegistryClient};
use notarium_client::receipts::receipt_files;
use notarium_client::results::{self as output, Row};
use notarium_client::status::StatusFile;
use notarium_client::{Notarized, Verdict, Verifier};
use notarium_core::{Entry, Status};

use crate::args::AuthenticateArgs;
use crate::offline::{offline_key, OfflineCheck};
use crate::subjects::{Named, Subject};
use crate::{code, Global};

/// At most this many `--hash` subjects that are `unknown` are searched as image IDs.
const MAX_HASH_NEAR_MISSES: usize = 16;

/// The registry client: the module's own settings (`NOTARIUM_OCI_*`, docker's config.json),
/// with `--ca-file` (`NOTARIUM_CA_FILE`) trusted for registries too when
/// `NOTARIUM_OCI_CA_BUNDLE` names no bundle of their own.
///
/// # Errors
/// Usage errors for unusable settings.
pub fn registry(g: &Global) -> Result<RegistryClient> {
    let mut options = Options::from_env().map_err(notarium_client::Error::from)?;
    if options.ca_bundle.is_none() {
        options.ca_bundle = g
            .ca_file
            .clone()
            .filter(|p| !p.as_os_str().to_string_lossy().trim().is_empty());
    }
    Ok(RegistryClient::new(options).map_err(notarium_client::Error::from)?)
}

/// Subjects as named, with each image resolved into the manifests it stands for (an index
/// and each of its platform manifests), in order; and where each image's subjects are.
pub struct Expanded {
    /// Every subject.
    pub subjects: Vec<Subject>,
    /// The subjects of each `oci://` reference.
    pub images: Vec<Range<usize>>,
    /// The registry client, when there were images.
    pub registry: Option<RegistryClient>,
}

/// Resolves the images among `named` (the registry client is made only when there is one).
/// `only_top` keeps an index alone, without its platform manifests.
///
/// # Errors
/// The registry's errors, as exit codes say (docs/cli.md).
pub async fn expand(
    g: &Global,
    named: Vec<Named>,
    notarizing: bool,
    only_top: bool,
) -> Result<Expanded> {
    let mut out = Expanded {
        subjects: Vec::with_capacity(named.len()),
        images: Vec::new(),
        registry: None,
    };
    for n in named {
        match n {
            Named::Hashed(s) => out.subjects.push(*s),
            Named::Image(reference) => {
                if out.registry.is_none() {
                    out.registry = Some(registry(g)?);
                }
                let client = out.registry.as_ref().expect("made above");
                let mut found = images::expand(client, &reference, notarizing).await?;
                if only_top {
                    found.truncate(1);
                }
                let start = out.subjects.len();
                out.subjects.extend(found.into_iter().map(|image| Subject {
                    display: image.display(),
                    name: image.subject.name.clone(),
                    kind: "image",
                    sha256: image.sha256(),
                    size: Some(image.subject.size),
                    manifest: None,
                    image: Some(image),
                }));
                out.images.push(start..out.subjects.len());
            }
        }
    }
    Ok(out)
}

/// Pushes the receipt of each notarized image manifest beside it, one after the other, and
/// says so in its row. A push that fails marks its row with the failure's exit code (the
/// entry stays notarized, and its receipt file, if any, written).
pub async fn attach(
    registry: &RegistryClient,
    done: &[(&Subject, &Notarized)],
    rows: &mut [Row],
) -> Result<()> {
    for ((s, n), row) in done.iter().zip(rows) {
        let Some(image) = &s.image else { continue };
        let (json, proof) = receipt_files(&n.receipt)?;
        match registry
            .attach(&image.pinned(), json.as_bytes(), proof.as_bytes())
            .await
        {
            Ok(a) => {
                let info = AttachedInfo::of(&a);
                row.details.push(info.text());
                if let Some(i) = &mut row.image {
                    i.attached = Some(info);
                }
            }
            Err(e) => {
                let e = notarium_client::Error::from(e);
                row.code = notarium_client::exit::for_error(&e);
                row.reason = notarium_client::exit::reason(row.code);
                row.status = "attach failed".into();
                row.details.push(format!(
                    "notarized, but the receipt could not be attached beside the image: {e}"
                ));
            }
        }
    }
    Ok(())
}

/// Adds the near misses of the rows that are `unknown`: an index and its platform manifests
/// against each other, a tag that moved, a local image ID given for a digest (also for
/// `--hash`).
///
/// # Errors
/// A search that does not verify (tampering); network and API errors.
pub async fn near_misses(
    v: &mut Verifier,
    expanded: &Expanded,
    verdicts: &[Verdict],
    rows: &mut [Row],
) -> Result<()> {
    for range in &expanded.images {
        let subjects: Vec<ImageSubject> = expanded.subjects[range.clone()]
            .iter()
            .filter_map(|s| s.image.clone())
            .collect();
        let own: Vec<&Verdict> = verdicts[range.clone()].iter().collect();
        for (i, misses) in images::platform_near_misses(&subjects, &own)
            .into_iter()
            .enumerate()
        {
            for m in misses {
                rows[range.start + i].near_miss(m);
            }
        }
        let top = &subjects[0];
        if own[0].status != Status::Unknown {
            continue;
        }
        let found = if top.served {
            v.tag_moved(&top.reference, &top.sha256()).await?
        } else {
            rows[range.start].details.push(format!(
                "{}: the digest was looked up as given",
                top.not_served
                    .as_deref()
                    .unwrap_or("the registry does not serve it now")
            ));
            v.image_id(&top.sha256()).await?
        };
        if let Some(m) = found {
            rows[range.start].near_miss(m);
        }
    }
    let hashes = expanded
        .subjects
        .iter()
        .zip(verdicts)
        .enumerate()
        .filter(|(_, (s, v))| s.kind == "hash" && v.status == Status::Unknown)
        .take(MAX_HASH_NEAR_MISSES)
        .map(|(i, (s, _))| (i, s.sha256))
        .collect::<Vec<_>>();
    for (i, sha) in hashes {
        if let Some(m) = v.image_id(&sha).await? {
            rows[i].near_miss(m);
        }
    }
    Ok(())
}

/// `--name` and `oci.` attributes are the image's own.
///
/// # Errors
/// A usage error naming the clash.
pub fn check_notarize_flags(
    subjects: &[Subject],
    name: Option<&str>,
    attributes: &std::collections::BTreeMap<String, String>,
    attach: bool,
) -> Result<()> {
    let any_image = subjects.iter().any(|s| s.image.is_some());
    if attach && !any_image {
        return Err(usage(
            "--attach pushes receipts beside container images: name oci:// subjects",
        ));
    }
    if !any_image {
        return Ok(());
    }
    if name.is_some() {
        return Err(usage(
            "--name does not apply to oci:// subjects: an image is notarized under its reference",
        ));
    }
    if let Some(k) = attributes.keys().find(|k| k.starts_with("oci.")) {
        return Err(usage(format!(
            "--attr {k}: attributes starting with oci. are recorded from the registry for oci:// subjects"
        )));
    }
    Ok(())
}

/// `authenticate oci://… --offline` without `--receipt`: the receipts attached beside each
/// manifest an image stands for, verified with the pinned key alone — no Notarium server.
/// Any attached receipt that fails verification is tampering (exit 5); with none of this
/// ledger attached, the manifest is `unknown`; else the latest verified receipt decides, held
/// to the status file of `--status` when one is given.
///
/// # Errors
/// Usage errors for subjects that are not images; the registry's errors; a status file that
/// does not verify.
pub async fn authenticate_attached(g: &Global, a: &AuthenticateArgs) -> Result<u8> {
    let only_images = "--offline verifies a saved receipt (--receipt FILE), or without it the \
                       receipts attached beside oci:// images: name only images";
    if !a.hashes.is_empty() || a.manifest.is_some() || a.subjects.is_empty() {
        return Err(usage(only_images));
    }
    let named = crate::subjects::resolve(&a.subjects, &indicatif::ProgressBar::hidden())
        .map_err(|e| usage(format!("{e:#}")))?;
    if named.iter().any(|n| !matches!(n, Named::Image(_))) {
        return Err(usage(only_images));
    }
    let key = offline_key(g)?;
    let check = OfflineCheck::new(a, None);
    let status_file = check
        .status_path
        .as_deref()
        .map(StatusFile::read)
        .transpose()?;
    let expanded = expand(g, named, false, false).await?;
    let registry = expanded.registry.as_ref().expect("images were named");
    let mut rows = Vec::with_capacity(expanded.subjects.len());
    for s in &expanded.subjects {
        let image = s.image.as_ref().expect("only images");
        let mut info = image.info();
        let mut row = Row {
            subject: s.display.clone(),
            sha256: s.sha256.to_hex(),
            ..Row::default()
        };
        if !image.served {
            set(&mut row, code::UNKNOWN, Status::Unknown.as_str());
            row.details.push(format!(
                "offline: {}: nothing is attached to it",
                image
                    .not_served
                    .as_deref()
                    .unwrap_or("the registry does not serve it now")
            ));
            row.image = Some(info);
            rows.push(row);
            continue;
        }
        let found = registry
            .find_receipts(&image.pinned())
            .await
            .map_err(notarium_client::Error::from)?;
        let looked = match images::via(&found.via) {
            (_, Some(tag)) => format!("the referrers tag {tag}"),
            _ => "the OCI referrers API".to_owned(),
        };
        let verdict = check_attached(&key, &s.sha256, &a.signers, &found.receipts);
        info.receipts.clone_from(&verdict.checks);
        if verdict.failed() {
            set(&mut row, code::TAMPERING, "verification failed");
            for c in verdict.checks.iter().filter(|c| c.outcome == "failed") {
                row.details.push(format!(
                    "offline: the receipt attached as {} fails verification: {}",
                    c.artifact,
                    c.reason.as_deref().unwrap_or_default()
                ));
            }
        } else if let Some(d) = &verdict.deciding {
            let Entry::Artifact(art) = &d.entry else {
                unreachable!("check_attached decides only by artifact entries")
            };
            let proven = status_file
                .as_ref()
                .map(|f| f.verify_offline(&key, &s.sha256, &a.signers, Some(d)))
                .transpose()?;
            let line = format!(
                "offline: {} receipt(s) attached beside the image (found through {looked}); entry {} decides, verified against checkpoint {} of {}",
                verdict.checks.len(),
                d.index.0,
                d.checkpoint.size(),
                key.name()
            );
            row = check.row(s.display.clone(), s.sha256, d, art, proven.as_ref(), line);
        } else {
            set(&mut row, code::UNKNOWN, Status::Unknown.as_str());
            let aside = verdict.checks.len();
            row.details.push(if aside == 0 {
                format!("offline: no receipt is attached beside the image (looked up through {looked})")
            } else {
                format!(
                    "offline: none of the {aside} receipt(s) attached beside the image (found through {looked}) is of this ledger{}",
                    if a.signers.is_empty() { "" } else { " and a signer asked for" }
                )
            });
        }
        row.image = Some(info);
        rows.push(row);
    }
    Ok(output::print(
        &rows,
        g.json(),
        serde_json::json!({ "offline": true }),
    ))
}

fn set(row: &mut Row, c: u8, status: &str) {
    row.status = status.to_owned();
    row.code = c;
    row.reason = code::reason(c);
}
