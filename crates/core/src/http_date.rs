//! HTTP dates (RFC 9110 §5.6.7) without a date library: formatting as
//! IMF-fixdate, and parsing all three formats a recipient must accept.

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Appends `t` as an HTTP date, `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn format_http_date(t: SystemTime, out: &mut String) {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let _ = write!(
        out,
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(m as usize).saturating_sub(1) % 12],
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    );
}

/// `t` as a field value (`Date`, `Last-Modified`, `Expires`).
pub fn http_date_value(t: SystemTime) -> HeaderValue {
    let mut s = String::with_capacity(29);
    format_http_date(t, &mut s);
    // Letters, digits, spaces, commas and colons only: always a valid value.
    HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static(""))
}

/// Parses an HTTP date in any of its three formats: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94
/// 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`). `None` when
/// invalid; the weekday is not checked against the date (RFC 9110 lets
/// recipients ignore it).
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let (day, month, year, time): (u32, u32, i64, &str) =
        if let Some((_, rest)) = s.split_once(", ") {
            if rest.contains('-') {
                // RFC 850: 06-Nov-94 08:49:37 GMT; two-digit years within 50
                // years of now, which for file dates means 19xx above 69.
                let (date, rest) = rest.split_once(' ')?;
                let time = rest.strip_suffix(" GMT")?;
                let mut parts = date.split('-');
                let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
                if parts.next().is_some() || y.len() != 2 {
                    return None;
                }
                let y: i64 = number(y)?;
                (
                    number(d)?,
                    month(m)?,
                    if y >= 70 { 1900 + y } else { 2000 + y },
                    time,
                )
            } else {
                // IMF-fixdate: 06 Nov 1994 08:49:37 GMT
                let mut parts = rest.split(' ');
                let (d, m, y, time, gmt) = (
                    parts.next()?,
                    parts.next()?,
                    parts.next()?,
                    parts.next()?,
                    parts.next()?,
                );
                if parts.next().is_some() || gmt != "GMT" || d.len() != 2 || y.len() != 4 {
                    return None;
                }
                (number(d)?, month(m)?, number(y)?, time)
            }
        } else {
            // asctime: Sun Nov  6 08:49:37 1994 (day padded with a space)
            let mut parts = s.split(' ').filter(|p| !p.is_empty());
            let (_, m, d, time, y) = (
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
            );
            if parts.next().is_some() || y.len() != 4 {
                return None;
            }
            (number(d)?, month(m)?, number(y)?, time)
        };
    let mut hms = time.split(':');
    let (h, mi, se) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || h.len() != 2 || mi.len() != 2 || se.len() != 2 {
        return None;
    }
    let (h, mi, se): (u64, u64, u64) = (number(h)?, number(mi)?, number(se)?);
    // 60 is a leap second, which a date may carry.
    if !(1..=31).contains(&day) || h > 23 || mi > 59 || se > 60 || year < 1970 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if civil_from_days(days) != (year, month, day) {
        return None;
    }
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + mi * 60 + se;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn month(s: &str) -> Option<u32> {
    MONTHS.iter().position(|m| *m == s).map(|i| i as u32 + 1)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) to days since 1970-01-01; the inverse of
/// [`civil_from_days`] for valid dates.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn formats_http_dates() {
        let mut s = String::new();
        format_http_date(at(784_111_777), &mut s);
        assert_eq!(s, "Sun, 06 Nov 1994 08:49:37 GMT");
        s.clear();
        format_http_date(at(1_700_000_000), &mut s);
        assert_eq!(s, "Tue, 14 Nov 2023 22:13:20 GMT");
    }

    #[test]
    fn parses_the_three_formats() {
        let want = Some(at(784_111_777));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), want);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), want);
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), want);
        assert_eq!(
            parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT"),
            Some(at(1_709_164_800))
        );
    }

    #[test]
    fn surrounding_whitespace_is_ignored_and_values_are_valid() {
        let want = Some(at(784_111_777));
        assert_eq!(parse_http_date(" Sun, 06 Nov 1994 08:49:37 GMT\t"), want);
        assert_eq!(
            http_date_value(at(784_111_777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }

    #[test]
    fn round_trips() {
        for secs in [0, 1, 86_399, 951_782_400, 1_709_164_800, 4_102_444_800] {
            let mut s = String::new();
            format_http_date(at(secs), &mut s);
            assert_eq!(parse_http_date(&s), Some(at(secs)), "{s}");
        }
    }

    #[test]
    fn rejects_invalid_dates() {
        for bad in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 31 Feb 2023 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1960 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
            "Sun, +6 Nov 1994 08:49:37 GMT",
            "Sun Nov  6 08:49:37 94",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            // What caches meet in Expires and conditionals.
            "0",
            "-1",
            "Sun, 06 Nov 99999 08:49:37 GMT",
            "Sun Nov 99999999999999999999 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 GMT\u{e9}",
            "Sun, 06 N\u{e9}v 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }
}
