//! A proxy between the CLI and a real `notariumd` plays a lying server (docs/verification.md).
//! Each lie — a swapped proof hash, an older checkpoint, a fork signed by the right key, a
//! changed entry status, a checkpoint signed by another key; and the lies only the status index
//! catches (docs/status-index.md): an older entry shown as the latest, a hidden revocation,
//! `unknown` for a notarized hash, an index proof against another root, a checkpoint without
//! the index line — must give exit 5 and leave the client's stored state byte for byte as it
//! was. A control test shows the proxy itself is harmless. Every test runs against a server on
//! each store (SQLite and PostgreSQL): the answers, and so the lies, are the same.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use notarium_core::{
    leaf_hash, ArtifactRequest, LedgerName, Origin, Sha256, SignerKey, UnverifiedCheckpoint,
};
use notarium_e2e::on_both_stores;
use notarium_e2e::postgres::Store;
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
    /// Dropped after the server.
    _store: Store,
}

impl World {
    fn on(store: Store) -> World {
        let s = Setup::on(&store);
        let proxy = Proxy::start(s.server.url());
        let via = s.cli.with_server(proxy.url()).with_fresh_state();
        let direct = s.cli.with_fresh_state();
        World {
            s,
            proxy,
            via,
            direct,
            _store: store,
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

fn pass_through_proxy_is_harmless(store: Store) {
    let w = World::on(store);
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

fn swapped_proof_hash(store: Store) {
    let w = World::on(store);
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

fn older_checkpoint_is_a_rollback(store: Store) {
    let w = World::on(store);
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

fn forked_checkpoint_of_the_same_size(store: Store) {
    let w = World::on(store);
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

fn forked_checkpoint_of_a_larger_tree(store: Store) {
    let w = World::on(store);
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

fn changed_entry_status(store: Store) {
    let w = World::on(store);
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

fn checkpoint_signed_by_another_key(store: Store) {
    let w = World::on(store);
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

fn a_pinned_key_that_differs_from_the_stored_one(store: Store) {
    let w = World::on(store);
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

/// GETs `path` (below the ledger) straight from the server, as JSON: genuine material for a
/// lie assembled from real parts.
fn genuine(w: &World, path: &str) -> Value {
    genuine_as(w, &w.s.writer.secret, path)
}

/// [`genuine`] with another key.
fn genuine_as(w: &World, secret: &str, path: &str) -> Value {
    let url = format!("{}/api/v1/ledgers/default/{path}", w.s.server.url());
    let secret = secret.to_owned();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async move {
            let resp = reqwest::Client::new()
                .get(&url)
                .bearer_auth(secret)
                .send()
                .await
                .expect("the server answers");
            assert!(resp.status().is_success(), "{url}: {}", resp.status());
            resp.json::<Value>().await.expect("JSON")
        })
}

fn file_sha(name: &str) -> String {
    Sha256::of(format!("{name}\n").as_bytes()).to_hex()
}

fn hiding_a_later_untrusted_entry_is_caught(store: Store) {
    let w = World::on(store);
    w.notarize_via("a");
    let sha = file_sha("a");
    let first = genuine(&w, &format!("artifacts/{sha}"))["receipt"]["index"]
        .as_u64()
        .unwrap();
    w.via.run(["untrust", "a"]).expect_code(0);
    // Genuine parts, all in the current checkpoint: the older trusted entry, and the proof of
    // the whole history (which reveals the later untrusted one too).
    let old = genuine(&w, &format!("entries/{first}"));
    let history = genuine(&w, &format!("artifacts/{sha}/history"))["index_proof"].clone();
    w.proxy.rewrite_json(Route::Artifact, move |v| {
        v["status"] = json!("trusted");
        v["receipt"] = old.clone();
        v["proof"]["index"] = history.clone();
        v["proof"]["skipped"] = json!([]);
    });
    w.expect_tampering(&["authenticate", "a"])
        .expect_stderr("is not the latest");
    w.expect_honest(&["authenticate", "a"], 1);
}

fn hiding_the_signer_s_revocation_is_caught(store: Store) {
    let w = World::on(store);
    w.notarize_via("a");
    let created = w.s.writer.id.clone();
    // Revoke the key that notarized `a`: it now authenticates as revoked (exit 4).
    w.s.server
        .admin()
        .run(["key", "revoke", &created])
        .expect_code(0);
    // The key's genuine `created` entry, proven in the current checkpoint.
    let keys: Value = {
        let run = w.s.server.admin().run(["key", "list", "--output", "json"]);
        run.expect_code(0);
        run.json()
    };
    let created_index = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == created.as_str())
        .unwrap()["created_index"]
        .as_u64()
        .unwrap();
    let reader = w.s.server.create_key("reader", "read");
    let created_receipt = genuine_as(&w, &reader.secret, &format!("entries/{created_index}"));
    let via = w.via.with_key(&reader.secret);
    via.run(["authenticate", "a"]).expect_code(4);
    w.proxy.rewrite_json(Route::Artifact, move |v| {
        v["status"] = json!("trusted");
        v.as_object_mut().unwrap().remove("revocation");
        v["proof"]["signer_created"] = created_receipt.clone();
    });
    let state = via.state_snapshot();
    let run = via.run(["authenticate", "a"]);
    run.expect_code(5)
        .expect_stderr("is not signer")
        .expect_stderr("latest key entry");
    assert_eq!(via.state_snapshot(), state, "{run}");
    w.proxy.pass_through();
    via.run(["authenticate", "a"]).expect_code(4);
}

fn unknown_for_a_notarized_hash_is_caught(store: Store) {
    let w = World::on(store);
    w.notarize_via("a");
    w.proxy.rewrite_json(Route::Artifact, |v| {
        v["status"] = json!("unknown");
        let o = v.as_object_mut().unwrap();
        o.remove("receipt");
        o.remove("revocation");
    });
    w.expect_tampering(&["authenticate", "a"])
        .expect_stderr("yet the answer shows none deciding");
    // Without the proof at all, the answer proves nothing.
    w.proxy.pass_through();
    w.proxy.rewrite_json(Route::Artifact, |v| {
        v["status"] = json!("unknown");
        let o = v.as_object_mut().unwrap();
        o.remove("receipt");
        o.remove("proof");
    });
    w.expect_tampering(&["authenticate", "a"])
        .expect_stderr("carries no status proof");
    w.expect_honest(&["authenticate", "a"], 0);
}

fn an_index_proof_against_another_root_is_caught(store: Store) {
    let w = World::on(store);
    w.notarize_via("a");
    let sha = file_sha("a");
    // A genuine proof for `a` from an earlier checkpoint: the index has grown since.
    let earlier = genuine(&w, &format!("artifacts/{sha}"))["proof"]["index"].clone();
    w.grow_server(3);
    w.via.run(["checkpoint"]).expect_code(0);
    w.proxy.rewrite_json(Route::Artifact, move |v| {
        v["proof"]["index"] = earlier.clone();
    });
    w.expect_tampering(&["authenticate", "a"])
        .expect_stderr("does not lead to the index root");
    w.expect_honest(&["authenticate", "a"], 0);
}

fn a_checkpoint_without_the_index_commitment_is_caught(store: Store) {
    let w = World::on(store);
    w.notarize_via("a");
    // The right key signs the same tree without the index line: consistent, but it commits
    // to no index, so no status can be proven against it.
    let key = w.s.server.signing_key();
    let strip = move |note: &str| -> String {
        let mut body = UnverifiedCheckpoint::parse(note)
            .expect("a checkpoint")
            .claimed()
            .clone();
        body.extensions.clear();
        body.sign(&key).expect("signs").note().to_owned()
    };
    w.proxy.rewrite_json(Route::Artifact, move |v| {
        let note = v["checkpoint"].as_str().unwrap().to_owned();
        let stripped = strip(&note);
        v["checkpoint"] = json!(stripped);
        v["receipt"]["checkpoint"] = json!(stripped);
    });
    w.expect_tampering(&["authenticate", "a"])
        .expect_stderr("index");
    w.expect_honest(&["authenticate", "a"], 0);
}

fn the_same_tree_with_another_status_index_is_a_fork(store: Store) {
    let w = World::on(store);
    w.notarize_via("a");
    // The right key signs the tree the client stored with another index root: the tree is
    // consistent, but one tree committing to two indexes is equivocation.
    let key = w.s.server.signing_key();
    w.proxy.rewrite(Route::Checkpoint, move |body| {
        let note = String::from_utf8(body.to_vec()).expect("a note");
        let mut cp = UnverifiedCheckpoint::parse(&note)
            .expect("a checkpoint")
            .claimed()
            .clone();
        cp.set_index_root(&notarium_core::Hash([7; 32]));
        cp.sign(&key).expect("signs").note().as_bytes().to_vec()
    });
    w.expect_tampering(&["checkpoint"])
        .expect_stderr("status indexes");
    w.expect_honest(&["checkpoint"], 0);
}

on_both_stores!(
    pass_through_proxy_is_harmless,
    swapped_proof_hash,
    older_checkpoint_is_a_rollback,
    forked_checkpoint_of_the_same_size,
    forked_checkpoint_of_a_larger_tree,
    changed_entry_status,
    checkpoint_signed_by_another_key,
    a_pinned_key_that_differs_from_the_stored_one,
    hiding_a_later_untrusted_entry_is_caught,
    hiding_the_signer_s_revocation_is_caught,
    unknown_for_a_notarized_hash_is_caught,
    an_index_proof_against_another_root_is_caught,
    a_checkpoint_without_the_index_commitment_is_caught,
    the_same_tree_with_another_status_index_is_a_fork,
);
