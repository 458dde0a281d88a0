//! Starts and stops NATS servers for client integration tests.
//!
//! Re-implements the API of the unpublished helper crate the async-nats tests call
//! (`run_server`, `run_basic_server`, `run_server_with_port`, `run_cluster`,
//! `set_lame_duck_mode`, `Server::client_url` ...). The server binary is `NATS_SERVER_BIN`
//! (default `natrium-server`), launched with the flags upstream uses:
//! `--store_dir D -p P -l LOG -P PID [cluster flags] [-c CFG]`. The client address is read
//! from the log line `Listening for client connections on HOST:PORT`, and the port and TLS
//! flag from the server's INFO, as upstream does.

use std::env;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::sleep;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The server executable to run.
fn server_bin() -> String {
    env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "natrium-server".to_string())
}

/// A process-unique id for file names (upstream uses a nuid).
fn next_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:x}{:x}{:x}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

struct Inner {
    cfg: String,
    id: String,
    port: Option<String>,
    extra: Vec<String>,
    child: Child,
    logfile: PathBuf,
    pidfile: PathBuf,
}

/// A running server; killed (SIGKILL) and cleaned up on drop.
pub struct Server {
    inner: Inner,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.inner.child.kill();
        let _ = self.inner.child.wait();
        if let Ok(log) = fs::read_to_string(&self.inner.logfile) {
            if let Some(dir) = store_dir_in_log(&log) {
                let _ = fs::remove_dir_all(dir);
            }
        }
        let _ = fs::remove_file(&self.inner.logfile);
        let _ = fs::remove_file(&self.inner.pidfile);
        let _ = fs::remove_dir_all(store_dir(&self.inner.id));
    }
}

fn store_dir(id: &str) -> PathBuf {
    env::temp_dir().join(format!("store-dir-{id}"))
}

/// The directory in a `Store Directory: "..."` log line, if any.
fn store_dir_in_log(log: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains("Store Directory:"))?;
    let start = line.find('"')? + 1;
    let end = line[start..].find('"')? + start;
    Some(line[start..end].to_string())
}

/// The `HOST:PORT` of the first `client connections on` log line.
fn client_addr_in_log(log: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains(" client connections on "))?;
    let addr = line.split(" client connections on ").nth(1)?.split_whitespace().next()?;
    Some(addr.replace("0.0.0.0", "localhost"))
}

impl Server {
    /// Stops the server and starts it again on the same port with the same files.
    pub fn restart(&mut self) {
        let _ = self.inner.child.kill();
        let _ = self.inner.child.wait();
        let port = self
            .inner
            .port
            .clone()
            .expect("can't restart server with dynamic port");
        let i = &self.inner;
        self.inner.child = spawn(&i.cfg, Some(&port), &i.id, &i.extra);
    }

    /// `nats://localhost:PORT`, or `tls://` when the server requires TLS.
    pub fn client_url(&self) -> String {
        let addr = self.client_addr();
        let (port, tls) = info_port_tls(&addr);
        let scheme = if tls { "tls" } else { "nats" };
        format!("{scheme}://localhost:{port}")
    }

    pub fn client_port(&self) -> u16 {
        let (port, _) = info_port_tls(&self.client_addr());
        port
    }

    pub fn client_url_with(&self, user: &str, pass: &str) -> String {
        let mut url = url::Url::parse(&self.client_url()).expect("valid url");
        url.set_username(user).expect("set user");
        url.set_password(Some(pass)).expect("set pass");
        url.to_string()
    }

    pub fn client_url_with_token(&self, token: &str) -> String {
        let mut url = url::Url::parse(&self.client_url()).expect("valid url");
        url.set_username(token).expect("set token");
        url.to_string()
    }

    /// Polls the log file for the client address (up to 50 s).
    fn client_addr(&self) -> String {
        for _ in 0..100 {
            if let Ok(log) = fs::read_to_string(&self.inner.logfile) {
                if let Some(addr) = client_addr_in_log(&log) {
                    return addr;
                }
            }
            sleep(Duration::from_millis(500));
        }
        panic!("no client addr in log {}", self.inner.logfile.display());
    }

    pub fn client_pid(&self) -> usize {
        fs::read_to_string(&self.inner.pidfile)
            .expect("pid file")
            .parse::<usize>()
            .expect("pid")
    }
}

