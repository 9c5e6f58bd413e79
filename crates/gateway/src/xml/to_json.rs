//! XML → JSON: reads events with quick-xml and builds the ordered tree of
//! the mapping (module doc of `xml`), refusing DTDs, unknown entities and
//! documents over the limits as it goes.

use std::collections::HashMap;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use super::{names, Json, XmlError, XmlOptions};

/// Maps an XML document to JSON; never panics, whatever the input.
pub fn xml_to_json(xml: &[u8], opts: &XmlOptions) -> Result<Json, XmlError> {
    if xml.len() > opts.limits.max_bytes {
        return Err(XmlError::TooLarge {
            limit: opts.limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(xml).map_err(|_| XmlError::NotUtf8)?;
    let mut builder = Builder::new(opts);
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

/// An element being read: its entries (attributes and children, in order),
/// an index of entry keys so repeated siblings find their array, its text.
struct Frame {
    name: String,
    path: String,
    entries: Vec<(String, Json)>,
    index: HashMap<String, usize>,
    text: String,
    run: String,
    has_children: bool,
}

struct Builder<'o> {
    opts: &'o XmlOptions,
    stack: Vec<Frame>,
    root: Option<Json>,
    nodes: usize,
}

impl<'o> Builder<'o> {
    fn new(opts: &'o XmlOptions) -> Self {
        Builder {
            opts,
            stack: Vec::new(),
            root: None,
            nodes: 0,
        }
    }

    /// Takes one event; true at the end of the input.
    fn event(&mut self, event: Event<'_>) -> Result<bool, XmlError> {
        match event {
            Event::Start(start) => self.open(&start)?,
            Event::Empty(start) => {
                self.open(&start)?;
                self.close()?;
            }
            Event::End(_) => self.close()?,
            Event::Text(t) => {
                let t = t.decode().map_err(|e| XmlError::Malformed(e.to_string()))?;
                self.text(&t)?;
            }
            Event::CData(c) => {
                let c = c.decode().map_err(|e| XmlError::Malformed(e.to_string()))?;
                self.text(&c)?;
            }
            Event::GeneralRef(r) => {
                let c = resolve(&r)?;
                self.text(c.encode_utf8(&mut [0; 4]))?;
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
        let name = std::str::from_utf8(start.name().as_ref())
            .map_err(|_| XmlError::NotUtf8)?
            .to_owned();
        names::check(&name)?;
        let parent_path = match self.stack.last_mut() {
            Some(parent) => {
                parent.flush_run(true);
                parent.has_children = true;
                parent.path.as_str()
            }
            None => "",
        };
        let mut frame = Frame {
            path: format!("{parent_path}/{name}"),
            name,
            entries: Vec::new(),
            index: HashMap::new(),
            text: String::new(),
            run: String::new(),
            has_children: false,
        };
        self.attributes(start, &mut frame)?;
        self.stack.push(frame);
        Ok(())
    }

    fn attributes(&mut self, start: &BytesStart<'_>, frame: &mut Frame) -> Result<(), XmlError> {
        for attr in start.attributes() {
            let attr = attr.map_err(|e| XmlError::Malformed(e.to_string()))?;
            self.count()?;
            let key = std::str::from_utf8(attr.key.as_ref()).map_err(|_| XmlError::NotUtf8)?;
            names::check(key)?;
            let value = attr.unescape_value().map_err(entity_error)?;
            let value = scalar(&value, self.opts);
            frame.insert(format!("{}{key}", self.opts.attribute_prefix), value, false);
        }
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<(), XmlError> {
        match self.stack.last_mut() {
            Some(frame) => frame.run.push_str(text),
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
        let forced = self.opts.arrays.contains(&frame.path);
        let (name, value) = frame.into_value(self.opts);
        match self.stack.last_mut() {
            Some(parent) => parent.insert(name, value, forced),
            None => self.root = Some(Json::Object(vec![(name, value)])),
        }
        Ok(())
    }

    fn finish(self) -> Result<Json, XmlError> {
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

impl Frame {
    /// Moves the pending text run into the element's text; beside child
    /// elements a whitespace-only run is indentation and is dropped.
    fn flush_run(&mut self, beside_children: bool) {
        if !beside_children || !self.run.trim().is_empty() {
            self.text.push_str(&self.run);
        }
        self.run.clear();
    }

    /// Adds an attribute or child; a repeated key becomes (or grows) an array.
    fn insert(&mut self, key: String, value: Json, forced: bool) {
        match self.index.get(&key) {
            // Entries are strings, nulls or objects unless made arrays here.
            Some(&i) => match &mut self.entries[i].1 {
                Json::Array(items) => items.push(value),
                other => {
                    let first = std::mem::replace(other, Json::Null);
                    *other = Json::Array(vec![first, value]);
                }
            },
            None => {
                let value = if forced {
                    Json::Array(vec![value])
                } else {
                    value
                };
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, value));
            }
        }
    }

    fn into_value(mut self, opts: &XmlOptions) -> (String, Json) {
        if self.entries.is_empty() {
            return (self.name, scalar(&self.text, opts));
        }
        if !self.text.is_empty() {
            let text = scalar(&self.text, opts);
            self.entries.push((opts.text_key.clone(), text));
        }
        (self.name, Json::Object(self.entries))
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
