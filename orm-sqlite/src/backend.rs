//! The [`Backend`] and [`Transaction`] implementations over a sqlx [`SqlitePool`].

use crate::convert::{bind_all, decode_row};
use crate::error::to_failure;
use crate::options::SqliteOptions;
use crate::url::{self, Target};
use orm_core::backend::{Backend, BoxFuture, DbFailure, Dialect, ExecOutcome, Row, Transaction};
use orm_core::{Error, Value};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteQueryResult, SqliteSynchronous,
};
use sqlx::{ConnectOptions as _, Connection as _, Sqlite};
use std::fmt;
use std::sync::Mutex;

/// A pool of SQLite connections; the [`Backend`] behind [`connect`](crate::connect).
///
/// Use it directly (rather than through [`orm_core::Database`]) to run raw SQL, for example in
/// tests of the backend itself.
pub struct SqliteBackend {
    pool: SqlitePool,
    /// For an in-memory database: one connection outside the pool that is never used, so the
    /// database lives until [`Backend::close`] even if the pool replaces its connection.
    keeper: Mutex<Option<SqliteConnection>>,
    in_memory: bool,
}

impl fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("in_memory", &self.in_memory)
            .field("connections", &self.pool.size())
            .field("closed", &self.pool.is_closed())
            .finish()
    }
}

impl SqliteBackend {
    /// Opens a pool for `url` (see the crate docs for the accepted URLs and the pragmas set).
    pub async fn open(url: &str, options: &SqliteOptions) -> orm_core::Result<SqliteBackend> {
        let target = url::parse(url)?;
        let in_memory = target.in_memory;
        let connect = with_pragmas(target, options);
        let keeper = match in_memory {
            true => Some(connect.connect().await.map_err(|e| connect_error(url, e))?),
            false => None,
        };
        let pool = pool_options(options, in_memory)
            .connect_with(connect)
            .await
            .map_err(|e| connect_error(url, e))?;
        tracing::debug!(target: "orm::sqlite", url, in_memory, "opened SQLite pool");
        Ok(SqliteBackend {
            pool,
            keeper: Mutex::new(keeper),
            in_memory,
        })
    }

    /// Wraps a pool the application already has. Its connections must enforce foreign keys
    /// (sqlx's `SqliteConnectOptions` turns `foreign_keys` on unless told otherwise); this is
    /// checked on one connection.
    pub async fn from_pool(pool: SqlitePool) -> orm_core::Result<SqliteBackend> {
        let enforced: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&pool)
            .await
            .map_err(|e| to_failure(e).into_error("checking the pool".to_owned(), ""))?;
        if enforced == 0 {
            return Err(Error::Database {
                action: "checking the pool".to_owned(),
                message: "its connections do not enforce foreign keys; build the pool from \
                          `SqliteConnectOptions` with `.foreign_keys(true)`"
                    .to_owned(),
                details: Default::default(),
                source: None,
            });
        }
        Ok(SqliteBackend {
            pool,
            keeper: Mutex::new(None),
            in_memory: false,
        })
    }

    /// The sqlx pool, for statements of the application's own.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Whether the database lives in memory (a pool of exactly one connection).
    pub fn is_in_memory(&self) -> bool {
        self.in_memory
    }

    fn take_keeper(&self) -> Option<SqliteConnection> {
        match self.keeper.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }
}

/// Adds the pragmas every connection runs when it opens: foreign keys and the busy timeout
/// always; for files, NORMAL synchronous and (unless read-only) WAL, creating a missing file
/// unless the URL chose a `mode`.
fn with_pragmas(target: Target, options: &SqliteOptions) -> SqliteConnectOptions {
    let connect = target
        .options
        .foreign_keys(true)
        .busy_timeout(options.capped_busy_timeout());
    if target.in_memory {
        return connect;
    }
    let connect = connect
        .create_if_missing(target.create)
        .synchronous(SqliteSynchronous::Normal);
    match target.read_only {
        true => connect,
        false => connect.journal_mode(SqliteJournalMode::Wal),
    }
}

/// Pool sizing: an in-memory database has one connection that is never retired.
fn pool_options(options: &SqliteOptions, in_memory: bool) -> SqlitePoolOptions {
    let pool = SqlitePoolOptions::new().acquire_timeout(options.acquire_timeout);
    if !in_memory {
        return pool.max_connections(options.pool_size());
    }
    pool.max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
}

/// A failure to open the database, as the workspace error.
fn connect_error(url: &str, err: sqlx::Error) -> Error {
    to_failure(err).into_error(format!("opening `{url}`"), "")
}

fn outcome(result: SqliteQueryResult) -> ExecOutcome {
    ExecOutcome::new(result.rows_affected(), Some(result.last_insert_rowid()))
}

fn decode_rows(rows: &[sqlx::sqlite::SqliteRow]) -> Result<Vec<Row>, DbFailure> {
    rows.iter().map(decode_row).collect()
}

impl Backend for SqliteBackend {
    fn dialect(&self) -> &'static dyn Dialect {
        &orm_core::sql::SQLITE
    }

    fn fetch<'a>(
        &'a self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<Vec<Row>, DbFailure>> {
        Box::pin(async move {
            let rows = bind_all(sql, params)?
                .fetch_all(&self.pool)
                .await
                .map_err(to_failure)?;
            decode_rows(&rows)
        })
    }

    fn execute<'a>(
        &'a self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<ExecOutcome, DbFailure>> {
        Box::pin(async move {
            let result = bind_all(sql, params)?
                .execute(&self.pool)
                .await
                .map_err(to_failure)?;
            Ok(outcome(result))
        })
    }

    fn begin(
        &self,
        statement: Option<&'static str>,
    ) -> BoxFuture<'_, Result<Box<dyn Transaction>, DbFailure>> {
        Box::pin(async move {
            let tx = match statement {
                Some(statement) => self.pool.begin_with(statement).await,
                None => self.pool.begin().await,
            }
            .map_err(to_failure)?;
            Ok(Box::new(SqliteTransaction { tx }) as Box<dyn Transaction>)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.pool.close().await;
            if let Some(keeper) = self.take_keeper() {
                if let Err(err) = keeper.close().await {
                    tracing::warn!(target: "orm::sqlite", %err, "closing the in-memory keeper");
                }
            }
        })
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// An open transaction on one pooled connection; dropping it rolls back.
pub struct SqliteTransaction {
    tx: sqlx::Transaction<'static, Sqlite>,
}

impl fmt::Debug for SqliteTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteTransaction").finish_non_exhaustive()
    }
}

impl Transaction for SqliteTransaction {
    fn fetch<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<Vec<Row>, DbFailure>> {
        Box::pin(async move {
            let rows = bind_all(sql, params)?
                .fetch_all(&mut *self.tx)
                .await
                .map_err(to_failure)?;
            decode_rows(&rows)
        })
    }

    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<ExecOutcome, DbFailure>> {
        Box::pin(async move {
            let result = bind_all(sql, params)?
                .execute(&mut *self.tx)
                .await
                .map_err(to_failure)?;
            Ok(outcome(result))
        })
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), DbFailure>> {
        Box::pin(async move { self.tx.commit().await.map_err(to_failure) })
    }

    fn rollback(self: Box<Self>) -> BoxFuture<'static, Result<(), DbFailure>> {
        Box::pin(async move { self.tx.rollback().await.map_err(to_failure) })
    }
}
