//! Scalars of the conf dialect: quoted, unquoted and block strings, escapes, booleans,
//! integers with size suffixes, floats, IP-address-like strings and Zulu datetimes.
//!
//! The classification rules are nats-server's, including its surprises, because a drop-in
//! replacement must read existing files the same way: `2m` is the integer 2,000,000 (the `m`
//! suffix means mega), `100ms` and `1h` are strings, `1k` is 1000 and `1kb`/`1ki`/`1kib` are
//! 1024, `127.0.0.1:4222` is a string, and an unquoted `yes`/`on`/`off` is a boolean.

use super::parse::Parser;
use super::{ConfError, Value};

/// A scanned scalar: a value, or a `$name` still to be resolved.
pub(super) enum Scalar {
    Value(Value),
    Variable(String),
}

/// Characters that end an unquoted number.
fn ends_number(c: Option<char>, in_array: bool) -> bool {
    match c {
        None => true,
        Some('\n' | '\r' | '}' | ';' | ',' | ' ' | '\t') => true,
        // Deviation: nats-server reads `1]` as the start of a string, so `[1]` fails there.
        Some(']') => in_array,
        Some(_) => false,
    }
}

fn is_size_suffix(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 'k' | 'm' | 'g' | 't' | 'p' | 'e')
}

impl Parser<'_, '_> {
    /// Any value that is not a map or an array. The cursor is on its first character.
    pub(super) fn scalar(&mut self, in_array: bool) -> Result<Scalar, ConfError> {
        let start = self.pos;
        let v = match self.peek() {
            Some('\'') => {
                self.bump();
                self.single_quoted()?
            }
            Some('"') => {
                self.bump();
                self.double_quoted()?
            }
            Some('-') => {
                self.bump();
                self.negative_number(start)?
            }
            Some('(') => {
                self.bump();
                self.block_string()?
            }
            Some(c) if c.is_ascii_digit() => self.number_like(start, in_array)?,
            Some('.') => {
                self.bump();
                return Err(self.syntax("Floats must start with a digit"));
            }
            Some('\n' | '\r') => {
                self.bump();
                return Err(self.syntax("Expected value but found new line"));
            }
            _ => return self.unquoted(Vec::new(), true),
        };
        Ok(Scalar::Value(v))
    }

    /// An unquoted string (continuing `prefix`, which number scanning may have started). With
    /// `classify`, a bare `true`/`no`/... is a boolean and `$name` a variable.
    fn unquoted(&mut self, prefix: Vec<u8>, classify: bool) -> Result<Scalar, ConfError> {
        let mut buf = prefix;
        let mut escaped = false;
        loop {
            match self.peek() {
                None | Some('\n' | '\r' | ';' | ',' | ']' | '}' | ' ' | '\t') => break,
                Some('\\') => {
                    self.bump();
                    self.escape(&mut buf)?;
                    escaped = true;
                }
                Some('\'') => {
                    // A quote ends an unquoted string and is swallowed; the text stays a string.
                    self.bump();
                    return Ok(Scalar::Value(Value::String(into_string(buf))));
                }
                Some(c) => {
                    self.bump();
                    let mut tmp = [0u8; 4];
                    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
            }
        }
        let text = into_string(buf);
        if !classify || escaped {
            return Ok(Scalar::Value(Value::String(text)));
        }
        match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => return Ok(Scalar::Value(Value::Bool(true))),
            "false" | "no" | "off" => return Ok(Scalar::Value(Value::Bool(false))),
            _ => {}
        }
        match text.strip_prefix('$') {
            Some(name) => Ok(Scalar::Variable(name.to_string())),
            None => Ok(Scalar::Value(Value::String(text))),
        }
    }

    /// After `'`: raw text up to the next `'`.
    fn single_quoted(&mut self) -> Result<Value, ConfError> {
        let start = self.pos;
        loop {
            match self.bump() {
                None => return Err(self.syntax("Unexpected EOF.")),
                Some('\'') => {
                    let end = self.pos - 1;
                    return Ok(Value::String(self.src[start..end].to_string()));
                }
                Some(_) => {}
            }
        }
    }

