//! End-to-end tests on a real `notariumd` process on 127.0.0.1, port 0: the README's curl
//! walkthrough, first start, configuration layering, graceful shutdown on SIGTERM, and
//! verification of every kind of answer with the core verifier.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use notarium_core::merkle::{verify_consistency, RightEdge};
use notarium_core::tiles::{decode_bundle, encode_index, tiles_at_level};
use notarium_core::{
    leaf_hash, Hash, Receipt, SignedCheckpoint, TreeSize, UnverifiedCheckpoint, VerifierKey,
};
use serde_json::{json, Value};

const L: &str = "/api/v1/ledgers/default";

fn start(dir: &std::path::Path) -> Daemon {
    Daemon::start(dir, &[("NOTARIUM_ADMIN_TOKEN", ADMIN)])
}

fn new_key(d: &Daemon, role: &str) -> String {
    let r = d.post(
        &format!("{L}/keys"),
        Some(ADMIN),
        &json!({"name": "test", "role": role}),
    );
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()["key"].as_str().unwrap().to_owned()
}

/// The verifier key, pinned once from the ledger description.
fn pinned_key(d: &Daemon) -> VerifierKey {
    VerifierKey::parse(
        d.get(L, Some(ADMIN)).json()["verifier_key"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
}

fn checkpoint(d: &Daemon, key: &VerifierKey) -> SignedCheckpoint {
    UnverifiedCheckpoint::parse(&d.get(&format!("{L}/checkpoint"), Some(ADMIN)).text())
        .unwrap()
        .verify(key)
        .unwrap()
}

fn readme_walkthrough() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("<!-- walkthrough:start -->")
        .expect("walkthrough start marker");
    let end = readme
        .find("<!-- walkthrough:end -->")
        .expect("walkthrough end marker");
    let block = &readme[start..end];
    let code = block.split_once("```sh\n").expect("a sh block").1;
    code.rsplit_once("```").expect("closing fence").0.to_owned()
}

on_both_stores_sync!(the_readme_curl_walkthrough_runs);
fn the_readme_curl_walkthrough_runs(store: Store) {
    for tool in ["curl", "jq", "sha256sum"] {
        let ok = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "the README walkthrough needs {tool} (apt-get install {tool})"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let Some((d, _db)) = daemon_on(store, &dir.path().join("data")) else {
        return;
    };
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &readme_walkthrough()])
        .current_dir(&work)
        .env("NOTARIUM_SERVER", d.url())
        .env("ADMIN_TOKEN", ADMIN)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "walkthrough failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let summary: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(summary["status"], "trusted");
    assert!(summary["signer"].as_str().unwrap().starts_with("k_"));
    assert_eq!(&lines[1..3], ["trusted", "untrusted"]);
    let proof: Value = serde_json::from_str(lines[3]).unwrap();
    assert_eq!(proof["index"], summary["index"]);
    let note = lines[4..].join("\n") + "\n";
    let key = pinned_key(&d);
    let cp = UnverifiedCheckpoint::parse(&note)
        .unwrap()
        .verify(&key)
        .unwrap();
    assert_eq!(
        cp.checkpoint().origin.as_str(),
        "localhost/notarium/default"
    );

    // The saved receipt verifies offline, and its entry is the file's hash.
    let receipt: Receipt =
        serde_json::from_slice(&std::fs::read(work.join("receipt.json")).unwrap()).unwrap();
    let verified = receipt.verify(&key).unwrap();
    let notarium_core::Entry::Artifact(a) = verified.entry else {
        panic!("an artifact entry")
    };
    assert_eq!(a.sha256, notarium_core::Sha256::of(b"hello, world\n"));
    let proof: Vec<Hash> = serde_json::from_value(proof["proof"].clone()).unwrap();
    notarium_core::merkle::verify_inclusion(
        &receipt.leaf_hash,
        verified.index,
        cp.size(),
        &proof,
        &cp.root(),
    )
    .unwrap();
    assert_eq!(d.terminate().code(), Some(0));
}

