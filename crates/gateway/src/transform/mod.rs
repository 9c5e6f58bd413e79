//! The `transform` policy's rules, independent of the data path:
//!
//! - JSON body edits by JSON Pointer (`pointer`): set, add, remove,
//!   rename, move, applied in order on the order-keeping [`Json`] tree; an
//!   edit that cannot apply is skipped, the others still run.
//! - Query parameter edits (`query`).
//! - Decoding of gzip, br and zstd bodies before an edit (`decode`),
//!   bounded by the policy's `max_body`.
//! - Which bodies count as JSON or XML ([`is_json`], [`is_xml`]).
//!
//! Template values are rendered by the caller (it holds the request) and
//! passed in, one per edit.

pub mod decode;
mod lazy;
pub mod pointer;
pub mod query;

use tollgate_config::BodyEdit;

use crate::xml::{Json, XmlError};

/// Applies `edits` to the JSON text `body`; `values[i]` is what edit `i`
/// writes (ignored for edits that write nothing). Edits that cannot apply
/// are skipped; only a body that is not JSON is an error.
/// Only the values on the edits' paths are built; the rest is carried as
/// text (`lazy`), with the same result as editing the whole tree.
pub fn edit_body(body: &[u8], edits: &[BodyEdit], values: Vec<Json>) -> Result<Vec<u8>, XmlError> {
    let pointers: Vec<&[String]> = edits.iter().flat_map(pointers).flatten().collect();
    let mut doc = lazy::parse(body, &pointers)?;
    apply_edits(&mut doc, edits, values);
    // Edits rarely change the length much: one allocation, usually.
    let mut out = Vec::with_capacity(body.len() + body.len() / 8 + 64);
    doc.write_to(&mut out);
    Ok(out)
}

/// The pointers an edit reads or writes at.
fn pointers(edit: &BodyEdit) -> [Option<&[String]>; 2] {
    match edit {
        BodyEdit::Set(at, _)
        | BodyEdit::Add(at, _)
        | BodyEdit::Remove(at)
        | BodyEdit::Rename(at, _) => [Some(at.tokens.as_slice()), None],
        BodyEdit::Move(from, to) => [Some(from.tokens.as_slice()), Some(to.tokens.as_slice())],
    }
}

/// Applies `edits` to `doc` in order (see [`edit_body`]).
pub fn apply_edits(doc: &mut Json, edits: &[BodyEdit], values: Vec<Json>) {
    let mut values = values.into_iter();
    for edit in edits {
        let value = values.next().unwrap_or(Json::Null);
        // A skipped edit is not an error: the document may simply not have
        // the member (an optional field), as with a header rule that finds
        // no header.
        let _ = match edit {
            BodyEdit::Set(at, _) => pointer::set(doc, &at.tokens, value),
            BodyEdit::Add(at, _) => pointer::add(doc, &at.tokens, value),
            BodyEdit::Remove(at) => {
                pointer::remove(doc, &at.tokens);
                Ok(())
            }
            BodyEdit::Rename(at, to) => pointer::rename(doc, &at.tokens, to).map(drop),
            BodyEdit::Move(from, to) => {
                pointer::move_value(doc, &from.tokens, &to.tokens).map(drop)
            }
        };
    }
}

/// A constant JSON value of the configuration as an ordered tree.
pub fn from_value(v: &serde_json::Value) -> Json {
    match v {
        serde_json::Value::Null => Json::Null,
        serde_json::Value::Bool(b) => Json::Bool(*b),
        serde_json::Value::Number(n) => Json::Number(n.clone()),
        serde_json::Value::String(s) => Json::String(s.clone()),
        serde_json::Value::Array(items) => Json::Array(items.iter().map(from_value).collect()),
        serde_json::Value::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), from_value(v)))
                .collect(),
        ),
    }
}

/// The media type of a `Content-Type` value, lowercase, without parameters.
fn media_type(content_type: &[u8]) -> String {
    let end = content_type
        .iter()
        .position(|&b| b == b';')
        .unwrap_or(content_type.len());
    String::from_utf8_lossy(content_type[..end].trim_ascii()).to_ascii_lowercase()
}

/// Whether a `Content-Type` names JSON (`application/json`, `…+json`).
pub fn is_json(content_type: Option<&[u8]>) -> bool {
    content_type.is_some_and(|ct| {
        let t = media_type(ct);
        t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
    })
}

/// Whether a `Content-Type` names XML (`application/xml`, `text/xml`, `…+xml`).
pub fn is_xml(content_type: Option<&[u8]>) -> bool {
    content_type.is_some_and(|ct| {
        let t = media_type(ct);
        t == "application/xml" || t == "text/xml" || t.ends_with("+xml")
    })
}

#[cfg(test)]
mod tests;
