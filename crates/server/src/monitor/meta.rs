//! What monitoring knows about a connection beyond its counters: the CONNECT identity
//! (name, lang, version, authorized user), start and last-activity times, subscription
//! count and round-trip time, plus the bounded ring of closed connections for
//! `/connz?state=closed`.
//!
//! The connection task writes [`ClientMeta`] at CONNECT, SUB, UNSUB, PING and PONG, never
//! per message, so the publish hot path pays nothing. Monitoring only reads. Nothing here
//! touches sockets or the subject index.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;

use super::connz::ConnInfo;
use super::format::{from_unix_nanos, unix_nanos};
use super::subsz::SubDetail;

pub use crate::account::GLOBAL_ACCOUNT;

/// The CONNECT-time identity of a client.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub name: String,
    pub lang: String,
    pub version: String,
    /// The user that authenticated, if any (`/connz?auth=1`, `?user=`).
    pub user: Option<String>,
}

#[derive(Default)]
struct Slow {
    identity: Identity,
    /// The account the connection is bound to; empty means the global account.
    account: String,
    /// When the server's last unanswered PING went out.
    ping_sent: Option<Instant>,
    /// Subscriptions captured when the connection closes, for the closed ring.
    final_subs: Vec<SubDetail>,
}

/// Per-connection monitoring state, shared between the connection task and monitoring.
pub struct ClientMeta {
    pub start: SystemTime,
    last_activity_ns: AtomicU64,
    num_subs: AtomicU32,
    rtt_ns: AtomicU64,
    slow: Mutex<Slow>,
    /// The TLS session, set once after the handshake.
    tls: std::sync::OnceLock<TlsMeta>,
    websocket: std::sync::atomic::AtomicBool,
}

/// A TLS connection's details for /connz.
#[derive(Debug, Clone, Default)]
pub struct TlsMeta {
    pub version: &'static str,
    pub cipher: &'static str,
    pub tls_first: bool,
    pub peer_certs: Vec<crate::tls::PeerCert>,
}

impl Default for ClientMeta {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientMeta {
    pub fn new() -> ClientMeta {
        let start = SystemTime::now();
        ClientMeta {
            start,
            last_activity_ns: AtomicU64::new(unix_nanos(start)),
            num_subs: AtomicU32::new(0),
            rtt_ns: AtomicU64::new(0),
            slow: Mutex::new(Slow::default()),
            tls: std::sync::OnceLock::new(),
            websocket: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn set_tls(&self, peer: &crate::tls::PeerTls) {
        let _ = self.tls.set(TlsMeta {
            version: peer.version,
            cipher: peer.cipher,
            tls_first: peer.tls_first,
            peer_certs: peer.peer_certs.clone(),
        });
    }

    pub fn set_websocket(&self) {
        self.websocket.store(true, Ordering::Relaxed);
    }

    pub fn is_websocket(&self) -> bool {
        self.websocket.load(Ordering::Relaxed)
    }

    pub fn tls(&self) -> Option<&TlsMeta> {
        self.tls.get()
    }

    /// Records the CONNECT identity.
    pub fn set_identity(&self, identity: Identity) {
        self.slow.lock().identity = identity;
    }

    pub fn set_account(&self, name: &str) {
        self.slow.lock().account = name.to_string();
    }

    /// The connection's account name.
    pub fn account(&self) -> String {
        let a = self.slow.lock().account.clone();
        if a.is_empty() {
            GLOBAL_ACCOUNT.to_string()
        } else {
            a
        }
    }

    pub fn identity(&self) -> Identity {
        self.slow.lock().identity.clone()
    }

    /// Notes inbound activity (publishes, subscriptions). Called once per read batch.
    pub fn touch(&self) {
        self.last_activity_ns
            .store(unix_nanos(SystemTime::now()), Ordering::Relaxed);
    }

    pub fn last_activity(&self) -> SystemTime {
        from_unix_nanos(self.last_activity_ns.load(Ordering::Relaxed))
    }

    pub fn sub_added(&self) {
        self.num_subs.fetch_add(1, Ordering::Relaxed);
    }

    /// A subscription left the subject index (UNSUB or auto-unsubscribe).
    pub fn sub_removed(&self) {
        let _ = self
            .num_subs
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    pub fn num_subs(&self) -> u32 {
        self.num_subs.load(Ordering::Relaxed)
    }

    /// The server sent a PING; the matching PONG measures the round trip.
    pub fn ping_sent(&self) {
        let mut slow = self.slow.lock();
        if slow.ping_sent.is_none() {
            slow.ping_sent = Some(Instant::now());
        }
    }

    /// A PONG arrived: completes a round-trip measurement if a PING was outstanding.
    pub fn pong_received(&self) {
        let sent = self.slow.lock().ping_sent.take();
        if let Some(sent) = sent {
            let rtt = sent.elapsed().as_nanos().clamp(1, u64::MAX as u128) as u64;
            self.rtt_ns.store(rtt, Ordering::Relaxed);
        }
    }

    /// The last measured round trip, zero when none was measured yet.
    pub fn rtt(&self) -> Duration {
        Duration::from_nanos(self.rtt_ns.load(Ordering::Relaxed))
    }

    /// True while a server PING is waiting for its PONG.
    pub fn ping_outstanding(&self) -> bool {
        self.slow.lock().ping_sent.is_some()
    }

    /// Keeps the connection's subscriptions for the closed-connections ring.
    pub fn set_final_subs(&self, subs: Vec<SubDetail>) {
        self.slow.lock().final_subs = subs;
    }

    pub fn take_final_subs(&self) -> Vec<SubDetail> {
        std::mem::take(&mut self.slow.lock().final_subs)
    }
}

/// A closed connection as `/connz?state=closed` shows it.
pub struct ClosedConn {
    pub info: ConnInfo,
    pub user: Option<String>,
    pub account: String,
    pub subs: Vec<SubDetail>,
}

/// The most recent closed connections, oldest dropped first.
#[derive(Default)]
pub struct ClosedRing {
    ring: Mutex<VecDeque<Arc<ClosedConn>>>,
}

impl ClosedRing {
    /// Adds a closed connection, keeping at most `max` (`max_closed_clients`; 0 keeps none).
    pub fn push(&self, conn: ClosedConn, max: usize) {
        let mut ring = self.ring.lock();
        while ring.len() >= max.max(1) {
            ring.pop_front();
        }
        if max > 0 {
            ring.push_back(Arc::new(conn));
        }
    }

    /// A snapshot, oldest first.
    pub fn all(&self) -> Vec<Arc<ClosedConn>> {
        self.ring.lock().iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(cid: u64) -> ClosedConn {
        ClosedConn {
            info: ConnInfo {
                cid,
                ..ConnInfo::default()
            },
            user: None,
            account: GLOBAL_ACCOUNT.into(),
            subs: Vec::new(),
        }
    }

    #[test]
    fn ring_keeps_the_newest() {
        let ring = ClosedRing::default();
        for cid in 0..5 {
            ring.push(closed(cid), 3);
        }
        let cids: Vec<u64> = ring.all().iter().map(|c| c.info.cid).collect();
        assert_eq!(cids, vec![2, 3, 4]);
        ring.push(closed(9), 0);
        assert!(ring.all().is_empty());
    }

    #[test]
    fn rtt_needs_a_ping() {
        let meta = ClientMeta::new();
        meta.pong_received();
        assert_eq!(meta.rtt(), Duration::ZERO);
        meta.ping_sent();
        meta.pong_received();
        assert!(meta.rtt() > Duration::ZERO);
        meta.sub_removed();
        assert_eq!(meta.num_subs(), 0);
    }
}
