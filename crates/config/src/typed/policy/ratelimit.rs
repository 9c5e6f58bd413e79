//! The traffic-limiting policies as validated: `rate_limit`, `quota` and
//! `concurrency_limit`. Rates are parsed once here; the limiter in
//! `tollgate-gateway` only sees counts and durations.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;

use super::Template;

/// A limiting step of a route's chain.
#[derive(Debug, Clone)]
pub enum LimitPolicy {
    /// Requests per period, per key. The `Arc` is the policy's identity:
    /// routes holding the same one (a named policy, `defaults.policies`)
    /// share one counter table.
    RateLimit(Arc<RateLimit>),
    /// Requests per calendar day or month, per key (shared like `RateLimit`).
    Quota(Arc<Quota>),
    /// Requests in flight at once, per key (shared like `RateLimit`).
    Concurrency(Arc<ConcurrencyLimit>),
}

impl LimitPolicy {
    /// The name the policy has in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            LimitPolicy::RateLimit(_) => "rate_limit",
            LimitPolicy::Quota(_) => "quota",
            LimitPolicy::Concurrency(_) => "concurrency_limit",
        }
    }

    /// The key the policy counts by.
    pub fn key(&self) -> &LimitKey {
        match self {
            LimitPolicy::RateLimit(r) => &r.key,
            LimitPolicy::Quota(q) => &q.key,
            LimitPolicy::Concurrency(c) => &c.key,
        }
    }

    /// True when the policy needs a consumer identified by an earlier
    /// auth policy: a key written as `consumer`, or plans / per-consumer
    /// overrides.
    pub fn needs_identity(&self) -> bool {
        let written = matches!(self.key(), LimitKey::Consumer { written: true });
        match self {
            LimitPolicy::RateLimit(r) => written || !r.plans.is_empty() || !r.consumers.is_empty(),
            _ => written,
        }
    }
}

/// `count` requests per `period` (`100/s`, `5000/h`, `100000/day`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests admitted per period (at least 1).
    pub count: u64,
    /// The period (longer than zero).
    pub period: Duration,
}

impl Rate {
    /// The period in whole seconds (at least 1), for answer fields.
    pub fn window_secs(&self) -> u64 {
        self.period.as_secs().max(1)
    }
}

/// What a limit counts by. A request without the key's value (no
/// consumer, no such header or claim) is counted under its client IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitKey {
    /// The consumer an auth policy identified. `written` is false when the
    /// key was not written (the default).
    Consumer {
        /// Whether the file said `key: consumer`.
        written: bool,
    },
    /// The client's IP address (after PROXY protocol / trusted proxies).
    ClientIp,
    /// A request header's value.
    Header(HeaderName),
    /// The route: every client of the route shares one count.
    Route,
    /// A claim of the token a `jwt` policy verified.
    JwtClaim(String),
    /// A template combining variables (`$http_x_tenant:$path`).
    Template(Template),
}

/// How a `rate_limit` spreads its admissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Generic cell rate algorithm: smooth, one timestamp per key.
    Gcra,
    /// A sliding window estimated from the current and previous fixed windows.
    SlidingWindow,
}

/// Where counts are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitStore {
    /// In this process, shared by all its workers.
    Local,
    /// In the top-level `redis:`, shared by every node using it.
    Redis(SharedStore),
}

/// How a limit uses the shared store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedStore {
    /// One script per decision, or local allowances synced in batches.
    pub mode: StoreMode,
    /// What applies when the store fails or is not asked (breaker open).
    pub on_error: OnStoreError,
    /// Nodes sharing the store: `local` enforces the limit / `nodes` per
    /// process, and `approximate` sizes each node's allowance by it.
    pub nodes: u64,
}

/// The shared store's accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// One atomic script per decision on Redis's clock.
    Exact,
    /// Local admissions from a small allowance, counts synced every `sync`.
    Approximate {
        /// The interval between two batches of counts.
        sync: Duration,
    },
}

/// What a decision does when the shared store fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStoreError {
    /// Admit the request.
    Allow,
    /// Refuse it (429).
    Deny,
    /// Decide it in this process against the limit divided by `nodes`.
    Local,
}

/// Which fields describe a limit on answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateHeaders {
    /// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
    Ietf,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`.
    Legacy,
    /// No fields (a refusal still has `Retry-After`).
    None,
}

/// A `rate_limit` policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// The policy's name in answer fields and the access log: the named
    /// policy's name, else `rate_limit`.
    pub name: String,
    /// Limits every key is held to unless a plan or override applies;
    /// a request must pass all of them.
    pub limits: Vec<Rate>,
    /// Requests admitted at once above each limit's count.
    pub burst: u64,
    /// What requests are counted by.
    pub key: LimitKey,
    /// GCRA (default) or sliding window.
    pub algorithm: Algorithm,
    /// Limits by consumer group, first matching group in file order.
    pub plans: Vec<(String, Vec<Rate>)>,
    /// Limits of named consumers, before plans.
    pub consumers: Vec<(String, Vec<Rate>)>,
    /// Where counts are kept.
    pub store: LimitStore,
    /// Fields on answers.
    pub headers: RateHeaders,
    /// Most keys kept at once (idle ones are dropped first).
    pub max_keys: usize,
}

/// A calendar window of a quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calendar {
    /// From midnight to midnight in the quota's time zone.
    Day,
    /// From the first of the month at midnight in the quota's time zone.
    Month,
}

/// A `quota` policy: requests per calendar window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// The policy's name (see [`RateLimit::name`]).
    pub name: String,
    /// Requests admitted per window.
    pub count: u64,
    /// The calendar window.
    pub per: Calendar,
    /// The zone's offset from UTC in seconds (fixed offsets only).
    pub utc_offset: i32,
    /// What requests are counted by.
    pub key: LimitKey,
    /// Where counts are kept.
    pub store: LimitStore,
    /// Fields on answers.
    pub headers: RateHeaders,
    /// Most keys kept at once.
    pub max_keys: usize,
}

/// A `concurrency_limit` policy: requests in flight at once per key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcurrencyLimit {
    /// The policy's name (see [`RateLimit::name`]).
    pub name: String,
    /// Requests in flight at once per key.
    pub max: u64,
    /// What requests are counted by.
    pub key: LimitKey,
}
