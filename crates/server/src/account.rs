//! Accounts: isolated subject spaces, and the imports that join them.
//!
//! Every connection binds to one account at CONNECT (the global account `$G` unless its user
//! belongs to an `accounts` entry). Each account has its own subject index, so a message
//! published in one account never reaches a subscriber in another, except through an
//! import of the other account's export. Imports are subscriptions with a forwarding kind
//! ([`Forward`]) placed in the subject index of the account messages come from:
//!
//! - a **stream import** of B's `orders.>` by A sits in B's index on `orders.>`; each match
//!   is published again into A under the local subject (`prefix.` or `to` mapping);
//! - a **service import** by A of B's `q.x` (locally `to`) sits in A's index on the local
//!   subject; a request is published into B on the export subject with its reply replaced
//!   by `_R_.<B's prefix>.<token>`, and B's one response subscription on `_R_.<prefix>.>`
//!   sends answers back to A on the original reply subject (once for singleton exports,
//!   until the response threshold passes for stream and chunked ones).
//!
//! Forwarding runs on the publisher's task like any delivery, with a hop limit against
//! import cycles. References between accounts are weak so reloading configuration can drop
//! accounts.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use natrium_config::{AccountJetStream, ResponseType};
use natrium_sublist::Sublist;
use parking_lot::Mutex;

use crate::outbound::Counters;
use crate::router::SubRef;

/// The account of clients that are not bound to a configured account.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// The system account's name unless `system_account` names another.
pub const DEFAULT_SYSTEM_ACCOUNT: &str = "$SYS";
/// The subject prefix of rewritten reply subjects for service imports.
const RESPONSE_PREFIX: &str = "_R_.";
/// Sweep expired response routes after this many new ones.
const RESPONSE_SWEEP_EVERY: u64 = 1024;

pub struct Account {
    pub name: String,
    pub sublist: Sublist<SubRef>,
    /// Messages and bytes received from and delivered to this account's clients.
    pub stats: Counters,
    /// Live client connections bound to the account.
    pub connections: AtomicU64,
    /// JetStream limits from the account's `jetstream` key, if it has one.
    pub jetstream_limits: Option<AccountJetStream>,
    /// Subject mappings applied to what the account's clients publish, first match wins.
    /// Subject mappings, replaced when an account JWT is updated; `has_mappings` lets a
    /// publish skip the lock when there are none.
    mappings: parking_lot::RwLock<Vec<natrium_sublist::WeightedMapping>>,
    has_mappings: std::sync::atomic::AtomicBool,
    /// This account's JetStream, when it is enabled for it.
    pub jetstream: OnceLock<Arc<natrium_jetstream::JetStream>>,
    /// `_R_.<random>.`: replies of requests that reached this account through a service
    /// import start with it.
    response_prefix: String,
    responses: Mutex<Responses>,
}

#[derive(Default)]
struct Responses {
    routes: HashMap<String, ResponseRoute>,
    /// The subscription on `<prefix>>`, created with the first route.
    sub: Option<SubRef>,
    added: u64,
}

/// Where the answers to one imported request go.
struct ResponseRoute {
    account: Weak<Account>,
    reply: String,
    kind: ResponseType,
    expires: Instant,
}

/// What a forwarding subscription does with a message it matched.
pub enum Forward {
    /// Publish into `to` under the import's local subject.
    Stream {
        to: Weak<Account>,
        /// The import subject (a pattern in the exporting account).
        subject: String,
        /// The local subject pattern in `to`; `None` keeps the subject.
        local: Option<String>,
    },
    /// Publish into the exporting account `to`, with the reply rewritten.
    Service {
        from: Weak<Account>,
        to: Weak<Account>,
        /// The local subject pattern (what the subscription is on).
        local: String,
        /// The export subject pattern in `to`.
        remote: String,
        response: ResponseType,
        threshold: Duration,
    },
    /// The response subscription of `account`: route answers back to requesters.
    Responses { account: Weak<Account> },
}

/// A forwarded message: the account to route into and the subjects to use there.
pub struct Forwarded {
    pub account: Arc<Account>,
    pub subject: String,
    pub reply: Option<String>,
}

