//! The CONNECT options a client sends, decoded from JSON.
//!
//! Unknown fields are ignored (clients add fields over time); a field with the wrong JSON
//! type is an error, which the server reports as nats-server does.

use serde::Deserialize;

/// Options a client announces in `CONNECT {json}`.
///
/// As in nats-server, `verbose`, `pedantic` and `echo` are true when the client leaves them
/// out, and [`ConnectInfo::default`] (the options of a client that has not sent CONNECT yet)
/// has the same values.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
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
    pub echo: bool,
    pub headers: bool,
    pub no_responders: bool,
}

impl Default for ConnectInfo {
    fn default() -> Self {
        ConnectInfo {
            verbose: true,
            pedantic: true,
            tls_required: false,
            user: None,
            pass: None,
            auth_token: None,
            nkey: None,
            sig: None,
            jwt: None,
            name: None,
            lang: None,
            version: None,
            protocol: 0,
            echo: true,
            headers: false,
            no_responders: false,
        }
    }
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
    fn omitted_flags_default_like_nats_server_and_bad_json_is_an_error() {
        let c = ConnectInfo::parse(b"{}").unwrap();
        assert!(c.echo && c.verbose && c.pedantic && !c.headers);
        assert!(ConnectInfo::parse(b"{\"verbose\":").is_err());
        assert!(ConnectInfo::parse(b"{\"verbose\":\"yes\"}").is_err());
    }
}
