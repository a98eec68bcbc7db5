//! The composite GitHub Action (`plugins/github-action`) run by act in host mode, against a
//! real `notariumd` and the `notarium` built from this workspace: notarize build outputs,
//! authenticate them in a later job, fail on a tampered file with the right status, catch a
//! rolled-back server in a later run through the state carried between runs, and turn an
//! unreachable server into a warning when asked. The action's script also runs on its own
//! (bash, no runner), where nothing masks the log: the API key must reach notarium only
//! through its environment, a refused key must say `unauthorized`, and the cache keys and
//! artifact names of the prepare step must never collide. Plus the lints: actionlint, zizmor
//! and shellcheck on the action and the workflows (the test workflow and the release
//! workflow). The download of the pinned release is tested in `tests/chain.rs`.
//!
//! Tools missing on a developer's machine skip the test loudly; with `CI` set they fail it.

use std::path::Path;

use notarium_core::Sha256;
use notarium_e2e::github::{
    action_dir, fixtures_dir, path_with, run_step, tool, ActRepo, Outputs, WORKFLOW,
};
use notarium_e2e::proxy::Proxy;
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
    // A backup of the data directory before anything is notarized: later runs meet the
    // server restored from it.
    let backup = s.server.backup();

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
    // act masks secrets itself, so this alone could not catch a leak: see
    // the_api_key_reaches_notarium_only_through_its_environment for the check that can fail.
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

    // Runs 3 and 4: the server is restored from the backup taken before run 1 and served
    // again behind the same URL. Every answer is genuine, signed by the right key, with status
    // proofs that the outputs were never notarized in that older tree.
    let old = backup.serve();
    proxy.set_upstream(old.url());
    let forwarded = proxy.forwarded();
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
        proxy.forwarded() > forwarded,
        "the restored server was never asked: {run3}"
    );
    assert_eq!(
        snapshot(&state),
        state_before,
        "the state moved after a failed verification"
    );

    // The control: without the state carried over, the restored server's answers verify on
    // their own (they are true of its tree) and are believed: only the state catches it.
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
    assert_eq!(
        believed.statuses(),
        vec![
            ("dist/app-macos.bin".to_owned(), "unknown".to_owned()),
            ("dist/SHA256SUMS".to_owned(), "unknown".to_owned()),
        ],
        "{run4}"
    );
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

/// The prepare step names one cache scope per server and ledger, and a new receipts artifact
/// per run of the action. Before, ledger `default` restored `default-eu`'s state (the
/// restore-keys prefix `…-default-` matched `…-default-eu-…`), and two matrix legs (same job
/// id) uploaded artifacts of the same name, which upload-artifact refuses.
#[test]
fn cache_scopes_and_artifact_names_never_collide() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let prepare = |server: &str, ledger: &str| {
        let run = run_step(
            &action_dir(),
            "prepare",
            dir.path(),
            &[
                ("INPUT_SERVER", server),
                ("INPUT_LEDGER", ledger),
                ("GITHUB_RUN_ID", "4242"),
                ("GITHUB_RUN_ATTEMPT", "1"),
                ("GITHUB_JOB", "build"),
            ],
            &path,
        );
        assert_eq!(run.code, Some(0), "{run}");
        run.outputs
    };
    let server = "https://notarium.example.com";
    let default = prepare(server, "default");
    let default_eu = prepare(server, "default-eu");
    let other_server = prepare("https://other.example.com", "default");
    let again = prepare(server, "default");
    // Saves of one scope are restored by its prefix; no other scope's saves are.
    for o in [&default, &default_eu, &other_server] {
        assert!(
            o["cache-save-key"].starts_with(&o["cache-restore-prefix"]),
            "{o:?}"
        );
        assert!(
            o["cache-key"].starts_with(&o["cache-restore-prefix"]),
            "{o:?}"
        );
    }
    for (a, b) in [
        (&default, &default_eu),
        (&default_eu, &default),
        (&default, &other_server),
    ] {
        assert!(
            !b["cache-save-key"].starts_with(&a["cache-restore-prefix"]),
            "{} would restore {}",
            a["cache-restore-prefix"],
            b["cache-save-key"]
        );
    }
    assert_eq!(
        default["cache-restore-prefix"],
        again["cache-restore-prefix"]
    );
    // Every save has its own key, and every run of the action its own artifact.
    assert_ne!(default["cache-save-key"], again["cache-save-key"]);
    assert_ne!(default["artifact-name"], again["artifact-name"]);
    assert!(default["artifact-name"].starts_with("notarium-receipts-build-"));
    // A name given by the workflow is used as it is.
    let named = run_step(
        &action_dir(),
        "prepare",
        dir.path(),
        &[
            ("INPUT_SERVER", server),
            ("INPUT_ARTIFACT_NAME", "receipts-linux"),
            ("GITHUB_JOB", "build"),
        ],
        &path,
    );
    assert_eq!(named.outputs["artifact-name"], "receipts-linux", "{named}");

    // action.yml uses these outputs, and nothing else, for the cache and the artifact.
    let yml = std::fs::read_to_string(action_dir().join("action.yml")).expect("action.yml");
    let doc: Value = yaml_serde::from_str(&yml).expect("action.yml is YAML");
    let steps = doc["runs"]["steps"].as_array().expect("steps");
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no step {name}"))
    };
    let restore = &step("Restore the verified-checkpoint state")["with"];
    assert_eq!(restore["key"], "${{ steps.prepare.outputs.cache-key }}");
    assert_eq!(
        restore["restore-keys"],
        "${{ steps.prepare.outputs.cache-restore-prefix }}"
    );
    assert_eq!(
        step("Save the verified-checkpoint state")["with"]["key"],
        "${{ steps.prepare.outputs.cache-save-key }}"
    );
    assert_eq!(
        step("Upload the receipts")["with"]["name"],
        "${{ steps.prepare.outputs.artifact-name }}"
    );
}

