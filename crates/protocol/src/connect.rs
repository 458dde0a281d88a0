//! The CONNECT options a client sends, decoded from JSON.
//!
//! Unknown fields are ignored (clients add fields over time); a field with the wrong JSON
//! type is an error, which the server reports as nats-server does.

use serde::Deserialize;

/// Options a client announces in `CONNECT {json}`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ConnectInfo {
    pub verbose: bool,
    pub pedantic: bool,
    pub tls_required: bool,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub auth_token: Option<String>,
    pub nkey: Option<String>,
    pub sig: Option<String>,
    pub jwt: Option<String>,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    pub protocol: i32,
    #[serde(default = "default_true")]
    pub echo: bool,
    pub headers: bool,
    pub no_responders: bool,
}

fn default_true() -> bool {
    true
}

impl ConnectInfo {
    /// Decodes the JSON object that follows `CONNECT`.
    pub fn parse(json: &[u8]) -> Result<ConnectInfo, serde_json::Error> {
        serde_json::from_slice(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_fields_async_nats_sends() {
        let json = br#"{"verbose":false,"pedantic":false,"user":"a","pass":"b","tls_required":false,"name":"x","lang":"rust","version":"0.51.0","protocol":1,"echo":true,"headers":true,"no_responders":true,"extra":1}"#;
        let c = ConnectInfo::parse(json).unwrap();
        assert_eq!(c.user.as_deref(), Some("a"));
        assert_eq!(c.pass.as_deref(), Some("b"));
        assert!(c.headers && c.no_responders && c.echo);
        assert_eq!(c.protocol, 1);
    }

    #[test]
    fn echo_defaults_to_true_and_bad_json_is_an_error() {
        assert!(ConnectInfo::parse(b"{}").unwrap().echo);
        assert!(ConnectInfo::parse(b"{\"verbose\":").is_err());
        assert!(ConnectInfo::parse(b"{\"verbose\":\"yes\"}").is_err());
    }
}
