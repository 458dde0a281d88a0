//! `/metrics`: Prometheus text exposition (format 0.0.4) produced natively, with the metric
//! names and labels prometheus-nats-exporter gives the same data, so dashboards built on the
//! exporter work unchanged. The `server_id` label carries the server's id, as the exporter
//! does with `-use_internal_server_id`.
//!
//! `varz`, `subsz` and `routez` follow the exporter's generic rule: every number in the JSON
//! becomes `gnatsd_<endpoint>_<path_joined_by_underscores>`, a few string keys become
//! `{value="..."} 1` gauges and timestamps become epoch milliseconds. `connz`, `healthz`,
//! `accstatz`, `accountz`, `leafz` and JetStream's `jetstream_{server,account,stream,consumer}_*`
//! use the exporter's dedicated collectors' names and labels. Which families are covered is
//! listed in docs/metrics.md.
//!
//! It must stay cheap with many streams (Prometheus scrapes it every few seconds): one pass
//! over what the providers already count, no per-message work here, and each label set is
//! rendered once per entity.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use serde_json::Value;

use super::connz::{connz, ConnzOptions};
use super::jetstream::{health, AccountMetrics, ConsumerMetrics, HealthzOptions, StreamMetrics};
use super::meta::GLOBAL_ACCOUNT;
use super::subsz::{subsz, SubszOptions};
use super::Query;
use crate::server::Server;

/// The exporter's default namespace for core server metrics.
const CORE: &str = "gnatsd";

/// String keys the exporter turns into metrics (as labels or timestamps).
const LABEL_KEYS: &[&str] = &[
    "server_id",
    "server_name",
    "version",
    "domain",
    "leader",
    "name",
    "start",
    "config_load_time",
];
/// Flattened names the exporter leaves out.
const SKIPPED: &[&str] = &[
    "leaf",
    "trusted_operators_claim",
    "cluster_tls_timeout",
    "cluster_cluster_port",
    "cluster_auth_timeout",
    "gateway_port",
    "gateway_auth_timeout",
    "gateway_tls_timeout",
    "gateway_connect_retries",
];

/// A sample's labels, rendered once (`k="v",...`, escaped, without braces) and shared by
/// every family that uses the same set: a consumer's gauges render its labels once.
type Labels = Arc<str>;

/// One metric family: its type and samples (labels, value).
struct Family {
    kind: &'static str,
    samples: Vec<(Labels, f64)>,
}

/// Collects families by name and renders them in name order.
#[derive(Default)]
struct Exposition {
    families: BTreeMap<String, Family>,
}

impl Exposition {
    fn add(&mut self, name: &str, kind: &'static str, labels: Vec<(String, String)>, v: f64) {
        let mut text = String::new();
        for (k, val) in &labels {
            push_label(&mut text, k, val);
        }
        self.push(&sanitize(name), kind, &Labels::from(text), v);
    }

    /// Adds a sample to the family `name` (already a valid metric name).
    fn push(&mut self, name: &str, kind: &'static str, labels: &Labels, v: f64) {
        let sample = (labels.clone(), v);
        match self.families.get_mut(name) {
            Some(f) => f.samples.push(sample),
            None => {
                let samples = vec![sample];
                self.families
                    .insert(name.to_string(), Family { kind, samples });
            }
        }
    }

    fn render(&self) -> String {
        let mut out = String::with_capacity(self.families.len() * 128);
        for (name, fam) in &self.families {
            let _ = writeln!(out, "# HELP {name} {}", help(name));
            let _ = writeln!(out, "# TYPE {name} {}", fam.kind);
            for (labels, v) in &fam.samples {
                out.push_str(name);
                if !labels.is_empty() {
                    out.push('{');
                    out.push_str(labels);
                    out.push('}');
                }
                let _ = writeln!(out, " {}", number(*v));
            }
        }
        out
    }
}

/// Appends `k="v"` (escaped) to a rendered label list.
fn push_label(out: &mut String, k: &str, v: &str) {
    if !out.is_empty() {
        out.push(',');
    }
    let _ = write!(out, "{k}=\"{}\"", escape(v));
}

