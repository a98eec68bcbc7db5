//! A private PostgreSQL for tests and benchmarks (feature `test-postgres`): Debian's
//! `postgresql` package (`.ci/install-postgres.sh`), a cluster made with `initdb` in a
//! temporary directory and run on 127.0.0.1 on a free port — as this user, or, when this is
//! root (which PostgreSQL refuses to run as), as the unprivileged user the install script
//! makes. One cluster per test process, one database per test.
//!
//! The server runs under a small shell that waits on a pipe from this process: when this
//! process ends, however it ends, the pipe closes and the shell stops the server and removes
//! its directory. Nothing here sleeps to synchronise: readiness is a connection that succeeds.
//!
//! When PostgreSQL is not installed, [`database`] prints `SKIPPED: …` and returns `None`; with
//! `CI` set it fails instead (as `notarium_e2e::ci_plugins::require_tool` does).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The user the install script makes to run test clusters when the tests run as root.
pub const TEST_USER: &str = "notarium-pg";

/// How long a cluster may take to accept connections.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// Runs the server until its stdin closes, then stops it and removes its directory.
const SUPERVISOR: &str = r#"
dir=$1; bin=$2; port=$3; fsync=$4
"$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
  cat "$dir/initdb.log" >&2; exit 1; }
"$bin/postgres" -D "$dir/data" -c listen_addresses=127.0.0.1 -p "$port" \
  -c unix_socket_directories= -c fsync="$fsync" -c full_page_writes="$fsync" \
  -c max_connections=500 -c shared_buffers=64MB >"$dir/postgres.log" 2>&1 &
pid=$!
echo "started $pid"
cat >/dev/null
kill -INT "$pid" 2>/dev/null
wait "$pid"
rm -rf "$dir"
"#;

/// A running cluster, stopped when this process ends.
pub struct Cluster {
    port: u16,
    dir: PathBuf,
    /// The supervising shell; its stdin is the pipe whose end stops the server.
    child: Mutex<(Child, ChildStdin)>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// A database of its own on the process's cluster; dropped with the value.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    port: u16,
}

/// A fresh database on this process's cluster (started on first use, without `fsync`: tests
/// kill servers, not the database), or `None` when PostgreSQL is not installed.
///
/// # Panics
/// When PostgreSQL is missing and `CI` is set, or the cluster does not start.
pub fn database() -> Option<TestDatabase> {
    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
    let cluster = CLUSTER.get_or_init(|| {
        let bin = installed()?;
        Some(Cluster::start(&bin, false).unwrap_or_else(|e| panic!("{e}")))
    });
    cluster.as_ref().map(Cluster::database)
}

/// The directory of PostgreSQL's server programs (`initdb`, `postgres`): on PATH, or where
/// Debian installs them (`/usr/lib/postgresql/<version>/bin`, newest first). When missing:
/// with `CI` set this panics, otherwise it prints `SKIPPED: …` and returns `None`.
///
/// # Panics
/// When PostgreSQL is missing and `CI` is set.
pub fn installed() -> Option<PathBuf> {
    if let Some(dir) = find_bin_dir() {
        return Some(dir);
    }
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    assert!(
        !ci,
        "PostgreSQL (initdb, postgres) is not installed, and CI is set: \
         .ci/install-postgres.sh must install it"
    );
    eprintln!();
    eprintln!("**********************************************************************");
    eprintln!("SKIPPED: PostgreSQL not installed (run .ci/install-postgres.sh)");
    eprintln!("**********************************************************************");
    None
}

fn find_bin_dir() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(dir) = std::env::split_paths(&path).find(|d| d.join("initdb").is_file()) {
        // A link on PATH (as some images make) names the real directory.
        let real = std::fs::canonicalize(dir.join("initdb")).ok()?;
        return real.parent().map(Path::to_path_buf);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The user to run PostgreSQL as when this process is root: the install script's, or the
/// package's own `postgres`.
fn server_user() -> Result<Option<(String, u32, u32)>, String> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .map_err(|e| format!("cannot tell who this process is: {e}"))?;
    if me != 0 {
        return Ok(None);
    }
    for user in [TEST_USER, "postgres"] {
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, user]).output().ok()?;
            String::from_utf8(out.stdout).ok()?.trim().parse().ok()
        };
        if let (Some(uid), Some(gid)) = (id("-u"), id("-g")) {
            return Ok(Some((user.to_owned(), uid, gid)));
        }
    }
    Err(format!(
        "running as root, and neither {TEST_USER} nor postgres exists to run PostgreSQL as: \
         run .ci/install-postgres.sh"
    ))
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

