//! `allow_responses`: the reply subjects a client may publish to because it received a
//! request carrying them.
//!
//! When a message with a reply subject is delivered to a client whose permissions include a
//! response limit, the reply subject is recorded here with its allowance (`max_msgs`,
//! `expires`). A later publish to that subject that the static permissions would deny is
//! allowed while the allowance lasts. The table is bounded: expired entries are pruned
//! when it fills, and past the bound the oldest grants are dropped, never the process.

use std::collections::HashMap;
use std::time::Instant;

use parking_lot::Mutex;

use crate::auth::ResponseLimit;

/// Most outstanding reply grants kept per client.
const GRANTS_MAX: usize = 16 * 1024;

struct Grant {
    remaining: usize,
    expires_at: Option<Instant>,
}

pub struct ReplyTracker {
    limit: ResponseLimit,
    grants: Mutex<HashMap<Box<str>, Grant>>,
}

impl ReplyTracker {
    pub fn new(limit: ResponseLimit) -> ReplyTracker {
        ReplyTracker {
            limit,
            grants: Mutex::new(HashMap::new()),
        }
    }

    /// Records that the client received a message whose reply subject is `reply`.
    pub fn grant(&self, reply: &[u8]) {
        let Ok(reply) = std::str::from_utf8(reply) else {
            return;
        };
        let now = Instant::now();
        let expires_at = (!self.limit.expires.is_zero()).then(|| now + self.limit.expires);
        let mut grants = self.grants.lock();
        if grants.len() >= GRANTS_MAX {
            grants.retain(|_, g| g.expires_at.is_none_or(|e| e > now));
            if grants.len() >= GRANTS_MAX {
                grants.clear();
            }
        }
        grants.insert(
            reply.into(),
            Grant {
                remaining: self.limit.max_msgs,
                expires_at,
            },
        );
    }

    /// Uses one publish allowance for `subject`; false when there is none left.
    pub fn take(&self, subject: &str) -> bool {
        let mut grants = self.grants.lock();
        let Some(g) = grants.get_mut(subject) else {
            return false;
        };
        if g.expires_at.is_some_and(|e| e <= Instant::now()) {
            grants.remove(subject);
            return false;
        }
        g.remaining = g.remaining.saturating_sub(1);
        if g.remaining == 0 {
            grants.remove(subject);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn grants_are_used_up_and_expire() {
        let t = ReplyTracker::new(ResponseLimit {
            max_msgs: 2,
            expires: Duration::ZERO,
        });
        assert!(!t.take("r.1"));
        t.grant(b"r.1");
        assert!(t.take("r.1"));
        assert!(t.take("r.1"));
        assert!(!t.take("r.1"));

        let t = ReplyTracker::new(ResponseLimit {
            max_msgs: 1,
            expires: Duration::from_nanos(1),
        });
        t.grant(b"r.2");
        std::thread::sleep(Duration::from_millis(2));
        assert!(!t.take("r.2"));
    }
}
