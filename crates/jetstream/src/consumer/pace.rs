//! Pacing a push consumer's deliveries: flow control (the subscriber confirms what it
//! received before more is sent) and the `rate_limit_bps` byte bucket.

use tokio::time::{Duration, Instant};

use crate::types::ConsumerConfig;

/// Push flow control as nats-server runs it: the consumer stops delivering once more than
/// a window of bytes is unconfirmed, asks the subscriber to confirm (a `100 FlowControl
/// Request` with a reply on `$JS.FC.<stream>.<consumer>.<id>`) once half the window is out,
/// and doubles the window (up to the limit) at each confirmation.
#[derive(Debug, Default)]
pub(super) struct FlowControl {
    limit: i64,
    window: i64,
    /// Bytes delivered and not yet confirmed.
    pending: i64,
    /// The reply subject of the outstanding request.
    id: Option<String>,
    /// What the outstanding request covers when confirmed.
    covers: i64,
}

/// A token bucket over delivered bytes, refilled at `rate_limit_bps / 8` bytes a second up
/// to a burst of the largest message the stream takes.
#[derive(Debug)]
pub(super) struct RateLimit {
    bytes_per_sec: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    pub(super) fn new(bps: u64, burst: usize, now: Instant) -> RateLimit {
        RateLimit {
            bytes_per_sec: (bps as f64 / 8.0).max(1.0),
            burst: burst.max(1) as f64,
            tokens: burst.max(1) as f64,
            at: now,
        }
    }

    /// Takes `size` bytes; returns when the next delivery may go (None: now).
    pub(super) fn take(&mut self, size: usize, now: Instant) -> Option<Instant> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.bytes_per_sec).min(self.burst);
        self.at = now;
        self.tokens -= size as f64;
        (self.tokens < 0.0)
            .then(|| now + Duration::from_secs_f64(-self.tokens / self.bytes_per_sec))
    }
}

/// nats-server's flow-control limit; the first window is a sixteenth of it.
const FLOW_CONTROL_LIMIT: i64 = 32 * 1024 * 1024;

impl FlowControl {
    pub(super) fn for_config(cfg: &ConsumerConfig) -> FlowControl {
        if !cfg.flow_control || cfg.is_pull() {
            return FlowControl::default();
        }
        FlowControl {
            limit: FLOW_CONTROL_LIMIT,
            window: FLOW_CONTROL_LIMIT / 16,
            ..Default::default()
        }
    }

    pub(super) fn blocked(&self) -> bool {
        self.window > 0 && self.pending > self.window
    }

    /// Accounts a delivery of `size` bytes; true when a request must go out now.
    pub(super) fn delivered(&mut self, size: i64) -> bool {
        if self.window == 0 {
            return false;
        }
        self.pending += size;
        if self.id.is_none() {
            return self.pending > self.window / 2;
        }
        if self.pending - self.covers >= self.window {
            self.covers += size;
        }
        false
    }

    /// A request went out with reply subject `id`; it covers everything delivered so far.
    pub(super) fn requested(&mut self, id: String) {
        self.covers = self.pending;
        self.id = Some(id);
    }

    /// The reply subject of the request awaiting confirmation.
    pub(super) fn outstanding(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// A confirmation on `subject`; true when it was the outstanding one.
    pub(super) fn confirmed(&mut self, subject: &str) -> bool {
        if self.id.as_deref() != Some(subject) {
            return false;
        }
        self.window = (self.window * 2).min(self.limit);
        self.pending = (self.pending - self.covers).max(0);
        self.id = None;
        self.covers = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_fc() -> FlowControl {
        FlowControl::for_config(&ConsumerConfig {
            deliver_subject: "d".into(),
            flow_control: true,
            ..Default::default()
        })
    }

    #[test]
    fn flow_control_requests_at_half_window_and_widens_on_confirmation() {
        let mut fc = push_fc();
        let half = FLOW_CONTROL_LIMIT / 32;
        assert!(!fc.delivered(half));
        assert!(fc.delivered(1), "past half the first window");
        fc.requested("$JS.FC.S.C.a".into());
        assert!(!fc.delivered(FLOW_CONTROL_LIMIT / 16));
        assert!(fc.blocked());
        assert!(
            !fc.confirmed("$JS.FC.S.C.old"),
            "only the latest request counts"
        );
        assert!(fc.confirmed("$JS.FC.S.C.a"));
        assert!(!fc.blocked());
        assert_eq!(fc.window, FLOW_CONTROL_LIMIT / 8);
        assert_eq!(fc.outstanding(), None);
        // Off for pull consumers and without flow_control.
        assert!(!FlowControl::for_config(&ConsumerConfig::default()).delivered(1 << 30));
    }

    #[test]
    fn rate_limit_allows_a_burst_then_spaces_deliveries() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(8_000, 2_000, t0); // 1,000 bytes a second
        assert_eq!(r.take(2_000, t0), None);
        let next = r.take(500, t0).expect("over the burst");
        assert_eq!(next - t0, Duration::from_millis(500));
        // After the wait the bucket is back at zero, then refills.
        assert!(r.take(0, next).is_none());
        assert!(r.take(100, next + Duration::from_millis(100)).is_none());
    }
}
