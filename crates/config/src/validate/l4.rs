//! Validation of L4 listeners (`tcp`, `tls_passthrough`, `udp`) and of the
//! PROXY protocol settings: the listeners' own fields, the HTTP-only fields
//! they must not have, and what they require of the upstreams they use.
//! Runs after upstreams and routes are validated (it needs both).

use std::collections::HashMap;
use std::time::Duration;

use super::route::host_pattern;
use super::{net, p, Ctx, Loc};
use crate::raw::*;
use crate::typed::*;
use crate::units::parse_bool;

/// Relays with no traffic for this long are closed (haproxy's `timeout client`).
const TCP_IDLE: Duration = Duration::from_secs(600);
/// UDP sessions with no datagram for this long are forgotten.
const UDP_IDLE: Duration = Duration::from_secs(30);
const MAX_SESSIONS: u64 = 10_000;

/// The L4 part of a whole file: fills `Listener::l4`, `Listener::proxy_protocol`
/// and `Upstream::proxy_protocol`, and checks how they fit together.
pub(super) fn check(
    ctx: &mut Ctx<'_>,
    raw: &RawConfig,
    listeners: &mut [Listener],
    upstreams: &mut [Upstream],
    routes: &[Route],
) {
    let raw_listeners: &[Sp<RawListener>] = raw.listeners.as_ref().map_or(&[], |l| &l.value);
    let raw_upstreams: &[Sp<RawUpstream>] = raw.upstreams.as_ref().map_or(&[], |l| &l.value);
    for (i, item) in raw_upstreams.iter().enumerate() {
        if let Some(u) = upstreams.get_mut(i) {
            u.proxy_protocol = ctx.field(
                &item.value.proxy_protocol,
                &format!("upstreams[{i}].proxy_protocol"),
                None,
                |s| match s {
                    "v1" => Ok(Some(ProxyProtocolVersion::V1)),
                    "v2" => Ok(Some(ProxyProtocolVersion::V2)),
                    _ => Err(format!("expected `v1` or `v2`, got `{s}`")),
                },
            );
        }
    }
    let names: Vec<&str> = upstreams.iter().map(|u| u.name.as_str()).collect();
    for (i, item) in raw_listeners.iter().enumerate() {
        let Some(listener) = listeners.get_mut(i) else {
            continue;
        };
        let path = format!("listeners[{i}]");
        listener.proxy_protocol = accept_proxy(ctx, &item.value, listener.protocol, &path);
        if listener.protocol.is_l4() {
            listener.l4 = Some(l4_listener(ctx, item, listener.protocol, &path, &names));
        } else {
            no_l4_fields(ctx, &item.value, &path);
        }
    }
    upstream_constraints(ctx, raw_upstreams, listeners, upstreams, routes);
    route_constraints(ctx, raw, listeners, upstreams, routes);
}

/// `proxy_protocol: {trusted: [...]}` of a listener.
fn accept_proxy(
    ctx: &mut Ctx<'_>,
    raw: &RawListener,
    protocol: ListenerProtocol,
    path: &str,
) -> Vec<ipnet::IpNet> {
    let Some(pp) = &raw.proxy_protocol else {
        return Vec::new();
    };
    let ppath = p(path, "proxy_protocol");
    if protocol == ListenerProtocol::Udp {
        let loc = ctx.at(pp);
        ctx.err(
            loc,
            &ppath,
            "PROXY protocol headers are not read on `udp` listeners (only `http`, `https`, `tcp` and `tls_passthrough`)",
        );
        return Vec::new();
    }
    match &pp.value.trusted {
        None => {
            let loc = ctx.at(pp);
            ctx.err(
                loc,
                &p(&ppath, "trusted"),
                "missing required field `trusted`: list the proxies that send PROXY headers, e.g. `[10.0.0.0/8]`",
            );
        }
        Some(list) if list.value.is_empty() => {
            let loc = ctx.at(list);
            ctx.err(
                loc,
                &p(&ppath, "trusted"),
                "list at least one CIDR or IP address (leave out `proxy_protocol` to read no PROXY headers)",
            );
        }
        Some(list) => return ctx.each(list, &p(&ppath, "trusted"), net),
    }
    Vec::new()
}

