//! The release as the plugins' users get it: `scripts/release` builds the Linux archives,
//! `SHA256SUMS` and `manifest.json` once per test process ([`release`]); [`ReleaseServer`]
//! serves them over HTTP on 127.0.0.1 as the project's release page would (and, under another
//! path, a tampered copy whose `notarium` must never run); [`pinned_plugins`] writes the
//! release's checksums into a copy of `plugins/` with `scripts/pin`.
//!
//! The build is slow (a release build of three binaries against glibc 2.17), so it happens
//! in one fixed directory, `target/ship/release`, under a lock file that the test process
//! holds until it exits: test binaries run one after another and each runs `scripts/release`
//! again, which finds cargo's build up to date and only packages (a few seconds); two test
//! processes at once wait for each other instead of rewriting files under each other's feet.
//!
//! Out of scope: platforms this machine does not build (`.github/workflows/release.yml`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use tempfile::TempDir;

use crate::ci_plugins::{copy_dir, require_tool, sha256_file, workspace_root};

/// One built release: its directory and manifest.
#[derive(Debug)]
pub struct Release {
    dir: PathBuf,
    manifest: Value,
    /// How long `scripts/release` took in this process.
    pub build_seconds: f64,
}

/// The process-wide release, built (or found up to date) by the first caller.
static RELEASE: OnceLock<Release> = OnceLock::new();
/// The lock file, held until the process exits.
static LOCK: OnceLock<File> = OnceLock::new();

/// `target/ship`, beside the workspace's debug binaries.
fn ship_dir() -> PathBuf {
    crate::bin_dir()
        .parent()
        .expect("the binaries' directory has a parent")
        .join("ship")
}

/// The release, built with `scripts/release` on first use in this process. `None` (the test
/// is skipped) when cargo-zigbuild is missing outside CI.
///
/// # Panics
/// When `scripts/release` fails, or cargo-zigbuild is missing and `CI` is set.
pub fn release() -> Option<&'static Release> {
    require_tool("cargo-zigbuild", "release")?;
    Some(RELEASE.get_or_init(|| {
        let ship = ship_dir();
        std::fs::create_dir_all(&ship).expect("target/ship");
        let lock = File::create(ship.join("release.lock")).expect("the lock file");
        lock.lock().expect("lock target/ship/release.lock");
        let _ = LOCK.set(lock);
        let dir = ship.join("release");
        let started = Instant::now();
        let out = Command::new(workspace_root().join("scripts/release"))
            .arg(&dir)
            .current_dir(workspace_root())
            .output()
            .expect("scripts/release runs (python3)");
        assert!(
            out.status.success(),
            "scripts/release failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let build_seconds = started.elapsed().as_secs_f64();
        eprintln!("scripts/release took {build_seconds:.1} s");
        let manifest = serde_json::from_str(
            &std::fs::read_to_string(dir.join("manifest.json")).expect("manifest.json"),
        )
        .expect("manifest.json is JSON");
        Release {
            dir,
            manifest,
            build_seconds,
        }
    }))
}

impl Release {
    /// The directory `scripts/release` wrote.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `manifest.json`.
    pub fn manifest(&self) -> &Value {
        &self.manifest
    }

    /// The release's version.
    pub fn version(&self) -> &str {
        self.manifest["version"].as_str().expect("a version")
    }

    /// The manifest entries, by file name.
    pub fn files(&self) -> BTreeMap<String, Value> {
        self.manifest["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| (f["file"].as_str().expect("file").to_owned(), f.clone()))
            .collect()
    }

    /// The file name of the CLI archive for `platform` (e.g. `x86_64-linux`).
    pub fn cli_archive(&self, platform: &str) -> String {
        format!("notarium-{}-{platform}.tar.gz", self.version())
    }

    /// Unpacks archive `file` into a new temporary directory.
    ///
    /// # Panics
    /// When tar fails.
    pub fn unpack(&self, file: &str) -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix("notarium-release-unpacked-")
            .tempdir()
            .expect("temporary directory");
        let st = Command::new("tar")
            .arg("-xzf")
            .arg(self.dir.join(file))
            .arg("-C")
            .arg(dir.path())
            .status()
            .expect("tar runs");
        assert!(st.success(), "tar -xzf {file} failed");
        dir
    }
}

/// The platform of this machine as the release names it.
pub fn host_platform() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "aarch64-linux",
        _ => "x86_64-linux",
    }
}

