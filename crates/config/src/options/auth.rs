//! The `authorization` block: single user or token, `users` (password and nkey users),
//! permissions in both the list style and the `{allow, deny}` style, `allow_responses`, and the
//! consistency checks nats-server applies (no user and token together, no duplicate users).

use std::time::Duration;

use super::convert::{go_display, go_quote, parse_go_duration, Loader};
use super::{NkeyUser, Options, Permissions, ResponsePermission, SubjectPermission, User};
use crate::conf::{Spanned, Value};

/// Everything an `authorization` block can say.
#[derive(Default)]
struct Authorization {
    user: Option<String>,
    pass: Option<String>,
    token: Option<String>,
    timeout: Option<Duration>,
    /// `Some` as soon as a `users` key is present, even if empty.
    users: Option<Vec<User>>,
    nkeys: Vec<NkeyUser>,
    default_permissions: Option<Permissions>,
}

pub(super) fn apply_authorization(o: &mut Options, ld: &mut Loader, v: &Spanned) {
    let Some(entries) = ld.map(v) else {
        return;
    };
    let auth = parse_authorization(ld, entries);
    o.username = auth.user.clone();
    o.password = auth.pass.clone();
    o.authorization = auth.token.clone();
    o.auth_timeout = auth.timeout.unwrap_or(Duration::ZERO);

    if (auth.user.is_some() || auth.pass.is_some()) && auth.token.is_some() {
        return ld.error(&v.pos, "Cannot have a user/pass and token");
    }
    if auth.users.is_some() {
        if auth.user.is_some() {
            return ld.error(&v.pos, "Can not have a single user/pass and a users array");
        }
        if auth.token.is_some() {
            return ld.error(&v.pos, "Can not have a token and a users array");
        }
    }
    let mut seen: Vec<String> = o.users.iter().map(|u| u.username.clone()).collect();
    seen.extend(o.nkeys.iter().map(|n| n.nkey.clone()));
    let mut users = auth.users.unwrap_or_default();
    let mut nkeys = auth.nkeys;
    if let Some(defaults) = &auth.default_permissions {
        for u in users.iter_mut().filter(|u| u.permissions.is_none()) {
            u.permissions = Some(defaults.clone());
        }
        for n in nkeys.iter_mut().filter(|n| n.permissions.is_none()) {
            n.permissions = Some(defaults.clone());
        }
    }
    for u in &users {
        if seen.contains(&u.username) {
            return ld.error(
                &v.pos,
                format!("Duplicate user {} detected", go_quote(&u.username)),
            );
        }
        seen.push(u.username.clone());
    }
    for n in &nkeys {
        if seen.contains(&n.nkey) {
            return ld.error(
                &v.pos,
                format!("Duplicate nkey {} detected", go_quote(&n.nkey)),
            );
        }
        seen.push(n.nkey.clone());
    }
    o.users.append(&mut users);
    o.nkeys.append(&mut nkeys);
}

fn parse_authorization(ld: &mut Loader, entries: &[(String, Spanned)]) -> Authorization {
    let mut auth = Authorization::default();
    for (key, v) in entries {
        match key.to_lowercase().as_str() {
            "user" | "username" => auth.user = ld.string(v),
            "pass" | "password" => auth.pass = ld.string(v),
            "token" => auth.token = ld.string(v),
            "timeout" => auth.timeout = auth_timeout(ld, key, v),
            "users" => {
                if let Some((users, nkeys)) = parse_users(ld, v) {
                    auth.users = Some(users);
                    auth.nkeys = nkeys;
                }
            }
            "default_permission" | "default_permissions" | "permissions" => {
                auth.default_permissions = parse_permissions(ld, v);
            }
            "auth_callout" | "auth_hook" | "proxy_required" => {
                ld.unsupported(format!("authorization.{key}"), &v.pos)
            }
            _ => ld.unknown_field(key, v),
        }
    }
    auth
}

/// Seconds as an integer or float, or a duration string; over a minute earns a warning.
fn auth_timeout(ld: &mut Loader, key: &str, v: &Spanned) -> Option<Duration> {
    let secs = match &v.value {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::String(s) => match parse_go_duration(s) {
            Ok(nanos) => nanos as f64 / 1e9,
            Err(e) => {
                ld.error(
                    &v.pos,
                    format!("error parsing authorization config, 'timeout' {e}"),
                );
                return None;
            }
        },
        _ => {
            ld.error(
                &v.pos,
                "error parsing authorization config, 'timeout' wrong type",
            );
            return None;
        }
    };
    if secs > 60.0 {
        let reason = format!(
            "timeout of {} ({secs:.6} seconds) is high, consider keeping it under 60 seconds. \
             possibly caused by unquoted duration; use '1m' instead of 1m, for example",
            go_display(&v.value)
        );
        ld.warn_field(&v.pos, key, reason);
    }
    match Duration::try_from_secs_f64(secs) {
        Ok(d) => Some(d),
        Err(_) => {
            ld.error(
                &v.pos,
                "error parsing authorization config, 'timeout' out of range",
            );
            None
        }
    }
}

