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

use natrium_config::{ExportKind, ImportKind, Options};
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::account::{Account, Forward, DEFAULT_SYSTEM_ACCOUNT, GLOBAL_ACCOUNT};
use crate::auth::AuthConfig;
use crate::outbound::{Client, CloseReason, Counters};
use crate::router::{SubRef, Subscription};
use crate::server_info::{self, Info};
use crate::{debug, error, info, warn};

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
    /// `$G`: clients not bound to a configured account.
    pub global: Arc<Account>,
    /// Every account by name, `$G` and the system account included.
    accounts: RwLock<HashMap<String, Arc<Account>>>,
    /// Each configured account's exports and imports (from the config file or its JWT),
    /// for imports installed after start (accounts pushed to the full resolver).
    account_configs: RwLock<HashMap<String, natrium_config::AccountConfig>>,
    /// Every import subscription placed, so an account's update can take its own back.
    import_subs: Mutex<Vec<InstalledImport>>,
    /// The system account's name, unless `no_system_account`.
    pub system_account: Option<String>,
    /// Owner of the server's own subscriptions (imports); never has a socket.
    pub internal_client: Arc<Client>,
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
    /// JWT operator mode, when the configuration names operators.
    pub operator: Option<Arc<crate::operator::OperatorMode>>,
    /// The system account's event publisher, once it has started.
    pub events: std::sync::OnceLock<Arc<crate::sysacc::Events>>,
    /// JetStream's monitoring provider, to add accounts started later.
    pub js_monitor: std::sync::OnceLock<Arc<crate::jetstream::JsMonitor>>,
    /// Set once JetStream has started (for any account).
    pub jetstream_enabled: std::sync::OnceLock<()>,
    /// Where the websocket and leafnode listeners are bound, once they are.
    pub ws_addr: std::sync::OnceLock<std::net::SocketAddr>,
    pub leaf_addr: std::sync::OnceLock<std::net::SocketAddr>,
    /// The client listener's TLS, rebuilt on reload; `None` for plain TCP.
    tls: RwLock<Option<Arc<crate::tls::TlsListener>>>,
}

impl Server {
    /// A server whose TLS configuration is built from the options (certificate files are
    /// read here), or why it cannot be.
    pub fn with_tls(
        opts: Options,
        operator: Option<Arc<crate::operator::OperatorMode>>,
    ) -> Result<Arc<Server>, String> {
        let tls = crate::tls::TlsListener::for_clients(&opts)?;
        let server = Server::new(opts, operator);
        *server.tls.write() = tls;
        Ok(server)
    }

    pub fn new(opts: Options, operator: Option<Arc<crate::operator::OperatorMode>>) -> Arc<Server> {
        let id = server_info::new_server_id();
        let name = opts.server_name.clone().unwrap_or_else(|| id.clone());
        let cache = !opts.disable_sublist_cache;
        let global = Account::new(GLOBAL_ACCOUNT, cache, None);
        global.set_mappings(compile_mappings(&opts.mappings));
        let global = Arc::new(global);
        let mut accounts = HashMap::from([(GLOBAL_ACCOUNT.to_string(), global.clone())]);
        for a in &opts.accounts {
            let acc = Account::new(&a.name, cache, a.jetstream.clone());
            acc.set_mappings(compile_mappings(&a.mappings));
            accounts.insert(a.name.clone(), Arc::new(acc));
        }
        let system_account = if opts.no_system_account {
            None
        } else {
            let name = opts
                .system_account
                .clone()
                .unwrap_or_else(|| DEFAULT_SYSTEM_ACCOUNT.to_string());
            accounts
                .entry(name.clone())
                .or_insert_with(|| Arc::new(Account::new(&name, cache, None)));
            Some(name)
        };
        let addr = SocketAddr::from(([0, 0, 0, 0], 0));
        let internal_client = Arc::new(Client::new(crate::outlet::INTERNAL_CID, addr, usize::MAX));
        let configs: HashMap<_, _> = opts
            .accounts
            .iter()
            .map(|a| (a.name.clone(), a.clone()))
            .collect();
        let mut import_subs = Vec::new();
        for a in &opts.accounts {
            import_subs.extend(install_imports(a, &configs, &accounts, &internal_client));
        }
        if let Some(sys) = system_account.as_ref().and_then(|n| accounts.get(n)) {
            for acc in accounts.values().filter(|a| a.name != sys.name) {
                install_system_imports(acc, sys, &internal_client);
            }
        }
        let auth = AuthConfig::from_options(&opts);
        let (shutdown_tx, _) = watch::channel(false);
        Arc::new(Server {
            id,
            name,
            opts: RwLock::new(Arc::new(opts)),
            auth: RwLock::new(Arc::new(auth)),
            global,
            accounts: RwLock::new(accounts),
            account_configs: RwLock::new(configs),
            import_subs: Mutex::new(import_subs),
            system_account,
            internal_client,
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
            jetstream_enabled: std::sync::OnceLock::new(),
            ws_addr: std::sync::OnceLock::new(),
            leaf_addr: std::sync::OnceLock::new(),
            js_monitor: std::sync::OnceLock::new(),
            events: std::sync::OnceLock::new(),
            operator,
            tls: RwLock::new(None),
        })
    }

