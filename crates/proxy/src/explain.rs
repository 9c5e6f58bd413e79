//! `tollgate explain`: which route a request would take and why, what runs
//! on the way, and where it ends up.

use std::fmt::Write;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use tollgate_config::{
    Balance, Config, ForwardMode, Health, HostPattern, HostRewrite, L4Listener, Listener,
    ListenerProtocol, Policy, Probe, ProxyProtocolVersion, RouteTarget, Upstream, UpstreamProtocol,
    WhenAllDown,
};

use crate::pipeline::request_host;
use crate::router::{RouteInput, Router};

/// Describes the way of `method url` with `headers` through `config`, for
/// each listener (or only `listener`). Errors name the bad input.
pub fn explain(
    config: &Config,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    listener: Option<&str>,
) -> Result<String, String> {
    let method =
        Method::from_bytes(method.as_bytes()).map_err(|_| format!("invalid method {method:?}"))?;
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        let v =
            HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name}"))?;
        map.append(n, v);
    }
    let names: Vec<String> = config.listeners.iter().map(|l| l.name.clone()).collect();
    let router = Router::new(&config.routes, &names);
    let host = request_host(&uri, &map);
    let mut out = String::new();
    let _ = writeln!(out, "request: {method} {url}");
    let _ = writeln!(
        out,
        "host: {:?}  path: {:?}  query: {:?}",
        host,
        uri.path(),
        uri.query().unwrap_or("")
    );
    let dir = tollgate_gateway::Directory::build(&config.gateway);
    let mut any = false;
    for (index, l) in config.listeners.iter().enumerate() {
        if listener.is_some_and(|n| n != l.name) {
            continue;
        }
        any = true;
        let _ = write!(out, "\nlistener {} ({})", l.name, l.address);
        if let Some(l4) = &l.l4 {
            describe_l4(config, l, l4, &mut out);
            continue;
        }
        let _ = writeln!(out, ":");
        describe_proxy_protocol(l, &mut out);
        // Routing sees the normalized path, as it does when serving.
        let normalized = if l.normalize_path {
            match tollgate_edge::normalize_path(uri.path(), l.encoded_slash) {
                Ok(p) => p,
                Err(e) => {
                    let _ = writeln!(out, "  => 400 {{\"error\": \"{}\"}}", e.message());
                    continue;
                }
            }
        } else {
            std::borrow::Cow::Borrowed(uri.path())
        };
        if normalized != uri.path() {
            let _ = writeln!(out, "  normalized path: {normalized}");
        }
        if let Some(r) = &l.redirect_https {
            // The server redirects to the normalized path, query kept.
            let pq = match uri.query() {
                Some(q) => format!("{normalized}?{q}"),
                None => normalized.clone().into_owned(),
            };
            let to = tollgate_edge::https_location(r, &host, &pq)
                .unwrap_or_else(|| "(no host: 400)".into());
            let _ = writeln!(
                out,
                "  => redirect_https: {} to {to} (routes do not run on this listener)",
                r.status.as_u16()
            );
            continue;
        }
        let input = RouteInput {
            listener: index,
            host: &host,
            path: &normalized,
            query: uri.query(),
            method: &method,
            headers: &map,
        };
        for (i, result) in router.explain(&input) {
            let name = &config.routes[i].name;
            match result {
                Ok(spec) => {
                    let _ = writeln!(out, "  route {name}: matches ({spec})");
                }
                Err(why) => {
                    let _ = writeln!(out, "  route {name}: no, {why}");
                }
            }
        }
        match router.route(&input) {
            None => {
                let _ = writeln!(
                    out,
                    "  => no route: 404 {{\"error\": \"no route matches this request\"}}"
                );
            }
            Some(i) => {
                if let Some(v) = &config.routes[i].matcher.version {
                    let _ = writeln!(out, "  {}", crate::version::explain(v, &input));
                }
                describe_route(config, i, &method, &normalized, &mut out);
                crate::explain_auth::describe(&config.routes[i], &dir, &map, &uri, &mut out);
            }
        }
    }
    if !any {
        return Err(format!("no listener named {:?}", listener.unwrap_or("")));
    }
    Ok(out)
}

/// The trusted senders of PROXY headers, when the listener reads them.
fn describe_proxy_protocol(l: &Listener, out: &mut String) {
    if l.proxy_protocol.is_empty() {
        return;
    }
    let nets: Vec<String> = l.proxy_protocol.iter().map(|n| n.to_string()).collect();
    let _ = writeln!(
        out,
        "  PROXY header required from {}: its client is the client",
        nets.join(", ")
    );
}

