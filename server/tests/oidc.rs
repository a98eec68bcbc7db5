//! The OIDC verifier (`notarium_server::oidc`) against the mock issuer of the e2e crate: a real
//! HTTPS server on 127.0.0.1 with a CA made at run time, given to the verifier as its CA
//! bundle. Good GitHub-, GitLab- and Jenkins-shaped tokens (RS256, ES256, EdDSA) are accepted
//! with the right identity, rule and context; a table of bad tokens is refused, each with its
//! code; key rotation, refresh throttling, cache expiry and an unreachable issuer behave as
//! documented; and no token ever shows in an error or a log line (every test captures the
//! logs at TRACE).
//!
//! Time is a hand-set clock: caches age and tokens expire without sleeping.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use notarium_core::entry::CI_KEYS;
use notarium_core::{LedgerName, Role};
use notarium_e2e::oidc::{b64, now, Alg, MockIssuer};
use notarium_server::oidc::{
    signer_id, Clock, ErrorClass, Oidc, OidcConfig, OidcError, Provider, RawOidc, NEW_CI_KEYS,
};
use serde_json::{json, Value};

const AUDIENCE: &str = "https://notarium.example.com";

#[derive(Clone)]
struct ManualClock(Arc<Mutex<SystemTime>>);

impl ManualClock {
    fn new() -> ManualClock {
        ManualClock(Arc::new(Mutex::new(SystemTime::now())))
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

/// Every log line of the test, at TRACE, from the verifier and everything it calls.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    /// Captures this thread's logs (the tests run on a current-thread runtime) until the
    /// guard drops.
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(logs.clone())
            .finish();
        (logs.clone(), tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Asserts that no token, nor any long segment of one, is in the logs.
    fn assert_no_tokens(&self, tokens: &[String]) {
        let text = self.text();
        assert!(
            !text.is_empty(),
            "nothing was logged: the capture does not work"
        );
        for t in tokens {
            assert_no_token(&text, t, "the logs");
        }
    }
}

/// Asserts that `text` holds neither `token` nor a segment of it long enough to matter.
fn assert_no_token(text: &str, token: &str, what: &str) {
    if !token.is_empty() {
        assert!(!text.contains(token), "a token is in {what}: {text}");
    }
    for seg in token.split('.').filter(|s| s.len() >= 16) {
        assert!(!text.contains(seg), "a token segment is in {what}: {text}");
    }
}

/// The verifier for `yaml` (the `oidc` section), on a hand-set clock.
fn verifier(yaml: &str) -> (Arc<Oidc>, ManualClock) {
    let raw: RawOidc = yaml_serde::from_str(yaml).expect("the test config is YAML");
    let config = OidcConfig::from_raw(raw).expect("the test config is valid");
    let clock = ManualClock::new();
    let oidc = Oidc::with_clock(config, Arc::new(clock.clone())).expect("the verifier builds");
    (Arc::new(oidc), clock)
}

/// A GitHub-shaped issuer: RS256 and ES256 allowed; `release` written from `main` or a `v*`
/// tag by `release.yml` of repository 892345617; `default` read by anything of owner 1342.
fn github_config(mock: &MockIssuer) -> String {
    format!(
        r#"
issuers:
  - issuer: {issuer}
    provider: github
    audience: {AUDIENCE}
    algorithms: [RS256, ES256]
    ca_bundle: {ca}
    server_url: https://github.com
    rules:
      - name: release builds
        ledger: release
        role: write
        claims:
          repository_id: "892345617"
          ref: [refs/heads/main, "refs/tags/v*"]
          workflow_ref: "acme/app/.github/workflows/release.yml@refs/**"
      - name: organisation reads
        ledger: default
        role: read
        claims:
          repository_owner_id: 1342
"#,
        issuer = mock.issuer(),
        ca = mock.ca_bundle().display(),
    )
}

fn ledger(name: &str) -> LedgerName {
    LedgerName::new(name).unwrap()
}

fn release() -> LedgerName {
    ledger("release")
}

/// Refuses or accepts, and never quotes the token in the error.
async fn authenticate(oidc: &Oidc, token: &str, l: &LedgerName) -> Result<Role, OidcError> {
    let result = oidc.authenticate(token, l).await;
    if let Err(e) = &result {
        assert_no_token(&format!("{e} {e:?}"), token, "an error");
    }
    result.map(|id| id.role)
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn assert_known_keys(context: &BTreeMap<String, String>) {
    for k in context.keys() {
        assert!(
            CI_KEYS.contains(&k.as_str()) || NEW_CI_KEYS.contains(&k.as_str()),
            "context key {k} is in neither CI_KEYS nor NEW_CI_KEYS"
        );
    }
}

#[tokio::test]
async fn github_token_yields_identity_rule_and_context() {
    let (logs, _guard) = Logs::capture();
    let mock = MockIssuer::start();
    let (oidc, clock) = verifier(&github_config(&mock));
    let claims = mock.github_claims(AUDIENCE);
    let token = mock.mint(&mock.current_kid(), &claims);

    let id = oidc.authenticate(&token, &release()).await.unwrap();
    assert_eq!(
        id.signer,
        signer_id(mock.issuer(), "repo:acme/app:ref:refs/heads/main")
    );
    assert!(id.signer.starts_with("oidc:") && id.signer.len() == 37);
    assert_eq!((id.role, id.rule.as_str()), (Role::Write, "release builds"));
    assert_eq!(
        (id.provider, id.ledger.as_str()),
        (Provider::Github, "release")
    );
    assert_eq!(id.expires_at, claims["exp"].as_i64().unwrap());
    let workflow_ref = "acme/app/.github/workflows/release.yml@refs/heads/main";
    assert_eq!(
        id.context,
        map(&[
            ("provider", "github"),
            ("issuer", mock.issuer()),
            ("subject", "repo:acme/app:ref:refs/heads/main"),
            ("server_url", "https://github.com"),
            ("repository", "acme/app"),
            ("repository_id", "892345617"),
            ("repository_owner", "acme"),
            ("repository_owner_id", "1342"),
            ("commit", "b8962f4eaff8e14fc646cb22c596c81e67d71362"),
            ("ref", "refs/heads/main"),
            ("ref_type", "branch"),
            ("ref_protected", "true"),
            ("workflow", "release"),
            ("workflow_ref", workflow_ref),
            ("job_workflow_ref", workflow_ref),
            ("run_id", "32291736541"),
            ("run_attempt", "1"),
            (
                "run_url",
                "https://github.com/acme/app/actions/runs/32291736541"
            ),
            ("actor", "octocat"),
            ("event_name", "push"),
            ("runner_environment", "github-hosted"),
        ])
    );
    assert_known_keys(&id.context);

    // The second rule: any repository of owner 1342 reads `default`; it cannot write there.
    let mut other = claims.clone();
    other["repository_id"] = json!("555");
    other["sub"] = json!("repo:acme/other:ref:refs/heads/dev");
    let other = mock.mint(&mock.current_kid(), &other);
    assert_eq!(
        authenticate(&oidc, &other, &ledger("default")).await,
        Ok(Role::Read)
    );
    let e = authenticate(&oidc, &other, &release()).await.unwrap_err();
    assert_eq!(
        (e.code(), e.class()),
        ("oidc_no_rule_matches", ErrorClass::Forbidden)
    );
    // A tag matches the ref pattern; an ES256 key of the same issuer verifies too.
    let es = mock.add_key(Alg::Es256);
    let mut tag = claims.clone();
    tag["ref"] = json!("refs/tags/v2.1.0");
    let tag = mock.mint(&es, &tag);
    // The ES256 key is new: the cache is fresh but the kid unknown, and the last fetch is
    // too recent to fetch again.
    assert_eq!(
        authenticate(&oidc, &tag, &release())
            .await
            .unwrap_err()
            .code(),
        "token_kid_unknown"
    );
    // One fetch so far: the first token's. Once the refresh interval has passed, the new key
    // is fetched and the tag's token is accepted.
    assert_eq!(mock.jwks_fetches(), 1);
    clock.advance(Duration::from_secs(30));
    assert_eq!(authenticate(&oidc, &tag, &release()).await, Ok(Role::Write));
    assert_eq!(mock.jwks_fetches(), 2);
    logs.assert_no_tokens(&[token, other, tag]);
}

#[tokio::test]
async fn gitlab_token_es256_from_a_self_managed_instance() {
    let (logs, _guard) = Logs::capture();
    let mock = MockIssuer::start();
    let kid = mock.rotate(Alg::Es256);
    let (oidc, _) = verifier(&format!(
        r#"
issuers:
  - issuer: {issuer}
    provider: gitlab
    audience: {AUDIENCE}
    algorithms: [ES256]
    ca_bundle: {ca}
    rules:
      - name: protected main of project 20
        ledger: release
        role: write
        claims:
          project_id: "20"
          ref_protected: true
          ref_type: branch
          ref: main
"#,
        issuer = mock.issuer(),
        ca = mock.ca_bundle().display(),
    ));
    let claims = mock.gitlab_claims(AUDIENCE);
    let token = mock.mint(&kid, &claims);
    let id = oidc.authenticate(&token, &release()).await.unwrap();
    let host = mock.issuer().trim_start_matches("https://");
    let workflow_ref = format!("{host}/acme/app//.gitlab-ci.yml@refs/heads/main");
    assert_eq!(
        id.signer,
        signer_id(
            mock.issuer(),
            "project_path:acme/app:ref_type:branch:ref:main"
        )
    );
    assert_eq!(
        (id.role, id.rule.as_str()),
        (Role::Write, "protected main of project 20")
    );
    assert_eq!(
        id.context,
        map(&[
            ("provider", "gitlab"),
            ("issuer", mock.issuer()),
            ("subject", "project_path:acme/app:ref_type:branch:ref:main"),
            ("server_url", mock.issuer()),
            ("repository", "acme/app"),
            ("repository_id", "20"),
            ("repository_owner", "acme"),
            ("repository_owner_id", "72"),
            ("commit", "714a629c0b401fdce83e847fc9589983fc6f46bc"),
            ("ref", "refs/heads/main"),
            ("ref_type", "branch"),
            ("ref_protected", "true"),
            ("workflow_ref", &workflow_ref),
            ("pipeline_id", "574"),
            (
                "pipeline_url",
                &format!("{}/acme/app/-/pipelines/574", mock.issuer())
            ),
            ("run_id", "302"),
            ("run_url", &format!("{}/acme/app/-/jobs/302", mock.issuer())),
            ("actor", "sample-user"),
            ("event_name", "push"),
            ("environment", "production"),
            ("runner_environment", "self-hosted"),
        ])
    );
    assert_known_keys(&id.context);
    // An unprotected branch of the same project matches no rule.
    let mut feature = claims.clone();
    feature["ref"] = json!("feature");
    feature["ref_protected"] = json!("false");
    let feature = mock.mint(&kid, &feature);
    assert_eq!(
        authenticate(&oidc, &feature, &release())
            .await
            .unwrap_err()
            .code(),
        "oidc_no_rule_matches"
    );
    logs.assert_no_tokens(&[token, feature]);
}

#[tokio::test]
async fn jenkins_token_eddsa_under_an_issuer_path() {
    let (logs, _guard) = Logs::capture();
    let mock = MockIssuer::start_at("/oidc");
    let kid = mock.rotate(Alg::EdDsa);
    assert!(mock.issuer().ends_with("/oidc"));
    let (oidc, _) = verifier(&format!(
        r#"
issuers:
  - issuer: {issuer}
    provider: jenkins
    audience: {AUDIENCE}
    algorithms: [EdDSA]
    ca_bundle: {ca}
    rules:
      - ledger: release
        role: write
        claims:
          sub: "https://jenkins.example.com/job/acme/job/app/**"
"#,
        issuer = mock.issuer(),
        ca = mock.ca_bundle().display(),
    ));
    let token = mock.mint(&kid, &mock.jenkins_claims(AUDIENCE));
    let id = oidc.authenticate(&token, &release()).await.unwrap();
    let job = "https://jenkins.example.com/job/acme/job/app/job/main/";
    assert_eq!((id.role, id.rule.as_str()), (Role::Write, "rule 1"));
    assert_eq!(
        id.context,
        map(&[
            ("provider", "jenkins"),
            ("issuer", mock.issuer()),
            ("subject", job),
            ("workflow", job),
            ("run_id", "42"),
            ("run_url", &format!("{job}42/")),
            // The credentials in GIT_URL are not recorded.
            ("repository", "https://git.example.com/acme/app.git"),
            ("commit", "0fffdd6505a3f5f573e34338cb9eac1211bace14"),
            ("ref", "main"),
        ])
    );
    assert_known_keys(&id.context);
    assert!(!logs.text().contains("ghp_secret"));
    logs.assert_no_tokens(&[token]);
}

/// Claims edited from a good GitHub token's: `null` removes the claim.
fn edit(mut claims: Value, edits: &[(&str, Value)]) -> Value {
    for (k, v) in edits {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(*k);
        } else {
            claims[*k] = v.clone();
        }
    }
    claims
}

#[tokio::test]
async fn bad_tokens_are_refused_each_with_its_code() {
    let (logs, _guard) = Logs::capture();
    let mock = MockIssuer::start();
    let stranger = MockIssuer::start();
    let (oidc, _) = verifier(&github_config(&mock));
    let rsa = mock.current_kid();
    let es = mock.add_key(Alg::Es256);
    let ed = mock.add_key(Alg::EdDsa);
    let unpublished = mock.add_unpublished_key(Alg::Rs256);
    let good = mock.github_claims(AUDIENCE);
    let now = now();
    let good_token = mock.mint(&rsa, &good);
    // Warm the cache so that every key above is known.
    assert_eq!(
        authenticate(&oidc, &good_token, &release()).await,
        Ok(Role::Write)
    );

    let flip = |t: &str| {
        let (rest, sig) = t.rsplit_once('.').unwrap();
        let mut bytes = base64_decode(sig);
        bytes[10] ^= 1;
        format!("{rest}.{}", b64(&bytes))
    };
    let resign_payload = |t: &str, claims: &Value| {
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        parts[1] = b64(claims.to_string().as_bytes());
        parts.join(".")
    };
    let (h, p, s) = {
        let v: Vec<&str> = good_token.split('.').collect();
        (v[0].to_owned(), v[1].to_owned(), v[2].to_owned())
    };
    let public_key_bytes = mock.jwk(&rsa).to_string();
    let big = edit(good.clone(), &[("padding", json!("x".repeat(9000)))]);

    let cases: Vec<(&str, String, &str)> = vec![
        ("empty", String::new(), "token_malformed"),
        ("one segment", "notajwt".into(), "token_malformed"),
        ("two segments", format!("{h}.{p}"), "token_malformed"),
        (
            "four segments",
            format!("{h}.{p}.{s}.{s}"),
            "token_malformed",
        ),
        (
            "five segments (JWE)",
            format!("{h}.{p}.{s}.{s}.{s}"),
            "token_malformed",
        ),
        ("not base64url", format!("{h}.{p}+/.{s}"), "token_malformed"),
        (
            "padded signature",
            format!("{h}.{p}.{s}="),
            "token_malformed",
        ),
        (
            "header not JSON",
            format!("{}.{p}.{s}", b64(b"{alg")),
            "token_malformed",
        ),
        (
            "payload a JSON array",
            format!("{h}.{}.{s}", b64(b"[1,2]")),
            "token_malformed",
        ),
        ("no signature", format!("{h}.{p}."), "token_malformed"),
        ("oversized", mock.mint(&rsa, &big), "token_too_large"),
        ("alg none", mock.unsigned("none", &good), "token_alg_none"),
        ("alg None", mock.unsigned("None", &good), "token_alg_none"),
        (
            "HS256 keyed with the public key",
            mock.hmac("HS256", public_key_bytes.as_bytes(), &rsa, &good),
            "token_alg_hmac",
        ),
        (
            "HS512",
            mock.hmac("HS512", b"secret", &rsa, &good),
            "token_alg_hmac",
        ),
        (
            "PS256",
            mock.sign(&rsa, &json!({"alg": "PS256", "kid": rsa}), &good),
            "token_alg_unsupported",
        ),
        (
            "EdDSA not allowed for this issuer",
            mock.mint(&ed, &good),
            "token_alg_not_allowed",
        ),
        (
            "crit header",
            mock.sign(
                &rsa,
                &json!({"alg": "RS256", "kid": rsa, "crit": ["exp"], "exp": 1}),
                &good,
            ),
            "token_crit_unsupported",
        ),
        (
            "another issuer",
            stranger.mint(&stranger.current_kid(), &stranger.github_claims(AUDIENCE)),
            "token_issuer_untrusted",
        ),
        (
            "issuer with a trailing slash",
            mock.mint(
                &rsa,
                &edit(
                    good.clone(),
                    &[("iss", json!(format!("{}/", mock.issuer())))],
                ),
            ),
            "token_issuer_untrusted",
        ),
        (
            "no iss",
            mock.mint(&rsa, &edit(good.clone(), &[("iss", Value::Null)])),
            "token_claim_missing",
        ),
        (
            "no kid",
            mock.sign(&rsa, &json!({"alg": "RS256"}), &good),
            "token_kid_missing",
        ),
        (
            "unpublished key",
            mock.mint(&unpublished, &good),
            "token_kid_unknown",
        ),
        (
            "our iss, the stranger's key",
            stranger.mint(&stranger.current_kid(), &good),
            "token_kid_unknown",
        ),
        (
            "ES256 header naming the RSA key",
            mock.sign(&es, &json!({"alg": "ES256", "kid": rsa}), &good),
            "token_key_mismatch",
        ),
        (
            "RS256 header naming the ES256 key",
            mock.sign(&rsa, &json!({"alg": "RS256", "kid": es}), &good),
            "token_key_mismatch",
        ),
        (
            "published kid, unpublished key's signature",
            mock.sign(&unpublished, &json!({"alg": "RS256", "kid": rsa}), &good),
            "token_signature_invalid",
        ),
        (
            "flipped signature bit",
            flip(&good_token),
            "token_signature_invalid",
        ),
        (
            "payload changed after signing",
            resign_payload(
                &good_token,
                &edit(good.clone(), &[("repository_id", json!("1"))]),
            ),
            "token_signature_invalid",
        ),
        (
            "expired beyond the leeway",
            mock.mint(
                &rsa,
                &edit(
                    good.clone(),
                    &[
                        ("exp", json!(now - 120)),
                        ("iat", json!(now - 420)),
                        ("nbf", json!(now - 720)),
                    ],
                ),
            ),
            "token_expired",
        ),
        (
            "nbf beyond the leeway",
            mock.mint(&rsa, &edit(good.clone(), &[("nbf", json!(now + 120))])),
            "token_not_yet_valid",
        ),
        (
            "issued in the future",
            mock.mint(
                &rsa,
                &edit(
                    good.clone(),
                    &[("iat", json!(now + 3600)), ("exp", json!(now + 3900))],
                ),
            ),
            "token_not_yet_valid",
        ),
        (
            "another audience",
            mock.mint(
                &rsa,
                &edit(good.clone(), &[("aud", json!("https://github.com/acme"))]),
            ),
            "token_audience_mismatch",
        ),
        (
            "audience list without ours",
            mock.mint(&rsa, &edit(good.clone(), &[("aud", json!(["a", "b"]))])),
            "token_audience_mismatch",
        ),
        (
            "no aud",
            mock.mint(&rsa, &edit(good.clone(), &[("aud", Value::Null)])),
            "token_claim_missing",
        ),
        (
            "no exp",
            mock.mint(&rsa, &edit(good.clone(), &[("exp", Value::Null)])),
            "token_claim_missing",
        ),
        (
            "exp as a string (CVE-2026-25537)",
            mock.mint(&rsa, &edit(good.clone(), &[("exp", json!("99999999999"))])),
            "token_claim_invalid",
        ),
        (
            "nbf as a string far ahead",
            mock.mint(&rsa, &edit(good.clone(), &[("nbf", json!("99999999999"))])),
            "token_claim_invalid",
        ),
        (
            "no sub",
            mock.mint(&rsa, &edit(good.clone(), &[("sub", Value::Null)])),
            "token_claim_missing",
        ),
        (
            "sub a number",
            mock.mint(&rsa, &edit(good.clone(), &[("sub", json!(7))])),
            "token_claim_invalid",
        ),
        (
            "control character in a recorded claim",
            mock.mint(
                &rsa,
                &edit(good.clone(), &[("workflow", json!("release\nforged: yes"))]),
            ),
            "token_claim_invalid",
        ),
        (
            "another repository id",
            mock.mint(
                &rsa,
                &edit(
                    good.clone(),
                    &[
                        ("repository_id", json!("892345618")),
                        ("repository_owner_id", json!("9")),
                    ],
                ),
            ),
            "oidc_no_rule_matches",
        ),
        (
            "another branch",
            mock.mint(
                &rsa,
                &edit(good.clone(), &[("ref", json!("refs/heads/main-evil"))]),
            ),
            "oidc_no_rule_matches",
        ),
        (
            "the same repository's name, another id (a re-registered name)",
            mock.mint(
                &rsa,
                &edit(
                    good.clone(),
                    &[
                        ("repository_id", json!("99")),
                        ("repository_owner_id", json!("98")),
                    ],
                ),
            ),
            "oidc_no_rule_matches",
        ),
    ];
    assert!(cases.len() >= 20);
    for (name, token, code) in &cases {
        let got = authenticate(&oidc, token, &release()).await;
        assert_eq!(got.map_err(|e| e.code()), Err(*code), "{name}");
    }
    // A good token asking for a ledger no rule grants.
    let e = authenticate(&oidc, &good_token, &ledger("other"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.class()),
        ("oidc_no_rule_matches", ErrorClass::Forbidden)
    );
    // Inside the leeway (60 s) a token is still good.
    let late = mock.mint(&rsa, &edit(good.clone(), &[("exp", json!(now - 30))]));
    assert_eq!(
        authenticate(&oidc, &late, &release()).await,
        Ok(Role::Write)
    );
    // All the unknown kids above caused no fetch beyond the first one.
    assert_eq!(mock.jwks_fetches(), 1);
    let mut tokens: Vec<String> = cases.into_iter().map(|(_, t, _)| t).collect();
    tokens.extend([good_token, late]);
    logs.assert_no_tokens(&tokens);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

#[tokio::test]
async fn rotation_is_picked_up_after_the_bounded_refresh_and_unknown_kids_do_not_hammer() {
    let (logs, _guard) = Logs::capture();
    let mock = MockIssuer::start();
    let (oidc, clock) = verifier(&github_config(&mock));
    let claims = mock.github_claims(AUDIENCE);
    let old = mock.current_kid();
    let old_token = mock.mint(&old, &claims);
    assert_eq!(
        authenticate(&oidc, &old_token, &release()).await,
        Ok(Role::Write)
    );
    assert_eq!(mock.jwks_fetches(), 1);

    let new = mock.rotate(Alg::Rs256);
    let new_token = mock.mint(&new, &claims);
    // Within jwks_min_refresh (30 s) of the last fetch, the new kid is unknown and nothing is
    // fetched.
    clock.advance(Duration::from_secs(29));
    let e = authenticate(&oidc, &new_token, &release())
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.class()),
        ("token_kid_unknown", ErrorClass::Unauthenticated)
    );
    assert_eq!(mock.jwks_fetches(), 1);
    // The old key is still cached and still verifies until the next fetch.
    assert_eq!(
        authenticate(&oidc, &old_token, &release()).await,
        Ok(Role::Write)
    );
    // Once the interval has passed, one fetch brings the new key.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        authenticate(&oidc, &new_token, &release()).await,
        Ok(Role::Write)
    );
    assert_eq!(mock.jwks_fetches(), 2);
    // The withdrawn key is gone with that fetch.
    assert_eq!(
        authenticate(&oidc, &old_token, &release())
            .await
            .unwrap_err()
            .code(),
        "token_kid_unknown"
    );

