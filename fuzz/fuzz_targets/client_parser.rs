//! Fuzzes the client-protocol parser: arbitrary bytes, split into reads at arbitrary points,
//! must never panic, and must yield the same operations as the unsplit input.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use natrium_protocol::{ClientOp, ParseError, Parser};

fn run(chunks: &[&[u8]]) -> (Vec<ClientOp>, Option<ParseError>) {
    let mut p = Parser::new(256, 4096);
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            match p.next_op(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => break,
                Err(e) => return (ops, Some(e)),
            }
        }
    }
    (ops, None)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    // The first byte picks a split point for the rest.
    let input = &data[1..];
    let cut = (data[0] as usize).min(input.len());
    let whole = run(&[input]);
    let split = run(&[&input[..cut], &input[cut..]]);
    assert_eq!(whole, split);
});
