//! Keyless CI identity end to end (docs/oidc.md, docs/identity-in-entries.md): a real
//! `notariumd` whose configuration trusts the mock OIDC issuer (`notarium_e2e::oidc`, HTTPS on
//! 127.0.0.1 with a CA made at run time), the real `notarium` CLI holding a CI token as its
//! bearer, and plain HTTP for what curl users see.
//!
//! - A token notarization records the verified identity and context, signed by the identity's
//!   id, apart from the CI context the client asserts; CLI text and JSON, receipts and
//!   `verify-receipt` show the two apart.
//! - A table of bad tokens is refused with 401/403, each with its code in the error schema, and
//!   nothing is written.
//! - The issuer's key rotates; an unreachable issuer refuses tokens with 503 while API keys keep
//!   working, and the server starts anyway.
//! - `--signer-*` policies: a match, a mismatch (exit 8, `signer_mismatch`), an API-key entry
//!   (a mismatch whatever it asserts); the server's own evaluation for curl users.
//! - The rate limit applies per identity, and no token is ever in the server's log.

use std::time::{Duration, Instant};

use notarium_core::entry::oidc_signer_id;
use notarium_e2e::oidc::{b64, encode, now, Alg, MockIssuer};
use notarium_e2e::{Cli, Server, Setup};
use serde_json::{json, Value};

const AUDIENCE: &str = "https://notarium.example.com";
const GITHUB_SUBJECT: &str = "repo:acme/app:ref:refs/heads/main";
const WORKFLOW: &str = "acme/app/.github/workflows/release.yml";

/// The server configuration: the mock as a GitHub-shaped issuer (RS256 and ES256), whose
/// tokens write ledger `default` from repository 892345617's `main` or `v*` tags, and read it
/// from anything of owner 1342. Keys may be refetched at once (`jwks_min_refresh_seconds: 0`)
/// so that rotation and recovery need no waiting; the log is at debug, to show that no token
/// is logged even then. `extra` adds top-level keys.
fn config(mock: &MockIssuer, extra: &str) -> String {
    format!(
        r#"log_level: debug
{extra}
oidc:
  jwks_min_refresh_seconds: 0
  fetch_timeout_ms: 3000
  issuers:
    - issuer: {issuer}
      provider: github
      audience: {AUDIENCE}
      algorithms: [RS256, ES256]
      ca_bundle: {ca}
      server_url: https://github.com
      rules:
        - name: release builds
          ledger: default
          role: write
          claims:
            repository_id: "892345617"
            ref: [refs/heads/main, "refs/tags/v*"]
        - name: organisation reads
          ledger: default
          role: read
          claims:
            repository_owner_id: "1342"
"#,
        issuer = mock.issuer(),
        ca = mock.ca_bundle().display(),
    )
}

/// An HTTP answer: status, `Retry-After` and `WWW-Authenticate`, and the body as JSON (or
/// `Value::Null`).
struct Answer {
    status: u16,
    retry_after: Option<String>,
    www_authenticate: Option<String>,
    body: Value,
}

/// One request with an optional bearer and JSON body.
fn http(method: &str, url: &str, bearer: Option<&str>, body: Option<&Value>) -> Answer {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a client");
        let mut req = client.request(method.parse().expect("a method"), url);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("the server answers");
        let header = |h: reqwest::header::HeaderName| {
            resp.headers()
                .get(h)
                .map(|v| v.to_str().expect("ASCII header").to_owned())
        };
        let (retry_after, www_authenticate) = (
            header(reqwest::header::RETRY_AFTER),
            header(reqwest::header::WWW_AUTHENTICATE),
        );
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("a body");
        Answer {
            status,
            retry_after,
            www_authenticate,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    })
}

fn notarize_body(name: &str) -> Value {
    json!({ "sha256": notarium_core::Sha256::of(name.as_bytes()).to_hex(), "name": name })
}

/// `POST /entries` with `bearer`.
fn post_entry(server: &Server, bearer: &str, name: &str) -> Answer {
    http(
        "POST",
        &format!("{}/api/v1/ledgers/default/entries", server.url()),
        Some(bearer),
        Some(&notarize_body(name)),
    )
}

