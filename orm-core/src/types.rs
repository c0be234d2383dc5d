//! Column types from other crates, each behind the cargo feature named after its crate:
//! `chrono` (`NaiveDate`, `NaiveTime`, `NaiveDateTime`, `DateTime<Utc>`), `time` (`Date`, `Time`,
//! `PrimitiveDateTime`, `OffsetDateTime`), `uuid` (`Uuid`) and `serde_json` (`serde_json::Value`,
//! and [`Json<T>`](crate::Json) for any serializable `T`) and `rust_decimal` (`Decimal`).
//! They convert to the ORM's own representation ([`Value::Date`] and friends, whole numbers of
//! days or nanoseconds, and [`Value::Uuid`]); the backends bind those natively (PostgreSQL) or
//! as fixed-width text and 16-byte blobs (SQLite), so enabling a feature here is all a user does.

#[allow(unused_imports)]
use crate::temporal::{self, NANOS_PER_SECOND};
#[allow(unused_imports)]
use crate::value::{SqlType, SqlValue, Value, ValueError};

/// A value that names no valid instance of `expected`.
#[allow(dead_code)]
fn invalid(expected: &'static str, why: impl std::fmt::Display) -> ValueError {
    ValueError {
        expected,
        found: why.to_string(),
    }
}

#[cfg(feature = "chrono")]
mod chrono_types {
    use super::*;
    use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

    /// 0001-01-01 is day 1 of the common era; 1970-01-01 is day 719,163.
    const UNIX_EPOCH_FROM_CE: i32 = 719_163;

    fn date_from_days(days: i64) -> Result<NaiveDate, ValueError> {
        i32::try_from(days)
            .ok()
            .and_then(|d| d.checked_add(UNIX_EPOCH_FROM_CE))
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .ok_or_else(|| invalid("NaiveDate", format!("day {days}, outside chrono's range")))
    }

    fn time_from_nanos(nanos: u64) -> Result<NaiveTime, ValueError> {
        let (secs, frac) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
        u32::try_from(secs)
            .ok()
            .and_then(|secs| NaiveTime::from_num_seconds_from_midnight_opt(secs, frac as u32))
            .ok_or_else(|| invalid("NaiveTime", format!("{nanos} ns, not a time of day")))
    }

    fn instant_from_nanos(
        expected: &'static str,
        nanos: i128,
    ) -> Result<DateTime<Utc>, ValueError> {
        let secs = nanos.div_euclid(NANOS_PER_SECOND);
        let frac = nanos.rem_euclid(NANOS_PER_SECOND) as u32;
        i64::try_from(secs)
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, frac))
            .ok_or_else(|| invalid(expected, format!("{nanos} ns, outside chrono's range")))
    }

    fn nanos_of(at: &DateTime<Utc>) -> i128 {
        i128::from(at.timestamp()) * NANOS_PER_SECOND + i128::from(at.timestamp_subsec_nanos())
    }

    impl SqlValue for NaiveDate {
        const SQL_TYPE: SqlType = SqlType::Date;
        fn to_value(&self) -> Value {
            Value::Date(self.num_days_from_ce() - UNIX_EPOCH_FROM_CE)
        }
        fn from_value(value: Value) -> Result<Self, ValueError> {
            match value {
                Value::Date(days) => date_from_days(i64::from(days)),
                Value::Text(text) => temporal::parse_date(&text)
                    .map_err(|e| invalid("NaiveDate", e.0))
                    .and_then(date_from_days),
                other => Err(ValueError::mismatch("NaiveDate", &other)),
            }
        }
    }

    impl SqlValue for NaiveTime {
        const SQL_TYPE: SqlType = SqlType::Time;
        fn to_value(&self) -> Value {
            // A leap second (nanosecond >= 1e9) counts into the next second.
            let nanos = u64::from(self.num_seconds_from_midnight()) * 1_000_000_000
                + u64::from(self.nanosecond());
            Value::Time(nanos)
        }
        fn from_value(value: Value) -> Result<Self, ValueError> {
            match value {
                Value::Time(nanos) => time_from_nanos(nanos),
                Value::Text(text) => temporal::parse_time(&text)
                    .map_err(|e| invalid("NaiveTime", e.0))
                    .and_then(time_from_nanos),
                other => Err(ValueError::mismatch("NaiveTime", &other)),
            }
        }
    }

    impl SqlValue for NaiveDateTime {
        const SQL_TYPE: SqlType = SqlType::Timestamp;
        fn to_value(&self) -> Value {
            Value::Timestamp(nanos_of(&self.and_utc()).into())
        }
        fn from_value(value: Value) -> Result<Self, ValueError> {
            let nanos = match value {
                Value::Timestamp(nanos) => nanos.get(),
                Value::Text(text) => {
                    temporal::parse_timestamp(&text).map_err(|e| invalid("NaiveDateTime", e.0))?
                }
                other => return Err(ValueError::mismatch("NaiveDateTime", &other)),
            };
            instant_from_nanos("NaiveDateTime", nanos).map(|at| at.naive_utc())
        }
    }

    impl SqlValue for DateTime<Utc> {
        const SQL_TYPE: SqlType = SqlType::TimestampTz;
        fn to_value(&self) -> Value {
            Value::TimestampTz(nanos_of(self).into())
        }
        fn from_value(value: Value) -> Result<Self, ValueError> {
            let nanos = match value {
                Value::TimestampTz(nanos) => nanos.get(),
                Value::Text(text) => {
                    temporal::parse_instant(&text).map_err(|e| invalid("DateTime<Utc>", e.0))?
                }
                other => return Err(ValueError::mismatch("DateTime<Utc>", &other)),
            };
            instant_from_nanos("DateTime<Utc>", nanos)
        }
    }
}

