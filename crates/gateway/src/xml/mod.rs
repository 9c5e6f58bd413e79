//! The JSON↔XML mapping: one documented shape that round-trips, read
//! safely. Pure functions, no sockets; the `json_to_xml` / `xml_to_json` /
//! SOAP policies are built on top of [`xml_to_json`] and [`json_to_xml`].
//!
//! # The mapping, by example
//!
//! | XML | JSON |
//! |---|---|
//! | `<a>hi</a>` | `{"a": "hi"}` (a text-only element is a string) |
//! | `<a/>` or `<a></a>` | `{"a": ""}` (`null` with `infer_types`) |
//! | `<a id="7">hi</a>` | `{"a": {"@id": "7", "#text": "hi"}}` |
//! | `<a id="7"/>` | `{"a": {"@id": "7"}}` |
//! | `<a><b>1</b><c>2</c></a>` | `{"a": {"b": "1", "c": "2"}}` (document order kept) |
//! | `<a><b>1</b><b>2</b></a>` | `{"a": {"b": ["1", "2"]}}` (repeated siblings: an array) |
//! | `<a><b>1</b><c/><b>2</b></a>` | `{"a": {"b": ["1", "2"], "c": ""}}` (grouped where the first stood) |
//! | `<o><i>1</i></o>`, `arrays: ["/o/i"]` | `{"o": {"i": ["1"]}}` (forced: same shape as many) |
//! | `<s:E xmlns:s="urn:x"/>` | `{"s:E": {"@xmlns:s": "urn:x"}}` (prefixes and declarations kept) |
//! | `<p>Hi <b>you</b> there</p>` | `{"p": {"b": "you", "#text": "Hi  there"}}` |
//! | `<a><![CDATA[<x>]]></a>` | `{"a": "<x>"}` |
//! | `<a>&lt;&#233;</a>` | `{"a": "<é"}` |
//!
//! Rules behind the table:
//! - The root element is the single top-level key. Going back, a JSON value
//!   that is not an object with one element key is wrapped in
//!   [`XmlOptions::root`]; items of a top-level array become
//!   [`XmlOptions::item`] elements. An empty JSON array writes no element
//!   (an array directly inside an array has no XML form and is refused).
//! - Mixed content: the text pieces between child elements are
//!   **concatenated** under the text key (placed after the children);
//!   where the text stood among the children is not kept. Text made only of
//!   whitespace next to child elements (indentation) is dropped; a
//!   text-only element keeps its text exactly.
//! - Values stay strings. With `infer_types: true`, a text or attribute
//!   value is read as: empty → `null`; `true` / `false` → boolean; an
//!   integer without leading zeros (`-12`, `0`, not `007`) → integer; a
//!   decimal with a fraction or exponent (`1.5`, `-2e3`) → float; anything
//!   else a string. Inferred values round-trip as values, not as the exact
//!   original spelling (`2e3` comes back as `2000.0`).
//! - Comments and processing instructions are dropped; the XML declaration
//!   is not kept. Input must be UTF-8.
//!
//! # Safe reading
//! A document type declaration (`<!DOCTYPE`) is refused outright, which
//! rules out external entities (XXE) and entity expansion (billion laughs);
//! only the five predefined entities and numeric character references are
//! resolved. The input size, the element depth and the number of nodes
//! (elements plus attributes) are bounded by [`Limits`]; each refusal is an
//! [`XmlError`] naming what was exceeded.

mod error;
mod names;
mod node;
mod to_json;
mod to_xml;
mod tree;
pub(crate) use tree::json_scalar_visits;

#[cfg(test)]
mod tests;

pub use error::XmlError;
pub(crate) use node::write_json_str;
pub use to_json::{xml_to_json, xml_to_json_text};
pub use to_xml::{json_bytes_to_xml, json_to_xml};
pub use tree::Json;

/// How the mapping is shaped and bounded, in both directions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlOptions {
    /// Prefix that marks attributes among an element's keys (default `@`).
    pub attribute_prefix: String,
    /// Key that holds an element's text when it also has attributes or
    /// children (default `#text`).
    pub text_key: String,
    /// Element paths (`/orders/order`, from the root, qualified names) that
    /// are always arrays, even with one item.
    pub arrays: Vec<String>,
    /// Read numbers, booleans and empty values as JSON types (see the rule
    /// in the module doc); otherwise every value is a string.
    pub infer_types: bool,
    /// Root element name when the JSON is not one object with one key.
    pub root: String,
    /// Element name for the items of a top-level JSON array.
    pub item: String,
    /// Bounds on what is read.
    pub limits: Limits,
}

impl Default for XmlOptions {
    fn default() -> Self {
        XmlOptions {
            attribute_prefix: "@".into(),
            text_key: "#text".into(),
            arrays: Vec::new(),
            infer_types: false,
            root: "root".into(),
            item: "item".into(),
            limits: Limits::default(),
        }
    }
}

/// Bounds applied while mapping, so a hostile document costs little.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input accepted, in bytes (default 1 MiB).
    pub max_bytes: usize,
    /// Deepest element nesting accepted (default 64).
    pub max_depth: usize,
    /// Most elements plus attributes accepted (default 100 000).
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1024 * 1024,
            max_depth: 64,
            max_nodes: 100_000,
        }
    }
}
