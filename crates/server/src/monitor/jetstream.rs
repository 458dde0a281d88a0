//! `/jsz` and `/healthz`, and the [`JetStreamMonitor`] trait through which the JetStream
//! subsystem reports to them.
//!
//! Monitoring owns the HTTP shapes and the query decoding; JetStream owns the numbers. While
//! no provider is installed (JetStream disabled) the answers are exactly nats-server's for
//! a server without JetStream: `/jsz` with `"disabled": true` and zeroed stats, `/healthz`
//! `{"status":"ok"}`. A provider is installed once with
//! [`super::MonitorState::set_jetstream`].

use std::time::SystemTime;

use serde::Serialize;

use super::format::ser_time;
use super::{Query, QueryError};
use crate::server::Server;
use crate::warn;

/// What the JetStream subsystem tells monitoring. Implementations must be cheap enough to
/// call per HTTP request and must not block on disk I/O.
pub trait JetStreamMonitor: Send + Sync {
    /// The JetStream part of `/jsz` for these options.
    fn jsz(&self, opts: &JszOptions) -> Result<JszReport, String>;
    /// Health problems of accounts, streams and consumers (empty when healthy). Called only
    /// after the cheap checks (`js-server-only`, `js-enabled-only`) passed.
    fn health(&self, opts: &HealthzOptions) -> Vec<HealthzError>;
    /// The `jetstream` object of `/varz` (`config`, `stats`, `limits`, `meta`).
    fn varz(&self) -> serde_json::Value;
    /// Every account's, stream's and consumer's figures for `/metrics`, gathered in one pass
    /// with no JSON in between (it is scraped every few seconds). The numbers are those
    /// `/jsz?consumers=true&config=true` reports.
    fn metrics(&self) -> JsMetrics;
}

/// What `/metrics` reports for JetStream: the server totals and one entry per account that
/// has JetStream.
#[derive(Debug, Clone, Default)]
pub struct JsMetrics {
    pub max_memory: i64,
    pub max_storage: i64,
    /// The JetStream domain; empty when none is configured.
    pub domain: String,
    pub streams: usize,
    pub consumers: usize,
    pub messages: u64,
    pub bytes: u64,
    pub accounts: Vec<AccountMetrics>,
}

/// One account's JetStream usage and its streams (`account_details[]` of `/jsz`).
#[derive(Debug, Clone, Default)]
pub struct AccountMetrics {
    pub name: String,
    pub id: String,
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub streams: Vec<StreamMetrics>,
}

/// One stream's state and limits (`stream_detail[]` of `/jsz`).
#[derive(Debug, Clone, Default)]
pub struct StreamMetrics {
    pub name: String,
    /// The server name of the stream's leader (this server: there is no clustering).
    pub leader: String,
    /// The Raft group; empty without clustering.
    pub raft_group: String,
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub consumer_count: usize,
    pub num_subjects: u64,
    /// `max_bytes` and `max_msgs` from the config; -1 is unlimited.
    pub limit_bytes: i64,
    pub limit_messages: i64,
    pub consumers: Vec<ConsumerMetrics>,
}

/// One consumer's delivery state (`consumer_detail[]` of `/jsz`).
#[derive(Debug, Clone, Default)]
pub struct ConsumerMetrics {
    pub name: String,
    pub leader: String,
    pub description: String,
    pub delivered_consumer_seq: u64,
    pub delivered_stream_seq: u64,
    pub ack_floor_consumer_seq: u64,
    pub ack_floor_stream_seq: u64,
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    pub num_waiting: u64,
    pub num_pending: u64,
    /// Seconds since the last delivery; `None` before the first.
    pub last_delivery_secs: Option<f64>,
    /// Seconds since the last acknowledgement; `None` before the first.
    pub last_ack_secs: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ApiStats {
    pub level: u32,
    pub total: u64,
    pub errors: u64,
}

/// nats-server's `JetStreamStats`, the head of `/jsz`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JetStreamStats {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub accounts: usize,
    pub ha_assets: usize,
    pub api: ApiStats,
}

