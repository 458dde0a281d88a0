//! Message schedules (`allow_msg_schedules`, ADR-51). A message with `Nats-Schedule` is a
//! schedule: stored (one per subject, a `sub` rollup replaces the previous one) and, when
//! it fires, the stream stores a copy on `Nats-Schedule-Target` (or the last message of
//! `Nats-Schedule-Source`) with `Nats-Scheduler: <schedule subject>` and
//! `Nats-Schedule-Next: <next firing>` or `purge` (a one-shot schedule, which the stream then
//! removes). `Nats-Schedule-TTL` and `Nats-Schedule-Rollup` become the copy's `Nats-TTL` and
//! `Nats-Rollup`. A task per stream sleeps until the next firing (at least 250 ms apart).
//! Checks and errors are nats-server's; schedules are rebuilt from the stream on restart.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use natrium_store::{MessageStore, StoreError};

use super::{parse_ttl, Stream};
use crate::cron;
use crate::errors::{self as e, ApiError};
use crate::headers as h;
use crate::types::StreamConfig;
use crate::InMsg;

pub(super) const SCHEDULE: &str = "Nats-Schedule";
const TIME_ZONE: &str = "Nats-Schedule-Time-Zone";
const SCHEDULE_TTL: &str = "Nats-Schedule-TTL";
const SCHEDULE_ROLLUP: &str = "Nats-Schedule-Rollup";
const TARGET: &str = "Nats-Schedule-Target";
const SOURCE: &str = "Nats-Schedule-Source";
const SCHEDULER: &str = "Nats-Scheduler";
const NEXT: &str = "Nats-Schedule-Next";
const PURGE: &str = "purge";

/// Firings closer together than this are batched.
const MIN_WAIT: Duration = Duration::from_millis(250);
/// A firing whose copy was not stored within this long is retried.
const INFLIGHT_RETRY: Duration = Duration::from_secs(5);

/// The stream's schedules.
#[derive(Default)]
pub(super) struct Schedules {
    /// Schedule subject → (sequence of the schedule message, next firing in unix ns).
    by_subject: HashMap<String, (u64, i64)>,
    /// Schedule subjects whose copy is being stored, and since when.
    inflight: HashMap<String, Instant>,
}

/// What storing a message means for the schedules, learned at ingest and applied once the
/// message is stored.
#[derive(Debug, Clone, Default)]
pub(super) struct Note {
    /// The message is a schedule: its pattern and time zone.
    schedule: Option<(String, Option<chrono_tz::Tz>)>,
    /// A plain message replaced whatever schedule its subject held.
    clears: bool,
    /// A fired copy: the schedule it came from, and its next firing (`None`: purge it).
    fired: Option<(String, Option<i64>)>,
}

impl Note {
    /// The note has to remove messages (a one-shot schedule), which the store's writer
    /// thread must not do.
    pub(super) fn purges(&self) -> bool {
        matches!(self.fired, Some((_, None)))
    }
}

fn zone_of(hdr: &[u8]) -> Result<Option<chrono_tz::Tz>, ApiError> {
    match h::get(hdr, TIME_ZONE) {
        None => Ok(None),
        Some(z) => cron::zone(z)
            .map(Some)
            .map_err(|_| e::JS_MESSAGE_SCHEDULES_TIME_ZONE_INVALID.err()),
    }
}

