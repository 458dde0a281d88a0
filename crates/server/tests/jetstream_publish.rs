//! Publish-side stream features through async-nats against the real server: atomic batch
//! publish (`allow_atomic`), counters (`allow_msg_counter`), message schedules
//! (`allow_msg_schedules`) and `persist_mode`. Batches:
//! staged messages get empty replies and stay invisible, the commit stores all of them at
//! once and answers with `batch` and `count`, `eob` commits without storing the marker, and
//! every refusal (gap, bad commit, duplicate id, unsupported header, a commit whose check
//! fails) stores nothing. Replies and codes were checked against nats-server 2.15.1.

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::{Client, HeaderMap};
use common::{temp_dir, TestServer};
use futures_util::StreamExt;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(5);

async fn setup(
    args: &[&str],
    storage: stream::StorageType,
) -> (TestServer, Client, jetstream::Context) {
    let server = TestServer::start(args);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(nc.clone());
    js.create_stream(stream::Config {
        name: "B".into(),
        subjects: vec!["b.>".into()],
        allow_atomic_publish: true,
        storage,
        ..Default::default()
    })
    .await
    .unwrap();
    (server, nc, js)
}

/// Publishes one batch message and returns the reply's payload.
async fn send(nc: &Client, subject: &str, pairs: &[(&str, &str)]) -> String {
    let mut headers = HeaderMap::new();
    for (k, v) in pairs {
        headers.insert(*k, *v);
    }
    let reply = nc.new_inbox();
    let mut sub = nc.subscribe(reply.clone()).await.unwrap();
    nc.publish_with_reply_and_headers(subject.to_string(), reply, headers, "".into())
        .await
        .unwrap();
    let m = tokio::time::timeout(WAIT, sub.next())
        .await
        .unwrap()
        .unwrap();
    String::from_utf8(m.payload.to_vec()).unwrap()
}

fn code(reply: &str) -> u64 {
    let v: Value = serde_json::from_str(reply).unwrap_or_else(|_| panic!("not JSON: {reply:?}"));
    v["error"]["err_code"].as_u64().unwrap_or(0)
}

async fn last_seq(js: &jetstream::Context) -> u64 {
    js.get_stream("B")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .last_sequence
}

