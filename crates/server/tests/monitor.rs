//! HTTP monitoring against the real binary: every endpoint's top-level JSON keys compared
//! with what nats-server v2.15 returns for the same setup (fixtures recorded from the real
//! server), counters that move when clients publish, the closed-connections ring, headers,
//! `http_base_path`, and `/metrics` read by a real Prometheus text parser.
//!
//! Deliberate differences from nats-server are listed where a key set is compared; each
//! one is a feature Natrium does not have yet (system account, JetStream feature flags, a
//! git commit in the build), never a renamed or reshaped key.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;

use common::http::{get, json};
use common::{run_bin, temp_dir, Raw, TestServer};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/nats-server-2.15/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

/// Asserts that `ours` has the fixture's keys, except `absent` (keys nats-server has that
/// Natrium deliberately leaves out), and nothing else.
fn check_keys(what: &str, ours: &Value, theirs: &Value, absent: &[&str]) {
    let mut want = keys(theirs);
    for k in absent {
        assert!(want.remove(*k), "{what}: {k} is not in the fixture");
    }
    assert_eq!(keys(ours), want, "{what}: key sets differ");
}

fn monitored() -> (TestServer, u16) {
    let s = TestServer::start(&["-m", "-1"]);
    let port = s.monitor_port.expect("monitor port in the log");
    (s, port)
}

async fn client(s: &TestServer, name: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .name(name)
        .connect(s.url())
        .await
        .unwrap()
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} not a number in {v}"))
}

/// Polls `path` until `pred` holds (monitoring reads state other tasks update).
async fn wait_json(port: u16, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let v = json(port, path).await;
        if pred(&v) || Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn monitor_starts_before_client_listener_and_is_in_ports_file() {
    let dir = temp_dir("monports");
    let s = TestServer::start(&["-m", "-1", "--ports_file_dir", dir.to_str().unwrap()]);
    let port = s.monitor_port.unwrap();
    let log = s.log_text();
    let monitor = log.find("Starting http monitor on 0.0.0.0:").unwrap();
    let listening = log.find("Listening for client connections on").unwrap();
    assert!(monitor < listening, "{log}");
    let ports = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "ports"))
        .expect("ports file");
    let text = std::fs::read_to_string(ports).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["monitoring"][0],
        format!("http://127.0.0.1:{port}"),
        "{text}"
    );
    assert!(
        text.starts_with("{\"nats\":"),
        "nats-server's key order: {text}"
    );
    drop(s);
    std::fs::remove_dir_all(dir).ok();
}

