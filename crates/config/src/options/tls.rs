//! The `tls` block (nats-server's `parseTLS` plus the file checks of its `GenTLSConfig`) and
//! the typed [`TlsOptions`] the server builds its rustls configuration from.
//!
//! The same block grammar serves every listener (clients now; routes, gateways, leaf nodes and
//! websocket later), so [`parse_tls_block`] takes the context it is parsed in. Certificate,
//! key and CA files are read here, as nats-server reads them while loading the configuration,
//! so `-t` reports a missing or unreadable file with nats-server's text. What the server cannot
//! do (certificate stores, OCSP peer checks, several certificate pairs, insecure cipher
//! suites, connection rate limits) is recorded as unsupported, never silently dropped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::convert::{go_quote, parse_go_duration, Loader};
use super::{Options, DEFAULT_TLS_TIMEOUT};
use crate::conf::{Pos, Spanned, Value};

/// nats-server's default fallback delay for `handshake_first: auto`.
pub const DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK: Duration = Duration::from_millis(50);

/// A TLS protocol version a listener may be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// One listener's TLS settings, as written in a `tls { ... }` block or given by `--tls*`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TlsOptions {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    /// Require and verify a client certificate.
    pub verify: bool,
    /// `verify_and_map`: the client certificate names the user (implies `verify`).
    pub map: bool,
    /// `insecure`: skip verification of the peer's certificate. Only a connection this
    /// server initiates checks a peer certificate without `verify`, so on a listener this
    /// has no effect (as in nats-server).
    pub insecure: bool,
    /// Handshake deadline; zero means [`DEFAULT_TLS_TIMEOUT`] (filled in by `finalize`).
    pub timeout: Duration,
    /// `handshake_first`: the TLS handshake comes before INFO.
    pub handshake_first: bool,
    /// With `handshake_first`, how long to wait for a client that does not start TLS
    /// before sending INFO in plain text (`auto` or a duration). `None`: never fall back.
    pub handshake_first_fallback: Option<Duration>,
    pub min_version: Option<TlsVersion>,
    /// Cipher suite names (Go's names), empty for the defaults.
    pub cipher_suites: Vec<String>,
    /// Key exchange group names (Go's names), empty for the defaults.
    pub curve_preferences: Vec<String>,
    /// Lower-case hex SHA-256 digests of accepted client certificates' SubjectPublicKeyInfo;
    /// empty means no pinning.
    pub pinned_certs: Vec<String>,
}

impl TlsOptions {
    /// The handshake deadline with the default applied.
    pub fn handshake_timeout(&self) -> Duration {
        if self.timeout.is_zero() {
            DEFAULT_TLS_TIMEOUT
        } else {
            self.timeout
        }
    }
}

/// Where a `tls` block is parsed: nats-server accepts `verify_cert_and_check_known_urls` only
/// where the server accepts connections from its own cluster (routes, gateways, leaf nodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsContext {
    Client,
    Cluster,
}

/// Cipher suites nats-server knows by name (Go's `tls.CipherSuites()`), then the ones Go
/// lists as insecure (`tls.InsecureCipherSuites()`).
const SECURE_CIPHERS: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
];
const INSECURE_CIPHERS: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];
/// Key exchange names nats-server accepts in `curve_preferences`.
const CURVES: &[&str] = &[
    "SecP384r1MLKEM1024",
    "SecP256r1MLKEM768",
    "X25519MLKEM768",
    "X25519",
    "CurveP256",
    "CurveP384",
    "CurveP521",
];
/// Block keys nats-server accepts that Natrium does not implement.
const UNSUPPORTED: &[&str] = &[
    "connection_rate_limit",
    "cert_store",
    "cert_match_by",
    "cert_match",
    "ca_certs_match",
    "cert_match_skip_invalid",
    "ocsp_peer",
    "certs",
    "certificates",
];

/// The top-level `tls` block.
pub(super) fn apply_tls(o: &mut Options, ld: &mut Loader, key: &str, v: &Spanned) {
    if let Some(tls) = parse_tls_block(ld, key, v, TlsContext::Client) {
        o.tls = Some(tls);
    }
}

