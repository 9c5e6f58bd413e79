//! Glue of the limiting policies: the key of a request, the decision of
//! the step's limiter (`tollgate_gateway::ratelimit`), and the answer's
//! fields; a `concurrency_limit` permit rides on the answer's body until
//! it ends. A refusal is a 429 built by the pipeline's one refusal
//! function (so gRPC requests get the gRPC mapping), with `Retry-After`;
//! its policy name goes to the access log.
//!
//! A request without the key's value (no consumer, no such header or
//! claim, an empty template) is counted under its client IP, never
//! unlimited.

use std::fmt::Write;
use std::net::IpAddr;
use std::sync::Arc;

use http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Response, StatusCode};
use tollgate_config::{LimitKey, RateHeaders, Route};
use tollgate_core::ErrorKind;
use tollgate_gateway::ratelimit::concurrency::Permit;
use tollgate_gateway::ratelimit::Verdict;

use super::RequestVars;
use crate::body::{HeldBody, ResponseBody};
use crate::limits::{FieldText, LimitRt};
use crate::pipeline::{refusal, Exchange, Incoming};

/// The 429 that ends a refused request (boxed: refusals are the rare path).
pub(super) type Refused = Box<Response<ResponseBody>>;

/// What an admitted request's answer reports.
#[derive(Debug)]
pub(crate) struct LimitFields {
    verdict: Verdict,
    text: Arc<FieldText>,
    headers: RateHeaders,
}

/// What a limiting step leaves for the answer.
#[derive(Debug)]
pub(crate) enum LimitStep {
    /// A `rate_limit`'s or `quota`'s fields.
    Fields(LimitFields),
    /// A `concurrency_limit`'s permit, held until the answer's body ends.
    Permit(Permit),
}

/// Decides the request at a limiting step: `Ok` with what the answer
/// needs, or the 429 that ends the request.
pub(super) async fn on_request(
    rt: &LimitRt,
    route: &Route,
    req: &Incoming<'_>,
    host: &str,
    ex: &mut Exchange,
) -> Result<LimitStep, Refused> {
    match rt {
        LimitRt::Rate(limiter, text) => {
            let policy = limiter.policy();
            let key = request_key(&policy.key, route, req, host, ex);
            let verdict = limiter
                .decide(key.as_str(), ex.consumer.as_ref().map(|c| &c.config))
                .await;
            let fields = LimitFields {
                verdict,
                text: Arc::clone(text),
                headers: policy.headers,
            };
            decided(fields, "rate_limit", &policy.name, req, ex).map(LimitStep::Fields)
        }
        LimitRt::Quota(quota, text) => {
            let policy = quota.policy();
            let key = request_key(&policy.key, route, req, host, ex);
            let fields = LimitFields {
                verdict: quota.decide(key.as_str()).await,
                text: Arc::clone(text),
                headers: policy.headers,
            };
            decided(fields, "quota", &policy.name, req, ex).map(LimitStep::Fields)
        }
        LimitRt::InFlight(table) => {
            let key = request_key(&table.policy().key, route, req, host, ex);
            match table.acquire(key.as_str()) {
                Some(permit) => Ok(LimitStep::Permit(permit)),
                None => {
                    ex.limited = Some(format!("concurrency_limit:{}", table.policy().name));
                    // No wait is known: a second is the shortest Retry-After.
                    Err(Box::new(too_many(&req.request_id, 1)))
                }
            }
        }
    }
}

/// The fields of an admitted request, or the 429 of a refused one
/// (logged as `kind:name`).
fn decided(
    fields: LimitFields,
    kind: &str,
    name: &str,
    req: &Incoming<'_>,
    ex: &mut Exchange,
) -> Result<LimitFields, Refused> {
    if fields.verdict.allowed {
        return Ok(fields);
    }
    ex.limited = Some(format!("{kind}:{name}"));
    let mut resp = too_many(&req.request_id, fields.verdict.reset_secs());
    write_fields(&fields, resp.headers_mut());
    Err(Box::new(resp))
}

/// A 429 through the pipeline's one refusal function, with `Retry-After`.
fn too_many(request_id: &HeaderValue, wait_secs: u64) -> Response<ResponseBody> {
    let mut resp = refusal(ErrorKind::TooManyRequests, "too many requests", request_id);
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(wait_secs.max(1)));
    resp
}