/// The ledger's size, as the admin sees it.
fn size(server: &Server) -> u64 {
    let a = http(
        "GET",
        &format!("{}/api/v1/ledgers/default", server.url()),
        Some(server.admin_token()),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["size"].as_u64().expect("a size")
}

/// Asserts the error schema: exactly `{"error": {"code", "message"}}`, with `code`, and a
/// message that does not quote `token`.
fn assert_error(a: &Answer, status: u16, code: &str, token: &str, what: &str) {
    assert_eq!(a.status, status, "{what}: {}", a.body);
    let obj = a
        .body
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no JSON body"));
    assert_eq!(obj.len(), 1, "{what}: {}", a.body);
    let err = a.body["error"].as_object().expect("an error object");
    assert_eq!(err.len(), 2, "{what}: {}", a.body);
    assert_eq!(a.body["error"]["code"], code, "{what}: {}", a.body);
    let message = a.body["error"]["message"].as_str().expect("a message");
    assert!(!message.is_empty(), "{what}");
    assert_no_token(message, token, what);
}

/// Asserts that `text` holds neither `token` nor a segment of it long enough to matter.
fn assert_no_token(text: &str, token: &str, what: &str) {
    assert!(
        token.is_empty() || !text.contains(token),
        "{what}: the token is in the text"
    );
    for seg in token.split('.').filter(|s| s.len() >= 16) {
        assert!(
            !text.contains(seg),
            "{what}: a token segment is in the text"
        );
    }
}

/// A CLI whose bearer is `token`, in `dir`, with a GitHub Actions environment that asserts
/// another repository than the token's: what `--ci` records is the client's word only.
fn ci_cli(server: &Server, token: &str, dir: &std::path::Path) -> Cli {
    server
        .cli()
        .with_key(token)
        .current_dir(dir)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/spoofed")
        .env("GITHUB_REF", "refs/heads/main")
        .env("GITHUB_WORKFLOW", "release")
}

#[test]
fn a_token_notarization_records_the_verified_identity_apart_from_the_asserted_context() {
    let mock = MockIssuer::start();
    let s = Setup::with_config(&config(&mock, ""));
    let kid = mock.current_kid();
    let claims = mock.github_claims(AUDIENCE);
    let token = mock.mint(&kid, &claims);
    assert!(
        token.len() > 512,
        "a real-sized token is longer than an API key"
    );
    let signer = oidc_signer_id(mock.issuer(), GITHUB_SUBJECT);
    s.work.write("app.tar.gz", b"the app");
    let cli = ci_cli(&s.server, &token, s.work.path());

    // One artifact: the entry's signer is the identity, its identity what the token says.
    let run = cli.run([
        "notarize",
        "app.tar.gz",
        "--ci",
        "--receipts",
        "receipts",
        "--output",
        "json",
    ]);
    run.expect_code(0);
    let row = &run.results()[0];
    assert_eq!(row["signer"], signer.as_str());
    assert_eq!(row["verified_identity"]["issuer"], mock.issuer());
    assert_eq!(row["verified_identity"]["subject"], GITHUB_SUBJECT);
    assert_eq!(row["verified_identity"]["provider"], "github");
    assert_eq!(
        row["verified_identity"]["context"]["repository"],
        "acme/app"
    );
    assert_eq!(row["asserted_ci"]["repository"], "acme/spoofed");

    let receipt: Value = serde_json::from_slice(
        &std::fs::read(s.work.path().join("receipts/app.tar.gz.receipt.json")).unwrap(),
    )
    .unwrap();
    let entry = &receipt["entry"];
    assert_eq!(entry["signer"], signer.as_str());
    assert_eq!(
        entry["ci"]["repository"], "acme/spoofed",
        "ci stays asserted"
    );
    let id = &entry["identity"];
    assert_eq!(
        id.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["context", "issuer", "provider", "subject"]
    );
    let context = id["context"].as_object().unwrap();
    for (k, v) in [
        ("repository", "acme/app"),
        ("repository_id", "892345617"),
        ("repository_owner_id", "1342"),
        ("commit", "b8962f4eaff8e14fc646cb22c596c81e67d71362"),
        ("ref", "refs/heads/main"),
        ("workflow", "release"),
        (
            "workflow_ref",
            "acme/app/.github/workflows/release.yml@refs/heads/main",
        ),
        ("run_id", "32291736541"),
        (
            "run_url",
            "https://github.com/acme/app/actions/runs/32291736541",
        ),
        ("runner_environment", "github-hosted"),
        ("server_url", "https://github.com"),
    ] {
        assert_eq!(context[k], v, "context {k}");
    }
    for k in ["issuer", "subject", "provider"] {
        assert!(!context.contains_key(k), "{k} is a field of the identity");
    }
    // The bytes put the identity between `ci` and `kind`.
    let leaf = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            receipt["leaf"].as_str().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let (ci, identity, kind) = (
        leaf.find("\"ci\":").unwrap(),
        leaf.find("\"identity\":").unwrap(),
        leaf.find("\"kind\":").unwrap(),
    );
    assert!(ci < identity && identity < kind, "{leaf}");

    // A batch with the token: every entry carries the identity.
    for i in 1..=3 {
        s.work.write(
            &format!("dist/part-{i}.bin"),
            format!("part {i}").as_bytes(),
        );
    }
    cli.run(["notarize", "dist"]).expect_code(0);
    let found = s
        .cli
        .run(["search", "--signer", &signer, "--output", "json"]);
    found.expect_code(0);
    let rows = found.results();
    assert_eq!(rows.len(), 4);
    for r in &rows {
        assert_eq!(r["verified_identity"]["subject"], GITHUB_SUBJECT, "{r}");
    }

    // What people read: inspect in text and JSON, verify-receipt, keep the two apart.
    let text = s.cli.run(["inspect", "app.tar.gz"]);
    text.expect_code(0);
    assert!(
        text.stdout.contains(&format!(
            "verified identity (github CI token, checked by the server): issuer {}, subject {GITHUB_SUBJECT}",
            mock.issuer()
        )),
        "{text}"
    );
    assert!(
        text.stdout.contains("verified context: ") && text.stdout.contains("repository=acme/app"),
        "{text}"
    );
    assert!(
        text.stdout
            .contains("asserted CI context (from the client, not verified): ")
            && text.stdout.contains("repository=acme/spoofed"),
        "{text}"
    );
    let json = s.cli.run(["inspect", "app.tar.gz", "--output", "json"]);
    let r = &json.results()[0];
    assert_eq!(r["verified_identity"]["context"]["repository"], "acme/app");
    assert_eq!(r["asserted_ci"]["repository"], "acme/spoofed");
    let offline = s.cli.run([
        "verify-receipt",
        "receipts/app.tar.gz.receipt.json",
        "app.tar.gz",
        "--output",
        "json",
    ]);
    offline.expect_code(0);
    assert_eq!(
        offline.results()[0]["verified_identity"]["issuer"],
        mock.issuer()
    );

    // An API-key entry has no identity: its context is asserted only.
    s.work.write("lib.tar.gz", b"the lib");
    let key_run = s
        .cli
        .clone()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/app")
        .run(["notarize", "lib.tar.gz", "--ci", "--output", "json"]);
    key_run.expect_code(0);
    let r = &key_run.results()[0];
    assert!(r.get("verified_identity").is_none(), "{r}");
    assert_eq!(r["asserted_ci"]["repository"], "acme/app");
    assert_eq!(r["signer"], s.writer.id.as_str());

    // The same token reads and writes; the whole server log never holds it.
    let log = s.server.log();
    assert!(log.contains("DEBUG"), "the log is at debug");
    assert_no_token(&log, &token, "the server log");
}

/// One bad token: what it is, the status and code it must get.
struct Bad {
    what: &'static str,
    token: String,
    status: u16,
    code: &'static str,
}

#[test]
fn bad_tokens_are_refused_with_their_code_and_nothing_is_written() {
    let mock = MockIssuer::start();
    let other = MockIssuer::start();
    let server = Server::start_with_config(&config(&mock, ""));
    let rsa = mock.current_kid();
    let ed = mock.add_key(Alg::EdDsa);
    let unpublished = mock.add_unpublished_key(Alg::Rs256);
    let good = mock.github_claims(AUDIENCE);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let header = mock.header(&rsa);
    let with_header = |k: &str, v: Value| {
        let mut h = header.clone();
        h[k] = v;
        h
    };
    let genuine = mock.mint(&rsa, &good);
    let (head, rest) = genuine.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    // A character in the middle: every bit of it is signature (the last one has padding bits).
    let flipped = {
        let mut s = sig.to_owned();
        let c = if s.as_bytes()[10] == b'A' { "B" } else { "A" };
        s.replace_range(10..11, c);
        format!("{head}.{}.{s}", rest.split_once('.').unwrap().0)
    };
    let swapped_payload = format!(
        "{head}.{}.{sig}",
        b64(with("repository", json!("acme/evil"))
            .to_string()
            .as_bytes())
    );
    let rsa_n = mock.jwk(&rsa)["n"].as_str().unwrap().to_owned();
    let other_owner = with("repository_owner_id", json!("999"));
    let other_owner = {
        let mut c = other_owner;
        c["repository_id"] = json!("555");
        c
    };
    let bad = |what, token, status, code| Bad {
        what,
        token,
        status,
        code,
    };
    let cases = vec![
        bad(
            "alg none",
            mock.unsigned("none", &good),
            401,
            "token_alg_none",
        ),
        bad(
            "alg None",
            mock.unsigned("None", &good),
            401,
            "token_alg_none",
        ),
        bad(
            "HS256 keyed with the RSA modulus",
            mock.hmac("HS256", rsa_n.as_bytes(), &rsa, &good),
            401,
            "token_alg_hmac",
        ),
        bad(
            "HS512",
            mock.hmac("HS512", b"secret", &rsa, &good),
            401,
            "token_alg_hmac",
        ),
        bad(
            "PS256 header",
            mock.sign(&rsa, &with_header("alg", json!("PS256")), &good),
            401,
            "token_alg_unsupported",
        ),
        bad(
            "EdDSA, which the issuer may not use",
            mock.mint(&ed, &good),
            401,
            "token_alg_not_allowed",
        ),
        bad(
            "crit header",
            mock.sign(&rsa, &with_header("crit", json!(["exp"])), &good),
            401,
            "token_crit_unsupported",
        ),
        bad(
            "another issuer",
            other.mint(&other.current_kid(), &other.github_claims(AUDIENCE)),
            401,
            "token_issuer_untrusted",
        ),
        bad(
            "no kid",
            mock.sign(&rsa, &json!({"alg": "RS256", "typ": "JWT"}), &good),
            401,
            "token_kid_missing",
        ),
        bad(
            "unpublished key",
            mock.mint(&unpublished, &good),
            401,
            "token_kid_unknown",
        ),
        bad(
            "RSA key named for ES256",
            mock.sign(&rsa, &with_header("alg", json!("ES256")), &good),
            401,
            "token_key_mismatch",
        ),
        bad("signature altered", flipped, 401, "token_signature_invalid"),
        bad(
            "claims altered after signing",
            swapped_payload,
            401,
            "token_signature_invalid",
        ),
        bad(
            "no exp",
            mock.mint(&rsa, &without("exp")),
            401,
            "token_claim_missing",
        ),
        bad(
            "no sub",
            mock.mint(&rsa, &without("sub")),
            401,
            "token_claim_missing",
        ),
        bad(
            "exp as a string",
            mock.mint(&rsa, &with("exp", json!((now() + 300).to_string()))),
            401,
            "token_claim_invalid",
        ),
        bad(
            "a control character in a recorded claim",
            mock.mint(&rsa, &with("repository", json!("acme/app\n"))),
            401,
            "token_claim_invalid",
        ),
        bad(
            "expired",
            mock.mint(&rsa, &with("exp", json!(now() - 3600))),
            401,
            "token_expired",
        ),
        bad(
            "not yet valid",
            mock.mint(&rsa, &with("nbf", json!(now() + 3600))),
            401,
            "token_not_yet_valid",
        ),
        bad(
            "another audience",
            mock.mint(&rsa, &with("aud", json!("https://elsewhere.example"))),
            401,
            "token_audience_mismatch",
        ),
        bad(
            "larger than max_token_bytes",
            mock.mint(&rsa, &with("padding", json!("x".repeat(9000)))),
            401,
            "token_too_large",
        ),
        bad(
            "not base64url",
            format!("{head}.eyJ!!.{sig}"),
            401,
            "token_malformed",
        ),
        bad(
            "an encrypted JWT (five segments)",
            format!("{head}.a.b.c.{sig}"),
            401,
            "token_malformed",
        ),
        bad(
            "a payload that is no JSON object",
            encode(&header, &json!(["not", "an", "object"]), b"sig"),
            401,
            "token_malformed",
        ),
        bad(
            "genuine, but no rule grants the ledger",
            mock.mint(&rsa, &other_owner),
            403,
            "oidc_no_rule_matches",
        ),
        bad(
            "a read grant on a write route",
            mock.mint(&rsa, &with("repository_id", json!("555"))),
            403,
            "forbidden",
        ),
    ];
    assert!(cases.len() >= 20);
    let before = size(&server);
    let url = server.url().to_owned();
    for c in &cases {
        let a = post_entry(&server, &c.token, c.what);
        assert_error(&a, c.status, c.code, &c.token, c.what);
        if c.status == 401 {
            assert_eq!(
                a.www_authenticate.as_deref(),
                Some("Bearer error=\"invalid_token\""),
                "{}",
                c.what
            );
        }
        // The batch route refuses it the same way.
        let batch = http(
            "POST",
            &format!("{url}/api/v1/ledgers/default/entries/batch"),
            Some(&c.token),
            Some(&json!({ "entries": [notarize_body(c.what)] })),
        );
        assert_error(&batch, c.status, c.code, &c.token, c.what);
    }
    // A refused token writes nothing, and finds nothing of what it tried to write.
    assert_eq!(size(&server), before, "nothing was written");
    let search = http(
        "GET",
        &format!("{url}/api/v1/ledgers/default/entries?name=expired"),
        Some(server.admin_token()),
        None,
    );
    assert_eq!(search.body["entries"].as_array().map(Vec::len), Some(0));

    // The read grant reads; the genuine token writes.
    let read = mock.mint(&rsa, &with("repository_id", json!("555")));
    let sha = notarium_core::Sha256::of(b"anything").to_hex();
    let a = http(
        "GET",
        &format!("{url}/api/v1/ledgers/default/artifacts/{sha}"),
        Some(&read),
        None,
    );
    assert_eq!(
        (a.status, a.body["status"].as_str()),
        (200, Some("unknown"))
    );
    assert_eq!(post_entry(&server, &genuine, "good").status, 201);
    assert_eq!(size(&server), before + 1);
    // On a public ledger, a genuine token that no rule grants reads as anyone may, and
    // still writes nothing.
    server
        .admin()
        .run(["ledger", "create", "public", "--public-read"])
        .expect_code(0);
    let stranger = mock.mint(&rsa, &other_owner);
    let a = http(
        "GET",
        &format!("{url}/api/v1/ledgers/public/artifacts/{sha}"),
        Some(&stranger),
        None,
    );
    assert_eq!(
        (a.status, a.body["status"].as_str()),
        (200, Some("unknown"))
    );
    let a = http(
        "POST",
        &format!("{url}/api/v1/ledgers/public/entries"),
        Some(&stranger),
        Some(&notarize_body("stranger")),
    );
    assert_error(&a, 403, "oidc_no_rule_matches", &stranger, "public write");
    // Tokens are credentials for a ledger's routes only.
    let who = http("GET", &format!("{url}/api/v1/whoami"), Some(&genuine), None);
    assert_error(&who, 401, "unauthorized", &genuine, "whoami");

    let log = server.log();
    for c in &cases {
        assert_no_token(&log, &c.token, c.what);
    }
}

#[test]
fn a_rotated_issuer_key_is_fetched_and_the_withdrawn_one_refused() {
    let mock = MockIssuer::start();
    let server = Server::start_with_config(&config(&mock, ""));
    let old = mock.current_kid();
    let token = |kid: &str| mock.mint(kid, &mock.github_claims(AUDIENCE));
    assert_eq!(post_entry(&server, &token(&old), "before").status, 201);
    let fetches = mock.jwks_fetches();

    let new = mock.rotate(Alg::Es256);
    assert_ne!(new, old);
    let a = post_entry(&server, &token(&new), "after");
    assert_eq!(a.status, 201, "{}", a.body);
    assert!(
        mock.jwks_fetches() > fetches,
        "the unknown kid made the server fetch the keys again"
    );
    let stale = token(&old);
    let a = post_entry(&server, &stale, "with the withdrawn key");
    assert_error(&a, 401, "token_kid_unknown", &stale, "withdrawn key");
    // One signer across rotations: the identity is the issuer and subject, not the key.
    let a = http(
        "GET",
        &format!(
            "{}/api/v1/ledgers/default/entries?signer={}",
            server.url(),
            oidc_signer_id(mock.issuer(), GITHUB_SUBJECT)
        ),
        Some(server.admin_token()),
        None,
    );
    assert_eq!(a.body["entries"].as_array().map(Vec::len), Some(2));
}

#[test]
fn an_unreachable_issuer_refuses_tokens_with_503_while_api_keys_keep_working() {
    let mock = MockIssuer::start();
    mock.set_reachable(false);
    // The server starts although its issuer cannot be reached.
    let s = Setup::with_config(&config(&mock, ""));
    let token = mock.mint(&mock.current_kid(), &mock.github_claims(AUDIENCE));
    let a = post_entry(&s.server, &token, "during the outage");
    assert_error(&a, 503, "oidc_issuer_unavailable", &token, "outage");
    assert!(a.retry_after.is_some(), "503 says when to retry");
    let before = size(&s.server);
    assert_eq!(
        post_entry(&s.server, &s.writer.secret, "with an API key").status,
        201
    );
    s.work.write("app.tar.gz", b"app");
    s.cli.run(["notarize", "app.tar.gz"]).expect_code(0);
    assert_eq!(size(&s.server), before + 2);
    // The CLI with the token reports the server's refusal as the server's failure (exit 6).
    s.server
        .cli()
        .with_key(&token)
        .current_dir(s.work.path())
        .run(["notarize", "app.tar.gz"])
        .expect_code(6)
        .expect_stderr("oidc_issuer_unavailable");
    // The start-up warming said so in the log (it runs beside serving: wait for its line).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !s
        .server
        .log()
        .contains("OIDC issuer not reachable at start-up")
    {
        assert!(
            Instant::now() < deadline,
            "no start-up warning:\n{}",
            s.server.log()
        );
        // A bounded wait for another process's log line, not a synchronisation.
        std::thread::sleep(Duration::from_millis(50));
    }

    // Back: tokens work again, at once (no refresh interval configured).
    mock.set_reachable(true);
    assert_eq!(
        post_entry(&s.server, &token, "after the outage").status,
        201
    );
    // Down again: fresh cached keys still verify known kids; an unknown kid fails closed.
    mock.set_reachable(false);
    assert_eq!(post_entry(&s.server, &token, "cached keys").status, 201);
    let rotated = mock.rotate(Alg::Rs256);
    let unknown = mock.mint(&rotated, &mock.github_claims(AUDIENCE));
    let a = post_entry(&s.server, &unknown, "unknown kid in an outage");
    assert_error(&a, 503, "oidc_issuer_unavailable", &unknown, "unknown kid");
    assert_no_token(&s.server.log(), &token, "the server log");
}

#[test]
fn signer_policies_hold_the_deciding_entry_to_its_verified_identity() {
    let mock = MockIssuer::start();
    let s = Setup::with_config(&config(&mock, ""));
    let token = mock.mint(&mock.current_kid(), &mock.github_claims(AUDIENCE));
    s.work.write("app.tar.gz", b"built by CI");
    s.work.write("lib.tar.gz", b"notarized with an API key");
    s.work.write("new.tar.gz", b"never notarized");
    ci_cli(&s.server, &token, s.work.path())
        .run(["notarize", "app.tar.gz", "--ci", "--receipts", "receipts"])
        .expect_code(0);
    // An API key asserting exactly what the policy asks: asserted is not verified.
    s.cli
        .clone()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/app")
        .env("GITHUB_REF", "refs/heads/main")
        .run(["notarize", "lib.tar.gz", "--ci"])
        .expect_code(0);
    let reader = s.cli.clone();
    let auth = |args: &[&str]| {
        let mut all = vec!["authenticate"];
        all.extend_from_slice(args);
        reader.run(all)
    };

    let full = [
        "--signer-issuer",
        mock.issuer(),
        "--signer-repository",
        "acme/app",
        "--signer-workflow",
        WORKFLOW,
        "--signer-ref",
        "refs/heads/main",
    ];
    let mut args = vec!["app.tar.gz", "--output", "json"];
    args.extend_from_slice(&full);
    let run = auth(&args);
    run.expect_code(0);
    let r = &run.results()[0];
    assert_eq!(
        (r["status"].as_str(), r["reason"].as_str()),
        (Some("trusted"), Some("trusted"))
    );
    assert_eq!(r["signer_policy"]["matched"], true);
    assert_eq!(r["verified_identity"]["subject"], GITHUB_SUBJECT);
    assert_eq!(r["asserted_ci"]["repository"], "acme/spoofed");
    let text = auth(&["app.tar.gz"]);
    text.expect_code(0);
    assert!(
        text.stdout.contains("verified identity (github CI token")
            && text.stdout.contains(
                "asserted CI context (from the client, not verified): provider=github, ref=refs/heads/main, repository=acme/spoofed, workflow=release"
            ),
        "{text}"
    );
    for w in [
        "github.com/acme/app/.github/workflows/release.yml",
        "acme/app/.github/workflows/release.yml@refs/heads/main",
    ] {
        auth(&["app.tar.gz", "--signer-workflow", w]).expect_code(0);
    }

    // Each part that differs is a mismatch: exit 8, not unknown.
    for (flag, value) in [
        (
            "--signer-issuer",
            "https://token.actions.githubusercontent.com",
        ),
        ("--signer-repository", "acme/other"),
        ("--signer-workflow", "acme/app/.github/workflows/ci.yml"),
        ("--signer-ref", "refs/tags/v1.0.0"),
    ] {
        let run = auth(&["app.tar.gz", flag, value, "--output", "json"]);
        run.expect_code(8);
        let r = &run.results()[0];
        assert_eq!(r["status"], "signer_mismatch", "{flag}");
        assert_eq!(r["reason"], "signer_mismatch", "{flag}");
        assert_eq!(r["code"], 8);
        assert_eq!(r["signer_policy"]["matched"], false);
        let m = r["signer_policy"]["mismatches"][0].as_str().unwrap();
        assert!(m.starts_with(&flag["--signer-".len()..]), "{flag}: {m}");
    }
    let text = auth(&["app.tar.gz", "--signer-repository", "acme/other"]);
    text.expect_code(8);
    assert!(
        text.stdout.contains("signer_mismatch")
            && text
                .stdout
                .contains("signer policy: repository: required acme/other, verified acme/app"),
        "{text}"
    );

    // An API-key entry has no verified identity: a mismatch whatever it asserts.
    let run = auth(&[
        "lib.tar.gz",
        "--signer-repository",
        "acme/app",
        "--output",
        "json",
    ]);
    run.expect_code(8);
    assert!(run.results()[0].get("verified_identity").is_none());
    assert_eq!(run.results()[0]["asserted_ci"]["repository"], "acme/app");
    let m = run.results()[0]["signer_policy"]["mismatches"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(m.contains("no verified identity"), "{m}");
    // Without a policy it is simply trusted.
    auth(&["lib.tar.gz"]).expect_code(0);
    // Unknown stays unknown; with several files the worst wins.
    auth(&["new.tar.gz", "--signer-repository", "acme/app"]).expect_code(2);
    let run = auth(&[
        "app.tar.gz",
        "lib.tar.gz",
        "--signer-repository",
        "acme/app",
        "--output",
        "json",
    ]);
    run.expect_code(8);
    let codes: Vec<i64> = run
        .results()
        .iter()
        .map(|r| r["code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [0, 8]);
    // Offline, on the saved receipt.
    let receipt = s.work.path().join("receipts/app.tar.gz.receipt.json");
    let receipt = receipt.to_str().unwrap();
    auth(&[
        "--offline",
        "--receipt",
        receipt,
        "--signer-ref",
        "refs/heads/main",
    ])
    .expect_code(0);
    auth(&[
        "--offline",
        "--receipt",
        receipt,
        "--signer-ref",
        "refs/heads/dev",
    ])
    .expect_code(8);

    // For curl users, the server evaluates the same policy; the status is unchanged.
    let base = format!("{}/api/v1/ledgers/default", s.server.url());
    let sha = |b: &[u8]| notarium_core::Sha256::of(b).to_hex();
    let app = sha(b"built by CI");
    let a = http(
        "GET",
        &format!("{base}/artifacts/{app}?signer_repository=acme/app&signer_ref=refs/heads/main"),
        Some(&s.writer.secret),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["status"], "trusted");
    assert_eq!(a.body["signer_policy"], json!({ "matched": true }));
    let a = http(
        "GET",
        &format!("{base}/artifacts/{app}?signer_repository=acme/other"),
        Some(&s.writer.secret),
        None,
    );
    assert_eq!(a.body["signer_policy"]["matched"], false);
    let a = http(
        "GET",
        &format!("{base}/artifacts/{app}?signer_repo=acme/app"),
        Some(&s.writer.secret),
        None,
    );
    assert_error(&a, 400, "invalid_query", "", "a misspelt parameter");
    let a = http(
        "POST",
        &format!("{base}/authenticate"),
        Some(&s.writer.secret),
        Some(&json!({
            "sha256": [app, sha(b"notarized with an API key"), sha(b"never notarized")],
            "signer_workflow": WORKFLOW,
        })),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let results = a.body["results"].as_array().unwrap();
    assert_eq!(results[0]["signer_policy"]["matched"], true);
    assert_eq!(results[1]["signer_policy"]["matched"], false);
    assert!(
        results[2].get("signer_policy").is_none(),
        "unknown: nothing decides"
    );
    // Without a policy, answers are as before.
    let a = http(
        "GET",
        &format!("{base}/artifacts/{app}"),
        Some(&s.writer.secret),
        None,
    );
    assert!(a.body.get("signer_policy").is_none());
}

#[test]
fn the_rate_limit_applies_per_identity() {
    let mock = MockIssuer::start();
    let s = Setup::with_config(&config(
        &mock,
        "rate_limit_per_second: 1\nrate_limit_burst: 3",
    ));
    let main = mock.mint(&mock.current_kid(), &mock.github_claims(AUDIENCE));
    let mut tag = mock.github_claims(AUDIENCE);
    tag["ref"] = json!("refs/tags/v1.0.0");
    tag["sub"] = json!("repo:acme/app:ref:refs/tags/v1.0.0");
    let tag = mock.mint(&mock.current_kid(), &tag);
    let sha = notarium_core::Sha256::of(b"x").to_hex();
    let url = format!("{}/api/v1/ledgers/default/artifacts/{sha}", s.server.url());
    let statuses: Vec<u16> = (0..8)
        .map(|_| http("GET", &url, Some(&main), None).status)
        .collect();
    assert!(statuses[..3].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    // Another subject of the same repository is another identity, with its own bucket; so is
    // an API key.
    assert_eq!(http("GET", &url, Some(&tag), None).status, 200);
    assert_eq!(http("GET", &url, Some(&s.writer.secret), None).status, 200);
}

#[test]
fn gitlab_and_jenkins_tokens_record_their_own_verified_context() {
    let gitlab = MockIssuer::start();
    let jenkins = MockIssuer::start_at("/oidc");
    let yaml = format!(
        r#"oidc:
  issuers:
    - issuer: {gitlab}
      provider: gitlab
      audience: notarium
      ca_bundle: {gitlab_ca}
      rules:
        - {{ledger: default, role: write, claims: {{project_id: "20", ref_protected: "true"}}}}
    - issuer: {jenkins}
      provider: jenkins
      audience: notarium
      ca_bundle: {jenkins_ca}
      rules:
        - {{ledger: default, role: write, claims: {{sub: "https://jenkins.example.com/job/acme/job/app/**"}}}}
"#,
        gitlab = gitlab.issuer(),
        gitlab_ca = gitlab.ca_bundle().display(),
        jenkins = jenkins.issuer(),
        jenkins_ca = jenkins.ca_bundle().display(),
    );
    let s = Setup::with_config(&yaml);
    s.work.write("gitlab.bin", b"built on GitLab");
    s.work.write("jenkins.bin", b"built on Jenkins");
    let gl_token = gitlab.mint(&gitlab.current_kid(), &gitlab.gitlab_claims("notarium"));
    let jk_token = jenkins.mint(&jenkins.current_kid(), &jenkins.jenkins_claims("notarium"));
    let notarize = |token: &str, file: &str| {
        let run = s
            .server
            .cli()
            .with_key(token)
            .current_dir(s.work.path())
            .run(["notarize", file, "--output", "json"]);
        run.expect_code(0);
        run.results()[0]["verified_identity"].clone()
    };

    let id = notarize(&gl_token, "gitlab.bin");
    assert_eq!(id["provider"], "gitlab");
    assert_eq!(id["issuer"], gitlab.issuer());
    assert_eq!(
        id["subject"],
        "project_path:acme/app:ref_type:branch:ref:main"
    );
    let host = gitlab.issuer().trim_start_matches("https://").to_owned();
    for (k, v) in [
        ("repository", "acme/app".to_owned()),
        ("repository_id", "20".to_owned()),
        ("repository_owner_id", "72".to_owned()),
        ("ref", "refs/heads/main".to_owned()),
        ("pipeline_id", "574".to_owned()),
        (
            "pipeline_url",
            format!("{}/acme/app/-/pipelines/574", gitlab.issuer()),
        ),
        (
            "run_url",
            format!("{}/acme/app/-/jobs/302", gitlab.issuer()),
        ),
        (
            "workflow_ref",
            format!("{host}/acme/app//.gitlab-ci.yml@refs/heads/main"),
        ),
    ] {
        assert_eq!(id["context"][k], v.as_str(), "gitlab {k}");
    }
    let id = notarize(&jk_token, "jenkins.bin");
    assert_eq!(id["provider"], "jenkins");
    for (k, v) in [
        ("repository", "https://git.example.com/acme/app.git"),
        ("commit", "0fffdd6505a3f5f573e34338cb9eac1211bace14"),
        (
            "run_url",
            "https://jenkins.example.com/job/acme/job/app/job/main/42/",
        ),
    ] {
        assert_eq!(id["context"][k], v, "jenkins {k}");
    }
    assert!(
        !id.to_string().contains("ghp_secret"),
        "credentials in git_url are never recorded"
    );

    // The policy speaks each provider's language.
    let auth = |args: &[&str]| {
        let mut all = vec!["authenticate"];
        all.extend_from_slice(args);
        s.cli.run(all)
    };
    auth(&[
        "gitlab.bin",
        "--signer-workflow",
        "acme/app//.gitlab-ci.yml",
        "--signer-repository",
        "acme/app",
        "--signer-issuer",
        gitlab.issuer(),
    ])
    .expect_code(0);
    auth(&["gitlab.bin", "--signer-issuer", jenkins.issuer()]).expect_code(8);
    auth(&[
        "jenkins.bin",
        "--signer-workflow",
        "https://jenkins.example.com/job/acme/job/app/job/main/",
    ])
    .expect_code(0);
    auth(&["jenkins.bin", "--signer-ref", "refs/heads/main"]).expect_code(8);
}
