//! The release (`scripts/release`, `scripts/pin`) as users get it: archives, `SHA256SUMS` and
//! `manifest.json` that agree with each other and with the bytes; archives that are the same
//! bytes when packaged again; Linux binaries that need no newer glibc than 2.28 (printed);
//! the wheel putting `notarium` on PATH; the pins written into the three plugins from the
//! release and nothing else; and the download code being the same in the three plugins.
//!
//! The build is shared with the plugins' chain tests (`notarium_e2e::release`); without
//! cargo-zigbuild these tests skip, with `CI` set they fail (`.ci/install-release.sh`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use notarium_e2e::ci_plugins::{require_tool, sha256_file, workspace_root};
use notarium_e2e::release::{host_platform, pinned_plugins, recomputed_sums, release};

/// The highest `GLIBC_x.y` symbol version a binary needs, from `objdump -T`.
fn max_glibc(objdump: &Path, binary: &Path) -> (u32, u32) {
    let out = Command::new(objdump)
        .arg("-T")
        .arg(binary)
        .output()
        .expect("objdump runs");
    assert!(out.status.success(), "objdump -T {}", binary.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut max = (0, 0);
    for word in text.split_whitespace() {
        // objdump writes the version as `(GLIBC_2.17)` or `GLIBC_2.17`.
        let word = word.trim_matches(|c| c == '(' || c == ')');
        let Some(v) = word.strip_prefix("GLIBC_") else {
            continue;
        };
        let mut parts = v.split('.').map(|p| p.parse::<u32>());
        if let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) {
            max = max.max((major, minor));
        }
    }
    assert!(max > (0, 0), "{} needs no GLIBC symbol?", binary.display());
    max
}

#[test]
fn release_lists_what_it_holds_and_packages_reproducibly() {
    let Some(r) = release() else { return };
    let files = r.files();
    let platform = host_platform();
    let version = r.version();
    let expected = [
        format!("notarium-{version}-{platform}.tar.gz"),
        format!("notariumd-{version}-{platform}.tar.gz"),
    ];
    for name in &expected {
        assert!(
            files.contains_key(name),
            "the manifest lacks {name}: {files:#?}"
        );
    }
    // SHA256SUMS, the manifest and the bytes agree.
    let sums: BTreeMap<String, String> = std::fs::read_to_string(r.dir().join("SHA256SUMS"))
        .expect("SHA256SUMS")
        .lines()
        .map(|l| {
            let (digest, name) = l.split_once("  ").expect("sha256sum format");
            (name.to_owned(), digest.to_owned())
        })
        .collect();
    let recomputed = recomputed_sums(r);
    assert_eq!(sums, recomputed, "SHA256SUMS and the files disagree");
    for (name, e) in &files {
        assert_eq!(
            e["sha256"].as_str(),
            Some(recomputed[name].as_str()),
            "{name}"
        );
        let size = std::fs::metadata(r.dir().join(name)).expect("file").len();
        assert_eq!(e["size"].as_u64(), Some(size), "{name}");
        assert_eq!(e["platform"], platform, "{name}");
        assert_eq!(r.manifest()["version"], version);
        eprintln!("{name}: {:.1} MiB", size as f64 / (1024.0 * 1024.0));
    }
    // `sha256sum -c` reads SHA256SUMS as users will.
    let check = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(r.dir())
        .output()
        .expect("sha256sum runs");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    // The archives hold runnable binaries of this version, in a directory named as the file.
    let cli = r.unpack(&expected[0]);
    let top = cli.path().join(expected[0].trim_end_matches(".tar.gz"));
    for bin in ["notarium", "notarium-github"] {
        let out = Command::new(top.join(bin))
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("{bin} from the archive runs: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{bin} {version}")
        );
    }
    let server = r.unpack(&expected[1]);
    let out = Command::new(
        server
            .path()
            .join(expected[1].trim_end_matches(".tar.gz"))
            .join("notariumd"),
    )
    .arg("--version")
    .output()
    .expect("notariumd from the archive runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("notariumd {version}")
    );

    // Packaged again from the same build: the same bytes (entries sorted, owner 0, mtime of
    // the last commit, gzip without a timestamp).
    let again = tempfile::tempdir().expect("temporary directory");
    let out = Command::new(workspace_root().join("scripts/release"))
        .arg(again.path())
        .current_dir(workspace_root())
        .output()
        .expect("scripts/release runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(again.path().join("SHA256SUMS")).expect("SHA256SUMS"),
        std::fs::read_to_string(r.dir().join("SHA256SUMS")).expect("SHA256SUMS"),
        "packaging the same build twice gave other bytes"
    );

    // An output directory that is not a release's is refused, and left alone.
    let busy = tempfile::tempdir().expect("temporary directory");
    std::fs::write(busy.path().join("precious.txt"), "mine").expect("write");
    let out = Command::new(workspace_root().join("scripts/release"))
        .arg(busy.path())
        .current_dir(workspace_root())
        .output()
        .expect("scripts/release runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert!(busy.path().join("precious.txt").is_file());
}

