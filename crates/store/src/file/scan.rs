//! Reading block files back: the full record scan used by recovery and when a sealed
//! block's index is built, and the per-block index file (`.idx`) that lets a restart skip
//! scanning sealed blocks. A scan classifies damage: a bad record followed by a valid one
//! is a *hole* (corruption); a bad record with nothing valid after it is a *torn tail*,
//! which only the caller may decide to truncate (and only for the last block).

use crate::codec::{
    check_sealed, decode_record, peek_record_len, BlockHeader, Reader, RecordKind, Writer,
    BLOCK_HEADER_LEN, FLAGS_KNOWN, FLAG_BATCH, FLAG_PACKED, FORMAT_VERSION, MAX_RECORD_LEN,
    RECORD_OVERHEAD,
};
use crate::error::{Result, StoreError};

/// Summary of one record: everything replay needs, nothing of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecInfo {
    pub kind: RecordKind,
    pub seq: u64,
    pub ts: i64,
    pub expires: i64,
    pub offset: u32,
    pub len: u32,
    pub subject: String,
    pub has_headers: bool,
    pub headers_len: u32,
    /// A compressed record's uncompressed body length (headers plus payload).
    pub raw_len: Option<u32>,
    /// Written inside an atomic batch not closed by this record ([`FLAG_BATCH`]).
    pub batch: bool,
}

impl RecInfo {
    pub fn payload_len(&self) -> usize {
        match self.raw_len {
            Some(raw) => (raw as usize).saturating_sub(self.headers_len as usize),
            None => (self.len as usize)
                .saturating_sub(RECORD_OVERHEAD + self.subject.len() + self.headers_len as usize),
        }
    }
}

/// nats-server's file-store accounting for a message.
pub fn file_msg_size(subject: usize, headers: Option<usize>, payload: usize) -> u64 {
    match headers {
        None => (22 + subject + payload + 8) as u64,
        Some(h) => (22 + subject + 4 + h + payload + 8) as u64,
    }
}

/// The outcome of scanning one block file.
#[derive(Debug, Default)]
pub(crate) struct BlockScan {
    pub header: Option<BlockHeader>,
    pub records: Vec<RecInfo>,
    /// Damaged byte ranges followed by valid records.
    pub holes: Vec<Hole>,
    /// Offset of a damaged tail with no valid record after it.
    pub torn_at: Option<u64>,
    /// That tail is all zeros: the reserve the writer fills ahead, not damage.
    pub zero_tail: bool,
}

/// A damaged byte range followed by a valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hole {
    pub offset: u64,
    pub len: u64,
    /// The range is exactly one record of the length its (intact) length field claims, so
    /// only that record is lost; otherwise the number and kinds of lost records are unknown.
    pub single_record: bool,
}

impl Hole {
    /// Exactly one lost record of marker size (tombstone, delete-below, truncate, skip).
    pub fn is_single_marker(&self) -> bool {
        self.single_record && self.len as usize == RECORD_OVERHEAD
    }
}

/// A cheap structural check before paying for a checksum while resynchronizing.
fn plausible(buf: &[u8]) -> bool {
    let Ok(len) = peek_record_len(buf) else {
        return false;
    };
    if len > buf.len() || buf.len() < RECORD_OVERHEAD {
        return false;
    }
    let kind = buf[4];
    let flags = buf[5];
    let slen = u16::from_le_bytes([buf[6], buf[7]]) as usize;
    let hlen = u32::from_le_bytes([buf[32], buf[33], buf[34], buf[35]]) as usize;
    let body = if flags & FLAG_PACKED != 0 { 0 } else { hlen };
    (1..=7).contains(&kind) && flags & !FLAGS_KNOWN == 0 && RECORD_OVERHEAD + slen + body <= len
}

