//! `/connz`: open and recently closed client connections, with nats-server's query
//! parameters (`sort`, `auth`, `subs=1|detail`, `offset`, `limit`, `cid`,
//! `state=open|closed|all`, `user`, `acc`) and its JSON keys and omit-when-empty rules.
//!
//! Open connections come from the server's registry, closed ones from the bounded ring in
//! [`super::meta::ClosedRing`]. Subscription lists are read from the subject index, so a
//! connection task never keeps a second copy. This module only reads server state; the one
//! thing it may cause is an RTT PING to a client whose round trip was never measured, as
//! nats-server does.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::format::{go_duration, ser_opt_time, ser_time, uptime};
use super::meta::{ClosedConn, Identity, GLOBAL_ACCOUNT};
use super::subsz::SubDetail;
use super::{Query, QueryError};
use crate::outbound::{Client, CloseReason};
use crate::server::Server;

/// Default and largest page when `limit` is not given.
pub const DEFAULT_CONN_LIST_SIZE: usize = 1024;

/// One connection in `/connz`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnInfo {
    pub cid: u64,
    pub kind: &'static str,
    #[serde(rename = "type")]
    pub conn_type: &'static str,
    pub ip: String,
    pub port: u16,
    #[serde(serialize_with = "ser_time")]
    pub start: SystemTime,
    #[serde(serialize_with = "ser_time")]
    pub last_activity: SystemTime,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_time"
    )]
    pub stop: Option<SystemTime>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rtt: String,
    pub uptime: String,
    pub idle: String,
    pub pending_bytes: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subscriptions: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tls_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tls_cipher_suite: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls_peer_certs: Vec<crate::tls::PeerCert>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_first: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub authorized_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list_detail: Vec<SubDetail>,
    /// Sort keys that the JSON shows only as text.
    #[serde(skip)]
    pub rtt_ns: u64,
    #[serde(skip)]
    pub uptime_ns: u64,
}

impl Default for ConnInfo {
    fn default() -> Self {
        ConnInfo {
            cid: 0,
            kind: "Client",
            conn_type: "nats",
            ip: String::new(),
            port: 0,
            start: UNIX_EPOCH,
            last_activity: UNIX_EPOCH,
            stop: None,
            reason: String::new(),
            rtt: String::new(),
            uptime: String::new(),
            idle: String::new(),
            pending_bytes: 0,
            in_msgs: 0,
            out_msgs: 0,
            in_bytes: 0,
            out_bytes: 0,
            subscriptions: 0,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            tls_version: String::new(),
            tls_cipher_suite: String::new(),
            tls_peer_certs: Vec::new(),
            tls_first: false,
            authorized_user: String::new(),
            account: String::new(),
            subscriptions_list: Vec::new(),
            subscriptions_list_detail: Vec::new(),
            rtt_ns: 0,
            uptime_ns: 0,
        }
    }
}

