//! The `accounts` block: named accounts with their users, stream and service exports,
//! imports of other accounts' exports, and per-account JetStream.
//!
//! ```text
//! accounts {
//!   A: { users: [{user: a, password: a}], exports: [{stream: "orders.>"}, {service: "q.>"}] }
//!   B: { users: [...], imports: [{stream: {account: A, subject: "orders.>"}, prefix: a}
//!                                {service: {account: A, subject: "q.x"}, to: "ask.a"}],
//!        jetstream: enabled }
//! }
//! ```
//!
//! Imports are checked against the exporting account after the whole block is read, with
//! nats-server's errors (`"C" account not defined for stream import`, `Error adding stream
//! import "x": stream import not authorized`).

use std::time::Duration;

use natrium_sublist::{is_valid_subject, subject_is_subset};

use super::auth::{parse_permissions, parse_users};
use super::convert::{go_display, go_quote, storage_size, Loader};
use super::Options;
use crate::conf::{Spanned, Value};

/// nats-server's default `response_threshold` for service exports.
pub const DEFAULT_RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);

/// One account from the `accounts` block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountConfig {
    pub name: String,
    pub exports: Vec<Export>,
    pub imports: Vec<Import>,
    /// `None` when the account has no `jetstream` key.
    pub jetstream: Option<AccountJetStream>,
    /// The account's subject mappings.
    pub mappings: Vec<super::Mapping>,
}

/// What an account offers to others.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub subject: String,
    pub kind: ExportKind,
    /// Accounts allowed to import; empty means public (unless a token is required).
    pub accounts: Vec<String>,
    /// JWT mode: a private export (`token_req`) admits importers holding an activation
    /// token issued by one of these keys (the exporting account and its signing keys).
    pub token_issuers: Vec<String>,
    /// JWT mode: importer account key (or `*`) → activations issued at or before this Unix
    /// time are revoked.
    pub revocations: std::collections::BTreeMap<String, i64>,
}

impl Export {
    /// Whether `importer` may import `imp` from this export at `now` (Unix seconds): the
    /// export is public, names the importer, or the import carries a valid activation.
    pub fn admits(&self, imp: &Import, importer: &str, now: i64) -> bool {
        if self.accounts.iter().any(|x| x == importer) {
            return true;
        }
        if self.token_issuers.is_empty() {
            return self.accounts.is_empty();
        }
        let Some(t) = &imp.activation else {
            return false;
        };
        let revoked_at = [importer, "*"]
            .iter()
            .filter_map(|k| self.revocations.get(*k))
            .max()
            .copied();
        self.token_issuers.contains(&t.issuer)
            && t.importer == importer
            && natrium_sublist::subject_is_subset(&imp.subject, &t.subject)
            && (t.expires == 0 || t.expires > now)
            && revoked_at.is_none_or(|r| t.issued > r)
    }
}

/// An import's activation token (JWT mode), decoded with its signature checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    /// The key that signed it.
    pub issuer: String,
    /// The account it activates (`sub`).
    pub importer: String,
    /// The exported subject it grants.
    pub subject: String,
    /// `exp` and `iat`, Unix seconds (0 = never expires).
    pub expires: i64,
    pub issued: i64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExportKind {
    Stream,
    Service {
        response: ResponseType,
        /// How long responses are routed back after a request.
        threshold: Duration,
    },
}

/// How many responses a service request may get back through an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseType {
    #[default]
    Singleton,
    Stream,
    Chunked,
}

impl ResponseType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Singleton => "Singleton",
            ResponseType::Stream => "Stream",
            ResponseType::Chunked => "Chunked",
        }
    }
}

/// What an account takes from another.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub kind: ImportKind,
    /// The exporting account.
    pub account: String,
    /// The subject in the exporting account.
    pub subject: String,
    /// The subject in the importing account (`to`, or the subject with `prefix.` in front);
    /// `None` means the same subject.
    pub local: Option<String>,
    /// JWT mode: the activation token for a private export.
    pub activation: Option<Activation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Stream,
    Service,
}

