//! JWT operator mode: `operator` (JWTs inline or in files), `trusted_keys`, `resolver` and
//! `resolver_preload`. Only the text is read here; the server verifies the JWTs.

use std::path::PathBuf;
use std::time::Duration;

use super::convert::{go_display, Loader};
use super::Options;
use crate::conf::{Spanned, Value};

/// Where account JWTs come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolverConfig {
    /// `resolver: MEMORY`: only `resolver_preload`.
    Memory,
    /// `resolver: { type: full, dir, allow_delete, hard_delete, interval, limit }`: a directory
    /// of `<account>.jwt` files the server owns, updated with `$SYS.REQ.CLAIMS.*`.
    Full {
        dir: PathBuf,
        allow_delete: bool,
        hard_delete: bool,
        /// How often servers of a cluster exchange their account JWTs. A single server has
        /// no one to sync with, so it only validates the value.
        interval: Duration,
        /// Most accounts the directory holds (0: no limit); a push beyond it is refused.
        limit: i64,
    },
}

/// nats-server's default sync interval of the full resolver.
pub const DEFAULT_RESOLVER_INTERVAL: Duration = Duration::from_secs(60);

/// `operator: <jwt | file>` or a list of them.
pub(super) fn apply_operator(o: &mut Options, ld: &mut Loader, v: &Spanned) {
    let items: Vec<&Spanned> = match &v.value {
        Value::Array(items) => items.iter().collect(),
        _ => vec![v],
    };
    for item in items {
        let Some(text) = ld.string(item) else {
            continue;
        };
        match read_jwt(&text) {
            Ok(jwt) => o.operators.push(jwt),
            Err(e) => ld.error_at(
                Some(crate::conf::Pos {
                    col: 0,
                    ..v.pos.clone()
                }),
                format!("error parsing operator JWT: {e}"),
            ),
        }
    }
}

/// A JWT given inline, or the first JWT in a file (plain, or decorated with `-----BEGIN`
/// lines as `nsc` writes them).
pub fn read_jwt(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if looks_like_jwt(trimmed) {
        return Ok(trimmed.to_string());
    }
    let content = std::fs::read_to_string(trimmed).map_err(|e| {
        let reason = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            _ => e.to_string(),
        };
        format!("open {trimmed}: {reason}")
    })?;
    content
        .lines()
        .map(str::trim)
        .find(|l| looks_like_jwt(l))
        .map(str::to_string)
        .ok_or_else(|| "no JWT found".to_string())
}

fn looks_like_jwt(s: &str) -> bool {
    s.starts_with("eyJ") && s.split('.').count() == 3 && !s.contains(char::is_whitespace)
}

/// `trusted_keys: [O...]` or a single key.
pub(super) fn apply_trusted(o: &mut Options, ld: &mut Loader, v: &Spanned) {
    match &v.value {
        Value::String(s) => o.trusted_keys.push(s.clone()),
        Value::Array(items) => {
            for item in items {
                if let Some(s) = ld.string(item) {
                    o.trusted_keys.push(s);
                }
            }
        }
        _ => {
            let got = go_display(&v.value);
            ld.error(
                &v.pos,
                format!("error parsing trusted: unsupported type {got}"),
            );
        }
    }
}

pub(super) fn apply_resolver(o: &mut Options, ld: &mut Loader, key: &str, v: &Spanned) {
    const BAD: &str = "error parsing account resolver, should be MEM or  URL(\"url\") or a map containing dir and type state=[FULL|CACHE])";
    let at = crate::conf::Pos {
        col: 0,
        ..v.pos.clone()
    };
    match &v.value {
        Value::String(s) => {
            let upper = s.trim().to_uppercase();
            if upper == "MEM" || upper == "MEMORY" {
                o.resolver = Some(ResolverConfig::Memory);
            } else if upper.starts_with("URL(") {
                ld.unsupported(format!("{key} URL"), &v.pos);
            } else {
                ld.error_at(Some(at), BAD);
            }
        }
        Value::Map(fields) => {
            let (mut kind, mut dir) = (String::new(), String::new());
            let (mut allow_delete, mut hard_delete) = (false, false);
            let mut interval = DEFAULT_RESOLVER_INTERVAL;
            let mut limit = 0;
            for (k, fv) in fields {
                match k.to_lowercase().as_str() {
                    "type" => kind = ld.string(fv).unwrap_or_default().to_lowercase(),
                    "dir" => dir = ld.string(fv).unwrap_or_default(),
                    "allow_delete" => allow_delete = ld.bool(fv).unwrap_or(false),
                    "hard_delete" => hard_delete = ld.bool(fv).unwrap_or(false),
                    "interval" => interval = ld.duration(k, fv).unwrap_or(interval),
                    "limit" => limit = ld.int(fv).unwrap_or(0),
                    "ttl" | "timeout" => ld.unsupported(format!("{key}.{k}"), &fv.pos),
                    _ => ld.unknown_field(k, fv),
                }
            }
            match kind.as_str() {
                "full" => {
                    if dir.is_empty() {
                        return ld.error_at(
                            Some(at),
                            "dir has no value and needs to point to a directory",
                        );
                    }
                    if hard_delete && !allow_delete {
                        return ld.error_at(Some(at), "hard_delete has no effect without delete");
                    }
                    o.resolver = Some(ResolverConfig::Full {
                        dir: PathBuf::from(dir),
                        allow_delete,
                        hard_delete,
                        interval,
                        limit,
                    });
                }
                "cache" => ld.unsupported(format!("{key} type cache"), &v.pos),
                _ => ld.error_at(Some(at), BAD),
            }
        }
        _ => ld.error_at(Some(at), BAD),
    }
}

/// `resolver_preload: { <account public key>: <account JWT> }`.
pub(super) fn apply_preload(o: &mut Options, ld: &mut Loader, v: &Spanned) {
    let Some(entries) = ld.map(v) else { return };
    for (key, jv) in entries {
        let Some(jwt) = ld.string(jv) else { continue };
        if !looks_like_jwt(jwt.trim()) {
            ld.error(&jv.pos, "invalid account JWT");
            continue;
        }
        o.resolver_preload
            .push((key.clone(), jwt.trim().to_string()));
    }
}
