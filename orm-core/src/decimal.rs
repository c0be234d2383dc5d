//! Exact decimals as text where a database has no decimal type (SQLite), in a fixed-width form
//! whose text order is numeric order: `P` or `N` (negative), 29 integer digits, `.`, 28
//! fraction digits, both nines-complemented when negative, then `~` and the scale (two
//! digits) so that `1.50` comes back as `1.50`. That covers every `rust_decimal::Decimal`.
//! Std only: the optional `rust_decimal` support converts to and from the plain text.

/// Digits before the point (a 96-bit mantissa has at most 29).
const INTEGER_DIGITS: usize = 29;
/// Digits after the point (the largest scale).
const FRACTION_DIGITS: usize = 28;

/// Why a text is not a decimal this form can hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalTextError(pub String);

/// The sortable form of a plain decimal such as `-123.4500`.
pub fn to_sortable(plain: &str) -> Result<String, DecimalTextError> {
    let bad = || {
        DecimalTextError(format!(
            "{plain:?} is not a decimal of at most 29 + 28 digits"
        ))
    };
    let (negative, digits) = match plain.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, plain),
    };
    let (integer, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if integer.is_empty() || !all_digits(integer) || !all_digits(fraction) {
        return Err(bad());
    }
    let integer = integer.trim_start_matches('0');
    if integer.len() > INTEGER_DIGITS || fraction.len() > FRACTION_DIGITS {
        return Err(bad());
    }
    let zero = integer.is_empty() && fraction.bytes().all(|b| b == b'0');
    let negative = negative && !zero;
    let mut body = format!("{integer:0>INTEGER_DIGITS$}.{fraction:0<FRACTION_DIGITS$}");
    if negative {
        body = body
            .chars()
            .map(|c| match c.to_digit(10) {
                Some(d) => char::from(b'0' + (9 - d as u8)),
                None => c,
            })
            .collect();
    }
    let sign = if negative { 'N' } else { 'P' };
    Ok(format!("{sign}{body}~{:02}", fraction.len()))
}

/// The plain decimal of a sortable form.
pub fn from_sortable(sortable: &str) -> Result<String, DecimalTextError> {
    let bad = || DecimalTextError(format!("{sortable:?} is not a stored decimal"));
    let (body, scale) = sortable.split_once('~').ok_or_else(bad)?;
    let scale: usize = scale.parse().map_err(|_| bad())?;
    let (negative, body) = match body.as_bytes().first() {
        Some(b'N') => (true, &body[1..]),
        Some(b'P') => (false, &body[1..]),
        _ => return Err(bad()),
    };
    let body: String = match negative {
        true => body
            .chars()
            .map(|c| match c.to_digit(10) {
                Some(d) => char::from(b'0' + (9 - d as u8)),
                None => c,
            })
            .collect(),
        false => body.to_owned(),
    };
    let (integer, fraction) = body.split_once('.').ok_or_else(bad)?;
    if integer.len() != INTEGER_DIGITS
        || fraction.len() != FRACTION_DIGITS
        || scale > FRACTION_DIGITS
    {
        return Err(bad());
    }
    if fraction[scale..].bytes().any(|b| b != b'0') {
        return Err(bad());
    }
    let integer = match integer.trim_start_matches('0') {
        "" => "0",
        digits => digits,
    };
    let sign = if negative { "-" } else { "" };
    Ok(match scale {
        0 => format!("{sign}{integer}"),
        _ => format!("{sign}{integer}.{}", &fraction[..scale]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortable_text_round_trips_and_orders_numerically() {
        let values = [
            "-79228162514264337593543950335",
            "-1.5",
            "-1.25",
            "-0.0000000000000000000000000001",
            "0",
            "0.0000000000000000000000000001",
            "1.50",
            "2",
            "1234567890123456789.123456789",
            "79228162514264337593543950335",
        ];
        let sortable: Vec<String> = values
            .iter()
            .map(|v| to_sortable(v).expect("representable"))
            .collect();
        for (plain, stored) in values.iter().zip(&sortable) {
            assert_eq!(from_sortable(stored).as_deref(), Ok(*plain));
        }
        assert!(sortable.windows(2).all(|w| w[0] < w[1]), "{sortable:#?}");
        assert_eq!(
            from_sortable(&to_sortable("-0.00").expect("ok")).as_deref(),
            Ok("0.00")
        );
        assert!(to_sortable("1e5").is_err());
        assert!(
            to_sortable("123456789012345678901234567890").is_err(),
            "30 digits"
        );
    }
}
