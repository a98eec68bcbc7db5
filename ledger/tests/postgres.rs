//! What only the PostgreSQL store has: several processes on one database taking turns at
//! sequencing (here two `Ledger`s, each with its own connections, directory and lease holder
//! name, as two `notariumd` would have), the fence that refuses a commit from a process whose
//! lease was taken over, readers that follow what another process committed, a database
//! restored from an older copy, tampering found by the audit, `migrate` from SQLite, and the
//! read-only views with their role. Every test skips (loudly) without PostgreSQL, unless `CI`
//! is set.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notarium_core::merkle::verify_consistency;
use notarium_core::{ArtifactRequest, ArtifactStatus, Hash, LedgerName, Role, Sha256, Status};
use notarium_core::{TreeSize, UnverifiedCheckpoint};
use notarium_ledger::migrate::migrate_to_postgres;
use notarium_ledger::test_postgres::{self, TestDatabase};
use notarium_ledger::{audit_postgres, FindingKind, Ledger, LedgerOptions, NewEntry, Postgres};

use common::{artifact, options};

/// A short lease: a test that waits for one to expire waits little.
const LEASE: Duration = Duration::from_millis(400);

/// An instance: its own handle on the database (its own lease holder name).
fn instance(db: &TestDatabase) -> Postgres {
    Postgres::connect(&db.url()).unwrap().with_lease(LEASE)
}

fn on(pg: &Postgres) -> LedgerOptions {
    let mut o = options("default");
    o.database = Some(pg.clone());
    o
}

/// A second instance's ledger directory: a copy of the first's (signing key and record).
fn copy_dir(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.path().join(f.file_name())).unwrap();
    }
    to
}

fn checkpoint_of(note: &str) -> (u64, Hash) {
    let c = UnverifiedCheckpoint::parse(note).unwrap();
    (c.claimed().size.0, c.claimed().root)
}

fn default_name() -> LedgerName {
    LedgerName::new("default").unwrap()
}

fn status_change(sha: Sha256, status: ArtifactStatus, signer: &str) -> NewEntry {
    NewEntry::Artifact {
        request: ArtifactRequest {
            sha256: sha,
            name: "app.tar.gz".into(),
            size: None,
            kind: None,
            status: Some(status),
            attributes: [("channel".to_string(), "stable".to_string())].into(),
            ci: Default::default(),
        },
        signer: signer.into(),
        identity: None,
    }
}

