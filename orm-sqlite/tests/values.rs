//! Binding and decoding every `Value` variant, and what writes report.

mod common;

use common::*;
use orm_core::backend::{Backend, ExecOutcome};
use orm_core::Value;

fn every_value() -> Vec<Value> {
    vec![
        Value::Null,
        Value::Integer(0),
        Value::Integer(i64::MIN),
        Value::Integer(i64::MAX),
        Value::Real(1.5),
        Value::Real(-2.0),
        Value::Real(f64::MAX),
        Value::Text(String::new()),
        Value::Text("héllo, 世界 'quoted' \"double\"".into()),
        Value::Blob(Vec::new()),
        Value::Blob(vec![0, 1, 2, 255, 0]),
    ]
}

#[tokio::test]
async fn every_value_round_trips_through_a_table() {
    let backend = memory().await;
    // No declared type: no affinity, so SQLite stores each value as it was bound.
    run(&backend, "CREATE TABLE t (id INTEGER PRIMARY KEY, v)").await;
    for value in every_value() {
        backend
            .execute("INSERT INTO t (v) VALUES (?)", vec![value])
            .await
            .expect("insert");
    }
    let stored = rows(&backend, "SELECT v FROM t ORDER BY id", &[]).await;
    let stored: Vec<Value> = stored.into_iter().flatten().collect();
    assert_eq!(stored, every_value());
}

#[tokio::test]
async fn every_value_round_trips_as_a_bare_parameter() {
    let backend = memory().await;
    let values = every_value();
    let placeholders = vec!["?"; values.len()].join(", ");
    let fetched = rows(&backend, &format!("SELECT {placeholders}"), &values).await;
    assert_eq!(fetched, vec![values]);
}

#[tokio::test]
async fn booleans_are_stored_as_integers_and_come_back_as_integers() {
    let backend = memory().await;
    let params = [Value::Bool(true), Value::Bool(false), Value::Bool(true)];
    let fetched = rows(&backend, "SELECT ?, ?, typeof(?)", &params).await;
    let expected = vec![
        Value::Integer(1),
        Value::Integer(0),
        Value::Text("integer".into()),
    ];
    assert_eq!(fetched, vec![expected]);
}

#[tokio::test]
async fn columns_decode_by_the_stored_value_not_the_declared_type() {
    let backend = memory().await;
    run(&backend, "CREATE TABLE d (n INTEGER, f REAL, b BOOLEAN)").await;
    run(&backend, "INSERT INTO d VALUES ('not a number', 3, NULL)").await;
    let fetched = rows(&backend, "SELECT n, f, b, 1 + 1, 0.5 FROM d", &[]).await;
    let expected = vec![
        Value::Text("not a number".into()),
        // REAL affinity turns the integer 3 into the float 3.0.
        Value::Real(3.0),
        Value::Null,
        Value::Integer(2),
        Value::Real(0.5),
    ];
    assert_eq!(fetched, vec![expected]);
}

#[tokio::test]
async fn a_query_without_rows_returns_no_rows() {
    let backend = memory().await;
    run(&backend, "CREATE TABLE e (x)").await;
    assert!(rows(&backend, "SELECT x FROM e", &[]).await.is_empty());
}

#[tokio::test]
async fn writes_report_rows_affected_and_the_last_insert_id() {
    let backend = memory().await;
    run(&backend, "CREATE TABLE k (id INTEGER PRIMARY KEY, x)").await;
    let first = backend
        .execute("INSERT INTO k (x) VALUES (?)", vec![Value::Integer(1)])
        .await;
    assert_eq!(first.ok(), Some(ExecOutcome::new(1, Some(1))));
    let explicit = run(&backend, "INSERT INTO k (id, x) VALUES (42, 2)").await;
    assert_eq!(explicit.last_insert_id, Some(42));
    let many = run(&backend, "INSERT INTO k (x) VALUES (3), (4), (5)").await;
    assert_eq!(many, ExecOutcome::new(3, Some(45)));
    let updated = run(&backend, "UPDATE k SET x = 0 WHERE id > 40").await;
    assert_eq!(updated.rows_affected, 4);
}

#[tokio::test]
async fn transactions_report_the_last_insert_id_of_their_connection() {
    let db = file_db(orm_sqlite::SqliteOptions::default()).await;
    run(&db.backend, "CREATE TABLE k (id INTEGER PRIMARY KEY, x)").await;
    run(&db.backend, "INSERT INTO k (id, x) VALUES (10, 0)").await;
    let mut tx = begin(&db.backend).await;
    let params = [Value::Integer(1), Value::Integer(2)];
    let outcome = tx_run(tx.as_mut(), "INSERT INTO k (x) VALUES (?), (?)", &params).await;
    assert_eq!(outcome.rows_affected, 2);
    assert_eq!(outcome.last_insert_id, Some(12));
    tx.commit().await.expect("commit");
}
