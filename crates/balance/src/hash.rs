//! Hashing and randomness shared by the pickers (and by the proxy, for
//! sticky-cookie ids, jitter and slow start): FNV-1a with a murmur3
//! finaliser, and a splitmix64 generator. Written here so the crate has no
//! dependencies; none of this is cryptographic.

use std::sync::atomic::{AtomicU64, Ordering};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// FNV-1a over `bytes`, continuing from `state` (start with [`fnv_start`]).
pub(crate) fn fnv1a(mut state: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        state ^= u64::from(b);
        state = state.wrapping_mul(FNV_PRIME);
    }
    state
}

/// The FNV-1a starting state.
pub(crate) const fn fnv_start() -> u64 {
    FNV_OFFSET
}

/// murmur3's 64-bit finaliser: FNV-1a alone mixes its last bytes poorly into
/// the high bits, which ring positions and `% n` both depend on.
pub(crate) const fn fmix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x
}

/// A well-mixed 64-bit hash of `bytes`, stable across platforms, processes
/// and releases (std's hasher is none of these).
pub fn hash64(bytes: &[u8]) -> u64 {
    fmix64(fnv1a(fnv_start(), bytes))
}

/// `x` scaled into `0..n` without division (Lemire); 0 when `n` is 0.
pub(crate) fn scale(x: u64, n: u64) -> u64 {
    ((u128::from(x) * u128::from(n)) >> 64) as u64
}

/// splitmix64 with its state in an atomic, so a shared picker draws numbers
/// without a lock; each draw is one `fetch_add`.
#[derive(Debug)]
pub struct Rng {
    state: AtomicU64,
}

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub const fn new(seed: u64) -> Self {
        Self {
            state: AtomicU64::new(seed),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&self) -> u64 {
        let s = self
            .state
            .fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
            .wrapping_add(GOLDEN_GAMMA);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&self, n: u64) -> u64 {
        scale(self.next_u64(), n)
    }

    /// A number in `[0, 1)`, from the top 53 bits of a draw.
    pub fn unit(&self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_reference_vectors() {
        assert_eq!(fnv1a(fnv_start(), b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(fnv_start(), b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(fnv_start(), b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn hash_is_stable() {
        // Ring positions and ip_hash choices must not change between releases.
        assert_eq!(hash64(b"10.0.0.1:80"), hash64(b"10.0.0.1:80"));
        assert_ne!(hash64(b"10.0.0.1:80"), hash64(b"10.0.0.2:80"));
    }

    #[test]
    fn rng_is_seeded_and_in_range() {
        let a = Rng::new(7);
        let b = Rng::new(7);
        for _ in 0..1000 {
            let x = a.below(10);
            assert_eq!(x, b.below(10));
            assert!(x < 10);
        }
        assert_eq!(Rng::new(1).below(0), 0);
        for _ in 0..1000 {
            assert!((0.0..1.0).contains(&a.unit()));
        }
    }

    #[test]
    fn rng_is_roughly_uniform() {
        let rng = Rng::new(42);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            if let Some(c) = counts.get_mut(rng.below(4) as usize) {
                *c += 1;
            }
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
    }
}
