//! JetStream scenarios: publish with acks (sync or windowed), pull and ordered consumers
//! over a pre-filled stream, and key-value put/get. Each creates its own stream or bucket
//! named `NATRIUM_BENCH*` and deletes it when done.

use std::collections::VecDeque;
use std::time::Instant;

use async_nats::jetstream::{self, consumer, kv, stream};
use futures_util::StreamExt;

use super::{connect, histogram, progress, AckMode, BenchArgs, BenchResult, Report, StorageKind};

const STREAM: &str = "NATRIUM_BENCH";
const BUCKET: &str = "NATRIUM_BENCH_KV";

fn storage(args: &BenchArgs) -> stream::StorageType {
    match args.storage {
        StorageKind::File => stream::StorageType::File,
        StorageKind::Memory => stream::StorageType::Memory,
    }
}

async fn fresh_stream(js: &jetstream::Context, args: &BenchArgs) -> BenchResult<stream::Stream> {
    let _ = js.delete_stream(STREAM).await;
    let s = js
        .create_stream(stream::Config {
            name: STREAM.to_string(),
            subjects: vec![format!("{}.js.>", args.subject)],
            storage: storage(args),
            ..Default::default()
        })
        .await?;
    Ok(s)
}

/// Publishes `--msgs` messages over `--pubs` connections with up to `window` acks
/// outstanding per publisher (1 = wait for each ack). Latency is publish-to-ack.
pub async fn publish(args: &BenchArgs, window: usize) -> BenchResult<Vec<Report>> {
    let admin = jetstream::new(connect(args).await?);
    fresh_stream(&admin, args).await?;
    let payload = args.payload();
    let pb = progress(args, args.msgs);
    let deadline = args.deadline();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..args.pubs.max(1) {
        let js = jetstream::new(connect(args).await?);
        let n = args.msgs / args.pubs.max(1) as u64
            + u64::from((i as u64) < args.msgs % args.pubs.max(1) as u64);
        let (payload, pb) = (payload.clone(), pb.clone());
        let subject = format!("{}.js.{i}", args.subject);
        tasks.push(tokio::spawn(async move {
            let mut h = histogram();
            let mut inflight = VecDeque::with_capacity(window);
            let mut acked = 0u64;
            let mut sent = 0u64;
            while sent < n && Instant::now() < deadline {
                let t = Instant::now();
                let fut = js.publish(subject.clone(), payload.clone()).await?;
                inflight.push_back((t, fut));
                sent += 1;
                if inflight.len() >= window {
                    let (t, fut) = inflight.pop_front().expect("non-empty");
                    fut.await?;
                    h.saturating_record(t.elapsed().as_micros() as u64);
                    acked += 1;
                    pb.inc(1);
                }
            }
            while let Some((t, fut)) = inflight.pop_front() {
                fut.await?;
                h.saturating_record(t.elapsed().as_micros() as u64);
                acked += 1;
                pb.inc(1);
            }
            Ok::<_, async_nats::Error>((acked, h))
        }));
    }
    let mut all = histogram();
    let mut acked = 0;
    for t in tasks {
        let (n, h) = t.await??;
        acked += n;
        all.add(&h).ok();
    }
    let elapsed = start.elapsed();
    pb.finish_and_clear();
    admin.delete_stream(STREAM).await?;
    Ok(vec![
        Report::new(args, "pub", acked, args.msgs, elapsed).with_latency(&all)
    ])
}

/// Fills the stream with `--msgs` messages as fast as acks allow.
async fn fill(js: &jetstream::Context, args: &BenchArgs) -> BenchResult<()> {
    let payload = args.payload();
    let mut inflight = VecDeque::new();
    for i in 0..args.msgs {
        inflight.push_back(
            js.publish(format!("{}.js.{}", args.subject, i % 16), payload.clone())
                .await?,
        );
        if inflight.len() >= 1024 {
            inflight.pop_front().expect("non-empty").await?;
        }
    }
    for f in inflight {
        f.await?;
    }
    Ok(())
}

