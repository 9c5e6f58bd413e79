//! The configuration parser on arbitrary UTF-8: it must answer with a
//! config or with errors (whose messages render), never panic or hang.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `parse_str` with a fixed environment instead of the process's, so a
    // crash reproduces anywhere.
    let env = |name: &str| match name {
        "FUZZ_ADDR" => Some("127.0.0.1:8080".to_owned()),
        "FUZZ_EMPTY" => Some(String::new()),
        _ => None,
    };
    match tollgate_config::parse_str_with_env(text, "fuzz.yaml", env) {
        Ok(config) => {
            assert!(!config.listeners.is_empty(), "a config without listeners");
            // Only files whose listeners are all L4 may have no routes.
            let l4_only = config.listeners.iter().all(|l| l.protocol.is_l4());
            assert!(l4_only || !config.routes.is_empty(), "a config without routes");
            for l in &config.listeners {
                assert_eq!(l.l4.is_some(), l.protocol.is_l4(), "L4 settings on {}", l.name);
            }
        }
        Err(errors) => {
            let rendered = errors.to_string();
            assert!(!rendered.is_empty(), "errors without a message");
        }
    }
});
