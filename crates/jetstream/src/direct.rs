//! Direct get (`$JS.API.DIRECT.GET.<stream>[.<subject>]`): answers straight from the store
//! with the message itself (headers `Nats-Stream`, `Nats-Subject`, `Nats-Sequence`,
//! `Nats-Time-Stamp`) instead of a JSON envelope. Besides single lookups (by sequence, last
//! or next by subject, start time) it serves batches (`batch`, `max_bytes`, each message
//! with `Nats-Num-Pending` and `Nats-Last-Sequence`, then a `204 EOB` status) and the last
//! message of many subjects at once (`multi_last`, up to a sequence or time, at most 1,024
//! results, else `413 Too Many Results`). Status replies and their words are nats-server's.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use natrium_store::{StoreError, StoredMsg};
use serde::Deserialize;

use crate::headers as h;
use crate::stream::Stream;
use crate::types::{parse_rfc3339, rfc3339};
use crate::InMsg;

/// Most messages one `multi_last` request may return.
const MULTI_MAX: usize = 1024;
/// Bytes a request may pull when it sets no `max_bytes` (nats-server's max pending).
const MAX_BYTES_DEFAULT: usize = 64 << 20;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Request {
    seq: u64,
    last_by_subj: String,
    next_by_subj: String,
    batch: usize,
    max_bytes: usize,
    start_time: Option<String>,
    multi_last: Vec<String>,
    up_to_seq: u64,
    up_to_time: Option<String>,
    no_hdr: bool,
}

impl Request {
    /// nats-server's checks, in its order; the status to answer with when they fail.
    fn check(&self) -> Result<(), &'static str> {
        let nothing = self.seq == 0
            && self.last_by_subj.is_empty()
            && self.next_by_subj.is_empty()
            && self.multi_last.is_empty()
            && self.start_time.is_none();
        if nothing {
            return Err("408 Empty Request");
        }
        let last = !self.last_by_subj.is_empty();
        let start = self.start_time.is_some();
        let next = !self.next_by_subj.is_empty();
        let multi = !self.multi_last.is_empty();
        let conflicting = (last && (self.seq > 0 || start || next || self.batch > 0 || multi))
            || (self.seq > 0 && start)
            || (next && multi)
            || (self.up_to_seq > 0 && self.up_to_time.is_some());
        if conflicting {
            return Err("408 Bad Request");
        }
        Ok(())
    }
}

/// Handles one direct get request on the stream's subscription.
/// `served` is the stream name in the request subject: the stream's own, or its mirror
/// origin's (mirror_direct).
pub fn direct_get(s: &Arc<Stream>, served: &str, m: InMsg) {
    let Some(reply) = m.reply.clone() else { return };
    let Some(js) = s.js() else { return };
    let prefix = format!("$JS.API.DIRECT.GET.{served}");
    let subject_form = m
        .subject
        .strip_prefix(&prefix)
        .and_then(|r| r.strip_prefix('.'));
    let req = match subject_form {
        Some(subj) => Request {
            last_by_subj: subj.to_string(),
            ..Default::default()
        },
        None => {
            let parsed = if m.payload.iter().all(|b| b.is_ascii_whitespace()) {
                Err("408 Empty Request")
            } else {
                crate::api::decode::<Request>(&m.payload)
                    .map_err(|_| "408 Malformed Request")
                    .and_then(|r| r.check().map(|_| r))
            };
            match parsed {
                Ok(r) => r,
                Err(status) => {
                    let hdr = h::build(Some(status), &[]);
                    js.outlet().publish(&reply, None, Some(hdr), Bytes::new());
                    return;
                }
            }
        }
    };
    let s2 = s.clone();
    js.runtime().clone().spawn_blocking(move || {
        let out = if req.multi_last.is_empty() {
            single_or_batch(&s2, &req)
        } else {
            multi_last(&s2, &req)
        };
        if let Some(js) = s2.js() {
            for (hdr, payload) in out {
                js.outlet().publish(&reply, None, hdr, payload);
            }
        }
    });
}

type Reply = Vec<(Option<Bytes>, Bytes)>;

fn status(st: &str, pairs: &[(&str, &str)]) -> (Option<Bytes>, Bytes) {
    (Some(h::build(Some(st), pairs)), Bytes::new())
}

/// The message with the direct-get headers, plus pending and previous sequence in a batch.
fn message(
    s: &Stream,
    m: StoredMsg,
    no_hdr: bool,
    batch: Option<(u64, u64)>,
) -> (Option<Bytes>, Bytes) {
    if no_hdr {
        return (None, m.payload);
    }
    let (seq, ts) = (m.seq.to_string(), rfc3339(m.ts));
    let mut pairs: Vec<(&str, String)> = vec![
        ("Nats-Stream", s.name.clone()),
        ("Nats-Subject", m.subject.to_string()),
        ("Nats-Sequence", seq),
        ("Nats-Time-Stamp", ts),
    ];
    if let Some((np, last)) = batch {
        pairs.push(("Nats-Num-Pending", np.to_string()));
        pairs.push(("Nats-Last-Sequence", last.to_string()));
    }
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (Some(h::append(m.headers.as_deref(), &pairs)), m.payload)
}

