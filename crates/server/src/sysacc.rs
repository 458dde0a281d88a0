//! The system account's requests: what `nats server list|ping|report`, nats-top and
//! other tools send over NATS instead of HTTP.
//!
//! - `$SYS.REQ.SERVER.PING` answers `{"server": {...}, "statsz": {...}}`;
//! - `$SYS.REQ.SERVER.PING.<X>` and `$SYS.REQ.SERVER.<id>.<X>` with X one of VARZ, CONNZ,
//!   SUBSZ, JSZ, HEALTHZ, ACCOUNTZ, ACCSTATZ, LEAFZ, ROUTEZ, GATEWAYZ, STATSZ answer
//!   `{"server": {...}, "data": <the monitoring endpoint's JSON>}`; IDZ answers the bare
//!   server identity;
//! - `$SYS.REQ.ACCOUNT.<acc>.<X>` (X in CONNZ, SUBSZ, JSZ, INFO, STATZ, LEAFZ) scopes the
//!   same data to one account; `<acc>` = `PING` means every account.
//!
//! A request body may carry the endpoint's options as JSON (nats-server's option field
//! names) and, for the PING forms, a server filter (`server_name`, `host`, `cluster`,
//! `tags`, `domain`); a server the filter excludes stays silent. The subjects live in the
//! system account's subject index, so only its users can ask.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use natrium_jetstream::{Handler, InMsg, Outlet};
use serde_json::{json, Map, Value};

use crate::monitor::format::rfc3339;
use crate::monitor::{render, Query};
use crate::outbound::Client;
use crate::outlet::ServerOutlet;
use crate::server::Server;
use crate::server_info::NATS_VERSION;

/// How often `$SYS.SERVER.<id>.STATSZ` goes out.
const STATSZ_INTERVAL: Duration = Duration::from_secs(10);
/// How often each account with connections announces its `CONNS` count (nats-server: 30 s).
const ACCOUNT_CONNS_INTERVAL: Duration = Duration::from_secs(30);

/// Subscribes the request handlers in the system account, starts the periodic STATSZ and
/// installs the connection events. No-op without a system account.
pub fn start(server: &Arc<Server>) -> Result<(), String> {
    let Some(acc) = server
        .system_account
        .as_deref()
        .and_then(|n| server.account(n))
    else {
        return Ok(());
    };
    let outlet = Arc::new(ServerOutlet::new(server, acc));
    let seq = Arc::new(AtomicU64::new(0));
    let events = Arc::new(Events {
        server: Arc::downgrade(server),
        outlet: outlet.clone(),
        seq: seq.clone(),
    });
    let _ = server.events.set(events.clone());
    let heartbeat = events.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(STATSZ_INTERVAL);
        loop {
            tick.tick().await;
            if !heartbeat.statsz() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(ACCOUNT_CONNS_INTERVAL);
        tick.tick().await;
        loop {
            tick.tick().await;
            if !events.account_heartbeats() {
                break;
            }
        }
    });
    let mut subjects = vec![
        "$SYS.REQ.SERVER.PING".to_string(),
        "$SYS.REQ.SERVER.PING.*".to_string(),
        format!("$SYS.REQ.SERVER.{}.*", server.id),
        "$SYS.REQ.ACCOUNT.*.*".to_string(),
    ];
    if let Some(mode) = &server.operator {
        subjects.push("$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE".into());
        subjects.push("$SYS.ACCOUNT.*.CLAIMS.UPDATE".into());
        if matches!(mode.resolver, natrium_config::ResolverConfig::Full { .. }) {
            for s in ["UPDATE", "LIST", "DELETE"] {
                subjects.push(format!("$SYS.REQ.CLAIMS.{s}"));
            }
            subjects.push("$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP".into());
        }
    }
    for subject in subjects {
        let weak = Arc::downgrade(server);
        let out = Arc::downgrade(&outlet);
        let seq = seq.clone();
        let handler: Handler = Arc::new(move |m: InMsg| {
            let (Some(server), Some(out)) = (weak.upgrade(), out.upgrade()) else {
                return false;
            };
            let Some(reply) = m.reply.clone() else {
                return true;
            };
            // Monitoring work can be heavy (connz over many clients): off the publisher.
            let seq = seq.clone();
            tokio::task::spawn_blocking(move || {
                if let Some(body) = answer(&server, &m.subject, &m.payload, &seq) {
                    out.publish(&reply, None, None, Bytes::from(body));
                }
            });
            true
        });
        outlet.subscribe(&subject, handler)?;
    }
    // The outlet owns the subscriptions for the server's lifetime.
    std::mem::forget(outlet);
    Ok(())
}

