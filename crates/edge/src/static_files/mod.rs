//! The `static` route target: files from a directory, with validators
//! (ETag, Last-Modified), conditional requests, single byte ranges,
//! precompressed siblings, and no way out of the root.
//!
//! One request is one trip to tokio's blocking pool (find, open, check the
//! preconditions, and read the file when it is small) plus, for larger
//! files, one trip per [`body::CHUNK`] while streaming.

mod body;
mod conditional;
mod encoding;
mod listing;
mod mime;
mod path;
mod resolve;

use std::io::{Seek, SeekFrom};
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};
use tollgate_config::{Coding, StaticFiles};

use crate::range::RangeAnswer;
pub use body::{FileBody, StaticBody};
use conditional::{Conditions, Validators, Verdict};
use resolve::{Found, Lookup, Miss, Opened};

/// Files up to this size are read in the lookup step and sent from memory.
const SMALL_FILE: u64 = 64 * 1024;

/// A request for a file.
#[derive(Debug, Clone, Copy)]
pub struct StaticRequest<'a> {
    /// GET or HEAD; other methods are refused.
    pub method: &'a Method,
    /// The path as the client sent it (normalized): directory redirects
    /// and listings use it.
    pub request_path: &'a str,
    /// The query, kept on directory redirects.
    pub query: Option<&'a str>,
    /// The path looked up under the root (after the route's rewrite).
    pub lookup_path: &'a str,
    /// The request's fields (conditionals, Range, Accept-Encoding).
    pub headers: &'a HeaderMap,
}

/// Why a static request is not answered with a file.
#[derive(Debug)]
pub enum Refusal {
    /// 404: missing, hidden, outside the root, unreadable or not a file.
    NotFound,
    /// 405: only GET and HEAD are served.
    MethodNotAllowed,
    /// 412: If-Match or If-Unmodified-Since failed.
    PreconditionFailed,
    /// 416: the range starts past the end of a file of `len` bytes.
    RangeNotSatisfiable {
        /// The file's length, for `Content-Range: bytes */len`.
        len: u64,
    },
    /// 500: the file system failed otherwise.
    Io(std::io::Error),
}

/// What the blocking step prepared.
#[derive(Debug)]
enum Prepared {
    Redirect,
    Listing(String),
    NotModified(Validated),
    File {
        validated: Validated,
        /// The name the content type comes from.
        name: String,
        encoding: Option<Coding>,
        len: u64,
        span: Option<(u64, u64)>,
        body: StaticBody,
    },
}

/// A file's validators as header values.
#[derive(Debug)]
struct Validated {
    etag: HeaderValue,
    last_modified: HeaderValue,
}

/// Answers a request for a file under `cfg.root`.
pub async fn serve(
    cfg: &StaticFiles,
    req: StaticRequest<'_>,
) -> Result<Response<StaticBody>, Refusal> {
    let get = match *req.method {
        Method::GET => true,
        Method::HEAD => false,
        _ => return Err(Refusal::MethodNotAllowed),
    };
    let rel = path::relative(req.lookup_path, cfg.allow_hidden).ok_or(Refusal::NotFound)?;
    let encodings = if cfg.precompressed {
        encoding::accepted(req.headers)
    } else {
        [None; 3]
    };
    let lookup = Lookup {
        root: cfg.root.clone(),
        rel,
        index: cfg.index.clone(),
        listing: cfg.listing,
        follow_outside: cfg.follow_symlinks_outside_root,
        allow_hidden: cfg.allow_hidden,
        encodings,
    };
    let conditions = Conditions::from_headers(req.headers);
    let request_path = req.request_path.to_owned();
    let prepared = tokio::task::spawn_blocking(move || {
        let found = resolve::locate(&lookup, &request_path).map_err(|m| match m {
            Miss::NotFound => Refusal::NotFound,
            Miss::Io(e) => Refusal::Io(e),
        })?;
        prepare(found, &conditions, get)
    })
    .await
    .map_err(|e| Refusal::Io(std::io::Error::other(e)))??;
    Ok(respond(prepared, cfg, &req))
}

