//! The JWKS reader on arbitrary text: a document gives the usable keys or
//! an error, never a panic; a symmetric key is never among them.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_gateway::jwt::keys::jwks;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(keys) = jwks(text) {
        assert!(
            keys.iter().all(|k| !k.alg.is_hmac()),
            "a symmetric key from a JWKS"
        );
    }
});
