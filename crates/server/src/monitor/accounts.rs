//! `/accountz` (the account list, or one account's detail with `acc=`) and `/accstatz`
//! (per-account connection and traffic totals; `unused=1` includes idle accounts).
//!
//! Until accounts and the system account are implemented every client is in the global
//! account `$G`, so its numbers are the server's. `system_account` is left out (nats-server
//! omits it too when there is none) rather than naming an account that does not exist.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Serialize;

use super::format::ser_time;
use super::meta::GLOBAL_ACCOUNT;
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
        system_account: None,
        accounts: None,
        account_detail: None,
    };
    let acc = q.get("acc").unwrap_or("");
    if acc.is_empty() {
        out.accounts = Some(vec![GLOBAL_ACCOUNT.to_string()]);
        return Ok(out);
    }
    if acc != GLOBAL_ACCOUNT {
        return Err(QueryError(format!("Account {acc} does not exist")));
    }
    out.account_detail = Some(AccountInfo {
        account_name: GLOBAL_ACCOUNT.into(),
        update_time: server.start_time,
        expired: false,
        complete: true,
        jetstream_enabled: super::jetstream::jetstream_running(server),
        leafnode_connections: 0,
        client_connections: server.num_clients(),
        subscriptions: server.sublist.count(),
        name_tag: GLOBAL_ACCOUNT.into(),
        sublist_stats: server.sublist.stats().into(),
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
    let selected = q
        .get("acc")
        .filter(|a| !a.is_empty())
        .map(|a| a.split(',').any(|n| n.trim() == GLOBAL_ACCOUNT))
        .unwrap_or(true);
    let conns = server.num_clients();
    let mut out = AccountStatz {
        server_id: server.id.clone(),
        now: SystemTime::now(),
        account_statz: Vec::new(),
    };
    if selected && (unused || conns > 0) {
        let m = &server.stats.msgs;
        out.account_statz.push(AccountStat {
            acc: GLOBAL_ACCOUNT.into(),
            name: GLOBAL_ACCOUNT.into(),
            conns,
            leafnodes: 0,
            total_conns: conns,
            num_subscriptions: server.sublist.count(),
            sent: DataStats::clients_only(
                m.out_msgs.load(Ordering::Relaxed),
                m.out_bytes.load(Ordering::Relaxed),
            ),
            received: DataStats::clients_only(
                m.in_msgs.load(Ordering::Relaxed),
                m.in_bytes.load(Ordering::Relaxed),
            ),
            slow_consumers: server.stats.slow_consumers.load(Ordering::Relaxed),
        });
    }
    Ok(out)
}
