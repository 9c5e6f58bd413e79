//! Conditional requests (RFC 9110 §13) and byte ranges (§14) against one
//! file's validators: its entity tag and modification time.

use http::header::{self, HeaderMap};
use http::HeaderValue;
use tollgate_core::parse_http_date;

/// The request fields that make a GET conditional or partial, copied so
/// the decision can be made on the blocking pool next to the file.
#[derive(Debug, Default, Clone)]
pub(crate) struct Conditions {
    if_match: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<HeaderValue>,
    if_unmodified_since: Option<HeaderValue>,
    range: Option<HeaderValue>,
    if_range: Option<HeaderValue>,
}

/// What the preconditions say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Answer normally.
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// What part of the file to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Span {
    /// The whole file (200).
    Whole,
    /// Bytes `start..=end` (206).
    Part(u64, u64),
    /// No byte of the range exists (416).
    Unsatisfiable,
}

/// One file's validators.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Validators<'a> {
    /// Strong entity tag, quotes included.
    pub(crate) etag: &'a str,
    /// Modification time, whole seconds since the epoch.
    pub(crate) modified: u64,
}

impl Conditions {
    /// Copies the fields out of `headers` (allocating only for the ones
    /// present).
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let list = |name| {
            let mut values = headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
            let first = values.next()?;
            let mut joined = first.to_owned();
            for v in values {
                joined.push_str(", ");
                joined.push_str(v);
            }
            Some(joined)
        };
        Self {
            if_match: list(header::IF_MATCH),
            if_none_match: list(header::IF_NONE_MATCH),
            if_modified_since: headers.get(header::IF_MODIFIED_SINCE).cloned(),
            if_unmodified_since: headers.get(header::IF_UNMODIFIED_SINCE).cloned(),
            range: headers.get(header::RANGE).cloned(),
            if_range: headers.get(header::IF_RANGE).cloned(),
        }
    }

    /// Evaluates the preconditions in the order of RFC 9110 §13.2.2 for a
    /// GET or HEAD of an existing file.
    pub(crate) fn verdict(&self, v: Validators<'_>) -> Verdict {
        if let Some(im) = &self.if_match {
            if !tag_list_matches(im, v.etag, true) {
                return Verdict::Failed;
            }
        } else if let Some(since) = self.if_unmodified_since.as_ref().and_then(date) {
            if v.modified > since {
                return Verdict::Failed;
            }
        }
        if let Some(inm) = &self.if_none_match {
            if tag_list_matches(inm, v.etag, false) {
                return Verdict::NotModified;
            }
        } else if let Some(since) = self.if_modified_since.as_ref().and_then(date) {
            if v.modified <= since {
                return Verdict::NotModified;
            }
        }
        Verdict::Proceed
    }

    /// The part of a `len`-byte file a GET asks for. Only single ranges are
    /// served as 206; several ranges get the whole file (allowed: a server
    /// may ignore Range), as does a malformed one or an `If-Range` that no
    /// longer matches.
    pub(crate) fn span(&self, len: u64, v: Validators<'_>) -> Span {
        let Some(range) = self.range.as_ref().and_then(|r| r.to_str().ok()) else {
            return Span::Whole;
        };
        if let Some(if_range) = &self.if_range {
            let current = match if_range.to_str() {
                Ok(t) if t.starts_with('"') || t.starts_with("W/") => {
                    // A strong comparison: weak tags never match.
                    t == v.etag
                }
                Ok(_) => date(if_range) == Some(v.modified),
                Err(_) => false,
            };
            if !current {
                return Span::Whole;
            }
        }
        parse_range(range, len)
    }
}

