//! nats-server's command line, parsed with Go `flag` package rules, and merged with the
//! configuration file the way nats-server merges them.
//!
//! Rules reproduced: `-x` and `--x` are the same; `-x=v`, `-x v`; boolean flags never take the
//! next argument (`-js`, `-DV`, `-T=false`); integers use Go's base-0 syntax and may be negative
//! (`-p -1`); `--` ends the flags; the first non-flag argument may be `version` or `help`.
//! Merge order is nats-server's: flags are applied, then the file, then the flags again, so an
//! explicit flag wins (`-p` overrides `port`/`listen`'s port but keeps the file's host) and a
//! flag's value is visible to the file's checks (`-sd` plus a `store_dir` in the file is a
//! duplicate there too). This module does not print, exit or signal: the binary does that from
//! the returned [`Command`] or [`FlagError`].

use crate::conf::Pos;
use crate::options::convert::go_quote;
use crate::options::{ConfigError, Options};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Start the server.
    Run(Box<Options>),
    /// `-t`: the configuration is valid; report it and exit 0.
    CheckConfig(Box<Options>),
    /// `-v`, `--version` or the `version` argument.
    Version,
    /// `-h`, `--help` or the `help` argument.
    Help,
    /// `--help_tls`.
    HelpTls,
    /// `--signal ldm=PID`: send `signal` to a running server.
    Signal {
        signal: String,
        /// A pid or a pid file's path, as given.
        pid: Option<String>,
    },
}

