//! A proxy between the CLI and a real `notariumd` plays a lying server (DESIGN.md §5). Each
//! lie — a swapped proof hash, an older checkpoint, a fork signed by the right key, a changed
//! entry status, a checkpoint signed by another key — must give exit 5 and leave the client's
//! stored state byte for byte as it was. A control test shows the proxy itself is harmless.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use notarium_core::{
    leaf_hash, ArtifactRequest, LedgerName, Origin, Sha256, SignerKey, UnverifiedCheckpoint,
};
use notarium_e2e::proxy::{Proxy, Route};
use notarium_e2e::{random_hex, Cli, Run, Setup};
use notarium_ledger::{Ledger, LedgerOptions, NewEntry};
use serde_json::{json, Value};

/// A server, a proxy in front of it, a CLI through the proxy (`via`) and one straight to the
/// server (`direct`, with its own state) to grow the ledger behind the client's back.
struct World {
    s: Setup,
    proxy: Proxy,
    via: Cli,
    direct: Cli,
}

impl World {
    fn new() -> World {
        let s = Setup::new();
        let proxy = Proxy::start(s.server.url());
        let via = s.cli.with_server(proxy.url()).with_fresh_state();
        let direct = s.cli.with_fresh_state();
        World {
            s,
            proxy,
            via,
            direct,
        }
    }

    /// Writes `name` and notarizes it through the proxy (which must pass it through).
    fn notarize_via(&self, name: &str) {
        self.s.work.write(name, format!("{name}\n").as_bytes());
        self.via
            .run(["notarize", name, "--receipts", "receipts"])
            .expect_code(0);
    }

    /// Notarizes `n` new files straight at the server, so that its tree grows past the
    /// checkpoint the client stored.
    fn grow_server(&self, n: usize) {
        let dir = format!("grown-{}", random_hex(4));
        for i in 0..n {
            self.s
                .work
                .write(&format!("{dir}/{i}"), format!("{dir} {i}\n").as_bytes());
        }
        self.direct.run(["notarize", &dir]).expect_code(0);
    }

    fn state(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        self.via.state_snapshot()
    }

    /// Runs `args` through the (tampering) proxy: exit 5, "VERIFICATION FAILED", the lie was
    /// actually told, and the stored state is unchanged.
    fn expect_tampering(&self, args: &[&str]) -> Run {
        let state = self.state();
        assert!(
            state.keys().any(|p| p.ends_with("default.json")),
            "the client holds a verified checkpoint before the lie"
        );
        let lies = self.proxy.tampered();
        let run = self.via.run(args);
        run.expect_code(5).expect_stderr("VERIFICATION FAILED");
        assert!(self.proxy.tampered() > lies, "the proxy did not lie: {run}");
        assert_eq!(
            self.state(),
            state,
            "the stored state moved after a failed verification: {run}"
        );
        run
    }

    /// Back to pass-through: the same command now succeeds, so the failure came from the lie.
    fn expect_honest(&self, args: &[&str], code: i32) {
        self.proxy.pass_through();
        self.via.run(args).expect_code(code);
    }
}

fn stored_size(note: &str) -> u64 {
    UnverifiedCheckpoint::parse(note)
        .expect("a checkpoint")
        .claimed()
        .size
        .0
}

/// The same checkpoint body, signed by `key` instead.
fn resign(note: &str, key: &SignerKey) -> String {
    UnverifiedCheckpoint::parse(note)
        .expect("a checkpoint")
        .claimed()
        .sign(key)
        .expect("signs")
        .note()
        .to_owned()
}

/// Replaces the first hash of `receipt`'s inclusion proof with another one.
fn swap_proof_hash(receipt: &mut Value) {
    let proof = receipt["inclusion_proof"]
        .as_array_mut()
        .expect("an inclusion proof");
    let first = proof[0].as_str().expect("hex hash").to_owned();
    proof[0] = Value::from(Sha256::of(first.as_bytes()).to_hex());
}

