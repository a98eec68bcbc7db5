//! The commands of docs/cli.md. Each returns the exit code of its outcome; failures are
//! errors whose kind decides the code (see `exit_code` in main.rs).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use notarium_client::api::{attr_filter, parse_attrs, SearchParams};
use notarium_client::exit::usage;
use notarium_client::identity::PolicyArgs;
use notarium_client::status::StatusFile;

use notarium_client::receipts::{parse_receipt, ReceiptDir};
use notarium_client::results::printable;
use notarium_client::Verifier;
use notarium_core::api::{Key, LedgerInfo};
use notarium_core::{ArtifactRequest, ArtifactStatus, Entry, Receipt, Role, Sha256, Status};

use crate::args::{
    AuthenticateArgs, InspectArgs, KeyCmd, LedgerCmd, NotarizeArgs, SearchArgs, VerifyReceiptArgs,
};
use crate::images;
use crate::offline::{offline_key, OfflineCheck};
use crate::subjects::{self, Named, Subject};
use crate::{code, Global};
use notarium_client::images::ImageSubject;
use notarium_client::manifest::Manifest;
use notarium_client::oci::Reference;
use notarium_client::results::{self as output, Row};

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
    let mut named = Vec::new();
    if let Some(h) = &a.hash {
        let name = a.name.clone().ok_or_else(|| usage("--hash needs --name"))?;
        named.push(Named::Hashed(Box::new(Subject::hash(h, name)?)));
    }
    if !a.subjects.is_empty() {
        let pb = progress(0, "hashing");
        named.extend(subjects::resolve(&a.subjects, &pb).map_err(|e| usage(format!("{e:#}")))?);
        pb.finish_and_clear();
    }
    let expanded = images::expand(g, named, true, false).await?;
    let subjects = &expanded.subjects;
    if subjects.is_empty() {
        bail!(usage(
            "nothing to notarize: name files, directories, globs, oci:// images, `-`, or --hash with --name"
        ));
    }
    images::check_notarize_flags(subjects, a.name.as_deref(), &attributes, a.attach)?;
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
            if let Some(i) = &s.image {
                attrs.extend(i.subject.attributes.clone());
            }
            let kind = match (&s.image, s.kind) {
                (Some(i), _) => i.subject.kind,
                (None, "dir") => "dir",
                _ => "file",
            };
            ArtifactRequest {
                sha256: s.sha256,
                name: if s.kind != "hash" {
                    a.name.clone().unwrap_or_else(|| s.name.clone())
                } else {
                    s.name.clone()
                },
                size: s.size,
                kind: Some(a.kind.clone().unwrap_or_else(|| kind.to_owned())),
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
    for ((req, n), s) in requests.iter().zip(&notarized).zip(subjects) {
        let mut row = Row::of_notarized(&s.display, n, status);
        row.image = s.image.as_ref().map(ImageSubject::info);
        if let Some(dir) = &mut receipts {
            let manifest = s.manifest.as_ref().map(Manifest::text);
            let name = s
                .image
                .as_ref()
                .map_or_else(|| req.name.clone(), ImageSubject::receipt_name);
            let written = dir.write(&name, &n.receipt, manifest.as_deref())?;
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
    if let (true, Some(registry)) = (a.attach, &expanded.registry) {
        let done: Vec<_> = subjects.iter().zip(&notarized).collect();
        images::attach(registry, &done, &mut rows).await?;
    }
    let cp = v
        .latest()
        .map(|c| serde_json::json!({ "size": c.size().0, "root": c.root().to_base64() }));
    Ok(output::print(
        &rows,
        g.json(),
        serde_json::json!({ "checkpoint": cp }),
    ))
}

pub async fn authenticate(g: &Global, a: AuthenticateArgs) -> Result<u8> {
    if a.offline && a.receipt.is_none() {
        return images::authenticate_attached(g, &a).await;
    }
    if a.offline {
        return authenticate_offline(g, &a, true).await;
    }
    if a.receipt.is_some() {
        bail!(usage("--receipt verifies offline: add --offline"));
    }
    let mut named = Vec::new();
    for h in &a.hashes {
        named.push(Named::Hashed(Box::new(Subject::hash(h, h.clone())?)));
    }
    if !a.subjects.is_empty() {
        let pb = progress(0, "hashing");
        named.extend(subjects::resolve(&a.subjects, &pb).map_err(|e| usage(format!("{e:#}")))?);
        pb.finish_and_clear();
    }
    let expanded = images::expand(g, named, false, false).await?;
    let subjects = &expanded.subjects;
    if subjects.is_empty() {
        bail!(usage(
            "nothing to authenticate: name files, directories, globs, oci:// images, `-`, or --hash"
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
        row.image = s.image.as_ref().map(ImageSubject::info);
        if let (Some(now), Some(path)) = (&s.manifest, &a.manifest) {
            if verdict.status != Status::Trusted {
                row.details = manifest_diff(&mut v, now, path, &a.signers).await?;
            }
        }
        rows.push(row);
    }
    images::near_misses(&mut v, &expanded, &verdicts, &mut rows).await?;
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
    parse_receipt(&text).map_err(|e| {
        anyhow::Error::from(match e {
            notarium_client::Error::Usage(m) => {
                notarium_client::Error::Usage(format!("{} is {m}", path.display()))
            }
            notarium_client::Error::Tampering(m) => {
                notarium_client::Error::Tampering(format!("{}: {m}", path.display()))
            }
            other => other,
        })
    })
}

/// Verifies `a.receipt` offline, with the status proof of `--status`, or (when `beside`) the
/// one saved next to the receipt.
async fn authenticate_offline(g: &Global, a: &AuthenticateArgs, beside: bool) -> Result<u8> {
    let key = offline_key(g)?;
    let path = a.receipt.as_ref().expect("checked by authenticate");
    let r = read_receipt(path)?;
    let v = r
        .verify(&key)
        .map_err(|e| notarium_client::Error::Tampering(format!("{}: {e}", path.display())))?;
    let Entry::Artifact(art) = &v.entry else {
        bail!(notarium_client::Error::Tampering(
            "the receipt is not for an artifact".into()
        ));
    };
    let check = OfflineCheck::new(a, Some(path.as_path()).filter(|_| beside));
    let status_file = check
        .status_path
        .as_deref()
        .map(StatusFile::read)
        .transpose()?;
    // What the status proof says about the receipt's artifact, verified once.
    let proven = status_file
        .as_ref()
        .map(|f| f.verify_offline(&key, &art.sha256, &a.signers, Some(&v)))
        .transpose()?;
    let mut named = Vec::new();
    for h in &a.hashes {
        named.push(Named::Hashed(Box::new(Subject::hash(h, h.clone())?)));
    }
    if !a.subjects.is_empty() {
        named.extend(
            subjects::resolve(&a.subjects, &ProgressBar::hidden())
                .map_err(|e| usage(format!("{e:#}")))?,
        );
    }
    // An image is held to the one receipt as the manifest its reference names.
    let mut subjects: Vec<(String, Sha256)> = images::expand(g, named, false, true)
        .await?
        .subjects
        .into_iter()
        .map(|s| (s.display, s.sha256))
        .collect();
    if subjects.is_empty() {
        subjects.push((path.display().to_string(), art.sha256));
    }
    let receipt_line = format!(
        "offline: receipt verified against checkpoint {} of {}",
        v.checkpoint.size(),
        key.name()
    );
    let mut rows = Vec::new();
    for (display, sha) in subjects {
        if sha != art.sha256 {
            // The receipt itself is sound, but it is not this file's: say only what failed.
            let mut row = check.row(display, sha, &v, art, None, String::new());
            row.status = "verification failed".to_owned();
            row.signer_policy = None;
            row.code = code::TAMPERING;
            row.reason = code::reason(code::TAMPERING);
            row.details = vec![format!(
                "offline: {} is the receipt of {:?} with SHA-256 {}, not of this file",
                path.display(),
                art.name,
                art.sha256
            )];
            rows.push(row);
            continue;
        }
        rows.push(check.row(display, sha, &v, art, proven.as_ref(), receipt_line.clone()));
    }
    Ok(output::print(
        &rows,
        g.json(),
        serde_json::json!({ "offline": true }),
    ))
}

pub async fn verify_receipt(g: &Global, a: VerifyReceiptArgs) -> Result<u8> {
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
    // A receipt's own validity: a status file next to it is not consulted.
    let c = authenticate_offline(g, &auth, false).await?;
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
    if let Some(r) = a.file.as_deref().filter(|f| Reference::is_subject(f)) {
        if a.hash.is_some() {
            bail!(usage("give an image or --hash, not both"));
        }
        let reference = Reference::parse_subject(r).map_err(notarium_client::Error::from)?;
        return inspect_image(g, reference).await;
    }
    let (_, sha) = subject_hash(a.file.as_ref(), a.hash.as_ref())?;
    let mut v = verifier(g).await?;
    let found = v.history(&sha).await?;
    v.commit()?;
    let rows: Vec<Row> = found.iter().map(Row::of_found).collect();
    output::print(&rows, g.json(), serde_json::json!({ "sha256": sha }));
    Ok(code::OK)
}

/// Every entry of each manifest an image stands for (an index, then each platform).
async fn inspect_image(g: &Global, reference: Reference) -> Result<u8> {
    let subjects = images::expand(g, vec![Named::Image(reference)], false, false)
        .await?
        .subjects;
    let mut v = verifier(g).await?;
    let mut rows = Vec::new();
    let mut manifests = Vec::new();
    for s in &subjects {
        let info = s.image.as_ref().map(ImageSubject::info);
        for f in v.history(&s.sha256).await? {
            let mut row = Row::of_found(&f);
            row.image = info.clone();
            rows.push(row);
        }
        manifests.extend(info);
    }
    v.commit()?;
    output::print(
        &rows,
        g.json(),
        serde_json::json!({ "sha256": subjects.first().map(|s| s.sha256), "manifests": manifests }),
    );
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
