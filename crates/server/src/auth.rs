//! Single-account authentication and per-user permissions.
//!
//! Built once from [`Options`] (and again on reload) into an immutable [`AuthConfig`] that
//! connections consult at CONNECT. Supports a token, a single user/password, a list of users
//! with plain or bcrypt passwords and permissions, and `no_auth_user`. A user's permissions
//! compile into [`Permissions`], which answers "may this client publish to / subscribe to
//! this subject". This module never touches sockets; bcrypt checks are CPU work that callers
//! run off the runtime threads.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use natrium_config::{Options, SubjectPermission};
use natrium_protocol::ConnectInfo;
use natrium_sublist::{subject_is_subset, subject_matches, subjects_overlap};

/// Allow and deny filters for one direction (publish or subscribe).
#[derive(Debug, Clone, Default)]
pub struct FilterSet {
    /// `None` means everything is allowed unless denied.
    pub allow: Option<Vec<String>>,
    pub deny: Vec<String>,
}

impl FilterSet {
    fn from_config(p: &Option<SubjectPermission>) -> FilterSet {
        match p {
            None => FilterSet::default(),
            Some(p) => FilterSet {
                allow: (!p.allow.is_empty()).then(|| p.allow.clone()),
                deny: p.deny.clone(),
            },
        }
    }

    fn is_unrestricted(&self) -> bool {
        self.allow.is_none() && self.deny.is_empty()
    }

    /// May a client publish to the literal `subject`?
    pub fn allows_literal(&self, subject: &str) -> bool {
        let allowed = match &self.allow {
            None => true,
            Some(allow) => allow.iter().any(|f| subject_matches(f, subject)),
        };
        allowed && !self.deny.iter().any(|f| subject_matches(f, subject))
    }

    /// May a client subscribe to `subject` (which may hold wildcards), in `queue` if given?
    /// A subscription is allowed when some allow entry covers it entirely and no deny entry
    /// does. An entry may name a queue after a space (`"orders.* workers"`): it then
    /// applies only to subscriptions in that queue group.
    pub fn allows_subscription(&self, subject: &str, queue: Option<&str>) -> bool {
        let covers = |entry: &String| {
            let (filter, entry_queue) = split_queue_entry(entry);
            let queue_ok = match (entry_queue, queue) {
                (None, _) => true,
                (Some(eq), Some(q)) => subject_matches(eq, q),
                (Some(_), None) => false,
            };
            queue_ok && subject_is_subset(subject, filter)
        };
        let allowed = match &self.allow {
            None => true,
            Some(allow) => allow.iter().any(covers),
        };
        allowed && !self.deny.iter().any(covers)
    }

    /// True when a deny entry matches the literal `subject` (checked per delivery).
    pub fn denies_literal(&self, subject: &str) -> bool {
        self.deny
            .iter()
            .any(|f| subject_matches(split_queue_entry(f).0, subject))
    }

    /// True when a deny filter only partly overlaps `subject`, so each delivery on that
    /// subscription must be checked against the deny list.
    pub fn needs_delivery_check(&self, subject: &str) -> bool {
        self.deny
            .iter()
            .any(|f| subjects_overlap(subject, split_queue_entry(f).0))
    }
}

/// Splits a permission entry `"subject [queue]"` into its parts.
fn split_queue_entry(entry: &str) -> (&str, Option<&str>) {
    match entry.trim().split_once(char::is_whitespace) {
        Some((s, q)) => (s, Some(q.trim())),
        None => (entry.trim(), None),
    }
}

/// How many replies a client may send to subjects it received as reply-to, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct ResponseLimit {
    pub max_msgs: usize,
    pub expires: Duration,
}

/// A user's compiled permissions.
#[derive(Debug, Clone, Default)]
pub struct Permissions {
    pub publish: FilterSet,
    pub subscribe: FilterSet,
    pub response: Option<ResponseLimit>,
}

