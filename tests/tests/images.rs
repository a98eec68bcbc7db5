//! The container images (`scripts/images`), built from the release's archives with buildah
//! and run with podman: the server image starts as uid 65532 with its data in the `/data`
//! volume, listens on 0.0.0.0:7373 inside the container (reached through a port published on
//! 127.0.0.1), passes its health check on `/readyz`, carries the OCI labels, answers the
//! README's curl walkthrough, and stops cleanly on SIGTERM; the CLI image has `notarium` and a
//! shell, as GitLab's runner needs, and notarizes against the server container; the compose
//! example names the image of this version.
//!
//! Decision on machines that cannot run containers: building the images needs no container
//! to run (buildah from scratch), so a build failure always fails the test. Running them needs
//! namespaces and a container runtime that some CI machines refuse; the test first runs the
//! CLI image once, and when *that* fails it prints `SKIPPED:` with podman's reason and
//! returns, also with `CI` set — a machine limitation is not a defect of the images. Once a
//! container has run, every other check must pass. Missing tools (buildah, podman) fail with
//! `CI` set, as for every other test (`.ci/install-images.sh`).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notarium_e2e::ci_plugins::{require_tool, workspace_root};
use notarium_e2e::random_hex;
use notarium_e2e::release::{release, Release};
use serde_json::Value;
use tempfile::TempDir;

const REGISTRY: &str = "ghcr.io/notarium";

/// podman and buildah with the test's own storage (vfs, in a temporary directory) and the
/// runtime settings that work on machines without systemd cgroups: runc, cgroupfs, no
/// default ulimits (the project's development machines refuse setrlimit otherwise).
struct Containers {
    dir: TempDir,
    podman: PathBuf,
}

impl Containers {
    fn new(podman: &Path) -> Containers {
        let dir = tempfile::Builder::new()
            .prefix("notarium-images-")
            .tempdir()
            .expect("temporary directory");
        std::fs::write(
            dir.path().join("containers.conf"),
            "[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = \"cgroupfs\"\nruntime = \"runc\"\n",
        )
        .expect("containers.conf");
        Containers {
            dir,
            podman: podman.to_owned(),
        }
    }

    fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .env("NOTARIUM_IMAGE_STORAGE", self.storage())
            .env("STORAGE_DRIVER", "vfs");
    }

    fn podman_cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(&self.podman);
        self.env(&mut cmd);
        cmd.arg("--root")
            .arg(self.storage().join("root"))
            .arg("--runroot")
            .arg(self.storage().join("run"))
            .args(["--storage-driver", "vfs"])
            .args(["--runtime", "runc", "--cgroup-manager", "cgroupfs"])
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    fn podman<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.podman_cmd(args).output().expect("podman runs")
    }
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn build_images(c: &Containers, r: &Release) {
    let started = Instant::now();
    let mut cmd = Command::new(workspace_root().join("scripts/images"));
    c.env(&mut cmd);
    let out = cmd
        .arg(r.dir())
        .arg("--archive-dir")
        .arg(c.dir.path().join("archives"))
        .output()
        .expect("scripts/images runs");
    assert!(
        out.status.success(),
        "scripts/images failed: {}",
        text(&out)
    );
    eprintln!(
        "scripts/images took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for name in ["notariumd", "notarium"] {
        let archive = c
            .dir
            .path()
            .join("archives")
            .join(format!("{name}-{}-x86_64-linux.oci.tar", r.version()));
        let size = std::fs::metadata(&archive)
            .unwrap_or_else(|e| panic!("{}: {e}", archive.display()))
            .len();
        eprintln!("{name} image: {:.1} MiB", size as f64 / (1024.0 * 1024.0));
    }
}

/// A container that is removed when the test ends, whatever happens.
struct Running<'a> {
    c: &'a Containers,
    name: String,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = self.c.podman(["rm", "-f", "-t", "0", &self.name]);
    }
}

