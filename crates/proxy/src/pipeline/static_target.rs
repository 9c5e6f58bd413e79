//! The `static` target: the route's rewrite gives the path under the root,
//! `tollgate_edge::static_files` does the rest, and refusals become error
//! answers (with `Allow` on 405 and `Content-Range` on 416).

use std::borrow::Cow;

use http::header::{self, HeaderValue};
use http::Response;
use tollgate_config::{Route, StaticFiles};
use tollgate_core::ErrorKind;
use tollgate_edge::static_files::{self, Refusal, StaticBody, StaticRequest};

use super::{refusal, Incoming};
use crate::body::ResponseBody;

/// Answers `req` from the files of `files`.
pub(super) async fn serve(
    route: &Route,
    files: &StaticFiles,
    req: &Incoming<'_>,
) -> Response<ResponseBody> {
    let path = req.uri.path();
    let lookup = match &route.rewrite {
        Some(rw) => tollgate_edge::rewrite_path(rw, path),
        None => Cow::Borrowed(path),
    };
    let request = StaticRequest {
        method: &req.method,
        request_path: path,
        query: req.uri.query(),
        lookup_path: &lookup,
        headers: &req.headers,
    };
    let deadline = tokio::time::Instant::now() + route.timeout;
    let served = tokio::time::timeout_at(deadline, static_files::serve(files, request))
        .await
        .unwrap_or_else(|_| {
            Err(Refusal::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "file system did not answer in time",
            )))
        });
    let id = &req.request_id;
    match served {
        Ok(resp) => resp.map(|body| match body {
            StaticBody::Empty => ResponseBody::Empty,
            StaticBody::Full(b) => ResponseBody::Full(b),
            StaticBody::File(f) => ResponseBody::File(f),
        }),
        Err(Refusal::NotFound) => refusal(ErrorKind::NotFound, "not found", id),
        Err(Refusal::MethodNotAllowed) => {
            let mut resp = refusal(ErrorKind::MethodNotAllowed, "method not allowed", id);
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            resp
        }
        Err(Refusal::PreconditionFailed) => {
            refusal(ErrorKind::PreconditionFailed, "precondition failed", id)
        }
        Err(Refusal::RangeNotSatisfiable { len }) => {
            let mut resp = refusal(ErrorKind::RangeNotSatisfiable, "range not satisfiable", id);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            resp
        }
        Err(Refusal::Io(e)) => {
            tracing::warn!(route = %route.name, "static file: {e}");
            refusal(ErrorKind::Internal, "file could not be read", id)
        }
    }
}
