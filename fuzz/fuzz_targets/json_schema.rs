//! Loading a `validate` policy's JSON Schema from arbitrary text (as the
//! YAML of an inline `schema:`), then checking fixed bodies against it: the
//! loader must answer with a compiled schema or located errors, and the
//! check with a verdict, never panic or hang.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_config::{Policy, ValidateAgainst};

const BODIES: [&[u8]; 5] = [
    b"{}",
    b"{\"amount\": 1, \"items\": [1, \"a\", null, {\"x\": 1.5}]}",
    b"[]",
    b"\"text\"",
    b"{not json",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut yaml = String::from(
        "listeners: [{name: web, address: 127.0.0.1:0}]\nroutes:\n  - name: r\n    respond: {}\n    policies:\n      - validate:\n          schema:\n",
    );
    for line in text.lines() {
        yaml.push_str("            ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    match tollgate_config::parse_str_with_env(&yaml, "fuzz.yaml", |_| None) {
        Ok(config) => {
            for policy in &config.routes[0].policies {
                if let Policy::Validate(v) = policy {
                    if let ValidateAgainst::Schema(schema) = &v.against {
                        for body in BODIES {
                            let _ = tollgate_gateway::validate::check_body(schema, body);
                        }
                    }
                }
            }
        }
        Err(errors) => {
            let rendered = errors.to_string();
            assert!(!rendered.is_empty());
        }
    }
});
