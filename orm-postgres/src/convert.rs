//! Binding [`Value`]s as parameters and decoding result columns into [`Value`]s.

use futures_util::stream::BoxStream;
use futures_util::TryStreamExt as _;
use orm_core::backend::{DbFailure, FailureKind, Row};
use orm_core::{SqlType, Value};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgRow, PgTypeInfo, PgValueRef, Postgres};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Decode, Encode, Row as _, Type, TypeInfo as _, ValueRef as _};

/// A query with its parameters bound.
pub(crate) type BoundQuery<'q> = Query<'q, Postgres, PgArguments>;

/// Prepares `sql` with `params` bound in order. The SQL was rendered by orm-core, which binds
/// every value as a parameter and never splices one into the text. `persistent` keeps the
/// prepared statement in the connection's cache.
pub(crate) fn bind_all<'q>(
    sql: &str,
    params: Vec<Value>,
    persistent: bool,
) -> Result<BoundQuery<'q>, DbFailure> {
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for value in params {
        query = bind(query, value)?;
    }
    Ok(query.persistent(persistent))
}

/// Binds one value with the PostgreSQL type of its variant; NULL is sent untyped, a list as
/// an array of its SQL type.
fn bind<'q>(query: BoundQuery<'q>, value: Value) -> Result<BoundQuery<'q>, DbFailure> {
    Ok(match value {
        Value::Null => query.bind(UntypedNull),
        Value::Integer(i) => query.bind(i),
        Value::Real(r) => query.bind(r),
        Value::Text(s) => query.bind(s),
        Value::Blob(b) => query.bind(b),
        Value::Bool(b) => query.bind(b),
        Value::Uuid(bytes) => query.bind(sqlx::types::Uuid::from_bytes(bytes)),
        Value::Date(days) => query.bind(temporal::date(days)?),
        Value::Time(nanos) => query.bind(temporal::time(nanos)?),
        Value::Timestamp(nanos) => query.bind(temporal::instant(nanos.get())?.naive_utc()),
        Value::TimestampTz(nanos) => query.bind(temporal::instant(nanos.get())?),
        Value::Json(document) => query.bind(json(document)?),
        Value::Decimal(plain) => query.bind(decimal(&plain)?),
        Value::List(ty, items) => bind_array(query, ty, items)?,
    })
}

/// A JSON document as sqlx's raw JSON, which it sends as `jsonb`; text that is not JSON (or
/// the empty mark of a value that did not serialize) is refused.
fn json(document: String) -> Result<Box<sqlx::types::JsonRawValue>, DbFailure> {
    sqlx::types::JsonRawValue::from_string(document).map_err(|e| {
        DbFailure::new(
            FailureKind::Other,
            format!("a value is not a JSON document ({e}); nothing was stored"),
        )
    })
}

/// A plain decimal as rust_decimal's `Decimal`, which sqlx sends as `numeric`.
fn decimal(plain: &str) -> Result<rust_decimal::Decimal, DbFailure> {
    rust_decimal::Decimal::from_str_exact(plain).map_err(|e| {
        DbFailure::new(
            FailureKind::Other,
            format!("{plain:?} is not a decimal: {e}"),
        )
    })
}

/// The ORM's dates and times as chrono values, which sqlx encodes. PostgreSQL keeps
/// microseconds: a value with a finer fraction is refused rather than rounded.
mod temporal {
    use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
    use orm_core::backend::{DbFailure, FailureKind};

    const UNIX_EPOCH_FROM_CE: i32 = 719_163;
    const NANOS: i128 = 1_000_000_000;

    fn refuse(why: String) -> DbFailure {
        DbFailure::new(FailureKind::Other, why)
    }

    fn whole_micros(nanos: i128) -> Result<(), DbFailure> {
        match nanos % 1_000 {
            0 => Ok(()),
            _ => Err(refuse(format!(
                "PostgreSQL keeps microseconds; a value with {} ns past the microsecond would \
                 be rounded: truncate it first (chrono: `.trunc_subsecs(6)`)",
                nanos.rem_euclid(1_000)
            ))),
        }
    }

    pub(super) fn date(days: i32) -> Result<NaiveDate, DbFailure> {
        days.checked_add(UNIX_EPOCH_FROM_CE)
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .ok_or_else(|| refuse(format!("day {days} is outside the supported dates")))
    }

    pub(super) fn time(nanos: u64) -> Result<NaiveTime, DbFailure> {
        whole_micros(i128::from(nanos))?;
        let (secs, frac) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
        u32::try_from(secs)
            .ok()
            .and_then(|s| NaiveTime::from_num_seconds_from_midnight_opt(s, frac as u32))
            .ok_or_else(|| refuse(format!("{nanos} ns is not a time of day")))
    }

