//! natrium-server: a NATS-compatible messaging server.
//!
//! This crate is the wiring around the pure crates: listeners and connection tasks
//! ([`conn`], [`outbound`]), routing into subscribers ([`router`]), authentication
//! ([`auth`]), TLS ([`tls`], [`x509`]), the INFO message ([`server_info`]), logging in nats-server's format ([`log`]) and
//! process-level concerns ([`run`]: startup, signals, pid and ports files).

pub mod log;

pub mod operator;
pub mod outlet;

pub mod account;
pub mod auth;
pub mod conn;
pub mod jetstream;
pub mod jwt;
pub mod leafnode;
pub mod listen;
pub mod monitor;
pub mod msgtrace;
pub mod outbound;
pub mod reload;
pub mod replies;
pub mod router;
pub mod run;
pub mod server;
pub mod server_info;
pub mod sysacc;
pub mod tls;
pub mod ws;
pub mod x509;

pub use server::Server;
