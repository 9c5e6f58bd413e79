//! `require`: claims and scopes a verified token must carry (403 when not).
//! A claim holds a string or an array of strings; scopes are the
//! space-separated `scope` claim (RFC 8693 §4.2) or a `scp` array.

use serde_json::Value;
use tollgate_config::{Require, ValueRule};

use crate::jwt::Claims;
use crate::{Challenge, Refusal};

/// `Ok` when `claims` satisfy `rule`.
pub fn check(rule: &Require, claims: Option<&Claims>) -> Result<(), Refusal> {
    let insufficient = || {
        let mut r = Refusal::forbidden("require:insufficient");
        r.challenge = Some(Challenge::InsufficientScope);
        r
    };
    let Some(claims) = claims else {
        return Err(Refusal::forbidden("require:no_token"));
    };
    for (name, values) in &rule.claims {
        if !holds(values, &strings(claims.get(name), false)) {
            return Err(insufficient());
        }
    }
    if let Some(scopes) = &rule.scopes {
        let mut have = strings(claims.get("scope"), true);
        have.extend(strings(claims.get("scp"), true));
        if !holds(scopes, &have) {
            return Err(insufficient());
        }
    }
    Ok(())
}

fn strings(v: Option<&Value>, split: bool) -> Vec<&str> {
    match v {
        Some(Value::String(s)) if split => s.split_ascii_whitespace().collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn holds(rule: &ValueRule, have: &[&str]) -> bool {
    rule.all_of.iter().all(|v| have.contains(&v.as_str()))
        && (rule.any_of.is_empty() || rule.any_of.iter().any(|v| have.contains(&v.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(all: &[&str], any: &[&str]) -> ValueRule {
        ValueRule {
            all_of: all.iter().map(|s| s.to_string()).collect(),
            any_of: any.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn claims_and_scopes_all_of_and_any_of() {
        let Value::Object(claims) =
            json!({"scope": "read write", "roles": ["admin", "dev"], "tier": "gold"})
        else {
            panic!()
        };
        let mut r = Require {
            claims: vec![
                ("roles".into(), rule(&["dev"], &["admin", "ops"])),
                ("tier".into(), rule(&[], &["gold"])),
            ],
            scopes: Some(rule(&["read", "write"], &[])),
        };
        assert!(check(&r, Some(&claims)).is_ok());
        r.scopes = Some(rule(&["admin"], &[]));
        let e = check(&r, Some(&claims)).unwrap_err();
        assert_eq!((e.status, e.reason), (403, "require:insufficient"));
        r.scopes = None;
        r.claims.push(("missing".into(), rule(&[], &["x"])));
        assert!(check(&r, Some(&claims)).is_err());
        assert_eq!(check(&r, None).unwrap_err().reason, "require:no_token");
        // "read write" as one claim value is not split outside `scope`.
        let Value::Object(c) = json!({"group": "read write"}) else {
            panic!()
        };
        let r = Require {
            claims: vec![("group".into(), rule(&["read"], &[]))],
            scopes: None,
        };
        assert!(check(&r, Some(&c)).is_err());
    }
}
