//! Validation of the gateway's top-level parts: `consumers:` (names,
//! groups, metadata, credentials; a credential held by two consumers is an
//! error) and `identity_headers:`.

use std::collections::HashMap;

use super::{header_name, p, Ctx, Loc};
use crate::raw::*;
use crate::typed::*;

/// Where each credential was first seen, to report duplicates.
#[derive(Default)]
struct Seen {
    keys: HashMap<KeyDigest, (String, Loc)>,
    users: HashMap<String, (String, Loc)>,
    jwt: HashMap<(String, String, String), (String, Loc)>,
    mtls: HashMap<MtlsMapping, (String, Loc)>,
}

/// Validates `consumers:` and `identity_headers:`.
pub(super) fn gateway(ctx: &mut Ctx<'_>, raw: &RawConfig) -> Gateway {
    let mut out = Gateway::default();
    // Policies (`anonymous`) refer to consumers by name.
    ctx.consumers = raw
        .consumers
        .iter()
        .flat_map(|l| &l.value)
        .filter_map(|c| c.value.name.as_ref().map(|n| n.value.clone()))
        .collect();
    if let Some(h) = &raw.identity_headers {
        out.identity_headers = identity_headers(ctx, &h.value);
    }
    let Some(list) = &raw.consumers else {
        return out;
    };
    let mut names = Vec::new();
    let mut seen = Seen::default();
    for (i, item) in list.value.iter().enumerate() {
        let path = format!("consumers[{i}]");
        let here = ctx.at(item);
        let name = ctx
            .required(&item.value.name, here, &p(&path, "name"))
            .map(|n| n.value.clone());
        names.push((name.clone(), here, p(&path, "name")));
        let consumer = consumer(ctx, &item.value, &path, name.unwrap_or_default(), &mut seen);
        out.consumers.push(consumer);
    }
    ctx.unique("consumer", &names);
    out
}

fn consumer(
    ctx: &mut Ctx<'_>,
    raw: &RawConsumer,
    path: &str,
    name: String,
    seen: &mut Seen,
) -> Consumer {
    let mut c = Consumer {
        name,
        groups: Vec::new(),
        metadata: Vec::new(),
        api_keys: Vec::new(),
        basic_auth: Vec::new(),
        jwt: Vec::new(),
        mtls: Vec::new(),
    };
    if let Some(groups) = &raw.groups {
        for g in ctx.each(groups, &p(path, "groups"), non_empty) {
            if !c.groups.contains(&g) {
                c.groups.push(g);
            }
        }
    }
    if let Some(m) = &raw.metadata {
        c.metadata = m
            .value
            .0
            .iter()
            .map(|(k, v)| (k.value.clone(), v.value.clone()))
            .collect();
    }
    if let Some(keys) = &raw.api_keys {
        for (i, k) in keys.value.iter().enumerate() {
            let at = format!("{path}.api_keys[{i}]");
            let Some(digest) = ctx.value(k, &at, api_key) else {
                continue;
            };
            let loc = ctx.at(k);
            if note(
                &mut seen.keys,
                digest,
                &c.name,
                loc,
                ctx,
                &at,
                "this API key",
            ) {
                c.api_keys.push(digest);
            }
        }
    }
    if let Some(users) = &raw.basic_auth {
        for (i, u) in users.value.iter().enumerate() {
            let at = format!("{path}.basic_auth[{i}]");
            if let Some(user) = basic_user(ctx, u, &at, &c.name, seen) {
                c.basic_auth.push(user);
            }
        }
    }
    if let Some(maps) = &raw.jwt {
        for (i, m) in maps.value.iter().enumerate() {
            let at = format!("{path}.jwt[{i}]");
            if let Some(mapping) = jwt_mapping(ctx, m, &at, &c.name, seen) {
                c.jwt.push(mapping);
            }
        }
    }
    if let Some(maps) = &raw.mtls {
        for (i, m) in maps.value.iter().enumerate() {
            let at = format!("{path}.mtls[{i}]");
            if let Some(mapping) = mtls_mapping(ctx, m, &at, &c.name, seen) {
                c.mtls.push(mapping);
            }
        }
    }
    c
}

/// Records `key` as `owner`'s; false (and an error naming the first
/// owner, never the secret) when another consumer or entry has it.
fn note<K: std::hash::Hash + Eq>(
    seen: &mut HashMap<K, (String, Loc)>,
    key: K,
    owner: &str,
    loc: Loc,
    ctx: &mut Ctx<'_>,
    path: &str,
    what: &str,
) -> bool {
    if let Some((first, first_loc)) = seen.get(&key) {
        let line = first_loc.map_or(String::new(), |(l, _)| format!(" (line {l})"));
        ctx.err(
            loc,
            path,
            format!("{what} is already a credential of consumer `{first}`{line}; a credential must identify one consumer"),
        );
        return false;
    }
    seen.insert(key, (owner.to_string(), loc));
    true
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(s.to_string())
}

/// A key as given, or `sha256:<64 hex digits>`, to its digest.
fn api_key(s: &str) -> Result<KeyDigest, String> {
    if let Some(hex) = s.strip_prefix("sha256:") {
        return parse_hex32(hex)
            .map(KeyDigest)
            .ok_or_else(|| "expected `sha256:` followed by 64 hexadecimal digits".to_string());
    }
    if s.is_empty() {
        return Err("an API key must not be empty".into());
    }
    Ok(KeyDigest::of(s.as_bytes()))
}

fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let digit = |b: u8| (b as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

fn basic_user(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawBasicUser>,
    path: &str,
    owner: &str,
    seen: &mut Seen,
) -> Option<BasicUser> {
    let here = ctx.at(raw);
    let user = ctx.required(&raw.value.username, here, &p(path, "username"));
    let hash = ctx.required(&raw.value.password_hash, here, &p(path, "password_hash"));
    let (user, hash) = (user?, hash?);
    if user.value.contains(':') {
        let loc = ctx.at(user);
        ctx.err(
            loc,
            &p(path, "username"),
            "a Basic user name cannot contain `:` (RFC 7617)",
        );
        return None;
    }
    let hash = ctx.value(hash, &p(path, "password_hash"), password_hash)?;
    let loc = ctx.at(user);
    let what = format!("user `{}`", user.value);
    note(
        &mut seen.users,
        user.value.clone(),
        owner,
        loc,
        ctx,
        &p(path, "username"),
        &what,
    )
    .then(|| BasicUser {
        username: user.value.clone(),
        hash,
    })
}

/// A bcrypt or argon2id hash; anything else (a plain password) is refused.
fn password_hash(s: &str) -> Result<PasswordHash, String> {
    let scheme = if ["$2a$", "$2b$", "$2y$"].iter().any(|p| s.starts_with(p)) {
        // `$2y$NN$` + 53 characters of salt and hash.
        if s.len() != 60 || !s[4..6].bytes().all(|b| b.is_ascii_digit()) {
            return Err("malformed bcrypt hash: expected 60 characters `$2y$NN$...`".into());
        }
        HashScheme::Bcrypt
    } else if s.starts_with("$argon2id$") {
        if s.split('$').count() != 6 {
            return Err(
                "malformed argon2id hash: expected `$argon2id$v=19$m=..,t=..,p=..$salt$hash`"
                    .into(),
            );
        }
        HashScheme::Argon2id
    } else {
        return Err("expected a bcrypt (`$2y$...`, `htpasswd -nB`) or argon2id (`$argon2id$...`) hash; plain passwords are refused".into());
    };
    Ok(PasswordHash {
        scheme,
        text: s.to_string(),
    })
}

fn jwt_mapping(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawJwtMapping>,
    path: &str,
    owner: &str,
    seen: &mut Seen,
) -> Option<JwtMapping> {
    let here = ctx.at(raw);
    let issuer = ctx.required(&raw.value.issuer, here, &p(path, "issuer"));
    let value = ctx.required(&raw.value.value, here, &p(path, "value"));
    let claim = match &raw.value.claim {
        Some(c) => ctx.value(c, &p(path, "claim"), non_empty)?,
        None => "sub".to_string(),
    };
    let (issuer, value) = (issuer?, value?);
    let m = JwtMapping {
        issuer: issuer.value.clone(),
        claim,
        value: value.value.clone(),
    };
    let key = (m.issuer.clone(), m.claim.clone(), m.value.clone());
    let what = format!("JWT `{}` = `{}` of issuer `{}`", m.claim, m.value, m.issuer);
    note(&mut seen.jwt, key, owner, here, ctx, path, &what).then_some(m)
}

fn mtls_mapping(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawMtlsMapping>,
    path: &str,
    owner: &str,
    seen: &mut Seen,
) -> Option<MtlsMapping> {
    let here = ctx.at(raw);
    let r = &raw.value;
    let given = [
        r.subject.as_ref().map(|_| "subject"),
        r.san.as_ref().map(|_| "san"),
    ];
    if !ctx.exactly_one(
        here,
        path,
        &given,
        "an mTLS mapping needs exactly one of `subject` or `san`",
    ) {
        return None;
    }
    let m = match (&r.subject, &r.san) {
        (Some(s), _) => MtlsMapping::Subject(ctx.value(s, &p(path, "subject"), non_empty)?),
        (_, Some(s)) => MtlsMapping::San(ctx.value(s, &p(path, "san"), non_empty)?),
        _ => return None,
    };
    let what = match &m {
        MtlsMapping::Subject(s) => format!("certificate subject `{s}`"),
        MtlsMapping::San(s) => format!("certificate name `{s}`"),
    };
    note(&mut seen.mtls, m.clone(), owner, here, ctx, path, &what).then_some(m)
}

fn identity_headers(ctx: &mut Ctx<'_>, raw: &RawIdentityHeaders) -> IdentityHeaders {
    let mut out = IdentityHeaders::default();
    let path = "identity_headers";
    out.name = ctx.field(&raw.name, &p(path, "name"), out.name, header_name);
    out.groups = ctx.field(&raw.groups, &p(path, "groups"), out.groups, header_name);
    if let Some(m) = &raw.metadata {
        for (k, v) in &m.value.0 {
            let at = format!("{path}.metadata.{}", k.value);
            if let Some(h) = ctx.value(v, &at, header_name) {
                out.metadata.push((k.value.clone(), h));
            }
        }
    }
    out
}
