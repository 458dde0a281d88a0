//! natrium-jetstream: JetStream on one server — streams, consumers and the `$JS.API` over
//! natrium-store.
//!
//! The crate owns no sockets. It reaches the rest of the server through [`Outlet`]:
//! publish a message into the server's routing, subscribe internally, ask whether a subject
//! has interest. The server calls back into it through the handlers it registered: the
//! `$JS.API.>` handler, the `$JS.ACK.>` handler and one handler per stream for its
//! subjects. A publish into a stream is appended with `store_msg_async`; its PubAck is sent
//! from the store's completion, so "acknowledged" means "durable" under the store's sync
//! policy. Consumers run as one tokio task each, woken by new messages, pull requests and
//! acks, and deliver through the outlet.
//!
//! Lock order: `JetStream::streams` → `Stream::consumers` → `Consumer::rt`; the stream's
//! ingest lock is never held while taking a consumer lock. No lock is held across an
//! `.await` or an outlet call that can re-enter JetStream.

pub mod api;
pub mod consumer;
pub mod errors;
pub mod headers;
mod persist;
mod priority;
pub use persist::write_atomic;
mod advisory;
mod backup;
mod cron;
mod direct;
mod source;
pub mod stream;
mod transform;
pub mod types;
pub mod versioning;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

pub use stream::Stream;

/// The highest JetStream API level (`Nats-Required-Api-Level`, `api_lvl` in INFO) whose
/// features this implementation has: level 2 is nats-server 2.12's (TTLs, counters, atomic
/// batches, schedules); level 4's fast batch publishing is refused.
pub const API_LEVEL: u32 = 2;

/// A message delivered to an internal subscription.
#[derive(Debug, Clone)]
pub struct InMsg {
    /// The publishing connection's id (0 when JetStream itself published).
    pub origin: u64,
    pub subject: String,
    pub reply: Option<String>,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
}

/// Handles messages on an internal subscription. Runs on the publisher's task: it must
/// not block (hand slow work to a blocking thread) and must not panic. Returns false when
/// it declined the message, which then does not count as delivered (so a requester gets
/// nats-server's 503 no-responders, as for a DIRECT.GET on a stream without direct get).
pub type Handler = Arc<dyn Fn(InMsg) -> bool + Send + Sync>;

/// One message JetStream sends (see [`Outlet::deliver_all`]).
#[derive(Debug, Clone)]
pub struct OutMsg {
    pub route: String,
    pub subject: String,
    pub reply: Option<String>,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
}

/// How JetStream reaches the server.
pub trait Outlet: Send + Sync + 'static {
    /// Delivers a batch; the server wakes each receiving connection once for the batch.
    fn deliver_all(&self, msgs: Vec<OutMsg>) {
        for m in msgs {
            self.deliver(
                &m.route,
                &m.subject,
                m.reply.as_deref(),
                m.headers,
                m.payload,
            );
        }
    }

    /// Routes a message to subscribers of `route_subject`; subscribers see `msg_subject`
    /// (a consumer delivers the stream message's own subject on its delivery subject).
    fn deliver(
        &self,
        route_subject: &str,
        msg_subject: &str,
        reply: Option<&str>,
        headers: Option<Bytes>,
        payload: Bytes,
    );
    /// Subscribes internally; returns an id for [`Outlet::unsubscribe`].
    fn subscribe(&self, subject: &str, handler: Handler) -> Result<u64, String>;
    /// Subscribes internally as a member of queue group `queue` (one member of a group
    /// gets each message).
    fn queue_subscribe(
        &self,
        subject: &str,
        queue: Option<&str>,
        handler: Handler,
    ) -> Result<u64, String> {
        match queue {
            None => self.subscribe(subject, handler),
            Some(_) => Err(format!(
                "queue subscriptions are not supported here ({subject})"
            )),
        }
    }
    fn unsubscribe(&self, id: u64);
    /// True when some subscription matches `subject`.
    fn has_interest(&self, subject: &str) -> bool;

    /// Writes a warning to the server's log.
    fn warn(&self, _line: &str) {}

    /// nats-server's `ClientInfo` of connection `cid`, for advisories; `None` if unknown.
    fn client_info(&self, _cid: u64) -> Option<serde_json::Value> {
        None
    }

    /// Routes a plain message.
    fn publish(&self, subject: &str, reply: Option<&str>, headers: Option<Bytes>, payload: Bytes) {
        self.deliver(subject, subject, reply, headers, payload)
    }
}

