//! The async-nats client against the running server: the core NATS features a user of
//! nats-server relies on.

mod common;

use std::time::Duration;

use async_nats::{ConnectOptions, HeaderMap};
use common::sync;
use common::TestServer;
use futures_util::StreamExt;

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("message within 5s")
        .expect("subscription open")
}

#[tokio::test]
async fn publish_subscribe_and_wildcards() {
    let s = TestServer::start(&[]);
    let nc = async_nats::connect(s.url()).await.unwrap();
    let mut exact = nc.subscribe("orders.new").await.unwrap();
    let mut star = nc.subscribe("orders.*").await.unwrap();
    let mut full = nc.subscribe("orders.>").await.unwrap();
    nc.publish("orders.new", "a".into()).await.unwrap();
    nc.publish("orders.eu.new", "b".into()).await.unwrap();
    nc.flush().await.unwrap();
    assert_eq!(next(&mut exact).await.payload, "a");
    assert_eq!(next(&mut star).await.payload, "a");
    assert_eq!(next(&mut full).await.payload, "a");
    assert_eq!(next(&mut full).await.payload, "b");
    assert_eq!(nc.server_info().max_payload, 1024 * 1024);
}

#[tokio::test]
async fn queue_group_delivers_each_message_once() {
    let s = TestServer::start(&[]);
    let nc = async_nats::connect(s.url()).await.unwrap();
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(nc.queue_subscribe("work", "workers".into()).await.unwrap());
    }
    let mut plain = nc.subscribe("work").await.unwrap();
    nc.flush().await.unwrap();
    for i in 0..300 {
        nc.publish("work", format!("{i}").into()).await.unwrap();
    }
    nc.flush().await.unwrap();
    for _ in 0..300 {
        next(&mut plain).await;
    }
    let mut total = 0;
    let mut used = 0;
    for m in members.iter_mut() {
        let mut n = 0;
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), m.next()).await {
            n += 1;
        }
        if n > 0 {
            used += 1;
        }
        total += n;
    }
    assert_eq!(total, 300);
    assert!(used >= 2, "random member choice should spread the load");
}

