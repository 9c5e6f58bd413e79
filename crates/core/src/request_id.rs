//! Request ids: unique, cheap, and sortable by start time within a process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Hands out request ids of the form `<16 hex of process start+seed><16 hex counter>`.
#[derive(Debug)]
pub struct RequestIdGenerator {
    prefix: u64,
    counter: AtomicU64,
}

impl RequestIdGenerator {
    /// A generator seeded by the clock and the process id, so two processes differ.
    pub fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let prefix = nanos ^ (u64::from(std::process::id()) << 40);
        Self {
            prefix: mix(prefix),
            counter: AtomicU64::new(0),
        }
    }

    /// The next id, 32 lowercase hex characters.
    pub fn next_id(&self) -> String {
        let bytes = self.next_id_bytes();
        bytes.iter().map(|&b| b as char).collect()
    }

    /// The next id as its 32 ASCII bytes: the per-request form (no String
    /// grown a character at a time).
    pub fn next_id_bytes(&self) -> [u8; 32] {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut out = [0u8; 32];
        put_hex(&mut out[..16], self.prefix);
        put_hex(&mut out[16..], n);
        out
    }
}

impl Default for RequestIdGenerator {
    fn default() -> Self {
        Self::new()
    }
}

/// A 64-bit finalizer (splitmix64) so nearby seeds give unrelated prefixes.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn put_hex(out: &mut [u8], v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = HEX[((v >> ((15 - i) * 4)) & 0xf) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_hex() {
        let g = RequestIdGenerator::new();
        let a = g.next_id();
        let b = g.next_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        let c = g.next_id_bytes();
        assert_ne!(&c[..], b.as_bytes());
        assert_eq!(&c[..16], &a.as_bytes()[..16], "one process, one prefix");
    }
}
