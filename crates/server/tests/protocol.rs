//! Protocol transcripts against the running server: what a client sends, what nats-server
//! answers (captured from nats-server v2.15 and recorded here as the expectation).

mod common;

use common::{Raw, TestServer};

const QUIET: &str = "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n";

#[tokio::test]
async fn info_line_has_nats_server_shape() {
    let s = TestServer::start(&[]);
    let (_raw, info) = Raw::connect(&s.addr()).await;
    let json: serde_json::Value =
        serde_json::from_str(info.strip_prefix("INFO ").unwrap().trim()).unwrap();
    assert_eq!(json["server_id"].as_str().unwrap().len(), 56);
    assert!(json["server_id"].as_str().unwrap().starts_with('N'));
    assert_eq!(json["proto"], 1);
    assert_eq!(json["headers"], true);
    assert_eq!(json["max_payload"], 1048576);
    assert_eq!(json["port"], s.port);
    assert_eq!(json["client_ip"], "127.0.0.1");
    assert!(json.get("auth_required").is_none());
    assert!(json["version"].as_str().unwrap().starts_with("2."));
    // The JetStream API level clients gate features on; the last key, as in nats-server.
    assert_eq!(json["api_lvl"], 2);
    assert!(info.trim_end().ends_with(",\"api_lvl\":2}"), "{info}");
}

#[tokio::test]
async fn verbose_ping_pub_sub_transcript() {
    let s = TestServer::start(&[]);
    let (mut c, _) = Raw::connect(&s.addr()).await;
    // Omitted verbose/pedantic default to true, as in nats-server.
    c.send("connect {}\r\n").await;
    c.expect("+OK").await;
    c.send("SUB foo 1\r\nPUB foo 2\r\nhi\r\nPiNg\r\n").await;
    c.expect("+OK").await;
    c.expect("+OK").await;
    c.expect("MSG foo 1 2").await;
    c.expect("hi").await;
    c.expect("PONG").await;
}

#[tokio::test]
async fn connect_info_follows_first_pong_for_protocol_1() {
    let s = TestServer::start(&[]);
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send("CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n")
        .await;
    c.expect("PONG").await;
    let info = c.read_line().await.unwrap();
    assert!(info.contains("\"connect_info\":true"), "{info}");
    assert!(info.contains("\"remote_account\":\"$G\""), "{info}");
}

#[tokio::test]
async fn wildcards_queue_groups_and_auto_unsubscribe() {
    let s = TestServer::start(&[]);
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send(QUIET).await;
    c.send("SUB a.* 1\r\nSUB a.> 2\r\nSUB a.b.c 3\r\nSUB q g 4\r\nSUB q g 5\r\n")
        .await;
    c.send("PUB a.b 1\r\nx\r\nPUB q 1\r\ny\r\nPING\r\n").await;
    let mut lines = Vec::new();
    loop {
        let l = c.read_line().await.unwrap();
        if l == "PONG" {
            break;
        }
        lines.push(l);
    }
    assert!(lines.contains(&"MSG a.b 1 1".to_string()));
    assert!(lines.contains(&"MSG a.b 2 1".to_string()));
    let queue_msgs = lines.iter().filter(|l| l.starts_with("MSG q ")).count();
    assert_eq!(queue_msgs, 1, "{lines:?}");

    c.send("SUB once 9\r\nUNSUB 9 2\r\n").await;
    c.send("PUB once 1\r\n1\r\nPUB once 1\r\n2\r\nPUB once 1\r\n3\r\nPING\r\n")
        .await;
    c.expect("MSG once 9 1").await;
    c.expect("1").await;
    c.expect("MSG once 9 1").await;
    c.expect("2").await;
    c.expect("PONG").await;
}

#[tokio::test]
async fn headers_and_no_responders() {
    let s = TestServer::start(&[]);
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\n")
        .await;
    c.send("SUB inbox 1\r\nHPUB foo inbox 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
        .await;
    c.expect("HMSG inbox 1 35 35").await;
    c.expect("NATS/1.0 503").await;
    c.expect("Nats-Subject: foo").await;
    c.expect("").await;
    c.expect("").await;
    // A subscriber without header support gets the payload alone.
    let (mut plain, _) = Raw::connect(&s.addr()).await;
    plain
        .send("CONNECT {\"verbose\":false}\r\nSUB h 7\r\nPING\r\n")
        .await;
    plain.expect("PONG").await;
    c.send("HPUB h 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n")
        .await;
    plain.expect("MSG h 7 2").await;
    plain.expect("hi").await;
}

#[tokio::test]
async fn echo_off_skips_own_messages() {
    let s = TestServer::start(&[]);
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send("CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB e 1\r\nPUB e 1\r\nx\r\nPING\r\n")
        .await;
    c.expect("PONG").await;
}

#[tokio::test]
async fn invalid_subjects_keep_the_connection() {
    let s = TestServer::start(&[]);
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send(QUIET).await;
    c.send("SUB foo.. 1\r\n").await;
    c.expect("-ERR 'Invalid Subject'").await;
    c.send("CONNECT {\"verbose\":false,\"pedantic\":true}\r\nPUB foo.* 1\r\nx\r\n")
        .await;
    c.expect("-ERR 'Invalid Publish Subject'").await;
    c.send("PING\r\n").await;
    c.expect("PONG").await;
}

#[tokio::test]
async fn protocol_errors_close_with_nats_server_texts() {
    let s = TestServer::start(&[]);
    for (input, err) in [
        ("FOO bar\r\n", Some("-ERR 'Unknown Protocol Operation'")),
        (
            "PUB foo 2\r\nhello\r\n",
            Some("-ERR 'Unknown Protocol Operation'"),
        ),
        (
            "PUB foo 2000000\r\n",
            Some("-ERR 'Maximum Payload Violation'"),
        ),
        ("PUB foo bar\r\n", None),
        ("CONNECT {bad json\r\n", None),
        (
            "CONNECT {\"protocol\":5}\r\n",
            Some("-ERR 'invalid client protocol'"),
        ),
        (
            "CONNECT {\"no_responders\":true}\r\n",
            Some("-ERR 'no responders requires headers support'"),
        ),
    ] {
        let (mut c, _) = Raw::connect(&s.addr()).await;
        c.send(input).await;
        if let Some(err) = err {
            c.expect(err).await;
        }
        assert!(c.closed().await, "connection stays open after {input:?}");
    }
    let long = format!("PUB {} 1\r\n", "a".repeat(5000));
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send(&long).await;
    c.expect("-ERR 'maximum control line exceeded'").await;
    assert!(c.closed().await);
    // The server is still serving.
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send("PING\r\n").await;
    c.expect("PONG").await;
}

#[tokio::test]
async fn split_writes_are_reassembled() {
    let s = TestServer::start(&[]);
    let (mut c, _) = Raw::connect(&s.addr()).await;
    let script = format!("{QUIET}SUB s 1\r\nPUB s 11\r\nhello world\r\nPING\r\n");
    for chunk in script.as_bytes().chunks(3) {
        c.send(std::str::from_utf8(chunk).unwrap()).await;
    }
    c.expect("MSG s 1 11").await;
    c.expect("hello world").await;
    c.expect("PONG").await;
}
