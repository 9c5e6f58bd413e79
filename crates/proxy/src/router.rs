//! The router: which route a request takes. Every route that matches is
//! ranked by specificity (host, then path, then the number of other
//! conditions); the most specific wins and ties go to file order.

use std::cmp::Ordering;

use http::{HeaderMap, Method};
use tollgate_config::{HeaderMatch, HostPattern, PathMatch, QueryMatch, Route, ValueMatch};

/// What the router looks at in a request.
#[derive(Debug, Clone, Copy)]
pub struct RouteInput<'a> {
    /// Index of the listener the request came in on.
    pub listener: usize,
    /// Host without port, lowercase.
    pub host: &'a str,
    /// Path (normalized when the listener normalizes paths).
    pub path: &'a str,
    /// Raw query string, without `?`.
    pub query: Option<&'a str>,
    /// Method.
    pub method: &'a Method,
    /// Request headers.
    pub headers: &'a HeaderMap,
}

/// How specifically a route matched; greater is more specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Specificity {
    host: u32,
    path_kind: u8,
    path_len: u32,
    conditions: u32,
}

impl std::fmt::Display for Specificity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = match self.host {
            0 => "any host".to_owned(),
            u32::MAX => "exact host".to_owned(),
            n => format!("wildcard host ({} chars)", n - 1),
        };
        let path = match self.path_kind {
            0 => "any path".to_owned(),
            1 => format!("path prefix ({} chars)", self.path_len),
            2 => "path regex".to_owned(),
            _ => "exact path".to_owned(),
        };
        write!(f, "{host}, {path}, {} other condition(s)", self.conditions)
    }
}

/// Route selection over one configuration's routes.
#[derive(Debug)]
pub struct Router {
    /// Per listener, the indices of routes that serve it, in file order.
    by_listener: Vec<Vec<usize>>,
    routes: Vec<Route>,
}

impl Router {
    /// Builds the router; `listener_names` in listener index order.
    pub fn new(routes: &[Route], listener_names: &[String]) -> Self {
        let by_listener = listener_names
            .iter()
            .map(|name| {
                routes
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.listeners.is_empty() || r.listeners.contains(name))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        Self {
            by_listener,
            routes: routes.to_vec(),
        }
    }

    /// Index of the route the request takes, if any.
    pub fn route(&self, input: &RouteInput<'_>) -> Option<usize> {
        let candidates = self.by_listener.get(input.listener)?;
        let mut best: Option<(usize, Specificity)> = None;
        for &i in candidates {
            if let Ok(spec) = match_route(&self.routes[i], input) {
                let better = match &best {
                    None => true,
                    Some((_, b)) => spec.cmp(b) == Ordering::Greater,
                };
                if better {
                    best = Some((i, spec));
                }
            }
        }
        best.map(|(i, _)| i)
    }

    /// For `explain`: every route of the listener with its match result or
    /// the reason it did not match, in file order.
    pub fn explain(&self, input: &RouteInput<'_>) -> Vec<(usize, Result<Specificity, String>)> {
        let Some(candidates) = self.by_listener.get(input.listener) else {
            return Vec::new();
        };
        candidates
            .iter()
            .map(|&i| (i, match_route(&self.routes[i], input)))
            .collect()
    }
}

/// Whether `route` matches, and how specifically; else why not.
fn match_route(route: &Route, input: &RouteInput<'_>) -> Result<Specificity, String> {
    let m = &route.matcher;
    let host = if m.hosts.is_empty() {
        0
    } else {
        m.hosts
            .iter()
            .filter_map(|p| host_rank(p, input.host))
            .max()
            .ok_or_else(|| format!("host {:?} is not one of the route's hosts", input.host))?
    };
    // A version named in the path is not part of what `path` matches.
    let path = match &m.version {
        Some(v) => crate::version::check(v, input)?,
        None => input.path,
    };
    let (path_kind, path_len) = match &m.path {
        None => (0, 0),
        Some(p) => path_rank(p, path)
            .ok_or_else(|| format!("path {path:?} does not match {}", describe_path(p)))?,
    };
    if !m.methods.is_empty() && !m.methods.contains(input.method) {
        return Err(format!(
            "method {} is not one of {:?}",
            input.method, m.methods
        ));
    }
    for h in &m.headers {
        if !header_matches(h, input.headers) {
            return Err(format!("header {} does not match", h.name));
        }
    }
    for q in &m.query {
        if !query_matches(q, input.query) {
            return Err(format!("query parameter {:?} does not match", q.name));
        }
    }
    let conditions = u32::from(!m.methods.is_empty())
        + u32::from(m.version.is_some())
        + (m.headers.len() + m.query.len()) as u32;
    Ok(Specificity {
        host,
        path_kind,
        path_len,
        conditions,
    })
}

fn host_rank(p: &HostPattern, host: &str) -> Option<u32> {
    match p {
        HostPattern::Exact(h) => (h == host).then_some(u32::MAX),
        HostPattern::Suffix(s) => {
            (host.len() > s.len() && host.ends_with(s.as_str())).then_some(s.len() as u32 + 1)
        }
    }
}

fn path_rank(p: &PathMatch, path: &str) -> Option<(u8, u32)> {
    match p {
        PathMatch::Exact(e) => (e == path).then_some((3, e.len() as u32)),
        PathMatch::Regex(re) => re.is_match(path).then_some((2, 0)),
        PathMatch::Prefix(prefix) => {
            let rest = path.strip_prefix(prefix.as_str())?;
            let boundary = prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/');
            boundary.then_some((1, prefix.len() as u32))
        }
    }
}

fn describe_path(p: &PathMatch) -> String {
    match p {
        PathMatch::Exact(e) => format!("exact {e:?}"),
        PathMatch::Prefix(e) => format!("prefix {e:?}"),
        PathMatch::Regex(re) => format!("regex {:?}", re.as_str()),
    }
}

fn value_matches(v: &ValueMatch, actual: &str) -> bool {
    match v {
        ValueMatch::Present => true,
        ValueMatch::Exact(e) => e == actual,
        ValueMatch::Regex(re) => re.is_match(actual),
    }
}

fn header_matches(h: &HeaderMatch, headers: &HeaderMap) -> bool {
    headers
        .get_all(&h.name)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| value_matches(&h.value, s)))
}

fn query_matches(q: &QueryMatch, query: Option<&str>) -> bool {
    let Some(query) = query else { return false };
    query.split('&').any(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        percent_decode(name) == q.name && value_matches(&q.value, &percent_decode(value))
    })
}

/// Decodes `%XX` escapes and `+` as space (form encoding, as query strings use).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(a), Some(b)) => {
                    out.push(a << 4 | b);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}
