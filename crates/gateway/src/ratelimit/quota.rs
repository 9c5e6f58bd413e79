//! `quota`: requests per calendar day or month, in a fixed offset from
//! UTC. A key's state is the window it counted in and its count; a
//! request in a later window starts the count afresh. Time is Unix
//! seconds passed in, so tests cross day and month boundaries without
//! waiting. With `store: redis` the count is kept at the shared store,
//! whose clock picks the window among this node's previous, current and
//! next ones (so node clocks do not matter within a window).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tollgate_config::{Calendar, LimitStore, OnStoreError, Quota};

use super::redis::{key_name, reply, RedisStore};
use super::table::Table;
use super::{Shared, Verdict};

const DAY: i64 = 86_400;

/// A key's count in one calendar window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// The window's start, in Unix seconds.
    start: i64,
    /// Requests admitted in it.
    count: u64,
}

/// A `quota` policy at run time: its settings and its table.
#[derive(Debug)]
pub struct QuotaLimiter {
    policy: Arc<Quota>,
    table: Table<Counted>,
    shared: Option<Shared>,
}

impl QuotaLimiter {
    /// An empty limiter for `policy`, local only.
    pub fn new(policy: Arc<Quota>) -> Self {
        Self::with_store(policy, None)
    }

    /// An empty limiter for `policy`, counting at `store` when the
    /// policy says `store: redis`.
    pub fn with_store(policy: Arc<Quota>, store: Option<Arc<RedisStore>>) -> Self {
        let shared = Shared::for_store(&policy.store, store);
        Self {
            table: Table::new(policy.max_keys),
            policy,
            shared,
        }
    }

    /// The shared store it counts at, if any.
    pub fn store(&self) -> Option<&Arc<RedisStore>> {
        self.shared.as_ref().map(|s| &s.store)
    }

    /// Decides a request counted under `key`: at the shared store when
    /// the policy has one (else by `on_store_error`), else in this process.
    pub async fn decide(&self, key: &str) -> Verdict {
        let (Some(shared), LimitStore::Redis(how)) = (&self.shared, self.policy.store) else {
            return self.check(key);
        };
        let now = unix_now();
        let (per, off) = (self.policy.per, self.policy.utc_offset);
        let cur = window(per, off, now);
        let windows = [window(per, off, cur.0 - 1), cur, window(per, off, cur.1)];
        let keys: Vec<String> = windows
            .iter()
            .map(|(start, _)| key_name("q", &self.policy.name, key, &start.to_string()))
            .collect();
        let mut args: Vec<i64> = windows.iter().flat_map(|(s, e)| [*s, *e]).collect();
        args.push(i64::try_from(self.policy.count).unwrap_or(i64::MAX));
        let reply = shared.store.eval(&shared.scripts.quota, &keys, &args).await;
        match reply
            .ok()
            .and_then(|r| reply::decode_quota(&r, self.policy.count).ok())
        {
            Some(v) => v,
            None => match how.on_error {
                OnStoreError::Local => {
                    let share = (self.policy.count / how.nodes.max(1)).max(1);
                    self.check_limit(key, now, share)
                }
                other => {
                    let allowed = other == OnStoreError::Allow;
                    Verdict {
                        allowed,
                        quota: self.policy.count,
                        window: u64::try_from(cur.1 - cur.0).unwrap_or(1),
                        remaining: 0,
                        reset: Duration::from_secs(if allowed { 0 } else { 1 }),
                    }
                }
            },
        }
    }

    /// The policy it enforces.
    pub fn policy(&self) -> &Arc<Quota> {
        &self.policy
    }

    /// Decides a request counted under `key`, now (the system clock).
    pub fn check(&self, key: &str) -> Verdict {
        self.check_at(key, unix_now())
    }

    /// [`QuotaLimiter::check`] at `now` Unix seconds.
    pub fn check_at(&self, key: &str, now: i64) -> Verdict {
        self.check_limit(key, now, self.policy.count)
    }

    /// Decides against `limit` per window in this process's table.
    fn check_limit(&self, key: &str, now: i64, limit: u64) -> Verdict {
        let (start, end) = window(self.policy.per, self.policy.utc_offset, now);
        let fresh = || vec![Counted { start, count: 0 }];
        let clock = u64::try_from(now).unwrap_or(0);
        self.table.decide(key, clock, 1, fresh, |cells| {
            let used = match cells.first() {
                Some(c) if c.start == start => c.count,
                _ => 0,
            };
            let allowed = used < limit;
            let verdict = Verdict {
                allowed,
                quota: limit,
                window: u64::try_from(end - start).unwrap_or(1),
                remaining: limit.saturating_sub(used + 1),
                reset: Duration::from_secs(u64::try_from(end - now).unwrap_or(0)),
            };
            if !allowed {
                return (verdict, None);
            }
            if let Some(c) = cells.first_mut() {
                *c = Counted {
                    start,
                    count: used + 1,
                };
            }
            (verdict, Some(u64::try_from(end).unwrap_or(u64::MAX)))
        })
    }
}

