//! Validation of the security filters: IP filters, per-client caps, the
//! `methods`, `security_headers` and `cors` policies.

use http::{HeaderName, HeaderValue, Method};

use super::route::method;
use super::{header_name, header_value, net, p, Ctx};
use crate::raw::*;
use crate::typed::*;
use crate::units::{parse_bool, parse_duration, parse_rate};

/// `ip_filter: {allow, deny}` of a listener or a policy.
pub(super) fn ip_filter(ctx: &mut Ctx<'_>, raw: &Sp<RawIpFilter>, path: &str) -> IpFilter {
    let mut nets = |list: &List<String>, field: &str| match list {
        Some(list) => ctx.each(list, &p(path, field), net),
        None => Vec::new(),
    };
    let filter = IpFilter {
        allow: nets(&raw.value.allow, "allow"),
        deny: nets(&raw.value.deny, "deny"),
    };
    let written = |l: &List<String>| l.as_ref().is_some_and(|l| !l.value.is_empty());
    if !written(&raw.value.allow) && !written(&raw.value.deny) {
        let loc = ctx.at(raw);
        ctx.err(
            loc,
            path,
            "an ip_filter needs at least one address in `allow` or `deny`",
        );
    }
    filter
}

/// `per_client: {max_connections, rate, burst}` of a listener.
pub(super) fn per_client(ctx: &mut Ctx<'_>, raw: &Sp<RawPerClient>, path: &str) -> PerClient {
    let r = &raw.value;
    let max_connections = r.max_connections.as_ref().map(|_| {
        ctx.count(
            &r.max_connections,
            &p(path, "max_connections"),
            1,
            1,
            u64::from(u32::MAX),
        ) as u32
    });
    let rate = ctx.field(&r.rate, &p(path, "rate"), None, |s| parse_rate(s).map(Some));
    let burst = r
        .burst
        .as_ref()
        .map(|_| ctx.count(&r.burst, &p(path, "burst"), 1, 1, u64::from(u32::MAX)));
    let here = ctx.at(raw);
    if r.max_connections.is_none() && r.rate.is_none() {
        ctx.err(
            here,
            path,
            "per_client needs `max_connections`, `rate` or both",
        );
    }
    if r.burst.is_some() && r.rate.is_none() {
        let loc = r.burst.as_ref().and_then(|b| ctx.at(b));
        ctx.err(
            loc,
            &p(path, "burst"),
            "`burst` needs a `rate` (e.g. `rate: 50/s`)",
        );
    }
    PerClient {
        max_connections,
        rate: rate.map(|(count, period)| ClientRate {
            count,
            period,
            burst: burst.unwrap_or(count),
        }),
    }
}

/// `encoded_slash: keep | reject | decode` of a listener.
pub(super) fn encoded_slash(s: &str) -> Result<EncodedSlash, String> {
    match s {
        "keep" => Ok(EncodedSlash::Keep),
        "reject" => Ok(EncodedSlash::Reject),
        "decode" => Ok(EncodedSlash::Decode),
        _ => Err(format!("expected `keep`, `reject` or `decode`, got `{s}`")),
    }
}

/// The `methods` policy: a non-empty list of methods; GET brings HEAD.
pub(super) fn methods(
    ctx: &mut Ctx<'_>,
    raw: &Sp<Vec<Sp<String>>>,
    path: &str,
) -> Option<AllowedMethods> {
    if raw.value.is_empty() {
        let loc = ctx.at(raw);
        ctx.err(loc, path, "list at least one method, e.g. `[GET, POST]`");
        return None;
    }
    let mut list = ctx.each(raw, path, method);
    dedup(&mut list);
    // A server that answers GET answers HEAD too (RFC 9110 §9.3.2).
    if list.contains(&Method::GET) && !list.contains(&Method::HEAD) {
        list.push(Method::HEAD);
    }
    let names: Vec<&str> = list.iter().map(Method::as_str).collect();
    let allow = HeaderValue::from_str(&names.join(", ")).ok()?;
    Some(AllowedMethods {
        methods: list,
        allow,
    })
}