#[cfg(feature = "uuid")]
mod uuid_types {
    use super::*;
    use uuid::Uuid;

    impl SqlValue for Uuid {
        const SQL_TYPE: SqlType = SqlType::Uuid;
        fn to_value(&self) -> Value {
            Value::Uuid(*self.as_bytes())
        }
        fn from_value(value: Value) -> Result<Self, ValueError> {
            match value {
                Value::Uuid(bytes) => Ok(Uuid::from_bytes(bytes)),
                Value::Blob(bytes) => Uuid::from_slice(&bytes)
                    .map_err(|_| invalid("Uuid", format!("{} bytes, not 16", bytes.len()))),
                Value::Text(text) => {
                    Uuid::parse_str(&text).map_err(|e| invalid("Uuid", format!("{text:?}: {e}")))
                }
                other => Err(ValueError::mismatch("Uuid", &other)),
            }
        }
    }
}

#[cfg(feature = "time")]
mod time_types {
    use super::*;
    use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

    /// The Julian day number of 1970-01-01.
    const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

    fn date_from_days(days: i64) -> Result<Date, ValueError> {
        i32::try_from(days)
            .ok()
            .and_then(|d| d.checked_add(UNIX_EPOCH_JULIAN_DAY))
            .and_then(|julian| Date::from_julian_day(julian).ok())
            .ok_or_else(|| invalid("time::Date", format!("day {days}, outside time's range")))
    }

    fn time_from_nanos(nanos: u64) -> Result<Time, ValueError> {
        let secs = nanos / 1_000_000_000;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        u8::try_from(h)
            .ok()
            .and_then(|h| {
                Time::from_hms_nano(h, m as u8, s as u8, (nanos % 1_000_000_000) as u32).ok()
            })
            .ok_or_else(|| invalid("time::Time", format!("{nanos} ns, not a time of day")))
    }

    fn instant_from_nanos(
        expected: &'static str,
        nanos: i128,
    ) -> Result<OffsetDateTime, ValueError> {
        OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map_err(|_| invalid(expected, format!("{nanos} ns, outside time's range")))
    }

    fn nanos_of_time(t: Time) -> u64 {
        let (h, m, s, n) = t.as_hms_nano();
        (u64::from(h) * 3600 + u64::from(m) * 60 + u64::from(s)) * 1_000_000_000 + u64::from(n)
    }

    impl SqlValue for Date {
        const SQL_TYPE: SqlType = SqlType::Date;
        fn to_value(&self) -> Value {
            Value::Date(self.to_julian_day() - UNIX_EPOCH_JULIAN_DAY)
        }
        fn from_value(value: Value) -> Result<Self, ValueError> {
            match value {
                Value::Date(days) => date_from_days(i64::from(days)),
                Value::Text(text) => temporal::parse_date(&text)
                    .map_err(|e| invalid("time::Date", e.0))
                    .and_then(date_from_days),
                other => Err(ValueError::mismatch("time::Date", &other)),
            }
        }
    }

