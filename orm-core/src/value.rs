//! Values as they cross the boundary between Rust fields and SQL, and the trait through which a
//! Rust type maps to a column.

use std::fmt;
use std::hash::{Hash, Hasher};

/// The SQL type of a column, chosen from the Rust type of its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
// Deliberately exhaustive, like `Value`: a new storage class must be named by every dialect,
// and the compiler should say where.
pub enum SqlType {
    /// A 64-bit (or smaller) integer.
    Integer,
    /// A double-precision float.
    Real,
    /// UTF-8 text.
    Text,
    /// Raw bytes.
    Blob,
    /// A boolean (an integer 0/1 on SQLite).
    Boolean,
    /// A UUID (`UUID` on PostgreSQL, 16 bytes on SQLite).
    Uuid,
    /// A calendar date (`DATE`; fixed-width text on SQLite).
    Date,
    /// A time of day (`TIME`; fixed-width text on SQLite).
    Time,
    /// A date and time without a zone (`TIMESTAMP`; fixed-width text on SQLite).
    Timestamp,
    /// An instant, stored in UTC (`TIMESTAMPTZ`; fixed-width UTC text on SQLite).
    TimestampTz,
    /// A JSON document (`JSONB` on PostgreSQL, text on SQLite).
    Json,
    /// An exact decimal (`NUMERIC` on PostgreSQL; on SQLite, text whose order is numeric order,
    /// see [`decimal`](crate::decimal)).
    Decimal,
}

/// One SQL value. Parameters are always bound as `Value`s, never spliced into SQL text.
#[derive(Debug, Clone, PartialEq)]
// Deliberately not `#[non_exhaustive]`: every backend binds and decodes each variant, and a
// new variant must be a compile error there, not a wildcard arm that mishandles it.
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Integer(i64),
    /// A float.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
    /// A boolean.
    Bool(bool),
    /// A UUID, its 16 bytes in order.
    Uuid([u8; 16]),
    /// A calendar date: days since 1970-01-01 (proleptic Gregorian calendar).
    Date(i32),
    /// A time of day: nanoseconds since midnight.
    Time(u64),
    /// A date and time without a zone: nanoseconds since 1970-01-01 00:00:00.
    Timestamp(Nanos),
    /// An instant: nanoseconds since 1970-01-01 00:00:00 UTC.
    TimestampTz(Nanos),
    /// A JSON document, as its text. Empty text is the mark of a value that did not serialize:
    /// every backend refuses to store it.
    Json(String),
    /// An exact decimal, as plain text (`-123.4500`: the scale is kept).
    Decimal(String),
    /// A list of values of one SQL type (`NULL`s allowed), bound as one array parameter where
    /// the database has arrays (PostgreSQL: `= ANY($1)`, `UNNEST`). The SQL renderer makes lists
    /// only for dialects that bind them; no column ever holds one.
    List(SqlType, Vec<Value>),
}

impl Value {
    /// Whether this is SQL `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The SQL type this value is of, if it has one of its own (`NULL` and lists have not).
    pub fn sql_type(&self) -> Option<SqlType> {
        Some(match self {
            Value::Integer(_) => SqlType::Integer,
            Value::Real(_) => SqlType::Real,
            Value::Text(_) => SqlType::Text,
            Value::Blob(_) => SqlType::Blob,
            Value::Bool(_) => SqlType::Boolean,
            Value::Uuid(_) => SqlType::Uuid,
            Value::Date(_) => SqlType::Date,
            Value::Time(_) => SqlType::Time,
            Value::Timestamp(_) => SqlType::Timestamp,
            Value::TimestampTz(_) => SqlType::TimestampTz,
            Value::Json(_) => SqlType::Json,
            Value::Decimal(_) => SqlType::Decimal,
            Value::Null | Value::List(..) => return None,
        })
    }

