//! Behaviour of `Sublist` through its public API: wildcards, queue grouping, duplicates,
//! removal, validation, empty tokens, cache filling and invalidation, stats, generation and
//! concurrent use. Every case runs against both the cached and the uncached index.

use std::collections::BTreeMap;
use std::sync::Arc;

use natrium_sublist::{MatchResult, Sublist, SublistError, CACHE_MAX};

/// A result in a comparable form: sorted plain values and queue name → sorted values.
type Normal = (Vec<u32>, BTreeMap<String, Vec<u32>>);

fn normal(r: &MatchResult<u32>) -> Normal {
    let mut plain = r.plain.clone();
    plain.sort_unstable();
    let mut queues = BTreeMap::new();
    for (name, group) in &r.queues {
        assert!(!group.is_empty(), "empty queue group {name}");
        let mut group = group.clone();
        group.sort_unstable();
        assert!(
            queues.insert(name.clone(), group).is_none(),
            "queue {name} appears twice"
        );
    }
    (plain, queues)
}

fn both() -> [Sublist<u32>; 2] {
    [Sublist::new(), Sublist::new_no_cache()]
}

/// Matches `subject` and checks the plain values and the queue groups.
fn check(sl: &Sublist<u32>, subject: &str, plain: &[u32], queues: &[(&str, &[u32])]) {
    // Twice: the second answer may come from the cache.
    for _ in 0..2 {
        let (got_plain, got_queues) = normal(&sl.match_subject(subject));
        let mut want_plain = plain.to_vec();
        want_plain.sort_unstable();
        let want_queues: BTreeMap<String, Vec<u32>> = queues
            .iter()
            .map(|(q, vs)| {
                let mut vs = vs.to_vec();
                vs.sort_unstable();
                (q.to_string(), vs)
            })
            .collect();
        assert_eq!(got_plain, want_plain, "plain subscribers of {subject:?}");
        assert_eq!(got_queues, want_queues, "queue subscribers of {subject:?}");
        let interest = !plain.is_empty() || !queues.is_empty();
        assert_eq!(
            sl.has_interest(subject),
            interest,
            "interest in {subject:?}"
        );
    }
}

#[test]
fn literal_and_wildcard_matching() {
    for sl in both() {
        sl.insert("foo.bar", None, 1).unwrap();
        sl.insert("foo.*", None, 2).unwrap();
        sl.insert("foo.>", None, 3).unwrap();
        sl.insert("*.bar", None, 4).unwrap();
        sl.insert(">", None, 5).unwrap();
        sl.insert("foo.bar.baz", None, 6).unwrap();
        sl.insert("*.*.baz", None, 7).unwrap();
        sl.insert("foo*", None, 8).unwrap();
        check(&sl, "foo.bar", &[1, 2, 3, 4, 5], &[]);
        check(&sl, "foo.baz", &[2, 3, 5], &[]);
        check(&sl, "foo.bar.baz", &[3, 5, 6, 7], &[]);
        check(&sl, "foo", &[5], &[]);
        check(&sl, "foo*", &[5, 8], &[]);
        check(&sl, "x.bar", &[4, 5], &[]);
        check(&sl, "a.b.c.d", &[5], &[]);
        assert_eq!(sl.count(), 8);
    }
}

#[test]
fn full_wildcard_needs_at_least_one_token() {
    for sl in both() {
        sl.insert("foo.>", None, 1).unwrap();
        sl.insert("foo.*.>", None, 2).unwrap();
        check(&sl, "foo", &[], &[]);
        check(&sl, "foo.a", &[1], &[]);
        check(&sl, "foo.a.b", &[1, 2], &[]);
    }
}

#[test]
fn wildcard_tokens_in_published_subjects_are_literal() {
    for sl in both() {
        sl.insert("foo.bar", None, 1).unwrap();
        sl.insert("foo.*", None, 2).unwrap();
        sl.insert("foo.>", None, 3).unwrap();
        // A published `*` is a token like any other: only wildcards match it.
        check(&sl, "foo.*", &[2, 3], &[]);
        check(&sl, "foo.>", &[2, 3], &[]);
    }
}

#[test]
fn queue_groups_merge_across_subjects() {
    for sl in both() {
        sl.insert("foo.bar", Some("workers"), 1).unwrap();
        sl.insert("foo.*", Some("workers"), 2).unwrap();
        sl.insert("foo.>", Some("others"), 3).unwrap();
        sl.insert("foo.bar", Some("others"), 4).unwrap();
        sl.insert("foo.bar", None, 5).unwrap();
        sl.insert(">", Some("workers"), 6).unwrap();
        check(
            &sl,
            "foo.bar",
            &[5],
            &[("workers", &[1, 2, 6]), ("others", &[3, 4])],
        );
        check(
            &sl,
            "foo.baz",
            &[],
            &[("workers", &[2, 6]), ("others", &[3])],
        );
        check(&sl, "baz", &[], &[("workers", &[6])]);
        assert_eq!(sl.match_subject("foo.bar").fanout(), 3);
    }
}

