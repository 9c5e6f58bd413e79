use std::sync::Arc;

use serde_json::json;

use super::*;

fn schema(v: serde_json::Value) -> JsonSchema {
    JsonSchema {
        validator: Arc::new(jsonschema::validator_for(&v).unwrap()),
        source: "test".into(),
    }
}

#[test]
fn valid_body_passes_and_each_violation_has_its_pointer() {
    let s = schema(json!({
        "type": "object",
        "required": ["amount", "currency"],
        "properties": {
            "amount": {"type": "integer", "minimum": 1},
            "currency": {"enum": ["EUR", "USD"]}
        }
    }));
    assert!(check_body(&s, br#"{"amount": 5, "currency": "EUR"}"#).is_ok());
    let v = check_body(&s, br#"{"amount": 0, "currency": "XXX"}"#).unwrap_err();
    let pointers: Vec<&str> = v.iter().map(|v| v.pointer.as_str()).collect();
    assert!(pointers.contains(&"/amount"), "{v:?}");
    assert!(pointers.contains(&"/currency"), "{v:?}");
    let v = check_body(&s, br#"{"amount": 5}"#).unwrap_err();
    assert_eq!(v[0].pointer, "");
    assert!(v[0].message.contains("currency"), "{v:?}");
    let v = check_body(&s, b"{not json").unwrap_err();
    assert!(v[0].message.starts_with("the body is not JSON"), "{v:?}");
}

#[test]
fn draft7_schema_is_honoured() {
    let s = schema(json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "array",
        "items": {"type": "string"}
    }));
    assert!(check_body(&s, br#"["a"]"#).is_ok());
    assert_eq!(check_body(&s, b"[1]").unwrap_err()[0].pointer, "/0");
}

#[test]
fn refusal_bodies_in_both_formats() {
    let v = vec![Violation {
        pointer: "/amount".into(),
        message: "0 is less than the minimum of 1".into(),
    }];
    let (ct, body) = refusal_body(ErrorFormat::Json, &v);
    assert_eq!(ct, "application/json");
    let b: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(b["error"], "request validation failed");
    assert_eq!(b["violations"][0]["pointer"], "/amount");
    let (ct, body) = refusal_body(ErrorFormat::Problem, &v);
    assert_eq!(ct, "application/problem+json");
    let b: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(b["status"], 400);
    assert_eq!(b["violations"][0]["pointer"], "/amount");
}

#[test]
fn openapi_operations_prefer_literal_segments_and_decode_parameters() {
    let api = tollgate_config::openapi_from_str(
        r#"{"openapi": "3.0.3", "paths": {
            "/pets/{id}": {"get": {"parameters": [{"name": "id", "in": "path", "schema": {"type": "integer"}}]}},
            "/pets/mine": {"get": {}},
            "/pets": {"post": {"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}}}
        }}"#,
        "api.json",
        true,
    )
    .unwrap();
    let get = http::Method::GET;
    let (op, values) = openapi::find(&api, &get, "/pets/mine").unwrap();
    assert_eq!(op.template, "/pets/mine");
    assert!(values.is_empty());
    let (op, values) = openapi::find(&api, &get, "/pets/a%20b").unwrap();
    assert_eq!(op.template, "/pets/{id}");
    assert_eq!(values, [("id", "a b".to_string())]);
    let v = openapi::check_parameters(op, &values, None, &http::HeaderMap::new());
    assert!(v[0].message.starts_with("path parameter `id`"), "{v:?}");
    let (_, values) = openapi::find(&api, &get, "/pets/7").unwrap();
    assert!(openapi::check_parameters(op, &values, None, &http::HeaderMap::new()).is_empty());
    assert!(openapi::find(&api, &get, "/pets").is_none());
    assert!(openapi::find(&api, &get, "/pets/1/x").is_none());
    let (post, _) = openapi::find(&api, &http::Method::POST, "/pets").unwrap();
    let rule = post.body.as_ref().unwrap();
    assert!(
        openapi::check_operation_body(rule, b"").is_empty(),
        "not required"
    );
    assert_eq!(openapi::check_operation_body(rule, b"[]").len(), 1);
    let err = tollgate_config::openapi_from_str("openapi: 3.1.0\npaths: [\n", "api.yaml", false)
        .unwrap_err();
    assert!(err.starts_with("api.yaml:"), "{err}");
}
