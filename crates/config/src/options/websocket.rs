//! The `websocket` block: the listener that carries the client protocol over WebSocket
//! frames, with its own TLS, origin checks and cookie credentials.
//!
//! Keys nats-server accepts but Natrium does not implement (compression, `advertise`,
//! websocket-level pings) are recorded as unsupported.

use std::time::Duration;

use super::convert::{go_quote, parse_go_duration, parse_listen, Loader};
use super::tls::{parse_tls_block, TlsContext};
use super::{Options, TlsOptions};
use crate::conf::{Spanned, Value};

/// `websocket { ... }`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WebsocketOptions {
    pub host: String,
    /// 0 is off, -1 a random port.
    pub port: i32,
    /// Serve plain `ws://` (nats-server insists on TLS unless this is set).
    pub no_tls: bool,
    pub tls: Option<TlsOptions>,
    /// Only accept browsers whose `Origin` matches the request's `Host`.
    pub same_origin: bool,
    /// Origins (`scheme://host[:port]`) accepted; empty accepts any.
    pub allowed_origins: Vec<String>,
    /// Deadline for the HTTP upgrade (and TLS) handshake; zero means the default.
    pub handshake_timeout: Duration,
    /// Cookies whose values stand in for CONNECT's `user`, `pass` and `auth_token`.
    pub user_cookie: Option<String>,
    pub pass_cookie: Option<String>,
    pub token_cookie: Option<String>,
    /// A cookie whose value stands in for CONNECT's `jwt` (operator mode).
    pub jwt_cookie: Option<String>,
    /// Extra headers sent with the upgrade response.
    pub headers: Vec<(String, String)>,
    /// The user a websocket client without credentials is, instead of the top-level one.
    pub no_auth_user: Option<String>,
    /// The block's own `authorization { user, password, token, timeout }`: websocket
    /// clients authenticate against it instead of the top-level single user or token.
    pub username: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    /// Zero means the top-level auth timeout.
    pub auth_timeout: Duration,
}

impl WebsocketOptions {
    /// nats-server's "auth override": the block names its own credentials or default user.
    pub fn auth_override(&self) -> bool {
        self.username.is_some() || self.token.is_some() || self.no_auth_user.is_some()
    }
}

/// nats-server's default upgrade deadline.
pub const DEFAULT_WS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

const UNSUPPORTED: &[&str] = &["advertise", "compress", "compression", "ping_interval"];

pub(super) fn apply_websocket(o: &mut Options, ld: &mut Loader, v: &Spanned) {
    let Value::Map(entries) = &v.value else {
        let msg = format!("Expected websocket to be a map, got {}", v.value.go_type());
        return ld.error(&v.pos, msg);
    };
    let mut w = o.websocket.take().unwrap_or_default();
    for (key, item) in entries {
        let lower = key.to_lowercase();
        if UNSUPPORTED.contains(&lower.as_str()) {
            // `compression: false` asks for nothing Natrium lacks.
            if !(matches!(lower.as_str(), "compress" | "compression")
                && item.value == Value::Bool(false))
            {
                ld.unsupported(format!("websocket.{key}"), &item.pos);
            }
            continue;
        }
        apply_key(&mut w, ld, key, &lower, item);
    }
    o.websocket = Some(w);
}

fn apply_key(w: &mut WebsocketOptions, ld: &mut Loader, key: &str, lower: &str, v: &Spanned) {
    match lower {
        "listen" => match parse_listen(&v.value) {
            Ok((host, port)) => (w.host, w.port) = (host, port),
            Err(e) => ld.error(&v.pos, e),
        },
        "port" => {
            if let Some(p) = ld.int32(key, v) {
                w.port = p;
            }
        }
        "host" | "net" => {
            if let Some(h) = ld.string(v) {
                w.host = h;
            }
        }
        "no_tls" => {
            if let Some(b) = ld.bool(v) {
                w.no_tls = b;
            }
        }
        "tls" => w.tls = parse_tls_block(ld, "websocket.tls", v, TlsContext::Client),
        "same_origin" => {
            if let Some(b) = ld.bool(v) {
                w.same_origin = b;
            }
        }
        "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin" | "origins"
        | "origin" => w.allowed_origins = string_array(ld, v),
        "handshake_timeout" => match &v.value {
            Value::Int(secs) => {
                w.handshake_timeout = Duration::from_secs(u64::try_from(*secs).unwrap_or(0))
            }
            Value::String(s) => match parse_go_duration(s) {
                Ok(n) => w.handshake_timeout = Duration::from_nanos(u64::try_from(n).unwrap_or(0)),
                Err(e) => ld.error(&v.pos, e),
            },
            other => ld.error(
                &v.pos,
                format!(
                    "error parsing handshake timeout: unsupported type {}",
                    other.go_type()
                ),
            ),
        },
        "user_cookie" => w.user_cookie = ld.string(v),
        "pass_cookie" => w.pass_cookie = ld.string(v),
        "token_cookie" => w.token_cookie = ld.string(v),
        "jwt_cookie" => w.jwt_cookie = ld.string(v),
        "no_auth_user" => w.no_auth_user = ld.string(v),
        "authorization" | "authentication" => apply_simple_auth(w, ld, v),
        "headers" => match &v.value {
            Value::Map(entries) => {
                w.headers.clear();
                for (name, value) in entries {
                    match &value.value {
                        Value::String(s) => w.headers.push((name.clone(), s.clone())),
                        other => ld.error(
                            &value.pos,
                            format!(
                                "error parsing header key {name}: unsupported type {}",
                                other.go_type()
                            ),
                        ),
                    }
                }
            }
            other => ld.error(
                &v.pos,
                format!(
                    "error parsing headers: unsupported type {}",
                    other.go_type()
                ),
            ),
        },
        _ => ld.unknown_field(key, v),
    }
}

