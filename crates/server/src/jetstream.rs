//! Starting JetStream from the server's options, with nats-server's startup log lines
//! (tools wait for `Store Directory: "..."`).

use std::path::PathBuf;
use std::sync::Arc;

use std::sync::atomic::Ordering;

use natrium_config::{Options, SyncPolicy};
use natrium_jetstream::{AccountLimits, Config, JetStream, SyncMode};

use crate::account::GLOBAL_ACCOUNT;

use crate::monitor::jetstream::{
    AccountMetrics, ApiStats, ConsumerMetrics, HealthzError, HealthzOptions, JetStreamMonitor,
    JetStreamStats, JsMetrics, JszOptions, JszReport, StreamMetrics,
};

use crate::outlet::ServerOutlet;
use crate::server::Server;
use crate::{error, info, warn};

/// `<store_dir>/jetstream`; without a store dir, nats-server uses `<tmp>/nats`.
pub fn store_dir(opts: &Options) -> PathBuf {
    let base = opts
        .store_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("nats"));
    base.join("jetstream")
}

fn human_bytes(n: i64) -> String {
    if n < 0 {
        return "unlimited".into();
    }
    let n = n as f64;
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.2} {}", UNITS[u])
}

/// Starts JetStream for every account that has it (the global account when no accounts
/// are configured; otherwise the accounts with a `jetstream` key enabling it, as
/// nats-server does) and answers `$JS.API.>` in the other accounts with "JetStream not
/// enabled for account". Must run inside the tokio runtime, before `Server is ready`.
pub fn start(server: &Arc<Server>, opts: &Options) -> Result<(), String> {
    let started = std::time::Instant::now();
    info!("Starting JetStream");
    let dir = store_dir(opts);
    let sync = match opts.sync_interval {
        SyncPolicy::Always => SyncMode::Always,
        SyncPolicy::Interval(d) => SyncMode::Interval(d),
    };
    info!("---------------- JETSTREAM ----------------");
    info!("  Strict:          {}", opts.jetstream_strict);
    info!(
        "  Max Memory:      {}",
        human_bytes(opts.jetstream_max_memory)
    );
    info!(
        "  Max Storage:     {}",
        human_bytes(opts.jetstream_max_store)
    );
    info!("  Store Directory: \"{}\"", dir.display());
    match sync {
        SyncMode::Always => info!("  Sync:            always (fsync before acknowledging)"),
        SyncMode::Interval(d) => {
            warn!("  Sync:            every {d:?}: acknowledged messages can be lost on power failure")
        }
    }
    if let Some(d) = &opts.jetstream_domain {
        info!("  Domain:          {d}");
    }
    info!("-------------------------------------------");
    let mut all = Vec::new();
    for acc in server.accounts() {
        let enabled = if opts.accounts.is_empty() {
            acc.name == GLOBAL_ACCOUNT
        } else {
            acc.jetstream_enabled()
        };
        if let Some(js) = enable_account(server, &acc, enabled, opts)? {
            all.push(js);
        }
    }
    info!("Took {:?} to start JetStream", started.elapsed());
    let monitor = Arc::new(JsMonitor::new(all, &dir, opts));
    let _ = server.js_monitor.set(monitor.clone());
    server.monitor.set_jetstream(monitor);
    let _ = server.jetstream_enabled.set(());
    Ok(())
}

