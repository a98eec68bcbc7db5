//! `notariumd` run as a service for a team, on real processes: one process per data directory,
//! connections that pile up (idle, slow headers, a 1,024-descriptor limit), protocol errors,
//! readiness when storage cannot write (a real full disk), ledger creation on a full disk, the
//! admin token's hand-over, the origin frozen at first start, HTTPS with certificate reloads.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use notarium_e2e::ci_plugins::require_tool;
use notarium_e2e::tls::TestCa;
use serde_json::json;

const L: &str = "/api/v1/ledgers/default";

fn new_key(d: &Daemon, role: &str) -> String {
    let r = d.post(
        &format!("{L}/keys"),
        Some(ADMIN),
        &json!({"name": "test", "role": role}),
    );
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()["key"].as_str().unwrap().to_owned()
}

/// Polls `check` until it holds or `within` passes.
fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_second_notariumd_on_a_directory_in_use_exits_at_once_naming_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Daemon::start(&data, &[("NOTARIUM_ADMIN_TOKEN", ADMIN)]);
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_notariumd"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("NOTARIUM_ADMIN_TOKEN", ADMIN)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "at once");
    assert!(
        stderr.contains(&format!("in use by process {}", first.pid())),
        "names the process: {stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ready"));
    assert_eq!(first.get("/readyz", None).status, StatusCode::OK);

    // The kernel drops the lock with the process, however it ends.
    drop(first);
    let again = Daemon::start(&data, &[("NOTARIUM_ADMIN_TOKEN", ADMIN)]);
    assert_eq!(again.terminate().code(), Some(0));
}

/// Raises this process's own descriptor limit to `want` if needed (it holds the client end of
/// every connection it opens).
fn ensure_open_files(want: usize) {
    let limit = notarium_server::connections::open_files_limit().unwrap_or(0);
    if limit >= want {
        return;
    }
    let ok = Command::new("prlimit")
        .args([
            "--pid",
            &std::process::id().to_string(),
            &format!("--nofile={want}:{want}"),
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "this test holds {want} connections; raise the open-files limit (ulimit -n {want})"
    );
}

/// The server's end of how many of `conns` it has closed: a read sees the end of the stream
/// (or a reset) at once.
fn closed_by_server(conns: &[TcpStream]) -> usize {
    conns
        .iter()
        .filter(|s| {
            s.set_nonblocking(true).unwrap();
            let mut b = [0u8; 1];
            match (&**s).read(&mut b) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            }
        })
        .count()
}

#[test]
fn idle_connections_over_the_descriptor_limit_leave_healthz_and_notarize_answering() {
    ensure_open_files(4096);
    // notariumd with the usual default of 1,024 open files; the shell execs it.
    let ulimit = ["bash", "-c", "ulimit -n 1024 && exec \"$0\" \"$@\""];
    for per_address in ["0", "256"] {
        let dir = tempfile::tempdir().unwrap();
        let d = Daemon::spawn_wrapped(
            &ulimit,
            &dir.path().join("data"),
            &[
                ("NOTARIUM_ADMIN_TOKEN", ADMIN),
                ("NOTARIUM_MAX_CONNECTIONS_PER_ADDRESS", per_address),
                // Only the caps close connections here, not the time limits.
                ("NOTARIUM_HEADER_READ_TIMEOUT_MS", "600000"),
            ],
            &[],
            Stdio::inherit(),
        );
        let key = new_key(&d, "write");
        let mut idle = Vec::new();
        for i in 0..1100 {
            let mut s = TcpStream::connect(d.addr).unwrap();
            if i % 10 == 0 {
                // A slow client: half a request head, then nothing.
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    .unwrap();
            }
            idle.push(s);
        }
        for i in 0..20 {
            let r = try_http(d.addr, "GET", "/healthz", None, None)
                .unwrap_or_else(|e| panic!("healthz {i} (per address {per_address}): {e}"));
            assert_eq!(r.status, StatusCode::OK);
            let r = try_http(
                d.addr,
                "POST",
                &format!("{L}/entries"),
                Some(&key),
                Some(&artifact(&format!("under-load-{per_address}-{i}"))),
            )
            .unwrap_or_else(|e| panic!("notarize {i} (per address {per_address}): {e}"));
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        }
        // The server kept at most its cap: 1,024 descriptors minus its reserve of 256, or the
        // per-address cap; the connections that waited longest were closed.
        let kept = if per_address == "0" { 768 } else { 256 };
        eventually(
            Duration::from_secs(10),
            "evicted connections closed",
            || closed_by_server(&idle) >= idle.len() - kept,
        );
        // And the newest idle connection is still served.
        let last = idle.last_mut().unwrap();
        last.set_nonblocking(false).unwrap();
        last.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        last.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut raw = Vec::new();
        last.read_to_end(&mut raw).unwrap();
        assert_eq!(parse_response(&raw).unwrap().status, StatusCode::OK);
    }
}

