//! Sorting sqlx errors into the [`FailureKind`]s of the backend boundary by SQLSTATE, keeping
//! the code, constraint, table and column the server reports, with the driver's error as the
//! source.

use orm_core::backend::{DbFailure, FailureKind};
use orm_core::{ConflictKind, ConstraintKind, DbDetails};
use sqlx::error::DatabaseError;
use sqlx::postgres::PgDatabaseError;

/// Sorts a sqlx error into a [`DbFailure`].
pub(crate) fn to_failure(err: sqlx::Error) -> DbFailure {
    let failure = match &err {
        sqlx::Error::Database(db) => database_failure(db.as_ref()),
        sqlx::Error::PoolClosed => DbFailure::new(FailureKind::PoolClosed, err.to_string()),
        sqlx::Error::PoolTimedOut => DbFailure::new(FailureKind::PoolTimeout, err.to_string()),
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => {
            DbFailure::new(FailureKind::Connection, err.to_string())
        }
        other => DbFailure::new(FailureKind::Other, other.to_string()),
    };
    failure.with_source(err)
}

/// Sorts an error the server reported, by its SQLSTATE.
fn database_failure(db: &dyn DatabaseError) -> DbFailure {
    let message = db.message().to_owned();
    let code = db.code().map(|code| code.into_owned()).unwrap_or_default();
    let kind = kind_of(&code, &message);
    let pg = db.try_downcast_ref::<PgDatabaseError>();
    let details = DbDetails::default()
        .code(Some(code))
        .constraint(db.constraint())
        .table(db.table())
        .column(pg.and_then(PgDatabaseError::column));
    DbFailure::new(kind, message).with_details(details)
}

/// The failure kind of a SQLSTATE (PostgreSQL's appendix A, "Error Codes").
pub(crate) fn kind_of(code: &str, message: &str) -> FailureKind {
    match code {
        "23505" => FailureKind::Constraint(ConstraintKind::Unique),
        "23503" => FailureKind::Constraint(ConstraintKind::ForeignKey),
        "23502" => FailureKind::Constraint(ConstraintKind::NotNull),
        "23514" => FailureKind::Constraint(ConstraintKind::Check),
        "40001" => FailureKind::Conflict(ConflictKind::Serialization),
        "40P01" => FailureKind::Conflict(ConflictKind::Deadlock),
        "57014" => FailureKind::Canceled,
        "42P01" => missing_relation(message).map_or(FailureKind::Other, FailureKind::MissingTable),
        "42703" => quoted(message).map_or(FailureKind::Other, FailureKind::MissingColumn),
        // Class 08 (connection exception) and the server shutting connections down.
        _ if code.starts_with("08") => FailureKind::Connection,
        "57P01" | "57P02" | "57P03" => FailureKind::Connection,
        _ => FailureKind::Other,
    }
}

/// The name in the first double quotes of a message: `column "nickname" does not exist`, or
/// `column "nickname" of relation "users" does not exist`.
fn quoted(message: &str) -> Option<String> {
    let (_, rest) = message.split_once('"')?;
    let (name, _) = rest.split_once('"')?;
    let column = name.rsplit_once('.').map_or(name, |(_, column)| column);
    Some(column.to_owned())
}

/// The table named by `relation "users" does not exist` (without a schema prefix).
fn missing_relation(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("relation \"")?;
    let (name, _) = rest.split_once('"')?;
    let table = name.rsplit_once('.').map_or(name, |(_, table)| table);
    Some(table.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_sorted() {
        let kind = |code| kind_of(code, "");
        assert_eq!(
            kind("23505"),
            FailureKind::Constraint(ConstraintKind::Unique)
        );
        assert_eq!(
            kind("23503"),
            FailureKind::Constraint(ConstraintKind::ForeignKey)
        );
        assert_eq!(
            kind("23502"),
            FailureKind::Constraint(ConstraintKind::NotNull)
        );
        assert_eq!(
            kind("23514"),
            FailureKind::Constraint(ConstraintKind::Check)
        );
        assert_eq!(
            kind("40001"),
            FailureKind::Conflict(ConflictKind::Serialization)
        );
        assert_eq!(kind("40P01"), FailureKind::Conflict(ConflictKind::Deadlock));
        assert_eq!(kind("57014"), FailureKind::Canceled);
        assert_eq!(kind("08006"), FailureKind::Connection);
        assert_eq!(kind("57P01"), FailureKind::Connection);
        assert_eq!(kind("42601"), FailureKind::Other);
    }

    #[test]
    fn missing_tables_are_named() {
        assert_eq!(
            kind_of("42P01", "relation \"users\" does not exist"),
            FailureKind::MissingTable("users".into())
        );
        assert_eq!(
            kind_of("42P01", "relation \"app.users\" does not exist"),
            FailureKind::MissingTable("users".into())
        );
    }
}