#[test]
fn many_queue_groups_on_one_subject() {
    for sl in both() {
        for i in 0..50u32 {
            sl.insert("jobs", Some(&format!("q{i}")), i).unwrap();
            sl.insert("jobs.>", Some(&format!("q{}", i % 20)), 100 + i)
                .unwrap();
        }
        sl.insert("*", Some("q3"), 1000).unwrap();
        let r = sl.match_subject("jobs");
        let (_, queues) = normal(&r);
        assert_eq!(queues.len(), 50);
        assert_eq!(queues["q3"], vec![3, 1000]);
        let r = sl.match_subject("jobs.x");
        let (_, queues) = normal(&r);
        assert_eq!(queues.len(), 20);
        assert_eq!(queues["q3"], vec![103, 123, 143]);
    }
}

#[test]
fn same_value_under_several_subjects_is_delivered_per_subscription() {
    for sl in both() {
        sl.insert("foo.*", None, 1).unwrap();
        sl.insert("foo.>", None, 1).unwrap();
        sl.insert("foo.bar", Some("q"), 1).unwrap();
        sl.insert("foo.bar", Some("r"), 1).unwrap();
        check(&sl, "foo.bar", &[1, 1], &[("q", &[1]), ("r", &[1])]);
        assert_eq!(sl.count(), 4);
    }
}

#[test]
fn duplicate_insert_is_a_no_op() {
    for sl in both() {
        sl.insert("foo", None, 1).unwrap();
        sl.insert("foo", Some("q"), 1).unwrap();
        let generation = sl.generation();
        sl.insert("foo", None, 1).unwrap();
        sl.insert("foo", Some("q"), 1).unwrap();
        assert_eq!(sl.generation(), generation);
        assert_eq!(sl.count(), 2);
        assert_eq!(sl.stats().num_inserts, 2);
        check(&sl, "foo", &[1], &[("q", &[1])]);
        // One remove undoes it.
        sl.remove("foo", None, &1).unwrap();
        sl.remove("foo", Some("q"), &1).unwrap();
        check(&sl, "foo", &[], &[]);
        assert_eq!(sl.remove("foo", None, &1), Err(SublistError::NotFound));
    }
}

#[test]
fn remove_semantics() {
    for sl in both() {
        sl.insert("foo.*", None, 1).unwrap();
        sl.insert("foo.*", Some("q"), 2).unwrap();
        sl.insert("foo.bar", None, 3).unwrap();
        assert_eq!(sl.remove("foo.bar", None, &1), Err(SublistError::NotFound));
        assert_eq!(
            sl.remove("foo.*", Some("q"), &1),
            Err(SublistError::NotFound)
        );
        assert_eq!(
            sl.remove("foo.*", Some("r"), &2),
            Err(SublistError::NotFound)
        );
        assert_eq!(sl.remove("foo.*", None, &2), Err(SublistError::NotFound));
        assert_eq!(sl.remove("foo.>", None, &1), Err(SublistError::NotFound));
        assert_eq!(
            sl.remove("nothing.here", None, &1),
            Err(SublistError::NotFound)
        );
        assert_eq!(
            sl.remove("foo..bar", None, &1),
            Err(SublistError::InvalidSubject)
        );
        assert_eq!(
            sl.remove("foo", Some(""), &1),
            Err(SublistError::InvalidQueue)
        );
        assert_eq!(sl.count(), 3);
        sl.remove("foo.*", Some("q"), &2).unwrap();
        check(&sl, "foo.bar", &[1, 3], &[]);
        sl.remove("foo.*", None, &1).unwrap();
        check(&sl, "foo.bar", &[3], &[]);
        check(&sl, "foo.baz", &[], &[]);
        sl.remove("foo.bar", None, &3).unwrap();
        check(&sl, "foo.bar", &[], &[]);
        assert_eq!(sl.count(), 0);
        assert!(sl.all().is_empty());
        let stats = sl.stats();
        assert_eq!((stats.num_inserts, stats.num_removes), (3, 3));
    }
}

#[test]
fn invalid_subjects_and_queues_are_refused() {
    for sl in both() {
        for subject in [
            "",
            ".",
            "foo.",
            ".foo",
            "foo..bar",
            "foo.>.bar",
            ">.>",
            "foo bar",
            "a\tb",
        ] {
            assert_eq!(
                sl.insert(subject, None, 1),
                Err(SublistError::InvalidSubject),
                "{subject:?}"
            );
        }
        for queue in ["", " ", "a b", "a\nb"] {
            assert_eq!(
                sl.insert("foo", Some(queue), 1),
                Err(SublistError::InvalidQueue),
                "{queue:?}"
            );
        }
        assert_eq!(sl.count(), 0);
        assert_eq!(sl.generation(), 0);
        // Wildcard characters inside a token are literal and allowed.
        sl.insert("foo*.b>r", Some("q.*"), 1).unwrap();
        check(&sl, "foo*.b>r", &[], &[("q.*", &[1])]);
    }
}

