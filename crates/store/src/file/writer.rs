//! The file store's writer thread: group commit. It takes every operation queued since
//! its last turn as one batch, writes it, makes it durable with one fsync per touched
//! file (plus the directory when files were created), then completes every waiter of the
//! batch. Appends that arrive while an fsync runs form the next batch, so there is no
//! timer delay on an idle store and one fsync covers many appends under load.
//!
//! A failed write or fsync latches the store failed: the batch's waiters and every queued
//! waiter get the error, and nothing is retried (after a failed fsync the page cache may
//! have dropped the data; retrying could report success for lost bytes).

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::core::{Op, Waiter};
use super::scan::{encode_index, scan_block, MAX_INDEX_FILE};
use super::{Shared, SyncPolicy};
use crate::error::StoreError;
use crate::vfs::{read_all, VFile};

/// Blocks are zero-filled ahead of the write position, this much at a time: appending
/// inside already-written bytes keeps the file size (and so the metadata fdatasync has to
/// flush) unchanged, which makes each group commit's fdatasync much cheaper.
const PREFILL_CHUNK: u64 = 1 << 20;

/// Files written but not yet fsynced (interval mode), and removals waiting for them.
#[derive(Default)]
struct Unsynced {
    files: HashMap<u32, Arc<dyn VFile>>,
    dir: bool,
    removes: Vec<u32>,
}

pub(crate) fn run(shared: Arc<Shared>) {
    let interval = match shared.opts.sync {
        SyncPolicy::Always => None,
        SyncPolicy::Interval(d) => Some(d.max(Duration::from_millis(1))),
    };
    let mut unsynced = Unsynced::default();
    let mut prefilled: HashMap<u32, u64> = HashMap::new();
    let mut last_sync = Instant::now();
    loop {
        let Some((ops, waiters, force)) = next_batch(&shared, interval, &unsynced, last_sync)
        else {
            let _ = sync_all(&shared, &mut unsynced);
            return;
        };
        let mut result = execute(&shared, &ops, &mut unsynced, &mut prefilled);
        let due = interval.is_none_or(|d| force || last_sync.elapsed() >= d);
        if result.is_ok()
            && due
            && !unsynced.files.is_empty() | unsynced.dir | !unsynced.removes.is_empty()
        {
            result = sync_all(&shared, &mut unsynced);
            last_sync = Instant::now();
        }
        if result.is_ok() {
            for op in ops.iter() {
                if let Op::Seal { id, .. } = op {
                    // The index is an optimization: failing to write it only costs a
                    // rescan at the next open.
                    let _ = write_index(&shared, *id);
                }
            }
        }
        finish(&shared, result, waiters);
    }
}

/// Waits for work; returns `None` when asked to stop and nothing is left.
fn next_batch(
    shared: &Shared,
    interval: Option<Duration>,
    unsynced: &Unsynced,
    last_sync: Instant,
) -> Option<(Arc<Vec<Op>>, Vec<Waiter>, bool)> {
    let mut g = shared.inner.lock();
    loop {
        if !g.queue.is_empty() || !g.waiters.is_empty() || g.force_sync {
            break;
        }
        if g.stop_writer {
            return None;
        }
        match interval {
            Some(d) if !unsynced.files.is_empty() || unsynced.dir => {
                let left = d.saturating_sub(last_sync.elapsed());
                if left.is_zero() || shared.work_cv.wait_for(&mut g, left).timed_out() {
                    g.force_sync = true;
                }
            }
            _ => shared.work_cv.wait(&mut g),
        }
    }
    let force = std::mem::take(&mut g.force_sync);
    let ops = Arc::new(std::mem::take(&mut g.queue));
    g.queue_bytes = 0;
    g.inflight = ops.clone();
    let waiters = std::mem::take(&mut g.waiters);
    drop(g);
    shared.space_cv.notify_all();
    Some((ops, waiters, force))
}

/// Handles of the blocks the batch writes to.
fn handles(shared: &Shared, ops: &[Op]) -> HashMap<u32, Arc<dyn VFile>> {
    let g = shared.inner.lock();
    let mut out = HashMap::new();
    for op in ops {
        if let Op::Write { id, .. } = op {
            if let Some(f) = g.blocks.get(id).and_then(|b| b.file.clone()) {
                out.insert(*id, f);
            }
        }
    }
    out
}

/// Writes zeros ahead of `end` in block `id` so appends land inside the file (at most up
/// to the configured block size).
fn prefill(
    shared: &Shared,
    f: &Arc<dyn VFile>,
    id: u32,
    end: u64,
    prefilled: &mut HashMap<u32, u64>,
) -> io::Result<()> {
    let cap = shared.opts.block_size;
    // Everything below `end` was just written: zeros only ever go beyond it (a write can
    // run past the reserve filled so far).
    let done = match prefilled.get(&id) {
        Some(&d) => d,
        None => f.len()?,
    }
    .max(end);
    let mut upto = done;
    while end + PREFILL_CHUNK / 4 > upto && upto < cap {
        upto = (upto + PREFILL_CHUNK).min(cap);
    }
    if upto > done {
        f.write_at(&vec![0u8; (upto - done) as usize], done)?;
    }
    prefilled.insert(id, upto.max(done));
    Ok(())
}

