//! The thread-safe subject index: a trie behind a `parking_lot::RwLock`, a bounded match cache
//! behind its own `RwLock`, and the counters behind `/subsz`. It owns the locking protocol and
//! the consistency between trie, cache and generation; matching itself lives in `trie.rs`,
//! the cache policy in `cache.rs`. It performs no I/O and never blocks on anything but its
//! own short critical sections.
//!
//! Lock order: `trie` before `cache`, always. A cache hit takes only the cache's read lock. A
//! miss matches under the trie's read lock and fills the cache while still holding it, so no
//! insert or remove can slip between computing a result and caching it; inserts and removes
//! change the trie and then patch the cached results they affect under the trie's write lock.
//! The generation is bumped last, after the cache is patched, so a caller that reads
//! `generation()` *before* `match_subject()` and finds it unchanged later knows its own copy
//! of a result is still current.

use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::cache::Cache;
use crate::subject::{has_empty_token, is_valid_queue, is_valid_subject};
use crate::trie::Trie;

/// The subscriptions matching one literal subject.
///
/// Results are multisets: a value subscribed under two subjects that both match appears
/// twice, as in nats-server where each subscription is delivered to separately. Order is
/// unspecified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchResult<T> {
    /// Plain (non-queue) subscriptions.
    pub plain: Vec<T>,
    /// Queue subscriptions, one entry per distinct queue name across all matching subjects.
    /// Groups are never empty.
    pub queues: Vec<(String, Vec<T>)>,
}

impl<T> Default for MatchResult<T> {
    fn default() -> Self {
        MatchResult {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<T> MatchResult<T> {
    /// True when nothing matched.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }

    /// Number of deliveries one message causes: each plain subscription plus one per queue
    /// group (nats-server's fanout).
    pub fn fanout(&self) -> usize {
        self.plain.len() + self.queues.len()
    }
}

impl<T: Eq> MatchResult<T> {
    pub(crate) fn push(&mut self, queue: Option<&str>, value: T) {
        match queue {
            None => self.plain.push(value),
            Some(q) => match self.queues.iter_mut().find(|(name, _)| name == q) {
                Some((_, group)) => group.push(value),
                None => self.queues.push((q.to_string(), vec![value])),
            },
        }
    }

    pub(crate) fn remove_one(&mut self, queue: Option<&str>, value: &T) {
        match queue {
            None => {
                if let Some(i) = self.plain.iter().position(|v| v == value) {
                    self.plain.swap_remove(i);
                }
            }
            Some(q) => {
                let Some(g) = self.queues.iter().position(|(name, _)| name == q) else {
                    return;
                };
                let group = &mut self.queues[g].1;
                if let Some(i) = group.iter().position(|v| v == value) {
                    group.swap_remove(i);
                }
                if group.is_empty() {
                    self.queues.swap_remove(g);
                }
            }
        }
    }
}

/// Why an insert or remove was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SublistError {
    /// The subject is not a valid subscription subject (see [`is_valid_subject`]).
    InvalidSubject,
    /// The queue name is empty or contains whitespace (see [`is_valid_queue`]).
    InvalidQueue,
    /// Remove: no such (subject, queue, value) subscription.
    NotFound,
}

impl fmt::Display for SublistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SublistError::InvalidSubject => "sublist: invalid subject",
            SublistError::InvalidQueue => "sublist: invalid queue",
            SublistError::NotFound => "sublist: no matches found",
        })
    }
}

impl std::error::Error for SublistError {}

/// Counters for monitoring (`/subsz`), as nats-server's `SublistStats`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SublistStats {
    /// Subscriptions in the index.
    pub num_subs: usize,
    /// Subjects in the match cache.
    pub num_cache: usize,
    /// Successful inserts since creation.
    pub num_inserts: u64,
    /// Successful removes since creation.
    pub num_removes: u64,
    /// `match_subject` calls since creation.
    pub num_matches: u64,
    /// Of those, how many the cache answered.
    pub cache_hits: u64,
    /// `cache_hits / num_matches`, 0 when there were no matches.
    pub cache_hit_rate: f64,
    /// Largest fanout among cached results.
    pub max_fanout: usize,
    /// Sum of the fanouts of cached results (to merge averages across sublists).
    pub total_fanout: u64,
    /// `total_fanout / num_cache`, 0 when the cache is empty.
    pub avg_fanout: f64,
}

impl SublistStats {
    /// Adds another sublist's stats into this one (for server-wide `/subsz` over accounts),
    /// recomputing the rates from the summed counts.
    pub fn merge(&mut self, other: &SublistStats) {
        self.num_subs += other.num_subs;
        self.num_cache += other.num_cache;
        self.num_inserts += other.num_inserts;
        self.num_removes += other.num_removes;
        self.num_matches += other.num_matches;
        self.cache_hits += other.cache_hits;
        self.max_fanout = self.max_fanout.max(other.max_fanout);
        self.total_fanout += other.total_fanout;
        self.recompute_rates();
    }

    fn recompute_rates(&mut self) {
        self.cache_hit_rate = ratio(self.cache_hits, self.num_matches as f64);
        self.avg_fanout = ratio(self.total_fanout, self.num_cache as f64);
    }
}

fn ratio(numerator: u64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator as f64 / denominator
    } else {
        0.0
    }
}

