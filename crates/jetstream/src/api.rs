//! The `$JS.API.*` request handlers.
//!
//! [`dispatch`] runs on the requester's task: it hands every request to a blocking thread
//! (handlers touch the disk) and answers on the request's reply subject with nats-server's
//! response JSON, or its error JSON with the registered code. Requests without a reply
//! subject are ignored, as nats-server does.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use natrium_store::{self as store, StoreError};
use serde::Deserialize;

use crate::advisory::{self, Action};
use crate::consumer::{self, Consumer};
use crate::errors::{self as e, ApiError};
use crate::headers as h;
use crate::source::Kind;
use crate::stream::{self, Stream};
use crate::types::*;
use crate::{InMsg, JetStream};

/// Most items in one NAMES/LIST page, as nats-server.
const NAMES_PAGE: usize = 1024;
const LIST_PAGE: usize = 256;

type Reply = Result<Vec<u8>, ApiError>;

/// Takes an API request; false when nats-server would have no subscriber for it
/// (DIRECT.GET is served by the stream itself; MSG.NEXT only by an existing consumer).
pub fn dispatch(js: Arc<JetStream>, m: InMsg) -> bool {
    if m.subject.starts_with("$JS.API.DIRECT.GET.") {
        return false;
    }
    if let Some(rest) = m.subject.strip_prefix("$JS.API.CONSUMER.MSG.NEXT.") {
        let exists = rest
            .split_once('.')
            .and_then(|(s, c)| js.stream(s).and_then(|s| s.consumer(c)))
            .is_some();
        if !exists {
            return false;
        }
    }
    let Some(reply) = m.reply.clone() else {
        return true;
    };
    let rt = js.runtime().clone();
    rt.spawn_blocking(move || {
        let (kind, result) = handle(&js, &m);
        if matches!(&result, Err(err) if err.code == 0) {
            return;
        }
        js.count_api(result.is_err());
        let body = match result {
            Ok(b) => b,
            Err(err) if kind == "consumer_reset_response" => consumer::reset_error_body(&err),
            Err(err) => error_response(kind, &err),
        };
        let body = Bytes::from(body);
        js.outlet().publish(&reply, None, None, body.clone());
        if js.outlet().has_interest(advisory::API_AUDIT_SUBJECT) {
            let client = js.outlet().client_info(m.origin);
            advisory::api_audit(&js, client, &m.subject, &m.payload, &body);
        }
    });
    true
}

fn tokens(subject: &str) -> Vec<&str> {
    subject.split('.').collect()
}

fn parse<T: for<'de> Deserialize<'de> + Default>(payload: &[u8]) -> Result<T, ApiError> {
    if payload.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    decode(payload)
}

/// Decodes a request body. Like Go's decoder in nats-server, a JSON `null` leaves the
/// field at its default.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(payload: &[u8]) -> Result<T, ApiError> {
    let mut v: serde_json::Value =
        serde_json::from_slice(payload).map_err(|err| e::JS_INVALID_JSON.with(err))?;
    if v.is_null() {
        v = serde_json::Value::Object(Default::default());
    }
    strip_nulls(&mut v);
    serde_json::from_value(v).map_err(|err| e::JS_INVALID_JSON.with(err))
}

fn strip_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// How an account without JetStream answers an API request.
pub enum NotEnabled {
    /// Decline: the requester gets a no-responders status.
    Decline,
    /// No answer (unknown API subjects).
    Silent,
    /// Reply with this body.
    Reply(Vec<u8>),
}

/// nats-server's answer to `subject` in an account where JetStream is not enabled.
pub fn not_enabled(subject: &str) -> NotEnabled {
    if subject.starts_with("$JS.API.DIRECT.GET.")
        || subject.starts_with("$JS.API.CONSUMER.MSG.NEXT.")
        || subject.starts_with("$JS.API.CONSUMER.RESET.")
    {
        return NotEnabled::Decline;
    }
    let t = tokens(subject);
    match kind_of(&t[2.min(t.len())..]) {
        Some(kind) => NotEnabled::Reply(error_response(kind, &e::JS_NOT_ENABLED_FOR_ACCOUNT.err())),
        None => NotEnabled::Silent,
    }
}

/// The response `type` of an API request (the tokens after `$JS.API`); `None` for
/// subjects nats-server does not answer.
fn kind_of(rest: &[&str]) -> Option<&'static str> {
    Some(match rest {
        ["INFO"] => "account_info_response",
        ["STREAM", "CREATE", _] => "stream_create_response",
        ["STREAM", "UPDATE", _] => "stream_update_response",
        ["STREAM", "INFO", _] => "stream_info_response",
        ["STREAM", "DELETE", _] => "stream_delete_response",
        ["STREAM", "PURGE", _] => "stream_purge_response",
        ["STREAM", "NAMES"] => "stream_names_response",
        ["STREAM", "LIST"] => "stream_list_response",
        ["STREAM", "MSG", "GET", _] => "stream_msg_get_response",
        ["STREAM", "MSG", "DELETE", _] => "stream_msg_delete_response",
        ["STREAM", "SNAPSHOT", _] => "stream_snapshot_response",
        ["STREAM", "RESTORE", _] => "stream_restore_response",
        ["CONSUMER", "CREATE", _, ..] | ["CONSUMER", "DURABLE", "CREATE", _, _] => {
            "consumer_create_response"
        }
        ["CONSUMER", "INFO", _, _] => "consumer_info_response",
        ["CONSUMER", "DELETE", _, _] => "consumer_delete_response",
        ["CONSUMER", "NAMES", _] => "consumer_names_response",
        ["CONSUMER", "LIST", _] => "consumer_list_response",
        ["CONSUMER", "PAUSE", _, _] => "consumer_pause_response",
        ["CONSUMER", "MSG", "NEXT", _, _] => "consumer_getnext_response",
        ["CONSUMER", "UNPIN", _, _] => "consumer_unpin_response",
        ["CONSUMER", "RESET", _, _] => "consumer_reset_response",
        ["STREAM", "LEADER", "STEPDOWN", _]
        | ["CONSUMER", "LEADER", "STEPDOWN", _, _]
        | ["META", ..]
        | ["SERVER", "REMOVE"]
        | ["STREAM", "PEER", "REMOVE", _] => "error_response",
        _ => return None,
    })
}

