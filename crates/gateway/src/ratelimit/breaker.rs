//! The breaker in front of a shared store (Redis): decides, per call,
//! whether to send it to the store or apply `on_store_error` at once, so
//! an outage costs no time per request. States and moves are written
//! down in `LIFECYCLE.md` beside this file. Time is passed in
//! (nanoseconds on the caller's clock) so tests need no sleeps; each
//! state change is returned once, for one log line. The Redis store
//! (`redis/client.rs`) asks it before each call.

use std::sync::{Mutex, PoisonError};

/// Where the breaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Calls go to the store.
    Healthy,
    /// Calls go to the store; `errors` failed in a row.
    Failing {
        /// Consecutive failures so far.
        errors: u32,
    },
    /// Calls do not go to the store until `until`.
    Open {
        /// When one probe may go.
        until: u64,
        /// How long this opening lasts (doubles on a failed probe).
        wait: u64,
    },
    /// One call (the probe) is at the store; the others do not go.
    Probing {
        /// The opening's length, for the next one if the probe fails.
        wait: u64,
    },
}

/// What a caller does with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Send it and report the outcome.
    Send,
    /// Send it as the probe and report the outcome.
    Probe,
    /// Do not send it: apply `on_store_error` now.
    Fallback,
}

/// A state change, for one log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
}

/// Settings of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Consecutive failures that open it.
    pub failures: u32,
    /// First opening (ns).
    pub open_for: u64,
    /// Longest opening (ns) after failed probes.
    pub max_open: u64,
}

/// A breaker shared by every worker.
#[derive(Debug)]
pub struct Breaker {
    settings: Settings,
    state: Mutex<State>,
}

impl Breaker {
    /// A healthy breaker.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            state: Mutex::new(State::Healthy),
        }
    }

    /// The state now.
    pub fn state(&self) -> State {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a call at `now` goes to the store; the change, if any.
    pub fn admit(&self, now: u64) -> (Permission, Option<Change>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match *state {
            State::Healthy | State::Failing { .. } => (Permission::Send, None),
            State::Open { until, wait } if now >= until => {
                let change = set(&mut state, State::Probing { wait });
                (Permission::Probe, change)
            }
            State::Open { .. } | State::Probing { .. } => (Permission::Fallback, None),
        }
    }

    /// Records a call's outcome (`ok`: answered within the timeout).
    pub fn record(&self, ok: bool, now: u64) -> Option<Change> {
        let s = self.settings;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let next = match (*state, ok) {
            (_, true) => State::Healthy,
            (State::Healthy, false) => opened_or(1, s, now),
            (State::Failing { errors }, false) => opened_or(errors + 1, s, now),
            (State::Probing { wait }, false) => {
                let wait = wait.saturating_mul(2).min(s.max_open);
                State::Open {
                    until: now.saturating_add(wait),
                    wait,
                }
            }
            // A late answer of a call sent before the opening changes nothing.
            (open @ State::Open { .. }, false) => open,
        };
        set(&mut state, next)
    }
}

/// `Failing` with `errors`, or `Open` once there are enough.
fn opened_or(errors: u32, s: Settings, now: u64) -> State {
    if errors >= s.failures {
        State::Open {
            until: now.saturating_add(s.open_for),
            wait: s.open_for,
        }
    } else {
        State::Failing { errors }
    }
}

/// Moves to `next`; a change of kind (not of a count) is reported.
fn set(state: &mut State, next: State) -> Option<Change> {
    let from = *state;
    *state = next;
    let same_kind = std::mem::discriminant(&from) == std::mem::discriminant(&next);
    (!same_kind).then_some(Change { from, to: next })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn breaker() -> Breaker {
        Breaker::new(Settings {
            failures: 3,
            open_for: 100 * MS,
            max_open: 400 * MS,
        })
    }

    #[test]
    fn opens_after_consecutive_failures_and_probes_back() {
        let b = breaker();
        assert_eq!(b.admit(0).0, Permission::Send);
        let c = b.record(false, 0).unwrap();
        assert_eq!(
            (c.from, c.to),
            (State::Healthy, State::Failing { errors: 1 })
        );
        // The count grows without a log line; a success heals.
        assert_eq!(b.record(false, 1), None);
        assert_eq!(b.record(true, 2).unwrap().to, State::Healthy);
        for t in 0..2 {
            b.record(false, t);
        }
        let opened = b.record(false, 10 * MS).unwrap();
        assert!(matches!(opened.to, State::Open { .. }));
        // Open: nothing goes to the store, without a line per call.
        assert_eq!(b.admit(50 * MS), (Permission::Fallback, None));
        // After the opening, one probe; the others still fall back.
        let (p, change) = b.admit(110 * MS);
        assert_eq!(p, Permission::Probe);
        assert!(matches!(change.unwrap().to, State::Probing { .. }));
        assert_eq!(b.admit(111 * MS).0, Permission::Fallback);
        assert_eq!(b.record(true, 112 * MS).unwrap().to, State::Healthy);
        assert_eq!(b.admit(113 * MS).0, Permission::Send);
    }

    #[test]
    fn a_failed_probe_reopens_for_longer_up_to_the_cap() {
        let b = breaker();
        for t in 0..3 {
            b.record(false, t);
        }
        let mut now = 0;
        for expected in [200 * MS, 400 * MS, 400 * MS] {
            let State::Open { until, .. } = b.state() else {
                panic!()
            };
            now = until;
            assert_eq!(b.admit(now).0, Permission::Probe);
            b.record(false, now);
            let State::Open { until, wait } = b.state() else {
                panic!()
            };
            assert_eq!((wait, until - now), (expected, expected));
        }
        // A late failure while open changes nothing.
        let before = b.state();
        assert_eq!(b.record(false, now + 1), None);
        assert_eq!(b.state(), before);
    }
}
