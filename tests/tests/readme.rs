//! The README's "Quick start with the CLI", run as written against a real `notariumd`: both
//! shell blocks, line by line in one bash session, with only the placeholders a reader fills
//! in (the server's URL and admin token, the printed `nk_…` key and verifier key) replaced.
//! Every line must give the exit code its comment promises.

use std::process::Command;

use notarium_e2e::ci_plugins::path_with_notarium;
use notarium_e2e::{clean_env, Server};

/// The ```sh blocks of the README section `heading`.
fn blocks(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let start = readme.find(heading).expect("the section");
    let section = &readme[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section
        .split("```sh\n")
        .skip(1)
        .map(|b| b[..b.find("```").expect("a closed block")].to_owned())
        .collect()
}

/// The block's commands: continuation lines joined, comment-only lines left out.
fn commands(block: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut open = false;
    for line in block
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    {
        let (text, continued) = match line.trim_end().strip_suffix('\\') {
            Some(head) => (head, true),
            None => (line, false),
        };
        if open {
            out.last_mut().expect("a command").push_str(text);
        } else {
            out.push(text.to_owned());
        }
        open = continued;
    }
    out
}

#[test]
fn the_cli_quick_start_runs_as_written() {
    let server = Server::start();
    let work = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(work.path().join("dist")).expect("dist");
    std::fs::write(work.path().join("dist/app.tar.gz"), b"the app\n").expect("app");
    let blocks = blocks("## Quick start with the CLI");
    assert_eq!(blocks.len(), 2, "the admin's block and CI's block");

    // One bash session: each command, then its exit code on a line of its own.
    let run = |script: &str| -> String {
        let mut cmd = Command::new("bash");
        clean_env(&mut cmd);
        let out = cmd
            .arg("-c")
            .arg(script)
            .current_dir(work.path())
            .env("PATH", path_with_notarium())
            .env("NOTARIUM_STATE_DIR", state.path())
            .env("ADMIN_TOKEN", server.admin_token())
            .output()
            .expect("bash runs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let session = |cmds: &[String]| -> String {
        cmds.iter()
            .map(|c| format!("{c}\necho \"exit=$?\"\n"))
            .collect()
    };
    let codes = |out: &str| -> Vec<i32> {
        out.lines()
            .filter_map(|l| l.strip_prefix("exit="))
            .map(|c| c.parse().expect("a code"))
            .collect()
    };

    let admin: Vec<String> = commands(&blocks[0])
        .into_iter()
        .map(|c| c.replace("http://127.0.0.1:7373", server.url()))
        .collect();
    let out = run(&session(&admin));
    assert_eq!(codes(&out), vec![0, 0, 0, 0], "{out}");
    let key = out
        .split_whitespace()
        .find(|w| w.starts_with("nk_"))
        .unwrap_or_else(|| panic!("key create printed no nk_ key: {out}"))
        .to_owned();
    let vkey = server.verifier_key();
    assert!(
        out.contains(&vkey),
        "ledger show printed the verifier key: {out}"
    );

    let ci: Vec<String> = commands(&blocks[1])
        .into_iter()
        .map(|c| {
            c.replace("nk_…", &key)
                .replace("'localhost/notarium/default+…'", &format!("'{vkey}'"))
        })
        .collect();
    let script = format!("export NOTARIUM_SERVER={}\n{}", server.url(), session(&ci));
    let out = run(&script);
    // export, notarize, authenticate (trusted), untrust, authenticate --save-status
    // (untrusted), the offline check (untrusted, from the saved proof), audit.
    assert_eq!(codes(&out), vec![0, 0, 0, 0, 1, 1, 0], "{out}");
    assert!(
        work.path().join("receipts/notarium-status.json").is_file(),
        "{out}"
    );
    assert!(out.contains("status proven current"), "{out}");
}
