//! The `jetstream` key: `true`/`false`, `"enabled"`/`"disabled"`, or a block with the store
//! directory, limits, domain, sync policy and tuning knobs.
//!
//! Like nats-server, the first hard error inside the block stops its processing (and leaves
//! JetStream as it was). Keys nats-server knows but Natrium does not implement (encryption,
//! TPM, meta compaction, ...) are recorded as unsupported.

use std::path::PathBuf;

use super::convert::{go_display, go_sprint_s, storage_size, Loader};
use super::{Options, SyncPolicy, DEFAULT_SYNC_INTERVAL};
use crate::conf::{Pos, Spanned, Value};

const UNSUPPORTED: &[&str] = &[
    "key",
    "ek",
    "encryption_key",
    "prev_key",
    "prev_ek",
    "prev_encryption_key",
    "cipher",
    "extension_hint",
    "tpm",
    "max_outstanding_catchup",
    "request_queue_limit",
    "info_queue_limit",
    "meta_compact",
    "meta_compact_size",
    "meta_compact_sync",
    "max_concurrent_io",
];

pub(super) fn apply_jetstream(o: &mut Options, ld: &mut Loader, v: &Spanned) {
    match &v.value {
        Value::Bool(b) => o.jetstream = *b,
        Value::String(s) => match s.to_lowercase().as_str() {
            "enabled" | "enable" => o.jetstream = true,
            "disabled" | "disable" => o.jetstream = false,
            _ => ld.error(
                &v.pos,
                format!("Expected 'enabled' or 'disabled' for string value, got '{s}'"),
            ),
        },
        Value::Map(entries) => {
            if let Some(enable) = apply_block(o, ld, entries, v) {
                o.jetstream = enable;
            }
        }
        other => ld.error(
            &v.pos,
            format!(
                "Expected map, bool or string to define JetStream, got {}",
                other.go_type()
            ),
        ),
    }
}

/// Returns whether the block enables JetStream, or `None` after a hard error.
fn apply_block(
    o: &mut Options,
    ld: &mut Loader,
    entries: &[(String, Spanned)],
    block: &Spanned,
) -> Option<bool> {
    let mut enable = true;
    for (key, v) in entries {
        // nats-server reports a wrong type inside this block at the `jetstream` key.
        let outer = Spanned::new(v.value.clone(), block.pos.clone());
        let lower = key.to_lowercase();
        if UNSUPPORTED.contains(&lower.as_str()) {
            ld.unsupported(format!("jetstream.{key}"), &v.pos);
            continue;
        }
        match lower.as_str() {
            "strict" => match v.value {
                Value::Bool(b) => o.jetstream_strict = b,
                _ => {
                    let got = go_sprint_s(&v.value);
                    let msg = format!("Expected 'true' or 'false' for bool value, got '{got}'");
                    return fail(ld, v, msg);
                }
            },
            "store" | "store_dir" | "storedir" => {
                if o.store_dir.is_some() {
                    return fail(ld, v, "Duplicate 'store_dir' configuration".into());
                }
                o.store_dir = Some(PathBuf::from(ld.string(&outer)?));
            }
            "sync" | "sync_interval" => o.sync_interval = sync_policy(ld, key, v, &outer)?,
            "max_memory_store" | "max_mem_store" | "max_mem" => {
                o.jetstream_max_memory = size(ld, v, "max_mem_store")?;
            }
            "max_file_store" | "max_file" => o.jetstream_max_store = size(ld, v, "max_file_store")?,
            "domain" => o.jetstream_domain = Some(ld.string(&outer)?),
            "enable" | "enabled" => enable = ld.bool(&outer)?,
            "limits" => apply_limits(o, ld, v, &block.pos)?,
            "unique_tag" => {
                let tag = ld.string(&outer)?.trim().to_lowercase();
                o.jetstream_unique_tag = Some(tag);
            }
            "max_buffered_size" => o.jetstream_max_buffered_size = size(ld, v, &lower)?,
            "max_buffered_msgs" => match v.value {
                Value::Int(n) => o.jetstream_max_buffered_msgs = n,
                _ => {
                    let got = go_display(&v.value);
                    let msg = format!("Expected a parseable size for \"{key}\", got {got}");
                    return fail(ld, v, msg);
                }
            },
            _ => ld.unknown_field(key, v),
        }
    }
    Some(enable)
}

fn fail<T>(ld: &mut Loader, v: &Spanned, msg: String) -> Option<T> {
    ld.error(&v.pos, msg);
    None
}

fn size(ld: &mut Loader, v: &Spanned, what: &str) -> Option<i64> {
    match storage_size(&v.value) {
        Ok(n) => Some(n),
        Err(e) => fail(ld, v, format!("{what} {e}")),
    }
}

/// `always`, a duration, or (with a warning) seconds. Zero means nats-server's 2 minutes.
fn sync_policy(ld: &mut Loader, key: &str, v: &Spanned, outer: &Spanned) -> Option<SyncPolicy> {
    let d = match &v.value {
        Value::String(s) if s.eq_ignore_ascii_case("always") => return Some(SyncPolicy::Always),
        Value::String(_) | Value::Int(_) => ld.duration(key, v)?,
        _ => ld.duration(key, outer)?,
    };
    Some(SyncPolicy::Interval(if d.is_zero() {
        DEFAULT_SYNC_INTERVAL
    } else {
        d
    }))
}

/// `limits { max_request_batch, ... }`; only `max_request_batch` is implemented.
fn apply_limits(o: &mut Options, ld: &mut Loader, v: &Spanned, block_pos: &Pos) -> Option<()> {
    let Value::Map(entries) = &v.value else {
        let msg = format!(
            "Expected a map to define JetStreamLimits, got {}",
            v.value.go_type()
        );
        return fail(ld, v, msg);
    };
    o.jetstream_request_batch_max = 0;
    for (key, lv) in entries {
        match key.to_lowercase().as_str() {
            "max_request_batch" => {
                let outer = Spanned::new(lv.value.clone(), block_pos.clone());
                if let Some(n) = ld.int32(key, &outer) {
                    o.jetstream_request_batch_max = n;
                }
            }
            "max_ack_pending" | "max_ha_assets" | "duplicate_window" | "batch" => {
                ld.unsupported(format!("jetstream.limits.{key}"), &lv.pos)
            }
            _ => ld.unknown_field(key, lv),
        }
    }
    Some(())
}
