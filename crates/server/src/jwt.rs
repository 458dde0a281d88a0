//! NATS JWTs (nats-io/jwt v2): decoding, signature checks, and the claims the server uses.
//!
//! A JWT is `base64url(header).base64url(claims).base64url(signature)` with header
//! `{"typ":"JWT","alg":"ed25519-nkey"}`; the signature is the issuer's (`iss`) ed25519
//! signature over the ASCII `header.claims`. Operators sign accounts (with their own key or
//! a signing key), accounts sign users (with their key, a signing key, or a scoped signing
//! key whose template replaces the user's permissions). See
//! docs/reference/security-facts.md §5 for the verification order the server follows.
//!
//! Version 1 JWTs (`"alg":"ed25519"`, still in older deployments and client test suites)
//! are read as nats-io/jwt v2 reads them: the signature covers the claims chunk only, and
//! the top-level `type` (and `tags`) move into `nats`.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

/// The claims common to every NATS JWT, with the type-specific part left as JSON.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Claims {
    #[serde(default)]
    pub jti: String,
    #[serde(default)]
    pub iat: i64,
    #[serde(default)]
    pub iss: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub sub: String,
    #[serde(default)]
    pub exp: i64,
    #[serde(default)]
    pub nbf: i64,
    #[serde(default)]
    pub aud: String,
    #[serde(default)]
    pub nats: Value,
    /// Version 1 claims carry the type at the top level.
    #[serde(default, rename = "type")]
    v1_type: String,
    #[serde(default, rename = "tags")]
    v1_tags: Value,
}

impl Claims {
    /// `nats.type`.
    pub fn kind(&self) -> &str {
        self.nats.get("type").and_then(Value::as_str).unwrap_or("")
    }

    /// Expired or not yet valid at `now` (Unix seconds).
    pub fn time_problem(&self, now: i64) -> Option<&'static str> {
        if self.exp > 0 && self.exp <= now {
            return Some("claim is expired");
        }
        if self.nbf > 0 && self.nbf > now {
            return Some("claim is not yet valid");
        }
        None
    }
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    typ: String,
    #[serde(default)]
    alg: String,
}

/// Decodes `token` and checks it is signed by its issuer. Does not check times or trust.
pub fn decode(token: &str) -> Result<Claims, String> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    if parts.len() != 3 {
        return Err("expected 3 chunks".into());
    }
    let raw = |s: &str| {
        URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .map_err(|e| format!("base64 decoding failed: {e}"))
    };
    let header: Header =
        serde_json::from_slice(&raw(parts[0])?).map_err(|e| format!("invalid header: {e}"))?;
    if !header.typ.eq_ignore_ascii_case("jwt") || !header.alg.starts_with("ed25519") {
        return Err(format!(
            "unexpected header type {:?} / algorithm {:?}",
            header.typ, header.alg
        ));
    }
    let mut claims: Claims =
        serde_json::from_slice(&raw(parts[1])?).map_err(|e| format!("invalid claims: {e}"))?;
    let sig = raw(parts[2])?;
    let issuer = nkeys::KeyPair::from_public_key(&claims.iss)
        .map_err(|_| format!("invalid issuer {:?}", claims.iss))?;
    let v1 = header.alg == "ed25519";
    let signed = if v1 {
        parts[1]
    } else {
        &token.trim()[..parts[0].len() + 1 + parts[1].len()]
    };
    issuer.verify(signed.as_bytes(), &sig).map_err(|_| {
        format!(
            "claim failed V{} signature verification",
            if v1 { 1 } else { 2 }
        )
    })?;
    if v1 {
        if !claims.nats.is_object() {
            claims.nats = Value::Object(Default::default());
        }
        if let Value::Object(o) = &mut claims.nats {
            if !claims.v1_type.is_empty() {
                o.insert("type".into(), Value::String(claims.v1_type.clone()));
            }
            if !claims.v1_tags.is_null() {
                o.insert("tags".into(), claims.v1_tags.clone());
            }
        }
    }
    Ok(claims)
}

/// A public nkey's role, from its prefix letter.
pub fn key_role(key: &str) -> Option<char> {
    nkeys::KeyPair::from_public_key(key).ok()?;
    key.chars().next()
}

