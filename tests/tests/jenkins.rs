//! The Jenkins shared library of `plugins/jenkins` (docs/plugins.md), run by Debian's Groovy 2.4
//! (the line Jenkins embeds) through `tests/fixtures/jenkins/harness.groovy`: the library's
//! `vars/` become steps, Jenkins' own steps are stubbed (`sh` really runs, `withCredentials`
//! binds secrets from a file, `archiveArtifacts` copies into a stand-in build archive), and a
//! pipeline — the README's example `Jenkinsfile`, or a scenario of `tests/fixtures/jenkins/` —
//! runs against a real `notariumd` with the `notarium` built from this workspace. A shim in
//! front of `notarium` records every command line the library ran (`notarium_e2e::jenkins`).
//! npm-groovy-lint lints the library and the Jenkinsfile, and `.ci/install-jenkins.sh` must
//! work on a machine without it. The download of the pinned release is tested in
//! `tests/chain.rs`.
//!
//! Keyless: an OpenID Connect id token credential (a token the mock issuer of
//! `notarium_e2e::oidc` minted with the oidc-provider plugin's claims) is the credential,
//! against a `notariumd` that trusts the issuer, and the `signer*` parameters hold a build to
//! the verified identity.
//!
//! Not covered: a real Jenkins controller (CPS, the script-security sandbox, agents, the
//! Credentials plugin's masking, the oidc-provider plugin minting the token); see
//! plugins/jenkins/README.md.

use std::os::unix::fs::PermissionsExt;

use notarium_core::entry::oidc_signer_id;
use notarium_e2e::ci_plugins::{
    plugin_dir, require_tool, run_with_deadline, scrub_env, workspace_root,
};
use notarium_e2e::jenkins::{borrow, groovy, scenario, tempdir, World};
use notarium_e2e::oidc::{assert_no_token, issuer_config, MockIssuer};
use notarium_e2e::proxy::Proxy;
use notarium_e2e::Server;
use serde_json::Value;

#[test]
fn example_jenkinsfile_notarizes_and_authenticates() {
    let Some(groovy) = groovy() else { return };
    let w = World::new(&groovy);
    // What the Jenkinsfile expects from the Jenkins configuration: global variables.
    let server = w.s.server.url().to_owned();
    let vkey = w.s.server.verifier_key();
    let vars = [
        ("NOTARIUM_SERVER", server.as_str()),
        ("NOTARIUM_VERIFIER_KEY", vkey.as_str()),
    ];
    let b = w.agent.build(
        &plugin_dir("jenkins").join("Jenkinsfile"),
        7,
        &vars,
        None,
        |ws| {
            let script = ws.join("build.sh");
            std::fs::write(
                &script,
                "#!/bin/sh\nmkdir -p dist\necho \"app $BUILD_NUMBER\" > dist/app.tar.gz\necho \"docs $BUILD_NUMBER\" > dist/docs.tar.gz\n",
            )
            .expect("write build.sh");
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        },
    );
    b.expect_result("SUCCESS")
        .expect_echo("notarium notarize: trusted (exit 0)")
        .expect_echo("notarium authenticate: trusted (exit 0)")
        .expect_echo("Deploying: notarium says trusted");
    assert_eq!(
        b.report["stages"],
        serde_json::json!(["Build", "Notarize", "Authenticate", "Deploy"])
    );
    assert_eq!(
        b.report["credentials"],
        serde_json::json!(["notarium-write-key", "notarium-read-key"])
    );
    w.expect_no_secret(&b);

    // The commands: JSON output, the mode, attributes, CI context and receipts when
    // recording, subjects on stdin; never a key.
    assert_eq!(
        w.agent.argv(),
        [
            "--output json notarize --attr component=app --attr build=7 --ci --receipts notarium-receipts -",
            "--output json authenticate -",
        ]
    );

    // Receipts are archived and verify offline against the built files; the entries carry
    // Jenkins' context and the attributes.
    for name in ["app", "docs"] {
        let receipt = b.archived(&format!(
            "notarium-receipts/dist_{name}.tar.gz.receipt.json"
        ));
        let built = b.workspace.path().join(format!("dist/{name}.tar.gz"));
        w.s.cli
            .run([
                "verify-receipt".as_ref(),
                "--verifier-key".as_ref(),
                vkey.as_ref(),
                receipt.as_os_str(),
                built.as_os_str(),
            ])
            .expect_code(0);
        let r: Value =
            serde_json::from_str(&std::fs::read_to_string(&receipt).expect("read")).expect("JSON");
        let entry = &r["entry"];
        assert_eq!(entry["ci"]["provider"], "jenkins", "{entry}");
        assert_eq!(entry["ci"]["run_id"], "7", "{entry}");
        assert_eq!(entry["ci"]["job"], "acme/app", "{entry}");
        assert_eq!(entry["attributes"]["build"], "7", "{entry}");
        assert_eq!(entry["signer"], w.s.writer.id.as_str(), "{entry}");
    }
    let auth = b.json("notarium-receipts/authenticate.json");
    assert_eq!(auth["exit_code"], 0, "{auth}");
    assert_eq!(auth["results"].as_array().map(Vec::len), Some(2), "{auth}");

    // The verified checkpoint is kept in the agent user's home, not in the workspace.
    let state = w
        .agent
        .home
        .path()
        .join(".local/state/notarium")
        .read_dir()
        .expect("the state directory exists in the agent's home")
        .count();
    assert_eq!(state, 1, "one server directory");
    assert!(!b.workspace.path().join(".local").exists());
}

