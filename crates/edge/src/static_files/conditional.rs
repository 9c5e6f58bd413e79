//! Conditional requests (RFC 9110 §13) and byte ranges (§14) against one
//! file's validators: its entity tag and modification time (decided with
//! the shared [`crate::validators`] and [`crate::range`]).

use http::header::{self, HeaderMap};
use http::HeaderValue;

use crate::range::{self, RangeAnswer};
use crate::validators::{date_secs, if_range_holds, list_matches};

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
        let etag = Some(v.etag.as_bytes());
        if let Some(im) = &self.if_match {
            if !list_matches(im.as_bytes(), etag, true) {
                return Verdict::Failed;
            }
        } else if let Some(since) = self.if_unmodified_since.as_ref().and_then(date_secs) {
            if v.modified > since {
                return Verdict::Failed;
            }
        }
        if let Some(inm) = &self.if_none_match {
            if list_matches(inm.as_bytes(), etag, false) {
                return Verdict::NotModified;
            }
        } else if let Some(since) = self.if_modified_since.as_ref().and_then(date_secs) {
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
    pub(crate) fn span(&self, len: u64, v: Validators<'_>) -> RangeAnswer {
        let Some(range) = &self.range else {
            return RangeAnswer::Full;
        };
        if let Some(if_range) = &self.if_range {
            if !if_range_holds(if_range, Some(v.etag.as_bytes()), Some(v.modified)) {
                return RangeAnswer::Full;
            }
        }
        range::evaluate(range.as_bytes(), len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Validators<'static> = Validators {
        etag: "\"a-1\"",
        modified: 784_111_777,
    };

    fn part(start: u64, end: u64) -> RangeAnswer {
        RangeAnswer::Partial { start, end }
    }

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
        assert_eq!(span("bytes=0-9"), part(0, 9));
        assert_eq!(span("bytes=90-"), part(90, 99));
        assert_eq!(span("bytes=-10"), part(90, 99));
        assert_eq!(span("bytes=-1000"), part(0, 99));
        assert_eq!(span("bytes=50-1000"), part(50, 99));
        assert_eq!(span("Bytes = 1-2"), part(1, 2));
        assert_eq!(span("bytes=100-"), RangeAnswer::Unsatisfiable);
        assert_eq!(span("bytes=100-200"), RangeAnswer::Unsatisfiable);
        assert_eq!(span("bytes=-0"), RangeAnswer::Unsatisfiable);
        assert_eq!(
            span("bytes=99999999999999999999999-"),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(span("bytes=0-1,5-6"), RangeAnswer::Full);
        assert_eq!(span("bytes=5-1"), RangeAnswer::Full);
        assert_eq!(span("bytes=a-b"), RangeAnswer::Full);
        assert_eq!(span("items=0-1"), RangeAnswer::Full);
        assert_eq!(span("bytes=-"), RangeAnswer::Full);
        assert_eq!(span("bytes"), RangeAnswer::Full);
        assert_eq!(
            conditions(&[("range", "bytes=0-")]).span(0, V),
            RangeAnswer::Unsatisfiable
        );
    }

    #[test]
    fn if_range() {
        let span =
            |ir: &'static str| conditions(&[("range", "bytes=0-0"), ("if-range", ir)]).span(100, V);
        assert_eq!(span("\"a-1\""), part(0, 0));
        assert_eq!(span("\"b\""), RangeAnswer::Full);
        assert_eq!(span("W/\"a-1\""), RangeAnswer::Full);
        assert_eq!(span("Sun, 06 Nov 1994 08:49:37 GMT"), part(0, 0));
        assert_eq!(span("Sun, 06 Nov 1994 08:49:38 GMT"), RangeAnswer::Full);
        assert_eq!(span("nonsense"), RangeAnswer::Full);
    }
}
