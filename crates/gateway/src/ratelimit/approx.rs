//! `store: redis`, `mode: approximate`: each node admits from its own
//! view of the shared counts, and the store's one syncing task
//! (`redis/client.rs`) sends what this node admitted and reads the
//! totals back every `sync`, one bounded batch at a time. A decision
//! never waits for Redis: it takes one shard lock and bumps a counter.
//!
//! - Counts are fixed windows at the store (`INCRBY` per key, limit and
//!   window), weighted as the sliding window does (`algorithm::window`),
//!   on the store's clock (`TIME` with each batch), whatever the policy's
//!   `algorithm`.
//! - **Allowance**: a node admits at most `a = max(1, ⌊count × sync /
//!   period⌋)` requests per limit and key that the store has not
//!   acknowledged yet (one sync's worth of the whole limit), so a node
//!   alone can use the whole limit, and in any window all nodes together
//!   admit at most `capacity + nodes × a` (see docs/configuration.md).
//! - A refused request changes nothing and marks nothing to send: a key
//!   over its limit stays refused from the local view until the window
//!   math admits again, with no Redis round trip.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use foldhash::fast::FixedState;
use redis::{Pipeline, Value};
use tollgate_config::Rate;

use super::algorithm::{window, Cell, Check, Limit};
use super::redis::{key_name, RedisStore};
use super::Verdict;

/// Shards of the table: enough that workers rarely meet on one lock.
const SHARDS: usize = 64;

/// Most keys one batch sends; the others wait for the next one.
const BATCH: usize = 1024;

/// One limit's view of one key.
#[derive(Debug, Clone, Copy)]
struct Counter {
    limit: Limit,
    /// [`Approx::allowance`] of `limit`, worked out once.
    allowance: u64,
    /// Index of the fixed window `known` and `pending` count in.
    window: u64,
    /// The previous window's count, as known here.
    prev: u64,
    /// This window's count at the store as last read, plus what was
    /// sent since.
    known: u64,
    /// Admitted here in `window`, not sent yet.
    pending: u64,
    /// Admitted here in `window - 1`, not sent yet.
    carry: u64,
    /// Sent in the batch under way, not acknowledged yet.
    sending: u64,
}

impl Counter {
    fn new(limit: Limit, allowance: u64) -> Self {
        Self {
            limit,
            allowance,
            window: 0,
            prev: 0,
            known: 0,
            pending: 0,
            carry: 0,
            sending: 0,
        }
    }

    /// Moves the view to the fixed window holding `now`.
    fn roll(&mut self, now: u64) {
        let w = now / self.limit.period;
        if w == self.window {
            return;
        }
        if w == self.window + 1 {
            self.prev = self.known + self.pending;
            self.carry = self.pending;
        } else {
            (self.prev, self.carry) = (0, 0);
        }
        (self.window, self.known, self.pending) = (w, 0, 0);
    }
}

/// A key's counters (one per limit) and whether it has news to send.
#[derive(Debug)]
struct Entry {
    counters: Vec<Counter>,
    dirty: bool,
    /// Store-clock time of its last admission.
    seen: u64,
}

/// One counter's part of a batch: what was sent, for which window.
struct Sent {
    key: Box<str>,
    index: usize,
    window: u64,
    count: u64,
    carry: u64,
}

type Shard = Mutex<HashMap<Box<str>, Entry, FixedState>>;

/// A counter chosen to report: its index and its check.
type Picked = Option<(usize, Check)>;

/// The local views of one `mode: approximate` policy.
#[derive(Debug)]
pub struct Approx {
    policy: String,
    sync: Duration,
    shards: Box<[Shard]>,
    per_shard: usize,
    hasher: FixedState,
    epoch: Instant,
    /// Store clock minus `epoch`'s, in ns (this node's clock until the
    /// first batch reads `TIME`).
    offset: AtomicI64,
}

