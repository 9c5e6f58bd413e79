//! Validation of the limiting policies (`rate_limit`, `quota`,
//! `concurrency_limit`): rates parsed once, keys, plans and overrides
//! checked against the consumers, and their place in the chain (a limit
//! by consumer needs an auth policy before it).

use std::sync::Arc;

use super::super::{header_name, p, Ctx, Loc};
use crate::raw::*;
use crate::typed::*;
use crate::units::parse_rate;

/// Keys kept per policy unless `max_keys` says otherwise.
const MAX_KEYS: u64 = 100_000;

/// `rate_limit:` → [`RateLimit`], defaults filled in.
pub(super) fn rate_limit(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawRateLimit>,
    path: &str,
) -> Option<LimitPolicy> {
    let r = &raw.value;
    let limits = match &r.limits {
        Some(l) => rates(ctx, l, &p(path, "limits")),
        None => {
            let loc = ctx.at(raw);
            ctx.err(
                loc,
                &p(path, "limits"),
                "missing required field `limits` (e.g. `limits: [100/s, 5000/h]`)",
            );
            None
        }
    };
    let burst = ctx.count(&r.burst, &p(path, "burst"), 0, 0, 1_000_000_000);
    let key = key(ctx, r.key.as_ref(), &p(path, "key"));
    let algorithm = ctx.field(
        &r.algorithm,
        &p(path, "algorithm"),
        Algorithm::Gcra,
        |s| match s {
            "gcra" => Ok(Algorithm::Gcra),
            "sliding_window" => Ok(Algorithm::SlidingWindow),
            _ => Err(format!(
                "unknown algorithm `{s}`; use `gcra` or `sliding_window`"
            )),
        },
    );
    let plans = overrides(ctx, r.plans.as_ref(), &p(path, "plans"), None);
    let consumers = ctx.consumers.clone();
    let consumers = overrides(
        ctx,
        r.consumers.as_ref(),
        &p(path, "consumers"),
        Some(&consumers),
    );
    let written = StoreFields {
        store: &r.store,
        mode: &r.mode,
        sync: &r.sync,
        on_store_error: &r.on_store_error,
        nodes: &r.nodes,
    };
    let store = store(ctx, &written, path, true);
    let headers = headers(ctx, &r.headers, &p(path, "headers"));
    let max_keys = max_keys(ctx, &r.max_keys, &p(path, "max_keys"));
    Some(LimitPolicy::RateLimit(Arc::new(RateLimit {
        name: policy_name(path, "rate_limit"),
        limits: limits?,
        burst,
        key: key?,
        algorithm,
        plans: plans?,
        consumers: consumers?,
        store: store?,
        headers,
        max_keys,
    })))
}

/// `quota:` → [`Quota`].
pub(super) fn quota(ctx: &mut Ctx<'_>, raw: &Sp<RawQuota>, path: &str) -> Option<LimitPolicy> {
    let r = &raw.value;
    let here = ctx.at(raw);
    let limit = ctx.required(&r.limit, here, &p(path, "limit")).cloned();
    let limit = limit.and_then(|l| ctx.value(&l, &p(path, "limit"), calendar_rate));
    let utc_offset = ctx.field(&r.time_zone, &p(path, "time_zone"), Some(0), |s| {
        utc_offset(s).map(Some)
    });
    let key = key(ctx, r.key.as_ref(), &p(path, "key"));
    let written = StoreFields {
        store: &r.store,
        mode: &r.mode,
        sync: &r.sync,
        on_store_error: &r.on_store_error,
        nodes: &r.nodes,
    };
    let store = store(ctx, &written, path, false);
    let headers = headers(ctx, &r.headers, &p(path, "headers"));
    let max_keys = max_keys(ctx, &r.max_keys, &p(path, "max_keys"));
    let (count, per) = limit?;
    Some(LimitPolicy::Quota(Arc::new(Quota {
        name: policy_name(path, "quota"),
        count,
        per,
        utc_offset: utc_offset?,
        key: key?,
        store: store?,
        headers,
        max_keys,
    })))
}

/// `concurrency_limit:` → [`ConcurrencyLimit`].
pub(super) fn concurrency(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawConcurrencyLimit>,
    path: &str,
) -> Option<LimitPolicy> {
    let r = &raw.value;
    let here = ctx.at(raw);
    let max = ctx.required(&r.max, here, &p(path, "max")).cloned();
    let max = max.and_then(|m| {
        ctx.value(&m, &p(path, "max"), |s| {
            match crate::units::parse_uint(s)? {
                0 => Err("must be at least 1".to_string()),
                n => Ok(n),
            }
        })
    });
    let key = key(ctx, r.key.as_ref(), &p(path, "key"));
    Some(LimitPolicy::Concurrency(Arc::new(ConcurrencyLimit {
        name: policy_name(path, "concurrency_limit"),
        max: max?,
        key: key?,
    })))
}

