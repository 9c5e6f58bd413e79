//! Retry budget and backoff: how often and how soon a failed request may
//! be tried again, so that a failing upstream is not hit by a retry storm.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Tokens are counted in thousandths so a deposit of 20 % is exact.
const MILLI: i64 = 1000;

/// Retries may not exceed a share of the requests sent: every first
/// attempt deposits `ratio` of a token, every retry withdraws one. A small
/// allowance per second (`min_per_second`) lets quiet upstreams retry too.
/// Shared by every worker; lock-free.
#[derive(Debug)]
pub struct RetryBudget {
    /// Thousandths of a token deposited per first attempt.
    deposit: i64,
    /// Most thousandths the bucket holds (so a long quiet spell does not
    /// save up a storm).
    cap: i64,
    tokens: AtomicI64,
    min_per_second: u64,
    /// `second << 32 | retries taken from the allowance in that second`.
    allowance: AtomicU64,
}

impl RetryBudget {
    /// A budget of `percent` of requests plus `min_per_second` retries.
    pub fn new(percent: u32, min_per_second: u32) -> Self {
        let deposit = i64::from(percent) * MILLI / 100;
        Self {
            deposit,
            // Ten seconds' worth at 100 requests per second, at least a few retries.
            cap: (deposit * 1000).max(10 * MILLI),
            tokens: AtomicI64::new(0),
            min_per_second: u64::from(min_per_second),
            allowance: AtomicU64::new(0),
        }
    }

    /// Records a first attempt (earns budget).
    pub fn deposit(&self) {
        let cap = self.cap;
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                (t < cap).then(|| (t + self.deposit).min(cap))
            });
    }

    /// Takes one retry from the budget; false when it is spent.
    /// `now_secs` is any monotonic whole-second clock.
    pub fn try_withdraw(&self, now_secs: u64) -> bool {
        let from_tokens = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                (t >= MILLI).then_some(t - MILLI)
            })
            .is_ok();
        if from_tokens {
            return true;
        }
        if self.min_per_second == 0 {
            return false;
        }
        let min = self.min_per_second;
        self.allowance
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                let (sec, used) = (v >> 32, v & 0xffff_ffff);
                if sec != now_secs & 0xffff_ffff {
                    Some((now_secs << 32) | 1)
                } else if used < min {
                    Some(v + 1)
                } else {
                    None
                }
            })
            .is_ok()
    }
}

/// Exponential backoff with full jitter: before retry `n` (1-based) wait a
/// random time in `[0, min(max, base * 2^(n-1))]`; `random` is in `[0, 1)`.
pub fn backoff(base: Duration, max: Duration, retry: u32, random: f64) -> Duration {
    let exp = base.saturating_mul(1u32 << retry.saturating_sub(1).min(20));
    exp.min(max).mul_f64(random.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_a_share_of_requests() {
        let budget = RetryBudget::new(20, 0);
        let mut granted = 0;
        for _ in 0..1000 {
            budget.deposit();
            // Every request fails and wants three retries.
            for _ in 0..3 {
                if budget.try_withdraw(0) {
                    granted += 1;
                }
            }
        }
        assert!((199..=200).contains(&granted), "{granted}");
    }

    #[test]
    fn the_allowance_is_per_second() {
        let budget = RetryBudget::new(0, 3);
        let first: usize = (0..10).filter(|_| budget.try_withdraw(7)).count();
        let next: usize = (0..10).filter(|_| budget.try_withdraw(8)).count();
        assert_eq!((first, next), (3, 3));
    }

    #[test]
    fn the_bucket_is_capped() {
        let budget = RetryBudget::new(100, 0);
        for _ in 0..100_000 {
            budget.deposit();
        }
        let granted = (0..200_000).filter(|_| budget.try_withdraw(0)).count();
        assert_eq!(granted, 1000);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(25);
        let max = Duration::from_millis(250);
        assert_eq!(backoff(base, max, 1, 0.999_999).as_millis(), 24);
        assert_eq!(backoff(base, max, 3, 0.999_999).as_millis(), 99);
        assert_eq!(backoff(base, max, 30, 0.999_999).as_millis(), 249);
        assert_eq!(backoff(base, max, 2, 0.0), Duration::ZERO);
    }
}
