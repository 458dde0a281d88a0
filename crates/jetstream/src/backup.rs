//! Stream backup and restore over the API (`$JS.API.STREAM.SNAPSHOT.<stream>` and
//! `$JS.API.STREAM.RESTORE.<stream>`), with nats-server's flow control, so `nats stream
//! backup` / `restore` drive it unchanged.
//!
//! Snapshot: the reply carries the config and state; then the snapshot goes to the
//! request's `deliver_subject` in chunks (`chunk_size`, 128 KiB by default, clamped to 1 KiB
//! .. 1 MiB), each with a reply subject `$JS.SNAPSHOT.ACK.<stream>.<id>.<len>.<index>` the
//! client answers to open one more slot of the window (`window_size`, 8 MiB). The end is an
//! empty message with a `NATS/1.0 204` header, or `408 No Interest` / `408 No Flow Response`
//! / `500 <error>` when it stops early.
//!
//! Restore: the reply names `$JS.SNAPSHOT.RESTORE.<stream>.<id>`; the client sends the
//! chunks there, each with a reply it gets an empty answer on once the chunk is taken, and
//! an empty message at the end, whose reply receives the stream-create response. A restore
//! that stalls for 5 s is abandoned and leaves nothing behind.
//!
//! The bytes are Natrium's own: `NTRMSNP1`, a big-endian u32 length and a JSON header
//! (config, created, consumers with their configs and states), then the store's snapshot
//! (natrium-store's checksummed format). A nats-server snapshot (an s2 tar archive) is
//! refused with a clear error, as is a Natrium snapshot on nats-server.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use natrium_store::{self as store, ConsumerState, Pending, SequencePair};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::consumer::{self, Consumer};
use crate::errors::{self as e, ApiError};
use crate::stream::{self, Stream};
use crate::types::{response, ConsumerConfig, Storage, StreamConfig};
use crate::{InMsg, JetStream};

const MAGIC: &[u8; 8] = b"NTRMSNP1";
const CHUNK_DEFAULT: usize = 128 * 1024;
const WINDOW_DEFAULT: usize = 8 * 1024 * 1024;
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
const RESTORE_IDLE: Duration = Duration::from_secs(5);
/// Longest JSON header a restore accepts.
const HEADER_MAX: usize = 256 << 20;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SnapshotRequest {
    deliver_subject: String,
    no_consumers: bool,
    chunk_size: usize,
    window_size: usize,
}

/// Answers a snapshot request and starts streaming the snapshot.
pub fn snapshot(
    js: &Arc<JetStream>,
    s: &Arc<Stream>,
    p: &[u8],
    reply: &str,
) -> Result<(), ApiError> {
    let req: SnapshotRequest = crate::api::decode(p)?;
    let subject = req.deliver_subject.as_str();
    if !natrium_sublist::is_valid_literal_subject(subject) {
        return Err(e::JS_SNAPSHOT_DELIVER_SUBJECT_INVALID.err());
    }
    let header = header(s, !req.no_consumers)?;
    let body = json!({
        "config": *s.config(),
        "state": crate::api::stream_state(js, s),
    });
    js.outlet().publish(
        reply,
        None,
        None,
        Bytes::from(response("stream_snapshot_response", &body)),
    );
    let chunk = match req.chunk_size {
        0 => CHUNK_DEFAULT,
        n => n.clamp(1024, 1 << 20),
    };
    let window = match req.window_size {
        0 => WINDOW_DEFAULT,
        n => n.clamp(1024, 32 << 20),
    }
    .max(chunk);
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let source = s.clone();
    std::thread::spawn(move || {
        let mut w = ChunkWriter {
            buf: Vec::with_capacity(chunk),
            chunk,
            tx: tx.clone(),
        };
        let written = (|| -> std::io::Result<()> {
            w.write_all(MAGIC)?;
            w.write_all(&(header.len() as u32).to_be_bytes())?;
            w.write_all(&header)?;
            source
                .store
                .snapshot(&mut w)
                .map_err(std::io::Error::other)?;
            w.finish()
        })();
        if let Err(err) = written {
            let _ = tx.blocking_send(Err(err.to_string()));
        }
    });
    let (js, name, deliver) = (js.clone(), s.name.clone(), subject.to_string());
    js.runtime()
        .clone()
        .spawn(send_chunks(js, name, deliver, rx, window / chunk));
    Ok(())
}

