//! Pull consumer priority groups (ADR-42; nats-server 2.11+): the `overflow`,
//! `pinned_client` and `prioritized` policies.
//!
//! This module owns the rules: which priority configs a consumer may have, which priority
//! fields a pull request may carry, the pin of a `pinned_client` consumer (its id, when it
//! was given and when it lapses) and which waiting request gets the next message. It holds
//! no lock, reads no clock and does no I/O: the consumer calls it with its runtime state
//! locked, passing the time, and sends the status messages it returns.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::consumer::PullRequest;
use crate::errors::{self as e, ApiError};
use crate::types::{response, ConsumerConfig, PriorityPolicy};
use crate::JetStream;

/// How long a pinned client keeps its pin without pulling, when the config does not say.
pub const DEFAULT_PINNED_TTL_NS: i64 = 120_000_000_000;
/// Longest priority group name, as nats-server's group name pattern allows.
const GROUP_NAME_MAX: usize = 16;
/// Highest `priority` a pull request may ask for; 0 is served first.
const PRIORITY_MAX: i64 = 9;
/// A request without priority fields (a bare batch size) ranks after every `priority`.
const PRIORITY_UNSET: i64 = i64::MAX;

/// The priority fields of a JSON pull request (`group`, `min_pending`, `min_ack_pending`,
/// `id`, `priority`). A request with a bare batch size has none.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct PullGroup {
    pub group: String,
    pub min_pending: i64,
    pub min_ack_pending: i64,
    pub id: String,
    pub priority: i64,
}

/// The pin of a `pinned_client` consumer: the client that pulls with `id` gets every message
/// until it stops pulling for the consumer's `priority_timeout` or an UNPIN request.
#[derive(Debug, Clone)]
pub struct Pin {
    pub id: String,
    pub group: String,
    /// When it was given, unix nanoseconds (consumer info `pinned_ts`).
    pub ts_ns: i64,
    pub lapses: Instant,
}

/// True for a name nats-server accepts as a priority group: 1 to 16 of `A-Z a-z 0-9 - _ / =`.
pub fn valid_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= GROUP_NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/' | b'='))
}

/// nats-server's defaults: a negative timeout counts as unset, and a `pinned_client`
/// consumer without one gets two minutes.
pub fn normalize(cfg: &mut ConsumerConfig) {
    if cfg.priority_timeout < 0 {
        cfg.priority_timeout = 0;
    }
    if cfg.priority_policy == PriorityPolicy::PinnedClient && cfg.priority_timeout == 0 {
        cfg.priority_timeout = DEFAULT_PINNED_TTL_NS;
    }
}

/// The priority part of consumer validation, in nats-server's order.
pub fn validate(cfg: &ConsumerConfig) -> Result<(), ApiError> {
    if cfg.priority_policy.is_none() {
        if !cfg.priority_groups.is_empty() {
            return Err(e::JS_CONSUMER_PRIORITY_GROUP_WITH_POLICY_NONE.err());
        }
        if cfg.priority_timeout > 0 {
            return Err(e::JS_CONSUMER_PINNED_TTL_WITHOUT_PRIORITY_POLICY_NONE.err());
        }
        return Ok(());
    }
    if !cfg.is_pull() {
        return Err(e::JS_CONSUMER_PUSH_WITH_PRIORITY_GROUP.err());
    }
    if cfg.priority_groups.is_empty() {
        return Err(e::JS_CONSUMER_PRIORITY_POLICY_WITHOUT_GROUP.err());
    }
    for group in &cfg.priority_groups {
        if group.is_empty() {
            return Err(e::JS_CONSUMER_EMPTY_GROUP_NAME.err());
        }
        if !valid_group_name(group) {
            return Err(e::JS_CONSUMER_INVALID_GROUP_NAME.err());
        }
    }
    Ok(())
}

