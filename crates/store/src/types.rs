//! Plain data types shared by both stores and by the JetStream layer: stored messages,
//! the store's view of a stream config, stream and subject states, and expiry results.
//! No behavior beyond small helpers lives here.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// One message as stored: subject, sequence, timestamp (unix nanoseconds), optional
/// NATS headers block and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMsg {
    pub subject: Arc<str>,
    pub seq: u64,
    pub ts: i64,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
}

/// Where a stream keeps its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageKind {
    #[default]
    File,
    Memory,
}

/// What happens when a limit is reached: drop the oldest messages, or refuse the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Discard {
    #[default]
    Old,
    New,
}

/// The part of a stream's configuration a store enforces. Limits use nats-server's
/// conventions: `-1` or `0` means unlimited (`max_age` zero means unlimited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    pub name: String,
    pub storage: StorageKind,
    pub subjects: Vec<String>,
    pub max_msgs: i64,
    pub max_bytes: i64,
    pub max_age: Duration,
    pub max_msgs_per_subject: i64,
    pub max_msg_size: i32,
    pub discard: Discard,
    pub discard_new_per_subject: bool,
    /// Sequence of the first message of a brand-new stream (0 or 1 = start at 1).
    pub first_seq: u64,
    pub allow_msg_ttl: bool,
    /// Expiry leaves the last message of each subject in place and reports it in
    /// [`ExpireOutcome::spared`], for the caller to replace with a delete marker.
    pub subject_delete_markers: bool,
    /// Store message bodies compressed where that saves space (the stream's
    /// `compression: s2`). Applies to new writes; the memory store keeps bodies as given.
    pub compress: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            name: String::new(),
            storage: StorageKind::File,
            subjects: Vec::new(),
            max_msgs: -1,
            max_bytes: -1,
            max_age: Duration::ZERO,
            max_msgs_per_subject: -1,
            max_msg_size: -1,
            discard: Discard::Old,
            discard_new_per_subject: false,
            first_seq: 0,
            allow_msg_ttl: false,
            subject_delete_markers: false,
            compress: false,
        }
    }
}

impl StoreConfig {
    /// A config with only the name and the storage kind set, all limits unlimited.
    pub fn new(name: &str, storage: StorageKind) -> Self {
        StoreConfig {
            name: name.to_string(),
            storage,
            ..Default::default()
        }
    }

    pub(crate) fn limit(v: i64) -> Option<u64> {
        (v > 0).then_some(v as u64)
    }
    pub(crate) fn max_msgs_limit(&self) -> Option<u64> {
        Self::limit(self.max_msgs)
    }
    pub(crate) fn max_bytes_limit(&self) -> Option<u64> {
        Self::limit(self.max_bytes)
    }
    pub(crate) fn max_per_subject_limit(&self) -> Option<u64> {
        Self::limit(self.max_msgs_per_subject)
    }
    pub(crate) fn max_age_ns(&self) -> Option<i64> {
        let ns = self.max_age.as_nanos();
        (ns > 0).then(|| ns.min(i64::MAX as u128) as i64)
    }
}

/// Messages, first and last sequence of one subject (or of a filtered view).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimpleState {
    pub msgs: u64,
    pub first: u64,
    pub last: u64,
}

/// The state of a stream's store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamState {
    pub msgs: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_ts: i64,
    pub last_seq: u64,
    pub last_ts: i64,
    pub num_deleted: u64,
    /// Interior deleted sequences; `None` from `fast_state`.
    pub deleted: Option<Vec<u64>>,
    pub num_subjects: u64,
    /// Set when the store latched failed (write or fsync error), with the reason.
    pub failed: Option<String>,
    /// Inclusive sequence ranges that were detected as damaged and are never served.
    pub corrupt_ranges: Vec<(u64, u64)>,
}

/// Why messages were removed without an explicit remove/purge call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalReason {
    /// max_msgs, max_bytes or max_msgs_per_subject (discard old).
    Limits,
    /// max_age.
    MaxAge,
    /// Per-message TTL.
    Ttl,
}

/// Result of one expiry tick (see [`crate::MessageStore::expire`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExpireOutcome {
    /// Messages removed by this tick.
    pub removed: u64,
    /// When the next message becomes due (max_age or TTL); `None` if nothing can expire.
    /// With subject delete markers a spared message keeps it in the past.
    pub next_deadline: Option<SystemTime>,
    /// Due messages left in place because each is the last of its subject (only with
    /// `StoreConfig::subject_delete_markers`).
    pub spared: Vec<(u64, std::sync::Arc<str>)>,
}

/// Unix nanoseconds of `t`, saturating.
pub fn unix_nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos().min(i64::MAX as u128) as i64,
        Err(e) => -(e.duration().as_nanos().min(i64::MAX as u128) as i64),
    }
}

/// The `SystemTime` of unix nanoseconds `ns` (negative values clamp to the epoch).
pub fn from_unix_nanos(ns: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64)
}

/// Unix nanoseconds now.
pub fn now_nanos() -> i64 {
    unix_nanos(SystemTime::now())
}