/// The JSON header: config, creation time and (unless left out) the consumers.
fn header(s: &Stream, with_consumers: bool) -> Result<Vec<u8>, ApiError> {
    let mut consumers = Vec::new();
    if with_consumers {
        for c in s.consumers() {
            let st = c.current_state()?;
            consumers.push(json!({
                "name": c.name,
                "created": c.created,
                "config": c.config,
                "state": state_json(&st),
            }));
        }
    }
    let h = json!({ "config": *s.config(), "created": s.created, "consumers": consumers });
    serde_json::to_vec(&h).map_err(|err| e::JS_STREAM_SNAPSHOT.with(err))
}

fn state_json(st: &ConsumerState) -> Value {
    json!({
        "delivered": [st.delivered.consumer, st.delivered.stream],
        "ack_floor": [st.ack_floor.consumer, st.ack_floor.stream],
        "pending": st.pending.iter().map(|(s, p)| [*s, p.sequence, p.ts as u64]).collect::<Vec<_>>(),
        "redelivered": st.redelivered.iter().map(|(s, n)| [*s, *n]).collect::<Vec<_>>(),
    })
}

fn state_from_json(v: &Value) -> Option<ConsumerState> {
    let pair = |v: &Value| -> Option<SequencePair> {
        Some(SequencePair {
            consumer: v.get(0)?.as_u64()?,
            stream: v.get(1)?.as_u64()?,
        })
    };
    let mut st = ConsumerState {
        delivered: pair(v.get("delivered")?)?,
        ack_floor: pair(v.get("ack_floor")?)?,
        ..Default::default()
    };
    for p in v.get("pending")?.as_array()? {
        let pending = Pending {
            sequence: p.get(1)?.as_u64()?,
            ts: p.get(2)?.as_u64()? as i64,
        };
        st.pending.insert(p.get(0)?.as_u64()?, pending);
    }
    for r in v.get("redelivered")?.as_array()? {
        st.redelivered
            .insert(r.get(0)?.as_u64()?, r.get(1)?.as_u64()?);
    }
    Some(st)
}