#[tokio::test]
async fn request_reply_headers_and_no_responders() {
    let s = TestServer::start(&[]);
    let nc = async_nats::connect(s.url()).await.unwrap();
    let mut svc = nc.subscribe("svc.echo").await.unwrap();
    let responder = nc.clone();
    tokio::spawn(async move {
        while let Some(m) = svc.next().await {
            let mut h = HeaderMap::new();
            h.insert(
                "X-Seen",
                m.headers
                    .as_ref()
                    .and_then(|h| h.get("X-In"))
                    .map(|v| v.as_str())
                    .unwrap_or("none"),
            );
            responder
                .publish_with_headers(m.reply.unwrap(), h, m.payload)
                .await
                .unwrap();
        }
    });
    let mut h = HeaderMap::new();
    h.insert("X-In", "42");
    let reply = nc
        .request_with_headers("svc.echo", h, "ping".into())
        .await
        .unwrap();
    assert_eq!(reply.payload, "ping");
    assert_eq!(reply.headers.unwrap().get("X-Seen").unwrap().as_str(), "42");

    let err = nc.request("nobody.home", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn echo_off_and_unsubscribe_after() {
    let s = TestServer::start(&[]);
    let quiet = ConnectOptions::new()
        .no_echo()
        .connect(s.url())
        .await
        .unwrap();
    let other = async_nats::connect(s.url()).await.unwrap();
    let mut own = quiet.subscribe("chat").await.unwrap();
    sync(&quiet).await;
    quiet.publish("chat", "mine".into()).await.unwrap();
    other.publish("chat", "theirs".into()).await.unwrap();
    other.flush().await.unwrap();
    assert_eq!(next(&mut own).await.payload, "theirs");

    let mut limited = other.subscribe("limited").await.unwrap();
    limited.unsubscribe_after(2).await.unwrap();
    for i in 0..5 {
        other
            .publish("limited", format!("{i}").into())
            .await
            .unwrap();
    }
    other.flush().await.unwrap();
    assert_eq!(next(&mut limited).await.payload, "0");
    assert_eq!(next(&mut limited).await.payload, "1");
    let end = tokio::time::timeout(Duration::from_secs(5), limited.next())
        .await
        .unwrap();
    assert!(end.is_none(), "subscription ends after its limit");
}

#[tokio::test]
async fn large_payloads_arrive_intact() {
    let s = TestServer::start(&[]);
    let nc = async_nats::connect(s.url()).await.unwrap();
    let mut sub = nc.subscribe("big").await.unwrap();
    nc.flush().await.unwrap();
    let body: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    for _ in 0..3 {
        nc.publish("big", body.clone().into()).await.unwrap();
    }
    nc.flush().await.unwrap();
    for _ in 0..3 {
        assert_eq!(next(&mut sub).await.payload.as_ref(), &body[..]);
    }
}

#[tokio::test]
async fn many_publishers_many_messages_in_order_per_publisher() {
    let s = TestServer::start(&[]);
    let sub_conn = async_nats::connect(s.url()).await.unwrap();
    let mut sub = sub_conn.subscribe("load.>").await.unwrap();
    sync(&sub_conn).await;
    let mut tasks = Vec::new();
    for p in 0..4 {
        let url = s.url();
        tasks.push(tokio::spawn(async move {
            let nc = async_nats::connect(url).await.unwrap();
            for i in 0..5000u32 {
                nc.publish(format!("load.{p}"), i.to_be_bytes().to_vec().into())
                    .await
                    .unwrap();
            }
            nc.flush().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut last = [None::<u32>; 4];
    for _ in 0..20_000 {
        let m = next(&mut sub).await;
        let p: usize = m.subject.rsplit('.').next().unwrap().parse().unwrap();
        let i = u32::from_be_bytes(m.payload[..4].try_into().unwrap());
        assert_eq!(
            last[p].map_or(0, |l| l + 1),
            i,
            "publisher {p} out of order"
        );
        last[p] = Some(i);
    }
}

/// Message tracing: a `Nats-Trace-Dest` header gets a report of what the server did with
/// the message; with `Nats-Trace-Only` the report comes and the message goes nowhere.
#[tokio::test]
async fn message_trace_reports_ingress_and_deliveries() {
    let s = TestServer::start(&[]);
    let nc = ConnectOptions::new()
        .name("tracer")
        .connect(s.url())
        .await
        .unwrap();
    let mut foo = nc.subscribe("foo").await.unwrap();
    let mut queue = nc.queue_subscribe("foo", "q".into()).await.unwrap();
    let mut traces = nc.subscribe("traces").await.unwrap();
    nc.flush().await.unwrap();
    for only in [false, true] {
        let mut h = HeaderMap::new();
        h.insert("Nats-Trace-Dest", "traces");
        if only {
            h.insert("Nats-Trace-Only", "true");
        }
        nc.publish_with_headers("foo", h, "hello".into())
            .await
            .unwrap();
        let report: serde_json::Value =
            serde_json::from_slice(&next(&mut traces).await.payload).unwrap();
        let events = report["events"].as_array().unwrap();
        assert_eq!(events[0]["type"], "in", "{report}");
        assert_eq!(events[0]["subj"], "foo", "{report}");
        assert_eq!(events[0]["name"], "tracer", "{report}");
        let mut egress: Vec<String> = events
            .iter()
            .filter(|e| e["type"] == "eg")
            .map(|e| format!("{} {}", e["sub"], e["queue"]))
            .collect();
        egress.sort();
        assert_eq!(egress, ["\"foo\" \"q\"", "\"foo\" null"], "{report}");
        assert_eq!(report["request"]["header"]["Nats-Trace-Dest"][0], "traces");
        assert!(report["server"]["id"].is_string(), "{report}");
    }
    // Only the first (not trace-only) message was delivered.
    assert_eq!(next(&mut foo).await.payload, "hello");
    assert_eq!(next(&mut queue).await.payload, "hello");
    nc.flush().await.unwrap();
    let more = tokio::time::timeout(Duration::from_millis(200), foo.next()).await;
    assert!(more.is_err(), "trace-only message delivered");
}
