//! Crash safety end to end: a publisher with async acks runs while the server is killed
//! with SIGKILL at a random moment, many rounds. After each restart every acknowledged
//! message must be in the stream, intact, and a durable consumer must resume with nothing
//! skipped (redeliveries are allowed, gaps are not).

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use common::{temp_dir, TestServer};
use futures_util::StreamExt;

const ROUNDS: usize = 6;

async fn connect(s: &TestServer) -> jetstream::Context {
    let nc = async_nats::ConnectOptions::new()
        .max_reconnects(Some(0))
        .connect(s.url())
        .await
        .unwrap();
    jetstream::new(nc)
}

/// Reads the whole stream with an ordered consumer: seq -> payload.
async fn read_all(js: &jetstream::Context) -> BTreeMap<u64, Vec<u8>> {
    let mut st = js.get_stream("CRASH").await.unwrap();
    let total = st.info().await.unwrap().state.messages;
    let mut out = BTreeMap::new();
    if total == 0 {
        return out;
    }
    let c = st
        .create_consumer(consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut msgs = c.messages().await.unwrap();
    while (out.len() as u64) < total {
        let m = tokio::time::timeout(Duration::from_secs(10), msgs.next())
            .await
            .expect("stream readable")
            .unwrap()
            .unwrap();
        let seq = m.info().unwrap().stream_sequence;
        out.insert(seq, m.payload.to_vec());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_sigkill() {
    let dir = temp_dir("crash");
    let sd = dir.to_str().unwrap().to_string();
    let mut server = TestServer::start(&["-js", "-sd", &sd]);
    let port = server.port.to_string();
    let acked: Arc<Mutex<BTreeMap<u64, Vec<u8>>>> = Arc::default();
    // Stream sequences the durable consumer has acknowledged, in order.
    let mut consumer_acked: Vec<u64> = Vec::new();
    for round in 0..ROUNDS {
        let js = connect(&server).await;
        js.get_or_create_stream(stream::Config {
            name: "CRASH".into(),
            subjects: vec!["crash.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
        let st = js.get_stream("CRASH").await.unwrap();
        let durable: consumer::PullConsumer = st
            .get_or_create_consumer(
                "dur",
                consumer::pull::Config {
                    durable_name: Some("dur".into()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        // The consumer resumes at or before the first message it did not acknowledge.
        let first_unacked = consumer_acked.last().map_or(1, |s| s + 1);
        let mut b = durable
            .fetch()
            .max_messages(50)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .unwrap();
        let mut first = true;
        while let Some(Ok(m)) = b.next().await {
            let seq = m.info().unwrap().stream_sequence;
            if first {
                assert!(
                    seq <= first_unacked,
                    "round {round}: consumer skipped to {seq}, first unacked {first_unacked}"
                );
                first = false;
            }
            if m.double_ack().await.is_ok() && consumer_acked.last().is_none_or(|l| seq > *l) {
                consumer_acked.push(seq);
            }
        }
        // Publish with a window of outstanding acks until the server dies.
        let acked2 = acked.clone();
        let publisher = tokio::spawn(async move {
            let mut inflight = VecDeque::new();
            for i in 0u64.. {
                let body = format!("round-{round}-msg-{i}").into_bytes();
                let Ok(fut) = js
                    .publish(format!("crash.{}", i % 7), body.clone().into())
                    .await
                else {
                    return;
                };
                inflight.push_back((fut, body));
                if inflight.len() >= 64 {
                    let (fut, body) = inflight.pop_front().unwrap();
                    match fut.await {
                        Ok(ack) => {
                            acked2.lock().unwrap().insert(ack.sequence, body);
                        }
                        Err(_) => return,
                    }
                }
            }
        });
        let wait = 150 + (rand_u64() % 500);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        server.signal("KILL");
        server.wait_exit(Duration::from_secs(5));
        let _ = tokio::time::timeout(Duration::from_secs(5), publisher).await;
        server = TestServer::start(&["-js", "-sd", &sd, "-p", &port]);
        let js = connect(&server).await;
        let stored = read_all(&js).await;
        let acked = acked.lock().unwrap().clone();
        assert!(!acked.is_empty(), "round {round}: nothing was acknowledged");
        for (seq, body) in &acked {
            match stored.get(seq) {
                Some(b) => assert_eq!(b, body, "round {round}: seq {seq} corrupted"),
                None => panic!(
                    "round {round}: acknowledged seq {seq} lost ({} stored)",
                    stored.len()
                ),
            }
        }
    }
    println!(
        "crash test: {ROUNDS} SIGKILL rounds, {} acknowledged messages verified, {} consumer acks",
        acked.lock().unwrap().len(),
        consumer_acked.len()
    );
    drop(server);
    std::fs::remove_dir_all(dir).ok();
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(1);
    h.finish()
}
