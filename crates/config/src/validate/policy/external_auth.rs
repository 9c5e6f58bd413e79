//! Validation of `oauth2_introspection`, `forward_auth` and
//! `auth: {any: [...]}`.

use std::sync::Arc;
use std::time::Duration;

use super::super::{header_name, p, Ctx};
use super::Named;
use crate::raw::*;
use crate::typed::*;
use crate::units::parse_bool;

/// `endpoint:` → [`ServiceEndpoint`]; `parent` is where the policy was
/// written (a missing endpoint is reported there).
fn endpoint(
    ctx: &mut Ctx<'_>,
    raw: Option<&Sp<RawServiceEndpoint>>,
    parent: &Sp<impl Sized>,
    path: &str,
) -> Option<ServiceEndpoint> {
    let path = p(path, "endpoint");
    let Some(raw) = raw else {
        let loc = ctx.at(parent);
        ctx.err(loc, &path, "missing required field `endpoint`");
        return None;
    };
    let r = &raw.value;
    let here = ctx.at(raw);
    let upstream = ctx.required(&r.upstream, here, &p(&path, "upstream"));
    let upstream = upstream.and_then(|u| {
        let names = ctx.upstream_names.clone();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        ctx.reference("upstream", u, &p(&path, "upstream"), &refs)
    });
    let at_path = ctx.required(&r.path, here, &p(&path, "path"));
    let req_path = at_path.and_then(|v| {
        ctx.value(v, &p(&path, "path"), |s| {
            if !s.starts_with('/') || s.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(format!("`{s}` is not an absolute path (`/introspect`)"));
            }
            Ok(s.to_string())
        })
    });
    let timeout = ctx.timeout(&r.timeout, &p(&path, "timeout"), Duration::from_secs(2));
    Some(ServiceEndpoint {
        upstream: upstream?,
        path: req_path?,
        host: r.host.as_ref().map(|h| h.value.clone()),
        timeout,
    })
}

fn strings(l: &List<String>) -> Vec<String> {
    l.iter()
        .flat_map(|l| &l.value)
        .map(|v| v.value.clone())
        .collect()
}

/// `oauth2_introspection:` → [`Introspection`], defaults filled in.
pub(super) fn introspection(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawIntrospection>,
    path: &str,
) -> Option<Arc<Introspection>> {
    let r = &raw.value;
    let here = ctx.at(raw);
    let endpoint = endpoint(ctx, r.endpoint.as_ref(), raw, path);
    let client_id = ctx.required(&r.client_id, here, &p(path, "client_id"));
    let client_id = client_id.map(|c| c.value.clone());
    let secret = ctx.required(&r.client_secret, here, &p(path, "client_secret"));
    let secret = secret.map(|s| Secret(s.value.clone()));
    if let Some(id) = r.client_id.as_ref().filter(|c| c.value.contains(':')) {
        // RFC 6749 §2.3.1 form-encodes the id, but many servers do not
        // decode it: refuse what would be ambiguous in a Basic header.
        let loc = ctx.at(id);
        ctx.err(loc, &p(path, "client_id"), "a client id cannot hold `:`");
    }
    let source = match &r.source {
        Some(s) => super::jwt::source(ctx, s, &p(path, "source"))?,
        None => TokenSource::Bearer,
    };
    let claims = strings(&r.consumer_claims);
    let consumer_claims = if claims.is_empty() {
        vec!["sub".to_string(), "client_id".to_string()]
    } else {
        claims
    };
    let ttl = ctx.timeout(
        &r.cache_ttl,
        &p(path, "cache_ttl"),
        Duration::from_secs(300),
    );
    let negative = ctx.field(
        &r.negative_cache_ttl,
        &p(path, "negative_cache_ttl"),
        Duration::from_secs(5),
        crate::units::parse_duration,
    );
    let cache_size = ctx.count(&r.cache_size, &p(path, "cache_size"), 10_000, 0, 10_000_000);
    let consumer = super::gateway::anonymous(ctx, &r.consumer, &p(path, "consumer"))?;
    let anonymous = super::gateway::anonymous(ctx, &r.anonymous, &p(path, "anonymous"))?;
    Some(Arc::new(Introspection {
        endpoint: endpoint?,
        client_id: client_id?,
        client_secret: secret?,
        source,
        scopes: strings(&r.scopes),
        audiences: strings(&r.audiences),
        issuer: r.issuer.as_ref().map(|i| i.value.clone()),
        consumer_claims,
        consumer,
        cache_ttl: ttl,
        negative_cache_ttl: negative,
        cache_size,
        anonymous,
    }))
}

