//! The narrow boundary a database backend implements: execute rendered SQL with bound values,
//! return rows of [`Value`]s, run transactions, and sort driver errors into kinds.
//!
//! SQL text is rendered in this crate per [`Dialect`]; a backend never builds SQL of its own
//! beyond what its driver needs to open connections.

use crate::error::ConstraintKind;
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

/// How a dialect spells a bound parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// `?` (SQLite, MySQL).
    Question,
    /// `$1`, `$2`, ... (PostgreSQL).
    Dollar,
}

/// What the SQL renderer needs to know about a database.
#[derive(Debug)]
pub struct Dialect {
    /// A name for messages and logs.
    pub name: &'static str,
    /// Parameter spelling.
    pub placeholder: Placeholder,
    /// The most bound parameters one statement may carry; IN-lists are chunked under it.
    pub max_params: usize,
    /// Whether `INSERT ... RETURNING` is available.
    pub returning: bool,
    /// Whether a multi-row INSERT into a table with a generated integer key assigns consecutive
    /// keys ending at the connection's last insert id (true on SQLite, which saves a RETURNING).
    pub consecutive_insert_ids: bool,
    /// The SQL type names for each [`SqlType`](crate::SqlType).
    pub type_names: TypeNames,
    /// The column definition of a database-generated integer primary key.
    pub generated_key: &'static str,
}

/// SQL type names of a dialect.
#[derive(Debug)]
pub struct TypeNames {
    /// For integers.
    pub integer: &'static str,
    /// For floats.
    pub real: &'static str,
    /// For text.
    pub text: &'static str,
    /// For bytes.
    pub blob: &'static str,
    /// For booleans.
    pub boolean: &'static str,
}

/// What a write statement reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecOutcome {
    /// Rows inserted, updated or deleted.
    pub rows_affected: u64,
    /// The last generated key on this connection, where the backend has one.
    pub last_insert_id: Option<i64>,
}

/// The kind of a driver failure, so that the session can build a precise [`Error`](crate::Error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// A constraint was violated.
    Constraint(ConstraintKind),
    /// The statement named a table that does not exist.
    MissingTable(String),
    /// The pool was closed.
    PoolClosed,
    /// No connection became free in time.
    PoolTimeout,
    /// Anything else.
    Other,
}

/// A failure reported by a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbFailure {
    /// Its kind.
    pub kind: FailureKind,
    /// The driver's message.
    pub message: String,
}

impl fmt::Display for DbFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A connection pool for one database.
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// The SQL dialect to render for.
    fn dialect(&self) -> &'static Dialect;
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
    /// Takes a connection from the pool and begins a transaction on it.
    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn Transaction>, DbFailure>>;
    /// Closes the pool; later calls fail with `PoolClosed`.
    fn close(&self) -> BoxFuture<'_, ()>;
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

/// The dialects this crate renders SQL for.
pub mod dialects {
    use super::{Dialect, Placeholder, TypeNames};

    /// SQLite 3.35 or later (for `RETURNING`).
    pub static SQLITE: Dialect = Dialect {
        name: "sqlite",
        placeholder: Placeholder::Question,
        // SQLITE_MAX_VARIABLE_NUMBER defaults to 32766 since SQLite 3.32.
        max_params: 32_766,
        returning: true,
        consecutive_insert_ids: true,
        type_names: TypeNames {
            integer: "INTEGER",
            real: "REAL",
            text: "TEXT",
            blob: "BLOB",
            boolean: "BOOLEAN",
        },
        generated_key: "INTEGER PRIMARY KEY",
    };

    /// PostgreSQL (for the coming `orm-postgres` backend; rendering is tested today).
    pub static POSTGRES: Dialect = Dialect {
        name: "postgres",
        placeholder: Placeholder::Dollar,
        max_params: 65_535,
        returning: true,
        consecutive_insert_ids: false,
        type_names: TypeNames {
            integer: "BIGINT",
            real: "DOUBLE PRECISION",
            text: "TEXT",
            blob: "BYTEA",
            boolean: "BOOLEAN",
        },
        generated_key: "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    };
}
