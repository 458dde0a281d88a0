//! Authentication and permissions, through flags and config files, with async-nats and raw
//! transcripts for the exact error texts.

mod common;

use std::time::Duration;

use async_nats::ConnectOptions;
use common::{Raw, TestServer};

#[tokio::test]
async fn user_and_password_flags() {
    let s = TestServer::start(&["--user", "derek", "--pass", "porkchop"]);
    let (_, info) = Raw::connect(&s.addr()).await;
    assert!(info.contains("\"auth_required\":true"));
    let ok = ConnectOptions::new()
        .user_and_password("derek".into(), "porkchop".into())
        .connect(s.url())
        .await;
    assert!(ok.is_ok());
    let bad = ConnectOptions::new()
        .user_and_password("derek".into(), "wrong".into())
        .connect(s.url())
        .await;
    assert!(bad.is_err());
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send("CONNECT {\"verbose\":false,\"user\":\"derek\",\"pass\":\"nope\"}\r\n")
        .await;
    c.expect("-ERR 'Authorization Violation'").await;
    assert!(c.closed().await);
    assert!(s
        .wait_for_log(
            "authentication error - User \"derek\"",
            Duration::from_secs(2)
        )
        .is_some());
}

#[tokio::test]
async fn operations_before_connect_are_refused_when_auth_is_required() {
    let s = TestServer::start(&["--auth", "s3cr3t"]);
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send("PING\r\n").await;
    c.expect("-ERR 'Authorization Violation'").await;
    assert!(c.closed().await);
    let nc = ConnectOptions::with_token("s3cr3t".into())
        .connect(s.url())
        .await
        .unwrap();
    nc.flush().await.unwrap();
}

#[tokio::test]
async fn authentication_timeout() {
    let s = TestServer::with_config(
        "authorization { user: a, password: b, timeout: 0.5 }\n",
        &[],
    );
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.expect("-ERR 'Authentication Timeout'").await;
    assert!(c.closed().await);
}

#[tokio::test]
async fn users_with_permissions_and_allow_responses() {
    let conf = r#"
authorization {
  users = [
    { user: alice, password: foo, permissions: {
        publish: { allow: ["orders.>", "svc.>"], deny: "orders.secret" }
        subscribe: { allow: ["updates.*", "_INBOX.>"] }
    } }
    { user: svc, password: bar, permissions: {
        subscribe: "svc.>"
        publish: "nothing"
        allow_responses: true
    } }
    { user: q, password: q, permissions: { subscribe: { allow: ["jobs.* workers"] } } }
  ]
}
"#;
    let s = TestServer::with_config(conf, &[]);
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send("CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"foo\"}\r\n")
        .await;
    c.send("PUB orders.secret 1\r\nx\r\n").await;
    c.expect("-ERR 'Permissions Violation for Publish to \"orders.secret\"'")
        .await;
    c.send("PUB other 1\r\nx\r\n").await;
    c.expect("-ERR 'Permissions Violation for Publish to \"other\"'")
        .await;
    c.send("SUB private 1\r\n").await;
    c.expect("-ERR 'Permissions Violation for Subscription to \"private\"'")
        .await;
    c.send("SUB updates.* 2\r\nPING\r\n").await;
    c.expect("PONG").await;

    // The service may answer a request once, though it may not publish otherwise.
    let (mut svc, _) = Raw::connect(&s.addr()).await;
    svc.send(
        "CONNECT {\"verbose\":false,\"user\":\"svc\",\"pass\":\"bar\"}\r\nSUB svc.> 1\r\nPING\r\n",
    )
    .await;
    svc.expect("PONG").await;
    c.send("SUB _INBOX.r1 3\r\nPUB svc.time _INBOX.r1 1\r\n?\r\n")
        .await;
    svc.expect("MSG svc.time 1 _INBOX.r1 1").await;
    svc.expect("?").await;
    svc.send("PUB _INBOX.r1 3\r\nnow\r\nPUB _INBOX.r1 5\r\nagain\r\n")
        .await;
    svc.expect("-ERR 'Permissions Violation for Publish to \"_INBOX.r1\"'")
        .await;
    c.expect("MSG _INBOX.r1 3 3").await;
    c.expect("now").await;

    let (mut qc, _) = Raw::connect(&s.addr()).await;
    qc.send("CONNECT {\"verbose\":false,\"user\":\"q\",\"pass\":\"q\"}\r\nSUB jobs.a 1\r\n")
        .await;
    qc.expect("-ERR 'Permissions Violation for Subscription to \"jobs.a\"'")
        .await;
    qc.send("SUB jobs.a other 2\r\n").await;
    qc.expect("-ERR 'Permissions Violation for Subscription to \"jobs.a\" using queue \"other\"'")
        .await;
    qc.send("SUB jobs.a workers 3\r\nPING\r\n").await;
    qc.expect("PONG").await;
}

