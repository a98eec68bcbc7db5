//! `notarium-github` against a local server speaking the GitHub REST endpoints it uses (under
//! the GitHub Enterprise Server prefix `/api/v3`, as `GITHUB_API_URL` gives it) and a real
//! `notariumd`: every asset of a release notarized then authenticated (including a replaced
//! asset, a paged asset list, a lying ledger), commit statuses from the CLI's JSON, and the
//! exit codes of GitHub's failures. The token goes only to the API host, never to the storage
//! host the downloads are redirected to, and is never printed. Keyless: the job's OIDC ID
//! token (GitHub's token endpoint served by the mock issuer) as the ledger credential, and the
//! `--signer-*` policy on release assets.

use notarium_core::entry::oidc_signer_id;
use notarium_core::Sha256;
use notarium_e2e::github::{notarium_github, MockGitHub, Recorded};
use notarium_e2e::oidc::{assert_no_token, issuer_config, MockIssuer};
use notarium_e2e::proxy::{Proxy, Route};
use notarium_e2e::{Run, Setup};
use serde_json::{json, Value};

const REPO: &str = "acme/app";
const TOKEN: &str = "ghs_e2eTokenThatMustNeverBePrinted";

/// The environment of a GitHub Actions job talking to `gh` and to `server` with `api_key`,
/// keeping its verified state in `state`.
fn env(
    gh: &MockGitHub,
    server: &str,
    api_key: &str,
    state: &std::path::Path,
) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_TOKEN", TOKEN.to_owned()),
        ("GITHUB_REPOSITORY", REPO.to_owned()),
        ("GITHUB_API_URL", gh.api_url().to_owned()),
        ("GITHUB_ACTIONS", "true".to_owned()),
        ("GITHUB_SERVER_URL", "https://ghe.example".to_owned()),
        ("GITHUB_RUN_ID", "4242".to_owned()),
        (
            "GITHUB_SHA",
            "0123456789abcdef0123456789abcdef01234567".to_owned(),
        ),
        ("NOTARIUM_SERVER", server.to_owned()),
        ("NOTARIUM_API_KEY", api_key.to_owned()),
        ("NOTARIUM_STATE_DIR", state.display().to_string()),
    ]
}

fn no_token_printed(run: &Run) {
    assert!(
        !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
        "the GitHub token was printed: {run}"
    );
}

/// Every API request carried the token, and no storage request did.
fn token_only_to_the_api(requests: &[Recorded]) {
    assert!(!requests.is_empty());
    for r in requests {
        match r.host {
            "api" => assert_eq!(
                r.authorization.as_deref(),
                Some(format!("Bearer {TOKEN}").as_str()),
                "{r:?}"
            ),
            _ => assert_eq!(
                r.authorization, None,
                "the token went to the storage host: {r:?}"
            ),
        }
    }
}

