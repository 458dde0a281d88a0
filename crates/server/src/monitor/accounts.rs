//! `/accountz` (the account list, or one account's detail with `acc=`) and `/accstatz`
//! (per-account connection and traffic totals; `unused=1` includes idle accounts).
//!
//! Every account is listed: `$G`, the configured ones and the system account, each with
//! its own connection, subscription and traffic counters.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Serialize;

use super::format::ser_time;
use super::subsz::SublistStatsJson;
use super::{Query, QueryError};
use crate::server::Server;

#[derive(Serialize)]
pub struct Accountz {
    pub server_id: String,
    #[serde(serialize_with = "ser_time")]
    pub now: SystemTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_detail: Option<AccountInfo>,
}

#[derive(Serialize)]
pub struct AccountInfo {
    pub account_name: String,
    #[serde(serialize_with = "ser_time")]
    pub update_time: SystemTime,
    pub expired: bool,
    pub complete: bool,
    pub jetstream_enabled: bool,
    pub leafnode_connections: usize,
    pub client_connections: usize,
    pub subscriptions: usize,
    pub name_tag: String,
    pub sublist_stats: SublistStatsJson,
}

/// Builds `/accountz`; an unknown `acc` is an error, as in nats-server.
pub fn accountz(server: &Server, q: &Query) -> Result<Accountz, QueryError> {
    let mut out = Accountz {
        server_id: server.id.clone(),
        now: SystemTime::now(),
        system_account: server.system_account.clone(),
        accounts: None,
        account_detail: None,
    };
    let name = q.get("acc").unwrap_or("");
    if name.is_empty() {
        out.accounts = Some(server.accounts().iter().map(|a| a.name.clone()).collect());
        return Ok(out);
    }
    let Some(acc) = server.account(name) else {
        return Err(QueryError(format!("Account {name} does not exist")));
    };
    out.account_detail = Some(AccountInfo {
        account_name: acc.name.clone(),
        update_time: server.start_time,
        expired: false,
        complete: true,
        jetstream_enabled: acc.jetstream.get().is_some(),
        leafnode_connections: 0,
        client_connections: acc.connections.load(Ordering::Relaxed) as usize,
        subscriptions: acc.sublist.count(),
        name_tag: acc.name.clone(),
        sublist_stats: acc.sublist.stats().into(),
    });
    Ok(out)
}

#[derive(Serialize)]
pub struct AccountStatz {
    pub server_id: String,
    #[serde(serialize_with = "ser_time")]
    pub now: SystemTime,
    pub account_statz: Vec<AccountStat>,
}

#[derive(Serialize, Clone, Copy, Default)]
pub struct MsgBytes {
    pub msgs: u64,
    pub bytes: u64,
}

#[derive(Serialize)]
pub struct DataStats {
    pub msgs: u64,
    pub bytes: u64,
    pub gateways: MsgBytes,
    pub routes: MsgBytes,
    pub leafs: MsgBytes,
}

impl DataStats {
    fn clients_only(msgs: u64, bytes: u64) -> DataStats {
        DataStats {
            msgs,
            bytes,
            gateways: MsgBytes::default(),
            routes: MsgBytes::default(),
            leafs: MsgBytes::default(),
        }
    }
}

#[derive(Serialize)]
pub struct AccountStat {
    pub acc: String,
    pub name: String,
    pub conns: usize,
    pub leafnodes: usize,
    pub total_conns: usize,
    pub num_subscriptions: usize,
    pub sent: DataStats,
    pub received: DataStats,
    pub slow_consumers: u64,
}

/// Builds `/accstatz`. `acc` (comma separated) selects accounts, `unused` includes those
/// without connections.
pub fn accstatz(server: &Server, q: &Query) -> Result<AccountStatz, QueryError> {
    let unused = q.bool("unused")?;
    let wanted: Option<Vec<String>> = q
        .get("acc")
        .filter(|a| !a.is_empty())
        .map(|a| a.split(',').map(|n| n.trim().to_string()).collect());
    let mut out = AccountStatz {
        server_id: server.id.clone(),
        now: SystemTime::now(),
        account_statz: Vec::new(),
    };
    for acc in server.accounts() {
        if wanted.as_ref().is_some_and(|w| !w.contains(&acc.name)) {
            continue;
        }
        let conns = acc.connections.load(Ordering::Relaxed) as usize;
        if !unused && conns == 0 {
            continue;
        }
        let m = &acc.stats;
        out.account_statz.push(AccountStat {
            acc: acc.name.clone(),
            name: acc.name.clone(),
            conns,
            leafnodes: 0,
            total_conns: conns,
            num_subscriptions: acc.sublist.count(),
            sent: DataStats::clients_only(
                m.out_msgs.load(Ordering::Relaxed),
                m.out_bytes.load(Ordering::Relaxed),
            ),
            received: DataStats::clients_only(
                m.in_msgs.load(Ordering::Relaxed),
                m.in_bytes.load(Ordering::Relaxed),
            ),
            slow_consumers: 0,
        });
    }
    Ok(out)
}