impl Permissions {
    pub fn from_config(p: &natrium_config::Permissions) -> Permissions {
        let mut publish = FilterSet::from_config(&p.publish);
        if p.response.is_some() && publish.allow.is_none() {
            // With allow_responses and no publish allow list, nats-server lets the user
            // publish replies only.
            publish.allow = Some(Vec::new());
        }
        Permissions {
            publish,
            subscribe: FilterSet::from_config(&p.subscribe),
            response: p.response.as_ref().map(|r| ResponseLimit {
                // 0 means the default of one reply; a negative limit means no limit.
                max_msgs: match r.max_msgs {
                    0 => 1,
                    n if n < 0 => usize::MAX,
                    n => n as usize,
                },
                expires: r.expires,
            }),
        }
    }

    /// The permissions as nats-server shows them to their user (`$SYS.REQ.USER.INFO`):
    /// `publish` and `subscribe` always present, their empty lists left out.
    pub fn public_json(&self) -> serde_json::Value {
        fn set(f: &FilterSet) -> serde_json::Value {
            let mut m = serde_json::Map::new();
            if let Some(allow) = f.allow.as_ref().filter(|a| !a.is_empty()) {
                m.insert("allow".into(), allow.clone().into());
            }
            if !f.deny.is_empty() {
                m.insert("deny".into(), f.deny.clone().into());
            }
            serde_json::Value::Object(m)
        }
        let mut v = serde_json::json!({
            "publish": set(&self.publish),
            "subscribe": set(&self.subscribe),
        });
        if let Some(r) = &self.response {
            let max = i64::try_from(r.max_msgs).unwrap_or(-1);
            v["responses"] = serde_json::json!({ "max": max, "ttl": r.expires.as_nanos() as u64 });
        }
        v
    }

    pub fn is_unrestricted(&self) -> bool {
        self.publish.is_unrestricted() && self.subscribe.is_unrestricted()
    }
}

#[derive(Debug, Clone)]
struct UserEntry {
    password: Option<String>,
    permissions: Option<Arc<Permissions>>,
    /// The account the user binds to; `None` is the global account.
    account: Option<String>,
}

/// Who may connect, built from the options.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    token: Option<String>,
    users: HashMap<String, UserEntry>,
    /// Users identified by a public nkey, keyed by that key.
    nkeys: HashMap<String, UserEntry>,
    /// JWT operator mode: users authenticate with JWTs (checked by `operator.rs`).
    operator_mode: bool,
    no_auth_user: Option<String>,
    pub timeout: Duration,
    /// `verify_and_map`: the client certificate names the user.
    tls_map: bool,
}

/// A successful authentication.
#[derive(Debug, Clone, Default)]
pub struct Authenticated {
    pub user: Option<String>,
    pub permissions: Option<Arc<Permissions>>,
    /// The account the connection binds to; `None` is the global account.
    pub account: Option<String>,
}

impl AuthConfig {
    pub fn from_options(opts: &Options) -> AuthConfig {
        let mut users = HashMap::new();
        if let Some(u) = &opts.username {
            users.insert(
                u.clone(),
                UserEntry {
                    password: opts.password.clone(),
                    permissions: None,
                    account: None,
                },
            );
        }
        for u in &opts.users {
            users.insert(
                u.username.clone(),
                UserEntry {
                    password: u.password.clone(),
                    permissions: u
                        .permissions
                        .as_ref()
                        .map(|p| Arc::new(Permissions::from_config(p))),
                    account: u.account.clone(),
                },
            );
        }
        let nkeys = opts
            .nkeys
            .iter()
            .map(|n| {
                let entry = UserEntry {
                    password: None,
                    permissions: n
                        .permissions
                        .as_ref()
                        .map(|p| Arc::new(Permissions::from_config(p))),
                    account: n.account.clone(),
                };
                (n.nkey.clone(), entry)
            })
            .collect();
        AuthConfig {
            token: opts.authorization.clone(),
            users,
            nkeys,
            operator_mode: crate::operator::enabled(opts),
            no_auth_user: opts.no_auth_user.clone(),
            timeout: opts.auth_timeout,
            tls_map: opts.tls.as_ref().is_some_and(|t| t.map),
        }
    }

    /// True when clients must present credentials (announced as `auth_required` in INFO).
    pub fn required(&self) -> bool {
        self.token.is_some()
            || !self.users.is_empty()
            || !self.nkeys.is_empty()
            || self.operator_mode
    }