/// A command-line problem. `Display` is nats-server's (Go's) text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FlagError {
    #[error("flag provided but not defined: -{0}")]
    NotDefined(String),
    #[error("flag needs an argument: -{0}")]
    NeedsArgument(String),
    #[error("bad flag syntax: {0}")]
    BadSyntax(String),
    #[error("invalid boolean value {} for -{name}: parse error", go_quote(value))]
    InvalidBool { name: String, value: String },
    #[error("invalid value {} for flag -{name}: {reason}", go_quote(value))]
    InvalidValue {
        name: String,
        value: String,
        reason: &'static str,
    },
    #[error("unrecognized command: {}", go_quote(.0))]
    UnrecognizedCommand(String),
    #[error("must specify [-c, --config] option to check configuration file syntax")]
    CheckWithoutConfig,
    #[error("invalid signal parameters: [{}]", .0.join(" "))]
    SignalParameters(Vec<String>),
    #[error("solicited routes require cluster capabilities, e.g. --cluster")]
    RoutesWithoutCluster,
    /// A `--tls*` flag problem (missing certificate or key, unreadable file).
    #[error("{0}")]
    Tls(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl FlagError {
    /// True for errors after which nats-server prints the usage text (Go's flag errors).
    /// Note: nats-server then exits with status 0, because its usage function exits 0.
    pub fn is_usage_error(&self) -> bool {
        matches!(
            self,
            FlagError::NotDefined(_)
                | FlagError::NeedsArgument(_)
                | FlagError::BadSyntax(_)
                | FlagError::InvalidBool { .. }
                | FlagError::InvalidValue { .. }
        )
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Bool,
    Int,
    Str,
}

/// The option a flag sets; aliases share one target, as they share a variable in Go.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Target {
    Help,
    Port,
    Name,
    Host,
    ClientAdvertise,
    Debug,
    Trace,
    TraceVerbose,
    DebugTrace,
    DebugTraceVerbose,
    Logtime,
    LogtimeUtc,
    User,
    Pass,
    Auth,
    HttpPort,
    HttpsPort,
    Config,
    Check,
    Signal,
    Pid,
    PortsFileDir,
    Log,
    LogSizeLimit,
    Syslog,
    RemoteSyslog,
    Version,
    Profile,
    Routes,
    Cluster,
    ClusterAdvertise,
    NoAdvertise,
    ConnectRetries,
    ClusterName,
    HelpTls,
    Tls,
    TlsVerify,
    TlsCert,
    TlsKey,
    TlsCaCert,
    MaxTracedMsgLen,
    JetStream,
    StoreDir,
}

use Kind::{Bool, Int, Str};
use Target as T;

/// Every flag nats-server v2.15 defines.
const FLAGS: &[(&str, Kind, Target)] = &[
    ("h", Bool, T::Help),
    ("help", Bool, T::Help),
    ("port", Int, T::Port),
    ("p", Int, T::Port),
    ("n", Str, T::Name),
    ("name", Str, T::Name),
    ("server_name", Str, T::Name),
    ("addr", Str, T::Host),
    ("a", Str, T::Host),
    ("net", Str, T::Host),
    ("client_advertise", Str, T::ClientAdvertise),
    ("D", Bool, T::Debug),
    ("debug", Bool, T::Debug),
    ("V", Bool, T::Trace),
    ("VV", Bool, T::TraceVerbose),
    ("trace", Bool, T::Trace),
    ("DV", Bool, T::DebugTrace),
    ("DVV", Bool, T::DebugTraceVerbose),
    ("T", Bool, T::Logtime),
    ("logtime", Bool, T::Logtime),
    ("logtime_utc", Bool, T::LogtimeUtc),
    ("user", Str, T::User),
    ("pass", Str, T::Pass),
    ("auth", Str, T::Auth),
    ("m", Int, T::HttpPort),
    ("http_port", Int, T::HttpPort),
    ("ms", Int, T::HttpsPort),
    ("https_port", Int, T::HttpsPort),
    ("c", Str, T::Config),
    ("config", Str, T::Config),
    ("t", Bool, T::Check),
    ("sl", Str, T::Signal),
    ("signal", Str, T::Signal),
    ("P", Str, T::Pid),
    ("pid", Str, T::Pid),
    ("ports_file_dir", Str, T::PortsFileDir),
    ("l", Str, T::Log),
    ("log", Str, T::Log),
    ("log_size_limit", Int, T::LogSizeLimit),
    ("s", Bool, T::Syslog),
    ("syslog", Bool, T::Syslog),
    ("r", Str, T::RemoteSyslog),
    ("remote_syslog", Str, T::RemoteSyslog),
    ("version", Bool, T::Version),
    ("v", Bool, T::Version),
    ("profile", Int, T::Profile),
    ("routes", Str, T::Routes),
    ("cluster", Str, T::Cluster),
    ("cluster_listen", Str, T::Cluster),
    ("cluster_advertise", Str, T::ClusterAdvertise),
    ("no_advertise", Bool, T::NoAdvertise),
    ("connect_retries", Int, T::ConnectRetries),
    ("cluster_name", Str, T::ClusterName),
    ("help_tls", Bool, T::HelpTls),
    ("tls", Bool, T::Tls),
    ("tlsverify", Bool, T::TlsVerify),
    ("tlscert", Str, T::TlsCert),
    ("tlskey", Str, T::TlsKey),
    ("tlscacert", Str, T::TlsCaCert),
    ("max_traced_msg_len", Int, T::MaxTracedMsgLen),
    ("js", Bool, T::JetStream),
    ("jetstream", Bool, T::JetStream),
    ("sd", Str, T::StoreDir),
    ("store_dir", Str, T::StoreDir),
];

#[derive(Clone, Debug, PartialEq)]
enum FlagValue {
    Bool(bool),
    Int(i64),
    Str(String),
}

/// One flag as given: its name (without dashes), target and value.
struct Given {
    name: &'static str,
    target: Target,
    value: FlagValue,
}

/// Parses nats-server's arguments (without the program name) into a [`Command`], loading the
/// `-c` file when the command is to run or check the server.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Command, FlagError> {
    let args: Vec<String> = args.into_iter().collect();
    let (given, rest) = parse_flags(&args)?;
    let last = |t: Target| given.iter().rev().find(|g| g.target == t).map(|g| &g.value);
    let is_true = |t: Target| last(t) == Some(&FlagValue::Bool(true));
    let text = |t: Target| match last(t) {
        Some(FlagValue::Str(s)) => s.clone(),
        _ => String::new(),
    };

    if is_true(T::Version) {
        return Ok(Command::Version);
    }
    if is_true(T::Help) {
        return Ok(Command::Help);
    }
    if is_true(T::HelpTls) {
        return Ok(Command::HelpTls);
    }
    if let Some(first) = rest.first() {
        return match first.to_lowercase().as_str() {
            "version" => Ok(Command::Version),
            "help" => Ok(Command::Help),
            _ => Err(FlagError::UnrecognizedCommand(first.clone())),
        };
    }
    let signal = text(T::Signal);
    if !signal.is_empty() {
        let mut parts: Vec<String> = signal.split('=').map(str::to_string).collect();
        if parts.len() > 2 {
            return Err(FlagError::SignalParameters(parts.split_off(2)));
        }
        let pid = parts.get(1).cloned();
        return Ok(Command::Signal {
            signal: parts.swap_remove(0),
            pid,
        });
    }

    let mut opts = Options::unset();
    apply_all(&mut opts, &given);
    let config = text(T::Config);
    let check = is_true(T::Check);
    if !config.is_empty() {
        opts.load_file(std::path::Path::new(&config))?;
        if check {
            if !opts.config_warnings.is_empty() {
                return Err(FlagError::Config(ConfigError::Invalid {
                    errors: Vec::new(),
                    warnings: std::mem::take(&mut opts.config_warnings),
                }));
            }
            opts.finalize();
            return Ok(Command::CheckConfig(Box::new(opts)));
        }
        apply_all(&mut opts, &given);
    } else if check {
        return Err(FlagError::CheckWithoutConfig);
    }
    apply_combined_levels(&mut opts, &given);
    apply_tls_flags(&mut opts, &given)?;
    record_unsupported(&mut opts, &given);
    let cluster_in_file = opts
        .unsupported
        .iter()
        .any(|(k, p)| p.line > 0 && k == "cluster");
    if !text(T::Routes).is_empty() && text(T::Cluster).is_empty() && !cluster_in_file {
        return Err(FlagError::RoutesWithoutCluster);
    }
    opts.finalize();
    Ok(Command::Run(Box::new(opts)))
}

