//! Answers against the OpenAPI operation their request matched (report
//! mode: what is found is logged and counted by the caller, never used to
//! block):
//! - the `responses` entry is the one for the exact status, then its class
//!   (`2XX`), then `default`; a status none of them covers is a violation
//!   (when the operation declares any response at all);
//! - declared header fields are checked as parameters are (present when
//!   `required`, the value against the schema);
//! - when the entry declares `content`, the answer's media type must be
//!   one of it (exact, then `type/*`, then `*/*`), and a JSON body
//!   (`application/json`, `+json`) is checked against that media type's
//!   schema once it has been received whole.

use http::header::CONTENT_TYPE;
use http::HeaderMap;
use tollgate_config::{JsonSchema, Operation, ResponseRule, StatusMatch};

use super::openapi::check_value_text;
use super::Violation;

/// What an answer's status and header fields show.
#[derive(Debug, Default)]
pub struct AnswerHead<'a> {
    /// Found in the status, the header fields and the media type.
    pub violations: Vec<Violation>,
    /// The schema the body must satisfy (a declared JSON media type).
    pub body: Option<&'a JsonSchema>,
}

/// The `responses` entry of `op` for `status`: exact, class, `default`.
pub fn response_for(op: &Operation, status: u16) -> Option<&ResponseRule> {
    let find = |want: StatusMatch| op.responses.iter().find(|r| r.status == want);
    find(StatusMatch::Exact(status))
        .or_else(|| find(StatusMatch::Class(status / 100)))
        .or_else(|| find(StatusMatch::Default))
}

/// Checks an answer's status, header fields and media type against the
/// operation's `responses`, and finds the schema of its body.
pub fn check_head<'a>(op: &'a Operation, status: u16, headers: &HeaderMap) -> AnswerHead<'a> {
    let mut head = AnswerHead::default();
    if op.responses.is_empty() {
        return head;
    }
    let Some(rule) = response_for(op, status) else {
        head.violations.push(Violation {
            pointer: String::new(),
            message: format!("status {status} is not declared for this operation"),
        });
        return head;
    };
    for h in &rule.headers {
        let value = headers.get(h.name.as_str()).and_then(|v| v.to_str().ok());
        let label = || format!("header `{}`", h.name);
        match (value, &h.schema) {
            (None, _) if h.required => head.violations.push(Violation {
                pointer: String::new(),
                message: format!("{} is required", label()),
            }),
            (Some(v), Some(schema)) => {
                head.violations
                    .extend(check_value_text(schema, v.trim(), &label()));
            }
            _ => {}
        }
    }
    if rule.content.is_empty() {
        return head;
    }
    let essence = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let Some(essence) = essence.filter(|e| !e.is_empty()) else {
        return head;
    };
    let (kind, _) = essence.split_once('/').unwrap_or((&essence, ""));
    let declared = |range: &str| rule.content.iter().find(|m| m.media_type == range);
    let media = declared(&essence)
        .or_else(|| declared(&format!("{kind}/*")))
        .or_else(|| declared("*/*"));
    match media {
        Some(m) if is_json(&essence) => head.body = m.schema.as_ref(),
        Some(_) => {}
        None => head.violations.push(Violation {
            pointer: String::new(),
            message: format!("content type `{essence}` is not declared for status {status}"),
        }),
    }
    head
}

/// `application/json` or a `+json` media type.
pub fn is_json(essence: &str) -> bool {
    essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json")
}
