//! The NATS client protocol as pure functions over bytes.
//!
//! This crate owns the wire format between a client and the server: the resumable parser
//! for what clients send ([`Parser`], [`ClientOp`]), the CONNECT options ([`ConnectInfo`]),
//! and encoders for what the server sends ([`encode`]). It has no sockets, no tasks, no
//! clocks and no knowledge of subscriptions or accounts; the server crate drives it.

mod connect;
pub mod encode;
mod parser;

pub use connect::ConnectInfo;
pub use parser::{parse_size, ClientOp, ParseError, Parser};
