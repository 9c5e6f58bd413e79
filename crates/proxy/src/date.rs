//! The `Date` header value, formatted once per second per worker.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderValue;

/// A worker's cached HTTP date.
#[derive(Debug)]
pub(crate) struct DateCache {
    cached: Mutex<(u64, HeaderValue)>,
}

impl DateCache {
    /// An empty cache; the first call formats.
    pub(crate) fn new() -> Self {
        Self {
            cached: Mutex::new((u64::MAX, HeaderValue::from_static(""))),
        }
    }

    /// The current time as a `Date` value.
    pub(crate) fn now(&self) -> HeaderValue {
        let now = SystemTime::now();
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if cached.0 != secs {
            *cached = (secs, tollgate_core::http_date_value(now));
        }
        cached.1.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_is_an_imf_fixdate() {
        let v = DateCache::new().now();
        let s = v.to_str().unwrap();
        assert_eq!(s.len(), 29, "{s}");
        assert!(s.ends_with(" GMT"));
    }
}
