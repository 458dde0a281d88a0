//! Typed reads of conf values with nats-server's error texts, and the Go formats nats-server
//! config relies on: `time.ParseDuration`, `Duration.String`, `net.SplitHostPort`, `%q`
//! quoting, and JetStream's string storage sizes.
//!
//! A wrong type is reported the way nats-server reports it (its option code panics on a failed
//! type assertion and prints the panic): `interface conversion: interface {} is string, not
//! int64`. Everything here only records diagnostics; nothing aborts the whole load.

use std::time::Duration;

use super::Diagnostic;
use crate::conf::{Pos, Spanned, Value};

/// Collects errors and warnings while options are applied.
#[derive(Default)]
pub(crate) struct Loader {
    pub(crate) errors: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
    pub(crate) unsupported: Vec<(String, Pos)>,
}

impl Loader {
    pub(crate) fn error(&mut self, pos: &Pos, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            pos: Some(pos.clone()),
            message: message.into(),
        });
    }

    /// An error nats-server reports without a position when `pos` is `None`.
    pub(crate) fn error_at(&mut self, pos: Option<Pos>, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            pos,
            message: message.into(),
        });
    }

    /// nats-server's `unknownConfigFieldErr`, skipped for entries used as `$variables`.
    pub(crate) fn unknown_field(&mut self, key: &str, v: &Spanned) {
        if !v.used_as_variable {
            self.error(&v.pos, format!("unknown field {}", go_quote(key)));
        }
    }

    /// nats-server's `configWarningErr`.
    pub(crate) fn warn_field(&mut self, pos: &Pos, field: &str, reason: impl AsRef<str>) {
        self.warnings.push(Diagnostic {
            pos: Some(pos.clone()),
            message: format!(
                "invalid use of field {}: {}",
                go_quote(field),
                reason.as_ref()
            ),
        });
    }

    pub(crate) fn unsupported(&mut self, name: impl Into<String>, pos: &Pos) {
        self.unsupported.push((name.into(), pos.clone()));
    }

    fn type_error(&mut self, v: &Spanned, want: &str) {
        let have = v.value.go_type();
        self.error(
            &v.pos,
            format!("interface conversion: interface {{}} is {have}, not {want}"),
        );
    }

    pub(crate) fn int(&mut self, v: &Spanned) -> Option<i64> {
        match v.value {
            Value::Int(i) => Some(i),
            _ => {
                self.type_error(v, "int64");
                None
            }
        }
    }

    /// An integer that must fit Natrium's `i32` fields.
    pub(crate) fn int32(&mut self, key: &str, v: &Spanned) -> Option<i32> {
        let i = self.int(v)?;
        match i32::try_from(i) {
            Ok(i) => Some(i),
            Err(_) => {
                self.error(&v.pos, format!("{key} value is too big"));
                None
            }
        }
    }

    pub(crate) fn string(&mut self, v: &Spanned) -> Option<String> {
        match &v.value {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.type_error(v, "string");
                None
            }
        }
    }

    pub(crate) fn bool(&mut self, v: &Spanned) -> Option<bool> {
        match v.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.type_error(v, "bool");
                None
            }
        }
    }

    pub(crate) fn map<'v>(&mut self, v: &'v Spanned) -> Option<&'v [(String, Spanned)]> {
        match &v.value {
            Value::Map(entries) => Some(entries),
            _ => {
                self.type_error(v, "map[string]interface {}");
                None
            }
        }
    }

    /// nats-server's `parseDuration`: a Go duration string, or (with a warning) an integer
    /// number of seconds. Negative durations are rejected: no Natrium timer takes one.
    pub(crate) fn duration(&mut self, field: &str, v: &Spanned) -> Option<Duration> {
        let nanos = match &v.value {
            Value::String(s) => match parse_go_duration(s) {
                Ok(n) => n,
                Err(e) => {
                    self.error(&v.pos, format!("error parsing {field}: {e}"));
                    return None;
                }
            },
            Value::Int(secs) => {
                self.warn_field(
                    &v.pos,
                    field,
                    format!("{field} should be converted to a duration"),
                );
                match secs.checked_mul(1_000_000_000) {
                    Some(n) => n,
                    None => {
                        self.error(&v.pos, format!("error parsing {field}: value out of range"));
                        return None;
                    }
                }
            }
            _ => {
                self.type_error(v, "int64");
                return None;
            }
        };
        self.non_negative(field, v, nanos)
    }

    pub(crate) fn non_negative(
        &mut self,
        field: &str,
        v: &Spanned,
        nanos: i64,
    ) -> Option<Duration> {
        match u64::try_from(nanos) {
            Ok(n) => Some(Duration::from_nanos(n)),
            Err(_) => {
                self.error(&v.pos, format!("invalid {field}, needs to be positive"));
                None
            }
        }
    }
}

