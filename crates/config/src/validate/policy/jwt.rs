//! Validation of the `jwt` and `require` policies: issuers and their keys
//! (no `none`, no unknown algorithm, HS secrets at least as long as their
//! hash, HS and public keys never mixed for one issuer), limits, sources.
//! Key files are read when the snapshot is built (`tollgate-gateway`),
//! which reports their problems at the place they were named.

use std::sync::Arc;
use std::time::Duration;

use super::super::{header_name, p, Ctx};
use crate::raw::*;
use crate::typed::*;
use crate::units::{parse_bool, parse_duration, parse_uint};

/// `jwt:` → [`JwtPolicy`], defaults filled in.
pub(super) fn jwt(ctx: &mut Ctx<'_>, raw: &Sp<RawJwt>, path: &str) -> Option<Arc<JwtPolicy>> {
    let r = &raw.value;
    let here = ctx.at(raw);
    let mut issuers = Vec::new();
    match &r.issuers {
        Some(list) if !list.value.is_empty() => {
            for (i, item) in list.value.iter().enumerate() {
                issuers.extend(issuer(ctx, item, &format!("{path}.issuers[{i}]")));
            }
        }
        Some(list) => {
            let loc = ctx.at(list);
            ctx.err(loc, &p(path, "issuers"), "list at least one issuer");
        }
        None => ctx.err(
            here,
            &p(path, "issuers"),
            "missing required field `issuers`",
        ),
    }
    let leeway = ctx.field(
        &r.leeway,
        &p(path, "leeway"),
        Duration::from_secs(30),
        |s| {
            let d = parse_duration(s)?;
            if d > Duration::from_secs(300) {
                return Err(format!("must be at most 5m, got `{s}`"));
            }
            Ok(d)
        },
    );
    let max = ctx.size(
        &r.max_token_size,
        &p(path, "max_token_size"),
        8192,
        64,
        1 << 20,
    );
    let policy = JwtPolicy {
        issuers,
        source: r.source.as_ref().map_or(Some(TokenSource::Bearer), |s| {
            source(ctx, s, &p(path, "source"))
        })?,
        leeway,
        max_token_size: max as usize,
        require_exp: ctx.field(&r.require_exp, &p(path, "require_exp"), true, parse_bool),
        typ: r.typ.as_ref().map(|t| t.value.clone()),
        claims_to_headers: claims_to_headers(ctx, r, path),
        cache_size: ctx.field(&r.cache_size, &p(path, "cache_size"), 10_000, parse_uint),
        anonymous: super::gateway::anonymous(ctx, &r.anonymous, &p(path, "anonymous"))?,
    };
    Some(Arc::new(policy))
}

fn claims_to_headers(ctx: &mut Ctx<'_>, r: &RawJwt, path: &str) -> Vec<(String, http::HeaderName)> {
    let mut out = Vec::new();
    if let Some(map) = &r.claims_to_headers {
        for (claim, header) in &map.value.0 {
            let at = format!("{path}.claims_to_headers.{}", claim.value);
            if let Some(h) = ctx.value(header, &at, header_name) {
                out.push((claim.value.clone(), h));
            }
        }
    }
    out
}

pub(super) fn source(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawCredentialSource>,
    path: &str,
) -> Option<TokenSource> {
    let needs = "a token source needs exactly one of `header`, `query` or `cookie` (leave `source` out for `Authorization: Bearer`)";
    super::gateway::credential_source(ctx, raw, path, needs).map(|s| match s {
        KeySource::Header(h) => TokenSource::Header(h),
        KeySource::Query(q) => TokenSource::Query(q),
        KeySource::Cookie(c) => TokenSource::Cookie(c),
    })
}

