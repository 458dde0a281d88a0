//! The system account's `$SYS.REQ.*` requests, as `nats server list|ping|report` send
//! them, with async-nats as the client.

mod common;

use std::time::Duration;

use async_nats::ConnectOptions;
use serde_json::Value;

use common::{connect_as, TestServer};

const CONFIG: &str = r#"
server_name: natrium-1
server_tags: ["az:1"]
jetstream { store_dir: "js" }
accounts {
  SYS: { users: [{user: sys, password: sys}] }
  A: { users: [{user: a, password: a}], jetstream: enabled }
}
system_account: SYS
"#;

async fn ask(nc: &async_nats::Client, subject: &str, body: &str) -> Option<Value> {
    let req = nc.request(subject.to_string(), body.to_string().into());
    match tokio::time::timeout(Duration::from_millis(500), req).await {
        Ok(Ok(m)) => Some(serde_json::from_slice(&m.payload).unwrap()),
        _ => None,
    }
}

#[tokio::test]
async fn server_ping_and_monitoring_requests() {
    let s = TestServer::with_config(CONFIG, &[]);
    let sys = connect_as(&s, "sys").await;
    let a = connect_as(&s, "a").await;
    let _sub = a.subscribe("work").await.unwrap();
    common::sync(&a).await;

    let ping = ask(&sys, "$SYS.REQ.SERVER.PING", "").await.unwrap();
    assert_eq!(ping["server"]["name"], "natrium-1");
    assert_eq!(ping["server"]["jetstream"], true);
    assert_eq!(ping["statsz"]["connections"], 2, "{ping}");
    assert_eq!(ping["statsz"]["active_accounts"], 2, "{ping}");
    let id = ping["server"]["id"].as_str().unwrap().to_string();

    let idz = ask(&sys, "$SYS.REQ.SERVER.PING.IDZ", "").await.unwrap();
    assert_eq!(idz["id"], id.as_str());

    let varz = ask(&sys, &format!("$SYS.REQ.SERVER.{id}.VARZ"), "")
        .await
        .unwrap();
    assert_eq!(varz["data"]["server_id"], id.as_str());

    let connz = ask(
        &sys,
        "$SYS.REQ.SERVER.PING.CONNZ",
        r#"{"subscriptions": true, "auth": true, "acc": "A"}"#,
    )
    .await
    .unwrap();
    let conns = connz["data"]["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 1, "{connz}");
    assert_eq!(conns[0]["authorized_user"], "a");
    let subs = conns[0]["subscriptions_list"].as_array().unwrap();
    assert!(subs.iter().any(|x| x == "work"), "{subs:?}");

    let acc = ask(&sys, "$SYS.REQ.ACCOUNT.A.CONNZ", "").await.unwrap();
    assert_eq!(acc["data"]["num_connections"], 1, "{acc}");
    let info = ask(&sys, "$SYS.REQ.ACCOUNT.A.INFO", "").await.unwrap();
    assert_eq!(info["data"]["account_name"], "A");
    assert_eq!(info["data"]["jetstream_enabled"], true);
    let jsz = ask(&sys, "$SYS.REQ.ACCOUNT.A.JSZ", "").await.unwrap();
    assert_eq!(jsz["data"]["account_details"][0]["name"], "A", "{jsz}");
    let health = ask(&sys, "$SYS.REQ.SERVER.PING.HEALTHZ", "").await.unwrap();
    assert_eq!(health["data"]["status_code"], 200);

    // Filters: a server the filter excludes stays silent.
    assert!(ask(&sys, "$SYS.REQ.SERVER.PING", r#"{"tags": ["az:1"]}"#)
        .await
        .is_some());
    assert!(
        ask(&sys, "$SYS.REQ.SERVER.PING", r#"{"server_name": "other"}"#)
            .await
            .is_none()
    );
    // Bad JSON is an error answer, not a crash.
    let bad = ask(&sys, "$SYS.REQ.SERVER.PING.VARZ", "{").await.unwrap();
    assert_eq!(bad["error"]["code"], 400);

    // Only the system account sees these subjects...
    let err = a
        .request("$SYS.REQ.SERVER.PING", "".into())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    // ...except what every account may ask about itself.
    let own = ask(&a, "$SYS.REQ.ACCOUNT.PING.CONNZ", "").await.unwrap();
    let conns = own["data"]["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 1, "{own}");
    let own = ask(&a, "$SYS.REQ.SERVER.PING.CONNZ", "").await.unwrap();
    assert_eq!(own["data"]["num_connections"], 1, "{own}");
    let statz = ask(&a, "$SYS.REQ.ACCOUNT.PING.STATZ", "").await.unwrap();
    assert_eq!(statz["data"]["account_statz"][0]["acc"], "A", "{statz}");
}

#[tokio::test]
async fn connect_and_disconnect_events() {
    use futures_util::StreamExt;
    let s = TestServer::with_config(CONFIG, &[]);
    let sys = connect_as(&s, "sys").await;
    let mut events = sys.subscribe("$SYS.ACCOUNT.A.>").await.unwrap();
    common::sync(&sys).await;
    let a = ConnectOptions::new()
        .user_and_password("a".into(), "a".into())
        .name("worker-7")
        .connect(s.url())
        .await
        .unwrap();
    a.publish("x", "hello".into()).await.unwrap();
    common::sync(&a).await;
    drop(a);
    let mut seen = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(2), events.next()).await {
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        seen.push((m.subject.to_string(), v));
        if seen.iter().any(|(s, _)| s.ends_with(".DISCONNECT")) {
            break;
        }
    }
    let find = |suffix: &str| {
        seen.iter()
            .find(|(s, _)| s.ends_with(suffix))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {suffix} in {seen:?}"))
    };
    let c = find(".CONNECT");
    assert_eq!(c["type"], "io.nats.server.advisory.v1.client_connect");
    assert_eq!(c["client"]["acc"], "A");
    assert_eq!(c["client"]["user"], "a");
    assert_eq!(c["client"]["name"], "worker-7");
    let d = find(".DISCONNECT");
    assert_eq!(d["type"], "io.nats.server.advisory.v1.client_disconnect");
    assert!(d["sent"]["msgs"].as_u64().unwrap() >= 1, "{d}");
    assert!(d["reason"].is_string());
    let conns = find(".SERVER.CONNS");
    assert_eq!(
        conns["type"],
        "io.nats.server.advisory.v1.account_connections"
    );
    assert_eq!(conns["acc"], "A");
}