fn date(v: &HeaderValue) -> Option<u64> {
    let t = parse_http_date(v.to_str().ok()?)?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Whether a list of entity tags (or `*`) matches `etag`: strong comparison
/// (If-Match) or weak (If-None-Match). A malformed list matches nothing
/// from the first bad entry on.
fn tag_list_matches(list: &str, etag: &str, strong: bool) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let ours = etag.trim_matches('"');
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return false;
        }
        let weak = rest.starts_with("W/");
        if weak {
            rest = &rest[2..];
        }
        let Some(body) = rest.strip_prefix('"') else {
            return false;
        };
        let Some(end) = body.find('"') else {
            return false;
        };
        if &body[..end] == ours && !(strong && weak) {
            return true;
        }
        rest = &body[end + 1..];
    }
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` against a `len`-byte file.
fn parse_range(value: &str, len: u64) -> Span {
    let Some((unit, set)) = value.split_once('=') else {
        return Span::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Span::Whole;
    }
    let mut specs = set.split(',').map(str::trim).filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return Span::Whole;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return Span::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Digits beyond u64 are a position past any file.
        Some(s.parse().unwrap_or(u64::MAX))
    };
    match (number(first), number(last)) {
        (Some(start), Some(end)) if start <= end => {
            if start >= len {
                Span::Unsatisfiable
            } else {
                Span::Part(start, end.min(len - 1))
            }
        }
        (Some(start), None) if last.is_empty() => {
            if start >= len {
                Span::Unsatisfiable
            } else {
                Span::Part(start, len - 1)
            }
        }
        (None, Some(suffix)) if first.is_empty() => {
            if suffix == 0 || len == 0 {
                Span::Unsatisfiable
            } else {
                Span::Part(len.saturating_sub(suffix), len - 1)
            }
        }
        _ => Span::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Validators<'static> = Validators {
        etag: "\"a-1\"",
        modified: 784_111_777,
    };

    fn conditions(fields: &[(&'static str, &'static str)]) -> Conditions {
        let mut h = HeaderMap::new();
        for (n, v) in fields {
            h.append(*n, HeaderValue::from_static(v));
        }
        Conditions::from_headers(&h)
    }

    #[test]
    fn precondition_order() {
        let c = |f| conditions(f).verdict(V);
        assert_eq!(c(&[]), Verdict::Proceed);
        assert_eq!(c(&[("if-none-match", "\"a-1\"")]), Verdict::NotModified);
        assert_eq!(c(&[("if-none-match", "W/\"a-1\"")]), Verdict::NotModified);
        assert_eq!(
            c(&[("if-none-match", "\"x\", \"a-1\"")]),
            Verdict::NotModified
        );
        assert_eq!(
            c(&[("if-none-match", "\"x\""), ("if-none-match", "\"a-1\"")]),
            Verdict::NotModified
        );
        assert_eq!(c(&[("if-none-match", "*")]), Verdict::NotModified);
        assert_eq!(c(&[("if-none-match", "\"x\"")]), Verdict::Proceed);
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(
            c(&[
                ("if-none-match", "\"x\""),
                ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")
            ]),
            Verdict::Proceed
        );
        assert_eq!(
            c(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]),
            Verdict::NotModified
        );
        assert_eq!(
            c(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:36 GMT")]),
            Verdict::Proceed
        );
        assert_eq!(c(&[("if-modified-since", "garbage")]), Verdict::Proceed);
        assert_eq!(c(&[("if-match", "\"a-1\"")]), Verdict::Proceed);
        assert_eq!(c(&[("if-match", "W/\"a-1\"")]), Verdict::Failed);
        assert_eq!(c(&[("if-match", "\"b\"")]), Verdict::Failed);
        assert_eq!(c(&[("if-match", "*")]), Verdict::Proceed);
        assert_eq!(
            c(&[("if-unmodified-since", "Sun, 06 Nov 1994 08:49:36 GMT")]),
            Verdict::Failed
        );
        assert_eq!(
            c(&[("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]),
            Verdict::Proceed
        );
        // If-Match is evaluated first and If-Unmodified-Since is then ignored.
        assert_eq!(
            c(&[
                ("if-match", "\"a-1\""),
                ("if-unmodified-since", "Sun, 06 Nov 1994 08:49:36 GMT")
            ]),
            Verdict::Proceed
        );
        assert_eq!(
            c(&[("if-match", "\"b\""), ("if-none-match", "\"a-1\"")]),
            Verdict::Failed
        );
        assert_eq!(c(&[("if-none-match", "\"a-1")]), Verdict::Proceed);
    }

    #[test]
    fn ranges() {
        let span = |r: &'static str| conditions(&[("range", r)]).span(100, V);
        assert_eq!(span("bytes=0-9"), Span::Part(0, 9));
        assert_eq!(span("bytes=90-"), Span::Part(90, 99));
        assert_eq!(span("bytes=-10"), Span::Part(90, 99));
        assert_eq!(span("bytes=-1000"), Span::Part(0, 99));
        assert_eq!(span("bytes=50-1000"), Span::Part(50, 99));
        assert_eq!(span("Bytes = 1-2"), Span::Part(1, 2));
        assert_eq!(span("bytes=100-"), Span::Unsatisfiable);
        assert_eq!(span("bytes=100-200"), Span::Unsatisfiable);
        assert_eq!(span("bytes=-0"), Span::Unsatisfiable);
        assert_eq!(span("bytes=99999999999999999999999-"), Span::Unsatisfiable);
        assert_eq!(span("bytes=0-1,5-6"), Span::Whole);
        assert_eq!(span("bytes=5-1"), Span::Whole);
        assert_eq!(span("bytes=a-b"), Span::Whole);
        assert_eq!(span("items=0-1"), Span::Whole);
        assert_eq!(span("bytes=-"), Span::Whole);
        assert_eq!(span("bytes"), Span::Whole);
        assert_eq!(
            conditions(&[("range", "bytes=0-")]).span(0, V),
            Span::Unsatisfiable
        );
    }

    #[test]
    fn if_range() {
        let span =
            |ir: &'static str| conditions(&[("range", "bytes=0-0"), ("if-range", ir)]).span(100, V);
        assert_eq!(span("\"a-1\""), Span::Part(0, 0));
        assert_eq!(span("\"b\""), Span::Whole);
        assert_eq!(span("W/\"a-1\""), Span::Whole);
        assert_eq!(span("Sun, 06 Nov 1994 08:49:37 GMT"), Span::Part(0, 0));
        assert_eq!(span("Sun, 06 Nov 1994 08:49:38 GMT"), Span::Whole);
        assert_eq!(span("nonsense"), Span::Whole);
    }
}