/// A copy of `plugins/` with the release's checksums written in by `scripts/pin`; the
/// returned directory holds `plugins/…` as a checkout does.
///
/// # Panics
/// When copying or `scripts/pin` fails.
pub fn pinned_plugins(release: &Release) -> TempDir {
    let root = tempfile::Builder::new()
        .prefix("notarium-pinned-")
        .tempdir()
        .expect("temporary directory");
    copy_dir(
        &workspace_root().join("plugins"),
        &root.path().join("plugins"),
    );
    let out = Command::new(workspace_root().join("scripts/pin"))
        .arg(release.dir())
        .arg("--root")
        .arg(root.path())
        .output()
        .expect("scripts/pin runs (python3)");
    assert!(
        out.status.success(),
        "scripts/pin failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    root
}

/// What the release server holds and counts.
struct Served {
    release: PathBuf,
    version: String,
    tampered: TempDir,
    hits: Mutex<Vec<String>>,
    tampered_hits: AtomicUsize,
}

/// An HTTP server on 127.0.0.1 that plays the project's release page:
/// `/releases/download/vVERSION/FILE` serves the release's files, and
/// `/tampered/vVERSION/FILE` the same files except the CLI archives, which hold a `notarium`
/// that leaves a mark when it runs (see [`ReleaseServer::tampered_ran`]).
pub struct ReleaseServer {
    url: String,
    served: Arc<Served>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ReleaseServer {
    /// Serves `release`.
    ///
    /// # Panics
    /// When the tampered archives cannot be made or the server cannot start.
    pub fn start(release: &Release) -> ReleaseServer {
        let tampered = tempfile::Builder::new()
            .prefix("notarium-tampered-release-")
            .tempdir()
            .expect("temporary directory");
        let mark = tampered.path().join("tampered-notarium-ran");
        for (file, entry) in release.files() {
            if entry["kind"] != "cli" || !file.ends_with(".tar.gz") {
                continue;
            }
            // A well-formed archive of the same name and layout whose notarium is not ours.
            let stem = file.trim_end_matches(".tar.gz");
            let inner = tampered.path().join("build").join(stem);
            std::fs::create_dir_all(&inner).expect("tampered archive directory");
            let script = inner.join("notarium");
            let mut f = File::create(&script).expect("tampered notarium");
            writeln!(
                f,
                "#!/bin/sh\necho ran >> '{}'\necho '{{\"exit_code\":0,\"results\":[]}}'\nexit 0",
                mark.display()
            )
            .expect("write the tampered notarium");
            drop(f);
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
            let st = Command::new("tar")
                .arg("-czf")
                .arg(tampered.path().join(&file))
                .arg("-C")
                .arg(tampered.path().join("build"))
                .arg(stem)
                .status()
                .expect("tar runs");
            assert!(st.success(), "tar -czf {file}");
        }
        let served = Arc::new(Served {
            release: release.dir().to_owned(),
            version: release.version().to_owned(),
            tampered,
            hits: Mutex::new(Vec::new()),
            tampered_hits: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/releases/download/{tag}/{file}", get(genuine))
            .route("/tampered/{tag}/{file}", get(tampered_file))
            .with_state(served.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("the release server runs");
            });
        });
        ReleaseServer {
            url,
            served,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The base URL of the genuine release: `…/releases/download/vVERSION`.
    pub fn base_url(&self) -> String {
        format!("{}/releases/download/v{}", self.url, self.served.version)
    }

    /// The base URL of a mirror that serves a tampered CLI archive.
    pub fn tampered_base_url(&self) -> String {
        format!("{}/tampered/v{}", self.url, self.served.version)
    }

    /// The files downloaded from the genuine release so far.
    pub fn downloads(&self) -> Vec<String> {
        self.served.hits.lock().expect("hits").clone()
    }

    /// How many times the tampered mirror was asked for a file.
    pub fn tampered_downloads(&self) -> usize {
        self.served.tampered_hits.load(Ordering::SeqCst)
    }

    /// Whether a tampered `notarium` ever ran.
    pub fn tampered_ran(&self) -> bool {
        self.served
            .tampered
            .path()
            .join("tampered-notarium-ran")
            .exists()
    }
}

impl Drop for ReleaseServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn checked_name(served: &Served, tag: &str, file: &str) -> Option<String> {
    let ok = tag == format!("v{}", served.version)
        && !file.is_empty()
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !file.starts_with('.');
    ok.then(|| file.to_owned())
}

async fn genuine(
    State(s): State<Arc<Served>>,
    UrlPath((tag, file)): UrlPath<(String, String)>,
) -> Response {
    let Some(name) = checked_name(&s, &tag, &file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match std::fs::read(s.release.join(&name)) {
        Ok(bytes) => {
            s.hits.lock().expect("hits").push(name);
            bytes.into_response()
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn tampered_file(
    State(s): State<Arc<Served>>,
    UrlPath((tag, file)): UrlPath<(String, String)>,
) -> Response {
    let Some(name) = checked_name(&s, &tag, &file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    s.tampered_hits.fetch_add(1, Ordering::SeqCst);
    let path = s.tampered.path().join(&name);
    let path = if path.is_file() {
        path
    } else {
        s.release.join(&name)
    };
    match std::fs::read(path) {
        Ok(bytes) => bytes.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The SHA-256 of every file the release lists, recomputed.
pub fn recomputed_sums(release: &Release) -> BTreeMap<String, String> {
    release
        .files()
        .keys()
        .map(|f| (f.clone(), sha256_file(&release.dir().join(f))))
        .collect()
}
