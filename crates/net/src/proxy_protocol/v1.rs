//! Version 1: one text line, `PROXY TCP4|TCP6 src dst sport dport\r\n` or
//! `PROXY UNKNOWN ...\r\n`, at most 107 bytes.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use super::{same_family, ProxyAddresses, ProxyHeader, ProxyHeaderError, ProxyVersion};

const PREFIX: &[u8] = b"PROXY ";
/// The longest line the specification allows, CRLF included.
const MAX_LINE: usize = 107;

fn invalid(why: &'static str) -> ProxyHeaderError {
    ProxyHeaderError::InvalidV1(why)
}

pub(super) fn parse(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyHeaderError> {
    let n = buf.len().min(PREFIX.len());
    if buf[..n] != PREFIX[..n] {
        return Err(ProxyHeaderError::NotProxy);
    }
    let window = &buf[..buf.len().min(MAX_LINE)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        if buf.len() >= MAX_LINE {
            return Err(ProxyHeaderError::TooLarge);
        }
        if window
            .iter()
            .any(|&b| !(b == b'\r' || b == b' ' || b.is_ascii_graphic()))
        {
            return Err(invalid("control character in the line"));
        }
        return Ok(None);
    };
    if lf < PREFIX.len() || buf[lf - 1] != b'\r' {
        return Err(invalid("the line does not end with CRLF"));
    }
    let line = std::str::from_utf8(&buf[PREFIX.len()..lf - 1]).map_err(|_| invalid("not ASCII"))?;
    if !line.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return Err(invalid("control character in the line"));
    }
    let used = lf + 1;
    let header = |addresses| {
        Ok(Some((
            ProxyHeader {
                version: ProxyVersion::V1,
                addresses,
            },
            used,
        )))
    };
    if line == "UNKNOWN" || line.starts_with("UNKNOWN ") {
        return header(None);
    }
    let mut fields = line.split(' ');
    let family = fields.next().unwrap_or("");
    let v6 = match family {
        "TCP4" => false,
        "TCP6" => true,
        _ => return Err(invalid("protocol must be TCP4, TCP6 or UNKNOWN")),
    };
    let (Some(src), Some(dst), Some(sport), Some(dport), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(invalid(
            "expected `PROXY TCP4|TCP6 source destination source-port destination-port`",
        ));
    };
    let ip = |s: &str| -> Result<IpAddr, ProxyHeaderError> {
        if v6 {
            Ipv6Addr::from_str(s)
                .map(IpAddr::V6)
                .map_err(|_| invalid("bad IPv6 address"))
        } else {
            Ipv4Addr::from_str(s)
                .map(IpAddr::V4)
                .map_err(|_| invalid("bad IPv4 address"))
        }
    };
    let addresses = ProxyAddresses {
        source: SocketAddr::new(ip(src)?, port(sport)?),
        destination: SocketAddr::new(ip(dst)?, port(dport)?),
    };
    header(Some(addresses))
}

/// A decimal port, 0..=65535, without sign or leading zeros.
fn port(s: &str) -> Result<u16, ProxyHeaderError> {
    let ok = !s.is_empty()
        && s.len() <= 5
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if !ok {
        return Err(invalid("bad port"));
    }
    s.parse().map_err(|_| invalid("bad port"))
}

pub(super) fn encode(addresses: Option<&ProxyAddresses>, out: &mut Vec<u8>) {
    let Some(a) = addresses else {
        out.extend_from_slice(b"PROXY UNKNOWN\r\n");
        return;
    };
    let (s, d) = same_family(a);
    let family = if s.is_ipv4() { "TCP4" } else { "TCP6" };
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "PROXY {family} {} {} {} {}\r\n",
        s.ip(),
        d.ip(),
        s.port(),
        d.port()
    );
}

#[cfg(test)]
mod tests {
    use super::super::parse as any;
    use super::*;

    fn ok(line: &str) -> ProxyHeader {
        match any(line.as_bytes()) {
            Ok(Some((h, used))) => {
                assert_eq!(used, line.len());
                h
            }
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn valid_lines() {
        let h = ok("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
        let a = h.addresses.unwrap();
        assert_eq!(a.source, "192.168.0.1:56324".parse().unwrap());
        assert_eq!(a.destination, "192.168.0.11:443".parse().unwrap());
        let h = ok("PROXY TCP6 ::1 2001:db8::ff 1 65535\r\n");
        assert_eq!(h.addresses.unwrap().destination.port(), 65535);
        assert_eq!(ok("PROXY UNKNOWN\r\n").addresses, None);
        assert_eq!(ok("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n").addresses, None);
        // The longest address line, and the longest line allowed at all.
        ok("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n");
        let mut longest = "PROXY UNKNOWN ".to_string();
        longest.push_str(&"x".repeat(MAX_LINE - longest.len() - 2));
        longest.push_str("\r\n");
        assert_eq!(ok(&longest).addresses, None);
    }

    #[test]
    fn invalid_lines() {
        for bad in [
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n",
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n",
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 9\r\n",
            "PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n",
            "PROXY TCP4 ::1 ::1 1 2\r\n",
            "PROXY TCP6 1.2.3.4 1.2.3.4 1 2\r\n",
            "PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n",
            "PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n",
            "PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n",
            "PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n",
            "PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n",
            "PROXY \r\n",
            "PROXY TCP4 1.2.3.4\t1.2.3.4 1 2\r\n",
        ] {
            assert!(
                matches!(any(bad.as_bytes()), Err(ProxyHeaderError::InvalidV1(_))),
                "{bad:?}: {:?}",
                any(bad.as_bytes())
            );
        }
        assert_eq!(any(b"PROXX"), Err(ProxyHeaderError::NotProxy));
        assert_eq!(any(&[b'P'; 200]), Err(ProxyHeaderError::NotProxy));
        let mut long = b"PROXY UNKNOWN ".to_vec();
        long.resize(150, b'a');
        assert_eq!(any(&long), Err(ProxyHeaderError::TooLarge));
        assert!(any(b"PROXY TCP4 \x01").is_err());
        assert_eq!(any(b"PROXY TCP4 1.2.3.4 "), Ok(None));
    }
}
