//! Tampering with the SQLite file directly: the audit names each change, and opening refuses
//! when the change touches the right edge of the tree.

mod common;

use std::path::Path;

use notarium_ledger::{audit, FindingKind, Ledger};
use rusqlite::{params, Connection};

/// A ledger of 700 entries (two full level-0 tiles and a partial one), in batches.
fn build(dir: &Path) {
    let ledger = common::open(dir);
    for chunk in (0..700u64).collect::<Vec<_>>().chunks(70) {
        ledger
            .append(chunk.iter().map(|i| common::artifact(*i, "k")).collect())
            .unwrap();
    }
    assert!(audit(dir, |_, _| {}).unwrap().is_clean());
}

fn copy(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.path().join(f.file_name())).unwrap();
    }
    to
}

fn sql(dir: &Path, f: impl FnOnce(&Connection)) {
    let conn = Connection::open(dir.join("ledger.db")).unwrap();
    f(&conn);
}

fn opens(dir: &Path) -> bool {
    Ledger::open(dir, common::options("default")).is_ok()
}

fn findings(dir: &Path) -> Vec<(FindingKind, Option<u64>, String)> {
    let r = audit(dir, |_, _| {}).unwrap();
    r.findings
        .into_iter()
        .map(|f| (f.kind, f.index, f.message))
        .collect()
}

