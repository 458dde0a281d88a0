//! Message routing: from a published subject to the outbound buffers of its subscribers.
//!
//! The publishing connection's task calls [`Server::route`] for each message it parsed: the
//! subject index gives the matching subscriptions, every plain subscription gets a copy and
//! each queue group gets one copy, sent to a member picked at random. Writers are not woken
//! here; the clients touched are collected so the caller wakes each one once per read batch.
//! Routing never blocks and never awaits.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::account::{Account, Forward, MAX_FORWARD_HOPS};
use crate::auth::Permissions;
use crate::outbound::{Client, Enqueued};
use crate::server::Server;

/// One subscription, shared between its connection and the subject index.
pub struct Subscription {
    pub client: Arc<Client>,
    pub subject: Box<str>,
    pub queue: Option<Box<str>>,
    pub sid: Bytes,
    /// Auto-unsubscribe after this many deliveries; 0 means never.
    max: AtomicU64,
    delivered: AtomicU64,
    /// Set when a subscribe-deny filter partly overlaps this subscription's subject, so
    /// each delivery must be checked against it.
    deny_check: Option<Arc<Permissions>>,
    /// Set for the server's own subscriptions (JetStream): messages go to this handler on
    /// the publisher's task instead of to a socket.
    internal: Option<natrium_jetstream::Handler>,
    /// Set for import subscriptions: messages are published again in another account.
    forward: Option<Forward>,
}

impl Subscription {
    /// A subscription served in-process by `handler`.
    pub fn internal(
        client: Arc<Client>,
        subject: &str,
        queue: Option<&str>,
        handler: natrium_jetstream::Handler,
    ) -> Subscription {
        Subscription {
            internal: Some(handler),
            ..Subscription::new(client, subject, queue, Bytes::new(), None)
        }
    }

    /// A subscription that forwards matches into another account (imports).
    pub fn forwarding(client: Arc<Client>, subject: &str, forward: Forward) -> Subscription {
        Subscription {
            forward: Some(forward),
            ..Subscription::new(client, subject, None, Bytes::new(), None)
        }
    }

    pub fn new(
        client: Arc<Client>,
        subject: &str,
        queue: Option<&str>,
        sid: Bytes,
        deny_check: Option<Arc<Permissions>>,
    ) -> Subscription {
        Subscription {
            client,
            subject: subject.into(),
            queue: queue.map(Into::into),
            sid,
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            deny_check,
            internal: None,
            forward: None,
        }
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// The auto-unsubscribe limit; 0 means none.
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Sets the auto-unsubscribe limit. Returns true when the limit is already reached and
    /// the subscription should be removed now.
    pub fn set_max(&self, max: u64) -> bool {
        self.max.store(max, Ordering::Relaxed);
        max > 0 && self.delivered() >= max
    }
}

/// A handle to a subscription with identity semantics, as the subject index stores it.
#[derive(Clone)]
pub struct SubRef(pub Arc<Subscription>);

impl PartialEq for SubRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for SubRef {}
impl Hash for SubRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.0) as usize).hash(state)
    }
}

/// A message on its way to subscribers.
pub struct Message<'a> {
    /// The subject subscriptions are matched against.
    pub subject: &'a str,
    /// The subject subscribers see (differs for JetStream deliveries: a stream message's
    /// own subject, delivered on a consumer's delivery subject).
    pub shown_subject: &'a str,
    pub reply: Option<&'a [u8]>,
    pub headers: Option<&'a Bytes>,
    pub payload: &'a Bytes,
}

/// Where a published message comes from, for echo suppression.
#[derive(Clone, Copy)]
pub struct Origin {
    pub cid: u64,
    pub echo: bool,
    /// The publisher's last measured round trip in nanoseconds (for `Nats-Request-Info`).
    pub rtt_ns: u64,
}

/// Clients whose writers must be woken at the end of the current batch.
#[derive(Default)]
pub struct Touched(Vec<Arc<Client>>);

impl Touched {
    pub fn push(&mut self, c: &Arc<Client>) {
        self.0.push(c.clone());
    }
    /// Wakes every touched writer once.
    pub fn wake_all(&mut self) {
        for c in self.0.drain(..) {
            c.wake_writer();
        }
    }
}

