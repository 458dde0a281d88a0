//! The few parts of an X.509 certificate the server reads itself: the subject name, the
//! subject alternative names (e-mail, DNS, URI) and the raw SubjectPublicKeyInfo.
//!
//! rustls verifies certificates; this module only extracts names for `verify_and_map` and
//! the key digest for `pinned_certs`, from a certificate rustls has already accepted. It is a
//! minimal DER reader: every length is checked against the input before use and anything
//! unexpected yields `None`, never a panic (the input comes from the network).

/// What `verify_and_map` and `pinned_certs` need from a certificate.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CertNames {
    pub emails: Vec<String>,
    pub dns_names: Vec<String>,
    pub uris: Vec<String>,
    /// The subject's relative distinguished names in certificate order, each a list of
    /// (attribute OID in dotted form, string value, DER of the value).
    pub subject: Vec<Vec<Attribute>>,
    /// The DER SubjectPublicKeyInfo (what `pinned_certs` digests).
    pub spki: Vec<u8>,
    /// The end of the validity period, RFC 3339 in UTC (`2026-11-24T07:43:36Z`).
    pub not_after: Option<String>,
}

/// One attribute of a relative distinguished name.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub oid: String,
    /// The value when it is a string type, else `None`.
    pub value: Option<String>,
}

/// A DER element: tag, contents, and the whole encoding.
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Splits the first element off `input`.
fn next(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    let (body, rest) = rest.split_at(len);
    Some((Tlv { tag, body }, rest))
}

/// Every element inside `body`, or `None` if it is malformed.
fn children(mut body: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let (t, rest) = next(body)?;
        out.push(t);
        body = rest;
    }
    Some(out)
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
/// subjectAltName, 2.5.29.17.
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];

/// Parses a DER certificate.
pub fn parse(der: &[u8]) -> Option<CertNames> {
    let (cert, _) = next(der)?;
    if cert.tag != SEQUENCE {
        return None;
    }
    let (tbs, _) = next(cert.body)?;
    let mut fields = children(tbs.body)?.into_iter().peekable();
    // An explicit version ([0]) is optional.
    if fields.peek().is_some_and(|f| f.tag == 0xa0) {
        fields.next();
    }
    let _serial = fields.next()?;
    let _signature = fields.next()?;
    let _issuer = fields.next()?;
    let validity = fields.next()?;
    let subject = fields.next()?;
    let spki = fields.next()?;
    let mut names = CertNames {
        subject: parse_name(subject.body)?,
        spki: encode(SEQUENCE, spki.body),
        not_after: children(validity.body)?
            .get(1)
            .and_then(|t| rfc3339(t.tag, t.body)),
        ..CertNames::default()
    };
    for f in fields {
        if f.tag == 0xa3 {
            parse_extensions(f.body, &mut names)?;
        }
    }
    Some(names)
}

/// A UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as RFC 3339.
fn rfc3339(tag: u8, body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy: u32 = digits[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        (0x18, 14) => (digits[..4].parse().ok()?, &digits[4..]),
        _ => return None,
    };
    Some(format!(
        "{year:04}-{}-{}T{}:{}:{}Z",
        &rest[0..2],
        &rest[2..4],
        &rest[4..6],
        &rest[6..8],
        &rest[8..10]
    ))
}

fn encode(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(body);
    out
}

fn parse_name(body: &[u8]) -> Option<Vec<Vec<Attribute>>> {
    let mut rdns = Vec::new();
    for rdn in children(body)? {
        if rdn.tag != SET {
            return None;
        }
        let mut attrs = Vec::new();
        for atv in children(rdn.body)? {
            let parts = children(atv.body)?;
            let (oid, value) = match parts.as_slice() {
                [oid, value] if oid.tag == OID => (oid, value),
                _ => return None,
            };
            attrs.push(Attribute {
                oid: oid_string(oid.body)?,
                value: string_value(value.tag, value.body),
            });
        }
        rdns.push(attrs);
    }
    Some(rdns)
}

/// The string types Go decodes into a string (UTF8, Printable, IA5, T61, BMP is skipped).
fn string_value(tag: u8, body: &[u8]) -> Option<String> {
    match tag {
        0x0c | 0x13 | 0x16 | 0x14 | 0x1a => String::from_utf8(body.to_vec()).ok(),
        _ => None,
    }
}

