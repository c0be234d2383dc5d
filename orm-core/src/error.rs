//! The one error type of the workspace.

use crate::value::ValueError;
use std::fmt;
use std::sync::Arc;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The kind of a violated constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConstraintKind {
    /// A `UNIQUE` or primary-key constraint.
    Unique,
    /// A `FOREIGN KEY` constraint.
    ForeignKey,
    /// A `NOT NULL` constraint.
    NotNull,
    /// A `CHECK` constraint.
    Check,
}

impl fmt::Display for ConstraintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConstraintKind::Unique => "unique",
            ConstraintKind::ForeignKey => "foreign key",
            ConstraintKind::NotNull => "not null",
            ConstraintKind::Check => "check",
        })
    }
}

/// Why a database aborted a statement because of other transactions. The statement did nothing;
/// running the whole transaction again can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConflictKind {
    /// The transaction could not be serialized with concurrent ones (PostgreSQL `40001`).
    Serialization,
    /// The transaction was chosen as a deadlock victim (PostgreSQL `40P01`).
    Deadlock,
    /// Another connection held the lock for longer than the busy timeout (SQLite
    /// `SQLITE_BUSY` / `SQLITE_LOCKED`).
    Busy,
}

impl fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConflictKind::Serialization => "serialization failure",
            ConflictKind::Deadlock => "deadlock",
            ConflictKind::Busy => "database busy",
        })
    }
}

/// The driver's own error, kept as the [`source`](std::error::Error::source) of an [`Error`].
pub type DriverError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// What the database reported about a failure besides its message: its own error code and the
/// constraint, table and column it names. Each is `None` where the database does not say it
/// (SQLite names no constraints; its table and column come from its message).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbDetails {
    /// The database's code: a PostgreSQL SQLSTATE (`"23505"`) or a SQLite extended result
    /// code (`"2067"`).
    pub code: Option<String>,
    /// The name of the violated constraint (PostgreSQL).
    pub constraint: Option<String>,
    /// The table the database names.
    pub table: Option<String>,
    /// The column the database names.
    pub column: Option<String>,
}

impl DbDetails {
    /// Sets the database's code.
    pub fn code(mut self, code: Option<impl Into<String>>) -> Self {
        self.code = code.map(Into::into);
        self
    }

    /// Sets the constraint name.
    pub fn constraint(mut self, name: Option<impl Into<String>>) -> Self {
        self.constraint = name.map(Into::into);
        self
    }

    /// Sets the table name.
    pub fn table(mut self, name: Option<impl Into<String>>) -> Self {
        self.table = name.map(Into::into);
        self
    }

    /// Sets the column name.
    pub fn column(mut self, name: Option<impl Into<String>>) -> Self {
        self.column = name.map(Into::into);
        self
    }
}

