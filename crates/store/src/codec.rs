//! Pure encoding and decoding of every on-disk and snapshot structure: little-endian
//! writer/reader helpers, block headers, message and tombstone records, and the CRC-32C
//! checksum. No I/O. Every decoder bounds lengths against the bytes actually present (and
//! against fixed maxima) before allocating or slicing, and returns an error — never panics —
//! on any input. The byte layouts are documented in the crate root.

use crate::error::{Result, StoreError};

/// CRC-32C (Castagnoli) of `data`.
pub(crate) fn crc(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// Little-endian append-only byte writer.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn with_vec(buf: Vec<u8>) -> Self {
        Writer { buf }
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    /// u16 length then bytes (callers bound the length).
    pub fn bytes16(&mut self, b: &[u8]) {
        self.u16(b.len() as u16);
        self.raw(b);
    }
    /// u32 length then bytes.
    pub fn bytes32(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.raw(b);
    }
    /// Appends the CRC-32C of everything written so far.
    pub fn seal(&mut self) {
        let c = crc(&self.buf);
        self.u32(c);
    }
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }
}

/// Bounds-checked little-endian reader over a byte slice.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn short() -> StoreError {
    StoreError::BadFormat("unexpected end of data".into())
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(short());
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.arr::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.arr()?))
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.arr()?))
    }
    pub fn bytes16(&mut self) -> Result<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }
    pub fn bytes32(&mut self, max: usize) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(StoreError::BadFormat(format!(
                "length {n} above bound {max}"
            )));
        }
        self.take(n)
    }
    pub fn str16(&mut self) -> Result<String> {
        let b = self.bytes16()?;
        String::from_utf8(b.to_vec()).map_err(|_| StoreError::BadFormat("invalid utf-8".into()))
    }
    /// An element count bounded by `max` and by the bytes left (`min_size` each).
    pub fn count(&mut self, max: u64, min_size: usize) -> Result<u64> {
        let n = self.u64()?;
        if n > max || n.saturating_mul(min_size as u64) > self.remaining() as u64 {
            return Err(StoreError::BadFormat(format!("count {n} out of bounds")));
        }
        Ok(n)
    }
}

/// Checks that the last 4 bytes of `buf` are the CRC-32C of the rest; returns the rest.
pub(crate) fn check_sealed(buf: &[u8]) -> Result<&[u8]> {
    if buf.len() < 4 {
        return Err(short());
    }
    let (body, tail) = buf.split_at(buf.len() - 4);
    let want = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if crc(body) != want {
        return Err(StoreError::BadFormat("checksum mismatch".into()));
    }
    Ok(body)
}

// ---------------------------------------------------------------------------------------
// Block files.

pub(crate) const BLOCK_MAGIC: &[u8; 4] = b"NTRB";
pub(crate) const FORMAT_VERSION: u16 = 1;
pub(crate) const BLOCK_HEADER_LEN: usize = 32;
/// Fixed bytes of a record: length, kind, flags, subject length, seq, ts, expires,
/// header length, CRC.
pub(crate) const RECORD_OVERHEAD: usize = 40;
/// Largest subject a record holds.
pub(crate) const MAX_SUBJECT_LEN: usize = u16::MAX as usize;
/// Largest record accepted from disk: 64 MiB payload + headers + subject + overhead.
pub(crate) const MAX_RECORD_LEN: usize = 80 << 20;

/// The fixed header at the start of every block file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockHeader {
    pub id: u32,
    /// The sequence the store would assign next when this block was created.
    pub first_seq: u64,
    pub created_ts: i64,
}

impl BlockHeader {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_vec(Vec::with_capacity(BLOCK_HEADER_LEN));
        w.raw(BLOCK_MAGIC);
        w.u16(FORMAT_VERSION);
        w.u16(BLOCK_HEADER_LEN as u16);
        w.u32(self.id);
        w.u64(self.first_seq);
        w.i64(self.created_ts);
        w.seal();
        w.into_vec()
    }

    pub fn decode(buf: &[u8]) -> Result<BlockHeader> {
        let buf = buf.get(..BLOCK_HEADER_LEN).ok_or_else(short)?;
        let body = check_sealed(buf)?;
        let mut r = Reader::new(body);
        if r.take(4)? != BLOCK_MAGIC {
            return Err(StoreError::BadFormat("bad block magic".into()));
        }
        let version = r.u16()?;
        let hlen = r.u16()?;
        if version != FORMAT_VERSION || hlen as usize != BLOCK_HEADER_LEN {
            return Err(StoreError::BadFormat(format!(
                "unsupported block version {version}"
            )));
        }
        Ok(BlockHeader {
            id: r.u32()?,
            first_seq: r.u64()?,
            created_ts: r.i64()?,
        })
    }
}

