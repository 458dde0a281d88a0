//! JWT operator mode: an operator, accounts from `resolver_preload`, users with credentials
//! made here (nkeys + hand-signed JWTs), checked with async-nats and raw transcripts.

mod common;

use std::time::Duration;

use async_nats::ConnectOptions;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::StreamExt;
use nkeys::KeyPair;
use serde_json::{json, Value};

use common::{sync, Raw, TestServer};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Signs `claims` as `signer` (sets `iss`, and `iat` unless given).
fn sign(signer: &KeyPair, mut claims: Value) -> String {
    claims["iss"] = signer.public_key().into();
    if claims.get("iat").is_none() {
        claims["iat"] = (now() - 10).into();
    }
    claims["jti"] = format!("{}", rand_id()).into();
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{body}");
    let sig = URL_SAFE_NO_PAD.encode(signer.sign(signed.as_bytes()).unwrap());
    format!("{signed}.{sig}")
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(1);
    h.finish()
}

fn creds(jwt: &str, user: &KeyPair) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
        user.seed().unwrap()
    )
}

struct World {
    op: KeyPair,
    a: KeyPair,
    a_scoped: KeyPair,
    b: KeyPair,
    sys: KeyPair,
    server: TestServer,
}

fn account(op: &KeyPair, acc: &KeyPair, name: &str, nats: Value) -> String {
    let mut n = nats;
    n["type"] = "account".into();
    n["version"] = 2.into();
    sign(
        op,
        json!({"sub": acc.public_key(), "name": name, "nats": n}),
    )
}

/// A self-signed operator JWT naming `sys` as the system account.
fn operator_jwt(op: &KeyPair, sys: &KeyPair) -> String {
    sign(
        op,
        json!({"sub": op.public_key(), "name": "OP", "nats": {"type": "operator", "version": 2, "system_account": sys.public_key()}}),
    )
}

fn user(signer: &KeyPair, user: &KeyPair, nats: Value) -> String {
    let mut n = nats;
    n["type"] = "user".into();
    n["version"] = 2.into();
    sign(
        signer,
        json!({"sub": user.public_key(), "name": "u", "nats": n}),
    )
}

