//! Verification keys: loaded from PEM, JWK and JWKS files or an HS secret,
//! each bound to exactly one algorithm (from the configuration or the key
//! itself, never from a token). RSA keys under 2048 bits and symmetric
//! keys in JWK(S) documents are refused.

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self as sig, ParsedPublicKey, VerificationAlgorithm};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{DecodingKey, DecodingKeyKind};
use serde_json::Value;
use tollgate_config::{ConfigError, JwtAlgorithm, JwtKey, KeyMaterial};

/// A key and the one algorithm it verifies.
#[derive(Clone)]
pub struct Key {
    /// The `kid` tokens name it by.
    pub kid: Option<String>,
    /// Its algorithm.
    pub alg: JwtAlgorithm,
    verifier: Verifier,
}

/// A key ready to verify with: parsed once, when loaded (parsing an RSA
/// key for every token cost microseconds a request).
#[derive(Clone)]
enum Verifier {
    /// RSA, ECDSA or Ed25519, bound to the key's algorithm.
    Public(ParsedPublicKey),
    /// An HMAC secret (verified in constant time); boxed, the key holds
    /// its precomputed hash states.
    Hmac(Box<hmac::Key>),
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

/// Smallest RSA modulus accepted (RFC 7518 §3.3).
const MIN_RSA_BITS: usize = 2048;

/// Longest signature read: RSA 8192 (the largest modulus aws-lc-rs verifies).
const MAX_SIGNATURE: usize = 1024;

impl Key {
    /// Whether `signature` (base64url) signs `input` under this key.
    pub fn verifies(&self, input: &str, signature: &str) -> bool {
        // Decoded on the stack: no allocation per token. Anything longer
        // than the largest signature cannot be one.
        let mut buf = [0u8; MAX_SIGNATURE + 3];
        if signature.len() > (MAX_SIGNATURE * 4).div_ceil(3) {
            return false;
        }
        let Ok(n) = URL_SAFE_NO_PAD.decode_slice(signature, &mut buf) else {
            return false;
        };
        let signature = &buf[..n];
        match &self.verifier {
            Verifier::Public(key) => key.verify_sig(input.as_bytes(), signature).is_ok(),
            Verifier::Hmac(key) => hmac::verify(key, input.as_bytes(), signature).is_ok(),
        }
    }

    /// A key of `alg` from what `jsonwebtoken` read (PEM or JWK).
    fn new(kid: Option<String>, alg: JwtAlgorithm, decoding: &DecodingKey) -> Result<Self, String> {
        let verifier = match verification(alg) {
            None => Verifier::Hmac(Box::new(hmac::Key::new(
                hmac_algorithm(alg),
                decoding.as_bytes(),
            ))),
            Some(v) => {
                let parsed = match decoding.kind() {
                    DecodingKeyKind::SecretOrDer(bytes) => ParsedPublicKey::new(v, bytes),
                    DecodingKeyKind::RsaModulusExponent { n, e } => {
                        ParsedPublicKey::new(v, rsa_public_key_der(n, e))
                    }
                };
                Verifier::Public(
                    parsed.map_err(|e| format!("not a usable {} key: {e}", alg.name()))?,
                )
            }
        };
        Ok(Key { kid, alg, verifier })
    }
}

/// The aws-lc-rs verification of an asymmetric algorithm (`None`: HMAC).
/// RSA moduli from 2048 to 8192 bits, as `jsonwebtoken` used.
fn verification(a: JwtAlgorithm) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match a {
        JwtAlgorithm::HS256 | JwtAlgorithm::HS384 | JwtAlgorithm::HS512 => return None,
        JwtAlgorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        JwtAlgorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        JwtAlgorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        JwtAlgorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
        JwtAlgorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
        JwtAlgorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
        // Fixed-size r || s, as JWS writes them (RFC 7518 §3.4).
        JwtAlgorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
        JwtAlgorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
        JwtAlgorithm::EdDSA => &sig::ED25519,
    })
}

fn hmac_algorithm(a: JwtAlgorithm) -> hmac::Algorithm {
    match a {
        JwtAlgorithm::HS384 => hmac::HMAC_SHA384,
        JwtAlgorithm::HS512 => hmac::HMAC_SHA512,
        _ => hmac::HMAC_SHA256,
    }
}

/// A PKCS#1 `RSAPublicKey` (SEQUENCE { INTEGER n, INTEGER e }) from the
/// big-endian modulus and exponent of a JWK.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = der_integer(n);
    body.extend(der_integer(e));
    der_wrap(0x30, &body)
}