/// The response to one request, or `None` when this server does not answer it.
fn answer(server: &Arc<Server>, subject: &str, body: &[u8], seq: &AtomicU64) -> Option<Vec<u8>> {
    let tokens: Vec<&str> = subject.split('.').collect();
    if tokens.contains(&"CLAIMS") {
        return claims(server, &tokens, body, seq);
    }
    let opts: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            _ => return Some(error_body(server, seq, 400, "invalid request")),
        }
    };
    let tokens: Vec<&str> = subject.split('.').collect();
    match tokens.as_slice() {
        ["$SYS", "REQ", "SERVER", "PING"] => {
            if !filter_matches(server, &opts) {
                return None;
            }
            let statsz = statsz(server);
            Some(envelope(server, seq, "statsz", statsz))
        }
        ["$SYS", "REQ", "SERVER", target, kind] => {
            if *target == "PING" && !filter_matches(server, &opts) {
                return None;
            }
            if *target != "PING" && *target != server.id {
                return None;
            }
            if *kind == "IDZ" {
                return serde_json::to_vec(&identity(server)).ok();
            }
            Some(match server_data(server, kind, &opts) {
                Some(Ok(data)) => envelope(server, seq, "data", data),
                Some(Err(e)) => error_body(server, seq, 400, &e),
                None => return None,
            })
        }
        ["$SYS", "REQ", "ACCOUNT", acc, kind] => {
            if *kind == "INFO" && server.account(acc).is_none() {
                // nats-server: data null, then a 500 naming the account.
                let mut m = Map::new();
                m.insert("server".into(), server_info(server, seq));
                m.insert("data".into(), Value::Null);
                m.insert(
                    "error".into(),
                    json!({ "code": 500, "description": format!("Account {acc} does not exist") }),
                );
                return serde_json::to_vec(&Value::Object(m)).ok();
            }
            let acc = (*acc != "PING").then_some(*acc);
            Some(match account_data(server, acc, kind, &opts) {
                Some(Ok(data)) => envelope(server, seq, "data", data),
                Some(Err(e)) => error_body(server, seq, 400, &e),
                None => return None,
            })
        }
        _ => None,
    }
}

/// The resolver's requests (operator mode): update, lookup, list, delete.
fn claims(server: &Arc<Server>, tokens: &[&str], body: &[u8], seq: &AtomicU64) -> Option<Vec<u8>> {
    use crate::operator;
    let mode = server.operator.as_ref()?;
    let with = |key: &str, v: Value| {
        let mut m = Map::new();
        m.insert("server".into(), server_info(server, seq));
        m.insert(key.into(), v);
        serde_json::to_vec(&Value::Object(m)).ok()
    };
    let update =
        |expected: Option<&str>| match operator::update_claims(server, mode, body, expected) {
            Ok(account) => {
                let known = mode.accounts.read().contains_key(&account);
                let message = if known {
                    "jwt updated"
                } else {
                    "jwt update skipped"
                };
                with(
                    "data",
                    json!({ "account": account, "code": 200, "message": message }),
                )
            }
            Err((account, description)) => {
                crate::error!("{description}");
                with(
                    "error",
                    json!({ "account": account, "code": 500, "description": description }),
                )
            }
        };
    match tokens {
        ["$SYS", "REQ", "CLAIMS", "UPDATE"] => update(None),
        ["$SYS", "REQ", "ACCOUNT", acc, "CLAIMS", "UPDATE"]
        | ["$SYS", "ACCOUNT", acc, "CLAIMS", "UPDATE"] => update(Some(acc)),
        ["$SYS", "REQ", "ACCOUNT", acc, "CLAIMS", "LOOKUP"] => {
            Some(operator::lookup(mode, acc).unwrap_or_default().into_bytes())
        }
        ["$SYS", "REQ", "CLAIMS", "LIST"] => {
            // nats-server answers with a map: "data" sorts before "server".
            let ids = operator::list(mode);
            crate::debug!("list request responded with {} account ids", ids.len());
            let mut m = Map::new();
            m.insert("data".into(), ids.into());
            m.insert("server".into(), server_info(server, seq));
            serde_json::to_vec(&Value::Object(m)).ok()
        }
        ["$SYS", "REQ", "CLAIMS", "DELETE"] => match operator::delete_claims(server, mode, body) {
            Ok(n) => with(
                "data",
                json!({ "code": 200, "message": format!("deleted {n} accounts") }),
            ),
            Err(description) => with("error", json!({ "code": 500, "description": description })),
        },
        _ => None,
    }
}

