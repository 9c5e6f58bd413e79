//! Circuit breaking: an error-rate breaker (closed, open, half-open with
//! probe requests) and a cap on concurrent requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Buckets the error-rate window is split into.
const BUCKETS: usize = 10;

/// When the error-rate breaker opens and how it closes again.
#[derive(Debug, Clone)]
pub struct BreakerSettings {
    /// Opens when at least this percentage of the window's requests failed…
    pub error_percent: u32,
    /// …and the window holds at least this many requests.
    pub min_requests: u32,
    /// Length of the sliding window.
    pub window: Duration,
    /// How long it stays open before probing.
    pub open_for: Duration,
    /// Probe requests let through when half-open; all must succeed to close.
    pub probes: u32,
}

/// The breaker's state, for the state readers (admin API, logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow; outcomes are counted.
    Closed,
    /// Requests are refused until the open time is over.
    Open,
    /// A few probe requests decide whether to close or open again.
    HalfOpen,
}

/// Whether a request may go to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Yes, in the closed state.
    Pass,
    /// Yes, as one of the half-open state's probes.
    Probe,
    /// No: the breaker is open (or half-open with all probes out).
    Refuse,
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open {
        until: Instant,
    },
    HalfOpen {
        out: u32,
        passed: u32,
        since: Instant,
    },
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    /// `(bucket start, requests, failures)`, a ring over the window.
    buckets: [(Option<Instant>, u32, u32); BUCKETS],
}

/// An error-rate circuit breaker shared by every worker.
#[derive(Debug)]
pub struct CircuitBreaker {
    settings: BreakerSettings,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            inner: Mutex::new(Inner {
                phase: Phase::Closed,
                buckets: [(None, 0, 0); BUCKETS],
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks to send a request at `now`.
    pub fn admit(&self, now: Instant) -> Admission {
        let mut inner = self.lock();
        match inner.phase {
            Phase::Closed => Admission::Pass,
            Phase::Open { until } if now < until => Admission::Refuse,
            Phase::Open { .. } => {
                inner.phase = Phase::HalfOpen {
                    out: 1,
                    passed: 0,
                    since: now,
                };
                Admission::Probe
            }
            Phase::HalfOpen {
                ref mut out,
                passed,
                since,
            } => {
                // Probes whose outcome never came back (cancelled requests)
                // must not hold the breaker half-open for ever.
                if now.duration_since(since) > self.settings.open_for {
                    *out = 0;
                }
                if *out + passed < self.settings.probes {
                    *out += 1;
                    Admission::Probe
                } else {
                    Admission::Refuse
                }
            }
        }
    }

    /// Records how an admitted request went.
    pub fn record(&self, admission: Admission, ok: bool, now: Instant) {
        let mut inner = self.lock();
        match (admission, &mut inner.phase) {
            (Admission::Probe, Phase::HalfOpen { out, passed, .. }) => {
                *out = out.saturating_sub(1);
                if !ok {
                    inner.phase = Phase::Open {
                        until: now + self.settings.open_for,
                    };
                } else {
                    *passed += 1;
                    if *passed >= self.settings.probes {
                        inner.phase = Phase::Closed;
                        inner.buckets = [(None, 0, 0); BUCKETS];
                    }
                }
            }
            (Admission::Pass, Phase::Closed) => {
                let width = self.settings.window / BUCKETS as u32;
                let slot = {
                    let b = &mut inner.buckets;
                    // The current bucket is the newest; start a new one when it is full.
                    let newest = (0..BUCKETS).max_by_key(|&i| b[i].0).unwrap_or(0);
                    match b[newest].0 {
                        Some(start) if now.duration_since(start) < width => newest,
                        _ => {
                            let next = (newest + 1) % BUCKETS;
                            b[next] = (Some(now), 0, 0);
                            next
                        }
                    }
                };
                let bucket = &mut inner.buckets[slot];
                bucket.1 += 1;
                bucket.2 += u32::from(!ok);
                let window = self.settings.window;
                let (total, failed) = inner
                    .buckets
                    .iter()
                    .filter(|(start, ..)| start.is_some_and(|s| now.duration_since(s) < window))
                    .fold((0u64, 0u64), |(t, f), (_, n, e)| {
                        (t + u64::from(*n), f + u64::from(*e))
                    });
                if total >= u64::from(self.settings.min_requests.max(1))
                    && failed * 100 >= total * u64::from(self.settings.error_percent)
                {
                    inner.phase = Phase::Open {
                        until: now + self.settings.open_for,
                    };
                    inner.buckets = [(None, 0, 0); BUCKETS];
                }
            }
            // Outcomes of requests admitted in an earlier phase say nothing now.
            _ => {}
        }
    }

    /// The current state at `now`.
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.lock().phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { until } if now < until => BreakerState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

/// A cap on how many of something run at once (requests to an upstream),
/// shared by every worker.
#[derive(Debug)]
pub struct ConcurrencyLimit {
    max: usize,
    current: AtomicUsize,
}

impl ConcurrencyLimit {
    /// At most `max` at once.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            current: AtomicUsize::new(0),
        }
    }

    /// Takes a slot; false when all are taken.
    pub fn try_acquire(&self) -> bool {
        self.current
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |c| {
                (c < self.max).then_some(c + 1)
            })
            .is_ok()
    }