/// A `leafnodes` listener is opened and reported (varz `leaf`), the websocket one joins the
/// ports file, and a leafnode that connects is told the protocol is not supported.
#[tokio::test]
async fn leafnode_listener_reports_and_refuses() {
    let dir = temp_dir("leafports");
    let conf = format!(
        "http: \"127.0.0.1:-1\"\nleafnodes {{ listen: \"127.0.0.1:-1\" }}\nwebsocket {{ port: -1, no_tls: true }}\nports_file_dir: \"{}\"\n",
        dir.display()
    );
    let s = TestServer::with_config(&conf, &[]);
    let port = s.monitor_port.unwrap();
    let v = json(port, "/varz").await;
    let leaf_port = v["leaf"]["port"].as_u64().expect("leaf port") as u16;
    assert_eq!(v["leaf"]["host"], "127.0.0.1", "{v}");
    assert_ne!(leaf_port, 0);
    let ws_port = v["websocket"]["port"].as_u64().unwrap();
    assert!(s.log_text().contains(&format!(
        "Listening for leafnode connections on 127.0.0.1:{leaf_port}"
    )));
    let ports = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "ports"))
        .expect("ports file");
    let p: Value = serde_json::from_str(&std::fs::read_to_string(ports).unwrap()).unwrap();
    assert_eq!(
        p["websocket"][0],
        format!("ws://127.0.0.1:{ws_port}"),
        "{p}"
    );

    use tokio::io::AsyncReadExt;
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", leaf_port))
        .await
        .unwrap();
    let mut got = String::new();
    tokio::time::timeout(Duration::from_secs(5), c.read_to_string(&mut got))
        .await
        .expect("closed")
        .unwrap();
    assert_eq!(
        got,
        "-ERR 'Leafnode connections are not supported by natrium-server yet'\r\n"
    );
    let z = json(port, "/leafz").await;
    assert_eq!(z["leafnodes"], 0);
    drop(s);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn varz_keys_match_and_counters_move() {
    let (s, port) = monitored();
    let before = json(port, "/varz").await;
    // Not in Natrium yet: the system account ($SYS), JetStream's feature flags, and a git
    // commit in the build (nats-server omits git_commit too when it has none).
    check_keys(
        "varz",
        &before,
        &fixture("varz_nojs"),
        &["git_commit", "feature_flags", "system_account"],
    );
    for nested in [
        "slow_consumer_stats",
        "stale_connection_stats",
        "disk_io_wait_stats",
    ] {
        check_keys(nested, &before[nested], &fixture("varz_nojs")[nested], &[]);
    }
    assert_eq!(before["ping_interval"], 120_000_000_000u64);
    assert_eq!(before["write_deadline"], 10_000_000_000u64);
    assert_eq!(before["max_payload"], 1_048_576);
    assert_eq!(before["auth_timeout"], 2);
    assert_eq!(before["http_port"], -1);
    assert_eq!(before["port"], s.port);
    assert!(u(&before, "mem") > 0);
    assert!(u(&before, "cores") > 0);

    let nc = client(&s, "varz-client").await;
    let mut sub = nc.subscribe("varz.test").await.unwrap();
    nc.flush().await.unwrap();
    const N: u64 = 25;
    for _ in 0..N {
        nc.publish("varz.test", "hello".into()).await.unwrap();
    }
    nc.flush().await.unwrap();
    for _ in 0..N {
        tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
            .unwrap();
    }
    let after = wait_json(port, "/varz", |v| {
        u(v, "in_msgs") == u(&before, "in_msgs") + N
    })
    .await;
    assert_eq!(u(&after, "in_msgs") - u(&before, "in_msgs"), N);
    assert_eq!(u(&after, "out_msgs") - u(&before, "out_msgs"), N);
    assert_eq!(u(&after, "in_bytes") - u(&before, "in_bytes"), 5 * N);
    assert_eq!(u(&after, "in_client_msgs"), u(&after, "in_msgs"));
    assert_eq!(u(&after, "connections"), 1);
    assert_eq!(u(&after, "total_connections"), 1);
    // The system account's own request subscriptions are counted too, as in nats-server.
    assert_eq!(u(&after, "subscriptions"), u(&before, "subscriptions") + 1);
    assert_eq!(after["http_req_stats"]["/varz"], 2);
    assert!(after["now"].as_str().unwrap() > before["now"].as_str().unwrap());
}