impl Cluster {
    /// Makes and starts a cluster with the programs in `bin`; `fsync` off for tests, on for
    /// benchmarks that measure commits.
    ///
    /// # Errors
    /// Naming what failed, with the server's log.
    pub fn start(bin: &Path, fsync: bool) -> Result<Cluster, String> {
        let user = server_user()?;
        let mut random = [0u8; 6];
        getrandom::getrandom(&mut random).map_err(|e| e.to_string())?;
        let dir = std::env::temp_dir().join(format!("notarium-pg-{}", hex::encode(random)));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some((_, uid, gid)) = &user {
            std::os::unix::fs::chown(&dir, Some(*uid), Some(*gid))
                .map_err(|e| format!("chown {}: {e}", dir.display()))?;
        }
        let port = free_port()?;
        let fsync = if fsync { "on" } else { "off" };
        let mut cmd = match &user {
            Some((name, _, _)) => {
                let mut c = Command::new("runuser");
                c.args(["-u", name, "--", "sh"]);
                c
            }
            None => Command::new("sh"),
        };
        cmd.arg("-c")
            .arg(SUPERVISOR)
            .arg("sh")
            .arg(&dir)
            .arg(bin)
            .arg(port.to_string())
            .arg(fsync)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("cannot run sh: {e}"))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        if !line.starts_with("started ") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            let _ = child.wait();
            return Err(format!("initdb failed in {}: {err}", dir.display()));
        }
        let cluster = Cluster {
            port,
            dir,
            child: Mutex::new((child, stdin)),
        };
        cluster.wait_ready()?;
        Ok(cluster)
    }

    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            match self.admin() {
                Ok(_) => return Ok(()),
                Err(e) => {
                    let exited = self
                        .child
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                        .try_wait()
                        .ok()
                        .flatten();
                    if exited.is_some() || Instant::now() > deadline {
                        return Err(format!(
                            "PostgreSQL did not start on port {} ({e}): {}",
                            self.port,
                            self.log()
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }

    /// The URL of database `name`, as the superuser `postgres` (trusted on 127.0.0.1).
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{name}?sslmode=disable",
            self.port
        )
    }

    fn admin(&self) -> Result<postgres::Client, postgres::Error> {
        postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
    }

    /// A new, empty database.
    ///
    /// # Panics
    /// When it cannot be created.
    pub fn database(&self) -> TestDatabase {
        let mut random = [0u8; 8];
        getrandom::getrandom(&mut random).expect("randomness");
        let name = format!("t_{}", hex::encode(random));
        self.admin()
            .and_then(|mut c| c.batch_execute(&format!("CREATE DATABASE {name}")))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        TestDatabase {
            name,
            port: self.port,
        }
    }
}

impl TestDatabase {
    /// Its URL (superuser, no TLS).
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{}?sslmode=disable",
            self.port, self.name
        )
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of another database of the same cluster (superuser, no TLS).
    pub fn url_of(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    /// The URL for another role on the same database (trusted on 127.0.0.1 as well).
    pub fn url_as(&self, role: &str) -> String {
        format!(
            "postgres://{role}@127.0.0.1:{}/{}?sslmode=disable",
            self.port, self.name
        )
    }

    /// A plain client on the cluster's `postgres` database, as the superuser: to create or
    /// drop databases.
    ///
    /// # Panics
    /// When the cluster cannot be reached.
    pub fn admin(&self) -> postgres::Client {
        postgres::Client::connect(&self.url_of("postgres"), postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to the cluster: {e}"))
    }

    /// A plain client, as the superuser.
    ///
    /// # Panics
    /// When the database cannot be reached.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.name))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin = format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        );
        let name = self.name.clone();
        // A blocking client must not run on an async thread: drop on a thread of its own.
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&admin, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        })
        .join();
    }
}
