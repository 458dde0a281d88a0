//! Process-level behaviour: the command line, startup banner, pid and ports files, signals,
//! `--signal` to a running server, and shutdown.
//!
//! The log lines written here are the ones tools wait for (`Listening for client
//! connections on H:P`, `Server is ready`) and must keep nats-server's wording.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use natrium_config::{parse_args, Command, Options};
use tokio::signal::unix::{signal, SignalKind};

use crate::log::{self, LogConfig};
use crate::server::Server;
use crate::server_info::{NATRIUM_VERSION, NATS_VERSION};
use crate::{error, fatal, info, listen, warn};

const USAGE: &str = include_str!("usage.txt");
/// `--help_tls`: the TLS settings natrium-server understands.
const TLS_USAGE: &str = "TLS for client connections

    --tls                 Enable TLS (needs --tlscert and --tlskey)
    --tlscert <file>      Server certificate chain (PEM)
    --tlskey <file>       Private key of the server certificate (PEM)
    --tlscacert <file>    CA certificates client certificates are verified against (PEM)
    --tlsverify           Enable TLS and require a verified client certificate

In a configuration file: tls { cert_file, key_file, ca_file, verify, verify_and_map,
timeout, handshake_first, min_version, cipher_suites, curve_preferences, pinned_certs },
and allow_non_tls at the top level. The flags replace the file's certificate settings.";

/// The command line the server started with, re-parsed on reload so flags keep
/// overriding the file.
static ARGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
static ARGV0: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Runs the command line; returns the process exit code.
pub fn main(args: Vec<String>) -> ExitCode {
    if let Some(a) = std::env::args().next() {
        let _ = ARGV0.set(a);
    }
    let _ = ARGS.set(args.clone());
    let cmd = match parse_args(args) {
        Ok(c) => c,
        Err(e) if e.is_usage_error() => {
            // nats-server prints the flag error, then the usage on stdout, and exits 0.
            eprintln!("{e}");
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{}: {e}", program_name());
            return ExitCode::from(1);
        }
    };
    match cmd {
        Command::Version => {
            println!("natrium-server: v{NATS_VERSION} (natrium {NATRIUM_VERSION})");
            ExitCode::SUCCESS
        }
        Command::Help => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::HelpTls => {
            println!("{TLS_USAGE}");
            ExitCode::SUCCESS
        }
        Command::Signal { signal, pid } => match send_signal(&signal, pid.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: {e}", program_name());
                ExitCode::from(1)
            }
        },
        Command::CheckConfig(opts) => match validate(&opts)
            .and_then(|()| crate::operator::expand(&mut opts.as_ref().clone()).map(|_| ()))
        {
            Ok(()) => {
                let file = opts
                    .config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                // nats-server's digest of the parsed file (the file parsed a moment ago).
                let digest = opts
                    .config_file
                    .as_deref()
                    .and_then(|p| natrium_config::conf::parse_file(p).ok())
                    .map(|root| natrium_config::conf::config_digest(&root));
                match digest {
                    Some(d) => eprintln!(
                        "{}: configuration file {file} is valid ({d})",
                        program_name()
                    ),
                    None => eprintln!("{}: configuration file {file} is valid", program_name()),
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", program_name());
                ExitCode::from(1)
            }
        },
        Command::Run(opts) => run(*opts),
    }
}

