//! The Jenkins shared library of `plugins/jenkins` (DESIGN.md §7), run by Debian's Groovy 2.4
//! (the line Jenkins embeds) through `tests/fixtures/jenkins/harness.groovy`: the library's
//! `vars/` become steps, Jenkins' own steps are stubbed (`sh` really runs, `withCredentials`
//! binds secrets from a file, `archiveArtifacts` copies into a stand-in build archive), and a
//! pipeline — the README's example `Jenkinsfile`, or a scenario of `tests/fixtures/jenkins/` —
//! runs against a real `notariumd` with the `notarium` built from this workspace. A shim in
//! front of `notarium` records every command line the library ran. npm-groovy-lint lints the
//! library and the Jenkinsfile.
//!
//! Not covered: a real Jenkins controller (CPS, the script-security sandbox, agents, the
//! Credentials plugin's masking); see plugins/jenkins/README.md.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use notarium_e2e::ci_plugins::{
    fixture_dir, path_without_notarium, plugin_dir, require_tool, run_with_deadline, scrub_env,
    sha256_file, workspace_root, Outcome,
};
use notarium_e2e::proxy::{Proxy, Route};
use notarium_e2e::{binary, ApiKey, Server, Setup};
use serde_json::Value;
use tempfile::TempDir;

fn groovy() -> Option<PathBuf> {
    require_tool("groovy", "jenkins")
}

fn tempdir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temporary directory")
}

/// A Jenkins "agent": the home directory of its user (where the library keeps the verified
/// checkpoints by default), the credentials store, and a `notarium` on PATH that logs its
/// command lines before it runs the real one.
struct Agent {
    groovy: PathBuf,
    home: TempDir,
    tools: TempDir,
    credentials: PathBuf,
}

impl Agent {
    /// An agent whose credentials store holds `notarium-write-key` and `notarium-read-key`.
    fn new(groovy: &Path, writer: &ApiKey, reader: &ApiKey) -> Agent {
        let home = tempdir("notarium-jenkins-home-");
        let tools = tempdir("notarium-jenkins-tools-");
        let credentials = tools.path().join("credentials.properties");
        std::fs::write(
            &credentials,
            format!(
                "notarium-write-key={}\nnotarium-read-key={}\n",
                writer.secret, reader.secret
            ),
        )
        .expect("write the credentials");
        let shim = tools.path().join("bin/notarium");
        std::fs::create_dir_all(shim.parent().expect("bin/")).expect("create bin/");
        std::fs::write(
            &shim,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                tools.path().join("argv.log").display(),
                binary("notarium").display()
            ),
        )
        .expect("write the shim");
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Agent {
            groovy: groovy.to_owned(),
            home,
            tools,
            credentials,
        }
    }

    /// PATH with the recording `notarium` first.
    fn path(&self) -> std::ffi::OsString {
        let mut dirs = vec![self.tools.path().join("bin")];
        dirs.extend(std::env::split_paths(&path_without_notarium()));
        std::env::join_paths(dirs).expect("PATH entries join")
    }

    /// Every command line `notarium` was run with, one a line.
    fn argv(&self) -> Vec<String> {
        std::fs::read_to_string(self.tools.path().join("argv.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Runs `pipeline` as build number `number` in a new workspace, prepared by `prepare`,
    /// with the extra environment `vars` and PATH `path` (default: [`Agent::path`]).
    fn build(
        &self,
        pipeline: &Path,
        number: u32,
        vars: &[(&str, &str)],
        path: Option<std::ffi::OsString>,
        prepare: impl FnOnce(&Path),
    ) -> Build {
        let workspace = tempdir("notarium-jenkins-ws-");
        let build = tempdir("notarium-jenkins-build-");
        let archive = build.path().join("archive");
        let report = build.path().join("report.json");
        prepare(workspace.path());
        let path = path.unwrap_or_else(|| self.path());
        let harness = fixture_dir("jenkins").join("harness.groovy");
        let out = run_with_deadline(
            &self.groovy,
            [
                harness.as_os_str(),
                plugin_dir("jenkins").as_os_str(),
                pipeline.as_os_str(),
                report.as_os_str(),
            ],
            workspace.path(),
            |cmd| {
                scrub_env(cmd);
                cmd.env("PATH", &path)
                    .env("HOME", self.home.path())
                    .env("WORKSPACE", workspace.path())
                    .env("JENKINS_URL", "https://jenkins.example.com/")
                    .env("JOB_NAME", "acme/app")
                    .env("BUILD_NUMBER", number.to_string())
                    .env(
                        "BUILD_URL",
                        format!("https://jenkins.example.com/job/acme/job/app/{number}/"),
                    )
                    .env("HARNESS_CREDENTIALS", &self.credentials)
                    .env("HARNESS_ARCHIVE", &archive)
                    .envs(vars.iter().copied());
            },
        );
        let text = std::fs::read_to_string(&report)
            .unwrap_or_else(|e| panic!("the harness wrote no report ({e}): {out}"));
        let report: Value = serde_json::from_str(&text).expect("the report is JSON");
        Build {
            workspace,
            build,
            report,
            out,
        }
    }
}

/// One harness run: the workspace, the build directory (`archive/`, the stand-in for the
/// build's archived artifacts, and the report), the report and the console log.
struct Build {
    workspace: TempDir,
    build: TempDir,
    report: Value,
    out: Outcome,
}

impl Build {
    /// Asserts the build result (SUCCESS, UNSTABLE, FAILURE), showing the log otherwise.
    fn expect_result(&self, result: &str) -> &Build {
        assert_eq!(
            self.report["result"], result,
            "report: {:#}\n{}",
            self.report, self.out
        );
        self.out.expect_code(0);
        self
    }

    /// Asserts the message the build failed with.
    fn expect_error(&self, message: &str) -> &Build {
        assert_eq!(
            self.report["error"], message,
            "report: {:#}\n{}",
            self.report, self.out
        );
        self
    }

    fn echoes(&self) -> Vec<String> {
        self.report["echoes"]
            .as_array()
            .expect("echoes")
            .iter()
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect()
    }

    /// Asserts that `line` was echoed.
    fn expect_echo(&self, line: &str) -> &Build {
        let echoes = self.echoes();
        assert!(
            echoes.iter().any(|e| e == line),
            "no echo {line:?} in {echoes:#?}\n{}",
            self.out
        );
        self
    }

    fn archived(&self, rel: &str) -> PathBuf {
        let p = self.build.path().join("archive").join(rel);
        assert!(
            p.is_file(),
            "{rel} was not archived: {:#}\n{}",
            self.report["archived"],
            self.out
        );
        p
    }

    fn json(&self, rel: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.archived(rel)).expect("read"))
            .expect("JSON")
    }
}