/// nats-server's checks of a client's message for schedule headers. Returns the headers to
/// store instead (a schedule gets `Nats-Rollup: sub`) and what storing it means.
pub(super) fn check(
    cfg: &StreamConfig,
    store: &dyn MessageStore,
    subject: &str,
    hdr: &[u8],
) -> Result<(Option<Bytes>, Option<Note>), ApiError> {
    let get = |name: &str| {
        if hdr.is_empty() {
            None
        } else {
            h::get(hdr, name)
        }
    };
    let allow = cfg.allow_msg_schedules;
    let mut note = Note::default();
    let mut headers = None;
    match get(SCHEDULE).filter(|p| !p.is_empty()) {
        Some(pattern) => {
            let disabled = |err: ApiError| {
                if allow {
                    err
                } else {
                    e::JS_MESSAGE_SCHEDULES_DISABLED.err()
                }
            };
            let tz = zone_of(hdr).map_err(disabled)?;
            let now = natrium_store::now_nanos();
            if cron::next_fire(pattern, tz, now, now).is_none() {
                return Err(disabled(e::JS_MESSAGE_SCHEDULES_PATTERN_INVALID.err()));
            }
            if !allow {
                return Err(e::JS_MESSAGE_SCHEDULES_DISABLED.err());
            }
            let ttl = get(SCHEDULE_TTL).filter(|t| !t.is_empty());
            if ttl.is_some_and(|t| parse_ttl(t).is_none()) {
                return Err(e::JS_MESSAGE_SCHEDULES_TTL_INVALID.err());
            }
            if get(SCHEDULE_ROLLUP).is_some_and(|r| !r.is_empty() && r != "sub") {
                return Err(e::JS_MESSAGE_SCHEDULES_ROLLUP_INVALID.err());
            }
            if ttl.is_some() && !cfg.allow_msg_ttl {
                return Err(e::JS_MESSAGE_TTL_DISABLED.err());
            }
            let valid = |s: &str| natrium_sublist::is_valid_literal_subject(s);
            let target = get(TARGET).unwrap_or_default();
            if target.is_empty() || !valid(target) || target == subject {
                return Err(e::JS_MESSAGE_SCHEDULES_TARGET_INVALID.err());
            }
            let source = get(SOURCE).unwrap_or_default();
            if !source.is_empty() && (source == target || source == subject || !valid(source)) {
                return Err(e::JS_MESSAGE_SCHEDULES_SOURCE_INVALID.err());
            }
            let in_stream = |s: &str| {
                cfg.subjects
                    .iter()
                    .any(|f| natrium_sublist::subject_matches(f, s))
            };
            if !in_stream(target) {
                return Err(e::JS_MESSAGE_SCHEDULES_TARGET_INVALID.err());
            }
            if !source.is_empty() && !in_stream(source) {
                return Err(e::JS_MESSAGE_SCHEDULES_SOURCE_INVALID.err());
            }
            match get(h::ROLLUP) {
                None => headers = Some(h::append(Some(hdr), &[(h::ROLLUP, "sub")])),
                Some("sub") => {}
                Some(_) => return Err(e::JS_MESSAGE_SCHEDULES_ROLLUP_INVALID.err()),
            }
            note.schedule = Some((pattern.to_string(), tz));
        }
        None => note.clears = true,
    }
    if let Some(next) = get(NEXT).filter(|n| !n.is_empty()) {
        // A client may only use it to purge a schedule.
        let scheduler = get(SCHEDULER).unwrap_or_default();
        let bad_scheduler = scheduler.is_empty()
            || scheduler == subject
            || !natrium_sublist::is_valid_literal_subject(scheduler);
        if next != PURGE || bad_scheduler {
            return Err(e::JS_MESSAGE_SCHEDULES_SCHEDULER_INVALID.err());
        }
        if !allow {
            return Err(e::JS_MESSAGE_SCHEDULES_DISABLED.err());
        }
        // The subject must hold a schedule (or nothing, as nats-server allows).
        match store.load_last_msg(scheduler) {
            Ok(m)
                if m.headers
                    .as_deref()
                    .and_then(|b| h::get(b, SCHEDULE))
                    .is_none() =>
            {
                return Err(e::JS_MESSAGE_SCHEDULES_SCHEDULER_INVALID.err());
            }
            _ => {}
        }
        note.fired = Some((scheduler.to_string(), None));
        note.clears = false;
    } else if get(SCHEDULER).is_some_and(|s| !s.is_empty()) {
        return Err(e::JS_MESSAGE_SCHEDULES_SCHEDULER_INVALID.err());
    }
    Ok((headers, allow.then_some(note)))
}

/// What a fired copy stored by the stream itself means (no client checks).
pub(super) fn note_of_copy(hdr: &[u8]) -> Note {
    let scheduler = h::get(hdr, SCHEDULER).unwrap_or_default().to_string();
    let next = match h::get(hdr, NEXT) {
        Some(PURGE) | None => None,
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt()),
    };
    Note {
        schedule: None,
        clears: false,
        fired: Some((scheduler, next)),
    }
}

impl Stream {
    /// Applies what storing message `seq` (at `ts`) on `subject` means for the schedules.
    /// Runs off the store's writer thread when the note purges.
    pub(super) fn schedule_stored(&self, note: &Note, subject: &str, seq: u64, ts: i64) {
        let mut s = self.schedules.lock();
        if let Some((pattern, tz)) = &note.schedule {
            let now = natrium_store::now_nanos();
            match cron::next_fire(pattern, *tz, ts, now) {
                Some(f) => {
                    s.by_subject.insert(subject.to_string(), (seq, f.at_ns));
                }
                None => {
                    s.by_subject.remove(subject);
                }
            }
            s.inflight.remove(subject);
        } else if note.clears {
            s.by_subject.remove(subject);
            s.inflight.remove(subject);
        }
        match &note.fired {
            Some((scheduler, Some(next))) => {
                if let Some(e) = s.by_subject.get_mut(scheduler) {
                    e.1 = *next;
                }
                s.inflight.remove(scheduler);
            }
            Some((scheduler, None)) => {
                s.by_subject.remove(scheduler);
                s.inflight.remove(scheduler);
                drop(s);
                // A one-shot schedule is done: remove it.
                let _ = self.store.purge_ex(scheduler, 0, 0);
                self.schedule_wake.notify_one();
                return;
            }
            None => {}
        }
        drop(s);
        self.schedule_wake.notify_one();
    }

