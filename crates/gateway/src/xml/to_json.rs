//! XML → JSON: reads events with quick-xml into the light tree of
//! `node` (names and text borrowed from the input where possible), refusing
//! DTDs, unknown entities and documents over the limits as it goes. The
//! `arrays:` paths are matched against the current element path, kept in
//! one buffer for the whole document; repeated siblings find their array
//! by a search of the element's keys (an index only for wide elements).

use std::borrow::Cow;
use std::collections::HashMap;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use super::node::{cow_in, within, Key, KeyKind, Node};
use super::{names, Json, XmlError, XmlOptions};

/// Maps an XML document to JSON; never panics, whatever the input.
pub fn xml_to_json(xml: &[u8], opts: &XmlOptions) -> Result<Json, XmlError> {
    let (name, value) = read(xml, opts)?;
    Ok(Json::Object(vec![(
        name.into_owned(),
        value.into_json(opts),
    )]))
}

/// Maps an XML document to compact JSON text: the same JSON as
/// [`xml_to_json`] gives, written without building a [`Json`] value.
pub fn xml_to_json_text(xml: &[u8], opts: &XmlOptions) -> Result<Vec<u8>, XmlError> {
    let (name, value) = read(xml, opts)?;
    // Element markup is usually longer than the JSON punctuation that
    // replaces it: the input's length is a fair first capacity.
    let mut out = Vec::with_capacity(xml.len());
    out.push(b'{');
    super::node::write_json_str(&name, &mut out);
    out.push(b':');
    value.write(opts, &mut out);
    out.push(b'}');
    Ok(out)
}

/// Reads the document into its root element's name and value.
fn read<'a>(xml: &'a [u8], opts: &XmlOptions) -> Result<(Cow<'a, str>, Node<'a>), XmlError> {
    if xml.len() > opts.limits.max_bytes {
        return Err(XmlError::TooLarge {
            limit: opts.limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(xml).map_err(|_| XmlError::NotUtf8)?;
    let mut builder = Builder::new(text, opts);
    let mut reader = Reader::from_str(text);
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(&e, reader.buffer_position()))?;
        if builder.event(event)? {
            return builder.finish();
        }
    }
}

fn malformed(e: &dyn std::fmt::Display, at: u64) -> XmlError {
    XmlError::Malformed(format!("{e} (at byte {at})"))
}

/// Past this many keys an element indexes them (a search of every key per
/// child would make a very wide element quadratic).
const INDEX_FROM: usize = 16;

/// An element being read: its entries (attributes and children, in order),
/// its text, and where its path ends in the builder's path buffer.
struct Frame<'a> {
    name: Cow<'a, str>,
    /// Length of the path buffer before this element's `/name`.
    path_len: usize,
    entries: Vec<(Key<'a>, Node<'a>)>,
    /// Written keys → entry, once the element has [`INDEX_FROM`] keys.
    index: Option<HashMap<String, usize>>,
    text: Cow<'a, str>,
    run: Cow<'a, str>,
    has_children: bool,
}

struct Builder<'a, 'o> {
    input: &'a str,
    opts: &'o XmlOptions,
    stack: Vec<Frame<'a>>,
    /// The open elements' path, `/a/b/c`, as `arrays:` writes paths.
    path: String,
    root: Option<(Cow<'a, str>, Node<'a>)>,
    nodes: usize,
}

impl<'a, 'o> Builder<'a, 'o> {
    fn new(input: &'a str, opts: &'o XmlOptions) -> Self {
        Builder {
            input,
            opts,
            stack: Vec::new(),
            path: String::new(),
            root: None,
            nodes: 0,
        }
    }

    /// Takes one event; true at the end of the input.
    fn event(&mut self, event: Event<'a>) -> Result<bool, XmlError> {
        match event {
            Event::Start(start) => self.open(&start)?,
            Event::Empty(start) => {
                self.open(&start)?;
                self.close()?;
            }
            Event::End(_) => self.close()?,
            Event::Text(t) => {
                let t = match within(self.input, &t) {
                    Some(s) => Cow::Borrowed(s),
                    None => {
                        let t = t.decode().map_err(|e| XmlError::Malformed(e.to_string()))?;
                        Cow::Owned(t.into_owned())
                    }
                };
                self.text(t)?;
            }
            Event::CData(c) => {
                let c = c.decode().map_err(|e| XmlError::Malformed(e.to_string()))?;
                self.text(c)?;
            }
            Event::GeneralRef(r) => {
                let c = resolve(&r)?;
                self.text(Cow::Owned(c.to_string()))?;
            }
            Event::DocType(_) => return Err(XmlError::DoctypeRefused),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => return Ok(true),
        }
        Ok(false)
    }

