//! The file store: a [`MessageStore`] over segmented, checksummed block files (format in
//! the crate docs). Callers append under one mutex (index update + encoded record queued);
//! a dedicated writer thread (`writer.rs`) writes and fsyncs queued records in batches
//! (group commit) and completes the appends. Readers look up a record's location under the
//! lock and read it outside the lock (from the block cache, or with a positional read), so
//! reads never wait for an fsync. This module holds the public types and the trait impl;
//! `core.rs` the state, `recovery.rs` opening, `scan.rs` block parsing, `meta.rs` metadata.

mod cache;
mod core;
mod meta;
mod recovery;
mod scan;
mod writer;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, MutexGuard, RwLock};

use self::cache::BlockCache;
use self::core::{Inner, Loc, Op};
pub use self::meta::FileConsumerStore;
pub use self::recovery::RecoveryReport;
pub use self::scan::file_msg_size;
use crate::codec::{decode_record, BlockHeader, Record, RecordKind, BLOCK_HEADER_LEN};
use crate::consumer::ConsumerConfig;
use crate::error::{Result, StoreError};
use crate::index::{expiry_of, validate_append, Entry, Removed};
use crate::snapshot::{self, SnapMsg};
use crate::traits::{
    AppendDone, BatchDone, BatchMsg, ConsumerStore, MessageStore, RemovalCallback,
};
use crate::types::{
    from_unix_nanos, now_nanos, unix_nanos, ExpireOutcome, RemovalReason, SimpleState, StorageKind,
    StoreConfig, StoredMsg, StreamState,
};
use crate::vfs::{read_exact_at, OsVfs, Vfs};

/// When an append completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// After the record is fsynced (group commit). The default.
    Always,
    /// After the record is written to the OS; fsync at most this often (nats-server's
    /// `sync_interval`). Survives a process crash, not a power loss.
    Interval(Duration),
}

/// File store tuning.
#[derive(Clone)]
pub struct FileStoreOptions {
    pub sync: SyncPolicy,
    /// A block is sealed and a new one started when it would exceed this many bytes.
    pub block_size: u64,
    /// Bound on memory used to cache sealed block images for reads.
    pub cache_max_bytes: u64,
    /// Bound on queued, unwritten append bytes; appends wait beyond it (back-pressure).
    pub max_pending_bytes: usize,
    /// The file system (tests substitute [`crate::sim::SimVfs`]).
    pub vfs: Arc<dyn Vfs>,
}

impl Default for FileStoreOptions {
    fn default() -> Self {
        FileStoreOptions {
            sync: SyncPolicy::Always,
            block_size: 8 << 20,
            cache_max_bytes: 32 << 20,
            max_pending_bytes: 64 << 20,
            vfs: Arc::new(OsVfs),
        }
    }
}

impl std::fmt::Debug for FileStoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStoreOptions")
            .field("sync", &self.sync)
            .field("block_size", &self.block_size)
            .field("cache_max_bytes", &self.cache_max_bytes)
            .field("max_pending_bytes", &self.max_pending_bytes)
            .finish()
    }
}

/// State shared with the writer thread.
pub(crate) struct Shared {
    pub inner: Mutex<Inner>,
    /// Wakes the writer.
    pub work_cv: Condvar,
    /// Wakes appenders waiting for queue space.
    pub space_cv: Condvar,
    pub cache: Mutex<BlockCache>,
    pub vfs: Arc<dyn Vfs>,
    pub dir: PathBuf,
    pub opts: FileStoreOptions,
    /// A compaction thread is running.
    pub compacting: AtomicBool,
}

impl Shared {
    pub fn blocks_dir(&self) -> PathBuf {
        self.dir.join("blocks")
    }
    pub fn block_path(&self, id: u32) -> PathBuf {
        self.blocks_dir().join(format!("{id:010}.blk"))
    }
    pub fn index_path(&self, id: u32) -> PathBuf {
        self.blocks_dir().join(format!("{id:010}.idx"))
    }
}