#[test]
fn empty_tokens_match_nothing() {
    for sl in both() {
        sl.insert(">", None, 1).unwrap();
        sl.insert("*", None, 2).unwrap();
        sl.insert("foo.*.bar", None, 3).unwrap();
        for subject in ["", ".", "..", "foo..bar", ".foo", "foo.", "foo.bar."] {
            assert!(sl.match_subject(subject).is_empty(), "{subject:?}");
            assert!(!sl.has_interest(subject), "{subject:?}");
        }
        // Subjects with empty tokens are never cached.
        assert_eq!(sl.stats().num_cache, 0);
    }
}

#[test]
fn all_lists_every_subscription() {
    for sl in both() {
        let subs = [
            ("foo", None, 1),
            ("foo.bar", Some("q"), 2),
            ("foo.*", None, 3),
            ("foo.>", Some("q"), 4),
            (">", None, 5),
            ("*.*.x", None, 6),
            ("foo.bar", None, 6),
        ];
        for (s, q, v) in subs {
            sl.insert(s, q, v).unwrap();
        }
        let mut got = sl.all();
        got.sort();
        let mut want: Vec<_> = subs
            .iter()
            .map(|&(s, q, v)| (s.to_string(), q.map(str::to_string), v))
            .collect();
        want.sort();
        assert_eq!(got, want);
    }
}

#[test]
fn cache_fills_and_is_patched_in_place_on_insert() {
    let sl = Sublist::new();
    sl.insert("foo.bar", None, 1).unwrap();
    check(&sl, "foo.bar", &[1], &[]);
    check(&sl, "foo.baz", &[], &[]);
    check(&sl, "other", &[], &[]);
    assert_eq!(sl.stats().num_cache, 3);

    // New subscriptions show up in cached results, which stay cached.
    sl.insert("foo.*", Some("q"), 2).unwrap();
    sl.insert("foo.bar", None, 3).unwrap();
    sl.insert("other", None, 4).unwrap();
    assert_eq!(sl.stats().num_cache, 3);
    let hits = sl.stats().cache_hits;
    check(&sl, "foo.bar", &[1, 3], &[("q", &[2])]);
    check(&sl, "foo.baz", &[], &[("q", &[2])]);
    check(&sl, "other", &[4], &[]);
    assert_eq!(
        sl.stats().cache_hits,
        hits + 6,
        "all answered from the cache"
    );

    // An unrelated subscription leaves the cached results alone.
    let before = sl.match_subject("foo.bar");
    sl.insert("unrelated.>", None, 9).unwrap();
    assert!(Arc::ptr_eq(&before, &sl.match_subject("foo.bar")));
}

#[test]
fn cache_is_patched_on_remove() {
    let sl = Sublist::new();
    sl.insert("foo.bar", None, 1).unwrap();
    sl.insert("foo.*", Some("q"), 2).unwrap();
    sl.insert("foo.>", None, 3).unwrap();
    sl.insert("foo.>", None, 4).unwrap();
    check(&sl, "foo.bar", &[1, 3, 4], &[("q", &[2])]);
    check(&sl, "foo.baz.x", &[3, 4], &[]);
    let held = sl.match_subject("foo.bar");

    sl.remove("foo.*", Some("q"), &2).unwrap();
    check(&sl, "foo.bar", &[1, 3, 4], &[]);
    sl.remove("foo.>", None, &3).unwrap();
    check(&sl, "foo.bar", &[1, 4], &[]);
    check(&sl, "foo.baz.x", &[4], &[]);
    sl.remove("foo.bar", None, &1).unwrap();
    check(&sl, "foo.bar", &[4], &[]);
    assert_eq!(sl.stats().num_cache, 2);
    // A result handed out earlier is a snapshot and never changes under its holder.
    assert_eq!(normal(&held).0, vec![1, 3, 4]);
}

#[test]
fn cache_stays_bounded_and_correct() {
    let sl = Sublist::new();
    sl.insert("s.*", None, 1).unwrap();
    sl.insert("s.7", Some("q"), 2).unwrap();
    for round in 0..3u32 {
        for i in 0..(2 * CACHE_MAX as u32) {
            let subject = format!("s.{i}");
            let mut plain = vec![1];
            // Subscriptions added by earlier rounds.
            if i < round {
                plain.push(10 + i);
            }
            let queues: &[(&str, &[u32])] = if i == 7 { &[("q", &[2])] } else { &[] };
            let want = normal(&expected(&plain, queues));
            assert_eq!(
                normal(&sl.match_subject(&subject)),
                want,
                "round {round} {subject}"
            );
            assert!(sl.stats().num_cache <= CACHE_MAX);
        }
        sl.insert(&format!("s.{round}"), None, 10 + round).unwrap();
    }
}