fn issuer(ctx: &mut Ctx<'_>, raw: &Sp<RawIssuer>, path: &str) -> Option<JwtIssuer> {
    let r = &raw.value;
    let here = ctx.at(raw);
    let name = ctx
        .required(&r.issuer, here, &p(path, "issuer"))?
        .value
        .clone();
    let mut keys = Vec::new();
    if let Some(list) = &r.keys {
        for (i, k) in list.value.iter().enumerate() {
            keys.extend(key(ctx, k, &format!("{path}.keys[{i}]")));
        }
    }
    let jwks_endpoint = match &r.jwks_endpoint {
        Some(e) => Some(endpoint(ctx, e, &p(path, "jwks_endpoint"))?),
        None => None,
    };
    let written = r.keys.as_ref().is_some_and(|l| !l.value.is_empty());
    if !written && jwks_endpoint.is_none() {
        ctx.err(
            here,
            &p(path, "keys"),
            format!("issuer `{name}` has no keys: list `pem`, `jwk`, `jwks` or `secret` keys, or give a `jwks_endpoint`"),
        );
        return None;
    }
    let hmac = keys
        .iter()
        .filter(|k| matches!(k.material, KeyMaterial::Secret(_)))
        .count();
    if hmac > 0 && (hmac < keys.len() || jwks_endpoint.is_some()) {
        ctx.err(
            here,
            &p(path, "keys"),
            "HS secrets and public keys cannot be mixed for one issuer (a public key must never be usable as an HMAC secret)",
        );
        return None;
    }
    let consumer = super::gateway::anonymous(ctx, &r.consumer, &p(path, "consumer"))?;
    Some(JwtIssuer {
        issuer: name,
        audiences: r
            .audiences
            .iter()
            .flat_map(|l| &l.value)
            .map(|a| a.value.clone())
            .collect(),
        keys,
        jwks_endpoint,
        consumer,
    })
}

/// `jwks_endpoint:` → [`JwksEndpoint`], defaults filled in.
fn endpoint(ctx: &mut Ctx<'_>, raw: &Sp<RawJwksEndpoint>, path: &str) -> Option<JwksEndpoint> {
    let r = &raw.value;
    let here = ctx.at(raw);
    let upstream = ctx.required(&r.upstream, here, &p(path, "upstream"));
    let upstream = upstream.and_then(|u| {
        let names = ctx.upstream_names.clone();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        ctx.reference("upstream", u, &p(path, "upstream"), &refs)
    });
    let at_path = ctx.required(&r.path, here, &p(path, "path"));
    let req_path = at_path.and_then(|v| {
        ctx.value(v, &p(path, "path"), |s| {
            if !s.starts_with('/') || s.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(format!(
                    "`{s}` is not an absolute path (`/.well-known/jwks.json`)"
                ));
            }
            Ok(s.to_string())
        })
    });
    let min_ttl = ctx.timeout(&r.min_ttl, &p(path, "min_ttl"), Duration::from_secs(60));
    let max_ttl = ctx.timeout(&r.max_ttl, &p(path, "max_ttl"), Duration::from_secs(3600));
    if max_ttl < min_ttl {
        ctx.err(
            here,
            &p(path, "max_ttl"),
            "`max_ttl` must not be shorter than `min_ttl`",
        );
    }
    let refetch_interval = ctx.timeout(
        &r.refetch_interval,
        &p(path, "refetch_interval"),
        Duration::from_secs(30),
    );
    let timeout = ctx.timeout(&r.timeout, &p(path, "timeout"), Duration::from_secs(5));
    Some(JwksEndpoint {
        upstream: upstream?,
        path: req_path?,
        host: r.host.as_ref().map(|h| h.value.clone()),
        min_ttl,
        max_ttl,
        refetch_interval,
        timeout,
    })
}