/// A stream store on disk.
pub struct FileStore {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
    removal_cb: RwLock<Option<Arc<RemovalCallback>>>,
    consumers: Mutex<HashMap<String, Arc<FileConsumerStore>>>,
    report: RecoveryReport,
}

type Notices = Vec<(u64, Arc<str>, RemovalReason)>;

/// Opens (or creates) the file store in `dir`. `cfg` is the config in force; it replaces
/// the stored one. Recovery runs before this returns (see [`FileStore::recovery_report`]).
pub fn open_file_store(
    dir: &Path,
    cfg: StoreConfig,
    opts: FileStoreOptions,
) -> Result<Arc<FileStore>> {
    if cfg.storage != StorageKind::File {
        return Err(StoreError::InvalidConfig(
            "file store needs file storage".into(),
        ));
    }
    let vfs = opts.vfs.clone();
    vfs.create_dir_all(&dir.join("blocks"))?;
    vfs.create_dir_all(&dir.join("consumers"))?;
    let meta_path = dir.join("stream.meta");
    let mut meta_problem = None;
    match meta::read_meta(&*vfs, &meta_path) {
        Ok(Some(stored)) if stored == cfg => {}
        Ok(_) => meta::write_meta(&*vfs, &meta_path, &cfg)?,
        Err(e) => {
            meta_problem = Some(format!(
                "stream.meta damaged ({e}); rewritten from the given config"
            ));
            meta::write_meta(&*vfs, &meta_path, &cfg)?;
        }
    }
    let rec = recovery::recover(&*vfs, &dir.join("blocks"), &cfg)?;
    let mut report = rec.report;
    report.problems.extend(meta_problem);
    let mut blocks = rec.blocks;
    let mut queue = Vec::new();
    let active = match blocks.keys().next_back() {
        Some(&id) => id,
        None => {
            let header = BlockHeader {
                id: 1,
                first_seq: rec.idx.next_seq(),
                created_ts: now_nanos(),
            };
            queue.push(Op::Create {
                id: 1,
                header: header.encode(),
            });
            blocks.insert(
                1,
                core::Block {
                    file: None,
                    len: BLOCK_HEADER_LEN as u64,
                    live: 0,
                    live_bytes: 0,
                },
            );
            1
        }
    };
    queue.extend(rec.need_index.iter().map(|&id| Op::Seal {
        id,
        len: blocks.get(&id).map_or(0, |b| b.len),
    }));
    let inner = Inner {
        block_size: opts.block_size.max(BLOCK_HEADER_LEN as u64 + 64),
        cfg,
        idx: rec.idx,
        blocks,
        active,
        queue,
        queue_bytes: 0,
        waiters: Vec::new(),
        inflight: Arc::new(Vec::new()),
        force_sync: false,
        failed: report.failed.clone(),
        closed: false,
        stop_writer: false,
        corrupt: report.corrupt_ranges.clone(),
        batch_open: false,
    };
    let shared = Arc::new(Shared {
        inner: Mutex::new(inner),
        work_cv: Condvar::new(),
        space_cv: Condvar::new(),
        cache: Mutex::new(BlockCache::new(opts.cache_max_bytes as usize)),
        vfs,
        dir: dir.to_path_buf(),
        opts,
        compacting: AtomicBool::new(false),
    });
    let ws = shared.clone();
    let handle = std::thread::Builder::new()
        .name("natrium-store-writer".into())
        .spawn(move || writer::run(ws))
        .map_err(StoreError::from)?;
    let store = FileStore {
        shared,
        writer: Mutex::new(Some(handle)),
        removal_cb: RwLock::new(None),
        consumers: Mutex::new(HashMap::new()),
        report,
    };
    {
        let mut g = store.lock();
        g.gc_prefix();
        if g.compaction_candidate().is_some() {
            start_compaction(&store.shared);
        }
    }
    store.shared.work_cv.notify_one();
    store.flush()?;
    Ok(Arc::new(store))
}

