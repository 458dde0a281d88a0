//! The file store's in-memory state under its one mutex: the message index with record
//! locations, the block table, the queue of write operations not yet handed to the writer
//! thread, the operations the writer is executing (readable until written), the latched
//! failure and the damaged ranges. Everything here is bookkeeping; the only I/O is done
//! by the writer thread (`writer.rs`) and by readers outside the lock (`mod.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::codec::{
    encode_marker, encode_record_flagged, BlockHeader, Record, RecordKind, BLOCK_HEADER_LEN,
    FLAG_BATCH,
};
use crate::error::{Result, StoreError};
use crate::index::{Entry, Index, Removed};
use crate::types::{now_nanos, StoreConfig, StreamState};
use crate::vfs::VFile;

/// Where a message record lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub block: u32,
    pub offset: u32,
    pub len: u32,
}

/// One block file.
pub(crate) struct Block {
    /// Open handle; `None` until the writer created the file.
    pub file: Option<Arc<dyn VFile>>,
    /// Logical length, including queued, unwritten appends.
    pub len: u64,
    /// Live messages whose records are in this block.
    pub live: u64,
    /// Bytes of those messages' records.
    pub live_bytes: u64,
}

/// One unit of work for the writer thread, executed in queue order.
pub(crate) enum Op {
    /// Create block file `id` and write its header.
    Create { id: u32, header: Vec<u8> },
    /// Write `data` at `offset` of block `id` (appends and in-place erasure).
    Write { id: u32, offset: u64, data: Vec<u8> },
    /// Block `id` is full at `len` bytes: cut the file to that length (dropping its
    /// zero-filled reserve) and, once durable, build and write its index file.
    Seal { id: u32, len: u64 },
    /// Block `id` holds nothing live and nothing later depends on it: unlink it once the
    /// tombstones queued before this op are durable.
    Remove { id: u32 },
}

/// A completion run by the writer after the batch holding its ops is durable (or failed).
pub(crate) type Waiter = Box<dyn FnOnce(Result<()>) + Send>;

pub(crate) struct Inner {
    pub cfg: StoreConfig,
    pub idx: Index<Loc>,
    pub blocks: BTreeMap<u32, Block>,
    pub active: u32,
    pub block_size: u64,
    pub queue: Vec<Op>,
    pub queue_bytes: usize,
    pub waiters: Vec<Waiter>,
    /// The batch the writer is executing; readable until written.
    pub inflight: Arc<Vec<Op>>,
    /// Set by `flush`: the writer fsyncs even in interval mode.
    pub force_sync: bool,
    pub failed: Option<String>,
    pub closed: bool,
    pub stop_writer: bool,
    /// Inclusive ranges of damaged sequences, sorted, disjoint.
    pub corrupt: Vec<(u64, u64)>,
    /// An atomic batch is being appended: its records are flagged and stay in one block.
    pub batch_open: bool,
}

impl Inner {
    pub fn check_writable(&self) -> Result<()> {
        if self.closed {
            return Err(StoreError::Closed);
        }
        match &self.failed {
            Some(f) => Err(StoreError::Failed(f.clone())),
            None => Ok(()),
        }
    }

    /// Starts a new active block whose first message will be `next_seq`.
    pub fn roll(&mut self, next_seq: u64) {
        let old = self.active;
        let id = old + 1;
        let len = self.blocks.get(&old).map_or(0, |b| b.len);
        self.queue.push(Op::Seal { id: old, len });
        let header = BlockHeader {
            id,
            first_seq: next_seq,
            created_ts: now_nanos(),
        }
        .encode();
        self.queue.push(Op::Create { id, header });
        self.blocks.insert(
            id,
            Block {
                file: None,
                len: BLOCK_HEADER_LEN as u64,
                live: 0,
                live_bytes: 0,
            },
        );
        self.active = id;
    }

