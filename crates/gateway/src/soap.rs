//! SOAP↔REST: a JSON request becomes a SOAP 1.1 or 1.2 envelope for one
//! operation, and a SOAP answer becomes JSON, both through the JSON↔XML
//! mapping of [`crate::xml`].
//!
//! - Request: the JSON object's members become the children of the
//!   operation element `m:<operation>` (`xmlns:m` the namespace), inside
//!   `Envelope/Body`; with `qualified`, the operation element declares the
//!   namespace as default instead, so its children are in it too. No body
//!   (or an empty one) is an operation element without children.
//! - Answer: the content of `Body` becomes the JSON answer, with namespace
//!   prefixes taken off names and namespace declarations left out
//!   (`<m:GetPriceResponse><m:Price>1</m:Price>…` →
//!   `{"GetPriceResponse": {"Price": "1"}}`).
//! - Fault: 1.1 `faultcode` / `faultstring` / `detail` and 1.2
//!   `Code/Value` / `Reason/Text` / `Detail` become
//!   `{"faultcode", "faultstring", "detail"}`; the code's local part
//!   (`Client`, `Server`, `Sender`, `Receiver`) picks the status.

use tollgate_config::{SoapPolicy, SoapVersion, XmlMapping};

use crate::xml::{self, Json, XmlError, XmlOptions};

/// The envelope namespace of a SOAP version.
pub fn envelope_namespace(version: SoapVersion) -> &'static str {
    match version {
        SoapVersion::V11 => "http://schemas.xmlsoap.org/soap/envelope/",
        SoapVersion::V12 => "http://www.w3.org/2003/05/soap-envelope",
    }
}

/// The `Content-Type` of a request for `policy` (1.2 carries the action).
pub fn content_type(policy: &SoapPolicy) -> String {
    match policy.version {
        SoapVersion::V11 => "text/xml; charset=utf-8".into(),
        SoapVersion::V12 if policy.action.is_empty() => {
            "application/soap+xml; charset=utf-8".into()
        }
        SoapVersion::V12 => format!(
            "application/soap+xml; charset=utf-8; action=\"{}\"",
            policy.action
        ),
    }
}

/// The mapping options of a `json_to_xml`/`xml_to_json`/`soap` policy.
pub fn options(mapping: &XmlMapping, max_body: u64) -> XmlOptions {
    XmlOptions {
        attribute_prefix: mapping.attribute_prefix.clone(),
        text_key: mapping.text_key.clone(),
        arrays: mapping.arrays.clone(),
        infer_types: mapping.infer_types,
        root: mapping.root.clone(),
        item: mapping.item.clone(),
        limits: xml::Limits {
            max_bytes: usize::try_from(max_body).unwrap_or(usize::MAX),
            max_depth: mapping.max_depth,
            max_nodes: mapping.max_nodes,
        },
    }
}

