//! Mirrors and sources between streams of one account on this server.
//!
//! Each mirror or source is one task that reads its origin stream's store directly (the
//! origin is in the same process; nats-server goes through an internal push consumer, which
//! a single server does not need) and appends what it reads to the stream that owns it:
//!
//! - A **mirror** stores every message under its origin sequence and timestamp, so the
//!   mirror's sequences are the origin's; a gap the origin removed reads as deleted here.
//!   Where to resume is the mirror's own last sequence.
//! - A **source** appends through the normal ingest path (duplicate window, limits,
//!   rollups), after the origin's `Nats-Stream-Source` header is replaced by one naming this
//!   origin: `<stream> <seq> <filter> <destination> <original subject>`, as nats-server
//!   writes it. Where to resume is found, at start, by reading those headers back from the
//!   end of the stream.
//!
//! Either way the position is derived from what this stream has durably stored, so a crash
//! between an append and its completion re-reads, never skips. The task moves on only after
//! a batch's appends completed; an append that fails (a discard-new limit, say) is retried
//! from that message after a pause.
//!
//! Not done here (refused when a config asks for it): `external` origins (other accounts or
//! domains) and sourcing through a durable consumer (`consumer`).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use natrium_store::{StoreError, StoredMsg};
use natrium_sublist::SubjectTransform;
use parking_lot::Mutex;

use crate::errors::{self as e, ApiError};
use crate::headers as h;
use crate::stream::Stream;
use crate::types::{
    parse_rfc3339, StreamSource, StreamSourceInfo, SubjectTransform as TransformCfg,
};

/// Most messages one read takes from the origin before their appends are awaited.
const BATCH_MSGS: usize = 512;
/// Most payload bytes one read takes.
const BATCH_BYTES: usize = 8 << 20;
/// How often a waiting task looks again without being woken (origin created, time passing).
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// Pause after a failed append before retrying from the failed message.
const RETRY_PAUSE: Duration = Duration::from_secs(2);

/// The full wildcard: what an empty filter or transform destination means.
const FWC: &str = ">";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mirror,
    Source,
}

/// One mirror or source of a stream and its progress.
pub struct Origin {
    pub kind: Kind,
    pub cfg: StreamSource,
    /// nats-server's index name: `<stream> <filters> <destinations>`.
    pub iname: String,
    /// Subjects to read (`>` when unfiltered), with the transform each applies.
    filters: Vec<(String, Option<SubjectTransform>)>,
    /// The next origin sequence to read; 0 until the start point is known.
    next: AtomicU64,
    /// When the origin was last seen (ns since the epoch); 0 = never.
    active: AtomicI64,
    /// The identity of the origin stream `next` refers to (a source only): a recreated
    /// origin has another one, and reading starts over.
    ident: Mutex<Option<String>>,
    error: Mutex<Option<ApiError>>,
    stop: AtomicBool,
    wake: tokio::sync::Notify,
}

