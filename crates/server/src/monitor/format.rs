//! Values written the way nats-server's Go encoder writes them, because tools parse them:
//! RFC 3339 times with trimmed nanoseconds, Go `time.Duration` strings (`"200.958286ms"`),
//! nats-server's own uptime form (`"1d2h3m4s"`) and JSON floats without a `.0` on whole
//! numbers. Pure functions; nothing here reads a clock except through its arguments.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serializer;

/// Go's `time.RFC3339Nano` in UTC: `2026-11-22T04:05:12.432569478Z`, trailing zeros of the
/// fraction removed and the fraction left out when it is zero.
pub fn rfc3339(t: SystemTime) -> String {
    let dt: chrono::DateTime<chrono::Utc> = t.into();
    let mut s = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = dt.timestamp_subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Serializes a `SystemTime` with [`rfc3339`].
pub fn ser_time<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

/// Serializes an optional `SystemTime` with [`rfc3339`] (callers skip `None`).
pub fn ser_opt_time<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// A float as Go's `encoding/json` writes it: whole numbers without a fraction (`2`, not
/// `2.0`), everything else in the shortest form that round-trips.
pub fn ser_float<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

/// Nanoseconds since the Unix epoch (0 for times before it).
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(u64::MAX as u128) as u64)
}

/// The inverse of [`unix_nanos`].
pub fn from_unix_nanos(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(n)
}

/// Go's `time.Duration.String()`: `0s`, `950ns`, `1.5µs`, `200.958286ms`, `2m0.5s`, `1h0m0s`.
pub fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", frac(nanos, 1_000, 3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", frac(nanos, 1_000_000, 6));
    }
    let secs_total = nanos / 1_000_000_000;
    let sub = nanos % 1_000_000_000;
    let (h, m, s) = (secs_total / 3600, (secs_total / 60) % 60, secs_total % 60);
    let secs = frac(s * 1_000_000_000 + sub, 1_000_000_000, 9);
    if h > 0 {
        format!("{h}h{m}m{secs}s")
    } else if secs_total >= 60 {
        format!("{m}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

/// `value / unit` with up to `digits` fractional digits, trailing zeros removed.
fn frac(value: u128, unit: u128, digits: usize) -> String {
    let whole = value / unit;
    let rest = value % unit;
    if rest == 0 {
        return whole.to_string();
    }
    let f = format!("{rest:0digits$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// nats-server's uptime form: whole seconds shown as `4s`, `3m4s`, `2h3m4s`, `1d2h3m4s`,
/// `1y1d2h3m4s` (a year is 365 days).
pub fn uptime(d: Duration) -> String {
    let secs = d.as_secs();
    let (mins, hrs, days) = (secs / 60, secs / 3600, secs / 86_400);
    let years = days / 365;
    if years > 0 {
        format!(
            "{years}y{}d{}h{}m{}s",
            days % 365,
            hrs % 24,
            mins % 60,
            secs % 60
        )
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hrs % 24, mins % 60, secs % 60)
    } else if hrs > 0 {
        format!("{hrs}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// JSON indented with two spaces, as Go's `json.MarshalIndent(v, "", "  ")`; no trailing
/// newline. Go escapes `<`, `>` and `&` in strings; so does this, because subjects such as
/// `$JS.API.>` appear in monitoring output and tools compare them byte for byte.
pub fn to_json_pretty<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into());
    go_escape(&text).into_bytes()
}

/// Compact JSON with Go's HTML escaping (see [`to_json_pretty`]).
pub fn to_json_compact<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let text = serde_json::to_string(v).unwrap_or_else(|_| "{}".into());
    go_escape(&text).into_bytes()
}

/// `<`, `>` and `&` only occur inside JSON strings, so replacing them everywhere is exact.
fn go_escape(json: &str) -> String {
    if !json.contains(['<', '>', '&']) {
        return json.to_string();
    }
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_match_go() {
        let check =
            |nanos: u64, want: &str| assert_eq!(go_duration(Duration::from_nanos(nanos)), want);
        check(0, "0s");
        check(950, "950ns");
        check(1_500, "1.5µs");
        check(200_958_286, "200.958286ms");
        check(1_000_000_000, "1s");
        check(60_500_000_000, "1m0.5s");
        check(3_600_000_000_000, "1h0m0s");
    }

    #[test]
    fn uptime_matches_nats_server() {
        assert_eq!(uptime(Duration::from_secs(4)), "4s");
        assert_eq!(uptime(Duration::from_secs(436)), "7m16s");
        assert_eq!(uptime(Duration::from_secs(90_061)), "1d1h1m1s");
        assert_eq!(uptime(Duration::from_secs(366 * 86_400)), "1y1d0h0m0s");
    }

    #[test]
    fn times_trim_trailing_zeros() {
        let t = UNIX_EPOCH + Duration::new(1_795_320_000, 550_000_000);
        assert!(rfc3339(t).ends_with(":00.55Z"), "{}", rfc3339(t));
        let t = UNIX_EPOCH + Duration::new(1_795_320_000, 0);
        assert!(rfc3339(t).ends_with(":00Z"));
    }

    #[test]
    fn json_escapes_like_go() {
        let v = serde_json::json!(["$JS.API.>", 2.0]);
        let out = String::from_utf8(to_json_compact(&v)).unwrap();
        assert_eq!(out, r#"["$JS.API.\u003e",2.0]"#);
        #[derive(serde::Serialize)]
        struct F {
            #[serde(serialize_with = "ser_float")]
            whole: f64,
            #[serde(serialize_with = "ser_float")]
            part: f64,
        }
        let out = to_json_compact(&F {
            whole: 2.0,
            part: 0.25,
        });
        assert_eq!(out, br#"{"whole":2,"part":0.25}"#);
    }
}