    /// Whether a value read from the database can be a column of type `ty`: its own kind, or
    /// the storage a database without that type uses (text for dates and times, bytes for
    /// UUIDs, integers for booleans).
    pub fn fits(&self, ty: SqlType) -> bool {
        matches!(
            (self, ty),
            (
                Value::Integer(_),
                SqlType::Integer | SqlType::Real | SqlType::Boolean
            ) | (Value::Bool(_), SqlType::Integer | SqlType::Boolean)
                | (Value::Real(_), SqlType::Real)
                | (Value::Text(_), SqlType::Text)
                | (Value::Blob(_), SqlType::Blob | SqlType::Uuid)
                | (Value::Uuid(_), SqlType::Uuid)
                | (
                    Value::Text(_),
                    SqlType::Date
                        | SqlType::Time
                        | SqlType::Timestamp
                        | SqlType::TimestampTz
                        | SqlType::Uuid
                )
                | (Value::Date(_), SqlType::Date)
                | (Value::Time(_), SqlType::Time)
                | (Value::Timestamp(_), SqlType::Timestamp)
                | (Value::TimestampTz(_), SqlType::TimestampTz)
                | (Value::Json(_) | Value::Text(_), SqlType::Json)
                | (
                    Value::Decimal(_) | Value::Text(_) | Value::Integer(_),
                    SqlType::Decimal
                )
        )
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Integer(_) => "an integer",
            Value::Real(_) => "a float",
            Value::Text(_) => "text",
            Value::Blob(_) => "bytes",
            Value::Bool(_) => "a boolean",
            Value::Uuid(_) => "a UUID",
            Value::Date(_) => "a date",
            Value::Time(_) => "a time of day",
            Value::Timestamp(_) => "a timestamp",
            Value::TimestampTz(_) => "a timestamp with a zone",
            Value::Json(_) => "a JSON document",
            Value::Decimal(_) => "a decimal",
            Value::List(..) => "a list",
        }
    }
}

// Keys (primary and foreign) are compared and hashed in the identity map. Floats hash by their
// bits so that `Value` can be a map key; a float primary key is unusual but must not panic.
impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Value::Null => {}
            Value::Integer(i) => i.hash(state),
            Value::Real(f) => f.to_bits().hash(state),
            Value::Text(s) => s.hash(state),
            Value::Blob(b) => b.hash(state),
            Value::Bool(b) => b.hash(state),
            Value::Uuid(b) => b.hash(state),
            Value::Date(d) => d.hash(state),
            Value::Time(t) => t.hash(state),
            Value::Timestamp(t) | Value::TimestampTz(t) => t.hash(state),
            Value::Json(text) | Value::Decimal(text) => text.hash(state),
            Value::List(ty, items) => {
                ty.hash(state);
                items.hash(state);
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Real(r) => write!(f, "{r}"),
            Value::Text(s) => write!(f, "{s:?}"),
            Value::Blob(b) => write!(f, "<{} bytes>", b.len()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Uuid(b) => {
                for (i, byte) in b.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        f.write_str("-")?;
                    }
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
            Value::Date(d) => match crate::temporal::format_date(i64::from(*d)) {
                Ok(text) => f.write_str(&text),
                Err(_) => write!(f, "<day {d}>"),
            },
            Value::Time(t) => match crate::temporal::format_time(*t) {
                Ok(text) => f.write_str(&text),
                Err(_) => write!(f, "<{t} ns>"),
            },
            Value::Timestamp(t) => match crate::temporal::format_timestamp(t.get()) {
                Ok(text) => f.write_str(&text),
                Err(_) => write!(f, "<{} ns>", t.get()),
            },
            Value::TimestampTz(t) => match crate::temporal::format_instant(t.get()) {
                Ok(text) => f.write_str(&text),
                Err(_) => write!(f, "<{} ns UTC>", t.get()),
            },
            Value::Json(text) | Value::Decimal(text) => f.write_str(text),
            Value::List(_, items) => write!(f, "<list of {}>", items.len()),
        }
    }
}

