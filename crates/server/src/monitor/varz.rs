//! `/varz`: the server's identity, configuration (durations in nanoseconds, timeouts in
//! seconds, as nats-server writes them), process usage (resident memory, CPU, cores) and
//! the server-wide counters, in nats-server's key order.
//!
//! Sub-objects for features that are not running (`cluster`, `gateway`, `leaf`, `mqtt`,
//! `websocket`, and `jetstream` without a provider) are `{}` exactly as nats-server writes
//! them when unconfigured. Process usage is read from `/proc` (Linux); elsewhere it reads 0.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use parking_lot::Mutex;
use serde::Serialize;

use super::format::{ser_float, ser_time, uptime};
use crate::server::Server;
use crate::server_info::NATS_VERSION;

/// Linux reports process CPU time in ticks of 1/100 s (`USER_HZ`) on every architecture
/// Natrium targets.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;
/// CPU samples closer together than this reuse the previous figure.
const CPU_SAMPLE_MIN_MS: u128 = 500;

#[derive(Serialize, Default)]
pub struct Empty {}

/// The websocket listener's settings (`{}` when there is none), nats-server's field names.
#[derive(Serialize, Default)]
pub struct WebsocketVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub port: i32,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub handshake_timeout: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_tls: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub same_origin: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
}

impl WebsocketVarz {
    fn from_server(server: &Server, opts: &natrium_config::Options) -> WebsocketVarz {
        let Some(w) = opts.websocket.as_ref().filter(|w| w.port != 0) else {
            return WebsocketVarz::default();
        };
        WebsocketVarz {
            host: if w.host.is_empty() {
                natrium_config::options::DEFAULT_HOST.to_string()
            } else {
                w.host.clone()
            },
            port: server.ws_addr.get().map_or(w.port, |a| i32::from(a.port())),
            handshake_timeout: w.handshake_timeout.as_nanos() as u64,
            no_tls: w.no_tls,
            same_origin: w.same_origin,
            allowed_origins: w.allowed_origins.clone(),
        }
    }
}

/// `leaf`: the leafnode listener, when one is configured (empty otherwise).
#[derive(Serialize, Default)]
pub struct LeafVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub port: i32,
    #[serde(skip_serializing_if = "is_zero_f64", serialize_with = "ser_float")]
    pub auth_timeout: f64,
    #[serde(skip_serializing_if = "is_zero_f64", serialize_with = "ser_float")]
    pub tls_timeout: f64,
}

impl LeafVarz {
    fn from_server(server: &Server, opts: &natrium_config::Options) -> LeafVarz {
        let Some(l) = opts.leafnodes.as_ref().filter(|l| l.port != 0) else {
            return LeafVarz::default();
        };
        LeafVarz {
            host: if l.host.is_empty() {
                natrium_config::options::DEFAULT_HOST.to_string()
            } else {
                l.host.clone()
            },
            port: server
                .leaf_addr
                .get()
                .map_or(l.port, |a| i32::from(a.port())),
            auth_timeout: opts.auth_timeout.as_secs_f64(),
            tls_timeout: natrium_config::options::DEFAULT_TLS_TIMEOUT.as_secs_f64(),
        }
    }
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

#[derive(Serialize, Default)]
pub struct ByKind {
    pub clients: u64,
    pub routes: u64,
    pub gateways: u64,
    pub leafs: u64,
}

#[derive(Serialize, Default)]
pub struct DiskIoWaitStats {
    pub waiters: u64,
    pub waits: u64,
    pub wait_time: u64,
    pub max_wait_time: u64,
}

#[derive(Serialize)]
pub struct Varz {
    pub server_id: String,
    pub server_name: String,
    pub version: &'static str,
    pub proto: u32,
    pub go: &'static str,
    pub host: String,
    pub port: u16,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    pub max_connections: i32,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub max_subscriptions: i32,
    pub ping_interval: u64,
    pub ping_max: i32,
    pub http_host: String,
    pub http_port: i32,
    pub http_base_path: String,
    pub https_port: i32,
    #[serde(serialize_with = "ser_float")]
    pub auth_timeout: f64,
    pub max_control_line: i32,
    pub max_payload: i32,
    pub max_pending: i64,
    pub cluster: Empty,
    pub gateway: Empty,
    pub leaf: LeafVarz,
    pub mqtt: Empty,
    pub websocket: WebsocketVarz,
    pub jetstream: serde_json::Value,
    #[serde(serialize_with = "ser_float")]
    pub tls_timeout: f64,
    pub write_deadline: u64,
    #[serde(serialize_with = "ser_time")]
    pub start: SystemTime,
    #[serde(serialize_with = "ser_time")]
    pub now: SystemTime,
    pub uptime: String,
    pub mem: u64,
    pub cores: usize,
    pub gomaxprocs: usize,
    #[serde(serialize_with = "ser_float")]
    pub cpu: f64,
    pub connections: usize,
    pub total_connections: u64,
    pub routes: usize,
    pub remotes: usize,
    pub leafnodes: usize,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub in_client_msgs: u64,
    pub in_client_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub out_client_msgs: u64,
    pub out_client_bytes: u64,
    pub slow_consumers: u64,
    pub stale_connections: u64,
    pub stalled_clients: u64,
    pub subscriptions: usize,
    pub http_req_stats: BTreeMap<String, u64>,
    #[serde(serialize_with = "ser_time")]
    pub config_load_time: SystemTime,
    pub config_digest: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub slow_consumer_stats: ByKind,
    pub stale_connection_stats: ByKind,
    pub disk_io_wait_stats: DiskIoWaitStats,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert_not_after: Option<String>,
}

fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}