    /// The account named `name`, if it exists.
    pub fn account(&self, name: &str) -> Option<Arc<Account>> {
        self.accounts.read().get(name).cloned()
    }

    /// Every account, sorted by name.
    pub fn accounts(&self) -> Vec<Arc<Account>> {
        let mut v: Vec<_> = self.accounts.read().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Subscriptions in every account's index.
    pub fn num_subscriptions(&self) -> usize {
        self.accounts
            .read()
            .values()
            .map(|a| a.sublist.count())
            .sum()
    }

    /// Adds an account after start (pushed to the full resolver): its imports, and other
    /// accounts' imports that were waiting for it, are installed. Returns the account and
    /// whether it is new.
    pub fn add_account(&self, cfg: natrium_config::AccountConfig) -> (Arc<Account>, bool) {
        if let Some(existing) = self.account(&cfg.name) {
            return (existing, false);
        }
        let cache = !self.options().disable_sublist_cache;
        let acc = Account::new(&cfg.name, cache, cfg.jetstream.clone());
        acc.set_mappings(compile_mappings(&cfg.mappings));
        let acc = Arc::new(acc);
        let mut accounts = self.accounts.write();
        accounts.insert(cfg.name.clone(), acc.clone());
        let mut configs = self.account_configs.write();
        configs.insert(cfg.name.clone(), cfg.clone());
        if let Some(sys) = self.system_account.as_ref().and_then(|n| accounts.get(n)) {
            install_system_imports(&acc, sys, &self.internal_client);
        }
        self.place_imports_of(&cfg.name, &configs, &accounts);
        (acc, true)
    }

    /// An account's new exports and imports (an updated account JWT): every import into or
    /// out of it is taken back and placed again under the new configuration.
    pub fn update_account_links(&self, cfg: natrium_config::AccountConfig) {
        let accounts = self.accounts.write();
        let mut configs = self.account_configs.write();
        let name = cfg.name.clone();
        if let Some(acc) = accounts.get(&name) {
            acc.set_mappings(compile_mappings(&cfg.mappings));
        }
        configs.insert(name.clone(), cfg);
        {
            let mut subs = self.import_subs.lock();
            subs.retain(|i| {
                let touches = i.importer == name || i.exporter == name;
                if touches {
                    let _ = i.home.sublist.remove(&i.subject, None, &i.sub);
                }
                !touches
            });
        }
        self.place_imports_of(&name, &configs, &accounts);
    }

    /// Places `name`'s imports and every other account's imports from `name`.
    fn place_imports_of(
        &self,
        name: &str,
        configs: &HashMap<String, natrium_config::AccountConfig>,
        accounts: &HashMap<String, Arc<Account>>,
    ) {
        let mut placed = Vec::new();
        if let Some(cfg) = configs.get(name) {
            placed.extend(install_imports(
                cfg,
                configs,
                accounts,
                &self.internal_client,
            ));
        }
        for other in configs.values().filter(|o| o.name != name) {
            let waiting: Vec<_> = other
                .imports
                .iter()
                .filter(|i| i.account == name)
                .cloned()
                .collect();
            if !waiting.is_empty() {
                let only = natrium_config::AccountConfig {
                    imports: waiting,
                    ..other.clone()
                };
                placed.extend(install_imports(
                    &only,
                    configs,
                    accounts,
                    &self.internal_client,
                ));
            }
        }
        self.import_subs.lock().extend(placed);
    }

    /// Asks every client of account `name` to check its credentials again.
    pub fn reauth_account(&self, name: &str) {
        for c in self.all_clients() {
            if c.meta.account() == name {
                c.request_reauth();
            }
        }
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
            jetstream: self.jetstream_enabled.get().is_some(),
            client_id,
            client_ip,
            nonce: None,
            domain: opts
                .jetstream_domain
                .clone()
                .filter(|_| self.jetstream_enabled.get().is_some()),
            connect_urls: Vec::new(),
            ldm: self.is_lame_duck(),
            connect_info: false,
            remote_account: None,
            api_lvl: natrium_jetstream::API_LEVEL,
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

    /// The connection with id `cid`, if it is still connected.
    pub(crate) fn client(&self, cid: u64) -> Option<Arc<Client>> {
        self.clients.lock().get(&cid).map(|e| e.client.clone())
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
            let host = reachable_host(&self.options().http_host);
            let urls = serde_json::json!([format!("http://{host}:{}", m.port())]);
            body.pop();
            body.push_str(&format!(",\"monitoring\":{urls}}}"));
        }
        if let Some(a) = self.ws_addr.get() {
            // After "monitoring" (nats-server leaves cluster and profile out when off).
            let ws = self.options().websocket.clone().unwrap_or_default();
            let scheme = if ws.no_tls { "ws" } else { "wss" };
            let urls = serde_json::json!([format!(
                "{scheme}://{}:{}",
                reachable_host(&ws.host),
                a.port()
            )]);
            body.pop();
            body.push_str(&format!(",\"websocket\":{urls}}}"));
        }
        std::fs::write(&path, body)?;
        Ok(path)
    }
}

/// A host a local client can reach a listener bound to `host` at (loopback for the
/// wildcard addresses), in URL form.
fn reachable_host(host: &str) -> String {
    if host.is_empty() || host == "0.0.0.0" || host == "::" {
        "127.0.0.1".to_string()
    } else {
        crate::listen::url_host(host)
    }
}

/// Places each of `a`'s imports as a forwarding subscription: stream imports in the
/// exporter's index on the import subject, service imports in the importer's index on the
/// local subject. An import the exporter does not allow (JWT accounts are not checked by
/// the config loader) is logged and left out; one whose exporter does not exist yet is
/// installed when it arrives.
/// One import subscription placed in an account's subject index.
struct InstalledImport {
    importer: String,
    exporter: String,
    home: Arc<Account>,
    subject: String,
    sub: SubRef,
}

fn install_imports(
    a: &natrium_config::AccountConfig,
    configs: &HashMap<String, natrium_config::AccountConfig>,
    accounts: &HashMap<String, Arc<Account>>,
    owner: &Arc<Client>,
) -> Vec<InstalledImport> {
    let mut placed = Vec::new();
    let Some(importer) = accounts.get(&a.name) else {
        return placed;
    };
    for imp in &a.imports {
        let Some(exporter) = accounts.get(&imp.account) else {
            continue;
        };
        let Some(export) = matching_export(configs.get(&imp.account), imp, &a.name) else {
            warn!(
                "Import of {:?} from account {} into {} is not authorized by an export",
                imp.subject, imp.account, a.name
            );
            continue;
        };
        let (home, subject, forward) = match (imp.kind, export.kind) {
            (ImportKind::Stream, _) => (
                exporter,
                imp.subject.clone(),
                Forward::Stream {
                    to: Arc::downgrade(importer),
                    subject: imp.subject.clone(),
                    local: imp.local.clone(),
                },
            ),
            (ImportKind::Service, kind) => {
                let local = imp.local.clone().unwrap_or_else(|| imp.subject.clone());
                let (response, threshold) = match kind {
                    ExportKind::Service {
                        response,
                        threshold,
                    } => (response, threshold),
                    ExportKind::Stream => (
                        natrium_config::ResponseType::Singleton,
                        natrium_config::DEFAULT_RESPONSE_THRESHOLD,
                    ),
                };
                (
                    importer,
                    local.clone(),
                    Forward::Service {
                        from: Arc::downgrade(importer),
                        to: Arc::downgrade(exporter),
                        local,
                        remote: imp.subject.clone(),
                        response,
                        threshold,
                    },
                )
            }
        };
        let sub = SubRef(Arc::new(Subscription::forwarding(
            owner.clone(),
            &subject,
            forward,
        )));
        match home.sublist.insert(&subject, None, sub.clone()) {
            Ok(()) => placed.push(InstalledImport {
                importer: a.name.clone(),
                exporter: imp.account.clone(),
                home: home.clone(),
                subject,
                sub,
            }),
            Err(e) => error!(
                "Error adding import of {subject:?} into account {}: {e}",
                a.name
            ),
        }
    }
    placed
}

/// Mappings as the router applies them (the config loader has validated them).
fn compile_mappings(list: &[natrium_config::Mapping]) -> Vec<natrium_sublist::WeightedMapping> {
    list.iter()
        .filter_map(|m| match m.compile() {
            Ok(w) => Some(w),
            Err(e) => {
                error!("Error adding mapping for {:?} : {e}", m.source);
                None
            }
        })
        .collect()
}

/// The system requests every account may make about itself, as nats-server imports them
/// from the system account: `$SYS.REQ.ACCOUNT.PING.CONNZ|STATZ` and
/// `$SYS.REQ.SERVER.PING.CONNZ`, answered with that account's data only.
fn install_system_imports(acc: &Arc<Account>, sys: &Arc<Account>, owner: &Arc<Client>) {
    let name = &acc.name;
    let pairs = [
        (
            "$SYS.REQ.ACCOUNT.PING.CONNZ",
            format!("$SYS.REQ.ACCOUNT.{name}.CONNZ"),
        ),
        (
            "$SYS.REQ.ACCOUNT.PING.STATZ",
            format!("$SYS.REQ.ACCOUNT.{name}.STATZ"),
        ),
        (
            "$SYS.REQ.SERVER.PING.CONNZ",
            format!("$SYS.REQ.ACCOUNT.{name}.CONNZ"),
        ),
    ];
    for (local, remote) in pairs {
        let forward = Forward::Service {
            from: Arc::downgrade(acc),
            to: Arc::downgrade(sys),
            local: local.to_string(),
            remote,
            response: natrium_config::ResponseType::Singleton,
            threshold: natrium_config::DEFAULT_RESPONSE_THRESHOLD,
        };
        let sub = SubRef(Arc::new(Subscription::forwarding(
            owner.clone(),
            local,
            forward,
        )));
        if let Err(e) = acc.sublist.insert(local, None, sub) {
            error!("Error adding system import {local:?} into account {name}: {e}");
        }
    }
}

/// The export of `exporter` that allows `imp` into account `importer`.
fn matching_export<'a>(
    exporter: Option<&'a natrium_config::AccountConfig>,
    imp: &natrium_config::Import,
    importer: &str,
) -> Option<&'a natrium_config::Export> {
    let now = chrono::Utc::now().timestamp();
    exporter?.exports.iter().find(|e| {
        let is_service = matches!(e.kind, ExportKind::Service { .. });
        is_service == (imp.kind == ImportKind::Service)
            && natrium_sublist::subject_is_subset(&imp.subject, &e.subject)
            && e.admits(imp, importer, now)
    })
}
