//! The end-to-end harness (docs/design.md §1, `tests/`): real `notariumd` processes listening on
//! 127.0.0.1 port 0 with temporary data directories ([`Server`]), the real `notarium` binary
//! run with a clean environment and a temporary state directory ([`Cli`]), an HTTP proxy
//! that can tamper with the server's answers ([`proxy::Proxy`]), a mock OIDC issuer
//! ([`oidc::MockIssuer`]), and PostgreSQL databases for servers that keep their ledgers there
//! ([`postgres::Store`]).
//!
//! Out of scope: building the binaries. `cargo test -p notarium-e2e` does not build other
//! packages' binaries, so run `cargo build --bins` first (`cargo test --workspace` builds them,
//! because `notarium-server` and `notarium-client` have integration tests). Nothing here
//! sleeps to synchronise: the server's readiness is its ready line, read with a deadline, and
//! the end of a process is `wait`.

#![forbid(unsafe_code)]

pub mod ci_plugins;
pub mod github;
pub mod gitlab;
pub mod jenkins;
pub mod nginx;
pub mod oidc;
pub mod postgres;
pub mod proxy;
pub mod registry;
pub mod release;
pub mod tls;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notarium_core::SignerKey;
use tempfile::TempDir;

/// How long `notariumd` may take to print its ready line.
pub const START_DEADLINE: Duration = Duration::from_secs(60);

/// What `notariumd` prints on stdout once it serves.
const READY_PREFIX: &str = "notariumd ready on ";

/// Variables a developer's or CI's environment may hold that would change what the binaries
/// do: `--ci` context, and HTTP proxies that would take 127.0.0.1 traffic elsewhere. Every
/// `NOTARIUM_*` variable is removed as well.
const FOREIGN_VARS: &[&str] = &[
    "CI",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "JENKINS_URL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

/// The directory holding the workspace's binaries. Test executables live in
/// `target/<profile>/deps/`; the binaries are one level up.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    let dir = exe.parent().expect("the test executable is in a directory");
    if dir.file_name() == Some(OsStr::new("deps")) {
        dir.parent().expect("deps/ has a parent").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// The path of the workspace binary `name` (`notarium` or `notariumd`).
///
/// # Panics
/// When it has not been built, telling how to build it.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --bins` first (the end-to-end tests run the real binaries)",
        path.display()
    );
    path
}

/// Removes every inherited variable that would change what a binary does.
pub fn clean_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        let name = k.to_string_lossy();
        if name.starts_with("NOTARIUM_") || FOREIGN_VARS.contains(&name.as_ref()) {
            cmd.env_remove(&k);
        }
    }
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::getrandom(&mut b).expect("the OS has randomness");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A data directory saved by `notariumd backup` ([`Server::backup`]).
pub struct Backup {
    dir: tempfile::TempDir,
    admin_token: String,
}

impl Backup {
    /// Starts a `notariumd` on a copy of the backup, as an operator restoring it would.
    pub fn serve(&self) -> Server {
        Server::start_on(&self.dir.path().join("data"), &self.admin_token)
    }
}

/// A running `notariumd` on 127.0.0.1 with its own temporary data directory. Killed on drop.
pub struct Server {
    root: TempDir,
    child: Option<Child>,
    url: String,
    admin_token: String,
    config: Option<PathBuf>,
    env: Vec<(String, String)>,
}

impl Server {
    /// Starts `notariumd --listen 127.0.0.1:0` on a fresh data directory with a random admin
    /// token, and waits (with [`START_DEADLINE`]) for its ready line.
    ///
    /// # Panics
    /// When the binary is missing, or the server exits or stays silent before it is ready.
    pub fn start() -> Server {
        Server::start_configured(None, &[])
    }

    /// Like [`Server::start`], with extra `NOTARIUM_*` settings (kept for restarts).
    ///
    /// # Panics
    /// As [`Server::start`].
    pub fn start_with_env(env: &[(&str, &str)]) -> Server {
        Server::start_configured(None, env)
    }