    fn count(&mut self) -> Result<(), XmlError> {
        self.nodes += 1;
        if self.nodes > self.opts.limits.max_nodes {
            return Err(XmlError::TooManyNodes {
                limit: self.opts.limits.max_nodes,
            });
        }
        Ok(())
    }

    /// A name of the input, borrowed when it can be.
    fn name(&self, raw: &[u8]) -> Result<Cow<'a, str>, XmlError> {
        let name = match within(self.input, raw) {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(
                std::str::from_utf8(raw)
                    .map_err(|_| XmlError::NotUtf8)?
                    .to_owned(),
            ),
        };
        names::check(&name)?;
        Ok(name)
    }

    fn open(&mut self, start: &BytesStart<'_>) -> Result<(), XmlError> {
        if self.root.is_some() {
            return Err(XmlError::Malformed("more than one root element".into()));
        }
        if self.stack.len() >= self.opts.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.opts.limits.max_depth,
            });
        }
        self.count()?;
        let name = self.name(start.name().as_ref())?;
        if let Some(parent) = self.stack.last_mut() {
            parent.flush_run(true);
            parent.has_children = true;
        }
        let path_len = self.path.len();
        self.path.push('/');
        self.path.push_str(&name);
        let mut frame = Frame {
            name,
            path_len,
            entries: Vec::new(),
            index: None,
            text: Cow::Borrowed(""),
            run: Cow::Borrowed(""),
            has_children: false,
        };
        self.attributes(start, &mut frame)?;
        self.stack.push(frame);
        Ok(())
    }

    fn attributes(
        &mut self,
        start: &BytesStart<'_>,
        frame: &mut Frame<'a>,
    ) -> Result<(), XmlError> {
        for attr in start.attributes() {
            let attr = attr.map_err(|e| XmlError::Malformed(e.to_string()))?;
            self.count()?;
            let name = self.name(attr.key.as_ref())?;
            let value = attr.unescape_value().map_err(entity_error)?;
            let value = scalar_node(cow_in(self.input, value), self.opts);
            let key = Key {
                kind: KeyKind::Attribute,
                name,
            };
            frame.insert(key, value, false, self.opts);
        }
        Ok(())
    }

    fn text(&mut self, text: Cow<'a, str>) -> Result<(), XmlError> {
        match self.stack.last_mut() {
            Some(frame) => append(&mut frame.run, text),
            // Only whitespace may stand outside the root element.
            None if text.trim().is_empty() => {}
            None => return Err(XmlError::Malformed("text outside the root element".into())),
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), XmlError> {
        let Some(mut frame) = self.stack.pop() else {
            return Err(XmlError::Malformed("end tag without a start".into()));
        };
        let has_children = frame.has_children;
        frame.flush_run(has_children);
        let forced = self.opts.arrays.contains(&self.path);
        self.path.truncate(frame.path_len);
        let (name, value) = frame.into_value(self.opts);
        match self.stack.last_mut() {
            Some(parent) => {
                let key = Key {
                    kind: KeyKind::Element,
                    name,
                };
                parent.insert(key, value, forced, self.opts);
            }
            None => self.root = Some((name, value)),
        }
        Ok(())
    }

    fn finish(self) -> Result<(Cow<'a, str>, Node<'a>), XmlError> {
        if let Some(open) = self.stack.last() {
            return Err(XmlError::Malformed(format!(
                "element <{}> not closed",
                open.name
            )));
        }
        self.root
            .ok_or_else(|| XmlError::Malformed("no root element".into()))
    }
}

/// Appends `more` to `to`, borrowing while `to` is empty.
fn append<'a>(to: &mut Cow<'a, str>, more: Cow<'a, str>) {
    if to.is_empty() {
        *to = more;
    } else {
        to.to_mut().push_str(&more);
    }
}

