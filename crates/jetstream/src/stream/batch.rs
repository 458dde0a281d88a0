//! Atomic batch publish (`allow_atomic`, ADR-50). Messages carrying `Nats-Batch-Id` and
//! `Nats-Batch-Sequence` (1, 2, ...) are staged per batch; the one carrying
//! `Nats-Batch-Commit: 1` (stored) or `eob` (not stored) commits. The commit checks every
//! message as if the ones before it were already in the stream, then hands the batch to the
//! store as one atomic append: it is acknowledged, visible and recovered whole or not at all.
//! Staged messages get an empty reply; the commit gets the PubAck with `batch` and `count`.
//! An unfinished batch is dropped after 10 s without a message. Limits, errors and the
//! abandoned advisory are nats-server's.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use natrium_store::{BatchMsg, StoreError};
use parking_lot::Mutex;

use super::{counter, rollup_of, schedule, store_error, ttl_of, CallState, DedupEntry, Stream};
use crate::errors::{self as e, ApiError};
use crate::headers as h;
use crate::transform::RepublishMsg;
use crate::types::{Retention, StreamConfig};
use crate::InMsg;

/// Most messages in one batch.
const MAX_BATCH_SIZE: u64 = 1000;
/// Most batches open at once on one stream, and on the whole server.
const MAX_INFLIGHT_PER_STREAM: usize = 50;
const MAX_INFLIGHT_TOTAL: usize = 1000;
/// A batch without a message for this long is abandoned.
const BATCH_TIMEOUT: Duration = Duration::from_secs(10);
use crate::API_LEVEL;

/// Batches open on every stream of this process.
static INFLIGHT: AtomicUsize = AtomicUsize::new(0);

/// One open batch.
struct Staged {
    msgs: Vec<InMsg>,
    last: Instant,
    /// Tells this batch's timer apart from that of a later batch with the same id.
    generation: u64,
}

/// A stream's open batches.
#[derive(Default)]
pub(super) struct Batches {
    open: HashMap<String, Staged>,
    generation: u64,
}

impl Batches {
    fn close(&mut self, id: &str) -> Option<Staged> {
        let staged = self.open.remove(id)?;
        INFLIGHT.fetch_sub(1, Ordering::Relaxed);
        Some(staged)
    }

    /// Closes every open batch (the stream stops).
    pub(super) fn clear(&mut self) {
        let n = self.open.len();
        self.open.clear();
        INFLIGHT.fetch_sub(n, Ordering::Relaxed);
    }
}

/// Why a batch was abandoned, as the advisory words it.
#[derive(Clone, Copy)]
enum Abandon {
    Timeout,
    Large,
    Incomplete,
    Unsupported,
}

impl Abandon {
    fn word(self) -> &'static str {
        match self {
            Abandon::Timeout => "timeout",
            Abandon::Large => "large",
            Abandon::Incomplete => "incomplete",
            Abandon::Unsupported => "unsupported",
        }
    }
}

/// What a committed message's completion needs.
struct Committed {
    subject: String,
    msg_id: Option<String>,
    rollup: Option<String>,
    republish: Option<RepublishMsg>,
    schedule: Option<schedule::Note>,
}

/// `Nats-Batch-Id`, if the message carries one.
pub(super) fn batch_id(hdr: &[u8]) -> Option<&str> {
    if hdr.is_empty() {
        return None;
    }
    h::get(hdr, h::BATCH_ID)
}

