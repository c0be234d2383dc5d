//! Sorting sqlx errors into the [`FailureKind`]s of the backend boundary.

use orm_core::backend::{DbFailure, FailureKind};
use orm_core::ConstraintKind;
use sqlx::error::{DatabaseError, ErrorKind};

/// Sorts a sqlx error into a [`DbFailure`].
pub(crate) fn to_failure(err: sqlx::Error) -> DbFailure {
    match err {
        sqlx::Error::Database(db) => database_failure(db.as_ref()),
        sqlx::Error::PoolClosed => failure(FailureKind::PoolClosed, err.to_string()),
        sqlx::Error::PoolTimedOut => failure(FailureKind::PoolTimeout, err.to_string()),
        other => failure(FailureKind::Other, other.to_string()),
    }
}

/// Sorts an error reported by SQLite itself, keeping SQLite's message (without sqlx's
/// "(code: N)" prefix).
fn database_failure(db: &dyn DatabaseError) -> DbFailure {
    let message = db.message().to_owned();
    let kind = match constraint_kind(db) {
        Some(kind) => FailureKind::Constraint(kind),
        None => missing_table(&message).map_or(FailureKind::Other, FailureKind::MissingTable),
    };
    failure(kind, message)
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

/// The table named by "no such table: main.users", without a schema prefix.
pub(crate) fn missing_table(message: &str) -> Option<String> {
    let rest = message.strip_prefix("no such table: ")?;
    let name = rest.split_whitespace().next()?;
    let table = name.rsplit_once('.').map_or(name, |(_, table)| table);
    Some(table.to_owned())
}

fn failure(kind: FailureKind, message: String) -> DbFailure {
    DbFailure::new(kind, message)
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
