//! The client-protocol parser: bytes from a client connection in, [`ClientOp`]s out.
//!
//! The parser owns no socket and performs no I/O. It is resumable: the caller appends whatever
//! bytes a read produced to one `BytesMut` and calls [`Parser::next_op`] until it returns
//! `Ok(None)`; a control line or payload split across reads is picked up where it stopped,
//! without rescanning bytes already looked at. Payloads are split off the buffer as `Bytes`
//! without copying.
//!
//! Every bound is checked where the data enters: the control line against
//! `max_control_line` while it is being scanned, and a publish size against `max_payload`
//! before a single payload byte is buffered.

use bytes::{Buf, Bytes, BytesMut};

/// One operation sent by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    /// `CONNECT {json}`: the raw JSON object, decoded by [`crate::ConnectInfo::parse`].
    Connect(Bytes),
    /// `PUB` or `HPUB`. `headers` holds the header block (from `NATS/1.0` through the blank
    /// line) for `HPUB`, `None` for `PUB`.
    Pub {
        subject: Bytes,
        reply: Option<Bytes>,
        headers: Option<Bytes>,
        payload: Bytes,
    },
    /// `SUB subject [queue] sid`.
    Sub {
        subject: Bytes,
        queue: Option<Bytes>,
        sid: Bytes,
    },
    /// `UNSUB sid [max]`.
    Unsub {
        sid: Bytes,
        max: Option<u64>,
    },
    Ping,
    Pong,
    /// `INFO {json}` from a client is legal and ignored by the server.
    Info(Bytes),
    /// `+OK` and `-ERR` from a client are legal and ignored by the server.
    Ok,
    Err(Bytes),
}

/// Why the parser refused the input. The connection owner decides what to answer; the
/// parser never guesses at recovery, and after an error the parser must not be used again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The operation name is not one the client protocol knows.
    UnknownOp,
    /// A control line grew past `max_control_line` before its end was seen.
    MaxControlLine { limit: usize },
    /// A publish announced more payload than `max_payload` allows.
    MaxPayload { size: usize, limit: usize },
    /// The operation is known but its arguments are wrong (count, size field, sid ...).
    BadArgs { op: &'static str, line: String },
    /// The payload was not followed by `\r\n`, or a header size exceeds the total size.
    BadPayload,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::UnknownOp => write!(f, "unknown protocol operation"),
            ParseError::MaxControlLine { limit } => {
                write!(f, "maximum control line exceeded (limit {limit})")
            }
            ParseError::MaxPayload { size, limit } => {
                write!(f, "maximum payload exceeded: {size} vs {limit}")
            }
            ParseError::BadArgs { op, line } => write!(f, "bad arguments for {op}: '{line}'"),
            ParseError::BadPayload => write!(f, "payload not terminated by CRLF"),
        }
    }
}

impl std::error::Error for ParseError {}

/// A publish whose control line has been read and whose payload is still arriving.
#[derive(Debug)]
struct PendingPub {
    subject: Bytes,
    reply: Option<Bytes>,
    header_len: Option<usize>,
    total_len: usize,
}

#[derive(Debug)]
enum State {
    /// Looking for the end of a control line; `scanned` bytes are known to hold no `\n`.
    Line { scanned: usize },
    /// Waiting for `total_len + 2` bytes of payload.
    Payload(PendingPub),
}

/// The resumable client-protocol parser. One per connection.
#[derive(Debug)]
pub struct Parser {
    max_control_line: usize,
    max_payload: usize,
    state: State,
}

impl Parser {
    pub fn new(max_control_line: usize, max_payload: usize) -> Self {
        Parser {
            max_control_line,
            max_payload,
            state: State::Line { scanned: 0 },
        }
    }

    /// Changes the payload limit (config reload, or an account limit learned at CONNECT).
    pub fn set_max_payload(&mut self, max_payload: usize) {
        self.max_payload = max_payload;
    }