/// The name error messages start with: the executable's file name, so a natrium-server
/// installed as `nats-server` answers exactly as nats-server does.
fn program_name() -> String {
    ARGV0
        .get()
        .and_then(|a| {
            Path::new(a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "natrium-server".into())
}

/// Rejects options this server recognises but cannot honour yet, and inconsistent limits.
pub fn validate(opts: &Options) -> Result<(), String> {
    if let Some((key, pos)) = opts.unsupported.first() {
        return Err(format!(
            "{pos}: \"{key}\" is not supported by natrium-server yet (see README, \"Not yet supported\")"
        ));
    }
    if opts.http_port != 0 && opts.https_port != 0 {
        return Err(format!(
            "can't specify both HTTP ({}) and HTTPs ({}) ports",
            opts.http_port, opts.https_port
        ));
    }
    if opts.https_port != 0 && opts.tls.is_none() {
        return Err("TLS cert and key required for HTTPS".into());
    }
    if let Some(t) = &opts.tls {
        // Everything rustls checks beyond the file reads the config loader already did.
        crate::tls::server_config(t)?;
    }
    natrium_config::options::validate_websocket(opts)?;
    if let Some(t) = opts.websocket.as_ref().and_then(|w| w.tls.as_ref()) {
        if t.map || !t.pinned_certs.is_empty() || t.handshake_first {
            return Err(
                "websocket.tls: verify_and_map, pinned_certs and handshake_first are \
                        not supported by natrium-server yet"
                    .into(),
            );
        }
        crate::tls::server_config(t)?;
    }
    if opts.syslog || opts.remote_syslog.is_some() {
        return Err("syslog logging is not supported by natrium-server yet; use -l FILE".into());
    }
    if opts.max_payload as i64 > opts.max_pending {
        return Err(format!(
            "max_payload ({}) cannot be higher than max_pending ({})",
            opts.max_payload, opts.max_pending
        ));
    }
    Ok(())
}

fn log_config(opts: &Options) -> LogConfig {
    LogConfig {
        debug: opts.debug,
        trace: opts.trace || opts.trace_verbose,
        logtime: opts.logtime,
        logtime_utc: opts.logtime_utc,
        file: opts.log_file.clone(),
        size_limit: opts.log_size_limit.max(0) as u64,
    }
}

fn run(mut opts: Options) -> ExitCode {
    for w in &opts.config_warnings {
        eprintln!("{w}");
    }
    if let Err(e) = validate(&opts) {
        eprintln!("{}: {e}", program_name());
        return ExitCode::from(1);
    }
    let operator = match crate::operator::expand(&mut opts) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{}: {e}", program_name());
            return ExitCode::from(1);
        }
    };
    if let Err(e) = log::configure(&log_config(&opts)) {
        eprintln!("{}: can not open log file: {e}", program_name());
        return ExitCode::from(1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}: can not start runtime: {e}", program_name());
            return ExitCode::from(1);
        }
    };
    runtime.block_on(serve(opts, operator))
}