/// Adds a rate limit's fields to the answer, or makes its body hold a
/// concurrency permit until it ends (a 101 tunnel is not counted: the
/// permit goes at once, as the balancer's in-flight ticket does).
pub(super) fn on_response(step: LimitStep, resp: &mut Response<ResponseBody>) {
    match step {
        LimitStep::Fields(fields) => write_fields(&fields, resp.headers_mut()),
        LimitStep::Permit(permit) => {
            if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
                return;
            }
            let inner = std::mem::replace(resp.body_mut(), ResponseBody::Empty);
            *resp.body_mut() = ResponseBody::Held(Box::new(HeldBody::new(inner, Box::new(permit))));
        }
    }
}

/// The text a request is counted under, prefixed by its kind so values
/// of different kinds never share a count.
fn request_key(
    key: &LimitKey,
    route: &Route,
    req: &Incoming<'_>,
    host: &str,
    ex: &Exchange,
) -> KeyText {
    let value = match key {
        LimitKey::Consumer { .. } => ex.consumer.as_ref().map(|c| format!("c:{}", c.config.name)),
        LimitKey::ClientIp => None,
        LimitKey::Header(name) => req
            .headers
            .get(name)
            .map(|v| format!("h:{}", String::from_utf8_lossy(v.as_bytes()))),
        LimitKey::Route => Some(format!("r:{}", route.name)),
        LimitKey::JwtClaim(claim) => ex
            .token
            .as_ref()
            .and_then(|t| t.claims.get(claim))
            .and_then(tollgate_gateway::jwt::claim_text)
            .map(|v| format!("j:{v}")),
        LimitKey::Template(t) => {
            let mut out = String::from("t:");
            RequestVars::new(route, req, host).render(t, &mut out);
            (out.len() > 2).then_some(out)
        }
    };
    match value {
        Some(text) => KeyText::Text(text),
        None => KeyText::ip(req.client.peer.ip()),
    }
}

/// A request's key: the client address (`ip:` and its text) is written
/// on the stack, as it is the default and the most common key.
enum KeyText {
    /// `ip:ADDRESS` in a buffer (45 bytes is the longest IPv6 text).
    Ip { buf: [u8; 48], len: usize },
    /// Any other key.
    Text(String),
}

impl KeyText {
    /// `ip:` and `addr` as `Display` writes it.
    fn ip(addr: IpAddr) -> Self {
        let mut buf = [0u8; 48];
        buf[..3].copy_from_slice(b"ip:");
        let mut len = 3;
        match addr {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        buf[len] = b'.';
                        len += 1;
                    }
                    len += write_octet(octet, &mut buf[len..len + 3]);
                }
            }
            IpAddr::V6(v6) => {
                let mut out = String::from("ip:");
                let _ = write!(out, "{v6}");
                return KeyText::Text(out);
            }
        }
        KeyText::Ip { buf, len }
    }

    fn as_str(&self) -> &str {
        match self {
            // Only ASCII digits and dots are written in the buffer.
            KeyText::Ip { buf, len } => std::str::from_utf8(&buf[..*len]).unwrap_or("ip:"),
            KeyText::Text(s) => s,
        }
    }
}

/// One IPv4 octet in decimal into `out` (3 bytes); the length written.
fn write_octet(n: u8, out: &mut [u8]) -> usize {
    let digits = [n / 100, n / 10 % 10, n % 10];
    let skip = if n >= 100 {
        0
    } else if n >= 10 {
        1
    } else {
        2
    };
    for (o, d) in out.iter_mut().zip(&digits[skip..]) {
        *o = b'0' + d;
    }
    3 - skip
}

/// The draft's field names (not among `http`'s own).
static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
static X_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static X_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static X_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers,
/// structured fields), or `X-RateLimit-*`, or nothing.
fn write_fields(fields: &LimitFields, headers: &mut HeaderMap) {
    let v = &fields.verdict;
    let reset = v.reset_secs();
    match fields.headers {
        RateHeaders::None => {}
        RateHeaders::Ietf => {
            if let Some(value) = fields.text.policy(v.quota, v.window) {
                headers.append(RATELIMIT_POLICY.clone(), value);
            }
            if let Some(value) = fields.text.remaining(v.remaining, reset) {
                headers.append(RATELIMIT.clone(), value);
            }
        }
        RateHeaders::Legacy => {
            headers.append(X_LIMIT.clone(), HeaderValue::from(v.quota));
            headers.append(X_REMAINING.clone(), HeaderValue::from(v.remaining));
            headers.append(X_RESET.clone(), HeaderValue::from(reset));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.199.255",
            "255.9.100.1",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:1.2.3.4",
        ] {
            let addr: IpAddr = ip.parse().unwrap();
            assert_eq!(KeyText::ip(addr).as_str(), format!("ip:{addr}"));
        }
    }
}