    /// True when the parser is between operations (nothing half-read).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Line { scanned: 0 })
    }

    /// Takes the next complete operation off the front of `buf`, or returns `Ok(None)` when
    /// `buf` holds only part of one (the bytes stay in `buf` for the next call).
    pub fn next_op(&mut self, buf: &mut BytesMut) -> Result<Option<ClientOp>, ParseError> {
        loop {
            match &mut self.state {
                State::Line { scanned } => {
                    let Some(nl) = find_newline(&buf[*scanned..]) else {
                        *scanned = buf.len();
                        if buf.len() > self.max_control_line {
                            return Err(ParseError::MaxControlLine {
                                limit: self.max_control_line,
                            });
                        }
                        return Ok(None);
                    };
                    let end = *scanned + nl;
                    self.state = State::Line { scanned: 0 };
                    let mut line = buf.split_to(end + 1).freeze();
                    line.truncate(end);
                    if line.last() == Some(&b'\r') {
                        line.truncate(end - 1);
                    }
                    if line.len() > self.max_control_line {
                        return Err(ParseError::MaxControlLine {
                            limit: self.max_control_line,
                        });
                    }
                    match self.parse_line(line)? {
                        LineResult::Op(op) => return Ok(Some(op)),
                        LineResult::Payload(p) => self.state = State::Payload(p),
                        LineResult::Empty => {}
                    }
                }
                State::Payload(pending) => {
                    let need = pending.total_len + 2;
                    if buf.len() < need {
                        buf.reserve(need - buf.len());
                        return Ok(None);
                    }
                    if &buf[pending.total_len..need] != b"\r\n" {
                        return Err(ParseError::BadPayload);
                    }
                    let mut body = buf.split_to(need).freeze();
                    body.truncate(pending.total_len);
                    let State::Payload(p) =
                        std::mem::replace(&mut self.state, State::Line { scanned: 0 })
                    else {
                        unreachable!("state checked above");
                    };
                    let (headers, payload) = match p.header_len {
                        Some(h) => {
                            let headers = body.split_to(h);
                            (Some(headers), body)
                        }
                        None => (None, body),
                    };
                    return Ok(Some(ClientOp::Pub {
                        subject: p.subject,
                        reply: p.reply,
                        headers,
                        payload,
                    }));
                }
            }
        }
    }

    fn parse_line(&self, line: Bytes) -> Result<LineResult, ParseError> {
        let trimmed_start = line
            .iter()
            .position(|b| !is_space(*b))
            .unwrap_or(line.len());
        if trimmed_start == line.len() {
            // nats-server treats a bare CRLF as a protocol error only in some states; an
            // empty line between operations is harmless and skipped.
            return Ok(LineResult::Empty);
        }
        let mut line = line.slice(trimmed_start..);
        let op_end = line.iter().position(|b| is_space(*b)).unwrap_or(line.len());
        let op = line.split_to(op_end);
        let rest = line;
        let name = OpName::from_bytes(&op).ok_or(ParseError::UnknownOp)?;
        match name {
            OpName::Pub => self.parse_pub(rest, false).map(LineResult::Payload),
            OpName::Hpub => self.parse_pub(rest, true).map(LineResult::Payload),
            OpName::Sub => parse_sub(rest).map(LineResult::Op),
            OpName::Unsub => parse_unsub(rest).map(LineResult::Op),
            OpName::Ping => Ok(LineResult::Op(ClientOp::Ping)),
            OpName::Pong => Ok(LineResult::Op(ClientOp::Pong)),
            OpName::Connect => Ok(LineResult::Op(ClientOp::Connect(trim(rest)))),
            OpName::Info => Ok(LineResult::Op(ClientOp::Info(trim(rest)))),
            OpName::Ok => Ok(LineResult::Op(ClientOp::Ok)),
            OpName::Err => Ok(LineResult::Op(ClientOp::Err(trim(rest)))),
        }
    }

    fn parse_pub(&self, rest: Bytes, with_headers: bool) -> Result<PendingPub, ParseError> {
        let op = if with_headers { "HPUB" } else { "PUB" };
        let bad = || ParseError::BadArgs {
            op,
            line: String::from_utf8_lossy(&rest).into_owned(),
        };
        let mut args = Args::new(&rest);
        let mut fields: [Option<Bytes>; 4] = [None, None, None, None];
        let mut n = 0;
        for a in args.by_ref() {
            if n == fields.len() {
                return Err(bad());
            }
            fields[n] = Some(a);
            n += 1;
        }
        let sizes_needed = if with_headers { 2 } else { 1 };
        if n < 1 + sizes_needed || n > 2 + sizes_needed {
            return Err(bad());
        }
        let subject = fields[0].take().ok_or_else(bad)?;
        let reply = if n == 2 + sizes_needed {
            fields[1].take()
        } else {
            None
        };
        let total = parse_size(fields[n - 1].as_deref().unwrap_or_default()).ok_or_else(bad)?;
        let header_len = if with_headers {
            let h = parse_size(fields[n - 2].as_deref().unwrap_or_default()).ok_or_else(bad)?;
            if h > total {
                return Err(bad());
            }
            Some(h)
        } else {
            None
        };
        if total > self.max_payload {
            return Err(ParseError::MaxPayload {
                size: total,
                limit: self.max_payload,
            });
        }
        Ok(PendingPub {
            subject,
            reply,
            header_len,
            total_len: total,
        })
    }
}

