//! Validation of policies: the named ones at the top level, and the lists
//! in `defaults` and routes, where `use: <name>` pulls a named one in.
//! A policy kind adds its field to `RawPolicy`, its arm in [`policy`] and
//! its own function here (or in a file of its own when it grows).

mod cache;
mod compress;
mod external_auth;
mod gateway;
mod jwt;
pub(crate) mod openapi;
mod openapi30;
mod ratelimit;
mod transform;
mod validate;

use http::HeaderName;

use super::{header_name, p, quoted_list, security, Ctx};
use crate::raw::*;
use crate::typed::*;

/// The top-level named policies, in file order.
pub(crate) struct Named(Vec<(String, Option<Policy>)>);

impl Named {
    fn get(&self, name: &str) -> Option<&Option<Policy>> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }
}

/// Validates the top-level `policies:` mapping.
pub(crate) fn named(ctx: &mut Ctx<'_>, raw: Option<&Sp<NamedMap<RawPolicy>>>) -> Named {
    let mut out: Vec<(String, Option<Policy>)> = Vec::new();
    let Some(map) = raw else {
        return Named(out);
    };
    for (name, item) in &map.value.0 {
        let path = format!("policies.{}", name.value);
        if out.iter().any(|(n, _)| *n == name.value) {
            let loc = ctx.at(name);
            ctx.err(
                loc,
                &path,
                format!("policy `{}` is defined twice", name.value),
            );
            continue;
        }
        if let Some(u) = &item.value.use_named {
            let loc = ctx.at(u);
            ctx.err(
                loc,
                &p(&path, "use"),
                "a named policy cannot `use` another; list both on the route instead",
            );
            out.push((name.value.clone(), None));
            continue;
        }
        // A broken definition is still recorded, so routes using it do not
        // also report an unknown name.
        let policy = policy(ctx, item, &path, &Named(Vec::new()));
        out.push((name.value.clone(), policy));
    }
    Named(out)
}

/// Validates a `policies` list, resolving `use`. `identified` says
/// whether an auth policy runs before this list (in `defaults.policies`).
pub(crate) fn list(
    ctx: &mut Ctx<'_>,
    raw: &List<RawPolicy>,
    path: &str,
    named: &Named,
    identified: bool,
) -> Vec<Policy> {
    let Some(items) = raw else {
        return Vec::new();
    };
    let mut chain = Vec::with_capacity(items.value.len());
    for (i, item) in items.value.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if let Some(policy) = policy(ctx, item, &at, named) {
            chain.push((policy, ctx.at(item), at));
        }
    }
    gateway::check_order(ctx, &chain, identified);
    ratelimit::check_order(ctx, &chain, identified);
    chain.into_iter().map(|(policy, _, _)| policy).collect()
}

