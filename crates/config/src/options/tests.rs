//! Options tests, using the configurations real client test suites start nats-server with.
//! Error texts were checked against `nats-server -c FILE -t` (v2.15).

use super::*;

fn load(text: &str) -> Options {
    match Options::from_conf_str(text) {
        Ok(o) => o,
        Err(e) => panic!("config {text:?} failed:\n{e}"),
    }
}

/// The error text nats-server prints (after `nats-server: `) for a string config.
fn load_err(text: &str) -> String {
    match Options::from_conf_str(text) {
        Ok(o) => panic!("config {text:?} loaded: {o:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_match_nats_server() {
    let o = Options::default();
    assert_eq!(o.host, "0.0.0.0");
    assert_eq!(o.port, 4222);
    assert_eq!(o.max_connections, 65536);
    assert_eq!(o.max_subscriptions, 0);
    assert_eq!(o.max_control_line, 4096);
    assert_eq!(o.max_payload, 1024 * 1024);
    assert_eq!(o.max_pending, 64 * 1024 * 1024);
    assert_eq!(o.ping_interval, Duration::from_secs(120));
    assert_eq!(o.ping_max, 2);
    assert_eq!(o.write_deadline, Duration::from_secs(10));
    assert_eq!(o.auth_timeout, Duration::from_secs(2));
    assert_eq!(o.lame_duck_duration, Duration::from_secs(120));
    assert_eq!(o.lame_duck_grace_period, Duration::from_secs(10));
    assert!(o.logtime);
    assert_eq!(o.http_host, "0.0.0.0");
    assert_eq!(o.http_port, 0);
    assert!(!o.jetstream);
    assert_eq!(o.jetstream_max_memory, -1);
    assert_eq!(o.jetstream_max_store, -1);
    assert_eq!(o.sync_interval, SyncPolicy::Always);
    assert!(o.jetstream_strict);
    assert_eq!(o.connect_error_reports, 3600);
    assert_eq!(o.reconnect_error_reports, 1);
    assert!(o.unsupported.is_empty());
}

#[test]
fn ports_and_listen() {
    assert_eq!(load("port: 4333").port, 4333);
    assert_eq!(load("port: -1").port, -1);
    assert_eq!(load("port: 0").port, 4222);
    let o = load("listen: 127.0.0.1:4555");
    assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", 4555));
    let o = load("listen: \"[::1]:-1\"");
    assert_eq!((o.host.as_str(), o.port), ("::1", -1));
    let o = load("net: 127.0.0.1\nport: 5");
    assert_eq!(
        (o.host.as_str(), o.port, o.http_host.as_str()),
        ("127.0.0.1", 5, "127.0.0.1")
    );
    let o = load("http: 127.0.0.1:8222");
    assert_eq!((o.http_host.as_str(), o.http_port), ("127.0.0.1", 8222));
    assert_eq!(load("monitor_port: 8223").http_port, 8223);
    assert_eq!(load("https_port: -1").https_port, -1);
    assert_eq!(load("server_name: n1").server_name.as_deref(), Some("n1"));
    assert_eq!(
        load_err("listen: nohost"),
        ":1:0: could not parse address string \"nohost\"\n"
    );
    assert_eq!(
        load_err("server_name: \"a b\""),
        ":1:0: server name cannot contain spaces\n"
    );
}

#[test]
fn limits_and_timers() {
    let o = load("max_payload: 128KB\nping_interval: \"100ms\"\nping_max: 3\nmax_pending: 1MB");
    assert_eq!(o.max_payload, 128 * 1024);
    assert_eq!(o.ping_interval, Duration::from_millis(100));
    assert_eq!(o.ping_max, 3);
    assert_eq!(o.max_pending, 1 << 20);
    assert_eq!(load("max_payload: 1024").max_payload, 1024);
    assert_eq!(load("max_connections: 0").max_connections, -1);
    assert_eq!(load("max_conn: 10\nmax_subs: 7").max_subscriptions, 7);
    assert_eq!(
        load("write_deadline: \"2s\"").write_deadline,
        Duration::from_secs(2)
    );
    assert_eq!(
        load("lame_duck_duration: \"30s\"").lame_duck_duration,
        Duration::from_secs(30)
    );
    assert_eq!(
        load("lame_duck_grace_period: \"1s\"").lame_duck_grace_period,
        Duration::from_secs(1)
    );
    assert_eq!(
        load_err("max_payload: 4GB"),
        ":1:0: max_payload value is too big\n"
    );
    assert_eq!(
        load_err("lame_duck_duration: \"10s\""),
        ":1:0: invalid lame_duck_duration of 10s, minimum is 30 seconds\n"
    );
    assert_eq!(
        load_err("ping_interval: \"1x\""),
        ":1:0: error parsing ping_interval: time: unknown unit \"x\" in duration \"1x\"\n"
    );
}

#[test]
fn integer_durations_are_seconds_with_a_warning() {
    let o = load("ping_interval: 5");
    assert_eq!(o.ping_interval, Duration::from_secs(5));
    assert_eq!(o.config_warnings.len(), 1);
    assert_eq!(
        o.config_warnings[0].to_string(),
        ":1:0: invalid use of field \"ping_interval\": ping_interval should be converted to a duration"
    );
    // Unquoted 2m is the integer 2,000,000 in the dialect, hence 2,000,000 seconds.
    assert_eq!(
        load("ping_interval: 2m").ping_interval,
        Duration::from_secs(2_000_000)
    );
}

#[test]
fn logging() {
    let o = load("debug: true\ntrace_verbose: on\nlogtime: false\nlogfile: /tmp/x.log\nlog_size_limit: 1GB\nmax_traced_msg_len: 10\nsyslog: yes\nremote_syslog: udp://h:514\npid_file: /tmp/p\nports_file_dir: /tmp");
    assert!(o.debug && o.trace && o.trace_verbose && !o.logtime && o.syslog);
    assert_eq!(o.log_file, Some(PathBuf::from("/tmp/x.log")));
    assert_eq!(o.log_size_limit, 1 << 30);
    assert_eq!(o.max_traced_msg_len, 10);
    assert_eq!(o.remote_syslog.as_deref(), Some("udp://h:514"));
    assert_eq!(o.pid_file, Some(PathBuf::from("/tmp/p")));
    assert_eq!(o.ports_file_dir, Some(PathBuf::from("/tmp")));
}

#[test]
fn single_user_and_token() {
    let o = load("authorization { user: derek, password: porkchop, timeout: 1 }");
    assert_eq!(o.username.as_deref(), Some("derek"));
    assert_eq!(o.password.as_deref(), Some("porkchop"));
    assert_eq!(o.auth_timeout, Duration::from_secs(1));
    let o = load("authorization { token: s3cr3t, timeout: \"2.5s\" }");
    assert_eq!(o.authorization.as_deref(), Some("s3cr3t"));
    assert_eq!(o.auth_timeout, Duration::from_millis(2500));
    assert_eq!(
        load("authorization { timeout: 0.5 }").auth_timeout,
        Duration::from_millis(500)
    );
    assert_eq!(
        load_err("authorization { user: a, token: b }"),
        ":1:0: Cannot have a user/pass and token\n"
    );
    assert_eq!(
        load_err("authorization { user: a, users: [] }"),
        ":1:0: Can not have a single user/pass and a users array\n"
    );
}

#[test]
fn users_with_permissions() {
    let o = load(
        "authorization { users = [ {user: alice, password: foo, permissions: {publish: {allow: [\"foo.>\"]}, subscribe: {deny: \"bar\"}}} ] }",
    );
    assert_eq!(o.users.len(), 1);
    let u = &o.users[0];
    assert_eq!(
        (u.username.as_str(), u.password.as_deref()),
        ("alice", Some("foo"))
    );
    let p = u.permissions.as_ref().unwrap();
    assert_eq!(p.publish.as_ref().unwrap().allow, vec!["foo.>".to_string()]);
    assert!(p.publish.as_ref().unwrap().deny.is_empty());
    assert_eq!(p.subscribe.as_ref().unwrap().deny, vec!["bar".to_string()]);
    assert!(p.subscribe.as_ref().unwrap().allow.is_empty());
    assert!(p.response.is_none());
}

#[test]
fn list_style_permissions_and_defaults() {
    let o = load(
        "authorization {\n default_permissions { publish: \"pub.>\" }\n users: [\n {user: a, password: x}\n {user: b, password: $2a$11$abc, permissions: { publish: [\"a\", \"b\"], subscribe: \"q.* grp\" }}\n ]\n}",
    );
    let a = o.users[0].permissions.as_ref().unwrap();
    assert_eq!(a.publish.as_ref().unwrap().allow, vec!["pub.>".to_string()]);
    let b = &o.users[1];
    assert_eq!(b.password.as_deref(), Some("$2a$11$abc"));
    let bp = b.permissions.as_ref().unwrap();
    assert_eq!(
        bp.publish.as_ref().unwrap().allow,
        vec!["a".to_string(), "b".to_string()]
    );
    assert_eq!(
        bp.subscribe.as_ref().unwrap().allow,
        vec!["q.* grp".to_string()]
    );
}

#[test]
fn allow_responses() {
    let o = load("authorization { users: [ {user: a, permissions: { allow_responses: true }} ] }");
    let p = o.users[0].permissions.as_ref().unwrap();
    assert_eq!(p.response, Some(ResponsePermission::default()));
    assert_eq!(p.publish, Some(SubjectPermission::default()));
    let o = load("authorization { users: [ {user: a, permissions: { allow_responses: {max: 5, expires: \"1s\"} }} ] }");
    let r = o.users[0]
        .permissions
        .as_ref()
        .unwrap()
        .response
        .clone()
        .unwrap();
    assert_eq!((r.max_msgs, r.expires), (5, Duration::from_secs(1)));
    let o = load("authorization { users: [ {user: a, permissions: { allow_responses: {max: -1, ttl: \"-1s\"} }} ] }");
    let r = o.users[0]
        .permissions
        .as_ref()
        .unwrap()
        .response
        .clone()
        .unwrap();
    assert_eq!((r.max_msgs, r.expires), (-1, Duration::ZERO));
}

#[test]
fn nkey_users() {
    let key = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";
    let o = load(&format!("authorization {{ users: [ {{nkey: {key}}} ] }}"));
    assert_eq!(o.nkeys.len(), 1);
    assert_eq!(o.nkeys[0].nkey, key);
    assert!(o.users.is_empty());
    assert_eq!(
        load_err("authorization { users: [ {nkey: UABC} ] }"),
        ":1:26: Not a valid public nkey for a user\n"
    );
    // One character changed: the checksum no longer matches.
    let bad = key.replace("UDXU", "UDXV");
    assert!(
        load_err(&format!("authorization {{ users: [ {{nkey: {bad}}} ] }}"))
            .contains("Not a valid public nkey")
    );
}

#[test]
fn permission_errors() {
    assert_eq!(
        load_err(
            "authorization { users: [{user: a, permissions: {publish: {allow: [\"a b\"]}}}] }"
        ),
        ":1:58: subject \"a b\" is not a valid subject\n"
    );
    assert_eq!(
        load_err("authorization { users: [{user: a, permissions: {subscribe: [\"a b c\"]}}] }"),
        "subject \"a b c\" is not a valid subject\n"
    );
    assert_eq!(
        load_err("authorization { users: [{user: a, permissions: {zz: 1}}] }"),
        ":1:48: Unknown field \"zz\" parsing permissions\n"
    );
    assert_eq!(
        load_err("authorization { users: [{user: b}, {user: b}] }"),
        ":1:0: Duplicate user \"b\" detected\n"
    );
    assert_eq!(
        load_err("authorization { users: [{password: b}] }"),
        ":1:25: User entry requires a user\n"
    );
}

#[test]
fn jetstream_forms() {
    assert!(load("jetstream: true").jetstream);
    assert!(load("jetstream: enabled").jetstream);
    assert!(!load("jetstream: disabled").jetstream);
    let o = load("jetstream { max_mem_store: 64MiB, max_file_store: 10GiB }");
    assert!(o.jetstream);
    assert_eq!(
        (o.jetstream_max_memory, o.jetstream_max_store),
        (64 << 20, 10 << 30)
    );
    let o = load("jetstream { store_dir: \"/data/js\", domain: hub, strict: false, unique_tag: \" AZ \", max_mem: \"1G\", limits { max_request_batch: 50 } }");
    assert_eq!(o.store_dir, Some(PathBuf::from("/data/js")));
    assert_eq!(o.jetstream_domain.as_deref(), Some("hub"));
    assert!(!o.jetstream_strict);
    assert_eq!(o.jetstream_unique_tag.as_deref(), Some("az"));
    assert_eq!(o.jetstream_max_memory, 1 << 30);
    assert_eq!(o.jetstream_request_batch_max, 50);
    assert!(!load("jetstream { enabled: false, storedir: /x }").jetstream);
    assert_eq!(
        load("store_dir: /y\njetstream: true").store_dir,
        Some(PathBuf::from("/y"))
    );
    let o = load("jetstream { max_buffered_msgs: 10, max_buffered_size: \"1M\" }");
    assert_eq!(
        (o.jetstream_max_buffered_msgs, o.jetstream_max_buffered_size),
        (10, 1 << 20)
    );
}

#[test]
fn sync_interval_overrides_natrium_default() {
    assert_eq!(load("jetstream: true").sync_interval, SyncPolicy::Always);
    assert_eq!(
        load("jetstream { sync_interval: \"2m\" }").sync_interval,
        SyncPolicy::Interval(Duration::from_secs(120))
    );
    assert_eq!(
        load("jetstream { sync: always }").sync_interval,
        SyncPolicy::Always
    );
    assert_eq!(
        load("jetstream { sync_interval: \"0s\" }").sync_interval,
        SyncPolicy::Interval(DEFAULT_SYNC_INTERVAL)
    );
}

#[test]
fn jetstream_errors() {
    assert_eq!(
        load_err("store_dir: /tmp/a\njetstream { store_dir: /tmp/b }"),
        ":2:13: Duplicate 'store_dir' configuration\n"
    );
    assert_eq!(
        load_err("jetstream { max_mem: \"1GB\" }"),
        ":1:12: max_mem_store strconv.ParseInt: parsing \"1G\": invalid syntax\n"
    );
    assert_eq!(
        load_err("jetstream: maybe"),
        ":1:0: Expected 'enabled' or 'disabled' for string value, got 'maybe'\n"
    );
    assert_eq!(
        load_err("jetstream { enabled: 5 }"),
        ":1:0: interface conversion: interface {} is int64, not bool\n"
    );
    assert_eq!(
        load_err("jetstream { zz: 5 }"),
        ":1:12: unknown field \"zz\"\n"
    );
}

#[test]
fn keys_are_case_insensitive() {
    let o = load(
        "Port: 4333\nJETSTREAM { Max_Mem_Store: 1KB }\nAuthorization { USER: a, Password: b }",
    );
    assert_eq!(o.port, 4333);
    assert_eq!(o.jetstream_max_memory, 1024);
    assert_eq!(o.username.as_deref(), Some("a"));
}

#[test]
fn unknown_fields_are_errors_with_positions() {
    let err = load_err("port: 4222\nfoo: 1\n  bar = 2");
    assert_eq!(
        err,
        ":2:1: unknown field \"foo\"\n:3:3: unknown field \"bar\"\n"
    );
    assert_eq!(
        load_err("port: \"abc\""),
        ":1:0: interface conversion: interface {} is string, not int64\n"
    );
    assert_eq!(
        load_err("authorization {\n  user: a\n  bogus: 1\n}"),
        ":3:3: unknown field \"bogus\"\n"
    );
}

#[test]
fn warnings_come_first_in_the_error_text() {
    let err = load_err("ping_interval: 5\nfoo: 1");
    assert_eq!(
        err,
        ":1:0: invalid use of field \"ping_interval\": ping_interval should be converted to a duration\n\
         :2:1: unknown field \"foo\"\n"
    );
}

#[test]
fn variables_used_are_not_unknown_fields() {
    let o = load("MY_PORT = 4333\nport: $MY_PORT");
    assert_eq!(o.port, 4333);
    assert!(load_err("MY_PORT = 4333\nport: 1").contains("unknown field \"MY_PORT\""));
    // `PORT` is `port` to nats-server (keys are case-insensitive), so this sets it twice.
    assert_eq!(load("PORT = 4333\nport: $PORT").port, 4333);
}

#[test]
fn unsupported_blocks_are_recorded_not_ignored() {
    let o = load("port: 1\ncluster { port: 6222 }\ntls { cert_store: x }\nwebsocket { port: 8080, compression: true }\naccounts { A: { limits: { max_connections: 1 } } }\njetstream { cipher: aes }\nauthorization { auth_callout { issuer: x } }");
    let names: Vec<&str> = o.unsupported.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "cluster",
            "tls.cert_store",
            "websocket.compression",
            "accounts.A.limits",
            "jetstream.cipher",
            "authorization.auth_callout"
        ]
    );
    assert_eq!(o.unsupported[0].1.line, 2);
}

