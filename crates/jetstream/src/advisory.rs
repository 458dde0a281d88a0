//! JetStream advisories on `$JS.EVENT.ADVISORY.>` and ack metrics on `$JS.EVENT.METRIC.>`,
//! with nats-server's subjects, `type` strings and field order. Each is published in the
//! account that owns the stream, and only when someone listens (nothing is encoded
//! otherwise).

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::types::rfc3339;
use crate::JetStream;

const STREAM_ACTION: &str = "io.nats.jetstream.advisory.v1.stream_action";
const CONSUMER_ACTION: &str = "io.nats.jetstream.advisory.v1.consumer_action";
const CONSUMER_PAUSE: &str = "io.nats.jetstream.advisory.v1.consumer_pause";
const MAX_DELIVER: &str = "io.nats.jetstream.advisory.v1.max_deliver";
const NAK: &str = "io.nats.jetstream.advisory.v1.nak";
const TERMINATED: &str = "io.nats.jetstream.advisory.v1.terminated";
const GROUP_PINNED: &str = "io.nats.jetstream.advisory.v1.consumer_group_pinned";
const GROUP_UNPINNED: &str = "io.nats.jetstream.advisory.v1.consumer_group_unpinned";
const BATCH_ABANDONED: &str = "io.nats.jetstream.advisory.v1.stream_batch_abandoned";
const API_AUDIT: &str = "io.nats.jetstream.advisory.v1.api_audit";
/// Where the API audit advisory goes.
pub const API_AUDIT_SUBJECT: &str = "$JS.EVENT.ADVISORY.API";
const ACK_METRIC: &str = "io.nats.jetstream.metric.v1.consumer_ack";

/// What happened to a stream or consumer.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    Create,
    Modify,
    Delete,
}

impl Action {
    fn word(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Modify => "modify",
            Action::Delete => "delete",
        }
    }

    fn subject_part(self) -> &'static str {
        match self {
            Action::Create => "CREATED",
            Action::Modify => "UPDATED",
            Action::Delete => "DELETED",
        }
    }
}

/// Publishes `{type, id, timestamp, ...fields, domain}` on `subject` if anyone listens.
fn send(js: &JetStream, subject: &str, kind: &str, fields: Value) {
    let outlet = js.outlet();
    if !outlet.has_interest(subject) {
        return;
    }
    let mut body = Map::new();
    body.insert("type".into(), kind.into());
    body.insert("id".into(), crate::api::random_name().into());
    body.insert(
        "timestamp".into(),
        rfc3339(natrium_store::now_nanos()).into(),
    );
    if let Value::Object(f) = fields {
        body.extend(f);
    }
    if let Some(d) = &js.cfg.domain {
        body.insert("domain".into(), d.clone().into());
    }
    let bytes = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
    outlet.publish(subject, None, None, Bytes::from(bytes));
}

pub fn stream_action(js: &JetStream, stream: &str, action: Action) {
    let subject = format!(
        "$JS.EVENT.ADVISORY.STREAM.{}.{stream}",
        action.subject_part()
    );
    send(
        js,
        &subject,
        STREAM_ACTION,
        json!({ "stream": stream, "action": action.word() }),
    );
}

/// An atomic batch was dropped before its commit (`timeout`, `large`, `incomplete`,
/// `unsupported`).
pub fn batch_abandoned(js: &JetStream, stream: &str, batch: &str, reason: &str) {
    let subject = format!("$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.{stream}");
    send(
        js,
        &subject,
        BATCH_ABANDONED,
        json!({ "stream": stream, "batch": batch, "reason": reason }),
    );
}

/// One `$JS.API` request and the response it got (published only when someone listens;
/// the caller checks, since finding the client's details costs a lookup).
pub fn api_audit(
    js: &JetStream,
    client: Option<Value>,
    subject: &str,
    request: &[u8],
    response: &[u8],
) {
    let mut fields = Map::new();
    fields.insert("server".into(), js.cfg.server_name.clone().into());
    fields.insert("client".into(), client.unwrap_or(Value::Null));
    fields.insert("subject".into(), subject.into());
    if !request.is_empty() {
        fields.insert(
            "request".into(),
            String::from_utf8_lossy(request).into_owned().into(),
        );
    }
    fields.insert(
        "response".into(),
        String::from_utf8_lossy(response).into_owned().into(),
    );
    send(js, API_AUDIT_SUBJECT, API_AUDIT, Value::Object(fields));
}

