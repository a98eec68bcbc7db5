//! The `notarium` CLI against a real `notariumd`: every exit code of docs/cli.md, the
//! directory manifest diff, offline receipts with the server gone, and 10,000 files notarized
//! in one command. Each test starts its own server and state directory.

use std::collections::BTreeSet;
use std::time::Instant;

use notarium_core::Sha256;
use notarium_e2e::{Cli, Run, Server, Setup, Workdir};
use serde_json::Value;

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
