//! TLS for listeners: building a rustls server configuration from [`TlsOptions`] (shared by
//! the client listener and the HTTPS monitor, and meant for routes, gateways and leaf nodes
//! too), and the client connection's opening sequence as nats-server runs it: INFO in plain
//! text then the handshake, or the handshake first (with an optional fall back to INFO),
//! or, with `allow_non_tls`, a look at the client's first byte to choose.
//!
//! This module owns no connection state: it hands back a plain or TLS stream plus what
//! monitoring and certificate mapping need. Every wait on the peer is bounded by the
//! handshake timeout; a failed handshake is logged and the socket dropped, never a panic.

use std::sync::Arc;
use std::time::Duration;

use natrium_config::options::{load_ca, load_key_pair};
use natrium_config::{Options, TlsOptions, TlsVersion};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::x509::CertNames;
use crate::{debug, error};

/// The first byte of a TLS record carrying a handshake.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// A listener's TLS, built once per configuration (load or reload).
pub struct TlsListener {
    pub acceptor: TlsAcceptor,
    pub options: TlsOptions,
    /// False with `allow_non_tls`: plain-text clients are accepted too.
    pub required: bool,
    /// When the server certificate expires (RFC 3339), for /varz.
    pub cert_not_after: Option<String>,
}

impl TlsListener {
    /// The client listener's TLS from the options, `None` without a `tls` block.
    pub fn for_clients(opts: &Options) -> Result<Option<Arc<TlsListener>>, String> {
        let Some(t) = &opts.tls else {
            return Ok(None);
        };
        let config = server_config(t)?;
        let cert_not_after = match (&t.cert_file, &t.key_file) {
            (Some(c), Some(k)) => load_key_pair(c, k)
                .ok()
                .and_then(|(certs, _)| crate::x509::parse(certs.first()?.as_ref()))
                .and_then(|n| n.not_after),
            _ => None,
        };
        Ok(Some(Arc::new(TlsListener {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            options: t.clone(),
            required: !opts.allow_non_tls,
            cert_not_after,
        })))
    }
}

/// Builds a rustls server configuration from a `tls` block. Reusable by every listener.
pub fn server_config(t: &TlsOptions) -> Result<ServerConfig, String> {
    let (Some(cert_file), Some(key_file)) = (&t.cert_file, &t.key_file) else {
        // nats-server accepts a block without a certificate and then fails every handshake.
        return Err("TLS requires 'cert_file' and 'key_file'".into());
    };
    let provider = Arc::new(provider(t)?);
    let versions: &[&'static rustls::SupportedProtocolVersion] = match t.min_version {
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        _ => &[&rustls::version::TLS12, &rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS configuration: {e}"))?;
    let builder = if t.verify {
        let mut roots = RootCertStore::empty();
        match &t.ca_file {
            Some(ca_file) => {
                for ca in load_ca(ca_file)? {
                    roots
                        .add(ca)
                        .map_err(|e| format!("failed to parse root ca certificate: {e}"))?;
                }
            }
            // Without ca_file, client certificates are verified against the system's roots,
            // as Go does; unreadable system certificates are skipped like Go skips them.
            None => {
                let (added, _) =
                    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
                if added == 0 {
                    return Err(
                        "TLS 'verify' without 'ca_file': no system root certificates".into(),
                    );
                }
            }
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| format!("TLS client verification: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let (certs, key) = load_key_pair(cert_file, key_file)
        .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?;
    builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))
}

/// The ring provider limited to the configured cipher suites and key exchange groups.
/// Go does not let TLS 1.3 suites be chosen, so they always stay; names rustls does not
/// implement (CBC suites, P-521, post-quantum hybrids) are simply never offered, and a list
/// that leaves nothing to offer is refused.
fn provider(t: &TlsOptions) -> Result<CryptoProvider, String> {
    let mut p = rustls::crypto::ring::default_provider();
    if !t.cipher_suites.is_empty() {
        p.cipher_suites.retain(|s| {
            let tls13 = matches!(s, rustls::SupportedCipherSuite::Tls13(_));
            tls13 || t.cipher_suites.iter().any(|n| n == cipher_name(s))
        });
        let tls12_left = p
            .cipher_suites
            .iter()
            .any(|s| matches!(s, rustls::SupportedCipherSuite::Tls12(_)));
        if !tls12_left && t.min_version != Some(TlsVersion::Tls13) {
            return Err(format!(
                "none of the configured TLS 1.2 cipher_suites is available in natrium-server: {}",
                t.cipher_suites.join(", ")
            ));
        }
    }
    if !t.curve_preferences.is_empty() {
        let mut groups = Vec::new();
        for name in &t.curve_preferences {
            let found = p.kx_groups.iter().find(|g| {
                let n = g.name();
                matches!(
                    (name.as_str(), n),
                    ("X25519", rustls::NamedGroup::X25519)
                        | ("CurveP256", rustls::NamedGroup::secp256r1)
                        | ("CurveP384", rustls::NamedGroup::secp384r1)
                )
            });
            if let Some(g) = found {
                groups.push(*g);
            }
        }
        if groups.is_empty() {
            return Err(format!(
                "none of the configured curve_preferences is available in natrium-server: {}",
                t.curve_preferences.join(", ")
            ));
        }
        p.kx_groups = groups;
    }
    Ok(p)
}

/// Go's name for a cipher suite (`tls.CipherSuiteName`), as /connz shows it.
pub fn cipher_name(s: &rustls::SupportedCipherSuite) -> &'static str {
    match u16::from(s.suite()) {
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        _ => "unknown",
    }
}

/// What a finished handshake tells monitoring and authentication.
#[derive(Debug, Clone, Default)]
pub struct PeerTls {
    /// `1.2` or `1.3`.
    pub version: &'static str,
    pub cipher: &'static str,
    /// The handshake came before INFO.
    pub tls_first: bool,
    /// The client's certificate, when it sent one.
    pub cert: Option<Arc<CertNames>>,
    /// Every certificate the client presented, as /connz?auth=1 lists them.
    pub peer_certs: Vec<PeerCert>,
}

/// One presented certificate in /connz (nats-server's `tls_peer_certs` entries).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PeerCert {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub spki_sha256: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert_sha256: String,
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::x509::hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// A client connection after its opening sequence.
pub enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>, PeerTls),
}

