//! Requests in flight per target, reported by the caller.

use std::sync::atomic::{AtomicU64, Ordering};

/// Per-target counts of requests started and not yet finished.
///
/// Out-of-range indices are ignored and counts never go below zero, so a
/// stray `release` cannot corrupt the picture.
#[derive(Debug)]
pub struct InFlight {
    counts: Vec<AtomicU64>,
}

impl InFlight {
    /// Zero counts for `len` targets.
    pub fn new(len: usize) -> Self {
        Self {
            counts: (0..len).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// A request to target `i` started.
    pub fn acquire(&self, i: usize) {
        if let Some(c) = self.counts.get(i) {
            // Saturating: wrapping to 0 would make the busiest target look idle.
            let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(1))
            });
        }
    }

    /// A request to target `i` finished (no effect at zero).
    pub fn release(&self, i: usize) {
        if let Some(c) = self.counts.get(i) {
            let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    /// Starts a request to target `i`, finished when the guard drops.
    pub fn guard(&self, i: usize) -> InFlightGuard<'_> {
        self.acquire(i);
        InFlightGuard {
            in_flight: self,
            index: i,
        }
    }

    /// Requests now in flight to target `i` (0 out of range).
    pub fn get(&self, i: usize) -> u64 {
        self.counts.get(i).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// How many targets are counted.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether no targets are counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// One request in flight; releases its target when dropped.
#[derive(Debug)]
#[must_use = "the request counts as finished as soon as the guard is dropped"]
pub struct InFlightGuard<'a> {
    in_flight: &'a InFlight,
    index: usize,
}

impl InFlightGuard<'_> {
    /// The target this request went to.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.in_flight.release(self.index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquire_release_and_floor() {
        let f = InFlight::new(2);
        f.acquire(0);
        f.acquire(0);
        f.release(0);
        assert_eq!(f.get(0), 1);
        f.release(1); // never acquired: stays 0
        assert_eq!(f.get(1), 0);
        f.acquire(9); // out of range: ignored
        f.release(9);
        assert_eq!(f.get(9), 0);
    }

    #[test]
    fn guard_releases_on_drop() {
        let f = InFlight::new(3);
        {
            let g = f.guard(2);
            assert_eq!(g.index(), 2);
            assert_eq!(f.get(2), 1);
        }
        assert_eq!(f.get(2), 0);
    }
}
