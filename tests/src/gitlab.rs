//! Helpers for the GitLab components' tests (`tests/gitlab.rs`, `tests/chain.rs`): the
//! components published as a project of their own, the way GitLab includes them
//! ([`Components`]: `plugins/gitlab` exported by `scripts/gitlab-component`, tagged with its
//! version, served over git's smart HTTP protocol by `git http-backend` on 127.0.0.1
//! ([`GitServer`])), and a user's project that includes them by
//! `component: $CI_SERVER_FQDN/notarium/notarium-gitlab/<name>@<version>` and runs its
//! pipeline with gitlab-ci-local ([`Project`]).
//!
//! gitlab-ci-local fetches a component of another project from the host and port of the
//! including project's git remote, with `git clone --branch <version> --depth=1`; the test
//! project's remote is therefore `http://127.0.0.1:<port>/acme/app.git` on the [`GitServer`].
//! Jobs run in the shell executor (`--force-shell-executor`: the components set an `image`,
//! which needs Docker) with `--shell-isolation`, which gives them GitLab's artifact, dotenv and
//! cache semantics.
//!
//! Out of scope: a real GitLab instance (the CI/CD catalog, masking in job logs, executors
//! with images).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use tempfile::TempDir;

use crate::ci_plugins::{
    copy_dir, fixture_dir, plugin_dir, run_with_deadline, scrub_env, workspace_root, Outcome,
};

/// The component project's path, as users name it in `component:`.
pub const COMPONENT_PROJECT: &str = "notarium/notarium-gitlab";

/// Runs `git ARGS` in `dir` with a fixed identity.
///
/// # Panics
/// When git fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Notarium Tests",
            "-c",
            "user.email=tests@notarium.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
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
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Bare repositories under a root directory, served over git's smart HTTP protocol on
/// 127.0.0.1 by `git http-backend` (a CGI program, run once per request). Stopped on drop.
pub struct GitServer {
    root: TempDir,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GitServer {
    /// Starts an empty server.
    ///
    /// # Panics
    /// When it cannot listen.
    pub fn start() -> GitServer {
        let root = tempfile::Builder::new()
            .prefix("notarium-git-server-")
            .tempdir()
            .expect("temporary directory");
        let app = Router::new()
            .fallback(cgi)
            .with_state(Arc::new(root.path().to_owned()));
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
                    .expect("the git server runs");
            });
        });
        GitServer {
            root,
            url,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Publishes the repository at `work` (with its tags) as `<path>.git`.
    ///
    /// # Panics
    /// When git fails.
    pub fn publish(&self, path: &str, work: &Path) {
        let dest = self.root.path().join(format!("{path}.git"));
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("create the group");
        git(
            self.root.path(),
            &[
                "clone",
                "-q",
                "--bare",
                &work.to_string_lossy(),
                &dest.to_string_lossy(),
            ],
        );
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `git http-backend` for one request (RFC 3875 CGI) and turns its output into a
/// response.
async fn cgi(State(root): State<Arc<PathBuf>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let header = |h: &str| {
        parts
            .headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", root.as_ref())
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or(""))
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn()?;
        let mut stdin = child.stdin.take().expect("piped");
        let writer = std::thread::spawn(move || stdin.write_all(&body));
        let out = child.wait_with_output()?;
        let _ = writer.join();
        Ok::<_, std::io::Error>(out)
    })
    .await;
    let Ok(Ok(out)) = output else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((at, len)) = split else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
            .into_response();
    };
    let mut status = StatusCode::OK;
    let mut headers = HeaderMap::new();
    for line in String::from_utf8_lossy(&raw[..at]).lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("status") {
            let code = v.split_whitespace().next().unwrap_or("500");
            status = code
                .parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        } else if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(k.trim().as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.append(name, value);
        }
    }
    let mut resp = Response::new(Body::from(raw[at + len..].to_vec()));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

