//! `/subsz`: the subject index's statistics and, with `subs=1`, its subscriptions
//! (`offset`, `limit`, `test` to keep only those a publish to a literal subject would
//! reach, `acc` to pick an account). Also the `SubDetail` shape that `/connz?subs=detail`
//! shares. Read-only over [`natrium_sublist::Sublist::stats`] and `all`.

use std::cmp::Ordering;
use std::time::SystemTime;

use natrium_sublist::SublistStats;
use serde::Serialize;

use super::format::{ser_float, ser_time};
use super::{Query, QueryError};
use crate::router::Subscription;
use crate::server::Server;

/// Default page size of `subscriptions_list`.
pub const DEFAULT_SUB_LIST_SIZE: usize = 1024;

/// One subscription, as `/subsz` and `/connz?subs=detail` show it.
#[derive(Debug, Clone, Serialize)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account_tag: String,
    pub subject: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub qgroup: String,
    pub sid: String,
    pub msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub cid: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SubDetail {
    /// The per-client form (no account fields), as under `/connz`.
    pub fn client(sub: &Subscription) -> SubDetail {
        let max = sub.max();
        let delivered = sub.delivered();
        SubDetail {
            account: String::new(),
            account_tag: String::new(),
            subject: sub.subject.to_string(),
            qgroup: sub.queue.as_deref().unwrap_or("").to_string(),
            sid: String::from_utf8_lossy(&sub.sid).into_owned(),
            msgs: if max > 0 {
                delivered.min(max)
            } else {
                delivered
            },
            max,
            cid: sub.client.cid,
        }
    }

    /// The server-wide form, naming the account.
    pub fn with_account(sub: &Subscription, account: &str) -> SubDetail {
        SubDetail {
            account: account.into(),
            account_tag: account.into(),
            ..SubDetail::client(sub)
        }
    }
}

/// A connection's live subscriptions in sid order (those that reached their
/// auto-unsubscribe limit are gone from the index and left out).
pub fn client_list<'a>(subs: impl Iterator<Item = &'a Subscription>) -> Vec<SubDetail> {
    let mut list: Vec<SubDetail> = subs
        .filter(|s| s.max() == 0 || s.delivered() < s.max())
        .map(SubDetail::client)
        .collect();
    list.sort_by(|a, b| sid_order(&a.sid, &b.sid));
    list
}

/// Orders sids numerically when both are numbers (clients use counters), else as text.
pub fn sid_order(a: &str, b: &str) -> Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// nats-server's `SublistStats` JSON (without the internal sums).
#[derive(Debug, Clone, Serialize)]
pub struct SublistStatsJson {
    pub num_subscriptions: usize,
    pub num_cache: usize,
    pub num_inserts: u64,
    pub num_removes: u64,
    pub num_matches: u64,
    #[serde(serialize_with = "ser_float")]
    pub cache_hit_rate: f64,
    pub max_fanout: usize,
    #[serde(serialize_with = "ser_float")]
    pub avg_fanout: f64,
}

impl From<SublistStats> for SublistStatsJson {
    fn from(s: SublistStats) -> Self {
        SublistStatsJson {
            num_subscriptions: s.num_subs,
            num_cache: s.num_cache,
            num_inserts: s.num_inserts,
            num_removes: s.num_removes,
            num_matches: s.num_matches,
            cache_hit_rate: s.cache_hit_rate,
            max_fanout: s.max_fanout,
            avg_fanout: s.avg_fanout,
        }
    }
}

#[derive(Serialize)]
pub struct Subsz {
    pub server_id: String,
    #[serde(serialize_with = "ser_time")]
    pub now: SystemTime,
    #[serde(flatten)]
    pub stats: SublistStatsJson,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriptions_list: Option<Vec<SubDetail>>,
}

pub struct SubszOptions {
    subs: bool,
    offset: usize,
    limit: usize,
    test: Option<String>,
    acc: String,
}

impl SubszOptions {
    pub fn from_query(q: &Query) -> Result<SubszOptions, QueryError> {
        let subs = q.bool("subs")?;
        let offset = q.int("offset")?.max(0) as usize;
        let limit = q.int("limit")?;
        let test = q.get("test").filter(|t| !t.is_empty()).map(str::to_string);
        if let Some(t) = &test {
            if !natrium_sublist::is_valid_literal_subject(t) {
                return Err(QueryError(format!(
                    "invalid test subject, must be valid publish subject: {t}"
                )));
            }
        }
        Ok(SubszOptions {
            subs,
            offset,
            limit: if limit <= 0 {
                DEFAULT_SUB_LIST_SIZE
            } else {
                limit as usize
            },
            test,
            acc: q.get("acc").unwrap_or("").to_string(),
        })
    }
}

/// Builds the `/subsz` answer over every account, or the one `acc` names.
pub fn subsz(server: &Server, opts: &SubszOptions) -> Subsz {
    let accounts: Vec<_> = server
        .accounts()
        .into_iter()
        .filter(|a| opts.acc.is_empty() || opts.acc == a.name)
        .collect();
    let mut stats = SublistStats::default();
    for a in &accounts {
        stats.merge(&a.sublist.stats());
    }
    let mut out = Subsz {
        server_id: server.id.clone(),
        now: SystemTime::now(),
        stats: stats.into(),
        total: 0,
        offset: opts.offset,
        limit: opts.limit,
        subscriptions_list: None,
    };
    if !opts.subs {
        return out;
    }
    let mut details: Vec<SubDetail> = accounts
        .iter()
        .flat_map(|a| {
            a.sublist
                .all()
                .into_iter()
                .filter(|(subject, _, _)| {
                    opts.test
                        .as_deref()
                        .is_none_or(|t| natrium_sublist::subject_matches(subject, t))
                })
                .map(|(_, _, sub)| SubDetail::with_account(&sub.0, &a.name))
                .collect::<Vec<_>>()
        })
        .collect();
    details.sort_by(|a, b| a.cid.cmp(&b.cid).then_with(|| sid_order(&a.sid, &b.sid)));
    out.total = details.len();
    let start = opts.offset.min(details.len());
    let end = start + opts.limit.min(details.len() - start);
    let page: Vec<SubDetail> = details.drain(start..end).collect();
    // nats-server leaves an empty list out of the JSON.
    out.subscriptions_list = Some(page).filter(|p| !p.is_empty());
    out
}
