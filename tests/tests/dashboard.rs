//! The dashboard and audit reports, end to end: a real `notariumd` with data made by the real
//! `notarium` CLI; `notarium verify-report` on real reports (valid, and tampered in each way it
//! must catch); the dashboard's verification module under Node's test runner; and the
//! dashboard itself in Debian's chromium driven by playwright-core (`tests/browser/`).
//!
//! The browser test needs `/usr/bin/chromium`, `node` and `tests/browser/node_modules`
//! (`.ci/install-browser.sh` installs them). Without them it prints a loud SKIPPED line, except
//! under CI (`CI` set), where it fails. Screenshots of every page are kept in
//! `target/dashboard-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use notarium_core::Timestamp;
use notarium_e2e::oidc::MockIssuer;
use notarium_e2e::{bin_dir, Server, Setup};
use serde_json::Value;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// How long the whole browser run may take.
const BROWSER_DEADLINE: Duration = Duration::from_secs(600);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// `GET url` with a bearer token: the status and the body.
fn get(url: &str, token: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let resp = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a client")
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .expect("the server answers");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("a body"))
    })
}

fn now() -> Timestamp {
    let us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_micros();
    Timestamp(us as i64)
}

/// What is missing to run the browser test, if anything.
fn missing_browser_tools() -> Option<String> {
    let chromium =
        std::env::var("NOTARIUM_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).is_file() {
        return Some(format!("chromium not installed at {chromium}"));
    }
    if missing_node() {
        return Some("node not installed".into());
    }
    if !browser_dir()
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        return Some("playwright-core not installed in tests/browser".into());
    }
    None
}

fn missing_node() -> bool {
    Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_or(true, |s| !s.success())
}

/// Under CI a missing tool is a failure; on a developer's machine a loud skip.
fn skip_or_fail(what: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("{what}: run .ci/install-browser.sh (CI must run the browser tests)");
    }
    eprintln!("SKIPPED: {what} (run .ci/install-browser.sh)");
    println!("SKIPPED: {what} (run .ci/install-browser.sh)");
    true
}

/// Runs `node ARGS` in `tests/browser` with `envs`, within [`BROWSER_DEADLINE`]; panics with
/// its output unless it succeeds.
fn node(args: &[&str], envs: &[(&str, String)]) {
    let dir = browser_dir();
    let log = tempfile::NamedTempFile::new().expect("a log file");
    let mut cmd = Command::new("node");
    cmd.args(args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log.reopen().expect("log"))
        .stderr(log.reopen().expect("log"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    // The page must reach 127.0.0.1 directly.
    for k in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(k);
    }
    let mut child = cmd.spawn().expect("node starts");
    let deadline = Instant::now() + BROWSER_DEADLINE;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for node") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "node {args:?} took longer than {BROWSER_DEADLINE:?}:\n{}",
                std::fs::read_to_string(log.path()).unwrap_or_default()
            );
        }
        // A bounded wait for an external process, not a synchronisation between threads.
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(log.path()).unwrap_or_default();
    println!("{output}");
    assert!(
        status.success(),
        "node {args:?} failed ({status}):\n{output}"
    );
}

#[test]
fn verify_js_passes_its_unit_tests_in_node() {
    if missing_node() && skip_or_fail("node not installed") {
        return;
    }
    node(&["--test", "unit/"], &[]);
}

/// `answer` (an authenticate answer's JSON text) with its checkpoint re-signed by `key` without
/// the `notarium-index/v1` line, and every receipt it carries holding that checkpoint: what a
/// server that hides its index could serve, signed by the right key.
fn without_index_line(answer: &str, key: &notarium_core::SignerKey) -> Value {
    let mut v: Value = serde_json::from_str(answer).unwrap();
    let note = v["checkpoint"].as_str().unwrap().to_owned();
    let mut body = notarium_core::UnverifiedCheckpoint::parse(&note)
        .unwrap()
        .claimed()
        .clone();
    assert!(body.index_root().unwrap().is_some());
    body.extensions
        .retain(|l| !l.starts_with("notarium-index/"));
    let resigned = body.sign(key).unwrap().note().to_owned();
    fn swap(v: &mut Value, from: &str, to: &str) {
        match v {
            Value::String(s) if s == from => *s = to.to_owned(),
            Value::Array(a) => a.iter_mut().for_each(|x| swap(x, from, to)),
            Value::Object(m) => m.values_mut().for_each(|x| swap(x, from, to)),
            _ => {}
        }
    }
    swap(&mut v, &note, &resigned);
    v
}

