//! Typed server options built from a parsed configuration, with nats-server's key names,
//! aliases, defaults, validation and error texts.
//!
//! Keys are matched case-insensitively, as nats-server does. Errors and warnings are collected
//! for the whole file with positions (`file:line:col: unknown field "x"`), then returned
//! together. What nats-server accepts but Natrium does not implement yet goes to
//! [`Options::unsupported`] instead of being ignored; the server refuses to start on it.
//!
//! Defaults are applied the way nats-server applies them: a zero value from the file or the
//! flags means "use the default" (`port: 0` is 4222), filled in by [`Options::finalize`] after
//! the file and the flags have both been applied. This module does no I/O beyond reading the
//! configuration file through [`crate::conf`].

mod accounts;
mod auth;
pub(crate) mod convert;
mod jetstream;
mod leafnode;
mod mappings;
mod operator;
mod tls;
mod top;
mod websocket;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::conf::{self, ConfError, Pos, Spanned};

pub use accounts::{
    AccountConfig, AccountJetStream, Activation, Export, ExportKind, Import, ImportKind,
    ResponseType, DEFAULT_RESPONSE_THRESHOLD,
};
pub use convert::parse_go_duration;
pub use leafnode::LeafnodeOptions;
pub use mappings::{MapDestination, Mapping};
pub use operator::{read_jwt, ResolverConfig, DEFAULT_RESOLVER_INTERVAL};
pub use tls::{
    check_files as check_tls_files, load_ca, load_key_pair, TlsContext, TlsOptions, TlsVersion,
    DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK,
};
pub use websocket::{
    parse_origin, validate_websocket, OriginError, WebsocketOptions, DEFAULT_WS_HANDSHAKE_TIMEOUT,
};

/// nats-server's defaults (server/const.go), named with their units.
pub const DEFAULT_HOST: &str = "0.0.0.0";
pub const DEFAULT_PORT: i32 = 4222;
pub const DEFAULT_MAX_CONNECTIONS: i32 = 64 * 1024;
pub const DEFAULT_MAX_CONTROL_LINE_BYTES: i32 = 4096;
pub const DEFAULT_MAX_PAYLOAD_BYTES: i32 = 1024 * 1024;
pub const DEFAULT_MAX_PENDING_BYTES: i64 = 64 * 1024 * 1024;
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(120);
pub const DEFAULT_PING_MAX: i32 = 2;
pub const DEFAULT_WRITE_DEADLINE: Duration = Duration::from_secs(10);
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// nats-server's TLS handshake deadline.
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
pub const DEFAULT_LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);
pub const DEFAULT_CONNECT_ERROR_REPORTS: i32 = 3600;
pub const DEFAULT_RECONNECT_ERROR_REPORTS: i32 = 1;
pub const DEFAULT_MAX_CLOSED_CLIENTS: i32 = 10_000;
/// nats-server's background fsync period, used when `sync_interval` is given as zero.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(120);
/// `allow_responses: true` defaults.
pub const DEFAULT_ALLOW_RESPONSE_MAX_MSGS: i32 = 1;
pub const DEFAULT_ALLOW_RESPONSE_EXPIRATION: Duration = Duration::from_secs(120);

/// When JetStream file writes are fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// fsync before a write is acknowledged (Natrium's default; `sync_interval: always`).
    Always,
    /// Background fsync every period, as nats-server does by default (2 minutes). Opt-in only.
    Interval(Duration),
}

/// A user from `authorization { users = [...] }`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct User {
    pub username: String,
    /// Plain text, or a bcrypt hash (`$2a$...`).
    pub password: Option<String>,
    pub permissions: Option<Permissions>,
    /// The account the user belongs to (set by the `accounts` block); `None` is the global one.
    pub account: Option<String>,
}

/// A user identified by an nkey (`{ nkey: UD... }`), already checked to be a user public key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NkeyUser {
    pub nkey: String,
    pub permissions: Option<Permissions>,
    pub account: Option<String>,
}

/// What a user may publish and subscribe to.
///
/// An empty `publish.allow` normally means "everything not denied". The one exception follows
/// nats-server: when `response` is set (`allow_responses`), an empty publish allow list means
/// "nothing but replies to received requests".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Permissions {
    pub publish: Option<SubjectPermission>,
    pub subscribe: Option<SubjectPermission>,
    pub response: Option<ResponsePermission>,
}