/// Any serializable `T` stored as one JSON document (`JSONB` on PostgreSQL, text on SQLite),
/// with the `serde_json` feature.
///
/// ```text
/// #[derive(Serialize, Deserialize)]
/// struct Settings { theme: String, beta: bool }
/// // a model field:
/// pub settings: Json<Settings>,
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Json<T>(pub T);

/// A number of nanoseconds as wide as `i128`, kept in two 64-bit halves so that [`Value`]
/// stays 8-byte aligned (an `i128` field would make every `Value`, and everything that holds
/// one, 16-byte aligned: measurably more memory per loaded object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nanos {
    high: i64,
    low: u64,
}

impl Nanos {
    /// `n` nanoseconds.
    pub const fn new(n: i128) -> Self {
        Nanos {
            high: (n >> 64) as i64,
            low: n as u64,
        }
    }

    /// The number of nanoseconds.
    pub const fn get(self) -> i128 {
        ((self.high as i128) << 64) | self.low as i128
    }
}

impl From<i128> for Nanos {
    fn from(n: i128) -> Self {
        Nanos::new(n)
    }
}

/// A value read from the database did not fit the Rust type of its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, found {found}")]
pub struct ValueError {
    /// What the Rust type accepts.
    pub expected: &'static str,
    /// What the database returned.
    pub found: String,
}

impl ValueError {
    /// A mismatch between the expected Rust type and the value found.
    pub fn mismatch(expected: &'static str, found: &Value) -> Self {
        ValueError {
            expected,
            found: found.kind_name().to_owned(),
        }
    }
}

/// A Rust type that can be stored in one column.
///
/// Implemented for the integers, `f32`/`f64`, `bool`, `String`, `Vec<u8>` and `Option<T>` of
/// these. Derive it for a newtype (`#[derive(SqlValue)] struct UserId(i64);`) or a field-less
/// enum (stored as text, or as its integer `#[repr]`), or implement it by hand for any other
/// mapping; see the "Models and columns" chapter of the guide.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in a column",
    label = "unsupported column type",
    note = "supported: integers, f32, f64, bool, String, Vec<u8>, Option<T> of these, \
            or any type that implements `orm_core::SqlValue`",
    note = "a newtype or a field-less enum of yours becomes a column type with \
            `#[derive(SqlValue)]`",
    note = "with a feature of orm-core: `chrono` (NaiveDate, NaiveTime, NaiveDateTime, \
            DateTime<Utc>), `time` (Date, Time, PrimitiveDateTime, OffsetDateTime), `uuid` \
            (Uuid), `serde_json` (serde_json::Value, orm_core::Json<T>), `rust_decimal` (Decimal)",
    note = "a relationship field must be HasMany<T>, HasOne<T>, BelongsTo<T> or ManyToMany<T>"
)]
pub trait SqlValue: Sized {
    /// The column's SQL type.
    const SQL_TYPE: SqlType;
    /// Whether the column accepts NULL; true exactly for `Option<T>`.
    const NULLABLE: bool = false;
    /// Converts to a SQL value.
    fn to_value(&self) -> Value;
    /// Converts from a SQL value read from the database.
    fn from_value(value: Value) -> Result<Self, ValueError>;
}

macro_rules! integer_sql_value {
    ($($t:ty),*) => {$(
        impl SqlValue for $t {
            const SQL_TYPE: SqlType = SqlType::Integer;
            fn to_value(&self) -> Value {
                Value::Integer(i64::from(*self))
            }
            fn from_value(value: Value) -> Result<Self, ValueError> {
                match value {
                    Value::Integer(i) => <$t>::try_from(i)
                        .map_err(|_| ValueError { expected: stringify!($t), found: format!("out-of-range integer {i}") }),
                    Value::Bool(b) => Ok(<$t>::from(b)),
                    other => Err(ValueError::mismatch(stringify!($t), &other)),
                }
            }
        }
    )*};
}
integer_sql_value!(i8, i16, i32, i64, u8, u16, u32);

