//! The server: listeners, the registry of connections, shared counters, shutdown, lame-duck
//! mode and config reload.
//!
//! [`Server`] is wiring. It owns the subject index, the current options and auth config
//! (swapped whole on reload), and the map of live connections; connection tasks
//! (`conn.rs`) and the router do the per-message work. Nothing here holds a lock across an
//! `.await`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use natrium_config::Options;
use natrium_sublist::Sublist;
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::AuthConfig;
use crate::outbound::{Client, CloseReason, Counters};
use crate::router::SubRef;
use crate::server_info::{self, Info};
use crate::{debug, error, info};

/// Server-wide counters, for /varz and the logs.
#[derive(Default)]
pub struct ServerStats {
    pub msgs: Counters,
    pub slow_consumers: AtomicU64,
    pub total_connections: AtomicU64,
}

impl ServerStats {
    pub fn add_out(&self, msgs: u64, bytes: u64) {
        self.msgs.add_out(msgs, bytes);
    }
}

/// What the registry keeps about a live connection.
pub struct ClientEntry {
    pub client: Arc<Client>,
    pub addr: SocketAddr,
    pub started: SystemTime,
}

pub struct Server {
    pub id: String,
    pub name: String,
    opts: RwLock<Arc<Options>>,
    auth: RwLock<Arc<AuthConfig>>,
    pub sublist: Sublist<SubRef>,
    clients: Mutex<HashMap<u64, ClientEntry>>,
    next_cid: AtomicU64,
    pub stats: ServerStats,
    /// HTTP monitoring state (closed connections, request counts, JetStream provider).
    pub monitor: crate::monitor::MonitorState,
    pub started: Instant,
    pub start_time: SystemTime,
    lame_duck: AtomicBool,
    shutdown_tx: watch::Sender<bool>,
    client_addr: Mutex<Option<SocketAddr>>,
    pub jetstream: std::sync::OnceLock<Arc<natrium_jetstream::JetStream>>,
    /// The client listener's TLS, rebuilt on reload; `None` for plain TCP.
    tls: RwLock<Option<Arc<crate::tls::TlsListener>>>,
}

impl Server {
    /// A server whose TLS configuration is built from the options (certificate files are
    /// read here), or why it cannot be.
    pub fn with_tls(opts: Options) -> Result<Arc<Server>, String> {
        let tls = crate::tls::TlsListener::for_clients(&opts)?;
        let server = Server::new(opts);
        *server.tls.write() = tls;
        Ok(server)
    }

    pub fn new(opts: Options) -> Arc<Server> {
        let id = server_info::new_server_id();
        let name = opts.server_name.clone().unwrap_or_else(|| id.clone());
        let sublist = if opts.disable_sublist_cache {
            Sublist::new_no_cache()
        } else {
            Sublist::new()
        };
        let auth = AuthConfig::from_options(&opts);
        let (shutdown_tx, _) = watch::channel(false);
        Arc::new(Server {
            id,
            name,
            opts: RwLock::new(Arc::new(opts)),
            auth: RwLock::new(Arc::new(auth)),
            sublist,
            clients: Mutex::new(HashMap::new()),
            // nats-server's first client connection gets cid 5 (its internal clients take
            // the first ids); tools and tests see the same numbering here.
            next_cid: AtomicU64::new(5),
            stats: ServerStats::default(),
            monitor: crate::monitor::MonitorState::new(),
            started: Instant::now(),
            start_time: SystemTime::now(),
            lame_duck: AtomicBool::new(false),
            shutdown_tx,
            client_addr: Mutex::new(None),
            jetstream: std::sync::OnceLock::new(),
            tls: RwLock::new(None),
        })
    }

    pub fn options(&self) -> Arc<Options> {
        self.opts.read().clone()
    }

    pub fn auth(&self) -> Arc<AuthConfig> {
        self.auth.read().clone()
    }

