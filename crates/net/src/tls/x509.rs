//! The names in an X.509 certificate: the subject as an RFC 4514 string and
//! the subject alternative names. A small DER reader of just the fields
//! needed, so no general ASN.1 library is pulled in; anything it does not
//! understand makes it return `None` (it never panics on bad input).
//!
//! Certificate and key validity are checked by rustls and webpki, not here:
//! this only reads names out of certificates that were already accepted
//! (a client's, after verification) or that the operator configured.

use std::fmt::Write as _;
use std::net::IpAddr;

/// The names a certificate carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    /// The subject, RFC 4514 (`CN=alice,O=Example`), escaped to printable
    /// ASCII so it can travel in a header.
    pub subject: String,
    /// The most specific common name of the subject, if any.
    pub common_name: Option<String>,
    /// `dNSName` alternative names, lowercase.
    pub dns: Vec<String>,
    /// `uniformResourceIdentifier` alternative names (e.g. SPIFFE ids).
    pub uris: Vec<String>,
    /// `rfc822Name` alternative names.
    pub emails: Vec<String>,
    /// `iPAddress` alternative names.
    pub ips: Vec<IpAddr>,
}

impl CertNames {
    /// Reads the names of a DER certificate; `None` when it is not one.
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let mut input = der;
        let (tag, cert, _) = read_tlv(&mut input)?;
        if tag != SEQUENCE {
            return None;
        }
        let mut cert = cert;
        let (tag, tbs, _) = read_tlv(&mut cert)?;
        if tag != SEQUENCE {
            return None;
        }
        let mut tbs = tbs;
        // The version is optional; the serial number follows it.
        if read_tlv(&mut tbs)?.0 == VERSION {
            read_tlv(&mut tbs)?;
        }
        // signature algorithm, issuer, validity
        for _ in 0..3 {
            read_tlv(&mut tbs)?;
        }
        let (tag, subject, _) = read_tlv(&mut tbs)?;
        if tag != SEQUENCE {
            return None;
        }
        let mut names = CertNames::default();
        read_name(subject, &mut names)?;
        read_tlv(&mut tbs)?; // subject public key info
        while !tbs.is_empty() {
            let (tag, value, _) = read_tlv(&mut tbs)?;
            if tag == EXTENSIONS {
                read_extensions(value, &mut names)?;
            }
        }
        Some(names)
    }

    /// The alternative names as one line, OpenSSL style:
    /// `DNS:a.example.com, URI:spiffe://x/y, email:a@example.com, IP:10.0.0.1`.
    /// Bytes that could confuse a header or the list (controls, non-ASCII,
    /// commas) are percent-encoded.
    pub fn alt_names_line(&self) -> String {
        let mut out = String::new();
        let mut add = |kind: &str, value: &str| {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(kind);
            out.push(':');
            for b in value.bytes() {
                if (0x21..=0x7e).contains(&b) && b != b',' && b != b'%' {
                    out.push(char::from(b));
                } else {
                    let _ = write!(out, "%{b:02X}");
                }
            }
        };
        for d in &self.dns {
            add("DNS", d);
        }
        for u in &self.uris {
            add("URI", u);
        }
        for e in &self.emails {
            add("email", e);
        }
        for ip in &self.ips {
            add("IP", &ip.to_string());
        }
        out
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
/// `[0] EXPLICIT Version` of a TBSCertificate.
const VERSION: u8 = 0xa0;
/// `[3] EXPLICIT Extensions` of a TBSCertificate.
const EXTENSIONS: u8 = 0xa3;
/// id-ce-subjectAltName, 2.5.29.17.
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// Reads one DER element: (tag, contents, whole encoding). Only the
/// single-byte tags X.509 uses, and definite lengths of up to four bytes.
pub(super) fn read_tlv<'a>(input: &mut &'a [u8]) -> Option<(u8, &'a [u8], &'a [u8])> {
    let all = *input;
    let (&tag, rest) = all.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    let header = all.len() - rest.len();
    let contents = &rest[..len];
    *input = &rest[len..];
    Some((tag, contents, &all[..header + len]))
}

