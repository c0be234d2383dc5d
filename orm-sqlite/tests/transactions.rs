//! Transactions: commit keeps, rollback and drop discard, and statements inside see their own
//! writes.

mod common;

use common::*;
use orm_core::Value;
use orm_sqlite::{SqliteBackend, SqliteOptions};

async fn count(backend: &SqliteBackend) -> Value {
    scalar(backend, "SELECT count(*) FROM t").await
}

async fn with_table(backend: SqliteBackend) -> SqliteBackend {
    run(&backend, "CREATE TABLE t (x INTEGER)").await;
    backend
}

async fn backends() -> Vec<(SqliteBackend, Option<FileDb>)> {
    let file = file_db(SqliteOptions::default()).await;
    let file_backend = SqliteBackend::open(&file_url(&file.path), &SqliteOptions::default()).await;
    vec![
        (with_table(memory().await).await, None),
        (
            with_table(file_backend.expect("open file db")).await,
            Some(file),
        ),
    ]
}

#[tokio::test]
async fn commit_keeps_the_writes() {
    for (backend, _keep) in backends().await {
        let mut tx = begin(&backend).await;
        tx_run(
            tx.as_mut(),
            "INSERT INTO t VALUES (?)",
            &[Value::Integer(1)],
        )
        .await;
        assert_eq!(
            tx_scalar(tx.as_mut(), "SELECT count(*) FROM t").await,
            Value::Integer(1)
        );
        tx.commit().await.expect("commit");
        assert_eq!(count(&backend).await, Value::Integer(1));
    }
}

#[tokio::test]
async fn rollback_discards_the_writes() {
    for (backend, _keep) in backends().await {
        let mut tx = begin(&backend).await;
        tx_run(tx.as_mut(), "INSERT INTO t VALUES (1)", &[]).await;
        tx.rollback().await.expect("rollback");
        assert_eq!(count(&backend).await, Value::Integer(0));
    }
}

#[tokio::test]
async fn dropping_a_transaction_rolls_it_back() {
    for (backend, _keep) in backends().await {
        let mut tx = begin(&backend).await;
        tx_run(tx.as_mut(), "INSERT INTO t VALUES (1)", &[]).await;
        drop(tx);
        assert_eq!(count(&backend).await, Value::Integer(0));
        // The connection went back to the pool usable (in memory there is only one).
        run(&backend, "INSERT INTO t VALUES (2)").await;
        assert_eq!(count(&backend).await, Value::Integer(1));
    }
}

#[tokio::test]
async fn a_failed_statement_leaves_the_transaction_usable_and_rollback_undoes_all() {
    for (backend, _keep) in backends().await {
        run(&backend, "CREATE TABLE u (x INTEGER UNIQUE)").await;
        let mut tx = begin(&backend).await;
        tx_run(tx.as_mut(), "INSERT INTO u VALUES (1)", &[]).await;
        assert!(tx
            .execute("INSERT INTO u VALUES (1)", Vec::new())
            .await
            .is_err());
        tx_run(tx.as_mut(), "INSERT INTO u VALUES (2)", &[]).await;
        tx.rollback().await.expect("rollback");
        assert_eq!(
            scalar(&backend, "SELECT count(*) FROM u").await,
            Value::Integer(0)
        );
    }
}

#[tokio::test]
async fn uncommitted_writes_are_invisible_to_other_connections_of_a_file_db() {
    let db = file_db(SqliteOptions::default()).await;
    let backend = with_table(db.backend).await;
    let mut tx = begin(&backend).await;
    tx_run(tx.as_mut(), "INSERT INTO t VALUES (1)", &[]).await;
    assert_eq!(count(&backend).await, Value::Integer(0));
    tx.commit().await.expect("commit");
    assert_eq!(count(&backend).await, Value::Integer(1));
}
