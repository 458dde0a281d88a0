//! `MessageStore` for [`FileStore`]: each operation updates the index under the lock,
//! queues the records that make the change durable (messages, tombstones, markers) and,
//! for the blocking calls, waits for the writer thread to commit them.

use super::*;

impl MessageStore for FileStore {
    fn store_msg_async(
        &self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        ttl: Option<Duration>,
        done: AppendDone,
    ) {
        self.append(subject, headers, payload, 0, None, ttl, true, done);
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
        crate::traits::wait_for_append(|done| {
            self.append(subject, headers, payload, seq, Some(ts), ttl, false, done)
        })
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
        self.append(subject, headers, payload, seq, Some(ts), ttl, false, done)
    }

    fn store_batch_async(&self, msgs: Vec<BatchMsg>, done: BatchDone) {
        self.append_batch(msgs, done)
    }

    fn load_msg(&self, seq: u64) -> Result<StoredMsg> {
        self.load_entry(seq)
    }

    fn load_next_msg(&self, filter: &str, start: u64) -> Result<StoredMsg> {
        let mut start = start;
        loop {
            let seq = {
                let g = self.lock();
                if g.closed {
                    return Err(StoreError::Closed);
                }
                let next = g.idx.next_match(filter, start);
                let upper = next.unwrap_or(g.idx.last_seq());
                if let Some((a, _)) = g.corrupt_between(start, upper) {
                    let seq = a.max(start);
                    return Err(StoreError::Corrupt {
                        seq,
                        reason: "damaged range".into(),
                    });
                }
                next.ok_or(StoreError::Eof)?
            };
            match self.load_entry(seq) {
                Err(StoreError::NotFound) => start = seq + 1, // removed meanwhile
                r => return r,
            }
        }
    }

    fn load_last_msg(&self, filter: &str) -> Result<StoredMsg> {
        let seq = {
            let g = self.lock();
            if g.closed {
                return Err(StoreError::Closed);
            }
            g.idx.last_match(filter).ok_or(StoreError::NotFound)?
        };
        self.load_entry(seq)
    }

    fn load_prev_msg(&self, start: u64) -> Result<StoredMsg> {
        let seq = {
            let g = self.lock();
            if g.closed {
                return Err(StoreError::Closed);
            }
            g.idx.prev(start).ok_or(StoreError::Eof)?
        };
        match self.load_entry(seq) {
            Err(StoreError::NotFound) => Err(StoreError::Eof),
            r => r,
        }
    }

    fn remove_msg(&self, seq: u64) -> Result<bool> {
        self.mutate(|g| {
            (
                g.idx.remove(seq).map(|e| (seq, e)).into_iter().collect(),
                None,
            )
        })
        .map(|n| n > 0)
    }

    fn erase_msg(&self, seq: u64) -> Result<bool> {
        let mut g = self.lock();
        g.check_writable()?;
        let Some(entry) = g.idx.remove(seq) else {
            return Ok(false);
        };
        let loc = entry.loc;
        g.on_removed(&[(seq, entry)], true);
        // The tombstone must be durable before the record is overwritten: a torn
        // overwrite of a record that is not known deleted would read as damage.
        self.wait_queued(g)?;
        let mut g = self.lock();
        g.check_writable()?;
        if g.blocks.contains_key(&loc.block) {
            let zeros = vec![0u8; (loc.len as usize).saturating_sub(crate::codec::RECORD_OVERHEAD)];
            let rec = Record {
                kind: RecordKind::Erased,
                seq,
                ts: 0,
                expires: 0,
                subject: b"",
                headers: None,
                payload: &zeros,
                packed: None,
            };
            let mut data = Vec::with_capacity(loc.len as usize);
            crate::codec::encode_record(&mut data, &rec);
            g.queue.push(Op::Write {
                id: loc.block,
                offset: loc.offset as u64,
                data,
            });
            self.shared.cache.lock().invalidate(loc.block);
        }
        self.collect(&mut g);
        self.wait_queued(g)?;
        Ok(true)
    }

    fn purge(&self) -> Result<u64> {
        self.mutate(|g| {
            let next = g.idx.next_seq();
            (g.idx.purge_all(), Some((RecordKind::DeleteBelow, next)))
        })
    }

    fn purge_ex(&self, subject: &str, seq: u64, keep: u64) -> Result<u64> {
        match crate::index::purge_plan(subject, seq, keep) {
            crate::index::PurgePlan::Nothing => return Ok(0),
            crate::index::PurgePlan::All => return self.purge(),
            crate::index::PurgePlan::Compact(s) => return self.compact(s),
            crate::index::PurgePlan::Select => {}
        }
        self.mutate(|g| {
            let sel = g.idx.purge_selection(subject, seq, keep);
            (g.idx.remove_many(&sel), None)
        })
    }

    fn compact(&self, seq: u64) -> Result<u64> {
        if seq == 0 {
            return self.purge();
        }
        self.mutate(|g| (g.idx.compact(seq), Some((RecordKind::DeleteBelow, seq))))
    }

    fn truncate(&self, seq: u64) -> Result<()> {
        self.mutate(|g| {
            if seq != 0 && seq >= g.idx.last_seq() {
                return (Vec::new(), None);
            }
            (g.idx.truncate(seq), Some((RecordKind::Truncate, seq)))
        })
        .map(|_| ())
    }

