//! The `aggregate` target's rules, independent of sockets:
//! - calls run in waves: those with no `after` first, all at once; a call
//!   with `after: NAME` in the wave after NAME's ([`waves`]);
//! - a value taken from an earlier answer (`{NAME:/pointer}`) is the
//!   string, number or boolean found there, percent-encoded for a path
//!   ([`pointer_text`]); a missing value or an object fails the call;
//! - answers are merged under their call's name, or deep-merged (objects
//!   merged key by key in call order, later wins; an answer that is not
//!   an object stays under its name) ([`merge`]);
//! - optional calls that failed are listed under `errors` as
//!   `{"call", "status", "reason"}` (status `null` when nothing answered);
//! - `Server-Timing` lists each call that ran with its duration in
//!   milliseconds ([`server_timing`]).

use std::fmt::Write;
use std::time::Duration;

use serde_json::{Map, Value};
use tollgate_config::{Call, Merge};

/// Indices of the calls, grouped in the waves they run in.
pub fn waves(calls: &[Call]) -> Vec<Vec<usize>> {
    let mut wave_of: Vec<usize> = Vec::with_capacity(calls.len());
    for c in calls {
        // `after` always names an earlier call (validated).
        let w = c.after.map_or(0, |a| wave_of.get(a).map_or(0, |w| w + 1));
        wave_of.push(w);
    }
    let count = wave_of.iter().max().map_or(0, |m| m + 1);
    let mut out = vec![Vec::new(); count];
    for (i, w) in wave_of.into_iter().enumerate() {
        out[w].push(i);
    }
    out
}

/// The text of the value at `pointer` in `answer`, percent-encoded for a
/// path or query; `None` when absent, null, an object or an array.
pub fn pointer_text(answer: &Value, pointer: &str) -> Option<String> {
    let raw = match answer.pointer(pointer)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Some(out)
}

/// Why an optional call's answer is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// The call's name.
    pub call: String,
    /// The status its upstream answered, if any.
    pub status: Option<u16>,
    /// What went wrong.
    pub reason: String,
}

/// One call's answer for [`merge_text`].
#[derive(Debug)]
pub enum Answer<T> {
    /// JSON text as received (checked to be JSON), placed as it is.
    Text(T),
    /// An answer parsed (for a value taken from it, or a deep merge).
    Parsed(Value),
}

/// Whether `text` is one JSON document, checked without building it.
pub fn is_json(text: &[u8]) -> bool {
    // Checked whole first: the parser skips strings without reading them
    // as UTF-8 when it ignores them.
    std::str::from_utf8(text).is_ok()
        && serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok()
}

/// The merged answer as JSON text, as `merge(...).to_string()` would
/// write it; with `keys`, an answer received as text is copied under its
/// name, not parsed and written again (it keeps its own spacing).
pub fn merge_text<T: AsRef<[u8]>>(
    how: Merge,
    answers: Vec<(String, Answer<T>)>,
    errors: &[CallError],
) -> Vec<u8> {
    if how == Merge::Deep {
        let parsed = answers
            .into_iter()
            .map(|(name, a)| match a {
                // Checked to be JSON when it was received.
                Answer::Text(t) => (
                    name,
                    serde_json::from_slice(t.as_ref()).unwrap_or(Value::Null),
                ),
                Answer::Parsed(v) => (name, v),
            })
            .collect();
        return merge(how, parsed, errors).to_string().into_bytes();
    }
    // As a `serde_json::Map`: member names in order (names are unique,
    // `errors` is reserved).
    let mut members: Vec<(String, Answer<T>)> = answers;
    if !errors.is_empty() {
        members.push(("errors".into(), Answer::Parsed(errors_list(errors))));
    }
    members.sort_by(|a, b| a.0.cmp(&b.0));
    let size: usize = members.iter().map(|(n, a)| n.len() + text_len(a) + 4).sum();
    let mut out = Vec::with_capacity(size + 2);
    out.push(b'{');
    for (i, (name, answer)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        crate::xml::write_json_str(name, &mut out);
        out.push(b':');
        match answer {
            Answer::Text(t) => out.extend_from_slice(t.as_ref().trim_ascii()),
            // Writing into a Vec cannot fail.
            Answer::Parsed(v) => drop(serde_json::to_writer(&mut out, v)),
        }
    }
    out.push(b'}');
    out
}

fn text_len<T: AsRef<[u8]>>(a: &Answer<T>) -> usize {
    match a {
        Answer::Text(t) => t.as_ref().len(),
        Answer::Parsed(_) => 16,
    }
}

