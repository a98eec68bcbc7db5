//! Router tests of what the dashboard and auditors use beyond docs/http-api.md: the embedded
//! assets and their security headers, `whoami`, ledger stats, and audit reports (JSON verified
//! with `notarium-core`, HTML, the entry cap).

mod common;

use axum::http::StatusCode;
use common::*;
use notarium_core::{AuditReport, Timestamp, VerifierKey};
use serde_json::{json, Value};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

fn assert_secure(r: &Resp, csp: &str) {
    assert_eq!(r.header("content-security-policy").as_deref(), Some(csp));
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(r.header("referrer-policy").as_deref(), Some("no-referrer"));
}

#[tokio::test]
async fn the_page_and_its_assets_are_embedded_with_a_strict_policy() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), |_| {});
    let page = call(&s, "GET", "/", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_secure(&page, CSP);
    let html = page.text();
    assert!(html.contains("<script type=\"module\" src=\"/assets/app.js\">"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no other origin"
    );

    for (name, ty) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("verify.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let r = call(&s, "GET", &format!("/assets/{name}"), None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        assert_eq!(r.header("content-type").as_deref(), Some(ty), "{name}");
        assert_eq!(r.header("cache-control").as_deref(), Some("no-cache"));
        assert_secure(&r, CSP);
        // Revalidation by ETag.
        let etag = r.header("etag").expect("an ETag");
        let req = axum::http::Request::get(format!("/assets/{name}"))
            .header("if-none-match", &etag)
            .body(axum::body::Body::empty())
            .unwrap();
        let again = tower::ServiceExt::oneshot(notarium_server::app(s.clone()), req)
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{name}");
    }
    let missing = call(&s, "GET", "/assets/nope.js", None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_code(), "not_found");
    assert_secure(&missing, CSP);
    let traversal = call(&s, "GET", "/assets/../Cargo.toml", None, None).await;
    assert_eq!(traversal.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn whoami_names_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), |_| {});
    let admin = call(&s, "GET", "/api/v1/whoami", Some(ADMIN), None).await;
    assert_eq!(
        admin.json(),
        json!({"admin_token": true, "role": "admin", "ledger": null, "key_id": null})
    );
    let (id, key) = create_key(&s, "default", "read", ADMIN).await;
    let me = call(&s, "GET", "/api/v1/whoami", Some(&key), None).await;
    assert_eq!(
        me.json(),
        json!({"admin_token": false, "role": "read", "ledger": "default", "key_id": id})
    );
    let anon = call(&s, "GET", "/api/v1/whoami", None, None).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    let wrong = call(&s, "GET", "/api/v1/whoami", Some("nk_wrong"), None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let r = call(
        &s,
        "DELETE",
        &format!("/api/v1/ledgers/default/keys/{id}"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let revoked = call(&s, "GET", "/api/v1/whoami", Some(&key), None).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn stats_count_recent_entries() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), |_| {});
    let empty = call(
        &s,
        "GET",
        "/api/v1/ledgers/default/stats",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text());
    let v = empty.json();
    assert_eq!(
        (v["size"].as_u64(), v["entries_in_window"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(v["latest_entry_time"].is_null());
    for name in ["a", "b", "c"] {
        let r = call(
            &s,
            "POST",
            "/api/v1/ledgers/default/entries",
            Some(ADMIN),
            Some(artifact(name)),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let v = call(
        &s,
        "GET",
        "/api/v1/ledgers/default/stats?window=60",
        Some(ADMIN),
        None,
    )
    .await
    .json();
    assert_eq!(v["ledger"], "default");
    assert_eq!(v["size"], 3);
    assert_eq!(v["window_seconds"], 60);
    assert_eq!(v["entries_in_window"], 3);
    assert_eq!(v["per_minute"], 3.0);
    Timestamp::parse(v["latest_entry_time"].as_str().unwrap()).unwrap();
    assert!(v["checkpoint"].as_str().unwrap().contains("\n3\n"));
    for bad in ["window=0", "window=86401", "window=x", "other=1"] {
        let r = call(
            &s,
            "GET",
            &format!("/api/v1/ledgers/default/stats?{bad}"),
            Some(ADMIN),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let anon = call(&s, "GET", "/api/v1/ledgers/default/stats", None, None).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
}

/// Notarizes `names` in one batch and returns the batch's time.
async fn batch(s: &notarium_server::AppState, names: &[&str], status: &str) -> Timestamp {
    let entries: Vec<Value> = names
        .iter()
        .map(|n| json!({"sha256": sha(n.as_bytes()), "name": n, "status": status}))
        .collect();
    let r = call(
        s,
        "POST",
        "/api/v1/ledgers/default/entries/batch",
        Some(ADMIN),
        Some(json!({ "entries": entries })),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    Timestamp::parse(r.json()["receipts"][0]["entry"]["time"].as_str().unwrap()).unwrap()
}

async fn report(s: &notarium_server::AppState, query: &str, token: Option<&str>) -> Resp {
    call(
        s,
        "GET",
        &format!("/api/v1/ledgers/default/report{query}"),
        token,
        None,
    )
    .await
}

#[tokio::test]
async fn reports_prove_a_time_range() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), |raw| raw.report_max_entries = Some(9));
    let vkey = VerifierKey::parse(
        call(&s, "GET", "/api/v1/ledgers/default", Some(ADMIN), None)
            .await
            .json()["verifier_key"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    // Batches at increasing times: 2 entries, 3 entries (one untrusted), a key created and
    // revoked, 2 entries.
    let t0 = batch(&s, &["a", "b"], "trusted").await;
    let mut t1 = batch(&s, &["c", "d"], "trusted").await;
    while t1 == t0 {
        t1 = batch(&s, &["c", "d"], "trusted").await;
    }
    batch(&s, &["a"], "untrusted").await;
    let (id, key) = create_key(&s, "default", "read", ADMIN).await;
    let r = call(
        &s,
        "DELETE",
        &format!("/api/v1/ledgers/default/keys/{id}"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut t2 = batch(&s, &["e", "f"], "trusted").await;
    let last = t2;
    while t2 == last {
        t2 = batch(&s, &["g"], "trusted").await;
    }
    let size = call(&s, "GET", "/api/v1/ledgers/default", Some(ADMIN), None)
        .await
        .json()["size"]
        .as_u64()
        .unwrap();

    // The middle: from the second batch's time to the last batch's.
    let q = format!("?since={t1}&until={t2}");
    let r = report(&s, &q, Some(ADMIN)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert!(r
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment; filename=\"notarium-report-default-"));
    let rep: AuditReport = serde_json::from_slice(&r.body).unwrap();
    let v = rep.verify(&vkey).unwrap();
    assert!(rep.range.first_index >= 2 && rep.range.end_index < size);
    assert!(rep.before.is_some() && rep.after.is_some());
    assert_eq!(v.summary.status_changes, 1);
    assert_eq!((v.summary.keys_created, v.summary.revocations), (1, 1));
    assert_eq!(
        v.summary.entries,
        rep.range.end_index - rep.range.first_index
    );

    // A read key may build reports; a revoked or absent one may not.
    assert_eq!(report(&s, &q, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        report(&s, &q, Some(&key)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Beyond the cap (9 here): a clear 422.
    let all = report(&s, "", Some(ADMIN)).await;
    assert_eq!(all.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(all.error_code(), "range_too_large");

    // The printable page: the same content, its own policy, no script.
    let html = report(&s, &format!("{q}&format=html"), Some(ADMIN)).await;
    assert_eq!(html.status, StatusCode::OK);
    assert_eq!(
        html.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let csp = html.header("content-security-policy").unwrap();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-"),
        "{csp}"
    );
    assert_eq!(
        html.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let page = html.text();
    assert!(!page.contains("<script"));
    for needle in [
        "Audit report of ledger default",
        "Signed checkpoints",
        "Consistency proof",
        "Revocations",
        "key revoked",
        "Status changes",
        "untrusted",
        rep.to.lines().nth(2).unwrap(),
        &rep.entries[0].leaf_hash.to_hex(),
    ] {
        assert!(page.contains(needle), "the HTML report lacks {needle:?}");
    }

    for (bad, code) in [
        ("?format=pdf", "invalid_query"),
        ("?since=yesterday", "invalid_query"),
        (&format!("?since={t2}&until={t1}") as &str, "invalid_query"),
        ("?limit=3", "invalid_query"),
    ] {
        let r = report(&s, bad, Some(ADMIN)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.error_code(), code, "{bad}");
    }

    // An empty range still proves itself.
    let future = Timestamp(t2.0 + 3_600_000_000);
    let r = report(&s, &format!("?since={future}"), Some(ADMIN)).await;
    assert_eq!(r.status, StatusCode::OK);
    let rep: AuditReport = serde_json::from_slice(&r.body).unwrap();
    assert!(rep.entries.is_empty());
    assert_eq!(rep.range.first_index, size);
    rep.verify(&vkey).unwrap();
}
