//! Real `notariumd` processes on one PostgreSQL database (docs/postgresql.md), driven by the
//! real `notarium`: two instances serve one ledger, with writes and reads through both and a
//! client that moves between them never shown an older tree; keys made or revoked through one
//! count through the other; `kill -9` of the instance that sequences, under load, twenty times:
//! the other takes over within seconds, no acknowledged notarization is lost and every
//! checkpoint any client saw is consistent with every later one; the database dropping every
//! connection; a database restored from an older copy refused at start; `notariumd migrate` of
//! a served SQLite data directory, and the server going on on the database. Each test gets a
//! database of its own and skips (loudly) without PostgreSQL, unless `CI` is set.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notarium_core::merkle::verify_consistency;
use notarium_core::{Hash, LedgerName, Origin, Sha256, TreeSize, UnverifiedCheckpoint};
use notarium_e2e::postgres::{database, TestDatabase};
use notarium_e2e::{binary, Cli, Server, Setup};
use notarium_ledger::{Ledger, LedgerOptions, Postgres};

/// A short lease, so that each failover round is quick (it is the longest a dead sequencer
/// holds the others up).
const LEASE_MS: &str = "1000";

fn sha(s: &str) -> String {
    Sha256::of(s.as_bytes()).to_hex()
}

fn env(db: &TestDatabase) -> Vec<(&'static str, String)> {
    vec![
        ("NOTARIUM_DATABASE", db.url()),
        ("NOTARIUM_SEQUENCER_LEASE_MS", LEASE_MS.to_owned()),
    ]
}

fn refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A first instance on `db`, and a second started from a copy of its data directory.
fn two_instances(db: &TestDatabase) -> (Server, Server) {
    let env = env(db);
    let a = Server::start_with_env(&refs(&env));
    let b = Server::start_on_with_env(&a.data_dir(), a.admin_token(), &refs(&env));
    (a, b)
}

fn checkpoint_of(note: &str) -> (u64, Hash) {
    let c = UnverifiedCheckpoint::parse(note).expect("a checkpoint");
    (c.claimed().size.0, c.claimed().root)
}

/// The ledger as stored in `db`, opened in this process with `server`'s signing key (after the
/// servers stopped): for proofs between any two checkpoints, and the audit.
fn open_ledger(server: &Server, db: &TestDatabase) -> (Ledger, tempfile::TempDir, Postgres) {
    let dir = tempfile::tempdir().unwrap();
    for f in ["signing.key", "signed-checkpoint"] {
        std::fs::copy(server.default_ledger_dir().join(f), dir.path().join(f)).unwrap();
    }
    let pg = Postgres::connect(&db.url()).unwrap();
    let key = server.signing_key();
    let mut options = LedgerOptions::new(
        LedgerName::new("default").unwrap(),
        Origin::new(key.name()).unwrap(),
    );
    options.database = Some(pg.clone());
    (Ledger::open(dir.path(), options).unwrap(), dir, pg)
}

