//! What the user names on the command line, turned into hashed artifacts: files, directories
//! (recursively), globs, `-` (paths on stdin), and `dir://PATH` (a directory as one artifact,
//! identified by the hash of its manifest). `oci://` references (on the command line or on
//! stdin) are parsed here and resolved by `images.rs`.

use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use notarium_client::images::ImageSubject;
use notarium_client::manifest::Manifest;
use notarium_client::oci::Reference;
use notarium_core::Sha256;
use sha2::Digest;

/// One thing to notarize or authenticate.
#[derive(Clone, Debug)]
pub struct Subject {
    /// What the user wrote, or the path found for it.
    pub display: String,
    /// The artifact name recorded when notarizing.
    pub name: String,
    /// `file`, `dir`, `hash` or `image`.
    pub kind: &'static str,
    /// Its SHA-256.
    pub sha256: Sha256,
    /// Its size in bytes (files and image manifests).
    pub size: Option<u64>,
    /// For `dir://`: the manifest text and the per-file hashes.
    pub manifest: Option<Manifest>,
    /// For `oci://`: the manifest it stands for.
    pub image: Option<ImageSubject>,
}

impl Subject {
    /// A `--hash` given on the command line, recorded (when notarizing) under `name`.
    ///
    /// # Errors
    /// A usage error for a hash that is not 64 hex digits.
    pub fn hash(hash: &str, name: String) -> Result<Subject> {
        let sha256 = Sha256::parse(hash).map_err(|_| {
            notarium_client::exit::usage(format!("--hash {hash:?} is not 64 hex characters"))
        })?;
        Ok(Subject {
            display: hash.to_owned(),
            name,
            kind: "hash",
            sha256,
            size: None,
            manifest: None,
            image: None,
        })
    }
}

/// A subject as named: hashed here, or an image to resolve in its registry.
#[derive(Clone, Debug)]
pub enum Named {
    /// A file, a directory, or a `--hash`.
    Hashed(Box<Subject>),
    /// An `oci://` reference.
    Image(Reference),
}

enum Pending {
    File { path: PathBuf, display: String },
    Dir { path: PathBuf, display: String },
    Image(Reference),
}

fn display_path(p: &Path) -> String {
    let s = p.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_owned()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading directory {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading directory {}", dir.display()))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let ft = e.file_type()?;
        if ft.is_dir() {
            walk(&e.path(), out)?;
        } else if ft.is_file() || (ft.is_symlink() && e.path().is_file()) {
            out.push(e.path());
        }
    }
    Ok(())
}

/// Expands the command line into the files and directories to hash. Errors are usage errors.
fn expand(args: &[String]) -> Result<Vec<Pending>> {
    let mut out = Vec::new();
    for arg in args {
        if arg == "-" {
            for line in std::io::stdin().lock().lines() {
                let line = line.context("reading paths from stdin")?;
                let line = line.trim();
                if !line.is_empty() {
                    out.extend(expand(&[line.to_owned()])?);
                }
            }
        } else if Reference::is_subject(arg) {
            out.push(Pending::Image(Reference::parse_subject(arg)?));
        } else if let Some(d) = arg.strip_prefix("dir://") {
            let path = PathBuf::from(d);
            if !path.is_dir() {
                bail!("{arg}: not a directory");
            }
            out.push(Pending::Dir {
                path,
                display: arg.clone(),
            });
        } else {
            let path = PathBuf::from(arg);
            if path.is_file() {
                out.push(Pending::File {
                    display: display_path(&path),
                    path,
                });
            } else if path.is_dir() {
                let mut files = Vec::new();
                walk(&path, &mut files)?;
                out.extend(files.into_iter().map(|p| Pending::File {
                    display: display_path(&p),
                    path: p,
                }));
            } else {
                let matches: Vec<PathBuf> = glob::glob(arg)
                    .with_context(|| format!("{arg}: no such file, and not a valid glob"))?
                    .filter_map(Result::ok)
                    .filter(|p| p.is_file())
                    .collect();
                if matches.is_empty() {
                    bail!("{arg}: no such file or directory, and no file matches it as a glob");
                }
                out.extend(matches.into_iter().map(|p| Pending::File {
                    display: display_path(&p),
                    path: p,
                }));
            }
        }
    }
    Ok(out)
}

/// Streams a file through SHA-256 in 1 MiB chunks: constant memory for any size.
pub fn hash_file(path: &Path) -> Result<(Sha256, u64)> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((Sha256(h.finalize().into()), n))
}

/// A file's digest and size, once hashed.
type Hashed = Result<(Sha256, u64)>;

/// Hashes every file across all cores, keeping the input order.
fn hash_all(paths: &[PathBuf], progress: &ProgressBar) -> Result<Vec<(Sha256, u64)>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Hashed>>> = Mutex::new((0..paths.len()).map(|_| None).collect());
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(paths.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = paths.get(i) else { break };
                let r = hash_file(p);
                results.lock().expect("no poisoning")[i] = Some(r);
                progress.inc(1);
            });
        }
    });
    results
        .into_inner()
        .expect("no poisoning")
        .into_iter()
        .map(|r| r.expect("every file hashed"))
        .collect()
}

/// Expands and hashes the subjects, in the order named; images are left to resolve.
pub fn resolve(args: &[String], progress: &ProgressBar) -> Result<Vec<Named>> {
    let pending = expand(args)?;
    let mut files = Vec::new();
    for p in &pending {
        match p {
            Pending::File { path, .. } => files.push(path.clone()),
            Pending::Dir { path, .. } => walk(path, &mut files)?,
            Pending::Image(_) => {}
        }
    }
    progress.set_length(files.len() as u64);
    let hashes = hash_all(&files, progress)?;
    let mut by_path: BTreeMap<&Path, (Sha256, u64)> = BTreeMap::new();
    for (p, h) in files.iter().zip(hashes) {
        by_path.insert(p.as_path(), h);
    }
    let mut out = Vec::with_capacity(pending.len());
    for p in pending {
        match p {
            Pending::Image(r) => out.push(Named::Image(r)),
            Pending::File { path, display } => {
                let (sha256, size) = by_path[path.as_path()];
                out.push(Named::Hashed(Box::new(Subject {
                    name: display.clone(),
                    display,
                    kind: "file",
                    sha256,
                    size: Some(size),
                    manifest: None,
                    image: None,
                })));
            }
            Pending::Dir { path, display } => {
                let mut inner = Vec::new();
                walk(&path, &mut inner)?;
                let manifest = Manifest::of_dir(
                    &path,
                    inner.iter().map(|f| (f.clone(), by_path[f.as_path()].0)),
                )?;
                let name = path
                    .canonicalize()
                    .ok()
                    .and_then(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_else(|| display.clone());
                out.push(Named::Hashed(Box::new(Subject {
                    display,
                    name,
                    kind: "dir",
                    sha256: Sha256::of(manifest.text().as_bytes()),
                    size: None,
                    manifest: Some(manifest),
                    image: None,
                })));
            }
        }
    }
    Ok(out)
}
