//! The in-place body form (`typed::json_doc`): its validator must agree
//! with the `serde_json::Value` one on every body, and refuse to read what
//! it cannot represent exactly.

use serde_json::{json, Value};

use crate::json_doc::parse;
use crate::JsonSchema;

/// Both verdicts for `body` against `schema`; the in-place one is `None`
/// when the body was not read in place.
fn verdicts(schema: &Value, body: &str) -> (Option<bool>, Option<bool>) {
    let s = JsonSchema::compile(schema, None, "test".into()).expect("schema compiles");
    let in_place = parse(body.as_bytes())
        .ok()
        .map(|doc| s.in_place.is_valid(doc.root()));
    let value = serde_json::from_slice::<Value>(body.as_bytes())
        .ok()
        .map(|v| s.validator.is_valid(&v));
    (in_place, value)
}

#[test]
fn in_place_verdicts_match_value_verdicts() {
    let order = json!({
        "type": "object",
        "required": ["id", "items", "currency"],
        "properties": {
            "id": {"type": "string", "pattern": "^ord-[0-9]+$"},
            "name": {"type": "string", "minLength": 2, "maxLength": 3},
            "items": {
                "type": "array", "maxItems": 2, "uniqueItems": true,
                "items": {"type": "object", "required": ["qty"],
                          "properties": {"qty": {"type": "integer", "minimum": 1}}}
            },
            "currency": {"enum": ["EUR", "USD", 1, {"a": [1]}]},
            "n": {"const": 2},
            "m": {"type": "number", "exclusiveMaximum": 10, "multipleOf": 0.5}
        },
        "propertyNames": {"maxLength": 8},
        "additionalProperties": {"type": ["string", "boolean", "null"]},
        "maxProperties": 6
    });
    let bodies = [
        r#"{"id": "ord-1", "items": [{"qty": 1}], "currency": "EUR"}"#,
        r#"{"id": "ord-x", "items": [{"qty": 1}], "currency": "EUR"}"#,
        r#"{"id": "ord-1", "items": [{"qty": 0}], "currency": "EUR"}"#,
        r#"{"id": "ord-1", "items": [{"qty": 1.0}], "currency": "USD"}"#,
        r#"{"id": "ord-1", "items": [{"qty": 1.5}], "currency": "USD"}"#,
        r#"{"id": "ord-1", "items": [{"qty": 1}, {"qty": 1}], "currency": 1}"#,
        r#"{"id": "ord-1", "items": [{"qty": 1}, {"qty": 2}, {"qty": 3}], "currency": 1.0}"#,
        r#"{"id": "ord-1", "items": [], "currency": {"a": [1.0]}}"#,
        r#"{"id": "ord-1", "items": [], "currency": {"a": [2]}}"#,
        r#"{"id": "ord-1", "items": [], "currency": "GBP"}"#,
        r#"{"id": "ord-1", "items": []}"#,
        r#"{"id": "ord-1", "items": [], "currency": "EUR", "name": "h\u00e9h"}"#,
        r#"{"id": "ord-1", "items": [], "currency": "EUR", "name": "🦀🦀🦀🦀"}"#,
        r#"{"id": "ord-1", "items": [], "currency": "EUR", "name": "🦀🦀"}"#,
        r#"{"id": "ord-1", "items": [], "currency": "EUR", "n": 2.0, "m": 9.5}"#,
        r#"{"id": "ord-1", "items": [], "currency": "EUR", "n": 3, "m": 10}"#,
        r#"{"id": "ord-1", "items": [], "currency": "EUR", "m": 9.25}"#,
        r#"{"id": "ord-1", "items": [], "currency": "EUR", "extra": true, "x": null}"#,
        r#"{"id": "ord-1", "items": [], "currency": "EUR", "extra": 5}"#,
        r#"{"id": "ord-1", "items": [], "currency": "EUR", "very-long-name": "a"}"#,
        r#"{"id": "ord-1", "items": [], "currency": "EUR", "a": "", "b": "", "c": ""}"#,
        r#"{"i\u0064": "ord-1", "items": [], "currency": "EUR"}"#,
        r#"{"id": "ord-\u0031", "items": [], "currency": "\u0045UR"}"#,
        r#"[1, 2]"#,
        r#""ord-1""#,
        r#"{"id": "ord-1", "items": [{"qty": 18446744073709551615}], "currency": "EUR"}"#,
    ];
    for body in bodies {
        let (in_place, value) = verdicts(&order, body);
        assert!(value.is_some(), "{body} is JSON");
        assert_eq!(in_place, value, "{body}");
    }
}

#[test]
fn bodies_the_value_parser_refuses_are_refused_in_place() {
    for body in [
        "{not json",
        "[1,]",
        r#"{"a": 1} x"#,
        "\"\\ud800\"",
        "[1e400]",
        "",
    ] {
        assert!(serde_json::from_str::<Value>(body).is_err(), "{body}");
        assert!(parse(body.as_bytes()).is_err(), "{body}");
    }
    let bad_utf8: &[u8] = b"[\"\xff\"]";
    assert!(parse(bad_utf8).is_err());
}

#[test]
fn a_member_name_twice_is_not_read_in_place() {
    // A `Value` keeps the last one: that object is only checked as a `Value`.
    assert!(parse(br#"{"a": 1, "b": 2, "a": 3}"#).is_err());
    assert!(parse(br#"{"x": {"a": 1, "\u0061": 2}}"#).is_err());
    let many: Vec<String> = (0..40).map(|i| format!("\"k{}\": 1", i % 39)).collect();
    assert!(parse(format!("{{{}}}", many.join(",")).as_bytes()).is_err());
    let distinct: Vec<String> = (0..40).map(|i| format!("\"k{i}\": 1")).collect();
    assert!(parse(format!("{{{}}}", distinct.join(",")).as_bytes()).is_ok());
}

#[test]
fn schemas_with_draft_7_and_references_agree_too() {
    let schema = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"pos": {"type": "integer", "minimum": 1}},
        "type": "array",
        "items": [{"$ref": "#/definitions/pos"}, {"type": "string"}],
        "additionalItems": false,
        "contains": {"type": "string"}
    });
    for body in [
        r#"[1, "a"]"#,
        r#"[0, "a"]"#,
        r#"[1, 2]"#,
        r#"[1, "a", 3]"#,
        "[]",
    ] {
        let (in_place, value) = verdicts(&schema, body);
        assert_eq!(in_place, value, "{body}");
    }
}
