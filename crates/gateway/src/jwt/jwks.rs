//! The key set of a `jwks_endpoint`: what is held, when to fetch, and one
//! fetch at a time. No I/O here: the caller fetches (through tollgate's
//! upstream client) and reports the result. The states and their rules
//! are written down in `LIFECYCLE.md` beside this file.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tollgate_config::JwksEndpoint;

use super::keys::{self, Key};

/// Why a fetch is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No key set yet (start-up, or every fetch so far failed).
    Empty,
    /// A token names a `kid` the set does not have (a rotation).
    UnknownKid,
    /// The set is due for its refresh ahead of expiry.
    Refresh,
}

/// What [`JwksCache::begin`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    /// The caller fetches now and reports with [`JwksCache::finish`].
    Fetch,
    /// Another fetch is running: wait for it ([`JwksCache::wait`]).
    InFlight,
    /// Not now (fresh enough, or the last attempt is within the interval).
    NotNow,
}

/// The named states of the cache (`LIFECYCLE.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No key set and no fetch running.
    Empty,
    /// A key set within its time to live.
    Fresh,
    /// A key set past its time to live, still used (the endpoint failed).
    StaleServing,
    /// A fetch is running (the previous set, if any, still used).
    Refetching,
}

#[derive(Debug, Default)]
struct Inner {
    keys: Option<Arc<Vec<Key>>>,
    fetched: Option<Instant>,
    ttl: Duration,
    last_attempt: Option<Instant>,
    in_flight: bool,
    /// Counts the key sets taken in (verifications made with an older set
    /// are not reused).
    generation: u64,
}

/// One issuer's fetched key set, shared by every worker.
#[derive(Debug)]
pub struct JwksCache {
    settings: JwksEndpoint,
    inner: Mutex<Inner>,
    done: Notify,
}

impl JwksCache {
    /// An empty cache for `settings`.
    pub fn new(settings: JwksEndpoint) -> Self {
        Self {
            settings,
            inner: Mutex::new(Inner::default()),
            done: Notify::new(),
        }
    }

