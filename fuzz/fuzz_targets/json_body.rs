//! Request bodies from outside checked by a `validate` policy: the body is
//! read in place (`tollgate_config::json_doc`) before any `serde_json::Value`
//! is built. Arbitrary bytes must get a verdict, never a panic or a hang;
//! a body read in place must be one serde_json reads too, and a body the
//! check accepts must be JSON.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate_config::{JsonSchema, Policy, ValidateAgainst};

const CONFIG: &str = r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: r
    respond: {}
    policies:
      - validate:
          schema:
            type: object
            required: [amount]
            properties:
              amount: {type: number, minimum: 0}
              items: {type: array, items: {type: [string, integer, "null", object]}}
              name: {type: string, maxLength: 20, pattern: "^[a-z]+$"}
"#;

fn schema() -> &'static JsonSchema {
    static SCHEMA: OnceLock<JsonSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let config = tollgate_config::parse_str_with_env(CONFIG, "fuzz.yaml", |_| None)
            .expect("the fixed schema loads");
        match &config.routes[0].policies[0] {
            Policy::Validate(v) => match &v.against {
                ValidateAgainst::Schema(schema) => schema.clone(),
                _ => unreachable!("the config names a schema"),
            },
            _ => unreachable!("the config has one validate policy"),
        }
    })
}

fuzz_target!(|body: &[u8]| {
    if tollgate_config::json_doc::parse(body).is_ok() {
        assert!(serde_json::from_slice::<serde_json::Value>(body).is_ok());
    }
    if tollgate_gateway::validate::check_body(schema(), body).is_ok() {
        assert!(serde_json::from_slice::<serde_json::Value>(body).is_ok());
    }
});