enum LineResult {
    Op(ClientOp),
    Payload(PendingPub),
    Empty,
}

#[derive(Clone, Copy)]
enum OpName {
    Pub,
    Hpub,
    Sub,
    Unsub,
    Ping,
    Pong,
    Connect,
    Info,
    Ok,
    Err,
}

impl OpName {
    fn from_bytes(op: &[u8]) -> Option<OpName> {
        // Operation names are case-insensitive on the wire.
        const NAMES: [(&[u8], OpName); 10] = [
            (b"PUB", OpName::Pub),
            (b"HPUB", OpName::Hpub),
            (b"SUB", OpName::Sub),
            (b"UNSUB", OpName::Unsub),
            (b"PING", OpName::Ping),
            (b"PONG", OpName::Pong),
            (b"CONNECT", OpName::Connect),
            (b"INFO", OpName::Info),
            (b"+OK", OpName::Ok),
            (b"-ERR", OpName::Err),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(op))
            .map(|(_, o)| *o)
    }
}

fn parse_sub(rest: Bytes) -> Result<ClientOp, ParseError> {
    let bad = || ParseError::BadArgs {
        op: "SUB",
        line: String::from_utf8_lossy(&rest).into_owned(),
    };
    let mut args = Args::new(&rest);
    let a = args.next().ok_or_else(bad)?;
    let b = args.next().ok_or_else(bad)?;
    let c = args.next();
    if args.next().is_some() {
        return Err(bad());
    }
    Ok(match c {
        Some(sid) => ClientOp::Sub {
            subject: a,
            queue: Some(b),
            sid,
        },
        None => ClientOp::Sub {
            subject: a,
            queue: None,
            sid: b,
        },
    })
}

fn parse_unsub(rest: Bytes) -> Result<ClientOp, ParseError> {
    let bad = || ParseError::BadArgs {
        op: "UNSUB",
        line: String::from_utf8_lossy(&rest).into_owned(),
    };
    let mut args = Args::new(&rest);
    let sid = args.next().ok_or_else(bad)?;
    let max = match args.next() {
        Some(m) => Some(parse_size(&m).ok_or_else(bad)? as u64),
        None => None,
    };
    if args.next().is_some() {
        return Err(bad());
    }
    Ok(ClientOp::Unsub { sid, max })
}

/// Parses a non-negative decimal size; `None` for empty, non-digit or overflowing input.
pub fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut n: usize = 0;
    for d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + usize::from(d - b'0');
    }
    Some(n)
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim(b: Bytes) -> Bytes {
    let start = b.iter().position(|c| !is_space(*c)).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !is_space(*c))
        .map_or(start, |e| e + 1);
    b.slice(start..end.max(start))
}

fn find_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|c| *c == b'\n')
}

/// Whitespace-separated arguments of a control line, as zero-copy slices.
struct Args {
    rest: Bytes,
}

impl Args {
    fn new(rest: &Bytes) -> Self {
        Args { rest: rest.clone() }
    }
}

impl Iterator for Args {
    type Item = Bytes;
    fn next(&mut self) -> Option<Bytes> {
        let start = self.rest.iter().position(|b| !is_space(*b))?;
        self.rest.advance(start);
        let end = self
            .rest
            .iter()
            .position(|b| is_space(*b))
            .unwrap_or(self.rest.len());
        Some(self.rest.split_to(end))
    }
}

#[cfg(test)]
mod tests;
