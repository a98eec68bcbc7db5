//! Helpers shared by the ledger's integration tests, and the two stores the shared suites run
//! on: SQLite (a file in the ledger's directory) and PostgreSQL (a database of its own on the
//! test process's private cluster, `notarium_ledger::test_postgres`).
#![allow(dead_code)]

use std::path::Path;

use notarium_core::{ArtifactRequest, LedgerName, Origin, Sha256};
use notarium_ledger::test_postgres::TestDatabase;
use notarium_ledger::{Ledger, LedgerAudit, LedgerOptions, NewEntry, Postgres};

pub fn options(name: &str) -> LedgerOptions {
    LedgerOptions::new(
        LedgerName::new(name).unwrap(),
        Origin::new(&format!("localhost/notarium/{name}")).unwrap(),
    )
}

pub fn open(dir: &Path) -> Ledger {
    Ledger::open(dir, options("default")).unwrap()
}

/// Where a test's ledgers live.
pub enum Store {
    /// A SQLite file in each ledger's directory.
    Sqlite,
    /// A fresh PostgreSQL database; each ledger's directory holds only its key and record.
    Postgres { db: TestDatabase, pg: Postgres },
}

impl Store {
    pub fn sqlite() -> Store {
        Store::Sqlite
    }

    /// A fresh database, or `None` (after `SKIPPED: …`) when PostgreSQL is not installed.
    pub fn postgres() -> Option<Store> {
        let db = notarium_ledger::test_postgres::database()?;
        let pg = Postgres::connect(&db.url()).unwrap();
        Some(Store::Postgres { db, pg })
    }

    pub fn database(&self) -> Option<&Postgres> {
        match self {
            Store::Sqlite => None,
            Store::Postgres { pg, .. } => Some(pg),
        }
    }

    pub fn test_database(&self) -> Option<&TestDatabase> {
        match self {
            Store::Sqlite => None,
            Store::Postgres { db, .. } => Some(db),
        }
    }

    pub fn options(&self, name: &str) -> LedgerOptions {
        let mut o = options(name);
        o.database = self.database().cloned();
        o
    }

    pub fn open(&self, dir: &Path) -> Ledger {
        Ledger::open(dir, self.options("default")).unwrap()
    }

    /// The offline audit of ledger `default` in `dir`.
    pub fn audit(&self, dir: &Path) -> LedgerAudit {
        match self.database() {
            None => notarium_ledger::audit(dir, |_, _| {}).unwrap(),
            Some(pg) => notarium_ledger::audit_postgres(
                pg,
                &LedgerName::new("default").unwrap(),
                dir,
                |_, _| {},
            )
            .unwrap(),
        }
    }
}

/// `on_both_stores!(f, g)`: for each test body `fn f(store: &Store)`, a module `f` with the
/// tests `sqlite` and `postgres` (which skips, loudly, without PostgreSQL).
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(&$crate::common::Store::sqlite());
            }

            #[test]
            fn postgres() {
                if let Some(store) = $crate::common::Store::postgres() {
                    super::$name(&store);
                }
            }
        }
    )*};
}

pub fn artifact(i: u64, signer: &str) -> NewEntry {
    NewEntry::Artifact {
        request: ArtifactRequest {
            sha256: Sha256::of(&i.to_be_bytes()),
            name: format!("artifact-{i}.tar.gz"),
            size: Some(i),
            kind: None,
            status: None,
            attributes: [("build".to_string(), format!("{}", i % 7))].into(),
            ci: Default::default(),
        },
        signer: signer.to_string(),
        identity: None,
    }
}

pub fn vectors(name: &str) -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/");
    let text = std::fs::read_to_string(format!("{path}{name}")).unwrap();
    serde_json::from_str(&text).unwrap()
}