/// Everything a provider reports for `/jsz`; the server id and time are added here.
#[derive(Debug, Clone, Serialize)]
pub struct JszReport {
    #[serde(flatten)]
    pub stats: JetStreamStats,
    /// nats-server's `JetStreamConfig` JSON (`max_memory`, `max_storage`, `store_dir`, ...).
    pub config: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<serde_json::Value>,
    pub streams: usize,
    pub consumers: usize,
    pub messages: u64,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta_cluster: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub account_details: Vec<serde_json::Value>,
    pub total: usize,
}

/// The `/jsz` body: nats-server's `JSInfo` key order.
#[derive(Serialize)]
struct Jsz<'a> {
    #[serde(flatten)]
    stats: &'a JetStreamStats,
    server_id: &'a str,
    #[serde(serialize_with = "ser_time")]
    now: SystemTime,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    disabled: bool,
    config: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: &'a Option<serde_json::Value>,
    streams: usize,
    consumers: usize,
    messages: u64,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta_cluster: &'a Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    account_details: &'a Vec<serde_json::Value>,
    total: usize,
}

/// `/jsz` query parameters, with nats-server's defaults applied.
#[derive(Debug, Clone, Default)]
pub struct JszOptions {
    pub account: String,
    pub accounts: bool,
    pub streams: bool,
    pub consumers: bool,
    pub direct_consumers: bool,
    pub config: bool,
    pub leader_only: bool,
    pub offset: usize,
    pub limit: usize,
    pub raft: bool,
    pub stream_leader_only: bool,
}

impl JszOptions {
    pub fn from_query(q: &Query) -> Result<JszOptions, QueryError> {
        let mut o = JszOptions {
            accounts: q.bool("accounts")?,
            streams: q.bool("streams")?,
            consumers: q.bool("consumers")?,
            direct_consumers: q.bool("direct-consumers")?,
            config: q.bool("config")?,
            offset: q.int("offset")?.max(0) as usize,
            limit: q.int("limit")?.max(0) as usize,
            leader_only: q.bool("leader-only")?,
            raft: q.bool("raft")?,
            stream_leader_only: q.bool("stream-leader-only")?,
            account: q.get("acc").unwrap_or("").to_string(),
        };
        if o.limit == 0 {
            o.limit = 1024;
        }
        if o.consumers {
            o.streams = true;
        }
        if o.streams && o.account.is_empty() {
            o.accounts = true;
        }
        Ok(o)
    }
}

/// Builds the `/jsz` body (pretty JSON) or the error text for a 400.
pub fn jsz(server: &Server, q: &Query) -> Result<Vec<u8>, QueryError> {
    let opts = JszOptions::from_query(q)?;
    let now = SystemTime::now();
    let report = match server.monitor.jetstream() {
        Some(js) => Some(js.jsz(&opts).map_err(QueryError)?),
        None if opts.leader_only => {
            return Err(QueryError("filtered response: not leader".into()));
        }
        None => None,
    };
    let disabled_report;
    let r = match &report {
        Some(r) => r,
        None => {
            disabled_report = JszReport {
                stats: JetStreamStats::default(),
                config: serde_json::json!({"max_memory": 0, "max_storage": 0}),
                limits: None,
                streams: 0,
                consumers: 0,
                messages: 0,
                bytes: 0,
                meta_cluster: None,
                account_details: Vec::new(),
                total: 0,
            };
            &disabled_report
        }
    };
    let body = Jsz {
        stats: &r.stats,
        server_id: &server.id,
        now,
        disabled: report.is_none(),
        config: &r.config,
        limits: &r.limits,
        streams: r.streams,
        consumers: r.consumers,
        messages: r.messages,
        bytes: r.bytes,
        meta_cluster: &r.meta_cluster,
        account_details: &r.account_details,
        total: r.total,
    };
    Ok(super::format::to_json_pretty(&body))
}

/// `/healthz` query parameters.
#[derive(Debug, Clone, Default)]
pub struct HealthzOptions {
    pub js_enabled: bool,
    pub js_enabled_only: bool,
    pub js_server_only: bool,
    pub js_meta_only: bool,
    pub account: String,
    pub stream: String,
    pub consumer: String,
    pub details: bool,
}

