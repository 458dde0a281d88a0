//! Store benchmarks, short by default (small samples) so they run on a shared 2-core box:
//! append throughput with fsync-before-ack (group commit) under 1, 8 and 64 concurrent
//! writers vs. the same store in lazy (interval) mode; loads by sequence; load last by
//! subject.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use natrium_store::*;

fn open(dir: &std::path::Path, sync: SyncPolicy) -> Arc<FileStore> {
    let opts = FileStoreOptions {
        sync,
        ..Default::default()
    };
    open_file_store(dir, StoreConfig::new("B", StorageKind::File), opts).unwrap()
}

/// Time for `total` appends of 128-byte payloads spread over `writers` threads, each
/// waiting for its append to complete before issuing the next.
fn append_run(store: &Arc<FileStore>, writers: u64, total: u64) -> Duration {
    let per = (total / writers).max(1);
    let payload = Bytes::from(vec![7u8; 128]);
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..writers {
            let store = store.clone();
            let payload = payload.clone();
            s.spawn(move || {
                let subject = format!("bench.{w}");
                for _ in 0..per {
                    store
                        .store_msg(&subject, None, payload.clone(), None)
                        .unwrap();
                }
            });
        }
    });
    start.elapsed()
}

fn appends(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(1));
    for (mode, sync) in [
        ("fsync", SyncPolicy::Always),
        ("lazy", SyncPolicy::Interval(Duration::from_secs(1))),
    ] {
        for writers in [1u64, 8, 64] {
            let dir = tempfile::tempdir().unwrap();
            let store = open(dir.path(), sync);
            g.bench_with_input(BenchmarkId::new(mode, writers), &writers, |b, &w| {
                b.iter_custom(|iters| append_run(&store, w, iters.max(w)))
            });
            store.stop().unwrap();
        }
    }
    g.finish();
}

fn loads(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), SyncPolicy::Interval(Duration::from_secs(1)));
    let n = 100_000u64;
    let payload = Bytes::from(vec![1u8; 128]);
    for i in 0..n {
        store.store_msg_async(
            &format!("kv.{}", i % 1000),
            None,
            payload.clone(),
            None,
            Box::new(|_| {}),
        );
    }
    store.flush().unwrap();
    let mut g = c.benchmark_group("load");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(1));
    let mut x = 88172645463325252u64;
    g.bench_function("by_seq_random", |b| {
        b.iter(|| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            store.load_msg(1 + x % n).unwrap()
        })
    });
    let mut seq = 0;
    g.bench_function("by_seq_sequential", |b| {
        b.iter(|| {
            seq = seq % n + 1;
            store.load_msg(seq).unwrap()
        })
    });
    let mut k = 0;
    g.bench_function("last_by_subject", |b| {
        b.iter(|| {
            k = (k + 1) % 1000;
            store.load_last_msg(&format!("kv.{k}")).unwrap()
        })
    });
    g.finish();
    store.stop().unwrap();
}

criterion_group!(benches, appends, loads);
criterion_main!(benches);
