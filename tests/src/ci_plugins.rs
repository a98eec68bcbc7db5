//! Helpers for the tests of the CI plugins (`plugins/gitlab`, `plugins/jenkins`): finding the
//! outside runner a test needs (gitlab-ci-local, groovy, npm-groovy-lint) or skipping loudly
//! without it, a scrubbed environment for it, PATHs with and without the workspace's
//! `notarium`, and running it with a deadline.
//!
//! Out of scope: installing the runners (`.ci/install-gitlab.sh`, `.ci/install-jenkins.sh`
//! do, and `.ci/run` runs them). A missing runner fails the test when `CI` is set, and
//! otherwise skips it with a `SKIPPED:` line on stderr; nothing here stands in for a runner.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use notarium_core::Sha256;

/// How long one runner invocation (a whole pipeline, a Groovy scenario, a lint) may take
/// before `timeout` kills it.
pub const RUN_DEADLINE: Duration = Duration::from_secs(300);

/// The repository root (the workspace).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// `plugins/<name>` in the workspace.
pub fn plugin_dir(name: &str) -> PathBuf {
    workspace_root().join("plugins").join(name)
}

/// `tests/fixtures/<name>` in the workspace.
pub fn fixture_dir(name: &str) -> PathBuf {
    workspace_root().join("tests").join("fixtures").join(name)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The executable `name` on PATH, if any.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

/// The runner `name`, installed by `.ci/install-<script>.sh`. When it is missing: with `CI`
/// set, the test fails; without, it prints `SKIPPED: …` to stderr and the caller returns.
///
/// # Panics
/// When the tool is missing and `CI` is set.
pub fn require_tool(name: &str, script: &str) -> Option<PathBuf> {
    if let Some(p) = which(name) {
        return Some(p);
    }
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    assert!(
        !ci,
        "{name} is not installed, and CI is set: .ci/install-{script}.sh must install it"
    );
    eprintln!();
    eprintln!("**********************************************************************");
    eprintln!("SKIPPED: {name} not installed (run .ci/install-{script}.sh)");
    eprintln!("**********************************************************************");
    None
}

/// Whether an inherited variable would change what a CI runner or `notarium` does: the
/// variables of real CI systems (a test may itself run in one), `NOTARIUM_*`, and proxies.
fn foreign(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "CI",
        "JENKINS_URL",
        "JENKINS_HOME",
        "BUILD_NUMBER",
        "BUILD_URL",
        "JOB_NAME",
        "WORKSPACE",
        "GIT_URL",
        "GIT_COMMIT",
        "GIT_BRANCH",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "XDG_STATE_HOME",
    ];
    const PREFIXES: &[&str] = &["NOTARIUM_", "CI_", "GITLAB_", "GITHUB_", "GCL_", "RUNNER_"];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Removes every inherited variable that [`foreign`] names.
pub fn scrub_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if foreign(&k.to_string_lossy()) {
            cmd.env_remove(&k);
        }
    }
}

/// This process's PATH without any directory that holds a `notarium` executable: where a CI
/// job would find no `notarium` and has to download it.
pub fn path_without_notarium() -> OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| !is_executable(&d.join("notarium")))
        .collect();
    std::env::join_paths(dirs).expect("PATH entries join")
}

/// PATH with the workspace's binaries (`notarium` built from this tree) first.
pub fn path_with_notarium() -> OsString {
    let mut dirs = vec![crate::bin_dir()];
    dirs.extend(std::env::split_paths(&path_without_notarium()));
    std::env::join_paths(dirs).expect("PATH entries join")
}

/// The SHA-256 of a file, as lowercase hex.
///
/// # Panics
/// When the file cannot be read.
pub fn sha256_file(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Sha256::of(&bytes).to_hex()
}

/// Copies the files of `src` (recursively) into `dst`.
///
/// # Panics
/// On any I/O error.
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap_or_else(|e| panic!("creating {}: {e}", dst.display()));
    for e in std::fs::read_dir(src).unwrap_or_else(|e| panic!("reading {}: {e}", src.display())) {
        let e = e.expect("directory entry");
        let to = dst.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to)
                .unwrap_or_else(|err| panic!("copying {}: {err}", e.path().display()));
        }
    }
}

/// What a runner did.
#[derive(Debug)]
pub struct Outcome {
    /// The command, for messages.
    pub what: String,
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }
}

impl Outcome {
    /// Standard output and standard error together.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Asserts the exit code, showing everything when it differs.
    pub fn expect_code(&self, code: i32) -> &Outcome {
        assert_eq!(self.code, Some(code), "unexpected exit code: {self}");
        self
    }

    /// Asserts that the output (stdout or stderr) contains `needle`.
    pub fn expect_output(&self, needle: &str) -> &Outcome {
        assert!(
            self.all().contains(needle),
            "output lacks {needle:?}: {self}"
        );
        self
    }

    /// Asserts that the output (stdout and stderr) does not contain `secret`.
    pub fn expect_absent(&self, secret: &str) -> &Outcome {
        assert!(
            !self.all().contains(secret),
            "output contains what it must not ({} characters of it): {}",
            secret.len(),
            self.what
        );
        self
    }
}

/// Runs `program args…` in `dir` under coreutils' `timeout` ([`RUN_DEADLINE`]), with stdin
/// closed, after `setup` has set its environment.
///
/// # Panics
/// When the program cannot be started.
pub fn run_with_deadline<I, S>(
    program: &Path,
    args: I,
    dir: &Path,
    setup: impl FnOnce(&mut Command),
) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let what = std::iter::once(program.as_os_str())
        .chain(args.iter().map(OsString::as_os_str))
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("timeout");
    cmd.arg("--kill-after=10")
        .arg(RUN_DEADLINE.as_secs().to_string())
        .arg(program)
        .args(&args)
        .current_dir(dir)
        .stdin(Stdio::null());
    setup(&mut cmd);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    Outcome {
        what,
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