#[test]
fn tampered_artifact_fails_the_build_with_the_verdict() {
    let Some(groovy) = groovy() else { return };
    let w = World::new(&groovy);
    let vars = w.vars();
    let b = w.agent.build(
        &scenario("tampered.groovy"),
        3,
        &borrow(&vars),
        None,
        |_| {},
    );
    b.expect_result("FAILURE")
        .expect_error("notarium authenticate: unknown (exit 2)")
        .expect_echo("notarium notarize: trusted (exit 0)");
    assert!(!b.echoes().iter().any(|e| e == "not reached"), "{}", b.out);
    assert_eq!(
        b.report["stages"],
        serde_json::json!(["Build", "Notarize", "Tamper", "Authenticate"])
    );
    // The result is archived although the build failed.
    let doc = b.json("notarium-receipts/authenticate.json");
    assert_eq!(doc["results"][0]["status"], "unknown", "{doc}");
    b.archived("notarium-receipts/dist_app.tar.gz.receipt.json");
    w.expect_no_secret(&b);
}

#[test]
fn unreachable_server_makes_the_build_unstable_or_fail() {
    let Some(groovy) = groovy() else { return };
    let w = World::new(&groovy);
    let mut down = Server::start();
    let url = down.url().to_owned();
    down.stop();

    let warn = w.agent.build(
        &scenario("unreachable.groovy"),
        1,
        &[("TEST_SERVER", &url), ("TEST_ON_UNREACHABLE", "warn")],
        None,
        |_| {},
    );
    warn.expect_result("UNSTABLE")
        .expect_echo("went on: server_unreachable 6 server_unreachable");
    assert_eq!(
        warn.report["warnings"],
        serde_json::json!([
            "notarium authenticate: server_unreachable (exit 6): the server is unreachable, and onUnreachable is warn"
        ])
    );

    let fail = w.agent.build(
        &scenario("unreachable.groovy"),
        2,
        &[("TEST_SERVER", &url), ("TEST_ON_UNREACHABLE", "fail")],
        None,
        |_| {},
    );
    fail.expect_result("FAILURE")
        .expect_error("notarium authenticate: server_unreachable (exit 6)");
    assert!(fail.echoes().iter().all(|e| !e.starts_with("went on")));
}

#[test]
fn untrust_mode_signer_filter_and_propagate() {
    let Some(groovy) = groovy() else { return };
    let w = World::new(&groovy);
    let vars = w.vars();
    let b = w
        .agent
        .build(&scenario("untrust.groovy"), 4, &borrow(&vars), None, |_| {});
    b.expect_result("SUCCESS")
        .expect_echo("untrust: untrusted 0")
        .expect_echo("authenticate: untrusted 1")
        .expect_echo("filtered: unknown 2");
    let receipt = b.json("notarium-receipts/dist_app.tar.gz.receipt.json");
    assert_eq!(receipt["entry"]["status"], "untrusted");
    let argv = w.agent.argv();
    assert_eq!(
        argv[0],
        "--output json notarize --attr channel=beta --attr reviewed=no --ci --receipts notarium-receipts -"
    );
    assert_eq!(
        argv[1],
        "--output json untrust --ci --receipts notarium-receipts -"
    );
    assert_eq!(
        argv[3],
        "--output json authenticate --signer k_nobody --signer k_noone -"
    );
}

