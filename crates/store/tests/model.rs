//! Model-based property test: random operation sequences run against each store and
//! against a plain `BTreeMap` model; after every operation the state, every message and
//! filtered iteration must agree. The file store is closed and reopened at random points
//! and uses tiny blocks so that rolling, sealing, index files and block collection happen.

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use natrium_store::*;
use proptest::prelude::*;

const SUBJECTS: [&str; 4] = ["a.x", "a.y", "b.x", "c"];
const FILTERS: [&str; 5] = [">", "a.*", "*.x", "c", "a.y"];

#[derive(Debug, Clone)]
enum Op {
    Store(usize, usize),
    Remove(u64),
    Erase(u64),
    Purge,
    PurgeEx(usize, u64, u64),
    Compact(u64),
    Truncate(u64),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0..4usize, 0..300usize).prop_map(|(s, n)| Op::Store(s, n)),
        3 => (0..40u64).prop_map(Op::Remove),
        1 => (0..40u64).prop_map(Op::Erase),
        1 => Just(Op::Purge),
        2 => (0..5usize, 0..40u64, 0..4u64).prop_map(|(f, s, k)| Op::PurgeEx(f, s, k)),
        1 => (0..45u64).prop_map(Op::Compact),
        1 => (0..40u64).prop_map(Op::Truncate),
        2 => Just(Op::Reopen),
    ]
}

#[derive(Debug, Default)]
struct Model {
    msgs: BTreeMap<u64, (String, Vec<u8>)>,
    first: u64,
    last: u64,
    max_msgs: Option<usize>,
}

fn matches(filter: &str, subject: &str) -> bool {
    if filter == ">" {
        return true;
    }
    let (f, s): (Vec<_>, Vec<_>) = (filter.split('.').collect(), subject.split('.').collect());
    f.len() == s.len() && f.iter().zip(&s).all(|(a, b)| *a == "*" || a == b)
}

impl Model {
    fn fix_first(&mut self) {
        self.first = self.msgs.keys().next().copied().unwrap_or(self.last + 1);
    }
    fn store(&mut self, subj: &str, payload: Vec<u8>) -> u64 {
        self.last += 1;
        self.msgs.insert(self.last, (subj.to_string(), payload));
        while self.max_msgs.is_some_and(|m| self.msgs.len() > m) {
            self.msgs.pop_first();
        }
        self.fix_first();
        self.last
    }
    fn remove(&mut self, seq: u64) -> bool {
        let r = self.msgs.remove(&seq).is_some();
        if r {
            self.fix_first();
        }
        r
    }
    fn purge(&mut self) -> u64 {
        let n = self.msgs.len() as u64;
        self.msgs.clear();
        self.first = self.last + 1;
        n
    }
    fn compact(&mut self, seq: u64) -> u64 {
        if seq == 0 {
            return self.purge();
        }
        if self.first > seq {
            return 0;
        }
        if seq <= self.last {
            let keep = self.msgs.split_off(&seq);
            let n = self.msgs.len() as u64;
            self.msgs = keep;
            self.fix_first();
            n
        } else {
            let n = self.msgs.len() as u64;
            self.msgs.clear();
            self.first = seq;
            self.last = seq - 1;
            n
        }
    }
    fn purge_ex(&mut self, filter: &str, seq: u64, keep: u64) -> u64 {
        if seq == 1 {
            return 0;
        }
        if filter == ">" {
            if keep == 0 && seq == 0 {
                return self.purge();
            }
            if seq > 1 {
                return self.compact(seq);
            }
        }
        let mut sel: Vec<u64> = self
            .msgs
            .iter()
            .filter(|(_, (s, _))| matches(filter, s))
            .map(|(&q, _)| q)
            .collect();
        if keep > 0 {
            if keep >= sel.len() as u64 {
                return 0;
            }
            sel.truncate(sel.len() - keep as usize);
        }
        sel.retain(|&q| seq == 0 || q < seq);
        for q in &sel {
            self.msgs.remove(q);
        }
        if !sel.is_empty() {
            self.fix_first();
        }
        sel.len() as u64
    }
    fn truncate(&mut self, seq: u64) {
        if seq == 0 {
            self.msgs.clear();
            self.first = 0;
            self.last = 0;
            return;
        }
        if seq >= self.last {
            return;
        }
        self.msgs.split_off(&(seq + 1));
        self.last = seq;
        if self.msgs.is_empty() {
            self.first = seq + 1;
        }
    }
}