/// Reports each L4-only field written on an HTTP listener.
fn no_l4_fields(ctx: &mut Ctx<'_>, raw: &RawListener, path: &str) {
    let sni = raw.sni.as_ref().map(|s| ctx.at(s));
    let fields = [
        ("upstream", raw.upstream.as_ref().map(|s| ctx.at(s))),
        ("sni", sni),
        ("idle_timeout", raw.idle_timeout.as_ref().map(|s| ctx.at(s))),
        ("max_sessions", raw.max_sessions.as_ref().map(|s| ctx.at(s))),
    ];
    for (field, loc) in fields {
        if let Some(loc) = loc {
            ctx.err(
                loc,
                &p(path, field),
                format!("`{field}` is only allowed on `tcp`, `tls_passthrough` and `udp` listeners; an `http` listener sends each request where its routes say"),
            );
        }
    }
    if let Some(a) = &raw.access_log {
        let loc = ctx.at(a);
        ctx.err(
            loc,
            &p(path, "access_log"),
            "`access_log` is only allowed on `tcp`, `tls_passthrough` and `udp` listeners; requests on an `http` listener are logged as the top-level `access_log` says",
        );
    }
}

/// The L4 settings of a `tcp`, `tls_passthrough` or `udp` listener, and
/// errors for the HTTP-only fields written on it.
fn l4_listener(
    ctx: &mut Ctx<'_>,
    item: &Sp<RawListener>,
    protocol: ListenerProtocol,
    path: &str,
    upstreams: &[&str],
) -> L4Listener {
    let raw = &item.value;
    let here = ctx.at(item);
    let kind = protocol.name();
    if let Some(t) = &raw.trusted_proxies {
        let loc = ctx.at(t);
        ctx.err(
            loc,
            &p(path, "trusted_proxies"),
            format!("`trusted_proxies` is only allowed on `http` listeners: a `{kind}` listener reads no forwarding headers (`proxy_protocol` learns client addresses from a proxy in front)"),
        );
    }
    if let Some(h) = &raw.http2 {
        let loc = ctx.at(h);
        ctx.err(
            loc,
            &p(path, "http2"),
            format!("`http2` is only allowed on `http` listeners, not on a `{kind}` listener"),
        );
    }
    if let Some(limits) = &raw.limits {
        http_only_limits(ctx, limits, protocol, &p(path, "limits"));
    }
    // `ip_filter` and `per_client.max_connections` apply at accept on every
    // listener; a request rate means nothing where there are no requests.
    if let Some(pc) = &raw.per_client {
        let rate = [
            ("rate", pc.value.rate.as_ref().map(|v| ctx.at(v))),
            ("burst", pc.value.burst.as_ref().map(|v| ctx.at(v))),
        ];
        for (field, loc) in rate {
            if let Some(loc) = loc {
                ctx.err(
                    loc,
                    &format!("{}.{field}", p(path, "per_client")),
                    format!("`per_client.{field}` limits HTTP requests; a `{kind}` listener has none (`per_client.max_connections` applies)"),
                );
            }
        }
    }
    let http_fields = [
        (
            "normalize_path",
            raw.normalize_path.as_ref().map(|v| ctx.at(v)),
        ),
        (
            "encoded_slash",
            raw.encoded_slash.as_ref().map(|v| ctx.at(v)),
        ),
        (
            "keep_underscore_headers",
            raw.keep_underscore_headers.as_ref().map(|v| ctx.at(v)),
        ),
        (
            "redirect_https",
            raw.redirect_https.as_ref().map(|v| ctx.at(v)),
        ),
    ];
    for (field, loc) in http_fields {
        if let Some(loc) = loc {
            ctx.err(
                loc,
                &p(path, field),
                format!("`{field}` is about HTTP requests; a `{kind}` listener relays bytes"),
            );
        }
    }
    if protocol != ListenerProtocol::TlsPassthrough {
        if let Some(s) = &raw.sni {
            let loc = ctx.at(s);
            ctx.err(
                loc,
                &p(path, "sni"),
                format!("`sni` is only allowed on `tls_passthrough` listeners, not on a `{kind}` listener"),
            );
        }
    }
    if protocol != ListenerProtocol::Udp {
        if let Some(m) = &raw.max_sessions {
            let loc = ctx.at(m);
            ctx.err(
                loc,
                &p(path, "max_sessions"),
                format!("`max_sessions` is only allowed on `udp` listeners; a `{kind}` listener is bounded by `limits.max_connections`"),
            );
        }
    }
    let upstream = raw
        .upstream
        .as_ref()
        .and_then(|u| ctx.reference("upstream", u, &p(path, "upstream"), upstreams));
    let sni = match &raw.sni {
        Some(list) if protocol == ListenerProtocol::TlsPassthrough => {
            sni_routes(ctx, list, &p(path, "sni"), upstreams)
        }
        _ => Vec::new(),
    };
    let tls = protocol == ListenerProtocol::TlsPassthrough;
    if tls && raw.sni.is_none() && raw.upstream.is_none() {
        ctx.err(
            here,
            &p(path, "sni"),
            "a `tls_passthrough` listener needs `sni` routes, a default `upstream`, or both",
        );
    } else if !tls && raw.upstream.is_none() {
        ctx.err(
            here,
            &p(path, "upstream"),
            format!("missing required field `upstream`: a `{kind}` listener relays to the targets of one upstream"),
        );
    }
    let default_idle = if protocol == ListenerProtocol::Udp {
        UDP_IDLE
    } else {
        TCP_IDLE
    };
    L4Listener {
        upstream,
        sni,
        idle_timeout: ctx.timeout(&raw.idle_timeout, &p(path, "idle_timeout"), default_idle),
        max_sessions: ctx.count(
            &raw.max_sessions,
            &p(path, "max_sessions"),
            MAX_SESSIONS,
            1,
            usize::MAX as u64,
        ) as usize,
        access_log: ctx.field(&raw.access_log, &p(path, "access_log"), true, parse_bool),
    }
}