#[test]
fn leafnodes_listener_only() {
    let o = load("leafnodes { listen: \"127.0.0.1:-1\", remotes: [], no_advertise: true }");
    let l = o.leafnodes.as_ref().unwrap();
    assert_eq!((l.host.as_str(), l.port), ("127.0.0.1", -1));
    assert!(o.unsupported.is_empty());
    let o = load("leaf { host: h, port: 7422 }");
    assert_eq!(o.leafnodes.as_ref().map(|l| l.port), Some(7422));
    // What needs the leafnode protocol is refused, not ignored.
    let o = load("leafnodes {\n port: 7422\n remotes: [{ url: \"nats://h:7422\" }]\n authorization { user: a, password: b }\n}");
    let names: Vec<&str> = o.unsupported.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["leafnodes.remotes", "leafnodes.authorization"]);
    assert_eq!(o.unsupported[0].1.line, 3);
}

#[test]
fn other_top_level_keys() {
    let o = load("server_tags: [\"Foo \", \"bar\", \"BAR\", \"x:Y\"]\nno_auth_user: a\nsystem_account: SYS\nno_sys_acc: true\ndisable_sublist_cache: true\nclient_advertise: \"h:1\"\nconnect_error_reports: 5\nreconnect_error_reports: 6\nhttp_base_path: /m");
    assert_eq!(o.tags, ["foo", "bar", "x:y"]);
    assert_eq!(o.no_auth_user.as_deref(), Some("a"));
    assert_eq!(o.system_account.as_deref(), Some("SYS"));
    assert!(o.no_system_account && o.disable_sublist_cache);
    assert_eq!(o.client_advertise.as_deref(), Some("h:1"));
    assert_eq!((o.connect_error_reports, o.reconnect_error_reports), (5, 6));
    assert_eq!(o.http_base_path, "/m");
}

