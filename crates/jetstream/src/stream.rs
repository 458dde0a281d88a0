//! A stream: its configuration, its message store, its consumers, and the ingest path that
//! turns a publish into a stored message and a PubAck.
//!
//! Ingest runs on the publisher's task. Checks that need the stream's recent history
//! (duplicate window, expected last sequence / subject sequence / msg id) run under the
//! ingest lock together with the store's `store_msg_async`, so sequence order is call
//! order and a check sees every earlier publish, stored or still in flight. The PubAck is
//! sent from the store's completion, after the record is durable.

mod batch;
mod counter;
mod schedule;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use natrium_store::{
    self as store, Discard, FileStoreOptions, MessageStore, StorageKind, StoreConfig, StoreError,
    StoredMsg,
};
use parking_lot::{Mutex, RwLock};

use crate::consumer::Consumer;
use crate::errors::{self as e, ApiError};
use crate::headers as h;
use crate::persist;
use crate::source::{self, Kind, Origin};
use crate::transform::{RepublishMsg, Transforms};
use crate::types::{Compression, DiscardPolicy, PubAckError, Retention, Storage, StreamConfig};
use crate::{Handler, InMsg, JetStream, SyncMode};

/// nats-server's default duplicate window.
pub const DEFAULT_DUPLICATE_WINDOW_NS: i64 = 120_000_000_000;

/// The queue group direct-get responders join (nats-server's `_sys_`).
const DIRECT_GET_GROUP: &str = "_sys_";
/// Most message ids remembered for duplicate detection, whatever the window.
const DEDUP_IDS_MAX: usize = 1 << 20;

/// Completion of a message a mirror or source appended: `Ok` once it is stored (or was a
/// duplicate), the reason otherwise.
pub(crate) type SourcedDone = Box<dyn FnOnce(Result<(), ApiError>) + Send>;

struct DedupEntry {
    /// 0 while the first publish with this id is still in flight.
    seq: u64,
    /// Replies of duplicates that arrived while the original was in flight.
    waiters: Vec<String>,
}

#[derive(Default)]
struct Ingest {
    /// The sequence the next append will get.
    next_seq: u64,
    dedup: HashMap<String, DedupEntry>,
    dedup_order: VecDeque<(i64, String)>,
    /// Subjects with appends in flight: (last sequence assigned, appends in flight).
    inflight_subjects: HashMap<String, (u64, u32)>,
    last_msg_id: Option<String>,
}

pub struct Stream {
    pub name: String,
    js: Weak<JetStream>,
    config: RwLock<Arc<StreamConfig>>,
    /// The config's compiled subject transform and republish, replaced with the config.
    transforms: RwLock<Arc<Transforms>>,
    pub store: Arc<dyn MessageStore>,
    pub created: i64,
    pub dir: PathBuf,
    ingest: Mutex<Ingest>,
    consumers: RwLock<BTreeMap<String, Arc<Consumer>>>,
    subs: Mutex<Vec<u64>>,
    expiry_wake: Arc<tokio::sync::Notify>,
    /// True while the expiry task sleeps until a known deadline; an append only has to
    /// wake it when it is not armed (or the message carries its own TTL).
    expiry_armed: Arc<AtomicBool>,
    stopped: AtomicBool,
    /// Woken after every append (and at stop) for the mirrors and sources reading this
    /// stream.
    appended: Arc<tokio::sync::Notify>,
    /// This stream's mirror or sources, each fed by its own task.
    origins: Mutex<Vec<Arc<Origin>>>,
    /// Sequences a delete marker was placed for, and when (not placed twice in a row).
    markers_pending: Mutex<HashMap<u64, std::time::Instant>>,
    /// Atomic batches being staged.
    batches: Mutex<batch::Batches>,
    /// Message schedules, and the wake-up of the task that fires them.
    schedules: Mutex<schedule::Schedules>,
    schedule_wake: Arc<tokio::sync::Notify>,
}

/// Fills in the defaults nats-server applies to a stream config.
pub fn normalize(cfg: &mut StreamConfig) {
    crate::versioning::strip(&mut cfg.metadata);
    crate::transform::normalize(cfg);
    if cfg.persist_mode == "default" {
        cfg.persist_mode.clear();
    }
    // Schedules need `sub` rollups (nats-server turns them on unless pedantic).
    if cfg.allow_msg_schedules && !cfg.allow_rollup_hdrs {
        cfg.allow_rollup_hdrs = true;
        cfg.deny_purge = false;
    }
    if cfg.subjects.is_empty() && cfg.mirror.is_none() && cfg.sources.is_empty() {
        cfg.subjects = vec![cfg.name.clone()];
    }
    if cfg.duplicate_window == 0 {
        cfg.duplicate_window = if cfg.max_age > 0 && cfg.max_age < DEFAULT_DUPLICATE_WINDOW_NS {
            cfg.max_age
        } else {
            DEFAULT_DUPLICATE_WINDOW_NS
        };
    }
    if cfg.num_replicas == 0 {
        cfg.num_replicas = 1;
    }
    // Delete markers are TTL'd rollups: nats-server turns both on (outside pedantic mode).
    if cfg.subject_delete_marker_ttl > 0 {
        cfg.allow_msg_ttl = true;
        cfg.allow_rollup_hdrs = true;
        cfg.deny_purge = false;
    }
    if cfg.max_msg_size == 0 {
        cfg.max_msg_size = -1;
    }
    for v in [
        &mut cfg.max_msgs,
        &mut cfg.max_bytes,
        &mut cfg.max_msgs_per_subject,
        &mut cfg.max_consumers,
    ] {
        if *v == 0 {
            *v = -1;
        }
    }
}

/// nats-server's default `sync_interval`, used by a stream with `persist_mode: async` when
/// the server syncs before every PubAck.
const ASYNC_PERSIST_SYNC: Duration = Duration::from_secs(120);

/// The file store's options under this server's sync policy and the stream's persist mode.
pub(crate) fn file_options(js: &JetStream, cfg: &StreamConfig) -> FileStoreOptions {
    let sync = match (js.cfg.sync, cfg.persist_mode.as_str()) {
        (SyncMode::Interval(d), _) => store::SyncPolicy::Interval(d),
        (SyncMode::Always, "async") => store::SyncPolicy::Interval(ASYNC_PERSIST_SYNC),
        (SyncMode::Always, _) => store::SyncPolicy::Always,
    };
    FileStoreOptions {
        sync,
        ..Default::default()
    }
}