#[test]
fn pass_through_proxy_is_harmless() {
    let w = World::new();
    w.notarize_via("a");
    w.notarize_via("b");
    w.via.run(["authenticate", "a"]).expect_code(0);
    w.via.run(["untrust", "b"]).expect_code(0);
    w.via.run(["authenticate", "b"]).expect_code(1);
    w.via.run(["authenticate", "a", "b"]).expect_code(1);
    let before = w.via.stored_checkpoint();
    w.grow_server(3);
    w.via.run(["checkpoint"]).expect_code(0);
    w.via.run(["audit"]).expect_code(0);
    w.via.run(["inspect", "b"]).expect_code(0);
    // Honest answers move the state forward, as the tamper tests show lies do not.
    assert_eq!(
        stored_size(&w.via.stored_checkpoint()),
        stored_size(&before) + 3
    );
    assert!(w.proxy.forwarded() > 10);
    assert_eq!(w.proxy.tampered(), 0);
}

#[test]
fn swapped_proof_hash() {
    let w = World::new();
    w.notarize_via("a");
    w.notarize_via("b");
    w.grow_server(4);
    w.proxy
        .rewrite_json(Route::Artifact, |v| swap_proof_hash(&mut v["receipt"]));
    w.expect_tampering(&["authenticate", "a"])
        .expect_stderr("invalid proof");

    w.proxy.pass_through();
    w.proxy.rewrite_json(Route::BatchAuthenticate, |v| {
        swap_proof_hash(&mut v["results"][1]["receipt"])
    });
    w.expect_tampering(&["authenticate", "a", "b"])
        .expect_stderr("invalid proof");
    w.expect_honest(&["authenticate", "a", "b"], 0);
}

#[test]
fn older_checkpoint_is_a_rollback() {
    let w = World::new();
    w.notarize_via("a");
    let older = w.via.stored_checkpoint();
    let old_receipt: Value = serde_json::from_str(
        &std::fs::read_to_string(w.s.work.path().join("receipts/a.receipt.json")).expect("receipt"),
    )
    .expect("JSON");
    w.notarize_via("b");
    w.notarize_via("c");
    assert!(stored_size(&w.via.stored_checkpoint()) > stored_size(&older));

    // The older checkpoint is genuine: signed by the ledger's key, just not the latest.
    w.proxy.replace(Route::Checkpoint, older.clone());
    w.expect_tampering(&["checkpoint"])
        .expect_stderr("rollback");
    // A replayed old answer, valid in itself, is a rollback as well.
    w.proxy.pass_through();
    w.proxy.rewrite_json(Route::Artifact, move |v| {
        v["receipt"] = old_receipt.clone();
    });
    w.expect_tampering(&["authenticate", "a"])
        .expect_stderr("rollback");
    w.expect_honest(&["checkpoint"], 0);
}

/// A second ledger with the server's own signing key and origin, holding other entries:
/// what an attacker who stole the key (or a server that forked itself) can serve.
fn open_fork(w: &World, dir: &std::path::Path) -> Ledger {
    let key = w.s.server.signing_key();
    let mut options = LedgerOptions::new(
        LedgerName::new("default").expect("ledger name"),
        Origin::new(key.name()).expect("origin"),
    );
    options.signer = Some(key);
    Ledger::open(dir, options).expect("the fork opens")
}

fn grow_fork(fork: &Ledger, size: u64) {
    let entries = (fork.size()..size)
        .map(|i| NewEntry::Artifact {
            request: ArtifactRequest {
                sha256: Sha256::of(format!("forged {i}").as_bytes()),
                name: format!("forged-{i}"),
                size: None,
                kind: None,
                status: None,
                attributes: BTreeMap::new(),
                ci: BTreeMap::new(),
            },
            signer: "k_forger".into(),
            identity: None,
        })
        .collect();
    fork.append(entries).expect("the fork grows");
    assert_eq!(fork.size(), size);
}

#[test]
fn forked_checkpoint_of_the_same_size() {
    let w = World::new();
    w.notarize_via("a");
    w.notarize_via("b");
    let stored = w.via.stored_checkpoint();
    let dir = tempfile::tempdir().expect("temporary directory");
    let fork = open_fork(&w, dir.path());
    grow_fork(&fork, stored_size(&stored));
    let forked = fork.checkpoint().note().to_owned();
    assert_eq!(stored_size(&forked), stored_size(&stored));
    assert_ne!(forked, stored, "another tree of the same size");
    assert_eq!(fork.verifier_key().to_string(), w.s.server.verifier_key());

    w.proxy.replace(Route::Checkpoint, forked);
    w.expect_tampering(&["checkpoint"]).expect_stderr("fork");
    w.expect_honest(&["checkpoint"], 0);
}

