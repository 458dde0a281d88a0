//! Stream snapshots: a self-describing byte stream (magic, version, then checksummed
//! frames: config, bounds, messages, end) written by `MessageStore::snapshot` and read by
//! [`restore_memory`] and `file::restore`. Also home of the binary `StoreConfig` encoding
//! that the file store's metadata file reuses. Readers bound every length before reading.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::codec::{crc, Reader, Writer, MAX_RECORD_LEN};
use crate::error::{Result, StoreError};
use crate::memory::{new_memory_store, MemoryStore};
use crate::types::{Discard, StorageKind, StoreConfig, StreamState};

pub(crate) const SNAP_MAGIC: &[u8; 4] = b"NTRS";
const SNAP_VERSION: u16 = 1;
const FRAME_CONFIG: u8 = 1;
const FRAME_BOUNDS: u8 = 2;
const FRAME_MSG: u8 = 3;
const FRAME_END: u8 = 0xFF;
/// Largest frame body accepted.
const MAX_FRAME: usize = MAX_RECORD_LEN + 1024;
/// Largest encoded config accepted.
pub(crate) const MAX_CONFIG_LEN: usize = 1 << 20;

/// One message as carried by a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnapMsg {
    pub seq: u64,
    pub ts: i64,
    pub expires: i64,
    pub subject: String,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
}

pub(crate) fn encode_config(cfg: &StoreConfig, w: &mut Writer) {
    w.bytes16(cfg.name.as_bytes());
    w.u8(match cfg.storage {
        StorageKind::File => 0,
        StorageKind::Memory => 1,
    });
    w.u32(cfg.subjects.len() as u32);
    for s in &cfg.subjects {
        w.bytes16(s.as_bytes());
    }
    w.i64(cfg.max_msgs);
    w.i64(cfg.max_bytes);
    w.u64(cfg.max_age.as_nanos().min(u64::MAX as u128) as u64);
    w.i64(cfg.max_msgs_per_subject);
    w.u32(cfg.max_msg_size as u32);
    w.u8(match cfg.discard {
        Discard::Old => 0,
        Discard::New => 1,
    });
    w.u8(cfg.discard_new_per_subject as u8);
    w.u64(cfg.first_seq);
    w.u8(cfg.allow_msg_ttl as u8);
}

pub(crate) fn decode_config(r: &mut Reader) -> Result<StoreConfig> {
    let bad = |what: &str| StoreError::BadFormat(format!("config: bad {what}"));
    let name = r.str16()?;
    let storage = match r.u8()? {
        0 => StorageKind::File,
        1 => StorageKind::Memory,
        _ => return Err(bad("storage")),
    };
    let n = r.u32()? as usize;
    if n > r.remaining() / 2 {
        return Err(bad("subject count"));
    }
    let mut subjects = Vec::with_capacity(n);
    for _ in 0..n {
        subjects.push(r.str16()?);
    }
    let max_msgs = r.i64()?;
    let max_bytes = r.i64()?;
    let max_age = Duration::from_nanos(r.u64()?);
    let max_msgs_per_subject = r.i64()?;
    let max_msg_size = r.u32()? as i32;
    let discard = match r.u8()? {
        0 => Discard::Old,
        1 => Discard::New,
        _ => return Err(bad("discard")),
    };
    let discard_new_per_subject = r.u8()? != 0;
    let first_seq = r.u64()?;
    let allow_msg_ttl = r.u8()? != 0;
    Ok(StoreConfig {
        name,
        storage,
        subjects,
        max_msgs,
        max_bytes,
        max_age,
        max_msgs_per_subject,
        max_msg_size,
        discard,
        discard_new_per_subject,
        first_seq,
        allow_msg_ttl,
        // Not part of the snapshot format: the stream's config sets them after a restore.
        subject_delete_markers: false,
        compress: false,
    })
}

fn frame(w: &mut dyn Write, kind: u8, body: &[u8]) -> Result<()> {
    let mut head = [0u8; 5];
    head[0] = kind;
    head[1..].copy_from_slice(&(body.len() as u32).to_le_bytes());
    let mut h = crc32c::crc32c_append(0, &head);
    h = crc32c::crc32c_append(h, body);
    w.write_all(&head)?;
    w.write_all(body)?;
    w.write_all(&h.to_le_bytes())?;
    Ok(())
}

/// Writes a snapshot: config, bounds, every message in sequence order, end.
pub(crate) fn write_snapshot(
    w: &mut dyn Write,
    cfg: &StoreConfig,
    st: &StreamState,
    msgs: impl Iterator<Item = Result<SnapMsg>>,
) -> Result<()> {
    w.write_all(SNAP_MAGIC)?;
    w.write_all(&SNAP_VERSION.to_le_bytes())?;
    w.write_all(&[0, 0])?;
    let mut cw = Writer::default();
    encode_config(cfg, &mut cw);
    frame(w, FRAME_CONFIG, &cw.into_vec())?;
    let mut bw = Writer::default();
    bw.u64(st.first_seq);
    bw.u64(st.last_seq);
    bw.i64(st.last_ts);
    bw.u64(st.msgs);
    frame(w, FRAME_BOUNDS, &bw.into_vec())?;
    let mut count = 0u64;
    let mut buf = Vec::new();
    for m in msgs {
        let m = m?;
        buf.clear();
        let mut mw = Writer::with_vec(std::mem::take(&mut buf));
        mw.u64(m.seq);
        mw.i64(m.ts);
        mw.i64(m.expires);
        mw.bytes16(m.subject.as_bytes());
        mw.u8(m.headers.is_some() as u8);
        mw.bytes32(m.headers.as_deref().unwrap_or(b""));
        mw.raw(&m.payload);
        buf = mw.into_vec();
        frame(w, FRAME_MSG, &buf)?;
        count += 1;
    }
    let mut ew = Writer::default();
    ew.u64(count);
    frame(w, FRAME_END, &ew.into_vec())?;
    w.flush()?;
    Ok(())
}