/// Checks a pull request's priority fields when it arrives; `Err` is the status line to
/// answer it with. A request that carries the current pin id renews the pin.
pub fn check_request(
    cfg: &ConsumerConfig,
    group: Option<&PullGroup>,
    pin: Option<&mut Pin>,
    now: Instant,
) -> Result<(), &'static str> {
    let Some(g) = group else { return Ok(()) };
    let policy = cfg.priority_policy;
    if (g.min_pending != 0 || g.min_ack_pending != 0) && policy != PriorityPolicy::Overflow {
        return Err("400 Bad Request - Not a Overflow Priority consumer");
    }
    if !g.id.is_empty() && policy != PriorityPolicy::PinnedClient {
        return Err("400 Bad Request - Not a Pinned Client Priority consumer");
    }
    if !(0..=PRIORITY_MAX).contains(&g.priority) {
        return Err("400 Bad Request - Priority must be between 0 and 9");
    }
    if policy.is_none() {
        return Ok(());
    }
    if g.group.is_empty() {
        return Err("400 Bad Request - Priority Group missing");
    }
    if !cfg.priority_groups.contains(&g.group) {
        return Err("400 Bad Request - Invalid Priority Group");
    }
    if let Some(pin) = pin {
        if g.id == pin.id {
            pin.lapses = now + ttl(cfg);
        } else if !g.id.is_empty() {
            return Err("423 Nats-Pin-Id mismatch");
        }
    }
    Ok(())
}

/// The consumer's pin timeout.
pub fn ttl(cfg: &ConsumerConfig) -> Duration {
    Duration::from_nanos(cfg.priority_timeout.max(1) as u64)
}

/// A new pin for `group`, given now (monotonic, and unix nanoseconds).
pub fn new_pin(cfg: &ConsumerConfig, group: &str, now: Instant, now_ns: i64) -> Pin {
    Pin {
        id: crate::api::random_name(),
        group: group.to_string(),
        ts_ns: now_ns,
        lapses: now + ttl(cfg),
    }
}

/// Queues a new request: by `priority` (then arrival) for `prioritized`, else at the end.
pub fn enqueue(policy: PriorityPolicy, waiting: &mut VecDeque<PullRequest>, req: PullRequest) {
    if policy != PriorityPolicy::Prioritized {
        waiting.push_back(req);
        return;
    }
    let rank = rank_of(&req);
    let at = waiting.iter().position(|r| rank_of(r) > rank);
    waiting.insert(at.unwrap_or(waiting.len()), req);
}

/// After a delivery to `waiting[index]`, a `prioritized` consumer moves the request behind
/// the others of its priority so equal priorities take turns.
pub fn requeue(policy: PriorityPolicy, waiting: &mut VecDeque<PullRequest>, index: usize) {
    if policy != PriorityPolicy::Prioritized {
        return;
    }
    if let Some(req) = waiting.remove(index) {
        enqueue(policy, waiting, req);
    }
}

fn rank_of(req: &PullRequest) -> i64 {
    req.group.as_ref().map_or(PRIORITY_UNSET, |g| g.priority)
}

/// Which waiting request gets the next message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub index: usize,
    /// The request becomes the pinned client if the message is delivered to it.
    pub takes_pin: bool,
}

/// What a choice may look at besides the queue.
pub struct Counts {
    /// Messages not yet delivered, including the one about to be.
    pub num_pending: u64,
    /// Messages delivered and not yet acknowledged.
    pub ack_pending: usize,
}

