//! Binding [`Value`]s as parameters and decoding result columns into [`Value`]s.

use orm_core::backend::{DbFailure, FailureKind, Row};
use orm_core::Value;
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
pub(crate) fn bind_all<'q>(sql: &str, params: Vec<Value>, persistent: bool) -> BoundQuery<'q> {
    params
        .into_iter()
        .fold(sqlx::query(AssertSqlSafe(sql)), bind)
        .persistent(persistent)
}

/// Binds one value with the PostgreSQL type of its variant; NULL is sent untyped.
fn bind<'q>(query: BoundQuery<'q>, value: Value) -> BoundQuery<'q> {
    match value {
        Value::Null => query.bind(UntypedNull),
        Value::Integer(i) => query.bind(i),
        Value::Real(r) => query.bind(r),
        Value::Text(s) => query.bind(s),
        Value::Blob(b) => query.bind(b),
        Value::Bool(b) => query.bind(b),
    }
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

/// Decodes every column of `row`.
pub(crate) fn decode_row(row: &PgRow) -> Result<Row, DbFailure> {
    (0..row.columns().len())
        .map(|index| decode_column(row, index))
        .collect()
}

/// Decodes one column by its PostgreSQL type. Types outside the ORM's value set are an error
/// naming the type, never a lossy conversion.
fn decode_column(row: &PgRow, index: usize) -> Result<Value, DbFailure> {
    let raw = row.try_get_raw(index).map_err(crate::error::to_failure)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let type_info = raw.type_info().into_owned();
    match type_info.name() {
        "INT8" => decode::<i64>(raw, index).map(Value::Integer),
        "INT4" => decode::<i32>(raw, index).map(|i| Value::Integer(i.into())),
        "INT2" => decode::<i16>(raw, index).map(|i| Value::Integer(i.into())),
        "FLOAT8" => decode::<f64>(raw, index).map(Value::Real),
        "FLOAT4" => decode::<f32>(raw, index).map(|f| Value::Real(f.into())),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => decode::<String>(raw, index).map(Value::Text),
        "BYTEA" => decode::<Vec<u8>>(raw, index).map(Value::Blob),
        "BOOL" => decode::<bool>(raw, index).map(Value::Bool),
        other => Err(decode_failure(
            index,
            &format!("the PostgreSQL type {other} has no ORM value; cast it in the query"),
        )),
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
