//! Helpers shared by the server's tests: an in-process app with `oneshot`, a real `notariumd`
//! process on port 0, and a minimal blocking HTTP/1.1 client for talking to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use notarium_server::{AppState, Config, RawConfig};
use serde_json::{json, Value};
use tower::ServiceExt;

/// The admin token every test server uses.
pub const ADMIN: &str = "test-admin-token-0123456789";

/// A config for `dir` with the test admin token, changed by `tweak`.
pub fn config(dir: &Path, tweak: impl FnOnce(&mut RawConfig)) -> Config {
    let mut raw = RawConfig {
        data_dir: Some(dir.to_path_buf()),
        admin_token: Some(ADMIN.into()),
        ..RawConfig::default()
    };
    tweak(&mut raw);
    raw.validate().unwrap()
}

/// An in-process server state, ready.
pub fn state(dir: &Path, tweak: impl FnOnce(&mut RawConfig)) -> AppState {
    let (state, _) = AppState::open(config(dir, tweak)).unwrap();
    state.set_ready(true);
    state
}

/// The store a contract test runs on: every contract test that does not depend on SQLite's
/// files runs on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// The embedded default: SQLite files in the data directory.
    Sqlite,
    /// A fresh database on the tests' private PostgreSQL cluster (docs/postgresql.md).
    Postgres,
}

/// What keeps a test's PostgreSQL database alive: drop it after the server state.
pub type DatabaseGuard = Option<notarium_ledger::test_postgres::TestDatabase>;

/// [`state`] on `store`. `None` when the store is PostgreSQL and it is not installed (the
/// test is skipped, said on stderr; with `CI` set the cluster's start panics instead).
pub fn state_on(
    store: Store,
    dir: &Path,
    tweak: impl FnOnce(&mut RawConfig),
) -> Option<(AppState, DatabaseGuard)> {
    match store {
        Store::Sqlite => Some((state(dir, tweak), None)),
        Store::Postgres => {
            // The PostgreSQL client blocks on a runtime of its own: start the cluster and open
            // the state off the test's runtime, as notariumd opens its ledgers before serving.
            let db = std::thread::scope(|scope| {
                scope
                    .spawn(notarium_ledger::test_postgres::database)
                    .join()
                    .expect("the test cluster starts")
            })?;
            let config = config(dir, |c| {
                c.database = Some(db.url());
                tweak(c);
            });
            let s = std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        let (s, _) = AppState::open(config).unwrap();
                        s.set_ready(true);
                        s
                    })
                    .join()
                    .expect("the state opens")
            });
            Some((s, Some(db)))
        }
    }
}

/// Runs the async contract test `$name(store)` on each store, as `$name::sqlite` and
/// `$name::postgres`.
#[macro_export]
macro_rules! on_both_stores {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::common::Store::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::common::Store::Postgres).await
            }
        }
    };
}

/// A real `notariumd` on `store` for `data_dir` with the test admin token; `None` when the
/// store is PostgreSQL and it is not installed (as [`state_on`]).
pub fn daemon_on(store: Store, data_dir: &Path) -> Option<(Daemon, DatabaseGuard)> {
    match store {
        Store::Sqlite => Some((
            Daemon::start(data_dir, &[("NOTARIUM_ADMIN_TOKEN", ADMIN)]),
            None,
        )),
        Store::Postgres => {
            let db = notarium_ledger::test_postgres::database()?;
            let url = db.url();
            let d = Daemon::start(
                data_dir,
                &[("NOTARIUM_ADMIN_TOKEN", ADMIN), ("NOTARIUM_DATABASE", &url)],
            );
            let sqlite = data_dir.join("ledgers").join("default").join("ledger.db");
            assert!(
                !sqlite.exists(),
                "{} exists: not on PostgreSQL",
                sqlite.display()
            );
            Some((d, Some(db)))
        }
    }
}

