//! The README's "Running notariumd for a team", run: the example configuration
//! (`packaging/notariumd.yaml`) with `public_url` and TLS set as step 1 says, the service
//! unit's own command line (`packaging/notariumd.service`, step 2), then the README's shell
//! blocks for the CI key (step 3) and the CI jobs (step 4), verbatim except for the paths and
//! the host name of this machine. A run-time CA stands in for a public one.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notarium_e2e::ci_plugins::require_tool;
use notarium_e2e::nginx::free_port;
use notarium_e2e::tls::TestCa;
use notarium_e2e::{bin_dir, binary, clean_env, random_hex};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// The `sh` block of the README between `<!-- operator:NAME:start -->` and its end marker.
fn readme_block(name: &str) -> String {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let start = format!("<!-- operator:{name}:start -->");
    let end = format!("<!-- operator:{name}:end -->");
    let block =
        &readme[readme.find(&start).expect("start marker")..readme.find(&end).expect("end marker")];
    let code = block.split_once("```sh\n").expect("a sh block").1;
    code.rsplit_once("```")
        .expect("closing fence")
        .0
        .lines()
        .map(str::trim_start)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The unit's `ExecStart=` command line, split on spaces.
fn unit_exec_start() -> Vec<String> {
    let unit = std::fs::read_to_string(repo("packaging/notariumd.service")).unwrap();
    unit.lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn from_a_linux_host_to_ci_over_https() {
    if require_tool("jq", "server").is_none() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc/notarium");
    let data = root.path().join("var/lib/notarium");
    std::fs::create_dir_all(etc.join("tls")).unwrap();
    let port = free_port();
    let public = format!("https://localhost:{port}");
    let paths = |text: &str| {
        text.replace("/etc/notarium", etc.to_str().unwrap())
            .replace("/var/lib/notarium", data.to_str().unwrap())
            .replace("https://notary.example.com", &public)
    };

    // Step 1: the example configuration, its public_url set to the URL CI will use, with the
    // certificate, the admin token and the metrics token files it names.
    let ca = TestCa::new();
    ca.issue("operator").install(&etc.join("tls"));
    let ca_file = ca.write_pem(root.path());
    let admin = format!("na_{}", random_hex(24));
    std::fs::write(etc.join("admin-token"), format!("{admin}\n")).unwrap();
    std::fs::write(etc.join("metrics-token"), format!("m_{}\n", random_hex(16))).unwrap();
    let example = std::fs::read_to_string(repo("packaging/notariumd.yaml")).unwrap();
    assert!(example.contains("\npublic_url: https://notary.example.com\n"));
    let config =
        paths(&example).replace("listen: 0.0.0.0:7373", &format!("listen: 127.0.0.1:{port}"));
    std::fs::write(etc.join("notariumd.yaml"), config).unwrap();

    // Step 2: the unit's command line.
    let mut argv = unit_exec_start().into_iter().map(|a| paths(&a));
    let program = argv.next().unwrap();
    assert_eq!(program, "/usr/local/bin/notariumd");
    let mut cmd = Command::new(binary("notariumd"));
    clean_env(&mut cmd);
    let log = root.path().join("journal.log");
    let mut server = cmd
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = server.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|e| {
                let _ = server.kill();
                panic!(
                    "no ready line ({e}): {lines:?}\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        let ready = line.starts_with(&format!("notariumd ready on https://127.0.0.1:{port}"));
        lines.push(line);
        if ready {
            break;
        }
    }
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "ledger default created with origin localhost:{port}/default (from public_url)"
        ))),
        "the first start says which origin it froze: {lines:?}"
    );

    // Steps 3 and 4: the README's blocks, in a build machine's working directory.
    let work = root.path().join("ci");
    std::fs::create_dir_all(work.join("dist")).unwrap();
    std::fs::write(work.join("dist/app.tar.gz"), b"release 1.0").unwrap();
    let run = |block: &str, state: &str| {
        let mut cmd = Command::new("bash");
        clean_env(&mut cmd);
        let path = format!(
            "{}:{}",
            bin_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = cmd
            .args(["-euo", "pipefail", "-c", &paths(&readme_block(block))])
            .current_dir(&work)
            .env("PATH", path)
            .env("NOTARIUM_STATE_DIR", root.path().join(state))
            .env("NOTARIUM_CA_FILE", &ca_file)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README block {block} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run("key", "admin-state");
    let key = std::fs::read_to_string(work.join("ci-key")).unwrap();
    let vkey = std::fs::read_to_string(work.join("verifier-key")).unwrap();
    assert!(key.trim().len() > 20, "{key}");
    assert!(
        vkey.trim()
            .starts_with(&format!("localhost:{port}/default+")),
        "{vkey}"
    );
    // The build job and, on another machine (a fresh state), the deploy job.
    run("ci", "build-state");
    assert!(
        std::fs::read_dir(work.join("receipts")).unwrap().count() >= 1,
        "receipts kept"
    );
    run("ci", "deploy-state");

    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    assert_eq!(
        server.wait().unwrap().code(),
        Some(0),
        "a clean stop on SIGTERM"
    );
    let journal = std::fs::read_to_string(&log).unwrap();
    assert!(
        !journal.contains(&admin),
        "the admin token never reaches the log"
    );
    assert!(!journal.contains(key.trim()), "nor does the CI key");
}

#[test]
fn the_service_unit_is_sandboxed_and_runs_the_documented_command() {
    let unit = std::fs::read_to_string(repo("packaging/notariumd.service")).unwrap();
    let has = |directive: &str| unit.lines().any(|l| l.trim() == directive);
    assert_eq!(
        unit_exec_start(),
        [
            "/usr/local/bin/notariumd",
            "--config",
            "/etc/notarium/notariumd.yaml",
            "--data-dir",
            "/var/lib/notarium"
        ]
    );
    for directive in [
        "User=notarium",
        "StateDirectory=notarium",
        "StateDirectoryMode=0700",
        "ReadOnlyPaths=/etc/notarium",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "SystemCallFilter=@system-service",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "KillSignal=SIGTERM",
        "RestartPreventExitStatus=2",
        "LimitNOFILE=65536",
    ] {
        assert!(has(directive), "{directive} missing from the unit");
    }
    // The data directory of the command line is the one systemd makes writable.
    assert!(!unit.contains("ReadWritePaths="), "no other writable path");
}
