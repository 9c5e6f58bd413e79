//! A JSON document read in place for the `validate` policy: one flat list
//! of values in document order (containers know where they end), strings
//! borrowed from the body unless they hold escapes. The `jsonschema`
//! crate validates any representation that implements its `Json` traits
//! (`options_for`), so a body is checked by the same compiled rules as a
//! `serde_json::Value` without building one (a map and a `String` per
//! object and string: most of what a check of a small body cost).
//!
//! It lives here, not in the gateway, because the validator compiled at
//! load names the representation in its type.
//!
//! Only validity is read from it: a body it finds invalid is checked again
//! as a `Value` for the violations (that path reports pointers and
//! messages exactly as before). An object with a member name twice is not
//! represented (a `Value` keeps the last one; this list would keep both):
//! [`parse`] refuses it and the caller falls back to the `Value`.

use std::borrow::Cow;
use std::fmt;

use jsonschema::json::{cmp, Array, Json, Node, NodeIdentity, Object};
use jsonschema::JsonType;
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The representation's marker type, for `jsonschema::options_for`.
#[derive(Debug)]
pub struct BodyJson;

/// A JSON document as [`parse`] reads it.
#[derive(Debug)]
pub struct Document<'a> {
    slots: Vec<Slot<'a>>,
}

impl<'a> Document<'a> {
    /// The document's root value.
    pub fn root(&self) -> BodyNode<'_> {
        BodyNode {
            slots: &self.slots,
            at: 0,
        }
    }
}

/// One value; a container is followed by its items (an object by name,
/// value pairs) and records the index just past them.
#[derive(Debug)]
enum Slot<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'a, str>),
    Array { len: u32, end: u32 },
    Object { len: u32, end: u32 },
}

/// Reads `body` as `serde_json::from_slice` would (same parser, same
/// refusals), or `Err` for an object with a member name twice.
pub fn parse(body: &[u8]) -> Result<Document<'_>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut slots = Vec::with_capacity(body.len() / 8 + 4);
    Fill { slots: &mut slots }.deserialize(&mut de)?;
    de.end()?;
    Ok(Document { slots })
}

/// Appends the value being read (and what it contains) to `slots`.
struct Fill<'s, 'a> {
    slots: &'s mut Vec<Slot<'a>>,
}

impl<'de> DeserializeSeed<'de> for Fill<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Records in the container slot at `at` its item count and where it
/// ends; `None` past `u32` (a body that large is refused long before).
fn close(slots: &mut [Slot<'_>], at: usize, count: usize, end: usize) -> Option<()> {
    let (len, end) = (u32::try_from(count).ok()?, u32::try_from(end).ok()?);
    slots[at] = match slots[at] {
        Slot::Array { .. } => Slot::Array { len, end },
        _ => Slot::Object { len, end },
    };
    Some(())
}

impl<'de> Visitor<'de> for Fill<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.slots.push(Slot::Null);
        Ok(())
    }
    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.slots.push(Slot::Bool(b));
        Ok(())
    }
    fn visit_i64<E>(self, n: i64) -> Result<(), E> {
        self.slots.push(Slot::Number(n.into()));
        Ok(())
    }
    fn visit_u64<E>(self, n: u64) -> Result<(), E> {
        self.slots.push(Slot::Number(n.into()));
        Ok(())
    }
    fn visit_f64<E>(self, n: f64) -> Result<(), E> {
        // As `Value` does: a float that is not finite would be `null`
        // (the parser yields none).
        self.slots
            .push(Number::from_f64(n).map_or(Slot::Null, Slot::Number));
        Ok(())
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<(), E> {
        self.slots.push(Slot::Str(Cow::Borrowed(s)));
        Ok(())
    }
    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        self.slots.push(Slot::Str(Cow::Owned(s.to_owned())));
        Ok(())
    }
    fn visit_string<E>(self, s: String) -> Result<(), E> {
        self.slots.push(Slot::Str(Cow::Owned(s)));
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let at = self.slots.len();
        self.slots.push(Slot::Array { len: 0, end: 0 });
        let mut count = 0;
        while seq.next_element_seed(Fill { slots: self.slots })?.is_some() {
            count += 1;
        }
        let end = self.slots.len();
        close(self.slots, at, count, end).ok_or_else(|| A::Error::custom("too large"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let at = self.slots.len();
        self.slots.push(Slot::Object { len: 0, end: 0 });
        let mut count = 0;
        while map.next_key_seed(Name { slots: self.slots })?.is_some() {
            map.next_value_seed(Fill { slots: self.slots })?;
            count += 1;
        }
        let end = self.slots.len();
        close(self.slots, at, count, end).ok_or_else(|| A::Error::custom("too large"))?;
        if has_twice(BodyNode {
            slots: self.slots,
            at,
        }) {
            return Err(A::Error::custom("a member name appears twice"));
        }
        Ok(())
    }
}

/// Reads a member name (a string, as `Value` reads it).
struct Name<'s, 'a> {
    slots: &'s mut Vec<Slot<'a>>,
}

impl<'de> DeserializeSeed<'de> for Name<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(Fill { slots: self.slots })
    }
}

