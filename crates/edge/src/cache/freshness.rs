//! Freshness (RFC 9111 §4.2): how long a stored answer stays fresh, how
//! old it is, and whether it may be reused for a given request.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{AGE, DATE, EXPIRES, LAST_MODIFIED};
use http::{HeaderMap, HeaderName};
use tollgate_core::parse_http_date;

use super::control::{delta_seconds, RequestDirectives, ResponseDirectives, DELTA_MAX};

/// Heuristic freshness settings (§4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heuristic {
    /// Share of the time since Last-Modified, in percent.
    pub percent: u8,
    /// Longest heuristic lifetime.
    pub max: Duration,
}

/// Statuses that are heuristically cacheable (RFC 9110 §15.1).
pub fn heuristically_cacheable(status: u16) -> bool {
    matches!(
        status,
        200 | 203 | 204 | 206 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

/// An HTTP date field (any of the three formats); `None` when absent or invalid.
pub fn date_field(headers: &HeaderMap, name: &HeaderName) -> Option<SystemTime> {
    let v = headers.get(name)?;
    parse_http_date(v.to_str().ok()?)
}

/// Whole seconds since the epoch (0 before it).
pub fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The freshness lifetime of an answer (§4.2.1): `s-maxage`, else
/// `max-age`, else `Expires` minus `Date`, else heuristic. `date` is the
/// answer's Date, or the time it was received when it has none.
pub fn lifetime(
    status: u16,
    cc: &ResponseDirectives,
    headers: &HeaderMap,
    date: SystemTime,
    heuristic: Heuristic,
) -> Duration {
    if let Some(s) = cc.s_maxage {
        return Duration::from_secs(s);
    }
    if let Some(m) = cc.max_age {
        return Duration::from_secs(m);
    }
    if headers.contains_key(EXPIRES) {
        // An invalid Expires (e.g. `0`) means "already expired" (§5.3).
        return match date_field(headers, &EXPIRES) {
            Some(expires) => Duration::from_secs(secs(expires).saturating_sub(secs(date))),
            None => Duration::ZERO,
        };
    }
    if !(heuristically_cacheable(status) || cc.public) {
        return Duration::ZERO;
    }
    match date_field(headers, &LAST_MODIFIED) {
        Some(lm) => {
            let since = secs(date).saturating_sub(secs(lm));
            let part = since.saturating_mul(u64::from(heuristic.percent)) / 100;
            Duration::from_secs(part).min(heuristic.max)
        }
        None => Duration::ZERO,
    }
}

/// Whether an answer has any explicit or heuristic source of freshness.
pub fn has_explicit_freshness(cc: &ResponseDirectives, headers: &HeaderMap) -> bool {
    cc.s_maxage.is_some() || cc.max_age.is_some() || headers.contains_key(EXPIRES)
}

/// The corrected initial age of an answer in seconds (§4.2.3): the larger of
/// its apparent age (received minus Date) and its Age plus the time the
/// exchange took. Whole seconds, as Date and Age are.
pub fn initial_age(
    headers: &HeaderMap,
    date: Option<SystemTime>,
    request_time: SystemTime,
    response_time: SystemTime,
) -> u64 {
    let apparent = date.map_or(0, |d| secs(response_time).saturating_sub(secs(d)));
    let age_value = headers.get(AGE).map_or(0, |v| age_field(v.as_bytes()));
    let delay = response_time
        .duration_since(request_time)
        .map_or(0, |d| d.as_secs());
    apparent.max(age_value.saturating_add(delay)).min(DELTA_MAX)
}

/// The value of an Age field in seconds (RFC 9111 §5.1): of a list (`7200,
/// 0`, or several fields joined) the first member counts; a member that is
/// not delta-seconds (`old`) makes the answer as old as can be (stale),
/// since ignoring it could keep serving an answer that was already stale.
fn age_field(value: &[u8]) -> u64 {
    let first = value.split(|&b| b == b',').next().unwrap_or(value);
    delta_seconds(first.trim_ascii()).unwrap_or(DELTA_MAX)
}

/// What the answer's directives allow once it is stale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StaleRules {
    /// Validate before every reuse (`no-cache`).
    pub no_cache: bool,
    /// Never serve it stale (`must-revalidate`, `proxy-revalidate`, `s-maxage`).
    pub never_stale: bool,
    /// `stale-while-revalidate` window in seconds.
    pub while_revalidate: Option<u64>,
    /// `stale-if-error` window in seconds.
    pub if_error: Option<u64>,
}

impl StaleRules {
    /// The rules of an answer's directives.
    pub fn of(cc: &ResponseDirectives) -> Self {
        Self {
            no_cache: cc.no_cache,
            never_stale: cc.revalidate_when_stale(),
            while_revalidate: cc.stale_while_revalidate,
            if_error: cc.stale_if_error,
        }
    }
}

/// How a stored answer may be used for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Fresh (and acceptable to the client): serve it.
    Fresh,
    /// Stale, but the client accepts that (`max-stale`): serve it.
    StaleAccepted,
    /// Stale within `stale-while-revalidate`: serve it and refresh it in the background.
    StaleWhileRevalidate,
    /// Validate with the origin first.
    Validate,
}

