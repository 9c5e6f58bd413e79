//! Upstreams: targets, protocol, balancing, health checks, retries,
//! circuit breaking and sticky sessions.

use std::time::Duration;

use http::{HeaderName, Method};

use super::UpstreamTls;

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

/// Version of the PROXY protocol header sent to an upstream's targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyProtocolVersion {
    /// The text line.
    V1,
    /// The binary header.
    V2,
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