/// Runs `notarium verify-report` on `report` as written to `path`.
fn verify(s: &Setup, path: &Path, report: &Value, key: &str) -> notarium_e2e::Run {
    std::fs::write(path, serde_json::to_vec_pretty(report).unwrap()).unwrap();
    s.cli.run([
        "verify-report",
        path.to_str().unwrap(),
        "--verifier-key",
        key,
    ])
}

#[test]
fn verify_report_checks_real_reports_offline() {
    let s = Setup::new();
    let vkey = s.server.verifier_key();
    // Separate runs: separate batches, each with its own time.
    for (i, name) in ["a.tar.gz", "b.tar.gz", "c.tar.gz", "d.tar.gz"]
        .iter()
        .enumerate()
    {
        s.work.write(name, format!("artifact {i}").as_bytes());
        s.cli.run(["notarize", name]).expect_code(0);
    }
    s.cli.run(["untrust", "b.tar.gz"]).expect_code(0);
    let temp = s.server.create_key("temp", "read");
    s.server
        .admin()
        .run(["key", "revoke", &temp.id])
        .expect_code(0);
    s.cli.run(["notarize", "c.tar.gz"]).expect_code(0);

    let base = format!("{}/api/v1/ledgers/default/report", s.server.url());
    let (status, body) = get(&base, &s.writer.secret);
    assert_eq!(status, 200, "{body}");
    let full: Value = serde_json::from_str(&body).unwrap();
    let path = s.work.path().join("report.json");

    // Valid: with the pinned key, in text and JSON.
    let run = verify(&s, &path, &full, &vkey);
    run.expect_code(0);
    assert!(run.stdout.contains("VALID"), "{run}");
    assert!(
        run.stdout
            .contains("5 notarizations, 1 status changes, 2 keys created, 1 revocations"),
        "{run}"
    );
    let json = s.cli.run([
        "verify-report",
        path.to_str().unwrap(),
        "--verifier-key",
        vkey.as_str(),
        "--output",
        "json",
    ]);
    json.expect_code(0);
    assert_eq!(json.json()["valid"], true);
    assert_eq!(json.json()["summary"]["entries"], 9);
    // The key this CLI pinned on first use is used when none is given.
    s.cli
        .run(["verify-report", path.to_str().unwrap()])
        .expect_code(0);

    // A tampered entry, made self-consistent (entry, leaf and leaf hash agree): only the
    // inclusion proof can tell.
    let mut r = full.clone();
    let leaf = B64
        .decode(r["entries"][2]["leaf"].as_str().unwrap())
        .unwrap();
    let forged = String::from_utf8(leaf)
        .unwrap()
        .replace("b.tar.gz", "x.tar.gz")
        .into_bytes();
    r["entries"][2]["leaf"] = B64.encode(&forged).into();
    r["entries"][2]["leaf_hash"] = notarium_core::leaf_hash(&forged).to_hex().into();
    r["entries"][2]["entry"] = serde_json::from_slice(&forged).unwrap();
    let run = verify(&s, &path, &r, &vkey);
    run.expect_code(5).expect_stderr("inclusion proof");

    // A dropped entry.
    let mut r = full.clone();
    r["entries"].as_array_mut().unwrap().remove(4);
    r["summary"]["entries"] = 8.into();
    verify(&s, &path, &r, &vkey)
        .expect_code(5)
        .expect_stderr("the report lists 8");

    // A report of the middle, from the third batch on: a real consistency proof to break.
    let since = full["entries"][3]["entry"]["time"].as_str().unwrap();
    let until = full["entries"][7]["entry"]["time"].as_str().unwrap();
    let (status, body) = get(
        &format!("{base}?since={since}&until={until}"),
        &s.writer.secret,
    );
    assert_eq!(status, 200, "{body}");
    let mid: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(mid["range"]["first_index"], 3);
    assert_eq!(mid["range"]["end_index"], 7);
    assert!(!mid["consistency_proof"].as_array().unwrap().is_empty());
    verify(&s, &path, &mid, &vkey).expect_code(0);

    let mut r = mid.clone();
    let h = r["consistency_proof"][0].as_str().unwrap();
    let flipped = format!("{}{}", if h.starts_with('0') { '1' } else { '0' }, &h[1..]);
    r["consistency_proof"][0] = flipped.into();
    verify(&s, &path, &r, &vkey)
        .expect_code(5)
        .expect_stderr("consistency proof");

    // The neighbours prove that nothing was left out at either end.
    let mut r = mid.clone();
    r.as_object_mut().unwrap().remove("before");
    verify(&s, &path, &r, &vkey)
        .expect_code(5)
        .expect_stderr("before the range");
    let mut r = mid.clone();
    let later = Timestamp(Timestamp::parse(until).unwrap().0 + 1);
    r["range"]["until"] = later.to_string().into();
    verify(&s, &path, &r, &vkey)
        .expect_code(5)
        .expect_stderr("leaves it out");

    // Another ledger's key does not verify; no key at all is a usage error; so is no file.
    s.server
        .admin()
        .run(["ledger", "create", "other"])
        .expect_code(0);
    let (_, other) = get(
        &format!("{}/api/v1/ledgers/other", s.server.url()),
        s.server.admin_token(),
    );
    let other: Value = serde_json::from_str(&other).unwrap();
    verify(&s, &path, &full, other["verifier_key"].as_str().unwrap())
        .expect_code(5)
        .expect_stderr("origin");
    s.cli
        .with_fresh_state()
        .run(["verify-report", path.to_str().unwrap()])
        .expect_code(64)
        .expect_stderr("--verifier-key");
    s.cli
        .run([
            "verify-report",
            "missing.json",
            "--verifier-key",
            vkey.as_str(),
        ])
        .expect_code(64);
    std::fs::write(&path, "{\"not\": \"a report\"}").unwrap();
    s.cli
        .run([
            "verify-report",
            path.to_str().unwrap(),
            "--verifier-key",
            vkey.as_str(),
        ])
        .expect_code(5);
}

