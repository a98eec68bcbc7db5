//! The GitLab CI/CD components of `plugins/gitlab` (docs/plugins.md) in real pipelines:
//! gitlab-ci-local runs a `.gitlab-ci.yml` from `tests/fixtures/gitlab/` in a temporary git
//! repository that includes the components the way a user writes it,
//! `component: $CI_SERVER_FQDN/notarium/notarium-gitlab/notarize@<version>`, from a project of
//! their own (`scripts/gitlab-component`'s export of `plugins/gitlab`, tagged, served over
//! git's HTTP protocol; see `notarium_e2e::gitlab`). Jobs run in the shell executor with
//! `--shell-isolation`, which gives them GitLab's artifact, dotenv and cache semantics; they
//! run the `notarium` built from this workspace against a real `notariumd`. API keys come from
//! the project's variables file (the local stand-in for masked CI/CD variables) and must
//! never show up in a pipeline's output. The download of the pinned release is tested in
//! `tests/chain.rs`.
//!
//! gitlab-ci-local sets `GITLAB_CI=false` so that pipelines can tell a local run; the tests
//! set it to `true`, as GitLab does, so that `notarium --ci` records GitLab's context.
//!
//! Keyless: the components ask GitLab for an OIDC ID token (`id_tokens`) and prefer it to the
//! API key; gitlab-ci-local mints none, so the test puts a token minted by the mock issuer of
//! `notarium_e2e::oidc` (GitLab's claims) in the job's `NOTARIUM_ID_TOKEN` variable, against a
//! `notariumd` that trusts the issuer.
//!
//! Not covered: a real GitLab instance and runner (the catalog, masking in the job log, the
//! docker executor, GitLab minting the token).

use std::path::PathBuf;

use notarium_core::entry::oidc_signer_id;
use notarium_e2e::ci_plugins::{fixture_dir, path_with_notarium, plugin_dir, require_tool};
use notarium_e2e::gitlab::{assert_job, Components, Project};
use notarium_e2e::oidc::{assert_no_token, issuer_config, MockIssuer};
use notarium_e2e::proxy::Proxy;
use notarium_e2e::{Server, Setup};
use serde_json::Value;

