//! The narrow boundary a database backend implements: execute rendered SQL with bound values,
//! return rows of [`Value`]s, run transactions, and sort driver errors into kinds.
//!
//! SQL text is rendered in this crate per [`Dialect`]; a backend never builds SQL of its own
//! beyond what its driver needs to open connections.

use crate::error::{ConflictKind, ConstraintKind, DbDetails, DriverError, Error};
pub use crate::sql::Dialect;
use crate::value::Value;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A boxed, `Send` future (the backend traits are object-safe).
///
/// Parameters are passed by value: a statement is built for one execution, so its values move
/// into the driver without another copy.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One result row: one value per selected column.
pub type Row = Vec<Value>;

/// What a write statement reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecOutcome {
    /// Rows inserted, updated or deleted.
    pub rows_affected: u64,
    /// The last generated key on this connection, where the backend has one.
    pub last_insert_id: Option<i64>,
}

impl ExecOutcome {
    /// The outcome of a write: rows affected and, where the backend has one, the last
    /// generated key of the connection.
    pub fn new(rows_affected: u64, last_insert_id: Option<i64>) -> Self {
        ExecOutcome {
            rows_affected,
            last_insert_id,
        }
    }
}

/// The kind of a driver failure, so that the session can build a precise [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// A constraint was violated.
    Constraint(ConstraintKind),
    /// The statement named a table that does not exist.
    MissingTable(String),
    /// The statement named a column its table does not have.
    MissingColumn(String),
    /// The pool was closed.
    PoolClosed,
    /// No connection became free in time.
    PoolTimeout,
    /// The database aborted the statement because of concurrent transactions.
    Conflict(ConflictKind),
    /// The statement was canceled (a statement timeout or a cancel request).
    Canceled,
    /// The connection failed or was lost.
    Connection,
    /// Anything else.
    Other,
}

/// A failure reported by a backend.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DbFailure {
    /// Its kind.
    pub kind: FailureKind,
    /// The driver's message.
    pub message: String,
    /// The database's code, constraint, table and column.
    pub details: Box<DbDetails>,
    /// The driver's error, which becomes the [`Error`]'s `source()`.
    pub source: Option<DriverError>,
}

impl DbFailure {
    /// A failure of `kind`, with the driver's message.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        DbFailure {
            kind,
            message: message.into(),
            details: Box::default(),
            source: None,
        }
    }

    /// Adds what the database reported besides its message.
    pub fn with_details(mut self, details: DbDetails) -> Self {
        self.details = Box::new(details);
        self
    }

    /// The workspace error for this failure, which happened while `action` ("inserting into
    /// `users`") on `table`. The one place where failure kinds become [`Error`] variants.
    pub fn into_error(self, action: String, table: &str) -> Error {
        let DbFailure {
            kind,
            message,
            details,
            source,
        } = self;
        match kind {
            FailureKind::Constraint(kind) => Error::Constraint {
                kind,
                table: table.to_owned(),
                action,
                message,
                details,
                source,
            },
            FailureKind::MissingTable(table) => Error::MissingTable { table },
            FailureKind::MissingColumn(column) => Error::MissingColumn {
                table: table.to_owned(),
                column,
            },
            FailureKind::PoolClosed => Error::PoolClosed,
            FailureKind::PoolTimeout => Error::PoolTimeout,
            FailureKind::Conflict(kind) => Error::Conflict {
                kind,
                action,
                message,
                details,
                source,
            },
            FailureKind::Canceled => Error::Canceled {
                action,
                message,
                source,
            },
            FailureKind::Connection => Error::Connection {
                action,
                message,
                source,
            },
            FailureKind::Other => Error::Database {
                action,
                message,
                details,
                source,
            },
        }
    }

    /// Keeps the driver's error as the source.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(std::sync::Arc::new(source));
        self
    }
}

impl fmt::Display for DbFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A connection pool for one database.
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// The SQL dialect to render for.
    fn dialect(&self) -> &'static dyn Dialect;
    /// Runs a query on any pooled connection, outside a transaction.
    fn fetch<'a>(
        &'a self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<Vec<Row>, DbFailure>>;
    /// Runs a write (or DDL) statement on any pooled connection, in its own implicit transaction.
    fn execute<'a>(
        &'a self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<ExecOutcome, DbFailure>>;
    /// Takes a connection from the pool and begins a transaction on it, with `statement` if
    /// given (the dialect's [`Dialect::begin_statement`], such as SQLite's `BEGIN IMMEDIATE`),
    /// else with the driver's plain `BEGIN`.
    fn begin(
        &self,
        statement: Option<&'static str>,
    ) -> BoxFuture<'_, Result<Box<dyn Transaction>, DbFailure>>;
    /// Closes the pool; later calls fail with `PoolClosed`.
    fn close(&self) -> BoxFuture<'_, ()>;

    /// The backend as [`Any`](std::any::Any), so that tools that need the driver's own pool
    /// (the migrations of `orm-migrate` run through sqlx's migrator) can reach it with
    /// [`Database::backend_as`](crate::Database::backend_as). `None`: this backend does not offer it (a wrapper).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// An open transaction on one connection. Dropping it without `commit` rolls it back.
pub trait Transaction: Send + Sync + fmt::Debug {
    /// Runs a query inside the transaction.
    fn fetch<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<Vec<Row>, DbFailure>>;
    /// Runs a write statement inside the transaction.
    fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        params: Vec<Value>,
    ) -> BoxFuture<'a, Result<ExecOutcome, DbFailure>>;
    /// Commits.
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), DbFailure>>;
    /// Rolls back.
    fn rollback(self: Box<Self>) -> BoxFuture<'static, Result<(), DbFailure>>;
}
