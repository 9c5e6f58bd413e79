//! Whether an answer may be stored by a shared cache (RFC 9111 §3, §3.5).

use std::time::Duration;

use http::header::{CONTENT_RANGE, ETAG, LAST_MODIFIED, SET_COOKIE};
use http::HeaderMap;

use super::control::ResponseDirectives;
use super::freshness::{has_explicit_freshness, heuristically_cacheable};
use super::key::Vary;

/// Why an answer was not stored; its name goes into Cache-Status `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The request was not a GET.
    Method,
    /// The request said `no-store`.
    RequestNoStore,
    /// The answer said `no-store`.
    NoStore,
    /// The answer is `private`.
    Private,
    /// The request had Authorization and the answer did not allow sharing it.
    Authorization,
    /// The answer sets cookies (and `store_set_cookie` is off).
    SetCookie,
    /// The answer has `Vary: *`.
    VaryAny,
    /// The status is neither cacheable by default nor made so by a directive.
    Status,
    /// A partial answer (206 or Content-Range).
    Partial,
    /// Nothing would make a stored copy reusable: no freshness, no validator.
    Useless,
    /// The body is larger than `max_object_size`.
    TooLarge,
}

impl Skip {
    /// A short token for Cache-Status `detail`.
    pub fn detail(self) -> &'static str {
        match self {
            Skip::Method => "method",
            Skip::RequestNoStore => "request-no-store",
            Skip::NoStore => "no-store",
            Skip::Private => "private",
            Skip::Authorization => "authorization",
            Skip::SetCookie => "set-cookie",
            Skip::VaryAny => "vary-star",
            Skip::Status => "status",
            Skip::Partial => "partial",
            Skip::Useless => "no-freshness",
            Skip::TooLarge => "too-large",
        }
    }
}

/// What the storing decision needs to know about the request.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts {
    /// The method was GET.
    pub get: bool,
    /// The request carried Authorization.
    pub authorization: bool,
    /// The request said `no-store`.
    pub no_store: bool,
}

/// Decides whether an answer may be stored; `lifetime` is its computed
/// freshness lifetime.
pub fn storable(
    req: RequestFacts,
    status: u16,
    headers: &HeaderMap,
    cc: &ResponseDirectives,
    lifetime: Duration,
    store_set_cookie: bool,
) -> Result<(), Skip> {
    if !req.get {
        return Err(Skip::Method);
    }
    if req.no_store {
        return Err(Skip::RequestNoStore);
    }
    if status == 206 || headers.contains_key(CONTENT_RANGE) {
        return Err(Skip::Partial);
    }
    if status < 200 || status == 304 {
        return Err(Skip::Status);
    }
    if cc.no_store {
        return Err(Skip::NoStore);
    }
    if cc.private {
        return Err(Skip::Private);
    }
    // §3.5: shared only when the origin says so.
    if req.authorization && !(cc.public || cc.s_maxage.is_some() || cc.must_revalidate) {
        return Err(Skip::Authorization);
    }
    if !store_set_cookie && headers.contains_key(SET_COOKIE) {
        return Err(Skip::SetCookie);
    }
    if Vary::of(headers) == Vary::Any {
        return Err(Skip::VaryAny);
    }
    if !(cc.public || has_explicit_freshness(cc, headers) || heuristically_cacheable(status)) {
        return Err(Skip::Status);
    }
    let validator = headers.contains_key(ETAG) || headers.contains_key(LAST_MODIFIED);
    if lifetime.is_zero() && !validator {
        return Err(Skip::Useless);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::headers;
    use http::header::CACHE_CONTROL;

    const GET: RequestFacts = RequestFacts {
        get: true,
        authorization: false,
        no_store: false,
    };

    fn check(
        req: RequestFacts,
        status: u16,
        fields: &[(&str, &str)],
        cookies: bool,
    ) -> Result<(), Skip> {
        let h = headers(fields);
        let cc = ResponseDirectives::parse(&h);
        let lifetime = Duration::from_secs(cc.max_age.or(cc.s_maxage).unwrap_or(0));
        storable(req, status, &h, &cc, lifetime, cookies)
    }

    #[test]
    fn rules() {
        let ok = [("cache-control", "max-age=60")];
        assert_eq!(check(GET, 200, &ok, false), Ok(()));
        assert_eq!(
            check(RequestFacts { get: false, ..GET }, 200, &ok, false),
            Err(Skip::Method)
        );
        assert_eq!(
            check(
                RequestFacts {
                    no_store: true,
                    ..GET
                },
                200,
                &ok,
                false
            ),
            Err(Skip::RequestNoStore)
        );
        assert_eq!(check(GET, 206, &ok, false), Err(Skip::Partial));
        assert_eq!(check(GET, 304, &ok, false), Err(Skip::Status));
        assert_eq!(
            check(
                GET,
                200,
                &[(CACHE_CONTROL.as_str(), "no-store, max-age=5")],
                false
            ),
            Err(Skip::NoStore)
        );
        assert_eq!(
            check(GET, 200, &[("cache-control", "private, max-age=5")], false),
            Err(Skip::Private)
        );
        // Qualified private only hides fields.
        assert_eq!(
            check(
                GET,
                200,
                &[("cache-control", "private=\"x\", max-age=5")],
                false
            ),
            Ok(())
        );
        let auth = RequestFacts {
            authorization: true,
            ..GET
        };
        assert_eq!(check(auth, 200, &ok, false), Err(Skip::Authorization));
        for allowed in [
            "public, max-age=5",
            "s-maxage=5",
            "must-revalidate, max-age=5",
        ] {
            assert_eq!(
                check(auth, 200, &[("cache-control", allowed)], false),
                Ok(()),
                "{allowed}"
            );
        }
        let cookie = [("cache-control", "max-age=60"), ("set-cookie", "a=1")];
        assert_eq!(check(GET, 200, &cookie, false), Err(Skip::SetCookie));
        assert_eq!(check(GET, 200, &cookie, true), Ok(()));
        assert_eq!(
            check(
                GET,
                200,
                &[("cache-control", "max-age=60"), ("vary", "*")],
                false
            ),
            Err(Skip::VaryAny)
        );
        // 302 needs explicit freshness; 404 is cacheable by default.
        assert_eq!(
            check(GET, 302, &[("etag", "\"a\"")], false),
            Err(Skip::Status)
        );
        assert_eq!(check(GET, 302, &ok, false), Ok(()));
        assert_eq!(check(GET, 404, &[("etag", "\"a\"")], false), Ok(()));
        assert_eq!(check(GET, 500, &ok, false), Ok(()));
        // Nothing to reuse it with.
        assert_eq!(check(GET, 200, &[], false), Err(Skip::Useless));
        assert_eq!(
            check(
                GET,
                200,
                &[("cache-control", "no-cache"), ("etag", "\"a\"")],
                false
            ),
            Ok(())
        );
    }
}