/// The components as users include them: `plugins_root/plugins/gitlab` (a checkout's, or a
/// pinned copy's) exported by `scripts/gitlab-component` into a project of its own, tagged
/// with the version its templates pin, on a [`GitServer`] that also hosts the users'
/// projects' remotes.
pub struct Components {
    git: GitServer,
    version: String,
    _work: TempDir,
}

impl Components {
    /// Publishes the components of the checkout at `plugins_root`.
    ///
    /// # Panics
    /// When `scripts/gitlab-component` or git fails.
    pub fn publish(plugins_root: &Path) -> Components {
        let work = tempfile::Builder::new()
            .prefix("notarium-gitlab-component-")
            .tempdir()
            .expect("temporary directory");
        let out = Command::new(workspace_root().join("scripts/gitlab-component"))
            .arg(work.path())
            .arg("--from")
            .arg(plugins_root.join("plugins/gitlab"))
            .arg("--tag")
            .arg(env!("CARGO_PKG_VERSION"))
            .output()
            .expect("scripts/gitlab-component runs");
        assert!(
            out.status.success(),
            "scripts/gitlab-component: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let version = git(work.path(), &["describe", "--tags", "--exact-match"]);
        let git_server = GitServer::start();
        git_server.publish(COMPONENT_PROJECT, work.path());
        Components {
            git: git_server,
            version,
            _work: work,
        }
    }

    /// The components of this checkout (`plugins/gitlab`, unpinned).
    pub fn of_this_checkout() -> Components {
        Components::publish(&workspace_root())
    }

    /// The version the project is tagged with.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The git server, which also serves as the users' projects' remote host.
    pub fn git(&self) -> &GitServer {
        &self.git
    }
}

/// A temporary GitLab project: a git repository whose remote is on the [`Components`]' git
/// server, with a `.gitlab-ci.yml` from `tests/fixtures/gitlab/` (where
/// `COMPONENT_VERSION` becomes the components' version), the CI/CD variables file, and its own
/// gitlab-ci-local state (cache, artifacts).
pub struct Project {
    dir: TempDir,
    home: TempDir,
    gcl: PathBuf,
}

impl Project {
    /// `fixture` is a file of `tests/fixtures/gitlab/`; each `(from, to)` of `replace` is
    /// substituted in it; `variables` become the project's CI/CD variables.
    pub fn new(
        gcl: &Path,
        components: &Components,
        fixture: &str,
        replace: &[(&str, &str)],
        variables: &[(&str, &str)],
    ) -> Project {
        let dir = tempfile::Builder::new()
            .prefix("notarium-gitlab-")
            .tempdir()
            .expect("temporary directory");
        let home = tempfile::Builder::new()
            .prefix("notarium-gitlab-home-")
            .tempdir()
            .expect("temporary directory");
        let root = dir.path();
        git(root, &["init", "-q"]);
        git(
            root,
            &[
                "remote",
                "add",
                "origin",
                &format!("{}/acme/app.git", components.git().url()),
            ],
        );
        let mut yml = std::fs::read_to_string(fixture_dir("gitlab").join(fixture))
            .unwrap_or_else(|e| panic!("fixture {fixture}: {e}"));
        yml = yml.replace("COMPONENT_VERSION", components.version());
        for (from, to) in replace {
            yml = yml.replace(from, to);
        }
        std::fs::write(root.join(".gitlab-ci.yml"), yml).expect("write .gitlab-ci.yml");
        std::fs::write(root.join("README.md"), "A project that uses Notarium.\n")
            .expect("write README.md");
        git(root, &["add", "-A"]);
        git(
            root,
            &["commit", "-q", "-m", "a project that uses the components"],
        );
        let vars: String = variables
            .iter()
            .map(|(k, v)| format!("{k}: \"{v}\"\n"))
            .collect();
        std::fs::write(root.join(".gitlab-ci-local-variables.yml"), vars)
            .expect("write the variables file");
        Project {
            dir,
            home,
            gcl: gcl.to_owned(),
        }
    }