#[test]
fn empty_config_is_a_warning() {
    let o = load("");
    assert_eq!(
        o.config_warnings[0].to_string(),
        ": config has no values or is empty"
    );
}

#[test]
fn accounts_with_users_exports_imports_and_jetstream() {
    let o = load(
        "accounts {\n  A: { users: [{user: a, password: a}, {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4}], exports: [{stream: \"foo.>\"}, {service: \"q.*\", response_type: stream, accounts: [B]}] }\n  B: { users: [{user: b, password: b}], imports: [{stream: {account: A, subject: \"foo.>\"}, prefix: p}, {service: {account: A, subject: q.x}, to: ask}], jetstream: {max_mem: 1G, max_file: 2G, max_streams: 10, max_consumers: 5} }\n  C: { jetstream: enabled }\n}",
    );
    assert_eq!(o.accounts.len(), 3);
    assert_eq!(o.users[0].account.as_deref(), Some("A"));
    assert_eq!(o.nkeys[0].account.as_deref(), Some("A"));
    assert_eq!(o.users[1].account.as_deref(), Some("B"));
    let a = &o.accounts[0];
    assert_eq!(a.exports[0].kind, ExportKind::Stream);
    assert_eq!(
        a.exports[1].kind,
        ExportKind::Service {
            response: ResponseType::Stream,
            threshold: DEFAULT_RESPONSE_THRESHOLD
        }
    );
    assert_eq!(a.exports[1].accounts, ["B"]);
    let b = &o.accounts[1];
    assert_eq!(b.imports[0].local.as_deref(), Some("p.foo.>"));
    assert_eq!(b.imports[1].kind, ImportKind::Service);
    assert_eq!(b.imports[1].local.as_deref(), Some("ask"));
    let js = b.jetstream.as_ref().unwrap();
    assert_eq!(
        (js.max_memory, js.max_store, js.max_streams),
        (1_000_000_000, 2_000_000_000, 10)
    );
    assert!(o.accounts[2].jetstream.as_ref().unwrap().enabled);
    assert!(o.unsupported.is_empty());
}