    /// Where and how the set is fetched.
    pub fn settings(&self) -> &JwksEndpoint {
        &self.settings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The last good key set, if any.
    pub fn keys(&self) -> Option<Arc<Vec<Key>>> {
        self.lock().keys.clone()
    }

    /// Which key set is held (0 before the first).
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The state at `now`.
    pub fn state(&self, now: Instant) -> State {
        let inner = self.lock();
        match (&inner.keys, inner.fetched, inner.in_flight) {
            (_, _, true) => State::Refetching,
            (None, _, false) => State::Empty,
            (Some(_), Some(at), false) if now < at + inner.ttl => State::Fresh,
            _ => State::StaleServing,
        }
    }

    /// Decides whether a fetch for `reason` starts now; `Fetch` marks it
    /// running (single flight) until [`JwksCache::finish`].
    pub fn begin(&self, reason: Reason, now: Instant) -> Begin {
        let mut inner = self.lock();
        if inner.in_flight {
            return Begin::InFlight;
        }
        // Failures and unknown kids: at most one attempt per interval.
        let interval_passed = inner
            .last_attempt
            .is_none_or(|at| now >= at + self.settings.refetch_interval);
        let wanted = match reason {
            Reason::Empty => inner.keys.is_none(),
            Reason::UnknownKid => true,
            // Ahead of expiry: at three quarters of the time to live.
            Reason::Refresh => inner
                .fetched
                .is_some_and(|at| now >= at + inner.ttl * 3 / 4),
        };
        if !wanted || !interval_passed {
            return Begin::NotNow;
        }
        inner.in_flight = true;
        inner.last_attempt = Some(now);
        Begin::Fetch
    }

    /// Whether a refresh ahead of expiry is due at `now` (cheap check
    /// before [`JwksCache::begin`]).
    pub fn refresh_due(&self, now: Instant) -> bool {
        let inner = self.lock();
        !inner.in_flight
            && inner
                .fetched
                .is_some_and(|at| now >= at + inner.ttl * 3 / 4)
    }

    /// Reports a fetch: the body and its `Cache-Control` max-age, or why
    /// it failed. A usable set replaces the old one; a failure or an
    /// unusable document keeps the last good set. Wakes every waiter.
    pub fn finish(
        &self,
        result: Result<(String, Option<Duration>), String>,
        now: Instant,
    ) -> Result<usize, String> {
        let outcome = result.and_then(|(body, max_age)| {
            let set = keys::jwks(&body)?;
            if set.is_empty() {
                return Err("the key set holds no usable public key".into());
            }
            Ok((set, max_age))
        });
        let mut inner = self.lock();
        inner.in_flight = false;
        let reported = match outcome {
            Ok((set, max_age)) => {
                let n = set.len();
                let ttl = max_age.unwrap_or(self.settings.max_ttl);
                inner.ttl = ttl.clamp(self.settings.min_ttl, self.settings.max_ttl);
                inner.keys = Some(Arc::new(set));
                inner.fetched = Some(now);
                inner.generation += 1;
                Ok(n)
            }
            Err(e) => Err(e),
        };
        drop(inner);
        self.done.notify_waiters();
        reported
    }

    /// Waits until no fetch is running (or `limit` passes).
    pub async fn wait(&self, limit: Duration) {
        let wait = async {
            loop {
                let notified = self.done.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if !self.lock().in_flight {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }
}

/// `max-age` of a `Cache-Control` value (`no-store`/`no-cache` count as 0,
/// which the minimum time to live then raises).
pub fn max_age(cache_control: &str) -> Option<Duration> {
    let mut age = None;
    for directive in cache_control.split(',').map(str::trim) {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "no-store" | "no-cache" => return Some(Duration::ZERO),
            "max-age" => {
                age = value
                    .trim()
                    .trim_matches('"')
                    .parse::<u64>()
                    .ok()
                    .map(Duration::from_secs);
            }
            _ => {}
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> JwksEndpoint {
        JwksEndpoint {
            upstream: 0,
            path: "/jwks".into(),
            host: None,
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(3600),
            refetch_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
        }
    }

    const DOC: &str = r#"{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1",
        "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;

    #[test]
    fn lifecycle_empty_refetching_fresh_stale_serving() {
        let c = JwksCache::new(settings());
        let t0 = Instant::now();
        assert_eq!(c.state(t0), State::Empty);
        assert_eq!(c.begin(Reason::Empty, t0), Begin::Fetch);
        assert_eq!(c.state(t0), State::Refetching);
        // Single flight: a second caller waits instead of fetching.
        assert_eq!(c.begin(Reason::UnknownKid, t0), Begin::InFlight);
        assert!(c.finish(Err("connection refused".into()), t0).is_err());
        assert_eq!(c.state(t0), State::Empty);
        // A failed start is retried only after the interval.
        assert_eq!(
            c.begin(Reason::Empty, t0 + Duration::from_secs(10)),
            Begin::NotNow
        );
        let t1 = t0 + Duration::from_secs(30);
        assert_eq!(c.begin(Reason::Empty, t1), Begin::Fetch);
        // max-age 10 s is raised to the 60 s minimum.
        assert_eq!(
            c.finish(Ok((DOC.into(), Some(Duration::from_secs(10)))), t1),
            Ok(1)
        );
        assert_eq!(c.state(t1), State::Fresh);
        assert_eq!(c.keys().unwrap()[0].kid.as_deref(), Some("k1"));
        assert_eq!(
            c.begin(Reason::Refresh, t1 + Duration::from_secs(44)),
            Begin::NotNow
        );
        assert!(!c.refresh_due(t1 + Duration::from_secs(44)));
        // Unknown kids: one fetch per interval, however many arrive.
        assert_eq!(
            c.begin(Reason::UnknownKid, t1 + Duration::from_secs(5)),
            Begin::NotNow
        );
        let t2 = t1 + Duration::from_secs(45);
        assert!(c.refresh_due(t2));
        assert_eq!(c.begin(Reason::Refresh, t2), Begin::Fetch);
        assert!(c.finish(Ok(("{\"keys\": []}".into(), None)), t2).is_err());
        // The last good set is kept while the endpoint fails.
        assert_eq!(c.keys().unwrap().len(), 1);
        assert_eq!(c.state(t1 + Duration::from_secs(61)), State::StaleServing);
        let t3 = t2 + Duration::from_secs(30);
        assert_eq!(c.begin(Reason::Refresh, t3), Begin::Fetch);
        // Without max-age: the maximum.
        assert_eq!(c.finish(Ok((DOC.into(), None)), t3), Ok(1));
        assert_eq!(c.state(t3 + Duration::from_secs(3599)), State::Fresh);
    }

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            max_age("max-age=\"60\", must-revalidate"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(max_age("no-cache"), Some(Duration::ZERO));
        assert_eq!(max_age("private"), None);
        assert_eq!(max_age("max-age=x"), None);
    }
}
