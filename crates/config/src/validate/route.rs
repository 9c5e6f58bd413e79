//! Validation of routes: match conditions, target, rewrite and the values
//! inherited from `defaults`.

use http::{Method, StatusCode};
use regex::Regex;

use super::{absolute_path, forwarding, header_name, header_value, p, Ctx, Defaults, Loc};
use crate::raw::*;
use crate::typed::*;
use crate::units::{parse_bool, parse_uint};

/// What routes may refer to.
pub(super) struct Known<'a> {
    pub(super) listeners: &'a [Listener],
    pub(super) upstreams: &'a [Upstream],
    pub(super) policies: &'a super::policy::Named,
}

/// Compiles a regex; `anchored` wraps it as `^(?:...)$` so it must match
/// the whole value. Messages are one line.
fn compile(pattern: &str, anchored: bool) -> Result<Regex, String> {
    let one_line = |e: regex::Error| match &e {
        regex::Error::Syntax(s) => {
            let why = s
                .lines()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or(s.as_str());
            format!("invalid regex `{pattern}`: {why}")
        }
        _ => format!("invalid regex `{pattern}`: {e}"),
    };
    // Compile as written first so a pattern cannot escape the anchoring
    // group (`a)|(b`) and error messages refer to what the user wrote.
    let plain = Regex::new(pattern).map_err(one_line)?;
    if !anchored {
        return Ok(plain);
    }
    Regex::new(&format!("^(?:{pattern})$")).map_err(one_line)
}

/// Returns the route and its name when valid.
pub(super) fn route(
    ctx: &mut Ctx<'_>,
    item: &Sp<RawRoute>,
    path: &str,
    known: &Known<'_>,
    defaults: &Defaults,
) -> (Route, Option<String>) {
    let raw = &item.value;
    let here = ctx.at(item);
    let name = ctx
        .required(&raw.name, here, &p(path, "name"))
        .map(|n| n.value.clone());

    let mut listeners = Vec::new();
    if let Some(list) = &raw.listeners {
        let defined: Vec<&str> = known.listeners.iter().map(|l| l.name.as_str()).collect();
        for (i, l) in list.value.iter().enumerate() {
            let at = format!("{path}.listeners[{i}]");
            if ctx.reference("listener", l, &at, &defined).is_some() {
                listeners.push(l.value.clone());
            }
        }
    }

    let matcher = match &raw.matcher {
        Some(m) => route_match(ctx, &m.value, &p(path, "match")),
        None => RouteMatch::default(),
    };
    let timeout = ctx.timeout(&raw.timeout, &p(path, "timeout"), defaults.timeout);
    let target = target(ctx, raw, here, path, known, timeout);
    let rewrite = raw.rewrite.as_ref().map(|r| {
        let other_target =
            raw.respond.is_some() || raw.redirect.is_some() || raw.aggregate.is_some();
        if raw.upstream.is_none() && raw.static_files.is_none() && other_target {
            let loc = ctx.at(r);
            ctx.err(
                loc,
                &p(path, "rewrite"),
                "`rewrite` is only allowed on routes with `upstream` or `static`",
            );
        }
        rewrite(ctx, &r.value, &p(path, "rewrite"))
    });

    let mut policies = defaults.policies.clone();
    let identified = policies
        .iter()
        .any(|p| matches!(p, Policy::Gateway(g) if g.identifies()));
    policies.extend(super::policy::list(
        ctx,
        &raw.policies,
        &p(path, "policies"),
        known.policies,
        identified,
    ));
    let route = Route {
        name: name.clone().unwrap_or_default(),
        listeners,
        matcher,
        rewrite,
        target,
        forwarding: forwarding(
            ctx,
            raw.forwarding.as_ref(),
            &defaults.forwarding,
            &p(path, "forwarding"),
        ),
        timeout,
        max_body: ctx.size(
            &raw.max_body,
            &p(path, "max_body"),
            defaults.max_body,
            0,
            u64::MAX,
        ),
        policies,
        lifecycle: super::api::lifecycle(ctx, raw, path),
    };
    (route, name)
}