fn policy(ctx: &mut Ctx<'_>, item: &Sp<RawPolicy>, path: &str, named: &Named) -> Option<Policy> {
    let raw = &item.value;
    let here = ctx.at(item);
    let given = [
        raw.use_named.as_ref().map(|_| "use"),
        raw.headers.as_ref().map(|_| "headers"),
        raw.ip_filter.as_ref().map(|_| "ip_filter"),
        raw.methods.as_ref().map(|_| "methods"),
        raw.security_headers.as_ref().map(|_| "security_headers"),
        raw.cors.as_ref().map(|_| "cors"),
        raw.cache.as_ref().map(|_| "cache"),
        raw.compress.as_ref().map(|_| "compress"),
        raw.key_auth.as_ref().map(|_| "key_auth"),
        raw.basic_auth.as_ref().map(|_| "basic_auth"),
        raw.mtls_auth.as_ref().map(|_| "mtls_auth"),
        raw.acl.as_ref().map(|_| "acl"),
        raw.jwt.as_ref().map(|_| "jwt"),
        raw.require.as_ref().map(|_| "require"),
        raw.oauth2_introspection
            .as_ref()
            .map(|_| "oauth2_introspection"),
        raw.forward_auth.as_ref().map(|_| "forward_auth"),
        raw.auth.as_ref().map(|_| "auth"),
        raw.rate_limit.as_ref().map(|_| "rate_limit"),
        raw.quota.as_ref().map(|_| "quota"),
        raw.concurrency_limit.as_ref().map(|_| "concurrency_limit"),
        raw.transform.as_ref().map(|_| "transform"),
        raw.json_to_xml.as_ref().map(|_| "json_to_xml"),
        raw.xml_to_json.as_ref().map(|_| "xml_to_json"),
        raw.soap.as_ref().map(|_| "soap"),
        raw.validate.as_ref().map(|_| "validate"),
    ];
    let needs = "a policy needs exactly one of `use`, `headers`, `ip_filter`, `methods`, `security_headers`, `cors`, `cache`, `compress`, `key_auth`, `basic_auth`, `mtls_auth`, `jwt`, `oauth2_introspection`, `forward_auth`, `auth`, `acl`, `require`, `rate_limit`, `quota`, `concurrency_limit`, `transform`, `json_to_xml`, `xml_to_json`, `soap` or `validate`";
    if !ctx.exactly_one(here, path, &given, needs) {
        return None;
    }
    if let Some(name) = &raw.use_named {
        return match named.get(&name.value) {
            Some(policy) => policy.clone(),
            None => {
                let defined: Vec<&str> = named.0.iter().map(|(n, _)| n.as_str()).collect();
                let loc = ctx.at(name);
                ctx.err(
                    loc,
                    &p(path, "use"),
                    format!(
                        "unknown policy `{}`; named policies: {}",
                        name.value,
                        quoted_list(&defined)
                    ),
                );
                None
            }
        };
    }
    if let Some(h) = &raw.headers {
        return Some(Policy::Headers(header_rules(
            ctx,
            &h.value,
            &p(path, "headers"),
        )));
    }
    if let Some(f) = &raw.ip_filter {
        return Some(Policy::IpFilter(security::ip_filter(
            ctx,
            f,
            &p(path, "ip_filter"),
        )));
    }
    if let Some(m) = &raw.methods {
        return security::methods(ctx, m, &p(path, "methods")).map(Policy::Methods);
    }
    if let Some(h) = &raw.security_headers {
        return Some(Policy::SecurityHeaders(security::security_headers(
            ctx,
            &h.value,
            &p(path, "security_headers"),
        )));
    }
    if let Some(c) = &raw.cors {
        return security::cors(ctx, c, &p(path, "cors")).map(Policy::Cors);
    }
    if let Some(c) = &raw.cache {
        return Some(Policy::Cache(cache::cache(ctx, c, &p(path, "cache"))));
    }
    if let Some(c) = &raw.compress {
        return Some(Policy::Compress(compress::compress(
            ctx,
            c,
            &p(path, "compress"),
        )));
    }
    if let Some(k) = &raw.key_auth {
        let k = gateway::key_auth(ctx, k, &p(path, "key_auth"))?;
        return Some(Policy::Gateway(GatewayPolicy::KeyAuth(k)));
    }
    if let Some(b) = &raw.basic_auth {
        let b = gateway::basic_auth(ctx, b, &p(path, "basic_auth"))?;
        return Some(Policy::Gateway(GatewayPolicy::BasicAuth(b)));
    }
    if let Some(m) = &raw.mtls_auth {
        let m = gateway::mtls_auth(ctx, m, &p(path, "mtls_auth"))?;
        return Some(Policy::Gateway(GatewayPolicy::MtlsAuth(m)));
    }
    if let Some(a) = &raw.acl {
        let a = gateway::acl(ctx, a, &p(path, "acl"))?;
        return Some(Policy::Gateway(GatewayPolicy::Acl(a)));
    }
    if let Some(j) = &raw.jwt {
        let j = jwt::jwt(ctx, j, &p(path, "jwt"))?;
        return Some(Policy::Gateway(GatewayPolicy::Jwt(j)));
    }
    if let Some(r) = &raw.require {
        let r = jwt::require(ctx, r, &p(path, "require"))?;
        return Some(Policy::Gateway(GatewayPolicy::Require(r)));
    }
    if let Some(v) = &raw.validate {
        let v = validate::validate(ctx, v, &p(path, "validate"))?;
        return Some(Policy::Validate(std::sync::Arc::new(v)));
    }
    if let Some(g) = external_auth(ctx, raw, path, named) {
        return Some(Policy::Gateway(g));
    }
    if let Some(r) = reshape(ctx, raw, path) {
        return r.map(Policy::Reshape);
    }
    limit(ctx, raw, path).map(Policy::Limit)
}

/// The auth policies that ask another service, and `auth: {any}`.
fn external_auth(
    ctx: &mut Ctx<'_>,
    raw: &RawPolicy,
    path: &str,
    named: &Named,
) -> Option<GatewayPolicy> {
    if let Some(i) = &raw.oauth2_introspection {
        let i = external_auth::introspection(ctx, i, &p(path, "oauth2_introspection"))?;
        return Some(GatewayPolicy::Introspection(i));
    }
    if let Some(f) = &raw.forward_auth {
        let f = external_auth::forward_auth(ctx, f, &p(path, "forward_auth"))?;
        return Some(GatewayPolicy::ForwardAuth(f));
    }
    if let Some(a) = &raw.auth {
        let a = external_auth::any(ctx, a, &p(path, "auth"), named)?;
        return Some(GatewayPolicy::Any(a));
    }
    None
}