/// `{"name","host","id"}`: who this server is.
fn identity(server: &Server) -> Value {
    json!({ "name": server.name, "host": server.options().host, "id": server.id })
}

/// nats-server's `ServerInfo` header of every system message.
fn server_info(server: &Server, seq: &AtomicU64) -> Value {
    let opts = server.options();
    let js = server.jetstream_enabled.get().is_some();
    let mut v = json!({
        "name": server.name,
        "host": opts.host,
        "id": server.id,
        "ver": NATS_VERSION,
        "jetstream": js,
        "flags": u8::from(js),
        "seq": seq.fetch_add(1, Ordering::Relaxed) + 1,
        "time": rfc3339(SystemTime::now()),
    });
    if let Some(o) = v.as_object_mut() {
        if let Some(d) = opts.jetstream_domain.as_ref().filter(|_| js) {
            o.insert("domain".into(), d.clone().into());
        }
        if !opts.tags.is_empty() {
            o.insert("tags".into(), opts.tags.clone().into());
        }
    }
    v
}

/// The answer to `$SYS.REQ.USER.INFO`, which nats-server serves in every account: the
/// connection that asked supplies `data` (who it is, its account and permissions).
pub fn user_info(server: &Server, data: Value) -> Vec<u8> {
    let unnumbered = AtomicU64::new(0);
    let seq = server.events.get().map_or(&unnumbered, |e| &*e.seq);
    envelope(server, seq, "data", data)
}

fn envelope(server: &Server, seq: &AtomicU64, key: &str, data: Value) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("server".into(), server_info(server, seq));
    m.insert(key.into(), data);
    serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
}

fn error_body(server: &Server, seq: &AtomicU64, code: u16, text: &str) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("server".into(), server_info(server, seq));
    m.insert("error".into(), json!({ "code": code, "description": text }));
    serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
}

/// True unless the request's server filter excludes this server.
fn filter_matches(server: &Server, f: &Map<String, Value>) -> bool {
    let opts = server.options();
    let text = |k: &str| f.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    if let Some(name) = text("server_name") {
        if !server.name.contains(name) {
            return false;
        }
    }
    if let Some(host) = text("host") {
        if !opts.host.contains(host) {
            return false;
        }
    }
    // Natrium has no cluster yet: a cluster filter matches nothing.
    if text("cluster").is_some() {
        return false;
    }
    if let Some(domain) = text("domain") {
        if opts.jetstream_domain.as_deref() != Some(domain) {
            return false;
        }
    }
    if let Some(tags) = f.get("tags").and_then(Value::as_array) {
        let want = tags.iter().filter_map(Value::as_str);
        if !want
            .into_iter()
            .all(|t| opts.tags.iter().any(|o| o.eq_ignore_ascii_case(t)))
        {
            return false;
        }
    }
    true
}

/// Renders a monitoring endpoint and parses its JSON.
fn endpoint(server: &Server, path: &str, q: &Query) -> Result<Value, String> {
    let r = render(server, path, q);
    if r.status == 400 {
        return Err(String::from_utf8_lossy(&r.body).into_owned());
    }
    let mut v: Value = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
    if path == "/healthz" {
        // Over NATS the HTTP status travels in the body.
        if let Some(o) = v.as_object_mut() {
            o.entry("status_code").or_insert(r.status.into());
        }
    }
    Ok(v)
}

/// The monitoring endpoint behind a request kind, with the request body's options turned
/// into its query parameters. `None` for kinds without an endpoint.
fn endpoint_for(kind: &str, o: &Map<String, Value>) -> Option<(&'static str, Query)> {
    let mut q = Query::parse(None);
    let path = match kind {
        "VARZ" => "/varz",
        "CONNZ" => {
            connz_query(&mut q, o);
            "/connz"
        }
        "SUBSZ" => {
            subsz_query(&mut q, o);
            "/subsz"
        }
        "JSZ" => {
            jsz_query(&mut q, o);
            "/jsz"
        }
        "HEALTHZ" => {
            healthz_query(&mut q, o);
            "/healthz"
        }
        "ACCOUNTZ" => {
            copy(&mut q, o, "account", "acc");
            "/accountz"
        }
        "ACCSTATZ" | "STATZ" => {
            accstatz_query(&mut q, o);
            "/accstatz"
        }
        "LEAFZ" => "/leafz",
        "ROUTEZ" => "/routez",
        "GATEWAYZ" => "/gatewayz",
        _ => return None,
    };
    Some((path, q))
}

