//! Starts the real `natrium-server` binary for integration tests: random port, its own
//! temporary directory, stderr captured so tests can wait for and assert on log lines.
//! The process is killed and the directory removed when the handle drops.

#![allow(dead_code)]

pub mod http;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Waits until the server has processed everything `nc` sent so far. async-nats's `flush`
/// only writes the client's buffer; a request answered by the server (no responders) is a
/// real round trip.
pub async fn sync(nc: &async_nats::Client) {
    let _ = nc.request("natrium.test.sync", "".into()).await;
}

/// Connects as the config-file user `user` whose password is its name.
pub async fn connect_as(s: &TestServer, user: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .user_and_password(user.into(), user.into())
        .connect(s.url())
        .await
        .unwrap_or_else(|e| panic!("{user} connects: {e}"))
}

pub const BIN: &str = env!("CARGO_BIN_EXE_natrium-server");

pub struct TestServer {
    child: Option<Child>,
    pub port: u16,
    /// The HTTP monitoring port, when started with `-m`/`http_port`.
    pub monitor_port: Option<u16>,
    pub dir: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

/// A fresh temporary directory under the system temp dir, removed with the value.
pub fn temp_dir(tag: &str) -> TempDir {
    TempDir(new_dir(tag))
}

fn new_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "natrium-test-{tag}-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A test's directory: a path that is deleted (with everything in it) when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

impl TestServer {
    /// Starts the server with `-p -1` and the given extra arguments.
    pub fn start(args: &[&str]) -> TestServer {
        let dir = new_dir("srv");
        Self::start_in(dir, args)
    }

    /// Writes `config` to a file in a fresh directory and starts the server with `-c` it.
    pub fn with_config(config: &str, extra: &[&str]) -> TestServer {
        let dir = new_dir("cfg");
        let path = dir.join("server.conf");
        std::fs::write(&path, config).unwrap();
        let mut args = vec!["-c", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        Self::start_in(dir, &refs)
    }

    fn start_in(dir: PathBuf, args: &[&str]) -> TestServer {
        // NATRIUM_TEST_SERVER_BIN runs a test against another binary (nats-server, to check
        // that an expectation is nats-server's behaviour).
        let bin = std::env::var("NATRIUM_TEST_SERVER_BIN").unwrap_or_else(|_| BIN.to_string());
        let mut cmd = Command::new(bin);
        if !args.iter().any(|a| *a == "-p" || *a == "--port") {
            cmd.args(["-p", "-1"]);
        }
        cmd.args(args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn natrium-server");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log2.lock().unwrap().push(line);
            }
        });
        let mut server = TestServer {
            child: Some(child),
            port: 0,
            monitor_port: None,
            dir,
            log,
        };
        let line = server
            .wait_for_log("Server is ready", Duration::from_secs(10))
            .map(|_| {
                server
                    .find_log("Listening for client connections on")
                    .unwrap()
            })
            .unwrap_or_else(|| panic!("server did not start; log:\n{}", server.log_text()));
        server.port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .expect("port in listening line");
        server.monitor_port = server
            .find_log("Starting http monitor on")
            .and_then(|l| l.rsplit(':').next().and_then(|p| p.trim().parse().ok()));
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn find_log(&self, needle: &str) -> Option<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains(needle))
            .cloned()
    }

    /// Waits until a log line containing `needle` appears.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(l) = self.find_log(needle) {
                return Some(l);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the binary to completion (for flag tests); returns (exit code, stdout, stderr).
pub fn run_bin(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A raw protocol connection for transcript tests.
pub struct Raw {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
}

impl Raw {
    /// Connects and reads the INFO line.
    pub async fn connect(addr: &str) -> (Raw, String) {
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut raw = Raw {
            stream,
            buf: Vec::new(),
        };
        let info = raw.read_line().await.expect("INFO line");
        assert!(info.starts_with("INFO {"), "got {info}");
        (raw, info)
    }

    pub async fn send(&mut self, bytes: &str) {
        self.stream.write_all(bytes.as_bytes()).await.unwrap();
    }

    /// Reads one CRLF-terminated line (without the CRLF); `None` on EOF or after 5 s.
    pub async fn read_line(&mut self) -> Option<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Some(line);
            }
            let mut tmp = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut tmp))
                .await
                .ok()?
                .ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }

    /// Reads lines until one equals `want`, skipping PINGs; panics on EOF.
    pub async fn expect(&mut self, want: &str) {
        loop {
            match self.read_line().await {
                Some(l) if l == want => return,
                Some(l) if l == "PING" => continue,
                Some(l) => panic!("expected {want:?}, got {l:?}"),
                None => panic!("expected {want:?}, got EOF/timeout"),
            }
        }
    }

    /// True when the server closes the connection within 5 s (any unread lines are skipped).
    pub async fn closed(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mut tmp = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut tmp)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}