#[test]
fn slow_headers_and_idle_connections_are_closed_but_slow_bodies_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &dir.path().join("data"),
        &[
            ("NOTARIUM_ADMIN_TOKEN", ADMIN),
            ("NOTARIUM_HEADER_READ_TIMEOUT_MS", "600"),
            ("NOTARIUM_IDLE_TIMEOUT_MS", "1500"),
        ],
    );
    let key = new_key(&d, "write");
    let closed_after = |s: &mut TcpStream| -> Duration {
        let started = Instant::now();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        started.elapsed()
    };

    let mut silent = TcpStream::connect(d.addr).unwrap();
    let mut slow = TcpStream::connect(d.addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let t = closed_after(&mut slow);
    assert!(
        t < Duration::from_secs(5),
        "a half-sent head is cut off after the header timeout: {t:?}"
    );
    let t = closed_after(&mut silent);
    assert!(t < Duration::from_secs(5), "a silent connection too: {t:?}");

    // An idle keep-alive connection lives for the idle timeout, not the header timeout.
    let mut idle = TcpStream::connect(d.addr).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let n = idle.read(&mut buf).unwrap();
    assert!(std::str::from_utf8(&buf[..n])
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    let t = closed_after(&mut idle);
    assert!(
        t >= Duration::from_millis(1200) && t < Duration::from_secs(8),
        "closed after the idle timeout: {t:?}"
    );

    // A body that takes longer than the header timeout is not cut: the request is in flight.
    let body = artifact("slow-body").to_string();
    let mut s = TcpStream::connect(d.addr).unwrap();
    write!(
        s,
        "POST {L}/entries HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body.as_bytes()[..10]).unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1000) {
        std::thread::sleep(Duration::from_millis(100));
    }
    s.write_all(&body.as_bytes()[10..]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    assert_eq!(parse_response(&raw).unwrap().status, StatusCode::CREATED);
}

/// Sends raw bytes and reads the answer to the end (the server closes after a protocol error).
fn raw(addr: SocketAddr, request: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse_response(&out)
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(&out)))
}

#[test]
fn protocol_errors_carry_the_json_error_body() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"), &[("NOTARIUM_ADMIN_TOKEN", ADMIN)]);
    let long_target = format!(
        "/api/v1/ledgers/default/entries?name={}",
        "n".repeat(10_000)
    );
    let huge_target = format!("/healthz?x={}", "n".repeat(40_000));
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "garbage request line",
            b"HELLO THERE\r\n\r\n".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        (
            "a header without a colon",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_request",
        ),
        (
            "a 10 KiB request target",
            format!("GET {long_target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .into_bytes(),
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
        ),
        (
            "a 40 KiB request target",
            format!("GET {huge_target} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
        ),
        (
            "a 40 KiB header",
            format!(
                "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "b".repeat(40_000)
            )
            .into_bytes(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
        ),
    ];
    for (what, request, status, code) in cases {
        let r = raw(d.addr, &request);
        assert_eq!(r.status, status, "{what}");
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/json"),
            "{what}"
        );
        assert_eq!(r.error_code(), code, "{what}: {}", r.text());
    }
    // A protocol error after a good request on the same connection is answered the same way.
    let r = raw(
        d.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n",
    );
    assert_eq!(r.status, StatusCode::OK, "the first answer");
    assert_eq!(d.get("/healthz", None).status, StatusCode::OK);
}

