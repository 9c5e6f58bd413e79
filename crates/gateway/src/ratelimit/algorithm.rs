//! The two admission rules, as pure functions of a key's state and the
//! time (nanoseconds on the table's clock), so they are tested without
//! sleeping. Neither changes the state of a refused request: a refusal
//! costs the client nothing, and several limits can be checked before any
//! is charged.
//!
//! - **GCRA**: one "theoretical arrival time" per key. With `T = period /
//!   count` (rounded up) and a capacity `C = count + burst`, a request is
//!   admitted when `max(tat, now) + T - C·T <= now`. From idle, `C`
//!   requests pass at once, then one every `T`.
//! - **Sliding window**: the counts of the current and previous fixed
//!   windows; the previous one is weighted by the part of it still inside
//!   the sliding window (it is assumed evenly spread). A request is
//!   admitted when `prev·(P − elapsed)/P + cur + 1 <= C`.

/// One limit as the limiter sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests per period.
    pub count: u64,
    /// The period in nanoseconds (at least 1).
    pub period: u64,
    /// Requests admitted at once above `count`.
    pub burst: u64,
}

impl Limit {
    /// The most requests admitted at once from idle.
    pub fn capacity(&self) -> u64 {
        self.count.saturating_add(self.burst)
    }
}

/// A key's state under one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// GCRA: the theoretical arrival time.
    Gcra(u64),
    /// Sliding window: start of the current fixed window and the counts
    /// of the previous and current ones.
    Window {
        /// Start of the current window.
        start: u64,
        /// Requests admitted in the previous window.
        prev: u64,
        /// Requests admitted in the current window.
        cur: u64,
    },
}

/// What one limit says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// The state to store if the request is admitted by every limit.
    pub next: Cell,
    /// `None` when admitted, else how long until it would be (ns).
    pub wait: Option<u64>,
    /// Requests still admitted after this one (0 when refused).
    pub remaining: u64,
    /// Nanoseconds until the limit is fully available again (GCRA) or
    /// the current window ends (sliding window); the wait when refused.
    pub reset: u64,
    /// When the key's state is back to that of an unseen key, so the
    /// entry may be dropped.
    pub idle_at: u64,
}

/// GCRA's check of a request at `now` against a key's `tat`.
pub fn gcra(limit: Limit, tat: u64, now: u64) -> Check {
    let t = limit.period.div_ceil(limit.count.max(1)).max(1);
    let span = t.saturating_mul(limit.capacity());
    let base = tat.max(now);
    let new_tat = base.saturating_add(t);
    let allow_at = new_tat.saturating_sub(span);
    if now < allow_at {
        let wait = allow_at - now;
        return Check {
            next: Cell::Gcra(tat),
            wait: Some(wait),
            remaining: 0,
            reset: wait,
            idle_at: tat,
        };
    }
    Check {
        next: Cell::Gcra(new_tat),
        wait: None,
        remaining: (now + span - new_tat) / t,
        reset: new_tat - now,
        idle_at: new_tat,
    }
}

/// The sliding window's check of a request at `now`.
pub fn window(limit: Limit, cell: Cell, now: u64) -> Check {
    let p = limit.period.max(1);
    let cap = limit.capacity();
    let (start, prev, cur) = roll(cell, now, p);
    let elapsed = now - start;
    // In units of 1/P requests, to stay in integers.
    let used = u128::from(prev) * u128::from(p - elapsed) + u128::from(cur) * u128::from(p);
    let room = u128::from(cap) * u128::from(p);
    let idle_at = start.saturating_add(2 * p);
    if used + u128::from(p) > room {
        let wait = window_wait(limit, (start, prev, cur), now);
        return Check {
            next: Cell::Window { start, prev, cur },
            wait: Some(wait),
            remaining: 0,
            reset: wait,
            idle_at,
        };
    }
    let left = (room - used - u128::from(p)) / u128::from(p);
    Check {
        next: Cell::Window {
            start,
            prev,
            cur: cur + 1,
        },
        wait: None,
        remaining: u64::try_from(left).unwrap_or(u64::MAX),
        reset: start + p - now,
        idle_at,
    }
}

/// Moves a window state forward to the fixed window holding `now`.
fn roll(cell: Cell, now: u64, p: u64) -> (u64, u64, u64) {
    let current = now - now % p;
    match cell {
        Cell::Window { start, prev, cur } if start == current => (start, prev, cur),
        Cell::Window { start, cur, .. } if start.saturating_add(p) == current => (current, cur, 0),
        _ => (current, 0, 0),
    }
}

