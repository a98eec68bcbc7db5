//! The GitLab CI/CD components of `plugins/gitlab` (DESIGN.md §7) in real pipelines:
//! gitlab-ci-local runs a `.gitlab-ci.yml` from `tests/fixtures/gitlab/` in a temporary git
//! repository that holds the component templates and includes them the way GitLab tests a
//! component inside its own project (`component: $CI_SERVER_FQDN/<project>/<name>@$CI_COMMIT_SHA`),
//! with inputs. Jobs run in the shell executor with `--shell-isolation`, which gives them
//! GitLab's artifact, dotenv and cache semantics; they run the `notarium` built from this
//! workspace against a real `notariumd`. API keys come from the project's variables file (the
//! local stand-in for masked CI/CD variables) and must never show up in a pipeline's output.
//!
//! gitlab-ci-local sets `GITLAB_CI=false` so that pipelines can tell a local run; the tests
//! set it to `true`, as GitLab does, so that `notarium --ci` records GitLab's context.
//!
//! Not covered: a real GitLab instance and runner (the catalog, `include: component:` from
//! another project, masking in the job log, the docker executor).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use notarium_e2e::ci_plugins::{
    copy_dir, fixture_dir, path_with_notarium, path_without_notarium, plugin_dir, require_tool,
    run_with_deadline, scrub_env, sha256_file, Outcome,
};
use notarium_e2e::proxy::{Proxy, Route};
use notarium_e2e::{binary, Server, Setup};
use serde_json::Value;
use tempfile::TempDir;

/// The git remote of the test project: its path is what the `component:` lines name.
const REMOTE: &str = "https://gitlab.example.com/acme/app.git";