/// Per-stream byte ceilings and max-bytes-required, under every name nats-server accepts.
#[test]
fn account_jetstream_stream_byte_limits() {
    for (mem, disk, req) in [
        (
            "memory_max_stream_bytes",
            "store_max_stream_bytes",
            "max_stream_bytes",
        ),
        (
            "mem_max_stream_bytes",
            "disk_max_stream_bytes",
            "max_bytes_required",
        ),
    ] {
        let o = load(&format!(
            "accounts {{ A: {{ jetstream: {{ {mem}: 2048, {disk}: 4KB, {req}: true, max_ack_pending: 100 }} }} }}"
        ));
        let js = o.accounts[0].jetstream.as_ref().unwrap();
        assert_eq!(
            (
                js.max_memory_stream_bytes,
                js.max_store_stream_bytes,
                js.max_bytes_required
            ),
            (2048, 4096, true)
        );
        assert_eq!(js.max_ack_pending, 100);
        assert!(o.unsupported.is_empty());
    }
}

#[test]
fn account_errors_match_nats_server() {
    let e = load_err(
        "accounts { A: {}, B: { imports: [{stream: {account: C, subject: \"foo.>\"}}] } }",
    );
    assert!(
        e.contains("\"C\" account not defined for stream import"),
        "{e}"
    );
    let e = load_err("accounts { A: { exports: [{stream: \"foo.>\"}] }, B: { imports: [{stream: {account: A, subject: \"bar.>\"}}] } }");
    assert!(
        e.contains("Error adding stream import \"bar.>\": stream import not authorized"),
        "{e}"
    );
    let e = load_err("accounts { A: { exports: [{service: foo, accounts: [B]}] }, B: {}, C: { imports: [{service: {account: A, subject: foo}}] } }");
    assert!(
        e.contains("Error adding service import \"foo\": service import not authorized"),
        "{e}"
    );
    assert_eq!(
        load_err("accounts { A: { exports: [{service: \"foo\", response_type: bogus}] } }"),
        ":1:43: Unknown response type: \"bogus\"\n"
    );
    assert!(load_err("accounts { A: { users: [{user: a, password: a}] }, B: { users: [{user: a, password: b}] } }").contains("Duplicate user \"a\" detected"));
    assert!(load_err("accounts { A: { users: [{user: a, password: a}] } }\nauthorization { users: [{user: a, password: x}] }").contains("Duplicate user \"a\" detected"));
    assert_eq!(
        load_err("accounts { A: { bogus: 1 } }"),
        ":1:16: unknown field \"bogus\"\n"
    );
    assert!(load_err("accounts { $G: {} }").contains("\"$G\" is a Reserved Account"));
    assert!(load_err("accounts { A: {jetstream: bogus} }")
        .contains("Expected 'enabled' or 'disabled' for string value, got 'bogus'"));
}