/// Routes one request; returns the response `type` and the body or error.
fn handle(js: &Arc<JetStream>, m: &InMsg) -> (&'static str, Reply) {
    let t = tokens(&m.subject);
    let rest = &t[2.min(t.len())..];
    let p = &m.payload[..];
    let Some(kind) = kind_of(rest) else {
        // nats-server does not answer unknown API subjects at all.
        return ("error_response", Err(NO_REPLY));
    };
    let result = match rest {
        ["INFO"] => account_info(js),
        ["STREAM", "CREATE", name] => stream_create(js, name, p),
        ["STREAM", "UPDATE", name] => stream_update(js, name, p),
        ["STREAM", "INFO", name] => stream_info(js, name, p),
        ["STREAM", "DELETE", name] => stream_delete(js, name),
        ["STREAM", "PURGE", name] => stream_purge(js, name, p),
        ["STREAM", "NAMES"] => stream_names(js, p),
        ["STREAM", "LIST"] => stream_list(js, p),
        ["STREAM", "MSG", "GET", name] => msg_get(js, name, p),
        ["STREAM", "MSG", "DELETE", name] => msg_delete(js, name, p),
        ["STREAM", "SNAPSHOT", name] => stream_snapshot(js, name, m),
        ["STREAM", "RESTORE", name] => {
            if p.iter().all(|b| b.is_ascii_whitespace()) {
                Err(e::JS_BAD_REQUEST.err())
            } else {
                crate::backup::restore(js, name, p)
            }
        }
        ["CONSUMER", "CREATE", stream, rest @ ..] => consumer_create(js, stream, rest, p, false),
        ["CONSUMER", "DURABLE", "CREATE", stream, name] => {
            consumer_create(js, stream, &[name], p, true)
        }
        ["CONSUMER", "INFO", stream, name] => consumer_info(js, stream, name),
        ["CONSUMER", "DELETE", stream, name] => consumer_delete(js, stream, name),
        ["CONSUMER", "NAMES", stream] => consumer_names(js, stream, p),
        ["CONSUMER", "LIST", stream] => consumer_list(js, stream, p),
        ["CONSUMER", "PAUSE", stream, name] => consumer_pause(js, stream, name, p),
        ["CONSUMER", "MSG", "NEXT", stream, name] => msg_next(js, stream, name, m),
        ["CONSUMER", "UNPIN", stream, name] => crate::priority::unpin_request(js, stream, name, p),
        ["CONSUMER", "RESET", stream, name] => {
            consumer::reset_request(js, stream, name, p).unwrap_or(Err(NO_REPLY))
        }
        _ => Err(e::JS_CLUSTER_NOT_ACTIVE.err()),
    };
    (kind, result)
}

fn find_stream(js: &JetStream, name: &str) -> Result<Arc<Stream>, ApiError> {
    js.stream(name).ok_or_else(|| e::JS_STREAM_NOT_FOUND.err())
}

fn account_info(js: &JetStream) -> Reply {
    let (mem, file, streams, consumers) = js.usage();
    // What streams reserve: the sum of their `max_bytes`, per storage type.
    let (mut reserved_mem, mut reserved_file) = (0i64, 0i64);
    for s in js.streams() {
        let c = s.config();
        match c.storage {
            Storage::Memory => reserved_mem += c.max_bytes.max(0),
            Storage::File => reserved_file += c.max_bytes.max(0),
        }
    }
    // With tiered limits the account-wide limits read as zero and the tier carries them.
    let limits_now = js.limits();
    let (limits, tiers) = match &limits_now.tier {
        None => (serde_json::to_value(&limits_now).unwrap_or_default(), None),
        Some(tier) => {
            let zero = crate::AccountLimits {
                max_memory: 0,
                max_storage: 0,
                max_streams: 0,
                max_consumers: 0,
                max_ack_pending: 0,
                memory_max_stream_bytes: 0,
                storage_max_stream_bytes: 0,
                max_bytes_required: false,
                tier: None,
            };
            let t = serde_json::json!({ tier.clone(): {
                "memory": mem,
                "storage": file,
                "reserved_memory": reserved_mem,
                "reserved_storage": reserved_file,
                "streams": streams,
                "consumers": consumers,
                "limits": limits_now,
            }});
            (serde_json::to_value(&zero).unwrap_or_default(), Some(t))
        }
    };
    let body = serde_json::json!({
        "memory": mem,
        "storage": file,
        "reserved_memory": reserved_mem,
        "reserved_storage": reserved_file,
        "streams": streams,
        "consumers": consumers,
        "limits": limits,
        "domain": js.cfg.domain,
        "api": {
            "level": 1,
            "total": js.api_total.load(std::sync::atomic::Ordering::Relaxed),
            "errors": js.api_errors.load(std::sync::atomic::Ordering::Relaxed),
        },
    });
    let mut body = body;
    if let Some(o) = body.as_object_mut() {
        if js.cfg.domain.is_none() {
            o.remove("domain");
        }
        if let Some(t) = tiers {
            o.insert("tiers".into(), t);
        }
    }
    Ok(response("account_info_response", &body))
}

