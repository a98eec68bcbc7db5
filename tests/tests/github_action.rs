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
//! Keyless: the action requests the job's OIDC ID token from GitHub's token endpoint (served
//! here by the mock issuer of `notarium_e2e::oidc`) and notarizes with it against a
//! `notariumd` that trusts the issuer; the `signer-*` inputs hold a deploy job to the verified
//! identity (exit 8 when it does not match); without the token the API key is used; and no
//! token is in any log, output or command line.
//!
//! Tools missing on a developer's machine skip the test loudly; with `CI` set they fail it.

use std::path::Path;

use notarium_core::entry::oidc_signer_id;
use notarium_core::Sha256;
use notarium_e2e::github::{
    action_dir, fixtures_dir, path_with, run_step, tool, which, ActRepo, Outputs, WORKFLOW,
};
use notarium_e2e::oidc::{assert_no_token, issuer_config, MockIssuer, ID_TOKEN_REQUEST_PATH};
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

/// The audience the server expects of the mock's GitHub-shaped tokens in these tests: not the
/// action's default, so that the `audience` input is seen to reach the token request.
const AUDIENCE: &str = "https://notarium.e2e.example";

/// A server that trusts the mock issuer as GitHub's: tokens of repository 892345617 write
/// ledger `default`.
fn keyless_setup(mock: &MockIssuer, audience: &str) -> Setup {
    Setup::with_config(&issuer_config(
        mock,
        "github",
        audience,
        "        - ledger: default\n          role: write\n          claims:\n            repository_id: \"892345617\"\n",
    ))
}

/// `ACTIONS_ID_TOKEN_REQUEST_URL` and `_TOKEN` of the mock's token endpoint, as GitHub sets
/// them for a job with `permissions: id-token: write` (plain HTTP: act's host runner cannot
/// be given the mock's CA).
fn token_endpoint(mock: &MockIssuer) -> [(&'static str, String); 2] {
    [
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            mock.id_token_request_url_http(),
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            mock.id_token_request_token().to_owned(),
        ),
    ]
}

/// The token requests the mock received, as `audience=…`.
fn token_requests(mock: &MockIssuer) -> Vec<String> {
    mock.requests()
        .iter()
        .filter_map(|r| r.strip_prefix(&format!("GET {ID_TOKEN_REQUEST_PATH} ")))
        .map(str::to_owned)
        .collect()
}