    /// Starts `notariumd` as [`Server::start`] does, with `yaml` as its configuration file
    /// (`--config`; the flags still set the address and data directory).
    ///
    /// # Panics
    /// As [`Server::start`].
    pub fn start_with_config(yaml: &str) -> Server {
        Server::start_configured(Some(yaml), &[])
    }

    /// Starts `notariumd` with `yaml` as its configuration file (if any) and extra
    /// `NOTARIUM_*` settings (kept for restarts).
    ///
    /// # Panics
    /// As [`Server::start`].
    pub fn start_configured(yaml: Option<&str>, env: &[(&str, &str)]) -> Server {
        let root = tempfile::Builder::new()
            .prefix("notarium-e2e-server-")
            .tempdir()
            .expect("temporary directory");
        let config = yaml.map(|y| {
            let path = root.path().join("notariumd.yaml");
            std::fs::write(&path, y).expect("write the configuration file");
            path
        });
        let mut server = Server {
            root,
            child: None,
            url: String::new(),
            admin_token: format!("e2e-admin-{}", random_hex(16)),
            config,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        server.spawn("127.0.0.1:0");
        server
    }

    /// Starts `notariumd` on a copy of the data directory `data` (e.g. a fixture written by an
    /// earlier version), with `admin_token`.
    ///
    /// # Panics
    /// As [`Server::start`], or when `data` cannot be copied.
    pub fn start_on(data: &Path, admin_token: &str) -> Server {
        Server::start_on_with_env(data, admin_token, &[])
    }

    /// Like [`Server::start_on`], with extra `NOTARIUM_*` settings (kept for restarts): e.g. a
    /// second instance on the database of a first, from a copy of its data directory.
    ///
    /// # Panics
    /// As [`Server::start_on`].
    pub fn start_on_with_env(data: &Path, admin_token: &str, env: &[(&str, &str)]) -> Server {
        let root = tempfile::Builder::new()
            .prefix("notarium-e2e-server-")
            .tempdir()
            .expect("temporary directory");
        copy_tree(data, &root.path().join("data"));
        let _ = std::fs::remove_file(root.path().join("data").join("notariumd.lock"));
        let mut server = Server {
            root,
            child: None,
            url: String::new(),
            admin_token: admin_token.to_owned(),
            config: None,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        server.spawn("127.0.0.1:0");
        server
    }

    /// A backup of the data directory taken now with `notariumd backup`, while the server
    /// runs; [`Backup::serve`] later plays this server restored from it: genuine answers,
    /// signed by the same key, about an older tree.
    ///
    /// # Panics
    /// When `notariumd backup` fails.
    pub fn backup(&self) -> Backup {
        let dir = tempfile::Builder::new()
            .prefix("notarium-e2e-backup-")
            .tempdir()
            .expect("temporary directory");
        let out = Command::new(binary("notariumd"))
            .arg("backup")
            .arg(self.data_dir())
            .arg(dir.path().join("data"))
            .output()
            .expect("notariumd backup runs");
        assert!(out.status.success(), "notariumd backup: {out:?}");
        Backup {
            dir,
            admin_token: self.admin_token.clone(),
        }
    }

    /// The process id of the running server (to tell which instance holds a lease).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn spawn(&mut self, listen: &str) {
        if let Err(why) = self.try_spawn(listen) {
            panic!("{why}");
        }
    }

    /// Starts `notariumd` and waits for its ready line; the reason when it exits or stays
    /// silent instead.
    fn try_spawn(&mut self, listen: &str) -> Result<(), String> {
        let log_path = self.log_path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("server log file");
        let mut cmd = Command::new(binary("notariumd"));
        clean_env(&mut cmd);
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        cmd.arg("--listen")
            .arg(listen)
            .arg("--data-dir")
            .arg(self.data_dir())
            .env("NOTARIUM_ADMIN_TOKEN", &self.admin_token)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = cmd.spawn().expect("notariumd starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        // Reads stdout to its end, so that the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + START_DEADLINE;
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => match line.strip_prefix(READY_PREFIX) {
                    Some(url) => {
                        self.url = url.trim().trim_end_matches('/').to_owned();
                        break;
                    }
                    None => seen.push(line),
                },
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "notariumd printed no ready line within {START_DEADLINE:?}; stdout: {seen:?}; log:\n{}",
                        self.log()
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = child.wait();
                    return Err(format!(
                        "notariumd exited before it was ready ({status:?}); stdout: {seen:?}; log:\n{}",
                        self.log()
                    ));
                }
            }
        }
        self.child = Some(child);
        Ok(())
    }

    /// Sets (or replaces) a `NOTARIUM_*` setting for the next start, e.g. another database.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Stops the server if it runs and tries to start it again on the same address and data
    /// directory; the reason (exit status, output and log) when it does not become ready.
    ///
    /// # Errors
    /// When the server refuses to start.
    pub fn try_restart(&mut self) -> Result<(), String> {
        self.stop();
        let addr = self
            .url
            .strip_prefix("http://")
            .expect("the server URL is http")
            .to_owned();
        self.try_spawn(&addr)
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The admin token the server was started with.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// The directory of ledger `default` (see `server/src/state.rs` for the layout).
    pub fn default_ledger_dir(&self) -> PathBuf {
        self.data_dir().join("ledgers").join("default")
    }

    /// The signing key of ledger `default`, as stored by the ledger (`signing.key`).
    ///
    /// # Panics
    /// When the file is missing or unreadable.
    pub fn signing_key(&self) -> SignerKey {
        let path = self.default_ledger_dir().join("signing.key");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        SignerKey::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The verifier key text of ledger `default`, to pin with `--verifier-key`.
    pub fn verifier_key(&self) -> String {
        self.signing_key().verifier().to_string()
    }

    fn log_path(&self) -> PathBuf {
        self.root.path().join("notariumd.log")
    }

    /// What the server logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Kills the server (SIGKILL) and waits for it: the server is gone, as after a crash or an
    /// outage. The data directory stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if it runs and starts it again on the same address and data
    /// directory, so that clients and their state keep working.
    ///
    /// # Panics
    /// As [`Server::start`], or when the address cannot be listened on again.
    pub fn restart(&mut self) {
        self.stop();
        let before = self.url.clone();
        let addr = before
            .strip_prefix("http://")
            .expect("the server URL is http")
            .to_owned();
        self.spawn(&addr);
        assert_eq!(self.url, before, "the restarted server moved");
    }

    /// A CLI talking to this server with a fresh state directory and no API key.
    pub fn cli(&self) -> Cli {
        Cli::new(&self.url)
    }

    /// A CLI holding the admin token as its API key.
    pub fn admin(&self) -> Cli {
        self.cli().with_key(&self.admin_token)
    }

    /// Creates an API key on ledger `default` through `notarium key create`.
    ///
    /// # Panics
    /// When the command fails or prints something else than the key.
    pub fn create_key(&self, name: &str, role: &str) -> ApiKey {
        let run = self
            .admin()
            .run(["key", "create", name, "--role", role, "--output", "json"]);
        run.expect_code(0);
        let v = run.json();
        let field = |k: &str| {
            v[k].as_str()
                .unwrap_or_else(|| panic!("key create printed no {k:?}: {v}"))
                .to_owned()
        };
        let key = ApiKey {
            id: field("id"),
            name: field("name"),
            role: field("role"),
            secret: field("key"),
        };
        assert_eq!((key.name.as_str(), key.role.as_str()), (name, role));
        key
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Copies a directory tree, keeping file modes (signing keys stay 0600).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create directory");
    for entry in std::fs::read_dir(from).expect("read directory") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// An API key as `notarium key create` prints it.
#[derive(Clone, Debug)]
pub struct ApiKey {
    /// Public id: the `signer` of the entries it makes.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// The bearer secret.
    pub secret: String,
}

/// The `notarium` binary with a clean environment: `NOTARIUM_SERVER`, a temporary
/// `NOTARIUM_STATE_DIR` (shared by the clones of one `Cli`), and optionally `NOTARIUM_API_KEY`.
#[derive(Clone)]
pub struct Cli {
    server: String,
    state: Arc<TempDir>,
    api_key: Option<String>,
    envs: Vec<(String, String)>,
    current_dir: Option<PathBuf>,
}

impl Cli {
    /// A CLI for `server` with a fresh, empty state directory.
    pub fn new(server: &str) -> Cli {
        Cli {
            server: server.to_owned(),
            state: Arc::new(
                tempfile::Builder::new()
                    .prefix("notarium-e2e-state-")
                    .tempdir()
                    .expect("temporary directory"),
            ),
            api_key: None,
            envs: Vec::new(),
            current_dir: None,
        }
    }

    /// The same CLI (and state) with `NOTARIUM_API_KEY` set to `secret`.
    pub fn with_key(&self, secret: &str) -> Cli {
        Cli {
            api_key: Some(secret.to_owned()),
            ..self.clone()
        }
    }

    /// The same CLI (and state) pointed at another server URL.
    pub fn with_server(&self, server: &str) -> Cli {
        Cli {
            server: server.to_owned(),
            ..self.clone()
        }
    }

    /// The same CLI with a new, empty state directory: another machine.
    pub fn with_fresh_state(&self) -> Cli {
        Cli {
            state: Cli::new(&self.server).state,
            ..self.clone()
        }
    }

    /// Sets an extra environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Cli {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs in `dir`.
    pub fn current_dir(mut self, dir: &Path) -> Cli {
        self.current_dir = Some(dir.to_owned());
        self
    }

    /// The state directory (`NOTARIUM_STATE_DIR`).
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// Every file of the state directory with its bytes, to compare before and after.
    pub fn state_snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for e in std::fs::read_dir(dir).expect("state directory is readable") {
                let p = e.expect("directory entry").path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    let bytes = std::fs::read(&p).expect("state file is readable");
                    out.insert(p, bytes);
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.state_dir(), &mut out);
        out
    }

    /// The state (JSON) this CLI keeps for its server's ledger `default`: the client keeps one
    /// per server URL, and a state directory used with several servers holds one for each.
    ///
    /// # Panics
    /// When there is not exactly one state file for ledger `default` of this CLI's server.
    pub fn stored_state(&self) -> serde_json::Value {
        let states: Vec<serde_json::Value> = self
            .state_snapshot()
            .into_iter()
            .filter(|(p, _)| p.file_name() == Some(OsStr::new("default.json")))
            .map(|(_, bytes)| serde_json::from_slice(&bytes).expect("the state file is JSON"))
            .filter(|state: &serde_json::Value| {
                state["server"].as_str().map(|s| s.trim_end_matches('/'))
                    == Some(self.server.trim_end_matches('/'))
            })
            .collect();
        assert_eq!(
            states.len(),
            1,
            "expected one state file for ledger default of {} in {}",
            self.server,
            self.state_dir().display()
        );
        states.into_iter().next().expect("one state")
    }

    /// The signed checkpoint this CLI stored last for ledger `default`.
    pub fn stored_checkpoint(&self) -> String {
        self.stored_state()["checkpoint"]
            .as_str()
            .expect("the state holds a checkpoint")
            .to_owned()
    }

    /// Runs `notarium ARGS…` to completion.
    ///
    /// # Panics
    /// When the binary is missing or dies of a signal.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run_with_stdin(args, None)
    }

    /// Runs `notarium ARGS…` to completion with `stdin` as its standard input (none: empty).
    ///
    /// # Panics
    /// When the binary is missing or dies of a signal.
    pub fn run_with_stdin<I, S>(&self, args: I, stdin: Option<&[u8]>) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<String> = args
            .into_iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        let mut cmd = Command::new(binary("notarium"));
        clean_env(&mut cmd);
        cmd.args(&args)
            .env("NOTARIUM_SERVER", &self.server)
            .env("NOTARIUM_STATE_DIR", self.state_dir())
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        if let Some(k) = &self.api_key {
            cmd.env("NOTARIUM_API_KEY", k);
        }
        if let Some(d) = &self.current_dir {
            cmd.current_dir(d);
        }
        let out = match stdin {
            None => cmd.output().expect("notarium runs"),
            Some(input) => {
                use std::io::Write;
                let mut child = cmd
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("notarium runs");
                let mut pipe = child.stdin.take().expect("stdin is piped");
                let input = input.to_vec();
                // Written from another thread: notarium may answer before it reads it all.
                let writer = std::thread::spawn(move || {
                    let _ = pipe.write_all(&input);
                });
                let out = child.wait_with_output().expect("notarium runs");
                writer.join().expect("the stdin writer ends");
                out
            }
        };
        let run = Run {
            args,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(run.code.is_some(), "notarium died of a signal: {run}");
        run
    }
}

/// The outcome of one `notarium` run.
#[derive(Debug)]
pub struct Run {
    /// The arguments given.
    pub args: Vec<String>,
    /// The exit code.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clip = |s: &str| -> String {
            if s.len() > 4000 {
                let cut = (0..=4000)
                    .rev()
                    .find(|i| s.is_char_boundary(*i))
                    .unwrap_or(0);
                format!("{}… ({} bytes)", &s[..cut], s.len())
            } else {
                s.to_owned()
            }
        };
        write!(
            f,
            "`notarium {}` exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.code,
            clip(&self.stdout),
            clip(&self.stderr)
        )
    }
}

