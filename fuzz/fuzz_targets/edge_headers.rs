//! The edge's field parsers on arbitrary bytes: Cache-Control (request and
//! response), Vary, Range, Accept-Encoding, entity-tag lists. The first byte
//! picks a length for Range and the codings offered; the rest is the field
//! value. Nothing may panic, and the answers must be consistent.

#![no_main]

use http::header::{HeaderName, HeaderValue, ACCEPT_ENCODING, CACHE_CONTROL, IF_NONE_MATCH, PRAGMA, VARY};
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use tollgate_config::Coding;
use tollgate_edge::cache::control::{RequestDirectives, ResponseDirectives, DELTA_MAX};
use tollgate_edge::cache::key::{secondary_key, secondary_matches, Vary};
use tollgate_edge::compress::negotiate;
use tollgate_edge::range::{evaluate, RangeAnswer};
use tollgate_edge::validators::{list_matches, strong_match, weak_match};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, value)) = data.split_first() else {
        return;
    };
    let Ok(v) = HeaderValue::from_bytes(value) else {
        return;
    };
    let mut h = HeaderMap::new();
    for name in [CACHE_CONTROL, PRAGMA, VARY, ACCEPT_ENCODING, IF_NONE_MATCH] {
        h.append(name, v.clone());
    }
    let resp = ResponseDirectives::parse(&h);
    for d in [resp.max_age, resp.s_maxage, resp.stale_while_revalidate, resp.stale_if_error] {
        assert!(d.is_none_or(|n| n <= DELTA_MAX));
    }
    let _ = RequestDirectives::parse(&h);

    if let Vary::Fields(fields) = Vary::of(&h) {
        let key = secondary_key(&h, &fields);
        let mut scratch = Vec::new();
        assert!(secondary_matches(&h, &fields, &key, &mut scratch), "a request matches its own key");
    }

    let len = u64::from(selector) * 3;
    match evaluate(value, len) {
        RangeAnswer::Partial { start, end } => assert!(start <= end && end < len),
        RangeAnswer::Unsatisfiable | RangeAnswer::Full => {}
    }

    let all = [Coding::Zstd, Coding::Brotli, Coding::Gzip];
    let offered = &all[..usize::from(selector % 3) + 1];
    if let Some(c) = negotiate(&h, offered) {
        assert!(offered.contains(&c));
    }

    let half = value.len() / 2;
    let (a, b) = value.split_at(half);
    if strong_match(a, b) {
        assert!(weak_match(a, b));
    }
    assert_eq!(weak_match(a, b), weak_match(b, a));
    if list_matches(value, Some(b), true) {
        assert!(list_matches(value, Some(b), false), "a strong list match is a weak one");
    }
    let _ = HeaderName::from_bytes(a);
});