    pub(super) fn instant(nanos: i128) -> Result<DateTime<Utc>, DbFailure> {
        whole_micros(nanos)?;
        let secs = nanos.div_euclid(NANOS);
        let frac = nanos.rem_euclid(NANOS) as u32;
        i64::try_from(secs)
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, frac))
            .ok_or_else(|| refuse(format!("{nanos} ns is outside the supported timestamps")))
    }

    pub(super) fn days_of(date: NaiveDate) -> i32 {
        chrono::Datelike::num_days_from_ce(&date) - UNIX_EPOCH_FROM_CE
    }

    pub(super) fn nanos_of_time(time: NaiveTime) -> u64 {
        use chrono::Timelike;
        u64::from(time.num_seconds_from_midnight()) * 1_000_000_000 + u64::from(time.nanosecond())
    }

    pub(super) fn nanos_of(at: DateTime<Utc>) -> i128 {
        i128::from(at.timestamp()) * NANOS + i128::from(at.timestamp_subsec_nanos())
    }
}

/// Binds `items` as one array (`bigint[]`, `text[]`, ...), NULL elements kept.
fn bind_array<'q>(
    query: BoundQuery<'q>,
    ty: SqlType,
    items: Vec<Value>,
) -> Result<BoundQuery<'q>, DbFailure> {
    fn elements<T>(
        items: Vec<Value>,
        each: impl Fn(Value) -> Option<T>,
    ) -> Result<Vec<Option<T>>, DbFailure> {
        items
            .into_iter()
            .map(|item| match item {
                Value::Null => Ok(None),
                other => {
                    let kind = format!("{other:?}");
                    each(other).map(Some).ok_or_else(|| {
                        DbFailure::new(
                            FailureKind::Other,
                            format!("a list element {kind} does not match the list's SQL type"),
                        )
                    })
                }
            })
            .collect()
    }
    Ok(match ty {
        SqlType::Integer => query.bind(elements(items, |v| match v {
            Value::Integer(i) => Some(i),
            Value::Bool(b) => Some(i64::from(b)),
            _ => None,
        })?),
        SqlType::Real => query.bind(elements(items, |v| match v {
            Value::Real(r) => Some(r),
            _ => None,
        })?),
        SqlType::Text => query.bind(elements(items, |v| match v {
            Value::Text(s) => Some(s),
            _ => None,
        })?),
        SqlType::Blob => query.bind(elements(items, |v| match v {
            Value::Blob(b) => Some(b),
            _ => None,
        })?),
        SqlType::Boolean => query.bind(elements(items, |v| match v {
            Value::Bool(b) => Some(b),
            _ => None,
        })?),
        SqlType::Uuid => query.bind(elements(items, |v| match v {
            Value::Uuid(b) => Some(sqlx::types::Uuid::from_bytes(b)),
            _ => None,
        })?),
        SqlType::Date => query.bind(elements(items, |v| match v {
            Value::Date(d) => temporal::date(d).ok(),
            _ => None,
        })?),
        SqlType::Time => query.bind(elements(items, |v| match v {
            Value::Time(t) => temporal::time(t).ok(),
            _ => None,
        })?),
        SqlType::Timestamp => query.bind(elements(items, |v| match v {
            Value::Timestamp(t) => temporal::instant(t.get()).ok().map(|at| at.naive_utc()),
            _ => None,
        })?),
        SqlType::TimestampTz => query.bind(elements(items, |v| match v {
            Value::TimestampTz(t) => temporal::instant(t.get()).ok(),
            _ => None,
        })?),
        SqlType::Decimal => query.bind(elements(items, |v| match v {
            Value::Decimal(plain) => decimal(&plain).ok(),
            _ => None,
        })?),
        SqlType::Json => query.bind(elements(items, |v| match v {
            Value::Json(document) => json(document).ok().map(sqlx::types::Json),
            _ => None,
        })?),
    })
}

/// A NULL parameter of unspecified type (OID 0): the server gives it the type its context
/// needs. A NULL sent as `BIGINT` would be refused by a `TEXT` column.
struct UntypedNull;

impl Type<Postgres> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(sqlx::postgres::types::Oid(0))
    }
}

impl Encode<'_, Postgres> for UntypedNull {
    fn encode_by_ref(&self, _buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Ok(IsNull::Yes)
    }
}

/// Decodes the rows of a result as they arrive: each raw row is dropped once converted, and
/// the column types are read once per result, not once per value.
pub(crate) async fn collect_rows(
    mut rows: BoxStream<'_, Result<PgRow, sqlx::Error>>,
) -> Result<Vec<Row>, DbFailure> {
    let mut out = Vec::new();
    let mut kinds: Vec<ColumnKind> = Vec::new();
    while let Some(row) = rows.try_next().await.map_err(crate::error::to_failure)? {
        if kinds.is_empty() {
            kinds = row
                .columns()
                .iter()
                .map(|column| ColumnKind::of(sqlx::Column::type_info(column).name()))
                .collect();
        }
        out.push(decode_row(&row, &kinds)?);
    }
    Ok(out)
}

