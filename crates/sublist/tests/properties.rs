//! Property tests: the index against a naive model that scans every subscription with
//! `subject_matches`, with and without the cache and across interleaved inserts, removes and
//! matches (so cached results must be patched correctly); `subject_matches` against an
//! independent recursive matcher; `subject_is_subset` and `subjects_overlap` against brute
//! force over every literal subject of a small universe; and no panics on arbitrary input.
//! proptest prints the failing case and persists its seed for replay.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use natrium_sublist::{
    is_valid_literal_subject, is_valid_queue, is_valid_subject, subject_is_subset, subject_matches,
    subjects_overlap, MatchResult, Sublist, SublistError,
};
use proptest::prelude::*;

type Sub = (String, Option<String>, u8);
type Normal = (Vec<u8>, BTreeMap<String, Vec<u8>>);

/// A subscription subject over tokens a, b, c with `*` anywhere and `>` only last.
fn sub_subject() -> impl Strategy<Value = String> {
    let body = prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "*"]), 0..4);
    let last = prop::sample::select(vec!["a", "b", "c", "*", ">"]);
    (body, last).prop_map(|(mut tokens, last)| {
        tokens.push(last);
        tokens.join(".")
    })
}

/// A literal subject; `d` never occurs in subscriptions.
fn literal_subject() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "d"]), 1..6)
        .prop_map(|tokens| tokens.join("."))
}

fn queue() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(
        0.4,
        prop::sample::select(vec!["q1", "q2", "q3"]).prop_map(String::from),
    )
}

fn subscription() -> impl Strategy<Value = Sub> {
    (sub_subject(), queue(), 0u8..4)
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Sub),
    Remove(Sub),
    /// Remove the n-th (mod len) live subscription, so removes often hit.
    RemoveLive(usize),
    Match(String),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => subscription().prop_map(Op::Insert),
        1 => subscription().prop_map(Op::Remove),
        2 => any::<usize>().prop_map(Op::RemoveLive),
        4 => literal_subject().prop_map(Op::Match),
    ]
}

fn normal(r: &MatchResult<u8>) -> Normal {
    let mut plain = r.plain.clone();
    plain.sort_unstable();
    let mut queues = BTreeMap::new();
    for (name, group) in &r.queues {
        assert!(!group.is_empty(), "empty group {name}");
        let mut group = group.clone();
        group.sort_unstable();
        assert!(
            queues.insert(name.clone(), group).is_none(),
            "group {name} twice"
        );
    }
    (plain, queues)
}

fn naive(model: &HashSet<Sub>, subject: &str) -> Normal {
    let mut result = MatchResult::default();
    for (filter, queue, value) in model {
        if subject_matches(filter, subject) {
            match queue {
                None => result.plain.push(*value),
                Some(q) => match result.queues.iter_mut().find(|(n, _)| n == q) {
                    Some((_, g)) => g.push(*value),
                    None => result.queues.push((q.clone(), vec![*value])),
                },
            }
        }
    }
    normal(&result)
}

/// Every literal subject of 1..=5 tokens over a, b, c and a token `x` that no generated
/// subject contains: enough to witness every difference between subjects of up to 4 tokens.
fn universe() -> &'static [String] {
    static UNIVERSE: OnceLock<Vec<String>> = OnceLock::new();
    UNIVERSE.get_or_init(|| {
        let mut all: Vec<String> = Vec::new();
        let mut level: Vec<String> = vec![String::new()];
        for _ in 0..5 {
            level = level
                .iter()
                .flat_map(|prefix| {
                    ["a", "b", "c", "x"].iter().map(move |t| {
                        if prefix.is_empty() {
                            t.to_string()
                        } else {
                            format!("{prefix}.{t}")
                        }
                    })
                })
                .collect();
            all.extend(level.iter().cloned());
        }
        all
    })
}