#[test]
fn dashboard_in_chromium() {
    if let Some(what) = missing_browser_tools() {
        if skip_or_fail(&what) {
            return;
        }
    }
    let since = report_since();
    let (mock, audience) = (MockIssuer::start(), "https://notarium.example.com");
    let s = Setup::of(Server::start_configured(
        Some(&oidc_config(&mock, audience)),
        &[],
    ));
    let url = s.server.url().to_owned();
    browser_suite(&s, &url, since, "dashboard-screenshots", &mock, audience);
}

/// A server that trusts a (mock) CI issuer: one artifact is notarized with its token.
fn oidc_config(mock: &MockIssuer, audience: &str) -> String {
    format!(
        "oidc:\n  issuers:\n    - issuer: {}\n      provider: github\n      audience: {audience}\n      ca_bundle: {}\n      server_url: https://github.com\n      rules:\n        - {{ledger: default, role: write, claims: {{repository_id: \"892345617\"}}}}\n",
        mock.issuer(),
        mock.ca_bundle().display()
    )
}

/// The same suite through a real nginx that serves the dashboard and the API under
/// `/notarium`, with `public_url` set accordingly: every page, script and API call must go
/// through the prefix (the suite fails on any request outside it).
#[test]
fn dashboard_in_chromium_behind_nginx_under_a_prefix() {
    if let Some(what) = missing_browser_tools() {
        if skip_or_fail(&what) {
            return;
        }
    }
    let since = report_since();
    let port = notarium_e2e::nginx::free_port();
    let public = format!("http://127.0.0.1:{port}/notarium");
    let (mock, audience) = (MockIssuer::start(), "https://notarium.example.com");
    let s = Setup::of(Server::start_configured(
        Some(&oidc_config(&mock, audience)),
        &[("NOTARIUM_PUBLIC_URL", &public)],
    ));
    let Some(nginx) = notarium_e2e::nginx::Nginx::start(port, s.server.url(), "/notarium", None)
    else {
        return;
    };
    assert_eq!(nginx.url(), public);
    let (status, page) = get(&format!("{public}/"), "");
    assert_eq!(status, 200);
    assert!(
        page.contains("src=\"/notarium/assets/app.js\""),
        "the page links its scripts under the prefix: {page}"
    );
    browser_suite(
        &s,
        &public,
        since,
        "dashboard-screenshots-behind-nginx",
        &mock,
        audience,
    );
    assert!(
        nginx
            .access_log()
            .contains("GET /notarium/api/v1/ledgers/default"),
        "the dashboard's API calls went through the proxy"
    );
}