/// A tmpfs of `size` mounted in a mount namespace of its own, kept by a holder process, so that
/// a test can fill a real file system without touching the machine's. Processes join it with
/// [`Tmpfs::wrapper`]; the test reaches its files through `/proc/<holder>/root`.
struct Tmpfs {
    holder: std::process::Child,
    dir: PathBuf,
    _base: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (with a SKIPPED note, or a failure under CI) where namespaces are not allowed.
    fn mount(size: &str) -> Option<Tmpfs> {
        require_tool("unshare", "server")?;
        require_tool("nsenter", "server")?;
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("fs");
        std::fs::create_dir(&dir).unwrap();
        let mut holder = Command::new("unshare")
            .args([
                "--user",
                "--map-root-user",
                "--mount",
                "--propagation",
                "private",
            ])
            .args([
                "sh",
                "-c",
                "mount -t tmpfs -o size=\"$1\" tmpfs \"$0\" && echo mounted && exec cat",
            ])
            .arg(&dir)
            .arg(size)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut out = std::io::BufReader::new(holder.stdout.take().unwrap());
        let _ = std::io::BufRead::read_line(&mut out, &mut line);
        if line.trim() != "mounted" {
            let _ = holder.kill();
            let out = holder.wait_with_output().unwrap();
            let why = String::from_utf8_lossy(&out.stderr);
            let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
            assert!(
                !ci,
                "cannot mount a tmpfs in a user namespace under CI: {why}"
            );
            eprintln!("SKIPPED: no user and mount namespaces here ({why})");
            return None;
        }
        Some(Tmpfs {
            holder,
            dir,
            _base: base,
        })
    }

    /// The command prefix that runs a program inside the namespace.
    fn wrapper(&self) -> Vec<String> {
        ["nsenter", "-t", &self.holder.id().to_string()]
            .into_iter()
            .map(str::to_owned)
            .chain(
                ["-U", "-m", "--preserve-credentials", "--"]
                    .into_iter()
                    .map(str::to_owned),
            )
            .collect()
    }

