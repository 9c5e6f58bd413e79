//! The W3C Trace Context `traceparent` field (version 00), ids and the
//! sampling decision.
//!
//! Rules followed (W3C Trace Context, level 1, §3.2):
//! - `version-traceid-parentid-flags`, lowercase hex; version `ff` is invalid;
//! - version `00` is exactly 55 characters; a higher version may be longer,
//!   its first 55 characters read as version 00 when the 56th is `-`;
//! - an all-zero trace id or parent id makes the field invalid;
//! - an invalid field is ignored as if absent (a new trace starts), and so
//!   is the `tracestate` that came with it (the caller's job).

use std::cell::Cell;
use std::hash::{BuildHasher, Hash, Hasher};

use http::HeaderValue;

/// A 16-byte trace id.
pub type TraceId = [u8; 16];
/// An 8-byte span id.
pub type SpanId = [u8; 8];

/// A valid incoming `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace the request belongs to.
    pub trace_id: TraceId,
    /// The caller's span: the parent of tollgate's server span.
    pub parent_id: SpanId,
    /// Trace flags; bit 0 is `sampled`.
    pub flags: u8,
}

impl TraceParent {
    /// Whether the caller recorded its span (and wants the trace recorded).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

/// Reads one `traceparent` value; `None` when it breaks the rules above.
pub fn parse_traceparent(v: &[u8]) -> Option<TraceParent> {
    if v.len() < 55 {
        return None;
    }
    let version = hex_byte(&v[0..2])?;
    if version == 0xff || (version == 0 && v.len() != 55) || (v.len() > 55 && v[55] != b'-') {
        return None;
    }
    if v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let mut trace_id = [0u8; 16];
    for (i, b) in trace_id.iter_mut().enumerate() {
        *b = hex_byte(&v[3 + 2 * i..5 + 2 * i])?;
    }
    let mut parent_id = [0u8; 8];
    for (i, b) in parent_id.iter_mut().enumerate() {
        *b = hex_byte(&v[36 + 2 * i..38 + 2 * i])?;
    }
    let flags = hex_byte(&v[53..55])?;
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    Some(TraceParent {
        trace_id,
        parent_id,
        flags,
    })
}

/// Two lowercase hex digits (uppercase is invalid in `traceparent`).
fn hex_byte(two: &[u8]) -> Option<u8> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    Some((digit(two[0])? << 4) | digit(two[1])?)
}

/// Writes `bytes` as lowercase hex into `out` (twice as long).
pub fn hex_lower(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 15)];
    }
}

/// The `traceparent` tollgate sends: version 00, its own span as parent.
pub fn traceparent(trace_id: &TraceId, span_id: &SpanId, sampled: bool) -> HeaderValue {
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    hex_lower(trace_id, &mut out[3..35]);
    hex_lower(span_id, &mut out[36..52]);
    if sampled {
        out[54] = b'1';
    }
    HeaderValue::from_bytes(&out).expect("hex digits and dashes are a valid field value")
}

/// The sampling decision: parent-based, else by trace id against a ratio.
#[derive(Debug, Clone, Copy)]
pub struct Sampler {
    /// New traces whose id's last 8 bytes (big-endian) are below this are
    /// recorded; `None` records all.
    below: Option<u64>,
}

impl Sampler {
    /// Records `ratio` (`0.0..=1.0`) of new traces.
    pub fn new(ratio: f64) -> Self {
        let below = if ratio >= 1.0 {
            None
        } else {
            // Exact for 0; the rounding of other ratios is below 2^-53.
            Some((ratio.max(0.0) * u64::MAX as f64) as u64)
        };
        Self { below }
    }

    /// Whether a trace is recorded: the caller's choice when a valid
    /// `traceparent` came, else decided by the trace id (so every node
    /// with the same ratio decides the same for one trace).
    pub fn sampled(&self, parent: Option<&TraceParent>, trace_id: &TraceId) -> bool {
        if let Some(p) = parent {
            return p.sampled();
        }
        match self.below {
            None => true,
            Some(below) => {
                let low = u64::from_be_bytes(trace_id[8..].try_into().expect("8 bytes"));
                low < below
            }
        }
    }
}

thread_local! {
    /// Per-thread generator state: ids are made on the request's worker
    /// thread with no shared cache line.
    static STATE: Cell<u64> = Cell::new(seed());
}

/// A seed from the process's randomly keyed hasher (the OS's randomness)
/// and the thread, so threads and runs differ.
fn seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    std::thread::current().id().hash(&mut h);
    h.finish()
}

/// SplitMix64: fast, and every output of a 64-bit state is distinct.
fn next_u64() -> u64 {
    STATE.with(|s| {
        let x = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// A new random trace id (never all zero).
pub fn new_trace_id() -> TraceId {
    loop {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&next_u64().to_be_bytes());
        id[8..].copy_from_slice(&next_u64().to_be_bytes());
        if id != [0; 16] {
            return id;
        }
    }
}

/// A new random span id (never all zero).
pub fn new_span_id() -> SpanId {
    loop {
        let id = next_u64().to_be_bytes();
        if id != [0; 8] {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_field_is_read() {
        let p = parse_traceparent(VALID.as_bytes()).unwrap();
        assert_eq!(p.trace_id[0], 0x4b);
        assert_eq!(p.parent_id[7], 0xb7);
        assert!(p.sampled());
        let mut hex = [0u8; 32];
        hex_lower(&p.trace_id, &mut hex);
        assert_eq!(&hex, b"4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            traceparent(&p.trace_id, &p.parent_id, true).as_bytes(),
            VALID.as_bytes()
        );
    }

    #[test]
    fn invalid_fields_are_ignored() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            // Uppercase hex.
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            // All-zero ids.
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            // Version ff; version 00 with more after it.
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            // Wrong separators.
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        ] {
            assert_eq!(parse_traceparent(bad.as_bytes()), None, "{bad}");
        }
        // A later version's extra fields are allowed after a dash.
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what";
        assert!(!parse_traceparent(later.as_bytes()).unwrap().sampled());
    }

    #[test]
    fn sampling_follows_the_parent_then_the_ratio() {
        let p = parse_traceparent(VALID.as_bytes()).unwrap();
        let none = Sampler::new(0.0);
        let all = Sampler::new(1.0);
        assert!(none.sampled(Some(&p), &p.trace_id));
        let unsampled = TraceParent { flags: 0, ..p };
        assert!(!all.sampled(Some(&unsampled), &p.trace_id));
        let half = Sampler::new(0.5);
        let (mut yes, n) = (0, 10_000);
        for _ in 0..n {
            let id = new_trace_id();
            assert!(all.sampled(None, &id));
            assert!(!none.sampled(None, &id));
            yes += usize::from(half.sampled(None, &id));
        }
        // Binomial(10000, 0.5): 4000..6000 is many standard deviations wide.
        assert!((4000..6000).contains(&yes), "{yes}");
        assert_ne!(new_span_id(), new_span_id());
    }
}
