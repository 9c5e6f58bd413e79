//! The registered claims (RFC 7519 §4.1) with RFC 8725's defaults: `iss`
//! must be the issuer whose key verified the token, `exp` is required
//! (unless turned off) and in the future, `nbf` and `iat` not in the
//! future, `aud` one of the configured audiences; each within the leeway.

use serde_json::Value;
use tollgate_config::{JwtIssuer, JwtPolicy};

use super::token::{Claims, Header};
use super::JwtError;

/// Checks `claims` of a token from `issuer` at `now` (Unix seconds).
pub fn check(
    claims: &Claims,
    header: &Header,
    policy: &JwtPolicy,
    issuer: &JwtIssuer,
    now: u64,
) -> Result<Times, JwtError> {
    let leeway = policy.leeway.as_secs();
    if claims.get("iss").and_then(Value::as_str) != Some(issuer.issuer.as_str()) {
        return Err(JwtError::Issuer);
    }
    let times = Times {
        exp: time(claims, "exp")?,
        nbf: time(claims, "nbf")?,
    };
    if times.exp.is_none() && policy.require_exp {
        return Err(JwtError::MissingExp);
    }
    times.check(now, leeway)?;
    if time(claims, "iat")?.is_some_and(|iat| iat > now.saturating_add(leeway)) {
        return Err(JwtError::IssuedInFuture);
    }
    if !issuer.audiences.is_empty() && !audience_ok(claims.get("aud"), &issuer.audiences) {
        return Err(JwtError::Audience);
    }
    if let Some(want) = &policy.typ {
        let typ = header.typ.as_deref().unwrap_or("");
        // RFC 7515 §4.1.9: `application/` may be left out, case does not matter.
        let short = |t: &str| {
            let t = t.to_ascii_lowercase();
            t.strip_prefix("application/")
                .map(str::to_string)
                .unwrap_or(t)
        };
        if short(typ) != short(want) {
            return Err(JwtError::Type);
        }
    }
    Ok(times)
}

/// The validity window of a token, checked again whenever a cached
/// verification is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    /// `exp`, when the token has one.
    pub exp: Option<u64>,
    /// `nbf`, when the token has one.
    pub nbf: Option<u64>,
}

impl Times {
    /// Whether the token is valid at `now`, within `leeway` seconds.
    pub fn check(&self, now: u64, leeway: u64) -> Result<(), JwtError> {
        if self.exp.is_some_and(|exp| now > exp.saturating_add(leeway)) {
            return Err(JwtError::Expired);
        }
        if self.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(JwtError::NotYetValid);
        }
        Ok(())
    }
}

/// A NumericDate claim: seconds, possibly fractional; negative or
/// non-numeric values are malformed.
fn time(claims: &Claims, name: &str) -> Result<Option<u64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(v), _) => Ok(Some(v)),
            (None, Some(f)) if f >= 0.0 && f.is_finite() => Ok(Some(f as u64)),
            _ => Err(JwtError::Malformed),
        },
        Some(_) => Err(JwtError::Malformed),
    }
}

fn audience_ok(aud: Option<&Value>, allowed: &[String]) -> bool {
    match aud {
        Some(Value::String(a)) => allowed.iter().any(|x| x == a),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| allowed.iter().any(|x| x == a)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use serde_json::json;
    use tollgate_config::TokenSource;

    fn policy() -> (JwtPolicy, JwtIssuer) {
        let issuer = JwtIssuer {
            issuer: "https://id".into(),
            audiences: vec!["api".into()],
            keys: vec![],
            jwks_endpoint: None,
            consumer: None,
        };
        let policy = JwtPolicy {
            issuers: vec![issuer.clone()],
            source: TokenSource::Bearer,
            leeway: Duration::from_secs(30),
            max_token_size: 8192,
            require_exp: true,
            typ: Some("JWT".into()),
            claims_to_headers: vec![],
            cache_size: 0,
            anonymous: None,
        };
        (policy, issuer)
    }

    fn run(claims: Value, typ: Option<&str>) -> Result<Times, JwtError> {
        let (policy, issuer) = policy();
        let header = Header {
            alg: "RS256".into(),
            kid: None,
            typ: typ.map(str::to_string),
        };
        let Value::Object(map) = claims else { panic!() };
        check(&map, &header, &policy, &issuer, 1_000_000)
    }

    #[test]
    fn registered_claims_are_checked_within_the_leeway() {
        let ok = json!({"iss": "https://id", "aud": "api", "exp": 1_000_010, "iat": 1_000_020});
        assert!(run(ok.clone(), Some("at+jwt").map(|_| "application/JWT")).is_ok());
        let cases = [
            (
                json!({"iss": "https://other", "aud": "api", "exp": 1_000_100}),
                JwtError::Issuer,
            ),
            (
                json!({"iss": "https://id", "aud": "api"}),
                JwtError::MissingExp,
            ),
            (
                json!({"iss": "https://id", "aud": "api", "exp": 999_969}),
                JwtError::Expired,
            ),
            (
                json!({"iss": "https://id", "aud": "api", "exp": 1_000_100, "nbf": 1_000_031}),
                JwtError::NotYetValid,
            ),
            (
                json!({"iss": "https://id", "aud": "api", "exp": 1_000_100, "iat": 1_000_031}),
                JwtError::IssuedInFuture,
            ),
            (
                json!({"iss": "https://id", "aud": ["web", "x"], "exp": 1_000_100}),
                JwtError::Audience,
            ),
            (
                json!({"iss": "https://id", "exp": 1_000_100}),
                JwtError::Audience,
            ),
            (
                json!({"iss": "https://id", "aud": "api", "exp": "soon"}),
                JwtError::Malformed,
            ),
            (
                json!({"iss": "https://id", "aud": "api", "exp": -5}),
                JwtError::Malformed,
            ),
        ];
        for (claims, want) in cases {
            assert_eq!(
                run(claims.clone(), Some("JWT")).unwrap_err(),
                want,
                "{claims}"
            );
        }
        // Within the leeway: expired 30 s ago, valid from 30 s ahead.
        assert!(run(
            json!({"iss": "https://id", "aud": ["x", "api"], "exp": 999_970, "nbf": 1_000_030}),
            Some("jwt")
        )
        .is_ok());
        let typed = json!({"iss": "https://id", "aud": "api", "exp": 1_000_100});
        assert_eq!(run(typed, Some("at+jwt")).unwrap_err(), JwtError::Type);
    }
}
