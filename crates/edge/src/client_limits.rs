//! Per-client caps of a listener: open connections and request rate per
//! client address, shared by every worker of the process.
//!
//! One table, split into shards each behind its own short mutex, holds per
//! client the number of open connections and the rate state, so accepting
//! a connection and admitting a request are one lookup each. The rate is a
//! GCRA (the algorithm of `governor`, written out here because the entry
//! also carries the connection count and the table needs its own eviction):
//! a client may send `burst` requests at once, then one every
//! `period / count`.
//!
//! IPv4 clients are keyed by address, IPv6 clients by their /64 (one
//! subscriber usually holds a whole /64, so per-address caps would be
//! trivial to dodge). An entry with no open connection and a fully
//! recovered rate is dead; dead entries are swept when a shard grows, so
//! memory follows the number of recently active clients. A shard holds at
//! most [`SHARD_CAP`] rate entries: beyond that (a flood from more distinct
//! networks than that) new clients are let through unmetered rather than
//! refused. Connections are always counted (their number is bounded by the
//! listener's `max_connections`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tollgate_config::PerClient;

const SHARDS: usize = 32;
/// Most rate entries one shard keeps (32 shards: about 260 000 clients).
pub const SHARD_CAP: usize = 8192;
/// A shard is not swept before it has this many entries.
const SWEEP_MIN: usize = 256;
/// After a sweep that freed nothing, the next one waits this long.
const SWEEP_PAUSE: u64 = 1_000_000_000;

/// The caps of one listener and what every client has used of them.
#[derive(Debug)]
pub struct ClientLimiter {
    shards: Box<[Mutex<Shard>]>,
    max_connections: Option<u32>,
    rate: Option<Gcra>,
    epoch: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Gcra {
    /// Nanoseconds between two requests at the sustained rate.
    interval: u64,
    /// How far ahead of now a client's schedule may run (the burst).
    tolerance: u64,
}

#[derive(Debug, Default)]
struct Shard {
    entries: HashMap<IpAddr, Entry>,
    sweep_at: usize,
    quiet_until: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    connections: u32,
    /// GCRA theoretical arrival time, in nanoseconds since `epoch`.
    tat: u64,
}

/// One open connection counted against its client; released on drop.
#[derive(Debug)]
pub struct ConnectionSlot {
    counted: Option<(Arc<ClientLimiter>, IpAddr)>,
}

impl ClientLimiter {
    /// A limiter with nothing used yet.
    pub fn new(cfg: &PerClient) -> Self {
        let rate = cfg.rate.map(|r| {
            let period = u64::try_from(r.period.as_nanos()).unwrap_or(u64::MAX);
            let interval = (period / r.count.max(1)).max(1);
            Gcra {
                interval,
                tolerance: interval.saturating_mul(r.burst.max(1) - 1),
            }
        });
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            max_connections: cfg.max_connections,
            rate,
            epoch: Instant::now(),
        }
    }

    /// Counts a new connection from `ip`; `None` when the client already
    /// has `max_connections` open (the connection is to be closed).
    pub fn connect(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionSlot> {
        let Some(max) = self.max_connections else {
            return Some(ConnectionSlot { counted: None });
        };
        let key = client_key(ip);
        let mut shard = self.shard(&key);
        let tat = self.now();
        let entry = shard.entries.entry(key).or_insert(Entry {
            connections: 0,
            tat,
        });
        if entry.connections >= max {
            return None;
        }
        entry.connections += 1;
        Some(ConnectionSlot {
            counted: Some((self.clone(), key)),
        })
    }

    /// Admits a request from `ip`, or says how long until it would be.
    pub fn check_request(&self, ip: IpAddr) -> Result<(), Duration> {
        let Some(gcra) = self.rate else {
            return Ok(());
        };
        let key = client_key(ip);
        let now = self.now();
        let mut shard = self.shard(&key);
        if let Some(entry) = shard.entries.get_mut(&key) {
            return gcra.admit(entry, now);
        }
        if !shard.make_room(now) {
            return Ok(());
        }
        let entry = shard.entries.entry(key).or_insert(Entry {
            connections: 0,
            tat: now,
        });
        gcra.admit(entry, now)
    }

    /// Clients currently tracked (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.shards.iter().map(|s| lock(s).entries.len()).sum()
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn shard(&self, key: &IpAddr) -> MutexGuard<'_, Shard> {
        let bits = match key {
            IpAddr::V4(v4) => u64::from(u32::from(*v4)),
            IpAddr::V6(v6) => (u128::from(*v6) >> 64) as u64,
        };
        // Fibonacci hashing: neighbouring networks land in different shards.
        let i = (bits.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 59) as usize % SHARDS;
        lock(&self.shards[i])
    }