/// Builds `/varz`.
pub fn varz(server: &Server) -> Varz {
    let opts = server.options();
    let now = SystemTime::now();
    let m = &server.stats.msgs;
    let (in_msgs, in_bytes) = (
        m.in_msgs.load(Ordering::Relaxed),
        m.in_bytes.load(Ordering::Relaxed),
    );
    let (out_msgs, out_bytes) = (
        m.out_msgs.load(Ordering::Relaxed),
        m.out_bytes.load(Ordering::Relaxed),
    );
    let slow = server.stats.slow_consumers.load(Ordering::Relaxed);
    let stale = server.monitor.stale_connections();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Varz {
        server_id: server.id.clone(),
        server_name: server.name.clone(),
        version: NATS_VERSION,
        proto: 1,
        go: "rust",
        host: opts.host.clone(),
        port: server.client_addr().map_or(0, |a| a.port()),
        auth_required: server.auth().required(),
        tls_required: opts.tls.is_some() && !opts.allow_non_tls,
        tls_verify: opts.tls.as_ref().is_some_and(|t| t.verify),
        max_connections: opts.max_connections,
        max_subscriptions: opts.max_subscriptions,
        ping_interval: opts.ping_interval.as_nanos() as u64,
        ping_max: opts.ping_max,
        http_host: opts.http_host.clone(),
        http_port: opts.http_port,
        http_base_path: opts.http_base_path.clone(),
        https_port: opts.https_port,
        auth_timeout: opts.auth_timeout.as_secs_f64(),
        max_control_line: opts.max_control_line,
        max_payload: opts.max_payload,
        max_pending: opts.max_pending,
        cluster: Empty {},
        gateway: Empty {},
        leaf: LeafVarz::from_server(server, &opts),
        mqtt: Empty {},
        websocket: WebsocketVarz::from_server(server, &opts),
        jetstream: server
            .monitor
            .jetstream()
            .map_or_else(|| serde_json::json!({}), |js| js.varz()),
        // nats-server reports its TLS handshake default even without TLS.
        tls_timeout: opts
            .tls
            .as_ref()
            .map_or(natrium_config::options::DEFAULT_TLS_TIMEOUT, |t| {
                t.handshake_timeout()
            })
            .as_secs_f64(),
        write_deadline: opts.write_deadline.as_nanos() as u64,
        start: server.start_time,
        now,
        uptime: uptime(server.started.elapsed()),
        mem: resident_memory_bytes(),
        cores,
        gomaxprocs: cores,
        cpu: server.monitor.cpu.percent(server.started),
        connections: server.num_clients(),
        total_connections: server.stats.total_connections.load(Ordering::Relaxed),
        routes: 0,
        remotes: 0,
        leafnodes: 0,
        in_msgs,
        in_bytes,
        in_client_msgs: in_msgs,
        in_client_bytes: in_bytes,
        out_msgs,
        out_bytes,
        out_client_msgs: out_msgs,
        out_client_bytes: out_bytes,
        slow_consumers: slow,
        stale_connections: stale,
        stalled_clients: 0,
        subscriptions: server.num_subscriptions(),
        http_req_stats: server.monitor.http_req_stats(),
        config_load_time: server.monitor.config_load_time(),
        config_digest: String::new(),
        tags: opts.tags.clone(),
        slow_consumer_stats: ByKind {
            clients: slow,
            ..ByKind::default()
        },
        stale_connection_stats: ByKind {
            clients: stale,
            ..ByKind::default()
        },
        disk_io_wait_stats: DiskIoWaitStats::default(),
        tls_cert_not_after: server.tls().and_then(|t| t.cert_not_after.clone()),
    }
}

/// Resident set size in bytes (`VmRSS` of `/proc/self/status`).
pub fn resident_memory_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// User plus system CPU time of this process, in clock ticks.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may contain spaces; the fields after it are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU usage in percent of one core between successive samples, as nats-server's `cpu`.
#[derive(Default)]
pub struct CpuSampler {
    last: Mutex<Option<(Instant, u64, f64)>>,
}

impl CpuSampler {
    /// The usage since the previous sample (or since `started` for the first one).
    pub fn percent(&self, started: Instant) -> f64 {
        let Some(ticks) = cpu_ticks() else {
            return 0.0;
        };
        let now = Instant::now();
        let mut last = self.last.lock();
        let (since, prev_ticks, prev_pct) = last.unwrap_or((started, 0, 0.0));
        let elapsed = now.duration_since(since);
        if last.is_some() && elapsed.as_millis() < CPU_SAMPLE_MIN_MS {
            return prev_pct;
        }
        let used = ticks.saturating_sub(prev_ticks) as f64 / CLOCK_TICKS_PER_SEC;
        let pct = if elapsed.as_secs_f64() > 0.0 {
            (used / elapsed.as_secs_f64() * 100.0 * 100.0).round() / 100.0
        } else {
            0.0
        };
        *last = Some((now, ticks, pct));
        pct
    }
}
