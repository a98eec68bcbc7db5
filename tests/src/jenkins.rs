//! Helpers for the Jenkins library's tests (`tests/jenkins.rs`, `tests/chain.rs`): an agent
//! ([`Agent`]: a home directory, a credentials store, a recording `notarium` on PATH) that runs
//! a pipeline through `tests/fixtures/jenkins/harness.groovy` with Debian's Groovy 2.4 (the
//! line Jenkins embeds), loading the library from `plugins/jenkins` or a pinned copy; the
//! build's report and console log ([`Build`]); and a server with a write and a read key
//! ([`World`]).
//!
//! Out of scope: a real Jenkins controller (CPS, the script-security sandbox, agents, the
//! Credentials plugin's masking); see plugins/jenkins/README.md.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use crate::ci_plugins::{
    fixture_dir, path_without_notarium, plugin_dir, require_tool, run_with_deadline, scrub_env,
    Outcome,
};
use crate::{binary, ApiKey, Setup};

/// Debian's groovy, or `None` (the test is skipped) outside CI when it is missing.
pub fn groovy() -> Option<PathBuf> {
    require_tool("groovy", "jenkins")
}

/// A new temporary directory named `prefix…`.
pub fn tempdir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temporary directory")
}

/// A Jenkins "agent": the home directory of its user (where the library keeps the verified
/// checkpoints by default), the credentials store, and a `notarium` on PATH that logs its
/// command lines before it runs the real one.
pub struct Agent {
    groovy: PathBuf,
    /// The agent user's home directory.
    pub home: TempDir,
    tools: TempDir,
    credentials: PathBuf,
    library: PathBuf,
}

impl Agent {
    /// An agent whose credentials store holds `notarium-write-key` and `notarium-read-key`.
    pub fn new(groovy: &Path, writer: &ApiKey, reader: &ApiKey) -> Agent {
        let home = tempdir("notarium-jenkins-home-");
        let tools = tempdir("notarium-jenkins-tools-");
        let credentials = tools.path().join("credentials.properties");
        std::fs::write(
            &credentials,
            format!(
                "notarium-write-key={}\nnotarium-read-key={}\nnotarium-wrong-key=nk_not-a-key-of-this-server-{}\n",
                writer.secret,
                reader.secret,
                crate::random_hex(8)
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
            library: plugin_dir("jenkins"),
        }
    }

    /// Adds a *Secret text* credential `id` holding `secret` (e.g. an OpenID Connect id
    /// token) to the agent's store.
    pub fn add_credential(&self, id: &str, secret: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.credentials)
            .expect("the credentials store");
        writeln!(f, "{id}={secret}").expect("write the credential");
    }

    /// The same agent, loading the library from `dir` (e.g. a copy whose pins
    /// `scripts/pin` wrote) instead of `plugins/jenkins`.
    pub fn with_library(mut self, dir: &Path) -> Agent {
        self.library = dir.to_owned();
        self
    }

    /// PATH with the recording `notarium` first.
    pub fn path(&self) -> std::ffi::OsString {
        let mut dirs = vec![self.tools.path().join("bin")];
        dirs.extend(std::env::split_paths(&path_without_notarium()));
        std::env::join_paths(dirs).expect("PATH entries join")
    }

    /// Every command line `notarium` was run with, one a line.
    pub fn argv(&self) -> Vec<String> {
        std::fs::read_to_string(self.tools.path().join("argv.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Runs `pipeline` as build number `number` in a new workspace, prepared by `prepare`,
    /// with the extra environment `vars` and PATH `path` (default: [`Agent::path`]).
    pub fn build(
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
                self.library.as_os_str(),
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
pub struct Build {
    /// The workspace.
    pub workspace: TempDir,
    build: TempDir,
    /// The harness's report: result, error, echoes, warnings, archived files, sh calls.
    pub report: Value,
    /// The console log.
    pub out: Outcome,
}

impl Build {
    /// Asserts the build result (SUCCESS, UNSTABLE, FAILURE), showing the log otherwise.
    pub fn expect_result(&self, result: &str) -> &Build {
        assert_eq!(
            self.report["result"], result,
            "report: {:#}\n{}",
            self.report, self.out
        );
        self.out.expect_code(0);
        self
    }

    /// Asserts the message the build failed with.
    pub fn expect_error(&self, message: &str) -> &Build {
        assert_eq!(
            self.report["error"], message,
            "report: {:#}\n{}",
            self.report, self.out
        );
        self
    }

    /// Every line the pipeline echoed.
    pub fn echoes(&self) -> Vec<String> {
        self.report["echoes"]
            .as_array()
            .expect("echoes")
            .iter()
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect()
    }

    /// Asserts that `line` was echoed.
    pub fn expect_echo(&self, line: &str) -> &Build {
        let echoes = self.echoes();
        assert!(
            echoes.iter().any(|e| e == line),
            "no echo {line:?} in {echoes:#?}\n{}",
            self.out
        );
        self
    }

    /// A file the build archived.
    ///
    /// # Panics
    /// When it was not archived.
    pub fn archived(&self, rel: &str) -> PathBuf {
        let p = self.build.path().join("archive").join(rel);
        assert!(
            p.is_file(),
            "{rel} was not archived: {:#}\n{}",
            self.report["archived"],
            self.out
        );
        p
    }

    /// An archived JSON file.
    pub fn json(&self, rel: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.archived(rel)).expect("read"))
            .expect("JSON")
    }
}

/// A server, its write key (`notarium-write-key`) and a read key (`notarium-read-key`).
pub struct World {
    /// The server, its writer key and a CLI.
    pub s: Setup,
    /// The read key.
    pub reader: ApiKey,
    /// The agent.
    pub agent: Agent,
}

impl World {
    /// A new server with both keys, and an agent holding them.
    pub fn new(groovy: &Path) -> World {
        World::of(groovy, Setup::new())
    }

    /// As [`World::new`], with `yaml` as the server's configuration file (e.g. trusted OIDC
    /// issuers).
    pub fn with_config(groovy: &Path, yaml: &str) -> World {
        World::of(groovy, Setup::with_config(yaml))
    }

    fn of(groovy: &Path, s: Setup) -> World {
        let reader = s.server.create_key("deploy", "read");
        let agent = Agent::new(groovy, &s.writer, &reader);
        World { s, reader, agent }
    }

    /// `TEST_SERVER` and `TEST_VERIFIER_KEY`, which the scenarios read.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TEST_SERVER", self.s.server.url().to_owned()),
            ("TEST_VERIFIER_KEY", self.s.server.verifier_key()),
        ]
    }

    /// Asserts that neither secret shows in a build's console log or in any command line.
    pub fn expect_no_secret(&self, b: &Build) {
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

/// `(name, value)` pairs borrowed as `&str`.
pub fn borrow<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A scenario of `tests/fixtures/jenkins/`.
pub fn scenario(name: &str) -> PathBuf {
    fixture_dir("jenkins").join(name)
}