/// The release's Linux binaries run on old userlands: the highest glibc symbol version they
/// need is printed, and above 2.28 (RHEL 8, Debian 10) the test fails.
#[test]
fn released_linux_binaries_need_glibc_2_28_at_most() {
    let Some(r) = release() else { return };
    let Some(objdump) = require_tool("objdump", "release") else {
        return;
    };
    let platform = host_platform();
    let version = r.version();
    let mut worst = (0, 0);
    for (archive, bins) in [
        ("notarium", &["notarium", "notarium-github"][..]),
        ("notariumd", &["notariumd"][..]),
    ] {
        let file = format!("{archive}-{version}-{platform}.tar.gz");
        let dir = r.unpack(&file);
        for bin in bins {
            let path = dir.path().join(file.trim_end_matches(".tar.gz")).join(bin);
            let (major, minor) = max_glibc(&objdump, &path);
            println!("{bin} ({platform}) needs GLIBC_{major}.{minor} at most");
            worst = worst.max((major, minor));
        }
    }
    assert!(
        worst <= (2, 28),
        "the released binaries need GLIBC_{}.{}, newer than 2.28",
        worst.0,
        worst.1
    );
}

/// `pip install` of the wheel puts a working `notarium` and `notarium-github` on PATH, with no
/// index: the wheel is all it needs.
#[test]
fn wheel_installs_the_cli_on_path() {
    let Some(r) = release() else { return };
    let Some(python) = require_tool("python3", "release") else {
        return;
    };
    let wheel = r
        .files()
        .into_iter()
        .find(|(_, e)| e["kind"] == "wheel" && e["platform"] == host_platform())
        .map(|(f, _)| f)
        .expect("the release has a wheel for this platform");
    let venv = tempfile::tempdir().expect("temporary directory");
    let st = Command::new(&python)
        .args(["-m", "venv"])
        .arg(venv.path())
        .status()
        .expect("python3 -m venv runs");
    assert!(st.success(), "python3 -m venv");
    let out = Command::new(venv.path().join("bin/pip"))
        .args([
            "install",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
        ])
        .arg(r.dir().join(&wheel))
        .env_remove("PIP_FIND_LINKS")
        .output()
        .expect("pip runs");
    assert!(
        out.status.success(),
        "pip install {wheel}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for bin in ["notarium", "notarium-github"] {
        let out = Command::new(venv.path().join("bin").join(bin))
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("{bin} installed by pip runs: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{bin} {}", r.version())
        );
    }
}

