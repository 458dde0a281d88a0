//! The one error enum of the store crate. Every fallible store operation returns
//! [`StoreError`]; it is `Clone` so that one latched failure can complete every waiting
//! append. It carries no I/O handles, only kinds and texts.

use std::io;

/// Errors returned by message and consumer stores.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No message with that sequence (never stored, deleted, or outside the stream).
    #[error("no message found")]
    NotFound,
    /// No message at or after (or before, for `load_prev_msg`) the start sequence matches.
    #[error("stream store EOF")]
    Eof,
    /// The store was stopped or deleted.
    #[error("store is closed")]
    Closed,
    /// Discard-new limit on the number of messages.
    #[error("maximum messages exceeded")]
    MaxMsgs,
    /// Discard-new limit on the number of bytes.
    #[error("maximum bytes exceeded")]
    MaxBytes,
    /// Discard-new limit on the number of messages for one subject.
    #[error("maximum messages per subject exceeded")]
    MaxMsgsPerSubject,
    /// The message (headers plus payload) is larger than `max_msg_size` or than the store's
    /// hard record limit.
    #[error("message size exceeds maximum allowed")]
    MaxMsgSize,
    /// A per-message TTL was given but the stream does not allow them.
    #[error("per-message TTL is disabled")]
    MsgTtlDisabled,
    /// `store_raw_msg` was given a sequence that is not the next one.
    #[error("sequence mismatch: expected {expected}, got {got}")]
    SequenceMismatch { expected: u64, got: u64 },
    /// The subject is empty or not a valid literal subject.
    #[error("invalid subject")]
    InvalidSubject,
    /// The configuration is not acceptable to this store.
    #[error("invalid store config: {0}")]
    InvalidConfig(String),
    /// A record or range failed its checksum or structural checks; never served as data.
    #[error("corrupt data at sequence {seq}: {reason}")]
    Corrupt { seq: u64, reason: String },
    /// The store latched failed after a write or fsync error; nothing is retried.
    #[error("store failed: {0}")]
    Failed(String),
    /// An I/O error that did not (yet) latch the store, e.g. while opening or reading.
    #[error("I/O error ({kind:?}): {msg}")]
    Io { kind: io::ErrorKind, msg: String },
    /// A snapshot or a file that is not in the expected format.
    #[error("bad format: {0}")]
    BadFormat(String),
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        StoreError::Io {
            kind: e.kind(),
            msg: e.to_string(),
        }
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