/// (subject, status, sha256) of each result.
fn results(run: &Run) -> Vec<(String, String, String)> {
    run.results()
        .iter()
        .map(|r| {
            (
                r["subject"].as_str().unwrap_or_default().to_owned(),
                r["status"].as_str().unwrap_or_default().to_owned(),
                r["sha256"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn sha(bytes: &[u8]) -> String {
    Sha256::of(bytes).to_hex()
}

#[test]
fn release_assets_notarized_then_authenticated() {
    let s = Setup::new();
    let gh = MockGitHub::start(REPO, TOKEN);
    let assets: [(&str, &[u8]); 3] = [
        ("app-1.0-x86_64-linux.tar.gz", b"linux build\n"),
        ("app-1.0-aarch64-macos.tar.gz", b"macos build\n"),
        ("SHA256SUMS", b"sums\n"),
    ];
    gh.add_release("v1.0", &assets);
    let state = tempfile::tempdir().expect("temporary directory");
    let receipts = tempfile::tempdir().expect("temporary directory");
    let env = env(&gh, s.server.url(), &s.writer.secret, state.path());

    let run = notarium_github(
        &[
            "release",
            "notarize",
            "--tag",
            "v1.0",
            "--ci",
            "--attr",
            "channel=stable",
            "--receipts",
            &receipts.path().display().to_string(),
            "--output",
            "json",
        ],
        &env,
        b"",
    );
    run.expect_code(0);
    no_token_printed(&run);
    let expected: Vec<(String, String, String)> = assets
        .iter()
        .map(|(n, b)| ((*n).to_owned(), "trusted".to_owned(), sha(b)))
        .collect();
    assert_eq!(results(&run), expected);
    let doc = run.json();
    assert_eq!(doc["release"]["tag"], json!("v1.0"));
    for r in run.results() {
        assert_eq!(r["reason"], json!("notarized"));
        assert_eq!(r["signer"], json!(s.writer.id));
    }

    // The receipts verify offline, and record the release, the attribute and the CI run.
    let receipt_path = receipts.path().join("SHA256SUMS.receipt.json");
    let receipt: Value =
        serde_json::from_str(&std::fs::read_to_string(&receipt_path).expect("a receipt"))
            .expect("JSON");
    assert_eq!(
        receipt["entry"]["attributes"],
        json!({ "channel": "stable", "release_tag": "v1.0" })
    );
    assert_eq!(receipt["entry"]["ci"]["provider"], json!("github"));
    assert_eq!(
        receipt["entry"]["ci"]["run_url"],
        json!("https://ghe.example/acme/app/actions/runs/4242")
    );
    assert!(receipts.path().join("SHA256SUMS.tlog-proof").is_file());
    s.server
        .cli()
        .run([
            "verify-receipt",
            &receipt_path.display().to_string(),
            "--verifier-key",
            &s.server.verifier_key(),
        ])
        .expect_code(0);

    // What went over the wire: the GHES prefix, the token only to the API, downloads as
    // octet-stream redirected to the storage host.
    let requests = gh.requests();
    token_only_to_the_api(&requests);
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths[0], "/api/v3/repos/acme/app/releases/tags/v1.0");
    assert!(
        paths[1].starts_with("/api/v3/repos/acme/app/releases/"),
        "{paths:?}"
    );
    assert!(
        paths[1].contains("/assets?per_page=100&page=1"),
        "{paths:?}"
    );
    let downloads: Vec<&Recorded> = requests
        .iter()
        .filter(|r| {
            r.path
                .starts_with("/api/v3/repos/acme/app/releases/assets/")
        })
        .collect();
    assert_eq!(downloads.len(), 3);
    assert!(downloads
        .iter()
        .all(|r| r.accept.as_deref() == Some("application/octet-stream")));
    assert_eq!(requests.iter().filter(|r| r.host == "storage").count(), 3);

    // A later job authenticates the release: all trusted, the CLI agrees on the same bytes.
    let run = notarium_github(
        &[
            "release",
            "authenticate",
            "--tag",
            "v1.0",
            "--signer",
            &s.writer.id,
            "--output",
            "json",
        ],
        &env,
        b"",
    );
    run.expect_code(0);
    assert_eq!(results(&run), expected);
    s.work.write("SHA256SUMS", b"sums\n");
    s.cli.run(["authenticate", "SHA256SUMS"]).expect_code(0);

    // The macOS asset is replaced on GitHub: unknown, exit 2; the others stay trusted.
    gh.edit_asset("v1.0", "app-1.0-aarch64-macos.tar.gz", |a| {
        a.bytes = b"macos build with a backdoor\n".to_vec();
    });
    let run = notarium_github(
        &[
            "release",
            "authenticate",
            "--tag",
            "v1.0",
            "--output",
            "json",
        ],
        &env,
        b"",
    );
    run.expect_code(2);
    let statuses: Vec<(String, String)> = results(&run)
        .into_iter()
        .map(|(n, st, _)| (n, st))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (
                "app-1.0-x86_64-linux.tar.gz".to_owned(),
                "trusted".to_owned()
            ),
            (
                "app-1.0-aarch64-macos.tar.gz".to_owned(),
                "unknown".to_owned()
            ),
            ("SHA256SUMS".to_owned(), "trusted".to_owned()),
        ]
    );

    // The asset is put back, and the Linux build is marked untrusted on the ledger: exit 1.
    gh.edit_asset("v1.0", "app-1.0-aarch64-macos.tar.gz", |a| {
        a.bytes = b"macos build\n".to_vec();
    });
    s.work.write("linux", b"linux build\n");
    s.cli.run(["untrust", "linux"]).expect_code(0);
    let run = notarium_github(&["release", "authenticate", "--tag", "v1.0"], &env, b"");
    run.expect_code(1);
    no_token_printed(&run);
}

#[test]
fn a_release_with_many_assets_is_read_page_by_page() {
    let s = Setup::new();
    let gh = MockGitHub::start(REPO, TOKEN);
    let bodies: Vec<(String, Vec<u8>)> = (0..105)
        .map(|i| {
            (
                format!("part-{i:03}.bin"),
                format!("part {i}\n").into_bytes(),
            )
        })
        .collect();
    let assets: Vec<(&str, &[u8])> = bodies
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    // A tag with a slash and a plus, as release tags may have.
    gh.add_release("release/2026+1", &assets);
    let state = tempfile::tempdir().expect("temporary directory");
    let env = env(&gh, s.server.url(), &s.writer.secret, state.path());
    let run = notarium_github(
        &[
            "release",
            "notarize",
            "--tag",
            "release/2026+1",
            "--output",
            "json",
        ],
        &env,
        b"",
    );
    run.expect_code(0);
    assert_eq!(run.results().len(), 105);
    let requests = gh.requests();
    assert_eq!(
        requests[0].path,
        "/api/v3/repos/acme/app/releases/tags/release%2F2026%2B1"
    );
    let pages = requests
        .iter()
        .filter(|r| r.path.contains("/assets?per_page=100&page="))
        .count();
    assert_eq!(pages, 2, "105 assets take two pages of 100");
    let run = notarium_github(
        &["release", "authenticate", "--tag", "release/2026+1"],
        &env,
        b"",
    );
    run.expect_code(0);
}

#[test]
fn a_lying_ledger_fails_verification() {
    let s = Setup::new();
    let gh = MockGitHub::start(REPO, TOKEN);
    gh.add_release("v2", &[("a.bin", b"a\n"), ("b.bin", b"b\n")]);
    let proxy = Proxy::start(s.server.url());
    let state = tempfile::tempdir().expect("temporary directory");
    let env = env(&gh, proxy.url(), &s.writer.secret, state.path());
    notarium_github(&["release", "notarize", "--tag", "v2"], &env, b"").expect_code(0);
    // The ledger swaps a hash in an inclusion proof: not "untrusted", not retried: exit 5.
    proxy.rewrite_json(Route::BatchAuthenticate, |v| {
        let proof = v["results"][0]["receipt"]["inclusion_proof"]
            .as_array_mut()
            .expect("an inclusion proof");
        let first = proof[0].as_str().expect("hex").to_owned();
        proof[0] = json!(Sha256::of(first.as_bytes()).to_hex());
    });
    let run = notarium_github(
        &["release", "authenticate", "--tag", "v2", "--output", "json"],
        &env,
        b"",
    );
    run.expect_code(5).expect_stderr("VERIFICATION FAILED");
    assert_eq!(run.json()["reason"], json!("verification_failed"));
    proxy.pass_through();
    notarium_github(&["release", "authenticate", "--tag", "v2"], &env, b"").expect_code(0);
}

#[test]
fn commit_status_from_the_verdict() {
    let s = Setup::new();
    let gh = MockGitHub::start(REPO, TOKEN);
    let state = tempfile::tempdir().expect("temporary directory");
    let env = env(&gh, s.server.url(), &s.writer.secret, state.path());
    let commit = "0123456789abcdef0123456789abcdef01234567";

    // A deploy job's verdict: one file trusted, one unknown.
    s.work.write("good.bin", b"good\n");
    s.cli.run(["notarize", "good.bin"]).expect_code(0);
    s.work.write("evil.bin", b"evil\n");
    let verdict = s
        .cli
        .run(["authenticate", "good.bin", "evil.bin", "--output", "json"]);
    verdict.expect_code(2);
    let file = s.work.write("verdict.json", verdict.stdout.as_bytes());

    let run = notarium_github(
        &[
            "status",
            "--sha",
            commit,
            "--from-json",
            &file.display().to_string(),
        ],
        &env,
        b"",
    );
    run.expect_code(0);
    no_token_printed(&run);
    // The same document through stdin, under another context, as JSON.
    let run = notarium_github(
        &[
            "status",
            "--sha",
            commit,
            "--from-json",
            "-",
            "--context",
            "notarium/deploy",
            "--output",
            "json",
        ],
        &env,
        verdict.stdout.as_bytes(),
    );
    run.expect_code(0);
    assert_eq!(run.json()["state"], json!("failure"));
    // Given outright.
    notarium_github(
        &[
            "status",
            "--sha",
            commit,
            "--state",
            "pending",
            "--description",
            "authenticating",
            "--target-url",
            "https://ci.example/1",
        ],
        &env,
        b"",
    )
    .expect_code(0);

    let requests = gh.requests();
    token_only_to_the_api(&requests);
    let posts: Vec<&Recorded> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 3);
    for p in &posts {
        assert_eq!(p.path, format!("/api/v3/repos/acme/app/statuses/{commit}"));
    }
    let run_url = "https://ghe.example/acme/app/actions/runs/4242";
    assert_eq!(
        posts[0].json(),
        json!({ "state": "failure", "context": "notarium", "target_url": run_url,
                "description": "notarium: 1 unknown, 1 trusted (evil.bin is unknown)" })
    );
    assert_eq!(posts[1].json()["context"], json!("notarium/deploy"));
    assert_eq!(
        posts[2].json(),
        json!({ "state": "pending", "context": "notarium", "description": "authenticating",
                "target_url": "https://ci.example/1" })
    );

    // A tampering verdict is a failure too; an unreachable server's is an error.
    for (doc, state) in [
        (
            json!({ "exit_code": 5, "error": "verification failed: rollback", "reason": "verification_failed" }),
            "failure",
        ),
        (
            json!({ "exit_code": 6, "error": "cannot reach", "reason": "server_unreachable" }),
            "error",
        ),
    ] {
        gh.clear_requests();
        notarium_github(
            &["status", "--sha", commit, "--from-json", "-"],
            &env,
            doc.to_string().as_bytes(),
        )
        .expect_code(0);
        assert_eq!(gh.requests()[0].json()["state"], json!(state));
    }
}

#[test]
fn github_failures_have_exit_codes() {
    let s = Setup::new();
    let gh = MockGitHub::start(REPO, TOKEN);
    gh.add_release("v1", &[("a.bin", b"a\n")]);
    let state = tempfile::tempdir().expect("temporary directory");
    let env = env(&gh, s.server.url(), &s.writer.secret, state.path());
    let with = |k: &'static str, v: &str| {
        let mut e = env.clone();
        e.retain(|(key, _)| *key != k);
        e.push((k, v.to_owned()));
        e
    };

    // No such release: the caller's mistake, 64.
    notarium_github(&["release", "authenticate", "--tag", "v9"], &env, b"")
        .expect_code(64)
        .expect_stderr("404");
    // A bad token: 7 (unauthorized), and the bad token is not printed either.
    let run = notarium_github(
        &["release", "authenticate", "--tag", "v1"],
        &with("GITHUB_TOKEN", "ghs_wrong"),
        b"",
    );
    run.expect_code(7).expect_stderr("401");
    assert!(!run.stderr.contains("ghs_wrong"));
    // GitHub failing (502) or unreachable: 6, as an unreachable ledger.
    gh.fail_tag("v1");
    notarium_github(&["release", "authenticate", "--tag", "v1"], &env, b"")
        .expect_code(6)
        .expect_stderr("502");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/api/v3", l.local_addr().expect("address"))
    };
    notarium_github(
        &["release", "authenticate", "--tag", "v1"],
        &with("GITHUB_API_URL", &closed),
        b"",
    )
    .expect_code(6);

    // GitHub's own digest disagrees with the bytes served: refused, 6, nothing notarized.
    gh.add_release("v3", &[("b.bin", b"b\n")]);
    gh.edit_asset("v3", "b.bin", |a| {
        a.digest = Some(format!("sha256:{}", sha(b"other\n")))
    });
    notarium_github(&["release", "notarize", "--tag", "v3"], &env, b"")
        .expect_code(6)
        .expect_stderr("digest");
    gh.edit_asset("v3", "b.bin", |a| {
        a.digest = Some(format!("sha256:{}", sha(b"b\n")))
    });
    notarium_github(&["release", "notarize", "--tag", "v3"], &env, b"").expect_code(0);
    // An empty release: nothing to do, 64.
    gh.add_release("empty", &[]);
    notarium_github(&["release", "notarize", "--tag", "empty"], &env, b"")
        .expect_code(64)
        .expect_stderr("no assets");
}