fn key(ctx: &mut Ctx<'_>, raw: &Sp<RawJwtKey>, path: &str) -> Option<JwtKey> {
    let r = &raw.value;
    let here = ctx.at(raw);
    let given = [
        r.pem.as_ref().map(|_| "pem"),
        r.jwk.as_ref().map(|_| "jwk"),
        r.jwks.as_ref().map(|_| "jwks"),
        r.secret.as_ref().map(|_| "secret"),
    ];
    if !ctx.exactly_one(
        here,
        path,
        &given,
        "a key needs exactly one of `pem`, `jwk`, `jwks` or `secret`",
    ) {
        return None;
    }
    let algorithm = match &r.algorithm {
        Some(a) => Some(ctx.value(a, &p(path, "algorithm"), algorithm)?),
        None => None,
    };
    let material = if let Some(secret) = &r.secret {
        let alg = algorithm.unwrap_or(JwtAlgorithm::HS256);
        if !alg.is_hmac() {
            let loc = ctx.at(secret);
            ctx.err(
                loc,
                &p(path, "algorithm"),
                format!(
                    "a `secret` verifies HS256, HS384 or HS512, not {}",
                    alg.name()
                ),
            );
            return None;
        }
        if secret.value.len() < alg.min_secret_len() {
            let loc = ctx.at(secret);
            ctx.err(
                loc,
                &p(path, "secret"),
                format!(
                    "an {} secret must be at least {} bytes (its hash output), got {}",
                    alg.name(),
                    alg.min_secret_len(),
                    secret.value.len()
                ),
            );
            return None;
        }
        KeyMaterial::Secret(secret.value.as_bytes().to_vec())
    } else {
        if algorithm.is_some_and(JwtAlgorithm::is_hmac) {
            ctx.err(
                here,
                &p(path, "algorithm"),
                "HS algorithms need a `secret`, not a key file",
            );
            return None;
        }
        let (field, wrap): (&str, fn(TlsFile) -> KeyMaterial) = match (&r.pem, &r.jwk) {
            (Some(_), _) => ("pem", KeyMaterial::Pem),
            (_, Some(_)) => ("jwk", KeyMaterial::Jwk),
            _ => ("jwks", KeyMaterial::Jwks),
        };
        let text = r
            .pem
            .as_ref()
            .or(r.jwk.as_ref())
            .or(r.jwks.as_ref())
            .cloned();
        wrap(ctx.file_path(&text, here, &p(path, field))?)
    };
    Some(JwtKey {
        material,
        kid: r.kid.as_ref().map(|k| k.value.clone()),
        algorithm,
    })
}

/// A JOSE algorithm name; `none` and unknown names are refused.
fn algorithm(s: &str) -> Result<JwtAlgorithm, String> {
    if s.eq_ignore_ascii_case("none") {
        return Err(
            "`none` is not an algorithm tollgate accepts: unsigned tokens are never valid".into(),
        );
    }
    JwtAlgorithm::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = JwtAlgorithm::ALL.iter().map(|a| a.name()).collect();
        format!(
            "unknown algorithm `{s}`; expected one of {}",
            names.join(", ")
        )
    })
}

/// `require:` → [`Require`].
pub(super) fn require(ctx: &mut Ctx<'_>, raw: &Sp<RawRequire>, path: &str) -> Option<Require> {
    let r = &raw.value;
    let mut out = Require::default();
    if let Some(map) = &r.claims {
        for (claim, rule) in &map.value.0 {
            let at = format!("{path}.claims.{}", claim.value);
            out.claims
                .push((claim.value.clone(), value_rule(ctx, rule, &at)?));
        }
    }
    if let Some(s) = &r.scopes {
        out.scopes = Some(value_rule(ctx, s, &p(path, "scopes"))?);
    }
    if out.claims.is_empty() && out.scopes.is_none() {
        let loc = ctx.at(raw);
        ctx.err(loc, path, "`require` needs `claims` or `scopes`");
        return None;
    }
    Some(out)
}

fn value_rule(ctx: &mut Ctx<'_>, raw: &Sp<RawValueRule>, path: &str) -> Option<ValueRule> {
    let list = |l: &List<String>| -> Vec<String> {
        l.iter()
            .flat_map(|l| &l.value)
            .map(|v| v.value.clone())
            .collect()
    };
    let rule = ValueRule {
        all_of: list(&raw.value.all_of),
        any_of: list(&raw.value.any_of),
    };
    if rule.all_of.is_empty() && rule.any_of.is_empty() {
        let loc = ctx.at(raw);
        ctx.err(loc, path, "list values in `all_of` or `any_of`");
        return None;
    }
    Some(rule)
}