#[derive(Serialize)]
pub struct Connz {
    pub server_id: String,
    #[serde(serialize_with = "ser_time")]
    pub now: SystemTime,
    pub num_connections: usize,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    /// `None` only for an unknown `acc`, where nats-server answers `null`.
    pub connections: Option<Vec<ConnInfo>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    Open,
    Closed,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Cid,
    Subs,
    Pending,
    OutMsgs,
    InMsgs,
    OutBytes,
    InBytes,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl SortBy {
    fn parse(s: &str) -> Option<SortBy> {
        Some(match s {
            "cid" | "start" => SortBy::Cid,
            "subs" => SortBy::Subs,
            "pending" => SortBy::Pending,
            "msgs_to" => SortBy::OutMsgs,
            "msgs_from" => SortBy::InMsgs,
            "bytes_to" => SortBy::OutBytes,
            "bytes_from" => SortBy::InBytes,
            "last" => SortBy::Last,
            "idle" => SortBy::Idle,
            "uptime" => SortBy::Uptime,
            "stop" => SortBy::Stop,
            "reason" => SortBy::Reason,
            "rtt" => SortBy::Rtt,
            _ => return None,
        })
    }
}

/// The decoded query of a `/connz` request.
pub struct ConnzOptions {
    sort: SortBy,
    auth: bool,
    subs: bool,
    subs_detail: bool,
    offset: usize,
    limit: usize,
    cid: u64,
    state: ConnState,
    user: String,
    acc: String,
}

impl ConnzOptions {
    pub fn from_query(q: &Query) -> Result<ConnzOptions, QueryError> {
        let sort_text = q.get("sort").unwrap_or("");
        let auth = q.bool("auth")?;
        let (subs, subs_detail) = q.subs()?;
        let offset = q.int("offset")?.max(0) as usize;
        let limit = q.int("limit")?;
        let cid = q.uint("cid")?;
        let state = match q.get("state").map(str::to_lowercase).as_deref() {
            None | Some("") | Some("open") => ConnState::Open,
            Some("closed") => ConnState::Closed,
            Some("any") | Some("all") => ConnState::All,
            Some(_) => {
                let s = q.get("state").unwrap_or_default();
                return Err(QueryError(format!("Error decoding state for {s}")));
            }
        };
        let sort = if sort_text.is_empty() {
            SortBy::Cid
        } else {
            SortBy::parse(sort_text)
                .ok_or_else(|| QueryError(format!("invalid sorting option: {sort_text}")))?
        };
        if sort == SortBy::Stop && state != ConnState::Closed {
            return Err(QueryError(
                "sort by stop only valid on closed connections".into(),
            ));
        }
        if sort == SortBy::Reason && state != ConnState::Closed {
            return Err(QueryError(
                "sort by reason only valid on closed connections".into(),
            ));
        }
        let mut limit = if limit <= 0 {
            DEFAULT_CONN_LIST_SIZE
        } else {
            limit as usize
        };
        if cid > 0 {
            limit = 1;
        }
        Ok(ConnzOptions {
            sort,
            auth,
            subs,
            subs_detail,
            offset,
            limit,
            cid,
            state,
            user: q.get("user").unwrap_or("").to_string(),
            acc: q.get("acc").unwrap_or("").to_string(),
        })
    }
}

/// Builds the `/connz` answer.
pub fn connz(server: &Server, opts: &ConnzOptions) -> Connz {
    let now = SystemTime::now();
    let mut out = Connz {
        server_id: server.id.clone(),
        now,
        num_connections: 0,
        total: 0,
        offset: opts.offset,
        limit: opts.limit,
        connections: Some(Vec::new()),
    };
    if !opts.acc.is_empty() && server.account(&opts.acc).is_none() {
        // nats-server answers an unknown account with an empty shell and a null list.
        out.server_id.clear();
        out.connections = None;
        return out;
    }
    let open = if opts.state != ConnState::Closed {
        server.all_clients()
    } else {
        Vec::new()
    };
    let closed = if opts.state != ConnState::Open {
        server.monitor.closed.all()
    } else {
        Vec::new()
    };
    let mut infos = collect(server, opts, &open, &closed, now);
    sort(&mut infos, opts.sort);
    out.total = infos.len();
    let start = opts.offset.min(infos.len());
    let end = start + opts.limit.min(infos.len() - start);
    let page: Vec<ConnInfo> = infos.drain(start..end).collect();
    out.num_connections = page.len();
    out.connections = Some(page);
    out
}

fn collect(
    server: &Server,
    opts: &ConnzOptions,
    open: &[Arc<Client>],
    closed: &[Arc<ClosedConn>],
    now: SystemTime,
) -> Vec<ConnInfo> {
    let subs_by_cid = if opts.subs || opts.subs_detail {
        subscriptions_by_cid(server)
    } else {
        HashMap::new()
    };
    let mut infos = Vec::with_capacity(open.len() + closed.len());
    let mut found_open = false;
    for c in open {
        if opts.cid > 0 && c.cid != opts.cid {
            continue;
        }
        let identity = c.meta.identity();
        if !opts.user.is_empty() && identity.user.as_deref() != Some(opts.user.as_str()) {
            continue;
        }
        let account = c.meta.account();
        if !opts.acc.is_empty() && account != opts.acc {
            continue;
        }
        let mut info = open_info(c, &identity, now);
        let subs = subs_by_cid.get(&c.cid).map(Vec::as_slice).unwrap_or(&[]);
        add_subs(&mut info, opts, subs);
        if opts.auth {
            info.authorized_user = identity.user.clone().unwrap_or_default();
            if account != GLOBAL_ACCOUNT {
                info.account = account;
            }
            if let Some(t) = c.meta.tls() {
                info.tls_peer_certs = t.peer_certs.clone();
            }
        }
        infos.push(info);
        found_open = true;
    }
    for cc in closed {
        // A cid that is open wins, as in nats-server.
        if (opts.cid > 0 && (cc.info.cid != opts.cid || found_open))
            || (!opts.user.is_empty() && cc.user.as_deref() != Some(opts.user.as_str()))
            || (!opts.acc.is_empty() && cc.account != opts.acc)
        {
            continue;
        }
        let mut info = cc.info.clone();
        add_subs(&mut info, opts, &cc.subs);
        if opts.auth {
            info.authorized_user = cc.user.clone().unwrap_or_default();
            if cc.account != GLOBAL_ACCOUNT {
                info.account = cc.account.clone();
            }
        }
        infos.push(info);
    }
    infos
}

fn add_subs(info: &mut ConnInfo, opts: &ConnzOptions, subs: &[SubDetail]) {
    if opts.subs_detail {
        info.subscriptions_list_detail = subs.to_vec();
    } else if opts.subs {
        info.subscriptions_list = subs.iter().map(|s| s.subject.clone()).collect();
    }
}

/// Every subscription in the subject index grouped by connection, in sid order.
fn subscriptions_by_cid(server: &Server) -> HashMap<u64, Vec<SubDetail>> {
    let mut map: HashMap<u64, Vec<SubDetail>> = HashMap::new();
    for acc in server.accounts() {
        for (_, _, sub) in acc.sublist.all() {
            let detail = SubDetail::client(&sub.0);
            map.entry(detail.cid).or_default().push(detail);
        }
    }
    for subs in map.values_mut() {
        subs.sort_by(|a, b| super::subsz::sid_order(&a.sid, &b.sid));
    }
    map
}

/// The `/connz` entry of an open connection.
pub fn open_info(c: &Client, identity: &Identity, now: SystemTime) -> ConnInfo {
    let meta = &c.meta;
    let last = meta.last_activity();
    let rtt = measured_rtt(c, identity);
    let up = now.duration_since(meta.start).unwrap_or_default();
    ConnInfo {
        cid: c.cid,
        ip: c.addr.ip().to_string(),
        port: c.addr.port(),
        start: meta.start,
        last_activity: last,
        rtt: go_duration(rtt),
        rtt_ns: rtt.as_nanos() as u64,
        uptime: uptime(up),
        uptime_ns: up.as_nanos() as u64,
        idle: uptime(now.duration_since(last).unwrap_or_default()),
        pending_bytes: c.pending_bytes(),
        in_msgs: c
            .counters
            .in_msgs
            .load(std::sync::atomic::Ordering::Relaxed),
        out_msgs: c
            .counters
            .out_msgs
            .load(std::sync::atomic::Ordering::Relaxed),
        in_bytes: c
            .counters
            .in_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
        out_bytes: c
            .counters
            .out_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
        subscriptions: meta.num_subs(),
        name: identity.name.clone(),
        lang: identity.lang.clone(),
        version: identity.version.clone(),
        tls_version: meta
            .tls()
            .map(|t| t.version.to_string())
            .unwrap_or_default(),
        tls_cipher_suite: meta.tls().map(|t| t.cipher.to_string()).unwrap_or_default(),
        tls_first: meta.tls().is_some_and(|t| t.tls_first),
        conn_type: if meta.is_websocket() {
            "websocket"
        } else {
            "nats"
        },
        ..ConnInfo::default()
    }
}

/// The client's round trip as nats-server reports it (microsecond precision below a
/// millisecond). A real client (one that sent `lang`) without a measurement yet gets a PING
/// now, so the next request shows one.
fn measured_rtt(c: &Client, identity: &Identity) -> Duration {
    let rtt = c.meta.rtt();
    if rtt.is_zero() {
        if !identity.lang.is_empty() && !c.is_closing() && !c.meta.ping_outstanding() {
            c.meta.ping_sent();
            c.send_raw(natrium_protocol::encode::PING);
        }
        return Duration::ZERO;
    }
    if rtt > Duration::from_micros(1) && rtt < Duration::from_millis(1) {
        Duration::from_micros(rtt.as_micros() as u64)
    } else {
        rtt
    }
}

/// The ring entry for a connection that just closed.
pub fn closed_info(c: &Client, reason: Option<CloseReason>) -> ClosedConn {
    let now = SystemTime::now();
    let identity = c.meta.identity();
    let mut info = open_info(c, &identity, now);
    info.stop = Some(now);
    info.reason = reason
        .unwrap_or(CloseReason::ClientClosed)
        .as_str()
        .to_string();
    info.pending_bytes = 0;
    ClosedConn {
        info,
        user: identity.user,
        account: c.meta.account(),
        subs: c.meta.take_final_subs(),
    }
}

fn sort(infos: &mut [ConnInfo], by: SortBy) {
    match by {
        SortBy::Cid => infos.sort_by_key(|c| c.cid),
        SortBy::Subs => infos.sort_by_key(|c| Reverse(c.subscriptions)),
        SortBy::Pending => infos.sort_by_key(|c| Reverse(c.pending_bytes)),
        SortBy::OutMsgs => infos.sort_by_key(|c| Reverse(c.out_msgs)),
        SortBy::InMsgs => infos.sort_by_key(|c| Reverse(c.in_msgs)),
        SortBy::OutBytes => infos.sort_by_key(|c| Reverse(c.out_bytes)),
        SortBy::InBytes => infos.sort_by_key(|c| Reverse(c.in_bytes)),
        SortBy::Last => infos.sort_by_key(|c| Reverse(c.last_activity)),
        // Most idle first: the oldest last activity.
        SortBy::Idle => infos.sort_by_key(|c| c.last_activity),
        SortBy::Uptime => infos.sort_by_key(|c| c.uptime_ns),
        SortBy::Stop => infos.sort_by_key(|c| Reverse(c.stop)),
        SortBy::Reason => infos.sort_by(|a, b| a.reason.cmp(&b.reason)),
        SortBy::Rtt => infos.sort_by_key(|c| Reverse(c.rtt_ns)),
    }
}
