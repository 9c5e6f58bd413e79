//! JSON → XML: the inverse of `to_json`. Every name is checked and every
//! value escaped, so the output is always well-formed or there is none.

use std::borrow::Cow;
use std::collections::HashSet;

use super::{names, Json, XmlError, XmlOptions};

/// Maps JSON text to an XML document (keeps the JSON's key order).
pub fn json_bytes_to_xml(json: &[u8], opts: &XmlOptions) -> Result<String, XmlError> {
    if json.len() > opts.limits.max_bytes {
        return Err(XmlError::TooLarge {
            limit: opts.limits.max_bytes,
        });
    }
    json_to_xml(&Json::parse(json)?, opts)
}

/// Maps a JSON value to an XML document; see the table in the module doc.
pub fn json_to_xml(json: &Json, opts: &XmlOptions) -> Result<String, XmlError> {
    let mut writer = Writer {
        opts,
        out: String::with_capacity(256),
        nodes: 0,
    };
    match single_root(json, opts) {
        Some((name, value)) => writer.element(name, value, 1)?,
        None => writer.wrapped(json)?,
    }
    Ok(writer.out)
}

/// The root element when the JSON is one object with one element key
/// whose value is not an array (an array would be several roots).
fn single_root<'j>(json: &'j Json, opts: &XmlOptions) -> Option<(&'j str, &'j Json)> {
    match json {
        Json::Object(entries) if entries.len() == 1 => {
            let (key, value) = &entries[0];
            let element = !is_attribute(key, opts) && *key != opts.text_key;
            (element && !matches!(value, Json::Array(_))).then_some((key.as_str(), value))
        }
        _ => None,
    }
}

fn is_attribute(key: &str, opts: &XmlOptions) -> bool {
    !opts.attribute_prefix.is_empty() && key.starts_with(opts.attribute_prefix.as_str())
}

struct Writer<'o> {
    opts: &'o XmlOptions,
    out: String,
    nodes: usize,
}