/// `headers` (a `NATS/1.0` block, or none) with one more header line.
fn add_header(headers: Option<&Bytes>, name: &str, value: &str) -> Bytes {
    let mut out =
        Vec::with_capacity(headers.map_or(12, |h| h.len()) + name.len() + value.len() + 4);
    match headers {
        Some(h) if h.ends_with(b"\r\n\r\n") => out.extend_from_slice(&h[..h.len() - 2]),
        _ => out.extend_from_slice(b"NATS/1.0\r\n"),
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    Bytes::from(out)
}

impl Server {
    /// Delivers `msg` to every matching subscription of `acc` (and, through imports, of
    /// other accounts); returns how many copies were queued.
    pub fn route(
        &self,
        acc: &Account,
        origin: Origin,
        msg: &Message<'_>,
        touched: &mut Touched,
    ) -> usize {
        self.route_hops(acc, origin, msg, touched, 0)
    }

    fn route_hops(
        &self,
        acc: &Account,
        origin: Origin,
        msg: &Message<'_>,
        touched: &mut Touched,
        hops: u8,
    ) -> usize {
        let result = acc.sublist.match_subject(msg.subject);
        let mut delivered = 0;
        for sub in &result.plain {
            if let Some(f) = &sub.0.forward {
                // An import is interest in itself, as in nats-server: a request into it
                // times out rather than getting no-responders when nobody answers.
                let imported = matches!(f, Forward::Stream { .. } | Forward::Service { .. });
                let n = self.forward(f, origin, msg, touched, hops);
                delivered += if imported { 1 } else { n };
                continue;
            }
            if self.deliver(acc, origin, sub, msg, touched) {
                delivered += 1;
            }
        }
        for (_, members) in &result.queues {
            if members.is_empty() {
                continue;
            }
            let start = rand::random_range(0..members.len());
            let picked = (0..members.len())
                .map(|i| &members[(start + i) % members.len()])
                .any(|sub| self.deliver(acc, origin, sub, msg, touched));
            if picked {
                delivered += 1;
            }
        }
        delivered
    }

    /// [`Server::route`] for a traced message (`Nats-Trace-Dest`): each delivery, import
    /// and stream is recorded; in trace-only mode nothing is delivered, but what would have
    /// been is reported and counted (so a trace-only request gets no no-responders).
    pub fn route_traced(
        &self,
        acc: &Account,
        origin: Origin,
        msg: &Message<'_>,
        touched: &mut Touched,
        trace: &mut crate::msgtrace::Trace,
    ) -> usize {
        let result = acc.sublist.match_subject(msg.subject);
        let mut delivered = 0;
        let mut to_stream = false;
        let mut one =
            |sub: &SubRef, trace: &mut crate::msgtrace::Trace, touched: &mut Touched| -> bool {
                let s = &sub.0;
                if s.internal.is_some() {
                    to_stream = true;
                    return trace.only || self.deliver(acc, origin, sub, msg, touched);
                }
                if !origin.echo && s.client.cid == origin.cid {
                    return false;
                }
                let ok = trace.only || self.deliver(acc, origin, sub, msg, touched);
                if ok {
                    trace.egress(s, acc);
                }
                ok
            };
        for sub in &result.plain {
            if let Some(f) = &sub.0.forward {
                if let Some(out) = f.forward(msg.subject, None, |_, _| None) {
                    trace.forwarded(f, msg.subject, &out.subject);
                }
                if !trace.only {
                    self.forward(f, origin, msg, touched, 0);
                }
                delivered += 1;
                continue;
            }
            if one(sub, trace, touched) {
                delivered += 1;
            }
        }
        for (_, members) in &result.queues {
            if members.is_empty() {
                continue;
            }
            let start = rand::random_range(0..members.len());
            if (0..members.len())
                .map(|i| &members[(start + i) % members.len()])
                .any(|sub| one(sub, trace, touched))
            {
                delivered += 1;
            }
        }
        if to_stream {
            trace.jetstream(acc, msg.subject);
        }
        delivered
    }

    /// Whether a message on `subject` in `acc` would reach a subscriber. A stream import
    /// counts only while its importer has interest in the imported subject: nats-server
    /// holds that interest in the exporter only for the importer's own subscriptions, and
    /// JetStream reads it to tell whether a push consumer is bound.
    pub fn has_interest(&self, acc: &Account, subject: &str) -> bool {
        self.interest_hops(acc, subject, 0)
    }

    fn interest_hops(&self, acc: &Account, subject: &str, hops: u8) -> bool {
        let result = acc.sublist.match_subject(subject);
        if result.queues.iter().any(|(_, m)| !m.is_empty()) {
            return true;
        }
        result.plain.iter().any(|sub| match &sub.0.forward {
            Some(f @ Forward::Stream { .. }) => {
                hops < MAX_FORWARD_HOPS
                    && f.forward(subject, None, |_, _| None)
                        .is_some_and(|out| self.interest_hops(&out.account, &out.subject, hops + 1))
            }
            _ => true,
        })
    }

    /// Publishes a message matched by an import subscription again in the target account.
    fn forward(
        &self,
        f: &Forward,
        origin: Origin,
        msg: &Message<'_>,
        touched: &mut Touched,
        hops: u8,
    ) -> usize {
        if hops >= MAX_FORWARD_HOPS {
            return 0;
        }
        let reply = msg.reply.and_then(|r| std::str::from_utf8(r).ok());
        let make_sub = |exporter: &Arc<Account>, subject: &str| {
            let forward = Forward::Responses {
                account: Arc::downgrade(exporter),
            };
            let sub = SubRef(Arc::new(Subscription::forwarding(
                self.internal_client.clone(),
                subject,
                forward,
            )));
            exporter.sublist.insert(subject, None, sub.clone()).ok()?;
            Some(sub)
        };
        let Some(out) = f.forward(msg.subject, reply, make_sub) else {
            return 0;
        };
        let shown = if msg.shown_subject == msg.subject {
            out.subject.as_str()
        } else {
            msg.shown_subject
        };
        // Requests through a service import tell the responder who asks.
        let info = match f {
            Forward::Service { from, .. } => from.upgrade().map(|acc| {
                let value = format!("{{\"acc\":\"{}\",\"rtt\":{}}}", acc.name, origin.rtt_ns);
                add_header(msg.headers, "Nats-Request-Info", &value)
            }),
            _ => None,
        };
        let next = Message {
            subject: &out.subject,
            shown_subject: shown,
            reply: out.reply.as_deref().map(str::as_bytes),
            headers: info.as_ref().or(msg.headers),
            payload: msg.payload,
        };
        self.route_hops(&out.account, origin, &next, touched, hops + 1)
    }

    /// Queues one copy for one subscription; false when it was skipped.
    fn deliver(
        &self,
        acc: &Account,
        origin: Origin,
        sub: &SubRef,
        msg: &Message<'_>,
        touched: &mut Touched,
    ) -> bool {
        let s = &sub.0;
        if let Some(handler) = &s.internal {
            return handler(natrium_jetstream::InMsg {
                origin: origin.cid,
                subject: msg.shown_subject.to_string(),
                reply: msg.reply.map(|r| String::from_utf8_lossy(r).into_owned()),
                headers: msg.headers.cloned(),
                payload: msg.payload.clone(),
            });
        }
        if !origin.echo && s.client.cid == origin.cid {
            return false;
        }
        if let Some(p) = &s.deny_check {
            if p.subscribe.denies_literal(msg.subject) {
                return false;
            }
        }
        let max = s.max.load(Ordering::Relaxed);
        let n = s.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        if max > 0 && n > max {
            return false;
        }
        let res = s.client.enqueue_msg(
            msg.shown_subject.as_bytes(),
            &s.sid,
            msg.reply,
            msg.headers,
            msg.payload,
        );
        if max > 0 && n == max {
            // The last allowed delivery: the subscription leaves the index now. Its owner
            // finds it gone when it cleans up, which is fine.
            if acc
                .sublist
                .remove(&s.subject, s.queue.as_deref(), sub)
                .is_ok()
            {
                s.client.meta.sub_removed();
            }
        }
        match res {
            Enqueued::Queued { wake } => {
                if wake {
                    touched.push(&s.client);
                }
                let bytes = (msg.payload.len() + msg.headers.map_or(0, |h| h.len())) as u64;
                self.stats.add_out(1, bytes);
                acc.stats.add_out(1, bytes);
                true
            }
            Enqueued::SlowConsumer => {
                self.note_slow_consumer(&s.client);
                false
            }
            Enqueued::Closed => false,
        }
    }
}
