//! Opening a file store: list the block files, read each sealed block's index (or scan the
//! block when the index is missing, stale or damaged), scan the last block, and replay
//! every record in log order into a fresh index.
//!
//! Recovery mode is explicit: only a torn tail of the *last* block (bytes after the last
//! valid record with no valid record following) is truncated. Damage anywhere else becomes
//! a damaged sequence range that is reported and never served; the rest of the stream
//! stays readable. A last block whose header is damaged (so the next sequence is unknown)
//! latches the store failed. Nothing here panics on file content.

use std::collections::BTreeMap;
use std::path::Path;

use super::core::{Block, Loc};
use super::scan::{decode_index, file_msg_size, scan_block, BlockScan, RecInfo, MAX_INDEX_FILE};
use crate::codec::{BlockHeader, RecordKind, BLOCK_HEADER_LEN};
use crate::error::Result;
use crate::index::{Entry, Index};
use crate::types::StoreConfig;
use crate::vfs::{read_all, read_exact_at, Vfs};

/// Largest block file recovery reads (record offsets are 32-bit).
pub(crate) const MAX_BLOCK_FILE: u64 = u32::MAX as u64;

/// What recovery found, for logs, health endpoints and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub blocks: usize,
    /// Sealed blocks restored from their index files without reading their records.
    pub indexed_blocks: usize,
    /// Blocks whose records were scanned and checksummed.
    pub scanned_blocks: usize,
    /// Bytes cut from a torn tail of the last block.
    pub truncated_bytes: u64,
    /// Human-readable descriptions of every problem found.
    pub problems: Vec<String>,
    /// Damaged sequence ranges (inclusive).
    pub corrupt_ranges: Vec<(u64, u64)>,
    /// Set when the store cannot safely accept writes.
    pub failed: Option<String>,
}

pub(crate) struct Recovered {
    pub idx: Index<Loc>,
    pub blocks: BTreeMap<u32, Block>,
    /// Sealed blocks without a valid index (one will be written).
    pub need_index: Vec<u32>,
    pub report: RecoveryReport,
}

struct Replay {
    idx: Index<Loc>,
    /// Start of a damaged range whose end is not known yet.
    open_hole: Option<u64>,
    corrupt: Vec<(u64, u64)>,
    report: RecoveryReport,
}

/// Block ids present in `dir`, ascending.
pub(crate) fn list_blocks(vfs: &dyn Vfs, dir: &Path) -> Result<Vec<u32>> {
    let mut ids: Vec<u32> = vfs
        .list(dir)?
        .iter()
        .filter_map(|n| n.strip_suffix(".blk").and_then(|s| s.parse().ok()))
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

pub(crate) fn recover(vfs: &dyn Vfs, dir: &Path, cfg: &StoreConfig) -> Result<Recovered> {
    let ids = list_blocks(vfs, dir)?;
    let mut rp = Replay {
        idx: Index::new(cfg.first_seq),
        open_hole: None,
        corrupt: Vec::new(),
        report: RecoveryReport {
            blocks: ids.len(),
            ..Default::default()
        },
    };
    let mut blocks = BTreeMap::new();
    let mut need_index = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let is_last = i + 1 == ids.len();
        let path = dir.join(format!("{id:010}.blk"));
        let f = vfs.open(&path, false)?;
        let mut len = f.len()?;
        let indexed = if is_last {
            None
        } else {
            match load_index(vfs, dir, id, &*f, len) {
                IndexLoad::Valid(s) => Some(s),
                IndexLoad::Unusable => None,
                IndexLoad::LengthChanged(was) => {
                    // A sealed block never changes length: bytes were lost or added.
                    rp.problem(format!(
                        "block {id}: length {len} differs from its index ({was})"
                    ));
                    rp.suspect_all();
                    None
                }
            }
        };
        let mut scan = match indexed {
            Some(s) => {
                rp.report.indexed_blocks += 1;
                s
            }
            None => {
                rp.report.scanned_blocks += 1;
                let buf = match read_all(&*f, MAX_BLOCK_FILE) {
                    Ok(b) => b,
                    Err(e) => {
                        rp.problem(format!("block {id}: unreadable: {e}"));
                        Vec::new()
                    }
                };
                let s = scan_block(&buf);
                if !is_last && s.header.is_some() && s.holes.is_empty() && s.torn_at.is_none() {
                    need_index.push(id);
                }
                s
            }
        };
        let Some(header) = scan.header else {
            if is_last && len <= BLOCK_HEADER_LEN as u64 {
                // Created but its header never became durable: nothing was in it.
                rp.problem(format!("block {id}: empty torn block removed"));
                drop(f);
                vfs.remove(&path)?;
                continue;
            }
            rp.problem(format!("block {id}: header damaged"));
            rp.suspect_all();
            rp.open_hole();
            if is_last {
                rp.report.failed = Some(format!(
                    "last block {id} header damaged: next sequence unknown"
                ));
            }
            blocks.insert(
                id,
                Block {
                    file: Some(f),
                    len,
                    live: 0,
                    live_bytes: 0,
                },
            );
            continue;
        };
        let assigned = header.first_seq.saturating_sub(1);
        if i > 0 && assigned > rp.idx.last_seq() && rp.open_hole.is_none() {
            // Records are never removed from inside a block, and every sequence jump is
            // written before the block that follows it: missing sequences here mean the
            // previous block lost records (possibly markers too).
            rp.problem(format!(
                "block {id}: sequences up to {assigned} missing before it"
            ));
            rp.suspect_all();
            rp.open_hole();
        }
        rp.bound(assigned);
        if is_last {
            drop_open_batch(&mut rp, id, &mut scan);
        }
        replay_block(&mut rp, id, &scan);
        if let Some(at) = scan.torn_at {
            if is_last {
                if !scan.zero_tail {
                    rp.report.truncated_bytes += len - at;
                }
                f.set_len(at)?;
                f.sync()?;
                len = at;
            } else {
                rp.problem(format!("block {id}: damaged tail at offset {at}"));
                rp.suspect_all();
                rp.open_hole();
            }
        }
        blocks.insert(
            id,
            Block {
                file: Some(f),
                len,
                live: 0,
                live_bytes: 0,
            },
        );
    }
    rp.finish();
    for (_, e) in rp.idx.iter() {
        if let Some(b) = blocks.get_mut(&e.loc.block) {
            b.live += 1;
            b.live_bytes += e.loc.len as u64;
        }
    }
    rp.report.corrupt_ranges = rp.corrupt.clone();
    Ok(Recovered {
        idx: rp.idx,
        blocks,
        need_index,
        report: rp.report,
    })
}

