//! Message schedule patterns (`Nats-Schedule`, ADR-51): `@at <RFC 3339>` fires once,
//! `@every <Go duration>` (at least 1 s) repeats, and a six-field cron expression
//! (`sec min hour day-of-month month day-of-week`, with `*`/`?`, lists, ranges, steps and
//! month/day names, or `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`) repeats in a
//! time zone (`Nats-Schedule-Time-Zone`, cron only; UTC otherwise). Like nats-server, a
//! schedule that would have fired several times while nobody looked fires once, counted
//! from now.

use chrono::{
    DateTime, Datelike, Duration as CDuration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

/// When a schedule fires next, and whether it repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fire {
    pub at_ns: i64,
    pub repeats: bool,
}

/// The time zone a `Nats-Schedule-Time-Zone` value names; `Err` when it names none.
pub fn zone(name: &str) -> Result<Tz, ()> {
    if name.is_empty() {
        return Err(());
    }
    name.parse::<Tz>().map_err(|_| ())
}

/// The next firing of `pattern` for a schedule stored at `ts_ns`, seen at `now_ns`; `None`
/// when the pattern is invalid (or a zone is given for `@at` / `@every`).
pub fn next_fire(pattern: &str, tz: Option<Tz>, ts_ns: i64, now_ns: i64) -> Option<Fire> {
    if let Some(at) = pattern.strip_prefix("@at ") {
        if tz.is_some() {
            return None;
        }
        let t = DateTime::parse_from_rfc3339(at).ok()?;
        return Some(Fire {
            at_ns: t.timestamp_nanos_opt()?,
            repeats: false,
        });
    }
    if let Some(every) = pattern.strip_prefix("@every ") {
        if tz.is_some() {
            return None;
        }
        let step = go_duration_ns(every)?;
        if step < 1_000_000_000 {
            return None;
        }
        let mut next = round_to_second(ts_ns).checked_add(step)?;
        if next < now_ns {
            next = round_to_second(now_ns).checked_add(step)?;
        }
        return Some(Fire {
            at_ns: next,
            repeats: true,
        });
    }
    let expr = match pattern {
        "@yearly" | "@annually" => "0 0 0 1 1 *",
        "@monthly" => "0 0 0 1 * *",
        "@weekly" => "0 0 0 * * 0",
        "@daily" | "@midnight" => "0 0 0 * * *",
        "@hourly" => "0 0 * * * *",
        other => other,
    };
    let cron = Cron::parse(expr)?;
    let tz = tz.unwrap_or(Tz::UTC);
    let mut next = cron.after(ts_ns, tz)?;
    if next < now_ns {
        next = cron.after(round_to_second(now_ns), tz)?;
    }
    Some(Fire {
        at_ns: next,
        repeats: true,
    })
}

fn round_to_second(ns: i64) -> i64 {
    (ns + 500_000_000).div_euclid(1_000_000_000) * 1_000_000_000
}

/// A Go duration (`1h30m`, `2.5s`, `300ms`) in nanoseconds.
pub fn go_duration_ns(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&i| i > 0)?;
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    if total > i64::MAX as f64 {
        return None;
    }
    Some(if neg { -(total as i64) } else { total as i64 })
}

/// A parsed six-field cron expression: one bit per allowed value of each field; the top
/// bit marks a field written as `*` or `?` (day-of-month and day-of-week then both have
/// to match; otherwise either may).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cron {
    second: u64,
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
}

const ANY: u64 = 1 << 63;
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Cron {
    fn parse(expr: &str) -> Option<Cron> {
        let f: Vec<&str> = expr.split_whitespace().collect();
        if f.len() != 6 {
            return None;
        }
        Some(Cron {
            second: field(f[0], 0, 59, &[])?,
            minute: field(f[1], 0, 59, &[])?,
            hour: field(f[2], 0, 23, &[])?,
            dom: field(f[3], 1, 31, &[])?,
            month: field(f[4], 1, 12, &MONTHS)?,
            dow: field(f[5], 0, 6, &DAYS)?,
        })
    }

    fn day_ok(&self, d: NaiveDate) -> bool {
        let by_dom = self.dom & (1 << d.day()) != 0;
        let by_dow = self.dow & (1 << d.weekday().num_days_from_sunday()) != 0;
        if self.dom & ANY != 0 || self.dow & ANY != 0 {
            by_dom && by_dow
        } else {
            by_dom || by_dow
        }
    }

    /// The first matching second strictly after `ts_ns`, searched in wall-clock time of
    /// `tz` for at most five years.
    fn after(&self, ts_ns: i64, tz: Tz) -> Option<i64> {
        let start = Utc.timestamp_nanos(ts_ns).with_timezone(&tz).naive_local();
        let mut t = start.with_nanosecond(0)? + CDuration::seconds(1);
        let limit = start.year() + 5;
        while t.year() <= limit {
            if self.month & (1 << t.month()) == 0 {
                t = next_month(t)?;
                continue;
            }
            if !self.day_ok(t.date()) {
                t = t.date().succ_opt()?.and_hms_opt(0, 0, 0)?;
                continue;
            }
            if self.hour & (1 << t.hour()) == 0 {
                t = t.with_minute(0)?.with_second(0)? + CDuration::hours(1);
                continue;
            }
            if self.minute & (1 << t.minute()) == 0 {
                t = t.with_second(0)? + CDuration::minutes(1);
                continue;
            }
            if self.second & (1 << t.second()) == 0 {
                t += CDuration::seconds(1);
                continue;
            }
            // A wall-clock time skipped by a daylight-saving jump does not exist: go on.
            match tz.from_local_datetime(&t).earliest() {
                Some(at) => return at.timestamp_nanos_opt(),
                None => t += CDuration::seconds(1),
            }
        }
        None
    }
}