/// `forward_auth:` → [`ForwardAuth`], defaults filled in.
pub(super) fn forward_auth(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawForwardAuth>,
    path: &str,
) -> Option<ForwardAuth> {
    let r = &raw.value;
    let endpoint = endpoint(ctx, r.endpoint.as_ref(), raw, path);
    let request_headers = match &r.request_headers {
        Some(list) => ctx.each(list, &p(path, "request_headers"), header_name),
        None => vec![http::header::AUTHORIZATION, http::header::COOKIE],
    };
    let response_headers = match &r.response_headers {
        Some(list) => ctx.each(list, &p(path, "response_headers"), header_name),
        None => Vec::new(),
    };
    let consumer_header = match &r.consumer_header {
        Some(h) => Some(ctx.value(h, &p(path, "consumer_header"), header_name)?),
        None => None,
    };
    let fail_open = ctx.field(&r.fail_open, &p(path, "fail_open"), false, parse_bool);
    let max_body = ctx.size(&r.max_body, &p(path, "max_body"), 64 << 10, 0, 1 << 20);
    Some(ForwardAuth {
        endpoint: endpoint?,
        request_headers,
        response_headers,
        consumer_header,
        fail_open,
        max_body,
    })
}

/// `auth: {any: [...]}` → [`AnyAuth`]: each item an auth policy (or a
/// `use` of one) that identifies, without `anonymous` of its own.
pub(super) fn any(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawAuthChoice>,
    path: &str,
    named: &Named,
) -> Option<AnyAuth> {
    let r = &raw.value;
    let Some(list) = r.any.as_ref().filter(|l| l.value.len() >= 2) else {
        let loc = r.any.as_ref().map_or(ctx.at(raw), |l| ctx.at(l));
        ctx.err(
            loc,
            &p(path, "any"),
            "list at least two auth methods (`key_auth`, `basic_auth`, `jwt`, `mtls_auth`, `oauth2_introspection`)",
        );
        return None;
    };
    let mut methods = Vec::new();
    let mut ok = true;
    for (i, item) in list.value.iter().enumerate() {
        let at = format!("{path}.any[{i}]");
        let Some(policy) = super::policy(ctx, item, &at, named) else {
            ok = false;
            continue;
        };
        let loc = ctx.at(item);
        match policy {
            Policy::Gateway(g) if member(&g).is_ok() => methods.push(g),
            Policy::Gateway(g) => {
                ctx.err(loc, &at, member(&g).unwrap_err());
                ok = false;
            }
            other => {
                ctx.err(
                    loc,
                    &at,
                    format!("`{}` is not an auth method", other.kind()),
                );
                ok = false;
            }
        }
    }
    let anonymous = super::gateway::anonymous(ctx, &r.anonymous, &p(path, "anonymous"))?;
    ok.then_some(AnyAuth { methods, anonymous })
}

/// Whether `g` may be one of `any`'s methods; why not otherwise.
fn member(g: &GatewayPolicy) -> Result<(), String> {
    let own_anonymous = match g {
        GatewayPolicy::KeyAuth(k) => k.anonymous.is_some(),
        GatewayPolicy::BasicAuth(b) => b.anonymous.is_some(),
        GatewayPolicy::MtlsAuth(m) => m.anonymous.is_some(),
        GatewayPolicy::Jwt(j) => j.anonymous.is_some(),
        GatewayPolicy::Introspection(i) => i.anonymous.is_some(),
        other => {
            return Err(format!(
                "`{}` cannot be one of `any`'s methods: list `key_auth`, `basic_auth`, `jwt`, `mtls_auth` or `oauth2_introspection`",
                other.kind()
            ))
        }
    };
    if own_anonymous {
        return Err(
            "a method of `any` cannot have its own `anonymous`: set `auth.anonymous` instead"
                .to_string(),
        );
    }
    Ok(())
}
