//! When a certificate stops being valid (`notAfter`), read from its DER
//! with the same small reader as its names: for the admin API's
//! `/certificates`, not for any trust decision (rustls makes those).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::x509::read_tlv;

/// ASN.1 UTCTime (`YYMMDDHHMMSSZ`).
const UTC_TIME: u8 = 0x17;
/// ASN.1 GeneralizedTime (`YYYYMMDDHHMMSSZ`).
const GENERALIZED_TIME: u8 = 0x18;
/// The optional `[0]` version of a TBSCertificate.
const VERSION: u8 = 0xa0;

/// The certificate's `notAfter`; `None` when `der` is not a certificate
/// this reader understands.
pub fn not_after(der: &[u8]) -> Option<SystemTime> {
    let mut input = der;
    let (_, cert, _) = read_tlv(&mut input)?;
    let mut cert = cert;
    let (_, tbs, _) = read_tlv(&mut cert)?;
    let mut tbs = tbs;
    if read_tlv(&mut tbs)?.0 == VERSION {
        read_tlv(&mut tbs)?; // the serial number after the version
    }
    read_tlv(&mut tbs)?; // signature algorithm
    read_tlv(&mut tbs)?; // issuer
    let (_, validity, _) = read_tlv(&mut tbs)?;
    let mut validity = validity;
    read_tlv(&mut validity)?; // notBefore
    let (tag, time, _) = read_tlv(&mut validity)?;
    parse_time(tag, std::str::from_utf8(time).ok()?)
}

/// A UTCTime or GeneralizedTime in UTC (`Z`), as RFC 5280 4.1.2.5 requires.
fn parse_time(tag: u8, s: &str) -> Option<SystemTime> {
    let s = s.strip_suffix('Z')?;
    let (year, rest) = match tag {
        // RFC 5280: two-digit years 50..99 are 19xx, 00..49 are 20xx.
        UTC_TIME if s.len() == 12 => {
            let yy: i64 = s.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &s[2..])
        }
        GENERALIZED_TIME if s.len() == 14 => (s.get(..4)?.parse().ok()?, &s[4..]),
        _ => return None,
    };
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part = |i: usize| -> i64 { rest[i..i + 2].parse().unwrap_or(0) };
    let (month, day, hour, minute, second) = (part(0), part(2), part(4), part(6), part(8));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_both_forms() {
        let at =
            |tag, s| parse_time(tag, s).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
        assert_eq!(at(UTC_TIME, "700101000000Z"), Some(0));
        assert_eq!(at(UTC_TIME, "491231235959Z"), Some(2_524_607_999));
        assert_eq!(at(GENERALIZED_TIME, "20000301000000Z"), Some(951_868_800));
        assert_eq!(at(UTC_TIME, "700101000000"), None);
        assert_eq!(at(UTC_TIME, "701301000000Z"), None);
    }

    #[test]
    fn a_generated_certificate_has_its_expiry_read() {
        let mut params = rcgen::CertificateParams::new(vec!["a.test".into()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 5, 6);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let t = not_after(cert.der()).unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            days_from_civil(2031, 5, 6) as u64 * 86_400
        );
        assert_eq!(not_after(b"nope"), None);
    }
}
