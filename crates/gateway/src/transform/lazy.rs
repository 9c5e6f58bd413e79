//! Reading a JSON body for edits without building what the edits never
//! touch. Members on an edit's path are read into the [`Json`] tree (the
//! targets whole, the objects on the way member by member, arrays on the
//! way whole since an insert shifts their indexes); every other value is
//! copied to compact JSON text as the parser reads it and kept as
//! [`Json::Raw`]. An edit of a few fields of a large answer so allocates
//! for those fields, not for every string and container of the answer.
//!
//! The copy is written from the same parser events the tree is built from
//! and with the same writer, so the edited body is byte for byte what a
//! full parse would give, and the same inputs are refused with the same
//! errors.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::xml::{write_json_str, Json, XmlError};

/// Most pointers followed (one bit each); past that the body is read whole.
const MAX_POINTERS: usize = 64;

/// Reads `body` for edits at `pointers` (reference tokens, unescaped).
pub(super) fn parse(body: &[u8], pointers: &[&[String]]) -> Result<Json, XmlError> {
    if pointers.len() > MAX_POINTERS || pointers.iter().any(|p| p.is_empty()) {
        // An edit of the whole document needs it whole.
        return Json::parse(body);
    }
    let mask = match pointers.len() {
        MAX_POINTERS => u64::MAX,
        n => (1u64 << n) - 1,
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let seed = Along {
        pointers,
        mask,
        depth: 0,
    };
    // As serde_json::from_slice: the value, then nothing but whitespace.
    seed.deserialize(&mut de)
        .and_then(|doc| de.end().map(|()| doc))
        .map_err(|e| XmlError::InvalidJson(e.to_string()))
}

/// A value on the way to the pointers in `mask`, at `depth` tokens.
#[derive(Clone, Copy)]
struct Along<'p> {
    pointers: &'p [&'p [String]],
    mask: u64,
    depth: usize,
}

impl Along<'_> {
    /// The pointers that end at member `key` (`whole`) and those that go
    /// on through it (`along`).
    fn classify(&self, key: &str) -> (u64, u64) {
        let (mut whole, mut along) = (0, 0);
        for (i, p) in self.pointers.iter().enumerate() {
            let bit = 1u64 << i;
            if self.mask & bit == 0 || p.get(self.depth).is_none_or(|t| t != key) {
                continue;
            }
            if p.len() == self.depth + 1 {
                whole |= bit;
            } else {
                along |= bit;
            }
        }
        (whole, along)
    }
}

impl<'de> DeserializeSeed<'de> for Along<'_> {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Along<'_> {
    type Value = Json;

    crate::xml::json_scalar_visits!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        // One buffer for the copies of this object's members: it grows
        // once, not once per member.
        let mut text = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let (whole, along) = self.classify(&key);
            let value = if whole != 0 {
                map.next_value::<Json>()?
            } else if along != 0 {
                map.next_value_seed(Along {
                    mask: along,
                    depth: self.depth + 1,
                    ..self
                })?
            } else {
                text.clear();
                map.next_value_seed(Copy { out: &mut text })?;
                // Only whole strings and ASCII were written.
                Json::Raw(std::str::from_utf8(&text).map_or_else(|_| String::new(), str::to_owned))
            };
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }
}

/// Writes the value being read as compact JSON text, as [`Json::write_to`]
/// writes the tree the same events would build.
struct Copy<'o> {
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for Copy<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Copy<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.out
            .extend_from_slice(if b { b"true" } else { b"false" });
        Ok(())
    }
    fn visit_i64<E>(self, n: i64) -> Result<(), E> {
        // Writing into a Vec cannot fail.
        drop(serde_json::to_writer(&mut *self.out, &n));
        Ok(())
    }
    fn visit_u64<E>(self, n: u64) -> Result<(), E> {
        drop(serde_json::to_writer(&mut *self.out, &n));
        Ok(())
    }
    fn visit_f64<E>(self, n: f64) -> Result<(), E> {
        match serde_json::Number::from_f64(n) {
            Some(n) => drop(serde_json::to_writer(&mut *self.out, &n)),
            None => self.out.extend_from_slice(b"null"),
        }
        Ok(())
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<(), E> {
        write_unescaped(s, self.out);
        Ok(())
    }
    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        write_json_str(s, self.out);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        loop {
            // The comma is written before it is known whether an item
            // follows, and taken back at the end.
            let mark = self.out.len();
            if !first {
                self.out.push(b',');
            }
            if seq.next_element_seed(Copy { out: self.out })?.is_none() {
                self.out.truncate(mark);
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.out.push(b'{');
        let mut first = true;
        loop {
            let mark = self.out.len();
            if !first {
                self.out.push(b',');
            }
            if map.next_key_seed(Key { out: self.out })?.is_none() {
                self.out.truncate(mark);
                break;
            }
            self.out.push(b':');
            map.next_value_seed(Copy { out: self.out })?;
            first = false;
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// Writes an object key being read.
struct Key<'o> {
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<(), E> {
        write_unescaped(s, self.out);
        Ok(())
    }
    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        write_json_str(s, self.out);
        Ok(())
    }
}

/// Writes a string the parser lent from the body as it is: it held no
/// escape, and an unescaped JSON string cannot hold a quote, a backslash
/// or a control character (the parser refuses them), so escaping it again
/// (as [`write_json_str`] would) finds nothing to change.
fn write_unescaped(s: &str, out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}
