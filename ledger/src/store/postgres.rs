//! The PostgreSQL store (docs/postgresql.md): every ledger of a deployment in one database,
//! several `notariumd` in front of it. Every SQL statement of this backend is here.
//!
//! Schema `notarium` holds the SQLite backend's tables with the same meaning, row for row, each
//! with a `ledger_id` column first: `entries`, `attributes`, `revocations`, `api_keys`, `tiles`,
//! `checkpoints`, `index_nodes`, `meta`; and three of its own: `ledgers` (name → id),
//! `leases` (each ledger's sequencer lease) and `migrations`. Schema `notarium_views` holds the
//! read-only views for people and tools (their columns are a contract, the tables are not).
//!
//! One schema with a ledger column, not a schema per ledger: ledger names run to 64 characters
//! and PostgreSQL identifiers to 63 bytes, and one set of views then answers for every ledger.
//!
//! **Several processes, one sequencer.** A ledger is appended to by the process that holds its
//! row in `leases`: a holder, a token that grows with every change of holder, and an expiry on
//! the database's clock. Every batch's transaction begins by renewing that row *with the token
//! it was given* (the fence): a process whose lease was taken over finds no row to renew, and
//! its transaction writes nothing. The row stays locked until the commit, so a takeover waits
//! for the batch in flight. A process that wants the lease while another holds it marks the row
//! (`wanted_by`); the holder hands the lease over at its next commit, or when it runs out of
//! work, and says so on the channel `notarium_lease_<id>`. A holder that dies simply lets the
//! lease expire. Lease bookkeeping commits without waiting for the disk: losing it to a crash
//! of the database can only make a holder believe it holds a lease it lost, which the fence
//! catches.
//!
//! Connections: each read connection and the sequencer's one write connection is a blocking
//! client (`postgres`) of its own, reconnected when the database drops it. The signing key and
//! the record of the latest signed checkpoint never reach the database (`crate::signer`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use notarium_core::api::Key;
use notarium_core::index::tree::{Node, NodeKey};
use notarium_core::{Role, Sha256};

use super::{Backend, Batch, Filter, LastEntry, NodeVisitor, Reader, StoredEntry, Writer};
use crate::entries::Columns;
use crate::{Durability, Error};

/// Numbered migrations; `notarium.migrations` records which ran. They run in one transaction
/// under an advisory lock, so that instances starting together migrate once.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE notarium.ledgers (
    id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE notarium.meta (
    ledger_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (ledger_id, key)
);
CREATE TABLE notarium.entries (
    ledger_id INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    data BYTEA NOT NULL,
    type TEXT,
    sha256 BYTEA,
    name TEXT,
    signer TEXT,
    status TEXT,
    time_us BIGINT,
    PRIMARY KEY (ledger_id, idx)
);
CREATE INDEX entries_by_sha256 ON notarium.entries (ledger_id, sha256, idx);
CREATE INDEX entries_by_name ON notarium.entries (ledger_id, name, idx);
CREATE INDEX entries_by_signer ON notarium.entries (ledger_id, signer, idx);
CREATE INDEX entries_by_time ON notarium.entries (ledger_id, time_us, idx);
CREATE TABLE notarium.attributes (
    ledger_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, idx BIGINT NOT NULL,
    PRIMARY KEY (ledger_id, key, value, idx)
);
CREATE TABLE notarium.revocations (
    ledger_id INTEGER NOT NULL, key_id TEXT NOT NULL, idx BIGINT NOT NULL,
    PRIMARY KEY (ledger_id, key_id)
);
CREATE TABLE notarium.api_keys (
    ledger_id INTEGER NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    credential BYTEA NOT NULL,
    created_idx BIGINT NOT NULL,
    revoked_idx BIGINT,
    PRIMARY KEY (ledger_id, id),
    UNIQUE (ledger_id, credential)
);
CREATE TABLE notarium.tiles (
    ledger_id INTEGER NOT NULL, level SMALLINT NOT NULL, idx BIGINT NOT NULL,
    hashes BYTEA NOT NULL,
    PRIMARY KEY (ledger_id, level, idx)
);
CREATE TABLE notarium.checkpoints (
    ledger_id INTEGER NOT NULL, size BIGINT NOT NULL, note TEXT NOT NULL,
    index_version BIGINT,
    PRIMARY KEY (ledger_id, size)
);
CREATE TABLE notarium.index_nodes (
    ledger_id INTEGER NOT NULL, key BYTEA NOT NULL, node BYTEA NOT NULL,
    PRIMARY KEY (ledger_id, key)
);
CREATE TABLE notarium.leases (
    ledger_id INTEGER PRIMARY KEY,
    token BIGINT NOT NULL,
    holder TEXT,
    expires_at TIMESTAMPTZ NOT NULL,
    wanted_by TEXT
);
",
    r"
-- Read-only views for people and tools (docs/postgresql.md): their columns are a contract.
-- A view reads the tables with its owner's rights: a role granted only these views sees no
-- credential hash and cannot write.
CREATE SCHEMA notarium_views;
CREATE VIEW notarium_views.ledgers AS
SELECT l.name AS ledger, o.value AS origin, c.size, c.note AS checkpoint, l.created_at
FROM notarium.ledgers l
LEFT JOIN notarium.meta o ON o.ledger_id = l.id AND o.key = 'origin'
LEFT JOIN LATERAL (
    SELECT size, note FROM notarium.checkpoints k
    WHERE k.ledger_id = l.id ORDER BY size DESC LIMIT 1
) c ON true;
CREATE VIEW notarium_views.entries AS
SELECT l.name AS ledger, e.idx AS index, e.type,
       timestamptz 'epoch' + e.time_us * interval '1 microsecond' AS time,
       encode(e.sha256, 'hex') AS sha256, e.name, e.status, e.signer,
       j->>'kind' AS kind, (j->>'size')::bigint AS size,
       j->'attributes' AS attributes, j->'ci' AS ci, j->'identity' AS identity,
       j->>'action' AS key_action, j->>'id' AS key_id, j->>'role' AS key_role,
       j AS entry, e.data AS leaf
FROM notarium.entries e
JOIN notarium.ledgers l ON l.id = e.ledger_id
CROSS JOIN LATERAL (
    SELECT CASE WHEN e.type IS NOT NULL THEN convert_from(e.data, 'UTF8')::jsonb END AS j
) d;
CREATE VIEW notarium_views.artifact_status AS
SELECT l.name AS ledger, encode(d.sha256, 'hex') AS sha256,
       CASE WHEN r.idx IS NULL THEN d.status ELSE 'revoked' END AS status,
       d.status AS recorded_status, d.idx AS deciding_index, d.name, d.signer,
       timestamptz 'epoch' + d.time_us * interval '1 microsecond' AS time,
       r.idx AS revocation_index
FROM (
    SELECT DISTINCT ON (ledger_id, sha256) ledger_id, sha256, idx, name, signer, status, time_us
    FROM notarium.entries WHERE type = 'artifact'
    ORDER BY ledger_id, sha256, idx DESC
) d
JOIN notarium.ledgers l ON l.id = d.ledger_id
LEFT JOIN notarium.revocations r ON r.ledger_id = d.ledger_id AND r.key_id = d.signer;
CREATE VIEW notarium_views.keys AS
SELECT l.name AS ledger, k.id, k.name, k.role,
       k.created_idx AS created_index,
       timestamptz 'epoch' + c.time_us * interval '1 microsecond' AS created_at,
       c.signer AS created_by,
       k.revoked_idx AS revoked_index,
       timestamptz 'epoch' + r.time_us * interval '1 microsecond' AS revoked_at,
       r.signer AS revoked_by
