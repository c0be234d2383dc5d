//! Opening databases: URLs, pragmas on every pooled connection, file and memory behaviour,
//! closing.

mod common;

use common::*;
use orm_core::backend::{Backend, FailureKind, Transaction};
use orm_core::{Error, Value};
use orm_sqlite::{SqliteBackend, SqliteOptions};
use std::time::Duration;

const POOL: u32 = 4;

fn pool_of(max_connections: u32) -> SqliteOptions {
    SqliteOptions::default().max_connections(max_connections)
}

/// Holds `POOL` transactions at once, so each runs on its own pooled connection.
async fn all_connections(backend: &SqliteBackend) -> Vec<Box<dyn Transaction>> {
    let mut txs = Vec::new();
    for _ in 0..POOL {
        txs.push(begin(backend).await);
    }
    txs
}

#[tokio::test]
async fn foreign_keys_are_on_for_every_pooled_connection() {
    let db = file_db(pool_of(POOL)).await;
    run(&db.backend, "CREATE TABLE parent (id INTEGER PRIMARY KEY)").await;
    run(
        &db.backend,
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id))",
    )
    .await;
    for mut tx in all_connections(&db.backend).await {
        assert_eq!(
            tx_scalar(tx.as_mut(), "PRAGMA foreign_keys").await,
            Value::Integer(1)
        );
        let orphan = tx
            .execute("INSERT INTO child (parent_id) VALUES (999)", Vec::new())
            .await;
        let kind = orphan.map_err(|e| e.kind);
        assert_eq!(
            kind,
            Err(FailureKind::Constraint(
                orm_core::ConstraintKind::ForeignKey
            ))
        );
    }
}

#[tokio::test]
async fn file_databases_use_wal_normal_sync_and_a_busy_timeout_on_every_connection() {
    let db = file_db(pool_of(POOL)).await;
    for mut tx in all_connections(&db.backend).await {
        let tx = tx.as_mut();
        assert_eq!(
            tx_scalar(tx, "PRAGMA journal_mode").await,
            Value::Text("wal".into())
        );
        // 1 = NORMAL (FULL is 2, SQLite's default).
        assert_eq!(tx_scalar(tx, "PRAGMA synchronous").await, Value::Integer(1));
        assert_eq!(
            tx_scalar(tx, "PRAGMA busy_timeout").await,
            Value::Integer(5000)
        );
    }
}

#[tokio::test]
async fn busy_timeout_comes_from_the_options() {
    let options = pool_of(1).busy_timeout(Duration::from_millis(1234));
    let db = file_db(options).await;
    assert_eq!(
        scalar(&db.backend, "PRAGMA busy_timeout").await,
        Value::Integer(1234)
    );
}

#[tokio::test]
async fn a_missing_database_file_is_created() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("new.db");
    assert!(!path.exists());
    let backend = SqliteBackend::open(&file_url(&path), &SqliteOptions::default()).await;
    let backend = backend.expect("open creates the file");
    run(&backend, "CREATE TABLE t (x)").await;
    assert!(path.is_file());
}

#[tokio::test]
async fn a_file_database_keeps_its_data_across_pools() {
    let db = file_db(SqliteOptions::default()).await;
    run(&db.backend, "CREATE TABLE t (x)").await;
    run(&db.backend, "INSERT INTO t VALUES (7)").await;
    db.backend.close().await;
    let reopened = SqliteBackend::open(&file_url(&db.path), &SqliteOptions::default()).await;
    let reopened = reopened.expect("reopen");
    assert_eq!(
        scalar(&reopened, "SELECT x FROM t").await,
        Value::Integer(7)
    );
}

#[tokio::test]
async fn the_relative_url_form_is_accepted() {
    // `sqlite:<path>` without `//`; an absolute path keeps the test out of the crate directory.
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite:{}", dir.path().join("rel.db").display());
    let backend = SqliteBackend::open(&url, &SqliteOptions::default())
        .await
        .expect("open");
    run(&backend, "CREATE TABLE t (x)").await;
    assert!(dir.path().join("rel.db").is_file());
}

#[tokio::test]
async fn an_in_memory_database_is_shared_by_every_call() {
    let backend = memory().await;
    run(&backend, "CREATE TABLE t (x)").await;
    let mut tx = begin(&backend).await;
    tx_run(tx.as_mut(), "INSERT INTO t VALUES (1)", &[]).await;
    tx.commit().await.expect("commit");
    run(&backend, "INSERT INTO t VALUES (2)").await;
    assert_eq!(
        scalar(&backend, "SELECT sum(x) FROM t").await,
        Value::Integer(3)
    );
    assert!(backend.is_in_memory());
}

#[tokio::test]
async fn each_in_memory_connect_is_a_separate_database() {
    let first = memory().await;
    let second = memory().await;
    run(&first, "CREATE TABLE only_in_first (x)").await;
    let failure = failure(&second, "INSERT INTO only_in_first VALUES (1)", &[]).await;
    assert_eq!(
        failure.kind,
        FailureKind::MissingTable("only_in_first".into())
    );
}

