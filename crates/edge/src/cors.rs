//! CORS answered at the edge (Fetch standard, "CORS protocol").
//!
//! - A request without `Origin` is not a CORS request: nothing is done.
//! - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//!   is answered 204 here, never by the target. When the origin, the method
//!   and every requested header are allowed, the answer carries the
//!   `Access-Control-Allow-*` fields; otherwise it carries none of them,
//!   which the browser reads as a refusal (as Go's rs/cors and most
//!   frameworks do; a 403 would tell the browser nothing more).
//! - Any other request with an allowed origin gets `Access-Control-Allow-Origin`
//!   (the origin echoed, or `*` when every origin is allowed without
//!   credentials), `-Allow-Credentials` and `-Expose-Headers` on its answer.
//!   The policy owns these fields: the target's own are removed.
//! - `Vary: Origin` is added whenever the answer depends on the origin.

use http::header::{self, HeaderMap, HeaderValue};
use http::Method;
use tollgate_config::{AllowHeaders, AllowOrigins, Cors, OriginPattern};

static TRUE: HeaderValue = HeaderValue::from_static("true");
static ANY: HeaderValue = HeaderValue::from_static("*");

/// What the policy makes of a request.
#[derive(Debug)]
pub enum CorsRequest {
    /// No `Origin`: not a CORS request.
    NotCors,
    /// A preflight: answer 204 with these fields.
    Preflight(HeaderMap),
    /// An actual request: these fields go on its answer.
    Actual(CorsFields),
}

/// The CORS fields of an actual request's answer.
#[derive(Debug, Default)]
pub struct CorsFields {
    /// `Access-Control-Allow-Origin`, `None` when the origin is not allowed.
    allow_origin: Option<HeaderValue>,
    credentials: bool,
    expose: Option<HeaderValue>,
    vary: bool,
}

/// Looks at a request's method and fields.
pub fn on_request(cors: &Cors, method: &Method, headers: &HeaderMap) -> CorsRequest {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return CorsRequest::NotCors;
    };
    let allowed = origin.to_str().is_ok_and(|o| origin_allowed(cors, o));
    let vary = !matches!(cors.origins, AllowOrigins::Any) || cors.credentials;
    let allow_origin = allowed.then(|| {
        if matches!(cors.origins, AllowOrigins::Any) && !cors.credentials {
            ANY.clone()
        } else {
            origin.clone()
        }
    });
    if method == Method::OPTIONS {
        if let Some(requested) = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD) {
            return CorsRequest::Preflight(preflight(cors, allow_origin, requested, headers));
        }
    }
    CorsRequest::Actual(CorsFields {
        credentials: cors.credentials && allow_origin.is_some(),
        expose: allow_origin
            .as_ref()
            .and_then(|_| cors.expose_headers_value.clone()),
        allow_origin,
        vary,
    })
}

/// Puts the fields on an actual request's answer.
pub fn on_response(fields: CorsFields, headers: &mut HeaderMap) {
    headers.remove(header::ACCESS_CONTROL_ALLOW_ORIGIN);
    headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    headers.remove(header::ACCESS_CONTROL_EXPOSE_HEADERS);
    if let Some(origin) = fields.allow_origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if fields.credentials {
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE.clone());
        }
        if let Some(expose) = fields.expose {
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose);
        }
    }
    if fields.vary {
        add_vary(headers, "origin");
    }
}