/// Checks a (normalized) stream config on its own.
pub fn validate(cfg: &StreamConfig) -> Result<(), ApiError> {
    if cfg.name.len() > 255 {
        return Err(
            e::JS_STREAM_INVALID_CONFIG.with("stream name is too long, maximum allowed is 255")
        );
    }
    if !valid_name(&cfg.name) {
        return Err(e::JS_STREAM_INVALID_CONFIG
            .with("stream name is required and can not contain '.', '*', '>', '\\', '/'"));
    }
    if cfg.num_replicas > 1 {
        return Err(e::JS_STREAM_REPLICAS_NOT_SUPPORTED.err());
    }
    validate_origins(cfg)?;
    for s in &cfg.subjects {
        if !natrium_sublist::is_valid_subject(s) {
            return Err(e::JS_STREAM_INVALID_CONFIG.with("invalid subject"));
        }
    }
    Transforms::compile(cfg)?;
    if cfg.max_age < 0 || cfg.duplicate_window < 0 {
        return Err(
            e::JS_STREAM_INVALID_CONFIG.with("max age and duplicate window must be positive")
        );
    }
    if cfg.max_age > 0 && cfg.duplicate_window > cfg.max_age {
        return Err(
            e::JS_STREAM_INVALID_CONFIG.with("duplicates window can not be larger then max age")
        );
    }
    if cfg.subject_delete_marker_ttl > 0 && cfg.subject_delete_marker_ttl < 1_000_000_000 {
        return Err(
            e::JS_STREAM_INVALID_CONFIG.with("subject delete marker TTL must be at least 1 second")
        );
    }
    if cfg.subject_delete_marker_ttl < 0 {
        return Err(
            e::JS_STREAM_INVALID_CONFIG.with("subject delete marker TTL must not be negative")
        );
    }
    match cfg.persist_mode.as_str() {
        "" | "default" => {}
        "async" if cfg.storage != Storage::File => {
            return Err(e::JS_STREAM_INVALID_CONFIG
                .with("async persist mode is only supported on file storage"));
        }
        "async" if cfg.allow_atomic => {
            return Err(e::JS_STREAM_INVALID_CONFIG
                .with("async persist mode is not supported with atomic batch publish"));
        }
        "async" => {}
        other => {
            // nats-server refuses it while decoding the request.
            let quoted = format!("\"{other}\"");
            return Err(e::JS_INVALID_JSON.with(format!("can not unmarshal {quoted:?}")));
        }
    }
    if cfg.allow_batched {
        return Err(e::JS_STREAM_INVALID_CONFIG
            .with("fast batch publishing (allow_batched) is not supported by natrium-server yet"));
    }
    if cfg.allow_msg_counter {
        let refuse = |why: &str| Err(e::JS_STREAM_INVALID_CONFIG.with(why));
        if cfg.discard == DiscardPolicy::New {
            return refuse("counter stream cannot use discard new");
        }
        if cfg.allow_msg_ttl {
            return refuse("counter stream cannot use message TTLs");
        }
        if cfg.allow_msg_schedules {
            return refuse("counter stream cannot use message schedules");
        }
        if cfg.retention != Retention::Limits {
            return refuse("counter stream can only use limits retention");
        }
    }
    if cfg.discard_new_per_subject {
        if cfg.discard != DiscardPolicy::New {
            return Err(e::JS_STREAM_INVALID_CONFIG
                .with("discard new per subject requires discard new policy to be set"));
        }
        if cfg.max_msgs_per_subject <= 0 {
            return Err(e::JS_STREAM_INVALID_CONFIG
                .with("discard new per subject requires max msgs per subject > 0"));
        }
    }
    if cfg.allow_msg_schedules && cfg.discard == DiscardPolicy::New {
        return Err(e::JS_STREAM_INVALID_CONFIG.with("message scheduling cannot use discard new"));
    }
    Ok(())
}

/// The checks of a mirror or the sources that need no other stream, in nats-server's order.
fn validate_origins(cfg: &StreamConfig) -> Result<(), ApiError> {
    let unsupported = |what: &str| {
        Err(e::JS_STREAM_INVALID_CONFIG
            .with(format!("{what} is not supported by natrium-server yet")))
    };
    if let Some(m) = &cfg.mirror {
        if cfg.first_seq > 0 {
            return Err(e::JS_MIRROR_WITH_FIRST_SEQ.err());
        }
        if !cfg.subjects.is_empty() {
            return Err(e::JS_MIRROR_WITH_SUBJECTS.err());
        }
        if !cfg.sources.is_empty() {
            return Err(e::JS_MIRROR_WITH_SOURCES.err());
        }
        if cfg.allow_msg_counter {
            return Err(e::JS_MIRROR_WITH_COUNTERS.err());
        }
        if cfg.allow_atomic {
            return Err(e::JS_MIRROR_WITH_ATOMIC_PUBLISH.err());
        }
        if cfg.allow_msg_schedules {
            return Err(e::JS_MIRROR_WITH_MSG_SCHEDULES.err());
        }
        if cfg.allow_batched {
            return Err(e::JS_MIRROR_WITH_BATCH_PUBLISH.err());
        }
        if let Some(c) = &m.consumer {
            let bad = !valid_name(&c.name)
                || !natrium_sublist::is_valid_literal_subject(&c.deliver_subject)
                || m.opt_start_seq != 0
                || m.opt_start_time.is_some()
                || !m.filter_subject.is_empty();
            if bad {
                return Err(e::JS_MIRROR_DURABLE_CONSUMER_CFG_INVALID.err());
            }
            return unsupported("mirroring through a durable consumer");
        }
        if !m.filter_subject.is_empty() && !m.subject_transforms.is_empty() {
            return Err(e::JS_MIRROR_MULTIPLE_FILTERS_NOT_ALLOWED.err());
        }
        if cfg.subject_delete_marker_ttl > 0 {
            return Err(
                e::JS_STREAM_INVALID_CONFIG.with("subject delete markers forbidden on mirrors")
            );
        }
        source::compile(m, Kind::Mirror)?;
        if m.external.is_some() {
            return unsupported("an external mirror (another account or domain)");
        }
        if !valid_name(&m.name) {
            return Err(e::JS_MIRROR_INVALID_STREAM_NAME.err());
        }
    }
    if !cfg.sources.is_empty() && cfg.allow_msg_schedules {
        return Err(e::JS_SOURCE_WITH_MSG_SCHEDULES.err());
    }
    let mut inames = std::collections::HashSet::new();
    for src in &cfg.sources {
        if !valid_name(&src.name) {
            return Err(e::JS_SOURCE_INVALID_STREAM_NAME.err());
        }
        if !inames.insert(source::index_name(src)) {
            return Err(e::JS_SOURCE_DUPLICATE_DETECTED.err());
        }
        if !src.filter_subject.is_empty() && !src.subject_transforms.is_empty() {
            return Err(e::JS_SOURCE_MULTIPLE_FILTERS_NOT_ALLOWED.err());
        }
        source::compile(src, Kind::Source)?;
        if let Some(c) = &src.consumer {
            let bad = !valid_name(&c.name)
                || !natrium_sublist::is_valid_literal_subject(&c.deliver_subject)
                || src.opt_start_seq != 0
                || src.opt_start_time.is_some()
                || !src.filter_subject.is_empty();
            if bad {
                return Err(e::JS_SOURCE_DURABLE_CONSUMER_CFG_INVALID.err());
            }
            return unsupported("sourcing through a durable consumer");
        }
        if src.external.is_some() {
            return unsupported("an external source (another account or domain)");
        }
    }
    Ok(())
}

