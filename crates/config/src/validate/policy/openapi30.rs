//! OpenAPI 3.0 schemas read as JSON Schema 2020-12: 3.0 has its own
//! dialect, and two of its keywords mean something else (or are invalid)
//! in 2020-12, so they are rewritten before compiling:
//! - `nullable: true` becomes `"null"` added to `type` (`type: [string,
//!   "null"]`), and to `enum` when there is one; a schema without `type`
//!   that combines others (`allOf`, `anyOf`, `oneOf`, `$ref`) becomes
//!   `anyOf: [{type: "null"}, <the schema>]`, the common way of writing a
//!   nullable reference in 3.0;
//! - `exclusiveMinimum: true` / `exclusiveMaximum: true` (booleans that
//!   modify `minimum` / `maximum`) become 2020-12's numbers
//!   (`exclusiveMinimum: 5`); `false` is dropped.
//!
//! Only schema positions are walked (`properties`, `items`,
//! `additionalProperties`, `allOf`, `anyOf`, `oneOf`, `not`), so a
//! property that happens to be named `nullable` is left alone.

use serde_json::{json, Map, Value};

/// Rewrites the 3.0 schema `schema` (and the schemas inside it) in place.
pub(super) fn to_2020(schema: &mut Value) {
    let Value::Object(m) = schema else { return };
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(props)) = m.get_mut(key) {
            props.values_mut().for_each(to_2020);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        match m.get_mut(key) {
            Some(Value::Array(list)) => list.iter_mut().for_each(to_2020),
            Some(inner) => to_2020(inner),
            None => {}
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(list)) = m.get_mut(key) {
            list.iter_mut().for_each(to_2020);
        }
    }
    exclusive_bound(m, "exclusiveMinimum", "minimum");
    exclusive_bound(m, "exclusiveMaximum", "maximum");
    if m.get("nullable").is_some_and(Value::is_boolean) {
        let nullable = m.remove("nullable") == Some(Value::Bool(true));
        if nullable {
            allow_null(schema);
        }
    }
}

/// 3.0's `exclusiveMinimum: true` beside `minimum: 5` is 2020-12's
/// `exclusiveMinimum: 5`.
fn exclusive_bound(m: &mut Map<String, Value>, exclusive: &str, bound: &str) {
    let Some(Value::Bool(on)) = m.get(exclusive) else {
        return;
    };
    let on = *on;
    m.remove(exclusive);
    if on {
        if let Some(limit) = m.remove(bound) {
            m.insert(exclusive.to_string(), limit);
        }
    }
}

/// Lets `null` through a schema that was `nullable: true`.
fn allow_null(schema: &mut Value) {
    let Value::Object(m) = schema else { return };
    if let Some(Value::Array(values)) = m.get_mut("enum") {
        if !values.contains(&Value::Null) {
            values.push(Value::Null);
        }
    }
    match m.get_mut("type") {
        Some(Value::String(t)) => {
            let t = std::mem::take(t);
            m.insert("type".into(), json!([t, "null"]));
        }
        Some(Value::Array(types)) => {
            if !types.iter().any(|t| t == "null") {
                types.push(json!("null"));
            }
        }
        Some(_) => {}
        None => {
            let combines = ["allOf", "anyOf", "oneOf", "$ref"]
                .iter()
                .any(|k| m.contains_key(*k));
            if combines {
                let inner = std::mem::take(schema);
                *schema = json!({"anyOf": [{"type": "null"}, inner]});
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::to_2020;

    fn translated(mut v: serde_json::Value) -> serde_json::Value {
        to_2020(&mut v);
        v
    }

    #[test]
    fn nullable_adds_null_to_type_and_enum() {
        assert_eq!(
            translated(json!({"type": "string", "nullable": true})),
            json!({"type": ["string", "null"]})
        );
        assert_eq!(
            translated(json!({"type": "string", "enum": ["a", "b"], "nullable": true})),
            json!({"type": ["string", "null"], "enum": ["a", "b", null]})
        );
        assert_eq!(
            translated(json!({"type": "integer", "nullable": false})),
            json!({"type": "integer"})
        );
        assert_eq!(
            translated(json!({"nullable": true, "allOf": [{"$ref": "#/components/schemas/Pet"}]})),
            json!({"anyOf": [{"type": "null"}, {"allOf": [{"$ref": "#/components/schemas/Pet"}]}]})
        );
    }

    #[test]
    fn nested_schemas_are_rewritten_and_property_names_left_alone() {
        let v = translated(json!({
            "type": "object",
            "properties": {
                "nullable": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string", "nullable": true}},
                "extra": {"additionalProperties": {"type": "number", "nullable": true}},
                "any": {"oneOf": [{"type": "string", "nullable": true}]}
            }
        }));
        assert_eq!(v["properties"]["nullable"], json!({"type": "boolean"}));
        assert_eq!(
            v["properties"]["tags"]["items"]["type"],
            json!(["string", "null"])
        );
        let extra = &v["properties"]["extra"]["additionalProperties"];
        assert_eq!(extra["type"], json!(["number", "null"]));
        assert_eq!(
            v["properties"]["any"]["oneOf"][0]["type"],
            json!(["string", "null"])
        );
    }

    #[test]
    fn boolean_exclusive_bounds_become_numbers() {
        assert_eq!(
            translated(
                json!({"type": "number", "minimum": 0, "exclusiveMinimum": true,
                              "maximum": 10, "exclusiveMaximum": false})
            ),
            json!({"type": "number", "exclusiveMinimum": 0, "maximum": 10})
        );
        assert_eq!(
            translated(json!({"exclusiveMaximum": 3})),
            json!({"exclusiveMaximum": 3}),
            "the 3.1 form is kept"
        );
    }
}