/// Validates the transforms of one mirror or source and composes its index name.
pub fn compile(src: &StreamSource, kind: Kind) -> Result<Origin, ApiError> {
    let (invalid_filter, invalid_dest, overlapping) = match kind {
        Kind::Mirror => (
            e::JS_MIRROR_INVALID_SUBJECT_FILTER,
            e::JS_MIRROR_INVALID_TRANSFORM_DESTINATION,
            e::JS_MIRROR_OVERLAPPING_SUBJECT_FILTERS,
        ),
        Kind::Source => (
            e::JS_SOURCE_INVALID_SUBJECT_FILTER,
            e::JS_SOURCE_INVALID_TRANSFORM_DESTINATION,
            e::JS_SOURCE_OVERLAPPING_SUBJECT_FILTERS,
        ),
    };
    let or_fwc = |s: &str| {
        if s.is_empty() {
            FWC.to_string()
        } else {
            s.to_string()
        }
    };
    let mut filters = Vec::new();
    for tr in &src.subject_transforms {
        if !tr.src.is_empty() && !natrium_sublist::is_valid_subject(&tr.src) {
            return Err(invalid_filter.with(format!("invalid subject {}", tr.src)));
        }
        natrium_sublist::validate_mapping(&tr.src, &tr.dest)
            .map_err(|err| invalid_dest.with(err))?;
        let transform = if tr.dest.is_empty() {
            None
        } else {
            Some(
                SubjectTransform::new(&or_fwc(&tr.src), &tr.dest)
                    .map_err(|err| invalid_dest.with(err))?,
            )
        };
        filters.push((or_fwc(&tr.src), transform));
    }
    for (i, (a, _)) in filters.iter().enumerate() {
        for (j, (b, _)) in filters.iter().enumerate() {
            if i != j && natrium_sublist::subjects_overlap(a, b) {
                return Err(overlapping.err());
            }
        }
    }
    if filters.is_empty() {
        filters.push((or_fwc(&src.filter_subject), None));
    }
    Ok(Origin {
        kind,
        cfg: src.clone(),
        iname: index_name(src),
        filters,
        next: AtomicU64::new(0),
        active: AtomicI64::new(0),
        ident: Mutex::new(None),
        error: Mutex::new(None),
        stop: AtomicBool::new(false),
        wake: tokio::sync::Notify::new(),
    })
}

/// `<stream> <filter> <destination>`; several transforms join their parts with form feeds.
pub fn index_name(src: &StreamSource) -> String {
    let part = |s: &str| if s.is_empty() { FWC } else { s }.to_string();
    let (filter, dest) = if src.subject_transforms.is_empty() {
        (part(&src.filter_subject), FWC.to_string())
    } else {
        let f: Vec<String> = src
            .subject_transforms
            .iter()
            .map(|t| part(&t.src))
            .collect();
        let d: Vec<String> = src
            .subject_transforms
            .iter()
            .map(|t| part(&t.dest))
            .collect();
        (f.join("\u{c}"), d.join("\u{c}"))
    };
    format!("{} {filter} {dest}", src.name)
}

/// nats-server's stream identity: a hash of the stream's creation time (8 characters),
/// the sixth field of `Nats-Stream-Source`, by which a recreated origin is recognised.
pub(crate) fn stream_identity(created_ns: i64) -> String {
    use sha2::{Digest, Sha256};
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let sum = Sha256::digest(crate::types::rfc3339(created_ns).as_bytes());
    sum.iter()
        .take(8)
        .map(|b| DIGITS[(*b % 62) as usize] as char)
        .collect()
}

/// The origin sequence a `Nats-Stream-Source` value records, if it names `iname`.
fn source_header_seq(value: &str, iname: &str) -> Option<u64> {
    let f: Vec<&str> = value.split(' ').collect();
    if f.len() < 4 {
        return None;
    }
    let name = format!("{} {} {}", f[0], f[2], f[3]);
    (name == iname).then(|| f[1].parse().ok()).flatten()
}

impl Origin {
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// This origin's progress for stream info.
    pub fn info(&self, dest: &Stream) -> StreamSourceInfo {
        let active = match self.active.load(Ordering::Relaxed) {
            0 => -1,
            t => (natrium_store::now_nanos() - t).max(0),
        };
        // 0 until the task has found where to start, as nats-server reports a new origin.
        let next = self.next.load(Ordering::Relaxed);
        let lag = match dest.js().and_then(|js| js.stream(&self.cfg.name)) {
            Some(o) if next > 0 => self
                .filters
                .iter()
                .map(|(f, _)| o.store.num_pending(next, f, false).0)
                .sum(),
            _ => 0,
        };
        StreamSourceInfo {
            name: self.cfg.name.clone(),
            external: self.cfg.external.clone(),
            lag,
            seq: match self.kind {
                Kind::Source => next.saturating_sub(1),
                Kind::Mirror => 0,
            },
            active,
            error: self.error.lock().clone(),
            filter_subject: self.cfg.filter_subject.clone(),
            subject_transforms: self
                .cfg
                .subject_transforms
                .iter()
                .map(|t| TransformCfg {
                    src: t.src.clone(),
                    dest: t.dest.clone(),
                })
                .collect(),
        }
    }