    /// `rel` inside the tmpfs, as the test sees it from outside the namespace.
    fn outside(&self, rel: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.holder.id()))
            .join(self.dir.strip_prefix("/").unwrap())
            .join(rel)
    }

    /// Writes `rel` until the file system is full.
    fn fill(&self, rel: &str) {
        let mut f = std::fs::File::create(self.outside(rel)).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
        let _ = f.sync_all();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

#[test]
fn a_full_disk_makes_readyz_fail_and_a_ledger_creation_leave_nothing_behind() {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let wrapper = fs.wrapper();
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let data = fs.dir.join("data");
    let env = [("NOTARIUM_ADMIN_TOKEN", ADMIN)];
    let start = || Daemon::spawn_wrapped(&wrapper, &data, &env, &[], Stdio::inherit());
    let mut d = start();
    let key = new_key(&d, "write");
    let r = d.post(&format!("{L}/entries"), Some(&key), &artifact("before"));
    assert_eq!(r.status, StatusCode::CREATED);

    fs.fill("filler");
    eventually(
        Duration::from_secs(10),
        "readyz reports the full disk",
        || {
            let r = d.get("/readyz", None);
            r.status == StatusCode::SERVICE_UNAVAILABLE && r.error_code() == "storage_unwritable"
        },
    );
    assert_eq!(
        d.get("/healthz", None).status,
        StatusCode::OK,
        "alive all along"
    );
    let r = d.post(
        "/api/v1/ledgers",
        Some(ADMIN),
        &json!({"name": "second", "public_read": true}),
    );
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(r.error_code(), "storage_unavailable");
    assert!(
        !fs.outside("data/ledgers/second").exists(),
        "a failed creation leaves nothing behind"
    );

    std::fs::remove_file(fs.outside("filler")).unwrap();
    eventually(
        Duration::from_secs(10),
        "ready again once space is freed",
        || d.get("/readyz", None).status == StatusCode::OK,
    );
    // The server restarts on that directory, and the creation now works.
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    d = start();
    let r = d.post("/api/v1/ledgers", Some(ADMIN), &json!({"name": "second"}));
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = d.get(&format!("{L}/artifacts/{}", sha(b"before")), Some(&key));
    assert_eq!(r.json()["status"], "trusted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_a_ledger_whose_writer_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), |_| {});
    let r = call(
        &s,
        "POST",
        &format!("{L}/entries"),
        Some(ADMIN),
        Some(artifact("one")),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        call(&s, "GET", "/readyz", None, None).await.status,
        StatusCode::OK
    );
    // Someone changes the stored checkpoint, then a commit fails (the database is locked):
    // the writer cannot reload a state it trusts and stops.
    let db = rusqlite::Connection::open(dir.path().join("ledgers/default/ledger.db")).unwrap();
    db.execute(
        "UPDATE checkpoints SET note = replace(note, '\n1\n', '\n7\n') \
         WHERE size = (SELECT max(size) FROM checkpoints)",
        [],
    )
    .unwrap();
    db.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let r = call(
        &s,
        "POST",
        &format!("{L}/entries"),
        Some(ADMIN),
        Some(artifact("two")),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    db.execute_batch("ROLLBACK").unwrap();
    let r = call(&s, "GET", "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.error_code(), "ledger_stopped");
    let r = call(
        &s,
        "POST",
        &format!("{L}/entries"),
        Some(ADMIN),
        Some(artifact("three")),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "and it stays stopped"
    );
}

#[test]
fn the_first_admin_token_goes_to_stderr_only_on_a_terminal() {
    let Some(script) = require_tool("script", "server") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // `script` gives the server a terminal for stdin, stdout and stderr.
    let cmd = format!(
        "exec {} --listen 127.0.0.1:0 --data-dir {}",
        env!("CARGO_BIN_EXE_notariumd"),
        data.display()
    );
    let mut child = Command::new(script)
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env_remove("NOTARIUM_ADMIN_TOKEN")
        .env("NOTARIUM_LOG_LEVEL", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let token = loop {
        let mut line = String::new();
        assert!(
            std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0,
            "ended before the token: {seen}"
        );
        seen.push_str(&line);
        if let Some(t) = line
            .trim()
            .strip_prefix("admin token (shown once, only its hash is stored): ")
        {
            break t.to_owned();
        }
        assert!(Instant::now() < deadline, "{seen}");
    };
    assert!(token.starts_with("na_"));
    assert!(
        !data.join("admin-token.first-start").exists(),
        "on a terminal, no file"
    );
    // Stop the server itself (its PID is in the lock file), then `script`.
    let pid = std::fs::read_to_string(data.join("notariumd.lock")).unwrap();
    let _ = Command::new("kill").args(["-TERM", pid.trim()]).status();
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_origin_comes_from_public_url_and_a_changed_one_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start_with_args(
        &data,
        &[("NOTARIUM_ADMIN_TOKEN", ADMIN)],
        &["--public-url", "https://notary.example.com/notarium/"],
    );
    let announced = d
        .stdout
        .iter()
        .find(|l| l.starts_with("ledger default created with origin"))
        .unwrap_or_else(|| panic!("{:?}", d.stdout));
    assert!(
        announced.contains("notary.example.com/notarium/default (from public_url)"),
        "{announced}"
    );
    assert_eq!(
        d.get(L, Some(ADMIN)).json()["origin"],
        "notary.example.com/notarium/default"
    );
    let doc = d.get("/openapi.json", None).json();
    assert_eq!(
        doc["servers"][0]["url"],
        "https://notary.example.com/notarium"
    );
    assert_eq!(d.terminate().code(), Some(0));

    let out = Command::new(env!("CARGO_BIN_EXE_notariumd"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .args(["--public-url", "https://elsewhere.example.com"])
        .env("NOTARIUM_ADMIN_TOKEN", ADMIN)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in [
        "notary.example.com/notarium/default",
        "elsewhere.example.com/default",
        "set origin_prefix",
    ] {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
    // Following the advice works, with the new public URL kept for links.
    let d = Daemon::start_with_args(
        &data,
        &[
            ("NOTARIUM_ADMIN_TOKEN", ADMIN),
            ("NOTARIUM_ORIGIN_PREFIX", "notary.example.com/notarium"),
        ],
        &["--public-url", "https://elsewhere.example.com"],
    );
    assert_eq!(
        d.get(L, Some(ADMIN)).json()["origin"],
        "notary.example.com/notarium/default"
    );
}

/// One HTTP/1.1 request over an open TLS stream; the answer's status.
async fn tls_request<S>(stream: &mut S, request: &str) -> u16
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed before a whole answer");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(r) = parse_response(&buf) {
            return r.status.as_u16();
        }
    }
}

/// A TLS client that trusts `ca` only.
fn tls_connector(ca: &str) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// The certificate a new connection is served with.
async fn served_certificate(addr: SocketAddr, connector: &tokio_rustls::TlsConnector) -> Vec<u8> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_certificate_reloaded_on_sighup_and_on_change_while_clients_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let tls_dir = dir.path().join("tls");
    std::fs::create_dir(&tls_dir).unwrap();
    let ca = TestCa::new();
    let first = ca.issue("first");
    let (cert, key) = first.install(&tls_dir);
    let data = dir.path().join("data");
    let d = tokio::task::spawn_blocking({
        let (cert, key) = (cert.clone(), key.clone());
        move || {
            Daemon::start_with_args(
                &data,
                &[
                    ("NOTARIUM_ADMIN_TOKEN", ADMIN),
                    ("NOTARIUM_RATE_LIMIT_PER_SECOND", "0"),
                ],
                &[
                    "--tls-cert",
                    cert.to_str().unwrap(),
                    "--tls-key",
                    key.to_str().unwrap(),
                ],
            )
        }
    })
    .await
    .unwrap();
    assert!(d
        .stdout
        .last()
        .unwrap()
        .starts_with("notariumd ready on https://"));
    let addr = d.addr;
    let base = format!("https://localhost:{}", addr.port());
    let connector = tls_connector(ca.pem());
    assert_eq!(served_certificate(addr, &connector).await, first.der);

    // Plain HTTP on the HTTPS port gets no answer.
    let plain = tokio::task::spawn_blocking(move || try_http(addr, "GET", "/healthz", None, None))
        .await
        .unwrap();
    assert!(plain.is_err() || plain.unwrap().status != StatusCode::OK);

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let r = client
        .post(format!("{base}{L}/keys"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "ci", "role": "write"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let writer = r.json::<serde_json::Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();

    // A connection opened before any reload, and a client notarizing all along.
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut early = connector
        .connect(name, tokio::net::TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap();
    let get = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert_eq!(tls_request(&mut early, get).await, 200);
    let stop = Arc::new(AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = tokio::spawn({
        let (client, base, writer) = (client.clone(), base.clone(), writer.clone());
        let (stop, done, failed) = (stop.clone(), done.clone(), failed.clone());
        async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let r = client
                    .post(format!("{base}{L}/entries"))
                    .bearer_auth(&writer)
                    .json(&artifact(&format!("during-reload-{i}")))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => done.fetch_add(1, Ordering::SeqCst),
                    _ => failed.fetch_add(1, Ordering::SeqCst),
                };
            }
        }
    });

    // SIGHUP: new connections get the new certificate at once.
    let second = ca.issue("second");
    second.install(&tls_dir);
    d.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_certificate(addr, &connector).await != second.der {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A changed file is picked up without a signal.
    let third = ca.issue("third");
    third.install(&tls_dir);
    let deadline = Instant::now() + Duration::from_secs(15);
    while served_certificate(addr, &connector).await != third.der {
        assert!(
            Instant::now() < deadline,
            "the changed files were not reloaded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A key that does not match its certificate is refused; the current pair stays.
    let fourth = ca.issue("fourth");
    std::fs::write(&cert, &fourth.cert_pem).unwrap();
    d.signal("HUP");
    let stay_until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < stay_until {
        assert_eq!(served_certificate(addr, &connector).await, third.der);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    assert_eq!(
        tls_request(&mut early, get).await,
        200,
        "the connection opened before the reloads still works"
    );
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();
    assert!(done.load(Ordering::SeqCst) > 0);
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "no request failed across the reloads"
    );
    drop(d);
}

#[test]
fn the_example_configuration_documents_every_key_and_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/notariumd.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    for key in notarium_server::config::KEYS {
        assert!(
            text.lines().any(|l| l
                .trim_start_matches(['#', ' '])
                .starts_with(&format!("{key}:"))),
            "{key} is not in {}",
            path.display()
        );
    }
    // Loads as it is (the files it names exist on a real host; here only the parsing and the
    // checks that need no files).
    let raw = notarium_server::RawConfig::from_file(&path).unwrap();
    let mut raw = raw;
    raw.admin_token_file = None;
    raw.metrics_token_file = None;
    raw.tls_cert = None;
    raw.tls_key = None;
    let config = raw.validate().unwrap();
    assert_eq!(config.origin_prefix, "notary.example.com");
    // And a real notariumd starts with it, given files of its own.
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let (cert, key) = ca.issue("example").install(dir.path());
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, format!("{ADMIN}\n")).unwrap();
    let metrics_file = dir.path().join("metrics-token");
    std::fs::write(&metrics_file, "metrics-token-0123456789\n").unwrap();
    let adapted = text
        .replace("/etc/notarium/admin-token", token_file.to_str().unwrap())
        .replace(
            "/etc/notarium/metrics-token",
            metrics_file.to_str().unwrap(),
        )
        .replace("/etc/notarium/tls/cert.pem", cert.to_str().unwrap())
        .replace("/etc/notarium/tls/key.pem", key.to_str().unwrap());
    let cfg = dir.path().join("notariumd.yaml");
    std::fs::write(&cfg, adapted).unwrap();
    let d = Daemon::start_with_args(
        &dir.path().join("data"),
        &[],
        &["--config", cfg.to_str().unwrap()],
    );
    assert!(d
        .stdout
        .last()
        .unwrap()
        .starts_with("notariumd ready on https://"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_storage_whose_writes_hang_without_piling_up_probes() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), |_| {});
    assert_eq!(
        call(&s, "GET", "/readyz", None, None).await.status,
        StatusCode::OK
    );
    // A FIFO where the probe writes: opening it for writing blocks until someone reads, as a
    // write to a frozen file system blocks until it thaws.
    let probe = dir.path().join(".notariumd-write-probe");
    let made = Command::new("mkfifo").arg(&probe).status().unwrap();
    assert!(made.success());
    // Past the interval in which the last answer is reused.
    tokio::time::sleep(notarium_server::health::PROBE_INTERVAL).await;
    let started = Instant::now();
    let r = call(&s, "GET", "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.error_code(), "storage_unresponsive");
    assert!(started.elapsed() >= notarium_server::health::PROBE_TIMEOUT);
    // While that write hangs, readiness answers at once and starts no second one.
    let started = Instant::now();
    let r = call(&s, "GET", "/readyz", None, None).await;
    assert_eq!(r.error_code(), "storage_unresponsive");
    assert!(started.elapsed() < notarium_server::health::PROBE_TIMEOUT);
    assert_eq!(
        call(&s, "GET", "/healthz", None, None).await.status,
        StatusCode::OK
    );
    // Thaw: a reader takes the write; the probe ends and the next one succeeds.
    let reader = std::fs::File::open(&probe).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = call(&s, "GET", "/readyz", None, None).await;
        if r.status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "not ready again: {}", r.text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(reader);
    assert!(!probe.exists(), "the probe cleans up after itself");
}
