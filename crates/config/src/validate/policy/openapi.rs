//! Reading an OpenAPI 3.0 / 3.1 document for the `validate` policy: only
//! the parts requests are checked against (paths, operations, their path /
//! query / header parameters and JSON request body), read from the JSON
//! tree rather than through a full OpenAPI model, so that nothing else in
//! the document can make it fail to load. Local references
//! (`#/components/...`) are followed for parameters and request bodies,
//! and resolved inside schemas by compiling each schema beside the
//! document's `components`; other references are errors. An operation's
//! `responses` are read only when answers are checked against them.
//! Schemas of 3.0 documents are rewritten into 2020-12 first (`openapi30`).

use std::path::Path;

use http::Method;
use serde_json::{Map, Value};

use super::openapi30;
use super::validate::{compile_schema, parse_document, read_document};
use crate::typed::*;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// What is read of a document besides its requests.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReadOptions {
    /// A request matching no operation is passed on.
    pub(super) pass_unknown: bool,
    /// The operations' `responses` are read (answers are checked).
    pub(super) responses: bool,
}

/// Reads the document at `file` (`shown` as written in the config).
pub(super) fn read(file: &Path, shown: &str, options: ReadOptions) -> Result<OpenApi, String> {
    from_document(&read_document(file)?, shown, options)
}

/// Reads an OpenAPI document from text (JSON when `json`, else YAML), as
/// `validate.openapi` does with a file (its `responses` too); errors start
/// with `shown`.
pub fn openapi_from_str(text: &str, shown: &str, json: bool) -> Result<OpenApi, String> {
    let options = ReadOptions {
        pass_unknown: false,
        responses: true,
    };
    from_document(&parse_document(text, shown, json)?, shown, options)
}

fn from_document(doc: &Value, shown: &str, options: ReadOptions) -> Result<OpenApi, String> {
    let version = doc.get("openapi").and_then(Value::as_str).unwrap_or("");
    if !(version.starts_with("3.0") || version.starts_with("3.1")) {
        return Err(format!(
            "{shown}: `openapi: {version}`: only OpenAPI 3.0 and 3.1 documents are read"
        ));
    }
    let v30 = version.starts_with("3.0");
    let mut components = doc.get("components").cloned().unwrap_or(Value::Null);
    if let (true, Some(Value::Object(schemas))) = (v30, components.get_mut("schemas")) {
        schemas.values_mut().for_each(openapi30::to_2020);
    }
    let reader = Reader {
        doc,
        components,
        shown,
        v30,
    };
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{shown}: no `paths` mapping"))?;
    let mut operations = Vec::new();
    for (template, item) in paths {
        let at = format!("paths.{template}");
        let segments = segments(template).map_err(|e| format!("{shown}: {at}: {e}"))?;
        let item = reader.resolve(item, &at)?;
        let shared = item.get("parameters");
        for m in METHODS {
            let Some(op) = item.get(m) else { continue };
            let at = format!("{at}.{m}");
            let mut parameters = reader.parameters(shared, &format!("{at}.parameters"))?;
            for p in reader.parameters(op.get("parameters"), &format!("{at}.parameters"))? {
                // An operation's parameter overrides the path item's of the same name and place.
                parameters.retain(|q: &Parameter| q.name != p.name || q.location != p.location);
                parameters.push(p);
            }
            let body = match op.get("requestBody") {
                Some(b) => Some(reader.body(b, &format!("{at}.requestBody"))?),
                None => None,
            };
            let responses = match (options.responses, op.get("responses")) {
                (true, Some(r)) => reader.responses(r, &format!("{at}.responses"))?,
                _ => Vec::new(),
            };
            operations.push(Operation {
                method: Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                    .unwrap_or(Method::GET),
                template: template.clone(),
                segments: segments.clone(),
                parameters,
                body,
                responses,
            });
        }
    }
    Ok(OpenApi {
        operations,
        pass_unknown: options.pass_unknown,
        source: shown.to_string(),
    })
}

/// `/pets/{id}` → literal `pets`, parameter `id`.
fn segments(template: &str) -> Result<Vec<TemplateSegment>, String> {
    let rest = template
        .strip_prefix('/')
        .ok_or("a path template must start with `/`")?;
    Ok(rest
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => TemplateSegment::Param(name.to_string()),
                None => TemplateSegment::Literal(s.to_string()),
            },
        )
        .collect())
}

struct Reader<'a> {
    doc: &'a Value,
    /// The document's `components` (its schemas rewritten, for 3.0).
    components: Value,
    shown: &'a str,
    /// An OpenAPI 3.0 document: schemas are rewritten before compiling.
    v30: bool,
}

impl<'a> Reader<'a> {
    /// Follows a local `$ref` (at most 8 deep).
    fn resolve(&self, mut v: &'a Value, at: &str) -> Result<&'a Value, String> {
        for _ in 0..8 {
            let Some(r) = v.get("$ref").and_then(Value::as_str) else {
                return Ok(v);
            };
            let pointer = r.strip_prefix('#').ok_or_else(|| {
                format!("{}: {at}: `$ref: {r}`: only references inside the document (`#/...`) are followed", self.shown)
            })?;
            v = self
                .doc
                .pointer(pointer)
                .ok_or_else(|| format!("{}: {at}: `$ref: {r}` points at nothing", self.shown))?;
        }
        Err(format!("{}: {at}: references nested too deep", self.shown))
    }

    fn parameters(&self, list: Option<&'a Value>, at: &str) -> Result<Vec<Parameter>, String> {
        let Some(list) = list else {
            return Ok(Vec::new());
        };
        let items = list
            .as_array()
            .ok_or_else(|| format!("{}: {at}: expected a list", self.shown))?;
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("{at}[{i}]");
            let p = self.resolve(item, &at)?;
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            let location = match p.get("in").and_then(Value::as_str) {
                Some("path") => ParamIn::Path,
                Some("query") => ParamIn::Query,
                Some("header") => ParamIn::Header,
                // Cookie parameters are not checked.
                Some("cookie") => continue,
                other => {
                    return Err(format!(
                        "{}: {at}.in: `{}`: expected `path`, `query`, `header` or `cookie`",
                        self.shown,
                        other.unwrap_or("")
                    ))
                }
            };
            if name.is_empty() {
                return Err(format!("{}: {at}: a parameter needs a `name`", self.shown));
            }
            let required = location == ParamIn::Path
                || p.get("required").and_then(Value::as_bool).unwrap_or(false);
            let schema = match p.get("schema") {
                Some(s) => Some(self.schema(s, &format!("{at}.schema"))?),
                None => None,
            };
            let name = match location {
                ParamIn::Header => name.to_ascii_lowercase(),
                _ => name.to_string(),
            };
            out.push(Parameter {
                name,
                location,
                required,
                schema,
            });
        }
        Ok(out)
    }