/// Name ::= SEQUENCE OF RelativeDistinguishedName; written last RDN first
/// (RFC 4514 §2.1), attributes of one RDN joined by `+`.
fn read_name(mut name: &[u8], out: &mut CertNames) -> Option<()> {
    let mut rdns = Vec::new();
    while !name.is_empty() {
        let (tag, mut set, _) = read_tlv(&mut name)?;
        if tag != SET {
            return None;
        }
        let mut attributes = Vec::new();
        while !set.is_empty() {
            let (tag, mut pair, _) = read_tlv(&mut set)?;
            if tag != SEQUENCE {
                return None;
            }
            let (tag, oid, _) = read_tlv(&mut pair)?;
            if tag != OID {
                return None;
            }
            let (vtag, value, whole) = read_tlv(&mut pair)?;
            let text = string_value(vtag, value);
            if oid == COMMON_NAME {
                if let Some(t) = &text {
                    out.common_name = Some(t.clone());
                }
            }
            let value = match text {
                Some(t) => escape_value(&t),
                // RFC 4514 §2.4: values of other types as `#` and hex.
                None => whole.iter().fold(String::from("#"), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                }),
            };
            attributes.push(format!("{}={value}", attribute_name(oid)?));
        }
        rdns.push(attributes.join("+"));
    }
    rdns.reverse();
    out.subject = rdns.join(",");
    Some(())
}

/// id-at-commonName, 2.5.4.3.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// The RFC 4514 short name of an attribute, or its dotted OID.
fn attribute_name(oid: &[u8]) -> Option<String> {
    const DC: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];
    const UID: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01];
    let short = match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "STREET",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        DC => "DC",
        UID => "UID",
        _ => return dotted(oid),
    };
    Some(short.to_string())
}

/// An OID's dotted-decimal form (`1.2.840.113549.1.9.1`).
fn dotted(oid: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for (i, &b) in oid.iter().enumerate() {
        if value > u64::MAX >> 7 {
            return None;
        }
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        } else if i + 1 == oid.len() {
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

/// The text of a directory string; `None` for other types.
fn string_value(tag: u8, value: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, NumericString, PrintableString, IA5String, VisibleString
        0x0c | 0x12 | 0x13 | 0x16 | 0x1a => std::str::from_utf8(value).ok().map(str::to_owned),
        // TeletexString: in practice Latin-1.
        0x14 => Some(value.iter().map(|&b| char::from(b)).collect()),
        // BMPString: UTF-16BE.
        0x1e if value.len().is_multiple_of(2) => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        // UniversalString: UTF-32BE.
        0x1c if value.len().is_multiple_of(4) => value
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => None,
    }
}

/// RFC 4514 §2.4 escaping, plus `\XX` for every byte outside printable
/// ASCII so the result is a valid header value.
fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.len().saturating_sub(1);
    for (i, b) in value.bytes().enumerate() {
        let special = matches!(b, b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';' | b'=')
            || (i == 0 && (b == b'#' || b == b' '))
            || (i == last && b == b' ');
        if special {
            out.push('\\');
            out.push(char::from(b));
        } else if (0x20..=0x7e).contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "\\{b:02X}");
        }
    }
    out
}

/// Extensions ::= SEQUENCE OF Extension; only subjectAltName is read.
fn read_extensions(explicit: &[u8], out: &mut CertNames) -> Option<()> {
    let mut outer = explicit;
    let (tag, mut list, _) = read_tlv(&mut outer)?;
    if tag != SEQUENCE {
        return None;
    }
    while !list.is_empty() {
        let (tag, mut ext, _) = read_tlv(&mut list)?;
        if tag != SEQUENCE {
            return None;
        }
        let (tag, oid, _) = read_tlv(&mut ext)?;
        if tag != OID {
            return None;
        }
        let (mut tag, mut value, _) = read_tlv(&mut ext)?;
        if tag == BOOLEAN {
            (tag, value, _) = read_tlv(&mut ext)?;
        }
        if tag != OCTET_STRING {
            return None;
        }
        if oid == SUBJECT_ALT_NAME {
            read_alt_names(value, out)?;
        }
    }
    Some(())
}