/// `limits` of an L4 listener: only `max_connections` and
/// `header_read_timeout` mean something there (and nothing on `udp`).
fn http_only_limits(
    ctx: &mut Ctx<'_>,
    limits: &Sp<RawLimits>,
    protocol: ListenerProtocol,
    path: &str,
) {
    if protocol == ListenerProtocol::Udp {
        let loc = ctx.at(limits);
        ctx.err(
            loc,
            path,
            "`limits` is not allowed on `udp` listeners; `max_sessions` bounds their sessions",
        );
        return;
    }
    let l = &limits.value;
    for (field, given) in [
        ("max_header_bytes", &l.max_header_bytes),
        ("max_headers", &l.max_headers),
        ("max_uri_length", &l.max_uri_length),
        ("keepalive_timeout", &l.keepalive_timeout),
        ("send_timeout", &l.send_timeout),
        ("min_send_rate", &l.min_send_rate),
        ("send_rate_window", &l.send_rate_window),
    ] {
        if let Some(v) = given {
            let loc = ctx.at(v);
            ctx.err(
                loc,
                &p(path, field),
                format!(
                    "`{field}` applies to `http` listeners only; a `{}` listener takes `max_connections` and `header_read_timeout`",
                    protocol.name()
                ),
            );
        }
    }
}

/// `sni:` routes: each has `hosts` (no name twice in the listener) and an `upstream`.
fn sni_routes(
    ctx: &mut Ctx<'_>,
    list: &Sp<Vec<Sp<RawSniRoute>>>,
    path: &str,
    upstreams: &[&str],
) -> Vec<SniRoute> {
    if list.value.is_empty() {
        let loc = ctx.at(list);
        ctx.err(
            loc,
            path,
            "list at least one route such as `{hosts: [api.example.com], upstream: api}`, or leave out `sni`",
        );
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, item) in list.value.iter().enumerate() {
        let rpath = format!("{path}[{i}]");
        let here = ctx.at(item);
        let mut hosts = Vec::new();
        match &item.value.hosts {
            None => ctx.err(
                here,
                &p(&rpath, "hosts"),
                "missing required field `hosts`: server names such as `[api.example.com, \"*.example.com\"]`",
            ),
            Some(h) if h.value.is_empty() => {
                let loc = ctx.at(h);
                ctx.err(loc, &p(&rpath, "hosts"), "list at least one server name");
            }
            Some(h) => {
                for (j, name) in h.value.iter().enumerate() {
                    let hpath = format!("{rpath}.hosts[{j}]");
                    let pattern = ctx.value(name, &hpath, |s| {
                        let pattern = host_pattern(s)?;
                        if matches!(&pattern, HostPattern::Exact(e) if e.starts_with('[')) {
                            return Err(format!("`{s}`: TLS server names are host names, never IP addresses"));
                        }
                        Ok(pattern)
                    });
                    let Some(pattern) = pattern else { continue };
                    let key = pattern.to_string();
                    if let Some(first) = seen.get(&key) {
                        let loc = ctx.at(name);
                        ctx.err(
                            loc,
                            &hpath,
                            format!("`{key}` is already routed by {path}[{first}]"),
                        );
                        continue;
                    }
                    seen.insert(key, i);
                    hosts.push(pattern);
                }
            }
        }
        let upstream = match &item.value.upstream {
            None => {
                ctx.err(
                    here,
                    &p(&rpath, "upstream"),
                    "missing required field `upstream`",
                );
                None
            }
            Some(u) => ctx.reference("upstream", u, &p(&rpath, "upstream"), upstreams),
        };
        if let Some(upstream) = upstream {
            out.push(SniRoute { hosts, upstream });
        }
    }
    out
}

