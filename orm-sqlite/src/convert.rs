//! Binding [`Value`]s as parameters and decoding result columns into [`Value`]s.

use orm_core::backend::{DbFailure, FailureKind, Row};
use orm_core::Value;
use sqlx::query::Query;
use sqlx::sqlite::{Sqlite, SqliteArguments, SqliteRow, SqliteValueRef};
use sqlx::{Arguments as _, AssertSqlSafe, Decode, Row as _, TypeInfo as _, ValueRef as _};

/// A query with its parameters bound.
pub(crate) type BoundQuery<'q> = Query<'q, Sqlite, SqliteArguments>;

/// Prepares `sql` with `params` bound in order. The SQL was rendered by orm-core, which binds
/// every value as a parameter and never splices one into the text.
///
/// Values SQLite cannot hold as they are go through [`stored_form`] first. The arguments are
/// collected into one buffer sized up front (a multi-row INSERT binds up to 32,766 values).
pub(crate) fn bind_all<'q>(sql: &str, params: Vec<Value>) -> Result<BoundQuery<'q>, DbFailure> {
    let mut arguments = SqliteArguments::default();
    arguments.reserve(params.len(), 0);
    for value in params {
        add(&mut arguments, stored_form(value)?).map_err(|err| {
            DbFailure::new(
                FailureKind::Other,
                format!("cannot bind a parameter: {err}"),
            )
        })?;
    }
    Ok(sqlx::query_with(AssertSqlSafe(sql), arguments))
}

/// What SQLite stores for a value it has no type for: a UUID as its 16 bytes, dates and times
/// as fixed-width text whose order is time order (`orm_core::temporal`). A NaN is refused
/// (SQLite would store NULL), and so is a list (the SQLite dialect never renders one).
fn stored_form(value: Value) -> Result<Value, DbFailure> {
    let text = |formatted: Result<String, orm_core::temporal::TextFormError>| {
        formatted.map(Value::Text).map_err(|e| {
            DbFailure::new(
                FailureKind::Other,
                format!("cannot store on SQLite: {}", e.0),
            )
        })
    };
    let refuse = |why: &str| Err(DbFailure::new(FailureKind::Other, why));
    match value {
        Value::Real(r) if r.is_nan() => refuse(
            "SQLite cannot store NaN (it would store NULL instead); \
             store None in an Option<f64> field, or keep NaN out of the value",
        ),
        Value::List(..) => refuse("SQLite has no array parameters"),
        Value::Uuid(bytes) => Ok(Value::Blob(bytes.to_vec())),
        Value::Date(days) => text(orm_core::temporal::format_date(i64::from(days))),
        Value::Time(nanos) => text(orm_core::temporal::format_time(nanos)),
        Value::Timestamp(nanos) => text(orm_core::temporal::format_timestamp(nanos.get())),
        Value::TimestampTz(nanos) => text(orm_core::temporal::format_instant(nanos.get())),
        Value::Json(document) if document.is_empty() => Err(DbFailure::new(
            FailureKind::Other,
            "a value did not serialize to JSON (serde refused it); nothing was stored",
        )),
        Value::Json(document) => Ok(Value::Text(document)),
        Value::Decimal(plain) => orm_core::decimal::to_sortable(&plain)
            .map(Value::Text)
            .map_err(|e| {
                DbFailure::new(
                    FailureKind::Other,
                    format!("cannot store on SQLite: {}", e.0),
                )
            }),
        other => Ok(other),
    }
}

/// Adds one value to the arguments; a boolean is stored as the integer 0 or 1.
fn add(arguments: &mut SqliteArguments, value: Value) -> Result<(), sqlx::error::BoxDynError> {
    match value {
        Value::Null => arguments.add(None::<i64>),
        Value::Integer(i) => arguments.add(i),
        Value::Real(r) => arguments.add(r),
        Value::Text(s) => arguments.add(s),
        Value::Blob(b) => arguments.add(b),
        Value::Bool(b) => arguments.add(i64::from(b)),
        // Refused or converted by `stored_form` before binding.
        Value::List(..)
        | Value::Uuid(_)
        | Value::Date(_)
        | Value::Time(_)
        | Value::Timestamp(_)
        | Value::TimestampTz(_)
        | Value::Json(_)
        | Value::Decimal(_) => arguments.add(None::<i64>),
    }
}

/// Decodes every column of `row`.
pub(crate) fn decode_row(row: &SqliteRow) -> Result<Row, DbFailure> {
    (0..row.columns().len())
        .map(|index| decode_column(row, index))
        .collect()
}

/// Decodes one column by the storage class of its value (not its declared type): SQLite
/// columns are dynamically typed, so this is what the database really holds.
fn decode_column(row: &SqliteRow, index: usize) -> Result<Value, DbFailure> {
    let raw = row.try_get_raw(index).map_err(crate::error::to_failure)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    // The class is read into a tag first (no copy of its name per value), then the value.
    let class = match raw.type_info().name() {
        "INTEGER" => StorageClass::Integer,
        "REAL" => StorageClass::Real,
        "TEXT" => StorageClass::Text,
        "BLOB" => StorageClass::Blob,
        other => {
            return Err(decode_failure(
                index,
                &format!("unexpected storage class {other}"),
            ))
        }
    };
    match class {
        StorageClass::Integer => decode::<i64>(raw, index).map(Value::Integer),
        StorageClass::Real => decode::<f64>(raw, index).map(Value::Real),
        StorageClass::Text => decode::<String>(raw, index).map(Value::Text),
        StorageClass::Blob => decode::<Vec<u8>>(raw, index).map(Value::Blob),
    }
}

/// SQLite's storage classes of a non-NULL value.
#[derive(Clone, Copy)]
enum StorageClass {
    Integer,
    Real,
    Text,
    Blob,
}

fn decode<'r, T: Decode<'r, Sqlite>>(
    raw: SqliteValueRef<'r>,
    index: usize,
) -> Result<T, DbFailure> {
    T::decode(raw).map_err(|err| decode_failure(index, &err.to_string()))
}

fn decode_failure(index: usize, why: &str) -> DbFailure {
    DbFailure::new(
        FailureKind::Other,
        format!("cannot decode result column {index}: {why}"),
    )
}
