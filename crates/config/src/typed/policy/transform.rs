//! The reshaping policies as validated: `transform` (headers, query, JSON
//! body edits, status mapping), `json_to_xml` / `xml_to_json`, and `soap`.

use std::sync::Arc;

use http::StatusCode;

use super::{HeaderOps, Template};

/// One reshaping policy (`tollgate-gateway` holds the rules).
#[derive(Debug, Clone)]
pub enum Reshape {
    /// `transform`: edits of requests and answers.
    Transform(Arc<TransformPolicy>),
    /// `json_to_xml` or `xml_to_json`.
    Xml(Arc<XmlPolicy>),
    /// `soap`: a JSON API in front of a SOAP service.
    Soap(Arc<SoapPolicy>),
}

impl Reshape {
    /// The policy's name in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            Reshape::Transform(_) => "transform",
            Reshape::Xml(x) if x.to_xml => "json_to_xml",
            Reshape::Xml(_) => "xml_to_json",
            Reshape::Soap(_) => "soap",
        }
    }

    /// True when a template needs an identity from an earlier auth policy.
    pub fn needs_identity(&self) -> bool {
        match self {
            Reshape::Transform(t) => [&t.request, &t.response].iter().any(|s| s.uses_identity()),
            _ => false,
        }
    }
}

/// The `transform` policy.
#[derive(Debug, Clone)]
pub struct TransformPolicy {
    /// Edits of the request before it goes upstream.
    pub request: TransformSide,
    /// Edits of the answer on its way back.
    pub response: TransformSide,
    /// Largest body buffered for a body edit (default 1 MiB); larger
    /// bodies are refused: 413 on requests, 502 on answers.
    pub max_body: u64,
    /// What to do with a body that has a `Content-Encoding`.
    pub compressed: Compressed,
}

/// Edits of one direction; `query` only on requests, `status` only on answers.
#[derive(Debug, Clone, Default)]
pub struct TransformSide {
    /// Header edits (the `headers` policy's rules).
    pub headers: HeaderOps,
    /// Query parameter edits.
    pub query: QueryOps,
    /// JSON body edits, in order.
    pub body: Vec<BodyEdit>,
    /// Status codes replaced: `(from, to)`.
    pub status: Vec<(StatusCode, StatusCode)>,
}

impl TransformSide {
    fn uses_identity(&self) -> bool {
        let header = self
            .headers
            .set
            .iter()
            .chain(&self.headers.add)
            .any(|(_, t)| t.uses_identity());
        let query = self
            .query
            .set
            .iter()
            .chain(&self.query.add)
            .any(|(_, t)| t.uses_identity());
        let body = self.body.iter().any(|e| match e.value() {
            Some(EditValue::Template(t)) => t.uses_identity(),
            _ => false,
        });
        header || query || body
    }
}

/// Query parameter edits, applied in the order remove, rename, set, add.
#[derive(Debug, Clone, Default)]
pub struct QueryOps {
    /// Parameters dropped (every one of that name).
    pub remove: Vec<String>,
    /// `(old, new)` names.
    pub rename: Vec<(String, String)>,
    /// Parameters replaced or created.
    pub set: Vec<(String, Template)>,
    /// Parameters appended.
    pub add: Vec<(String, Template)>,
}

impl QueryOps {
    /// True when no edit is configured.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty()
            && self.rename.is_empty()
            && self.set.is_empty()
            && self.add.is_empty()
    }
}

/// A JSON Pointer (RFC 6901) as reference tokens, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    /// The tokens: `/a/b~1c` is `["a", "b/c"]`; the empty pointer has none.
    pub tokens: Vec<String>,
    /// As written.
    pub written: String,
}

impl Pointer {
    /// Parses a pointer: empty, or `/`-separated tokens with `~0` for `~`
    /// and `~1` for `/`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Ok(Self {
                tokens: Vec::new(),
                written: String::new(),
            });
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!(
                "`{text}` is not a JSON Pointer: it must start with `/` (e.g. `/user/name`)"
            ));
        };
        let mut tokens = Vec::new();
        for raw in rest.split('/') {
            let mut token = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    token.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => token.push('~'),
                    Some('1') => token.push('/'),
                    _ => {
                        return Err(format!(
                            "`{text}`: `~` must be followed by `0` (for `~`) or `1` (for `/`)"
                        ))
                    }
                }
            }
            tokens.push(token);
        }
        Ok(Self {
            tokens,
            written: text.to_owned(),
        })
    }
}

