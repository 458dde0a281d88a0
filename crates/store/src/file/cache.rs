//! A bounded cache of sealed block images for reads, least-recently-used eviction. Memory
//! stays under `cache_max_bytes` however large the stream grows. The active block is never
//! cached (it keeps growing); its records are read with positional reads.

use std::collections::HashMap;

use bytes::Bytes;

#[derive(Debug, Default)]
pub(crate) struct BlockCache {
    blocks: HashMap<u32, (Bytes, u64)>,
    bytes: usize,
    max_bytes: usize,
    tick: u64,
}

impl BlockCache {
    pub fn new(max_bytes: usize) -> Self {
        BlockCache {
            max_bytes,
            ..Default::default()
        }
    }

    /// Can a block image of `len` bytes be cached at all?
    pub fn admits(&self, len: u64) -> bool {
        len as usize <= self.max_bytes / 2
    }

    /// Bytes `[off, off + len)` of block `id`, if cached.
    pub fn get(&mut self, id: u32, off: usize, len: usize) -> Option<Bytes> {
        self.tick += 1;
        let tick = self.tick;
        let (data, used) = self.blocks.get_mut(&id)?;
        *used = tick;
        data.get(off..off.checked_add(len)?)
            .map(|_| data.slice(off..off + len))
    }

    pub fn insert(&mut self, id: u32, data: Bytes) {
        if !self.admits(data.len() as u64) {
            return;
        }
        self.invalidate(id);
        while self.bytes + data.len() > self.max_bytes {
            let Some((&victim, _)) = self.blocks.iter().min_by_key(|(_, (_, used))| *used) else {
                break;
            };
            self.invalidate(victim);
        }
        self.tick += 1;
        self.bytes += data.len();
        self.blocks.insert(id, (data, self.tick));
    }

    pub fn invalidate(&mut self, id: u32) {
        if let Some((d, _)) = self.blocks.remove(&id) {
            self.bytes -= d.len();
        }
    }

    pub fn cached_bytes(&self) -> usize {
        self.bytes
    }
}