fn target(
    ctx: &mut Ctx<'_>,
    raw: &RawRoute,
    here: Loc,
    path: &str,
    known: &Known<'_>,
    timeout: std::time::Duration,
) -> RouteTarget {
    let placeholder = || {
        RouteTarget::Respond(FixedResponse {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: String::new(),
        })
    };
    let given = [
        raw.upstream.as_ref().map(|_| "upstream"),
        raw.respond.as_ref().map(|_| "respond"),
        raw.redirect.as_ref().map(|_| "redirect"),
        raw.static_files.as_ref().map(|_| "static"),
        raw.aggregate.as_ref().map(|_| "aggregate"),
    ];
    let needs =
        "a route needs exactly one of `upstream`, `respond`, `redirect`, `static` or `aggregate`";
    if !ctx.exactly_one(here, path, &given, needs) {
        return placeholder();
    }
    if raw.upstream.is_some() {
        let upath = p(path, "upstream");
        let Some(u) = ctx.required(&raw.upstream, here, &upath) else {
            return placeholder();
        };
        let defined: Vec<&str> = known.upstreams.iter().map(|k| k.name.as_str()).collect();
        return ctx
            .reference("upstream", u, &upath, &defined)
            .map_or_else(placeholder, RouteTarget::Upstream);
    }
    if let Some(r) = &raw.respond {
        return RouteTarget::Respond(respond(ctx, &r.value, &p(path, "respond")));
    }
    if let Some(a) = &raw.aggregate {
        let apath = p(path, "aggregate");
        return super::api::aggregate(ctx, a, &apath, known.upstreams, timeout)
            .map_or_else(placeholder, |a| RouteTarget::Aggregate(Box::new(a)));
    }
    if let Some(s) = &raw.static_files {
        return super::static_files::static_files(ctx, s, &p(path, "static"))
            .map_or_else(placeholder, RouteTarget::Static);
    }
    match &raw.redirect {
        Some(r) => {
            redirect(ctx, r, &p(path, "redirect")).map_or_else(placeholder, RouteTarget::Redirect)
        }
        None => placeholder(),
    }
}

fn respond(ctx: &mut Ctx<'_>, raw: &RawRespond, path: &str) -> FixedResponse {
    let status = ctx.field(&raw.status, &p(path, "status"), StatusCode::OK, |s| {
        let n = parse_uint(s)
            .map_err(|e| format!("{e}; expected a status code between 100 and 599"))?;
        if !(100..=599).contains(&n) {
            return Err(format!("status {n} is out of range; expected 100..=599"));
        }
        StatusCode::from_u16(n as u16).map_err(|e| e.to_string())
    });
    let mut headers = Vec::new();
    if let Some(map) = &raw.headers {
        for (k, v) in &map.value.0 {
            let hpath = format!("{path}.headers.{}", k.value);
            let name = ctx.value(k, &hpath, header_name);
            let value = ctx.value(v, &hpath, header_value);
            if let (Some(name), Some(value)) = (name, value) {
                headers.push((name, value));
            }
        }
    }
    let body = raw
        .body
        .as_ref()
        .map(|b| b.value.clone())
        .unwrap_or_default();
    FixedResponse {
        status,
        headers,
        body,
    }
}

fn redirect(ctx: &mut Ctx<'_>, r: &Sp<RawRedirect>, path: &str) -> Option<Redirect> {
    let raw = &r.value;
    let here = ctx.at(r);
    let status = ctx.field(
        &raw.status,
        &p(path, "status"),
        StatusCode::FOUND,
        |s| match s {
            "301" | "302" | "303" | "307" | "308" => {
                StatusCode::from_bytes(s.as_bytes()).map_err(|e| e.to_string())
            }
            _ => Err(format!(
                "invalid redirect status `{s}`: expected 301, 302, 303, 307 or 308"
            )),
        },
    );
    let keep_path = ctx.field(&raw.keep_path, &p(path, "keep_path"), false, parse_bool);
    let to = ctx.required(&raw.to, here, &p(path, "to"))?;
    let location = ctx.value(to, &p(path, "to"), |s| {
        header_value(s)?;
        Template::parse(s)
    })?;
    Some(Redirect {
        status,
        location,
        keep_path,
    })
}