/// A DER INTEGER of the unsigned big-endian `v`.
fn der_integer(v: &[u8]) -> Vec<u8> {
    let v = &v[v.iter().take_while(|b| **b == 0).count()..];
    let mut content = Vec::with_capacity(v.len() + 1);
    if v.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(v);
    der_wrap(0x02, &content)
}

fn der_wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The keys one configured key entry stands for (a JWKS file may hold
/// several); problems are reported where the file was named.
pub fn load(key: &JwtKey) -> Result<Vec<Key>, ConfigError> {
    let (file, text) = match &key.material {
        KeyMaterial::Secret(secret) => {
            let alg = key.algorithm.unwrap_or(JwtAlgorithm::HS256);
            // Validation allows only HS algorithms here; were another one
            // to arrive, the secret would not parse as its public key.
            let decoding = DecodingKey::from_secret(secret);
            return Key::new(key.kid.clone(), alg, &decoding)
                .map(|k| vec![k])
                .map_err(|e| ConfigError::new("", None, "", e));
        }
        KeyMaterial::Pem(f) | KeyMaterial::Jwk(f) | KeyMaterial::Jwks(f) => {
            let text = std::fs::read_to_string(&f.path).map_err(|e| {
                f.origin
                    .error(format!("cannot read `{}`: {e}", f.path.display()))
            })?;
            (f, text)
        }
    };
    let loaded = match &key.material {
        KeyMaterial::Pem(_) => from_pem(&text, key).map(|k| vec![k]),
        KeyMaterial::Jwk(_) => serde_json::from_str::<Value>(&text)
            .map_err(|e| format!("not JSON: {e}"))
            .and_then(|v| from_jwk_value(&v, key.kid.as_deref(), key.algorithm))
            .map(|k| vec![k]),
        _ => jwks(&text).and_then(|keys| {
            if keys.is_empty() {
                Err("the key set holds no usable public key".to_string())
            } else {
                Ok(keys)
            }
        }),
    };
    loaded.map_err(|e| file.origin.error(format!("`{}`: {e}", file.path.display())))
}

fn from_pem(text: &str, key: &JwtKey) -> Result<Key, String> {
    if text.contains("PRIVATE KEY") {
        return Err("this is a private key; give the issuer's public key".into());
    }
    let pem = text.as_bytes();
    let (decoding, default) = if let Ok(k) = DecodingKey::from_rsa_pem(pem) {
        let bits = rsa_bits(k.as_bytes()).ok_or("cannot read the RSA modulus")?;
        check_rsa_bits(bits)?;
        (k, JwtAlgorithm::RS256)
    } else if let Ok(k) = DecodingKey::from_ec_pem(pem) {
        let alg = match k.as_bytes().len() {
            65 => JwtAlgorithm::ES256,
            97 => JwtAlgorithm::ES384,
            _ => return Err("only P-256 (ES256) and P-384 (ES384) EC keys are supported".into()),
        };
        (k, alg)
    } else if let Ok(k) = DecodingKey::from_ed_pem(pem) {
        (k, JwtAlgorithm::EdDSA)
    } else {
        return Err("not a PEM public key (RSA, EC P-256/P-384 or Ed25519)".into());
    };
    let alg = fit(key.algorithm, default)?;
    Key::new(key.kid.clone(), alg, &decoding)
}

/// The configured algorithm if it belongs to the key's family, else the key's own.
fn fit(configured: Option<JwtAlgorithm>, default: JwtAlgorithm) -> Result<JwtAlgorithm, String> {
    use JwtAlgorithm::*;
    let Some(alg) = configured else {
        return Ok(default);
    };
    let family = |a: JwtAlgorithm| match a {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => 0,
        ES256 => 1,
        ES384 => 2,
        EdDSA => 3,
        HS256 | HS384 | HS512 => 4,
    };
    if family(alg) != family(default) {
        return Err(format!(
            "this key cannot verify {} (it is a {} key)",
            alg.name(),
            default.name()
        ));
    }
    Ok(alg)
}

fn check_rsa_bits(bits: usize) -> Result<(), String> {
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "RSA keys must have at least {MIN_RSA_BITS} bits, this one has {bits}"
        ));
    }
    Ok(())
}

