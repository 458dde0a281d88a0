//! The bounded match cache: literal subject → shared match result. It owns the bound, the
//! eviction policy and the targeted update of cached results when a subscription is added or
//! removed. It does not match subjects itself and takes no locks; `sublist.rs` decides when
//! it is consulted and guarantees that it is only filled while the trie cannot change.
//!
//! Eviction: when an insert would exceed [`CACHE_MAX`] entries, [`CACHE_SWEEP`] entries are
//! dropped, those not hit since the previous sweep first (a one-bit clock), so a hot subject
//! survives a stream of one-off subjects such as request inboxes.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::subject::{is_literal, matches_unchecked};
use crate::MatchResult;

/// Most cached subjects (nats-server's `slCacheMax`).
pub const CACHE_MAX: usize = 1024;
/// How many entries one sweep drops when the cache is full.
pub const CACHE_SWEEP: usize = 256;

struct Entry<T> {
    result: Arc<MatchResult<T>>,
    /// Set on every hit, cleared by a sweep; entries without it are evicted first.
    hit: AtomicBool,
}

pub(crate) struct Cache<T> {
    map: HashMap<Box<str>, Entry<T>>,
}

impl<T: Clone + Eq + Hash> Cache<T> {
    pub(crate) fn new() -> Self {
        Cache {
            map: HashMap::new(),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }

    /// Looks up a subject; needs only shared access so that hits run in parallel.
    pub(crate) fn get(&self, subject: &str) -> Option<Arc<MatchResult<T>>> {
        let entry = self.map.get(subject)?;
        // Only write the flag when it changes, so hot entries do not bounce a cache line.
        if !entry.hit.load(Ordering::Relaxed) {
            entry.hit.store(true, Ordering::Relaxed);
        }
        Some(Arc::clone(&entry.result))
    }

    /// Stores the result for a subject, sweeping first if the cache is full.
    pub(crate) fn put(&mut self, subject: &str, result: Arc<MatchResult<T>>) {
        if let Some(entry) = self.map.get_mut(subject) {
            entry.result = result;
            return;
        }
        if self.map.len() >= CACHE_MAX {
            self.sweep(CACHE_MAX - CACHE_SWEEP);
        }
        self.map.insert(
            subject.into(),
            Entry {
                result,
                hit: AtomicBool::new(false),
            },
        );
    }

    /// Drops entries until at most `target` remain: first those not hit since the last
    /// sweep (clearing the hit bit of the survivors), then arbitrary ones.
    fn sweep(&mut self, target: usize) {
        let mut excess = self.map.len().saturating_sub(target);
        self.map.retain(|_, entry| {
            if entry.hit.swap(false, Ordering::Relaxed) || excess == 0 {
                return true;
            }
            excess -= 1;
            false
        });
        if excess > 0 {
            self.map.retain(|_, _| {
                if excess == 0 {
                    return true;
                }
                excess -= 1;
                false
            });
        }
    }

    /// A subscription on `filter` was added: add it to every cached result it matches.
    pub(crate) fn on_insert(&mut self, filter: &str, queue: Option<&str>, value: &T) {
        self.update(filter, |result| result.push(queue, value.clone()));
    }

    /// A subscription on `filter` was removed: remove it from every cached result it matched.
    pub(crate) fn on_remove(&mut self, filter: &str, queue: Option<&str>, value: &T) {
        self.update(filter, |result| result.remove_one(queue, value));
    }

    fn update(&mut self, filter: &str, mut change: impl FnMut(&mut MatchResult<T>)) {
        // A literal subscription can only change the entry for its own subject.
        if is_literal(filter) {
            if let Some(entry) = self.map.get_mut(filter) {
                change(Arc::make_mut(&mut entry.result));
            }
            return;
        }
        for (subject, entry) in &mut self.map {
            if matches_unchecked(filter, subject) {
                // Copies only if a caller still holds the old result.
                change(Arc::make_mut(&mut entry.result));
            }
        }
    }

    /// (number of entries, total fanout, max fanout) for statistics.
    pub(crate) fn fanout(&self) -> (usize, u64, usize) {
        let mut total = 0u64;
        let mut max = 0usize;
        for entry in self.map.values() {
            let fanout = entry.result.fanout();
            total += fanout as u64;
            max = max.max(fanout);
        }
        (self.map.len(), total, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(v: u32) -> Arc<MatchResult<u32>> {
        Arc::new(MatchResult {
            plain: vec![v],
            queues: Vec::new(),
        })
    }

    #[test]
    fn stays_bounded_and_keeps_hot_entries() {
        let mut cache = Cache::new();
        cache.put("hot", result(0));
        for i in 0..10 * CACHE_MAX as u32 {
            assert!(cache.get("hot").is_some(), "hot entry evicted at {i}");
            cache.put(&format!("s.{i}"), result(i));
            assert!(cache.len() <= CACHE_MAX);
        }
    }

    #[test]
    fn targeted_updates() {
        let mut cache = Cache::new();
        cache.put("a.b", result(1));
        cache.put("a.c", result(2));
        cache.put("x", result(3));
        let held = cache.get("a.b").unwrap();
        cache.on_insert("a.*", Some("q"), &9);
        cache.on_insert("x", None, &8);
        assert_eq!(
            held.queues,
            Vec::new(),
            "a result handed out must not change"
        );
        let ab = cache.get("a.b").unwrap();
        assert_eq!(ab.queues, vec![("q".to_string(), vec![9])]);
        assert_eq!(cache.get("a.c").unwrap().queues.len(), 1);
        assert_eq!(cache.get("x").unwrap().plain, vec![3, 8]);
        cache.on_remove("a.*", Some("q"), &9);
        assert!(cache.get("a.b").unwrap().queues.is_empty());
        cache.on_remove(">", None, &3);
        assert_eq!(cache.get("x").unwrap().plain, vec![8]);
        assert_eq!(cache.len(), 3);
    }
}