/// How long a refused request waits for room, rounded up (never shorter
/// than the true wait).
fn window_wait(limit: Limit, (start, prev, cur): (u64, u64, u64), now: u64) -> u64 {
    let p = u128::from(limit.period.max(1));
    let cap = u128::from(limit.capacity());
    let (prev, cur) = (u128::from(prev), u128::from(cur));
    if cur + 1 > cap {
        // Room comes in the next window, once this window's count
        // (then the previous one) has faded enough: cur·(P − x) ≤ (C − 1)·P.
        let x = p - ((cap - 1) * p) / cur.max(1);
        let to_next = u128::from(start) + p - u128::from(now);
        return u64::try_from(to_next + x).unwrap_or(u64::MAX);
    }
    // prev·(P − e) ≤ (C − 1 − cur)·P, with e the elapsed part at admission.
    let allowed = (cap - 1 - cur) * p;
    // e ≥ P − allowed/prev; P − ⌊allowed/prev⌋ is its ceiling.
    let e = p - allowed / prev.max(1);
    let elapsed = u128::from(now - start);
    u64::try_from(e.saturating_sub(elapsed).max(1)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn run(
        limit: Limit,
        f: fn(Limit, Cell, u64) -> Check,
        cell: Cell,
        times: &[u64],
    ) -> (Cell, Vec<Check>) {
        let mut cell = cell;
        let mut out = Vec::new();
        for &now in times {
            let c = f(limit, cell, now);
            if c.wait.is_none() {
                cell = c.next;
            }
            out.push(c);
        }
        (cell, out)
    }

    fn gcra_cell(limit: Limit, cell: Cell, now: u64) -> Check {
        let Cell::Gcra(tat) = cell else {
            unreachable!()
        };
        gcra(limit, tat, now)
    }

    #[test]
    fn gcra_admits_capacity_at_once_then_the_steady_rate() {
        // 10/s with a burst of 5: 15 at once, then one every 100 ms.
        let limit = Limit {
            count: 10,
            period: S,
            burst: 5,
        };
        let at_once = vec![S; 20];
        let (cell, checks) = run(limit, gcra_cell, Cell::Gcra(0), &at_once);
        let admitted = checks.iter().filter(|c| c.wait.is_none()).count();
        assert_eq!(admitted, 15);
        assert_eq!(checks[0].remaining, 14);
        assert_eq!(checks[14].remaining, 0);
        // The first refused waits exactly one emission interval.
        assert_eq!(checks[15].wait, Some(S / 10));
        // 99 ms later: still refused; 100 ms later: one more.
        assert!(gcra_cell(limit, cell, S + S / 10 - 1_000_000)
            .wait
            .is_some());
        let next = gcra_cell(limit, cell, S + S / 10);
        assert_eq!((next.wait, next.remaining), (None, 0));
        // After the full reset the whole capacity is back.
        let reset = checks[14].reset;
        assert_eq!(gcra_cell(limit, cell, S + reset).remaining, 14);
    }

    #[test]
    fn sliding_window_counts_the_previous_window_by_its_weight() {
        let limit = Limit {
            count: 10,
            period: 10 * S,
            burst: 0,
        };
        let start = Cell::Window {
            start: 0,
            prev: 0,
            cur: 0,
        };
        let (cell, checks) = run(limit, window, start, &[S; 12]);
        assert_eq!(checks.iter().filter(|c| c.wait.is_none()).count(), 10);
        assert_eq!(checks[9].remaining, 0);
        // Refused in window 1 with cur = 10: room once 1/10 of the next
        // window has passed (10·(P − x) ≤ 9·P → x = P/10): 9 s + 1 s.
        assert_eq!(checks[10].wait, Some(10 * S));
        // At 12 s (2 s into the next window) 10·0.8 = 8 are still counted.
        let c = window(limit, cell, 12 * S);
        assert_eq!((c.wait, c.remaining), (None, 1));
        // Far later, the state is as new.
        let c = window(limit, cell, 100 * S);
        assert_eq!(c.remaining, 9);
        assert!(c.idle_at <= 100 * S + 20 * S);
    }

    #[test]
    fn refused_waits_are_never_shorter_than_the_truth() {
        for (count, burst) in [(3, 0), (7, 2), (100, 10)] {
            let limit = Limit {
                count,
                period: 10 * S,
                burst,
            };
            let mut cell = Cell::Window {
                start: 0,
                prev: 0,
                cur: 0,
            };
            let mut now = 3 * S;
            for _ in 0..(count + burst) * 3 {
                let c = window(limit, cell, now);
                match c.wait {
                    None => cell = c.next,
                    Some(w) => {
                        // Just before the wait ends it is still refused;
                        // at the end it is admitted.
                        assert!(window(limit, cell, now + w - 1).wait.is_some());
                        assert!(window(limit, cell, now + w).wait.is_none());
                        now += w;
                    }
                }
                now += S / 7;
            }
        }
    }
}