/// The token a first start left in the data directory, after checking that the file is 0600
/// and that stdout named it but never held the token.
fn first_start_token(d: &Daemon) -> String {
    let path = d.data_dir.join("admin-token.first-start");
    let token = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; stdout: {:?}", path.display(), d.stdout))
        .trim()
        .to_owned();
    assert!(token.starts_with("na_"), "{token}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(
        d.stdout
            .iter()
            .any(|l| l.starts_with("admin token written to") && l.contains(path.to_str().unwrap())),
        "the path is printed: {:?}",
        d.stdout
    );
    assert!(
        !d.stdout.iter().any(|l| l.contains(&token)),
        "the token is never on stdout when it is not a terminal: {:?}",
        d.stdout
    );
    token
}

/// A reader who pastes the walkthrough with a wrong token sees why it fails: the server's own
/// error message, not silence.
#[test]
fn the_readme_curl_walkthrough_shows_the_servers_error() {
    for tool in ["curl", "jq", "sha256sum"] {
        let ok = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "the README walkthrough needs {tool} (apt-get install {tool})"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let d = start(&dir.path().join("data"));
    let wrong = "not-the-admin-token";
    let refused = d.post(
        &format!("{L}/keys"),
        Some(wrong),
        &json!({"name": "ci", "role": "write"}),
    );
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let message = refused.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &readme_walkthrough()])
        .current_dir(&work)
        .env("NOTARIUM_SERVER", d.url())
        .env("ADMIN_TOKEN", wrong)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "the walkthrough stops: {said}");
    assert!(
        said.contains(&message),
        "the server's message {message:?} is shown: {said}"
    );
    assert_eq!(d.terminate().code(), Some(0));
}

#[test]
fn first_start_hands_the_admin_token_over_in_a_file_never_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start(&data, &[]);
    let token = first_start_token(&d);
    let vkey_line = d
        .stdout
        .iter()
        .find(|l| l.contains("verifier key"))
        .expect("verifier key printed");
    let vkey = vkey_line.rsplit(' ').next().unwrap();
    assert_eq!(
        d.get("/api/v1/ledgers", Some(&token)).status,
        StatusCode::OK
    );
    assert_eq!(d.get(L, Some(&token)).json()["verifier_key"], vkey);
    assert_eq!(d.terminate().code(), Some(0));

    let stored = std::fs::read_to_string(data.join("admin-token.sha256")).unwrap();
    assert!(!stored.contains(&token), "only the hash is stored");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("admin-token.sha256"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(data.join("ledgers/default/signing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The operator moved the token into a secret store; later starts neither print nor
    // rewrite it.
    std::fs::remove_file(data.join("admin-token.first-start")).unwrap();
    let d = Daemon::start(&data, &[]);
    assert!(
        !d.stdout
            .iter()
            .any(|l| l.contains(&token) || l.starts_with("admin token")),
        "{:?}",
        d.stdout
    );
    assert!(!data.join("admin-token.first-start").exists());
    assert_eq!(
        d.get("/api/v1/ledgers", Some(&token)).status,
        StatusCode::OK,
        "the token survives restarts"
    );
}

#[test]
fn config_file_environment_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("notarium.yaml");
    std::fs::write(
        &cfg,
        "origin_prefix: notary.example.com\nbody_limit_bytes: 65536\nlog_format: json\nlisten: 127.0.0.1:1\n",
    )
    .unwrap();
    let d = Daemon::start_with_args(
        &dir.path().join("data"),
        &[
            ("NOTARIUM_ADMIN_TOKEN", ADMIN),
            ("NOTARIUM_BODY_LIMIT_BYTES", "2048"),
        ],
        &["--config", cfg.to_str().unwrap()],
    );
    // --listen (127.0.0.1:0) beat the file's port 1; the environment beat the file's limit.
    assert_ne!(d.addr.port(), 1);
    assert_eq!(
        d.get(L, Some(ADMIN)).json()["origin"],
        "notary.example.com/default"
    );
    let big = json!({"sha256": sha(b"x"), "name": "n".repeat(3000)});
    let r = d.post(&format!("{L}/entries"), Some(ADMIN), &big);
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    drop(d);

    std::fs::write(&cfg, "listen: 127.0.0.1:0\nno_such_setting: 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_notariumd"))
        .args(["--config", cfg.to_str().unwrap(), "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_setting"));
}