/// Stream and consumer names: non-empty, no whitespace, `.`, `*`, `>` or path separators.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
}

pub(crate) fn store_config(cfg: &StreamConfig) -> StoreConfig {
    StoreConfig {
        name: cfg.name.clone(),
        storage: match cfg.storage {
            Storage::File => StorageKind::File,
            Storage::Memory => StorageKind::Memory,
        },
        subjects: cfg.subjects.clone(),
        max_msgs: cfg.max_msgs,
        max_bytes: cfg.max_bytes,
        max_age: Duration::from_nanos(cfg.max_age.max(0) as u64),
        max_msgs_per_subject: cfg.max_msgs_per_subject,
        max_msg_size: cfg.max_msg_size,
        discard: match cfg.discard {
            DiscardPolicy::Old => Discard::Old,
            DiscardPolicy::New => Discard::New,
        },
        discard_new_per_subject: cfg.discard_new_per_subject,
        first_seq: cfg.first_seq,
        allow_msg_ttl: cfg.allow_msg_ttl,
        subject_delete_markers: cfg.subject_delete_marker_ttl > 0,
        compress: cfg.compression == Compression::S2,
    }
}

/// Maps a store error on append to the PubAck error nats-server sends.
pub fn store_error(err: &StoreError) -> ApiError {
    match err {
        StoreError::MaxMsgSize => e::JS_STREAM_MESSAGE_EXCEEDS_MAXIMUM.err(),
        StoreError::MsgTtlDisabled => e::JS_MESSAGE_TTL_DISABLED.err(),
        other => e::JS_STREAM_STORE_FAILED.with(other),
    }
}

/// Where a synchronous store call's completion went: the caller may still be inside the
/// store call holding the ingest lock, so a completion that arrives then is parked.
enum CallState {
    Calling,
    Returned,
    Done(Result<(u64, i64), StoreError>),
    /// The completion of an atomic batch append.
    Batch(Result<Vec<(u64, i64)>, StoreError>),
}

/// What the completion of one append needs to know.
struct AppendCtx {
    subject: String,
    reply: Option<String>,
    msg_id: Option<String>,
    rollup: Option<String>,
    /// The copy to publish once the append is durable.
    republish: Option<RepublishMsg>,
    /// Set for a message a source appended: told the outcome.
    sourced: Option<Arc<Mutex<Option<SourcedDone>>>>,
    /// A counter's new total, for the PubAck's `val`.
    counter: Option<String>,
    /// What storing the message means for the stream's schedules.
    schedule: Option<schedule::Note>,
}

impl Stream {
    /// Opens (or creates, with `is_new`) a stream's store and subscriptions.
    pub fn open(
        js: &Arc<JetStream>,
        cfg: StreamConfig,
        created: i64,
        is_new: bool,
    ) -> Result<Arc<Stream>, ApiError> {
        let dir = persist::stream_dir(&js.account_dir(), &cfg.name);
        let scfg = store_config(&cfg);
        let store: Arc<dyn MessageStore> = match cfg.storage {
            Storage::Memory => store::new_memory_store(scfg),
            Storage::File => store::open_file_store(&dir, scfg, file_options(js, &cfg))
                .map_err(|err| e::JS_STREAM_CREATE.with(err))?,
        };
        Self::assemble(js, cfg, created, is_new, store)
    }

    /// A stream over a store that already holds its messages (a restore): saves the config
    /// and starts it like a new stream.
    pub(crate) fn open_restored(
        js: &Arc<JetStream>,
        cfg: StreamConfig,
        created: i64,
        store: Arc<dyn MessageStore>,
    ) -> Result<Arc<Stream>, ApiError> {
        store
            .update_config(&store_config(&cfg))
            .map_err(|err| e::JS_STREAM_RESTORE.with(err))?;
        Self::assemble(js, cfg, created, true, store)
    }

    fn assemble(
        js: &Arc<JetStream>,
        cfg: StreamConfig,
        created: i64,
        is_new: bool,
        store: Arc<dyn MessageStore>,
    ) -> Result<Arc<Stream>, ApiError> {
        let dir = persist::stream_dir(&js.account_dir(), &cfg.name);
        let transforms = Arc::new(Transforms::compile(&cfg)?);
        if is_new {
            persist::save_stream(&js.account_dir(), &cfg, created)
                .map_err(|err| e::JS_STREAM_CREATE.with(err))?;
        }
        let next_seq = store.fast_state().last_seq + 1;
        let stream = Arc::new(Stream {
            name: cfg.name.clone(),
            js: Arc::downgrade(js),
            config: RwLock::new(Arc::new(cfg)),
            transforms: RwLock::new(transforms),
            store,
            created,
            dir,
            ingest: Mutex::new(Ingest {
                next_seq,
                ..Default::default()
            }),
            consumers: RwLock::new(BTreeMap::new()),
            subs: Mutex::new(Vec::new()),
            expiry_wake: Arc::new(tokio::sync::Notify::new()),
            expiry_armed: Arc::new(AtomicBool::new(false)),
            stopped: AtomicBool::new(false),
            appended: Arc::new(tokio::sync::Notify::new()),
            origins: Mutex::new(Vec::new()),
            markers_pending: Mutex::new(HashMap::new()),
            batches: Mutex::new(batch::Batches::default()),
            schedules: Mutex::new(schedule::Schedules::default()),
            schedule_wake: Arc::new(tokio::sync::Notify::new()),
        });
        stream.subscribe(js)?;
        stream.start_expiry(js);
        if !is_new {
            for (name, ccfg, ccreated) in
                persist::load_consumers(&stream.dir).map_err(|err| e::JS_STREAM_CREATE.with(err))?
            {
                let c = Consumer::open(&stream, js, &name, ccfg, ccreated, false)?;
                stream.consumers.write().insert(name, c);
            }
        }
        stream.start_origins(js)?;
        stream.start_schedules();
        Ok(stream)
    }