/// `$SYS.REQ.SERVER.*.<kind>` data; `None` for kinds nobody answers.
fn server_data(
    server: &Server,
    kind: &str,
    o: &Map<String, Value>,
) -> Option<Result<Value, String>> {
    if kind == "STATSZ" {
        return Some(Ok(statsz(server)));
    }
    if kind == "STATZ" {
        return None;
    }
    let (path, q) = endpoint_for(kind, o)?;
    Some(endpoint(server, path, &q))
}

/// `$SYS.REQ.ACCOUNT.<acc>.<kind>` data (`acc` `None`: every account).
fn account_data(
    server: &Server,
    acc: Option<&str>,
    kind: &str,
    o: &Map<String, Value>,
) -> Option<Result<Value, String>> {
    if kind == "INFO" {
        let mut q = Query::parse(None);
        q.push("acc", acc?);
        return Some(
            endpoint(server, "/accountz", &q)
                .map(|v| v.get("account_detail").cloned().unwrap_or(Value::Null)),
        );
    }
    if !matches!(kind, "CONNZ" | "SUBSZ" | "JSZ" | "LEAFZ" | "STATZ") {
        return None;
    }
    let (path, mut q) = endpoint_for(kind, o)?;
    if let Some(name) = acc {
        q.push("acc", name);
    }
    if kind == "JSZ" {
        q.push("accounts", "true");
    }
    Some(endpoint(server, path, &q))
}

/// `$SYS.REQ.SERVER.PING`'s statistics, from the same numbers as `/varz`.
fn statsz(server: &Server) -> Value {
    let v = endpoint(server, "/varz", &Query::parse(None)).unwrap_or_default();
    let n = |k: &str| v.get(k).cloned().unwrap_or(Value::from(0));
    let active = server
        .accounts()
        .iter()
        .filter(|a| a.connections.load(Ordering::Relaxed) > 0)
        .count();
    let mut s = json!({
        "start": n("start"),
        "mem": n("mem"),
        "cores": n("cores"),
        "cpu": n("cpu"),
        "connections": n("connections"),
        "total_connections": n("total_connections"),
        "active_accounts": active,
        "subscriptions": n("subscriptions"),
        "sent": { "msgs": n("out_msgs"), "bytes": n("out_bytes") },
        "sent_to_clients": { "msgs": n("out_msgs"), "bytes": n("out_bytes") },
        "received": { "msgs": n("in_msgs"), "bytes": n("in_bytes") },
        "received_from_clients": { "msgs": n("in_msgs"), "bytes": n("in_bytes") },
        "slow_consumers": n("slow_consumers"),
        "active_servers": 1,
    });
    if let (Some(o), Some(js)) = (s.as_object_mut(), v.get("jetstream")) {
        if js.get("config").is_some() {
            let mut js = js.clone();
            if let Some(c) = js.get_mut("config").and_then(Value::as_object_mut) {
                // STATSZ leaves the store directory out.
                c.remove("store_dir");
            }
            o.insert("jetstream".into(), js);
        }
        o.insert("gomaxprocs".into(), n("gomaxprocs"));
    }
    s
}

/// Copies option `from` of the request body into query parameter `to`.
fn copy(q: &mut Query, o: &Map<String, Value>, from: &str, to: &str) {
    match o.get(from) {
        Some(Value::String(s)) if !s.is_empty() => q.push(to, s),
        Some(Value::Bool(true)) => q.push(to, "true"),
        Some(Value::Number(n)) if n.as_i64() != Some(0) => q.push(to, &n.to_string()),
        _ => {}
    }
}

fn connz_query(q: &mut Query, o: &Map<String, Value>) {
    for (from, to) in [
        ("sort", "sort"),
        ("auth", "auth"),
        ("offset", "offset"),
        ("limit", "limit"),
        ("cid", "cid"),
        ("user", "user"),
        ("acc", "acc"),
        ("filter_subject", "filter_subject"),
    ] {
        copy(q, o, from, to);
    }
    if o.get("subscriptions_detail") == Some(&Value::Bool(true)) {
        q.push("subs", "detail");
    } else {
        copy(q, o, "subscriptions", "subs");
    }
    // nats-server's ConnState: 0 open, 1 closed, 2 all.
    match o.get("state").and_then(Value::as_i64) {
        Some(1) => q.push("state", "closed"),
        Some(2) => q.push("state", "all"),
        _ => {}
    }
}