/// Everything that can go wrong, with the model, key or constraint it concerns.
///
/// After any error the session is still usable: a failed flush leaves no row of that flush in
/// the database and every object as it was before the flush.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A relationship or model is configured wrongly in a way the compiler could not see.
    #[error("invalid configuration of `{model}::{field}`: {message}")]
    Config {
        /// The model that declares the field.
        model: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong and what to write instead.
        message: String,
    },

    /// The database URL could not be understood.
    #[error("invalid database URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },

    /// A statement violated a constraint; nothing of the flush that ran it was applied.
    #[error("{kind} constraint failed on `{table}` while {action}: {message}")]
    Constraint {
        /// The kind of constraint.
        kind: ConstraintKind,
        /// The table the failing statement wrote to.
        table: String,
        /// What the ORM was doing ("inserting into `users`").
        action: String,
        /// The database's own message.
        message: String,
        /// The database's code, constraint, table and column.
        details: Box<DbDetails>,
        /// The driver's error.
        #[source]
        source: Option<DriverError>,
    },

    /// The database aborted a statement because of concurrent transactions (a serialization
    /// failure, a deadlock, a lock held too long). Nothing of the transaction's work since its
    /// last successful flush was applied; run the whole transaction again
    /// ([`Error::is_retryable`]).
    #[error("{kind} while {action}: {message}; run the transaction again")]
    Conflict {
        /// Why the database aborted.
        kind: ConflictKind,
        /// What the ORM was doing.
        action: String,
        /// The database's own message.
        message: String,
        /// The database's code.
        details: Box<DbDetails>,
        /// The driver's error.
        #[source]
        source: Option<DriverError>,
    },

    /// The database canceled the statement: a statement timeout fired or someone canceled it
    /// (PostgreSQL `57014`).
    #[error("the statement was canceled while {action} (statement timeout or cancel request): {message}")]
    Canceled {
        /// What the ORM was doing.
        action: String,
        /// The database's own message.
        message: String,
        /// The driver's error.
        #[source]
        source: Option<DriverError>,
    },

    /// The connection to the database failed or was lost.
    #[error("database connection failed while {action}: {message}")]
    Connection {
        /// What the ORM was doing.
        action: String,
        /// The driver's message.
        message: String,
        /// The driver's error.
        #[source]
        source: Option<DriverError>,
    },

    /// A table does not exist.
    #[error("no such table `{table}`: create it first with `Database::create_all`")]
    MissingTable {
        /// The missing table.
        table: String,
    },

    /// A column of the model is missing from its table: the table was created from an older
    /// version of the model. Nothing was read or written through it.
    #[error(
        "the table `{table}` has no column `{column}` that the model expects: add the column \
         (a migration), or drop and create the table again; `Database::check_schema` finds \
         every such column at start-up"
    )]
    MissingColumn {
        /// The table the statement used.
        table: String,
        /// The missing column.
        column: String,
    },

    /// An earlier call was cancelled (its future dropped) while it held the session's
    /// transaction, so the database rolled the transaction back. The session has forgotten
    /// what it wrote in it, as after a rollback; this call did nothing. Redo the work and
    /// commit again. Reported once, by the first call after the loss.
    #[error(
        "an earlier call on this session was cancelled while it held the transaction, so the \
         database rolled it back: the session forgot what it had written in it (objects added \
         in it are detached, the others reload); redo that work and commit again"
    )]
    TransactionLost,

    /// The connection pool was closed with `Database::close`.
    #[error("the database connection pool is closed")]
    PoolClosed,

    /// No connection became free in time.
    #[error(
        "timed out waiting for a database connection: another session holds it in an open \
         transaction (an in-memory SQLite database has a single connection); commit, roll back \
         or drop that session first"
    )]
    PoolTimeout,

    /// Any other failure reported by the database driver.
    #[error("database error while {action}: {message}")]
    Database {
        /// What the ORM was doing.
        action: String,
        /// The driver's message.
        message: String,
        /// The database's code, where it gave one.
        details: Box<DbDetails>,
        /// The driver's error.
        #[source]
        source: Option<DriverError>,
    },

    /// A handle issued by another session was passed to this one.
    #[error("this `{model}` handle belongs to another session; use handles only with the session that returned them")]
    ForeignHandle {
        /// The handle's model.
        model: &'static str,
    },

    /// The object was deleted (flushed as deleted) or expunged from the session.
    #[error("`{model}` {key} is {state} and can no longer be used through this session")]
    Unavailable {
        /// The object's model.
        model: &'static str,
        /// Its primary key, or "(new)".
        key: String,
        /// "deleted", "detached".
        state: &'static str,
    },

    /// `one()` found no row.
    #[error("expected exactly one `{model}`, found none")]
    NotFound {
        /// The queried model.
        model: &'static str,
    },

    /// `one()` found several rows.
    #[error("expected exactly one `{model}`, found several")]
    MultipleRows {
        /// The queried model.
        model: &'static str,
    },

    /// A value read from the database does not fit the field's Rust type.
    #[error("cannot read column `{column}` of `{model}`: {source}")]
    Decode {
        /// The model.
        model: &'static str,
        /// The column.
        column: &'static str,
        /// The mismatch.
        #[source]
        source: ValueError,
    },

    /// `single_parent = true` forbids attaching an object that already has a parent.
    #[error(
        "`{child}` {child_key} already belongs to a `{parent}` through `{parent}::{field}` \
         (`single_parent = true`); remove it from its current parent before attaching it to another"
    )]
    SingleParent {
        /// The parent model.
        parent: &'static str,
        /// The relationship field.
        field: &'static str,
        /// The child model.
        child: &'static str,
        /// The child's key.
        child_key: String,
    },

    /// A flush would have to null a foreign key that cannot be NULL (docs/dev/semantics.md D6); refused
    /// before any delete, and nothing of the flush is applied.
    #[error(
        "{when} would set `{child}.{column}` to NULL through `{parent}::{field}`, but that column \
         {reason}; declare `cascade = \"all, delete-orphan\"` on `{parent}::{field}` or \
         `on_delete = \"cascade\"` on the foreign key"
    )]
    WouldNullRequiredKey {
        /// What triggers the nulling ("deleting `User` 5", "removing a child from the collection").
        when: String,
        /// The parent model.
        parent: &'static str,
        /// The one-to-many field.
        field: &'static str,
        /// The child model.
        child: &'static str,
        /// The child's foreign-key column.
        column: &'static str,
        /// "is NOT NULL" or "is part of the primary key".
        reason: &'static str,
    },

    /// An object that a flush already deleted was attached to a relationship.
    #[error("`{model}` {key} was deleted by a flush and cannot be attached to `{field}`; add a new object instead")]
    AttachDeleted {
        /// The deleted object's model.
        model: &'static str,
        /// Its key.
        key: String,
        /// The relationship it was attached to.
        field: &'static str,
    },

    /// UPDATEs by primary key matched fewer rows than there were objects to write: the rows were
    /// deleted (or their key changed) outside this session. Nothing of the flush was applied.
    #[error(
        "updating `{model}` matched {updated} of {expected} rows: they were deleted or re-keyed \
         outside this session; refresh the objects (or roll back) and try again"
    )]
    StaleRows {
        /// The model.
        model: &'static str,
        /// Rows the flush meant to update.
        expected: u64,
        /// Rows the database updated.
        updated: u64,
    },

    /// An operation that needs a stored row was used on an object not yet inserted.
    #[error("`{model}` has no primary key yet: flush the session before {action}")]
    NotPersisted {
        /// The model.
        model: &'static str,
        /// What was attempted.
        action: &'static str,
    },

    /// `Session::begin` was called while the session already had an open transaction.
    #[error(
        "the session already has an open transaction (a flush or an earlier `begin` opened it): \
         call `begin` before the first write, or commit or roll back first"
    )]
    TransactionOpen,

    /// A write was attempted in a read-only transaction; nothing was written and the session's
    /// changes are still pending.
    #[error(
        "the session's transaction is read-only, so {action} is refused; roll back, or begin \
         the transaction without `TxOptions::read_only`"
    )]
    ReadOnly {
        /// What was attempted ("flushing changes", "running a raw write").
        action: &'static str,
    },

    /// An operation that ends the transaction was called inside `Session::nested`.
    #[error(
        "cannot {action} inside `Session::nested`: return from the scope first (its savepoint \
         is released or rolled back then)"
    )]
    InNestedScope {
        /// What was attempted.
        action: &'static str,
    },

    /// A statement failed inside `Session::nested` where a failure aborts the transaction
    /// (PostgreSQL), and the scope returned `Ok` anyway: its work was rolled back to the
    /// savepoint, so it is reported as failed.
    #[error(
        "a statement failed inside `Session::nested` and the database aborted the scope's work: \
         it was rolled back to the scope's savepoint; the error was reported to the scope when it \
         happened"
    )]
    ScopeAborted,

    /// A raw SQL result did not have the number of columns its Rust type needs.
    #[error("the raw SQL statement returned {found} columns, but {target} needs {expected}")]
    RawShape {
        /// What the rows were read into.
        target: &'static str,
        /// Columns needed.
        expected: usize,
        /// Columns returned.
        found: usize,
    },

    /// A value of a raw SQL result does not fit the Rust type it was read into.
    #[error("cannot read column {index} (counted from 0) of the raw SQL result: {source}")]
    RawDecode {
        /// The column's position in the row.
        index: usize,
        /// The mismatch.
        #[source]
        source: ValueError,
    },
}

