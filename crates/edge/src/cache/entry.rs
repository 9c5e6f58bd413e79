//! A stored answer: status, the fields kept (§3.1), the body, and what its
//! freshness was computed from; and its update by a 304 (§4.3.4).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use tollgate_core::http_date_value;

use super::control::ResponseDirectives;
use super::freshness::{self, Heuristic, StaleRules};

/// How answers are turned into entries (from the policy's config).
#[derive(Debug, Clone)]
pub struct Storing {
    /// Heuristic freshness settings.
    pub heuristic: Heuristic,
    /// The request id field, which belongs to one exchange and is never stored.
    pub id_header: HeaderName,
    /// Targeted cache-control fields obeyed before `Cache-Control` (RFC 9213).
    pub targeted: Arc<[HeaderName]>,
}

/// A stored answer.
#[derive(Debug)]
pub struct Entry {
    /// Status code.
    pub status: StatusCode,
    /// The fields kept, with a Date (added when the origin sent none).
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
    /// Corrected initial age in seconds (§4.2.3).
    pub initial_age: u64,
    /// When the answer (or the 304 that last refreshed it) arrived.
    pub response_time: SystemTime,
    /// Freshness lifetime.
    pub lifetime: Duration,
    /// What its directives allow once stale.
    pub rules: StaleRules,
    /// Its Last-Modified, parsed (for If-Modified-Since).
    pub last_modified: Option<SystemTime>,
    /// Set while a background revalidation runs, so only one does.
    revalidating: AtomicBool,
}

impl Entry {
    /// An entry for an answer with `status` and `headers` that was asked for
    /// at `request_time` and arrived at `response_time`; the body comes later.
    pub fn new(
        status: StatusCode,
        headers: &HeaderMap,
        cc: &ResponseDirectives,
        request_time: SystemTime,
        response_time: SystemTime,
        storing: &Storing,
    ) -> Self {
        let mut kept = HeaderMap::with_capacity(headers.len() + 1);
        for (name, value) in headers {
            if keep(name, cc, storing) {
                // Copied: the received value may share the connection's buffer.
                if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
                    kept.append(name.clone(), v);
                }
            }
        }
        Self::build(
            status,
            kept,
            Bytes::new(),
            request_time,
            response_time,
            storing,
        )
    }

    fn build(
        status: StatusCode,
        mut headers: HeaderMap,
        body: Bytes,
        request_time: SystemTime,
        response_time: SystemTime,
        storing: &Storing,
    ) -> Self {
        let received_date = freshness::date_field(&headers, &header::DATE);
        // The Age of what arrived counts in the initial age; the stored
        // field is regenerated on every hit.
        let initial_age =
            freshness::initial_age(&headers, received_date, request_time, response_time);
        headers.remove(header::AGE);
        if received_date.is_none() {
            // RFC 9110 §6.6.1: a cache adds a Date to answers that lack one.
            headers.insert(header::DATE, http_date_value(response_time));
        }
        let cc = ResponseDirectives::parse_targeted(&headers, &storing.targeted);
        let date = received_date.unwrap_or(response_time);
        let lifetime = freshness::lifetime(status.as_u16(), &cc, &headers, date, storing.heuristic);
        Self {
            status,
            last_modified: freshness::date_field(&headers, &header::LAST_MODIFIED),
            rules: StaleRules::of(&cc),
            headers,
            body,
            initial_age,
            response_time,
            lifetime,
            revalidating: AtomicBool::new(false),
        }
    }

    /// The entry with its body.
    pub fn with_body(mut self, body: Bytes) -> Self {
        self.body = body;
        self
    }

    /// The current age (§4.2.3): initial age plus time resident.
    pub fn age(&self, now: SystemTime) -> Duration {
        Duration::from_secs(self.initial_age)
            + now
                .duration_since(self.response_time)
                .unwrap_or(Duration::ZERO)
    }

    /// Remaining freshness in whole seconds; negative once stale (RFC 9211 `ttl`).
    pub fn ttl(&self, now: SystemTime) -> i64 {
        // Rounded down, so an answer stale by a fraction of a second says -1, not 0.
        let left = self.lifetime.as_millis() as i64 - self.age(now).as_millis() as i64;
        left.div_euclid(1000)
    }

    /// The entity tag, if any.
    pub fn etag(&self) -> Option<&HeaderValue> {
        self.headers.get(header::ETAG)
    }

    /// Bytes the entry occupies, roughly: body, fields and bookkeeping.
    pub fn weight(&self) -> usize {
        let fields: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 32)
            .sum();
        self.body.len() + fields + 256
    }

    /// Claims the one background revalidation; false when one runs already.
    pub fn begin_revalidation(&self) -> bool {
        self.revalidating
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Releases the claim taken by [`Entry::begin_revalidation`].
    pub fn end_revalidation(&self) {
        self.revalidating.store(false, Ordering::Release);
    }

    /// This entry updated by a 304 (§4.3.4): every field of the 304
    /// replaces the stored one, except framing, Age, fields never stored, and
    /// the ones the stored body depends on (Content-Encoding, and an ETag
    /// stored in its weak form because the body was transformed). The body
    /// is shared, not copied.
    pub fn freshen(
        &self,
        not_modified: &HeaderMap,
        request_time: SystemTime,
        response_time: SystemTime,
        storing: &Storing,
    ) -> Self {
        let cc = ResponseDirectives::parse_targeted(not_modified, &storing.targeted);
        let mut headers = self.headers.clone();
        let mut replaced: Vec<&HeaderName> = Vec::new();
        for (name, value) in not_modified {
            if !keep(name, &cc, storing)
                || name == header::CONTENT_LENGTH
                || name == header::CONTENT_ENCODING
                || (name == header::ETAG && self.keeps_weak_etag(value))
            {
                continue;
            }
            let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) else {
                continue;
            };
            if replaced.contains(&name) {
                headers.append(name.clone(), v);
            } else {
                headers.insert(name.clone(), v);
                replaced.push(name);
            }
        }
        // The 304's own Age and Date date the refreshed entry.
        headers.remove(header::AGE);
        if let Some(age) = not_modified.get(header::AGE) {
            headers.insert(header::AGE, age.clone());
        }
        if !not_modified.contains_key(header::DATE) {
            headers.remove(header::DATE);
        }
        Self::build(
            self.status,
            headers,
            self.body.clone(),
            request_time,
            response_time,
            storing,
        )
    }

    /// Whether the stored ETag is `W/` plus `incoming`: the stored body
    /// was transformed (compressed) after the origin tagged it.
    fn keeps_weak_etag(&self, incoming: &HeaderValue) -> bool {
        self.etag().is_some_and(|stored| {
            stored
                .as_bytes()
                .strip_prefix(b"W/")
                .is_some_and(|opaque| opaque == incoming.as_bytes())
        })
    }
}

