//! A consumer: which stream messages it has delivered, which are waiting for an ack, and
//! the delivery engine for pull requests and push delivery subjects.
//!
//! State lives in [`Runtime`] under one mutex; every durable change (a delivery, an ack)
//! is also written to the store's consumer store, from which a restarted consumer resumes.
//! A tokio task per consumer runs [`Consumer::pump`] whenever it is notified (new stream
//! messages, a pull request, an ack) or a timer is due (ack wait, request expiry,
//! heartbeat, inactivity), and publishes the resulting messages through the outlet with no
//! lock held. Ack handling runs on the acking client's task.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use natrium_store::{self as store, ConsumerStore, SequencePair, StoreError, StoredMsg};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::advisory;
use crate::errors::{self as e, ApiError};
use crate::headers as h;
use crate::persist;
use crate::priority::{self, Pin};
use crate::stream::Stream;
use crate::types::{
    rfc3339, AckPolicy, ClusterInfo, ConsumerConfig, ConsumerInfo, DeliverPolicy,
    PriorityGroupState, PriorityPolicy, ReplayPolicy, Retention, SequenceInfo,
};
use crate::JetStream;

mod pace;
mod pull;
mod reset;

use pace::{FlowControl, RateLimit};
pub(crate) use pull::PullRequest;
use pull::PullRequestJson;
pub(crate) use reset::{reset_error_body, reset_request};

pub const DEFAULT_ACK_WAIT_NS: i64 = 30_000_000_000;
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
pub const DEFAULT_MAX_WAITING: i64 = 512;
pub const DEFAULT_INACTIVE_THRESHOLD_NS: i64 = 5_000_000_000;
/// Most messages one pump delivers before yielding.
const PUMP_BATCH_MAX: usize = 1024;
/// How often delivery and ack state is written to the consumer store at most.
const STATE_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy)]
struct PendingMsg {
    dseq: u64,
    deliveries: u64,
    /// When it was last delivered (unix nanos), for ack metrics.
    delivered_ns: i64,
    deadline: Instant,
}

struct Runtime {
    delivered: SequencePair,
    ack_floor: SequencePair,
    pending: BTreeMap<u64, PendingMsg>,
    redeliver: BTreeSet<u64>,
    /// Stream sequences queued ahead of new messages (last-per-subject start).
    preload: VecDeque<u64>,
    next_sseq: u64,
    waiting: VecDeque<PullRequest>,
    num_redelivered: u64,
    last_delivered_ns: i64,
    last_ack_ns: i64,
    last_activity: Instant,
    next_push_heartbeat: Option<Instant>,
    /// Push flow control (`flow_control: true`); the window is 0 when off.
    fc: FlowControl,
    /// `replay_policy: original`: messages up to this stream sequence (the last one when
    /// the consumer started) go out spaced as they were stored; 0 when off or caught up.
    replay_until: u64,
    /// When the previous replayed message went out, and its stored time.
    replay_prev: Option<(Instant, i64)>,
    /// `rate_limit_bps`: a byte bucket (may go negative: the next delivery then waits).
    rate: Option<RateLimit>,
    /// No delivery before this instant (replay spacing, rate limit).
    hold_until: Option<Instant>,
    /// The pinned client of a `pinned_client` consumer (not persisted, as in nats-server).
    pin: Option<Pin>,
    /// Deliveries or acks not yet written to the consumer store.
    dirty: bool,
    last_flush: Instant,
}

/// First and longest wait of a push consumer looking for a subscriber.
const INTEREST_POLL_MIN: Duration = Duration::from_millis(1);
const INTEREST_POLL_MAX: Duration = Duration::from_millis(250);

/// An outgoing message produced by a pump.
type Out = crate::OutMsg;

pub struct Consumer {
    pub name: String,
    pub stream_name: String,
    stream: Weak<Stream>,
    pub config: ConsumerConfig,
    pub created: i64,
    filters: Vec<String>,
    rt: Mutex<Runtime>,
    state_store: Arc<dyn ConsumerStore>,
    wake: Arc<Notify>,
    stopped: AtomicBool,
    /// Unix nanoseconds until which delivery is paused (0 = not paused).
    paused_until: std::sync::atomic::AtomicI64,
    /// The share of acks reported as metrics (`sample_freq`).
    sample_rate: f64,
}

/// What the consumer store keeps of a consumer's config.
fn store_config(cfg: &ConsumerConfig) -> store::ConsumerConfig {
    store::ConsumerConfig {
        ack_policy: match cfg.ack_policy {
            AckPolicy::None => store::AckPolicy::None,
            AckPolicy::All => store::AckPolicy::All,
            AckPolicy::Explicit => store::AckPolicy::Explicit,
        },
        max_deliver: cfg.max_deliver,
        raw: Bytes::from(serde_json::to_vec(cfg).unwrap_or_default()),
    }
}

/// Applies nats-server's defaults to a consumer config.
pub fn normalize(cfg: &mut ConsumerConfig) {
    crate::versioning::strip(&mut cfg.metadata);
    if cfg.ack_policy != AckPolicy::None && cfg.ack_wait == 0 {
        cfg.ack_wait = DEFAULT_ACK_WAIT_NS;
    }
    if cfg.max_deliver == 0 {
        cfg.max_deliver = -1;
    }
    if cfg.ack_policy != AckPolicy::None && cfg.max_ack_pending == 0 {
        cfg.max_ack_pending = DEFAULT_MAX_ACK_PENDING;
    }
    if cfg.is_pull() && cfg.max_waiting == 0 {
        cfg.max_waiting = DEFAULT_MAX_WAITING;
    }
    if cfg.durable_name.is_empty() && cfg.inactive_threshold == 0 {
        cfg.inactive_threshold = DEFAULT_INACTIVE_THRESHOLD_NS;
    }
    if !cfg.durable_name.is_empty() && cfg.name.is_empty() {
        cfg.name = cfg.durable_name.clone();
    }
    priority::normalize(cfg);
}