fn execute(
    shared: &Shared,
    ops: &[Op],
    unsynced: &mut Unsynced,
    prefilled: &mut HashMap<u32, u64>,
) -> io::Result<()> {
    let mut files = handles(shared, ops);
    // Only the block appends go to is zero-filled ahead (erasures rewrite sealed blocks).
    let active = shared.inner.lock().active;
    for op in ops {
        match op {
            Op::Create { id, header } => {
                // A torn tail is only possible in the last block: make every earlier
                // block durable before a later one can exist on disk.
                sync_files(unsynced)?;
                let f = shared.vfs.open(&shared.block_path(*id), true)?;
                f.set_len(0)?;
                f.write_at(header, 0)?;
                prefill(shared, &f, *id, header.len() as u64, prefilled)?;
                if let Some(b) = shared.inner.lock().blocks.get_mut(id) {
                    b.file = Some(f.clone());
                }
                files.insert(*id, f.clone());
                unsynced.files.insert(*id, f);
                unsynced.dir = true;
            }
            Op::Write { id, offset, data } => {
                let f = match files.get(id) {
                    Some(f) => f.clone(),
                    // Collected from the index since this write was queued: the file stays
                    // until its removal, which is queued after this write and happens only
                    // once everything before it is durable. Until then the bytes matter
                    // (they may be acknowledged messages whose replacements are not durable
                    // yet), so they are written like any other.
                    None => match shared.vfs.open(&shared.block_path(*id), false) {
                        Ok(f) => {
                            files.insert(*id, f.clone());
                            f
                        }
                        Err(e) => {
                            return Err(io::Error::new(
                                e.kind(),
                                format!("block {id} is not open: {e}"),
                            ))
                        }
                    },
                };
                f.write_at(data, *offset)?;
                if *id == active {
                    prefill(shared, &f, *id, *offset + data.len() as u64, prefilled)?;
                }
                unsynced.files.insert(*id, f);
            }
            Op::Seal { id, len } => {
                // A sealed block ends at its last record: its zero reserve goes, before
                // any later block can exist on disk (a block already collected from the
                // index is still a file until its removal).
                let f = match files.get(id).cloned().or_else(|| {
                    shared
                        .inner
                        .lock()
                        .blocks
                        .get(id)
                        .and_then(|b| b.file.clone())
                }) {
                    Some(f) => Some(f),
                    None => match shared.vfs.open(&shared.block_path(*id), false) {
                        Ok(f) => Some(f),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                        Err(e) => return Err(e),
                    },
                };
                if let Some(f) = f {
                    if f.len()? > *len {
                        f.set_len(*len)?;
                        unsynced.files.insert(*id, f);
                    }
                }
                prefilled.remove(id);
            }
            Op::Remove { id } => unsynced.removes.push(*id),
        }
    }
    Ok(())
}

fn sync_files(unsynced: &mut Unsynced) -> io::Result<()> {
    for (_, f) in unsynced.files.drain() {
        f.sync()?;
    }
    Ok(())
}

fn sync_all(shared: &Shared, unsynced: &mut Unsynced) -> io::Result<()> {
    sync_files(unsynced)?;
    if std::mem::take(&mut unsynced.dir) {
        shared.vfs.sync_dir(&shared.blocks_dir())?;
    }
    // Tombstones covering these blocks are durable now.
    for id in unsynced.removes.drain(..) {
        for path in [shared.block_path(id), shared.index_path(id)] {
            match shared.vfs.remove(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        shared.cache.lock().invalidate(id);
    }
    Ok(())
}

fn write_index(shared: &Shared, id: u32) -> io::Result<()> {
    let f = shared.vfs.open(&shared.block_path(id), false)?;
    let buf = read_all(&*f, MAX_INDEX_FILE)?;
    let scan = scan_block(&buf);
    if scan.header.is_none() || !scan.holes.is_empty() || scan.torn_at.is_some() {
        return Ok(()); // never index a damaged block; recovery rescans it
    }
    let data = encode_index(id, buf.len() as u64, &scan.records);
    let path = shared.index_path(id);
    let tmp = path.with_extension("idx.tmp");
    let t = shared.vfs.open(&tmp, true)?;
    t.set_len(0)?;
    t.write_at(&data, 0)?;
    // Once per sealed block: cheap, and it makes the next restart skip this block's scan.
    t.sync()?;
    drop(t);
    shared.vfs.rename(&tmp, &path)?;
    shared.vfs.sync_dir(&shared.blocks_dir())
}

fn finish(shared: &Shared, result: io::Result<()>, waiters: Vec<Waiter>) {
    let mut g = shared.inner.lock();
    g.inflight = Arc::new(Vec::new());
    let mut all = waiters;
    let outcome = match result {
        Ok(()) => Ok(()),
        Err(e) => {
            let reason = format!("write or fsync failed: {e}");
            if g.failed.is_none() {
                g.failed = Some(reason.clone());
            }
            all.append(&mut g.waiters);
            g.queue.clear();
            g.queue_bytes = 0;
            Err(StoreError::Failed(reason))
        }
    };
    drop(g);
    shared.space_cv.notify_all();
    for w in all {
        w(outcome.clone());
    }
}
