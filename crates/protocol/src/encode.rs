//! Encoders for what the server sends to a client: `MSG`, `HMSG`, `-ERR` and the fixed
//! replies. They append to a caller-owned buffer so one buffer can carry a whole batch.

use bytes::{BufMut, BytesMut};

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";
pub const OK: &[u8] = b"+OK\r\n";

/// Appends `-ERR 'text'\r\n`.
pub fn err(buf: &mut BytesMut, text: &str) {
    buf.reserve(text.len() + 9);
    buf.put_slice(b"-ERR '");
    buf.put_slice(text.as_bytes());
    buf.put_slice(b"'\r\n");
}

/// Appends the control line of a message: `MSG subj sid [reply] len\r\n`, or for a message
/// with headers `HMSG subj sid [reply] hdr_len total_len\r\n`. The caller appends the header
/// block, the payload and `\r\n` (or queues them as separate chunks).
pub fn msg_line(
    buf: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    header_len: Option<usize>,
    payload_len: usize,
) {
    let mut num = itoa_buf::Buf::new();
    buf.reserve(subject.len() + sid.len() + reply.map_or(0, |r| r.len() + 1) + 48);
    match header_len {
        Some(_) => buf.put_slice(b"HMSG "),
        None => buf.put_slice(b"MSG "),
    }
    buf.put_slice(subject);
    buf.put_u8(b' ');
    buf.put_slice(sid);
    buf.put_u8(b' ');
    if let Some(r) = reply {
        buf.put_slice(r);
        buf.put_u8(b' ');
    }
    if let Some(h) = header_len {
        buf.put_slice(num.format(h));
        buf.put_u8(b' ');
        buf.put_slice(num.format(h + payload_len));
    } else {
        buf.put_slice(num.format(payload_len));
    }
    buf.put_slice(b"\r\n");
}

/// Appends a whole message (control line, headers, payload, CRLF) to `buf`.
pub fn msg(
    buf: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    headers: Option<&[u8]>,
    payload: &[u8],
) {
    msg_line(
        buf,
        subject,
        sid,
        reply,
        headers.map(|h| h.len()),
        payload.len(),
    );
    buf.reserve(headers.map_or(0, |h| h.len()) + payload.len() + 2);
    if let Some(h) = headers {
        buf.put_slice(h);
    }
    buf.put_slice(payload);
    buf.put_slice(b"\r\n");
}

mod itoa_buf {
    //! Decimal formatting without allocation.
    pub struct Buf {
        bytes: [u8; 20],
    }
    impl Buf {
        pub fn new() -> Self {
            Buf { bytes: [0; 20] }
        }
        pub fn format(&mut self, mut n: usize) -> &[u8] {
            let mut i = self.bytes.len();
            loop {
                i -= 1;
                self.bytes[i] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            &self.bytes[i..]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_msg_and_hmsg() {
        let mut b = BytesMut::new();
        msg(&mut b, b"foo", b"1", None, None, b"hello");
        assert_eq!(&b[..], b"MSG foo 1 5\r\nhello\r\n");
        b.clear();
        msg(
            &mut b,
            b"foo",
            b"22",
            Some(b"_INBOX.x"),
            Some(b"NATS/1.0\r\n\r\n"),
            b"",
        );
        assert_eq!(
            &b[..],
            b"HMSG foo 22 _INBOX.x 12 12\r\nNATS/1.0\r\n\r\n\r\n"
        );
        b.clear();
        err(&mut b, "Invalid Subject");
        assert_eq!(&b[..], b"-ERR 'Invalid Subject'\r\n");
        b.clear();
        msg_line(&mut b, b"a", b"9", None, None, 1234567890);
        assert_eq!(&b[..], b"MSG a 9 1234567890\r\n");
    }
}
