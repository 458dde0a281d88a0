//! Pull consumer priority groups through async-nats against the real server: `overflow`
//! (`min_pending`, `min_ack_pending`), `pinned_client` (the pin, `423` for a wrong id,
//! UNPIN, the pin lapsing after `priority_timeout`), `prioritized`, `$JS.API.CONSUMER.RESET`
//! and the errors for bad configs and bad requests, with nats-server's codes and texts.

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use async_nats::{Client, Message, Subscriber};
use common::{temp_dir, TempDir, TestServer};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// How long a test waits for something that must happen.
const WAIT: Duration = Duration::from_secs(5);
/// How long a test watches for something that must not happen.
const QUIET: Duration = Duration::from_millis(300);

struct Env {
    _dir: TempDir,
    _server: TestServer,
    nc: Client,
    js: jetstream::Context,
}

/// A server with stream `S` on `s.>` holding `msgs` messages.
async fn env(tag: &str, msgs: usize) -> Env {
    let dir = temp_dir(tag);
    let server = TestServer::start(&["-js", "-sd", dir.to_str().unwrap()]);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(nc.clone());
    js.create_stream(stream::Config {
        name: "S".into(),
        subjects: vec!["s.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let e = Env {
        _dir: dir,
        _server: server,
        nc,
        js,
    };
    publish(&e, msgs).await;
    e
}

async fn publish(e: &Env, n: usize) {
    for i in 0..n {
        e.js.publish(format!("s.{i}"), "x".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

/// An API request and its JSON answer.
async fn api(nc: &Client, subject: &str, body: Value) -> Value {
    let body = match body {
        Value::String(s) => s,
        v => v.to_string(),
    };
    let m = tokio::time::timeout(WAIT, nc.request(subject.to_string(), body.into()))
        .await
        .expect("answered in time")
        .unwrap();
    serde_json::from_slice(&m.payload).unwrap()
}

async fn create(e: &Env, config: Value) -> Value {
    let name = config["durable_name"].as_str().unwrap_or("x").to_string();
    let body = json!({ "stream_name": "S", "config": config });
    api(&e.nc, &format!("$JS.API.CONSUMER.CREATE.S.{name}"), body).await
}

fn err_code(v: &Value) -> i64 {
    v["error"]["err_code"].as_i64().unwrap_or(0)
}

/// Sends a pull request for `consumer`; its messages and statuses arrive on the returned
/// subscription.
async fn pull(e: &Env, consumer: &str, body: Value) -> Subscriber {
    let inbox = e.nc.new_inbox();
    let sub = e.nc.subscribe(inbox.clone()).await.unwrap();
    let subject = format!("$JS.API.CONSUMER.MSG.NEXT.S.{consumer}");
    e.nc.publish_with_reply(subject, inbox, body.to_string().into())
        .await
        .unwrap();
    sub
}

async fn next(sub: &mut Subscriber) -> Message {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("a message in time")
        .expect("subscription open")
}

async fn quiet(sub: &mut Subscriber) {
    if let Ok(m) = tokio::time::timeout(QUIET, sub.next()).await {
        panic!("unexpected message: {m:?}");
    }
}

/// `(code, description)` of a status message; `(0, "")` for a stream message.
fn status(m: &Message) -> (u16, String) {
    (
        m.status.map_or(0, |s| s.as_u16()),
        m.description.clone().unwrap_or_default(),
    )
}

fn header(m: &Message, name: &str) -> Option<String> {
    m.headers
        .as_ref()
        .and_then(|h| h.get_last(name))
        .map(|v| v.to_string())
}

async fn info(e: &Env, consumer: &str) -> Value {
    api(
        &e.nc,
        &format!("$JS.API.CONSUMER.INFO.S.{consumer}"),
        json!(""),
    )
    .await
}

fn pinned(config_name: &str, timeout_ns: i64) -> Value {
    json!({
        "durable_name": config_name,
        "ack_policy": "explicit",
        "priority_policy": "pinned_client",
        "priority_groups": ["A"],
        "priority_timeout": timeout_ns,
    })
}

#[tokio::test]
async fn bad_priority_configs_get_nats_server_errors() {
    let e = env("prio-config", 0).await;
    let cases = [
        (
            json!({"durable_name": "a", "deliver_subject": "d", "priority_policy": "overflow", "priority_groups": ["A"]}),
            10178,
        ),
        (
            json!({"durable_name": "a", "priority_policy": "overflow"}),
            10159,
        ),
        (
            json!({"durable_name": "a", "priority_policy": "overflow", "priority_groups": [""]}),
            10161,
        ),
        (
            json!({"durable_name": "a", "priority_policy": "overflow", "priority_groups": ["a.b"]}),
            10162,
        ),
        (
            json!({"durable_name": "a", "priority_policy": "overflow", "priority_groups": ["abcdefghijklmnopq"]}),
            10162,
        ),
        (
            json!({"durable_name": "a", "priority_groups": ["A"]}),
            10196,
        ),
        (
            json!({"durable_name": "a", "priority_timeout": 1_000_000_000}),
            10197,
        ),
        (
            json!({"durable_name": "a", "priority_policy": "bogus", "priority_groups": ["A"]}),
            10025,
        ),
    ];
    for (config, code) in cases {
        let answer = create(&e, config.clone()).await;
        assert_eq!(err_code(&answer), code, "{config}: {answer}");
    }
    let answer = create(&e, json!({"durable_name": "a", "priority_policy": "bogus"})).await;
    assert_eq!(
        answer["error"]["description"],
        "invalid JSON: unknown priority policy: \"bogus\""
    );

    // A pinned consumer gets the default timeout (also for a negative one) and reports its
    // group, unpinned, with Go's zero time.
    let answer = create(&e, pinned("p", -5)).await;
    assert_eq!(answer["config"]["priority_timeout"], 120_000_000_000i64);
    assert_eq!(
        answer["priority_groups"],
        json!([{"group": "A", "pinned_ts": "0001-01-01T00:00:00Z"}])
    );
    let answer = create(&e, json!({"durable_name": "plain"})).await;
    assert!(answer.get("priority_groups").is_none(), "{answer}");
    assert!(
        answer["config"].get("priority_policy").is_none(),
        "{answer}"
    );
}

#[tokio::test]
async fn pull_requests_with_bad_priority_fields_get_400() {
    let e = env("prio-pull400", 1).await;
    create(&e, json!({"durable_name": "plain"})).await;
    create(&e, pinned("pin", 0)).await;
    let cases = [
        (
            "plain",
            json!({"batch": 1, "min_pending": 5}),
            "Bad Request - Not a Overflow Priority consumer",
        ),
        (
            "plain",
            json!({"batch": 1, "id": "x"}),
            "Bad Request - Not a Pinned Client Priority consumer",
        ),
        (
            "plain",
            json!({"batch": 1, "priority": 10}),
            "Bad Request - Priority must be between 0 and 9",
        ),
        (
            "pin",
            json!({"batch": 1}),
            "Bad Request - Priority Group missing",
        ),
        (
            "pin",
            json!({"batch": 1, "group": "B"}),
            "Bad Request - Invalid Priority Group",
        ),
    ];
    for (consumer, body, want) in cases {
        let mut sub = pull(&e, consumer, body.clone()).await;
        assert_eq!(
            status(&next(&mut sub).await),
            (400, want.to_string()),
            "{body}"
        );
    }
}

#[tokio::test]
async fn overflow_serves_past_min_pending_or_min_ack_pending() {
    let e = env("prio-overflow", 5).await;
    let config = json!({
        "durable_name": "ovf",
        "ack_policy": "explicit",
        "priority_policy": "overflow",
        "priority_groups": ["A"],
    });
    assert_eq!(err_code(&create(&e, config).await), 0);
    let expires = 10_000_000_000i64;
    // 5 pending < 10: waits.
    let mut waiting = pull(
        &e,
        "ovf",
        json!({"batch": 3, "group": "A", "min_pending": 10, "expires": expires}),
    )
    .await;
    quiet(&mut waiting).await;
    // No thresholds: served at once, past the waiting request.
    let mut plain = pull(
        &e,
        "ovf",
        json!({"batch": 2, "group": "A", "expires": expires}),
    )
    .await;
    for seq in 1..=2 {
        let m = next(&mut plain).await;
        assert_eq!(m.subject.as_str(), format!("s.{}", seq - 1));
    }
    // Two acks pending >= 2: served; 100 acks pending is far off.
    let mut far = pull(
        &e,
        "ovf",
        json!({"batch": 1, "group": "A", "min_ack_pending": 100, "expires": expires}),
    )
    .await;
    let mut acks = pull(
        &e,
        "ovf",
        json!({"batch": 1, "group": "A", "min_ack_pending": 2, "expires": expires}),
    )
    .await;
    assert_eq!(next(&mut acks).await.subject.as_str(), "s.2");
    quiet(&mut far).await;
    quiet(&mut waiting).await;
    // Two pending now; eight more make ten: the first request is served, but only while
    // ten are pending (counting the message it gets), so once.
    publish(&e, 8).await;
    assert_eq!(status(&next(&mut waiting).await), (0, String::new()));
    quiet(&mut waiting).await;
    let info = info(&e, "ovf").await;
    assert_eq!(info["num_ack_pending"], 4);
    assert_eq!(info["num_pending"], 9);
    assert_eq!(info["priority_groups"][0]["group"], "A");
}

#[tokio::test]
async fn pinned_client_keeps_the_pin_and_unpin_hands_it_over() {
    let e = env("prio-pinned", 1).await;
    create(&e, pinned("pin", 30_000_000_000)).await;
    let mut advisories =
        e.nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.*.S.pin")
            .await
            .unwrap();
    common::sync(&e.nc).await;
    let expires = 10_000_000_000i64;
    let mut a = pull(
        &e,
        "pin",
        json!({"batch": 10, "group": "A", "expires": expires}),
    )
    .await;
    let first = next(&mut a).await;
    let pin = header(&first, "Nats-Pin-Id").expect("pin id header");
    assert_eq!(pin.len(), 22);
    let pinned_adv = next(&mut advisories).await;
    assert_eq!(
        pinned_adv.subject.as_str(),
        "$JS.EVENT.ADVISORY.CONSUMER.PINNED.S.pin"
    );
    let adv: Value = serde_json::from_slice(&pinned_adv.payload).unwrap();
    assert_eq!(
        adv["type"],
        "io.nats.jetstream.advisory.v1.consumer_group_pinned"
    );
    assert_eq!(
        (adv["group"].as_str(), adv["pinned_id"].as_str()),
        (Some("A"), Some(pin.as_str()))
    );
    let state = &info(&e, "pin").await["priority_groups"][0];
    assert_eq!(state["pinned_client_id"], pin.as_str());
    assert_ne!(state["pinned_ts"], "0001-01-01T00:00:00Z");

    // Another client waits without an id; one with a wrong id is turned away at once.
    let mut b = pull(
        &e,
        "pin",
        json!({"batch": 10, "group": "A", "expires": expires}),
    )
    .await;
    let mut wrong = pull(&e, "pin", json!({"batch": 1, "group": "A", "id": "nope"})).await;
    assert_eq!(
        status(&next(&mut wrong).await),
        (423, "Nats-Pin-Id mismatch".into())
    );
    publish(&e, 1).await;
    let m = next(&mut a).await;
    assert_eq!(header(&m, "Nats-Pin-Id").as_deref(), Some(pin.as_str()));
    quiet(&mut b).await;

    // UNPIN: the holder's waiting request (carrying the old pin) gets 423, B takes over.
    let answer = api(&e.nc, "$JS.API.CONSUMER.UNPIN.S.pin", json!({"group": "A"})).await;
    assert_eq!(
        answer,
        json!({"type": "io.nats.jetstream.api.v1.consumer_unpin_response"})
    );
    let unpinned: Value = serde_json::from_slice(&next(&mut advisories).await.payload).unwrap();
    assert_eq!(
        unpinned["type"],
        "io.nats.jetstream.advisory.v1.consumer_group_unpinned"
    );
    assert_eq!(unpinned["reason"], "admin");
    assert!(info(&e, "pin").await["priority_groups"][0]
        .get("pinned_client_id")
        .is_none());
    publish(&e, 1).await;
    let rejected = next(&mut a).await;
    assert_eq!(status(&rejected), (423, "Nats-Wrong-Pin-Id".into()));
    assert_eq!(
        header(&rejected, "Nats-Pending-Messages").as_deref(),
        Some("8")
    );
    let m = next(&mut b).await;
    let new_pin = header(&m, "Nats-Pin-Id").unwrap();
    assert_ne!(new_pin, pin);
    assert_eq!(
        info(&e, "pin").await["priority_groups"][0]["pinned_client_id"],
        new_pin.as_str()
    );
}

#[tokio::test]
async fn pin_lapses_after_priority_timeout_and_a_standby_takes_it() {
    let e = env("prio-lapse", 1).await;
    let mut advisories =
        e.nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.S.pin")
            .await
            .unwrap();
    common::sync(&e.nc).await;
    create(&e, pinned("pin", 1_000_000_000)).await;
    let mut a = pull(&e, "pin", json!({"batch": 1, "group": "A"})).await;
    let pin = header(&next(&mut a).await, "Nats-Pin-Id").unwrap();
    // A stops pulling; B waits as a standby and gets nothing while the pin holds.
    let mut b = pull(
        &e,
        "pin",
        json!({"batch": 5, "group": "A", "expires": 10_000_000_000i64}),
    )
    .await;
    publish(&e, 1).await;
    quiet(&mut b).await;
    // After the timeout B becomes the pinned client.
    let m = next(&mut b).await;
    let new_pin = header(&m, "Nats-Pin-Id").unwrap();
    assert_ne!(new_pin, pin);
    let adv: Value = serde_json::from_slice(&next(&mut advisories).await.payload).unwrap();
    assert_eq!(adv["reason"], "timeout");
}

#[tokio::test]
async fn prioritized_serves_the_lowest_priority_first() {
    let e = env("prio-prioritized", 0).await;
    let config = json!({
        "durable_name": "pri",
        "priority_policy": "prioritized",
        "priority_groups": ["A"],
    });
    assert_eq!(err_code(&create(&e, config).await), 0);
    let expires = 10_000_000_000i64;
    let mut low = pull(
        &e,
        "pri",
        json!({"batch": 5, "group": "A", "priority": 5, "expires": expires}),
    )
    .await;
    let mut high = pull(
        &e,
        "pri",
        json!({"batch": 5, "group": "A", "priority": 1, "expires": expires}),
    )
    .await;
    common::sync(&e.nc).await;
    publish(&e, 3).await;
    for _ in 0..3 {
        next(&mut high).await;
    }
    quiet(&mut low).await;
    // The high request takes two more and is done; the rest goes to the low one.
    publish(&e, 3).await;
    next(&mut high).await;
    next(&mut high).await;
    assert_eq!(next(&mut low).await.subject.as_str(), "s.2");
}

#[tokio::test]
async fn reset_moves_the_consumer_within_its_deliver_policy() {
    let e = env("prio-reset", 5).await;
    let st = e.js.get_stream("S").await.unwrap();
    let mut c: consumer::PullConsumer = st
        .create_consumer(consumer::pull::Config {
            durable_name: Some("c".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = c.fetch().max_messages(2).messages().await.unwrap();
    while let Some(m) = batch.next().await {
        m.unwrap();
    }
    let resp = c.reset(Some(4)).await.unwrap();
    assert_eq!(resp.reset_seq, 4);
    assert_eq!(resp.info.num_ack_pending, 0);
    assert_eq!(resp.info.delivered.stream_sequence, 3);
    assert_eq!(resp.info.ack_floor.stream_sequence, 3);
    assert_eq!(resp.info.num_pending, 2);
    let mut batch = c.fetch().max_messages(1).messages().await.unwrap();
    let m = batch.next().await.unwrap().unwrap();
    assert_eq!(m.info().unwrap().stream_sequence, 4);
    // Back to just past the ack floor.
    assert_eq!(c.reset(None).await.unwrap().reset_seq, 4);
    assert_eq!(c.info().await.unwrap().num_pending, 2);

    // Not before where the deliver policy starts.
    let by_seq = consumer::pull::Config {
        durable_name: Some("from3".into()),
        deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: 3 },
        ..Default::default()
    };
    st.create_consumer(by_seq).await.unwrap();
    let err = st.reset_consumer("from3", Some(1)).await.unwrap_err();
    assert_eq!(err.kind(), stream::ConsumerResetErrorKind::InvalidReset);
    assert_eq!(
        st.reset_consumer("from3", Some(3)).await.unwrap().reset_seq,
        3
    );
    let last = consumer::pull::Config {
        durable_name: Some("last".into()),
        deliver_policy: consumer::DeliverPolicy::Last,
        ..Default::default()
    };
    st.create_consumer(last).await.unwrap();
    let answer = api(&e.nc, "$JS.API.CONSUMER.RESET.S.last", json!({"seq": 2})).await;
    assert_eq!(answer["error"]["err_code"], 10204);
    assert_eq!(answer["error"]["description"], "invalid reset: not allowed");
    assert_eq!(answer["reset_seq"], 0);
    let answer = api(&e.nc, "$JS.API.CONSUMER.RESET.S.last", json!("junk")).await;
    assert_eq!(err_code(&answer), 10025);
    let answer = api(&e.nc, "$JS.API.CONSUMER.RESET.S.last", json!("")).await;
    assert_eq!(answer["reset_seq"], 5);
    assert_eq!(
        answer["type"],
        "io.nats.jetstream.api.v1.consumer_reset_response"
    );

    // A missing consumer gets no answer at all (not even no-responders).
    let missing =
        e.nc.request("$JS.API.CONSUMER.RESET.S.nope".to_string(), "".into());
    assert!(tokio::time::timeout(QUIET, missing).await.is_err());
}

#[tokio::test]
async fn unpin_checks_its_request_in_nats_server_order() {
    let e = env("prio-unpin", 0).await;
    create(&e, pinned("pin", 0)).await;
    create(&e, json!({"durable_name": "plain"})).await;
    let cases = [
        ("S.pin", json!(""), 10025),
        ("S.pin", json!({}), 10025),
        ("S.pin", json!({"group": "a.b"}), 10162),
        ("X.pin", json!({"group": "A"}), 10059),
        ("S.nope", json!({"group": "A"}), 10014),
        ("S.pin", json!({"group": "B"}), 10160),
        ("S.plain", json!({"group": "A"}), 10160),
    ];
    for (target, body, code) in cases {
        let answer = api(
            &e.nc,
            &format!("$JS.API.CONSUMER.UNPIN.{target}"),
            body.clone(),
        )
        .await;
        assert_eq!(err_code(&answer), code, "{target} {body}: {answer}");
        assert_eq!(
            answer["type"],
            "io.nats.jetstream.api.v1.consumer_unpin_response"
        );
    }
    let answer = api(&e.nc, "$JS.API.CONSUMER.UNPIN.S.pin", json!({})).await;
    assert_eq!(
        answer["error"]["description"],
        "invalid JSON: consumer group not specified"
    );
    // Through the client.
    let st = e.js.get_stream("S").await.unwrap();
    st.unpin_consumer("pin", "A").await.unwrap();
}