#[tokio::test]
async fn connz_shows_the_client_its_name_and_subscriptions() {
    let (s, port) = monitored();
    let nc = client(&s, "connz-client").await;
    let _a = nc.subscribe("foo").await.unwrap();
    let _b = nc.queue_subscribe("bar", "q".into()).await.unwrap();
    nc.publish("foo", "xy".into()).await.unwrap();
    nc.flush().await.unwrap();

    let plain = wait_json(port, "/connz", |v| {
        v["connections"][0]["subscriptions"] == 2
    })
    .await;
    check_keys("connz", &plain, &fixture("connz"), &[]);
    let v = wait_json(port, "/connz?subs=1", |v| {
        v["connections"][0]["out_msgs"] == 1 && v["connections"][0]["in_msgs"] == 1
    })
    .await;
    check_keys("connz?subs=1", &v, &fixture("connz_subs"), &[]);
    assert_eq!(v["num_connections"], 1);
    assert_eq!(v["total"], 1);
    let c = &v["connections"][0];
    check_keys(
        "connz?subs=1 connection",
        c,
        &fixture("connz_subs")["connections"][0],
        &[],
    );
    assert_eq!(c["kind"], "Client");
    assert_eq!(c["type"], "nats");
    assert_eq!(c["name"], "connz-client");
    assert_eq!(c["lang"], "rust");
    assert_eq!(c["subscriptions"], 2);
    assert_eq!(c["in_msgs"], 1);
    assert_eq!(c["in_bytes"], 2);
    assert_eq!(c["subscriptions_list"], serde_json::json!(["foo", "bar"]));

    let d = json(port, "/connz?subs=detail").await;
    let detail = &d["connections"][0]["subscriptions_list_detail"];
    assert_eq!(detail[0]["subject"], "foo");
    assert_eq!(detail[0]["msgs"], 1);
    assert_eq!(detail[1]["qgroup"], "q");
    let cid = u(c, "cid");
    let one = json(port, &format!("/connz?cid={cid}")).await;
    assert_eq!(one["limit"], 1);
    assert_eq!(one["connections"][0]["cid"], cid);

    // A measured round trip appears once the client answered the server's PING.
    let rtt = wait_json(port, "/connz", |v| v["connections"][0]["rtt"] != "0s").await;
    assert_ne!(rtt["connections"][0]["rtt"], "0s");

    let bad = get(port, "/connz?sort=bogus").await;
    assert_eq!(
        (bad.status, bad.body.as_str()),
        (400, "invalid sorting option: bogus")
    );
    let bad = get(port, "/connz?state=bogus").await;
    assert_eq!(
        (bad.status, bad.body.as_str()),
        (400, "Error decoding state for bogus")
    );
    let bad = get(port, "/connz?sort=stop").await;
    assert_eq!(bad.body, "sort by stop only valid on closed connections");
    let none = json(port, "/connz?acc=nope").await;
    assert!(
        none["connections"].is_null(),
        "nats-server answers null for unknown accounts"
    );
}

#[tokio::test]
async fn connz_closed_keeps_closed_connections_with_their_reason() {
    let (s, port) = monitored();
    let keep = client(&s, "stays").await;
    // A raw client, so it closes with its subscription still in place.
    let (mut gone, _) = Raw::connect(&s.addr()).await;
    let connect = r#"CONNECT {"verbose":false,"name":"leaves","lang":"raw","version":"1.0"}"#;
    gone.send(&format!("{connect}\r\nSUB closed.sub 1\r\nPING\r\n"))
        .await;
    gone.expect("PONG").await;
    drop(gone);
    let v = wait_json(port, "/connz?state=closed&subs=1", |v| v["total"] == 1).await;
    check_keys("connz closed", &v, &fixture("connz_closed_nojs"), &[]);
    let c = &v["connections"][0];
    // Our closed client had a name, a lang, a version and a subscription list; the
    // fixture's raw-socket client had none of them.
    let mut want = keys(&fixture("connz_closed_nojs")["connections"][0]);
    want.extend(["name", "lang", "version", "subscriptions_list"].map(String::from));
    assert_eq!(keys(c), want);
    assert_eq!(c["reason"], "Client Closed");
    assert_eq!(c["name"], "leaves");
    assert_eq!(c["subscriptions_list"], serde_json::json!(["closed.sub"]));
    assert!(c["stop"].as_str().unwrap() >= c["start"].as_str().unwrap());

    let all = json(port, "/connz?state=all").await;
    assert_eq!(all["total"], 2);
    let by_stop = json(port, "/connz?state=closed&sort=stop").await;
    assert_eq!(by_stop["num_connections"], 1);
    drop(keep);
}

