//! A connection's shared half: its outbound buffer, its counters and its writer task.
//!
//! Publishers on other connections deliver by appending encoded messages to a client's
//! [`Client`] outbound buffer under a short lock, then wake its writer once per read batch
//! (the `dirty` flag makes the first append since the last flush report that a wake is
//! needed). The writer task swaps the buffer out and writes it with vectored writes under
//! `write_deadline`. Pending bytes are bounded by `max_pending`; passing it marks the client
//! a slow consumer and closes it. This module never parses input and never touches the
//! subject index.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use natrium_protocol::encode;
use parking_lot::Mutex;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

/// Payloads at least this large are queued as their own chunk instead of being copied.
const ZERO_COPY_MIN_BYTES: usize = 16 * 1024;
/// Most slices handed to one `writev`.
const WRITEV_SLICES_MAX: usize = 64;

/// Why a connection was closed, in nats-server's words (used in logs and /connz).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    ClientClosed,
    AuthenticationTimeout,
    AuthenticationViolation,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    WriteError,
    ReadError,
    ParseError,
    StaleConnection,
    ProtocolViolation,
    MaxPayloadExceeded,
    MaxConnectionsExceeded,
    MaxControlLineExceeded,
    ServerShutdown,
    LameDuck,
    AuthenticationExpired,
    CredentialsRevoked,
    MaxAccountConnectionsExceeded,
}

impl CloseReason {
    pub fn is_slow_consumer(self) -> bool {
        matches!(
            self,
            CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::AuthenticationTimeout => "Authentication Timeout",
            CloseReason::AuthenticationViolation => "Authentication Failure",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::WriteError => "Write Error",
            CloseReason::ReadError => "Read Error",
            CloseReason::ParseError => "Parse Error",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            CloseReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            CloseReason::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            CloseReason::ServerShutdown => "Server Shutdown",
            CloseReason::LameDuck => "Lame Duck Mode",
            CloseReason::AuthenticationExpired => "Authentication Expired",
            CloseReason::CredentialsRevoked => "Credentials Revoked",
            CloseReason::MaxAccountConnectionsExceeded => "Maximum Account Connections Exceeded",
        }
    }
}

/// Per-connection message and byte counters (also summed into the server's).
#[derive(Debug, Default)]
pub struct Counters {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub out_msgs: AtomicU64,
    pub out_bytes: AtomicU64,
}