#[test]
fn two_instances_serve_one_ledger_with_writes_through_both() {
    let Some(db) = database() else {
        return;
    };
    let (a, b) = two_instances(&db);
    let key = a.create_key("ci", "write");
    let via_a = a.cli().with_key(&key.secret);
    // One client moving between the instances at every command (it keeps a state per server
    // URL: each instance's answers are held consistent with what it showed before).
    let via_b = via_a.with_server(b.url());
    for i in 0..12 {
        let (writer, reader) = if i % 2 == 0 {
            (&via_a, &via_b)
        } else {
            (&via_b, &via_a)
        };
        let name = format!("build-{i}");
        writer
            .run(["notarize", "--hash", &sha(&name), "--name", &name])
            .expect_code(0);
        reader
            .run(["authenticate", "--hash", &sha(&name)])
            .expect_code(0);
        if i % 3 == 0 {
            writer
                .run(["untrust", "--hash", &sha(&name), "--name", &name])
                .expect_code(0);
            reader
                .run(["authenticate", "--hash", &sha(&name)])
                .expect_code(1);
        }
    }
    for server in [&a, &b] {
        server.admin().run(["checkpoint"]).expect_code(0);
    }
    // A key made through the second instance works through the first at once.
    let other = b.create_key("release", "write");
    let other_cli = a.cli().with_key(&other.secret);
    other_cli
        .run(["notarize", "--hash", &sha("release"), "--name", "release"])
        .expect_code(0);
    // Revoked through the first, it is refused through the second within a couple of seconds.
    let through_b = b.cli().with_key(&other.secret);
    through_b
        .run(["notarize", "--hash", &sha("before"), "--name", "before"])
        .expect_code(0);
    a.admin().run(["key", "revoke", &other.id]).expect_code(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let run = through_b.run(["notarize", "--hash", &sha("after"), "--name", "after"]);
        if run.code == Some(7) {
            break;
        }
        run.expect_code(0);
        assert!(Instant::now() < deadline, "the revocation never reached B");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The artifact its key notarized now authenticates as revoked, through either instance.
    for cli in [&via_a, &via_b] {
        cli.run(["authenticate", "--hash", &sha("release")])
            .expect_code(4);
    }
    drop((a, b));
}

/// What the load threads saw: every acknowledged hash, and every checkpoint a client stored.
#[derive(Default)]
struct Seen {
    acked: Vec<String>,
    checkpoints: BTreeMap<u64, Hash>,
    unreachable: usize,
}

#[test]
fn kill_nine_of_the_sequencer_under_load_loses_nothing() {
    let Some(db) = database() else {
        return;
    };
    let (a, b) = two_instances(&db);
    let key = a.create_key("ci", "write");
    let urls = [a.url().to_owned(), b.url().to_owned()];
    let mut servers = [a, b];
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|t| {
            let (seen, stop, urls) = (seen.clone(), stop.clone(), urls.clone());
            let cli = Cli::new(&urls[0]).with_key(&key.secret);
            std::thread::spawn(move || {
                for i in 0u64.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let run_cli = cli.with_server(&urls[(i as usize + t) % 2]);
                    let name = format!("load-{t}-{i}");
                    let run = run_cli.run(["notarize", "--hash", &sha(&name), "--name", &name]);
                    match run.code {
                        Some(0) => {
                            let note = run_cli.stored_checkpoint();
                            let (size, root) = checkpoint_of(&note);
                            let mut seen = seen.lock().unwrap();
                            seen.acked.push(sha(&name));
                            if let Some(prev) = seen.checkpoints.insert(size, root) {
                                assert_eq!(prev, root, "two checkpoints of size {size}");
                            }
                        }
                        // The instance was killed: nothing was acknowledged.
                        Some(6) => seen.lock().unwrap().unreachable += 1,
                        _ => {
                            panic!("a client saw something else than an answer or an outage: {run}")
                        }
                    }
                }
            })
        })
        .collect();
    let acked = || seen.lock().unwrap().acked.len();
    let wait_for = |n: usize, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked() < n {
            assert!(Instant::now() < deadline, "{what}: no progress");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let mut sql = db.client();
    let mut takeovers = Vec::new();
    let mut killed_each = [0usize; 2];
    const ROUNDS: usize = 20;
    for round in 0..ROUNDS {
        wait_for(acked() + 8, &format!("round {round}, before the kill"));
        let holder: String = sql
            .query_one("SELECT holder FROM notarium.leases", &[])
            .unwrap()
            .get(0);
        let pid: u32 = holder.split(':').nth(1).unwrap().parse().unwrap();
        // The lease names the instance that sequenced last: after eight acknowledgements since
        // the last restart, always a live one.
        let victim = servers
            .iter()
            .position(|s| s.pid() == Some(pid))
            .unwrap_or_else(|| panic!("round {round}: the lease holder {holder} is no instance"));
        killed_each[victim] += 1;
        servers[victim].stop(); // SIGKILL
        let killed = Instant::now();
        let before = acked();
        wait_for(
            before + 4,
            &format!("round {round}, after killing the sequencer"),
        );
        takeovers.push(killed.elapsed());
        servers[victim].restart();
    }
    stop.store(true, Ordering::SeqCst);
    for t in load {
        t.join().unwrap();
    }
    let seen = Arc::try_unwrap(seen).ok().unwrap().into_inner().unwrap();
    let slowest = takeovers.iter().max().unwrap();
    assert!(
        *slowest < Duration::from_secs(15),
        "a takeover took {slowest:?}: {takeovers:?}"
    );
    assert!(seen.unreachable > 0, "the kills were felt");

    // Every acknowledged notarization authenticates (verified by the CLI), through both.
    for server in &servers {
        for chunk in seen.acked.chunks(200) {
            let mut args = vec!["authenticate".to_owned()];
            for h in chunk {
                args.extend(["--hash".to_owned(), h.clone()]);
            }
            server.admin().run(&args).expect_code(0);
        }
    }
    // Every checkpoint a client stored is consistent with the latest, proven and verified.
    for server in &mut servers {
        server.stop();
    }
    let (ledger, _dir, pg) = open_ledger(&servers[0], &db);
    let latest = ledger.checkpoint();
    for (&size, root) in &seen.checkpoints {
        let proof = ledger.prove_consistency(size, latest.size().0).unwrap();
        verify_consistency(TreeSize(size), latest.size(), &proof, root, &latest.root())
            .unwrap_or_else(|e| panic!("checkpoint {size} is inconsistent with the latest: {e}"));
    }
    let report = notarium_ledger::audit_postgres(
        &pg,
        &LedgerName::new("default").unwrap(),
        servers[0].default_ledger_dir().as_path(),
        |_, _| {},
    )
    .unwrap();
    assert!(report.is_clean(), "{:#?}", report.findings);
    eprintln!(
        "{ROUNDS} kills of the sequencer ({killed_each:?} of each instance): {} notarizations \
         acknowledged, {} refused by a dead instance, {} checkpoints seen; takeovers {:?} \
         (slowest {slowest:?})",
        seen.acked.len(),
        seen.unreachable,
        seen.checkpoints.len(),
        takeovers
    );
}