FROM notarium.api_keys k
JOIN notarium.ledgers l ON l.id = k.ledger_id
LEFT JOIN notarium.entries c ON c.ledger_id = k.ledger_id AND c.idx = k.created_idx
LEFT JOIN notarium.entries r ON r.ledger_id = k.ledger_id AND r.idx = k.revoked_idx;
CREATE VIEW notarium_views.checkpoints AS
SELECT l.name AS ledger, c.size, c.note
FROM notarium.checkpoints c JOIN notarium.ledgers l ON l.id = c.ledger_id;
",
];

/// The role the documented read-only setup creates (docs/postgresql.md): each migration that
/// adds views grants them to it when it exists, so that an upgrade keeps it working.
const READER_ROLE: &str = "notarium_reader";

/// A key for `pg_advisory_xact_lock` while migrating: the bytes of "notarium".
const MIGRATION_LOCK: i64 = 0x6e6f_7461_7269_756d;

/// How long a process may hold a ledger's lease without renewing it, by default. A sequencer
/// that dies stops writes for at most this long (plus one poll).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5);

/// How often a process waiting for a lease looks again without being told it was released.
const LEASE_POLL: Duration = Duration::from_millis(250);

/// Rows per statement when scanning or copying a whole ledger.
const SCAN_ROWS: i64 = 10_000;

/// A PostgreSQL database holding ledgers: its connection settings, checked and migrated once.
/// Cheap to clone; every ledger opened on it connects on its own.
#[derive(Clone)]
pub struct Postgres {
    db: Arc<Database>,
}

struct Database {
    config: postgres::Config,
    tls: MakeRustlsConnect,
    /// The URL without its password, for messages.
    shown: String,
    /// This process's name in `leases.holder`: host, process id and a random part.
    instance: String,
    lease: Duration,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("url", &self.db.shown)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for Postgres {
    /// The URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.db.shown)
    }
}

impl Postgres {
    /// Checks `url` (`postgres://user:password@host:port/database?sslmode=…`), connects once
    /// and brings the schema up to date.
    ///
    /// TLS: `sslmode=disable` never uses it; `prefer` (the default) uses it when the server
    /// offers it; `require`, `verify-ca` and `verify-full` insist on it. Whenever TLS is used,
    /// the server's certificate is verified against the system's roots, or against
    /// `sslrootcert=FILE` (PEM) when given — rustls always checks the host name too.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL that does not parse; [`Error::Database`] when the database
    /// cannot be reached or migrated; [`Error::Corrupt`] when a newer program migrated it.
    pub fn connect(url: &str) -> Result<Postgres, Error> {
        let (config, roots, shown) = parse_url(url)?;
        let tls = MakeRustlsConnect::new(client_tls(roots.as_deref())?);
        let db = Postgres {
            db: Arc::new(Database {
                config,
                tls,
                shown,
                instance: instance_name(),
                lease: DEFAULT_LEASE,
            }),
        };
        let mut client = db.client()?;
        migrate(&mut client)?;
        Ok(db)
    }

    /// The same database with another lease duration (how long a sequencer that stopped
    /// answering keeps the others from writing).
    pub fn with_lease(&self, lease: Duration) -> Postgres {
        Postgres {
            db: Arc::new(Database {
                config: self.db.config.clone(),
                tls: self.db.tls.clone(),
                shown: self.db.shown.clone(),
                instance: self.db.instance.clone(),
                lease: lease.max(Duration::from_millis(200)),
            }),
        }
    }

    /// This process's name in the lease rows (`leases.holder`).
    pub fn instance(&self) -> &str {
        &self.db.instance
    }

