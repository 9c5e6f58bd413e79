//! Validation of a route's API-shaping parts: `match.version`,
//! `deprecation` / `sunset`, and the `aggregate` target.

use std::time::Duration;

use super::{p, policy::templated_fields, route::method, Ctx};
use crate::raw::*;
use crate::typed::*;
use crate::units::parse_bool;

/// Most calls one aggregate may list.
const MAX_CALLS: usize = 32;

/// `match.version:` → [`VersionMatch`].
pub(super) fn version(ctx: &mut Ctx<'_>, raw: &Sp<RawVersion>, path: &str) -> Option<VersionMatch> {
    let r = &raw.value;
    let here = ctx.at(raw);
    let default = ctx.field(&r.default, &p(path, "default"), false, parse_bool);
    let value = ctx
        .required(&r.value, here, &p(path, "value"))?
        .value
        .clone();
    let from = ctx.required(&r.from, here, &p(path, "from"))?;
    let name = r.name.as_ref().map(|n| n.value.clone());
    let source = ctx.value(from, &p(path, "from"), |s| {
        Ok(match s {
            "path" => VersionSource::Path,
            "header" => {
                let n = name.unwrap_or_else(|| "api-version".into());
                VersionSource::Header(super::header_name(&n)?)
            }
            "query" => VersionSource::Query(name.unwrap_or_else(|| "version".into())),
            "accept" => VersionSource::Accept(
                name.unwrap_or_else(|| "version".into())
                    .to_ascii_lowercase(),
            ),
            _ => {
                return Err(format!(
                    "unknown version source `{s}`: expected `path`, `header`, `query` or `accept`"
                ))
            }
        })
    })?;
    if source == VersionSource::Path && r.name.is_some() {
        let loc = ctx.at(r.name.as_ref()?);
        ctx.err(
            loc,
            &p(path, "name"),
            "`name` is for `header`, `query` and `accept`; a path names its version as `/v<version>/...`",
        );
    }
    Some(VersionMatch {
        value,
        from: source,
        default,
    })
}

/// A route's `deprecation` and `sunset` → [`Lifecycle`].
pub(super) fn lifecycle(ctx: &mut Ctx<'_>, raw: &RawRoute, path: &str) -> Option<Box<Lifecycle>> {
    let mut one = |raw: &Option<Sp<RawLifecycleDate>>, field: &str| {
        let d = raw.as_ref()?;
        let at = p(path, field);
        let here = ctx.at(d);
        let when = ctx.required(&d.value.at, here, &p(&at, "at"))?;
        let when = ctx.value(when, &p(&at, "at"), parse_date)?;
        let link = match &d.value.link {
            Some(l) => ctx.value(l, &p(&at, "link"), |s| {
                if s.is_empty() || s.bytes().any(|b| b <= b' ' || b == b'>' || b == 0x7f) {
                    return Err(format!("invalid link `{s}`: expected a URL without spaces"));
                }
                Ok(s.to_string())
            }),
            None => None,
        };
        Some(LifecycleDate { at: when, link })
    };
    let deprecation = one(&raw.deprecation, "deprecation");
    let sunset = one(&raw.sunset, "sunset");
    if deprecation.is_none() && sunset.is_none() {
        return None;
    }
    Some(Box::new(Lifecycle {
        deprecation,
        sunset,
    }))
}