    impl SqlValue for Time {
        const SQL_TYPE: SqlType = SqlType::Time;
        fn to_value(&self) -> Value {
            Value::Time(nanos_of_time(*self))
        }
        fn from_value(value: Value) -> Result<Self, ValueError> {
            match value {
                Value::Time(nanos) => time_from_nanos(nanos),
                Value::Text(text) => temporal::parse_time(&text)
                    .map_err(|e| invalid("time::Time", e.0))
                    .and_then(time_from_nanos),
                other => Err(ValueError::mismatch("time::Time", &other)),
            }
        }
    }

    impl SqlValue for PrimitiveDateTime {
        const SQL_TYPE: SqlType = SqlType::Timestamp;
        fn to_value(&self) -> Value {
            Value::Timestamp(self.assume_utc().unix_timestamp_nanos().into())
        }
        fn from_value(value: Value) -> Result<Self, ValueError> {
            let nanos = match value {
                Value::Timestamp(nanos) => nanos.get(),
                Value::Text(text) => temporal::parse_timestamp(&text)
                    .map_err(|e| invalid("PrimitiveDateTime", e.0))?,
                other => return Err(ValueError::mismatch("PrimitiveDateTime", &other)),
            };
            let at = instant_from_nanos("PrimitiveDateTime", nanos)?;
            Ok(PrimitiveDateTime::new(at.date(), at.time()))
        }
    }

    /// Stored as the instant in UTC; read back with the UTC offset (the instant is the same,
    /// the offset it was written with is not kept).
    impl SqlValue for OffsetDateTime {
        const SQL_TYPE: SqlType = SqlType::TimestampTz;
        fn to_value(&self) -> Value {
            Value::TimestampTz(self.unix_timestamp_nanos().into())
        }
        fn from_value(value: Value) -> Result<Self, ValueError> {
            let nanos = match value {
                Value::TimestampTz(nanos) => nanos.get(),
                Value::Text(text) => {
                    temporal::parse_instant(&text).map_err(|e| invalid("OffsetDateTime", e.0))?
                }
                other => return Err(ValueError::mismatch("OffsetDateTime", &other)),
            };
            instant_from_nanos("OffsetDateTime", nanos).map(|at| at.to_offset(UtcOffset::UTC))
        }
    }
}

#[cfg(feature = "serde_json")]
mod json_types {
    use super::*;
    use crate::Json;
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    fn parse<T: DeserializeOwned>(expected: &'static str, value: Value) -> Result<T, ValueError> {
        match value {
            Value::Json(text) | Value::Text(text) => serde_json::from_str(&text)
                .map_err(|e| invalid(expected, format!("JSON that does not fit: {e}"))),
            other => Err(ValueError::mismatch(expected, &other)),
        }
    }

    impl SqlValue for serde_json::Value {
        const SQL_TYPE: SqlType = SqlType::Json;
        fn to_value(&self) -> Value {
            Value::Json(self.to_string())
        }
        fn from_value(value: Value) -> Result<Self, ValueError> {
            parse("serde_json::Value", value)
        }
    }

    impl<T: Serialize + DeserializeOwned> SqlValue for Json<T> {
        const SQL_TYPE: SqlType = SqlType::Json;
        fn to_value(&self) -> Value {
            // A value serde cannot serialize (a map with non-string keys, say) becomes the
            // empty text, which every backend refuses to store: never a silent substitute.
            Value::Json(serde_json::to_string(&self.0).unwrap_or_default())
        }
        fn from_value(value: Value) -> Result<Self, ValueError> {
            parse("Json<T>", value).map(Json)
        }
    }
}

#[cfg(feature = "rust_decimal")]
mod decimal_types {
    use super::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn parse(text: &str) -> Result<Decimal, ValueError> {
        Decimal::from_str_exact(text).map_err(|e| invalid("Decimal", format!("{text:?}: {e}")))
    }

    impl SqlValue for Decimal {
        const SQL_TYPE: SqlType = SqlType::Decimal;
        fn to_value(&self) -> Value {
            Value::Decimal(self.to_string())
        }
        fn from_value(value: Value) -> Result<Self, ValueError> {
            match value {
                Value::Decimal(text) => parse(&text),
                // SQLite: the sortable form this crate writes, or plain text written by others.
                Value::Text(text) => match crate::decimal::from_sortable(&text) {
                    Ok(plain) => parse(&plain),
                    Err(_) => Decimal::from_str(&text)
                        .map_err(|e| invalid("Decimal", format!("{text:?}: {e}"))),
                },
                Value::Integer(i) => Ok(Decimal::from(i)),
                other => Err(ValueError::mismatch("Decimal", &other)),
            }
        }
    }
}