/// `jetstream: enabled` or `jetstream: { max_mem, max_file, max_streams, max_consumers }`.
/// Limits are -1 when unlimited.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountJetStream {
    pub enabled: bool,
    pub max_memory: i64,
    pub max_store: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub max_bytes_required: bool,
    /// Largest `max_bytes` one memory / file stream may ask for; -1 = no limit.
    pub max_memory_stream_bytes: i64,
    pub max_store_stream_bytes: i64,
    /// The tier these limits came from (`R1` from a JWT's `tiered_limits`); `None` for
    /// account-wide limits.
    pub tier: Option<String>,
}

impl AccountJetStream {
    fn enabled(enabled: bool) -> AccountJetStream {
        AccountJetStream {
            enabled,
            max_memory: -1,
            max_store: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            max_bytes_required: false,
            max_memory_stream_bytes: -1,
            max_store_stream_bytes: -1,
            tier: None,
        }
    }
}

/// Names nats-server reserves.
const RESERVED: &[&str] = &["$G"];

pub(super) fn apply_accounts(o: &mut Options, ld: &mut Loader, v: &Spanned) {
    match &v.value {
        // `accounts: [A, B]` declares empty accounts.
        Value::Array(items) => {
            for item in items {
                if let Some(name) = ld.string(item) {
                    add_account(o, ld, item, name, None);
                }
            }
        }
        Value::Map(entries) => {
            for (name, av) in entries {
                add_account(o, ld, av, name.clone(), Some(av));
            }
        }
        _ => {
            let got = go_display(&v.value);
            ld.error(
                &v.pos,
                format!("Expected an array or map of accounts, got {got}"),
            );
        }
    }
    check_imports(o, ld);
}

fn add_account(
    o: &mut Options,
    ld: &mut Loader,
    at: &Spanned,
    name: String,
    body: Option<&Spanned>,
) {
    if RESERVED.contains(&name.as_str()) {
        return ld.error(
            &at.pos,
            format!("{} is a Reserved Account", go_quote(&name)),
        );
    }
    if o.accounts.iter().any(|a| a.name == name) {
        return ld.error(&at.pos, format!("Duplicate Account Entry: {name}"));
    }
    let mut acc = AccountConfig {
        name: name.clone(),
        ..Default::default()
    };
    let Some(body) = body else {
        o.accounts.push(acc);
        return;
    };
    let Value::Map(fields) = &body.value else {
        let got = go_display(&body.value);
        ld.error(
            &body.pos,
            format!("Expected map entries for accounts, got {got}"),
        );
        return;
    };
    let mut users_value = None;
    let mut default_permissions = None;
    for (key, fv) in fields {
        match key.to_lowercase().as_str() {
            "users" => users_value = Some(fv),
            "default_permissions" => default_permissions = parse_permissions(ld, fv),
            "exports" => acc.exports = parse_exports(ld, fv),
            "imports" => acc.imports = parse_imports(ld, fv),
            "jetstream" | "js" => acc.jetstream = parse_jetstream(ld, fv),
            "mappings" | "maps" => acc.mappings = super::mappings::parse_mappings(ld, fv),
            "limits" | "nkey" | "msg_trace" | "trace_dest" => {
                ld.unsupported(format!("accounts.{name}.{key}"), &fv.pos)
            }
            _ => ld.unknown_field(key, fv),
        }
    }
    if let Some(uv) = users_value {
        let Some((mut users, mut nkeys)) = parse_users(ld, uv) else {
            return;
        };
        for u in &mut users {
            u.account = Some(name.clone());
            if u.permissions.is_none() {
                u.permissions = default_permissions.clone();
            }
            if o.users.iter().any(|x| x.username == u.username) {
                return ld.error(
                    &uv.pos,
                    format!("Duplicate user {} detected", go_quote(&u.username)),
                );
            }
        }
        for n in &mut nkeys {
            n.account = Some(name.clone());
            if n.permissions.is_none() {
                n.permissions = default_permissions.clone();
            }
            if o.nkeys.iter().any(|x| x.nkey == n.nkey) {
                return ld.error(
                    &uv.pos,
                    format!("Duplicate nkey {} detected", go_quote(&n.nkey)),
                );
            }
        }
        o.users.append(&mut users);
        o.nkeys.append(&mut nkeys);
    }
    o.accounts.push(acc);
}