/// What a record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordKind {
    /// A message.
    Msg = 1,
    /// Tombstone: message `seq` was removed.
    Delete = 2,
    /// Every message below `seq` was removed; `seq - 1` is at least the last sequence.
    DeleteBelow = 3,
    /// Every message above `seq` was removed and `seq` is the last sequence.
    Truncate = 4,
    /// A message record whose bytes were erased (same length as the original).
    Erased = 5,
    /// Sequences up to `seq` were used (without messages): `last_seq >= seq`.
    Skip = 6,
    /// A live message `seq` (at or below the last sequence) copied forward out of a block
    /// being compacted; it replaces the earlier record of the same message.
    Moved = 7,
}

impl RecordKind {
    pub fn from_u8(v: u8) -> Option<RecordKind> {
        Some(match v {
            1 => RecordKind::Msg,
            2 => RecordKind::Delete,
            3 => RecordKind::DeleteBelow,
            4 => RecordKind::Truncate,
            5 => RecordKind::Erased,
            6 => RecordKind::Skip,
            7 => RecordKind::Moved,
            _ => return None,
        })
    }
}

/// A decoded record, borrowing from the block bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub kind: RecordKind,
    pub seq: u64,
    pub ts: i64,
    pub expires: i64,
    pub subject: &'a [u8],
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
    /// Set when the body is stored compressed: `headers` is then `None` and `payload`
    /// holds the Snappy-compressed headers-then-payload bytes.
    pub packed: Option<Packed>,
}

/// What a compressed record's body unpacks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Packed {
    pub has_headers: bool,
    /// Uncompressed headers length (the record's headers length field).
    pub headers_len: u32,
    /// Uncompressed body length (headers plus payload), from the Snappy preamble.
    pub raw_len: u32,
}

impl Record<'_> {
    /// Bytes this record takes on disk.
    pub fn encoded_len(&self) -> usize {
        match self.packed {
            Some(_) => RECORD_OVERHEAD + self.subject.len() + self.payload.len(),
            None => msg_record_len(
                self.subject.len(),
                self.headers.map_or(0, |h| h.len()),
                self.payload.len(),
            ),
        }
    }

    /// The message's headers and payload, decompressed when the record is packed.
    pub fn unpack(&self, data: &bytes::Bytes) -> Result<(Option<bytes::Bytes>, bytes::Bytes)> {
        let Some(p) = self.packed else {
            return Ok((
                self.headers.map(|h| data.slice_ref(h)),
                data.slice_ref(self.payload),
            ));
        };
        let raw = snap::raw::Decoder::new()
            .decompress_vec(self.payload)
            .map_err(|e| StoreError::BadFormat(format!("compressed body: {e}")))?;
        if raw.len() != p.raw_len as usize || raw.len() < p.headers_len as usize {
            return Err(StoreError::BadFormat("compressed body length".into()));
        }
        let mut raw = bytes::Bytes::from(raw);
        let headers = raw.split_to(p.headers_len as usize);
        Ok((p.has_headers.then_some(headers), raw))
    }
}

/// Bodies shorter than this are stored as they are.
const PACK_MIN: usize = 64;

/// The Snappy-compressed headers-then-payload of a message, when that saves at least an
/// eighth of the body.
pub(crate) fn pack(headers: Option<&[u8]>, payload: &[u8]) -> Option<(Vec<u8>, Packed)> {
    let hlen = headers.map_or(0, |h| h.len());
    let raw_len = hlen + payload.len();
    if !(PACK_MIN..=MAX_RECORD_LEN).contains(&raw_len) {
        return None;
    }
    let mut enc = snap::raw::Encoder::new();
    let out = match headers {
        Some(h) if !h.is_empty() => {
            let mut body = Vec::with_capacity(raw_len);
            body.extend_from_slice(h);
            body.extend_from_slice(payload);
            enc.compress_vec(&body)
        }
        _ => enc.compress_vec(payload),
    }
    .ok()?;
    (out.len() <= raw_len - raw_len / 8).then_some((
        out,
        Packed {
            has_headers: headers.is_some(),
            headers_len: hlen as u32,
            raw_len: raw_len as u32,
        },
    ))
}