/// gitlab-ci-local, or `None` (the test is skipped) outside CI when it is missing.
fn gitlab_ci_local() -> Option<PathBuf> {
    require_tool("gitlab-ci-local", "gitlab")
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
    let c = Components::of_this_checkout();
    let p = Project::new(
        &gcl,
        &c,
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
    p.assert_verdict("notarize", "trusted", 0);
    p.assert_verdict("authenticate", "trusted", 0);

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
    let c = Components::of_this_checkout();
    let p = Project::new(
        &gcl,
        &c,
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
    p.assert_verdict("notarize", "trusted", 0);
    p.assert_verdict("authenticate", "unknown", 2);
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
    let c = Components::of_this_checkout();
    let p = Project::new(
        &gcl,
        &c,
        "untrust.gitlab-ci.yml",
        &[],
        &[("NOTARIUM_API_KEY", &s.writer.secret)],
    );
    let out = p.run(&path_with_notarium(), &borrow(&server_vars(&s.server)), &[]);
    out.expect_code(1);
    assert_job(&out, "notarize", "PASS");
    assert_job(&out, "untrust", "PASS");
    assert_job(&out, "authenticate", "FAIL");
    p.assert_verdict("notarize", "trusted", 0);
    p.assert_verdict("untrust", "untrusted", 0);
    p.assert_verdict("authenticate", "untrusted", 1);
    assert_eq!(p.result("untrust")["results"][0]["status"], "untrusted");
}

#[test]
fn unreachable_server_warns_or_fails_as_asked() {
    let Some(gcl) = gitlab_ci_local() else { return };
    let mut server = Server::start();
    let mut vars = server_vars(&server);
    // The server is gone, and its URL names port 1, where nothing listens: a freed port of
    // its own could be taken by another test's server meanwhile.
    server.stop();
    vars[0].1 = "http://127.0.0.1:1".to_owned();
    let c = Components::of_this_checkout();
    let p = Project::new(&gcl, &c, "unreachable.gitlab-ci.yml", &[], &[]);
    let out = p.run(&path_with_notarium(), &borrow(&vars), &[]);
    out.expect_code(1)
        .expect_output("WARNING: the server is unreachable")
        .expect_output("went on with verdict server_unreachable (exit 6)");
    assert_job(&out, "auth-warn", "PASS");
    assert_job(&out, "auth-fail", "FAIL");
    assert_job(&out, "report", "PASS");
    p.assert_verdict("auth-warn", "server_unreachable", 6);
    p.assert_verdict("auth-fail", "server_unreachable", 6);
}

#[test]
fn cached_state_catches_a_rollback_in_a_later_pipeline() {
    let Some(gcl) = gitlab_ci_local() else { return };
    let s = Setup::new();
    // A backup taken before the pipeline notarizes anything: later the server is restored
    // from it, and answers genuinely, with status proofs, from the older tree.
    s.work.write("first", b"first\n");
    s.cli.run(["notarize", "first"]).expect_code(0);
    let backup = s.server.backup();

    let proxy = Proxy::start(s.server.url());
    let mut vars = server_vars(&s.server);
    vars[0].1 = proxy.url().to_owned();
    let secrets = [("NOTARIUM_API_KEY", s.writer.secret.as_str())];
    let c = Components::of_this_checkout();
    let p = Project::new(&gcl, &c, "rollback.gitlab-ci.yml", &[], &secrets);
    p.run(
        &path_with_notarium(),
        &borrow(&vars),
        &["build", "notarize"],
    )
    .expect_code(0);
    p.assert_verdict("notarize", "trusted", 0);

    // Now the server is restored from the backup, behind the same URL: the artifact is
    // unknown there, proven so against its older (genuine, signed) checkpoint.
    let restored = backup.serve();
    proxy.set_upstream(restored.url());
    let forwarded = proxy.forwarded();

    // The next pipeline of the same project restores the state from the cache: rollback.
    let out = p.run(
        &path_with_notarium(),
        &borrow(&vars),
        &["build", "authenticate"],
    );
    out.expect_code(1).expect_output("rollback");
    assert_job(&out, "authenticate", "FAIL");
    p.assert_verdict("authenticate", "verification_failed", 5);
    assert!(
        proxy.forwarded() > forwarded,
        "the restored server was never asked"
    );

    // A project without that cache has nothing to compare with and believes the restored
    // server, whose answers verify on their own: the cache is what caught it.
    let fresh = Project::new(&gcl, &c, "rollback.gitlab-ci.yml", &[], &secrets);
    let believed = fresh.run(
        &path_with_notarium(),
        &borrow(&vars),
        &["build", "authenticate"],
    );
    believed.expect_code(1);
    eprintln!("{believed}");
    fresh.assert_verdict("authenticate", "unknown", 2);
}

/// Project and pipeline variables named like notarium's own do not override the inputs:
/// GitLab gives them precedence over a job's `variables:`, so the components read their
/// inputs in the script. Before, NOTARIUM_SERVER of the project sent the jobs to a dead port
/// and NOTARIUM_STATE_DIR moved the state out of the cache (no rollback detection).
#[test]
fn project_and_pipeline_variables_do_not_override_the_inputs() {
    let Some(gcl) = gitlab_ci_local() else { return };
    let s = Setup::new();
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("address"))
    };
    // A path that does not exist yet (gitlab-ci-local takes a variable naming an existing
    // file for a file variable).
    let outside = tempfile::tempdir().expect("temporary directory");
    let elsewhere = outside.path().join("state").to_string_lossy().into_owned();
    let c = Components::of_this_checkout();
    let p = Project::new(
        &gcl,
        &c,
        "inputs-win.gitlab-ci.yml",
        &[],
        &[
            ("ACME_NOTARIUM_WRITE_KEY", &s.writer.secret),
            // A wrong key under the default name: the input names another variable.
            (
                "NOTARIUM_API_KEY",
                "nk_not-the-key-the-input-names-0123456789",
            ),
            ("NOTARIUM_SERVER", &dead),
            ("NOTARIUM_LEDGER", "no-such-ledger"),
            ("NOTARIUM_STATE_DIR", &elsewhere),
            ("NOTARIUM_OUTPUT", "text"),
            ("NOTARIUM_API_KEY_FILE", "/nonexistent/key"),
        ],
    );
    let mut vars = server_vars(&s.server);
    // Pipeline variables rank above project variables in GitLab: the inputs still win.
    vars.push(("NOTARIUM_SERVER", dead.clone()));
    let out = p.run(&path_with_notarium(), &borrow(&vars), &[]);
    out.expect_code(0).expect_absent(&s.writer.secret);
    assert_job(&out, "notarize", "PASS");
    assert_job(&out, "authenticate", "PASS");
    p.assert_verdict("notarize", "trusted", 0);
    p.assert_verdict("authenticate", "trusted", 0);
    // The state is in the cache of the state_dir input, not where NOTARIUM_STATE_DIR points.
    assert!(
        !std::path::Path::new(&elsewhere).exists(),
        "notarium kept its state where the project variable said"
    );
    let cache = p.root().join(".gitlab-ci-local/cache");
    let cached = walk(&cache)
        .into_iter()
        .filter(|f| f.ends_with("default.json"))
        .count();
    assert!(
        cached > 0,
        "no state in the GitLab cache under {}",
        cache.display()
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.map_while(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    out
}

/// A wrong API key is `unauthorized` (exit 7) in the dotenv report and the JSON result, not
/// `usage`: the job says what to fix.
#[test]
fn a_wrong_api_key_is_reported_as_unauthorized() {
    let Some(gcl) = gitlab_ci_local() else { return };
    let s = Setup::new();
    let c = Components::of_this_checkout();
    let p = Project::new(
        &gcl,
        &c,
        "rollback.gitlab-ci.yml",
        &[],
        &[(
            "NOTARIUM_API_KEY",
            "nk_revoked-or-mistyped-key-0123456789abcdef",
        )],
    );
    let out = p.run(
        &path_with_notarium(),
        &borrow(&server_vars(&s.server)),
        &["build", "notarize"],
    );
    out.expect_code(1)
        .expect_output("notarium: notarize: unauthorized (exit 7)");
    assert_job(&out, "notarize", "FAIL");
    p.assert_verdict("notarize", "unauthorized", 7);
    let doc = p.result("notarize");
    assert_eq!(doc["reason"], "unauthorized", "{doc}");
}

/// Every job of a fixture past the first stage names the jobs whose artifacts it takes
/// (`needs` or `dependencies`). Without, GitLab hands it the artifacts of *every* earlier job,
/// and two jobs writing the same path race: the tampered-artifact pipeline gave a wrong
/// verdict in 4 of 14 runs that way. The components' jobs count too (by job name).
#[test]
fn fixture_jobs_name_their_artifact_sources() {
    for e in std::fs::read_dir(fixture_dir("gitlab")).expect("fixtures") {
        let path = e.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("fixture");
        let doc: Value = yaml_serde::from_str(&text).expect("YAML");
        let first = doc["stages"][0].as_str().expect("stages").to_owned();
        let mut jobs: Vec<(String, String)> = Vec::new();
        for inc in doc["include"].as_array().into_iter().flatten() {
            let component = inc["component"].as_str().unwrap_or_default();
            let name = component
                .rsplit('/')
                .next()
                .and_then(|n| n.split('@').next())
                .unwrap_or_default();
            let job = inc["inputs"]["job_name"]
                .as_str()
                .unwrap_or(name)
                .to_owned();
            let stage = inc["inputs"]["stage"].as_str().unwrap_or("test").to_owned();
            jobs.push((job, stage));
        }
        for (k, v) in doc.as_object().expect("a mapping") {
            if let Some(stage) = v.get("stage").and_then(Value::as_str) {
                jobs.push((k.clone(), stage.to_owned()));
            }
        }
        for (job, stage) in jobs {
            if stage == first {
                continue;
            }
            let def = &doc[job.as_str()];
            assert!(
                def.get("needs").is_some() || def.get("dependencies").is_some(),
                "{}: job {job} (stage {stage}) takes the artifacts of every earlier job: give it `dependencies` or `needs`",
                path.display()
            );
        }
    }
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

/// `scripts/gitlab-component` makes a component project GitLab accepts: `templates/` at the
/// root, a semantic-version tag, the catalog's release pipeline; running it again changes
/// nothing, and a tag is never moved.
#[test]
fn the_component_project_is_laid_out_as_gitlab_wants() {
    let c = Components::of_this_checkout();
    assert!(
        c.version().split('.').count() == 3
            && c.version().split('.').all(|p| p.parse::<u32>().is_ok()),
        "{}",
        c.version()
    );
    let dest = tempfile::tempdir().expect("temporary directory");
    let run = || {
        std::process::Command::new(
            notarium_e2e::ci_plugins::workspace_root().join("scripts/gitlab-component"),
        )
        .arg(dest.path())
        .output()
        .expect("scripts/gitlab-component runs")
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let files = notarium_e2e::gitlab::git(dest.path(), &["ls-files"]);
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        [
            ".gitlab-ci.yml",
            "README.md",
            "templates/authenticate.yml",
            "templates/notarize.yml"
        ]
    );
    let head = notarium_e2e::gitlab::git(dest.path(), &["rev-parse", "HEAD"]);
    let again = run();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        notarium_e2e::gitlab::git(dest.path(), &["rev-parse", "HEAD"]),
        head
    );
    // Another commit under the same tag is refused.
    std::fs::write(dest.path().join("extra.txt"), "x").expect("write");
    notarium_e2e::gitlab::git(dest.path(), &["add", "extra.txt"]);
    notarium_e2e::gitlab::git(dest.path(), &["commit", "-q", "-m", "extra"]);
    let moved = run();
    assert!(!moved.status.success());
    assert!(String::from_utf8_lossy(&moved.stderr).contains("already names another commit"));
}

/// The audience of the GitLab-shaped tokens in the keyless test (the components' `audience`
/// input, and the server's configuration).
const AUDIENCE: &str = "notarium-e2e";

/// Keyless, end to end: the components' jobs carry `id_tokens: NOTARIUM_ID_TOKEN` with the
/// `audience` input as `aud` (checked in gitlab-ci-local's preview of the merged pipeline),
/// and with a token in that variable — minted by the mock issuer with GitLab's claims, since
/// gitlab-ci-local mints none — notarize with it rather than with the API key also present:
/// the entry's signer is the identity and its receipt carries the verified identity. The
/// authenticate component's `signer_*` inputs: matched, trusted; another project, exit 8 and
/// `signer_mismatch` in the dotenv report and the JSON result. Without a token the API key
/// notarizes and the policy fails (an API-key entry has no verified identity); `oidc: false`
/// uses the API key although a token is there. No token in any output.
#[test]
fn keyless_notarize_and_signer_policy() {
    let Some(gcl) = gitlab_ci_local() else { return };
    let mock = MockIssuer::start();
    let s = Setup::with_config(&issuer_config(
        &mock,
        "gitlab",
        AUDIENCE,
        "        - ledger: default\n          role: write\n          claims:\n            project_id: \"20\"\n",
    ));
    let token = mock.mint(&mock.current_kid(), &mock.gitlab_claims(AUDIENCE));
    let host = mock.issuer().trim_start_matches("https://").to_owned();
    let c = Components::of_this_checkout();
    let vars = |build: &str| {
        let mut v = server_vars(&s.server);
        v.push(("NOTARIUM_TEST_ISSUER", mock.issuer().to_owned()));
        v.push((
            "NOTARIUM_TEST_WORKFLOW",
            format!("{host}/acme/app//.gitlab-ci.yml"),
        ));
        v.push(("NOTARIUM_TEST_BUILD", build.to_owned()));
        v
    };
    let project = |oidc: &str, variables: &[(&str, &str)]| {
        Project::new(
            &gcl,
            &c,
            "oidc.gitlab-ci.yml",
            &[("AUDIENCE", AUDIENCE), ("OIDC_SETTING", oidc)],
            variables,
        )
    };
    let with_token = [
        ("NOTARIUM_ID_TOKEN", token.as_str()),
        ("NOTARIUM_API_KEY", s.writer.secret.as_str()),
    ];

    let p = project("true", &with_token);
    // The jobs the components add ask GitLab for the token, with the audience input.
    let preview = p.preview();
    preview.expect_code(0);
    let merged: Value = yaml_serde::from_str(&preview.stdout).expect("the preview is YAML");
    for job in ["notarize", "authenticate", "authenticate-other"] {
        assert_eq!(
            merged[job]["id_tokens"]["NOTARIUM_ID_TOKEN"]["aud"], AUDIENCE,
            "{job}: {}",
            preview.stdout
        );
    }

    let out = p.run(&path_with_notarium(), &borrow(&vars("1")), &[]);
    out.expect_code(1)
        .expect_output(
            "notarium: credential: the job's OIDC ID token (id_tokens: NOTARIUM_ID_TOKEN)",
        )
        .expect_output("repository: required acme/other, verified acme/app")
        .expect_absent(&s.writer.secret);
    assert_no_token(&out.all(), &token, "the pipeline's output");
    assert_job(&out, "notarize", "PASS");
    assert_job(&out, "authenticate", "PASS");
    assert_job(&out, "authenticate-other", "FAIL");
    p.assert_verdict("notarize", "trusted", 0);
    p.assert_verdict("authenticate", "trusted", 0);
    p.assert_verdict("authenticate-other", "signer_mismatch", 8);
    let identity = oidc_signer_id(
        mock.issuer(),
        "project_path:acme/app:ref_type:branch:ref:main",
    );
    let row = &p.result("notarize")["results"][0];
    assert_eq!(
        row["signer"],
        identity.as_str(),
        "the token, not the key: {row}"
    );
    assert_eq!(row["verified_identity"]["provider"], "gitlab", "{row}");
    let receipt: Value = serde_json::from_str(
        &std::fs::read_to_string(
            p.artifact("notarize", "notarium-receipts/dist_app.tar.gz.receipt.json"),
        )
        .expect("the receipt"),
    )
    .expect("JSON");
    let id = &receipt["entry"]["identity"];
    assert_eq!(id["issuer"], mock.issuer(), "{id}");
    assert_eq!(id["context"]["repository"], "acme/app", "{id}");
    assert_eq!(id["context"]["pipeline_id"], "574", "{id}");
    assert_eq!(
        p.result("authenticate")["results"][0]["signer_policy"],
        serde_json::json!({ "matched": true })
    );
    let other = &p.result("authenticate-other")["results"][0];
    assert_eq!(other["reason"], "signer_mismatch", "{other}");
    assert_eq!(
        other["signer_policy"]["mismatches"],
        serde_json::json!(["repository: required acme/other, verified acme/app"])
    );
    for f in ["notarize", "authenticate", "authenticate-other"] {
        let report = std::fs::read_to_string(p.artifact(f, &format!("notarium-receipts/{f}.env")))
            .expect("the dotenv report");
        assert_no_token(&report, &token, "a dotenv report");
    }

    // No token offered: the API key notarizes (a new build), and the same policy fails.
    let p = project("true", &[("NOTARIUM_API_KEY", s.writer.secret.as_str())]);
    let out = p.run(&path_with_notarium(), &borrow(&vars("2")), &[]);
    out.expect_code(1)
        .expect_output("notarium: credential: the API key in NOTARIUM_API_KEY")
        .expect_output("has no verified identity");
    p.assert_verdict("notarize", "trusted", 0);
    p.assert_verdict("authenticate", "signer_mismatch", 8);
    assert_eq!(
        p.result("notarize")["results"][0]["signer"],
        s.writer.id.as_str()
    );

    // oidc: false: the API key, although the job has a token.
    let p = project("false", &with_token);
    let out = p.run(
        &path_with_notarium(),
        &borrow(&vars("3")),
        &["build", "notarize"],
    );
    out.expect_code(0)
        .expect_output("notarium: credential: the API key in NOTARIUM_API_KEY");
    assert_no_token(&out.all(), &token, "the pipeline's output");
    assert_eq!(
        p.result("notarize")["results"][0]["signer"],
        s.writer.id.as_str()
    );
}