#[test]
fn forked_checkpoint_of_a_larger_tree() {
    let w = World::new();
    w.notarize_via("a");
    w.notarize_via("b");
    let m = stored_size(&w.via.stored_checkpoint());
    let n = m + 5;
    // The real server is larger too, so that its own consistency proof would exist.
    w.grow_server(8);
    let dir = tempfile::tempdir().expect("temporary directory");
    let fork = open_fork(&w, dir.path());
    grow_fork(&fork, n);
    let proof = fork
        .prove_consistency(m, n)
        .expect("the fork proves itself");

    w.proxy
        .replace(Route::Checkpoint, fork.checkpoint().note().to_owned());
    w.proxy.replace(
        Route::Consistency,
        serde_json::to_vec(&json!({ "from": m, "to": n, "proof": proof })).expect("JSON"),
    );
    w.expect_tampering(&["checkpoint"])
        .expect_stderr("does not extend");
    w.expect_honest(&["checkpoint"], 0);
}

#[test]
fn changed_entry_status() {
    let w = World::new();
    w.notarize_via("a");
    w.via.run(["untrust", "a"]).expect_code(0);
    w.via.run(["authenticate", "a"]).expect_code(1);
    // The answer will carry a newer, genuine checkpoint: it must not be stored either.
    w.grow_server(2);
    // Untrusted becomes trusted everywhere in the answer — status, entry, leaf bytes and leaf
    // hash agree — so only the Merkle proof can tell.
    w.proxy.rewrite_json(Route::Artifact, |v| {
        let receipt = &mut v["receipt"];
        let leaf = B64
            .decode(receipt["leaf"].as_str().expect("leaf"))
            .expect("base64");
        let leaf = String::from_utf8(leaf).expect("UTF-8 entry");
        assert!(leaf.contains(r#""status":"untrusted""#), "{leaf}");
        let forged = leaf.replace(r#""status":"untrusted""#, r#""status":"trusted""#);
        receipt["leaf"] = Value::from(B64.encode(&forged));
        receipt["leaf_hash"] = Value::from(leaf_hash(forged.as_bytes()).to_hex());
        receipt["entry"]["status"] = Value::from("trusted");
        v["status"] = Value::from("trusted");
    });
    w.expect_tampering(&["authenticate", "a"])
        .expect_stderr("invalid proof");
    w.expect_honest(&["authenticate", "a"], 1);
}

#[test]
fn checkpoint_signed_by_another_key() {
    let w = World::new();
    w.notarize_via("a");
    w.grow_server(3);
    let origin = w.s.server.signing_key().name().to_owned();
    let seed: [u8; 32] = random_hex(16).into_bytes().try_into().expect("32 bytes");
    let other = SignerKey::from_seed(&origin, seed).expect("a key for the same origin");
    assert_ne!(other.verifier().to_string(), w.s.server.verifier_key());

    let k = other.clone();
    w.proxy.rewrite(Route::Checkpoint, move |body| {
        resign(std::str::from_utf8(body).expect("UTF-8"), &k).into_bytes()
    });
    w.expect_tampering(&["checkpoint"])
        .expect_stderr("checkpoint rejected");
    w.proxy.pass_through();
    w.proxy.rewrite_json(Route::Artifact, move |v| {
        let note = v["receipt"]["checkpoint"]
            .as_str()
            .expect("note")
            .to_owned();
        v["receipt"]["checkpoint"] = Value::from(resign(&note, &other));
    });
    w.expect_tampering(&["authenticate", "a"])
        .expect_stderr("checkpoint rejected");
    w.expect_honest(&["authenticate", "a"], 0);
}

#[test]
fn a_pinned_key_that_differs_from_the_stored_one() {
    let w = World::new();
    w.notarize_via("a");
    let state = w.state();
    let stranger = SignerKey::from_seed(w.s.server.signing_key().name(), [9u8; 32])
        .expect("key")
        .verifier()
        .to_string();
    w.via
        .run(["authenticate", "a", "--verifier-key", &stranger])
        .expect_code(5)
        .expect_stderr("differs");
    assert_eq!(w.state(), state);
}