#[tokio::test]
async fn no_auth_user_and_bcrypt() {
    // bcrypt hash of "pw" (cost 4), made for this test.
    let hash = bcrypt::hash("pw", 4).unwrap();
    let conf = format!(
        "authorization {{ users = [ {{user: anon, password: x}}, {{user: b, password: \"{hash}\"}} ] }}\nno_auth_user: anon\n"
    );
    let s = TestServer::with_config(&conf, &[]);
    let nc = async_nats::connect(s.url()).await.unwrap();
    nc.flush().await.unwrap();
    let nc = ConnectOptions::new()
        .user_and_password("b".into(), "pw".into())
        .connect(s.url())
        .await
        .unwrap();
    nc.flush().await.unwrap();
}

#[tokio::test]
async fn nkey_users_sign_the_server_nonce() {
    let kp = nkeys::KeyPair::new_user();
    let stranger = nkeys::KeyPair::new_user();
    let s = TestServer::with_config(
        &format!(
            "authorization {{ users: [ {{nkey: {}, permissions: {{publish: \"ok.>\"}}}} ] }}\n",
            kp.public_key()
        ),
        &[],
    );
    let (mut c, info) = Raw::connect(&s.addr()).await;
    let nonce = info
        .split("\"nonce\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("INFO carries a nonce when nkey users exist");
    assert_eq!(nonce.len(), 15);
    // A signature over something else is refused.
    c.send(&format!(
        "CONNECT {{\"verbose\":false,\"nkey\":\"{}\",\"sig\":\"AAAA\"}}\r\n",
        kp.public_key()
    ))
    .await;
    c.expect("-ERR 'Authorization Violation'").await;
    assert!(c.closed().await);

    let nc = ConnectOptions::with_nkey(kp.seed().unwrap())
        .connect(s.url())
        .await
        .unwrap();
    nc.publish("ok.1", "x".into()).await.unwrap();
    nc.flush().await.unwrap();
    let bad = ConnectOptions::with_nkey(stranger.seed().unwrap())
        .connect(s.url())
        .await;
    assert!(bad.is_err());
    // Without credentials at all.
    assert!(async_nats::connect(s.url()).await.is_err());
}

/// A reload that takes a subscription's permission away removes the subscription and tells
/// the client, in nats-server's words (clients match on them).
#[tokio::test]
async fn reload_removes_subscriptions_no_longer_allowed() {
    let users = |perms: &str| {
        format!("authorization {{ users: [ {{ user: a, password: a {perms} }} ] }}\n")
    };
    let s = TestServer::with_config(&users(""), &[]);
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\n")
        .await;
    c.send("SUB _INBOX.x 1\r\nSUB jobs.* w 2\r\nSUB ok 3\r\nPING\r\n")
        .await;
    c.expect("PONG").await;
    std::fs::write(
        s.path("server.conf"),
        users(", permissions: { subscribe: { deny: [\"_INBOX.>\", \"jobs.*\"] } }"),
    )
    .unwrap();
    s.signal("HUP");
    let mut errs = vec![c.read_line().await.unwrap(), c.read_line().await.unwrap()];
    errs.sort();
    assert_eq!(
        errs,
        [
            "-ERR 'Permissions Violation for Subscription to \"_INBOX.x\" (sid \"1\")'",
            "-ERR 'Permissions Violation for Subscription to \"jobs.*\" using queue \"w\" (sid \"2\")'",
        ]
    );
    // The allowed subscription stays; the removed ones get nothing.
    c.send("PUB _INBOX.x 1\r\nx\r\nPUB jobs.a 1\r\ny\r\nPUB ok 1\r\nz\r\n")
        .await;
    c.expect("MSG ok 3 1").await;
    c.expect("z").await;
}

/// `$SYS.REQ.USER.INFO` tells a client who it is: user, account, permissions.
#[tokio::test]
async fn user_info_request() {
    let conf = r#"
accounts {
  S: { users: [ { user: s, password: s, permissions: {
        subscribe: ["q.>", "_INBOX.>"], publish: "$SYS.REQ.USER.INFO", allow_responses: true } } ] }
}
"#;
    let s = TestServer::with_config(conf, &[]);
    let nc = ConnectOptions::with_user_and_password("s".into(), "s".into())
        .connect(s.url())
        .await
        .unwrap();
    let m = tokio::time::timeout(
        Duration::from_secs(5),
        nc.request("$SYS.REQ.USER.INFO", "".into()),
    )
    .await
    .unwrap()
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
    let d = &v["data"];
    assert_eq!(d["user"], "s", "{v}");
    assert_eq!(d["account"], "S", "{v}");
    assert_eq!(
        d["permissions"]["publish"]["allow"],
        serde_json::json!(["$SYS.REQ.USER.INFO"]),
        "{v}"
    );
    assert_eq!(
        d["permissions"]["subscribe"]["allow"],
        serde_json::json!(["q.>", "_INBOX.>"]),
        "{v}"
    );
    assert_eq!(d["permissions"]["responses"]["max"], 1, "{v}");
    assert!(v["server"]["id"].is_string(), "{v}");
}
