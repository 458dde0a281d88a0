//! Pull requests: what a `$JS.API.CONSUMER.MSG.NEXT` body asks for, and a waiting
//! request's state while the consumer fills it.

use std::time::Duration;

use tokio::time::Instant;

use crate::errors::ApiError;
use crate::priority::PullGroup;

/// A waiting pull request.
#[derive(Debug)]
pub(crate) struct PullRequest {
    pub(crate) reply: String,
    pub(crate) batch: i64,
    pub(crate) max_bytes: i64,
    pub(crate) expires: Option<Instant>,
    pub(crate) no_wait: bool,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) next_heartbeat: Option<Instant>,
    pub(crate) delivered: i64,
    /// The priority fields; `None` for a bare batch size (not a JSON request).
    pub(crate) group: Option<PullGroup>,
}

impl PullRequest {
    /// Messages the request may still take (`Nats-Pending-Messages` when it ends).
    pub(crate) fn left(&self) -> i64 {
        (self.batch - self.delivered).max(0)
    }
}

/// A pull request body: JSON, or a bare batch size.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct PullRequestJson {
    pub(super) batch: i64,
    pub(super) expires: i64,
    pub(super) no_wait: bool,
    pub(super) max_bytes: i64,
    pub(super) idle_heartbeat: i64,
    #[serde(flatten)]
    pub(super) group: PullGroup,
    /// Only a JSON request has priority fields (nats-server checks them even when empty).
    #[serde(skip)]
    pub(super) is_json: bool,
}

impl PullRequestJson {
    pub(super) fn parse(body: &[u8]) -> Result<PullRequestJson, ApiError> {
        let text = std::str::from_utf8(body).unwrap_or("").trim();
        if text.is_empty() {
            return Ok(PullRequestJson {
                batch: 1,
                ..Default::default()
            });
        }
        if let Ok(n) = text.parse::<i64>() {
            return Ok(PullRequestJson {
                batch: n,
                ..Default::default()
            });
        }
        // Clients send absent fields as `null` (Go reads them as zero).
        let mut req: PullRequestJson = crate::api::decode(text.as_bytes())?;
        req.is_json = true;
        Ok(req)
    }
}
