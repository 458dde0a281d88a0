//! The `leafnodes` block. Natrium listens where it is told to, so configurations and test
//! harnesses that declare a leafnode port start and report it, but it does not speak the
//! leafnode protocol yet: every leafnode that connects is answered with an error. Keys that
//! would need the protocol (`remotes`, authorization, TLS, compression ...) are recorded as
//! unsupported, so the server refuses to start with them rather than ignore them.

use super::convert::{parse_listen, Loader};
use super::Options;
use crate::conf::{Spanned, Value};

/// `leafnodes { listen | host, port }`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeafnodeOptions {
    pub host: String,
    /// 0 is off, -1 a random port.
    pub port: i32,
}

pub(super) fn apply_leafnodes(o: &mut Options, ld: &mut Loader, v: &Spanned) {
    let Value::Map(entries) = &v.value else {
        let msg = format!("Expected leafnodes to be a map, got {}", v.value.go_type());
        return ld.error(&v.pos, msg);
    };
    let mut l = o.leafnodes.take().unwrap_or_default();
    for (key, item) in entries {
        match key.to_lowercase().as_str() {
            "listen" => match parse_listen(&item.value) {
                Ok((host, port)) => (l.host, l.port) = (host, port),
                Err(e) => ld.error(&item.pos, e),
            },
            "port" => {
                if let Some(p) = ld.int32(key, item) {
                    l.port = p;
                }
            }
            "host" | "net" => {
                if let Some(h) = ld.string(item) {
                    l.host = h;
                }
            }
            // An empty list of remotes, or not advertising, asks for nothing missing.
            "remotes" if matches!(&item.value, Value::Array(a) if a.is_empty()) => {}
            "no_advertise" if item.value == Value::Bool(true) => {}
            _ => ld.unsupported(format!("leafnodes.{key}"), &item.pos),
        }
    }
    o.leafnodes = Some(l);
}
