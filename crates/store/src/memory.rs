//! The memory store: a [`MessageStore`] that keeps every message in the shared
//! [`Index`], with the message bytes as the index location. Nothing touches disk; appends
//! complete on the calling thread. Removal callbacks run after the lock is released.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::consumer::{ConsumerConfig, MemoryConsumerStore};
use crate::error::{Result, StoreError};
use crate::index::{expiry_of, validate_append, Entry, Index, Removed};
use crate::snapshot::{self, SnapMsg};
use crate::traits::{
    AppendDone, BatchDone, BatchMsg, ConsumerStore, MessageStore, RemovalCallback,
};
use crate::types::{
    from_unix_nanos, now_nanos, unix_nanos, ExpireOutcome, RemovalReason, SimpleState, StorageKind,
    StoreConfig, StoredMsg, StreamState,
};

/// nats-server's memory-store accounting: subject + headers + payload + 16.
pub fn mem_msg_size(subject: usize, headers: usize, payload: usize) -> u64 {
    (subject + headers + payload + 16) as u64
}

#[derive(Debug, Clone)]
pub(crate) struct MemBody {
    headers: Option<Bytes>,
    payload: Bytes,
}

struct Inner {
    cfg: StoreConfig,
    idx: Index<MemBody>,
    closed: bool,
}

/// A stream store held entirely in memory.
pub struct MemoryStore {
    inner: RwLock<Inner>,
    removal_cb: RwLock<Option<Arc<RemovalCallback>>>,
    consumers: Mutex<HashMap<String, Arc<MemoryConsumerStore>>>,
}

/// Creates a memory store for `cfg`.
pub fn new_memory_store(cfg: StoreConfig) -> Arc<MemoryStore> {
    Arc::new(MemoryStore {
        inner: RwLock::new(Inner {
            idx: Index::new(cfg.first_seq),
            cfg,
            closed: false,
        }),
        removal_cb: RwLock::new(None),
        consumers: Mutex::new(HashMap::new()),
    })
}

/// Removal notices collected under the lock and delivered after it.
type Notices = Vec<(u64, Arc<str>, RemovalReason)>;

fn limit_notices(removed: Vec<Removed<MemBody>>) -> Notices {
    removed
        .into_iter()
        .map(|(s, e)| (s, e.subject, RemovalReason::Limits))
        .collect()
}

