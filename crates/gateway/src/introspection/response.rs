//! The introspection endpoint's answer (RFC 7662 §2.2): a JSON object
//! whose `active` is required and boolean; `scope` a space-separated
//! string, `aud` a string or an array of strings, `exp` a number of
//! seconds. Anything else of the wrong type makes the answer unusable
//! (503), never a pass.

use serde_json::{Map, Value};

/// Largest answer read.
pub const MAX_ANSWER: usize = 64 << 10;

/// What the endpoint said about a token.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Whether the token is active.
    pub active: bool,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Its audiences.
    pub audiences: Vec<String>,
    /// Its expiry, seconds since the epoch.
    pub exp: Option<u64>,
    /// Every member of the answer, for consumer lookup.
    pub claims: Map<String, Value>,
}

/// Why an answer is unusable (its text never holds the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unusable(pub &'static str);

/// Reads an answer body.
pub fn parse(body: &[u8]) -> Result<Answer, Unusable> {
    if body.len() > MAX_ANSWER {
        return Err(Unusable("the answer is too large"));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|_| Unusable("the answer is not JSON"))?;
    let Value::Object(claims) = value else {
        return Err(Unusable("the answer is not a JSON object"));
    };
    let active = match claims.get("active") {
        Some(Value::Bool(b)) => *b,
        _ => return Err(Unusable("the answer has no boolean `active`")),
    };
    let scopes = match claims.get("scope") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Some(_) => return Err(Unusable("`scope` is not a string")),
    };
    let audiences = match claims.get("aud") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .ok_or(Unusable("`aud` is not a string or an array of strings"))?,
        Some(_) => return Err(Unusable("`aud` is not a string or an array of strings")),
    };
    let exp = match claims.get("exp") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                .ok_or(Unusable("`exp` is not a time"))?,
        ),
        Some(_) => return Err(Unusable("`exp` is not a number")),
    };
    Ok(Answer {
        active,
        scopes,
        audiences,
        exp,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_strictly() {
        let a =
            parse(br#"{"active":true,"scope":"read  write","aud":["a","b"],"exp":5,"sub":"x"}"#)
                .unwrap();
        assert!(a.active);
        assert_eq!(a.scopes, ["read", "write"]);
        assert_eq!(a.audiences, ["a", "b"]);
        assert_eq!(a.exp, Some(5));
        assert_eq!(a.claims["sub"], "x");
        assert!(!parse(br#"{"active":false}"#).unwrap().active);
        assert_eq!(
            parse(br#"{"aud":"x","active":true}"#).unwrap().audiences,
            ["x"]
        );
        for bad in [
            &b"not json"[..],
            b"[]",
            b"{}",
            br#"{"active":"true"}"#,
            br#"{"active":true,"scope":["a"]}"#,
            br#"{"active":true,"aud":[1]}"#,
            br#"{"active":true,"exp":"soon"}"#,
            br#"{"active":true,"exp":-1}"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
