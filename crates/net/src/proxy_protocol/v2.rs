//! Version 2: a 16-byte binary preamble (signature, version and command,
//! family and transport, length) and then the addresses and TLVs.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::{
    same_family, ProxyAddresses, ProxyHeader, ProxyHeaderError, ProxyVersion, MAX_HEADER_BYTES,
};

pub(super) const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
const PREAMBLE: usize = 16;
const LOCAL: u8 = 0x20;
const PROXY: u8 = 0x21;
const INET_STREAM: u8 = 0x11;
const INET6_STREAM: u8 = 0x21;
const INET_LEN: usize = 12;
const INET6_LEN: usize = 36;
const UNIX_LEN: usize = 216;

fn invalid(why: &'static str) -> ProxyHeaderError {
    ProxyHeaderError::InvalidV2(why)
}

pub(super) fn parse(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyHeaderError> {
    let n = buf.len().min(SIGNATURE.len());
    if buf[..n] != SIGNATURE[..n] {
        return Err(ProxyHeaderError::NotProxy);
    }
    // Checked as soon as each byte is there, so garbage is refused early.
    let command = match buf.get(12) {
        None => return Ok(None),
        Some(&b) if b >> 4 != 2 => return Err(invalid("version is not 2")),
        Some(&LOCAL) => LOCAL,
        Some(&PROXY) => PROXY,
        Some(_) => return Err(invalid("command is neither LOCAL nor PROXY")),
    };
    let Some(&family) = buf.get(13) else {
        return Ok(None);
    };
    if family >> 4 > 3 || family & 0x0f > 2 {
        return Err(invalid("unknown address family or transport"));
    }
    let (Some(&hi), Some(&lo)) = (buf.get(14), buf.get(15)) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    let total = PREAMBLE + len;
    if total > MAX_HEADER_BYTES {
        return Err(ProxyHeaderError::TooLarge);
    }
    let Some(body) = buf.get(PREAMBLE..total) else {
        return Ok(None);
    };
    let header = |addresses| {
        Ok(Some((
            ProxyHeader {
                version: ProxyVersion::V2,
                addresses,
            },
            total,
        )))
    };
    // A LOCAL header (health checks of the sender) carries nothing to use.
    if command == LOCAL {
        return header(None);
    }
    let (addresses, tlvs) = match family >> 4 {
        1 => {
            let a = body
                .get(..INET_LEN)
                .ok_or(invalid("too short for IPv4 addresses"))?;
            let ip = |i: usize| Ipv4Addr::new(a[i], a[i + 1], a[i + 2], a[i + 3]);
            let port = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
            let addresses = ProxyAddresses {
                source: SocketAddr::V4(SocketAddrV4::new(ip(0), port(8))),
                destination: SocketAddr::V4(SocketAddrV4::new(ip(4), port(10))),
            };
            (Some(addresses), &body[INET_LEN..])
        }
        2 => {
            let a = body
                .get(..INET6_LEN)
                .ok_or(invalid("too short for IPv6 addresses"))?;
            let ip = |i: usize| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&a[i..i + 16]);
                Ipv6Addr::from(o)
            };
            let port = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
            let addresses = ProxyAddresses {
                source: SocketAddr::V6(SocketAddrV6::new(ip(0), port(32), 0, 0)),
                destination: SocketAddr::V6(SocketAddrV6::new(ip(16), port(34), 0, 0)),
            };
            (Some(addresses), &body[INET6_LEN..])
        }
        3 => {
            let rest = body
                .get(UNIX_LEN..)
                .ok_or(invalid("too short for UNIX addresses"))?;
            (None, rest)
        }
        // AF_UNSPEC: no addresses; what follows is not defined.
        _ => return header(None),
    };
    check_tlvs(tlvs)?;
    header(addresses)
}

/// TLVs are skipped, but only when they tile the rest of the header exactly.
fn check_tlvs(mut rest: &[u8]) -> Result<(), ProxyHeaderError> {
    while !rest.is_empty() {
        let [_, hi, lo, ..] = *rest else {
            return Err(invalid("truncated TLV"));
        };
        let len = 3 + usize::from(u16::from_be_bytes([hi, lo]));
        rest = rest
            .get(len..)
            .ok_or(invalid("TLV longer than the header"))?;
    }
    Ok(())
}