/// The reshaping policies (`transform`, `json_to_xml`, `xml_to_json`,
/// `soap`); `None` when the entry is none of them.
fn reshape(ctx: &mut Ctx<'_>, raw: &RawPolicy, path: &str) -> Option<Option<Reshape>> {
    if let Some(t) = &raw.transform {
        return Some(Some(transform::transform(ctx, t, &p(path, "transform"))));
    }
    if let Some(x) = &raw.json_to_xml {
        return Some(Some(transform::xml(ctx, x, &p(path, "json_to_xml"), true)));
    }
    if let Some(x) = &raw.xml_to_json {
        return Some(Some(transform::xml(ctx, x, &p(path, "xml_to_json"), false)));
    }
    raw.soap
        .as_ref()
        .map(|s| transform::soap(ctx, s, &p(path, "soap")))
}

/// The limiting policies (`rate_limit`, `quota`, `concurrency_limit`).
fn limit(ctx: &mut Ctx<'_>, raw: &RawPolicy, path: &str) -> Option<LimitPolicy> {
    if let Some(r) = &raw.rate_limit {
        return ratelimit::rate_limit(ctx, r, &p(path, "rate_limit"));
    }
    if let Some(q) = &raw.quota {
        return ratelimit::quota(ctx, q, &p(path, "quota"));
    }
    if let Some(c) = &raw.concurrency_limit {
        return ratelimit::concurrency(ctx, c, &p(path, "concurrency_limit"));
    }
    None
}

fn header_rules(ctx: &mut Ctx<'_>, raw: &RawHeaderRules, path: &str) -> HeaderRules {
    let side = |ctx: &mut Ctx<'_>, ops: &Option<Sp<RawHeaderOps>>, name: &str| {
        ops.as_ref()
            .map(|o| header_ops(ctx, &o.value, &p(path, name)))
            .unwrap_or_default()
    };
    HeaderRules {
        request: side(ctx, &raw.request, "request"),
        response: side(ctx, &raw.response, "response"),
    }
}

fn header_ops(ctx: &mut Ctx<'_>, raw: &RawHeaderOps, path: &str) -> HeaderOps {
    let mut ops = HeaderOps::default();
    if let Some(list) = &raw.remove {
        ops.remove = ctx.each(list, &p(path, "remove"), header_name);
    }
    ops.set = templated_fields(ctx, raw.set.as_ref(), &p(path, "set"));
    ops.add = templated_fields(ctx, raw.add.as_ref(), &p(path, "add"));
    ops
}

/// Fields that belong to one connection (RFC 9110 §7.6.1) or to the
/// message's framing: tollgate writes them per hop and drops any others, so
/// a policy setting one would be silently lost.
const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "proxy-authenticate",
    "proxy-authorization",
];

fn refuse_hop_by_hop(name: &HeaderName) -> Result<(), String> {
    if HOP_BY_HOP.contains(&name.as_str()) {
        return Err(format!(
            "`{name}` is a hop-by-hop or framing field: tollgate writes it for each connection and drops any other value, so a headers policy cannot set it"
        ));
    }
    Ok(())
}

/// `name: template` entries; a literal value must also be a valid header
/// value, and the name may not be a hop-by-hop field.
pub(super) fn templated_fields(
    ctx: &mut Ctx<'_>,
    raw: Option<&Sp<OrderedMap>>,
    path: &str,
) -> Vec<(HeaderName, Template)> {
    let mut out = Vec::new();
    let Some(map) = raw else { return out };
    for (k, v) in &map.value.0 {
        let at = format!("{path}.{}", k.value);
        let name = ctx.value(k, &at, |s| {
            let name = header_name(s)?;
            refuse_hop_by_hop(&name)?;
            Ok(name)
        });
        let value = ctx.value(v, &at, |s| {
            let t = Template::parse(s)?;
            if s.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
                return Err(format!(
                    "invalid header value `{}`: use visible ASCII characters, spaces and tabs only",
                    s.escape_debug()
                ));
            }
            Ok(t)
        });
        if let (Some(name), Some(value)) = (name, value) {
            out.push((name, value));
        }
    }
    out
}