/// An operator: the keys it signs accounts with, and its system account.
#[derive(Debug, Clone)]
pub struct Operator {
    pub claims: Claims,
    pub signing_keys: Vec<String>,
    pub system_account: Option<String>,
}

impl Operator {
    pub fn from_jwt(token: &str) -> Result<Operator, String> {
        let claims = decode(token)?;
        if claims.kind() != "operator"
            || claims.iss != claims.sub
            || key_role(&claims.sub) != Some('O')
        {
            return Err("not a self-signed operator JWT".into());
        }
        let signing_keys = strings(claims.nats.get("signing_keys"));
        let system_account = claims
            .nats
            .get("system_account")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        Ok(Operator {
            claims,
            signing_keys,
            system_account,
        })
    }
}

/// The keys trusted to sign accounts: every operator's own key and signing keys, plus
/// `trusted_keys`.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    pub operators: Vec<Operator>,
    pub keys: Vec<String>,
}

impl Trust {
    pub fn trusts(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
            || self
                .operators
                .iter()
                .any(|o| o.claims.sub == key || o.signing_keys.iter().any(|k| k == key))
    }
}

/// A scoped signing key: users it signs get the template's permissions and limits.
#[derive(Debug, Clone)]
pub struct ScopedKey {
    pub key: String,
    pub template: Value,
}

/// An account JWT, checked against the trusted operators.
#[derive(Debug, Clone)]
pub struct AccountJwt {
    pub claims: Claims,
    pub raw: String,
    pub signing_keys: Vec<String>,
    pub scoped: Vec<ScopedKey>,
    /// User key (or `*`) → Unix seconds; users issued at or before it are revoked.
    pub revocations: HashMap<String, i64>,
    pub limits: AccountLimits,
}

/// `nats.limits` of an account; -1 is unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLimits {
    pub subs: i64,
    pub payload: i64,
    pub conn: i64,
    pub disallow_bearer: bool,
    pub mem_storage: i64,
    pub disk_storage: i64,
    pub streams: i64,
    pub consumer: i64,
    pub max_ack_pending: i64,
    pub max_bytes_required: bool,
    pub mem_max_stream_bytes: i64,
    pub disk_max_stream_bytes: i64,
    /// `Some("R1")` when the JetStream limits came from `tiered_limits`.
    pub tier: Option<String>,
}

