//! Reading a compact JWS (RFC 7515 §7.1) before any key is chosen: size
//! cap, three base64url parts, a JSON header and payload. Nothing here
//! trusts the token: the header only says which configured key to try.
//!
//! Refused here: tokens over the size cap, anything but three non-empty
//! base64url parts, non-object JSON, a non-string `alg`/`kid`/`typ`, and
//! any `crit` header (tollgate implements no extension, RFC 7515 §4.1.11).
//! `jku`, `x5u`, `x5c` and `jwk` are never read.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use super::JwtError;

/// A token's claims, as verified JSON.
pub type Claims = Map<String, Value>;

/// The header fields tollgate reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `alg` as written.
    pub alg: String,
    /// `kid`, when present.
    pub kid: Option<String>,
    /// `typ`, when present.
    pub typ: Option<String>,
}

/// A token split and decoded, signature not yet checked.
#[derive(Debug)]
pub struct Unverified<'a> {
    /// The header.
    pub header: Header,
    /// The payload's claims.
    pub claims: Claims,
    /// `header.payload`, what the signature covers.
    pub signing_input: &'a str,
    /// The signature, base64url as sent.
    pub signature: &'a str,
}

/// Longest `kid` read (a key id is a short name, not a path or a query).
const MAX_KID: usize = 256;

/// Splits and decodes `token`, at most `max` bytes long.
pub fn parse(token: &str, max: usize) -> Result<Unverified<'_>, JwtError> {
    if token.len() > max {
        return Err(JwtError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    if [h, p, s]
        .iter()
        .any(|part| part.is_empty() || !is_base64url(part))
    {
        return Err(JwtError::Malformed);
    }
    let header = header(&decode_object(h)?)?;
    let claims = decode_object(p)?;
    Ok(Unverified {
        header,
        claims,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: s,
    })
}

fn is_base64url(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn decode_object(part: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::Malformed),
    }
}

/// The header fields read, from the decoded JSON header.
pub fn header(map: &Map<String, Value>) -> Result<Header, JwtError> {
    if map.contains_key("crit") {
        return Err(JwtError::Crit);
    }
    let text = |name: &str| match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JwtError::Malformed),
    };
    let alg = text("alg")?.ok_or(JwtError::Algorithm)?;
    let kid = text("kid")?;
    if kid.as_ref().is_some_and(|k| k.len() > MAX_KID) {
        return Err(JwtError::UnknownKey);
    }
    Ok(Header {
        alg,
        kid,
        typ: text("typ")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(payload))
    }

    #[test]
    fn well_formed_tokens_split_into_header_claims_and_signature() {
        let t = token(
            r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#,
            r#"{"sub":"a"}"#,
        );
        let u = parse(&t, 8192).unwrap();
        assert_eq!(u.header.alg, "RS256");
        assert_eq!(u.header.kid.as_deref(), Some("k1"));
        assert_eq!(u.claims["sub"], "a");
        assert_eq!(u.signature, "c2ln");
        assert_eq!(u.signing_input.split('.').count(), 2);
    }

    #[test]
    fn malformed_tokens_are_refused_with_their_reason() {
        let ok = token(r#"{"alg":"RS256"}"#, "{}");
        assert_eq!(parse(&ok, 10).unwrap_err(), JwtError::TooLarge);
        for bad in [
            "a.b".to_string(),
            "a.b.c.d".to_string(),
            format!("{}.{}.", b64(r#"{"alg":"RS256"}"#), b64("{}")),
            format!("{}.{}.sig=", b64(r#"{"alg":"RS256"}"#), b64("{}")),
            token("[1]", "{}"),
            token(r#"{"alg":"RS256"}"#, "\"text\""),
            token(r#"{"alg":"RS256","kid":7}"#, "{}"),
            token("{not json", "{}"),
        ] {
            assert_eq!(parse(&bad, 8192).unwrap_err(), JwtError::Malformed, "{bad}");
        }
        let crit = token(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#, "{}");
        assert_eq!(parse(&crit, 8192).unwrap_err(), JwtError::Crit);
        let no_alg = token(r#"{"typ":"JWT"}"#, "{}");
        assert_eq!(parse(&no_alg, 8192).unwrap_err(), JwtError::Algorithm);
    }
}