/// One JSON body edit.
#[derive(Debug, Clone)]
pub enum BodyEdit {
    /// Replace or create the value (parents created).
    Set(Pointer, EditValue),
    /// RFC 6902 `add` (array insert; parent must exist).
    Add(Pointer, EditValue),
    /// Remove the value.
    Remove(Pointer),
    /// Rename an object member, keeping its place.
    Rename(Pointer, String),
    /// Move a value.
    Move(Pointer, Pointer),
}

impl BodyEdit {
    /// The value the edit writes, for `set` and `add`.
    pub fn value(&self) -> Option<&EditValue> {
        match self {
            BodyEdit::Set(_, v) | BodyEdit::Add(_, v) => Some(v),
            _ => None,
        }
    }
}

/// The value an edit writes.
#[derive(Debug, Clone)]
pub enum EditValue {
    /// A string rendered from a template per request.
    Template(Template),
    /// A constant JSON value.
    Json(serde_json::Value),
}

/// How bodies with a `Content-Encoding` are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compressed {
    /// gzip, br and zstd bodies are decoded, edited and sent uncoded.
    Decode,
    /// Coded bodies are passed on unedited.
    Skip,
}

/// `json_to_xml` or `xml_to_json`.
#[derive(Debug, Clone)]
pub struct XmlPolicy {
    /// True for `json_to_xml`, false for `xml_to_json`.
    pub to_xml: bool,
    /// Converts request bodies.
    pub on_request: bool,
    /// Converts answer bodies.
    pub on_response: bool,
    /// The mapping's options.
    pub mapping: XmlMapping,
    /// Largest body converted; larger: 413 on requests, 502 on answers.
    pub max_body: u64,
}

/// The options of the JSON↔XML mapping (see `tollgate_gateway::xml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlMapping {
    /// Attribute key prefix (default `@`).
    pub attribute_prefix: String,
    /// Text key (default `#text`).
    pub text_key: String,
    /// Element paths always read as arrays.
    pub arrays: Vec<String>,
    /// Read numbers, booleans and empty values as JSON types.
    pub infer_types: bool,
    /// Root element for JSON that has no single root key (default `root`).
    pub root: String,
    /// Element for items of a top-level array (default `item`).
    pub item: String,
    /// Deepest nesting read (default 64).
    pub max_depth: usize,
    /// Most elements plus attributes read (default 100 000).
    pub max_nodes: usize,
}

impl Default for XmlMapping {
    fn default() -> Self {
        Self {
            attribute_prefix: "@".into(),
            text_key: "#text".into(),
            arrays: Vec::new(),
            infer_types: false,
            root: "root".into(),
            item: "item".into(),
            max_depth: 64,
            max_nodes: 100_000,
        }
    }
}

/// SOAP version of a `soap` policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    /// SOAP 1.1: `text/xml`, `SOAPAction` header.
    V11,
    /// SOAP 1.2: `application/soap+xml; action=...`.
    V12,
}

/// The `soap` policy: JSON requests become SOAP calls, SOAP answers JSON.
#[derive(Debug, Clone)]
pub struct SoapPolicy {
    /// SOAP version.
    pub version: SoapVersion,
    /// The operation's body element (local name).
    pub operation: String,
    /// The operation's namespace.
    pub namespace: String,
    /// SOAPAction (1.1) or `action` parameter (1.2); none when empty.
    pub action: String,
    /// Children of the operation element are in its namespace (default
    /// namespace declaration) rather than unqualified.
    pub qualified: bool,
    /// Fault code (local part: `Client`, `Sender`, ...) → answer status.
    pub fault_status: Vec<(String, StatusCode)>,
    /// Status for fault codes not in the map (default 502).
    pub default_fault_status: StatusCode,
    /// The mapping's options, both ways.
    pub mapping: XmlMapping,
    /// Largest body converted (default 1 MiB).
    pub max_body: u64,
}
