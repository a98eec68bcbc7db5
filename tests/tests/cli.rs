//! The `notarium` CLI against a real `notariumd`: every exit code of docs/cli.md, the
//! directory manifest diff, offline receipts with the server gone, 10,000 files notarized in
//! one command, and what a user reads: recorded attributes and CI context, receipt files that
//! never overwrite each other, readable ledger and key commands. Each test starts its own
//! server and state directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use notarium_core::Sha256;
use notarium_e2e::{Cli, Run, Server, Setup, Workdir};
use serde_json::{json, Value};

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::of(bytes).to_hex()
}

/// The one result of a single-subject `--output json` run.
fn only(run: &Run) -> Value {
    let results = run.results();
    assert_eq!(results.len(), 1, "expected one result: {run}");
    results[0].clone()
}

/// Asserts a result's `code`, `reason` and `status`.
fn assert_result(r: &Value, code: u8, reason: &str, status: &str) {
    assert_eq!(
        (
            r["code"].as_u64(),
            r["reason"].as_str(),
            r["status"].as_str()
        ),
        (Some(u64::from(code)), Some(reason), Some(status)),
        "result: {r}"
    );
}

fn authenticate(cli: &Cli, args: &[&str], code: i32) -> Run {
    let mut all = vec!["authenticate"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--output", "json"]);
    let run = cli.run(&all);
    run.expect_code(code);
    run
}

#[test]
fn notarize_authenticate_untrust_unsupport() {
    let s = Setup::new();
    let cli = &s.cli;
    let body = b"app v1.0\n";
    s.work.write("app.tar.gz", body);

    let run = cli.run([
        "notarize",
        "app.tar.gz",
        "--receipts",
        "receipts",
        "--output",
        "json",
    ]);
    run.expect_code(0)
        .expect_stderr("trusting this key on first use");
    let r = only(&run);
    assert_result(&r, 0, "notarized", "trusted");
    assert_eq!(r["sha256"], sha256_hex(body));
    assert_eq!(r["signer"], s.writer.id.as_str());
    assert_eq!(r["subject"], "app.tar.gz");
    assert!(s
        .work
        .path()
        .join("receipts/app.tar.gz.receipt.json")
        .is_file());
    assert!(s
        .work
        .path()
        .join("receipts/app.tar.gz.tlog-proof")
        .is_file());
    // Trust on first use pinned the server's real key.
    assert_eq!(cli.stored_state()["verifier_key"], s.server.verifier_key());

    let run = authenticate(cli, &["app.tar.gz"], 0);
    assert!(
        !run.stderr.contains("first use"),
        "the stored key is used silently: {run}"
    );
    let r = only(&run);
    assert_result(&r, 0, "trusted", "trusted");
    assert_eq!(r["index"], 1, "entry 0 is the creation of the key");
    // Text output names the status too.
    let text = cli.run(["authenticate", "app.tar.gz"]);
    text.expect_code(0);
    assert!(text.stdout.contains("trusted  app.tar.gz"), "{text}");

    let run = cli.run(["untrust", "app.tar.gz", "--output", "json"]);
    run.expect_code(0);
    assert_result(&only(&run), 0, "notarized", "untrusted");
    let run = authenticate(cli, &["app.tar.gz"], 1);
    assert_result(&only(&run), 1, "untrusted", "untrusted");

    let run = cli.run(["unsupport", "app.tar.gz", "--output", "json"]);
    run.expect_code(0);
    assert_result(&only(&run), 0, "notarized", "unsupported");
    let run = authenticate(cli, &["app.tar.gz"], 3);
    assert_result(&only(&run), 3, "unsupported", "unsupported");

    // Notarizing again makes it trusted again: the latest entry decides.
    cli.run(["notarize", "app.tar.gz"]).expect_code(0);
    let run = authenticate(cli, &["--hash", &sha256_hex(body)], 0);
    assert_result(&only(&run), 0, "trusted", "trusted");
}

#[test]
fn unknown_is_2_and_the_worst_code_wins() {
    let s = Setup::new();
    let cli = &s.cli;
    s.work.write("good", b"good\n");
    s.work.write("bad", b"bad\n");
    s.work.write("old", b"old\n");
    s.work.write("never", b"never notarized\n");
    cli.run(["notarize", "good"]).expect_code(0);
    cli.run(["untrust", "bad"]).expect_code(0);
    cli.run(["unsupport", "old"]).expect_code(0);

    let run = authenticate(cli, &["never"], 2);
    let r = only(&run);
    assert_result(&r, 2, "unknown", "unknown");
    assert!(r.get("index").is_none(), "unknown has no entry: {r}");
    authenticate(cli, &["--hash", &sha256_hex(b"nothing")], 2);

    // Several files: one batch answer, one code each, and the highest code is the exit code.
    let run = authenticate(cli, &["good", "bad"], 1);
    let codes: Vec<_> = run.results().iter().map(|r| r["code"].clone()).collect();
    assert_eq!(codes, [0, 1]);
    let run = authenticate(cli, &["good", "bad", "never"], 2);
    let codes: Vec<_> = run.results().iter().map(|r| r["code"].clone()).collect();
    assert_eq!(codes, [0, 1, 2]);
    let run = authenticate(cli, &["never", "old", "good"], 3);
    let reasons: Vec<_> = run.results().iter().map(|r| r["reason"].clone()).collect();
    assert_eq!(reasons, ["unknown", "unsupported", "trusted"]);
}

#[test]
fn revoked_signer_is_4() {
    let s = Setup::new();
    let cli = &s.cli;
    s.work.write("app", b"built by a key that leaks\n");
    cli.run(["notarize", "app"]).expect_code(0);
    let other = s.server.create_key("release", "write");
    let other_cli = cli.with_key(&other.secret);
    other_cli.run(["authenticate", "app"]).expect_code(0);

    let run = s.server.admin().run(["key", "revoke", &s.writer.id]);
    run.expect_code(0);

    let run = authenticate(&other_cli, &["app"], 4);
    let r = only(&run);
    assert_result(&r, 4, "revoked", "revoked");
    assert_eq!(r["signer"], s.writer.id.as_str());
    // Restricted to the revoked signer it stays revoked; to another signer it is unknown.
    authenticate(&other_cli, &["app", "--signer", &s.writer.id], 4);
    authenticate(&other_cli, &["app", "--signer", &other.id], 2);
    // The revoked key itself is refused by the server (401): unauthorized, 7.
    cli.run(["authenticate", "app"])
        .expect_code(7)
        .expect_stderr("revoked");

    // A valid signer notarizes the same file again: its entry now decides.
    other_cli.run(["notarize", "app"]).expect_code(0);
    let run = authenticate(&other_cli, &["app"], 0);
    assert_eq!(only(&run)["signer"], other.id.as_str());
}

#[test]
fn server_stopped_is_6_and_nothing_is_forgotten() {
    let mut s = Setup::new();
    let cli = &s.cli;
    s.work.write("app", b"app\n");
    cli.run(["notarize", "app"]).expect_code(0);
    let state = cli.state_snapshot();

    s.server.stop();
    cli.run(["authenticate", "app"])
        .expect_code(6)
        .expect_stderr("cannot reach");
    let run = cli.run(["authenticate", "app", "--output", "json"]);
    run.expect_code(6);
    let doc = run.json();
    assert_eq!(doc["exit_code"], 6);
    assert_eq!(doc["reason"], "server_unreachable");
    cli.run(["notarize", "app"]).expect_code(6);
    cli.run(["checkpoint"]).expect_code(6);
    assert_eq!(
        cli.state_snapshot(),
        state,
        "a failed run leaves the state alone"
    );

    // Back on the same address and data: the stored checkpoint still verifies.
    s.server.restart();
    let run = authenticate(cli, &["app"], 0);
    assert_result(&only(&run), 0, "trusted", "trusted");
}

/// A missing, wrong or under-privileged API key is not a usage error: the command was right,
/// the key is not. Exit 7 with reason `unauthorized`, which the plugins pass on; `--help`
/// lists it with the other codes.
#[test]
fn refused_credentials_are_7_unauthorized() {
    let s = Setup::new();
    s.work.write("app", b"app\n");
    let reader = s.server.create_key("deploy", "read");
    let cases: Vec<(&str, Cli, Vec<&str>)> = vec![
        ("no key", s.server.cli(), vec!["notarize", "app"]),
        (
            "an unknown key",
            s.server
                .cli()
                .with_key("nk_this-key-was-never-issued-0123456789"),
            vec!["authenticate", "app"],
        ),
        (
            "a read key notarizing",
            s.cli.with_key(&reader.secret),
            vec!["notarize", "app"],
        ),
        (
            "a write key creating keys",
            s.cli.clone(),
            vec!["key", "create", "more", "--role", "read"],
        ),
    ];
    for (what, cli, args) in cases {
        let cli = cli.current_dir(s.work.path());
        let run = cli.run(&args);
        run.expect_code(7);
        assert!(
            run.stderr.contains("unauthorized"),
            "{what}: the message says unauthorized: {run}"
        );
        let mut json = args.clone();
        json.insert(0, "--output=json");
        let run = cli.run(&json);
        run.expect_code(7);
        let doc = run.json();
        assert_eq!(
            (doc["exit_code"].as_u64(), doc["reason"].as_str()),
            (Some(7), Some("unauthorized")),
            "{what}: {doc}"
        );
    }
    // Nothing was recorded by the refused calls.
    let run = s.cli.run(["authenticate", "app"]);
    run.expect_code(2);
    let help = Cli::new("http://127.0.0.1:9").run(["--help"]);
    help.expect_code(0);
    for line in [
        "Exit codes",
        "7   unauthorized",
        "64  usage",
        "6   server unreachable",
    ] {
        assert!(help.stdout.contains(line), "--help lacks {line:?}: {help}");
    }
}

#[test]
fn usage_errors_are_64() {
    // Nothing listens on port 9: a usage error that slipped through would exit 6, not 64.
    let cli = Cli::new("http://127.0.0.1:9");
    let work = Workdir::new();
    let file = work.write("f", b"f\n");
    let file = file.to_str().expect("UTF-8 path");
    let missing = work.path().join("missing");
    let missing = missing.to_str().expect("UTF-8 path");
    for args in [
        vec!["--bogus"],
        vec![],
        vec!["frobnicate"],
        vec!["authenticate"],
        vec!["authenticate", missing],
        vec!["--output", "yaml", "authenticate", file],
        vec!["authenticate", file, "--offline"],
        vec!["authenticate", file, "--receipt", file],
        vec!["authenticate", "--hash", "not-a-hash"],
        vec!["notarize"],
        vec!["notarize", "--hash", "abc", "--name", "x"],
        vec!["notarize", file, "--attr", "no-equals-sign"],
        vec!["key", "create", "k", "--role", "superuser"],
        vec!["--server", "ftp://127.0.0.1:9", "authenticate", file],
        vec!["--ledger", "Not A Ledger", "authenticate", file],
        vec!["verify-receipt", missing],
    ] {
        let run = cli.run(&args);
        run.expect_code(64);
        assert!(
            !run.stderr.is_empty(),
            "a usage error explains itself: {run}"
        );
    }
    // After parsing, usage errors are JSON documents too.
    let run = cli.run(["authenticate", "--output", "json"]);
    run.expect_code(64);
    assert_eq!(run.json()["exit_code"], 64);
    assert_eq!(run.json()["reason"], "usage");
    cli.run(["--help"]).expect_code(0);
    cli.run(["authenticate", "--help"]).expect_code(0);
    cli.run(["--version"]).expect_code(0);
}

#[test]
fn directory_manifest_diff() {
    let s = Setup::new();
    let cli = &s.cli;
    s.work.write("dist/app", b"app\n");
    s.work.write("dist/lib/core.so", b"core\n");
    s.work.write("dist/README", b"readme\n");

    let run = cli.run([
        "notarize",
        "dir://dist",
        "--receipts",
        "receipts",
        "--output",
        "json",
    ]);
    run.expect_code(0);
    let r = only(&run);
    assert_result(&r, 0, "notarized", "trusted");
    let manifest = std::fs::read_to_string(s.work.path().join("receipts/dist.manifest"))
        .expect("the manifest is saved beside the receipt");
    assert_eq!(
        manifest,
        format!(
            "{}  README\n{}  app\n{}  lib/core.so\n",
            sha256_hex(b"readme\n"),
            sha256_hex(b"app\n"),
            sha256_hex(b"core\n")
        )
    );
    assert_eq!(r["sha256"], sha256_hex(manifest.as_bytes()));

    let run = authenticate(
        cli,
        &["dir://dist", "--manifest", "receipts/dist.manifest"],
        0,
    );
    assert!(only(&run).get("details").is_none(), "unchanged: {run}");

    s.work.write("dist/lib/core.so", b"core, patched\n");
    s.work.write("dist/extra", b"extra\n");
    std::fs::remove_file(s.work.path().join("dist/README")).expect("remove");
    let run = authenticate(
        cli,
        &["dir://dist", "--manifest", "receipts/dist.manifest"],
        2,
    );
    let r = only(&run);
    assert_result(&r, 2, "unknown", "unknown");
    let details: Vec<&str> = r["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        details.first().copied(),
        Some("notarized manifest receipts/dist.manifest is trusted")
    );
    let changes: BTreeSet<&str> = details[1..].iter().copied().collect();
    assert_eq!(
        changes,
        BTreeSet::from(["added: extra", "changed: lib/core.so", "removed: README"])
    );

    // A manifest file that the ledger does not vouch for yields no list of changes.
    s.work.write(
        "forged.manifest",
        format!("{}  app\n", sha256_hex(b"app\n")).as_bytes(),
    );
    let run = authenticate(cli, &["dir://dist", "--manifest", "forged.manifest"], 2);
    let details = only(&run)["details"].clone();
    let details: Vec<&str> = details
        .as_array()
        .expect("details")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        details[0].starts_with("notarized manifest forged.manifest is unknown"),
        "{run}"
    );
    assert_eq!(
        details.len(),
        1,
        "no changes listed from a forged manifest: {run}"
    );
}

