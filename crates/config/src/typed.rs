//! Validated configuration: every value parsed, every default applied, every
//! cross-reference resolved. Runtime code builds from these types only.

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, StatusCode};
use ipnet::IpNet;
use regex::Regex;

pub use crate::policy::{
    CacheKey, CachePolicy, Coding, CompressPolicy, Purge, QueryKey, TypePattern, DEFAULT_TYPES,
};
pub use crate::policy::{HeaderOps, HeaderRules, Part, Policy, Template, Var};
pub use crate::security::{
    AllowHeaders, AllowOrigins, AllowedMethods, ClientRate, Cors, EncodedSlash, IpFilter,
    OriginPattern, PerClient, SecurityHeaders,
};
pub use crate::static_files::StaticFiles;
mod tls;
pub use tls::*;

/// The whole validated configuration of one tollgate process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Process-wide settings (workers, shutdown).
    pub server: Server,
    /// Every listener, in file order.
    pub listeners: Vec<Listener>,
    /// Every upstream pool, in file order; routes refer to them by index.
    pub upstreams: Vec<Upstream>,
    /// Every route, in file order (the router applies precedence).
    pub routes: Vec<Route>,
    /// Where access log lines go.
    pub access_log: AccessLog,
}

/// Process-wide settings.
#[derive(Debug, Clone)]
pub struct Server {
    /// Worker threads; each runs its own event loop and accept socket (SO_REUSEPORT).
    pub workers: usize,
    /// How long in-flight requests may run after SIGTERM/SIGINT before the process exits.
    pub shutdown_timeout: Duration,
}

/// Protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerProtocol {
    /// HTTP/1.1 and HTTP/2 cleartext with prior knowledge, told apart by the connection preface.
    Http,
    /// A TCP byte relay to an upstream (L4).
    Tcp,
    /// TLS relayed without terminating it, to an upstream chosen by the
    /// ClientHello's server name (L4).
    TlsPassthrough,
    /// A UDP datagram relay with per-client sessions (L4).
    Udp,
    /// HTTP/1.1 and HTTP/2 over TLS, chosen by ALPN.
    Https,
}

impl ListenerProtocol {
    /// The name as written in the configuration, e.g. `tls_passthrough`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Tcp => "tcp",
            Self::TlsPassthrough => "tls_passthrough",
            Self::Udp => "udp",
        }
    }

    /// Whether the listener relays bytes or datagrams (no HTTP, no routes).
    pub fn is_l4(&self) -> bool {
        matches!(self, Self::Tcp | Self::TlsPassthrough | Self::Udp)
    }
}

/// One listening socket and the HTTP limits that apply on it.
#[derive(Debug, Clone)]
pub struct Listener {
    /// Unique name; routes may restrict themselves to listeners by name.
    pub name: String,
    /// Address to bind.
    pub address: SocketAddr,
    /// Protocol spoken.
    pub protocol: ListenerProtocol,
    /// Peers whose X-Forwarded-* / Forwarded headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Request-head and connection limits.
    pub limits: HttpLimits,
    /// HTTP/2 specific limits.
    pub http2: Http2Limits,
    /// Peers that must open every connection with a PROXY protocol header
    /// (v1 or v2), whose client address then replaces theirs; empty when
    /// the listener reads no PROXY headers.
    pub proxy_protocol: Vec<IpNet>,
    /// Where an L4 listener relays to: `Some` exactly for `tcp`,
    /// `tls_passthrough` and `udp` listeners.
    pub l4: Option<L4Listener>,
    /// Client addresses refused at accept (the connection is closed unread).
    pub ip_filter: Option<IpFilter>,
    /// Connection and request-rate caps per client address.
    pub per_client: Option<PerClient>,
    /// Normalize request paths before routing (dot segments, escapes, `//`).
    pub normalize_path: bool,
    /// What normalization does with `%2F`, `%5C` and `\`.
    pub encoded_slash: EncodedSlash,
    /// TLS termination: `Some` exactly when `protocol` is `Https`.
    pub tls: Option<ListenerTls>,
    /// HSTS header on every answer (HTTPS listeners only).
    pub hsts: Option<Hsts>,
    /// Every request is redirected to HTTPS (HTTP listeners only).
    pub redirect_https: Option<HttpsRedirect>,
}

/// What an L4 (`tcp`, `tls_passthrough`, `udp`) listener relays to.
#[derive(Debug, Clone)]
pub struct L4Listener {
    /// The upstream (index into `Config::upstreams`): always set for `tcp`
    /// and `udp`; for `tls_passthrough` the one used when no `sni` route
    /// matches (`None`: such connections are closed).
    pub upstream: Option<usize>,
    /// `tls_passthrough` only: server name routes, most specific match wins.
    pub sni: Vec<SniRoute>,
    /// A relay (TCP) or session (UDP) ends after this long without traffic.
    pub idle_timeout: Duration,
    /// `udp` only: most client sessions at once (per process).
    pub max_sessions: usize,
}