/// Two instances append at once; each commits some of the batches; every receipt verifies and
/// every checkpoint either of them signed is consistent with every later one.
#[test]
fn two_instances_take_turns_and_sign_one_history() {
    let Some(db) = test_postgres::database() else {
        return;
    };
    let (pa, pb) = (instance(&db), instance(&db));
    let dir_a = tempfile::tempdir().unwrap();
    let a = Arc::new(Ledger::open(dir_a.path(), on(&pa)).unwrap());
    a.append(vec![artifact(0, "k")]).unwrap();
    let dir_b = copy_dir(dir_a.path());
    let b = Arc::new(Ledger::open(dir_b.path(), on(&pb)).unwrap());
    let key = a.verifier_key().clone();
    assert_eq!(b.verifier_key(), &key);

    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let ledger = if t % 2 == 0 { a.clone() } else { b.clone() };
            std::thread::spawn(move || {
                (0..40u64)
                    .flat_map(|i| {
                        let n = 1 + (i % 3);
                        let entries = (0..n)
                            .map(|j| artifact(1000 * (t + 1) + 10 * i + j, "k"))
                            .collect();
                        ledger.append(entries).unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen: BTreeMap<u64, Hash> = BTreeMap::new();
    let mut indices = Vec::new();
    for t in threads {
        for r in t.join().unwrap() {
            r.verify(&key).unwrap();
            indices.push(r.index);
            let (size, root) = checkpoint_of(&r.checkpoint);
            if let Some(prev) = seen.insert(size, root) {
                assert_eq!(prev, root, "two checkpoints of size {size}");
            }
        }
    }
    indices.sort_unstable();
    let total = indices.len() as u64 + 1;
    assert_eq!(indices, (1..total).collect::<Vec<_>>(), "every entry once");
    a.refresh().unwrap();
    b.refresh().unwrap();
    assert_eq!(a.checkpoint(), b.checkpoint());
    assert_eq!(a.size(), total);
    let latest = a.checkpoint();
    for (&size, root) in &seen {
        let proof = b.prove_consistency(size, total).unwrap();
        verify_consistency(TreeSize(size), latest.size(), &proof, root, &latest.root())
            .unwrap_or_else(|e| panic!("checkpoint {size} is inconsistent with the latest: {e}"));
    }
    let (ca, cb) = (a.counters(), b.counters());
    assert!(
        ca.batches > 0 && cb.batches > 0,
        "both instances sequenced: {ca:?} {cb:?}"
    );
    let report = audit_postgres(&pa, &default_name(), dir_a.path(), |_, _| {}).unwrap();
    assert!(report.is_clean(), "{:#?}", report.findings);
}

/// Refreshes racing with appends on both instances (as requests do in `notariumd`): a refresh
/// that read the database just before its own instance committed and published a larger tree
/// must not take that for the database going back in time.
#[test]
fn refreshes_racing_with_appends_never_see_a_rollback() {
    let Some(db) = test_postgres::database() else {
        return;
    };
    let (pa, pb) = (instance(&db), instance(&db));
    let dir_a = tempfile::tempdir().unwrap();
    let a = Arc::new(Ledger::open(dir_a.path(), on(&pa)).unwrap());
    a.append(vec![artifact(0, "k")]).unwrap();
    let dir_b = copy_dir(dir_a.path());
    let b = Arc::new(Ledger::open(dir_b.path(), on(&pb)).unwrap());
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let appenders: Vec<_> = (0..4u64)
        .map(|t| {
            let ledger = if t % 2 == 0 { a.clone() } else { b.clone() };
            std::thread::spawn(move || {
                for i in 0..60u64 {
                    ledger
                        .append(vec![artifact(1000 * (t + 1) + i, "k")])
                        .unwrap();
                }
            })
        })
        .collect();
    let refreshers: Vec<_> = (0..4usize)
        .map(|t| {
            let ledger = if t % 2 == 0 { a.clone() } else { b.clone() };
            let done = done.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    ledger
                        .refresh()
                        .unwrap_or_else(|e| panic!("refresh {n} failed: {e}"));
                    n += 1;
                }
                n
            })
        })
        .collect();
    for t in appenders {
        t.join().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let refreshes: u64 = refreshers.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(refreshes > 0);
    a.refresh().unwrap();
    b.refresh().unwrap();
    assert_eq!(a.size(), 241);
    assert_eq!(a.checkpoint(), b.checkpoint());
}

/// What one instance acknowledged, another answers from the next request on: a refresh sees it
/// (and a reader that did not refresh still answers from a checkpoint it verified).
#[test]
fn another_instance_answers_what_one_acknowledged() {
    let Some(db) = test_postgres::database() else {
        return;
    };
    let (pa, pb) = (instance(&db), instance(&db));
    let dir_a = tempfile::tempdir().unwrap();
    let a = Ledger::open(dir_a.path(), on(&pa)).unwrap();
    a.append(vec![artifact(1, "k")]).unwrap();
    let dir_b = copy_dir(dir_a.path());
    let b = Ledger::open(dir_b.path(), on(&pb)).unwrap();
    for round in 0..20u64 {
        let sha = Sha256::of(&(round + 100).to_be_bytes());
        let status = if round % 2 == 0 {
            ArtifactStatus::Trusted
        } else {
            ArtifactStatus::Untrusted
        };
        let (writer, reader) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let receipt = writer
            .append(vec![status_change(sha, status, "k")])
            .unwrap()
            .remove(0);
        reader.refresh().unwrap();
        assert!(reader.size() > receipt.index, "round {round}");
        let answer = reader.authenticate(&sha, &[]).unwrap();
        assert_eq!(answer.status, Status::from(status), "round {round}");
        answer
            .receipt
            .unwrap()
            .verify(reader.verifier_key())
            .unwrap();
    }
}

/// The fence: an instance whose lease is taken over while it sequences under load commits
/// nothing more — not the batches in flight, not later ones (it waits for the lease, bounded,
/// and refuses) — and continues the one history once the lease is free again.
#[test]
fn a_fenced_instance_commits_nothing() {
    let Some(db) = test_postgres::database() else {
        return;
    };
    let pa = Postgres::connect(&db.url())
        .unwrap()
        .with_lease(Duration::from_secs(2));
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(Ledger::open(dir.path(), on(&pa)).unwrap());
    a.append(vec![artifact(0, "k")]).unwrap();
    let acked = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (a, acked) = (a.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut oks = Vec::new();
                for i in 0.. {
                    match a.append(vec![artifact(1_000_000 * (t + 1) + i, "k")]) {
                        Ok(r) => {
                            oks.push(r[0].index);
                            acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        Err(e) => return (oks, e.to_string()),
                    }
                }
                unreachable!()
            })
        })
        .collect();
    while acked.load(std::sync::atomic::Ordering::SeqCst) < 100 {
        std::thread::yield_now();
    }
    // Another process takes the lease over (as one whose clock ran ahead would).
    let mut sql = db.client();
    let taken = sql
        .execute(
            "UPDATE notarium.leases SET token = token + 1, holder = 'intruder', \
             expires_at = now() + interval '1 hour'",
            &[],
        )
        .unwrap();
    assert_eq!(taken, 1);
    let count = |sql: &mut postgres::Client, table: &str| -> i64 {
        sql.query_one(&format!("SELECT COUNT(*) FROM notarium.{table}"), &[])
            .unwrap()
            .get(0)
    };
    let at_takeover = count(&mut sql, "entries");
    let (mut fenced, mut waited) = (0, 0);
    for t in threads {
        let (oks, error) = t.join().unwrap();
        assert!(
            oks.iter().all(|i| (*i as i64) < at_takeover),
            "an append acknowledged after the takeover"
        );
        if error.contains("took over the sequencer lease") {
            fenced += 1;
        } else if error.contains("did not hand it over") {
            waited += 1;
        } else {
            panic!("unexpected refusal: {error}");
        }
    }
    assert!(fenced > 0, "a batch in flight met the fence");
    assert_eq!(fenced + waited, 4);
    assert_eq!(
        count(&mut sql, "entries"),
        at_takeover,
        "nothing committed since"
    );
    assert_eq!(
        count(&mut sql, "checkpoints"),
        sql.query_one(
            "SELECT COUNT(*) FROM notarium.checkpoints WHERE size <= $1",
            &[&at_takeover]
        )
        .unwrap()
        .get::<_, i64>(0),
        "no checkpoint past the takeover"
    );
    let before = a.checkpoint();
    assert_eq!(before.size().0 as i64, at_takeover, "nothing published");
    // The intruder lets go: the instance takes the lease again and extends the same tree.
    sql.execute(
        "UPDATE notarium.leases SET expires_at = timestamptz '-infinity'",
        &[],
    )
    .unwrap();
    let r = a.append(vec![artifact(7, "k")]).unwrap().remove(0);
    assert_eq!(r.index as i64, at_takeover);
    let proof = a.prove_consistency(before.size().0, a.size()).unwrap();
    verify_consistency(
        before.size(),
        TreeSize(a.size()),
        &proof,
        &before.root(),
        &a.checkpoint().root(),
    )
    .unwrap();
    let report = audit_postgres(&pa, &default_name(), dir.path(), |_, _| {}).unwrap();
    assert!(report.is_clean(), "{:#?}", report.findings);
}

