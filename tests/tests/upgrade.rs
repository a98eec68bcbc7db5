//! Upgrades: a data directory written by notariumd 0.1.0 (`tests/fixtures/datadir-v0.1.0`)
//! opens with this version and serves the same trees (re-signed once with the status index
//! line); its keys keep working; every answer
//! verifies against the verifier keys 0.1.0 printed; a later checkpoint is consistent with the
//! old one; the offline audit is clean. Every later version must pass this test unchanged.

use std::path::PathBuf;

use notarium_core::Sha256;
use notarium_e2e::Server;
use serde_json::Value;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/datadir-v0.1.0")
}

fn sha(s: &str) -> String {
    Sha256::of(s.as_bytes()).to_hex()
}

#[test]
fn a_data_directory_of_0_1_0_opens_and_serves_the_same_checkpoints() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("expected.json")).unwrap())
            .unwrap();
    let admin = expected["admin_token"].as_str().unwrap();
    let server = Server::start_on(&fixture().join("data"), admin);
    let key = |k: &str| expected["keys"][k].as_str().unwrap().to_owned();
    let vkey = |l: &str| {
        expected["ledgers"][l]["verifier_key"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // The same trees through the pinned key of 0.1.0: each latest checkpoint has the same
    // origin, size and root as 0.1.0 signed, now with the status index line (the first open
    // builds the index and re-signs the latest tree with it, docs/status-index.md).
    for (ledger, cli) in [
        ("default", server.cli().with_key(&key("read"))),
        ("releases", server.cli()),
    ] {
        let run = cli
            .env("NOTARIUM_LEDGER", ledger)
            .env("NOTARIUM_VERIFIER_KEY", &vkey(ledger))
            .run(["checkpoint"]);
        run.expect_code(0);
        let vk = notarium_core::VerifierKey::parse(&vkey(ledger)).unwrap();
        let parse = |note: &str| {
            notarium_core::UnverifiedCheckpoint::parse(note)
                .unwrap()
                .verify(&vk)
                .unwrap()
        };
        let old = parse(expected["ledgers"][ledger]["checkpoint"].as_str().unwrap());
        let new = parse(&run.stdout);
        assert_eq!(
            (new.checkpoint().origin.to_string(), new.size(), new.root()),
            (old.checkpoint().origin.to_string(), old.size(), old.root()),
            "ledger {ledger}"
        );
        assert!(old.checkpoint().extensions.is_empty());
        assert!(
            new.checkpoint().index_root().unwrap().is_some(),
            "ledger {ledger}: {}",
            run.stdout
        );
    }

    // Every status 0.1.0 recorded, verified; the keys it issued still authenticate.
    let reader = server
        .cli()
        .with_key(&key("read"))
        .env("NOTARIUM_VERIFIER_KEY", &vkey("default"));
    for (subject, code) in [
        ("app-1", 0),
        ("app-3", 1),
        ("app-4", 3),
        ("lib-40", 0),
        ("legacy-1", 4),
        ("never-notarized", 2),
    ] {
        let run = reader.run(["authenticate", "--hash", &sha(subject), "--output", "json"]);
        run.expect_code(code);
    }
    let run = server
        .cli()
        .env("NOTARIUM_LEDGER", "releases")
        .env("NOTARIUM_VERIFIER_KEY", &vkey("releases"))
        .run(["authenticate", "--hash", &sha("release-5")]);
    run.expect_code(0);

    // The revoked key stays revoked; the write key of 0.1.0 notarizes, and the new checkpoint
    // extends the old one (the CLI holds it to the stored state of the first run).
    let revoked = server.cli().with_key(&key("revoked")).run(["checkpoint"]);
    assert_ne!(revoked.code, Some(0), "{revoked}");
    let writer = reader.with_key(&key("write"));
    writer
        .run([
            "notarize",
            "--hash",
            &sha("after-upgrade"),
            "--name",
            "after.tar.gz",
        ])
        .expect_code(0);
    writer
        .run(["authenticate", "--hash", &sha("after-upgrade")])
        .expect_code(0);
    writer.run(["audit"]).expect_code(0);

    // The offline audit of the upgraded directory is clean.
    let mut server = server;
    server.stop();
    let audit = std::process::Command::new(notarium_e2e::binary("notariumd"))
        .arg("audit")
        .arg(server.data_dir())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&audit.stdout);
    assert_eq!(audit.status.code(), Some(0), "{out}");
    assert!(out.contains("ledger default: ok"), "{out}");
    assert!(out.contains("ledger releases: ok"), "{out}");
}