#[test]
fn offline_receipts_verify_with_the_server_gone() {
    let mut s = Setup::new();
    let cli = &s.cli;
    let vkey = s.server.verifier_key();
    s.work.write("app", b"app\n");
    s.work.write("bad", b"bad\n");
    cli.run(["notarize", "app", "--receipts", "r"])
        .expect_code(0);
    cli.run(["untrust", "bad", "--receipts", "r"])
        .expect_code(0);
    s.server.stop();
    cli.run(["authenticate", "app"]).expect_code(6);

    let offline = |cli: &Cli, args: &[&str], code: i32| -> Run {
        let mut all = vec!["authenticate"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--offline", "--output", "json"]);
        let run = cli.run(&all);
        run.expect_code(code);
        run
    };
    // With the key this machine stored.
    let run = offline(cli, &["app", "--receipt", "r/app.receipt.json"], 0);
    let r = only(&run);
    assert_result(&r, 0, "trusted", "trusted");
    assert!(
        r["details"][0]
            .as_str()
            .unwrap_or("")
            .starts_with("offline:"),
        "{run}"
    );
    assert_eq!(run.json()["offline"], true);
    offline(cli, &["app", "--receipt", "r/app.tlog-proof"], 0);
    offline(cli, &["--receipt", "r/app.receipt.json"], 0);
    let run = offline(cli, &["bad", "--receipt", "r/bad.receipt.json"], 1);
    assert_result(&only(&run), 1, "untrusted", "untrusted");

    // Another machine: it needs the key, by flag or environment.
    let other = cli.with_fresh_state();
    offline(&other, &["app", "--receipt", "r/app.receipt.json"], 64).expect_stderr("verifier-key");
    offline(
        &other,
        &[
            "app",
            "--receipt",
            "r/app.receipt.json",
            "--verifier-key",
            &vkey,
        ],
        0,
    );
    let with_env = other.clone().env("NOTARIUM_VERIFIER_KEY", &vkey);
    offline(&with_env, &["app", "--receipt", "r/app.tlog-proof"], 0);

    // The wrong file, a doctored receipt, or another key: verification fails.
    let run = offline(cli, &["bad", "--receipt", "r/app.receipt.json"], 5);
    assert_eq!(only(&run)["reason"], "verification_failed");
    let mut receipt: Value = serde_json::from_str(
        &std::fs::read_to_string(s.work.path().join("r/app.receipt.json")).expect("receipt"),
    )
    .expect("JSON receipt");
    receipt["index"] = Value::from(receipt["index"].as_u64().expect("index") + 1);
    s.work.write(
        "r/doctored.receipt.json",
        serde_json::to_string(&receipt).expect("JSON").as_bytes(),
    );
    offline(cli, &["app", "--receipt", "r/doctored.receipt.json"], 5);
    let stranger = notarium_core::SignerKey::from_seed(s.server.signing_key().name(), [7u8; 32])
        .expect("key")
        .verifier()
        .to_string();
    offline(
        &other,
        &[
            "app",
            "--receipt",
            "r/app.receipt.json",
            "--verifier-key",
            &stranger,
        ],
        5,
    );

    // verify-receipt: a valid receipt is success whatever it records; a mismatch is 5.
    cli.run(["verify-receipt", "r/app.receipt.json", "app"])
        .expect_code(0);
    cli.run(["verify-receipt", "r/bad.tlog-proof", "bad"])
        .expect_code(0);
    cli.run(["verify-receipt", "r/app.receipt.json", "bad"])
        .expect_code(5);
    cli.run(["verify-receipt", "r/doctored.receipt.json"])
        .expect_code(5);
}

#[test]
fn checkpoint_audit_inspect_search() {
    let s = Setup::new();
    let cli = &s.cli;
    s.work.write("app", b"app\n");
    cli.run(["notarize", "app", "--attr", "version=1.2.3"])
        .expect_code(0);
    cli.run(["untrust", "app"]).expect_code(0);

    let run = cli.run(["checkpoint", "--output", "json"]);
    run.expect_code(0);
    let cp = run.json();
    assert_eq!(cp["size"], 3, "key, notarize, untrust: {run}");
    assert_eq!(cp["previous_size"], 3);
    assert_eq!(cp["checkpoint"], cli.stored_checkpoint().as_str());

    let run = cli.run(["audit", "--output", "json"]);
    run.expect_code(0);
    assert_eq!(run.json()["entries"], 3);
    assert_eq!(run.json()["verified"], true);

    let run = cli.run(["inspect", "app", "--output", "json"]);
    run.expect_code(0);
    let statuses: Vec<_> = run.results().iter().map(|r| r["status"].clone()).collect();
    assert_eq!(statuses, ["trusted", "untrusted"]);

    let run = cli.run(["search", "--name", "app", "--output", "json"]);
    run.expect_code(0);
    let indexes: Vec<_> = run.results().iter().map(|r| r["index"].clone()).collect();
    assert_eq!(indexes, [1, 2]);
    let run = cli.run(["search", "--attr", "version:1.2.3", "--output", "json"]);
    run.expect_code(0);
    assert_eq!(run.results().len(), 1);
}

#[test]
fn ten_thousand_files_in_one_command() {
    const FILES: usize = 10_000;
    let s = Setup::new();
    let cli = &s.cli;
    for i in 0..FILES {
        s.work.write(
            &format!("out/{:02}/{i:05}.bin", i % 100),
            format!("artifact {i}\n").as_bytes(),
        );
    }

    let started = Instant::now();
    let run = cli.run(["notarize", "out", "--output", "json"]);
    let notarize = started.elapsed();
    run.expect_code(0);
    let results = run.results();
    assert_eq!(results.len(), FILES);
    let mut indexes = BTreeSet::new();
    for r in &results {
        assert_result(r, 0, "notarized", "trusted");
        indexes.insert(r["index"].as_u64().expect("index"));
    }
    assert_eq!(indexes.len(), FILES, "one entry per file");
    assert_eq!(run.json()["checkpoint"]["size"], FILES + 1);

    let started = Instant::now();
    let run = cli.run(["authenticate", "out", "--output", "json"]);
    let authenticate = started.elapsed();
    run.expect_code(0);
    let results = run.results();
    assert_eq!(results.len(), FILES);
    for r in &results {
        assert_result(r, 0, "trusted", "trusted");
    }

    let rate = |d: std::time::Duration| FILES as f64 / d.as_secs_f64();
    eprintln!(
        "{FILES} files: notarize {:.2} s ({:.0} files/s), authenticate {:.2} s ({:.0} files/s)",
        notarize.as_secs_f64(),
        rate(notarize),
        authenticate.as_secs_f64(),
        rate(authenticate)
    );
}

#[test]
fn a_server_restart_keeps_the_clients_view_consistent() {
    let mut server = Server::start();
    let writer = server.create_key("ci", "write");
    let work = Workdir::new();
    let cli = server
        .cli()
        .with_key(&writer.secret)
        .current_dir(work.path());
    work.write("a", b"a\n");
    work.write("b", b"b\n");
    cli.run(["notarize", "a"]).expect_code(0);
    let before = cli.stored_checkpoint();
    server.restart();
    cli.run(["notarize", "b"]).expect_code(0);
    // The new checkpoint was accepted through a consistency proof from the stored one.
    assert_ne!(cli.stored_checkpoint(), before);
    authenticate(&cli, &["a", "b"], 0);
}

#[test]
fn inspect_and_search_show_attributes_and_ci_context() {
    let s = Setup::new();
    let in_ci = s
        .cli
        .clone()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/app")
        .env("GITHUB_SERVER_URL", "https://github.example")
        .env("GITHUB_RUN_ID", "42")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567");
    s.work.write("app", b"app\n");
    in_ci
        .run([
            "notarize",
            "app",
            "--attr",
            "version=1.2.3",
            "--attr",
            "channel=stable",
            "--ci",
        ])
        .expect_code(0);

    for args in [vec!["inspect", "app"], vec!["search", "--name", "app"]] {
        let mut with_json = args.clone();
        with_json.extend(["--output", "json"]);
        let run = s.cli.run(&with_json);
        run.expect_code(0);
        let r = only(&run);
        assert_eq!(
            r["attributes"],
            json!({ "channel": "stable", "version": "1.2.3" }),
            "{run}"
        );
        assert_eq!(r["asserted_ci"]["provider"], "github", "{run}");
        assert_eq!(r["asserted_ci"]["repository"], "acme/app", "{run}");
        assert_eq!(
            r["asserted_ci"]["run_url"],
            "https://github.example/acme/app/actions/runs/42"
        );

        let text = s.cli.run(&args);
        text.expect_code(0);
        for needle in [
            "version=1.2.3",
            "channel=stable",
            "repository=acme/app",
            "run_url=https://github.example/acme/app/actions/runs/42",
        ] {
            assert!(text.stdout.contains(needle), "{needle:?} missing: {text}");
        }
    }
}

/// Reads a JSON file written by the CLI under `work` (`path` as the CLI printed it).
fn read_json(work: &Workdir, path: &str) -> Value {
    let path = work.path().join(path);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("the file exists"))
        .expect("a JSON file")
}