/// `scripts/pin` writes exactly the release's checksums into the three plugins, `--check`
/// agrees afterwards, and a release directory whose archive was changed is refused.
#[test]
fn pins_come_from_the_release_and_nothing_else() {
    let Some(r) = release() else { return };
    let root = pinned_plugins(r);
    let archive = r.cli_archive(host_platform());
    let digest = sha256_file(&r.dir().join(&archive));
    for rel in [
        "plugins/github-action/notarium-action.sh",
        "plugins/gitlab/templates/notarize.yml",
        "plugins/gitlab/templates/authenticate.yml",
        "plugins/jenkins/resources/io/notarium/run.sh",
    ] {
        let text = std::fs::read_to_string(root.path().join(rel)).expect("pinned file");
        assert!(
            text.contains(&format!("{archive}) echo {digest} ;;")),
            "{rel} does not pin {archive}"
        );
        assert!(
            text.contains(&format!("notarium_pinned_version={}", r.version())),
            "{rel}"
        );
    }
    let gitlab = std::fs::read_to_string(root.path().join("plugins/gitlab/templates/notarize.yml"))
        .expect("template");
    assert!(gitlab.contains(&format!(
        "default: ghcr.io/notarium/notarium:{}",
        r.version()
    )));

    let pin = |release: &Path, extra: &[&str]| {
        Command::new(workspace_root().join("scripts/pin"))
            .arg(release)
            .arg("--root")
            .arg(root.path())
            .args(extra)
            .output()
            .expect("scripts/pin runs")
    };
    assert!(pin(r.dir(), &["--check"]).status.success());
    // The unpinned checkout is not pinned to this release.
    let out = Command::new(workspace_root().join("scripts/pin"))
        .arg(r.dir())
        .arg("--check")
        .output()
        .expect("scripts/pin runs");
    assert!(
        !out.status.success(),
        "the repository's plugins pin no local build"
    );

    // A release directory whose archive changed after the build: refused, nothing written.
    let forged = tempfile::tempdir().expect("temporary directory");
    for f in r
        .files()
        .keys()
        .chain(["SHA256SUMS".to_owned(), "manifest.json".to_owned()].iter())
    {
        std::fs::copy(r.dir().join(f), forged.path().join(f)).expect("copy");
    }
    let mut bytes = std::fs::read(forged.path().join(&archive)).expect("archive");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(forged.path().join(&archive), bytes).expect("write");
    let before =
        std::fs::read(root.path().join("plugins/github-action/notarium-action.sh")).expect("read");
    let out = pin(forged.path(), &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("build it again"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(root.path().join("plugins/github-action/notarium-action.sh")).expect("read"),
        before
    );
}

/// The text between two marker lines, each line with its indentation removed.
fn between(text: &str, start: &str, end: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let s = lines
        .iter()
        .position(|l| l.trim_start().starts_with(start))
        .unwrap_or_else(|| panic!("no {start}"));
    let e = lines
        .iter()
        .position(|l| l.trim_start().starts_with(end))
        .unwrap_or_else(|| panic!("no {end}"));
    assert!(e > s);
    let indent = lines[s].len() - lines[s].trim_start().len();
    lines[s..=e]
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The three plugins download, check and unpack notarium with the same code, and pin in the
/// same format: a fix in one is a fix in all (`scripts/pin` and the chain tests rely on it).
#[test]
fn the_three_plugins_share_the_download_code() {
    let files = [
        "plugins/github-action/notarium-action.sh",
        "plugins/gitlab/templates/notarize.yml",
        "plugins/gitlab/templates/authenticate.yml",
        "plugins/jenkins/resources/io/notarium/run.sh",
    ];
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(workspace_root().join(f)).expect("plugin file"))
        .collect();
    for (start, end) in [
        ("# notarium-download:start", "# notarium-download:end"),
        ("# notarium-pins:start", "# notarium-pins:end"),
    ] {
        let first = between(&texts[0], start, end);
        for (f, t) in files.iter().zip(&texts).skip(1) {
            assert_eq!(between(t, start, end), first, "{f} differs in {start}");
        }
    }
}

/// shellcheck passes on the Jenkins library's script and on the GitLab components' scripts
/// (extracted from the templates as GitLab runs them, with the inputs filled in).
#[test]
fn plugin_scripts_pass_shellcheck() {
    let Some(shellcheck) = require_tool("shellcheck", "github") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut files = vec![workspace_root().join("plugins/jenkins/resources/io/notarium/run.sh")];
    for t in ["notarize", "authenticate"] {
        let text = std::fs::read_to_string(
            workspace_root().join(format!("plugins/gitlab/templates/{t}.yml")),
        )
        .expect("template");
        // The script items, as YAML hands them to the runner: the `- |` blocks, de-indented.
        let mut script = String::from("#!/bin/sh\n");
        let mut inside = false;
        for line in text.lines() {
            if line.trim_start() == "- |" {
                inside = true;
                continue;
            }
            if inside {
                if line.is_empty() {
                    script.push('\n');
                } else if let Some(l) = line.strip_prefix("      ") {
                    script.push_str(l);
                    script.push('\n');
                } else {
                    inside = false;
                }
            }
        }
        let script = script
            .split("$[[ inputs.")
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part.to_owned()
                } else {
                    let (_, rest) = part.split_once(" ]]").expect("closed interpolation");
                    format!("input{rest}")
                }
            })
            .collect::<String>();
        let path = dir.path().join(format!("{t}.sh"));
        std::fs::write(&path, script).expect("write");
        files.push(path);
    }
    let out = Command::new(shellcheck)
        .arg("-s")
        .arg("sh")
        .args(&files)
        .output()
        .expect("shellcheck runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