/// A database restored from an older copy (here: a copy taken with `CREATE DATABASE …
/// TEMPLATE`) is refused by an instance that signed more than it holds, naming what is missing.
#[test]
fn an_older_copy_of_the_database_is_refused() {
    let Some(db) = test_postgres::database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    {
        let pg = instance(&db);
        let a = Ledger::open(dir.path(), on(&pg)).unwrap();
        a.append((0..10).map(|i| artifact(i, "k")).collect())
            .unwrap();
    }
    let old = format!("{}_old", db.name());
    let mut admin = db.admin();
    admin
        .batch_execute(&format!("CREATE DATABASE {old} TEMPLATE {}", db.name()))
        .unwrap();
    {
        let pg = instance(&db);
        let a = Ledger::open(dir.path(), on(&pg)).unwrap();
        a.append((10..15).map(|i| artifact(i, "k")).collect())
            .unwrap();
    }
    let pg = Postgres::connect(&db.url_of(&old)).unwrap();
    let why = Ledger::open(dir.path(), on(&pg)).unwrap_err().to_string();
    assert!(why.contains("holds 10 entries"), "{why}");
    assert!(why.contains("signed a checkpoint of 15"), "{why}");
    drop(pg);
    admin
        .batch_execute(&format!("DROP DATABASE {old} WITH (FORCE)"))
        .unwrap();
}