/// Parses a `tls` block and checks its files. Errors and unsupported keys go to `ld`;
/// `None` after an error (nats-server stops at the first error inside the block).
pub(crate) fn parse_tls_block(
    ld: &mut Loader,
    name: &str,
    v: &Spanned,
    ctx: TlsContext,
) -> Option<TlsOptions> {
    let entries = ld.map(v)?;
    let mut t = TlsOptions::default();
    let mut insecure_ciphers: Vec<String> = Vec::new();
    let mut allow_insecure = false;
    for (key, item) in entries {
        let lower = key.to_lowercase();
        if UNSUPPORTED.contains(&lower.as_str()) {
            ld.unsupported(format!("{name}.{key}"), &item.pos);
            continue;
        }
        let r = match lower.as_str() {
            "allow_insecure_cipher_suites" => bool_field(item, key).map(|b| allow_insecure = b),
            "cipher_suites" => parse_ciphers(item).map(|(names, insecure)| {
                t.cipher_suites = names;
                insecure_ciphers.extend(insecure);
            }),
            _ => apply_key(&mut t, key, &lower, item, ctx),
        };
        if let Err((pos, msg)) = r {
            ld.error(&pos, msg);
            return None;
        }
    }
    if !insecure_ciphers.is_empty() {
        if !allow_insecure {
            let msg = format!(
                "insecure cipher suites configured without 'allow_insecure_cipher_suites' \
                 option set: {}",
                insecure_ciphers.join(", ")
            );
            ld.error(&v.pos, msg);
            return None;
        }
        // rustls implements none of them; refusing beats pretending they are offered.
        ld.unsupported(format!("{name}.allow_insecure_cipher_suites"), &v.pos);
    }
    if let Err(msg) = check_files(&t) {
        ld.error(&v.pos, msg);
        return None;
    }
    Some(t)
}

type FieldResult = Result<(), (Pos, String)>;

fn bool_field(v: &Spanned, key: &str) -> Result<bool, (Pos, String)> {
    match v.value {
        Value::Bool(b) => Ok(b),
        _ => Err((
            v.pos.clone(),
            format!("error parsing tls config, expected '{key}' to be a boolean"),
        )),
    }
}

fn file_field(v: &Spanned, key: &str) -> Result<PathBuf, (Pos, String)> {
    match &v.value {
        Value::String(s) => Ok(PathBuf::from(s)),
        _ => Err((
            v.pos.clone(),
            format!("error parsing tls config, expected '{key}' to be filename"),
        )),
    }
}

fn apply_key(
    t: &mut TlsOptions,
    key: &str,
    lower: &str,
    v: &Spanned,
    ctx: TlsContext,
) -> FieldResult {
    let err = |msg: String| Err((v.pos.clone(), msg));
    match lower {
        "cert_file" => t.cert_file = Some(file_field(v, lower)?),
        "key_file" => t.key_file = Some(file_field(v, lower)?),
        "ca_file" => t.ca_file = Some(file_field(v, lower)?),
        "insecure" => t.insecure = bool_field(v, lower)?,
        "verify" => t.verify = bool_field(v, lower)?,
        "verify_and_map" => {
            t.map = bool_field(v, lower)?;
            t.verify |= t.map;
        }
        "verify_cert_and_check_known_urls" => {
            if bool_field(v, lower)? {
                if ctx == TlsContext::Client {
                    return err(
                        "verify_cert_and_check_known_urls not supported in this context".into(),
                    );
                }
                // Checking the peer's certificate against the cluster's known URLs needs
                // routes, gateways or leaf nodes, which do not exist yet.
                return err(
                    "verify_cert_and_check_known_urls is not supported by natrium-server yet"
                        .into(),
                );
            }
        }
        "curve_preferences" => t.curve_preferences = parse_curves(v)?,
        "timeout" => t.timeout = parse_timeout(v)?,
        "pinned_certs" => t.pinned_certs = parse_pinned(v)?,
        "handshake_first" | "first" | "immediate" => parse_handshake_first(t, key, v)?,
        "min_version" => {
            t.min_version = Some(match &v.value {
                Value::String(s) => match s.as_str() {
                    "1.2" => TlsVersion::Tls12,
                    "1.3" => TlsVersion::Tls13,
                    "1.0" | "1.1" => {
                        return err(format!(
                            "error parsing tls config: unsupported TLS version: TLS {s}"
                        ))
                    }
                    _ => return err(format!("error parsing tls config: unknown version: {s}")),
                },
                other => {
                    return err(format!(
                        "error parsing tls config: 'min_version' wrong type: {}",
                        super::convert::go_display(other)
                    ))
                }
            })
        }
        _ => {
            return err(format!(
                "error parsing tls config, unknown field {}",
                go_quote(key)
            ))
        }
    }
    Ok(())
}