/// Allowed and denied subjects (subscribe entries may carry a queue: `"foo.* myqueue"`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubjectPermission {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

/// `allow_responses`: how many replies, for how long, a user may publish per request received.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsePermission {
    /// Negative means unlimited (nats-server's convention).
    pub max_msgs: i32,
    /// `Duration::ZERO` means no expiry (nats-server: a negative `expires`).
    pub expires: Duration,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max_msgs: DEFAULT_ALLOW_RESPONSE_MAX_MSGS,
            expires: DEFAULT_ALLOW_RESPONSE_EXPIRATION,
        }
    }
}

/// One configuration error or warning; `Display` is nats-server's `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub pos: Option<Pos>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pos {
            Some(pos) => write!(f, "{pos}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Why a configuration could not be turned into options.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The text could not be read or parsed.
    #[error(transparent)]
    Parse(#[from] ConfError),
    /// The text parsed but its content is wrong. `Display` is nats-server's: every warning, then
    /// every error, each on its own line (so it ends with a newline).
    #[error("{}", render(errors, warnings))]
    Invalid {
        errors: Vec<Diagnostic>,
        warnings: Vec<Diagnostic>,
    },
}

fn render(errors: &[Diagnostic], warnings: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in warnings.iter().chain(errors) {
        out.push_str(&d.to_string());
        out.push('\n');
    }
    out
}

/// Everything the server is configured with. Field names follow nats-server's options.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub config_file: Option<PathBuf>,
    pub server_name: Option<String>,
    pub host: String,
    /// -1 asks for a random port.
    pub port: i32,
    pub client_advertise: Option<String>,
    pub no_advertise: bool,
    /// Negative rejects every client (nats-server turns `max_connections: 0` into -1).
    pub max_connections: i32,
    /// 0 means unlimited.
    pub max_subscriptions: i32,
    pub max_control_line: i32,
    pub max_payload: i32,
    pub max_pending: i64,
    pub ping_interval: Duration,
    pub ping_max: i32,
    pub write_deadline: Duration,
    pub auth_timeout: Duration,
    pub lame_duck_duration: Duration,
    pub lame_duck_grace_period: Duration,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The token of `authorization { token }` / `--auth`.
    pub authorization: Option<String>,
    pub users: Vec<User>,
    pub nkeys: Vec<NkeyUser>,
    pub no_auth_user: Option<String>,
    pub debug: bool,
    pub trace: bool,
    pub trace_verbose: bool,
    pub trace_headers: bool,
    pub logtime: bool,
    pub logtime_utc: bool,
    pub log_file: Option<PathBuf>,
    pub log_size_limit: i64,
    /// `logfile_max_num`: how many rotated log files to keep (0 keeps all).
    pub log_max_num: i64,
    /// 0 means unlimited.
    pub max_traced_msg_len: i32,
    pub syslog: bool,
    pub remote_syslog: Option<String>,
    pub pid_file: Option<PathBuf>,
    pub ports_file_dir: Option<PathBuf>,
    /// Empty until [`Options::finalize`], which defaults it to `host`.
    pub http_host: String,
    /// 0 is off, -1 a random port.
    pub http_port: i32,
    pub https_port: i32,
    pub http_base_path: String,
    pub max_closed_clients: i32,
    pub no_header_support: bool,
    pub jetstream: bool,
    pub store_dir: Option<PathBuf>,
    /// -1 means "decide from the machine".
    pub jetstream_max_memory: i64,
    pub jetstream_max_store: i64,
    pub jetstream_domain: Option<String>,
    /// Natrium defaults to [`SyncPolicy::Always`]; an explicit `sync_interval` overrides it.
    pub sync_interval: SyncPolicy,
    /// nats-server's inverse `NoJetStreamStrict`; true unless `strict: false`.
    pub jetstream_strict: bool,
    /// 0 means the server's built-in default.
    pub jetstream_max_buffered_msgs: i64,
    pub jetstream_max_buffered_size: i64,
    /// Lower-cased and trimmed, as nats-server stores it.
    pub jetstream_unique_tag: Option<String>,
    /// `jetstream { limits { max_request_batch } }`; 0 means unlimited.
    pub jetstream_request_batch_max: i32,
    /// `server_tags`, lower-cased, trimmed and de-duplicated as nats-server does.
    pub tags: Vec<String>,
    pub connect_error_reports: i32,
    pub reconnect_error_reports: i32,
    pub disable_sublist_cache: bool,
    pub system_account: Option<String>,
    pub no_system_account: bool,
    /// The `accounts` block; users bound to an account carry its name.
    pub accounts: Vec<AccountConfig>,
    /// Top-level `mappings`: subject mappings of the global account.
    pub mappings: Vec<Mapping>,
    /// Operator JWTs (`operator`), read from files when given as paths.
    pub operators: Vec<String>,
    /// `trusted_keys`: operator public keys trusted without an operator JWT.
    pub trusted_keys: Vec<String>,
    pub resolver: Option<ResolverConfig>,
    /// `resolver_preload`: account public key and JWT, in file order.
    pub resolver_preload: Vec<(String, String)>,
    /// The client listener's `tls` block (or `--tls*` flags); `None` is plain TCP.
    pub tls: Option<TlsOptions>,
    /// `allow_non_tls`: with `tls`, clients may also connect without TLS.
    pub allow_non_tls: bool,
    /// The `websocket` listener; `None` (or port 0) is off.
    pub websocket: Option<WebsocketOptions>,
    /// The `leafnodes` listener; `None` (or port 0) is off. Leafnodes that connect are
    /// refused (the protocol is not implemented yet).
    pub leafnodes: Option<LeafnodeOptions>,
    /// Blocks and keys that nats-server accepts and Natrium recognises but does not implement
    /// yet (cluster, gateway, leafnodes, websocket, mqtt, tls, mappings, operator, resolver, ...),
    /// each with its position (line 0 for command-line flags). The server refuses to start
    /// with a clear error when this is non-empty (never silently ignores config).
    pub unsupported: Vec<(String, Pos)>,
    /// Warnings from the configuration file. nats-server prints them and starts anyway, but
    /// `-t` fails on them.
    pub config_warnings: Vec<Diagnostic>,
}

