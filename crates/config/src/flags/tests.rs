//! Command-line tests: Go `flag` syntax, nats-server's aliases and messages, and the
//! flags-over-file merge.

use super::*;
use std::path::PathBuf;
use std::time::Duration;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn run(list: &[&str]) -> Options {
    match parse_args(args(list)) {
        Ok(Command::Run(o)) => *o,
        other => panic!("{list:?} gave {other:?}"),
    }
}

fn err(list: &[&str]) -> String {
    match parse_args(args(list)) {
        Err(e) => e.to_string(),
        other => panic!("{list:?} gave {other:?}"),
    }
}

/// Writes `text` to a fresh file and returns its path.
fn conf_file(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("natrium-flags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn no_arguments_gives_defaults() {
    assert_eq!(run(&[]), Options::default());
}

#[test]
fn go_flag_syntax() {
    assert_eq!(run(&["-p", "5000"]).port, 5000);
    assert_eq!(run(&["--port", "5000"]).port, 5000);
    assert_eq!(run(&["-p=5000"]).port, 5000);
    assert_eq!(run(&["--port=5000"]).port, 5000);
    assert_eq!(run(&["-p", "-1"]).port, -1);
    assert_eq!(run(&["-p", "0x10"]).port, 16);
    assert_eq!(run(&["-p", "1_000"]).port, 1000);
    assert_eq!(run(&["-p", "1", "-p", "2"]).port, 2);
    assert_eq!(
        parse_args(args(&["-p", "5", "--", "version"])),
        Ok(Command::Version)
    );
    assert_eq!(err(&["--", "-x"]), "unrecognized command: \"-x\"");
}

#[test]
fn boolean_flags_do_not_take_the_next_argument() {
    assert!(run(&["-js"]).jetstream);
    assert!(run(&["--jetstream"]).jetstream);
    assert!(!run(&["-js=false"]).jetstream);
    let o = run(&["-D", "-V"]);
    assert!(o.debug && o.trace && !o.trace_verbose);
    let o = run(&["-DV"]);
    assert!(o.debug && o.trace);
    let o = run(&["-DVV"]);
    assert!(o.debug && o.trace && o.trace_verbose);
    let o = run(&["-VV"]);
    assert!(!o.debug && o.trace && o.trace_verbose);
    assert!(!run(&["-T=false"]).logtime);
    assert!(!run(&["-T=0"]).logtime);
    assert_eq!(err(&["-js", "true"]), "unrecognized command: \"true\"");
}

#[test]
fn aliases() {
    let o = run(&[
        "-a",
        "127.0.0.1",
        "-n",
        "srv",
        "-P",
        "/tmp/p.pid",
        "-m",
        "8222",
        "-ms",
        "8223",
        "-l",
        "/tmp/l.log",
        "-r",
        "udp://h:514",
        "-s",
        "-sd",
        "/tmp/js",
    ]);
    assert_eq!(o.host, "127.0.0.1");
    assert_eq!(o.http_host, "127.0.0.1");
    assert_eq!(o.server_name.as_deref(), Some("srv"));
    assert_eq!(o.pid_file, Some(PathBuf::from("/tmp/p.pid")));
    assert_eq!((o.http_port, o.https_port), (8222, 8223));
    assert_eq!(o.log_file, Some(PathBuf::from("/tmp/l.log")));
    assert_eq!(o.remote_syslog.as_deref(), Some("udp://h:514"));
    assert!(o.syslog);
    assert_eq!(o.store_dir, Some(PathBuf::from("/tmp/js")));
    assert!(!o.jetstream, "--store_dir alone leaves JetStream off");
    assert_eq!(run(&["--addr", "::1"]).host, "::1");
    assert_eq!(run(&["--net", "::"]).host, "::");
    assert_eq!(
        run(&["--server_name", "x"]).server_name.as_deref(),
        Some("x")
    );
    assert_eq!(run(&["--name", "y"]).server_name.as_deref(), Some("y"));
    let o = run(&[
        "--user",
        "u",
        "--pass",
        "p",
        "--auth",
        "t",
        "--client_advertise",
        "h:1",
    ]);
    assert_eq!(o.username.as_deref(), Some("u"));
    assert_eq!(o.password.as_deref(), Some("p"));
    assert_eq!(o.authorization.as_deref(), Some("t"));
    assert_eq!(o.client_advertise.as_deref(), Some("h:1"));
    let o = run(&[
        "--log_size_limit",
        "5000000000",
        "--max_traced_msg_len",
        "9",
        "--ports_file_dir",
        "/tmp",
    ]);
    assert_eq!((o.log_size_limit, o.max_traced_msg_len), (5_000_000_000, 9));
    assert_eq!(o.ports_file_dir, Some(PathBuf::from("/tmp")));
}

#[test]
fn commands() {
    assert_eq!(parse_args(args(&["-v"])), Ok(Command::Version));
    assert_eq!(parse_args(args(&["--version"])), Ok(Command::Version));
    assert_eq!(parse_args(args(&["version"])), Ok(Command::Version));
    assert_eq!(parse_args(args(&["-h"])), Ok(Command::Help));
    assert_eq!(parse_args(args(&["--help"])), Ok(Command::Help));
    assert_eq!(parse_args(args(&["HELP"])), Ok(Command::Help));
    assert_eq!(parse_args(args(&["--help_tls"])), Ok(Command::HelpTls));
    assert_eq!(
        parse_args(args(&["--signal", "ldm=/var/run/n.pid"])),
        Ok(Command::Signal {
            signal: "ldm".into(),
            pid: Some("/var/run/n.pid".into())
        })
    );
    assert_eq!(
        parse_args(args(&["-sl", "stop"])),
        Ok(Command::Signal {
            signal: "stop".into(),
            pid: None
        })
    );
    assert_eq!(err(&["-sl", "a=b=c"]), "invalid signal parameters: [c]");
    assert_eq!(err(&["foo"]), "unrecognized command: \"foo\"");
}

#[test]
fn go_error_messages() {
    assert_eq!(err(&["-x"]), "flag provided but not defined: -x");
    assert_eq!(
        err(&["--max_payload", "1"]),
        "flag provided but not defined: -max_payload"
    );
    assert_eq!(err(&["-p"]), "flag needs an argument: -p");
    assert_eq!(
        err(&["-p", "abc"]),
        "invalid value \"abc\" for flag -p: parse error"
    );
    assert_eq!(
        err(&["-p", "99999999999"]),
        "invalid value \"99999999999\" for flag -p: value out of range"
    );
    assert_eq!(
        err(&["-js=yes"]),
        "invalid boolean value \"yes\" for -js: parse error"
    );
    assert_eq!(err(&["---p"]), "bad flag syntax: ---p");
    assert_eq!(err(&["-=1"]), "bad flag syntax: -=1");
    assert_eq!(
        err(&["-t"]),
        "must specify [-c, --config] option to check configuration file syntax"
    );
    let usage_error = parse_args(args(&["-x"])).unwrap_err();
    assert!(usage_error.is_usage_error());
    assert!(!FlagError::CheckWithoutConfig.is_usage_error());
}

#[test]
fn flags_override_the_file() {
    let path = conf_file(
        "override.conf",
        "listen: 127.0.0.2:4333\ndebug: false\nlogtime: false\nhttp_port: 8000\njetstream: false\n",
    );
    let o = run(&["-c", &path, "-p", "5555", "-D", "-js"]);
    assert_eq!(o.host, "127.0.0.2", "the file's host is kept");
    assert_eq!(o.port, 5555, "-p overrides listen's port");
    assert!(o.debug);
    assert!(o.jetstream);
    assert!(
        !o.logtime,
        "an unset flag's default does not override the file"
    );
    assert_eq!(o.http_port, 8000);
    assert_eq!(o.config_file, Some(PathBuf::from(&path)));
    // Flags before or after -c make no difference.
    assert_eq!(run(&["-p", "5555", "-c", &path]).port, 5555);
}

#[test]
fn store_dir_flag_and_file() {
    let on = conf_file("js_on.conf", "jetstream: enabled\n");
    let o = run(&["-c", &on, "-sd", "/tmp/x"]);
    assert!(o.jetstream);
    assert_eq!(o.store_dir, Some(PathBuf::from("/tmp/x")));
    // nats-server applies flags before the file too, so this is a duplicate there as well.
    let with_dir = conf_file("js_dir.conf", "jetstream { store_dir: /tmp/y }\n");
    let e = err(&["-sd", "/tmp/x", "-c", &with_dir]);
    assert_eq!(
        e,
        format!("{with_dir}:1:12: Duplicate 'store_dir' configuration\n")
    );
}

#[test]
fn check_config() {
    let good = conf_file("good.conf", "port: 4222\n");
    match parse_args(args(&["-c", &good, "-t"])) {
        Ok(Command::CheckConfig(o)) => assert_eq!(o.port, 4222),
        other => panic!("{other:?}"),
    }
    // Warnings fail -t, but not a normal start.
    let warn = conf_file("warn.conf", "ping_interval: 5\n");
    let e = err(&["-t", "-c", &warn]);
    assert_eq!(
        e,
        format!("{warn}:1:0: invalid use of field \"ping_interval\": ping_interval should be converted to a duration\n")
    );
    let o = run(&["-c", &warn]);
    assert_eq!(o.ping_interval, Duration::from_secs(5));
    assert_eq!(o.config_warnings.len(), 1);
    let bad = conf_file("bad.conf", "foo: 1\n");
    assert_eq!(
        err(&["-c", &bad]),
        format!("{bad}:1:0: unknown field \"foo\"\n")
    );
    assert_eq!(
        err(&["-c", "/nonexistent/x.conf"]),
        "open /nonexistent/x.conf: no such file or directory"
    );
}

#[test]
fn json_config_file() {
    let path = conf_file("c.json", "{\"port\": 4567, \"jetstream\": true}\n");
    let o = run(&["-c", &path]);
    assert_eq!(o.port, 4567);
    assert!(o.jetstream);
}

#[test]
fn cluster_flags_are_unsupported() {
    let o = run(&[
        "--cluster",
        "nats://127.0.0.1:6222",
        "--routes",
        "nats://a:1,nats://b:2",
        "--cluster_name",
        "c",
    ]);
    let names: Vec<&str> = o.unsupported.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["--cluster_name", "--routes", "--cluster"]);
    assert!(o.unsupported.iter().all(|(_, p)| p.line == 0));
    assert_eq!(o.unsupported[0].1.to_string(), "command line");
    assert_eq!(
        err(&["--routes", "nats://a:1"]),
        "solicited routes require cluster capabilities, e.g. --cluster"
    );
    assert!(run(&["--no_advertise"]).no_advertise);
    assert!(run(&["--profile", "0"]).unsupported.is_empty());
}