fn array<'v>(ld: &mut Loader, v: &'v Spanned, what: &str) -> &'v [Spanned] {
    match &v.value {
        Value::Array(items) => items,
        _ => {
            let got = go_display(&v.value);
            ld.error(&v.pos, format!("{what} should be an array, got {got}"));
            &[]
        }
    }
}

fn parse_exports(ld: &mut Loader, v: &Spanned) -> Vec<Export> {
    let mut out = Vec::new();
    for item in array(ld, v, "Exports") {
        let Some(fields) = ld.map(item) else { continue };
        let mut subject = None;
        let mut service = false;
        let mut accounts = Vec::new();
        let mut response = None;
        let mut threshold = None;
        for (key, fv) in fields {
            match key.to_lowercase().as_str() {
                "stream" => subject = ld.string(fv),
                "service" => {
                    subject = ld.string(fv);
                    service = true;
                }
                "accounts" => {
                    for a in array(ld, fv, "Accounts") {
                        if let Some(s) = ld.string(a) {
                            accounts.push(s);
                        }
                    }
                }
                "response" | "response_type" => {
                    let s = ld.string(fv).unwrap_or_default();
                    response = match s.to_lowercase().as_str() {
                        "single" | "singleton" => Some(ResponseType::Singleton),
                        "stream" => Some(ResponseType::Stream),
                        "chunk" | "chunked" => Some(ResponseType::Chunked),
                        _ => {
                            ld.error(&fv.pos, format!("Unknown response type: {}", go_quote(&s)));
                            None
                        }
                    };
                }
                "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                    threshold = ld.duration(key, fv)
                }
                "latency" | "account_token_position" | "advertise" | "allow_trace" => {
                    ld.unsupported(format!("exports.{key}"), &fv.pos)
                }
                _ => ld.unknown_field(key, fv),
            }
        }
        let Some(subject) = subject else {
            ld.error(&item.pos, "Expected a stream or service subject for export");
            continue;
        };
        if !is_valid_subject(&subject) {
            ld.error(&item.pos, format!("invalid subject {}", go_quote(&subject)));
            continue;
        }
        let kind = if service {
            ExportKind::Service {
                response: response.unwrap_or_default(),
                threshold: threshold.unwrap_or(DEFAULT_RESPONSE_THRESHOLD),
            }
        } else {
            if response.is_some() {
                ld.error(
                    &item.pos,
                    format!("Detected response directive on non-service export {subject:?}"),
                );
            }
            ExportKind::Stream
        };
        out.push(Export {
            subject,
            kind,
            accounts,
            token_issuers: Vec::new(),
            revocations: Default::default(),
        });
    }
    out
}

fn parse_imports(ld: &mut Loader, v: &Spanned) -> Vec<Import> {
    let mut out = Vec::new();
    for item in array(ld, v, "Imports") {
        let Some(fields) = ld.map(item) else { continue };
        let mut source = None;
        let mut to = None;
        let mut prefix = None;
        for (key, fv) in fields {
            match key.to_lowercase().as_str() {
                "stream" => source = Some((ImportKind::Stream, fv)),
                "service" => source = Some((ImportKind::Service, fv)),
                "to" => to = ld.string(fv),
                "prefix" => prefix = ld.string(fv),
                "share" | "allow_trace" => ld.unsupported(format!("imports.{key}"), &fv.pos),
                _ => ld.unknown_field(key, fv),
            }
        }
        let Some((kind, sv)) = source else {
            ld.error(&item.pos, "Expected a stream or service import");
            continue;
        };
        let Some(src) = ld.map(sv) else { continue };
        let (mut account, mut subject) = (None, None);
        for (key, fv) in src {
            match key.to_lowercase().as_str() {
                "account" => account = ld.string(fv),
                "subject" => subject = ld.string(fv),
                _ => ld.unknown_field(key, fv),
            }
        }
        let (Some(account), Some(subject)) = (account, subject) else {
            ld.error(&sv.pos, "Expect an account name and a subject");
            continue;
        };
        let local = match (kind, to, prefix) {
            (_, Some(_), Some(_)) => {
                // nats-server refuses the pair when it adds the import.
                ld.error_at(
                    None,
                    format!("Error adding stream import {subject:?}: stream import not authorized"),
                );
                continue;
            }
            (ImportKind::Service, None, Some(_)) => {
                ld.error(&item.pos, "prefix is only valid for stream imports");
                continue;
            }
            (_, Some(to), None) => Some(to),
            (ImportKind::Stream, None, Some(p)) => Some(format!("{p}.{subject}")),
            (_, None, None) => None,
        };
        if let Some(l) = &local {
            if !is_valid_subject(l) {
                ld.error(&item.pos, format!("invalid subject {}", go_quote(l)));
                continue;
            }
        }
        out.push(Import {
            kind,
            account,
            subject,
            local,
            activation: None,
        });
    }
    out
}