#[test]
fn audit_names_each_change_and_open_guards_the_right_edge() {
    let base = tempfile::tempdir().unwrap();
    build(base.path());
    let mut cases = 0;

    // 1. An entry in the middle: audit names it; opening is O(log n) and cannot see it.
    let d = copy(base.path());
    sql(d.path(), |c| {
        let data: Vec<u8> = c
            .query_row("SELECT data FROM entries WHERE idx = 100", [], |r| r.get(0))
            .unwrap();
        let changed = String::from_utf8(data)
            .unwrap()
            .replace("\"trusted\"", "\"untrusted\"");
        c.execute(
            "UPDATE entries SET data = ?1 WHERE idx = 100",
            params![changed.as_bytes()],
        )
        .unwrap();
    });
    let f = findings(d.path());
    assert!(
        f.iter().any(|(k, i, m)| *k == FindingKind::Entry
            && *i == Some(100)
            && m.contains("entry 100")),
        "{f:#?}"
    );
    assert_eq!(
        audit(d.path(), |_, _| {}).unwrap().first_bad_index,
        Some(100)
    );
    assert!(opens(d.path()));
    cases += 1;

    // 2. One tile hash: audit names the tile and the leaf it covers.
    let d = copy(base.path());
    sql(d.path(), |c| {
        let mut t: Vec<u8> = c
            .query_row(
                "SELECT hashes FROM tiles WHERE level = 0 AND idx = 0",
                [],
                |r| r.get(0),
            )
            .unwrap();
        t[50 * 32] ^= 1;
        c.execute(
            "UPDATE tiles SET hashes = ?1 WHERE level = 0 AND idx = 0",
            params![t],
        )
        .unwrap();
    });
    let f = findings(d.path());
    assert!(
        f.iter().any(|(k, i, m)| *k == FindingKind::Tile
            && *i == Some(50)
            && m.contains("tile 0/0 hash 50")),
        "{f:#?}"
    );
    assert!(
        opens(d.path()),
        "a full tile in the middle is not on the right edge"
    );
    cases += 1;

    // 3. One index row: the sha256 column of entry 200 points elsewhere.
    let d = copy(base.path());
    sql(d.path(), |c| {
        c.execute(
            "UPDATE entries SET sha256 = ?1 WHERE idx = 200",
            params![vec![0xabu8; 32]],
        )
        .unwrap();
    });
    let f = findings(d.path());
    assert!(
        f.iter()
            .any(|(k, i, m)| *k == FindingKind::Index && *i == Some(200) && m.contains("sha256")),
        "{f:#?}"
    );
    assert_eq!(f.len(), 1, "only the index row is wrong: {f:#?}");
    cases += 1;

    // 3b. An attribute row.
    let d = copy(base.path());
    sql(d.path(), |c| {
        c.execute("UPDATE attributes SET value = 'x' WHERE idx = 300", [])
            .unwrap();
    });
    let f = findings(d.path());
    assert!(
        f.iter().any(|(k, i, m)| *k == FindingKind::Index
            && *i == Some(300)
            && m.contains("attributes")),
        "{f:#?}"
    );
    cases += 1;

    // 4. A checkpoint in the middle: its signature no longer verifies.
    let d = copy(base.path());
    sql(d.path(), |c| {
        let note: String = c
            .query_row("SELECT note FROM checkpoints WHERE size = 350", [], |r| {
                r.get(0)
            })
            .unwrap();
        let changed = note.replacen("\n350\n", "\n351\n", 1);
        c.execute(
            "UPDATE checkpoints SET note = ?1 WHERE size = 350",
            params![changed],
        )
        .unwrap();
    });
    let f = findings(d.path());
    assert!(
        f.iter()
            .any(|(k, _, m)| *k == FindingKind::Checkpoint && m.contains("size 350")),
        "{f:#?}"
    );
    assert!(opens(d.path()));
    cases += 1;

    // 5. A validly signed checkpoint over another tree (a fork signed with the right key).
    let d = copy(base.path());
    let key = notarium_core::SignerKey::parse(
        &std::fs::read_to_string(d.path().join("signing.key")).unwrap(),
    )
    .unwrap();
    let forged = notarium_core::Checkpoint {
        origin: notarium_core::Origin::new("localhost/notarium/default").unwrap(),
        size: notarium_core::TreeSize(420),
        root: notarium_core::Hash([9; 32]),
        extensions: vec![],
    }
    .sign(&key)
    .unwrap();
    sql(d.path(), |c| {
        c.execute(
            "UPDATE checkpoints SET note = ?1 WHERE size = 420",
            params![forged.note()],
        )
        .unwrap();
    });
    let f = findings(d.path());
    assert!(
        f.iter().any(|(k, _, m)| *k == FindingKind::Checkpoint
            && m.contains("size 420")
            && m.contains("inconsistent with the checkpoint at size 350")),
        "{f:#?}"
    );
    cases += 1;

    // Right edge: the latest checkpoint, the right-most tile, the last entry — open refuses.
    let d = copy(base.path());
    sql(d.path(), |c| {
        c.execute(
            "UPDATE checkpoints SET note = replace(note, '\n700\n', '\n699\n') WHERE size = 700",
            [],
        )
        .unwrap();
    });
    assert!(!opens(d.path()));
    assert!(!findings(d.path()).is_empty());
    cases += 1;

    let d = copy(base.path());
    sql(d.path(), |c| {
        let mut t: Vec<u8> = c
            .query_row(
                "SELECT hashes FROM tiles WHERE level = 0 AND idx = 2",
                [],
                |r| r.get(0),
            )
            .unwrap();
        t[0] ^= 0x80;
        c.execute(
            "UPDATE tiles SET hashes = ?1 WHERE level = 0 AND idx = 2",
            params![t],
        )
        .unwrap();
    });
    assert!(matches!(
        Ledger::open(d.path(), common::options("default")),
        Err(notarium_ledger::Error::Corrupt(_))
    ));
    let f = findings(d.path());
    assert!(
        f.iter()
            .any(|(k, i, _)| *k == FindingKind::Tile && *i == Some(512)),
        "{f:#?}"
    );
    cases += 1;

    let d = copy(base.path());
    sql(d.path(), |c| {
        c.execute("UPDATE entries SET data = CAST(replace(CAST(data AS TEXT), 'artifact-699', 'artifact-6990') AS BLOB) WHERE idx = 699", []).unwrap();
    });
    let err = Ledger::open(d.path(), common::options("default")).unwrap_err();
    assert!(err.to_string().contains("last entry"), "{err}");
    let f = findings(d.path());
    assert!(
        f.iter()
            .any(|(k, i, _)| *k == FindingKind::Entry && *i == Some(699)),
        "{f:#?}"
    );
    cases += 1;

    // A deleted entry.
    let d = copy(base.path());
    sql(d.path(), |c| {
        c.execute("DELETE FROM entries WHERE idx = 10", []).unwrap();
    });
    let f = findings(d.path());
    assert!(
        f.iter()
            .any(|(k, i, _)| *k == FindingKind::Entry && *i == Some(10)),
        "{f:#?}"
    );
    cases += 1;

    assert_eq!(cases, 10);
}

/// A ledger with API keys (one revoked) and several commits.
fn build_with_keys(dir: &Path) {
    use notarium_core::Role;
    use notarium_ledger::NewEntry;
    let ledger = common::open(dir);
    for (id, role, secret) in [
        ("k_read", Role::Read, 1u8),
        ("k_write", Role::Write, 2),
        ("k_old", Role::Write, 3),
    ] {
        ledger
            .append(vec![NewEntry::KeyCreated {
                id: id.into(),
                name: format!("{id} key"),
                role,
                signer: "admin".into(),
                credential: [secret; 32],
            }])
            .unwrap();
    }
    for chunk in (0..60u64).collect::<Vec<_>>().chunks(20) {
        ledger
            .append(
                chunk
                    .iter()
                    .map(|i| common::artifact(*i, "k_write"))
                    .collect(),
            )
            .unwrap();
    }
    ledger
        .append(vec![NewEntry::KeyRevoked {
            id: "k_old".into(),
            signer: "admin".into(),
        }])
        .unwrap();
    assert_eq!(ledger.credentials().unwrap().len(), 3);
    assert!(audit(dir, |_, _| {}).unwrap().is_clean());
}