    /// True when INFO must carry a nonce for the client to sign (nkey users exist).
    pub fn nonce_required(&self) -> bool {
        !self.nkeys.is_empty() || self.operator_mode
    }

    /// Checks a client's CONNECT credentials; `nonce` is the one sent in this connection's
    /// INFO. `None` means "Authorization Violation". Runs bcrypt when a stored password is
    /// a bcrypt hash: call off the async threads.
    pub fn authenticate(&self, ci: &ConnectInfo, nonce: Option<&str>) -> Option<Authenticated> {
        if !self.required() {
            return Some(Authenticated::default());
        }
        let has_credentials = ci.user.is_some() || ci.auth_token.is_some() || ci.nkey.is_some();
        if !has_credentials {
            let name = self.no_auth_user.as_ref()?;
            let entry = self.users.get(name)?;
            return Some(Authenticated {
                user: Some(name.clone()),
                permissions: entry.permissions.clone(),
                account: entry.account.clone(),
            });
        }
        if let (Some(key), false) = (&ci.nkey, self.nkeys.is_empty()) {
            let entry = self.nkeys.get(key)?;
            let signed = verify_nonce_signature(key, nonce?, ci.sig.as_deref()?);
            return signed.then(|| Authenticated {
                user: Some(key.clone()),
                permissions: entry.permissions.clone(),
                account: entry.account.clone(),
            });
        }
        if let Some(token) = &self.token {
            // With a token configured, nats-server accepts the token in either field.
            let given = ci.auth_token.as_deref().or(ci.user.as_deref());
            return (given.is_some_and(|g| password_matches(token, g)))
                .then(Authenticated::default);
        }
        let user = ci.user.as_ref()?;
        let entry = self.users.get(user)?;
        let ok = match (&entry.password, &ci.pass) {
            (Some(stored), Some(given)) => password_matches(stored, given),
            (None, _) => true,
            (Some(_), None) => false,
        };
        ok.then(|| Authenticated {
            user: Some(user.clone()),
            permissions: entry.permissions.clone(),
            account: entry.account.clone(),
        })
    }

    /// The `no_auth_user` of a listener that names its own (websocket), for a client that
    /// sent no credentials. `None` when that user does not exist.
    pub fn as_user(&self, name: &str) -> Option<Authenticated> {
        self.users.get(name).map(|e| Authenticated {
            user: Some(name.to_string()),
            permissions: e.permissions.clone(),
            account: e.account.clone(),
        })
    }

    /// True when users come from client certificates (`verify_and_map` with users).
    pub fn maps_certificates(&self) -> bool {
        self.tls_map && !self.users.is_empty()
    }

    /// The user a client certificate names, looked up as nats-server does: e-mail
    /// addresses, then DNS names, then URIs, then the subject as a distinguished name
    /// (matched exactly, then in any RDN order), then the subject string with and without
    /// its domain components. `None` (an authorization violation) when nothing matches.
    pub fn authenticate_certificate(
        &self,
        cert: Option<&crate::x509::CertNames>,
    ) -> Option<Authenticated> {
        let cert = cert?;
        let found = |name: &str| {
            self.users.get(name).map(|e| Authenticated {
                user: Some(name.to_string()),
                permissions: e.permissions.clone(),
                account: e.account.clone(),
            })
        };
        let sans = cert.emails.iter().chain(&cert.dns_names).chain(&cert.uris);
        if let Some(a) = sans.filter_map(|n| found(n)).next() {
            return Some(a);
        }
        if let Some(dn) = cert.subject_dn() {
            let parsed: Vec<(&String, crate::x509::Dn)> = self
                .users
                .keys()
                .filter_map(|u| crate::x509::parse_dn(u).map(|d| (u, d)))
                .collect();
            let exact = parsed.iter().find(|(_, d)| crate::x509::dn_equal(d, &dn));
            let any_order = || {
                parsed
                    .iter()
                    .find(|(_, d)| crate::x509::dn_rdns_match(d, &dn))
            };
            if let Some((u, _)) = exact.or_else(any_order) {
                return found(u);
            }
        }
        let subject = cert.subject_string();
        let dcs = cert.domain_components();
        if !dcs.is_empty() {
            if let Some(a) = found(&format!("{subject},{dcs}")) {
                return Some(a);
            }
        }
        found(&subject)
    }

