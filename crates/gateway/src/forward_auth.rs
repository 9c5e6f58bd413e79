//! `forward_auth`: an external service decides on each request (as
//! Traefik's ForwardAuth and Envoy's HTTP ext_authz do).
//!
//! - tollgate sends `GET <path>` to the service with the chosen request
//!   headers (default `Authorization`, `Cookie`) and the original request
//!   in `X-Forwarded-Method`, `-Proto`, `-Host` and `-Uri`; no body.
//! - A 2xx allows: the chosen answer headers are copied onto the upstream
//!   request, after any copy the client sent is removed (in every
//!   spelling); `consumer_header`'s value names the consumer (a name that
//!   is no consumer leaves the request without one).
//! - Any other answer goes back to the client as it is: status, headers
//!   (minus those of the connection) and body (up to `max_body`).
//! - No answer within the timeout, or a failed call: 503, unless
//!   `fail_open` lets the request through unidentified.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use tollgate_config::ForwardAuth;

use crate::{identity, Consumer, Directory};

/// Fields that describe one connection or the framing of the service's
/// answer, never passed on.
const CONNECTION_FIELDS: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// The headers of the request to the auth service.
pub fn auth_request_headers(
    policy: &ForwardAuth,
    method: &Method,
    uri: &Uri,
    host: &str,
    proto: &str,
    headers: &HeaderMap,
) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in &policy.request_headers {
        for v in headers.get_all(name) {
            out.append(name.clone(), v.clone());
        }
    }
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let fields: [(&str, &str); 4] = [
        ("x-forwarded-method", method.as_str()),
        ("x-forwarded-proto", proto),
        ("x-forwarded-host", host),
        ("x-forwarded-uri", target),
    ];
    for (name, value) in fields {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(HeaderName::from_static(name), v);
        }
    }
    out
}

/// After a 2xx: the chosen answer headers replace whatever the client
/// sent under those names; the consumer the answer names, if any.
pub fn allow(
    policy: &ForwardAuth,
    dir: &Directory,
    answer: &HeaderMap,
    request: &mut HeaderMap,
) -> Option<Arc<Consumer>> {
    identity::strip(request, &policy.response_headers);
    for name in &policy.response_headers {
        for v in answer.get_all(name) {
            request.append(name.clone(), v.clone());
        }
    }
    let name = policy.consumer_header.as_ref()?;
    let value = answer.get(name)?.to_str().ok()?;
    dir.by_name(value.trim()).cloned()
}

/// The headers of a denial as they go back to the client.
pub fn denial_headers(answer: &HeaderMap) -> HeaderMap {
    let mut out = answer.clone();
    for name in CONNECTION_FIELDS {
        out.remove(name);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tollgate_config::{Gateway, ServiceEndpoint};

    use super::*;

    fn policy() -> ForwardAuth {
        ForwardAuth {
            endpoint: ServiceEndpoint {
                upstream: 0,
                path: "/check".into(),
                host: None,
                timeout: Duration::from_secs(1),
            },
            request_headers: vec![http::header::AUTHORIZATION],
            response_headers: vec![HeaderName::from_static("x-user")],
            consumer_header: Some(HeaderName::from_static("x-user")),
            fail_open: false,
            max_body: 1024,
        }
    }

    #[test]
    fn the_auth_request_carries_the_original_and_chosen_headers() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer x"));
        h.insert("cookie", HeaderValue::from_static("a=1"));
        let uri: Uri = "/a/b?c=1".parse().unwrap();
        let out = auth_request_headers(&policy(), &Method::POST, &uri, "api.test", "https", &h);
        assert_eq!(out["authorization"], "Bearer x");
        assert!(!out.contains_key("cookie"));
        assert_eq!(out["x-forwarded-method"], "POST");
        assert_eq!(out["x-forwarded-uri"], "/a/b?c=1");
        assert_eq!(out["x-forwarded-host"], "api.test");
        assert_eq!(out["x-forwarded-proto"], "https");
    }

    #[test]
    fn allowed_requests_get_the_answer_headers_and_not_the_clients() {
        let dir = Directory::build(&Gateway {
            consumers: vec![tollgate_config::Consumer {
                name: "ann".into(),
                ..Default::default()
            }],
            identity_headers: Default::default(),
        });
        let mut req = HeaderMap::new();
        req.insert("x-user", HeaderValue::from_static("root"));
        req.insert("x_user", HeaderValue::from_static("root"));
        let mut answer = HeaderMap::new();
        answer.insert("x-user", HeaderValue::from_static("ann"));
        let c = allow(&policy(), &dir, &answer, &mut req).unwrap();
        assert_eq!(c.name(), "ann");
        assert_eq!(req.get_all("x-user").iter().count(), 1);
        assert_eq!(req["x-user"], "ann");
        assert!(!req.contains_key("x_user"));
        answer.insert("x-user", HeaderValue::from_static("stranger"));
        assert!(allow(&policy(), &dir, &answer, &mut req).is_none());
        let mut denial = HeaderMap::new();
        denial.insert("location", HeaderValue::from_static("/login"));
        denial.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        let d = denial_headers(&denial);
        assert!(d.contains_key("location") && !d.contains_key("transfer-encoding"));
    }
}
