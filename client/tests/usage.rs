//! The `notarium` binary's usage contract (docs/cli.md): bad flags exit 64, help exits 0.
//! No server is needed; the end-to-end tests with a server are in `tests/` (notarium-e2e).

use std::process::Command;

fn notarium(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_notarium"))
        .args(args)
        // Nothing listens on port 9: a usage error that slipped through would exit 6.
        .env("NOTARIUM_SERVER", "http://127.0.0.1:9")
        .env_remove("NOTARIUM_API_KEY")
        .env_remove("NOTARIUM_OUTPUT")
        .output()
        .expect("notarium runs")
}

#[test]
fn bad_flags_exit_64() {
    for args in [
        &["--no-such-flag"][..],
        &[],
        &["no-such-command"],
        &["authenticate"],
        &["--output", "xml", "checkpoint"],
        &["authenticate", "--hash", "not-hex"],
    ] {
        let out = notarium(args);
        assert_eq!(out.status.code(), Some(64), "notarium {args:?}: {out:?}");
        assert!(!out.stderr.is_empty(), "notarium {args:?} explains itself");
    }
}

#[test]
fn help_and_version_exit_0() {
    for args in [&["--help"][..], &["authenticate", "--help"], &["--version"]] {
        let out = notarium(args);
        assert_eq!(out.status.code(), Some(0), "notarium {args:?}: {out:?}");
        assert!(!out.stdout.is_empty());
    }
}