/// The GitHub Action in act, keyless: with the job's ID token served by the mock issuer, the
/// action requests it for its `audience` and notarizes with it (the token wins over the API
/// key also given): the entry's signer is the identity, and the receipt carries the verified
/// identity. A deploy job's signer policy that the identity matches is trusted; one it does
/// not match fails as `signer_mismatch` (exit 8), with the mismatch in the outputs and the
/// annotation. Without the token variables (the fallback), the API key notarizes, and the
/// same policy fails, as an API-key entry has no verified identity. No run's log holds a
/// token or a segment of one.
#[test]
fn keyless_notarize_and_signer_policy_in_act() {
    let Some(act) = tool("act") else { return };
    let mock = MockIssuer::start();
    let s = keyless_setup(&mock, AUDIENCE);
    let repo = ActRepo::new();
    let (work, state, out) = (repo.dir("work"), repo.dir("state"), repo.dir("out"));
    let path = path_with(&bin_dir());
    let _ = binary("notarium");
    let key = &s.writer.secret;
    let base = env(s.server.url(), &work, &state, &out);
    let endpoint = token_endpoint(&mock);
    let keyless = {
        let mut e = with(
            with(base.clone(), "E2E_AUDIENCE", AUDIENCE),
            "E2E_BUILD",
            "1",
        );
        e.extend(endpoint.iter().cloned());
        e
    };
    let policy = |e: Vec<(&'static str, String)>, repository: &str| {
        let e = with(e, "E2E_SIGNER_ISSUER", mock.issuer());
        let e = with(e, "E2E_SIGNER_REPOSITORY", repository);
        let e = with(
            e,
            "E2E_SIGNER_WORKFLOW",
            "acme/app/.github/workflows/release.yml",
        );
        with(e, "E2E_SIGNER_REF", "refs/heads/main")
    };
    let no_token_in = |run: &notarium_e2e::github::ActRun| {
        let issued = mock.issued_tokens();
        assert!(!issued.is_empty());
        for t in &issued {
            assert_no_token(&run.log, t, &format!("act -j {}", run.job));
            for f in ["status", "exit-code", "receipts", "json"] {
                let text = std::fs::read_to_string(out.join(&run.job).join(f)).unwrap_or_default();
                assert_no_token(&text, t, &format!("output {f} of {}", run.job));
            }
        }
    };

    // Notarize with the token: one request, for the audience input.
    let run = repo.run(&act, "oidc-notarize", &keyless, key, &path);
    run.expect_success().expect_log(&format!(
        "notarium: credential: the job's OIDC ID token (audience {AUDIENCE})"
    ));
    assert_eq!(
        token_requests(&mock),
        [format!("audience={AUDIENCE}")],
        "{run}"
    );
    no_token_in(&run);
    let notarized = Outputs::read(&out, "oidc-notarize");
    assert_eq!(notarized.status, "notarized", "{run}");
    let row = &notarized.doc()["results"][0];
    let identity = oidc_signer_id(mock.issuer(), "repo:acme/app:ref:refs/heads/main");
    assert_eq!(
        row["signer"],
        json!(identity),
        "the token, not the key, signed: {row}"
    );
    assert_eq!(row["verified_identity"]["issuer"], json!(mock.issuer()));
    assert_eq!(
        row["verified_identity"]["context"]["repository"],
        json!("acme/app")
    );
    let receipt: Value = serde_json::from_str(
        &std::fs::read_to_string(work.join("receipts/dist_keyless.bin.receipt.json"))
            .expect("the receipt"),
    )
    .expect("JSON");
    assert_eq!(receipt["entry"]["signer"], json!(identity));
    assert_eq!(receipt["entry"]["identity"]["provider"], json!("github"));
    assert_eq!(
        receipt["entry"]["identity"]["context"]["workflow_ref"],
        json!("acme/app/.github/workflows/release.yml@refs/heads/main")
    );

    // A deploy job whose policy the verified identity matches: trusted.
    let run = repo.run(
        &act,
        "oidc-authenticate",
        &policy(keyless.clone(), "acme/app"),
        key,
        &path,
    );
    run.expect_success()
        .expect_log("### Notarium authenticate: trusted (exit 0)");
    no_token_in(&run);
    let matched = Outputs::read(&out, "oidc-authenticate");
    assert_eq!(
        (matched.status.as_str(), matched.exit_code.as_str()),
        ("trusted", "0")
    );
    assert_eq!(
        matched.doc()["results"][0]["signer_policy"],
        json!({ "matched": true })
    );

    // One it does not match: signer_mismatch, exit 8, the reason in the outputs and the log.
    let run = repo.run(
        &act,
        "oidc-authenticate",
        &policy(keyless.clone(), "acme/other"),
        key,
        &path,
    );
    run.expect_failure()
        .expect_log("### Notarium authenticate: signer_mismatch (exit 8)")
        .expect_log("::error file=dist/keyless.bin,title=Notarium%3A signer_mismatch::")
        .expect_log("repository: required acme/other, verified acme/app");
    no_token_in(&run);
    let mismatched = Outputs::read(&out, "oidc-authenticate");
    assert_eq!(
        (mismatched.status.as_str(), mismatched.exit_code.as_str()),
        ("signer_mismatch", "8")
    );
    let row = &mismatched.doc()["results"][0];
    assert_eq!(row["reason"], json!("signer_mismatch"), "{row}");
    assert_eq!(
        row["signer_policy"]["mismatches"],
        json!(["repository: required acme/other, verified acme/app"])
    );
    assert_eq!(token_requests(&mock).len(), 3, "one token per job");

    // The fallback: no token offered, so the API key notarizes (a new build of the file), and
    // the policy that matched the token's identity fails: an API-key entry has none.
    let fallback = with(base.clone(), "E2E_BUILD", "2");
    let run = repo.run(&act, "oidc-notarize", &fallback, key, &path);
    run.expect_success()
        .expect_log("notarium: credential: api-key");
    let notarized = Outputs::read(&out, "oidc-notarize");
    let row = &notarized.doc()["results"][0];
    assert_eq!(row["signer"], json!(s.writer.id), "{row}");
    assert!(row.get("verified_identity").is_none(), "{row}");
    let run = repo.run(
        &act,
        "oidc-authenticate",
        &policy(fallback, "acme/app"),
        key,
        &path,
    );
    run.expect_failure()
        .expect_log("### Notarium authenticate: signer_mismatch (exit 8)")
        .expect_log("has no verified identity");
    let mismatched = Outputs::read(&out, "oidc-authenticate");
    assert_eq!(
        (mismatched.status.as_str(), mismatched.exit_code.as_str()),
        ("signer_mismatch", "8")
    );
    assert_eq!(token_requests(&mock).len(), 3, "no token was requested");
}

