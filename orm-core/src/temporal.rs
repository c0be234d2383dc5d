//! Dates and times as the ORM carries them ([`Value::Date`](crate::Value::Date) and friends:
//! whole numbers of days or nanoseconds) and as text where a database has no temporal type.
//!
//! The text forms are fixed-width (`YYYY-MM-DD`, `HH:MM:SS.nnnnnnnnn`,
//! `YYYY-MM-DD HH:MM:SS.nnnnnnnnn`, and the same with `+00:00` for instants), so that comparing
//! and ordering the text in SQL agrees with comparing the values. Years 0000 to 9999 have a
//! text form. The calendar is the proleptic Gregorian one; leap seconds are not represented.
//! Std only: the optional `chrono` and `uuid` support converts to and from these numbers.

/// Nanoseconds in a second.
pub const NANOS_PER_SECOND: i128 = 1_000_000_000;
/// Nanoseconds in a day.
pub const NANOS_PER_DAY: i128 = 86_400 * NANOS_PER_SECOND;

/// `(year, month, day)` of a day counted from 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The day counted from 1970-01-01 of a civil date, if it is one.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Why a value has no text form, or a text has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFormError(pub String);

/// `YYYY-MM-DD`.
pub fn format_date(days: i64) -> Result<String, TextFormError> {
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return Err(TextFormError(format!(
            "year {year} has no fixed-width text form (0000 to 9999)"
        )));
    }
    Ok(format!("{year:04}-{month:02}-{day:02}"))
}

