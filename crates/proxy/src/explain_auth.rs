//! `tollgate explain -H ...`: what the route's auth policies would make of
//! the credentials given, decided offline where the file says enough
//! (API keys, Basic users, JWTs signed by keys in files) and named as
//! "decided at run time" where a service must be asked. A credential is
//! shown only as a short prefix of its SHA-256, never itself.

use std::fmt::Write;
use std::sync::Arc;

use http::{HeaderMap, Uri};
use tollgate_config::{GatewayPolicy, KeyDigest, Policy, Route};
use tollgate_gateway::basic_auth::{BasicAuthRt, Step};
use tollgate_gateway::jwt::{source, JwtAuth, Verified};
use tollgate_gateway::{acl, key_auth, require, Consumer, Directory, Outcome, Refusal};

/// What explain found so far along the chain.
#[derive(Default)]
struct Found {
    consumer: Option<Arc<Consumer>>,
    token: Option<Arc<Verified>>,
}

/// What one auth method makes of the request.
enum Verdict {
    /// Identified (how, consumer).
    Identified(String, Arc<Consumer>),
    /// The method's credential is absent.
    Missing(Refusal),
    /// Refused, with why.
    Refused(Refusal, String),
    /// Only known when the request is served.
    AtRunTime(String),
}

/// Writes the auth steps of `route` for a request with `headers`.
pub(crate) fn describe(
    route: &Route,
    dir: &Directory,
    headers: &HeaderMap,
    uri: &Uri,
    out: &mut String,
) {
    let mut found = Found::default();
    let mut headers = headers.clone();
    let mut uri = uri.clone();
    for policy in &route.policies {
        let Policy::Gateway(g) = policy else { continue };
        let verdict = match g {
            GatewayPolicy::Acl(rules) => {
                let line = match &found.consumer {
                    Some(c) => match acl::check(rules, c) {
                        Ok(()) => format!("allows consumer {}", c.name()),
                        Err(r) => {
                            format!("=> {} ({}) for consumer {}", r.status, r.reason, c.name())
                        }
                    },
                    None => "=> 403: no consumer identified".to_string(),
                };
                let _ = writeln!(out, "     auth: acl {line}");
                continue;
            }
            GatewayPolicy::Require(rules) => {
                let claims = found.token.as_ref().map(|t| &t.claims);
                let line = match require::check(rules, claims) {
                    Ok(()) => "the token's claims pass".to_string(),
                    Err(r) => format!("=> {} ({})", r.status, r.reason),
                };
                let _ = writeln!(out, "     auth: require {line}");
                continue;
            }
            GatewayPolicy::Any(any) => {
                let mut verdict = None;
                for m in &any.methods {
                    match method(m, dir, &mut headers, &mut uri, &mut found) {
                        Verdict::Missing(_) => {
                            let _ =
                                writeln!(out, "     auth: any: {}: no credential, next", m.kind());
                        }
                        other => {
                            verdict = Some(other);
                            break;
                        }
                    }
                }
                verdict.unwrap_or_else(|| {
                    match any.anonymous.as_deref().and_then(|n| dir.by_name(n)) {
                        Some(c) => Verdict::Identified("anonymous".into(), c.clone()),
                        None => Verdict::Refused(
                            Refusal::forbidden("auth:missing"),
                            "no method's credential was given: 401 with every challenge".into(),
                        ),
                    }
                })
            }
            m => method(m, dir, &mut headers, &mut uri, &mut found),
        };
        write_verdict(g.kind(), verdict, &mut found, out);
    }
}

fn write_verdict(kind: &str, verdict: Verdict, found: &mut Found, out: &mut String) {
    let line = match verdict {
        Verdict::Identified(how, c) => {
            let line = format!("{how} => consumer {}", c.name());
            found.consumer = Some(c);
            line
        }
        Verdict::Missing(r) => format!("no credential => {} ({})", r.status, r.reason),
        Verdict::Refused(r, why) => format!("=> 401 ({}): {why}", r.reason),
        Verdict::AtRunTime(what) => what,
    };
    let _ = writeln!(out, "     auth: {kind}: {line}");
}

