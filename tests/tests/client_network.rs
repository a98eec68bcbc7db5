//! How the client behaves on the network, with the real `notarium` and `notarium-github`
//! against a real `notariumd`: it waits as long as `Retry-After` says when the server refuses
//! for now (429, 503), a bounded number of times, and never sends a write again when the server
//! may have acted on it; and it speaks HTTPS to a server whose certificate comes from a CA it
//! is given (`--ca-file`, `NOTARIUM_CA_FILE`), here a TLS-terminating proxy with a CA made at
//! run time.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use notarium_e2e::github::{notarium_github, MockGitHub};
use notarium_e2e::proxy::{Fault, Proxy, Route};
use notarium_e2e::{Run, Server, Setup, Workdir};

/// How many times the client asks again before it gives up (README, "Quick start with the
/// CLI").
const MAX_RETRIES: usize = 5;

fn refuse(route: Route, times: usize, status: StatusCode, retry_after: &str, code: &str) -> Fault {
    Fault {
        route,
        times,
        after_forwarding: false,
        status,
        retry_after: Some(retry_after.to_owned()),
        body: Fault::api_error(code, "refused by the test"),
    }
}

/// The entries of ledger `default` with this artifact name, as the server has them.
fn recorded(s: &Setup, name: &str) -> usize {
    let run = s.cli.run(["search", "--name", name, "--output", "json"]);
    run.expect_code(0);
    run.results().len()
}

#[test]
fn rate_limited_requests_wait_for_retry_after() {
    // The server's own rate limit, set low enough that one command runs into it.
    let server = Server::start_with_env(&[
        ("NOTARIUM_RATE_LIMIT_PER_SECOND", "1"),
        ("NOTARIUM_RATE_LIMIT_BURST", "1"),
    ]);
    let writer = server.create_key("ci", "write");
    let work = Workdir::new();
    for n in ["a", "b", "c"] {
        work.write(n, n.as_bytes());
    }
    let cli = server
        .cli()
        .with_key(&writer.secret)
        .current_dir(work.path());
    let run = cli.run(["notarize", "a", "b", "c", "--output", "json"]);
    run.expect_code(0).expect_stderr("retrying in");
    assert_eq!(run.results().len(), 3);
    assert_eq!(
        run.json()["checkpoint"]["size"],
        4,
        "the key and each artifact, recorded once: {run}"
    );
    let run = cli.run(["authenticate", "a", "b", "c", "--output", "json"]);
    run.expect_code(0);
    assert!(run.results().iter().all(|r| r["status"] == "trusted"));
}

#[test]
fn a_write_refused_before_the_server_acted_is_sent_again_and_recorded_once() {
    let s = Setup::new();
    let proxy = Proxy::start(s.server.url());
    let cli = s.cli.with_server(proxy.url());
    s.work.write("app", b"app\n");
    s.work.write("lib", b"lib\n");
    s.work.write("doc", b"doc\n");

    proxy.fault(refuse(
        Route::Notarize,
        2,
        StatusCode::TOO_MANY_REQUESTS,
        "1",
        "rate_limited",
    ));
    let run = cli.run(["notarize", "app"]);
    run.expect_code(0).expect_stderr("retrying in 1 s");
    assert_eq!(proxy.seen(Route::Notarize), 3);

    // 503 `overloaded` is the server's gate refusing before any handler ran: as safe.
    proxy.fault(refuse(
        Route::BatchNotarize,
        1,
        StatusCode::SERVICE_UNAVAILABLE,
        "1",
        "overloaded",
    ));
    cli.run(["notarize", "lib", "doc"]).expect_code(0);
    assert_eq!(proxy.seen(Route::BatchNotarize), 2);

    for name in ["app", "lib", "doc"] {
        assert_eq!(recorded(&s, name), 1, "{name} is recorded once");
    }
}

#[test]
fn a_write_the_server_may_have_acted_on_is_never_sent_again() {
    let s = Setup::new();
    let proxy = Proxy::start(s.server.url());
    let cli = s.cli.with_server(proxy.url());
    s.work.write("app", b"app\n");
    s.work.write("lib", b"lib\n");
    s.work.write("doc", b"doc\n");
    s.work.write("bin", b"bin\n");

    // The server timed out answering, after it may have recorded the entry: here it did.
    proxy.fault(Fault {
        route: Route::Notarize,
        times: 1,
        after_forwarding: true,
        status: StatusCode::SERVICE_UNAVAILABLE,
        retry_after: Some("1".into()),
        body: Fault::api_error(
            "timeout",
            "the request took too long; a write may still have been recorded",
        ),
    });
    let run = cli.run(["notarize", "app"]);
    run.expect_code(6).expect_stderr("not sent again");
    assert_eq!(proxy.seen(Route::Notarize), 1, "{run}");
    assert_eq!(recorded(&s, "app"), 1, "the server's one entry");

    // A gateway in front of the server that gave up waiting, with its own body.
    proxy.fault(Fault {
        route: Route::BatchNotarize,
        times: 1,
        after_forwarding: true,
        status: StatusCode::SERVICE_UNAVAILABLE,
        retry_after: Some("1".into()),
        body: "upstream timed out".into(),
    });
    cli.run(["notarize", "lib", "doc"])
        .expect_code(6)
        .expect_stderr("not sent again");
    assert_eq!(proxy.seen(Route::BatchNotarize), 1);
    assert_eq!(recorded(&s, "lib"), 1);

    // The server's storage failed: a commit that reported an error may still be durable.
    proxy.fault(refuse(
        Route::Notarize,
        1,
        StatusCode::SERVICE_UNAVAILABLE,
        "1",
        "storage_unavailable",
    ));
    cli.run(["notarize", "bin"])
        .expect_code(6)
        .expect_stderr("not sent again");
    assert_eq!(proxy.seen(Route::Notarize), 2);
}

