//! Helpers for the GitHub plugin's end-to-end tests (`tests/github_action.rs`,
//! `tests/notarium_github.rs`): finding outside tools ([`tool`]), a throwaway git repository
//! that holds the composite action and the test workflow and runs it with act in host mode
//! ([`ActRepo`]), the `notarium-github` binary ([`notarium_github`]), and a local HTTP server
//! that speaks the few GitHub REST endpoints `notarium-github` uses ([`MockGitHub`]).
//!
//! Out of scope: github.com. Nothing here reaches it; the action's steps that would need it
//! (actions/cache, actions/upload-artifact) are switched off by the workflow's inputs and
//! mapped by act to stand-ins that fail if they ever run ([`ActRepo::new`]).

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::{binary, Run};

/// How long one act run may take before the test gives up on it.
pub const ACT_DEADLINE: Duration = Duration::from_secs(300);

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// The directory of the composite action and the `notarium-github` crate.
pub fn action_dir() -> PathBuf {
    workspace_root().join("plugins").join("github-action")
}

/// The GitHub fixtures (`tests/fixtures/github`).
pub fn fixtures_dir() -> PathBuf {
    workspace_root()
        .join("tests")
        .join("fixtures")
        .join("github")
}

/// Finds an executable on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// An outside tool the test needs. When it is missing: with `CI` set the test fails (CI must
/// have run `.ci/install-github.sh`); on a developer's machine it says loudly that it skips
/// and the caller returns. Never a stand-in for the tool.
///
/// # Panics
/// When the tool is missing and `CI` is set.
pub fn tool(name: &str) -> Option<PathBuf> {
    if let Some(p) = which(name) {
        return Some(p);
    }
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{name} is not installed but CI is set: .ci/install-github.sh must install it");
    }
    eprintln!("SKIPPED: {name} not installed (run .ci/install-github.sh)");
    None
}

/// `PATH` with `dir` first.
pub fn path_with(dir: &Path) -> OsString {
    let mut dirs = vec![dir.to_path_buf()];
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(dirs).expect("PATH entries join")
}

/// `PATH` without any directory that holds an executable `name`.
pub fn path_without(name: &str) -> OsString {
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    std::env::join_paths(dirs.into_iter().filter(|d| !is_executable(&d.join(name))))
        .expect("PATH entries join")
}

/// Runs a command to completion with a deadline, stdout and stderr in one log.
///
/// # Panics
/// When it cannot start, or outlives `deadline` (it is killed then).
fn run_logged(mut cmd: Command, log_path: &Path, deadline: Duration) -> (Option<i32>, String) {
    let log = std::fs::File::create(log_path).expect("log file");
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file handle"))
        .stderr(log);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?} starts: {e}"));
    let end = Instant::now() + deadline;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for the child") {
            break s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} ran longer than {deadline:?}; log:\n{}",
                std::fs::read_to_string(log_path).unwrap_or_default()
            );
        }
        // A deadline, not synchronisation: the child's exit is what ends the loop.
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code(),
        std::fs::read_to_string(log_path).unwrap_or_default(),
    )
}

/// Runs `git ARGS` in `dir`.
///
/// # Panics
/// When git fails.
fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=notarium-e2e",
            "-c",
            "user.email=e2e@notarium.invalid",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The remote actions (`owner/repo[/path]@ref`) that `action.yml` uses.
fn remote_uses(action_yml: &str) -> Vec<(String, String, String)> {
    action_yml
        .lines()
        .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("uses:"))
        .map(|u| u.split('#').next().unwrap_or_default().trim().to_owned())
        .filter(|u| !u.starts_with("./") && u.contains('@'))
        .map(|u| {
            let (name, git_ref) = u.split_once('@').expect("checked above");
            let mut parts = name.splitn(3, '/');
            let owner = parts.next().unwrap_or_default();
            let repo = parts.next().unwrap_or_default();
            let sub = parts.next().unwrap_or_default();
            (
                format!("{owner}/{repo}"),
                git_ref.to_owned(),
                sub.to_owned(),
            )
        })
        .collect()
}

