//! The two traits the JetStream layer codes against: [`MessageStore`] for a stream's
//! messages and [`ConsumerStore`] for one consumer's delivery/ack state. Both are object
//! safe and `Send + Sync`; implementations do blocking work (the file store may wait for an
//! fsync), so async callers use `store_msg_async` or run calls on blocking threads.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::consumer::{ConsumerConfig, ConsumerState};
use crate::error::Result;
use crate::types::{
    ExpireOutcome, RemovalReason, SimpleState, StoreConfig, StoredMsg, StreamState,
};

/// Completion of an asynchronous append: `(seq, ts)` once the append is durable (file store,
/// `SyncPolicy::Always`), written (file store, interval syncing) or stored (memory store).
pub type AppendDone = Box<dyn FnOnce(Result<(u64, i64)>) + Send + 'static>;

/// One message of an atomic batch append.
#[derive(Debug, Clone)]
pub struct BatchMsg {
    pub subject: String,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
    pub ttl: Option<Duration>,
}

/// Completion of a batch append: each message's `(seq, ts)`, in order.
pub type BatchDone = Box<dyn FnOnce(Result<Vec<(u64, i64)>>) + Send + 'static>;

/// Called, outside every store lock, for each message a store removed on its own: by a
/// discard-old limit, by max_age or by a per-message TTL. Explicit removes and purges are
/// not reported (the caller already knows).
pub type RemovalCallback = Box<dyn Fn(u64, &str, RemovalReason) + Send + Sync + 'static>;

/// Runs an asynchronous append and blocks until its completion arrives (the blocking
/// forms of the append calls). A store that drops the completion unanswered reads as closed.
pub(crate) fn wait_for_append(start: impl FnOnce(AppendDone)) -> Result<(u64, i64)> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    start(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    rx.recv().unwrap_or(Err(crate::StoreError::Closed))
}

/// A stream's message store.
///
/// Sequences are assigned in call order. Filters are NATS subjects that may contain `*`
/// and `>`; `""` and `">"` mean all subjects.
///
/// Expiry (max_age and per-message TTL) is driven by the caller: the store runs no timer.
/// Call [`MessageStore::expire`] at (or after) the `next_deadline` it returned, and after
/// `store_msg` calls that carried a TTL or `update_config`, when [`MessageStore::next_expiry`]
/// moved earlier. This keeps the store free of clocks and threads it would have to own for
/// timing, and lets tests drive time explicitly.
pub trait MessageStore: Send + Sync {
    /// Appends a message and returns `(seq, ts)`. For the file store with
    /// `SyncPolicy::Always` the record is fsynced when this returns.
    fn store_msg(
        &self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        ttl: Option<Duration>,
    ) -> Result<(u64, i64)> {
        wait_for_append(|done| self.store_msg_async(subject, headers, payload, ttl, done))
    }

    /// Enqueues an append and calls `done` once it is durable (group commit in the file
    /// store). Validation errors (limits, size, closed/failed store) call `done` at once,
    /// on the calling thread. Sequence order equals call order. `done` must not block.
    fn store_msg_async(
        &self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        ttl: Option<Duration>,
        done: AppendDone,
    );

    /// Stores a message with a caller-chosen sequence and timestamp (replication,
    /// restore). `seq` must be the next sequence (or 0 for "next"). Blocking like
    /// `store_msg`. Discard-new limits are not checked (the leader already did).
    fn store_raw_msg(
        &self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        seq: u64,
        ts: i64,
        ttl: Option<Duration>,
    ) -> Result<(u64, i64)>;

    /// `store_raw_msg` without blocking: `done` is called once the record is durable, as
    /// with `store_msg_async`. `seq` may leave a gap after the last sequence (a mirror
    /// skipping messages its origin removed); the gap reads as deleted.
    #[allow(clippy::too_many_arguments)]
    fn store_raw_msg_async(
        &self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        seq: u64,
        ts: i64,
        ttl: Option<Duration>,
        done: AppendDone,
    );

    /// Appends `msgs` as one atomic batch: every message is checked first (size, subject,
    /// discard-new limits, as if appended in order) and either all are appended, with
    /// consecutive sequences and no other append between them, or none is. Readers never
    /// see part of the batch, and after a crash the file store recovers all of it or none
    /// of it. `done` is called as with `store_msg_async`, once for the whole batch.
    fn store_batch_async(&self, msgs: Vec<BatchMsg>, done: BatchDone);

