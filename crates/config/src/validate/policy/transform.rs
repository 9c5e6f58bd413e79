//! Validation of the reshaping policies: `transform`, `json_to_xml`,
//! `xml_to_json` and `soap`.

use std::sync::Arc;

use http::StatusCode;

use super::super::{p, Ctx, Loc};
use super::header_ops;
use crate::raw::*;
use crate::typed::*;
use crate::units::{parse_bool, parse_uint};

/// Default for `max_body` of every reshaping policy: 1 MiB.
const MAX_BODY: u64 = 1024 * 1024;
/// The largest `max_body` accepted: bodies are held in memory whole.
const MAX_BODY_LIMIT: u64 = 64 * 1024 * 1024;

/// `transform:` → [`TransformPolicy`].
pub(super) fn transform(ctx: &mut Ctx<'_>, raw: &Sp<RawTransform>, path: &str) -> Reshape {
    let r = &raw.value;
    let request = r
        .request
        .as_ref()
        .map(|s| side(ctx, s, &p(path, "request"), true))
        .unwrap_or_default();
    let response = r
        .response
        .as_ref()
        .map(|s| side(ctx, s, &p(path, "response"), false))
        .unwrap_or_default();
    let compressed = ctx.field(
        &r.compressed,
        &p(path, "compressed"),
        Compressed::Decode,
        |s| match s {
            "decode" => Ok(Compressed::Decode),
            "skip" => Ok(Compressed::Skip),
            _ => Err(format!("unknown value `{s}`: expected `decode` or `skip`")),
        },
    );
    Reshape::Transform(Arc::new(TransformPolicy {
        request,
        response,
        max_body: ctx.size(
            &r.max_body,
            &p(path, "max_body"),
            MAX_BODY,
            1,
            MAX_BODY_LIMIT,
        ),
        compressed,
    }))
}

fn side(ctx: &mut Ctx<'_>, raw: &Sp<RawTransformSide>, path: &str, request: bool) -> TransformSide {
    let r = &raw.value;
    let mut out = TransformSide::default();
    if let Some(h) = &r.headers {
        out.headers = header_ops(ctx, &h.value, &p(path, "headers"));
    }
    if let Some(q) = &r.query {
        if request {
            out.query = query(ctx, &q.value, &p(path, "query"));
        } else {
            let loc = ctx.at(q);
            ctx.err(loc, &p(path, "query"), "query edits apply to requests only");
        }
    }
    if let Some(list) = &r.body {
        for (i, item) in list.value.iter().enumerate() {
            if let Some(edit) = body_edit(ctx, item, &format!("{}[{i}]", p(path, "body"))) {
                out.body.push(edit);
            }
        }
    }
    if let Some(map) = &r.status {
        let at = p(path, "status");
        if request {
            let loc = ctx.at(map);
            ctx.err(loc, &at, "status mapping applies to answers only");
        } else {
            for (from, to) in &map.value.0 {
                let here = format!("{at}.{}", from.value);
                let from = ctx.value(from, &here, status);
                let to = ctx.value(to, &here, status);
                if let (Some(from), Some(to)) = (from, to) {
                    out.status.push((from, to));
                }
            }
        }
    }
    out
}

/// A status code 100..=599.
fn status(s: &str) -> Result<StatusCode, String> {
    let n = parse_uint(s)?;
    if !(100..=599).contains(&n) {
        return Err(format!("`{s}` is not a status code (100 to 599)"));
    }
    StatusCode::from_u16(n as u16).map_err(|e| e.to_string())
}

fn query(ctx: &mut Ctx<'_>, raw: &RawQueryOps, path: &str) -> QueryOps {
    let mut out = QueryOps::default();
    if let Some(list) = &raw.remove {
        out.remove = ctx.each(list, &p(path, "remove"), non_empty);
    }
    if let Some(map) = &raw.rename {
        for (old, new) in &map.value.0 {
            let at = format!("{}.{}", p(path, "rename"), old.value);
            let old = ctx.value(old, &at, non_empty);
            let new = ctx.value(new, &at, non_empty);
            if let (Some(old), Some(new)) = (old, new) {
                out.rename.push((old, new));
            }
        }
    }
    out.set = templated(ctx, raw.set.as_ref(), &p(path, "set"));
    out.add = templated(ctx, raw.add.as_ref(), &p(path, "add"));
    out
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("a parameter name must not be empty".into());
    }
    Ok(s.to_owned())
}

fn templated(
    ctx: &mut Ctx<'_>,
    raw: Option<&Sp<OrderedMap>>,
    path: &str,
) -> Vec<(String, Template)> {
    let mut out = Vec::new();
    for (k, v) in raw.map(|m| m.value.0.as_slice()).unwrap_or_default() {
        let at = format!("{path}.{}", k.value);
        let name = ctx.value(k, &at, non_empty);
        let value = ctx.value(v, &at, Template::parse);
        if let (Some(name), Some(value)) = (name, value) {
            out.push((name, value));
        }
    }
    out
}