fn subsz_query(q: &mut Query, o: &Map<String, Value>) {
    copy(q, o, "subscriptions", "subs");
    copy(q, o, "offset", "offset");
    copy(q, o, "limit", "limit");
    copy(q, o, "test", "test");
    copy(q, o, "account", "acc");
}

fn jsz_query(q: &mut Query, o: &Map<String, Value>) {
    for (from, to) in [
        ("account", "acc"),
        ("accounts", "accounts"),
        ("streams", "streams"),
        ("consumer", "consumers"),
        ("config", "config"),
        ("leader_only", "leader-only"),
        ("offset", "offset"),
        ("limit", "limit"),
        ("raft", "raft"),
    ] {
        copy(q, o, from, to);
    }
}

fn healthz_query(q: &mut Query, o: &Map<String, Value>) {
    for (from, to) in [
        ("js-enabled-only", "js-enabled-only"),
        ("js_enabled_only", "js-enabled-only"),
        ("js-server-only", "js-server-only"),
        ("js_server_only", "js-server-only"),
        ("account", "account"),
        ("stream", "stream"),
        ("consumer", "consumer"),
        ("details", "details"),
    ] {
        copy(q, o, from, to);
    }
}

fn accstatz_query(q: &mut Query, o: &Map<String, Value>) {
    if let Some(list) = o.get("accounts").and_then(Value::as_array) {
        let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
        if !names.is_empty() {
            q.push("acc", &names.join(","));
        }
    }
    copy(q, o, "include_unused", "unused");
}

/// Publishes the system account's events: client connect/disconnect, account connection
/// counts and the periodic server statistics. Nothing is built when nobody listens.
pub struct Events {
    server: Weak<Server>,
    outlet: Arc<ServerOutlet>,
    seq: Arc<AtomicU64>,
}

impl Events {
    fn send(&self, subject: &str, body: Value) {
        self.outlet
            .publish(subject, None, None, Bytes::from(body.to_string()));
    }

    /// Publishes `$SYS.SERVER.<id>.STATSZ`; false once the server is gone.
    fn statsz(&self) -> bool {
        let Some(server) = self.server.upgrade() else {
            return false;
        };
        let subject = format!("$SYS.SERVER.{}.STATSZ", server.id);
        if self.outlet.has_interest(&subject) {
            let mut m = Map::new();
            m.insert("server".into(), server_info(&server, &self.seq));
            m.insert("statsz".into(), statsz(&server));
            self.send(&subject, Value::Object(m));
        }
        true
    }

    /// The periodic `CONNS` advisory of every account with local connections; false once
    /// the server is gone.
    fn account_heartbeats(&self) -> bool {
        let Some(server) = self.server.upgrade() else {
            return false;
        };
        for acc in server.accounts() {
            if acc.connections.load(Ordering::Relaxed) > 0 {
                self.account_conns(&server, &acc.name);
            }
        }
        true
    }