    pub fn tls(&self) -> Option<Arc<crate::tls::TlsListener>> {
        self.tls.read().clone()
    }

    pub fn client_addr(&self) -> Option<SocketAddr> {
        *self.client_addr.lock()
    }

    pub fn is_lame_duck(&self) -> bool {
        self.lame_duck.load(Ordering::Relaxed)
    }

    /// A receiver that turns true when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// The INFO for a new connection (or, with `client_id` 0, the template).
    pub fn info_for(&self, client_id: u64, client_ip: String) -> Info {
        let opts = self.options();
        let port = self.client_addr().map_or(0, |a| a.port());
        Info {
            server_id: self.id.clone(),
            server_name: self.name.clone(),
            version: server_info::NATS_VERSION,
            proto: 1,
            git_commit: String::new(),
            go: "rust",
            host: opts.host.clone(),
            port,
            headers: true,
            auth_required: self.auth().required(),
            tls_required: opts.tls.is_some() && !opts.allow_non_tls,
            tls_verify: opts.tls.as_ref().is_some_and(|t| t.verify),
            tls_available: opts.tls.is_some() && opts.allow_non_tls,
            max_payload: opts.max_payload,
            jetstream: self.jetstream.get().is_some(),
            client_id,
            client_ip,
            nonce: None,
            domain: opts
                .jetstream_domain
                .clone()
                .filter(|_| self.jetstream.get().is_some()),
            connect_urls: Vec::new(),
            ldm: self.is_lame_duck(),
            connect_info: false,
            remote_account: None,
        }
    }

    pub fn next_cid(&self) -> u64 {
        self.next_cid.fetch_add(1, Ordering::Relaxed)
    }

