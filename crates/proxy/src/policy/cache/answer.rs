//! Answers made by the cache: stored answers (whole, 304, a byte range,
//! 416, HEAD) and the purge count. Its refusals (403, 504) are
//! `pipeline::refusal`s like every other.

use std::time::SystemTime;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode};
use tollgate_edge::cache::conditional::{if_range_holds, not_modified};
use tollgate_edge::cache::entry::Entry;
use tollgate_edge::cache::status::CacheStatus;
use tollgate_edge::range::{evaluate, RangeAnswer};

use crate::body::ResponseBody;

/// The `Cache-Status` field name (RFC 9211).
pub(super) static CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");

/// Fields a 304 carries (RFC 9110 §15.4.5).
const NOT_MODIFIED_FIELDS: [HeaderName; 7] = [
    header::CACHE_CONTROL,
    header::CONTENT_LOCATION,
    header::DATE,
    header::ETAG,
    header::EXPIRES,
    header::VARY,
    header::LAST_MODIFIED,
];

/// The stored answer for a `method` request with fields `client`: a 304
/// when the client's own conditionals match, a 206 or 416 for a byte range
/// of a stored 200, else the whole answer (no body for HEAD). The body is
/// shared with the store, not copied.
pub(super) fn serve(
    entry: &Entry,
    method: &Method,
    client: &HeaderMap,
    status: CacheStatus,
    now: SystemTime,
) -> Response<ResponseBody> {
    let age = HeaderValue::from(entry.age(now).as_secs());
    if not_modified(method, client, entry) {
        let mut resp = Response::new(ResponseBody::Empty);
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        let h = resp.headers_mut();
        for name in &NOT_MODIFIED_FIELDS {
            for v in entry.headers.get_all(name) {
                h.append(name.clone(), v.clone());
            }
        }
        h.insert(header::AGE, age);
        h.insert(&CACHE_STATUS, status.value());
        return resp;
    }
    let mut headers = entry.headers.clone();
    headers.insert(header::AGE, age);
    headers.insert(&CACHE_STATUS, status.value());
    let mut code = entry.status;
    let mut body = entry.body.clone();
    if *method == Method::GET && entry.status == StatusCode::OK {
        if let Some(range) = client.get(header::RANGE) {
            if if_range_holds(client, entry) {
                let len = body.len() as u64;
                match evaluate(range.as_bytes(), len) {
                    RangeAnswer::Full => {}
                    RangeAnswer::Partial { start, end } => {
                        code = StatusCode::PARTIAL_CONTENT;
                        body = body.slice(start as usize..=end as usize);
                        content_range(&mut headers, &format!("bytes {start}-{end}/{len}"));
                        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
                    }
                    RangeAnswer::Unsatisfiable => {
                        code = StatusCode::RANGE_NOT_SATISFIABLE;
                        body = Bytes::new();
                        content_range(&mut headers, &format!("bytes */{len}"));
                        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
                    }
                }
            }
        }
    }
    let body = if *method == Method::HEAD {
        ResponseBody::Empty
    } else {
        ResponseBody::full(body)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = code;
    *resp.headers_mut() = headers;
    resp
}

fn content_range(headers: &mut HeaderMap, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(header::CONTENT_RANGE, v);
    }
}

/// The JSON answer of a purge (`{"purged": n}`), never stored.
pub(super) fn json(code: StatusCode, body: String) -> Response<ResponseBody> {
    let mut resp = Response::new(ResponseBody::full(body));
    *resp.status_mut() = code;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