/// The subject index: subscriptions (subject, optional queue group, value) and the matching of
/// literal subjects against them. `Send + Sync`; share it behind an `Arc`.
///
/// A subscription is identified by the triple (subject, queue, value): inserting an identical
/// triple again is a no-op (it returns `Ok` and changes nothing, not even the generation),
/// and one remove undoes it. The same value may be subscribed under any number of subjects
/// or queue groups; each is a separate subscription. Callers that need two subscriptions on
/// the same subject and queue must make the values differ (e.g. include the sid).
pub struct Sublist<T> {
    trie: RwLock<Trie<T>>,
    cache: Option<RwLock<Cache<T>>>,
    generation: AtomicU64,
    inserts: AtomicU64,
    removes: AtomicU64,
    matches: AtomicU64,
    cache_hits: AtomicU64,
    /// Shared answer for subjects with an empty token, which are never cached.
    empty: Arc<MatchResult<T>>,
}

impl<T: Clone + Eq + Hash + Send + Sync> Default for Sublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Sublist<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sublist")
            .field("cache", &self.cache.is_some())
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Eq + Hash + Send + Sync> Sublist<T> {
    /// An empty index with the match cache enabled.
    pub fn new() -> Self {
        Self::build(true)
    }

    /// An empty index without a match cache (for lists with very high interest churn).
    pub fn new_no_cache() -> Self {
        Self::build(false)
    }

    fn build(cache: bool) -> Self {
        Sublist {
            trie: RwLock::new(Trie::new()),
            cache: cache.then(|| RwLock::new(Cache::new())),
            generation: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
            removes: AtomicU64::new(0),
            matches: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            empty: Arc::new(MatchResult::default()),
        }
    }

    /// Is the match cache enabled?
    pub fn cache_enabled(&self) -> bool {
        self.cache.is_some()
    }

    /// Adds a subscription. The subject may contain wildcards; it and the queue name are
    /// validated. Inserting an existing (subject, queue, value) is a no-op.
    pub fn insert(&self, subject: &str, queue: Option<&str>, value: T) -> Result<(), SublistError> {
        check(subject, queue)?;
        // The cache needs the value after the trie took ownership of it.
        let for_cache = self.cache.as_ref().map(|cache| (cache, value.clone()));
        let mut trie = self.trie.write();
        if !trie.insert(subject, queue, value) {
            return Ok(());
        }
        if let Some((cache, value)) = for_cache {
            cache.write().on_insert(subject, queue, &value);
        }
        self.inserts.fetch_add(1, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
        drop(trie);
        Ok(())
    }

    /// Removes a subscription; `NotFound` if there is no such (subject, queue, value).
    pub fn remove(
        &self,
        subject: &str,
        queue: Option<&str>,
        value: &T,
    ) -> Result<(), SublistError> {
        check(subject, queue)?;
        let mut trie = self.trie.write();
        if !trie.remove(subject, queue, value) {
            return Err(SublistError::NotFound);
        }
        if let Some(cache) = &self.cache {
            cache.write().on_remove(subject, queue, value);
        }
        self.removes.fetch_add(1, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
        drop(trie);
        Ok(())
    }

    /// All subscriptions matching the literal `subject`. A subject with an empty token
    /// (`foo..bar`, leading or trailing dot, empty) matches nothing. Wildcard characters in
    /// `subject` are taken literally. Uses and fills the cache.
    pub fn match_subject(&self, subject: &str) -> Arc<MatchResult<T>> {
        self.matches.fetch_add(1, Ordering::Relaxed);
        if let Some(cache) = &self.cache {
            if let Some(result) = cache.read().get(subject) {
                self.cache_hits.fetch_add(1, Ordering::Relaxed);
                return result;
            }
        }
        if has_empty_token(subject) {
            return Arc::clone(&self.empty);
        }
        let trie = self.trie.read();
        let found = trie.match_subject(subject);
        let result = if found.is_empty() {
            Arc::clone(&self.empty)
        } else {
            Arc::new(found)
        };
        if let Some(cache) = &self.cache {
            // Still under the trie's read lock: see the module docs for why.
            cache.write().put(subject, Arc::clone(&result));
        }
        drop(trie);
        result
    }

    /// Does any subscription match the literal `subject`? Answers from the cache when it can,
    /// otherwise walks the trie until the first match without filling the cache.
    pub fn has_interest(&self, subject: &str) -> bool {
        if let Some(cache) = &self.cache {
            if let Some(result) = cache.read().get(subject) {
                return !result.is_empty();
            }
        }
        if has_empty_token(subject) {
            return false;
        }
        self.trie.read().has_interest(subject)
    }

    /// Number of subscriptions.
    pub fn count(&self) -> usize {
        self.trie.read().count()
    }

    /// Changes on every effective insert and remove. Read it before `match_subject` to key a
    /// private cache of results; a later different value means that cache is stale.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Statistics for `/subsz`. Walks the cache (at most `CACHE_MAX` entries).
    pub fn stats(&self) -> SublistStats {
        let num_subs = self.count();
        let (num_cache, total_fanout, max_fanout) = match &self.cache {
            Some(cache) => cache.read().fanout(),
            None => (0, 0, 0),
        };
        let mut stats = SublistStats {
            num_subs,
            num_cache,
            num_inserts: self.inserts.load(Ordering::Relaxed),
            num_removes: self.removes.load(Ordering::Relaxed),
            num_matches: self.matches.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            cache_hit_rate: 0.0,
            max_fanout,
            total_fanout,
            avg_fanout: 0.0,
        };
        stats.recompute_rates();
        stats
    }

    /// Every subscription as (subject, queue, value), in no particular order.
    pub fn all(&self) -> Vec<(String, Option<String>, T)> {
        self.trie.read().all()
    }
}

fn check(subject: &str, queue: Option<&str>) -> Result<(), SublistError> {
    if !is_valid_subject(subject) {
        return Err(SublistError::InvalidSubject);
    }
    match queue {
        Some(q) if !is_valid_queue(q) => Err(SublistError::InvalidQueue),
        _ => Ok(()),
    }
}