pub async fn pull_consume(args: &BenchArgs) -> BenchResult<Vec<Report>> {
    let js = jetstream::new(connect(args).await?);
    let stream = fresh_stream(&js, args).await?;
    fill(&js, args).await?;
    let ack_policy = match args.ack {
        AckMode::None => consumer::AckPolicy::None,
        AckMode::All => consumer::AckPolicy::All,
        AckMode::Explicit => consumer::AckPolicy::Explicit,
    };
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("bench".into()),
            ack_policy,
            max_ack_pending: -1,
            ..Default::default()
        })
        .await?;
    let mut msgs = consumer
        .stream()
        .max_messages_per_batch(args.batch.max(1))
        .messages()
        .await?;
    let pb = progress(args, args.msgs);
    let deadline = args.deadline();
    let start = Instant::now();
    let mut got = 0u64;
    while got < args.msgs {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(m)) = tokio::time::timeout(left, msgs.next()).await else {
            break;
        };
        let m = m?;
        got += 1;
        let last_of_batch = got.is_multiple_of(args.batch.max(1) as u64) || got == args.msgs;
        match args.ack {
            AckMode::Explicit => m.ack().await?,
            AckMode::All if last_of_batch => m.ack().await?,
            _ => {}
        }
        pb.inc(1);
    }
    let elapsed = start.elapsed();
    pb.finish_and_clear();
    js.delete_stream(STREAM).await?;
    Ok(vec![Report::new(args, "sub", got, args.msgs, elapsed)])
}

pub async fn ordered_consume(args: &BenchArgs) -> BenchResult<Vec<Report>> {
    let js = jetstream::new(connect(args).await?);
    let stream = fresh_stream(&js, args).await?;
    fill(&js, args).await?;
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig::default())
        .await?;
    let mut msgs = consumer.messages().await?;
    let pb = progress(args, args.msgs);
    let deadline = args.deadline();
    let start = Instant::now();
    let mut got = 0u64;
    while got < args.msgs {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, msgs.next()).await {
            Ok(Some(m)) => {
                m?;
                got += 1;
                pb.inc(1);
            }
            _ => break,
        }
    }
    let elapsed = start.elapsed();
    pb.finish_and_clear();
    js.delete_stream(STREAM).await?;
    Ok(vec![Report::new(args, "sub", got, args.msgs, elapsed)])
}

/// Puts `--msgs` values over 1,000 keys, then gets them back, one request at a time.
pub async fn key_value(args: &BenchArgs) -> BenchResult<Vec<Report>> {
    let js = jetstream::new(connect(args).await?);
    let _ = js.delete_key_value(BUCKET).await;
    let store = js
        .create_key_value(kv::Config {
            bucket: BUCKET.to_string(),
            storage: storage(args),
            history: 1,
            ..Default::default()
        })
        .await?;
    let payload = args.payload();
    let deadline = args.deadline();
    let pb = progress(args, args.msgs * 2);
    let mut put_h = histogram();
    let start = Instant::now();
    let mut puts = 0u64;
    while puts < args.msgs && Instant::now() < deadline {
        let t = Instant::now();
        store
            .put(format!("k{}", puts % 1000), payload.clone())
            .await?;
        put_h.saturating_record(t.elapsed().as_micros() as u64);
        puts += 1;
        pb.inc(1);
    }
    let put_elapsed = start.elapsed();
    let mut get_h = histogram();
    let start = Instant::now();
    let mut gets = 0u64;
    while gets < args.msgs && Instant::now() < deadline {
        let t = Instant::now();
        store
            .get(format!("k{}", gets % 1000.min(puts.max(1))))
            .await?;
        get_h.saturating_record(t.elapsed().as_micros() as u64);
        gets += 1;
        pb.inc(1);
    }
    let get_elapsed = start.elapsed();
    pb.finish_and_clear();
    js.delete_key_value(BUCKET).await?;
    Ok(vec![
        Report::new(args, "put", puts, args.msgs, put_elapsed).with_latency(&put_h),
        Report::new(args, "get", gets, args.msgs, get_elapsed).with_latency(&get_h),
    ])
}
