//! Reading the raw structs without stopping at the first unknown field.
//!
//! [`Lenient`] wraps serde-saphyr's deserializer and passes every call
//! through unchanged, with one exception: when a struct (one of the `raw`
//! types) reads a mapping, keys that are not among the struct's fields are
//! recorded (name, place, field path and the allowed names) and their values
//! skipped, instead of being handed to the struct, whose
//! `deny_unknown_fields` would stop everything at the first one. The allowed
//! names come from serde itself: derived structs pass their field list to
//! `deserialize_struct`, so there is no second copy of the schema to keep in
//! step with `raw`.
//!
//! The wrapper also keeps track of the field being read, so that any other
//! serde error (a list where a single value belongs, an unknown keyword) can
//! be given a field path, and so that [`read`] can read the text again
//! without the failing field and find the errors after it.

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, IntoDeserializer, MapAccess,
    SeqAccess, VariantAccess, Visitor,
};
use serde::Deserialize;
use serde_saphyr::Location;
#[cfg(test)]
use serde_saphyr::Spanned;

/// (line, column) in the text given to serde-saphyr, 1-based; line 0 when
/// unknown.
pub(crate) type Pos = (u64, u64);

/// A key that is not a field of the struct it was written in.
#[derive(Debug, Clone)]
pub(crate) struct Unknown {
    /// Where the key was written.
    pub(crate) at: Pos,
    /// Field path of the key, e.g. `routes[1].match.pathh`.
    pub(crate) path: String,
    /// Field path of the mapping it was written in, e.g. `routes[1].match`.
    pub(crate) parent: String,
    /// The key as written.
    pub(crate) field: String,
    /// The fields allowed in its place.
    pub(crate) expected: &'static [&'static str],
}

impl Unknown {
    /// The allowed field closest to the one written, if it looks like a typo.
    pub(crate) fn suggestion(&self) -> Option<&'static str> {
        let field = self.field.to_ascii_lowercase();
        self.expected
            .iter()
            .map(|e| (edit_distance(&field, e), *e))
            .filter(|(d, e)| *d < e.len() && *d <= (e.len() / 3).max(1))
            .min_by_key(|(d, _)| *d)
            .map(|(_, e)| e)
    }

    /// Field path of the suggested field, e.g. `routes[1].match.path`.
    pub(crate) fn suggested_path(&self) -> Option<String> {
        self.suggestion().map(|s| join(&self.parent, s))
    }

    /// `unknown field `x`, expected one of ...`, with a suggestion when
    /// one name is close.
    pub(crate) fn message(&self) -> String {
        let mut m = format!("unknown field `{}`", self.field.escape_debug());
        if let Some(s) = self.suggestion() {
            m.push_str(&format!(" (did you mean `{s}`?)"));
        }
        match self.expected {
            [] => m.push_str(", no fields are allowed here"),
            [one] => m.push_str(&format!(", expected `{one}`")),
            all => {
                let list: Vec<String> = all.iter().map(|f| format!("`{f}`")).collect();
                m.push_str(&format!(", expected one of {}", list.join(", ")));
            }
        }
        m
    }
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A serde error other than an unknown field.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// Where serde-saphyr placed it.
    pub(crate) at: Pos,
    /// Field path of the innermost field being read, empty when none.
    pub(crate) path: String,
    /// The message, as shown to the user.
    pub(crate) message: String,
}

/// Everything found while reading the text.
pub(crate) struct Outcome<T> {
    /// The value, when the text could be read (unknown fields left out).
    pub(crate) value: Option<T>,
    /// Every unknown field, in no particular order.
    pub(crate) unknown: Vec<Unknown>,
    /// Every other serde error; empty when `value` is set.
    pub(crate) failures: Vec<Failure>,
}

/// At most this many attempts: each one after the first leaves out one more
/// failing value.
const MAX_ATTEMPTS: usize = 64;