/// `upstream NAME [address (weight w), ...] by ALGORITHM`.
fn upstream_summary(up: &Upstream) -> String {
    let targets: Vec<String> = up
        .targets
        .iter()
        .map(|t| format!("{} (weight {})", t.address, t.weight))
        .collect();
    let by = match &up.balance {
        Balance::ConsistentHash(on) => {
            let key = match on {
                tollgate_config::HashOn::Header(h) => format!("header: {h}"),
                tollgate_config::HashOn::Cookie(c) => format!("cookie: {c}"),
                tollgate_config::HashOn::Query(q) => format!("query: {q}"),
                tollgate_config::HashOn::ClientIp => "client_ip: true".into(),
                tollgate_config::HashOn::Path => "path: true".into(),
            };
            format!("consistent_hash, hash_on: {{{key}}}")
        }
        other => other.name().to_owned(),
    };
    format!("upstream {} [{}] by {by}", up.name, targets.join(", "))
}

/// An L4 listener does no HTTP routing: it says where its bytes go.
fn describe_l4(config: &Config, l: &Listener, l4: &L4Listener, out: &mut String) {
    let _ = writeln!(
        out,
        ": {} relay, no HTTP routing (idle_timeout: {})",
        l.protocol.name(),
        duration(l4.idle_timeout)
    );
    describe_proxy_protocol(l, out);
    for route in &l4.sni {
        let hosts: Vec<String> = route.hosts.iter().map(HostPattern::to_string).collect();
        let _ = writeln!(out, "  sni {} =>", hosts.join(", "));
        describe_l4_upstream(config, route.upstream, l.protocol, out);
    }
    match l4.upstream {
        Some(u) => {
            if !l4.sni.is_empty() {
                let _ = writeln!(out, "  no server name, or no match =>");
            }
            describe_l4_upstream(config, u, l.protocol, out);
        }
        None => {
            let _ = writeln!(out, "  no server name, or no match => connection closed");
        }
    }
}

fn describe_l4_upstream(config: &Config, u: usize, protocol: ListenerProtocol, out: &mut String) {
    let Some(up) = config.upstreams.get(u) else {
        return;
    };
    let proxy = match up.proxy_protocol {
        Some(ProxyProtocolVersion::V1) => ", sends a PROXY v1 header",
        Some(ProxyProtocolVersion::V2) => ", sends a PROXY v2 header",
        None => "",
    };
    let connect = if protocol == ListenerProtocol::Udp {
        String::new()
    } else {
        format!(", timeouts.connect: {}", duration(up.connect_timeout))
    };
    let _ = writeln!(out, "     {}{connect}{proxy}", upstream_summary(up));
    describe_health(up.health.as_ref(), out);
}

fn describe_route(config: &Config, i: usize, method: &Method, path: &str, out: &mut String) {
    let route = &config.routes[i];
    let _ = writeln!(
        out,
        "  => route {} (most specific match; ties go to file order)",
        route.name
    );
    let _ = writeln!(
        out,
        "     limits: max_body: {}, timeout: {}",
        size(route.max_body),
        duration(route.timeout)
    );
    let kinds: Vec<&str> = route.policies.iter().map(|p| p.kind()).collect();
    let _ = writeln!(
        out,
        "     policies, in order: {}",
        if kinds.is_empty() {
            "(none)".to_string()
        } else {
            kinds.join(", ")
        }
    );
    if let Some(allow) = refused_by_methods_policy(&route.policies, method) {
        let _ = writeln!(
            out,
            "     => 405: the methods policy refuses {method} (Allow: {allow})"
        );
    }
    for policy in &route.policies {
        if let Policy::Limit(l) = policy {
            let _ = writeln!(out, "     {}", crate::limits::describe(l));
        }
    }
    let path = match &route.rewrite {
        Some(rw) => tollgate_edge::rewrite_path(rw, path),
        None => std::borrow::Cow::Borrowed(path),
    };
    if let Some(l) = &route.lifecycle {
        let _ = writeln!(out, "     {}", crate::pipeline::describe_lifecycle(l));
    }
    match &route.target {
        RouteTarget::Aggregate(a) => {
            let calls: Vec<String> = a
                .calls
                .iter()
                .map(|c| {
                    let after = c.after.map(|i| format!(" after {}", a.calls[i].name));
                    format!(
                        "{} ({} {}{}{})",
                        c.name,
                        c.method,
                        config.upstreams[c.upstream].name,
                        if c.required { "" } else { ", optional" },
                        after.unwrap_or_default()
                    )
                })
                .collect();
            let _ = writeln!(out, "     target: aggregate of {}", calls.join(", "));
        }
        RouteTarget::Respond(r) => {
            let _ = writeln!(
                out,
                "     target: respond {} ({} body bytes)",
                r.status,
                r.body.len()
            );
        }
        RouteTarget::Redirect(r) => {
            let _ = writeln!(
                out,
                "     target: redirect: {{to: {:?}, status: {}, keep_path: {}}}",
                r.location.as_written(),
                r.status.as_u16(),
                r.keep_path
            );
        }
        RouteTarget::Static(files) => {
            let _ = writeln!(
                out,
                "     target: static: {{root: {:?}, index: {}, listing: {}, precompressed: {}}}",
                files.root.display().to_string(),
                files.index,
                files.listing,
                files.precompressed
            );
            let _ = writeln!(out, "     path under the root: {path}");
            if *method != Method::GET && *method != Method::HEAD {
                let _ = writeln!(
                    out,
                    "     => 405: static files answer GET and HEAD only, not {method} (Allow: GET, HEAD)"
                );
            }
        }
        RouteTarget::Upstream(u) => {
            let up = &config.upstreams[*u];
            let _ = writeln!(
                out,
                "     target: {}, protocol: {}",
                upstream_summary(up),
                protocol(up.protocol)
            );
            describe_health(up.health.as_ref(), out);
            let _ = writeln!(out, "     upstream path: {path}");
            let f = &route.forwarding;
            let host = match &f.host {
                HostRewrite::Preserve => "preserve".to_owned(),
                HostRewrite::Target => "target".to_owned(),
                HostRewrite::Fixed(h) => format!("{{fixed: {h:?}}}"),
            };
            let _ = writeln!(
                out,
                "     forwarding: {{x_forwarded: {}, forwarded: {}, via: {}, host: {host}}}",
                forward_mode(f.x_forwarded),
                forward_mode(f.forwarded),
                f.via
            );
        }
    }
}