fn parse_jetstream(ld: &mut Loader, v: &Spanned) -> Option<AccountJetStream> {
    match &v.value {
        Value::String(s) => match s.to_lowercase().as_str() {
            "enabled" | "enable" => Some(AccountJetStream::enabled(true)),
            "disabled" | "disable" => Some(AccountJetStream::enabled(false)),
            _ => {
                ld.error(
                    &v.pos,
                    format!("Expected 'enabled' or 'disabled' for string value, got '{s}'"),
                );
                None
            }
        },
        Value::Bool(b) => Some(AccountJetStream::enabled(*b)),
        Value::Map(fields) => {
            let mut js = AccountJetStream::enabled(true);
            for (key, fv) in fields {
                let slot = match key.to_lowercase().as_str() {
                    "max_memory" | "max_mem" | "mem" | "memory" => &mut js.max_memory,
                    "max_file" | "max_disk" | "store" | "disk" | "max_store" => &mut js.max_store,
                    "max_streams" | "streams" => &mut js.max_streams,
                    "max_consumers" | "consumers" => &mut js.max_consumers,
                    "max_ack_pending" => &mut js.max_ack_pending,
                    "max_bytes_required" | "max_stream_bytes" | "max_bytes" => {
                        js.max_bytes_required = ld.bool(fv).unwrap_or(false);
                        continue;
                    }
                    "mem_max_stream_bytes" | "memory_max_stream_bytes" => {
                        &mut js.max_memory_stream_bytes
                    }
                    "disk_max_stream_bytes" | "store_max_stream_bytes" => {
                        &mut js.max_store_stream_bytes
                    }
                    "tiered_limits" | "cluster_traffic" => {
                        ld.unsupported(format!("accounts.jetstream.{key}"), &fv.pos);
                        continue;
                    }
                    _ => {
                        ld.unknown_field(key, fv);
                        continue;
                    }
                };
                match storage_size(&fv.value) {
                    Ok(n) => *slot = n,
                    Err(e) => ld.error(&fv.pos, e),
                }
            }
            Some(js)
        }
        _ => {
            let got = go_display(&v.value);
            ld.error(
                &v.pos,
                format!("Expected map, bool or string to define JetStream, got {got}"),
            );
            None
        }
    }
}

/// Every import must name a defined account whose exports allow it.
fn check_imports(o: &Options, ld: &mut Loader) {
    for acc in &o.accounts {
        for imp in &acc.imports {
            let (kind, want) = match imp.kind {
                ImportKind::Stream => ("stream", false),
                ImportKind::Service => ("service", true),
            };
            let Some(exporter) = o.accounts.iter().find(|a| a.name == imp.account) else {
                ld.error_at(
                    None,
                    format!("{:?} account not defined for {kind} import", imp.account),
                );
                continue;
            };
            let authorized = exporter.exports.iter().any(|e| {
                let is_service = matches!(e.kind, ExportKind::Service { .. });
                is_service == want
                    && subject_is_subset(&imp.subject, &e.subject)
                    && (e.accounts.is_empty() || e.accounts.contains(&acc.name))
            });
            if !authorized {
                ld.error_at(
                    None,
                    format!(
                        "Error adding {kind} import {:?}: {kind} import not authorized",
                        imp.subject
                    ),
                );
            }
        }
    }
}