/// A `tls_passthrough` route: server names and the upstream they go to.
#[derive(Debug, Clone)]
pub struct SniRoute {
    /// Exact names and `*.` wildcards, lowercase.
    pub hosts: Vec<HostPattern>,
    /// Index into `Config::upstreams`.
    pub upstream: usize,
}

/// Version of the PROXY protocol header sent to an upstream's targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyProtocolVersion {
    /// The text line.
    V1,
    /// The binary header.
    V2,
}

/// Limits on requests and connections accepted by a listener.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Largest request head (request line + headers) in bytes; larger is 431.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more is 431.
    pub max_headers: usize,
    /// Longest request target in bytes; longer is 414.
    pub max_uri_length: usize,
    /// Time allowed to receive a whole request head (slowloris guard); 408 after.
    pub header_read_timeout: Duration,
    /// How long an idle keep-alive connection is kept open.
    pub keepalive_timeout: Duration,
    /// Longest a write to a client may wait for it to take the bytes
    /// (slow readers); for HTTP/2 also how long a PING may go unanswered.
    pub send_timeout: Duration,
    /// Most open client connections on this listener (per process); further ones wait in the backlog.
    pub max_connections: usize,
}

/// HTTP/2 limits of a listener.
#[derive(Debug, Clone)]
pub struct Http2Limits {
    /// SETTINGS_MAX_CONCURRENT_STREAMS advertised and enforced.
    pub max_concurrent_streams: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE advertised and enforced.
    pub max_header_list_size: u32,
    /// Stream resets a client may cause on one connection before it is closed (rapid reset).
    pub max_pending_resets: usize,
}

/// Wire protocol spoken to an upstream's targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamProtocol {
    /// HTTP/1.1 with keep-alive.
    Http1,
    /// HTTP/2 cleartext with prior knowledge.
    H2c,
    /// HTTP/2 over TLS, agreed by ALPN.
    H2,
}

/// A named pool of servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// Unique name.
    pub name: String,
    /// Servers, in file order.
    pub targets: Vec<Target>,
    /// Protocol spoken to every target.
    pub protocol: UpstreamProtocol,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Time from the request fully sent to the response head received.
    pub response_header_timeout: Duration,
    /// Longest pause between two reads of an upstream response body.
    pub read_idle_timeout: Duration,
    /// Idle keep-alive connections kept per target and worker.
    pub pool_max_idle: usize,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// How a target is chosen for each request.
    pub balance: Balance,
    /// Health checking; `None` when the upstream has no `health` section
    /// (every target is always available).
    pub health: Option<Health>,
    /// Retries after a request reached a target; `None` without a `retries` section.
    pub retries: Option<Retries>,
    /// Concurrency cap and error-rate breaker.
    pub circuit_breaker: CircuitBreakerConfig,
    /// Sticky sessions by cookie.
    pub sticky: Option<Sticky>,
    /// A target that comes back (healthy again, or its ejection over) gets
    /// a share of traffic growing from 10 % to 100 % over this time.
    pub slow_start: Option<Duration>,
    /// How often DNS names among the targets are resolved again.
    pub dns_refresh: Duration,
    /// PROXY protocol header sent first on every relayed connection (only
    /// upstreams of `tcp` and `tls_passthrough` listeners); `None`: none.
    pub proxy_protocol: Option<ProxyProtocolVersion>,
    /// TLS to the targets; `None`: cleartext.
    pub tls: Option<UpstreamTls>,
}

/// When and how a request that reached a target is tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retries {
    /// Extra attempts after the first.
    pub attempts: u32,
    /// Conditions that allow a retry.
    pub on: RetryOn,
    /// Retry non-idempotent methods (POST, PATCH) too.
    pub non_idempotent: bool,
    /// First backoff step (full jitter, doubling).
    pub backoff_base: Duration,
    /// Longest backoff.
    pub backoff_max: Duration,
    /// Retries may be at most this percentage of requests.
    pub budget_percent: u32,
    /// Retries allowed per second whatever the budget.
    pub min_per_second: u32,
    /// Request bodies up to this size (with a known length) are kept to be
    /// sent again; larger ones make the request not retryable once sent.
    pub buffer_body: u64,
}

/// Conditions under which a retry is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryOn {
    /// Every target refused or timed out the connection (after failover).
    pub connect_error: bool,
    /// The connection closed or reset before a response head arrived.
    pub reset: bool,
    /// No response head within `timeouts.response_header`.
    pub timeout: bool,
    /// Response statuses.
    pub statuses: Vec<u16>,
}

/// Circuit breaking of an upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CircuitBreakerConfig {
    /// Most requests in flight at once; more are answered 503 at once.
    pub max_requests: Option<usize>,
    /// Most connections open to the upstream at once (all targets and workers).
    pub max_connections: Option<usize>,
    /// With `max_connections`: most requests waiting for a connection;
    /// more are answered 503 at once.
    pub max_pending: usize,
    /// Error-rate breaker.
    pub error_rate: Option<ErrorRate>,
}