const EDIT_KINDS: &str =
    "a body edit needs exactly one of `set`, `add`, `remove`, `rename` or `move`";

fn body_edit(ctx: &mut Ctx<'_>, item: &Sp<RawBodyEdit>, path: &str) -> Option<BodyEdit> {
    let r = &item.value;
    let here = ctx.at(item);
    let given = [
        r.set.as_ref().map(|_| "set"),
        r.add.as_ref().map(|_| "add"),
        r.remove.as_ref().map(|_| "remove"),
        r.rename.as_ref().map(|_| "rename"),
        r.move_from.as_ref().map(|_| "move"),
    ];
    if !ctx.exactly_one(here, path, &given, EDIT_KINDS) {
        return None;
    }
    let pointer = |ctx: &mut Ctx<'_>, v: &Sp<String>, field: &str| {
        ctx.value(v, &p(path, field), Pointer::parse)
    };
    if let Some(at) = r.set.as_ref().or(r.add.as_ref()) {
        let field = if r.set.is_some() { "set" } else { "add" };
        let target = pointer(ctx, at, field);
        let value = edit_value(ctx, r, here, path)?;
        unused(ctx, &r.to, path, "to", field);
        return match field {
            "set" => Some(BodyEdit::Set(target?, value)),
            _ => Some(BodyEdit::Add(target?, value)),
        };
    }
    if let Some(at) = &r.remove {
        unused(ctx, &r.to, path, "to", "remove");
        no_value(ctx, r, path, "remove");
        return Some(BodyEdit::Remove(pointer(ctx, at, "remove")?));
    }
    no_value(
        ctx,
        r,
        path,
        if r.rename.is_some() { "rename" } else { "move" },
    );
    let to = ctx.required(&r.to, here, &p(path, "to"))?.clone();
    if let Some(at) = &r.rename {
        let target = pointer(ctx, at, "rename")?;
        if target.tokens.is_empty() {
            let loc = ctx.at(at);
            ctx.err(
                loc,
                &p(path, "rename"),
                "the whole document has no name to change",
            );
            return None;
        }
        return Some(BodyEdit::Rename(target, to.value));
    }
    let from = pointer(ctx, r.move_from.as_ref()?, "move");
    let to = pointer(ctx, &to, "to");
    Some(BodyEdit::Move(from?, to?))
}

/// `value` (a template) or `json` (a constant), exactly one.
fn edit_value(ctx: &mut Ctx<'_>, r: &RawBodyEdit, here: Loc, path: &str) -> Option<EditValue> {
    match (&r.value, &r.json) {
        (Some(v), None) => ctx
            .value(v, &p(path, "value"), Template::parse)
            .map(EditValue::Template),
        (None, Some(j)) => Some(EditValue::Json(j.value.clone())),
        (Some(v), Some(_)) => {
            let loc = ctx.at(v);
            ctx.err(
                loc,
                path,
                "give either `value` (a template) or `json` (a constant), not both",
            );
            None
        }
        (None, None) => {
            ctx.err(
                here,
                path,
                "`set` and `add` need a `value` (a template) or `json` (a constant)",
            );
            None
        }
    }
}

fn unused(ctx: &mut Ctx<'_>, v: &Text, path: &str, field: &str, kind: &str) {
    if let Some(v) = v {
        let loc = ctx.at(v);
        ctx.err(
            loc,
            &p(path, field),
            format!("`{field}` is not used by `{kind}`"),
        );
    }
}

fn no_value(ctx: &mut Ctx<'_>, r: &RawBodyEdit, path: &str, kind: &str) {
    unused(ctx, &r.value, path, "value", kind);
    if let Some(j) = &r.json {
        let loc = ctx.at(j);
        ctx.err(
            loc,
            &p(path, "json"),
            format!("`json` is not used by `{kind}`"),
        );
    }
}