fn rewrite(ctx: &mut Ctx<'_>, raw: &RawRewrite, path: &str) -> Rewrite {
    let slash = |s: &str| absolute_path(s).map(Some);
    let strip_prefix = ctx.field(&raw.strip_prefix, &p(path, "strip_prefix"), None, slash);
    let add_prefix = ctx.field(&raw.add_prefix, &p(path, "add_prefix"), None, slash);
    let regex = raw.regex.as_ref().and_then(|r| {
        let rpath = p(path, "regex");
        let here = ctx.at(r);
        let pattern = ctx.required(&r.value.pattern, here, &p(&rpath, "pattern"));
        let re =
            pattern.and_then(|pat| ctx.value(pat, &p(&rpath, "pattern"), |s| compile(s, false)));
        let replace = match &r.value.replace {
            Some(s) => Some(s.value.clone()),
            None => {
                ctx.err(
                    here,
                    &p(&rpath, "replace"),
                    "missing required field `replace`",
                );
                None
            }
        };
        Some((re?, replace?))
    });
    Rewrite {
        strip_prefix,
        regex,
        add_prefix,
    }
}

fn route_match(ctx: &mut Ctx<'_>, raw: &RawMatch, path: &str) -> RouteMatch {
    let mut m = RouteMatch::default();
    if let Some(hosts) = &raw.hosts {
        m.hosts = ctx.each(hosts, &p(path, "hosts"), host_pattern);
    }
    if let Some(pm) = &raw.path {
        m.path = path_match(ctx, pm, &p(path, "path"));
    }
    if let Some(v) = &raw.version {
        m.version = super::api::version(ctx, v, &p(path, "version"));
    }
    if let Some(methods) = &raw.methods {
        m.methods = ctx.each(methods, &p(path, "methods"), method);
    }
    for (list, field) in [(&raw.headers, "headers"), (&raw.query, "query")] {
        let Some(list) = list else { continue };
        for (i, item) in list.value.iter().enumerate() {
            let vpath = format!("{path}.{field}[{i}]");
            let Some((name, value)) = value_match(ctx, item, &vpath, field == "headers") else {
                continue;
            };
            if field == "headers" {
                if let Ok(name) = header_name(&name) {
                    m.headers.push(HeaderMatch { name, value });
                }
            } else {
                m.query.push(QueryMatch { name, value });
            }
        }
    }
    m
}

/// An uppercase method token such as `GET` or `PURGE`.
pub(super) fn method(s: &str) -> Result<Method, String> {
    let upper = s.to_ascii_uppercase();
    if s != upper {
        return Err(format!(
            "methods are case-sensitive: write `{upper}`, not `{s}`"
        ));
    }
    Method::from_bytes(s.as_bytes()).map_err(|_| {
        format!("invalid method `{s}`: expected a token such as GET, POST, PUT, DELETE")
    })
}

/// `api.example.com` → exact; `*.example.com` → suffix `.example.com`.
pub(super) fn host_pattern(s: &str) -> Result<HostPattern, String> {
    let lower = s.to_ascii_lowercase();
    if lower.is_empty() {
        return Err("empty host pattern".into());
    }
    if lower == "*" {
        return Err("`*` alone is not a host pattern; leave out `hosts` to match any host".into());
    }
    let (suffix, name) = match lower.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, lower.as_str()),
    };
    if name.contains('*') {
        return Err(format!("invalid host pattern `{s}`: a wildcard is only allowed as a whole first label, as in `*.example.com`"));
    }
    if let Some(inner) = name.strip_prefix('[') {
        let ok = !suffix
            && inner
                .strip_suffix(']')
                .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
        return if ok {
            Ok(HostPattern::Exact(lower))
        } else {
            Err(format!(
                "invalid host pattern `{s}`: expected `[IPv6]` without a port"
            ))
        };
    }
    if name.contains(':') {
        return Err(format!(
            "invalid host pattern `{s}`: must not include a port (hosts are matched without port)"
        ));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if !name.split('.').all(label_ok) {
        return Err(format!("invalid host pattern `{s}`: expected a host name such as `api.example.com` or `*.example.com`"));
    }
    Ok(if suffix {
        HostPattern::Suffix(format!(".{name}"))
    } else {
        HostPattern::Exact(name.to_string())
    })
}