impl Consumer {
    /// Creates (or recovers) a consumer and starts its task.
    pub fn open(
        stream: &Arc<Stream>,
        js: &Arc<JetStream>,
        name: &str,
        cfg: ConsumerConfig,
        created: i64,
        is_new: bool,
    ) -> Result<Arc<Consumer>, ApiError> {
        let state_store = stream
            .store
            .consumer_store(name, &store_config(&cfg))
            .map_err(|err| e::JS_CONSUMER_STORE_FAILED.with(err))?;
        if is_new {
            persist::save_consumer(&stream.dir, &cfg, name, created)
                .map_err(|err| e::JS_CONSUMER_CREATE.with(err))?;
        }
        let state = state_store
            .state()
            .map_err(|err| e::JS_CONSUMER_STORE_FAILED.with(err))?;
        let filters = cfg.filters();
        let now = Instant::now();
        let ack_wait = Duration::from_nanos(cfg.ack_wait.max(0) as u64);
        let mut rt = Runtime {
            delivered: state.delivered,
            ack_floor: state.ack_floor,
            pending: state
                .pending
                .iter()
                .map(|(sseq, p)| {
                    let deliveries = state.redelivered.get(sseq).copied().unwrap_or(0) + 1;
                    (
                        *sseq,
                        PendingMsg {
                            dseq: p.sequence,
                            deliveries,
                            delivered_ns: p.ts,
                            deadline: now + ack_wait,
                        },
                    )
                })
                .collect(),
            redeliver: BTreeSet::new(),
            preload: VecDeque::new(),
            next_sseq: state.delivered.stream + 1,
            waiting: VecDeque::new(),
            num_redelivered: state.redelivered.len() as u64,
            last_delivered_ns: 0,
            last_ack_ns: 0,
            last_activity: now,
            next_push_heartbeat: None,
            fc: FlowControl::for_config(&cfg),
            replay_until: if cfg.replay_policy == ReplayPolicy::Original {
                stream.store.fast_state().last_seq
            } else {
                0
            },
            replay_prev: None,
            rate: (cfg.rate_limit_bps > 0 && !cfg.is_pull()).then(|| {
                let max = stream.config().max_msg_size;
                let burst = if max > 0 { max as usize } else { 1 << 20 };
                RateLimit::new(cfg.rate_limit_bps, burst, now)
            }),
            hold_until: None,
            pin: None,
            dirty: false,
            last_flush: now,
        };
        if state.delivered.stream == 0 && state.delivered.consumer == 0 {
            start_position(&stream.store, &cfg, &filters, &mut rt);
        }
        let sample_freq = cfg.sample_freq.clone();
        let c = Arc::new(Consumer {
            name: name.to_string(),
            stream_name: stream.name.clone(),
            stream: Arc::downgrade(stream),
            config: cfg,
            created,
            filters,
            rt: Mutex::new(rt),
            state_store,
            wake: Arc::new(Notify::new()),
            stopped: AtomicBool::new(false),
            paused_until: std::sync::atomic::AtomicI64::new(0),
            sample_rate: advisory::sample_rate(&sample_freq),
        });
        if let Some(t) = c
            .config
            .pause_until
            .as_deref()
            .and_then(crate::types::parse_rfc3339)
        {
            c.paused_until.store(t, Ordering::Relaxed);
        }
        c.clone().spawn(js);
        Ok(c)
    }

    fn spawn(self: Arc<Self>, js: &Arc<JetStream>) {
        let weak = Arc::downgrade(&self);
        let wake = self.wake.clone();
        drop(self);
        js.runtime().spawn(async move {
            // How long a push consumer without a subscriber waits before looking again:
            // short at first (a client subscribes right after creating the consumer, and
            // waiting for the next publish would batch up its first deliveries), then
            // backing off.
            let mut interest_poll = INTEREST_POLL_MIN;
            loop {
                let Some(c) = weak.upgrade() else { return };
                if c.stopped.load(Ordering::Relaxed) {
                    return;
                }
                let (outs, next) = c.pump();
                c.send(outs);
                if c.expired_inactive() {
                    if let Some(s) = c.stream.upgrade() {
                        s.remove_consumer(&c.name);
                        if let Some(js) = s.js() {
                            advisory::consumer_action(
                                &js,
                                &s.name,
                                &c.name,
                                advisory::Action::Delete,
                            );
                        }
                    }
                    c.stop();
                    c.delete_state();
                    return;
                }
                // Only ephemerals need a periodic look (inactivity); an idle durable
                // sleeps until something wakes it.
                // A push consumer also polls for a subscriber on its delivery subject
                // (interest changes are not signalled to it).
                let idle = if !c.config.is_pull() {
                    let subscribed = c
                        .stream
                        .upgrade()
                        .and_then(|s| s.js())
                        .is_some_and(|js| js.outlet().has_interest(&c.config.deliver_subject));
                    if subscribed {
                        interest_poll = INTEREST_POLL_MIN;
                        INTEREST_POLL_MAX
                    } else {
                        let wait = interest_poll;
                        interest_poll = (interest_poll * 2).min(INTEREST_POLL_MAX);
                        wait
                    }
                } else if c.config.durable_name.is_empty() {
                    Duration::from_secs(1)
                } else {
                    Duration::from_secs(3600)
                };
                let wait = next.map_or(Instant::now() + idle, |n| n.min(Instant::now() + idle));
                let notified = wake.notified();
                drop(c);
                if wait <= Instant::now() {
                    tokio::task::yield_now().await;
                    continue;
                }
                tokio::select! {
                    _ = notified => {}
                    _ = tokio::time::sleep_until(wait) => {}
                }
            }
        });
    }

    /// Answers every waiting pull request with `status` and drops them (consumer deleted).
    pub fn end_waiting(&self, status: &str) {
        let waiting: Vec<PullRequest> = self.rt.lock().waiting.drain(..).collect();
        for req in waiting {
            self.status(&req.reply, status, &[]);
        }
    }

    pub fn notify(&self) {
        self.wake.notify_one();
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.wake.notify_one();
        {
            let mut rt = self.rt.lock();
            if rt.dirty {
                self.flush_locked(&mut rt, Instant::now());
            }
        }
        let _ = self.state_store.stop();
    }

    pub fn delete_state(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.wake.notify_one();
        let _ = self.state_store.delete();
    }

    fn send(&self, outs: Vec<Out>) {
        if outs.is_empty() {
            return;
        }
        let Some(js) = self.stream.upgrade().and_then(|s| s.js()) else {
            return;
        };
        for o in outs {
            js.outlet().deliver(
                &o.route,
                &o.subject,
                o.reply.as_deref(),
                o.headers,
                o.payload,
            );
        }
    }