/// Decides how an answer of `age` with `lifetime` may be reused for a
/// request with directives `req` (§4.2, §4.2.4, §5.2.1, RFC 5861).
pub fn reuse(
    lifetime: Duration,
    age: Duration,
    rules: &StaleRules,
    req: Option<&RequestDirectives>,
) -> Reuse {
    if rules.no_cache || req.is_some_and(|r| r.no_cache) {
        return Reuse::Validate;
    }
    if let Some(r) = req {
        if r.max_age.is_some_and(|m| age > Duration::from_secs(m)) {
            return Reuse::Validate;
        }
        if let Some(min) = r.min_fresh {
            if lifetime.saturating_sub(age) < Duration::from_secs(min) || age >= lifetime {
                return Reuse::Validate;
            }
        }
    }
    if age < lifetime {
        return Reuse::Fresh;
    }
    if rules.never_stale {
        return Reuse::Validate;
    }
    let staleness = age - lifetime;
    if let Some(max_stale) = req.and_then(|r| r.max_stale) {
        if max_stale.is_none_or(|n| staleness <= Duration::from_secs(n)) {
            return Reuse::StaleAccepted;
        }
    }
    if rules
        .while_revalidate
        .is_some_and(|w| staleness <= Duration::from_secs(w))
    {
        return Reuse::StaleWhileRevalidate;
    }
    Reuse::Validate
}

/// Whether a stale answer may stand in for an origin error (RFC 5861 §4).
pub fn stale_if_error(lifetime: Duration, age: Duration, rules: &StaleRules) -> bool {
    if rules.never_stale || rules.no_cache {
        return false;
    }
    let staleness = age.saturating_sub(lifetime);
    rules
        .if_error
        .is_some_and(|w| staleness <= Duration::from_secs(w))
}