#[test]
fn mappings_are_checked_like_nats_server() {
    let o = load("mappings: { foo: bar, \"orders.*\": \"o.$1\", w: [{destination: a, weight: 40%}, {destination: b, weight: \"60%\"}] }\naccounts { A: { mappings: { x: y } } }");
    assert_eq!(o.mappings.len(), 3);
    assert_eq!(o.mappings[2].destinations[1].weight, 60);
    assert_eq!(o.accounts[0].mappings[0].source, "x");
    assert_eq!(
        load_err("mappings: { \"a.*\": \"b.$2\" }"),
        ":1:13: Error adding mapping for \"a.*\" to \"b.$2\" : invalid mapping destination: wildcard index out of range in $2: [2]\n"
    );
    assert_eq!(
        load_err("mappings: { w: [{destination: a, weight: 70%}, {destination: b, weight: 60%}] }"),
        ":1:12: Error adding mapping for \"w\" : total weight needs to be <= 100\n"
    );
    assert_eq!(
        load_err("mappings: { w: [{destination: a, wait: 1}] }"),
        ":1:33: Unknown field \"wait\" for mapping destination\n"
    );
    assert_eq!(
        load_err("mappings: { w: 5 }"),
        ":1:12: Expected an entry for the mapping destination\n"
    );
}

