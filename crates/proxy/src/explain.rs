//! `tollgate explain`: which route a request would take and why, what runs
//! on the way, and where it ends up.

use std::fmt::Write;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use tollgate_config::{Balance, Config, HostRewrite, RouteTarget};

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
    let mut any = false;
    for (index, l) in config.listeners.iter().enumerate() {
        if listener.is_some_and(|n| n != l.name) {
            continue;
        }
        any = true;
        let input = RouteInput {
            listener: index,
            host: &host,
            path: uri.path(),
            query: uri.query(),
            method: &method,
            headers: &map,
        };
        let _ = writeln!(out, "\nlistener {} ({}):", l.name, l.address);
        if let Some(r) = &l.redirect_https {
            let pq = uri.path_and_query().map_or("/", |pq| pq.as_str());
            let to = tollgate_edge::https_location(r, &host, pq)
                .unwrap_or_else(|| "(no host: 400)".into());
            let _ = writeln!(
                out,
                "  => redirect_https: {} to {to} (routes do not run on this listener)",
                r.status.as_u16()
            );
            continue;
        }
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
            Some(i) => describe_route(config, i, &uri, &mut out),
        }
    }
    if !any {
        return Err(format!("no listener named {:?}", listener.unwrap_or("")));
    }
    Ok(out)
}

fn describe_route(config: &Config, i: usize, uri: &Uri, out: &mut String) {
    let route = &config.routes[i];
    let _ = writeln!(
        out,
        "  => route {} (most specific match; ties go to file order)",
        route.name
    );
    let _ = writeln!(
        out,
        "     limits: max_body {} bytes, timeout {:?}",
        route.max_body, route.timeout
    );
    let _ = writeln!(out, "     policies, in order: (none)");
    match &route.target {
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
                "     target: redirect {} to {}{}",
                r.status,
                r.location,
                if r.keep_path { " + path" } else { "" }
            );
        }
        RouteTarget::Upstream(u) => {
            let up = &config.upstreams[*u];
            let path = match &route.rewrite {
                Some(rw) => tollgate_edge::rewrite_path(rw, uri.path()).into_owned(),
                None => uri.path().to_owned(),
            };
            let targets: Vec<String> = up
                .targets
                .iter()
                .map(|t| format!("{} (weight {})", t.address, t.weight))
                .collect();
            let by = match &up.balance {
                Balance::ConsistentHash(on) => format!("consistent_hash on {on}"),
                other => other.name().to_owned(),
            };
            let _ = writeln!(
                out,
                "     target: upstream {} [{}] by {by}, {:?}",
                up.name,
                targets.join(", "),
                up.protocol
            );
            let _ = writeln!(out, "     upstream path: {path}");
            let host = match &route.forwarding.host {
                HostRewrite::Preserve => "client's Host".to_owned(),
                HostRewrite::Target => "target address".to_owned(),
                HostRewrite::Fixed(h) => h.clone(),
            };
            let f = &route.forwarding;
            let _ = writeln!(
                out,
                "     forwarding: x-forwarded {:?}, forwarded {:?}, via {}, host {}",
                f.x_forwarded, f.forwarded, f.via, host
            );
        }
    }
}