/// Starts `acc`'s JetStream when `enabled` (recovering its streams), or makes its API
/// answer "not enabled for account". Also used for accounts pushed after start.
/// nats-server's JetStream domain mappings: `$JS.<domain>.API.…` reaches this server's
/// JetStream API (and `$KV`/`$OBJ` through their domain-prefixed forms) from the account.
fn domain_mappings(domain: &str) -> Vec<natrium_sublist::WeightedMapping> {
    [
        ("INFO", "$JS.API.INFO"),
        ("STREAM.>", "$JS.API.STREAM.>"),
        ("CONSUMER.>", "$JS.API.CONSUMER.>"),
        ("DIRECT.>", "$JS.API.DIRECT.>"),
        ("META.>", "$JS.API.META.>"),
        ("SERVER.>", "$JS.API.SERVER.>"),
        ("ACCOUNT.>", "$JS.API.ACCOUNT.>"),
        ("$KV.>", "$KV.>"),
        ("$OBJ.>", "$OBJ.>"),
    ]
    .into_iter()
    .filter_map(|(suffix, to)| {
        let m = natrium_config::Mapping {
            source: format!("$JS.{domain}.API.{suffix}"),
            destinations: vec![natrium_config::MapDestination {
                subject: to.to_string(),
                weight: 100,
                cluster: None,
            }],
        };
        match m.compile() {
            Ok(w) => Some(w),
            Err(e) => {
                error!("Error adding JetStream domain mapping: {e}");
                None
            }
        }
    })
    .collect()
}

pub fn enable_account(
    server: &Arc<Server>,
    acc: &Arc<crate::account::Account>,
    enabled: bool,
    opts: &Options,
) -> Result<Option<Arc<JetStream>>, String> {
    if !enabled {
        if server.system_account.as_deref() != Some(acc.name.as_str()) {
            refuse_api(server, acc)?;
        }
        return Ok(None);
    }
    let limits = acc
        .jetstream_limits
        .as_ref()
        .map(account_limits)
        .unwrap_or_default();
    if let Some(d) = &opts.jetstream_domain {
        acc.add_mappings(domain_mappings(d));
    }
    let cfg = Config {
        store_dir: store_dir(opts),
        account: acc.name.clone(),
        limits,
        max_memory: opts.jetstream_max_memory,
        max_store: opts.jetstream_max_store,
        sync: match opts.sync_interval {
            SyncPolicy::Always => SyncMode::Always,
            SyncPolicy::Interval(d) => SyncMode::Interval(d),
        },
        domain: opts.jetstream_domain.clone(),
        server_name: server.name.clone(),
        server_version: crate::server_info::NATS_VERSION.to_string(),
        max_request_batch: i64::from(opts.jetstream_request_batch_max),
    };
    let outlet = Arc::new(ServerOutlet::new(server, acc.clone()));
    let js = JetStream::start(cfg, outlet).map_err(|e| format!("account {}: {e}", acc.name))?;
    let n = js.streams().len();
    if n > 0 {
        info!("  Recovered {n} stream(s) in account {}", acc.name);
    }
    let _ = acc.jetstream.set(js.clone());
    if let Some(m) = server.js_monitor.get() {
        m.add(js.clone());
    }
    Ok(Some(js))
}

/// Answers every JetStream API request in `acc` with nats-server's 503 "JetStream not
/// enabled for account".
fn refuse_api(server: &Arc<Server>, acc: &Arc<crate::account::Account>) -> Result<(), String> {
    use natrium_jetstream::Outlet;
    let outlet = Arc::new(ServerOutlet::new(server, acc.clone()));
    let weak = Arc::downgrade(&outlet);
    let handler: natrium_jetstream::Handler = Arc::new(move |m: natrium_jetstream::InMsg| {
        use natrium_jetstream::api::{not_enabled, NotEnabled};
        let (Some(outlet), Some(reply)) = (weak.upgrade(), m.reply.as_deref()) else {
            return true;
        };
        match not_enabled(&m.subject) {
            NotEnabled::Decline => false,
            NotEnabled::Silent => true,
            NotEnabled::Reply(body) => {
                outlet.publish(reply, None, None, bytes::Bytes::from(body));
                true
            }
        }
    });
    outlet.subscribe("$JS.API.>", handler)?;
    // The outlet lives as long as the subscription it owns.
    std::mem::forget(outlet);
    Ok(())
}

/// JetStream's figures for `/jsz`, `/varz` and `/healthz`, over every account's JetStream.
pub struct JsMonitor {
    all: parking_lot::RwLock<Vec<Arc<JetStream>>>,
    store_dir: std::path::PathBuf,
    domain: Option<String>,
    max_memory: i64,
    max_storage: i64,
    sync: SyncMode,
    strict: bool,
}