/// Go's `%q` for a string: double quotes, Go escapes for control characters.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => {
                let n = c as u32;
                if n < 0x80 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{n:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` of a conf value, close enough for messages that echo a bad value.
pub(crate) fn go_display(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::String(s) | Value::DateTime(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(|i| go_display(&i.value)).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Map(entries) => {
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_display(&v.value)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Go's `%s` of a conf value: strings as they are, anything else as `%!s(int64=5)`.
pub(crate) fn go_sprint_s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => format!("%!s({}={})", other.go_type(), go_display(other)),
    }
}

/// Go's `time.ParseDuration`, returning nanoseconds or Go's error text.
pub fn parse_go_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(text));
    let mut s = text;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let mut whole: u64 = 0;
        for b in s[..int_len].bytes() {
            whole = whole
                .checked_mul(10)
                .and_then(|w| w.checked_add(u64::from(b - b'0')))
                .filter(|w| *w <= LIMIT)
                .ok_or_else(invalid)?;
        }
        s = &s[int_len..];
        let (mut frac, mut scale) = (0u64, 1f64);
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            for b in rest[..frac_len].bytes() {
                // Like Go, digits beyond what fits are dropped rather than rounded.
                if let Some(f) = frac
                    .checked_mul(10)
                    .and_then(|f| f.checked_add(u64::from(b - b'0')))
                {
                    frac = f;
                    scale *= 10.0;
                }
            }
            s = &rest[frac_len..];
            if int_len == 0 && frac_len == 0 {
                return Err(invalid());
            }
        } else if int_len == 0 {
            return Err(invalid());
        }
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        let unit_text = &s[..unit_len];
        s = &s[unit_len..];
        let unit: u64 = match unit_text {
            "" => return Err(format!("time: missing unit in duration {}", go_quote(text))),
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(other),
                    go_quote(text)
                ))
            }
        };
        let mut value = whole
            .checked_mul(unit)
            .filter(|v| *v <= LIMIT)
            .ok_or_else(invalid)?;
        if frac > 0 {
            let extra = (frac as f64 * (unit as f64 / scale)) as u64;
            value = value
                .checked_add(extra)
                .filter(|v| *v <= LIMIT)
                .ok_or_else(invalid)?;
        }
        total = total
            .checked_add(value)
            .filter(|t| *t <= LIMIT)
            .ok_or_else(invalid)?;
    }
    if negative {
        Ok((total as i128).wrapping_neg() as i64)
    } else if total > i64::MAX as u64 {
        Err(invalid())
    } else {
        Ok(total as i64)
    }
}

/// Go's `time.Duration.String` (`1h0m0s`, `1.5s`, `300ms`).
pub(crate) fn go_duration_string(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u < 1_000_000_000 {
        let (digits, unit) = match u {
            0..=999 => (0, "ns"),
            1_000..=999_999 => (3, "µs"),
            _ => (6, "ms"),
        };
        return format!("{sign}{}{unit}", frac_string(u, digits));
    }
    let secs = frac_string(u % 60_000_000_000, 9);
    let minutes = u / 60_000_000_000;
    match (minutes / 60, minutes % 60) {
        (0, 0) => format!("{sign}{secs}s"),
        (0, m) => format!("{sign}{m}m{secs}s"),
        (h, m) => format!("{sign}{h}h{m}m{secs}s"),
    }
}

/// `value / 10^digits` with the fraction's trailing zeros (and a bare point) removed.
fn frac_string(value: u64, digits: u32) -> String {
    let div = 10u64.pow(digits);
    let (whole, frac) = (value / div, value % div);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:0width$}", width = digits as usize);
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Go's `net.SplitHostPort`; `None` where Go reports an error.
pub(crate) fn split_host_port(s: &str) -> Option<(String, String)> {
    let last_colon = s.rfind(':')?;
    let host = if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')? + 1;
        if end + 1 != last_colon {
            return None;
        }
        &s[1..end]
    } else {
        let host = &s[..last_colon];
        if host.contains(':') {
            return None;
        }
        host
    };
    if host.contains(['[', ']']) || s[last_colon..].contains(['[', ']']) {
        return None;
    }
    Some((host.to_string(), s[last_colon + 1..].to_string()))
}

/// nats-server's `parseListen`: a port number, or `host:port`.
pub(crate) fn parse_listen(v: &Value) -> Result<(String, i32), String> {
    match v {
        Value::Int(port) => i32::try_from(*port)
            .map(|p| (String::new(), p))
            .map_err(|_| format!("could not parse port {}", go_quote(&port.to_string()))),
        Value::String(s) => {
            let (host, port) = split_host_port(s)
                .ok_or_else(|| format!("could not parse address string {}", go_quote(s)))?;
            let port: i32 = port
                .parse()
                .map_err(|_| format!("could not parse port {}", go_quote(&port)))?;
            Ok((host, port))
        }
        other => Err(format!(
            "expected port or host:port, got {}",
            other.go_type()
        )),
    }
}

/// nats-server's `getStorageSize`: an integer (the dialect's own suffixes already applied) or
/// a string ending in K, M, G or T (powers of 1024).
pub(crate) fn storage_size(v: &Value) -> Result<i64, String> {
    let s = match v {
        Value::Int(i) => return Ok(*i),
        Value::String(s) => s,
        _ => return Err("must be int64 or string".to_string()),
    };
    if s.is_empty() {
        return Ok(0);
    }
    let split = s.len() - s.chars().last().map_or(0, char::len_utf8);
    let (number, suffix) = s.split_at(split);
    let number: i64 = number.parse().map_err(|_| {
        format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            go_quote(number)
        )
    })?;
    let shift = match suffix {
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err("sizes defined as strings must end in K, M, G, T".to_string()),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| "size is out of range".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_like_go() {
        let ok = |s: &str| parse_go_duration(s).unwrap();
        assert_eq!(ok("2m"), 120_000_000_000);
        assert_eq!(ok("100ms"), 100_000_000);
        assert_eq!(ok("1h30m"), 5_400_000_000_000);
        assert_eq!(ok("1.5s"), 1_500_000_000);
        assert_eq!(ok(".5s"), 500_000_000);
        assert_eq!(ok("-1s"), -1_000_000_000);
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("1µs"), 1000);
        assert_eq!(ok("1us2ns"), 1002);
        assert_eq!(
            parse_go_duration("abc").unwrap_err(),
            "time: invalid duration \"abc\""
        );
        assert_eq!(
            parse_go_duration("5").unwrap_err(),
            "time: missing unit in duration \"5\""
        );
        assert_eq!(
            parse_go_duration("5x").unwrap_err(),
            "time: unknown unit \"x\" in duration \"5x\""
        );
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration(".s").is_err());
        assert!(parse_go_duration("99999999999h").is_err());
    }

    #[test]
    fn go_duration_strings_match_go() {
        assert_eq!(go_duration_string(10_000_000_000), "10s");
        assert_eq!(go_duration_string(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration_string(90_000_000_000), "1m30s");
        assert_eq!(go_duration_string(1_500_000_000), "1.5s");
        assert_eq!(go_duration_string(300_000_000), "300ms");
        assert_eq!(go_duration_string(1_500), "1.5µs");
        assert_eq!(go_duration_string(0), "0s");
        assert_eq!(go_duration_string(-2_000_000_000), "-2s");
    }

    #[test]
    fn host_port_splits_like_go() {
        let sp = |s: &str| split_host_port(s);
        assert_eq!(
            sp("127.0.0.1:4222"),
            Some(("127.0.0.1".into(), "4222".into()))
        );
        assert_eq!(sp(":4222"), Some(("".into(), "4222".into())));
        assert_eq!(sp("[::1]:4222"), Some(("::1".into(), "4222".into())));
        assert_eq!(sp("localhost:-1"), Some(("localhost".into(), "-1".into())));
        assert_eq!(sp("::1:4222"), None);
        assert_eq!(sp("localhost"), None);
        assert_eq!(sp("[::1]"), None);
        assert_eq!(sp("[::1]x:1"), None);
    }

    #[test]
    fn listen_values() {
        assert_eq!(parse_listen(&Value::Int(4222)), Ok((String::new(), 4222)));
        assert_eq!(
            parse_listen(&Value::String("0.0.0.0:x".into())),
            Err("could not parse port \"x\"".into())
        );
        assert_eq!(
            parse_listen(&Value::String("nohost".into())),
            Err("could not parse address string \"nohost\"".into())
        );
        assert_eq!(
            parse_listen(&Value::Bool(true)),
            Err("expected port or host:port, got bool".into())
        );
    }

    #[test]
    fn storage_sizes() {
        assert_eq!(storage_size(&Value::Int(5)), Ok(5));
        assert_eq!(storage_size(&Value::String("1G".into())), Ok(1 << 30));
        assert_eq!(storage_size(&Value::String("".into())), Ok(0));
        assert_eq!(
            storage_size(&Value::String("1GB".into())),
            Err("strconv.ParseInt: parsing \"1G\": invalid syntax".into())
        );
        assert_eq!(
            storage_size(&Value::String("10X".into())),
            Err("sizes defined as strings must end in K, M, G, T".into())
        );
        assert!(storage_size(&Value::Bool(true)).is_err());
    }
}
