//! `Cache-Control` (RFC 9111 §5.2): the directives of requests and
//! responses. Parsing never fails: what cannot be read is skipped, and the
//! freshness directives err on the side of "stale" when their values are
//! broken or repeated (§4.2.1).

use http::header::{CACHE_CONTROL, PRAGMA};
use http::{HeaderMap, HeaderName};

/// delta-seconds values above this (or that overflow) count as this (§1.2.2).
pub const DELTA_MAX: u64 = 1 << 31;

/// Directives of a response's Cache-Control.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseDirectives {
    /// `no-store`: never stored.
    pub no_store: bool,
    /// Unqualified `no-cache`: stored, but validated before every reuse.
    pub no_cache: bool,
    /// `no-cache="a, b"`: these fields are left out of the stored answer.
    pub no_cache_fields: Vec<HeaderName>,
    /// Unqualified `private`: a shared cache does not store it.
    pub private: bool,
    /// `private="a, b"`: these fields are left out of the stored answer.
    pub private_fields: Vec<HeaderName>,
    /// `public`.
    pub public: bool,
    /// `must-revalidate`.
    pub must_revalidate: bool,
    /// `proxy-revalidate`.
    pub proxy_revalidate: bool,
    /// `no-transform`.
    pub no_transform: bool,
    /// `max-age` in seconds (0 when invalid or repeated).
    pub max_age: Option<u64>,
    /// `s-maxage` in seconds (0 when invalid or repeated).
    pub s_maxage: Option<u64>,
    /// `stale-while-revalidate` (RFC 5861) in seconds.
    pub stale_while_revalidate: Option<u64>,
    /// `stale-if-error` (RFC 5861) in seconds.
    pub stale_if_error: Option<u64>,
}

impl ResponseDirectives {
    /// The directives of every Cache-Control field in `headers`.
    pub fn parse(headers: &HeaderMap) -> Self {
        let mut d = Self::default();
        for value in headers.get_all(CACHE_CONTROL) {
            for (name, arg) in Directives::new(value.as_bytes()) {
                d.apply(name, arg);
            }
        }
        d
    }

    fn apply(&mut self, name: &[u8], arg: Option<&[u8]>) {
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is("no-store") {
            self.no_store = true;
        } else if is("no-cache") {
            match arg {
                Some(fields) if !fields.is_empty() => {
                    self.no_cache_fields.extend(field_names(fields));
                }
                _ => self.no_cache = true,
            }
        } else if is("private") {
            match arg {
                Some(fields) if !fields.is_empty() => {
                    self.private_fields.extend(field_names(fields));
                }
                _ => self.private = true,
            }
        } else if is("public") {
            self.public = true;
        } else if is("must-revalidate") {
            self.must_revalidate = true;
        } else if is("proxy-revalidate") {
            self.proxy_revalidate = true;
        } else if is("no-transform") {
            self.no_transform = true;
        } else if is("max-age") {
            freshness_value(&mut self.max_age, arg);
        } else if is("s-maxage") {
            freshness_value(&mut self.s_maxage, arg);
        } else if is("stale-while-revalidate") {
            if let Some(n) = arg.and_then(delta_seconds) {
                self.stale_while_revalidate = Some(n);
            }
        } else if is("stale-if-error") {
            if let Some(n) = arg.and_then(delta_seconds) {
                self.stale_if_error = Some(n);
            }
        }
    }

    /// The directives a cache obeying the targeted fields `targets` (RFC
    /// 9213, e.g. `CDN-Cache-Control`) follows: those of the first target
    /// present with at least one directive, in place of `Cache-Control`
    /// (which is then ignored entirely, `no-store` included); `Cache-Control`'s
    /// when no target is there. The targets share its syntax for the
    /// directives that matter here (`max-age=60, private, no-store, no-cache`).
    pub fn parse_targeted(headers: &HeaderMap, targets: &[HeaderName]) -> Self {
        for target in targets {
            let mut d = Self::default();
            let mut any = false;
            for value in headers.get_all(target) {
                for (name, arg) in Directives::new(value.as_bytes()) {
                    any = true;
                    d.apply(name, arg);
                }
            }
            if any {
                return d;
            }
        }
        Self::parse(headers)
    }