fn stream_config_from(
    js: &JetStream,
    name: &str,
    p: &[u8],
    create: bool,
) -> Result<StreamConfig, ApiError> {
    if p.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(e::JS_BAD_REQUEST.err());
    }
    let mut cfg: StreamConfig = decode(p)?;
    if cfg.name.is_empty() {
        cfg.name = name.to_string();
    }
    if cfg.name != name {
        return Err(e::JS_STREAM_MISMATCH.err());
    }
    if create && cfg.sealed {
        return Err(
            e::JS_STREAM_INVALID_CONFIG.with("stream configuration for create can not be sealed")
        );
    }
    if create && cfg.mirror_direct && cfg.mirror.is_none() {
        return Err(
            e::JS_STREAM_INVALID_CONFIG.with("stream has no mirror but does have mirror direct")
        );
    }
    stream::normalize(&mut cfg);
    stream::validate(&cfg)?;
    // A mirror answers direct gets for its origin when the origin allows them.
    if let Some(origin) = cfg.mirror.as_ref().and_then(|m| js.stream(&m.name)) {
        cfg.mirror_direct = origin.config().allow_direct;
    }
    Ok(cfg)
}

/// A stream may not promise more bytes than the server's `max_memory_store` /
/// `max_file_store` (when set).
fn check_resources(js: &JetStream, cfg: &StreamConfig) -> Result<(), ApiError> {
    let lim = &js.limits();
    if lim.max_bytes_required && cfg.max_bytes <= 0 {
        return Err(e::JS_STREAM_MAX_BYTES_REQUIRED.err());
    }
    let max_stream_bytes = match cfg.storage {
        Storage::Memory => lim.memory_max_stream_bytes,
        Storage::File => lim.storage_max_stream_bytes,
    };
    if max_stream_bytes > 0 && cfg.max_bytes > max_stream_bytes {
        return Err(e::JS_STREAM_MAX_STREAM_BYTES_EXCEEDED.err());
    }
    let (server, account, err) = match cfg.storage {
        Storage::Memory => (
            js.cfg.max_memory,
            lim.max_memory,
            e::JS_MEMORY_RESOURCES_EXCEEDED,
        ),
        Storage::File => (
            js.cfg.max_store,
            lim.max_storage,
            e::JS_STORAGE_RESOURCES_EXCEEDED,
        ),
    };
    if server > 0 && cfg.max_bytes > server {
        return Err(err.err());
    }
    if account > 0 {
        // The account's limit covers every stream's reservation (max_bytes) of that
        // storage type together.
        let reserved: i64 = js
            .streams()
            .iter()
            .map(|s| s.config())
            .filter(|c| c.storage == cfg.storage && c.name != cfg.name)
            .map(|c| c.max_bytes.max(0))
            .sum();
        if cfg.max_bytes > account || reserved + cfg.max_bytes.max(0) > account {
            return Err(err.err());
        }
    }
    Ok(())
}

fn check_overlap(js: &JetStream, cfg: &StreamConfig) -> Result<(), ApiError> {
    for other in js.streams() {
        if other.name == cfg.name {
            continue;
        }
        let ocfg = other.config();
        for a in &cfg.subjects {
            for b in &ocfg.subjects {
                if natrium_sublist::subjects_overlap(a, b) {
                    return Err(e::JS_STREAM_SUBJECT_OVERLAP.err());
                }
            }
        }
    }
    Ok(())
}

/// The checks of a mirror or sources against the streams they read: message size and
/// source cycles, as nats-server makes them. Origins need not exist yet.
fn check_origins(js: &JetStream, cfg: &StreamConfig) -> Result<(), ApiError> {
    let too_big = |name: &str| {
        js.stream(name).is_some_and(|o| {
            let omax = o.config().max_msg_size;
            cfg.max_msg_size > 0 && omax > 0 && cfg.max_msg_size < omax
        })
    };
    if let Some(m) = &cfg.mirror {
        if too_big(&m.name) {
            return Err(e::JS_MIRROR_MAX_MESSAGE_SIZE_TOO_BIG.err());
        }
    }
    for src in &cfg.sources {
        if too_big(&src.name) {
            return Err(e::JS_SOURCE_MAX_MESSAGE_SIZE_TOO_BIG.err());
        }
    }
    // A stream that (through its sources) reads subjects it itself captures loops forever.
    let mut to_visit = vec![std::sync::Arc::new(cfg.clone())];
    let mut visited = std::collections::HashSet::new();
    while let Some(c) = to_visit.pop() {
        visited.insert(c.name.clone());
        for src in &c.sources {
            if visited.contains(&src.name) {
                let overlaps = src.filter_subject.is_empty()
                    || c.subjects
                        .iter()
                        .any(|s| natrium_sublist::subjects_overlap(s, &src.filter_subject));
                if overlaps {
                    return Err(e::JS_STREAM_INVALID_CONFIG.with("detected cycle"));
                }
            } else if let Some(o) = js.stream(&src.name) {
                to_visit.push(o.config());
            }
        }
    }
    Ok(())
}

