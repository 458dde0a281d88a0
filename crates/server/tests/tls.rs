//! TLS for client connections and the HTTPS monitor, driven by async-nats and raw sockets.
//! Every certificate is generated here with rcgen (a CA, a server certificate for
//! 127.0.0.1 and client certificates); no private key is checked in.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::ConnectOptions;
use common::{Raw, TestServer};
use futures_util::StreamExt;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A throwaway PKI in a temporary directory.
struct Pki {
    dir: common::TempDir,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

/// A client certificate's files and its public key (for pinning).
struct ClientCert {
    cert: PathBuf,
    key: PathBuf,
    spki: Vec<u8>,
}

impl Pki {
    fn new() -> Pki {
        let dir = common::temp_dir("pki");
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Natrium Test CA");
        let ca = params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        let pki = Pki { dir, ca, ca_key };
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &pki.ca, &pki.ca_key).unwrap();
        std::fs::write(pki.path("server.pem"), cert.pem()).unwrap();
        std::fs::write(pki.path("server-key.pem"), key.serialize_pem()).unwrap();
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }

    /// A client certificate with the given subject attributes and SANs.
    fn client(&self, name: &str, dn: &[(DnType, &str)], sans: Vec<SanType>) -> ClientCert {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (t, v) in dn {
            params.distinguished_name.push(t.clone(), *v);
        }
        params.subject_alt_names = sans;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        let c = ClientCert {
            cert: self.path(&format!("{name}.pem")),
            key: self.path(&format!("{name}-key.pem")),
            spki: key.public_key_der(),
        };
        std::fs::write(&c.cert, cert.pem()).unwrap();
        std::fs::write(&c.key, key.serialize_pem()).unwrap();
        c
    }

    /// The server's `tls` block with extra settings.
    fn tls_block(&self, extra: &str) -> String {
        format!(
            "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  {extra}\n}}\n",
            self.p("server.pem"),
            self.p("server-key.pem"),
            self.p("ca.pem")
        )
    }

    fn options(&self) -> ConnectOptions {
        ConnectOptions::new()
            .require_tls(true)
            .add_root_certificates(self.path("ca.pem"))
            .connection_timeout(Duration::from_secs(3))
    }

    fn options_with(&self, c: &ClientCert) -> ConnectOptions {
        self.options()
            .add_client_certificate(c.cert.clone(), c.key.clone())
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn email(s: &str) -> SanType {
    SanType::Rfc822Name(s.try_into().unwrap())
}

async fn round_trip(nc: &async_nats::Client, subject: &str) {
    let mut sub = nc.subscribe(subject.to_string()).await.unwrap();
    nc.publish(subject.to_string(), "hello".into())
        .await
        .unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(3), sub.next())
        .await
        .expect("message in time")
        .expect("message");
    assert_eq!(&msg.payload[..], b"hello");
}

async fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn tls_connect_publish_subscribe_and_monitoring() {
    let pki = Pki::new();
    let s = TestServer::with_config(&pki.tls_block(""), &["-m", "-1"]);
    assert!(s.find_log("TLS required for client connections").is_some());
    let (_, info) = Raw::connect(&s.addr()).await;
    assert!(info.contains("\"tls_required\":true"), "{info}");
    assert!(!info.contains("tls_verify"), "{info}");

    let nc = pki.options().connect(s.url()).await.unwrap();
    round_trip(&nc, "tls.hello").await;
    nc.flush().await.unwrap();

    let port = s.monitor_port.unwrap();
    let connz = http_get(port, "/connz").await;
    assert!(connz.contains("\"tls_version\": \"1.3\""), "{connz}");
    assert!(connz.contains("\"tls_cipher_suite\": \"TLS_"), "{connz}");
    let varz = http_get(port, "/varz").await;
    assert!(varz.contains("\"tls_required\": true"), "{varz}");
    assert!(varz.contains("\"tls_timeout\": 2"), "{varz}");
    assert!(varz.contains("\"tls_cert_not_after\": \""), "{varz}");
}

#[tokio::test]
async fn verify_requires_a_client_certificate_from_the_ca() {
    let pki = Pki::new();
    let s = TestServer::with_config(&pki.tls_block("verify: true\n  timeout: 1"), &["-m", "-1"]);
    let (_, info) = Raw::connect(&s.addr()).await;
    assert!(info.contains("\"tls_verify\":true"), "{info}");

    let without = pki.options().connect(s.url()).await;
    assert!(
        without.is_err(),
        "a client without a certificate must be refused"
    );

    // A certificate from another CA is refused too.
    let other = Pki::new();
    let stranger = other.client("stranger", &[(DnType::CommonName, "x")], vec![]);
    let foreign = pki.options_with(&stranger).connect(s.url()).await;
    assert!(foreign.is_err());

    let good = pki.client("good", &[(DnType::CommonName, "good")], vec![]);
    let nc = pki.options_with(&good).connect(s.url()).await.unwrap();
    round_trip(&nc, "verified").await;
    let connz = http_get(s.monitor_port.unwrap(), "/connz?auth=1").await;
    let digest = ring::digest::digest(&ring::digest::SHA256, &good.spki);
    let spki: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        connz.contains(&format!("\"spki_sha256\": \"{spki}\"")),
        "{connz}"
    );
    assert!(connz.contains("\"subject\": \"CN=good\""), "{connz}");
}

