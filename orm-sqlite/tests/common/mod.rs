//! Helpers shared by the integration tests: open real SQLite databases and run raw SQL
//! through the `Backend` / `Transaction` traits.
#![allow(dead_code)]

use orm_core::backend::{Backend, DbFailure, ExecOutcome, Row, Transaction};
use orm_core::Value;
use orm_sqlite::{SqliteBackend, SqliteOptions};
use std::path::PathBuf;
use tempfile::TempDir;

/// A fresh in-memory database.
pub async fn memory() -> SqliteBackend {
    memory_with(SqliteOptions::default()).await
}

/// A fresh in-memory database with the given options.
pub async fn memory_with(options: SqliteOptions) -> SqliteBackend {
    SqliteBackend::open("sqlite::memory:", &options)
        .await
        .expect("open in-memory database")
}

/// A database file in a temporary directory (kept alive by the returned `TempDir`).
pub struct FileDb {
    pub dir: TempDir,
    pub path: PathBuf,
    pub backend: SqliteBackend,
}

/// A fresh file database `test.db` in a new temporary directory.
pub async fn file_db(options: SqliteOptions) -> FileDb {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let path = dir.path().join("test.db");
    let backend = SqliteBackend::open(&file_url(&path), &options)
        .await
        .expect("open file db");
    FileDb { dir, path, backend }
}

/// The `sqlite://` URL of a path.
pub fn file_url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Runs a statement without parameters, panicking with SQLite's message if it fails.
pub async fn run(backend: &dyn Backend, sql: &str) -> ExecOutcome {
    match backend.execute(sql, Vec::new()).await {
        Ok(outcome) => outcome,
        Err(err) => panic!("`{sql}` failed: {err}"),
    }
}

/// Fetches all rows of a query with parameters, panicking with SQLite's message if it fails.
pub async fn rows(backend: &dyn Backend, sql: &str, params: &[Value]) -> Vec<Row> {
    match backend.fetch(sql, params.to_vec()).await {
        Ok(rows) => rows,
        Err(err) => panic!("`{sql}` failed: {err}"),
    }
}

/// The single value of a one-row, one-column query.
pub async fn scalar(backend: &dyn Backend, sql: &str) -> Value {
    single(rows(backend, sql, &[]).await, sql)
}

/// The single value of a one-row, one-column query run inside a transaction.
pub async fn tx_scalar(tx: &mut dyn Transaction, sql: &str) -> Value {
    match tx.fetch(sql, Vec::new()).await {
        Ok(rows) => single(rows, sql),
        Err(err) => panic!("`{sql}` failed: {err}"),
    }
}

fn single(rows: Vec<Row>, sql: &str) -> Value {
    match <[Row; 1]>::try_from(rows) {
        Ok([row]) => match <[Value; 1]>::try_from(row) {
            Ok([value]) => value,
            Err(row) => panic!("`{sql}` returned {} columns", row.len()),
        },
        Err(rows) => panic!("`{sql}` returned {} rows", rows.len()),
    }
}

/// The failure of a statement that must fail.
pub async fn failure(backend: &dyn Backend, sql: &str, params: &[Value]) -> DbFailure {
    match backend.execute(sql, params.to_vec()).await {
        Ok(outcome) => panic!("`{sql}` unexpectedly succeeded: {outcome:?}"),
        Err(err) => err,
    }
}

/// Begins a transaction, panicking if that fails.
pub async fn begin(backend: &dyn Backend) -> Box<dyn Transaction> {
    match backend.begin(None).await {
        Ok(tx) => tx,
        Err(err) => panic!("begin failed: {err}"),
    }
}

/// Runs a statement in a transaction, panicking if it fails.
pub async fn tx_run(tx: &mut dyn Transaction, sql: &str, params: &[Value]) -> ExecOutcome {
    match tx.execute(sql, params.to_vec()).await {
        Ok(outcome) => outcome,
        Err(err) => panic!("`{sql}` failed: {err}"),
    }
}