    fn body(&self, b: &'a Value, at: &str) -> Result<RequestBodyRule, String> {
        let b = self.resolve(b, at)?;
        let required = b.get("required").and_then(Value::as_bool).unwrap_or(false);
        let content = b.get("content").and_then(Value::as_object);
        // application/json, or another JSON media type (`+json`).
        let json =
            content.and_then(|c| c.iter().find(|(k, _)| is_json(&essence(k))).map(|(_, v)| v));
        let schema = match json.and_then(|m| m.get("schema")) {
            Some(s) => Some(self.schema(s, &format!("{at}.content.schema"))?),
            None => None,
        };
        Ok(RequestBodyRule { required, schema })
    }

    /// An operation's `responses`: for each status entry, its media types
    /// (the schemas of JSON ones compiled) and header fields.
    fn responses(&self, map: &'a Value, at: &str) -> Result<Vec<ResponseRule>, String> {
        let map = map
            .as_object()
            .ok_or_else(|| format!("{}: {at}: expected a mapping", self.shown))?;
        let mut out = Vec::new();
        for (key, r) in map.iter().filter(|(k, _)| !k.starts_with("x-")) {
            let at = format!("{at}.{key}");
            let status = status_match(key).ok_or_else(|| {
                format!(
                    "{}: {at}: expected a status code (`200`), a class (`2XX`) or `default`",
                    self.shown
                )
            })?;
            let r = self.resolve(r, &at)?;
            let mut content = Vec::new();
            for (media, m) in r
                .get("content")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let media_type = essence(media);
                let schema = match m.get("schema") {
                    Some(s) if is_json(&media_type) => {
                        Some(self.schema(s, &format!("{at}.content.{media}.schema"))?)
                    }
                    _ => None,
                };
                content.push(MediaRule { media_type, schema });
            }
            let headers = self.response_headers(r.get("headers"), &format!("{at}.headers"))?;
            out.push(ResponseRule {
                status,
                content,
                headers,
            });
        }
        Ok(out)
    }

    /// A response's `headers` (`Content-Type` is ignored, as OpenAPI says).
    fn response_headers(&self, map: Option<&'a Value>, at: &str) -> Result<Vec<Parameter>, String> {
        let mut out = Vec::new();
        for (name, h) in map.and_then(Value::as_object).into_iter().flatten() {
            if name.eq_ignore_ascii_case("content-type") {
                continue;
            }
            let at = format!("{at}.{name}");
            let h = self.resolve(h, &at)?;
            let schema = match h.get("schema") {
                Some(s) => Some(self.schema(s, &format!("{at}.schema"))?),
                None => None,
            };
            out.push(Parameter {
                name: name.to_ascii_lowercase(),
                location: ParamIn::Header,
                required: h.get("required").and_then(Value::as_bool).unwrap_or(false),
                schema,
            });
        }
        Ok(out)
    }

    /// Compiles a schema of the document, with its `components` beside it
    /// so that `#/components/schemas/...` references resolve.
    fn schema(&self, s: &Value, at: &str) -> Result<JsonSchema, String> {
        let mut s = s.clone();
        if self.v30 {
            openapi30::to_2020(&mut s);
        }
        let mut root = match s {
            Value::Object(m) => m,
            Value::Bool(true) => Map::new(),
            Value::Bool(false) => {
                let mut m = Map::new();
                m.insert("not".into(), Value::Object(Map::new()));
                m
            }
            _ => return Err(format!("{}: {at}: a schema must be a mapping", self.shown)),
        };
        if !self.components.is_null() {
            root.insert("components".into(), self.components.clone());
        }
        let source = format!("{}#{at}", self.shown);
        compile_schema(
            &Value::Object(root),
            Some(jsonschema::Draft::Draft202012),
            source,
        )
        .map_err(|e| format!("{}: {at}: {e}", self.shown))
    }
}

/// `200` → exact, `2XX` → class 2, `default`; `None` for anything else.
fn status_match(key: &str) -> Option<StatusMatch> {
    if key == "default" {
        return Some(StatusMatch::Default);
    }
    let b = key.as_bytes();
    if b.len() != 3 || !(b'1'..=b'5').contains(&b[0]) {
        return None;
    }
    if b[1..].eq_ignore_ascii_case(b"XX") {
        return Some(StatusMatch::Class(u16::from(b[0] - b'0')));
    }
    key.parse().ok().map(StatusMatch::Exact)
}

/// A media type without its parameters, lowercase.
fn essence(media: &str) -> String {
    media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `application/json` or a `+json` media type (an essence).
fn is_json(essence: &str) -> bool {
    essence == "application/json" || essence.ends_with("+json")
}