/// nats-server's `parseSimpleAuth`: user, password, token and a timeout in seconds.
fn apply_simple_auth(w: &mut WebsocketOptions, ld: &mut Loader, v: &Spanned) {
    let Some(entries) = ld.map(v) else {
        return;
    };
    for (key, item) in entries {
        match key.to_lowercase().as_str() {
            "user" | "username" => w.username = ld.string(item),
            "pass" | "password" => w.password = ld.string(item),
            "token" => w.token = ld.string(item),
            "timeout" => {
                // Like nats-server, a value of another type means one second.
                let secs = match &item.value {
                    Value::Int(i) => *i as f64,
                    Value::Float(f) => *f,
                    _ => 1.0,
                };
                w.auth_timeout = Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO);
            }
            _ => ld.unknown_field(key, item),
        }
    }
}

/// nats-server's `parseStringArray`: one string or an array of strings.
fn string_array(ld: &mut Loader, v: &Spanned) -> Vec<String> {
    match &v.value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| match &i.value {
                Value::String(s) => Some(s.clone()),
                other => {
                    ld.error(
                        &i.pos,
                        format!(
                            "error parsing allowed origins: unsupported type in array {}",
                            other.go_type()
                        ),
                    );
                    None
                }
            })
            .collect(),
        other => {
            ld.error(
                &v.pos,
                format!(
                    "error parsing allowed origins: unsupported type {}",
                    other.go_type()
                ),
            );
            Vec::new()
        }
    }
}

/// nats-server's websocket option checks (run before the server starts), with its texts.
pub fn validate_websocket(o: &Options) -> Result<(), String> {
    let Some(w) = &o.websocket else {
        return Ok(());
    };
    if w.port == 0 {
        return Ok(());
    }
    if w.tls.is_none() && !w.no_tls {
        return Err("websocket requires TLS configuration".into());
    }
    for origin in &w.allowed_origins {
        parse_origin(origin).map_err(|e| match e {
            OriginError::Scheme => format!(
                "unable to parse allowed origin {}: allowed origins must be absolute URLs with \
                 http or https scheme",
                go_quote(origin)
            ),
            OriginError::Host => format!(
                "unable to parse allowed origin {}: host is required",
                go_quote(origin)
            ),
            OriginError::Port => format!(
                "unable to parse allowed origin: invalid port in {}",
                go_quote(origin)
            ),
        })?;
    }
    if let Some(user) = &w.no_auth_user {
        if o.users.is_empty() && o.nkeys.is_empty() {
            return Err(format!(
                "no_auth_user: \"{user}\" present, but users/nkeys are not defined"
            ));
        }
        if !o.users.iter().any(|u| &u.username == user) && !o.nkeys.iter().any(|n| &n.nkey == user)
        {
            return Err(format!(
                "no_auth_user: \"{user}\" not present as user or nkey in authorization block \
                 or account configuration"
            ));
        }
    }
    if !o.users.is_empty() || !o.nkeys.is_empty() {
        if w.username.is_some() {
            return Err(
                "websocket authentication username not compatible with presence of users/nkeys"
                    .into(),
            );
        }
        if w.token.is_some() {
            return Err(
                "websocket authentication token not compatible with presence of users/nkeys".into(),
            );
        }
    }
    if let Some(cookie) = &w.jwt_cookie {
        if o.operators.is_empty() && o.trusted_keys.is_empty() {
            return Err(format!(
                "trusted operators or trusted keys configuration is required for JWT \
                 authentication via cookie {}",
                go_quote(cookie)
            ));
        }
    }
    for (name, _) in &w.headers {
        let k = name.to_lowercase();
        if matches!(
            k.as_str(),
            "host" | "content-length" | "connection" | "upgrade" | "nats-no-masking"
        ) {
            return Err(format!(
                "websocket: invalid header {} not allowed",
                go_quote(name)
            ));
        }
        if k.starts_with("sec-websocket-") {
            return Err(format!(
                "websocket: invalid header {}, \"Sec-WebSocket-\" prefix not allowed",
                go_quote(name)
            ));
        }
    }
    Ok(())
}

/// Why an origin string is not `http(s)://host[:port]`.
#[derive(Debug, PartialEq, Eq)]
pub enum OriginError {
    Scheme,
    Host,
    Port,
}

/// Splits `scheme://host[:port][/...]` into (scheme, lower-case host, port with the scheme's
/// default), as origins are compared.
pub fn parse_origin(origin: &str) -> Result<(String, String, u16), OriginError> {
    let (scheme, rest) = origin.split_once("://").ok_or(OriginError::Scheme)?;
    let scheme = scheme.to_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(OriginError::Scheme),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(OriginError::Host);
    }
    let port = |p: &str| p.parse::<u16>().map_err(|_| OriginError::Port);
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or(OriginError::Host)?;
        match after.strip_prefix(':') {
            Some(p) => (h, port(p)?),
            None if after.is_empty() => (h, default_port),
            None => return Err(OriginError::Port),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, port(p)?),
            None => (authority, default_port),
        }
    };
    if host.is_empty() {
        return Err(OriginError::Host);
    }
    Ok((scheme, host.to_lowercase(), port))
}
