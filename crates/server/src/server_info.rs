//! The INFO message the server sends on accept (and again in lame-duck mode).
//!
//! Field names, their order and which ones are left out when empty follow nats-server's
//! INFO exactly, because clients read them (`headers`, `max_payload`, `auth_required`,
//! `jetstream`, `nonce`, `ldm` ...). The line ends with `} \r\n` as nats-server's does.

use serde::Serialize;

/// The nats-server version whose client protocol and API this server implements. Clients
/// gate features on it, so it must be a 2.x version.
pub const NATS_VERSION: &str = "2.12.0";
/// Natrium's own version.
pub const NATRIUM_VERSION: &str = env!("CARGO_PKG_VERSION");

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub server_id: String,
    pub server_name: String,
    pub version: &'static str,
    pub proto: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub git_commit: String,
    pub go: &'static str,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_available: bool,
    pub max_payload: i32,
    #[serde(skip_serializing_if = "is_false")]
    pub jetstream: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub connect_info: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_account: Option<String>,
    /// The highest JetStream API level this server meets (nats-server sends its own
    /// always; clients use it to decide which JetStream features to offer).
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub api_lvl: u32,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

impl Info {
    /// Encodes `INFO {json} \r\n`.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = b"INFO ".to_vec();
        // Serializing a struct of strings, numbers and bools cannot fail.
        serde_json::to_writer(&mut line, self).expect("INFO serializes");
        line.extend_from_slice(b" \r\n");
        line
    }
}

/// A fresh server id: 56 characters of base32 starting with `N`, the shape of an nkey
/// server public key, which is what nats-server uses and tools display.
pub fn new_server_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut id = String::with_capacity(56);
    id.push('N');
    for _ in 0..55 {
        id.push(ALPHABET[rand::random_range(0..ALPHABET.len())] as char);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_line_shape_and_omitted_fields() {
        let info = Info {
            server_id: new_server_id(),
            server_name: "n".into(),
            version: NATS_VERSION,
            proto: 1,
            git_commit: String::new(),
            go: "rust",
            host: "0.0.0.0".into(),
            port: 4222,
            headers: true,
            auth_required: false,
            tls_required: false,
            tls_verify: false,
            tls_available: false,
            max_payload: 1048576,
            jetstream: false,
            client_id: 5,
            client_ip: "127.0.0.1".into(),
            nonce: None,
            domain: None,
            connect_urls: vec![],
            ldm: false,
            connect_info: false,
            remote_account: None,
            api_lvl: 0,
        };
        let line = String::from_utf8(info.to_line()).unwrap();
        assert!(line.starts_with("INFO {\"server_id\":\"N"));
        assert!(line.ends_with("} \r\n"));
        assert!(line.contains("\"headers\":true,\"max_payload\":1048576,\"client_id\":5"));
        assert!(!line.contains("auth_required"));
        assert!(!line.contains("ldm"));
        assert_eq!(info.server_id.len(), 56);
    }
}