impl AccountJwt {
    /// Decodes and verifies an account JWT: signed, of type account, by a trusted key.
    pub fn verify(token: &str, trust: &Trust) -> Result<AccountJwt, String> {
        let claims = decode(token)?;
        if claims.kind() != "account" || key_role(&claims.sub) != Some('A') {
            return Err("not an account JWT".into());
        }
        if !trust.trusts(&claims.iss) {
            return Err("Account JWT not signed by trusted operator".into());
        }
        let mut signing_keys = Vec::new();
        let mut scoped = Vec::new();
        if let Some(Value::Array(keys)) = claims.nats.get("signing_keys") {
            for k in keys {
                match k {
                    Value::String(s) => signing_keys.push(s.clone()),
                    Value::Object(o) => {
                        if let Some(key) = o.get("key").and_then(Value::as_str) {
                            scoped.push(ScopedKey {
                                key: key.to_string(),
                                template: o.get("template").cloned().unwrap_or(Value::Null),
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        let revocations = claims
            .nats
            .get("revocations")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_i64()?)))
                    .collect()
            })
            .unwrap_or_default();
        let l = claims.nats.get("limits").cloned().unwrap_or(Value::Null);
        let num = |k: &str| l.get(k).and_then(Value::as_i64).unwrap_or(-1);
        let flag = |k: &str| l.get(k).and_then(Value::as_bool).unwrap_or(false);
        // JetStream limits come from the top level, or from the R1 tier of
        // `tiered_limits` (a single server only ever places R1 streams).
        let r1 = l.get("tiered_limits").and_then(|t| t.get("R1")).cloned();
        let js = r1.clone().unwrap_or_else(|| l.clone());
        let js_num = |k: &str| js.get(k).and_then(Value::as_i64).unwrap_or(-1);
        let limits = AccountLimits {
            subs: num("subs"),
            payload: num("payload"),
            conn: num("conn"),
            disallow_bearer: flag("disallow_bearer"),
            // JetStream is off unless the account grants storage.
            mem_storage: js.get("mem_storage").and_then(Value::as_i64).unwrap_or(0),
            disk_storage: js.get("disk_storage").and_then(Value::as_i64).unwrap_or(0),
            streams: js_num("streams"),
            consumer: js_num("consumer"),
            max_ack_pending: js_num("max_ack_pending"),
            max_bytes_required: js
                .get("max_bytes_required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            mem_max_stream_bytes: js_num("mem_max_stream_bytes"),
            disk_max_stream_bytes: js_num("disk_max_stream_bytes"),
            tier: r1.map(|_| "R1".to_string()),
        };
        Ok(AccountJwt {
            claims,
            raw: token.trim().to_string(),
            signing_keys,
            scoped,
            revocations,
            limits,
        })
    }

    /// The account's display name (`name`), or its key.
    pub fn name(&self) -> &str {
        if self.claims.name.is_empty() {
            &self.claims.sub
        } else {
            &self.claims.name
        }
    }

    /// True when a user issued at `iat` is revoked.
    pub fn is_revoked(&self, user: &str, iat: i64) -> bool {
        [user, "*"]
            .iter()
            .any(|k| self.revocations.get(*k).is_some_and(|&t| t >= iat))
    }

    pub fn jetstream_enabled(&self) -> bool {
        self.limits.mem_storage != 0 || self.limits.disk_storage != 0
    }

    /// Exports as the config file would state them.
    pub fn exports(&self) -> Vec<natrium_config::Export> {
        let Some(Value::Array(list)) = self.claims.nats.get("exports") else {
            return Vec::new();
        };
        list.iter()
            .filter_map(|e| {
                let subject = e.get("subject")?.as_str()?.to_string();
                let kind = match e.get("type").and_then(Value::as_str) {
                    Some("service") => natrium_config::ExportKind::Service {
                        response: match e.get("response_type").and_then(Value::as_str) {
                            Some("Stream") => natrium_config::ResponseType::Stream,
                            Some("Chunked") => natrium_config::ResponseType::Chunked,
                            _ => natrium_config::ResponseType::Singleton,
                        },
                        threshold: e
                            .get("response_threshold")
                            .and_then(Value::as_u64)
                            .filter(|n| *n > 0)
                            .map(std::time::Duration::from_nanos)
                            .unwrap_or(natrium_config::DEFAULT_RESPONSE_THRESHOLD),
                    },
                    _ => natrium_config::ExportKind::Stream,
                };
                // A private export admits importers holding an activation token signed
                // by this account or one of its signing keys, unless revoked.
                let private = e.get("token_req").and_then(Value::as_bool).unwrap_or(false);
                let token_issuers = if private {
                    let mut keys = vec![self.claims.sub.clone()];
                    keys.extend(self.signing_keys.iter().cloned());
                    keys.extend(self.scoped.iter().map(|k| k.key.clone()));
                    keys
                } else {
                    Vec::new()
                };
                let revocations = e
                    .get("revocations")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_i64()?)))
                            .collect()
                    })
                    .unwrap_or_default();
                Some(natrium_config::Export {
                    subject,
                    kind,
                    accounts: Vec::new(),
                    token_issuers,
                    revocations,
                })
            })
            .collect()
    }

    /// `nats.mappings`: source → `[{subject, weight, cluster}]`.
    pub fn mappings(&self) -> Vec<natrium_config::Mapping> {
        let Some(Value::Object(map)) = self.claims.nats.get("mappings") else {
            return Vec::new();
        };
        map.iter()
            .map(|(source, dests)| natrium_config::Mapping {
                source: source.clone(),
                destinations: dests
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .filter_map(|d| {
                                Some(natrium_config::MapDestination {
                                    subject: d.get("subject")?.as_str()?.to_string(),
                                    weight: d
                                        .get("weight")
                                        .and_then(Value::as_u64)
                                        .map_or(100, |w| w.min(100) as u8),
                                    cluster: d
                                        .get("cluster")
                                        .and_then(Value::as_str)
                                        .filter(|c| !c.is_empty())
                                        .map(str::to_string),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Imports as the config file would state them.
    pub fn imports(&self) -> Vec<natrium_config::Import> {
        let Some(Value::Array(list)) = self.claims.nats.get("imports") else {
            return Vec::new();
        };
        list.iter()
            .filter_map(|i| {
                let subject = i.get("subject")?.as_str()?.to_string();
                let account = i.get("account")?.as_str()?.to_string();
                let local = ["local_subject", "to"]
                    .iter()
                    .find_map(|k| i.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
                    .map(str::to_string);
                let kind = match i.get("type").and_then(Value::as_str) {
                    Some("service") => natrium_config::ImportKind::Service,
                    _ => natrium_config::ImportKind::Stream,
                };
                let activation = i
                    .get("token")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .and_then(|t| activation(t, &account));
                Some(natrium_config::Import {
                    kind,
                    account,
                    subject,
                    local,
                    activation,
                })
            })
            .collect()
    }
}

/// An import's activation token: decoded, signature checked, and of type `activation`
/// with `issuer_account` (when present) naming the exporter. Whether it admits the import is
/// the export's decision (`Export::admits`). A token that fails here admits nothing.
fn activation(token: &str, exporter: &str) -> Option<natrium_config::Activation> {
    let c = decode(token).ok()?;
    if c.kind() != "activation" {
        return None;
    }
    let issuer_account = c.nats.get("issuer_account").and_then(Value::as_str);
    if issuer_account.is_some_and(|a| !a.is_empty() && a != exporter) {
        return None;
    }
    Some(natrium_config::Activation {
        issuer: c.iss.clone(),
        importer: c.sub.clone(),
        subject: c.nats.get("subject")?.as_str()?.to_string(),
        expires: c.exp,
        issued: c.iat,
    })
}

/// A user JWT's permissions and limits, after a scoped signing key's template applied.
#[derive(Debug, Clone)]
pub struct UserJwt {
    pub claims: Claims,
    /// The account the user belongs to (`issuer_account`, else `iss`).
    pub account: String,
    pub bearer: bool,
    pub permissions: Option<natrium_config::Permissions>,
    pub subs: i64,
    pub payload: i64,
    pub src: Vec<String>,
    /// `times`: daily windows (`HH:MM:SS` start and end) when the user may connect.
    pub times: Vec<(String, String)>,
    pub times_location: String,
    /// `allowed_connection_types` (STANDARD, WEBSOCKET, ...); empty allows all.
    pub connection_types: Vec<String>,
}

impl UserJwt {
    /// Decodes a user JWT (signature by its issuer checked, nothing else).
    pub fn decode(token: &str) -> Result<UserJwt, String> {
        let claims = decode(token).map_err(|e| format!("User JWT not valid: {e}"))?;
        if claims.kind() != "user" || key_role(&claims.sub) != Some('U') {
            return Err("Authentication requires a user JWT".into());
        }
        let account = claims
            .nats
            .get("issuer_account")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(&claims.iss)
            .to_string();
        let n = &claims.nats;
        Ok(UserJwt {
            account,
            bearer: n
                .get("bearer_token")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            permissions: permissions(n),
            subs: n.get("subs").and_then(Value::as_i64).unwrap_or(-1),
            payload: n.get("payload").and_then(Value::as_i64).unwrap_or(-1),
            src: strings(n.get("src")),
            times: times(n.get("times")),
            times_location: text(n.get("times_location")),
            connection_types: strings(n.get("allowed_connection_types")),
            claims,
        })
    }

    /// Checks the user against its account: issuer known, scoped template applied, not
    /// revoked, bearer allowed. Returns the reason on failure (logged at debug level).
    pub fn admit(&mut self, acc: &AccountJwt) -> Result<(), String> {
        let iss = self.claims.iss.clone();
        if iss != acc.claims.sub && !acc.signing_keys.contains(&iss) {
            let Some(scope) = acc.scoped.iter().find(|s| s.key == iss) else {
                return Err("User JWT issuer is not known".into());
            };
            if has_permissions_or_limits(&self.claims.nats) {
                return Err(
                    "User JWT is not valid: scoped users require no permissions or limits set"
                        .into(),
                );
            }
            let t = &scope.template;
            self.permissions = permissions(t);
            self.subs = t.get("subs").and_then(Value::as_i64).unwrap_or(-1);
            self.payload = t.get("payload").and_then(Value::as_i64).unwrap_or(-1);
            self.src = strings(t.get("src"));
            self.times = times(t.get("times"));
            self.times_location = text(t.get("times_location"));
            self.connection_types = strings(t.get("allowed_connection_types"));
            self.bearer = t
                .get("bearer_token")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        }
        if self.bearer && acc.limits.disallow_bearer {
            return Err("Account does not allow bearer tokens".into());
        }
        if acc.is_revoked(&self.claims.sub, self.claims.iat) {
            return Err("User authentication revoked".into());
        }
        Ok(())
    }
}

impl UserJwt {
    /// Checks where and when the user connects from: `src` CIDRs, `times` windows and
    /// `allowed_connection_types` (`kind` is STANDARD or WEBSOCKET).
    pub fn check_connection(
        &self,
        ip: std::net::IpAddr,
        kind: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), String> {
        if !self.connection_types.is_empty()
            && !self
                .connection_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(kind))
        {
            return Err(format!("Connection type {kind} not allowed"));
        }
        if !self.src.is_empty() && !self.src.iter().any(|c| cidr_contains(c, ip)) {
            return Err(format!("Bad src Ip {ip}"));
        }
        if !self.times.is_empty() {
            let local = match self.times_location.as_str() {
                "" | "Local" => now.with_timezone(&chrono::Local).time(),
                "UTC" => now.time(),
                other => return Err(format!("times_location {other:?} is not supported")),
            };
            let inside = self.times.iter().any(|(start, end)| {
                let parse = |s: &str| chrono::NaiveTime::parse_from_str(s, "%H:%M:%S").ok();
                match (parse(start), parse(end)) {
                    (Some(a), Some(b)) if a <= b => a <= local && local <= b,
                    // A window across midnight.
                    (Some(a), Some(b)) => local >= a || local <= b,
                    _ => false,
                }
            });
            if !inside {
                return Err("Outside connect times".into());
            }
        }
        Ok(())
    }
}

/// True when `ip` is inside `cidr` (`a.b.c.d/n`, an IPv6 prefix, or a plain address).
fn cidr_contains(cidr: &str, ip: std::net::IpAddr) -> bool {
    let (net, bits) = match cidr.trim().split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (cidr.trim(), None),
    };
    let Ok(net) = net.parse::<std::net::IpAddr>() else {
        return false;
    };
    match (net, ip.to_canonical()) {
        (std::net::IpAddr::V4(n), std::net::IpAddr::V4(a)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (std::net::IpAddr::V6(n), std::net::IpAddr::V6(a)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

fn times(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|t| (text(t.get("start")), text(t.get("end"))))
                .collect()
        })
        .unwrap_or_default()
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or("").to_string()
}

/// `pub`/`sub`/`resp` of user claims (or a scoped template) as config permissions.
fn permissions(n: &Value) -> Option<natrium_config::Permissions> {
    let side = |k: &str| {
        let v = n.get(k)?;
        let allow = strings(v.get("allow"));
        let deny = strings(v.get("deny"));
        (!allow.is_empty() || !deny.is_empty())
            .then_some(natrium_config::SubjectPermission { allow, deny })
    };
    let publish = side("pub");
    let subscribe = side("sub");
    let response =
        n.get("resp")
            .filter(|r| r.is_object())
            .map(|r| natrium_config::ResponsePermission {
                max_msgs: r.get("max").and_then(Value::as_i64).unwrap_or(0) as i32,
                expires: std::time::Duration::from_nanos(
                    r.get("ttl").and_then(Value::as_u64).unwrap_or(0),
                ),
            });
    if publish.is_none() && subscribe.is_none() && response.is_none() {
        return None;
    }
    let mut p = natrium_config::Permissions {
        publish,
        subscribe,
        response,
    };
    if p.response.is_some() && p.publish.is_none() {
        p.publish = Some(natrium_config::SubjectPermission::default());
    }
    if let Some(r) = &mut p.response {
        if r.expires.is_zero() {
            r.expires = natrium_config::options::DEFAULT_ALLOW_RESPONSE_EXPIRATION;
        }
    }
    Some(p)
}

/// True when user claims set any permission or limit (scoped users must not).
fn has_permissions_or_limits(n: &Value) -> bool {
    let nonempty = |k: &str| match n.get(k) {
        None | Some(Value::Null) => false,
        Some(Value::Object(o)) => o.values().any(|v| match v {
            Value::Array(a) => !a.is_empty(),
            Value::Null => false,
            _ => true,
        }),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    };
    ["pub", "sub", "resp", "src", "times"]
        .iter()
        .any(|k| nonempty(k))
        || ["subs", "data", "payload"]
            .iter()
            .any(|k| n.get(*k).is_some())
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => {
            s.split(',').map(|x| x.trim().to_string()).collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    /// Signs `claims` with `signer` into a JWT (for tests).
    pub fn sign(signer: &nkeys::KeyPair, mut claims: Value) -> String {
        claims["iss"] = signer.public_key().into();
        if claims.get("iat").is_none() {
            claims["iat"] = 1_700_000_000.into();
        }
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{body}");
        let sig = URL_SAFE_NO_PAD.encode(signer.sign(signed.as_bytes()).unwrap());
        format!("{signed}.{sig}")
    }

    /// Version 1 tokens: the signature covers the claims chunk only and the type is at the
    /// top level; a v2-style signature on a v1 header (or the reverse) is refused.
    #[test]
    fn version_1_tokens() {
        let op = nkeys::KeyPair::new_operator();
        let claims = json!({"iss": op.public_key(), "sub": op.public_key(), "type": "operator", "name": "old"});
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        let v1_header = URL_SAFE_NO_PAD.encode(br#"{"typ":"jwt","alg":"ed25519"}"#);
        let sig = URL_SAFE_NO_PAD.encode(op.sign(body.as_bytes()).unwrap());
        let token = format!("{v1_header}.{body}.{sig}");
        let c = decode(&token).unwrap();
        assert_eq!(c.kind(), "operator");
        assert!(Operator::from_jwt(&token).is_ok());
        let v2_header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
        assert_eq!(
            decode(&format!("{v2_header}.{body}.{sig}")).unwrap_err(),
            "claim failed V2 signature verification"
        );
        let v2 = sign(
            &op,
            json!({"sub": op.public_key(), "nats": {"type": "operator"}}),
        );
        let (_, rest) = v2.split_once('.').unwrap();
        assert_eq!(
            decode(&format!("{v1_header}.{rest}")).unwrap_err(),
            "claim failed V1 signature verification"
        );
    }

    #[test]
    fn cidrs_times_and_connection_types() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert!(cidr_contains("10.0.0.0/8", ip("10.1.2.3")));
        assert!(!cidr_contains("10.0.0.0/8", ip("11.1.2.3")));
        assert!(cidr_contains("192.168.1.7", ip("192.168.1.7")));
        assert!(cidr_contains("::1/128", ip("::1")));
        assert!(cidr_contains("127.0.0.0/8", ip("::ffff:127.0.0.1")));
        assert!(!cidr_contains("nonsense", ip("10.1.2.3")));
        let mut u = UserJwt {
            claims: Claims::default(),
            account: String::new(),
            bearer: false,
            permissions: None,
            subs: -1,
            payload: -1,
            src: vec!["127.0.0.0/8".into()],
            times: vec![("08:00:00".into(), "17:00:00".into())],
            times_location: "UTC".into(),
            connection_types: vec!["STANDARD".into()],
        };
        let at = |h: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap()
                .and_utc()
        };
        assert!(u
            .check_connection(ip("127.0.0.1"), "STANDARD", at(9))
            .is_ok());
        assert!(u
            .check_connection(ip("10.0.0.1"), "STANDARD", at(9))
            .is_err());
        assert!(u
            .check_connection(ip("127.0.0.1"), "STANDARD", at(20))
            .is_err());
        assert!(u
            .check_connection(ip("127.0.0.1"), "WEBSOCKET", at(9))
            .is_err());
        u.times = vec![("22:00:00".into(), "02:00:00".into())];
        assert!(u
            .check_connection(ip("127.0.0.1"), "STANDARD", at(23))
            .is_ok());
        u.times_location = "Europe/Paris".into();
        assert!(u
            .check_connection(ip("127.0.0.1"), "STANDARD", at(23))
            .is_err());
    }

    #[test]
    fn operator_account_user_chain() {
        let op = nkeys::KeyPair::new_operator();
        let acc = nkeys::KeyPair::new_account();
        let sk = nkeys::KeyPair::new_account();
        let user = nkeys::KeyPair::new_user();
        let op_jwt = sign(
            &op,
            json!({"sub": op.public_key(), "nats": {"type": "operator", "version": 2}}),
        );
        let trust = Trust {
            operators: vec![Operator::from_jwt(&op_jwt).unwrap()],
            keys: Vec::new(),
        };
        let acc_jwt = sign(
            &op,
            json!({"sub": acc.public_key(), "name": "A", "nats": {"type": "account", "version": 2,
                "signing_keys": [{"kind": "user_scope", "key": sk.public_key(), "template": {"pub": {"allow": ["ok.>"]}}}],
                "revocations": {}, "limits": {"conn": 2}}}),
        );
        let a = AccountJwt::verify(&acc_jwt, &trust).unwrap();
        assert_eq!(a.name(), "A");
        assert_eq!(a.limits.conn, 2);
        assert!(!a.jetstream_enabled());

        let u = sign(
            &acc,
            json!({"sub": user.public_key(), "nats": {"type": "user", "version": 2, "pub": {"allow": ["x"]}}}),
        );
        let mut uj = UserJwt::decode(&u).unwrap();
        assert_eq!(uj.account, acc.public_key());
        uj.admit(&a).unwrap();
        assert_eq!(
            uj.permissions
                .as_ref()
                .unwrap()
                .publish
                .as_ref()
                .unwrap()
                .allow,
            ["x"]
        );

        // Scoped key: the template wins, and the user may not set its own permissions.
        let scoped = sign(
            &sk,
            json!({"sub": user.public_key(), "nats": {"type": "user", "version": 2, "issuer_account": acc.public_key()}}),
        );
        let mut sj = UserJwt::decode(&scoped).unwrap();
        sj.admit(&a).unwrap();
        assert_eq!(sj.permissions.unwrap().publish.unwrap().allow, ["ok.>"]);
        let bad = sign(
            &sk,
            json!({"sub": user.public_key(), "nats": {"type": "user", "version": 2, "issuer_account": acc.public_key(), "subs": -1}}),
        );
        assert!(UserJwt::decode(&bad).unwrap().admit(&a).is_err());

        // Unknown issuer, revoked user, untrusted operator, tampered token.
        let stranger = nkeys::KeyPair::new_account();
        let odd = sign(
            &stranger,
            json!({"sub": user.public_key(), "nats": {"type": "user", "issuer_account": acc.public_key()}}),
        );
        assert!(UserJwt::decode(&odd).unwrap().admit(&a).is_err());
        let revoked = sign(
            &op,
            json!({"sub": acc.public_key(), "nats": {"type": "account", "revocations": {user.public_key(): 1_800_000_000}}}),
        );
        let r = AccountJwt::verify(&revoked, &trust).unwrap();
        assert!(UserJwt::decode(&u).unwrap().admit(&r).is_err());
        let other_op = nkeys::KeyPair::new_operator();
        let foreign = sign(
            &other_op,
            json!({"sub": acc.public_key(), "nats": {"type": "account"}}),
        );
        assert!(AccountJwt::verify(&foreign, &trust).is_err());
        let mut tampered = acc_jwt.clone();
        tampered.insert(acc_jwt.find('.').unwrap() + 3, 'x');
        assert!(decode(&tampered).is_err());
        assert!(decode("abc.def.ghi").is_err());
        assert!(decode("nonsense").is_err());
    }
}
