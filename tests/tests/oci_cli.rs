//! Container images as subjects of the real `notarium` CLI (docs/oci.md) against a real
//! `notariumd` and real registries on 127.0.0.1 (`notarium_e2e::registry`: Debian's
//! distribution registry without the referrers API — anonymous, htpasswd, token auth, TLS —
//! and go-containerregistry's with it). Images are pushed by the harness through the
//! distribution API: a single-platform image and a multi-platform index.
//!
//! Shown: notarizing by tag and by digest, an index with each platform; authenticate against
//! what the registry serves now (a moved tag is `unknown`, exit 2, naming the digest notarized
//! under the tag); each near miss; credentials for htpasswd and token registries; the CA of
//! `--ca-file`; receipts attached beside the image and verified offline with `notariumd`
//! stopped, on registries with and without the referrers API; a forged or rewritten attached
//! receipt refused (exit 5).

use notarium_e2e::registry::{digest_of, Auth, Registry, TestCa, OCI_INDEX, OCI_MANIFEST, USER};
use notarium_e2e::{Cli, Run, Setup};
use serde_json::{json, Value};
use tempfile::TempDir;

const AMD64: (&str, &str, Option<&str>) = ("linux", "amd64", None);
const ARM64: (&str, &str, Option<&str>) = ("linux", "arm64", Some("v8"));
const ARTIFACT_TYPE: &str = "application/vnd.notarium.receipt.v1+json";
const TLOG_PROOF: &str = "application/vnd.notarium.tlog-proof.v1";

/// The setup's CLI with no docker configuration of this machine's user in the way.
struct Images {
    setup: Setup,
    cli: Cli,
    docker: TempDir,
}

impl Images {
    fn new() -> Images {
        let setup = Setup::new();
        let docker = tempfile::tempdir().expect("temporary directory");
        let cli = setup
            .cli
            .clone()
            .env("DOCKER_CONFIG", docker.path().to_str().expect("UTF-8 path"));
        Images { setup, cli, docker }
    }

    fn run(&self, args: &[&str], code: i32) -> Run {
        run(&self.cli, args, code)
    }
}

fn run(cli: &Cli, args: &[&str], code: i32) -> Run {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let r = cli.run(&all);
    r.expect_code(code);
    r
}

fn hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").expect("a sha256 digest")
}