async fn serve(opts: Options, operator: Option<Arc<crate::operator::OperatorMode>>) -> ExitCode {
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}: can not install signal handlers: {e}", program_name());
            return ExitCode::from(1);
        }
    };
    let server = match Server::with_tls(opts.clone(), operator) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}: {e}", program_name());
            return ExitCode::from(1);
        }
    };
    info!("Starting nats-server (natrium-server {NATRIUM_VERSION})");
    info!("  Version:  {NATS_VERSION}");
    info!("  Git:      [not set]");
    info!("  Name:     {}", server.name);
    info!("  ID:       {}", server.id);
    let plain = std::iter::once(opts.password.as_deref())
        .chain(opts.users.iter().map(|u| u.password.as_deref()))
        .any(has_plain_password);
    if plain {
        warn!("Plaintext passwords detected, use nkeys or bcrypt");
    }
    if let Some(path) = &opts.config_file {
        info!("Using configuration file: {}", path.display());
    }
    if let Some(mode) = &server.operator {
        crate::operator::log_startup(mode);
    }
    if let Err(e) = crate::monitor::start(&server).await {
        let port = opts.http_port.max(0);
        fatal!(
            "Can't start monitoring: can't listen to the monitor port: listen tcp {}:{port}: {}",
            listen::url_host(&opts.http_host),
            bind_error_text(&e)
        );
        return ExitCode::from(1);
    }
    let listener = match server.bind().await {
        Ok(l) => l,
        Err(e) => {
            let port = if opts.port < 0 { 0 } else { opts.port };
            fatal!(
                "Error listening on port: {}:{}, \"listen tcp {}:{}: {}\"",
                listen::url_host(&opts.host),
                port,
                listen::url_host(&opts.host),
                port,
                bind_error_text(&e)
            );
            return ExitCode::from(1);
        }
    };
    if opts.jetstream {
        match crate::jetstream::start(&server, &opts) {
            Ok(()) => {}
            Err(e) => {
                fatal!("Can't start JetStream: {e}");
                return ExitCode::from(1);
            }
        }
    }
    if let Err(e) = crate::sysacc::start(&server) {
        fatal!("Can't start the system account's services: {e}");
        return ExitCode::from(1);
    }
    let addr = server.client_addr().expect("bound above");
    info!(
        "Listening for client connections on {}:{}",
        listen::url_host(&opts.host),
        addr.port()
    );
    if let Some(tls) = server.tls() {
        let first_only =
            tls.options.handshake_first && tls.options.handshake_first_fallback.is_none();
        if tls.required || first_only {
            info!("TLS required for client connections");
        } else {
            info!("TLS available for client connections");
        }
        if first_only {
            warn!("Clients that are not using \"TLS Handshake First\" option will fail to connect");
        }
    }
    if let Some(pid_file) = &opts.pid_file {
        if let Err(e) = std::fs::write(pid_file, std::process::id().to_string()) {
            fatal!("Could not write pidfile: {e}");
            return ExitCode::from(1);
        }
    }
    let ws_accept = match start_websocket(&server, &opts) {
        Ok(a) => a,
        Err(e) => {
            fatal!("Unable to listen for websocket connections: {e}");
            return ExitCode::from(1);
        }
    };
    let leaf_accept = match start_leafnodes(&server, &opts) {
        Ok(a) => a,
        Err(e) => {
            fatal!("Unable to listen for leafnode connections: {e}");
            return ExitCode::from(1);
        }
    };
    let ports_file = match &opts.ports_file_dir {
        Some(dir) => match server.write_ports_file(dir) {
            Ok(p) => Some(p),
            Err(e) => {
                fatal!("Could not write ports file: {e}");
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    let accept = tokio::spawn(server.clone().accept_loop(listener));
    info!("Server is ready");
    handle_signals(&server, signals).await;
    info!("Initiating Shutdown...");
    if server.jetstream_enabled.get().is_some() {
        info!("Initiating JetStream Shutdown...");
        for acc in server.accounts() {
            if let Some(js) = acc.jetstream.get() {
                js.shutdown();
            }
        }
        info!("JetStream Shutdown");
    }
    server.shutdown();
    accept.abort();
    for a in [ws_accept, leaf_accept].into_iter().flatten() {
        a.abort();
    }
    wait_for_clients(&server).await;
    if let Some(p) = ports_file {
        let _ = std::fs::remove_file(p);
    }
    info!("Server Exiting..");
    ExitCode::SUCCESS
}

/// Binds the websocket listener when one is configured and starts accepting on it.
fn start_websocket(
    server: &Arc<Server>,
    opts: &Options,
) -> Result<Option<tokio::task::JoinHandle<()>>, String> {
    let Some(w) = opts.websocket.as_ref().filter(|w| w.port != 0) else {
        return Ok(None);
    };
    let ws = Arc::new(crate::ws::WsListener::new(w)?);
    let (listener, host, addr) = bind_extra(&w.host, w.port)?;
    let _ = server.ws_addr.set(addr);
    let bound = addr.port();
    let scheme = if ws.tls.is_some() { "wss" } else { "ws" };
    info!("Listening for websocket clients on {scheme}://{host}:{bound}");
    if ws.tls.is_none() {
        warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
    }
    Ok(Some(tokio::spawn(crate::ws::accept_loop(
        server.clone(),
        listener,
        ws,
    ))))
}

/// Binds a listener other than the client one (websocket, leafnode) on `host` (empty: all
/// interfaces) and `port` (-1: a random one): the listener, the host and the bound address.
fn bind_extra(
    host: &str,
    port: i32,
) -> Result<(tokio::net::TcpListener, String, std::net::SocketAddr), String> {
    let host = if host.is_empty() {
        natrium_config::options::DEFAULT_HOST
    } else {
        host
    };
    let port = u16::try_from(port).unwrap_or(0);
    let listener = listen::bind(host, port).map_err(|e| {
        format!(
            "listen tcp {}:{port}: {}",
            listen::url_host(host),
            bind_error_text(&e)
        )
    })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    Ok((listener, host.to_string(), addr))
}

/// Binds the leafnode listener when one is configured. Leafnodes are not supported yet:
/// each one that connects is told so and closed (see `leafnode.rs`).
fn start_leafnodes(
    server: &Arc<Server>,
    opts: &Options,
) -> Result<Option<tokio::task::JoinHandle<()>>, String> {
    let Some(l) = opts.leafnodes.as_ref().filter(|l| l.port != 0) else {
        return Ok(None);
    };
    let (listener, host, addr) = bind_extra(&l.host, l.port)?;
    let _ = server.leaf_addr.set(addr);
    info!(
        "Listening for leafnode connections on {}:{}",
        listen::url_host(&host),
        addr.port()
    );
    warn!("Leafnode connections are not supported by natrium-server yet: each one is refused with an error");
    Ok(Some(tokio::spawn(crate::leafnode::refuse_loop(
        server.clone(),
        listener,
    ))))
}

fn has_plain_password(p: Option<&str>) -> bool {
    p.is_some_and(|p| !p.starts_with("$2"))
}

/// Go's wording for the common bind errors, which tools match on.
fn bind_error_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => "bind: address already in use".into(),
        std::io::ErrorKind::AddrNotAvailable => "bind: cannot assign requested address".into(),
        std::io::ErrorKind::PermissionDenied => "bind: permission denied".into(),
        _ => e.to_string(),
    }
}

