//! Validation of upstreams: targets, protocol, timeouts and pool.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::time::Duration;

use http::Method;

use super::{absolute_path, header_name, p, resilience, Ctx};
use crate::raw::*;
use crate::typed::*;
use crate::units::{parse_bool, parse_percent};

/// Returns the upstream and its name when valid.
pub(super) fn upstream(
    ctx: &mut Ctx<'_>,
    item: &Sp<RawUpstream>,
    path: &str,
) -> (Upstream, Option<String>) {
    let raw = &item.value;
    let here = ctx.at(item);
    let name = ctx
        .required(&raw.name, here, &p(path, "name"))
        .map(|n| n.value.clone());
    let mut targets = Vec::new();
    match &raw.targets {
        None => ctx.err(
            here,
            &p(path, "targets"),
            "missing required field `targets`: list at least one target",
        ),
        Some(list) if list.value.is_empty() => {
            let loc = ctx.at(list);
            ctx.err(loc, &p(path, "targets"), "at least one target is required");
        }
        Some(list) => {
            for (i, t) in list.value.iter().enumerate() {
                let tpath = format!("{path}.targets[{i}]");
                let tloc = ctx.at(t);
                let address = ctx
                    .required(&t.value.address, tloc, &p(&tpath, "address"))
                    .and_then(|a| {
                        ctx.value(a, &p(&tpath, "address"), |s| {
                            check_host_port(s).map(|()| s.to_string())
                        })
                    });
                let weight = ctx.count(&t.value.weight, &p(&tpath, "weight"), 1, 1, 1000) as u32;
                targets.push(Target {
                    address: address.unwrap_or_default(),
                    weight,
                });
            }
        }
    }
    let protocol = ctx.field(
        &raw.protocol,
        &p(path, "protocol"),
        UpstreamProtocol::Http1,
        |s| match s {
            "http1" => Ok(UpstreamProtocol::Http1),
            "h2c" => Ok(UpstreamProtocol::H2c),
            "h2" => Ok(UpstreamProtocol::H2),
            _ => Err(format!("expected `http1`, `h2c` or `h2`, got `{s}`")),
        },
    );
    let tls = raw
        .tls
        .as_ref()
        .and_then(|t| super::tls::upstream_tls(ctx, t, &p(path, "tls")));
    super::tls::check_upstream_protocol(ctx, raw, here, path, protocol);
    let balance = balance(ctx, raw, item, path);
    let health = raw
        .health
        .as_ref()
        .and_then(|h| health(ctx, h, &p(path, "health")));
    let mut u = Upstream {
        name: name.clone().unwrap_or_default(),
        targets,
        protocol,
        connect_timeout: Duration::from_secs(5),
        response_header_timeout: Duration::from_secs(60),
        read_idle_timeout: Duration::from_secs(60),
        pool_max_idle: 64,
        pool_idle_timeout: Duration::from_secs(60),
        balance,
        health,
        retries: raw
            .retries
            .as_ref()
            .map(|r| resilience::retries(ctx, &r.value, &p(path, "retries"))),
        circuit_breaker: raw
            .circuit_breaker
            .as_ref()
            .map(|b| resilience::breaker(ctx, &b.value, &p(path, "circuit_breaker")))
            .unwrap_or_default(),
        sticky: raw
            .sticky
            .as_ref()
            .map(|st| resilience::sticky(ctx, st, &p(path, "sticky"))),
        slow_start: None,
        dns_refresh: ctx.timeout(
            &raw.dns_refresh,
            &p(path, "dns_refresh"),
            Duration::from_secs(30),
        ),
        proxy_protocol: None,
        tls,
    };
    if let Some(ss) = &raw.slow_start {
        let d = ctx.timeout(&raw.slow_start, &p(path, "slow_start"), Duration::ZERO);
        if u.health.is_none() && raw.health.is_none() {
            let loc = ctx.at(ss);
            ctx.err(
                loc,
                &p(path, "slow_start"),
                "`slow_start` needs a `health` section: it ramps up targets that come back",
            );
        } else if !d.is_zero() {
            u.slow_start = Some(d);
        }
    }
    if let Some(t) = &raw.timeouts {
        let tp = p(path, "timeouts");
        u.connect_timeout = ctx.timeout(&t.value.connect, &p(&tp, "connect"), u.connect_timeout);
        u.response_header_timeout = ctx.timeout(
            &t.value.response_header,
            &p(&tp, "response_header"),
            u.response_header_timeout,
        );
        u.read_idle_timeout = ctx.timeout(
            &t.value.read_idle,
            &p(&tp, "read_idle"),
            u.read_idle_timeout,
        );
    }
    if let Some(pool) = &raw.pool {
        let pp = p(path, "pool");
        u.pool_max_idle = ctx.count(
            &pool.value.max_idle,
            &p(&pp, "max_idle"),
            64,
            0,
            usize::MAX as u64,
        ) as usize;
        u.pool_idle_timeout = ctx.timeout(
            &pool.value.idle_timeout,
            &p(&pp, "idle_timeout"),
            u.pool_idle_timeout,
        );
    }
    (u, name)
}

