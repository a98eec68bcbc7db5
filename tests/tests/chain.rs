//! The whole chain, as a user on a bare runner meets it: `scripts/release` builds the Linux
//! archives and `SHA256SUMS`; a local HTTP server serves them as the project's release (and,
//! at another path, a mirror whose CLI archive was tampered with); `scripts/pin` writes the
//! release's checksums into a copy of the plugins; then each plugin, with no `notarium` on
//! PATH — the GitHub Action in act, the GitLab components in gitlab-ci-local included from
//! their own project, the Jenkins library in its harness — downloads the pinned archive,
//! checks it, notarizes and authenticates against a real `notariumd`; from the tampered
//! mirror it stops with a message that says what to do, and nothing runs (the tampered
//! `notarium` leaves a mark if it ever does, and the server sees no request).
//!
//! The release is built once per test process (`notarium_e2e::release`); without
//! cargo-zigbuild or a plugin's runner the tests skip, with `CI` set they fail.

use notarium_e2e::ci_plugins::{path_without_notarium, require_tool};
use notarium_e2e::github::{path_without, tool, ActRepo, Outputs};
use notarium_e2e::gitlab::{assert_job, Components, Project};
use notarium_e2e::jenkins::{groovy, scenario, World};
use notarium_e2e::proxy::Proxy;
use notarium_e2e::release::{host_platform, pinned_plugins, release, ReleaseServer};
use notarium_e2e::Setup;
use serde_json::json;

/// What every plugin prints when the mirror's archive is not the release.
const MISMATCH: &str = "SHA-256 mismatch for ";
/// The advice that comes with it.
const ADVICE: &str = "A mirror must serve the release's files unchanged";

#[test]
fn github_action_downloads_the_pinned_release_and_refuses_a_tampered_one() {
    let Some(r) = release() else { return };
    let Some(act) = tool("act") else { return };
    let served = ReleaseServer::start(r);
    let pinned = pinned_plugins(r);
    let archive = r.cli_archive(host_platform());
    let s = Setup::new();
    // Everything the action sends to the server goes through the proxy, which counts.
    let proxy = Proxy::start(s.server.url());
    let repo = ActRepo::with_action(&pinned.path().join("plugins/github-action"));
    let (work, state, out) = (repo.dir("work"), repo.dir("state"), repo.dir("out"));
    let path = path_without("notarium");
    let env = |base: &str| {
        vec![
            ("E2E_SERVER", proxy.url().to_owned()),
            ("E2E_WORK", work.display().to_string()),
            ("E2E_STATE", state.display().to_string()),
            ("E2E_OUT", out.display().to_string()),
            ("E2E_SIGNER", s.writer.id.clone()),
            ("E2E_NOTARIUM_BASE_URL", base.to_owned()),
        ]
    };

    // Build and notarize, then authenticate in a later job: both download notarium.
    let run = repo.run(
        &act,
        "authenticate",
        &env(&served.base_url()),
        &s.writer.secret,
        &path,
    );
    run.expect_success()
        .expect_log(&format!(
            "notarium: downloading {}/{archive}",
            served.base_url()
        ))
        .expect_log("### Notarium notarize: notarized (exit 0)")
        .expect_log("### Notarium authenticate: trusted (exit 0)");
    assert_eq!(
        served.downloads(),
        [archive.clone(), archive.clone()],
        "each job downloads the archive once"
    );
    let notarized = Outputs::read(&out, "notarize");
    assert_eq!(
        (notarized.status.as_str(), notarized.exit_code.as_str()),
        ("notarized", "0")
    );
    let authenticated = Outputs::read(&out, "authenticate");
    assert_eq!(authenticated.status, "trusted");
    for (_, status) in authenticated.statuses() {
        assert_eq!(status, "trusted");
    }
    // The notarization is real: the workspace's own CLI finds it trusted.
    s.cli
        .clone()
        .current_dir(&work)
        .run(["authenticate", "dist/app-linux.bin"])
        .expect_code(0);

    // The tampered mirror: the step stops with the mismatch and the advice, no notarium runs,
    // the server hears nothing.
    let before = proxy.forwarded();
    let run = repo.run(
        &act,
        "verify",
        &env(&served.tampered_base_url()),
        &s.writer.secret,
        &path,
    );
    run.expect_failure()
        .expect_log(MISMATCH)
        .expect_log(ADVICE)
        .expect_log("nothing was unpacked or run");
    assert!(served.tampered_downloads() > 0, "{run}");
    assert!(!served.tampered_ran(), "the tampered notarium ran: {run}");
    assert_eq!(
        proxy.forwarded(),
        before,
        "something reached the server: {run}"
    );
    let refused = Outputs::read(&out, "verify");
    assert_eq!(
        (
            refused.status.as_str(),
            refused.exit_code.as_str(),
            refused.json.as_str()
        ),
        ("setup_failed", "64", "")
    );
}