    /// The names of the ledgers in the database, sorted.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn ledgers(&self) -> Result<Vec<String>, Error> {
        let mut client = self.client()?;
        Ok(client
            .query("SELECT name FROM notarium.ledgers ORDER BY name", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn client(&self) -> Result<Client, Error> {
        self.db
            .config
            .connect(self.db.tls.clone())
            .map_err(|e| Error::Unavailable(format!("cannot connect to {}: {e}", self.db.shown)))
    }

    /// Runs `f` with a read connection of the existing ledger `name`, on one snapshot of the
    /// database.
    pub(crate) fn read_snapshot<T>(
        &self,
        name: &str,
        f: impl FnOnce(&dyn Reader) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let read = self.backend(name, Durability::Full).read_conn()?;
        if read.resolve()?.is_none() {
            return Err(Error::NotFound(format!(
                "ledger {name} in the database {self}"
            )));
        }
        read.snapshot(|| f(&read))
    }

    /// Copies ledger `name`, `size` entries in `source`, into this database: every row in one
    /// transaction, so that a copy that fails leaves nothing. Its lease starts free.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the database has a ledger of that name; storage errors.
    pub(crate) fn import(&self, name: &str, source: &dyn Reader, size: u64) -> Result<(), Error> {
        let mut conn = self.backend(name, Durability::Full).conn("")?;
        conn.transaction("BEGIN", |c| {
            let id: i32 = c
                .query_opt(
                    "INSERT INTO notarium.ledgers (name) VALUES ($1) \
                     ON CONFLICT (name) DO NOTHING RETURNING id",
                    &[&name],
                )?
                .ok_or_else(|| Error::Conflict(format!("ledger {name} exists in the database")))?
                .get(0);
            for key in ["name", "origin", "signed_record"] {
                if let Some(value) = source.meta(key)? {
                    c.execute(
                        "INSERT INTO notarium.meta (ledger_id, key, value) VALUES ($1, $2, $3)",
                        &[&id, &key, &value],
                    )?;
                }
            }
            let mut rows = Rows::default();
            source.scan_entries(&mut |e| {
                let known = |v: Option<String>, names: &[&'static str]| -> Result<_, Error> {
                    v.map(|v| {
                        names.iter().copied().find(|n| *n == v).ok_or_else(|| {
                            Error::Corrupt(format!("entry {}: unknown column value {v:?}", e.index))
                        })
                    })
                    .transpose()
                };
                let r = &mut rows.entries;
                r.idx.push(sql_int(e.index));
                r.kind.push(known(e.kind, &["artifact", "key"])?);
                r.status
                    .push(known(e.status, &["trusted", "untrusted", "unsupported"])?);
                r.data.push(e.data);
                r.sha256.push(e.sha256);
                r.name.push(e.name);
                r.signer.push(e.signer);
                r.time_us.push(e.time_us);
                if r.idx.len() as i64 >= SCAN_ROWS {
                    write_rows(c, id, &std::mem::take(&mut rows))?;
                }
                Ok(())
            })?;
            for (k, v, idx) in source.attribute_rows()? {
                rows.attributes.0.push(k);
                rows.attributes.1.push(v);
                rows.attributes.2.push(sql_int(idx));
            }
            for (level, index) in crate::tiles::stored_tiles(size) {
                let bytes = source.tile(level, index)?.ok_or_else(|| {
                    Error::Corrupt(format!("tile {level}/{index} is missing in the source"))
                })?;
                rows.tiles.0.push(i16::from(level));
                rows.tiles.1.push(sql_int(index));
                rows.tiles.2.push(bytes);
            }
            write_rows(c, id, &std::mem::take(&mut rows))?;
            for (credential, key) in source.credentials()? {
                c.execute(
                    "INSERT INTO notarium.api_keys \
                         (ledger_id, id, name, role, credential, created_idx, revoked_idx) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[
                        &id,
                        &key.id,
                        &key.name,
                        &key.role.as_str(),
                        &&credential[..],
                        &sql_int(key.created_index),
                        &key.revoked_index.map(sql_int),
                    ],
                )?;
            }
            for (key_id, idx) in source.revocation_rows()? {
                c.execute(
                    "INSERT INTO notarium.revocations (ledger_id, key_id, idx) VALUES ($1, $2, $3)",
                    &[&id, &key_id, &sql_int(idx)],
                )?;
            }
            let versions: HashMap<u64, Option<u64>> =
                source.index_versions()?.into_iter().collect();
            for (size, note) in source.checkpoints()? {
                let version = versions.get(&size).copied().flatten().map(sql_int);
                c.execute(
                    "INSERT INTO notarium.checkpoints (ledger_id, size, note, index_version) \
                     VALUES ($1, $2, $3, $4)",
                    &[&id, &sql_int(size), &note, &version],
                )?;
            }
            source.scan_index_nodes(&mut |key, node| {
                rows.nodes.0.push(key.to_vec());
                rows.nodes.1.push(node.to_vec());
                if rows.nodes.0.len() as i64 >= SCAN_ROWS {
                    write_rows(c, id, &std::mem::take(&mut rows))?;
                }
                Ok(())
            })?;
            write_rows(c, id, &rows)?;
            c.execute(
                "INSERT INTO notarium.leases (ledger_id, token, holder, expires_at) \
                 VALUES ($1, 0, NULL, timestamptz '-infinity')",
                &[&id],
            )?;
            Ok(())
        })
    }

    /// The backend of ledger `name` in this database.
    pub(crate) fn backend(&self, name: &str, durability: Durability) -> PgLedger {
        PgLedger {
            db: self.clone(),
            name: name.to_owned(),
            id: Arc::new(OnceLock::new()),
            durability,
            held: Arc::new(Mutex::new(None)),
        }
    }
}

/// `url` as a client configuration, the CA file it names (`sslrootcert`), and its text
/// without the password.
fn parse_url(url: &str) -> Result<(postgres::Config, Option<String>, String), Error> {
    let bad = |why: String| Error::Config(format!("database URL: {why}"));
    let mut parsed = url::Url::parse(url.trim()).map_err(|e| {
        bad(format!(
            "{e} (expected postgres://user:password@host/database)"
        ))
    })?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(bad(format!(
            "scheme {:?} is not postgres:// or postgresql://",
            parsed.scheme()
        )));
    }
    let mut roots = None;
    let mut pairs = Vec::new();
    for (k, v) in parsed.query_pairs() {
        match k.as_ref() {
            "sslrootcert" => roots = Some(v.into_owned()),
            // rustls always verifies the chain and the host name.
            "sslmode" if matches!(v.as_ref(), "verify-ca" | "verify-full") => {
                pairs.push(("sslmode".to_owned(), "require".to_owned()));
            }
            _ => pairs.push((k.into_owned(), v.into_owned())),
        }
    }
    if !pairs.iter().any(|(k, _)| k == "application_name") {
        pairs.push(("application_name".into(), "notariumd".into()));
    }
    if !pairs.iter().any(|(k, _)| k == "connect_timeout") {
        pairs.push(("connect_timeout".into(), "10".into()));
    }
    parsed.query_pairs_mut().clear().extend_pairs(&pairs);
    let mut config = postgres::Config::from_str(parsed.as_str()).map_err(|e| bad(e.to_string()))?;
    // A peer that vanishes (a host that died) is noticed within seconds, not hours.
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(10));
    let mut shown = parsed.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    Ok((config, roots, shown.to_string()))
}

/// rustls on ring, verifying servers against `roots` (a PEM file) or the system's roots.
fn client_tls(roots: Option<&str>) -> Result<rustls::ClientConfig, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut store = rustls::RootCertStore::empty();
    match roots {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path)
                .map_err(|e| Error::Config(format!("sslrootcert {path}: {e}")))?
            {
                let cert = cert.map_err(|e| Error::Config(format!("sslrootcert {path}: {e}")))?;
                store
                    .add(cert)
                    .map_err(|e| Error::Config(format!("sslrootcert {path}: {e}")))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system certificate that rustls cannot use is skipped, as browsers do.
                let _ = store.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS: {e}")))?
        .with_root_certificates(store)
        .with_no_client_auth())
}

/// `host:pid:random`: unique per process, readable in the lease rows.
fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let mut random = [0u8; 4];
    let _ = getrandom::getrandom(&mut random);
    format!("{host}:{}:{}", std::process::id(), hex::encode(random))
}

fn migrate(client: &mut Client) -> Result<(), Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS notarium;
         CREATE TABLE IF NOT EXISTS notarium.migrations (
             version INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         );",
    )?;
    let done: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM notarium.migrations",
            &[],
        )?
        .get(0);
    let done = usize::try_from(done).unwrap_or(0);
    if done > MIGRATIONS.len() {
        return Err(Error::Corrupt(format!(
            "the database's notarium schema is at version {done}, newer than this program ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        tx.batch_execute(sql)?;
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO notarium.migrations (version) VALUES ($1)",
            &[&version],
        )?;
    }
    if done < MIGRATIONS.len() {
        tx.batch_execute(&format!(
            "DO $$ BEGIN
               IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{READER_ROLE}') THEN
                 GRANT USAGE ON SCHEMA notarium_views TO {READER_ROLE};
                 GRANT SELECT ON ALL TABLES IN SCHEMA notarium_views TO {READER_ROLE};
               END IF;
             END $$;"
        ))?;
    }
    tx.commit()?;
    Ok(())
}

/// PostgreSQL integers are signed: indexes past `i64::MAX` cannot exist in a table, so a bound
/// beyond it means "no bound".
fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Adds `value` to a statement's parameters and returns its placeholder (`$n`).
fn param<'a>(args: &mut Vec<&'a (dyn ToSql + Sync)>, value: &'a (dyn ToSql + Sync)) -> String {
    args.push(value);
    format!("${}", args.len())
}

/// A stored index or size, which is never negative.
fn stored(v: i64) -> Result<u64, Error> {
    u64::try_from(v).map_err(|_| Error::Corrupt(format!("a negative index ({v}) is stored")))
}

fn stored_opt(v: Option<i64>) -> Result<Option<u64>, Error> {
    v.map(stored).transpose()
}

/// The store of one ledger in a PostgreSQL database.
pub(crate) struct PgLedger {
    db: Postgres,
    name: String,
    /// The ledger's row in `notarium.ledgers`, once it exists.
    id: Arc<OnceLock<i32>>,
    durability: Durability,
    /// Until when this process's writer holds the ledger's lease (by this process's clock,
    /// measured from before the lease was last renewed, so never later than the database's).
    held: Arc<Mutex<Option<Instant>>>,
}

