//! HTTP monitoring: nats-server's monitoring endpoints (`/varz`, `/connz`, `/routez`,
//! `/gatewayz`, `/leafz`, `/subsz`, `/accountz`, `/accstatz`, `/jsz`, `/healthz`, and `/`)
//! plus a native Prometheus `/metrics`, served on `-m PORT` / `http_port` / `http`.
//!
//! This module owns the listener, routing under `http_base_path`, query decoding with
//! nats-server's error texts, and [`MonitorState`] (closed-connection ring, request counts,
//! CPU sampler, the JetStream provider). Each endpoint family lives in its own file and only
//! reads server state. Handlers run on tokio's blocking pool, so walking the subject index
//! or reading `/proc` never stalls connection tasks. It must not change what clients see,
//! with one exception copied from nats-server: `/connz` may send an RTT PING.

pub mod accounts;
pub mod cluster;
pub mod connz;
pub mod format;
pub mod jetstream;
pub mod meta;
pub mod metrics;
pub mod subsz;
pub mod varz;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use tokio::sync::Semaphore;

pub use jetstream::JetStreamMonitor;
pub use meta::ClientMeta;

use crate::outbound::{Client, CloseReason};
use crate::server::Server;
use crate::{debug, error, info};

/// Most monitoring connections served at once; more wait in the accept backlog.
const CONNECTIONS_MAX: usize = 64;
/// A client must send its request headers within this time (nats-server uses 5 s).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The endpoints, in the order the index page lists them.
const ENDPOINTS: &[(&str, &str)] = &[
    ("varz", "General"),
    ("jsz", "JetStream"),
    ("connz", "Connections"),
    ("accountz", "Accounts"),
    ("accstatz", "Account Stats"),
    ("subsz", "Subscriptions"),
    ("routez", "Routes"),
    ("leafz", "LeafNodes"),
    ("gatewayz", "Gateways"),
    ("healthz", "Health Probe"),
    ("metrics", "Prometheus Metrics"),
];

/// Monitoring's own state, kept in the [`Server`].
pub struct MonitorState {
    pub closed: meta::ClosedRing,
    pub cpu: varz::CpuSampler,
    req_stats: Mutex<BTreeMap<String, u64>>,
    stale_connections: AtomicU64,
    config_load_ns: AtomicU64,
    addr: Mutex<Option<SocketAddr>>,
    jetstream: OnceLock<Arc<dyn JetStreamMonitor>>,
}

impl Default for MonitorState {
    fn default() -> Self {
        Self::new()
    }
}

impl MonitorState {
    pub fn new() -> MonitorState {
        MonitorState {
            closed: meta::ClosedRing::default(),
            cpu: varz::CpuSampler::default(),
            req_stats: Mutex::new(BTreeMap::new()),
            stale_connections: AtomicU64::new(0),
            config_load_ns: AtomicU64::new(format::unix_nanos(SystemTime::now())),
            addr: Mutex::new(None),
            jetstream: OnceLock::new(),
        }
    }

    /// Installs the JetStream provider for `/jsz`, `/healthz` and `/varz` (once).
    pub fn set_jetstream(&self, provider: Arc<dyn JetStreamMonitor>) {
        let _ = self.jetstream.set(provider);
    }

    pub fn jetstream(&self) -> Option<&Arc<dyn JetStreamMonitor>> {
        self.jetstream.get()
    }

    /// The bound monitoring address, once listening.
    pub fn addr(&self) -> Option<SocketAddr> {
        *self.addr.lock()
    }

    pub fn http_req_stats(&self) -> BTreeMap<String, u64> {
        self.req_stats.lock().clone()
    }

    pub fn stale_connections(&self) -> u64 {
        self.stale_connections.load(Ordering::Relaxed)
    }

    pub fn config_load_time(&self) -> SystemTime {
        format::from_unix_nanos(self.config_load_ns.load(Ordering::Relaxed))
    }

    /// The configuration was (re)loaded now.
    pub fn config_reloaded(&self) {
        let now = format::unix_nanos(SystemTime::now());
        self.config_load_ns.store(now, Ordering::Relaxed);
    }

    /// Records a connection that left the registry: the closed ring, and the counters that
    /// depend on why it closed. Returns whether it was a slow consumer the outbound path
    /// did not count (write deadline).
    pub fn record_closed(&self, client: &Client, max_closed: usize) -> bool {
        let reason = client.close_reason();
        if reason == Some(CloseReason::StaleConnection) {
            self.stale_connections.fetch_add(1, Ordering::Relaxed);
        }
        self.closed
            .push(connz::closed_info(client, reason), max_closed);
        reason == Some(CloseReason::SlowConsumerWriteDeadline)
    }

    fn count_request(&self, path: &str) {
        *self.req_stats.lock().entry(path.to_string()).or_insert(0) += 1;
    }
}

/// A decoded URL query: the first value of each parameter, as Go's `Query().Get`.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

