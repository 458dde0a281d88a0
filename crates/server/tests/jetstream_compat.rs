//! JetStream behaviours other official clients depend on, found by running nats.py's suite
//! (compat/nats.py) and checked against nats-server 2.15: how `no_wait` pull requests end,
//! the consumer-create name checks, config checks, `mirror_direct`, the JetStream domain
//! API prefix and the stream info subjects map.

mod common;

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use async_nats::Client;
use common::{temp_dir, TempDir, TestServer};
use futures_util::StreamExt;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(5);

struct Env {
    _dir: TempDir,
    server: TestServer,
    nc: Client,
    js: jetstream::Context,
}

async fn env(tag: &str) -> Env {
    let dir = temp_dir(tag);
    let server = TestServer::start(&["-js", "-sd", dir.to_str().unwrap()]);
    let nc = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(nc.clone());
    Env {
        _dir: dir,
        server,
        nc,
        js,
    }
}

async fn api(nc: &Client, subject: &str, body: Value) -> Value {
    let m = tokio::time::timeout(
        WAIT,
        nc.request(subject.to_string(), body.to_string().into()),
    )
    .await
    .expect("answered in time")
    .unwrap();
    serde_json::from_slice(&m.payload).unwrap()
}

fn err_code(v: &Value) -> (u64, u64, String) {
    let e = &v["error"];
    (
        e["code"].as_u64().unwrap_or(0),
        e["err_code"].as_u64().unwrap_or(0),
        e["description"].as_str().unwrap_or("").to_string(),
    )
}

