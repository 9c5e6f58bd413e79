//! The tree XML→JSON reads into before it becomes JSON: names and text
//! borrow from the input wherever nothing had to be unescaped, and keys
//! hold the bare name with its kind, so a document costs a few
//! allocations per element rather than several. It is written straight
//! to JSON text ([`Node::write`]) or turned into a [`Json`] value.

use std::borrow::Cow;

use super::{Json, XmlOptions};

/// What an object key stands for; the attribute prefix and the text key
/// are added when the key is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyKind {
    /// An attribute: written as the prefix then the name.
    Attribute,
    /// A child element: written as its name.
    Element,
    /// The element's text: written as the text key (the name is empty).
    Text,
}

/// An object key of the tree.
#[derive(Debug)]
pub(super) struct Key<'a> {
    pub(super) kind: KeyKind,
    pub(super) name: Cow<'a, str>,
}

impl Key<'_> {
    /// Whether both keys are written as the same text (an attribute and an
    /// element can meet when the attribute prefix is empty).
    pub(super) fn same_as(&self, other: &Key<'_>, opts: &XmlOptions) -> bool {
        match (self.kind, other.kind) {
            (a, b) if a == b => self.name == other.name,
            (KeyKind::Attribute, KeyKind::Element) => {
                other.name.strip_prefix(opts.attribute_prefix.as_str()) == Some(&*self.name)
            }
            (KeyKind::Element, KeyKind::Attribute) => other.same_as(self, opts),
            _ => false,
        }
    }

    /// The key as written.
    pub(super) fn text(&self, opts: &XmlOptions) -> String {
        match self.kind {
            KeyKind::Attribute => format!("{}{}", opts.attribute_prefix, self.name),
            KeyKind::Element => self.name.clone().into_owned(),
            KeyKind::Text => opts.text_key.clone(),
        }
    }

    fn write(&self, opts: &XmlOptions, out: &mut Vec<u8>) {
        out.push(b'"');
        match self.kind {
            KeyKind::Attribute => {
                escape_json(&opts.attribute_prefix, out);
                escape_json(&self.name, out);
            }
            KeyKind::Element => escape_json(&self.name, out),
            KeyKind::Text => escape_json(&opts.text_key, out),
        }
        out.push(b'"');
    }
}

/// A value of the tree.
#[derive(Debug)]
pub(super) enum Node<'a> {
    /// A string.
    Text(Cow<'a, str>),
    /// `null`, a boolean or a number read with `infer_types`.
    Typed(Json),
    /// An element with attributes or children, keys in order.
    Object(Vec<(Key<'a>, Node<'a>)>),
    /// Repeated siblings, or a forced array.
    Array(Vec<Node<'a>>),
}

impl Node<'_> {
    /// Writes the value as compact JSON text, as serde_json writes it.
    pub(super) fn write(&self, opts: &XmlOptions, out: &mut Vec<u8>) {
        match self {
            Node::Text(s) => write_json_str(s, out),
            Node::Typed(json) => json.write_to(out),
            Node::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(opts, out);
                }
                out.push(b']');
            }
            Node::Object(entries) => {
                out.push(b'{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    key.write(opts, out);
                    out.push(b':');
                    value.write(opts, out);
                }
                out.push(b'}');
            }
        }
    }

    /// The value as an ordered [`Json`] tree.
    pub(super) fn into_json(self, opts: &XmlOptions) -> Json {
        match self {
            Node::Text(s) => Json::String(s.into_owned()),
            Node::Typed(json) => json,
            Node::Array(items) => {
                Json::Array(items.into_iter().map(|n| n.into_json(opts)).collect())
            }
            Node::Object(entries) => Json::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.text(opts), v.into_json(opts)))
                    .collect(),
            ),
        }
    }
}

/// Writes `s` as a JSON string with serde_json's escaping (quotes,
/// backslashes and control characters; everything else as is), so the
/// bytes are the same as the serde path wrote before.
pub(crate) fn write_json_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    escape_json(s, out);
    out.push(b'"');
}

/// The bytes a JSON string cannot hold as they are: `"`, `\\` and the
/// control characters (one table look-up per byte in the common case).
const ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// The inside of a JSON string (see [`write_json_str`]).
fn escape_json(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !ESCAPED[usize::from(b)] {
            continue;
        }
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(short);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// `part` as a slice of `input`, when it is one: quick-xml hands out
/// pieces of a `&str` input as they are unless something had to be
/// unescaped, and borrowing them spares a copy per name and text.
pub(super) fn within<'a>(input: &'a str, part: &[u8]) -> Option<&'a str> {
    // Comparing addresses only: two live allocations never overlap, so a
    // range inside `input` is a piece of it.
    let start = (part.as_ptr() as usize).checked_sub(input.as_ptr() as usize)?;
    input.get(start..start.checked_add(part.len())?)
}

/// `text` borrowed from `input` when it is a piece of it, else owned.
pub(super) fn cow_in<'a>(input: &'a str, text: Cow<'_, str>) -> Cow<'a, str> {
    match within(input, text.as_bytes()) {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(text.into_owned()),
    }
}
