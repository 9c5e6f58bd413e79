//! Cost of the `validate` policy's check of a 1 KiB JSON body (the
//! issue 12 benchmark's body and schema), without sockets: ns per call of
//! the whole check and of its parts. Run with
//! `cargo run --release -p tollgate-gateway --example cost_validate`.
//! The last line is the check as it was before `is_valid` came first
//! (every valid body walked through `iter_errors`).

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use tollgate_config::{JsonSchema, Policy, ValidateAgainst};
use tollgate_gateway::validate::{check_body, check_value};

const ROUNDS: u32 = 200_000;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let body = std::fs::read(root.join("bench/policies/body1k.json")).expect("body1k.json");
    let schema = bench_schema(&root);
    check_body(&schema, &body).expect("the benchmark body satisfies its schema");
    let value: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    println!("body: {} bytes, {ROUNDS} rounds", body.len());
    time("check_body (parse + validate)", || {
        check_body(&schema, black_box(&body)).is_ok()
    });
    time("serde_json::from_slice only", || {
        serde_json::from_slice::<serde_json::Value>(black_box(&body)).is_ok()
    });
    time("check_value (validate only)", || {
        check_value(&schema, black_box(&value)).is_ok()
    });
    time("Validator::is_valid", || {
        schema.validator.is_valid(black_box(&value))
    });
    time("Validator::iter_errors (none)", || {
        schema
            .validator
            .iter_errors(black_box(&value))
            .next()
            .is_none()
    });
    time("before: parse + iter_errors collect", || {
        let value: serde_json::Value = serde_json::from_slice(black_box(&body)).unwrap();
        let found: Vec<String> = schema
            .validator
            .iter_errors(&value)
            .take(20)
            .map(|e| e.instance_path().as_str().to_string())
            .collect();
        found.is_empty()
    });
}

/// The schema of bench/policies/validate_1k.yaml, compiled as tollgate does.
fn bench_schema(root: &Path) -> JsonSchema {
    let file = root.join("bench/policies/validate_1k.yaml");
    let text = std::fs::read_to_string(&file).expect("validate_1k.yaml");
    let env = |name: &str| match name {
        "LISTEN_ADDR" => Some("127.0.0.1:1".to_string()),
        "BACKEND_ADDR" => Some("127.0.0.1:2".to_string()),
        _ => None,
    };
    let config = tollgate_config::parse_str_with_env(&text, "validate_1k.yaml", env)
        .expect("the benchmark configuration loads");
    let policy = config.routes[0]
        .policies
        .iter()
        .find_map(|p| match p {
            Policy::Validate(v) => Some(v.clone()),
            _ => None,
        })
        .expect("a validate policy");
    match &policy.against {
        ValidateAgainst::Schema(s) => s.clone(),
        ValidateAgainst::OpenApi(_) => panic!("expected a JSON Schema"),
    }
}

/// Runs `f` (a warm-up, then `ROUNDS` times) and prints ns per call.
fn time(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..ROUNDS / 10 {
        assert!(f());
    }
    let started = Instant::now();
    for _ in 0..ROUNDS {
        assert!(f());
    }
    let ns = started.elapsed().as_nanos() / u128::from(ROUNDS);
    println!("{what:34} {ns:>7} ns");
}
