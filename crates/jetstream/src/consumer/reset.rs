//! `$JS.API.CONSUMER.RESET.<stream>.<consumer>` (nats-server 2.14+): moves a consumer to a
//! stream sequence, forgetting what it delivered and what waited for an ack, so delivery
//! starts again there. An empty body (or `seq` 0) goes back to just past the ack floor.
//!
//! Like nats-server, a request for a stream or consumer that does not exist gets no answer
//! (the consumer itself serves the subject there). Errors carry `reset_seq: 0`.

use serde::{Deserialize, Serialize};

use super::*;
use crate::types::{response, ConsumerInfo};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ResetRequest {
    seq: u64,
}

#[derive(Serialize)]
struct ResetResponse {
    #[serde(flatten)]
    info: ConsumerInfo,
    reset_seq: u64,
}

const KIND: &str = "consumer_reset_response";

/// Handles a reset request; `None` when nothing must be answered (no such consumer).
pub(crate) fn reset_request(
    js: &JetStream,
    stream: &str,
    name: &str,
    payload: &[u8],
) -> Option<Result<Vec<u8>, ApiError>> {
    let c = js.stream(stream)?.consumer(name)?;
    let req: ResetRequest = if payload.is_empty() {
        ResetRequest::default()
    } else {
        match crate::api::decode(payload) {
            Ok(r) => r,
            Err(err) => return Some(Err(err)),
        }
    };
    Some(c.reset(req.seq).map(|reset_seq| {
        let info = c.info(js);
        response(KIND, &ResetResponse { info, reset_seq })
    }))
}

/// The error body of a reset response (nats-server always includes `reset_seq`).
pub(crate) fn reset_error_body(err: &ApiError) -> Vec<u8> {
    response(KIND, &serde_json::json!({ "error": err, "reset_seq": 0 }))
}

impl Consumer {
    /// Moves the consumer to stream sequence `seq` (0: just past the ack floor) and returns
    /// the sequence delivery starts at. A sequence before where the deliver policy starts
    /// is refused.
    pub fn reset(&self, seq: u64) -> Result<u64, ApiError> {
        let stream = self
            .stream
            .upgrade()
            .ok_or_else(|| e::JS_STREAM_NOT_FOUND.err())?;
        let mut rt = self.rt.lock();
        let seq = if seq == 0 {
            rt.ack_floor.stream + 1
        } else {
            self.check_reset(&stream, seq)?;
            seq
        };
        let old_floor = rt.ack_floor.stream;
        rt.pending.clear();
        rt.redeliver.clear();
        rt.preload.clear();
        rt.next_sseq = seq;
        let at = SequencePair {
            consumer: 0,
            stream: seq - 1,
        };
        rt.delivered = at;
        rt.ack_floor = at;
        rt.num_redelivered = 0;
        rt.last_delivered_ns = 0;
        rt.last_ack_ns = 0;
        self.flush_locked(&mut rt, Instant::now());
        drop(rt);
        if stream.config().retention == Retention::Interest {
            self.drop_uninterested(&stream, old_floor + 1, seq);
        }
        self.notify();
        Ok(seq)
    }

    /// Refuses a sequence before where the deliver policy starts, as nats-server does.
    fn check_reset(&self, stream: &Stream, seq: u64) -> Result<(), ApiError> {
        let cfg = &self.config;
        match cfg.deliver_policy {
            DeliverPolicy::All => Ok(()),
            DeliverPolicy::ByStartSequence if seq < cfg.opt_start_seq => {
                Err(e::JS_CONSUMER_INVALID_RESET.with("below start seq"))
            }
            DeliverPolicy::ByStartSequence => Ok(()),
            DeliverPolicy::ByStartTime if seq < seq_from_time(&stream.store, cfg) => {
                Err(e::JS_CONSUMER_INVALID_RESET.with("below start time"))
            }
            DeliverPolicy::ByStartTime => Ok(()),
            _ => Err(e::JS_CONSUMER_INVALID_RESET.with("not allowed")),
        }
    }

    /// After a reset skipped `from..to`, removes the messages there that no consumer of an
    /// interest stream still needs.
    fn drop_uninterested(&self, stream: &Stream, from: u64, to: u64) {
        let consumers = stream.consumers();
        let mut next = from;
        while let Ok(m) = stream.store.load_next_msg(">", next) {
            if m.seq >= to {
                break;
            }
            next = m.seq + 1;
            if consumers.iter().all(|c| c.has_acked(stream, m.seq)) {
                let _ = stream.store.remove_msg(m.seq);
            }
        }
    }
}