/// Runs one auth method offline.
fn method(
    g: &GatewayPolicy,
    dir: &Directory,
    headers: &mut HeaderMap,
    uri: &mut Uri,
    found: &mut Found,
) -> Verdict {
    match g {
        GatewayPolicy::KeyAuth(p) => match key_auth::take_key(&p.sources, headers, uri) {
            Some(key) => match dir.by_api_key(key.as_bytes()) {
                Some(c) => {
                    Verdict::Identified(format!("key {}", fingerprint(key.as_bytes())), c.clone())
                }
                None => Verdict::Refused(
                    Refusal::forbidden("key_auth:invalid"),
                    format!("no consumer has the key {}", fingerprint(key.as_bytes())),
                ),
            },
            None => missing(p.anonymous.as_deref(), dir, "key_auth:missing"),
        },
        GatewayPolicy::BasicAuth(p) => {
            let rt = BasicAuthRt::new(p);
            let outcome = match rt.start(dir, headers) {
                Step::Done(o) => o,
                Step::Verify(pending) => {
                    let ok = pending.verify();
                    rt.finish(pending, ok)
                }
            };
            from_outcome(outcome, "user and password", "wrong user name or password")
        }
        GatewayPolicy::Jwt(p) => {
            let token = match source::token(&p.source, headers, uri) {
                Ok(Some(t)) => t.to_string(),
                Ok(None) => return missing(p.anonymous.as_deref(), dir, "jwt:missing"),
                Err(_) => {
                    return Verdict::Refused(
                        Refusal::forbidden("jwt:malformed"),
                        "not a bearer token".into(),
                    )
                }
            };
            let shown = fingerprint(token.as_bytes());
            let auth = match JwtAuth::build(p) {
                Ok(a) => a,
                Err(_) => {
                    return Verdict::AtRunTime(format!("token {shown}: a key file cannot be read"))
                }
            };
            match auth.verify(dir, &token) {
                Ok(v) => {
                    let c = v.consumer.clone();
                    found.token = Some(v);
                    Verdict::Identified(format!("token {shown} verified"), c)
                }
                Err(tollgate_gateway::jwt::JwtError::UnknownKey)
                    if p.issuers.iter().any(|i| i.jwks_endpoint.is_some()) =>
                {
                    Verdict::AtRunTime(format!(
                        "token {shown}: its key is not in a file; the issuer's key set is fetched at run time"
                    ))
                }
                Err(e) => Verdict::Refused(Refusal::forbidden(e.reason()), format!("token {shown}: {}", e.description())),
            }
        }
        GatewayPolicy::MtlsAuth(_) => Verdict::AtRunTime(
            "needs the connection's verified client certificate (decided at run time)".into(),
        ),
        GatewayPolicy::Introspection(p) => match source::token(&p.source, headers, uri) {
            Ok(Some(t)) => Verdict::AtRunTime(format!(
                "token {} is introspected at {} (decided at run time)",
                fingerprint(t.as_bytes()),
                p.endpoint.path
            )),
            Ok(None) => missing(p.anonymous.as_deref(), dir, "oauth2_introspection:missing"),
            Err(_) => Verdict::Refused(
                Refusal::forbidden("oauth2_introspection:malformed"),
                "not a bearer token".into(),
            ),
        },
        GatewayPolicy::ForwardAuth(p) => Verdict::AtRunTime(format!(
            "asks the auth service at {}{} (decided at run time)",
            p.endpoint.path,
            if p.fail_open { ", fail_open" } else { "" }
        )),
        GatewayPolicy::Acl(_) | GatewayPolicy::Require(_) | GatewayPolicy::Any(_) => {
            Verdict::AtRunTime(String::new())
        }
    }
}

fn missing(anonymous: Option<&str>, dir: &Directory, reason: &'static str) -> Verdict {
    match anonymous.and_then(|n| dir.by_name(n)) {
        Some(c) => Verdict::Identified("no credential, anonymous".into(), c.clone()),
        None => Verdict::Missing(Refusal {
            status: 401,
            reason,
            message: "",
            challenge: None,
        }),
    }
}

fn from_outcome(o: Outcome, how: &str, why: &str) -> Verdict {
    match o {
        Outcome::Identified(c) => Verdict::Identified(how.to_string(), c),
        Outcome::Anonymous(c) => Verdict::Identified("no credential, anonymous".into(), c),
        Outcome::Refused(r) if r.is_missing() => Verdict::Missing(r),
        Outcome::Refused(r) => Verdict::Refused(r, why.to_string()),
    }
}

/// `sha256:1a2b3c4d…`: enough to tell credentials apart, never the secret.
fn fingerprint(secret: &[u8]) -> String {
    let d = KeyDigest::of(secret);
    let hex: String = d.0[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("(sha256:{hex}…)")
}
