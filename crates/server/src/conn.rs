//! One client connection's task: read, parse, authenticate, subscribe, publish.
//!
//! The reader owns the parser, the connection's subscriptions and its CONNECT options. It
//! handles a whole read buffer at a time: each PUB is routed at once by this task into the
//! subscribers' outbound buffers, and the writers touched are woken once at the end of the
//! batch. Errors are answered with nats-server's `-ERR` texts and close behaviour. The
//! writer half lives in `outbound.rs`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use natrium_protocol::{encode, ClientOp, ConnectInfo, ParseError, Parser};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;

use crate::account::{Account, GLOBAL_ACCOUNT};
use crate::auth::{Authenticated, Permissions};
use crate::operator::{Expiry, JwtGrant};
use crate::outbound::{write_loop, Client, CloseReason};
use crate::replies::ReplyTracker;
use crate::router::{Message, Origin, SubRef, Subscription, Touched};
use crate::server::Server;
use crate::{debug, error, info, trace};

/// The subject on which a client asks the server about itself.
const USER_INFO: &str = "$SYS.REQ.USER.INFO";

/// Read buffer growth step; a read never starts with less free space than this.
const READ_CHUNK_BYTES: usize = 32 * 1024;
/// nats-server sends its first PING two seconds after accept, then every `ping_interval`.
const FIRST_PING_DELAY: Duration = Duration::from_secs(2);
/// Most publish-permission verdicts remembered per connection.
const PUB_CACHE_MAX: usize = 256;

/// Serves one accepted TCP connection until it closes.
pub async fn run(server: Arc<Server>, stream: TcpStream, addr: SocketAddr) {
    let _ = stream.set_nodelay(true);
    // The dual-stack listener reports IPv4 peers as `::ffff:a.b.c.d`; show them as IPv4.
    let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
    let cid = server.next_cid();
    let mut info = server.info_for(cid, addr.ip().to_string());
    let nonce = server.auth().nonce_required().then(crate::auth::new_nonce);
    info.nonce = nonce.clone();
    let plain = Extras {
        nonce: nonce.clone(),
        ..Extras::default()
    };
    let Some(tls) = server.tls() else {
        // The plain path keeps tokio's owned halves: no lock between reader and writer.
        let (rd, wr) = stream.into_split();
        let info = Some(info.to_line());
        return serve(server, rd, wr, addr, cid, info, plain).await;
    };
    let greeting = crate::tls::Greeting {
        normal: info.to_line(),
        after_tls_first: crate::server_info::Info {
            tls_required: true,
            tls_available: false,
            ..info
        }
        .to_line(),
    };
    let prefix = format!("{addr} - cid:{cid}");
    match crate::tls::negotiate(&tls, stream, &greeting, &prefix).await {
        Some((crate::tls::Transport::Plain(stream), pending_info)) => {
            let (rd, wr) = stream.into_split();
            serve(server, rd, wr, addr, cid, pending_info, plain).await
        }
        Some((crate::tls::Transport::Tls(stream, peer), pending_info)) => {
            let (rd, wr) = tokio::io::split(*stream);
            let extras = Extras {
                peer: Some(peer),
                ..plain
            };
            serve(server, rd, wr, addr, cid, pending_info, extras).await
        }
        None => {}
    }
}

/// What the transport adds to a connection.
#[derive(Default)]
struct Extras {
    /// The TLS session's details.
    peer: Option<crate::tls::PeerTls>,
    /// Set for websocket connections.
    websocket: Option<WsContext>,
    /// The nonce sent in INFO (nkey or JWT users), for the CONNECT signature.
    nonce: Option<String>,
}

/// A websocket connection's listener and upgrade request.
pub struct WsContext {
    /// The listener's host and bound port, for INFO.
    pub host: String,
    pub port: u16,
    /// `wss`.
    pub tls: bool,
    pub options: Arc<natrium_config::WebsocketOptions>,
    /// The credentials the request's cookies carried.
    pub cookies: crate::ws::CookieCredentials,
}

/// Serves a websocket connection after its upgrade.
pub async fn serve_websocket<R, W>(
    server: Arc<Server>,
    rd: R,
    wr: W,
    addr: SocketAddr,
    ws: WsContext,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let cid = server.next_cid();
    let mut base = server.info_for(cid, addr.ip().to_string());
    let nonce = server.auth().nonce_required().then(crate::auth::new_nonce);
    base.nonce = nonce.clone();
    let info = crate::server_info::Info {
        tls_required: ws.tls,
        tls_available: ws.tls,
        host: ws.host.clone(),
        port: ws.port,
        auth_required: base.auth_required || ws.options.auth_override(),
        ..base
    };
    let extras = Extras {
        peer: None,
        websocket: Some(ws),
        nonce,
    };
    serve(server, rd, wr, addr, cid, Some(info.to_line()), extras).await
}