/// The algorithms `balance` accepts, as written.
const ALGORITHMS: &str =
    "`round_robin`, `least_connections`, `least_request`, `random`, `ip_hash` or `consistent_hash`";

/// `balance` and `hash_on`: `hash_on` is required for `consistent_hash`
/// and forbidden otherwise.
fn balance(ctx: &mut Ctx<'_>, raw: &RawUpstream, item: &Sp<RawUpstream>, path: &str) -> Balance {
    // `None` when invalid; `Some(None)` for consistent_hash, whose key
    // comes from `hash_on`.
    let simple = match &raw.balance {
        None => Some(Some(Balance::RoundRobin)),
        Some(_) => ctx.field(&raw.balance, &p(path, "balance"), None, |s| match s {
            "round_robin" => Ok(Some(Some(Balance::RoundRobin))),
            "least_connections" => Ok(Some(Some(Balance::LeastConnections))),
            "least_request" => Ok(Some(Some(Balance::LeastRequest))),
            "random" => Ok(Some(Some(Balance::Random))),
            "ip_hash" => Ok(Some(Some(Balance::IpHash))),
            "consistent_hash" => Ok(Some(None)),
            _ => Err(format!("unknown algorithm `{s}`: expected {ALGORITHMS}")),
        }),
    };
    let hpath = p(path, "hash_on");
    match (simple, &raw.hash_on) {
        // An invalid `balance` was reported; `hash_on` is still checked.
        (None, Some(h)) => {
            hash_on(ctx, h, &hpath);
            Balance::RoundRobin
        }
        (None, None) => Balance::RoundRobin,
        (Some(Some(b)), None) => b,
        (Some(Some(b)), Some(h)) => {
            let loc = ctx.at(h);
            let shown = if raw.balance.is_some() {
                format!("`balance: {}`", b.name())
            } else {
                format!("the default `balance: {}`", b.name())
            };
            ctx.err(
                loc,
                &hpath,
                format!(
                    "`hash_on` is only allowed with `balance: consistent_hash`, not with {shown}"
                ),
            );
            b
        }
        (Some(None), None) => {
            let loc = raw
                .balance
                .as_ref()
                .map_or_else(|| ctx.at(item), |b| ctx.at(b));
            ctx.err(
                loc,
                &hpath,
                "missing required field `hash_on`: `balance: consistent_hash` needs a key, one of `{header: Name}`, `{cookie: name}`, `{query: name}`, `{client_ip: true}` or `{path: true}`",
            );
            Balance::RoundRobin
        }
        (Some(None), Some(h)) => match hash_on(ctx, h, &hpath) {
            Some(on) => Balance::ConsistentHash(on),
            None => Balance::RoundRobin,
        },
    }
}