/// Preconditions, range, and the body (read now when small).
fn prepare(found: Found, conditions: &Conditions, get: bool) -> Result<Prepared, Refusal> {
    let Opened {
        mut file,
        name,
        len,
        modified,
        encoding,
    } = match found {
        Found::Directory => return Ok(Prepared::Redirect),
        Found::Listing(page) => return Ok(Prepared::Listing(page)),
        Found::File(opened) => opened,
    };
    let since_epoch = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
    let suffix = encoding.map_or("", encoding::extension);
    let etag = format!(
        "\"{len:x}-{:x}{}{suffix}\"",
        since_epoch.as_nanos(),
        if suffix.is_empty() { "" } else { "-" }
    );
    let validators = Validators {
        etag: &etag,
        modified: since_epoch.as_secs(),
    };
    let validated = Validated {
        etag: HeaderValue::from_str(&etag).map_err(|e| Refusal::Io(std::io::Error::other(e)))?,
        last_modified: tollgate_core::http_date_value(modified),
    };
    match conditions.verdict(validators) {
        Verdict::Failed => return Err(Refusal::PreconditionFailed),
        Verdict::NotModified => return Ok(Prepared::NotModified(validated)),
        Verdict::Proceed => {}
    }
    // Range is defined for GET only (RFC 9110 §14.2).
    let span = if get {
        conditions.span(len, validators)
    } else {
        RangeAnswer::Full
    };
    let (start, count, span) = match span {
        RangeAnswer::Full => (0, len, None),
        RangeAnswer::Partial { start, end } => (start, end - start + 1, Some((start, end))),
        RangeAnswer::Unsatisfiable => return Err(Refusal::RangeNotSatisfiable { len }),
    };
    let body = if !get || count == 0 {
        StaticBody::Empty
    } else {
        if start > 0 {
            file.seek(SeekFrom::Start(start)).map_err(Refusal::Io)?;
        }
        if count <= SMALL_FILE {
            let data = body::read_up_to(&mut file, count).map_err(Refusal::Io)?;
            if (data.len() as u64) < count {
                // The file shrank since it was measured.
                return Err(Refusal::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            StaticBody::Full(Bytes::from(data))
        } else {
            StaticBody::File(FileBody::new(file, count))
        }
    };
    Ok(Prepared::File {
        validated,
        name,
        encoding,
        len,
        span,
        body,
    })
}

static NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");

/// The answer for what was prepared.
fn respond(prepared: Prepared, cfg: &StaticFiles, req: &StaticRequest<'_>) -> Response<StaticBody> {
    let vary = cfg.precompressed;
    let mut status = StatusCode::OK;
    let mut headers = HeaderMap::new();
    let h = &mut headers;
    let mut out = StaticBody::Empty;
    match prepared {
        Prepared::Redirect => {
            status = StatusCode::MOVED_PERMANENTLY;
            // One leading slash: `//dir/` would send the browser to host `dir`
            // (a path is not normalized on listeners with `normalize_path: false`).
            let path = req.request_path.trim_start_matches('/');
            let location = match req.query {
                Some(q) => format!("/{path}/?{q}"),
                None => format!("/{path}/"),
            };
            if let Ok(v) = HeaderValue::from_str(&location) {
                h.insert(header::LOCATION, v);
            }
        }
        Prepared::Listing(page) => {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(page.len()));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF.clone());
            if *req.method == Method::GET {
                out = StaticBody::Full(Bytes::from(page));
            }
        }
        Prepared::NotModified(v) => {
            status = StatusCode::NOT_MODIFIED;
            h.insert(header::ETAG, v.etag);
            h.insert(header::LAST_MODIFIED, v.last_modified);
            if vary {
                h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            }
        }
        Prepared::File {
            validated,
            name,
            encoding,
            len,
            span,
            body,
        } => {
            h.insert(header::CONTENT_TYPE, mime::content_type(cfg, &name));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF.clone());
            h.insert(header::ETAG, validated.etag);
            h.insert(header::LAST_MODIFIED, validated.last_modified);
            h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            if let Some(e) = encoding {
                h.insert(
                    header::CONTENT_ENCODING,
                    HeaderValue::from_static(e.token()),
                );
            }
            if vary {
                h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            }
            let sent = match span {
                Some((a, b)) => {
                    status = StatusCode::PARTIAL_CONTENT;
                    if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{len}")) {
                        h.insert(header::CONTENT_RANGE, v);
                    }
                    b - a + 1
                }
                None => len,
            };
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(sent));
            out = body;
        }
    }
    let mut resp = Response::new(out);
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

#[cfg(test)]
mod tests;