impl Counters {
    pub fn add_in(&self, msgs: u64, bytes: u64) {
        self.in_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.in_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    pub fn add_out(&self, msgs: u64, bytes: u64) {
        self.out_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.out_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

struct Outbound {
    buf: BytesMut,
    chunks: VecDeque<Bytes>,
    pending: usize,
    dirty: bool,
    close: Option<CloseReason>,
}

/// What happened to a delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued; `wake` is true when the writer must be woken (first data since last flush).
    Queued { wake: bool },
    /// The connection is closed or closing; nothing was queued.
    Closed,
    /// Queuing would pass `max_pending`: the client is now closing as a slow consumer.
    SlowConsumer,
}

/// The half of a connection that other tasks may touch.
pub struct Client {
    pub cid: u64,
    pub addr: std::net::SocketAddr,
    out: Mutex<Outbound>,
    writer_wake: Notify,
    close_wake: Notify,
    reauth_wake: Notify,
    closing: AtomicBool,
    /// Set from CONNECT: the client understands HMSG.
    pub headers: AtomicBool,
    pub counters: Counters,
    max_pending: usize,
    /// Present when the client's permissions include `allow_responses`.
    replies: OnceLock<crate::replies::ReplyTracker>,
    /// Identity, activity and RTT for monitoring; never touched per message.
    pub meta: crate::monitor::ClientMeta,
}

impl Client {
    pub fn new(cid: u64, addr: std::net::SocketAddr, max_pending: usize) -> Client {
        Client {
            cid,
            addr,
            out: Mutex::new(Outbound {
                buf: BytesMut::with_capacity(4096),
                chunks: VecDeque::new(),
                pending: 0,
                dirty: false,
                close: None,
            }),
            writer_wake: Notify::new(),
            close_wake: Notify::new(),
            reauth_wake: Notify::new(),
            closing: AtomicBool::new(false),
            headers: AtomicBool::new(false),
            counters: Counters::default(),
            max_pending,
            replies: OnceLock::new(),
            meta: crate::monitor::ClientMeta::new(),
        }
    }

    /// The `ip:port - cid:N` prefix of this connection's log lines.
    pub fn log_prefix(&self) -> String {
        format!("{} - cid:{}", self.addr, self.cid)
    }

    pub fn set_reply_tracker(&self, tracker: crate::replies::ReplyTracker) {
        let _ = self.replies.set(tracker);
    }

    /// Uses an `allow_responses` grant to publish to `subject`.
    pub fn take_reply_permit(&self, subject: &str) -> bool {
        self.replies.get().is_some_and(|r| r.take(subject))
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Queues one message for this client. Called by publishers on any task.
    pub fn enqueue_msg(
        &self,
        subject: &[u8],
        sid: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&Bytes>,
        payload: &Bytes,
    ) -> Enqueued {
        // A client that did not ask for headers gets the payload alone, as nats-server does.
        let headers = headers.filter(|_| self.headers.load(Ordering::Relaxed));
        let hlen = headers.map_or(0, |h| h.len());
        let size = subject.len() + sid.len() + reply.map_or(0, |r| r.len()) + hlen + payload.len();
        let mut out = self.out.lock();
        if out.close.is_some() {
            return Enqueued::Closed;
        }
        if out.pending + size > self.max_pending {
            drop(out);
            self.close(CloseReason::SlowConsumerPendingBytes);
            return Enqueued::SlowConsumer;
        }
        let before = out.buf.len();
        if hlen + payload.len() >= ZERO_COPY_MIN_BYTES {
            encode::msg_line(
                &mut out.buf,
                subject,
                sid,
                reply,
                headers.map(|h| h.len()),
                payload.len(),
            );
            if let Some(h) = headers {
                out.buf.put_slice(h);
            }
            let head = out.buf.split().freeze();
            out.chunks.push_back(head);
            out.chunks.push_back(payload.clone());
            out.buf.put_slice(b"\r\n");
            out.pending += size + 32;
        } else {
            encode::msg(
                &mut out.buf,
                subject,
                sid,
                reply,
                headers.map(|h| &h[..]),
                payload,
            );
            out.pending += out.buf.len() - before;
        }
        let wake = !out.dirty;
        out.dirty = true;
        drop(out);
        if let (Some(tracker), Some(reply)) = (self.replies.get(), reply) {
            tracker.grant(reply);
        }
        self.counters.add_out(1, (hlen + payload.len()) as u64);
        Enqueued::Queued { wake }
    }

    /// Queues raw protocol bytes (INFO, PONG, +OK, -ERR) and wakes the writer.
    pub fn send_raw(&self, bytes: &[u8]) {
        let mut out = self.out.lock();
        if out.close.is_some() {
            return;
        }
        out.buf.extend_from_slice(bytes);
        out.pending += bytes.len();
        out.dirty = true;
        drop(out);
        self.writer_wake.notify_one();
    }

    /// Queues `-ERR 'text'`.
    pub fn send_err(&self, text: &str) {
        let mut b = BytesMut::with_capacity(text.len() + 10);
        encode::err(&mut b, text);
        self.send_raw(&b);
    }

    /// Wakes the writer after a batch of [`Client::enqueue_msg`] calls.
    pub fn wake_writer(&self) {
        self.writer_wake.notify_one();
    }

    /// Starts closing: nothing more is queued, the writer flushes what is queued and shuts
    /// the socket, and the reader is told to stop. Only the first reason is kept.
    pub fn close(&self, reason: CloseReason) {
        let mut out = self.out.lock();
        if out.close.is_none() {
            out.close = Some(reason);
        }
        drop(out);
        self.closing.store(true, Ordering::Release);
        self.writer_wake.notify_one();
        self.close_wake.notify_one();
    }

    /// Asks the connection to check its credentials again (config reload).
    pub fn request_reauth(&self) {
        self.reauth_wake.notify_one();
    }

    /// Resolves when [`Client::request_reauth`] was called.
    pub async fn reauth_requested(&self) {
        self.reauth_wake.notified().await
    }

    pub fn close_reason(&self) -> Option<CloseReason> {
        self.out.lock().close
    }

    /// Resolves once [`Client::close`] has been called.
    pub async fn closed(&self) {
        loop {
            let notified = self.close_wake.notified();
            if self.is_closing() {
                return;
            }
            notified.await;
        }
    }

    pub fn pending_bytes(&self) -> usize {
        self.out.lock().pending
    }

    fn take_batch(&self, batch: &mut VecDeque<Bytes>) -> Option<CloseReason> {
        let mut out = self.out.lock();
        batch.extend(out.chunks.drain(..));
        if !out.buf.is_empty() {
            let b = out.buf.split().freeze();
            batch.push_back(b);
        }
        out.pending = 0;
        out.dirty = false;
        out.close
    }
}

/// Writes everything queued for `client` until it closes. Returns when the socket is shut.
pub async fn write_loop<W: AsyncWrite + Unpin>(
    client: Arc<Client>,
    mut w: W,
    write_deadline: Duration,
) {
    let mut batch: VecDeque<Bytes> = VecDeque::new();
    loop {
        let notified = client.writer_wake.notified();
        let closing = client.take_batch(&mut batch);
        if closing.is_some_and(CloseReason::is_slow_consumer) {
            // nats-server drops what a slow consumer has pending instead of flushing it.
            batch.clear();
            break;
        }
        if batch.is_empty() {
            if closing.is_some() {
                break;
            }
            notified.await;
            continue;
        }
        let started = Instant::now();
        match tokio::time::timeout(write_deadline, write_all(&mut w, &mut batch)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                client.close(CloseReason::WriteError);
                break;
            }
            Err(_) => {
                let queued: usize = batch.iter().map(|b| b.len()).sum();
                crate::info!(
                    "{} - Slow Consumer Detected: WriteDeadline of {:?} exceeded with {} chunks of {} total bytes.",
                    client.log_prefix(),
                    started.elapsed(),
                    batch.len(),
                    queued
                );
                client.close(CloseReason::SlowConsumerWriteDeadline);
                break;
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), w.shutdown()).await;
}

async fn write_all<W: AsyncWrite + Unpin>(
    w: &mut W,
    batch: &mut VecDeque<Bytes>,
) -> std::io::Result<()> {
    while !batch.is_empty() {
        let n = {
            let slices: Vec<IoSlice<'_>> = batch
                .iter()
                .take(WRITEV_SLICES_MAX)
                .map(|b| IoSlice::new(b))
                .collect();
            w.write_vectored(&slices).await?
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let mut left = n;
        while left > 0 {
            let Some(front) = batch.front_mut() else {
                break;
            };
            if front.len() <= left {
                left -= front.len();
                batch.pop_front();
            } else {
                front.advance(left);
                left = 0;
            }
        }
    }
    // TLS and WebSocket writers may hold written bytes back (a record or frame not yet on
    // the socket); a TCP half's flush returns at once.
    w.flush().await
}