/// A malformed parameter; the text is nats-server's and is sent with a 400.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryError(pub String);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Query { pairs }
    }

    pub fn push(&mut self, key: &str, value: &str) {
        self.pairs.push((key.to_string(), value.to_string()));
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Go's `strconv.ParseBool` over the parameter; absent or empty is false.
    pub fn bool(&self, key: &str) -> Result<bool, QueryError> {
        match self.get(key).unwrap_or("") {
            "" => Ok(false),
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            v => Err(QueryError(format!(
                "Error decoding boolean for '{key}': strconv.ParseBool: parsing \"{v}\": invalid syntax"
            ))),
        }
    }

    /// A signed integer parameter; absent or empty is 0.
    pub fn int(&self, key: &str) -> Result<i64, QueryError> {
        match self.get(key).unwrap_or("") {
            "" => Ok(0),
            v => v.parse().map_err(|_| {
                QueryError(format!(
                    "Error decoding int for '{key}': strconv.Atoi: parsing \"{v}\": invalid syntax"
                ))
            }),
        }
    }

    /// An unsigned integer parameter; absent or empty is 0.
    pub fn uint(&self, key: &str) -> Result<u64, QueryError> {
        match self.get(key).unwrap_or("") {
            "" => Ok(0),
            v => v.parse().map_err(|_| {
                QueryError(format!(
                    "Error decoding uint64 for '{key}': strconv.ParseUint: parsing \"{v}\": invalid syntax"
                ))
            }),
        }
    }

    /// `subs`: `detail` asks for details, otherwise a boolean. Returns (subs, detail).
    pub fn subs(&self) -> Result<(bool, bool), QueryError> {
        if self
            .get("subs")
            .unwrap_or("")
            .eq_ignore_ascii_case("detail")
        {
            return Ok((false, true));
        }
        Ok((self.bool("subs")?, false))
    }
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escaped = (b == b'%' && i + 2 < bytes.len())
            .then(|| Some(hex(bytes[i + 1])? << 4 | hex(bytes[i + 2])?))
            .flatten();
        match (b, escaped) {
            (_, Some(v)) => {
                out.push(v);
                i += 2;
            }
            (b'+', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Binds the monitoring listener when `http_port` is set, logs `Starting http monitor on
/// HOST:PORT` and starts serving. Returns the bound address (None when monitoring is off).
pub async fn start(server: &Arc<Server>) -> std::io::Result<Option<SocketAddr>> {
    let opts = server.options();
    // `validate` refused both ports at once, and HTTPS without a `tls` block.
    let (port, tls) = match (opts.http_port, opts.https_port, &opts.tls) {
        (0, 0, _) | (0, _, None) => return Ok(None),
        (0, https, Some(t)) => (https, Some(monitor_tls(t)?)),
        (http, _, _) => (http, None),
    };
    let port = if port < 0 { 0 } else { port as u16 };
    let listener = crate::listen::bind(&opts.http_host, port)?;
    let addr = listener.local_addr()?;
    *server.monitor.addr.lock() = Some(addr);
    info!(
        "Starting {} monitor on {}:{}",
        if tls.is_some() { "https" } else { "http" },
        crate::listen::url_host(&opts.http_host),
        addr.port()
    );
    tokio::spawn(accept_loop(server.clone(), listener, tls));
    Ok(Some(addr))
}

/// The monitor's TLS: the client listener's certificate, without client certificates (as
/// nats-server serves it), and its handshake timeout.
fn monitor_tls(
    t: &natrium_config::TlsOptions,
) -> std::io::Result<(tokio_rustls::TlsAcceptor, Duration)> {
    let plain = natrium_config::TlsOptions {
        verify: false,
        map: false,
        pinned_certs: Vec::new(),
        ..t.clone()
    };
    let config = crate::tls::server_config(&plain).map_err(std::io::Error::other)?;
    Ok((
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        t.handshake_timeout(),
    ))
}

async fn accept_loop(
    server: Arc<Server>,
    listener: tokio::net::TcpListener,
    tls: Option<(tokio_rustls::TlsAcceptor, Duration)>,
) {
    let mut shutdown = server.shutdown_signal();
    let limit = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.changed() => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    error!("Temporary monitor accept error: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let server = server.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_http(server, stream).await,
                Some((acceptor, timeout)) => {
                    if let Some(s) = crate::tls::accept_simple(&acceptor, stream, timeout).await {
                        serve_http(server, s).await;
                    }
                }
            }
            drop(permit);
        });
    }
    debug!("Monitor accept loop exiting..");
}

/// Serves HTTP/1.1 on one monitoring connection (plain or TLS).
async fn serve_http<S>(server: Arc<Server>, stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let server = server.clone();
        async move { Ok::<_, Infallible>(serve(server, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), svc);
    if let Err(e) = conn.await {
        debug!("Monitor connection error: {e}");
    }
}

/// One HTTP response before it is turned into hyper's type.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub cors: bool,
    pub body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            cors: true,
            body,
        }
    }

    fn text(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            cors: false,
            body: body.into(),
        }
    }
}

async fn serve(server: Arc<Server>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query());
    let reply = tokio::task::spawn_blocking(move || route(&server, &path, &query))
        .await
        .unwrap_or_else(|_| Reply::text(500, "internal error\n"));
    let mut resp = Response::new(Full::new(Bytes::from(reply.body)));
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    if reply.cors {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    if reply.status == 404 {
        h.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
    }
    resp
}