impl JsMonitor {
    pub fn new(all: Vec<Arc<JetStream>>, store_dir: &std::path::Path, opts: &Options) -> JsMonitor {
        JsMonitor {
            max_memory: resolve_limit(opts.jetstream_max_memory, system_memory()),
            max_storage: resolve_limit(opts.jetstream_max_store, disk_space(store_dir)),
            sync: match opts.sync_interval {
                SyncPolicy::Always => SyncMode::Always,
                SyncPolicy::Interval(d) => SyncMode::Interval(d),
            },
            strict: opts.jetstream_strict,
            store_dir: store_dir.to_path_buf(),
            domain: opts.jetstream_domain.clone(),
            all: parking_lot::RwLock::new(all),
        }
    }

    /// Every account's JetStream.
    fn all(&self) -> Vec<Arc<JetStream>> {
        self.all.read().clone()
    }

    /// Adds an account's JetStream started after the server.
    pub fn add(&self, js: Arc<JetStream>) {
        self.all.write().push(js);
    }

    fn config_json(&self) -> serde_json::Value {
        let mut c = serde_json::json!({
            "max_memory": self.max_memory,
            "max_storage": self.max_storage,
            "store_dir": self.store_dir.display().to_string(),
        });
        if let Some(o) = c.as_object_mut() {
            match self.sync {
                SyncMode::Always => {
                    o.insert("sync_interval".into(), 0.into());
                    o.insert("sync_always".into(), true.into());
                }
                SyncMode::Interval(d) => {
                    o.insert("sync_interval".into(), (d.as_nanos() as u64).into());
                }
            }
            if let Some(d) = &self.domain {
                o.insert("domain".into(), d.clone().into());
            }
            o.insert("strict".into(), self.strict.into());
        }
        c
    }

    fn stats(&self) -> JetStreamStats {
        self.all().iter().map(|js| account_stats(js)).fold(
            JetStreamStats {
                accounts: self.all().len(),
                ..account_stats_zero()
            },
            |mut t, a| {
                t.memory += a.memory;
                t.storage += a.storage;
                t.api.total += a.api.total;
                t.api.errors += a.api.errors;
                t
            },
        )
    }
}

fn account_stats_zero() -> JetStreamStats {
    JetStreamStats {
        memory: 0,
        storage: 0,
        reserved_memory: 0,
        reserved_storage: 0,
        accounts: 0,
        ha_assets: 0,
        api: ApiStats {
            level: 1,
            total: 0,
            errors: 0,
        },
    }
}

fn account_stats(js: &JetStream) -> JetStreamStats {
    let (mem, file, _, _) = js.usage();
    JetStreamStats {
        memory: mem,
        storage: file,
        accounts: 1,
        api: ApiStats {
            level: 1,
            total: js.api_total.load(Ordering::Relaxed),
            errors: js.api_errors.load(Ordering::Relaxed),
        },
        ..account_stats_zero()
    }
}

/// nats-server sizes unset limits at 75% of what the machine has.
fn resolve_limit(configured: i64, available: u64) -> i64 {
    if configured >= 0 {
        configured
    } else {
        (available / 4 * 3) as i64
    }
}

fn system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn disk_space(dir: &std::path::Path) -> u64 {
    nix::sys::statvfs::statvfs(dir)
        .map(|s| s.blocks_available() * s.fragment_size())
        .unwrap_or(0)
}