const FLAG_HEADERS: u8 = 1;
/// The record belongs to an atomic batch that is not closed yet: a later record of the
/// same batch, or the unflagged record that closes it, follows. Recovery drops a trailing
/// run of such records (an incomplete batch) together with a torn tail.
pub(crate) const FLAG_BATCH: u8 = 2;
/// The body (headers then payload) is Snappy-compressed (raw format); the headers length
/// field holds the uncompressed headers length.
pub(crate) const FLAG_PACKED: u8 = 4;
/// Every flag bit a record may carry.
pub(crate) const FLAGS_KNOWN: u8 = FLAG_HEADERS | FLAG_BATCH | FLAG_PACKED;

/// Encoded length of a message record.
pub(crate) fn msg_record_len(subject: usize, headers: usize, payload: usize) -> usize {
    RECORD_OVERHEAD + subject + headers + payload
}

/// Appends one record to `out`.
pub(crate) fn encode_record(out: &mut Vec<u8>, rec: &Record<'_>) {
    encode_record_flagged(out, rec, 0);
}

/// Appends one record to `out` with `extra` flags ([`FLAG_BATCH`]) set.
pub(crate) fn encode_record_flagged(out: &mut Vec<u8>, rec: &Record<'_>, extra: u8) {
    let (hlen, has_headers, packed) = match rec.packed {
        Some(p) => (p.headers_len as usize, p.has_headers, FLAG_PACKED),
        None => (rec.headers.map_or(0, |h| h.len()), rec.headers.is_some(), 0),
    };
    let total = rec.encoded_len();
    let start = out.len();
    out.reserve(total);
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.push(rec.kind as u8);
    out.push(extra | packed | if has_headers { FLAG_HEADERS } else { 0 });
    out.extend_from_slice(&(rec.subject.len() as u16).to_le_bytes());
    out.extend_from_slice(&rec.seq.to_le_bytes());
    out.extend_from_slice(&rec.ts.to_le_bytes());
    out.extend_from_slice(&rec.expires.to_le_bytes());
    out.extend_from_slice(&(hlen as u32).to_le_bytes());
    out.extend_from_slice(rec.subject);
    if let Some(h) = rec.headers {
        out.extend_from_slice(h);
    }
    out.extend_from_slice(rec.payload);
    let c = crc(&out[start..]);
    out.extend_from_slice(&c.to_le_bytes());
}

/// Appends a tombstone-like record (no subject or body).
pub(crate) fn encode_marker(out: &mut Vec<u8>, kind: RecordKind, seq: u64, ts: i64) {
    let rec = Record {
        kind,
        seq,
        ts,
        expires: 0,
        subject: b"",
        headers: None,
        payload: b"",
        packed: None,
    };
    encode_record(out, &rec);
}

/// Why a record at some offset could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordError {
    /// Fewer bytes than the record claims (or than a record header): a torn tail, or a
    /// corrupted length.
    Short,
    /// The length is impossible (too small or above the maximum).
    BadLength,
    /// Checksum mismatch or an impossible field.
    Corrupt,
}

/// The record length claimed at the start of `buf`, if plausible.
pub(crate) fn peek_record_len(buf: &[u8]) -> std::result::Result<usize, RecordError> {
    let b = buf.get(..4).ok_or(RecordError::Short)?;
    let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if !(RECORD_OVERHEAD..=MAX_RECORD_LEN).contains(&len) {
        return Err(RecordError::BadLength);
    }
    Ok(len)
}

