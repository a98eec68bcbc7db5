//! A table of malformed requests: each must get the documented 4xx JSON error, never a 5xx.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

const L: &str = "/api/v1/ledgers/default";
const JSON: Option<&str> = Some("application/json");

struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

fn case(
    what: &'static str,
    method: &'static str,
    path: impl Into<String>,
    body: impl Into<Vec<u8>>,
    status: u16,
    code: &'static str,
) -> Case {
    let body = body.into();
    let content_type = if body.is_empty() { None } else { JSON };
    Case {
        what,
        method,
        path: path.into(),
        content_type,
        body,
        status,
        code,
    }
}

fn entry(fields: serde_json::Value) -> Vec<u8> {
    let mut v = json!({"sha256": sha(b"m"), "name": "m"});
    for (k, x) in fields.as_object().unwrap() {
        v[k] = x.clone();
    }
    v.to_string().into_bytes()
}

on_both_stores!(malformed_requests_get_4xx_json_errors);
async fn malformed_requests_get_4xx_json_errors(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let Some((s, _db)) = state_on(store, dir.path(), |c| c.body_limit_bytes = Some(128 * 1024))
    else {
        return;
    };
    let r = call(
        &s,
        "POST",
        &format!("{L}/entries"),
        Some(ADMIN),
        Some(artifact("seed")),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);

    let h = sha(b"m");
    let e = format!("{L}/entries");
    let cases = vec![
        // Bodies: syntax and types.
        case("not JSON", "POST", &e, "{not json", 400, "invalid_json"),
        case(
            "truncated JSON",
            "POST",
            &e,
            r#"{"sha256":"ab"#,
            400,
            "invalid_json",
        ),
        // A key given twice, anywhere: serde would keep the last one silently.
        case(
            "name given twice",
            "POST",
            &e,
            format!(r#"{{"sha256":"{h}","name":"a","name":"b"}}"#),
            400,
            "invalid_json",
        ),
        case(
            "an attribute given twice",
            "POST",
            &e,
            format!(r#"{{"sha256":"{h}","name":"a","attributes":{{"k":"1","k":"2"}}}}"#),
            400,
            "invalid_json",
        ),
        case(
            "status given twice in the second entry of a batch",
            "POST",
            format!("{e}/batch"),
            format!(
                r#"{{"entries":[{{"sha256":"{h}","name":"a"}},{{"sha256":"{h}","name":"b","status":"trusted","status":"untrusted"}}]}}"#
            ),
            400,
            "invalid_json",
        ),
        case(
            "an attribute given twice, once with an escape",
            "POST",
            &e,
            format!(r#"{{"sha256":"{h}","name":"a","attributes":{{"k":"1","\u006b":"2"}}}}"#),
            400,
            "invalid_json",
        ),
        case(
            "the 40th attribute repeats the 3rd",
            "POST",
            &e,
            format!(
                r#"{{"sha256":"{h}","name":"a","attributes":{{{},"k2":"again"}}}}"#,
                (0..39)
                    .map(|i| format!(r#""k{i}":"v""#))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            400,
            "invalid_json",
        ),
        case(
            "entries given twice in a batch",
            "POST",
            format!("{e}/batch"),
            format!(r#"{{"entries":[],"entries":[{{"sha256":"{h}","name":"a"}}]}}"#),
            400,
            "invalid_json",
        ),
        case(
            "a role given twice in a new key",
            "POST",
            format!("{L}/keys"),
            r#"{"name":"x","role":"read","role":"admin"}"#,
            400,
            "invalid_json",
        ),
        case(
            "JSON array instead of object",
            "POST",
            &e,
            "[]",
            400,
            "invalid_body",
        ),
        case("empty object", "POST", &e, "{}", 400, "invalid_body"),
        case(
            "sha256 is a number",
            "POST",
            &e,
            entry(json!({"sha256": 5})),
            400,
            "invalid_body",
        ),
        case(
            "size is a string",
            "POST",
            &e,
            entry(json!({"size": "10"})),
            400,
            "invalid_body",
        ),
        case(
            "size is negative",
            "POST",
            &e,
            entry(json!({"size": -1})),
            400,
            "invalid_body",
        ),
        case(
            "attributes is a list",
            "POST",
            &e,
            entry(json!({"attributes": ["a"]})),
            400,
            "invalid_body",
        ),
        case(
            "63-char sha256",
            "POST",
            &e,
            entry(json!({"sha256": &h[..63]})),
            400,
            "invalid_body",
        ),
        case(
            "65-char sha256",
            "POST",
            &e,
            entry(json!({"sha256": format!("{h}0")})),
            400,
            "invalid_body",
        ),
        case(
            "non-hex sha256",
            "POST",
            &e,
            entry(json!({"sha256": format!("{}g", &h[..63])})),
            400,
            "invalid_body",
        ),
        case(
            "unknown field",
            "POST",
            &e,
            entry(json!({"colour": "red"})),
            400,
            "invalid_body",
        ),
        case(
            "server-set field signer",
            "POST",
            &e,
            entry(json!({"signer": "me"})),
            400,
            "invalid_body",
        ),
        case(
            "server-set field time",
            "POST",
            &e,
            entry(json!({"time": "2026-01-01T00:00:00Z"})),
            400,
            "invalid_body",
        ),
        case(
            "server-set field v",
            "POST",
            &e,
            entry(json!({"v": 1})),
            400,
            "invalid_body",
        ),
        case(
            "unknown status",
            "POST",
            &e,
            entry(json!({"status": "revoked"})),
            400,
            "invalid_body",
        ),
        // Bodies: limits and rules.
        case(
            "empty name",
            "POST",
            &e,
            entry(json!({"name": ""})),
            422,
            "invalid_field",
        ),
        case(
            "name over 1,024 bytes",
            "POST",
            &e,
            entry(json!({"name": "n".repeat(1025)})),
            422,
            "invalid_field",
        ),
        case(
            "control characters in name",
            "POST",
            &e,
            entry(json!({"name": "a\u{7}b"})),
            422,
            "invalid_field",
        ),
        case(
            "bad kind",
            "POST",
            &e,
            entry(json!({"kind": "Big Kind"})),
            422,
            "invalid_field",
        ),
        case(
            "attribute value over 1,024 bytes",
            "POST",
            &e,
            entry(json!({"attributes": {"k": "v".repeat(1025)}})),
            422,
            "invalid_field",
        ),
        case(
            "65 attributes",
            "POST",
            &e,
            entry(
                json!({"attributes": (0..65).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}),
            ),
            422,
            "invalid_field",
        ),
        case(
            "secret-looking ci key",
            "POST",
            &e,
            entry(json!({"ci": {"token": "x"}})),
            422,
            "invalid_field",
        ),
        case(
            "oversized body",
            "POST",
            &e,
            entry(json!({"name": "n".repeat(140 * 1024)})),
            413,
            "body_too_large",
        ),
        case(
            "empty batch",
            "POST",
            format!("{e}/batch"),
            r#"{"entries":[]}"#,
            422,
            "invalid_field",
        ),
        case(
            "batch over 1,000",
            "POST",
            format!("{e}/batch"),
            json!({"entries": vec![json!({"sha256": h, "name": "m"}); 1001]}).to_string(),
            422,
            "invalid_field",
        ),
        case(
            "batch without entries",
            "POST",
            format!("{e}/batch"),
            r#"{"items":[]}"#,
            400,
            "invalid_body",
        ),
        case(
            "authenticate with no hashes",
            "POST",
            format!("{L}/authenticate"),
            r#"{"sha256":[]}"#,
            422,
            "invalid_field",
        ),
        case(
            "authenticate with a bad hash",
            "POST",
            format!("{L}/authenticate"),
            r#"{"sha256":["zz"]}"#,
            400,
            "invalid_body",
        ),
        case(
            "authenticate with 33 signers",
            "POST",
            format!("{L}/authenticate"),
            json!({"sha256": [h], "signer": (0..33).map(|i| format!("k{i}")).collect::<Vec<_>>()})
                .to_string(),
            422,
            "invalid_field",
        ),
        case(
            "create ledger with a bad name",
            "POST",
            "/api/v1/ledgers",
            r#"{"name":"Bad Name"}"#,
            400,
            "invalid_body",
        ),
        case(
            "create key with a bad role",
            "POST",
            format!("{L}/keys"),
            r#"{"name":"x","role":"root"}"#,
            400,
            "invalid_body",
        ),
        case(
            "create key with an empty name",
            "POST",
            format!("{L}/keys"),
            r#"{"name":"","role":"read"}"#,
            422,
            "invalid_field",
        ),
        // Paths.
        case(
            "unknown ledger",
            "GET",
            "/api/v1/ledgers/nope/checkpoint",
            "",
            404,
            "not_found",
        ),
        case(
            "invalid ledger name",
            "GET",
            "/api/v1/ledgers/Not_Valid/checkpoint",
            "",
            400,
            "invalid_ledger_name",
        ),
        case(
            "short sha256 in path",
            "GET",
            format!("{L}/artifacts/{}", &h[..63]),
            "",
            400,
            "invalid_sha256",
        ),
        case(
            "non-hex sha256 in path",
            "GET",
            format!("{L}/artifacts/{}x/history", &h[..63]),
            "",
            400,
            "invalid_sha256",
        ),
        case(
            "negative entry index",
            "GET",
            format!("{L}/entries/-1"),
            "",
            400,
            "invalid_path",
        ),
        case(
            "huge entry index",
            "GET",
            format!("{L}/entries/99999999999999999999999"),
            "",
            400,
            "invalid_path",
        ),
        case(
            "entry past the end",
            "GET",
            format!("{L}/entries/1000"),
            "",
            404,
            "not_found",
        ),
        case(
            "bad key id",
            "DELETE",
            format!("{L}/keys/a%20b"),
            "",
            400,
            "invalid_path",
        ),
        case(
            "no such route",
            "GET",
            "/api/v1/nothing",
            "",
            404,
            "not_found",
        ),
        case(
            "wrong method",
            "DELETE",
            format!("{L}/checkpoint"),
            "",
            405,
            "method_not_allowed",
        ),
        // Query strings.
        case(
            "bad cursor",
            "GET",
            format!("{e}?after=abc"),
            "",
            400,
            "invalid_query",
        ),
        case(
            "negative cursor",
            "GET",
            format!("{e}?after=-5"),
            "",
            400,
            "invalid_query",
        ),
        case(
            "limit 0",
            "GET",
            format!("{e}?limit=0"),
            "",
            400,
            "invalid_query",
        ),
        case(
            "limit over 1,000",
            "GET",
            format!("{e}?limit=1001"),
            "",
            400,
            "invalid_query",
        ),
        case(
            "unknown search parameter",
            "GET",
            format!("{e}?colour=red"),
            "",
            400,
            "invalid_query",
        ),
        case(
            "attr without colon",
            "GET",
            format!("{e}?attr=abc"),
            "",
            400,
            "invalid_query",
        ),
        case(
            "bad since",
            "GET",
            format!("{e}?since=yesterday"),
            "",
            400,
            "invalid_query",
        ),
        case(
            "bad status filter",
            "GET",
            format!("{e}?status=good"),
            "",
            400,
            "invalid_query",
        ),
        case(
            "repeated cursor",
            "GET",
            format!("{e}?after=1&after=2"),
            "",
            400,
            "invalid_query",
        ),
        case(
            "bad history cursor",
            "GET",
            format!("{L}/artifacts/{h}/history?after=x"),
            "",
            400,
            "invalid_query",
        ),
        case(
            "inclusion without index",
            "GET",
            format!("{L}/proof/inclusion?size=1"),
            "",
            400,
            "invalid_query",
        ),
        case(
            "negative proof size",
            "GET",
            format!("{L}/proof/inclusion?index=0&size=-1"),
            "",
            400,
            "invalid_query",
        ),
        case(
            "huge proof size",
            "GET",
            format!("{L}/proof/inclusion?index=0&size=18446744073709551616"),
            "",
            400,
            "invalid_query",
        ),
        case(
            "proof size beyond the tree",
            "GET",
            format!("{L}/proof/inclusion?index=0&size=1000"),
            "",
            404,
            "not_found",
        ),
        case(
            "index at the tree size",
            "GET",
            format!("{L}/proof/inclusion?index=1&size=1"),
            "",
            400,
            "invalid_request",
        ),
        case(
            "consistency from > to",
            "GET",
            format!("{L}/proof/consistency?from=1&to=0"),
            "",
            400,
            "invalid_request",
        ),
        case(
            "consistency to beyond the tree",
            "GET",
            format!("{L}/proof/consistency?from=1&to=1000"),
            "",
            404,
            "not_found",
        ),
        case(
            "consistency from not a number",
            "GET",
            format!("{L}/proof/consistency?from=one"),
            "",
            400,
            "invalid_query",
        ),
        case(
            "unknown signer parameter typo",
            "GET",
            format!("{L}/artifacts/{h}?signers=k"),
            "",
            400,
            "invalid_query",
        ),
        // Tiles.
        case(
            "tile level not a number",
            "GET",
            format!("{L}/log/tile/x/000"),
            "",
            400,
            "invalid_tile_path",
        ),
        case(
            "tile level 64",
            "GET",
            format!("{L}/log/tile/64/000"),
            "",
            400,
            "invalid_tile_path",
        ),
        case(
            "tile index not 3 digits",
            "GET",
            format!("{L}/log/tile/0/1"),
            "",
            400,
            "invalid_tile_path",
        ),
        case(
            "tile width 0",
            "GET",
            format!("{L}/log/tile/0/000.p/0"),
            "",
            400,
            "invalid_tile_path",
        ),
        case(
            "tile width 256",
            "GET",
            format!("{L}/log/tile/0/000.p/256"),
            "",
            400,
            "invalid_tile_path",
        ),
        case(
            "tile index x000 prefix",
            "GET",
            format!("{L}/log/tile/0/x000/001"),
            "",
            400,
            "invalid_tile_path",
        ),
        case(
            "tile beyond the tree",
            "GET",
            format!("{L}/log/tile/0/x999/999"),
            "",
            404,
            "not_found",
        ),
        case(
            "entry bundle too wide",
            "GET",
            format!("{L}/log/tile/entries/000.p/9"),
            "",
            404,
            "not_found",
        ),
        case(
            "entry bundle bad path",
            "GET",
            format!("{L}/log/tile/entries/abc"),
            "",
            400,
            "invalid_tile_path",
        ),
    ];
    assert!(cases.len() >= 30);

    let mut failures = Vec::new();
    for c in &cases {
        let r = call_raw(
            &s,
            c.method,
            &c.path,
            Some(ADMIN),
            c.content_type,
            c.body.clone(),
        )
        .await;
        assert!(
            r.status.is_client_error(),
            "{}: got {} {}",
            c.what,
            r.status,
            r.text()
        );
        let code = r.error_code();
        if r.status.as_u16() != c.status || code != c.code {
            failures.push(format!(
                "{}: expected {} {}, got {} {} ({})",
                c.what,
                c.status,
                c.code,
                r.status,
                code,
                r.text()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Content types: a body that is not declared JSON.
    let body = entry(json!({})).to_vec();
    let r = call_raw(
        &s,
        "POST",
        &e,
        Some(ADMIN),
        Some("text/plain"),
        body.clone(),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.error_code().as_str()),
        (415, "unsupported_media_type")
    );
    let r = call_raw(&s, "POST", &e, Some(ADMIN), None, body).await;
    assert_eq!(
        (r.status.as_u16(), r.error_code().as_str()),
        (415, "unsupported_media_type")
    );

    // Credentials that are malformed rather than missing.
    for auth in ["Basic abc", "Bearer ", "bearer lower-case-scheme"] {
        let req = axum::http::Request::builder()
            .uri(format!("{L}/checkpoint"))
            .header("authorization", auth);
        let resp = tower::ServiceExt::oneshot(
            notarium_server::app(s.clone()),
            req.body(axum::body::Body::empty()).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{auth}");
    }
    let r = call(
        &s,
        "GET",
        &format!("{L}/checkpoint"),
        Some(&"x".repeat(600)),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Nothing of the above was written.
    let v = call(&s, "GET", L, Some(ADMIN), None).await.json();
    assert_eq!(v["size"], 1, "only the seed entry");
}