    fn subscribe(self: &Arc<Self>, js: &Arc<JetStream>) -> Result<(), ApiError> {
        let cfg = self.config();
        let mut ids = Vec::new();
        let weak = Arc::downgrade(self);
        let ingest: Handler = Arc::new(move |m: InMsg| match weak.upgrade() {
            Some(s) => {
                s.ingest(m);
                true
            }
            None => false,
        });
        for subj in &cfg.subjects {
            ids.push(
                js.outlet()
                    .subscribe(subj, ingest.clone())
                    .map_err(|err| e::JS_STREAM_CREATE.with(err))?,
            );
        }
        // Direct gets are served by one member of the `_sys_` queue group per stream name:
        // the stream itself (allow_direct) and its mirrors that have mirror_direct.
        let mut direct_for = Vec::new();
        if cfg.allow_direct {
            direct_for.push(self.name.clone());
        }
        if let Some(m) = cfg.mirror.as_ref().filter(|_| cfg.mirror_direct) {
            direct_for.push(m.name.clone());
        }
        for served in direct_for {
            let weak = Arc::downgrade(self);
            let name = served.clone();
            let direct: Handler = Arc::new(move |m: InMsg| match weak.upgrade() {
                Some(s) => {
                    crate::direct::direct_get(&s, &name, m);
                    true
                }
                None => false,
            });
            for subj in [
                format!("$JS.API.DIRECT.GET.{served}"),
                format!("$JS.API.DIRECT.GET.{served}.>"),
            ] {
                ids.push(
                    js.outlet()
                        .queue_subscribe(&subj, Some(DIRECT_GET_GROUP), direct.clone())
                        .map_err(|err| e::JS_STREAM_CREATE.with(err))?,
                );
            }
        }
        let old = std::mem::replace(&mut *self.subs.lock(), ids);
        for id in old {
            js.outlet().unsubscribe(id);
        }
        Ok(())
    }