/// Reads the INFO from `addr` and returns (port, tls_required).
fn info_port_tls(addr: &str) -> (u16, bool) {
    let stream = TcpStream::connect(addr).expect("connect to server");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("INFO line");
    let json: serde_json::Value = serde_json::from_str(&line[4..]).expect("INFO json");
    let port = json["port"].as_u64().expect("INFO port") as u16;
    let tls = json["tls_required"].as_bool().unwrap_or(false);
    (port, tls)
}

/// Sends the server into lame-duck mode through the binary's `--signal ldm=PID`.
pub fn set_lame_duck_mode(s: &Server) {
    let mut cmd = Command::new(server_bin())
        .args(["--signal", &format!("ldm={}", s.client_pid())])
        .spawn()
        .expect("run --signal");
    cmd.wait().expect("--signal finished");
}

pub fn run_basic_server() -> Server {
    run_server("")
}

pub fn run_server(cfg: &str) -> Server {
    run_server_with_port(cfg, None)
}

pub fn run_server_with_port(cfg: &str, port: Option<&str>) -> Server {
    do_run(cfg, port, None, Vec::new())
}

pub fn is_port_available(port: usize) -> bool {
    TcpListener::bind(("127.0.0.1", port as u16)).is_ok()
}

fn do_run(cfg: &str, port: Option<&str>, id: Option<String>, extra: Vec<String>) -> Server {
    let id = id.unwrap_or_else(next_id);
    let child = spawn(cfg, port, &id, &extra);
    Server {
        inner: Inner {
            cfg: cfg.to_string(),
            port: port.map(String::from),
            logfile: log_file(&id),
            pidfile: pid_file(&id),
            id,
            extra,
            child,
        },
    }
}

fn log_file(id: &str) -> PathBuf {
    env::temp_dir().join(format!("nats-server-{id}.log"))
}

fn pid_file(id: &str) -> PathBuf {
    env::temp_dir().join(format!("nats-server-{id}.pid"))
}

/// Launches the server with upstream's flags.
fn spawn(cfg: &str, port: Option<&str>, id: &str, extra: &[String]) -> Child {
    let mut cmd = Command::new(server_bin());
    cmd.arg("--store_dir")
        .arg(store_dir(id))
        .arg("-p")
        .arg(port.unwrap_or("-1"))
        .arg("-l")
        .arg(log_file(id))
        .arg("-P")
        .arg(pid_file(id))
        .args(extra);
    if !cfg.is_empty() {
        // Config paths are relative to the crate root, the tests' working directory.
        cmd.arg("-c").arg(cfg);
    }
    cmd.spawn().expect("spawn server")
}

/// One config for every node of a cluster, or one per node.
pub struct Config<'a>([&'a str; 3]);

pub trait IntoConfig<'a> {
    fn into_config(self) -> Config<'a>;
}

impl<'a> IntoConfig<'a> for &'a str {
    fn into_config(self) -> Config<'a> {
        Config([self, self, self])
    }
}

impl<'a> IntoConfig<'a> for [&'a str; 3] {
    fn into_config(self) -> Config<'a> {
        Config(self)
    }
}

pub struct Cluster {
    pub servers: Vec<Server>,
}

impl Cluster {
    pub fn client_url(&self) -> String {
        self.servers[0].client_url()
    }
}

/// Starts a three-node cluster on free ports (cluster port = client port + 1).
pub fn run_cluster<'a, C: IntoConfig<'a>>(cfg: C) -> Cluster {
    let cfg = cfg.into_config();
    let base = loop {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = 3000 + (nanos % 47000) as u16;
        let ports = [p, p + 100, p + 200];
        if ports
            .iter()
            .all(|&q| is_port_available(q as usize) && is_port_available(q as usize + 1))
        {
            break p;
        }
        sleep(Duration::from_millis(10));
    };
    let ports = [base, base + 100, base + 200];
    let mut servers = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let routes: Vec<String> = ports
            .iter()
            .filter(|p| *p != port)
            .map(|p| format!("nats://127.0.0.1:{}", p + 1))
            .collect();
        let extra = vec![
            "--routes".to_string(),
            routes.join(","),
            "--cluster".to_string(),
            format!("nats://127.0.0.1:{}", port + 1),
            "--cluster_name".to_string(),
            "cluster".to_string(),
            "-n".to_string(),
            format!("node{}", i + 1),
        ];
        servers.push(do_run(cfg.0[i], Some(&port.to_string()), None, extra));
    }
    sleep(Duration::from_secs(2));
    Cluster { servers }
}