/// The SOAP envelope for a JSON request body (empty: no parameters).
pub fn envelope(policy: &SoapPolicy, json: &[u8]) -> Result<String, XmlError> {
    let opts = options(&policy.mapping, policy.max_body);
    let members = if json.trim_ascii().is_empty() {
        Vec::new()
    } else {
        match Json::parse(json)? {
            Json::Object(members) => members,
            _ => {
                return Err(XmlError::Unrepresentable(
                    "a SOAP call is made from a JSON object".into(),
                ))
            }
        }
    };
    let (name, ns_attr) = if policy.qualified {
        (policy.operation.clone(), "xmlns")
    } else {
        (format!("m:{}", policy.operation), "xmlns:m")
    };
    let mut op = vec![(
        format!("{}{ns_attr}", opts.attribute_prefix),
        Json::String(policy.namespace.clone()),
    )];
    op.extend(members);
    let doc = Json::Object(vec![(
        "soap:Envelope".into(),
        Json::Object(vec![
            (
                format!("{}xmlns:soap", opts.attribute_prefix),
                Json::String(envelope_namespace(policy.version).into()),
            ),
            (
                "soap:Body".into(),
                Json::Object(vec![(name, Json::Object(op))]),
            ),
        ]),
    )]);
    let body = xml::json_to_xml(&doc, &opts)?;
    Ok(format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>{body}"))
}

/// What a SOAP answer said.
#[derive(Debug, Clone, PartialEq)]
pub enum SoapAnswer {
    /// The content of `Body`, as JSON.
    Result(Json),
    /// A Fault: its local code (`Client`, `Sender`, ...) and the JSON body
    /// `{"faultcode", "faultstring", "detail"}`.
    Fault {
        /// Local part of the fault code.
        code: String,
        /// The JSON answer.
        json: Json,
    },
}

/// Reads a SOAP answer (either version).
pub fn read_answer(policy: &SoapPolicy, body: &[u8]) -> Result<SoapAnswer, XmlError> {
    let opts = options(&policy.mapping, policy.max_body);
    let doc = simplify(xml::xml_to_json(body, &opts)?, &opts);
    let not_soap = || XmlError::Unrepresentable("the answer is not a SOAP envelope".into());
    let envelope = member(&doc, "Envelope").ok_or_else(not_soap)?;
    let body = member(envelope, "Body").ok_or_else(not_soap)?;
    let Some(fault) = member(body, "Fault") else {
        let content = match body {
            Json::Object(entries) => Json::Object(
                entries
                    .iter()
                    .filter(|(k, _)| !k.starts_with(opts.attribute_prefix.as_str()))
                    .cloned()
                    .collect(),
            ),
            _ => Json::Object(Vec::new()),
        };
        return Ok(SoapAnswer::Result(content));
    };
    Ok(fault_answer(fault, &opts.text_key))
}

fn fault_answer(fault: &Json, text_key: &str) -> SoapAnswer {
    let text = |v: Option<&Json>| text_of(v, text_key);
    // 1.1 names its parts faultcode/faultstring/detail; 1.2 Code/Reason/Detail.
    let (code, reason, detail) = match member(fault, "faultcode") {
        Some(code) => (
            text(Some(code)),
            text(member(fault, "faultstring")),
            member(fault, "detail"),
        ),
        None => (
            text(member(fault, "Code").and_then(|c| member(c, "Value"))),
            text(member(fault, "Reason").and_then(|r| member(r, "Text"))),
            member(fault, "Detail"),
        ),
    };
    let local = code.rsplit(':').next().unwrap_or("").to_owned();
    let json = Json::Object(vec![
        ("faultcode".into(), Json::String(code)),
        ("faultstring".into(), Json::String(reason)),
        ("detail".into(), detail.cloned().unwrap_or(Json::Null)),
    ]);
    SoapAnswer::Fault { code: local, json }
}

/// The text of a fault part: a string, the first of several, or the text
/// key of an element with attributes (`<Text xml:lang="en">`).
fn text_of(v: Option<&Json>, text_key: &str) -> String {
    match v {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Array(items)) => text_of(items.first(), text_key),
        Some(obj @ Json::Object(_)) => match member(obj, text_key) {
            Some(Json::String(s)) => s.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// The member of an object named `name`.
fn member<'j>(v: &'j Json, name: &str) -> Option<&'j Json> {
    match v {
        Json::Object(entries) => entries.iter().find(|(k, _)| k == name).map(|(_, v)| v),
        _ => None,
    }
}

/// Takes namespace prefixes off element and attribute names and drops
/// namespace declarations; an element left with only its text is a string
/// again, one left with nothing an empty string (as the mapping reads them).
fn simplify(v: Json, opts: &XmlOptions) -> Json {
    let prefix = opts.attribute_prefix.as_str();
    match v {
        Json::Object(entries) => {
            let mut kept: Vec<(String, Json)> = entries
                .into_iter()
                .filter(|(k, _)| {
                    let name = k.strip_prefix(prefix).filter(|_| !prefix.is_empty());
                    !name.is_some_and(|n| n == "xmlns" || n.starts_with("xmlns:"))
                })
                .map(|(k, v)| (local_name(&k, prefix), simplify(v, opts)))
                .collect();
            match kept.as_slice() {
                [] => Json::String(String::new()),
                [(k, Json::String(_))] if *k == opts.text_key => kept.remove(0).1,
                _ => Json::Object(kept),
            }
        }
        Json::Array(items) => Json::Array(items.into_iter().map(|i| simplify(i, opts)).collect()),
        other => other,
    }
}

fn local_name(key: &str, prefix: &str) -> String {
    let (attr, name) = match key.strip_prefix(prefix).filter(|_| !prefix.is_empty()) {
        Some(rest) => (prefix, rest),
        None => ("", key),
    };
    match name.split_once(':') {
        // `xml:lang` keeps its reserved prefix.
        Some((p, local)) if p != "xml" => format!("{attr}{local}"),
        _ => key.to_owned(),
    }
}

#[cfg(test)]
mod tests;