/// The modulus size of a PKCS#1 `RSAPublicKey` (SEQUENCE { INTEGER n, INTEGER e }).
fn rsa_bits(der: &[u8]) -> Option<usize> {
    let (tag, body, _) = der_item(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, n, _) = der_item(body)?;
    if tag != 0x02 {
        return None;
    }
    let n = &n[n.iter().take_while(|b| **b == 0).count()..];
    let first = *n.first()?;
    Some(n.len() * 8 - first.leading_zeros() as usize)
}

/// One DER item: tag, contents, rest.
fn der_item(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = if len0 < 0x80 {
        (usize::from(len0), rest)
    } else {
        let n = usize::from(len0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, b| (a << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// Every usable public key of a JWKS document (`{"keys": [...]}`); keys
/// tollgate cannot use (encryption keys, symmetric keys, unknown types)
/// are left out rather than failing the set.
pub fn jwks(text: &str) -> Result<Vec<Key>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("a JWKS document is an object with a `keys` array")?;
    Ok(keys
        .iter()
        .filter_map(|k| from_jwk_value(k, None, None).ok())
        .collect())
}

/// One JWK as a key; `kid` and `alg` override the JWK's own.
fn from_jwk_value(v: &Value, kid: Option<&str>, alg: Option<JwtAlgorithm>) -> Result<Key, String> {
    if v.get("use")
        .and_then(Value::as_str)
        .is_some_and(|u| u != "sig")
    {
        return Err("not a signature key (`use` is not `sig`)".into());
    }
    let jwk: Jwk =
        serde_json::from_value(v.clone()).map_err(|e| format!("not a usable JWK: {e}"))?;
    let default = match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => {
            let n = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &p.n)
                .map_err(|_| "bad RSA modulus")?;
            let n = &n[n.iter().take_while(|b| **b == 0).count()..];
            let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
            check_rsa_bits(bits)?;
            JwtAlgorithm::RS256
        }
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => JwtAlgorithm::ES256,
            EllipticCurve::P384 => JwtAlgorithm::ES384,
            _ => return Err("only P-256 and P-384 EC keys are supported".into()),
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            JwtAlgorithm::EdDSA
        }
        AlgorithmParameters::OctetKeyPair(_) => {
            return Err("only Ed25519 OKP keys are supported".into())
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err("symmetric keys do not belong in JWK files; use `secret`".into())
        }
    };
    let own = jwk
        .common
        .key_algorithm
        .map(|a| {
            JwtAlgorithm::from_name(&a.to_string())
                .ok_or(format!("algorithm `{a}` is not supported"))
        })
        .transpose()?;
    let alg = fit(alg.or(own), default)?;
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| format!("not a usable JWK: {e}"))?;
    let kid = kid.map(str::to_string).or(jwk.common.key_id.clone());
    Key::new(kid, alg, &decoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_and_rsa_sizes() {
        // SEQUENCE { INTEGER 0x00 0xC1 (8 significant bits), INTEGER 3 }
        let der = [0x30, 0x07, 0x02, 0x02, 0x00, 0xC1, 0x02, 0x01, 0x03];
        assert_eq!(rsa_bits(&der), Some(8));
        assert_eq!(rsa_bits(&[0x30, 0x81]), None);
        assert_eq!(rsa_bits(&[0x31, 0x00]), None);
        assert!(check_rsa_bits(1024).is_err());
        assert!(check_rsa_bits(2048).is_ok());
    }

    #[test]
    fn jwks_documents_keep_only_usable_signature_keys() {
        let doc = r#"{"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec1",
             "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
             "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "sym"},
            {"kty": "EC", "crv": "P-256", "use": "enc", "kid": "enc",
             "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
             "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"},
            {"kty": "weird"}
        ]}"#;
        // A point off the curve is refused when loaded (it could verify nothing).
        let mut off_curve = serde_json::from_str::<Value>(doc).unwrap()["keys"][0].clone();
        off_curve["y"] = "x_FEzRjNZkCGuK-1QvD2WRWQ82BuBXzAigv7bnf91as".into();
        assert!(from_jwk_value(&off_curve, None, None).is_err());
        let keys = jwks(doc).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("ec1"));
        assert_eq!(keys[0].alg, JwtAlgorithm::ES256);
        assert!(jwks("[]").is_err());
        assert!(jwks("{").is_err());
        assert!(fit(Some(JwtAlgorithm::HS256), JwtAlgorithm::RS256).is_err());
        assert_eq!(
            fit(Some(JwtAlgorithm::PS384), JwtAlgorithm::RS256),
            Ok(JwtAlgorithm::PS384)
        );
    }
}