#[tokio::test]
async fn subsz_reports_index_stats_and_lists() {
    let (s, port) = monitored();
    let v = json(port, "/subsz").await;
    check_keys("subsz", &v, &fixture("subsz"), &[]);
    // `$G` starts with the system requests it imports (as in nats-server).
    let base = u(&json(port, "/subsz?acc=%24G").await, "num_subscriptions");
    let nc = client(&s, "subsz-client").await;
    let _a = nc.subscribe("foo.*").await.unwrap();
    let _b = nc.queue_subscribe("bar", "q".into()).await.unwrap();
    nc.publish("foo.x", "1".into()).await.unwrap();
    nc.flush().await.unwrap();
    // `$G` only: the system account has subscriptions of its own.
    let v = wait_json(port, "/subsz?subs=1&acc=%24G", |v| {
        v["num_subscriptions"] == base + 2 && v["num_matches"] != 0
    })
    .await;
    check_keys("subsz?subs=1", &v, &fixture("subsz_subs"), &[]);
    assert_eq!(u(&v, "num_subscriptions"), base + 2, "{v}");
    assert_eq!(u(&v, "num_inserts"), base + 2);
    assert!(u(&v, "num_matches") >= 1);
    assert_eq!(u(&v, "total"), base + 2);
    let list = v["subscriptions_list"].as_array().unwrap();
    let queue = list.iter().find(|s| s["subject"] == "bar").unwrap();
    let theirs = fixture("subsz_subs");
    let their_queue = theirs["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s.get("qgroup").is_some())
        .unwrap();
    check_keys("sub detail", queue, their_queue, &[]);
    assert_eq!(queue["account"], "$G");
    assert_eq!(queue["qgroup"], "q");
    let tested = json(port, "/subsz?subs=1&test=foo.x&acc=%24G").await;
    assert_eq!(tested["total"], 1);
    assert_eq!(tested["subscriptions_list"][0]["subject"], "foo.*");
    assert_eq!(tested["subscriptions_list"][0]["msgs"], 1);
    let bad = get(port, "/subsz?test=foo.*").await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body,
        "invalid test subject, must be valid publish subject: foo.*"
    );
}

#[tokio::test]
async fn healthz_answers_like_nats_server_without_jetstream() {
    let (_s, port) = monitored();
    for path in [
        "/healthz",
        "/healthz?js-enabled-only=true",
        "/healthz?js-server-only=true",
    ] {
        let r = get(port, path).await;
        assert_eq!(r.status, 200, "{path}");
        let want = serde_json::to_string(&fixture("healthz_nojs")).unwrap();
        assert_eq!(
            r.body, want,
            "{path}: compact JSON, as nats-server writes it"
        );
    }
    let r = get(port, "/healthz?stream=x").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        serde_json::json!({"status": "error", "error": "\"account\" must not be empty when checking stream health"})
    );
}

#[tokio::test]
async fn healthz_is_ok_with_jetstream_running() {
    let dir = temp_dir("monjs");
    let s = TestServer::start(&["-m", "-1", "-js", "-sd", dir.to_str().unwrap()]);
    let port = s.monitor_port.unwrap();
    for path in ["/healthz", "/healthz?js-enabled-only=true"] {
        let r = get(port, path).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "{\"status\":\"ok\"}"),
            "{path}"
        );
    }
    drop(s);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn jsz_without_jetstream_matches_nats_server() {
    let (_s, port) = monitored();
    let v = json(port, "/jsz").await;
    let want = fixture("jsz_nojs");
    check_keys("jsz", &v, &want, &[]);
    check_keys("jsz.api", &v["api"], &want["api"], &[]);
    check_keys("jsz.config", &v["config"], &want["config"], &[]);
    assert_eq!(v["disabled"], true);
    let mut a = v.clone();
    let mut b = want.clone();
    for x in [&mut a, &mut b] {
        x.as_object_mut().unwrap().remove("server_id");
        x.as_object_mut().unwrap().remove("now");
    }
    assert_eq!(a, b, "every value but server_id and now is nats-server's");
    let leader = get(port, "/jsz?leader-only=true").await;
    assert_eq!(
        (leader.status, leader.body.as_str()),
        (400, "filtered response: not leader")
    );
}