fn preflight(
    cors: &Cors,
    allow_origin: Option<HeaderValue>,
    requested_method: &HeaderValue,
    headers: &HeaderMap,
) -> HeaderMap {
    let mut out = HeaderMap::new();
    let requested_headers = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS);
    let method_ok = Method::from_bytes(requested_method.as_bytes()).is_ok_and(|m| {
        // CORS-safelisted methods never need listing.
        matches!(m, Method::GET | Method::HEAD | Method::POST) || cors.methods.contains(&m)
    });
    let headers_ok = match (&cors.allow_headers, requested_headers) {
        (_, None) | (AllowHeaders::Any, _) => true,
        (AllowHeaders::List(list), Some(v)) => v.to_str().is_ok_and(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .all(|h| list.iter().any(|a| a.as_str().eq_ignore_ascii_case(h)))
        }),
    };
    if let (Some(origin), true, true) = (allow_origin, method_ok, headers_ok) {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if cors.credentials {
            out.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE.clone());
        }
        out.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            cors.allow_methods_value.clone(),
        );
        let allow_headers = match &cors.allow_headers {
            AllowHeaders::Any => requested_headers.cloned(),
            list => list.list_value(),
        };
        if let Some(h) = allow_headers {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, h);
        }
        if let Some(age) = &cors.max_age_value {
            out.insert(header::ACCESS_CONTROL_MAX_AGE, age.clone());
        }
    }
    out.insert(
        header::VARY,
        HeaderValue::from_static(
            "origin, access-control-request-method, access-control-request-headers",
        ),
    );
    out
}

/// Whether `origin` (as sent, `scheme://host[:port]`) is allowed.
pub fn origin_allowed(cors: &Cors, origin: &str) -> bool {
    match &cors.origins {
        AllowOrigins::Any => true,
        AllowOrigins::List(list) => list.iter().any(|p| origin_matches(p, origin)),
    }
}