/// Every file under `dir` with its bytes.
fn files(dir: &std::path::Path) -> BTreeMap<PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("a directory")
        .map(|e| {
            let p = e.expect("an entry").path();
            let bytes = std::fs::read(&p).expect("a file");
            (p, bytes)
        })
        .collect()
}

#[test]
fn receipts_of_artifacts_with_the_same_file_name_are_all_kept() {
    let s = Setup::new();
    let cli = &s.cli;
    // Two directories named alike, names that only differ in characters a file name cannot
    // keep, and names whose `/` and `_` meet at the same place.
    s.work.write("a/dist/app", b"a\n");
    s.work.write("b/dist/app", b"b\n");
    s.work.write("файл.bin", b"one\n");
    s.work.write("блок.bin", b"two\n");
    s.work.write("x/y_z", b"xyz 1\n");
    s.work.write("x_y/z", b"xyz 2\n");
    let run = cli.run([
        "notarize",
        "dir://a/dist",
        "dir://b/dist",
        "файл.bin",
        "блок.bin",
        "x/y_z",
        "x_y/z",
        "--receipts",
        "r",
        "--output",
        "json",
    ]);
    run.expect_code(0);
    let mut paths = BTreeSet::new();
    for r in run.results() {
        let path = r["receipt"]
            .as_str()
            .unwrap_or_else(|| panic!("each result names its receipt file: {run}"));
        assert!(
            paths.insert(path.to_owned()),
            "two artifacts share {path}: {run}"
        );
        let receipt = read_json(&s.work, path);
        assert_eq!(receipt["entry"]["sha256"], r["sha256"], "{path}: {run}");
        assert_eq!(receipt["index"], r["index"], "{path}: {run}");
        let proof = path.replace(".receipt.json", ".tlog-proof");
        assert!(s.work.path().join(&proof).is_file(), "{proof}: {run}");
        // Each receipt verifies offline against its own artifact.
        let subject = r["subject"].as_str().expect("subject");
        if !subject.starts_with("dir://") {
            cli.run(["verify-receipt", path, subject]).expect_code(0);
        }
    }
    assert_eq!(paths.len(), 6);
    assert!(
        run.stderr.contains("another artifact"),
        "a receipt written elsewhere than its usual name is announced: {run}"
    );
    // Each directory's manifest is beside its own receipt.
    for (dir, body) in [("a/dist", "a\n"), ("b/dist", "b\n")] {
        let r = run
            .results()
            .into_iter()
            .find(|r| r["subject"] == format!("dir://{dir}"))
            .expect("the directory's result");
        let manifest = r["receipt"]
            .as_str()
            .expect("receipt")
            .replace(".receipt.json", ".manifest");
        let text = std::fs::read_to_string(s.work.path().join(&manifest)).expect("manifest");
        assert_eq!(text, format!("{}  app\n", sha256_hex(body.as_bytes())));
    }

    // A later run keeps the receipts of other artifacts that sit where its own would go...
    s.work.write("c/dist/app", b"c\n");
    let before = files(&s.work.path().join("r"));
    let run = cli.run([
        "notarize",
        "dir://c/dist",
        "--receipts",
        "r",
        "--output",
        "json",
    ]);
    run.expect_code(0);
    let new = only(&run)["receipt"].as_str().expect("receipt").to_owned();
    assert!(!paths.contains(&new), "{new} was overwritten: {run}");
    let after = files(&s.work.path().join("r"));
    for (p, bytes) in &before {
        assert_eq!(after.get(p), Some(bytes), "{} changed", p.display());
    }
    // ...and replaces the receipt of the same artifact with its newer entry.
    let run = cli.run([
        "untrust",
        "dir://a/dist",
        "--receipts",
        "r",
        "--output",
        "json",
    ]);
    run.expect_code(0);
    assert_eq!(only(&run)["receipt"], "r/dist.receipt.json", "{run}");
    let receipt = read_json(&s.work, "r/dist.receipt.json");
    assert_eq!(receipt["entry"]["status"], "untrusted");
}