/// A `curl` in front of the real one that records its command lines: the request token must
/// never be on one.
fn recording_curl(dir: &Path) {
    let real = which("curl").expect("curl is installed");
    let shim = dir.join("bin").join("curl");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{argv}'\nexec '{real}' \"$@\"\n",
            argv = dir.join("curl-argv.log").display(),
            real = real.display()
        ),
    )
    .expect("write the shim");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// The action's script without a runner, where nothing masks the log: with the token variables
/// set, the ID token (for the default audience) reaches notarium only as NOTARIUM_API_KEY in
/// its environment, the request token goes to curl on stdin (on no command line), and the only
/// line of the log holding the token is the `::add-mask::` that hides it. `oidc: false` uses
/// the API key and requests nothing; a token request the endpoint refuses is `unauthorized`
/// (exit 7) with a message, and prints neither token.
#[test]
fn the_id_token_reaches_notarium_only_through_its_environment() {
    let mock = MockIssuer::start();
    let s = keyless_setup(&mock, "notarium");
    s.work.write("dist/app.bin", b"keyless\n");
    let tools = tempfile::tempdir().expect("temporary directory");
    let path = recording_notarium(tools.path());
    recording_curl(tools.path());
    let state = tools.path().join("state").to_string_lossy().into_owned();
    let url = mock.id_token_request_url_http();
    let step = |oidc: &str, request_token: &str| {
        run_step(
            &action_dir(),
            "run",
            s.work.path(),
            &[
                ("NOTARIUM_API_KEY", s.writer.secret.as_str()),
                ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", request_token),
                ("INPUT_OIDC", oidc),
                ("INPUT_MODE", "notarize"),
                ("INPUT_SUBJECTS", "dist/app.bin"),
                ("INPUT_SERVER", s.server.url()),
                ("INPUT_STATE_DIR", &state),
                ("GITHUB_JOB", "build"),
            ],
            &path,
        )
    };

    let run = step("", mock.id_token_request_token());
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.outputs["status"], "notarized", "{run}");
    assert_eq!(token_requests(&mock), ["audience=notarium"], "{run}");
    let issued = mock.issued_tokens();
    let token = issued.last().expect("a token was issued");
    let log = format!("{}\n{}", run.stdout, run.stderr);
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(token.as_str())).collect();
    assert_eq!(
        lines,
        [format!("::add-mask::{token}")],
        "the token is in the log outside the mask command"
    );
    let rest: String = log
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_no_token(&rest, token, "the step's log");
    assert_no_token(&run.output_file, token, "the step's outputs");
    assert_no_token(&run.summary, token, "the job summary");
    let row = &serde_json::from_str::<Value>(&run.outputs["json"]).expect("JSON")["results"][0];
    assert_eq!(
        row["signer"],
        json!(oidc_signer_id(
            mock.issuer(),
            "repo:acme/app:ref:refs/heads/main"
        ))
    );
    let env = std::fs::read_to_string(tools.path().join("env.log")).expect("env.log");
    assert_eq!(
        env.lines().collect::<Vec<_>>(),
        [token.as_str()],
        "notarium got no token"
    );
    let argv = std::fs::read_to_string(tools.path().join("argv.log")).expect("argv.log");
    assert_no_token(&argv, token, "notarium's command line");
    let curl = std::fs::read_to_string(tools.path().join("curl-argv.log")).expect("curl ran");
    assert_eq!(curl.lines().count(), 1, "{curl}");
    assert!(
        !curl.contains(mock.id_token_request_token()),
        "the request token was on curl's command line"
    );
    assert_no_token(&curl, token, "curl's command line");

    // oidc: false: the API key, and no request.
    let run = step("false", mock.id_token_request_token());
    assert_eq!(run.outputs["status"], "notarized", "{run}");
    assert!(
        run.stdout.contains("notarium: credential: api-key"),
        "{run}"
    );
    assert_eq!(
        token_requests(&mock).len(),
        1,
        "oidc: false requested a token"
    );
    let env = std::fs::read_to_string(tools.path().join("env.log")).expect("env.log");
    assert_eq!(env.lines().last(), Some(s.writer.secret.as_str()));

    // A request token the endpoint refuses: unauthorized, and notarium does not run.
    let wrong = format!("wrong-{}", notarium_e2e::random_hex(16));
    let run = step("true", &wrong);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(
        (
            run.outputs["status"].as_str(),
            run.outputs["exit-code"].as_str()
        ),
        ("unauthorized", "7"),
        "{run}"
    );
    assert!(
        run.stdout
            .contains("cannot request the job's OIDC ID token"),
        "{run}"
    );
    assert!(
        !format!("{run}").contains(&wrong),
        "the request token was printed"
    );
    assert_eq!(
        std::fs::read_to_string(tools.path().join("argv.log"))
            .expect("argv.log")
            .lines()
            .count(),
        2,
        "notarium ran without a credential"
    );
}
