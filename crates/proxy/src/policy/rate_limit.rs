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

use http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Response, StatusCode};
use tollgate_config::{LimitKey, RateHeaders, Route};
use tollgate_core::ErrorKind;
use tollgate_gateway::ratelimit::concurrency::Permit;
use tollgate_gateway::ratelimit::Verdict;

use super::RequestVars;
use crate::body::{HeldBody, ResponseBody};
use crate::limits::LimitRt;
use crate::pipeline::{refusal, Exchange, Incoming};

/// The 429 that ends a refused request (boxed: refusals are the rare path).
pub(super) type Refused = Box<Response<ResponseBody>>;

/// What an admitted request's answer reports.
#[derive(Debug)]
pub(crate) struct LimitFields {
    verdict: Verdict,
    name: String,
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
        LimitRt::Rate(limiter) => {
            let policy = limiter.policy();
            let key = request_key(&policy.key, route, req, host, ex);
            let verdict = limiter
                .decide(&key, ex.consumer.as_ref().map(|c| &c.config))
                .await;
            let fields = LimitFields {
                verdict,
                name: policy.name.clone(),
                headers: policy.headers,
            };
            decided(fields, "rate_limit", req, ex).map(LimitStep::Fields)
        }
        LimitRt::Quota(quota) => {
            let policy = quota.policy();
            let key = request_key(&policy.key, route, req, host, ex);
            let fields = LimitFields {
                verdict: quota.decide(&key).await,
                name: policy.name.clone(),
                headers: policy.headers,
            };
            decided(fields, "quota", req, ex).map(LimitStep::Fields)
        }
        LimitRt::InFlight(table) => {
            let key = request_key(&table.policy().key, route, req, host, ex);
            match table.acquire(&key) {
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
    req: &Incoming<'_>,
    ex: &mut Exchange,
) -> Result<LimitFields, Refused> {
    if fields.verdict.allowed {
        return Ok(fields);
    }
    ex.limited = Some(format!("{kind}:{}", fields.name));
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
) -> String {
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
    value.unwrap_or_else(|| {
        let mut out = String::from("ip:");
        let _ = write!(out, "{}", req.client.peer.ip());
        out
    })
}

/// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers,
/// structured fields), or `X-RateLimit-*`, or nothing.
fn write_fields(fields: &LimitFields, headers: &mut HeaderMap) {
    let v = &fields.verdict;
    let reset = v.reset_secs();
    let pairs: Vec<(HeaderName, String)> = match fields.headers {
        RateHeaders::None => return,
        RateHeaders::Ietf => {
            let name = sf_string(&fields.name);
            vec![
                (
                    HeaderName::from_static("ratelimit-policy"),
                    format!("{name};q={};w={}", v.quota, v.window),
                ),
                (
                    HeaderName::from_static("ratelimit"),
                    format!("{name};r={};t={reset}", v.remaining),
                ),
            ]
        }
        RateHeaders::Legacy => vec![
            (
                HeaderName::from_static("x-ratelimit-limit"),
                v.quota.to_string(),
            ),
            (
                HeaderName::from_static("x-ratelimit-remaining"),
                v.remaining.to_string(),
            ),
            (
                HeaderName::from_static("x-ratelimit-reset"),
                reset.to_string(),
            ),
        ],
    };
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(name, value);
        }
    }
}

/// A structured-field string (RFC 8941 §3.3.3): printable ASCII, with `"`
/// and `\` escaped; other characters become `_`.
fn sf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('_'),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_field_strings_are_escaped() {
        assert_eq!(sf_string("default"), "\"default\"");
        assert_eq!(sf_string("a\"b\\c\u{e9}"), "\"a\\\"b\\\\c_\"");
    }
}