/// Gives connection writers a moment to flush their last bytes.
async fn wait_for_clients(server: &Arc<Server>) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    while server.num_clients() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Waits for a stop signal (or the end of lame-duck mode), handling the others meanwhile.
/// The signals the server handles, installed before it announces it is ready so a signal
/// sent right after `Server is ready` is never met by the default action.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
        })
    }
}

async fn handle_signals(server: &Arc<Server>, signals: Signals) {
    let Signals {
        mut int,
        mut term,
        mut hup,
        mut usr1,
        mut usr2,
    } = signals;
    let mut shutdown = server.shutdown_signal();
    loop {
        tokio::select! {
            _ = int.recv() => { info!("Trapped \"interrupt\" signal"); return; }
            _ = term.recv() => { info!("Trapped \"terminated\" signal"); return; }
            _ = hup.recv() => {
                info!("Trapped \"hangup\" signal");
                reload(server);
            }
            _ = usr1.recv() => {
                info!("Trapped \"user defined signal 1\" signal");
                if server.options().log_file.is_some() {
                    match log::reopen() {
                        Ok(()) => info!("File log re-opened"),
                        Err(e) => error!("File log re-open failed: {e}"),
                    }
                } else {
                    info!("File log re-open ignored, not a file logger");
                }
            }
            _ = usr2.recv() => {
                info!("Trapped \"user defined signal 2\" signal");
                tokio::spawn(server.clone().enter_lame_duck());
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Re-reads the config file (SIGHUP) and applies it.
pub fn reload(server: &Arc<Server>) {
    let current = server.options();
    let Some(path) = current.config_file.clone() else {
        error!("Failed to reload server configuration: can only reload config when a file is provided using -c or --config");
        return;
    };
    let new_opts = match reload_options(&path) {
        Ok(o) => o,
        Err(e) => {
            error!("Failed to reload server configuration: {e}");
            return;
        }
    };
    if let Err(e) = log::configure(&log_config(&new_opts)) {
        error!("Failed to reload server configuration: {e}");
        return;
    }
    if let Err(e) = server.reload(new_opts) {
        error!("Failed to reload server configuration: {e}");
    }
}

/// The options a reload produces: the file re-read, with the command-line flags that were
/// given at start still taking precedence (as nats-server does).
fn reload_options(path: &Path) -> Result<Options, String> {
    let args = ARGS.get().cloned().unwrap_or_default();
    let fresh = match parse_args(args).map_err(|e| e.to_string())? {
        Command::Run(o) => *o,
        _ => return Err(format!("can not reload {}", path.display())),
    };
    validate(&fresh)?;
    let mut fresh = fresh;
    crate::operator::expand(&mut fresh)?;
    Ok(fresh)
}

/// `--signal CMD[=PID|=PIDFILE]`: sends a signal to a running server.
fn send_signal(command: &str, target: Option<&str>) -> Result<(), String> {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let sig = match command {
        // As nats-server: `stop` kills, `term` terminates gracefully, `quit` interrupts.
        "stop" => Signal::SIGKILL,
        "term" => Signal::SIGTERM,
        "quit" => Signal::SIGINT,
        "reopen" => Signal::SIGUSR1,
        "reload" => Signal::SIGHUP,
        "ldm" => Signal::SIGUSR2,
        other => return Err(format!("unknown signal \"{other}\"")),
    };
    let pid = match target {
        Some(t) => resolve_pid(t)?,
        None => find_running_server()?,
    };
    kill(Pid::from_raw(pid), sig).map_err(|e| format!("failed to signal process {pid}: {e}"))
}

/// `--signal CMD` without a pid: the one other running process with this executable's
/// name (nats-server does the same with pgrep).
fn find_running_server() -> Result<i32, String> {
    let name = program_name();
    let me = std::process::id() as i32;
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .map_err(|e| format!("can not list processes: {e}"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|comm| name.starts_with(comm.trim()) && !comm.trim().is_empty())
                .unwrap_or(false)
        })
        .collect();
    pids.sort_unstable();
    match pids.as_slice() {
        [] => Err(format!("no {name} processes running")),
        [pid] => Ok(*pid),
        many => {
            let list: Vec<String> = many.iter().map(|p| p.to_string()).collect();
            Err(format!(
                "multiple {name} processes running:\n{}",
                list.join("\n")
            ))
        }
    }
}

fn resolve_pid(target: &str) -> Result<i32, String> {
    if let Ok(pid) = target.trim().parse::<i32>() {
        return Ok(pid);
    }
    let path = PathBuf::from(target);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("could not read pid file {}: {e}", path.display()))?;
    text.trim()
        .parse::<i32>()
        .map_err(|_| format!("could not parse pid file {}", path.display()))
}
