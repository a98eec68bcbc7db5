//! The composite GitHub Action (`plugins/github-action`) run by act in host mode, against a
//! real `notariumd` and the `notarium` built from this workspace: notarize build outputs,
//! authenticate them in a later job, fail on a tampered file with the right status, catch a
//! rolled-back server in a later run through the state carried between runs, download
//! notarium only when its SHA-256 matches, and turn an unreachable server into a warning when
//! asked. Plus the lints: actionlint, zizmor and shellcheck on the action and the workflow.
//!
//! Tools missing on a developer's machine skip the test loudly; with `CI` set they fail it.

use std::path::Path;

use notarium_core::Sha256;
use notarium_e2e::github::{
    action_dir, fixtures_dir, path_with, path_without, tool, ActRepo, Outputs, WORKFLOW,
};
use notarium_e2e::proxy::{Proxy, Route};
use notarium_e2e::{bin_dir, binary, Setup};
use serde_json::{json, Value};

/// The notice the CLI prints when it has no stored state and trusts the server's key.
const TOFU: &str = "trusting this key on first use";

/// Runs a lint tool and asserts that it passes.
fn lint(tool: &Path, args: &[&str], dir: &Path) {
    let out = std::process::Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the linter runs");
    assert!(
        out.status.success(),
        "{} {args:?} found problems:\n{}\n{}",
        tool.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn action_and_workflow_pass_actionlint_zizmor_and_shellcheck() {
    let (Some(actionlint), Some(zizmor), Some(shellcheck)) =
        (tool("actionlint"), tool("zizmor"), tool("shellcheck"))
    else {
        return;
    };
    // actionlint checks the workflow, including the inputs it gives the local action, in a
    // repository laid out as a user's would be.
    let repo = ActRepo::new();
    lint(
        &actionlint,
        &[&format!(".github/workflows/{WORKFLOW}")],
        &repo.repo(),
    );
    // zizmor audits the composite action and the workflow (offline: no GitHub API).
    let config = fixtures_dir().join("zizmor.yml");
    lint(
        &zizmor,
        &[
            "--offline",
            "--config",
            &config.to_string_lossy(),
            "action.yml",
        ],
        &action_dir(),
    );
    lint(
        &zizmor,
        &[
            "--offline",
            "--config",
            &config.to_string_lossy(),
            &format!("workflows/{WORKFLOW}"),
        ],
        &fixtures_dir(),
    );
    lint(&shellcheck, &["notarium-action.sh"], &action_dir());
}

/// The environment the test workflow reads.
fn env(server: &str, work: &Path, state: &Path, out: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("E2E_SERVER", server.to_owned()),
        ("E2E_WORK", work.display().to_string()),
        ("E2E_STATE", state.display().to_string()),
        ("E2E_OUT", out.display().to_string()),
    ]
}

fn with(
    mut env: Vec<(&'static str, String)>,
    k: &'static str,
    v: &str,
) -> Vec<(&'static str, String)> {
    env.retain(|(key, _)| *key != k);
    env.push((k, v.to_owned()));
    env
}

/// Every file of a directory tree with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable directory") {
            let p = e.expect("directory entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.display().to_string(),
                    std::fs::read(&p).expect("readable"),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn notarize_authenticate_tamper_and_rollback_across_runs() {
    let Some(act) = tool("act") else { return };
    let s = Setup::new();
    // The workflow talks to the server through a proxy, which passes everything through
    // until the last runs, where it plays a server restored from an old backup.
    let proxy = Proxy::start(s.server.url());
    let before = s.cli.run(["checkpoint"]);
    before.expect_code(0);
    let old_checkpoint = before.stdout.clone();

    let repo = ActRepo::new();
    let (work, state, out) = (repo.dir("work"), repo.dir("state"), repo.dir("out"));
    let env = env(proxy.url(), &work, &state, &out);
    let path = path_with(&bin_dir());
    let _ = binary("notarium");
    let key = &s.writer.secret;

    // Run 1: build and notarize, then a deploy job authenticates (only the CI key's entries).
    let run1 = repo.run(
        &act,
        "authenticate",
        &with(env.clone(), "E2E_SIGNER", &s.writer.id),
        key,
        &path,
    );
    run1.expect_success()
        .expect_log("### Notarium notarize: notarized (exit 0)")
        .expect_log("### Notarium authenticate: trusted (exit 0)")
        .expect_log("| ✅ | `dist/app-linux.bin` | trusted |");
    assert!(
        !run1.log.contains(key.as_str()),
        "the API key leaked into the log: {run1}"
    );
    assert_eq!(
        run1.count(TOFU),
        1,
        "only the very first job trusts on first use: {run1}"
    );

    let notarized = Outputs::read(&out, "notarize");
    assert_eq!(
        (notarized.status.as_str(), notarized.exit_code.as_str()),
        ("notarized", "0")
    );
    let names = [
        "dist/app-linux.bin",
        "dist/app-macos.bin",
        "dist/SHA256SUMS",
    ];
    assert_eq!(
        notarized.statuses(),
        names.map(|n| (n.to_owned(), "trusted".to_owned())).to_vec()
    );
    for r in notarized.doc()["results"].as_array().expect("results") {
        assert_eq!(r["signer"], json!(s.writer.id), "{r}");
        let file = work.join(r["subject"].as_str().expect("subject"));
        let bytes = std::fs::read(&file).expect("the build output is on the host");
        assert_eq!(r["sha256"], json!(Sha256::of(&bytes).to_hex()), "{r}");
    }

    // The receipts: one per output, verifiable offline, with the CI context and attributes.
    let receipts = Path::new(&notarized.receipts);
    assert_eq!(receipts, work.join("receipts"));
    let mut files: Vec<String> = std::fs::read_dir(receipts)
        .expect("the receipts directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "dist_SHA256SUMS.receipt.json",
            "dist_SHA256SUMS.tlog-proof",
            "dist_app-linux.bin.receipt.json",
            "dist_app-linux.bin.tlog-proof",
            "dist_app-macos.bin.receipt.json",
            "dist_app-macos.bin.tlog-proof",
        ]
    );
    let receipt: Value = serde_json::from_str(
        &std::fs::read_to_string(receipts.join("dist_app-linux.bin.receipt.json"))
            .expect("a receipt per output"),
    )
    .expect("JSON receipt");
    assert_eq!(
        receipt["entry"]["ci"]["provider"],
        json!("github"),
        "{receipt}"
    );
    assert_eq!(
        receipt["entry"]["attributes"],
        json!({ "channel": "e2e", "release": "1.0" })
    );
    s.server
        .cli()
        .run([
            "verify-receipt".as_ref(),
            receipts.join("dist_app-linux.bin.receipt.json").as_os_str(),
            work.join("dist/app-linux.bin").as_os_str(),
            "--verifier-key".as_ref(),
            s.server.verifier_key().as_ref(),
        ])
        .expect_code(0);

    let authenticated = Outputs::read(&out, "authenticate");
    assert_eq!(
        (
            authenticated.status.as_str(),
            authenticated.exit_code.as_str()
        ),
        ("trusted", "0")
    );
    assert_eq!(
        authenticated.statuses(),
        names.map(|n| (n.to_owned(), "trusted".to_owned())).to_vec()
    );
    assert_eq!(
        authenticated.receipts, "",
        "authenticate writes no receipts"
    );

    // Run 2: a build output changed after notarization. The job fails, as unknown (exit 2),
    // with an annotation on the file; the state from run 1 was read (no first-use notice).
    let run2 = repo.run(&act, "tampered", &env, key, &path);
    run2.expect_failure()
        .expect_log("::error file=dist/app-linux.bin,title=Notarium%3A unknown::")
        .expect_log("| ❌ | `dist/app-linux.bin` | unknown |");
    assert_eq!(
        run2.count(TOFU),
        0,
        "run 2 did not use the state of run 1: {run2}"
    );
    let tampered = Outputs::read(&out, "tampered");
    assert_eq!(
        (tampered.status.as_str(), tampered.exit_code.as_str()),
        ("unknown", "2")
    );
    assert_eq!(
        tampered.statuses(),
        vec![
            ("dist/app-linux.bin".to_owned(), "unknown".to_owned()),
            ("dist/app-macos.bin".to_owned(), "trusted".to_owned()),
        ]
    );

    // Runs 3 and 4: the server is "restored from a backup" taken before run 1. It answers
    // with its genuine old checkpoint, signed by the right key, in which the outputs were
    // never notarized: every answer is exactly what that server said back then.
    let old = old_checkpoint.clone();
    proxy.replace(Route::Checkpoint, old_checkpoint.clone());
    proxy.rewrite_json(Route::BatchAuthenticate, move |v| {
        v["checkpoint"] = json!(old);
        for r in v["results"].as_array_mut().expect("results") {
            *r = json!({ "sha256": r["sha256"], "status": "unknown" });
        }
    });
    let state_before = snapshot(&state);
    let run3 = repo.run(&act, "verify", &env, key, &path);
    run3.expect_failure().expect_log("rollback");
    let rolled_back = Outputs::read(&out, "verify");
    assert_eq!(
        (rolled_back.status.as_str(), rolled_back.exit_code.as_str()),
        ("verification_failed", "5"),
        "{run3}"
    );
    assert!(
        proxy.tampered() > 0,
        "the proxy did not play the old server: {run3}"
    );
    assert_eq!(
        snapshot(&state),
        state_before,
        "the state moved after a failed verification"
    );

    // The control: without the state carried over, the same old answers are believed.
    let fresh = repo.dir("fresh-state");
    let run4 = repo.run(
        &act,
        "verify",
        &with(env.clone(), "E2E_STATE", &fresh.display().to_string()),
        key,
        &path,
    );
    run4.expect_failure();
    assert_eq!(run4.count(TOFU), 1, "{run4}");
    let believed = Outputs::read(&out, "verify");
    assert_eq!(
        (believed.status.as_str(), believed.exit_code.as_str()),
        ("unknown", "2"),
        "{run4}"
    );
}

#[test]
fn notarium_is_downloaded_only_with_the_pinned_checksum() {
    let Some(act) = tool("act") else { return };
    let s = Setup::new();
    let proxy = Proxy::start(s.server.url());
    let repo = ActRepo::new();
    let (work, state, out) = (repo.dir("work"), repo.dir("state"), repo.dir("out"));
    for f in ["dist/app-macos.bin", "dist/SHA256SUMS"] {
        let p = work.join(f);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("dist");
        std::fs::write(&p, format!("{f}\n")).expect("write");
    }
    s.cli
        .clone()
        .current_dir(&work)
        .run(["notarize", "dist"])
        .expect_code(0);

    // The "release asset": the workspace's notarium, by URL. notarium is not on PATH.
    let notarium = binary("notarium");
    let url = format!("file://{}", notarium.display());
    let sha = Sha256::of(&std::fs::read(&notarium).expect("notarium is readable")).to_hex();
    let path = path_without("notarium");
    let env = with(
        env(proxy.url(), &work, &state, &out),
        "E2E_NOTARIUM_URL",
        &url,
    );

    let wrong = format!("{}{}", &sha[1..], &sha[..1]);
    let run = repo.run(
        &act,
        "verify",
        &with(env.clone(), "E2E_NOTARIUM_SHA256", &wrong),
        &s.writer.secret,
        &path,
    );
    run.expect_failure()
        .expect_log("notarium is not on PATH: downloading")
        .expect_log("checksum mismatch");
    assert!(
        !run.log.contains("notarium --output json"),
        "notarium ran: {run}"
    );
    assert_eq!(proxy.forwarded(), 0, "something reached the server: {run}");
    let refused = Outputs::read(&out, "verify");
    assert_eq!(
        (refused.status.as_str(), refused.json.as_str()),
        ("usage", "")
    );

    let run = repo.run(
        &act,
        "verify",
        &with(env, "E2E_NOTARIUM_SHA256", &sha.to_uppercase()),
        &s.writer.secret,
        &path,
    );
    run.expect_success()
        .expect_log("notarium is not on PATH: downloading");
    let ok = Outputs::read(&out, "verify");
    assert_eq!(
        (ok.status.as_str(), ok.exit_code.as_str()),
        ("trusted", "0"),
        "{run}"
    );
    assert!(proxy.forwarded() > 0);
}

#[test]
fn an_unreachable_server_fails_or_warns() {
    let Some(act) = tool("act") else { return };
    let repo = ActRepo::new();
    let (work, state, out) = (repo.dir("work"), repo.dir("state"), repo.dir("out"));
    for f in ["dist/app-macos.bin", "dist/SHA256SUMS"] {
        let p = work.join(f);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("dist");
        std::fs::write(&p, format!("{f}\n")).expect("write");
    }
    // A port that nothing listens on any more.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("address"))
    };
    let path = path_with(&bin_dir());
    let _ = binary("notarium");
    let env = env(&closed, &work, &state, &out);

    let run = repo.run(
        &act,
        "verify",
        &with(env.clone(), "E2E_ON_UNREACHABLE", "fail"),
        "e2e-unused-key-0123456789",
        &path,
    );
    run.expect_failure()
        .expect_log("::error title=Notarium: server unreachable::");
    let failed = Outputs::read(&out, "verify");
    assert_eq!(
        (failed.status.as_str(), failed.exit_code.as_str()),
        ("server_unreachable", "6")
    );

    let run = repo.run(
        &act,
        "verify",
        &with(env, "E2E_ON_UNREACHABLE", "warn"),
        "e2e-unused-key-0123456789",
        &path,
    );
    run.expect_success()
        .expect_log("::warning title=Notarium: server unreachable::");
    let warned = Outputs::read(&out, "verify");
    assert_eq!(
        (warned.status.as_str(), warned.exit_code.as_str()),
        ("server_unreachable", "6")
    );
    assert_eq!(warned.doc()["reason"], json!("server_unreachable"));
}
