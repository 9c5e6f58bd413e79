//! The JWT reader on arbitrary text: splitting and decoding a compact JWS
//! and checking its claims must answer, never panic; whatever it accepts
//! is three parts with an `alg`, and a `crit` header is never accepted.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tollgate_config::{JwtIssuer, JwtPolicy, TokenSource};
use tollgate_gateway::jwt::{claims, token};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(t) = token::parse(text, 8192) else {
        return;
    };
    assert_eq!(text.split('.').count(), 3);
    assert!(!text.contains(".."), "an empty part was accepted");
    assert!(t.signing_input.len() < text.len());
    let issuer = JwtIssuer {
        issuer: "fuzz".into(),
        audiences: vec!["api".into()],
        keys: vec![],
        jwks_endpoint: None,
        consumer: None,
    };
    let policy = JwtPolicy {
        issuers: vec![issuer.clone()],
        source: TokenSource::Bearer,
        leeway: Duration::from_secs(30),
        max_token_size: 8192,
        require_exp: true,
        typ: Some("JWT".into()),
        claims_to_headers: vec![],
        cache_size: 0,
        anonymous: None,
    };
    // Any answer will do; it must not panic (time arithmetic included).
    let _ = claims::check(&t.claims, &t.header, &policy, &issuer, u64::MAX);
    let _ = claims::check(&t.claims, &t.header, &policy, &issuer, 0);
});