#[test]
fn combined_levels_apply_after_single_flags() {
    let o = run(&["-DV", "-D=false"]);
    assert!(o.debug && o.trace, "-DV wins, as in nats-server");
    let o = run(&["-DVV=false", "-DV"]);
    assert!(!o.debug && !o.trace, "DVV sorts after DV");
}

#[test]
fn go_integer_syntax() {
    assert_eq!(parse_go_int("42"), Ok(42));
    assert_eq!(parse_go_int("-42"), Ok(-42));
    assert_eq!(parse_go_int("+7"), Ok(7));
    assert_eq!(parse_go_int("0x1F"), Ok(31));
    assert_eq!(parse_go_int("0o17"), Ok(15));
    assert_eq!(parse_go_int("017"), Ok(15));
    assert_eq!(parse_go_int("0b101"), Ok(5));
    assert_eq!(parse_go_int("0"), Ok(0));
    assert_eq!(parse_go_int("0x_1"), Ok(1));
    assert_eq!(parse_go_int("-9223372036854775808"), Ok(i64::MIN));
    assert_eq!(
        parse_go_int("9223372036854775808"),
        Err("value out of range")
    );
    assert_eq!(parse_go_int(""), Err("parse error"));
    assert_eq!(parse_go_int("_1"), Err("parse error"));
    assert_eq!(parse_go_int("1__0"), Err("parse error"));
    assert_eq!(parse_go_int("1_"), Err("parse error"));
    assert_eq!(parse_go_int("0x"), Err("parse error"));
    assert_eq!(parse_go_int("09"), Err("parse error"));
}

