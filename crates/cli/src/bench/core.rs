//! Core NATS scenarios: publish, publish/subscribe (fan-out, N→M, queue group) and
//! request/reply with latency percentiles.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;

use super::{connect, histogram, progress, BenchArgs, BenchResult, Report};

/// Splits `total` messages over `n` workers (the first ones take the remainder).
fn share(total: u64, n: usize, i: usize) -> u64 {
    let n = n.max(1) as u64;
    total / n + u64::from((i as u64) < total % n)
}

/// Runs `--pubs` publishers concurrently; returns when all have flushed.
async fn run_publishers(
    args: &BenchArgs,
    subject: &str,
) -> BenchResult<(u64, std::time::Duration)> {
    let payload = args.payload();
    let pb = progress(args, args.msgs);
    let mut clients = Vec::new();
    for _ in 0..args.pubs.max(1) {
        clients.push(connect(args).await?);
    }
    let deadline = args.deadline();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, nc) in clients.into_iter().enumerate() {
        let n = share(args.msgs, args.pubs, i);
        let (payload, pb, subject) = (payload.clone(), pb.clone(), subject.to_string());
        tasks.push(tokio::spawn(async move {
            let mut sent = 0u64;
            while sent < n && Instant::now() < deadline {
                let chunk = (n - sent).min(1000);
                for _ in 0..chunk {
                    nc.publish(subject.clone(), payload.clone()).await?;
                }
                sent += chunk;
                pb.inc(chunk);
            }
            nc.flush().await?;
            Ok::<u64, async_nats::Error>(sent)
        }));
    }
    let mut sent = 0;
    for t in tasks {
        sent += t.await??;
    }
    pb.finish_and_clear();
    Ok((sent, start.elapsed()))
}

pub async fn publish_only(args: &BenchArgs) -> BenchResult<Vec<Report>> {
    let (sent, elapsed) = run_publishers(args, &args.subject).await?;
    Ok(vec![Report::new(args, "pub", sent, args.msgs, elapsed)])
}

/// Publishers and subscribers on one subject. With `queue`, subscribers form one queue
/// group and together should receive each message once; otherwise each receives all.
pub async fn pub_sub(args: &BenchArgs, queue: bool) -> BenchResult<Vec<Report>> {
    let subs = args.subs.max(1);
    let expected_each = if queue { 0 } else { args.msgs };
    let expected_total = if queue {
        args.msgs
    } else {
        args.msgs * subs as u64
    };
    let received = Arc::new(AtomicU64::new(0));
    let deadline = args.deadline();
    let mut sub_tasks = Vec::new();
    let mut keep = Vec::new();
    for _ in 0..subs {
        let nc = connect(args).await?;
        let mut sub = if queue {
            nc.queue_subscribe(args.subject.clone(), "bench".into())
                .await?
        } else {
            nc.subscribe(args.subject.clone()).await?
        };
        nc.flush().await?;
        let received = received.clone();
        sub_tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut last = Instant::now();
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, sub.next()).await {
                    Ok(Some(_)) => {
                        n += 1;
                        last = Instant::now();
                        let total = received.fetch_add(1, Ordering::Relaxed) + 1;
                        if (expected_each > 0 && n >= expected_each) || total >= expected_total {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            (n, last)
        }));
        keep.push(nc);
    }
    let start = Instant::now();
    let (sent, pub_elapsed) = run_publishers(args, &args.subject).await?;
    let mut got = 0;
    let mut last = start;
    for t in sub_tasks {
        // Queue members stop when the group total is reached; wake the idle ones.
        let (n, l) = if queue {
            match tokio::time::timeout_at(
                tokio::time::Instant::from_std(deadline),
                wait_total(&received, expected_total),
            )
            .await
            {
                Ok(()) | Err(_) => {
                    t.abort();
                    (0, Instant::now())
                }
            }
        } else {
            t.await?
        };
        got += n;
        last = last.max(l);
    }
    if queue {
        got = received.load(Ordering::Relaxed);
        last = Instant::now();
    }
    let sub_elapsed = last.duration_since(start);
    Ok(vec![
        Report::new(args, "pub", sent, args.msgs, pub_elapsed),
        Report::new(args, "sub", got, expected_total, sub_elapsed),
    ])
}

async fn wait_total(received: &AtomicU64, expected: u64) {
    while received.load(Ordering::Relaxed) < expected {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// `--subs` responders answer with the request payload; `--pubs` requesters send requests
/// one at a time and record each round trip.
pub async fn request_reply(args: &BenchArgs) -> BenchResult<Vec<Report>> {
    let mut responders = Vec::new();
    for _ in 0..args.subs.max(1) {
        let nc = connect(args).await?;
        let mut sub = nc
            .queue_subscribe(args.subject.clone(), "responders".into())
            .await?;
        nc.flush().await?;
        let nc2 = nc.clone();
        responders.push(tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                if let Some(reply) = m.reply {
                    if nc2.publish(reply, m.payload).await.is_err() {
                        break;
                    }
                }
            }
        }));
    }
    let payload = args.payload();
    let pb = progress(args, args.msgs);
    let deadline = args.deadline();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..args.pubs.max(1) {
        let nc = connect(args).await?;
        let n = share(args.msgs, args.pubs, i);
        let (payload, pb, subject) = (payload.clone(), pb.clone(), args.subject.clone());
        tasks.push(tokio::spawn(async move {
            let mut h = histogram();
            let mut done = 0;
            while done < n && Instant::now() < deadline {
                let t = Instant::now();
                nc.request(subject.clone(), payload.clone()).await?;
                h.saturating_record(t.elapsed().as_micros() as u64);
                done += 1;
                pb.inc(1);
            }
            Ok::<_, async_nats::Error>((done, h))
        }));
    }
    let mut all = histogram();
    let mut done = 0;
    for t in tasks {
        let (n, h) = t.await??;
        done += n;
        all.add(&h).ok();
    }
    let elapsed = start.elapsed();
    pb.finish_and_clear();
    for r in responders {
        r.abort();
    }
    Ok(vec![
        Report::new(args, "req", done, args.msgs, elapsed).with_latency(&all)
    ])
}
