//! The one store test body: every `MessageStore` operation, limit and filter, run
//! against the memory store and the file store (durable and lazy), with reopen points
//! for the file store.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use common::{Harness, FACTORIES};
use natrium_store::*;

fn cfg() -> StoreConfig {
    StoreConfig::new("T", StorageKind::Memory)
}

fn each(cfg: StoreConfig, body: impl Fn(&mut Harness)) {
    for f in FACTORIES {
        let mut h = f(cfg.clone());
        body(&mut h);
    }
}

fn put(s: &dyn MessageStore, subj: &str, payload: &str) -> u64 {
    s.store_msg(subj, None, Bytes::copy_from_slice(payload.as_bytes()), None)
        .unwrap()
        .0
}

fn put_at(s: &dyn MessageStore, subj: &str, ts: i64) -> u64 {
    let next = s.fast_state().last_seq + 1;
    s.store_raw_msg(subj, None, Bytes::from_static(b"x"), next, ts, None)
        .unwrap()
        .0
}

fn seqs(h: &Harness, filter: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut start = 0;
    while let Ok(m) = h.store.load_next_msg(filter, start) {
        out.push(m.seq);
        start = m.seq + 1;
    }
    out
}

#[test]
fn store_and_load() {
    each(cfg(), |h| {
        let s = &*h.store;
        assert_eq!(s.fast_state().last_seq, 0);
        assert_eq!(s.fast_state().first_seq, 0);
        let hdr = Bytes::from_static(b"NATS/1.0\r\nA: b\r\n\r\n");
        let (seq, ts) = s
            .store_msg(
                "foo.bar",
                Some(hdr.clone()),
                Bytes::from_static(b"hello"),
                None,
            )
            .unwrap();
        assert_eq!(seq, 1, "{}", h.kind);
        assert!(ts > 0);
        assert_eq!(put(s, "foo.baz", "two"), 2);
        assert_eq!(put(s, "bar", ""), 3);
        h.reopen();
        let s = &*h.store;
        let m = s.load_msg(1).unwrap();
        assert_eq!((&*m.subject, m.seq, m.ts), ("foo.bar", 1, ts));
        assert_eq!(m.headers, Some(hdr));
        assert_eq!(&m.payload[..], b"hello");
        assert_eq!(s.load_msg(2).unwrap().headers, None);
        assert_eq!(s.load_msg(3).unwrap().payload.len(), 0);
        assert_eq!(s.load_msg(4), Err(StoreError::NotFound));
        assert_eq!(s.load_msg(0), Err(StoreError::NotFound));
        let st = s.state();
        assert_eq!(
            (st.msgs, st.first_seq, st.last_seq, st.num_subjects),
            (3, 1, 3, 3),
            "{}",
            h.kind
        );
        assert_eq!(st.first_ts, ts);
        assert!(st.bytes > 0);
        assert_eq!(st.deleted, Some(vec![]));
        assert_eq!(
            s.store_msg("", None, Bytes::new(), None),
            Err(StoreError::InvalidSubject)
        );
        assert_eq!(
            s.store_msg("a..b", None, Bytes::new(), None),
            Err(StoreError::InvalidSubject)
        );
        // Wildcard tokens are stored as plain tokens, as nats-server does.
        let (seq, _) = s.store_msg("a.*", None, Bytes::new(), None).unwrap();
        assert_eq!(&*s.load_msg(seq).unwrap().subject, "a.*");
        assert_eq!(
            s.store_msg("a", None, Bytes::new(), Some(Duration::from_secs(1))),
            Err(StoreError::MsgTtlDisabled)
        );
    });
}

#[test]
fn async_appends_complete_in_order() {
    each(cfg(), |h| {
        let got = Arc::new(Mutex::new(Vec::new()));
        for i in 0..200 {
            let got = got.clone();
            h.store.store_msg_async(
                &format!("s.{}", i % 7),
                None,
                Bytes::from(vec![i as u8; i]),
                None,
                Box::new(move |r| got.lock().unwrap().push(r.unwrap().0)),
            );
        }
        h.store.flush().unwrap();
        let mut v = got.lock().unwrap().clone();
        assert_eq!(v.len(), 200, "{}", h.kind);
        v.sort();
        assert_eq!(v, (1..=200).collect::<Vec<_>>());
        h.reopen();
        for i in 0..200u64 {
            assert_eq!(h.store.load_msg(i + 1).unwrap().payload.len(), i as usize);
        }
    });
}

