//! What only the PostgreSQL backend has: SQLSTATE-sorted errors that need two connections to
//! provoke (serialization failures, deadlocks), statement timeouts, connection failures, the
//! connection options, identity columns, and a database over an existing `PgPool`. Each test
//! is skipped, visibly, without `ORM_TEST_POSTGRES_URL`.

use orm_core::backend::{DbFailure, Transaction};
use orm_core::prelude::*;
use orm_core::{ConflictKind, Value};
use orm_postgres::PgOptions;
use orm_tests::harness::{self, Backend};
use orm_tests::models::{Address, User};
use std::time::Duration;

/// Runs `body` as a PostgreSQL test instance (skipped without the URL).
async fn on_postgres<F>(body: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    harness::run(Backend::Postgres, body).await;
}

fn url() -> String {
    harness::postgres_url().expect("checked by `harness::run`")
}

/// A failure reported by a raw transaction, as the error the ORM would return.
fn as_error(failure: DbFailure) -> Error {
    failure.into_error("testing".to_owned(), "counters")
}

async fn begin(t: &harness::Fresh, isolation: &str) -> Box<dyn Transaction> {
    let mut tx = t.raw.begin(None).await.expect("begin");
    let set = format!("SET TRANSACTION ISOLATION LEVEL {isolation}");
    tx.execute(&set, Vec::new()).await.expect("isolation");
    tx
}

async fn counters() -> harness::Fresh {
    let t = harness::fresh(&[]).await;
    t.exec("CREATE TABLE counters (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)")
        .await;
    t.exec("INSERT INTO counters (id, n) VALUES (1, 0), (2, 0)")
        .await;
    t
}