    /// Rebuilds the schedules from the stream (each subject's last message) and starts the
    /// task that fires them.
    pub(super) fn start_schedules(self: &Arc<Self>) {
        if !self.config().allow_msg_schedules {
            return;
        }
        let now = natrium_store::now_nanos();
        {
            let mut s = self.schedules.lock();
            for subject in self.store.subjects_totals(">").into_keys() {
                let Ok(m) = self.store.load_last_msg(&subject) else {
                    continue;
                };
                let hdr = m.headers.as_deref().unwrap_or_default();
                let Some(pattern) = h::get(hdr, SCHEDULE) else {
                    continue;
                };
                let tz = zone_of(hdr).ok().flatten();
                if let Some(f) = cron::next_fire(pattern, tz, m.ts, now) {
                    s.by_subject.insert(subject, (m.seq, f.at_ns));
                }
            }
        }
        let Some(js) = self.js() else { return };
        let me: Weak<Stream> = Arc::downgrade(self);
        let wake = self.schedule_wake.clone();
        js.runtime().spawn(async move {
            loop {
                let wait = match me.upgrade() {
                    Some(s) if !s.is_stopped() => s.fire_due(),
                    _ => return,
                };
                let _ = tokio::time::timeout(wait.max(MIN_WAIT), wake.notified()).await;
            }
        });
    }

    /// Fires every schedule that is due; returns how long until the next one.
    fn fire_due(self: &Arc<Self>) -> Duration {
        let now = natrium_store::now_nanos();
        let (due, next) = {
            let mut s = self.schedules.lock();
            s.inflight
                .retain(|_, since| since.elapsed() < INFLIGHT_RETRY);
            let mut due = Vec::new();
            let mut next = i64::MAX;
            for (subject, &(seq, at)) in &s.by_subject {
                if s.inflight.contains_key(subject) {
                    continue;
                }
                if at <= now {
                    due.push((seq, subject.clone()));
                } else {
                    next = next.min(at);
                }
            }
            due.sort_unstable();
            for (_, subject) in &due {
                s.inflight.insert(subject.clone(), Instant::now());
            }
            (due, next)
        };
        for (seq, subject) in due {
            match self.scheduled_copy(seq, &subject, now) {
                Some(m) => self.ingest_scheduled(m),
                None => {
                    let mut s = self.schedules.lock();
                    s.by_subject.remove(&subject);
                    s.inflight.remove(&subject);
                }
            }
        }
        if next == i64::MAX {
            Duration::from_secs(3600)
        } else {
            Duration::from_nanos((next - now).max(0) as u64)
        }
    }

    /// The message schedule `seq` on `subject` publishes now; `None` when the schedule is
    /// gone or no longer valid.
    fn scheduled_copy(&self, seq: u64, subject: &str, now: i64) -> Option<InMsg> {
        let m = match self.store.load_msg(seq) {
            Ok(m) => m,
            Err(StoreError::NotFound) | Err(_) => return None,
        };
        let hdr = m.headers.as_deref().unwrap_or_default();
        let pattern = h::get(hdr, SCHEDULE)?;
        let tz = zone_of(hdr).ok()?;
        let fire = cron::next_fire(pattern, tz, now, now)?;
        let ttl = h::get(hdr, SCHEDULE_TTL).filter(|t| !t.is_empty());
        if ttl.is_some_and(|t| parse_ttl(t).is_none()) {
            return None;
        }
        let target = h::get(hdr, TARGET).filter(|t| !t.is_empty())?.to_string();
        let rollup = h::get(hdr, SCHEDULE_ROLLUP).filter(|r| !r.is_empty());
        // The content: the source subject's last message, else the schedule's own.
        let (body_hdr, payload) = match h::get(hdr, SOURCE).filter(|s| !s.is_empty()) {
            Some(src) => match self.store.load_last_msg(src) {
                Ok(sm) => (sm.headers, sm.payload),
                Err(_) => (m.headers.clone(), m.payload.clone()),
            },
            None => (m.headers.clone(), m.payload.clone()),
        };
        let kept = body_hdr.as_deref().and_then(|b| {
            h::remove(b, |k| {
                let k = k.to_ascii_lowercase();
                k.starts_with("nats-schedule")
                    || k.starts_with("nats-expected-")
                    || k == "nats-msg-id"
                    || k == "nats-ttl"
                    || k == "nats-rollup"
            })
        });
        let next = if fire.repeats {
            crate::types::rfc3339(fire.at_ns)
        } else {
            PURGE.to_string()
        };
        let mut add = vec![(SCHEDULER, subject), (NEXT, next.as_str())];
        if let Some(t) = ttl {
            add.push((h::TTL, t));
        }
        if let Some(r) = rollup {
            add.push((h::ROLLUP, r));
        }
        Some(InMsg {
            origin: 0,
            subject: target,
            reply: None,
            headers: Some(h::append(kept.as_deref(), &add)),
            payload,
        })
    }
}
