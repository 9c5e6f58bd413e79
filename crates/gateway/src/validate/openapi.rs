//! Requests against an OpenAPI document:
//! - the operation is the one whose path template and method match; a
//!   template with more literal segments wins (`/pets/mine` before
//!   `/pets/{id}`), then the paths in sorted order (the document is read
//!   into a sorted map, so its own order is not kept);
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
use tollgate_config::{
    JsonSchema, OpenApi, Operation, ParamIn, Parameter, RequestBodyRule, TemplateSegment,
};

use super::{check_body, check_value, Violation};
use crate::key_auth::percent_decode;

/// The operation a request is for.
#[derive(Debug)]
pub struct Found<'a> {
    /// Its position in the document's operations.
    pub index: usize,
    /// The operation.
    pub operation: &'a Operation,
    /// The path parameters' values (percent-decoded).
    pub path_values: Vec<(&'a str, String)>,
}

/// The operation `method` and `path` are for, with the path parameters'
/// values.
pub fn find<'a>(api: &'a OpenApi, method: &Method, path: &str) -> Option<Found<'a>> {
    let segs: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let mut best: Option<(usize, usize)> = None;
    for (index, op) in api.operations.iter().enumerate() {
        if op.method != *method || op.segments.len() != segs.len() {
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
            best = Some((index, literals));
        }
    }
    let (index, _) = best?;
    let operation = &api.operations[index];
    let path_values = operation
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
    Some(Found {
        index,
        operation,
        path_values,
    })
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
    match &p.schema {
        Some(schema) => check_value_text(schema, text, &describe(p)),
        None => Vec::new(),
    }
}

/// Checks a value that arrived as text (a parameter, a header field)
/// against `schema`: as a string, then, when that fails and the text reads
/// as a JSON number or boolean, as that. Messages start with `label`.
pub fn check_value_text(schema: &JsonSchema, text: &str, label: &str) -> Vec<Violation> {
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
            message: format!("{label}: {}", v.message),
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
