//! The websocket listener, driven by async-nats (`ws://` and `wss://`) and by a raw HTTP
//! upgrade for origin checks and cookie credentials.

mod common;

use std::time::Duration;

use common::TestServer;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn ws_port(s: &TestServer) -> u16 {
    let line = s
        .find_log("Listening for websocket clients on")
        .expect("websocket listening line");
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

#[tokio::test]
async fn ws_publish_subscribe_request_and_large_messages() {
    let s = TestServer::with_config("websocket { port: -1, no_tls: true }\n", &["-m", "-1"]);
    assert!(s.find_log("Websocket not configured with TLS").is_some());
    let url = format!("ws://127.0.0.1:{}", ws_port(&s));
    let nc = async_nats::connect(&url).await.unwrap();
    let mut sub = nc.subscribe("ws.foo").await.unwrap();
    nc.publish("ws.foo", "hello".into()).await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(3), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.payload[..], b"hello");

    let big = bytes::Bytes::from(vec![7u8; 1024 * 1024]);
    let mut sub = nc.subscribe("ws.big").await.unwrap().take(5);
    for _ in 0..5 {
        nc.publish("ws.big", big.clone()).await.unwrap();
    }
    while let Some(m) = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap()
    {
        assert_eq!(m.payload, big);
    }

    // A plain TCP client and a websocket client see each other's messages.
    let tcp = async_nats::connect(s.url()).await.unwrap();
    let mut replies = tcp.subscribe("ws.svc").await.unwrap();
    let tcp2 = tcp.clone();
    tokio::spawn(async move {
        if let Some(req) = replies.next().await {
            tcp2.publish(req.reply.unwrap(), req.payload).await.unwrap();
        }
    });
    // async-nats's flush only writes; a message through the server proves it read the SUB.
    let mut probe = tcp.subscribe("ws.probe").await.unwrap();
    tcp.publish("ws.probe", "".into()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(3), probe.next())
        .await
        .unwrap()
        .unwrap();
    let resp = nc.request("ws.svc", "ping".into()).await.unwrap();
    assert_eq!(&resp.payload[..], b"ping");

    let port = s.monitor_port.unwrap();
    let mut http = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    http.write_all(b"GET /connz HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    http.read_to_string(&mut out).await.unwrap();
    assert!(out.contains("\"type\": \"websocket\""), "{out}");
}

#[tokio::test]
async fn ws_requires_tls_unless_no_tls() {
    let dir = common::temp_dir("wsnotls");
    std::fs::write(dir.join("c.conf"), "websocket { port: -1 }\n").unwrap();
    let (code, _, err) = common::run_bin(&["-c", "c.conf"], &dir);
    assert_ne!(code, 0);
    assert!(
        err.contains("websocket requires TLS configuration"),
        "{err}"
    );
    std::fs::write(
        dir.join("d.conf"),
        "websocket { port: -1, no_tls: true, compression: true }\n",
    )
    .unwrap();
    let (code, _, err) = common::run_bin(&["-c", "d.conf"], &dir);
    assert_ne!(code, 0);
    assert!(err.contains("websocket.compression"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends an upgrade request and returns the response head and the stream.
async fn upgrade(port: u16, extra: &str) -> (String, TcpStream) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut b))
            .await
            .unwrap()
            .unwrap();
        if n == 0 {
            break;
        }
        head.push(b[0]);
    }
    (String::from_utf8_lossy(&head).into_owned(), s)
}

/// A masked binary frame, as clients send them.
fn client_frame(payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![0x82, 0x80 | payload.len() as u8, 1, 2, 3, 4];
    f.extend(
        payload
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]),
    );
    f
}

/// Reads server frames until `needle` shows up in their payloads.
async fn read_until(s: &mut TcpStream, needle: &str) -> String {
    let mut text = String::new();
    while !text.contains(needle) {
        let mut h = [0u8; 2];
        tokio::time::timeout(Duration::from_secs(3), s.read_exact(&mut h))
            .await
            .expect("frame in time")
            .expect("frame");
        let len = match h[1] & 0x7f {
            126 => {
                let mut l = [0u8; 2];
                s.read_exact(&mut l).await.unwrap();
                u16::from_be_bytes(l) as usize
            }
            n => n as usize,
        };
        let mut p = vec![0u8; len];
        s.read_exact(&mut p).await.unwrap();
        text.push_str(&String::from_utf8_lossy(&p));
    }
    text
}