/// `json_to_xml:` / `xml_to_json:` → [`XmlPolicy`].
pub(super) fn xml(ctx: &mut Ctx<'_>, raw: &Sp<RawXmlConvert>, path: &str, to_xml: bool) -> Reshape {
    let r = &raw.value;
    let default = if to_xml { (true, false) } else { (false, true) };
    let (on_request, on_response) = ctx.field(&r.on, &p(path, "on"), default, |s| match s {
        "request" => Ok((true, false)),
        "response" => Ok((false, true)),
        "both" => Ok((true, true)),
        _ => Err(format!(
            "unknown value `{s}`: expected `request`, `response` or `both`"
        )),
    });
    let mut mapping = XmlMapping::default();
    let text = |ctx: &mut Ctx<'_>, v: &Text, field: &str, default: &str| {
        ctx.field(v, &p(path, field), default.to_owned(), |s| Ok(s.to_owned()))
    };
    mapping.attribute_prefix = text(ctx, &r.attribute_prefix, "attribute_prefix", "@");
    mapping.text_key = text(ctx, &r.text_key, "text_key", "#text");
    mapping.root = text(ctx, &r.root, "root", "root");
    mapping.item = text(ctx, &r.item, "item", "item");
    if let Some(list) = &r.arrays {
        mapping.arrays = ctx.each(list, &p(path, "arrays"), element_path);
    }
    mapping.infer_types = ctx.field(&r.infer_types, &p(path, "infer_types"), false, parse_bool);
    mapping.max_depth = ctx.count(&r.max_depth, &p(path, "max_depth"), 64, 1, 1024) as usize;
    mapping.max_nodes =
        ctx.count(&r.max_nodes, &p(path, "max_nodes"), 100_000, 1, 10_000_000) as usize;
    if mapping.text_key.is_empty() {
        let loc = r.text_key.as_ref().map_or(ctx.at(raw), |t| ctx.at(t));
        ctx.err(loc, &p(path, "text_key"), "must not be empty");
    }
    Reshape::Xml(Arc::new(XmlPolicy {
        to_xml,
        on_request,
        on_response,
        mapping,
        max_body: ctx.size(
            &r.max_body,
            &p(path, "max_body"),
            MAX_BODY,
            1,
            MAX_BODY_LIMIT,
        ),
    }))
}

/// An element path for `arrays`: `/a/b`, from the root.
fn element_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') || s.len() < 2 || s.ends_with('/') || s.contains("//") {
        return Err(format!(
            "`{s}` is not an element path: write it from the root, e.g. `/orders/order`"
        ));
    }
    Ok(s.to_owned())
}

/// `soap:` → [`SoapPolicy`].
pub(super) fn soap(ctx: &mut Ctx<'_>, raw: &Sp<RawSoap>, path: &str) -> Option<Reshape> {
    let r = &raw.value;
    let here = ctx.at(raw);
    let version = ctx.field(
        &r.version,
        &p(path, "version"),
        SoapVersion::V11,
        |s| match s {
            "1.1" => Ok(SoapVersion::V11),
            "1.2" => Ok(SoapVersion::V12),
            _ => Err(format!(
                "unknown SOAP version `{s}`: expected `1.1` or `1.2`"
            )),
        },
    );
    let operation = ctx.required(&r.operation, here, &p(path, "operation"));
    let operation = operation.and_then(|o| ctx.value(o, &p(path, "operation"), ncname));
    let namespace = ctx
        .required(&r.namespace, here, &p(path, "namespace"))
        .map(|n| n.value.clone());
    let action = ctx.field(&r.action, &p(path, "action"), String::new(), |s| {
        if s.contains('"') || s.bytes().any(|b| b.is_ascii_control()) {
            return Err("an action must not hold `\"` or control characters".into());
        }
        Ok(s.to_owned())
    });
    let mut fault_status = vec![
        ("Client".to_owned(), StatusCode::BAD_REQUEST),
        ("Sender".to_owned(), StatusCode::BAD_REQUEST),
        ("Server".to_owned(), StatusCode::BAD_GATEWAY),
        ("Receiver".to_owned(), StatusCode::BAD_GATEWAY),
    ];
    if let Some(map) = &r.fault_status {
        for (code, st) in &map.value.0 {
            let at = format!("{}.{}", p(path, "fault_status"), code.value);
            if let Some(st) = ctx.value(st, &at, status) {
                fault_status.retain(|(c, _)| *c != code.value);
                fault_status.push((code.value.clone(), st));
            }
        }
    }
    let mut mapping = XmlMapping::default();
    if let Some(list) = &r.arrays {
        mapping.arrays = ctx.each(list, &p(path, "arrays"), element_path);
    }
    mapping.infer_types = ctx.field(&r.infer_types, &p(path, "infer_types"), false, parse_bool);
    let policy = SoapPolicy {
        version,
        operation: operation?,
        namespace: namespace?,
        action,
        qualified: ctx.field(&r.qualified, &p(path, "qualified"), false, parse_bool),
        fault_status,
        default_fault_status: ctx.field(
            &r.default_fault_status,
            &p(path, "default_fault_status"),
            StatusCode::BAD_GATEWAY,
            status,
        ),
        mapping,
        max_body: ctx.size(
            &r.max_body,
            &p(path, "max_body"),
            MAX_BODY,
            1,
            MAX_BODY_LIMIT,
        ),
    };
    Some(Reshape::Soap(Arc::new(policy)))
}

/// An XML local name (no prefix): what the operation element is called.
fn ncname(s: &str) -> Result<String, String> {
    let mut chars = s.chars();
    let start = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
    if !start || !chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        return Err(format!("`{s}` is not an XML element name (without prefix)"));
    }
    Ok(s.to_owned())
}