impl Run {
    /// Asserts the exit code, showing the whole run when it differs.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "unexpected exit code: {self}");
        self
    }

    /// Stdout as one JSON document (`--output json`).
    ///
    /// # Panics
    /// When stdout is not one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self}"))
    }

    /// The `results` of a `--output json` document, after checking that its `exit_code` is
    /// the process's exit code.
    pub fn results(&self) -> Vec<serde_json::Value> {
        let doc = self.json();
        assert_eq!(
            doc["exit_code"].as_i64().map(|c| c as i32),
            self.code,
            "the JSON exit_code is not the exit code: {self}"
        );
        doc["results"]
            .as_array()
            .unwrap_or_else(|| panic!("no results array: {self}"))
            .clone()
    }

    /// Asserts that stderr contains `needle` (case-insensitive).
    pub fn expect_stderr(&self, needle: &str) -> &Run {
        assert!(
            self.stderr.to_lowercase().contains(&needle.to_lowercase()),
            "stderr lacks {needle:?}: {self}"
        );
        self
    }
}

/// A temporary directory for the files a test notarizes.
pub struct Workdir {
    dir: TempDir,
}

impl Default for Workdir {
    fn default() -> Self {
        Workdir::new()
    }
}

impl Workdir {
    /// A new, empty directory.
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::Builder::new()
                .prefix("notarium-e2e-work-")
                .tempdir()
                .expect("temporary directory"),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `rel` (creating parent directories) and returns its path.
    pub fn write(&self, rel: &str, contents: &[u8]) -> PathBuf {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent directory");
        }
        std::fs::write(&p, contents).expect("write file");
        p
    }
}