    // A flood of forged kids, sequential and concurrent, costs at most one fetch per interval.
    let forged: Vec<String> = (0..40)
        .map(|i| {
            mock.sign(
                &new,
                &json!({"alg": "RS256", "kid": format!("forged-{i}")}),
                &claims,
            )
        })
        .collect();
    for t in &forged[..20] {
        assert_eq!(
            authenticate(&oidc, t, &release()).await.unwrap_err().code(),
            "token_kid_unknown"
        );
    }
    assert_eq!(mock.jwks_fetches(), 2);
    clock.advance(Duration::from_secs(30));
    let mut set = tokio::task::JoinSet::new();
    let concurrent: Vec<String> = forged[20..].to_vec();
    for t in concurrent {
        let oidc = oidc.clone();
        set.spawn(async move {
            oidc.authenticate(&t, &release())
                .await
                .map_err(|e| e.code())
        });
    }
    while let Some(r) = set.join_next().await {
        assert_eq!(r.unwrap().map(|id| id.role), Err("token_kid_unknown"));
    }
    assert_eq!(mock.jwks_fetches(), 3, "concurrent misses share one fetch");
    // The good token never waits for a fetch.
    assert_eq!(
        authenticate(&oidc, &new_token, &release()).await,
        Ok(Role::Write)
    );
    assert_eq!(mock.jwks_fetches(), 3);

