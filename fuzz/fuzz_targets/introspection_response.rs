//! The introspection answer reader (RFC 7662) on arbitrary bytes: an
//! answer or an error, never a panic; an answer read as active always had
//! `"active": true` in it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_gateway::introspection::response::parse;

fuzz_target!(|data: &[u8]| {
    if let Ok(answer) = parse(data) {
        assert_eq!(
            answer.claims.get("active").and_then(|v| v.as_bool()),
            Some(answer.active),
            "`active` not taken from the answer"
        );
        assert!(answer.scopes.iter().all(|s| !s.is_empty() && !s.contains(' ')));
    }
});