fn info_of(rec: &crate::codec::Record<'_>, offset: usize, len: usize) -> RecInfo {
    RecInfo {
        kind: rec.kind,
        seq: rec.seq,
        ts: rec.ts,
        expires: rec.expires,
        offset: offset as u32,
        len: len as u32,
        subject: String::from_utf8_lossy(rec.subject).into_owned(),
        has_headers: rec.packed.map_or(rec.headers.is_some(), |p| p.has_headers),
        headers_len: rec
            .packed
            .map_or(rec.headers.map_or(0, |h| h.len()) as u32, |p| p.headers_len),
        raw_len: rec.packed.map(|p| p.raw_len),
        batch: false,
    }
}

/// Scans every record of a block image.
pub(crate) fn scan_block(buf: &[u8]) -> BlockScan {
    let mut out = BlockScan {
        header: BlockHeader::decode(buf).ok(),
        ..Default::default()
    };
    if out.header.is_none() {
        return out;
    }
    let mut pos = BLOCK_HEADER_LEN;
    while pos < buf.len() {
        match decode_record(&buf[pos..]) {
            Ok((rec, len)) => {
                let mut info = info_of(&rec, pos, len);
                info.batch = buf[pos + 5] & FLAG_BATCH != 0;
                out.records.push(info);
                pos += len;
            }
            Err(_) => {
                let next = (pos + 1..buf.len().saturating_sub(RECORD_OVERHEAD - 1))
                    .find(|&p| plausible(&buf[p..]) && decode_record(&buf[p..]).is_ok());
                match next {
                    Some(p) => {
                        let claimed = peek_record_len(&buf[pos..]).ok();
                        let single_record = claimed == Some(p - pos);
                        out.holes.push(Hole {
                            offset: pos as u64,
                            len: (p - pos) as u64,
                            single_record,
                        });
                        pos = p;
                    }
                    None => {
                        out.torn_at = Some(pos as u64);
                        out.zero_tail = buf[pos..].iter().all(|&b| b == 0);
                        break;
                    }
                }
            }
        }
    }
    out
}

pub(crate) const INDEX_MAGIC: &[u8; 4] = b"NTRI";
/// Largest index file accepted.
pub(crate) const MAX_INDEX_FILE: u64 = 1 << 30;

/// Encodes the index of a block of `block_len` bytes.
pub(crate) fn encode_index(id: u32, block_len: u64, records: &[RecInfo]) -> Vec<u8> {
    let mut w = Writer::default();
    w.raw(INDEX_MAGIC);
    w.u16(FORMAT_VERSION);
    w.u16(0);
    w.u32(id);
    w.u64(block_len);
    w.u64(records.len() as u64);
    for r in records {
        w.u8(r.kind as u8);
        // Bit 0: has headers; bit 1: compressed, its uncompressed body length follows.
        w.u8(r.has_headers as u8 | (r.raw_len.is_some() as u8) << 1);
        w.bytes16(r.subject.as_bytes());
        w.u32(r.offset);
        w.u32(r.len);
        w.u64(r.seq);
        w.i64(r.ts);
        w.i64(r.expires);
        w.u32(r.headers_len);
        if let Some(raw) = r.raw_len {
            w.u32(raw);
        }
    }
    w.seal();
    w.into_vec()
}

/// The block length a checksum-valid index for block `id` records.
pub(crate) fn index_block_len(buf: &[u8], id: u32) -> Option<u64> {
    let body = check_sealed(buf).ok()?;
    let mut r = Reader::new(body);
    if r.take(4).ok()? != INDEX_MAGIC || r.u16().ok()? != FORMAT_VERSION {
        return None;
    }
    r.u16().ok()?;
    (r.u32().ok()? == id).then_some(())?;
    r.u64().ok()
}