/// Names and the insecure ones among them.
fn parse_ciphers(v: &Spanned) -> Result<(Vec<String>, Vec<String>), (Pos, String)> {
    let items = string_list(v, "cipher_suites")?;
    let (mut names, mut insecure) = (Vec::new(), Vec::new());
    for (pos, name) in items {
        if INSECURE_CIPHERS.contains(&name.as_str()) {
            insecure.push(name.clone());
        } else if !SECURE_CIPHERS.contains(&name.as_str()) {
            return Err((pos, format!("unrecognized cipher {name}")));
        }
        names.push(name);
    }
    Ok((names, insecure))
}

fn parse_curves(v: &Spanned) -> Result<Vec<String>, (Pos, String)> {
    let mut names = Vec::new();
    for (pos, name) in string_list(v, "curve_preferences")? {
        if !CURVES.contains(&name.as_str()) {
            return Err((pos, format!("unrecognized curve preference {name}")));
        }
        names.push(name);
    }
    Ok(names)
}

/// A non-empty array of strings, each with its position.
fn string_list(v: &Spanned, key: &str) -> Result<Vec<(Pos, String)>, (Pos, String)> {
    let Value::Array(items) = &v.value else {
        return Err((
            v.pos.clone(),
            format!(
                "interface conversion: interface {{}} is {}, not []interface {{}}",
                v.value.go_type()
            ),
        ));
    };
    if items.is_empty() {
        return Err((
            v.pos.clone(),
            format!("error parsing tls config, '{key}' cannot be empty"),
        ));
    }
    items
        .iter()
        .map(|item| match &item.value {
            Value::String(s) => Ok((item.pos.clone(), s.clone())),
            other => Err((
                item.pos.clone(),
                format!(
                    "interface conversion: interface {{}} is {}, not string",
                    other.go_type()
                ),
            )),
        })
        .collect()
}

/// `timeout`: seconds (integer or float) or a duration string.
fn parse_timeout(v: &Spanned) -> Result<Duration, (Pos, String)> {
    let err = |msg: String| Err((v.pos.clone(), msg));
    let secs = match &v.value {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::String(s) => match parse_go_duration(s) {
            Ok(nanos) => nanos as f64 / 1e9,
            Err(e) => return err(format!("error parsing tls config, 'timeout' {e}")),
        },
        _ => return err("error parsing tls config, 'timeout' wrong type".into()),
    };
    // Deviation: nats-server takes a negative timeout and then fails every handshake.
    match Duration::try_from_secs_f64(secs) {
        Ok(d) => Ok(d),
        Err(_) => err("error parsing tls config, 'timeout' needs to be positive".into()),
    }
}

fn parse_pinned(v: &Spanned) -> Result<Vec<String>, (Pos, String)> {
    let Value::Array(items) = &v.value else {
        return Err((
            v.pos.clone(),
            "error parsing tls config, expected 'pinned_certs' to be a list of hex-encoded \
             sha256 of DER encoded SubjectPublicKeyInfo"
                .into(),
        ));
    };
    let mut out = Vec::new();
    for item in items {
        let entry = match &item.value {
            Value::String(s) => s.to_lowercase(),
            other => super::convert::go_display(other),
        };
        if entry.len() != 64 || !entry.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err((
                item.pos.clone(),
                format!(
                    "error parsing tls config, 'pinned_certs' key {entry} does not look like \
                     hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"
                ),
            ));
        }
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    Ok(out)
}

