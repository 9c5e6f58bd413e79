//! Validators (RFC 9110 §8.8, §13.1): entity-tag comparison and tag lists,
//! HTTP-date validators and If-Range. The cache (answers from a stored
//! answer) and static files (answers from a file) both decide their
//! conditional requests with these.

use http::HeaderValue;
use tollgate_core::parse_http_date;

/// Splits an entity tag into (weak, opaque-tag with quotes); `None` when malformed.
fn parse_etag(tag: &[u8]) -> Option<(bool, &[u8])> {
    let tag = tag.trim_ascii();
    let (weak, rest) = match tag.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, tag),
    };
    (rest.len() >= 2 && rest[0] == b'"' && rest[rest.len() - 1] == b'"').then_some((weak, rest))
}

/// Weak comparison: the opaque tags are equal, weakness ignored.
pub fn weak_match(a: &[u8], b: &[u8]) -> bool {
    matches!((parse_etag(a), parse_etag(b)), (Some((_, x)), Some((_, y))) if x == y)
}

/// Strong comparison: both strong and equal.
pub fn strong_match(a: &[u8], b: &[u8]) -> bool {
    matches!((parse_etag(a), parse_etag(b)), (Some((false, x)), Some((false, y))) if x == y)
}

/// Whether one If-Match or If-None-Match field value (`*` or a list of
/// tags) matches a representation tagged `etag` (`None`: it has no tag),
/// by strong comparison (If-Match) or weak (If-None-Match). `*` matches
/// any representation that exists, tagged or not. Entries that are not
/// tags are skipped.
pub fn list_matches(list: &[u8], etag: Option<&[u8]>, strong: bool) -> bool {
    if list.trim_ascii() == b"*" {
        return true;
    }
    let Some(etag) = etag else { return false };
    let compare = if strong { strong_match } else { weak_match };
    split_tags(list).any(|t| compare(t, etag))
}

/// The entity tags of a list; commas inside quotes do not split.
fn split_tags(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = list;
    std::iter::from_fn(move || loop {
        rest = rest.trim_ascii_start();
        while let [b',', r @ ..] = rest {
            rest = r.trim_ascii_start();
        }
        if rest.is_empty() {
            return None;
        }
        let start = usize::from(rest.starts_with(b"W/")) * 2;
        if rest.get(start) != Some(&b'"') {
            // Not a tag: skip to the next comma.
            let next = rest
                .iter()
                .position(|b| *b == b',')
                .map_or(rest.len(), |i| i + 1);
            rest = &rest[next..];
            continue;
        }
        let Some(close) = rest[start + 1..].iter().position(|b| *b == b'"') else {
            rest = &[];
            return None;
        };
        let end = start + 1 + close + 1;
        let tag = &rest[..end];
        rest = &rest[end..];
        return Some(tag);
    })
}

/// An HTTP-date field value (any of the three formats) in whole seconds
/// since the epoch; `None` when it is not a date.
pub fn date_secs(value: &HeaderValue) -> Option<u64> {
    let t = parse_http_date(value.to_str().ok()?)?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Whether an If-Range value lets a range of the representation be sent
/// (RFC 9110 §13.1.5): an entity tag strongly equal to `etag`, or a date
/// exactly `last_modified` (whole seconds). Anything else sends the whole.
pub fn if_range_holds(
    if_range: &HeaderValue,
    etag: Option<&[u8]>,
    last_modified: Option<u64>,
) -> bool {
    let v = if_range.as_bytes().trim_ascii();
    if v.starts_with(b"\"") || v.starts_with(b"W/") {
        return etag.is_some_and(|e| strong_match(v, e));
    }
    last_modified.is_some_and(|lm| date_secs(if_range) == Some(lm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_comparisons() {
        assert!(weak_match(b"W/\"a\"", b"\"a\""));
        assert!(!strong_match(b"W/\"a\"", b"\"a\""));
        assert!(strong_match(b"\"a\"", b" \"a\""));
        assert!(!weak_match(b"\"a\"", b"\"b\""));
        assert!(!weak_match(b"a", b"a"));
        let tags: Vec<&[u8]> = split_tags(b" \"a\", W/\"b,c\" ,junk, \"d\"").collect();
        assert_eq!(tags, [&b"\"a\""[..], b"W/\"b,c\"", b"\"d\""]);
        assert_eq!(split_tags(b"\"open").count(), 0);
    }

    #[test]
    fn tag_lists() {
        let tag = Some(&b"\"v1\""[..]);
        assert!(list_matches(b"\"x\", W/\"v1\"", tag, false));
        assert!(!list_matches(b"\"x\", W/\"v1\"", tag, true));
        assert!(list_matches(b"\"x\", \"v1\"", tag, true));
        assert!(list_matches(b" * ", None, true));
        assert!(!list_matches(b"\"v1\"", None, false));
        assert!(!list_matches(b"\"v1", tag, false));
        assert!(!list_matches(b"", tag, false));
    }

    #[test]
    fn if_range() {
        let v = HeaderValue::from_static;
        let tag = Some(&b"\"v1\""[..]);
        let lm = Some(784_111_777);
        assert!(if_range_holds(&v("\"v1\""), tag, lm));
        assert!(!if_range_holds(&v("\"v2\""), tag, lm));
        assert!(!if_range_holds(&v("W/\"v1\""), tag, lm));
        assert!(!if_range_holds(&v("\"v1\""), None, lm));
        assert!(if_range_holds(&v("Sun, 06 Nov 1994 08:49:37 GMT"), tag, lm));
        assert!(!if_range_holds(
            &v("Sun, 06 Nov 1994 08:49:38 GMT"),
            tag,
            lm
        ));
        assert!(!if_range_holds(
            &v("Sun, 06 Nov 1994 08:49:37 GMT"),
            tag,
            None
        ));
        assert!(!if_range_holds(&v("garbage"), tag, lm));
    }
}
