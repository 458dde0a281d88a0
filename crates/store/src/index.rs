//! The in-memory message index shared by both stores: sequence → entry map, per-subject
//! sequence lists, TTL schedule, counters, and every rule a store enforces (limits,
//! discard-new, expiry, purge/compact/truncate selection) plus the read-side queries.
//!
//! It is generic over the location `L` of a message's bytes: the memory store keeps the
//! bytes themselves there, the file store a (block, offset, length) triple. The index does
//! no I/O and never calls callbacks; operations return the entries they removed so the
//! owning store can write tombstones and notify listeners after releasing its lock.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use crate::error::{Result, StoreError};
use crate::subject::{is_all, is_literal, matches};
use crate::types::{Discard, RemovalReason, SimpleState, StoreConfig, StreamState};

/// One stored message's metadata and location.
#[derive(Debug, Clone)]
pub(crate) struct Entry<L> {
    pub subject: Arc<str>,
    pub ts: i64,
    /// Accounted size (nats-server's per-store formula).
    pub size: u64,
    /// Unix nanos at which a per-message TTL expires; 0 = none.
    pub expires: i64,
    pub loc: L,
}

/// A removed message, returned to the owning store.
pub(crate) type Removed<L> = (u64, Entry<L>);

/// How many map entries a wildcard `next_match` walks before switching to per-subject
/// lookups.
const LINEAR_SCAN_MAX: usize = 256;

#[derive(Debug)]
pub(crate) struct Index<L> {
    msgs: BTreeMap<u64, Entry<L>>,
    subjects: HashMap<Arc<str>, VecDeque<u64>>,
    ttls: BTreeSet<(i64, u64)>,
    first_seq: u64,
    last_seq: u64,
    last_ts: i64,
    bytes: u64,
}

impl<L> Index<L> {
    /// An empty index; `first_seq > 1` makes that the first sequence to be assigned.
    pub fn new(first_seq: u64) -> Self {
        let (first, last) = if first_seq > 1 {
            (first_seq, first_seq - 1)
        } else {
            (0, 0)
        };
        Index {
            msgs: BTreeMap::new(),
            subjects: HashMap::new(),
            ttls: BTreeSet::new(),
            first_seq: first,
            last_seq: last,
            last_ts: 0,
            bytes: 0,
        }
    }