/// Go's `FlagSet.Parse`: the flags in order, and the arguments after the last flag.
fn parse_flags(args: &[String]) -> Result<(Vec<Given>, Vec<String>), FlagError> {
    let mut given = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        let body = match arg.strip_prefix("--") {
            Some("") => {
                i += 1;
                break;
            }
            Some(body) => body,
            None => &arg[1..],
        };
        if body.starts_with(['-', '=']) {
            return Err(FlagError::BadSyntax(arg.clone()));
        }
        let (name, inline) = match body.find('=') {
            Some(eq) => (&body[..eq], Some(&body[eq + 1..])),
            None => (body, None),
        };
        let Some(&(flag_name, kind, target)) = FLAGS.iter().find(|(n, _, _)| *n == name) else {
            return Err(FlagError::NotDefined(name.to_string()));
        };
        let value = match (kind, inline) {
            (Bool, None) => FlagValue::Bool(true),
            (Bool, Some(v)) => {
                FlagValue::Bool(parse_go_bool(v).ok_or_else(|| FlagError::InvalidBool {
                    name: name.to_string(),
                    value: v.to_string(),
                })?)
            }
            (_, _) => {
                let v = match inline {
                    Some(v) => v.to_string(),
                    None => {
                        i += 1;
                        args.get(i)
                            .cloned()
                            .ok_or_else(|| FlagError::NeedsArgument(name.to_string()))?
                    }
                };
                if kind == Str {
                    FlagValue::Str(v)
                } else {
                    let n = parse_go_int(&v).map_err(|reason| FlagError::InvalidValue {
                        name: name.to_string(),
                        value: v.clone(),
                        reason,
                    })?;
                    check_int_range(name, target, &v, n)?;
                    FlagValue::Int(n)
                }
            }
        };
        given.push(Given {
            name: flag_name,
            target,
            value,
        });
        i += 1;
    }
    Ok((given, args[i..].to_vec()))
}

