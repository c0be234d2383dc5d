//! Sorting SQLite's failures into kinds.

mod common;

use common::*;
use orm_core::backend::{Backend, FailureKind};
use orm_core::{ConstraintKind, Value};

const SCHEMA: &[&str] = &[
    "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
    "CREATE TABLE keyed (code TEXT PRIMARY KEY)",
    "CREATE TABLE child (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        age INTEGER CHECK (age >= 0),
        parent_id INTEGER REFERENCES parent(id)
    )",
];

async fn schema() -> orm_sqlite::SqliteBackend {
    let backend = memory().await;
    for sql in SCHEMA {
        run(&backend, sql).await;
    }
    run(&backend, "INSERT INTO parent (id) VALUES (1)").await;
    run(&backend, "INSERT INTO keyed (code) VALUES ('a')").await;
    run(
        &backend,
        "INSERT INTO child (name, age, parent_id) VALUES ('taken', 1, 1)",
    )
    .await;
    backend
}

async fn constraint(sql: &str, params: &[Value]) -> (FailureKind, String) {
    let failure = failure(&schema().await, sql, params).await;
    (failure.kind, failure.message)
}

#[tokio::test]
async fn unique_violations_are_unique() {
    let (kind, message) = constraint("INSERT INTO child (name) VALUES ('taken')", &[]).await;
    assert_eq!(kind, FailureKind::Constraint(ConstraintKind::Unique));
    assert!(message.contains("child.name"), "{message}");
}

#[tokio::test]
async fn primary_key_violations_are_unique() {
    let (kind, _) = constraint("INSERT INTO keyed (code) VALUES ('a')", &[]).await;
    assert_eq!(kind, FailureKind::Constraint(ConstraintKind::Unique));
    let (kind, _) = constraint("INSERT INTO parent (id) VALUES (1)", &[]).await;
    assert_eq!(kind, FailureKind::Constraint(ConstraintKind::Unique));
}

#[tokio::test]
async fn foreign_key_violations_are_foreign_key() {
    let sql = "INSERT INTO child (name, parent_id) VALUES ('x', ?)";
    let (kind, _) = constraint(sql, &[Value::Integer(99)]).await;
    assert_eq!(kind, FailureKind::Constraint(ConstraintKind::ForeignKey));
    let (kind, _) = constraint("DELETE FROM parent WHERE id = 1", &[]).await;
    assert_eq!(kind, FailureKind::Constraint(ConstraintKind::ForeignKey));
}

#[tokio::test]
async fn not_null_violations_are_not_null() {
    let sql = "INSERT INTO child (name) VALUES (?)";
    let (kind, message) = constraint(sql, &[Value::Null]).await;
    assert_eq!(kind, FailureKind::Constraint(ConstraintKind::NotNull));
    assert!(message.contains("child.name"), "{message}");
}

#[tokio::test]
async fn check_violations_are_check() {
    let (kind, _) = constraint("INSERT INTO child (name, age) VALUES ('y', -1)", &[]).await;
    assert_eq!(kind, FailureKind::Constraint(ConstraintKind::Check));
}

#[tokio::test]
async fn constraint_violations_are_sorted_inside_transactions_too() {
    let backend = schema().await;
    let mut tx = begin(&backend).await;
    let failed = tx
        .execute("INSERT INTO child (name) VALUES ('taken')", Vec::new())
        .await;
    let kind = failed.map(|_| ()).map_err(|e| e.kind);
    assert_eq!(kind, Err(FailureKind::Constraint(ConstraintKind::Unique)));
}

#[tokio::test]
async fn a_missing_table_is_named() {
    let backend = memory().await;
    let fetched = backend
        .fetch("SELECT * FROM ghosts", Vec::new())
        .await
        .map_err(|e| e.kind);
    assert_eq!(fetched, Err(FailureKind::MissingTable("ghosts".into())));
    let inserted = failure(&backend, "INSERT INTO main.ghosts VALUES (1)", &[]).await;
    assert_eq!(inserted.kind, FailureKind::MissingTable("ghosts".into()));
}

#[tokio::test]
async fn anything_else_is_other_with_the_drivers_message_and_missing_columns_are_named() {
    let backend = memory().await;
    let failure = failure(&backend, "SELEC nonsense", &[]).await;
    assert_eq!(failure.kind, FailureKind::Other);
    assert!(
        failure.message.contains("syntax error"),
        "{}",
        failure.message
    );
    let missing_column = failure_of(&backend, "SELECT nope FROM sqlite_master").await;
    assert_eq!(missing_column, FailureKind::MissingColumn("nope".into()));
}

async fn failure_of(backend: &orm_sqlite::SqliteBackend, sql: &str) -> FailureKind {
    match backend.fetch(sql, Vec::new()).await {
        Ok(rows) => panic!("`{sql}` unexpectedly returned {rows:?}"),
        Err(err) => err.kind,
    }
}

/// A writer that waits past the busy timeout for another connection's write lock fails with a
/// retryable conflict (`SQLITE_BUSY`), with SQLite's code kept.
#[tokio::test]
async fn a_lock_held_past_the_busy_timeout_is_a_retryable_conflict() {
    let options = orm_sqlite::SqliteOptions::default()
        .max_connections(2)
        .busy_timeout(std::time::Duration::from_millis(50));
    let db = file_db(options).await;
    run(&db.backend, "CREATE TABLE t (id INTEGER PRIMARY KEY)").await;
    let mut holder = db.backend.begin(None).await.expect("begin");
    holder
        .execute("INSERT INTO t (id) VALUES (1)", Vec::new())
        .await
        .expect("takes the write lock");
    let failure = db
        .backend
        .execute("INSERT INTO t (id) VALUES (2)", Vec::new())
        .await
        .expect_err("the lock is held");
    assert_eq!(
        failure.kind,
        FailureKind::Conflict(orm_core::ConflictKind::Busy)
    );
    assert_eq!(failure.details.code.as_deref(), Some("5"), "SQLITE_BUSY");
    let err = failure.into_error("inserting into `t`".to_owned(), "t");
    assert!(err.is_retryable(), "{err}");
    holder.rollback().await.expect("rollback");
}