pub fn consumer_action(js: &JetStream, stream: &str, consumer: &str, action: Action) {
    let subject = format!(
        "$JS.EVENT.ADVISORY.CONSUMER.{}.{stream}.{consumer}",
        action.subject_part()
    );
    send(
        js,
        &subject,
        CONSUMER_ACTION,
        json!({ "stream": stream, "consumer": consumer, "action": action.word() }),
    );
}

/// A priority group of a `pinned_client` consumer picked a new pinned client.
pub fn group_pinned(js: &JetStream, stream: &str, consumer: &str, group: &str, pin_id: &str) {
    let subject = format!("$JS.EVENT.ADVISORY.CONSUMER.PINNED.{stream}.{consumer}");
    let fields =
        json!({ "stream": stream, "consumer": consumer, "group": group, "pinned_id": pin_id });
    send(js, &subject, GROUP_PINNED, fields);
}

/// A pin was lost; `reason` is `admin` (UNPIN request) or `timeout` (no pull in time).
pub fn group_unpinned(js: &JetStream, stream: &str, consumer: &str, group: &str, reason: &str) {
    let subject = format!("$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.{stream}.{consumer}");
    let fields =
        json!({ "stream": stream, "consumer": consumer, "group": group, "reason": reason });
    send(js, &subject, GROUP_UNPINNED, fields);
}

/// `until` is the pause deadline in unix nanos, 0 when resumed.
pub fn consumer_pause(js: &JetStream, stream: &str, consumer: &str, until: i64) {
    let subject = format!("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.{stream}.{consumer}");
    let mut fields = json!({ "stream": stream, "consumer": consumer, "paused": until > 0 });
    if until > 0 {
        fields["pause_until"] = rfc3339(until).into();
    }
    send(js, &subject, CONSUMER_PAUSE, fields);
}

pub fn max_deliveries(js: &JetStream, stream: &str, consumer: &str, sseq: u64, deliveries: u64) {
    let subject = format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}");
    send(
        js,
        &subject,
        MAX_DELIVER,
        json!({ "stream": stream, "consumer": consumer, "stream_seq": sseq, "deliveries": deliveries }),
    );
}

/// A `-NAK` (`reason` None) or a `+TERM` (`reason` Some, possibly empty).
pub fn nak_or_term(
    js: &JetStream,
    stream: &str,
    consumer: &str,
    (sseq, dseq, deliveries): (u64, u64, u64),
    reason: Option<&str>,
) {
    let (part, kind) = match reason {
        None => ("MSG_NAKED", NAK),
        Some(_) => ("MSG_TERMINATED", TERMINATED),
    };
    let subject = format!("$JS.EVENT.ADVISORY.CONSUMER.{part}.{stream}.{consumer}");
    let mut fields = json!({
        "stream": stream,
        "consumer": consumer,
        "consumer_seq": dseq,
        "stream_seq": sseq,
        "deliveries": deliveries,
    });
    if let Some(r) = reason.filter(|r| !r.is_empty()) {
        fields["reason"] = r.into();
    }
    send(js, &subject, kind, fields);
}

/// An ack metric (consumers with `sample_freq`): how long the ack took after delivery.
pub fn ack_metric(
    js: &JetStream,
    stream: &str,
    consumer: &str,
    (sseq, dseq, deliveries): (u64, u64, u64),
    ack_time_ns: i64,
) {
    let subject = format!("$JS.EVENT.METRIC.CONSUMER.ACK.{stream}.{consumer}");
    send(
        js,
        &subject,
        ACK_METRIC,
        json!({
            "stream": stream,
            "consumer": consumer,
            "consumer_seq": dseq,
            "stream_seq": sseq,
            "ack_time": ack_time_ns,
            "deliveries": deliveries,
        }),
    );
}

/// `sample_freq` as a fraction: `"30%"` or `"30"` is 0.3; anything else is 0.
pub fn sample_rate(freq: &str) -> f64 {
    let f = freq.trim().trim_end_matches('%');
    f.parse::<f64>()
        .ok()
        .filter(|p| (0.0..=100.0).contains(p))
        .map_or(0.0, |p| p / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_freq_parses_like_nats_server() {
        assert_eq!(sample_rate("30%"), 0.3);
        assert_eq!(sample_rate("100"), 1.0);
        assert_eq!(sample_rate(""), 0.0);
        assert_eq!(sample_rate("abc"), 0.0);
        assert_eq!(sample_rate("150%"), 0.0);
    }
}