/// Who uses an upstream from L4: the first listener (index) and whether
/// any of them is `udp`.
#[derive(Clone, Copy)]
struct L4Use {
    first: usize,
    udp: Option<usize>,
}

/// What L4 listeners require of the upstreams they relay to: a key for
/// hashing that a byte stream has, no HTTP/2, TCP health probes for `udp`
/// (and as the default when no route uses the upstream), and no PROXY
/// protocol towards UDP targets.
fn upstream_constraints(
    ctx: &mut Ctx<'_>,
    raw_upstreams: &[Sp<RawUpstream>],
    listeners: &[Listener],
    upstreams: &mut [Upstream],
    routes: &[Route],
) {
    let mut uses: Vec<Option<L4Use>> = vec![None; upstreams.len()];
    for (li, l) in listeners.iter().enumerate() {
        let Some(l4) = &l.l4 else { continue };
        let used = l4
            .upstream
            .into_iter()
            .chain(l4.sni.iter().map(|r| r.upstream));
        for u in used {
            let Some(slot) = uses.get_mut(u) else {
                continue;
            };
            let entry = slot.get_or_insert(L4Use {
                first: li,
                udp: None,
            });
            if l.protocol == ListenerProtocol::Udp && entry.udp.is_none() {
                entry.udp = Some(li);
            }
        }
    }
    for (ui, (u, used)) in upstreams.iter_mut().zip(uses).enumerate() {
        let Some(used) = used else { continue };
        let Some(raw) = raw_upstreams.get(ui) else {
            continue;
        };
        let path = format!("upstreams[{ui}]");
        let here = ctx.at(raw);
        let raw = &raw.value;
        let by = |li: usize| {
            let l = &listeners[li];
            format!("`{}` listener `{}`", l.protocol.name(), l.name)
        };
        if let Balance::ConsistentHash(on) = &u.balance {
            if *on != HashOn::ClientIp {
                let loc = raw.hash_on.as_ref().map_or(here, |h| ctx.at(h));
                ctx.err(
                    loc,
                    &p(&path, "hash_on"),
                    format!("`hash_on` {on} needs an HTTP request, but upstream `{}` is used by {}: hash on `{{client_ip: true}}` instead", u.name, by(used.first)),
                );
            }
        }
        if u.protocol == UpstreamProtocol::H2c {
            let loc = raw.protocol.as_ref().map_or(here, |h| ctx.at(h));
            ctx.err(
                loc,
                &p(&path, "protocol"),
                format!(
                    "`protocol: h2c` means nothing to {}, which relays bytes; leave `protocol` out",
                    by(used.first)
                ),
            );
        }
        let routed = routes
            .iter()
            .any(|r| matches!(r.target, RouteTarget::Upstream(t) if t == ui));
        // HTTP-level protection means nothing to a byte relay; an upstream
        // shared with routes keeps it for them.
        if !routed {
            let http_only = [
                ("retries", raw.retries.as_ref().map(|v| ctx.at(v))),
                ("sticky", raw.sticky.as_ref().map(|v| ctx.at(v))),
                (
                    "circuit_breaker",
                    raw.circuit_breaker.as_ref().map(|v| ctx.at(v)),
                ),
                // The ramp is applied where HTTP requests pick a target.
                ("slow_start", raw.slow_start.as_ref().map(|v| ctx.at(v))),
            ];
            for (field, loc) in http_only {
                if let Some(loc) = loc {
                    ctx.err(
                        loc,
                        &p(&path, field),
                        format!(
                            "`{field}` applies to HTTP requests, but upstream `{}` is only used by {}, which relays bytes",
                            u.name,
                            by(used.first)
                        ),
                    );
                }
            }
        }
        probe_defaults(ctx, raw, u, used, routed, &path, &by);
        if let (Some(li), Some(_)) = (used.udp, u.proxy_protocol) {
            let loc = raw.proxy_protocol.as_ref().map_or(here, |v| ctx.at(v));
            ctx.err(
                loc,
                &p(&path, "proxy_protocol"),
                format!("PROXY protocol headers are only sent on TCP connections, but upstream `{}` is used by {}", u.name, by(li)),
            );
        }
    }
}