    /// A consumer with an inactive threshold (every ephemeral, and a durable that sets
    /// one, as in nats-server) with no pull requests and no push interest for longer than
    /// the threshold is removed.
    fn expired_inactive(&self) -> bool {
        if self.config.inactive_threshold <= 0 {
            return false;
        }
        let threshold = Duration::from_nanos(self.config.inactive_threshold as u64);
        let mut rt = self.rt.lock();
        if !self.config.is_pull() {
            let interest = self
                .stream
                .upgrade()
                .and_then(|s| s.js())
                .is_some_and(|js| js.outlet().has_interest(&self.config.deliver_subject));
            if interest {
                rt.last_activity = Instant::now();
            }
        } else if !rt.waiting.is_empty() {
            rt.last_activity = Instant::now();
        }
        rt.last_activity.elapsed() > threshold
    }

    /// Adds a pull request (`$JS.API.CONSUMER.MSG.NEXT`). Errors are answered on `reply`
    /// by the caller.
    pub fn add_pull_request(&self, reply: &str, body: &[u8]) -> Result<(), ApiError> {
        let req = match PullRequestJson::parse(body) {
            Ok(r) => r,
            Err(msg) => {
                self.status(reply, &format!("400 Bad Request - {msg}"), &[]);
                return Ok(());
            }
        };
        if req.idle_heartbeat > 0 && (req.expires == 0 || req.idle_heartbeat * 2 > req.expires) {
            self.status(reply, "400 Bad Request - heartbeat value too large", &[]);
            return Ok(());
        }
        let now = Instant::now();
        let mut rt = self.rt.lock();
        rt.last_activity = now;
        let max_batch = self.config.max_batch;
        if max_batch > 0 && req.batch > max_batch {
            drop(rt);
            self.status(
                reply,
                &format!("409 Exceeded MaxRequestBatch of {max_batch}"),
                &[],
            );
            return Ok(());
        }
        let max_expires = self.config.max_expires;
        if max_expires > 0 && (req.expires == 0 || req.expires > max_expires) {
            drop(rt);
            let d = go_duration(max_expires);
            self.status(
                reply,
                &format!("409 Exceeded MaxRequestExpires of {d}"),
                &[],
            );
            return Ok(());
        }
        let max_bytes = self.config.max_bytes;
        if max_bytes > 0 && req.max_bytes > max_bytes {
            drop(rt);
            self.status(
                reply,
                &format!("409 Exceeded MaxRequestMaxBytes of {max_bytes}"),
                &[],
            );
            return Ok(());
        }
        let group = req.is_json.then_some(req.group);
        if let Err(st) = priority::check_request(&self.config, group.as_ref(), rt.pin.as_mut(), now)
        {
            drop(rt);
            self.status(reply, st, &[]);
            return Ok(());
        }
        if self.config.max_waiting > 0 && rt.waiting.len() as i64 >= self.config.max_waiting {
            drop(rt);
            self.status(reply, "409 Exceeded MaxWaiting", &[]);
            return Ok(());
        }
        let heartbeat =
            (req.idle_heartbeat > 0).then(|| Duration::from_nanos(req.idle_heartbeat as u64));
        let pull = PullRequest {
            reply: reply.to_string(),
            batch: req.batch.max(1),
            max_bytes: req.max_bytes,
            expires: (req.expires > 0).then(|| now + Duration::from_nanos(req.expires as u64)),
            no_wait: req.no_wait,
            heartbeat,
            next_heartbeat: heartbeat.map(|hb| now + hb),
            delivered: 0,
            group,
        };
        priority::enqueue(self.config.priority_policy, &mut rt.waiting, pull);
        drop(rt);
        self.notify();
        Ok(())
    }

    fn status(&self, reply: &str, status: &str, pairs: &[(&str, &str)]) {
        let Some(js) = self.stream.upgrade().and_then(|s| s.js()) else {
            return;
        };
        js.outlet().publish(
            reply,
            None,
            Some(h::build(Some(status), pairs)),
            Bytes::new(),
        );
    }

    /// Delivers what can be delivered now; returns the messages to send and when to run
    /// again.
    fn pump(&self) -> (Vec<Out>, Option<Instant>) {
        let Some(stream) = self.stream.upgrade() else {
            return (Vec::new(), None);
        };
        let now = Instant::now();
        let mut outs = Vec::new();
        let mut rt = self.rt.lock();
        self.expire_requests(&mut rt, now, &mut outs);
        if rt.pin.as_ref().is_some_and(|p| p.lapses <= now) {
            let pin = rt.pin.take().expect("checked");
            if let Some(js) = stream.js() {
                let (s, c) = (&self.stream_name, &self.name);
                advisory::group_unpinned(&js, s, c, &pin.group, "timeout");
            }
        }
        let due: Vec<u64> = rt
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(s, _)| *s)
            .collect();
        rt.redeliver.extend(due);
        let mut pending_count: Option<u64> = None;
        let paused = self.pause_remaining_ns();
        let mut delivered = 0;
        while paused == 0 && delivered < PUMP_BATCH_MAX {
            if !self.deliver_one(&stream, &mut rt, now, &mut outs, &mut pending_count) {
                break;
            }
            delivered += 1;
        }
        self.finish_no_wait(&stream, &mut rt, now, &mut outs);
        self.heartbeats(&mut rt, now, &mut outs);
        if rt.dirty && now.duration_since(rt.last_flush) >= STATE_FLUSH_INTERVAL {
            self.flush_locked(&mut rt, now);
        }
        let mut next = self.next_deadline(&rt);
        if delivered == PUMP_BATCH_MAX {
            // A full batch: there may be more; run again right away (after yielding).
            next = Some(now);
        }
        if rt.dirty {
            let at = rt.last_flush + STATE_FLUSH_INTERVAL;
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        (outs, next)
    }

    /// Writes the delivery and ack state to the consumer store. Losing the state since the
    /// last flush (a crash) only causes redeliveries: the ack floor on disk never passes
    /// a message that was not acknowledged.
    /// The consumer's state as of now (written to its store first), for a snapshot.
    pub(crate) fn current_state(&self) -> Result<store::ConsumerState, ApiError> {
        let mut rt = self.rt.lock();
        self.flush_locked(&mut rt, Instant::now());
        drop(rt);
        self.state_store
            .state()
            .map_err(|err| e::JS_CONSUMER_STORE_FAILED.with(err))
    }