enum IndexLoad {
    Valid(BlockScan),
    /// Missing or damaged: scan the block.
    Unusable,
    /// A valid index for this block at another length (the recorded length).
    LengthChanged(u64),
}

/// The records of a sealed block from its index file, if the index is valid for the
/// block's current length and the block header is intact.
fn load_index(
    vfs: &dyn Vfs,
    dir: &Path,
    id: u32,
    f: &dyn crate::vfs::VFile,
    len: u64,
) -> IndexLoad {
    let ipath = dir.join(format!("{id:010}.idx"));
    if !vfs.exists(&ipath) {
        return IndexLoad::Unusable;
    }
    let Some(buf) = vfs
        .open(&ipath, false)
        .ok()
        .and_then(|f| read_all(&*f, MAX_INDEX_FILE).ok())
    else {
        return IndexLoad::Unusable;
    };
    let records = match decode_index(&buf, id, len) {
        Ok(r) => r,
        Err(_) => {
            return match super::scan::index_block_len(&buf, id) {
                Some(was) if was != len => IndexLoad::LengthChanged(was),
                _ => IndexLoad::Unusable,
            }
        }
    };
    let mut hb = [0u8; BLOCK_HEADER_LEN];
    if read_exact_at(f, &mut hb, 0).is_err() {
        return IndexLoad::Unusable;
    }
    match BlockHeader::decode(&hb) {
        Ok(header) => IndexLoad::Valid(BlockScan {
            header: Some(header),
            records,
            holes: Vec::new(),
            torn_at: None,
            zero_tail: false,
        }),
        Err(_) => IndexLoad::Unusable,
    }
}

/// An atomic batch whose closing record never became durable was never acknowledged:
/// its records (the trailing run flagged as batch members) are cut with the torn tail, so
/// a batch is recovered whole or not at all.
fn drop_open_batch(rp: &mut Replay, id: u32, scan: &mut BlockScan) {
    let open = scan.records.iter().rev().take_while(|r| r.batch).count();
    if open == 0 {
        return;
    }
    let keep = scan.records.len() - open;
    let at = scan.records[keep].offset as u64;
    scan.records.truncate(keep);
    scan.holes.retain(|h| h.offset < at);
    scan.torn_at = Some(scan.torn_at.map_or(at, |t| t.min(at)));
    scan.zero_tail = false;
    rp.problem(format!(
        "block {id}: incomplete atomic batch of {open} record(s) at offset {at} dropped"
    ));
}

fn replay_block(rp: &mut Replay, id: u32, scan: &BlockScan) {
    let mut holes = scan.holes.iter().peekable();
    for rec in &scan.records {
        while let Some(h) = holes.next_if(|h| h.offset < rec.offset as u64) {
            rp.hole(id, h);
        }
        rp.apply(id, rec);
    }
    for h in holes {
        rp.hole(id, h);
    }
}

impl Replay {
    fn problem(&mut self, p: String) {
        self.report.problems.push(p);
    }