fn world(revoked: Option<&KeyPair>) -> World {
    let op = KeyPair::new_operator();
    let (a, a_scoped, b, sys) = (
        KeyPair::new_account(),
        KeyPair::new_account(),
        KeyPair::new_account(),
        KeyPair::new_account(),
    );
    let op_jwt = operator_jwt(&op, &sys);
    let mut revocations = json!({});
    if let Some(u) = revoked {
        revocations[u.public_key()] = now().into();
    }
    let a_jwt = account(
        &op,
        &a,
        "A",
        json!({
            "limits": {"conn": 3, "subs": 3, "payload": 64, "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1},
            "signing_keys": [{"kind": "user_scope", "key": a_scoped.public_key(), "template": {"pub": {"allow": ["scoped.>"]}, "sub": {"allow": ["scoped.>", "_INBOX.>"]}}}],
            "exports": [{"name": "orders", "subject": "orders.>", "type": "stream"}, {"name": "q", "subject": "q", "type": "service"}],
            "revocations": revocations,
        }),
    );
    let b_jwt = account(
        &op,
        &b,
        "B",
        json!({
            "imports": [{"name": "orders", "subject": "orders.>", "account": a.public_key(), "local_subject": "a.orders.>", "type": "stream"},
                        {"name": "q", "subject": "q", "account": a.public_key(), "local_subject": "ask", "type": "service"}],
        }),
    );
    let sys_jwt = account(&op, &sys, "SYS", json!({}));
    let config = format!(
        "operator: {op_jwt}\nresolver: MEMORY\njetstream {{ store_dir: js }}\nresolver_preload: {{\n  {}: {a_jwt}\n  {}: {b_jwt}\n  {}: {sys_jwt}\n}}\n",
        a.public_key(),
        b.public_key(),
        sys.public_key()
    );
    let server = TestServer::with_config(&config, &[]);
    World {
        op,
        a,
        a_scoped,
        b,
        sys,
        server,
    }
}

async fn connect(w: &World, jwt: &str, u: &KeyPair) -> Result<async_nats::Client, String> {
    connect_creds(&w.server.url(), &creds(jwt, u)).await
}

/// Connects to `url` with a credentials file's text.
async fn connect_creds(url: &str, creds: &str) -> Result<async_nats::Client, String> {
    ConnectOptions::with_credentials(creds)
        .map_err(|e| e.to_string())?
        .connect(url)
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn users_connect_with_credentials_and_get_their_permissions() {
    let w = world(None);
    let (ua, ub) = (KeyPair::new_user(), KeyPair::new_user());
    let a = connect(
        &w,
        &user(&w.a, &ua, json!({"pub": {"allow": ["orders.>", "_R_.>", "natrium.test.sync"]}, "sub": {"deny": ["secret"]}})),
        &ua,
    )
    .await
    .unwrap();
    let b = connect(&w, &user(&w.b, &ub, json!({})), &ub).await.unwrap();

    // Stream import through the JWTs: B sees A's orders under `a.orders.>`.
    let mut imported = b.subscribe("a.orders.>").await.unwrap();
    sync(&b).await;
    a.publish("orders.1", "x".into()).await.unwrap();
    sync(&a).await;
    let m = tokio::time::timeout(Duration::from_secs(2), imported.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.subject.as_str(), "a.orders.1");

    // Service import: B asks A as `ask`.
    let mut svc = a.subscribe("q").await.unwrap();
    sync(&a).await;
    let responder = {
        let a = a.clone();
        tokio::spawn(async move {
            let m = svc.next().await.unwrap();
            a.publish(m.reply.unwrap(), "answer".into()).await.unwrap();
            a.flush().await.unwrap();
        })
    };
    let r = b.request("ask", "?".into()).await.unwrap();
    assert_eq!(r.payload, "answer");
    responder.await.unwrap();

    // User permissions from the JWT, with nats-server's log line.
    drop(a);
    let perm_user = KeyPair::new_user();
    let jwt = user(&w.a, &perm_user, json!({"pub": {"allow": ["ok"]}}));
    let nc = connect(&w, &jwt, &perm_user).await.unwrap();
    nc.publish("nope", "x".into()).await.unwrap();
    nc.flush().await.unwrap();
    let logged = w.server.wait_for_log(
        "Publish Violation - Subject \"nope\"",
        Duration::from_secs(3),
    );
    assert!(logged.is_some(), "{}", w.server.log_text());
}

#[tokio::test]
async fn bad_credentials_are_refused() {
    let revoked = KeyPair::new_user();
    let w = world(Some(&revoked));
    let u = KeyPair::new_user();
    let good = user(&w.a, &u, json!({}));
    // Signed by a key the account does not know.
    let stranger = KeyPair::new_account();
    let odd = user(&stranger, &u, json!({"issuer_account": w.a.public_key()}));
    assert!(connect(&w, &odd, &u).await.is_err());
    // Right JWT, wrong seed: the nonce signature does not verify.
    assert!(connect(&w, &good, &KeyPair::new_user()).await.is_err());
    // Expired.
    let expired = sign(
        &w.a,
        json!({"sub": u.public_key(), "exp": now() - 5, "nats": {"type": "user", "version": 2}}),
    );
    assert!(connect(&w, &expired, &u).await.is_err());
    // Revoked by the account JWT.
    let r = user(&w.a, &revoked, json!({}));
    assert!(connect(&w, &r, &revoked).await.is_err());
    // An account the resolver does not have.
    let nowhere = KeyPair::new_account();
    assert!(connect(&w, &user(&nowhere, &u, json!({})), &u)
        .await
        .is_err());
    // Raw: no JWT at all, and garbage.
    for connect in [
        "CONNECT {\"verbose\":false}\r\n".to_string(),
        "CONNECT {\"verbose\":false,\"jwt\":\"abc.def.ghi\",\"sig\":\"x\"}\r\n".to_string(),
    ] {
        let (mut c, info) = Raw::connect(&w.server.addr()).await;
        assert!(info.contains("\"nonce\":\""), "{info}");
        c.send(&connect).await;
        c.expect("-ERR 'Authorization Violation'").await;
        assert!(c.closed().await);
    }
    // The good one still works; a bearer token needs no signature.
    connect(&w, &good, &u).await.unwrap();
    let bearer = user(&w.a, &u, json!({"bearer_token": true}));
    let (mut c, _) = Raw::connect(&w.server.addr()).await;
    c.send(&format!(
        "CONNECT {{\"verbose\":false,\"jwt\":\"{bearer}\"}}\r\nPING\r\n"
    ))
    .await;
    c.expect("PONG").await;
    let _ = (&w.op, &w.b, &w.sys);
}

#[tokio::test]
async fn scoped_signing_keys_apply_their_template() {
    let w = world(None);
    let u = KeyPair::new_user();
    let jwt = user(&w.a_scoped, &u, json!({"issuer_account": w.a.public_key()}));
    let (mut c, info) = Raw::connect(&w.server.addr()).await;
    let nonce = info
        .split("\"nonce\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let sig = URL_SAFE_NO_PAD.encode(u.sign(nonce.as_bytes()).unwrap());
    c.send(&format!(
        "CONNECT {{\"verbose\":false,\"jwt\":\"{jwt}\",\"sig\":\"{sig}\"}}\r\nPUB scoped.x 1\r\na\r\nPUB other 1\r\nb\r\nPING\r\n"
    ))
    .await;
    c.expect("-ERR 'Permissions Violation for Publish to \"other\"'")
        .await;
    c.expect("PONG").await;
    // A scoped user may not carry permissions of its own.
    let bad = user(
        &w.a_scoped,
        &u,
        json!({"issuer_account": w.a.public_key(), "pub": {"allow": [">"]}}),
    );
    assert!(connect(&w, &bad, &u).await.is_err());
}

#[tokio::test]
async fn account_and_user_limits() {
    let w = world(None);
    // Account A: 3 connections, 3 subscriptions, 64-byte payloads.
    let mut keep = Vec::new();
    for _ in 0..2 {
        let u = KeyPair::new_user();
        keep.push(connect(&w, &user(&w.a, &u, json!({})), &u).await.unwrap());
    }
    let bearer = |u: &KeyPair| {
        let jwt = user(&w.a, u, json!({"bearer_token": true}));
        format!("CONNECT {{\"verbose\":false,\"jwt\":\"{jwt}\"}}\r\nPING\r\n")
    };
    let (mut third, _) = Raw::connect(&w.server.addr()).await;
    third.send(&bearer(&KeyPair::new_user())).await;
    third.expect("PONG").await;
    let (mut c, _) = Raw::connect(&w.server.addr()).await;
    c.send(&bearer(&KeyPair::new_user())).await;
    c.expect("-ERR 'maximum account active connections exceeded'")
        .await;
    assert!(c.closed().await);
    // The account's payload limit applies to its users.
    let big = "x".repeat(65);
    third.send(&format!("PUB a 65\r\n{big}\r\n")).await;
    third.expect("-ERR 'Maximum Payload Violation'").await;
    assert!(third.closed().await);

    // User limits (account B has none of its own): one subscription, 64-byte payloads.
    let u = KeyPair::new_user();
    let jwt = user(
        &w.b,
        &u,
        json!({"bearer_token": true, "subs": 1, "payload": 64}),
    );
    let (mut c, _) = Raw::connect(&w.server.addr()).await;
    c.send(&format!(
        "CONNECT {{\"verbose\":false,\"jwt\":\"{jwt}\"}}\r\nSUB a 1\r\nSUB b 2\r\nPING\r\n"
    ))
    .await;
    c.expect("-ERR 'maximum subscriptions exceeded'").await;
    c.expect("PONG").await;
    let big = "x".repeat(65);
    c.send(&format!("PUB a 65\r\n{big}\r\n")).await;
    c.expect("-ERR 'Maximum Payload Violation'").await;
    assert!(c.closed().await);
}

#[tokio::test]
async fn expiring_credentials_close_the_connection() {
    let w = world(None);
    let u = KeyPair::new_user();
    let jwt = sign(
        &w.a,
        json!({"sub": u.public_key(), "exp": now() + 2, "nats": {"type": "user", "version": 2, "bearer_token": true}}),
    );
    let (mut c, _) = Raw::connect(&w.server.addr()).await;
    c.send(&format!(
        "CONNECT {{\"verbose\":false,\"jwt\":\"{jwt}\"}}\r\nPING\r\n"
    ))
    .await;
    c.expect("PONG").await;
    c.expect("-ERR 'User Authentication Expired'").await;
    assert!(c.closed().await);
}

#[tokio::test]
async fn jetstream_follows_the_account_jwt() {
    let w = world(None);
    let (ua, ub) = (KeyPair::new_user(), KeyPair::new_user());
    let a = connect(&w, &user(&w.a, &ua, json!({})), &ua).await.unwrap();
    let b = connect(&w, &user(&w.b, &ub, json!({})), &ub).await.unwrap();
    let info = |nc: async_nats::Client| async move {
        let r = nc.request("$JS.API.INFO", "".into()).await.unwrap();
        serde_json::from_slice::<Value>(&r.payload).unwrap()
    };
    let ia = info(a.clone()).await;
    assert!(ia.get("error").is_none(), "{ia}");
    let ib = info(b.clone()).await;
    assert_eq!(ib["error"]["err_code"], 10039, "{ib}");
}

/// Full resolver: accounts pushed at run time over `$SYS.REQ.CLAIMS.UPDATE`, listed,
/// looked up, updated (revoking a user closes its connection), kept across a restart,
/// and deleted.
#[tokio::test]
async fn full_resolver_takes_accounts_at_run_time() {
    let op = KeyPair::new_operator();
    let sys = KeyPair::new_account();
    let op_jwt = operator_jwt(&op, &sys);
    let sys_jwt = account(&op, &sys, "SYS", json!({}));
    let dir = common::temp_dir("jwt-resolver");
    let config = format!(
        "operator: {op_jwt}\njetstream {{ store_dir: js }}\nresolver: {{ type: full, dir: {:?}, allow_delete: true }}\nresolver_preload: {{ {}: {sys_jwt} }}\n",
        dir.join("jwt").display().to_string(),
        sys.public_key()
    );
    let s = TestServer::with_config(&config, &[]);
    let admin_user = KeyPair::new_user();
    let admin_creds = creds(&user(&sys, &admin_user, json!({})), &admin_user);
    let admin = connect_creds(&s.url(), &admin_creds).await.unwrap();
    let ask = |subject: &'static str, body: String| {
        let admin = admin.clone();
        async move {
            let m = admin.request(subject, body.into()).await.unwrap();
            m.payload
        }
    };

    // A new account, with JetStream.
    let x = KeyPair::new_account();
    let x_jwt = account(
        &op,
        &x,
        "X",
        json!({"limits": {"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}}),
    );
    let r: Value =
        serde_json::from_slice(&ask("$SYS.REQ.CLAIMS.UPDATE", x_jwt.clone()).await).unwrap();
    assert_eq!(r["data"]["message"], "jwt updated", "{r}");
    assert_eq!(r["data"]["account"], x.public_key().as_str());
    let bad: Value =
        serde_json::from_slice(&ask("$SYS.REQ.CLAIMS.UPDATE", "garbage".into()).await).unwrap();
    assert_eq!(bad["error"]["code"], 500, "{bad}");

    let xu = KeyPair::new_user();
    let x_creds = creds(&user(&x, &xu, json!({})), &xu);
    let xc = connect_creds(&s.url(), &x_creds).await.unwrap();
    let info = xc.request("$JS.API.INFO", "".into()).await.unwrap();
    let v: Value = serde_json::from_slice(&info.payload).unwrap();
    assert!(v.get("error").is_none(), "{v}");

    let list: Value =
        serde_json::from_slice(&ask("$SYS.REQ.CLAIMS.LIST", String::new()).await).unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(ids.contains(&x.public_key().as_str()), "{list}");
    let subject: &'static str =
        Box::leak(format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.LOOKUP", x.public_key()).into_boxed_str());
    assert_eq!(ask(subject, String::new()).await, x_jwt.as_bytes());

    // Revoke the user: its live connection is closed.
    let mut revocations = json!({});
    revocations[xu.public_key()] = now().into();
    let revoking = account(
        &op,
        &x,
        "X",
        json!({"revocations": revocations, "limits": {"mem_storage": -1, "disk_storage": -1}}),
    );
    let (mut raw, info) = Raw::connect(&s.addr()).await;
    let nonce = info
        .split("\"nonce\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let sig = URL_SAFE_NO_PAD.encode(xu.sign(nonce.as_bytes()).unwrap());
    let xu_jwt = user(&x, &xu, json!({}));
    raw.send(&format!(
        "CONNECT {{\"verbose\":false,\"jwt\":\"{xu_jwt}\",\"sig\":\"{sig}\"}}\r\nPING\r\n"
    ))
    .await;
    raw.expect("PONG").await;
    let r: Value = serde_json::from_slice(&ask("$SYS.REQ.CLAIMS.UPDATE", revoking).await).unwrap();
    assert_eq!(r["data"]["message"], "jwt updated", "{r}");
    raw.expect("-ERR 'User Authentication Revoked'").await;
    assert!(raw.closed().await);
    drop((xc, admin));
    drop(s);

    // The pushed account survives a restart (the resolver directory is the server's).
    let s2 = TestServer::with_config(&config, &[]);
    let y = KeyPair::new_user();
    let y_creds = creds(&user(&x, &y, json!({})), &y);
    connect_creds(&s2.url(), &y_creds).await.unwrap();

    // Delete it with an operator-signed request.
    let admin = connect_creds(&s2.url(), &admin_creds).await.unwrap();
    let del = sign(
        &op,
        json!({"sub": op.public_key(), "nats": {"type": "generic", "version": 2, "accounts": [x.public_key()]}}),
    );
    let m = admin
        .request("$SYS.REQ.CLAIMS.DELETE", del.into())
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(v["data"]["message"], "deleted 1 accounts", "{v}");
    assert!(connect_creds(&s2.url(), &y_creds).await.is_err());
    assert!(dir
        .join("jwt")
        .join(format!("{}.jwt.deleted", x.public_key()))
        .exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn user_jwt_source_networks_and_connection_types() {
    let w = world(None);
    let u = KeyPair::new_user();
    let elsewhere = user(&w.a, &u, json!({"src": ["10.0.0.0/8"]}));
    assert!(connect(&w, &elsewhere, &u).await.is_err());
    let here = user(&w.a, &u, json!({"src": ["127.0.0.0/8", "::1/128"]}));
    connect(&w, &here, &u).await.unwrap();
    let ws_only = user(&w.a, &u, json!({"allowed_connection_types": ["WEBSOCKET"]}));
    assert!(connect(&w, &ws_only, &u).await.is_err());
    let standard = user(&w.a, &u, json!({"allowed_connection_types": ["STANDARD"]}));
    connect(&w, &standard, &u).await.unwrap();
}

#[tokio::test]
async fn full_resolver_limit_refuses_more_accounts() {
    let op = KeyPair::new_operator();
    let sys = KeyPair::new_account();
    let op_jwt = sign(
        &op,
        json!({"sub": op.public_key(), "nats": {"type": "operator", "version": 2, "system_account": sys.public_key()}}),
    );
    let sys_jwt = account(&op, &sys, "SYS", json!({}));
    let config = format!(
        "operator: {op_jwt}\nresolver: {{ type: full, dir: jwt, limit: 2 }}\nresolver_preload: {{ {}: {sys_jwt} }}\n",
        sys.public_key()
    );
    let s = TestServer::with_config(&config, &[]);
    let admin_user = KeyPair::new_user();
    let admin_creds = creds(&user(&sys, &admin_user, json!({})), &admin_user);
    let admin = connect_creds(&s.url(), &admin_creds).await.unwrap();
    let push = |jwt: String| {
        let admin = admin.clone();
        async move {
            let m = admin
                .request("$SYS.REQ.CLAIMS.UPDATE", jwt.into())
                .await
                .unwrap();
            serde_json::from_slice::<Value>(&m.payload).unwrap()
        }
    };
    let x = KeyPair::new_account();
    let r = push(account(&op, &x, "X", json!({}))).await;
    assert_eq!(r["data"]["message"], "jwt updated", "{r}");
    // Updating a known account is fine at the limit; a third account is not.
    let r = push(account(&op, &x, "X2", json!({}))).await;
    assert_eq!(r["data"]["message"], "jwt updated", "{r}");
    let y = KeyPair::new_account();
    let r = push(account(&op, &y, "Y", json!({}))).await;
    assert_eq!(r["error"]["code"], 500, "{r}");
}

/// A private export (`token_req`) admits an importer only with an activation token signed
/// by the exporter (or its signing key) for that importer, unexpired and not revoked.
#[tokio::test]
async fn private_exports_need_activation_tokens() {
    let op = KeyPair::new_operator();
    let (exp, exp_sk, sys) = (
        KeyPair::new_account(),
        KeyPair::new_account(),
        KeyPair::new_account(),
    );
    let importers: Vec<KeyPair> = (0..5).map(|_| KeyPair::new_account()).collect();
    let op_jwt = operator_jwt(&op, &sys);
    let activation = |signer: &KeyPair, importer: &KeyPair, exp_at: i64| {
        let mut claims = json!({"sub": importer.public_key(), "name": "act",
            "nats": {"type": "activation", "version": 2, "subject": "private.>", "kind": "stream"}});
        if exp_at != 0 {
            claims["exp"] = exp_at.into();
        }
        if signer.public_key() != exp.public_key() {
            claims["nats"]["issuer_account"] = exp.public_key().into();
        }
        sign(signer, claims)
    };
    // Importer 4 holds a good token, but the export revokes activations issued before now.
    let exp_jwt = account(
        &op,
        &exp,
        "EXP",
        json!({
            "signing_keys": [exp_sk.public_key()],
            "exports": [{"name": "p", "subject": "private.>", "type": "stream", "token_req": true,
                         "revocations": {importers[4].public_key(): now() + 5}}],
        }),
    );
    let tokens = [
        Some(activation(&exp, &importers[0], 0)),         // good
        Some(activation(&exp_sk, &importers[1], 0)),      // good, by a signing key
        Some(activation(&exp, &importers[0], 0)),         // for someone else
        Some(activation(&exp, &importers[3], now() - 5)), // expired
        Some(activation(&exp, &importers[4], 0)),         // revoked
    ];
    let mut preload = format!("  {}: {exp_jwt}\n", exp.public_key());
    for (i, (imp, token)) in importers.iter().zip(tokens.iter()).enumerate() {
        let mut import = json!({"name": "p", "subject": "private.>", "account": exp.public_key(), "type": "stream"});
        if let Some(t) = token {
            import["token"] = t.clone().into();
        }
        let jwt = account(&op, imp, &format!("I{i}"), json!({ "imports": [import] }));
        preload.push_str(&format!("  {}: {jwt}\n", imp.public_key()));
    }
    preload.push_str(&format!(
        "  {}: {}\n",
        sys.public_key(),
        account(&op, &sys, "SYS", json!({}))
    ));
    let config =
        format!("operator: {op_jwt}\nresolver: MEMORY\nresolver_preload: {{\n{preload}}}\n");
    let server = TestServer::with_config(&config, &[]);
    let connect_to = |acc: &KeyPair| {
        let u = KeyPair::new_user();
        let jwt = user(acc, &u, json!({}));
        let url = server.url();
        async move { connect_creds(&url, &creds(&jwt, &u)).await.unwrap() }
    };
    let publisher = connect_to(&exp).await;
    let mut subs = Vec::new();
    for imp in &importers {
        let nc = connect_to(imp).await;
        let sub = nc.subscribe("private.x").await.unwrap();
        sync(&nc).await;
        subs.push((nc, sub));
    }
    publisher
        .publish("private.x", "secret".into())
        .await
        .unwrap();
    sync(&publisher).await;
    for (i, (nc, sub)) in subs.iter_mut().enumerate() {
        sync(nc).await;
        let got = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
        assert_eq!(got.is_ok(), i < 2, "importer {i}");
    }
}

/// JetStream limits from a JWT's `tiered_limits` (R1 on one server): enforced, and shown
/// under `tiers` in account info with zeroed account-wide limits, as nats-server shows them.
#[tokio::test]
async fn tiered_jetstream_limits() {
    let op = KeyPair::new_operator();
    let (acc, sys) = (KeyPair::new_account(), KeyPair::new_account());
    let op_jwt = operator_jwt(&op, &sys);
    let acc_jwt = account(
        &op,
        &acc,
        "T",
        json!({"limits": {"tiered_limits": {"R1": {"mem_storage": 1048576, "disk_storage": 1048576,
            "streams": 2, "consumer": 4, "disk_max_stream_bytes": 4096}}}}),
    );
    let sys_jwt = account(&op, &sys, "SYS", json!({}));
    let config = format!(
        "operator: {op_jwt}\nresolver: MEMORY\njetstream {{ store_dir: js }}\nresolver_preload: {{\n  {}: {acc_jwt}\n  {}: {sys_jwt}\n}}\n",
        acc.public_key(),
        sys.public_key()
    );
    let server = TestServer::with_config(&config, &[]);
    let u = KeyPair::new_user();
    let nc = connect_creds(&server.url(), &creds(&user(&acc, &u, json!({})), &u))
        .await
        .unwrap();
    let js = async_nats::jetstream::new(nc.clone());
    let mk = |name: &str, max_bytes: i64| async_nats::jetstream::stream::Config {
        name: name.into(),
        subjects: vec![name.to_lowercase()],
        max_bytes,
        ..Default::default()
    };
    let err = js.create_stream(mk("BIG", 8192)).await.unwrap_err();
    assert!(err.to_string().contains("10122"), "{err}");
    js.create_stream(mk("S1", 4096)).await.unwrap();
    js.create_stream(mk("S2", 1000)).await.unwrap();
    let err = js.create_stream(mk("S3", 1000)).await.unwrap_err();
    assert!(err.to_string().contains("10027"), "{err}");
    let r = nc.request("$JS.API.INFO", "".into()).await.unwrap();
    let v: Value = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(v["limits"]["max_streams"], 0, "{v}");
    assert_eq!(v["reserved_storage"], 5096, "{v}");
    let r1 = &v["tiers"]["R1"];
    assert_eq!(r1["streams"], 2, "{v}");
    assert_eq!(r1["limits"]["max_streams"], 2, "{v}");
    assert_eq!(r1["limits"]["storage_max_stream_bytes"], 4096, "{v}");
}

async fn delivered(sub: &mut async_nats::Subscriber) -> bool {
    tokio::time::timeout(Duration::from_millis(300), sub.next())
        .await
        .is_ok()
}

/// An account JWT pushed again with new exports and imports takes effect at once: an import
/// added later starts flowing, and one removed (or whose export went away) stops.
#[tokio::test]
async fn updated_account_jwts_change_imports_live() {
    let op = KeyPair::new_operator();
    let (sys, a, b) = (
        KeyPair::new_account(),
        KeyPair::new_account(),
        KeyPair::new_account(),
    );
    let op_jwt = operator_jwt(&op, &sys);
    let sys_jwt = account(&op, &sys, "SYS", json!({}));
    let export = json!({"exports": [{"name": "e", "subject": "events.>", "type": "stream"}]});
    let a_jwt = account(&op, &a, "A", export.clone());
    let b_plain = account(&op, &b, "B", json!({}));
    let dir = common::temp_dir("jwt-links");
    let config = format!(
        "operator: {op_jwt}\nresolver: {{ type: full, dir: {:?} }}\nresolver_preload: {{ {}: {sys_jwt}\n {}: {a_jwt}\n {}: {b_plain} }}\n",
        dir.join("jwt").display().to_string(),
        sys.public_key(),
        a.public_key(),
        b.public_key()
    );
    let s = TestServer::with_config(&config, &[]);
    let admin_user = KeyPair::new_user();
    let admin = connect_creds(
        &s.url(),
        &creds(&user(&sys, &admin_user, json!({})), &admin_user),
    )
    .await
    .unwrap();
    let push = |jwt: String| {
        let admin = admin.clone();
        async move {
            let m = admin
                .request("$SYS.REQ.CLAIMS.UPDATE", jwt.into())
                .await
                .unwrap();
            let v: Value = serde_json::from_slice(&m.payload).unwrap();
            assert_eq!(v["data"]["message"], "jwt updated", "{v}");
        }
    };
    let connect_to = |acc: &KeyPair| {
        let u = KeyPair::new_user();
        let c = creds(&user(acc, &u, json!({})), &u);
        let url = s.url();
        async move { connect_creds(&url, &c).await.unwrap() }
    };
    let (pa, pb) = (connect_to(&a).await, connect_to(&b).await);
    let mut sub = pb.subscribe("events.x").await.unwrap();
    sync(&pb).await;
    pa.publish("events.x", "1".into()).await.unwrap();
    sync(&pa).await;
    assert!(!delivered(&mut sub).await, "no import yet");

    // B imports A's stream: it flows without a restart or reconnect.
    let b_importing = account(
        &op,
        &b,
        "B",
        json!({"imports": [{"name": "e", "subject": "events.>", "account": a.public_key(), "type": "stream"}]}),
    );
    push(b_importing).await;
    pa.publish("events.x", "2".into()).await.unwrap();
    sync(&pa).await;
    assert!(delivered(&mut sub).await, "import added");

    // A withdraws the export: the import stops.
    push(account(&op, &a, "A", json!({}))).await;
    pa.publish("events.x", "3".into()).await.unwrap();
    sync(&pa).await;
    assert!(!delivered(&mut sub).await, "export withdrawn");

    // And it comes back with the export.
    push(account(&op, &a, "A", export.clone())).await;
    pa.publish("events.x", "4".into()).await.unwrap();
    sync(&pa).await;
    assert!(delivered(&mut sub).await, "export restored");

    // Mappings follow the JWT too: A maps `alias` onto the exported subject.
    let mut mapped = export;
    mapped["mappings"] = json!({"alias": [{"subject": "events.x", "weight": 100}]});
    pa.publish("alias", "5".into()).await.unwrap();
    sync(&pa).await;
    assert!(!delivered(&mut sub).await, "no mapping yet");
    push(account(&op, &a, "A", mapped)).await;
    pa.publish("alias", "6".into()).await.unwrap();
    sync(&pa).await;
    assert!(delivered(&mut sub).await, "mapping added");
}