    /// Writes `state` as consumer `name`'s durable state before it is opened (restore).
    pub(crate) fn seed_state(
        stream: &Stream,
        name: &str,
        cfg: &ConsumerConfig,
        state: &store::ConsumerState,
    ) -> Result<(), ApiError> {
        let st = stream
            .store
            .consumer_store(name, &store_config(cfg))
            .map_err(|err| e::JS_CONSUMER_STORE_FAILED.with(err))?;
        st.set_state(state)
            .map_err(|err| e::JS_CONSUMER_STORE_FAILED.with(err))
    }

    fn flush_locked(&self, rt: &mut Runtime, now: Instant) {
        let state = store::ConsumerState {
            delivered: rt.delivered,
            ack_floor: rt.ack_floor,
            pending: rt
                .pending
                .iter()
                .map(|(s, p)| {
                    (
                        *s,
                        store::Pending {
                            sequence: p.dseq,
                            ts: p.delivered_ns,
                        },
                    )
                })
                .collect(),
            redelivered: rt
                .pending
                .iter()
                .filter(|(_, p)| p.deliveries > 1)
                .map(|(s, p)| (*s, p.deliveries - 1))
                .collect(),
        };
        if self.state_store.set_state(&state).is_ok() {
            rt.dirty = false;
        }
        rt.last_flush = now;
    }

    fn expire_requests(&self, rt: &mut Runtime, now: Instant, outs: &mut Vec<Out>) {
        let mut kept = VecDeque::with_capacity(rt.waiting.len());
        while let Some(req) = rt.waiting.pop_front() {
            if req.expires.is_some_and(|e| e <= now) {
                outs.push(status_out(
                    &req.reply,
                    "408 Request Timeout",
                    &[
                        ("Nats-Pending-Messages", &req.left().to_string()),
                        ("Nats-Pending-Bytes", &req.max_bytes.max(0).to_string()),
                    ],
                ));
            } else {
                kept.push_back(req);
            }
        }
        rt.waiting = kept;
    }

    /// Ends `no_wait` requests as nats-server does. Once nothing more can be delivered, a
    /// request that already got messages, or has no `expires`, ends with 404 No Messages;
    /// one with `expires` that got nothing stays, one-shot, until a message or its expiry.
    /// When only max_ack_pending holds deliveries back, that end comes at the request's
    /// next heartbeat (or its expiry, as a 408), not at once.
    fn finish_no_wait(&self, stream: &Stream, rt: &mut Runtime, now: Instant, outs: &mut Vec<Out>) {
        if !rt.waiting.iter().any(|r| r.no_wait) {
            return;
        }
        let cfg = &self.config;
        let blocked = rt.redeliver.is_empty()
            && cfg.ack_policy != AckPolicy::None
            && cfg.max_ack_pending > 0
            && rt.pending.len() as i64 >= cfg.max_ack_pending;
        let eos = !blocked && self.next_candidate(stream, rt).is_none();
        if !eos && !blocked {
            return;
        }
        let mut kept = VecDeque::with_capacity(rt.waiting.len());
        while let Some(req) = rt.waiting.pop_front() {
            let done = req.no_wait
                && (req.delivered > 0 || req.expires.is_none())
                && (eos
                    || (req.heartbeat.is_none() && req.expires.is_none())
                    || req.next_heartbeat.is_some_and(|t| t <= now));
            if done {
                outs.push(status_out(&req.reply, "404 No Messages", &[]));
            } else {
                kept.push_back(req);
            }
        }
        rt.waiting = kept;
    }

    fn heartbeats(&self, rt: &mut Runtime, now: Instant, outs: &mut Vec<Out>) {
        let (dseq, sseq) = (
            rt.delivered.consumer.to_string(),
            rt.delivered.stream.to_string(),
        );
        for req in rt.waiting.iter_mut() {
            if let (Some(hb), Some(at)) = (req.heartbeat, req.next_heartbeat) {
                if at <= now {
                    outs.push(status_out(
                        &req.reply,
                        "100 Idle Heartbeat",
                        &[("Nats-Last-Consumer", &dseq), ("Nats-Last-Stream", &sseq)],
                    ));
                    req.next_heartbeat = Some(now + hb);
                }
            }
        }
        if !self.config.is_pull() && self.config.idle_heartbeat > 0 {
            let hb = Duration::from_nanos(self.config.idle_heartbeat as u64);
            match rt.next_push_heartbeat {
                Some(at) if at <= now => {
                    let (dseq, sseq) = (
                        rt.delivered.consumer.to_string(),
                        rt.delivered.stream.to_string(),
                    );
                    let mut pairs = vec![
                        ("Nats-Last-Consumer", dseq.as_str()),
                        ("Nats-Last-Stream", sseq.as_str()),
                    ];
                    // Stalled on flow control: the subscriber may answer here instead.
                    if let Some(id) = rt.fc.outstanding() {
                        pairs.push(("Nats-Consumer-Stalled", id));
                    }
                    outs.push(status_out(
                        &self.config.deliver_subject,
                        "100 Idle Heartbeat",
                        &pairs,
                    ));
                    rt.next_push_heartbeat = Some(now + hb);
                }
                None => rt.next_push_heartbeat = Some(now + hb),
                _ => {}
            }
        }
    }

