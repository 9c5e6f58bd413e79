//! Validation of the `cache` policy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};
use ipnet::IpNet;

use super::super::{header_name, net, p, Ctx};
use crate::raw::*;
use crate::typed::*;
use crate::units::{parse_bool, parse_duration, parse_percent};

/// Largest `max_object_size`: a stored object's weight must fit the store's
/// 32-bit accounting.
const MAX_OBJECT: u64 = 1 << 30;

/// `cache:` → [`CachePolicy`], defaults filled in.
pub(super) fn cache(ctx: &mut Ctx<'_>, raw: &Sp<RawCache>, path: &str) -> Arc<CachePolicy> {
    let r = &raw.value;
    let max_size = ctx.size(
        &r.max_size,
        &p(path, "max_size"),
        256 << 20,
        1 << 20,
        u64::MAX,
    );
    let max_object_size = ctx.size(
        &r.max_object_size,
        &p(path, "max_object_size"),
        8 << 20,
        0,
        MAX_OBJECT,
    );
    if max_object_size > max_size {
        let loc = r
            .max_object_size
            .as_ref()
            .map_or(ctx.at(raw), |v| ctx.at(v));
        ctx.err(
            loc,
            &p(path, "max_object_size"),
            "must not be larger than `max_size`",
        );
    }
    let key = r
        .key
        .as_ref()
        .map(|k| cache_key(ctx, &k.value, &p(path, "key")))
        .unwrap_or_default();
    let (heuristic_percent, heuristic_max) = match &r.heuristic {
        None => (10, Duration::from_secs(24 * 3600)),
        Some(h) => {
            let at = p(path, "heuristic");
            let percent = ctx.field(&h.value.fraction, &p(&at, "fraction"), 10, parse_percent);
            let max = ctx.field(
                &h.value.max,
                &p(&at, "max"),
                Duration::from_secs(24 * 3600),
                parse_duration,
            );
            (percent, max)
        }
    };
    let store_set_cookie = ctx.field(
        &r.store_set_cookie,
        &p(path, "store_set_cookie"),
        false,
        parse_bool,
    );
    let lock_timeout = ctx.field(
        &r.lock_timeout,
        &p(path, "lock_timeout"),
        Duration::from_secs(5),
        parse_duration,
    );
    let targeted_cache_control = match &r.targeted_cache_control {
        None => vec![HeaderName::from_static("cdn-cache-control")],
        Some(list) => ctx.each(list, &p(path, "targeted_cache_control"), header_name),
    };
    let purge = r
        .purge
        .as_ref()
        .map(|pg| purge(ctx, &pg.value, &p(path, "purge")));
    Arc::new(CachePolicy {
        max_size,
        max_object_size,
        key,
        heuristic_percent,
        heuristic_max,
        store_set_cookie,
        lock_timeout,
        purge,
        targeted_cache_control,
    })
}

/// Query parameter or cookie names.
fn names(ctx: &mut Ctx<'_>, list: &Sp<Vec<Sp<String>>>, at: &str) -> Vec<String> {
    ctx.each(list, at, |s| {
        if s.is_empty()
            || s.bytes()
                .any(|b| b <= b' ' || b == b'&' || b == b'=' || b == b';' || b == 0x7f)
        {
            return Err(format!("invalid name `{}`", s.escape_debug()));
        }
        Ok(s.to_owned())
    })
}

fn cache_key(ctx: &mut Ctx<'_>, raw: &RawCacheKey, path: &str) -> CacheKey {
    let mut key = CacheKey::default();
    if let Some(q) = &raw.query {
        let at = p(path, "query");
        key.query = match &q.value {
            RawQueryKey::All => QueryKey::All,
            RawQueryKey::None => QueryKey::None,
            RawQueryKey::Include(list) => QueryKey::Include(names(ctx, list, &p(&at, "include"))),
            RawQueryKey::Exclude(list) => QueryKey::Exclude(names(ctx, list, &p(&at, "exclude"))),
        };
    }
    if let Some(list) = &raw.headers {
        key.headers = ctx.each(list, &p(path, "headers"), header_name);
    }
    if let Some(list) = &raw.cookies {
        key.cookies = names(ctx, list, &p(path, "cookies"));
    }
    key
}

fn purge(ctx: &mut Ctx<'_>, raw: &RawPurge, path: &str) -> Purge {
    let default = Method::from_bytes(b"PURGE").unwrap_or(Method::DELETE);
    let method = ctx.field(&raw.method, &p(path, "method"), default, |s| {
        let m = Method::from_bytes(s.as_bytes())
            .map_err(|_| format!("invalid method `{s}`: expected a token such as PURGE"))?;
        if matches!(m, Method::GET | Method::HEAD) {
            return Err(format!(
                "`{s}` cannot purge: it is how cached answers are read"
            ));
        }
        if s.bytes().any(|b| b.is_ascii_lowercase()) {
            return Err(format!(
                "methods are case-sensitive: write `{}`, not `{s}`",
                s.to_ascii_uppercase()
            ));
        }
        Ok(m)
    });
    let mut allow = vec![
        IpNet::from(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        IpNet::from(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    if let Some(list) = &raw.allow {
        allow = ctx.each(list, &p(path, "allow"), net);
    }
    Purge { method, allow }
}