impl PgLedger {
    fn conn(&self, setup: &'static str) -> Result<Conn, Error> {
        let mut conn = Conn {
            db: self.db.clone(),
            client: None,
            statements: HashMap::new(),
            setup,
            in_tx: false,
        };
        conn.client()?;
        Ok(conn)
    }

    fn read_conn(&self) -> Result<PgRead, Error> {
        let read = PgRead {
            conn: RefCell::new(self.conn("")?),
            id: self.id.clone(),
            name: self.name.clone(),
        };
        read.resolve()?;
        Ok(read)
    }
}

impl Backend for PgLedger {
    fn reader(&self) -> Result<Box<dyn Reader>, Error> {
        Ok(Box::new(self.read_conn()?))
    }

    fn writer(&self) -> Result<Box<dyn Writer>, Error> {
        Ok(Box::new(PgWrite {
            read: self.read_conn()?,
            db: self.db.clone(),
            durability: self.durability,
            lease: None,
            held: self.held.clone(),
            listening: false,
        }))
    }

    fn serves_latest(&self) -> bool {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|until| until > Instant::now())
    }
}

/// One connection with its prepared statements, reconnected when the database dropped it.
struct Conn {
    db: Postgres,
    client: Option<Client>,
    statements: HashMap<String, Statement>,
    /// Statements that set up a new session.
    setup: &'static str,
    /// In a transaction: a lost connection must then fail it, never be replaced mid-way.
    in_tx: bool,
}

impl Conn {
    fn client(&mut self) -> Result<&mut Client, Error> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            if self.in_tx {
                return Err(Error::Unavailable(
                    "the connection to the database was lost during a transaction (a commit \
                     under way may or may not have taken effect)"
                        .into(),
                ));
            }
            self.statements.clear();
            let mut client = self.db.client()?;
            if !self.setup.is_empty() {
                client.batch_execute(self.setup)?;
            }
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// `sql` prepared once per connection.
    fn prepared(&mut self, sql: &str) -> Result<Statement, Error> {
        if let Some(st) = self.statements.get(sql) {
            if !self.client.as_ref().is_none_or(Client::is_closed) {
                return Ok(st.clone());
            }
        }
        let st = self.client()?.prepare(sql)?;
        self.statements.insert(sql.to_owned(), st.clone());
        Ok(st)
    }

    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        let st = self.prepared(sql)?;
        Ok(self.client()?.query(&st, params)?)
    }

    fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        let st = self.prepared(sql)?;
        Ok(self.client()?.query_opt(&st, params)?)
    }

    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        let st = self.prepared(sql)?;
        Ok(self.client()?.execute(&st, params)?)
    }

    fn batch(&mut self, sql: &str) -> Result<(), Error> {
        Ok(self.client()?.batch_execute(sql)?)
    }

    /// Runs `f` in a transaction (begun with `begin`), committing when it succeeds and rolling
    /// back otherwise.
    fn transaction<T>(
        &mut self,
        begin: &str,
        f: impl FnOnce(&mut Conn) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.batch(begin)?;
        self.in_tx = true;
        let out = f(self).and_then(|v| self.batch("COMMIT").map(|()| v));
        if out.is_err() {
            // A broken connection has no transaction left to roll back.
            if let Some(c) = self.client.as_mut().filter(|c| !c.is_closed()) {
                let _ = c.batch_execute("ROLLBACK");
            }
        }
        self.in_tx = false;
        out
    }
}

impl Drop for Conn {
    /// A blocking client owns a small runtime, which must not be dropped on an async thread
    /// (a ledger dropped by a server's task): then it is dropped on a thread of its own.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                let _ = std::thread::Builder::new()
                    .name("postgres-close".into())
                    .spawn(move || drop(client));
            }
        }
    }
}

/// A read connection of one ledger (and the reads of the write connection).
struct PgRead {
    conn: RefCell<Conn>,
    id: Arc<OnceLock<i32>>,
    name: String,
}

impl PgRead {
    /// Looks the ledger's id up, once it exists.
    fn resolve(&self) -> Result<Option<i32>, Error> {
        if let Some(id) = self.id.get() {
            return Ok(Some(*id));
        }
        let row = self.conn.borrow_mut().query_opt(
            "SELECT id FROM notarium.ledgers WHERE name = $1",
            &[&self.name],
        )?;
        Ok(row.map(|r| *self.id.get_or_init(|| r.get(0))))
    }

    fn rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        self.conn.borrow_mut().query(sql, params)
    }

    fn row(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, Error> {
        self.conn.borrow_mut().query_opt(sql, params)
    }

    /// Runs `f` on one snapshot of the database (a repeatable-read, read-only transaction):
    /// for the audit and the migration's check, which read a whole ledger while it may grow.
    fn snapshot<T>(&self, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
        self.conn
            .borrow_mut()
            .batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        self.conn.borrow_mut().in_tx = true;
        let out = f();
        let mut conn = self.conn.borrow_mut();
        let end = conn.batch(if out.is_ok() { "COMMIT" } else { "ROLLBACK" });
        conn.in_tx = false;
        let out = out?;
        end?;
        Ok(out)
    }
}

const KEY_COLUMNS: &str = "id, name, role, created_idx, revoked_idx";

fn to_key(r: &Row, at: usize) -> Result<Key, Error> {
    let role: String = r.get(at + 2);
    Ok(Key {
        id: r.get(at),
        name: r.get(at + 1),
        role: match role.as_str() {
            "read" => Role::Read,
            "write" => Role::Write,
            "admin" => Role::Admin,
            other => {
                return Err(Error::Corrupt(format!(
                    "unknown role {other:?} in api_keys"
                )))
            }
        },
        created_index: stored(r.get(at + 3))?,
        revoked_index: stored_opt(r.get(at + 4))?,
    })
}

