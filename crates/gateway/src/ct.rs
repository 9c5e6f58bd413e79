//! Comparison of secrets (presented keys, tokens) against stored copies
//! without an early exit, a machine word at a time: a per-byte constant-time
//! loop costs ~10 instructions a byte on every request of an auth route.

/// Whether `a` and `b` are equal, without stopping at the first difference.
/// Only the lengths are compared first (they are not secret: a stored key's
/// length says nothing of its bytes).
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u64;
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        diff |= u64::from(x ^ y);
    }
    for (x, y) in ca.zip(cb) {
        let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
        diff |= word(x) ^ word(y);
    }
    // Kept opaque so the compiler cannot turn the loop into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_sees_every_byte() {
        assert!(same(b"", b""));
        assert!(same(b"0123456789abc", b"0123456789abc"));
        assert!(!same(b"0123456789abc", b"0123456789abd"));
        assert!(!same(b"x123456789abc", b"0123456789abc"));
        assert!(!same(b"0123456789ab", b"0123456789abc"));
        assert!(!same(b"01234567", b"01234568"));
    }
}