/// Reads `text` into `T` with `run` (which calls serde-saphyr with a
/// deserializer wrapped by [`Lenient::new`]), collecting unknown fields.
/// After any other error, reads the text again with the failing value (the
/// innermost field or list item being read) left out, so that errors after
/// it are found too; `describe` turns an error into its place and message.
pub(crate) fn read<T, E>(
    mut run: impl FnMut(&Recorder) -> Result<T, E>,
    describe: impl Fn(E) -> (Pos, String),
) -> Outcome<T> {
    let mut skip: Vec<String> = Vec::new();
    let mut unknown: Vec<Unknown> = Vec::new();
    let mut failures: Vec<Failure> = Vec::new();
    for attempt in 1..=MAX_ATTEMPTS {
        let rec = Recorder {
            skip: skip.clone(),
            ..Recorder::default()
        };
        let result = run(&rec);
        for u in rec.unknown.into_inner() {
            if !unknown.iter().any(|k| k.at == u.at && k.path == u.path) {
                unknown.push(u);
            }
        }
        let e = match result {
            Ok(value) if failures.is_empty() => {
                return Outcome {
                    value: Some(value),
                    unknown,
                    failures,
                };
            }
            Ok(_) => break,
            Err(e) => e,
        };
        let (at, message) = describe(e);
        let failed = rec.failed.into_inner();
        if !failures.iter().any(|f| f.at == at && f.message == message) {
            failures.push(Failure {
                at,
                path: failed.clone().unwrap_or_default(),
                message,
            });
        }
        // Leave out the innermost value being read and try again; stop when
        // there is none (an error outside any field, e.g. in the YAML syntax
        // at the top level) or it was already left out (no progress).
        match failed {
            Some(path) if !skip.contains(&path) => skip.push(path),
            _ => break,
        }
        if attempt == MAX_ATTEMPTS {
            failures.push(Failure {
                at: (0, 0),
                path: String::new(),
                message: format!(
                    "stopped after {MAX_ATTEMPTS} values that cannot be read; \
                     fix them and check again"
                ),
            });
            break;
        }
    }
    Outcome {
        value: None,
        unknown,
        failures,
    }
}

/// Shared state of one attempt.
#[derive(Default)]
pub(crate) struct Recorder {
    /// Keys found that no struct allows.
    unknown: RefCell<Vec<Unknown>>,
    /// Field paths of the values being read, innermost last.
    open: RefCell<Vec<String>>,
    /// The innermost value being read when the first error happened.
    failed: RefCell<Option<String>>,
    /// Values that failed in an earlier attempt, by field path: left out.
    skip: Vec<String>,
}

impl Recorder {
    /// Runs `f` as the reading of the value at `path`.
    fn within<R, E>(&self, path: &str, f: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
        self.open.borrow_mut().push(path.to_string());
        let result = f();
        let innermost = self.open.borrow_mut().pop();
        if result.is_err() {
            let mut failed = self.failed.borrow_mut();
            if failed.is_none() {
                *failed = innermost;
            }
        }
        result
    }

    /// Whether the value at `path` is to be left out.
    fn skips(&self, path: &str) -> bool {
        self.skip.iter().any(|s| s == path)
    }
}

/// `base.field`, or `field` at the top level.
fn join(base: &str, field: &str) -> String {
    if base.is_empty() {
        field.to_string()
    } else {
        format!("{base}.{field}")
    }
}

/// The wrapping deserializer; `path` is the field path of the value it reads.
pub(crate) struct Lenient<'r, D> {
    de: D,
    rec: &'r Recorder,
    path: String,
}

impl<'r, D> Lenient<'r, D> {
    /// Wraps the deserializer of a whole file.
    pub(crate) fn new(de: D, rec: &'r Recorder) -> Self {
        Self {
            de,
            rec,
            path: String::new(),
        }
    }