    /// The subject a message read from the origin is stored under here.
    fn subject_for(&self, subject: &str) -> String {
        self.filters
            .iter()
            .filter_map(|(f, t)| {
                t.as_ref()
                    .filter(|_| natrium_sublist::subject_matches(f, subject))
            })
            .find_map(|t| t.apply(subject))
            .unwrap_or_else(|| subject.to_string())
    }

    /// The next message at or after `from` that any filter selects.
    fn load_next(&self, origin: &Stream, from: u64) -> Result<Option<StoredMsg>, StoreError> {
        let mut best: Option<StoredMsg> = None;
        for (f, _) in &self.filters {
            match origin.store.load_next_msg(f, from) {
                Ok(m) if best.as_ref().is_none_or(|b| m.seq < b.seq) => best = Some(m),
                Ok(_) | Err(StoreError::Eof) | Err(StoreError::NotFound) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(best)
    }

    /// Where reading starts when this stream holds nothing from the origin yet.
    fn configured_start(&self, origin: &Stream) -> u64 {
        if self.cfg.opt_start_seq > 0 {
            return self.cfg.opt_start_seq;
        }
        let first = origin.store.fast_state().first_seq.max(1);
        let Some(t) = self.cfg.opt_start_time.as_deref().and_then(parse_rfc3339) else {
            return first;
        };
        let mut seq = first;
        loop {
            match origin.store.load_next_msg(FWC, seq) {
                Ok(m) if m.ts >= t => return m.seq,
                Ok(m) => seq = m.seq + 1,
                Err(_) => return origin.store.fast_state().last_seq + 1,
            }
        }
    }
}

/// Finds, for each source of `dest`, the origin sequence after the last message it stored
/// from that source, reading `Nats-Stream-Source` headers back from the end.
pub fn recover_positions(dest: &Stream, origins: &[Arc<Origin>]) {
    let mut missing: Vec<&Arc<Origin>> = origins
        .iter()
        .filter(|o| o.kind == Kind::Source && o.next.load(Ordering::Relaxed) == 0)
        .collect();
    let mut seq = dest.store.fast_state().last_seq;
    while !missing.is_empty() && seq > 0 {
        let Ok(m) = dest.store.load_prev_msg(seq) else {
            break;
        };
        seq = m.seq - 1;
        let Some(value) = m
            .headers
            .as_deref()
            .and_then(|b| h::get(b, h::STREAM_SOURCE))
        else {
            continue;
        };
        missing.retain(|o| match source_header_seq(value, &o.iname) {
            Some(s) => {
                o.next.store(s + 1, Ordering::Relaxed);
                *o.ident.lock() = value.split(' ').nth(5).map(str::to_string);
                false
            }
            None => true,
        });
    }
}

/// Starts the task that feeds `dest` from `origin`.
pub fn spawn(dest: &Arc<Stream>, origin: Arc<Origin>, rt: &tokio::runtime::Handle) {
    let weak = Arc::downgrade(dest);
    rt.spawn(run(weak, origin));
}

enum Step {
    /// Appended this many messages; look again at once.
    Moved,
    /// Nothing new in the origin.
    Idle,
    /// An append failed; pause before retrying.
    Failed,
}

async fn run(dest: Weak<Stream>, o: Arc<Origin>) {
    loop {
        if o.stop.load(Ordering::Relaxed) {
            return;
        }
        let Some(d) = dest.upgrade() else { return };
        let Some(origin) = d.js().and_then(|js| js.stream(&o.cfg.name)) else {
            *o.error.lock() = Some(e::JS_STREAM_NOT_FOUND.err());
            drop(d);
            wait(&o, None, IDLE_CHECK).await;
            continue;
        };
        {
            let mut err = o.error.lock();
            if err
                .as_ref()
                .is_some_and(|x| x.err_code == e::JS_STREAM_NOT_FOUND.err_code)
            {
                *err = None;
            }
        }
        o.active
            .store(natrium_store::now_nanos(), Ordering::Relaxed);
        if o.kind == Kind::Source {
            let ident = stream_identity(origin.created);
            let mut known = o.ident.lock();
            if known.as_ref().is_some_and(|k| *k != ident) {
                if let Some(js) = d.js() {
                    js.outlet().warn(&format!(
                        "JetStream source stream \"{}\" for stream '{} > {}' was recreated, resetting source state",
                        o.cfg.name,
                        js.account(),
                        d.name
                    ));
                }
                o.next.store(0, Ordering::Relaxed);
            }
            *known = Some(ident);
        }
        let appended = origin.appended();
        let notified = appended.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let step = pump(&d, &origin, &o).await;
        drop((d, origin));
        match step {
            Step::Moved => tokio::task::yield_now().await,
            Step::Idle => wait(&o, Some(notified), IDLE_CHECK).await,
            Step::Failed => wait(&o, None, RETRY_PAUSE).await,
        }
    }
}

async fn wait(
    o: &Origin,
    appended: Option<std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>>,
    most: Duration,
) {
    let appended = async {
        match appended {
            Some(n) => n.await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = appended => {}
        _ = o.wake.notified() => {}
        _ = tokio::time::sleep(most) => {}
    }
}

/// Reads one batch from the origin and appends it here, waiting for every append.
async fn pump(dest: &Arc<Stream>, origin: &Arc<Stream>, o: &Arc<Origin>) -> Step {
    let (d, org, oo) = (dest.clone(), origin.clone(), o.clone());
    let read = tokio::task::spawn_blocking(move || read_batch(&d, &org, &oo)).await;
    let batch = match read {
        Ok(Ok(b)) => b,
        Ok(Err(err)) => {
            *o.error.lock() = Some(crate::stream::store_error(&err));
            return Step::Failed;
        }
        Err(_) => return Step::Failed,
    };
    if batch.is_empty() {
        return Step::Idle;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let count = batch.len();
    for m in batch {
        let origin_seq = m.seq;
        let tx = tx.clone();
        let done: crate::stream::SourcedDone = Box::new(move |r| {
            let _ = tx.send((origin_seq, r));
        });
        match o.kind {
            Kind::Mirror => {
                let subject = o.subject_for(&m.subject);
                dest.ingest_mirrored(subject, m, done);
            }
            Kind::Source => {
                let subject = o.subject_for(&m.subject);
                let headers = source_headers(o, &m, &stream_identity(origin.created));
                dest.ingest_sourced(subject, Some(headers), m.payload, done);
            }
        }
    }
    drop(tx);
    let mut results = Vec::with_capacity(count);
    while let Some(r) = rx.recv().await {
        results.push(r);
    }
    results.sort_by_key(|(seq, _)| *seq);
    for (seq, r) in results {
        match r {
            Ok(()) => {
                o.next.fetch_max(seq + 1, Ordering::Relaxed);
            }
            Err(err) => {
                // Retry from the first message that did not make it; warn once per cause.
                o.next.store(seq, Ordering::Relaxed);
                let mut last = o.error.lock();
                if last.as_ref() != Some(&err) {
                    if let Some(js) = dest.js() {
                        js.outlet().warn(&format!(
                            "Error processing inbound {} '{}' for stream '{} > {}': {}",
                            if o.kind == Kind::Mirror {
                                "mirror"
                            } else {
                                "source"
                            },
                            o.cfg.name,
                            js.cfg.account,
                            dest.name,
                            err.description
                        ));
                    }
                }
                *last = Some(err);
                return Step::Failed;
            }
        }
    }
    *o.error.lock() = None;
    Step::Moved
}

fn read_batch(dest: &Stream, origin: &Stream, o: &Origin) -> Result<Vec<StoredMsg>, StoreError> {
    let mut next = o.next.load(Ordering::Relaxed);
    if next == 0 {
        next = match o.kind {
            Kind::Mirror => match dest.store.fast_state().last_seq {
                0 => o.configured_start(origin),
                last => last + 1,
            },
            Kind::Source => o.configured_start(origin),
        };
        o.next.store(next, Ordering::Relaxed);
    }
    let mut out = Vec::new();
    let mut bytes = 0;
    while out.len() < BATCH_MSGS && bytes < BATCH_BYTES {
        match o.load_next(origin, next)? {
            Some(m) => {
                next = m.seq + 1;
                bytes += m.payload.len();
                out.push(m);
            }
            None => break,
        }
    }
    Ok(out)
}

/// The origin's headers without what must not travel (an older source header, expectations,
/// batch markers), plus this stream's `Nats-Stream-Source`.
fn source_headers(o: &Origin, m: &StoredMsg, ident: &str) -> Bytes {
    let kept = m.headers.as_deref().and_then(|b| {
        h::remove(b, |k| {
            k.eq_ignore_ascii_case(h::STREAM_SOURCE)
                || starts_with_ignore_case(k, "Nats-Expected-")
                || starts_with_ignore_case(k, "Nats-Batch-")
        })
    });
    let mut parts = o.iname.splitn(3, ' ');
    let (name, filter, dest) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or(FWC),
        parts.next().unwrap_or(FWC),
    );
    let value = format!("{name} {} {filter} {dest} {} {ident}", m.seq, m.subject);
    h::append(kept.as_deref(), &[(h::STREAM_SOURCE, &value)])
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, filter: &str, trs: &[(&str, &str)]) -> StreamSource {
        StreamSource {
            name: name.into(),
            filter_subject: filter.into(),
            subject_transforms: trs
                .iter()
                .map(|(s, d)| TransformCfg {
                    src: s.to_string(),
                    dest: d.to_string(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn index_names_match_nats_server() {
        assert_eq!(index_name(&src("O", "", &[])), "O > >");
        assert_eq!(index_name(&src("O", "a.*", &[])), "O a.* >");
        assert_eq!(
            index_name(&src("O", "", &[("a.>", "b.>"), ("c", "")])),
            "O a.>\u{c}c b.>\u{c}>"
        );
    }

    #[test]
    fn source_header_round_trip() {
        let o = compile(&src("O", "a.*", &[]), Kind::Source).unwrap();
        let m = StoredMsg {
            subject: "a.b".into(),
            seq: 7,
            ts: 1,
            headers: Some(h::build(
                None,
                &[
                    ("X", "1"),
                    ("Nats-Expected-Last-Sequence", "3"),
                    ("Nats-Stream-Source", "Z 1 > > q"),
                ],
            )),
            payload: Bytes::new(),
        };
        let hdr = source_headers(&o, &m, "AbCd1234");
        assert_eq!(
            &hdr[..],
            b"NATS/1.0\r\nX: 1\r\nNats-Stream-Source: O 7 a.* > a.b AbCd1234\r\n\r\n"
        );
        let v = h::get(&hdr, h::STREAM_SOURCE).unwrap();
        assert_eq!(source_header_seq(v, &o.iname), Some(7));
        assert_eq!(source_header_seq(v, "O > >"), None);
        assert_eq!(source_header_seq("garbage", "O > >"), None);
    }

    #[test]
    fn transforms_pick_the_first_match() {
        let o = compile(&src("O", "", &[("a.>", "x.>"), ("b", "")]), Kind::Source).unwrap();
        assert_eq!(o.subject_for("a.1"), "x.1");
        assert_eq!(o.subject_for("b"), "b");
        assert!(compile(&src("O", "", &[("a.>", "x"), ("a.b", "y")]), Kind::Source).is_err());
    }
}
