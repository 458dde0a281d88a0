//! JWT operator mode: trusted operators, account JWTs from the resolver, and user JWT
//! authentication.
//!
//! At startup the operator JWTs are verified and every account JWT the resolver holds
//! (`resolver_preload` for `MEMORY`; the directory's `<account>.jwt` files, with the
//! preloads written there first, for `full`) is checked against them. Each account JWT
//! becomes an account entry in the options, as if the config file had declared it with
//! its exports, imports and JetStream limits, so accounts, imports and per-account
//! JetStream work the same in both modes. Users then connect with a user JWT and a
//! signature of the INFO nonce.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use natrium_config::{AccountConfig, AccountJetStream, Options, ResolverConfig};
use parking_lot::RwLock;

use crate::auth::{Authenticated, Permissions};
use crate::jwt::{AccountJwt, Operator, Trust, UserJwt};
use crate::{debug, info, warn};

/// The state of operator mode, shared by connections.
pub struct OperatorMode {
    pub trust: Trust,
    pub resolver: ResolverConfig,
    /// Account public key → its verified JWT.
    pub accounts: RwLock<HashMap<String, Arc<AccountJwt>>>,
}

/// True when the options put the server in operator mode.
pub fn enabled(opts: &Options) -> bool {
    !opts.operators.is_empty() || !opts.trusted_keys.is_empty()
}

/// Verifies operators and account JWTs, and turns the accounts into account entries of
/// `opts` (and the operator's system account into `system_account`). Errors stop the
/// server (or a reload) with a message naming the bad JWT.
pub fn expand(opts: &mut Options) -> Result<Option<Arc<OperatorMode>>, String> {
    if !enabled(opts) {
        if opts.resolver.is_some() || !opts.resolver_preload.is_empty() {
            return Err("resolver requires an operator or trusted keys".into());
        }
        return Ok(None);
    }
    if !opts.accounts.is_empty() {
        return Err("operators do not allow accounts to be configured directly".into());
    }
    if !opts.users.is_empty() || !opts.nkeys.is_empty() || opts.authorization.is_some() {
        return Err("operators do not allow authorization users to be configured directly".into());
    }
    let mut trust = Trust {
        operators: Vec::new(),
        keys: opts.trusted_keys.clone(),
    };
    for jwt in &opts.operators {
        let op = Operator::from_jwt(jwt).map_err(|e| format!("error parsing operator JWT: {e}"))?;
        trust.operators.push(op);
    }
    let resolver = opts
        .resolver
        .clone()
        .ok_or("operator mode needs a resolver (MEMORY or full)")?;
    let mut jwts: Vec<String> = opts
        .resolver_preload
        .iter()
        .map(|(_, j)| j.clone())
        .collect();
    if let ResolverConfig::Full { dir, .. } = &resolver {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("can not create resolver directory {}: {e}", dir.display()))?;
        for (key, jwt) in &opts.resolver_preload {
            write_jwt(dir, key, jwt)?;
        }
        jwts = read_dir(dir)?;
    }
    let mut accounts = HashMap::new();
    for jwt in &jwts {
        let acc =
            AccountJwt::verify(jwt, &trust).map_err(|e| format!("invalid account JWT: {e}"))?;
        accounts.insert(acc.claims.sub.clone(), Arc::new(acc));
    }
    for (key, _) in &opts.resolver_preload {
        if !accounts.contains_key(key) {
            return Err(format!(
                "preloaded account JWT for {key} has a different subject"
            ));
        }
    }
    if opts.system_account.is_none() {
        opts.system_account = trust
            .operators
            .iter()
            .find_map(|o| o.system_account.clone());
    }
    let mut keys: Vec<&String> = accounts.keys().collect();
    keys.sort();
    opts.accounts = keys
        .into_iter()
        .map(|k| account_config(&accounts[k]))
        .collect();
    Ok(Some(Arc::new(OperatorMode {
        trust,
        resolver,
        accounts: RwLock::new(accounts),
    })))
}

/// An account JWT as the config file would declare it.
pub fn account_config(a: &AccountJwt) -> AccountConfig {
    let l = &a.limits;
    AccountConfig {
        name: a.claims.sub.clone(),
        exports: a.exports(),
        imports: a.imports(),
        mappings: a.mappings(),
        jetstream: a.jetstream_enabled().then_some(AccountJetStream {
            enabled: true,
            max_memory: l.mem_storage,
            max_store: l.disk_storage,
            max_streams: l.streams,
            max_consumers: l.consumer,
            max_ack_pending: l.max_ack_pending,
            max_bytes_required: l.max_bytes_required,
            max_memory_stream_bytes: l.mem_max_stream_bytes,
            max_store_stream_bytes: l.disk_max_stream_bytes,
            tier: l.tier.clone(),
        }),
    }
}