#[test]
fn tls_block_errors_match_nats_server() {
    let cases = [
        ("tls { verify: \"yes\" }", "1:6: error parsing tls config, expected 'verify' to be a boolean"),
        ("tls { min_version: \"1.1\" }", "1:6: error parsing tls config: unsupported TLS version: TLS 1.1"),
        ("tls { min_version: \"1.4\" }", "1:6: error parsing tls config: unknown version: 1.4"),
        ("tls { cipher_suites: [] }", "1:6: error parsing tls config, 'cipher_suites' cannot be empty"),
        ("tls { timeout: true }", "1:6: error parsing tls config, 'timeout' wrong type"),
        ("tls { handshake_first: \"maybe\" }", "1:6: field \"handshake_first\"'s value \"maybe\" is invalid"),
        ("tls { handshake_first: 5 }", "1:6: field \"handshake_first\" should be a boolean or a string, got int64"),
        ("tls { foo: 1 }", "1:6: error parsing tls config, unknown field \"foo\""),
        ("tls { verify_cert_and_check_known_urls: true }", "1:6: verify_cert_and_check_known_urls not supported in this context"),
        ("tls { cert_file: \"/nonexistent.pem\" }", "1:0: missing 'key_file' in TLS configuration"),
        ("tls { ca_file: \"/nonexistent\" }", "1:0: open /nonexistent: no such file or directory"),
        ("tls { cipher_suites: [\"TLS_RSA_WITH_RC4_128_SHA\"] }", "1:0: insecure cipher suites configured without 'allow_insecure_cipher_suites' option set: TLS_RSA_WITH_RC4_128_SHA"),
        ("tls: 5", "1:0: interface conversion: interface {} is int64, not map[string]interface {}"),
    ];
    for (text, want) in cases {
        let got = load_err(text);
        assert!(got.contains(want), "{text}: got {got:?}, want {want:?}");
    }
    assert!(load_err("tls { cipher_suites: [\"FOO\"] }").contains("unrecognized cipher FOO"));
    assert!(load_err("tls { curve_preferences: [\"P999\"] }")
        .contains("unrecognized curve preference P999"));
}