#[tokio::test]
async fn an_in_memory_database_has_one_connection_so_a_second_session_times_out() {
    let options = pool_of(8).acquire_timeout(Duration::from_millis(200));
    let backend = memory_with(options).await;
    let tx = begin(&backend).await;
    let waiting = backend
        .fetch("SELECT 1", Vec::new())
        .await
        .map_err(|e| e.kind);
    assert_eq!(waiting, Err(FailureKind::PoolTimeout));
    tx.rollback().await.expect("rollback");
    assert_eq!(scalar(&backend, "SELECT 1").await, Value::Integer(1));
}

#[tokio::test]
async fn an_in_memory_database_has_foreign_keys_on() {
    let backend = memory().await;
    assert_eq!(
        scalar(&backend, "PRAGMA foreign_keys").await,
        Value::Integer(1)
    );
}

#[tokio::test]
async fn a_closed_pool_reports_pool_closed() {
    for backend in [
        memory().await,
        file_db(SqliteOptions::default()).await.backend,
    ] {
        backend.close().await;
        let fetched = backend
            .fetch("SELECT 1", Vec::new())
            .await
            .map_err(|e| e.kind);
        assert_eq!(fetched, Err(FailureKind::PoolClosed));
        let executed = backend
            .execute("SELECT 1", Vec::new())
            .await
            .map_err(|e| e.kind);
        assert_eq!(executed, Err(FailureKind::PoolClosed));
        let began = backend.begin(None).await.map(|_| ()).map_err(|e| e.kind);
        assert_eq!(began, Err(FailureKind::PoolClosed));
    }
}

async fn invalid_url_reason(url: &str) -> String {
    match orm_sqlite::connect(url).await {
        Err(Error::InvalidUrl { url: given, reason }) => {
            assert_eq!(given, url);
            reason
        }
        other => panic!("expected InvalidUrl for {url:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_urls_are_invalid_url_errors_with_a_reason() {
    assert!(invalid_url_reason("postgres://localhost/app")
        .await
        .contains("`postgres`"));
    assert!(invalid_url_reason("").await.contains("empty"));
    assert!(invalid_url_reason("   ").await.contains("empty"));
    assert!(invalid_url_reason("not a url at all")
        .await
        .contains("sqlite:"));
    assert!(invalid_url_reason("sqlite://")
        .await
        .contains("no database"));
    assert!(invalid_url_reason("sqlite://x.db?mode=bogus")
        .await
        .contains("bogus"));
    assert!(invalid_url_reason("sqlite://x.db?colour=red")
        .await
        .contains("colour"));
}

#[tokio::test]
async fn a_missing_parent_directory_is_reported_not_created() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("no_such_dir").join("x.db");
    let reason = invalid_url_reason(&file_url(&path)).await;
    assert!(reason.contains("does not exist"), "{reason}");
    assert!(!path.parent().is_some_and(|p| p.exists()));
}

#[tokio::test]
async fn an_unopenable_database_is_a_database_error_not_a_panic() {
    // Read-only mode does not create the file, so opening a missing one fails in SQLite.
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("{}?mode=ro", file_url(&dir.path().join("absent.db")));
    match orm_sqlite::connect(&url).await {
        Err(Error::Database {
            action, message, ..
        }) => {
            assert!(action.contains("absent.db"), "{action}");
            assert!(!message.is_empty());
        }
        other => panic!("expected a database error, got {other:?}"),
    }
}

/// A service that already has a sqlx pool hands it over; the pool's connections must enforce
/// foreign keys (sqlx's default), which is checked.
#[tokio::test]
async fn a_database_over_an_existing_pool_enforces_foreign_keys() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use std::str::FromStr;
    let one = || SqlitePoolOptions::new().max_connections(1);
    let pool = one().connect("sqlite::memory:").await.expect("a sqlx pool");
    let db = orm_sqlite::from_pool(pool).await.expect("an ORM database");
    db.execute_raw("CREATE TABLE parent (id INTEGER PRIMARY KEY)", &[])
        .await
        .expect("parent");
    db.execute_raw(
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id))",
        &[],
    )
    .await
    .expect("child");
    let dangling = db
        .execute_raw("INSERT INTO child (parent_id) VALUES (7)", &[])
        .await
        .expect_err("no parent 7");
    assert!(dangling.is_foreign_key_violation(), "{dangling:?}");

    let unenforced = SqliteConnectOptions::from_str("sqlite::memory:")
        .expect("options")
        .foreign_keys(false);
    let pool = one().connect_with(unenforced).await.expect("a sqlx pool");
    let err = orm_sqlite::from_pool(pool)
        .await
        .expect_err("foreign keys are off");
    assert!(err.to_string().contains("foreign_keys(true)"), "{err}");
}