/// Restores a file store into `dir` (which must not hold a store) from a snapshot.
pub fn restore(dir: &Path, r: &mut dyn Read, opts: FileStoreOptions) -> Result<Arc<FileStore>> {
    if opts.vfs.exists(&dir.join("stream.meta")) {
        return Err(StoreError::InvalidConfig(format!(
            "{} already holds a store",
            dir.display()
        )));
    }
    let store: std::cell::OnceCell<Arc<FileStore>> = std::cell::OnceCell::new();
    let (_, (_, last, _)) = snapshot::read_snapshot(
        r,
        |cfg| {
            let cfg = StoreConfig {
                storage: StorageKind::File,
                ..cfg.clone()
            };
            let _ = store.set(open_file_store(dir, cfg, opts.clone())?);
            Ok(())
        },
        |m| store.get().ok_or(StoreError::Closed)?.restore_msg(m),
    )?;
    let store = store
        .into_inner()
        .ok_or_else(|| StoreError::BadFormat("snapshot config missing".into()))?;
    {
        let mut g = store.lock();
        if last > g.idx.last_seq() {
            g.idx.set_bounds(0, last, 0);
            g.append_marker(RecordKind::Skip, last);
        }
    }
    store.flush()?;
    Ok(store)
}

/// Compacts on a thread of its own (one at a time per store), off every caller's path.
fn start_compaction(shared: &Arc<Shared>) {
    if shared.compacting.swap(true, Ordering::AcqRel) {
        return;
    }
    let sh = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("natrium-store-compact".into())
        .spawn(move || {
            compact(&sh);
            sh.compacting.store(false, Ordering::Release);
        });
    if spawned.is_err() {
        shared.compacting.store(false, Ordering::Release);
    }
}

/// While the first block is mostly dead but pins every later block (only a prefix of
/// blocks can be unlinked), copies its live messages forward and unlinks it. Reads the
/// block outside the lock; gives up on anything unexpected (the block stays as it is).
fn compact(shared: &Shared) {
    loop {
        let (id, file) = {
            let g = shared.inner.lock();
            if g.closed || g.failed.is_some() {
                return;
            }
            let Some(id) = g.compaction_candidate() else {
                return;
            };
            match g.blocks.get(&id).and_then(|b| b.file.clone()) {
                Some(f) => (id, f),
                None => return,
            }
        };
        let Ok(image) = crate::vfs::read_all(&*file, recovery::MAX_BLOCK_FILE) else {
            return;
        };
        let mut g = shared.inner.lock();
        if g.closed || g.failed.is_some() || g.compaction_candidate() != Some(id) {
            return;
        }
        if g.move_live(id, &image) == 0 {
            return;
        }
        for gone in g.gc_prefix() {
            shared.cache.lock().invalidate(gone);
        }
        drop(g);
        shared.work_cv.notify_one();
    }
}

fn limit_notices(removed: &[Removed<Loc>]) -> Notices {
    removed
        .iter()
        .map(|(s, e)| (*s, e.subject.clone(), RemovalReason::Limits))
        .collect()
}