#[tokio::test]
async fn ws_origin_checks_and_cookie_credentials() {
    let s = TestServer::with_config(
        "authorization { token: s3cr3t }\nwebsocket { port: -1, no_tls: true, \
         allowed_origins: [\"https://app.example.com\"], token_cookie: tok, \
         headers { X-Served-By: natrium } }\n",
        &[],
    );
    let port = ws_port(&s);
    let (head, _) = upgrade(port, "Origin: https://evil.example.com\r\n").await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(s
        .wait_for_log(
            "websocket handshake error: origin not allowed: not in the allowed list",
            Duration::from_secs(3)
        )
        .is_some());

    let (head, mut ws) = upgrade(
        port,
        "Origin: https://app.example.com\r\nCookie: tok=s3cr3t\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{head}"
    );
    assert!(head.contains("X-Served-By: natrium"), "{head}");
    let info = read_until(&mut ws, "\r\n").await;
    assert!(
        info.starts_with("INFO {") && info.contains("\"auth_required\":true"),
        "{info}"
    );
    ws.write_all(&client_frame(b"CONNECT {\"verbose\":false}\r\nPING\r\n"))
        .await
        .unwrap();
    read_until(&mut ws, "PONG\r\n").await;

    let (_, mut bad) = upgrade(port, "Cookie: tok=wrong\r\n").await;
    read_until(&mut bad, "\r\n").await;
    bad.write_all(&client_frame(b"CONNECT {\"verbose\":false}\r\n"))
        .await
        .unwrap();
    read_until(&mut bad, "Authorization Violation").await;
}

#[tokio::test]
async fn bad_upgrades_are_refused_and_the_server_survives() {
    let s = TestServer::with_config(
        "websocket { port: -1, no_tls: true, handshake_timeout: \"300ms\" }\n",
        &[],
    );
    let port = ws_port(&s);
    let mut post = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    post.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    let _ = post.read_to_string(&mut out).await;
    assert!(out.starts_with("HTTP/1.1 405"), "{out}");
    // Garbage and silence are both closed.
    let mut junk = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    junk.write_all(&[0xff; 64]).await.unwrap();
    let mut silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(3), silent.read(&mut buf)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
    let nc = async_nats::connect(format!("ws://127.0.0.1:{port}"))
        .await
        .unwrap();
    nc.flush().await.unwrap();
}