#[test]
fn gitlab_components_download_the_pinned_release_and_refuse_a_tampered_one() {
    let Some(r) = release() else { return };
    let Some(gcl) = require_tool("gitlab-ci-local", "gitlab") else {
        return;
    };
    let served = ReleaseServer::start(r);
    let pinned = pinned_plugins(r);
    let archive = r.cli_archive(host_platform());
    let s = Setup::new();
    let proxy = Proxy::start(s.server.url());
    let components = Components::publish(pinned.path());
    assert_eq!(components.version(), r.version());
    let p = Project::new(
        &gcl,
        &components,
        "chain.gitlab-ci.yml",
        &[],
        &[("NOTARIUM_API_KEY", s.writer.secret.as_str())],
    );
    let vars = [
        ("NOTARIUM_TEST_SERVER", proxy.url().to_owned()),
        ("NOTARIUM_TEST_VERIFIER_KEY", s.server.verifier_key()),
        ("NOTARIUM_TEST_BASE_URL", served.base_url()),
        (
            "NOTARIUM_TEST_TAMPERED_BASE_URL",
            served.tampered_base_url(),
        ),
    ];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let path = path_without_notarium();

    let out = p.run(
        &path,
        &vars,
        &["build", "notarize", "authenticate", "deploy"],
    );
    out.expect_code(0)
        .expect_output(&format!(
            "notarium: downloading {}/{archive}",
            served.base_url()
        ))
        .expect_output("deploying on verdict trusted")
        .expect_absent(&s.writer.secret);
    for job in ["build", "notarize", "authenticate", "deploy"] {
        assert_job(&out, job, "PASS");
    }
    p.assert_verdict("notarize", "trusted", 0);
    p.assert_verdict("authenticate", "trusted", 0);
    assert_eq!(served.downloads(), [archive.clone(), archive.clone()]);
    s.cli
        .run([
            "authenticate".as_ref(),
            p.artifact("build", "dist/app.tar.gz").as_os_str(),
        ])
        .expect_code(0);

    let before = proxy.forwarded();
    let out = p.run(&path, &vars, &["build", "tampered"]);
    out.expect_code(1)
        .expect_output(MISMATCH)
        .expect_output(ADVICE);
    assert_job(&out, "tampered", "FAIL");
    p.assert_verdict("tampered", "setup_failed", 64);
    assert!(served.tampered_downloads() > 0, "{out}");
    assert!(!served.tampered_ran(), "the tampered notarium ran: {out}");
    assert_eq!(
        proxy.forwarded(),
        before,
        "something reached the server: {out}"
    );
}

#[test]
fn jenkins_library_downloads_the_pinned_release_and_refuses_a_tampered_one() {
    let Some(r) = release() else { return };
    let Some(groovy) = groovy() else { return };
    let served = ReleaseServer::start(r);
    let pinned = pinned_plugins(r);
    let archive = r.cli_archive(host_platform());
    let mut w = World::new(&groovy);
    let proxy = Proxy::start(w.s.server.url());
    w.agent = w.agent.with_library(&pinned.path().join("plugins/jenkins"));
    // The Jenkins configuration of the README's setup, plus the mirror as a global property.
    let server = proxy.url().to_owned();
    let vkey = w.s.server.verifier_key();
    let base = served.base_url();
    let tampered = served.tampered_base_url();
    let b = w.agent.build(
        &scenario("chain.groovy"),
        1,
        &[
            ("NOTARIUM_SERVER", server.as_str()),
            ("NOTARIUM_VERIFIER_KEY", vkey.as_str()),
            ("NOTARIUM_BASE_URL", base.as_str()),
            ("TEST_TAMPERED_BASE_URL", tampered.as_str()),
        ],
        Some(path_without_notarium()),
        |_| {},
    );
    b.expect_result("SUCCESS")
        .expect_echo("notarize: trusted 0")
        .expect_echo("authenticate: trusted 0")
        .expect_echo("tampered: setup_failed 64");
    b.out
        .expect_output(&format!("notarium: downloading {base}/{archive}"))
        .expect_output(MISMATCH)
        .expect_output(ADVICE);
    w.expect_no_secret(&b);
    assert_eq!(served.downloads(), [archive.clone(), archive.clone()]);
    assert!(served.tampered_downloads() > 0);
    assert!(
        !served.tampered_ran(),
        "the tampered notarium ran: {}",
        b.out
    );
    // notarium came from the download, never from PATH (the recording shim is not on it).
    assert!(w.agent.argv().is_empty(), "{:?}", w.agent.argv());
    // The tampered call wrote no result: notarium never ran.
    assert!(!b
        .workspace
        .path()
        .join("tampered/authenticate.json")
        .exists());
    let receipt = b.json("notarium-receipts/dist_app.tar.gz.receipt.json");
    assert_eq!(receipt["entry"]["status"], json!("trusted"));
    assert!(proxy.forwarded() > 0);
}
