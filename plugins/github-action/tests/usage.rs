//! The `notarium-github` binary's usage contract: bad flags and missing settings exit 64
//! before anything is sent, help exits 0. The tests against a (mock) GitHub and a real
//! notariumd are in `tests/tests/notarium_github.rs` (notarium-e2e).

use std::process::{Command, Output};

fn notarium_github(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_notarium-github"));
    for (k, _) in std::env::vars() {
        if k.starts_with("GITHUB_") || k.starts_with("NOTARIUM_") || k.starts_with("ACTIONS_") {
            cmd.env_remove(k);
        }
    }
    // Nothing listens on port 9: a request that slipped through would exit 6, not 64.
    cmd.args(args)
        .env("NOTARIUM_SERVER", "http://127.0.0.1:9")
        .env("GITHUB_API_URL", "http://127.0.0.1:9")
        .envs(env.iter().copied())
        .output()
        .expect("notarium-github runs")
}

#[test]
fn bad_usage_exits_64() {
    let repo = [("GITHUB_REPOSITORY", "acme/app"), ("GITHUB_TOKEN", "t")];
    for (args, env) in [
        (&["--no-such-flag"][..], &repo[..]),
        (&[], &repo),
        (&["status", "--sha", "abc"], &repo),
        (&["status", "--sha", "abc", "--state", "success"], &repo),
        (
            &[
                "status",
                "--sha",
                "abc",
                "--state",
                "fine",
                "--description",
                "d",
            ],
            &repo,
        ),
        (&["release", "notarize"], &repo),
        (
            &["release", "authenticate", "--tag", "v1", "--oidc", "maybe"],
            &repo,
        ),
        (&["release", "publish", "--tag", "v1"], &repo),
        // No token, no repository, a malformed repository: refused before any request.
        (&["release", "authenticate", "--tag", "v1"], &repo[..1]),
        (&["release", "authenticate", "--tag", "v1"], &repo[1..]),
        (
            &[
                "status",
                "--sha",
                "abc",
                "--state",
                "success",
                "--description",
                "d",
                "--repo",
                "acme",
            ],
            &repo,
        ),
    ] {
        let out = notarium_github(args, env);
        assert_eq!(
            out.status.code(),
            Some(64),
            "notarium-github {args:?}: {out:?}"
        );
        assert!(
            !out.stderr.is_empty(),
            "notarium-github {args:?} explains itself"
        );
    }
}

#[test]
fn help_and_version_exit_0() {
    for args in [
        &["--help"][..],
        &["release", "--help"],
        &["status", "--help"],
        &["--version"],
    ] {
        let out = notarium_github(args, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "notarium-github {args:?}: {out:?}"
        );
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn an_unreachable_github_exits_6() {
    let out = notarium_github(
        &[
            "status",
            "--sha",
            "abc",
            "--state",
            "success",
            "--description",
            "d",
        ],
        &[
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_TOKEN", "secret-token-value"),
        ],
    );
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains("secret-token-value"),
        "the token was printed: {all}"
    );
}
