//! Release timing of the body reshaping rules, per call (not a benchmark
//! harness: a quick way to compare before and after a change):
//! `cargo run --release -p tollgate-gateway --example cost_body`.
//!
//! - the JSON body edits of bench/policies/edit_1k.yaml on
//!   bench/www/json1k.json and json16k.json;
//! - XML→JSON of bench/www/xml16k.xml with xml_to_json_16k.yaml's
//!   `arrays: [/orders/order]`, then JSON→XML of the result.

use std::hint::black_box;
use std::time::Instant;

use tollgate_config::{BodyEdit, EditValue, Pointer};
use tollgate_gateway::transform;
use tollgate_gateway::xml::{self, Json, XmlOptions};

fn bench_file(name: &str) -> Vec<u8> {
    let path = format!("{}/../../bench/www/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn pointer(text: &str) -> Pointer {
    Pointer::parse(text).expect("a valid pointer")
}

/// Time this thread spent on a CPU, in ns (Linux: the first field of
/// /proc/thread-self/schedstat), so a loaded machine does not inflate
/// the numbers as the wall clock does; `None` elsewhere.
fn cpu_ns() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Runs `f` `n` times after a warm-up and prints the mean time per call
/// (on-CPU time where the system tells it, and wall time).
fn time(label: &str, n: u32, mut f: impl FnMut()) {
    for _ in 0..n / 10 {
        f();
    }
    let cpu = cpu_ns();
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    let wall = start.elapsed().as_nanos() / u128::from(n);
    let cpu = cpu
        .zip(cpu_ns())
        .map_or(wall, |(a, b)| b.saturating_sub(a) / u128::from(n));
    println!("{label:<40} {cpu:>9} ns/call on CPU ({wall} wall)");
}

fn main() {
    // edit_1k.yaml's response edits; the template `$request_id` renders to
    // a string of a request id's length.
    let edits = vec![
        BodyEdit::Remove(pointer("/internal")),
        BodyEdit::Rename(pointer("/user/fullName"), "name".into()),
        BodyEdit::Set(
            pointer("/gateway"),
            EditValue::Json(serde_json::Value::Null),
        ),
    ];
    let values = || {
        vec![
            Json::Null,
            Json::Null,
            Json::String("0190c2d4-5b7e-7c1a-9f3e-2a4b6c8d0e1f".into()),
        ]
    };
    for file in ["json1k.json", "json16k.json"] {
        let body = bench_file(file);
        let n = if body.len() < 4096 { 200_000 } else { 20_000 };
        time(&format!("edit {file} ({} B)", body.len()), n, || {
            let out = transform::edit_body(black_box(&body), &edits, values());
            black_box(out.expect("JSON"));
        });
        // The same edits on the whole parsed tree, for comparison.
        time(&format!("  whole-tree edit {file}"), n, || {
            let mut doc = Json::parse(black_box(&body)).expect("JSON");
            transform::apply_edits(&mut doc, &edits, values());
            black_box(doc.to_json_string());
        });
    }

    let xml16k = bench_file("xml16k.xml");
    let opts = XmlOptions {
        arrays: vec!["/orders/order".into()],
        ..XmlOptions::default()
    };
    time(
        &format!("xml_to_json xml16k.xml ({} B)", xml16k.len()),
        5_000,
        || {
            let json = xml::xml_to_json(black_box(&xml16k), &opts).expect("XML");
            black_box(json.to_json_string());
        },
    );
    time("  as text (what the policy sends)", 5_000, || {
        black_box(xml::xml_to_json_text(black_box(&xml16k), &opts).expect("XML"));
    });
    let json = xml::xml_to_json(&xml16k, &opts)
        .expect("XML")
        .to_json_string();
    time(
        &format!("json_to_xml of that ({} B)", json.len()),
        5_000,
        || {
            black_box(xml::json_bytes_to_xml(black_box(json.as_bytes()), &opts).expect("JSON"));
        },
    );
}