/// GeneralNames ::= SEQUENCE OF GeneralName (implicitly tagged choices).
fn read_alt_names(mut value: &[u8], out: &mut CertNames) -> Option<()> {
    let (tag, mut names, _) = read_tlv(&mut value)?;
    if tag != SEQUENCE {
        return None;
    }
    while !names.is_empty() {
        let (tag, name, _) = read_tlv(&mut names)?;
        let text = || String::from_utf8_lossy(name).into_owned();
        match tag {
            0x81 => out.emails.push(text()),
            0x82 => out.dns.push(text().to_ascii_lowercase()),
            0x86 => out.uris.push(text()),
            0x87 => match name.len() {
                4 => out.ips.push(IpAddr::from(<[u8; 4]>::try_from(name).ok()?)),
                16 => out.ips.push(IpAddr::from(<[u8; 16]>::try_from(name).ok()?)),
                _ => {}
            },
            _ => {}
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

    fn cert(dn: &[(DnType, &str)], sans: Vec<SanType>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        for (t, v) in dn {
            name.push(t.clone(), *v);
        }
        params.distinguished_name = name;
        params.subject_alt_names = sans;
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn subject_and_alt_names() {
        let der = cert(
            &[
                (DnType::CountryName, "DE"),
                (DnType::OrganizationName, "Example, Inc."),
                (DnType::CommonName, "alice"),
            ],
            vec![
                SanType::DnsName("API.example.com".try_into().unwrap()),
                SanType::DnsName("*.example.com".try_into().unwrap()),
                SanType::URI("spiffe://example.org/ns/a".try_into().unwrap()),
                SanType::Rfc822Name("alice@example.com".try_into().unwrap()),
                SanType::IpAddress("10.1.2.3".parse().unwrap()),
                SanType::IpAddress("::1".parse().unwrap()),
            ],
        );
        let names = CertNames::from_der(&der).unwrap();
        assert_eq!(names.subject, "CN=alice,O=Example\\, Inc.,C=DE");
        assert_eq!(names.common_name.as_deref(), Some("alice"));
        assert_eq!(names.dns, ["api.example.com", "*.example.com"]);
        assert_eq!(names.uris, ["spiffe://example.org/ns/a"]);
        assert_eq!(names.emails, ["alice@example.com"]);
        assert_eq!(
            names.ips,
            [
                "10.1.2.3".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert_eq!(
            names.alt_names_line(),
            "DNS:api.example.com, DNS:*.example.com, URI:spiffe://example.org/ns/a, email:alice@example.com, IP:10.1.2.3, IP:::1"
        );
    }

    #[test]
    fn values_are_escaped_to_printable_ascii() {
        let der = cert(&[(DnType::CommonName, " Jürgen+x ")], vec![]);
        let names = CertNames::from_der(&der).unwrap();
        assert_eq!(names.subject, "CN=\\ J\\C3\\BCrgen\\+x\\ ");
        assert_eq!(names.common_name.as_deref(), Some(" Jürgen+x "));
        assert!(names.dns.is_empty());
        assert_eq!(names.alt_names_line(), "");
    }

    #[test]
    fn unknown_attributes_are_dotted() {
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]).as_deref(),
            Some("1.2.840.113549.1.9.1")
        );
        assert_eq!(dotted(&[0x88, 0x37]).as_deref(), Some("2.999"));
        assert_eq!(dotted(&[0x86]), None);
        assert_eq!(dotted(&[]), None);
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        let der = cert(
            &[(DnType::CommonName, "x")],
            vec![SanType::DnsName("a.test".try_into().unwrap())],
        );
        assert!(CertNames::from_der(&[]).is_none());
        assert!(CertNames::from_der(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(CertNames::from_der(&[0x30, 0x80, 0x00, 0x00]).is_none());
        assert!(CertNames::from_der(b"-----BEGIN CERTIFICATE-----").is_none());
        // Every truncation and every single-byte change either parses or is refused.
        for cut in 0..der.len() {
            let _ = CertNames::from_der(&der[..cut]);
        }
        for i in 0..der.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = der.clone();
                bad[i] ^= flip;
                let _ = CertNames::from_der(&bad);
            }
        }
    }
}