impl JetStreamMonitor for JsMonitor {
    fn jsz(&self, opts: &JszOptions) -> Result<JszReport, String> {
        let (mut messages, mut bytes, mut consumers, mut nstreams) = (0, 0, 0, 0);
        let mut account_details = Vec::new();
        for js in &self.all() {
            let streams = js.streams();
            nstreams += streams.len();
            let mut details = Vec::new();
            for s in &streams {
                let st = s.store.fast_state();
                messages += st.msgs;
                bytes += st.bytes;
                consumers += s.consumer_count();
                if opts.streams {
                    details.push(stream_detail(js, s, opts));
                }
            }
            let wanted = opts.account.is_empty() || opts.account == js.cfg.account;
            if wanted && (opts.accounts || opts.streams || !opts.account.is_empty()) {
                let a = account_stats(js);
                account_details.push(serde_json::json!({
                    "name": js.cfg.account, "id": js.cfg.account,
                    "memory": a.memory, "storage": a.storage,
                    "reserved_memory": 0, "reserved_storage": 0,
                    "accounts": 1, "ha_assets": 0,
                    "api": { "level": a.api.level, "total": a.api.total, "errors": a.api.errors },
                    "stream_detail": details,
                }));
            }
        }
        Ok(JszReport {
            stats: self.stats(),
            config: self.config_json(),
            limits: Some(serde_json::json!({ "default_max_consumers": 1000 })),
            streams: nstreams,
            consumers,
            messages,
            bytes,
            meta_cluster: None,
            account_details,
            total: self.all().len(),
        })
    }

    fn health(&self, opts: &HealthzOptions) -> Vec<HealthzError> {
        let mut errors = Vec::new();
        let wanted =
            |js: &&Arc<JetStream>| opts.account.is_empty() || opts.account == js.cfg.account;
        if !opts.account.is_empty() && !self.all().iter().any(|js| js.cfg.account == opts.account) {
            let mut e = HealthzError::new(
                "ACCOUNT",
                format!("JetStream account '{}' could not be resolved", opts.account),
            );
            e.account = opts.account.clone();
            errors.push(e);
            return errors;
        }
        for js in self.all().iter().filter(wanted) {
            let acc = &js.cfg.account;
            for s in js.streams() {
                if !opts.stream.is_empty() && opts.stream != s.name {
                    continue;
                }
                let st = s.store.fast_state();
                let problem = st.failed.clone().or_else(|| {
                    (!st.corrupt_ranges.is_empty())
                        .then(|| format!("corrupt data in sequence ranges {:?}", st.corrupt_ranges))
                });
                if let Some(reason) = problem {
                    let mut e = HealthzError::new(
                        "STREAM",
                        format!(
                            "JetStream stream '{acc} > {}' is not healthy: {reason}",
                            s.name
                        ),
                    );
                    e.account = acc.clone();
                    e.stream = s.name.clone();
                    errors.push(e);
                }
            }
            if !opts.stream.is_empty() && js.stream(&opts.stream).is_none() {
                let mut e = HealthzError::new(
                    "STREAM",
                    format!(
                        "JetStream stream '{acc} > {}' could not be found",
                        opts.stream
                    ),
                );
                e.account = acc.clone();
                e.stream = opts.stream.clone();
                errors.push(e);
            }
        }
        errors
    }

    fn varz(&self) -> serde_json::Value {
        serde_json::json!({
            "config": self.config_json(),
            "stats": self.stats(),
            "limits": { "default_max_consumers": 1000 },
        })
    }

    fn metrics(&self) -> JsMetrics {
        let mut m = JsMetrics {
            max_memory: self.max_memory,
            max_storage: self.max_storage,
            domain: self.domain.clone().unwrap_or_default(),
            ..JsMetrics::default()
        };
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        for js in &self.all() {
            let mut acc = AccountMetrics {
                name: js.cfg.account.clone(),
                id: js.cfg.account.clone(),
                ..AccountMetrics::default()
            };
            for s in js.streams() {
                let sm = stream_metrics(js, &s, now_ns);
                match s.config().storage {
                    natrium_jetstream::types::Storage::Memory => acc.memory += sm.bytes,
                    natrium_jetstream::types::Storage::File => acc.storage += sm.bytes,
                }
                m.streams += 1;
                m.consumers += sm.consumer_count;
                m.messages += sm.messages;
                m.bytes += sm.bytes;
                acc.streams.push(sm);
            }
            m.accounts.push(acc);
        }
        m
    }
}