fn stream_info_body(js: &JetStream, s: &Stream, opts: &StreamInfoRequest) -> StreamInfo {
    let st = if opts.deleted_details {
        s.store.state()
    } else {
        s.store.fast_state()
    };
    let subjects = opts
        .subjects_filter
        .as_deref()
        .filter(|f| !f.is_empty())
        .map(|f| {
            s.store
                .subjects_totals(f)
                .into_iter()
                .skip(opts.offset)
                .take(SUBJECTS_PAGE)
                .collect::<std::collections::BTreeMap<_, _>>()
        })
        // An empty map is left out, as nats-server does.
        .filter(|m| !m.is_empty());
    let origins = s.origin_infos();
    let mut config = (*s.config()).clone();
    let level = crate::versioning::stream_required_level(&config);
    crate::versioning::annotate(&mut config.metadata, level, &js.cfg.server_version);
    StreamInfo {
        config,
        created: rfc3339(s.created),
        state: StreamStateJson {
            messages: st.msgs,
            bytes: st.bytes,
            first_seq: st.first_seq,
            first_ts: rfc3339(st.first_ts),
            last_seq: st.last_seq,
            last_ts: rfc3339(st.last_ts),
            num_subjects: st.num_subjects,
            subjects,
            num_deleted: st.num_deleted,
            deleted: if opts.deleted_details {
                st.deleted.filter(|d| !d.is_empty())
            } else {
                None
            },
            consumer_count: s.consumer_count() as u64,
        },
        domain: js.cfg.domain.clone(),
        cluster: Some(ClusterInfo {
            name: None,
            leader: js.cfg.server_name.clone(),
        }),
        mirror: origins
            .iter()
            .find(|(k, _)| *k == Kind::Mirror)
            .map(|(_, i)| i.clone()),
        sources: origins
            .into_iter()
            .filter(|(k, _)| *k == Kind::Source)
            .map(|(_, i)| i)
            .collect(),
        ts: rfc3339(store::now_nanos()),
    }
}

/// A snapshot request: the reply (config and state) goes out before the chunks, so it is
/// sent here rather than by `dispatch`.
fn stream_snapshot(js: &Arc<JetStream>, name: &str, m: &InMsg) -> Reply {
    let p = &m.payload[..];
    if p.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(e::JS_BAD_REQUEST.err());
    }
    let s = find_stream(js, name)?;
    let Some(reply) = m.reply.as_deref() else {
        return Err(NO_REPLY);
    };
    crate::backup::snapshot(js, &s, p, reply)?;
    js.count_api(false);
    Err(NO_REPLY)
}

/// A stream's state as stream info shows it.
pub(crate) fn stream_state(js: &JetStream, s: &Stream) -> StreamStateJson {
    stream_info_body(js, s, &Default::default()).state
}

/// The body of a successful stream create response for `s`.
pub(crate) fn stream_created_body(js: &JetStream, s: &Stream) -> Vec<u8> {
    stream_created(js, s, "stream_create_response")
}

/// An error response body of type `kind`.
pub(crate) fn error_body(kind: &str, err: &ApiError) -> Vec<u8> {
    error_response(kind, err)
}

/// A create or update response: no `cluster`, and `did_create` on create.
fn stream_created(js: &JetStream, s: &Stream, kind: &str) -> Vec<u8> {
    let mut info = stream_info_body(js, s, &Default::default());
    info.cluster = None;
    let mut v = serde_json::to_value(&info).unwrap_or_default();
    if kind == "stream_create_response" {
        if let Some(o) = v.as_object_mut() {
            o.insert("did_create".into(), true.into());
        }
    }
    response(kind, &v)
}

fn stream_create(js: &Arc<JetStream>, name: &str, p: &[u8]) -> Reply {
    let cfg = stream_config_from(js, name, p, true)?;
    if let Some(existing) = js.stream(name) {
        // Creating an identical stream again is fine, as in nats-server.
        if *existing.config() == cfg {
            return Ok(stream_created(js, &existing, "stream_create_response"));
        }
        return Err(e::JS_STREAM_NAME_EXIST.err());
    }
    let max_streams = js.limits().max_streams;
    if max_streams > 0 && js.streams().len() as i64 >= max_streams {
        return Err(e::JS_MAXIMUM_STREAMS_LIMIT.err());
    }
    check_resources(js, &cfg)?;
    check_overlap(js, &cfg)?;
    check_origins(js, &cfg)?;
    let s = Stream::open(js, cfg, store::now_nanos(), true)?;
    js.insert_stream(s.clone());
    advisory::stream_action(js, name, Action::Create);
    Ok(stream_created(js, &s, "stream_create_response"))
}

fn stream_update(js: &Arc<JetStream>, name: &str, p: &[u8]) -> Reply {
    let cfg = stream_config_from(js, name, p, false)?;
    let s = find_stream(js, name)?;
    let old = s.config();
    if old.storage != cfg.storage {
        return Err(e::JS_STREAM_INVALID_CONFIG
            .with("stream configuration update can not change storage type"));
    }
    if old.retention != cfg.retention {
        return Err(e::JS_STREAM_INVALID_CONFIG
            .with("stream configuration update can not change retention policy"));
    }
    if old.allow_msg_ttl && !cfg.allow_msg_ttl {
        return Err(e::JS_STREAM_INVALID_CONFIG.with("message TTL status can not be disabled"));
    }
    if old.allow_msg_schedules && !cfg.allow_msg_schedules {
        return Err(e::JS_STREAM_INVALID_CONFIG.with("message schedules can not be disabled"));
    }
    if old.persist_mode != cfg.persist_mode {
        return Err(e::JS_STREAM_INVALID_CONFIG
            .with("stream configuration update can not change persist mode"));
    }
    if old.allow_msg_counter != cfg.allow_msg_counter {
        return Err(e::JS_STREAM_INVALID_CONFIG
            .with("stream configuration update can not change message counter setting"));
    }
    if old.sealed && !cfg.sealed {
        return Err(e::JS_STREAM_INVALID_CONFIG
            .with("stream configuration update can not unseal a sealed stream"));
    }
    // Removing the mirror promotes the stream; any other change to it is refused.
    if cfg.mirror.is_some() && cfg.mirror != old.mirror {
        return Err(e::JS_STREAM_MIRROR_NOT_UPDATABLE.err());
    }
    check_resources(js, &cfg)?;
    check_overlap(js, &cfg)?;
    check_origins(js, &cfg)?;
    let lim = &cfg.consumer_limits;
    for c in s.consumers() {
        let over_pending =
            lim.max_ack_pending > 0 && c.config.max_ack_pending > lim.max_ack_pending;
        let over_inactive =
            lim.inactive_threshold > 0 && c.config.inactive_threshold > lim.inactive_threshold;
        if over_pending || over_inactive {
            return Err(e::JS_STREAM_UPDATE.with(format!(
                "consumer {:?} exceeds the new consumer limits",
                c.name
            )));
        }
    }
    s.update(js, cfg)?;
    advisory::stream_action(js, name, Action::Modify);
    Ok(stream_created(js, &s, "stream_update_response"))
}

