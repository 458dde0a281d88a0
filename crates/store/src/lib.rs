//! natrium-store: the message stores of Natrium's JetStream — a memory store and a
//! crash-safe file store behind one [`MessageStore`] trait, plus consumer state stores
//! behind [`ConsumerStore`]. It owns every byte on disk for messages and consumer state.
//!
//! Architecture invariants: no network code, no async runtime, no JetStream policy beyond
//! what a store enforces (limits, discard, per-subject index, TTL/max-age expiry when
//! asked). No `unsafe`. No panic on any disk or snapshot input: every length read from disk
//! is bounded before allocation and every structure carries a CRC-32C.
//!
//! # Using it
//! - [`new_memory_store`] / [`open_file_store`] create stores; [`restore`] and
//!   [`restore_memory`] rebuild one from a [`MessageStore::snapshot`] stream.
//! - Appends: [`MessageStore::store_msg`] blocks until durable; [`MessageStore::store_msg_async`]
//!   queues and calls its completion from the file store's writer thread after the group
//!   commit (completions must not block or call the store synchronously).
//! - Expiry is a tick the caller drives: call [`MessageStore::expire`] at the
//!   `next_deadline` it returns (see the trait docs). The store owns no timers.
//! - Messages removed by limits or expiry are reported through
//!   [`MessageStore::register_removal_callback`], outside every store lock.
//! - Damage is reported, never served: [`StreamState::corrupt_ranges`], [`StreamState::failed`]
//!   and [`FileStore::recovery_report`]; loads in a damaged range return
//!   [`StoreError::Corrupt`].
//!
//! # Code map
//! - `traits.rs`, `types.rs`, `error.rs`: the public contract.
//! - `index.rs`: the in-memory index and every store rule (limits, discard, expiry,
//!   purge/compact/truncate selection, queries), shared by both stores.
//! - `memory.rs`: the memory store. `consumer.rs`: consumer state rules + memory consumer store.
//! - `file/`: the file store — `mod.rs` (API, reads), `store_impl.rs` (trait impl), `core.rs`
//!   (state under the lock, write queue), `writer.rs` (group commit thread), `recovery.rs`
//!   (open/replay), `scan.rs` (block scan, index files), `meta.rs` (metadata, consumer files),
//!   `cache.rs` (bounded block cache).
//! - `codec.rs`: pure encoders/decoders. `snapshot.rs`: snapshot stream.
//! - `vfs.rs`: the file-system seam; `sim.rs`: simulated file system for crash tests.
//!
//! Lock order (file store): `Inner` mutex, then the block-cache mutex; the removal
//! callback lock and consumer map are never held together with `Inner`.
//!
//! # File store format (version 1)
//! All integers are little-endian. CRC is CRC-32C (Castagnoli).
//!
//! Directory:
//! ```text
//! <dir>/stream.meta                 stream config (atomic replace)
//! <dir>/blocks/NNNNNNNNNN.blk       block files, id = 10 decimal digits, ascending
//! <dir>/blocks/NNNNNNNNNN.idx       index of a sealed block (optional cache)
//! <dir>/consumers/<hex(name)>.cons  one consumer's config + state (atomic replace)
//! ```
//!
//! Block file = 32-byte header, then records back to back:
//! ```text
//! header  0..4   magic "NTRB"
//!         4..6   format version (1)
//!         6..8   header length (32)
//!         8..12  block id (u32)
//!        12..20  first_seq (u64): the sequence the store would assign next when the block
//!                was created; on replay it proves every sequence < first_seq was assigned
//!        20..28  created, unix nanos (i64)
//!        28..32  CRC of bytes 0..28
//! record  0..4   total record length L (u32, includes these 4 bytes and the CRC), 40..=80 MiB
//!         4      kind: 1 message, 2 delete(seq), 3 delete-below(seq), 4 truncate(seq),
//!                5 erased message, 6 skip(seq), 7 moved message
//!         5      flags: bit 0 = has headers (distinguishes empty headers from none);
//!                bit 1 = member of an atomic batch not yet closed (see below);
//!                bit 2 = packed: the bytes after the subject are the Snappy (raw format)
//!                compression of headers then payload, H is the *uncompressed* headers
//!                length, and the uncompressed body length is the Snappy preamble. Only
//!                message and moved records are packed, only for stores configured to
//!                compress (`compression: s2`), and only when that saves an eighth of a
//!                body of 64 bytes or more. The CRC covers the stored (compressed) bytes.
//!         6..8   subject length S (u16)
//!         8..16  seq (u64): the message's sequence, or the marker's argument
//!        16..24  timestamp, unix nanos (i64)
//!        24..32  TTL expiry, unix nanos (i64), 0 = none
//!        32..36  headers length H (u32)
//!        36..    subject (S bytes), headers (H bytes), payload (L - 40 - S - H bytes)
//!        L-4..L  CRC of bytes 0..L-4
//! ```
//! Markers (kinds 2, 3, 4, 6) are 40 bytes with S = H = 0 and no payload. Erasing a message
//! first makes a delete marker durable, then overwrites the record in place with a kind-5
//! record of the same length (zero payload, valid CRC).
//!
//! An atomic batch is written contiguously in one block: every record it produces (its
//! messages and any tombstones its limits caused) has flag bit 1, and an unflagged
//! skip(last) marker closes it. Recovery cuts a trailing run of flagged records in the last
//! block as part of the torn tail, so a batch is recovered whole or not at all.
//!
//! The block being appended to is zero-filled ahead of the write position (1 MiB at a time,
//! up to the block size), so appends overwrite zeros instead of growing the file and each
//! group commit's fdatasync has no size change to flush; sealing a block cuts it back to its
//! last record before a later block is created, and recovery trims an all-zero tail of the
//! last block silently (any other damaged tail is reported).
//!
//! Compaction: only a prefix of blocks can be unlinked, so a first block that is at most a
//! quarter live (one rarely written key, say) would pin every later block. A background
//! thread copies its live messages forward as kind-7 *moved* records (same fields, same
//! sequence) and then unlinks it once they are durable, like any dead leading block.
//!
//! Replay semantics, in log order (blocks by id, records by offset): message → insert (a
//! sequence not above the last one is ignored and reported); delete → remove seq;
//! delete-below(X) → remove every seq < X and raise last to X-1 (purge, compact); truncate(X)
//! → remove every seq > X, last = X (0 resets); skip(X) → raise last to X; moved(X) →
//! X takes the moved record's location, or is inserted if its block is gone; a block header
//! raises last to first_seq-1. Records are never removed from inside a block; only whole
//! leading blocks with no live message are unlinked (never the write head), after the
//! tombstones that emptied them are durable: later tombstones only refer to earlier
//! blocks, so removing a leading block can never bring a deleted message back.
//!
//! Index file (`.idx`, written when a block is sealed; fsynced; tmp → rename):
//! ```text
//! 0..4 magic "NTRI" | 4..6 version | 6..8 zero | 8..12 block id | 12..20 block length the
//! index describes | 20..28 record count N | N entries | CRC of everything before
//! entry: kind u8 | flags u8 (bit 0 has headers, bit 1 packed) | subject (u16 length +
//!        bytes) | offset u32 | length u32 | seq u64 | ts i64 | expiry i64 | headers length
//!        u32 | packed only: uncompressed body length u32
//! ```
//! An index is used only if its CRC, id and recorded block length match; otherwise the
//! block is scanned (a sealed block whose length changed is reported as damaged).
//!
//! `stream.meta`: "NTRM" | version u16 | zero u16 | config | CRC. Config encoding: name
//! (u16 len + bytes) | storage u8 | subject count u32, each u16 len + bytes | max_msgs i64 |
//! max_bytes i64 | max_age ns u64 | max_msgs_per_subject i64 | max_msg_size i32 | discard u8
//! | discard_new_per_subject u8 | first_seq u64 | allow_msg_ttl u8.
//!
//! Consumer file: "NTRC" | version u16 | zero u16 | name (u16 len + bytes) | ack policy u8 |
//! max_deliver i64 | raw config (u32 len + bytes) | delivered (consumer u64, stream u64) |
//! ack floor (consumer u64, stream u64) | pending count u64, each (sseq u64, dseq u64, ts
//! i64) | redelivered count u64, each (sseq u64, count u64) | CRC.
//!
//! Snapshot stream: "NTRS" | version u16 | zero u16, then frames `kind u8 | length u32 | body
//! | CRC(kind, length, body)`: 1 config, 2 bounds (first u64, last u64, last_ts i64, msgs
//! u64), 3 message (seq u64, ts i64, expiry i64, subject u16+bytes, has-headers u8, headers
//! u32+bytes, payload = rest), 0xFF end (message count u64).
//!
//! # Durability and recovery
//! [`SyncPolicy::Always`] (default): an append completes after the writer thread wrote it
//! and fsynced the block (one fsync per batch: group commit; no timer). Before a new block
//! is created the previous one is fsynced, so only the last block can have a torn tail.
//! [`SyncPolicy::Interval`]: completes after `write(2)`, fsync at most every interval.
//! A failed write or fsync latches the store failed ([`StoreError::Failed`]); never retried.
//!
//! On open, only a torn tail of the last block is truncated (reported in
//! [`RecoveryReport::truncated_bytes`]). A damaged record elsewhere is skipped by resyncing
//! on the next valid record; the sequences it may have held become a damaged range. A
//! damaged marker (or a damage of unknown extent) makes every message live at that point
//! suspect, because a lost tombstone could otherwise resurrect a deleted message. A
//! damaged last-block header latches the store failed (the next sequence is unknown).
//! Known limit: a last block cut exactly at a record boundary is indistinguishable from a
//! crash before those records were written.

#![forbid(unsafe_code)]

mod codec;
pub mod consumer;
mod error;
mod file;
mod index;
mod memory;
pub mod sim;
mod snapshot;
mod subject;
mod traits;
mod types;
pub mod vfs;

pub use consumer::{
    AckPolicy, ConsumerConfig, ConsumerState, MemoryConsumerStore, Pending, SequencePair,
};
pub use error::{Result, StoreError};
pub use file::{
    file_msg_size, open_file_store, restore, FileConsumerStore, FileStore, FileStoreOptions,
    RecoveryReport, SyncPolicy,
};
pub use memory::{mem_msg_size, new_memory_store, MemoryStore};
pub use snapshot::restore_memory;
pub use traits::{AppendDone, BatchDone, BatchMsg, ConsumerStore, MessageStore, RemovalCallback};
pub use types::{
    from_unix_nanos, now_nanos, unix_nanos, Discard, ExpireOutcome, RemovalReason, SimpleState,
    StorageKind, StoreConfig, StoredMsg, StreamState,
};