    /// Whether a shared cache must validate the answer once it is stale
    /// (no stale serving at all): `must-revalidate`, `proxy-revalidate`,
    /// or `s-maxage`, which implies `proxy-revalidate` (§5.2.2.10).
    pub fn revalidate_when_stale(&self) -> bool {
        self.must_revalidate || self.proxy_revalidate || self.s_maxage.is_some()
    }
}

/// A missing, broken or repeated freshness value makes the answer stale.
fn freshness_value(slot: &mut Option<u64>, arg: Option<&[u8]>) {
    *slot = match (slot.is_some(), arg.and_then(delta_seconds)) {
        (false, Some(n)) => Some(n),
        _ => Some(0),
    };
}

/// Directives of a request's Cache-Control (and `Pragma: no-cache`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestDirectives {
    /// `no-cache` (or `Pragma: no-cache` without Cache-Control): validate first.
    pub no_cache: bool,
    /// `no-store`: do not store the answer.
    pub no_store: bool,
    /// `max-age`: the client does not want an answer older than this.
    pub max_age: Option<u64>,
    /// `max-stale`: `Some(None)` accepts any staleness, `Some(Some(n))` up to n seconds.
    pub max_stale: Option<Option<u64>>,
    /// `min-fresh`: the answer must stay fresh at least this long.
    pub min_fresh: Option<u64>,
    /// `only-if-cached`: answer from the cache or 504.
    pub only_if_cached: bool,
    /// `no-transform`.
    pub no_transform: bool,
}

impl RequestDirectives {
    /// The directives of a request; `None` when it has neither
    /// Cache-Control nor Pragma (the common case, checked without parsing).
    pub fn parse(headers: &HeaderMap) -> Option<Self> {
        let mut any = false;
        let mut d = Self::default();
        for value in headers.get_all(CACHE_CONTROL) {
            any = true;
            for (name, arg) in Directives::new(value.as_bytes()) {
                d.apply(name, arg);
            }
        }
        if !any {
            // §5.4: Pragma counts only when Cache-Control is absent.
            let pragma_no_cache = headers.get_all(PRAGMA).iter().any(|v| {
                Directives::new(v.as_bytes()).any(|(n, _)| n.eq_ignore_ascii_case(b"no-cache"))
            });
            if !pragma_no_cache {
                return None;
            }
            d.no_cache = true;
        }
        Some(d)
    }

    fn apply(&mut self, name: &[u8], arg: Option<&[u8]>) {
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is("no-cache") {
            self.no_cache = true;
        } else if is("no-store") {
            self.no_store = true;
        } else if is("max-age") {
            if let Some(n) = arg.and_then(delta_seconds) {
                self.max_age = Some(self.max_age.map_or(n, |m| m.min(n)));
            }
        } else if is("max-stale") {
            self.max_stale = match arg {
                None => Some(None),
                Some(a) => match delta_seconds(a) {
                    Some(n) => Some(Some(n)),
                    None => self.max_stale,
                },
            };
        } else if is("min-fresh") {
            if let Some(n) = arg.and_then(delta_seconds) {
                self.min_fresh = Some(self.min_fresh.map_or(n, |m| m.max(n)));
            }
        } else if is("only-if-cached") {
            self.only_if_cached = true;
        } else if is("no-transform") {
            self.no_transform = true;
        }
    }
}

/// Whether any Cache-Control field of `headers` has `no-transform`.
pub fn has_no_transform(headers: &HeaderMap) -> bool {
    headers.get_all(CACHE_CONTROL).iter().any(|v| {
        Directives::new(v.as_bytes()).any(|(n, _)| n.eq_ignore_ascii_case(b"no-transform"))
    })
}

