//! Reading rows that the database packed into one JSON value (see `Dialect::pack_rows_open`):
//! an array of rows, each an array of values written as
//!
//! - an integer: a JSON number without fraction or exponent;
//! - text: a JSON string;
//! - NULL: `null`;
//! - a REAL: its 17-significant-digit text in a one-element array (`["0.30000000000000004"]`),
//!   which round-trips every finite double, and `Inf` / `-Inf`;
//! - a BLOB: `{"b": "<hex>"}`.
//!
//! A small parser of exactly this shape, so that the core needs no JSON library; anything else
//! is an error naming what it found, never a guess.

use crate::backend::Row;
use crate::value::Value;

/// The rows of a packed result: one row with one JSON text value (an empty array for no rows),
/// each row `width` values wide.
pub(crate) fn unpack(rows: Vec<Row>, width: usize) -> Result<Vec<Row>, String> {
    let text = match rows
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next())
    {
        Some(Value::Text(text)) => text,
        other => return Err(format!("expected one packed JSON value, got {other:?}")),
    };
    let mut parser = Parser {
        bytes: text.as_bytes(),
        at: 0,
    };
    let rows = parser.rows(width)?;
    parser.skip_space();
    if parser.at != parser.bytes.len() {
        return Err(parser.unexpected("the end of the packed rows"));
    }
    Ok(rows)
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn rows(&mut self, width: usize) -> Result<Vec<Row>, String> {
        let mut rows = Vec::new();
        self.list(|p| {
            let mut row = Vec::with_capacity(width);
            p.list(|p| {
                row.push(p.value()?);
                Ok(())
            })?;
            if row.len() != width {
                return Err(format!(
                    "a packed row has {} values, expected {width}",
                    row.len()
                ));
            }
            rows.push(row);
            Ok(())
        })?;
        Ok(rows)
    }

    /// `[item, item, ...]`, calling `item` for each.
    fn list(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        self.expect(b'[')?;
        self.skip_space();
        if self.eat(b']') {
            return Ok(());
        }
        loop {
            item(self)?;
            self.skip_space();
            if self.eat(b']') {
                return Ok(());
            }
            self.expect(b',')?;
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_space();
        match self.peek() {
            Some(b'"') => self.string().map(Value::Text),
            Some(b'n') => self.keyword("null").map(|()| Value::Null),
            Some(b'[') => self.real(),
            Some(b'{') => self.blob(),
            Some(b'-' | b'0'..=b'9') => self.integer(),
            _ => Err(self.unexpected("a packed value")),
        }
    }

    fn integer(&mut self) -> Result<Value, String> {
        let start = self.at;
        self.eat(b'-');
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        let digits = std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or_default();
        digits
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| self.unexpected("an integer"))
    }

    /// `["<17 digits>"]`: a REAL, exactly.
    fn real(&mut self) -> Result<Value, String> {
        self.expect(b'[')?;
        self.skip_space();
        let text = self.string()?;
        self.skip_space();
        self.expect(b']')?;
        let number = match text.as_str() {
            "Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            digits => digits
                .parse::<f64>()
                .map_err(|_| format!("a packed REAL is not a number: {digits:?}"))?,
        };
        Ok(Value::Real(number))
    }

    /// `{"b": "<hex>"}`: a BLOB.
    fn blob(&mut self) -> Result<Value, String> {
        self.expect(b'{')?;
        self.skip_space();
        if self.string()? != "b" {
            return Err(self.unexpected("a packed BLOB"));
        }
        self.skip_space();
        self.expect(b':')?;
        self.skip_space();
        let hex = self.string()?;
        self.skip_space();
        self.expect(b'}')?;
        from_hex(&hex).map(Value::Blob)
    }

    /// A JSON string, unescaped.
    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let start = self.at;
            while !matches!(self.peek(), Some(b'"' | b'\\') | None) {
                self.at += 1;
            }
            out.extend_from_slice(&self.bytes[start..self.at]);
            match self.bump() {
                Some(b'"') => break,
                Some(b'\\') => self.escape(&mut out)?,
                _ => return Err("a packed string is not terminated".into()),
            }
        }
        String::from_utf8(out).map_err(|_| "a packed string is not UTF-8".into())
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let byte = match self.bump() {
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => {
                let c = self.unicode_escape()?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                return Ok(());
            }
            _ => return Err(self.unexpected("an escape")),
        };
        out.push(byte);
        Ok(())
    }

    /// `\uXXXX`, with a surrogate pair for characters beyond the basic plane.
    fn unicode_escape(&mut self) -> Result<char, String> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if !(self.eat(b'\\') && self.eat(b'u')) {
                return Err("a packed string has a lone surrogate".into());
            }
            let second = self.hex4()?;
            0x10000 + ((first - 0xD800) << 10) + (second.wrapping_sub(0xDC00) & 0x3FF)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| format!("a packed string escapes U+{code:X}"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.unexpected("four hex digits"))?;
        self.at += 4;
        Ok(digits)
    }

    fn keyword(&mut self, word: &str) -> Result<(), String> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.unexpected(word))
        }
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek();
        self.at += usize::from(byte.is_some());
        byte
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{}`", byte as char)))
        }
    }

    fn unexpected(&self, wanted: &str) -> String {
        let found: String = String::from_utf8_lossy(&self.bytes[self.at..])
            .chars()
            .take(20)
            .collect();
        format!(
            "packed rows: expected {wanted} at byte {}, found {found:?}",
            self.at
        )
    }
}

fn from_hex(hex: &str) -> Result<Vec<u8>, String> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Ok(b - b'0'),
        b'A'..=b'F' => Ok(b - b'A' + 10),
        b'a'..=b'f' => Ok(b - b'a' + 10),
        _ => Err(format!("a packed BLOB is not hex: {hex:?}")),
    };
    let bytes = hex.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err(format!(
            "a packed BLOB has an odd number of hex digits: {hex:?}"
        ));
    }
    bytes
        .chunks(2)
        .map(|pair| Ok(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str, width: usize) -> Result<Vec<Row>, String> {
        unpack(vec![vec![Value::Text(text.into())]], width)
    }

    #[test]
    fn every_class_reads_back_exactly() {
        let rows = one(
            r#"[[1,-9223372036854775808,"a\"b\\c\n\u0001\ud83d\ude00é",null,["0.30000000000000004"],["-Inf"],{"b":"00FFa0"}],[2,9223372036854775807,"",null,["-0.0"],["Inf"],{"b":""}]]"#,
            7,
        )
        .expect("unpacks");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][0], Value::Integer(1));
        assert_eq!(rows[0][1], Value::Integer(i64::MIN));
        assert_eq!(rows[0][2], Value::Text("a\"b\\c\n\u{1}😀é".into()));
        assert_eq!(rows[0][3], Value::Null);
        assert_eq!(rows[0][4], Value::Real(0.1 + 0.2));
        assert_eq!(rows[0][5], Value::Real(f64::NEG_INFINITY));
        assert_eq!(rows[0][6], Value::Blob(vec![0, 255, 160]));
        assert_eq!(rows[1][1], Value::Integer(i64::MAX));
        assert_eq!(rows[1][6], Value::Blob(Vec::new()));
    }

    #[test]
    fn no_rows_is_an_empty_array() {
        assert_eq!(one("[]", 3).expect("unpacks"), Vec::<Row>::new());
    }

    #[test]
    fn anything_else_is_an_error_not_a_guess() {
        for bad in [
            "[[1.5]]",
            "[[1]",
            "[[1]] x",
            "[[\"a]]",
            "[[{\"x\":\"00\"}]]",
            "[[[\"zz\"]]]",
        ] {
            assert!(one(bad, 1).is_err(), "{bad}");
        }
        assert!(one("[[1,2]]", 1).is_err(), "the width is checked");
    }
}