#[tokio::test]
async fn verify_and_map_takes_the_user_from_the_certificate() {
    let pki = Pki::new();
    let config = format!(
        "{}authorization {{ users = [
            {{ user: \"alice@example.com\", permissions: {{ publish: \"ok.>\", subscribe: \"ok.>\" }} }}
            {{ user: \"CN=bob,O=Acme\" }}
        ] }}\n",
        pki.tls_block("verify_and_map: true")
    );
    let s = TestServer::with_config(&config, &[]);

    let alice = pki.client(
        "alice",
        &[(DnType::CommonName, "alice")],
        vec![email("alice@example.com")],
    );
    let (tx, mut errors) = tokio::sync::mpsc::channel(8);
    let nc = pki
        .options_with(&alice)
        .event_callback(move |e| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(e.to_string()).await;
            }
        })
        .connect(s.url())
        .await
        .unwrap();
    round_trip(&nc, "ok.1").await;
    nc.publish("no.1", "x".into()).await.unwrap();
    nc.flush().await.unwrap();
    let violation = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(e) = errors.recv().await {
            if e.contains("Permissions Violation") {
                return e;
            }
        }
        String::new()
    })
    .await
    .expect("permissions error in time");
    assert!(violation.contains("no.1"), "{violation}");

    // The subject DN maps too (written in RFC 2253 order: the last RDN first).
    let bob = pki.client(
        "bob",
        &[
            (DnType::OrganizationName, "Acme"),
            (DnType::CommonName, "bob"),
        ],
        vec![],
    );
    let nc = pki.options_with(&bob).connect(s.url()).await.unwrap();
    round_trip(&nc, "bob.any").await;

    let carol = pki.client("carol", &[(DnType::CommonName, "carol")], vec![]);
    let refused = pki.options_with(&carol).connect(s.url()).await;
    assert!(refused.is_err(), "an unmapped certificate must be refused");
}

#[tokio::test]
async fn handshake_first_comes_before_info() {
    let pki = Pki::new();
    let s = TestServer::with_config(&pki.tls_block("handshake_first: true"), &["-m", "-1"]);
    // A plain client hears nothing: the server waits for a ClientHello.
    let mut raw = TcpStream::connect(s.addr()).await.unwrap();
    let mut buf = [0u8; 64];
    let quiet = tokio::time::timeout(Duration::from_millis(300), raw.read(&mut buf)).await;
    assert!(quiet.is_err(), "no INFO before the handshake");

    let nc = pki.options().tls_first().connect(s.url()).await.unwrap();
    round_trip(&nc, "first").await;
    let connz = http_get(s.monitor_port.unwrap(), "/connz").await;
    assert!(connz.contains("\"tls_first\": true"), "{connz}");
}