/// Whether the object at `node` has a member name twice.
fn has_twice(node: BodyNode<'_>) -> bool {
    let names: Vec<&str> = node.members().map(|(name, _)| name).collect();
    if names.len() <= 16 {
        // Small objects (the usual case): pairs, without sorting.
        return names
            .iter()
            .enumerate()
            .any(|(i, a)| names[i + 1..].contains(a));
    }
    let mut sorted = names;
    sorted.sort_unstable();
    sorted.windows(2).any(|w| w[0] == w[1])
}

/// One value of a [`Document`].
#[derive(Debug, Clone, Copy)]
pub struct BodyNode<'a> {
    slots: &'a [Slot<'a>],
    at: usize,
}

impl<'a> BodyNode<'a> {
    fn slot(&self) -> &'a Slot<'a> {
        &self.slots[self.at]
    }

    /// The index just past this value and what it contains.
    fn end(&self) -> usize {
        match self.slot() {
            Slot::Array { end, .. } | Slot::Object { end, .. } => *end as usize,
            _ => self.at + 1,
        }
    }

    fn len(&self) -> usize {
        match self.slot() {
            Slot::Array { len, .. } | Slot::Object { len, .. } => *len as usize,
            _ => 0,
        }
    }

    fn str(&self) -> Option<&'a str> {
        match self.slot() {
            Slot::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The members of an object (nothing for other values).
    fn members(&self) -> Members<'a> {
        let end = match self.slot() {
            Slot::Object { end, .. } => *end as usize,
            _ => self.at + 1,
        };
        Members {
            slots: self.slots,
            next: self.at + 1,
            end,
        }
    }
}

/// Member names and values of an object, in document order.
#[derive(Debug)]
pub struct Members<'a> {
    slots: &'a [Slot<'a>],
    next: usize,
    end: usize,
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, BodyNode<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let name = BodyNode {
            slots: self.slots,
            at: self.next,
        };
        let value = BodyNode {
            slots: self.slots,
            at: self.next + 1,
        };
        self.next = value.end();
        Some((name.str().unwrap_or_default(), value))
    }
}

/// Items of an array, in order.
#[derive(Debug)]
pub struct Items<'a> {
    slots: &'a [Slot<'a>],
    next: usize,
    end: usize,
}

impl<'a> Iterator for Items<'a> {
    type Item = BodyNode<'a>;

    fn next(&mut self) -> Option<BodyNode<'a>> {
        if self.next >= self.end {
            return None;
        }
        let item = BodyNode {
            slots: self.slots,
            at: self.next,
        };
        self.next = item.end();
        Some(item)
    }
}

/// An object of a [`Document`].
#[derive(Debug, Clone, Copy)]
pub struct BodyObject<'a>(BodyNode<'a>);

/// An array of a [`Document`].
#[derive(Debug, Clone, Copy)]
pub struct BodyArray<'a>(BodyNode<'a>);

impl Json for BodyJson {
    type Node<'a> = BodyNode<'a>;
    type PreparedKey = String;
    type StringBuffer = ();