fn origin_matches(p: &OriginPattern, origin: &str) -> bool {
    match p {
        OriginPattern::Exact(e) => e.eq_ignore_ascii_case(origin),
        OriginPattern::Subdomains { scheme, suffix } => {
            let o = origin.as_bytes();
            if o.len() <= scheme.len() + suffix.len()
                || !o[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
                || !o[o.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
            {
                return false;
            }
            // What the `*` stands for: one or more host labels.
            let labels = &o[scheme.len()..o.len() - suffix.len()];
            labels.split(|&b| b == b'.').all(|l| {
                !l.is_empty()
                    && l.iter()
                        .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            })
        }
    }
}

/// Adds `token` to `Vary` unless it (or `*`) is already there.
fn add_vary(headers: &mut HeaderMap, token: &'static str) {
    let present = headers.get_all(header::VARY).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.eq_ignore_ascii_case(token))
        })
    });
    if !present {
        headers.append(header::VARY, HeaderValue::from_static(token));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderName;

    fn cors(origins: AllowOrigins, credentials: bool) -> Cors {
        Cors {
            origins,
            methods: vec![Method::GET, Method::PUT],
            allow_headers: AllowHeaders::List(vec![HeaderName::from_static("x-token")]),
            credentials,
            allow_methods_value: HeaderValue::from_static("GET, PUT"),
            expose_headers_value: Some(HeaderValue::from_static("x-id")),
            max_age_value: Some(HeaderValue::from_static("600")),
        }
    }

    fn list() -> AllowOrigins {
        AllowOrigins::List(vec![
            OriginPattern::Exact("https://app.example.com".into()),
            OriginPattern::Subdomains {
                scheme: "https://".into(),
                suffix: ".example.org".into(),
            },
        ])
    }

    fn req(fields: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in fields {
            h.append(*n, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn origin_patterns() {
        let c = cors(list(), false);
        assert!(origin_allowed(&c, "https://app.example.com"));
        assert!(origin_allowed(&c, "HTTPS://APP.example.com"));
        assert!(!origin_allowed(&c, "http://app.example.com"));
        assert!(!origin_allowed(&c, "https://app.example.com:444"));
        assert!(origin_allowed(&c, "https://a.example.org"));
        assert!(origin_allowed(&c, "https://a.b.example.org"));
        assert!(!origin_allowed(&c, "https://example.org"));
        assert!(!origin_allowed(&c, "https://.example.org"));
        assert!(!origin_allowed(&c, "https://evil.com/.example.org"));
        assert!(!origin_allowed(&c, "https://evilexample.org"));
        assert!(!origin_allowed(&c, "https://a.example.org:8443"));
    }

    #[test]
    fn actual_requests() {
        let c = cors(list(), true);
        let CorsRequest::Actual(f) = on_request(
            &c,
            &Method::GET,
            &req(&[("origin", "https://app.example.com")]),
        ) else {
            panic!()
        };
        let mut h = req(&[
            ("access-control-allow-origin", "*"),
            ("vary", "Accept-Encoding"),
        ]);
        on_response(f, &mut h);
        assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["access-control-expose-headers"], "x-id");
        let vary: Vec<_> = h.get_all("vary").iter().collect();
        assert_eq!(vary, ["Accept-Encoding", "origin"]);

        let CorsRequest::Actual(f) =
            on_request(&c, &Method::GET, &req(&[("origin", "https://evil.com")]))
        else {
            panic!()
        };
        let mut h = req(&[("access-control-allow-origin", "*")]);
        on_response(f, &mut h);
        assert!(!h.contains_key("access-control-allow-origin"));
        assert_eq!(h["vary"], "origin");

        assert!(matches!(
            on_request(&c, &Method::GET, &HeaderMap::new()),
            CorsRequest::NotCors
        ));
    }

    #[test]
    fn any_origin_without_credentials_is_a_star_without_vary() {
        let c = cors(AllowOrigins::Any, false);
        let CorsRequest::Actual(f) =
            on_request(&c, &Method::POST, &req(&[("origin", "https://x.test")]))
        else {
            panic!()
        };
        let mut h = HeaderMap::new();
        on_response(f, &mut h);
        assert_eq!(h["access-control-allow-origin"], "*");
        assert!(!h.contains_key("vary"));
        assert!(!h.contains_key("access-control-allow-credentials"));
    }

    #[test]
    fn preflights() {
        let c = cors(list(), true);
        let ok = req(&[
            ("origin", "https://a.example.org"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "X-Token"),
        ]);
        let CorsRequest::Preflight(h) = on_request(&c, &Method::OPTIONS, &ok) else {
            panic!()
        };
        assert_eq!(h["access-control-allow-origin"], "https://a.example.org");
        assert_eq!(h["access-control-allow-methods"], "GET, PUT");
        assert_eq!(h["access-control-allow-headers"], "x-token");
        assert_eq!(h["access-control-max-age"], "600");
        assert_eq!(h["access-control-allow-credentials"], "true");
        for bad in [
            req(&[
                ("origin", "https://evil.com"),
                ("access-control-request-method", "PUT"),
            ]),
            req(&[
                ("origin", "https://a.example.org"),
                ("access-control-request-method", "DELETE"),
            ]),
            req(&[
                ("origin", "https://a.example.org"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "x-token, x-other"),
            ]),
        ] {
            let CorsRequest::Preflight(h) = on_request(&c, &Method::OPTIONS, &bad) else {
                panic!()
            };
            assert!(!h.contains_key("access-control-allow-origin"), "{bad:?}");
            assert!(!h.contains_key("access-control-allow-methods"));
            assert!(h.contains_key("vary"));
        }
        // A safelisted method needs no listing.
        let post = req(&[
            ("origin", "https://a.example.org"),
            ("access-control-request-method", "POST"),
        ]);
        let CorsRequest::Preflight(h) = on_request(&c, &Method::OPTIONS, &post) else {
            panic!()
        };
        assert!(h.contains_key("access-control-allow-origin"));
        // OPTIONS without Access-Control-Request-Method is an actual request.
        let plain = req(&[("origin", "https://a.example.org")]);
        assert!(matches!(
            on_request(&c, &Method::OPTIONS, &plain),
            CorsRequest::Actual(_)
        ));
    }

    #[test]
    fn any_headers_are_echoed() {
        let mut c = cors(AllowOrigins::Any, false);
        c.allow_headers = AllowHeaders::Any;
        let r = req(&[
            ("origin", "https://x.test"),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "x-a, x-b"),
        ]);
        let CorsRequest::Preflight(h) = on_request(&c, &Method::OPTIONS, &r) else {
            panic!()
        };
        assert_eq!(h["access-control-allow-headers"], "x-a, x-b");
        assert_eq!(h["access-control-allow-origin"], "*");
    }
}