impl Reader for PgRead {
    fn tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(None);
        };
        Ok(self
            .row(
                "SELECT hashes FROM notarium.tiles \
                 WHERE ledger_id = $1 AND level = $2 AND idx = $3",
                &[&id, &i16::from(level), &sql_int(index)],
            )?
            .map(|r| r.get(0)))
    }

    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(None);
        };
        Ok(self
            .row(
                "SELECT data FROM notarium.entries WHERE ledger_id = $1 AND idx = $2",
                &[&id, &sql_int(index)],
            )?
            .map(|r| r.get(0)))
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(Vec::new());
        };
        self.rows(
            "SELECT idx, data FROM notarium.entries \
             WHERE ledger_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
            &[&id, &sql_int(start), &sql_int(end)],
        )?
        .iter()
        .map(|r| Ok((stored(r.get(0))?, r.get(1))))
        .collect()
    }

    fn last_entry(&self) -> Result<Option<LastEntry>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(None);
        };
        self.row(
            "SELECT idx, data, time_us FROM notarium.entries \
             WHERE ledger_id = $1 ORDER BY idx DESC LIMIT 1",
            &[&id],
        )?
        .map(|r| Ok((stored(r.get(0))?, r.get(1), r.get(2))))
        .transpose()
    }

    fn first_index_at(&self, time_us: i64) -> Result<Option<u64>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(None);
        };
        self.row(
            "SELECT idx FROM notarium.entries WHERE ledger_id = $1 AND time_us >= $2 \
             ORDER BY time_us, idx LIMIT 1",
            &[&id, &time_us],
        )?
        .map(|r| stored(r.get(0)))
        .transpose()
    }

    fn checkpoint(&self, size: u64) -> Result<Option<String>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(None);
        };
        Ok(self
            .row(
                "SELECT note FROM notarium.checkpoints WHERE ledger_id = $1 AND size = $2",
                &[&id, &sql_int(size)],
            )?
            .map(|r| r.get(0)))
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(None);
        };
        self.row(
            "SELECT size, note FROM notarium.checkpoints \
             WHERE ledger_id = $1 ORDER BY size DESC LIMIT 1",
            &[&id],
        )?
        .map(|r| Ok((stored(r.get(0))?, r.get(1))))
        .transpose()
    }

    fn index_version(&self, size: u64) -> Result<Option<u64>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(None);
        };
        let row = self.row(
            "SELECT index_version FROM notarium.checkpoints WHERE ledger_id = $1 AND size = $2",
            &[&id, &sql_int(size)],
        )?;
        stored_opt(row.and_then(|r| r.get(0)))
    }

    fn index_node(&self, key: &NodeKey) -> Result<Option<Node>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(None);
        };
        let row = self.row(
            "SELECT node FROM notarium.index_nodes WHERE ledger_id = $1 AND key = $2",
            &[&id, &key.to_bytes()],
        )?;
        Ok(row
            .map(|r| Node::decode(r.get::<_, &[u8]>(0)))
            .transpose()?)
    }

    fn artifact_indices(&self, sha256: &Sha256, below: u64) -> Result<Vec<u64>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(Vec::new());
        };
        self.rows(
            "SELECT idx FROM notarium.entries WHERE ledger_id = $1 AND sha256 = $2 \
             AND idx < $3 AND type = 'artifact' ORDER BY idx",
            &[&id, &&sha256.0[..], &sql_int(below)],
        )?
        .iter()
        .map(|r| stored(r.get(0)))
        .collect()
    }

    fn latest_artifact(
        &self,
        sha256: &Sha256,
        below: u64,
        signers: &[String],
    ) -> Result<Option<(u64, Vec<u8>, String)>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(None);
        };
        let below = sql_int(below);
        let hash = &sha256.0[..];
        let row = if signers.is_empty() {
            self.row(
                "SELECT idx, data, signer FROM notarium.entries WHERE ledger_id = $1 \
                 AND sha256 = $2 AND idx < $3 AND type = 'artifact' ORDER BY idx DESC LIMIT 1",
                &[&id, &hash, &below],
            )?
        } else {
            self.row(
                "SELECT idx, data, signer FROM notarium.entries WHERE ledger_id = $1 \
                 AND sha256 = $2 AND idx < $3 AND type = 'artifact' AND signer = ANY($4) \
                 ORDER BY idx DESC LIMIT 1",
                &[&id, &hash, &below, &signers],
            )?
        };
        row.map(|r| Ok((stored(r.get(0))?, r.get(1), r.get(2))))
            .transpose()
    }

    fn revocation(&self, key_id: &str, below: u64) -> Result<Option<u64>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(None);
        };
        self.row(
            "SELECT idx FROM notarium.revocations \
             WHERE ledger_id = $1 AND key_id = $2 AND idx < $3",
            &[&id, &key_id, &sql_int(below)],
        )?
        .map(|r| stored(r.get(0)))
        .transpose()
    }

    fn search(
        &self,
        q: &Filter<'_>,
        from: u64,
        below: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(Vec::new());
        };
        let (below, from, limit) = (sql_int(below), sql_int(from), sql_int(limit as u64));
        let status = q.status.map(|s| s.as_str());
        let (since, until) = (q.since.map(|t| t.0), q.until.map(|t| t.0));
        let hash = q.sha256.map(|h| &h.0[..]);
        let mut sql = String::from("SELECT e.idx, e.data FROM notarium.entries e");
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![&id];
        if let Some((k, v)) = &q.attr {
            let (pk, pv) = (param(&mut args, k), param(&mut args, v));
            sql.push_str(&format!(
                " JOIN notarium.attributes a ON a.ledger_id = e.ledger_id AND a.idx = e.idx \
                 AND a.key = {pk} AND a.value = {pv}"
            ));
        }
        let (pb, pf) = (param(&mut args, &below), param(&mut args, &from));
        sql.push_str(&format!(
            " WHERE e.ledger_id = $1 AND e.idx < {pb} AND e.idx >= {pf}"
        ));
        let filters: [(&str, Option<&(dyn ToSql + Sync)>); 6] = [
            ("e.sha256 =", hash.as_ref().map(|h| h as _)),
            ("e.name =", q.name.as_ref().map(|n| n as _)),
            ("e.signer =", q.signer.as_ref().map(|s| s as _)),
            ("e.status =", status.as_ref().map(|s| s as _)),
            ("e.time_us >=", since.as_ref().map(|t| t as _)),
            ("e.time_us <", until.as_ref().map(|t| t as _)),
        ];
        for (column, value) in filters {
            if let Some(value) = value {
                let p = param(&mut args, value);
                sql.push_str(&format!(" AND {column} {p}"));
            }
        }
        let p = param(&mut args, &limit);
        sql.push_str(&format!(" ORDER BY e.idx LIMIT {p}"));
        self.rows(&sql, &args)?
            .iter()
            .map(|r| Ok((stored(r.get(0))?, r.get(1))))
            .collect()
    }

    fn credential(&self, credential: &[u8; 32]) -> Result<Option<Key>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(None);
        };
        self.row(
            &format!(
                "SELECT {KEY_COLUMNS} FROM notarium.api_keys \
                 WHERE ledger_id = $1 AND credential = $2"
            ),
            &[&id, &&credential[..]],
        )?
        .map(|r| to_key(&r, 0))
        .transpose()
    }

    fn key(&self, key_id: &str) -> Result<Option<Key>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(None);
        };
        self.row(
            &format!(
                "SELECT {KEY_COLUMNS} FROM notarium.api_keys WHERE ledger_id = $1 AND id = $2"
            ),
            &[&id, &key_id],
        )?
        .map(|r| to_key(&r, 0))
        .transpose()
    }

    fn keys(&self) -> Result<Vec<Key>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(Vec::new());
        };
        self.rows(
            &format!(
                "SELECT {KEY_COLUMNS} FROM notarium.api_keys \
                 WHERE ledger_id = $1 ORDER BY created_idx"
            ),
            &[&id],
        )?
        .iter()
        .map(|r| to_key(r, 0))
        .collect()
    }

    fn credentials(&self) -> Result<Vec<([u8; 32], Key)>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(Vec::new());
        };
        self.rows(
            &format!(
                "SELECT credential, {KEY_COLUMNS} FROM notarium.api_keys \
                 WHERE ledger_id = $1 ORDER BY created_idx"
            ),
            &[&id],
        )?
        .iter()
        .map(|r| {
            let key = to_key(r, 1)?;
            let hash: [u8; 32] = r.get::<_, &[u8]>(0).try_into().map_err(|_| {
                Error::Corrupt(format!("api key {}: a credential is not 32 bytes", key.id))
            })?;
            Ok((hash, key))
        })
        .collect()
    }

    fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(None);
        };
        Ok(self
            .row(
                "SELECT value FROM notarium.meta WHERE ledger_id = $1 AND key = $2",
                &[&id, &key],
            )?
            .map(|r| r.get(0)))
    }

    /// PostgreSQL checks its own pages (with data checksums on); the audit recomputes
    /// everything the rows mean.
    fn integrity_problem(&self) -> Result<Option<String>, Error> {
        Ok(None)
    }

    fn scan_entries(
        &self,
        f: &mut dyn FnMut(StoredEntry) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let Some(id) = self.resolve()? else {
            return Ok(());
        };
        let mut from = 0i64;
        loop {
            let rows = self.rows(
                "SELECT idx, data, type, sha256, name, signer, status, time_us \
                 FROM notarium.entries WHERE ledger_id = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
                &[&id, &from, &SCAN_ROWS],
            )?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            from = last.get::<_, i64>(0).saturating_add(1);
            for row in rows {
                f(StoredEntry {
                    index: stored(row.get(0))?,
                    data: row.get(1),
                    kind: row.get(2),
                    sha256: row.get(3),
                    name: row.get(4),
                    signer: row.get(5),
                    status: row.get(6),
                    time_us: row.get(7),
                })?;
            }
        }
    }

    fn attribute_rows(&self) -> Result<Vec<(String, String, u64)>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(Vec::new());
        };
        self.rows(
            "SELECT key, value, idx FROM notarium.attributes WHERE ledger_id = $1",
            &[&id],
        )?
        .iter()
        .map(|r| Ok((r.get(0), r.get(1), stored(r.get(2))?)))
        .collect()
    }

    fn checkpoints(&self) -> Result<Vec<(u64, String)>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(Vec::new());
        };
        self.rows(
            "SELECT size, note FROM notarium.checkpoints WHERE ledger_id = $1 ORDER BY size",
            &[&id],
        )?
        .iter()
        .map(|r| Ok((stored(r.get(0))?, r.get(1))))
        .collect()
    }

    fn revocation_rows(&self) -> Result<Vec<(String, u64)>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(Vec::new());
        };
        self.rows(
            "SELECT key_id, idx FROM notarium.revocations WHERE ledger_id = $1",
            &[&id],
        )?
        .iter()
        .map(|r| Ok((r.get(0), stored(r.get(1))?)))
        .collect()
    }

    fn scan_index_nodes(&self, f: &mut NodeVisitor<'_>) -> Result<(), Error> {
        let Some(id) = self.resolve()? else {
            return Ok(());
        };
        let mut after: Option<Vec<u8>> = None;
        loop {
            let rows = match &after {
                None => self.rows(
                    "SELECT key, node FROM notarium.index_nodes WHERE ledger_id = $1 \
                     ORDER BY key LIMIT $2",
                    &[&id, &SCAN_ROWS],
                )?,
                Some(k) => self.rows(
                    "SELECT key, node FROM notarium.index_nodes WHERE ledger_id = $1 \
                     AND key > $2 ORDER BY key LIMIT $3",
                    &[&id, k, &SCAN_ROWS],
                )?,
            };
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = Some(last.get(0));
            for row in &rows {
                f(row.get::<_, &[u8]>(0), row.get::<_, &[u8]>(1))?;
            }
        }
    }

    fn index_versions(&self) -> Result<Vec<(u64, Option<u64>)>, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(Vec::new());
        };
        self.rows(
            "SELECT size, index_version FROM notarium.checkpoints \
             WHERE ledger_id = $1 ORDER BY size",
            &[&id],
        )?
        .iter()
        .map(|r| Ok((stored(r.get(0))?, stored_opt(r.get(1))?)))
        .collect()
    }

    fn count_entries(&self) -> Result<u64, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(0);
        };
        let row = self.row(
            "SELECT COUNT(*) FROM notarium.entries WHERE ledger_id = $1",
            &[&id],
        )?;
        stored(row.map_or(0, |r| r.get(0)))
    }

    fn count_tiles(&self) -> Result<u64, Error> {
        let Some(id) = self.resolve()? else {
            return Ok(0);
        };
        let row = self.row(
            "SELECT COUNT(*) FROM notarium.tiles WHERE ledger_id = $1",
            &[&id],
        )?;
        stored(row.map_or(0, |r| r.get(0)))
    }
}