fn oid_string(body: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for (i, &b) in body.iter().enumerate() {
        value = value.checked_mul(128)? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        } else if i + 1 == body.len() {
            return None;
        }
    }
    if arcs.is_empty() {
        return None;
    }
    Some(
        arcs.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

fn parse_extensions(body: &[u8], names: &mut CertNames) -> Option<()> {
    let (seq, _) = next(body)?;
    for ext in children(seq.body)? {
        let parts = children(ext.body)?;
        let oid = parts.first()?;
        if oid.tag != OID || oid.body != SAN_OID {
            continue;
        }
        let value = parts.iter().find(|p| p.tag == OCTET_STRING)?;
        let (general_names, _) = next(value.body)?;
        for gn in children(general_names.body)? {
            let text = || String::from_utf8(gn.body.to_vec()).ok();
            match gn.tag {
                0x81 => names.emails.extend(text()),
                0x82 => names.dns_names.extend(text()),
                0x86 => names.uris.extend(text()),
                _ => {}
            }
        }
    }
    Some(())
}

/// Attribute names Go prints in a distinguished name; others print as `OID=#hex`.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.17" => "POSTALCODE",
        _ => return None,
    })
}

/// Domain components, 0.9.2342.19200300.100.1.25.
const DC_OID: &str = "0.9.2342.19200300.100.1.25";

impl CertNames {
    /// The subject as Go's `RDNSequence.String()` prints it (RFC 2253 order: last RDN
    /// first), which nats-server matches user names against.
    pub fn subject_string(&self) -> String {
        let mut out = String::new();
        for (i, rdn) in self.subject.iter().rev().enumerate() {
            if i > 0 {
                out.push(',');
            }
            for (j, atv) in rdn.iter().enumerate() {
                if j > 0 {
                    out.push('+');
                }
                match (short_name(&atv.oid), &atv.value) {
                    (Some(name), Some(v)) => {
                        out.push_str(name);
                        out.push('=');
                        out.push_str(&escape_dn_value(v));
                    }
                    (_, Some(v)) => {
                        out.push_str(&atv.oid);
                        out.push_str("=#");
                        out.push_str(&hex(&go_string_der(v)));
                    }
                    (_, None) => out.push_str(&atv.oid),
                }
            }
        }
        out
    }

    /// `DC=` parts, comma separated in certificate order (nats-server appends them to the
    /// subject string for a second lookup).
    pub fn domain_components(&self) -> String {
        self.subject
            .iter()
            .flatten()
            .filter(|a| a.oid == DC_OID)
            .filter_map(|a| a.value.as_ref().map(|v| format!("DC={v}")))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The subject as a DN in string order (last RDN first), each attribute with its short
    /// name; `None` when an attribute has no short name (nats-server then skips DN matching).
    pub fn subject_dn(&self) -> Option<Dn> {
        let mut dn = Vec::new();
        for rdn in self.subject.iter().rev() {
            let mut attrs = Vec::new();
            for atv in rdn.iter().rev() {
                let name = if atv.oid == DC_OID {
                    "DC"
                } else {
                    short_name(&atv.oid)?
                };
                attrs.push((name.to_string(), atv.value.clone()?));
            }
            dn.push(attrs);
        }
        Some(dn)
    }
}

/// A distinguished name: RDNs of (type, value) pairs.
pub type Dn = Vec<Vec<(String, String)>>;

/// Parses an RFC 4514 DN (as a configured user name), `None` if it is not one.
pub fn parse_dn(text: &str) -> Option<Dn> {
    let bytes = text.as_bytes();
    let mut dn: Dn = Vec::new();
    let mut rdn: Vec<(String, String)> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut typ: Option<String> = None;
    let mut trailing = 0usize;
    let take = |buf: &mut Vec<u8>, trailing: &mut usize| -> Option<String> {
        let end = buf.len() - *trailing;
        let s = String::from_utf8(buf[..end].to_vec()).ok();
        buf.clear();
        *trailing = 0;
        s
    };
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\\' => {
                trailing = 0;
                let e = *bytes.get(i + 1)?;
                if b" \"#+,;<=>\\".contains(&e) {
                    buf.push(e);
                    i += 1;
                } else {
                    let hex = text.get(i + 1..i + 3)?;
                    buf.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
            }
            b'=' if typ.is_none() => {
                typ = Some(take(&mut buf, &mut trailing)?);
                if bytes.get(i + 1) == Some(&b'#') {
                    return None;
                }
            }
            b',' | b'+' => {
                let t = typ.take().filter(|t| !t.is_empty())?;
                rdn.push((t, take(&mut buf, &mut trailing)?));
                if c == b',' {
                    dn.push(std::mem::take(&mut rdn));
                }
            }
            b' ' if buf.is_empty() => {}
            _ => {
                trailing = if c == b' ' { trailing + 1 } else { 0 };
                buf.push(c);
            }
        }
        i += 1;
    }
    if !buf.is_empty() {
        let t = typ.take().filter(|t| !t.is_empty())?;
        rdn.push((t, take(&mut buf, &mut trailing)?));
        dn.push(rdn);
    }
    (!dn.is_empty()).then_some(dn)
}

