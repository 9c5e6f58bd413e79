//! The PROXY protocol (HAProxy's, versions 1 and 2): a header in front of
//! a TCP stream that tells the receiver who the original client was.
//!
//! [`parse`] reads either version from the start of a byte slice, bounded
//! by [`MAX_HEADER_BYTES`]; [`encode`] writes one; [`read_header`] takes
//! exactly the header off a socket and leaves the bytes after it unread.

mod read;
mod v1;
mod v2;

use std::fmt;
use std::net::SocketAddr;

pub use read::read_header;

/// The largest header accepted: a version 1 line is at most 107 bytes, a
/// version 2 header is cut off here (its TLVs would allow 64 KiB).
pub const MAX_HEADER_BYTES: usize = 4096;

/// Which version of the protocol a header uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyVersion {
    /// The text line `PROXY TCP4 ...\r\n`.
    V1,
    /// The binary header starting with `\r\n\r\n\0\r\nQUIT\n`.
    V2,
}

/// The original connection's endpoints as a header states them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyAddresses {
    /// The client.
    pub source: SocketAddr,
    /// The address the client connected to.
    pub destination: SocketAddr,
}

/// A parsed PROXY protocol header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    /// Which version it was written in.
    pub version: ProxyVersion,
    /// The original endpoints; `None` when the sender gave none (version 1
    /// `UNKNOWN`, version 2 `LOCAL` such as a health check, or an address
    /// family other than IPv4/IPv6): the connection's own endpoints apply.
    pub addresses: Option<ProxyAddresses>,
}

/// Why bytes are not a valid PROXY protocol header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyHeaderError {
    /// The bytes start with neither version's signature.
    NotProxy,
    /// A version 1 line that breaks the format.
    InvalidV1(&'static str),
    /// A version 2 header that breaks the format.
    InvalidV2(&'static str),
    /// Longer than [`MAX_HEADER_BYTES`] (or than 107 bytes for version 1).
    TooLarge,
}

impl fmt::Display for ProxyHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotProxy => f.write_str("no PROXY protocol header"),
            Self::InvalidV1(why) => write!(f, "invalid PROXY protocol v1 header: {why}"),
            Self::InvalidV2(why) => write!(f, "invalid PROXY protocol v2 header: {why}"),
            Self::TooLarge => write!(
                f,
                "PROXY protocol header too large (v1 at most 107 bytes, v2 at most {MAX_HEADER_BYTES})"
            ),
        }
    }
}

impl std::error::Error for ProxyHeaderError {}

/// Parses a header at the start of `buf`: `Ok(Some((header, length)))`
/// when complete, `Ok(None)` when `buf` is a valid beginning of a header
/// that needs more bytes. Every byte of an incomplete `buf` belongs to the
/// header (the header ends with a terminator or a stated length), so a
/// reader may consume them all before reading more.
pub fn parse(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyHeaderError> {
    match buf.first() {
        None => Ok(None),
        Some(b'P') => v1::parse(buf),
        Some(b'\r') => v2::parse(buf),
        Some(_) => Err(ProxyHeaderError::NotProxy),
    }
}

/// Appends a header stating `addresses` to `out`; `None` writes version
/// 1 `UNKNOWN` or version 2 `LOCAL`. Mixed families are written as IPv6
/// (an IPv4 address as `::ffff:a.b.c.d`).
pub fn encode(version: ProxyVersion, addresses: Option<&ProxyAddresses>, out: &mut Vec<u8>) {
    match version {
        ProxyVersion::V1 => v1::encode(addresses, out),
        ProxyVersion::V2 => v2::encode(addresses, out),
    }
}

/// Both addresses of the same family: IPv4 when both are, else IPv6.
fn same_family(a: &ProxyAddresses) -> (SocketAddr, SocketAddr) {
    use std::net::{IpAddr, SocketAddrV6};
    match (a.source, a.destination) {
        (s @ SocketAddr::V4(_), d @ SocketAddr::V4(_)) => (s, d),
        (s, d) => {
            let v6 = |x: SocketAddr| match x.ip() {
                IpAddr::V4(ip) => {
                    SocketAddr::V6(SocketAddrV6::new(ip.to_ipv6_mapped(), x.port(), 0, 0))
                }
                IpAddr::V6(_) => x,
            };
            (v6(s), v6(d))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(s: &str, d: &str) -> ProxyAddresses {
        ProxyAddresses {
            source: s.parse().unwrap(),
            destination: d.parse().unwrap(),
        }
    }

    #[test]
    fn round_trips_both_versions_and_families() {
        for version in [ProxyVersion::V1, ProxyVersion::V2] {
            for a in [
                addrs("192.0.2.1:5000", "198.51.100.2:443"),
                addrs("[2001:db8::1]:65535", "[::1]:1"),
            ] {
                let mut out = Vec::new();
                encode(version, Some(&a), &mut out);
                out.extend_from_slice(b"payload");
                let (h, used) = parse(&out).unwrap().unwrap();
                assert_eq!(h.version, version);
                assert_eq!(h.addresses, Some(a));
                assert_eq!(&out[used..], b"payload");
                // Every proper prefix is incomplete, never an error.
                for cut in 0..used {
                    assert_eq!(parse(&out[..cut]), Ok(None), "{version:?} cut at {cut}");
                }
            }
            let mut out = Vec::new();
            encode(version, None, &mut out);
            let (h, used) = parse(&out).unwrap().unwrap();
            assert_eq!((h.addresses, used), (None, out.len()));
        }
    }

    #[test]
    fn mixed_families_are_written_as_ipv6() {
        let a = addrs("192.0.2.1:5000", "[2001:db8::2]:443");
        let mut out = Vec::new();
        encode(ProxyVersion::V1, Some(&a), &mut out);
        assert_eq!(
            out,
            b"PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 5000 443\r\n".to_vec()
        );
    }

    #[test]
    fn other_protocols_are_not_proxy() {
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\n"),
            Err(ProxyHeaderError::NotProxy)
        );
        assert_eq!(parse(b"\x16\x03\x01"), Err(ProxyHeaderError::NotProxy));
        assert_eq!(parse(b""), Ok(None));
        assert!(parse(b"POST / HTTP/1.1\r\n").is_err());
        assert!(parse(b"\r\n\r\nGET").is_err());
    }
}