/// The lease this writer holds: its token, and until when it may trust it without asking.
#[derive(Clone, Copy)]
struct Held {
    token: i64,
    until: Instant,
}

/// The sequencer's connection of one ledger.
struct PgWrite {
    read: PgRead,
    db: Postgres,
    durability: Durability,
    /// The lease as last seen: `until` in the past once handed over (the token is kept, so
    /// that taking it back when nobody else took it in between needs no reload).
    lease: Option<Held>,
    /// Shared with readers: until when this writer holds the lease.
    held: Arc<Mutex<Option<Instant>>>,
    /// Whether this connection listens for the ledger's lease being handed over.
    listening: bool,
}

/// Renews the lease with the token it was given — the fence of every batch, its first
/// statement — or hands it over when another process asked for it. No row: the lease was lost.
const RENEW: &str = "UPDATE notarium.leases SET \
     expires_at = CASE WHEN wanted_by IS NULL \
         THEN clock_timestamp() + $4::int8 * interval '1 millisecond' \
         ELSE timestamptz '-infinity' END, \
     wanted_by = NULL \
     WHERE ledger_id = $1 AND holder = $2 AND token = $3 \
     RETURNING expires_at = timestamptz '-infinity'";

/// Takes a lease that expired or was handed over, or renews one still held with `token`; a new
/// holder gets a new token.
const ACQUIRE: &str = "UPDATE notarium.leases SET \
     token = CASE WHEN holder = $2 AND token = $3 THEN token ELSE token + 1 END, \
     holder = $2, \
     expires_at = clock_timestamp() + $4::int8 * interval '1 millisecond', \
     wanted_by = NULL \
     WHERE ledger_id = $1 AND (expires_at <= clock_timestamp() OR (holder = $2 AND token = $3)) \
     RETURNING token";

impl PgWrite {
    fn id(&self) -> Result<Option<i32>, Error> {
        self.read.resolve()
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.db.db.lease.as_millis()).unwrap_or(i64::MAX)
    }

    /// Records until when the lease is held (`None`: not held), for this writer and readers.
    fn set_held(&mut self, token: i64, until: Option<Instant>) {
        let now = Instant::now();
        self.lease = Some(Held {
            token,
            until: until.unwrap_or(now),
        });
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = until;
    }

    /// One statement that only keeps lease bookkeeping: committed without waiting for the disk
    /// (see the module's docs).
    fn lease_statement(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        self.read
            .conn
            .get_mut()
            .transaction("BEGIN; SET LOCAL synchronous_commit TO off", |c| {
                c.query(sql, params)
            })
    }

    /// Waits for a notification on the ledger's lease channel, at most `timeout`.
    fn wait_for_release(&mut self, id: i32, timeout: Duration) -> Result<(), Error> {
        let conn = self.read.conn.get_mut();
        if !self.listening || conn.client.as_ref().is_none_or(Client::is_closed) {
            conn.batch(&format!("LISTEN notarium_lease_{id}"))?;
            self.listening = true;
        }
        let client = conn.client()?;
        let mut notes = client.notifications();
        if notes.timeout_iter(timeout).next()?.is_some() {
            // Several at once: one look at the lease answers them all.
            while notes.iter().next()?.is_some() {}
        }
        Ok(())
    }
}