/// How messages are made durable before they are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// fsync before the PubAck (group commit). Natrium's default.
    Always,
    /// fsync on an interval (nats-server's default behaviour, opt-in here).
    Interval(std::time::Duration),
}

/// An account's JetStream limits (`accounts { A: { jetstream: {...} } }`); -1 is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccountLimits {
    pub max_memory: i64,
    pub max_storage: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub memory_max_stream_bytes: i64,
    pub storage_max_stream_bytes: i64,
    pub max_bytes_required: bool,
    /// The tier the limits belong to (`R1`), shown under `tiers` in account info.
    #[serde(skip)]
    pub tier: Option<String>,
}

impl Default for AccountLimits {
    fn default() -> Self {
        AccountLimits {
            max_memory: -1,
            max_storage: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
            tier: None,
        }
    }
}

/// JetStream's settings, from the server's options.
#[derive(Debug, Clone)]
pub struct Config {
    /// `<store_dir>/jetstream`.
    pub store_dir: PathBuf,
    /// The account this JetStream serves (`$G` without configured accounts).
    pub account: String,
    /// The account's limits; -1 is unlimited.
    pub limits: AccountLimits,
    pub max_memory: i64,
    pub max_store: i64,
    pub sync: SyncMode,
    pub domain: Option<String>,
    pub server_name: String,
    /// The version string the server reports (`_nats.ver` in config metadata).
    pub server_version: String,
    /// Largest batch a pull request may ask for (`limits { max_request_batch }`); 0 = none.
    pub max_request_batch: i64,
}

/// The single account's JetStream.
pub struct JetStream {
    pub cfg: Config,
    outlet: Arc<dyn Outlet>,
    streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    runtime: tokio::runtime::Handle,
    pub api_total: AtomicU64,
    pub api_errors: AtomicU64,
    subs: parking_lot::Mutex<Vec<u64>>,
    /// The account's limits in force (`cfg.limits` until an account update replaces them).
    limits: RwLock<AccountLimits>,
}

impl JetStream {
    /// Opens the store directory, recovers every stream and consumer found there, and
    /// subscribes to the API and ack subjects. Must be called inside a tokio runtime.
    pub fn start(cfg: Config, outlet: Arc<dyn Outlet>) -> Result<Arc<JetStream>, String> {
        std::fs::create_dir_all(cfg.store_dir.join(&cfg.account).join("streams"))
            .map_err(|e| format!("can not create store directory: {e}"))?;
        let js = Arc::new(JetStream {
            limits: RwLock::new(cfg.limits.clone()),
            cfg,
            outlet,
            streams: RwLock::new(BTreeMap::new()),
            runtime: tokio::runtime::Handle::current(),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            subs: parking_lot::Mutex::new(Vec::new()),
        });
        for (config, created) in persist::load_streams(&js.account_dir())? {
            let name = config.name.clone();
            match Stream::open(&js, config, created, false) {
                Ok(s) => {
                    js.streams.write().insert(name, s);
                }
                Err(e) => {
                    return Err(format!(
                        "can not recover stream {name:?}: {}",
                        e.description
                    ))
                }
            }
        }
        let api_js = Arc::downgrade(&js);
        let api: Handler = Arc::new(move |m: InMsg| match api_js.upgrade() {
            Some(js) => api::dispatch(js, m),
            None => false,
        });
        let ack_js = Arc::downgrade(&js);
        // An ack for a consumer that does not exist or takes no acks reaches nobody (a
        // request gets no-responders), as nats-server subscribes per acking consumer.
        let ack: Handler = Arc::new(move |m: InMsg| match ack_js.upgrade() {
            Some(js) => js.process_ack(m),
            None => false,
        });
        let fc_js = Arc::downgrade(&js);
        let fc: Handler = Arc::new(move |m: InMsg| {
            if let Some(js) = fc_js.upgrade() {
                js.process_flow_control(&m.subject);
            }
            true
        });
        let ids = vec![
            js.outlet.subscribe("$JS.API.>", api)?,
            js.outlet.subscribe("$JS.ACK.>", ack)?,
            js.outlet.subscribe("$JS.FC.>", fc)?,
        ];
        *js.subs.lock() = ids;
        Ok(js)
    }