    /// Gives a slot back.
    pub fn release(&self) {
        let _ = self
            .current
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |c| c.checked_sub(1));
    }

    /// Slots taken now.
    pub fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }

    /// Takes a slot held by the returned permit (which can outlive the
    /// caller, e.g. inside a response body); `None` when all are taken.
    pub fn try_acquire_owned(self: &Arc<Self>) -> Option<ConcurrencyPermit> {
        self.try_acquire()
            .then(|| ConcurrencyPermit(Arc::clone(self)))
    }
}

/// A slot of a [`ConcurrencyLimit`], given back when dropped.
#[derive(Debug)]
#[must_use = "the slot is given back as soon as the permit is dropped"]
pub struct ConcurrencyPermit(Arc<ConcurrencyLimit>);

impl Drop for ConcurrencyPermit {
    fn drop(&mut self) {
        self.0.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerSettings {
            error_percent: 50,
            min_requests: 10,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
            probes: 2,
        })
    }

    #[test]
    fn opens_on_error_rate_then_half_opens_and_closes() {
        let b = breaker();
        let t0 = Instant::now();
        for i in 0..9 {
            assert_eq!(b.admit(t0), Admission::Pass);
            b.record(Admission::Pass, i % 2 == 0, t0);
        }
        // 4 of 9 failed, under the minimum count: still closed.
        assert_eq!(b.state(t0), BreakerState::Closed);
        b.record(Admission::Pass, false, t0);
        assert_eq!(b.state(t0), BreakerState::Open);
        assert_eq!(b.admit(t0 + Duration::from_secs(1)), Admission::Refuse);

        let later = t0 + Duration::from_secs(6);
        assert_eq!(b.admit(later), Admission::Probe);
        assert_eq!(b.admit(later), Admission::Probe);
        assert_eq!(b.admit(later), Admission::Refuse);
        b.record(Admission::Probe, true, later);
        assert_eq!(b.state(later), BreakerState::HalfOpen);
        b.record(Admission::Probe, true, later);
        assert_eq!(b.state(later), BreakerState::Closed);
        assert_eq!(b.admit(later), Admission::Pass);
    }

    #[test]
    fn a_failed_probe_opens_again() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..10 {
            b.record(Admission::Pass, false, t0);
        }
        let later = t0 + Duration::from_secs(6);
        assert_eq!(b.admit(later), Admission::Probe);
        b.record(Admission::Probe, false, later);
        assert_eq!(b.state(later), BreakerState::Open);
        assert_eq!(b.admit(later + Duration::from_secs(1)), Admission::Refuse);
    }

    #[test]
    fn old_failures_leave_the_window() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..6 {
            b.record(Admission::Pass, false, t0);
        }
        let later = t0 + Duration::from_secs(11);
        for _ in 0..6 {
            b.record(Admission::Pass, true, later);
        }
        assert_eq!(b.state(later), BreakerState::Closed);
    }

    #[test]
    fn concurrency_limit_refuses_past_max() {
        let l = ConcurrencyLimit::new(2);
        assert!(l.try_acquire() && l.try_acquire());
        assert!(!l.try_acquire());
        l.release();
        assert!(l.try_acquire());
        assert_eq!(l.current(), 2);

        let l = Arc::new(ConcurrencyLimit::new(1));
        let permit = l.try_acquire_owned();
        assert!(permit.is_some() && l.try_acquire_owned().is_none());
        drop(permit);
        assert_eq!(l.current(), 0);
    }
}
