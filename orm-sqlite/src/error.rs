//! Sorting sqlx errors into the [`FailureKind`]s of the backend boundary, keeping SQLite's code
//! and the table and column its message names, with the driver's error as the source.

use orm_core::backend::{DbFailure, FailureKind};
use orm_core::{ConflictKind, ConstraintKind, DbDetails};
use sqlx::error::{DatabaseError, ErrorKind};

/// Sorts a sqlx error into a [`DbFailure`].
pub(crate) fn to_failure(err: sqlx::Error) -> DbFailure {
    let failure = match &err {
        sqlx::Error::Database(db) => database_failure(db.as_ref()),
        sqlx::Error::PoolClosed => DbFailure::new(FailureKind::PoolClosed, err.to_string()),
        sqlx::Error::PoolTimedOut => DbFailure::new(FailureKind::PoolTimeout, err.to_string()),
        sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => {
            DbFailure::new(FailureKind::Connection, err.to_string())
        }
        other => DbFailure::new(FailureKind::Other, other.to_string()),
    };
    failure.with_source(err)
}

/// Sorts an error reported by SQLite itself, keeping SQLite's message (without sqlx's
/// "(code: N)" prefix) and its extended result code.
fn database_failure(db: &dyn DatabaseError) -> DbFailure {
    let message = db.message().to_owned();
    let code = db.code().map(|code| code.into_owned());
    let kind = match constraint_kind(db) {
        Some(kind) => FailureKind::Constraint(kind),
        None if code.as_deref().is_some_and(is_busy) => FailureKind::Conflict(ConflictKind::Busy),
        None => match (missing_table(&message), missing_column(&message)) {
            (Some(table), _) => FailureKind::MissingTable(table),
            (None, Some(column)) => FailureKind::MissingColumn(column),
            (None, None) => FailureKind::Other,
        },
    };
    let (table, column) = constraint_target(&message).unzip();
    let details = DbDetails::default().code(code).table(table).column(column);
    DbFailure::new(kind, message).with_details(details)
}

/// Whether an extended result code is `SQLITE_BUSY` (5) or `SQLITE_LOCKED` (6): another
/// connection held a lock past the busy timeout.
fn is_busy(code: &str) -> bool {
    code.parse::<i64>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
}

/// The table and column of "UNIQUE constraint failed: users.name" (the first, for a
/// constraint over several columns).
pub(crate) fn constraint_target(message: &str) -> Option<(String, String)> {
    let (_, target) = message.split_once("constraint failed: ")?;
    let first = target.split([',', ' ']).next()?;
    let (table, column) = first.split_once('.')?;
    Some((table.to_owned(), column.to_owned()))
}

/// The kind of a violated constraint, from SQLite's extended result code (which sqlx turns
/// into an [`ErrorKind`]), falling back on SQLite's message for the rare paths that report
/// only the primary `SQLITE_CONSTRAINT` code.
fn constraint_kind(db: &dyn DatabaseError) -> Option<ConstraintKind> {
    match db.kind() {
        ErrorKind::UniqueViolation => Some(ConstraintKind::Unique),
        ErrorKind::ForeignKeyViolation => Some(ConstraintKind::ForeignKey),
        ErrorKind::NotNullViolation => Some(ConstraintKind::NotNull),
        ErrorKind::CheckViolation => Some(ConstraintKind::Check),
        _ => constraint_kind_from_message(db.message()),
    }
}

/// Reads the constraint kind from messages such as "UNIQUE constraint failed: users.name".
pub(crate) fn constraint_kind_from_message(message: &str) -> Option<ConstraintKind> {
    let prefixes = [
        ("UNIQUE constraint failed", ConstraintKind::Unique),
        ("PRIMARY KEY constraint failed", ConstraintKind::Unique),
        ("FOREIGN KEY constraint failed", ConstraintKind::ForeignKey),
        ("NOT NULL constraint failed", ConstraintKind::NotNull),
        ("CHECK constraint failed", ConstraintKind::Check),
    ];
    prefixes
        .iter()
        .find(|(prefix, _)| message.starts_with(prefix))
        .map(|&(_, kind)| kind)
}

/// The column named by "no such column: nickname" (a read) or "table users has no column
/// named nickname" (a write), without a table prefix.
pub(crate) fn missing_column(message: &str) -> Option<String> {
    let name = match message.strip_prefix("no such column: ") {
        Some(rest) => rest,
        None => message.split_once(" has no column named ")?.1,
    };
    let name = name.split_whitespace().next()?;
    let column = name.rsplit_once('.').map_or(name, |(_, column)| column);
    Some(column.trim_matches('`').to_owned())
}

/// The table named by "no such table: main.users", without a schema prefix.
pub(crate) fn missing_table(message: &str) -> Option<String> {
    let rest = message.strip_prefix("no such table: ")?;
    let name = rest.split_whitespace().next()?;
    let table = name.rsplit_once('.').map_or(name, |(_, table)| table);
    Some(table.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_table_strips_schema() {
        assert_eq!(
            missing_table("no such table: users").as_deref(),
            Some("users")
        );
        assert_eq!(
            missing_table("no such table: main.users").as_deref(),
            Some("users")
        );
        assert_eq!(missing_table("no such column: x"), None);
    }

    #[test]
    fn constraint_messages_are_sorted() {
        let sort = constraint_kind_from_message;
        assert_eq!(
            sort("UNIQUE constraint failed: t.a"),
            Some(ConstraintKind::Unique)
        );
        assert_eq!(
            sort("FOREIGN KEY constraint failed"),
            Some(ConstraintKind::ForeignKey)
        );
        assert_eq!(
            sort("NOT NULL constraint failed: t.a"),
            Some(ConstraintKind::NotNull)
        );
        assert_eq!(
            sort("CHECK constraint failed: a > 0"),
            Some(ConstraintKind::Check)
        );
        assert_eq!(sort("database is locked"), None);
    }

    #[test]
    fn missing_columns_are_named() {
        assert_eq!(
            missing_column("no such column: nickname").as_deref(),
            Some("nickname")
        );
        assert_eq!(
            missing_column("table users has no column named nickname").as_deref(),
            Some("nickname")
        );
        assert_eq!(missing_column("no such table: users"), None);
    }

    #[test]
    fn constraint_targets_are_read() {
        assert_eq!(
            constraint_target("UNIQUE constraint failed: users.name, users.email"),
            Some(("users".to_owned(), "name".to_owned()))
        );
        assert_eq!(constraint_target("FOREIGN KEY constraint failed"), None);
    }

    #[test]
    fn busy_and_locked_codes_are_conflicts() {
        assert!(is_busy("5"));
        assert!(is_busy("517")); // SQLITE_BUSY_SNAPSHOT
        assert!(is_busy("262")); // SQLITE_LOCKED_SHAREDCACHE
        assert!(!is_busy("2067")); // SQLITE_CONSTRAINT_UNIQUE
    }

    #[test]
    fn pool_errors_are_sorted() {
        assert_eq!(
            to_failure(sqlx::Error::PoolClosed).kind,
            FailureKind::PoolClosed
        );
        assert_eq!(
            to_failure(sqlx::Error::PoolTimedOut).kind,
            FailureKind::PoolTimeout
        );
        assert_eq!(
            to_failure(sqlx::Error::RowNotFound).kind,
            FailureKind::Other
        );
    }
}