impl SqlValue for f64 {
    const SQL_TYPE: SqlType = SqlType::Real;
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Real(r) => Ok(r),
            // SQLite stores whole-number REALs compactly and may hand them back as integers.
            Value::Integer(i) => Ok(i as f64),
            other => Err(ValueError::mismatch("f64", &other)),
        }
    }
}

impl SqlValue for f32 {
    const SQL_TYPE: SqlType = SqlType::Real;
    fn to_value(&self) -> Value {
        Value::Real(f64::from(*self))
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        // Every f32 widens exactly to the f64 it is stored as; a stored value that does not
        // narrow back exactly (written by someone else, or out of range) is refused, never
        // rounded. NaN and the infinities narrow exactly.
        let wide = f64::from_value(value)?;
        let narrow = wide as f32;
        if f64::from(narrow) == wide || wide.is_nan() {
            return Ok(narrow);
        }
        Err(ValueError {
            expected: "f32",
            found: format!("{wide}, which an f32 cannot hold exactly"),
        })
    }
}

impl SqlValue for bool {
    const SQL_TYPE: SqlType = SqlType::Boolean;
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Bool(b) => Ok(b),
            Value::Integer(0) => Ok(false),
            Value::Integer(1) => Ok(true),
            other => Err(ValueError::mismatch("bool", &other)),
        }
    }
}

impl SqlValue for String {
    const SQL_TYPE: SqlType = SqlType::Text;
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Text(s) => Ok(s),
            other => Err(ValueError::mismatch("String", &other)),
        }
    }
}

impl SqlValue for Vec<u8> {
    const SQL_TYPE: SqlType = SqlType::Blob;
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Blob(b) => Ok(b),
            other => Err(ValueError::mismatch("Vec<u8>", &other)),
        }
    }
}

impl<T: SqlValue> SqlValue for Option<T> {
    const SQL_TYPE: SqlType = T::SQL_TYPE;
    const NULLABLE: bool = true;
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_is_nullable_and_round_trips() {
        const { assert!(<Option<i64> as SqlValue>::NULLABLE) };
        const { assert!(!<i64 as SqlValue>::NULLABLE) };
        assert_eq!(Option::<i64>::from_value(Value::Null), Ok(None));
        assert_eq!(Some(3i64).to_value(), Value::Integer(3));
    }

    #[test]
    fn nanos_keep_every_i128_and_its_order() {
        let values = [
            i128::MIN,
            -(1 << 70),
            -1,
            0,
            1,
            u64::MAX as i128,
            1 << 100,
            i128::MAX,
        ];
        for n in values {
            assert_eq!(Nanos::new(n).get(), n);
        }
        assert!(values
            .windows(2)
            .all(|w| Nanos::new(w[0]) < Nanos::new(w[1])));
        assert_eq!(std::mem::align_of::<Value>(), 8);
    }

    #[test]
    fn f32_reads_are_exact_or_refused() {
        for exact in [1.5f32, f32::MIN, f32::MAX, f32::INFINITY, -0.0, 0.1] {
            assert_eq!(f32::from_value(exact.to_value()), Ok(exact));
        }
        assert!(f32::from_value(Value::Real(f32::NAN.into())).is_ok_and(f32::is_nan));
        assert!(
            f32::from_value(Value::Real(0.1)).is_err(),
            "0.1f64 is no f32"
        );
        assert!(f32::from_value(Value::Real(1e300)).is_err(), "out of range");
        assert_eq!(f32::from_value(Value::Integer(3)), Ok(3.0));
    }

    #[test]
    fn mismatches_are_errors_not_panics() {
        let err = i32::from_value(Value::Integer(i64::MAX)).unwrap_err();
        assert!(err.found.contains("out-of-range"));
        assert!(String::from_value(Value::Integer(1)).is_err());
        assert_eq!(bool::from_value(Value::Integer(1)), Ok(true));
    }
}
