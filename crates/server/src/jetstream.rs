//! Starting JetStream from the server's options, with nats-server's startup log lines
//! (tools wait for `Store Directory: "..."`).

use std::path::PathBuf;
use std::sync::Arc;

use natrium_config::{Options, SyncPolicy};
use natrium_jetstream::{Config, JetStream, SyncMode};

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
    Ok(js)
}