fn check(h: &common::Harness, m: &Model, step: usize) {
    let st = h.store.state();
    let ctx = format!("{} step {step}", h.kind);
    assert_eq!(st.msgs, m.msgs.len() as u64, "{ctx}");
    assert_eq!((st.first_seq, st.last_seq), (m.first, m.last), "{ctx}");
    assert!(
        st.corrupt_ranges.is_empty() && st.failed.is_none(),
        "{ctx}: {st:?}"
    );
    let deleted: Vec<u64> = if m.first == 0 {
        vec![]
    } else {
        (m.first..=m.last)
            .filter(|s| !m.msgs.contains_key(s))
            .collect()
    };
    assert_eq!(st.deleted.as_ref(), Some(&deleted), "{ctx}");
    for (&seq, (subj, payload)) in &m.msgs {
        let got = h
            .store
            .load_msg(seq)
            .unwrap_or_else(|e| panic!("{ctx}: load {seq}: {e}"));
        assert_eq!(
            (&*got.subject, &got.payload[..]),
            (subj.as_str(), &payload[..]),
            "{ctx} seq {seq}"
        );
    }
    for f in FILTERS {
        let want: Vec<u64> = m
            .msgs
            .iter()
            .filter(|(_, (s, _))| matches(f, s))
            .map(|(&q, _)| q)
            .collect();
        let mut got = Vec::new();
        let mut start = 0;
        while let Ok(msg) = h.store.load_next_msg(f, start) {
            got.push(msg.seq);
            start = msg.seq + 1;
        }
        assert_eq!(got, want, "{ctx} filter {f}");
        assert_eq!(
            h.store.num_pending(0, f, false).0,
            want.len() as u64,
            "{ctx} pending {f}"
        );
        let last = h.store.load_last_msg(f).ok().map(|m| m.seq);
        assert_eq!(last, want.last().copied(), "{ctx} last {f}");
    }
}

fn run(h: &mut common::Harness, ops: &[Op], max_msgs: Option<usize>) {
    let mut m = Model {
        max_msgs,
        ..Default::default()
    };
    for (i, op) in ops.iter().enumerate() {
        match op {
            &Op::Store(s, n) => {
                // Periodic, so bodies of 64 bytes and more compress (file-packed).
                let payload: Vec<u8> = (0..n).map(|j| (j % 16 + i) as u8).collect();
                let seq = h
                    .store
                    .store_msg(SUBJECTS[s], None, Bytes::from(payload.clone()), None)
                    .unwrap()
                    .0;
                assert_eq!(seq, m.store(SUBJECTS[s], payload), "{} step {i}", h.kind);
            }
            &Op::Remove(q) => assert_eq!(h.store.remove_msg(q).unwrap(), m.remove(q)),
            &Op::Erase(q) => assert_eq!(h.store.erase_msg(q).unwrap(), m.remove(q)),
            Op::Purge => assert_eq!(h.store.purge().unwrap(), m.purge()),
            &Op::PurgeEx(f, q, k) => {
                assert_eq!(
                    h.store.purge_ex(FILTERS[f], q, k).unwrap(),
                    m.purge_ex(FILTERS[f], q, k),
                    "{} step {i}",
                    h.kind
                )
            }
            &Op::Compact(q) => assert_eq!(
                h.store.compact(q).unwrap(),
                m.compact(q),
                "{} step {i}",
                h.kind
            ),
            &Op::Truncate(q) => {
                h.store.truncate(q).unwrap();
                m.truncate(q);
            }
            Op::Reopen => h.reopen(),
        }
        check(h, &m, i);
    }
    h.reopen();
    check(h, &m, ops.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn stores_agree_with_model(ops in proptest::collection::vec(op(), 1..60), limit in prop_oneof![Just(None), (3..12usize).prop_map(Some)]) {
        for f in common::FACTORIES {
            let cfg = StoreConfig { max_msgs: limit.map_or(-1, |l| l as i64), ..StoreConfig::new("M", StorageKind::Memory) };
            let mut h = f(cfg);
            run(&mut h, &ops, limit);
        }
    }
}