/// What a snapshot reader yields.
#[derive(Debug)]
pub(crate) enum SnapItem {
    Config(StoreConfig),
    Bounds { first: u64, last: u64, last_ts: i64 },
    Msg(SnapMsg),
    End,
}

/// Reads snapshot frames one at a time, verifying each checksum.
pub(crate) struct SnapReader<'a> {
    r: &'a mut dyn Read,
    msgs: u64,
}

impl<'a> SnapReader<'a> {
    pub fn new(r: &'a mut dyn Read) -> Result<Self> {
        let mut head = [0u8; 8];
        r.read_exact(&mut head)?;
        if &head[..4] != SNAP_MAGIC || u16::from_le_bytes([head[4], head[5]]) != SNAP_VERSION {
            return Err(StoreError::BadFormat(
                "not a natrium snapshot (magic/version)".into(),
            ));
        }
        Ok(SnapReader { r, msgs: 0 })
    }

    pub fn next_item(&mut self) -> Result<SnapItem> {
        let mut head = [0u8; 5];
        self.r.read_exact(&mut head)?;
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > MAX_FRAME {
            return Err(StoreError::BadFormat(format!(
                "snapshot frame of {len} bytes"
            )));
        }
        let mut body = vec![0u8; len + 4];
        self.r.read_exact(&mut body)?;
        let (body, sum) = body.split_at(len);
        let want = u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]]);
        if crc32c::crc32c_append(crc(&head), body) != want {
            return Err(StoreError::BadFormat(
                "snapshot frame checksum mismatch".into(),
            ));
        }
        let mut r = Reader::new(body);
        match head[0] {
            FRAME_CONFIG => Ok(SnapItem::Config(decode_config(&mut r)?)),
            FRAME_BOUNDS => {
                let (first, last, last_ts) = (r.u64()?, r.u64()?, r.i64()?);
                Ok(SnapItem::Bounds {
                    first,
                    last,
                    last_ts,
                })
            }
            FRAME_MSG => {
                let seq = r.u64()?;
                let ts = r.i64()?;
                let expires = r.i64()?;
                let subject = r.str16()?;
                let has_headers = r.u8()? != 0;
                let headers = r.bytes32(MAX_FRAME)?;
                let payload = Bytes::copy_from_slice(r.take(r.remaining())?);
                let headers = has_headers.then(|| Bytes::copy_from_slice(headers));
                self.msgs += 1;
                Ok(SnapItem::Msg(SnapMsg {
                    seq,
                    ts,
                    expires,
                    subject,
                    headers,
                    payload,
                }))
            }
            FRAME_END => {
                if r.u64()? != self.msgs {
                    return Err(StoreError::BadFormat(
                        "snapshot message count mismatch".into(),
                    ));
                }
                Ok(SnapItem::End)
            }
            k => Err(StoreError::BadFormat(format!("unknown snapshot frame {k}"))),
        }
    }
}

/// Reads the whole snapshot, feeding messages to `on_msg`; returns config and bounds.
pub(crate) fn read_snapshot(
    r: &mut dyn Read,
    mut on_config: impl FnMut(&StoreConfig) -> Result<()>,
    mut on_msg: impl FnMut(SnapMsg) -> Result<()>,
) -> Result<(StoreConfig, (u64, u64, i64))> {
    let mut sr = SnapReader::new(r)?;
    let SnapItem::Config(cfg) = sr.next_item()? else {
        return Err(StoreError::BadFormat(
            "snapshot must start with a config".into(),
        ));
    };
    on_config(&cfg)?;
    let SnapItem::Bounds {
        first,
        last,
        last_ts,
    } = sr.next_item()?
    else {
        return Err(StoreError::BadFormat("snapshot bounds missing".into()));
    };
    loop {
        match sr.next_item()? {
            SnapItem::Msg(m) => on_msg(m)?,
            SnapItem::End => return Ok((cfg, (first, last, last_ts))),
            _ => return Err(StoreError::BadFormat("unexpected snapshot frame".into())),
        }
    }
}

/// Restores a memory store from a snapshot. The snapshot's storage kind is overridden.
pub fn restore_memory(r: &mut dyn Read) -> Result<Arc<MemoryStore>> {
    let store: std::cell::OnceCell<Arc<MemoryStore>> = std::cell::OnceCell::new();
    let (_, (first, last, last_ts)) = read_snapshot(
        r,
        |cfg| {
            let cfg = StoreConfig {
                storage: StorageKind::Memory,
                ..cfg.clone()
            };
            let _ = store.set(new_memory_store(cfg));
            Ok(())
        },
        |m| store.get().ok_or(StoreError::Closed)?.restore_msg(m),
    )?;
    let store = store
        .into_inner()
        .ok_or_else(|| StoreError::BadFormat("snapshot config missing".into()))?;
    store.restore_bounds(first, last, last_ts);
    Ok(store)
}