    // A lookup scans the members: one pass over them is never dearer.
    const KEYS_PER_LOOKUP: usize = 1 << 16;
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>((): &mut (), string: &str, f: impl FnOnce(BodyNode<'_>) -> T) -> T {
        let slots = [Slot::Str(Cow::Borrowed(string))];
        f(BodyNode {
            slots: &slots,
            at: 0,
        })
    }
}

impl<'a> Node<'a, BodyJson> for BodyNode<'a> {
    type Object = BodyObject<'a>;
    type Array = BodyArray<'a>;
    type Number = &'a Number;

    fn as_object(&self) -> Option<BodyObject<'a>> {
        matches!(self.slot(), Slot::Object { .. }).then_some(BodyObject(*self))
    }
    fn as_array(&self) -> Option<BodyArray<'a>> {
        matches!(self.slot(), Slot::Array { .. }).then_some(BodyArray(*self))
    }
    fn as_string(&self) -> Option<Cow<'a, str>> {
        self.str().map(Cow::Borrowed)
    }
    fn as_number(&self) -> Option<&'a Number> {
        match self.slot() {
            Slot::Number(n) => Some(n),
            _ => None,
        }
    }
    fn as_boolean(&self) -> Option<bool> {
        match self.slot() {
            Slot::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn is_null(&self) -> bool {
        matches!(self.slot(), Slot::Null)
    }
    fn json_type(&self) -> JsonType {
        match self.slot() {
            Slot::Null => JsonType::Null,
            Slot::Bool(_) => JsonType::Boolean,
            Slot::Number(_) => JsonType::Number,
            Slot::Str(_) => JsonType::String,
            Slot::Array { .. } => JsonType::Array,
            Slot::Object { .. } => JsonType::Object,
        }
    }
    fn string_length_within(&self, min: u64, max: u64) -> Option<bool> {
        let s = self.str()?;
        // A code point is one to four bytes: the byte length often decides.
        let bytes = s.len() as u64;
        if bytes < min || bytes.div_ceil(4) > max {
            return Some(false);
        }
        if min <= bytes.div_ceil(4) && bytes <= max {
            return Some(true);
        }
        Some((min..=max).contains(&(s.chars().count() as u64)))
    }
    fn equals_value(&self, expected: &Value) -> bool {
        match (self.slot(), expected) {
            // `enum` of names, the usual case, without building a `Value`.
            (Slot::Str(s), Value::String(e)) => s == e,
            (Slot::Str(_), _) => false,
            _ => cmp::equal(&self.to_value(), expected),
        }
    }
    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(to_value(*self))
    }
    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(std::ptr::from_ref(self.slot()) as usize))
    }
}

/// The value as a `serde_json::Value` (errors and comparisons only).
fn to_value(node: BodyNode<'_>) -> Value {
    match node.slot() {
        Slot::Null => Value::Null,
        Slot::Bool(b) => Value::Bool(*b),
        Slot::Number(n) => Value::Number(n.clone()),
        Slot::Str(s) => Value::String(s.to_string()),
        Slot::Array { .. } => Value::Array(BodyArray(node).elements().map(to_value).collect()),
        Slot::Object { .. } => Value::Object(
            node.members()
                .map(|(name, v)| (name.to_owned(), to_value(v)))
                .collect::<Map<String, Value>>(),
        ),
    }
}

impl<'a> Object<'a, BodyJson> for BodyObject<'a> {
    type Node = BodyNode<'a>;
    type MemberName = &'a str;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        self.0.len()
    }
    fn get(&self, key: &String) -> Option<BodyNode<'a>> {
        self.0
            .members()
            .find(|(name, _)| *name == key)
            .map(|(_, v)| v)
    }
    fn members(&self) -> Members<'a> {
        self.0.members()
    }
}

impl<'a> Array<'a, BodyJson> for BodyArray<'a> {
    type Node = BodyNode<'a>;
    type ElementsIter = Items<'a>;

    fn len(&self) -> usize {
        self.0.len()
    }
    fn elements(&self) -> Items<'a> {
        Items {
            slots: self.0.slots,
            next: self.0.at + 1,
            end: self.0.end(),
        }
    }
}