/// A `notarium` in front of the real one that records its command line and whether it got
/// the API key in its environment.
fn recording_notarium(dir: &Path) -> std::ffi::OsString {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let shim = bin.join("notarium");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{argv}'\nprintf '%s\\n' \"${{NOTARIUM_API_KEY:-}}\" >> '{env}'\nexec '{real}' \"$@\"\n",
            argv = dir.join("argv.log").display(),
            env = dir.join("env.log").display(),
            real = notarium_e2e::binary("notarium").display()
        ),
    )
    .expect("write the shim");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path_with(&bin)
}

/// The API key reaches notarium only through its environment: it is on no command line, and
/// in nothing the step prints or writes (log, outputs, summary) except the one
/// `::add-mask::` line that tells the runner to hide it. Run without a runner, so nothing
/// masks the log (act masks secrets itself, which made the old check unable to fail); with a
/// right key and with a refused one, whose error path prints the most.
#[test]
fn the_api_key_reaches_notarium_only_through_its_environment() {
    let s = Setup::new();
    s.work.write("dist/app.bin", b"app\n");
    let tools = tempfile::tempdir().expect("temporary directory");
    let path = recording_notarium(tools.path());
    let wrong = format!("nk_wrong-{}", notarium_e2e::random_hex(20));
    for (key, mode, want) in [
        (s.writer.secret.as_str(), "notarize", "notarized"),
        (wrong.as_str(), "authenticate", "unauthorized"),
    ] {
        let run = run_step(
            &action_dir(),
            "run",
            s.work.path(),
            &[
                ("NOTARIUM_API_KEY", key),
                ("INPUT_MODE", mode),
                ("INPUT_SUBJECTS", "dist/app.bin"),
                ("INPUT_SERVER", s.server.url()),
                ("INPUT_LEDGER", "default"),
                (
                    "INPUT_STATE_DIR",
                    &tools.path().join("state").to_string_lossy(),
                ),
                ("GITHUB_JOB", "build"),
            ],
            &path,
        );
        assert_eq!(run.code, Some(0), "{run}");
        assert_eq!(run.outputs["status"], want, "{run}");
        let log = format!("{}\n{}", run.stdout, run.stderr);
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(key)).collect();
        assert_eq!(
            lines,
            [format!("::add-mask::{key}")],
            "the key is in the log outside the mask command: {run}"
        );
        assert!(
            !run.output_file.contains(key),
            "the key is in the outputs: {run}"
        );
        assert!(
            !run.summary.contains(key),
            "the key is in the summary: {run}"
        );
    }
    let argv = std::fs::read_to_string(tools.path().join("argv.log")).expect("argv.log");
    assert_eq!(argv.lines().count(), 2, "{argv}");
    assert!(
        !argv.contains(&s.writer.secret) && !argv.contains(&wrong),
        "{argv}"
    );
    let env = std::fs::read_to_string(tools.path().join("env.log")).expect("env.log");
    assert_eq!(
        env.lines().collect::<Vec<_>>(),
        [s.writer.secret.as_str(), wrong.as_str()],
        "notarium did not get the key in its environment"
    );
}

/// A refused key fails the step as `unauthorized` (exit 7), with an annotation and a summary
/// that say so, instead of `usage`.
#[test]
fn a_refused_key_is_unauthorized() {
    let s = Setup::new();
    s.work.write("dist/app.bin", b"app\n");
    let path = path_with(&bin_dir());
    let run = run_step(
        &action_dir(),
        "run",
        s.work.path(),
        &[
            (
                "NOTARIUM_API_KEY",
                "nk_revoked-or-mistyped-0123456789abcdef",
            ),
            ("INPUT_MODE", "notarize"),
            ("INPUT_SUBJECTS", "dist/app.bin"),
            ("INPUT_SERVER", s.server.url()),
        ],
        &path,
    );
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(
        (
            run.outputs["status"].as_str(),
            run.outputs["exit-code"].as_str()
        ),
        ("unauthorized", "7"),
        "{run}"
    );
    assert_eq!(run.outputs["verdict"], "7", "{run}");
    assert!(
        run.summary
            .contains("### Notarium notarize: unauthorized (exit 7)"),
        "{run}"
    );
    assert!(
        run.stdout
            .contains("::error title=Notarium%3A unauthorized::"),
        "{run}"
    );
}

/// The release workflow passes actionlint and zizmor, as the action does.
#[test]
fn release_workflow_passes_actionlint_and_zizmor() {
    let (Some(actionlint), Some(zizmor)) = (tool("actionlint"), tool("zizmor")) else {
        return;
    };
    let root = notarium_e2e::ci_plugins::workspace_root();
    lint(&actionlint, &[".github/workflows/release.yml"], &root);
    lint(
        &zizmor,
        &["--offline", ".github/workflows/release.yml"],
        &root,
    );
}