/// The `security_headers` policy: each field has a default, `off` drops it.
pub(super) fn security_headers(
    ctx: &mut Ctx<'_>,
    raw: &RawSecurityHeaders,
    path: &str,
) -> SecurityHeaders {
    let mut value = |v: &Text, field: &str, default: Option<&'static str>| {
        let default = default.map(HeaderValue::from_static);
        ctx.field(v, &p(path, field), default, |s| {
            if s == "off" {
                Ok(None)
            } else {
                header_value(s).map(Some)
            }
        })
    };
    let hsts = value(&raw.hsts, "hsts", Some("max-age=31536000"));
    let mut fields = Vec::new();
    for (v, field, name, default) in [
        (
            &raw.content_type_options,
            "content_type_options",
            http::header::X_CONTENT_TYPE_OPTIONS,
            Some("nosniff"),
        ),
        (
            &raw.frame_options,
            "frame_options",
            http::header::X_FRAME_OPTIONS,
            Some("DENY"),
        ),
        (
            &raw.referrer_policy,
            "referrer_policy",
            http::header::REFERRER_POLICY,
            Some("strict-origin-when-cross-origin"),
        ),
        (
            &raw.content_security_policy,
            "content_security_policy",
            http::header::CONTENT_SECURITY_POLICY,
            None,
        ),
    ] {
        if let Some(v) = value(v, field, default) {
            fields.push((name, v));
        }
    }
    SecurityHeaders {
        hsts,
        fields,
        overwrite: ctx.field(&raw.overwrite, &p(path, "overwrite"), false, parse_bool),
    }
}

/// The `cors` policy.
pub(super) fn cors(ctx: &mut Ctx<'_>, raw: &Sp<RawCors>, path: &str) -> Option<Cors> {
    let r = &raw.value;
    let here = ctx.at(raw);
    let opath = p(path, "allow_origins");
    let mut any = false;
    let mut patterns = Vec::new();
    match &r.allow_origins {
        None => ctx.err(
            here,
            &opath,
            "missing required field `allow_origins`, e.g. `[\"https://app.example.com\"]` or `[\"*\"]`",
        ),
        Some(list) if list.value.is_empty() => {
            let loc = ctx.at(list);
            ctx.err(loc, &opath, "list at least one origin");
        }
        Some(list) => {
            for (i, item) in list.value.iter().enumerate() {
                let at = format!("{opath}[{i}]");
                if item.value == "*" {
                    any = true;
                    if list.value.len() > 1 {
                        let loc = ctx.at(item);
                        ctx.err(
                            loc,
                            &at,
                            "`*` allows every origin; write it alone, not with other origins",
                        );
                    }
                    continue;
                }
                patterns.extend(ctx.value(item, &at, origin_pattern));
            }
        }
    }
    let credentials = ctx.field(
        &r.allow_credentials,
        &p(path, "allow_credentials"),
        false,
        parse_bool,
    );
    if any && credentials {
        let loc = r.allow_credentials.as_ref().and_then(|c| ctx.at(c));
        ctx.err(
            loc,
            &p(path, "allow_credentials"),
            "`allow_credentials: true` cannot be combined with `allow_origins: [\"*\"]` (browsers refuse credentialed answers to `*`); list the origins instead",
        );
    }

    let methods = match &r.allow_methods {
        None => vec![Method::GET, Method::HEAD, Method::POST],
        Some(list) => {
            let mut methods = ctx.each(list, &p(path, "allow_methods"), method);
            dedup(&mut methods);
            methods
        }
    };
    let names: Vec<&str> = methods.iter().map(Method::as_str).collect();
    let allow_methods_value = HeaderValue::from_str(&names.join(", ")).ok()?;

    let allow_headers = match &r.allow_headers {
        Some(list) if list.value.len() == 1 && list.value[0].value == "*" => AllowHeaders::Any,
        _ => AllowHeaders::List(header_names(
            ctx,
            &r.allow_headers,
            &p(path, "allow_headers"),
        )),
    };
    let expose = header_names(ctx, &r.expose_headers, &p(path, "expose_headers"));
    let expose_headers_value = if expose.is_empty() {
        None
    } else {
        let names: Vec<&str> = expose.iter().map(HeaderName::as_str).collect();
        HeaderValue::from_str(&names.join(", ")).ok()
    };
    let max_age_value = ctx.field(&r.max_age, &p(path, "max_age"), None, |s| {
        Ok(Some(HeaderValue::from(parse_duration(s)?.as_secs())))
    });
    Some(Cors {
        origins: if any {
            AllowOrigins::Any
        } else {
            AllowOrigins::List(patterns)
        },
        methods,
        allow_headers,
        credentials,
        allow_methods_value,
        expose_headers_value,
        max_age_value,
    })
}