/// A temporary git repository holding the composite action at `plugins/github-action` and the
/// test workflow at `.github/workflows/`, as a repository that uses the action would, plus
/// the act cache and the stand-ins for the remote actions the action references.
pub struct ActRepo {
    root: TempDir,
    local_repositories: Vec<String>,
}

/// The test workflow's file name under `.github/workflows/`.
pub const WORKFLOW: &str = "notarium-e2e.yml";

impl Default for ActRepo {
    fn default() -> Self {
        ActRepo::new()
    }
}

impl ActRepo {
    /// Creates the repository and commits it.
    ///
    /// Every remote action in `action.yml` (actions/cache, actions/upload-artifact) is mapped
    /// with act's `--local-repository` to a stand-in that fails if it runs: act reads the
    /// definitions of a composite's steps even when their `if:` is false, and github.com is
    /// not reachable, so without the mapping act would try to clone them.
    ///
    /// # Panics
    /// When the files cannot be copied or git fails.
    pub fn new() -> ActRepo {
        ActRepo::with_action(&action_dir())
    }

    /// As [`ActRepo::new`], with the action's files taken from `action` (e.g. a copy whose
    /// pins `scripts/pin` wrote).
    ///
    /// # Panics
    /// When the files cannot be copied or git fails.
    pub fn with_action(source: &Path) -> ActRepo {
        let root = tempfile::Builder::new()
            .prefix("notarium-e2e-act-")
            .tempdir()
            .expect("temporary directory");
        let repo = root.path().join("repo");
        let action = repo.join("plugins").join("github-action");
        let workflows = repo.join(".github").join("workflows");
        std::fs::create_dir_all(&action).expect("action directory");
        std::fs::create_dir_all(&workflows).expect("workflows directory");
        for f in ["action.yml", "notarium-action.sh", "README.md"] {
            std::fs::copy(source.join(f), action.join(f))
                .unwrap_or_else(|e| panic!("copying {f}: {e}"));
        }
        std::fs::copy(
            fixtures_dir().join("workflows").join(WORKFLOW),
            workflows.join(WORKFLOW),
        )
        .expect("copying the workflow");
        git(&repo, &["init", "-q"]);
        git(&repo, &["add", "-A"]);
        git(
            &repo,
            &["commit", "-q", "-m", "the action and its test workflow"],
        );

        let action_yml =
            std::fs::read_to_string(action.join("action.yml")).expect("action.yml is readable");
        let mut local_repositories = Vec::new();
        for (name, git_ref, sub) in remote_uses(&action_yml) {
            let stub_root = root.path().join("stand-ins").join(name.replace('/', "-"));
            let dir = stub_root.join(&sub);
            std::fs::create_dir_all(&dir).expect("stand-in directory");
            std::fs::write(
                dir.join("action.yml"),
                format!(
                    "name: stand-in for {name}/{sub}\n\
                     description: github.com is not reachable in the tests\n\
                     runs:\n  using: composite\n  steps:\n    - shell: bash\n      run: |\n        \
                     echo '::error::stand-in for {name}/{sub} ran, the test workflow must switch it off'\n        \
                     exit 1\n"
                ),
            )
            .expect("stand-in action.yml");
            local_repositories.push(format!("{name}@{git_ref}={}", stub_root.display()));
        }
        ActRepo {
            root,
            local_repositories,
        }
    }

    /// The repository's path.
    pub fn repo(&self) -> PathBuf {
        self.root.path().join("repo")
    }

    /// A new directory under the repository's temporary root.
    pub fn dir(&self, name: &str) -> PathBuf {
        let d = self.root.path().join(name);
        std::fs::create_dir_all(&d).expect("create directory");
        d
    }