impl Default for Options {
    /// nats-server's defaults with Natrium's durability default (`SyncPolicy::Always`).
    fn default() -> Self {
        let mut o = Options::unset();
        o.finalize();
        o
    }
}

impl Options {
    /// The state before the file and the flags are applied: zero values meaning "default",
    /// plus the defaults nats-server's flag definitions establish (`logtime`).
    pub(crate) fn unset() -> Options {
        Options {
            config_file: None,
            server_name: None,
            host: String::new(),
            port: 0,
            client_advertise: None,
            no_advertise: false,
            max_connections: 0,
            max_subscriptions: 0,
            max_control_line: 0,
            max_payload: 0,
            max_pending: 0,
            ping_interval: Duration::ZERO,
            ping_max: 0,
            write_deadline: Duration::ZERO,
            auth_timeout: Duration::ZERO,
            lame_duck_duration: Duration::ZERO,
            lame_duck_grace_period: Duration::ZERO,
            username: None,
            password: None,
            authorization: None,
            users: Vec::new(),
            nkeys: Vec::new(),
            no_auth_user: None,
            debug: false,
            trace: false,
            trace_verbose: false,
            trace_headers: false,
            logtime: true,
            logtime_utc: false,
            log_file: None,
            log_size_limit: 0,
            log_max_num: 0,
            max_traced_msg_len: 0,
            syslog: false,
            remote_syslog: None,
            pid_file: None,
            ports_file_dir: None,
            http_host: String::new(),
            http_port: 0,
            https_port: 0,
            http_base_path: String::new(),
            max_closed_clients: 0,
            no_header_support: false,
            jetstream: false,
            store_dir: None,
            jetstream_max_memory: -1,
            jetstream_max_store: -1,
            jetstream_domain: None,
            sync_interval: SyncPolicy::Always,
            jetstream_strict: true,
            jetstream_max_buffered_msgs: 0,
            jetstream_max_buffered_size: 0,
            jetstream_unique_tag: None,
            jetstream_request_batch_max: 0,
            tags: Vec::new(),
            connect_error_reports: 0,
            reconnect_error_reports: 0,
            disable_sublist_cache: false,
            system_account: None,
            no_system_account: false,
            accounts: Vec::new(),
            mappings: Vec::new(),
            operators: Vec::new(),
            trusted_keys: Vec::new(),
            resolver: None,
            resolver_preload: Vec::new(),
            tls: None,
            allow_non_tls: false,
            websocket: None,
            leafnodes: None,
            unsupported: Vec::new(),
            config_warnings: Vec::new(),
        }
    }