#[test]
fn wrong_calls_fail_with_a_message() {
    let Some(groovy) = groovy() else { return };
    let w = World::new(&groovy);
    let vars = w.vars();
    let b = w
        .agent
        .build(&scenario("usage.groovy"), 5, &borrow(&vars), None, |_| {});
    b.expect_result("SUCCESS");
    let failures: Vec<String> = b
        .echoes()
        .into_iter()
        .filter_map(|e| e.strip_prefix("failed: ").map(str::to_owned))
        .collect();
    let expected = [
        "notarium notarize: subjects is required (files, directories or globs)",
        "notarize: mode must be notarize, untrust or unsupport, not 'authenticate' (authenticate(...) checks)",
        "authenticate: mode is always authenticate, not 'untrust' (notarize(...) records)",
        "notarium: unknown parameter(s) credentialId;",
        "notarium notarize: credentialsId is required",
        "notarium notarize: server is required (or set NOTARIUM_SERVER in the environment)",
        "Could not find credentials entry with ID 'no-such-credential'",
        "notarium authenticate: onUnreachable must be fail or warn, not 'ignore'",
        "notarium notarize: usage (exit 64)",
    ];
    assert_eq!(failures.len(), expected.len(), "{failures:#?}");
    for (got, want) in failures.iter().zip(expected) {
        assert!(
            got.starts_with(want),
            "{got:?} does not start with {want:?}"
        );
    }
    // Only the last call got as far as running notarium.
    assert_eq!(w.agent.argv().len(), 1, "{:?}", w.agent.argv());
}

#[test]
fn state_in_the_agents_home_catches_a_rollback_in_a_later_build() {
    let Some(groovy) = groovy() else { return };
    let w = World::new(&groovy);
    // A backup taken before the build notarizes anything: later the server is restored
    // from it, and answers genuinely, with status proofs, from the older tree.
    w.s.work.write("first", b"first\n");
    w.s.cli.run(["notarize", "first"]).expect_code(0);
    let backup = w.s.server.backup();

    let proxy = Proxy::start(w.s.server.url());
    let mut vars = w.vars();
    vars[0].1 = proxy.url().to_owned();
    let mut notarize = borrow(&vars);
    notarize.push(("TEST_STEP", "notarize"));
    w.agent
        .build(&scenario("state.groovy"), 1, &notarize, None, |_| {})
        .expect_result("SUCCESS");

    // Now the server is restored from the backup, behind the same URL: the artifact is
    // unknown there, proven so against its older (genuine, signed) checkpoint.
    let restored = backup.serve();
    proxy.set_upstream(restored.url());
    let forwarded = proxy.forwarded();

    // A later build, in another workspace, finds the state in the agent's home: rollback.
    let mut authenticate = borrow(&vars);
    authenticate.push(("TEST_STEP", "authenticate"));
    let b = w
        .agent
        .build(&scenario("state.groovy"), 2, &authenticate, None, |_| {});
    b.expect_result("FAILURE")
        .expect_error("notarium authenticate: verification_failed (exit 5)");
    b.out.expect_output("rollback");
    assert!(
        proxy.forwarded() > forwarded,
        "the restored server was never asked"
    );

    // With the state somewhere empty (stateDir), the restored server's answers verify on
    // their own: the kept state is what caught it.
    let empty = tempdir("notarium-jenkins-state-");
    let elsewhere = empty.path().to_string_lossy().into_owned();
    authenticate.push(("TEST_STATE_DIR", &elsewhere));
    w.agent
        .build(&scenario("state.groovy"), 3, &authenticate, None, |_| {})
        .expect_result("FAILURE")
        .expect_error("notarium authenticate: unknown (exit 2)");
    assert!(empty.path().read_dir().expect("state dir").count() > 0);
}

/// Every step has its help text, and notarium.txt documents every parameter the step takes.
#[test]
fn every_step_has_help_for_every_parameter() {
    let vars = plugin_dir("jenkins").join("vars");
    for step in ["notarium", "notarize", "authenticate"] {
        let help = std::fs::read_to_string(vars.join(format!("{step}.txt")))
            .unwrap_or_else(|e| panic!("vars/{step}.txt: {e}"));
        assert!(help.contains(&format!("{step}(")), "vars/{step}.txt");
    }
    let source = std::fs::read_to_string(vars.join("notarium.groovy")).expect("notarium.groovy");
    let start = source.find("PARAMETERS = [").expect("PARAMETERS");
    let end = start + source[start..].find(']').expect("end of PARAMETERS");
    let help = std::fs::read_to_string(vars.join("notarium.txt")).expect("notarium.txt");
    let readme = std::fs::read_to_string(plugin_dir("jenkins").join("README.md")).expect("README");
    for p in source[start..end]
        .split('\'')
        .skip(1)
        .step_by(2)
        .filter(|p| !p.trim().is_empty())
    {
        assert!(
            help.contains(&format!("<code>{p}</code>")),
            "notarium.txt lacks {p}"
        );
        assert!(readme.contains(&format!("`{p}`")), "README.md lacks {p}");
    }
}