    fn state(&self) -> StreamState {
        self.lock().state(true)
    }

    fn fast_state(&self) -> StreamState {
        self.lock().state(false)
    }

    fn subjects_state(&self, filter: &str) -> BTreeMap<String, SimpleState> {
        self.lock().idx.subjects_state(filter)
    }

    fn subjects_totals(&self, filter: &str) -> BTreeMap<String, u64> {
        self.lock().idx.subjects_totals(filter)
    }

    fn num_pending(&self, start: u64, filter: &str, last_per_subject: bool) -> (u64, u64) {
        self.lock().idx.num_pending(start, filter, last_per_subject)
    }

    fn update_config(&self, cfg: &StoreConfig) -> Result<()> {
        if cfg.storage != StorageKind::File {
            return Err(StoreError::InvalidConfig(
                "file store needs file storage".into(),
            ));
        }
        self.lock().check_writable()?;
        meta::write_meta(&*self.shared.vfs, &self.shared.dir.join("stream.meta"), cfg)?;
        let mut g = self.lock();
        g.cfg = cfg.clone();
        let removed = g.idx.enforce_all_limits(cfg);
        self.after_removal(&mut g, &removed);
        let notices = limit_notices(&removed);
        self.wait_queued(g)?;
        self.notify(notices);
        Ok(())
    }

    fn expire(&self, now: SystemTime) -> Result<ExpireOutcome> {
        let mut g = self.lock();
        g.check_writable()?;
        let cfg = g.cfg.clone();
        let mut spared = Vec::new();
        let expired = g.idx.expire(&cfg, unix_nanos(now), &mut spared);
        let notices: Notices = expired
            .iter()
            .map(|(s, e, why)| (*s, e.subject.clone(), *why))
            .collect();
        let removed: Vec<Removed<Loc>> = expired.into_iter().map(|(s, e, _)| (s, e)).collect();
        self.after_removal(&mut g, &removed);
        let next = g.idx.next_deadline(&cfg).map(from_unix_nanos);
        if !removed.is_empty() {
            self.shared.work_cv.notify_one();
        }
        drop(g);
        let n = notices.len() as u64;
        self.notify(notices);
        Ok(ExpireOutcome {
            removed: n,
            next_deadline: next,
            spared,
        })
    }

    fn next_expiry(&self) -> Option<SystemTime> {
        let g = self.lock();
        g.idx.next_deadline(&g.cfg).map(from_unix_nanos)
    }

    fn register_removal_callback(&self, cb: RemovalCallback) {
        *self.removal_cb.write() = Some(Arc::new(cb));
    }

    fn snapshot(&self, w: &mut dyn Write) -> Result<()> {
        let (cfg, st, seqs) = {
            let g = self.lock();
            if g.closed {
                return Err(StoreError::Closed);
            }
            let seqs: Vec<(u64, i64)> = g.idx.iter().map(|(&s, e)| (s, e.expires)).collect();
            (g.cfg.clone(), g.idx.state(false), seqs)
        };
        let msgs = seqs
            .into_iter()
            .filter_map(|(seq, expires)| match self.load_msg(seq) {
                Ok(m) => Some(Ok(SnapMsg {
                    seq,
                    ts: m.ts,
                    expires,
                    subject: m.subject.to_string(),
                    headers: m.headers,
                    payload: m.payload,
                })),
                Err(StoreError::NotFound) => None,
                Err(e) => Some(Err(e)),
            });
        snapshot::write_snapshot(w, &cfg, &st, msgs)
    }

    fn flush(&self) -> Result<()> {
        let mut g = self.lock();
        if g.closed {
            return Err(StoreError::Closed);
        }
        if let Some(f) = &g.failed {
            return Err(StoreError::Failed(f.clone()));
        }
        g.force_sync = true;
        self.wait_queued(g)
    }

    fn stop(&self) -> Result<()> {
        let already = self.lock().closed;
        if already {
            return Ok(());
        }
        let r = self.flush();
        {
            let mut g = self.lock();
            g.closed = true;
            g.stop_writer = true;
        }
        self.shared.work_cv.notify_all();
        self.shared.space_cv.notify_all();
        if let Some(h) = self.writer.lock().take() {
            let _ = h.join();
        }
        for c in self.consumers.lock().values() {
            let _ = c.stop();
        }
        match r {
            Err(StoreError::Failed(_)) => Ok(()), // already reported; stopping is fine
            r => r,
        }
    }

    fn delete(&self) -> Result<()> {
        self.stop()?;
        self.consumers.lock().clear();
        self.shared.vfs.remove_dir_all(&self.shared.dir)?;
        Ok(())
    }

    fn config(&self) -> StoreConfig {
        self.lock().cfg.clone()
    }

    fn consumer_store(&self, name: &str, cfg: &ConsumerConfig) -> Result<Arc<dyn ConsumerStore>> {
        if self.lock().closed {
            return Err(StoreError::Closed);
        }
        let mut c = self.consumers.lock();
        if let Some(s) = c.get(name) {
            return Ok(s.clone());
        }
        let durable = self.shared.opts.sync == SyncPolicy::Always;
        let dir = self.shared.dir.join("consumers");
        let s = Arc::new(FileConsumerStore::open(
            self.shared.vfs.clone(),
            &dir,
            name,
            cfg,
            durable,
        )?);
        c.insert(name.to_string(), s.clone());
        Ok(s)
    }
}
