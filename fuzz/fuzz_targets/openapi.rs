//! Loading an OpenAPI document (`validate.openapi`) from arbitrary text,
//! read as YAML and as JSON, then matching and checking a few fixed
//! requests against what loads: the reader must answer with operations or
//! an error, and the checks with a verdict, never panic or hang.

#![no_main]

use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use tollgate_gateway::validate::openapi::{check_operation_body, check_parameters, find};

const REQUESTS: [(&str, &str, Option<&str>); 4] = [
    ("GET", "/pets", Some("limit=5&x=%zz")),
    ("POST", "/pets/1/tags", None),
    ("DELETE", "/", Some("a")),
    ("PUT", "/%2F/x", Some("=&&=")),
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert("x-trace", HeaderValue::from_static("abc"));
    for json in [false, true] {
        let Ok(api) = tollgate_config::openapi_from_str(text, "fuzz.yaml", json) else {
            continue;
        };
        for (method, path, query) in REQUESTS {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            if let Some(found) = find(&api, &method, path) {
                let op = found.operation;
                assert_eq!(op.method, method);
                let _ = check_parameters(op, &found.path_values, query, &headers);
                if let Some(rule) = &op.body {
                    let _ = check_operation_body(rule, b"{\"name\": 1}");
                    let _ = check_operation_body(rule, b"");
                }
            }
        }
    }
});