    fn next_deadline(&self, rt: &Runtime) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if self.config.ack_policy != AckPolicy::None {
            // Messages already due wait in `redeliver` for a target; a new pull request or
            // subscriber wakes the task, so their past deadlines must not spin it.
            let next_ack = rt
                .pending
                .iter()
                .filter(|(s, _)| !rt.redeliver.contains(s))
                .map(|(_, p)| p.deadline)
                .min();
            if let Some(t) = next_ack {
                consider(t);
            }
        }
        for req in &rt.waiting {
            if let Some(t) = req.expires {
                consider(t);
            }
            if let Some(t) = req.next_heartbeat {
                consider(t);
            }
        }
        if let Some(t) = rt.next_push_heartbeat {
            consider(t);
        }
        if let Some(t) = rt.hold_until {
            consider(t);
        }
        if let Some(pin) = &rt.pin {
            consider(pin.lapses);
        }
        let paused = self.pause_remaining_ns();
        if paused > 0 {
            consider(Instant::now() + Duration::from_nanos(paused as u64));
        }
        next
    }

    /// The next stream sequence this consumer would deliver, without delivering it.
    fn next_candidate(&self, stream: &Stream, rt: &Runtime) -> Option<u64> {
        if let Some(s) = rt.redeliver.iter().next() {
            return Some(*s);
        }
        if let Some(s) = rt.preload.front() {
            return Some(*s);
        }
        self.load_next(stream, rt.next_sseq).map(|m| m.seq)
    }

    fn load_next(&self, stream: &Stream, from: u64) -> Option<StoredMsg> {
        if self.filters.is_empty() {
            return stream.store.load_next_msg(">", from).ok();
        }
        self.filters
            .iter()
            .filter_map(|f| stream.store.load_next_msg(f, from).ok())
            .min_by_key(|m| m.seq)
    }

    fn num_pending_locked(&self, stream: &Stream, rt: &Runtime) -> u64 {
        let mut n = rt.preload.len() as u64;
        if self.filters.is_empty() {
            n += stream.store.num_pending(rt.next_sseq, ">", false).0;
        } else {
            for f in &self.filters {
                n += stream.store.num_pending(rt.next_sseq, f, false).0;
            }
        }
        n
    }

    /// Delivers one message if a target and a message are available; false otherwise.
    /// `pending_count` caches, across one pump, how many messages are not yet delivered.
    fn deliver_one(
        &self,
        stream: &Stream,
        rt: &mut Runtime,
        now: Instant,
        outs: &mut Vec<Out>,
        pending_count: &mut Option<u64>,
    ) -> bool {
        let cfg = &self.config;
        if cfg.is_pull() {
            if rt.waiting.is_empty() {
                return false;
            }
        } else {
            if rt.fc.blocked() {
                return false;
            }
            let interest = stream
                .js()
                .is_some_and(|js| js.outlet().has_interest(&cfg.deliver_subject));
            if !interest {
                return false;
            }
        }
        if rt.hold_until.is_some_and(|t| t > now) {
            return false;
        }
        rt.hold_until = None;
        let (msg, deliveries, from) = match self.take_next(stream, rt) {
            Next::Msg(m, d, from) => (m, d, from),
            Next::Skip => return true,
            Next::Nothing => return false,
        };
        // Replay at the original pace: each message waits for the gap to its predecessor.
        if rt.replay_until > 0 {
            if msg.seq > rt.replay_until {
                rt.replay_until = 0;
            } else if let Some((sent, ts)) = rt.replay_prev {
                let gap = Duration::from_nanos(msg.ts.saturating_sub(ts).max(0) as u64);
                let due = sent + gap;
                if gap > Duration::from_millis(1) && due > now {
                    put_back(rt, msg.seq, from);
                    rt.hold_until = Some(due);
                    return false;
                }
            }
            if rt.replay_until > 0 {
                rt.replay_prev = Some((now, msg.ts));
            }
        }
        if cfg.max_deliver > 0 && deliveries > cfg.max_deliver as u64 {
            rt.pending.remove(&msg.seq);
            if let Some(js) = stream.js() {
                let max = cfg.max_deliver as u64;
                advisory::max_deliveries(&js, &self.stream_name, &self.name, msg.seq, max);
            }
            return true;
        }
        let is_new = from != Origin::Redeliver;
        // The count includes this message when it is new (it is not delivered yet).
        let pending_before = *pending_count
            .get_or_insert_with(|| self.num_pending_locked(stream, rt) + u64::from(is_new));
        let pending_after = pending_before.saturating_sub(u64::from(is_new));
        // The ack reply this delivery will carry (the consumer sequence it will get).
        let reply = format!(
            "$JS.ACK.{}.{}.{}.{}.{}.{}.{}",
            self.stream_name,
            self.name,
            deliveries,
            msg.seq,
            rt.delivered.consumer + 1,
            msg.ts,
            pending_after
        );
        // What counts against a pull request's max_bytes, as nats-server counts it.
        let size = msg.subject.len()
            + reply.len()
            + msg.payload.len()
            + msg.headers.as_ref().map_or(0, |h| h.len());
        let mut trailer = None;
        let route = if cfg.is_pull() {
            match self.pull_target(stream, rt, now, size, pending_before, outs) {
                Target::Reply(r, t) => {
                    trailer = t;
                    r
                }
                // The chosen request could not take it; another may.
                Target::Retry => {
                    put_back(rt, msg.seq, from);
                    return true;
                }
                Target::Nobody => {
                    put_back(rt, msg.seq, from);
                    return false;
                }
            }
        } else {
            cfg.deliver_subject.clone()
        };
        *pending_count = Some(pending_after);
        self.record_delivery(rt, now, msg.seq, deliveries);
        let (mut headers, payload) = if cfg.headers_only {
            let size = msg.payload.len().to_string();
            (
                Some(h::append(
                    msg.headers.as_deref(),
                    &[("Nats-Msg-Size", &size)],
                )),
                Bytes::new(),
            )
        } else {
            (msg.headers.clone(), msg.payload.clone())
        };
        if cfg.priority_policy == PriorityPolicy::PinnedClient {
            // Every delivery names the pin, so a client learns it from its first message.
            let id = rt.pin.as_ref().map_or("", |p| p.id.as_str());
            headers = Some(h::append(headers.as_deref(), &[(h::PIN_ID, id)]));
        }
        let size = route.len()
            + msg.subject.len()
            + reply.len()
            + headers.as_ref().map_or(0, |h| h.len())
            + payload.len();
        outs.push(Out {
            route,
            subject: msg.subject.to_string(),
            reply: Some(reply),
            headers,
            payload,
        });
        outs.extend(trailer);
        if let Some(r) = rt.rate.as_mut() {
            rt.hold_until = r.take(size, now);
        }
        if rt.fc.delivered(size as i64) {
            let id = format!(
                "$JS.FC.{}.{}.{}",
                self.stream_name,
                self.name,
                crate::api::random_token(4)
            );
            rt.fc.requested(id.clone());
            outs.push(Out {
                route: cfg.deliver_subject.clone(),
                subject: cfg.deliver_subject.clone(),
                reply: Some(id),
                headers: Some(h::build(Some("100 FlowControl Request"), &[])),
                payload: Bytes::new(),
            });
        }
        true
    }

    /// The subscriber's answer to a flow-control request (`$JS.FC.…`): only the latest
    /// request counts; it widens the window and lets delivery go on.
    pub fn flow_control_reply(&self, subject: &str) {
        if self.rt.lock().fc.confirmed(subject) {
            self.notify();
        }
    }

    /// Takes the next message to deliver: a redelivery first, then the start-up queue, then
    /// the stream.
    fn take_next(&self, stream: &Stream, rt: &mut Runtime) -> Next {
        let cfg = &self.config;
        if let Some(sseq) = rt.redeliver.pop_first() {
            let Some(p) = rt.pending.get(&sseq).copied() else {
                return Next::Skip;
            };
            return match stream.store.load_msg(sseq) {
                Ok(m) => Next::Msg(m, p.deliveries + 1, Origin::Redeliver),
                Err(_) => {
                    rt.pending.remove(&sseq);
                    Next::Skip
                }
            };
        }
        if cfg.ack_policy != AckPolicy::None
            && cfg.max_ack_pending > 0
            && rt.pending.len() as i64 >= cfg.max_ack_pending
        {
            return Next::Nothing;
        }
        if let Some(sseq) = rt.preload.pop_front() {
            return match stream.store.load_msg(sseq) {
                Ok(m) => Next::Msg(m, 1, Origin::Preload),
                Err(_) => Next::Skip,
            };
        }
        match self.load_next(stream, rt.next_sseq) {
            Some(m) => {
                rt.next_sseq = m.seq + 1;
                Next::Msg(m, 1, Origin::Stream)
            }
            None => Next::Nothing,
        }
    }

    /// Chooses the waiting request for a message of `size` bytes and counts the delivery
    /// against it; a request that takes the pin gets it here.
    fn pull_target(
        &self,
        stream: &Stream,
        rt: &mut Runtime,
        now: Instant,
        size: usize,
        num_pending: u64,
        outs: &mut Vec<Out>,
    ) -> Target {
        let policy = self.config.priority_policy;
        let counts = priority::Counts {
            num_pending,
            ack_pending: rt.pending.len(),
        };
        let choice = loop {
            let mut rejected = Vec::new();
            let choice = priority::choose(
                policy,
                &mut rt.waiting,
                rt.pin.as_ref(),
                &counts,
                &mut rejected,
            );
            for (reply, n, b) in rejected {
                let (n, b) = (n.to_string(), b.to_string());
                let pairs = [
                    ("Nats-Pending-Messages", n.as_str()),
                    ("Nats-Pending-Bytes", &b),
                ];
                outs.push(status_out(&reply, "423 Nats-Wrong-Pin-Id", &pairs));
            }
            let Some(choice) = choice else {
                return Target::Nobody;
            };
            // A requester that went away (nobody subscribed to its reply subject) is
            // dropped instead of being sent messages nobody receives, as nats-server does.
            let reply = &rt.waiting[choice.index].reply;
            if stream
                .js()
                .is_some_and(|js| !js.outlet().has_interest(reply))
            {
                rt.waiting.remove(choice.index);
                continue;
            }
            break choice;
        };
        let req = &mut rt.waiting[choice.index];
        if req.max_bytes > 0 && size as i64 > req.max_bytes {
            let (n, b) = (req.left().to_string(), req.max_bytes.to_string());
            let reply = req.reply.clone();
            rt.waiting.remove(choice.index);
            let pairs = [
                ("Nats-Pending-Messages", n.as_str()),
                ("Nats-Pending-Bytes", b.as_str()),
            ];
            outs.push(status_out(
                &reply,
                "409 Message Size Exceeds MaxBytes",
                &pairs,
            ));
            return Target::Retry;
        }
        req.delivered += 1;
        // A byte budget used up exactly makes this message the request's last.
        let mut bytes_used_up = false;
        if req.max_bytes > 0 {
            req.max_bytes -= size as i64;
            bytes_used_up = req.max_bytes <= 0;
        }
        if let Some(hb) = req.heartbeat {
            req.next_heartbeat = Some(now + hb);
        }
        let reply = req.reply.clone();
        let done = req.delivered >= req.batch || bytes_used_up;
        // The batch is full with bytes to spare: nats-server says so after the message.
        let trailer = (req.delivered >= req.batch && req.max_bytes > 0).then(|| {
            let b = req.max_bytes.to_string();
            let pairs = [("Nats-Pending-Messages", "0"), ("Nats-Pending-Bytes", &b)];
            status_out(&reply, "409 Batch Completed", &pairs)
        });
        if choice.takes_pin {
            if let Some(g) = req.group.as_mut() {
                let pin = priority::new_pin(&self.config, &g.group, now, store::now_nanos());
                // Later messages for this same request go to the new pin holder.
                g.id = pin.id.clone();
                if let Some(js) = stream.js() {
                    let (s, c) = (&self.stream_name, &self.name);
                    advisory::group_pinned(&js, s, c, &pin.group, &pin.id);
                }
                rt.pin = Some(pin);
            }
        }
        if done {
            rt.waiting.remove(choice.index);
        } else {
            priority::requeue(policy, &mut rt.waiting, choice.index);
        }
        Target::Reply(reply, trailer)
    }

    /// Records the delivery of stream sequence `sseq` (consumer sequence, pending entry).
    fn record_delivery(&self, rt: &mut Runtime, now: Instant, sseq: u64, deliveries: u64) {
        let cfg = &self.config;
        rt.delivered.consumer += 1;
        let dseq = rt.delivered.consumer;
        rt.delivered.stream = rt.delivered.stream.max(sseq);
        let ts_now = store::now_nanos();
        rt.last_delivered_ns = ts_now;
        if deliveries > 1 {
            rt.num_redelivered += u64::from(deliveries == 2);
        }
        if cfg.ack_policy == AckPolicy::None {
            rt.ack_floor = rt.delivered;
        } else {
            let wait = self.ack_wait_for(deliveries);
            rt.pending.insert(
                sseq,
                PendingMsg {
                    dseq,
                    deliveries,
                    delivered_ns: ts_now,
                    deadline: now + wait,
                },
            );
        }
        rt.dirty = true;
        if !cfg.is_pull() && cfg.idle_heartbeat > 0 {
            let hb = Duration::from_nanos(cfg.idle_heartbeat as u64);
            rt.next_push_heartbeat = Some(now + hb);
        }
    }

    fn ack_wait_for(&self, deliveries: u64) -> Duration {
        let b = &self.config.backoff;
        let ns = if b.is_empty() {
            self.config.ack_wait
        } else {
            b[((deliveries as usize).saturating_sub(1)).min(b.len() - 1)]
        };
        Duration::from_nanos(ns.max(1) as u64)
    }

    /// Handles an ack body for a delivered message.
    pub fn process_ack(&self, _dc: u64, sseq: u64, dseq: u64, body: &[u8], reply: Option<&str>) {
        let text = std::str::from_utf8(body).unwrap_or("").trim();
        let (kind, rest) = match text.split_once(char::is_whitespace) {
            Some((k, r)) => (k, r.trim()),
            None => (text, ""),
        };
        let mut acked = Vec::new();
        let js = self.stream.upgrade().and_then(|s| s.js());
        {
            let mut rt = self.rt.lock();
            rt.last_activity = Instant::now();
            if let (Some(js), Some(p)) = (&js, rt.pending.get(&sseq)) {
                let seqs = (sseq, p.dseq, p.deliveries);
                match kind {
                    "-NAK" => advisory::nak_or_term(js, &self.stream_name, &self.name, seqs, None),
                    "+TERM" => {
                        advisory::nak_or_term(js, &self.stream_name, &self.name, seqs, Some(rest))
                    }
                    "" | "+ACK" | "+NXT"
                        if self.sample_rate > 0.0 && rand::random::<f64>() < self.sample_rate =>
                    {
                        let took = natrium_store::now_nanos() - p.delivered_ns;
                        advisory::ack_metric(js, &self.stream_name, &self.name, seqs, took);
                    }
                    _ => {}
                }
            }
            match kind {
                "" | "+ACK" => acked = self.ack(&mut rt, sseq, dseq),
                "+NXT" => {
                    acked = self.ack(&mut rt, sseq, dseq);
                    if let Some(r) = reply {
                        drop(rt);
                        let _ = self.add_pull_request(r, rest.as_bytes());
                        self.finish_ack(acked);
                        return;
                    }
                }
                "-NAK" => {
                    if let Some(p) = rt.pending.get_mut(&sseq) {
                        let delay = serde_json::from_str::<serde_json::Value>(rest)
                            .ok()
                            .and_then(|v| v.get("delay").and_then(|d| d.as_i64()))
                            .unwrap_or(0);
                        if delay > 0 {
                            p.deadline = Instant::now() + Duration::from_nanos(delay as u64);
                        } else {
                            rt.redeliver.insert(sseq);
                        }
                    }
                }
                "+WPI" => {
                    let wait = self.config.ack_wait;
                    if let Some(p) = rt.pending.get_mut(&sseq) {
                        p.deadline = Instant::now() + Duration::from_nanos(wait.max(1) as u64);
                    }
                }
                "+TERM" => acked = self.ack(&mut rt, sseq, dseq),
                _ => {}
            }
        }
        self.finish_ack(acked);
        if let Some(r) = reply {
            if let Some(js) = self.stream.upgrade().and_then(|s| s.js()) {
                js.outlet().publish(r, None, None, Bytes::new());
            }
        }
    }

    fn finish_ack(&self, acked: Vec<u64>) {
        self.notify();
        if acked.is_empty() {
            return;
        }
        let Some(stream) = self.stream.upgrade() else {
            return;
        };
        match stream.config().retention {
            Retention::WorkQueue => {
                for s in acked {
                    let _ = stream.store.remove_msg(s);
                }
            }
            Retention::Interest => {
                for s in acked {
                    let all = stream.consumers().iter().all(|c| c.has_acked(&stream, s));
                    if all {
                        let _ = stream.store.remove_msg(s);
                    }
                }
            }
            Retention::Limits => {}
        }
    }

    /// True when this consumer no longer needs stream sequence `sseq`.
    fn has_acked(&self, stream: &Stream, sseq: u64) -> bool {
        let rt = self.rt.lock();
        if sseq <= rt.ack_floor.stream {
            return true;
        }
        if rt.pending.contains_key(&sseq) {
            return false;
        }
        if sseq < rt.next_sseq {
            return true;
        }
        // Not reached yet: needed only if it matches the filter.
        if self.filters.is_empty() {
            return false;
        }
        match stream.store.load_msg(sseq) {
            Ok(m) => !self
                .filters
                .iter()
                .any(|f| natrium_sublist::subject_matches(f, &m.subject)),
            Err(_) => true,
        }
    }

    /// Records an ack; returns the stream sequences now acknowledged.
    fn ack(&self, rt: &mut Runtime, sseq: u64, dseq: u64) -> Vec<u64> {
        if self.config.ack_policy == AckPolicy::None {
            return Vec::new();
        }
        let acked: Vec<u64> = if self.config.ack_policy == AckPolicy::All {
            rt.pending.range(..=sseq).map(|(s, _)| *s).collect()
        } else if rt.pending.contains_key(&sseq) {
            vec![sseq]
        } else {
            Vec::new()
        };
        for s in &acked {
            rt.pending.remove(s);
            rt.redeliver.remove(s);
        }
        if acked.is_empty() {
            return acked;
        }
        rt.last_ack_ns = store::now_nanos();
        rt.ack_floor = match rt.pending.iter().next() {
            None => rt.delivered,
            Some((first_sseq, p)) => SequencePair {
                consumer: p.dseq.saturating_sub(1),
                stream: first_sseq.saturating_sub(1),
            },
        };
        let _ = dseq;
        rt.dirty = true;
        acked
    }

    /// Drops the pin (`$JS.API.CONSUMER.UNPIN`): the next message picks a new pinned client
    /// among the waiting requests. The caller has checked `group` is the consumer's.
    pub fn unpin(&self, js: &JetStream, group: &str) {
        self.rt.lock().pin = None;
        advisory::group_unpinned(js, &self.stream_name, &self.name, group, "admin");
        self.notify();
    }

    /// Pauses delivery until `until` (unix ns; 0 or past resumes). Returns the new value.
    pub fn pause(&self, until: i64) -> i64 {
        let until = if until > store::now_nanos() { until } else { 0 };
        self.paused_until.store(until, Ordering::Relaxed);
        self.notify();
        until
    }

    /// Nanoseconds of pause left; 0 when delivering.
    pub fn pause_remaining_ns(&self) -> i64 {
        let until = self.paused_until.load(Ordering::Relaxed);
        (until - store::now_nanos()).max(0)
    }

    pub fn info(&self, js: &JetStream) -> ConsumerInfo {
        let stream = self.stream.upgrade();
        let rt = self.rt.lock();
        let num_pending = stream
            .as_ref()
            .map_or(0, |s| self.num_pending_locked(s, &rt));
        let last = |ns: i64| (ns > 0).then(|| rfc3339(ns));
        ConsumerInfo {
            stream_name: self.stream_name.clone(),
            name: self.name.clone(),
            created: rfc3339(self.created),
            config: {
                let mut cfg = self.config.clone();
                let level = crate::versioning::consumer_required_level(&cfg);
                crate::versioning::annotate(&mut cfg.metadata, level, &js.cfg.server_version);
                cfg
            },
            delivered: SequenceInfo {
                consumer_seq: rt.delivered.consumer,
                stream_seq: rt.delivered.stream,
                last_active: last(rt.last_delivered_ns),
            },
            ack_floor: SequenceInfo {
                consumer_seq: rt.ack_floor.consumer,
                stream_seq: rt.ack_floor.stream,
                last_active: last(rt.last_ack_ns),
            },
            num_ack_pending: rt.pending.len() as u64,
            num_redelivered: rt.num_redelivered,
            num_waiting: rt.waiting.len() as u64,
            num_pending,
            cluster: ClusterInfo {
                name: None,
                leader: js.cfg.server_name.clone(),
            },
            push_bound: !self.config.is_pull()
                && js.outlet().has_interest(&self.config.deliver_subject),
            paused: self.pause_remaining_ns() > 0,
            pause_remaining: self.pause_remaining_ns(),
            ts: rfc3339(store::now_nanos()),
            priority_groups: self
                .config
                .priority_groups
                .first()
                .map(|group| PriorityGroupState {
                    group: group.clone(),
                    pinned_client_id: rt.pin.as_ref().map(|p| p.id.clone()).unwrap_or_default(),
                    pinned_ts: rfc3339(rt.pin.as_ref().map_or(0, |p| p.ts_ns)),
                })
                .into_iter()
                .collect(),
        }
    }
}