#[test]
fn filters_next_last_prev() {
    each(cfg(), |h| {
        let s = &*h.store;
        for subj in ["a.1", "b.1", "a.2", "a.1", "c.x.y", "b.2"] {
            put(s, subj, subj);
        }
        assert_eq!(seqs(h, ""), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(seqs(h, ">"), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(seqs(h, "a.1"), vec![1, 4]);
        assert_eq!(seqs(h, "a.*"), vec![1, 3, 4]);
        assert_eq!(seqs(h, "*.1"), vec![1, 2, 4]);
        assert_eq!(seqs(h, "c.>"), vec![5]);
        assert_eq!(seqs(h, "c.*"), Vec::<u64>::new());
        assert_eq!(seqs(h, "zz"), Vec::<u64>::new());
        let s = &*h.store;
        assert_eq!(s.load_next_msg("a.*", 2).unwrap().seq, 3);
        assert_eq!(s.load_next_msg("a.*", 5), Err(StoreError::Eof));
        assert_eq!(s.load_last_msg("a.1").unwrap().seq, 4);
        assert_eq!(s.load_last_msg("b.*").unwrap().seq, 6);
        assert_eq!(s.load_last_msg(">").unwrap().seq, 6);
        assert_eq!(s.load_last_msg("").unwrap().seq, 6);
        assert_eq!(s.load_last_msg("q"), Err(StoreError::NotFound));
        assert!(s.remove_msg(3).unwrap());
        assert_eq!(s.load_prev_msg(3).unwrap().seq, 2);
        assert_eq!(s.load_prev_msg(100).unwrap().seq, 6);
        assert_eq!(s.load_prev_msg(0), Err(StoreError::Eof));
        h.reopen();
        assert_eq!(seqs(h, "a.*"), vec![1, 4]);
        let s = &*h.store;
        let st = s.subjects_state("a.*");
        assert_eq!(st.len(), 1);
        assert_eq!(
            st["a.1"],
            SimpleState {
                msgs: 2,
                first: 1,
                last: 4
            }
        );
        let tot = s.subjects_totals(">");
        assert_eq!(tot.len(), 4);
        assert_eq!(tot["b.1"], 1);
        assert_eq!(s.num_pending(1, ">", false), (5, 6));
        assert_eq!(s.num_pending(3, "", false), (3, 6));
        assert_eq!(s.num_pending(2, "a.1", false), (1, 6));
        assert_eq!(s.num_pending(0, "*.1", false), (3, 6));
        assert_eq!(s.num_pending(0, ">", true), (4, 6));
        assert_eq!(s.num_pending(5, ">", true), (2, 6));
    });
}

#[test]
fn remove_erase_and_deleted_list() {
    each(cfg(), |h| {
        for i in 0..10 {
            put(&*h.store, &format!("k.{}", i % 3), "v");
        }
        let s = &*h.store;
        assert!(s.remove_msg(1).unwrap());
        assert!(!s.remove_msg(1).unwrap());
        assert!(s.remove_msg(5).unwrap());
        assert!(s.erase_msg(7).unwrap());
        assert!(!s.erase_msg(70).unwrap());
        h.reopen();
        let s = &*h.store;
        assert_eq!(s.load_msg(5), Err(StoreError::NotFound));
        assert_eq!(s.load_msg(7), Err(StoreError::NotFound));
        let st = s.state();
        assert_eq!(
            (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
            (7, 2, 10, 2),
            "{}",
            h.kind
        );
        assert_eq!(st.deleted, Some(vec![5, 7]));
        assert_eq!(s.fast_state().deleted, None);
        // Removing the last message keeps last_seq.
        assert!(s.remove_msg(10).unwrap());
        h.reopen();
        assert_eq!(h.store.fast_state().last_seq, 10, "{}", h.kind);
        assert_eq!(put(&*h.store, "k.0", "v"), 11);
    });
}

#[test]
fn purge_compact_truncate() {
    each(cfg(), |h| {
        for i in 0..20 {
            put(&*h.store, &format!("p.{}", i % 4), "v");
        }
        let s = &*h.store;
        // Subject purge with keep.
        assert_eq!(s.purge_ex("p.0", 0, 2), Ok(3)); // p.0 = 1,5,9,13,17 -> keep 13,17
        assert_eq!(seqs(h, "p.0"), vec![13, 17]);
        // Subject purge up to a sequence.
        assert_eq!(h.store.purge_ex("p.1", 10, 0).unwrap(), 2); // 2,6,... < 10 -> 2,6
        assert_eq!(seqs(h, "p.1"), vec![10, 14, 18]);
        // Wildcard purge.
        assert_eq!(h.store.purge_ex("p.*", 4, 0).unwrap(), 1); // only 3 left below 4
        h.reopen();
        assert_eq!(seqs(h, ">")[..3], [4, 7, 8], "{}", h.kind);
        // Compact.
        assert_eq!(h.store.compact(8).unwrap(), 2);
        assert_eq!(h.store.fast_state().first_seq, 8);
        assert_eq!(h.store.purge_ex("", 10, 0).unwrap(), 1); // 8 (9 was purged)
                                                             // Truncate.
        h.store.truncate(15).unwrap();
        h.reopen();
        let st = h.store.state();
        assert_eq!((st.first_seq, st.last_seq), (10, 15), "{}", h.kind);
        assert_eq!(seqs(h, ">"), vec![10, 11, 12, 13, 14, 15]);
        assert_eq!(put(&*h.store, "p.9", "new"), 16);
        h.reopen();
        assert_eq!(&h.store.load_msg(16).unwrap().payload[..], b"new");
        assert_eq!(seqs(h, "p.*").len(), 7);
        // Purge all keeps the sequence.
        assert_eq!(h.store.purge().unwrap(), 7);
        h.reopen();
        let st = h.store.state();
        assert_eq!(
            (st.msgs, st.first_seq, st.last_seq),
            (0, 17, 16),
            "{}",
            h.kind
        );
        assert_eq!(put(&*h.store, "z", "v"), 17);
        // Compact past the end moves the sequence.
        assert_eq!(h.store.compact(100).unwrap(), 1);
        h.reopen();
        let st = h.store.state();
        assert_eq!(
            (st.msgs, st.first_seq, st.last_seq),
            (0, 100, 99),
            "{}",
            h.kind
        );
        assert_eq!(put(&*h.store, "z", "v"), 100);
        // Truncate 0 resets.
        h.store.truncate(0).unwrap();
        h.reopen();
        let st = h.store.state();
        assert_eq!((st.msgs, st.last_seq), (0, 0), "{}", h.kind);
        assert_eq!(put(&*h.store, "z", "v"), 1);
    });
}

#[test]
fn limits_discard_old() {
    let c = StoreConfig {
        max_msgs: 5,
        max_msgs_per_subject: 2,
        ..cfg()
    };
    each(c, |h| {
        let removed = Arc::new(Mutex::new(Vec::new()));
        let r2 = removed.clone();
        h.store
            .register_removal_callback(Box::new(move |seq, subj, why| {
                r2.lock().unwrap().push((seq, subj.to_string(), why));
            }));
        for i in 1..=3 {
            put(&*h.store, "a", &i.to_string());
        }
        assert_eq!(seqs(h, "a"), vec![2, 3]);
        for s in ["b", "c", "d", "e"] {
            put(&*h.store, s, "v");
        }
        assert_eq!(seqs(h, ">"), vec![3, 4, 5, 6, 7], "{}", h.kind);
        let r = removed.lock().unwrap().clone();
        assert_eq!(
            r,
            vec![
                (1, "a".into(), RemovalReason::Limits),
                (2, "a".into(), RemovalReason::Limits)
            ]
        );
        h.reopen();
        assert_eq!(seqs(h, ">"), vec![3, 4, 5, 6, 7], "{}", h.kind);
    });
    // Bytes limit, sized from the store's own accounting.
    each(cfg(), |h| {
        put(&*h.store, "x", "0123456789");
        let one = h.store.fast_state().bytes;
        let c = StoreConfig {
            max_bytes: (one * 3) as i64,
            ..h.store.config()
        };
        h.store.update_config(&c).unwrap();
        for _ in 0..5 {
            put(&*h.store, "x", "0123456789");
        }
        let st = h.store.fast_state();
        assert_eq!(
            (st.msgs, st.first_seq, st.bytes),
            (3, 4, one * 3),
            "{}",
            h.kind
        );
    });
}

#[test]
fn limits_discard_new() {
    let c = StoreConfig {
        max_msgs: 3,
        discard: Discard::New,
        ..cfg()
    };
    each(c, |h| {
        for s in ["a", "b", "c"] {
            put(&*h.store, s, "v");
        }
        assert_eq!(
            h.store.store_msg("d", None, Bytes::new(), None),
            Err(StoreError::MaxMsgs)
        );
        h.reopen();
        assert_eq!(
            h.store.store_msg("d", None, Bytes::new(), None),
            Err(StoreError::MaxMsgs)
        );
        assert_eq!(h.store.fast_state().last_seq, 3);
    });
    // Per-subject limit with discard new: the subject's oldest is replaced...
    let c = StoreConfig {
        max_msgs: 3,
        max_msgs_per_subject: 1,
        discard: Discard::New,
        ..cfg()
    };
    each(c.clone(), |h| {
        for s in ["a", "b", "c"] {
            put(&*h.store, s, "v");
        }
        assert_eq!(put(&*h.store, "a", "v2"), 4);
        assert_eq!(seqs(h, ">"), vec![2, 3, 4]);
        assert_eq!(
            h.store.store_msg("d", None, Bytes::new(), None),
            Err(StoreError::MaxMsgs)
        );
    });
    // ...unless discard_new_per_subject.
    each(
        StoreConfig {
            discard_new_per_subject: true,
            ..c
        },
        |h| {
            put(&*h.store, "a", "v");
            assert_eq!(
                h.store.store_msg("a", None, Bytes::new(), None),
                Err(StoreError::MaxMsgsPerSubject)
            );
        },
    );
    each(cfg(), |h| {
        put(&*h.store, "x", "0123456789");
        let one = h.store.fast_state().bytes;
        let c = StoreConfig {
            max_bytes: (one * 2) as i64,
            discard: Discard::New,
            ..h.store.config()
        };
        h.store.update_config(&c).unwrap();
        put(&*h.store, "x", "0123456789");
        assert_eq!(
            h.store
                .store_msg("x", None, Bytes::from_static(b"0123456789"), None),
            Err(StoreError::MaxBytes)
        );
    });
    each(
        StoreConfig {
            max_msg_size: 4,
            ..cfg()
        },
        |h| {
            assert_eq!(
                h.store
                    .store_msg("x", None, Bytes::from_static(b"12345"), None),
                Err(StoreError::MaxMsgSize)
            );
            let hdr = Some(Bytes::from_static(b"hh"));
            assert_eq!(
                h.store
                    .store_msg("x", hdr, Bytes::from_static(b"123"), None),
                Err(StoreError::MaxMsgSize)
            );
            assert_eq!(put(&*h.store, "x", "1234"), 1);
        },
    );
}

#[test]
fn update_config_applies_limits() {
    each(cfg(), |h| {
        for i in 0..10 {
            put(&*h.store, &format!("u.{}", i % 2), "v");
        }
        let c = StoreConfig {
            max_msgs_per_subject: 3,
            ..h.store.config()
        };
        h.store.update_config(&c).unwrap();
        assert_eq!(seqs(h, ">"), vec![5, 6, 7, 8, 9, 10]);
        let c = StoreConfig { max_msgs: 2, ..c };
        h.store.update_config(&c).unwrap();
        assert_eq!(h.store.config().max_msgs, 2);
        h.reopen();
        assert_eq!(seqs(h, ">"), vec![9, 10], "{}", h.kind);
    });
}

#[test]
fn max_age_and_ttl_expiry() {
    let sec = 1_000_000_000i64;
    let base = 1_700_000_000 * sec;
    let c = StoreConfig {
        max_age: Duration::from_secs(10),
        allow_msg_ttl: true,
        ..cfg()
    };
    each(c, |h| {
        let removed = Arc::new(Mutex::new(Vec::new()));
        let r2 = removed.clone();
        h.store
            .register_removal_callback(Box::new(move |seq, _, why| {
                r2.lock().unwrap().push((seq, why))
            }));
        for i in 0..5 {
            put_at(&*h.store, "age", base + i * sec);
        }
        let ttl = Some(Duration::from_secs(2));
        h.store
            .store_raw_msg("ttl", None, Bytes::new(), 6, base + 5 * sec, ttl)
            .unwrap();
        assert_eq!(
            h.store.next_expiry(),
            Some(UNIX_EPOCH + Duration::from_nanos((base + 7 * sec) as u64))
        );
        h.reopen();
        let at = |s: i64| UNIX_EPOCH + Duration::from_nanos((base + s * sec) as u64);
        let out = h.store.expire(at(7)).unwrap();
        assert_eq!(out.removed, 1, "{}", h.kind);
        assert_eq!(out.next_deadline, Some(at(10)));
        let out = h.store.expire(at(12)).unwrap();
        assert_eq!(out.removed, 3);
        assert_eq!(out.next_deadline, Some(at(13)));
        h.reopen();
        assert_eq!(seqs(h, ">"), vec![4, 5], "{}", h.kind);
        if !h.is_file() {
            let r = removed.lock().unwrap().clone();
            assert_eq!(r[0], (6, RemovalReason::Ttl));
            assert_eq!(r[1], (1, RemovalReason::MaxAge));
        }
        let out = h.store.expire(at(100)).unwrap();
        assert_eq!((out.removed, out.next_deadline), (2, None));
    });
}

#[test]
fn first_seq_config() {
    each(
        StoreConfig {
            first_seq: 1000,
            ..cfg()
        },
        |h| {
            let st = h.store.fast_state();
            assert_eq!((st.first_seq, st.last_seq), (1000, 999));
            h.reopen();
            assert_eq!(put(&*h.store, "f", "v"), 1000, "{}", h.kind);
            h.reopen();
            assert_eq!(h.store.fast_state().first_seq, 1000);
        },
    );
}

#[test]
fn raw_store_rejects_old_sequences() {
    each(cfg(), |h| {
        put(&*h.store, "a", "v");
        let r = h.store.store_raw_msg("a", None, Bytes::new(), 1, 5, None);
        assert_eq!(
            r,
            Err(StoreError::SequenceMismatch {
                expected: 2,
                got: 1
            })
        );
        assert_eq!(
            h.store.store_raw_msg("a", None, Bytes::new(), 2, 5, None),
            Ok((2, 5))
        );
    });
}

#[test]
fn snapshot_roundtrip() {
    each(
        StoreConfig {
            allow_msg_ttl: true,
            ..cfg()
        },
        |h| {
            for i in 0..50 {
                let hdr = (i % 3 == 0).then(|| Bytes::from(format!("NATS/1.0\r\nI: {i}\r\n\r\n")));
                h.store
                    .store_msg(
                        &format!("s.{}", i % 5),
                        hdr,
                        Bytes::from(vec![i as u8; i]),
                        None,
                    )
                    .unwrap();
            }
            h.store.remove_msg(7).unwrap();
            h.store.compact(3).unwrap();
            h.store.remove_msg(50).unwrap();
            let mut buf = Vec::new();
            h.store.snapshot(&mut buf).unwrap();
            let mem = restore_memory(&mut &buf[..]).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let file = natrium_store::restore(
                &dir.path().join("r"),
                &mut &buf[..],
                FileStoreOptions::default(),
            )
            .unwrap();
            for restored in [&*mem as &dyn MessageStore, &*file as &dyn MessageStore] {
                let (a, b) = (h.store.state(), restored.state());
                assert_eq!(
                    (a.msgs, a.bytes > 0, a.first_seq, a.last_seq, a.deleted),
                    (b.msgs, b.bytes > 0, b.first_seq, b.last_seq, b.deleted)
                );
                for seq in 0..=51 {
                    assert_eq!(
                        h.store.load_msg(seq),
                        restored.load_msg(seq),
                        "{} seq {seq}",
                        h.kind
                    );
                }
            }
            // Any single flipped byte is detected.
            for i in (0..buf.len()).step_by(97) {
                let mut bad = buf.clone();
                bad[i] ^= 0x10;
                assert!(
                    restore_memory(&mut &bad[..]).is_err(),
                    "flip at {i} accepted"
                );
            }
            assert!(restore_memory(&mut &buf[..buf.len() - 1]).is_err());
        },
    );
}

#[test]
fn consumer_store_roundtrip() {
    each(cfg(), |h| {
        let ccfg = ConsumerConfig {
            ack_policy: AckPolicy::Explicit,
            max_deliver: -1,
            raw: Bytes::from_static(b"{}"),
        };
        let c = h.store.consumer_store("dur", &ccfg).unwrap();
        for i in 1..=5 {
            c.update_delivered(i, i + 100, 1, i as i64).unwrap();
        }
        c.update_acks(1, 101).unwrap();
        c.update_acks(3, 103).unwrap();
        let st = c.state().unwrap();
        assert_eq!(
            st.ack_floor,
            SequencePair {
                consumer: 1,
                stream: 101
            }
        );
        assert_eq!(st.pending.len(), 3);
        c.stop().unwrap();
        h.reopen();
        let c = h.store.consumer_store("dur", &ccfg).unwrap();
        if h.is_file() {
            assert_eq!(c.state().unwrap(), st, "{}", h.kind);
            assert_eq!(c.config(), ccfg);
        }
        c.delete().unwrap();
    });
}

#[test]
fn closed_store_refuses() {
    each(cfg(), |h| {
        put(&*h.store, "a", "v");
        h.store.stop().unwrap();
        assert_eq!(
            h.store.store_msg("a", None, Bytes::new(), None),
            Err(StoreError::Closed)
        );
        assert_eq!(h.store.load_msg(1), Err(StoreError::Closed));
    });
}

/// A mirror stores its origin's sequences: a raw append past the next sequence leaves a gap
/// that reads as deleted, before and after a reopen, and an empty store can start anywhere.
#[test]
fn raw_store_leaves_gaps() {
    each(cfg(), |h| {
        let (tx, rx) = std::sync::mpsc::channel();
        h.store.store_raw_msg_async(
            "a",
            None,
            Bytes::from_static(b"first"),
            3,
            7,
            None,
            Box::new(move |r| tx.send(r).unwrap()),
        );
        assert_eq!(rx.recv().unwrap(), Ok((3, 7)), "{}", h.kind);
        assert_eq!(
            h.store
                .store_raw_msg("b", None, Bytes::from_static(b"x"), 6, 9, None),
            Ok((6, 9))
        );
        for _ in 0..2 {
            let st = h.store.state();
            assert_eq!(
                (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
                (2, 3, 6, 2),
                "{}",
                h.kind
            );
            assert_eq!(seqs(h, ">"), vec![3, 6]);
            assert_eq!(h.store.load_msg(4), Err(StoreError::NotFound));
            assert_eq!(&h.store.load_msg(3).unwrap().payload[..], b"first");
            h.reopen();
        }
        assert_eq!(put(&*h.store, "c", "v"), 7, "{}", h.kind);
    });
}

/// With subject delete markers, expiry spares (and reports) the last message of a subject.
#[test]
fn expiry_spares_last_of_subject_for_markers() {
    each(
        StoreConfig {
            max_age: Duration::from_secs(1),
            subject_delete_markers: true,
            ..cfg()
        },
        |h| {
            for (i, subj) in ["a", "a", "b"].iter().enumerate() {
                h.store
                    .store_raw_msg(subj, None, Bytes::new(), i as u64 + 1, 1_000, None)
                    .unwrap();
            }
            let later = UNIX_EPOCH + Duration::from_secs(10);
            let out = h.store.expire(later).unwrap();
            assert_eq!(out.removed, 1, "{}", h.kind);
            let spared: Vec<(u64, String)> = out
                .spared
                .iter()
                .map(|(s, n)| (*s, n.to_string()))
                .collect();
            assert_eq!(spared, vec![(2, "a".to_string()), (3, "b".to_string())]);
            assert_eq!(h.store.fast_state().msgs, 2);
        },
    );
}

fn batch(subjects: &[&str]) -> Vec<BatchMsg> {
    subjects
        .iter()
        .enumerate()
        .map(|(i, s)| BatchMsg {
            subject: s.to_string(),
            headers: None,
            payload: Bytes::from(format!("m{i}")),
            ttl: None,
        })
        .collect()
}

fn store_batch(s: &dyn MessageStore, msgs: Vec<BatchMsg>) -> Result<Vec<(u64, i64)>> {
    let (tx, rx) = std::sync::mpsc::channel();
    s.store_batch_async(
        msgs,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    rx.recv().unwrap()
}

#[test]
fn batch_appends_all_or_nothing() {
    each(cfg(), |h| {
        put(&*h.store, "a", "first");
        let got = store_batch(&*h.store, batch(&["a", "b", "c"])).unwrap();
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![2, 3, 4]);
        h.reopen();
        assert_eq!(seqs(h, ">"), vec![1, 2, 3, 4]);
        assert_eq!(&h.store.load_msg(4).unwrap().payload[..], b"m2");
        assert_eq!(put(&*h.store, "d", "after"), 5, "{}", h.kind);
    });
    // A batch whose third message breaks a discard-new limit stores nothing.
    let c = StoreConfig {
        max_msgs: 3,
        discard: Discard::New,
        ..cfg()
    };
    each(c.clone(), |h| {
        put(&*h.store, "a", "v");
        let r = store_batch(&*h.store, batch(&["b", "c", "d"]));
        assert_eq!(r, Err(StoreError::MaxMsgs), "{}", h.kind);
        assert_eq!(seqs(h, ">"), vec![1]);
        assert_eq!(store_batch(&*h.store, batch(&["b", "c"])).unwrap().len(), 2);
        h.reopen();
        assert_eq!(seqs(h, ">"), vec![1, 2, 3]);
        assert_eq!(h.store.fast_state().last_seq, 3);
    });
    // Per-subject replacement counts as the batch goes: "a" twice replaces, "d" does not fit.
    each(
        StoreConfig {
            max_msgs_per_subject: 1,
            ..c.clone()
        },
        |h| {
            for s in ["a", "b", "c"] {
                put(&*h.store, s, "v");
            }
            assert_eq!(
                store_batch(&*h.store, batch(&["a", "a", "b"]))
                    .unwrap()
                    .len(),
                3
            );
            assert_eq!(seqs(h, ">"), vec![3, 5, 6]);
            assert_eq!(
                store_batch(&*h.store, batch(&["a", "d"])),
                Err(StoreError::MaxMsgs)
            );
            assert_eq!(h.store.fast_state().last_seq, 6);
        },
    );
    // A message too large for the stream refuses the whole batch.
    each(
        StoreConfig {
            max_msg_size: 2,
            ..cfg()
        },
        |h| {
            let r = store_batch(
                &*h.store,
                batch(&["a", "b"])
                    .into_iter()
                    .chain([BatchMsg {
                        subject: "c".into(),
                        headers: None,
                        payload: Bytes::from_static(b"long"),
                        ttl: None,
                    }])
                    .collect(),
            );
            assert_eq!(r, Err(StoreError::MaxMsgSize));
            assert_eq!(h.store.fast_state().msgs, 0);
        },
    );
}

/// With compression on, large compressible bodies take less disk, read back intact across
/// reopen, erase, compaction and snapshot, and count in the state at their full size.
#[test]
fn compressed_bodies_round_trip() {
    let body =
        |i: usize| Bytes::from(format!("{i:04} the same words again and again. ").repeat(20));
    let hdr = |i: usize| {
        Bytes::from(format!(
            "NATS/1.0\r\nI: {i}\r\nPad: {}\r\n\r\n",
            "x".repeat(80)
        ))
    };
    let mut sizes = Vec::new();
    for compress in [false, true] {
        let mut h = common::file(StoreConfig { compress, ..cfg() });
        for i in 0..40 {
            let headers = (i % 2 == 0).then(|| hdr(i));
            h.store.store_msg("c.x", headers, body(i), None).unwrap();
        }
        h.store
            .store_msg("c.y", None, Bytes::from_static(b"tiny"), None)
            .unwrap();
        h.store.erase_msg(5).unwrap();
        h.store.remove_msg(6).unwrap();
        let check = |s: &dyn MessageStore| {
            for i in 0..40usize {
                let seq = i as u64 + 1;
                match s.load_msg(seq) {
                    Ok(m) => {
                        assert_eq!(m.payload, body(i), "seq {seq}");
                        assert_eq!(m.headers, (i % 2 == 0).then(|| hdr(i)), "seq {seq}");
                    }
                    Err(StoreError::NotFound) => assert!(seq == 5 || seq == 6),
                    Err(e) => panic!("seq {seq}: {e}"),
                }
            }
            assert_eq!(&s.load_msg(41).unwrap().payload[..], b"tiny");
        };
        check(&*h.store);
        let before = h.store.state();
        h.reopen();
        check(&*h.store);
        assert_eq!(h.store.state().bytes, before.bytes);
        // Bytes written to block files (the active block is zero-filled ahead).
        let disk: usize = walk_files(h.dir().unwrap())
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "blk"))
            .map(|p| {
                let b = std::fs::read(p).unwrap();
                b.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1)
            })
            .sum();
        sizes.push((before.bytes, disk));
        let mut snap = Vec::new();
        h.store.snapshot(&mut snap).unwrap();
        check(&*restore_memory(&mut &snap[..]).unwrap());
        // Purging most of the stream leaves dead leading blocks and compaction work.
        h.store.purge_ex("c.x", 30, 0).unwrap();
        h.reopen();
        assert_eq!(h.store.load_msg(40).unwrap().payload, body(39));
        assert_eq!(&h.store.load_msg(41).unwrap().payload[..], b"tiny");
    }
    // The same messages count the same; compressed, they take less disk.
    assert_eq!(sizes[0].0, sizes[1].0);
    assert!(sizes[1].1 < sizes[0].1 / 2, "{sizes:?}");
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// One group commit whose bytes run past the zero-filled reserve of the active block (many
/// 1 KiB appends queued at once, default block size): every message reads back intact,
/// before and after a reopen. (The reserve fill once zeroed the tail of such a write.)
#[test]
fn large_group_commits_past_the_reserve_stay_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    let open = || {
        natrium_store::open_file_store(
            &path,
            StoreConfig::new("B", StorageKind::File),
            FileStoreOptions::default(),
        )
        .unwrap()
    };
    let body = |i: u64| Bytes::from(vec![(i % 251) as u8 + 1; 1024]);
    let store = open();
    let n = 6_000u64;
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..n {
        let tx = tx.clone();
        store.store_msg_async(
            "big.x",
            None,
            body(i),
            None,
            Box::new(move |r| {
                let _ = tx.send(r.map(|(seq, _)| seq));
            }),
        );
    }
    for _ in 0..n {
        rx.recv().unwrap().unwrap();
    }
    let check = |s: &dyn MessageStore| {
        for seq in 1..=n {
            let m = s.load_msg(seq).unwrap_or_else(|e| panic!("seq {seq}: {e}"));
            assert_eq!(m.payload, body(seq - 1), "seq {seq}");
        }
        assert!(s.state().corrupt_ranges.is_empty());
    };
    check(&*store);
    store.stop().unwrap();
    drop(store);
    let store = open();
    check(&*store);
}
