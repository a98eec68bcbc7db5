//! Fresh status proofs for offline checks (docs/status-index.md, "Fresh status"): the real CLI
//! saves one next to its receipts from a real `notariumd`, and later, with the server gone,
//! `authenticate --receipt R --offline --max-status-age AGE` tells the status as of the proof's
//! signed time — a later untrust or key revocation included — refuses one older than the
//! bound (exit 6), and refuses a doctored, unsigned-in-time or forked one (exit 5).

use std::process::Command;

use notarium_e2e::{binary, Cli, Run, Server, Setup};
use serde_json::Value;

fn offline(cli: &Cli, args: &[&str], code: i32) -> Run {
    let mut all = vec!["authenticate"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--offline", "--output", "json"]);
    let run = cli.run(&all);
    run.expect_code(code);
    run
}

fn only(run: &Run) -> Value {
    let results = run.results();
    assert_eq!(results.len(), 1, "expected one result: {run}");
    results[0].clone()
}

fn details(r: &Value) -> String {
    r["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[test]
fn a_saved_status_proof_tells_the_status_offline_as_of_its_signed_time() {
    let s = Setup::new();
    let cli = &s.cli;
    let vkey = s.server.verifier_key();
    s.work.write("app", b"app 1.0\n");
    s.work.write("lib", b"lib 1.0\n");
    cli.run(["notarize", "app", "lib", "--receipts", "r"])
        .expect_code(0);

    // Without a status proof: the receipt alone, saying what it cannot tell; a bound on the
    // status's age cannot be met (exit 6).
    let run = offline(cli, &["app", "--receipt", "r/app.receipt.json"], 0);
    assert!(
        details(&only(&run)).contains("without a status proof"),
        "{run}"
    );
    let run = offline(
        cli,
        &[
            "app",
            "--receipt",
            "r/app.receipt.json",
            "--max-status-age",
            "24h",
        ],
        6,
    );
    assert_eq!(only(&run)["reason"], "status_stale", "{run}");

    // A fresh status proof saved next to the receipts is found and verified offline.
    let run = cli.run([
        "authenticate",
        "app",
        "lib",
        "--save-status",
        "r/notarium-status.json",
        "--output",
        "json",
    ]);
    run.expect_code(0);
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(s.work.path().join("r/notarium-status.json")).expect("saved"),
    )
    .expect("JSON");
    assert_eq!(file["format"], "notarium-status/v1");
    let note = file["batches"][0]["checkpoint"]
        .as_str()
        .expect("checkpoint");
    assert!(note.contains("\nnotarium-time/v1 "), "{note}");
    assert!(note.contains("\nnotarium-index/v1 "), "{note}");
    std::fs::copy(
        s.work.path().join("r/notarium-status.json"),
        s.work.path().join("trusted-status.json"),
    )
    .expect("copy");

    let other = cli.with_fresh_state().env("NOTARIUM_VERIFIER_KEY", &vkey);
    let args = [
        "app",
        "--receipt",
        "r/app.receipt.json",
        "--max-status-age",
        "24h",
    ];
    let run = offline(&other, &args, 0);
    let r = only(&run);
    assert_eq!(r["status"], "trusted");
    assert!(details(&r).contains("status proven current"), "{run}");

    // Untrusted later: a new status proof says so offline, with the old receipt; the old
    // proof still says trusted, but only as of its time.
    cli.run(["untrust", "app"]).expect_code(0);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    cli.run([
        "authenticate",
        "app",
        "lib",
        "--save-status",
        "r/notarium-status.json",
    ])
    .expect_code(1);
    let run = offline(&other, &args, 1);
    assert_eq!(only(&run)["status"], "untrusted", "{run}");
    offline(
        &other,
        &[
            "app",
            "--receipt",
            "r/app.receipt.json",
            "--status",
            "trusted-status.json",
        ],
        0,
    );
    let run = offline(
        &other,
        &[
            "app",
            "--receipt",
            "r/app.receipt.json",
            "--status",
            "trusted-status.json",
            "--max-status-age",
            "1s",
        ],
        6,
    );
    assert!(details(&only(&run)).contains("--max-status-age"), "{run}");

    // The signer's key revoked: the next proof says revoked for what it signed.
    s.server
        .admin()
        .run(["key", "revoke", &s.writer.id])
        .expect_code(0);
    let reader = s.server.create_key("reader", "read");
    let reading = s
        .server
        .cli()
        .with_key(&reader.secret)
        .current_dir(s.work.path());
    reading
        .run([
            "authenticate",
            "lib",
            "--save-status",
            "r/notarium-status.json",
        ])
        .expect_code(4);
    let run = offline(
        &other,
        &[
            "lib",
            "--receipt",
            "r/lib.receipt.json",
            "--max-status-age",
            "1h",
        ],
        4,
    );
    assert_eq!(only(&run)["status"], "revoked", "{run}");
    // The proof covers only what was asked: app is not in it, so its receipt speaks alone.
    let run = offline(&other, &["app", "--receipt", "r/app.receipt.json"], 0);
    assert!(details(&only(&run)).contains("says nothing about"), "{run}");

    // Signers: a proof saved for some signers answers only for them.
    offline(
        &other,
        &[
            "lib",
            "--receipt",
            "r/lib.receipt.json",
            "--signer",
            &s.writer.id,
        ],
        64,
    );
}

#[test]
fn a_doctored_or_unattested_status_proof_is_refused() {
    let s = Setup::new();
    let cli = &s.cli;
    let vkey = s.server.verifier_key();
    s.work.write("app", b"app\n");
    cli.run(["notarize", "app", "--receipts", "r"])
        .expect_code(0);
    cli.run(["untrust", "app"]).expect_code(0);
    cli.run(["authenticate", "app", "--save-status", "genuine.json"])
        .expect_code(1);
    let genuine: Value = serde_json::from_str(
        &std::fs::read_to_string(s.work.path().join("genuine.json")).expect("saved"),
    )
    .expect("JSON");
    let other = cli.with_fresh_state().env("NOTARIUM_VERIFIER_KEY", &vkey);
    let check = |name: &str, doc: &Value, code: i32| -> Run {
        s.work
            .write(name, serde_json::to_string(doc).unwrap().as_bytes());
        let run = offline(
            &other,
            &["app", "--receipt", "r/app.receipt.json", "--status", name],
            code,
        );
        assert!(
            !s.work.path().join("r/notarium-status.json").exists(),
            "nothing written offline"
        );
        run
    };
    check("genuine-copy.json", &genuine, 1);

    // The later untrust hidden: the original trusted entry shown as the answer.
    let mut hidden = genuine.clone();
    let answer = &mut hidden["batches"][0]["results"][0];
    answer["status"] = Value::from("trusted");
    check("hidden.json", &hidden, 5);

    // The signed time moved: the signature no longer holds.
    let mut moved = genuine.clone();
    let note = moved["batches"][0]["checkpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let line = note
        .lines()
        .find(|l| l.starts_with("notarium-time/v1 "))
        .unwrap()
        .to_owned();
    let later = format!("notarium-time/v1 {}", u64::MAX / 2);
    // Every copy of the note (the batch's and each receipt's) replaced, as JSON text.
    let renote = |v: &mut Value, from: &str, to: &str| {
        let inner = |t: &str| {
            let q = serde_json::to_string(t).unwrap();
            q[1..q.len() - 1].to_owned()
        };
        let text = serde_json::to_string(v)
            .unwrap()
            .replace(&inner(from), &inner(to));
        *v = serde_json::from_str(&text).unwrap();
    };
    renote(&mut moved, &line, &later);
    check("moved.json", &moved, 5);

    // An ordinary checkpoint (genuinely signed, no time) in place of the attested one.
    let plain = cli.run(["checkpoint"]);
    plain.expect_code(0);
    let mut unattested = genuine.clone();
    renote(&mut unattested, &note, &plain.stdout);
    let run = check("unattested.json", &unattested, 5);
    assert!(
        run.stderr.contains("no time") || run.stdout.contains("no time"),
        "{run}"
    );

    // Not a status file at all, or cut short: a usage error, nothing verified.
    s.work.write(
        "truncated.json",
        &serde_json::to_vec(&genuine).unwrap()[..100],
    );
    offline(
        &other,
        &[
            "app",
            "--receipt",
            "r/app.receipt.json",
            "--status",
            "truncated.json",
        ],
        64,
    )
    .expect_stderr("not a status file");
    let mut versioned = genuine.clone();
    versioned["format"] = Value::from("notarium-status/v9");
    check("v9.json", &versioned, 64);
}

/// The same key signing two histories (a data directory restored from a backup and written
/// again): a status proof from the other history contradicts the receipt and is refused.
#[test]
fn a_status_proof_from_a_forked_history_contradicts_the_receipt() {
    let s = Setup::new();
    let cli = &s.cli;
    let vkey = s.server.verifier_key();
    s.work.write("base", b"base\n");
    cli.run(["notarize", "base"]).expect_code(0);
    let copy = tempfile::tempdir().expect("tempdir");
    let dest = copy.path().join("data");
    let out = Command::new(binary("notariumd"))
        .arg("backup")
        .arg(s.server.data_dir())
        .arg(&dest)
        .output()
        .expect("notariumd backup");
    assert!(out.status.success(), "{out:?}");

    s.work.write("app", b"app\n");
    cli.run(["notarize", "app", "--receipts", "r"])
        .expect_code(0);

    // The fork: the copy, served again, never saw app; it records two other entries.
    let fork = Server::start_on(&dest, s.server.admin_token());
    let fork_writer = fork.create_key("fork", "write");
    let fork_cli = fork
        .cli()
        .with_key(&fork_writer.secret)
        .current_dir(s.work.path());
    s.work.write("other", b"other\n");
    fork_cli.run(["notarize", "other"]).expect_code(0);
    fork_cli
        .run(["authenticate", "app", "--save-status", "fork-status.json"])
        .expect_code(2);

    let other = cli.with_fresh_state().env("NOTARIUM_VERIFIER_KEY", &vkey);
    let run = offline(
        &other,
        &[
            "app",
            "--receipt",
            "r/app.receipt.json",
            "--status",
            "fork-status.json",
        ],
        5,
    );
    assert!(
        run.stderr.contains("fork") || run.stderr.contains("no entry about"),
        "{run}"
    );
}