/// `hash_on`: exactly one of `header`, `cookie`, `query`, `client_ip: true`, `path: true`.
fn hash_on(ctx: &mut Ctx<'_>, h: &Sp<RawHashOn>, path: &str) -> Option<HashOn> {
    let raw = &h.value;
    let given = [
        raw.header.as_ref().map(|_| "header"),
        raw.cookie.as_ref().map(|_| "cookie"),
        raw.query.as_ref().map(|_| "query"),
        raw.client_ip.as_ref().map(|_| "client_ip"),
        raw.path.as_ref().map(|_| "path"),
    ];
    let loc = ctx.at(h);
    let needs =
        "`hash_on` needs exactly one of `header`, `cookie`, `query`, `client_ip: true` or `path: true`";
    if !ctx.exactly_one(loc, path, &given, needs) {
        return None;
    }
    let non_empty = |what: &str, s: &str| {
        if s.is_empty() {
            Err(format!("the {what} name must not be empty"))
        } else {
            Ok(())
        }
    };
    let flag = |field: &'static str, on: HashOn| {
        move |s: &str| match parse_bool(s)? {
            true => Ok(Some(on)),
            false => Err(format!(
                "`{field}: false` is not supported; write `{field}: true` or choose another key"
            )),
        }
    };
    if raw.header.is_some() {
        ctx.field(&raw.header, &p(path, "header"), None, |s| {
            non_empty("header", s)?;
            header_name(s).map(|n| Some(HashOn::Header(n)))
        })
    } else if raw.cookie.is_some() {
        ctx.field(&raw.cookie, &p(path, "cookie"), None, |s| {
            non_empty("cookie", s)?;
            if s.bytes().any(|b| b <= b' ' || b >= 0x7f || b"=;,\"".contains(&b)) {
                return Err(format!(
                    "invalid cookie name `{}`: no spaces, control characters, `=`, `;`, `,` or quotes",
                    s.escape_debug()
                ));
            }
            Ok(Some(HashOn::Cookie(s.to_string())))
        })
    } else if raw.query.is_some() {
        ctx.field(&raw.query, &p(path, "query"), None, |s| {
            non_empty("query parameter", s)?;
            Ok(Some(HashOn::Query(s.to_string())))
        })
    } else if raw.client_ip.is_some() {
        ctx.field(
            &raw.client_ip,
            &p(path, "client_ip"),
            None,
            flag("client_ip", HashOn::ClientIp),
        )
    } else {
        ctx.field(
            &raw.path,
            &p(path, "path"),
            None,
            flag("path", HashOn::Path),
        )
    }
}

/// `health`: `active`, `passive` (at least one) and `when_all_down`.
fn health(ctx: &mut Ctx<'_>, h: &Sp<RawHealth>, path: &str) -> Option<Health> {
    let raw = &h.value;
    if raw.active.is_none() && raw.passive.is_none() {
        let loc = ctx.at(h);
        ctx.err(
            loc,
            path,
            "`health` needs `active`, `passive` or both: e.g. `active: {type: http, path: /health}`",
        );
    }
    let when_all_down = ctx.field(
        &raw.when_all_down,
        &p(path, "when_all_down"),
        WhenAllDown::Fail,
        |s| match s {
            "fail" => Ok(WhenAllDown::Fail),
            "panic" => Ok(WhenAllDown::Panic),
            _ => Err(format!("expected `fail` or `panic`, got `{s}`")),
        },
    );
    let active = raw
        .active
        .as_ref()
        .and_then(|a| active_health(ctx, a, &p(path, "active")));
    let passive = raw
        .passive
        .as_ref()
        .and_then(|a| passive_health(ctx, a, &p(path, "passive")));
    if active.is_none() && passive.is_none() {
        return None;
    }
    Some(Health {
        active,
        passive,
        when_all_down,
    })
}