/// The database drops every connection (a restart, a failover of the database): a write may
/// fail once, the server reconnects on its own, and nothing acknowledged is lost.
#[test]
fn the_database_dropping_every_connection_is_survived() {
    let Some(db) = database() else {
        return;
    };
    let env = env(&db);
    let server = Server::start_with_env(&refs(&env));
    let key = server.create_key("ci", "write");
    let cli = server.cli().with_key(&key.secret);
    for i in 0..5 {
        let name = format!("before-{i}");
        cli.run(["notarize", "--hash", &sha(&name), "--name", &name])
            .expect_code(0);
    }
    let dropped: i64 = db
        .client()
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .len() as i64;
    assert!(dropped > 0, "the server had connections to drop");
    let mut attempts = 0;
    loop {
        attempts += 1;
        let run = cli.run(["notarize", "--hash", &sha("after"), "--name", "after"]);
        if run.code == Some(0) {
            break;
        }
        assert_eq!(
            run.code,
            Some(6),
            "a failed write is an outage, retryable: {run}"
        );
        assert!(attempts < 5, "the server did not reconnect: {run}");
    }
    for i in 0..5 {
        cli.run(["authenticate", "--hash", &sha(&format!("before-{i}"))])
            .expect_code(0);
    }
    cli.run(["authenticate", "--hash", &sha("after")])
        .expect_code(0);
}

/// A database restored from an older copy, behind what an instance signed: it refuses to start,
/// naming what is missing (the same check as for an older SQLite file).
#[test]
fn an_older_copy_of_the_database_is_refused_at_start() {
    let Some(db) = database() else {
        return;
    };
    let env = env(&db);
    let mut server = Server::start_with_env(&refs(&env));
    let key = server.create_key("ci", "write");
    let cli = server.cli().with_key(&key.secret);
    for i in 0..4 {
        let name = format!("first-{i}");
        cli.run(["notarize", "--hash", &sha(&name), "--name", &name])
            .expect_code(0);
    }
    server.stop();
    let old = format!("{}_old", db.name());
    let mut admin = db.admin();
    admin
        .batch_execute(&format!("CREATE DATABASE {old} TEMPLATE {}", db.name()))
        .unwrap();
    server.restart();
    for i in 0..3 {
        let name = format!("second-{i}");
        cli.run(["notarize", "--hash", &sha(&name), "--name", &name])
            .expect_code(0);
    }
    server.stop();
    server.set_env("NOTARIUM_DATABASE", &db.url_of(&old));
    let why = server.try_restart().unwrap_err();
    assert!(why.contains("signed a checkpoint of"), "{why}");
    assert!(why.contains("were answered about are gone"), "{why}");
    // Back on the current database it serves everything acknowledged.
    server.set_env("NOTARIUM_DATABASE", &db.url());
    server.try_restart().unwrap();
    cli.run(["authenticate", "--hash", &sha("second-2")])
        .expect_code(0);
    drop(server);
    admin
        .batch_execute(&format!("DROP DATABASE {old} WITH (FORCE)"))
        .unwrap();
}

