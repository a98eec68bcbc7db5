//! Container images as subjects (`notarium_client::oci`) against real registries on
//! 127.0.0.1: Debian's distribution registry 2.8 (no referrers API; anonymous, htpasswd,
//! token auth, TLS) and go-containerregistry's registry with its referrers API on. Images are pushed by the harness
//! (`notarium_e2e::registry`), not by the code under test.

use std::collections::BTreeMap;
use std::path::PathBuf;

use notarium_client::oci::{
    CredentialSources, Digest, Error, Options, Reference, RegistryClient, Via, ARTIFACT_TYPE,
    DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, RECEIPT_MEDIA_TYPE, TLOG_PROOF_MEDIA_TYPE,
};
use notarium_e2e::registry::{digest_of, docker_config, Auth, Registry, TestCa, USER};
use serde_json::{json, Value};

const AMD64: (&str, &str, Option<&str>) = ("linux", "amd64", None);
const RECEIPT: &[u8] = br#"{"entry":"genuine","index":7}"#;
const PROOF: &[u8] = b"c2sp.org/tlog-proof@v1\nindex 7\n\ncheckpoint\n";

/// Options with no credentials from this machine: no docker config, no environment.
fn anonymous() -> Options {
    Options::default()
}

fn with_env_credentials(user: &str, password: &str) -> Options {
    Options::from_vars(|k| match k {
        "NOTARIUM_OCI_USERNAME" => Some(user.to_owned()),
        "NOTARIUM_OCI_PASSWORD" => Some(password.to_owned()),
        _ => None,
    })
    .expect("options")
}

fn client(options: Options) -> RegistryClient {
    RegistryClient::new(options).expect("client")
}

fn reference(s: &str) -> Reference {
    Reference::parse_subject(s).expect("reference")
}

fn digest(s: &str) -> Digest {
    Digest::parse(s).expect("digest")
}

#[tokio::test]
async fn resolves_a_tag_and_a_digest_to_the_bytes_served() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    let pushed = reg.push_image("team/app", "v1", "one", AMD64).await;
    let c = client(anonymous());

    let by_tag = c
        .resolve(&reference(&reg.subject("team/app", "v1")))
        .await
        .expect("resolve tag");
    assert_eq!(by_tag.digest, digest(&pushed));
    assert_eq!(by_tag.media_type, OCI_MANIFEST);
    assert!(!by_tag.is_index() && by_tag.manifests.is_empty());
    let served = reg.get_manifest("team/app", "v1").await.expect("stored");
    assert_eq!(
        digest_of(&served),
        pushed,
        "the digest is of the bytes the registry serves"
    );
    assert_eq!(by_tag.size, served.len() as u64);

    let by_digest = c
        .resolve(&reference(&reg.subject("team/app", &pushed)))
        .await
        .expect("resolve digest");
    assert_eq!(by_digest.digest, by_tag.digest);
    assert_eq!(by_tag.subjects().len(), 1);
    let stored: Value = serde_json::from_slice(&served).unwrap();
    assert_eq!(
        by_tag.config.map(|d| d.to_string()).as_deref(),
        stored["config"]["digest"].as_str()
    );
    assert_eq!(by_tag.subjects()[0].digest, digest(&pushed));
}

#[tokio::test]
async fn an_index_resolves_with_each_platform() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    let platforms = [
        ("linux", "amd64", None),
        ("linux", "arm64", Some("v8")),
        ("linux", "arm", Some("v7")),
    ];
    let c = client(anonymous());
    for docker in [false, true] {
        let tag = if docker { "docker-list" } else { "oci-index" };
        let (index, children) = reg.push_index("multi", tag, &platforms, docker, true).await;
        let mut r = c
            .resolve(&reference(&reg.subject("multi", tag)))
            .await
            .expect("resolve index");
        assert_eq!(r.digest, digest(&index));
        assert!(r.config.is_none() && r.manifests.iter().all(|m| m.config.is_none()));
        c.resolve_platforms(&mut r).await.expect("platforms");
        for (m, child) in r.manifests.iter().zip(&children) {
            let bytes = reg.get_manifest("multi", child).await.unwrap();
            let config: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(
                m.config.map(|d| d.to_string()).as_deref(),
                config["config"]["digest"].as_str(),
                "the platform manifest's config: its image ID"
            );
        }
        assert!(
            r.manifests[3].config.is_none(),
            "attestations are not fetched"
        );
        assert!(r.is_index());
        assert_eq!(
            r.media_type,
            if docker {
                DOCKER_MANIFEST_LIST
            } else {
                OCI_INDEX
            }
        );
        assert_eq!(r.manifests.len(), 4, "three platforms and the attestation");
        assert!(r.manifests[3].attestation);
        let subjects = r.subjects();
        assert_eq!(
            subjects.len(),
            4,
            "the index and three platforms; no attestation"
        );
        assert_eq!(subjects[0].digest, digest(&index));
        let want = ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"];
        for (i, s) in subjects[1..].iter().enumerate() {
            assert_eq!(s.digest, digest(&children[i]));
            assert_eq!(s.attributes["oci.platform"], want[i]);
            assert_eq!(s.attributes["oci.index"], index);
            assert_eq!(s.attributes["oci.os"], "linux");
        }
        assert_eq!(subjects[2].attributes["oci.variant"], "v8");
        assert!(!subjects[1].attributes.contains_key("oci.variant"));
    }
}

