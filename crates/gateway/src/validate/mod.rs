//! The `validate` policy's rules, independent of sockets:
//! - a request body must be JSON (`Content-Type` is not trusted: the bytes
//!   are parsed) and satisfy the route's JSON Schema, compiled at load;
//! - every violation is reported with the JSON Pointer of the offending
//!   value (`/amount`; empty for the document itself) and a message, at
//!   most [`MAX_VIOLATIONS`] of them, each message cut to 200 characters
//!   (it may quote the value sent);
//! - the refusal is a 400, written as `{"error": "request validation
//!   failed", "violations": [...]}` or as `application/problem+json`
//!   (RFC 9457: `type`, `title`, `status`, `detail`, with `violations` as
//!   an extension member);
//! - against an OpenAPI document (`openapi`), the request's operation,
//!   parameters and body are checked, and its answer against the
//!   operation's `responses` ([`answer`]).

pub mod answer;
pub mod openapi;

use serde_json::{json, Value};
use tollgate_config::json_doc;
use tollgate_config::{ErrorFormat, JsonSchema};

/// Most violations listed in one refusal.
pub const MAX_VIOLATIONS: usize = 20;

/// One thing wrong with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON Pointer of the value at fault (`""`: the whole body).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// Checks a body against `schema`: `Ok` when it is JSON and valid.
/// The body is first read in place and checked by the validator compiled
/// for that form (`json_doc`: no `Value`, strings borrowed): that is the
/// whole cost of a valid body. A body found invalid there (or not read
/// there: not JSON, a member name twice) is read again as a `Value` for
/// the violations, or the parser's error, exactly as written before.
pub fn check_body(schema: &JsonSchema, body: &[u8]) -> Result<(), Vec<Violation>> {
    if json_doc::parse(body).is_ok_and(|doc| schema.in_place.is_valid(doc.root())) {
        return Ok(());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        vec![Violation {
            pointer: String::new(),
            message: format!("the body is not JSON: {e}"),
        }]
    })?;
    check_value(schema, &value)
}

/// Checks a JSON value against `schema`. The validator's yes/no answer
/// comes first: it stops at the first failure and builds no error, so a
/// valid value (the common case) costs only that; the violations are
/// collected only for a value that fails.
pub fn check_value(schema: &JsonSchema, value: &Value) -> Result<(), Vec<Violation>> {
    if schema.validator.is_valid(value) {
        return Ok(());
    }
    let violations: Vec<Violation> = schema
        .validator
        .iter_errors(value)
        .take(MAX_VIOLATIONS)
        .map(|e| Violation {
            pointer: e.instance_path().as_str().to_string(),
            message: shorten(e.to_string()),
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

fn shorten(mut s: String) -> String {
    if s.len() > 200 {
        let mut cut = 200;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// The refusal's content type and body.
pub fn refusal_body(format: ErrorFormat, violations: &[Violation]) -> (&'static str, String) {
    let list: Vec<Value> = violations
        .iter()
        .map(|v| json!({"pointer": v.pointer, "message": v.message}))
        .collect();
    match format {
        ErrorFormat::Json => (
            "application/json",
            json!({"error": "request validation failed", "violations": list}).to_string(),
        ),
        ErrorFormat::Problem => (
            "application/problem+json",
            json!({
                "type": "about:blank",
                "title": "Bad Request",
                "status": 400,
                "detail": "request validation failed",
                "violations": list,
            })
            .to_string(),
        ),
    }
}

#[cfg(test)]
mod tests;