/// `HH:MM:SS.nnnnnnnnn`.
pub fn format_time(nanos: u64) -> Result<String, TextFormError> {
    let nanos = i128::from(nanos);
    if nanos >= NANOS_PER_DAY {
        return Err(TextFormError(format!("{nanos} ns is not a time of day")));
    }
    let seconds = nanos / NANOS_PER_SECOND;
    let fraction = nanos % NANOS_PER_SECOND;
    Ok(format!(
        "{:02}:{:02}:{:02}.{fraction:09}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    ))
}

/// `YYYY-MM-DD HH:MM:SS.nnnnnnnnn` for nanoseconds since 1970-01-01 00:00:00.
pub fn format_timestamp(nanos: i128) -> Result<String, TextFormError> {
    let days = nanos.div_euclid(NANOS_PER_DAY);
    let time = nanos.rem_euclid(NANOS_PER_DAY);
    let days =
        i64::try_from(days).map_err(|_| TextFormError(format!("{nanos} ns is out of range")))?;
    let time = u64::try_from(time).map_err(|_| TextFormError("unreachable".into()))?;
    Ok(format!("{} {}", format_date(days)?, format_time(time)?))
}

/// `YYYY-MM-DD HH:MM:SS.nnnnnnnnn+00:00` for an instant (UTC).
pub fn format_instant(nanos: i128) -> Result<String, TextFormError> {
    Ok(format!("{}+00:00", format_timestamp(nanos)?))
}

/// Parses `YYYY-MM-DD` into days since 1970-01-01.
pub fn parse_date(text: &str) -> Result<i64, TextFormError> {
    let bad = || TextFormError(format!("{text:?} is not a date (YYYY-MM-DD)"));
    let mut parts = text.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let year = digits(y, 4).ok_or_else(bad)?;
    let month = digits(m, 2).ok_or_else(bad)?;
    let day = digits(d, 2).ok_or_else(bad)?;
    days_from_civil(year, month as u32, day as u32).ok_or_else(bad)
}

/// Parses `HH:MM:SS` with an optional fraction of up to 9 digits into nanoseconds since midnight.
pub fn parse_time(text: &str) -> Result<u64, TextFormError> {
    let bad = || {
        TextFormError(format!(
            "{text:?} is not a time of day (HH:MM:SS.nnnnnnnnn)"
        ))
    };
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let mut parts = whole.splitn(3, ':');
    let (Some(h), Some(m), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let (h, m, s) = (
        digits(h, 2).ok_or_else(bad)?,
        digits(m, 2).ok_or_else(bad)?,
        digits(s, 2).ok_or_else(bad)?,
    );
    if h > 23 || m > 59 || s > 59 {
        return Err(bad());
    }
    let nanos = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 => {
            let value = digits(f, f.len()).ok_or_else(bad)?;
            value * 10_i64.pow(9 - f.len() as u32)
        }
        Some(_) => return Err(bad()),
    };
    Ok(((h * 3600 + m * 60 + s) * 1_000_000_000 + nanos) as u64)
}

/// Parses `YYYY-MM-DD HH:MM:SS[.f]` (or with `T`) into nanoseconds since 1970-01-01 00:00:00.
pub fn parse_timestamp(text: &str) -> Result<i128, TextFormError> {
    let split = text
        .find([' ', 'T'])
        .ok_or_else(|| TextFormError(format!("{text:?} is not a date and time")))?;
    let days = parse_date(&text[..split])?;
    let time = parse_time(&text[split + 1..])?;
    Ok(i128::from(days) * NANOS_PER_DAY + i128::from(time))
}

/// Parses a date and time with a zone (`Z`, `+HH:MM`, `-HH:MM`; none means UTC) into
/// nanoseconds since the Unix epoch, UTC.
pub fn parse_instant(text: &str) -> Result<i128, TextFormError> {
    let bad = || TextFormError(format!("{text:?} is not a date and time with a zone"));
    if let Some(local) = text.strip_suffix('Z') {
        return parse_timestamp(local);
    }
    let time_start = text.find([' ', 'T']).ok_or_else(bad)?;
    let zone_start = text[time_start..].rfind(['+', '-']).map(|i| i + time_start);
    let Some(zone_start) = zone_start else {
        return parse_timestamp(text);
    };
    let (local, zone) = text.split_at(zone_start);
    let sign: i128 = if zone.starts_with('-') { -1 } else { 1 };
    let (h, m) = zone[1..].split_once(':').unwrap_or((&zone[1..], "00"));
    let (h, m) = (digits(h, 2).ok_or_else(bad)?, digits(m, 2).ok_or_else(bad)?);
    let offset = sign * i128::from(h * 3600 + m * 60) * NANOS_PER_SECOND;
    Ok(parse_timestamp(local)? - offset)
}

/// A non-negative number of exactly `width` ASCII digits.
fn digits(text: &str, width: usize) -> Option<i64> {
    if text.len() != width || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_across_eras() {
        for days in [-719_528, -1, 0, 1, 59, 11_016, 47_482, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), Some(days), "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2000, 2, 29), Some(11_016));
        assert_eq!(days_from_civil(1900, 2, 29), None, "1900 is no leap year");
    }

    #[test]
    fn text_forms_are_fixed_width_and_round_trip() {
        let at = parse_timestamp("1969-12-31 23:59:59.5").expect("valid");
        assert_eq!(at, -NANOS_PER_SECOND / 2);
        assert_eq!(
            format_timestamp(at).as_deref(),
            Ok("1969-12-31 23:59:59.500000000")
        );
        assert_eq!(format_date(-719_528).as_deref(), Ok("0000-01-01"));
        assert!(format_date(2_932_897).is_err(), "year 10000");
        assert_eq!(parse_time("00:00:00"), Ok(0));
        assert!(parse_time("24:00:00").is_err());
        assert_eq!(
            parse_instant("2024-01-01T05:30:00+05:30"),
            parse_timestamp("2024-01-01 00:00:00")
        );
        assert_eq!(
            parse_instant("2024-01-01 00:00:00Z"),
            parse_timestamp("2024-01-01 00:00:00")
        );
        let text = |t: &str| format_timestamp(parse_timestamp(t).expect("valid")).expect("fits");
        let (earlier, later) = (text("0999-12-31 00:00:00"), text("1000-01-01 00:00:00"));
        assert!(earlier < later, "text order is time order");
    }
}