/// `users: [ {user, password, permissions} | {nkey, permissions} ]`.
pub(super) fn parse_users(ld: &mut Loader, v: &Spanned) -> Option<(Vec<User>, Vec<NkeyUser>)> {
    let Value::Array(items) = &v.value else {
        let got = go_display(&v.value);
        ld.error(
            &v.pos,
            format!("Expected users field to be an array, got {got}"),
        );
        return None;
    };
    let mut users = Vec::new();
    let mut nkeys = Vec::new();
    for item in items {
        let Value::Map(fields) = &item.value else {
            let got = go_display(&item.value);
            ld.error(
                &item.pos,
                format!("Expected user entry to be a map/struct, got {got}"),
            );
            continue;
        };
        let mut user = User::default();
        let mut nkey = NkeyUser::default();
        let mut perms = None;
        for (key, fv) in fields {
            match key.to_lowercase().as_str() {
                "nkey" => nkey.nkey = ld.string(fv).unwrap_or_default(),
                "user" | "username" => user.username = ld.string(fv).unwrap_or_default(),
                "pass" | "password" => user.password = ld.string(fv),
                "permission" | "permissions" | "authorization" => perms = parse_permissions(ld, fv),
                "allowed_connection_types" | "connection_types" | "clients" | "proxy_required" => {
                    ld.unsupported(format!("authorization.users.{key}"), &fv.pos)
                }
                _ => ld.unknown_field(key, fv),
            }
        }
        // nats-server reports these at the last field it looked at.
        let at = fields.last().map_or(&item.pos, |(_, v)| &v.pos);
        if nkey.nkey.is_empty() && user.username.is_empty() {
            ld.error(at, "User entry requires a user");
            return None;
        }
        if nkey.nkey.is_empty() {
            user.permissions = perms;
            users.push(user);
            continue;
        }
        if !is_valid_user_nkey(&nkey.nkey) {
            ld.error(at, "Not a valid public nkey for a user");
            return None;
        }
        if !user.username.is_empty() || user.password.is_some() {
            ld.error(at, "Nkey users do not take usernames or passwords");
            return None;
        }
        nkey.permissions = perms;
        nkeys.push(nkey);
    }
    Some((users, nkeys))
}

/// `permissions { publish, subscribe, allow_responses }`.
pub(super) fn parse_permissions(ld: &mut Loader, v: &Spanned) -> Option<Permissions> {
    let Value::Map(entries) = &v.value else {
        let got = go_display(&v.value);
        ld.error(
            &v.pos,
            format!("Expected permissions to be a map/struct, got {got}"),
        );
        return None;
    };
    let mut p = Permissions::default();
    let mut responses = None;
    for (key, pv) in entries {
        match key.to_lowercase().as_str() {
            "pub" | "publish" | "import" => p.publish = subject_permission(ld, pv, false),
            "sub" | "subscribe" | "export" => p.subscribe = subject_permission(ld, pv, true),
            "publish_allow_responses" | "allow_responses" => responses = Some(pv),
            _ => {
                if !pv.used_as_variable {
                    let msg = format!("Unknown field {} parsing permissions", go_quote(key));
                    ld.error(&pv.pos, msg);
                }
            }
        }
    }
    // Applied last so the result does not depend on key order (nats-server's does).
    if let Some(rv) = responses {
        p.response = match rv.value {
            Value::Bool(true) => Some(ResponsePermission::default()),
            Value::Bool(false) => None,
            _ => allow_responses(ld, rv),
        };
        if p.response.is_some() && p.publish.is_none() {
            p.publish = Some(SubjectPermission::default());
        }
    }
    Some(p)
}