/// `health.active`.
fn active_health(ctx: &mut Ctx<'_>, a: &Sp<RawActiveHealth>, path: &str) -> Option<ActiveHealth> {
    let raw = &a.value;
    let errors_before = ctx.errors.len();
    let http = ctx.field(&raw.kind, &p(path, "type"), true, |s| match s {
        "http" => Ok(true),
        "tcp" => Ok(false),
        _ => Err(format!("expected `http` or `tcp`, got `{s}`")),
    });
    let probe = if http {
        let method = ctx.field(&raw.method, &p(path, "method"), Method::GET, |s| {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!(
                    "invalid method `{}`: use an uppercase method such as `GET` or `HEAD`",
                    s.escape_debug()
                ));
            }
            Method::from_bytes(s.as_bytes()).map_err(|_| format!("invalid method `{s}`"))
        });
        let probe_path = ctx.field(&raw.path, &p(path, "path"), "/".to_string(), |s| {
            let s = absolute_path(s)?;
            if s.bytes().any(|b| b <= b' ' || b >= 0x7f) {
                return Err(format!(
                    "invalid path `{}`: no spaces or control characters (percent-encode them)",
                    s.escape_debug()
                ));
            }
            Ok(s)
        });
        let host = ctx.field(&raw.host, &p(path, "host"), None, |s| {
            if s.is_empty() {
                return Err("must not be empty".into());
            }
            if s.bytes().any(|b| b <= b' ' || b >= 0x7f) {
                return Err(format!(
                    "invalid host `{}`: no spaces or control characters",
                    s.escape_debug()
                ));
            }
            Ok(Some(s.to_string()))
        });
        let expect = match &raw.expect {
            None => vec![(200, 399)],
            Some(list) if list.value.is_empty() => {
                let loc = ctx.at(list);
                ctx.err(
                    loc,
                    &p(path, "expect"),
                    "list at least one status, e.g. `[200, 204]` or `[200-299]`",
                );
                vec![(200, 399)]
            }
            Some(list) => ctx.each(list, &p(path, "expect"), status_range),
        };
        Probe::Http {
            method,
            path: probe_path,
            host,
            expect,
        }
    } else {
        for (field, given) in [
            ("path", raw.path.is_some()),
            ("method", raw.method.is_some()),
            ("host", raw.host.is_some()),
            ("expect", raw.expect.is_some()),
        ] {
            if given {
                let loc = ctx.at(a);
                ctx.err(
                    loc,
                    &p(path, field),
                    format!("`{field}` is only allowed with `type: http`, not with `type: tcp`"),
                );
            }
        }
        Probe::Tcp
    };
    let interval = ctx.timeout(&raw.interval, &p(path, "interval"), Duration::from_secs(5));
    let jitter_percent = ctx.field(&raw.jitter, &p(path, "jitter"), 10, |s| {
        let n = parse_percent(s)?;
        if n > 50 {
            return Err(format!("must be between 0% and 50%, got `{s}`"));
        }
        Ok(n)
    });
    let timeout = ctx.timeout(&raw.timeout, &p(path, "timeout"), Duration::from_secs(1));
    let healthy = ctx.count(&raw.healthy, &p(path, "healthy"), 2, 1, 1000) as u32;
    let unhealthy = ctx.count(&raw.unhealthy, &p(path, "unhealthy"), 3, 1, 1000) as u32;
    if ctx.errors.len() != errors_before {
        return None;
    }
    Some(ActiveHealth {
        probe,
        interval,
        jitter_percent,
        timeout,
        healthy,
        unhealthy,
    })
}

