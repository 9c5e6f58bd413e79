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
        let list = errors
            .iter()
            .map(|e| serde_json::json!({"call": e.call, "status": e.status, "reason": e.reason}))
            .collect();
        out.insert("errors".into(), Value::Array(list));
    }
    Value::Object(out)
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

/// The `Server-Timing` value: `name;dur=12.3` per call that ran.
pub fn server_timing<'a>(timings: impl IntoIterator<Item = (&'a str, Duration)>) -> String {
    let mut out = String::new();
    for (name, d) in timings {
        if !out.is_empty() {
            out.push_str(", ");
        }
        // Names are configuration, but a metric name must be a token.
        let token: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let _ = write!(out, "{token};dur={:.1}", d.as_secs_f64() * 1000.0);
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
    fn timing_lists_each_call() {
        let s = server_timing([
            ("user", Duration::from_millis(12)),
            ("a b", Duration::from_micros(1500)),
        ]);
        assert_eq!(s, "user;dur=12.0, a_b;dur=1.5");
    }
}