/// The date an answer is dated by: its Date, or when it was received.
pub fn date_or(headers: &HeaderMap, received: SystemTime) -> SystemTime {
    date_field(headers, &DATE).unwrap_or(received)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::CACHE_CONTROL;
    use http::HeaderValue;

    const H: Heuristic = Heuristic {
        percent: 10,
        max: Duration::from_secs(3600),
    };

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn date(s: u64) -> HeaderValue {
        tollgate_core::http_date_value(t(s))
    }

    fn life(status: u16, fields: &[(HeaderName, HeaderValue)], at: u64) -> Duration {
        let mut h = HeaderMap::new();
        for (n, v) in fields {
            h.append(n, v.clone());
        }
        let cc = ResponseDirectives::parse(&h);
        lifetime(status, &cc, &h, date_or(&h, t(at)), H)
    }

    fn cc(v: &'static str) -> (HeaderName, HeaderValue) {
        (CACHE_CONTROL, HeaderValue::from_static(v))
    }

    #[test]
    fn lifetime_sources_in_order() {
        let base = 1_700_000_000;
        let d = (DATE, date(base));
        let e = (EXPIRES, date(base + 100));
        assert_eq!(
            life(
                200,
                &[cc("s-maxage=5, max-age=10"), e.clone(), d.clone()],
                base
            ),
            Duration::from_secs(5)
        );
        assert_eq!(
            life(200, &[cc("max-age=10"), e.clone(), d.clone()], base),
            Duration::from_secs(10)
        );
        assert_eq!(
            life(200, &[e.clone(), d.clone()], base),
            Duration::from_secs(100)
        );
        // Without Date, Expires counts from when the answer arrived.
        assert_eq!(
            life(200, std::slice::from_ref(&e), base + 40),
            Duration::from_secs(60)
        );
        // Expires in the past, or invalid: stale at once.
        assert_eq!(
            life(200, &[(EXPIRES, date(base - 5)), d.clone()], base),
            Duration::ZERO
        );
        assert_eq!(
            life(
                200,
                &[(EXPIRES, HeaderValue::from_static("0")), d.clone()],
                base
            ),
            Duration::ZERO
        );
    }

    #[test]
    fn heuristic_is_a_share_of_last_modified_age_capped() {
        let base = 1_700_000_000;
        let d = (DATE, date(base));
        assert_eq!(
            life(200, &[(LAST_MODIFIED, date(base - 1000)), d.clone()], base),
            Duration::from_secs(100)
        );
        assert_eq!(
            life(
                200,
                &[(LAST_MODIFIED, date(base - 1_000_000)), d.clone()],
                base
            ),
            Duration::from_secs(3600)
        );
        // Not heuristically cacheable, unless public.
        assert_eq!(
            life(302, &[(LAST_MODIFIED, date(base - 1000)), d.clone()], base),
            Duration::ZERO
        );
        assert_eq!(
            life(
                302,
                &[(LAST_MODIFIED, date(base - 1000)), d.clone(), cc("public")],
                base
            ),
            Duration::from_secs(100)
        );
        assert_eq!(life(200, &[d], base), Duration::ZERO);
    }

    #[test]
    fn initial_age_takes_the_larger_estimate() {
        let base = 1_700_000_000;
        let mut h = HeaderMap::new();
        h.insert(AGE, HeaderValue::from_static("30"));
        // Age 30 + 2 s in transit beats a Date 10 s old.
        assert_eq!(
            initial_age(&h, Some(t(base - 10)), t(base - 2), t(base)),
            32
        );
        // A Date 100 s old beats Age.
        assert_eq!(initial_age(&h, Some(t(base - 100)), t(base), t(base)), 100);
        // A Date in the future (clock skew) is not a negative age.
        assert_eq!(
            initial_age(&HeaderMap::new(), Some(t(base + 50)), t(base), t(base)),
            0
        );
        // A broken Age is not ignored: the answer counts as stale.
        h.insert(AGE, HeaderValue::from_static("junk"));
        assert_eq!(initial_age(&h, None, t(base), t(base)), DELTA_MAX);
        // A list: the first member counts (RFC 9111 §5.1).
        h.insert(AGE, HeaderValue::from_static("7200, 0"));
        assert_eq!(initial_age(&h, None, t(base), t(base)), 7200);
        h.insert(AGE, HeaderValue::from_static("old, 0"));
        assert_eq!(initial_age(&h, None, t(base), t(base)), DELTA_MAX);
        // Two fields: the first one's.
        h.insert(AGE, HeaderValue::from_static("100"));
        h.append(AGE, HeaderValue::from_static("0"));
        assert_eq!(initial_age(&h, None, t(base), t(base)), 100);
    }

    #[test]
    fn reuse_rules() {
        let s = Duration::from_secs;
        let none = StaleRules::default();
        assert_eq!(reuse(s(10), s(5), &none, None), Reuse::Fresh);
        assert_eq!(reuse(s(10), s(10), &none, None), Reuse::Validate);
        let no_cache = StaleRules {
            no_cache: true,
            ..none
        };
        assert_eq!(reuse(s(10), s(1), &no_cache, None), Reuse::Validate);
        let req = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(CACHE_CONTROL, HeaderValue::from_static(v));
            RequestDirectives::parse(&h).unwrap()
        };
        assert_eq!(
            reuse(s(10), s(5), &none, Some(&req("no-cache"))),
            Reuse::Validate
        );
        assert_eq!(
            reuse(s(10), s(5), &none, Some(&req("max-age=4"))),
            Reuse::Validate
        );
        assert_eq!(
            reuse(s(10), s(5), &none, Some(&req("max-age=5"))),
            Reuse::Fresh
        );
        assert_eq!(
            reuse(s(10), s(5), &none, Some(&req("min-fresh=6"))),
            Reuse::Validate
        );
        assert_eq!(
            reuse(s(10), s(5), &none, Some(&req("min-fresh=5"))),
            Reuse::Fresh
        );
        assert_eq!(
            reuse(s(10), s(15), &none, Some(&req("max-stale=5"))),
            Reuse::StaleAccepted
        );
        assert_eq!(
            reuse(s(10), s(16), &none, Some(&req("max-stale=5"))),
            Reuse::Validate
        );
        assert_eq!(
            reuse(s(10), s(1000), &none, Some(&req("max-stale"))),
            Reuse::StaleAccepted
        );
        let swr = StaleRules {
            while_revalidate: Some(5),
            if_error: Some(60),
            ..none
        };
        assert_eq!(reuse(s(10), s(14), &swr, None), Reuse::StaleWhileRevalidate);
        assert_eq!(reuse(s(10), s(16), &swr, None), Reuse::Validate);
        assert!(stale_if_error(s(10), s(70), &swr));
        assert!(!stale_if_error(s(10), s(71), &swr));
        let strict = StaleRules {
            never_stale: true,
            ..swr
        };
        assert_eq!(reuse(s(10), s(11), &strict, None), Reuse::Validate);
        assert_eq!(
            reuse(s(10), s(11), &strict, Some(&req("max-stale"))),
            Reuse::Validate
        );
        assert!(!stale_if_error(s(10), s(11), &strict));
    }
}