fn parse_handshake_first(t: &mut TlsOptions, key: &str, v: &Spanned) -> FieldResult {
    match &v.value {
        Value::Bool(b) => {
            t.handshake_first = *b;
            t.handshake_first_fallback = None;
        }
        Value::String(s) => match s.to_lowercase().as_str() {
            "true" | "on" => (t.handshake_first, t.handshake_first_fallback) = (true, None),
            "false" | "off" => (t.handshake_first, t.handshake_first_fallback) = (false, None),
            "auto" | "auto_fallback" => {
                t.handshake_first = true;
                t.handshake_first_fallback = Some(DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK);
            }
            _ => match parse_go_duration(s) {
                Ok(nanos) => {
                    t.handshake_first = true;
                    // A zero or negative delay means no fallback, as in nats-server.
                    t.handshake_first_fallback = u64::try_from(nanos)
                        .ok()
                        .filter(|n| *n > 0)
                        .map(Duration::from_nanos);
                }
                Err(_) => {
                    return Err((
                        v.pos.clone(),
                        format!("field {}'s value {} is invalid", go_quote(key), go_quote(s)),
                    ))
                }
            },
        },
        other => {
            return Err((
                v.pos.clone(),
                format!(
                    "field {} should be a boolean or a string, got {}",
                    go_quote(key),
                    other.go_type()
                ),
            ))
        }
    }
    Ok(())
}

/// nats-server's file checks while generating the TLS configuration, with its texts.
pub fn check_files(t: &TlsOptions) -> Result<(), String> {
    match (&t.cert_file, &t.key_file) {
        (Some(_), None) => return Err("missing 'key_file' in TLS configuration".into()),
        (None, Some(_)) => return Err("missing 'cert_file' in TLS configuration".into()),
        (Some(cert), Some(key)) => {
            load_key_pair(cert, key)
                .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?;
        }
        (None, None) => {}
    }
    if let Some(ca) = &t.ca_file {
        load_ca(ca)?;
    }
    Ok(())
}

/// Reads a certificate chain and its private key (PEM), with Go's error texts.
pub fn load_key_pair(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let cert_pem = read_file(cert)?;
    let certs = pem_sections(&cert_pem)
        .into_iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| CertificateDer::from(der))
        .collect::<Vec<_>>();
    if certs.is_empty() {
        return Err("tls: failed to find any PEM data in certificate input".into());
    }
    let key_pem = read_file(key)?;
    let sections = pem_sections(&key_pem);
    let key = sections
        .iter()
        .find_map(|(kind, der)| PrivateKeyDer::from_pem(*kind, der.clone()));
    match key {
        Some(key) => Ok((certs, key)),
        None if sections.iter().any(|(k, _)| *k == SectionKind::Certificate) => {
            Err("tls: found a certificate rather than a key in the PEM for the private key".into())
        }
        None => Err("tls: failed to find any PEM data in key input".into()),
    }
}

/// Reads the CA certificates a peer's certificate is verified against.
pub fn load_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read_file(path)?;
    let certs: Vec<_> = pem_sections(&pem)
        .into_iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| CertificateDer::from(der))
        .collect();
    if certs.is_empty() {
        return Err("failed to parse root ca certificate".into());
    }
    Ok(certs)
}

/// The PEM sections of a file; like Go, undecodable text between sections is skipped.
fn pem_sections(pem: &[u8]) -> Vec<(SectionKind, Vec<u8>)> {
    <(SectionKind, Vec<u8>)>::pem_slice_iter(pem)
        .map_while(Result::ok)
        .collect()
}

/// Reads a file; the error is Go's `open PATH: reason`.
fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("open {}: {}", path.display(), os_reason(&e)))
}

/// An I/O error as Go's `syscall.Errno` prints it (lower case, no error number).
pub(crate) fn os_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            let mut chars = text.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect(),
                None => text.to_string(),
            }
        }
    }
}

/// `allow_non_tls`.
pub(super) fn apply_allow_non_tls(o: &mut Options, ld: &mut Loader, v: &Spanned) {
    if let Some(b) = ld.bool(v) {
        o.allow_non_tls = b;
    }
}