impl Writer for PgWrite {
    fn reads(&self) -> &dyn Reader {
        &self.read
    }

    fn create(&mut self, name: &str, origin: &str, checkpoint: &str) -> Result<(), Error> {
        let (instance, lease_ms) = (self.db.db.instance.clone(), self.lease_ms());
        let sent = Instant::now();
        let (id, token) = self.read.conn.get_mut().transaction("BEGIN", |c| {
            let id: i32 = c
                .query_opt(
                    "INSERT INTO notarium.ledgers (name) VALUES ($1) \
                     ON CONFLICT (name) DO NOTHING RETURNING id",
                    &[&name],
                )?
                .ok_or_else(|| {
                    Error::Conflict(format!(
                        "ledger {name} was created in the database by another process at the \
                         same time"
                    ))
                })?
                .get(0);
            for (k, v) in [("name", name), ("origin", origin)] {
                c.execute(
                    "INSERT INTO notarium.meta (ledger_id, key, value) VALUES ($1, $2, $3)",
                    &[&id, &k, &v],
                )?;
            }
            c.execute(
                "INSERT INTO notarium.checkpoints (ledger_id, size, note) VALUES ($1, 0, $2)",
                &[&id, &checkpoint],
            )?;
            // Its creator holds the lease: it signed the first checkpoint.
            let token: i64 = c
                .query_opt(
                    "INSERT INTO notarium.leases (ledger_id, token, holder, expires_at) \
                     VALUES ($1, 1, $2, clock_timestamp() + $3::int8 * interval '1 millisecond') \
                     RETURNING token",
                    &[&id, &instance, &lease_ms],
                )?
                .map_or(1, |r| r.get(0));
            Ok((id, token))
        })?;
        let _ = self.read.id.set(id);
        let until = sent + self.db.db.lease;
        self.set_held(token, Some(until));
        Ok(())
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let Some(id) = self.id()? else {
            return Err(Error::NotFound(format!("ledger {}", self.read.name)));
        };
        self.read.conn.get_mut().execute(
            "INSERT INTO notarium.meta (ledger_id, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (ledger_id, key) DO UPDATE SET value = EXCLUDED.value",
            &[&id, &key, &value],
        )?;
        Ok(())
    }

    /// A database is not a file that can be swapped under an open connection: a dropped one
    /// fails its statements, and the lease's token, which every commit checks, stands in for
    /// the file's identity.
    fn check_in_place(&mut self) -> Result<(), Error> {
        Ok(())
    }

    fn clear_index(&mut self) -> Result<(), Error> {
        if let Some(id) = self.id()? {
            self.read.conn.get_mut().execute(
                "DELETE FROM notarium.index_nodes WHERE ledger_id = $1",
                &[&id],
            )?;
        }
        Ok(())
    }

    fn begin(&mut self) -> Result<Box<dyn Batch + '_>, Error> {
        Ok(Box::new(PgBatch {
            w: self,
            rows: Rows::default(),
            checkpoint: None,
            resign: None,
        }))
    }

    fn close(&mut self) -> Result<(), Error> {
        self.hand_over()
    }

    fn take_turn(&mut self) -> Result<bool, Error> {
        let Some(id) = self.id()? else {
            // Nothing to lease yet: creating the ledger takes the lease.
            return Ok(true);
        };
        if let Some(held) = self.lease {
            if held.until > Instant::now() {
                return Ok(false);
            }
        }
        let (instance, lease_ms) = (self.db.db.instance.clone(), self.lease_ms());
        let deadline = Instant::now() + self.db.db.lease * 3;
        let mut asked = false;
        loop {
            let token = self.lease.map_or(0, |h| h.token);
            let sent = Instant::now();
            let row = self
                .lease_statement(ACQUIRE, &[&id, &instance, &token, &lease_ms])?
                .into_iter()
                .next();
            if let Some(row) = row {
                let got: i64 = row.get(0);
                let anew = got != token;
                self.set_held(got, Some(sent + self.db.db.lease));
                return Ok(anew);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Unavailable(format!(
                    "another instance holds the sequencer lease of ledger {} and did not hand \
                     it over within {:?}",
                    self.read.name,
                    self.db.db.lease * 3
                )));
            }
            if !asked {
                self.lease_statement(
                    "UPDATE notarium.leases SET wanted_by = $2 WHERE ledger_id = $1 RETURNING 1",
                    &[&id, &instance],
                )?;
                asked = true;
            }
            self.wait_for_release(id, LEASE_POLL.min(deadline - now))?;
        }
    }

    fn hand_over(&mut self) -> Result<(), Error> {
        let Some(held) = self.lease else {
            return Ok(());
        };
        if held.until <= Instant::now() {
            self.set_held(held.token, None);
            return Ok(());
        }
        let Some(id) = self.id()? else {
            return Ok(());
        };
        let instance = self.db.db.instance.clone();
        let channel = format!("notarium_lease_{id}");
        self.set_held(held.token, None);
        self.lease_statement(
            "WITH released AS (
                 UPDATE notarium.leases SET expires_at = timestamptz '-infinity', wanted_by = NULL
                 WHERE ledger_id = $1 AND holder = $2 AND token = $3 RETURNING 1)
             SELECT pg_notify($4, '') FROM released",
            &[&id, &instance, &held.token, &channel],
        )?;
        Ok(())
    }

    fn idle_pause(&self) -> Option<Duration> {
        Some(Duration::from_millis(20))
    }
}

/// The entry rows of a batch, column by column (written with one statement).
#[derive(Default)]
struct EntryRows {
    idx: Vec<i64>,
    data: Vec<Vec<u8>>,
    kind: Vec<Option<&'static str>>,
    sha256: Vec<Option<Vec<u8>>>,
    name: Vec<Option<String>>,
    signer: Vec<Option<String>>,
    status: Vec<Option<&'static str>>,
    time_us: Vec<Option<i64>>,
}

/// A key row change, in the order the batch made them.
enum KeyRow {
    Created { key: Key, credential: [u8; 32] },
    Revoked { id: String, index: u64 },
}

/// Rows to write, table by table, column by column: each table is one statement over arrays
/// (PostgreSQL pays a round trip per statement; a batch of a thousand entries is a handful).
#[derive(Default)]
struct Rows {
    entries: EntryRows,
    /// Key, value, entry index.
    attributes: (Vec<String>, Vec<String>, Vec<i64>),
    keys: Vec<KeyRow>,
    /// Level, index, hashes.
    tiles: (Vec<i16>, Vec<i64>, Vec<Vec<u8>>),
    /// Key, node.
    nodes: (Vec<Vec<u8>>, Vec<Vec<u8>>),
}

/// One batch: its rows gathered in memory, then written in one transaction that begins with
/// the lease's fence.
struct PgBatch<'w> {
    w: &'w mut PgWrite,
    rows: Rows,
    checkpoint: Option<(i64, String, Option<i64>)>,
    resign: Option<(i64, String, Option<i64>)>,
}

