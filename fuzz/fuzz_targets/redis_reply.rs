//! The Redis store's script replies: any list of integers becomes a
//! decision or an error, never a panic; an admitted GCRA/window decision
//! always reports no wait.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_gateway::ratelimit::redis::reply::{decode_checks, decode_quota};

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let ints: Vec<i64> = rest
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    if let Ok(checks) = decode_checks(&ints, usize::from(n % 8)) {
        assert_eq!(checks.len() * 3, ints.len());
    }
    if let Ok(v) = decode_quota(&ints, u64::from(n)) {
        assert!(!v.allowed || v.remaining <= u64::from(n));
    }
});
