//! An ordered JSON value: object keys keep the order they were read or
//! built in. Element order matters in XML (a SOAP `Header` comes before the
//! `Body`), and serde_json's own map sorts keys unless a crate-wide feature
//! is turned on for every user of it.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON value whose objects keep key order (duplicate keys kept as read).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as serde_json holds it.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, keys in order.
    Object(Vec<(String, Json)>),
    /// A value kept as the compact JSON text that writing it gives: what
    /// the JSON body edits read past without building it (never made by
    /// [`Json::parse`] nor by the XML mapping).
    Raw(String),
}

impl Json {
    /// The value as compact JSON text, keys in order.
    pub fn to_json_string(&self) -> String {
        let mut out = Vec::new();
        self.write_to(&mut out);
        // Only whole UTF-8 strings and ASCII are written.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends the value as compact JSON text (keys in order, serde_json's
    /// escaping and number forms) to `out`; no serializer in between.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Json::Null => out.extend_from_slice(b"null"),
            Json::Bool(true) => out.extend_from_slice(b"true"),
            Json::Bool(false) => out.extend_from_slice(b"false"),
            // Writing into a Vec cannot fail.
            Json::Number(n) => drop(serde_json::to_writer(&mut *out, n)),
            Json::String(s) => super::node::write_json_str(s, out),
            Json::Raw(text) => out.extend_from_slice(text.as_bytes()),
            Json::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write_to(out);
                }
                out.push(b']');
            }
            Json::Object(entries) => {
                out.push(b'{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    super::node::write_json_str(key, out);
                    out.push(b':');
                    value.write_to(out);
                }
                out.push(b'}');
            }
        }
    }

    /// Reads JSON text, keeping key order.
    pub fn parse(bytes: &[u8]) -> Result<Json, super::XmlError> {
        serde_json::from_slice(bytes).map_err(|e| super::XmlError::InvalidJson(e.to_string()))
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(t) => s.serialize_str(t),
            // Rare (raw values are written, not serialized): read back.
            Json::Raw(text) => Json::parse(text.as_bytes())
                .unwrap_or(Json::Null)
                .serialize(s),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// The scalar half of a `Visitor` whose value is [`Json`]: every reader
/// of JSON into the tree (the whole-document one here, the edit-path one
/// in `transform`) reads scalars alike and differs only in containers.
macro_rules! json_scalar_visits {
    () => {
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_unit<E>(self) -> Result<Json, E> {
            Ok(Json::Null)
        }
        fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
            Ok(Json::Bool(b))
        }
        fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
            Ok(Json::Number(n.into()))
        }
        fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
            Ok(Json::Number(n.into()))
        }
        fn visit_f64<E>(self, n: f64) -> Result<Json, E> {
            // JSON text never holds NaN or infinity; null is the safe reading.
            Ok(serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number))
        }
        fn visit_str<E>(self, s: &str) -> Result<Json, E> {
            Ok(Json::String(s.to_owned()))
        }
        fn visit_string<E>(self, s: String) -> Result<Json, E> {
            Ok(Json::String(s))
        }
    };
}
pub(crate) use json_scalar_visits;

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    json_scalar_visits!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            entries.push((k, v));
        }
        Ok(Json::Object(entries))
    }
}