    /// The account's JetStream limits in force.
    pub fn limits(&self) -> AccountLimits {
        self.limits.read().clone()
    }

    /// Replaces the account's limits (an updated account JWT); existing streams stay.
    pub fn set_limits(&self, limits: AccountLimits) {
        *self.limits.write() = limits;
    }

    pub fn outlet(&self) -> &Arc<dyn Outlet> {
        &self.outlet
    }

    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// The account this JetStream belongs to.
    pub fn account(&self) -> &str {
        &self.cfg.account
    }

    /// `<store_dir>/jetstream/<account>`.
    pub fn account_dir(&self) -> PathBuf {
        self.cfg.store_dir.join(&self.cfg.account)
    }

    pub fn stream(&self, name: &str) -> Option<Arc<Stream>> {
        self.streams.read().get(name).cloned()
    }

    pub fn streams(&self) -> Vec<Arc<Stream>> {
        self.streams.read().values().cloned().collect()
    }

    pub(crate) fn insert_stream(&self, s: Arc<Stream>) {
        self.streams.write().insert(s.name.clone(), s);
    }

    pub(crate) fn remove_stream(&self, name: &str) -> Option<Arc<Stream>> {
        self.streams.write().remove(name)
    }

    /// Totals for account info and monitoring: (memory bytes, storage bytes, streams, consumers).
    pub fn usage(&self) -> (u64, u64, u64, u64) {
        let (mut mem, mut file, mut consumers) = (0, 0, 0);
        let streams = self.streams();
        for s in &streams {
            let st = s.store.fast_state();
            match s.config().storage {
                types::Storage::Memory => mem += st.bytes,
                types::Storage::File => file += st.bytes,
            }
            consumers += s.consumer_count() as u64;
        }
        (mem, file, streams.len() as u64, consumers)
    }

    /// Handles a message on `$JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<cseq>.<ts>.<pending>`.
    /// `$JS.FC.<stream>.<consumer>.<id>`: a push subscriber confirming flow control.
    fn process_flow_control(&self, subject: &str) {
        let mut t = subject.split('.');
        if let (Some(s), Some(c)) = (t.nth(2), t.next()) {
            if let Some(c) = self.stream(s).and_then(|s| s.consumer(c)) {
                c.flow_control_reply(subject);
            }
        }
    }

    /// Applies one ack; false when no acking consumer has the subject.
    fn process_ack(&self, m: InMsg) -> bool {
        let tokens: Vec<&str> = m.subject.split('.').collect();
        // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
        if tokens.len() < 4 {
            return false;
        }
        let (stream, consumer) = (tokens[2], tokens[3]);
        let Some(c) = self.stream(stream).and_then(|s| s.consumer(consumer)) else {
            return false;
        };
        if c.config.ack_policy == types::AckPolicy::None {
            return false;
        }
        let parse = |s: &str| s.parse::<u64>().ok();
        if let (9.., Some(dc), Some(sseq), Some(dseq)) = (
            tokens.len(),
            tokens.get(4).and_then(|t| parse(t)),
            tokens.get(5).and_then(|t| parse(t)),
            tokens.get(6).and_then(|t| parse(t)),
        ) {
            c.process_ack(dc, sseq, dseq, &m.payload, m.reply.as_deref());
        }
        true
    }

    /// Stops every stream and consumer (server shutdown); data stays on disk.
    pub fn shutdown(&self) {
        for id in self.subs.lock().drain(..) {
            self.outlet.unsubscribe(id);
        }
        let streams: Vec<Arc<Stream>> = std::mem::take(&mut *self.streams.write())
            .into_values()
            .collect();
        for s in streams {
            s.stop();
        }
    }

    pub(crate) fn count_api(&self, error: bool) {
        self.api_total.fetch_add(1, Ordering::Relaxed);
        if error {
            self.api_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}
