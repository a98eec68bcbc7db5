//! Router tests (`app(state).oneshot(request)`): every endpoint, every role boundary,
//! revocation, public_read, limits, storage failure, and the OpenAPI description.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use notarium_core::{Receipt, VerifierKey};
use serde_json::{json, Value};

const A: &str = "/api/v1/ledgers/alpha";
const B: &str = "/api/v1/ledgers/beta";

struct World {
    state: notarium_server::AppState,
    read: String,
    write: String,
    write_id: String,
    admin: String,
    beta_write: String,
    _dir: tempfile::TempDir,
    _db: DatabaseGuard,
}

/// Ledger `alpha` (private) with read, write and admin keys; ledger `beta` (public_read) with
/// a write key.
async fn world(store: Store) -> Option<World> {
    let dir = tempfile::tempdir().unwrap();
    let (state, db) = state_on(store, dir.path(), |_| {})?;
    let r = call(
        &state,
        "POST",
        "/api/v1/ledgers",
        Some(ADMIN),
        Some(json!({"name": "alpha"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = call(
        &state,
        "POST",
        "/api/v1/ledgers",
        Some(ADMIN),
        Some(json!({"name": "beta", "public_read": true})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json()["public_read"], true);
    let (_, read) = create_key(&state, "alpha", "read", ADMIN).await;
    let (write_id, write) = create_key(&state, "alpha", "write", ADMIN).await;
    let (_, admin) = create_key(&state, "alpha", "admin", ADMIN).await;
    let (_, beta_write) = create_key(&state, "beta", "write", ADMIN).await;
    Some(World {
        state,
        read,
        write,
        write_id,
        admin,
        beta_write,
        _dir: dir,
        _db: db,
    })
}

fn vkey(r: &Value) -> VerifierKey {
    VerifierKey::parse(r["verifier_key"].as_str().unwrap()).unwrap()
}

fn receipt(v: &Value) -> Receipt {
    serde_json::from_value(v.clone()).unwrap()
}

#[tokio::test]
async fn operations_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let (state, startup) = notarium_server::AppState::open(config(dir.path(), |_| {})).unwrap();
    assert!(
        startup.generated_admin_token.is_none(),
        "a configured token is never replaced"
    );
    assert_eq!(
        startup.created_ledgers.len(),
        1,
        "a fresh data dir gets ledger default"
    );
    let r = call(&state, "GET", "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.error_code(), "not_ready");
    state.set_ready(true);
    assert_eq!(
        call(&state, "GET", "/readyz", None, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&state, "GET", "/healthz", None, None).await.json()["status"],
        "ok"
    );

    call(
        &state,
        "POST",
        "/api/v1/ledgers/default/entries",
        Some(ADMIN),
        Some(artifact("m")),
    )
    .await;
    let m = call(&state, "GET", "/metrics", None, None).await;
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    let text = m.text();
    for needle in [
        "notarium_http_requests_total{route=\"/api/v1/ledgers/{ledger}/entries\",method=\"POST\",status=\"201\"} 1",
        "notarium_http_request_duration_seconds_bucket{route=\"/api/v1/ledgers/{ledger}/entries\"",
        "notarium_ledgers 1\n",
        "notarium_ledger_entries 1\n",
        "notarium_commit_batch_entries_count 1\n",
        "notarium_commit_fsync_seconds_count 1\n",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    assert!(!text.contains(ADMIN));
    assert!(
        !text.contains("ledger=\""),
        "no series names a ledger by default:\n{text}"
    );

    let r = call(&state, "GET", "/", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "the dashboard");
    let r = call(&state, "GET", "/nowhere", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "not_found");
    let r = call(&state, "PUT", "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.error_code(), "method_not_allowed");
}

#[tokio::test]
async fn metrics_can_require_a_token_and_name_ledgers() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), |c| {
        c.metrics_token = Some("metrics-scraper-0123456789".into());
        c.metrics_ledger_names = Some(true);
    });
    let (_, writer) = create_key(&s, "default", "write", ADMIN).await;
    for (token, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(writer.as_str()), StatusCode::UNAUTHORIZED),
        (Some("metrics-scraper-wrong"), StatusCode::UNAUTHORIZED),
        (Some("metrics-scraper-0123456789"), StatusCode::OK),
        (Some(ADMIN), StatusCode::OK),
    ] {
        let r = call(&s, "GET", "/metrics", token, None).await;
        assert_eq!(r.status, status, "{token:?}");
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(r.error_code(), "unauthorized");
        } else {
            let text = r.text();
            assert!(
                text.contains("notarium_ledger_entries{ledger=\"default\"} 1"),
                "{text}"
            );
            assert!(text.contains("notarium_commit_batch_entries_count{ledger=\"default\"} 1"));
        }
    }
    let open_dir = tempfile::tempdir().unwrap();
    let open = state(open_dir.path(), |_| {});
    assert_eq!(
        call(&open, "GET", "/metrics", None, None).await.status,
        StatusCode::OK,
        "without metrics_token the endpoint is open (ledger names hidden)"
    );
}

on_both_stores!(ledgers_admin_only);
async fn ledgers_admin_only(store: Store) {
    let w = match world(store).await {
        Some(w) => w,
        None => return,
    };
    let s = &w.state;
    let r = call(s, "GET", "/api/v1/ledgers", Some(ADMIN), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let names: Vec<_> = r.json()["ledgers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].clone())
        .collect();
    assert_eq!(names, [json!("alpha"), json!("beta"), json!("default")]);
    assert_eq!(
        call(s, "GET", "/api/v1/ledgers", None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(s, "GET", "/api/v1/ledgers", Some(&w.admin), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = call(
        s,
        "POST",
        "/api/v1/ledgers",
        Some(&w.admin),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "a ledger admin key cannot create ledgers"
    );
    let r = call(
        s,
        "POST",
        "/api/v1/ledgers",
        Some(ADMIN),
        Some(json!({"name": "alpha"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "conflict");

    let r = call(s, "GET", A, Some(&w.read), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["name"], "alpha");
    assert_eq!(v["origin"], "localhost/notarium/alpha");
    assert_eq!(v["public_read"], false);
    assert_eq!(v["size"], 3, "three key entries");
    assert!(v["verifier_key"]
        .as_str()
        .unwrap()
        .starts_with("localhost/notarium/alpha+"));
}

on_both_stores!(role_boundaries);
async fn role_boundaries(store: Store) {
    let w = match world(store).await {
        Some(w) => w,
        None => return,
    };
    let s = &w.state;
    let post = |token: Option<String>| {
        let s = s.clone();
        async move {
            call(
                &s,
                "POST",
                &format!("{A}/entries"),
                token.as_deref(),
                Some(artifact("r")),
            )
            .await
        }
    };
    assert_eq!(
        post(Some(w.write.clone())).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        post(Some(w.admin.clone())).await.status,
        StatusCode::CREATED,
        "admin ⊇ write"
    );
    assert_eq!(post(Some(ADMIN.into())).await.status, StatusCode::CREATED);
    let r = post(Some(w.read.clone())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a read key cannot write");
    assert_eq!(r.error_code(), "forbidden");
    assert_eq!(
        post(Some(w.beta_write.clone())).await.status,
        StatusCode::FORBIDDEN,
        "key of beta on alpha"
    );
    let r = post(None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer"));
    assert_eq!(
        post(Some("nk_not-a-key".into())).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Reads: every role of the ledger may, keys of other ledgers may not (alpha is private).
    let path = format!("{A}/artifacts/{}", sha(b"r"));
    for t in [&w.read, &w.write, &w.admin] {
        assert_eq!(
            call(s, "GET", &path, Some(t), None).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        call(s, "GET", &path, Some(&w.beta_write), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(s, "GET", &path, None, None).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Keys: admin role only.
    for t in [&w.read, &w.write] {
        assert_eq!(
            call(s, "GET", &format!("{A}/keys"), Some(t), None)
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let r = call(
            s,
            "POST",
            &format!("{A}/keys"),
            Some(t),
            Some(json!({"name": "x", "role": "read"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let (id, _) = create_key(s, "alpha", "read", &w.admin).await;
    let r = call(s, "DELETE", &format!("{A}/keys/{id}"), Some(&w.write), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // A missing ledger: 404 only for the server admin; keys learn nothing.
    let missing = "/api/v1/ledgers/nope/checkpoint";
    assert_eq!(
        call(s, "GET", missing, Some(ADMIN), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(s, "GET", missing, Some(&w.read), None).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(s, "GET", missing, None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

on_both_stores!(notarize_authenticate_untrust_revoke);
async fn notarize_authenticate_untrust_revoke(store: Store) {
    let w = match world(store).await {
        Some(w) => w,
        None => return,
    };
    let s = &w.state;
    let h = sha(b"app.tar.gz");
    let r = call(
        s,
        "POST",
        &format!("{A}/entries"),
        Some(&w.write),
        Some(
            json!({"sha256": h, "name": "app.tar.gz", "size": 10, "kind": "file",
            "attributes": {"build": "7"}, "ci": {"provider": "github", "commit": "abc"}}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let v = r.json();
    let key = vkey(&v);
    let rc = receipt(&v).verify(&key).unwrap();
    assert_eq!(v["entry"]["signer"], w.write_id.as_str());
    assert_eq!(v["entry"]["status"], "trusted");
    assert_eq!(v["ledger"], "alpha");
    assert_eq!(rc.index.0, 3);

    let auth = |signer: &str| {
        let s = s.clone();
        let path = format!("{A}/artifacts/{h}{signer}");
        let t = w.read.clone();
        async move { call(&s, "GET", &path, Some(&t), None).await.json() }
    };
    let a = auth("").await;
    assert_eq!(a["status"], "trusted");
    receipt(&a["receipt"]).verify(&key).unwrap();
    assert_eq!(auth("?signer=k_other").await["status"], "unknown");
    assert_eq!(
        auth(&format!("?signer=k_other,{}", w.write_id)).await["status"],
        "trusted"
    );
    let unknown = call(
        s,
        "GET",
        &format!("{A}/artifacts/{}", sha(b"never")),
        Some(&w.read),
        None,
    )
    .await;
    assert_eq!(unknown.status, StatusCode::OK, "unknown is a 200");
    let body = unknown.json();
    assert_eq!(body["status"], "unknown");
    // A verified absence: the status proof shows no entry about the hash in the checkpoint.
    assert_eq!(body["proof"]["index"]["kind"], "absent", "{body}");
    assert!(body["checkpoint"]
        .as_str()
        .is_some_and(|c| c.contains("\nnotarium-index/v1 ")));
    assert!(body.get("receipt").is_none() && body.get("revocation").is_none());

    // Untrust: the same POST with a status; the latest entry decides.
    let r = call(
        s,
        "POST",
        &format!("{A}/entries"),
        Some(&w.admin),
        Some(json!({"sha256": h, "name": "app.tar.gz", "status": "untrusted"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(auth("").await["status"], "untrusted");
    assert_eq!(
        auth(&format!("?signer={}", w.write_id)).await["status"],
        "trusted"
    );

    // Revoke the write key: it stops working at once, and what it decided becomes revoked.
    let r = call(
        s,
        "DELETE",
        &format!("{A}/keys/{}", w.write_id),
        Some(&w.admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let rv = r.json();
    let revocation = receipt(&rv["receipt"]).verify(&key).unwrap();
    assert!(
        matches!(revocation.entry, notarium_core::Entry::Key(ref k) if k.action == notarium_core::KeyAction::Revoked)
    );
    let r = call(
        s,
        "POST",
        &format!("{A}/entries"),
        Some(&w.write),
        Some(artifact("late")),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "revoked key");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));
    let a = auth(&format!("?signer={}", w.write_id)).await;
    assert_eq!(a["status"], "revoked");
    assert_eq!(
        receipt(&a["revocation"]).verify(&key).unwrap().index,
        revocation.index
    );
    let r = call(
        s,
        "DELETE",
        &format!("{A}/keys/{}", w.write_id),
        Some(&w.admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "already revoked");
    let r = call(
        s,
        "DELETE",
        &format!("{A}/keys/k_missing"),
        Some(&w.admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let keys = call(s, "GET", &format!("{A}/keys"), Some(&w.admin), None)
        .await
        .json();
    let keys = keys["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    assert!(keys
        .iter()
        .any(|k| k["id"] == w.write_id.as_str() && k["revoked_index"].is_u64()));
    assert!(
        !keys
            .iter()
            .any(|k| k.get("key").is_some() || k.get("credential").is_some()),
        "no secrets"
    );
}

on_both_stores!(batch_history_search_and_entries);
async fn batch_history_search_and_entries(store: Store) {
    let w = match world(store).await {
        Some(w) => w,
        None => return,
    };
    let s = &w.state;
    let entries: Vec<Value> = (0..25)
        .map(|i| json!({"sha256": sha(format!("f{}", i % 5).as_bytes()), "name": format!("f{i}"), "attributes": {"n": (i % 2).to_string()}}))
        .collect();
    let r = call(
        s,
        "POST",
        &format!("{A}/entries/batch"),
        Some(&w.write),
        Some(json!({"entries": entries})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let receipts = r.json()["receipts"].as_array().unwrap().clone();
    assert_eq!(receipts.len(), 25);
    let key = vkey(&receipts[0]);
    let first = receipts[0]["checkpoint"].clone();
    for (i, rc) in receipts.iter().enumerate() {
        assert_eq!(rc["checkpoint"], first, "one batch, one checkpoint");
        assert_eq!(receipt(rc).verify(&key).unwrap().index.0, 3 + i as u64);
    }

    // All-or-nothing: one bad entry refuses the whole batch.
    let size = call(s, "GET", A, Some(&w.read), None).await.json()["size"].clone();
    let bad = json!({"entries": [artifact("ok"), {"sha256": sha(b"x"), "name": ""}]});
    let r = call(
        s,
        "POST",
        &format!("{A}/entries/batch"),
        Some(&w.write),
        Some(bad),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("entries[1]"));
    assert_eq!(
        call(s, "GET", A, Some(&w.read), None).await.json()["size"],
        size
    );

    // History of one hash, paginated.
    let h = sha(b"f0");
    let page = call(
        s,
        "GET",
        &format!("{A}/artifacts/{h}/history?limit=3"),
        Some(&w.read),
        None,
    )
    .await
    .json();
    assert_eq!(page["entries"].as_array().unwrap().len(), 3);
    let next = page["next"].as_u64().unwrap();
    let page2 = call(
        s,
        "GET",
        &format!("{A}/artifacts/{h}/history?limit=3&after={next}"),
        Some(&w.read),
        None,
    )
    .await
    .json();
    assert_eq!(page2["entries"].as_array().unwrap().len(), 2);
    assert!(page2.get("next").is_none());
    let names: Vec<_> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["entries"].as_array().unwrap())
        .map(|e| e["entry"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["f0", "f5", "f10", "f15", "f20"]);

    // Search with a cursor until the end.
    let mut after = None::<u64>;
    let mut seen = Vec::new();
    loop {
        let q = after.map_or(String::new(), |a| format!("&after={a}"));
        let p = call(
            s,
            "GET",
            &format!("{A}/entries?attr=n:1&limit=4{q}"),
            Some(&w.read),
            None,
        )
        .await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.text());
        let p = p.json();
        for e in p["entries"].as_array().unwrap() {
            receipt(e).verify(&key).unwrap();
            seen.push(e["entry"]["name"].as_str().unwrap().to_owned());
        }
        match p["next"].as_u64() {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    assert!(seen.iter().all(|n| n[1..].parse::<u32>().unwrap() % 2 == 1));
    for (q, n) in [
        ("name=f3".to_owned(), 1),
        (format!("signer={}", w.write_id), 25),
        ("status=trusted".to_owned(), 25),
        ("status=untrusted".to_owned(), 0),
        ("since=2000-01-01&until=2999-01-01".to_owned(), 28),
        ("until=2000-01-01".to_owned(), 0),
    ] {
        let p = call(
            s,
            "GET",
            &format!("{A}/entries?{q}&limit=1000"),
            Some(&w.read),
            None,
        )
        .await
        .json();
        assert_eq!(p["entries"].as_array().unwrap().len(), n, "{q}");
    }

    // One entry.
    let e = call(s, "GET", &format!("{A}/entries/5"), Some(&w.read), None).await;
    assert_eq!(e.status, StatusCode::OK);
    assert_eq!(receipt(&e.json()).verify(&key).unwrap().index.0, 5);
    assert_eq!(
        call(s, "GET", &format!("{A}/entries/28"), Some(&w.read), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Batch authenticate against one checkpoint.
    let r = call(
        s,
        "POST",
        &format!("{A}/authenticate"),
        Some(&w.read),
        Some(json!({"sha256": [sha(b"f1"), sha(b"none")], "signer": [w.write_id]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "trusted");
    assert_eq!(v["results"][0]["sha256"], sha(b"f1"));
    assert_eq!(v["results"][1]["status"], "unknown");
    assert_eq!(v["results"][0]["receipt"]["checkpoint"], v["checkpoint"]);
}

on_both_stores!(log_proofs_and_tiles);
async fn log_proofs_and_tiles(store: Store) {
    let w = match world(store).await {
        Some(w) => w,
        None => return,
    };
    let s = &w.state;
    let entries: Vec<Value> = (0..300).map(|i| artifact(&format!("t{i}"))).collect();
    let r = call(
        s,
        "POST",
        &format!("{A}/entries/batch"),
        Some(&w.write),
        Some(json!({"entries": entries})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let key = vkey(&r.json()["receipts"][0]);

    let cp = call(s, "GET", &format!("{A}/checkpoint"), Some(&w.read), None).await;
    assert_eq!(cp.status, StatusCode::OK);
    assert!(cp.header("content-type").unwrap().starts_with("text/plain"));
    let log_cp = call(
        s,
        "GET",
        &format!("{A}/log/checkpoint"),
        Some(&w.read),
        None,
    )
    .await;
    assert_eq!(cp.body, log_cp.body, "the same checkpoint at both paths");
    let signed = notarium_core::UnverifiedCheckpoint::parse(&cp.text())
        .unwrap()
        .verify(&key)
        .unwrap();
    assert_eq!(signed.size().0, 303);

    let p = call(
        s,
        "GET",
        &format!("{A}/proof/inclusion?index=7&size=303"),
        Some(&w.read),
        None,
    )
    .await
    .json();
    assert_eq!(
        (p["index"].as_u64(), p["size"].as_u64()),
        (Some(7), Some(303))
    );
    let proof: Vec<notarium_core::Hash> = serde_json::from_value(p["proof"].clone()).unwrap();
    let e7 = receipt(
        &call(s, "GET", &format!("{A}/entries/7"), Some(&w.read), None)
            .await
            .json(),
    );
    notarium_core::merkle::verify_inclusion(
        &e7.leaf_hash,
        notarium_core::LeafIndex(7),
        signed.size(),
        &proof,
        &signed.root(),
    )
    .unwrap();
    let p = call(
        s,
        "GET",
        &format!("{A}/proof/inclusion?index=7"),
        Some(&w.read),
        None,
    )
    .await
    .json();
    assert_eq!(p["size"], 303, "size defaults to the latest");

    let c = call(
        s,
        "GET",
        &format!("{A}/proof/consistency?from=3&to=303"),
        Some(&w.read),
        None,
    )
    .await
    .json();
    assert_eq!((c["from"].as_u64(), c["to"].as_u64()), (Some(3), Some(303)));
    assert!(!c["proof"].as_array().unwrap().is_empty());

    let full = call(
        s,
        "GET",
        &format!("{A}/log/tile/0/000"),
        Some(&w.read),
        None,
    )
    .await;
    assert_eq!(full.status, StatusCode::OK);
    assert_eq!(full.body.len(), 8192);
    assert_eq!(
        full.header("content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert!(full.header("cache-control").unwrap().contains("immutable"));
    let partial = call(
        s,
        "GET",
        &format!("{A}/log/tile/0/001.p/47"),
        Some(&w.read),
        None,
    )
    .await;
    assert_eq!(partial.body.len(), 47 * 32);
    assert_eq!(partial.header("cache-control").as_deref(), Some("no-cache"));
    let l1 = call(
        s,
        "GET",
        &format!("{A}/log/tile/1/000.p/1"),
        Some(&w.read),
        None,
    )
    .await;
    assert_eq!(l1.body.len(), 32);
    let bundle = call(
        s,
        "GET",
        &format!("{A}/log/tile/entries/000"),
        Some(&w.read),
        None,
    )
    .await;
    let leaves = notarium_core::tiles::decode_bundle(&bundle.body).unwrap();
    assert_eq!(leaves.len(), 256);
    assert_eq!(notarium_core::leaf_hash(leaves[7]), e7.leaf_hash);
    let tail = call(
        s,
        "GET",
        &format!("{A}/log/tile/entries/001.p/47"),
        Some(&w.read),
        None,
    )
    .await;
    assert_eq!(
        notarium_core::tiles::decode_bundle(&tail.body)
            .unwrap()
            .len(),
        47
    );
    for missing in ["0/001", "0/001.p/48", "entries/002", "2/000.p/1"] {
        let r = call(
            s,
            "GET",
            &format!("{A}/log/tile/{missing}"),
            Some(&w.read),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{missing}");
    }
}

on_both_stores!(public_read_ledgers);
async fn public_read_ledgers(store: Store) {
    let w = match world(store).await {
        Some(w) => w,
        None => return,
    };
    let s = &w.state;
    let r = call(
        s,
        "POST",
        &format!("{B}/entries"),
        Some(&w.beta_write),
        Some(artifact("pub")),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let h = sha(b"pub");
    for path in [
        B.to_owned(),
        format!("{B}/artifacts/{h}"),
        format!("{B}/artifacts/{h}/history"),
        format!("{B}/entries/1"),
        format!("{B}/entries?name=pub"),
        format!("{B}/checkpoint"),
        format!("{B}/log/checkpoint"),
        format!("{B}/proof/inclusion?index=0&size=2"),
        format!("{B}/proof/consistency?from=1&to=2"),
        format!("{B}/log/tile/0/000.p/2"),
        format!("{B}/log/tile/entries/000.p/2"),
    ] {
        let r = call(s, "GET", &path, None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
        let r = call(s, "GET", &path, Some(&w.read), None).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "a key of another ledger reads a public ledger like anyone: {path}"
        );
    }
    let r = call(
        s,
        "POST",
        &format!("{B}/authenticate"),
        None,
        Some(json!({"sha256": [h]})),
    )
    .await;
    assert_eq!(r.json()["results"][0]["status"], "trusted");
    // Writes and key management still need keys.
    let r = call(
        s,
        "POST",
        &format!("{B}/entries"),
        None,
        Some(artifact("anon")),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call(
        s,
        "POST",
        &format!("{B}/entries"),
        Some(&w.write),
        Some(artifact("anon")),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        call(s, "GET", &format!("{B}/keys"), None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // A revoked key is refused even where anonymous reads are allowed: a bad credential is
    // an error, not an anonymous request.
    let (id, secret) = create_key(s, "beta", "read", ADMIN).await;
    call(s, "DELETE", &format!("{B}/keys/{id}"), Some(ADMIN), None).await;
    assert_eq!(
        call(s, "GET", B, Some(&secret), None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn rate_limit_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), |c| {
        c.rate_limit_per_second = Some(1);
        c.rate_limit_burst = Some(3);
    });
    let (_, k1) = create_key(&s, "default", "read", ADMIN).await;
    let (_, k2) = create_key(&s, "default", "read", ADMIN).await;
    for _ in 0..3 {
        assert_eq!(
            call(&s, "GET", "/api/v1/ledgers/default", Some(&k1), None)
                .await
                .status,
            StatusCode::OK
        );
    }
    let r = call(&s, "GET", "/api/v1/ledgers/default", Some(&k1), None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.error_code(), "rate_limited");
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    assert_eq!(
        call(&s, "GET", "/api/v1/ledgers/default", Some(&k2), None)
            .await
            .status,
        StatusCode::OK,
        "per key"
    );
    for _ in 0..10 {
        let r = call(&s, "GET", "/api/v1/ledgers/default", Some(ADMIN), None).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "the server admin token is not rate limited"
        );
    }
}

#[tokio::test]
async fn body_limit() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), |c| c.body_limit_bytes = Some(2048));
    let big = json!({"sha256": sha(b"x"), "name": "x".repeat(4000)});
    let r = call(
        &s,
        "POST",
        "/api/v1/ledgers/default/entries",
        Some(ADMIN),
        Some(big),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.error_code(), "body_too_large");
}

/// Holds SQLite's write lock on a ledger's database from another connection, as a stuck or
/// failing disk would (tests run as root, so `chmod` cannot make the files read-only).
fn lock_database(dir: &std::path::Path, ledger: &str) -> rusqlite::Connection {
    let conn =
        rusqlite::Connection::open(dir.join("ledgers").join(ledger).join("ledger.db")).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_storage_gives_503_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), |_| {});
    let before = call(
        &s,
        "GET",
        "/api/v1/ledgers/default/checkpoint",
        Some(ADMIN),
        None,
    )
    .await
    .text();
    let lock = lock_database(dir.path(), "default");
    let write = {
        let s = s.clone();
        tokio::spawn(async move {
            call(
                &s,
                "POST",
                "/api/v1/ledgers/default/entries",
                Some(ADMIN),
                Some(artifact("blocked")),
            )
            .await
        })
    };
    // Reads go on while the writer is stuck.
    let started = Instant::now();
    let r = call(
        &s,
        "GET",
        &format!("/api/v1/ledgers/default/artifacts/{}", sha(b"blocked")),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(r.json()["status"], "unknown");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "reads do not wait for the writer"
    );
    let r = write.await.unwrap();
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(r.error_code(), "storage_unavailable");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        !msg.contains("database") && !msg.contains("locked"),
        "no internal text in a 5xx: {msg}"
    );
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    drop(lock);
    let after = call(
        &s,
        "GET",
        "/api/v1/ledgers/default/checkpoint",
        Some(ADMIN),
        None,
    )
    .await
    .text();
    assert_eq!(before, after, "nothing changed");
    let r = call(
        &s,
        "POST",
        "/api/v1/ledgers/default/entries",
        Some(ADMIN),
        Some(artifact("later")),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "the writer recovers once storage does"
    );
    assert_eq!(r.json()["index"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_overload() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), |c| {
        c.request_timeout_ms = Some(300);
        c.max_concurrent_requests = Some(1);
    });
    // Every slot taken: the next request is refused at once, not queued; health checks
    // still answer.
    let permit = s.limits().slot().unwrap();
    let r = call(&s, "GET", "/api/v1/ledgers/default", Some(ADMIN), None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.error_code(), "overloaded");
    for probe in ["/healthz", "/readyz"] {
        let r = call(&s, "GET", probe, None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{probe} while overloaded");
    }
    drop(permit);
    // A write stuck behind a locked database times out with the JSON error.
    let lock = lock_database(dir.path(), "default");
    let started = Instant::now();
    let r = call(
        &s,
        "POST",
        "/api/v1/ledgers/default/entries",
        Some(ADMIN),
        Some(artifact("slow")),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.error_code(), "timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(lock);
}

#[tokio::test]
async fn openapi_matches_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), |_| {});
    let r = call(&s, "GET", "/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let spec = r.json();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    // The contract of docs/http-api.md plus the operations endpoints.
    let mut contract: Vec<(String, String)> = [
        ("GET", "/api/v1/ledgers"),
        ("POST", "/api/v1/ledgers"),
        ("GET", "/api/v1/ledgers/{ledger}"),
        ("POST", "/api/v1/ledgers/{ledger}/entries"),
        ("POST", "/api/v1/ledgers/{ledger}/entries/batch"),
        ("GET", "/api/v1/ledgers/{ledger}/artifacts/{sha256}"),
        ("POST", "/api/v1/ledgers/{ledger}/authenticate"),
        ("GET", "/api/v1/ledgers/{ledger}/artifacts/{sha256}/history"),
        ("GET", "/api/v1/ledgers/{ledger}/entries/{index}"),
        ("GET", "/api/v1/ledgers/{ledger}/entries"),
        ("GET", "/api/v1/ledgers/{ledger}/checkpoint"),
        ("GET", "/api/v1/ledgers/{ledger}/proof/inclusion"),
        ("GET", "/api/v1/ledgers/{ledger}/proof/consistency"),
        ("GET", "/api/v1/ledgers/{ledger}/log/checkpoint"),
        ("GET", "/api/v1/ledgers/{ledger}/log/tile/{tile}"),
        ("POST", "/api/v1/ledgers/{ledger}/keys"),
        ("GET", "/api/v1/ledgers/{ledger}/keys"),
        ("DELETE", "/api/v1/ledgers/{ledger}/keys/{id}"),
        // Additive, for the dashboard and auditors.
        ("GET", "/api/v1/whoami"),
        ("GET", "/api/v1/ledgers/{ledger}/stats"),
        ("GET", "/api/v1/ledgers/{ledger}/report"),
        ("GET", "/"),
        ("GET", "/assets/{file}"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    contract.sort();
    assert_eq!(documented, contract);
    // Every documented route is served: none falls through to the "no such route" fallback.
    for (method, path) in &documented {
        let concrete = path
            .replace("{ledger}", "default")
            .replace("{sha256}", &sha(b"x"))
            .replace("{index}", "0")
            .replace("{id}", "k_x")
            .replace("{tile}", "0/000")
            .replace("{file}", "app.js");
        let r = call(&s, method, &concrete, Some(ADMIN), None).await;
        let unrouted = r.status == StatusCode::NOT_FOUND && r.text().contains("no such route");
        assert!(
            !unrouted && r.status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is not routed"
        );
    }
    // Every $ref resolves.
    let text = spec.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &part[..part.find('"').unwrap()];
        assert!(
            spec["components"]["schemas"].get(name).is_some(),
            "dangling $ref {name}"
        );
    }
}

/// A request whose entry passes every field limit but not the 16 KiB limit of the whole entry
/// gets 422 alone; the 1,000 valid requests sent with it all get 201 (before, they shared its
/// group commit and failed with 503 `storage_unavailable`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_notarization_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), |c| c.rate_limit_per_second = Some(0));
    let e = "/api/v1/ledgers/default/entries";
    let attributes: serde_json::Map<String, Value> = (0..64)
        .map(|i| (format!("attr-{i:02}"), json!("x".repeat(1000))))
        .collect();
    let oversized = json!({
        "sha256": "ab".repeat(32),
        "name": "big.tar.gz",
        "attributes": attributes,
    });
    let mut tasks = Vec::new();
    for i in 0..1001u32 {
        let s = s.clone();
        let body = if i == 500 {
            oversized.clone()
        } else {
            artifact(&format!("neighbour-{i}"))
        };
        tasks.push(tokio::spawn(async move {
            (i, call(&s, "POST", e, Some(ADMIN), Some(body)).await)
        }));
    }
    let mut created = 0;
    for t in tasks {
        let (i, r) = t.await.unwrap();
        if i == 500 {
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
            assert_eq!(r.error_code(), "invalid_field");
            assert!(r.text().contains("exceeds the limit"), "{}", r.text());
        } else {
            assert_eq!(r.status, StatusCode::CREATED, "request {i}: {}", r.text());
            created += 1;
        }
    }
    assert_eq!(created, 1000);
    let v = call(&s, "GET", "/api/v1/ledgers/default", Some(ADMIN), None)
        .await
        .json();
    assert_eq!(v["size"], 1000);
}

#[tokio::test]
async fn openapi_carries_the_enforced_constraints_and_media_types() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), |_| {});
    let spec = call(&s, "GET", "/openapi.json", None, None).await.json();
    let schemas = &spec["components"]["schemas"];
    let request = &schemas["ArtifactRequest"]["properties"];
    assert_eq!(request["name"]["maxLength"], 1024);
    assert_eq!(request["name"]["minLength"], 1);
    assert_eq!(request["kind"]["maxLength"], 32);
    assert_eq!(request["attributes"]["maxProperties"], 64);
    assert_eq!(
        request["attributes"]["propertyNames"]["pattern"],
        "^[A-Za-z0-9._/-]{1,128}$"
    );
    assert_eq!(
        request["attributes"]["additionalProperties"]["maxLength"],
        1024
    );
    assert_eq!(request["ci"]["additionalProperties"], false);
    assert!(request["ci"]["properties"]["run_url"].is_object());
    assert_eq!(
        schemas["BatchRequest"]["properties"]["entries"]["maxItems"],
        1000
    );
    assert_eq!(
        schemas["BatchRequest"]["properties"]["entries"]["minItems"],
        1
    );
    assert_eq!(
        schemas["AuthenticateRequest"]["properties"]["sha256"]["maxItems"],
        1000
    );
    assert_eq!(
        schemas["CreateLedger"]["properties"]["name"]["pattern"],
        "^[a-z0-9][a-z0-9_-]{0,63}$"
    );

    let param = |path: &str, method: &str, name: &str| -> serde_json::Value {
        spec["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
            .clone()
    };
    let limit = param("/api/v1/ledgers/{ledger}/entries", "get", "limit");
    assert_eq!(
        (
            limit["schema"]["minimum"].as_u64(),
            limit["schema"]["maximum"].as_u64()
        ),
        (Some(1), Some(1000))
    );
    let window = param("/api/v1/ledgers/{ledger}/stats", "get", "window");
    assert_eq!(window["schema"]["maximum"], 86400);
    let sha = param(
        "/api/v1/ledgers/{ledger}/artifacts/{sha256}",
        "get",
        "sha256",
    );
    assert_eq!(sha["schema"]["pattern"], "^[0-9a-fA-F]{64}$");

    // /report: JSON by default, HTML with format=html, both under one 200.
    let report =
        &spec["paths"]["/api/v1/ledgers/{ledger}/report"]["get"]["responses"]["200"]["content"];
    assert_eq!(
        report["application/json"]["schema"]["$ref"],
        "#/components/schemas/AuditReport"
    );
    assert!(report["text/html"].is_object(), "{report}");
    let r = call(
        &s,
        "GET",
        "/api/v1/ledgers/default/report",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let r = call(
        &s,
        "GET",
        "/api/v1/ledgers/default/report?format=html",
        Some(ADMIN),
        None,
    )
    .await;
    assert!(r.header("content-type").unwrap().starts_with("text/html"));

    let metrics = &spec["paths"]["/metrics"]["get"];
    assert!(
        metrics["responses"]["200"]["content"]["text/plain; version=0.0.4"].is_object(),
        "{metrics}"
    );
    assert!(spec["components"]["securitySchemes"]["metrics_token"].is_object());
    assert!(spec["servers"].is_null(), "no public_url: no servers entry");
}