impl Account {
    pub fn new(name: &str, cache: bool, jetstream_limits: Option<AccountJetStream>) -> Account {
        Account {
            name: name.to_string(),
            sublist: if cache {
                Sublist::new()
            } else {
                Sublist::new_no_cache()
            },
            stats: Counters::default(),
            connections: AtomicU64::new(0),
            jetstream_limits,
            mappings: parking_lot::RwLock::new(Vec::new()),
            has_mappings: std::sync::atomic::AtomicBool::new(false),
            jetstream: OnceLock::new(),
            response_prefix: format!("{RESPONSE_PREFIX}{}.", random_token(6)),
            responses: Mutex::new(Responses::default()),
        }
    }

    /// The subject a publish to `subject` goes to after the account's mappings; `None`
    /// when a weighted mapping drops it.
    pub fn map_subject<'a>(&self, subject: &'a str) -> Option<std::borrow::Cow<'a, str>> {
        use natrium_sublist::Choice;
        if !self.has_mappings.load(std::sync::atomic::Ordering::Relaxed) {
            return Some(std::borrow::Cow::Borrowed(subject));
        }
        for m in self.mappings.read().iter() {
            match m.choose(subject, rand::random_range(0..100)) {
                Choice::NoMatch => continue,
                Choice::Mapped(s) => return Some(std::borrow::Cow::Owned(s)),
                Choice::Dropped => return None,
            }
        }
        Some(std::borrow::Cow::Borrowed(subject))
    }

    /// Replaces the account's subject mappings.
    pub fn set_mappings(&self, list: Vec<natrium_sublist::WeightedMapping>) {
        let has = !list.is_empty();
        *self.mappings.write() = list;
        self.has_mappings
            .store(has, std::sync::atomic::Ordering::Relaxed);
    }

    /// Adds mappings for sources the account does not map yet (its own config wins).
    pub fn add_mappings(&self, list: Vec<natrium_sublist::WeightedMapping>) {
        let mut cur = self.mappings.write();
        for m in list {
            if !cur.iter().any(|c| c.source() == m.source()) {
                cur.push(m);
            }
        }
        self.has_mappings
            .store(!cur.is_empty(), std::sync::atomic::Ordering::Relaxed);
    }

    /// True when this account's configuration enables JetStream for it.
    pub fn jetstream_enabled(&self) -> bool {
        self.jetstream_limits.as_ref().is_some_and(|l| l.enabled)
    }

    /// Registers a response route and returns the reply subject to use in this account.
    /// `make_sub` builds the response subscription when the account has none yet.
    fn add_response(
        self: &Arc<Self>,
        route: ResponseRoute,
        make_sub: impl FnOnce(&str) -> Option<SubRef>,
    ) -> String {
        let token = random_token(6);
        let reply = format!("{}{token}", self.response_prefix);
        let mut r = self.responses.lock();
        if r.sub.is_none() {
            r.sub = make_sub(&format!("{}>", self.response_prefix));
        }
        r.added += 1;
        if r.added.is_multiple_of(RESPONSE_SWEEP_EVERY) {
            let now = Instant::now();
            r.routes.retain(|_, v| v.expires > now);
        }
        r.routes.insert(token, route);
        reply
    }

    /// How many response routes are waiting (for tests and monitoring).
    pub fn pending_responses(&self) -> usize {
        self.responses.lock().routes.len()
    }
}

