//! Counter streams (`allow_msg_counter`). A message published with `Nats-Incr: <integer>`
//! and no payload is stored as `{"val":"<total>"}`: the subject's previous total plus the
//! increment, in arbitrary precision. A counter message sourced from another stream carries
//! its origin's total; the stream keeps the last total seen per origin stream and subject in
//! `Nats-Counter-Sources` and adds the difference, so sourcing several counters sums them.
//! Errors are nats-server's (10168-10172).

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use bytes::Bytes;
use natrium_store::{MessageStore, StoreError};
use num_bigint::BigInt;

use crate::errors::{self as e, ApiError};
use crate::headers as h;
use crate::types::StreamConfig;

pub(super) const COUNTER_SOURCES: &str = "Nats-Counter-Sources";

/// Last total seen per origin stream and subject.
type Sources = BTreeMap<String, BTreeMap<String, String>>;

/// Totals of the subjects an atomic batch already incremented, ahead of the store.
pub(super) type Totals = HashMap<String, (BigInt, Sources)>;

/// A counter message as it is stored.
pub(super) struct Counted {
    pub headers: Bytes,
    pub payload: Bytes,
    /// The new total, for the PubAck's `val`.
    pub value: String,
}

/// The increment a message carries, after nats-server's checks: `None` for a message that
/// is not a counter update (only allowed on streams without counters, or stored verbatim
/// when sourced into one).
pub(super) fn increment(
    cfg: &StreamConfig,
    hdr: &[u8],
    payload_len: usize,
    sourced: bool,
) -> Result<Option<BigInt>, ApiError> {
    let get = |name: &str| {
        if hdr.is_empty() {
            None
        } else {
            h::get(hdr, name)
        }
    };
    let Some(v) = get(h::INCR) else {
        if cfg.allow_msg_counter {
            return Err(e::JS_MESSAGE_INCR_MISSING.err());
        }
        return Ok(None);
    };
    // An optional sign and decimal digits, nothing else.
    let v = v.trim();
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(e::JS_MESSAGE_INCR_INVALID.err());
    }
    let mut incr = BigInt::from_str(digits).map_err(|_| e::JS_MESSAGE_INCR_INVALID.err())?;
    if v.starts_with('-') {
        incr = -incr;
    }
    if !sourced {
        if !cfg.allow_msg_counter {
            return Err(e::JS_MESSAGE_INCR_DISABLED.err());
        }
        if payload_len > 0 {
            return Err(e::JS_MESSAGE_INCR_PAYLOAD.err());
        }
        let incompatible = [
            h::ROLLUP,
            h::EXPECTED_STREAM,
            h::EXPECTED_LAST_MSG_ID,
            h::EXPECTED_LAST_SUBJ_SEQ_SUBJ,
            h::EXPECTED_LAST_SEQ,
            h::EXPECTED_LAST_SUBJ_SEQ,
        ];
        if incompatible.iter().any(|n| get(n).is_some()) {
            return Err(e::JS_MESSAGE_INCR_INVALID.err());
        }
    }
    Ok(cfg.allow_msg_counter.then_some(incr))
}

fn broken() -> ApiError {
    e::JS_MESSAGE_COUNTER_BROKEN.err()
}

/// The total a stored counter message holds.
fn parse_total(payload: &[u8]) -> Result<BigInt, ApiError> {
    let v: serde_json::Value = serde_json::from_slice(payload).map_err(|_| broken())?;
    match v.get("val") {
        None | Some(serde_json::Value::Null) => Ok(BigInt::default()),
        Some(serde_json::Value::String(s)) => Ok(BigInt::from_str(s).unwrap_or_default()),
        Some(_) => Err(broken()),
    }
}

/// Applies `incr` to `subject`'s total (from `totals` when an earlier message of the same
/// batch set it, else from the store) and builds the message to store.
pub(super) fn apply(
    store: &dyn MessageStore,
    subject: &str,
    headers: Option<&Bytes>,
    payload: &[u8],
    mut incr: BigInt,
    totals: Option<&mut Totals>,
) -> Result<Counted, ApiError> {
    let (mut total, mut sources) = match totals.as_ref().and_then(|t| t.get(subject)) {
        Some((t, s)) => (t.clone(), s.clone()),
        None => match store.load_last_msg(subject) {
            Ok(m) => {
                let total = parse_total(&m.payload)?;
                let sources = match m
                    .headers
                    .as_deref()
                    .and_then(|b| h::get(b, COUNTER_SOURCES))
                {
                    Some(v) => serde_json::from_str(v).map_err(|_| broken())?,
                    None => Sources::new(),
                };
                (total, sources)
            }
            Err(StoreError::NotFound) | Err(StoreError::Eof) => Default::default(),
            Err(err) => return Err(e::JS_STREAM_STORE_FAILED.with(err)),
        },
    };
    let hdr = headers.map(|b| &b[..]).unwrap_or_default();
    let mut out_hdr = headers.cloned().unwrap_or_default();
    if let Some(src) = h::get(hdr, h::STREAM_SOURCE) {
        // Sourced: the payload is the origin's total; add what changed since the last one.
        let fields: Vec<&str> = src.split(' ').collect();
        let origin = fields.first().copied().unwrap_or_default().to_string();
        let origin_subject = fields.get(4).copied().unwrap_or(subject).to_string();
        let theirs = parse_total(payload)?;
        let per = sources.entry(origin).or_default();
        let previous = per
            .get(&origin_subject)
            .and_then(|v| BigInt::from_str(v).ok())
            .unwrap_or_default();
        per.insert(origin_subject, theirs.to_string());
        incr = theirs - previous;
        out_hdr = replace(&out_hdr, h::INCR, &incr.to_string());
    }
    total += incr;
    if !sources.is_empty() {
        let json = serde_json::to_string(&sources).map_err(|_| broken())?;
        out_hdr = replace(&out_hdr, COUNTER_SOURCES, &json);
    }
    let value = total.to_string();
    let payload = Bytes::from(serde_json::json!({ "val": value }).to_string());
    if let Some(t) = totals {
        t.insert(subject.to_string(), (total, sources));
    }
    Ok(Counted {
        headers: out_hdr,
        payload,
        value,
    })
}

/// The header block with `name` set to `value` (replacing any earlier value).
fn replace(block: &Bytes, name: &str, value: &str) -> Bytes {
    let kept = h::remove(block, |k| k.eq_ignore_ascii_case(name));
    h::append(kept.as_deref(), &[(name, value)])
}