    pub fn next_seq(&self) -> u64 {
        self.last_seq + 1
    }
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }
    pub fn len(&self) -> u64 {
        self.msgs.len() as u64
    }
    pub fn get(&self, seq: u64) -> Option<&Entry<L>> {
        self.msgs.get(&seq)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&u64, &Entry<L>)> {
        self.msgs.iter()
    }

    /// Forces the sequence bounds (recovery, restore). `last` never moves backwards here.
    pub fn set_bounds(&mut self, first: u64, last: u64, last_ts: i64) {
        self.last_seq = self.last_seq.max(last);
        if last_ts != 0 {
            self.last_ts = last_ts;
        }
        self.first_seq = match self.msgs.keys().next() {
            Some(&s) => s,
            None if self.last_seq == 0 && first <= 1 => 0,
            None => first.max(self.last_seq + 1),
        };
    }

    /// The shared subject string for `subject`, so every entry of one subject shares it.
    pub fn intern(&self, subject: &str) -> Arc<str> {
        match self.subjects.get_key_value(subject) {
            Some((k, _)) => k.clone(),
            None => Arc::from(subject),
        }
    }

    /// Discard-new checks, as nats-server orders them. `size` is the new message's
    /// accounted size.
    /// The sequence an append gets, after the checks both stores share: the discard-new
    /// limits (when `discard_check`) and a caller-chosen sequence that must not go back
    /// (`seq` 0 means the next one).
    pub fn assign_seq(
        &self,
        cfg: &StoreConfig,
        subject: &str,
        size: u64,
        discard_check: bool,
        seq: u64,
    ) -> Result<u64> {
        if discard_check {
            self.check_discard_new(cfg, subject, size)?;
        }
        let next = self.next_seq();
        if seq != 0 && seq < next {
            return Err(StoreError::SequenceMismatch {
                expected: next,
                got: seq,
            });
        }
        Ok(if seq == 0 { next } else { seq })
    }

    pub fn check_discard_new(&self, cfg: &StoreConfig, subject: &str, size: u64) -> Result<()> {
        if cfg.discard != Discard::New {
            return Ok(());
        }
        let subj_list = self.subjects.get(subject);
        let at_subject_limit = match (cfg.max_per_subject_limit(), subj_list) {
            (Some(max), Some(list)) => list.len() as u64 >= max,
            _ => false,
        };
        if at_subject_limit && cfg.discard_new_per_subject {
            return Err(StoreError::MaxMsgsPerSubject);
        }
        if let Some(max) = cfg.max_msgs_limit() {
            if self.len() >= max && !at_subject_limit {
                return Err(StoreError::MaxMsgs);
            }
        }
        if let Some(max) = cfg.max_bytes_limit() {
            if self.bytes + size > max {
                if !at_subject_limit {
                    return Err(StoreError::MaxBytes);
                }
                // The subject's oldest message will be replaced: enough only if it is at
                // least as large as the new one.
                let oldest = subj_list
                    .and_then(|l| l.front())
                    .and_then(|s| self.msgs.get(s));
                if oldest.is_none_or(|e| e.size < size) {
                    return Err(StoreError::MaxBytes);
                }
            }
        }
        Ok(())
    }

    /// The discard-new checks for messages appended as one batch (`(subject, size)` in
    /// order): each is checked as if the ones before it were stored, including what a
    /// per-subject limit would have evicted for them. Passing means appending them in order
    /// cannot fail a discard-new check.
    pub fn check_discard_new_batch(&self, cfg: &StoreConfig, batch: &[(&str, u64)]) -> Result<()> {
        if cfg.discard != Discard::New {
            return Ok(());
        }
        let (mut len, mut bytes) = (self.len(), self.bytes);
        // Per subject: stored messages already evicted, and the batch's own sizes.
        let mut subjects: HashMap<&str, (usize, VecDeque<u64>)> = HashMap::new();
        for &(subject, size) in batch {
            let stored = self.subjects.get(subject);
            let st = subjects.entry(subject).or_default();
            let stored_left = stored.map_or(0, |l| l.len()).saturating_sub(st.0);
            let count = (stored_left + st.1.len()) as u64;
            let at_subject_limit = cfg.max_per_subject_limit().is_some_and(|max| count >= max);
            if at_subject_limit && cfg.discard_new_per_subject {
                return Err(StoreError::MaxMsgsPerSubject);
            }
            if cfg.max_msgs_limit().is_some_and(|max| len >= max) && !at_subject_limit {
                return Err(StoreError::MaxMsgs);
            }
            let oldest = if stored_left > 0 {
                stored
                    .and_then(|l| l.get(st.0))
                    .and_then(|s| self.msgs.get(s))
                    .map(|e| e.size)
            } else {
                st.1.front().copied()
            };
            if cfg.max_bytes_limit().is_some_and(|max| bytes + size > max)
                && (!at_subject_limit || oldest.is_none_or(|o| o < size))
            {
                return Err(StoreError::MaxBytes);
            }
            if at_subject_limit {
                if stored_left > 0 {
                    st.0 += 1;
                } else {
                    st.1.pop_front();
                }
                bytes = (bytes + size).saturating_sub(oldest.unwrap_or(0));
            } else {
                len += 1;
                bytes += size;
            }
            st.1.push_back(size);
        }
        Ok(())
    }

    /// Inserts the message `seq`, which must be above `last_seq`.
    pub fn insert(&mut self, seq: u64, entry: Entry<L>) {
        debug_assert!(seq > self.last_seq || (self.last_seq == 0 && seq >= 1));
        if self.msgs.is_empty() {
            self.first_seq = seq;
        }
        self.bytes += entry.size;
        self.last_seq = seq;
        self.last_ts = entry.ts;
        if entry.expires != 0 {
            self.ttls.insert((entry.expires, seq));
        }
        match self.subjects.get_mut(&*entry.subject) {
            Some(list) => list.push_back(seq),
            None => {
                self.subjects
                    .insert(entry.subject.clone(), VecDeque::from([seq]));
            }
        }
        self.msgs.insert(seq, entry);
    }

    /// Points message `seq` (if present) at a new location.
    pub fn set_loc(&mut self, seq: u64, loc: L) {
        if let Some(e) = self.msgs.get_mut(&seq) {
            e.loc = loc;
        }
    }

    /// Inserts message `seq` at or below `last_seq` (a moved record replayed after its
    /// original block was unlinked); a present `seq` only gets the new entry's location.
    pub fn insert_moved(&mut self, seq: u64, entry: Entry<L>) {
        if seq > self.last_seq {
            self.insert(seq, entry);
            return;
        }
        if let Some(e) = self.msgs.get_mut(&seq) {
            e.loc = entry.loc;
            return;
        }
        self.bytes += entry.size;
        if entry.expires != 0 {
            self.ttls.insert((entry.expires, seq));
        }
        let list = self.subjects.entry(entry.subject.clone()).or_default();
        let pos = list.partition_point(|&s| s < seq);
        list.insert(pos, seq);
        if self.msgs.is_empty() || seq < self.first_seq {
            self.first_seq = seq;
        }
        self.msgs.insert(seq, entry);
    }

    /// Removes the message `seq` if present.
    pub fn remove(&mut self, seq: u64) -> Option<Entry<L>> {
        let entry = self.msgs.remove(&seq)?;
        self.bytes = self.bytes.saturating_sub(entry.size);
        if entry.expires != 0 {
            self.ttls.remove(&(entry.expires, seq));
        }
        if let Some(list) = self.subjects.get_mut(&*entry.subject) {
            if list.front() == Some(&seq) {
                list.pop_front();
            } else if let Ok(pos) = list.binary_search(&seq) {
                list.remove(pos);
            }
            if list.is_empty() {
                self.subjects.remove(&*entry.subject);
            }
        }
        if seq == self.first_seq {
            self.first_seq = self
                .msgs
                .keys()
                .next()
                .copied()
                .unwrap_or(self.last_seq + 1);
        }
        Some(entry)
    }

    fn remove_into(&mut self, seqs: impl IntoIterator<Item = u64>, out: &mut Vec<Removed<L>>) {
        for seq in seqs {
            if let Some(e) = self.remove(seq) {
                out.push((seq, e));
            }
        }
    }

    /// Discard-old limits after inserting a message on `subject`.
    pub fn enforce_limits(&mut self, cfg: &StoreConfig, subject: &str) -> Vec<Removed<L>> {
        let mut out = Vec::new();
        if let Some(max) = cfg.max_per_subject_limit() {
            let over: Vec<u64> = match self.subjects.get(subject) {
                Some(list) if list.len() as u64 > max => list
                    .iter()
                    .take(list.len() - max as usize)
                    .copied()
                    .collect(),
                _ => Vec::new(),
            };
            self.remove_into(over, &mut out);
        }
        self.enforce_stream_limits(cfg, &mut out);
        out
    }

    fn enforce_stream_limits(&mut self, cfg: &StoreConfig, out: &mut Vec<Removed<L>>) {
        if let Some(max) = cfg.max_msgs_limit() {
            while self.len() > max {
                let Some(&seq) = self.msgs.keys().next() else {
                    break;
                };
                self.remove_into([seq], out);
            }
        }
        if let Some(max) = cfg.max_bytes_limit() {
            while self.bytes > max {
                let Some(&seq) = self.msgs.keys().next() else {
                    break;
                };
                self.remove_into([seq], out);
            }
        }
    }

    /// Every limit, for every subject (after a config change).
    pub fn enforce_all_limits(&mut self, cfg: &StoreConfig) -> Vec<Removed<L>> {
        let mut out = Vec::new();
        if let Some(max) = cfg.max_per_subject_limit() {
            let mut over = Vec::new();
            for list in self.subjects.values() {
                if list.len() as u64 > max {
                    over.extend(list.iter().take(list.len() - max as usize).copied());
                }
            }
            over.sort_unstable();
            self.remove_into(over, &mut out);
        }
        self.enforce_stream_limits(cfg, &mut out);
        out
    }

    /// Removes messages past max_age or TTL at `now` (unix nanos). With
    /// `cfg.subject_delete_markers`, a due message that is the last of its subject stays and
    /// is listed in `spared` instead (its caller replaces it with a delete marker).
    pub fn expire(
        &mut self,
        cfg: &StoreConfig,
        now: i64,
        spared: &mut Vec<(u64, Arc<str>)>,
    ) -> Vec<(u64, Entry<L>, RemovalReason)> {
        let mut due: Vec<(u64, RemovalReason)> = Vec::new();
        if let Some(age) = cfg.max_age_ns() {
            let min_ts = now.saturating_sub(age);
            due.extend(
                self.msgs
                    .iter()
                    .take_while(|(_, e)| e.ts <= min_ts)
                    .map(|(&seq, _)| (seq, RemovalReason::MaxAge)),
            );
        }
        let stale: Vec<(i64, u64)> = self
            .ttls
            .iter()
            .take_while(|(exp, _)| *exp <= now)
            .copied()
            .collect();
        for (exp, seq) in stale {
            if self.msgs.contains_key(&seq) {
                due.push((seq, RemovalReason::Ttl));
            } else {
                self.ttls.remove(&(exp, seq));
            }
        }
        due.sort_unstable_by_key(|(seq, _)| *seq);
        due.dedup_by_key(|(seq, _)| *seq);
        let mut out = Vec::new();
        for (seq, why) in due {
            if cfg.subject_delete_markers {
                if let Some(e) = self.msgs.get(&seq) {
                    if self.subjects.get(&*e.subject).is_some_and(|l| l.len() == 1) {
                        spared.push((seq, e.subject.clone()));
                        continue;
                    }
                }
            }
            if let Some(e) = self.remove(seq) {
                out.push((seq, e, why));
            }
        }
        out
    }

    /// Unix nanos when the next message expires, if any.
    pub fn next_deadline(&self, cfg: &StoreConfig) -> Option<i64> {
        let age = cfg
            .max_age_ns()
            .and_then(|age| self.msgs.values().next().map(|e| e.ts.saturating_add(age)));
        let ttl = self.ttls.iter().next().map(|&(exp, _)| exp);
        match (age, ttl) {
            (Some(a), Some(t)) => Some(a.min(t)),
            (a, t) => a.or(t),
        }
    }

    /// First sequence >= `start` matching `filter`.
    pub fn next_match(&self, filter: &str, start: u64) -> Option<u64> {
        if is_all(filter) {
            return self.msgs.range(start..).next().map(|(&s, _)| s);
        }
        if is_literal(filter) {
            let list = self.subjects.get(filter)?;
            let pos = list.partition_point(|&s| s < start);
            return list.get(pos).copied();
        }
        for (&seq, e) in self.msgs.range(start..).take(LINEAR_SCAN_MAX) {
            if matches(filter, &e.subject) {
                return Some(seq);
            }
        }
        self.subjects
            .iter()
            .filter(|(subj, _)| matches(filter, subj))
            .filter_map(|(_, list)| list.get(list.partition_point(|&s| s < start)).copied())
            .min()
    }

    /// Last sequence matching `filter`.
    pub fn last_match(&self, filter: &str) -> Option<u64> {
        if is_all(filter) {
            return self.msgs.keys().next_back().copied();
        }
        if is_literal(filter) {
            return self.subjects.get(filter).and_then(|l| l.back().copied());
        }
        self.subjects
            .iter()
            .filter(|(subj, _)| matches(filter, subj))
            .filter_map(|(_, l)| l.back().copied())
            .max()
    }

    /// Last sequence <= `start`.
    pub fn prev(&self, start: u64) -> Option<u64> {
        self.msgs.range(..=start).next_back().map(|(&s, _)| s)
    }

    fn matching_subjects<'a>(
        &'a self,
        filter: &'a str,
    ) -> Box<dyn Iterator<Item = (&'a Arc<str>, &'a VecDeque<u64>)> + 'a> {
        if !is_all(filter) && is_literal(filter) {
            return Box::new(self.subjects.get_key_value(filter).into_iter());
        }
        Box::new(
            self.subjects
                .iter()
                .filter(move |(s, _)| matches(filter, s)),
        )
    }

    pub fn subjects_state(&self, filter: &str) -> BTreeMap<String, SimpleState> {
        self.matching_subjects(filter)
            .map(|(s, l)| {
                let st = SimpleState {
                    msgs: l.len() as u64,
                    first: l.front().copied().unwrap_or(0),
                    last: l.back().copied().unwrap_or(0),
                };
                (s.to_string(), st)
            })
            .collect()
    }

    pub fn subjects_totals(&self, filter: &str) -> BTreeMap<String, u64> {
        self.matching_subjects(filter)
            .map(|(s, l)| (s.to_string(), l.len() as u64))
            .collect()
    }

    pub fn num_pending(&self, start: u64, filter: &str, last_per_subject: bool) -> (u64, u64) {
        let pending = if last_per_subject {
            self.matching_subjects(filter)
                .filter(|(_, l)| l.back().is_some_and(|&s| s >= start))
                .count() as u64
        } else if is_all(filter) {
            if start <= self.first_seq {
                self.len()
            } else if start > self.last_seq {
                0
            } else if self.len() == self.last_seq + 1 - self.first_seq {
                // No deleted sequence between first and last: plain arithmetic.
                self.last_seq + 1 - start
            } else if start - self.first_seq < self.last_seq - start {
                // Count whichever side of `start` is shorter.
                self.len() - self.msgs.range(..start).count() as u64
            } else {
                self.msgs.range(start..).count() as u64
            }
        } else {
            self.matching_subjects(filter)
                .map(|(_, l)| (l.len() - l.partition_point(|&s| s < start)) as u64)
                .sum()
        };
        (pending, self.last_seq)
    }

    /// Sequences `purge_ex` removes for a subject filter (not the whole-stream shortcuts).
    pub fn purge_selection(&self, filter: &str, seq: u64, keep: u64) -> Vec<u64> {
        let bound = if seq == 0 { u64::MAX } else { seq - 1 };
        let mut all: Vec<u64> = if is_all(filter) {
            self.msgs.keys().copied().collect()
        } else {
            let mut v: Vec<u64> = self
                .matching_subjects(filter)
                .flat_map(|(_, l)| l.iter().copied())
                .collect();
            v.sort_unstable();
            v
        };
        let total = all.len() as u64;
        if keep > 0 {
            if keep >= total {
                return Vec::new();
            }
            all.truncate((total - keep) as usize);
        }
        all.retain(|&s| s <= bound);
        all
    }

    pub fn remove_many(&mut self, seqs: &[u64]) -> Vec<Removed<L>> {
        let mut out = Vec::with_capacity(seqs.len());
        self.remove_into(seqs.iter().copied(), &mut out);
        out
    }

    /// Removes everything below `seq` (all and moves the sequence forward if `seq` is past
    /// the end). `seq == 0` purges.
    pub fn compact(&mut self, seq: u64) -> Vec<Removed<L>> {
        if seq == 0 {
            return self.purge_all();
        }
        if self.first_seq > seq {
            return Vec::new();
        }
        if seq <= self.last_seq {
            let below: Vec<u64> = self.msgs.range(..seq).map(|(&s, _)| s).collect();
            let out = self.remove_many(&below);
            self.first_seq = self
                .msgs
                .keys()
                .next()
                .copied()
                .unwrap_or(self.last_seq + 1);
            out
        } else {
            let out = self.clear();
            self.first_seq = seq;
            self.last_seq = seq - 1;
            out
        }
    }

    fn clear(&mut self) -> Vec<Removed<L>> {
        let gone = std::mem::take(&mut self.msgs);
        self.subjects.clear();
        self.ttls.clear();
        self.bytes = 0;
        gone.into_iter().collect()
    }

    /// Removes every message; the next sequence stays.
    pub fn purge_all(&mut self) -> Vec<Removed<L>> {
        let out = self.clear();
        self.first_seq = self.last_seq + 1;
        out
    }

    /// Removes every message above `seq`; `seq == 0` resets the store to empty at 0. A
    /// `seq` at or past the end is a no-op.
    pub fn truncate(&mut self, seq: u64) -> Vec<Removed<L>> {
        if seq == 0 {
            let out = self.clear();
            self.first_seq = 0;
            self.last_seq = 0;
            self.last_ts = 0;
            return out;
        }
        if seq >= self.last_seq {
            return Vec::new();
        }
        let above: Vec<u64> = self.msgs.range(seq + 1..).map(|(&s, _)| s).collect();
        let out = self.remove_many(&above);
        self.last_seq = seq;
        if let Some(e) = self.msgs.get(&seq) {
            self.last_ts = e.ts;
        }
        if self.msgs.is_empty() {
            self.first_seq = seq + 1;
        }
        out
    }

    /// The stream state; `with_deleted` adds the interior deleted list.
    pub fn state(&self, with_deleted: bool) -> StreamState {
        let msgs = self.len();
        let span = if self.last_seq >= self.first_seq && self.first_seq > 0 {
            self.last_seq - self.first_seq + 1
        } else {
            0
        };
        let num_deleted = span.saturating_sub(msgs);
        let deleted = with_deleted.then(|| {
            let mut out = Vec::with_capacity(num_deleted.min(1 << 20) as usize);
            let mut expect = self.first_seq;
            for &s in self.msgs.keys() {
                out.extend(expect..s);
                expect = s + 1;
            }
            if self.first_seq > 0 {
                out.extend(expect..=self.last_seq);
            }
            out
        });
        StreamState {
            msgs,
            bytes: self.bytes,
            first_seq: self.first_seq,
            first_ts: self.msgs.values().next().map(|e| e.ts).unwrap_or(0),
            last_seq: self.last_seq,
            last_ts: self.last_ts,
            num_deleted,
            deleted,
            num_subjects: self.subjects.len() as u64,
            failed: None,
            corrupt_ranges: Vec::new(),
        }
    }
}

