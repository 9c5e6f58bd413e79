use serde_json::json;

use super::*;

fn schema(v: serde_json::Value) -> JsonSchema {
    JsonSchema::compile(&v, None, "test".into()).unwrap()
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
    let found = openapi::find(&api, &get, "/pets/mine").unwrap();
    assert_eq!(found.operation.template, "/pets/mine");
    assert!(found.path_values.is_empty());
    let found = openapi::find(&api, &get, "/pets/a%20b").unwrap();
    let op = found.operation;
    assert_eq!(op.template, "/pets/{id}");
    assert!(std::ptr::eq(&api.operations[found.index], op));
    assert_eq!(found.path_values, [("id", "a b".to_string())]);
    let v = openapi::check_parameters(op, &found.path_values, None, &http::HeaderMap::new());
    assert!(v[0].message.starts_with("path parameter `id`"), "{v:?}");
    let found = openapi::find(&api, &get, "/pets/7").unwrap();
    assert!(
        openapi::check_parameters(op, &found.path_values, None, &http::HeaderMap::new()).is_empty()
    );
    assert!(openapi::find(&api, &get, "/pets").is_none());
    assert!(openapi::find(&api, &get, "/pets/1/x").is_none());
    let post = openapi::find(&api, &http::Method::POST, "/pets").unwrap();
    assert_eq!(api.operations[post.index].method, http::Method::POST);
    let rule = post.operation.body.as_ref().unwrap();
    assert!(
        openapi::check_operation_body(rule, b"").is_empty(),
        "not required"
    );
    assert_eq!(openapi::check_operation_body(rule, b"[]").len(), 1);
    let err = tollgate_config::openapi_from_str("openapi: 3.1.0\npaths: [\n", "api.yaml", false)
        .unwrap_err();
    assert!(err.starts_with("api.yaml:"), "{err}");
}

const ANSWERS: &str = r#"{"openapi": "3.0.3", "paths": {"/pets/{id}": {"get": {"responses": {
    "200": {
        "headers": {"X-Total": {"required": true, "schema": {"type": "integer"}}},
        "content": {
            "application/json": {"schema": {"type": "object", "required": ["id"],
                "properties": {"tag": {"type": "string", "nullable": true}}}},
            "image/*": {}
        }
    },
    "4XX": {"content": {"application/problem+json": {"schema": {"type": "object"}}}},
    "404": {"description": "no content declared"},
    "default": {"content": {"text/plain": {}}}
}}}}}"#;

fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
    pairs
        .iter()
        .map(|(n, v)| {
            (
                http::HeaderName::from_static(n),
                http::HeaderValue::from_static(v),
            )
        })
        .collect()
}

#[test]
fn answers_find_their_response_by_exact_status_then_class_then_default() {
    let api = tollgate_config::openapi_from_str(ANSWERS, "api.json", true).unwrap();
    let op = &api.operations[0];
    let status_of = |code| answer::response_for(op, code).map(|r| r.status);
    use tollgate_config::StatusMatch::*;
    assert_eq!(status_of(200), Some(Exact(200)));
    assert_eq!(status_of(404), Some(Exact(404)));
    assert_eq!(status_of(409), Some(Class(4)));
    assert_eq!(status_of(500), Some(Default));
    let json = headers(&[
        ("content-type", "application/json; charset=utf-8"),
        ("x-total", "3"),
    ]);
    let head = answer::check_head(op, 200, &json);
    assert!(head.violations.is_empty(), "{:?}", head.violations);
    let schema = head.body.expect("a JSON body is checked");
    assert!(
        check_body(schema, br#"{"id": 1, "tag": null}"#).is_ok(),
        "3.0 nullable"
    );
    assert_eq!(
        check_body(schema, br#"{"id": 1, "tag": 2}"#).unwrap_err()[0].pointer,
        "/tag"
    );
    let image = headers(&[("content-type", "image/png"), ("x-total", "3")]);
    let head = answer::check_head(op, 200, &image);
    assert!(
        head.violations.is_empty() && head.body.is_none(),
        "{head:?}"
    );
    let problem = headers(&[("content-type", "application/problem+json")]);
    assert!(answer::check_head(op, 418, &problem).body.is_some());
    assert!(
        answer::check_head(op, 404, &problem).violations.is_empty(),
        "no content declared"
    );
}

#[test]
fn answer_heads_report_missing_and_bad_headers_undeclared_types() {
    let api = tollgate_config::openapi_from_str(ANSWERS, "api.json", true).unwrap();
    let op = &api.operations[0];
    let messages = |h: &http::HeaderMap, status| -> Vec<String> {
        answer::check_head(op, status, h)
            .violations
            .into_iter()
            .map(|v| v.message)
            .collect()
    };
    let missing = messages(&headers(&[("content-type", "application/json")]), 200);
    assert_eq!(missing, ["header `x-total` is required"]);
    let bad = messages(
        &headers(&[("content-type", "application/json"), ("x-total", "many")]),
        200,
    );
    assert!(bad[0].starts_with("header `x-total`: "), "{bad:?}");
    let html = messages(
        &headers(&[("content-type", "text/html"), ("x-total", "1")]),
        200,
    );
    assert_eq!(
        html,
        ["content type `text/html` is not declared for status 200"]
    );
    let undeclared = api.operations.iter().find(|o| o.responses.is_empty());
    assert!(undeclared.is_none());
    let no_responses = tollgate_config::openapi_from_str(
        r#"{"openapi": "3.1.0", "paths": {"/x": {"get": {}}}}"#,
        "api.json",
        true,
    )
    .unwrap();
    let none = answer::check_head(&no_responses.operations[0], 599, &http::HeaderMap::new());
    assert!(
        none.violations.is_empty(),
        "an operation declaring no responses"
    );
    let api31 = tollgate_config::openapi_from_str(
        r#"{"openapi": "3.1.0", "paths": {"/x": {"get": {"responses": {"200": {}}}}}}"#,
        "api.json",
        true,
    )
    .unwrap();
    let v = answer::check_head(&api31.operations[0], 500, &http::HeaderMap::new()).violations;
    assert_eq!(
        v[0].message,
        "status 500 is not declared for this operation"
    );
}

#[test]
fn valid_values_skip_error_collection_and_invalid_ones_list_all() {
    let s = schema(json!({"type": "array", "items": {"type": "integer"}}));
    assert!(check_value(&s, &json!([1, 2])).is_ok());
    let v = check_value(&s, &json!(["a", 2, "b"])).unwrap_err();
    let pointers: Vec<&str> = v.iter().map(|v| v.pointer.as_str()).collect();
    assert_eq!(pointers, ["/0", "/2"]);
}

#[test]
fn bodies_not_read_in_place_get_the_value_verdict() {
    // A member name twice: the body is checked as a `Value`, which keeps
    // the last one (the first would fail the schema).
    let s = schema(json!({"properties": {"a": {"type": "integer"}}}));
    assert!(check_body(&s, br#"{"a": "x", "a": 1}"#).is_ok());
    let v = check_body(&s, br#"{"a": 1, "a": "x"}"#).unwrap_err();
    assert_eq!(v[0].pointer, "/a");
    // Invalid in place, then the violations from the `Value`.
    let v = check_body(&s, br#"{"a": 1.5}"#).unwrap_err();
    assert_eq!((v.len(), v[0].pointer.as_str()), (1, "/a"));
    assert!(check_body(&s, br#"{"a": 2.0}"#).is_ok());
}
