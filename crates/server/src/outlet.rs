//! The server side of JetStream's [`natrium_jetstream::Outlet`]: JetStream publishes into
//! the same routing as clients do, and subscribes with in-process handlers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use natrium_jetstream::{Handler, Outlet};
use parking_lot::Mutex;

use crate::account::Account;
use crate::outbound::Client;
use crate::router::{Message, Origin, SubRef, Subscription, Touched};
use crate::server::Server;

/// The connection id of the server's internal (JetStream) client.
pub const INTERNAL_CID: u64 = 1;

pub struct ServerOutlet {
    server: Weak<Server>,
    /// The account JetStream serves: its API, publishes and subscriptions live there.
    account: Arc<Account>,
    client: Arc<Client>,
    next_id: AtomicU64,
    subs: Mutex<HashMap<u64, SubRef>>,
}

impl ServerOutlet {
    pub fn new(server: &Arc<Server>, account: Arc<Account>) -> ServerOutlet {
        let addr = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        ServerOutlet {
            server: Arc::downgrade(server),
            account,
            client: Arc::new(Client::new(INTERNAL_CID, addr, usize::MAX)),
            next_id: AtomicU64::new(1),
            subs: Mutex::new(HashMap::new()),
        }
    }
}

impl Outlet for ServerOutlet {
    fn warn(&self, line: &str) {
        crate::warn!("{line}");
    }

    fn deliver(
        &self,
        route_subject: &str,
        msg_subject: &str,
        reply: Option<&str>,
        headers: Option<Bytes>,
        payload: Bytes,
    ) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        let msg = Message {
            subject: route_subject,
            shown_subject: msg_subject,
            reply: reply.map(str::as_bytes),
            headers: headers.as_ref(),
            payload: &payload,
        };
        let mut touched = Touched::default();
        let origin = Origin {
            cid: INTERNAL_CID,
            echo: true,
            rtt_ns: 0,
        };
        let n = (payload.len() + headers.as_ref().map_or(0, |h| h.len())) as u64;
        server.stats.msgs.add_in(1, n);
        server.route(&self.account, origin, &msg, &mut touched);
        touched.wake_all();
    }

    fn subscribe(&self, subject: &str, handler: Handler) -> Result<u64, String> {
        self.queue_subscribe(subject, None, handler)
    }

    fn queue_subscribe(
        &self,
        subject: &str,
        queue: Option<&str>,
        handler: Handler,
    ) -> Result<u64, String> {
        let sub = SubRef(Arc::new(Subscription::internal(
            self.client.clone(),
            subject,
            queue,
            handler,
        )));
        self.account
            .sublist
            .insert(subject, queue, sub.clone())
            .map_err(|e| format!("can not subscribe to {subject:?}: {e}"))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.subs.lock().insert(id, sub);
        Ok(id)
    }

    fn unsubscribe(&self, id: u64) {
        let Some(sub) = self.subs.lock().remove(&id) else {
            return;
        };
        let queue = sub.0.queue.clone();
        let _ = self
            .account
            .sublist
            .remove(&sub.0.subject, queue.as_deref(), &sub);
    }

    fn has_interest(&self, subject: &str) -> bool {
        match self.server.upgrade() {
            Some(server) => server.has_interest(&self.account, subject),
            None => self.account.sublist.has_interest(subject),
        }
    }

    fn client_info(&self, cid: u64) -> Option<serde_json::Value> {
        let server = self.server.upgrade()?;
        let client = server.client(cid)?;
        Some(crate::sysacc::audit_client_info(&client, &server.name))
    }
}