/// Rows changed in the database: the audit names each change, as on SQLite; a changed key row
/// is refused when the keys are read.
#[test]
fn tampering_in_the_database_is_found() {
    let Some(db) = test_postgres::database() else {
        return;
    };
    let pg = instance(&db);
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), on(&pg)).unwrap();
    ledger
        .append(vec![NewEntry::KeyCreated {
            id: "k_ci".into(),
            name: "ci".into(),
            role: Role::Write,
            signer: "admin".into(),
            credential: [7; 32],
        }])
        .unwrap();
    for chunk in (0..600u64).collect::<Vec<_>>().chunks(100) {
        ledger
            .append(chunk.iter().map(|i| artifact(*i, "k_ci")).collect())
            .unwrap();
    }
    let findings = || {
        audit_postgres(&pg, &default_name(), dir.path(), |_, _| {})
            .unwrap()
            .findings
    };
    assert!(findings().is_empty());
    let mut sql = db.client();
    // An entry's bytes.
    sql.execute(
        "UPDATE notarium.entries SET data = replace(convert_from(data, 'UTF8'), \
         'artifact-99.tar.gz', 'artifact-X.tar.gz')::bytea WHERE idx = 100",
        &[],
    )
    .unwrap();
    let f = findings();
    assert!(
        f.iter()
            .any(|f| f.kind == FindingKind::Entry && f.index == Some(100)),
        "{f:#?}"
    );
    // A hash of a full tile.
    sql.execute(
        "UPDATE notarium.tiles SET hashes = overlay(hashes placing '\\xff'::bytea from 33 for 1) \
         WHERE level = 0 AND idx = 1",
        &[],
    )
    .unwrap();
    assert!(findings().iter().any(|f| f.kind == FindingKind::Tile));
    // A key's role raised behind the ledger's back.
    sql.execute("UPDATE notarium.api_keys SET role = 'admin'", &[])
        .unwrap();
    assert!(findings().iter().any(|f| f.kind == FindingKind::Key));
    let refused = ledger.credentials().unwrap_err().to_string();
    assert!(
        refused.contains("disagrees with its created entry"),
        "{refused}"
    );
}

