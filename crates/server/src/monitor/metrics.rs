//! `/metrics`: Prometheus text exposition (format 0.0.4) produced natively, with the metric
//! names and labels prometheus-nats-exporter gives the same data, so dashboards built on the
//! exporter work unchanged. The `server_id` label carries the server's id, as the exporter
//! does with `-use_internal_server_id`.
//!
//! `varz`, `subsz` and `routez` follow the exporter's generic rule: every number in the JSON
//! becomes `gnatsd_<endpoint>_<path_joined_by_underscores>`, a few string keys become
//! `{value="..."} 1` gauges and timestamps become epoch milliseconds. `connz`, `healthz`,
//! `accstatz`, `accountz`, `leafz` and JetStream's `jetstream_server_*` use the exporter's
//! dedicated collectors' names. Which families are covered is listed in docs/metrics.md.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use super::connz::{connz, ConnzOptions};
use super::jetstream::{health, HealthzOptions, JszOptions};
use super::meta::GLOBAL_ACCOUNT;
use super::subsz::{subsz, SubszOptions};
use super::Query;
use crate::server::Server;

/// The exporter's default namespace for core server metrics.
const CORE: &str = "gnatsd";
/// The exporter's namespace for `/jsz` metrics.
const JETSTREAM: &str = "jetstream";

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

/// One metric family: its type and samples (label pairs, value).
struct Family {
    kind: &'static str,
    samples: Vec<(Vec<(String, String)>, f64)>,
}

/// Collects families by name and renders them in name order.
#[derive(Default)]
struct Exposition {
    families: BTreeMap<String, Family>,
}

impl Exposition {
    fn add(&mut self, name: &str, kind: &'static str, labels: Vec<(String, String)>, v: f64) {
        let name = sanitize(name);
        self.families
            .entry(name)
            .or_insert_with(|| Family {
                kind,
                samples: Vec::new(),
            })
            .samples
            .push((labels, v));
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
                    for (i, (k, val)) in labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{k}=\"{}\"", escape(val));
                    }
                    out.push('}');
                }
                let _ = writeln!(out, " {}", number(*v));
            }
        }
        out
    }
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

/// `jetstream_server_*`: the exporter's server-level JetStream gauges.
fn jsz_family(ex: &mut Exposition, server: &Server) {
    let report = server
        .monitor
        .jetstream()
        .and_then(|js| js.jsz(&JszOptions::default()).ok());
    let labels = || {
        vec![
            ("server_id".to_string(), server.id.clone()),
            ("server_name".to_string(), server.name.clone()),
            ("cluster".to_string(), String::new()),
            ("domain".to_string(), String::new()),
            ("meta_leader".to_string(), String::new()),
            ("is_meta_leader".to_string(), "true".to_string()),
        ]
    };
    let cfg = |key: &str| {
        report
            .as_ref()
            .and_then(|r| r.config.get(key))
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    };
    let p = |n: &str| format!("{JETSTREAM}_server_{n}");
    let disabled = if report.is_none() { 1.0 } else { 0.0 };
    ex.add(&p("jetstream_disabled"), "gauge", labels(), disabled);
    ex.add(&p("max_memory"), "gauge", labels(), cfg("max_memory"));
    ex.add(&p("max_storage"), "gauge", labels(), cfg("max_storage"));
    let r = report.as_ref();
    ex.add(
        &p("total_streams"),
        "gauge",
        labels(),
        r.map_or(0.0, |r| r.streams as f64),
    );
    ex.add(
        &p("total_consumers"),
        "gauge",
        labels(),
        r.map_or(0.0, |r| r.consumers as f64),
    );
    ex.add(
        &p("total_messages"),
        "gauge",
        labels(),
        r.map_or(0.0, |r| r.messages as f64),
    );
    ex.add(
        &p("total_message_bytes"),
        "gauge",
        labels(),
        r.map_or(0.0, |r| r.bytes as f64),
    );
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