    fn visitor<V>(&self, inner: V, fields: Option<&'static [&'static str]>) -> Wrap<'r, V> {
        Wrap {
            inner,
            rec: self.rec,
            path: self.path.clone(),
            fields,
        }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            let v = self.visitor(visitor, None);
            self.de.$method(v)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Lenient<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let v = self.visitor(visitor, None);
        self.de.deserialize_unit_struct(name, v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let v = self.visitor(visitor, None);
        self.de.deserialize_newtype_struct(name, v)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let v = self.visitor(visitor, None);
        self.de.deserialize_tuple(len, v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let v = self.visitor(visitor, None);
        self.de.deserialize_tuple_struct(name, len, v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let v = self.visitor(visitor, Some(fields));
        self.de.deserialize_struct(name, fields, v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let v = self.visitor(visitor, None);
        self.de.deserialize_enum(name, variants, v)
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// Wraps a visitor: whatever it is given to read from is wrapped in turn.
/// `fields` is set when the visitor belongs to a struct.
struct Wrap<'r, V> {
    inner: V,
    rec: &'r Recorder,
    path: String,
    fields: Option<&'static [&'static str]>,
}

impl<'r, V> Wrap<'r, V> {
    fn de<D>(&self, de: D) -> Lenient<'r, D> {
        Lenient {
            de,
            rec: self.rec,
            path: self.path.clone(),
        }
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64)
        visit_i128(i128) visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64)
        visit_u128(u128) visit_f32(f32) visit_f64(f64) visit_char(char)
        visit_str(&str) visit_borrowed_str(&'de str) visit_string(String)
        visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let d = self.de(d);
        self.inner.visit_some(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let d = self.de(d);
        self.inner.visit_newtype_struct(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(WrapSeq {
            seq,
            rec: self.rec,
            path: self.path,
            index: 0,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        match self.fields {
            Some(fields) => self.inner.visit_map(StructMap {
                map,
                rec: self.rec,
                path: self.path,
                fields,
                current: None,
            }),
            None => self.inner.visit_map(WrapMap {
                map,
                rec: self.rec,
                path: self.path,
            }),
        }
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(WrapEnum {
            data,
            rec: self.rec,
            path: self.path,
        })
    }
}

/// Wraps a seed so that what it reads from is wrapped.
struct WrapSeed<'r, S> {
    seed: S,
    rec: &'r Recorder,
    path: String,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for WrapSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Lenient {
            de,
            rec: self.rec,
            path: self.path,
        })
    }
}

/// A list: items get `path[i]`.
struct WrapSeq<'r, A> {
    seq: A,
    rec: &'r Recorder,
    path: String,
    index: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for WrapSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        loop {
            let path = format!("{}[{}]", self.path, self.index);
            self.index += 1;
            if self.rec.skips(&path) {
                // Left out; later items keep their index in paths.
                if self.seq.next_element::<IgnoredAny>()?.is_none() {
                    return Ok(None);
                }
                continue;
            }
            let rec = self.rec;
            let seq = &mut self.seq;
            return rec.within(&path.clone(), || {
                seq.next_element_seed(WrapSeed { seed, rec, path })
            });
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

/// A mapping that is not a struct (header maps, serde-saphyr's own `Spanned`
/// wrapper): passed through, values keep the path of the mapping.
struct WrapMap<'r, A> {
    map: A,
    rec: &'r Recorder,
    path: String,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WrapMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.map.next_key_seed(WrapSeed {
            seed,
            rec: self.rec,
            path: self.path.clone(),
        })
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(WrapSeed {
            seed,
            rec: self.rec,
            path: self.path.clone(),
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// The mapping of a struct: only its fields are passed on; other keys are
/// recorded and their values skipped.
struct StructMap<'r, A> {
    map: A,
    rec: &'r Recorder,
    path: String,
    fields: &'static [&'static str],
    /// Field path of the key just passed on.
    current: Option<String>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for StructMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(Key { name, at }) = self.map.next_key::<Key>()? else {
                return Ok(None);
            };
            let path = join(&self.path, &name);
            if self.rec.skips(&path) {
                self.map.next_value::<IgnoredAny>()?;
                continue;
            }
            if !self.fields.contains(&name.as_str()) {
                self.rec.unknown.borrow_mut().push(Unknown {
                    at,
                    path,
                    parent: self.path.clone(),
                    field: name,
                    expected: self.fields,
                });
                self.map.next_value::<IgnoredAny>()?;
                continue;
            }
            self.current = Some(path);
            let key: de::value::StringDeserializer<A::Error> = name.into_deserializer();
            return seed.deserialize(key).map(Some);
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let path = self.current.take().unwrap_or_else(|| self.path.clone());
        let rec = self.rec;
        let map = &mut self.map;
        rec.within(&path.clone(), || {
            map.next_value_seed(WrapSeed { seed, rec, path })
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// A key of a struct's mapping, with its place when the deserializer knows
/// it.
///
/// Read like serde-saphyr's `Spanned<String>` (a `__yaml_spanned` newtype,
/// which serde-saphyr answers with a mapping of `value`, `referenced` and
/// `defined`), but also accepts a plain string (place unknown), which is
/// what other deserializers give, e.g. for serde-saphyr's own `Location`.
struct Key {
    name: String,
    at: Pos,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
                d.deserialize_any(self)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Key, A::Error> {
                let mut name = None;
                let mut at = (0, 0);
                while let Some(k) = map.next_key::<String>()? {
                    match k.as_str() {
                        // A `~` key is read as no string at all.
                        "value" => {
                            let v = map.next_value::<Option<String>>()?;
                            name = Some(v.unwrap_or_else(|| "~".to_string()));
                        }
                        "referenced" => {
                            let l = map.next_value::<Location>()?;
                            at = (l.line(), l.column());
                        }
                        // serde-saphyr's `Location` is only readable as such.
                        "defined" => {
                            map.next_value::<Location>()?;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let name = name.ok_or_else(|| de::Error::missing_field("value"))?;
                Ok(Key { name, at })
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(Key {
                    name: v.to_string(),
                    at: (0, 0),
                })
            }
        }

        d.deserialize_newtype_struct("__yaml_spanned", KeyVisitor)
    }
}

/// An enum (`host: {fixed: ...}`): passed through.
struct WrapEnum<'r, A> {
    data: A,
    rec: &'r Recorder,
    path: String,
}

impl<'de, 'r, A: EnumAccess<'de>> EnumAccess<'de> for WrapEnum<'r, A> {
    type Error = A::Error;
    type Variant = WrapVariant<'r, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let (value, variant) = self.data.variant_seed(WrapSeed {
            seed,
            rec: self.rec,
            path: self.path.clone(),
        })?;
        Ok((
            value,
            WrapVariant {
                variant,
                rec: self.rec,
                path: self.path,
            },
        ))
    }
}

/// The content of an enum variant: passed through.
struct WrapVariant<'r, A> {
    variant: A,
    rec: &'r Recorder,
    path: String,
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for WrapVariant<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.variant.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.variant.newtype_variant_seed(WrapSeed {
            seed,
            rec: self.rec,
            path: self.path,
        })
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.variant.tuple_variant(
            len,
            Wrap {
                inner: visitor,
                rec: self.rec,
                path: self.path,
                fields: None,
            },
        )
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.variant.struct_variant(
            fields,
            Wrap {
                inner: visitor,
                rec: self.rec,
                path: self.path,
                fields: Some(fields),
            },
        )
    }
}