/// `health.passive`.
fn passive_health(
    ctx: &mut Ctx<'_>,
    a: &Sp<RawPassiveHealth>,
    path: &str,
) -> Option<PassiveHealth> {
    let raw = &a.value;
    let errors_before = ctx.errors.len();
    let consecutive_failures = ctx.count(
        &raw.consecutive_failures,
        &p(path, "consecutive_failures"),
        5,
        1,
        1_000_000,
    ) as u32;
    let eject_for = ctx.timeout(
        &raw.eject_for,
        &p(path, "eject_for"),
        Duration::from_secs(30),
    );
    let max_eject_for = ctx.timeout(
        &raw.max_eject_for,
        &p(path, "max_eject_for"),
        Duration::from_secs(300).max(eject_for),
    );
    let max_ejected_percent = ctx.field(&raw.max_ejected, &p(path, "max_ejected"), 50, |s| {
        let n = parse_percent(s)?;
        if n > 100 {
            return Err(format!("must be between 0% and 100%, got `{s}`"));
        }
        Ok(n)
    });
    if ctx.errors.len() != errors_before {
        return None;
    }
    if max_eject_for < eject_for {
        let loc = raw
            .max_eject_for
            .as_ref()
            .map_or_else(|| ctx.at(a), |m| ctx.at(m));
        ctx.err(
            loc,
            &p(path, "max_eject_for"),
            "must be at least `eject_for`",
        );
        return None;
    }
    Some(PassiveHealth {
        consecutive_failures,
        eject_for,
        max_eject_for,
        max_ejected_percent,
    })
}

/// A status `200` or an inclusive range `200-299`, within 100..=599.
fn status_range(s: &str) -> Result<(u16, u16), String> {
    let usage = "use a status such as `200` or a range such as `200-299`, within 100..=599";
    let code = |t: &str| match t.trim().parse::<u16>() {
        Ok(c) if (100..=599).contains(&c) && t.trim().len() == 3 => Ok(c),
        _ => Err(format!("invalid status `{s}`; {usage}")),
    };
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (code(a)?, code(b)?),
        None => {
            let c = code(s)?;
            (c, c)
        }
    };
    if lo > hi {
        return Err(format!(
            "invalid range `{s}`: the first status is larger than the second; {usage}"
        ));
    }
    Ok((lo, hi))
}

/// Checks `host:port` where host is a DNS name, an IPv4 address or `[IPv6]`.
fn check_host_port(s: &str) -> Result<(), String> {
    let usage =
        "expected host:port such as `127.0.0.1:9001`, `users.internal:80` or `\"[::1]:9001\"`";
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(format!("invalid address `{s}`: missing port; {usage}"));
    };
    match port.parse::<u16>() {
        Ok(0) | Err(_) => {
            return Err(format!(
                "invalid port `{port}` in `{s}`: expected 1..=65535; {usage}"
            ))
        }
        Ok(_) => {}
    }
    if let Some(inner) = host.strip_prefix('[') {
        let ok = inner
            .strip_suffix(']')
            .is_some_and(|ip| Ipv6Addr::from_str(ip).is_ok());
        return if ok {
            Ok(())
        } else {
            Err(format!("invalid IPv6 address in `{s}`; {usage}"))
        };
    }
    if host.contains(':') {
        return Err(format!(
            "invalid address `{s}`: IPv6 addresses must be in brackets; {usage}"
        ));
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels
        .iter()
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Ipv4Addr::from_str(host)
            .map(drop)
            .map_err(|_| format!("invalid IPv4 address in `{s}`; {usage}"));
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.len() > 253 || !labels.iter().all(label_ok) {
        return Err(format!("invalid host name `{host}` in `{s}`; {usage}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port() {
        for ok in [
            "127.0.0.1:9001",
            "users.internal:80",
            "[::1]:9001",
            "localhost:1",
            "a_b-c.x:65535",
        ] {
            assert_eq!(check_host_port(ok), Ok(()), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "host:0",
            "host:70000",
            "::1:80",
            "[::1:80",
            "[zz]:80",
            "999.1.1.1:80",
            "a..b:80",
            "-a:80",
            ":80",
        ] {
            assert!(check_host_port(bad).is_err(), "{bad}");
        }
    }
}
