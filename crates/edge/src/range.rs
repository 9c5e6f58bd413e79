//! Byte ranges (RFC 9110 §14): what a Range field asks of a body of known
//! length. Only single ranges are served; the cache (from a stored answer)
//! and static files (from a file) both read Range with this.

/// What a Range field asks of a body of a known length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// Send the whole body (no usable Range, or several ranges).
    Full,
    /// Send bytes `start..=end`.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// 416: no byte of the body is in the range.
    Unsatisfiable,
}

/// Evaluates `bytes=a-b`, `bytes=a-` or `bytes=-n` against a body of `len`
/// bytes. Malformed fields and other units are ignored (the whole body is
/// sent), as are several ranges (allowed by §14.2).
pub fn evaluate(range: &[u8], len: u64) -> RangeAnswer {
    let range = range.trim_ascii();
    let Some(eq) = range.iter().position(|b| *b == b'=') else {
        return RangeAnswer::Full;
    };
    if !range[..eq].trim_ascii().eq_ignore_ascii_case(b"bytes") {
        return RangeAnswer::Full;
    }
    let specs = &range[eq + 1..];
    let mut parts = specs
        .split(|b| *b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|s| !s.is_empty());
    let (Some(spec), None) = (parts.next(), parts.next()) else {
        return RangeAnswer::Full;
    };
    let Some(dash) = spec.iter().position(|b| *b == b'-') else {
        return RangeAnswer::Full;
    };
    let (first, last) = (spec[..dash].trim_ascii(), spec[dash + 1..].trim_ascii());
    match (number(first), number(last)) {
        (Some(Some(start)), Some(end)) => {
            if let Some(end) = end {
                if end < start {
                    return RangeAnswer::Full;
                }
            }
            if start >= len {
                return RangeAnswer::Unsatisfiable;
            }
            let end = end.map_or(len - 1, |e| e.min(len - 1));
            RangeAnswer::Partial { start, end }
        }
        (Some(None), Some(Some(suffix))) => {
            if suffix == 0 || len == 0 {
                return RangeAnswer::Unsatisfiable;
            }
            RangeAnswer::Partial {
                start: len.saturating_sub(suffix),
                end: len - 1,
            }
        }
        _ => RangeAnswer::Full,
    }
}

/// `Some(None)` for empty, `Some(Some(n))` for digits (saturating), `None` otherwise.
fn number(text: &[u8]) -> Option<Option<u64>> {
    if text.is_empty() {
        return Some(None);
    }
    if !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(Some(text.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(start: u64, end: u64) -> RangeAnswer {
        RangeAnswer::Partial { start, end }
    }

    #[test]
    fn single_ranges() {
        assert_eq!(evaluate(b"bytes=0-4", 10), p(0, 4));
        assert_eq!(evaluate(b"Bytes = 2-", 10), p(2, 9));
        assert_eq!(evaluate(b"bytes=-3", 10), p(7, 9));
        assert_eq!(evaluate(b"bytes=-30", 10), p(0, 9));
        assert_eq!(evaluate(b"bytes=5-99999999999999999999999", 10), p(5, 9));
        assert_eq!(evaluate(b"bytes=10-", 10), RangeAnswer::Unsatisfiable);
        assert_eq!(evaluate(b"bytes=-0", 10), RangeAnswer::Unsatisfiable);
        assert_eq!(evaluate(b"bytes=0-", 0), RangeAnswer::Unsatisfiable);
        // Numbers at and past u64::MAX are positions past any body.
        assert_eq!(evaluate(b"bytes=0-18446744073709551615", 10), p(0, 9));
        assert_eq!(
            evaluate(b"bytes=18446744073709551615-18446744073709551615", 10),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(
            evaluate(b"bytes=-18446744073709551616", u64::MAX),
            p(0, u64::MAX - 1)
        );
    }

    #[test]
    fn everything_else_is_the_full_body() {
        for r in [
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=5-2",
            "bytes=a-b",
            "bytes=",
            "bytes",
            "",
            "bytes=-",
            "bytes=1-2-3",
            "=",
            "bytes=--1",
            "bytes=0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0",
            "bytes=é-1",
        ] {
            assert_eq!(evaluate(r.as_bytes(), 10), RangeAnswer::Full, "{r}");
        }
    }
}