/// The audience the server expects in the keyless test.
const AUDIENCE: &str = "notarium-release";

/// `release notarize` in a job that may request an OIDC ID token: `notarium-github` requests
/// it (once, for `NOTARIUM_OIDC_AUDIENCE`, after the assets are hashed) and notarizes with it
/// instead of the API key, so the entries carry the verified identity. `release authenticate`
/// takes the `--signer-*` policy: matched, trusted; not matched, `signer_mismatch` (exit 8),
/// which a commit status reports as a failure. `--oidc false`, or no token offered, falls back
/// to the API key; a token request the endpoint refuses is exit 7. No token is printed.
#[test]
fn keyless_release_notarize_and_signer_policy() {
    let mock = MockIssuer::start();
    let s = Setup::with_config(&issuer_config(
        &mock,
        "github",
        AUDIENCE,
        "        - ledger: default\n          role: write\n          claims:\n            repository_id: \"892345617\"\n",
    ));
    let gh = MockGitHub::start(REPO, TOKEN);
    gh.add_release(
        "v2.0",
        &[("app.tar.gz", b"app 2.0\n"), ("SHA256SUMS", b"sums 2.0\n")],
    );
    let state = tempfile::tempdir().expect("temporary directory");
    let receipts = tempfile::tempdir().expect("temporary directory");
    let mut env = env(&gh, s.server.url(), &s.writer.secret, state.path());
    env.push((
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        mock.id_token_request_url_http(),
    ));
    env.push((
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        mock.id_token_request_token().to_owned(),
    ));
    env.push(("NOTARIUM_OIDC_AUDIENCE", AUDIENCE.to_owned()));
    let no_token = |run: &Run| {
        for t in mock.issued_tokens() {
            assert_no_token(
                &format!("{}\n{}", run.stdout, run.stderr),
                &t,
                "notarium-github",
            );
        }
    };
    let identity = oidc_signer_id(mock.issuer(), "repo:acme/app:ref:refs/heads/main");

    let run = notarium_github(
        &[
            "release",
            "notarize",
            "--tag",
            "v2.0",
            "--receipts",
            &receipts.path().display().to_string(),
            "--output",
            "json",
        ],
        &env,
        b"",
    );
    run.expect_code(0).expect_stderr(&format!(
        "credential: the job's OIDC ID token (audience {AUDIENCE})"
    ));
    no_token(&run);
    assert_eq!(
        mock.requests()
            .iter()
            .filter(|r| r.contains("idtoken"))
            .collect::<Vec<_>>(),
        [&format!(
            "GET /_apis/distributedtask/idtoken audience={AUDIENCE}"
        )]
    );
    for r in run.results() {
        assert_eq!(r["signer"], json!(identity), "{r}");
        assert_eq!(r["verified_identity"]["provider"], json!("github"), "{r}");
    }
    let receipt: Value = serde_json::from_str(
        &std::fs::read_to_string(receipts.path().join("app.tar.gz.receipt.json"))
            .expect("a receipt"),
    )
    .expect("JSON");
    assert_eq!(
        receipt["entry"]["identity"]["context"]["repository"],
        json!("acme/app")
    );

    // The policy the identity matches, then one it does not.
    let authenticate = |repository: &str| {
        notarium_github(
            &[
                "release",
                "authenticate",
                "--tag",
                "v2.0",
                "--signer-issuer",
                mock.issuer(),
                "--signer-repository",
                repository,
                "--signer-workflow",
                "acme/app/.github/workflows/release.yml",
                "--signer-ref",
                "refs/heads/main",
                "--output",
                "json",
            ],
            &env,
            b"",
        )
    };
    let run = authenticate("acme/app");
    run.expect_code(0);
    no_token(&run);
    for r in run.results() {
        assert_eq!(r["signer_policy"], json!({ "matched": true }), "{r}");
    }
    let run = authenticate("acme/other");
    run.expect_code(8);
    no_token(&run);
    for r in run.results() {
        assert_eq!(r["reason"], json!("signer_mismatch"), "{r}");
        assert_eq!(
            r["signer_policy"]["mismatches"],
            json!(["repository: required acme/other, verified acme/app"])
        );
    }
    gh.clear_requests();
    notarium_github(
        &[
            "status",
            "--sha",
            "0123456789abcdef0123456789abcdef01234567",
            "--from-json",
            "-",
        ],
        &env,
        run.stdout.as_bytes(),
    )
    .expect_code(0);
    let post = gh
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("a status");
    assert_eq!(post.json()["state"], json!("failure"));
    assert_eq!(
        post.json()["description"],
        json!("notarium: 2 signer_mismatch (app.tar.gz is signer_mismatch)")
    );

    // --oidc false: the API key, and no token requested; the same policy fails then, as the
    // API-key entries (the latest) have no verified identity.
    let requested = mock.issued_tokens().len();
    gh.add_release("v2.1", &[("app.tar.gz", b"app 2.0\n")]);
    let mut keyed = env.clone();
    keyed.push(("NOTARIUM_OIDC", "false".to_owned()));
    let run = notarium_github(
        &["release", "notarize", "--tag", "v2.1", "--output", "json"],
        &keyed,
        b"",
    );
    run.expect_code(0);
    assert_eq!(run.results()[0]["signer"], json!(s.writer.id));
    assert_eq!(
        mock.issued_tokens().len(),
        requested,
        "a token was requested"
    );
    let run = authenticate("acme/app");
    run.expect_code(8);
    assert_eq!(run.results()[0]["reason"], json!("signer_mismatch"));

    // No token offered at all: the API key.
    let mut plain = env.clone();
    plain.retain(|(k, _)| !k.starts_with("ACTIONS_ID_TOKEN"));
    gh.add_release("v2.2", &[("lib.tar.gz", b"lib 2.2\n")]);
    let run = notarium_github(
        &["release", "notarize", "--tag", "v2.2", "--output", "json"],
        &plain,
        b"",
    );
    run.expect_code(0);
    assert_eq!(run.results()[0]["signer"], json!(s.writer.id));

    // A request token the endpoint refuses: 7, nothing notarized, the request token unprinted.
    let mut refused = env.clone();
    refused.retain(|(k, _)| *k != "ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    refused.push((
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "not-the-request-token".to_owned(),
    ));
    gh.add_release("v2.3", &[("x.bin", b"x\n")]);
    let run = notarium_github(&["release", "notarize", "--tag", "v2.3"], &refused, b"");
    run.expect_code(7)
        .expect_stderr("cannot get the job's OIDC ID token");
    assert!(!run.stderr.contains("not-the-request-token"), "{run}");
    s.work.write("x.bin", b"x\n");
    s.cli.run(["authenticate", "x.bin"]).expect_code(2);
}