/// Parses delta-seconds: digits only; values too large count as [`DELTA_MAX`].
pub fn delta_seconds(text: &[u8]) -> Option<u64> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for d in text {
        n = n.saturating_mul(10).saturating_add(u64::from(d - b'0'));
    }
    Some(n.min(DELTA_MAX))
}

/// The field names of a qualified `no-cache="..."` or `private="..."`.
fn field_names(list: &[u8]) -> impl Iterator<Item = HeaderName> + '_ {
    list.split(|b| *b == b',')
        .map(trim)
        .filter_map(|n| HeaderName::from_bytes(n).ok())
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The directives of one field value: `name` or `name=token` or
/// `name="quoted"` (the quotes removed, escapes left as sent), separated by
/// commas. Anything malformed is skipped up to the next comma.
#[derive(Debug, Clone)]
pub struct Directives<'a> {
    rest: &'a [u8],
}

impl<'a> Directives<'a> {
    /// The directives in `value`.
    pub fn new(value: &'a [u8]) -> Self {
        Self { rest: value }
    }

    /// Skips to just after the next comma outside quotes.
    fn skip_element(&mut self) {
        let mut quoted = false;
        let mut escaped = false;
        let mut i = 0;
        while i < self.rest.len() {
            let b = self.rest[i];
            if escaped {
                escaped = false;
            } else if quoted && b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                quoted = !quoted;
            } else if b == b',' && !quoted {
                self.rest = &self.rest[i + 1..];
                return;
            }
            i += 1;
        }
        self.rest = &[];
    }
}

