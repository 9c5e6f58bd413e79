//! The live dashboard at the admin listener's `/`: one page of plain HTML,
//! CSS and JavaScript compiled into the binary (no CDN, works offline).
//! The page itself holds no data, so it is served without the token; it
//! reads the admin API's JSON endpoints (`/dashboard/data`, `/upstreams`,
//! `/status`, ...) with the token the operator types in, which it keeps in
//! `sessionStorage`. History comes from [`ring`], sampled on the admin thread.

pub(crate) mod ring;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use http::Response;
use http_body_util::Full;

const INDEX: &str = include_str!("index.html");
const STYLE: &str = include_str!("dashboard.css");
const SCRIPT: &str = include_str!("dashboard.js");

/// The page's own files by path: (content type, text).
pub(crate) fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    match path {
        "/" | "/dashboard" => Some(("text/html; charset=utf-8", INDEX)),
        "/dashboard.css" => Some(("text/css; charset=utf-8", STYLE)),
        "/dashboard.js" => Some(("text/javascript; charset=utf-8", SCRIPT)),
        _ => None,
    }
}

/// A page file as an answer; the policy lets it load nothing from
/// elsewhere and run no inline script.
pub(crate) fn respond(kind: &'static str, text: &'static str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, http::HeaderValue::from_static(kind));
    headers.insert(CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    res
}