#[test]
fn usage_names_the_program() {
    let text = usage("natrium-server");
    assert!(text.contains("Usage: natrium-server [options]"));
    assert!(text.contains("-js, --jetstream"));
}

/// PEM files with the right section types (the loader checks sections, rustls the DER).
fn fake_pem_pair() -> (String, String) {
    let cert = conf_file(
        "flag-cert.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let key = conf_file(
        "flag-key.pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    (cert, key)
}

#[test]
fn tls_flags_follow_nats_server() {
    assert_eq!(
        err(&["--tlsverify"]),
        "TLS Server certificate must be present and valid"
    );
    assert_eq!(
        err(&["--tls", "--tlscert", "x.pem"]),
        "TLS Server private key must be present and valid"
    );
    assert_eq!(
        err(&[
            "--tlscert",
            "/nonexistent.pem",
            "--tlskey",
            "/nonexistent.key"
        ]),
        "error parsing X509 certificate/key pair: open /nonexistent.pem: no such file or directory"
    );
    let (cert, key) = fake_pem_pair();
    let o = run(&["--tlsverify", "--tlscert", &cert, "--tlskey", &key]);
    let t = o.tls.expect("tls from flags");
    assert!(t.verify);
    assert_eq!(t.cert_file, Some(PathBuf::from(&cert)));
    assert_eq!(o.auth_timeout, Duration::from_secs(3), "TLS timeout + 1s");
    // --tls=false turns off the file's TLS; the other flags keep the file's timeout.
    let file = conf_file(
        "tls.conf",
        &format!("tls {{ cert_file: \"{cert}\", key_file: \"{key}\", timeout: 5 }}"),
    );
    assert!(run(&["-c", &file, "--tls=false", "--tlscert", "x"])
        .tls
        .is_none());
    let o = run(&["-c", &file, "--tlscert", &cert, "--tlskey", &key]);
    let t = o.tls.unwrap();
    assert_eq!(t.timeout, Duration::from_secs(5));
    assert!(!t.verify);
    assert!(o.unsupported.is_empty());
}