fn details(r: &Value) -> String {
    r["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The config digest (local image ID) of the manifest `digest` in `repo`.
async fn config_of(reg: &Registry, repo: &str, digest: &str) -> String {
    let bytes = reg.get_manifest(repo, digest).await.expect("manifest");
    let m: Value = serde_json::from_slice(&bytes).expect("JSON");
    m["config"]["digest"].as_str().expect("config").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_is_notarized_and_authenticated_by_tag_and_by_digest() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    let digest = reg.push_image("team/app", "v1", "one", AMD64).await;
    let config = config_of(&reg, "team/app", &digest).await;
    let t = Images::new();
    let by_tag = reg.subject("team/app", "v1");

    let n = t.run(&["notarize", &by_tag], 0);
    let rows = n.results();
    assert_eq!(rows.len(), 1, "{n}");
    assert_eq!(rows[0]["subject"], by_tag.as_str());
    assert_eq!(
        rows[0]["sha256"],
        hex(&digest),
        "the manifest digest served"
    );
    assert_eq!(rows[0]["image"]["digest"], digest.as_str());
    assert_eq!(rows[0]["image"]["media_type"], OCI_MANIFEST);
    assert_eq!(rows[0]["image"]["served"], true);

    // What the ledger records: the name without the digest, the kind, the attributes.
    let i = t.run(&["inspect", &by_tag], 0);
    let entries = i.results();
    assert_eq!(entries.len(), 1, "{i}");
    let want = format!("oci://{}/team/app:v1", reg.host());
    assert_eq!(entries[0]["subject"], want.as_str());
    let attrs = &entries[0]["attributes"];
    assert_eq!(attrs["oci.repository"], format!("{}/team/app", reg.host()));
    assert_eq!(attrs["oci.tag"], "v1");
    assert_eq!(attrs["oci.config"], config.as_str());
    assert_eq!(attrs["oci.media_type"], OCI_MANIFEST);

    for subject in [by_tag.clone(), reg.subject("team/app", &digest)] {
        let a = t.run(&["authenticate", &subject], 0);
        assert_eq!(a.results()[0]["status"], "trusted", "{a}");
        assert_eq!(a.results()[0]["sha256"], hex(&digest));
    }
    t.run(&["authenticate", "--hash", hex(&digest)], 0);

    // By digest: recorded under the repository's name, without a tag.
    let other = reg.push_image("team/app", "v2", "two", AMD64).await;
    let pinned = reg.subject("team/app", &other);
    t.run(&["notarize", &pinned], 0);
    let i = t.run(&["inspect", &pinned], 0);
    assert_eq!(
        i.results()[0]["subject"],
        format!("oci://{}/team/app", reg.host())
    );
    assert!(i.results()[0]["attributes"].get("oci.tag").is_none());
    t.run(&["authenticate", &reg.subject("team/app", "v2")], 0);

    // On stdin, one a line, as the GitLab and Jenkins plugins pass subjects, mixed with files.
    let file = t.setup.work.write("dist/app.bin", b"app\n");
    let lines = format!("{by_tag}\n{}\n", file.display());
    let a = t.cli.run_with_stdin(
        ["authenticate", "-", "--output", "json"],
        Some(lines.as_bytes()),
    );
    a.expect_code(2);
    let rows = a.results();
    assert_eq!(rows[0]["status"], "trusted", "{a}");
    assert_eq!(rows[0]["sha256"], hex(&digest));
    assert_eq!(
        rows[1]["status"], "unknown",
        "the file was never notarized: {a}"
    );

    // A tag that does not exist is an error, not a verdict.
    let missing = t.run(&["authenticate", &reg.subject("team/app", "v9")], 64);
    assert!(missing.stdout.contains("MANIFEST_UNKNOWN"), "{missing}");
    // Receipts of images get file names of their own.
    let dir = t.setup.work.path().join("receipts");
    let n = t.run(
        &["notarize", &by_tag, "--receipts", dir.to_str().unwrap()],
        0,
    );
    let file = n.results()[0]["receipt"].as_str().unwrap().to_owned();
    let stem: String = want
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    assert!(file.ends_with(&format!("/{stem}.receipt.json")), "{file}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_is_notarized_with_each_platform() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    let (index, platforms) = reg
        .push_index("multi", "v1", &[AMD64, ARM64], false, true)
        .await;
    let t = Images::new();
    let subject = reg.subject("multi", "v1");
    let n = t.run(&["notarize", &subject], 0);
    let rows = n.results();
    assert_eq!(
        rows.len(),
        3,
        "the index and two platforms, no attestation: {n}"
    );
    assert_eq!(rows[0]["subject"], subject.as_str());
    assert_eq!(rows[0]["sha256"], hex(&index));
    assert_eq!(rows[0]["image"]["media_type"], OCI_INDEX);
    for (row, (digest, platform)) in rows[1..]
        .iter()
        .zip(platforms.iter().zip(["linux/amd64", "linux/arm64/v8"]))
    {
        assert_eq!(row["subject"], format!("{subject} ({platform})"));
        assert_eq!(row["sha256"], hex(digest));
        assert_eq!(row["image"]["platform"], platform);
        assert_eq!(row["image"]["index"], index.as_str());
    }
    let i = t.run(&["inspect", &subject], 0);
    let entries = i.results();
    assert_eq!(entries.len(), 3, "{i}");
    assert_eq!(entries[1]["attributes"]["oci.index"], index.as_str());
    assert_eq!(entries[2]["attributes"]["oci.platform"], "linux/arm64/v8");
    assert_eq!(entries[2]["attributes"]["oci.variant"], "v8");
    assert_eq!(
        entries[2]["attributes"]["oci.config"],
        config_of(&reg, "multi", &platforms[1]).await.as_str()
    );

    let a = t.run(&["authenticate", &subject], 0);
    assert_eq!(a.results().len(), 3);
    assert!(a.results().iter().all(|r| r["status"] == "trusted"), "{a}");
    // A platform by its digest, as a node that pulled it would name it.
    t.run(&["authenticate", &reg.subject("multi", &platforms[1])], 0);

    // Untrusting the tag untrusts every platform with it.
    t.run(&["untrust", &subject], 0);
    let a = t.run(&["authenticate", &reg.subject("multi", &platforms[0])], 1);
    assert_eq!(a.results()[0]["status"], "untrusted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_tag_is_unknown_and_names_the_digest_notarized_under_it() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    let first = reg.push_image("app", "stable", "first build", AMD64).await;
    let t = Images::new();
    let subject = reg.subject("app", "stable");
    let n = t.run(&["notarize", &subject], 0);
    let time = n.results()[0]["time"].as_str().unwrap().to_owned();

    let second = reg.push_image("app", "stable", "second build", AMD64).await;
    let a = t.run(&["authenticate", &subject], 2);
    let row = &a.results()[0];
    assert_eq!(row["status"], "unknown");
    assert_eq!(row["sha256"], hex(&second), "what the registry serves now");
    let miss = &row["near_misses"][0];
    assert_eq!(miss["kind"], "tag_moved", "{a}");
    assert_eq!(miss["served"], second.as_str());
    assert_eq!(miss["notarized"]["digest"], first.as_str());
    assert_eq!(miss["notarized"]["time"], time.as_str());
    assert_eq!(miss["notarized"]["signer"], t.setup.writer.id.as_str());
    assert_eq!(miss["notarized"]["status"], "trusted");
    assert!(
        details(row).contains(&format!("notarized at {first}")),
        "{a}"
    );

    // In text, the same line.
    let text = t.cli.run(["authenticate", &subject]);
    text.expect_code(2);
    assert!(text.stdout.contains("the tag moved"), "{text}");
    assert!(text.stdout.contains(&first), "{text}");

    // Pinned to the digest notarized, the image still authenticates.
    t.run(&["authenticate", &reg.subject("app", &first)], 0);
    // Once the new digest is notarized too, no near miss.
    t.run(&["notarize", &subject], 0);
    let a = t.run(&["authenticate", &subject], 0);
    assert!(a.results()[0].get("near_misses").is_none(), "{a}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_image_id_is_named_as_a_near_miss() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    let digest = reg.push_image("app", "v1", "x", AMD64).await;
    let id = config_of(&reg, "app", &digest).await;
    let t = Images::new();
    t.run(&["notarize", &reg.subject("app", "v1")], 0);

    // The registry serves no manifest with the image ID: looked up as given, unknown, and
    // the near miss names the manifest notarized with that config.
    let by_id = reg.subject("app", &id);
    let a = t.run(&["authenticate", &by_id], 2);
    let row = &a.results()[0];
    assert_eq!(row["image"]["served"], false);
    let miss = &row["near_misses"][0];
    assert_eq!(miss["kind"], "image_id", "{a}");
    assert_eq!(miss["image_id"], id.as_str());
    assert_eq!(miss["manifests"][0]["digest"], digest.as_str());
    assert!(details(row).contains("local image ID"), "{a}");

    // The same for a bare --hash of it.
    let a = t.run(&["authenticate", "--hash", hex(&id)], 2);
    assert_eq!(a.results()[0]["near_misses"][0]["kind"], "image_id", "{a}");

    // Notarizing it is refused before anything is recorded, saying why.
    let n = t.run(&["notarize", &by_id], 64);
    assert!(n.stdout.contains("local image ID"), "{n}");
    t.run(&["authenticate", "--hash", hex(&id)], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_and_its_platforms_are_near_misses_of_each_other() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    let (index, platforms) = reg
        .push_index("app", "multi", &[AMD64, ARM64], false, false)
        .await;
    let t = Images::new();
    let subject = reg.subject("app", "multi");

    // Each platform notarized on its own, the index never.
    for p in &platforms {
        t.run(&["notarize", &reg.subject("app", p)], 0);
    }
    let a = t.run(&["authenticate", &subject], 2);
    let rows = a.results();
    assert_eq!(rows[0]["status"], "unknown");
    let miss = &rows[0]["near_misses"][0];
    assert_eq!(miss["kind"], "platforms_notarized", "{a}");
    assert_eq!(miss["platforms"][0]["digest"], platforms[0].as_str());
    assert_eq!(miss["platforms"][1]["platform"], "linux/arm64/v8");
    assert_eq!(miss["platforms"][1]["status"], "trusted");
    assert!(rows[1..].iter().all(|r| r["status"] == "trusted"));

    // The index notarized by its digest alone, its platforms never.
    let (index2, _) = reg
        .push_index(
            "app",
            "multi2",
            &[AMD64, ("linux", "s390x", None)],
            false,
            false,
        )
        .await;
    t.run(
        &["notarize", "--hash", hex(&index2), "--name", "app index"],
        0,
    );
    let a = t.run(&["authenticate", &reg.subject("app", "multi2")], 2);
    let rows = a.results();
    assert_eq!(rows[0]["status"], "trusted");
    assert_eq!(rows[2]["status"], "unknown");
    let miss = &rows[2]["near_misses"][0];
    assert_eq!(miss["kind"], "index_notarized", "{a}");
    assert_eq!(miss["index"], index2.as_str());
    assert_eq!(miss["status"], "trusted");
    assert_ne!(index, index2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htpasswd_and_token_registries_take_credentials() {
    for auth in [Auth::Htpasswd, Auth::Token] {
        let Some(reg) = Registry::distribution(auth.clone(), None).await else {
            return;
        };
        let digest = reg.push_image("private/app", "v1", "x", AMD64).await;
        let subject = reg.subject("private/app", "v1");
        let t = Images::new();
        let anonymous = t.run(&["notarize", &subject], 7);
        assert!(
            anonymous.stdout.contains("authentication failed"),
            "{auth:?} {anonymous}"
        );
        let with = t
            .cli
            .clone()
            .env("NOTARIUM_OCI_USERNAME", USER)
            .env("NOTARIUM_OCI_PASSWORD", reg.password());
        let n = run(&with, &["notarize", &subject, "--attach"], 0);
        assert_eq!(n.results()[0]["sha256"], hex(&digest), "{auth:?}");
        assert_eq!(n.results()[0]["image"]["attached"]["via"], "tag_schema");
        run(&with, &["authenticate", &subject], 0);
        let key = t.setup.server.verifier_key();
        run(
            &with,
            &[
                "authenticate",
                &subject,
                "--offline",
                "--verifier-key",
                &key,
            ],
            0,
        );
        let wrong = t
            .cli
            .clone()
            .env("NOTARIUM_OCI_USERNAME", USER)
            .env("NOTARIUM_OCI_PASSWORD", "wrong");
        run(&wrong, &["authenticate", &subject], 7);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ca_file_is_trusted_for_registries() {
    let ca = TestCa::new();
    let Some(reg) = Registry::distribution(Auth::None, Some(&ca)).await else {
        return;
    };
    reg.push_image("app", "v1", "x", AMD64).await;
    let t = Images::new();
    let subject = reg.subject("app", "v1");
    let untrusted = t.run(&["notarize", &subject], 6);
    assert!(
        untrusted.stdout.to_lowercase().contains("certificate"),
        "{untrusted}"
    );
    let pem = t.setup.work.write("ca.pem", ca.ca_pem.as_bytes());
    let with = t.cli.clone().env("NOTARIUM_CA_FILE", pem.to_str().unwrap());
    run(&with, &["notarize", &subject], 0);
    run(&with, &["authenticate", &subject], 0);
}

/// Notarize with `--attach`, stop the server, verify offline from what is attached; then an
/// attacker with push access attaches a forged receipt: exit 5.
async fn attached_receipts_verify_offline(reg: &Registry, api: bool) {
    let (index, platforms) = reg
        .push_index("app", "v1", &[AMD64, ARM64], false, false)
        .await;
    let mut t = Images::new();
    let subject = reg.subject("app", "v1");
    let key = t.setup.server.verifier_key();
    let offline = [
        "authenticate",
        subject.as_str(),
        "--offline",
        "--verifier-key",
        &key,
    ];

    // Nothing attached yet: unknown, offline.
    let none = t.run(&offline, 2);
    assert!(
        details(&none.results()[0]).contains("no receipt is attached"),
        "{none}"
    );

    let n = t.run(&["notarize", &subject, "--attach"], 0);
    let via = if api { "referrers_api" } else { "tag_schema" };
    for row in n.results() {
        assert_eq!(row["image"]["attached"]["via"], via, "{n}");
        assert!(details(&row).contains("attached: receipt artifact"), "{n}");
    }
    // What is attached to the index: the receipt and the tlog-proof, referring to it.
    let artifact = n.results()[0]["image"]["attached"]["artifact"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored: Value =
        serde_json::from_slice(&reg.get_manifest("app", &artifact).await.unwrap()).unwrap();
    assert_eq!(stored["artifactType"], ARTIFACT_TYPE);
    assert_eq!(stored["subject"]["digest"], index.as_str());
    assert_eq!(stored["layers"][1]["mediaType"], TLOG_PROOF);

    t.setup.server.stop();
    let a = t.run(&offline, 0);
    let rows = a.results();
    assert_eq!(rows.len(), 3, "{a}");
    for (row, digest) in rows.iter().zip([&index, &platforms[0], &platforms[1]]) {
        assert_eq!(row["status"], "trusted", "{a}");
        assert_eq!(row["sha256"], hex(digest));
        assert_eq!(row["image"]["receipts"][0]["outcome"], "verified");
        assert!(
            details(row).contains("receipt(s) attached beside the image"),
            "{a}"
        );
    }
    // Without the pinned key (and no state of this ledger), nothing is believed.
    let stranger = t.cli.with_fresh_state();
    let r = run(&stranger, &["authenticate", &subject, "--offline"], 64);
    assert!(r.stdout.contains("verifier key"), "{r}");

    // A forged receipt beside the index: the genuine one with its entry changed.
    let blob = stored["layers"][0]["digest"].as_str().unwrap();
    let original = read_blob(reg, "app", blob).await;
    let mut forged: Value = serde_json::from_slice(&original).unwrap();
    forged["entry"]["status"] = json!("trusted");
    forged["entry"]["name"] = json!("forged");
    let forged = serde_json::to_vec_pretty(&forged).unwrap();
    forge(reg, "app", &index, &forged, api).await;
    let a = t.run(&offline, 5);
    let row = &a.results()[0];
    assert_eq!(row["status"], "verification failed");
    assert!(details(row).contains("fails verification"), "{a}");
    assert!(
        row["image"]["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["outcome"] == "failed"),
        "{a}"
    );
}

async fn read_blob(reg: &Registry, repo: &str, digest: &str) -> Vec<u8> {
    let url = format!("http://{}/v2/{repo}/blobs/{digest}", reg.host());
    let bytes = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .expect("blob")
        .bytes()
        .await
        .unwrap()
        .to_vec();
    assert_eq!(digest_of(&bytes), digest);
    bytes
}

/// Pushes `receipt` as an artifact referring to `subject`, as anyone with push access can;
/// without the referrers API, rewrites the referrers tag to list it alone.
async fn forge(reg: &Registry, repo: &str, subject: &str, receipt: &[u8], api: bool) {
    let empty = reg.push_blob(repo, b"{}").await;
    let layer = reg.push_blob(repo, receipt).await;
    let subject_bytes = reg.get_manifest(repo, subject).await.unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": ARTIFACT_TYPE, "digest": layer, "size": receipt.len()}],
        "subject": {"mediaType": OCI_INDEX, "digest": subject, "size": subject_bytes.len()},
    }))
    .unwrap();
    let digest = digest_of(&manifest);
    reg.push_manifest(repo, &digest, &manifest, OCI_MANIFEST)
        .await;
    if !api {
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest, "size": manifest.len(), "artifactType": ARTIFACT_TYPE}],
        }))
        .unwrap();
        reg.push_manifest(repo, &format!("sha256-{}", hex(subject)), &index, OCI_INDEX)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_receipts_verify_offline_without_the_referrers_api() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    attached_receipts_verify_offline(&reg, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_receipts_verify_offline_with_the_referrers_api() {
    let Some(reg) = Registry::with_referrers().await else {
        return;
    };
    attached_receipts_verify_offline(&reg, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_rewritten_in_the_registry_and_a_later_untrust_are_seen_offline() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    let digest = reg.push_image("app", "v1", "x", AMD64).await;
    let mut t = Images::new();
    let subject = reg.subject("app", "v1");
    let key = t.setup.server.verifier_key();
    let offline = [
        "authenticate",
        subject.as_str(),
        "--offline",
        "--verifier-key",
        &key,
    ];
    let n = t.run(&["notarize", &subject, "--attach"], 0);
    t.run(&offline, 0);

    // Untrusted later, attached too: the latest receipt decides.
    t.run(&["untrust", &subject, "--attach"], 0);
    t.setup.server.stop();
    let a = t.run(&offline, 1);
    let row = &a.results()[0];
    assert_eq!(row["status"], "untrusted");
    assert_eq!(row["image"]["receipts"].as_array().unwrap().len(), 2, "{a}");

    // The stored receipt blob rewritten behind the registry's back.
    let artifact = n.results()[0]["image"]["attached"]["artifact"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored: Value =
        serde_json::from_slice(&reg.get_manifest("app", &artifact).await.unwrap()).unwrap();
    let blob = stored["layers"][0]["digest"].as_str().unwrap();
    let path = reg.blob_path(blob);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text = text.replace("\"trusted\"", "\"unsupported\"");
    std::fs::write(&path, text).unwrap();
    let a = t.cli.run([
        "authenticate",
        &subject,
        "--offline",
        "--verifier-key",
        &key,
    ]);
    a.expect_code(5);
    assert!(a.stderr.contains(blob), "{a}");
    assert_eq!(n.results()[0]["sha256"], hex(&digest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_flags_that_do_not_apply_are_refused() {
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    reg.push_image("app", "v1", "x", AMD64).await;
    let t = Images::new();
    let subject = reg.subject("app", "v1");
    let file = t.setup.work.write("a.bin", b"a");
    let cases: &[(&[&str], &str)] = &[
        (&["notarize", &subject, "--name", "x"], "--name"),
        (&["notarize", &subject, "--attr", "oci.tag=evil"], "oci."),
        (
            &["notarize", file.to_str().unwrap(), "--attach"],
            "--attach",
        ),
        (
            &["authenticate", file.to_str().unwrap(), "--offline"],
            "--offline",
        ),
        (&["authenticate", "oci://r.io/App:v1"], "lowercase"),
    ];
    for (args, needle) in cases {
        let r = t.run(args, 64);
        assert!(r.stdout.contains(needle), "{r}");
    }
}

/// The GitHub Action's `subject-name` and `subject-digest` (as `actions/attest` takes them)
/// notarize `oci://NAME@DIGEST`; one without the other is refused before notarium runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_github_action_takes_subject_name_and_digest() {
    use notarium_e2e::github::{action_dir, path_with, run_step};
    let Some(reg) = Registry::distribution(Auth::None, None).await else {
        return;
    };
    let digest = reg.push_image("team/app", "v1", "x", AMD64).await;
    let t = Images::new();
    let state = tempfile::tempdir().expect("temporary directory");
    let name = format!("{}/team/app", reg.host());
    let path = path_with(&notarium_e2e::bin_dir());
    let step = |name: &str, digest: &str| {
        run_step(
            &action_dir(),
            "run",
            t.setup.work.path(),
            &[
                ("NOTARIUM_API_KEY", t.setup.writer.secret.as_str()),
                ("INPUT_MODE", "notarize"),
                ("INPUT_SUBJECT_NAME", name),
                ("INPUT_SUBJECT_DIGEST", digest),
                ("INPUT_SERVER", t.setup.server.url()),
                ("INPUT_STATE_DIR", state.path().to_str().unwrap()),
                ("DOCKER_CONFIG", t.docker.path().to_str().unwrap()),
                ("GITHUB_JOB", "build"),
            ],
            &path,
        )
    };
    let run = step(&name, &digest);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.outputs["status"], "notarized", "{run}");
    let doc: Value = serde_json::from_str(&run.outputs["json"]).expect("the json output");
    assert_eq!(
        doc["results"][0]["subject"],
        format!("oci://{name}@{digest}")
    );
    assert_eq!(doc["results"][0]["sha256"], hex(&digest));
    t.run(&["authenticate", &reg.subject("team/app", "v1")], 0);

    let half = step(&name, "");
    assert_eq!(half.outputs["status"], "usage", "{half}");
    assert!(half.stdout.contains("subject-digest"), "{half}");
}
