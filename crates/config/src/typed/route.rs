//! Routes: what they match, where matched requests go, and the forwarding
//! header rules.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, StatusCode};
use regex::Regex;

use super::{Policy, StaticFiles, Template};

/// One route: what it matches and where matched requests go.
#[derive(Debug, Clone)]
pub struct Route {
    /// Unique name, used in logs and `explain`.
    pub name: String,
    /// Listener names this route serves; empty means all HTTP listeners.
    pub listeners: Vec<String>,
    /// Conditions, all of which must hold.
    pub matcher: RouteMatch,
    /// Path rewrite applied before forwarding.
    pub rewrite: Option<Rewrite>,
    /// Where matched requests go.
    pub target: RouteTarget,
    /// Forwarding header rules.
    pub forwarding: Forwarding,
    /// Whole-request deadline (from head received to response head sent).
    pub timeout: Duration,
    /// Largest request body accepted; larger is 413.
    pub max_body: u64,
    /// Policy chain: `defaults.policies`, then the route's own, with every
    /// `use` resolved.
    pub policies: Vec<Policy>,
    /// Deprecation and sunset fields added to every answer.
    pub lifecycle: Option<Box<super::Lifecycle>>,
}

/// Match conditions of a route. Empty lists match anything.
#[derive(Debug, Clone, Default)]
pub struct RouteMatch {
    /// Host patterns, lowercase, without port.
    pub hosts: Vec<HostPattern>,
    /// Path condition.
    pub path: Option<PathMatch>,
    /// Allowed methods.
    pub methods: Vec<Method>,
    /// Header conditions.
    pub headers: Vec<HeaderMatch>,
    /// Query parameter conditions.
    pub query: Vec<QueryMatch>,
    /// API version condition.
    pub version: Option<super::VersionMatch>,
}

/// A host to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// `api.example.com`
    Exact(String),
    /// `*.example.com`, stored as `.example.com`: matches one or more labels before it.
    Suffix(String),
}

impl std::fmt::Display for HostPattern {
    /// As written (lowercase): `api.example.com`, `*.example.com`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostPattern::Exact(e) => f.write_str(e),
            HostPattern::Suffix(s) => write!(f, "*{s}"),
        }
    }
}

/// A path condition.
#[derive(Debug, Clone)]
pub enum PathMatch {
    /// The path equals this.
    Exact(String),
    /// The path starts with this at a segment boundary (`/api` matches `/api` and `/api/x`, not `/apix`),
    /// unless it ends in `/`.
    Prefix(String),
    /// The regex matches the whole path (anchored by the validator).
    Regex(Regex),
}

/// How a header or query value is compared.
#[derive(Debug, Clone)]
pub enum ValueMatch {
    /// Present with any value.
    Present,
    /// Equals exactly.
    Exact(String),
    /// The regex matches the whole value.
    Regex(Regex),
}

/// A header condition.
#[derive(Debug, Clone)]
pub struct HeaderMatch {
    /// Header name.
    pub name: HeaderName,
    /// Comparison.
    pub value: ValueMatch,
}

/// A query parameter condition.
#[derive(Debug, Clone)]
pub struct QueryMatch {
    /// Parameter name (compared after percent-decoding).
    pub name: String,
    /// Comparison.
    pub value: ValueMatch,
}

/// Path rewrite, applied in the order strip, regex, add.
#[derive(Debug, Clone)]
pub struct Rewrite {
    /// Prefix removed from the path when present.
    pub strip_prefix: Option<String>,
    /// Regex replace on the path; `$1`, `${name}` refer to captures.
    pub regex: Option<(Regex, String)>,
    /// Prefix put in front of the path.
    pub add_prefix: Option<String>,
}

/// What a route does with a matched request.
#[derive(Debug, Clone)]
pub enum RouteTarget {
    /// Forward to the upstream at this index of `Config::upstreams`.
    Upstream(usize),
    /// Answer with a fixed response.
    Respond(FixedResponse),
    /// Answer with a redirect.
    Redirect(Redirect),
    /// Serve files from a directory.
    Static(Box<StaticFiles>),
    /// Answer from several upstream calls merged into one JSON document.
    Aggregate(Box<super::Aggregate>),
}

/// A fixed response.
#[derive(Debug, Clone)]
pub struct FixedResponse {
    /// Status code.
    pub status: StatusCode,
    /// Extra headers, in order.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Body bytes.
    pub body: String,
}

/// A redirect response.
#[derive(Debug, Clone)]
pub struct Redirect {
    /// Status: 301, 302, 303, 307 or 308.
    pub status: StatusCode,
    /// Location, a template (`$path`, `$query`, `$host`, `$1`, ...); when
    /// `keep_path`, the request path and query are appended.
    pub location: Template,
    /// Append the original path and query to `location`.
    pub keep_path: bool,
}

/// How a proxy header is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardMode {
    /// Keep values from trusted peers and add ours.
    Append,
    /// Drop incoming values and write ours.
    Replace,
    /// Pass incoming headers untouched and add nothing.
    Off,
}

/// What the Host header sent upstream is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRewrite {
    /// The client's Host.
    Preserve,
    /// The chosen target's `host:port`.
    Target,
    /// This fixed value.
    Fixed(String),
}

/// Forwarding header rules of a route.
#[derive(Debug, Clone)]
pub struct Forwarding {
    /// X-Forwarded-For, -Proto, -Host.
    pub x_forwarded: ForwardMode,
    /// RFC 7239 `Forwarded`.
    pub forwarded: ForwardMode,
    /// Add a `Via` header both ways.
    pub via: bool,
    /// Host header sent upstream.
    pub host: HostRewrite,
    /// Response headers removed from upstream answers (e.g. Server, X-Powered-By).
    pub hide_response_headers: Vec<HeaderName>,
    /// Request id header; generated when absent, passed upstream and returned.
    pub request_id_header: HeaderName,
    /// Protocols a client may switch to through `Upgrade` (lowercase names,
    /// without version; never `h2c`); other upgrade requests are forwarded
    /// as plain requests.
    pub upgrades: Vec<String>,
    /// Requests with a header name containing `_` are refused with 400.
    pub refuse_underscore_headers: bool,
}

impl Forwarding {
    /// Whether every protocol an `Upgrade` field offers (`name` or
    /// `name/version`, comma separated) may be switched to.
    pub fn upgrade_allowed(&self, offered: &str) -> bool {
        let mut any = false;
        for item in offered.split(',') {
            let name = item.split('/').next().unwrap_or("").trim();
            if name.is_empty() {
                continue;
            }
            any = true;
            if !self.upgrades.iter().any(|u| u.eq_ignore_ascii_case(name)) {
                return false;
            }
        }
        any
    }
}
