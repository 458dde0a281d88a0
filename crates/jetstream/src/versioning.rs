//! nats-server's versioning metadata (ADR-44): every stream and consumer config a response
//! carries names the server's version (`_nats.ver`), its API level (`_nats.level`) and the
//! level the config's features need (`_nats.req.level`). Clients read them to decide what
//! a server can do. Natrium derives all three when it answers; they are never stored, and
//! what a client sends under those keys is dropped on create and update (so a config read
//! back and sent again is the same config).

use std::collections::BTreeMap;

use crate::types::{ConsumerConfig, PriorityPolicy, StreamConfig};

pub const VERSION_KEY: &str = "_nats.ver";
pub const LEVEL_KEY: &str = "_nats.level";
pub const REQUIRED_LEVEL_KEY: &str = "_nats.req.level";

/// Drops the versioning keys from a config a client sent.
pub fn strip(metadata: &mut BTreeMap<String, String>) {
    for key in [VERSION_KEY, LEVEL_KEY, REQUIRED_LEVEL_KEY] {
        metadata.remove(key);
    }
}

/// The API level a stream's features need, by nats-server's table.
pub fn stream_required_level(cfg: &StreamConfig) -> u32 {
    let mut level = 0;
    if cfg.allow_msg_ttl || cfg.subject_delete_marker_ttl > 0 {
        level = 1;
    }
    if cfg.allow_msg_counter
        || cfg.allow_atomic
        || cfg.allow_msg_schedules
        || cfg.persist_mode == "async"
    {
        level = 2;
    }
    if cfg.allow_batched {
        level = 4;
    }
    level
}

/// The API level a consumer's features need, by nats-server's table.
pub fn consumer_required_level(cfg: &ConsumerConfig) -> u32 {
    let paused = cfg
        .pause_until
        .as_deref()
        .is_some_and(|t| !t.is_empty() && !t.starts_with("0001-01-01T00:00:00"));
    // Level 4 (2.14's flow-control acks) has no counterpart here.
    u32::from(
        paused
            || cfg.priority_policy != PriorityPolicy::None
            || cfg.priority_timeout != 0
            || !cfg.priority_groups.is_empty(),
    )
}

/// Adds the three keys to a config's metadata for a response.
pub fn annotate(metadata: &mut BTreeMap<String, String>, required: u32, version: &str) {
    metadata.insert(VERSION_KEY.into(), version.into());
    metadata.insert(LEVEL_KEY.into(), crate::API_LEVEL.to_string());
    metadata.insert(REQUIRED_LEVEL_KEY.into(), required.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_features() {
        let mut s = StreamConfig::default();
        assert_eq!(stream_required_level(&s), 0);
        s.allow_msg_ttl = true;
        assert_eq!(stream_required_level(&s), 1);
        s.persist_mode = "async".into();
        assert_eq!(stream_required_level(&s), 2);
        let mut c = ConsumerConfig::default();
        assert_eq!(consumer_required_level(&c), 0);
        c.pause_until = Some("0001-01-01T00:00:00Z".into());
        assert_eq!(consumer_required_level(&c), 0);
        c.priority_groups = vec!["g".into()];
        assert_eq!(consumer_required_level(&c), 1);
    }

    #[test]
    fn annotate_then_strip_is_the_original() {
        let mut md = BTreeMap::from([("k".to_string(), "v".to_string())]);
        annotate(&mut md, 2, "2.12.0");
        assert_eq!(md[REQUIRED_LEVEL_KEY], "2");
        assert_eq!(md[LEVEL_KEY], crate::API_LEVEL.to_string());
        strip(&mut md);
        assert_eq!(md, BTreeMap::from([("k".to_string(), "v".to_string())]));
    }
}