#[tokio::test]
async fn routez_gatewayz_leafz_are_empty_but_well_formed() {
    let (s, port) = monitored();
    let r = json(port, "/routez").await;
    check_keys("routez", &r, &fixture("routez"), &[]);
    assert_eq!(r["routes"], serde_json::json!([]));
    assert_eq!(r["server_name"], r["server_id"]);
    let g = json(port, "/gatewayz").await;
    check_keys("gatewayz", &g, &fixture("gatewayz"), &[]);
    assert_eq!(g["outbound_gateways"], serde_json::json!({}));
    let l = json(port, "/leafz").await;
    check_keys("leafz", &l, &fixture("leafz"), &[]);
    assert_eq!(l["leafs"], serde_json::json!([]));
    let bad = get(port, "/leafz?subs=x").await;
    assert_eq!(bad.status, 400);
    drop(s);
}

#[tokio::test]
async fn accountz_and_accstatz_describe_the_global_account() {
    let (s, port) = monitored();
    let base = u(&json(port, "/subsz?acc=%24G").await, "num_subscriptions");
    let nc = client(&s, "acc-client").await;
    let _sub = nc.subscribe("acc.x").await.unwrap();
    nc.flush().await.unwrap();
    wait_json(port, "/subsz?acc=%24G", |v| {
        u(v, "num_subscriptions") == base + 1
    })
    .await;
    let list = json(port, "/accountz").await;
    check_keys("accountz", &list, &fixture("accountz"), &[]);
    assert_eq!(list["accounts"], serde_json::json!(["$G", "$SYS"]));
    assert_eq!(list["system_account"], "$SYS");
    let g = json(port, "/accountz?acc=%24G").await;
    check_keys("accountz?acc=$G", &g, &fixture("accountz_G"), &[]);
    let d = &g["account_detail"];
    // The fixture's imports are the system account's service imports.
    check_keys(
        "account_detail",
        d,
        &fixture("accountz_G")["account_detail"],
        &["imports"],
    );
    assert_eq!(d["client_connections"], 1);
    assert_eq!(u(d, "subscriptions"), base + 1);
    let bad = get(port, "/accountz?acc=nope").await;
    assert_eq!(
        (bad.status, bad.body.as_str()),
        (400, "Account nope does not exist")
    );

    let stz = json(port, "/accstatz").await;
    assert_eq!(
        keys(&stz),
        ["account_statz", "now", "server_id"]
            .map(String::from)
            .into()
    );
    let acc = &stz["account_statz"][0];
    assert_eq!(acc["acc"], "$G");
    assert_eq!(acc["conns"], 1);
    assert_eq!(u(acc, "num_subscriptions"), base + 1);
    assert!(acc["sent"]["routes"].is_object());
}

#[tokio::test]
async fn headers_index_and_unknown_paths() {
    let (_s, port) = monitored();
    let r = get(port, "/varz").await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(
        !r.body.ends_with('\n'),
        "no trailing newline, as json.MarshalIndent"
    );
    assert!(
        r.body.starts_with("{\n  \"server_id\": \"N"),
        "two-space indent"
    );
    let r = get(port, "/nope").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body, "404 page not found\n");
    let r = get(port, "/").await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    for e in [
        "varz", "connz", "subsz", "routez", "gatewayz", "leafz", "jsz", "healthz",
    ] {
        assert!(r.body.contains(&format!("href=./{e}>")), "index links /{e}");
    }
    let alias = json(port, "/subscriptionsz").await;
    assert!(alias["num_subscriptions"].is_number());
}

