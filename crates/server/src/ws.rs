//! The WebSocket listener: the client protocol carried in WebSocket frames (`ws://`, or
//! `wss://` with the block's own TLS).
//!
//! This module owns the HTTP upgrade (request checks, origin policy, cookies, the 101
//! response) and an adapter that turns a framed WebSocket stream into the byte stream the
//! connection task reads and writes; framing, masking and control frames are
//! tokio-websockets'. Binary and text frames are both accepted from clients; the server sends
//! binary frames. Every wait is bounded by the handshake timeout, the request by
//! [`REQUEST_MAX_BYTES`]; a bad request gets an HTTP error and is logged, never a panic.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Sink, Stream};
use natrium_config::options::{parse_origin, DEFAULT_WS_HANDSHAKE_TIMEOUT};
use natrium_config::WebsocketOptions;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_websockets::{Message, WebSocketStream};

use crate::server::Server;
use crate::{debug, error};

/// Largest upgrade request accepted (browsers send cookies; nothing legitimate is larger).
pub const REQUEST_MAX_BYTES: usize = 16 * 1024;
/// The GUID RFC 6455 appends to the client's key.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The credentials a request's cookies carry (`user_cookie`, `pass_cookie`,
/// `token_cookie`, `jwt_cookie`); used when CONNECT does not carry its own.
#[derive(Debug, Clone, Default)]
pub struct CookieCredentials {
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
    pub jwt: Option<String>,
}

/// The websocket listener's settings, built once at startup.
pub struct WsListener {
    pub options: Arc<WebsocketOptions>,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

impl WsListener {
    pub fn new(o: &WebsocketOptions) -> Result<WsListener, String> {
        let tls = match &o.tls {
            Some(t) => {
                let config = crate::tls::server_config(t)?;
                Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
            }
            None => None,
        };
        Ok(WsListener {
            options: Arc::new(o.clone()),
            tls,
        })
    }

    fn handshake_timeout(&self) -> Duration {
        if self.options.handshake_timeout.is_zero() {
            DEFAULT_WS_HANDSHAKE_TIMEOUT
        } else {
            self.options.handshake_timeout
        }
    }
}

/// Accepts websocket connections until shutdown or lame-duck mode.
pub async fn accept_loop(server: Arc<Server>, listener: TcpListener, ws: Arc<WsListener>) {
    let mut shutdown = server.shutdown_signal();
    loop {
        tokio::select! {
            res = listener.accept() => match res {
                Ok((stream, addr)) => {
                    tokio::spawn(run(server.clone(), ws.clone(), stream, addr));
                }
                Err(e) => {
                    error!("Temporary websocket accept error: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
        if server.is_lame_duck() {
            break;
        }
    }
    debug!("Websocket accept loop exiting..");
}

/// Serves one websocket connection: TLS (for `wss`), the upgrade, then the client protocol.
async fn run(server: Arc<Server>, ws: Arc<WsListener>, stream: TcpStream, addr: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
    let timeout = ws.handshake_timeout();
    let local_port = stream.local_addr().map_or(0, |a| a.port());
    let at = (addr, local_port);
    match &ws.tls {
        None => upgrade_and_serve(server, &ws, stream, at, timeout).await,
        Some(acceptor) => match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(Ok(s)) => upgrade_and_serve(server, &ws, s, at, timeout).await,
            Ok(Err(e)) => debug!("{addr} - websocket TLS handshake error: {e}"),
            Err(_) => debug!("{addr} - websocket TLS handshake timeout"),
        },
    }
}

async fn upgrade_and_serve<S>(
    server: Arc<Server>,
    ws: &WsListener,
    mut stream: S,
    (addr, local_port): (SocketAddr, u16),
    timeout: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let upgraded = tokio::time::timeout(timeout, upgrade(ws, &mut stream)).await;
    let cookies = match upgraded {
        Ok(Ok(c)) => c,
        Ok(Err(reason)) => {
            error!("{addr} - websocket handshake error: {reason}");
            return;
        }
        Err(_) => {
            debug!("{addr} - websocket handshake timeout");
            return;
        }
    };
    let framed = tokio_websockets::ServerBuilder::new().serve(stream);
    let (rd, wr) = tokio::io::split(WsIo::new(framed));
    let host = if ws.options.host.is_empty() {
        natrium_config::options::DEFAULT_HOST.to_string()
    } else {
        ws.options.host.clone()
    };
    let listener = crate::conn::WsContext {
        host,
        port: local_port,
        tls: ws.tls.is_some(),
        options: ws.options.clone(),
        cookies,
    };
    crate::conn::serve_websocket(server, rd, wr, addr, listener).await;
}

/// Reads and checks the upgrade request and answers it. On a bad request the HTTP error
/// has been sent and the reason is returned for the log.
async fn upgrade<S>(ws: &WsListener, stream: &mut S) -> Result<CookieCredentials, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(1024);
    let head_len = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() >= REQUEST_MAX_BYTES {
            return Err(reply_error(stream, 431, "request header too large").await);
        }
        let mut chunk = [0u8; 2048];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read error: {e}"))?;
        if n == 0 {
            return Err("connection closed during handshake".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if buf.len() > head_len {
        let reason = "client sent data before handshake is complete";
        return Err(reply_error(stream, 400, reason).await);
    }
    let request = match Request::parse(&buf[..head_len]) {
        Ok(r) => r,
        Err(reason) => return Err(reply_error(stream, 400, reason).await),
    };
    let (key, cookies) = match check(ws, &request) {
        Ok(v) => v,
        Err((status, reason)) => return Err(reply_error(stream, status, &reason).await),
    };
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n",
        accept_key(&key)
    );
    for (name, value) in &ws.options.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    stream
        .write_all(response.as_bytes())
        .await
        .map_err(|e| format!("write error: {e}"))?;
    Ok(cookies)
}

/// The parts of an upgrade request the checks look at.
struct Request {
    method: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn parse(head: &[u8]) -> Result<Request, &'static str> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return Err("malformed request"),
        }
        let headers = req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).trim().to_string(),
                )
            })
            .collect();
        Ok(Request {
            method: req.method.unwrap_or_default().to_string(),
            headers,
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// True when a comma-separated header holds `token` (case-insensitive).
    fn header_has(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim_matches('"').to_string())
    }
}