impl Approx {
    /// Empty views for the policy `policy`, synced every `sync`, holding
    /// about `max_keys` keys.
    pub fn new(policy: &str, sync: Duration, max_keys: usize) -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            policy: policy.to_owned(),
            sync,
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(super::table::seeded())))
                .collect(),
            per_shard: max_keys.div_ceil(SHARDS).max(1),
            hasher: super::table::seeded(),
            epoch: Instant::now(),
            offset: AtomicI64::new(i64::try_from(wall.as_nanos()).unwrap_or(i64::MAX)),
        }
    }

    /// The interval between two batches.
    pub fn interval(&self) -> Duration {
        self.sync
    }

    /// Requests a node may admit per limit and key before the store has
    /// acknowledged them: one sync's worth of the limit, at least one.
    pub fn allowance(&self, limit: Limit) -> u64 {
        let sync = self.sync.as_nanos();
        let a = u128::from(limit.count) * sync / u128::from(limit.period.max(1));
        u64::try_from(a).unwrap_or(u64::MAX).max(1)
    }

    /// The store's clock now, in ns since the Unix epoch.
    fn now(&self) -> u64 {
        let local = i64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(i64::MAX);
        let now = local.saturating_add(self.offset.load(Ordering::Relaxed));
        u64::try_from(now).unwrap_or(0)
    }

    /// Decides a request under `key` against `rates` (each with `burst`)
    /// from the local view; never waits for the store.
    pub fn decide(&self, key: &str, rates: &[Rate], burst: u64) -> Verdict {
        let now = self.now();
        let mut shard = self.shard(key);
        if let Some(entry) = shard.get_mut(key) {
            return self.decide_entry(entry, rates, burst, now);
        }
        if shard.len() >= self.per_shard {
            evict(&mut shard, now);
        }
        // The key is copied once, when first seen, not per request.
        let entry = shard.entry(key.into()).or_insert(Entry {
            counters: Vec::new(),
            dirty: false,
            seen: now,
        });
        self.decide_entry(entry, rates, burst, now)
    }

    /// [`Approx::decide`] on the key's entry, under its shard's lock.
    fn decide_entry(&self, entry: &mut Entry, rates: &[Rate], burst: u64, now: u64) -> Verdict {
        let same = entry.counters.len() == rates.len()
            && entry
                .counters
                .iter()
                .zip(rates)
                .all(|(c, r)| c.limit == super::limit(r, burst));
        if !same {
            entry.counters = rates
                .iter()
                .map(|r| {
                    let limit = super::limit(r, burst);
                    Counter::new(limit, self.allowance(limit))
                })
                .collect();
        }
        let (refused, tightest) = self.check(&mut entry.counters, now);
        let allowed = refused.is_none();
        if allowed {
            for c in &mut entry.counters {
                c.pending += 1;
            }
            entry.dirty = true;
            entry.seen = now;
        }
        verdict(&entry.counters, allowed, refused.or(tightest))
    }

    /// Each counter rolled to `now` and checked: the refusing one with the
    /// longest wait, and the allowing one with the least remaining (the
    /// limit reported, as `report` does, without a list).
    fn check(&self, counters: &mut [Counter], now: u64) -> (Picked, Picked) {
        let sync = u64::try_from(self.sync.as_nanos()).unwrap_or(u64::MAX);
        let mut refused: Picked = None;
        let mut tightest: Picked = None;
        for (i, c) in counters.iter_mut().enumerate() {
            c.roll(now);
            let cell = Cell::Window {
                start: c.window * c.limit.period,
                prev: c.prev,
                cur: c.known + c.pending,
            };
            let mut check = window(c.limit, cell, now);
            let unsynced = c.pending + c.carry + c.sending;
            if check.wait.is_none() && unsynced >= c.allowance {
                // Room, as far as this node knows, but its allowance is
                // spent until the next batch is acknowledged.
                check = Check {
                    wait: Some(sync),
                    remaining: 0,
                    reset: sync,
                    ..check
                };
            }
            match check.wait {
                Some(w) if refused.is_none_or(|(_, r)| r.wait < Some(w)) => {
                    refused = Some((i, check))
                }
                Some(_) => {}
                None if tightest.is_none_or(|(_, t)| t.remaining > check.remaining) => {
                    tightest = Some((i, check))
                }
                None => {}
            }
        }
        (refused, tightest)
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One batch: what was admitted since the last one goes to `store`,
    /// and the totals read back become the view; on failure the counts
    /// wait for the next batch.
    pub(crate) async fn sync_once(&self, store: &RedisStore) {
        let sent = self.take_batch();
        // With nothing to send, a store kept out by its breaker is still
        // asked its clock: that is the probe that brings it back.
        if sent.is_empty() && store.available() {
            return;
        }
        let pipes: Vec<Pipeline> = group(&sent)
            .iter()
            .map(|run| self.pipe(&sent[run.0..run.1]))
            .collect();
        let asked = self.epoch.elapsed();
        match store.batch(&pipes).await {
            Ok((micros, replies)) => {
                // The store's clock, taken half way through the call.
                let mid = asked + self.epoch.elapsed().saturating_sub(asked) / 2;
                let store_ns = i128::from(micros) * 1_000;
                let offset = store_ns - i128::try_from(mid.as_nanos()).unwrap_or(i128::MAX);
                self.offset
                    .store(i64::try_from(offset).unwrap_or(i64::MAX), Ordering::Relaxed);
                self.apply(&sent, &replies);
            }
            Err(_) => self.restore(&sent),
        }
    }

    /// Marks up to [`BATCH`] keys' news as sent, and evicts keys idle for
    /// two of their longest periods.
    fn take_batch(&self) -> Vec<Sent> {
        let now = self.now();
        let mut sent = Vec::new();
        let mut keys = 0;
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            shard.retain(|_, e| e.dirty || !idle(e, now));
            for (key, entry) in shard.iter_mut() {
                if keys >= BATCH {
                    break;
                }
                if !entry.dirty {
                    continue;
                }
                entry.dirty = false;
                keys += 1;
                for (index, c) in entry.counters.iter_mut().enumerate() {
                    c.roll(now);
                    c.known += c.pending;
                    c.sending = c.pending + c.carry;
                    sent.push(Sent {
                        key: key.clone(),
                        index,
                        window: c.window,
                        count: c.pending,
                        carry: c.carry,
                    });
                    (c.pending, c.carry) = (0, 0);
                }
            }
        }
        sent
    }

    /// One key's commands: per limit, add to this window (and to the
    /// previous one what was left from it) and read both counts.
    fn pipe(&self, sent: &[Sent]) -> Pipeline {
        let mut pipe = redis::pipe();
        for s in sent {
            let limit = self.limit_of(s).unwrap_or(Limit {
                count: 1,
                period: 1_000_000_000,
                burst: 0,
            });
            let ttl = (2 * limit.period / 1_000_000).saturating_add(1_000);
            let name = |w: u64| {
                let suffix = format!("{}+{}/{}:{w}", limit.count, limit.burst, limit.period);
                key_name("ra", &self.policy, &s.key, &suffix)
            };
            let (cur, prev) = (name(s.window), name(s.window.saturating_sub(1)));
            pipe.cmd("INCRBY").arg(&cur).arg(s.count);
            pipe.cmd("PEXPIRE").arg(&cur).arg(ttl).ignore();
            if s.carry > 0 {
                pipe.cmd("INCRBY").arg(&prev).arg(s.carry);
                pipe.cmd("PEXPIRE").arg(&prev).arg(ttl).ignore();
            } else {
                pipe.cmd("GET").arg(&prev);
            }
        }
        pipe
    }

    fn limit_of(&self, s: &Sent) -> Option<Limit> {
        let shard = self.shard(&s.key);
        shard.get(&s.key)?.counters.get(s.index).map(|c| c.limit)
    }

    /// The totals read back become each counter's view.
    fn apply(&self, sent: &[Sent], replies: &[Vec<Value>]) {
        for (run, reply) in group(sent).iter().zip(replies) {
            let counts: Vec<u64> = reply.iter().map(count).collect();
            for (s, pair) in sent[run.0..run.1].iter().zip(counts.chunks(2)) {
                let [cur, prev] = *pair else { continue };
                self.with_counter(s, |c| {
                    if c.window == s.window {
                        c.known = c.known.max(cur);
                        c.prev = c.prev.max(prev);
                    } else if c.window == s.window + 1 {
                        c.prev = c.prev.max(cur);
                    }
                    c.sending = 0;
                });
            }
        }
    }

    /// A failed batch: its counts are sent again with the next one.
    fn restore(&self, sent: &[Sent]) {
        for s in sent {
            self.with_counter(s, |c| {
                if c.window == s.window {
                    c.known = c.known.saturating_sub(s.count);
                    (c.pending, c.carry) = (c.pending + s.count, c.carry + s.carry);
                } else if c.window == s.window + 1 {
                    c.carry += s.count;
                }
                c.sending = 0;
            });
            let mut shard = self.shard(&s.key);
            if let Some(e) = shard.get_mut(&s.key) {
                e.dirty = true;
            }
        }
    }

    fn with_counter(&self, s: &Sent, f: impl FnOnce(&mut Counter)) {
        let mut shard = self.shard(&s.key);
        if let Some(c) = shard
            .get_mut(&s.key)
            .and_then(|e| e.counters.get_mut(s.index))
        {
            f(c);
        }
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, HashMap<Box<str>, Entry, FixedState>> {
        // The top bits: the maps inside use the low ones.
        let i = (self.hasher.hash_one(key) >> 58) as usize % SHARDS;
        lock(&self.shards[i])
    }
}

