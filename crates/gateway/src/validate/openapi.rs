//! Requests against an OpenAPI document:
//! - the operation is the one whose path template and method match; a
//!   template with more literal segments wins (`/pets/mine` before
//!   `/pets/{id}`), then the document's order;
//! - every parameter the operation declares is checked: present when
//!   required (path parameters always are), and its value against its
//!   schema; a value that reads as a JSON number or boolean is checked as
//!   one when it fails as text (parameters arrive as text);
//! - a parameter's violation has the pointer inside its value (usually
//!   `""`) and a message naming it (`query parameter `limit`: ...`);
//! - the body is checked when the operation declares a JSON body (an
//!   empty body is refused only when the body is `required`).

use http::{HeaderMap, Method};
use serde_json::Value;
use tollgate_config::{OpenApi, Operation, ParamIn, Parameter, RequestBodyRule, TemplateSegment};

use super::{check_body, check_value, Violation};
use crate::key_auth::percent_decode;

/// The operation `method` and `path` are for, with the path parameters'
/// values (percent-decoded).
pub fn find<'a>(
    api: &'a OpenApi,
    method: &Method,
    path: &str,
) -> Option<(&'a Operation, Vec<(&'a str, String)>)> {
    let segs: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let mut best: Option<(&Operation, usize)> = None;
    for op in api.operations.iter().filter(|o| o.method == *method) {
        if op.segments.len() != segs.len() {
            continue;
        }
        let mut literals = 0;
        let fits = op.segments.iter().zip(&segs).all(|(t, s)| match t {
            TemplateSegment::Literal(l) => {
                literals += 1;
                l == s
            }
            TemplateSegment::Param(_) => !s.is_empty(),
        });
        if fits && best.is_none_or(|(_, n)| literals > n) {
            best = Some((op, literals));
        }
    }
    let (op, _) = best?;
    let values = op
        .segments
        .iter()
        .zip(&segs)
        .filter_map(|(t, s)| match t {
            TemplateSegment::Param(name) => Some((
                name.as_str(),
                percent_decode(s).unwrap_or_else(|| s.to_string()),
            )),
            TemplateSegment::Literal(_) => None,
        })
        .collect();
    Some((op, values))
}

/// Checks the operation's parameters.
pub fn check_parameters(
    op: &Operation,
    path_values: &[(&str, String)],
    query: Option<&str>,
    headers: &HeaderMap,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for p in &op.parameters {
        let value: Option<String> = match p.location {
            ParamIn::Path => path_values
                .iter()
                .find(|(n, _)| *n == p.name)
                .map(|(_, v)| v.clone()),
            ParamIn::Query => query.and_then(|q| query_value(q, &p.name)),
            ParamIn::Header => headers
                .get(p.name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string()),
        };
        match value {
            None if p.required => out.push(Violation {
                pointer: String::new(),
                message: format!("{} is required", describe(p)),
            }),
            None => {}
            Some(v) => out.extend(check_parameter(p, &v)),
        }
    }
    out
}

fn check_parameter(p: &Parameter, text: &str) -> Vec<Violation> {
    let Some(schema) = &p.schema else {
        return Vec::new();
    };
    let as_text = Value::String(text.to_string());
    let Err(first) = check_value(schema, &as_text) else {
        return Vec::new();
    };
    let typed = serde_json::from_str::<Value>(text)
        .ok()
        .filter(|v| v.is_number() || v.is_boolean());
    let violations = match typed {
        Some(v) => match check_value(schema, &v) {
            Ok(()) => return Vec::new(),
            Err(e) => e,
        },
        None => first,
    };
    violations
        .into_iter()
        .map(|v| Violation {
            pointer: v.pointer,
            message: format!("{}: {}", describe(p), v.message),
        })
        .collect()
}

fn describe(p: &Parameter) -> String {
    let place = match p.location {
        ParamIn::Path => "path",
        ParamIn::Query => "query",
        ParamIn::Header => "header",
    };
    format!("{place} parameter `{}`", p.name)
}

fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(n).as_deref() == Some(name))
            .then(|| percent_decode(v).unwrap_or_else(|| v.to_string()))
    })
}

/// Checks a body against the operation's JSON body rule.
pub fn check_operation_body(rule: &RequestBodyRule, body: &[u8]) -> Vec<Violation> {
    if body.is_empty() {
        return if rule.required {
            vec![Violation {
                pointer: String::new(),
                message: "a request body is required".into(),
            }]
        } else {
            Vec::new()
        };
    }
    match &rule.schema {
        Some(schema) => check_body(schema, body).err().unwrap_or_default(),
        None => Vec::new(),
    }
}