    /// The project's directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the pipeline (or only `jobs`, when given) with `vars` as pipeline variables and
    /// `path` as the runner's PATH.
    pub fn run(&self, path: &OsString, vars: &[(&str, &str)], jobs: &[&str]) -> Outcome {
        let mut args: Vec<String> = [
            "--shell-isolation",
            "--force-shell-executor",
            "--no-artifacts-to-source",
            "--no-color",
            "--ignore-predefined-vars",
            "GITLAB_CI",
            "--variable",
            "GITLAB_CI=true",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for (k, v) in vars {
            args.push("--variable".into());
            args.push(format!("{k}={v}"));
        }
        args.extend(jobs.iter().map(|j| (*j).to_owned()));
        fetching_includes_again(|| {
            run_with_deadline(&self.gcl, &args, self.root(), |cmd| {
                scrub_env(cmd);
                cmd.env("PATH", path).env("HOME", self.home.path());
            })
        })
    }

    /// `gitlab-ci-local --preview`: the pipeline with the components' jobs merged in.
    pub fn preview(&self) -> Outcome {
        fetching_includes_again(|| {
            run_with_deadline(&self.gcl, ["--preview"], self.root(), |cmd| {
                scrub_env(cmd);
                cmd.env("HOME", self.home.path());
            })
        })
    }

    /// A file that job `job` left as an artifact.
    pub fn artifact(&self, job: &str, rel: &str) -> PathBuf {
        self.root()
            .join(".gitlab-ci-local/artifacts")
            .join(job)
            .join(rel)
    }

    /// The dotenv report of a job of the components (default `receipts_dir`).
    pub fn dotenv(&self, job: &str) -> BTreeMap<String, String> {
        let path = self.artifact(job, &format!("notarium-receipts/{job}.env"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the dotenv report {}: {e}", path.display()));
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The `notarium --output json` document a job of the components kept.
    pub fn result(&self, job: &str) -> Value {
        let path = self.artifact(job, &format!("notarium-receipts/{job}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the JSON result {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The project's commit.
    pub fn commit(&self) -> String {
        git(self.root(), &["rev-parse", "HEAD"])
    }

    /// Asserts a dotenv report's verdict.
    pub fn assert_verdict(&self, job: &str, status: &str, code: u8) {
        let env = self.dotenv(job);
        assert_eq!(
            (
                env.get("NOTARIUM_STATUS").map(String::as_str),
                env.get("NOTARIUM_EXIT_CODE").map(String::as_str)
            ),
            (Some(status), Some(code.to_string().as_str())),
            "dotenv report of {job}: {env:?}"
        );
    }
}

/// Asserts that the summary at the end of a pipeline's output says `PASS` or `FAIL` for `job`.
pub fn assert_job(out: &Outcome, job: &str, verdict: &str) {
    let found = out.stdout.lines().any(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        words.len() >= 2 && words[0] == verdict && words[1] == job
    });
    assert!(found, "no `{verdict} {job}` line in the summary: {out}");
}

/// `plugins/gitlab` of this checkout.
pub fn components_dir() -> PathBuf {
    plugin_dir("gitlab")
}

/// Copies `plugins/` of this checkout into a temporary checkout root (to change a copy).
pub fn copy_of_plugins() -> TempDir {
    let root = tempfile::Builder::new()
        .prefix("notarium-plugins-copy-")
        .tempdir()
        .expect("temporary directory");
    copy_dir(
        &workspace_root().join("plugins"),
        &root.path().join("plugins"),
    );
    root
}

/// Runs gitlab-ci-local, and once more when it lost its own race: it fetches the components
/// of one project, when a pipeline includes two, by two clones at once that copy into one
/// cache directory ("cannot create directory …/includes/…: File exists"). That happens before
/// any job runs, and the second run finds the components cached.
fn fetching_includes_again(run: impl Fn() -> Outcome) -> Outcome {
    let out = run();
    let all = out.all();
    if out.code != Some(0)
        && all.contains("/.gitlab-ci-local/includes/")
        && all.contains("File exists")
    {
        eprintln!("gitlab-ci-local raced fetching its includes; running it again");
        return run();
    }
    out
}