    // After jwks_cache_seconds (600) the keys are fetched again even for a known kid.
    clock.advance(Duration::from_secs(600));
    let fresh = mock.mint(&new, &mock.github_claims(AUDIENCE));
    let mut shifted = mock.github_claims(AUDIENCE);
    // The clock moved 11 minutes; so does this token's validity.
    for k in ["iat", "nbf", "exp"] {
        shifted[k] = json!(shifted[k].as_i64().unwrap() + 660);
    }
    let shifted = mock.mint(&new, &shifted);
    assert_eq!(
        authenticate(&oidc, &shifted, &release()).await,
        Ok(Role::Write)
    );
    assert_eq!(mock.jwks_fetches(), 4);
    // ... and tokens minted 11 minutes "ago" have expired.
    assert_eq!(
        authenticate(&oidc, &fresh, &release())
            .await
            .unwrap_err()
            .code(),
        "token_expired"
    );
    let mut tokens = forged;
    tokens.extend([old_token, new_token, fresh, shifted]);
    logs.assert_no_tokens(&tokens);
}

#[tokio::test]
async fn an_unreachable_issuer_fails_closed_without_hammering() {
    let (logs, _guard) = Logs::capture();
    let mock = MockIssuer::start();
    let (oidc, clock) = verifier(&github_config(&mock));
    let token = mock.mint(&mock.current_kid(), &mock.github_claims(AUDIENCE));

    // Never reached: nothing cached, so nothing verifies.
    mock.set_reachable(false);
    let e = authenticate(&oidc, &token, &release()).await.unwrap_err();
    assert_eq!(
        (e.code(), e.class()),
        ("oidc_issuer_unavailable", ErrorClass::Unavailable)
    );
    let attempts = mock.requests().len();
    assert!(attempts >= 1, "the verifier tried: {:?}", mock.requests());
    // A failed fetch is not retried within the interval.
    for _ in 0..10 {
        assert_eq!(
            authenticate(&oidc, &token, &release())
                .await
                .unwrap_err()
                .code(),
            "oidc_issuer_unavailable"
        );
    }
    assert_eq!(mock.requests().len(), attempts);
    // Malformed tokens never need the issuer: they keep their own codes.
    assert_eq!(
        authenticate(&oidc, "a.b", &release())
            .await
            .unwrap_err()
            .code(),
        "token_malformed"
    );

    // Back: after the interval, one fetch and the token verifies.
    mock.set_reachable(true);
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        authenticate(&oidc, &token, &release()).await,
        Ok(Role::Write)
    );
    assert_eq!(mock.jwks_fetches(), 1);

    // Down again: fresh cached keys keep verifying known kids ...
    mock.set_reachable(false);
    clock.advance(Duration::from_secs(100));
    assert_eq!(
        authenticate(&oidc, &token, &release()).await,
        Ok(Role::Write)
    );
    // ... but an unknown kid cannot be checked: unavailable, not "unknown".
    let unknown = mock.mint(
        &mock.add_unpublished_key(Alg::Es256),
        &mock.github_claims(AUDIENCE),
    );
    assert_eq!(
        authenticate(&oidc, &unknown, &release())
            .await
            .unwrap_err()
            .code(),
        "oidc_issuer_unavailable"
    );
    // Once the cache is old, nothing verifies until the issuer answers.
    clock.advance(Duration::from_secs(600));
    let mut late = mock.github_claims(AUDIENCE);
    for k in ["iat", "nbf", "exp"] {
        late[k] = json!(late[k].as_i64().unwrap() + 700);
    }
    let late = mock.mint(&mock.current_kid(), &late);
    assert_eq!(
        authenticate(&oidc, &late, &release())
            .await
            .unwrap_err()
            .code(),
        "oidc_issuer_unavailable"
    );

    // Errors answered by the issuer are failures too.
    mock.set_reachable(true);
    mock.set_failing(Some(500));
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        authenticate(&oidc, &late, &release())
            .await
            .unwrap_err()
            .code(),
        "oidc_issuer_unavailable"
    );
    mock.set_failing(None);
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        authenticate(&oidc, &late, &release()).await,
        Ok(Role::Write)
    );
    let text = logs.text();
    assert!(
        text.contains("cannot fetch the issuer's signing keys"),
        "{text}"
    );
    logs.assert_no_tokens(&[token, unknown, late]);
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_is_refused() {
    let (logs, _guard) = Logs::capture();
    let mock = MockIssuer::start();
    let (oidc, clock) = verifier(&github_config(&mock));
    let token = mock.mint(&mock.current_kid(), &mock.github_claims(AUDIENCE));
    // OIDC Discovery §4.3: the keys of a document that names another issuer are not used.
    mock.set_discovery_issuer(Some("https://token.actions.githubusercontent.com"));
    assert_eq!(
        authenticate(&oidc, &token, &release())
            .await
            .unwrap_err()
            .code(),
        "oidc_issuer_unavailable"
    );
    assert_eq!(mock.jwks_fetches(), 0);
    assert!(logs.text().contains("names issuer"), "{}", logs.text());
    mock.set_discovery_issuer(None);
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        authenticate(&oidc, &token, &release()).await,
        Ok(Role::Write)
    );
    logs.assert_no_tokens(&[token]);
}