impl Writer<'_> {
    /// Writes a value that has no root of its own inside `opts.root`.
    fn wrapped(&mut self, json: &Json) -> Result<(), XmlError> {
        let opts = self.opts;
        match json {
            Json::Array(items) => {
                names::check(&opts.root)?;
                self.count(1)?;
                self.open_tag(&opts.root);
                for value in items {
                    self.element(&opts.item, value, 2)?;
                }
                self.close_tag(&opts.root);
                Ok(())
            }
            other => self.element(&opts.root, other, 1),
        }
    }

    fn count(&mut self, depth: usize) -> Result<(), XmlError> {
        let limits = &self.opts.limits;
        if depth > limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: limits.max_depth,
            });
        }
        self.nodes += 1;
        if self.nodes > limits.max_nodes {
            return Err(XmlError::TooManyNodes {
                limit: limits.max_nodes,
            });
        }
        Ok(())
    }

    /// Writes `<name>` for a value; an array is the element repeated.
    fn element(&mut self, name: &str, value: &Json, depth: usize) -> Result<(), XmlError> {
        names::check(name)?;
        match value {
            Json::Array(items) => {
                for item in items {
                    if matches!(item, Json::Array(_)) {
                        let why = format!("an array directly inside the array <{name}>");
                        return Err(XmlError::Unrepresentable(why));
                    }
                    self.element(name, item, depth)?;
                }
                Ok(())
            }
            Json::Object(entries) => self.object(name, entries, depth),
            // Only body edits keep raw values; read as what they spell.
            Json::Raw(text) => self.element(name, &Json::parse(text.as_bytes())?, depth),
            scalar => {
                self.count(depth)?;
                let text = scalar_text(scalar);
                if text.is_empty() {
                    self.out.push('<');
                    self.out.push_str(name);
                    self.out.push_str("/>");
                } else {
                    self.open_tag(name);
                    escape(&text, false, &mut self.out)?;
                    self.close_tag(name);
                }
                Ok(())
            }
        }
    }

    /// An object: attributes first, then text and children in key order.
    fn object(
        &mut self,
        name: &str,
        entries: &[(String, Json)],
        depth: usize,
    ) -> Result<(), XmlError> {
        self.count(depth)?;
        self.out.push('<');
        self.out.push_str(name);
        let mut seen = Seen::default();
        for (key, value) in entries.iter().filter(|(k, _)| is_attribute(k, self.opts)) {
            self.count(depth)?;
            let attr = &key[self.opts.attribute_prefix.len()..];
            names::check(attr)?;
            if !seen.insert(attr) {
                // JSON text may repeat a key; XML may not repeat an attribute.
                return Err(XmlError::Unrepresentable(format!(
                    "attribute {attr:?} given twice"
                )));
            }
            if matches!(value, Json::Array(_) | Json::Object(_)) {
                return Err(XmlError::Unrepresentable(format!(
                    "attribute {attr:?} is not a plain value"
                )));
            }
            self.out.push(' ');
            self.out.push_str(attr);
            self.out.push_str("=\"");
            escape(&scalar_text(value), true, &mut self.out)?;
            self.out.push('"');
        }
        let opts = self.opts;
        let content = entries.iter().filter(|(k, _)| !is_attribute(k, opts));
        if content.clone().next().is_none() {
            self.out.push_str("/>");
            return Ok(());
        }
        self.out.push('>');
        for (key, value) in content {
            if *key == self.opts.text_key {
                if matches!(value, Json::Array(_) | Json::Object(_)) {
                    return Err(XmlError::Unrepresentable(format!(
                        "the text of <{name}> is not a plain value"
                    )));
                }
                escape(&scalar_text(value), false, &mut self.out)?;
            } else {
                self.element(key, value, depth + 1)?;
            }
        }
        self.close_tag(name);
        Ok(())
    }

    fn open_tag(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    fn close_tag(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }
}

/// Attribute names already written on an element: a short list searched
/// in place (most elements have a few), a set past that.
#[derive(Default)]
struct Seen<'j> {
    few: Vec<&'j str>,
    many: Option<HashSet<&'j str>>,
}

impl<'j> Seen<'j> {
    /// False when `name` was already there.
    fn insert(&mut self, name: &'j str) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(name);
        }
        if self.few.contains(&name) {
            return false;
        }
        self.few.push(name);
        if self.few.len() > 16 {
            self.many = Some(self.few.drain(..).collect());
        }
        true
    }
}

/// A plain value as text: null is empty, numbers and booleans as JSON writes them.
fn scalar_text(value: &Json) -> Cow<'_, str> {
    match value {
        Json::String(s) => Cow::Borrowed(s),
        Json::Bool(true) => Cow::Borrowed("true"),
        Json::Bool(false) => Cow::Borrowed("false"),
        Json::Number(n) => Cow::Owned(n.to_string()),
        Json::Raw(text) => Cow::Borrowed(text.as_str()),
        _ => Cow::Borrowed(""),
    }
}

/// Escapes text or an attribute value. Carriage returns (and in attributes
/// tabs and newlines) become character references so that a reader's
/// line-end and attribute normalization gives back the same characters.
fn escape(text: &str, attribute: bool, out: &mut String) -> Result<(), XmlError> {
    // Most text needs no escaping at all: copied in one piece.
    let plain = |c: char| {
        !matches!(c, '&' | '<' | '>' | '\r' | '"' | '\'' | '\t' | '\n') && names::is_xml_char(c)
    };
    if text.chars().all(plain) {
        out.push_str(text);
        return Ok(());
    }
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            c if names::is_xml_char(c) => out.push(c),
            c => {
                let why = format!("character U+{:04X} is not allowed in XML 1.0", c as u32);
                return Err(XmlError::Unrepresentable(why));
            }
        }
    }
    Ok(())
}