impl Stream {
    /// A message of atomic batch `id`. Errors go to the message's reply, as a PubAck error.
    pub(super) fn ingest_batch(
        self: &Arc<Self>,
        cfg: &StreamConfig,
        mut m: InMsg,
        id: String,
        reply: Option<String>,
    ) -> Result<(), ApiError> {
        if cfg.sealed {
            return Err(e::JS_STREAM_SEALED.err());
        }
        let size = m.payload.len() + m.headers.as_ref().map_or(0, |h| h.len());
        self.check_storage_limits(cfg, m.subject.len() + size)?;
        if cfg.max_msg_size > 0 && size > cfg.max_msg_size as usize {
            return Err(e::JS_STREAM_MESSAGE_EXCEEDS_MAXIMUM.err());
        }
        if !cfg.allow_atomic {
            return Err(e::JS_ATOMIC_PUBLISH_DISABLED.err());
        }
        if id.len() > 64 {
            return Err(e::JS_ATOMIC_PUBLISH_INVALID_BATCH_ID.err());
        }
        let hdr = m.headers.clone().unwrap_or_default();
        let seq: u64 = h::get(&hdr, h::BATCH_SEQ)
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| e::JS_ATOMIC_PUBLISH_MISSING_SEQ.err())?;
        let commit = h::get(&hdr, h::BATCH_COMMIT);
        let eob = commit == Some("eob");
        // The end-of-batch marker does not count toward the size.
        let size = if eob { seq.saturating_sub(1) } else { seq };
        let mut batches = self.batches.lock();
        if !batches.open.contains_key(&id) {
            if seq != 1 {
                if size > MAX_BATCH_SIZE {
                    return Err(e::JS_ATOMIC_PUBLISH_TOO_LARGE_BATCH.with(MAX_BATCH_SIZE));
                }
                return Err(e::JS_ATOMIC_PUBLISH_INCOMPLETE_BATCH.err());
            }
            if batches.open.len() >= MAX_INFLIGHT_PER_STREAM
                || INFLIGHT.fetch_add(1, Ordering::Relaxed) >= MAX_INFLIGHT_TOTAL
            {
                if batches.open.len() < MAX_INFLIGHT_PER_STREAM {
                    INFLIGHT.fetch_sub(1, Ordering::Relaxed);
                }
                return Err(e::JS_ATOMIC_PUBLISH_TOO_MANY_INFLIGHT.err());
            }
            batches.generation += 1;
            let generation = batches.generation;
            batches.open.insert(
                id.clone(),
                Staged {
                    msgs: Vec::new(),
                    last: Instant::now(),
                    generation,
                },
            );
            self.start_batch_timer(&id, generation);
        }
        // The error reply goes out before the advisory, as in nats-server.
        let abandon = |batches: &mut Batches, why: Abandon, err: ApiError| {
            batches.close(&id);
            if let Some(r) = &reply {
                self.send_ack_error(r, err);
            }
            self.batch_abandoned(&id, why);
            Ok(())
        };
        if commit.is_some_and(|c| c != "1" && c != "eob") {
            batches.close(&id);
            return Err(e::JS_ATOMIC_PUBLISH_INVALID_BATCH_COMMIT.err());
        }
        if let Some(level) = h::get(&hdr, h::REQUIRED_API_LEVEL) {
            if level.trim().parse::<u32>().map_or(true, |l| l > API_LEVEL) {
                let err = e::JS_REQUIRED_API_LEVEL.err();
                return abandon(&mut batches, Abandon::Unsupported, err);
            }
            m.headers = h::remove(&hdr, |k| k.eq_ignore_ascii_case(h::REQUIRED_API_LEVEL));
        }
        let Some(staged) = batches.open.get_mut(&id) else {
            return Err(e::JS_ATOMIC_PUBLISH_INCOMPLETE_BATCH.err());
        };
        let expired = staged.last.elapsed() >= BATCH_TIMEOUT;
        if staged.msgs.len() as u64 + 1 != seq || expired || (seq == 1 && eob) {
            let err = e::JS_ATOMIC_PUBLISH_INCOMPLETE_BATCH.err();
            return abandon(&mut batches, Abandon::Incomplete, err);
        }
        if size > MAX_BATCH_SIZE {
            let err = e::JS_ATOMIC_PUBLISH_TOO_LARGE_BATCH.with(MAX_BATCH_SIZE);
            return abandon(&mut batches, Abandon::Large, err);
        }
        if commit.is_none() {
            staged.msgs.push(m);
            staged.last = Instant::now();
            drop(batches);
            // An empty reply: staged, not yet committed.
            if let (Some(r), Some(js)) = (reply, self.js()) {
                js.outlet().publish(&r, None, None, Bytes::new());
            }
            return Ok(());
        }
        let mut msgs = batches.close(&id).map(|s| s.msgs).unwrap_or_default();
        drop(batches);
        if eob {
            // The last stored message carries the commit, as if it had committed itself.
            if let Some(last) = msgs.last_mut() {
                let kept = last
                    .headers
                    .as_deref()
                    .and_then(|b| h::remove(b, |k| k.eq_ignore_ascii_case(h::BATCH_COMMIT)));
                last.headers = Some(h::append(
                    kept.as_deref().or(last.headers.as_deref()),
                    &[(h::BATCH_COMMIT, "1")],
                ));
            }
        } else {
            msgs.push(m);
        }
        self.commit_batch(cfg, id, msgs, reply)
    }

    /// Checks every message of a complete batch as if the ones before it were stored, then
    /// appends all of them atomically.
    fn commit_batch(
        self: &Arc<Self>,
        cfg: &StreamConfig,
        id: String,
        msgs: Vec<InMsg>,
        reply: Option<String>,
    ) -> Result<(), ApiError> {
        let transforms = self.transforms.read().clone();
        let mut ing = self.ingest.lock();
        let mut ids = HashSet::new();
        let mut written: HashSet<String> = HashSet::new();
        let mut batch = Vec::with_capacity(msgs.len());
        let mut committed = Vec::with_capacity(msgs.len());
        let mut totals = counter::Totals::new();
        for (i, mut m) in msgs.into_iter().enumerate() {
            let subject = transforms.ingest_subject(&m.subject).unwrap_or(m.subject);
            let (replaced, schedule) = schedule::check(
                cfg,
                &*self.store,
                &subject,
                m.headers.as_deref().unwrap_or_default(),
            )?;
            if replaced.is_some() {
                m.headers = replaced;
            }
            let hdr = m.headers.as_deref().unwrap_or_default();
            let get = |name: &str| h::get(hdr, name);
            if get(h::EXPECTED_LAST_MSG_ID).is_some() {
                return Err(
                    e::JS_ATOMIC_PUBLISH_UNSUPPORTED_HEADER_BATCH.with(h::EXPECTED_LAST_MSG_ID)
                );
            }
            let incr = counter::increment(cfg, hdr, m.payload.len(), false)?;
            if get(h::EXPECTED_STREAM).is_some_and(|want| want != self.name) {
                return Err(e::JS_STREAM_NOT_MATCH.err());
            }
            let (ttl, ttl_headers) = ttl_of(cfg, hdr, get(h::TTL))?;
            let msg_id = get(h::MSG_ID).map(str::to_string);
            if let Some(mid) = &msg_id {
                match ing.dedup.get(mid) {
                    Some(d) if d.seq == 0 => {
                        return Err(e::JS_STREAM_DUPLICATE_MESSAGE_CONFLICT.err())
                    }
                    Some(_) => return Err(e::JS_ATOMIC_PUBLISH_CONTAINS_DUPLICATE_MESSAGE.err()),
                    None if !ids.insert(mid.clone()) => {
                        return Err(e::JS_ATOMIC_PUBLISH_CONTAINS_DUPLICATE_MESSAGE.err())
                    }
                    None => {}
                }
            }
            if let Some(v) = get(h::EXPECTED_LAST_SEQ) {
                // Checked against the sequence before this message; and only the first
                // message of a batch may expect one at all.
                let last = ing.next_seq.saturating_sub(1) + i as u64;
                if v.trim().parse::<u64>().ok() != Some(last) {
                    return Err(e::JS_STREAM_WRONG_LAST_SEQUENCE.with(last));
                }
                if i > 0 {
                    return Err(e::JS_STREAM_WRONG_LAST_SEQUENCE_CONSTANT.err());
                }
            }
            if let Some(v) = get(h::EXPECTED_LAST_SUBJ_SEQ) {
                let subj = get(h::EXPECTED_LAST_SUBJ_SEQ_SUBJ).unwrap_or(&subject);
                if written.contains(subj) || ing.inflight_subjects.contains_key(subj) {
                    return Err(e::JS_STREAM_WRONG_LAST_SEQUENCE_CONSTANT.err());
                }
                let last = self.last_subject_seq(&ing, subj)?;
                if v.trim().parse::<u64>().ok() != Some(last) {
                    return Err(e::JS_STREAM_WRONG_LAST_SEQUENCE.with(last));
                }
            } else if get(h::EXPECTED_LAST_SUBJ_SEQ_SUBJ).is_some() {
                return Err(e::JS_STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_INVALID.err());
            }
            let rollup = rollup_of(cfg, get(h::ROLLUP))?;
            match rollup.as_deref() {
                Some("sub") if written.contains(&subject) => {
                    return Err(e::JS_STREAM_ROLLUP_FAILED.with("batch rollup sub invalid"));
                }
                Some("all") if i > 0 => {
                    return Err(e::JS_STREAM_ROLLUP_FAILED.with("batch rollup all invalid"));
                }
                _ => {}
            }
            if let Some(incr) = incr {
                let c = counter::apply(
                    &*self.store,
                    &subject,
                    m.headers.as_ref(),
                    &m.payload,
                    incr,
                    Some(&mut totals),
                )?;
                m.headers = Some(c.headers);
                m.payload = c.payload;
            }
            let republish = match transforms.republish.as_ref() {
                Some(rp) => rp.destination(&subject).map(|dest| RepublishMsg {
                    dest,
                    // The sequence this subject last had before this message: what the
                    // batch wrote before it, or what the stream holds.
                    last_seq: 0,
                    headers: ttl_headers.clone().or_else(|| m.headers.clone()),
                    payload: m.payload.clone(),
                    headers_only: rp.headers_only(),
                }),
                None => None,
            };
            written.insert(subject.clone());
            batch.push(BatchMsg {
                subject: subject.clone(),
                headers: ttl_headers.or(m.headers),
                payload: m.payload,
                ttl,
            });
            committed.push(Committed {
                subject,
                msg_id,
                rollup,
                republish,
                schedule,
            });
        }
        // Republished copies name the subject's previous sequence: the stream's, then the
        // batch's own earlier message.
        let first = ing.next_seq;
        let mut last_of: HashMap<&str, u64> = HashMap::new();
        for (i, c) in committed.iter_mut().enumerate() {
            let prev = match last_of.get(c.subject.as_str()) {
                Some(&s) => s,
                None => self.last_subject_seq(&ing, &c.subject)?,
            };
            if let Some(rp) = &mut c.republish {
                rp.last_seq = prev;
            }
            last_of.insert(c.subject.as_str(), first + i as u64);
        }
        let n = batch.len() as u64;
        for (i, c) in committed.iter().enumerate() {
            if let Some(mid) = &c.msg_id {
                ing.dedup.insert(
                    mid.clone(),
                    DedupEntry {
                        seq: 0,
                        waiters: Vec::new(),
                    },
                );
                ing.dedup_order
                    .push_back((natrium_store::now_nanos(), mid.clone()));
            }
            let inflight = ing
                .inflight_subjects
                .entry(c.subject.clone())
                .or_insert((0, 0));
            *inflight = (first + i as u64, inflight.1 + 1);
        }
        let last_msg_id = committed.iter().rev().find_map(|c| c.msg_id.clone());
        let wake_expiry = batch.iter().any(|b| b.ttl.is_some()) || cfg.max_age > 0;
        let ctx = Arc::new(Mutex::new(Some((committed, reply))));
        let state = Arc::new(Mutex::new(CallState::Calling));
        let (state2, ctx2, me, id2) = (state.clone(), ctx.clone(), self.clone(), id.clone());
        let done = Box::new(move |res: Result<Vec<(u64, i64)>, StoreError>| {
            let mut st = state2.lock();
            if matches!(*st, CallState::Calling) {
                *st = CallState::Batch(res);
                return;
            }
            drop(st);
            if let Some((committed, reply)) = ctx2.lock().take() {
                me.complete_batch(&id2, committed, reply, res);
            }
        });
        self.store.store_batch_async(batch, done);
        if wake_expiry {
            self.expiry_wake.notify_one();
        }
        let parked = std::mem::replace(&mut *state.lock(), CallState::Returned);
        if !matches!(parked, CallState::Batch(Err(_))) {
            ing.next_seq += n;
            if last_msg_id.is_some() {
                ing.last_msg_id = last_msg_id;
            }
        }
        drop(ing);
        if let CallState::Batch(res) = parked {
            if let Some((committed, reply)) = ctx.lock().take() {
                self.complete_batch(&id, committed, reply, res);
            }
        }
        Ok(())
    }

    /// Finishes a committed batch: dedup and in-flight bookkeeping, then (off the store's
    /// thread) rollups, republished copies, the PubAck and the consumers' wake-up.
    fn complete_batch(
        self: &Arc<Self>,
        id: &str,
        committed: Vec<Committed>,
        reply: Option<String>,
        res: Result<Vec<(u64, i64)>, StoreError>,
    ) {
        {
            let mut ing = self.ingest.lock();
            for (i, c) in committed.iter().enumerate() {
                if let Some((_, n)) = ing.inflight_subjects.get_mut(&c.subject) {
                    *n -= 1;
                    if *n == 0 {
                        ing.inflight_subjects.remove(&c.subject);
                    }
                }
                if let Some(mid) = &c.msg_id {
                    match &res {
                        Ok(seqs) => {
                            if let Some(d) = ing.dedup.get_mut(mid) {
                                d.seq = seqs.get(i).map_or(0, |s| s.0);
                            }
                        }
                        Err(_) => {
                            ing.dedup.remove(mid);
                        }
                    }
                }
            }
        }
        let seqs = match res {
            Ok(seqs) => seqs,
            Err(err) => {
                if let Some(r) = &reply {
                    self.send_ack_error(r, store_error(&err));
                }
                return;
            }
        };
        let Some(js) = self.js() else { return };
        let me = self.clone();
        let id = id.to_string();
        // Rollups call back into the store, which its writer thread must not do.
        js.runtime().clone().spawn_blocking(move || {
            for (c, (seq, _)) in committed.iter().zip(&seqs) {
                match c.rollup.as_deref() {
                    Some("sub") => {
                        let _ = me.store.purge_ex(&c.subject, *seq, 0);
                    }
                    Some("all") => {
                        let _ = me.store.compact(*seq);
                    }
                    _ => {}
                }
            }
            let interest_none =
                me.config().retention == Retention::Interest && me.consumer_count() == 0;
            for (c, (seq, ts)) in committed.iter().zip(&seqs) {
                if let Some(note) = &c.schedule {
                    me.schedule_stored(note, &c.subject, *seq, *ts);
                }
                if interest_none {
                    let _ = me.store.remove_msg(*seq);
                }
                if let (Some(rp), Some(js)) = (&c.republish, me.js()) {
                    let (hdr, payload) = rp.build(&me.name, &c.subject, *seq, *ts);
                    js.outlet().publish(&rp.dest, None, Some(hdr), payload);
                }
            }
            if let (Some(r), Some(js), Some(&(last, _))) = (&reply, me.js(), seqs.last()) {
                let mut ack = super::pub_ack_json(&me.name, js.cfg.domain.as_deref(), last, false);
                ack.pop();
                let id = serde_json::to_string(&id).unwrap_or_default();
                ack.extend_from_slice(
                    format!(",\"batch\":{id},\"count\":{}}}", seqs.len()).as_bytes(),
                );
                js.outlet().publish(r, None, None, Bytes::from(ack));
            }
            me.notify_consumers();
        });
    }

    /// Drops the batch once it has been idle for the batch timeout.
    fn start_batch_timer(self: &Arc<Self>, id: &str, generation: u64) {
        let Some(js) = self.js() else { return };
        let (me, id): (Weak<Stream>, String) = (Arc::downgrade(self), id.to_string());
        js.runtime().spawn(async move {
            let mut wait = BATCH_TIMEOUT;
            loop {
                tokio::time::sleep(wait).await;
                let Some(stream) = me.upgrade() else { return };
                let mut batches = stream.batches.lock();
                match batches.open.get(&id) {
                    Some(s) if s.generation == generation => {
                        let idle = s.last.elapsed();
                        if idle < BATCH_TIMEOUT {
                            wait = BATCH_TIMEOUT - idle;
                            continue;
                        }
                        batches.close(&id);
                        drop(batches);
                        stream.batch_abandoned(&id, Abandon::Timeout);
                        return;
                    }
                    _ => return,
                }
            }
        });
    }

    fn batch_abandoned(&self, id: &str, why: Abandon) {
        if let Some(js) = self.js() {
            crate::advisory::batch_abandoned(&js, &self.name, id, why.word());
        }
    }
}