#[test]
fn reads_are_asked_again_a_bounded_number_of_times() {
    let s = Setup::new();
    s.work.write("app", b"app\n");
    s.cli.run(["notarize", "app"]).expect_code(0);
    let proxy = Proxy::start(s.server.url());
    let cli = s.cli.with_server(proxy.url());

    // A read is asked again even after a timeout: asking twice changes nothing.
    proxy.fault(Fault {
        route: Route::Artifact,
        times: 2,
        after_forwarding: true,
        status: StatusCode::SERVICE_UNAVAILABLE,
        retry_after: Some("0".into()),
        body: Fault::api_error("timeout", "the request took too long"),
    });
    let run = cli.run(["authenticate", "app"]);
    run.expect_code(0).expect_stderr("retrying");
    assert_eq!(proxy.seen(Route::Artifact), 3);

    // A server that keeps refusing: the first request and `max_retries` more, then exit 6.
    proxy.fault(refuse(
        Route::Artifact,
        1000,
        StatusCode::TOO_MANY_REQUESTS,
        "0",
        "rate_limited",
    ));
    let run = cli.run(["authenticate", "app"]);
    run.expect_code(6).expect_stderr("gave up");
    assert_eq!(proxy.seen(Route::Artifact), 3 + 1 + MAX_RETRIES, "{run}");

    // A wait longer than the client's whole budget is not waited at all.
    proxy.pass_through();
    proxy.fault(refuse(
        Route::Artifact,
        1,
        StatusCode::TOO_MANY_REQUESTS,
        "3600",
        "rate_limited",
    ));
    let started = Instant::now();
    let run = cli.run(["authenticate", "app"]);
    run.expect_code(6).expect_stderr("3600");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "gave up at once: {run}"
    );
}

#[test]
fn https_with_a_ca_file_for_notarium() {
    let s = Setup::new();
    let tls = Proxy::start_tls(s.server.url());
    let ca = s.work.write("ca.pem", tls.ca_pem().as_bytes());
    let ca = ca.to_str().expect("UTF-8 path");
    s.work.write("app", b"app\n");
    let cli = s.cli.with_server(tls.url());

    // The system roots alone do not trust the test CA.
    cli.run(["authenticate", "app"])
        .expect_code(6)
        .expect_stderr("certificate")
        .expect_stderr("--ca-file");
    cli.run(["notarize", "app", "--ca-file", ca]).expect_code(0);
    let with_env = cli.clone().env("NOTARIUM_CA_FILE", ca);
    with_env.run(["authenticate", "app"]).expect_code(0);
    with_env.run(["audit"]).expect_code(0);
    assert!(tls.forwarded() > 0);

    // Another CA's bundle is not enough.
    let other = Proxy::start_tls(s.server.url());
    s.work.write("other-ca.pem", other.ca_pem().as_bytes());
    cli.run(["authenticate", "app", "--ca-file", "other-ca.pem"])
        .expect_code(6);
    // A bundle that is missing or holds no certificate is a usage error.
    cli.run(["authenticate", "app", "--ca-file", "missing.pem"])
        .expect_code(64)
        .expect_stderr("missing.pem");
    s.work.write("empty.pem", b"no certificate here\n");
    cli.run(["authenticate", "app", "--ca-file", "empty.pem"])
        .expect_code(64)
        .expect_stderr("no PEM certificate");
}

fn github_run(
    gh: &MockGitHub,
    s: &Setup,
    server: &str,
    state: &std::path::Path,
    extra: &[(&'static str, String)],
    args: &[&str],
) -> Run {
    let mut env = vec![
        ("GITHUB_TOKEN", "ghs_token".to_owned()),
        ("GITHUB_REPOSITORY", "acme/app".to_owned()),
        ("GITHUB_API_URL", gh.api_url().to_owned()),
        ("NOTARIUM_SERVER", server.to_owned()),
        ("NOTARIUM_API_KEY", s.writer.secret.clone()),
        ("NOTARIUM_STATE_DIR", state.display().to_string()),
    ];
    env.extend_from_slice(extra);
    notarium_github(args, &env, b"")
}

#[test]
fn https_with_a_ca_file_for_notarium_github() {
    let s = Setup::new();
    let tls = Proxy::start_tls(s.server.url());
    let ca = s.work.write("ca.pem", tls.ca_pem().as_bytes());
    let gh = MockGitHub::start("acme/app", "ghs_token");
    gh.add_release("v1.0", &[("app.tar.gz", b"app\n")]);
    let state = tempfile::tempdir().expect("temporary directory");
    let notarize = ["release", "notarize", "--tag", "v1.0", "--output", "json"];

    github_run(&gh, &s, tls.url(), state.path(), &[], &notarize)
        .expect_code(6)
        .expect_stderr("certificate");
    let with_ca = [("NOTARIUM_CA_FILE", ca.display().to_string())];
    github_run(&gh, &s, tls.url(), state.path(), &with_ca, &notarize).expect_code(0);
    let mut args = vec!["--ca-file", ca.to_str().expect("UTF-8 path")];
    args.extend(["release", "authenticate", "--tag", "v1.0"]);
    github_run(&gh, &s, tls.url(), state.path(), &[], &args).expect_code(0);
}