/// One stream's figures for `/metrics`: store counters (no per-message work) and each
/// consumer's delivery state.
fn stream_metrics(
    js: &JetStream,
    s: &natrium_jetstream::stream::Stream,
    now_ns: i64,
) -> StreamMetrics {
    let st = s.store.fast_state();
    let cfg = s.config();
    let consumers: Vec<ConsumerMetrics> = s
        .consumers()
        .iter()
        .map(|c| consumer_metrics(c.info(js), now_ns))
        .collect();
    StreamMetrics {
        name: s.name.clone(),
        leader: js.cfg.server_name.clone(),
        raft_group: String::new(),
        messages: st.msgs,
        bytes: st.bytes,
        first_seq: st.first_seq,
        last_seq: st.last_seq,
        consumer_count: consumers.len(),
        num_subjects: st.num_subjects,
        limit_bytes: cfg.max_bytes,
        limit_messages: cfg.max_msgs,
        consumers,
    }
}

fn consumer_metrics(info: natrium_jetstream::types::ConsumerInfo, now_ns: i64) -> ConsumerMetrics {
    let ago = |t: &Option<String>| {
        t.as_deref()
            .and_then(natrium_jetstream::types::parse_rfc3339)
            .map(|ns| (now_ns - ns).max(0) as f64 / 1e9)
    };
    ConsumerMetrics {
        last_delivery_secs: ago(&info.delivered.last_active),
        last_ack_secs: ago(&info.ack_floor.last_active),
        name: info.name,
        leader: info.cluster.leader,
        description: info.config.description,
        delivered_consumer_seq: info.delivered.consumer_seq,
        delivered_stream_seq: info.delivered.stream_seq,
        ack_floor_consumer_seq: info.ack_floor.consumer_seq,
        ack_floor_stream_seq: info.ack_floor.stream_seq,
        num_ack_pending: info.num_ack_pending,
        num_redelivered: info.num_redelivered,
        num_waiting: info.num_waiting,
        num_pending: info.num_pending,
    }
}

/// One stream's entry in `/jsz?streams=1`.
fn stream_detail(
    js: &JetStream,
    s: &natrium_jetstream::stream::Stream,
    opts: &JszOptions,
) -> serde_json::Value {
    let st = s.store.fast_state();
    let mut d = serde_json::json!({
        "name": s.name,
        "created": natrium_jetstream::types::rfc3339(s.created),
        "cluster": { "leader": js.cfg.server_name },
        "state": {
            "messages": st.msgs, "bytes": st.bytes,
            "first_seq": st.first_seq,
            "first_ts": natrium_jetstream::types::rfc3339(st.first_ts),
            "last_seq": st.last_seq,
            "last_ts": natrium_jetstream::types::rfc3339(st.last_ts),
            "consumer_count": s.consumer_count(),
        },
    });
    if let Some(o) = d.as_object_mut() {
        if opts.config {
            o.insert(
                "config".into(),
                serde_json::to_value(&*s.config()).unwrap_or_default(),
            );
        }
        if opts.consumers {
            let cs: Vec<_> = s
                .consumers()
                .iter()
                .map(|c| serde_json::to_value(c.info(js)).unwrap_or_default())
                .collect();
            o.insert("consumer_detail".into(), cs.into());
        }
    }
    d
}

/// An account's JetStream limits as the JetStream layer takes them.
pub fn account_limits(l: &natrium_config::AccountJetStream) -> AccountLimits {
    AccountLimits {
        max_memory: l.max_memory,
        max_storage: l.max_store,
        max_streams: l.max_streams,
        max_consumers: l.max_consumers,
        max_ack_pending: l.max_ack_pending,
        max_bytes_required: l.max_bytes_required,
        memory_max_stream_bytes: l.max_memory_stream_bytes,
        storage_max_stream_bytes: l.max_store_stream_bytes,
        tier: l.tier.clone(),
    }
}