/// Decodes the record at the start of `buf`; returns it and its length.
pub(crate) fn decode_record(buf: &[u8]) -> std::result::Result<(Record<'_>, usize), RecordError> {
    let len = peek_record_len(buf)?;
    let rec = buf.get(..len).ok_or(RecordError::Short)?;
    check_sealed(rec).map_err(|_| RecordError::Corrupt)?;
    let mut r = Reader::new(&rec[4..len - 4]);
    fn parse<'b>(r: &mut Reader<'b>) -> Result<Record<'b>> {
        let kind = RecordKind::from_u8(r.u8()?).ok_or_else(short)?;
        let flags = r.u8()?;
        let slen = r.u16()? as usize;
        let seq = r.u64()?;
        let ts = r.i64()?;
        let expires = r.i64()?;
        let hlen = r.u32()? as usize;
        let subject = r.take(slen)?;
        let has_headers = flags & FLAG_HEADERS != 0;
        if flags & !FLAGS_KNOWN != 0 {
            return Err(short());
        }
        if flags & FLAG_PACKED != 0 {
            let payload = r.take(r.remaining())?;
            let raw_len = snap::raw::decompress_len(payload).map_err(|_| short())?;
            if !matches!(kind, RecordKind::Msg | RecordKind::Moved)
                || raw_len < hlen
                || raw_len > MAX_RECORD_LEN
            {
                return Err(short());
            }
            let packed = Packed {
                has_headers,
                headers_len: hlen as u32,
                raw_len: raw_len as u32,
            };
            return Ok(Record {
                kind,
                seq,
                ts,
                expires,
                subject,
                headers: None,
                payload,
                packed: Some(packed),
            });
        }
        let headers = r.take(hlen)?;
        let payload = r.take(r.remaining())?;
        Ok(Record {
            kind,
            seq,
            ts,
            expires,
            subject,
            headers: has_headers.then_some(headers),
            payload,
            packed: None,
        })
    }
    let record = parse(&mut r).map_err(|_| RecordError::Corrupt)?;
    Ok((record, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_roundtrip_and_every_truncation_or_flip_is_rejected() {
        let mut buf = Vec::new();
        let rec = Record {
            kind: RecordKind::Msg,
            seq: 7,
            ts: 99,
            expires: 5,
            subject: b"a.b",
            headers: Some(b"NATS/1.0\r\n\r\n"),
            payload: b"hello",
            packed: None,
        };
        encode_record(&mut buf, &rec);
        let (back, len) = decode_record(&buf).unwrap();
        assert_eq!(back, rec);
        assert_eq!(len, buf.len());
        for cut in 0..buf.len() {
            assert!(decode_record(&buf[..cut]).is_err());
        }
        for i in 0..buf.len() {
            for bit in 0..8 {
                let mut b = buf.clone();
                b[i] ^= 1 << bit;
                if let Ok((r, _)) = decode_record(&b) {
                    panic!("flip at {i}:{bit} accepted: {r:?}");
                }
            }
        }
    }

    #[test]
    fn packed_record_roundtrip_and_flips_are_rejected() {
        let headers: &[u8] = b"NATS/1.0\r\nA: b\r\n\r\n";
        let payload = b"abcdefgh".repeat(40);
        let (body, p) = pack(Some(headers), &payload).expect("repetitive body compresses");
        let rec = Record {
            kind: RecordKind::Msg,
            seq: 3,
            ts: 1,
            expires: 0,
            subject: b"s.x",
            headers: None,
            payload: &body,
            packed: Some(p),
        };
        let mut buf = Vec::new();
        encode_record(&mut buf, &rec);
        assert_eq!(buf.len(), rec.encoded_len());
        assert!(buf.len() < payload.len());
        let data = bytes::Bytes::from(buf.clone());
        let (back, _) = decode_record(&data).unwrap();
        assert_eq!(back, rec);
        let (h, pl) = back.unpack(&data).unwrap();
        assert_eq!(h.as_deref(), Some(headers));
        assert_eq!(&pl[..], &payload[..]);
        for i in 0..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x10;
            assert!(decode_record(&b).is_err(), "flip at {i} accepted");
        }
        // Incompressible or short bodies stay plain.
        assert!(pack(None, b"short").is_none());
        let noise: Vec<u8> = (0..200u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert!(pack(None, &noise).is_none());
    }

    #[test]
    fn header_roundtrip() {
        let h = BlockHeader {
            id: 3,
            first_seq: 10,
            created_ts: 5,
        };
        let enc = h.encode();
        assert_eq!(enc.len(), BLOCK_HEADER_LEN);
        assert_eq!(BlockHeader::decode(&enc).unwrap(), h);
        let mut bad = enc.clone();
        bad[9] ^= 1;
        assert!(BlockHeader::decode(&bad).is_err());
    }
}