    /// Appends encoded record bytes to the active block; returns their location.
    fn push_record(&mut self, rec: &Record<'_>, rec_len: usize) -> Loc {
        let block_len = self.blocks.get(&self.active).map_or(0, |b| b.len);
        if !self.batch_open
            && block_len > BLOCK_HEADER_LEN as u64
            && block_len + rec_len as u64 > self.block_size
        {
            // The header's first_seq bounds last_seq from below on replay, so it must be
            // the state after every change already applied to the index.
            let next = match rec.kind {
                RecordKind::Msg => self.idx.next_seq().max(rec.seq),
                _ => self.idx.next_seq(),
            };
            self.roll(next);
        }
        let id = self.active;
        let block = self.blocks.get_mut(&id).expect("active block exists");
        let offset = block.len;
        block.len += rec_len as u64;
        self.queue_bytes += rec_len;
        let flags = if self.batch_open { FLAG_BATCH } else { 0 };
        match self.queue.last_mut() {
            Some(Op::Write {
                id: wid,
                offset: woff,
                data,
            }) if *wid == id && *woff + data.len() as u64 == offset => {
                encode_record_flagged(data, rec, flags);
            }
            _ => {
                let mut data = Vec::with_capacity(rec_len.max(4096));
                encode_record_flagged(&mut data, rec, flags);
                self.queue.push(Op::Write { id, offset, data });
            }
        }
        Loc {
            block: id,
            offset: offset as u32,
            len: rec_len as u32,
        }
    }

    /// Queues a message record and indexes it.
    pub fn append_msg(
        &mut self,
        seq: u64,
        mut entry: Entry<Loc>,
        rec: &Record<'_>,
        rec_len: usize,
    ) {
        let loc = self.push_record(rec, rec_len);
        entry.loc = loc;
        if let Some(b) = self.blocks.get_mut(&loc.block) {
            b.live += 1;
            b.live_bytes += loc.len as u64;
        }
        self.idx.insert(seq, entry);
    }

    /// Queues a marker record (tombstone, delete-below, truncate, skip).
    pub fn append_marker(&mut self, kind: RecordKind, seq: u64) {
        let mut data = Vec::with_capacity(crate::codec::RECORD_OVERHEAD);
        encode_marker(&mut data, kind, seq, 0);
        let rec = Record {
            kind,
            seq,
            ts: 0,
            expires: 0,
            subject: b"",
            headers: None,
            payload: b"",
            packed: None,
        };
        self.push_record(&rec, data.len());
    }

    /// Bookkeeping for messages the index removed: live counts, tombstones (when
    /// `tombstones`), damaged ranges.
    pub fn on_removed(&mut self, removed: &[Removed<Loc>], tombstones: bool) {
        for (seq, e) in removed {
            if let Some(b) = self.blocks.get_mut(&e.loc.block) {
                b.live = b.live.saturating_sub(1);
                b.live_bytes = b.live_bytes.saturating_sub(e.loc.len as u64);
            }
            if tombstones {
                self.append_marker(RecordKind::Delete, *seq);
            }
        }
    }

    /// Unlinks leading blocks with nothing live. Only a prefix is removed: a later block's
    /// tombstones may refer to messages in earlier blocks, never the other way round.
    pub fn gc_prefix(&mut self) -> Vec<u32> {
        let mut gone = Vec::new();
        while let Some((&id, b)) = self.blocks.iter().next() {
            if id == self.active || b.live > 0 {
                break;
            }
            self.blocks.remove(&id);
            self.queue.push(Op::Remove { id });
            gone.push(id);
        }
        gone
    }

    /// The first block, when it is worth compacting: sealed, still holding live messages
    /// (so it keeps every later block from being unlinked), and at most a quarter live.
    pub fn compaction_candidate(&self) -> Option<u32> {
        let (&id, b) = self.blocks.iter().next()?;
        let worth = id != self.active && b.live > 0 && b.live_bytes * 4 <= b.len;
        worth.then_some(id)
    }

