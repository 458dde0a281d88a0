//! Accounts from the config file: isolation, stream and service imports, per-account
//! JetStream and limits, and how monitoring reports accounts. Clients are async-nats.

mod common;

use std::time::Duration;

use async_nats::ConnectOptions;
use futures_util::StreamExt;
use serde_json::Value;

use common::http::json;
use common::{connect_as, sync, TestServer};

const CONFIG: &str = r#"
accounts {
  A: {
    users: [{user: a, password: a}]
    exports: [
      {stream: "orders.>"}
      {service: "q.>"}
      {service: "feed", response_type: stream}
      {stream: "private.>", accounts: [C]}
    ]
  }
  B: {
    users: [{user: b, password: b}]
    imports: [
      {stream: {account: A, subject: "orders.>"}, prefix: from_a}
      {service: {account: A, subject: "q.x"}, to: "ask"}
      {service: {account: A, subject: "feed"}}
    ]
  }
  C: { users: [{user: c, password: c}] }
}
authorization { users: [{user: g, password: g}] }
"#;

async fn next(sub: &mut async_nats::Subscriber) -> Option<async_nats::Message> {
    tokio::time::timeout(Duration::from_millis(300), sub.next())
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn accounts_do_not_see_each_other() {
    let s = TestServer::with_config(CONFIG, &[]);
    let (a, b, c, g) = (
        connect_as(&s, "a").await,
        connect_as(&s, "b").await,
        connect_as(&s, "c").await,
        connect_as(&s, "g").await,
    );
    let mut subs = Vec::new();
    for nc in [&a, &b, &c, &g] {
        subs.push(nc.subscribe("news").await.unwrap());
        sync(nc).await;
    }
    a.publish("news", "from a".into()).await.unwrap();
    sync(&a).await;
    assert_eq!(next(&mut subs[0]).await.unwrap().payload, "from a");
    for sub in &mut subs[1..] {
        assert!(next(sub).await.is_none(), "a message crossed accounts");
    }
    // Requests to a subject only another account serves find no responders.
    let _svc = a.subscribe("svc").await.unwrap();
    sync(&a).await;
    let err = g.request("svc", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn stream_imports_deliver_under_the_local_subject() {
    let s = TestServer::with_config(CONFIG, &[]);
    let (a, b, c) = (
        connect_as(&s, "a").await,
        connect_as(&s, "b").await,
        connect_as(&s, "c").await,
    );
    let mut imported = b.subscribe("from_a.orders.>").await.unwrap();
    let mut raw = b.subscribe("orders.>").await.unwrap();
    let mut private = c.subscribe("private.>").await.unwrap();
    sync(&b).await;
    sync(&c).await;
    a.publish("orders.eu.1", "o1".into()).await.unwrap();
    a.publish("private.x", "p".into()).await.unwrap();
    sync(&a).await;
    let m = next(&mut imported)
        .await
        .unwrap_or_else(|| panic!("imported message; log:\n{}", s.log_text()));
    assert_eq!(m.subject.as_str(), "from_a.orders.eu.1");
    assert_eq!(m.payload, "o1");
    // B's own `orders.>` is its own namespace; C did not import `private.>`.
    assert!(next(&mut raw).await.is_none());
    assert!(next(&mut private).await.is_none());
    // Publishing in B does not flow back into A.
    let mut a_orders = a.subscribe("orders.>").await.unwrap();
    sync(&a).await;
    b.publish("orders.eu.2", "b".into()).await.unwrap();
    sync(&b).await;
    assert!(next(&mut a_orders).await.is_none());
}

#[tokio::test]
async fn service_imports_answer_requests_across_accounts() {
    let s = TestServer::with_config(CONFIG, &[]);
    let (a, b) = (connect_as(&s, "a").await, connect_as(&s, "b").await);
    let mut svc = a.subscribe("q.x").await.unwrap();
    sync(&a).await;
    let responder = {
        let a = a.clone();
        tokio::spawn(async move {
            while let Some(m) = svc.next().await {
                let reply = m.reply.clone().unwrap();
                assert!(reply.starts_with("_R_."), "reply rewritten: {reply}");
                let info = m.headers.as_ref().and_then(|h| h.get("Nats-Request-Info"));
                assert!(
                    info.is_some_and(|v| v.as_str().starts_with("{\"acc\":\"B\",\"rtt\":")),
                    "{:?}",
                    m.headers
                );
                let body = format!("answer to {}", String::from_utf8_lossy(&m.payload));
                // A singleton export routes one answer back; the second is dropped.
                a.publish(reply.clone(), body.into()).await.unwrap();
                a.publish(reply, "extra".into()).await.unwrap();
                sync(&a).await;
            }
        })
    };
    for i in 0..3 {
        let r = b.request("ask", format!("{i}").into()).await.unwrap();
        assert_eq!(r.payload, format!("answer to {i}"));
    }
    // The requester's inbox sees exactly one answer per request.
    let inbox = b.new_inbox();
    let mut replies = b.subscribe(inbox.clone()).await.unwrap();
    b.publish_with_reply("ask", inbox, "once".into())
        .await
        .unwrap();
    sync(&b).await;
    assert_eq!(next(&mut replies).await.unwrap().payload, "answer to once");
    assert!(
        next(&mut replies).await.is_none(),
        "singleton answered twice"
    );
    responder.abort();

    // B cannot reach A's other services: only `q.x` is imported, as `ask`.
    let err = b.request("q.x", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);

    // With nobody answering in A, the import itself is interest: the request times out
    // (as with nats-server) instead of getting no-responders.
    drop(a);
    let b2 = ConnectOptions::new()
        .user_and_password("b".into(), "b".into())
        .request_timeout(Some(Duration::from_millis(300)))
        .connect(s.url())
        .await
        .unwrap();
    let err = b2.request("ask", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::TimedOut);
}

#[tokio::test]
async fn stream_response_services_send_many_answers() {
    let s = TestServer::with_config(CONFIG, &[]);
    let (a, b) = (connect_as(&s, "a").await, connect_as(&s, "b").await);
    let mut svc = a.subscribe("feed").await.unwrap();
    sync(&a).await;
    let inbox = b.new_inbox();
    let mut replies = b.subscribe(inbox.clone()).await.unwrap();
    b.publish_with_reply("feed", inbox, "go".into())
        .await
        .unwrap();
    sync(&b).await;
    let m = next(&mut svc).await.unwrap();
    for i in 0..3 {
        a.publish(m.reply.clone().unwrap(), format!("{i}").into())
            .await
            .unwrap();
    }
    sync(&a).await;
    for i in 0..3 {
        assert_eq!(next(&mut replies).await.unwrap().payload, format!("{i}"));
    }
}

#[tokio::test]
async fn import_cycles_do_not_loop_forever() {
    let s = TestServer::with_config(
        r#"accounts {
          A: { users: [{user: a, password: a}], exports: [{stream: "loop"}],
               imports: [{stream: {account: B, subject: "loop"}}] }
          B: { users: [{user: b, password: b}], exports: [{stream: "loop"}],
               imports: [{stream: {account: A, subject: "loop"}}] }
        }"#,
        &[],
    );
    let a = connect_as(&s, "a").await;
    let mut sub = a.subscribe("loop").await.unwrap();
    sync(&a).await;
    a.publish("loop", "x".into()).await.unwrap();
    sync(&a).await;
    let mut copies = 0;
    while next(&mut sub).await.is_some() {
        copies += 1;
    }
    assert!((1..=8).contains(&copies), "{copies} copies");
    // Still serving.
    sync(&a).await;
}

#[tokio::test]
async fn jetstream_is_per_account_with_limits() {
    let s = TestServer::with_config(
        r#"
        jetstream { store_dir: "js" }
        accounts {
          A: { users: [{user: a, password: a}], jetstream: {max_streams: 1, max_consumers: 1, max_file: 1MB} }
          B: { users: [{user: b, password: b}], jetstream: enabled }
          C: { users: [{user: c, password: c}] }
        }"#,
        &[],
    );
    let (a, b, c) = (
        connect_as(&s, "a").await,
        connect_as(&s, "b").await,
        connect_as(&s, "c").await,
    );
    // C has no JetStream: nats-server's 503 10039.
    let r = c.request("$JS.API.INFO", "".into()).await.unwrap();
    let v: Value = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(v["error"]["err_code"], 10039, "{v}");
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.account_info_response");

    let ja = async_nats::jetstream::new(a.clone());
    let jb = async_nats::jetstream::new(b.clone());
    let info = |js: async_nats::jetstream::Context| async move {
        let r = js
            .client()
            .request("$JS.API.INFO", "".into())
            .await
            .unwrap();
        serde_json::from_slice::<Value>(&r.payload).unwrap()
    };
    let ia = info(ja.clone()).await;
    assert_eq!(ia["limits"]["max_streams"], 1, "{ia}");
    assert_eq!(ia["limits"]["max_storage"], 1 << 20, "{ia}");

    // The same stream name lives separately in A and B.
    let mk = |name: &str, max_bytes: i64| async_nats::jetstream::stream::Config {
        name: name.into(),
        subjects: vec!["s.>".into()],
        max_bytes,
        ..Default::default()
    };
    ja.create_stream(mk("S", 1000)).await.unwrap();
    jb.create_stream(mk("S", -1)).await.unwrap();
    ja.publish("s.1", "in a".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let mut sa = ja.get_stream("S").await.unwrap();
    let mut sb = jb.get_stream("S").await.unwrap();
    assert_eq!(sa.info().await.unwrap().state.messages, 1);
    assert_eq!(sb.info().await.unwrap().state.messages, 0);

    // A's limits: one stream, one consumer, 1 MB of file storage.
    let err = ja.create_stream(mk("T", 1000)).await.unwrap_err();
    assert!(err.to_string().contains("10027"), "{err}");
    let err = jb
        .create_stream(async_nats::jetstream::stream::Config {
            name: "BIG".into(),
            subjects: vec!["big".into()],
            max_bytes: 1 << 30,
            ..Default::default()
        })
        .await;
    assert!(err.is_ok(), "B has no limits");
    let cfg = async_nats::jetstream::consumer::pull::Config {
        durable_name: Some("c1".into()),
        ..Default::default()
    };
    sa.create_consumer(cfg.clone()).await.unwrap();
    let err = sa
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("c2".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("10026"), "{err}");
    drop((a, b, c));
}

#[tokio::test]
async fn monitoring_reports_accounts() {
    let s = TestServer::with_config(CONFIG, &["-m", "-1"]);
    let port = s.monitor_port.unwrap();
    let (a, _b) = (connect_as(&s, "a").await, connect_as(&s, "b").await);
    let _x = a.subscribe("x").await.unwrap();
    a.publish("x", "1".into()).await.unwrap();
    sync(&a).await;

    let list = json(port, "/accountz").await;
    let names: Vec<&str> = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for want in ["$G", "$SYS", "A", "B", "C"] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    assert_eq!(list["system_account"], "$SYS");
    let detail = json(port, "/accountz?acc=A").await;
    assert_eq!(detail["account_detail"]["client_connections"], 1);

    let connz = json(port, "/connz?acc=A&auth=1").await;
    assert_eq!(connz["num_connections"], 1, "{connz}");
    assert_eq!(connz["connections"][0]["account"], "A");
    assert_eq!(connz["connections"][0]["authorized_user"], "a");

    let statz = json(port, "/accstatz?acc=A").await;
    let st = &statz["account_statz"][0];
    assert_eq!(st["acc"], "A");
    assert_eq!(st["conns"], 1);
    assert!(st["received"]["msgs"].as_u64().unwrap() >= 1, "{st}");

    let subsz = json(port, "/subsz?acc=A&subs=1").await;
    let subs = subsz["subscriptions_list"].as_array().unwrap();
    assert!(subs.iter().all(|x| x["account"] == "A"), "{subsz}");
    assert!(subs.iter().any(|x| x["subject"] == "x"), "{subsz}");
}

#[tokio::test]
async fn subject_mappings_rewrite_what_clients_publish() {
    let s = TestServer::with_config(
        r#"
        mappings: {
          "req.*": "svc.$1"
          "split": [{destination: "left", weight: 50%}, {destination: "right", weight: 50%}]
          "part.*": "part.{{partition(3,1)}}.$1"
        }
        accounts { A: { users: [{user: a, password: a}], mappings: { "in": "a.in" } } }
        authorization { users: [{user: g, password: g}] }
        "#,
        &[],
    );
    let g = connect_as(&s, "g").await;
    let a = connect_as(&s, "a").await;
    let mut svc = g.subscribe("svc.*").await.unwrap();
    let mut left = g.subscribe("left").await.unwrap();
    let mut right = g.subscribe("right").await.unwrap();
    let mut parts = g.subscribe("part.*.*").await.unwrap();
    let mut a_in = a.subscribe("a.in").await.unwrap();
    sync(&g).await;
    sync(&a).await;
    g.publish("req.x", "1".into()).await.unwrap();
    for _ in 0..200 {
        g.publish("split", "".into()).await.unwrap();
    }
    for i in 0..6 {
        g.publish(format!("part.k{i}"), "".into()).await.unwrap();
    }
    a.publish("in", "mine".into()).await.unwrap();
    sync(&g).await;
    sync(&a).await;
    assert_eq!(next(&mut svc).await.unwrap().subject.as_str(), "svc.x");
    let (mut l, mut r) = (0, 0);
    while next(&mut left).await.is_some() {
        l += 1;
    }
    while next(&mut right).await.is_some() {
        r += 1;
    }
    assert_eq!(l + r, 200);
    assert!(l > 0 && r > 0, "weights split the traffic: {l}/{r}");
    for _ in 0..6 {
        let m = next(&mut parts).await.unwrap();
        let p: u32 = m.subject.split('.').nth(1).unwrap().parse().unwrap();
        assert!(p < 3, "{}", m.subject);
    }
    // Account mappings stay in their account.
    assert_eq!(next(&mut a_in).await.unwrap().payload, "mine");
}

/// An account's `max_file` holds at publish time too: a stream without its own byte limit
/// cannot grow the account past it (10002), and the stream keeps what it had.
#[tokio::test]
async fn account_storage_limit_refuses_publishes() {
    let s = TestServer::with_config(
        r#"
        jetstream { store_dir: "js" }
        accounts { A: { users: [{user: a, password: a}], jetstream: {max_file: 4KB} } }"#,
        &[],
    );
    let a = connect_as(&s, "a").await;
    let js = async_nats::jetstream::new(a.clone());
    let mut st = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "S".into(),
            subjects: vec!["s".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let payload = bytes::Bytes::from(vec![b'x'; 1500]);
    for _ in 0..2 {
        js.publish("s", payload.clone())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let err = js
        .publish("s", payload.clone())
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("10002"), "{err}");
    assert_eq!(st.info().await.unwrap().state.messages, 2);
    // Room again once the stream is purged.
    st.purge().await.unwrap();
    js.publish("s", payload).await.unwrap().await.unwrap();
}