    /// Replaces "use the default" zero values with nats-server's defaults
    /// (its `setBaselineOptions`). Idempotent.
    pub fn finalize(&mut self) {
        fn or<T: PartialEq + Copy>(v: &mut T, zero: T, default: T) {
            if *v == zero {
                *v = default;
            }
        }
        if self.host.is_empty() {
            self.host = DEFAULT_HOST.to_string();
        }
        if self.http_host.is_empty() {
            self.http_host = self.host.clone();
        }
        or(&mut self.port, 0, DEFAULT_PORT);
        or(&mut self.max_connections, 0, DEFAULT_MAX_CONNECTIONS);
        or(
            &mut self.ping_interval,
            Duration::ZERO,
            DEFAULT_PING_INTERVAL,
        );
        or(&mut self.ping_max, 0, DEFAULT_PING_MAX);
        // With TLS, nats-server gives the client the handshake's time plus one second.
        let auth_default = match &self.tls {
            Some(t) => t.handshake_timeout() + Duration::from_secs(1),
            None => DEFAULT_AUTH_TIMEOUT,
        };
        or(&mut self.auth_timeout, Duration::ZERO, auth_default);
        or(
            &mut self.max_control_line,
            0,
            DEFAULT_MAX_CONTROL_LINE_BYTES,
        );
        or(&mut self.max_payload, 0, DEFAULT_MAX_PAYLOAD_BYTES);
        or(&mut self.max_pending, 0, DEFAULT_MAX_PENDING_BYTES);
        or(
            &mut self.write_deadline,
            Duration::ZERO,
            DEFAULT_WRITE_DEADLINE,
        );
        or(&mut self.max_closed_clients, 0, DEFAULT_MAX_CLOSED_CLIENTS);
        or(
            &mut self.lame_duck_duration,
            Duration::ZERO,
            DEFAULT_LAME_DUCK_DURATION,
        );
        or(
            &mut self.lame_duck_grace_period,
            Duration::ZERO,
            DEFAULT_LAME_DUCK_GRACE_PERIOD,
        );
        or(
            &mut self.connect_error_reports,
            0,
            DEFAULT_CONNECT_ERROR_REPORTS,
        );
        or(
            &mut self.reconnect_error_reports,
            0,
            DEFAULT_RECONNECT_ERROR_REPORTS,
        );
    }

    /// Loads a configuration file (conf dialect or JSON) over the defaults.
    pub fn from_file(path: &Path) -> Result<Options, ConfigError> {
        let mut o = Options::unset();
        o.load_file(path)?;
        o.finalize();
        Ok(o)
    }

    /// Builds options from configuration text (includes resolve against the working directory).
    pub fn from_conf_str(text: &str) -> Result<Options, ConfigError> {
        let root = conf::parse_str(text)?;
        Options::from_value(&root)
    }

    /// Builds options from an already parsed configuration tree.
    pub fn from_value(root: &Spanned) -> Result<Options, ConfigError> {
        let mut o = Options::unset();
        o.apply_value(root, "")?;
        o.finalize();
        Ok(o)
    }

    /// Parses `path` and applies it over `self` (no defaults filled in). Warnings land in
    /// [`Options::config_warnings`]; any error fails the whole load.
    pub(crate) fn load_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        self.config_file = Some(path.to_path_buf());
        let root = conf::parse_file(path)?;
        self.apply_value(&root, &path.to_string_lossy())
    }

    fn apply_value(&mut self, root: &Spanned, file_name: &str) -> Result<(), ConfigError> {
        let mut loader = convert::Loader::default();
        match &root.value {
            crate::conf::Value::Map(entries) => {
                if entries.is_empty() {
                    loader.warnings.push(Diagnostic {
                        pos: None,
                        message: format!("{file_name}: config has no values or is empty"),
                    });
                }
                for (key, value) in entries {
                    top::apply_entry(self, &mut loader, key, value);
                }
            }
            _ => loader.error(&root.pos, "configuration must be a map"),
        }
        self.unsupported.append(&mut loader.unsupported);
        if !loader.errors.is_empty() {
            return Err(ConfigError::Invalid {
                errors: loader.errors,
                warnings: loader.warnings,
            });
        }
        self.config_warnings.extend(loader.warnings);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