    /// After `"`: text with `\t \n \r \" \\ \xHH` escapes up to the closing `"`.
    fn double_quoted(&mut self) -> Result<Value, ConfError> {
        let mut buf = Vec::new();
        loop {
            match self.bump() {
                None => return Err(self.syntax("Unexpected EOF.")),
                Some('"') => return Ok(Value::String(into_string(buf))),
                Some('\\') => self.escape(&mut buf)?,
                Some(c) => {
                    let mut tmp = [0u8; 4];
                    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
            }
        }
    }

    /// After a backslash.
    fn escape(&mut self, buf: &mut Vec<u8>) -> Result<(), ConfError> {
        let c = self.bump();
        let byte = match c {
            Some('t') => b'\t',
            Some('n') => b'\n',
            Some('r') => b'\r',
            Some('"') => b'"',
            Some('\\') => b'\\',
            Some('x') => return self.hex_escape(buf),
            other => {
                let shown = match other {
                    Some('\n') => "\\n".to_string(),
                    Some(c) => c.to_string(),
                    None => "\0".to_string(),
                };
                return Err(self.syntax(format!(
                    "Invalid escape character '{shown}'. Only the following escape characters \
                     are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\."
                )));
            }
        };
        buf.push(byte);
        Ok(())
    }

    fn hex_escape(&mut self, buf: &mut Vec<u8>) -> Result<(), ConfError> {
        let mut digits = String::new();
        for _ in 0..2 {
            match self.bump() {
                Some('\n' | '\r') => {
                    return Err(self.syntax(
                        "Expected two hexadecimal digits after '\\x', but hit end of line",
                    ))
                }
                Some(c) => digits.push(c),
                None => {}
            }
        }
        match u8::from_str_radix(&digits, 16) {
            Ok(b) if digits.len() == 2 => {
                buf.push(b);
                Ok(())
            }
            _ => Err(self.syntax(format!(
                "Expected two hexadecimal digits after '\\x', but got '{digits}'"
            ))),
        }
    }

    /// After `(`: everything up to a `)` alone at the start of a line. The text keeps the
    /// newline after `(` and the one before `)`; at the very end of input nats-server also keeps
    /// the `)`, and so do we.
    fn block_string(&mut self) -> Result<Value, ConfError> {
        let start = self.pos;
        loop {
            match self.bump() {
                None => return Err(self.syntax("Unexpected EOF processing block.")),
                Some(')') => {
                    let close = self.pos - 1;
                    if close == 0 || self.src.as_bytes()[close - 1] != b'\n' {
                        continue;
                    }
                    match self.peek() {
                        Some('\n') => return Ok(Value::String(self.src[start..close].to_string())),
                        None => return Ok(Value::String(self.src[start..].to_string())),
                        Some(_) => {}
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// After `-`: an integer (maybe with a size suffix) or a float.
    fn negative_number(&mut self, start: usize) -> Result<Value, ConfError> {
        match self.bump() {
            Some(c) if c.is_ascii_digit() => {}
            Some('.') => return Err(self.syntax("Floats must start with a digit, not '.'.")),
            other => {
                let shown = other.map(String::from).unwrap_or_else(|| "\0".into());
                return Err(self.syntax(format!("Expected a digit but got '{shown}'.")));
            }
        }
        self.skip_digits();
        match self.peek() {
            Some('.') => {
                self.bump();
                self.float(start)
            }
            Some(c) if is_size_suffix(c) => {
                self.bump();
                self.sized_number(start)
            }
            _ => self.integer(start),
        }
    }

    /// A value starting with a digit: integer, sized integer, float, datetime, IP-like string,
    /// or a string that merely starts with a digit (`12abc`, `100ms`).
    fn number_like(&mut self, start: usize, in_array: bool) -> Result<Value, ConfError> {
        self.skip_digits();
        match self.peek() {
            Some('-') => {
                self.bump();
                if self.pos - start != 5 {
                    return Err(self.syntax("All ISO8601 dates must be in full Zulu form."));
                }
                self.datetime(start)
            }
            Some('.') => {
                self.bump();
                self.float(start)
            }
            Some(c) if is_size_suffix(c) => {
                self.bump();
                self.sized_number(start)
            }
            c if ends_number(c, in_array) => self.integer(start),
            _ => {
                // Not a number after all: the character is taken literally, then a string.
                self.bump();
                let prefix = self.src.as_bytes()[start..self.pos].to_vec();
                self.string_rest(prefix)
            }
        }
    }

    fn string_rest(&mut self, prefix: Vec<u8>) -> Result<Value, ConfError> {
        match self.unquoted(prefix, false)? {
            Scalar::Value(v) => Ok(v),
            Scalar::Variable(name) => Ok(Value::String(name)),
        }
    }

    fn skip_digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
    }

    /// After a size suffix letter: optional `b`/`i` letters, then the end of the number, or else
    /// the whole thing is a string.
    fn sized_number(&mut self, start: usize) -> Result<Value, ConfError> {
        while matches!(self.peek(), Some('b' | 'B' | 'i' | 'I')) {
            self.bump();
        }
        // Unlike a plain integer, `1KB]` is the string "1KB" in nats-server even in an array.
        let next = self.peek();
        if ends_number(next, false) || next.is_some_and(|c| c.is_ascii_digit()) {
            return self.integer(start);
        }
        let prefix = self.src.as_bytes()[start..self.pos].to_vec();
        self.string_rest(prefix)
    }

    /// Converts `src[start..pos]` (digits, optional sign, optional suffix) to an integer.
    fn integer(&mut self, start: usize) -> Result<Value, ConfError> {
        let text = &self.src[start..self.pos];
        let pos = self.pos_at(start);
        let digits_end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '-'))
            .unwrap_or(text.len());
        let number: i64 = text[..digits_end]
            .parse()
            .map_err(|_| ConfError::IntegerRange {
                text: text.to_string(),
                pos: pos.clone(),
            })?;
        let suffix = text[digits_end..].to_ascii_lowercase();
        let multiplier: i64 = match suffix.as_str() {
            "" => 1,
            "k" => 1000,
            "kb" | "ki" | "kib" => 1 << 10,
            "m" => 1000_i64.pow(2),
            "mb" | "mi" | "mib" => 1 << 20,
            "g" => 1000_i64.pow(3),
            "gb" | "gi" | "gib" => 1 << 30,
            "t" => 1000_i64.pow(4),
            "tb" | "ti" | "tib" => 1 << 40,
            "p" => 1000_i64.pow(5),
            "pb" | "pi" | "pib" => 1 << 50,
            "e" => 1000_i64.pow(6),
            "eb" | "ei" | "eib" => 1 << 60,
            _ => {
                return Err(ConfError::SizeSuffix {
                    text: text.to_string(),
                    pos,
                })
            }
        };
        // Deviation: Go wraps silently on overflow; an out-of-range size is an error here.
        number
            .checked_mul(multiplier)
            .map(Value::Int)
            .ok_or(ConfError::IntegerRange {
                text: text.to_string(),
                pos,
            })
    }

    /// After `digits.`: the fraction; a second `.` makes it an IP-address-like string.
    fn float(&mut self, start: usize) -> Result<Value, ConfError> {
        match self.bump() {
            Some(c) if c.is_ascii_digit() => {}
            other => {
                let shown = match other {
                    Some('\n') => "\\n".to_string(),
                    Some(c) => c.to_string(),
                    None => "\0".to_string(),
                };
                return Err(self.syntax(format!(
                    "Floats must have a digit after the '.', but got '{shown}' instead."
                )));
            }
        }
        self.skip_digits();
        if self.peek() == Some('.') {
            self.bump();
            while matches!(self.peek(), Some('0'..='9' | '.' | ':' | '-')) {
                self.bump();
            }
            return Ok(Value::String(self.src[start..self.pos].to_string()));
        }
        let text = &self.src[start..self.pos];
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(ConfError::FloatRange {
                text: text.to_string(),
                pos: self.pos_at(start),
            }),
        }
    }

    /// After `YYYY-`: `MM-DDTHH:MM:SSZ`, then a calendar check.
    fn datetime(&mut self, start: usize) -> Result<Value, ConfError> {
        for want in "00-00T00:00:00Z".chars() {
            let got = self.bump();
            let shown = match got {
                Some('\n') => "\\n".to_string(),
                Some(c) => c.to_string(),
                None => "\0".to_string(),
            };
            if want == '0' {
                if !got.is_some_and(|c| c.is_ascii_digit()) {
                    return Err(self.syntax(format!(
                        "Expected digit in ISO8601 datetime, but found '{shown}' instead."
                    )));
                }
            } else if got != Some(want) {
                return Err(self.syntax(format!(
                    "Expected '{want}' in ISO8601 datetime, but found '{shown}' instead."
                )));
            }
        }
        let text = &self.src[start..self.pos];
        if valid_zulu(text) {
            Ok(Value::DateTime(text.to_string()))
        } else {
            Err(ConfError::DateTime {
                text: text.to_string(),
                pos: self.pos_at(start),
            })
        }
    }
}

fn into_string(buf: Vec<u8>) -> String {
    match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Calendar check of `YYYY-MM-DDTHH:MM:SSZ` (shape already verified).
fn valid_zulu(text: &str) -> bool {
    let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().unwrap_or(u32::MAX);
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let (hour, minute, second) = (num(11..13), num(14..16), num(17..19));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day) && hour < 24 && minute < 60 && second < 60
}
