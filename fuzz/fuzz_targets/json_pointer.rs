//! JSON Pointer edits on arbitrary input: the first line holds pointers
//! (separated by spaces) and the rest is a JSON document. Every kind of
//! edit runs with every pointer; none may panic, and the edited document
//! must still serialize to JSON that reads back to the same tree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_config::Pointer;
use tollgate_gateway::transform::pointer;
use tollgate_gateway::xml::Json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, doc) = text.split_once('\n').unwrap_or((text, "{}"));
    let Ok(mut json) = Json::parse(doc.as_bytes()) else {
        return;
    };
    let pointers: Vec<Pointer> = first
        .split(' ')
        .filter_map(|p| Pointer::parse(p).ok())
        .take(8)
        .collect();
    for (i, p) in pointers.iter().enumerate() {
        let other = &pointers[(i + 1) % pointers.len()];
        let _ = pointer::set(&mut json, &p.tokens, Json::String("s".into()));
        let _ = pointer::add(&mut json, &other.tokens, Json::Array(vec![Json::Null]));
        let _ = pointer::rename(&mut json, &p.tokens, "renamed");
        let _ = pointer::move_value(&mut json, &other.tokens, &p.tokens);
        let _ = pointer::remove(&mut json, &other.tokens);
    }
    let out = json.to_json_string();
    let back = Json::parse(out.as_bytes()).expect("edited JSON reads back");
    assert_eq!(back.to_json_string(), out);
});