/// Unix seconds now (the system clock).
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The calendar window holding `now`: its start and end in Unix seconds.
pub fn window(per: Calendar, offset: i32, now: i64) -> (i64, i64) {
    let offset = i64::from(offset);
    let local = now + offset;
    let day = local.div_euclid(DAY);
    let (start_day, end_day) = match per {
        Calendar::Day => (day, day + 1),
        Calendar::Month => {
            let (y, m, _) = civil(day);
            let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (days(y, m, 1), days(next.0, next.1, 1))
        }
    };
    (start_day * DAY - offset, end_day * DAY - offset)
}

/// The (year, month, day) of a day number (days since 1970-01-01), in
/// the proleptic Gregorian calendar, by 400-year eras of 146 097 days.
fn civil(n: i64) -> (i64, u32, u32) {
    let z = n + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153; // March = 0
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The day number of (year, month, day); the inverse of [`civil`].
fn days(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_config::{LimitKey, LimitStore, RateHeaders};

    fn limiter(count: u64, per: Calendar, utc_offset: i32) -> QuotaLimiter {
        QuotaLimiter::new(Arc::new(Quota {
            name: "q".into(),
            count,
            per,
            utc_offset,
            key: LimitKey::ClientIp,
            store: LimitStore::Local,
            headers: RateHeaders::Ietf,
            max_keys: 100,
        }))
    }

    /// 2026-01-31T23:59:59Z.
    const JAN_END: i64 = 1_769_903_999;

    #[test]
    fn calendar_arithmetic_round_trips() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(days(2000, 2, 29), 11_016);
        assert_eq!(civil(11_016), (2000, 2, 29));
        assert_eq!(civil(JAN_END.div_euclid(DAY)), (2026, 1, 31));
        for n in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil(n);
            assert_eq!(days(y, m, d), n);
        }
    }

    #[test]
    fn a_day_quota_starts_afresh_at_midnight_in_its_zone() {
        let q = limiter(2, Calendar::Day, 0);
        assert!(q.check_at("k", JAN_END - 10).allowed);
        let last = q.check_at("k", JAN_END - 5);
        assert_eq!((last.allowed, last.remaining), (true, 0));
        let refused = q.check_at("k", JAN_END);
        assert!(!refused.allowed);
        // One second to midnight UTC: the wait is exact.
        assert_eq!(
            (refused.reset, refused.window),
            (Duration::from_secs(1), 86_400)
        );
        let next_day = q.check_at("k", JAN_END + 1);
        assert_eq!((next_day.allowed, next_day.remaining), (true, 1));
        // At +02:00, midnight came two hours before midnight UTC.
        let east = limiter(1, Calendar::Day, 7200);
        assert!(east.check_at("k", JAN_END - 7200).allowed);
        assert!(east.check_at("k", JAN_END - 7199 + 1).allowed);
        assert!(!east.check_at("k", JAN_END).allowed);
    }

    #[test]
    fn a_month_quota_spans_the_calendar_month() {
        let q = limiter(3, Calendar::Month, 0);
        // January 1st and 31st count in one window of 31 days.
        let jan_first = JAN_END - 31 * DAY + 1;
        assert!(q.check_at("k", jan_first).allowed);
        assert!(q.check_at("k", JAN_END - DAY).allowed);
        let v = q.check_at("k", JAN_END);
        assert_eq!((v.allowed, v.remaining, v.window), (true, 0, 31 * 86_400));
        assert!(!q.check_at("k", JAN_END).allowed);
        // February: afresh, 28 days long in 2026.
        let feb = q.check_at("k", JAN_END + 1);
        assert_eq!(
            (feb.allowed, feb.remaining, feb.window),
            (true, 2, 28 * 86_400)
        );
        // At -05:00, 2026-02-01T03:00Z is still January.
        let west = limiter(1, Calendar::Month, -5 * 3600);
        assert_eq!(
            window(Calendar::Month, -5 * 3600, JAN_END + 3 * 3600).1,
            JAN_END + 1 + 5 * 3600
        );
        assert!(west.check_at("k", JAN_END - DAY).allowed);
        assert!(!west.check_at("k", JAN_END + 3 * 3600).allowed);
        assert!(west.check_at("k", JAN_END + 6 * 3600).allowed);
    }
}