impl Batch for PgBatch<'_> {
    fn entry(&mut self, index: u64, data: &[u8], c: &Columns) -> Result<(), Error> {
        let e = &mut self.rows.entries;
        e.idx.push(sql_int(index));
        e.data.push(data.to_vec());
        e.kind.push(c.kind);
        e.sha256.push(c.sha256.map(|h| h.to_vec()));
        e.name.push(c.name.clone());
        e.signer.push(c.signer.clone());
        e.status.push(c.status);
        e.time_us.push(c.time_us);
        let a = &mut self.rows.attributes;
        for (k, v) in &c.attributes {
            a.0.push(k.clone());
            a.1.push(v.clone());
            a.2.push(sql_int(index));
        }
        Ok(())
    }

    fn key_created(&mut self, key: &Key, credential: &[u8; 32]) -> Result<(), Error> {
        self.rows.keys.push(KeyRow::Created {
            key: key.clone(),
            credential: *credential,
        });
        Ok(())
    }

    fn key_revoked(&mut self, id: &str, index: u64) -> Result<(), Error> {
        self.rows.keys.push(KeyRow::Revoked {
            id: id.to_owned(),
            index,
        });
        Ok(())
    }

    fn tile(&mut self, level: u8, index: u64, hashes: &[u8]) -> Result<(), Error> {
        let t = &mut self.rows.tiles;
        t.0.push(i16::from(level));
        t.1.push(sql_int(index));
        t.2.push(hashes.to_vec());
        Ok(())
    }

    fn index_node(&mut self, key: &NodeKey, node: &Node) -> Result<(), Error> {
        self.rows.nodes.0.push(key.to_bytes());
        self.rows.nodes.1.push(node.encode());
        Ok(())
    }

    fn checkpoint(&mut self, size: u64, note: &str, index: Option<u64>) -> Result<(), Error> {
        self.checkpoint = Some((sql_int(size), note.to_owned(), index.map(sql_int)));
        Ok(())
    }

    fn resign_checkpoint(
        &mut self,
        size: u64,
        note: &str,
        index: Option<u64>,
    ) -> Result<(), Error> {
        self.resign = Some((sql_int(size), note.to_owned(), index.map(sql_int)));
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<(), Error> {
        let PgBatch {
            w,
            rows,
            checkpoint,
            resign,
        } = *self;
        let Some(id) = w.id()? else {
            return Err(Error::NotFound(format!("ledger {}", w.read.name)));
        };
        let Some(held) = w.lease else {
            return Err(Error::Unavailable(format!(
                "this instance does not hold the sequencer lease of ledger {}",
                w.read.name
            )));
        };
        let (instance, lease_ms, lease) = (w.db.db.instance.clone(), w.lease_ms(), w.db.db.lease);
        let name = w.read.name.clone();
        let begin = match w.durability {
            // The database's own durability: `synchronous_commit` (on by default), with
            // synchronous standbys when it has them.
            Durability::Full => "BEGIN",
            Durability::Normal => "BEGIN; SET LOCAL synchronous_commit TO off",
        };
        let sent = Instant::now();
        let fenced = std::cell::Cell::new(false);
        let committed = w.read.conn.get_mut().transaction(begin, |c| {
            let fence = c.query_opt(RENEW, &[&id, &instance, &held.token, &lease_ms])?;
            let Some(fence) = fence else {
                fenced.set(true);
                return Err(Error::Unavailable(format!(
                    "another instance took over the sequencer lease of ledger {name}: this \
                     batch was not committed"
                )));
            };
            let released: bool = fence.get(0);
            write_rows(c, id, &rows)?;
            if let Some((size, note, index)) = &checkpoint {
                c.execute(
                    "INSERT INTO notarium.checkpoints (ledger_id, size, note, index_version) \
                     VALUES ($1, $2, $3, $4)",
                    &[&id, size, note, index],
                )?;
            }
            if let Some((size, note, index)) = &resign {
                let changed = c.execute(
                    "UPDATE notarium.checkpoints SET note = $3, index_version = $4 \
                     WHERE ledger_id = $1 AND size = $2",
                    &[&id, size, note, index],
                )?;
                if changed != 1 {
                    return Err(Error::Corrupt(format!(
                        "no checkpoint of size {size} to re-sign"
                    )));
                }
            }
            if released {
                c.execute(
                    "SELECT pg_notify($1, '')",
                    &[&format!("notarium_lease_{id}")],
                )?;
            }
            Ok(released)
        });
        if fenced.get() {
            // Lost: the next batch asks the database again.
            w.set_held(held.token, None);
        }
        let released = committed?;
        let until = (!released).then(|| sent + lease);
        w.set_held(held.token, until);
        Ok(())
    }
}

/// Writes rows, each table with one statement over arrays.
fn write_rows(c: &mut Conn, id: i32, rows: &Rows) -> Result<(), Error> {
    let Rows {
        entries: e,
        attributes,
        keys,
        tiles,
        nodes,
    } = rows;
    if !e.idx.is_empty() {
        c.execute(
            "INSERT INTO notarium.entries \
                 (ledger_id, idx, data, type, sha256, name, signer, status, time_us) \
             SELECT $1, * FROM unnest($2::int8[], $3::bytea[], $4::text[], $5::bytea[], \
                 $6::text[], $7::text[], $8::text[], $9::int8[])",
            &[
                &id, &e.idx, &e.data, &e.kind, &e.sha256, &e.name, &e.signer, &e.status, &e.time_us,
            ],
        )?;
    }
    if !attributes.0.is_empty() {
        c.execute(
            "INSERT INTO notarium.attributes (ledger_id, key, value, idx) \
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int8[])",
            &[&id, &attributes.0, &attributes.1, &attributes.2],
        )?;
    }
    for k in keys {
        match k {
            KeyRow::Created { key, credential } => {
                c.execute(
                    "INSERT INTO notarium.api_keys \
                         (ledger_id, id, name, role, credential, created_idx) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &id,
                        &key.id,
                        &key.name,
                        &key.role.as_str(),
                        &&credential[..],
                        &sql_int(key.created_index),
                    ],
                )?;
            }
            KeyRow::Revoked { id: key_id, index } => {
                c.execute(
                    "UPDATE notarium.api_keys SET revoked_idx = $3 WHERE ledger_id = $1 AND id = $2",
                    &[&id, key_id, &sql_int(*index)],
                )?;
                c.execute(
                    "INSERT INTO notarium.revocations (ledger_id, key_id, idx) VALUES ($1, $2, $3)",
                    &[&id, key_id, &sql_int(*index)],
                )?;
            }
        }
    }
    if !tiles.0.is_empty() {
        // Only the right-most tile of a level is ever rewritten, and only longer.
        c.execute(
            "INSERT INTO notarium.tiles (ledger_id, level, idx, hashes) \
             SELECT $1, * FROM unnest($2::int2[], $3::int8[], $4::bytea[]) \
             ON CONFLICT (ledger_id, level, idx) DO UPDATE SET hashes = EXCLUDED.hashes",
            &[&id, &tiles.0, &tiles.1, &tiles.2],
        )?;
    }
    if !nodes.0.is_empty() {
        c.execute(
            "INSERT INTO notarium.index_nodes (ledger_id, key, node) \
             SELECT $1, * FROM unnest($2::bytea[], $3::bytea[])",
            &[&id, &nodes.0, &nodes.1],
        )?;
    }
    Ok(())
}