/// Logs the trusted operators as nats-server does at startup.
pub fn log_startup(mode: &OperatorMode) {
    info!("Trusted Operators");
    for op in &mode.trust.operators {
        // nats-server prints the operator JWT's audience on this line.
        info!("  System  : {:?}", op.claims.aud);
        info!("  Operator: {:?}", op.claims.name);
        let issued = chrono::DateTime::from_timestamp(op.claims.iat, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
            .unwrap_or_default();
        info!("  Issued  : {issued}");
        let expires = if op.claims.exp > 0 {
            chrono::DateTime::from_timestamp(op.claims.exp, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
                .unwrap_or_default()
        } else {
            "Never".to_string()
        };
        info!("  Expires : {expires}");
    }
    if mode
        .trust
        .operators
        .iter()
        .all(|o| o.system_account.is_none())
    {
        warn!("Trusted Operators should utilize a System Account");
    }
    if let ResolverConfig::Full { dir, .. } = &mode.resolver {
        info!("Managing all jwt in exclusive directory {}", dir.display());
    }
}

/// What a successful user JWT login grants beyond [`Authenticated`].
#[derive(Debug, Clone, Default)]
pub struct JwtGrant {
    /// Subscriptions the user may hold (-1: no limit); the smaller of user and account.
    pub max_subs: i64,
    /// Largest payload the user may publish (-1: the server's limit).
    pub max_payload: i64,
    /// Connections the account may have (-1: no limit).
    pub max_conns: i64,
    /// When the login ends (Unix seconds) and which credential expires then.
    pub expires: Option<(i64, Expiry)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    User,
    Account,
}

/// Checks a CONNECT carrying a user JWT; the `Err` text is nats-server's debug reason.
pub fn authenticate(
    mode: &OperatorMode,
    jwt: Option<&str>,
    sig: Option<&str>,
    nonce: Option<&str>,
    peer: (std::net::IpAddr, &str),
) -> Result<(Authenticated, JwtGrant), String> {
    let jwt = jwt.ok_or("Authentication requires a user JWT")?;
    let mut user = UserJwt::decode(jwt)?;
    let now = chrono::Utc::now().timestamp();
    if let Some(problem) = user.claims.time_problem(now) {
        return Err(format!("User JWT no longer valid: &{{Issues:[{problem}]}}"));
    }
    let acc = mode
        .accounts
        .read()
        .get(&user.account)
        .cloned()
        .ok_or("Account JWT lookup error: account missing")?;
    if !mode.trust.trusts(&acc.claims.iss) {
        return Err("Account JWT not signed by trusted operator".into());
    }
    user.admit(&acc)?;
    user.check_connection(peer.0, peer.1, chrono::Utc::now())?;
    if acc.claims.time_problem(now).is_some() {
        return Err("Account JWT has expired".into());
    }
    if !user.bearer {
        let sig = sig.ok_or("Signature missing")?;
        if !crate::auth::verify_nonce_signature(&user.claims.sub, nonce.unwrap_or(""), sig) {
            return Err("Signature not verified".into());
        }
    }
    debug!(
        "Authenticated JWT: Client {:?} (claim-name: {:?}) signed with {:?} by Account {:?} (claim-name: {:?})",
        user.claims.sub,
        user.claims.name,
        user.claims.iss,
        acc.claims.sub,
        acc.claims.name
    );
    let min = |a: i64, b: i64| match (a < 0, b < 0) {
        (true, true) => -1,
        (true, false) => b,
        (false, true) => a,
        (false, false) => a.min(b),
    };
    let expires = [
        (user.claims.exp, Expiry::User),
        (acc.claims.exp, Expiry::Account),
    ]
    .into_iter()
    .filter(|(t, _)| *t > 0)
    .min_by_key(|(t, _)| *t);
    let grant = JwtGrant {
        max_subs: min(user.subs, acc.limits.subs),
        max_payload: min(user.payload, acc.limits.payload),
        max_conns: acc.limits.conn,
        expires,
    };
    let auth = Authenticated {
        user: Some(user.claims.sub.clone()),
        permissions: user
            .permissions
            .as_ref()
            .map(|p| Arc::new(Permissions::from_config(p))),
        account: Some(acc.claims.sub.clone()),
    };
    Ok((auth, grant))
}

fn write_jwt(dir: &Path, key: &str, jwt: &str) -> Result<(), String> {
    let path = dir.join(format!("{key}.jwt"));
    natrium_jetstream::write_atomic(&path, jwt.as_bytes())
        .map_err(|e| format!("can not write {}: {e}", path.display()))
}

/// Every `<key>.jwt` in the resolver directory.
fn read_dir(dir: &Path) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("can not read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("jwt") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("can not read {}: {e}", path.display()))?;
        out.push(text.trim().to_string());
    }
    Ok(out)
}

/// Applies an account JWT pushed with `$SYS.REQ.CLAIMS.UPDATE` (or the account-scoped
/// form, which names the account it expects). Stores it (full resolver), then updates the
/// live account (its clients re-check their credentials, so revocations and expiry take
/// effect) or creates it with its imports and JetStream. Returns the account key, or the
/// account (`n/a` when unknown) and nats-server's error description.
pub fn update_claims(
    server: &Arc<crate::server::Server>,
    mode: &OperatorMode,
    body: &[u8],
    expected: Option<&str>,
) -> Result<String, (String, String)> {
    let who = || expected.unwrap_or("n/a").to_string();
    let text = std::str::from_utf8(body).unwrap_or("").trim();
    if text.is_empty() {
        return Err((who(), "jwt update error - request body is empty".into()));
    }
    let acc = AccountJwt::verify(text, &mode.trust)
        .map_err(|e| (who(), format!("jwt update resulted in error - {e}")))?;
    let key = acc.claims.sub.clone();
    if expected.is_some_and(|e| e != key) {
        return Err((
            who(),
            "jwt update resulted in error - subject does not match jwt content".into(),
        ));
    }
    match &mode.resolver {
        ResolverConfig::Full { dir, limit, .. } => {
            let known = mode.accounts.read().contains_key(&key);
            if !known && *limit > 0 && mode.accounts.read().len() as i64 >= *limit {
                return Err((
                    key.clone(),
                    format!(
                        "jwt update resulted in error - resolver limit of {limit} accounts reached"
                    ),
                ));
            }
            write_jwt(dir, &key, text).map_err(|e| (key.clone(), e))?;
        }
        ResolverConfig::Memory => {
            // A memory resolver only updates accounts it already has.
            if !mode.accounts.read().contains_key(&key) {
                return Ok(key);
            }
        }
    }
    let acc = Arc::new(acc);
    let existed = mode
        .accounts
        .write()
        .insert(key.clone(), acc.clone())
        .is_some();
    debug!("jwt updated - {key}");
    if existed {
        // New exports, imports, mappings and JetStream limits take effect at once;
        // connections re-check their user.
        let cfg = account_config(&acc);
        if let (Some(account), Some(js_cfg)) = (server.account(&key), cfg.jetstream.as_ref()) {
            if let Some(js) = account.jetstream.get() {
                js.set_limits(crate::jetstream::account_limits(js_cfg));
            }
        }
        server.update_account_links(cfg);
        server.reauth_account(&key);
        return Ok(key);
    }
    let (account, _) = server.add_account(account_config(&acc));
    if server.jetstream_enabled.get().is_some() {
        let opts = server.options();
        crate::jetstream::enable_account(server, &account, acc.jetstream_enabled(), &opts)
            .map_err(|e| (key.clone(), e))?;
    }
    Ok(key)
}

/// The stored JWT of `account`, if any.
pub fn lookup(mode: &OperatorMode, account: &str) -> Option<String> {
    mode.accounts.read().get(account).map(|a| a.raw.clone())
}

/// Every account key the resolver holds, sorted.
pub fn list(mode: &OperatorMode) -> Vec<String> {
    let mut keys: Vec<String> = mode.accounts.read().keys().cloned().collect();
    keys.sort();
    keys
}

/// `$SYS.REQ.CLAIMS.DELETE`: a JWT by a trusted operator key (`iss` == `sub`) listing
/// `nats.accounts`. The files are renamed `.jwt.deleted` (removed with `hard_delete`) and
/// the accounts' clients lose their login. Returns how many accounts were deleted.
pub fn delete_claims(
    server: &crate::server::Server,
    mode: &OperatorMode,
    body: &[u8],
) -> Result<usize, String> {
    let ResolverConfig::Full {
        dir,
        allow_delete,
        hard_delete,
        ..
    } = &mode.resolver
    else {
        return Err("delete must be enabled in server config".into());
    };
    let text = std::str::from_utf8(body).unwrap_or("").trim();
    let claims = crate::jwt::decode(text).map_err(|_| "malformed request".to_string())?;
    let fail = |why: &str| format!("delete accounts request by {} failed - {why}", claims.iss);
    if !allow_delete {
        return Err(fail("delete must be enabled in server config"));
    }
    if claims.iss != claims.sub {
        return Err(fail("not self signed"));
    }
    if !mode.trust.trusts(&claims.iss) {
        return Err(fail("not trusted"));
    }
    let accounts: Vec<String> = claims
        .nats
        .get("accounts")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(serde_json::Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .ok_or_else(|| fail("malformed request"))?;
    if accounts
        .iter()
        .any(|a| server.system_account.as_deref() == Some(a.as_str()))
    {
        return Err(fail("not allowed to delete system account"));
    }
    let mut deleted = 0;
    for key in &accounts {
        let path = dir.join(format!("{key}.jwt"));
        let gone = if *hard_delete {
            std::fs::remove_file(&path)
        } else {
            std::fs::rename(&path, dir.join(format!("{key}.jwt.deleted")))
        };
        if gone.is_ok() {
            deleted += 1;
        }
        if mode.accounts.write().remove(key).is_some() {
            debug!("Disable account {key} due to remove");
            server.reauth_account(key);
        }
    }
    Ok(deleted)
}
