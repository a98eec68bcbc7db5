//! A server that tampers with batch answers — reorders, drops or duplicates receipts and
//! results, or proves them against a mix of checkpoints — is caught by the client library
//! itself (`Verifier::notarize_many`, `Verifier::authenticate_many`), whichever tool calls it,
//! and the trust state stays byte-identical. Every receipt the scripted server hands out is
//! genuine (signed by the ledger's key, with valid proofs): only the batch as a whole is wrong,
//! so each check of the batch, not of a single receipt, is what catches it.

use std::path::Path;

use notarium_client::{ApiKey, Client, Error, Verifier};
use notarium_core::{ArtifactRequest, Sha256, VerifierKey};
use notarium_e2e::proxy::{Proxy, Route};
use notarium_e2e::Setup;
use serde_json::{json, Value};

fn request(name: &str) -> ArtifactRequest {
    ArtifactRequest {
        sha256: Sha256::of(name.as_bytes()),
        name: name.into(),
        size: None,
        kind: None,
        status: None,
        attributes: Default::default(),
        ci: Default::default(),
    }
}

struct World {
    setup: Setup,
    proxy: Proxy,
    state: tempfile::TempDir,
    key: VerifierKey,
    runtime: tokio::runtime::Runtime,
}

impl World {
    fn new() -> World {
        let setup = Setup::new();
        let proxy = Proxy::start(setup.server.url());
        let key = VerifierKey::parse(&setup.server.verifier_key()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        World {
            setup,
            proxy,
            state: tempfile::tempdir().unwrap(),
            key,
            runtime,
        }
    }

    fn client(&self, url: &str) -> Client {
        Client::new(url, "default", Some(ApiKey::new(&self.setup.writer.secret))).unwrap()
    }

    /// A verifier through the proxy, with the pinned key and this world's state.
    fn verifier(&self) -> Verifier {
        let client = self.client(self.proxy.url());
        self.runtime
            .block_on(Verifier::open(
                client,
                self.state.path(),
                Some(self.key.clone()),
            ))
            .unwrap()
    }

    /// Notarizes through the server directly (honestly), returning the receipts as JSON.
    fn honest_batch(&self, requests: &[ArtifactRequest]) -> Vec<Value> {
        let client = self.client(self.setup.server.url());
        let receipts = self
            .runtime
            .block_on(client.notarize_batch(requests))
            .unwrap();
        receipts
            .iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect()
    }

    /// The state files' bytes.
    fn state_bytes(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        collect(self.state.path(), &mut out);
        out.sort();
        out
    }
}

fn collect(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
}

fn expect_tampering<T: std::fmt::Debug>(r: Result<T, Error>, needle: &str) {
    match r {
        Err(Error::Tampering(msg)) => assert!(msg.contains(needle), "{needle:?} not in {msg:?}"),
        other => panic!("expected tampering ({needle}), got {other:?}"),
    }
}

#[test]
fn notarize_many_catches_a_tampered_batch() {
    let w = World::new();
    // An honest first run establishes the state the tampered runs must leave alone.
    let mut v = w.verifier();
    let first = w
        .runtime
        .block_on(v.notarize_many(&[request("seed-1"), request("seed-2")], |_| {}))
        .unwrap();
    assert_eq!(first.len(), 2);
    v.commit().unwrap();
    drop(v);
    let before = w.state_bytes();
    assert!(!before.is_empty());

    // Two identical requests and a third: receipts of identical requests differ only by index,
    // so only the batch-level checks tell them apart.
    let asked = [request("twin"), request("twin"), request("third")];
    let genuine = w.honest_batch(&asked);
    // A later checkpoint, and the receipt of the second entry proven against it.
    w.honest_batch(&[request("later-1"), request("later-2")]);
    let index1 = genuine[1]["index"].as_u64().unwrap();
    let client = w.client(w.setup.server.url());
    let reproven = serde_json::to_value(w.runtime.block_on(client.entry(index1)).unwrap()).unwrap();
    assert_ne!(reproven["checkpoint"], genuine[1]["checkpoint"]);

    let cases: [(&str, Vec<Value>, &str); 4] = [
        (
            "reordered",
            vec![genuine[1].clone(), genuine[0].clone(), genuine[2].clone()],
            "not at consecutive indexes",
        ),
        (
            "dropped",
            vec![genuine[0].clone(), genuine[2].clone()],
            "asked for 3 receipts, got 2",
        ),
        (
            "duplicated",
            vec![genuine[0].clone(), genuine[0].clone(), genuine[2].clone()],
            "not at consecutive indexes",
        ),
        (
            "mixed checkpoints",
            vec![genuine[0].clone(), reproven.clone(), genuine[2].clone()],
            "different checkpoints",
        ),
    ];
    for (what, receipts, needle) in cases {
        w.proxy.pass_through();
        w.proxy.replace(
            Route::BatchNotarize,
            serde_json::to_vec(&json!({ "receipts": receipts })).unwrap(),
        );
        let mut v = w.verifier();
        let tampered = w.proxy.tampered();
        let r = w.runtime.block_on(v.notarize_many(&asked, |_| {}));
        assert_eq!(
            w.proxy.tampered(),
            tampered + 1,
            "{what}: the answer was scripted"
        );
        expect_tampering(r, needle);
        drop(v);
        assert_eq!(w.state_bytes(), before, "{what}: the state did not move");
    }
}

#[test]
fn authenticate_many_catches_a_tampered_batch() {
    let w = World::new();
    let names = ["a", "b", "c"];
    let requests: Vec<_> = names.iter().map(|n| request(n)).collect();
    w.honest_batch(&requests);
    let hashes: Vec<Sha256> = requests.iter().map(|r| r.sha256).collect();
    // A genuine single answer for "b", proven against the checkpoint of that moment; then the
    // ledger grows so that later batch answers use a later checkpoint.
    let client = w.client(w.setup.server.url());
    let old_b = serde_json::to_value(
        w.runtime
            .block_on(client.authenticate(&hashes[1], &[]))
            .unwrap(),
    )
    .unwrap();
    w.honest_batch(&[request("later")]);

    let mut v = w.verifier();
    let verdicts = w
        .runtime
        .block_on(v.authenticate_many(&hashes, &[], |_| {}))
        .unwrap();
    assert_eq!(verdicts.len(), 3);
    v.commit().unwrap();
    drop(v);
    let before = w.state_bytes();

    type Script = Box<dyn Fn(&mut Value) + Send + Sync>;
    let old = old_b.clone();
    let cases: Vec<(&str, Script, &str)> = vec![
        (
            "reordered",
            Box::new(|v: &mut Value| v["results"].as_array_mut().unwrap().swap(0, 1)),
            "came in the place of",
        ),
        (
            "dropped",
            Box::new(|v: &mut Value| {
                v["results"].as_array_mut().unwrap().pop();
            }),
            "asked about 3 hashes, got 2 answers",
        ),
        (
            "duplicated",
            Box::new(|v: &mut Value| {
                let first = v["results"][0].clone();
                v["results"][1] = first;
            }),
            "came in the place of",
        ),
        (
            "mixed checkpoints",
            Box::new(move |v: &mut Value| v["results"][1]["receipt"] = old["receipt"].clone()),
            "another checkpoint than the batch's",
        ),
    ];
    for (what, script, needle) in cases {
        w.proxy.pass_through();
        w.proxy.rewrite_json(Route::BatchAuthenticate, script);
        let mut v = w.verifier();
        let r = w
            .runtime
            .block_on(v.authenticate_many(&hashes, &[], |_| {}));
        expect_tampering(r, needle);
        drop(v);
        assert_eq!(w.state_bytes(), before, "{what}: the state did not move");
    }
}