fn credentials_refused(dir: &Path) -> String {
    let ledger = Ledger::open(dir, common::options("default")).unwrap();
    match ledger.credentials() {
        Err(notarium_ledger::Error::Corrupt(m)) => m,
        other => panic!("the tampered keys were trusted: {other:?}"),
    }
}

#[test]
fn audit_and_the_server_catch_credential_and_checkpoint_tampering() {
    let base = tempfile::tempdir().unwrap();
    build_with_keys(base.path());

    // A read key raised to admin: the audit names the role, and the keys are not trusted.
    let d = copy(base.path());
    sql(d.path(), |c| {
        c.execute("UPDATE api_keys SET role = 'admin' WHERE id = 'k_read'", [])
            .unwrap();
    });
    let f = findings(d.path());
    assert!(
        f.iter()
            .any(|(k, _, m)| *k == FindingKind::Key && m.contains("k_read") && m.contains("role")),
        "{f:#?}"
    );
    assert!(credentials_refused(d.path()).contains("role"));

    // A credential swapped for one the attacker knows the secret of.
    let d = copy(base.path());
    sql(d.path(), |c| {
        c.execute(
            "UPDATE api_keys SET credential = ?1 WHERE id = 'k_write'",
            [vec![9u8; 32]],
        )
        .unwrap();
    });
    let f = findings(d.path());
    assert!(
        f.iter().any(|(k, _, m)| *k == FindingKind::Key
            && m.contains("k_write")
            && m.contains("credential")),
        "{f:#?}"
    );
    assert!(credentials_refused(d.path()).contains("credential"));

    // A revoked key brought back.
    let d = copy(base.path());
    sql(d.path(), |c| {
        c.execute(
            "UPDATE api_keys SET revoked_idx = NULL WHERE id = 'k_old'",
            [],
        )
        .unwrap();
        c.execute("DELETE FROM revocations WHERE key_id = 'k_old'", [])
            .unwrap();
    });
    let f = findings(d.path());
    assert!(
        f.iter()
            .any(|(k, _, m)| *k == FindingKind::Key && m.contains("k_old")),
        "{f:#?}"
    );

    // An old checkpoint deleted: the commit that ended at size 23 left no checkpoint.
    let d = copy(base.path());
    sql(d.path(), |c| {
        assert_eq!(
            c.execute("DELETE FROM checkpoints WHERE size = 23", [])
                .unwrap(),
            1
        );
    });
    let f = findings(d.path());
    assert!(
        f.iter().any(|(k, i, m)| *k == FindingKind::Checkpoint
            && *i == Some(23)
            && m.contains("checkpoint of size 23 is missing")),
        "{f:#?}"
    );
}

#[test]
fn a_changed_status_index_row_is_found_by_the_audit_and_never_proven() {
    let base = tempfile::tempdir().unwrap();
    build_with_keys(base.path());
    // Rewrite the current leaf of artifact 59 (the newest row holding its key): the node's
    // last bytes are its value.
    let d = copy(base.path());
    let key59 =
        notarium_core::index::IndexKey::artifact(&notarium_core::Sha256::of(&59u64.to_be_bytes()));
    let changed = {
        let conn = Connection::open(d.path().join("ledger.db")).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT key, node FROM index_nodes WHERE substr(node, 1, 1) = x'01' \
                 AND instr(node, ?1) > 0 ORDER BY key DESC LIMIT 1",
            )
            .unwrap();
        let (key, mut node): (Vec<u8>, Vec<u8>) = stmt
            .query_row([key59.as_bytes().to_vec()], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        let last = node.len() - 1;
        node[last] ^= 0x01;
        drop(stmt);
        conn.execute(
            "UPDATE index_nodes SET node = ?1 WHERE key = ?2",
            params![node, key],
        )
        .unwrap();
        key
    };
    assert!(!changed.is_empty());
    let f = findings(d.path());
    assert!(
        f.iter()
            .any(|(k, _, m)| *k == FindingKind::StatusIndex && m.contains("status index")),
        "{f:#?}"
    );
    // The server never proves from a damaged index: every answer about any artifact is
    // either refused (storage error) or, for keys off the damaged path, still verifies.
    let ledger = Ledger::open(d.path(), common::options("default")).unwrap();
    let mut refused = 0;
    for i in 0..60u64 {
        let sha = notarium_core::Sha256::of(&i.to_be_bytes());
        match ledger.authenticate(&sha, &[]) {
            Err(notarium_ledger::Error::Corrupt(m)) => {
                assert!(m.contains("status index"), "{m}");
                refused += 1;
            }
            Err(e) => panic!("{e}"),
            Ok(ans) => {
                let cp = ledger.checkpoint();
                notarium_core::status::verify_status(&cp, &sha, &[], &ans).unwrap();
            }
        }
    }
    assert!(refused > 0, "the damaged leaf's key is refused");
}