#[tokio::test]
async fn the_token_request_endpoint_mints_what_the_verifier_accepts() {
    let (logs, _guard) = Logs::capture();
    let mock = MockIssuer::start();
    let (oidc, _) = verifier(&github_config(&mock));
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(mock.ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = format!("{}&audience={}", mock.id_token_request_url(), AUDIENCE);
    let answer: Value = client
        .get(&url)
        .header(
            "Authorization",
            format!("bearer {}", mock.id_token_request_token()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = answer["value"].as_str().unwrap().to_owned();
    let id = oidc.authenticate(&token, &release()).await.unwrap();
    assert_eq!(id.context["repository_id"], "892345617");

    // Over plain HTTP too, for runners without the CA; the default audience is GitHub's.
    let plain: Value = reqwest::Client::new()
        .get(mock.id_token_request_url_http())
        .header(
            "Authorization",
            format!("Bearer {}", mock.id_token_request_token()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let plain = plain["value"].as_str().unwrap().to_owned();
    assert_eq!(
        authenticate(&oidc, &plain, &release())
            .await
            .unwrap_err()
            .code(),
        "token_audience_mismatch"
    );
    // Without the request token: 401.
    let denied = client.get(&url).send().await.unwrap();
    assert_eq!(denied.status(), reqwest::StatusCode::UNAUTHORIZED);
    let wrong = client.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), reqwest::StatusCode::UNAUTHORIZED);
    // HTTPS with the system roots only: the mock's CA is not trusted.
    assert!(reqwest::Client::new().get(&url).send().await.is_err());
    logs.assert_no_tokens(&[token, plain]);
}

/// Every complete `oidc:` example of `docs/oidc.md` is a configuration the server accepts (its
/// CA bundle paths replaced by a real bundle), and its patterns match what they promise.
#[test]
fn the_documented_examples_are_valid_configurations() {
    #[derive(serde::Deserialize)]
    struct File {
        oidc: RawOidc,
    }
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/oidc.md"),
    )
    .unwrap();
    let mock = MockIssuer::start();
    let mut checked = 0;
    for block in doc.split("```yaml\n").skip(1) {
        let yaml = block.split("```").next().unwrap();
        if !yaml.starts_with("oidc:\n  issuers:") || yaml.contains("[...]") {
            continue;
        }
        let yaml = yaml
            .lines()
            .map(|l| match l.split_once("ca_bundle: ") {
                Some((indent, _)) => format!("{indent}ca_bundle: {}", mock.ca_bundle().display()),
                None => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let file: File = yaml_serde::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let config = OidcConfig::from_raw(file.oidc).unwrap_or_else(|e| panic!("{e:#}\n{yaml}"));
        let rules = &config.issuers[0].rules;
        // A token each example's first rule is written for, from the mock's realistic claims.
        let wf = "acme/app/.github/workflows/release.yml@refs/tags/v1.4.0";
        let claims = match checked {
            0 => edit(
                mock.github_claims(AUDIENCE),
                &[
                    ("ref", json!("refs/tags/v1.4.0")),
                    ("workflow_ref", json!(wf)),
                ],
            ),
            1 => edit(mock.gitlab_claims(AUDIENCE), &[("ref_type", json!("tag"))]),
            2 => edit(
                mock.gitlab_claims(AUDIENCE),
                &[("namespace_id", json!("7"))],
            ),
            _ => mock.jenkins_claims(AUDIENCE),
        };
        let claims = claims.as_object().unwrap();
        assert!(
            rules[0].matches(claims),
            "example {checked}: {}",
            rules[0].name
        );
        let mut moved = claims.clone();
        for id in ["repository_id", "project_id", "namespace_id"] {
            moved.insert(id.into(), json!("1"));
        }
        moved.insert(
            "sub".into(),
            json!("https://jenkins.example.com/job/other/"),
        );
        assert!(
            !rules[0].matches(&moved),
            "example {checked} matches another project"
        );
        checked += 1;
    }
    assert_eq!(
        checked, 4,
        "GitHub.com, GitLab.com, self-managed GitLab, Jenkins"
    );
}

#[tokio::test]
async fn warming_fetches_each_issuer_once_and_tolerates_an_outage() {
    let (logs, _guard) = Logs::capture();
    let up = MockIssuer::start();
    let down = MockIssuer::start();
    down.set_reachable(false);
    let yaml = format!(
        "{}{}",
        github_config(&up),
        github_config(&down).replacen("issuers:\n", "", 1)
    );
    let (oidc, _) = verifier(&yaml);
    oidc.warm().await;
    assert_eq!((up.jwks_fetches(), down.jwks_fetches()), (1, 0));
    assert!(
        logs.text().contains("not reachable at start-up"),
        "{}",
        logs.text()
    );
    // Warm keys serve the first token without a fetch; the unreachable issuer fails closed.
    let token = up.mint(&up.current_kid(), &up.github_claims(AUDIENCE));
    assert_eq!(
        authenticate(&oidc, &token, &release()).await,
        Ok(Role::Write)
    );
    assert_eq!(up.jwks_fetches(), 1);
    let other = down.mint(&down.current_kid(), &down.github_claims(AUDIENCE));
    assert_eq!(
        authenticate(&oidc, &other, &release())
            .await
            .unwrap_err()
            .code(),
        "oidc_issuer_unavailable"
    );
    oidc.warm().await;
    assert_eq!(up.jwks_fetches(), 1, "fresh keys are not fetched again");
    logs.assert_no_tokens(&[token, other]);
}
