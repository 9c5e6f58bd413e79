//! The `Cache-Status` field (RFC 9211) tollgate adds to answers of routes
//! with a cache: `tollgate; hit`, `tollgate; fwd=uri-miss; stored`, ...

use std::fmt::Write;

use http::HeaderValue;

/// The name tollgate uses in Cache-Status.
pub const CACHE_NAME: &str = "tollgate";

/// Why the request went to the origin (RFC 9211 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fwd {
    /// Nothing stored for the URL.
    UriMiss,
    /// Stored for the URL, not for this request's Vary fields.
    VaryMiss,
    /// Stored but stale (or to be validated): validated with the origin.
    Stale,
    /// The request asked for it (`no-cache`, `max-age`, `min-fresh`).
    Request,
    /// The method is not served from the cache.
    Method,
    /// The request was not looked up (e.g. a range request that missed).
    Bypass,
}

impl Fwd {
    fn token(self) -> &'static str {
        match self {
            Fwd::UriMiss => "uri-miss",
            Fwd::VaryMiss => "vary-miss",
            Fwd::Stale => "stale",
            Fwd::Request => "request",
            Fwd::Method => "method",
            Fwd::Bypass => "bypass",
        }
    }
}

/// One Cache-Status member for tollgate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStatus {
    /// Served from the cache without going to the origin.
    pub hit: bool,
    /// Why it went to the origin.
    pub fwd: Option<Fwd>,
    /// The status the origin answered with.
    pub fwd_status: Option<u16>,
    /// Remaining freshness in seconds (negative: stale).
    pub ttl: Option<i64>,
    /// The answer was stored.
    pub stored: bool,
    /// The request waited for another one fetching the same key.
    pub collapsed: bool,
    /// A short reason token.
    pub detail: Option<&'static str>,
}

impl CacheStatus {
    /// A fresh hit.
    pub const HIT: CacheStatus = CacheStatus {
        hit: true,
        fwd: None,
        fwd_status: None,
        ttl: None,
        stored: false,
        collapsed: false,
        detail: None,
    };

    /// A forwarded request.
    pub fn forward(fwd: Fwd) -> Self {
        Self {
            fwd: Some(fwd),
            ..Self::default()
        }
    }

    /// The field value.
    pub fn value(&self) -> HeaderValue {
        if *self == Self::HIT {
            // The common case costs no allocation.
            return HeaderValue::from_static("tollgate; hit");
        }
        let mut s = String::with_capacity(64);
        s.push_str(CACHE_NAME);
        if self.hit {
            s.push_str("; hit");
        }
        if let Some(f) = self.fwd {
            let _ = write!(s, "; fwd={}", f.token());
        }
        if let Some(code) = self.fwd_status {
            let _ = write!(s, "; fwd-status={code}");
        }
        if let Some(ttl) = self.ttl {
            let _ = write!(s, "; ttl={ttl}");
        }
        if self.stored {
            s.push_str("; stored");
        }
        if self.collapsed {
            s.push_str("; collapsed");
        }
        if let Some(d) = self.detail {
            let _ = write!(s, "; detail={d}");
        }
        HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static(CACHE_NAME))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(CacheStatus::HIT.value(), "tollgate; hit");
        let miss = CacheStatus {
            fwd_status: Some(200),
            stored: true,
            ..CacheStatus::forward(Fwd::UriMiss)
        };
        assert_eq!(
            miss.value(),
            "tollgate; fwd=uri-miss; fwd-status=200; stored"
        );
        let swr = CacheStatus {
            ttl: Some(-3),
            detail: Some("stale-while-revalidate"),
            ..CacheStatus::HIT
        };
        assert_eq!(
            swr.value(),
            "tollgate; hit; ttl=-3; detail=stale-while-revalidate"
        );
        let collapsed = CacheStatus {
            collapsed: true,
            ..CacheStatus::HIT
        };
        assert_eq!(collapsed.value(), "tollgate; hit; collapsed");
    }
}
