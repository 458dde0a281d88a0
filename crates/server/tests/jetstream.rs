//! JetStream through the async-nats client: streams, publishes with acks, pull and push
//! consumers, KV, and persistence across a restart.

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};
use common::{temp_dir, TestServer};
use futures_util::StreamExt;

async fn js_server(dir: &std::path::Path) -> (TestServer, jetstream::Context) {
    let s = TestServer::start(&["-js", "-sd", dir.to_str().unwrap()]);
    let nc = async_nats::connect(s.url()).await.unwrap();
    (s, jetstream::new(nc))
}

#[tokio::test]
async fn stream_lifecycle_and_publish_acks() {
    let dir = temp_dir("js-life");
    let (s, js) = js_server(&dir).await;
    assert!(s.find_log("Store Directory:").is_some());
    let mut st = js
        .create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..10 {
        let ack = js
            .publish(format!("orders.{i}"), format!("o{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(ack.sequence, i + 1);
        assert_eq!(ack.stream, "ORDERS");
    }
    let info = st.info().await.unwrap();
    assert_eq!(info.state.messages, 10);
    assert_eq!(info.state.last_sequence, 10);
    let msg = st.get_raw_message(3).await.unwrap();
    assert_eq!(msg.payload, "o2");
    assert_eq!(msg.subject.as_str(), "orders.2");
    let last = st
        .get_last_raw_message_by_subject("orders.7")
        .await
        .unwrap();
    assert_eq!(last.sequence, 8);
    assert!(st.delete_message(4).await.unwrap());
    assert_eq!(st.info().await.unwrap().state.messages, 9);
    let names: Vec<String> = js.stream_names().map(|n| n.unwrap()).collect().await;
    assert_eq!(names, vec!["ORDERS".to_string()]);
    st.purge().await.unwrap();
    assert_eq!(st.info().await.unwrap().state.messages, 0);
    assert!(js.delete_stream("ORDERS").await.unwrap().success);
    let err = js.get_stream("ORDERS").await.unwrap_err();
    assert!(err.to_string().contains("stream not found"), "{err}");
    drop(s);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn duplicates_and_expected_sequence() {
    let dir = temp_dir("js-dedup");
    let (_s, js) = js_server(&dir).await;
    js.create_stream(stream::Config {
        name: "D".into(),
        subjects: vec!["d.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Msg-Id", "m1");
    let a1 = js
        .publish_with_headers("d.x", h.clone(), "1".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let a2 = js
        .publish_with_headers("d.x", h, "1".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(a1.sequence, 1);
    assert!(!a1.duplicate);
    assert_eq!(a2.sequence, 1);
    assert!(a2.duplicate);
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Expected-Last-Sequence", "5");
    let err = js
        .publish_with_headers("d.x", h, "2".into())
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("wrong last sequence: 1"), "{err}");
}

#[tokio::test]
async fn pull_consumer_acks_and_redelivery() {
    let dir = temp_dir("js-pull");
    let (_s, js) = js_server(&dir).await;
    let st = js
        .create_stream(stream::Config {
            name: "P".into(),
            subjects: vec!["p.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..20 {
        js.publish(format!("p.{}", i % 2), format!("{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let c = st
        .create_consumer(consumer::pull::Config {
            durable_name: Some("worker".into()),
            filter_subject: "p.0".into(),
            ack_wait: Duration::from_millis(500),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = c.fetch().max_messages(5).messages().await.unwrap();
    let mut seen = Vec::new();
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        seen.push(m.payload.clone());
        if seen.len() < 5 {
            m.ack().await.unwrap();
        }
    }
    assert_eq!(seen, vec!["0", "2", "4", "6", "8"]);
    let info = c.clone().info().await.unwrap().clone();
    assert_eq!(info.num_ack_pending, 1);
    assert_eq!(info.num_pending, 5);
    // The unacked message comes back after ack_wait.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut again = c.fetch().max_messages(1).messages().await.unwrap();
    let m = again.next().await.unwrap().unwrap();
    assert_eq!(m.payload, "8");
    assert_eq!(m.info().unwrap().delivered, 2);
    m.double_ack().await.unwrap();
}

#[tokio::test]
async fn push_consumer_delivers() {
    let dir = temp_dir("js-push");
    let (_s, js) = js_server(&dir).await;
    let st = js
        .create_stream(stream::Config {
            name: "PUSH".into(),
            subjects: vec!["push.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..3 {
        js.publish("push.a", format!("{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let c = st
        .create_consumer(consumer::push::Config {
            deliver_subject: "deliver.here".into(),
            durable_name: Some("pusher".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = c.messages().await.unwrap();
    for i in 0..3 {
        let m = tokio::time::timeout(Duration::from_secs(5), msgs.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(m.payload, format!("{i}"));
        assert_eq!(m.subject.as_str(), "push.a");
        m.ack().await.unwrap();
    }
}

#[tokio::test]
async fn key_value_put_get_history_and_delete() {
    let dir = temp_dir("js-kv");
    let (_s, js) = js_server(&dir).await;
    let kv = js
        .create_key_value(kv::Config {
            bucket: "cfg".into(),
            history: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    kv.put("a", "1".into()).await.unwrap();
    kv.put("a", "2".into()).await.unwrap();
    kv.put("b", "x".into()).await.unwrap();
    assert_eq!(kv.get("a").await.unwrap().unwrap(), "2");
    let rev = kv.create("c", "new".into()).await.unwrap();
    assert!(kv.create("c", "again".into()).await.is_err());
    kv.update("c", "upd".into(), rev).await.unwrap();
    kv.delete("b").await.unwrap();
    assert!(kv.get("b").await.unwrap().is_none());
    let mut keys: Vec<String> = kv.keys().await.unwrap().map(|k| k.unwrap()).collect().await;
    keys.sort();
    assert_eq!(keys, vec!["a", "c"]);
    let history: Vec<_> = kv.history("a").await.unwrap().collect().await;
    assert_eq!(history.len(), 2);
}

#[tokio::test]
async fn streams_messages_and_consumers_survive_restart() {
    let dir = temp_dir("js-restart");
    let (mut s, js) = js_server(&dir).await;
    let st = js
        .create_stream(stream::Config {
            name: "KEEP".into(),
            subjects: vec!["keep.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..50 {
        js.publish("keep.x", format!("{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let c = st
        .create_consumer(consumer::pull::Config {
            durable_name: Some("dur".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut b = c.fetch().max_messages(10).messages().await.unwrap();
    while let Some(m) = b.next().await {
        m.unwrap().double_ack().await.unwrap();
    }
    // Let the consumer state reach the disk, then kill -9.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let port = s.port.to_string();
    s.signal("KILL");
    s.wait_exit(Duration::from_secs(5));
    let s2 = TestServer::start(&["-js", "-sd", dir.to_str().unwrap(), "-p", &port]);
    let nc = async_nats::connect(s2.url()).await.unwrap();
    let js = jetstream::new(nc);
    let mut st = js.get_stream("KEEP").await.unwrap();
    assert_eq!(st.info().await.unwrap().state.messages, 50);
    let c: consumer::PullConsumer = st.get_consumer("dur").await.unwrap();
    let mut b = c.fetch().max_messages(1).messages().await.unwrap();
    let m = b.next().await.unwrap().unwrap();
    assert_eq!(m.payload, "10", "resumes after the acked messages");
    drop(s2);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn api_errors_use_nats_server_codes() {
    let dir = temp_dir("js-err");
    let (s, _js) = js_server(&dir).await;
    let nc = async_nats::connect(s.url()).await.unwrap();
    let r = nc
        .request("$JS.API.STREAM.INFO.NOPE", "".into())
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_info_response");
    assert_eq!(v["error"]["code"], 404);
    assert_eq!(v["error"]["err_code"], 10059);
    let r = nc
        .request("$JS.API.STREAM.CREATE.X", "{bad".into())
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(v["error"]["err_code"], 10025);
    let r = nc.request("$JS.API.INFO", "".into()).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.account_info_response");
    assert_eq!(v["streams"], 0);
}

#[tokio::test]
async fn max_age_expires_messages() {
    let dir = temp_dir("js-age");
    let (_s, js) = js_server(&dir).await;
    let mut st = js
        .create_stream(stream::Config {
            name: "AGE".into(),
            subjects: vec!["age.>".into()],
            max_age: Duration::from_millis(200),
            ..Default::default()
        })
        .await
        .unwrap();
    js.publish("age.a", "x".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(st.info().await.unwrap().state.messages, 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while st.info().await.unwrap().state.messages > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "message did not expire"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn stream_consumer_limits_are_defaults_and_ceilings() {
    let dir = temp_dir("js-limits");
    let (_s, js) = js_server(&dir).await;
    let st = js
        .create_stream(stream::Config {
            name: "LIM".into(),
            subjects: vec!["lim.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    st.create_consumer(consumer::pull::Config {
        durable_name: Some("big".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut cfg = st.cached_info().config.clone();
    cfg.consumer_limits = Some(stream::ConsumerLimits {
        inactive_threshold: Duration::from_secs(2),
        max_ack_pending: 10,
    });
    // The existing consumer allows 1,000 pending acks: the update is refused.
    assert!(js.update_stream(cfg.clone()).await.is_err());
    st.delete_consumer("big").await.unwrap();
    js.update_stream(cfg).await.unwrap();
    let c = st
        .create_consumer(consumer::pull::Config {
            durable_name: Some("small".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(c.cached_info().config.max_ack_pending, 10);
}

#[tokio::test]
async fn streams_cannot_promise_more_than_the_server_store_limit() {
    let dir = temp_dir("js-res");
    let conf = format!(
        "jetstream {{ store_dir: \"{}\", max_file_store: 1MB, max_memory_store: 1MB }}\n",
        dir.display()
    );
    let s = TestServer::with_config(&conf, &[]);
    let js = jetstream::new(async_nats::connect(s.url()).await.unwrap());
    let err = js
        .create_stream(stream::Config {
            name: "BIG".into(),
            max_bytes: 10 * 1024 * 1024,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("insufficient storage resources"),
        "{err}"
    );
    js.create_stream(stream::Config {
        name: "SMALL".into(),
        max_bytes: 512 * 1024,
        ..Default::default()
    })
    .await
    .unwrap();
    drop(s);
    std::fs::remove_dir_all(dir).ok();
}

/// `subject_delete_marker_ttl`: max_age removes older messages, but the last one of each
/// subject becomes a `MaxAge` marker (a TTL'd rollup), which itself expires without a trace.
#[tokio::test]
async fn subject_delete_markers_replace_expired_last_messages() {
    let dir = temp_dir("js-sdm");
    let (_s, js) = js_server(&dir).await;
    let mut st = js
        .create_stream(stream::Config {
            name: "T".into(),
            subjects: vec!["t.>".into()],
            max_age: Duration::from_secs(1),
            subject_delete_marker_ttl: Some(Duration::from_secs(1)),
            ..Default::default()
        })
        .await
        .unwrap();
    let cfg = &st.cached_info().config;
    assert!(cfg.allow_message_ttl && cfg.allow_rollup);
    for subj in ["t.a", "t.a", "t.b"] {
        js.publish(subj, "x".into()).await.unwrap().await.unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let markers = loop {
        let info = st.info().await.unwrap().clone();
        if info.state.first_sequence == 4 || std::time::Instant::now() > deadline {
            break info.state;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (
            markers.messages,
            markers.first_sequence,
            markers.last_sequence
        ),
        (2, 4, 5)
    );
    for subj in ["t.a", "t.b"] {
        let m = st.get_last_raw_message_by_subject(subj).await.unwrap();
        assert_eq!(
            m.headers.get("Nats-Marker-Reason").unwrap().as_str(),
            "MaxAge"
        );
        assert_eq!(m.headers.get("Nats-TTL").unwrap().as_str(), "1s");
        assert!(m.payload.is_empty());
    }
    // The markers age out too, leaving nothing behind.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let state = st.info().await.unwrap().state.clone();
        if state.messages == 0 || std::time::Instant::now() > deadline {
            assert_eq!((state.messages, state.last_sequence), (0, 5));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The next advisory or metric, skipping API audits (every API call makes one).
async fn next_event(events: &mut async_nats::Subscriber) -> (String, serde_json::Value) {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("advisory")
            .unwrap();
        if m.subject.as_str() == "$JS.EVENT.ADVISORY.API" {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        return (m.subject.to_string(), v);
    }
}

/// Every API request is audited on `$JS.EVENT.ADVISORY.API` with the requester's client
/// info, the request and the response, as nats-server does.
#[tokio::test]
async fn api_requests_are_audited() {
    let dir = temp_dir("js-audit");
    let server = TestServer::start(&["-js", "-sd", dir.to_str().unwrap(), "-n", "audit-srv"]);
    let watcher = async_nats::connect(server.url()).await.unwrap();
    let mut audits = watcher.subscribe("$JS.EVENT.ADVISORY.API").await.unwrap();
    common::sync(&watcher).await;
    let nc = async_nats::ConnectOptions::new()
        .name("auditee")
        .connect(server.url())
        .await
        .unwrap();
    let m = nc
        .request("$JS.API.STREAM.INFO.NOPE", "".into())
        .await
        .unwrap();
    let response = String::from_utf8(m.payload.to_vec()).unwrap();
    let a = tokio::time::timeout(Duration::from_secs(5), audits.next())
        .await
        .expect("audit")
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&a.payload).unwrap();
    assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.api_audit");
    assert_eq!(v["server"], "audit-srv");
    assert_eq!(v["subject"], "$JS.API.STREAM.INFO.NOPE");
    assert!(v.get("request").is_none(), "{v}");
    assert_eq!(v["response"], response.as_str());
    let client = &v["client"];
    assert_eq!(
        (&client["acc"], &client["name"]),
        (&"$G".into(), &"auditee".into())
    );
    assert_eq!(
        (&client["kind"], &client["server"]),
        (&"Client".into(), &"audit-srv".into())
    );
    assert!(
        client["id"].as_u64().unwrap() > 0 && client["host"] == "127.0.0.1",
        "{v}"
    );
}

/// Advisories on `$JS.EVENT.ADVISORY.>` and ack metrics, with nats-server's subjects and
/// types: stream and consumer actions, naks, terms, max deliveries and pauses.
#[tokio::test]
async fn advisories_report_what_happened() {
    let dir = temp_dir("js-adv");
    let (s, js) = js_server(&dir).await;
    let nc = async_nats::connect(s.url()).await.unwrap();
    let mut events = nc.subscribe("$JS.EVENT.>").await.unwrap();
    common::sync(&nc).await;
    let st = js
        .create_stream(stream::Config {
            name: "ADV".into(),
            subjects: vec!["adv".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let (subj, v) = next_event(&mut events).await;
    assert_eq!(subj, "$JS.EVENT.ADVISORY.STREAM.CREATED.ADV");
    assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.stream_action");
    assert_eq!(
        (v["stream"].as_str(), v["action"].as_str()),
        (Some("ADV"), Some("create"))
    );
    assert!(v["id"].as_str().is_some_and(|id| !id.is_empty()) && v["timestamp"].is_string());
    let c = st
        .create_consumer(consumer::pull::Config {
            durable_name: Some("C".into()),
            max_deliver: 2,
            ack_wait: Duration::from_millis(300),
            sample_frequency: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let (subj, v) = next_event(&mut events).await;
    assert_eq!(subj, "$JS.EVENT.ADVISORY.CONSUMER.CREATED.ADV.C");
    assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.consumer_action");
    for _ in 0..3 {
        js.publish("adv", "x".into()).await.unwrap().await.unwrap();
    }
    let mut msgs = c.fetch().max_messages(3).messages().await.unwrap();
    let m1 = msgs.next().await.unwrap().unwrap();
    let m2 = msgs.next().await.unwrap().unwrap();
    let _m3 = msgs.next().await.unwrap().unwrap();
    m1.ack_with(jetstream::AckKind::Nak(None)).await.unwrap();
    let (subj, v) = next_event(&mut events).await;
    assert_eq!(subj, "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.ADV.C");
    assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.nak");
    assert_eq!(
        (v["stream_seq"].as_u64(), v["deliveries"].as_u64()),
        (Some(1), Some(1))
    );
    m2.ack_with(jetstream::AckKind::Term).await.unwrap();
    let (subj, v) = next_event(&mut events).await;
    assert_eq!(subj, "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ADV.C");
    assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.terminated");
    assert_eq!(v["stream_seq"], 2);
    // Message 3 is never acked: redelivered once, then max deliveries.
    let mut again = c.fetch().max_messages(2).messages().await.unwrap();
    while let Some(m) = again.next().await {
        let m = m.unwrap();
        if m.info().unwrap().stream_sequence == 1 {
            m.ack().await.unwrap();
        }
    }
    let mut seen = std::collections::HashMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !seen.contains_key("max_deliver") && std::time::Instant::now() < deadline {
        // Keep the fetch subscribed until it ends: a pull whose requester went away is
        // dropped without a delivery, as in nats-server.
        let fetch = c
            .fetch()
            .max_messages(1)
            .expires(Duration::from_millis(400));
        if let Ok(mut batch) = fetch.messages().await {
            let wait = Duration::from_millis(600);
            while let Ok(Some(_)) = tokio::time::timeout(wait, batch.next()).await {}
        }
        while let Ok(Some(m)) =
            tokio::time::timeout(Duration::from_millis(200), events.next()).await
        {
            let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            let kind = v["type"]
                .as_str()
                .unwrap()
                .rsplit('.')
                .next()
                .unwrap()
                .to_string();
            seen.insert(kind, (m.subject.to_string(), v));
        }
    }
    let (subj, v) = &seen["consumer_ack"];
    assert_eq!(subj, "$JS.EVENT.METRIC.CONSUMER.ACK.ADV.C");
    assert_eq!(v["stream_seq"], 1);
    let (subj, v) = &seen["max_deliver"];
    assert_eq!(subj, "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ADV.C");
    assert_eq!(
        (v["stream_seq"].as_u64(), v["deliveries"].as_u64()),
        (Some(3), Some(2))
    );
    js.delete_stream("ADV").await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (subj, v) = next_event(&mut events).await;
        if subj == "$JS.EVENT.ADVISORY.STREAM.DELETED.ADV" {
            assert_eq!(v["action"], "delete");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no delete advisory");
    }
}

/// Backup and restore through `$JS.API.STREAM.SNAPSHOT` / `RESTORE`, driven the way `nats
/// stream backup` and `restore` drive them (chunk acks, end marker, final reply), for a
/// file and a memory stream with a consumer whose ack floor must survive.
#[tokio::test]
async fn snapshot_and_restore_round_trip() {
    let dir = temp_dir("js-backup");
    let (s, js) = js_server(&dir).await;
    let nc = async_nats::connect(s.url()).await.unwrap();
    for storage in [stream::StorageType::File, stream::StorageType::Memory] {
        let name = format!("BK{}", storage as u8);
        let st = js
            .create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![format!("{name}.>")],
                storage,
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 0..300u32 {
            let payload = bytes::Bytes::from(vec![i as u8; 1000]);
            js.publish(format!("{name}.{}", i % 7), payload)
                .await
                .unwrap()
                .await
                .unwrap();
        }
        let c = st
            .create_consumer(consumer::pull::Config {
                durable_name: Some("D".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut batch = c.fetch().max_messages(10).messages().await.unwrap();
        while let Some(m) = batch.next().await {
            // Acknowledged with a reply, so all ten are applied before the snapshot.
            m.unwrap().double_ack().await.unwrap();
        }

        // Backup: small chunks so the window and acks are exercised.
        let inbox = nc.new_inbox();
        let mut chunks = nc.subscribe(inbox.clone()).await.unwrap();
        common::sync(&nc).await;
        let req = serde_json::json!({ "deliver_subject": inbox, "chunk_size": 4096, "window_size": 16384 });
        let r = nc
            .request(
                format!("$JS.API.STREAM.SNAPSHOT.{name}"),
                req.to_string().into(),
            )
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
        assert_eq!(
            v["type"], "io.nats.jetstream.api.v1.stream_snapshot_response",
            "{v}"
        );
        assert_eq!(v["state"]["messages"], 300);
        let mut data = Vec::new();
        loop {
            let m = tokio::time::timeout(Duration::from_secs(10), chunks.next())
                .await
                .expect("chunk")
                .unwrap();
            if m.payload.is_empty() {
                let status = m.status.map(|s| s.as_u16());
                assert_eq!(status, Some(204), "end marker");
                break;
            }
            data.extend_from_slice(&m.payload);
            nc.publish(m.reply.unwrap(), "".into()).await.unwrap();
        }
        js.delete_stream(&name).await.unwrap();

        // Restore into the empty server.
        let cfg = serde_json::json!({ "config": { "name": name, "subjects": [format!("{name}.>")], "storage": if storage == stream::StorageType::File { "file" } else { "memory" } } });
        let r = nc
            .request(
                format!("$JS.API.STREAM.RESTORE.{name}"),
                cfg.to_string().into(),
            )
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
        let deliver = v["deliver_subject"]
            .as_str()
            .expect("deliver subject")
            .to_string();
        for chunk in data.chunks(3000) {
            let ack = nc
                .request(deliver.clone(), bytes::Bytes::copy_from_slice(chunk))
                .await
                .unwrap();
            assert!(ack.payload.is_empty());
        }
        let done = nc.request(deliver, "".into()).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&done.payload).unwrap();
        assert_eq!(
            v["type"], "io.nats.jetstream.api.v1.stream_create_response",
            "{v}"
        );
        assert_eq!(v["state"]["messages"], 300, "{v}");
        let mut st = js.get_stream(&name).await.unwrap();
        assert_eq!(st.info().await.unwrap().state.last_sequence, 300);
        let m = st.get_raw_message(123).await.unwrap();
        assert_eq!(&m.payload[..], &vec![122u8; 1000][..]);
        let mut c = st
            .get_consumer::<consumer::pull::Config>("D")
            .await
            .unwrap();
        let info = c.info().await.unwrap();
        assert_eq!(info.ack_floor.stream_sequence, 10, "{info:?}");
        assert_eq!(info.num_pending, 290);
    }
    // A restore over an existing stream is refused; garbage is refused and leaves nothing.
    let r = nc
        .request(
            "$JS.API.STREAM.RESTORE.BK0",
            r#"{"config":{"name":"BK0","subjects":["x"]}}"#.into(),
        )
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(v["error"]["err_code"], 10130, "{v}");
    let r = nc
        .request(
            "$JS.API.STREAM.RESTORE.BAD",
            r#"{"config":{"name":"BAD","subjects":["bad"]}}"#.into(),
        )
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
    let deliver = v["deliver_subject"].as_str().unwrap().to_string();
    nc.request(deliver.clone(), "this is not a snapshot".into())
        .await
        .unwrap();
    let done = nc.request(deliver, "".into()).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&done.payload).unwrap();
    assert_eq!(v["error"]["err_code"], 10062, "{v}");
    assert!(js.get_stream("BAD").await.is_err());
}

/// Direct get batches and `multi_last`, answered message by message and closed by a
/// `204 EOB` status carrying what is left, as nats-server answers them.
#[tokio::test]
async fn direct_get_batch_and_multi_last() {
    let dir = temp_dir("js-dget");
    let (s, js) = js_server(&dir).await;
    let nc = async_nats::connect(s.url()).await.unwrap();
    js.create_stream(stream::Config {
        name: "D".into(),
        subjects: vec!["d.>".into()],
        allow_direct: true,
        ..Default::default()
    })
    .await
    .unwrap();
    for i in 0..6 {
        js.publish(format!("d.{}", i % 3), format!("v{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let ask = |body: &'static str| {
        let nc = nc.clone();
        async move {
            let inbox = nc.new_inbox();
            let mut sub = nc.subscribe(inbox.clone()).await.unwrap();
            nc.publish_with_reply("$JS.API.DIRECT.GET.D", inbox, body.into())
                .await
                .unwrap();
            let mut out = Vec::new();
            loop {
                let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
                    .await
                    .unwrap()
                    .unwrap();
                let h = m.headers.clone().unwrap_or_default();
                let get = |k: &str| h.get(k).map(|v| v.to_string()).unwrap_or_default();
                if let Some(status) = m.status {
                    out.push(format!(
                        "{} np={} last={}",
                        status.as_u16(),
                        get("Nats-Num-Pending"),
                        get("Nats-Last-Sequence")
                    ));
                    break;
                }
                out.push(format!(
                    "{}={} np={}",
                    get("Nats-Sequence"),
                    String::from_utf8_lossy(&m.payload),
                    get("Nats-Num-Pending")
                ));
            }
            out
        }
    };
    assert_eq!(
        ask(r#"{"seq":2,"batch":3}"#).await,
        vec!["2=v1 np=4", "3=v2 np=3", "4=v3 np=2", "204 np=2 last=4"]
    );
    assert_eq!(
        ask(r#"{"multi_last":["d.*"]}"#).await,
        vec!["4=v3 np=2", "5=v4 np=1", "6=v5 np=0", "204 np=0 last=6"]
    );
    assert_eq!(
        ask(r#"{"multi_last":["d.0","d.2"],"up_to_seq":4}"#).await,
        vec!["3=v2 np=1", "4=v3 np=0", "204 np=0 last=4"]
    );
    assert_eq!(ask(r#"{"batch":2}"#).await, vec!["408 np= last="]);
    assert_eq!(
        ask(r#"{"last_by_subj":"d.1","batch":2}"#).await,
        vec!["408 np= last="]
    );
    assert_eq!(
        ask(r#"{"multi_last":["x.*"]}"#).await,
        vec!["404 np= last="]
    );
}

/// `compression: s2` is kept in the config and applied on disk: compressible messages take
/// less room in the block files, and they read back intact after a kill -9 and restart.
#[tokio::test]
async fn s2_compressed_stream_stores_less_and_reads_back() {
    let dir = temp_dir("js-s2");
    let (mut s, js) = js_server(&dir).await;
    let body = |i: usize| format!("{i:05} the same sentence, repeated. ").repeat(30);
    for (name, compression) in [
        ("PLAIN", stream::Compression::None),
        ("TIGHT", stream::Compression::S2),
    ] {
        let info = js
            .create_stream(stream::Config {
                name: name.into(),
                subjects: vec![format!("{}.>", name.to_lowercase())],
                compression: Some(compression.clone()),
                ..Default::default()
            })
            .await
            .unwrap()
            .cached_info()
            .clone();
        assert_eq!(info.config.compression, Some(compression));
        for i in 0..100 {
            js.publish(format!("{}.x", name.to_lowercase()), body(i).into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    }
    let port = s.port.to_string();
    s.signal("KILL");
    s.wait_exit(Duration::from_secs(5));
    let written = |stream: &str| -> usize {
        let mut total = 0;
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    todo.push(p);
                } else if p.extension().is_some_and(|x| x == "blk")
                    && p.to_string_lossy().contains(stream)
                {
                    // The active block is zero-filled ahead of appends.
                    let b = std::fs::read(&p).unwrap();
                    total += b.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
                }
            }
        }
        total
    };
    let (plain, packed) = (written("PLAIN"), written("TIGHT"));
    assert!(
        plain > 0 && packed * 3 < plain,
        "plain {plain} packed {packed}"
    );

    let s2 = TestServer::start(&["-js", "-sd", dir.to_str().unwrap(), "-p", &port]);
    let js = jetstream::new(async_nats::connect(s2.url()).await.unwrap());
    let mut plain_st = js.get_stream("PLAIN").await.unwrap();
    let mut packed_st = js.get_stream("TIGHT").await.unwrap();
    let (a, b) = (
        plain_st.info().await.unwrap().state.clone(),
        packed_st.info().await.unwrap().state.clone(),
    );
    assert_eq!(
        (b.messages, b.bytes),
        (a.messages, a.bytes),
        "sizes count uncompressed"
    );
    for seq in [1, 50, 100] {
        let m = packed_st.get_raw_message(seq).await.unwrap();
        assert_eq!(m.payload, body(seq as usize - 1).as_bytes());
    }
    drop(s2);
    std::fs::remove_dir_all(dir).ok();
}