#[test]
fn verify_receipt_against_another_file_only_says_it_failed() {
    let s = Setup::new();
    let cli = &s.cli;
    s.work.write("app", b"app\n");
    s.work.write("other", b"other\n");
    cli.run(["notarize", "app", "--receipts", "r"])
        .expect_code(0);

    let run = cli.run(["verify-receipt", "r/app.receipt.json", "other"]);
    run.expect_code(5);
    let said = format!("{}\n{}", run.stdout, run.stderr).to_lowercase();
    assert!(said.contains("verification failed"), "{run}");
    assert!(
        !said.contains("verified"),
        "a failed verification never says verified: {run}"
    );
    assert!(
        said.contains(&sha256_hex(b"app\n")),
        "it says what the receipt is for: {run}"
    );
    let run = cli.run([
        "verify-receipt",
        "r/app.receipt.json",
        "other",
        "--output",
        "json",
    ]);
    run.expect_code(5);
    assert!(!run.stdout.contains("verified"), "{run}");
    assert_eq!(only(&run)["reason"], "verification_failed");

    // The right file still says so.
    let run = cli.run(["verify-receipt", "r/app.receipt.json", "app"]);
    run.expect_code(0);
    assert!(run.stdout.contains("verified"), "{run}");
}

#[test]
fn search_attr_takes_key_equals_value_as_notarize_does() {
    let s = Setup::new();
    let cli = &s.cli;
    s.work.write("app", b"app\n");
    s.work.write("other", b"other\n");
    s.work.write("linked", b"linked\n");
    cli.run(["notarize", "app", "--attr", "version=1.2.3"])
        .expect_code(0);
    cli.run(["notarize", "other", "--attr", "version=2.0"])
        .expect_code(0);
    cli.run(["notarize", "linked", "--attr", "url=https://h:1/?a=b"])
        .expect_code(0);
    for (filter, subject) in [
        ("version=1.2.3", "app"),
        ("version:1.2.3", "app"),
        ("url=https://h:1/?a=b", "linked"),
        ("url:https://h:1/?a=b", "linked"),
    ] {
        let run = cli.run(["search", "--attr", filter, "--output", "json"]);
        run.expect_code(0);
        assert_eq!(only(&run)["subject"], subject, "--attr {filter}: {run}");
    }
    for bad in ["version", "=1.2.3", ":1.2.3"] {
        cli.run(["search", "--attr", bad])
            .expect_code(64)
            .expect_stderr("key=value");
    }
}

