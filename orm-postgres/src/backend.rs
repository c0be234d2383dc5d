//! The [`Backend`] and [`Transaction`] implementations over a sqlx [`PgPool`].

use crate::convert::{bind_all, collect_rows};
use crate::error::to_failure;
use crate::options::PgOptions;
use orm_core::backend::{Backend, BoxFuture, DbFailure, Dialect, ExecOutcome, Row, Transaction};
use orm_core::{Error, Value};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgQueryResult};
use sqlx::Postgres;
use std::fmt;
use std::str::FromStr;

/// A pool of PostgreSQL connections; the [`Backend`] behind [`connect`](crate::connect).
///
/// Use it directly (rather than through [`orm_core::Database`]) to run raw SQL, for example in
/// tests of the backend itself.
pub struct PgBackend {
    pool: PgPool,
    /// Whether statements are kept prepared on their connection (a statement cache of 0 turns
    /// this off, for poolers in transaction mode).
    persistent: bool,
}

impl fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgBackend")
            .field("connections", &self.pool.size())
            .field("persistent_statements", &self.persistent)
            .field("closed", &self.pool.is_closed())
            .finish()
    }
}

impl PgBackend {
    /// Opens a pool for `url` (`postgres://user:password@host:port/database?...`, the URL
    /// libpq and sqlx accept) with `options`.
    pub async fn open(url: &str, options: &PgOptions) -> orm_core::Result<PgBackend> {
        let connect = connect_options(url, options)?;
        let pool = PgPoolOptions::new()
            .max_connections(options.pool_size())
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| to_failure(e).into_error(format!("opening `{}`", redacted(url)), ""))?;
        tracing::debug!(target: "orm::postgres", url = redacted(url), "opened PostgreSQL pool");
        Ok(PgBackend {
            pool,
            persistent: options.statement_cache_capacity > 0,
        })
    }

    /// Wraps a pool the application already has; its connections' settings are the
    /// application's. Statements are prepared like sqlx's own queries (persistent, cached as
    /// the pool's `statement_cache_capacity` says).
    pub fn from_pool(pool: PgPool) -> PgBackend {
        PgBackend {
            pool,
            persistent: true,
        }
    }

    /// The sqlx pool, for statements of the application's own.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The connect options of `url` with `options` applied; a URL that is not a PostgreSQL URL is
/// an [`Error::InvalidUrl`].
fn connect_options(url: &str, options: &PgOptions) -> orm_core::Result<PgConnectOptions> {
    let invalid = |reason: String| Error::InvalidUrl {
        url: redacted(url),
        reason,
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(invalid(
            "a PostgreSQL URL starts with `postgres://` or `postgresql://`".to_owned(),
        ));
    }
    let mut connect = PgConnectOptions::from_str(url).map_err(|e| invalid(e.to_string()))?;
    connect = connect.statement_cache_capacity(options.statement_cache_capacity);
    if let Some(name) = &options.application_name {
        connect = connect.application_name(name);
    }
    let mut settings = Vec::new();
    if let Some(timeout) = options.statement_timeout {
        settings.push(("statement_timeout", format!("{}ms", timeout.as_millis())));
    }
    if let Some(path) = &options.search_path {
        settings.push(("search_path", path.clone()));
    }
    Ok(connect.options(settings))
}

/// `url` without its password, for messages and logs.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

fn outcome(result: PgQueryResult) -> ExecOutcome {
    ExecOutcome::new(result.rows_affected(), None)
}

impl Backend for PgBackend {
    fn dialect(&self) -> &'static dyn Dialect {
        &orm_core::sql::POSTGRES
    }

    fn fetch<'a>(
        &'a self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<Vec<Row>, DbFailure>> {
        Box::pin(async move {
            collect_rows(bind_all(sql, params, self.persistent)?.fetch(&self.pool)).await
        })
    }

    fn execute<'a>(
        &'a self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<ExecOutcome, DbFailure>> {
        Box::pin(async move {
            let result = bind_all(sql, params, self.persistent)?
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
            Ok(Box::new(PgTransaction {
                tx,
                persistent: self.persistent,
                aborted: false,
            }) as Box<dyn Transaction>)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.pool.close().await })
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// An open transaction on one pooled connection; dropping it rolls back.
pub struct PgTransaction {
    tx: sqlx::Transaction<'static, Postgres>,
    persistent: bool,
    /// A statement failed and no `ROLLBACK TO SAVEPOINT` has recovered since: PostgreSQL has
    /// aborted the transaction, and would answer COMMIT by rolling back without an error.
    aborted: bool,
}

impl PgTransaction {
    /// Records the outcome of a statement for [`aborted`](Self::aborted).
    fn track<T>(&mut self, sql: &str, result: &Result<T, DbFailure>) {
        match result {
            Err(_) => self.aborted = true,
            Ok(_) if sql.starts_with("ROLLBACK TO SAVEPOINT") => self.aborted = false,
            Ok(_) => {}
        }
    }
}

impl fmt::Debug for PgTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTransaction").finish_non_exhaustive()
    }
}

impl Transaction for PgTransaction {
    fn fetch<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<Vec<Row>, DbFailure>> {
        Box::pin(async move {
            let query = bind_all(sql, params, self.persistent)?;
            let result = collect_rows(query.fetch(&mut *self.tx)).await;
            self.track(sql, &result);
            result
        })
    }

    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<ExecOutcome, DbFailure>> {
        Box::pin(async move {
            let result = bind_all(sql, params, self.persistent)?
                .execute(&mut *self.tx)
                .await
                .map_err(to_failure)
                .map(outcome);
            self.track(sql, &result);
            result
        })
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), DbFailure>> {
        Box::pin(async move {
            if self.aborted {
                let _ = self.tx.rollback().await;
                return Err(DbFailure::new(
                    orm_core::backend::FailureKind::Other,
                    "a statement failed earlier in this transaction, so PostgreSQL aborted it; \
                     it was rolled back, not committed",
                ));
            }
            self.tx.commit().await.map_err(to_failure)
        })
    }

    fn rollback(self: Box<Self>) -> BoxFuture<'static, Result<(), DbFailure>> {
        Box::pin(async move { self.tx.rollback().await.map_err(to_failure) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redacted("postgres://app:secret@db:5432/prod"),
            "postgres://app:***@db:5432/prod"
        );
        assert_eq!(
            redacted("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
    }

    #[test]
    fn other_schemes_are_invalid_urls() {
        let err = connect_options("sqlite::memory:", &PgOptions::default()).unwrap_err();
        assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");
    }
}