/// Whether a received field is kept in the stored answer (§3.1).
fn keep(name: &HeaderName, cc: &ResponseDirectives, storing: &Storing) -> bool {
    // Set-Cookie belongs to the client that caused the fetch: answers with
    // it are stored only when configured, and then without it.
    !(is_hop_by_hop(name)
        || name == header::SET_COOKIE
        || *name == storing.id_header
        || cc.no_cache_fields.contains(name)
        || cc.private_fields.contains(name))
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TRANSFER_ENCODING
        || name == header::TE
        || name == header::TRAILER
        || name == header::UPGRADE
        || name == header::PROXY_AUTHENTICATE
        || name == header::PROXY_AUTHORIZATION
        || name.as_str() == "keep-alive"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn storing() -> Storing {
        Storing {
            heuristic: Heuristic {
                percent: 10,
                max: Duration::from_secs(3600),
            },
            id_header: HeaderName::from_static("x-request-id"),
            targeted: Arc::from([HeaderName::from_static("cdn-cache-control")]),
        }
    }

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn date(s: u64) -> HeaderValue {
        http_date_value(t(s))
    }

    fn map(fields: &[(&str, HeaderValue)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in fields {
            h.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), v.clone());
        }
        h
    }

    fn v(s: &'static str) -> HeaderValue {
        HeaderValue::from_static(s)
    }

    #[test]
    fn stored_fields_and_age() {
        let base = 1_700_000_000;
        let h = map(&[
            ("cache-control", v("max-age=100, no-cache=\"x-secret\"")),
            ("x-secret", v("s")),
            ("set-cookie", v("a=1")),
            ("x-request-id", v("first")),
            ("connection", v("close")),
            ("age", v("20")),
            ("date", date(base - 5)),
            ("etag", v("\"v1\"")),
        ]);
        let cc = ResponseDirectives::parse(&h);
        let e = Entry::new(StatusCode::OK, &h, &cc, t(base - 1), t(base), &storing());
        for gone in [
            "x-secret",
            "set-cookie",
            "x-request-id",
            "connection",
            "age",
        ] {
            assert!(!e.headers.contains_key(gone), "{gone} kept");
        }
        assert_eq!(e.initial_age, 21);
        assert_eq!(e.lifetime, Duration::from_secs(100));
        assert_eq!(e.ttl(t(base + 10)), 69);
        assert_eq!(e.etag(), Some(&v("\"v1\"")));
        // No Date: one is added.
        let e = Entry::new(
            StatusCode::OK,
            &HeaderMap::new(),
            &cc,
            t(base),
            t(base),
            &storing(),
        );
        assert_eq!(e.headers.get("date"), Some(&date(base)));
    }

    #[test]
    fn a_304_refreshes_fields_and_times_but_not_the_body() {
        let base = 1_700_000_000;
        let h = map(&[
            ("cache-control", v("max-age=10")),
            ("date", date(base)),
            ("etag", v("W/\"v1\"")),
            ("content-encoding", v("gzip")),
            ("content-length", v("3")),
            ("x-a", v("old")),
        ]);
        let cc = ResponseDirectives::parse(&h);
        let e = Entry::new(StatusCode::OK, &h, &cc, t(base), t(base), &storing())
            .with_body(Bytes::from_static(b"abc"));
        let nm = map(&[
            ("cache-control", v("max-age=60")),
            ("date", date(base + 100)),
            ("etag", v("\"v1\"")),
            ("x-a", v("new")),
            ("x-a", v("newer")),
            ("content-length", v("0")),
        ]);
        let f = e.freshen(&nm, t(base + 100), t(base + 100), &storing());
        assert_eq!(f.body, Bytes::from_static(b"abc"));
        assert_eq!(f.lifetime, Duration::from_secs(60));
        assert_eq!(f.ttl(t(base + 100)), 60);
        assert_eq!(f.headers.get("etag"), Some(&v("W/\"v1\"")));
        assert_eq!(f.headers.get("content-length"), Some(&v("3")));
        assert_eq!(f.headers.get("content-encoding"), Some(&v("gzip")));
        let xa: Vec<_> = f.headers.get_all("x-a").iter().collect();
        assert_eq!(xa, [&v("new"), &v("newer")]);
        assert_eq!(f.headers.get("date"), Some(&date(base + 100)));
    }

    #[test]
    fn one_background_revalidation_at_a_time() {
        let e = Entry::new(
            StatusCode::OK,
            &HeaderMap::new(),
            &ResponseDirectives::default(),
            t(1),
            t(1),
            &storing(),
        );
        assert!(e.begin_revalidation());
        assert!(!e.begin_revalidation());
        e.end_revalidation();
        assert!(e.begin_revalidation());
    }
}
