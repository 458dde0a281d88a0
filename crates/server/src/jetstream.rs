//! Starting JetStream from the server's options, with nats-server's startup log lines
//! (tools wait for `Store Directory: "..."`).

use std::path::PathBuf;
use std::sync::Arc;

use std::sync::atomic::Ordering;

use natrium_config::{Options, SyncPolicy};
use natrium_jetstream::{Config, JetStream, SyncMode};

use crate::monitor::jetstream::{
    ApiStats, HealthzError, HealthzOptions, JetStreamMonitor, JetStreamStats, JszOptions, JszReport,
};

use crate::outlet::ServerOutlet;
use crate::server::Server;
use crate::{info, warn};

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

/// Starts JetStream; must run inside the tokio runtime, before `Server is ready`.
pub fn start(server: &Arc<Server>, opts: &Options) -> Result<Arc<JetStream>, String> {
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
    let cfg = Config {
        store_dir: dir,
        max_memory: opts.jetstream_max_memory,
        max_store: opts.jetstream_max_store,
        sync,
        domain: opts.jetstream_domain.clone(),
        server_name: server.name.clone(),
        max_request_batch: i64::from(opts.jetstream_request_batch_max),
    };
    let js = JetStream::start(cfg, Arc::new(ServerOutlet::new(server)))?;
    let n = js.streams().len();
    if n > 0 {
        info!("  Recovered {n} stream(s)");
    }
    info!("Took {:?} to start JetStream", started.elapsed());
    server
        .monitor
        .set_jetstream(Arc::new(JsMonitor::new(js.clone(), opts)));
    Ok(js)
}

/// JetStream's figures for `/jsz`, `/varz` and `/healthz`.
pub struct JsMonitor {
    js: Arc<JetStream>,
    max_memory: i64,
    max_storage: i64,
    sync: SyncMode,
    strict: bool,
}

impl JsMonitor {
    pub fn new(js: Arc<JetStream>, opts: &Options) -> JsMonitor {
        JsMonitor {
            max_memory: resolve_limit(opts.jetstream_max_memory, system_memory()),
            max_storage: resolve_limit(opts.jetstream_max_store, disk_space(&js.cfg.store_dir)),
            sync: js.cfg.sync,
            strict: opts.jetstream_strict,
            js,
        }
    }

    fn config_json(&self) -> serde_json::Value {
        let mut c = serde_json::json!({
            "max_memory": self.max_memory,
            "max_storage": self.max_storage,
            "store_dir": self.js.cfg.store_dir.display().to_string(),
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
            if let Some(d) = &self.js.cfg.domain {
                o.insert("domain".into(), d.clone().into());
            }
            o.insert("strict".into(), self.strict.into());
        }
        c
    }

    fn stats(&self) -> JetStreamStats {
        let (mem, file, _, _) = self.js.usage();
        JetStreamStats {
            memory: mem,
            storage: file,
            reserved_memory: 0,
            reserved_storage: 0,
            accounts: 1,
            ha_assets: 0,
            api: ApiStats {
                level: 1,
                total: self.js.api_total.load(Ordering::Relaxed),
                errors: self.js.api_errors.load(Ordering::Relaxed),
            },
        }
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
        let streams = self.js.streams();
        let (mut messages, mut bytes, mut consumers) = (0, 0, 0);
        let mut details = Vec::new();
        for s in &streams {
            let st = s.store.fast_state();
            messages += st.msgs;
            bytes += st.bytes;
            consumers += s.consumer_count();
            if opts.streams {
                let mut d = serde_json::json!({
                    "name": s.name,
                    "created": natrium_jetstream::types::rfc3339(s.created),
                    "cluster": { "leader": self.js.cfg.server_name },
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
                            .map(|c| serde_json::to_value(c.info(&self.js)).unwrap_or_default())
                            .collect();
                        o.insert("consumer_detail".into(), cs.into());
                    }
                }
                details.push(d);
            }
        }
        let stats = self.stats();
        let account_details = if opts.accounts || opts.streams || !opts.account.is_empty() {
            vec![serde_json::json!({
                "name": "$G", "id": "$G",
                "memory": stats.memory, "storage": stats.storage,
                "reserved_memory": 0, "reserved_storage": 0,
                "accounts": 1, "ha_assets": 0,
                "api": { "level": stats.api.level, "total": stats.api.total, "errors": stats.api.errors },
                "stream_detail": details,
            })]
        } else {
            Vec::new()
        };
        Ok(JszReport {
            stats,
            config: self.config_json(),
            limits: Some(serde_json::json!({ "default_max_consumers": 1000 })),
            streams: streams.len(),
            consumers,
            messages,
            bytes,
            meta_cluster: None,
            account_details,
            total: 1,
        })
    }

    fn health(&self, opts: &HealthzOptions) -> Vec<HealthzError> {
        let mut errors = Vec::new();
        for s in self.js.streams() {
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
                        "JetStream stream '$G > {}' is not healthy: {reason}",
                        s.name
                    ),
                );
                e.account = "$G".into();
                e.stream = s.name.clone();
                errors.push(e);
            }
        }
        if !opts.stream.is_empty() && self.js.stream(&opts.stream).is_none() {
            let mut e = HealthzError::new(
                "STREAM",
                format!("JetStream stream '$G > {}' could not be found", opts.stream),
            );
            e.account = "$G".into();
            e.stream = opts.stream.clone();
            errors.push(e);
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
}