pub(super) fn encode(addresses: Option<&ProxyAddresses>, out: &mut Vec<u8>) {
    out.extend_from_slice(&SIGNATURE);
    let Some(a) = addresses else {
        out.extend_from_slice(&[LOCAL, 0, 0, 0]);
        return;
    };
    match same_family(a) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            out.extend_from_slice(&[PROXY, INET_STREAM, 0, INET_LEN as u8]);
            out.extend_from_slice(&s.ip().octets());
            out.extend_from_slice(&d.ip().octets());
            out.extend_from_slice(&s.port().to_be_bytes());
            out.extend_from_slice(&d.port().to_be_bytes());
        }
        (s, d) => {
            let v6 = |x: SocketAddr| match x {
                SocketAddr::V6(v) => *v.ip(),
                SocketAddr::V4(v) => v.ip().to_ipv6_mapped(),
            };
            out.extend_from_slice(&[PROXY, INET6_STREAM, 0, INET6_LEN as u8]);
            out.extend_from_slice(&v6(s).octets());
            out.extend_from_slice(&v6(d).octets());
            out.extend_from_slice(&s.port().to_be_bytes());
            out.extend_from_slice(&d.port().to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse as any;
    use super::*;

    fn header(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
        let mut v = SIGNATURE.to_vec();
        v.extend_from_slice(&[cmd, fam]);
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    const V4_BODY: [u8; 12] = [10, 0, 0, 1, 10, 0, 0, 2, 0x1f, 0x90, 0x01, 0xbb];

    #[test]
    fn ipv4_with_tlvs_skipped() {
        let mut body = V4_BODY.to_vec();
        // PP2_TYPE_AUTHORITY "a.b", then a NOOP with no value.
        body.extend_from_slice(&[0x02, 0, 3, b'a', b'.', b'b', 0x04, 0, 0]);
        let bytes = header(PROXY, INET_STREAM, &body);
        let (h, used) = any(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        let a = h.addresses.unwrap();
        assert_eq!(a.source, "10.0.0.1:8080".parse().unwrap());
        assert_eq!(a.destination, "10.0.0.2:443".parse().unwrap());
    }

    #[test]
    fn local_unspec_and_unix_give_no_addresses() {
        for (cmd, fam, body) in [
            (LOCAL, 0x00, vec![]),
            (LOCAL, INET_STREAM, V4_BODY.to_vec()),
            (PROXY, 0x00, vec![1, 2, 3]),
            (PROXY, 0x31, vec![0; UNIX_LEN]),
        ] {
            let bytes = header(cmd, fam, &body);
            let (h, used) = any(&bytes).unwrap().unwrap();
            assert_eq!((h.addresses, used), (None, bytes.len()));
        }
    }

    #[test]
    fn malformed_headers() {
        let bad = |cmd, fam, body: &[u8]| any(&header(cmd, fam, body));
        assert!(matches!(
            bad(0x11, INET_STREAM, &V4_BODY),
            Err(ProxyHeaderError::InvalidV2(_))
        ));
        assert!(matches!(
            bad(0x22, INET_STREAM, &V4_BODY),
            Err(ProxyHeaderError::InvalidV2(_))
        ));
        assert!(matches!(
            bad(PROXY, 0x41, &V4_BODY),
            Err(ProxyHeaderError::InvalidV2(_))
        ));
        assert!(matches!(
            bad(PROXY, 0x13, &V4_BODY),
            Err(ProxyHeaderError::InvalidV2(_))
        ));
        assert!(matches!(
            bad(PROXY, INET_STREAM, &V4_BODY[..11]),
            Err(ProxyHeaderError::InvalidV2(_))
        ));
        assert!(matches!(
            bad(PROXY, INET6_STREAM, &V4_BODY),
            Err(ProxyHeaderError::InvalidV2(_))
        ));
        let mut body = V4_BODY.to_vec();
        body.extend_from_slice(&[0x02, 0, 9, b'a']);
        assert!(matches!(
            bad(PROXY, INET_STREAM, &body),
            Err(ProxyHeaderError::InvalidV2(_))
        ));
        body.truncate(14);
        assert!(matches!(
            bad(PROXY, INET_STREAM, &body),
            Err(ProxyHeaderError::InvalidV2(_))
        ));
        assert_eq!(
            bad(PROXY, INET_STREAM, &vec![0; MAX_HEADER_BYTES]),
            Err(ProxyHeaderError::TooLarge)
        );
        // The stated length is refused before the bytes arrive.
        let mut big = SIGNATURE.to_vec();
        big.extend_from_slice(&[PROXY, INET_STREAM, 0xff, 0xff]);
        assert_eq!(any(&big), Err(ProxyHeaderError::TooLarge));
        // Garbage after a signature prefix is refused at once.
        assert_eq!(any(b"\r\n\r\n\0\r\nQUIx"), Err(ProxyHeaderError::NotProxy));
        assert!(any(&[SIGNATURE.as_slice(), &[0x21]].concat())
            .unwrap()
            .is_none());
    }
}
