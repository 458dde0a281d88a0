//! Operating the server as nats-server is operated: flags, config files, pid and ports
//! files, signals, lame-duck mode, reload, limits that close connections.

mod common;

use std::time::Duration;

use common::{run_bin, temp_dir, Raw, TestServer};

#[test]
fn version_and_bad_flags() {
    let dir = temp_dir("flags");
    let (code, out, _) = run_bin(&["-v"], &dir);
    assert_eq!(code, 0);
    assert!(out.starts_with("natrium-server: v2."), "{out}");
    // nats-server answers an unknown flag with the error, the usage text, and exit code 0.
    let (code, out, err) = run_bin(&["--no-such-flag"], &dir);
    assert_eq!(code, 0);
    assert!(
        err.contains("flag provided but not defined: -no-such-flag"),
        "{err}"
    );
    assert!(out.contains("Usage: natrium-server"), "{out}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn config_check_and_parse_errors() {
    let dir = temp_dir("cfgcheck");
    std::fs::write(dir.join("good.conf"), "port: 4567\nmax_payload: 128KB\n").unwrap();
    let (code, out, err) = run_bin(&["-c", "good.conf", "-t"], &dir);
    assert_eq!(code, 0, "{out}{err}");
    // nats-server v2.15.1 prints this line, digest included, for the same file.
    assert_eq!(
        err.trim_end(),
        "natrium-server: configuration file good.conf is valid \
         (sha256:62c2fabfaf637b4d8fbbff5f4a59a497ff2a06fcd8ad2bd4ba31f96bdff82f33)"
    );
    std::fs::write(dir.join("bad.conf"), "port: 4567\nlisten: {{{\n").unwrap();
    let (code, _, err) = run_bin(&["-c", "bad.conf", "-t"], &dir);
    assert_ne!(code, 0);
    assert!(!err.is_empty());
    let (code, _, err) = run_bin(&["-s", "-p", "-1"], &dir);
    assert_ne!(code, 0, "syslog is refused, not ignored");
    assert!(err.contains("syslog"), "{err}");
    std::fs::write(dir.join("cluster.conf"), "cluster { port: 6222 }\n").unwrap();
    let (code, _, err) = run_bin(&["-c", "cluster.conf", "-p", "-1"], &dir);
    assert_ne!(code, 0, "unsupported blocks are refused, not ignored");
    assert!(err.contains("cluster"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn config_file_settings_reach_clients_and_flags_override_the_port() {
    let s = TestServer::with_config(
        "port: 4222\nmax_payload: 128KB\nserver_name: alpha\n",
        &["-p", "-1"],
    );
    assert_ne!(s.port, 4222);
    let (mut c, info) = Raw::connect(&s.addr()).await;
    assert!(info.contains("\"max_payload\":131072"), "{info}");
    assert!(info.contains("\"server_name\":\"alpha\""), "{info}");
    c.send("CONNECT {\"verbose\":false}\r\nPUB x 131073\r\n")
        .await;
    c.expect("-ERR 'Maximum Payload Violation'").await;
    assert!(c.closed().await);
}

#[test]
fn pid_file_ports_file_and_port_in_use() {
    let dir = temp_dir("files");
    let s = TestServer::start(&[
        "-P",
        dir.join("s.pid").to_str().unwrap(),
        "--ports_file_dir",
        dir.to_str().unwrap(),
    ]);
    let pid = std::fs::read_to_string(dir.join("s.pid")).unwrap();
    assert_eq!(pid, s.pid().to_string(), "decimal pid, no newline");
    let ports = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with(".ports"))
        .expect("ports file");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ports.path()).unwrap()).unwrap();
    assert!(json["nats"][0]
        .as_str()
        .unwrap()
        .ends_with(&format!(":{}", s.port)));

    let (code, _, err) = run_bin(&["-a", "127.0.0.1", "-p", &s.port.to_string()], &dir);
    assert_eq!(code, 1);
    assert!(err.contains("[FTL] Error listening on port:"), "{err}");
    assert!(err.contains("address already in use"), "{err}");
    drop(s);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn sigterm_stops_cleanly_and_the_port_is_reusable() {
    let mut s = TestServer::start(&["-a", "127.0.0.1"]);
    let port = s.port.to_string();
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(s
        .wait_for_log("Server Exiting..", Duration::from_secs(5))
        .is_some());
    let again = TestServer::start(&["-a", "127.0.0.1", "-p", &port]);
    assert_eq!(again.port.to_string(), port);
}

#[tokio::test]
async fn lame_duck_via_signal_flag() {
    let mut s = TestServer::with_config(
        "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"500ms\"\n",
        &[],
    );
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send("CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    c.expect("PONG").await;
    let (code, _, err) = run_bin(&["--signal", &format!("ldm={}", s.pid())], &s.dir);
    assert_eq!(code, 0, "{err}");
    let info = c.read_line().await.unwrap();
    assert!(
        info.starts_with("INFO ") && info.contains("\"ldm\":true"),
        "{info}"
    );
    assert!(c.closed().await);
    assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(s
        .wait_for_log("Entering lame duck mode", Duration::from_secs(5))
        .is_some());
}

#[tokio::test]
async fn stale_connections_are_closed() {
    let s = TestServer::with_config("ping_interval: \"100ms\"\nping_max: 1\n", &[]);
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send("CONNECT {\"verbose\":false}\r\n").await;
    // The first ping comes two seconds after connect; we never answer it.
    assert_eq!(c.read_line().await.as_deref(), Some("PING"));
    c.expect("-ERR 'Stale Connection'").await;
    assert!(c.closed().await);
}

#[tokio::test]
async fn slow_consumer_is_closed_and_others_keep_flowing() {
    let s = TestServer::with_config("max_pending: 256KB\nmax_payload: 64KB\n", &[]);
    let (mut slow, _) = Raw::connect(&s.addr()).await;
    slow.send("CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n")
        .await;
    slow.expect("PONG").await;
    let nc = async_nats::connect(s.url()).await.unwrap();
    let body = bytes::Bytes::from(vec![b'x'; 60 * 1024]);
    // The slow client never reads; its socket buffers fill and then max_pending is hit.
    for _ in 0..2000 {
        if nc.publish("flood", body.clone()).await.is_err() {
            break;
        }
        if s.find_log("Slow Consumer Detected").is_some() {
            break;
        }
    }
    nc.flush().await.unwrap();
    assert!(
        s.wait_for_log("Slow Consumer Detected", Duration::from_secs(10))
            .is_some(),
        "{}",
        s.log_text()
    );
    // The publisher is unaffected.
    nc.publish("after", "ok".into()).await.unwrap();
    nc.flush().await.unwrap();
}

#[tokio::test]
async fn max_connections_and_subscriptions() {
    let s = TestServer::with_config("max_connections: 1\nmax_subscriptions: 1\n", &[]);
    let (mut first, _) = Raw::connect(&s.addr()).await;
    first
        .send("CONNECT {\"verbose\":false}\r\nSUB a 1\r\nSUB b 2\r\n")
        .await;
    first.expect("-ERR 'maximum subscriptions exceeded'").await;
    first.send("PING\r\n").await;
    first.expect("PONG").await;
    let (mut second, _) = Raw::connect(&s.addr()).await;
    second.expect("-ERR 'maximum connections exceeded'").await;
    assert!(second.closed().await);
}

#[tokio::test]
async fn reload_refuses_options_it_cannot_change() {
    let s = TestServer::with_config("server_name: one\n", &[]);
    std::fs::write(s.path("server.conf"), "server_name: two\n").unwrap();
    s.signal("HUP");
    let line = s
        .wait_for_log(
            "Failed to reload server configuration",
            Duration::from_secs(5),
        )
        .unwrap();
    assert!(
        line.contains("config reload not supported for ServerName: old=one, new=two"),
        "{line}"
    );
    let (_c, info) = Raw::connect(&s.addr()).await;
    assert!(info.contains("\"server_name\":\"one\""));
}

#[tokio::test]
async fn reload_applies_new_users() {
    let s = TestServer::with_config("authorization { user: a, password: one }\n", &[]);
    let (mut old, _) = Raw::connect(&s.addr()).await;
    old.send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"one\"}\r\nPING\r\n")
        .await;
    old.expect("PONG").await;
    std::fs::write(
        s.path("server.conf"),
        "authorization { user: a, password: two }\n",
    )
    .unwrap();
    s.signal("HUP");
    // A client whose password no longer passes is disconnected, as nats-server does.
    old.expect("-ERR 'Authorization Violation'").await;
    assert!(old.closed().await);
    // The log is read by another thread: wait for the line rather than race it.
    assert!(
        s.wait_for_log("Reloaded: authorization password", Duration::from_secs(5))
            .is_some(),
        "{}",
        s.log_text()
    );
    assert!(
        s.wait_for_log("Reloaded server configuration", Duration::from_secs(5))
            .is_some(),
        "{}",
        s.log_text()
    );
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"one\"}\r\n")
        .await;
    c.expect("-ERR 'Authorization Violation'").await;
    let (mut c, _) = Raw::connect(&s.addr()).await;
    c.send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"two\"}\r\nPING\r\n")
        .await;
    c.expect("PONG").await;
}

#[test]
fn signal_without_pid_finds_the_running_server() {
    // A copy under a unique name, so servers of other tests running now do not count.
    let dir = temp_dir("sig");
    let name = format!("nsig{}", std::process::id() % 100_000);
    let bin = dir.join(&name);
    std::fs::copy(common::BIN, &bin).unwrap();
    let (code, _, err) = run_cmd(&bin, &["--signal", "term"], &dir);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("no {name} processes running")),
        "{err}"
    );
    let log = dir.join("server.log");
    let mut child = std::process::Command::new(&bin)
        .args(["-p", "-1", "-a", "127.0.0.1", "-l", log.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Signal only once the server handles signals (it says so with "Server is ready").
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Server is ready")) {
        assert!(std::time::Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (code, _, err) = run_cmd(&bin, &["--signal", "term"], &dir);
    assert_eq!(code, 0, "{err}");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM is a clean stop");
    std::fs::remove_dir_all(dir).ok();
}

fn run_cmd(bin: &std::path::Path, args: &[&str], cwd: &std::path::Path) -> (i32, String, String) {
    let out = std::process::Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