impl<'a> Frame<'a> {
    /// Moves the pending text run into the element's text; beside child
    /// elements a whitespace-only run is indentation and is dropped.
    fn flush_run(&mut self, beside_children: bool) {
        let run = std::mem::take(&mut self.run);
        if !beside_children || !run.trim().is_empty() {
            append(&mut self.text, run);
        }
    }

    /// The entry written as `key`, if any.
    fn find(&mut self, key: &Key<'_>, opts: &XmlOptions) -> Option<usize> {
        if self.index.is_none() && self.entries.len() >= INDEX_FROM {
            let index = self.entries.iter().enumerate();
            self.index = Some(index.map(|(i, (k, _))| (k.text(opts), i)).collect());
        }
        match &self.index {
            Some(index) => index.get(&key.text(opts)).copied(),
            // Repeated siblings usually follow each other: search from the end.
            None => self.entries.iter().rposition(|(k, _)| k.same_as(key, opts)),
        }
    }

    /// Adds an attribute or child; a repeated key becomes (or grows) an array.
    fn insert(&mut self, key: Key<'a>, value: Node<'a>, forced: bool, opts: &XmlOptions) {
        match self.find(&key, opts) {
            // Entries are strings, nulls or objects unless made arrays here.
            Some(i) => match &mut self.entries[i].1 {
                Node::Array(items) => items.push(value),
                other => {
                    let first = std::mem::replace(other, Node::Array(Vec::new()));
                    *other = Node::Array(vec![first, value]);
                }
            },
            None => {
                let value = if forced {
                    Node::Array(vec![value])
                } else {
                    value
                };
                if let Some(index) = &mut self.index {
                    index.insert(key.text(opts), self.entries.len());
                }
                self.entries.push((key, value));
            }
        }
    }

    fn into_value(mut self, opts: &XmlOptions) -> (Cow<'a, str>, Node<'a>) {
        if self.entries.is_empty() {
            return (self.name, scalar_node(self.text, opts));
        }
        if !self.text.is_empty() {
            let text = scalar_node(self.text, opts);
            let key = Key {
                kind: KeyKind::Text,
                name: Cow::Borrowed(""),
            };
            self.entries.push((key, text));
        }
        (self.name, Node::Object(self.entries))
    }
}

/// A text or attribute value as a node (see [`scalar`]).
fn scalar_node<'a>(text: Cow<'a, str>, opts: &XmlOptions) -> Node<'a> {
    if !opts.infer_types {
        return Node::Text(text);
    }
    match scalar(&text, opts) {
        Json::String(_) => Node::Text(text),
        typed => Node::Typed(typed),
    }
}

/// Resolves `&name;`: the five predefined entities and character references only.
fn resolve(r: &BytesRef<'_>) -> Result<char, XmlError> {
    let raw = String::from_utf8_lossy(r.as_ref()).into_owned();
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) if names::is_xml_char(c) => Ok(c),
            _ => Err(XmlError::UnknownEntity(raw)),
        };
    }
    match raw.as_str() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(XmlError::UnknownEntity(raw)),
    }
}

fn entity_error(e: quick_xml::Error) -> XmlError {
    match e {
        quick_xml::Error::Escape(e) => XmlError::UnknownEntity(e.to_string()),
        other => XmlError::Malformed(other.to_string()),
    }
}

/// A text or attribute value: a string, or with `infer_types` the JSON
/// type the rule in the module doc gives.
pub(super) fn scalar(text: &str, opts: &XmlOptions) -> Json {
    if !opts.infer_types {
        return Json::String(text.to_owned());
    }
    match text {
        "" => return Json::Null,
        "true" => return Json::Bool(true),
        "false" => return Json::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    let plain_integer = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if plain_integer {
        if let Ok(n) = text.parse::<i64>() {
            return Json::Number(n.into());
        }
        if let Ok(n) = text.parse::<u64>() {
            return Json::Number(n.into());
        }
    }
    if is_json_float(text) {
        if let Some(n) = text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            return Json::Number(n);
        }
    }
    Json::String(text.to_owned())
}

/// JSON's number grammar with a fraction or an exponent (`1.5`, `-2e3`).
fn is_json_float(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mantissa = mantissa.strip_prefix('-').unwrap_or(mantissa);
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let int_ok = digits(int) && (int == "0" || !int.starts_with('0'));
    let frac_ok = frac.is_none_or(digits);
    let exp_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    int_ok && frac_ok && exp_ok && (frac.is_some() || exponent.is_some())
}