/// The error-rate breaker's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRate {
    /// Opens at this percentage of failed requests (5xx answers and errors)…
    pub threshold_percent: u8,
    /// …among at least this many requests in the window.
    pub min_requests: u32,
    /// Sliding window.
    pub window: Duration,
    /// Time open before probing.
    pub open_for: Duration,
    /// Probe requests when half-open; all must succeed to close.
    pub probes: u32,
}

/// Sticky sessions: a cookie names the target that served the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sticky {
    /// Cookie name.
    pub cookie: String,
    /// `Max-Age`; `None` for a session cookie.
    pub max_age: Option<Duration>,
    /// Cookie `Path`.
    pub path: String,
    /// `Secure` attribute.
    pub secure: bool,
    /// `HttpOnly` attribute.
    pub http_only: bool,
    /// `SameSite` value (`Lax`, `Strict`, `None`), if any.
    pub same_site: Option<String>,
}

/// Health checking of an upstream's targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Probes sent to every target in the background.
    pub active: Option<ActiveHealth>,
    /// Outlier ejection from the answers to real requests.
    pub passive: Option<PassiveHealth>,
    /// What happens when no target is available.
    pub when_all_down: WhenAllDown,
}

/// What an active probe does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// An HTTP/1.1 request on a fresh connection; healthy when the status
    /// is one of `expect`.
    Http {
        /// Method sent.
        method: Method,
        /// Path (and query) sent.
        path: String,
        /// Host header sent; `None` means the target's `host:port`.
        host: Option<String>,
        /// Inclusive status ranges that count as healthy.
        expect: Vec<(u16, u16)>,
    },
    /// A TCP connect only.
    Tcp,
}

/// Active health checks (`health.active`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveHealth {
    /// The probe.
    pub probe: Probe,
    /// Time between two probes of a target.
    pub interval: Duration,
    /// Each wait is `interval` ± up to this percentage of it (0..=50).
    pub jitter_percent: u8,
    /// How long a probe may take (connect + answer).
    pub timeout: Duration,
    /// Consecutive successes that bring an unhealthy target back.
    pub healthy: u32,
    /// Consecutive failures that take a healthy target out.
    pub unhealthy: u32,
}

/// Passive health checks (`health.passive`): outlier ejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassiveHealth {
    /// Consecutive failed exchanges (connect error, 5xx) that eject a target.
    pub consecutive_failures: u32,
    /// Base ejection time, multiplied by the number of times ejected.
    pub eject_for: Duration,
    /// Longest ejection.
    pub max_eject_for: Duration,
    /// Most of the pool that may be ejected at once, in percent (0..=100).
    pub max_ejected_percent: u8,
}

/// What a request gets when no target of its upstream is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenAllDown {
    /// 503 `no healthy target`.
    Fail,
    /// Every target is picked from as if all were healthy (Envoy's panic mode).
    Panic,
}

/// Load-balancing algorithm of an upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Balance {
    /// Smooth weighted round robin (the default).
    RoundRobin,
    /// Fewest requests in flight relative to weight.
    LeastConnections,
    /// Power of two random choices by in-flight requests × response latency.
    LeastRequest,
    /// Random in proportion to weight.
    Random,
    /// The same target per client network (IPv4 /24, IPv6 address).
    IpHash,
    /// The same target per request key (ketama ring).
    ConsistentHash(HashOn),
}

impl Balance {
    /// The name as written in the configuration, e.g. `round_robin`.
    pub fn name(&self) -> &'static str {
        match self {
            Balance::RoundRobin => "round_robin",
            Balance::LeastConnections => "least_connections",
            Balance::LeastRequest => "least_request",
            Balance::Random => "random",
            Balance::IpHash => "ip_hash",
            Balance::ConsistentHash(_) => "consistent_hash",
        }
    }
}

/// What a consistent hash is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOn {
    /// The value of this request header (the first one when repeated).
    Header(HeaderName),
    /// The value of this cookie.
    Cookie(String),
    /// The value of this query parameter (as sent, not decoded).
    Query(String),
    /// The client's address (the connection's peer).
    ClientIp,
    /// The request path (normalized when the listener normalizes; before any rewrite).
    Path,
}

impl std::fmt::Display for HashOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HashOn::Header(h) => write!(f, "header {h}"),
            HashOn::Cookie(c) => write!(f, "cookie {c}"),
            HashOn::Query(q) => write!(f, "query parameter {q}"),
            HashOn::ClientIp => f.write_str("client ip"),
            HashOn::Path => f.write_str("path"),
        }
    }
}

/// One server of an upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port` as written; resolved through DNS when not an IP address.
    pub address: String,
    /// Relative share of traffic (1..=1000).
    pub weight: u32,
}

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
}

/// A host to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// `api.example.com`
    Exact(String),
    /// `*.example.com`, stored as `.example.com`: matches one or more labels before it.
    Suffix(String),
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
}

/// Access log destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLog {
    /// No access log.
    Off,
    /// JSON lines on standard output.
    Stdout,
    /// JSON lines appended to this file.
    File(std::path::PathBuf),
}