    /// Runs `act push -j JOB` in host mode with `env` (each `--env K=V`), the secret
    /// `NOTARIUM_API_KEY` (from a file, never on act's command line) and `path` as `PATH`.
    ///
    /// # Panics
    /// When act cannot start or outlives [`ACT_DEADLINE`].
    pub fn run(
        &self,
        act: &Path,
        job: &str,
        env: &[(&str, String)],
        api_key: &str,
        path: &OsStr,
    ) -> ActRun {
        let secrets = self.root.path().join("secrets");
        std::fs::File::create(&secrets)
            .and_then(|mut f| writeln!(f, "NOTARIUM_API_KEY={api_key}"))
            .expect("secret file");
        let mut cmd = Command::new(act);
        cmd.current_dir(self.repo())
            .args(["push", "-j", job])
            .args(["-W", &format!(".github/workflows/{WORKFLOW}")])
            .args(["-P", "ubuntu-latest=-self-hosted"])
            .arg("--no-cache-server")
            .arg("--action-offline-mode")
            .arg("--action-cache-path")
            .arg(self.dir("act-cache"))
            .arg("--secret-file")
            .arg(&secrets)
            .arg("--env-file")
            .arg(self.root.path().join("no-env-file"));
        for l in &self.local_repositories {
            cmd.arg("--local-repository").arg(l);
        }
        for (k, v) in env {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
        for (k, _) in std::env::vars_os() {
            let name = k.to_string_lossy();
            if name.starts_with("NOTARIUM_")
                || name.starts_with("GITHUB_")
                || name.starts_with("RUNNER_")
                || name.starts_with("ACT")
                || name.to_ascii_lowercase().ends_with("_proxy")
                || name == "CI"
            {
                cmd.env_remove(&k);
            }
        }
        cmd.env("PATH", path).env("ACT_DISABLE_VERSION_CHECK", "1");
        let log = self.root.path().join(format!("act-{job}.log"));
        let (code, log) = run_logged(cmd, &log, ACT_DEADLINE);
        // act reports an action.yml it cannot parse and carries on; the tests must not.
        assert!(
            !log.contains("yaml: "),
            "act could not parse a workflow or action:\n{log}"
        );
        ActRun {
            job: job.to_owned(),
            code,
            log,
        }
    }
}

/// The outcome of one act run.
#[derive(Debug)]
pub struct ActRun {
    /// The job asked for.
    pub job: String,
    /// act's exit code (non-zero when a job failed).
    pub code: Option<i32>,
    /// act's output.
    pub log: String,
}

impl std::fmt::Display for ActRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "act -j {} exited {:?}\n--- log\n{}",
            self.job, self.code, self.log
        )
    }
}

impl ActRun {
    /// Asserts that every job succeeded.
    pub fn expect_success(&self) -> &ActRun {
        assert_eq!(self.code, Some(0), "the workflow failed: {self}");
        self
    }

    /// Asserts that a job failed.
    pub fn expect_failure(&self) -> &ActRun {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "the workflow did not fail: {self}"
        );
        self
    }

    /// Asserts that the log contains `needle`.
    pub fn expect_log(&self, needle: &str) -> &ActRun {
        assert!(
            self.log.contains(needle),
            "the log lacks {needle:?}: {self}"
        );
        self
    }

    /// How many times `needle` occurs in the log.
    pub fn count(&self, needle: &str) -> usize {
        self.log.matches(needle).count()
    }
}

/// The outputs of the action as the test workflow's last step recorded them for `job` under
/// `out` (`status`, `exit-code`, `receipts`, `json`).
#[derive(Debug)]
pub struct Outputs {
    /// The worst status word.
    pub status: String,
    /// The CLI's exit code, as text.
    pub exit_code: String,
    /// The receipts directory, or empty.
    pub receipts: String,
    /// The CLI's JSON document, as text (empty when notarium did not run).
    pub json: String,
}

impl Outputs {
    /// Reads what the workflow recorded for `job`.
    ///
    /// # Panics
    /// When the job recorded nothing.
    pub fn read(out: &Path, job: &str) -> Outputs {
        let read = |f: &str| {
            std::fs::read_to_string(out.join(job).join(f))
                .unwrap_or_else(|e| panic!("job {job} recorded no {f}: {e}"))
        };
        Outputs {
            status: read("status"),
            exit_code: read("exit-code"),
            receipts: read("receipts"),
            json: read("json"),
        }
    }