    /// Adds a connection to the registry; false when `max_connections` is reached.
    pub fn register(&self, client: &Arc<Client>, addr: SocketAddr) -> bool {
        let max = self.options().max_connections;
        let mut clients = self.clients.lock();
        if max > 0 && clients.len() >= max as usize {
            return false;
        }
        clients.insert(
            client.cid,
            ClientEntry {
                client: client.clone(),
                addr,
                started: SystemTime::now(),
            },
        );
        self.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Removes a connection from the registry and remembers it for `/connz?state=closed`.
    pub fn unregister(&self, cid: u64) {
        let entry = self.clients.lock().remove(&cid);
        if let Some(e) = entry {
            let max_closed = self.options().max_closed_clients.max(0) as usize;
            if self.monitor.record_closed(&e.client, max_closed) {
                self.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn num_clients(&self) -> usize {
        self.clients.lock().len()
    }

    pub(crate) fn all_clients(&self) -> Vec<Arc<Client>> {
        self.clients
            .lock()
            .values()
            .map(|e| e.client.clone())
            .collect()
    }

    pub fn note_slow_consumer(&self, client: &Client) {
        self.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
        info!(
            "{} - Slow Consumer Detected: MaxPending of {} Exceeded",
            client.log_prefix(),
            self.options().max_pending
        );
    }

    /// Binds the client listener. Port -1 means a random free port.
    pub async fn bind(&self) -> std::io::Result<TcpListener> {
        let opts = self.options();
        let port = if opts.port < 0 { 0 } else { opts.port as u16 };
        let listener = crate::listen::bind(&opts.host, port)?;
        let addr = listener.local_addr()?;
        *self.client_addr.lock() = Some(addr);
        Ok(listener)
    }

    /// Accepts connections until shutdown or lame-duck mode.
    pub async fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        let mut shutdown = self.shutdown_signal();
        loop {
            tokio::select! {
                res = listener.accept() => match res {
                    Ok((stream, addr)) => {
                        let server = self.clone();
                        tokio::spawn(crate::conn::run(server, stream, addr));
                    }
                    Err(e) => {
                        // Running out of file descriptors must not kill the loop.
                        error!("Temporary accept error: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                _ = shutdown.changed() => break,
            }
            if self.is_lame_duck() {
                break;
            }
        }
        debug!("Client accept loop exiting..");
    }

    /// Stops the server: every connection is closed and connection tasks are told to end.
    pub fn shutdown(&self) {
        let _ = self.shutdown_tx.send(true);
        for c in self.all_clients() {
            c.close(CloseReason::ServerShutdown);
        }
    }

    /// Lame-duck mode: stop accepting, tell clients (INFO with `ldm`), then close them
    /// spread over `lame_duck_duration` after `lame_duck_grace_period`, then shut down.
    pub async fn enter_lame_duck(self: Arc<Self>) {
        if self.lame_duck.swap(true, Ordering::SeqCst) {
            return;
        }
        let opts = self.options();
        info!("Entering lame duck mode, stop accepting new clients");
        let ldm_info = self.info_for(0, String::new()).to_line();
        let clients = self.all_clients();
        for c in &clients {
            c.send_raw(&ldm_info);
        }
        let mut shutdown = self.shutdown_signal();
        tokio::select! {
            _ = tokio::time::sleep(opts.lame_duck_grace_period) => {}
            _ = shutdown.changed() => return,
        }
        let clients = self.all_clients();
        if !clients.is_empty() {
            let span = opts
                .lame_duck_duration
                .saturating_sub(opts.lame_duck_grace_period)
                .max(Duration::from_millis(1));
            let step = span / clients.len() as u32;
            info!("Closing existing clients");
            for c in clients {
                c.close(CloseReason::LameDuck);
                tokio::time::sleep(step.min(Duration::from_secs(1))).await;
            }
        }
        self.shutdown();
    }

    /// Applies a re-read configuration: the settings nats-server reloads (auth, limits,
    /// logging) take effect for new connections at once, and connections whose credentials
    /// no longer pass are closed.
    pub fn reload(&self, new_opts: Options) -> Result<(), String> {
        let old = self.options();
        let changes = crate::reload::diff(&old, &new_opts)?;
        // Rebuilt even when the paths are unchanged: a reload is how rotated certificate
        // files are picked up. New connections use it; established ones keep their session.
        let tls = crate::tls::TlsListener::for_clients(&new_opts)?;
        *self.tls.write() = tls;
        let auth = Arc::new(AuthConfig::from_options(&new_opts));
        *self.auth.write() = auth;
        *self.opts.write() = Arc::new(new_opts);
        self.monitor.config_reloaded();
        for c in &changes {
            info!("Reloaded: {c}");
        }
        info!("Reloaded server configuration");
        if changes
            .iter()
            .any(|c| c.starts_with("authorization") || c.starts_with("no_auth_user"))
        {
            for c in self.all_clients() {
                c.request_reauth();
            }
        }
        Ok(())
    }

    /// Writes the ports file for `--ports_file_dir`.
    pub fn write_ports_file(&self, dir: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
        let exe = std::env::args()
            .next()
            .and_then(|a| {
                std::path::Path::new(&a)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "natrium-server".into());
        let path = dir.join(format!("{exe}_{}.ports", std::process::id()));
        let addr = self.client_addr();
        let host = self.options().host.clone();
        let nats: Vec<String> = addr
            .map(|a| format!("nats://{}:{}", crate::listen::url_host(&host), a.port()))
            .into_iter()
            .collect();
        let mut body = serde_json::json!({ "nats": nats }).to_string();
        if let Some(m) = self.monitor.addr() {
            // nats-server's key order: "nats" then "monitoring".
            let http_host = self.options().http_host.clone();
            let host = if http_host.is_empty() || http_host == "0.0.0.0" || http_host == "::" {
                "127.0.0.1".to_string()
            } else {
                crate::listen::url_host(&http_host)
            };
            let urls = serde_json::json!([format!("http://{host}:{}", m.port())]);
            body.pop();
            body.push_str(&format!(",\"monitoring\":{urls}}}"));
        }
        std::fs::write(&path, body)?;
        Ok(path)
    }
}