impl FileStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.inner.lock()
    }

    /// What recovery found when this store was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// Bytes held by the block cache.
    pub fn cached_bytes(&self) -> usize {
        self.shared.cache.lock().cached_bytes()
    }

    /// Reads and checks every live record; damaged ones are added to the damaged ranges.
    /// Returns how many were damaged.
    pub fn verify(&self) -> Result<u64> {
        let seqs: Vec<u64> = self.lock().idx.iter().map(|(&s, _)| s).collect();
        let mut bad = 0;
        for s in seqs {
            if let Err(StoreError::Corrupt { .. }) = self.load_msg(s) {
                bad += 1;
            }
        }
        Ok(bad)
    }

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

    /// Queues `w` behind everything queued so far and wakes the writer.
    fn enqueue_waiter(&self, g: &mut Inner, w: core::Waiter) {
        g.waiters.push(w);
        self.shared.work_cv.notify_one();
    }

    /// Blocks until everything queued so far is durable (or written, in interval mode).
    fn wait_queued(&self, mut g: MutexGuard<'_, Inner>) -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.enqueue_waiter(
            &mut g,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        drop(g);
        rx.recv().unwrap_or(Err(StoreError::Closed))
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
        done: AppendDone,
    ) {
        let mut g = self.lock();
        while g.queue_bytes > self.shared.opts.max_pending_bytes && g.failed.is_none() && !g.closed
        {
            self.shared.space_cv.wait(&mut g);
        }
        let expires_at = ts.map(|t| expiry_of(t, ttl));
        let r = self.append_locked(
            &mut g,
            subject,
            headers.as_deref(),
            &payload,
            seq,
            ts,
            expires_at,
            ttl,
            discard_check,
        );
        match r {
            Err(e) => {
                drop(g);
                done(Err(e));
            }
            Ok((seq, ts, removed)) => {
                self.enqueue_waiter(&mut g, Box::new(move |r| done(r.map(|()| (seq, ts)))));
                drop(g);
                self.notify(limit_notices(&removed));
            }
        }
    }

    /// Appends `msgs` as one atomic batch: all checked first, then appended under one lock
    /// hold into one block, every record flagged as a batch member and the batch closed by
    /// an unflagged skip marker (recovery drops an unclosed batch).
    fn append_batch(&self, msgs: Vec<BatchMsg>, done: BatchDone) {
        let mut g = self.lock();
        while g.queue_bytes > self.shared.opts.max_pending_bytes && g.failed.is_none() && !g.closed
        {
            self.shared.space_cv.wait(&mut g);
        }
        let checked = (|| {
            g.check_writable()?;
            let mut sized = Vec::with_capacity(msgs.len());
            let mut total = 0;
            for m in &msgs {
                let hlen = m.headers.as_ref().map(|h| h.len());
                validate_append(
                    &g.cfg,
                    &m.subject,
                    hlen.unwrap_or(0),
                    m.payload.len(),
                    m.ttl,
                )?;
                let size = file_msg_size(m.subject.len(), hlen, m.payload.len());
                total += crate::codec::msg_record_len(
                    m.subject.len(),
                    hlen.unwrap_or(0),
                    m.payload.len(),
                );
                sized.push((m.subject.as_str(), size));
            }
            g.idx.check_discard_new_batch(&g.cfg, &sized)?;
            Ok(total)
        })();
        let total = match checked {
            Ok(t) => t,
            Err(e) => {
                drop(g);
                done(Err(e));
                return;
            }
        };
        // The batch stays in one block: start a new one first unless it fits.
        let block_len = g.blocks.get(&g.active).map_or(0, |b| b.len);
        if block_len > BLOCK_HEADER_LEN as u64 && block_len + total as u64 > g.block_size {
            let next = g.idx.next_seq();
            g.roll(next);
        }
        g.batch_open = true;
        let mut out = Vec::with_capacity(msgs.len());
        let mut removed = Vec::new();
        let mut failed = None;
        for m in &msgs {
            match self.append_locked(
                &mut g,
                &m.subject,
                m.headers.as_deref(),
                &m.payload,
                0,
                None,
                None,
                m.ttl,
                false,
            ) {
                Ok((seq, ts, r)) => {
                    out.push((seq, ts));
                    removed.extend(r);
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        g.batch_open = false;
        if let Some(e) = failed {
            // Checked above, so only a broken invariant gets here: the records queued so
            // far stay flagged and unclosed, and the store stops taking writes rather than
            // acknowledge part of a batch.
            let reason = format!("atomic batch append failed after its checks: {e}");
            g.failed.get_or_insert(reason.clone());
            drop(g);
            done(Err(StoreError::Failed(reason)));
            return;
        }
        let last = g.idx.last_seq();
        g.append_marker(RecordKind::Skip, last);
        self.enqueue_waiter(&mut g, Box::new(move |r| done(r.map(|()| out))));
        drop(g);
        self.notify(limit_notices(&removed));
    }

    #[allow(clippy::too_many_arguments)]
    fn append_locked(
        &self,
        g: &mut Inner,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        seq: u64,
        ts: Option<i64>,
        expires: Option<i64>,
        ttl: Option<Duration>,
        discard_check: bool,
    ) -> Result<(u64, i64, Vec<Removed<Loc>>)> {
        g.check_writable()?;
        let hlen = headers.map(|h| h.len());
        validate_append(&g.cfg, subject, hlen.unwrap_or(0), payload.len(), ttl)?;
        let size = file_msg_size(subject.len(), hlen, payload.len());
        let seq = g
            .idx
            .assign_seq(&g.cfg, subject, size, discard_check, seq)?;
        let ts = ts.unwrap_or_else(now_nanos);
        let expires = expires.unwrap_or_else(|| expiry_of(ts, ttl));
        let subject_bytes = subject.as_bytes();
        let packed = if g.cfg.compress {
            crate::codec::pack(headers, payload)
        } else {
            None
        };
        let rec = match &packed {
            Some((body, p)) => Record {
                kind: RecordKind::Msg,
                seq,
                ts,
                expires,
                subject: subject_bytes,
                headers: None,
                payload: body,
                packed: Some(*p),
            },
            None => Record {
                kind: RecordKind::Msg,
                seq,
                ts,
                expires,
                subject: subject_bytes,
                headers,
                payload,
                packed: None,
            },
        };
        let rec_len = rec.encoded_len();
        let entry = Entry {
            subject: g.idx.intern(subject),
            ts,
            size,
            expires,
            loc: Loc {
                block: 0,
                offset: 0,
                len: 0,
            },
        };
        g.append_msg(seq, entry, &rec, rec_len);
        let cfg = g.cfg.clone();
        let removed = g.idx.enforce_limits(&cfg, subject);
        self.after_removal(g, &removed);
        Ok((seq, ts, removed))
    }

    /// Tombstones, live counts, damaged-range trimming and block collection after the
    /// index removed messages.
    fn after_removal(&self, g: &mut Inner, removed: &[Removed<Loc>]) {
        if removed.is_empty() {
            return;
        }
        g.on_removed(removed, true);
        self.collect(g);
    }

    fn collect(&self, g: &mut Inner) {
        g.trim_corrupt();
        for id in g.gc_prefix() {
            self.shared.cache.lock().invalidate(id);
        }
        if g.compaction_candidate().is_some() {
            start_compaction(&self.shared);
        }
    }

    /// Restores one message from a snapshot (gaps allowed).
    fn restore_msg(&self, m: SnapMsg) -> Result<()> {
        let mut g = self.lock();
        let r = self.append_locked(
            &mut g,
            &m.subject,
            m.headers.as_deref(),
            &m.payload,
            m.seq,
            Some(m.ts),
            Some(m.expires),
            None,
            false,
        );
        r.map(|_| ())
    }

    fn load_entry(&self, seq: u64) -> Result<StoredMsg> {
        let (loc, subject, ts, file) = {
            let g = self.lock();
            if g.closed {
                return Err(StoreError::Closed);
            }
            if let Some((a, _)) = g.is_corrupt(seq) {
                return Err(StoreError::Corrupt {
                    seq: seq.max(a),
                    reason: "damaged range".into(),
                });
            }
            let e = g.idx.get(seq).ok_or(StoreError::NotFound)?;
            if let Some(bytes) = g.pending_bytes(e.loc) {
                return self.decode_msg(seq, Bytes::from(bytes), &e.subject);
            }
            let file = g.blocks.get(&e.loc.block).and_then(|b| b.file.clone());
            // Only a final image is cached: a block just sealed may still have records
            // on their way to the file, where a read now would see the zero reserve.
            let cacheable = e.loc.block != g.active && !g.has_pending_writes(e.loc.block);
            (e.loc, e.subject.clone(), e.ts, file.map(|f| (f, cacheable)))
        };
        let _ = ts;
        let (file, cacheable) = file.ok_or(StoreError::NotFound)?;
        let data = self.read_record(loc, &*file, cacheable);
        let mut r = data.and_then(|d| self.decode_msg(seq, d, &subject));
        if matches!(r, Err(StoreError::Corrupt { .. })) {
            // Damage is only recorded once the file itself shows it, not a cached image.
            self.shared.cache.lock().invalidate(loc.block);
            r = self
                .read_record(loc, &*file, false)
                .and_then(|d| self.decode_msg(seq, d, &subject));
        }
        if let Err(StoreError::Corrupt { reason, .. }) = &r {
            let mut g = self.lock();
            if g.idx.get(seq).is_some_and(|e| e.loc == loc) {
                g.add_corrupt(seq, seq);
            } else {
                // Removed (or erased) while we read it.
                return Err(StoreError::NotFound);
            }
            drop(g);
            return Err(StoreError::Corrupt {
                seq,
                reason: reason.clone(),
            });
        }
        r
    }

    fn read_record(
        &self,
        loc: Loc,
        file: &dyn crate::vfs::VFile,
        cacheable: bool,
    ) -> Result<Bytes> {
        let (off, len) = (loc.offset as usize, loc.len as usize);
        let mut cache = self.shared.cache.lock();
        if let Some(b) = cache.get(loc.block, off, len) {
            return Ok(b);
        }
        let file_len = file.len()?;
        if cacheable && cache.admits(file_len) {
            drop(cache);
            let mut buf = vec![0u8; file_len as usize];
            read_exact_at(file, &mut buf, 0)?;
            let data = Bytes::from(buf);
            let out = data.get(off..off + len).map(|_| data.slice(off..off + len));
            self.shared.cache.lock().insert(loc.block, data);
            return out.ok_or_else(|| StoreError::Corrupt {
                seq: 0,
                reason: "record beyond end of block".into(),
            });
        }
        drop(cache);
        let mut buf = vec![0u8; len];
        match read_exact_at(file, &mut buf, off as u64) {
            Ok(()) => Ok(Bytes::from(buf)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(StoreError::Corrupt {
                seq: 0,
                reason: "record beyond end of block".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn decode_msg(&self, seq: u64, data: Bytes, subject: &Arc<str>) -> Result<StoredMsg> {
        let corrupt = |why: &str| StoreError::Corrupt {
            seq,
            reason: why.to_string(),
        };
        let (rec, _) =
            decode_record(&data).map_err(|e| corrupt(&format!("record check failed: {e:?}")))?;
        let is_msg = matches!(rec.kind, RecordKind::Msg | RecordKind::Moved);
        if !is_msg || rec.seq != seq || rec.subject != subject.as_bytes() {
            return Err(corrupt("record does not match the index"));
        }
        let (headers, payload) = rec.unpack(&data).map_err(|e| corrupt(&e.to_string()))?;
        Ok(StoredMsg {
            subject: subject.clone(),
            seq,
            ts: rec.ts,
            headers,
            payload,
        })
    }

    /// Applies an index mutation that removes messages, records it with `marker` (if any)
    /// and waits for durability.
    fn mutate(
        &self,
        f: impl FnOnce(&mut Inner) -> (Vec<Removed<Loc>>, Option<(RecordKind, u64)>),
    ) -> Result<u64> {
        let mut g = self.lock();
        g.check_writable()?;
        let (removed, marker) = f(&mut g);
        g.on_removed(&removed, marker.is_none());
        if let Some((kind, seq)) = marker {
            g.append_marker(kind, seq);
        }
        self.collect(&mut g);
        self.wait_queued(g)?;
        Ok(removed.len() as u64)
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

mod store_impl;