impl<'a> Iterator for Directives<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let start = self
                .rest
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b','))?;
            self.rest = &self.rest[start..];
            let name_len = self
                .rest
                .iter()
                .position(|b| matches!(b, b'=' | b',' | b' ' | b'\t' | b'"'))
                .unwrap_or(self.rest.len());
            let name = &self.rest[..name_len];
            let after = trim_start(&self.rest[name_len..]);
            if name.is_empty() {
                self.skip_element();
                continue;
            }
            let Some(value_part) = after.strip_prefix(b"=") else {
                // A bare directive, unless something unexpected follows it.
                let ok = after.is_empty() || after[0] == b',';
                self.rest = after;
                self.skip_element();
                if ok {
                    return Some((name, None));
                }
                continue;
            };
            let value_part = trim_start(value_part);
            if let Some(quoted) = value_part.strip_prefix(b"\"") {
                let mut escaped = false;
                let end = quoted.iter().position(|&b| {
                    if escaped {
                        escaped = false;
                        false
                    } else if b == b'\\' {
                        escaped = true;
                        false
                    } else {
                        b == b'"'
                    }
                });
                let Some(end) = end else {
                    self.rest = &[];
                    return None;
                };
                let value = &quoted[..end];
                self.rest = &quoted[end + 1..];
                self.skip_element();
                return Some((name, Some(value)));
            }
            let len = value_part
                .iter()
                .position(|b| matches!(b, b',' | b' ' | b'\t'))
                .unwrap_or(value_part.len());
            let value = &value_part[..len];
            self.rest = &value_part[len..];
            self.skip_element();
            return Some((name, Some(value)));
        }
    }
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::headers;
    use http::HeaderValue;

    fn resp(values: &[&str]) -> ResponseDirectives {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(CACHE_CONTROL, HeaderValue::from_str(v).unwrap());
        }
        ResponseDirectives::parse(&h)
    }

    fn req(values: &[(&str, &str)]) -> Option<RequestDirectives> {
        RequestDirectives::parse(&headers(values))
    }

    #[test]
    fn targeted_fields_replace_cache_control() {
        let cdn = HeaderName::from_static("cdn-cache-control");
        let own = HeaderName::from_static("tollgate-cache-control");
        let targets = [own.clone(), cdn.clone()];
        let h = headers(&[
            ("cache-control", "no-store"),
            ("cdn-cache-control", "max-age=60"),
        ]);
        let d = ResponseDirectives::parse_targeted(&h, &targets);
        assert_eq!((d.no_store, d.max_age), (false, Some(60)));
        // The first target present wins; an empty one does not count.
        let h = headers(&[
            ("tollgate-cache-control", ""),
            ("cdn-cache-control", "private"),
            ("cache-control", "max-age=5"),
        ]);
        assert!(ResponseDirectives::parse_targeted(&h, &targets).private);
        // No target present, or none configured: Cache-Control.
        let h = headers(&[
            ("cache-control", "max-age=5"),
            ("cdn-cache-control", "no-store"),
        ]);
        assert_eq!(
            ResponseDirectives::parse_targeted(&h, &[own]).max_age,
            Some(5)
        );
        assert!(!ResponseDirectives::parse_targeted(&h, &[]).no_store);
    }

    #[test]
    fn directives_split_with_quotes_and_spaces() {
        let all: Vec<_> = Directives::new(br#" a, b=1 ,c="x, y" , ,d = 2,e="q\"z""#).collect();
        let want: Vec<(&[u8], Option<&[u8]>)> = vec![
            (b"a", None),
            (b"b", Some(b"1")),
            (b"c", Some(b"x, y")),
            (b"d", Some(b"2")),
            (b"e", Some(br#"q\"z"#)),
        ];
        assert_eq!(all, want);
    }

    #[test]
    fn malformed_values_never_panic() {
        for v in [
            "",
            ",,,",
            "=",
            "=1",
            "max-age=\"",
            "a b c",
            "max-age=\"1",
            "\"",
            "x=\"\\",
            "max-age = ",
            "s-maxage=1=2",
        ] {
            let _ = resp(&[v]);
            let _ = Directives::new(v.as_bytes()).count();
        }
    }

    #[test]
    fn response_directives() {
        let d = resp(&[
            "Public, MAX-AGE=60",
            "s-maxage=\"30\", stale-while-revalidate=5",
        ]);
        assert!(d.public);
        assert_eq!(d.max_age, Some(60));
        assert_eq!(d.s_maxage, Some(30));
        assert_eq!(d.stale_while_revalidate, Some(5));
        assert!(d.revalidate_when_stale());
        let d = resp(&["no-cache=\"Set-Cookie, X-A\", private, no-store"]);
        assert!(!d.no_cache);
        assert_eq!(d.no_cache_fields, ["set-cookie", "x-a"]);
        assert!(d.private && d.no_store);
    }

    #[test]
    fn broken_or_repeated_freshness_is_stale() {
        assert_eq!(resp(&["max-age=abc"]).max_age, Some(0));
        assert_eq!(resp(&["max-age=10, max-age=20"]).max_age, Some(0));
        assert_eq!(resp(&["max-age=-1"]).max_age, Some(0));
        assert_eq!(resp(&["max-age"]).max_age, Some(0));
        assert_eq!(
            resp(&["max-age=99999999999999999999999"]).max_age,
            Some(DELTA_MAX)
        );
    }

    #[test]
    fn request_directives() {
        assert_eq!(req(&[("accept", "x")]), None);
        let d = req(&[("cache-control", "max-stale, min-fresh=5, only-if-cached")]).unwrap();
        assert_eq!(d.max_stale, Some(None));
        assert_eq!(d.min_fresh, Some(5));
        assert!(d.only_if_cached);
        let d = req(&[("cache-control", "max-stale=7, max-age=3, no-store")]).unwrap();
        assert_eq!(d.max_stale, Some(Some(7)));
        assert_eq!(d.max_age, Some(3));
        assert!(d.no_store);
        assert!(req(&[("pragma", "no-cache")]).unwrap().no_cache);
        // Pragma is ignored when Cache-Control is present.
        assert!(
            !req(&[("pragma", "no-cache"), ("cache-control", "max-age=1")])
                .unwrap()
                .no_cache
        );
    }
}