#[test]
fn tls_block_values() {
    let o = load(
        "tls { verify_and_map: true, timeout: \"1.5s\", handshake_first: \"300ms\", \
         min_version: \"1.3\", cipher_suites: [\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"], \
         pinned_certs: [\"AB0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\"] }\n\
         allow_non_tls: true",
    );
    let t = o.tls.clone().unwrap();
    assert!(t.verify && t.map);
    assert_eq!(t.timeout, Duration::from_millis(1500));
    assert!(t.handshake_first);
    assert_eq!(t.handshake_first_fallback, Some(Duration::from_millis(300)));
    assert_eq!(t.min_version, Some(TlsVersion::Tls13));
    assert_eq!(t.pinned_certs[0].len(), 64);
    assert!(t.pinned_certs[0].starts_with("ab01"));
    assert!(o.allow_non_tls);
    assert_eq!(o.auth_timeout, Duration::from_millis(2500));
    let auto = load("tls { handshake_first: auto }").tls.unwrap();
    assert_eq!(
        auto.handshake_first_fallback,
        Some(DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK)
    );
    let o = load("tls { cert_store: \"WindowsCurrentUser\", ocsp_peer: true }");
    let names: Vec<&str> = o.unsupported.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["tls.cert_store", "tls.ocsp_peer"]);
}
