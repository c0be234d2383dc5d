//! One test source, every backend: [`backend_test!`](crate::backend_test) instantiates a test
//! once per backend, and the helpers here give each instance a fresh database of its backend.
//!
//! - SQLite: a private in-memory database (or a file in a temporary directory when a test
//!   needs several connections).
//! - PostgreSQL: a schema of its own with a unique name in the database
//!   `ORM_TEST_POSTGRES_URL` points to, dropped when the test ends, so tests run in parallel.
//!   Without that variable the PostgreSQL instances are skipped, and the test binary says so
//!   on stderr (never a silent pass).

use orm_core::meta::ModelMeta;
use orm_core::{Database, Value};
use std::future::Future;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable that points the tests at a PostgreSQL database.
pub const POSTGRES_URL_VAR: &str = "ORM_TEST_POSTGRES_URL";

/// The backend a test instance runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite default.
    Sqlite,
    /// The PostgreSQL server of `ORM_TEST_POSTGRES_URL`.
    Postgres,
}

/// What runs a test instance: its backend and the PostgreSQL schemas it created.
#[derive(Debug, Clone)]
struct Instance {
    backend: Backend,
    schemas: Arc<Mutex<Vec<String>>>,
}

tokio::task_local! {
    static INSTANCE: Instance;
}

/// The backend of the test instance running on this task (SQLite outside one).
pub fn current() -> Backend {
    INSTANCE.try_with(|i| i.backend).unwrap_or(Backend::Sqlite)
}

/// The PostgreSQL URL the tests use, if set.
pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
}

/// `sql` with each `?` placeholder written in the current backend's syntax (`$1`, `$2`, ... on
/// PostgreSQL), for raw SQL in tests. (The fixtures have no `?` inside string literals.)
pub fn placeholders(sql: &str) -> String {
    if current() == Backend::Sqlite {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut number = 0;
    for c in sql.chars() {
        if c == '?' {
            number += 1;
            out.push_str(&format!("${number}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Polls `future` at most `polls` times (yielding to the runtime in between), then drops it:
/// a request cancelled at that await point. Returns whether it completed.
pub async fn drop_after_polls<F: Future>(future: F, polls: usize) -> bool {
    let mut future = std::pin::pin!(future);
    for _ in 0..polls {
        let ready =
            std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx).is_ready()))
                .await;
        if ready {
            return true;
        }
        tokio::task::yield_now().await;
    }
    false
}

/// What a skipped test instance returns.
pub trait Skipped {
    /// The value of a test that did not run.
    fn skipped() -> Self;
}

impl Skipped for () {
    fn skipped() -> Self {}
}

impl<E> Skipped for Result<(), E> {
    fn skipped() -> Self {
        Ok(())
    }
}

/// Runs one instance of a test on `backend`, then drops the schemas it created. A PostgreSQL
/// instance without `ORM_TEST_POSTGRES_URL` is skipped, and the binary says so once.
pub async fn run<T, F>(backend: Backend, body: F) -> T
where
    T: Skipped + Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    crate::init_logging();
    if backend == Backend::Postgres && postgres_url().is_none() {
        announce_skip();
        return T::skipped();
    }
    let instance = Instance {
        backend,
        schemas: Arc::default(),
    };
    let schemas = Arc::clone(&instance.schemas);
    // The body runs as a task of its own, so that its locals (pools, open transactions) are
    // gone, even after a panic, before its schemas are dropped.
    let outcome = tokio::spawn(INSTANCE.scope(instance, body)).await;
    let created = std::mem::take(&mut *schemas.lock().unwrap_or_else(|p| p.into_inner()));
    for schema in created {
        drop_schema(&schema).await;
    }
    match outcome {
        Ok(value) => value,
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}

/// Tells, once per test binary and past the test harness's output capture, that the
/// PostgreSQL instances were skipped and how to run them.
fn announce_skip() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\nnote: the PostgreSQL instances of these tests were SKIPPED: {POSTGRES_URL_VAR} is not set.\n\
             note: run them with {POSTGRES_URL_VAR}=postgres://postgres@127.0.0.1:5432/test cargo test --workspace (as .ci/run does)\n"
        );
    });
}

