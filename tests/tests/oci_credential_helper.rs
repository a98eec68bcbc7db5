//! docker credential helpers (`credHelpers`, `credsStore`) against a real htpasswd registry.
//! The helper is a shell script speaking docker's helper protocol (`get`, the server address
//! on stdin, `{"ServerURL","Username","Secret"}` on stdout, "credentials not found" when it
//! has none): the real helpers keep secrets in a desktop keyring this machine does not have.
//!
//! One test in its own test binary, because helpers are found on `PATH`, which it changes.

use std::os::unix::fs::PermissionsExt;

use notarium_client::oci::{CredentialSources, Error, Options, Reference, RegistryClient};
use notarium_e2e::registry::{Auth, Registry, USER};
use serde_json::json;

#[tokio::test]
async fn credential_helpers_are_run_as_docker_runs_them() {
    let Some(reg) = Registry::distribution(Auth::Htpasswd, None).await else {
        return;
    };
    let pushed = reg
        .push_image("app", "v1", "helper", ("linux", "amd64", None))
        .await;
    let subject = Reference::parse_subject(&reg.subject("app", "v1")).unwrap();

    let bin = tempfile::tempdir().unwrap();
    let log = bin.path().join("asked");
    let script = format!(
        r#"#!/bin/sh
[ "$1" = get ] || exit 2
read -r server || true
echo "$server" >> '{log}'
case "$server" in
  '{host}') printf '{{"ServerURL":"%s","Username":"{USER}","Secret":"{password}"}}' "$server" ;;
  token.example.com) printf '{{"ServerURL":"%s","Username":"<token>","Secret":"refresh"}}' "$server" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
"#,
        log = log.display(),
        host = reg.host(),
        password = reg.password(),
    );
    let helper = bin.path().join("docker-credential-notarium-test");
    std::fs::write(&helper, script).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::set_var("PATH", format!("{}:{path}", bin.path().display()));

    let with_config = |config: serde_json::Value| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        std::fs::write(&file, config.to_string()).unwrap();
        let options = Options {
            credentials: CredentialSources {
                env: None,
                docker_config: Some(file),
            },
            ..Options::default()
        };
        (dir, RegistryClient::new(options).unwrap())
    };

    for config in [
        json!({"credHelpers": {reg.host(): "notarium-test"}}),
        json!({"credsStore": "notarium-test"}),
    ] {
        let (_dir, c) = with_config(config.clone());
        let r = c
            .resolve(&subject)
            .await
            .unwrap_or_else(|e| panic!("{config}: {e}"));
        assert_eq!(r.digest.to_string(), pushed);
    }
    let asked = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        asked.lines().collect::<Vec<_>>(),
        [reg.host(), reg.host()],
        "the server address on stdin"
    );

    let (_dir, c) =
        with_config(json!({"credHelpers": {reg.host(): "notarium-test"}, "credsStore": "absent"}));
    assert!(
        c.resolve(&subject).await.is_ok(),
        "credHelpers wins over credsStore"
    );
    // A helper only for another registry: anonymous here, which this registry refuses.
    let (_dir, c) = with_config(json!({"credHelpers": {"elsewhere.example.com": "notarium-test"}}));
    assert!(matches!(
        c.resolve(&subject).await,
        Err(Error::Unauthorized { .. })
    ));

    // An identity token is refused rather than sent as a password.
    let sources = CredentialSources {
        env: None,
        docker_config: Some({
            let f = bin.path().join("token.json");
            std::fs::write(&f, json!({"credsStore": "notarium-test"}).to_string()).unwrap();
            f
        }),
    };
    match sources.lookup("token.example.com") {
        Err(Error::Config(m)) => assert!(m.contains("identity token"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        sources.lookup("unknown.example.com").unwrap(),
        None,
        "credentials not found: anonymous"
    );
}