/// Picks the request for the next message, in queue order. Finished requests are dropped;
/// under `pinned_client`, a request carrying a stale pin id is dropped and gets a `423`
/// (returned in `rejected` as reply subject and status pairs), and requests without an id
/// wait while another client holds the pin.
pub fn choose(
    policy: PriorityPolicy,
    waiting: &mut VecDeque<PullRequest>,
    pin: Option<&Pin>,
    counts: &Counts,
    rejected: &mut Vec<(String, i64, i64)>,
) -> Option<Choice> {
    let mut i = 0;
    while i < waiting.len() {
        let req = &waiting[i];
        if req.delivered >= req.batch {
            waiting.remove(i);
            continue;
        }
        let id = req.group.as_ref().map_or("", |g| g.id.as_str());
        match policy {
            PriorityPolicy::PinnedClient => match pin {
                // Nobody holds the pin: the first request without an id takes it (a bare
                // batch request is served without taking it, as nats-server does).
                None if id.is_empty() => {
                    let takes_pin = req.group.as_ref().is_some_and(|g| !g.group.is_empty());
                    return Some(Choice {
                        index: i,
                        takes_pin,
                    });
                }
                Some(p) if id == p.id => {
                    return Some(Choice {
                        index: i,
                        takes_pin: false,
                    })
                }
                Some(_) if id.is_empty() => i += 1,
                _ => {
                    let r = waiting.remove(i).expect("index checked");
                    rejected.push((r.reply, r.batch - r.delivered, r.max_bytes.max(0)));
                }
            },
            PriorityPolicy::Overflow if !overflow_ready(req, counts) => i += 1,
            _ => {
                return Some(Choice {
                    index: i,
                    takes_pin: false,
                })
            }
        }
    }
    None
}