/// Two REPEATABLE READ transactions update the same row: the second cannot be serialized
/// (`40001`), which is an `Error::Conflict` a service retries.
#[tokio::test]
async fn a_serialization_failure_is_a_retryable_conflict() {
    on_postgres(async {
        let t = counters().await;
        let mut first = begin(&t, "REPEATABLE READ").await;
        let mut second = begin(&t, "REPEATABLE READ").await;
        second
            .fetch("SELECT n FROM counters WHERE id = 1", Vec::new())
            .await
            .expect("snapshot taken");
        first
            .execute("UPDATE counters SET n = n + 1 WHERE id = 1", Vec::new())
            .await
            .expect("first update");
        first.commit().await.expect("first commit");
        let failure = second
            .execute("UPDATE counters SET n = n + 1 WHERE id = 1", Vec::new())
            .await
            .expect_err("a concurrent update");
        let err = as_error(failure);
        assert!(
            matches!(
                err,
                Error::Conflict {
                    kind: ConflictKind::Serialization,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.is_retryable());
        assert_eq!(err.db_code(), Some("40001"));
        assert!(
            err.to_string().contains("run the transaction again"),
            "{err}"
        );
    })
    .await;
}

/// Two transactions lock two rows in opposite orders: PostgreSQL picks one as the deadlock
/// victim (`40P01`), an `Error::Conflict` that is retryable.
#[tokio::test]
async fn a_deadlock_is_a_retryable_conflict() {
    on_postgres(async {
        let t = counters().await;
        let mut first = begin(&t, "READ COMMITTED").await;
        let mut second = begin(&t, "READ COMMITTED").await;
        for (tx, id) in [(&mut first, 1), (&mut second, 2)] {
            tx.execute(
                &format!("UPDATE counters SET n = 1 WHERE id = {id}"),
                Vec::new(),
            )
            .await
            .expect("lock own row");
        }
        let crossing = tokio::spawn(async move {
            let result = first
                .execute("UPDATE counters SET n = 2 WHERE id = 2", Vec::new())
                .await;
            (first, result)
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let other = second
            .execute("UPDATE counters SET n = 2 WHERE id = 1", Vec::new())
            .await;
        let (first, crossed) = crossing.await.expect("the crossing task");
        let victim = match (crossed, other) {
            (Err(failure), Ok(_)) | (Ok(_), Err(failure)) => failure,
            (a, b) => panic!("expected exactly one deadlock victim, got {a:?} and {b:?}"),
        };
        let err = as_error(victim);
        assert!(
            matches!(
                err,
                Error::Conflict {
                    kind: ConflictKind::Deadlock,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.is_retryable());
        assert_eq!(err.db_code(), Some("40P01"));
        drop((first, second));
    })
    .await;
}

/// `PgOptions::statement_timeout` makes the server cancel long statements (`57014`).
#[tokio::test]
async fn a_statement_timeout_is_canceled() {
    on_postgres(async {
        let options = PgOptions::default().statement_timeout(Duration::from_millis(100));
        let db = orm_postgres::connect_with(&url(), options)
            .await
            .expect("connect");
        let err = db
            .fetch_raw("SELECT 1 FROM pg_sleep(5)", &[])
            .await
            .expect_err("canceled after 100 ms");
        assert!(matches!(err, Error::Canceled { .. }), "{err:?}");
        assert!(!err.is_retryable());
        assert!(std::error::Error::source(&err).is_some());
        // The pool is fine afterwards.
        let rows = db.fetch_raw("SELECT 1", &[]).await.expect("a quick query");
        assert_eq!(rows, vec![vec![Value::Integer(1)]]);
        db.close().await;
    })
    .await;
}

/// A server that does not answer is a connection error, not a generic one.
#[tokio::test]
async fn an_unreachable_server_is_a_connection_error() {
    on_postgres(async {
        let options = PgOptions::default().acquire_timeout(Duration::from_secs(5));
        let err = orm_postgres::connect_with("postgres://postgres@127.0.0.1:1/test", options)
            .await
            .expect_err("nothing listens on port 1");
        assert!(
            matches!(err, Error::Connection { .. } | Error::PoolTimeout),
            "{err:?}"
        );
    })
    .await;
}

/// The application name reaches the server; with no statement cache nothing stays prepared
/// (what a pooler in transaction mode needs), and queries still work.
#[tokio::test]
async fn connection_options_reach_the_server() {
    on_postgres(async {
        let options = PgOptions::default()
            .max_connections(1)
            .application_name("orm-tests")
            .statement_cache_capacity(0);
        let db = orm_postgres::connect_with(&url(), options)
            .await
            .expect("connect");
        let name = db
            .fetch_raw("SELECT current_setting('application_name')", &[])
            .await
            .expect("setting");
        assert_eq!(name, vec![vec![Value::Text("orm-tests".into())]]);
        for n in [1, 2] {
            let rows = db
                .fetch_raw("SELECT $1::bigint", &[Value::Integer(n)])
                .await
                .expect("a parameterized query");
            assert_eq!(rows, vec![vec![Value::Integer(n)]]);
        }
        let prepared = db
            .fetch_raw("SELECT count(*) FROM pg_prepared_statements", &[])
            .await
            .expect("count");
        assert_eq!(prepared, vec![vec![Value::Integer(0)]]);
        db.close().await;
    })
    .await;
}

/// A service that already has a `PgPool` hands it over and uses the ORM on it.
#[tokio::test]
async fn a_database_over_an_existing_pool() {
    on_postgres(async {
        let pool = sqlx::PgPool::connect(&url()).await.expect("a sqlx pool");
        let db = orm_postgres::from_pool(pool.clone());
        let rows = db.fetch_raw("SELECT 40 + 2", &[]).await.expect("query");
        assert_eq!(rows, vec![vec![Value::Integer(42)]]);
        db.close().await;
        assert!(pool.is_closed(), "one pool, shared");
    })
    .await;
}

/// Generated keys are identity columns, read back in order from multi-row inserts.
#[tokio::test]
async fn generated_keys_are_identity_columns() {
    on_postgres(async {
        let t = harness::fresh(&[User::META, Address::META]).await;
        let identity = t
            .rows(
                "SELECT is_identity, identity_generation, data_type FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = 'users' AND column_name = 'id'",
            )
            .await;
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(
            identity,
            vec![vec![text("YES"), text("BY DEFAULT"), text("bigint")]]
        );
        let mut s = t.db.session();
        let names = ["a", "b", "c", "d"];
        let handles: Vec<_> = names
            .iter()
            .map(|n| s.add(User::new(n, n, n)))
            .collect::<Result<_>>()
            .expect("add");
        s.commit().await.expect("commit");
        for (handle, name) in handles.into_iter().zip(names) {
            let id = s.read(handle).await.expect("read").id.expect("a key");
            let stored = t
                .rows(&format!("SELECT name FROM users WHERE id = {id}"))
                .await;
            assert_eq!(stored, vec![vec![text(name)]], "key {id} went to {name}");
        }
    })
    .await;
}