/// Runs of `sent` with one key each, as (start, end).
fn group(sent: &[Sent]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=sent.len() {
        if i == sent.len() || sent[i].key != sent[start].key {
            runs.push((start, i));
            start = i;
        }
    }
    runs
}

/// A count read back: an integer, a number as text, or none (0).
fn count(v: &Value) -> u64 {
    match v {
        Value::Int(n) => u64::try_from(*n).unwrap_or(0),
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

/// Whether a key has nothing to send and no count that still matters.
fn idle(e: &Entry, now: u64) -> bool {
    let longest = e.counters.iter().map(|c| c.limit.period).max().unwrap_or(0);
    e.counters.iter().all(|c| c.sending == 0) && e.seen.saturating_add(2 * longest) < now
}

/// What a decision reports: the counter `reported` names (index and check),
/// or a neutral answer when there was none to report.
fn verdict(counters: &[Counter], allowed: bool, reported: Picked) -> Verdict {
    let (i, check) = reported.unwrap_or((
        0,
        Check {
            next: Cell::Gcra(0),
            wait: None,
            remaining: 0,
            reset: 0,
            idle_at: 0,
        },
    ));
    let limit = counters.get(i).map_or(
        Limit {
            count: 1,
            period: 1_000_000_000,
            burst: 0,
        },
        |c| c.limit,
    );
    Verdict {
        allowed,
        quota: limit.capacity(),
        window: (limit.period / 1_000_000_000).max(1),
        remaining: check.remaining,
        reset: Duration::from_nanos(check.reset),
    }
}

/// Makes room in a full shard: idle keys go, else the one seen longest ago.
fn evict(shard: &mut HashMap<Box<str>, Entry, FixedState>, now: u64) {
    let before = shard.len();
    shard.retain(|_, e| e.dirty || !idle(e, now));
    if shard.len() < before {
        return;
    }
    let oldest = shard
        .iter()
        .min_by_key(|(_, e)| e.seen)
        .map(|(k, _)| k.clone());
    if let Some(k) = oldest {
        shard.remove(&k);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn rate(count: u64, period: Duration) -> Rate {
        Rate { count, period }
    }

    #[test]
    fn allowance_is_one_syncs_worth_of_the_limit_and_at_least_one() {
        let a = Approx::new("p", 100 * MS, 1000);
        let l = |count, secs: u64| Limit {
            count,
            period: secs * 1_000_000_000,
            burst: 0,
        };
        assert_eq!(a.allowance(l(20, 1)), 2);
        assert_eq!(a.allowance(l(1, 60)), 1);
        assert_eq!(a.allowance(l(10_000_000, 1)), 1_000_000);
    }

    #[test]
    fn a_node_admits_its_allowance_then_the_store_decides() {
        let a = Approx::new("p", 100 * MS, 1000);
        let rates = [rate(20, Duration::from_secs(1))];
        assert!(a.decide("k", &rates, 5).allowed);
        assert!(a.decide("k", &rates, 5).allowed);
        // Allowance (2) spent: refused until a batch is acknowledged,
        // for one sync interval; a refusal sends nothing.
        let v = a.decide("k", &rates, 5);
        assert_eq!((v.allowed, v.reset), (false, 100 * MS));
        let sent = a.take_batch();
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].count, sent[0].carry), (2, 0));
        assert!(a.take_batch().is_empty(), "a refused key is not sent again");
        // Still unacknowledged while the batch is under way.
        assert!(!a.decide("k", &rates, 5).allowed);
        // A failed batch: the counts wait for the next one.
        a.restore(&sent);
        assert!(!a.decide("k", &rates, 5).allowed);
        let sent = a.take_batch();
        assert_eq!(sent[0].count, 2);
        // Acknowledged with the others' counts: 2 of ours + 20 elsewhere.
        a.apply(&sent, &[vec![Value::Int(22), Value::Nil]]);
        let v = a.decide("k", &rates, 5);
        assert!(v.allowed, "22 + 1 of 25");
        assert_eq!(v.remaining, 2);
        a.take_batch();
        // Another batch finds the window full: refused until it fades,
        // longer than a sync, without asking the store again.
        let sent = a.take_batch();
        assert!(sent.is_empty());
        let now = a.now();
        let w = now / 1_000_000_000;
        let full = Sent {
            key: "k".into(),
            index: 0,
            window: w,
            count: 0,
            carry: 0,
        };
        a.apply(&[full], &[vec![Value::Int(25), Value::Int(0)]]);
        let v = a.decide("k", &rates, 5);
        assert!(!v.allowed);
        assert!(v.reset > 100 * MS || w != a.now() / 1_000_000_000);
    }

    #[test]
    fn counts_read_back_parse_or_count_as_zero() {
        assert_eq!(count(&Value::Int(7)), 7);
        assert_eq!(count(&Value::BulkString(b"12".to_vec())), 12);
        assert_eq!(count(&Value::Nil), 0);
        assert_eq!(count(&Value::Int(-3)), 0);
    }
}