    /// Copies the live messages of block `id` (whose bytes are `image`) forward as `Moved`
    /// records, so the block holds nothing live and can be unlinked. Gives up, moving
    /// nothing, if any of them does not read back intact. Returns how many moved.
    pub fn move_live(&mut self, id: u32, image: &[u8]) -> usize {
        let Some(want) = self.blocks.get(&id).map(|b| b.live) else {
            return 0;
        };
        let mut found = Vec::new();
        for (&seq, e) in self.idx.iter() {
            if found.len() as u64 == want {
                break;
            }
            if e.loc.block == id {
                found.push((seq, e.loc));
            }
        }
        let mut records = Vec::with_capacity(found.len());
        for (seq, loc) in &found {
            let start = loc.offset as usize;
            let Some(bytes) = image.get(start..start + loc.len as usize) else {
                return 0;
            };
            match crate::codec::decode_record(bytes) {
                Ok((rec, _))
                    if matches!(rec.kind, RecordKind::Msg | RecordKind::Moved)
                        && rec.seq == *seq =>
                {
                    records.push(rec)
                }
                _ => return 0,
            }
        }
        for rec in &records {
            let moved = Record {
                kind: RecordKind::Moved,
                ..*rec
            };
            let old = self.idx.get(rec.seq).map(|e| e.loc);
            let len = rec.encoded_len();
            let loc = self.push_record(&moved, len);
            if let Some(b) = old.and_then(|o| self.blocks.get_mut(&o.block)) {
                b.live = b.live.saturating_sub(1);
                b.live_bytes = b.live_bytes.saturating_sub(len as u64);
            }
            if let Some(b) = self.blocks.get_mut(&loc.block) {
                b.live += 1;
                b.live_bytes += len as u64;
            }
            self.idx.set_loc(rec.seq, loc);
        }
        records.len()
    }

    /// The bytes of a record that is still queued or being written.
    pub fn pending_bytes(&self, loc: Loc) -> Option<Vec<u8>> {
        let find = |ops: &[Op]| {
            ops.iter().rev().find_map(|op| match op {
                Op::Write { id, offset, data } if *id == loc.block => {
                    let start = (loc.offset as u64).checked_sub(*offset)? as usize;
                    data.get(start..start + loc.len as usize)
                        .map(<[u8]>::to_vec)
                }
                _ => None,
            })
        };
        find(&self.queue).or_else(|| find(&self.inflight))
    }

    /// True while block `id` has writes queued or being written: its file image is not
    /// final yet (the zero-filled reserve stands where those records will go).
    pub fn has_pending_writes(&self, id: u32) -> bool {
        let writes = |ops: &[Op]| {
            ops.iter()
                .any(|op| matches!(op, Op::Write { id: w, .. } if *w == id))
        };
        writes(&self.queue) || writes(&self.inflight)
    }

    pub fn is_corrupt(&self, seq: u64) -> Option<(u64, u64)> {
        self.corrupt
            .iter()
            .copied()
            .find(|&(a, b)| a <= seq && seq <= b)
    }

    /// First damaged range intersecting `[from, to]`.
    pub fn corrupt_between(&self, from: u64, to: u64) -> Option<(u64, u64)> {
        self.corrupt
            .iter()
            .copied()
            .find(|&(a, b)| a <= to && b >= from)
    }

    pub fn add_corrupt(&mut self, a: u64, b: u64) {
        self.corrupt.push((a, b));
        self.corrupt.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.corrupt.len());
        for (a, b) in self.corrupt.drain(..) {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.corrupt = merged;
    }

    /// Forgets damaged sequences that no longer exist (below `first` or above `last`).
    pub fn trim_corrupt(&mut self) {
        let (first, last) = (self.idx.first_seq(), self.idx.last_seq());
        self.corrupt.retain_mut(|r| {
            r.0 = r.0.max(first);
            r.1 = r.1.min(last);
            r.0 <= r.1
        });
    }

    pub fn state(&self, with_deleted: bool) -> StreamState {
        let mut st = self.idx.state(with_deleted);
        st.failed = self.failed.clone();
        st.corrupt_ranges = self.corrupt.clone();
        st
    }
}