/// `2026-06-30` or `2026-06-30T12:00:00Z` → seconds since the Unix epoch (UTC).
pub(crate) fn parse_date(s: &str) -> Result<u64, String> {
    let bad =
        || format!("invalid date `{s}`: expected `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ` (UTC)");
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z').ok_or_else(bad)?)),
        None => (s, None),
    };
    let num = |t: &str, len: usize| -> Result<u64, String> {
        if t.len() != len || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    let d: Vec<&str> = date.split('-').collect();
    let [y, m, day] = d.as_slice() else {
        return Err(bad());
    };
    let (y, m, day) = (num(y, 4)?, num(m, 2)?, num(day, 2)?);
    if y < 1970 || !(1..=12).contains(&m) || day == 0 || day > days_in_month(y, m) {
        return Err(bad());
    }
    let mut secs = days_from_civil(y, m, day) * 86_400;
    if let Some(t) = time {
        let parts: Vec<&str> = t.split(':').collect();
        let [h, mi, se] = parts.as_slice() else {
            return Err(bad());
        };
        let (h, mi, se) = (num(h, 2)?, num(mi, 2)?, num(se, 2)?);
        if h > 23 || mi > 59 || se > 59 {
            return Err(bad());
        }
        secs += h * 3600 + mi * 60 + se;
    }
    Ok(secs)
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date on or after it (proleptic Gregorian).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `aggregate:` → [`Aggregate`]; `timeout` is the route's (a call's default).
pub(super) fn aggregate(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawAggregate>,
    path: &str,
    upstreams: &[Upstream],
    timeout: Duration,
) -> Option<Aggregate> {
    let r = &raw.value;
    let here = ctx.at(raw);
    let merge = ctx.field(&r.merge, &p(path, "merge"), Merge::Keys, |s| match s {
        "keys" => Ok(Merge::Keys),
        "deep" => Ok(Merge::Deep),
        _ => Err(format!("unknown merge `{s}`: expected `keys` or `deep`")),
    });
    let max_concurrency =
        ctx.count(&r.max_concurrency, &p(path, "max_concurrency"), 8, 1, 64) as usize;
    let max_body = ctx.size(&r.max_body, &p(path, "max_body"), 1 << 20, 1, 1 << 30);
    let Some(list) = &r.calls else {
        ctx.err(here, &p(path, "calls"), "missing required field `calls`");
        return None;
    };
    if list.value.is_empty() || list.value.len() > MAX_CALLS {
        let loc = ctx.at(list);
        ctx.err(
            loc,
            &p(path, "calls"),
            format!("list between 1 and {MAX_CALLS} calls"),
        );
        return None;
    }
    let mut calls: Vec<Call> = Vec::new();
    let mut ok = true;
    for (i, item) in list.value.iter().enumerate() {
        let at = format!("{path}.calls[{i}]");
        match call(ctx, item, &at, upstreams, timeout, &calls) {
            Some(c) => calls.push(c),
            None => ok = false,
        }
    }
    ok.then_some(Aggregate {
        calls,
        merge,
        max_concurrency,
        max_body,
    })
}

fn call(
    ctx: &mut Ctx<'_>,
    item: &Sp<RawCall>,
    path: &str,
    upstreams: &[Upstream],
    timeout: Duration,
    earlier: &[Call],
) -> Option<Call> {
    let r = &item.value;
    let here = ctx.at(item);
    let name = ctx.required(&r.name, here, &p(path, "name"))?;
    if earlier.iter().any(|c| c.name == name.value) || name.value == "errors" {
        let loc = ctx.at(name);
        ctx.err(
            loc,
            &p(path, "name"),
            format!(
                "call name `{}` is used twice or reserved (`errors`)",
                name.value
            ),
        );
        return None;
    }
    let name = name.value.clone();
    let upath = p(path, "upstream");
    let u = ctx.required(&r.upstream, here, &upath)?;
    let defined: Vec<&str> = upstreams.iter().map(|k| k.name.as_str()).collect();
    let upstream = ctx.reference("upstream", u, &upath, &defined)?;
    let method = ctx.field(&r.method, &p(path, "method"), http::Method::GET, method);
    let required = ctx.field(&r.required, &p(path, "required"), true, parse_bool);
    let timeout = ctx.timeout(&r.timeout, &p(path, "timeout"), timeout);
    let headers = templated_fields(ctx, r.headers.as_ref(), &p(path, "headers"));
    let after = match &r.after {
        Some(a) => {
            let names: Vec<&str> = earlier.iter().map(|c| c.name.as_str()).collect();
            Some(ctx.reference("earlier call", a, &p(path, "after"), &names)?)
        }
        None => None,
    };
    let target = ctx.required(&r.path, here, &p(path, "path"))?;
    let parts = ctx.value(target, &p(path, "path"), |s| call_path(s, earlier, after))?;
    Some(Call {
        name,
        upstream,
        method,
        path: parts,
        headers,
        timeout,
        required,
        after,
    })
}

/// A call's path: text with request variables and `{NAME:/pointer}`
/// pieces naming the call's `after` call.
fn call_path(s: &str, earlier: &[Call], after: Option<usize>) -> Result<Vec<CallPart>, String> {
    if !s.starts_with('/') {
        return Err(format!("`{s}` must start with `/`"));
    }
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("`{{` without `}}` in `{s}`"))?
            + open;
        let inner = &rest[open + 1..close];
        let (name, pointer) = inner.split_once(':').ok_or_else(|| {
            format!(
                "`{{{inner}}}` must be `{{CALL:/pointer}}`, a value from an earlier call's answer"
            )
        })?;
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return Err(format!(
                "`{pointer}` is not a JSON Pointer: start it with `/`"
            ));
        }
        let call = earlier.iter().position(|c| c.name == name);
        if call.is_none() || call != after {
            return Err(format!(
                "`{{{inner}}}` names call `{name}`: a value can only come from the call named in `after`"
            ));
        }
        if open > 0 {
            parts.push(CallPart::Text(Template::parse(&rest[..open])?));
        }
        parts.push(CallPart::Answer {
            call: call.unwrap_or(0),
            pointer: pointer.to_string(),
        });
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(CallPart::Text(Template::parse(rest)?));
    }
    Ok(parts)
}