    /// The message with sequence `seq`: `NotFound` if absent or deleted, `Corrupt` if the
    /// record is damaged.
    fn load_msg(&self, seq: u64) -> Result<StoredMsg>;
    /// First message with sequence >= `start` whose subject matches `filter`; `Eof` if none.
    fn load_next_msg(&self, filter: &str, start: u64) -> Result<StoredMsg>;
    /// Last message whose subject matches `filter`; `NotFound` if none.
    fn load_last_msg(&self, filter: &str) -> Result<StoredMsg>;
    /// Last message with sequence <= `start`; `Eof` if none.
    fn load_prev_msg(&self, start: u64) -> Result<StoredMsg>;
    /// Removes one message; `Ok(false)` if it was not there.
    fn remove_msg(&self, seq: u64) -> Result<bool>;
    /// Removes one message and overwrites its bytes (on disk for the file store).
    fn erase_msg(&self, seq: u64) -> Result<bool>;
    /// Removes every message; returns how many. The next sequence is unchanged.
    fn purge(&self) -> Result<u64>;
    /// Removes messages matching `subject` (`""`/`">"` all) with sequence < `seq` (0 = no
    /// bound), keeping the newest `keep` matching ones (0 = keep none).
    fn purge_ex(&self, subject: &str, seq: u64, keep: u64) -> Result<u64>;
    /// Removes every message with sequence < `seq`; returns how many. Compacting past the
    /// end makes `seq` the next sequence.
    fn compact(&self, seq: u64) -> Result<u64>;
    /// Removes every message with sequence > `seq`; `last_seq` becomes `seq`. 0 resets.
    fn truncate(&self, seq: u64) -> Result<()>;
    /// Full state including the interior deleted list.
    fn state(&self) -> StreamState;
    /// State without the deleted list (cheap).
    fn fast_state(&self) -> StreamState;
    /// Per-subject state for subjects matching `filter`.
    fn subjects_state(&self, filter: &str) -> BTreeMap<String, SimpleState>;
    /// Per-subject message counts for subjects matching `filter`.
    fn subjects_totals(&self, filter: &str) -> BTreeMap<String, u64>;
    /// Messages with sequence >= `start` matching `filter` (only the last per subject if
    /// `last_per_subject`); returns `(pending, valid_through_seq)`.
    fn num_pending(&self, start: u64, filter: &str, last_per_subject: bool) -> (u64, u64);
    /// Applies a new config; limits take effect immediately.
    fn update_config(&self, cfg: &StoreConfig) -> Result<()>;
    /// Removes messages whose max_age or TTL passed at `now`.
    fn expire(&self, now: SystemTime) -> Result<ExpireOutcome>;
    /// When the next message becomes due for expiry, if any.
    fn next_expiry(&self) -> Option<SystemTime>;
    /// Registers the callback for messages removed by limits or expiry (replaces any
    /// previous one).
    fn register_removal_callback(&self, cb: RemovalCallback);
    /// Writes a self-describing, checksummed snapshot of the config and every message.
    fn snapshot(&self, w: &mut dyn Write) -> Result<()>;
    /// Waits until everything appended so far is durable.
    fn flush(&self) -> Result<()>;
    /// Flushes and closes; later calls return `Closed`.
    fn stop(&self) -> Result<()>;
    /// Stops and removes all stored data.
    fn delete(&self) -> Result<()>;
    /// The config in force.
    fn config(&self) -> StoreConfig;
    /// Opens (creating if needed) the state store of consumer `name`.
    fn consumer_store(
        &self,
        name: &str,
        cfg: &ConsumerConfig,
    ) -> Result<std::sync::Arc<dyn ConsumerStore>>;
}

/// One consumer's durable delivery and ack state.
pub trait ConsumerStore: Send + Sync {
    /// Records a delivery: consumer sequence `dseq` of stream sequence `sseq`, delivery
    /// count `dc`, at `ts`.
    fn update_delivered(&self, dseq: u64, sseq: u64, dc: u64, ts: i64) -> Result<()>;
    /// Records an ack of `sseq` (delivered as `dseq`); advances the ack floor over
    /// contiguous acknowledged sequences only.
    fn update_acks(&self, dseq: u64, sseq: u64) -> Result<()>;
    /// Replaces the whole state (used when a consumer is reset or restored).
    fn set_state(&self, state: &ConsumerState) -> Result<()>;
    /// The current state.
    fn state(&self) -> Result<ConsumerState>;
    /// Stores a new config.
    fn update_config(&self, cfg: &ConsumerConfig) -> Result<()>;
    /// The config.
    fn config(&self) -> ConsumerConfig;
    /// Makes the state durable and closes.
    fn stop(&self) -> Result<()>;
    /// Removes the consumer's state.
    fn delete(&self) -> Result<()>;
}