/// Reads a `T` through [`Lenient`]; for tests of this module.
#[cfg(test)]
fn from_str<T: for<'de> Deserialize<'de>>(text: &str) -> Outcome<T> {
    read(
        |rec| {
            serde_saphyr::with_deserializer_from_str(text, |de| {
                T::deserialize(Lenient::new(de, rec))
            })
        },
        |e| {
            let at = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            (at, e.to_string())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        a: Option<Spanned<String>>,
        inner: Option<Vec<Inner>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        b: Option<String>,
    }

    #[test]
    fn unknown_fields_are_all_recorded() {
        let o: Outcome<Outer> =
            from_str("a: x\nz: 1\ninner:\n  - {b: y, c: [1, {d: 2}]}\n  - bb: 3\n");
        let v = o.value.unwrap();
        assert_eq!(v.a.unwrap().value, "x");
        assert_eq!(v.inner.unwrap()[0].b.as_deref(), Some("y"));
        let got: Vec<_> = o
            .unknown
            .iter()
            .map(|u| (u.at, u.path.as_str(), u.suggestion()))
            .collect();
        assert_eq!(
            got,
            [
                ((2, 1), "z", None),
                ((4, 12), "inner[0].c", None),
                ((5, 5), "inner[1].bb", None),
            ]
        );
        assert_eq!(
            o.unknown[0].message(),
            "unknown field `z`, expected one of `a`, `inner`"
        );
        assert_eq!(o.unknown[2].message(), "unknown field `bb`, expected `b`");
    }

    #[test]
    fn other_errors_are_all_recorded() {
        let o: Outcome<Outer> = from_str("a: [1]\nzz: 1\ninner:\n  - b: {x: 1}\n  - c: 1\n");
        assert!(o.value.is_none());
        let got: Vec<_> = o
            .failures
            .iter()
            .map(|f| (f.at.0, f.path.as_str()))
            .collect();
        assert_eq!(got, [(1, "a"), (4, "inner[0].b")]);
        let got: Vec<_> = o.unknown.iter().map(|u| u.path.as_str()).collect();
        assert_eq!(got, ["zz", "inner[1].c"]);
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("adress", "address"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("conect", "connect"), 1);
        assert_eq!(edit_distance("pathh", "path"), 1);
    }
}
