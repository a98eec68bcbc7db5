//! The contract in `docs/` stays the contract: every endpoint the server serves
//! (`/openapi.json`) and every setting it reads (`server/src/config.rs`) is documented; every
//! relative link in the repository's Markdown resolves; and no file but Rust sources (whose
//! doc comments move separately) still points at the old design document outside the
//! repository.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use notarium_e2e::ci_plugins::workspace_root;
use notarium_e2e::Server;
use serde_json::Value;

/// Every file of the repository that git tracks or would track (not ignored).
fn repository_files() -> Vec<PathBuf> {
    let out = std::process::Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard"])
        .current_dir(workspace_root())
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git ls-files");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| workspace_root().join(l))
        .filter(|p| p.is_file())
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_endpoint_is_in_the_http_api_page() {
    let server = Server::start();
    let addr = server.url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).expect("connect");
    write!(
        stream,
        "GET /openapi.json HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let body = response.split_once("\r\n\r\n").expect("a body").1;
    let doc: Value = serde_json::from_str(body).expect("openapi.json is JSON");
    let page = read(&workspace_root().join("docs/http-api.md"));
    let mut missing = Vec::new();
    for path in doc["paths"].as_object().expect("paths").keys() {
        // The page writes paths without the /api/v1 prefix and with `{l}` for the ledger.
        let short = path
            .trim_start_matches("/api/v1")
            .replace("{ledger}", "{l}")
            .replace("{tile}", "");
        let short = short.trim_end_matches('/');
        if short.is_empty() || short.starts_with("/assets") {
            continue; // the dashboard: `/` and its assets, described in one sentence
        }
        // The tile endpoints share one row whose first path names the ledger.
        let within_ledger = short.trim_start_matches("/ledgers/{l}");
        let documented = page.contains(short)
            || (within_ledger.starts_with("/log/") && page.contains(within_ledger));
        if !documented {
            missing.push(path.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "docs/http-api.md does not document {missing:?}"
    );
}

#[test]
fn every_setting_is_in_the_configuration_page() {
    let config = read(&workspace_root().join("server/src/config.rs"));
    let start = config.find("pub const KEYS: &[&str] = &[").expect("KEYS");
    let end = start + config[start..].find("];").expect("end of KEYS");
    let keys: Vec<&str> = config[start..end].split('"').skip(1).step_by(2).collect();
    assert!(keys.len() > 10, "{keys:?}");
    let page = read(&workspace_root().join("docs/configuration.md"));
    for key in keys {
        assert!(
            page.contains(&format!("| `{key}`")),
            "docs/configuration.md has no row for the setting {key}"
        );
    }
}

#[test]
fn markdown_links_resolve_and_nothing_points_at_design_md() {
    let mut broken = Vec::new();
    let mut stale = Vec::new();
    for file in repository_files() {
        let name = file.to_string_lossy();
        let is_rust = name.ends_with(".rs");
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue; // not text
        };
        if !is_rust && text.contains("DESIGN.md") && !name.ends_with("tests/tests/docs.rs") {
            stale.push(name.to_string());
        }
        if !name.ends_with(".md") {
            continue;
        }
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if target.contains("://")
                || target.starts_with('#')
                || target.starts_with("mailto:")
                || target.contains(' ')
            {
                continue;
            }
            let path = target.split('#').next().unwrap_or_default();
            let resolved = file.parent().expect("a directory").join(path);
            if !resolved.exists() {
                broken.push(format!("{name}: {target}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links that resolve to nothing: {broken:#?}"
    );
    assert!(
        stale.is_empty(),
        "files that still cite DESIGN.md (the contract is docs/): {stale:#?}"
    );
}
