//! Mirrors and sources through the async-nats client: sequences, headers, transforms,
//! restarts (clean and SIGKILL), retries after a full stream, promotion, and the config
//! errors nats-server gives.

mod common;

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use common::{temp_dir, TestServer};

async fn js_server(dir: &std::path::Path, port: Option<&str>) -> (TestServer, jetstream::Context) {
    let sd = dir.to_str().unwrap();
    let s = match port {
        Some(p) => TestServer::start(&["-js", "-sd", sd, "-p", p]),
        None => TestServer::start(&["-js", "-sd", sd]),
    };
    let nc = async_nats::connect(s.url()).await.unwrap();
    (s, jetstream::new(nc))
}

async fn publish(js: &jetstream::Context, subject: &str, payload: &str) -> u64 {
    js.publish(subject.to_string(), payload.to_string().into())
        .await
        .unwrap()
        .await
        .unwrap()
        .sequence
}

/// Waits until the stream holds `want` messages (sources run in the background).
async fn wait_messages(js: &jetstream::Context, name: &str, want: u64) -> stream::Info {
    wait_messages_for(js, name, want, Duration::from_secs(10)).await
}

async fn wait_messages_for(
    js: &jetstream::Context,
    name: &str,
    want: u64,
    limit: Duration,
) -> stream::Info {
    let deadline = Instant::now() + limit;
    loop {
        let info = js
            .get_stream(name)
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .clone();
        if info.state.messages == want || Instant::now() > deadline {
            assert_eq!(info.state.messages, want, "{name}: {:?}", info.state);
            return info;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A `Nats-Stream-Source` value without its last field, the origin's identity (8
/// characters from `[0-9A-Za-z]`, a hash of its creation time), which is checked here.
fn without_ident(value: &str) -> (String, String) {
    let (rest, ident) = value.rsplit_once(' ').unwrap();
    assert_eq!(ident.len(), 8, "{value}");
    assert!(ident.chars().all(|c| c.is_ascii_alphanumeric()), "{value}");
    (rest.to_string(), ident.to_string())
}

fn source(name: &str) -> stream::Source {
    stream::Source {
        name: name.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn mirror_keeps_origin_sequences_and_follows_live() {
    let dir = temp_dir("js-mirror");
    let (_s, js) = js_server(&dir, None).await;
    let origin = js
        .create_stream(stream::Config {
            name: "O".into(),
            subjects: vec!["o.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 1..=5 {
        publish(&js, &format!("o.{i}"), &format!("m{i}")).await;
    }
    assert!(origin.delete_message(2).await.unwrap());
    js.create_stream(stream::Config {
        name: "M".into(),
        mirror: Some(source("O")),
        ..Default::default()
    })
    .await
    .unwrap();
    let info = wait_messages(&js, "M", 4).await;
    assert_eq!(
        (info.state.first_sequence, info.state.last_sequence),
        (1, 5)
    );
    let mirror = js.get_stream("M").await.unwrap();
    let m = mirror.get_raw_message(3).await.unwrap();
    assert_eq!((m.subject.as_str(), &m.payload[..]), ("o.3", &b"m3"[..]));
    // Same timestamp as the origin's copy.
    assert_eq!(m.time, origin.get_raw_message(3).await.unwrap().time);
    assert!(mirror.get_raw_message(2).await.is_err());
    // Live messages follow; the mirror reports no lag once caught up.
    publish(&js, "o.6", "m6").await;
    let info = wait_messages(&js, "M", 5).await;
    assert_eq!(info.state.last_sequence, 6);
    // A message shows in the mirror's state as soon as it is appended, and counts as
    // mirrored once it is durable: the lag reaches 0 just after.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info = js
            .get_stream("M")
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .clone();
        let mi = info.mirror.expect("mirror info");
        assert_eq!(mi.name, "O");
        if mi.lag == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "mirror lag stays {}", mi.lag);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A publish to a mirror's origin subjects is not captured by the mirror itself.
    assert!(info.config.subjects.is_empty());
}

#[tokio::test]
async fn mirror_filtered_with_start_sequence() {
    let dir = temp_dir("js-mirror-f");
    let (_s, js) = js_server(&dir, None).await;
    js.create_stream(stream::Config {
        name: "O".into(),
        subjects: vec!["o.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    for i in 1..=6 {
        publish(&js, if i % 2 == 0 { "o.even" } else { "o.odd" }, "x").await;
    }
    js.create_stream(stream::Config {
        name: "M".into(),
        mirror: Some(stream::Source {
            name: "O".into(),
            start_sequence: Some(3),
            subject_transforms: vec![stream::SubjectTransform {
                source: "o.even".into(),
                destination: "mirrored.even".into(),
            }],
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    // Sequences 4 and 6 are the even ones at or after 3.
    let info = wait_messages(&js, "M", 2).await;
    assert_eq!(
        (info.state.first_sequence, info.state.last_sequence),
        (4, 6)
    );
    let m = js
        .get_stream("M")
        .await
        .unwrap()
        .get_raw_message(6)
        .await
        .unwrap();
    assert_eq!(m.subject.as_str(), "mirrored.even");
}

#[tokio::test]
async fn sources_merge_transform_and_stamp_headers() {
    let dir = temp_dir("js-sources");
    let (_s, js) = js_server(&dir, None).await;
    for (name, subj) in [("A", "a.>"), ("B", "b.>")] {
        js.create_stream(stream::Config {
            name: name.into(),
            subjects: vec![subj.into()],
            ..Default::default()
        })
        .await
        .unwrap();
    }
    publish(&js, "a.1", "a1").await;
    publish(&js, "b.1", "b1").await;
    publish(&js, "a.2", "a2").await;
    js.create_stream(stream::Config {
        name: "AGG".into(),
        sources: Some(vec![
            source("A"),
            stream::Source {
                name: "B".into(),
                subject_transforms: vec![stream::SubjectTransform {
                    source: "b.>".into(),
                    destination: "from-b.>".into(),
                }],
                ..Default::default()
            },
        ]),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut info = wait_messages(&js, "AGG", 3).await;
    // The lag drops to 0 once each source has seen its appends complete.
    let deadline = Instant::now() + Duration::from_secs(5);
    while info.sources.iter().any(|s| s.lag != 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        info = wait_messages(&js, "AGG", 3).await;
    }
    let sources = info.sources.clone();
    assert_eq!(sources.len(), 2);
    assert!(sources.iter().all(|s| s.lag == 0), "{sources:?}");
    let agg = js.get_stream("AGG").await.unwrap();
    let mut seen = Vec::new();
    for seq in 1..=3 {
        let m = agg.get_raw_message(seq).await.unwrap();
        let src = m
            .headers
            .get("Nats-Stream-Source")
            .map(|v| without_ident(v.as_str()).0)
            .unwrap();
        seen.push((m.subject.to_string(), src));
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("a.1".to_string(), "A 1 > > a.1".to_string()),
            ("a.2".to_string(), "A 2 > > a.2".to_string()),
            ("from-b.1".to_string(), "B 1 b.> from-b.> b.1".to_string()),
        ]
    );
    // Message ids deduplicate across sources, like direct publishes.
    for name in ["a.dup", "b.dup"] {
        let mut h = async_nats::HeaderMap::new();
        h.insert("Nats-Msg-Id", "same-id");
        js.publish_with_headers(name.to_string(), h, "d".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    wait_messages(&js, "AGG", 4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(agg.clone().info().await.unwrap().state.messages, 4);
}

#[tokio::test]
async fn sources_resume_after_restart_without_duplicates() {
    let dir = temp_dir("js-src-restart");
    let (s, js) = js_server(&dir, None).await;
    let port = s.port.to_string();
    js.create_stream(stream::Config {
        name: "A".into(),
        subjects: vec!["a.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    js.create_stream(stream::Config {
        name: "AGG".into(),
        sources: Some(vec![source("A")]),
        ..Default::default()
    })
    .await
    .unwrap();
    js.create_stream(stream::Config {
        name: "M".into(),
        mirror: Some(source("A")),
        ..Default::default()
    })
    .await
    .unwrap();
    for i in 0..50 {
        publish(&js, &format!("a.{i}"), "x").await;
    }
    wait_messages(&js, "AGG", 50).await;
    wait_messages(&js, "M", 50).await;
    // SIGKILL, then more messages after the restart: each is sourced exactly once.
    s.signal("KILL");
    drop(s);
    let (_s, js) = js_server(&dir, Some(&port)).await;
    for i in 50..80 {
        publish(&js, &format!("a.{i}"), "x").await;
    }
    let info = wait_messages(&js, "AGG", 80).await;
    assert_eq!(info.state.last_sequence, 80);
    let info = wait_messages(&js, "M", 80).await;
    assert_eq!(info.state.last_sequence, 80);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        js.get_stream("AGG")
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .messages,
        80
    );
}

#[tokio::test]
async fn full_source_target_retries_when_space_frees() {
    let dir = temp_dir("js-src-full");
    let (_s, js) = js_server(&dir, None).await;
    js.create_stream(stream::Config {
        name: "A".into(),
        subjects: vec!["a".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    for _ in 0..5 {
        publish(&js, "a", "x").await;
    }
    let mut agg = js
        .create_stream(stream::Config {
            name: "AGG".into(),
            sources: Some(vec![source("A")]),
            max_messages: 3,
            discard: stream::DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .unwrap();
    wait_messages(&js, "AGG", 3).await;
    agg.purge().await.unwrap();
    // The two left over arrive after the retry pause, in order.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = agg.info().await.unwrap().clone();
        if info.state.messages == 2 || Instant::now() > deadline {
            assert_eq!(info.state.messages, 2);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let m = agg.get_raw_message(4).await.unwrap();
    assert_eq!(
        without_ident(m.headers.get("Nats-Stream-Source").unwrap().as_str()).0,
        "A 4 > > a"
    );
}

/// A deleted and recreated origin starts again at its first message (nats-server notices
/// by the identity in the source header), also when the restart comes in between.
#[tokio::test]
async fn recreated_origin_is_read_from_its_start() {
    let dir = temp_dir("js-src-recreate");
    let (s, js) = js_server(&dir, None).await;
    let port = s.port.to_string();
    let origin = || stream::Config {
        name: "A".into(),
        subjects: vec!["a.>".into()],
        ..Default::default()
    };
    js.create_stream(origin()).await.unwrap();
    js.create_stream(stream::Config {
        name: "AGG".into(),
        sources: Some(vec![source("A")]),
        ..Default::default()
    })
    .await
    .unwrap();
    for i in 0..3 {
        publish(&js, &format!("a.{i}"), "x").await;
    }
    wait_messages(&js, "AGG", 3).await;
    let agg = js.get_stream("AGG").await.unwrap();
    let first = agg.get_raw_message(3).await.unwrap();
    let (_, old) = without_ident(first.headers.get("Nats-Stream-Source").unwrap().as_str());

    js.delete_stream("A").await.unwrap();
    js.create_stream(origin()).await.unwrap();
    assert_eq!(publish(&js, "a.new", "y").await, 1);
    // nats-server takes about 11 s to notice (its source consumer's heartbeat).
    wait_messages_for(&js, "AGG", 4, Duration::from_secs(30)).await;
    let m = agg.get_raw_message(4).await.unwrap();
    assert_eq!(m.subject.as_str(), "a.new");
    let (value, new) = without_ident(m.headers.get("Nats-Stream-Source").unwrap().as_str());
    assert_eq!(value, "A 1 > > a.new");
    assert_ne!(old, new);

    // After a SIGKILL and restart, a recreation is still noticed and nothing from before
    // is sourced twice.
    s.signal("KILL");
    drop(s);
    let (_s, js) = js_server(&dir, Some(&port)).await;
    js.delete_stream("A").await.unwrap();
    js.create_stream(origin()).await.unwrap();
    publish(&js, "a.newer", "z").await;
    wait_messages_for(&js, "AGG", 5, Duration::from_secs(30)).await;
    let m = js
        .get_stream("AGG")
        .await
        .unwrap()
        .get_raw_message(5)
        .await
        .unwrap();
    assert_eq!(m.subject.as_str(), "a.newer");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        js.get_stream("AGG")
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .messages,
        5
    );
}

#[tokio::test]
async fn missing_origin_reports_and_recovers() {
    let dir = temp_dir("js-src-missing");
    let (s, js) = js_server(&dir, None).await;
    let nc = async_nats::connect(s.url()).await.unwrap();
    let mirror_json = || async {
        let r = nc
            .request("$JS.API.STREAM.INFO.M", "".into())
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
        v["mirror"].clone()
    };
    js.create_stream(stream::Config {
        name: "M".into(),
        mirror: Some(source("LATER")),
        ..Default::default()
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = mirror_json().await;
    assert_eq!(m["error"]["err_code"], 10059, "{m}");
    assert_eq!(m["active"], -1, "{m}");
    js.create_stream(stream::Config {
        name: "LATER".into(),
        subjects: vec!["later".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    publish(&js, "later", "x").await;
    wait_messages(&js, "M", 1).await;
    let m = mirror_json().await;
    assert!(m.get("error").is_none(), "{m}");
    assert!(m["active"].as_i64().unwrap() >= 0, "{m}");
}

#[tokio::test]
async fn promote_mirror_and_refuse_changes() {
    let dir = temp_dir("js-promote");
    let (_s, js) = js_server(&dir, None).await;
    js.create_stream(stream::Config {
        name: "O".into(),
        subjects: vec!["o".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    publish(&js, "o", "1").await;
    publish(&js, "o", "2").await;
    let mcfg = stream::Config {
        name: "M".into(),
        mirror: Some(source("O")),
        ..Default::default()
    };
    js.create_stream(mcfg.clone()).await.unwrap();
    wait_messages(&js, "M", 2).await;
    let err = js
        .update_stream(stream::Config {
            mirror: Some(stream::Source {
                name: "O".into(),
                filter_subject: Some("o".into()),
                ..Default::default()
            }),
            ..mcfg.clone()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("10055"), "{err}");
    js.delete_stream("O").await.unwrap();
    // Promotion: the mirror becomes a plain stream that continues its sequence.
    js.update_stream(stream::Config {
        name: "M".into(),
        subjects: vec!["o".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(publish(&js, "o", "3").await, 3);
}

#[tokio::test]
async fn config_errors_match_nats_server() {
    let dir = temp_dir("js-src-errs");
    let (_s, js) = js_server(&dir, None).await;
    let nc = async_nats::connect(_s.url()).await.unwrap();
    js.create_stream(stream::Config {
        name: "O".into(),
        subjects: vec!["o.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let cases = [
        (
            r#"{"name":"E","mirror":{"name":"O"},"subjects":["e"]}"#,
            10034,
        ),
        (
            r#"{"name":"E","mirror":{"name":"O"},"sources":[{"name":"O"}]}"#,
            10031,
        ),
        (r#"{"name":"E","mirror":{"name":"O"},"first_seq":5}"#, 10143),
        (
            r#"{"name":"E","sources":[{"name":"O"},{"name":"O"}]}"#,
            10140,
        ),
        (r#"{"name":"E","sources":[{"name":"a.b"}]}"#, 10141),
        (
            r#"{"name":"E","mirror":{"name":"O","filter_subject":"o.a","subject_transforms":[{"src":"o.a","dest":"b"}]}}"#,
            10150,
        ),
        (
            r#"{"name":"E","sources":[{"name":"O","subject_transforms":[{"src":"o.>","dest":"x.>"},{"src":"o.a","dest":"y"}]}]}"#,
            10147,
        ),
        (
            r#"{"name":"E","sources":[{"name":"O","external":{"api":"$JS.x.API"}}]}"#,
            10052,
        ),
    ];
    for (body, code) in cases {
        let r = nc
            .request("$JS.API.STREAM.CREATE.E", body.to_string().into())
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
        assert_eq!(v["error"]["err_code"], code, "{body}: {v}");
    }
    // A source cycle: O sourcing from S, which sources all of O.
    js.create_stream(stream::Config {
        name: "S".into(),
        subjects: vec!["s".into()],
        sources: Some(vec![source("O")]),
        ..Default::default()
    })
    .await
    .unwrap();
    let err = js
        .update_stream(stream::Config {
            name: "O".into(),
            subjects: vec!["o.>".into()],
            sources: Some(vec![source("S")]),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("detected cycle"), "{err}");
}
