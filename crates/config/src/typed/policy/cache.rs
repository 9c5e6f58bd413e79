//! The `cache` policy as validated.

use std::time::Duration;

use http::{HeaderName, Method};
use ipnet::IpNet;

/// A shared HTTP cache (RFC 9111) in front of the route's target. One
/// store exists per definition: a named policy used by several routes (or a
/// cache in `defaults.policies`) is one store shared by all of them.
#[derive(Debug, Clone)]
pub struct CachePolicy {
    /// Most bytes the store holds (bodies, stored fields and bookkeeping).
    pub max_size: u64,
    /// Largest body stored; larger answers stream through uncached.
    pub max_object_size: u64,
    /// What the primary cache key is made of.
    pub key: CacheKey,
    /// Share of the time since Last-Modified used as heuristic freshness, in percent.
    pub heuristic_percent: u8,
    /// Longest heuristic freshness.
    pub heuristic_max: Duration,
    /// Store answers that set cookies (without their `Set-Cookie` fields).
    pub store_set_cookie: bool,
    /// Longest a request waits for another one fetching the same key.
    pub lock_timeout: Duration,
    /// Purge requests, when enabled.
    pub purge: Option<Purge>,
    /// Targeted cache-control fields (RFC 9213) this cache obeys, first
    /// present one wins over `Cache-Control`; `[CDN-Cache-Control]` unless
    /// configured, empty to obey `Cache-Control` only.
    pub targeted_cache_control: Vec<HeaderName>,
}

/// The parts of a request that make its cache key, after scheme, host and path.
#[derive(Debug, Clone, Default)]
pub struct CacheKey {
    /// Which query parameters count.
    pub query: QueryKey,
    /// Request header values added to the key (lowercase names).
    pub headers: Vec<HeaderName>,
    /// Cookie values added to the key.
    pub cookies: Vec<String>,
}

/// Which query parameters are part of a cache key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum QueryKey {
    /// The whole query string as sent.
    #[default]
    All,
    /// No query: `/a?x=1` and `/a` share an entry.
    None,
    /// Only these parameters, in the order sent.
    Include(Vec<String>),
    /// Every parameter except these.
    Exclude(Vec<String>),
}

/// Who may purge, and with which method.
#[derive(Debug, Clone)]
pub struct Purge {
    /// The request method that purges (`PURGE` by default).
    pub method: Method,
    /// Client networks allowed to purge; others get 403.
    pub allow: Vec<IpNet>,
}