/// Runs `notariumd ARGS…` to completion: its exit code, standard output and standard error.
fn notariumd(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(binary("notariumd"))
        .args(args)
        .env_remove("NOTARIUM_DATABASE")
        .env_remove("NOTARIUM_CONFIG")
        .output()
        .expect("notariumd runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `notariumd migrate` on the data directory of a server that ran on SQLite: refused while the
/// server runs; once stopped, every ledger is copied and checked, a second run finds them there;
/// the server, restarted on the database with its SQLite files gone, answers everything it
/// acknowledged, to a client whose stored checkpoint came from the SQLite server (so the tree
/// on PostgreSQL extends it), and goes on; the offline audit of the database is clean.
#[test]
fn migrate_moves_a_served_data_directory_and_the_server_goes_on_on_postgres() {
    let Some(db) = database() else {
        return;
    };
    let mut setup = Setup::new();
    let admin = setup.server.admin();
    admin.run(["ledger", "create", "releases"]).expect_code(0);
    for i in 0..6 {
        let name = format!("sqlite-{i}");
        setup
            .cli
            .run(["notarize", "--hash", &sha(&name), "--name", &name])
            .expect_code(0);
    }
    setup
        .cli
        .run(["untrust", "--hash", &sha("sqlite-1"), "--name", "sqlite-1"])
        .expect_code(0);
    admin
        .clone()
        .env("NOTARIUM_LEDGER", "releases")
        .run(["notarize", "--hash", &sha("release"), "--name", "release"])
        .expect_code(0);
    let before = checkpoint_of(&setup.cli.stored_checkpoint());
    let data = setup.server.data_dir();
    let url = db.url();
    let migrate = [
        "migrate".as_ref(),
        "--from".as_ref(),
        data.as_os_str(),
        "--database".as_ref(),
        url.as_ref(),
    ];

    // The server holds the directory: nothing is copied under it.
    let (code, out, err) = notariumd(&migrate);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("is in use by"), "{err}");
    let ledgers: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'notarium' \
             AND table_name = 'ledgers'",
            &[],
        )
        .unwrap()
        .get(0);
    if ledgers > 0 {
        let rows: i64 = db
            .client()
            .query_one("SELECT count(*) FROM notarium.ledgers", &[])
            .unwrap()
            .get(0);
        assert_eq!(rows, 0, "a ledger was copied from a served directory");
    }

    setup.server.stop();
    let (code, out, err) = notariumd(&migrate);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("ledger default: copied and checked"), "{out}");
    assert!(out.contains("ledger releases: copied and checked"), "{out}");
    let (code, out, err) = notariumd(&migrate);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("ledger default: the database holds its history already"),
        "{out}"
    );

    // The SQLite files go: the restarted server can only be answering from the database.
    for ledger in ["default", "releases"] {
        let dir = data.join("ledgers").join(ledger);
        for f in ["ledger.db", "ledger.db-wal", "ledger.db-shm"] {
            let _ = std::fs::remove_file(dir.join(f));
        }
    }
    setup.server.set_env("NOTARIUM_DATABASE", &url);
    setup.server.try_restart().unwrap();
    for i in [0, 2, 3, 4, 5] {
        setup
            .cli
            .run(["authenticate", "--hash", &sha(&format!("sqlite-{i}"))])
            .expect_code(0);
    }
    setup
        .cli
        .run(["authenticate", "--hash", &sha("sqlite-1")])
        .expect_code(1);
    setup
        .cli
        .run(["notarize", "--hash", &sha("postgres"), "--name", "postgres"])
        .expect_code(0);
    setup
        .cli
        .run(["authenticate", "--hash", &sha("postgres")])
        .expect_code(0);
    let after = checkpoint_of(&setup.cli.stored_checkpoint());
    assert!(after.0 > before.0, "{before:?} then {after:?}");
    let stored: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM notarium.entries e JOIN notarium.ledgers l ON l.id = e.ledger_id \
             WHERE l.name = 'default'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        stored as u64, after.0,
        "every entry of the tree is in the database"
    );
    admin
        .env("NOTARIUM_LEDGER", "releases")
        .run(["authenticate", "--hash", &sha("release")])
        .expect_code(0);

    setup.server.stop();
    let (code, out, err) = notariumd(&[
        "audit".as_ref(),
        data.as_os_str(),
        "--database".as_ref(),
        url.as_ref(),
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("ledger default: ok"), "{out}");
    assert!(out.contains("ledger releases: ok"), "{out}");
}