fn next_month(t: NaiveDateTime) -> Option<NaiveDateTime> {
    let (y, m) = if t.month() == 12 {
        (t.year() + 1, 1)
    } else {
        (t.year(), t.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)
}

/// One cron field: a comma-separated list of `*`, `?`, `N`, `N-M`, each optionally `/step`
/// (`N/step` runs to the field's maximum). Names (case-insensitive) stand for numbers.
fn field(text: &str, min: u32, max: u32, names: &[&str]) -> Option<u64> {
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s.parse::<u32>().ok().filter(|&s| s > 0)?)),
            None => (part, None),
        };
        let value = |s: &str| -> Option<u32> {
            let lower = s.to_ascii_lowercase();
            match names.iter().position(|n| *n == lower) {
                Some(i) => Some(i as u32 + min),
                None => s.parse().ok(),
            }
        };
        let (lo, hi, any) = if range == "*" || range == "?" {
            (min, max, true)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?, false)
        } else {
            let v = value(range)?;
            (v, if step.is_some() { max } else { v }, false)
        };
        if lo < min || hi > max || lo > hi {
            return None;
        }
        let step = step.unwrap_or(1);
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
        if any && step == 1 {
            bits |= ANY;
        }
    }
    Some(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap()
    }

    #[test]
    fn at_every_and_cron() {
        let now = at("2026-03-10T12:00:00Z");
        let f = next_fire("@at 2026-03-10T12:00:05Z", None, now, now).unwrap();
        assert_eq!(
            f,
            Fire {
                at_ns: at("2026-03-10T12:00:05Z"),
                repeats: false
            }
        );
        let f = next_fire("@every 1m30s", None, now, now).unwrap();
        assert_eq!(f.at_ns, at("2026-03-10T12:01:30Z"));
        assert!(f.repeats);
        // Missed firings collapse into one, counted from now.
        let later = now + 3_600_000_000_000;
        assert_eq!(
            next_fire("@every 10s", None, now, later).unwrap().at_ns,
            later + 10_000_000_000
        );
        assert_eq!(next_fire("@every 500ms", None, now, now), None);
        assert_eq!(
            next_fire("@hourly", None, now, now).unwrap().at_ns,
            at("2026-03-10T13:00:00Z")
        );
        assert_eq!(
            next_fire("*/15 * * * * *", None, now, now).unwrap().at_ns,
            at("2026-03-10T12:00:15Z")
        );
        assert_eq!(
            next_fire("0 30 9 * * mon-fri", None, now, now)
                .unwrap()
                .at_ns,
            at("2026-03-11T09:30:00Z")
        );
        // Day of month OR day of week when both are restricted.
        assert_eq!(
            next_fire("0 0 0 15 * sun", None, now, now).unwrap().at_ns,
            at("2026-03-15T00:00:00Z")
        );
        assert_eq!(next_fire("0 0 0 31 feb *", None, now, now), None);
        let ny = zone("America/New_York").unwrap();
        // 08:00 in New York (EDT since March 8th): 09:00 the same day.
        assert_eq!(
            next_fire("0 0 9 * * *", Some(ny), now, now).unwrap().at_ns,
            at("2026-03-10T13:00:00Z")
        );
        assert_eq!(next_fire("@every 1s", Some(ny), now, now), None);
        for bad in [
            "",
            "* * * * *",
            "60 * * * * *",
            "* * * * 13 *",
            "*/0 * * * * *",
            "@every",
            "@at soon",
        ] {
            assert_eq!(next_fire(bad, None, now, now), None, "{bad}");
        }
        assert!(zone("Mars/Olympus").is_err() && zone("").is_err());
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration_ns("1h30m"), Some(5_400_000_000_000));
        assert_eq!(go_duration_ns("2.5s"), Some(2_500_000_000));
        assert_eq!(go_duration_ns("300ms"), Some(300_000_000));
        assert_eq!(go_duration_ns("10"), None);
        assert_eq!(go_duration_ns("s"), None);
    }
}