/// The exporter's help text is the metric's name without its namespace and subsystem.
fn help(name: &str) -> &str {
    name.splitn(3, '_').nth(2).unwrap_or(name)
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn sid(server: &Server) -> Vec<(String, String)> {
    vec![("server_id".into(), server.id.clone())]
}

/// Renders every covered family.
pub fn render(server: &Server) -> String {
    let mut ex = Exposition::default();
    let varz = serde_json::to_value(super::varz::varz(server)).unwrap_or(Value::Null);
    flatten(&mut ex, server, "varz", &varz, &[]);
    let no_query = Query::default();
    if let Ok(opts) = SubszOptions::from_query(&no_query) {
        let v = serde_json::to_value(subsz(server, &opts)).unwrap_or(Value::Null);
        flatten(&mut ex, server, "subsz", &v, &[]);
    }
    if let Ok(r) = super::cluster::routez(server, &no_query) {
        let v = serde_json::to_value(r).unwrap_or(Value::Null);
        flatten(&mut ex, server, "routez", &v, &[]);
    }
    connz_family(&mut ex, server);
    healthz_family(&mut ex, server);
    accounts_family(&mut ex, server);
    ex.add(
        &format!("{CORE}_leafz_conn_nodes_total"),
        "gauge",
        sid(server),
        0.0,
    );
    jsz_family(&mut ex, server);
    ex.render()
}

/// The exporter's generic collector: numbers become gauges named by their JSON path.
fn flatten(ex: &mut Exposition, server: &Server, endpoint: &str, v: &Value, path: &[&str]) {
    let Value::Object(map) = v else {
        return;
    };
    for (key, value) in map {
        let mut p: Vec<&str> = path.to_vec();
        p.push(key);
        let fqn = flat_name(&p);
        if SKIPPED.contains(&fqn.as_str()) {
            continue;
        }
        let name = format!("{CORE}_{endpoint}_{fqn}");
        match value {
            Value::Number(n) => {
                ex.add(&name, "gauge", sid(server), n.as_f64().unwrap_or(0.0));
            }
            Value::String(s) if LABEL_KEYS.contains(&key.as_str()) => {
                match chrono::DateTime::parse_from_rfc3339(s) {
                    Ok(t) => ex.add(&name, "gauge", sid(server), t.timestamp_millis() as f64),
                    Err(_) => {
                        let mut labels = sid(server);
                        labels.push(("value".into(), s.clone()));
                        ex.add(&name, "gauge", labels, 1.0);
                    }
                }
            }
            Value::Object(_) => flatten(ex, server, endpoint, value, &p),
            _ => {}
        }
    }
}

/// Joins a JSON path as the exporter does: `_` between parts, `/` as `_`, no doubled or
/// leading/trailing underscores.
fn flat_name(path: &[&str]) -> String {
    let mut s = path.join("_").replace('/', "_");
    while s.contains("__") {
        s = s.replace("__", "_");
    }
    s.trim_matches('_').to_string()
}

/// `gnatsd_connz_*`: totals over all open connections.
fn connz_family(ex: &mut Exposition, server: &Server) {
    let mut q = Query::default();
    q.push("limit", &i64::MAX.to_string());
    let Ok(opts) = ConnzOptions::from_query(&q) else {
        return;
    };
    let c = connz(server, &opts);
    let conns = c.connections.unwrap_or_default();
    let sum = |f: fn(&super::connz::ConnInfo) -> u64| conns.iter().map(f).sum::<u64>() as f64;
    let p = |n: &str| format!("{CORE}_connz_{n}");
    ex.add(
        &p("num_connections"),
        "gauge",
        sid(server),
        c.num_connections as f64,
    );
    ex.add(&p("total"), "gauge", sid(server), c.total as f64);
    ex.add(&p("offset"), "gauge", sid(server), c.offset as f64);
    ex.add(
        &p("limit"),
        "gauge",
        sid(server),
        super::connz::DEFAULT_CONN_LIST_SIZE as f64,
    );
    ex.add(
        &p("pending_bytes"),
        "gauge",
        sid(server),
        sum(|c| c.pending_bytes as u64),
    );
    ex.add(
        &p("subscriptions"),
        "gauge",
        sid(server),
        sum(|c| c.subscriptions as u64),
    );
    ex.add(&p("in_bytes"), "counter", sid(server), sum(|c| c.in_bytes));
    ex.add(
        &p("out_bytes"),
        "counter",
        sid(server),
        sum(|c| c.out_bytes),
    );
    ex.add(&p("in_msgs"), "counter", sid(server), sum(|c| c.in_msgs));
    ex.add(&p("out_msgs"), "counter", sid(server), sum(|c| c.out_msgs));
}

/// `gnatsd_healthz_status` (0 healthy) and `gnatsd_healthz_status_value{value}` (1 healthy).
fn healthz_family(ex: &mut Exposition, server: &Server) {
    let (_, h) = health(server, &HealthzOptions::default());
    let ok = h.status == "ok";
    let name = format!("{CORE}_healthz_status");
    ex.add(&name, "gauge", sid(server), if ok { 0.0 } else { 1.0 });
    let mut labels = sid(server);
    labels.push(("value".into(), h.status.to_string()));
    ex.add(
        &format!("{name}_value"),
        "gauge",
        labels,
        if ok { 1.0 } else { 0.0 },
    );
}

/// `gnatsd_accstatz_*` and `gnatsd_accountz_*` for each account.
fn accounts_family(ex: &mut Exposition, server: &Server) {
    let mut q = Query::default();
    q.push("unused", "1");
    if let Ok(stz) = super::accounts::accstatz(server, &q) {
        for a in &stz.account_statz {
            let labels = || {
                let mut l = sid(server);
                l.push(("account".into(), a.acc.clone()));
                l.push(("account_id".into(), a.acc.clone()));
                l.push(("account_name".into(), a.name.clone()));
                l
            };
            // All gauges, as the exporter's accstatz collector declares them.
            let values = [
                ("current_connections", a.conns as u64),
                ("total_connections", a.total_conns as u64),
                ("subscriptions", a.num_subscriptions as u64),
                ("leaf_nodes", a.leafnodes as u64),
                ("sent_messages", a.sent.msgs),
                ("sent_bytes", a.sent.bytes),
                ("received_messages", a.received.msgs),
                ("received_bytes", a.received.bytes),
                ("slow_consumers", a.slow_consumers),
            ];
            for (name, v) in values {
                let name = format!("{CORE}_accstatz_{name}");
                ex.add(&name, "gauge", labels(), v as f64);
            }
        }
    }
    let mut q = Query::default();
    q.push("acc", GLOBAL_ACCOUNT);
    if let Ok(Some(d)) = super::accounts::accountz(server, &q).map(|a| a.account_detail) {
        let labels = || {
            let mut l = sid(server);
            l.push(("account_id".into(), d.account_name.clone()));
            l.push(("account_name".into(), d.name_tag.clone()));
            l
        };
        let p = |n: &str| format!("{CORE}_accountz_{n}");
        let b = |v: bool| if v { 1.0 } else { 0.0 };
        ex.add(
            &p("client_connections"),
            "gauge",
            labels(),
            d.client_connections as f64,
        );
        ex.add(
            &p("leafnode_connections"),
            "gauge",
            labels(),
            d.leafnode_connections as f64,
        );
        ex.add(
            &p("subscriptions"),
            "gauge",
            labels(),
            d.subscriptions as f64,
        );
        ex.add(&p("is_system"), "gauge", labels(), 0.0);
        ex.add(&p("expired"), "gauge", labels(), b(d.expired));
        ex.add(&p("complete"), "gauge", labels(), b(d.complete));
        ex.add(
            &p("jetstream_enabled"),
            "gauge",
            labels(),
            b(d.jetstream_enabled),
        );
    }
}

/// The exporter's JetStream (`jsz`) collector: `jetstream_server_*` for the server,
/// `jetstream_account_*` per account, `jetstream_stream_*` per stream and
/// `jetstream_consumer_*` per consumer, all gauges. Each level's labels extend its parent's,
/// as the exporter's do. One pass over the provider's figures; each label set is rendered
/// once and shared by the entity's gauges.
fn jsz_family(ex: &mut Exposition, server: &Server) {
    let m = server.monitor.jetstream().map(|js| js.metrics());
    let disabled = m.is_none();
    let m = m.unwrap_or_default();
    // Without clustering there is no meta group: nats-server's `/jsz` has no `meta_cluster`,
    // for which the exporter leaves `cluster` and `meta_leader` empty and sets
    // `is_meta_leader="true"`.
    let mut base = String::new();
    push_label(&mut base, "server_id", &server.id);
    push_label(&mut base, "server_name", &server.name);
    push_label(&mut base, "cluster", "");
    push_label(&mut base, "domain", &m.domain);
    push_label(&mut base, "meta_leader", "");
    push_label(&mut base, "is_meta_leader", "true");
    let labels = Labels::from(base.as_str());
    let gauges = [
        ("jetstream_server_jetstream_disabled", f64::from(disabled)),
        ("jetstream_server_max_memory", m.max_memory as f64),
        ("jetstream_server_max_storage", m.max_storage as f64),
        ("jetstream_server_total_streams", m.streams as f64),
        ("jetstream_server_total_consumers", m.consumers as f64),
        ("jetstream_server_total_messages", m.messages as f64),
        ("jetstream_server_total_message_bytes", m.bytes as f64),
    ];
    for (name, v) in gauges {
        ex.push(name, "gauge", &labels, v);
    }
    for a in &m.accounts {
        account_family(ex, &server.name, &base, a);
    }
}

fn bool_label(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// `jetstream_account_*`. As in the exporter, `max_*` are the account's reservations.
fn account_family(ex: &mut Exposition, server_name: &str, parent: &str, a: &AccountMetrics) {
    let mut l = parent.to_string();
    push_label(&mut l, "account", &a.name);
    push_label(&mut l, "account_name", &a.name);
    push_label(&mut l, "account_id", &a.id);
    let labels = Labels::from(l.as_str());
    let gauges = [
        ("jetstream_account_max_memory", a.reserved_memory),
        ("jetstream_account_max_storage", a.reserved_storage),
        ("jetstream_account_memory_used", a.memory),
        ("jetstream_account_storage_used", a.storage),
    ];
    for (name, v) in gauges {
        ex.push(name, "gauge", &labels, v as f64);
    }
    for s in &a.streams {
        stream_family(ex, server_name, &l, s);
    }
}

/// `jetstream_stream_*`: the stream's state and configured limits (-1 is unlimited).
fn stream_family(ex: &mut Exposition, server_name: &str, parent: &str, s: &StreamMetrics) {
    let mut l = parent.to_string();
    push_label(&mut l, "stream_name", &s.name);
    push_label(&mut l, "stream_leader", &s.leader);
    push_label(
        &mut l,
        "is_stream_leader",
        bool_label(s.leader == server_name),
    );
    push_label(&mut l, "stream_raft_group", &s.raft_group);
    let labels = Labels::from(l.as_str());
    let gauges = [
        ("jetstream_stream_total_messages", s.messages as f64),
        ("jetstream_stream_total_bytes", s.bytes as f64),
        ("jetstream_stream_first_seq", s.first_seq as f64),
        ("jetstream_stream_last_seq", s.last_seq as f64),
        ("jetstream_stream_consumer_count", s.consumer_count as f64),
        ("jetstream_stream_subject_count", s.num_subjects as f64),
        ("jetstream_stream_limit_bytes", s.limit_bytes as f64),
        ("jetstream_stream_limit_messages", s.limit_messages as f64),
    ];
    for (name, v) in gauges {
        ex.push(name, "gauge", &labels, v);
    }
    for c in &s.consumers {
        consumer_family(ex, server_name, &l, c);
    }
}

/// `jetstream_consumer_*`: delivery and acknowledgement state. `num_pending` is the
/// consumer's lag: stream messages matching its filter that it has not delivered yet.
fn consumer_family(ex: &mut Exposition, server_name: &str, parent: &str, c: &ConsumerMetrics) {
    let mut l = parent.to_string();
    push_label(&mut l, "consumer_name", &c.name);
    push_label(&mut l, "consumer_leader", &c.leader);
    push_label(
        &mut l,
        "is_consumer_leader",
        bool_label(c.leader == server_name),
    );
    push_label(&mut l, "consumer_desc", &c.description);
    let labels = Labels::from(l);
    let gauges = [
        (
            "jetstream_consumer_delivered_consumer_seq",
            c.delivered_consumer_seq,
        ),
        (
            "jetstream_consumer_delivered_stream_seq",
            c.delivered_stream_seq,
        ),
        (
            "jetstream_consumer_ack_floor_consumer_seq",
            c.ack_floor_consumer_seq,
        ),
        (
            "jetstream_consumer_ack_floor_stream_seq",
            c.ack_floor_stream_seq,
        ),
        ("jetstream_consumer_num_ack_pending", c.num_ack_pending),
        ("jetstream_consumer_num_redelivered", c.num_redelivered),
        ("jetstream_consumer_num_waiting", c.num_waiting),
        ("jetstream_consumer_num_pending", c.num_pending),
    ];
    for (name, v) in gauges {
        ex.push(name, "gauge", &labels, v as f64);
    }
    // The exporter emits these only once there has been a delivery or an ack.
    let ages = [
        (
            "jetstream_consumer_last_delivery_seconds",
            c.last_delivery_secs,
        ),
        ("jetstream_consumer_last_ack_seconds", c.last_ack_secs),
    ];
    for (name, v) in ages {
        if let Some(v) = v {
            ex.push(name, "gauge", &labels, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_flatten_like_the_exporter() {
        assert_eq!(
            flat_name(&["http_req_stats", "/varz"]),
            "http_req_stats_varz"
        );
        assert_eq!(
            flat_name(&["slow_consumer_stats", "clients"]),
            "slow_consumer_stats_clients"
        );
        assert_eq!(help("gnatsd_varz_in_msgs"), "in_msgs");
    }

    #[test]
    fn render_escapes_labels() {
        let mut ex = Exposition::default();
        ex.add("a_b_c", "gauge", vec![("value".into(), "x\"y".into())], 1.5);
        assert_eq!(
            ex.render(),
            "# HELP a_b_c c\n# TYPE a_b_c gauge\na_b_c{value=\"x\\\"y\"} 1.5\n"
        );
    }
}
