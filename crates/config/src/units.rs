//! Parsing of the unit-carrying values of the configuration: durations
//! (`250ms`, `5s`, `1m30s`), sizes (`512`, `64KiB`, `10MB`), rates
//! (`100/s`, `1000/min`) and percentages (`10%`); also plain numbers and
//! booleans. Errors are messages that say what is allowed.

use std::time::Duration;

const DURATION_UNITS: &str = "use a number followed by ms, s, m or h, e.g. `250ms`, `5s`, `1m30s`";
const SIZE_UNITS: &str =
    "use a number of bytes, optionally followed by B, KiB, MiB, GiB, TiB (1024-based) or KB, MB, GB, TB (1000-based), e.g. `512`, `64KiB`, `10MiB`";

/// Splits `text` into (number, unit) pairs: `1m30s` → `[(1, "m"), (30, "s")]`.
fn components(text: &str) -> Result<Vec<(u64, &str)>, &'static str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err("expected a number");
        }
        let number: u64 = rest[..digits].parse().map_err(|_| "number too large")?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        out.push((number, &rest[..unit_len]));
        rest = &rest[unit_len..];
    }
    Ok(out)
}

/// Checks for characters that are never part of a value (spaces, signs, dots).
fn check_chars(text: &str, what: &str, allowed: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("empty {what}; {allowed}"));
    }
    if text.starts_with('-') {
        return Err(format!(
            "invalid {what} `{text}`: must not be negative; {allowed}"
        ));
    }
    if text.contains('.') {
        return Err(format!(
            "invalid {what} `{text}`: fractions are not supported, use a smaller unit; {allowed}"
        ));
    }
    if text.chars().any(char::is_whitespace) {
        return Err(format!(
            "invalid {what} `{text}`: no spaces allowed between number and unit; {allowed}"
        ));
    }
    Ok(())
}

/// Parses a duration such as `250ms`, `5s`, `1m`, `1h` or `1h30m`.
///
/// Every number needs a unit; compound values list units from largest to
/// smallest, each at most once.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    check_chars(text, "duration", DURATION_UNITS)?;
    let bad = |why: &str| format!("invalid duration `{text}`: {why}; {DURATION_UNITS}");
    let parts = components(text).map_err(bad)?;
    let mut total = Duration::ZERO;
    let mut last_rank = usize::MAX;
    for (number, unit) in parts {
        let (rank, millis_per) = match unit {
            "h" => (3, 3_600_000u64),
            "m" => (2, 60_000),
            "s" => (1, 1_000),
            "ms" => (0, 1),
            "" => return Err(bad("missing unit")),
            other => return Err(bad(&format!("unknown unit `{other}`"))),
        };
        if rank >= last_rank {
            return Err(bad(
                "units must go from largest to smallest, each at most once",
            ));
        }
        last_rank = rank;
        let millis = number
            .checked_mul(millis_per)
            .ok_or_else(|| bad("too large"))?;
        total = total
            .checked_add(Duration::from_millis(millis))
            .ok_or_else(|| bad("too large"))?;
    }
    Ok(total)
}

/// Parses a size in bytes such as `512`, `64KiB`, `10MiB`, `1GiB` or `10MB`.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    check_chars(text, "size", SIZE_UNITS)?;
    let bad = |why: &str| format!("invalid size `{text}`: {why}; {SIZE_UNITS}");
    let parts = components(text).map_err(bad)?;
    let [(number, unit)] = parts[..] else {
        return Err(bad("expected one number and one unit"));
    };
    let factor: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => return Err(bad(&format!("unknown unit `{other}`"))),
    };
    number.checked_mul(factor).ok_or_else(|| bad("too large"))
}

/// Parses a rate such as `100/s`, `1000/min`, `10/h` or `5/10s` into
/// (count, period).
pub(crate) fn parse_rate(text: &str) -> Result<(u64, Duration), String> {
    const RATE: &str = "use count/period, e.g. `100/s`, `1000/min`, `10/h` or `5/10s`";
    let bad = |why: &str| format!("invalid rate `{text}`: {why}; {RATE}");
    if text.chars().any(char::is_whitespace) {
        return Err(bad("no spaces allowed"));
    }
    let (count, period) = text.split_once('/').ok_or_else(|| bad("missing `/`"))?;
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the count must be a whole number"));
    }
    let count: u64 = count.parse().map_err(|_| bad("count too large"))?;
    if count == 0 {
        return Err(bad("the count must be at least 1"));
    }
    let period = match period {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        other => parse_duration(other).map_err(|e| bad(&e))?,
    };
    if period.is_zero() {
        return Err(bad("the period must be longer than zero"));
    }
    Ok((count, period))
}