/// Decodes every column of `row`, whose column kinds are `kinds`.
fn decode_row(row: &PgRow, kinds: &[ColumnKind]) -> Result<Row, DbFailure> {
    kinds
        .iter()
        .enumerate()
        .map(|(index, &kind)| decode_column(row, index, kind))
        .collect()
}

/// Decodes one column by its PostgreSQL type. Types outside the ORM's value set are an error
/// naming the type, never a lossy conversion.
fn decode_column(row: &PgRow, index: usize, kind: ColumnKind) -> Result<Value, DbFailure> {
    let raw = row.try_get_raw(index).map_err(crate::error::to_failure)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    match kind {
        ColumnKind::Int8 => decode::<i64>(raw, index).map(Value::Integer),
        ColumnKind::Int4 => decode::<i32>(raw, index).map(|i| Value::Integer(i.into())),
        ColumnKind::Int2 => decode::<i16>(raw, index).map(|i| Value::Integer(i.into())),
        ColumnKind::Float8 => decode::<f64>(raw, index).map(Value::Real),
        ColumnKind::Float4 => decode::<f32>(raw, index).map(|f| Value::Real(f.into())),
        ColumnKind::Text => decode::<String>(raw, index).map(Value::Text),
        ColumnKind::Bytea => decode::<Vec<u8>>(raw, index).map(Value::Blob),
        ColumnKind::Bool => decode::<bool>(raw, index).map(Value::Bool),
        ColumnKind::Uuid => {
            decode::<sqlx::types::Uuid>(raw, index).map(|u| Value::Uuid(*u.as_bytes()))
        }
        ColumnKind::Date => {
            decode::<chrono::NaiveDate>(raw, index).map(|d| Value::Date(temporal::days_of(d)))
        }
        ColumnKind::Time => {
            decode::<chrono::NaiveTime>(raw, index).map(|t| Value::Time(temporal::nanos_of_time(t)))
        }
        ColumnKind::Timestamp => decode::<chrono::NaiveDateTime>(raw, index)
            .map(|t| Value::Timestamp(temporal::nanos_of(t.and_utc()).into())),
        ColumnKind::TimestampTz => decode::<chrono::DateTime<chrono::Utc>>(raw, index)
            .map(|t| Value::TimestampTz(temporal::nanos_of(t).into())),
        ColumnKind::Numeric => {
            decode::<rust_decimal::Decimal>(raw, index).map(|d| Value::Decimal(d.to_string()))
        }
        ColumnKind::Json => decode::<Box<sqlx::types::JsonRawValue>>(raw, index)
            .map(|document| Value::Json(document.get().to_owned())),
        ColumnKind::Other => {
            let name = sqlx::Column::type_info(&row.columns()[index])
                .name()
                .to_owned();
            Err(decode_failure(
                index,
                &format!("the PostgreSQL type {name} has no ORM value; cast it in the query"),
            ))
        }
    }
}

/// The PostgreSQL types a column is decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnKind {
    Int8,
    Int4,
    Int2,
    Float8,
    Float4,
    Text,
    Bytea,
    Bool,
    Uuid,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Json,
    Numeric,
    Other,
}

impl ColumnKind {
    fn of(type_name: &str) -> ColumnKind {
        match type_name {
            "INT8" => ColumnKind::Int8,
            "INT4" => ColumnKind::Int4,
            "INT2" => ColumnKind::Int2,
            "FLOAT8" => ColumnKind::Float8,
            "FLOAT4" => ColumnKind::Float4,
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => ColumnKind::Text,
            "BYTEA" => ColumnKind::Bytea,
            "BOOL" => ColumnKind::Bool,
            "UUID" => ColumnKind::Uuid,
            "DATE" => ColumnKind::Date,
            "TIME" => ColumnKind::Time,
            "TIMESTAMP" => ColumnKind::Timestamp,
            "TIMESTAMPTZ" => ColumnKind::TimestampTz,
            "JSONB" | "JSON" => ColumnKind::Json,
            "NUMERIC" => ColumnKind::Numeric,
            _ => ColumnKind::Other,
        }
    }
}

fn decode<'r, T: Decode<'r, Postgres>>(raw: PgValueRef<'r>, index: usize) -> Result<T, DbFailure> {
    T::decode(raw).map_err(|err| decode_failure(index, &err.to_string()))
}

fn decode_failure(index: usize, why: &str) -> DbFailure {
    DbFailure::new(
        FailureKind::Other,
        format!("cannot decode result column {index}: {why}"),
    )
}
