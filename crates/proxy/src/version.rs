//! API versions in route matching: where a request names its version
//! (`match.version.from`), and whether a route's version condition holds.
//! A request naming a version takes only routes of that version; one
//! naming none takes the routes marked `default`. With `from: path` the
//! first path segment `v<version>` names it and the route's path
//! condition is matched against the rest.

use std::borrow::Cow;

use tollgate_config::{VersionMatch, VersionSource};

use crate::router::{percent_decode, RouteInput};

/// The version `input` names by `source` (if any), and the path the
/// route's path condition is matched against.
pub(crate) fn requested<'a>(
    source: &VersionSource,
    input: &RouteInput<'a>,
) -> (Option<Cow<'a, str>>, &'a str) {
    let path = input.path;
    let named = match source {
        VersionSource::Path => {
            let (first, rest) = match path[1.min(path.len())..].find('/') {
                Some(i) => (&path[1..i + 1], &path[i + 1..]),
                None => (path.get(1..).unwrap_or(""), "/"),
            };
            let version = first.strip_prefix('v').filter(|v| {
                v.as_bytes().first().is_some_and(u8::is_ascii_digit)
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
            });
            return match version {
                Some(v) => (Some(Cow::Borrowed(v)), rest),
                None => (None, path),
            };
        }
        VersionSource::Header(name) => input
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| Cow::Borrowed(v.trim())),
        VersionSource::Query(name) => input.query.and_then(|q| {
            q.split('&').find_map(|pair| {
                let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(n) == *name).then(|| Cow::Owned(percent_decode(v)))
            })
        }),
        VersionSource::Accept(param) => input
            .headers
            .get_all(http::header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| accept_param(v, param))
            .map(Cow::Borrowed),
    };
    (named.filter(|v| !v.is_empty()), path)
}

/// The value of media-type parameter `param` in the first range of an
/// `Accept` value that has it (`application/vnd.x+json; version=2`).
fn accept_param<'a>(accept: &'a str, param: &str) -> Option<&'a str> {
    accept.split(',').find_map(|range| {
        range.split(';').skip(1).find_map(|p| {
            let (n, v) = p.split_once('=')?;
            n.trim()
                .eq_ignore_ascii_case(param)
                .then(|| v.trim().trim_matches('"'))
        })
    })
}

/// Whether `v` holds for `input`: the path left to match, or why not.
pub(crate) fn check<'a>(v: &VersionMatch, input: &RouteInput<'a>) -> Result<&'a str, String> {
    let (named, path) = requested(&v.from, input);
    match named {
        Some(n) if *n == v.value => Ok(path),
        Some(n) => Err(format!(
            "the request names version {n:?} ({}), the route serves {:?}",
            describe(&v.from),
            v.value
        )),
        None if v.default => Ok(path),
        None => Err(format!(
            "the request names no version ({}) and the route is not the default",
            describe(&v.from)
        )),
    }
}

/// Why a request matching `v` gets its version, for `explain`.
pub(crate) fn explain(v: &VersionMatch, input: &RouteInput<'_>) -> String {
    match requested(&v.from, input).0 {
        Some(n) => format!("version {n} (named by {})", describe(&v.from)),
        None => format!(
            "version {} (the default: nothing named by {})",
            v.value,
            describe(&v.from)
        ),
    }
}

fn describe(source: &VersionSource) -> String {
    match source {
        VersionSource::Path => "the path's first segment `/v<version>`".into(),
        VersionSource::Header(h) => format!("header {h}"),
        VersionSource::Query(q) => format!("query parameter {q:?}"),
        VersionSource::Accept(p) => format!("Accept parameter {p:?}"),
    }
}
