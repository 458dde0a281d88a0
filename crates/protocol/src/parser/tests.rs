//! Transcript tests for the parser, and the property that the ops do not depend on how the
//! input is split into reads.

use super::*;
use proptest::prelude::*;

fn parse_all(p: &mut Parser, buf: &mut BytesMut) -> Result<Vec<ClientOp>, ParseError> {
    let mut ops = Vec::new();
    while let Some(op) = p.next_op(buf)? {
        ops.push(op);
    }
    Ok(ops)
}

fn check(input: &[u8]) -> Result<Vec<ClientOp>, ParseError> {
    let mut p = Parser::new(4096, 1024 * 1024);
    let mut buf = BytesMut::from(input);
    parse_all(&mut p, &mut buf)
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn parses_each_operation() {
    let ops = check(
        b"CONNECT {\"verbose\":false}\r\nPING\r\npong\r\nSUB foo 1\r\nSUB foo q 2\r\n\
          UNSUB 1\r\nUNSUB 2 5\r\nPUB foo 5\r\nhello\r\nPUB foo bar 0\r\n\r\n\
          HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n+OK\r\n-ERR 'x'\r\n",
    )
    .unwrap();
    assert_eq!(
        ops,
        vec![
            ClientOp::Connect(b("{\"verbose\":false}")),
            ClientOp::Ping,
            ClientOp::Pong,
            ClientOp::Sub {
                subject: b("foo"),
                queue: None,
                sid: b("1")
            },
            ClientOp::Sub {
                subject: b("foo"),
                queue: Some(b("q")),
                sid: b("2")
            },
            ClientOp::Unsub {
                sid: b("1"),
                max: None
            },
            ClientOp::Unsub {
                sid: b("2"),
                max: Some(5)
            },
            ClientOp::Pub {
                subject: b("foo"),
                reply: None,
                headers: None,
                payload: b("hello")
            },
            ClientOp::Pub {
                subject: b("foo"),
                reply: Some(b("bar")),
                headers: None,
                payload: b("")
            },
            ClientOp::Pub {
                subject: b("foo"),
                reply: None,
                headers: Some(b("NATS/1.0\r\n\r\n")),
                payload: b("hi")
            },
            ClientOp::Ok,
            ClientOp::Err(b("'x'")),
        ]
    );
}

#[test]
fn tolerates_tabs_extra_spaces_and_bare_newlines() {
    let ops = check(b"PUB\tfoo  \t 2\nhi\r\nSUB  a\t 1  \n").unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(
        ops[1],
        ClientOp::Sub {
            subject: b("a"),
            queue: None,
            sid: b("1")
        }
    );
}

#[test]
fn rejects_bad_input_with_the_right_error() {
    assert_eq!(check(b"FOO bar\r\n"), Err(ParseError::UnknownOp));
    assert!(matches!(
        check(b"PUB foo\r\n"),
        Err(ParseError::BadArgs { op: "PUB", .. })
    ));
    assert!(matches!(
        check(b"PUB foo x\r\n"),
        Err(ParseError::BadArgs { .. })
    ));
    assert!(matches!(
        check(b"PUB a b c 1\r\n"),
        Err(ParseError::BadArgs { .. })
    ));
    assert!(matches!(
        check(b"HPUB foo 5 2\r\n"),
        Err(ParseError::BadArgs { .. })
    ));
    assert!(matches!(
        check(b"SUB foo\r\n"),
        Err(ParseError::BadArgs { .. })
    ));
    assert!(matches!(
        check(b"SUB a b c d\r\n"),
        Err(ParseError::BadArgs { .. })
    ));
    assert!(matches!(
        check(b"UNSUB 1 x\r\n"),
        Err(ParseError::BadArgs { .. })
    ));
    assert_eq!(
        check(b"PUB foo 2\r\nhello\r\n"),
        Err(ParseError::BadPayload)
    );
    assert_eq!(
        check(b"PUB foo 2000000\r\n"),
        Err(ParseError::MaxPayload {
            size: 2_000_000,
            limit: 1024 * 1024
        })
    );
}

#[test]
fn control_line_limit_is_checked_before_the_line_ends() {
    let mut p = Parser::new(16, 1024);
    let mut buf = BytesMut::from(&b"PUB aaaaaaaaaaaaaaaaaaaaaa"[..]);
    assert_eq!(
        p.next_op(&mut buf),
        Err(ParseError::MaxControlLine { limit: 16 })
    );
    let mut p = Parser::new(16, 1024);
    let mut buf = BytesMut::from(&b"PUB aaaa"[..]);
    assert_eq!(p.next_op(&mut buf), Ok(None));
}

#[test]
fn payload_split_across_reads_resumes() {
    let mut p = Parser::new(4096, 1024);
    let mut buf = BytesMut::from(&b"PUB foo 11\r\nhel"[..]);
    assert_eq!(p.next_op(&mut buf), Ok(None));
    assert!(!p.is_idle());
    buf.extend_from_slice(b"lo worl");
    assert_eq!(p.next_op(&mut buf), Ok(None));
    buf.extend_from_slice(b"d\r\n");
    let op = p.next_op(&mut buf).unwrap().unwrap();
    assert_eq!(
        op,
        ClientOp::Pub {
            subject: b("foo"),
            reply: None,
            headers: None,
            payload: b("hello world")
        }
    );
    assert!(p.is_idle());
}

fn op_strategy() -> impl Strategy<Value = Vec<u8>> {
    let subj = "[a-z]{1,5}(\\.[a-z*>]{1,3}){0,3}";
    prop_oneof![
        Just(b"PING\r\n".to_vec()),
        Just(b"PONG\r\n".to_vec()),
        (subj, "[0-9]{1,4}").prop_map(|(s, sid)| format!("SUB {s} {sid}\r\n").into_bytes()),
        (subj, "[a-z]{1,4}", "[0-9]{1,4}")
            .prop_map(|(s, q, sid)| format!("SUB {s} {q} {sid}\r\n").into_bytes()),
        ("[0-9]{1,4}", proptest::option::of(0u32..100)).prop_map(|(sid, m)| match m {
            Some(m) => format!("UNSUB {sid} {m}\r\n").into_bytes(),
            None => format!("UNSUB {sid}\r\n").into_bytes(),
        }),
        (subj, proptest::collection::vec(any::<u8>(), 0..300)).prop_map(|(s, p)| {
            let mut v = format!("PUB {s} {}\r\n", p.len()).into_bytes();
            v.extend_from_slice(&p);
            v.extend_from_slice(b"\r\n");
            v
        }),
        (subj, proptest::collection::vec(any::<u8>(), 0..100)).prop_map(|(s, p)| {
            let h = b"NATS/1.0\r\nA: b\r\n\r\n";
            let mut v = format!("HPUB {s} r.x {} {}\r\n", h.len(), h.len() + p.len()).into_bytes();
            v.extend_from_slice(h);
            v.extend_from_slice(&p);
            v.extend_from_slice(b"\r\n");
            v
        }),
    ]
}

proptest! {
    #[test]
    fn ops_do_not_depend_on_read_boundaries(
        ops in proptest::collection::vec(op_strategy(), 1..20),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let input: Vec<u8> = ops.concat();
        let whole = check(&input).unwrap();
        prop_assert_eq!(whole.len(), ops.len());

        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        points.sort_unstable();
        let mut p = Parser::new(4096, 1024 * 1024);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut last = 0;
        for point in points.into_iter().chain(std::iter::once(input.len())) {
            buf.extend_from_slice(&input[last..point]);
            last = point;
            got.extend(parse_all(&mut p, &mut buf).unwrap());
        }
        prop_assert_eq!(got, whole);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut p = Parser::new(256, 1024);
        let mut buf = BytesMut::from(&input[..]);
        let _ = parse_all(&mut p, &mut buf);
    }
}