/// The merged answer: the calls' answers (in call order) and the failed
/// optional calls.
pub fn merge(how: Merge, answers: Vec<(String, Value)>, errors: &[CallError]) -> Value {
    let mut out = Map::new();
    for (name, value) in answers {
        match (how, value) {
            (Merge::Deep, Value::Object(obj)) => deep_merge(&mut out, obj),
            (_, value) => {
                out.insert(name, value);
            }
        }
    }
    if !errors.is_empty() {
        out.insert("errors".into(), errors_list(errors));
    }
    Value::Object(out)
}

/// The failed optional calls as listed under `errors`.
fn errors_list(errors: &[CallError]) -> Value {
    let list = errors
        .iter()
        .map(|e| serde_json::json!({"call": e.call, "status": e.status, "reason": e.reason}))
        .collect();
    Value::Array(list)
}

fn deep_merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => deep_merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// The `Server-Timing` value: `name;dur=12.3` per call that ran (to the
/// nearest tenth of a millisecond, halves up).
pub fn server_timing<'a>(timings: impl IntoIterator<Item = (&'a str, Duration)>) -> String {
    let mut out = String::new();
    for (name, d) in timings {
        if !out.is_empty() {
            out.push_str(", ");
        }
        // Names are configuration, but a metric name must be a token.
        out.extend(name.chars().map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        }));
        // Whole numbers: formatting an f64 costs several times more.
        let tenths = (d.as_micros() + 50) / 100;
        let _ = write!(out, ";dur={}.{}", tenths / 10, tenths % 10);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pointer_values_are_encoded_and_objects_refused() {
        let v = json!({"id": "a b/c", "n": 7, "o": {}});
        assert_eq!(pointer_text(&v, "/id").unwrap(), "a%20b%2Fc");
        assert_eq!(pointer_text(&v, "/n").unwrap(), "7");
        assert_eq!(pointer_text(&v, "/o"), None);
        assert_eq!(pointer_text(&v, "/missing"), None);
    }

    #[test]
    fn keys_and_deep_merges() {
        let answers = || {
            vec![
                ("a".to_string(), json!({"x": {"p": 1}, "y": 1})),
                ("b".to_string(), json!({"x": {"q": 2}})),
                ("c".to_string(), json!([1, 2])),
            ]
        };
        let errors = [CallError {
            call: "d".into(),
            status: Some(503),
            reason: "upstream answered 503".into(),
        }];
        let keys = merge(Merge::Keys, answers(), &errors);
        assert_eq!(keys["a"]["x"]["p"], 1);
        assert_eq!(keys["c"][1], 2);
        assert_eq!(keys["errors"][0]["status"], 503);
        let deep = merge(Merge::Deep, answers(), &[]);
        assert_eq!(deep, json!({"x": {"p": 1, "q": 2}, "y": 1, "c": [1, 2]}));
    }

    #[test]
    fn merged_text_is_the_merged_value() {
        let texts: [&[u8]; 3] = [br#"{"x": {"p": 1}, "y": 1.50}"#, b" [1, 2]\n", br#""s""#];
        assert!(texts.iter().all(|t| is_json(t)));
        assert!(!is_json(b"{\"a\": 1} x") && !is_json(b"[\"\xff\"]") && !is_json(b""));
        let errors = [CallError {
            call: "d".into(),
            status: None,
            reason: "timed out".into(),
        }];
        for how in [Merge::Keys, Merge::Deep] {
            let answers = || {
                vec![
                    ("b".to_string(), Answer::Text(texts[0])),
                    ("a".to_string(), Answer::Parsed(json!({"x": {"q": 2}}))),
                    ("f".to_string(), Answer::Text(texts[1])),
                    ("c".to_string(), Answer::Text(texts[2])),
                ]
            };
            let parsed = answers()
                .into_iter()
                .map(|(n, a)| match a {
                    Answer::Text(t) => (n, serde_json::from_slice(t).unwrap()),
                    Answer::Parsed(v) => (n, v),
                })
                .collect();
            let text = merge_text(how, answers(), &errors);
            let value: Value = serde_json::from_slice(&text).unwrap();
            assert_eq!(value, merge(how, parsed, &errors), "{how:?}");
        }
        let keys = merge_text(
            Merge::Keys,
            vec![("c".into(), Answer::Text(texts[2]))],
            &errors,
        );
        let expected = r#"{"c":"s","errors":[{"call":"d","reason":"timed out","status":null}]}"#;
        assert_eq!(String::from_utf8(keys).unwrap(), expected);
    }

    #[test]
    fn timing_lists_each_call() {
        let s = server_timing([
            ("user", Duration::from_millis(12)),
            ("a b", Duration::from_micros(1500)),
            ("c", Duration::from_micros(1249)),
            ("d", Duration::from_micros(1250)),
        ]);
        assert_eq!(s, "user;dur=12.0, a_b;dur=1.5, c;dur=1.2, d;dur=1.3");
    }
}