/// `http_base_path` as a prefix: "" for the root, else `/segment...` without a trailing `/`.
fn base_prefix(base: &str) -> String {
    let trimmed = base.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

/// Dispatches one request path (already split from its query).
pub fn route(server: &Server, path: &str, q: &Query) -> Reply {
    let base = base_prefix(&server.options().http_base_path);
    let Some(rest) = path.strip_prefix(base.as_str()) else {
        return not_found();
    };
    let endpoint = match rest {
        "" | "/" => "/",
        // nats-server's older name for /subsz.
        "/subscriptionsz" => "/subsz",
        _ => rest,
    };
    let known = endpoint == "/"
        || ENDPOINTS
            .iter()
            .any(|(e, _)| endpoint.strip_prefix('/') == Some(*e));
    if !known {
        return not_found();
    }
    server.monitor.count_request(endpoint);
    render(server, endpoint, q)
}

/// Answers one endpoint (`/varz`, `/connz`, ...) without the HTTP prefix handling; the
/// system account's `$SYS.REQ.*` requests use it too.
pub fn render(server: &Server, endpoint: &str, q: &Query) -> Reply {
    let pretty = |v: Result<Vec<u8>, QueryError>| match v {
        Ok(body) => Reply::json(200, body),
        Err(QueryError(text)) => Reply::text(400, text),
    };
    match endpoint {
        "/" => Reply {
            status: 200,
            content_type: "text/html; charset=utf-8",
            cors: false,
            body: index_html().into_bytes(),
        },
        "/varz" => Reply::json(200, format::to_json_pretty(&varz::varz(server))),
        "/connz" => pretty(
            connz::ConnzOptions::from_query(q)
                .map(|o| format::to_json_pretty(&connz::connz(server, &o))),
        ),
        "/subsz" => pretty(
            subsz::SubszOptions::from_query(q)
                .map(|o| format::to_json_pretty(&subsz::subsz(server, &o))),
        ),
        "/routez" => pretty(cluster::routez(server, q).map(|v| format::to_json_pretty(&v))),
        "/gatewayz" => pretty(cluster::gatewayz(server, q).map(|v| format::to_json_pretty(&v))),
        "/leafz" => pretty(cluster::leafz(server, q).map(|v| format::to_json_pretty(&v))),
        "/accountz" => pretty(accounts::accountz(server, q).map(|v| format::to_json_pretty(&v))),
        "/accstatz" => pretty(accounts::accstatz(server, q).map(|v| format::to_json_pretty(&v))),
        "/jsz" => pretty(jetstream::jsz(server, q)),
        "/healthz" => match jetstream::healthz(server, q) {
            Ok((code, body)) => Reply::json(code, body),
            Err(QueryError(text)) => Reply::text(400, text),
        },
        "/metrics" => Reply {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            cors: false,
            body: metrics::render(server).into_bytes(),
        },
        _ => not_found(),
    }
}

fn not_found() -> Reply {
    Reply::text(404, "404 page not found\n")
}

/// The index page: a link per endpoint, relative so it works under `http_base_path`.
fn index_html() -> String {
    let mut links = String::new();
    for (path, title) in ENDPOINTS {
        links.push_str(&format!(
            "    <a href=./{path}>{title}<span class=\"endpoint\"> /{path}</span></a>\n"
        ));
    }
    format!(
        "<html lang=\"en\">\n  <head>\n    <title>natrium-server monitoring</title>\n    \
         <style type=\"text/css\">\n      body {{ font-family: sans-serif; margin-left: 32px }}\n      \
         a {{ display: block; padding-bottom: 6px; text-decoration: none }}\n      \
         .endpoint {{ font-size: 12px; color: #999; font-family: monospace }}\n    </style>\n  \
         </head>\n  <body>\n    <h3>natrium-server v{} (NATS {})</h3>\n{links}    \
         <a href=https://docs.nats.io/running-a-nats-service/nats_admin/monitoring>Help</a>\n  \
         </body>\n</html>\n",
        crate::server_info::NATRIUM_VERSION,
        crate::server_info::NATS_VERSION,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding_matches_go() {
        let q = Query::parse(Some("subs=detail&auth=T&limit=x&acc=%24G&user=a+b"));
        assert_eq!(q.subs(), Ok((false, true)));
        assert_eq!(q.bool("auth"), Ok(true));
        assert_eq!(q.get("acc"), Some("$G"));
        assert_eq!(q.get("user"), Some("a b"));
        assert!(q.int("limit").unwrap_err().0.contains("strconv.Atoi"));
        assert_eq!(
            Query::parse(Some("subs=xx")).subs().unwrap_err().0,
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"xx\": invalid syntax"
        );
    }

    #[test]
    fn base_paths_normalise() {
        assert_eq!(base_prefix(""), "");
        assert_eq!(base_prefix("/"), "");
        assert_eq!(base_prefix("nats/"), "/nats");
    }
}