/// The INFO lines a connection may be greeted with.
pub struct Greeting {
    /// The INFO sent before or without a handshake.
    pub normal: Vec<u8>,
    /// The INFO sent after a handshake-first handshake (`tls_required` always true).
    pub after_tls_first: Vec<u8>,
}

/// Runs a client connection's opening: returns the transport and whether INFO still has to
/// be sent (and which one). `None` when the connection was closed (already logged).
pub async fn negotiate(
    tls: &TlsListener,
    mut stream: TcpStream,
    greeting: &Greeting,
    prefix: &str,
) -> Option<(Transport, Option<Vec<u8>>)> {
    let t = &tls.options;
    let timeout = t.handshake_timeout();
    let mut tls_first = t.handshake_first;
    if tls_first {
        if let Some(delay) = t.handshake_first_fallback {
            // Only a client doing TLS first speaks before INFO.
            if !peer_spoke(&stream, delay).await {
                tls_first = false;
            }
        }
    }
    let mut use_tls = true;
    if !tls_first {
        // INFO goes out in plain text before any handshake, as nats-server sends it.
        match tokio::time::timeout(timeout, stream.write_all(&greeting.normal)).await {
            Ok(Ok(())) => {}
            _ => {
                debug!("{prefix} - Error writing INFO");
                return None;
            }
        }
        if !tls.required {
            use_tls = first_byte(&stream, timeout).await == Some(TLS_HANDSHAKE_RECORD);
        }
    }
    if !use_tls {
        return Some((Transport::Plain(stream), None));
    }
    debug!("{prefix} - Starting TLS client connection handshake");
    let tls_stream = match tokio::time::timeout(timeout, tls.acceptor.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            log_handshake_error(prefix, &e);
            return None;
        }
        Err(_) => {
            debug!("{prefix} - TLS handshake timeout");
            return None;
        }
    };
    let peer = peer_info(&tls_stream, tls_first);
    if !t.pinned_certs.is_empty() && !pinned(t, &peer, prefix) {
        error!("{prefix} - TLS handshake error: certificate not pinned");
        return None;
    }
    let info = tls_first.then(|| greeting.after_tls_first.clone());
    Some((Transport::Tls(Box::new(tls_stream), peer), info))
}

/// True when the peer sends anything within `wait`.
async fn peer_spoke(stream: &TcpStream, wait: Duration) -> bool {
    first_byte(stream, wait).await.is_some()
}

/// Peeks at the first byte the peer sends (it stays in the socket for whoever reads next).
async fn first_byte(stream: &TcpStream, wait: Duration) -> Option<u8> {
    let mut b = [0u8; 1];
    match tokio::time::timeout(wait, stream.peek(&mut b)).await {
        Ok(Ok(1)) => Some(b[0]),
        _ => None,
    }
}

fn log_handshake_error(prefix: &str, e: &std::io::Error) {
    use std::io::ErrorKind::*;
    // Probes that connect and leave (health checks, port scanners) are not errors.
    if matches!(
        e.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
    ) {
        debug!("{prefix} - TLS handshake error: {e}");
    } else {
        error!("{prefix} - TLS handshake error: {e}");
    }
}

fn peer_info(s: &TlsStream<TcpStream>, tls_first: bool) -> PeerTls {
    let (_, conn) = s.get_ref();
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "1.2",
        _ => "",
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .as_ref()
        .map_or("", cipher_name);
    let presented = conn.peer_certificates().unwrap_or_default();
    let parsed: Vec<Option<CertNames>> = presented
        .iter()
        .map(|c| crate::x509::parse(c.as_ref()))
        .collect();
    let peer_certs = presented
        .iter()
        .zip(&parsed)
        .map(|(der, names)| PeerCert {
            subject: names
                .as_ref()
                .map(|n| n.subject_string())
                .unwrap_or_default(),
            spki_sha256: names
                .as_ref()
                .map(|n| sha256_hex(&n.spki))
                .unwrap_or_default(),
            cert_sha256: sha256_hex(der.as_ref()),
        })
        .collect();
    let cert = parsed.into_iter().next().flatten().map(Arc::new);
    PeerTls {
        version,
        cipher,
        tls_first,
        cert,
        peer_certs,
    }
}

/// nats-server's pinned certificate check: SHA-256 of the client's SubjectPublicKeyInfo.
fn pinned(t: &TlsOptions, peer: &PeerTls, prefix: &str) -> bool {
    let Some(cert) = &peer.cert else {
        debug!("{prefix} - Failed pinned cert test as client did not provide a certificate");
        return false;
    };
    let key_id = sha256_hex(&cert.spki);
    let ok = t.pinned_certs.contains(&key_id);
    if !ok {
        debug!("{prefix} - Failed pinned cert test for key id: {key_id}");
    }
    ok
}

/// Accepts a TLS connection for a non-client listener (HTTPS monitoring): handshake within
/// the timeout, no client certificate checks beyond the configuration's.
pub async fn accept_simple(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    timeout: Duration,
) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            debug!("Monitor TLS handshake error: {e}");
            None
        }
        Err(_) => None,
    }
}
