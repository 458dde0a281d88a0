//! Message tracing (ADR-41): a message published with a `Nats-Trace-Dest: <subject>`
//! header makes the server publish, on that subject in the publisher's account, a JSON
//! report of what it did with the message: where it came in (`in`), the subject mapping
//! that applied (`sm`), the imports it crossed (`se`, `si`), the stream that stored it
//! (`js`) and each subscription it was delivered to (`eg`). With `Nats-Trace-Only: true`
//! the report is made but nothing is delivered or stored.
//!
//! Only what a single server sees is reported (no routes, gateways or leafnodes), and the
//! report is not compressed (`Accept-Encoding` is ignored).

use std::time::SystemTime;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::account::{Account, Forward};
use crate::monitor::format::rfc3339;
use crate::router::Subscription;
use crate::server::Server;

pub const TRACE_DEST: &str = "Nats-Trace-Dest";
pub const TRACE_ONLY: &str = "Nats-Trace-Only";

/// nats-server's connection kind for a client connection.
const KIND_CLIENT: u8 = 0;

/// One traced message's report, filled in while it is routed.
pub struct Trace {
    pub dest: String,
    /// Report only: nothing is delivered or stored.
    pub only: bool,
    headers: Map<String, Value>,
    size: usize,
    events: Vec<Value>,
    account: String,
}

/// The header block's fields in order, names as sent (nats-server keeps their case).
fn header_fields(hdr: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(hdr);
    text.split("\r\n")
        .skip(1)
        .filter_map(|line| {
            let (k, v) = line.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

fn now() -> String {
    rfc3339(SystemTime::now())
}

impl Trace {
    /// The trace a message's headers ask for, if any: a valid `Nats-Trace-Dest`.
    pub fn from_headers(hdr: &Bytes, size: usize, account: &str) -> Option<Trace> {
        // Every publish with headers comes here: a byte scan before any parsing.
        let key = TRACE_DEST.as_bytes();
        if !hdr.windows(key.len()).any(|w| w == key) {
            return None;
        }
        let fields = header_fields(hdr);
        let dest = fields.iter().find(|(k, _)| k == TRACE_DEST)?.1.clone();
        if !natrium_sublist::is_valid_literal_subject(&dest) {
            return None;
        }
        let only = fields.iter().any(|(k, v)| {
            k == TRACE_ONLY && matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "on")
        });
        let mut headers = Map::new();
        for (k, v) in fields {
            match headers.get_mut(&k) {
                Some(Value::Array(vs)) => vs.push(v.into()),
                _ => {
                    headers.insert(k, json!([v]));
                }
            }
        }
        Some(Trace {
            dest,
            only,
            headers,
            size,
            events: Vec::new(),
            account: account.to_string(),
        })
    }

    pub fn ingress(&mut self, cid: u64, name: &str, subject: &str) {
        let mut e = Map::new();
        e.insert("type".into(), "in".into());
        e.insert("ts".into(), now().into());
        e.insert("kind".into(), KIND_CLIENT.into());
        e.insert("cid".into(), cid.into());
        if !name.is_empty() {
            e.insert("name".into(), name.into());
        }
        e.insert("acc".into(), self.account.clone().into());
        e.insert("subj".into(), subject.into());
        self.events.push(Value::Object(e));
    }

    pub fn mapped(&mut self, to: &str) {
        self.events
            .push(json!({"type": "sm", "ts": now(), "to": to}));
    }

    /// A delivery to a client's subscription; `acc` when it is not the publisher's account.
    pub fn egress(&mut self, sub: &Subscription, acc: &Account) {
        let mut e = Map::new();
        e.insert("type".into(), "eg".into());
        e.insert("ts".into(), now().into());
        e.insert("kind".into(), KIND_CLIENT.into());
        e.insert("cid".into(), sub.client.cid.into());
        let name = sub.client.meta.identity().name;
        if !name.is_empty() {
            e.insert("name".into(), name.into());
        }
        if acc.name != self.account {
            e.insert("acc".into(), acc.name.clone().into());
        }
        e.insert("sub".into(), sub.subject.to_string().into());
        if let Some(q) = &sub.queue {
            e.insert("queue".into(), q.to_string().into());
        }
        self.events.push(Value::Object(e));
    }

    /// An import crossed on the way.
    pub fn forwarded(&mut self, f: &Forward, subject: &str, to: &str) {
        match f {
            Forward::Stream { to: acc, .. } => {
                if let Some(a) = acc.upgrade() {
                    self.events
                        .push(json!({"type": "se", "ts": now(), "acc": a.name, "to": to}));
                }
            }
            Forward::Service { to: acc, .. } => {
                if let Some(a) = acc.upgrade() {
                    self.events
                        .push(json!({"type": "si", "ts": now(), "acc": a.name,
                                            "from": subject, "to": to}));
                }
            }
            _ => {}
        }
    }

    /// A stream of `acc` that takes `subject`, reported as the `js` event.
    pub fn jetstream(&mut self, acc: &Account, subject: &str) {
        let Some(js) = acc.jetstream.get() else {
            return;
        };
        let stream = js.streams().into_iter().find(|s| {
            s.config()
                .subjects
                .iter()
                .any(|f| natrium_sublist::subject_matches(f, subject))
        });
        if let Some(s) = stream {
            self.events
                .push(json!({"type": "js", "ts": now(), "stream": s.name, "subject": subject}));
        }
    }

    /// The report, as nats-server's `MsgTraceEvent` JSON.
    pub fn finish(self, server: &Server) -> Bytes {
        let opts = server.options();
        let body = json!({
            "server": {
                "name": server.name,
                "host": opts.host,
                "id": server.id,
                "ver": crate::server_info::NATS_VERSION,
                "jetstream": server.jetstream_enabled.get().is_some(),
                "seq": 0,
                "time": now(),
            },
            "request": {"header": self.headers, "msgsize": self.size},
            "events": self.events,
        });
        Bytes::from(body.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_name_the_destination_and_trace_only() {
        let h = Bytes::from_static(
            b"NATS/1.0\r\nNats-Trace-Dest: traces\r\nNats-Trace-Only: TRUE\r\nX: 1\r\nX: 2\r\n\r\n",
        );
        let t = Trace::from_headers(&h, 10, "$G").unwrap();
        assert_eq!(t.dest, "traces");
        assert!(t.only);
        assert_eq!(t.headers["X"], json!(["1", "2"]));
        let plain = Bytes::from_static(b"NATS/1.0\r\nX: 1\r\n\r\n");
        assert!(Trace::from_headers(&plain, 1, "$G").is_none());
        let bad = Bytes::from_static(b"NATS/1.0\r\nNats-Trace-Dest: a.*\r\n\r\n");
        assert!(Trace::from_headers(&bad, 1, "$G").is_none());
    }
}