/// An `overflow` request is served when it has no thresholds or either one is reached.
fn overflow_ready(req: &PullRequest, counts: &Counts) -> bool {
    let Some(g) = &req.group else { return true };
    if g.min_pending <= 0 && g.min_ack_pending <= 0 {
        return true;
    }
    (g.min_pending > 0 && g.min_pending as u64 <= counts.num_pending)
        || (g.min_ack_pending > 0 && g.min_ack_pending as u64 <= counts.ack_pending as u64)
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct UnpinRequest {
    group: String,
}

/// `$JS.API.CONSUMER.UNPIN.<stream>.<consumer>` with `{"group": ...}`: drops the group's
/// pin so a waiting request takes over. Checks in nats-server's order.
pub fn unpin_request(
    js: &JetStream,
    stream: &str,
    name: &str,
    payload: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let req: UnpinRequest = crate::api::decode(payload)?;
    if req.group.is_empty() {
        return Err(e::JS_INVALID_JSON.with("consumer group not specified"));
    }
    if !valid_group_name(&req.group) {
        return Err(e::JS_CONSUMER_INVALID_GROUP_NAME.err());
    }
    let s = js
        .stream(stream)
        .ok_or_else(|| e::JS_STREAM_NOT_FOUND.err())?;
    let c = s
        .consumer(name)
        .ok_or_else(|| e::JS_CONSUMER_NOT_FOUND.err())?;
    if !c.config.priority_groups.contains(&req.group) {
        return Err(e::JS_CONSUMER_INVALID_PRIORITY_GROUP.err());
    }
    c.unpin(js, &req.group);
    Ok(response("consumer_unpin_response", &serde_json::json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(reply: &str, group: Option<PullGroup>) -> PullRequest {
        PullRequest {
            reply: reply.into(),
            batch: 10,
            max_bytes: 0,
            expires: None,
            no_wait: false,
            heartbeat: None,
            next_heartbeat: None,
            delivered: 0,
            group,
        }
    }

    fn grp(id: &str, priority: i64, min_pending: i64, min_ack_pending: i64) -> Option<PullGroup> {
        Some(PullGroup {
            group: "A".into(),
            min_pending,
            min_ack_pending,
            id: id.into(),
            priority,
        })
    }

    fn counts(num_pending: u64, ack_pending: usize) -> Counts {
        Counts {
            num_pending,
            ack_pending,
        }
    }

    #[test]
    fn group_names() {
        assert!(valid_group_name("A"));
        assert!(valid_group_name("a-b_c/d=e0123456"));
        assert!(!valid_group_name(""));
        assert!(!valid_group_name("a.b"));
        assert!(!valid_group_name("abcdefghijklmnopq"));
    }

    #[test]
    fn prioritized_queue_orders_by_priority_then_arrival() {
        let mut q = VecDeque::new();
        let p = PriorityPolicy::Prioritized;
        enqueue(p, &mut q, req("bare", None));
        enqueue(p, &mut q, req("five", grp("", 5, 0, 0)));
        enqueue(p, &mut q, req("one", grp("", 1, 0, 0)));
        enqueue(p, &mut q, req("one-b", grp("", 1, 0, 0)));
        let order: Vec<_> = q.iter().map(|r| r.reply.as_str()).collect();
        assert_eq!(order, ["one", "one-b", "five", "bare"]);
        requeue(p, &mut q, 0);
        let order: Vec<_> = q.iter().map(|r| r.reply.as_str()).collect();
        assert_eq!(order, ["one-b", "one", "five", "bare"]);
    }

    #[test]
    fn overflow_waits_for_either_threshold() {
        let mut q = VecDeque::from([req("a", grp("", 0, 10, 5))]);
        let p = PriorityPolicy::Overflow;
        let mut rej = Vec::new();
        assert_eq!(choose(p, &mut q, None, &counts(9, 4), &mut rej), None);
        assert!(choose(p, &mut q, None, &counts(10, 0), &mut rej).is_some());
        assert!(choose(p, &mut q, None, &counts(0, 5), &mut rej).is_some());
        q.push_front(req("b", grp("", 0, 100, 0)));
        let c = choose(p, &mut q, None, &counts(10, 0), &mut rej).unwrap();
        assert_eq!(q[c.index].reply, "a");
    }

    #[test]
    fn pinned_client_takes_serves_and_rejects() {
        let p = PriorityPolicy::PinnedClient;
        let mut rej = Vec::new();
        // Without a pin: a stale id is rejected, the next request without one takes it.
        let mut q = VecDeque::from([
            req("old", grp("gone", 0, 0, 0)),
            req("new", grp("", 0, 0, 0)),
        ]);
        let c = choose(p, &mut q, None, &counts(1, 0), &mut rej).unwrap();
        assert_eq!((q[c.index].reply.as_str(), c.takes_pin), ("new", true));
        assert_eq!(rej, vec![("old".to_string(), 10, 0)]);
        // With a pin: standbys wait, the holder is served.
        let pin = Pin {
            id: "pin".into(),
            group: "A".into(),
            ts_ns: 1,
            lapses: Instant::now(),
        };
        let mut q = VecDeque::from([
            req("standby", grp("", 0, 0, 0)),
            req("holder", grp("pin", 0, 0, 0)),
        ]);
        let c = choose(p, &mut q, Some(&pin), &counts(1, 0), &mut rej).unwrap();
        assert_eq!((q[c.index].reply.as_str(), c.takes_pin), ("holder", false));
        q.remove(c.index);
        assert_eq!(choose(p, &mut q, Some(&pin), &counts(1, 0), &mut rej), None);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn request_checks() {
        let cfg = ConsumerConfig {
            priority_policy: PriorityPolicy::PinnedClient,
            priority_groups: vec!["A".into()],
            priority_timeout: 1_000_000_000,
            ..Default::default()
        };
        let now = Instant::now();
        let bad = |g: PullGroup| check_request(&cfg, Some(&g), None, now).unwrap_err();
        assert_eq!(
            bad(PullGroup {
                min_pending: 1,
                group: "A".into(),
                ..Default::default()
            }),
            "400 Bad Request - Not a Overflow Priority consumer"
        );
        assert_eq!(
            bad(PullGroup::default()),
            "400 Bad Request - Priority Group missing"
        );
        assert_eq!(
            bad(PullGroup {
                group: "B".into(),
                ..Default::default()
            }),
            "400 Bad Request - Invalid Priority Group"
        );
        let mut pin = new_pin(&cfg, "A", now, 1);
        let wrong = PullGroup {
            group: "A".into(),
            id: "nope".into(),
            ..Default::default()
        };
        assert_eq!(
            check_request(&cfg, Some(&wrong), Some(&mut pin), now),
            Err("423 Nats-Pin-Id mismatch")
        );
        let later = now + Duration::from_millis(500);
        let right = PullGroup {
            group: "A".into(),
            id: pin.id.clone(),
            ..Default::default()
        };
        assert_eq!(
            check_request(&cfg, Some(&right), Some(&mut pin), later),
            Ok(())
        );
        assert_eq!(pin.lapses, later + Duration::from_secs(1));
    }
}