    /// True when checking `ci` may need a bcrypt comparison (slow; run it on a blocking thread).
    pub fn needs_slow_check(&self, ci: &ConnectInfo) -> bool {
        let stored = match (&self.token, &ci.user) {
            (Some(t), _) => Some(t),
            (None, Some(u)) => self.users.get(u).and_then(|e| e.password.as_ref()),
            _ => None,
        };
        stored.is_some_and(|s| is_bcrypt(s))
    }
}

/// A fresh nonce for INFO: 11 random bytes in unpadded URL-safe base64, as nats-server
/// sends (15 characters).
pub fn new_nonce() -> String {
    use base64::Engine;
    let bytes: [u8; 11] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// True when `sig` (unpadded base64, URL-safe or standard alphabet) is the ed25519
/// signature of `nonce` by the public user nkey `key`.
pub fn verify_nonce_signature(key: &str, nonce: &str, sig: &str) -> bool {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    use base64::Engine;
    let trimmed = sig.trim_end_matches('=');
    let Ok(sig) = URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD_NO_PAD.decode(trimmed))
    else {
        return false;
    };
    let Ok(pair) = nkeys::KeyPair::from_public_key(key) else {
        return false;
    };
    pair.verify(nonce.as_bytes(), &sig).is_ok()
}

/// A listener's own single user or token (the websocket block's `authorization`), checked
/// like the top-level ones. Runs bcrypt for a bcrypt password: call off the async threads
/// when [`is_bcrypt`] says so.
pub fn check_single(
    user: Option<&str>,
    pass: Option<&str>,
    token: Option<&str>,
    ci: &ConnectInfo,
) -> Option<Authenticated> {
    if let Some(token) = token {
        let given = ci.auth_token.as_deref().or(ci.user.as_deref());
        return given
            .is_some_and(|g| password_matches(token, g))
            .then(Authenticated::default);
    }
    let user = user?;
    if ci.user.as_deref() != Some(user) {
        return None;
    }
    let ok = match (pass, &ci.pass) {
        (Some(stored), Some(given)) => password_matches(stored, given),
        (None, _) => true,
        (Some(_), None) => false,
    };
    ok.then(|| Authenticated {
        user: Some(user.to_string()),
        permissions: None,
        account: None,
    })
}

pub fn is_bcrypt(stored: &str) -> bool {
    stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$")
}