fn rdn_equal(a: &[(String, String)], b: &[(String, String)]) -> bool {
    let has = |x: &[(String, String)], (t, v): &(String, String)| {
        x.iter()
            .any(|(t2, v2)| t2.eq_ignore_ascii_case(t) && v2 == v)
    };
    a.len() == b.len() && a.iter().all(|p| has(b, p)) && b.iter().all(|p| has(a, p))
}

/// nats-server's DN comparison: the same RDNs in the same order, or (failing that) in any
/// order.
pub fn dn_equal(a: &Dn, b: &Dn) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| rdn_equal(x, y))
}

pub fn dn_rdns_match(a: &Dn, b: &Dn) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter().all(|x| {
        let found = b
            .iter()
            .enumerate()
            .find(|(j, y)| !used[*j] && rdn_equal(x, y))
            .map(|(j, _)| j);
        found.map(|j| used[j] = true).is_some()
    })
}

/// Go's escaping of a DN attribute value.
fn escape_dn_value(v: &str) -> String {
    let n = v.chars().count();
    let mut out = String::with_capacity(v.len());
    for (k, c) in v.chars().enumerate() {
        let escape = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => k == 0 || k + 1 == n,
            '#' => k == 0,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// How Go's `asn1.Marshal` re-encodes a decoded string: PrintableString when every
/// character allows it, UTF8String otherwise.
fn go_string_der(v: &str) -> Vec<u8> {
    let printable = v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b));
    encode(if printable { 0x13 } else { 0x0c }, v.as_bytes())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_strings_parse_and_compare() {
        let a = parse_dn("CN=alice, O=Acme\\, Inc,C=US").unwrap();
        assert_eq!(a[1], vec![("O".to_string(), "Acme, Inc".to_string())]);
        let b = parse_dn("cn=alice,O=Acme\\, Inc,C=US").unwrap();
        assert!(dn_equal(&a, &b));
        let c = parse_dn("C=US,CN=alice,O=Acme\\, Inc").unwrap();
        assert!(!dn_equal(&a, &c));
        assert!(dn_rdns_match(&a, &c));
        assert!(parse_dn("alice").is_none());
        assert!(parse_dn("CN=#0102").is_none());
        assert!(parse_dn("CN=a\\").is_none());
    }

    #[test]
    fn malformed_der_is_rejected_without_panic() {
        assert!(parse(&[]).is_none());
        assert!(parse(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(parse(&[0x30, 0x03, 0x30, 0x01]).is_none());
        for n in 0..64u8 {
            let junk: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ 0x30).collect();
            let _ = parse(&junk);
        }
    }

    #[test]
    fn validity_times_print_as_rfc3339() {
        assert_eq!(
            rfc3339(0x17, b"261124074336Z").as_deref(),
            Some("2026-11-24T07:43:36Z")
        );
        assert_eq!(
            rfc3339(0x18, b"20501231235959Z").as_deref(),
            Some("2050-12-31T23:59:59Z")
        );
        assert_eq!(rfc3339(0x17, b"9912312359Z"), None);
    }

    #[test]
    fn values_escape_like_go() {
        assert_eq!(escape_dn_value(" a,b#"), "\\ a\\,b#");
        assert_eq!(escape_dn_value("#x "), "\\#x\\ ");
    }
}
