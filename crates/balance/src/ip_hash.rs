//! Client-IP affinity: the same client network always reaches the same
//! target while that target is available.
//!
//! Like nginx's `ip_hash`, an IPv4 client is hashed by its /24 (the first
//! three octets), so clients behind a pool of NAT addresses in one /24 stick
//! together; an IPv6 client by its whole address. An IPv4-mapped IPv6 address
//! (`::ffff:a.b.c.d`, what a dual-stack socket reports) counts as IPv4.
//!
//! `h = hash64(key)`, target = the one owning slot `h mod Σweights` (targets
//! own consecutive slots, as many as their weight). If that target is
//! unavailable, `h` is rehashed and the lookup repeated, up to 20 times (nginx's
//! limit); then the next available target after the last one tried, in index
//! order. Everything depends only on the key and the availability set, so the
//! fallback is as stable as the first choice, and clients of available targets
//! never move. Changing the number of targets or their weights remaps most
//! clients: use consistent hashing when that matters.

use std::net::{IpAddr, Ipv4Addr};

use crate::hash::{fmix64, hash64};
use crate::{effective_weight, Available};

/// How often a key is rehashed before walking to the next available target.
const REHASHES: u64 = 20;

/// Picks a target by the client's IP address.
#[derive(Debug)]
pub struct IpHash {
    /// `ends[i]` = sum of weights of targets 0..=i (slot ownership).
    ends: Vec<u64>,
}

impl IpHash {
    /// A picker over targets with these weights (0 counts as 1).
    pub fn new(weights: &[u32]) -> Self {
        let mut total = 0u64;
        let ends = weights
            .iter()
            .map(|&w| {
                total = total.saturating_add(effective_weight(w));
                total
            })
            .collect();
        Self { ends }
    }

    /// How many targets the picker has.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the picker has no targets.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The target for client `ip`; `None` when none is available.
    pub fn pick(&self, ip: IpAddr, available: &Available) -> Option<usize> {
        let n = self.ends.len();
        if available.count_below(n) == 0 {
            return None;
        }
        let total = self.ends.last().copied().unwrap_or(0);
        let mut h = client_hash(ip);
        let mut tried = 0;
        for round in 0..=REHASHES {
            let slot = h % total.max(1);
            tried = self.ends.partition_point(|&end| end <= slot);
            if available.contains(tried) {
                return Some(tried);
            }
            h = fmix64(h ^ (round + 1));
        }
        (1..=n)
            .map(|step| (tried + step) % n)
            .find(|&i| available.contains(i))
    }
}

/// The client's hash: of its /24 for IPv4, of the whole IPv6 address.
fn client_hash(ip: IpAddr) -> u64 {
    let v4 = |a: Ipv4Addr| {
        let [x, y, z, _] = a.octets();
        hash64(&[x, y, z])
    };
    match ip {
        IpAddr::V4(a) => v4(a),
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or_else(|| hash64(&a.octets()), v4),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;
    use crate::hash::Rng;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[test]
    fn same_client_same_target() {
        let p = IpHash::new(&[1, 1, 1, 1, 1]);
        let all = Available::all(5);
        let rng = Rng::new(11);
        for _ in 0..1_000 {
            let ip = IpAddr::V6(Ipv6Addr::from(u128::from(rng.next_u64()) << 64 | 1));
            let first = p.pick(ip, &all);
            assert!(first.is_some());
            for _ in 0..3 {
                assert_eq!(p.pick(ip, &all), first);
            }
        }
    }

    #[test]
    fn ipv4_hashes_the_slash_24() {
        let p = IpHash::new(&[1; 16]);
        let all = Available::all(16);
        let a = p.pick(v4(192, 0, 2, 1), &all);
        assert_eq!(p.pick(v4(192, 0, 2, 254), &all), a);
        // The mapped form of the same address is the same client.
        let mapped = Ipv4Addr::new(192, 0, 2, 77).to_ipv6_mapped();
        assert_eq!(p.pick(IpAddr::V6(mapped), &all), a);
        // Different /24s spread over the targets.
        let used: std::collections::HashSet<_> = (0..=255)
            .filter_map(|c| p.pick(v4(10, 0, c, 1), &all))
            .collect();
        assert_eq!(used.len(), 16);
    }

    #[test]
    fn unavailable_target_moves_only_its_own_clients() {
        let p = IpHash::new(&[1, 1, 1, 1]);
        let all = Available::all(4);
        let avail = Available::from_bools(&[true, false, true, true]);
        for c in 0..=255 {
            let ip = v4(172, 16, c, 9);
            let before = p.pick(ip, &all).unwrap();
            let after = p.pick(ip, &avail).unwrap();
            assert_ne!(after, 1);
            if before != 1 {
                assert_eq!(after, before);
            }
            // Deterministic: the rehash lands the same way every time.
            assert_eq!(p.pick(ip, &avail), Some(after));
        }
    }

    #[test]
    fn walks_when_rehashing_fails() {
        // Only target 5 of 6 is up; rehashing may miss it, the walk cannot.
        let p = IpHash::new(&[1; 6]);
        let mut avail = Available::none(6);
        avail.set(5, true);
        for c in 0..=255 {
            assert_eq!(p.pick(v4(10, 1, c, 1), &avail), Some(5));
        }
        assert_eq!(p.pick(v4(1, 2, 3, 4), &Available::none(6)), None);
        assert_eq!(
            IpHash::new(&[]).pick(v4(1, 2, 3, 4), &Available::all(1)),
            None
        );
    }

    #[test]
    fn weights_shape_the_spread() {
        let p = IpHash::new(&[3, 1, 1]);
        let all = Available::all(3);
        let mut counts = [0u32; 3];
        for a in 0..40u8 {
            for b in 0..=255 {
                counts[p.pick(v4(a, b, 7, 1), &all).unwrap()] += 1;
            }
        }
        let shares = counts.map(|c| f64::from(c) * 100.0 / 10_240.0);
        eprintln!("ip_hash 3:1:1 shares over 10240 /24s (%): {shares:?}");
        for (s, want) in shares.iter().zip([60.0, 20.0, 20.0]) {
            assert!((s - want).abs() <= 3.0, "{shares:?}");
        }
    }
}