#[test]
fn sigterm_finishes_in_flight_requests_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start(
        &data,
        &[
            ("NOTARIUM_ADMIN_TOKEN", ADMIN),
            ("NOTARIUM_RATE_LIMIT_PER_SECOND", "0"),
        ],
    );
    let key = new_key(&d, "write");
    let addr = d.addr;
    let answered: Arc<Mutex<Vec<Receipt>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (answered, count, stop, key) =
                (answered.clone(), count.clone(), stop.clone(), key.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let batch = i % 4 == 3;
                    let (path, body) = if batch {
                        let entries: Vec<Value> = (0..20)
                            .map(|j| artifact(&format!("w{w}-{i}-{j}")))
                            .collect();
                        (format!("{L}/entries/batch"), json!({ "entries": entries }))
                    } else {
                        (format!("{L}/entries"), artifact(&format!("w{w}-{i}")))
                    };
                    // After SIGTERM, connections are refused or closed unanswered: stop then.
                    let Ok(r) = try_http(addr, "POST", &path, Some(&key), Some(&body)) else {
                        break;
                    };
                    match r.status {
                        StatusCode::CREATED => {
                            let v = r.json();
                            let receipts: Vec<Receipt> = if batch {
                                serde_json::from_value(v["receipts"].clone()).unwrap()
                            } else {
                                vec![serde_json::from_value(v).unwrap()]
                            };
                            count.fetch_add(receipts.len(), Ordering::Relaxed);
                            answered.lock().unwrap().extend(receipts);
                        }
                        StatusCode::SERVICE_UNAVAILABLE => break,
                        other => panic!("unexpected {other}: {}", r.text()),
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count.load(Ordering::Relaxed) < 500 {
        assert!(Instant::now() < deadline, "the workers made no progress");
        std::thread::yield_now();
    }
    let status = d.terminate();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(status.code(), Some(0), "clean exit after SIGTERM");

    let answered = answered.lock().unwrap();
    let d = start(&data);
    let key = pinned_key(&d);
    let size = checkpoint(&d, &key).size().0;
    assert!(
        size as usize > answered.len(),
        "every answered entry plus the key entry"
    );
    for r in answered.iter() {
        r.verify(&key).unwrap();
        let stored: Receipt = serde_json::from_value(
            d.get(&format!("{L}/entries/{}", r.index), Some(ADMIN))
                .json(),
        )
        .unwrap();
        assert_eq!(stored.leaf, r.leaf, "entry {} changed or vanished", r.index);
    }
    // The ledger after the restart is consistent with every checkpoint handed out before.
    let mut sizes: Vec<(u64, Hash)> = answered
        .iter()
        .map(|r| {
            let cp = UnverifiedCheckpoint::parse(&r.checkpoint)
                .unwrap()
                .verify(&key)
                .unwrap();
            (cp.size().0, cp.root())
        })
        .collect();
    sizes.sort();
    sizes.dedup();
    let latest = checkpoint(&d, &key);
    for (s, root) in sizes.iter().step_by((sizes.len() / 20).max(1)) {
        let p = d
            .get(
                &format!("{L}/proof/consistency?from={s}&to={}", latest.size().0),
                Some(ADMIN),
            )
            .json();
        let proof: Vec<Hash> = serde_json::from_value(p["proof"].clone()).unwrap();
        verify_consistency(TreeSize(*s), latest.size(), &proof, root, &latest.root()).unwrap();
    }
}

on_both_stores_sync!(every_answer_verifies_with_the_core_verifier);
fn every_answer_verifies_with_the_core_verifier(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let Some((d, _db)) = daemon_on(store, &dir.path().join("data")) else {
        return;
    };
    let key = pinned_key(&d);
    let write = new_key(&d, "write");
    let read = new_key(&d, "read");
    let cp0 = checkpoint(&d, &key);

    // Receipts of single notarizations.
    let mut receipts = Vec::new();
    for i in 0..5 {
        let r = d.post(
            &format!("{L}/entries"),
            Some(&write),
            &artifact(&format!("single-{i}")),
        );
        assert_eq!(r.status, StatusCode::CREATED);
        let rc: Receipt = serde_json::from_value(r.json()).unwrap();
        rc.verify(&key).unwrap();
        receipts.push(rc);
    }
    let cp1 = checkpoint(&d, &key);
    // A batch big enough for full tiles.
    let entries: Vec<Value> = (0..600)
        .map(|i| artifact(&format!("batch-{}", i % 300)))
        .collect();
    let r = d.post(
        &format!("{L}/entries/batch"),
        Some(&write),
        &json!({"entries": entries[..300]}),
    );
    assert_eq!(r.status, StatusCode::CREATED);
    let r2 = d.post(
        &format!("{L}/entries/batch"),
        Some(&write),
        &json!({"entries": entries[300..]}),
    );
    assert_eq!(r2.status, StatusCode::CREATED);
    for v in r.json()["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .chain(r2.json()["receipts"].as_array().unwrap())
    {
        let rc: Receipt = serde_json::from_value(v.clone()).unwrap();
        rc.verify(&key).unwrap();
    }
    let cp2 = checkpoint(&d, &key);

    // Consistency between successive checkpoints.
    for (a, b) in [(&cp0, &cp1), (&cp1, &cp2), (&cp0, &cp2)] {
        let p = d
            .get(
                &format!(
                    "{L}/proof/consistency?from={}&to={}",
                    a.size().0,
                    b.size().0
                ),
                Some(&read),
            )
            .json();
        let proof: Vec<Hash> = serde_json::from_value(p["proof"].clone()).unwrap();
        verify_consistency(a.size(), b.size(), &proof, &a.root(), &b.root()).unwrap();
    }

    // History: every entry for a hash, each proven in the page's checkpoint.
    let h = sha(b"batch-7");
    let page = d
        .get(&format!("{L}/artifacts/{h}/history"), Some(&read))
        .json();
    let page_cp = page["checkpoint"].as_str().unwrap();
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for e in entries {
        let rc: Receipt = serde_json::from_value(e.clone()).unwrap();
        assert_eq!(rc.checkpoint, page_cp);
        let v = rc.verify(&key).unwrap();
        let notarium_core::Entry::Artifact(a) = v.entry else {
            panic!()
        };
        assert_eq!(a.sha256.to_hex(), h);
    }

    // Batch authenticate: per-hash receipts against the one checkpoint it names.
    let asked = [sha(b"single-3"), sha(b"batch-299"), sha(b"never")];
    let v = d
        .post(
            &format!("{L}/authenticate"),
            Some(&read),
            &json!({"sha256": asked}),
        )
        .json();
    let cp = UnverifiedCheckpoint::parse(v["checkpoint"].as_str().unwrap())
        .unwrap()
        .verify(&key)
        .unwrap();
    assert_eq!(cp, cp2);
    for (res, h) in v["results"].as_array().unwrap().iter().zip(&asked) {
        assert_eq!(res["sha256"], h.as_str());
        if h == &sha(b"never") {
            assert_eq!(res["status"], "unknown");
            continue;
        }
        assert_eq!(res["status"], "trusted");
        let rc: Receipt = serde_json::from_value(res["receipt"].clone()).unwrap();
        assert_eq!(rc.checkpoint, v["checkpoint"].as_str().unwrap());
        let verified = rc.verify(&key).unwrap();
        let notarium_core::Entry::Artifact(a) = verified.entry else {
            panic!()
        };
        assert_eq!(&a.sha256.to_hex(), h);
    }

    // The whole tree, recomputed from the C2SP tiles and entry bundles alone.
    let size = cp2.size().0;
    let tile = |path: String| {
        let r = d.get(&format!("{L}/log/{path}"), Some(&read));
        assert_eq!(r.status, StatusCode::OK, "{path}");
        r.body
    };
    let suffix = |index: u64, full: u64, partial: u16| {
        if index < full {
            String::new()
        } else {
            format!(".p/{partial}")
        }
    };
    let (full, partial) = tiles_at_level(size, 0);
    let mut leaves = Vec::new();
    for n in 0..full + u64::from(partial > 0) {
        let bundle = tile(format!(
            "tile/entries/{}{}",
            encode_index(n),
            suffix(n, full, partial)
        ));
        for entry in decode_bundle(&bundle).unwrap() {
            leaves.push(leaf_hash(entry));
        }
        let hashes = tile(format!(
            "tile/0/{}{}",
            encode_index(n),
            suffix(n, full, partial)
        ));
        let stored: Vec<Hash> = hashes
            .chunks(32)
            .map(|c| Hash::from_slice(c).unwrap())
            .collect();
        assert_eq!(
            stored,
            leaves[(n * 256) as usize..],
            "level-0 tile {n} holds the bundle's leaf hashes"
        );
    }
    assert_eq!(leaves.len() as u64, size);
    let mut edge = RightEdge::new();
    for l in &leaves {
        edge.push(*l, |_, _, _| {});
    }
    assert_eq!(
        edge.root(),
        cp2.root(),
        "the tiles' entries give the signed root"
    );
    // Level 1: each hash is the root of a full level-0 tile.
    let (full1, partial1) = tiles_at_level(size, 1);
    assert_eq!((full1, partial1), (0, 2));
    let level1 = tile("tile/1/000.p/2".into());
    for (t, h) in level1.chunks(32).enumerate() {
        let mut sub = RightEdge::new();
        for l in &leaves[t * 256..(t + 1) * 256] {
            sub.push(*l, |_, _, _| {});
        }
        assert_eq!(Hash::from_slice(h).unwrap(), sub.root());
    }
    // And each receipt of the first requests is still provable in the latest checkpoint.
    for rc in &receipts {
        let p = d
            .get(
                &format!("{L}/proof/inclusion?index={}&size={size}", rc.index),
                Some(&read),
            )
            .json();
        let proof: Vec<Hash> = serde_json::from_value(p["proof"].clone()).unwrap();
        notarium_core::merkle::verify_inclusion(
            &rc.leaf_hash,
            notarium_core::LeafIndex(rc.index),
            TreeSize(size),
            &proof,
            &cp2.root(),
        )
        .unwrap();
        assert_eq!(leaves[rc.index as usize], rc.leaf_hash);
    }
}

#[test]
fn audit_subcommand_names_the_tampered_index() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = start(&data);
    let write = new_key(&d, "write");
    for i in 0..6 {
        assert_eq!(
            d.post(
                &format!("{L}/entries"),
                Some(&write),
                &artifact(&format!("a{i}"))
            )
            .status,
            StatusCode::CREATED
        );
    }
    assert_eq!(d.terminate().code(), Some(0));

    let audit = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_notariumd"))
            .arg("audit")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let data_s = data.to_str().unwrap();
    let (code, out, _) = audit(&[data_s]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("ledger default: ok (7 entries"), "{out}");

    let db = rusqlite::Connection::open(data.join("ledgers/default/ledger.db")).unwrap();
    let bytes: Vec<u8> = db
        .query_row("SELECT data FROM entries WHERE idx = 4", [], |r| r.get(0))
        .unwrap();
    let tampered = String::from_utf8(bytes)
        .unwrap()
        .replace("\"a3\"", "\"evil\"");
    db.execute(
        "UPDATE entries SET data = ?1 WHERE idx = 4",
        [tampered.as_bytes()],
    )
    .unwrap();
    drop(db);

    let (code, out, _) = audit(&[data_s]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("first bad index 4"), "{out}");
    let (code, out, _) = audit(&[data_s, "--output", "json"]);
    assert_eq!(code, Some(1));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["ledger"], "default");
    assert_eq!(v[0]["report"]["first_bad_index"], 4);

    let (code, _, err) = audit(&[dir.path().join("missing").to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not a notariumd data directory"), "{err}");
}

#[test]
fn logs_are_structured_and_never_hold_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("notariumd.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let env = [
        ("NOTARIUM_LOG_FORMAT", "json"),
        ("NOTARIUM_LOG_LEVEL", "debug"),
    ];
    let d = Daemon::spawn(&dir.path().join("data"), &env, &[], log.into());
    let admin = first_start_token(&d);
    let r = d.post(
        &format!("{L}/keys"),
        Some(&admin),
        &json!({"name": "ci", "role": "write"}),
    );
    let key = r.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(
        d.post(&format!("{L}/entries"), Some(&key), &artifact("logged"))
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        d.get(L, Some("nk_wrong-secret-value")).status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(d.terminate().code(), Some(0));
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        text.contains("notariumd ready on http://"),
        "the ready line is logged too"
    );
    assert!(text.contains("API key created"));
    for secret in [admin.as_str(), key.as_str(), "nk_wrong-secret-value"] {
        assert!(!text.contains(secret), "a secret reached the log");
    }
    for line in text.lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
    }
}