/// A server with a `write` key and a CLI using it: the start of most tests.
pub struct Setup {
    /// The server.
    pub server: Server,
    /// A key with role `write`.
    pub writer: ApiKey,
    /// A CLI with the writer key and its own state, running in `work`.
    pub cli: Cli,
    /// Where the test's files go.
    pub work: Workdir,
}

impl Default for Setup {
    fn default() -> Self {
        Setup::new()
    }
}

impl Setup {
    /// Starts a server, creates a `write` key named `ci`, and a CLI with it.
    pub fn new() -> Setup {
        Setup::of(Server::start())
    }

    /// As [`Setup::new`], with `yaml` as the server's configuration file.
    pub fn with_config(yaml: &str) -> Setup {
        Setup::of(Server::start_with_config(yaml))
    }

    /// Like [`Setup::new`], with extra `NOTARIUM_*` settings for the server.
    pub fn with_env(env: &[(&str, &str)]) -> Setup {
        Setup::of(Server::start_with_env(env))
    }

    /// As [`Setup::new`], with the server's ledgers on `store`.
    pub fn on(store: &postgres::Store) -> Setup {
        let env = store.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Setup::of(Server::start_with_env(&env))
    }

    /// A write key named `ci` and a CLI with it, on `server`.
    pub fn of(server: Server) -> Setup {
        let writer = server.create_key("ci", "write");
        let work = Workdir::new();
        let cli = server
            .cli()
            .with_key(&writer.secret)
            .current_dir(work.path());
        Setup {
            server,
            writer,
            cli,
            work,
        }
    }
}