    fn release(&self, key: &IpAddr) {
        let now = self.now();
        let mut shard = self.shard(key);
        if let Some(entry) = shard.entries.get_mut(key) {
            entry.connections = entry.connections.saturating_sub(1);
            if entry.connections == 0 && entry.tat <= now {
                shard.entries.remove(key);
            }
        }
    }
}

impl Gcra {
    fn admit(self, entry: &mut Entry, now: u64) -> Result<(), Duration> {
        let tat = entry.tat.max(now);
        let ahead = tat - now;
        if ahead > self.tolerance {
            return Err(Duration::from_nanos(ahead - self.tolerance));
        }
        entry.tat = tat.saturating_add(self.interval);
        Ok(())
    }
}

impl Shard {
    /// Whether a new rate entry may be added, sweeping dead ones first
    /// when the shard has grown.
    fn make_room(&mut self, now: u64) -> bool {
        if self.entries.len() < self.sweep_at.max(SWEEP_MIN) {
            return true;
        }
        if now >= self.quiet_until {
            self.entries.retain(|_, e| e.connections > 0 || e.tat > now);
            let len = self.entries.len();
            self.sweep_at = (len * 2).clamp(SWEEP_MIN, SHARD_CAP);
            if len >= SHARD_CAP {
                self.quiet_until = now.saturating_add(SWEEP_PAUSE);
            }
        }
        self.entries.len() < SHARD_CAP
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Some((limiter, key)) = self.counted.take() {
            limiter.release(&key);
        }
    }
}

/// The table key of a client: IPv4 (also when IPv4-mapped) by address,
/// IPv6 by its /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

/// Locks a shard; a panic while one was held leaves counts that are still
/// usable, so poisoning is ignored.
fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_config::ClientRate;

    fn limiter(max_connections: Option<u32>, rate: Option<(u64, u64, u64)>) -> Arc<ClientLimiter> {
        Arc::new(ClientLimiter::new(&PerClient {
            max_connections,
            rate: rate.map(|(count, secs, burst)| ClientRate {
                count,
                period: Duration::from_secs(secs),
                burst,
            }),
        }))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn connections_are_capped_per_client_and_released() {
        let l = limiter(Some(2), None);
        let a = l.connect(ip("10.0.0.1")).unwrap();
        let _b = l.connect(ip("10.0.0.1")).unwrap();
        assert!(l.connect(ip("10.0.0.1")).is_none());
        assert!(
            l.connect(ip("::ffff:10.0.0.1")).is_none(),
            "mapped is the same client"
        );
        let _other = l.connect(ip("10.0.0.2")).unwrap();
        drop(a);
        let _c = l.connect(ip("10.0.0.1")).unwrap();
        drop(_c);
        drop(_b);
        drop(_other);
        assert_eq!(l.tracked(), 0, "released clients leave the table");
        assert!(
            l.check_request(ip("10.0.0.1")).is_ok(),
            "no rate configured"
        );
    }

    #[test]
    fn rate_allows_the_burst_then_asks_to_wait() {
        let l = limiter(None, Some((10, 1, 3)));
        for _ in 0..3 {
            assert!(l.check_request(ip("192.0.2.1")).is_ok());
        }
        let wait = l.check_request(ip("192.0.2.1")).unwrap_err();
        assert!(
            wait <= Duration::from_millis(100) && wait > Duration::ZERO,
            "{wait:?}"
        );
        assert!(
            l.check_request(ip("192.0.2.2")).is_ok(),
            "other clients unaffected"
        );
        std::thread::sleep(wait + Duration::from_millis(5));
        assert!(
            l.check_request(ip("192.0.2.1")).is_ok(),
            "one more after the wait"
        );
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let l = limiter(None, Some((1, 60, 1)));
        assert!(l.check_request(ip("2001:db8:1:2::1")).is_ok());
        assert!(l.check_request(ip("2001:db8:1:2:ffff::9")).is_err());
        assert!(l.check_request(ip("2001:db8:1:3::1")).is_ok());
        assert_eq!(client_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
    }

    #[test]
    fn the_table_stays_bounded() {
        let l = limiter(None, Some((1, 3600, 1)));
        for i in 0..(SHARDS * SHARD_CAP + 5000) as u32 {
            let _ = l.check_request(IpAddr::V4(i.into()));
        }
        assert!(l.tracked() <= SHARDS * SHARD_CAP, "{}", l.tracked());
        // Entries whose rate has recovered are swept when room is needed.
        let quick = limiter(None, Some((1_000_000, 1, 1)));
        for i in 0..20_000u32 {
            let _ = quick.check_request(IpAddr::V4(i.into()));
            if i % 1000 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        assert!(quick.tracked() < 20_000, "{}", quick.tracked());
    }
}
