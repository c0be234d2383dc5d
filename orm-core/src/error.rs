//! The one error type of the workspace.

use crate::value::ValueError;
use std::fmt;

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
    },

    /// A table does not exist.
    #[error("no such table `{table}`: create it first with `Database::create_all`")]
    MissingTable {
        /// The missing table.
        table: String,
    },

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
}