#[test]
fn empty_variables_count_as_unset() {
    let s = Setup::new();
    s.work.write("app", b"app\n");
    s.cli.run(["notarize", "app"]).expect_code(0);
    // As a CI template writes them when an optional input is not given.
    let run = s
        .cli
        .clone()
        .env("NOTARIUM_VERIFIER_KEY", "")
        .env("NOTARIUM_API_KEY_FILE", "")
        .env("NOTARIUM_CA_FILE", "")
        .run(["authenticate", "app"]);
    run.expect_code(0);
}

#[test]
fn ledger_and_key_commands_print_text_unless_json_is_asked() {
    let s = Setup::new();
    let admin = s.server.admin();
    let is_json = |run: &Run| serde_json::from_str::<Value>(&run.stdout).is_ok();

    let run = admin.run(["ledger", "list"]);
    run.expect_code(0);
    assert!(!is_json(&run), "text, not JSON: {run}");
    assert!(run.stdout.contains("NAME"), "{run}");
    assert!(run.stdout.contains("default"), "{run}");
    let run = admin.run(["ledger", "list", "--output", "json"]);
    run.expect_code(0);
    assert_eq!(run.json()["ledgers"][0]["name"], "default");

    let run = admin.run(["ledger", "show"]);
    run.expect_code(0);
    assert!(!is_json(&run), "text, not JSON: {run}");
    assert!(run.stdout.contains(&s.server.verifier_key()), "{run}");
    assert!(run.stdout.contains("localhost/notarium/default"), "{run}");
    let run = admin.run(["ledger", "show", "--output", "json"]);
    run.expect_code(0);
    assert_eq!(run.json()["verifier_key"], s.server.verifier_key());

    let run = admin.run(["ledger", "create", "releases", "--public-read"]);
    run.expect_code(0);
    assert!(!is_json(&run), "text, not JSON: {run}");
    assert!(run.stdout.contains("releases"), "{run}");
    let run = admin.run(["ledger", "create", "nightly", "--output", "json"]);
    run.expect_code(0);
    assert_eq!(run.json()["name"], "nightly");

    let run = admin.run(["key", "list"]);
    run.expect_code(0);
    assert!(!is_json(&run), "text, not JSON: {run}");
    assert!(run.stdout.contains(&s.writer.id), "{run}");
    assert!(run.stdout.contains("write"), "{run}");
    let run = admin.run(["key", "list", "--output", "json"]);
    run.expect_code(0);
    assert_eq!(run.json()["keys"][0]["id"], s.writer.id.as_str());

    let run = admin.run(["key", "revoke", &s.writer.id]);
    run.expect_code(0);
    assert!(!is_json(&run), "text, not JSON: {run}");
    assert!(run.stdout.contains(&s.writer.id), "{run}");
    assert!(run.stdout.contains("revoked"), "{run}");
    let other = s.server.create_key("other", "read");
    let run = admin.run(["key", "revoke", &other.id, "--output", "json"]);
    run.expect_code(0);
    assert_eq!(run.json()["id"], other.id.as_str());
}
