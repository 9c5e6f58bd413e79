//! Validation of the gateway policies (`key_auth`, `acl`) and of their
//! order: a policy that needs an identity must follow an auth policy.

use super::super::{header_name, p, quoted_list, Ctx, Loc};
use crate::raw::*;
use crate::typed::*;

/// `key_auth:` → [`KeyAuth`]; no `sources` means the `X-API-Key` header.
pub(super) fn key_auth(ctx: &mut Ctx<'_>, raw: &Sp<RawKeyAuth>, path: &str) -> Option<KeyAuth> {
    let r = &raw.value;
    let mut sources = Vec::new();
    match &r.sources {
        None => sources.push(KeySource::Header(http::HeaderName::from_static(
            "x-api-key",
        ))),
        Some(list) if list.value.is_empty() => {
            let loc = ctx.at(list);
            ctx.err(
                loc,
                &p(path, "sources"),
                "list at least one of `header`, `query` or `cookie`",
            );
            return None;
        }
        Some(list) => {
            for (i, s) in list.value.iter().enumerate() {
                let at = format!("{path}.sources[{i}]");
                let needs =
                    "a credential source needs exactly one of `header`, `query` or `cookie`";
                sources.push(credential_source(ctx, s, &at, needs)?);
            }
        }
    }
    let anonymous = anonymous(ctx, &r.anonymous, &p(path, "anonymous"))?;
    Some(KeyAuth { sources, anonymous })
}

/// One `{header: ..}`, `{query: ..}` or `{cookie: ..}` (`key_auth`'s
/// sources, `jwt`'s `source`); `needs` is the message when it is not
/// exactly one.
pub(super) fn credential_source(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawCredentialSource>,
    path: &str,
    needs: &str,
) -> Option<KeySource> {
    let r = &raw.value;
    let here = ctx.at(raw);
    let given = [
        r.header.as_ref().map(|_| "header"),
        r.query.as_ref().map(|_| "query"),
        r.cookie.as_ref().map(|_| "cookie"),
    ];
    if !ctx.exactly_one(here, path, &given, needs) {
        return None;
    }
    let name = |s: &str| {
        if s.is_empty()
            || s.bytes()
                .any(|b| !b.is_ascii_graphic() || b"=;&,".contains(&b))
        {
            return Err(format!("`{s}` is not a valid parameter name"));
        }
        Ok(s.to_string())
    };
    match (&r.header, &r.query, &r.cookie) {
        (Some(h), _, _) => ctx
            .value(h, &p(path, "header"), header_name)
            .map(KeySource::Header),
        (_, Some(q), _) => ctx.value(q, &p(path, "query"), name).map(KeySource::Query),
        (_, _, Some(c)) => ctx
            .value(c, &p(path, "cookie"), name)
            .map(KeySource::Cookie),
        _ => None,
    }
}

/// `anonymous: NAME`, which must be a defined consumer. The outer
/// `None` is an error (reported).
#[allow(clippy::option_option)]
pub(super) fn anonymous(ctx: &mut Ctx<'_>, raw: &Text, path: &str) -> Option<Option<String>> {
    let Some(name) = raw else { return Some(None) };
    let defined: Vec<String> = ctx.consumers.clone();
    let refs: Vec<&str> = defined.iter().map(String::as_str).collect();
    ctx.reference("consumer", name, path, &refs)?;
    Some(Some(name.value.clone()))
}

/// `basic_auth:` → [`BasicAuth`], defaults filled in.
pub(super) fn basic_auth(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawBasicAuth>,
    path: &str,
) -> Option<std::sync::Arc<BasicAuth>> {
    let r = &raw.value;
    let realm = ctx.field(&r.realm, &p(path, "realm"), "tollgate".to_string(), |s| {
        if s.is_empty()
            || s.bytes()
                .any(|b| b == b'"' || b == b'\\' || b.is_ascii_control())
        {
            return Err("a realm is visible text without `\"` or `\\`".to_string());
        }
        Ok(s.to_string())
    });
    let ttl = std::time::Duration::from_secs(300);
    let cache_size = ctx.count(&r.cache_size, &p(path, "cache_size"), 10_000, 0, 10_000_000);
    let cache_ttl = ctx.timeout(&r.cache_ttl, &p(path, "cache_ttl"), ttl);
    Some(std::sync::Arc::new(BasicAuth {
        realm,
        anonymous: anonymous(ctx, &r.anonymous, &p(path, "anonymous"))?,
        cache_size,
        cache_ttl,
    }))
}

/// `mtls_auth:` → [`MtlsAuth`].
pub(super) fn mtls_auth(ctx: &mut Ctx<'_>, raw: &Sp<RawMtlsAuth>, path: &str) -> Option<MtlsAuth> {
    let anonymous = anonymous(ctx, &raw.value.anonymous, &p(path, "anonymous"))?;
    Some(MtlsAuth { anonymous })
}

/// `acl:` → [`Acl`]; at least one side must list something, and names
/// must be defined consumers.
pub(super) fn acl(ctx: &mut Ctx<'_>, raw: &Sp<RawAcl>, path: &str) -> Option<Acl> {
    let r = &raw.value;
    let allow = r.allow.as_ref().map(|a| rule(ctx, a, &p(path, "allow")));
    let deny = r.deny.as_ref().map(|d| rule(ctx, d, &p(path, "deny")));
    let acl = Acl {
        allow: allow.unwrap_or_default(),
        deny: deny.unwrap_or_default(),
    };
    if acl.allow.is_empty() && acl.deny.is_empty() {
        let loc = ctx.at(raw);
        ctx.err(
            loc,
            path,
            "an acl needs `allow` or `deny` with at least one group or consumer",
        );
        return None;
    }
    Some(acl)
}

fn rule(ctx: &mut Ctx<'_>, raw: &Sp<RawAclRule>, path: &str) -> AclRule {
    let mut out = AclRule::default();
    if let Some(g) = &raw.value.groups {
        out.groups = g.value.iter().map(|s| s.value.clone()).collect();
    }
    if let Some(c) = &raw.value.consumers {
        let defined = ctx.consumers.clone();
        let refs: Vec<&str> = defined.iter().map(String::as_str).collect();
        for (i, name) in c.value.iter().enumerate() {
            let at = format!("{path}.consumers[{i}]");
            if ctx.reference("consumer", name, &at, &refs).is_some() {
                out.consumers.push(name.value.clone());
            }
        }
    }
    out
}

/// Reports each policy in `chain` that needs an identity (`acl`) with no
/// auth policy before it. `identified` says whether one ran before the
/// chain (in `defaults.policies`); `locs` are where each policy was written.
pub(crate) fn check_order(
    ctx: &mut Ctx<'_>,
    chain: &[(Policy, Loc, String)],
    mut identified: bool,
) {
    for (policy, loc, path) in chain {
        if policy.needs_identity() && !identified {
            let what = match policy {
                Policy::Headers(_) => {
                    "`headers` with `$consumer`, `$consumer_groups` or `$jwt_claim_...`".to_string()
                }
                other => format!("`{}`", other.kind()),
            };
            ctx.err(
                *loc,
                path,
                format!(
                    "{what} needs an identity but no auth policy ({}) comes before it in the chain",
                    quoted_list(AUTH_KINDS)
                ),
            );
        }
        identified |= matches!(policy, Policy::Gateway(g) if g.identifies());
    }
}

/// The policy kinds that identify a consumer.
const AUTH_KINDS: &[&str] = &[
    "key_auth",
    "basic_auth",
    "jwt",
    "mtls_auth",
    "oauth2_introspection",
    "forward_auth with consumer_header",
    "auth",
];