/// Waits for `line_prefix` in the container's log (`podman logs -f`), with a deadline.
fn wait_for_log(c: &Containers, name: &str, line_prefix: &str) -> String {
    let mut child = c
        .podman_cmd(["logs", "-f", name])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("podman logs runs");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    for stream in [
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let found = loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) if l.starts_with(line_prefix) => break Some(l),
            Ok(l) => seen.push(l),
            Err(_) => break None,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    found.unwrap_or_else(|| panic!("no {line_prefix:?} in the log of {name}: {seen:#?}"))
}

fn readme_walkthrough() -> String {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    let start = readme
        .find("<!-- walkthrough:start -->")
        .expect("walkthrough start marker");
    let end = readme
        .find("<!-- walkthrough:end -->")
        .expect("walkthrough end marker");
    let code = readme[start..end]
        .split_once("```sh\n")
        .expect("a sh block")
        .1;
    code.rsplit_once("```").expect("closing fence").0.to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

#[test]
fn server_and_cli_images_run_as_documented() {
    let Some(r) = release() else { return };
    let (Some(_buildah), Some(podman)) = (
        require_tool("buildah", "images"),
        require_tool("podman", "images"),
    ) else {
        return;
    };
    let c = Containers::new(&podman);
    build_images(&c, r);
    let version = r.version();
    let server_image = format!("{REGISTRY}/notariumd:{version}");
    let cli_image = format!("{REGISTRY}/notarium:{version}");

    // Can this machine run a container at all? The only check allowed to skip.
    let probe = c.podman(["run", "--rm", "--network", "host", &cli_image, "--version"]);
    if !probe.status.success() {
        eprintln!();
        eprintln!("**********************************************************************");
        eprintln!(
            "SKIPPED: the images were built, but this machine cannot run containers: {}",
            String::from_utf8_lossy(&probe.stderr).trim()
        );
        eprintln!("**********************************************************************");
        return;
    }
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout).trim(),
        format!("notarium {version}")
    );

    // The image's configuration: what the README promises.
    let inspect = c.podman(["image", "inspect", &server_image]);
    assert!(inspect.status.success(), "{}", text(&inspect));
    let doc: Value = serde_json::from_slice(&inspect.stdout).expect("inspect is JSON");
    let config = &doc[0]["Config"];
    assert_eq!(config["User"], "65532:65532", "{config:#}");
    assert!(config["Volumes"].get("/data").is_some(), "{config:#}");
    assert!(
        config["ExposedPorts"].get("7373/tcp").is_some(),
        "{config:#}"
    );
    let env: Vec<&str> = config["Env"]
        .as_array()
        .expect("Env")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(env.contains(&"NOTARIUM_LISTEN=0.0.0.0:7373"), "{env:?}");
    assert!(env.contains(&"NOTARIUM_DATA_DIR=/data"), "{env:?}");
    let labels = &config["Labels"];
    assert_eq!(labels["org.opencontainers.image.version"], version);
    assert_eq!(labels["org.opencontainers.image.title"], "notariumd");
    assert_eq!(labels["org.opencontainers.image.licenses"], "Apache-2.0");
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://github.com/notarium/notarium"
    );
    let health =
        doc[0]["Healthcheck"]["Test"].to_string() + &config["Healthcheck"]["Test"].to_string();
    assert!(
        health.contains("/readyz"),
        "no health check on /readyz: {doc:#}"
    );

    // The server, as the README runs it: a named volume on /data, the port published on
    // 127.0.0.1 only, the admin token from the environment.
    let name = format!("notarium-e2e-{}", random_hex(6));
    let volume = format!("{name}-data");
    let port = free_port();
    let admin = format!("e2e-admin-{}", random_hex(16));
    let run = c.podman([
        "run",
        "-d",
        "--name",
        &name,
        "-p",
        &format!("127.0.0.1:{port}:7373"),
        "-v",
        &format!("{volume}:/data"),
        "-e",
        &format!("NOTARIUM_ADMIN_TOKEN={admin}"),
        &server_image,
    ]);
    let running = Running {
        c: &c,
        name: name.clone(),
    };
    assert!(run.status.success(), "podman run: {}", text(&run));
    let ready = wait_for_log(&c, &name, "notariumd ready on ");
    assert_eq!(ready.trim(), "notariumd ready on http://0.0.0.0:7373");
    let url = format!("http://127.0.0.1:{port}");

    // Not root, and the data is in the volume.
    let id = c.podman(["exec", &name, "/bin/id", "-u"]);
    assert_eq!(
        String::from_utf8_lossy(&id.stdout).trim(),
        "65532",
        "{}",
        text(&id)
    );
    let ls = c.podman(["exec", &name, "/bin/ls", "/data/ledgers/default"]);
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("signing.key"),
        "{}",
        text(&ls)
    );
    // The health check passes (podman runs the image's own check in the container).
    let health = c.podman(["healthcheck", "run", &name]);
    assert!(health.status.success(), "health check: {}", text(&health));

    // /readyz through the published port, then the README's curl walkthrough.
    let readyz = Command::new("curl")
        .args(["-sf", &format!("{url}/readyz")])
        .output()
        .expect("curl runs");
    assert!(readyz.status.success(), "{}", text(&readyz));
    let work = tempfile::tempdir().expect("temporary directory");
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &readme_walkthrough()])
        .current_dir(work.path())
        .env("NOTARIUM_SERVER", &url)
        .env("ADMIN_TOKEN", &admin)
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "walkthrough: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(&lines[1..3], ["trusted", "untrusted"], "{stdout}");

    // The CLI image, as a GitLab job uses it (a shell, the entrypoint cleared): notarize a file
    // against the server container and authenticate it.
    let key = Command::new("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            &format!("{url}/api/v1/ledgers/default/keys"),
            "-H",
            &format!("Authorization: Bearer {admin}"),
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"name":"ci-image","role":"write"}"#,
        ])
        .output()
        .expect("curl runs");
    let key: Value = serde_json::from_slice(&key.stdout).expect("a key");
    let key = key["key"].as_str().expect("the secret").to_owned();
    let job = c.podman([
        "run",
        "--rm",
        "--network",
        "host",
        "--entrypoint",
        "",
        "-e",
        &format!("NOTARIUM_SERVER={url}"),
        "-e",
        &format!("NOTARIUM_API_KEY={key}"),
        &cli_image,
        "sh",
        "-c",
        "set -e; cd /tmp; echo built > app.bin; notarium notarize app.bin --receipts r; \
         notarium authenticate app.bin; test -s r/app.bin.receipt.json; echo job-ok",
    ]);
    assert!(job.status.success(), "the CLI image's job: {}", text(&job));
    assert!(String::from_utf8_lossy(&job.stdout).contains("job-ok"));

    // SIGTERM (podman stop) ends the server cleanly, exit 0.
    let stop = c.podman(["stop", "-t", "30", &name]);
    assert!(stop.status.success(), "{}", text(&stop));
    let code = c.podman(["inspect", "--format", "{{.State.ExitCode}}", &name]);
    assert_eq!(
        String::from_utf8_lossy(&code.stdout).trim(),
        "0",
        "{}",
        text(&code)
    );
    drop(running);
    let _ = c.podman(["volume", "rm", "-f", &volume]);
}

/// The compose example runs the image of this version, publishes the port on 127.0.0.1 only,
/// keeps the data in a volume on /data and checks health on /readyz.
#[test]
fn compose_example_names_this_version() {
    let text = std::fs::read_to_string(workspace_root().join("deploy/compose.yaml"))
        .expect("deploy/compose.yaml");
    let doc: Value = yaml_serde::from_str(&text).expect("compose.yaml is YAML");
    let version = env!("CARGO_PKG_VERSION");
    let svc = &doc["services"]["notariumd"];
    assert_eq!(
        svc["image"],
        format!("{REGISTRY}/notariumd:{version}"),
        "{svc:#}"
    );
    let ports: Vec<&str> = svc["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ports, ["127.0.0.1:7373:7373"]);
    let volumes = svc["volumes"].to_string();
    assert!(volumes.contains(":/data"), "{volumes}");
    assert!(svc["healthcheck"]["test"].to_string().contains("/readyz"));
    assert!(doc["volumes"].get("notarium-data").is_some());
}
