//! Helpers shared by the cascade test files: a database whose rows the tests can also inspect
//! with raw SQL (counts, `PRAGMA foreign_key_check`), outside the ORM under test.
//!
//! Raw reads go through the same SQLite pool as the ORM. An in-memory database has a single
//! connection, so raw reads are only made while no session holds an open transaction (after a
//! commit or rollback, or before the first flush).

#![allow(dead_code)]

use orm_core::backend::Backend;
use orm_core::meta::ModelMeta;
use orm_core::{Database, Value};
use orm_sqlite::{SqliteBackend, SqliteOptions};
use std::sync::Arc;

/// A database under test and a raw handle on the same pool.
#[derive(Debug)]
pub struct TestDb {
    pub db: Database,
    pub raw: Arc<SqliteBackend>,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh in-memory database with the tables of `models` (and those they reach).
pub async fn memory(models: &[&'static ModelMeta]) -> TestDb {
    orm_tests::init_logging();
    open("sqlite::memory:", SqliteOptions::default(), None, models).await
}

/// A fresh database file (in a temporary directory) with a pool of several connections.
pub async fn file(models: &[&'static ModelMeta], connections: u32) -> TestDb {
    orm_tests::init_logging();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let options = SqliteOptions::default().max_connections(connections);
    open(&url, options, Some(dir), models).await
}

async fn open(
    url: &str,
    options: SqliteOptions,
    dir: Option<tempfile::TempDir>,
    models: &[&'static ModelMeta],
) -> TestDb {
    let raw = Arc::new(
        SqliteBackend::open(url, &options)
            .await
            .expect("open SQLite"),
    );
    let db = Database::new(Arc::clone(&raw) as Arc<dyn Backend>);
    db.create_all(models).await.expect("create tables");
    TestDb { db, raw, _dir: dir }
}

impl TestDb {
    /// Runs raw SQL that changes rows (fixtures); not counted by `statements_executed`.
    pub async fn exec(&self, sql: &str) {
        self.raw
            .execute(sql, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The rows of a raw query.
    pub async fn rows(&self, sql: &str) -> Vec<Vec<Value>> {
        self.raw
            .fetch(sql, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The single integer a raw query returns.
    pub async fn scalar(&self, sql: &str) -> i64 {
        match self.rows(sql).await.first().and_then(|r| r.first()) {
            Some(Value::Integer(n)) => *n,
            other => panic!("{sql}: expected an integer, got {other:?}"),
        }
    }

    /// The number of rows of `table`.
    pub async fn count(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) FROM \"{table}\""))
            .await
    }

    /// The integers of the first column of a raw query, in order.
    pub async fn ints(&self, sql: &str) -> Vec<Option<i64>> {
        self.rows(sql)
            .await
            .into_iter()
            .map(|r| match r.first() {
                Some(Value::Integer(n)) => Some(*n),
                Some(Value::Null) => None,
                other => panic!("{sql}: expected an integer, got {other:?}"),
            })
            .collect()
    }

    /// Asserts that `PRAGMA foreign_key_check` reports no dangling reference.
    pub async fn assert_consistent(&self) {
        let dangling = self.rows("PRAGMA foreign_key_check").await;
        assert!(
            dangling.is_empty(),
            "foreign_key_check reports {dangling:?}"
        );
    }

    /// The statement counter of the ORM (reads, writes, transaction control).
    pub fn statements(&self) -> u64 {
        self.db.statements_executed()
    }
}