#[tokio::test]
async fn ws_no_auth_user_applies_to_websocket_clients_only() {
    let s = TestServer::with_config(
        "authorization { users: [ { user: a, password: p }, \
         { user: guest, permissions: { publish: \"guest.>\", subscribe: \"guest.>\" } } ] }\n\
         websocket { port: -1, no_tls: true, no_auth_user: guest }\n",
        &[],
    );
    let port = ws_port(&s);
    let nc = async_nats::connect(format!("ws://127.0.0.1:{port}"))
        .await
        .unwrap();
    let mut sub = nc.subscribe("guest.x").await.unwrap();
    nc.publish("guest.x", "hi".into()).await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(3), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.payload[..], b"hi");
    // The same server refuses a TCP client without credentials.
    assert!(async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(s.url())
        .await
        .is_err());

    let dir = common::temp_dir("wsnoauth");
    std::fs::write(
        dir.join("c.conf"),
        "authorization { users: [ { user: a, password: p } ] }\n\
         websocket { port: -1, no_tls: true, no_auth_user: ghost }\n",
    )
    .unwrap();
    let (code, _, err) = common::run_bin(&["-c", "c.conf"], &dir);
    assert_ne!(code, 0);
    assert!(
        err.contains("no_auth_user: \"ghost\" not present as user or nkey"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn ws_authorization_block_overrides_for_websocket_clients() {
    let s = TestServer::with_config(
        "websocket { port: -1, no_tls: true, \
         authorization { user: wsuser, password: wspass, timeout: 1 } }\n",
        &[],
    );
    let port = ws_port(&s);
    let url = format!("ws://127.0.0.1:{port}");
    // TCP clients need nothing; websocket clients need the block's credentials.
    let tcp = async_nats::connect(s.url()).await.unwrap();
    tcp.flush().await.unwrap();
    let (_, mut raw) = upgrade(port, "").await;
    let info = read_until(&mut raw, "\r\n").await;
    assert!(info.contains("\"auth_required\":true"), "{info}");
    let anonymous = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(&url)
        .await;
    assert!(anonymous.is_err());
    let nc = async_nats::ConnectOptions::with_user_and_password("wsuser".into(), "wspass".into())
        .connect(&url)
        .await
        .unwrap();
    let mut sub = nc.subscribe("a").await.unwrap();
    nc.publish("a", "x".into()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(3), sub.next())
        .await
        .unwrap()
        .unwrap();

    let dir = common::temp_dir("wsauth");
    std::fs::write(
        dir.join("c.conf"),
        "authorization { users: [ { user: a, password: p } ] }\n\
         websocket { port: -1, no_tls: true, authorization { user: x, password: y } }\n",
    )
    .unwrap();
    let (code, _, err) = common::run_bin(&["-c", "c.conf"], &dir);
    assert_ne!(code, 0);
    assert!(
        err.contains(
            "websocket authentication username not compatible with presence of users/nkeys"
        ),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A JWT signed by `signer` (nats's `ed25519-nkey` algorithm).
fn sign_jwt(signer: &nkeys::KeyPair, mut claims: serde_json::Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    claims["iss"] = signer.public_key().into();
    claims["iat"] = 1_700_000_000.into();
    claims["jti"] = format!("{}", claims["sub"]).into();
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{body}");
    let sig = URL_SAFE_NO_PAD.encode(signer.sign(signed.as_bytes()).unwrap());
    format!("{signed}.{sig}")
}

#[tokio::test]
async fn ws_jwt_cookie_carries_a_bearer_user_jwt() {
    use serde_json::json;
    let op = nkeys::KeyPair::new_operator();
    let acc = nkeys::KeyPair::new_account();
    let sys = nkeys::KeyPair::new_account();
    let user = nkeys::KeyPair::new_user();
    let op_jwt = sign_jwt(
        &op,
        json!({"sub": op.public_key(), "name": "OP",
               "nats": {"type": "operator", "version": 2, "system_account": sys.public_key()}}),
    );
    let acc_jwt = sign_jwt(
        &op,
        json!({"sub": acc.public_key(), "name": "A", "nats": {"type": "account", "version": 2}}),
    );
    let sys_jwt = sign_jwt(
        &op,
        json!({"sub": sys.public_key(), "name": "SYS", "nats": {"type": "account", "version": 2}}),
    );
    let user_jwt = sign_jwt(
        &acc,
        json!({"sub": user.public_key(), "name": "u",
               "nats": {"type": "user", "version": 2, "bearer_token": true}}),
    );
    let config = format!(
        "operator: {op_jwt}\nresolver: MEMORY\nresolver_preload: {{\n  {}: {acc_jwt}\n  {}: {sys_jwt}\n}}\n\
         websocket {{ port: -1, no_tls: true, jwt_cookie: natsjwt }}\n",
        acc.public_key(),
        sys.public_key()
    );
    let s = TestServer::with_config(&config, &[]);
    let port = ws_port(&s);
    let (head, mut ws) = upgrade(port, &format!("Cookie: natsjwt={user_jwt}\r\n")).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    read_until(&mut ws, "\r\n").await;
    ws.write_all(&client_frame(b"CONNECT {\"verbose\":false}\r\nPING\r\n"))
        .await
        .unwrap();
    read_until(&mut ws, "PONG\r\n").await;

    let (_, mut without) = upgrade(port, "").await;
    read_until(&mut without, "\r\n").await;
    without
        .write_all(&client_frame(b"CONNECT {\"verbose\":false}\r\n"))
        .await
        .unwrap();
    read_until(&mut without, "Authorization Violation").await;

    let dir = common::temp_dir("wsjwt");
    std::fs::write(
        dir.join("c.conf"),
        "websocket { port: -1, no_tls: true, jwt_cookie: x }\n",
    )
    .unwrap();
    let (code, _, err) = common::run_bin(&["-c", "c.conf"], &dir);
    assert_ne!(code, 0);
    assert!(
        err.contains("trusted operators or trusted keys configuration is required for JWT authentication via cookie \"x\""),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