#[test]
fn npm_groovy_lint_passes() {
    let Some(lint) = require_tool("npm-groovy-lint", "jenkins") else {
        return;
    };
    let dir = plugin_dir("jenkins");
    let out = run_with_deadline(
        &lint,
        [
            "--noserver",
            "--failon",
            "info",
            "--output",
            "txt",
            "vars/",
            "Jenkinsfile",
        ],
        &dir,
        |cmd| {
            scrub_env(cmd);
            cmd.env("FORCE_COLOR", "0").env("NO_COLOR", "1");
        },
    );
    out.expect_code(0).expect_output("in 4 linted files");
    assert!(workspace_root()
        .join("plugins/jenkins/.groovylintrc.json")
        .is_file());
}

/// A global NOTARIUM_VERIFIER_KEY (Manage Jenkins > System > Global properties) pins the
/// ledger's key when a call names none. Before, the step replaced it with an empty value: the
/// CLI trusted the server's key on first use, and with a wrong global key the build passed.
#[test]
fn a_global_verifier_key_is_pinned() {
    let Some(groovy) = groovy() else { return };
    let w = World::new(&groovy);
    let other = Server::start();
    let server = w.s.server.url().to_owned();
    let wrong = other.verifier_key();
    let b = w.agent.build(
        &scenario("global-key.groovy"),
        1,
        &[
            ("NOTARIUM_SERVER", server.as_str()),
            ("NOTARIUM_VERIFIER_KEY", wrong.as_str()),
        ],
        None,
        |_| {},
    );
    b.expect_result("FAILURE")
        .expect_error("notarium notarize: verification_failed (exit 5)");
    // The server's answer did not verify against the global key: nothing was believed.
    b.out.expect_output("VERIFICATION FAILED");

    let right = w.s.server.verifier_key();
    let b = w.agent.build(
        &scenario("global-key.groovy"),
        2,
        &[
            ("NOTARIUM_SERVER", server.as_str()),
            ("NOTARIUM_VERIFIER_KEY", right.as_str()),
        ],
        None,
        |_| {},
    );
    b.expect_result("SUCCESS")
        .expect_echo("notarium authenticate: trusted (exit 0)");
    assert!(
        !b.out.all().contains("trusting this key on first use"),
        "the global key was not pinned: {}",
        b.out
    );
}

/// A credential the server refuses fails the build as `unauthorized` (exit 7), not `usage`.
#[test]
fn a_refused_credential_is_unauthorized() {
    let Some(groovy) = groovy() else { return };
    let w = World::new(&groovy);
    let vars = w.vars();
    let b = w.agent.build(
        &scenario("unauthorized.groovy"),
        1,
        &borrow(&vars),
        None,
        |_| {},
    );
    b.expect_result("FAILURE")
        .expect_error("notarium notarize: unauthorized (exit 7)");
    let doc = b.json("notarium-receipts/notarize.json");
    assert_eq!(doc["reason"], "unauthorized", "{doc}");
}

/// `.ci/install-jenkins.sh` on a machine where npm-groovy-lint is not installed yet: `npm ls`
/// exits 1 then, which `set -o pipefail` turned into the script's failure before it installed
/// anything. Run against a stand-in npm that behaves as npm does without the package (and
/// records what it is asked to install), with groovy, java and node present.
#[test]
fn install_script_installs_npm_groovy_lint_on_a_clean_machine() {
    let Some(_) = require_tool("groovy", "jenkins") else {
        return;
    };
    let tools = tempdir("notarium-install-jenkins-");
    let bin = tools.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let log = tools.path().join("npm.log");
    let npm = bin.join("npm");
    std::fs::write(
        &npm,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\ncase \"$1\" in\n  ls) echo '{{}}'; exit 1 ;;\n  install) exit 0 ;;\nesac\nexit 2\n",
            log.display()
        ),
    )
    .expect("write npm");
    std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut dirs = vec![bin.clone()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(dirs).expect("PATH");
    let out = run_with_deadline(
        std::path::Path::new("bash"),
        [workspace_root().join(".ci/install-jenkins.sh")],
        tools.path(),
        |cmd| {
            scrub_env(cmd);
            cmd.env("PATH", &path);
        },
    );
    out.expect_code(0);
    let calls = std::fs::read_to_string(&log).expect("npm was called");
    assert!(
        calls
            .lines()
            .any(|l| l.starts_with("install -g") && l.contains("npm-groovy-lint@")),
        "npm-groovy-lint was not installed: {calls}\n{out}"
    );
}

