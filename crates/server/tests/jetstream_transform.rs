//! A stream's `subject_transform` and `republish` against the real binary: the stored
//! subject, the republished copy's headers (checked in wire order with a raw connection),
//! `headers_only`, and nats-server v2.15's answers to bad configs.

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use common::{temp_dir, Raw, TempDir, TestServer};
use futures_util::StreamExt;

/// A JetStream server on a fresh store directory (removed when the guard drops).
async fn js_server(tag: &str) -> (TestServer, async_nats::Client, jetstream::Context, TempDir) {
    let dir = temp_dir(tag);
    let s = TestServer::start(&["-js", "-sd", dir.to_str().unwrap()]);
    let nc = async_nats::connect(s.url()).await.unwrap();
    (s, nc.clone(), jetstream::new(nc), dir)
}

/// Sends a raw STREAM.CREATE and returns the reply as JSON.
async fn create_raw(nc: &async_nats::Client, cfg: serde_json::Value) -> serde_json::Value {
    let name = cfg["name"].as_str().unwrap().to_string();
    let reply = nc
        .request(
            format!("$JS.API.STREAM.CREATE.{name}"),
            serde_json::to_vec(&cfg).unwrap().into(),
        )
        .await
        .unwrap();
    serde_json::from_slice(&reply.payload).unwrap()
}