/// nats-server's upgrade checks, in its order and with its reasons.
fn check(ws: &WsListener, r: &Request) -> Result<(String, CookieCredentials), (u16, String)> {
    let bad = |reason: &str| Err((400, reason.to_string()));
    if r.method != "GET" {
        return Err((405, "request method must be GET".into()));
    }
    let Some(host) = r.header("host").filter(|h| !h.is_empty()) else {
        return bad("'Host' missing in request");
    };
    if !r.header_has("upgrade", "websocket") {
        return bad("invalid value for header 'Upgrade'");
    }
    if !r.header_has("connection", "upgrade") {
        return bad("invalid value for header 'Connection'");
    }
    let Some(key) = r.header("sec-websocket-key").filter(|k| !k.is_empty()) else {
        return bad("key missing");
    };
    if !valid_key(key) {
        return bad("invalid websocket key");
    }
    if r.header("sec-websocket-version") != Some("13") {
        return bad("invalid version");
    }
    if let Err(reason) = check_origin(ws, r, host) {
        return Err((403, format!("origin not allowed: {reason}")));
    }
    let o = &ws.options;
    let cookie = |name: &Option<String>| name.as_ref().and_then(|n| r.cookie(n));
    let cookies = CookieCredentials {
        user: cookie(&o.user_cookie),
        pass: cookie(&o.pass_cookie),
        token: cookie(&o.token_cookie),
        jwt: cookie(&o.jwt_cookie),
    };
    Ok((key.to_string(), cookies))
}