/// Runs the contract test `$name(store)` on each store, as `$name::sqlite` and
/// `$name::postgres`.
#[macro_export]
macro_rules! on_both_stores_sync {
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::common::Store::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name(super::common::Store::Postgres)
            }
        }
    };
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    /// The `error.code` of a JSON error, checking the one documented shape on the way.
    pub fn error_code(&self) -> String {
        let v = self.json();
        let obj = v.as_object().expect("error body is an object");
        assert_eq!(obj.len(), 1, "only `error` at the top: {v}");
        let e = v["error"].as_object().expect("error is an object");
        assert_eq!(e.len(), 2, "error has code and message only: {v}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        let code = e["code"].as_str().expect("code is a string");
        assert!(
            code.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "snake_case: {code}"
        );
        code.to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

/// Calls the app in process.
pub async fn call(
    state: &AppState,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let (ct, bytes) = match body {
        Some(v) => (Some("application/json"), v.to_string().into_bytes()),
        None => (None, Vec::new()),
    };
    call_raw(state, method, path, token, ct, bytes).await
}

/// Calls the app in process with a raw body and content type.
pub async fn call_raw(
    state: &AppState,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Resp {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = notarium_server::app(state.clone())
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

/// SHA-256 hex of `data`.
pub fn sha(data: &[u8]) -> String {
    notarium_core::Sha256::of(data).to_hex()
}

/// A notarization body.
pub fn artifact(name: &str) -> Value {
    json!({"sha256": sha(name.as_bytes()), "name": name})
}

/// Creates a key in process and returns `(id, secret)`.
pub async fn create_key(
    state: &AppState,
    ledger: &str,
    role: &str,
    token: &str,
) -> (String, String) {
    let r = call(
        state,
        "POST",
        &format!("/api/v1/ledgers/{ledger}/keys"),
        Some(token),
        Some(json!({"name": role, "role": role})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let v = r.json();
    (
        v["id"].as_str().unwrap().to_owned(),
        v["key"].as_str().unwrap().to_owned(),
    )
}

/// A `notariumd` process on 127.0.0.1, port 0, killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    /// Everything printed on stdout up to and including the ready line.
    pub stdout: Vec<String>,
    pub data_dir: PathBuf,
}

impl Daemon {
    /// Starts `notariumd --listen 127.0.0.1:0 --data-dir DIR` with `env` and waits for its
    /// ready line.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Daemon {
        Self::start_with_args(data_dir, env, &[])
    }

    pub fn start_with_args(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Daemon {
        Self::spawn(data_dir, env, args, Stdio::inherit())
    }

    /// Like [`Daemon::start_with_args`], with stderr (the log) sent to `stderr`.
    pub fn spawn(data_dir: &Path, env: &[(&str, &str)], args: &[&str], stderr: Stdio) -> Daemon {
        Self::spawn_wrapped(&[], data_dir, env, args, stderr)
    }

    /// Like [`Daemon::spawn`], run through `wrapper` (a command that ends by exec'ing its
    /// arguments, such as `nsenter … --` or a shell that sets a limit first), so that the
    /// child's PID is notariumd's.
    pub fn spawn_wrapped(
        wrapper: &[&str],
        data_dir: &Path,
        env: &[(&str, &str)],
        args: &[&str],
        stderr: Stdio,
    ) -> Daemon {
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(env!("CARGO_BIN_EXE_notariumd"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_notariumd")),
        };
        cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env_remove("NOTARIUM_ADMIN_TOKEN")
            .env("NOTARIUM_LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn notariumd");
        let stdout = child.stdout.take().unwrap();
        // Owned by a Daemon from here on, so that every panic below kills and reaps it.
        let mut d = Daemon {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stdout: Vec::new(),
            data_dir: data_dir.to_path_buf(),
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|e| {
                panic!(
                    "notariumd printed no ready line ({e}); stdout so far: {:?}",
                    d.stdout
                )
            });
            d.stdout.push(line.clone());
            if let Some(url) = line.strip_prefix("notariumd ready on http://") {
                d.addr = url.trim().parse().unwrap();
                let ready = d.get("/readyz", None);
                assert_eq!(ready.status, StatusCode::OK, "/readyz after the ready line");
                return d;
            }
            if let Some(url) = line.strip_prefix("notariumd ready on https://") {
                d.addr = url.trim().parse().unwrap();
                return d;
            }
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        http(self.addr, "GET", path, token, None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        http(self.addr, "POST", path, token, Some(body))
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "notariumd did not stop within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Daemon {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. `HUP`) to the process.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success(), "kill -{signal}");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`), read to the end.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Resp {
    try_http(addr, method, path, token, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Like [`http`], but reports connection errors instead of panicking.
pub fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw).ok_or_else(|| std::io::Error::other("malformed or truncated response"))
}

/// Parses one HTTP/1.1 response (head and body).
pub fn parse_response(raw: &[u8]) -> Option<Resp> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let code: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let mut headers = HeaderMap::new();
    for l in lines {
        let (k, v) = l.split_once(':')?;
        headers.append(
            axum::http::HeaderName::from_bytes(k.trim().as_bytes()).ok()?,
            v.trim().parse().ok()?,
        );
    }
    let mut body = raw[end + 4..].to_vec();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v == "chunked")
    {
        body = dechunk(&body)?;
    } else if let Some(len) = headers.get("content-length") {
        let len: usize = len.to_str().ok()?.parse().ok()?;
        if body.len() < len {
            return None;
        }
        body.truncate(len);
    }
    Some(Resp {
        status: StatusCode::from_u16(code).ok()?,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let nl = data.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&data[..nl]).ok()?.trim(), 16).ok()?;
        data = &data[nl + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}