fn header_names(ctx: &mut Ctx<'_>, raw: &List<String>, path: &str) -> Vec<HeaderName> {
    let Some(list) = raw else { return Vec::new() };
    ctx.each(list, path, |s| {
        if s == "*" {
            return Err("`*` must be the only entry of `allow_headers`".into());
        }
        header_name(s)
    })
}

/// Drops repeats, keeping the first of each (lists of methods as written).
fn dedup<T: PartialEq>(list: &mut Vec<T>) {
    let mut i = 0;
    while i < list.len() {
        if list[..i].contains(&list[i]) {
            list.remove(i);
        } else {
            i += 1;
        }
    }
}

/// `https://app.example.com`, `http://localhost:3000`, `https://*.example.com`.
fn origin_pattern(s: &str) -> Result<OriginPattern, String> {
    let example = "expected an origin such as `https://app.example.com`, `http://localhost:3000` or `https://*.example.com`";
    if s == "null" {
        return Err("the `null` origin (sandboxed pages, local files) cannot be allowed safely: any site can send it".into());
    }
    let lower = s.to_ascii_lowercase();
    let Some((scheme, rest)) = lower.split_once("://") else {
        return Err(format!("invalid origin `{s}`: {example}"));
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return Err(format!("invalid origin `{s}`: {example}"));
    }
    if rest.ends_with('/') {
        return Err(format!(
            "invalid origin `{s}`: an origin has no path; remove the trailing `/`"
        ));
    }
    let bad = || format!("invalid origin `{s}`: {example}");
    let (host, port) = if rest.starts_with('[') {
        let end = rest.find(']').ok_or_else(bad)?;
        let (h, after) = rest.split_at(end + 1);
        match after {
            "" => (h, None),
            a => (h, Some(a.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match rest.split_once(':') {
            Some((h, port)) => (h, Some(port)),
            None => (rest, None),
        }
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("invalid origin `{s}`: bad port; {example}"));
    }
    let (wildcard, name) = match host.strip_prefix("*.") {
        Some(n) => (true, n),
        None => (false, host),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let bracketed = !wildcard
        && name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
    if !bracketed && !name.split('.').all(label_ok) {
        return Err(format!(
            "invalid origin `{s}`: {example} (a `*` may only stand for the first labels of the host)"
        ));
    }
    Ok(if wildcard {
        OriginPattern::Subdomains {
            scheme: format!("{scheme}://"),
            suffix: rest[1..].to_string(),
        }
    } else {
        OriginPattern::Exact(lower)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            origin_pattern("https://App.Example.com"),
            Ok(OriginPattern::Exact("https://app.example.com".into()))
        );
        assert_eq!(
            origin_pattern("http://localhost:3000"),
            Ok(OriginPattern::Exact("http://localhost:3000".into()))
        );
        assert_eq!(
            origin_pattern("https://*.example.com:8443"),
            Ok(OriginPattern::Subdomains {
                scheme: "https://".into(),
                suffix: ".example.com:8443".into()
            })
        );
        assert!(origin_pattern("http://[::1]:8080").is_ok());
        assert!(origin_pattern("http://[::1]").is_ok());
        for bad in [
            "null",
            "example.com",
            "https://example.com/",
            "https://example.com/app",
            "https://a.*.com",
            "https://*",
            "https://ex ample.com",
            "https://example.com:",
            "https://example.com:x",
            "://example.com",
            "*.example.com",
            "http://[::1",
            "http://[nope]",
            "http://[::1]x",
        ] {
            assert!(origin_pattern(bad).is_err(), "{bad}");
        }
    }
}