/// `migrate`: a SQLite ledger with keys, a revocation, attributes, status changes and several
/// tiles moves into PostgreSQL with every row the same; the moved ledger opens with the same
/// checkpoint and key and goes on; migrating again finds it there; another history under the
/// same name is refused; a source that does not audit clean is refused.
#[test]
fn migrate_moves_a_sqlite_ledger_and_checks_every_row() {
    let Some(db) = test_postgres::database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    {
        let ledger = Ledger::open(dir.path(), options("default")).unwrap();
        for (id, role) in [("k_ci", Role::Write), ("k_old", Role::Write)] {
            ledger
                .append(vec![NewEntry::KeyCreated {
                    id: id.into(),
                    name: id.into(),
                    role,
                    signer: "admin".into(),
                    credential: Sha256::of(id.as_bytes()).0,
                }])
                .unwrap();
        }
        for chunk in (0..700u64).collect::<Vec<_>>().chunks(70) {
            ledger
                .append(chunk.iter().map(|i| artifact(*i, "k_ci")).collect())
                .unwrap();
        }
        let sha = Sha256::of(&5u64.to_be_bytes());
        ledger
            .append(vec![status_change(sha, ArtifactStatus::Untrusted, "k_old")])
            .unwrap();
        ledger
            .append(vec![NewEntry::KeyRevoked {
                id: "k_old".into(),
                signer: "admin".into(),
            }])
            .unwrap();
    }
    let sqlite = Ledger::open(dir.path(), options("default")).unwrap();
    let (checkpoint, size) = (sqlite.checkpoint(), sqlite.size());
    let keys = sqlite.credentials().unwrap();
    drop(sqlite);

    let pg = instance(&db);
    let mut steps = Vec::new();
    let moved = migrate_to_postgres(dir.path(), &default_name(), &pg, |s| {
        steps.push(s.to_owned())
    })
    .unwrap();
    assert!(!moved.already_there);
    assert_eq!(moved.entries, size);
    assert_eq!(moved.tiles, 4, "three level-0 tiles and one level-1 tile");
    assert!(moved.checkpoints > 10 && moved.index_nodes > 0, "{moved:?}");
    assert!(steps.iter().any(|s| s.contains("comparing")), "{steps:?}");

    // The same ledger, now served from the database.
    let ledger = Ledger::open(dir.path(), on(&pg)).unwrap();
    assert_eq!(ledger.checkpoint(), checkpoint);
    assert_eq!(ledger.credentials().unwrap(), keys);
    let sha = Sha256::of(&5u64.to_be_bytes());
    assert_eq!(
        ledger.authenticate(&sha, &[]).unwrap().status,
        Status::Revoked
    );
    let r = ledger
        .append(vec![artifact(9999, "k_ci")])
        .unwrap()
        .remove(0);
    assert_eq!(r.index, size);
    let proof = ledger.prove_consistency(size, size + 1).unwrap();
    verify_consistency(
        TreeSize(size),
        TreeSize(size + 1),
        &proof,
        &checkpoint.root(),
        &ledger.checkpoint().root(),
    )
    .unwrap();
    drop(ledger);

    // Again: the database holds this history (and more): nothing is copied.
    let again = migrate_to_postgres(dir.path(), &default_name(), &pg, |_| {}).unwrap();
    assert!(again.already_there);

    // Another SQLite ledger named default, another history: refused.
    let other = tempfile::tempdir().unwrap();
    {
        let l = Ledger::open(other.path(), options("default")).unwrap();
        l.append(vec![artifact(1, "k")]).unwrap();
    }
    let refused = migrate_to_postgres(other.path(), &default_name(), &pg, |_| {}).unwrap_err();
    assert!(
        matches!(refused, notarium_ledger::Error::Conflict(_)),
        "{refused}"
    );

    // A source that does not audit clean: refused before anything is copied.
    let other_db = test_postgres::database().unwrap();
    let pg2 = instance(&other_db);
    let conn = rusqlite::Connection::open(other.path().join("ledger.db")).unwrap();
    conn.execute("UPDATE entries SET name = 'changed'", [])
        .unwrap();
    drop(conn);
    let refused = migrate_to_postgres(other.path(), &default_name(), &pg2, |_| {}).unwrap_err();
    assert!(
        refused.to_string().contains("does not audit clean"),
        "{refused}"
    );
    assert!(pg2.ledgers().unwrap().is_empty());
}

/// The SQL that docs/postgresql.md gives for the read-only role (its first `sql` block after
/// the heading "The read-only role"), so that the documented setup is the tested one.
fn documented_reader_role() -> String {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/postgresql.md"
    ))
    .unwrap();
    let section = &doc[doc.find("## The read-only role").expect("the section")..];
    let start = section.find("```sql\n").expect("an sql block") + "```sql\n".len();
    let end = start + section[start..].find("```").unwrap();
    section[start..end].to_owned()
}