/// Before any entry: the start of the audit report's range, on a whole second (the
/// datetime-local inputs hold seconds). Taken before the server starts.
fn report_since() -> Timestamp {
    let t = now().0 - 2_000_000;
    Timestamp(t - t.rem_euclid(1_000_000))
}

/// Notarizes the suite's files with the real CLI (directly at the server; one with a token of
/// the mock CI issuer), then runs `dashboard.test.mjs` against `url` and checks its screenshots
/// and downloaded report. Screenshots go to `target/<shots>/`.
fn browser_suite(
    s: &Setup,
    url: &str,
    since: Timestamp,
    shots: &str,
    mock: &MockIssuer,
    audience: &str,
) {
    let vkey = s.server.verifier_key();
    for i in 1..=12 {
        s.work.write(
            &format!("dist/app-{i:02}.tar.gz"),
            format!("build {i}").as_bytes(),
        );
    }
    let trusted = s.work.write("release.zip", b"the release");
    let untrusted = s.work.write("bad.bin", b"a build that went wrong");
    let unknown = s.work.write("unknown.bin", b"never notarized");
    s.cli
        .run(["notarize", "dist", "--attr", "build=42"])
        .expect_code(0);
    s.cli
        .run(["notarize", "release.zip", "bad.bin"])
        .expect_code(0);
    s.cli.run(["untrust", "bad.bin"]).expect_code(0);
    // Built by CI: the token's identity is verified; the environment asserts another repository.
    let by_ci = s.work.write("built-by-ci.tar.gz", b"built by a CI job");
    let token = mock.mint(&mock.current_kid(), &mock.github_claims(audience));
    s.server
        .cli()
        .with_key(&token)
        .current_dir(s.work.path())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/spoofed")
        .run(["notarize", "built-by-ci.tar.gz", "--ci"])
        .expect_code(0);
    // The trusted file's answer now: its index proof is of a root that later entries change.
    let answer_url = |file: &Path| {
        let sha = notarium_core::Sha256::of(&std::fs::read(file).unwrap());
        format!("{}/api/v1/ledgers/default/artifacts/{sha}", s.server.url())
    };
    let (status, earlier) = get(&answer_url(&trusted), &s.writer.secret);
    assert_eq!(status, 200, "{earlier}");
    // A file notarized by a key that was revoked since: it authenticates as revoked.
    let revoked = s
        .work
        .write("old-signer.tar.gz", b"signed by a key revoked since");
    let retired = s.server.create_key("retired-ci", "write");
    s.cli
        .with_key(&retired.secret)
        .run(["notarize", "old-signer.tar.gz"])
        .expect_code(0);
    s.server
        .admin()
        .run(["key", "revoke", &retired.id])
        .expect_code(0);
    let (status, body) = get(
        &format!("{}/api/v1/ledgers/default", s.server.url()),
        &s.writer.secret,
    );
    assert_eq!(status, 200, "{body}");
    let size = serde_json::from_str::<Value>(&body).unwrap()["size"]
        .as_u64()
        .unwrap();
    assert_eq!(size, 20, "two keys, 17 artifact entries, a revocation");
    // The trusted file's answer as a server hiding the index would give it: its checkpoint
    // re-signed by the ledger's own key without the notarium-index/v1 line.
    let (status, current) = get(&answer_url(&trusted), &s.writer.secret);
    assert_eq!(status, 200, "{current}");
    let unindexed = without_index_line(&current, &s.server.signing_key());
    let answers = tempfile::tempdir().unwrap();
    let earlier_path = answers.path().join("earlier.json");
    std::fs::write(&earlier_path, &earlier).unwrap();
    let unindexed_path = answers.path().join("unindexed.json");
    std::fs::write(&unindexed_path, unindexed.to_string()).unwrap();

    let shots = bin_dir().parent().expect("target/").join(shots);
    std::fs::create_dir_all(&shots).unwrap();
    let downloads = tempfile::tempdir().unwrap();
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    node(
        &["--test", "--test-concurrency=1", "dashboard.test.mjs"],
        &[
            ("NOTARIUM_URL", url.to_owned()),
            ("NOTARIUM_ADMIN_TOKEN", s.server.admin_token().to_owned()),
            ("NOTARIUM_WRITE_KEY", s.writer.secret.clone()),
            ("NOTARIUM_VERIFIER_KEY", vkey.clone()),
            ("NOTARIUM_FILE_TRUSTED", path(&trusted)),
            ("NOTARIUM_FILE_UNTRUSTED", path(&untrusted)),
            ("NOTARIUM_FILE_UNKNOWN", path(&unknown)),
            ("NOTARIUM_FILE_CI", path(&by_ci)),
            (
                "NOTARIUM_FILE_CI_SHA256",
                notarium_core::Sha256::of(b"built by a CI job").to_hex(),
            ),
            ("NOTARIUM_CI_ISSUER", mock.issuer().to_owned()),
            ("NOTARIUM_FILE_REVOKED", path(&revoked)),
            ("NOTARIUM_EARLIER_ANSWER", path(&earlier_path)),
            ("NOTARIUM_UNINDEXED_ANSWER", path(&unindexed_path)),
            ("NOTARIUM_EXPECTED_SIZE", size.to_string()),
            ("NOTARIUM_REPORT_SINCE", since.to_string()),
            ("NOTARIUM_SCREENSHOTS", path(&shots)),
            ("NOTARIUM_DOWNLOADS", path(downloads.path())),
        ],
    );
    for name in [
        "01-sign-in-failed",
        "02-overview",
        "03-entries",
        "04-artifact",
        "04b-artifact-identity",
        "05-verify",
        "06-verify-tampered-proof",
        "06b-verify-hidden-revocation",
        "06c-artifact-hidden-later-entry",
        "07-admin-new-key",
        "08-admin-revoked",
        "09-report",
        "10-report-print",
        "11-report-html",
    ] {
        assert!(
            shots.join(format!("{name}.png")).is_file(),
            "screenshot {name} is missing"
        );
    }

    // The report downloaded from the browser verifies offline with the real CLI.
    let report = downloads.path().join("report.json");
    let run = s.cli.run([
        "verify-report",
        report.to_str().unwrap(),
        "--verifier-key",
        vkey.as_str(),
    ]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("VALID") && run.stdout.contains("2 revocations"),
        "{run}"
    );
    let html = std::fs::read_to_string(downloads.path().join("report.html")).unwrap();
    assert!(html.contains("Audit report of ledger default") && !html.contains("<script"));
}