#[tokio::test]
async fn a_moved_tag_resolves_to_the_new_digest() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    let c = client(anonymous());
    let subject = reference(&reg.subject("app", "stable"));
    let first = reg.push_image("app", "stable", "first build", AMD64).await;
    assert_eq!(c.resolve(&subject).await.unwrap().digest, digest(&first));
    let second = reg.push_image("app", "stable", "second build", AMD64).await;
    assert_ne!(first, second);
    assert_eq!(
        c.resolve(&subject).await.unwrap().digest,
        digest(&second),
        "no stale answer is cached"
    );
    let pinned = c
        .resolve(&reference(&reg.subject("app", &first)))
        .await
        .unwrap();
    assert_eq!(
        pinned.digest,
        digest(&first),
        "the old digest still resolves by digest"
    );
}

#[tokio::test]
async fn missing_repositories_tags_and_digests_are_not_found() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    reg.push_image("present", "v1", "x", AMD64).await;
    let c = client(anonymous());
    let absent = format!("sha256:{}", "0".repeat(64));
    // distribution 2.8 says MANIFEST_UNKNOWN for a missing repository too.
    for (subject, code) in [
        (reg.subject("absent", "v1"), "MANIFEST_UNKNOWN"),
        (reg.subject("present", "v2"), "MANIFEST_UNKNOWN"),
        (reg.subject("present", &absent), "MANIFEST_UNKNOWN"),
    ] {
        match c.resolve(&reference(&subject)).await {
            Err(Error::NotFound { reference, detail }) => {
                assert_eq!(reference, subject);
                assert!(detail.contains(code), "{subject}: {detail}");
            }
            other => panic!("{subject}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn bytes_that_do_not_match_their_digest_are_refused() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    let pushed = reg.push_image("app", "v1", "x", AMD64).await;
    // Rewrite the stored manifest behind the registry's back: it still serves it under the
    // old digest, and announces that digest in Docker-Content-Digest.
    let path = reg.blob_path(&pushed);
    let mut stored: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    stored["annotations"] = json!({"evil": "yes"});
    std::fs::write(&path, serde_json::to_vec(&stored).unwrap()).unwrap();
    let c = client(anonymous());
    for subject in [reg.subject("app", &pushed), reg.subject("app", "v1")] {
        match c.resolve(&reference(&subject)).await {
            Err(Error::DigestMismatch {
                expected, actual, ..
            }) => {
                assert_eq!(expected, pushed, "{subject}");
                assert_ne!(actual, pushed);
            }
            other => panic!("{subject}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn basic_auth_with_environment_credentials() {
    let Some(reg) = Registry::distribution(Auth::Htpasswd, None).await else {
        return;
    };
    let pushed = reg.push_image("private/app", "v1", "x", AMD64).await;
    let subject = reference(&reg.subject("private/app", "v1"));

    let ok = client(with_env_credentials(USER, reg.password()))
        .resolve(&subject)
        .await
        .expect("basic auth");
    assert_eq!(ok.digest, digest(&pushed));

    match client(anonymous()).resolve(&subject).await {
        Err(Error::Unauthorized { detail, .. }) => {
            assert!(detail.contains("none were found"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    match client(with_env_credentials(USER, "wrong"))
        .resolve(&subject)
        .await
    {
        Err(Error::Unauthorized { detail, .. }) => assert!(detail.contains("refused"), "{detail}"),
        other => panic!("{other:?}"),
    }
    // Credentials scoped to another registry are not sent here.
    let scoped = Options::from_vars(|k| match k {
        "NOTARIUM_OCI_USERNAME" => Some(USER.to_owned()),
        "NOTARIUM_OCI_PASSWORD" => Some(reg.password().to_owned()),
        "NOTARIUM_OCI_REGISTRY" => Some("registry.example.com".to_owned()),
        _ => None,
    })
    .unwrap();
    assert!(matches!(
        client(scoped).resolve(&subject).await,
        Err(Error::Unauthorized { .. })
    ));
}

#[tokio::test]
async fn the_bearer_token_flow_pulls_and_pushes() {
    let Some(reg) = Registry::distribution(Auth::Token, None).await else {
        return;
    };
    let pushed = reg.push_image("private/app", "v1", "x", AMD64).await;
    let subject = reference(&reg.subject("private/app", "v1"));

    let c = client(with_env_credentials(USER, reg.password()));
    assert_eq!(
        c.resolve(&subject).await.expect("token flow").digest,
        digest(&pushed)
    );
    // Push needs a second token (scope pull,push), fetched on the same session.
    let attached = c
        .attach(&subject, RECEIPT, PROOF)
        .await
        .expect("attach with a push token");
    assert!(matches!(attached.via, Via::TagSchema { .. }));
    let found = c.find_receipts(&subject).await.expect("find");
    assert_eq!(found.receipts.len(), 1);
    assert_eq!(found.receipts[0].receipt, RECEIPT);

    match client(with_env_credentials(USER, "wrong"))
        .resolve(&subject)
        .await
    {
        Err(Error::Unauthorized { detail, .. }) => {
            assert!(detail.contains("token server refused"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    match client(anonymous()).resolve(&subject).await {
        Err(Error::Unauthorized { detail, .. }) => {
            assert!(detail.contains("none were found"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn docker_config_credentials_serve_both_kinds_of_auth() {
    for auth in [Auth::Htpasswd, Auth::Token] {
        let Some(reg) = Registry::distribution(auth.clone(), None).await else {
            return;
        };
        let pushed = reg.push_image("app", "v1", "x", AMD64).await;
        let subject = reference(&reg.subject("app", "v1"));
        // docker writes keys with or without a scheme; both find the registry.
        for key in [reg.host().to_owned(), format!("http://{}", reg.host())] {
            let (_dir, path) = docker_config(&key, USER, reg.password(), BTreeMap::new());
            let options = Options {
                credentials: CredentialSources {
                    env: None,
                    docker_config: Some(path),
                },
                ..Options::default()
            };
            let r = client(options)
                .resolve(&subject)
                .await
                .unwrap_or_else(|e| panic!("{auth:?} {key}: {e}"));
            assert_eq!(r.digest, digest(&pushed));
        }
        // A credential store that is not installed is named, not silently skipped.
        let (_dir, path) = docker_config(
            "elsewhere.example.com",
            "u",
            "p",
            BTreeMap::from([("credsStore", json!("notarium-test-absent"))]),
        );
        let options = Options {
            credentials: CredentialSources {
                env: None,
                docker_config: Some(path),
            },
            ..Options::default()
        };
        match client(options).resolve(&subject).await {
            Err(Error::Config(m)) => {
                assert!(m.contains("docker-credential-notarium-test-absent"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn plain_http_is_refused_off_loopback() {
    // Asked for by the settings: refused before any connection.
    let options = Options {
        plain_http: true,
        ..Options::default()
    };
    match client(options)
        .resolve(&reference("oci://registry.example.com/app:v1"))
        .await
    {
        Err(e @ Error::PlainHttpRefused { .. }) => {
            assert!(e.to_string().contains("loopback"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // Asked for by a registry: a token realm on plain HTTP off loopback (a documentation
    // address, which nothing answers) is refused before the credentials could go there.
    let realm = "http://192.0.2.1:9/token".to_owned();
    let Some(reg) = Registry::distribution(Auth::TokenRealm(realm), None).await else {
        return;
    };
    let subject = reference(&reg.subject("app", "v1"));
    match client(with_env_credentials(USER, reg.password()))
        .resolve(&subject)
        .await
    {
        Err(Error::PlainHttpRefused { host, context }) => {
            assert_eq!(host, "192.0.2.1");
            assert_eq!(context, "token realm");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_ca_bundle_lets_a_private_registry_be_trusted() {
    let ca = TestCa::new();
    let Some(reg) = Registry::distribution(Auth::None, Some(&ca)).await else {
        return;
    };
    let pushed = reg.push_image("app", "v1", "x", AMD64).await;
    let subject = reference(&reg.subject("app", "v1"));

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, &ca.ca_pem).unwrap();
    let options = Options {
        ca_bundle: Some(bundle),
        ..Options::default()
    };
    assert_eq!(
        client(options)
            .resolve(&subject)
            .await
            .expect("TLS with the CA")
            .digest,
        digest(&pushed)
    );

    match client(anonymous()).resolve(&subject).await {
        Err(Error::Unreachable { cause, .. }) => {
            assert!(
                cause.contains("over HTTPS") && cause.to_lowercase().contains("certificate"),
                "{cause}"
            )
        }
        other => panic!("{other:?}"),
    }
    let options = Options {
        ca_bundle: Some(PathBuf::from("/nonexistent/ca.pem")),
        ..Options::default()
    };
    assert!(matches!(
        RegistryClient::new(options),
        Err(Error::Config(_))
    ));
}

/// What attach and find must do on either kind of registry.
async fn attach_and_find(reg: &Registry, expect_api: bool) {
    let c = client(anonymous());
    let image = reg.push_image("app", "v1", "attach", AMD64).await;
    let (index, _) = reg
        .push_index(
            "app",
            "multi",
            &[AMD64, ("linux", "arm64", None)],
            false,
            false,
        )
        .await;
    let subject = reference(&reg.subject("app", "v1"));

    let none = c.find_receipts(&subject).await.expect("find before attach");
    assert!(none.receipts.is_empty());
    assert_eq!(none.subject, digest(&image));

    let attached = c.attach(&subject, RECEIPT, PROOF).await.expect("attach");
    assert_eq!(attached.subject, digest(&image));
    let want_via = if expect_api {
        Via::ReferrersApi
    } else {
        Via::TagSchema {
            tag: format!("sha256-{}", digest(&image).hex()),
        }
    };
    assert_eq!(attached.via, want_via);

    // The artifact as the registry stores it follows the OCI 1.1 artifact guidance.
    let stored = reg
        .get_manifest("app", &attached.artifact.to_string())
        .await
        .expect("artifact stored");
    let m: Value = serde_json::from_slice(&stored).unwrap();
    assert_eq!(m["artifactType"], ARTIFACT_TYPE);
    assert_eq!(m["subject"]["digest"], image);
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(m["layers"][0]["mediaType"], RECEIPT_MEDIA_TYPE);
    assert_eq!(m["layers"][1]["mediaType"], TLOG_PROOF_MEDIA_TYPE);
    if !expect_api {
        let tag = reg
            .get_manifest("app", &format!("sha256-{}", digest(&image).hex()))
            .await
            .expect("fallback tag");
        let listed: Value = serde_json::from_slice(&tag).unwrap();
        assert_eq!(listed["mediaType"], OCI_INDEX);
        assert_eq!(
            listed["manifests"][0]["digest"],
            attached.artifact.to_string()
        );
        assert_eq!(listed["manifests"][0]["artifactType"], ARTIFACT_TYPE);
    }

    // Attaching the same bytes again changes nothing; other bytes add a second receipt.
    let again = c
        .attach(&subject, RECEIPT, PROOF)
        .await
        .expect("attach again");
    assert_eq!(again.artifact, attached.artifact);
    let other_receipt: &[u8] = br#"{"entry":"second","index":8}"#;
    let second = c
        .attach(&subject, other_receipt, PROOF)
        .await
        .expect("second receipt");
    let found = c.find_receipts(&subject).await.expect("find");
    assert_eq!(found.via, want_via);
    let mut got: Vec<(Digest, Vec<u8>, Option<Vec<u8>>)> = found
        .receipts
        .into_iter()
        .map(|r| (r.artifact, r.receipt, r.tlog_proof))
        .collect();
    got.sort();
    let mut want = vec![
        (attached.artifact, RECEIPT.to_vec(), Some(PROOF.to_vec())),
        (
            second.artifact,
            other_receipt.to_vec(),
            Some(PROOF.to_vec()),
        ),
    ];
    want.sort();
    assert_eq!(got, want);

    // By digest, the same receipts; an index takes receipts of its own.
    let pinned = c
        .find_receipts(&reference(&reg.subject("app", &image)))
        .await
        .unwrap();
    assert_eq!(pinned.receipts.len(), 2);
    let index_subject = reference(&reg.subject("app", "multi"));
    let on_index = c
        .attach(&index_subject, RECEIPT, PROOF)
        .await
        .expect("attach to an index");
    assert_eq!(on_index.subject, digest(&index));
    let found = c.find_receipts(&index_subject).await.unwrap();
    assert_eq!(found.receipts.len(), 1);
    assert_eq!(found.receipts[0].artifact, on_index.artifact);
    assert_eq!(
        c.find_receipts(&subject).await.unwrap().receipts.len(),
        2,
        "the image's receipts are its own"
    );

    // Empty receipts are refused before anything is pushed.
    assert!(matches!(
        c.attach(&subject, b"", PROOF).await,
        Err(Error::Malformed { .. })
    ));
}

#[tokio::test]
async fn attach_and_find_without_the_referrers_api() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    attach_and_find(&reg, false).await;
}

#[tokio::test]
async fn attach_and_find_with_the_referrers_api() {
    let Some(reg) = Registry::with_referrers().await else {
        return;
    };
    attach_and_find(&reg, true).await;
}

/// An attacker with push access stores a receipt of their own: find hands it back byte for
/// byte (it is the verification's job to refuse it), beside or instead of the genuine one.
async fn tampered(reg: &Registry, api: bool) {
    let c = client(anonymous());
    let image = reg.push_image("app", "v1", "tamper", AMD64).await;
    let subject = reference(&reg.subject("app", "v1"));
    let genuine = c.attach(&subject, RECEIPT, PROOF).await.expect("attach");

    let forged: &[u8] = br#"{"entry":"genuine","index":7,"status":"trusted"}"#;
    let empty = reg.push_blob("app", b"{}").await;
    let forged_digest = reg.push_blob("app", forged).await;
    let proof_digest = reg.push_blob("app", PROOF).await;
    let image_bytes = reg.get_manifest("app", &image).await.unwrap();
    let artifact = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [
            {"mediaType": RECEIPT_MEDIA_TYPE, "digest": forged_digest, "size": forged.len()},
            {"mediaType": TLOG_PROOF_MEDIA_TYPE, "digest": proof_digest, "size": PROOF.len()},
        ],
        "subject": {"mediaType": OCI_MANIFEST, "digest": image, "size": image_bytes.len()},
    }))
    .unwrap();
    let artifact_digest = digest_of(&artifact);
    reg.push_manifest("app", &artifact_digest, &artifact, OCI_MANIFEST)
        .await;
    if !api {
        // Without the API, the attacker rewrites the referrers tag to list only theirs.
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": artifact_digest, "size": artifact.len(), "artifactType": ARTIFACT_TYPE}],
        }))
        .unwrap();
        reg.push_manifest(
            "app",
            &format!("sha256-{}", digest(&image).hex()),
            &index,
            OCI_INDEX,
        )
        .await;
    }
    let found = c.find_receipts(&subject).await.expect("find");
    let forged_found = found
        .receipts
        .iter()
        .find(|r| r.artifact == digest(&artifact_digest))
        .expect("the forged receipt is returned");
    assert_eq!(forged_found.receipt, forged, "returned as stored");
    let genuine_found = found
        .receipts
        .iter()
        .any(|r| r.artifact == genuine.artifact);
    assert_eq!(
        genuine_found, api,
        "the API lists both; the rewritten tag only the forgery"
    );
}

#[tokio::test]
async fn a_tampered_receipt_is_returned_as_stored_without_the_api() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    tampered(&reg, false).await;
}

#[tokio::test]
async fn a_tampered_receipt_is_returned_as_stored_with_the_api() {
    let Some(reg) = Registry::with_referrers().await else {
        return;
    };
    tampered(&reg, true).await;
}

#[tokio::test]
async fn a_receipt_blob_changed_in_storage_is_a_digest_mismatch() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    reg.push_image("app", "v1", "x", AMD64).await;
    let subject = reference(&reg.subject("app", "v1"));
    let c = client(anonymous());
    c.attach(&subject, RECEIPT, PROOF).await.expect("attach");
    std::fs::write(
        reg.blob_path(&digest_of(RECEIPT)),
        br#"{"entry":"swapped","index":7}"#,
    )
    .unwrap();
    match c.find_receipts(&subject).await {
        Err(Error::DigestMismatch { expected, .. }) => assert_eq!(expected, digest_of(RECEIPT)),
        other => panic!("{other:?}"),
    }
}