/// A server, its write key (`notarium-write-key`) and a read key (`notarium-read-key`).
struct World {
    s: Setup,
    reader: ApiKey,
    agent: Agent,
}

impl World {
    fn new(groovy: &Path) -> World {
        let s = Setup::new();
        let reader = s.server.create_key("deploy", "read");
        let agent = Agent::new(groovy, &s.writer, &reader);
        World { s, reader, agent }
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TEST_SERVER", self.s.server.url().to_owned()),
            ("TEST_VERIFIER_KEY", self.s.server.verifier_key()),
        ]
    }

    /// Asserts that neither secret shows in a build's console log or in any command line.
    fn expect_no_secret(&self, b: &Build) {
        for secret in [&self.s.writer.secret, &self.reader.secret] {
            b.out.expect_absent(secret);
            assert!(
                !self
                    .agent
                    .argv()
                    .iter()
                    .any(|a| a.contains(secret.as_str())),
                "an API key was on notarium's command line"
            );
        }
    }
}

fn borrow<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn scenario(name: &str) -> PathBuf {
    fixture_dir("jenkins").join(name)
}

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
fn downloaded_notarium_runs_only_with_the_pinned_checksum() {
    let Some(groovy) = groovy() else { return };
    let w = World::new(&groovy);
    let notarium = binary("notarium");
    let mut vars = w.vars();
    vars.push(("TEST_URL", format!("file://{}", notarium.display())));
    vars.push(("TEST_GOOD_SHA256", sha256_file(&notarium)));
    vars.push(("TEST_BAD_SHA256", sha256_file(&binary("notariumd"))));
    let b = w.agent.build(
        &scenario("download.groovy"),
        6,
        &borrow(&vars),
        Some(path_without_notarium()),
        |_| {},
    );
    b.expect_result("SUCCESS")
        .expect_echo("good: trusted 0")
        .expect_echo("bad: setup_failed 64")
        .expect_echo("none: setup_failed 64");
    b.out
        .expect_output("notarium: downloading file://")
        .expect_output("checksum mismatch for file://")
        .expect_output("notarium is not on PATH and no notariumUrl is set");
    // The mismatched binary never ran: its subject is not in the ledger.
    let ws = b.workspace.path();
    w.s.cli
        .run([
            "authenticate".as_ref(),
            ws.join("dist/good.txt").as_os_str(),
        ])
        .expect_code(0);
    w.s.cli
        .run(["authenticate".as_ref(), ws.join("dist/bad.txt").as_os_str()])
        .expect_code(2);
    assert!(!ws.join("bad/notarize.json").exists());
}

#[test]
fn state_in_the_agents_home_catches_a_rollback_in_a_later_build() {
    let Some(groovy) = groovy() else { return };
    let w = World::new(&groovy);
    // An older checkpoint, genuine and signed, to replay later.
    w.s.work.write("first", b"first\n");
    w.s.cli.run(["notarize", "first"]).expect_code(0);
    let older = w.s.cli.stored_checkpoint();

    let proxy = Proxy::start(w.s.server.url());
    let mut vars = w.vars();
    vars[0].1 = proxy.url().to_owned();
    let mut notarize = borrow(&vars);
    notarize.push(("TEST_STEP", "notarize"));
    w.agent
        .build(&scenario("state.groovy"), 1, &notarize, None, |_| {})
        .expect_result("SUCCESS");

    // Now the server lies: the artifact is unknown, and its checkpoint is the older one.
    proxy.replace(Route::Artifact, br#"{"status":"unknown"}"#.to_vec());
    proxy.replace(Route::Checkpoint, older);

    // A later build, in another workspace, finds the state in the agent's home: rollback.
    let mut authenticate = borrow(&vars);
    authenticate.push(("TEST_STEP", "authenticate"));
    let b = w
        .agent
        .build(&scenario("state.groovy"), 2, &authenticate, None, |_| {});
    b.expect_result("FAILURE")
        .expect_error("notarium authenticate: verification_failed (exit 5)");
    b.out.expect_output("rollback");

    // With the state somewhere empty (stateDir), nothing tells the lie: the kept state is
    // what caught it.
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