#[tokio::test]
async fn batch_commits_whole_and_survives_restart() {
    let dir = temp_dir("batch-commit");
    let args = ["-js", "-sd", dir.to_str().unwrap()];
    let (server, nc, js) = setup(&args, stream::StorageType::File).await;
    for i in 1..=3 {
        let r = send(
            &nc,
            &format!("b.{i}"),
            &[
                ("Nats-Batch-Id", "a"),
                ("Nats-Batch-Sequence", &i.to_string()),
            ],
        )
        .await;
        assert_eq!(r, "", "staged message {i}");
    }
    // Staged messages are not in the stream.
    assert_eq!(last_seq(&js).await, 0);
    let r = send(
        &nc,
        "b.4",
        &[
            ("Nats-Batch-Id", "a"),
            ("Nats-Batch-Sequence", "4"),
            ("Nats-Batch-Commit", "1"),
        ],
    )
    .await;
    assert_eq!(r, r#"{"stream":"B","seq":4,"batch":"a","count":4}"#);
    // An end-of-batch marker commits without being stored; the last stored message
    // carries the commit header.
    send(
        &nc,
        "b.5",
        &[("Nats-Batch-Id", "e"), ("Nats-Batch-Sequence", "1")],
    )
    .await;
    let r = send(
        &nc,
        "b.6",
        &[
            ("Nats-Batch-Id", "e"),
            ("Nats-Batch-Sequence", "2"),
            ("Nats-Batch-Commit", "eob"),
        ],
    )
    .await;
    assert_eq!(r, r#"{"stream":"B","seq":5,"batch":"e","count":1}"#);
    let s = js.get_stream("B").await.unwrap();
    let m = s.get_raw_message(5).await.unwrap();
    assert_eq!(
        m.headers.get("Nats-Batch-Commit").map(|v| v.as_str()),
        Some("1")
    );
    assert_eq!(m.subject.as_str(), "b.5");
    drop(server);
    let server = TestServer::start(&args);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(nc.clone());
    let s = js.get_stream("B").await.unwrap();
    for seq in 1..=5 {
        let m = s.get_raw_message(seq).await.unwrap();
        assert_eq!(
            m.headers.get("Nats-Batch-Id").map(|v| v.as_str()),
            Some(if seq < 5 { "a" } else { "e" })
        );
    }
}

#[tokio::test]
async fn refused_batches_store_nothing() {
    let dir = temp_dir("batch-refused");
    let (_server, nc, js) = setup(
        &["-js", "-sd", dir.to_str().unwrap()],
        stream::StorageType::Memory,
    )
    .await;
    let seq = |n: u32| n.to_string();
    // A batch must start at 1 and have no gaps; the gap abandons it.
    assert_eq!(
        code(
            &send(
                &nc,
                "b.x",
                &[("Nats-Batch-Id", "g"), ("Nats-Batch-Sequence", "2")]
            )
            .await
        ),
        10176
    );
    send(
        &nc,
        "b.x",
        &[("Nats-Batch-Id", "g"), ("Nats-Batch-Sequence", "1")],
    )
    .await;
    assert_eq!(
        code(
            &send(
                &nc,
                "b.x",
                &[("Nats-Batch-Id", "g"), ("Nats-Batch-Sequence", "3")]
            )
            .await
        ),
        10176
    );
    assert_eq!(
        code(
            &send(
                &nc,
                "b.x",
                &[
                    ("Nats-Batch-Id", "g"),
                    ("Nats-Batch-Sequence", "4"),
                    ("Nats-Batch-Commit", "1")
                ]
            )
            .await
        ),
        10176
    );
    // Missing sequence, over-long id, unknown commit value.
    assert_eq!(
        code(&send(&nc, "b.x", &[("Nats-Batch-Id", "m")]).await),
        10175
    );
    let long = "x".repeat(65);
    assert_eq!(
        code(
            &send(
                &nc,
                "b.x",
                &[("Nats-Batch-Id", &long), ("Nats-Batch-Sequence", "1")]
            )
            .await
        ),
        10179
    );
    assert_eq!(
        code(
            &send(
                &nc,
                "b.x",
                &[
                    ("Nats-Batch-Id", "c"),
                    ("Nats-Batch-Sequence", "1"),
                    ("Nats-Batch-Commit", "yes")
                ]
            )
            .await
        ),
        10200
    );
    // A message id used twice in one batch, and an unsupported header: nothing stored.
    send(
        &nc,
        "b.x",
        &[
            ("Nats-Batch-Id", "d"),
            ("Nats-Batch-Sequence", "1"),
            ("Nats-Msg-Id", "m1"),
        ],
    )
    .await;
    let r = send(
        &nc,
        "b.x",
        &[
            ("Nats-Batch-Id", "d"),
            ("Nats-Batch-Sequence", &seq(2)),
            ("Nats-Msg-Id", "m1"),
            ("Nats-Batch-Commit", "1"),
        ],
    )
    .await;
    assert_eq!(code(&r), 10201);
    send(
        &nc,
        "b.x",
        &[("Nats-Batch-Id", "u"), ("Nats-Batch-Sequence", "1")],
    )
    .await;
    let r = send(
        &nc,
        "b.x",
        &[
            ("Nats-Batch-Id", "u"),
            ("Nats-Batch-Sequence", "2"),
            ("Nats-Expected-Last-Msg-Id", "z"),
            ("Nats-Batch-Commit", "1"),
        ],
    )
    .await;
    assert_eq!(code(&r), 10177);
    // The commit's consistency check fails on the batch's second message.
    send(
        &nc,
        "b.x",
        &[("Nats-Batch-Id", "s"), ("Nats-Batch-Sequence", "1")],
    )
    .await;
    let r = send(
        &nc,
        "b.x",
        &[
            ("Nats-Batch-Id", "s"),
            ("Nats-Batch-Sequence", "2"),
            ("Nats-Expected-Last-Sequence", "0"),
            ("Nats-Batch-Commit", "1"),
        ],
    )
    .await;
    assert_eq!(
        r,
        r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"},"stream":"B","seq":0}"#
    );
    assert_eq!(last_seq(&js).await, 0);
    // A stream without allow_atomic refuses batch messages.
    js.create_stream(stream::Config {
        name: "N".into(),
        subjects: vec!["n.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        code(
            &send(
                &nc,
                "n.x",
                &[("Nats-Batch-Id", "n"), ("Nats-Batch-Sequence", "1")]
            )
            .await
        ),
        10174
    );
    // After all that, a good batch still lands at sequence 1.
    send(
        &nc,
        "b.x",
        &[
            ("Nats-Batch-Id", "ok"),
            ("Nats-Batch-Sequence", "1"),
            ("Nats-Msg-Id", "m1"),
        ],
    )
    .await;
    let r = send(
        &nc,
        "b.y",
        &[
            ("Nats-Batch-Id", "ok"),
            ("Nats-Batch-Sequence", "2"),
            ("Nats-Batch-Commit", "1"),
        ],
    )
    .await;
    assert_eq!(r, r#"{"stream":"B","seq":2,"batch":"ok","count":2}"#);
    // The batch's message id is now known to duplicate detection.
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", "m1");
    let ack = js
        .publish_with_headers("b.z", headers, "x".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(ack.duplicate);
    assert_eq!(ack.sequence, 1);
}

/// Counter streams (`allow_msg_counter`): `Nats-Incr` sums in arbitrary precision per
/// subject, the PubAck carries `val`, bad increments are refused with nats-server's codes,
/// a batch of increments sums as it goes, and the totals survive a restart.
#[tokio::test]
async fn counters_sum_per_subject() {
    let dir = temp_dir("counters");
    let args = ["-js", "-sd", dir.to_str().unwrap()];
    let server = TestServer::start(&args);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(nc.clone());
    let cfg = stream::Config {
        name: "C".into(),
        subjects: vec!["c.>".into()],
        allow_message_counter: true,
        allow_atomic_publish: true,
        ..Default::default()
    };
    js.create_stream(cfg.clone()).await.unwrap();
    let incr = |n: &'static str| vec![("Nats-Incr", n)];
    let send0 = |subject: &'static str, pairs: Vec<(&'static str, &'static str)>| {
        let nc = nc.clone();
        async move {
            let mut headers = HeaderMap::new();
            for (k, v) in pairs {
                headers.insert(k, v);
            }
            let m = nc
                .request_with_headers(subject, headers, "".into())
                .await
                .unwrap();
            String::from_utf8(m.payload.to_vec()).unwrap()
        }
    };
    assert_eq!(
        send0("c.a", incr("5")).await,
        r#"{"stream":"C","seq":1,"val":"5"}"#
    );
    assert_eq!(
        send0("c.a", incr("-2")).await,
        r#"{"stream":"C","seq":2,"val":"3"}"#
    );
    let big = "123456789012345678901234567890";
    assert_eq!(
        send0("c.b", incr(big)).await,
        format!(r#"{{"stream":"C","seq":3,"val":"{big}"}}"#)
    );
    assert_eq!(
        send0("c.b", incr(big)).await,
        r#"{"stream":"C","seq":4,"val":"246913578024691357802469135780"}"#
    );
    assert_eq!(code(&send0("c.a", incr("1_0")).await), 10171);
    assert_eq!(
        code(
            &send0(
                "c.a",
                vec![("Nats-Incr", "1"), ("Nats-Expected-Last-Sequence", "4")]
            )
            .await
        ),
        10171
    );
    assert_eq!(code(&send0("c.a", vec![("Other", "1")]).await), 10169);
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Incr", "1");
    let m = nc
        .request_with_headers("c.a", headers, "x".into())
        .await
        .unwrap();
    assert_eq!(code(std::str::from_utf8(&m.payload).unwrap()), 10170);
    // A batch of increments to one subject sums as it goes.
    send(
        &nc,
        "c.a",
        &[
            ("Nats-Batch-Id", "k"),
            ("Nats-Batch-Sequence", "1"),
            ("Nats-Incr", "10"),
        ],
    )
    .await;
    let r = send(
        &nc,
        "c.a",
        &[
            ("Nats-Batch-Id", "k"),
            ("Nats-Batch-Sequence", "2"),
            ("Nats-Incr", "10"),
            ("Nats-Batch-Commit", "1"),
        ],
    )
    .await;
    assert_eq!(r, r#"{"stream":"C","seq":6,"batch":"k","count":2}"#);
    // The counter setting can not change, and a stream without it refuses increments.
    let off = stream::Config {
        allow_message_counter: false,
        ..cfg
    };
    assert!(js.update_stream(off).await.is_err());
    js.create_stream(stream::Config {
        name: "Z".into(),
        subjects: vec!["z.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(code(&send0("z.a", incr("1")).await), 10168);
    drop(server);
    let server = TestServer::start(&args);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Incr", "1");
    let m = nc
        .request_with_headers("c.a", headers, "".into())
        .await
        .unwrap();
    assert_eq!(&m.payload[..], br#"{"stream":"C","seq":7,"val":"24"}"#);
}

/// `persist_mode: async` streams acknowledge once written (nats-server's async mode) and keep
/// their messages across a clean restart; fast batch publishing (`allow_batched`) is refused
/// with a clear error, and a fast-batch publish gets nats-server's "batch publish is
/// disabled".
#[tokio::test]
async fn persist_mode_and_fast_batch_refusal() {
    let dir = temp_dir("persist-mode");
    let args = ["-js", "-sd", dir.to_str().unwrap()];
    let server = TestServer::start(&args);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let api = |subject: &'static str, body: &'static str| {
        let nc = nc.clone();
        async move {
            let m = nc.request(subject, body.into()).await.unwrap();
            serde_json::from_slice::<Value>(&m.payload).unwrap()
        }
    };
    let r = api(
        "$JS.API.STREAM.CREATE.A",
        r#"{"name":"A","subjects":["a.>"],"persist_mode":"async"}"#,
    )
    .await;
    assert_eq!(r["config"]["persist_mode"], "async", "{r}");
    let r = api(
        "$JS.API.STREAM.CREATE.M",
        r#"{"name":"M","subjects":["m.>"],"persist_mode":"async","storage":"memory"}"#,
    )
    .await;
    assert_eq!(r["error"]["err_code"], 10052, "{r}");
    let r = api(
        "$JS.API.STREAM.UPDATE.A",
        r#"{"name":"A","subjects":["a.>"]}"#,
    )
    .await;
    assert_eq!(
        r["error"]["description"],
        "stream configuration update can not change persist mode"
    );
    let r = api(
        "$JS.API.STREAM.CREATE.F",
        r#"{"name":"F","subjects":["f.>"],"allow_batched":true}"#,
    )
    .await;
    assert_eq!(r["error"]["err_code"], 10052, "{r}");
    let js = jetstream::new(nc.clone());
    for i in 0..10 {
        js.publish(format!("a.{i}"), "x".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let reply = "_INBOX.fb.1.10.ok.1.0.$FI";
    let mut sub = nc.subscribe(reply).await.unwrap();
    nc.publish_with_reply("a.x", reply, "x".into())
        .await
        .unwrap();
    let m = tokio::time::timeout(WAIT, sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code(std::str::from_utf8(&m.payload).unwrap()), 10205);
    drop(server);
    let server = TestServer::start(&args);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(nc);
    let info = js
        .get_stream("A")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(info.state.messages, 10);
}

/// Message schedules: `@every` fires repeatedly onto its target with `Nats-Scheduler` and
/// `Nats-Schedule-Next`, `@at` in the past fires once and the schedule is purged, bad
/// schedules get nats-server's codes, and a schedule keeps firing after a restart.
#[tokio::test]
async fn schedules_fire_onto_their_target() {
    let dir = temp_dir("schedules");
    let args = ["-js", "-sd", dir.to_str().unwrap()];
    let server = TestServer::start(&args);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(nc.clone());
    let created = nc
        .request(
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S","subjects":["s.>"],"allow_msg_schedules":true}"#.into(),
        )
        .await
        .unwrap();
    let created: Value = serde_json::from_slice(&created.payload).unwrap();
    // Schedules turn roll-ups on.
    assert_eq!(created["config"]["allow_rollup_hdrs"], true, "{created}");
    let publish =
        |subject: &'static str, pairs: Vec<(&'static str, String)>, body: &'static str| {
            let nc = nc.clone();
            async move {
                let mut headers = HeaderMap::new();
                for (k, v) in pairs {
                    headers.insert(k, v.as_str());
                }
                let m = nc
                    .request_with_headers(subject, headers, body.into())
                    .await
                    .unwrap();
                String::from_utf8(m.payload.to_vec()).unwrap()
            }
        };
    let s = |v: &str| v.to_string();
    let bad = publish(
        "s.a",
        vec![
            ("Nats-Schedule", s("@every 100ms")),
            ("Nats-Schedule-Target", s("s.t")),
        ],
        "",
    )
    .await;
    assert_eq!(code(&bad), 10189);
    let bad = publish(
        "s.a",
        vec![
            ("Nats-Schedule", s("@every 1s")),
            ("Nats-Schedule-Target", s("elsewhere")),
        ],
        "",
    )
    .await;
    assert_eq!(code(&bad), 10190);
    let bad = publish("s.a", vec![("Nats-Scheduler", s("s.q"))], "").await;
    assert_eq!(code(&bad), 10212);
    let ok = publish(
        "s.every",
        vec![
            ("Nats-Schedule", s("@every 1s")),
            ("Nats-Schedule-Target", s("s.tick")),
            ("Foo", s("bar")),
        ],
        "tick",
    )
    .await;
    assert_eq!(ok, r#"{"stream":"S","seq":1}"#);
    let past = chrono::Utc::now() - chrono::Duration::seconds(5);
    let at = format!("@at {}", past.format("%Y-%m-%dT%H:%M:%SZ"));
    publish(
        "s.once",
        vec![("Nats-Schedule", at), ("Nats-Schedule-Target", s("s.done"))],
        "once",
    )
    .await;
    let stream = js.get_stream("S").await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let once_gone = stream
            .get_last_raw_message_by_subject("s.once")
            .await
            .is_err();
        let done = stream.get_last_raw_message_by_subject("s.done").await;
        let tick = stream.get_last_raw_message_by_subject("s.tick").await;
        if let (true, Ok(done), Ok(tick)) = (once_gone, done, tick) {
            assert_eq!(&done.payload[..], b"once");
            assert_eq!(
                done.headers.get("Nats-Schedule-Next").map(|v| v.as_str()),
                Some("purge")
            );
            assert_eq!(
                tick.headers.get("Nats-Scheduler").map(|v| v.as_str()),
                Some("s.every")
            );
            assert_eq!(tick.headers.get("Foo").map(|v| v.as_str()), Some("bar"));
            assert!(tick.headers.get("Nats-Schedule").is_none());
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "schedules did not fire"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server);
    // After a restart the repeating schedule goes on.
    let server = TestServer::start(&args);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(nc);
    let stream = js.get_stream("S").await.unwrap();
    let before = stream
        .get_last_raw_message_by_subject("s.tick")
        .await
        .unwrap()
        .sequence;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = stream
            .get_last_raw_message_by_subject("s.tick")
            .await
            .unwrap()
            .sequence;
        if now > before {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "schedule stopped after restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