/// Decodes an index file; checks it describes block `id` of exactly `block_len` bytes.
pub(crate) fn decode_index(buf: &[u8], id: u32, block_len: u64) -> Result<Vec<RecInfo>> {
    let bad = |m: &str| StoreError::BadFormat(format!("index: {m}"));
    let body = check_sealed(buf)?;
    let mut r = Reader::new(body);
    if r.take(4)? != INDEX_MAGIC || r.u16()? != FORMAT_VERSION {
        return Err(bad("magic/version"));
    }
    r.u16()?;
    if r.u32()? != id || r.u64()? != block_len {
        return Err(bad("describes another block image"));
    }
    let n = r.count(u64::MAX, 40)?;
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let kind = RecordKind::from_u8(r.u8()?).ok_or_else(|| bad("record kind"))?;
        let flags = r.u8()?;
        if flags > 3 {
            return Err(bad("record flags"));
        }
        let has_headers = flags & 1 != 0;
        let subject = r.str16()?;
        let (offset, len) = (r.u32()?, r.u32()?);
        let (seq, ts, expires, headers_len) = (r.u64()?, r.i64()?, r.i64()?, r.u32()?);
        let raw_len = if flags & 2 != 0 { Some(r.u32()?) } else { None };
        let end = offset as u64 + len as u64;
        if (offset as usize) < BLOCK_HEADER_LEN
            || end > block_len
            || (len as usize) < RECORD_OVERHEAD
        {
            return Err(bad("record outside block"));
        }
        let info = RecInfo {
            kind,
            seq,
            ts,
            expires,
            offset,
            len,
            subject,
            has_headers,
            headers_len,
            raw_len,
            // Sealed blocks never end inside a batch; only the last block's scan needs it.
            batch: false,
        };
        let stored_body = if raw_len.is_some() {
            0
        } else {
            headers_len as usize
        };
        if RECORD_OVERHEAD + info.subject.len() + stored_body > len as usize
            || raw_len.is_some_and(|raw| raw < headers_len || raw as usize > MAX_RECORD_LEN)
        {
            return Err(bad("record lengths"));
        }
        out.push(info);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{encode_marker, encode_record, Record};

    fn block(n: u64) -> Vec<u8> {
        let mut buf = BlockHeader {
            id: 1,
            first_seq: 1,
            created_ts: 0,
        }
        .encode();
        for seq in 1..=n {
            let rec = Record {
                kind: RecordKind::Msg,
                seq,
                ts: seq as i64,
                expires: 0,
                subject: b"s.x",
                headers: None,
                payload: &[seq as u8; 50],
                packed: None,
            };
            encode_record(&mut buf, &rec);
        }
        encode_marker(&mut buf, RecordKind::Delete, 2, 0);
        buf
    }

    #[test]
    fn scan_finds_holes_and_torn_tails() {
        let buf = block(5);
        let s = scan_block(&buf);
        assert_eq!(s.records.len(), 6);
        assert!(s.holes.is_empty() && s.torn_at.is_none());
        // Damage record 3: a hole, the rest still found.
        let mut bad = buf.clone();
        let off = s.records[2].offset as usize + 45;
        bad[off] ^= 0xff;
        let s2 = scan_block(&bad);
        assert_eq!(s2.records.len(), 5);
        let (o, l) = (s.records[2].offset as u64, s.records[2].len as u64);
        assert_eq!(
            s2.holes,
            vec![Hole {
                offset: o,
                len: l,
                single_record: true
            }]
        );
        // Cut in the middle of the last record: torn tail.
        let cut = &buf[..buf.len() - 3];
        let s3 = scan_block(cut);
        assert_eq!(s3.records.len(), 5);
        assert_eq!(s3.torn_at, Some(s.records[5].offset as u64));
    }

    #[test]
    fn index_roundtrip_and_rejects_damage() {
        let buf = block(4);
        let s = scan_block(&buf);
        let idx = encode_index(1, buf.len() as u64, &s.records);
        assert_eq!(decode_index(&idx, 1, buf.len() as u64).unwrap(), s.records);
        assert!(decode_index(&idx, 1, buf.len() as u64 + 1).is_err());
        for i in 0..idx.len() {
            let mut b = idx.clone();
            b[i] ^= 4;
            assert!(decode_index(&b, 1, buf.len() as u64).is_err());
            assert!(decode_index(&idx[..i], 1, buf.len() as u64).is_err());
        }
    }
}