/// Checks an append against the config before any state changes: subject validity, TTL
/// permission and maximum message size (`max_msg_size`, and the file format's own bound).
pub(crate) fn validate_append(
    cfg: &StoreConfig,
    subject: &str,
    headers_len: usize,
    payload_len: usize,
    ttl: Option<std::time::Duration>,
) -> Result<()> {
    if !crate::subject::valid_publish_subject(subject)
        || subject.len() > crate::codec::MAX_SUBJECT_LEN
    {
        return Err(StoreError::InvalidSubject);
    }
    if ttl.is_some() && !cfg.allow_msg_ttl {
        return Err(StoreError::MsgTtlDisabled);
    }
    let body = headers_len + payload_len;
    if cfg.max_msg_size > 0 && body > cfg.max_msg_size as usize {
        return Err(StoreError::MaxMsgSize);
    }
    if crate::codec::msg_record_len(subject.len(), headers_len, payload_len)
        > crate::codec::MAX_RECORD_LEN
    {
        return Err(StoreError::MaxMsgSize);
    }
    Ok(())
}

/// How a `purge_ex` request maps onto the simpler operations, as nats-server's stores do.
pub(crate) enum PurgePlan {
    /// `seq == 1`: nothing lies below the first sequence.
    Nothing,
    /// Every subject, no bound, nothing kept: a plain purge.
    All,
    /// Every subject below a bound, nothing kept: a compaction.
    Compact(u64),
    /// Anything else: select the messages to remove.
    Select,
}

pub(crate) fn purge_plan(subject: &str, seq: u64, keep: u64) -> PurgePlan {
    if seq == 1 {
        return PurgePlan::Nothing;
    }
    if is_all(subject) {
        if keep == 0 && seq == 0 {
            return PurgePlan::All;
        }
        if seq > 1 {
            return PurgePlan::Compact(seq);
        }
    }
    PurgePlan::Select
}

/// Unix nanos at which a message stored at `ts` with `ttl` expires (0 = never).
pub(crate) fn expiry_of(ts: i64, ttl: Option<std::time::Duration>) -> i64 {
    match ttl {
        Some(d) if !d.is_zero() => ts.saturating_add(d.as_nanos().min(i64::MAX as u128) as i64),
        _ => 0,
    }
}