impl MemoryStore {
    fn notify(&self, notices: Notices) {
        if notices.is_empty() {
            return;
        }
        let cb = self.removal_cb.read().clone();
        if let Some(cb) = cb {
            for (seq, subj, why) in notices {
                cb(seq, &subj, why);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn append(
        &self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        seq: u64,
        ts: Option<i64>,
        ttl: Option<Duration>,
        discard_check: bool,
    ) -> Result<(u64, i64)> {
        let hlen = headers.as_ref().map_or(0, |h| h.len());
        let mut g = self.inner.write();
        let inner = &mut *g;
        if inner.closed {
            return Err(StoreError::Closed);
        }
        validate_append(&inner.cfg, subject, hlen, payload.len(), ttl)?;
        let size = mem_msg_size(subject.len(), hlen, payload.len());
        let seq = inner
            .idx
            .assign_seq(&inner.cfg, subject, size, discard_check, seq)?;
        let ts = ts.unwrap_or_else(now_nanos);
        // Copy so a message never pins a larger network buffer it was sliced from.
        let body = MemBody {
            headers: headers.map(|h| Bytes::copy_from_slice(&h)),
            payload: Bytes::copy_from_slice(&payload),
        };
        let entry = Entry {
            subject: inner.idx.intern(subject),
            ts,
            size,
            expires: expiry_of(ts, ttl),
            loc: body,
        };
        inner.idx.insert(seq, entry);
        let removed = inner.idx.enforce_limits(&inner.cfg, subject);
        drop(g);
        self.notify(limit_notices(removed));
        Ok((seq, ts))
    }

    /// Appends `msgs` under one lock hold, after checking all of them.
    fn append_batch(&self, msgs: Vec<BatchMsg>) -> Result<Vec<(u64, i64)>> {
        let mut g = self.inner.write();
        let inner = &mut *g;
        if inner.closed {
            return Err(StoreError::Closed);
        }
        let mut sized = Vec::with_capacity(msgs.len());
        for m in &msgs {
            let hlen = m.headers.as_ref().map_or(0, |h| h.len());
            validate_append(&inner.cfg, &m.subject, hlen, m.payload.len(), m.ttl)?;
            sized.push((
                m.subject.as_str(),
                mem_msg_size(m.subject.len(), hlen, m.payload.len()),
            ));
        }
        inner.idx.check_discard_new_batch(&inner.cfg, &sized)?;
        let mut out = Vec::with_capacity(msgs.len());
        let mut removed = Vec::new();
        let ts = now_nanos();
        for (m, (_, size)) in msgs.iter().zip(sized.iter()) {
            let seq = inner.idx.next_seq();
            let entry = Entry {
                subject: inner.idx.intern(&m.subject),
                ts,
                size: *size,
                expires: expiry_of(ts, m.ttl),
                loc: MemBody {
                    headers: m.headers.as_ref().map(|h| Bytes::copy_from_slice(h)),
                    payload: Bytes::copy_from_slice(&m.payload),
                },
            };
            inner.idx.insert(seq, entry);
            removed.extend(inner.idx.enforce_limits(&inner.cfg, &m.subject));
            out.push((seq, ts));
        }
        drop(g);
        self.notify(limit_notices(removed));
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&Inner) -> Result<T>) -> Result<T> {
        let g = self.inner.read();
        if g.closed {
            return Err(StoreError::Closed);
        }
        f(&g)
    }

    fn write<T>(&self, f: impl FnOnce(&mut Inner) -> Result<T>) -> Result<T> {
        let mut g = self.inner.write();
        if g.closed {
            return Err(StoreError::Closed);
        }
        f(&mut g)
    }

    /// Restores one message from a snapshot (gaps allowed).
    pub(crate) fn restore_msg(&self, m: SnapMsg) -> Result<()> {
        self.write(|inner| {
            if m.seq < inner.idx.next_seq() {
                return Err(StoreError::BadFormat(
                    "snapshot sequences not ascending".into(),
                ));
            }
            let size = mem_msg_size(
                m.subject.len(),
                m.headers.as_ref().map_or(0, |h| h.len()),
                m.payload.len(),
            );
            let body = MemBody {
                headers: m.headers,
                payload: m.payload,
            };
            let entry = Entry {
                subject: inner.idx.intern(&m.subject),
                ts: m.ts,
                size,
                expires: m.expires,
                loc: body,
            };
            inner.idx.insert(m.seq, entry);
            Ok(())
        })
    }

    /// Sets the sequence bounds after a restore.
    pub(crate) fn restore_bounds(&self, first: u64, last: u64, last_ts: i64) {
        self.inner.write().idx.set_bounds(first, last, last_ts);
    }
}

fn to_msg(seq: u64, e: &Entry<MemBody>) -> StoredMsg {
    StoredMsg {
        subject: e.subject.clone(),
        seq,
        ts: e.ts,
        headers: e.loc.headers.clone(),
        payload: e.loc.payload.clone(),
    }
}

impl MessageStore for MemoryStore {
    fn store_msg_async(
        &self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        ttl: Option<Duration>,
        done: AppendDone,
    ) {
        done(self.append(subject, headers, payload, 0, None, ttl, true));
    }

    fn store_msg(
        &self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        ttl: Option<Duration>,
    ) -> Result<(u64, i64)> {
        self.append(subject, headers, payload, 0, None, ttl, true)
    }

    fn store_raw_msg(
        &self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        seq: u64,
        ts: i64,
        ttl: Option<Duration>,
    ) -> Result<(u64, i64)> {
        self.append(subject, headers, payload, seq, Some(ts), ttl, false)
    }

    fn store_raw_msg_async(
        &self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        seq: u64,
        ts: i64,
        ttl: Option<Duration>,
        done: AppendDone,
    ) {
        done(self.append(subject, headers, payload, seq, Some(ts), ttl, false))
    }

    fn store_batch_async(&self, msgs: Vec<BatchMsg>, done: BatchDone) {
        done(self.append_batch(msgs))
    }

    fn load_msg(&self, seq: u64) -> Result<StoredMsg> {
        self.read(|i| {
            i.idx
                .get(seq)
                .map(|e| to_msg(seq, e))
                .ok_or(StoreError::NotFound)
        })
    }

    fn load_next_msg(&self, filter: &str, start: u64) -> Result<StoredMsg> {
        self.read(|i| {
            let seq = i.idx.next_match(filter, start).ok_or(StoreError::Eof)?;
            i.idx
                .get(seq)
                .map(|e| to_msg(seq, e))
                .ok_or(StoreError::Eof)
        })
    }

    fn load_last_msg(&self, filter: &str) -> Result<StoredMsg> {
        self.read(|i| {
            let seq = i.idx.last_match(filter).ok_or(StoreError::NotFound)?;
            i.idx
                .get(seq)
                .map(|e| to_msg(seq, e))
                .ok_or(StoreError::NotFound)
        })
    }

    fn load_prev_msg(&self, start: u64) -> Result<StoredMsg> {
        self.read(|i| {
            let seq = i.idx.prev(start).ok_or(StoreError::Eof)?;
            i.idx
                .get(seq)
                .map(|e| to_msg(seq, e))
                .ok_or(StoreError::Eof)
        })
    }

    fn remove_msg(&self, seq: u64) -> Result<bool> {
        self.write(|i| Ok(i.idx.remove(seq).is_some()))
    }

    fn erase_msg(&self, seq: u64) -> Result<bool> {
        // The bytes are dropped with the entry; nothing else holds them except readers'
        // clones, which they own.
        self.remove_msg(seq)
    }

    fn purge(&self) -> Result<u64> {
        self.write(|i| Ok(i.idx.purge_all().len() as u64))
    }

    fn purge_ex(&self, subject: &str, seq: u64, keep: u64) -> Result<u64> {
        match crate::index::purge_plan(subject, seq, keep) {
            crate::index::PurgePlan::Nothing => return Ok(0),
            crate::index::PurgePlan::All => return self.purge(),
            crate::index::PurgePlan::Compact(s) => return self.compact(s),
            crate::index::PurgePlan::Select => {}
        }
        self.write(|i| {
            let sel = i.idx.purge_selection(subject, seq, keep);
            Ok(i.idx.remove_many(&sel).len() as u64)
        })
    }

    fn compact(&self, seq: u64) -> Result<u64> {
        self.write(|i| Ok(i.idx.compact(seq).len() as u64))
    }

    fn truncate(&self, seq: u64) -> Result<()> {
        self.write(|i| {
            i.idx.truncate(seq);
            Ok(())
        })
    }

    fn state(&self) -> StreamState {
        self.inner.read().idx.state(true)
    }

    fn fast_state(&self) -> StreamState {
        self.inner.read().idx.state(false)
    }

    fn subjects_state(&self, filter: &str) -> BTreeMap<String, SimpleState> {
        self.inner.read().idx.subjects_state(filter)
    }

    fn subjects_totals(&self, filter: &str) -> BTreeMap<String, u64> {
        self.inner.read().idx.subjects_totals(filter)
    }

    fn num_pending(&self, start: u64, filter: &str, last_per_subject: bool) -> (u64, u64) {
        self.inner
            .read()
            .idx
            .num_pending(start, filter, last_per_subject)
    }

    fn update_config(&self, cfg: &StoreConfig) -> Result<()> {
        if cfg.storage != StorageKind::Memory {
            return Err(StoreError::InvalidConfig(
                "memory store needs memory storage".into(),
            ));
        }
        let removed = self.write(|i| {
            i.cfg = cfg.clone();
            Ok(i.idx.enforce_all_limits(cfg))
        })?;
        self.notify(limit_notices(removed));
        Ok(())
    }

    fn expire(&self, now: SystemTime) -> Result<ExpireOutcome> {
        let mut spared = Vec::new();
        let (removed, next) = self.write(|i| {
            let removed = i.idx.expire(&i.cfg, unix_nanos(now), &mut spared);
            Ok((removed, i.idx.next_deadline(&i.cfg)))
        })?;
        let n = removed.len() as u64;
        self.notify(
            removed
                .into_iter()
                .map(|(s, e, why)| (s, e.subject, why))
                .collect(),
        );
        Ok(ExpireOutcome {
            removed: n,
            next_deadline: next.map(from_unix_nanos),
            spared,
        })
    }

    fn next_expiry(&self) -> Option<SystemTime> {
        let g = self.inner.read();
        g.idx.next_deadline(&g.cfg).map(from_unix_nanos)
    }

    fn register_removal_callback(&self, cb: RemovalCallback) {
        *self.removal_cb.write() = Some(Arc::new(cb));
    }

    fn snapshot(&self, w: &mut dyn Write) -> Result<()> {
        let (cfg, st, msgs) = self.read(|i| {
            let msgs: Vec<SnapMsg> = i
                .idx
                .iter()
                .map(|(&seq, e)| SnapMsg {
                    seq,
                    ts: e.ts,
                    expires: e.expires,
                    subject: e.subject.to_string(),
                    headers: e.loc.headers.clone(),
                    payload: e.loc.payload.clone(),
                })
                .collect();
            Ok((i.cfg.clone(), i.idx.state(false), msgs))
        })?;
        snapshot::write_snapshot(w, &cfg, &st, msgs.into_iter().map(Ok))
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn stop(&self) -> Result<()> {
        self.inner.write().closed = true;
        Ok(())
    }

    fn delete(&self) -> Result<()> {
        let mut g = self.inner.write();
        g.idx.purge_all();
        g.closed = true;
        Ok(())
    }

    fn config(&self) -> StoreConfig {
        self.inner.read().cfg.clone()
    }

    fn consumer_store(&self, name: &str, cfg: &ConsumerConfig) -> Result<Arc<dyn ConsumerStore>> {
        let mut c = self.consumers.lock();
        let store = c
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(MemoryConsumerStore::new(cfg.clone())));
        Ok(store.clone())
    }
}
