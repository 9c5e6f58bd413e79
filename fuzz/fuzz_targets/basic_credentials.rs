//! The `Authorization: Basic` reader on arbitrary bytes: it answers
//! (user, password) or refuses, never panics; a user never holds `:`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_gateway::basic_auth::parse;

fuzz_target!(|data: &[u8]| {
    if let Ok((user, password)) = parse(data) {
        assert!(!user.is_empty() && !user.contains(':'));
        assert!(!user
            .bytes()
            .chain(password.bytes())
            .any(|b| b.is_ascii_control()));
    }
});