#[tokio::test]
async fn transform_stores_under_the_new_subject() {
    let (_s, _nc, js, _dir) = js_server("xf-store").await;
    let mut st = js
        .create_stream(stream::Config {
            name: "T".into(),
            subjects: vec!["a.>".into()],
            subject_transform: Some(stream::SubjectTransform {
                source: "a.*".into(),
                destination: "t.$1".into(),
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    for (i, subject) in ["a.x", "a.x.y", "a.x"].iter().enumerate() {
        let ack = js
            .publish(subject.to_string(), "m".into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!((ack.stream.as_str(), ack.sequence), ("T", i as u64 + 1));
    }
    assert_eq!(st.get_raw_message(1).await.unwrap().subject.as_str(), "t.x");
    // Not matching the source: stored as published.
    assert_eq!(
        st.get_raw_message(2).await.unwrap().subject.as_str(),
        "a.x.y"
    );
    let last = st.get_last_raw_message_by_subject("t.x").await.unwrap();
    assert_eq!(last.sequence, 3);
    let info = st.info().await.unwrap();
    assert_eq!(info.state.messages, 3);

    // An empty source means `>`; an update replaces the transform.
    let mut cfg = info.config.clone();
    cfg.subject_transform = Some(stream::SubjectTransform {
        source: "".into(),
        destination: "u.>".into(),
    });
    js.update_stream(cfg).await.unwrap();
    js.publish("a.z", "m".into()).await.unwrap().await.unwrap();
    assert_eq!(
        st.get_raw_message(4).await.unwrap().subject.as_str(),
        "u.a.z"
    );
}

/// Reads one HMSG from a raw connection: (subject, header lines, payload).
async fn read_hmsg(raw: &mut Raw) -> (String, Vec<String>, String) {
    let line = loop {
        let l = raw.read_line().await.expect("HMSG");
        if l != "PING" {
            break l;
        }
    };
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(parts[0], "HMSG", "{line}");
    let mut headers = Vec::new();
    loop {
        let l = raw.read_line().await.unwrap();
        if l.is_empty() {
            break;
        }
        headers.push(l);
    }
    let payload = raw.read_line().await.unwrap();
    (parts[1].to_string(), headers, payload)
}

/// The header lines with the timestamp's value replaced by `<ts>` (after checking its form).
fn masked(headers: &[String]) -> Vec<String> {
    headers
        .iter()
        .map(|h| match h.strip_prefix("Nats-Time-Stamp: ") {
            Some(ts) => {
                assert!(ts.ends_with('Z') && ts.contains('T'), "{ts}");
                "Nats-Time-Stamp: <ts>".to_string()
            }
            None => h.clone(),
        })
        .collect()
}

#[tokio::test]
async fn republish_headers_in_order_before_the_puback() {
    let (s, nc, _js, _dir) = js_server("xf-rp").await;
    let created = create_raw(
        &nc,
        serde_json::json!({"name": "R", "subjects": ["src.>"],
            "subject_transform": {"src": "src.t", "dest": "src.moved"},
            "republish": {"src": "", "dest": "rp.>"}}),
    )
    .await;
    // An empty republish source is stored as `>`.
    assert_eq!(
        created["config"]["republish"],
        serde_json::json!({"src": ">", "dest": "rp.>"})
    );
    let (mut raw, _) = Raw::connect(&s.addr()).await;
    raw.send(
        "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB rp.> 1\r\nSUB ack.> 2\r\nPING\r\n",
    )
    .await;
    raw.expect("PONG").await;
    raw.send("HPUB src.a ack.1 22 27\r\nNATS/1.0\r\nFoo: bar\r\n\r\nhello\r\n")
        .await;
    let (subject, headers, payload) = read_hmsg(&mut raw).await;
    assert_eq!(subject, "rp.src.a");
    assert_eq!(
        masked(&headers),
        [
            "NATS/1.0",
            "Foo: bar",
            "Nats-Stream: R",
            "Nats-Subject: src.a",
            "Nats-Sequence: 1",
            "Nats-Time-Stamp: <ts>",
            "Nats-Last-Sequence: 0",
        ]
    );
    assert_eq!(payload, "hello");
    // The PubAck follows the copy.
    let ack = raw.read_line().await.unwrap();
    assert!(ack.starts_with("MSG ack.1 2 "), "{ack}");
    assert_eq!(raw.read_line().await.unwrap(), r#"{"stream":"R","seq":1}"#);

    // Nats-Last-Sequence is the subject's previous sequence, not the stream's; the copy of
    // a transformed message is built from the stored subject.
    raw.send("PUB src.b 1\r\nx\r\nPUB src.a 1\r\ny\r\nPUB src.t 1\r\nz\r\n")
        .await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let (subject, headers, payload) = read_hmsg(&mut raw).await;
        let pick = |name: &str| {
            headers
                .iter()
                .find_map(|h| h.strip_prefix(&format!("{name}: ")).map(str::to_string))
                .unwrap()
        };
        got.push((
            subject,
            pick("Nats-Sequence"),
            pick("Nats-Last-Sequence"),
            payload,
        ));
    }
    let want = [
        ("rp.src.b", "2", "0", "x"),
        ("rp.src.a", "3", "1", "y"),
        ("rp.src.moved", "4", "0", "z"),
    ];
    let want: Vec<(String, String, String, String)> = want
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn republish_headers_only_and_into_another_stream() {
    let (_s, nc, js, _dir) = js_server("xf-rp-ho").await;
    js.create_stream(stream::Config {
        name: "H".into(),
        subjects: vec!["h.>".into()],
        republish: Some(stream::Republish {
            source: "h.*".into(),
            destination: "ho.$1".into(),
            headers_only: true,
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut sub = nc.subscribe("ho.>").await.unwrap();
    common::sync(&nc).await;
    js.publish("h.a", "payload12".into())
        .await
        .unwrap()
        .await
        .unwrap();
    // Not matching the republish source: stored, not republished.
    js.publish("h.a.b", "x".into())
        .await
        .unwrap()
        .await
        .unwrap();
    js.publish("h.b", "".into()).await.unwrap().await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.subject.as_str(), "ho.a");
    assert!(m.payload.is_empty());
    let hdr = m.headers.unwrap();
    assert_eq!(hdr.get("Nats-Msg-Size").unwrap().as_str(), "9");
    assert_eq!(hdr.get("Nats-Sequence").unwrap().as_str(), "1");
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.subject.as_str(), "ho.b");
    let hdr = m.headers.unwrap();
    assert_eq!(hdr.get("Nats-Msg-Size").unwrap().as_str(), "0");
    assert_eq!(hdr.get("Nats-Sequence").unwrap().as_str(), "3");

    // A republish that another stream captures (the pattern KV republish builds on).
    js.create_stream(stream::Config {
        name: "SRC".into(),
        subjects: vec!["s.>".into()],
        republish: Some(stream::Republish {
            source: ">".into(),
            destination: "d.>".into(),
            headers_only: false,
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut dest = js
        .create_stream(stream::Config {
            name: "DEST".into(),
            subjects: vec!["d.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..5 {
        js.publish(format!("s.{i}"), format!("{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while dest.info().await.unwrap().state.messages < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "republished copies not stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let m = dest.get_raw_message(5).await.unwrap();
    assert_eq!(m.subject.as_str(), "d.s.4");
    assert_eq!(m.payload, "4");
}

#[tokio::test]
async fn bad_configs_get_nats_server_errors() {
    let (_s, nc, _js, _dir) = js_server("xf-bad").await;
    let cases = [
        (
            serde_json::json!({"subject_transform": {"src": "a..b", "dest": "x"}}),
            400,
            10155,
            "stream transform source: invalid subject a..b",
        ),
        (
            serde_json::json!({"subject_transform": {"src": "a.*", "dest": "x.$2"}}),
            400,
            10156,
            "stream transform: invalid mapping destination: wildcard index out of range in $2: [2]",
        ),
        (
            serde_json::json!({"subject_transform": {"src": "a.*", "dest": "x.{{foo(1)}}"}}),
            400,
            10156,
            "stream transform: invalid mapping destination: unknown function in {{foo(1)}}",
        ),
        (
            serde_json::json!({"subject_transform": {"src": "a.>", "dest": "x.y"}}),
            400,
            10156,
            "stream transform: invalid subject",
        ),
        (
            serde_json::json!({"republish": {"src": "a.>", "dest": "a.x.>"}}),
            500,
            10052,
            "stream configuration for republish destination forms a cycle",
        ),
        (
            serde_json::json!({"republish": {"src": "", "dest": "r.x"}}),
            500,
            10052,
            "stream configuration for republish with transform from '>' to 'r.x' not valid",
        ),
    ];
    for (extra, code, err_code, description) in cases {
        let mut cfg = serde_json::json!({"name": "BAD", "subjects": ["a.>"]});
        for (k, v) in extra.as_object().unwrap() {
            cfg[k] = v.clone();
        }
        let reply = create_raw(&nc, cfg).await;
        assert_eq!(
            reply["error"],
            serde_json::json!({"code": code, "err_code": err_code, "description": description}),
            "{extra}"
        );
    }
    // An update is checked the same way.
    let ok = create_raw(&nc, serde_json::json!({"name": "OK", "subjects": ["a.>"]})).await;
    assert!(ok.get("error").is_none(), "{ok}");
    let reply = nc
        .request(
            "$JS.API.STREAM.UPDATE.OK",
            serde_json::to_vec(&serde_json::json!({"name": "OK", "subjects": ["a.>"],
                "republish": {"src": ">", "dest": "*.>"}}))
            .unwrap()
            .into(),
        )
        .await
        .unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(reply["error"]["err_code"], 10052, "{reply}");
}