/// Reports each limit that counts by consumer with no auth policy before
/// it. `identified` says whether one ran before the chain.
pub(crate) fn check_order(
    ctx: &mut Ctx<'_>,
    chain: &[(Policy, Loc, String)],
    mut identified: bool,
) {
    for (policy, loc, path) in chain {
        match policy {
            Policy::Gateway(g) => identified |= g.identifies(),
            Policy::Limit(l) if l.needs_identity() && !identified => ctx.err(
                *loc,
                path,
                format!(
                    "`{}` counts by consumer but no auth policy (`key_auth`, `basic_auth` or `jwt`) comes before it in the chain",
                    l.kind()
                ),
            ),
            _ => {}
        }
    }
}

/// The name a policy has in answers and logs: `policies.NAME` gives NAME.
fn policy_name(path: &str, kind: &str) -> String {
    let outer = path.strip_suffix(kind).and_then(|s| s.strip_suffix('.'));
    match outer.and_then(|o| o.strip_prefix("policies.")) {
        Some(name) if !name.contains(['.', '[']) => name.to_string(),
        _ => kind.to_string(),
    }
}

/// A non-empty list of rates; `None` when any is bad (each reported).
fn rates(ctx: &mut Ctx<'_>, raw: &Sp<RawRates>, path: &str) -> Option<Vec<Rate>> {
    let loc = ctx.at(raw);
    if raw.value.0.is_empty() {
        ctx.err(loc, path, "list at least one rate, e.g. `100/s`");
        return None;
    }
    let mut out = Vec::with_capacity(raw.value.0.len());
    let mut ok = true;
    for (i, text) in raw.value.0.iter().enumerate() {
        match rate(text) {
            Ok(r) => out.push(r),
            Err(e) => {
                let at = if raw.value.0.len() == 1 {
                    path.to_string()
                } else {
                    format!("{path}[{i}]")
                };
                ctx.err(loc, &at, e);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// One rate of a `rate_limit`: `100/s`, `1000/min`, `5000/h`, `100000/day`.
pub(crate) fn rate(text: &str) -> Result<Rate, String> {
    if let Some((count, "month")) = text.split_once('/') {
        return Err(format!(
            "`{count}/month` is a calendar quota; use the `quota` policy for months"
        ));
    }
    let text_day = match text.split_once('/') {
        Some((count, "d" | "day")) => format!("{count}/24h"),
        _ => text.to_string(),
    };
    let (count, period) = parse_rate(&text_day).map_err(|e| e.replace(&text_day, text))?;
    Ok(Rate { count, period })
}

/// A quota's limit: `N/day` or `N/month`.
pub(crate) fn calendar_rate(text: &str) -> Result<(u64, Calendar), String> {
    let bad =
        || format!("invalid quota `{text}`: use count/day or count/month, e.g. `100000/month`");
    let (count, per) = text.split_once('/').ok_or_else(bad)?;
    let per = match per {
        "d" | "day" => Calendar::Day,
        "month" => Calendar::Month,
        _ => return Err(bad()),
    };
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match count.parse::<u64>() {
        Ok(n) if n >= 1 => Ok((n, per)),
        _ => Err(bad()),
    }
}

/// A fixed offset from UTC: `UTC`, `Z`, `+02:00`, `-05:30`.
pub(crate) fn utc_offset(text: &str) -> Result<i32, String> {
    let bad = || {
        format!("invalid time zone `{text}`: use `UTC` or a fixed offset such as `+02:00` (zone names are not supported)")
    };
    if text == "UTC" || text == "Z" {
        return Ok(0);
    }
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok(sign * (h * 3600 + m * 60))
}

/// Plans (`defined` is `None`: any group name) or per-consumer overrides
/// (names must be defined consumers).
fn overrides(
    ctx: &mut Ctx<'_>,
    raw: Option<&Sp<NamedMap<RawRates>>>,
    path: &str,
    defined: Option<&[String]>,
) -> Option<Vec<(String, Vec<Rate>)>> {
    let Some(map) = raw else {
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (name, rates_raw) in &map.value.0 {
        let at = format!("{path}.{}", name.value);
        if let Some(defined) = defined {
            let refs: Vec<&str> = defined.iter().map(String::as_str).collect();
            ok &= ctx.reference("consumer", name, &at, &refs).is_some();
        }
        match rates(ctx, rates_raw, &at) {
            Some(r) => out.push((name.value.clone(), r)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// A limit's key; absent means `consumer`, falling back to the client IP.
fn key(ctx: &mut Ctx<'_>, raw: Option<&Sp<RawLimitKey>>, path: &str) -> Option<LimitKey> {
    let Some(raw) = raw else {
        return Some(LimitKey::Consumer { written: false });
    };
    let loc = ctx.at(raw);
    let parsed = match &raw.value {
        RawLimitKey::Word(w) => match w.as_str() {
            "consumer" => Ok(LimitKey::Consumer { written: true }),
            "client_ip" => Ok(LimitKey::ClientIp),
            "route" => Ok(LimitKey::Route),
            t if t.contains('$') => Template::parse(t).map(LimitKey::Template),
            other => Err(format!(
                "unknown key `{other}`; use `consumer`, `client_ip`, `route`, a template with `$` variables, `{{header: NAME}}` or `{{jwt_claim: NAME}}`"
            )),
        },
        RawLimitKey::Map(entries) => match entries.as_slice() {
            [(k, v)] if k == "header" => header_name(v).map(LimitKey::Header),
            [(k, v)] if k == "jwt_claim" && !v.is_empty() => Ok(LimitKey::JwtClaim(v.clone())),
            _ => Err("a key map needs exactly one of `header` or `jwt_claim`, with a name".to_string()),
        },
    };
    match parsed {
        Ok(k) => Some(k),
        Err(e) => {
            ctx.err(loc, path, e);
            None
        }
    }
}

/// The store fields of a limit as written.
struct StoreFields<'r> {
    store: &'r Text,
    mode: &'r Text,
    sync: &'r Text,
    on_store_error: &'r Text,
    nodes: &'r Text,
}

/// `store: local` (default) or `store: redis` with its mode, sync,
/// on_store_error and nodes. `approximate` says whether the policy
/// offers `mode: approximate` (a quota's calendar count does not).
fn store(
    ctx: &mut Ctx<'_>,
    w: &StoreFields<'_>,
    path: &str,
    approximate: bool,
) -> Option<LimitStore> {
    let mut store_ok = true;
    let is_redis = match w.store {
        None => false,
        Some(s) => match s.value.as_str() {
            "local" => false,
            "redis" if ctx.redis_defined => true,
            other => {
                store_ok = false;
                let msg = match other {
                    "redis" => "`store: redis` needs a top-level `redis:` block, e.g. `redis: {url: redis://127.0.0.1:6379}`".to_string(),
                    _ => format!("unknown store `{other}`; use `local` or `redis`"),
                };
                let loc = ctx.at(s);
                ctx.err(loc, &p(path, "store"), msg);
                false
            }
        },
    };
    let mode = mode(ctx, w.mode, &p(path, "mode"), is_redis, approximate);
    let sync = ctx.timeout(w.sync, &p(path, "sync"), SYNC);
    let on_error = ctx.field(
        w.on_store_error,
        &p(path, "on_store_error"),
        OnStoreError::Local,
        |s| match s {
            "allow" => Ok(OnStoreError::Allow),
            "deny" => Ok(OnStoreError::Deny),
            "local" => Ok(OnStoreError::Local),
            _ => Err(format!(
                "unknown on_store_error `{s}`; use `allow`, `deny` or `local`"
            )),
        },
    );
    let nodes = ctx.count(w.nodes, &p(path, "nodes"), 1, 1, 10_000);
    for (field, given) in [
        ("sync", w.sync),
        ("on_store_error", w.on_store_error),
        ("nodes", w.nodes),
    ] {
        if let (Some(v), false, true) = (given, is_redis, store_ok) {
            let loc = ctx.at(v);
            ctx.err(
                loc,
                &p(path, field),
                format!("`{field}` applies to `store: redis` only"),
            );
        }
    }
    if !store_ok {
        return None;
    }
    if !is_redis {
        return Some(LimitStore::Local);
    }
    let mode = match mode? {
        false => StoreMode::Exact,
        true => StoreMode::Approximate { sync },
    };
    Some(LimitStore::Redis(SharedStore {
        mode,
        on_error,
        nodes,
    }))
}

/// Syncs of an approximate limit unless `sync` says otherwise.
const SYNC: std::time::Duration = std::time::Duration::from_millis(100);

/// `mode`: `exact` (default) or `approximate` (true); the local store is
/// always exact.
fn mode(ctx: &mut Ctx<'_>, raw: &Text, path: &str, is_redis: bool, offered: bool) -> Option<bool> {
    let Some(v) = raw else { return Some(false) };
    ctx.value(v, path, |s| match s {
        "exact" => Ok(false),
        "approximate" if !is_redis => Err(
            "`approximate` applies to the `redis` store only; the local store is exact".to_string(),
        ),
        "approximate" if !offered => Err(
            "a quota is counted exactly (`mode: exact`); `approximate` applies to `rate_limit`"
                .to_string(),
        ),
        "approximate" => Ok(true),
        _ => Err(format!("unknown mode `{s}`; use `exact` or `approximate`")),
    })
}

fn headers(ctx: &mut Ctx<'_>, raw: &Text, path: &str) -> RateHeaders {
    ctx.field(raw, path, RateHeaders::Ietf, |s| match s {
        "ietf" => Ok(RateHeaders::Ietf),
        "legacy" => Ok(RateHeaders::Legacy),
        "none" => Ok(RateHeaders::None),
        _ => Err(format!(
            "unknown headers `{s}`; use `ietf`, `legacy` or `none`"
        )),
    })
}

fn max_keys(ctx: &mut Ctx<'_>, raw: &Text, path: &str) -> usize {
    ctx.count(raw, path, MAX_KEYS, 64, 100_000_000) as usize
}
