//! `redis:`: the shared store's servers (`url`, `urls`, or `urls` with
//! `sentinel`), credentials and the time a decision may wait for it.
//! Credentials go in `username` / `password` (so `/config` redacts them),
//! never inside a URL.

use std::time::Duration;

use super::Ctx;
use crate::raw::{RawRedis, Sp};
use crate::typed::{Redis, RedisServers};

/// How long a decision waits for Redis unless `timeout` says otherwise.
const TIMEOUT: Duration = Duration::from_millis(20);
/// Multiplexed connections per process unless `pool` says otherwise.
const POOL: u64 = 2;

/// Validates `redis:`; absent means no shared store.
pub(super) fn redis(ctx: &mut Ctx<'_>, raw: Option<&Sp<RawRedis>>) -> Option<Redis> {
    let raw = raw?;
    let r = &raw.value;
    let here = ctx.at(raw);
    let given = [
        r.url.as_ref().map(|_| "url"),
        r.urls.as_ref().map(|_| "urls"),
    ];
    let one = ctx.exactly_one(
        here,
        "redis",
        &given,
        "`redis` needs exactly one of `url` (one server) or `urls` (cluster seeds, or sentinels with `sentinel`)",
    );
    let mut schemes_tls = Vec::new();
    let mut addr = |ctx: &mut Ctx<'_>, s: &Sp<String>, path: &str| {
        let parsed = ctx.value(s, path, server_url)?;
        schemes_tls.push(parsed.1);
        Some(parsed.0)
    };
    let url = r.url.as_ref().and_then(|u| addr(ctx, u, "redis.url"));
    let urls: Option<Vec<String>> = r.urls.as_ref().map(|list| {
        let mut out = Vec::new();
        for (i, u) in list.value.iter().enumerate() {
            out.extend(addr(ctx, u, &format!("redis.urls[{i}]")));
        }
        if list.value.is_empty() {
            let loc = ctx.at(list);
            ctx.err(loc, "redis.urls", "list at least one server");
        }
        out
    });
    let master = r.sentinel.as_ref().map(|s| {
        let loc = ctx.at(s);
        ctx.required(&s.value.master, loc, "redis.sentinel.master")
            .map(|m| m.value.clone())
    });
    let servers = match (url, urls, master) {
        (Some(u), None, None) => Some(RedisServers::Standalone(u)),
        (None, Some(u), None) => Some(RedisServers::Cluster(u)),
        (None, Some(u), Some(Some(master))) => Some(RedisServers::Sentinel {
            master,
            sentinels: u,
        }),
        (Some(_), _, Some(_)) if one => {
            ctx.err(
                here,
                "redis.sentinel",
                "`sentinel` lists its sentinels in `urls`, e.g. `urls: [redis://10.0.0.1:26379]`",
            );
            None
        }
        // Reported already: a bad URL where it was written, or not one
        // of `url` and `urls`.
        _ => None,
    };
    let from_scheme = schemes_tls.iter().any(|t| *t);
    if schemes_tls.iter().any(|t| *t != from_scheme) {
        ctx.err(
            here,
            "redis.urls",
            "use one scheme for every server: all `redis://` or all `rediss://`",
        );
    }
    let tls = ctx.field(&r.tls, "redis.tls", from_scheme, crate::units::parse_bool);
    let username = text(&r.username);
    let password = text(&r.password);
    let database = ctx.count(&r.database, "redis.database", 0, 0, 1_000_000) as i64;
    if database != 0 && matches!(servers, Some(RedisServers::Cluster(_))) {
        let loc = r.database.as_ref().map_or(here, |d| ctx.at(d));
        ctx.err(loc, "redis.database", "a Redis Cluster has only database 0");
    }
    let pool = ctx.count(&r.pool, "redis.pool", POOL, 1, 64) as usize;
    let timeout = ctx.timeout(&r.timeout, "redis.timeout", TIMEOUT);
    Some(Redis {
        servers: servers?,
        tls,
        username,
        password,
        database,
        pool,
        timeout,
    })
}

fn text(raw: &Option<Sp<String>>) -> Option<String> {
    raw.as_ref()
        .map(|s| s.value.clone())
        .filter(|s| !s.is_empty())
}

/// `redis://host:port` or `rediss://host:port` (TLS) → (`host:port`, tls).
/// Credentials, a database or options in the URL are refused: they have
/// their own fields.
pub(crate) fn server_url(s: &str) -> Result<(String, bool), String> {
    let (rest, tls) = if let Some(r) = s.strip_prefix("redis://") {
        (r, false)
    } else if let Some(r) = s.strip_prefix("rediss://") {
        (r, true)
    } else {
        return Err(format!(
            "expected `redis://host:port` or `rediss://host:port`, got `{s}`"
        ));
    };
    if rest.contains('@') {
        return Err("put credentials in `username` and `password`, not in the URL".to_string());
    }
    let host_port = rest.strip_suffix('/').unwrap_or(rest);
    if host_port.contains(['/', '?', '#']) {
        return Err(format!(
            "expected `redis://host:port` with nothing after the port (use `database` for a database), got `{s}`"
        ));
    }
    let port_ok = host_port
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
    if !port_ok {
        return Err(format!("expected `host:port` after the scheme, got `{s}`"));
    }
    Ok((host_port.to_string(), tls))
}
