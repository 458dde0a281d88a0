//! The top-level keys of a configuration file, one match arm per nats-server key and alias.
//! Blocks with their own grammar live in `auth.rs` and `jetstream.rs`.

use std::path::PathBuf;

use super::convert::{go_duration_string, parse_go_duration, parse_listen, Loader};
use super::{accounts, auth, jetstream, leafnode, operator, tls, websocket, Options};
use crate::conf::Spanned;

/// Top-level keys nats-server accepts that Natrium does not implement yet.
const UNSUPPORTED: &[&str] = &[
    "default_sentinel",
    "cluster",
    "gateway",
    "prof_port",
    "prof_block_rate",
    "proxy_protocol",
    "max_sub_tokens",
    "max_subscription_tokens",
    "ocsp",
    "write_timeout",
    "roots",
    "root",
    "root_operators",
    "root_operator",
    "resolver_tls",
    "resolver_pinned_accounts",
    "mqtt",
    "server_metadata",
    "feature_flags",
    "default_js_domain",
    "ocsp_cache",
    "no_fast_producer_stall",
    "proxies",
];

/// Applies one top-level `key: value`.
pub(super) fn apply_entry(o: &mut Options, ld: &mut Loader, key: &str, v: &Spanned) {
    let lower = key.to_lowercase();
    if UNSUPPORTED.contains(&lower.as_str()) {
        ld.unsupported(key, &v.pos);
        return;
    }
    if apply_network(o, ld, key, &lower, v)
        || apply_logging(o, ld, &lower, v)
        || apply_limits(o, ld, key, &lower, v)
    {
        return;
    }
    match lower.as_str() {
        "authorization" => auth::apply_authorization(o, ld, v),
        "accounts" => accounts::apply_accounts(o, ld, v),
        "mappings" | "maps" => o.mappings = super::mappings::parse_mappings(ld, v),
        "operator" | "operators" | "root" | "roots" | "root_operator" | "root_operators" => {
            operator::apply_operator(o, ld, v)
        }
        "trusted" | "trusted_keys" => operator::apply_trusted(o, ld, v),
        "resolver" | "account_resolver" | "accounts_resolver" => {
            operator::apply_resolver(o, ld, key, v)
        }
        "resolver_preload" => operator::apply_preload(o, ld, v),
        "no_auth_user" => o.no_auth_user = ld.string(v),
        "system_account" | "system" => match &v.value {
            crate::conf::Value::String(s) => o.system_account = Some(s.clone()),
            _ => ld.error(&v.pos, "system account name must be a string"),
        },
        "no_system_account" | "no_system" | "no_sys_acc" => {
            set(&mut o.no_system_account, ld.bool(v))
        }
        "store_dir" | "storedir" => {
            if o.store_dir.is_some() {
                ld.error(&v.pos, "Duplicate 'store_dir' configuration");
            } else {
                o.store_dir = ld.string(v).map(PathBuf::from);
            }
        }
        "jetstream" => jetstream::apply_jetstream(o, ld, v),
        "tls" => tls::apply_tls(o, ld, key, v),
        "allow_non_tls" => tls::apply_allow_non_tls(o, ld, v),
        "websocket" | "ws" => websocket::apply_websocket(o, ld, v),
        "leafnodes" | "leaf" => leafnode::apply_leafnodes(o, ld, v),
        "server_tags" => apply_tags(o, ld, v),
        "disable_sublist_cache" | "no_sublist_cache" => {
            set(&mut o.disable_sublist_cache, ld.bool(v))
        }
        "no_header_support" => set(&mut o.no_header_support, ld.bool(v)),
        "connect_error_reports" => set(&mut o.connect_error_reports, ld.int32(key, v)),
        "reconnect_error_reports" => set(&mut o.reconnect_error_reports, ld.int32(key, v)),
        _ => ld.unknown_field(key, v),
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// Listeners, names and the monitoring endpoint. Returns false if `lower` is not one of them.
fn apply_network(o: &mut Options, ld: &mut Loader, key: &str, lower: &str, v: &Spanned) -> bool {
    match lower {
        "listen" => match parse_listen(&v.value) {
            Ok((host, port)) => {
                o.host = host;
                o.port = port;
            }
            Err(e) => ld.error(&v.pos, e),
        },
        "port" => set(&mut o.port, ld.int32(key, v)),
        "host" | "net" => set(&mut o.host, ld.string(v)),
        "client_advertise" => o.client_advertise = ld.string(v),
        "server_name" => {
            if let Some(name) = ld.string(v) {
                if name.contains(' ') {
                    ld.error(&v.pos, "server name cannot contain spaces");
                } else {
                    o.server_name = Some(name);
                }
            }
        }
        "http" | "https" => match parse_listen(&v.value) {
            Ok((host, port)) => {
                o.http_host = host;
                if lower == "http" {
                    o.http_port = port;
                } else {
                    o.https_port = port;
                }
            }
            Err(e) => ld.error(&v.pos, e),
        },
        "http_port" | "monitor_port" => set(&mut o.http_port, ld.int32(key, v)),
        "https_port" => set(&mut o.https_port, ld.int32(key, v)),
        "http_base_path" => set(&mut o.http_base_path, ld.string(v)),
        _ => return false,
    }
    true
}

/// Log destinations and verbosity. Returns false if `lower` is not one of them.
fn apply_logging(o: &mut Options, ld: &mut Loader, lower: &str, v: &Spanned) -> bool {
    match lower {
        "debug" => set(&mut o.debug, ld.bool(v)),
        "trace" => set(&mut o.trace, ld.bool(v)),
        "trace_verbose" | "trace_headers" => {
            if let Some(b) = ld.bool(v) {
                if lower == "trace_verbose" {
                    o.trace_verbose = b;
                } else {
                    o.trace_headers = b;
                }
                o.trace = b;
            }
        }
        "logtime" => set(&mut o.logtime, ld.bool(v)),
        "logtime_utc" => set(&mut o.logtime_utc, ld.bool(v)),
        "logfile" | "log_file" => o.log_file = ld.string(v).map(PathBuf::from),
        "logfile_size_limit" | "log_size_limit" => set(&mut o.log_size_limit, ld.int(v)),
        "logfile_max_num" | "log_max_num" => set(&mut o.log_max_num, ld.int(v)),
        "syslog" => set(&mut o.syslog, ld.bool(v)),
        "remote_syslog" => o.remote_syslog = ld.string(v),
        "pidfile" | "pid_file" => o.pid_file = ld.string(v).map(PathBuf::from),
        "ports_file_dir" => o.ports_file_dir = ld.string(v).map(PathBuf::from),
        "max_traced_msg_len" => set(&mut o.max_traced_msg_len, ld.int32("max_traced_msg_len", v)),
        _ => return false,
    }
    true
}

/// Connection limits and timers. Returns false if `lower` is not one of them.
fn apply_limits(o: &mut Options, ld: &mut Loader, key: &str, lower: &str, v: &Spanned) -> bool {
    match lower {
        "max_control_line" => set(&mut o.max_control_line, ld.int32(key, v)),
        "max_payload" => set(&mut o.max_payload, ld.int32(key, v)),
        "max_pending" => set(&mut o.max_pending, ld.int(v)),
        "max_connections" | "max_conn" => {
            if let Some(n) = ld.int32(key, v) {
                o.max_connections = if n == 0 { -1 } else { n };
            }
        }
        "max_subscriptions" | "max_subs" => set(&mut o.max_subscriptions, ld.int32(key, v)),
        "max_closed_clients" => set(&mut o.max_closed_clients, ld.int32(key, v)),
        "ping_interval" => set(&mut o.ping_interval, ld.duration("ping_interval", v)),
        "ping_max" => set(&mut o.ping_max, ld.int32(key, v)),
        "write_deadline" => set(&mut o.write_deadline, ld.duration("write_deadline", v)),
        "lame_duck_duration" => {
            let Some(nanos) = strict_duration(ld, "lame_duck_duration", v) else {
                return true;
            };
            if nanos < 30_000_000_000 {
                let shown = go_duration_string(nanos);
                let msg = format!("invalid lame_duck_duration of {shown}, minimum is 30 seconds");
                ld.error(&v.pos, msg);
            } else {
                set(&mut o.lame_duck_duration, ld.non_negative(lower, v, nanos));
            }
        }
        "lame_duck_grace_period" => {
            if let Some(nanos) = strict_duration(ld, "lame_duck_grace_period", v) {
                if nanos < 0 {
                    ld.error(
                        &v.pos,
                        "invalid lame_duck_grace_period, needs to be positive",
                    );
                } else {
                    set(
                        &mut o.lame_duck_grace_period,
                        ld.non_negative(lower, v, nanos),
                    );
                }
            }
        }
        _ => return false,
    }
    true
}

/// A duration that must be a string (nats-server does not accept seconds here).
fn strict_duration(ld: &mut Loader, field: &str, v: &Spanned) -> Option<i64> {
    let text = ld.string(v)?;
    match parse_go_duration(&text) {
        Ok(nanos) => Some(nanos),
        Err(e) => {
            ld.error(&v.pos, format!("error parsing {field}: {e}"));
            None
        }
    }
}

/// `server_tags`: a string or an array of strings; lower-cased, trimmed, de-duplicated.
fn apply_tags(o: &mut Options, ld: &mut Loader, v: &Spanned) {
    use crate::conf::Value;
    let mut add = |tag: &str| {
        let tag = tag.trim().to_lowercase();
        if !tag.is_empty() && !o.tags.contains(&tag) {
            o.tags.push(tag);
        }
    };
    match &v.value {
        Value::String(s) => add(s),
        Value::Array(items) => {
            for item in items {
                match &item.value {
                    Value::String(s) => add(s),
                    _ => {
                        // nats-server names the wrapper type of the array element here.
                        let msg = "error parsing tags: unsupported type *conf.token where string \
                                   is expected";
                        ld.error(&v.pos, msg);
                        return;
                    }
                }
            }
        }
        other => ld.error(
            &v.pos,
            format!("error parsing tags: unsupported type {}", other.go_type()),
        ),
    }
}
