//! `notariumd` behind a real reverse proxy (Debian's nginx) under a path prefix, configured as
//! docs/operations.md shows: the real `notarium` CLI notarizes and authenticates through it,
//! over HTTP and over HTTPS terminated by nginx; the API, its description, errors and the
//! dashboard's page all work under the prefix. The dashboard in a browser behind the same
//! proxy is `tests/dashboard.rs::dashboard_in_chromium_behind_nginx_under_a_prefix`.

use notarium_e2e::nginx::{free_port, Nginx};
use notarium_e2e::tls::TestCa;
use notarium_e2e::{Setup, Workdir};
use serde_json::Value;

/// `GET url` (with `token` when given): status, content type and body.
fn get(url: &str, token: Option<&str>, ca: Option<&str>) -> (u16, String, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let mut client = reqwest::Client::builder().no_proxy();
        if let Some(ca) = ca {
            client = client.add_root_certificate(
                reqwest::Certificate::from_pem(ca.as_bytes()).expect("a CA certificate"),
            );
        }
        let mut req = client.build().expect("a client").get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("the proxy answers");
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, ct, resp.text().await.expect("a body"))
    })
}

#[test]
fn the_api_cli_and_dashboard_work_behind_nginx_under_a_prefix() {
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}/notarium");
    let s = Setup::with_env(&[("NOTARIUM_PUBLIC_URL", &public)]);
    let Some(nginx) = Nginx::start(port, s.server.url(), "/notarium", None) else {
        return;
    };
    let url = nginx.url().to_owned();
    let admin = s.server.admin_token().to_owned();

    // The ledger's origin came from public_url on its first start.
    let (status, _, body) = get(&format!("{url}/api/v1/ledgers/default"), Some(&admin), None);
    assert_eq!(status, 200, "{body}");
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        info["origin"],
        format!("127.0.0.1:{port}/notarium/default"),
        "{info}"
    );

    // The real CLI, pointed at the proxy's URL with its prefix.
    let cli = s
        .cli
        .with_server(&url)
        .env("NOTARIUM_VERIFIER_KEY", &s.server.verifier_key());
    s.work.write("dist/app.tar.gz", b"built behind a proxy");
    cli.run(["notarize", "dist/app.tar.gz"]).expect_code(0);
    cli.run(["authenticate", "dist/app.tar.gz"]).expect_code(0);
    cli.run(["untrust", "dist/app.tar.gz"]).expect_code(0);
    cli.run(["authenticate", "dist/app.tar.gz"]).expect_code(1);
    cli.run(["audit"]).expect_code(0);
    assert!(
        nginx
            .access_log()
            .contains("POST /notarium/api/v1/ledgers/default/entries"),
        "the CLI went through the proxy"
    );

    // The description names the public URL; errors keep their JSON shape through the proxy.
    let (status, _, body) = get(&format!("{url}/openapi.json"), None, None);
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["servers"][0]["url"], public.as_str());
    let (status, ct, body) = get(&format!("{url}/api/v1/nowhere"), None, None);
    assert_eq!((status, ct.as_str()), (404, "application/json"));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        "not_found"
    );

    // The dashboard's page links its assets under the prefix, and they load from there.
    let (status, ct, page) = get(&format!("{url}/"), None, None);
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/html"));
    for asset in ["/notarium/assets/app.css", "/notarium/assets/app.js"] {
        assert!(page.contains(&format!("\"{asset}\"")), "{asset} in {page}");
        let (status, _, _) = get(&format!("http://127.0.0.1:{port}{asset}"), None, None);
        assert_eq!(status, 200, "{asset}");
    }
    let (status, _, api_js) = get(&format!("{url}/assets/api.js"), None, None);
    assert_eq!(status, 200);
    assert!(
        api_js.contains("new URL(`../api/v1${path}`, import.meta.url)"),
        "scripts find the API relative to themselves"
    );
    // The bare prefix redirects to the page (nginx), and the server itself also answers under
    // the prefix, for proxies that pass it on.
    let (status, _, _) = get(&format!("{}/notarium/healthz", s.server.url()), None, None);
    assert_eq!(status, 200);
}

#[test]
fn the_cli_works_over_https_through_nginx_with_the_ca_of_a_private_pki() {
    let ca = TestCa::new();
    let certs = Workdir::new();
    let (cert, key) = ca.issue("proxy").install(certs.path());
    let ca_file = ca.write_pem(certs.path());
    let port = free_port();
    let public = format!("https://localhost:{port}/notarium");
    let s = Setup::with_env(&[("NOTARIUM_PUBLIC_URL", &public)]);
    let Some(nginx) = Nginx::start(port, s.server.url(), "/notarium", Some((&cert, &key))) else {
        return;
    };
    assert_eq!(nginx.url(), public);
    let (status, _, body) = get(&format!("{public}/healthz"), None, Some(ca.pem()));
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));

    let cli = s
        .cli
        .with_server(&public)
        .env("NOTARIUM_VERIFIER_KEY", &s.server.verifier_key());
    s.work.write("app.bin", b"over https");
    // Without the CA, the CLI refuses the proxy's certificate (exit 6: unreachable).
    let run = cli.run(["notarize", "app.bin"]);
    run.expect_code(6);
    // With it (a private PKI's CA bundle), it works.
    let cli = cli.env("NOTARIUM_CA_FILE", ca_file.to_str().unwrap());
    cli.run(["notarize", "app.bin"]).expect_code(0);
    cli.run(["authenticate", "app.bin"]).expect_code(0);
    let info = get(
        &format!("{public}/api/v1/ledgers/default"),
        Some(s.server.admin_token()),
        Some(ca.pem()),
    );
    assert_eq!(
        serde_json::from_str::<Value>(&info.2).unwrap()["origin"],
        format!("localhost:{port}/notarium/default")
    );
}