/// Most subjects one STREAM.INFO page lists (nats-server's JSMaxSubjectDetails).
const SUBJECTS_PAGE: usize = 100_000;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StreamInfoRequest {
    deleted_details: bool,
    subjects_filter: Option<String>,
    offset: usize,
}

fn stream_info(js: &JetStream, name: &str, p: &[u8]) -> Reply {
    let req: StreamInfoRequest = parse(p)?;
    let s = find_stream(js, name)?;
    let info = stream_info_body(js, &s, &req);
    // nats-server puts the subject paging fields first.
    let filtered = req.subjects_filter.as_deref().filter(|f| !f.is_empty());
    let total = filtered.map_or(0, |f| s.store.subjects_totals(f).len());
    let limit = if filtered.is_some() { SUBJECTS_PAGE } else { 0 };
    let mut v = serde_json::json!({ "total": total, "offset": req.offset, "limit": limit });
    if let (Some(o), serde_json::Value::Object(rest)) = (
        v.as_object_mut(),
        serde_json::to_value(&info).unwrap_or_default(),
    ) {
        o.extend(rest);
    }
    Ok(response("stream_info_response", &v))
}

fn stream_delete(js: &JetStream, name: &str) -> Reply {
    let s = js
        .remove_stream(name)
        .ok_or_else(|| e::JS_STREAM_NOT_FOUND.err())?;
    s.delete().map_err(|err| e::JS_STREAM_DELETE.with(err))?;
    advisory::stream_action(js, name, Action::Delete);
    Ok(response(
        "stream_delete_response",
        &serde_json::json!({ "success": true }),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PurgeRequest {
    filter: String,
    seq: u64,
    keep: u64,
}

fn stream_purge(js: &JetStream, name: &str, p: &[u8]) -> Reply {
    let req: PurgeRequest = parse(p)?;
    let s = find_stream(js, name)?;
    let cfg = s.config();
    if cfg.sealed {
        return Err(e::JS_STREAM_SEALED.err());
    }
    if cfg.deny_purge {
        return Err(e::JS_STREAM_PURGE_FAILED.with("stream purge not permitted"));
    }
    let purged = if req.filter.is_empty() && req.seq == 0 && req.keep == 0 {
        s.store.purge()
    } else if req.filter.is_empty() && req.keep == 0 {
        s.store.compact(req.seq)
    } else {
        s.store.purge_ex(&req.filter, req.seq, req.keep)
    }
    .map_err(|err| e::JS_STREAM_PURGE_FAILED.with(err))?;
    s.notify_consumers();
    Ok(response(
        "stream_purge_response",
        &serde_json::json!({ "success": true, "purged": purged }),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListRequest {
    offset: usize,
    subject: String,
}

fn matching_streams(js: &JetStream, subject: &str) -> Vec<Arc<Stream>> {
    js.streams()
        .into_iter()
        .filter(|s| {
            subject.is_empty()
                || s.config()
                    .subjects
                    .iter()
                    .any(|sub| natrium_sublist::subjects_overlap(sub, subject))
        })
        .collect()
}

fn stream_names(js: &JetStream, p: &[u8]) -> Reply {
    let req: ListRequest = parse(p)?;
    let all = matching_streams(js, &req.subject);
    let names: Vec<String> = all
        .iter()
        .skip(req.offset)
        .take(NAMES_PAGE)
        .map(|s| s.name.clone())
        .collect();
    // nats-server answers `null`, not `[]`, when there are no streams.
    let names = (!names.is_empty()).then_some(names);
    Ok(response(
        "stream_names_response",
        &serde_json::json!({ "total": all.len(), "offset": req.offset, "limit": NAMES_PAGE, "streams": names }),
    ))
}

fn stream_list(js: &JetStream, p: &[u8]) -> Reply {
    let req: ListRequest = parse(p)?;
    let all = matching_streams(js, &req.subject);
    let infos: Vec<StreamInfo> = all
        .iter()
        .skip(req.offset)
        .take(LIST_PAGE)
        .map(|s| stream_info_body(js, s, &Default::default()))
        .collect();
    Ok(response(
        "stream_list_response",
        &serde_json::json!({ "total": all.len(), "offset": req.offset, "limit": LIST_PAGE, "streams": infos }),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MsgGetRequest {
    seq: u64,
    last_by_subj: String,
    next_by_subj: String,
}

fn lookup(s: &Stream, req: &MsgGetRequest) -> Result<store::StoredMsg, StoreError> {
    if !req.last_by_subj.is_empty() {
        s.store.load_last_msg(&req.last_by_subj)
    } else if !req.next_by_subj.is_empty() {
        s.store.load_next_msg(&req.next_by_subj, req.seq)
    } else {
        s.store.load_msg(req.seq)
    }
}

fn msg_get(js: &JetStream, name: &str, p: &[u8]) -> Reply {
    let req: MsgGetRequest = parse(p)?;
    if req.seq == 0 && req.last_by_subj.is_empty() && req.next_by_subj.is_empty() {
        return Err(e::JS_BAD_REQUEST.err());
    }
    let s = find_stream(js, name)?;
    let m = lookup(&s, &req).map_err(|err| match err {
        StoreError::NotFound | StoreError::Eof => e::JS_NO_MESSAGE_FOUND.err(),
        other => e::JS_STREAM_GENERAL_ERROR.with(other),
    })?;
    let b64 = base64::engine::general_purpose::STANDARD;
    // nats-server's field order: subject, seq, hdrs, data, time.
    let mut msg = serde_json::json!({
        "subject": &*m.subject,
        "seq": m.seq,
    });
    if let Some(obj) = msg.as_object_mut() {
        if let Some(hdr) = m.headers.as_ref().filter(|h| !h.is_empty()) {
            obj.insert("hdrs".into(), b64.encode(hdr).into());
        }
        if !m.payload.is_empty() {
            obj.insert("data".into(), b64.encode(&m.payload).into());
        }
        obj.insert("time".into(), rfc3339(m.ts).into());
    }
    Ok(response(
        "stream_msg_get_response",
        &serde_json::json!({ "message": msg }),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MsgDeleteRequest {
    seq: u64,
    no_erase: bool,
}

fn msg_delete(js: &JetStream, name: &str, p: &[u8]) -> Reply {
    let req: MsgDeleteRequest = parse(p)?;
    let s = find_stream(js, name)?;
    let cfg = s.config();
    if cfg.sealed {
        return Err(e::JS_STREAM_SEALED.err());
    }
    if cfg.deny_delete {
        return Err(e::JS_STREAM_MSG_DELETE_FAILED.with("message delete not permitted"));
    }
    let removed = if req.no_erase {
        s.store.remove_msg(req.seq)
    } else {
        s.store.erase_msg(req.seq)
    }
    .map_err(|err| e::JS_STREAM_MSG_DELETE_FAILED.with(err))?;
    if !removed {
        return Err(e::JS_STREAM_MSG_DELETE_FAILED.with("no message found"));
    }
    Ok(response(
        "stream_msg_delete_response",
        &serde_json::json!({ "success": true }),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConsumerCreateRequest {
    stream_name: String,
    config: ConsumerConfig,
    action: String,
    /// Refuse instead of filling in defaults the request did not state.
    pedantic: bool,
}

fn consumer_create(
    js: &Arc<JetStream>,
    stream_name: &str,
    rest: &[&str],
    p: &[u8],
    durable_api: bool,
) -> Reply {
    if p.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(e::JS_BAD_REQUEST.err());
    }
    let req: ConsumerCreateRequest = decode(p)?;
    if !req.stream_name.is_empty() && req.stream_name != stream_name {
        return Err(e::JS_STREAM_MISMATCH.err());
    }
    // nats-server's checks, in its order: the name from the subject, then the durable name
    // against it, then the filter in the subject; the stream is looked up after.
    let mut cfg = req.config;
    let subject_name = rest.first().copied();
    if subject_name.is_some_and(|n| n.contains(['/', '\\'])) {
        return Err(e::JS_CONSUMER_NAME_CONTAINS_PATH_SEPARATORS.err());
    }
    match subject_name {
        Some(n) if durable_api => {
            if cfg.durable_name.is_empty() {
                return Err(e::JS_CONSUMER_DURABLE_NAME_NOT_SET.err());
            }
            if cfg.durable_name != n {
                return Err(e::JS_CONSUMER_DURABLE_NAME_NOT_MATCH_SUBJECT.err());
            }
            cfg.name = n.to_string();
        }
        Some(n) => {
            if !cfg.durable_name.is_empty() && cfg.durable_name != n {
                return Err(e::JS_CONSUMER_DURABLE_NAME_NOT_MATCH_SUBJECT.err());
            }
            cfg.name = n.to_string();
        }
        None if !cfg.durable_name.is_empty() => {
            return Err(e::JS_CONSUMER_EPHEMERAL_WITH_DURABLE_NAME.err());
        }
        None => {}
    }
    if let Some(filter) = rest.get(1..).filter(|f| !f.is_empty()) {
        let f = filter.join(".");
        if !cfg.filter_subjects.is_empty() {
            return Err(e::JS_CONSUMER_MULTIPLE_FILTERS_NOT_ALLOWED.err());
        }
        if cfg.filter_subject != f {
            return Err(e::JS_CONSUMER_CREATE_FILTER_SUBJECT_MISMATCH.err());
        }
    }
    let s = find_stream(js, stream_name)?;
    if !cfg.durable_name.is_empty() && !cfg.name.is_empty() && cfg.durable_name != cfg.name {
        return Err(e::JS_CONSUMER_CREATE_DURABLE_AND_NAME_MISMATCH.err());
    }
    if cfg.num_replicas > 1 {
        return Err(e::JS_STREAM_REPLICAS_NOT_SUPPORTED.err());
    }
    // The stream's consumer limits are the defaults, and the ceiling.
    let slim = s.config().consumer_limits.clone();
    if req.pedantic {
        pedantic_consumer_checks(&cfg, &slim)?;
    }
    if cfg.max_ack_pending < -1 {
        cfg.max_ack_pending = -1;
    }
    if cfg.inactive_threshold < 0 {
        cfg.inactive_threshold = 0;
    }
    // Whatever the ack policy, as nats-server does.
    if cfg.max_ack_pending == 0 && slim.max_ack_pending > 0 {
        cfg.max_ack_pending = slim.max_ack_pending;
    }
    if cfg.inactive_threshold == 0 && slim.inactive_threshold > 0 {
        cfg.inactive_threshold = slim.inactive_threshold;
    }
    if slim.max_ack_pending > 0 && cfg.max_ack_pending > slim.max_ack_pending {
        return Err(e::JS_CONSUMER_MAX_PENDING_ACK_EXCESS.with(slim.max_ack_pending));
    }
    // The account's max_ack_pending is the default and the ceiling after the stream's.
    let alim = js.limits().max_ack_pending;
    if alim > 0 {
        if cfg.max_ack_pending == 0 && cfg.ack_policy != AckPolicy::None {
            cfg.max_ack_pending = alim;
        } else if cfg.max_ack_pending > alim {
            return Err(e::JS_CONSUMER_MAX_PENDING_ACK_EXCESS.with(alim));
        }
    }
    consumer::normalize(&mut cfg);
    let limit = js.cfg.max_request_batch;
    if limit > 0 && cfg.is_pull() {
        // The server's `limits { max_request_batch }` caps every pull consumer.
        if cfg.max_batch == 0 {
            cfg.max_batch = limit;
        } else if cfg.max_batch > limit {
            return Err(e::JS_CONSUMER_MAX_REQUEST_BATCH_EXCEEDED.with(limit));
        }
    }
    if cfg.max_batch < 0 {
        return Err(e::JS_CONSUMER_MAX_REQUEST_BATCH_NEGATIVE.err());
    }
    if cfg.max_expires != 0 && cfg.max_expires < 1_000_000 {
        return Err(e::JS_CONSUMER_MAX_REQUEST_EXPIRES_TOO_SMALL.err());
    }
    validate_consumer(&s, &cfg)?;
    let name = if cfg.name.is_empty() {
        random_name()
    } else {
        cfg.name.clone()
    };
    let mut is_new = true;
    if let Some(existing) = s.consumer(&name) {
        if req.action == "create" && existing.config != cfg {
            return Err(e::JS_CONSUMER_ALREADY_EXISTS.err());
        }
        if existing.config == cfg || req.action == "create" {
            return Ok(response("consumer_create_response", &existing.info(js)));
        }
        // An update: replace the consumer, keeping its state on disk.
        is_new = false;
        existing.stop();
        s.remove_consumer_keep_state(&name);
    } else if req.action == "update" {
        return Err(e::JS_CONSUMER_DOES_NOT_EXIST.err());
    }
    let scfg = s.config();
    if scfg.max_consumers > 0 && s.consumer_count() as i64 >= scfg.max_consumers {
        return Err(e::JS_MAXIMUM_CONSUMERS_LIMIT.err());
    }
    let max_consumers = js.limits().max_consumers;
    if max_consumers > 0 && js.usage().3 as i64 >= max_consumers {
        return Err(e::JS_MAXIMUM_CONSUMERS_LIMIT.err());
    }
    let c = Consumer::open(&s, js, &name, cfg, store::now_nanos(), true)?;
    s.insert_consumer(c.clone());
    if is_new {
        advisory::consumer_action(js, &s.name, &name, Action::Create);
    }
    Ok(response("consumer_create_response", &c.info(js)))
}

/// nats-server's pedantic mode: a value the server would change or fill in from the
/// stream's limits is an error instead (10157).
fn pedantic_consumer_checks(
    cfg: &ConsumerConfig,
    slim: &crate::types::ConsumerLimits,
) -> Result<(), ApiError> {
    let fail = |what: &str| Err(e::JS_PEDANTIC.with(what));
    if cfg.max_deliver < -1 {
        return fail("max_deliver must be set to -1");
    }
    if cfg.max_waiting < 0 {
        return fail("max_waiting must not be negative");
    }
    if cfg.max_ack_pending < -1 {
        return fail("max_ack_pending must be set to -1");
    }
    if cfg.max_batch < 0 {
        return fail("max_batch must not be negative");
    }
    if cfg.max_expires < 0 {
        return fail("max_expires must not be negative");
    }
    if cfg.max_bytes < 0 {
        return fail("max_bytes must not be negative");
    }
    if cfg.idle_heartbeat < 0 {
        return fail("idle_heartbeat must not be negative");
    }
    if cfg.inactive_threshold < 0 {
        return fail("inactive_threshold must not be negative");
    }
    if cfg.max_ack_pending == 0 && slim.max_ack_pending > 0 {
        return fail("max_ack_pending must be set if it's configured in stream limits");
    }
    if cfg.inactive_threshold == 0 && slim.inactive_threshold > 0 {
        return fail("inactive_threshold must be set if it's configured in stream limits");
    }
    Ok(())
}

fn validate_consumer(s: &Stream, cfg: &ConsumerConfig) -> Result<(), ApiError> {
    for n in [&cfg.durable_name, &cfg.name] {
        if !n.is_empty() && !stream::valid_name(n) {
            return Err(if n.contains('/') || n.contains('\\') {
                e::JS_CONSUMER_NAME_CONTAINS_PATH_SEPARATORS.err()
            } else {
                e::JS_CONSUMER_BAD_DURABLE_NAME.err()
            });
        }
    }
    if !cfg.filter_subject.is_empty() && !cfg.filter_subjects.is_empty() {
        return Err(e::JS_CONSUMER_DUPLICATE_FILTER_SUBJECTS.err());
    }
    if cfg.filter_subjects.iter().any(|f| f.is_empty()) {
        return Err(e::JS_CONSUMER_EMPTY_FILTER.err());
    }
    if cfg.is_pull() {
        if cfg.rate_limit_bps > 0 {
            return Err(e::JS_CONSUMER_PULL_WITH_RATE_LIMIT.err());
        }
        if cfg.max_waiting < 0 {
            return Err(e::JS_CONSUMER_MAX_WAITING_NEGATIVE.err());
        }
        if cfg.idle_heartbeat > 0 {
            return Err(e::JS_CONSUMER_HB_REQUIRES_PUSH.err());
        }
        if cfg.flow_control {
            return Err(e::JS_CONSUMER_FC_REQUIRES_PUSH.err());
        }
    } else if !natrium_sublist::is_valid_literal_subject(&cfg.deliver_subject) {
        return Err(e::JS_CONSUMER_DELIVER_TO_WILDCARDS.err());
    }
    if cfg.flow_control && cfg.idle_heartbeat == 0 {
        return Err(e::JS_CONSUMER_WITH_FLOW_CONTROL_NEEDS_HEARTBEATS.err());
    }
    if !cfg.backoff.is_empty()
        && cfg.max_deliver > 0
        && cfg.max_deliver as usize <= cfg.backoff.len()
    {
        return Err(e::JS_CONSUMER_MAX_DELIVER_BACKOFF.err());
    }
    crate::priority::validate(cfg)?;
    if s.config().retention == Retention::WorkQueue {
        if cfg.ack_policy != AckPolicy::Explicit {
            return Err(e::JS_CONSUMER_WQ_REQUIRES_EXPLICIT_ACK.err());
        }
        if cfg.deliver_policy != DeliverPolicy::All {
            return Err(e::JS_CONSUMER_WQ_CONSUMER_NOT_DELIVER_ALL.err());
        }
        let filters = cfg.filters();
        for other in s.consumers() {
            if other.name == cfg.name || other.name == cfg.durable_name {
                continue;
            }
            let of = other.config.filters();
            if filters.is_empty() || of.is_empty() {
                return Err(if filters.is_empty() && of.is_empty() {
                    e::JS_CONSUMER_WQ_MULTIPLE_UNFILTERED.err()
                } else {
                    e::JS_CONSUMER_WQ_CONSUMER_NOT_UNIQUE.err()
                });
            }
            if filters
                .iter()
                .any(|a| of.iter().any(|b| natrium_sublist::subjects_overlap(a, b)))
            {
                return Err(e::JS_CONSUMER_WQ_CONSUMER_NOT_UNIQUE.err());
            }
        }
    }
    Ok(())
}

pub(crate) fn random_name() -> String {
    random_token(22)
}

/// `n` random letters and digits.
pub(crate) fn random_token(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn find_consumer(
    js: &JetStream,
    stream: &str,
    name: &str,
) -> Result<(Arc<Stream>, Arc<Consumer>), ApiError> {
    let s = find_stream(js, stream)?;
    let c = s
        .consumer(name)
        .ok_or_else(|| e::JS_CONSUMER_NOT_FOUND.err())?;
    Ok((s, c))
}

fn consumer_info(js: &JetStream, stream: &str, name: &str) -> Reply {
    let (_, c) = find_consumer(js, stream, name)?;
    Ok(response("consumer_info_response", &c.info(js)))
}

fn consumer_delete(js: &JetStream, stream: &str, name: &str) -> Reply {
    let (s, c) = find_consumer(js, stream, name)?;
    s.remove_consumer(name);
    c.end_waiting("409 Consumer Deleted");
    c.delete_state();
    advisory::consumer_action(js, stream, name, Action::Delete);
    Ok(response(
        "consumer_delete_response",
        &serde_json::json!({ "success": true }),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PauseRequest {
    pause_until: Option<String>,
}

fn consumer_pause(js: &JetStream, stream: &str, name: &str, p: &[u8]) -> Reply {
    let req: PauseRequest = parse(p)?;
    let (_, c) = find_consumer(js, stream, name)?;
    let until = req
        .pause_until
        .as_deref()
        .and_then(parse_rfc3339)
        .unwrap_or(0);
    let until = c.pause(until);
    advisory::consumer_pause(js, stream, name, until);
    let mut body = serde_json::json!({ "paused": until > 0, "pause_until": rfc3339(until) });
    if until > 0 {
        if let Some(o) = body.as_object_mut() {
            o.insert("pause_remaining".into(), c.pause_remaining_ns().into());
        }
    }
    Ok(response("consumer_pause_response", &body))
}

fn consumer_names(js: &JetStream, stream: &str, p: &[u8]) -> Reply {
    let req: ListRequest = parse(p)?;
    let s = find_stream(js, stream)?;
    let all = s.consumers();
    let names: Vec<String> = all
        .iter()
        .skip(req.offset)
        .take(NAMES_PAGE)
        .map(|c| c.name.clone())
        .collect();
    Ok(response(
        "consumer_names_response",
        &serde_json::json!({ "total": all.len(), "offset": req.offset, "limit": NAMES_PAGE, "consumers": names }),
    ))
}

fn consumer_list(js: &JetStream, stream: &str, p: &[u8]) -> Reply {
    let req: ListRequest = parse(p)?;
    let s = find_stream(js, stream)?;
    let all = s.consumers();
    let infos: Vec<ConsumerInfo> = all
        .iter()
        .skip(req.offset)
        .take(LIST_PAGE)
        .map(|c| c.info(js))
        .collect();
    Ok(response(
        "consumer_list_response",
        &serde_json::json!({ "total": all.len(), "offset": req.offset, "limit": LIST_PAGE, "consumers": infos }),
    ))
}

/// A pull request. Errors go back as status messages, not API JSON, as nats-server does;
/// the `Ok(empty)` result tells [`dispatch`] nothing more is to be sent.
fn msg_next(js: &JetStream, stream: &str, name: &str, m: &InMsg) -> Reply {
    let reply = m.reply.clone().unwrap_or_default();
    match find_consumer(js, stream, name) {
        Ok((_, c)) if c.config.is_pull() => match c.add_pull_request(&reply, &m.payload) {
            Ok(()) => Err(NO_REPLY),
            Err(err) => {
                status(js, &reply, &format!("400 {}", err.description));
                Err(NO_REPLY)
            }
        },
        Ok(_) => {
            status(js, &reply, "409 Consumer is push based");
            Err(NO_REPLY)
        }
        Err(_) => {
            status(js, &reply, "404 No Messages");
            Err(NO_REPLY)
        }
    }
}

fn status(js: &JetStream, reply: &str, st: &str) {
    js.outlet()
        .publish(reply, None, Some(h::build(Some(st), &[])), Bytes::new());
}

/// Marks a handled request that must not get a JSON response.
const NO_REPLY: ApiError = ApiError {
    code: 0,
    err_code: 0,
    description: String::new(),
};