/// A fresh database of the current backend, with the tables of `models` created, and a raw
/// handle on the same pool for fixtures and checks outside the ORM.
#[derive(Debug)]
pub struct Fresh {
    /// The database under test.
    pub db: Database,
    /// The same pool, without the ORM's logging and counting.
    pub raw: Arc<dyn orm_core::backend::Backend>,
    /// Which backend it is.
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh database with one connection where the backend allows (SQLite in memory).
pub async fn fresh(models: &[&'static ModelMeta]) -> Fresh {
    open(models, None).await
}

/// A fresh database whose pool has `connections` connections (SQLite: a file).
pub async fn pooled(models: &[&'static ModelMeta], connections: u32) -> Fresh {
    open(models, Some(connections)).await
}

async fn open(models: &[&'static ModelMeta], connections: Option<u32>) -> Fresh {
    let backend = current();
    let (raw, dir): (Arc<dyn orm_core::backend::Backend>, _) = match backend {
        Backend::Sqlite => {
            let (raw, dir) = open_sqlite(connections).await;
            (raw, dir)
        }
        Backend::Postgres => (open_postgres(connections).await, None),
    };
    let db = Database::new(Arc::clone(&raw));
    db.create_all(models).await.expect("create tables");
    Fresh {
        db,
        raw,
        backend,
        _dir: dir,
    }
}

async fn open_sqlite(
    connections: Option<u32>,
) -> (
    Arc<dyn orm_core::backend::Backend>,
    Option<tempfile::TempDir>,
) {
    use orm_sqlite::{SqliteBackend, SqliteOptions};
    let Some(connections) = connections else {
        let raw = SqliteBackend::open("sqlite::memory:", &SqliteOptions::default())
            .await
            .expect("open SQLite in memory");
        return (Arc::new(raw), None);
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let options = SqliteOptions::default().max_connections(connections);
    let raw = SqliteBackend::open(&url, &options)
        .await
        .expect("open a SQLite file");
    (Arc::new(raw), Some(dir))
}

/// A pool whose connections use a new schema of their own.
async fn open_postgres(connections: Option<u32>) -> Arc<dyn orm_core::backend::Backend> {
    let url = postgres_url().expect("checked by `run`");
    let schema = new_schema(&url).await;
    let options = orm_postgres::PgOptions::default()
        .search_path(schema)
        .max_connections(connections.unwrap_or(4))
        .acquire_timeout(std::time::Duration::from_secs(10));
    let raw = orm_postgres::PgBackend::open(&url, &options)
        .await
        .unwrap_or_else(|e| panic!("connecting to {POSTGRES_URL_VAR}: {e}"));
    Arc::new(raw)
}

/// Creates a schema with a name no other test uses (time, process, counter) and registers it
/// with the running instance, which drops it at the end.
async fn new_schema(url: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SWEEP: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SWEEP.get_or_init(|| sweep_stale_schemas(url)).await;
    let name = format!(
        "orm_t_{}_{}_{}",
        unix_seconds(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    admin(url, &format!("CREATE SCHEMA \"{name}\"")).await;
    INSTANCE
        .try_with(|i| {
            i.schemas
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(name.clone())
        })
        .expect("a PostgreSQL database is made inside `backend_test!`");
    name
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Drops schemas of earlier runs that were left behind (a killed test binary) and are older
/// than an hour, so that they cannot pile up.
async fn sweep_stale_schemas(url: &str) {
    let cutoff = unix_seconds().saturating_sub(3600);
    let rows = raw_admin_rows(
        url,
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'orm\\_t\\_%'",
    )
    .await;
    for name in rows {
        let created = name
            .split('_')
            .nth(2)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(u64::MAX);
        if created < cutoff {
            admin(url, &format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).await;
        }
    }
}

async fn drop_schema(name: &str) {
    let Some(url) = postgres_url() else { return };
    admin(
        &url,
        &format!("SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS \"{name}\" CASCADE"),
    )
    .await;
}

/// Runs administrative SQL on a connection of its own.
async fn admin(url: &str, sql: &str) {
    use sqlx::{Connection as _, Executor as _};
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {POSTGRES_URL_VAR} ({url}): {e}"));
    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

async fn raw_admin_rows(url: &str, sql: &str) -> Vec<String> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {POSTGRES_URL_VAR} ({url}): {e}"));
    let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
    rows
}

impl Fresh {
    /// Runs raw SQL that changes rows (fixtures); not counted by `statements_executed`. On
    /// PostgreSQL, identity sequences are moved past keys a fixture inserted explicitly, as
    /// SQLite's `INTEGER PRIMARY KEY` does by itself.
    pub async fn exec(&self, sql: &str) {
        self.raw
            .execute(sql, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        if self.backend == Backend::Postgres && sql.trim_start().starts_with("INSERT") {
            self.raw
                .execute(RESYNC_IDENTITIES, Vec::new())
                .await
                .unwrap_or_else(|e| panic!("resynchronising identity sequences: {e}"));
        }
    }

    /// The rows of a raw query.
    pub async fn rows(&self, sql: &str) -> Vec<Vec<Value>> {
        self.raw
            .fetch(sql, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl Fresh {
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

    /// Asserts that no row references a missing row. SQLite is asked with
    /// `PRAGMA foreign_key_check`; PostgreSQL checks every foreign key at each statement, so
    /// a dangling reference could not have been written there.
    pub async fn assert_consistent(&self) {
        if self.backend != Backend::Sqlite {
            return;
        }
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

/// A database of the running instance's backend that a tool opens by URL (the migrations
/// command line): a SQLite file in a temporary directory, or a PostgreSQL schema of its own,
/// named in the URL's `options` and dropped when the test ends.
#[derive(Debug)]
pub struct Scratch {
    /// The URL to connect to.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A new, empty [`Scratch`] database.
pub async fn scratch() -> Scratch {
    match current() {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let url = format!("sqlite://{}", dir.path().join("scratch.db").display());
            Scratch {
                url,
                _dir: Some(dir),
            }
        }
        Backend::Postgres => {
            let base = postgres_url().expect("checked by `run`");
            let schema = new_schema(&base).await;
            let separator = if base.contains('?') { '&' } else { '?' };
            Scratch {
                url: format!("{base}{separator}options=-c%20search_path%3D{schema}"),
                _dir: None,
            }
        }
    }
}

/// Sets every identity sequence of the current schema to continue after the largest key.
const RESYNC_IDENTITIES: &str = "DO $$ DECLARE r record; BEGIN \
    FOR r IN SELECT table_name, column_name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND is_identity = 'YES' LOOP \
        EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, %L), \
                        (SELECT coalesce(max(%I), 0) + 1 FROM %I), false)', \
                       r.table_name, r.column_name, r.column_name, r.table_name); \
    END LOOP; END $$";

/// Instantiates a test once per backend, from one source: `name::sqlite` and
/// `name::postgres`. The test keeps its own attributes (`#[tokio::test]`, docs); inside it,
/// [`fresh`], [`pooled`] and [`fresh_db`](crate::fresh_db) open databases of the instance's
/// backend.
#[macro_export]
macro_rules! backend_test {
    ($(#[$meta:meta])* async fn $name:ident() $(-> $ret:ty)? $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            async fn sqlite() $(-> $ret)? {
                $crate::harness::run($crate::harness::Backend::Sqlite, async move $body).await
            }

            $(#[$meta])*
            async fn postgres() $(-> $ret)? {
                $crate::harness::run($crate::harness::Backend::Postgres, async move $body).await
            }
        }
    };
}