/// The `Allow` value when a `methods` policy of the chain refuses `method`.
fn refused_by_methods_policy(policies: &[Policy], method: &Method) -> Option<String> {
    policies.iter().find_map(|p| match p {
        Policy::Methods(m) if !m.methods.contains(method) => {
            Some(String::from_utf8_lossy(m.allow.as_bytes()).into_owned())
        }
        _ => None,
    })
}

/// An upstream's `health` settings, with their YAML names.
fn describe_health(health: Option<&Health>, out: &mut String) {
    let Some(h) = health else {
        let _ = writeln!(out, "     health: none (every target is always picked)");
        return;
    };
    if let Some(a) = &h.active {
        let probe = match &a.probe {
            Probe::Http {
                method,
                path,
                host,
                expect,
            } => {
                let expect: Vec<String> = expect
                    .iter()
                    .map(|(lo, hi)| match lo == hi {
                        true => lo.to_string(),
                        false => format!("{lo}-{hi}"),
                    })
                    .collect();
                let host = host
                    .as_ref()
                    .map_or(String::new(), |h| format!(", host: {h}"));
                format!(
                    "type: http, method: {method}, path: {path}{host}, expect: [{}]",
                    expect.join(", ")
                )
            }
            Probe::Tcp => "type: tcp".to_owned(),
        };
        let _ = writeln!(
            out,
            "     health.active: {{{probe}, interval: {}, jitter: {}%, timeout: {}, healthy: {}, unhealthy: {}}}",
            duration(a.interval),
            a.jitter_percent,
            duration(a.timeout),
            a.healthy,
            a.unhealthy
        );
    }
    if let Some(p) = &h.passive {
        let _ = writeln!(
            out,
            "     health.passive: {{consecutive_failures: {}, eject_for: {}, max_eject_for: {}, max_ejected: {}%}}",
            p.consecutive_failures,
            duration(p.eject_for),
            duration(p.max_eject_for),
            p.max_ejected_percent
        );
    }
    let when = match h.when_all_down {
        WhenAllDown::Fail => "fail (503 when no target is available)",
        WhenAllDown::Panic => "panic (every target is picked from when none is available)",
    };
    let _ = writeln!(out, "     health.when_all_down: {when}");
}

/// `protocol` of an upstream as written in the file.
fn protocol(p: UpstreamProtocol) -> &'static str {
    match p {
        UpstreamProtocol::Http1 => "http1",
        UpstreamProtocol::H2c => "h2c",
        UpstreamProtocol::H2 => "h2",
    }
}

/// `append` | `replace` | `off`, as written in the file.
fn forward_mode(m: ForwardMode) -> &'static str {
    match m {
        ForwardMode::Append => "append",
        ForwardMode::Replace => "replace",
        ForwardMode::Off => "off",
    }
}

/// A duration as the file writes one: `30s`, `250ms`.
fn duration(d: std::time::Duration) -> String {
    // The file's durations are whole milliseconds.
    match d.as_millis() {
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

/// A size as the file writes one: `10MiB`, `64KiB`, `100`.
fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    const GIB: u64 = 1024 * MIB;
    match bytes {
        0 => "0".to_owned(),
        b if b % GIB == 0 => format!("{}GiB", b / GIB),
        b if b % MIB == 0 => format!("{}MiB", b / MIB),
        b if b % KIB == 0 => format!("{}KiB", b / KIB),
        b => b.to_string(),
    }
}