#[tokio::test]
async fn plaintext_client_is_refused_cleanly() {
    let pki = Pki::new();
    let s = TestServer::with_config(&pki.tls_block(""), &[]);
    let (mut c, info) = Raw::connect(&s.addr()).await;
    assert!(info.contains("\"tls_required\":true"));
    c.send("CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    assert!(c.closed().await);
    assert!(s
        .wait_for_log("TLS handshake error", Duration::from_secs(3))
        .is_some());
    // The server still serves TLS clients.
    let nc = pki.options().connect(s.url()).await.unwrap();
    round_trip(&nc, "after.plain").await;
}

#[tokio::test]
async fn garbage_and_stalled_handshakes_are_closed() {
    let pki = Pki::new();
    let s = TestServer::with_config(&pki.tls_block("timeout: \"500ms\""), &[]);
    // A client that never starts the handshake is closed after the TLS timeout.
    let (mut stalled, _) = Raw::connect(&s.addr()).await;
    // A TLS record header that promises more than it sends stalls the handshake too.
    let (mut partial, _) = Raw::connect(&s.addr()).await;
    partial
        .stream
        .write_all(&[0x16, 0x03, 0x01, 0x40, 0x00, 0x01])
        .await
        .unwrap();
    // Garbage that looks like a TLS record fails at once.
    let (mut garbage, _) = Raw::connect(&s.addr()).await;
    garbage
        .stream
        .write_all(&[0x16, 0x03, 0x03, 0x00, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff])
        .await
        .unwrap();
    assert!(garbage.closed().await);
    assert!(stalled.closed().await);
    assert!(partial.closed().await);
    let nc = pki.options().connect(s.url()).await.unwrap();
    round_trip(&nc, "survived").await;
}

#[tokio::test]
async fn allow_non_tls_accepts_both() {
    let pki = Pki::new();
    let config = format!("{}allow_non_tls: true\n", pki.tls_block(""));
    let s = TestServer::with_config(&config, &[]);
    assert!(s.find_log("TLS available for client connections").is_some());
    let (_, info) = Raw::connect(&s.addr()).await;
    assert!(info.contains("\"tls_available\":true"), "{info}");
    assert!(!info.contains("tls_required"), "{info}");
    let plain = async_nats::connect(s.url()).await.unwrap();
    round_trip(&plain, "mixed.plain").await;
    let tls = pki.options().connect(s.url()).await.unwrap();
    round_trip(&tls, "mixed.tls").await;
}

#[tokio::test]
async fn pinned_certs_accept_only_the_listed_keys() {
    let pki = Pki::new();
    let pinned = pki.client("pinned", &[(DnType::CommonName, "pinned")], vec![]);
    let other = pki.client("other", &[(DnType::CommonName, "other")], vec![]);
    let digest = ring::digest::digest(&ring::digest::SHA256, &pinned.spki);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let s = TestServer::with_config(
        &pki.tls_block(&format!("verify: true\n  pinned_certs: [\"{hex}\"]")),
        &[],
    );
    let nc = pki.options_with(&pinned).connect(s.url()).await.unwrap();
    round_trip(&nc, "pinned").await;
    assert!(pki.options_with(&other).connect(s.url()).await.is_err());
    assert!(s
        .wait_for_log("certificate not pinned", Duration::from_secs(3))
        .is_some());
}

#[tokio::test]
async fn https_monitor_uses_the_server_certificate() {
    let pki = Pki::new();
    let s = TestServer::with_config(
        &format!("{}https_port: -1\n", pki.tls_block("verify: true")),
        &[],
    );
    let line = s.find_log("Starting https monitor on").expect("https line");
    let port: u16 = line.rsplit(':').next().unwrap().trim().parse().unwrap();

    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_file_iter(pki.path("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"GET /varz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    let _ = tls.read_to_string(&mut out).await;
    assert!(out.starts_with("HTTP/1.0 200"), "{out}");
    assert!(out.contains("\"tls_verify\": true"), "{out}");
}

#[test]
fn tls_flags_and_bad_files_are_reported() {
    let dir = common::temp_dir("tlsflags");
    let (code, _, err) = common::run_bin(&["--tlsverify"], &dir);
    assert_ne!(code, 0);
    assert!(
        err.contains("TLS Server certificate must be present and valid"),
        "{err}"
    );
    std::fs::write(
        dir.join("c.conf"),
        "tls { cert_file: \"/nonexistent.pem\", key_file: \"/nonexistent.key\" }\n",
    )
    .unwrap();
    let (code, _, err) = common::run_bin(&["-t", "-c", "c.conf"], &dir);
    assert_ne!(code, 0);
    assert!(
        err.contains(
            "c.conf:1:0: error parsing X509 certificate/key pair: open /nonexistent.pem: no such file or directory"
        ),
        "{err}"
    );
    std::fs::write(dir.join("o.conf"), "tls { ocsp_peer: true }\n").unwrap();
    let (code, _, err) = common::run_bin(&["-c", "o.conf"], &dir);
    assert_ne!(code, 0);
    assert!(err.contains("tls.ocsp_peer"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn tls_flags_start_a_tls_server() {
    let pki = Pki::new();
    let (cert, key, ca) = (
        pki.p("server.pem"),
        pki.p("server-key.pem"),
        pki.p("ca.pem"),
    );
    let s = TestServer::start(&["--tlscert", &cert, "--tlskey", &key, "--tlscacert", &ca]);
    let (_, info) = Raw::connect(&s.addr()).await;
    assert!(info.contains("\"tls_required\":true"), "{info}");
    let nc = pki.options().connect(s.url()).await.unwrap();
    round_trip(&nc, "flags").await;
}

#[tokio::test]
async fn websocket_over_tls() {
    let pki = Pki::new();
    let config = format!(
        "websocket {{\n  port: -1\n  tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n}}\n",
        pki.p("server.pem"),
        pki.p("server-key.pem")
    );
    let s = TestServer::with_config(&config, &[]);
    let line = s
        .find_log("Listening for websocket clients on wss://")
        .expect("wss line");
    let port: u16 = line.rsplit(':').next().unwrap().trim().parse().unwrap();
    let nc = pki
        .options()
        .connect(format!("wss://127.0.0.1:{port}"))
        .await
        .unwrap();
    round_trip(&nc, "wss.hello").await;
    // Plain TCP clients are not affected by the websocket's TLS.
    let plain = async_nats::connect(s.url()).await.unwrap();
    round_trip(&plain, "tcp.hello").await;
}

#[tokio::test]
async fn handshake_first_auto_falls_back_to_info() {
    let pki = Pki::new();
    let s = TestServer::with_config(&pki.tls_block("handshake_first: auto"), &[]);
    // A client that waits for INFO gets it after the fallback delay, and must then do TLS.
    let (_, info) = Raw::connect(&s.addr()).await;
    assert!(info.contains("\"tls_required\":true"), "{info}");
    let nc = pki.options().connect(s.url()).await.unwrap();
    round_trip(&nc, "auto.plain-first").await;
    let nc = pki.options().tls_first().connect(s.url()).await.unwrap();
    round_trip(&nc, "auto.tls-first").await;
}

#[test]
fn certificate_names_are_read_and_damaged_certificates_never_panic() {
    let pki = Pki::new();
    let c = pki.client(
        "names",
        &[
            (DnType::CountryName, "US"),
            (DnType::OrganizationName, "Acme, Inc"),
            (DnType::CommonName, "bob"),
        ],
        vec![
            email("bob@example.com"),
            SanType::DnsName("bob.example.com".try_into().unwrap()),
            SanType::URI("nats://bob".try_into().unwrap()),
        ],
    );
    let der = rustls_pki_types::CertificateDer::from_pem_file(&c.cert).unwrap();
    let names = natrium_server::x509::parse(der.as_ref()).expect("parses");
    assert_eq!(names.emails, ["bob@example.com"]);
    assert_eq!(names.dns_names, ["bob.example.com"]);
    assert_eq!(names.uris, ["nats://bob"]);
    assert_eq!(names.subject_string(), "CN=bob,O=Acme\\, Inc,C=US");
    assert_eq!(names.spki, c.spki);
    assert!(names.not_after.is_some());
    let bytes = der.as_ref().to_vec();
    for cut in 0..bytes.len() {
        let _ = natrium_server::x509::parse(&bytes[..cut]);
    }
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut damaged = bytes.clone();
            damaged[i] ^= flip;
            let _ = natrium_server::x509::parse(&damaged);
        }
    }
}

#[tokio::test]
async fn reload_turns_tls_on_and_off() {
    let pki = Pki::new();
    let s = TestServer::with_config("port: -1\n", &[]);
    let plain = async_nats::connect(s.url()).await.unwrap();
    round_trip(&plain, "before").await;
    std::fs::write(s.path("server.conf"), pki.tls_block("")).unwrap();
    s.signal("HUP");
    assert!(s
        .wait_for_log("Reloaded: tls = enabled", Duration::from_secs(5))
        .is_some());
    let (_, info) = Raw::connect(&s.addr()).await;
    assert!(info.contains("\"tls_required\":true"), "{info}");
    let nc = pki.options().connect(s.url()).await.unwrap();
    round_trip(&nc, "after").await;
    std::fs::write(s.path("server.conf"), "port: -1\n").unwrap();
    s.signal("HUP");
    assert!(s
        .wait_for_log("Reloaded: tls = disabled", Duration::from_secs(5))
        .is_some());
    let again = async_nats::connect(s.url()).await.unwrap();
    round_trip(&again, "plain.again").await;
}

#[tokio::test]
async fn verify_and_map_binds_the_user_to_its_account() {
    let pki = Pki::new();
    let config = format!(
        "{}accounts {{
            A: {{ users: [ {{ user: \"alice@example.com\" }} ] }}
            B: {{ users: [ {{ user: \"CN=bob\" }} ] }}
        }}\n",
        pki.tls_block("verify_and_map: true")
    );
    let s = TestServer::with_config(&config, &[]);
    let alice = pki.client(
        "alice",
        &[(DnType::CommonName, "alice")],
        vec![email("alice@example.com")],
    );
    let bob = pki.client("bob", &[(DnType::CommonName, "bob")], vec![]);
    let a = pki.options_with(&alice).connect(s.url()).await.unwrap();
    let b = pki.options_with(&bob).connect(s.url()).await.unwrap();
    // Same subject, different accounts: neither sees the other's messages.
    let mut in_b = b.subscribe("shared").await.unwrap();
    round_trip(&a, "shared").await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), in_b.next())
            .await
            .is_err(),
        "a message crossed accounts"
    );
    round_trip(&b, "shared.b").await;
}