async fn stream_with(e: &Env, name: &str, n: usize) {
    e.js.create_stream(stream::Config {
        name: name.into(),
        subjects: vec![format!("{}.>", name.to_lowercase())],
        ..Default::default()
    })
    .await
    .unwrap();
    for i in 0..n {
        e.js.publish(format!("{}.{i}", name.to_lowercase()), "x".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

/// Sends one pull request and collects what comes back until a status other than a
/// heartbeat: `"msg"` per message, then the status code. Also returns the time taken.
async fn pull(e: &Env, consumer: &str, body: Value) -> (Vec<String>, Duration) {
    pull_with(e, consumer, body, false).await
}

/// As [`pull`], and with `detail` the final status carries its pending headers:
/// `"408 <Nats-Pending-Messages> <Nats-Pending-Bytes>"`.
async fn pull_with(e: &Env, consumer: &str, body: Value, detail: bool) -> (Vec<String>, Duration) {
    let inbox = e.nc.new_inbox();
    let mut sub = e.nc.subscribe(inbox.clone()).await.unwrap();
    let t0 = Instant::now();
    e.nc.publish_with_reply(
        format!("$JS.API.CONSUMER.MSG.NEXT.S.{consumer}"),
        inbox,
        body.to_string().into(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    loop {
        let m = tokio::time::timeout(WAIT, sub.next())
            .await
            .expect("pull answered in time")
            .unwrap();
        match m.status.map(|s| s.as_u16()) {
            None => out.push("msg".to_string()),
            Some(100) => continue,
            Some(code) => {
                let mut status = code.to_string();
                if detail {
                    let h = m.headers.unwrap_or_default();
                    for key in ["Nats-Pending-Messages", "Nats-Pending-Bytes"] {
                        let v = h.get(key).map_or("-".to_string(), |v| v.to_string());
                        status.push_str(&format!(" {v}"));
                    }
                }
                out.push(status);
                return (out, t0.elapsed());
            }
        }
    }
}

async fn consumer(e: &Env, cfg: Value) {
    let name = cfg["durable_name"].as_str().unwrap().to_string();
    let r = api(
        &e.nc,
        &format!("$JS.API.CONSUMER.CREATE.S.{name}"),
        json!({"stream_name": "S", "config": cfg}),
    )
    .await;
    assert!(r.get("error").is_none(), "{r}");
}

/// A `no_wait` request held back only by max_ack_pending ends with 404 at its next
/// heartbeat, not at its expiry; one with `expires` on an empty stream waits (one-shot)
/// for a message and then ends with 404; without `expires` it ends at once.
#[tokio::test]
async fn no_wait_requests_end_like_nats_server() {
    let e = env("js-nowait").await;
    stream_with(&e, "S", 3).await;
    consumer(
        &e,
        json!({"durable_name": "C", "ack_policy": "explicit", "max_ack_pending": 2}),
    )
    .await;
    let (got, took) = pull(
        &e,
        "C",
        json!({"batch": 5, "no_wait": true, "expires": 3_000_000_000u64, "idle_heartbeat": 100_000_000}),
    )
    .await;
    assert_eq!(got, ["msg", "msg", "404"]);
    assert!(took < Duration::from_secs(2), "ended at expiry: {took:?}");

    consumer(
        &e,
        json!({"durable_name": "D", "ack_policy": "none", "deliver_policy": "new"}),
    )
    .await;
    let (got, _) = pull(&e, "D", json!({"batch": 1, "no_wait": true})).await;
    assert_eq!(got, ["404"]);
    let later = {
        let js = e.js.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            js.publish("s.late", "x".into())
                .await
                .unwrap()
                .await
                .unwrap();
        })
    };
    let (got, took) = pull(
        &e,
        "D",
        json!({"batch": 10, "no_wait": true, "expires": 3_000_000_000u64}),
    )
    .await;
    later.await.unwrap();
    assert_eq!(got, ["msg", "404"]);
    assert!(took < Duration::from_secs(2), "{took:?}");
    drop(e.server);
}

/// Consumer create checks the names in nats-server's order and with its codes.
#[tokio::test]
async fn consumer_create_name_checks() {
    let e = env("js-cnames").await;
    stream_with(&e, "S", 0).await;
    let create = |subject: &'static str, cfg: Value| {
        let nc = e.nc.clone();
        async move { err_code(&api(&nc, subject, json!({"stream_name": "S", "config": cfg})).await) }
    };
    assert_eq!(
        create(
            "$JS.API.CONSUMER.CREATE.S.name1",
            json!({"name": "name1", "durable_name": "name2"})
        )
        .await,
        (
            400,
            10017,
            "consumer name in subject does not match durable name in request".into()
        )
    );
    assert_eq!(
        create("$JS.API.CONSUMER.CREATE.S", json!({"durable_name": "d"}))
            .await
            .1,
        10020
    );
    assert_eq!(
        create("$JS.API.CONSUMER.DURABLE.CREATE.S.d", json!({}))
            .await
            .1,
        10018
    );
    assert_eq!(
        create(
            "$JS.API.CONSUMER.CREATE.S.c.s.x",
            json!({"name": "c", "filter_subject": "s.y"})
        )
        .await
        .1,
        10131
    );
    assert_eq!(
        create(
            "$JS.API.CONSUMER.CREATE.S.f",
            json!({"deliver_subject": "out", "flow_control": true})
        )
        .await,
        (
            400,
            10108,
            "consumer with flow control also needs heartbeats".into()
        )
    );
    // The name in the subject wins over one in the body, as in nats-server.
    let ok = api(
        &e.nc,
        "$JS.API.CONSUMER.CREATE.S.real",
        json!({"stream_name": "S", "config": {"name": "other"}}),
    )
    .await;
    assert_eq!(ok["name"], "real", "{ok}");
}

/// Stream config checks nats-server makes on create.
#[tokio::test]
async fn stream_create_config_checks() {
    let e = env("js-scfg").await;
    let create = |body: Value| {
        let nc = e.nc.clone();
        async move {
            let name = body["name"].as_str().unwrap().to_string();
            err_code(&api(&nc, &format!("$JS.API.STREAM.CREATE.{name}"), body).await)
        }
    };
    assert_eq!(
        create(json!({"name": "M", "mirror_direct": true})).await,
        (
            500,
            10052,
            "stream has no mirror but does have mirror direct".into()
        )
    );
    assert_eq!(
        create(json!({"name": "X", "sealed": true})).await.2,
        "stream configuration for create can not be sealed"
    );
    assert_eq!(
        create(json!({"name": "N", "discard": "new", "discard_new_per_subject": true})).await,
        (
            500,
            10052,
            "discard new per subject requires max msgs per subject > 0".into()
        )
    );
    assert_eq!(
        create(json!({"name": "O", "discard_new_per_subject": true, "max_msgs_per_subject": 1}))
            .await
            .2,
        "discard new per subject requires discard new policy to be set"
    );
}

/// A mirror of a stream with direct get takes `mirror_direct` from it and answers direct
/// gets under the origin's name, so they keep working when the origin is gone.
#[tokio::test]
async fn mirror_direct_answers_for_its_origin() {
    let e = env("js-mdirect").await;
    e.js.create_stream(stream::Config {
        name: "O".into(),
        subjects: vec!["o.>".into()],
        allow_direct: true,
        ..Default::default()
    })
    .await
    .unwrap();
    e.js.publish("o.a", "first".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let m = api(
        &e.nc,
        "$JS.API.STREAM.CREATE.M",
        json!({"name": "M", "mirror": {"name": "O"}}),
    )
    .await;
    assert_eq!(m["config"]["mirror_direct"], true, "{m}");
    let mut mirror = e.js.get_stream("M").await.unwrap();
    for _ in 0..100 {
        if mirror.info().await.unwrap().state.messages == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    e.js.delete_stream("O").await.unwrap();
    let got = tokio::time::timeout(WAIT, e.nc.request("$JS.API.DIRECT.GET.O.o.a", "".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got.payload[..], b"first");
    let h = got.headers.unwrap();
    assert_eq!(h.get("Nats-Stream").unwrap().as_str(), "M");
}

/// With `jetstream { domain: hub }` the API answers on `$JS.hub.API.…` too.
#[tokio::test]
async fn domain_prefixed_api() {
    let dir = temp_dir("js-domain");
    let conf = format!(
        "jetstream {{ store_dir: \"{}\", domain: hub }}\nport: -1",
        dir.display()
    );
    let s = TestServer::with_config(&conf, &[]);
    let nc = async_nats::connect(s.url()).await.unwrap();
    let info = api(&nc, "$JS.hub.API.INFO", json!({})).await;
    assert_eq!(info["domain"], "hub", "{info}");
    let js = jetstream::with_domain(nc.clone(), "hub");
    js.create_stream(stream::Config {
        name: "S".into(),
        subjects: vec!["s".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    js.publish("s", "x".into()).await.unwrap().await.unwrap();
    let si = api(&nc, "$JS.hub.API.STREAM.INFO.S", json!({})).await;
    assert_eq!(si["state"]["messages"], 1, "{si}");
}

/// Stream info leaves `subjects` out when the filter matches nothing.
#[tokio::test]
async fn stream_info_subjects_filter() {
    let e = env("js-sfilter").await;
    stream_with(&e, "S", 2).await;
    let all = api(
        &e.nc,
        "$JS.API.STREAM.INFO.S",
        json!({"subjects_filter": ">"}),
    )
    .await;
    assert_eq!(all["state"]["subjects"], json!({"s.0": 1, "s.1": 1}));
    let none = api(
        &e.nc,
        "$JS.API.STREAM.INFO.S",
        json!({"subjects_filter": "zzz"}),
    )
    .await;
    assert!(none["state"].get("subjects").is_none(), "{none}");
}

/// Push flow control: delivery stops once the window (2 MiB at first) is unconfirmed,
/// a `100 FlowControl Request` asks for confirmation, and answering it lets the rest come.
#[tokio::test]
async fn push_flow_control_holds_and_resumes() {
    let e = env("js-fc").await;
    stream_with(&e, "S", 0).await;
    let n = 3_000usize;
    let mut acks = Vec::with_capacity(n);
    for i in 0..n {
        acks.push(
            e.js.publish(format!("s.{i}"), vec![b'x'; 1024].into())
                .await
                .unwrap(),
        );
    }
    for a in acks {
        a.await.unwrap();
    }
    let mut sub = e.nc.subscribe("fc.out").await.unwrap();
    let r = api(
        &e.nc,
        "$JS.API.CONSUMER.CREATE.S.F",
        json!({"stream_name": "S", "config": {"name": "F", "deliver_subject": "fc.out",
            "flow_control": true, "idle_heartbeat": 5_000_000_000u64, "ack_policy": "none"}}),
    )
    .await;
    assert!(r.get("error").is_none(), "{r}");
    let (mut data, mut requests) = (0usize, Vec::new());
    // Without answers, delivery stops short of the stream.
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(700), sub.next()).await {
        match m.status.map(|s| s.as_u16()) {
            None => data += 1,
            Some(100) if m.reply.is_some() => requests.push(m.reply.unwrap().to_string()),
            _ => {}
        }
    }
    assert!(!requests.is_empty(), "no flow control request");
    assert!(data < n, "flow control did not hold delivery: {data}");
    assert!(requests[0].starts_with("$JS.FC.S.F."), "{requests:?}");
    // Answering the latest request lets the rest through (answering each new one).
    let mut last = requests.pop().unwrap();
    e.nc.publish(last.clone(), "".into()).await.unwrap();
    while data < n {
        let m = tokio::time::timeout(WAIT, sub.next())
            .await
            .expect("delivery resumed")
            .unwrap();
        match (m.status.map(|s| s.as_u16()), m.reply) {
            (None, _) => data += 1,
            (Some(100), Some(reply)) if reply.as_str() != last => {
                last = reply.to_string();
                e.nc.publish(last.clone(), "".into()).await.unwrap();
            }
            _ => {}
        }
    }
    assert_eq!(data, n);
}

/// `replay_policy: original` spaces the stored messages as they were published, then
/// delivers new ones at once; `rate_limit_bps` paces a push consumer (and a pull consumer
/// may not ask for it).
#[tokio::test]
async fn replay_original_and_rate_limit_pace_deliveries() {
    let e = env("js-pace").await;
    stream_with(&e, "S", 0).await;
    for i in 0..3 {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        e.js.publish(format!("s.{i}"), "x".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let mut sub = e.nc.subscribe("rp.out").await.unwrap();
    let r = api(
        &e.nc,
        "$JS.API.CONSUMER.CREATE.S.R",
        json!({"stream_name": "S", "config": {"name": "R", "deliver_subject": "rp.out",
            "replay_policy": "original", "ack_policy": "none"}}),
    )
    .await;
    assert!(r.get("error").is_none(), "{r}");
    let mut times = Vec::new();
    for _ in 0..3 {
        tokio::time::timeout(WAIT, sub.next())
            .await
            .unwrap()
            .unwrap();
        times.push(Instant::now());
    }
    for w in times.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= Duration::from_millis(300),
            "replayed too fast: {gap:?}"
        );
    }
    // Caught up: a new message is not held back.
    let t0 = Instant::now();
    e.js.publish("s.new", "x".into())
        .await
        .unwrap()
        .await
        .unwrap();
    tokio::time::timeout(WAIT, sub.next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        t0.elapsed() < Duration::from_millis(300),
        "{:?}",
        t0.elapsed()
    );

    // 50 KB/s with a 2 KB burst (the stream's max_msg_size): 50 x 1 KiB take about a second.
    e.js.create_stream(stream::Config {
        name: "L".into(),
        subjects: vec!["l.>".into()],
        max_message_size: 2048,
        ..Default::default()
    })
    .await
    .unwrap();
    for i in 0..50 {
        e.js.publish(format!("l.{i}"), vec![b'x'; 1024].into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let mut sub = e.nc.subscribe("rl.out").await.unwrap();
    let t0 = Instant::now();
    let r = api(
        &e.nc,
        "$JS.API.CONSUMER.CREATE.L.RL",
        json!({"stream_name": "L", "config": {"name": "RL", "deliver_subject": "rl.out",
            "rate_limit_bps": 400_000, "ack_policy": "none"}}),
    )
    .await;
    assert!(r.get("error").is_none(), "{r}");
    for _ in 0..50 {
        tokio::time::timeout(WAIT, sub.next())
            .await
            .unwrap()
            .unwrap();
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(700),
        "not paced: {:?}",
        t0.elapsed()
    );
    let pull = api(
        &e.nc,
        "$JS.API.CONSUMER.CREATE.L.P",
        json!({"stream_name": "L", "config": {"name": "P", "rate_limit_bps": 1000}}),
    )
    .await;
    assert_eq!(err_code(&pull).1, 10086, "{pull}");
}

/// Found by nats.js: the stream's consumer limits fill in a durable's defaults too,
/// pedantic mode refuses instead, and a replicated consumer is refused on one server.
#[tokio::test]
async fn consumer_limits_pedantic_and_replicas() {
    let e = env("js-compat-climits").await;
    let v = api(
        &e.nc,
        "$JS.API.STREAM.CREATE.map",
        json!({"name": "map", "subjects": ["foo"], "storage": "memory",
               "consumer_limits": {"max_ack_pending": 20, "inactive_threshold": 60_000_000_000i64}}),
    )
    .await;
    assert!(v.get("error").is_none(), "{v}");
    let v = api(
        &e.nc,
        "$JS.API.CONSUMER.DURABLE.CREATE.map.d",
        json!({"stream_name": "map", "config": {"durable_name": "d", "ack_policy": "explicit"}}),
    )
    .await;
    assert_eq!(v["config"]["max_ack_pending"], 20, "{v}");
    assert_eq!(v["config"]["inactive_threshold"], 60_000_000_000i64, "{v}");
    // Also for a consumer that takes no acks.
    let v = api(
        &e.nc,
        "$JS.API.CONSUMER.DURABLE.CREATE.map.n",
        json!({"stream_name": "map", "config": {"durable_name": "n"}}),
    )
    .await;
    assert_eq!(v["config"]["max_ack_pending"], 20, "{v}");
    let v = api(
        &e.nc,
        "$JS.API.CONSUMER.CREATE.map.p",
        json!({"stream_name": "map", "config": {"name": "p", "ack_policy": "explicit"}, "pedantic": true}),
    )
    .await;
    assert_eq!(
        err_code(&v),
        (
            400,
            10157,
            "pedantic mode: max_ack_pending must be set if it's configured in stream limits".into()
        )
    );
    let v = api(
        &e.nc,
        "$JS.API.CONSUMER.CREATE.map.r",
        json!({"stream_name": "map", "config": {"name": "r", "ack_policy": "explicit", "num_replicas": 3}}),
    )
    .await;
    assert_eq!(
        err_code(&v),
        (
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode".into()
        )
    );
    drop(e.server);
}

/// Found by nats.js: a pull request's end tells how much of it is left
/// (`Nats-Pending-Messages` counts what was delivered), and a batch filled with bytes to
/// spare ends with `409 Batch Completed`.
#[tokio::test]
async fn pull_request_ends_report_what_is_left() {
    let e = env("js-compat-pull-left").await;
    stream_with(&e, "S", 3).await;
    consumer(&e, json!({"durable_name": "C", "ack_policy": "none"})).await;
    let (got, _) = pull_with(&e, "C", json!({"batch": 5, "expires": 300_000_000}), true).await;
    assert_eq!(got, ["msg", "msg", "msg", "408 2 0"]);

    consumer(&e, json!({"durable_name": "B", "ack_policy": "none"})).await;
    let body = json!({"batch": 2, "max_bytes": 10_000, "expires": 300_000_000});
    let (got, _) = pull_with(&e, "B", body, true).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(&got[..2], ["msg", "msg"]);
    let status: Vec<&str> = got[2].split(' ').collect();
    assert_eq!(&status[..2], ["409", "0"], "{got:?}");
    let left: i64 = status[2].parse().unwrap();
    assert!(left > 0 && left < 10_000, "{got:?}");

    // A message larger than what is left of the byte budget ends the request.
    consumer(&e, json!({"durable_name": "M", "ack_policy": "none"})).await;
    let body = json!({"batch": 5, "max_bytes": 10, "expires": 300_000_000});
    let (got, _) = pull_with(&e, "M", body, true).await;
    assert_eq!(got, ["409 5 10"]);
    drop(e.server);
}

/// Found by nats.js: a consumer that takes no acks has nobody on its ack subjects, so an
/// ack sent as a request gets no-responders; an acking consumer's ack is answered.
#[tokio::test]
async fn acks_to_a_consumer_without_acks_reach_nobody() {
    let e = env("js-compat-ack-none").await;
    stream_with(&e, "S", 2).await;
    let mut replies = Vec::new();
    for (name, policy) in [("N", "none"), ("X", "explicit")] {
        consumer(&e, json!({"durable_name": name, "ack_policy": policy})).await;
        // Pulled messages keep their own subject: a muxed request cannot take them.
        let inbox = e.nc.new_inbox();
        let mut sub = e.nc.subscribe(inbox.clone()).await.unwrap();
        e.nc.publish_with_reply(
            format!("$JS.API.CONSUMER.MSG.NEXT.S.{name}"),
            inbox,
            json!({"batch": 1}).to_string().into(),
        )
        .await
        .unwrap();
        let m = tokio::time::timeout(WAIT, sub.next())
            .await
            .expect("a message")
            .unwrap();
        replies.push(m.reply.expect("an ack subject").to_string());
    }
    let none = e.nc.request(replies[0].clone(), "".into()).await;
    assert!(
        matches!(&none, Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders),
        "{none:?}"
    );
    let acked = e.nc.request(replies[1].clone(), "".into()).await;
    assert!(acked.is_ok(), "{acked:?}");
    drop(e.server);
}

/// Found by nats.js: stream and consumer configs in responses carry the versioning
/// metadata (`_nats.ver`, `_nats.level`, `_nats.req.level`), and a config read back with
/// them can be sent again unchanged.
#[tokio::test]
async fn versioning_metadata_in_configs() {
    let e = env("js-compat-versioning").await;
    let created = api(
        &e.nc,
        "$JS.API.STREAM.CREATE.A",
        json!({"name": "A", "subjects": ["a"], "persist_mode": "async", "metadata": {"k": "v"}}),
    )
    .await;
    let md = &created["config"]["metadata"];
    assert_eq!(md["_nats.req.level"], "2", "{created}");
    assert_eq!(md["k"], "v", "{created}");
    assert!(
        md["_nats.ver"].as_str().unwrap().starts_with("2."),
        "{created}"
    );
    assert!(md["_nats.level"].as_str().unwrap().parse::<u32>().unwrap() >= 2);
    let plain = api(
        &e.nc,
        "$JS.API.STREAM.CREATE.B",
        json!({"name": "B", "subjects": ["b"]}),
    )
    .await;
    assert_eq!(
        plain["config"]["metadata"]["_nats.req.level"], "0",
        "{plain}"
    );
    // The config as read back, sent again: the same stream, no error.
    let again = api(&e.nc, "$JS.API.STREAM.CREATE.A", created["config"].clone()).await;
    assert!(again.get("error").is_none(), "{again}");
    let c = api(
        &e.nc,
        "$JS.API.CONSUMER.CREATE.B.C",
        json!({"stream_name": "B", "config": {"name": "C", "ack_policy": "explicit",
               "priority_groups": ["g"], "priority_policy": "pinned_client"}}),
    )
    .await;
    assert_eq!(c["config"]["metadata"]["_nats.req.level"], "1", "{c}");
    let again = api(
        &e.nc,
        "$JS.API.CONSUMER.CREATE.B.C",
        json!({"stream_name": "B", "config": c["config"].clone()}),
    )
    .await;
    assert!(again.get("error").is_none(), "{again}");
    drop(e.server);
}