/// Runs a connection whose transport is settled: `info` is the INFO still to send (`None`
/// when the TLS opening already sent it).
async fn serve<R, W>(
    server: Arc<Server>,
    rd: R,
    wr: W,
    addr: SocketAddr,
    cid: u64,
    info: Option<Vec<u8>>,
    extras: Extras,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let opts = server.options();
    let client = Arc::new(Client::new(cid, addr, opts.max_pending.max(0) as usize));
    let writer = tokio::spawn(write_loop(client.clone(), wr, opts.write_deadline));
    if let Some(info) = info {
        client.send_raw(&info);
    }
    if let Some(peer) = &extras.peer {
        client.meta.set_tls(peer);
    }
    if extras.websocket.is_some() {
        client.meta.set_websocket();
    }
    if !server.register(&client, addr) {
        error!("{addr} - cid:{cid} - maximum connections exceeded");
        client.send_err("maximum connections exceeded");
        client.close(CloseReason::MaxConnectionsExceeded);
        let _ = writer.await;
        return;
    }
    debug!("{addr} - cid:{cid} - Client connection created");
    let mut conn = Conn::new(server.clone(), client.clone(), addr, extras.nonce);
    conn.cert = extras.peer.and_then(|p| p.cert);
    conn.ws = extras.websocket;
    conn.read_loop(rd).await;
    conn.cleanup();
    let _ = writer.await;
}

struct Conn {
    server: Arc<Server>,
    client: Arc<Client>,
    addr: SocketAddr,
    parser: Parser,
    opts: ConnectInfo,
    connected: bool,
    sent_connect_info: bool,
    user: Option<String>,
    perms: Option<Arc<Permissions>>,
    pub_cache: HashMap<Bytes, bool>,
    subs: HashMap<Bytes, SubRef>,
    pings_out: u32,
    touched: Touched,
    /// The nonce this connection's INFO carried, for nkey signatures.
    nonce: Option<String>,
    /// The account the connection is bound to (`$G` until CONNECT says otherwise).
    account: Arc<Account>,
    /// Set at the first successful CONNECT until its system event is sent.
    connected_event: bool,
    /// Limits a user JWT grants (operator mode): subscriptions and payload, -1 for none.
    jwt_max_subs: i64,
    jwt_max_payload: i64,
    /// When the JWT login ends, and whose credential expires then.
    expires: Option<(tokio::time::Instant, Expiry)>,
    /// The client's TLS certificate, for `verify_and_map`.
    cert: Option<Arc<crate::x509::CertNames>>,
    /// Set for a websocket client: its listener's auth settings and cookie credentials.
    ws: Option<WsContext>,
}

/// What handling one operation decided about the connection.
type OpResult = Result<(), CloseReason>;

impl Conn {
    fn new(
        server: Arc<Server>,
        client: Arc<Client>,
        addr: SocketAddr,
        nonce: Option<String>,
    ) -> Conn {
        let opts = server.options();
        let account = server.global.clone();
        account.connections.fetch_add(1, Ordering::Relaxed);
        Conn {
            parser: Parser::new(
                opts.max_control_line.max(1) as usize,
                opts.max_payload.max(0) as usize,
            ),
            server,
            client,
            addr,
            opts: ConnectInfo::default(),
            connected: false,
            sent_connect_info: false,
            user: None,
            perms: None,
            pub_cache: HashMap::new(),
            subs: HashMap::new(),
            pings_out: 0,
            touched: Touched::default(),
            nonce,
            account,
            connected_event: false,
            jwt_max_subs: -1,
            jwt_max_payload: -1,
            expires: None,
            cert: None,
            ws: None,
        }
    }

    fn prefix(&self) -> String {
        self.client.log_prefix()
    }