/// Keyless, in the harness: an OpenID Connect id token credential (a Secret text holding a
/// token the mock issuer minted with the oidc-provider plugin's claims, bound with
/// `withCredentials(string(...))` as Jenkins binds that plugin's credentials) given as
/// `idTokenCredentialsId` notarizes instead of the API key also given: the entry's signer is
/// the identity and its receipt carries it. `authenticate` with the `signer*` parameters:
/// matched, trusted; another repository, `signer_mismatch` (exit 8) as the step's verdict,
/// with the mismatch in the archived JSON. Without the id token the API key notarizes and the
/// same policy fails. The token is in no console log and on no command line.
#[test]
fn keyless_notarize_and_signer_policy() {
    let Some(groovy) = groovy() else { return };
    let mock = MockIssuer::start_at("/oidc");
    let w = World::with_config(
        &groovy,
        &issuer_config(
            &mock,
            "jenkins",
            "notarium",
            "        - ledger: default\n          role: write\n          claims:\n            sub: \"https://jenkins.example.com/job/acme/job/app/**\"\n",
        ),
    );
    let token = mock.mint(&mock.current_kid(), &mock.jenkins_claims("notarium"));
    w.agent.add_credential("notarium-oidc", &token);
    let mut vars = w.vars();
    vars.push(("TEST_ISSUER", mock.issuer().to_owned()));
    let mut keyless = vars.clone();
    keyless.push(("TEST_ID_TOKEN_ID", "notarium-oidc".to_owned()));

    let b = w.agent.build(
        &scenario("oidc.groovy"),
        11,
        &borrow(&keyless),
        None,
        |_| {},
    );
    b.expect_result("SUCCESS")
        .expect_echo("notarize: trusted 0")
        .expect_echo("matched: trusted 0")
        .expect_echo("other: signer_mismatch 8");
    b.out
        .expect_output("notarium: credential: the OpenID Connect id token (idTokenCredentialsId)")
        .expect_output("repository: required https://git.example.com/acme/other.git, verified https://git.example.com/acme/app.git");
    assert_eq!(
        b.report["credentials"],
        serde_json::json!([
            "notarium-oidc",
            "notarium-write-key",
            "notarium-read-key",
            "notarium-read-key"
        ])
    );
    w.expect_no_secret(&b);
    assert_no_token(&b.out.all(), &token, "the console log");
    assert_no_token(
        &w.agent.argv().join("\n"),
        &token,
        "notarium's command lines",
    );
    let receipt = b.json("notarium-receipts/dist_app.tar.gz.receipt.json");
    let entry = &receipt["entry"];
    assert_eq!(
        entry["signer"],
        oidc_signer_id(
            mock.issuer(),
            "https://jenkins.example.com/job/acme/job/app/job/main/"
        )
        .as_str(),
        "the token, not the key: {entry}"
    );
    assert_eq!(entry["identity"]["provider"], "jenkins", "{entry}");
    assert_eq!(
        entry["identity"]["context"]["repository"], "https://git.example.com/acme/app.git",
        "credentials are removed from the Git URL: {entry}"
    );
    assert_eq!(entry["identity"]["context"]["run_id"], "42", "{entry}");
    // The last authenticate's JSON is the one archived: the mismatch, in words.
    let doc = b.json("notarium-receipts/authenticate.json");
    assert_eq!(doc["results"][0]["reason"], "signer_mismatch", "{doc}");
    assert_eq!(
        doc["results"][0]["signer_policy"]["mismatches"],
        serde_json::json!([
            "repository: required https://git.example.com/acme/other.git, verified https://git.example.com/acme/app.git"
        ])
    );
    let argv = w.agent.argv();
    assert_eq!(
        argv[1],
        format!(
            "--output json authenticate --signer-issuer {} --signer-repository https://git.example.com/acme/app.git --signer-workflow https://jenkins.example.com/job/acme/job/app/job/main/ --signer-ref main -",
            mock.issuer()
        )
    );

    // No id token: the API key notarizes (a new build of the file), and the policy fails.
    let b = w
        .agent
        .build(&scenario("oidc.groovy"), 12, &borrow(&vars), None, |_| {});
    b.expect_result("SUCCESS")
        .expect_echo("notarize: trusted 0")
        .expect_echo("matched: signer_mismatch 8");
    b.out
        .expect_output("notarium: credential: the API key (credentialsId)")
        .expect_output("has no verified identity");
    let receipt = b.json("notarium-receipts/dist_app.tar.gz.receipt.json");
    assert_eq!(receipt["entry"]["signer"], w.s.writer.id.as_str());
    assert!(receipt["entry"].get("identity").is_none());
}
