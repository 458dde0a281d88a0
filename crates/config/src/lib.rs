//! nats-server compatible configuration for Natrium.
//!
//! Three layers, each usable alone: [`conf`] turns NATS conf-dialect text (or JSON) into a tree
//! of positioned values; [`options`] turns that tree into typed [`Options`] with nats-server's
//! key names, aliases, defaults and error texts; [`flags`] parses nats-server's command line
//! with Go `flag` package rules and merges it over the file the way nats-server does. This crate
//! reads files (the config and its includes) but owns no sockets, threads or global state, and
//! it never silently ignores configuration: what nats-server accepts but Natrium does not
//! implement is listed in [`Options::unsupported`] for the server to refuse.

pub mod conf;
pub mod flags;
pub mod options;

pub use conf::{parse_file, parse_str, ConfError, Pos, Spanned, Value};
pub use flags::{parse_args, Command, FlagError};

pub use options::{
    AccountConfig, AccountJetStream, Activation, ConfigError, Diagnostic, Export, ExportKind,
    Import, ImportKind, MapDestination, Mapping, NkeyUser, Options, Permissions, ResolverConfig,
    ResponsePermission, ResponseType, SubjectPermission, SyncPolicy, TlsOptions, TlsVersion, User,
    WebsocketOptions, DEFAULT_RESPONSE_THRESHOLD,
};