fn path_match(ctx: &mut Ctx<'_>, pm: &Sp<RawPath>, path: &str) -> Option<PathMatch> {
    let raw = &pm.value;
    let given = [
        raw.prefix.as_ref().map(|_| "prefix"),
        raw.exact.as_ref().map(|_| "exact"),
        raw.regex.as_ref().map(|_| "regex"),
    ];
    let loc = ctx.at(pm);
    let needs = "a path condition needs exactly one of `prefix`, `exact` or `regex`";
    if !ctx.exactly_one(loc, path, &given, needs) {
        return None;
    }
    if let Some(prefix) = &raw.prefix {
        ctx.value(prefix, &p(path, "prefix"), absolute_path)
            .map(PathMatch::Prefix)
    } else if let Some(exact) = &raw.exact {
        ctx.value(exact, &p(path, "exact"), absolute_path)
            .map(PathMatch::Exact)
    } else {
        let regex = raw.regex.as_ref()?;
        ctx.value(regex, &p(path, "regex"), |s| compile(s, true))
            .map(PathMatch::Regex)
    }
}

/// A header or query condition: name and comparison.
fn value_match(
    ctx: &mut Ctx<'_>,
    item: &Sp<RawValueMatch>,
    path: &str,
    header: bool,
) -> Option<(String, ValueMatch)> {
    let raw = &item.value;
    let here = ctx.at(item);
    let name = ctx
        .required(&raw.name, here, &p(path, "name"))
        .and_then(|n| {
            if header {
                ctx.value(n, &p(path, "name"), |s| {
                    header_name(s).map(|_| s.to_string())
                })
            } else {
                Some(n.value.clone())
            }
        });
    let given = [
        raw.value.as_ref().map(|_| "value"),
        raw.regex.as_ref().map(|_| "regex"),
        raw.present.as_ref().map(|_| "present"),
    ];
    let needs = "a condition needs exactly one of `value`, `regex` or `present: true`";
    if !ctx.exactly_one(here, path, &given, needs) {
        return None;
    }
    let value = if raw.value.is_some() {
        ctx.field(&raw.value, &p(path, "value"), None, |s| {
            if header {
                header_value(s)?;
            }
            Ok(Some(ValueMatch::Exact(s.to_string())))
        })
    } else if raw.regex.is_some() {
        ctx.field(&raw.regex, &p(path, "regex"), None, |s| {
            compile(s, true).map(|r| Some(ValueMatch::Regex(r)))
        })
    } else {
        ctx.field(
            &raw.present,
            &p(path, "present"),
            None,
            |s| match parse_bool(s)? {
                true => Ok(Some(ValueMatch::Present)),
                false => Err("`present: false` is not supported; only `present: true`".into()),
            },
        )
    };
    Some((name?, value?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        let exact = |s: &str| HostPattern::Exact(s.into());
        let suffix = |s: &str| HostPattern::Suffix(s.into());
        assert_eq!(
            host_pattern("API.Example.com"),
            Ok(exact("api.example.com"))
        );
        assert_eq!(host_pattern("*.Example.com"), Ok(suffix(".example.com")));
        assert_eq!(host_pattern("example.com."), Ok(exact("example.com")));
        assert_eq!(host_pattern("[::1]"), Ok(exact("[::1]")));
        assert_eq!(host_pattern("localhost"), Ok(exact("localhost")));
        for bad in [
            "",
            "*",
            "*.",
            "a.*.com",
            "*example.com",
            "example.*",
            "**.x.com",
            "x.com:80",
            "[::1]:80",
            "a b.com",
            "a..b",
        ] {
            assert!(host_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regexes() {
        let r = compile("/u/[0-9]+", true).unwrap();
        assert!(r.is_match("/u/12"));
        assert!(!r.is_match("/x/u/12"));
        assert!(!r.is_match("/u/12/x"));
        let r = compile("a|b", true).unwrap();
        assert!(!r.is_match("ab"));
        assert!(compile("a)|(b", true).is_err());
        let e = compile("(", true).unwrap_err();
        assert!(e.contains("unclosed group") && !e.contains('\n'), "{e}");
    }
}