#[tokio::test]
async fn http_base_path_prefixes_every_endpoint() {
    let s = TestServer::with_config("http_port: -1\nhttp_base_path: \"/nats\"\n", &[]);
    let port = s.monitor_port.unwrap();
    assert_eq!(get(port, "/nats/varz").await.status, 200);
    assert_eq!(get(port, "/nats").await.status, 200);
    assert_eq!(get(port, "/varz").await.status, 404);
    assert_eq!(json(port, "/nats/varz").await["http_base_path"], "/nats");
}

#[test]
fn https_monitoring_needs_tls_and_excludes_http() {
    let dir = temp_dir("https");
    std::fs::write(dir.join("s.conf"), "https_port: 18443\n").unwrap();
    let (code, _, err) = run_bin(&["-c", "s.conf", "-p", "-1"], &dir);
    assert_ne!(code, 0);
    assert!(err.contains("TLS cert and key required for HTTPS"), "{err}");
    let (code, _, err) = run_bin(&["-c", "s.conf", "-p", "-1", "-m", "8222"], &dir);
    assert_ne!(code, 0);
    assert!(
        err.contains("can't specify both HTTP (8222) and HTTPs (18443) ports"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_with_exporter_names() {
    let (s, port) = monitored();
    let nc = client(&s, "metrics-client").await;
    let mut sub = nc.subscribe("m.x").await.unwrap();
    for _ in 0..7 {
        nc.publish("m.x", "abc".into()).await.unwrap();
    }
    nc.flush().await.unwrap();
    for _ in 0..7 {
        sub.next().await.unwrap();
    }
    let varz = wait_json(port, "/varz", |v| v["in_msgs"] == 7).await;
    let r = get(port, "/metrics").await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let lines = r.body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition text");
    let value = |name: &str| -> f64 {
        let sample = scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{}", r.body));
        assert_eq!(
            sample.labels.get("server_id"),
            varz["server_id"].as_str(),
            "{name} is labelled with the server id"
        );
        match sample.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{name}: unexpected type"),
        }
    };
    assert_eq!(value("gnatsd_varz_in_msgs"), 7.0);
    assert_eq!(value("gnatsd_varz_out_msgs"), 7.0);
    assert_eq!(value("gnatsd_varz_in_bytes"), 21.0);
    assert_eq!(value("gnatsd_varz_connections"), 1.0);
    let subs = u(&varz, "subscriptions") as f64;
    assert_eq!(value("gnatsd_varz_subscriptions"), subs);
    assert!(value("gnatsd_varz_mem") > 0.0);
    assert!(value("gnatsd_varz_start") > 1.7e12, "epoch milliseconds");
    assert_eq!(value("gnatsd_varz_slow_consumer_stats_clients"), 0.0);
    assert_eq!(value("gnatsd_connz_num_connections"), 1.0);
    assert_eq!(value("gnatsd_connz_in_msgs"), 7.0);
    assert_eq!(value("gnatsd_connz_subscriptions"), 1.0);
    assert_eq!(value("gnatsd_subsz_num_subscriptions"), subs);
    assert_eq!(value("gnatsd_routez_num_routes"), 0.0);
    assert_eq!(value("gnatsd_healthz_status"), 0.0);
    assert_eq!(value("gnatsd_accstatz_current_connections"), 1.0);
    assert_eq!(value("jetstream_server_jetstream_disabled"), 1.0);
    let version = scrape
        .samples
        .iter()
        .find(|s| s.metric == "gnatsd_varz_version")
        .unwrap();
    assert_eq!(version.labels.get("value"), varz["version"].as_str());
}

/// The labels prometheus-nats-exporter's jsz collector puts on a consumer's gauges.
const CONSUMER_LABELS: &[&str] = &[
    "server_id",
    "server_name",
    "cluster",
    "domain",
    "meta_leader",
    "is_meta_leader",
    "account",
    "account_name",
    "account_id",
    "stream_name",
    "stream_leader",
    "is_stream_leader",
    "stream_raft_group",
    "consumer_name",
    "consumer_leader",
    "is_consumer_leader",
    "consumer_desc",
];

/// The value of `name` for the series whose labels include every pair in `want`.
fn series(scrape: &prometheus_parse::Scrape, name: &str, want: &[(&str, &str)]) -> f64 {
    let found: Vec<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && want.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    assert_eq!(found.len(), 1, "{name}{want:?}: {found:?}");
    match found[0].value {
        prometheus_parse::Value::Gauge(v) => v,
        ref v => panic!("{name}: not a gauge: {v:?}"),
    }
}

#[tokio::test]
async fn metrics_export_streams_and_consumer_lag_per_account() {
    use async_nats::jetstream::{self, consumer, stream};
    let s = TestServer::with_config(
        r#"
        jetstream { store_dir: "js" }
        accounts {
          A: { users: [{user: a, password: a}], jetstream: enabled }
          B: { users: [{user: b, password: b}], jetstream: enabled }
        }"#,
        &["-m", "-1"],
    );
    let port = s.monitor_port.expect("monitor port in the log");
    // The same stream and consumer names in both accounts: only `account` tells them apart.
    let mut published = Vec::new();
    for (user, n) in [("a", 25u64), ("b", 3)] {
        let nc = async_nats::ConnectOptions::new()
            .user_and_password(user.into(), user.into())
            .connect(s.url())
            .await
            .unwrap();
        let js = jetstream::new(nc);
        let st = js
            .create_stream(stream::Config {
                name: "ORDERS".into(),
                subjects: vec!["orders.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 0..n {
            let ack = js.publish(format!("orders.{i}"), "12345".into()).await;
            ack.unwrap().await.unwrap();
        }
        let c = st
            .create_consumer(consumer::pull::Config {
                durable_name: Some("worker".into()),
                description: Some(format!("worker of {user}")),
                ..Default::default()
            })
            .await
            .unwrap();
        published.push((user.to_uppercase(), n, c));
    }
    // A's consumer takes 5 messages and acknowledges none of them.
    let mut batch = published[0]
        .2
        .fetch()
        .max_messages(5)
        .messages()
        .await
        .unwrap();
    let mut fetched = 0;
    while let Some(m) = batch.next().await {
        m.unwrap();
        fetched += 1;
    }
    assert_eq!(fetched, 5);

    let varz = json(port, "/varz").await;
    let r = get(port, "/metrics").await;
    assert_eq!(r.status, 200);
    let scrape = prometheus_parse::Scrape::parse(r.body.lines().map(|l| Ok(l.to_string())))
        .expect("valid exposition text");
    let server_name = varz["server_name"].as_str().unwrap();
    for (acc, n, _) in &published {
        let acc = acc.as_str();
        let stream = [("account", acc), ("stream_name", "ORDERS")];
        assert_eq!(
            series(&scrape, "jetstream_stream_total_messages", &stream),
            *n as f64
        );
        assert!(series(&scrape, "jetstream_stream_total_bytes", &stream) > 0.0);
        assert_eq!(series(&scrape, "jetstream_stream_first_seq", &stream), 1.0);
        assert_eq!(
            series(&scrape, "jetstream_stream_last_seq", &stream),
            *n as f64
        );
        assert_eq!(
            series(&scrape, "jetstream_stream_consumer_count", &stream),
            1.0
        );
        assert_eq!(
            series(&scrape, "jetstream_stream_limit_messages", &stream),
            -1.0
        );
        let worker = [
            ("account", acc),
            ("stream_name", "ORDERS"),
            ("consumer_name", "worker"),
        ];
        let taken = if acc == "A" { 5.0 } else { 0.0 };
        let pending = series(&scrape, "jetstream_consumer_num_pending", &worker);
        assert_eq!(pending, *n as f64 - taken, "{acc}: lag");
        let ack_pending = series(&scrape, "jetstream_consumer_num_ack_pending", &worker);
        assert_eq!(ack_pending, taken, "{acc}");
        let delivered = series(&scrape, "jetstream_consumer_delivered_stream_seq", &worker);
        assert_eq!(delivered, taken, "{acc}");
        assert_eq!(
            series(&scrape, "jetstream_consumer_ack_floor_stream_seq", &worker),
            0.0
        );
        assert_eq!(
            series(&scrape, "jetstream_consumer_num_redelivered", &worker),
            0.0
        );
        let account = [("account", acc)];
        assert!(series(&scrape, "jetstream_account_storage_used", &account) > 0.0);
    }
    // The exporter's label set, with the values it derives for a server without clustering.
    let sample = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "jetstream_consumer_num_pending" && s.labels.get("account") == Some("A")
        })
        .unwrap();
    let mut names: Vec<&str> = sample.labels.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut want = CONSUMER_LABELS.to_vec();
    want.sort_unstable();
    assert_eq!(names, want);
    let label = |k: &str| sample.labels.get(k).unwrap_or_default();
    assert_eq!(label("server_id"), varz["server_id"].as_str().unwrap());
    assert_eq!(label("server_name"), server_name);
    assert_eq!(label("account_id"), "A");
    assert_eq!(label("account_name"), "A");
    assert_eq!(label("stream_leader"), server_name);
    assert_eq!(label("consumer_leader"), server_name);
    assert_eq!(label("is_meta_leader"), "true");
    assert_eq!(label("is_stream_leader"), "true");
    assert_eq!(label("is_consumer_leader"), "true");
    assert_eq!(label("consumer_desc"), "worker of a");
    let server = [("server_id", varz["server_id"].as_str().unwrap())];
    assert_eq!(
        series(&scrape, "jetstream_server_total_streams", &server),
        2.0
    );
    assert_eq!(
        series(&scrape, "jetstream_server_total_consumers", &server),
        2.0
    );
    assert_eq!(
        series(&scrape, "jetstream_server_total_messages", &server),
        28.0
    );
    assert_eq!(
        series(&scrape, "jetstream_server_jetstream_disabled", &server),
        0.0
    );
}

/// A stream whose file has a damaged record comes back from a restart with the damage
/// reported: `/healthz` answers 503 naming the stream, the rest stays readable.
#[tokio::test]
async fn healthz_reports_a_stream_with_corrupt_data() {
    let dir = temp_dir("monjs-corrupt");
    let sd = dir.to_str().unwrap().to_string();
    {
        let s = TestServer::start(&["-js", "-sd", &sd]);
        let nc = async_nats::connect(s.url()).await.unwrap();
        let js = async_nats::jetstream::new(nc);
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "S".into(),
            subjects: vec!["s.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
        for i in 0..20 {
            js.publish(format!("s.{i}"), vec![b'x'; 100].into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    }
    // Flip bytes in the middle of the first block: not a torn tail.
    let blocks: Vec<_> = walk(&dir.join("jetstream"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "blk"))
        .collect();
    assert!(!blocks.is_empty(), "no block files under {}", dir.display());
    let mut bytes = std::fs::read(&blocks[0]).unwrap();
    // The active block is zero-filled ahead of appends: aim inside the written records.
    let used = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    let mid = used / 3;
    for b in &mut bytes[mid..mid + 8] {
        *b ^= 0xff;
    }
    std::fs::write(&blocks[0], bytes).unwrap();

    let s = TestServer::start(&["-js", "-sd", &sd, "-m", "-1"]);
    let port = s.monitor_port.unwrap();
    let r = get(port, "/healthz").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("S"), "{}", r.body);
    let r = get(port, "/healthz?details=true").await;
    assert!(r.body.contains("STREAM"), "{}", r.body);
    drop(s);
    std::fs::remove_dir_all(dir).ok();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