/// Natrium keeps ports and a few limits as `i32`; Go's `int` is wider.
fn check_int_range(name: &str, target: Target, text: &str, n: i64) -> Result<(), FlagError> {
    if target == T::LogSizeLimit || i32::try_from(n).is_ok() {
        return Ok(());
    }
    Err(FlagError::InvalidValue {
        name: name.to_string(),
        value: text.to_string(),
        reason: "value out of range",
    })
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, with `flag`'s error wording.
fn parse_go_int(s: &str) -> Result<i64, &'static str> {
    const SYNTAX: &str = "parse error";
    const RANGE: &str = "value out of range";
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    if !underscores_ok(digits, prefixed) {
        return Err(SYNTAX);
    }
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    if digits.is_empty() {
        return Err(SYNTAX);
    }
    let mut magnitude: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix).ok_or(SYNTAX)?;
        magnitude = magnitude
            .checked_mul(u64::from(radix))
            .and_then(|m| m.checked_add(u64::from(d)))
            .ok_or(RANGE)?;
    }
    if negative {
        match magnitude {
            m if m <= i64::MAX as u64 => Ok(-(m as i64)),
            m if m == i64::MIN.unsigned_abs() => Ok(i64::MIN),
            _ => Err(RANGE),
        }
    } else {
        i64::try_from(magnitude).map_err(|_| RANGE)
    }
}