fn size_of(m: &StoredMsg) -> usize {
    m.subject.len() + m.headers.as_ref().map_or(0, |h| h.len()) + m.payload.len()
}

/// The first sequence at or after `ts` (unix nanos); past the end when none.
fn seq_from_time(s: &Stream, ts: i64) -> u64 {
    let st = s.store.fast_state();
    let mut seq = st.first_seq.max(1);
    loop {
        match s.store.load_next_msg(">", seq) {
            Ok(m) if m.ts >= ts => return m.seq,
            Ok(m) => seq = m.seq + 1,
            Err(_) => return st.last_seq + 1,
        }
    }
}

fn single_or_batch(s: &Stream, req: &Request) -> Reply {
    let mut seq = match req.start_time.as_deref().and_then(parse_rfc3339) {
        Some(t) => seq_from_time(s, t),
        None => req.seq,
    };
    let filter = req.next_by_subj.as_str();
    let is_batch = req.batch > 0;
    let batch = req.batch.max(1);
    let mut np = if is_batch {
        s.store
            .num_pending(seq, if filter.is_empty() { ">" } else { filter }, false)
            .0
    } else {
        0
    };
    let max_bytes = if req.max_bytes == 0 {
        MAX_BYTES_DEFAULT
    } else {
        req.max_bytes
    };
    let (mut out, mut sent_bytes, mut last) = (Vec::new(), 0, 0u64);
    for i in 0..batch {
        let found: Result<StoredMsg, StoreError> = if !req.last_by_subj.is_empty() {
            s.store.load_last_msg(&req.last_by_subj)
        } else if !filter.is_empty() {
            s.store.load_next_msg(filter, seq)
        } else if i == 0 && !is_batch {
            s.store.load_msg(seq)
        } else {
            s.store.load_next_msg(">", seq)
        };
        let m = match found {
            Ok(m) => m,
            Err(_) if is_batch && i > 0 => break,
            Err(_) => return vec![status("404 Message Not Found", &[])],
        };
        seq = m.seq + 1;
        np = np.saturating_sub(1);
        let this = m.seq;
        sent_bytes += size_of(&m);
        out.push(message(s, m, req.no_hdr, is_batch.then_some((np, last))));
        last = this;
        if sent_bytes >= max_bytes {
            break;
        }
    }
    if is_batch {
        // Messages may have arrived meanwhile: count what is left from where we stopped.
        let f = if filter.is_empty() { ">" } else { filter };
        np = s.store.num_pending(seq, f, false).0;
        let (np, last) = (np.to_string(), last.to_string());
        out.push(status(
            "204 EOB",
            &[("Nats-Num-Pending", &np), ("Nats-Last-Sequence", &last)],
        ));
    }
    out
}

fn multi_last(s: &Stream, req: &Request) -> Reply {
    let st = s.store.fast_state();
    let mut up_to = req.up_to_seq;
    if let Some(t) = req.up_to_time.as_deref().and_then(parse_rfc3339) {
        let seq = seq_from_time(s, t);
        if seq <= st.first_seq {
            return vec![status("404 No Results", &[])];
        }
        up_to = seq - 1;
    }
    if up_to == 0 {
        up_to = st.last_seq;
    }
    let start = req.seq;
    // The last sequence of each matching subject within [start, up_to].
    let mut lasts: BTreeMap<String, u64> = BTreeMap::new();
    for f in &req.multi_last {
        if up_to >= st.last_seq {
            for (subj, ss) in s.store.subjects_state(f) {
                if ss.last >= start {
                    lasts.insert(subj, ss.last);
                }
            }
        } else {
            let mut seq = start;
            while let Ok(m) = s.store.load_next_msg(f, seq) {
                if m.seq > up_to {
                    break;
                }
                seq = m.seq + 1;
                lasts.insert(m.subject.to_string(), m.seq);
            }
        }
        if lasts.len() > MULTI_MAX {
            return vec![status("413 Too Many Results", &[])];
        }
    }
    if lasts.is_empty() {
        return vec![status("404 No Results", &[])];
    }
    let mut seqs: Vec<u64> = lasts.into_values().collect();
    seqs.sort_unstable();
    seqs.dedup();
    let max_bytes = if req.max_bytes == 0 {
        MAX_BYTES_DEFAULT
    } else {
        req.max_bytes
    };
    let (mut out, mut sent_bytes, mut sent, mut last, mut np) = (Vec::new(), 0, 0, 0u64, 0u64);
    for (i, seq) in seqs.iter().enumerate() {
        let m = match s.store.load_msg(*seq) {
            Ok(m) => m,
            Err(_) => return vec![status("404 Message Not Found", &[])],
        };
        np = (seqs.len() - i - 1) as u64;
        let this = m.seq;
        sent_bytes += size_of(&m);
        out.push(message(s, m, req.no_hdr, Some((np, last))));
        last = this;
        sent += 1;
        if sent_bytes >= max_bytes || (req.batch > 0 && sent >= req.batch) {
            break;
        }
    }
    let (np, last, up_to) = (np.to_string(), last.to_string(), up_to.to_string());
    out.push(status(
        "204 EOB",
        &[
            ("Nats-Num-Pending", &np),
            ("Nats-Last-Sequence", &last),
            ("Nats-UpTo-Sequence", &up_to),
        ],
    ));
    out
}