impl Forward {
    /// Where a message matched by this forwarding subscription goes, or `None` to drop it.
    /// `make_response_sub` builds an exporter's response subscription on demand.
    pub fn forward(
        &self,
        subject: &str,
        reply: Option<&str>,
        make_response_sub: impl FnOnce(&Arc<Account>, &str) -> Option<SubRef>,
    ) -> Option<Forwarded> {
        match self {
            Forward::Stream {
                to,
                subject: pattern,
                local,
            } => Some(Forwarded {
                account: to.upgrade()?,
                subject: match local {
                    Some(l) => map_subject(pattern, l, subject),
                    None => subject.to_string(),
                },
                reply: reply.map(str::to_owned),
            }),
            Forward::Service {
                from,
                to,
                local,
                remote,
                response,
                threshold,
            } => {
                let exporter = to.upgrade()?;
                let reply = reply.map(|r| {
                    let route = ResponseRoute {
                        account: from.clone(),
                        reply: r.to_string(),
                        kind: *response,
                        expires: Instant::now() + *threshold,
                    };
                    exporter.add_response(route, |s| make_response_sub(&exporter, s))
                });
                Some(Forwarded {
                    subject: map_subject(local, remote, subject),
                    account: exporter,
                    reply,
                })
            }
            Forward::Responses { account } => {
                let acc = account.upgrade()?;
                let token = subject.strip_prefix(&acc.response_prefix)?;
                let mut r = acc.responses.lock();
                let now = Instant::now();
                let route = r.routes.get(token)?;
                if route.expires <= now {
                    r.routes.remove(token);
                    return None;
                }
                let target = route.account.upgrade();
                let out = route.reply.clone();
                if route.kind == ResponseType::Singleton {
                    r.routes.remove(token);
                }
                drop(r);
                Some(Forwarded {
                    account: target?,
                    subject: out,
                    reply: reply.map(str::to_owned),
                })
            }
        }
    }
}

/// Maps `subject` (which matches `from`) onto `to`: the tokens `from`'s wildcards matched
/// fill `to`'s wildcards in order (`>` takes the rest). Without wildcards in `to`, `to`.
pub fn map_subject(from: &str, to: &str, subject: &str) -> String {
    if !to.split('.').any(|t| t == "*" || t == ">") {
        return to.to_string();
    }
    let subj: Vec<&str> = subject.split('.').collect();
    let mut captured: Vec<String> = Vec::new();
    for (i, t) in from.split('.').enumerate() {
        match t {
            "*" => captured.push(subj.get(i).copied().unwrap_or("").to_string()),
            ">" => captured.push(subj.get(i..).map(|r| r.join(".")).unwrap_or_default()),
            _ => {}
        }
    }
    let mut next = captured.into_iter();
    to.split('.')
        .map(|t| match t {
            "*" | ">" => next.next().unwrap_or_else(|| t.to_string()),
            _ => t.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// `n` random characters from nats-server's reply-token alphabet.
pub fn random_token(n: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..n)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// How many accounts' worth of forwarding a message may go through.
pub const MAX_FORWARD_HOPS: u8 = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_map_through_wildcards() {
        assert_eq!(map_subject("foo.>", "p.foo.>", "foo.a.b"), "p.foo.a.b");
        assert_eq!(map_subject("foo.*.x", "bar.*", "foo.7.x"), "bar.7");
        assert_eq!(map_subject("q.x", "ask", "q.x"), "ask");
        assert_eq!(map_subject("ask.*", "q.*", "ask.1"), "q.1");
    }

    #[test]
    fn singleton_responses_route_once() {
        let a = Arc::new(Account::new("A", true, None));
        let b = Arc::new(Account::new("B", true, None));
        let f = Forward::Service {
            from: Arc::downgrade(&a),
            to: Arc::downgrade(&b),
            local: "ask".into(),
            remote: "q.x".into(),
            response: ResponseType::Singleton,
            threshold: Duration::from_secs(60),
        };
        let mut made = 0;
        let out = f
            .forward("ask", Some("_INBOX.1"), |_, s| {
                made += 1;
                assert!(s.starts_with("_R_.") && s.ends_with(".>"));
                None
            })
            .unwrap();
        assert_eq!(out.account.name, "B");
        assert_eq!(out.subject, "q.x");
        let reply = out.reply.unwrap();
        assert!(reply.starts_with("_R_."));
        let resp = Forward::Responses {
            account: Arc::downgrade(&b),
        };
        let back = resp.forward(&reply, None, |_, _| None).unwrap();
        assert_eq!(back.account.name, "A");
        assert_eq!(back.subject, "_INBOX.1");
        assert!(resp.forward(&reply, None, |_, _| None).is_none());
        assert_eq!(b.pending_responses(), 0);
        assert_eq!(made, 1);
    }
}
