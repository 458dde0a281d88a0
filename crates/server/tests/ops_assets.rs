//! The operational assets in `deploy/` against the real binary: every metric name that a
//! Grafana panel, a dashboard variable or a Prometheus alert rule queries must be a family
//! that natrium-server's `/metrics` actually exports (after JetStream activity, so the
//! JetStream families are present), and the dashboard must have the shape Grafana imports.
//!
//! PromQL is not parsed in full here: a small scanner pulls out the identifiers that can only
//! be metric names (it skips strings, label matchers, ranges, numbers and durations, Grafana
//! variables, function and aggregation names, keywords, and the label lists after `by`,
//! `without`, `on`, `ignoring`, `group_left`, `group_right`). promtool checks the syntax
//! (`scripts/check-alerts`). The alert file is read line by line in the style it documents,
//! which avoids a YAML dependency for one test; promtool validates it as YAML.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use serde_json::Value;

use common::{temp_dir, TestServer};

/// Series that Prometheus itself adds to every scrape target; assets may use them.
const PROMETHEUS_SYNTHETIC: &[&str] = &["up"];

fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

// ---------------------------------------------------------------------------------------
// PromQL metric-name scanner
// ---------------------------------------------------------------------------------------

/// Words that are never metric names when they stand alone.
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
    "atan2",
    "inf",
    "nan",
    // Aggregation operators may be followed by `by (...)` before their `(`.
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// Keywords whose following parenthesised list holds label names, not expressions.
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Returns the index just past the bracket group that opens at `i` (`open` at `s[i]`),
/// skipping quoted strings inside it.
fn skip_group(s: &[u8], mut i: usize, open: u8, close: u8) -> usize {
    let mut depth = 0usize;
    while i < s.len() {
        match s[i] {
            b'"' | b'\'' | b'`' => {
                i = skip_string(s, i);
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    panic!(
        "unbalanced {} in {:?}",
        open as char,
        String::from_utf8_lossy(s)
    );
}

/// Returns the index just past the quoted string that starts at `i`.
fn skip_string(s: &[u8], i: usize) -> usize {
    let quote = s[i];
    let mut j = i + 1;
    while j < s.len() {
        if s[j] == b'\\' && quote != b'`' {
            j += 2;
            continue;
        }
        if s[j] == quote {
            return j + 1;
        }
        j += 1;
    }
    panic!("unterminated string in {:?}", String::from_utf8_lossy(s));
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// The metric names an expression selects.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let s = expr.as_bytes();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        match c {
            b'"' | b'\'' | b'`' => i = skip_string(s, i),
            b'{' => i = skip_group(s, i, b'{', b'}'),
            b'[' => i = skip_group(s, i, b'[', b']'),
            // A Grafana variable: `$name`, `$__rate_interval` or `${name}`.
            b'$' => {
                i += 1;
                if s.get(i) == Some(&b'{') {
                    i = skip_group(s, i, b'{', b'}');
                } else {
                    while i < s.len() && is_ident_char(s[i]) {
                        i += 1;
                    }
                }
            }
            // A number or duration (`1000`, `0.8`, `1e3`, `5m`, `1h30m`).
            b'0'..=b'9' | b'.' => {
                while i < s.len() && (is_ident_char(s[i]) || s[i] == b'.') {
                    i += 1;
                }
            }
            c if is_ident_start(c) => {
                let start = i;
                while i < s.len() && is_ident_char(s[i]) {
                    i += 1;
                }
                let word = &expr[start..i];
                let mut next = i;
                while next < s.len() && s[next].is_ascii_whitespace() {
                    next += 1;
                }
                let lower = word.to_ascii_lowercase();
                if LABEL_LIST_KEYWORDS.contains(&lower.as_str()) {
                    if s.get(next) == Some(&b'(') {
                        i = skip_group(s, next, b'(', b')');
                    }
                } else if s.get(next) == Some(&b'(') || KEYWORDS.contains(&lower.as_str()) {
                    // A function call or an operator keyword.
                } else {
                    names.insert(word.to_string());
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// The expressions inside a Grafana Prometheus variable query: `label_values(expr, label)`
/// selects from `expr`; `label_values(label)` and `label_names()` select nothing;
/// `query_result(expr)` runs `expr`.
fn variable_query_exprs(query: &str) -> Vec<String> {
    let q = query.trim();
    let inner = |prefix: &str| -> Option<&str> { q.strip_prefix(prefix)?.strip_suffix(')') };
    if let Some(args) = inner("label_values(") {
        // The label is the last argument; everything before the last comma is the selector.
        return match args.rfind(',') {
            Some(comma) => vec![args[..comma].to_string()],
            None => vec![],
        };
    }
    if let Some(expr) = inner("query_result(") {
        return vec![expr.to_string()];
    }
    if q.starts_with("label_names(") || q.starts_with("metrics(") {
        return vec![];
    }
    vec![q.to_string()]
}

/// One table-driven check per scanner case: the expression and the names it must yield.
fn check_names(expr: &str, want: &[&str]) {
    let got = metric_names(expr);
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    assert_eq!(got, want, "metric names of {expr:?}");
}

#[test]
fn scanner_finds_metric_names_only() {
    check_names("up", &["up"]);
    check_names(r#"up{job="natrium"} == 0"#, &["up"]);
    check_names(
        r#"rate(gnatsd_varz_in_msgs{instance=~"$instance",server_id=~"$server"}[$__rate_interval])"#,
        &["gnatsd_varz_in_msgs"],
    );
    check_names(
        "sum by (instance, job) (rate(a_total[5m])) / on (instance) group_left(version) b_info",
        &["a_total", "b_info"],
    );
    check_names(
        "changes((max by (instance) (gnatsd_varz_start))[15m:1m]) > 0",
        &["gnatsd_varz_start"],
    );
    check_names("x / (y > 0) > 0.80", &["x", "y"]);
    check_names(
        "time() - max without(server_id) (s) / 1000 offset 5m",
        &["s"],
    );
    check_names(
        r#"label_replace(m, "dst", "$1", "src", "(.*)") and bool n unless o"#,
        &["m", "n", "o"],
    );
    check_names("topk(5, q) or vector(1) + 1e3 + Inf", &["q"]);
    check_names("${datasource_metric}", &[]);
    check_names("ns:recorded:rate5m", &["ns:recorded:rate5m"]);
    assert_eq!(
        variable_query_exprs(
            r#"label_values(gnatsd_varz_start{instance=~"$instance"}, server_id)"#
        ),
        vec![r#"gnatsd_varz_start{instance=~"$instance"}"#.to_string()]
    );
    assert!(variable_query_exprs("label_values(instance)").is_empty());
}

// ---------------------------------------------------------------------------------------
// Reading the assets
// ---------------------------------------------------------------------------------------

/// One alerting rule as the rules file states it.
#[derive(Debug, Default)]
struct AlertRule {
    name: String,
    expr: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

/// Reads the alerting rules of a Prometheus rules file written in the documented style:
/// `- alert: NAME` items whose keys are `expr` (inline or a `|`/`>` block), `for`, `labels`
/// and `annotations` (maps of one-line scalars).
fn read_alert_rules(text: &str) -> Vec<AlertRule> {
    let lines: Vec<&str> = text.lines().collect();
    let mut rules: Vec<AlertRule> = Vec::new();
    let mut section: Option<(String, usize)> = None; // ("labels" | "annotations" | "expr", indent)
    for line in &lines {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = indent_of(line);
        if let Some(name) = trimmed.strip_prefix("- alert:") {
            rules.push(AlertRule {
                name: unquote(name),
                ..Default::default()
            });
            section = None;
            continue;
        }
        let Some(rule) = rules.last_mut() else {
            continue;
        };
        if let Some((kind, key_indent)) = &section {
            if indent > *key_indent {
                if kind == "expr" {
                    rule.expr.push_str(trimmed);
                    rule.expr.push(' ');
                } else {
                    let (k, v) = trimmed
                        .split_once(':')
                        .unwrap_or_else(|| panic!("{}: bad {kind} line {line:?}", rule.name));
                    let map = if kind == "labels" {
                        &mut rule.labels
                    } else {
                        &mut rule.annotations
                    };
                    map.insert(k.trim().to_string(), unquote(v));
                }
                continue;
            }
            section = None;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        match key.trim() {
            "expr" if matches!(value.trim(), "|" | ">" | "|-" | ">-") => {
                section = Some(("expr".into(), indent));
            }
            "expr" => rule.expr = unquote(value),
            "labels" | "annotations" => section = Some((key.trim().to_string(), indent)),
            _ => {}
        }
    }
    rules
}

/// A panel's or variable's PromQL, labelled with where it came from.
fn dashboard_exprs(dash: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in all_panels(dash) {
        let title = panel["title"].as_str().unwrap_or("?");
        for t in panel["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {title:?}: target without expr"));
            out.push((format!("panel {title:?}"), expr.to_string()));
        }
    }
    for var in dash["templating"]["list"].as_array().unwrap() {
        if var["type"] != "query" {
            continue;
        }
        let name = var["name"].as_str().unwrap();
        let query = match &var["query"] {
            Value::String(q) => q.clone(),
            q => q["query"].as_str().expect("variable query").to_string(),
        };
        let mut queries = vec![query];
        if let Some(def) = var["definition"].as_str() {
            queries.push(def.to_string());
        }
        for q in queries {
            for expr in variable_query_exprs(&q) {
                out.push((format!("variable ${name}"), expr));
            }
        }
    }
    out
}

/// Every panel, including those nested in collapsed rows.
fn all_panels(dash: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().expect("panels array") {
        out.push(p);
        for nested in p["panels"].as_array().into_iter().flatten() {
            out.push(nested);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The server's families
// ---------------------------------------------------------------------------------------

/// Starts a JetStream server with monitoring, creates a stream with messages and a pull
/// consumer with unacknowledged deliveries, and returns the metric names `/metrics` exports.
async fn exported_families() -> BTreeSet<String> {
    let dir = temp_dir("ops-assets");
    let s = TestServer::start(&["-js", "-sd", dir.to_str().unwrap(), "-m", "-1"]);
    let port = s.monitor_port.expect("monitor port in the log");
    let nc = async_nats::connect(s.url()).await.unwrap();
    let js = jetstream::new(nc);
    let st = js
        .create_stream(stream::Config {
            name: "OPS".into(),
            subjects: vec!["ops.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..10 {
        js.publish(format!("ops.{i}"), "payload".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let c = st
        .create_consumer(consumer::pull::Config {
            durable_name: Some("ops-worker".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = c.fetch().max_messages(3).messages().await.unwrap();
    while let Some(m) = batch.next().await {
        m.unwrap();
    }
    let r = common::http::get(port, "/metrics").await;
    assert_eq!(r.status, 200, "/metrics: {}", r.body);
    let body = r.body;
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
        .expect("valid exposition text");
    let value = |name: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
    };
    // The activity is visible, so the JetStream families are the live ones.
    assert_eq!(value("jetstream_server_total_streams"), Some(1.0), "{body}");
    assert_eq!(
        value("jetstream_server_total_messages"),
        Some(10.0),
        "{body}"
    );
    assert_eq!(
        value("jetstream_server_total_consumers"),
        Some(1.0),
        "{body}"
    );
    // The per-stream and per-consumer families the lag panels and alert use.
    assert_eq!(
        value("jetstream_stream_total_messages"),
        Some(10.0),
        "{body}"
    );
    assert_eq!(value("jetstream_consumer_num_pending"), Some(7.0), "{body}");
    assert_eq!(
        value("jetstream_consumer_num_ack_pending"),
        Some(3.0),
        "{body}"
    );
    std::fs::remove_dir_all(&dir).ok();
    scrape.samples.iter().map(|s| s.metric.clone()).collect()
}

/// Asserts that every metric name in `exprs` is exported; lists all offenders at once.
fn assert_all_exported(what: &str, exprs: &[(String, String)], families: &BTreeSet<String>) {
    let mut missing = Vec::new();
    let mut used = 0;
    for (origin, expr) in exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{what} {origin}: no metric in {expr:?}");
        for name in names {
            used += 1;
            if !families.contains(&name) && !PROMETHEUS_SYNTHETIC.contains(&name.as_str()) {
                missing.push(format!("{origin}: {name} (in {expr:?})"));
            }
        }
    }
    assert!(used > 0, "{what}: no metric names found");
    assert!(
        missing.is_empty(),
        "{what} references metrics natrium-server does not export:\n{}\nexported: {families:?}",
        missing.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------

fn load_dashboard() -> Value {
    let path = repo_path("deploy/grafana/natrium-dashboard.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?} is not JSON: {e}"))
}

fn load_alert_rules() -> Vec<AlertRule> {
    let path = repo_path("deploy/prometheus/natrium-alerts.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    read_alert_rules(&text)
}

#[test]
fn dashboard_has_the_shape_grafana_imports() {
    let dash = load_dashboard();
    assert!(dash["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(dash["uid"].as_str().is_some_and(|u| !u.is_empty()));
    let schema = dash["schemaVersion"].as_u64().expect("schemaVersion");
    assert!(schema >= 39, "schemaVersion {schema} predates Grafana 11");
    let vars = dash["templating"]["list"]
        .as_array()
        .expect("templating.list");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("template variable {name} missing"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    for name in ["server", "instance"] {
        assert_eq!(var(name)["type"], "query", "${name}");
        assert_eq!(var(name)["datasource"]["uid"], "${datasource}", "${name}");
    }
    let mut ids = BTreeSet::new();
    let panels = all_panels(&dash);
    assert!(panels.len() > 10, "only {} panels", panels.len());
    for p in panels {
        let title = p["title"].as_str().expect("panel title");
        let id = p["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("{title:?}: no id"));
        assert!(ids.insert(id), "{title:?}: duplicate panel id {id}");
        let kind = p["type"]
            .as_str()
            .unwrap_or_else(|| panic!("{title:?}: no type"));
        let grid = &p["gridPos"];
        for k in ["h", "w", "x", "y"] {
            assert!(grid[k].is_u64(), "{title:?}: gridPos.{k}");
        }
        let (x, w) = (grid["x"].as_u64().unwrap(), grid["w"].as_u64().unwrap());
        assert!(
            w > 0 && x + w <= 24,
            "{title:?}: outside the 24-column grid"
        );
        if kind == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["type"], "prometheus", "{title:?}");
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title:?}");
        let targets = p["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("{title:?}"));
        assert!(!targets.is_empty(), "{title:?}: no targets");
        let mut refs = BTreeSet::new();
        for t in targets {
            let r = t["refId"]
                .as_str()
                .unwrap_or_else(|| panic!("{title:?}: refId"));
            assert!(refs.insert(r), "{title:?}: duplicate refId {r}");
        }
    }
}

#[test]
fn alert_rules_have_severity_and_annotations() {
    let rules = load_alert_rules();
    assert!(rules.len() >= 5, "{rules:?}");
    let mut names = BTreeSet::new();
    for r in &rules {
        assert!(names.insert(r.name.clone()), "duplicate alert {}", r.name);
        assert!(!r.expr.trim().is_empty(), "{}: no expr", r.name);
        let severity = r.labels.get("severity").map(String::as_str);
        assert!(
            matches!(severity, Some("critical" | "warning" | "info")),
            "{}: severity {severity:?}",
            r.name
        );
        for k in ["summary", "description"] {
            assert!(
                r.annotations.get(k).is_some_and(|v| !v.is_empty()),
                "{}: annotation {k} missing",
                r.name
            );
        }
    }
}

#[tokio::test]
async fn assets_reference_only_exported_metrics() {
    let families = exported_families().await;
    let dash = load_dashboard();
    assert_all_exported("dashboard", &dashboard_exprs(&dash), &families);
    let rules: Vec<(String, String)> = load_alert_rules()
        .into_iter()
        .map(|r| (format!("alert {}", r.name), r.expr))
        .collect();
    assert_all_exported("alert rules", &rules, &families);
}