    /// The JSON document.
    ///
    /// # Panics
    /// When it is not JSON.
    pub fn doc(&self) -> Value {
        serde_json::from_str(&self.json)
            .unwrap_or_else(|e| panic!("the json output is not JSON ({e}): {}", self.json))
    }

    /// `results[]` as (subject, status) pairs.
    pub fn statuses(&self) -> Vec<(String, String)> {
        self.doc()["results"]
            .as_array()
            .unwrap_or_else(|| panic!("no results: {}", self.json))
            .iter()
            .map(|r| {
                (
                    r["subject"].as_str().unwrap_or_default().to_owned(),
                    r["status"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

/// Runs `notarium-github ARGS…` with a clean environment plus `env`, and `stdin` as input.
///
/// # Panics
/// When the binary is missing or dies of a signal.
pub fn notarium_github(args: &[&str], env: &[(&str, String)], stdin: &[u8]) -> Run {
    let mut cmd = Command::new(binary("notarium-github"));
    for (k, _) in std::env::vars_os() {
        let name = k.to_string_lossy();
        if name.starts_with("NOTARIUM_")
            || name.starts_with("GITHUB_")
            || name.starts_with("ACTIONS_")
            || name.to_ascii_lowercase().ends_with("_proxy")
            || name == "CI"
        {
            cmd.env_remove(&k);
        }
    }
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("notarium-github starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("notarium-github runs");
    let run = Run {
        args: std::iter::once("(notarium-github)".to_owned())
            .chain(args.iter().map(|a| (*a).to_owned()))
            .collect(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        run.code.is_some(),
        "notarium-github died of a signal: {run}"
    );
    run
}

/// A release asset the mock serves.
#[derive(Clone, Debug)]
pub struct MockAsset {
    /// The asset id.
    pub id: u64,
    /// The file name.
    pub name: String,
    /// The bytes served.
    pub bytes: Vec<u8>,
    /// The size listed (default: the bytes' length).
    pub listed_size: Option<u64>,
    /// The `digest` listed (`sha256:<hex>`), if any.
    pub digest: Option<String>,
}

#[derive(Clone, Debug)]
struct MockRelease {
    id: u64,
    tag: String,
    assets: Vec<MockAsset>,
}

/// One request the mock received.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `api` or `storage`: which of the mock's two hosts.
    pub host: &'static str,
    /// The method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The `Accept` header.
    pub accept: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The body as JSON.
    ///
    /// # Panics
    /// When it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }
}

struct MockState {
    prefix: String,
    repo: String,
    token: String,
    storage_url: Mutex<String>,
    releases: Mutex<Vec<MockRelease>>,
    requests: Mutex<Vec<Recorded>>,
    fail_tags: Mutex<Vec<String>>,
    next_id: Mutex<u64>,
}

/// A local server speaking the GitHub REST endpoints `notarium-github` uses, under the GitHub
/// Enterprise Server prefix `/api/v3`: get a release by tag, list its assets (paginated),
/// download an asset (a 302 to a second "storage" host, as github.com does), and create a
/// commit status. Every request is recorded; API requests without `Bearer TOKEN` get 401.
pub struct MockGitHub {
    api_url: String,
    state: Arc<MockState>,
    _runtime: tokio::runtime::Runtime,
}

/// The listed page size GitHub uses without `per_page`.
const DEFAULT_PER_PAGE: usize = 30;

impl MockGitHub {
    /// Starts the mock for repository `owner/name`, accepting `token`.
    ///
    /// # Panics
    /// When no runtime or port can be had.
    pub fn start(repo: &str, token: &str) -> MockGitHub {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let state = Arc::new(MockState {
            prefix: "/api/v3".into(),
            repo: repo.to_owned(),
            token: token.to_owned(),
            storage_url: Mutex::new(String::new()),
            releases: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            fail_tags: Mutex::new(Vec::new()),
            next_id: Mutex::new(1000),
        });
        let bind = || {
            runtime
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .expect("bind 127.0.0.1:0")
        };
        let (api, storage) = (bind(), bind());
        let api_addr = api.local_addr().expect("local address");
        let storage_addr = storage.local_addr().expect("local address");
        *state.storage_url.lock().expect("no poisoning") = format!("http://{storage_addr}");
        let api_app = Router::new()
            .fallback(api_handler)
            .with_state(state.clone());
        let storage_app = Router::new()
            .fallback(storage_handler)
            .with_state(state.clone());
        runtime.spawn(async move {
            let _ = axum::serve(api, api_app).await;
        });
        runtime.spawn(async move {
            let _ = axum::serve(storage, storage_app).await;
        });
        MockGitHub {
            api_url: format!("http://{api_addr}/api/v3"),
            state,
            _runtime: runtime,
        }
    }

    /// The API base URL, for `GITHUB_API_URL` (`http://127.0.0.1:PORT/api/v3`).
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    fn id(&self) -> u64 {
        let mut n = self.state.next_id.lock().expect("no poisoning");
        *n += 1;
        *n
    }

    /// Publishes a release tagged `tag` with these (name, bytes) assets; returns their ids.
    pub fn add_release(&self, tag: &str, assets: &[(&str, &[u8])]) -> Vec<u64> {
        let assets: Vec<MockAsset> = assets
            .iter()
            .map(|(name, bytes)| MockAsset {
                id: self.id(),
                name: (*name).to_owned(),
                bytes: bytes.to_vec(),
                listed_size: None,
                digest: None,
            })
            .collect();
        let ids = assets.iter().map(|a| a.id).collect();
        let release = MockRelease {
            id: self.id(),
            tag: tag.to_owned(),
            assets,
        };
        self.state
            .releases
            .lock()
            .expect("no poisoning")
            .push(release);
        ids
    }

    /// Changes an asset of release `tag`.
    ///
    /// # Panics
    /// When there is no such asset.
    pub fn edit_asset(&self, tag: &str, name: &str, f: impl FnOnce(&mut MockAsset)) {
        let mut releases = self.state.releases.lock().expect("no poisoning");
        let asset = releases
            .iter_mut()
            .filter(|r| r.tag == tag)
            .flat_map(|r| r.assets.iter_mut())
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("no asset {name} in release {tag}"));
        f(asset);
    }

    /// From now on, requests for release `tag` get a 502.
    pub fn fail_tag(&self, tag: &str) {
        self.state
            .fail_tags
            .lock()
            .expect("no poisoning")
            .push(tag.to_owned());
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("no poisoning").clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.state.requests.lock().expect("no poisoning").clear();
    }
}

fn header_text(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(ToOwned::to_owned)
}

fn json_response(status: StatusCode, v: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        json!({ "message": "Not Found", "documentation_url": "https://docs.github.com/rest" }),
    )
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn record(state: &MockState, host: &'static str, req: Request) -> (Recorded, HeaderMap) {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let rec = Recorded {
        host,
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        authorization: header_text(&parts.headers, header::AUTHORIZATION),
        accept: header_text(&parts.headers, header::ACCEPT),
        body,
    };
    state
        .requests
        .lock()
        .expect("no poisoning")
        .push(rec.clone());
    (rec, parts.headers)
}

fn asset_json(state: &MockState, a: &MockAsset) -> Value {
    let mut v = json!({
        "id": a.id,
        "name": a.name,
        "label": "",
        "content_type": "application/octet-stream",
        "state": "uploaded",
        "size": a.listed_size.unwrap_or(a.bytes.len() as u64),
        "download_count": 0,
        "url": format!("{}/repos/{}/releases/assets/{}", state.prefix, state.repo, a.id),
    });
    if let Some(d) = &a.digest {
        v["digest"] = json!(d);
    }
    v
}

async fn api_handler(State(state): State<Arc<MockState>>, req: Request) -> Response {
    let (rec, headers) = record(&state, "api", req).await;
    if rec.authorization.as_deref() != Some(&format!("Bearer {}", state.token)) {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({ "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest" }),
        );
    }
    let (path, query) = rec.path.split_once('?').unwrap_or((&rec.path, ""));
    let Some(rest) = path
        .strip_prefix(&state.prefix)
        .and_then(|p| p.strip_prefix("/repos/"))
        .and_then(|p| p.strip_prefix(&format!("{}/", state.repo)))
    else {
        return not_found();
    };
    let segments: Vec<String> = rest.split('/').map(percent_decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let releases = state.releases.lock().expect("no poisoning").clone();
    let query_param = |k: &str| -> Option<usize> {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(key, _)| *key == k)
            .and_then(|(_, v)| v.parse().ok())
    };
    match (rec.method.as_str(), segments.as_slice()) {
        ("GET", ["releases", "tags", tag]) => {
            if state
                .fail_tags
                .lock()
                .expect("no poisoning")
                .iter()
                .any(|t| t == tag)
            {
                return json_response(
                    StatusCode::BAD_GATEWAY,
                    json!({ "message": "Server Error" }),
                );
            }
            match releases.iter().find(|r| r.tag == *tag) {
                Some(r) => json_response(
                    StatusCode::OK,
                    json!({
                        "id": r.id,
                        "tag_name": r.tag,
                        "name": format!("Release {}", r.tag),
                        "draft": false,
                        "prerelease": false,
                        "assets": r.assets.iter().take(DEFAULT_PER_PAGE).map(|a| asset_json(&state, a)).collect::<Vec<_>>(),
                    }),
                ),
                None => not_found(),
            }
        }
        ("GET", ["releases", id, "assets"]) => {
            let Some(r) = releases.iter().find(|r| r.id.to_string() == *id) else {
                return not_found();
            };
            let per_page = query_param("per_page").unwrap_or(DEFAULT_PER_PAGE).min(100);
            let page = query_param("page").unwrap_or(1).max(1);
            let items: Vec<Value> = r
                .assets
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|a| asset_json(&state, a))
                .collect();
            json_response(StatusCode::OK, Value::Array(items))
        }
        ("GET", ["releases", "assets", id]) => {
            let Some(a) = releases
                .iter()
                .flat_map(|r| r.assets.iter())
                .find(|a| a.id.to_string() == *id)
            else {
                return not_found();
            };
            if header_text(&headers, header::ACCEPT).as_deref() == Some("application/octet-stream")
            {
                let storage = state.storage_url.lock().expect("no poisoning").clone();
                Response::builder()
                    .status(StatusCode::FOUND)
                    .header(header::LOCATION, format!("{storage}/blob/{}", a.id))
                    .body(Body::empty())
                    .expect("a redirect")
            } else {
                json_response(StatusCode::OK, asset_json(&state, a))
            }
        }
        ("POST", ["statuses", sha]) => {
            let body: Value = match serde_json::from_slice(&rec.body) {
                Ok(v) => v,
                Err(_) => {
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        json!({ "message": "Problems parsing JSON" }),
                    )
                }
            };
            let state_word = body["state"].as_str().unwrap_or_default();
            if !["success", "failure", "error", "pending"].contains(&state_word)
                || body["description"]
                    .as_str()
                    .is_some_and(|d| d.chars().count() > 140)
            {
                return json_response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({ "message": "Validation Failed" }),
                );
            }
            json_response(
                StatusCode::CREATED,
                json!({
                    "id": 1, "state": state_word, "description": body["description"],
                    "context": body["context"], "target_url": body["target_url"],
                    "url": format!("{}/repos/{}/statuses/{sha}", state.prefix, state.repo),
                }),
            )
        }
        _ => not_found(),
    }
}

async fn storage_handler(State(state): State<Arc<MockState>>, req: Request) -> Response {
    let method = req.method().clone();
    let (rec, _) = record(&state, "storage", req).await;
    let releases = state.releases.lock().expect("no poisoning").clone();
    let asset = rec
        .path
        .strip_prefix("/blob/")
        .and_then(|id| {
            releases
                .iter()
                .flat_map(|r| r.assets.iter())
                .find(|a| a.id.to_string() == id)
        })
        .cloned();
    match (method, asset) {
        (Method::GET, Some(a)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            a.bytes,
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "no such blob").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_uses_are_found() {
        let yml = "steps:\n  - uses: actions/cache/restore@abc # v4\n  - name: x\n    uses: ./local\n  - uses: actions/upload-artifact@def\n";
        assert_eq!(
            remote_uses(yml),
            vec![
                ("actions/cache".into(), "abc".into(), "restore".into()),
                (
                    "actions/upload-artifact".into(),
                    "def".into(),
                    String::new()
                ),
            ]
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("release%2F2026%20%231"), "release/2026 #1");
        assert_eq!(percent_decode("v1.0"), "v1.0");
        assert_eq!(percent_decode("100%"), "100%");
    }
}

/// What one run of `notarium-action.sh` (a step of the action, run by bash outside any
/// runner) printed and wrote: raw stdout and stderr, as no runner masked them, the step's
/// outputs (`GITHUB_OUTPUT`), the job summary, and the lines added to `GITHUB_PATH`.
#[derive(Debug)]
pub struct StepRun {
    /// bash's exit code.
    pub code: Option<i32>,
    /// Standard output, unmasked.
    pub stdout: String,
    /// Standard error, unmasked.
    pub stderr: String,
    /// The outputs, by name (multi-line values from `name<<DELIMITER` blocks).
    pub outputs: std::collections::BTreeMap<String, String>,
    /// The raw `GITHUB_OUTPUT` file.
    pub output_file: String,
    /// The job summary (`GITHUB_STEP_SUMMARY`).
    pub summary: String,
    /// What was added to `GITHUB_PATH`.
    pub path_file: String,
}

impl std::fmt::Display for StepRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "notarium-action.sh exited {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- outputs\n{}\n--- summary\n{}",
            self.code, self.stdout, self.stderr, self.output_file, self.summary
        )
    }
}