/// Active checks of an upstream only L4 listeners use default to TCP
/// probes (a database answers no HTTP); `udp` listeners need TCP probes.
fn probe_defaults(
    ctx: &mut Ctx<'_>,
    raw: &RawUpstream,
    u: &mut Upstream,
    used: L4Use,
    routed: bool,
    path: &str,
    by: &dyn Fn(usize) -> String,
) {
    let (Some(health), Some(raw_health)) = (&mut u.health, &raw.health) else {
        return;
    };
    let (Some(active), Some(raw_active)) = (&mut health.active, &raw_health.value.active) else {
        return;
    };
    let ra = &raw_active.value;
    let http_written = ra.kind.is_some()
        || ra.path.is_some()
        || ra.method.is_some()
        || ra.host.is_some()
        || ra.expect.is_some();
    if !http_written && !routed {
        active.probe = Probe::Tcp;
        return;
    }
    if let (Some(li), Probe::Http { .. }) = (used.udp, &active.probe) {
        let loc: Loc = ra
            .kind
            .as_ref()
            .map_or_else(|| ctx.at(raw_active), |k| ctx.at(k));
        ctx.err(
            loc,
            &format!("{path}.health.active.type"),
            format!("upstream `{}` is used by {}: active checks must be `type: tcp` (UDP targets answer no HTTP on that port)", u.name, by(li)),
        );
    }
}

/// Routes apply to HTTP listeners only, and an upstream that receives
/// PROXY headers is not one routes may use.
fn route_constraints(
    ctx: &mut Ctx<'_>,
    raw: &RawConfig,
    listeners: &[Listener],
    upstreams: &[Upstream],
    routes: &[Route],
) {
    let Some(raw_routes) = &raw.routes else {
        return;
    };
    if !raw_routes.value.is_empty()
        && !listeners.is_empty()
        && listeners.iter().all(|l| l.protocol.is_l4())
    {
        let loc = ctx.at(raw_routes);
        ctx.err(
            loc,
            "routes",
            "routes apply to `http` listeners, and there is none; leave `routes` out for L4-only files",
        );
    }
    for (ri, item) in raw_routes.value.iter().enumerate() {
        if let Some(list) = &item.value.listeners {
            for (k, name) in list.value.iter().enumerate() {
                if let Some(l) = listeners
                    .iter()
                    .find(|l| l.name == name.value && l.protocol.is_l4())
                {
                    let loc = ctx.at(name);
                    ctx.err(
                        loc,
                        &format!("routes[{ri}].listeners[{k}]"),
                        format!("listener `{}` is a `{}` listener; routes apply to `http` listeners only", l.name, l.protocol.name()),
                    );
                }
            }
        }
        let Some(route) = routes.get(ri) else {
            continue;
        };
        let RouteTarget::Upstream(u) = route.target else {
            continue;
        };
        let (Some(up), Some(up_name)) = (upstreams.get(u), &item.value.upstream) else {
            continue;
        };
        if up.proxy_protocol.is_some() {
            let loc = ctx.at(up_name);
            ctx.err(
                loc,
                &format!("routes[{ri}].upstream"),
                format!("upstream `{}` sends PROXY protocol headers, which only `tcp` and `tls_passthrough` listeners do: HTTP connections to targets are pooled and shared by clients", up.name),
            );
        }
    }
}