impl Error {
    /// A failure of the ORM itself while `action`, with no database error behind it.
    pub(crate) fn internal(action: String, message: impl Into<String>) -> Self {
        Error::Database {
            action,
            message: message.into(),
            details: Box::default(),
            source: None,
        }
    }

    /// The kind of the violated constraint, if this is a constraint violation.
    pub fn constraint_kind(&self) -> Option<ConstraintKind> {
        match self {
            Error::Constraint { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Whether a `UNIQUE` (or primary-key) constraint was violated: a duplicate, which a
    /// service usually answers with 409 Conflict.
    pub fn is_unique_violation(&self) -> bool {
        self.constraint_kind() == Some(ConstraintKind::Unique)
    }

    /// Whether a foreign-key constraint was violated.
    pub fn is_foreign_key_violation(&self) -> bool {
        self.constraint_kind() == Some(ConstraintKind::ForeignKey)
    }

    /// Whether a `NOT NULL` constraint was violated.
    pub fn is_not_null_violation(&self) -> bool {
        self.constraint_kind() == Some(ConstraintKind::NotNull)
    }

    /// Whether a `CHECK` constraint was violated.
    pub fn is_check_violation(&self) -> bool {
        self.constraint_kind() == Some(ConstraintKind::Check)
    }

    /// Whether running the whole transaction again can succeed: the database aborted it
    /// because of concurrent transactions ([`Error::Conflict`]: PostgreSQL `40001` and
    /// `40P01`, SQLite busy or locked).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Conflict { .. })
    }

    /// What the database reported besides its message, for errors that came from it.
    pub fn db_details(&self) -> Option<&DbDetails> {
        match self {
            Error::Constraint { details, .. }
            | Error::Conflict { details, .. }
            | Error::Database { details, .. } => Some(details),
            _ => None,
        }
    }

    /// The database's own error code: a PostgreSQL SQLSTATE such as `"23505"`, or a SQLite
    /// extended result code such as `"2067"`.
    pub fn db_code(&self) -> Option<&str> {
        self.db_details()?.code.as_deref()
    }

    /// The name of the violated constraint, where the database names it (PostgreSQL does;
    /// SQLite does not).
    pub fn constraint_name(&self) -> Option<&str> {
        self.db_details()?.constraint.as_deref()
    }

    /// The column the database names in its error (the NOT NULL column, for example).
    pub fn column(&self) -> Option<&str> {
        self.db_details()?.column.as_deref()
    }
}