/// Parses a whole percentage such as `10%` (the `%` is required), 0..=100.
pub(crate) fn parse_percent(text: &str) -> Result<u8, String> {
    let usage = "use a whole percentage such as `10%`";
    let Some(n) = text.strip_suffix('%') else {
        return Err(format!("invalid percentage `{text}`: missing `%`; {usage}"));
    };
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid percentage `{text}`; {usage}"));
    }
    match n.parse::<u16>() {
        Ok(v) if v <= 100 => Ok(v as u8),
        _ => Err(format!("invalid percentage `{text}`: at most 100%")),
    }
}

/// Parses a non-negative whole number.
pub(crate) fn parse_uint(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expected a whole number, got `{text}`"));
    }
    text.parse()
        .map_err(|_| format!("number `{text}` is too large"))
}

/// Parses `true` or `false`.
pub(crate) fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("expected `true` or `false`, got `{text}`")),
    }
}

/// Formats a size for messages: `1024` → `1KiB`.
pub(crate) fn format_size(bytes: u64) -> String {
    for (unit, factor) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{}{unit}", bytes / factor);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations() {
        let ok = [
            ("250ms", ms(250)),
            ("5s", ms(5_000)),
            ("1m", ms(60_000)),
            ("1h", ms(3_600_000)),
            ("1m30s", ms(90_000)),
            ("1h30m", ms(5_400_000)),
            ("1s500ms", ms(1_500)),
            ("0s", ms(0)),
            ("0ms", ms(0)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        let bad = [
            ("5", "missing unit"),
            ("5 s", "no spaces"),
            (" 5s", "no spaces"),
            ("-1s", "negative"),
            ("1.5s", "fractions"),
            ("5d", "unknown unit `d`"),
            ("5S", "unknown unit `S`"),
            ("s", "expected a number"),
            ("", "empty"),
            ("30s1m", "largest to smallest"),
            ("1s1s", "largest to smallest"),
            ("99999999999999999999s", "number too large"),
            ("18446744073709551615h", "too large"),
        ];
        for (text, why) in bad {
            let e = parse_duration(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
            assert!(
                e.contains("e.g."),
                "{text}: message says what is allowed: {e}"
            );
        }
    }

    #[test]
    fn sizes() {
        let ok = [
            ("0", 0),
            ("512", 512),
            ("512B", 512),
            ("64KiB", 64 * 1024),
            ("10MiB", 10 * 1024 * 1024),
            ("1GiB", 1 << 30),
            ("2TiB", 2 << 40),
            ("1KB", 1_000),
            ("10MB", 10_000_000),
            ("1GB", 1_000_000_000),
            ("1TB", 1_000_000_000_000),
        ];
        for (text, want) in ok {
            assert_eq!(parse_size(text), Ok(want), "{text}");
        }
        let bad = [
            ("10XB", "unknown unit `XB`"),
            ("10kib", "unknown unit `kib`"),
            ("10 KiB", "no spaces"),
            ("-1", "negative"),
            ("1.5MiB", "fractions"),
            ("KiB", "expected a number"),
            ("1KiB2B", "one number and one unit"),
            ("99999999999999999999", "number too large"),
            ("17179869184GiB", "too large"),
            ("", "empty"),
        ];
        for (text, why) in bad {
            let e = parse_size(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn rates() {
        let ok = [
            ("100/s", (100, ms(1_000))),
            ("1000/min", (1000, ms(60_000))),
            ("10/h", (10, ms(3_600_000))),
            ("5/10s", (5, ms(10_000))),
            ("1/second", (1, ms(1_000))),
        ];
        for (text, want) in ok {
            assert_eq!(parse_rate(text), Ok(want), "{text}");
        }
        let bad = [
            ("100", "missing `/`"),
            ("0/s", "at least 1"),
            ("-1/s", "whole number"),
            ("/s", "whole number"),
            ("100 / s", "no spaces"),
            ("100/0s", "longer than zero"),
            ("100/fortnight", "invalid duration `fortnight`"),
            ("99999999999999999999/s", "too large"),
        ];
        for (text, why) in bad {
            let e = parse_rate(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("0%"), Ok(0));
        assert_eq!(parse_percent("10%"), Ok(10));
        assert_eq!(parse_percent("100%"), Ok(100));
        for (text, why) in [
            ("10", "missing `%`"),
            ("%", "whole percentage"),
            ("-1%", "whole percentage"),
            ("1.5%", "whole percentage"),
            ("101%", "at most 100%"),
            ("99999%", "at most 100%"),
        ] {
            let e = parse_percent(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn numbers_and_bools() {
        assert_eq!(parse_uint("42"), Ok(42));
        assert!(parse_uint("-1").is_err());
        assert!(parse_uint("4x").is_err());
        assert!(parse_uint("99999999999999999999")
            .unwrap_err()
            .contains("too large"));
        assert_eq!(parse_bool("true"), Ok(true));
        assert_eq!(parse_bool("false"), Ok(false));
        assert!(parse_bool("yes").is_err());
        assert_eq!(format_size(1024), "1KiB");
        assert_eq!(format_size(1000), "1000");
    }
}