/// `allow_responses: { max: N, expires: "1m" }`.
fn allow_responses(ld: &mut Loader, v: &Spanned) -> Option<ResponsePermission> {
    let Value::Map(entries) = &v.value else {
        ld.error(
            &v.pos,
            "error parsing response permissions, expected a boolean or a map",
        );
        return None;
    };
    let mut rp = ResponsePermission::default();
    for (key, ev) in entries {
        match key.to_lowercase().as_str() {
            "max" | "max_msgs" | "max_messages" | "max_responses" => match ld.int32(key, ev) {
                Some(0) | None => {}
                Some(n) => rp.max_msgs = n,
            },
            "expires" | "expiration" | "ttl" => {
                let Value::String(s) = &ev.value else {
                    ld.error(&ev.pos, "error parsing expires, not a duration string");
                    return None;
                };
                match parse_go_duration(s) {
                    Ok(0) => {}
                    Ok(n) if n < 0 => rp.expires = Duration::ZERO,
                    Ok(n) => rp.expires = Duration::from_nanos(n.unsigned_abs()),
                    Err(e) => {
                        ld.error(&ev.pos, format!("error parsing expires: {e}"));
                        return None;
                    }
                }
            }
            _ => {
                if !ev.used_as_variable {
                    let msg = format!("Unknown field {} parsing permissions", go_quote(key));
                    ld.error(&ev.pos, msg);
                }
            }
        }
    }
    Some(rp)
}

/// A subject (or list) meaning "allow", or `{ allow, deny }`. An empty map means no rule.
fn subject_permission(
    ld: &mut Loader,
    v: &Spanned,
    allow_queue: bool,
) -> Option<SubjectPermission> {
    let Value::Map(entries) = &v.value else {
        // nats-server loses the position for this style; so do its messages.
        let allow = subjects(ld, v, allow_queue, false)?;
        return Some(SubjectPermission {
            allow,
            deny: Vec::new(),
        });
    };
    if entries.is_empty() {
        return None;
    }
    let mut sp = SubjectPermission::default();
    for (key, sv) in entries {
        match key.to_lowercase().as_str() {
            "allow" => sp.allow = subjects(ld, sv, allow_queue, true).unwrap_or_default(),
            "deny" => sp.deny = subjects(ld, sv, allow_queue, true).unwrap_or_default(),
            _ => {
                if !sv.used_as_variable {
                    let msg = format!(
                        "Unknown field name {} parsing subject permissions, only 'allow' or \
                         'deny' are permitted",
                        go_quote(key)
                    );
                    ld.error(&sv.pos, msg);
                }
            }
        }
    }
    Some(sp)
}

/// One subject or an array of them, each checked (subscribe entries may name a queue).
fn subjects(
    ld: &mut Loader,
    v: &Spanned,
    allow_queue: bool,
    positioned: bool,
) -> Option<Vec<String>> {
    let pos = positioned.then(|| v.pos.clone());
    let list = match &v.value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => {
            let mut list = Vec::new();
            for item in items {
                let Value::String(s) = &item.value else {
                    ld.error(
                        &item.pos,
                        "Subject in permissions array cannot be cast to string",
                    );
                    return None;
                };
                list.push(s.clone());
            }
            list
        }
        other => {
            let msg = format!(
                "Expected subject permissions to be a subject, or array of subjects, got {}",
                other.go_type()
            );
            ld.error_at(pos, msg);
            return None;
        }
    };
    for s in &list {
        if let Err(e) = check_subject(s, allow_queue) {
            ld.error_at(pos, e);
            return None;
        }
    }
    Some(list)
}

fn check_subject(s: &str, allow_queue: bool) -> Result<(), String> {
    if is_valid_subject(s) {
        return Ok(());
    }
    let invalid = |s: &str| format!("subject {} is not a valid subject", go_quote(s));
    if !allow_queue {
        return Err(invalid(s));
    }
    let parts: Vec<&str> = s.split_whitespace().collect();
    match parts[..] {
        [subject, queue] => {
            if !is_valid_subject(subject) {
                Err(invalid(subject))
            } else if !is_valid_subject(queue) {
                Err(format!("queue {} is not a valid queue", go_quote(queue)))
            } else {
                Ok(())
            }
        }
        _ => Err(invalid(s)),
    }
}

/// nats-server's `IsValidSubject`: non-empty tokens, no blanks, `>` only last.
pub(crate) fn is_valid_subject(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    let mut saw_full_wildcard = false;
    for token in s.split('.') {
        if token.is_empty() || saw_full_wildcard {
            return false;
        }
        if token.contains([' ', '\t', '\n', '\r', '\u{c}']) {
            return false;
        }
        if token == ">" {
            saw_full_wildcard = true;
        }
    }
    true
}

/// True for a public user nkey: base32 (no padding) of prefix byte 'U', 32 key bytes and a
/// little-endian CRC-16/XMODEM of everything before it.
pub(crate) fn is_valid_user_nkey(key: &str) -> bool {
    const PREFIX_USER: u8 = 20 << 3;
    let Some(raw) = base32_decode(key) else {
        return false;
    };
    if raw.len() != 35 || raw[0] != PREFIX_USER {
        return false;
    }
    let (payload, crc) = raw.split_at(33);
    crc16_xmodem(payload) == u16::from_le_bytes([crc[0], crc[1]])
}

fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}