/// gitlab-ci-local, or `None` (the test is skipped) outside CI when it is missing.
fn gitlab_ci_local() -> Option<PathBuf> {
    require_tool("gitlab-ci-local", "gitlab")
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Notarium Tests",
            "-c",
            "user.email=tests@notarium.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A temporary GitLab project: a git repository with the component templates committed, a
/// `.gitlab-ci.yml` and the CI/CD variables file, and its own gitlab-ci-local state (cache,
/// artifacts).
struct Project {
    dir: TempDir,
    home: TempDir,
    gcl: PathBuf,
}

impl Project {
    /// `fixture` is a file of `tests/fixtures/gitlab/`; each `(from, to)` of `replace` is
    /// substituted in it; `secrets` become the project's CI/CD variables.
    fn new(gcl: &Path, fixture: &str, replace: &[(&str, &str)], secrets: &[(&str, &str)]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("notarium-gitlab-")
            .tempdir()
            .expect("temporary directory");
        let home = tempfile::Builder::new()
            .prefix("notarium-gitlab-home-")
            .tempdir()
            .expect("temporary directory");
        let root = dir.path();
        git(root, &["init", "-q"]);
        git(root, &["remote", "add", "origin", REMOTE]);
        copy_dir(
            &plugin_dir("gitlab").join("templates"),
            &root.join("templates"),
        );
        git(root, &["add", "templates"]);
        git(root, &["commit", "-q", "-m", "the components under test"]);
        let mut yml = std::fs::read_to_string(fixture_dir("gitlab").join(fixture))
            .unwrap_or_else(|e| panic!("fixture {fixture}: {e}"));
        for (from, to) in replace {
            yml = yml.replace(from, to);
        }
        std::fs::write(root.join(".gitlab-ci.yml"), yml).expect("write .gitlab-ci.yml");
        let vars: String = secrets
            .iter()
            .map(|(k, v)| format!("{k}: \"{v}\"\n"))
            .collect();
        std::fs::write(root.join(".gitlab-ci-local-variables.yml"), vars)
            .expect("write the variables file");
        Project {
            dir,
            home,
            gcl: gcl.to_owned(),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the pipeline (or only `jobs`, when given) with `vars` as pipeline variables and
    /// `path` as the runner's PATH.
    fn run(&self, path: &OsString, vars: &[(&str, &str)], jobs: &[&str]) -> Outcome {
        let mut args: Vec<String> = [
            "--shell-isolation",
            "--no-artifacts-to-source",
            "--no-color",
            "--ignore-predefined-vars",
            "GITLAB_CI",
            "--variable",
            "GITLAB_CI=true",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for (k, v) in vars {
            args.push("--variable".into());
            args.push(format!("{k}={v}"));
        }
        args.extend(jobs.iter().map(|j| (*j).to_owned()));
        run_with_deadline(&self.gcl, &args, self.root(), |cmd| {
            scrub_env(cmd);
            cmd.env("PATH", path).env("HOME", self.home.path());
        })
    }

    /// A file that job `job` left as an artifact.
    fn artifact(&self, job: &str, rel: &str) -> PathBuf {
        self.root()
            .join(".gitlab-ci-local/artifacts")
            .join(job)
            .join(rel)
    }

    /// The dotenv report of a job of the components (default `receipts_dir`).
    fn dotenv(&self, job: &str) -> BTreeMap<String, String> {
        let path = self.artifact(job, &format!("notarium-receipts/{job}.env"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the dotenv report {}: {e}", path.display()));
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The `notarium --output json` document a job of the components kept.
    fn result(&self, job: &str) -> Value {
        let path = self.artifact(job, &format!("notarium-receipts/{job}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the JSON result {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn commit(&self) -> String {
        git(self.root(), &["rev-parse", "HEAD"])
    }
}

/// Asserts a dotenv report's verdict.
fn assert_verdict(p: &Project, job: &str, status: &str, code: u8) {
    let env = p.dotenv(job);
    assert_eq!(
        (
            env.get("NOTARIUM_STATUS").map(String::as_str),
            env.get("NOTARIUM_EXIT_CODE").map(String::as_str)
        ),
        (Some(status), Some(code.to_string().as_str())),
        "dotenv report of {job}: {env:?}"
    );
}

/// Asserts that the summary at the end of a pipeline's output says `PASS` or `FAIL` for `job`.
fn assert_job(out: &Outcome, job: &str, verdict: &str) {
    let found = out.stdout.lines().any(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        words.len() >= 2 && words[0] == verdict && words[1] == job
    });
    assert!(found, "no `{verdict} {job}` line in the summary: {out}");
}

/// The variables every fixture reads: the server, its verifier key.
fn server_vars(server: &Server) -> Vec<(&'static str, String)> {
    vec![
        ("NOTARIUM_TEST_SERVER", server.url().to_owned()),
        ("NOTARIUM_TEST_VERIFIER_KEY", server.verifier_key()),
    ]
}

fn borrow<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn notarize_then_authenticate_in_a_later_stage() {
    let Some(gcl) = gitlab_ci_local() else { return };
    let s = Setup::new();
    let reader = s.server.create_key("deploy", "read");
    let p = Project::new(
        &gcl,
        "notarize-authenticate.gitlab-ci.yml",
        &[],
        &[
            ("ACME_NOTARIUM_WRITE_KEY", &s.writer.secret),
            ("ACME_NOTARIUM_READ_KEY", &reader.secret),
        ],
    );
    let mut vars = server_vars(&s.server);
    vars.push(("NOTARIUM_TEST_SIGNER", s.writer.id.clone()));
    let out = p.run(&path_with_notarium(), &borrow(&vars), &[]);
    out.expect_code(0)
        .expect_output("deploying on verdict trusted (exit 0)")
        .expect_absent(&s.writer.secret)
        .expect_absent(&reader.secret);
    for job in ["build", "notarize", "authenticate", "deploy"] {
        assert_job(&out, job, "PASS");
    }
    assert_verdict(&p, "notarize", "trusted", 0);
    assert_verdict(&p, "authenticate", "trusted", 0);

    // Three subjects from a multi-line list with a glob, each notarized by the write key and
    // authenticated against the signer filter.
    for job in ["notarize", "authenticate"] {
        let doc = p.result(job);
        let results = doc["results"].as_array().expect("results");
        let subjects: Vec<&str> = results
            .iter()
            .filter_map(|r| r["subject"].as_str())
            .collect();
        assert_eq!(
            subjects,
            ["dist/app.tar.gz", "dist/lib.tar.gz", "dist/checksums.txt"],
            "{job}: {doc}"
        );
        for r in results {
            assert_eq!(r["status"], "trusted", "{job}: {r}");
            assert_eq!(r["signer"], s.writer.id.as_str(), "{job}: {r}");
        }
    }

    // The receipt is a build artifact, verifies offline against the built file, and its
    // entry carries GitLab's context and the attributes.
    let receipt = p.artifact("notarize", "notarium-receipts/dist_app.tar.gz.receipt.json");
    let built = p.artifact("build", "dist/app.tar.gz");
    let vkey = s.server.verifier_key();
    s.cli
        .run([
            "verify-receipt".as_ref(),
            "--verifier-key".as_ref(),
            vkey.as_ref(),
            receipt.as_os_str(),
            built.as_os_str(),
        ])
        .expect_code(0);
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(&receipt).expect("receipt")).expect("JSON");
    let entry = &r["entry"];
    assert_eq!(entry["ci"]["provider"], "gitlab", "{entry}");
    assert_eq!(entry["ci"]["repository"], "acme/app", "{entry}");
    assert_eq!(entry["ci"]["commit"], p.commit().as_str(), "{entry}");
    assert_eq!(entry["ci"]["job"], "notarize", "{entry}");
    assert_eq!(entry["attributes"]["component"], "app", "{entry}");
    assert_eq!(
        entry["attributes"]["pipeline"], entry["ci"]["pipeline_id"],
        "a CI variable in an input is expanded: {entry}"
    );
    assert!(p
        .artifact("notarize", "notarium-receipts/dist_app.tar.gz.tlog-proof")
        .is_file());
}

#[test]
fn tampered_artifact_fails_the_pipeline() {
    let Some(gcl) = gitlab_ci_local() else { return };
    let s = Setup::new();
    let p = Project::new(
        &gcl,
        "tampered.gitlab-ci.yml",
        &[],
        &[("NOTARIUM_API_KEY", &s.writer.secret)],
    );
    let out = p.run(&path_with_notarium(), &borrow(&server_vars(&s.server)), &[]);
    out.expect_code(1)
        .expect_output("reported verdict unknown (exit 2)")
        .expect_absent(&s.writer.secret);
    assert_job(&out, "notarize", "PASS");
    assert_job(&out, "tamper", "PASS");
    assert_job(&out, "authenticate", "FAIL");
    assert_job(&out, "report", "PASS");
    assert_verdict(&p, "notarize", "trusted", 0);
    assert_verdict(&p, "authenticate", "unknown", 2);
    let doc = p.result("authenticate");
    assert_eq!(doc["exit_code"], 2, "{doc}");
    assert_eq!(doc["results"][0]["status"], "unknown", "{doc}");

    // The same file as built is trusted: the ledger did its job, the file changed.
    let tampered = std::fs::read(p.artifact("tamper", "dist/app.tar.gz")).expect("tampered");
    let built = p.artifact("build", "dist/app.tar.gz");
    assert_ne!(std::fs::read(&built).expect("built"), tampered);
    s.cli
        .run(["authenticate".as_ref(), built.as_os_str()])
        .expect_code(0);
}

#[test]
fn untrust_mode_makes_authenticate_fail() {
    let Some(gcl) = gitlab_ci_local() else { return };
    let s = Setup::new();
    let p = Project::new(
        &gcl,
        "untrust.gitlab-ci.yml",
        &[],
        &[("NOTARIUM_API_KEY", &s.writer.secret)],
    );
    let out = p.run(&path_with_notarium(), &borrow(&server_vars(&s.server)), &[]);
    out.expect_code(1);
    assert_job(&out, "notarize", "PASS");
    assert_job(&out, "untrust", "PASS");
    assert_job(&out, "authenticate", "FAIL");
    assert_verdict(&p, "notarize", "trusted", 0);
    assert_verdict(&p, "untrust", "untrusted", 0);
    assert_verdict(&p, "authenticate", "untrusted", 1);
    assert_eq!(p.result("untrust")["results"][0]["status"], "untrusted");
}

#[test]
fn unreachable_server_warns_or_fails_as_asked() {
    let Some(gcl) = gitlab_ci_local() else { return };
    let mut server = Server::start();
    let vars = server_vars(&server);
    // The server is gone: its port refuses connections.
    server.stop();
    let p = Project::new(&gcl, "unreachable.gitlab-ci.yml", &[], &[]);
    let out = p.run(&path_with_notarium(), &borrow(&vars), &[]);
    out.expect_code(1)
        .expect_output("WARNING: the server is unreachable")
        .expect_output("went on with verdict server_unreachable (exit 6)");
    assert_job(&out, "auth-warn", "PASS");
    assert_job(&out, "auth-fail", "FAIL");
    assert_job(&out, "report", "PASS");
    assert_verdict(&p, "auth-warn", "server_unreachable", 6);
    assert_verdict(&p, "auth-fail", "server_unreachable", 6);
}

#[test]
fn downloaded_notarium_runs_only_with_the_pinned_checksum() {
    let Some(gcl) = gitlab_ci_local() else { return };
    let s = Setup::new();
    let notarium = binary("notarium");
    let good = sha256_file(&notarium);
    let bad = sha256_file(&binary("notariumd"));
    let p = Project::new(
        &gcl,
        "download.gitlab-ci.yml",
        &[("@GOOD_SHA256@", &good), ("@BAD_SHA256@", &bad)],
        &[("NOTARIUM_API_KEY", &s.writer.secret)],
    );
    let mut vars = server_vars(&s.server);
    vars.push((
        "NOTARIUM_TEST_URL",
        format!("file://{}", notarium.display()),
    ));
    let out = p.run(&path_without_notarium(), &borrow(&vars), &[]);
    out.expect_code(1)
        .expect_output("notarium: downloading file://")
        .expect_output(&format!(
            "checksum mismatch for file://{}",
            notarium.display()
        ))
        .expect_output("notarium is not on PATH and no notarium_url is set");
    assert_job(&out, "good", "PASS");
    assert_job(&out, "bad", "FAIL");
    assert_job(&out, "nourl", "FAIL");
    assert_verdict(&p, "good", "trusted", 0);
    assert_verdict(&p, "bad", "setup_failed", 64);
    assert_verdict(&p, "nourl", "setup_failed", 64);
    // The mismatched download never ran: no result, and its subject is not in the ledger.
    assert!(!p.artifact("bad", "notarium-receipts/bad.json").exists());
    let built = |name: &str| p.artifact("build", &format!("dist/{name}"));
    s.cli
        .run(["authenticate".as_ref(), built("good.txt").as_os_str()])
        .expect_code(0);
    s.cli
        .run(["authenticate".as_ref(), built("bad.txt").as_os_str()])
        .expect_code(2);
}

#[test]
fn cached_state_catches_a_rollback_in_a_later_pipeline() {
    let Some(gcl) = gitlab_ci_local() else { return };
    let s = Setup::new();
    // An older checkpoint, genuine and signed, to replay later.
    s.work.write("first", b"first\n");
    s.cli.run(["notarize", "first"]).expect_code(0);
    let older = s.cli.stored_checkpoint();

    let proxy = Proxy::start(s.server.url());
    let mut vars = server_vars(&s.server);
    vars[0].1 = proxy.url().to_owned();
    let secrets = [("NOTARIUM_API_KEY", s.writer.secret.as_str())];
    let p = Project::new(&gcl, "rollback.gitlab-ci.yml", &[], &secrets);
    p.run(
        &path_with_notarium(),
        &borrow(&vars),
        &["build", "notarize"],
    )
    .expect_code(0);
    assert_verdict(&p, "notarize", "trusted", 0);

    // Now the server lies: the artifact is unknown, and its checkpoint is the older one,
    // which hides the notarization.
    proxy.replace(Route::Artifact, br#"{"status":"unknown"}"#.to_vec());
    proxy.replace(Route::Checkpoint, older);

    // The next pipeline of the same project restores the state from the cache: rollback.
    let out = p.run(
        &path_with_notarium(),
        &borrow(&vars),
        &["build", "authenticate"],
    );
    out.expect_code(1).expect_output("rollback");
    assert_job(&out, "authenticate", "FAIL");
    assert_verdict(&p, "authenticate", "verification_failed", 5);

    // A project without that cache has nothing to compare with and believes the lie: the
    // cache is what caught it.
    let fresh = Project::new(&gcl, "rollback.gitlab-ci.yml", &[], &secrets);
    fresh
        .run(
            &path_with_notarium(),
            &borrow(&vars),
            &["build", "authenticate"],
        )
        .expect_code(1);
    assert_verdict(&fresh, "authenticate", "unknown", 2);
}

/// The two templates must run the same script (only their inputs differ); it is copied, as
/// a component cannot share files with another at run time.
#[test]
fn templates_share_one_script() {
    let script = |name: &str| {
        let path = plugin_dir("gitlab").join("templates").join(name);
        let text = std::fs::read_to_string(&path).expect("template");
        let start = text
            .find("# notarium-script:start")
            .unwrap_or_else(|| panic!("{name} lacks the script start marker"));
        let end = text
            .find("# notarium-script:end")
            .unwrap_or_else(|| panic!("{name} lacks the script end marker"));
        text[start..end].to_owned()
    };
    assert_eq!(script("notarize.yml"), script("authenticate.yml"));
}