/// Go allows `_` only between digits, or right after a base prefix.
fn underscores_ok(digits: &str, prefixed: bool) -> bool {
    let mut prev_digit = prefixed;
    for c in digits.chars() {
        if c == '_' {
            if !prev_digit {
                return false;
            }
            prev_digit = false;
        } else {
            prev_digit = true;
        }
    }
    prev_digit || digits.is_empty()
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Sets the option each flag shares with its aliases, in command-line order (last one wins).
fn apply_all(o: &mut Options, given: &[Given]) {
    for g in given {
        match &g.value {
            FlagValue::Bool(b) => apply_bool(o, g.target, *b),
            FlagValue::Int(n) => apply_int(o, g.target, *n),
            FlagValue::Str(s) => apply_str(o, g.target, s),
        }
    }
}

fn apply_bool(o: &mut Options, target: Target, b: bool) {
    match target {
        T::Debug => o.debug = b,
        T::Trace => o.trace = b,
        T::Logtime => o.logtime = b,
        T::LogtimeUtc => o.logtime_utc = b,
        T::Syslog => o.syslog = b,
        T::NoAdvertise => o.no_advertise = b,
        T::JetStream => o.jetstream = b,
        _ => {}
    }
}

fn apply_int(o: &mut Options, target: Target, n: i64) {
    // Ranges were checked while parsing; the fallback is never used.
    let small = i32::try_from(n).unwrap_or_default();
    match target {
        T::Port => o.port = small,
        T::HttpPort => o.http_port = small,
        T::HttpsPort => o.https_port = small,
        T::LogSizeLimit => o.log_size_limit = n,
        T::MaxTracedMsgLen => o.max_traced_msg_len = small,
        _ => {}
    }
}

fn apply_str(o: &mut Options, target: Target, s: &str) {
    use std::path::PathBuf;
    match target {
        T::Name => o.server_name = non_empty(s),
        T::Host => o.host = s.to_string(),
        T::ClientAdvertise => o.client_advertise = non_empty(s),
        T::User => o.username = non_empty(s),
        T::Pass => o.password = non_empty(s),
        T::Auth => o.authorization = non_empty(s),
        T::Pid => o.pid_file = non_empty(s).map(PathBuf::from),
        T::PortsFileDir => o.ports_file_dir = non_empty(s).map(PathBuf::from),
        T::Log => o.log_file = non_empty(s).map(PathBuf::from),
        T::RemoteSyslog => o.remote_syslog = non_empty(s),
        T::StoreDir => o.store_dir = non_empty(s).map(PathBuf::from),
        _ => {}
    }
}

/// `-VV`, `-DV`, `-DVV` set several levels at once; like nats-server, they are applied after
/// the individual flags, in flag-name order (`DV` < `DVV` < `VV`).
fn apply_combined_levels(o: &mut Options, given: &[Given]) {
    let mut combos: Vec<(&str, bool)> = Vec::new();
    for g in given {
        if let (T::TraceVerbose | T::DebugTrace | T::DebugTraceVerbose, FlagValue::Bool(b)) =
            (g.target, &g.value)
        {
            combos.retain(|(n, _)| *n != g.name);
            combos.push((g.name, *b));
        }
    }
    combos.sort();
    for (name, b) in combos {
        match name {
            "DV" => (o.debug, o.trace) = (b, b),
            "DVV" => (o.debug, o.trace, o.trace_verbose) = (b, b, b),
            _ => (o.trace, o.trace_verbose) = (b, b),
        }
    }
}

/// The `--tls*` flags, merged as nats-server merges them: any of them (unless `--tls=false`,
/// which turns TLS off even when the file configures it) replaces the file's certificate,
/// key, CA, verification and cipher settings with the flags' values; the file's timeout,
/// mapping, pinning and handshake-first settings stay. `--tlsverify` implies TLS.
fn apply_tls_flags(o: &mut Options, given: &[Given]) -> Result<(), FlagError> {
    let last = |t: Target| given.iter().rev().find(|g| g.target == t).map(|g| &g.value);
    let text = |t: Target| match last(t) {
        Some(FlagValue::Str(s)) if !s.is_empty() => Some(std::path::PathBuf::from(s)),
        _ => None,
    };
    let flag_bool = |t: Target| matches!(last(t), Some(FlagValue::Bool(true)));
    let any_other = [T::TlsVerify, T::TlsCert, T::TlsKey, T::TlsCaCert]
        .iter()
        .any(|t| last(*t).is_some());
    match last(T::Tls) {
        // Go visits flags in name order: `tls` comes first and disables the rest.
        Some(FlagValue::Bool(false)) => {
            o.tls = None;
            return Ok(());
        }
        Some(_) => {}
        None if any_other => {}
        None => return Ok(()),
    }
    let cert = text(T::TlsCert)
        .ok_or_else(|| FlagError::Tls("TLS Server certificate must be present and valid".into()))?;
    let key = text(T::TlsKey)
        .ok_or_else(|| FlagError::Tls("TLS Server private key must be present and valid".into()))?;
    let mut t = o.tls.take().unwrap_or_default();
    t.cert_file = Some(cert);
    t.key_file = Some(key);
    t.ca_file = text(T::TlsCaCert);
    t.verify = flag_bool(T::TlsVerify);
    t.cipher_suites.clear();
    t.curve_preferences.clear();
    t.min_version = None;
    crate::options::check_tls_files(&t).map_err(FlagError::Tls)?;
    o.tls = Some(t);
    Ok(())
}

/// Cluster, route and profiling flags are recognised but not implemented yet.
fn record_unsupported(o: &mut Options, given: &[Given]) {
    let mut seen: Vec<Target> = Vec::new();
    for g in given.iter().rev() {
        let unsupported = matches!(
            g.target,
            T::Profile
                | T::Routes
                | T::Cluster
                | T::ClusterAdvertise
                | T::ConnectRetries
                | T::ClusterName
        );
        if !unsupported || seen.contains(&g.target) {
            continue;
        }
        seen.push(g.target);
        let active = match &g.value {
            FlagValue::Bool(b) => *b,
            FlagValue::Int(n) => *n != 0,
            FlagValue::Str(s) => !s.is_empty(),
        };
        if active {
            o.unsupported
                .push((format!("--{}", g.name), Pos::default()));
        }
    }
    o.unsupported.sort_by_key(|(_, p)| p.line == 0);
}

/// The usage text printed for `-h` and after a flag error; `program` replaces the name.
pub fn usage(program: &str) -> String {
    USAGE.replace("{program}", program)
}

const USAGE: &str = "
Usage: {program} [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -ms,--https_port <port>          Use port for https monitoring
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to {program} process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file
        --client_advertise <string>  Client URL to advertise to other servers
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports).

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -s, --syslog                     Log to syslog or windows event log
    -r, --remote_syslog <addr>       Syslog server addr (udp://localhost:514)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace (traces system account as well)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace (traces system account as well)
        --log_size_limit <limit>     Logfile size limit (default: auto)
        --max_traced_msg_len <len>   Maximum printable length for traced messages (default: unlimited)

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>        Do not advertise known cluster information to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   For implicit routes, number of connect retries
        --cluster_listen <url>       Cluster url from which members can solicit routes

Profiling Options:
        --profile <port>             Profiling HTTP port

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
        --help_tls                   TLS help
";

#[cfg(test)]
mod tests;
