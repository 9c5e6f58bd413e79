//! The admin API's bearer token check.

use http::header::AUTHORIZATION;
use http::HeaderMap;

/// Whether `headers` carry `Authorization: Bearer <token>`; always true
/// when no token is configured (validation allows that on loopback only).
pub(crate) fn authorized(headers: &HeaderMap, token: Option<&str>) -> bool {
    let Some(token) = token else { return true };
    let Some(given) = headers.get(AUTHORIZATION).map(|v| v.as_bytes()) else {
        return false;
    };
    let Some(given) = strip_bearer(given) else {
        return false;
    };
    constant_time_eq(given, token.as_bytes())
}

/// The credentials after `Bearer ` (scheme case-insensitive, RFC 9110 11.1).
fn strip_bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell a caller how much of a guess was right. The length is
/// not hidden; a token's length is no secret worth the complexity.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn bearer_token_must_match_exactly() {
        assert!(authorized(&with("Bearer s3cret"), Some("s3cret")));
        assert!(authorized(&with("bearer s3cret"), Some("s3cret")));
        assert!(!authorized(&with("Bearer s3cre"), Some("s3cret")));
        assert!(!authorized(&with("Bearer s3cretX"), Some("s3cret")));
        assert!(!authorized(&with("Basic s3cret"), Some("s3cret")));
        assert!(!authorized(&HeaderMap::new(), Some("s3cret")));
        assert!(authorized(&HeaderMap::new(), None));
    }
}