/// One health problem, as nats-server's `HealthzError`.
#[derive(Debug, Clone, Serialize)]
pub struct HealthzError {
    /// `CONNECTION`, `BAD_REQUEST`, `JETSTREAM`, `ACCOUNT`, `STREAM` or `CONSUMER`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stream: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub consumer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

impl HealthzError {
    pub fn new(kind: &'static str, error: impl Into<String>) -> HealthzError {
        HealthzError {
            kind,
            account: String::new(),
            stream: String::new(),
            consumer: String::new(),
            error: error.into(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct HealthStatus {
    pub status: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<HealthzError>,
}

/// Builds `/healthz`: the HTTP status code and the compact JSON body.
pub fn healthz(server: &Server, q: &Query) -> Result<(u16, Vec<u8>), QueryError> {
    let js_enabled = q.bool("js-enabled")?;
    if js_enabled {
        warn!("Healthcheck: js-enabled deprecated, use js-enabled-only instead");
    }
    let opts = HealthzOptions {
        js_enabled,
        js_enabled_only: q.bool("js-enabled-only")?,
        js_server_only: q.bool("js-server-only")?,
        js_meta_only: q.bool("js-meta-only")?,
        details: q.bool("details")?,
        account: q.get("account").unwrap_or("").to_string(),
        stream: q.get("stream").unwrap_or("").to_string(),
        consumer: q.get("consumer").unwrap_or("").to_string(),
    };
    let (code, status) = health(server, &opts);
    if !status.error.is_empty() {
        warn!("Healthcheck failed: {:?}", status.error);
    } else if !status.errors.is_empty() {
        warn!("Healthcheck failed: {} errors", status.errors.len());
    }
    Ok((code, super::format::to_json_compact(&status)))
}

/// True once JetStream has started (with or without a monitoring provider).
pub fn jetstream_running(server: &Server) -> bool {
    server.monitor.jetstream().is_some() || server.jetstream_enabled.get().is_some()
}

/// The health verdict and its HTTP status code.
pub fn health(server: &Server, opts: &HealthzOptions) -> (u16, HealthStatus) {
    let fail = |code: u16, status: &'static str, kind: &'static str, text: String| {
        let mut h = HealthStatus {
            status,
            error: String::new(),
            errors: Vec::new(),
        };
        if opts.details {
            h.status = "error";
            h.errors.push(HealthzError::new(kind, text));
        } else {
            h.error = text;
        }
        (code, h)
    };
    if opts.account.is_empty() && !opts.stream.is_empty() {
        let text = "\"account\" must not be empty when checking stream health".to_string();
        return fail(400, "error", "BAD_REQUEST", text);
    }
    if opts.stream.is_empty() && !opts.consumer.is_empty() {
        let text = "\"stream\" must not be empty when checking consumer health".to_string();
        return fail(400, "error", "BAD_REQUEST", text);
    }
    if server.client_addr().is_none() {
        let text = "failed to be ready for connections".to_string();
        return fail(500, "error", "CONNECTION", text);
    }
    let ok = (
        200,
        HealthStatus {
            status: "ok",
            error: String::new(),
            errors: Vec::new(),
        },
    );
    if opts.js_server_only || !server.options().jetstream {
        return ok;
    }
    // Configured but not running is nats-server's "JetStream not enabled" (503). Running
    // without a monitoring provider answers the cheap checks only.
    let provider = server.monitor.jetstream();
    if provider.is_none() && !jetstream_running(server) {
        let text = "JetStream not enabled".to_string();
        return fail(503, "unavailable", "JETSTREAM", text);
    }
    let Some(js) = provider.filter(|_| !(opts.js_enabled_only || opts.js_enabled)) else {
        return ok;
    };
    let mut errors = js.health(opts);
    if errors.is_empty() {
        return ok;
    }
    if opts.details {
        (
            503,
            HealthStatus {
                status: "error",
                error: String::new(),
                errors,
            },
        )
    } else {
        let first = errors.swap_remove(0);
        (
            503,
            HealthStatus {
                status: "unavailable",
                error: first.error,
                errors: Vec::new(),
            },
        )
    }
}