/// Buffers writes into chunks for the sending task.
struct ChunkWriter {
    buf: Vec<u8>,
    chunk: usize,
    tx: tokio::sync::mpsc::Sender<Result<Vec<u8>, String>>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk));
        self.tx
            .blocking_send(Ok(full))
            .map_err(|_| std::io::Error::other("snapshot receiver went away"))
    }

    fn finish(mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        Ok(())
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = self.chunk - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == self.chunk {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn send_chunks(
    js: Arc<JetStream>,
    stream: String,
    deliver: String,
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, String>>,
    max_inflight: usize,
) {
    let outlet = js.outlet().clone();
    // The receiver subscribes before asking; allow it a moment if not yet seen.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while !outlet.has_interest(&deliver) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let slots = Arc::new(tokio::sync::Semaphore::new(max_inflight.max(1)));
    let ack = format!("$JS.SNAPSHOT.ACK.{stream}.{}", crate::api::random_name());
    let freed = slots.clone();
    let sub = outlet.subscribe(
        &format!("{ack}.>"),
        Arc::new(move |_m: InMsg| {
            freed.add_permits(1);
            true
        }),
    );
    let mut index = 1u64;
    let end = loop {
        if !outlet.has_interest(&deliver) {
            break "NATS/1.0 408 No Interest\r\n\r\n".to_string();
        }
        match tokio::time::timeout(ACK_TIMEOUT, slots.acquire()).await {
            Ok(Ok(permit)) => permit.forget(),
            _ => break "NATS/1.0 408 No Flow Response\r\n\r\n".to_string(),
        }
        match rx.recv().await {
            Some(Ok(data)) => {
                let reply = format!("{ack}.{}.{index}", data.len());
                outlet.publish(&deliver, Some(&reply), None, Bytes::from(data));
                index += 1;
            }
            Some(Err(err)) => break format!("NATS/1.0 500 {err}\r\n\r\n"),
            None => break "NATS/1.0 204\r\n\r\n".to_string(),
        }
    };
    outlet.publish(&deliver, None, Some(Bytes::from(end)), Bytes::new());
    if let Ok(id) = sub {
        outlet.unsubscribe(id);
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RestoreRequest {
    config: StreamConfig,
}

/// Answers a restore request with the subject to send the snapshot to, and restores what
/// arrives there in the background.
pub fn restore(js: &Arc<JetStream>, name: &str, p: &[u8]) -> Result<Vec<u8>, ApiError> {
    let req: RestoreRequest = crate::api::decode(p)?;
    let mut cfg = req.config;
    if cfg.name.is_empty() {
        cfg.name = name.to_string();
    }
    if cfg.name != name {
        return Err(e::JS_STREAM_MISMATCH.err());
    }
    if name.contains('/') || name.contains('\\') {
        return Err(e::JS_STREAM_NAME_CONTAINS_PATH_SEPARATORS.err());
    }
    stream::normalize(&mut cfg);
    stream::validate(&cfg)?;
    if js.stream(name).is_some() {
        return Err(e::JS_STREAM_NAME_EXIST_RESTORE_FAILED.err());
    }
    let subject = format!("$JS.SNAPSHOT.RESTORE.{name}.{}", crate::api::random_name());
    let (tx, rx) = std::sync::mpsc::channel::<(Bytes, Option<String>)>();
    let tx = std::sync::Mutex::new(tx);
    let sub = js
        .outlet()
        .subscribe(
            &subject,
            Arc::new(move |m: InMsg| {
                if let Ok(tx) = tx.lock() {
                    let _ = tx.send((m.payload, m.reply));
                }
                true
            }),
        )
        .map_err(|err| {
            let mut e = e::JS_RESTORE_SUBSCRIBE_FAILED.err();
            e.description =
                format!("JetStream unable to subscribe to restore snapshot {subject}: {err}");
            e
        })?;
    let js2 = js.clone();
    std::thread::spawn(move || {
        let mut reader = ChunkReader {
            rx,
            js: js2.clone(),
            cur: Bytes::new(),
            eof_reply: None,
            failed: None,
        };
        let result = restore_from(&js2, cfg, &mut reader);
        // Take what is left so the client's last message gets its answer.
        while reader.eof_reply.is_none() && reader.failed.is_none() {
            if reader.next_chunk().is_err() {
                break;
            }
        }
        js2.outlet().unsubscribe(sub);
        let body = match result {
            Ok(s) => crate::api::stream_created_body(&js2, &s),
            Err(err) => crate::api::error_body("stream_create_response", &err),
        };
        if let Some(r) = reader.eof_reply {
            js2.outlet().publish(&r, None, None, Bytes::from(body));
        }
    });
    Ok(response(
        "stream_restore_response",
        &json!({ "deliver_subject": subject }),
    ))
}

/// Reads the snapshot from `r` into a new stream named by `cfg`; on failure nothing of
/// it is left on disk.
fn restore_from(
    js: &Arc<JetStream>,
    cfg: StreamConfig,
    r: &mut ChunkReader,
) -> Result<Arc<Stream>, ApiError> {
    let fail = |what: &str| e::JS_STREAM_RESTORE.with(what);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|err| fail(&err.to_string()))?;
    if &magic != MAGIC {
        return Err(fail("not a natrium-server snapshot"));
    }
    let mut len = [0u8; 4];
    r.read_exact(&mut len)
        .map_err(|err| fail(&err.to_string()))?;
    let len = u32::from_be_bytes(len) as usize;
    if len > HEADER_MAX {
        return Err(fail("snapshot header too large"));
    }
    let mut header = vec![0u8; len];
    r.read_exact(&mut header)
        .map_err(|err| fail(&err.to_string()))?;
    let header: Value =
        serde_json::from_slice(&header).map_err(|err| fail(&format!("bad header: {err}")))?;
    let created = header["created"].as_i64().unwrap_or_else(store::now_nanos);
    let dir = crate::persist::stream_dir(&js.account_dir(), &cfg.name);
    let restored: Result<Arc<dyn store::MessageStore>, store::StoreError> = match cfg.storage {
        Storage::Memory => store::restore_memory(r).map(|s| s as Arc<dyn store::MessageStore>),
        Storage::File => store::restore(&dir, r, stream::file_options(js, &cfg))
            .map(|s| s as Arc<dyn store::MessageStore>),
    };
    let st = match restored {
        Ok(st) => st,
        Err(err) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(fail(&err.to_string()));
        }
    };
    let cleanup = |st: &Arc<dyn store::MessageStore>| {
        let _ = st.delete();
        let _ = std::fs::remove_dir_all(&dir);
    };
    let mut consumers = Vec::new();
    for c in header["consumers"].as_array().into_iter().flatten() {
        let parsed = (|| {
            let name = c.get("name")?.as_str()?.to_string();
            let ccfg: ConsumerConfig = serde_json::from_value(c.get("config")?.clone()).ok()?;
            let created = c.get("created")?.as_i64()?;
            let state = state_from_json(c.get("state")?)?;
            Some((name, ccfg, created, state))
        })();
        match parsed {
            Some(c) => consumers.push(c),
            None => {
                cleanup(&st);
                return Err(fail("bad consumer in snapshot header"));
            }
        }
    }
    if js.stream(&cfg.name).is_some() {
        cleanup(&st);
        return Err(e::JS_STREAM_NAME_EXIST_RESTORE_FAILED.err());
    }
    let s = match Stream::open_restored(js, cfg, created, st.clone()) {
        Ok(s) => s,
        Err(err) => {
            cleanup(&st);
            return Err(err);
        }
    };
    for (name, ccfg, ccreated, state) in consumers {
        Consumer::seed_state(&s, &name, &ccfg, &state)?;
        let c = consumer::Consumer::open(&s, js, &name, ccfg, ccreated, true)?;
        s.insert_consumer(c);
    }
    js.insert_stream(s.clone());
    Ok(s)
}

/// The restore's chunks as a byte stream; each chunk is acknowledged when taken.
struct ChunkReader {
    rx: std::sync::mpsc::Receiver<(Bytes, Option<String>)>,
    js: Arc<JetStream>,
    cur: Bytes,
    /// The reply of the final (empty) message, once it arrived.
    eof_reply: Option<String>,
    failed: Option<String>,
}

impl ChunkReader {
    fn next_chunk(&mut self) -> std::io::Result<()> {
        match self.rx.recv_timeout(RESTORE_IDLE) {
            Ok((data, reply)) if data.is_empty() => {
                self.eof_reply = reply;
                Ok(())
            }
            Ok((data, reply)) => {
                if let Some(r) = reply {
                    self.js.outlet().publish(&r, None, None, Bytes::new());
                }
                self.cur = data;
                Ok(())
            }
            Err(_) => {
                self.failed = Some("restore stalled".into());
                Err(std::io::Error::other("restore stalled: no data for 5s"))
            }
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            if self.eof_reply.is_some() || self.failed.is_some() {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = out.len().min(self.cur.len());
        out[..n].copy_from_slice(&self.cur.split_to(n));
        Ok(n)
    }
}
