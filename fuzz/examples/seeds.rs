//! Writes the fuzz targets' seed corpora: the shared vectors (`../shared/vectors`), the
//! project's own vectors (`core/tests/data`, `server/tests/data`) and the real output of a
//! server run in process (receipts, tlog-proofs, status answers and files, a report, the
//! client's state file, requests to every route).
//!
//! `cargo run -p notarium-fuzz --example seeds -- fuzz/seeds` writes them under the directory
//! given; `docs/fuzzing.md` says how they are minimised into `fuzz/corpus/`.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use notarium_core::index::IndexProof;
use notarium_core::tlog_proof::TlogProof;
use notarium_core::{Receipt, UnverifiedCheckpoint};
use serde_json::{json, Value};
use sha2::Digest;
use tower::ServiceExt;

const ADMIN: &str = "seed-admin-token-0123456789abcdef";

struct Seeds {
    root: PathBuf,
    written: usize,
}

impl Seeds {
    fn put(&mut self, target: &str, data: impl AsRef<[u8]>) {
        let data = data.as_ref();
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("a writable seed directory");
        let name = hex(&sha2::Sha256::digest(data)[..20]);
        std::fs::write(dir.join(name), data).expect("a writable seed file");
        self.written += 1;
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn load(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .expect("JSON vectors")
}

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn main() {
    let out = std::env::args().nth(1).expect("usage: seeds OUT_DIR");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut s = Seeds {
        root: PathBuf::from(out),
        written: 0,
    };
    vectors(&mut s, &repo);
    server(&mut s);
    hand_made(&mut s);
    println!("{} seeds written", s.written);
}

/// Every string of the vectors that is a note, a key, a tile path; every proof and answer.
fn vectors(s: &mut Seeds, repo: &Path) {
    let shared = repo.join("../shared/vectors");
    let mut all = Vec::new();
    for f in [
        "signed_note_vectors.json",
        "tessera_tiled_log_15_entries.json",
        "cosignature_v1_generated.json",
        "tile_paths.json",
    ] {
        all.push(load(&shared.join(f)));
    }
    let index = load(&repo.join("core/tests/data/status_index_v1.json"));
    let answers = load(&repo.join("server/tests/data/status_answers_v1.json"));
    all.push(index.clone());
    let mut texts = Vec::new();
    for v in &all {
        strings(v, &mut texts);
    }
    for t in texts {
        if t.contains("\n\n\u{2014} ") {
            s.put("note", t);
            if let Ok(n) = notarium_core::note::Note::parse(t) {
                s.put("checkpoint", n.text);
            }
        }
        if t.matches('+').count() >= 2 && !t.contains(' ') && !t.contains('\n') {
            s.put("keys", t);
        }
        if t.starts_with("tile/") {
            s.put("tiles", t);
        }
    }
    let tessera = &all[1];
    for b in tessera["entry_bundles_hex"]
        .as_object()
        .map(|o| o.values().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if let Some(h) = b.as_str().and_then(decode_hex) {
            s.put("tiles", h);
        }
    }
    let mut proofs = Vec::new();
    strings(&index["maps"], &mut proofs);
    for p in proofs {
        if let Ok(proof) = IndexProof::from_json(p) {
            s.put("index_proof", p);
            s.put("index_proof", proof.to_bytes());
        }
    }
    for v in answers["vectors"].as_array().expect("vectors") {
        let q = json!({"sha256": v["sha256"], "signers": v["signers"], "answer": v["answer"]});
        s.put("status_answer", q.to_string());
        for r in [&v["answer"]["receipt"], &v["answer"]["revocation"]] {
            if r.is_object() {
                s.put("receipt", r.to_string());
                if let Some(leaf) = r["leaf"].as_str() {
                    s.put(
                        "entry",
                        base64::engine::general_purpose::STANDARD
                            .decode(leaf)
                            .expect("base64"),
                    );
                }
            }
        }
    }
    s.put("keys", answers["verifier_key"].as_str().expect("a key"));
}

fn decode_hex(h: &str) -> Option<Vec<u8>> {
    (0..h.len())
        .step_by(2)
        .map(|i| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

/// A real server in process, asked what clients ask.
fn server(s: &mut Seeds) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = notarium_server::RawConfig {
        data_dir: Some(dir.path().to_path_buf()),
        admin_token: Some(ADMIN.into()),
        durability: Some("normal".into()),
        ..notarium_server::RawConfig::default()
    }
    .validate()
    .expect("a valid configuration");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (state, _) = {
        let _g = rt.enter();
        notarium_server::AppState::open(config).expect("opens")
    };
    state.set_ready(true);
    let router = notarium_server::app(state);
    let call = |method: &str, path: &str, token: Option<&str>, body: Option<Value>| -> Vec<u8> {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        rt.block_on(async {
            let resp = router
                .clone()
                .oneshot(req.body(Body::from(body)).expect("a request"))
                .await
                .expect("infallible");
            assert!(!resp.status().is_server_error(), "{path}");
            axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("a body")
                .to_vec()
        })
    };
    let json_of = |b: Vec<u8>| -> Value { serde_json::from_slice(&b).expect("JSON") };
    json_of(call(
        "POST",
        "/api/v1/ledgers",
        Some(ADMIN),
        Some(json!({"name": "default"})),
    ));
    let key = json_of(call(
        "POST",
        "/api/v1/ledgers/default/keys",
        Some(ADMIN),
        Some(json!({"name": "ci", "role": "write"})),
    ));
    let token = key["key"].as_str().expect("a key").to_owned();
    let t = Some(token.as_str());
    let l = "/api/v1/ledgers/default";
    let mut shas = Vec::new();
    for i in 0..6u8 {
        let sha = notarium_core::Sha256::of(&[i]).to_hex();
        let mut body = json!({"sha256": sha, "name": format!("dist/app-{i}.tar.gz"), "size": 1000 + u64::from(i),
            "attributes": {"version": format!("1.{i}")}, "ci": {"provider": "github", "commit": "abc"}});
        if i == 4 {
            body["status"] = json!("untrusted");
        }
        s.put(
            "server_request",
            format!("\x01\x02\x01\x01/entries\n{body}"),
        );
        s.put("entry", body.to_string());
        let r = json_of(call("POST", &format!("{l}/entries"), t, Some(body)));
        s.put("receipt", r.to_string());
        let receipt: Receipt = serde_json::from_value(r).expect("a receipt");
        s.put(
            "tlog_proof",
            receipt.to_tlog_proof().expect("base64").render(),
        );
        s.put(
            "entry",
            base64::engine::general_purpose::STANDARD
                .decode(&receipt.leaf)
                .expect("base64"),
        );
        shas.push(sha);
    }
    // A status change, then the answers about every artifact, single and fresh.
    call(
        "POST",
        &format!("{l}/entries"),
        t,
        Some(json!({"sha256": shas[1], "name": "dist/app-1.tar.gz", "status": "unsupported"})),
    );
    for sha in &shas {
        let a = json_of(call("GET", &format!("{l}/artifacts/{sha}"), t, None));
        s.put(
            "status_answer",
            json!({"sha256": sha, "signers": [], "answer": a}).to_string(),
        );
        let h = call("GET", &format!("{l}/artifacts/{sha}/history"), t, None);
        let h = json_of(h);
        if let Some(p) = h.get("index_proof") {
            s.put("index_proof", p.to_string());
        }
    }
    let unknown = notarium_core::Sha256::of(b"never").to_hex();
    let a = json_of(call("GET", &format!("{l}/artifacts/{unknown}"), t, None));
    s.put(
        "status_answer",
        json!({"sha256": unknown, "signers": [], "answer": a}).to_string(),
    );
    let batch = json_of(call(
        "POST",
        &format!("{l}/authenticate"),
        t,
        Some(json!({"sha256": [shas[0], shas[1], unknown], "fresh": true})),
    ));
    s.put(
        "status_file",
        json!({"format": "notarium-status/v1", "server": "https://notarium.example/", "ledger": "default",
            "batches": [batch.clone()]})
        .to_string(),
    );
    let cp = String::from_utf8(call("GET", &format!("{l}/checkpoint"), t, None)).expect("text");
    s.put("note", &cp);
    if let Ok(c) = UnverifiedCheckpoint::parse(&cp) {
        s.put("checkpoint", c.claimed().to_text());
    }
    let info = json_of(call("GET", l, t, None));
    s.put("keys", info["verifier_key"].as_str().expect("a key"));
    s.put(
        "state_file",
        json!({"server": "http://127.0.0.1:9/", "ledger": "default",
            "verifier_key": info["verifier_key"], "checkpoint": cp})
        .to_string(),
    );
    let report = call("GET", &format!("{l}/report"), t, None);
    s.put("report", &report);
    let since = "2000-01-01";
    s.put(
        "report",
        call("GET", &format!("{l}/report?since={since}"), t, None),
    );
    s.put(
        "tiles",
        call("GET", &format!("{l}/log/tile/entries/000.p/8"), t, None),
    );
    for path in [
        "/log/tile/0/000.p/8",
        "/log/checkpoint",
        "/proof/inclusion?index=2&size=8",
        "/proof/consistency?from=3&to=8",
        "/entries?limit=2&after=1",
        "/entries/3",
        "/keys",
        "/stats",
        "/report?since=2026-01-01&until=2026-12-31",
        "/artifacts/0000000000000000000000000000000000000000000000000000000000000000/history?limit=1",
    ] {
        s.put("server_request", format!("\x00\x02\x00\x01{path}"));
    }
    let _ = TlogProof::parse;
    drop(router);
}

/// Inputs that no vector holds: manifests, structured inputs of the differential targets,
/// requests outside the ledger routes.
fn hand_made(s: &mut Seeds) {
    let a = "ab".repeat(32);
    let b = "cd".repeat(32);
    s.put("manifest", format!("{a}  bin/app\n{b}  share/doc/README\n"));
    s.put("manifest", format!("{a}  a b/c  d\n"));
    s.put("manifest", [3u8, 4, b'a', b'/', b'b', b'c', 0xaa]);
    for seed in [[0u8; 16], [1; 16], [0x55; 16], [0xff; 16]] {
        s.put("merkle", seed);
        s.put("index_map", seed);
    }
    s.put(
        "merkle",
        [1u8, 0x03, 0xff, 0, 0, 0, 0, 0, 0, 1, 200, 5, 0, 17, 9],
    );
    s.put(
        "index_map",
        [
            5u8, 0, 1, 31, 2, 0, 0, 31, 4, 3, 3, 1, 2, 0x81, 0, 1, 0x82, 0, 0, 3, 6, 0,
        ],
    );
    for path in [
        "/healthz",
        "/readyz",
        "/openapi.json",
        "/api/v1/whoami",
        "/api/v1/ledgers",
        "/metrics",
        "/",
    ] {
        s.put("server_request", format!("\x00\x00\x00\x00{path}"));
    }
    s.put(
        "server_request",
        "\x01\x00\x01\x00/api/v1/ledgers\n{\"name\":\"x\",\"name\":\"y\"}",
    );
    s.put(
        "server_request",
        "\x01\x02\x01\x01/authenticate\n{\"sha256\":[\"00\"],\"signer\":[\"a\",\"b\"],\"fresh\":true}",
    );
    s.put("entry", "2026-11-21T10:00:00.123456Z");
    s.put("entry", "{\"b\":[1,2.5,-3,true,null,\"\\u00e9\"],\"a\":{}}");
}