    /// A damaged record range. A lost message leaves a sequence gap that the next
    /// message bounds. A lost marker (tombstone, delete-below, truncate) could have removed
    /// any message live at that point, so all of them become suspect.
    fn hole(&mut self, block: u32, h: &super::scan::Hole) {
        let what = if h.is_single_marker() {
            "marker record"
        } else {
            "record(s)"
        };
        self.problem(format!(
            "block {block}: damaged {what} at offset {} ({} bytes)",
            h.offset, h.len
        ));
        if !h.single_record || h.is_single_marker() {
            self.suspect_all();
        }
        if !h.is_single_marker() {
            self.open_hole();
        }
    }

    /// Marks every sequence assigned so far and not yet known deleted as damaged.
    fn suspect_all(&mut self) {
        let first = self.idx.first_seq().max(1);
        let last = self.idx.last_seq();
        if last >= first {
            self.corrupt.push((first, last));
        }
    }

    fn open_hole(&mut self) {
        if self.open_hole.is_none() {
            self.open_hole = Some(self.idx.last_seq() + 1);
        }
    }

    /// The log proves sequences up to `last` were assigned: close an open damaged range
    /// there and raise `last_seq`.
    fn bound(&mut self, last: u64) {
        if let Some(from) = self.open_hole {
            if last >= from {
                self.corrupt.push((from, last));
                self.open_hole = None;
            }
        }
        if last > self.idx.last_seq() {
            self.idx.set_bounds(0, last, 0);
        }
    }

    fn apply(&mut self, block: u32, rec: &RecInfo) {
        let seq = rec.seq;
        match rec.kind {
            RecordKind::Msg => {
                if seq <= self.idx.last_seq() {
                    self.problem(format!(
                        "block {block}: message {seq} out of order, ignored"
                    ));
                    return;
                }
                if let Some(from) = self.open_hole.take() {
                    match seq.checked_sub(1).filter(|&l| l >= from) {
                        Some(l) => self.corrupt.push((from, l)),
                        None => self.problem(format!("damaged non-message record before {seq}")),
                    }
                }
                let size = file_msg_size(
                    rec.subject.len(),
                    rec.has_headers.then_some(rec.headers_len as usize),
                    rec.payload_len(),
                );
                let entry = Entry {
                    subject: self.idx.intern(&rec.subject),
                    ts: rec.ts,
                    size,
                    expires: rec.expires,
                    loc: Loc {
                        block,
                        offset: rec.offset,
                        len: rec.len,
                    },
                };
                self.idx.insert(seq, entry);
            }
            RecordKind::Delete => {
                self.idx.remove(seq);
                self.carve(seq);
            }
            RecordKind::Erased => {
                self.bound(seq);
                self.idx.remove(seq);
                self.carve(seq);
            }
            RecordKind::DeleteBelow => {
                self.idx.compact(seq);
                self.corrupt.retain_mut(|r| {
                    r.0 = r.0.max(seq);
                    r.0 <= r.1
                });
            }
            RecordKind::Truncate => {
                self.idx.truncate(seq);
                self.corrupt.retain_mut(|r| {
                    r.1 = r.1.min(seq);
                    r.0 <= r.1 && seq > 0
                });
                if self.open_hole.is_some_and(|f| f > seq) {
                    self.open_hole = None;
                }
            }
            RecordKind::Skip => self.bound(seq),
            RecordKind::Moved => {
                // A live message copied out of a compacted block: it replaces the original
                // if that block is still here, and stands in for it if it is gone.
                let size = file_msg_size(
                    rec.subject.len(),
                    rec.has_headers.then_some(rec.headers_len as usize),
                    rec.payload_len(),
                );
                let entry = Entry {
                    subject: self.idx.intern(&rec.subject),
                    ts: rec.ts,
                    size,
                    expires: rec.expires,
                    loc: Loc {
                        block,
                        offset: rec.offset,
                        len: rec.len,
                    },
                };
                self.idx.insert_moved(seq, entry);
            }
        }
    }

    /// Removes one deleted sequence from the damaged ranges.
    fn carve(&mut self, seq: u64) {
        let mut out = Vec::with_capacity(self.corrupt.len() + 1);
        for &(a, b) in &self.corrupt {
            if seq < a || seq > b {
                out.push((a, b));
                continue;
            }
            if a < seq {
                out.push((a, seq - 1));
            }
            if seq < b {
                out.push((seq + 1, b));
            }
        }
        self.corrupt = out;
    }

    fn finish(&mut self) {
        if let Some(from) = self.open_hole.take() {
            if self.idx.last_seq() >= from {
                self.corrupt.push((from, self.idx.last_seq()));
            } else {
                self.problem("damaged records at the end of the log".into());
            }
        }
        self.corrupt.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.corrupt.len());
        for &(a, b) in &self.corrupt {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.corrupt = merged;
    }
}