/// Compares a stored password (plain or bcrypt) with the one given, in constant time for
/// plain text so response timing does not reveal a prefix.
fn password_matches(stored: &str, given: &str) -> bool {
    if is_bcrypt(stored) {
        return bcrypt::verify(given, stored).unwrap_or(false);
    }
    let (a, b) = (stored.as_bytes(), given.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(allow: &[&str], deny: &[&str]) -> FilterSet {
        FilterSet {
            allow: (!allow.is_empty()).then(|| allow.iter().map(|s| s.to_string()).collect()),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        }
    }

    impl AuthConfig {
        fn authenticate_plain(&self, ci: &ConnectInfo) -> Option<Authenticated> {
            self.authenticate(ci, None)
        }
    }

    #[test]
    fn nkey_users_sign_the_nonce() {
        use base64::Engine;
        let kp = nkeys::KeyPair::new_user();
        let other = nkeys::KeyPair::new_user();
        let o = Options {
            nkeys: vec![natrium_config::NkeyUser {
                nkey: kp.public_key(),
                permissions: None,
                account: Some("A".into()),
            }],
            ..Default::default()
        };
        let a = AuthConfig::from_options(&o);
        assert!(a.required() && a.nonce_required());
        let nonce = new_nonce();
        assert_eq!(nonce.len(), 15);
        let sign = |k: &nkeys::KeyPair, n: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k.sign(n.as_bytes()).unwrap())
        };
        let ci = |key: &str, sig: String| ConnectInfo {
            nkey: Some(key.into()),
            sig: Some(sig),
            ..Default::default()
        };
        let ok = a
            .authenticate(&ci(&kp.public_key(), sign(&kp, &nonce)), Some(&nonce))
            .unwrap();
        assert_eq!(ok.account.as_deref(), Some("A"));
        assert_eq!(ok.user.as_deref(), Some(kp.public_key().as_str()));
        // Standard alphabet is accepted too.
        let std_sig = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(kp.sign(nonce.as_bytes()).unwrap());
        assert!(a
            .authenticate(&ci(&kp.public_key(), std_sig), Some(&nonce))
            .is_some());
        // Wrong nonce, wrong signer, unknown key, garbage signature, no nonce.
        assert!(a
            .authenticate(&ci(&kp.public_key(), sign(&kp, "other")), Some(&nonce))
            .is_none());
        assert!(a
            .authenticate(&ci(&kp.public_key(), sign(&other, &nonce)), Some(&nonce))
            .is_none());
        assert!(a
            .authenticate(&ci(&other.public_key(), sign(&other, &nonce)), Some(&nonce))
            .is_none());
        assert!(a
            .authenticate(&ci(&kp.public_key(), "!!!".into()), Some(&nonce))
            .is_none());
        assert!(a
            .authenticate(&ci(&kp.public_key(), sign(&kp, &nonce)), None)
            .is_none());
        assert!(a
            .authenticate(&ConnectInfo::default(), Some(&nonce))
            .is_none());
    }

    #[test]
    fn publish_filters() {
        let f = perms(&["foo.>", "bar"], &["foo.secret"]);
        assert!(f.allows_literal("foo.a.b"));
        assert!(f.allows_literal("bar"));
        assert!(!f.allows_literal("baz"));
        assert!(!f.allows_literal("foo.secret"));
    }

    #[test]
    fn subscribe_filters_with_wildcards() {
        let f = perms(&["foo.*"], &["foo.secret"]);
        assert!(f.allows_subscription("foo.bar", None));
        assert!(f.allows_subscription("foo.*", Some("q")));
        assert!(!f.allows_subscription("foo.>", None));
        assert!(!f.allows_subscription("foo.secret", None));
        let q = perms(&["qq.* grp"], &[]);
        assert!(q.allows_subscription("qq.a", Some("grp")));
        assert!(!q.allows_subscription("qq.a", None));
        assert!(!q.allows_subscription("qq.a", Some("other")));
        assert!(f.needs_delivery_check("foo.*"));
        assert!(!f.needs_delivery_check("foo.bar"));
    }

    #[test]
    fn users_tokens_and_no_auth_user() {
        let o = Options {
            username: Some("derek".into()),
            password: Some("porkchop".into()),
            no_auth_user: Some("derek".into()),
            ..Default::default()
        };
        let a = AuthConfig::from_options(&o);
        assert!(a.required());
        let ci = |u: Option<&str>, p: Option<&str>| ConnectInfo {
            user: u.map(Into::into),
            pass: p.map(Into::into),
            ..Default::default()
        };
        assert!(a
            .authenticate_plain(&ci(Some("derek"), Some("porkchop")))
            .is_some());
        assert!(a
            .authenticate_plain(&ci(Some("derek"), Some("nope")))
            .is_none());
        assert!(a
            .authenticate_plain(&ci(Some("x"), Some("porkchop")))
            .is_none());
        let anon = a.authenticate_plain(&ci(None, None)).unwrap();
        assert_eq!(anon.user.as_deref(), Some("derek"));

        let o = Options {
            authorization: Some("s3cr3t".into()),
            ..Default::default()
        };
        let a = AuthConfig::from_options(&o);
        let tok = |t: &str| ConnectInfo {
            auth_token: Some(t.into()),
            ..Default::default()
        };
        assert!(a.authenticate_plain(&tok("s3cr3t")).is_some());
        assert!(a.authenticate_plain(&tok("s3cr3")).is_none());
        assert!(a.authenticate_plain(&ConnectInfo::default()).is_none());
    }

    #[test]
    fn bcrypt_passwords() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let o = Options {
            username: Some("u".into()),
            password: Some(hash),
            ..Default::default()
        };
        let a = AuthConfig::from_options(&o);
        let ci = ConnectInfo {
            user: Some("u".into()),
            pass: Some("pw".into()),
            ..Default::default()
        };
        assert!(a.needs_slow_check(&ci));
        assert!(a.authenticate_plain(&ci).is_some());
    }
}