/// Runs `bash notarium-action.sh COMMAND` from `action` in `cwd` as the action's step would,
/// with `PATH` = `path`, the runner's files in a new temporary directory, and `env` (the
/// step's `INPUT_*` variables, `NOTARIUM_API_KEY`, `GITHUB_*`). Nothing else is inherited
/// but `HOME`.
///
/// # Panics
/// When bash cannot start.
pub fn run_step(
    action: &Path,
    command: &str,
    cwd: &Path,
    env: &[(&str, &str)],
    path: &OsStr,
) -> StepRun {
    let runner = tempfile::Builder::new()
        .prefix("notarium-step-")
        .tempdir()
        .expect("temporary directory");
    let file = |n: &str| {
        let p = runner.path().join(n);
        std::fs::write(&p, "").expect("runner file");
        p
    };
    let (output, summary, gpath) = (file("output"), file("summary"), file("path"));
    let temp = runner.path().join("temp");
    std::fs::create_dir_all(&temp).expect("RUNNER_TEMP");
    let out = Command::new("bash")
        .arg(action.join("notarium-action.sh"))
        .arg(command)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", path)
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_PATH", &gpath)
        .env("RUNNER_TEMP", &temp)
        .env("RUNNER_OS", "Linux")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("bash runs");
    let output_file = std::fs::read_to_string(&output).unwrap_or_default();
    let mut outputs = std::collections::BTreeMap::new();
    let mut lines = output_file.lines();
    while let Some(l) = lines.next() {
        if let Some((k, delim)) = l.split_once("<<") {
            let mut v = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                v.push(l);
            }
            outputs.insert(k.to_owned(), v.join("\n"));
        } else if let Some((k, v)) = l.split_once('=') {
            outputs.insert(k.to_owned(), v.to_owned());
        }
    }
    StepRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        outputs,
        output_file,
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        path_file: std::fs::read_to_string(&gpath).unwrap_or_default(),
    }
}