/// Where a message to deliver came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Redeliver,
    Preload,
    Stream,
}

/// The outcome of [`Consumer::take_next`].
enum Next {
    Msg(StoredMsg, u64, Origin),
    /// A message that is gone was skipped; look again.
    Skip,
    Nothing,
}

/// The outcome of [`Consumer::pull_target`].
enum Target {
    /// The reply subject to deliver on, and a status to send right after the message.
    Reply(String, Option<Out>),
    /// The chosen request was ended (message too large for it).
    Retry,
    /// No waiting request may take a message now.
    Nobody,
}

/// Returns a taken message to where it came from, to be taken again next time.
fn put_back(rt: &mut Runtime, sseq: u64, from: Origin) {
    match from {
        Origin::Redeliver => {
            rt.redeliver.insert(sseq);
        }
        Origin::Preload => rt.preload.push_front(sseq),
        Origin::Stream => rt.next_sseq = rt.next_sseq.min(sseq),
    }
}

fn status_out(reply: &str, status: &str, pairs: &[(&str, &str)]) -> Out {
    Out {
        route: reply.to_string(),
        subject: reply.to_string(),
        reply: None,
        headers: Some(h::build(Some(status), pairs)),
        payload: Bytes::new(),
    }
}

/// A duration as Go prints it (`5s`, `1m30s`, `250ms`), for status texts.
pub(crate) fn go_duration(ns: i64) -> String {
    let d = Duration::from_nanos(ns.max(0) as u64);
    if d.subsec_nanos() == 0 {
        let s = d.as_secs();
        let (h, m, sec) = (s / 3600, (s / 60) % 60, s % 60);
        let mut out = String::new();
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{sec}s"));
        out
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// Sets where a new consumer starts, from its deliver policy.
fn start_position(
    store: &Arc<dyn natrium_store::MessageStore>,
    cfg: &ConsumerConfig,
    filters: &[String],
    rt: &mut Runtime,
) {
    let state = store.fast_state();
    let first = state.first_seq.max(1);
    rt.next_sseq = match cfg.deliver_policy {
        DeliverPolicy::All => first,
        DeliverPolicy::New => state.last_seq + 1,
        DeliverPolicy::Last => {
            let last = if filters.is_empty() {
                Some(state.last_seq)
            } else {
                filters
                    .iter()
                    .filter_map(|f| store.load_last_msg(f).ok().map(|m| m.seq))
                    .max()
            };
            last.filter(|s| *s > 0).unwrap_or(state.last_seq + 1)
        }
        DeliverPolicy::ByStartSequence => cfg.opt_start_seq.max(first),
        DeliverPolicy::ByStartTime => seq_from_time(store, cfg),
        DeliverPolicy::LastPerSubject => {
            let mut lasts: Vec<u64> = Vec::new();
            let fs: Vec<&str> = if filters.is_empty() {
                vec![">"]
            } else {
                filters.iter().map(|s| s.as_str()).collect()
            };
            for f in fs {
                lasts.extend(store.subjects_state(f).values().map(|s| s.last));
            }
            lasts.sort_unstable();
            lasts.dedup();
            rt.preload = lasts.into();
            state.last_seq + 1
        }
    };
    // Messages before the start point count as delivered and acknowledged.
    let before = rt.next_sseq.saturating_sub(1);
    if rt.preload.is_empty() {
        rt.delivered.stream = before;
        rt.ack_floor.stream = before;
    }
}

/// The first stream sequence at or after the config's `opt_start_time` (past the end when
/// there is none).
fn seq_from_time(store: &Arc<dyn natrium_store::MessageStore>, cfg: &ConsumerConfig) -> u64 {
    let state = store.fast_state();
    let start = cfg
        .opt_start_time
        .as_deref()
        .and_then(crate::types::parse_rfc3339)
        .unwrap_or(0);
    let mut seq = state.first_seq.max(1);
    loop {
        match store.load_next_msg(">", seq) {
            Ok(m) if m.ts >= start => break m.seq,
            Ok(m) => seq = m.seq + 1,
            Err(_) => break state.last_seq + 1,
        }
    }
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Consumer({}.{})", self.stream_name, self.name)
    }
}

/// Keeps `StoreError` in this module's vocabulary for callers.
pub fn is_not_found(err: &StoreError) -> bool {
    matches!(err, StoreError::NotFound | StoreError::Eof)
}
