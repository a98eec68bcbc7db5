//! PostgreSQL for the end-to-end tests: each test that runs `notariumd` on a database gets one
//! of its own on the test process's private cluster (`notarium_ledger::test_postgres`, which
//! `.ci/install-postgres.sh` makes possible), and the suites that run on both stores choose
//! with [`Store`]. Without PostgreSQL a test skips with `SKIPPED: …`, unless `CI` is set.

pub use notarium_ledger::test_postgres::{database, TestDatabase};

/// Where a test's `notariumd` keeps its ledgers.
pub enum Store {
    /// SQLite files in its data directory (the default).
    Sqlite,
    /// A database of its own.
    Postgres(TestDatabase),
}

impl Store {
    /// A fresh database, or `None` (after `SKIPPED: …`) when PostgreSQL is not installed.
    pub fn postgres() -> Option<Store> {
        database().map(Store::Postgres)
    }

    /// The `NOTARIUM_*` settings that put a server on this store.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Store::Sqlite => Vec::new(),
            Store::Postgres(db) => vec![("NOTARIUM_DATABASE", db.url())],
        }
    }

    /// The database, for a test that looks into it.
    pub fn database(&self) -> Option<&TestDatabase> {
        match self {
            Store::Sqlite => None,
            Store::Postgres(db) => Some(db),
        }
    }
}

/// `on_both_stores!(f, g)`: for each test body `fn f(store: Store)`, a module `f` with the tests
/// `sqlite` and `postgres` (which skips, loudly, without PostgreSQL).
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::postgres::Store::Sqlite);
            }

            #[test]
            fn postgres() {
                if let Some(store) = $crate::postgres::Store::postgres() {
                    super::$name(store);
                }
            }
        }
    )*};
}
