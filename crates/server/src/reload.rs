//! What a config reload changes: the options nats-server reloads (logging, limits,
//! authorization) are reported one `Reloaded: ...` line each, and a change to an option it
//! cannot reload (listen address, server name, JetStream store) refuses the whole reload with
//! nats-server's wording, leaving the running configuration as it was.

use natrium_config::Options;

/// The changes from `old` to `new`, in nats-server's words, or why the reload is refused.
pub fn diff(old: &Options, new: &Options) -> Result<Vec<String>, String> {
    let fixed: [(&str, String, String); 5] = [
        ("Host", old.host.clone(), new.host.clone()),
        ("Port", old.port.to_string(), new.port.to_string()),
        (
            "ServerName",
            old.server_name.clone().unwrap_or_default(),
            new.server_name.clone().unwrap_or_default(),
        ),
        (
            "HTTPPort",
            old.http_port.to_string(),
            new.http_port.to_string(),
        ),
        (
            "JetStream",
            old.jetstream.to_string(),
            new.jetstream.to_string(),
        ),
    ];
    for (name, a, b) in fixed {
        if a != b {
            return Err(format!(
                "config reload not supported for {name}: old={a}, new={b}"
            ));
        }
    }
    // In operator mode the accounts come from the resolver (and change through it), so
    // the operators and the resolver are what must stay.
    let operator_mode = crate::operator::enabled(old);
    let accounts_changed = if operator_mode {
        old.operators != new.operators
            || old.trusted_keys != new.trusted_keys
            || old.resolver != new.resolver
    } else {
        old.accounts != new.accounts
    };
    if accounts_changed
        || crate::operator::enabled(new) != operator_mode
        || old.system_account != new.system_account
        || old.no_system_account != new.no_system_account
    {
        return Err(
            "config reload not supported for accounts: restart the server to change accounts"
                .into(),
        );
    }
    if old.websocket != new.websocket {
        return Err("config reload not supported for Websocket".into());
    }
    if old.leafnodes != new.leafnodes {
        return Err("config reload not supported for LeafNode".into());
    }
    let mut out = Vec::new();
    let mut value = |name: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{name} = {b}"));
        }
    };
    value("debug", old.debug.to_string(), new.debug.to_string());
    value("trace", old.trace.to_string(), new.trace.to_string());
    value("logtime", old.logtime.to_string(), new.logtime.to_string());
    value(
        "max_payload",
        old.max_payload.to_string(),
        new.max_payload.to_string(),
    );
    value(
        "max_connections",
        old.max_connections.to_string(),
        new.max_connections.to_string(),
    );
    value(
        "max_control_line",
        old.max_control_line.to_string(),
        new.max_control_line.to_string(),
    );
    value(
        "max_pending",
        old.max_pending.to_string(),
        new.max_pending.to_string(),
    );
    value(
        "ping_interval",
        format!("{:?}", old.ping_interval),
        format!("{:?}", new.ping_interval),
    );
    value(
        "ping_max",
        old.ping_max.to_string(),
        new.ping_max.to_string(),
    );
    value(
        "write_deadline",
        format!("{:?}", old.write_deadline),
        format!("{:?}", new.write_deadline),
    );
    let mut flag = |name: &str, changed: bool| {
        if changed {
            out.push(name.to_string());
        }
    };
    flag("authorization username", old.username != new.username);
    flag("authorization password", old.password != new.password);
    flag(
        "authorization token",
        old.authorization != new.authorization,
    );
    flag("authorization users", old.users != new.users);
    flag(
        "authorization timeout",
        old.auth_timeout != new.auth_timeout,
    );
    flag("no_auth_user", old.no_auth_user != new.no_auth_user);
    tls_changes(old, new, &mut out);
    Ok(out)
}

/// nats-server's reload lines for the client listener's TLS.
fn tls_changes(old: &Options, new: &Options, out: &mut Vec<String>) {
    use natrium_config::TlsOptions;
    let (a, b) = (old.tls.as_ref(), new.tls.as_ref());
    let settings = |t: &TlsOptions| TlsOptions {
        timeout: Default::default(),
        handshake_first: false,
        handshake_first_fallback: None,
        ..t.clone()
    };
    if a.map(settings) != b.map(settings) || old.allow_non_tls != new.allow_non_tls {
        let state = if b.is_some() { "enabled" } else { "disabled" };
        out.push(format!("tls = {state}"));
    }
    let timeout = |t: Option<&TlsOptions>| t.map(|t| t.handshake_timeout().as_secs_f64());
    if let (Some(x), Some(y)) = (timeout(a), timeout(b)) {
        if x != y {
            out.push(format!("tls timeout = {y}"));
        }
    }
    let first = |t: Option<&TlsOptions>| t.is_some_and(|t| t.handshake_first);
    if first(a) != first(b) {
        out.push(format!("Client TLS handshake first: {}", first(b)));
    }
    let fallback = |t: Option<&TlsOptions>| t.and_then(|t| t.handshake_first_fallback);
    if fallback(a) != fallback(b) {
        let d = fallback(b).unwrap_or_default();
        out.push(format!(
            "Client TLS handshake first fallback delay: {}",
            crate::monitor::format::go_duration(d)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_changes_and_refuses_fixed_options() {
        let old = Options::default();
        let new = Options {
            debug: true,
            username: Some("a".into()),
            ..Default::default()
        };
        let d = diff(&old, &new).unwrap();
        assert_eq!(
            d,
            vec!["debug = true".to_string(), "authorization username".into()]
        );
        let moved = Options {
            port: 5000,
            ..Default::default()
        };
        assert_eq!(
            diff(&old, &moved).unwrap_err(),
            "config reload not supported for Port: old=4222, new=5000"
        );
    }
}