    /// An advisory body: type, id, timestamp and the server header.
    fn advisory(&self, server: &Server, kind: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "type".into(),
            format!("io.nats.server.advisory.v1.{kind}").into(),
        );
        m.insert("id".into(), crate::account::random_token(22).into());
        m.insert("timestamp".into(), rfc3339(SystemTime::now()).into());
        m.insert("server".into(), server_info(server, &self.seq));
        m
    }

    /// `$SYS.ACCOUNT.<acc>.CONNECT` after a client authenticated, then the account's
    /// connection count.
    pub fn client_connect(&self, c: &Client, account: &str) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        let subject = format!("$SYS.ACCOUNT.{account}.CONNECT");
        if self.outlet.has_interest(&subject) {
            let mut m = self.advisory(&server, "client_connect");
            m.insert("client".into(), client_info(c, account, false));
            self.send(&subject, Value::Object(m));
        }
        self.account_conns(&server, account);
    }

    /// `$SYS.ACCOUNT.<acc>.DISCONNECT` with the client's totals and why it closed.
    pub fn client_disconnect(&self, c: &Client, account: &str, reason: &str) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        let subject = format!("$SYS.ACCOUNT.{account}.DISCONNECT");
        if self.outlet.has_interest(&subject) {
            let k = &c.counters;
            let mut m = self.advisory(&server, "client_disconnect");
            m.insert("client".into(), client_info(c, account, true));
            m.insert(
                "sent".into(),
                json!({ "msgs": k.in_msgs.load(Ordering::Relaxed), "bytes": k.in_bytes.load(Ordering::Relaxed) }),
            );
            m.insert(
                "received".into(),
                json!({ "msgs": k.out_msgs.load(Ordering::Relaxed), "bytes": k.out_bytes.load(Ordering::Relaxed) }),
            );
            m.insert("reason".into(), reason.into());
            self.send(&subject, Value::Object(m));
        }
        self.account_conns(&server, account);
    }

    /// A failed authentication: a `client_disconnect` advisory on
    /// `$SYS.SERVER.<id>.CLIENT.AUTH.ERR` and on `$SYS.ACCOUNT.$G.DISCONNECT`, as nats-server.
    pub fn auth_error(&self, c: &Client, user: Option<&str>, reason: &str) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        let subjects = [
            format!("$SYS.SERVER.{}.CLIENT.AUTH.ERR", server.id),
            format!("$SYS.ACCOUNT.{}.DISCONNECT", crate::account::GLOBAL_ACCOUNT),
        ];
        if !subjects.iter().any(|s| self.outlet.has_interest(s)) {
            return;
        }
        let mut m = self.advisory(&server, "client_disconnect");
        let mut client = client_info(c, crate::account::GLOBAL_ACCOUNT, true);
        if let (Some(o), Some(u)) = (client.as_object_mut(), user) {
            o.insert("user".into(), u.into());
        }
        m.insert("client".into(), client);
        m.insert("sent".into(), json!({ "msgs": 0, "bytes": 0 }));
        m.insert("received".into(), json!({ "msgs": 0, "bytes": 0 }));
        m.insert("reason".into(), reason.into());
        let body = Value::Object(m);
        for s in &subjects {
            self.send(s, body.clone());
        }
    }

    /// `$SYS.ACCOUNT.<acc>.SERVER.CONNS` and `$SYS.SERVER.ACCOUNT.<acc>.CONNS`.
    fn account_conns(&self, server: &Server, account: &str) {
        let subjects = [
            format!("$SYS.ACCOUNT.{account}.SERVER.CONNS"),
            format!("$SYS.SERVER.ACCOUNT.{account}.CONNS"),
        ];
        if !subjects.iter().any(|s| self.outlet.has_interest(s)) {
            return;
        }
        let mut q = Query::parse(None);
        q.push("acc", account);
        q.push("unused", "true");
        let Ok(v) = endpoint(server, "/accstatz", &q) else {
            return;
        };
        let Some(Value::Object(stat)) = v["account_statz"].get(0).cloned() else {
            return;
        };
        let mut m = self.advisory(server, "account_connections");
        m.extend(stat);
        let body = Value::Object(m);
        for s in &subjects {
            self.send(s, body.clone());
        }
    }
}

/// nats-server's `ClientInfo` of a JetStream API audit advisory.
pub(crate) fn audit_client_info(c: &Client, server: &str) -> Value {
    let mut v = identity_info(c, &c.meta.account());
    if let Some(o) = v.as_object_mut() {
        o.insert("rtt".into(), (c.meta.rtt().as_nanos() as u64).into());
        o.insert("server".into(), server.into());
        o.insert("kind".into(), "Client".into());
        o.insert("client_type".into(), "nats".into());
    }
    v
}

/// nats-server's `ClientInfo` of an event.
fn client_info(c: &Client, account: &str, stopped: bool) -> Value {
    let mut v = identity_info(c, account);
    if let Some(o) = v.as_object_mut() {
        if stopped {
            o.insert("rtt".into(), (c.meta.rtt().as_nanos() as u64).into());
            o.insert("stop".into(), rfc3339(SystemTime::now()).into());
        }
        o.insert("name_tag".into(), account.into());
        o.insert("kind".into(), "Client".into());
        o.insert("client_type".into(), "nats".into());
    }
    v
}

/// The fields every `ClientInfo` starts with: when, from where, who.
fn identity_info(c: &Client, account: &str) -> Value {
    let id = c.meta.identity();
    let mut v = json!({
        "start": rfc3339(c.meta.start),
        "host": c.addr.ip().to_string(),
        "id": c.cid,
        "acc": account,
    });
    if let Some(o) = v.as_object_mut() {
        let mut text = |k: &str, s: &str| {
            if !s.is_empty() {
                o.insert(k.into(), s.into());
            }
        };
        text("user", id.user.as_deref().unwrap_or(""));
        text("name", &id.name);
        text("lang", &id.lang);
        text("ver", &id.version);
    }
    v
}