/// The views answer with decoded fields, the latest status of each artifact (revocations
/// included) and each key's lifecycle; the documented read-only role reads them and nothing
/// else: not the tables (credential hashes), and writes nowhere.
#[test]
fn views_answer_and_the_reader_role_only_reads_them() {
    let Some(db) = test_postgres::database() else {
        return;
    };
    let pg = instance(&db);
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), on(&pg)).unwrap();
    for id in ["k_ci", "k_old"] {
        ledger
            .append(vec![NewEntry::KeyCreated {
                id: id.into(),
                name: format!("{id} key"),
                role: Role::Write,
                signer: "admin".into(),
                credential: Sha256::of(id.as_bytes()).0,
            }])
            .unwrap();
    }
    let (a, b, c) = (Sha256::of(b"a"), Sha256::of(b"b"), Sha256::of(b"c"));
    ledger
        .append(vec![
            status_change(a, ArtifactStatus::Trusted, "k_ci"),
            status_change(b, ArtifactStatus::Trusted, "k_ci"),
            status_change(c, ArtifactStatus::Trusted, "k_old"),
        ])
        .unwrap();
    ledger
        .append(vec![status_change(b, ArtifactStatus::Untrusted, "k_ci")])
        .unwrap();
    ledger
        .append(vec![NewEntry::KeyRevoked {
            id: "k_old".into(),
            signer: "admin".into(),
        }])
        .unwrap();

    let mut admin = db.client();
    admin.batch_execute(&documented_reader_role()).unwrap();
    let mut analyst = postgres::Client::connect(&db.url_as("analyst"), postgres::NoTls).unwrap();

    let rows = analyst
        .query(
            "SELECT index, type, sha256, name, status, signer, kind, attributes->>'channel', \
             key_action, key_id, time IS NOT NULL, length(leaf) \
             FROM notarium_views.entries WHERE ledger = 'default' ORDER BY index",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len() as u64, ledger.size());
    assert_eq!(rows[0].get::<_, Option<&str>>(8), Some("created"));
    assert_eq!(rows[0].get::<_, Option<&str>>(9), Some("k_ci"));
    let first_artifact = &rows[2];
    assert_eq!(first_artifact.get::<_, Option<&str>>(1), Some("artifact"));
    assert_eq!(first_artifact.get::<_, Option<String>>(2), Some(a.to_hex()));
    assert_eq!(first_artifact.get::<_, Option<&str>>(6), Some("file"));
    assert_eq!(first_artifact.get::<_, Option<&str>>(7), Some("stable"));
    assert!(first_artifact.get::<_, bool>(10));
    let leaf = ledger.get(2).unwrap();
    assert_eq!(
        first_artifact.get::<_, i32>(11) as usize,
        base64_len(&leaf.leaf)
    );

    let status: BTreeMap<String, (String, String)> = analyst
        .query(
            "SELECT sha256, status, recorded_status FROM notarium_views.artifact_status \
             WHERE ledger = 'default'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    assert_eq!(status[&a.to_hex()], ("trusted".into(), "trusted".into()));
    assert_eq!(
        status[&b.to_hex()],
        ("untrusted".into(), "untrusted".into())
    );
    assert_eq!(status[&c.to_hex()], ("revoked".into(), "trusted".into()));
    // The same answers the ledger gives (which it proves; the view does not).
    for (sha, want) in [
        (a, Status::Trusted),
        (b, Status::Untrusted),
        (c, Status::Revoked),
    ] {
        assert_eq!(ledger.authenticate(&sha, &[]).unwrap().status, want);
    }

    let keys = analyst
        .query(
            "SELECT id, created_by, revoked_index, revoked_by, created_at IS NOT NULL \
             FROM notarium_views.keys WHERE ledger = 'default' ORDER BY created_index",
            &[],
        )
        .unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].get::<_, &str>(0), "k_ci");
    assert_eq!(keys[0].get::<_, Option<i64>>(2), None);
    assert_eq!(keys[1].get::<_, &str>(1), "admin");
    assert_eq!(keys[1].get::<_, Option<i64>>(2), Some(6));
    assert_eq!(keys[1].get::<_, Option<&str>>(3), Some("admin"));

    let latest = analyst
        .query_one(
            "SELECT size, checkpoint FROM notarium_views.ledgers WHERE ledger = 'default'",
            &[],
        )
        .unwrap();
    assert_eq!(latest.get::<_, i64>(0) as u64, ledger.size());
    assert_eq!(latest.get::<_, &str>(1), ledger.checkpoint().note());

    // Nothing but the views: no credential hashes, no writes.
    for sql in [
        "SELECT credential FROM notarium.api_keys",
        "SELECT * FROM notarium.entries",
        "INSERT INTO notarium.meta VALUES (1, 'x', 'y')",
        "DELETE FROM notarium.checkpoints",
        "UPDATE notarium.leases SET holder = 'me'",
    ] {
        let e = analyst.batch_execute(sql).unwrap_err();
        let code = e.code().map(|c| c.code().to_owned());
        assert_eq!(
            code.as_deref(),
            Some("42501"),
            "{sql}: {e} (insufficient privilege expected)"
        );
    }
    let e = analyst
        .batch_execute("DELETE FROM notarium_views.checkpoints")
        .unwrap_err();
    assert!(e.code().is_some(), "{e}");
}

fn base64_len(b64: &str) -> usize {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
        .len()
}