fn expected(plain: &[u32], queues: &[(&str, &[u32])]) -> MatchResult<u32> {
    MatchResult {
        plain: plain.to_vec(),
        queues: queues
            .iter()
            .map(|(q, v)| (q.to_string(), v.to_vec()))
            .collect(),
    }
}

#[test]
fn generation_bumps_on_each_change() {
    for sl in both() {
        let g0 = sl.generation();
        sl.insert("a", None, 1).unwrap();
        let g1 = sl.generation();
        assert!(g1 > g0);
        let _ = sl.match_subject("a");
        assert_eq!(sl.generation(), g1, "matching is not a change");
        assert!(sl.insert("a..b", None, 1).is_err());
        assert!(sl.remove("b", None, &1).is_err());
        assert_eq!(sl.generation(), g1, "failed calls are not changes");
        sl.remove("a", None, &1).unwrap();
        assert!(sl.generation() > g1);
    }
}

#[test]
fn stats_report_fanout_and_hit_rate() {
    let sl = Sublist::new();
    sl.insert("a", None, 1).unwrap();
    sl.insert("a", None, 2).unwrap();
    sl.insert("a", Some("q"), 3).unwrap();
    sl.insert("b", None, 4).unwrap();
    let _ = sl.match_subject("a");
    let _ = sl.match_subject("a");
    let _ = sl.match_subject("b");
    let _ = sl.match_subject("c");
    let s = sl.stats();
    assert_eq!(s.num_subs, 4);
    assert_eq!(s.num_cache, 3);
    assert_eq!((s.num_matches, s.cache_hits), (4, 1));
    assert!((s.cache_hit_rate - 0.25).abs() < 1e-9);
    assert_eq!(s.max_fanout, 3);
    assert!((s.avg_fanout - 4.0 / 3.0).abs() < 1e-9);

    let mut merged = s;
    merged.merge(&Sublist::<u32>::new_no_cache().stats());
    assert_eq!(merged.num_subs, 4);
    assert!((merged.avg_fanout - s.avg_fanout).abs() < 1e-9);

    let nc = Sublist::new_no_cache();
    nc.insert("a", None, 1).unwrap();
    let _ = nc.match_subject("a");
    let s = nc.stats();
    assert_eq!((s.num_cache, s.cache_hits, s.num_matches), (0, 0, 1));
    assert!(!nc.cache_enabled() && Sublist::<u32>::new().cache_enabled());
}

#[test]
fn error_display() {
    let e: Box<dyn std::error::Error> = Box::new(SublistError::InvalidSubject);
    assert_eq!(e.to_string(), "sublist: invalid subject");
    assert_eq!(
        SublistError::InvalidQueue.to_string(),
        "sublist: invalid queue"
    );
    assert_eq!(
        SublistError::NotFound.to_string(),
        "sublist: no matches found"
    );
}

#[test]
fn concurrent_readers_and_writers_agree_at_the_end() {
    let sl = Arc::new(Sublist::<u32>::new());
    std::thread::scope(|scope| {
        for w in 0..2u32 {
            let sl = Arc::clone(&sl);
            scope.spawn(move || {
                for i in 0..2000u32 {
                    let subject = ["a.*", "a.b", "a.>", "*.b"][(i % 4) as usize];
                    let value = w * 10_000 + i;
                    sl.insert(subject, None, value).unwrap();
                    if i % 3 == 0 {
                        sl.remove(subject, None, &value).unwrap();
                    }
                }
            });
        }
        for _ in 0..2 {
            let sl = Arc::clone(&sl);
            scope.spawn(move || {
                for _ in 0..2000 {
                    let _ = sl.match_subject("a.b");
                    let _ = sl.has_interest("x.b");
                }
            });
        }
    });
    // Cached or not, the final answer must equal a fresh uncached computation.
    let fresh = Sublist::new_no_cache();
    for (s, q, v) in sl.all() {
        fresh.insert(&s, q.as_deref(), v).unwrap();
    }
    for subject in ["a.b", "x.b", "a.c", "a.b.c"] {
        assert_eq!(
            normal(&sl.match_subject(subject)),
            normal(&fresh.match_subject(subject))
        );
    }
    assert_eq!(sl.count(), fresh.count());
}

#[test]
fn sublist_is_send_and_sync() {
    fn assert_send_sync<S: Send + Sync>() {}
    assert_send_sync::<Sublist<u32>>();
    assert_send_sync::<Sublist<Arc<str>>>();
    assert_send_sync::<MatchResult<u32>>();
}
