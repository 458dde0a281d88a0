//! NATS message headers: reading a header block (`NATS/1.0[ code desc]\r\nK: V\r\n...\r\n\r\n`)
//! and building one. Header blocks arrive from the network, so every read is total: a
//! malformed block simply has no such header.

use bytes::Bytes;

pub const MSG_ID: &str = "Nats-Msg-Id";
pub const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
pub const EXPECTED_LAST_SEQ: &str = "Nats-Expected-Last-Sequence";
pub const EXPECTED_LAST_SUBJ_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";
pub const EXPECTED_LAST_SUBJ_SEQ_SUBJ: &str = "Nats-Expected-Last-Subject-Sequence-Subject";
pub const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
pub const ROLLUP: &str = "Nats-Rollup";
pub const TTL: &str = "Nats-TTL";
pub const STREAM_SOURCE: &str = "Nats-Stream-Source";
pub const BATCH_ID: &str = "Nats-Batch-Id";
pub const BATCH_SEQ: &str = "Nats-Batch-Sequence";
pub const BATCH_COMMIT: &str = "Nats-Batch-Commit";
pub const REQUIRED_API_LEVEL: &str = "Nats-Required-Api-Level";
pub const INCR: &str = "Nats-Incr";
pub const MARKER_REASON: &str = "Nats-Marker-Reason";
/// The pin id of a `pinned_client` consumer, on every message it delivers.
pub const PIN_ID: &str = "Nats-Pin-Id";

/// The value of the first header named `name` (case-insensitive), trimmed.
pub fn get<'a>(block: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(block).ok()?;
    text.split("\r\n").skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A header block from a status (e.g. `404 No Messages`) and key/value pairs.
pub fn build(status: Option<&str>, pairs: &[(&str, &str)]) -> Bytes {
    let mut s = String::from("NATS/1.0");
    if let Some(st) = status {
        s.push(' ');
        s.push_str(st);
    }
    s.push_str("\r\n");
    for (k, v) in pairs {
        s.push_str(k);
        s.push_str(": ");
        s.push_str(v);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    Bytes::from(s)
}

/// Appends key/value pairs to an existing header block (or starts one).
pub fn append(block: Option<&[u8]>, pairs: &[(&str, &str)]) -> Bytes {
    let Some(b) = block.filter(|b| b.ends_with(b"\r\n\r\n")) else {
        return build(None, pairs);
    };
    let mut out = b[..b.len() - 2].to_vec();
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

/// The block without the headers `drop` selects (by name); `None` when `block` is not a
/// header block. The status line is kept.
pub fn remove(block: &[u8], drop: impl Fn(&str) -> bool) -> Option<Bytes> {
    let text = std::str::from_utf8(block).ok()?;
    let body = text.strip_suffix("\r\n\r\n")?;
    let mut lines = body.split("\r\n");
    let mut out = String::from(lines.next()?);
    out.push_str("\r\n");
    for line in lines {
        let name = line.split_once(':').map_or(line, |(k, _)| k).trim();
        if !drop(name) {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_build_append() {
        let h = build(None, &[("Nats-Msg-Id", "1"), ("A", "b c")]);
        assert_eq!(&h[..], b"NATS/1.0\r\nNats-Msg-Id: 1\r\nA: b c\r\n\r\n");
        assert_eq!(get(&h, "nats-msg-id"), Some("1"));
        assert_eq!(get(&h, "A"), Some("b c"));
        assert_eq!(get(&h, "missing"), None);
        assert_eq!(get(b"garbage", "A"), None);
        let h2 = append(Some(&h), &[("X", "y")]);
        assert_eq!(
            &h2[..],
            b"NATS/1.0\r\nNats-Msg-Id: 1\r\nA: b c\r\nX: y\r\n\r\n"
        );
        let h3 = remove(&h2, |k| k.eq_ignore_ascii_case("a")).unwrap();
        assert_eq!(&h3[..], b"NATS/1.0\r\nNats-Msg-Id: 1\r\nX: y\r\n\r\n");
        assert_eq!(remove(b"garbage", |_| true), None);
        assert_eq!(
            &build(Some("404 No Messages"), &[])[..],
            b"NATS/1.0 404 No Messages\r\n\r\n"
        );
    }
}