/// An independent reference matcher: recursion over token slices.
fn reference_match(filter: &[&str], subject: &[&str]) -> bool {
    match (filter.split_first(), subject.split_first()) {
        (None, None) => true,
        (Some((&">", rest)), Some(_)) => rest.is_empty(),
        (Some((f, frest)), Some((s, srest))) => {
            (*f == "*" || f == s) && reference_match(frest, srest)
        }
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn index_agrees_with_naive_model(ops in prop::collection::vec(op(), 1..120)) {
        let cached = Sublist::new();
        let uncached = Sublist::new_no_cache();
        let mut model: HashSet<Sub> = HashSet::new();
        let mut generation = cached.generation();
        for op in ops {
            match op {
                Op::Insert((s, q, v)) => {
                    let changed = model.insert((s.clone(), q.clone(), v));
                    prop_assert_eq!(cached.insert(&s, q.as_deref(), v), Ok(()));
                    prop_assert_eq!(uncached.insert(&s, q.as_deref(), v), Ok(()));
                    prop_assert_eq!(cached.generation() != generation, changed);
                }
                Op::Remove(sub) => remove(&cached, &uncached, &mut model, sub)?,
                Op::RemoveLive(n) => {
                    if !model.is_empty() {
                        let mut live: Vec<Sub> = model.iter().cloned().collect();
                        live.sort();
                        let sub = live[n % live.len()].clone();
                        remove(&cached, &uncached, &mut model, sub)?;
                    }
                }
                Op::Match(subject) => {
                    let want = naive(&model, &subject);
                    prop_assert_eq!(normal(&cached.match_subject(&subject)), want.clone());
                    prop_assert_eq!(normal(&uncached.match_subject(&subject)), want.clone());
                    let interest = !want.0.is_empty() || !want.1.is_empty();
                    prop_assert_eq!(cached.has_interest(&subject), interest);
                    prop_assert_eq!(uncached.has_interest(&subject), interest);
                }
            }
            generation = cached.generation();
            prop_assert_eq!(cached.count(), model.len());
            prop_assert_eq!(uncached.count(), model.len());
        }
        // Finally every subject of the universe, cached answers included.
        for subject in universe().iter().take(400) {
            let want = naive(&model, subject);
            prop_assert_eq!(normal(&cached.match_subject(subject)), want.clone());
            prop_assert_eq!(normal(&uncached.match_subject(subject)), want);
        }
        let mut all = cached.all();
        all.sort();
        let mut want: Vec<Sub> = model.into_iter().collect();
        want.sort();
        prop_assert_eq!(all, want);
    }

    #[test]
    fn subject_matches_agrees_with_reference(filter in sub_subject(), subject in literal_subject()) {
        let f: Vec<&str> = filter.split('.').collect();
        let s: Vec<&str> = subject.split('.').collect();
        prop_assert_eq!(subject_matches(&filter, &subject), reference_match(&f, &s));
    }

    #[test]
    fn subset_agrees_with_brute_force(a in sub_subject(), b in sub_subject()) {
        let brute = universe().iter().all(|u| !subject_matches(&a, u) || subject_matches(&b, u));
        prop_assert_eq!(subject_is_subset(&a, &b), brute, "{} subset of {}", a, b);
        // Reflexive, and consistent with overlap.
        prop_assert!(subject_is_subset(&a, &a));
        if subject_is_subset(&a, &b) {
            prop_assert!(subjects_overlap(&a, &b));
        }
    }

    #[test]
    fn overlap_agrees_with_brute_force(a in sub_subject(), b in sub_subject()) {
        let brute = universe().iter().any(|u| subject_matches(&a, u) && subject_matches(&b, u));
        prop_assert_eq!(subjects_overlap(&a, &b), brute, "{} overlaps {}", a, b);
        prop_assert_eq!(subjects_overlap(&b, &a), brute);
    }

    #[test]
    fn arbitrary_input_never_panics(
        subject in "[a-c.*> \t]{0,12}",
        other in "\\PC{0,12}",
        queue in "[a-c .]{0,4}",
    ) {
        let sl = Sublist::new();
        for s in [&subject, &other] {
            let valid = is_valid_subject(s);
            let queue_valid = is_valid_queue(&queue);
            let inserted = sl.insert(s, Some(&queue), 1u8);
            match (valid, queue_valid) {
                (false, _) => prop_assert_eq!(inserted, Err(SublistError::InvalidSubject)),
                (true, false) => prop_assert_eq!(inserted, Err(SublistError::InvalidQueue)),
                (true, true) => prop_assert_eq!(inserted, Ok(())),
            }
            let _ = sl.insert(s, None, 2);
            let r = sl.match_subject(s);
            if is_valid_literal_subject(s) {
                prop_assert!(!r.is_empty(), "a valid literal matches its own subscription");
            }
            let _ = sl.has_interest(s);
            let _ = subject_matches(&subject, &other);
            let _ = subject_is_subset(&subject, &other);
            let _ = subjects_overlap(&subject, &other);
            let _ = sl.remove(s, None, &2);
            let _ = sl.remove(s, Some(&queue), &1);
        }
        prop_assert_eq!(sl.count(), 0);
        prop_assert!(sl.all().is_empty());
    }
}

fn remove(
    cached: &Sublist<u8>,
    uncached: &Sublist<u8>,
    model: &mut HashSet<Sub>,
    sub: Sub,
) -> Result<(), TestCaseError> {
    let (s, q, v) = &sub;
    let want = if model.remove(&sub) {
        Ok(())
    } else {
        Err(SublistError::NotFound)
    };
    prop_assert_eq!(cached.remove(s, q.as_deref(), v), want);
    prop_assert_eq!(uncached.remove(s, q.as_deref(), v), want);
    Ok(())
}