    /// Runs max_age / TTL expiry: a task that sleeps until the store's next deadline.
    fn start_expiry(self: &Arc<Self>, js: &Arc<JetStream>) {
        let weak = Arc::downgrade(self);
        let wake = self.expiry_wake.clone();
        let armed = self.expiry_armed.clone();
        js.runtime().spawn(async move {
            loop {
                let next = match weak.upgrade() {
                    Some(s) if !s.stopped.load(Ordering::Relaxed) => s.store.next_expiry(),
                    _ => return,
                };
                armed.store(next.is_some(), Ordering::Relaxed);
                let sleep = next
                    .map(|t| {
                        t.duration_since(std::time::SystemTime::now())
                            .unwrap_or_default()
                    })
                    .unwrap_or(Duration::from_secs(3600));
                tokio::select! {
                    _ = tokio::time::sleep(sleep) => {}
                    _ = wake.notified() => continue,
                }
                let Some(s) = weak.upgrade() else { return };
                let spared = tokio::task::spawn_blocking(move || {
                    match s.store.expire(std::time::SystemTime::now()) {
                        Ok(out) if !out.spared.is_empty() => {
                            s.place_delete_markers(out.spared);
                            true
                        }
                        _ => false,
                    }
                })
                .await
                .unwrap_or(false);
                if spared {
                    // The spared messages stay due until their markers land.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
    }

    pub fn config(&self) -> Arc<StreamConfig> {
        self.config.read().clone()
    }

    /// Replaces each expired last-of-subject message with a delete marker (a `Nats-Rollup:
    /// sub` message that removes it, carrying `Nats-Marker-Reason` and the marker TTL), or
    /// removes it when it is itself a marker. Runs on a blocking thread.
    fn place_delete_markers(self: &Arc<Self>, spared: Vec<(u64, Arc<str>)>) {
        let cfg = self.config();
        let ttl = crate::consumer::go_duration(cfg.subject_delete_marker_ttl);
        let mut pending = self.markers_pending.lock();
        let now = std::time::Instant::now();
        pending.retain(|_, at| now.duration_since(*at) < Duration::from_secs(2));
        for (seq, subject) in spared {
            if pending.contains_key(&seq) {
                continue;
            }
            let Ok(m) = self.store.load_msg(seq) else {
                continue;
            };
            let is_marker = m.headers.as_deref().is_some_and(|b| {
                h::get(b, h::MARKER_REASON).is_some()
                    || h::get(b, "KV-Operation").is_some_and(|v| v == "PURGE")
            });
            if is_marker {
                let _ = self.store.remove_msg(seq);
                continue;
            }
            pending.insert(seq, now);
            let headers = h::build(
                None,
                &[
                    (h::MARKER_REASON, "MaxAge"),
                    (h::TTL, &ttl),
                    (h::ROLLUP, "sub"),
                ],
            );
            let marker = InMsg {
                origin: 0,
                subject: subject.to_string(),
                reply: None,
                headers: Some(headers),
                payload: Bytes::new(),
            };
            let _ = self.try_ingest(&cfg, marker, None, None, false);
        }
    }

    /// Woken after each append, for readers of this stream's store.
    pub(crate) fn appended(&self) -> Arc<tokio::sync::Notify> {
        self.appended.clone()
    }

    /// Starts a task for each mirror or source in the config that has none yet and stops
    /// the tasks of those the config no longer has.
    fn start_origins(self: &Arc<Self>, js: &Arc<JetStream>) -> Result<(), ApiError> {
        let cfg = self.config();
        let wanted: Vec<(Kind, &crate::types::StreamSource)> = match &cfg.mirror {
            Some(m) => vec![(Kind::Mirror, m)],
            None => cfg.sources.iter().map(|s| (Kind::Source, s)).collect(),
        };
        let mut origins = self.origins.lock();
        let (mut keep, mut fresh) = (Vec::new(), Vec::new());
        for (kind, src) in wanted {
            match origins.iter().position(|o| o.kind == kind && o.cfg == *src) {
                Some(i) => keep.push(origins.swap_remove(i)),
                None => fresh.push(Arc::new(source::compile(src, kind)?)),
            }
        }
        for old in origins.drain(..) {
            old.stop();
        }
        source::recover_positions(self, &fresh);
        for o in &fresh {
            source::spawn(self, o.clone(), js.runtime());
        }
        keep.extend(fresh);
        *origins = keep;
        Ok(())
    }

    /// The progress of this stream's mirror (first) or sources, for stream info.
    pub fn origin_infos(&self) -> Vec<(Kind, crate::types::StreamSourceInfo)> {
        let origins = self.origins.lock().clone();
        origins.iter().map(|o| (o.kind, o.info(self))).collect()
    }

    pub(crate) fn js(&self) -> Option<Arc<JetStream>> {
        self.js.upgrade()
    }

    pub fn consumer(&self, name: &str) -> Option<Arc<Consumer>> {
        self.consumers.read().get(name).cloned()
    }

    pub fn consumers(&self) -> Vec<Arc<Consumer>> {
        self.consumers.read().values().cloned().collect()
    }

    pub fn consumer_count(&self) -> usize {
        self.consumers.read().len()
    }

    pub(crate) fn insert_consumer(&self, c: Arc<Consumer>) {
        self.consumers.write().insert(c.name.clone(), c);
    }

    /// Takes a consumer out of the stream without removing its config and state (update).
    pub(crate) fn remove_consumer_keep_state(&self, name: &str) -> Option<Arc<Consumer>> {
        self.consumers.write().remove(name)
    }

    pub(crate) fn remove_consumer(&self, name: &str) -> Option<Arc<Consumer>> {
        let c = self.consumers.write().remove(name);
        if c.is_some() {
            persist::remove_consumer(&self.dir, name);
        }
        c
    }

    /// Replaces the configuration (already validated against the old one).
    pub(crate) fn update(
        self: &Arc<Self>,
        js: &Arc<JetStream>,
        cfg: StreamConfig,
    ) -> Result<(), ApiError> {
        let transforms = Arc::new(Transforms::compile(&cfg)?);
        self.store
            .update_config(&store_config(&cfg))
            .map_err(|err| e::JS_STREAM_UPDATE.with(err))?;
        persist::save_stream(&js.account_dir(), &cfg, self.created)
            .map_err(|err| e::JS_STREAM_UPDATE.with(err))?;
        let promoted = self.config().mirror.is_some() && cfg.mirror.is_none();
        let schedules_on = !self.config().allow_msg_schedules && cfg.allow_msg_schedules;
        *self.config.write() = Arc::new(cfg);
        *self.transforms.write() = transforms;
        if promoted {
            // A mirror promoted to a plain stream continues after what it mirrored.
            let mut ing = self.ingest.lock();
            ing.next_seq = ing.next_seq.max(self.store.fast_state().last_seq + 1);
        }
        self.start_origins(js)?;
        self.subscribe(js)?;
        if schedules_on {
            self.start_schedules();
        }
        self.expiry_wake.notify_one();
        self.notify_consumers();
        Ok(())
    }

    /// Stops subscriptions, consumers and the store (data stays on disk).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.batches.lock().clear();
        self.schedule_wake.notify_one();
        self.expiry_wake.notify_one();
        for o in self.origins.lock().drain(..) {
            o.stop();
        }
        self.appended.notify_waiters();
        if let Some(js) = self.js() {
            for id in self.subs.lock().drain(..) {
                js.outlet().unsubscribe(id);
            }
        }
        for c in self.consumers() {
            c.stop();
        }
        let _ = self.store.stop();
    }

    /// Stops the stream and removes its data.
    pub fn delete(&self) -> Result<(), StoreError> {
        self.stop();
        for c in std::mem::take(&mut *self.consumers.write()).into_values() {
            c.delete_state();
        }
        let r = self.store.delete();
        let _ = std::fs::remove_dir_all(&self.dir);
        r
    }

    pub fn notify_consumers(&self) {
        for c in self.consumers.read().values() {
            c.notify();
        }
        self.appended.notify_waiters();
    }

    /// A publish on one of the stream's subjects.
    pub fn ingest(self: &Arc<Self>, m: InMsg) {
        let cfg = self.config();
        let reply = if cfg.no_ack { None } else { m.reply.clone() };
        let hdr = m.headers.as_deref().unwrap_or_default();
        // A fast-batch publish (reply `<prefix>.<id>.<flow>.<gap>.<seq>.<op>.$FI`): no stream
        // here allows them.
        let fast_batch = m
            .reply
            .as_deref()
            .is_some_and(|r| r.len() > 4 && r.ends_with(".$FI"));
        let res = match batch::batch_id(hdr) {
            _ if fast_batch => Err(e::JS_BATCH_PUBLISH_DISABLED.err()),
            Some(id) => {
                let id = id.to_string();
                self.ingest_batch(&cfg, m, id, reply.clone())
            }
            None => self.try_ingest(&cfg, m, reply.clone(), None, false),
        };
        if let Err(err) = res {
            if let Some(r) = reply {
                self.send_ack_error(&r, err);
            }
        }
    }

    /// A message a source read from its origin: the normal checks and limits, but not the
    /// stream's own subject transform; `done` learns the outcome instead of a PubAck reply.
    pub(crate) fn ingest_sourced(
        self: &Arc<Self>,
        subject: String,
        headers: Option<Bytes>,
        payload: Bytes,
        done: SourcedDone,
    ) {
        let cfg = self.config();
        let m = InMsg {
            origin: 0,
            subject,
            reply: None,
            headers,
            payload,
        };
        let done = Arc::new(Mutex::new(Some(done)));
        let finish = done.clone();
        if let Err(err) = self.try_ingest(&cfg, m, None, Some(done), false) {
            if let Some(f) = finish.lock().take() {
                f(Err(err));
            }
        }
    }

    /// A message a mirror read from its origin, stored under the origin's sequence and
    /// timestamp. One already here (a re-read after a retry) completes at once.
    pub(crate) fn ingest_mirrored(
        self: &Arc<Self>,
        subject: String,
        m: StoredMsg,
        done: SourcedDone,
    ) {
        let cfg = self.config();
        let mut ing = self.ingest.lock();
        if m.seq <= self.store.fast_state().last_seq {
            drop(ing);
            done(Ok(()));
            return;
        }
        let hdr = m.headers.as_deref().unwrap_or_default();
        let ttl = match h::get(hdr, h::TTL) {
            Some(v) if cfg.allow_msg_ttl => parse_ttl(v).flatten(),
            _ => None,
        };
        let rollup = h::get(hdr, h::ROLLUP).map(str::to_string);
        ing.next_seq = ing.next_seq.max(m.seq + 1);
        let wake_expiry = ttl.is_some() || cfg.max_age > 0;
        let me = self.clone();
        self.store.store_raw_msg_async(
            &subject.clone(),
            m.headers,
            m.payload,
            m.seq,
            m.ts,
            ttl,
            Box::new(move |res| match res {
                Ok((seq, _)) if rollup.is_some() => {
                    // Not on the store's thread: the rollup calls back into the store.
                    let Some(js) = me.js() else { return };
                    let rt = js.runtime().clone();
                    rt.spawn_blocking(move || {
                        match rollup.as_deref() {
                            Some("sub") => {
                                let _ = me.store.purge_ex(&subject, seq, 0);
                            }
                            Some("all") => {
                                let _ = me.store.compact(seq);
                            }
                            _ => {}
                        }
                        me.notify_consumers();
                        done(Ok(()));
                    });
                }
                Ok(_) => {
                    me.notify_consumers();
                    done(Ok(()));
                }
                Err(err) => done(Err(store_error(&err))),
            }),
        );
        drop(ing);
        if wake_expiry {
            self.expiry_wake.notify_one();
        }
    }

    /// A copy a schedule fired: stored like a publish, without the client-only checks.
    fn ingest_scheduled(self: &Arc<Self>, m: InMsg) {
        let cfg = self.config();
        let _ = self.try_ingest(&cfg, m, None, None, true);
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// `scheduled`: a copy a schedule fired (see `schedule.rs`).
    fn try_ingest(
        self: &Arc<Self>,
        cfg: &StreamConfig,
        mut m: InMsg,
        reply: Option<String>,
        sourced: Option<Arc<Mutex<Option<SourcedDone>>>>,
        scheduled: bool,
    ) -> Result<(), ApiError> {
        let transforms = self.transforms.read().clone();
        if sourced.is_none() {
            if let Some(subject) = transforms.ingest_subject(&m.subject) {
                m.subject = subject;
            }
        }
        if cfg.sealed {
            return Err(e::JS_STREAM_SEALED.err());
        }
        let size = m.payload.len() + m.headers.as_ref().map_or(0, |h| h.len());
        if cfg.max_msg_size > 0 && size > cfg.max_msg_size as usize {
            return Err(e::JS_STREAM_MESSAGE_EXCEEDS_MAXIMUM.err());
        }
        let schedule = if scheduled {
            let hdr = m.headers.as_deref().unwrap_or_default();
            cfg.allow_msg_schedules.then(|| schedule::note_of_copy(hdr))
        } else if sourced.is_some() {
            None
        } else {
            let hdr = m.headers.as_deref().unwrap_or_default();
            let (replaced, note) = schedule::check(cfg, &*self.store, &m.subject, hdr)?;
            if replaced.is_some() {
                m.headers = replaced;
            }
            note
        };
        let hdr = m.headers.as_deref().unwrap_or_default();
        let get = |name: &str| {
            if hdr.is_empty() {
                None
            } else {
                h::get(hdr, name)
            }
        };
        let incr = counter::increment(cfg, hdr, m.payload.len(), sourced.is_some())?;
        if let Some(want) = get(h::EXPECTED_STREAM) {
            if want != self.name {
                return Err(e::JS_STREAM_NOT_MATCH.err());
            }
        }
        let rollup = rollup_of(cfg, get(h::ROLLUP))?;
        let (ttl, ttl_headers) = ttl_of(cfg, hdr, get(h::TTL))?;
        let msg_id = get(h::MSG_ID).map(str::to_string);
        self.check_storage_limits(cfg, m.subject.len() + size)?;
        let mut ing = self.ingest.lock();
        if let Some(id) = &msg_id {
            prune_dedup(&mut ing, cfg.duplicate_window);
            if let Some(entry) = ing.dedup.get_mut(id) {
                match (entry.seq, reply) {
                    (0, Some(r)) => entry.waiters.push(r),
                    (seq, Some(r)) => {
                        drop(ing);
                        self.send_ack(&r, seq, true);
                    }
                    (_, None) => {}
                }
                // A duplicate a source read is done: the stream has the message.
                if let Some(f) = sourced.and_then(|d| d.lock().take()) {
                    f(Ok(()));
                }
                return Ok(());
            }
        }
        if let Some(v) = get(h::EXPECTED_LAST_SEQ) {
            let want: u64 = v
                .parse()
                .map_err(|_| e::JS_STREAM_WRONG_LAST_SEQUENCE.with(v))?;
            let last = ing.next_seq.saturating_sub(1);
            if want != last {
                return Err(e::JS_STREAM_WRONG_LAST_SEQUENCE.with(last));
            }
        }
        if let Some(v) = get(h::EXPECTED_LAST_SUBJ_SEQ) {
            let want: u64 = v
                .parse()
                .map_err(|_| e::JS_STREAM_WRONG_LAST_SEQUENCE.with(v))?;
            let subj = get(h::EXPECTED_LAST_SUBJ_SEQ_SUBJ).unwrap_or(&m.subject);
            let last = self.last_subject_seq(&ing, subj)?;
            if want != last {
                return Err(e::JS_STREAM_WRONG_LAST_SEQUENCE.with(last));
            }
        }
        if let Some(v) = get(h::EXPECTED_LAST_MSG_ID) {
            let last = ing.last_msg_id.clone().unwrap_or_default();
            if v != last {
                return Err(e::JS_STREAM_WRONG_LAST_MSG_ID.with(last));
            }
        }
        let counter = match incr {
            Some(incr) => {
                let c = counter::apply(
                    &*self.store,
                    &m.subject,
                    m.headers.as_ref(),
                    &m.payload,
                    incr,
                    None,
                )?;
                m.headers = Some(c.headers);
                m.payload = c.payload;
                Some(c.value)
            }
            None => None,
        };
        let republish = match transforms.republish.as_ref() {
            Some(rp) => match rp.destination(&m.subject) {
                Some(dest) => Some(RepublishMsg {
                    dest,
                    last_seq: self.last_subject_seq(&ing, &m.subject)?,
                    headers: ttl_headers.clone().or_else(|| m.headers.clone()),
                    payload: m.payload.clone(),
                    headers_only: rp.headers_only(),
                }),
                None => None,
            },
            None => None,
        };
        let seq = ing.next_seq;
        if let Some(id) = &msg_id {
            if ing.dedup.len() >= DEDUP_IDS_MAX {
                if let Some((_, old)) = ing.dedup_order.pop_front() {
                    ing.dedup.remove(&old);
                }
            }
            ing.dedup.insert(
                id.clone(),
                DedupEntry {
                    seq: 0,
                    waiters: Vec::new(),
                },
            );
            ing.dedup_order.push_back((store::now_nanos(), id.clone()));
        }
        let inflight = ing
            .inflight_subjects
            .entry(m.subject.clone())
            .or_insert((0, 0));
        *inflight = (seq, inflight.1 + 1);
        let wake_expiry =
            ttl.is_some() || (cfg.max_age > 0 && !self.expiry_armed.load(Ordering::Relaxed));
        let ctx = Arc::new(Mutex::new(Some(AppendCtx {
            subject: m.subject.clone(),
            reply: if cfg.no_ack { None } else { m.reply.clone() },
            msg_id: msg_id.clone(),
            rollup,
            republish,
            sourced,
            counter,
            schedule,
        })));
        let state = Arc::new(Mutex::new(CallState::Calling));
        let (state2, ctx2, me) = (state.clone(), ctx.clone(), self.clone());
        let done = Box::new(move |res: Result<(u64, i64), StoreError>| {
            let mut st = state2.lock();
            if matches!(*st, CallState::Calling) {
                *st = CallState::Done(res);
                return;
            }
            drop(st);
            if let Some(ctx) = ctx2.lock().take() {
                me.complete(ctx, res);
            }
        });
        self.store
            .store_msg_async(&m.subject, ttl_headers.or(m.headers), m.payload, ttl, done);
        if wake_expiry {
            // The message is in the store's index now: the expiry task sees its deadline.
            self.expiry_wake.notify_one();
        }
        // A completion during the call (memory store, or a rejection) is parked; anything
        // later goes straight to `complete` on the store's thread.
        let parked = std::mem::replace(&mut *state.lock(), CallState::Returned);
        let rejected = matches!(parked, CallState::Done(Err(_)));
        if !rejected {
            ing.next_seq += 1;
            if msg_id.is_some() {
                ing.last_msg_id = msg_id;
            }
        }
        drop(ing);
        if let CallState::Done(res) = parked {
            if let Some(ctx) = ctx.lock().take() {
                self.complete(ctx, res);
            }
        }
        Ok(())
    }

    /// Refuses a message of `size` bytes that would take the account past its JetStream
    /// storage limit for this stream's storage type (10002), or that arrives when the
    /// server's `max_memory_store` / `max_file_store` is already used up (10023). Only
    /// limited accounts pay for the usage sum. The server limit is checked against this
    /// account's usage (a lower bound of the server's).
    fn check_storage_limits(&self, cfg: &StreamConfig, size: usize) -> Result<(), ApiError> {
        let Some(js) = self.js() else { return Ok(()) };
        let lim = js.limits();
        let (account, server) = match cfg.storage {
            Storage::Memory => (lim.max_memory, js.cfg.max_memory),
            Storage::File => (lim.max_storage, js.cfg.max_store),
        };
        if account < 0 && server <= 0 {
            return Ok(());
        }
        let (mem, file, _, _) = js.usage();
        let used = match cfg.storage {
            Storage::Memory => mem,
            Storage::File => file,
        } as i64;
        if server > 0 && used > server {
            return Err(e::JS_INSUFFICIENT_RESOURCES.err());
        }
        if account >= 0 && used + size as i64 > account {
            return Err(e::JS_ACCOUNT_RESOURCES_EXCEEDED.err());
        }
        Ok(())
    }

    /// The last sequence stored (or in flight) under the literal `subject`; 0 when none.
    fn last_subject_seq(&self, ing: &Ingest, subject: &str) -> Result<u64, ApiError> {
        if let Some((seq, _)) = ing.inflight_subjects.get(subject) {
            return Ok(*seq);
        }
        match self.store.load_last_msg(subject) {
            Ok(msg) => Ok(msg.seq),
            Err(StoreError::NotFound) | Err(StoreError::Eof) => Ok(0),
            Err(err) => Err(e::JS_STREAM_STORE_FAILED.with(err)),
        }
    }

    /// Finishes one append: dedup bookkeeping, rollup, PubAck, consumer wake-up.
    fn complete(&self, ctx: AppendCtx, res: Result<(u64, i64), StoreError>) {
        let waiters = {
            let mut ing = self.ingest.lock();
            if let Some((_, n)) = ing.inflight_subjects.get_mut(&ctx.subject) {
                *n -= 1;
                if *n == 0 {
                    ing.inflight_subjects.remove(&ctx.subject);
                }
            }
            match (&res, &ctx.msg_id) {
                (Ok((seq, _)), Some(id)) => ing
                    .dedup
                    .get_mut(id)
                    .map(|d| {
                        d.seq = *seq;
                        std::mem::take(&mut d.waiters)
                    })
                    .unwrap_or_default(),
                (Err(_), Some(id)) => {
                    ing.dedup.remove(id);
                    Vec::new()
                }
                _ => Vec::new(),
            }
        };
        match res {
            Ok((seq, ts)) => {
                let retention = self.config().retention;
                let drop_now = retention == Retention::Interest && self.consumer_count() == 0;
                let purges = ctx.schedule.as_ref().is_some_and(schedule::Note::purges);
                if ctx.rollup.is_none() && !drop_now && !purges {
                    self.acknowledge(&ctx, seq, ts, waiters);
                    return;
                }
                // This runs on the store's writer thread, which must not call back into the
                // store: rollups and removals go to a blocking thread, then the ack.
                let Some(js) = self.js() else { return };
                let Some(me) = js.stream(&self.name) else {
                    return;
                };
                js.runtime().spawn_blocking(move || {
                    match ctx.rollup.as_deref() {
                        Some("sub") => {
                            let _ = me.store.purge_ex(&ctx.subject, seq, 0);
                        }
                        Some("all") => {
                            let _ = me.store.compact(seq);
                        }
                        _ => {}
                    }
                    if drop_now {
                        // Interest retention with nobody interested keeps nothing.
                        let _ = me.store.remove_msg(seq);
                    }
                    me.acknowledge(&ctx, seq, ts, waiters);
                });
            }
            Err(err) => {
                if let Some(r) = &ctx.reply {
                    self.send_ack_error(r, store_error(&err));
                }
                if let Some(f) = ctx.sourced.as_ref().and_then(|d| d.lock().take()) {
                    f(Err(store_error(&err)));
                }
            }
        }
    }

    /// Republishes the message (when configured), sends the PubAck (and those of duplicates
    /// waiting on it) and wakes the consumers. The copy goes first, as in nats-server.
    fn acknowledge(&self, ctx: &AppendCtx, seq: u64, ts: i64, waiters: Vec<String>) {
        if let Some(note) = &ctx.schedule {
            self.schedule_stored(note, &ctx.subject, seq, ts);
        }
        if let Some(rp) = &ctx.republish {
            if let Some(js) = self.js() {
                let (hdr, payload) = rp.build(&self.name, &ctx.subject, seq, ts);
                js.outlet().publish(&rp.dest, None, Some(hdr), payload);
            }
        }
        if let Some(r) = &ctx.reply {
            match &ctx.counter {
                Some(val) => self.send_ack_with(r, seq, "val", val),
                None => self.send_ack(r, seq, false),
            }
        }
        for w in waiters {
            self.send_ack(&w, seq, true);
        }
        if let Some(f) = ctx.sourced.as_ref().and_then(|d| d.lock().take()) {
            f(Ok(()));
        }
        self.notify_consumers();
    }

    fn send_ack(&self, reply: &str, seq: u64, duplicate: bool) {
        let Some(js) = self.js() else { return };
        let body = pub_ack_json(&self.name, js.cfg.domain.as_deref(), seq, duplicate);
        js.outlet().publish(reply, None, None, Bytes::from(body));
    }

    /// A PubAck with one more string field (`val` of a counter).
    fn send_ack_with(&self, reply: &str, seq: u64, field: &str, value: &str) {
        let Some(js) = self.js() else { return };
        let mut body = pub_ack_json(&self.name, js.cfg.domain.as_deref(), seq, false);
        body.pop();
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        body.extend_from_slice(format!(",{}:{}}}", q(field), q(value)).as_bytes());
        js.outlet().publish(reply, None, None, Bytes::from(body));
    }

    fn send_ack_error(&self, reply: &str, err: ApiError) {
        let Some(js) = self.js() else { return };
        let body = serde_json::to_vec(&PubAckError {
            error: err,
            stream: self.name.clone(),
            seq: 0,
        })
        .unwrap_or_default();
        js.outlet().publish(reply, None, None, Bytes::from(body));
    }
}

/// A PubAck exactly as nats-server writes it: `{"stream":"S","seq":1}`, the domain before
/// the sequence, and `"duplicate": true` (with its space) for a duplicate.
pub fn pub_ack_json(stream: &str, domain: Option<&str>, seq: u64, duplicate: bool) -> Vec<u8> {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut out = format!("{{\"stream\":{}", q(stream));
    if let Some(d) = domain {
        out.push_str(&format!(",\"domain\":{}", q(d)));
    }
    out.push_str(&format!(",\"seq\":{seq}"));
    if duplicate {
        out.push_str(",\"duplicate\": true");
    }
    out.push('}');
    out.into_bytes()
}

/// `Nats-Rollup`: none, or `sub` / `all` when the stream allows rollups.
pub(crate) fn rollup_of(cfg: &StreamConfig, v: Option<&str>) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(None),
        Some(_) if !cfg.allow_rollup_hdrs => {
            Err(e::JS_STREAM_ROLLUP_FAILED.with("rollup not permitted"))
        }
        Some(r @ ("sub" | "all")) => Ok(Some(r.to_string())),
        Some(r) => Err(e::JS_STREAM_ROLLUP_FAILED.with(format!("rollup value invalid: {r}"))),
    }
}

/// `Nats-TTL` (`v`, from the header block `hdr`): the TTL to store with, and the headers to
/// store instead when delete markers raise it. With delete markers a TTL is at least the
/// marker TTL (so a marker is never missed), unless a subject only ever holds one message;
/// the header says what applies.
pub(crate) fn ttl_of(
    cfg: &StreamConfig,
    hdr: &[u8],
    v: Option<&str>,
) -> Result<(Option<Duration>, Option<Bytes>), ApiError> {
    let ttl = match v {
        None => return Ok((None, None)),
        Some(_) if !cfg.allow_msg_ttl => return Err(e::JS_MESSAGE_TTL_DISABLED.err()),
        Some(v) => parse_ttl(v).ok_or_else(|| e::JS_MESSAGE_TTL_INVALID.err())?,
    };
    let marker_ttl = Duration::from_nanos(cfg.subject_delete_marker_ttl.max(0) as u64);
    match ttl {
        Some(t)
            if cfg.subject_delete_marker_ttl > 0
                && cfg.max_msgs_per_subject != 1
                && t < marker_ttl =>
        {
            let secs = marker_ttl.as_secs().to_string();
            let kept = h::remove(hdr, |k| k.eq_ignore_ascii_case(h::TTL));
            Ok((
                Some(marker_ttl),
                Some(h::append(kept.as_deref(), &[(h::TTL, &secs)])),
            ))
        }
        ttl => Ok((ttl, None)),
    }
}

fn prune_dedup(ing: &mut Ingest, window_ns: i64) {
    let now = store::now_nanos();
    while let Some((ts, _)) = ing.dedup_order.front() {
        if now - ts <= window_ns {
            break;
        }
        if let Some((_, id)) = ing.dedup_order.pop_front() {
            if ing.dedup.get(&id).is_some_and(|d| d.seq != 0) {
                ing.dedup.remove(&id);
            }
        }
    }
}

/// `Nats-TTL`: a Go duration (`10s`), a number of seconds, or `never`.
fn parse_ttl(v: &str) -> Option<Option<Duration>> {
    if v.eq_ignore_ascii_case("never") {
        return Some(None);
    }
    if let Ok(secs) = v.parse::<u64>() {
        return (secs > 0).then_some(Some(Duration::from_secs(secs)));
    }
    let (num, unit) = v.split_at(v.find(|c: char| c.is_alphabetic())?);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs >= 1.0).then(|| Some(Duration::from_secs_f64(secs)))
}