/// `same_origin` and `allowed_origins`. A request without an Origin is accepted (only
/// browsers send one).
fn check_origin(ws: &WsListener, r: &Request, host: &str) -> Result<(), String> {
    let o = &ws.options;
    if !o.same_origin && o.allowed_origins.is_empty() {
        return Ok(());
    }
    let Some(origin) = r
        .header("origin")
        .or_else(|| r.header("sec-websocket-origin"))
        .filter(|s| !s.is_empty())
    else {
        return Ok(());
    };
    let (scheme, oh, op) = parse_origin(origin).map_err(|e| format!("{e:?}"))?;
    if o.same_origin {
        let own_scheme = if ws.tls.is_some() { "https" } else { "http" };
        let (_, rh, rp) =
            parse_origin(&format!("{own_scheme}://{host}")).map_err(|e| format!("{e:?}"))?;
        if oh != rh || op != rp || scheme != own_scheme {
            return Err("not same origin".into());
        }
    }
    if !o.allowed_origins.is_empty() {
        let allowed = o
            .allowed_origins
            .iter()
            .filter_map(|a| parse_origin(a).ok())
            .any(|(s, h, p)| s == scheme && h == oh && p == op);
        if !allowed {
            return Err("not in the allowed list".into());
        }
    }
    Ok(())
}

/// A key is the base64 of 16 bytes: 24 characters ending in `==`.
fn valid_key(key: &str) -> bool {
    // Bytes, not a str slice: the header may hold multi-byte characters.
    let b = key.as_bytes();
    b.len() == 24
        && b.ends_with(b"==")
        && b[..22]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

/// `Sec-WebSocket-Accept`: base64(SHA-1(key + GUID)).
fn accept_key(key: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{key}{WS_GUID}").as_bytes(),
    );
    base64(digest.as_ref())
}

fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sends an HTTP error the way nats-server's HTTP server does and returns the reason.
async fn reply_error<S: AsyncWrite + Unpin>(stream: &mut S, status: u16, reason: &str) -> String {
    let text = match status {
        403 => "Forbidden",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Bad Request",
    };
    let body = format!("{text}\n");
    let response = format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Sec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    reason.to_string()
}

/// A WebSocket stream seen as bytes: reads yield the payloads of data frames in order,
/// each write becomes one binary frame.
struct WsIo<S> {
    ws: WebSocketStream<S>,
    pending: Bytes,
}

impl<S> WsIo<S> {
    fn new(ws: WebSocketStream<S>) -> WsIo<S> {
        WsIo {
            ws,
            pending: Bytes::new(),
        }
    }
}

fn io_error(e: tokio_websockets::Error) -> io::Error {
    match e {
        tokio_websockets::Error::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                let chunk = self.pending.split_to(n);
                buf.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
                Some(Ok(msg)) if msg.is_binary() || msg.is_text() => {
                    self.pending = Bytes::from(msg.into_payload());
                }
                Some(Ok(msg)) if msg.is_close() => return Poll::Ready(Ok(())),
                // Pings are answered by tokio-websockets; pongs need nothing.
                Some(Ok(_)) => {}
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(io_error)?;
        let frame = Message::binary(Bytes::copy_from_slice(buf));
        Pin::new(&mut self.ws).start_send(frame).map_err(io_error)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(io_error)?;
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let mut joined = Vec::with_capacity(total);
        for b in bufs {
            joined.extend_from_slice(b);
        }
        Pin::new(&mut self.ws)
            .start_send(Message::binary(joined))
            .map_err(io_error)?;
        Poll::Ready(Ok(total))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(io_error)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_close(cx).map_err(io_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc6455_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!valid_key("short"));
        assert!(!valid_key("ééééééééééé=="));
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn requests_are_checked_like_nats_server() {
        let ws = WsListener {
            options: Arc::new(WebsocketOptions {
                allowed_origins: vec!["https://app.example.com".into()],
                token_cookie: Some("tok".into()),
                ..Default::default()
            }),
            tls: None,
        };
        let req = |extra: &str| {
            let text = format!(
                "GET / HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\n\
                 Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n{extra}\r\n"
            );
            Request::parse(text.as_bytes()).unwrap()
        };
        let (_, cookies) = check(&ws, &req("Cookie: a=1; tok=secret\r\n")).unwrap();
        assert_eq!(cookies.token.as_deref(), Some("secret"));
        assert!(check(&ws, &req("Origin: https://app.example.com\r\n")).is_ok());
        let (status, reason) = check(&ws, &req("Origin: http://evil.example.com\r\n")).unwrap_err();
        assert_eq!(status, 403);
        assert_eq!(reason, "origin not allowed: not in the allowed list");
        let post = Request::parse(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(check(&ws, &post).unwrap_err().0, 405);
    }
}