    async fn read_loop<R: AsyncRead + Unpin>(&mut self, mut rd: R) {
        let opts = self.server.options();
        let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
        let mut shutdown = self.server.shutdown_signal();
        let client = self.client.clone();
        let start = tokio::time::Instant::now();
        let mut ping = tokio::time::interval_at(start + FIRST_PING_DELAY, opts.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let auth = self.server.auth();
        let timeout = match &self.ws {
            Some(ws) if !ws.options.auth_timeout.is_zero() => ws.options.auth_timeout,
            _ => auth.timeout,
        };
        let auth_deadline = tokio::time::sleep(timeout);
        tokio::pin!(auth_deadline);
        let must_auth = self.auth_required();
        loop {
            if buf.capacity() - buf.len() < READ_CHUNK_BYTES / 4 {
                buf.reserve(READ_CHUNK_BYTES);
            }
            tokio::select! {
                _ = client.closed() => break,
                r = rd.read_buf(&mut buf) => {
                    match r {
                        Ok(0) => { self.client.close(CloseReason::ClientClosed); break; }
                        Err(_) => { self.client.close(CloseReason::ReadError); break; }
                        Ok(_) => {}
                    }
                    let res = self.process(&mut buf).await;
                    self.touched.wake_all();
                    if let Err(reason) = res {
                        self.client.close(reason);
                        break;
                    }
                }
                _ = ping.tick() => {
                    if self.pings_out + 1 > opts.ping_max.max(0) as u32 {
                        debug!("{} - Stale Client Connection - Closing", self.prefix());
                        self.client.send_err("Stale Connection");
                        self.client.close(CloseReason::StaleConnection);
                        break;
                    }
                    self.pings_out += 1;
                    self.client.meta.ping_sent();
                    self.client.send_raw(encode::PING);
                }
                _ = &mut auth_deadline, if must_auth && !self.connected => {
                    error!("{} - Authentication Timeout", self.prefix());
                    self.client.send_err("Authentication Timeout");
                    self.client.close(CloseReason::AuthenticationTimeout);
                    break;
                }
                _ = sleep_until_expiry(self.expires) => {
                    let (text, what) = match self.expires.map(|e| e.1) {
                        Some(Expiry::Account) => ("Account Authentication Expired", "Account"),
                        _ => ("User Authentication Expired", "User"),
                    };
                    debug!("{} - {what} Authentication Expired", self.prefix());
                    self.client.send_err(text);
                    self.client.close(CloseReason::AuthenticationExpired);
                    break;
                }
                _ = client.reauth_requested() => {
                    if let Err(reason) = self.reauthenticate().await {
                        self.client.close(reason);
                        break;
                    }
                }
                _ = shutdown.changed() => {
                    self.client.close(CloseReason::ServerShutdown);
                    break;
                }
            }
        }
    }

    /// Handles every complete operation in `buf`.
    async fn process(&mut self, buf: &mut BytesMut) -> OpResult {
        let (mut msgs, mut bytes) = (0u64, 0u64);
        let res = loop {
            let op = match self.parser.next_op(buf) {
                Ok(Some(op)) => op,
                Ok(None) => break Ok(()),
                Err(e) => break Err(self.parse_error(e)),
            };
            if crate::log::trace_enabled() {
                trace!("{} - <<- [{}]", self.prefix(), describe(&op));
            }
            if !self.connected && !matches!(op, ClientOp::Connect(_)) && self.auth_required() {
                break Err(self.auth_violation(None));
            }
            let r = match op {
                ClientOp::Pub {
                    subject,
                    reply,
                    headers,
                    payload,
                } => {
                    msgs += 1;
                    bytes += (payload.len() + headers.as_ref().map_or(0, |h| h.len())) as u64;
                    self.process_pub(subject, reply, headers, payload)
                }
                ClientOp::Sub {
                    subject,
                    queue,
                    sid,
                } => self.process_sub(subject, queue, sid),
                ClientOp::Unsub { sid, max } => self.process_unsub(sid, max),
                ClientOp::Ping => self.process_ping(),
                ClientOp::Pong => {
                    self.pings_out = 0;
                    self.client.meta.pong_received();
                    Ok(())
                }
                ClientOp::Connect(json) => self.process_connect(json).await,
                ClientOp::Info(_) | ClientOp::Ok => Ok(()),
                ClientOp::Err(text) => {
                    error!(
                        "{} - Client Error {}",
                        self.prefix(),
                        String::from_utf8_lossy(&text).trim_matches('\'')
                    );
                    Err(CloseReason::ParseError)
                }
            };
            if let Err(reason) = r {
                break Err(reason);
            }
        };
        if msgs > 0 {
            self.client.counters.add_in(msgs, bytes);
            self.server.stats.msgs.add_in(msgs, bytes);
            self.account.stats.add_in(msgs, bytes);
            self.client.meta.touch();
        }
        res
    }

    fn parse_error(&self, e: ParseError) -> CloseReason {
        error!("{} - {}", self.prefix(), e);
        match e {
            ParseError::UnknownOp | ParseError::BadPayload => {
                self.client.send_err("Unknown Protocol Operation");
                CloseReason::ProtocolViolation
            }
            ParseError::MaxControlLine { .. } => {
                self.client.send_err("maximum control line exceeded");
                CloseReason::MaxControlLineExceeded
            }
            ParseError::MaxPayload { .. } => {
                self.client.send_err("Maximum Payload Violation");
                CloseReason::MaxPayloadExceeded
            }
            // nats-server closes on malformed arguments without sending an -ERR.
            ParseError::BadArgs { .. } => CloseReason::ProtocolViolation,
        }
    }

    fn auth_violation(&self, user: Option<&str>) -> CloseReason {
        match user {
            Some(u) => error!("{} - authentication error - User {u:?}", self.prefix()),
            None => error!("{} - authentication error", self.prefix()),
        }
        self.client.send_err("Authorization Violation");
        if !self.connected {
            if let Some(ev) = self.server.events.get() {
                ev.auth_error(
                    &self.client,
                    user,
                    CloseReason::AuthenticationViolation.as_str(),
                );
            }
        }
        CloseReason::AuthenticationViolation
    }

    fn ok(&self) {
        if self.opts.verbose {
            self.client.send_raw(encode::OK);
        }
    }

    async fn process_connect(&mut self, json: Bytes) -> OpResult {
        let ci = match ConnectInfo::parse(&json) {
            Ok(ci) => ci,
            Err(e) => {
                error!("{} - {}", self.prefix(), e);
                return Err(CloseReason::ProtocolViolation);
            }
        };
        if ci.protocol > 1 || ci.protocol < 0 {
            self.client.send_err("invalid client protocol");
            return Err(CloseReason::ProtocolViolation);
        }
        if ci.no_responders && !ci.headers {
            self.client
                .send_err("no responders requires headers support");
            return Err(CloseReason::ProtocolViolation);
        }
        if !self.connected {
            let Some((auth, grant)) = self.authenticate(&ci).await else {
                return Err(self.auth_violation(ci.user.as_deref()));
            };
            if !self.bind_account(auth.account.as_deref()) {
                return Err(self.auth_violation(ci.user.as_deref()));
            }
            self.apply_auth(auth);
            self.apply_grant(grant)?;
            self.connected = true;
            self.connected_event = true;
        }
        self.client.headers.store(ci.headers, Ordering::Relaxed);
        self.client
            .meta
            .set_identity(crate::monitor::meta::Identity {
                name: ci.name.clone().unwrap_or_default(),
                lang: ci.lang.clone().unwrap_or_default(),
                version: ci.version.clone().unwrap_or_default(),
                user: self.user.clone(),
            });
        self.opts = ci;
        if std::mem::take(&mut self.connected_event) {
            if let Some(ev) = self.server.events.get() {
                ev.client_connect(&self.client, &self.account.name);
            }
        }
        self.ok();
        Ok(())
    }

    /// The client's address and connection type, as user JWTs restrict them.
    fn peer(&self) -> (std::net::IpAddr, &'static str) {
        let kind = if self.ws.is_some() {
            "WEBSOCKET"
        } else {
            "STANDARD"
        };
        (self.addr.ip(), kind)
    }

    /// Moves the connection into `name`'s account (`None`: the global one). Only happens
    /// at the first CONNECT, before the connection has subscriptions.
    fn bind_account(&mut self, name: Option<&str>) -> bool {
        let name = name.unwrap_or(GLOBAL_ACCOUNT);
        let Some(acc) = self.server.account(name) else {
            return false;
        };
        self.account.connections.fetch_sub(1, Ordering::Relaxed);
        acc.connections.fetch_add(1, Ordering::Relaxed);
        self.client.meta.set_account(&acc.name);
        self.account = acc;
        true
    }

    /// Applies what a JWT login grants: limits, expiry, the account's connection cap.
    fn apply_grant(&mut self, grant: Option<JwtGrant>) -> OpResult {
        let Some(g) = grant else {
            return Ok(());
        };
        self.jwt_max_subs = g.max_subs;
        self.jwt_max_payload = g.max_payload;
        self.expires = g.expires.map(|(at, who)| {
            let left = (at - chrono::Utc::now().timestamp()).max(0) as u64;
            (tokio::time::Instant::now() + Duration::from_secs(left), who)
        });
        if g.max_conns >= 0 && self.account.connections.load(Ordering::Relaxed) > g.max_conns as u64
        {
            error!(
                "{} - maximum account active connections exceeded",
                self.prefix()
            );
            self.client
                .send_err("maximum account active connections exceeded");
            return Err(CloseReason::MaxAccountConnectionsExceeded);
        }
        Ok(())
    }

    /// CONNECT credentials (a user JWT in operator mode), or the client certificate under
    /// `verify_and_map`.
    async fn authenticate(&self, ci: &ConnectInfo) -> Option<(Authenticated, Option<JwtGrant>)> {
        let auth = self.server.auth();
        if let Some(ws) = &self.ws {
            return self.authenticate_websocket(ws, ci).await;
        }
        if !auth.maps_certificates() {
            return authenticate(&self.server, ci, self.nonce.as_deref(), self.peer()).await;
        }
        let found = auth.authenticate_certificate(self.cert.as_deref());
        match &found {
            Some(a) => {
                if let Some(user) = &ci.user {
                    crate::warn!(
                        "User {user:?} found in connect proto, but user required from cert"
                    );
                }
                debug!(
                    "{} - Using certificate for auth [{:?}]",
                    self.prefix(),
                    a.user.as_deref().unwrap_or_default()
                );
            }
            None => match &self.cert {
                Some(c) => debug!(
                    "{} - User in cert [{:?}], not found",
                    self.prefix(),
                    c.subject_string()
                ),
                None => debug!(
                    "{} - User required in cert, no peer certificates found",
                    self.prefix()
                ),
            },
        }
        found.map(|a| (a, None))
    }

    /// A websocket client: cookies stand in for missing CONNECT credentials, and the
    /// block's own user, token or `no_auth_user` replace the top-level ones (nats-server's
    /// "auth override").
    async fn authenticate_websocket(
        &self,
        ws: &WsContext,
        ci: &ConnectInfo,
    ) -> Option<(Authenticated, Option<JwtGrant>)> {
        let mut ci = ci.clone();
        if ci.user.is_none() && ci.pass.is_none() && ci.auth_token.is_none() {
            let c = &ws.cookies;
            (ci.user, ci.pass, ci.auth_token) = (c.user.clone(), c.pass.clone(), c.token.clone());
        }
        if ci.jwt.is_none() {
            ci.jwt = ws.cookies.jwt.clone();
        }
        let o = &ws.options;
        if !o.auth_override() {
            return authenticate(&self.server, &ci, self.nonce.as_deref(), self.peer()).await;
        }
        let anonymous = ci.user.is_none() && ci.auth_token.is_none() && ci.nkey.is_none();
        if let (true, Some(name)) = (anonymous, &o.no_auth_user) {
            return self.server.auth().as_user(name).map(|a| (a, None));
        }
        if o.username.is_none() && o.token.is_none() {
            return authenticate(&self.server, &ci, self.nonce.as_deref(), self.peer()).await;
        }
        let o = o.clone();
        let check = move || {
            crate::auth::check_single(
                o.username.as_deref(),
                o.password.as_deref(),
                o.token.as_deref(),
                &ci,
            )
        };
        let slow = ws
            .options
            .password
            .as_deref()
            .or(ws.options.token.as_deref())
            .is_some_and(crate::auth::is_bcrypt);
        let found = if slow {
            tokio::task::spawn_blocking(check).await.ok().flatten()
        } else {
            check()
        };
        found.map(|a| (a, None))
    }

    /// Whether this client must authenticate (a websocket block may require it alone).
    fn auth_required(&self) -> bool {
        self.server.auth().required() || self.ws.as_ref().is_some_and(|w| w.options.auth_override())
    }

    fn apply_auth(&mut self, auth: Authenticated) {
        let Authenticated {
            user, permissions, ..
        } = auth;
        self.user = user;
        self.perms = permissions.filter(|p| !p.is_unrestricted() || p.response.is_some());
        self.pub_cache.clear();
        if let Some(limit) = self.perms.as_ref().and_then(|p| p.response) {
            self.client.set_reply_tracker(ReplyTracker::new(limit));
        }
    }

    /// After a config reload: checks this connection's credentials against the new
    /// configuration, as nats-server does; a client that no longer passes is closed.
    async fn reauthenticate(&mut self) -> OpResult {
        if !self.connected {
            return Ok(());
        }
        let ci = self.opts.clone();
        match self.authenticate(&ci).await {
            Some((auth, grant))
                if auth.account.as_deref().unwrap_or(GLOBAL_ACCOUNT) == self.account.name =>
            {
                self.apply_auth(auth);
                self.expires = None;
                self.drop_forbidden_subs();
                self.apply_grant(grant)
            }
            None if self.server.operator.is_some() => {
                // A JWT login that stopped passing: revoked or expired by an account update.
                debug!("{} - User Authentication Revoked", self.prefix());
                self.client.send_err("User Authentication Revoked");
                Err(CloseReason::CredentialsRevoked)
            }
            _ => Err(self.auth_violation(self.opts.user.clone().as_deref())),
        }
    }

    /// After the permissions changed: removes each subscription they no longer allow and
    /// tells the client, with nats-server's wording (which clients parse).
    fn drop_forbidden_subs(&mut self) {
        let Some(perms) = self.perms.clone() else {
            return;
        };
        let forbidden: Vec<Bytes> = self
            .subs
            .iter()
            .filter(|(_, sub)| {
                !perms
                    .subscribe
                    .allows_subscription(&sub.0.subject, sub.0.queue.as_deref())
            })
            .map(|(sid, _)| sid.clone())
            .collect();
        for sid in forbidden {
            let Some(sub) = self.subs.remove(&sid) else {
                continue;
            };
            let (subject, queue) = (&sub.0.subject, sub.0.queue.as_deref());
            if self.account.sublist.remove(subject, queue, &sub).is_ok() {
                self.client.meta.sub_removed();
            }
            let sid = String::from_utf8_lossy(&sid);
            let user = format!("User {:?}", self.user.clone().unwrap_or_default());
            let text = match queue {
                Some(q) => {
                    info!("Removed sub \"{subject}\" using queue \"{q}\" (sid \"{sid}\") for {user} - not authorized");
                    format!("Permissions Violation for Subscription to \"{subject}\" using queue \"{q}\" (sid \"{sid}\")")
                }
                None => {
                    info!("Removed sub \"{subject}\" (sid \"{sid}\") for {user} - not authorized");
                    format!(
                        "Permissions Violation for Subscription to \"{subject}\" (sid \"{sid}\")"
                    )
                }
            };
            self.client.send_err(&text);
        }
    }

    fn process_ping(&mut self) -> OpResult {
        self.client.send_raw(encode::PONG);
        if self.connected && self.opts.protocol >= 1 && !self.sent_connect_info {
            // nats-server follows the first PONG with an INFO confirming the connection.
            self.sent_connect_info = true;
            let mut info = self
                .server
                .info_for(self.client.cid, self.addr.ip().to_string());
            info.connect_info = true;
            info.remote_account = Some(self.account.name.clone());
            self.client.send_raw(&info.to_line());
        }
        Ok(())
    }

    fn may_publish(&mut self, subject: &Bytes, subject_str: &str) -> bool {
        let Some(perms) = &self.perms else {
            return true;
        };
        if let Some(&v) = self.pub_cache.get(subject) {
            if v {
                return true;
            }
        } else {
            let v = perms.publish.allows_literal(subject_str);
            if self.pub_cache.len() >= PUB_CACHE_MAX {
                self.pub_cache.clear();
            }
            self.pub_cache.insert(subject.clone(), v);
            if v {
                return true;
            }
        }
        // A reply to a request this client received is allowed by `allow_responses`.
        self.client.take_reply_permit(subject_str)
    }

    fn process_pub(
        &mut self,
        subject: Bytes,
        reply: Option<Bytes>,
        headers: Option<Bytes>,
        payload: Bytes,
    ) -> OpResult {
        if headers.is_some() && !self.opts.headers {
            error!("{} - message headers not supported", self.prefix());
            return Err(CloseReason::ProtocolViolation);
        }
        let size = payload.len() + headers.as_ref().map_or(0, |h| h.len());
        if self.jwt_max_payload >= 0 && size as i64 > self.jwt_max_payload {
            error!(
                "{} - maximum payload exceeded: {size} vs {}",
                self.prefix(),
                self.jwt_max_payload
            );
            self.client.send_err("Maximum Payload Violation");
            return Err(CloseReason::MaxPayloadExceeded);
        }
        let Ok(subj) = std::str::from_utf8(&subject) else {
            self.client.send_err("Invalid Publish Subject");
            return Ok(());
        };
        if self.opts.pedantic && !natrium_sublist::is_valid_literal_subject(subj) {
            self.client.send_err("Invalid Publish Subject");
            self.ok();
            return Ok(());
        }
        if !self.may_publish(&subject, subj) {
            error!("{} - Publish Violation - Subject \"{subj}\"", self.prefix());
            self.client
                .send_err(&format!("Permissions Violation for Publish to \"{subj}\""));
            return Ok(());
        }
        // nats-server acknowledges a verbose publish before delivering it.
        self.ok();
        if subj == USER_INFO && self.server.system_account.is_some() {
            if let Some(reply) = &reply {
                self.answer_user_info(reply);
            }
            return Ok(());
        }
        let mut trace = headers
            .as_ref()
            .and_then(|h| crate::msgtrace::Trace::from_headers(h, size, &self.account.name));
        if let Some(t) = trace.as_mut() {
            t.ingress(
                self.client.cid,
                self.opts.name.as_deref().unwrap_or(""),
                subj,
            );
        }
        // A weighted mapping may drop the message.
        let Some(mapped) = self.account.map_subject(subj) else {
            return Ok(());
        };
        if let Some(t) = trace.as_mut().filter(|_| *mapped != *subj) {
            t.mapped(&mapped);
        }
        let subj: &str = &mapped;
        let msg = Message {
            subject: subj,
            shown_subject: subj,
            reply: reply.as_deref(),
            headers: headers.as_ref(),
            payload: &payload,
        };
        let origin = Origin {
            cid: self.client.cid,
            echo: self.opts.echo,
            rtt_ns: self.client.meta.rtt().as_nanos() as u64,
        };
        let delivered = match trace.as_mut() {
            None => self
                .server
                .route(&self.account, origin, &msg, &mut self.touched),
            Some(t) => {
                let n = self
                    .server
                    .route_traced(&self.account, origin, &msg, &mut self.touched, t);
                self.send_trace(trace.take());
                n
            }
        };
        if delivered == 0 && self.opts.no_responders {
            if let Some(reply) = &reply {
                self.send_no_responders(subj, reply);
            }
        }
        Ok(())
    }

    /// Publishes a message trace's report on its destination in this account.
    fn send_trace(&mut self, trace: Option<crate::msgtrace::Trace>) {
        let Some(t) = trace else {
            return;
        };
        let dest = t.dest.clone();
        let body = t.finish(&self.server);
        self.publish_from_server(&dest, &body);
    }

    /// Publishes a message from the server itself in this connection's account.
    fn publish_from_server(&mut self, subject: &str, body: &Bytes) {
        let msg = Message {
            subject,
            shown_subject: subject,
            reply: None,
            headers: None,
            payload: body,
        };
        let origin = Origin {
            cid: crate::outlet::INTERNAL_CID,
            echo: true,
            rtt_ns: 0,
        };
        self.server
            .route(&self.account, origin, &msg, &mut self.touched);
    }

    /// `$SYS.REQ.USER.INFO`: who this connection is, delivered on its reply subject like
    /// any message published in its account.
    fn answer_user_info(&mut self, reply: &Bytes) {
        let Ok(reply) = std::str::from_utf8(reply) else {
            return;
        };
        let mut data = serde_json::json!({
            "user": self.user.clone().unwrap_or_default(),
            "account": self.account.name,
        });
        if let Some(p) = &self.perms {
            data["permissions"] = p.public_json();
        }
        if let Some((at, _)) = &self.expires {
            let left = at.saturating_duration_since(tokio::time::Instant::now());
            data["expires"] = (left.as_nanos() as u64).into();
        }
        let body = Bytes::from(crate::sysacc::user_info(&self.server, data));
        self.publish_from_server(reply, &body);
    }

    /// Tells a requester that nobody is listening: a 503 status message on its reply subject,
    /// delivered to this client's own subscriptions that match it.
    fn send_no_responders(&mut self, subject: &str, reply: &Bytes) {
        let Ok(reply_str) = std::str::from_utf8(reply) else {
            return;
        };
        let headers = Bytes::from(format!("NATS/1.0 503\r\nNats-Subject: {subject}\r\n\r\n"));
        let empty = Bytes::new();
        let result = self.account.sublist.match_subject(reply_str);
        let own = result
            .plain
            .iter()
            .chain(result.queues.iter().flat_map(|(_, m)| m.iter()))
            .filter(|s| s.0.client.cid == self.client.cid);
        for sub in own {
            let r = self
                .client
                .enqueue_msg(reply, &sub.0.sid, None, Some(&headers), &empty);
            if matches!(r, crate::outbound::Enqueued::Queued { wake: true }) {
                self.touched.push(&self.client);
            }
        }
    }

    fn process_sub(&mut self, subject: Bytes, queue: Option<Bytes>, sid: Bytes) -> OpResult {
        let subj = std::str::from_utf8(&subject)
            .ok()
            .filter(|s| natrium_sublist::is_valid_subject(s));
        let Some(subj) = subj else {
            self.client.send_err("Invalid Subject");
            return Ok(());
        };
        let q = match &queue {
            None => None,
            Some(q) => match std::str::from_utf8(q)
                .ok()
                .filter(|q| natrium_sublist::is_valid_queue(q))
            {
                Some(q) => Some(q),
                None => {
                    self.client.send_err("Invalid Subject");
                    return Ok(());
                }
            },
        };
        if let Some(perms) = &self.perms {
            if !perms.subscribe.allows_subscription(subj, q) {
                let text = match q {
                    Some(q) => format!(
                        "Permissions Violation for Subscription to \"{subj}\" using queue \"{q}\""
                    ),
                    None => format!("Permissions Violation for Subscription to \"{subj}\""),
                };
                match q {
                    Some(q) => error!(
                        "{} - Subscription Violation - Subject \"{subj}\", Queue: \"{q}\", SID {}",
                        self.prefix(),
                        String::from_utf8_lossy(&sid)
                    ),
                    None => error!(
                        "{} - Subscription Violation - Subject \"{subj}\", SID {}",
                        self.prefix(),
                        String::from_utf8_lossy(&sid)
                    ),
                }
                self.client.send_err(&text);
                return Ok(());
            }
        }
        if self.subs.contains_key(&sid) {
            self.ok();
            return Ok(());
        }
        let max_subs = self.server.options().max_subscriptions;
        let over_jwt = self.jwt_max_subs >= 0 && self.subs.len() as i64 >= self.jwt_max_subs;
        if over_jwt || (max_subs > 0 && self.subs.len() >= max_subs as usize) {
            error!("{} - maximum subscriptions exceeded", self.prefix());
            self.client.send_err("maximum subscriptions exceeded");
            return Ok(());
        }
        let deny_check = self
            .perms
            .as_ref()
            .filter(|p| p.subscribe.needs_delivery_check(subj))
            .cloned();
        let sub = SubRef(Arc::new(Subscription::new(
            self.client.clone(),
            subj,
            q,
            sid.clone(),
            deny_check,
        )));
        if self.account.sublist.insert(subj, q, sub.clone()).is_err() {
            self.client.send_err("Invalid Subject");
            return Ok(());
        }
        self.subs.insert(sid, sub);
        self.client.meta.sub_added();
        self.client.meta.touch();
        self.ok();
        Ok(())
    }

    fn process_unsub(&mut self, sid: Bytes, max: Option<u64>) -> OpResult {
        let remove_now = match (self.subs.get(&sid), max) {
            (Some(sub), Some(max)) => sub.0.set_max(max),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if remove_now {
            if let Some(sub) = self.subs.remove(&sid) {
                let removed =
                    self.account
                        .sublist
                        .remove(&sub.0.subject, sub.0.queue.as_deref(), &sub);
                if removed.is_ok() {
                    self.client.meta.sub_removed();
                }
                self.client.meta.touch();
            }
        }
        self.ok();
        Ok(())
    }

    /// Removes everything the connection registered.
    fn cleanup(&mut self) {
        let subs = crate::monitor::subsz::client_list(self.subs.values().map(|s| &*s.0));
        self.client.meta.set_final_subs(subs);
        for (_, sub) in self.subs.drain() {
            let _ = self
                .account
                .sublist
                .remove(&sub.0.subject, sub.0.queue.as_deref(), &sub);
        }
        self.account.connections.fetch_sub(1, Ordering::Relaxed);
        self.server.unregister(self.client.cid);
        let reason = self
            .client
            .close_reason()
            .unwrap_or(CloseReason::ClientClosed);
        debug!(
            "{} - Client connection closed: {}",
            self.prefix(),
            reason.as_str()
        );
        if self.connected {
            if let Some(ev) = self.server.events.get() {
                ev.client_disconnect(&self.client, &self.account.name, reason.as_str());
            }
        }
    }
}

/// Checks CONNECT credentials against the server's current auth configuration, running
/// bcrypt comparisons on a blocking thread.
async fn authenticate(
    server: &Server,
    ci: &ConnectInfo,
    nonce: Option<&str>,
    peer: (std::net::IpAddr, &str),
) -> Option<(Authenticated, Option<JwtGrant>)> {
    if let Some(mode) = &server.operator {
        return match crate::operator::authenticate(
            mode,
            ci.jwt.as_deref(),
            ci.sig.as_deref(),
            nonce,
            peer,
        ) {
            Ok((auth, grant)) => Some((auth, Some(grant))),
            Err(reason) => {
                debug!("authentication error: {reason}");
                None
            }
        };
    }
    let auth = server.auth();
    if auth.needs_slow_check(ci) {
        let ci = ci.clone();
        let nonce = nonce.map(str::to_owned);
        tokio::task::spawn_blocking(move || auth.authenticate(&ci, nonce.as_deref()))
            .await
            .ok()
            .flatten()
            .map(|a| (a, None))
    } else {
        auth.authenticate(ci, nonce).map(|a| (a, None))
    }
}

/// Resolves when a JWT login expires; never without an expiry.
async fn sleep_until_expiry(expires: Option<(tokio::time::Instant, Expiry)>) {
    match expires {
        Some((at, _)) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// CONNECT JSON with secrets replaced, as nats-server traces it.
fn redact_connect(json: &Bytes) -> String {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(json) else {
        return String::from_utf8_lossy(json).into_owned();
    };
    if let Some(obj) = v.as_object_mut() {
        for key in ["pass", "auth_token"] {
            if let Some(f) = obj.get_mut(key).filter(|f| f.is_string()) {
                *f = serde_json::Value::String("[REDACTED]".into());
            }
        }
    }
    v.to_string()
}

/// A short description of an operation for protocol trace lines.
fn describe(op: &ClientOp) -> String {
    let s = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    match op {
        ClientOp::Connect(j) => format!("CONNECT {}", redact_connect(j)),
        ClientOp::Pub {
            subject,
            reply,
            headers,
            payload,
        } => {
            let r = reply
                .as_ref()
                .map(|r| format!(" {}", s(r)))
                .unwrap_or_default();
            match headers {
                Some(h) => format!(
                    "HPUB {}{r} {} {}",
                    s(subject),
                    h.len(),
                    h.len() + payload.len()
                ),
                None => format!("PUB {}{r} {}", s(subject), payload.len()),
            }
        }
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => match queue {
            Some(q) => format!("SUB {} {} {}", s(subject), s(q), s(sid)),
            None => format!("SUB {} {}", s(subject), s(sid)),
        },
        ClientOp::Unsub { sid, max } => match max {
            Some(m) => format!("UNSUB {} {m}", s(sid)),
            None => format!("UNSUB {}", s(sid)),
        },
        ClientOp::Ping => "PING".into(),
        ClientOp::Pong => "PONG".into(),
        ClientOp::Info(j) => format!("INFO {}", s(j)),
        ClientOp::Ok => "+OK".into(),
        ClientOp::Err(e) => format!("-ERR {}", s(e)),
    }
}
