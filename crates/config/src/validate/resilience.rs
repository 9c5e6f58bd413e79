//! Validation of an upstream's `retries`, `circuit_breaker` and `sticky`.

use std::time::Duration;

use super::{p, Ctx};
use crate::raw::*;
use crate::typed::*;
use crate::units::{parse_bool, parse_duration, parse_percent};

/// What `retries.on` accepts, as written.
const RETRY_CONDITIONS: &str =
    "`connect_error`, `reset`, `timeout` or a status code from 500 to 599";

/// `retries`.
pub(super) fn retries(ctx: &mut Ctx<'_>, raw: &RawRetries, path: &str) -> Retries {
    let mut r = Retries {
        attempts: ctx.count(&raw.attempts, &p(path, "attempts"), 2, 0, 10) as u32,
        on: RetryOn {
            connect_error: true,
            reset: true,
            timeout: false,
            statuses: vec![502, 503, 504],
        },
        non_idempotent: false,
        backoff_base: Duration::from_millis(25),
        backoff_max: Duration::from_millis(250),
        budget_percent: 20,
        min_per_second: 3,
        buffer_body: 64 * 1024,
    };
    if let Some(list) = &raw.on {
        r.on = RetryOn::default();
        for (i, item) in list.value.iter().enumerate() {
            let at = format!("{}[{i}]", p(path, "on"));
            let on = &mut r.on;
            ctx.value(item, &at, |s| {
                match s {
                    "connect_error" => on.connect_error = true,
                    "reset" => on.reset = true,
                    "timeout" => on.timeout = true,
                    _ => match s.parse::<u16>() {
                        Ok(code) if (500..=599).contains(&code) => on.statuses.push(code),
                        _ => return Err(format!("expected {RETRY_CONDITIONS}, got `{s}`")),
                    },
                }
                Ok(())
            });
        }
    }
    r.non_idempotent = ctx.field(&raw.methods, &p(path, "methods"), false, |s| match s {
        "idempotent" => Ok(false),
        "all" => Ok(true),
        _ => Err(format!("expected `idempotent` or `all`, got `{s}`")),
    });
    if let Some(b) = &raw.backoff {
        let bp = p(path, "backoff");
        r.backoff_base = ctx.field(
            &b.value.base,
            &p(&bp, "base"),
            r.backoff_base,
            parse_duration,
        );
        r.backoff_max = ctx.field(&b.value.max, &p(&bp, "max"), r.backoff_max, parse_duration);
        if r.backoff_max < r.backoff_base {
            let loc = ctx.at(b);
            ctx.err(loc, &bp, "`max` must not be shorter than `base`");
        }
    }
    r.budget_percent = u32::from(ctx.field(&raw.budget, &p(path, "budget"), 20, parse_percent));
    r.min_per_second = ctx.count(
        &raw.min_per_second,
        &p(path, "min_per_second"),
        3,
        0,
        100_000,
    ) as u32;
    if let (Some(b), 0, 0, 1..) = (&raw.budget, r.budget_percent, r.min_per_second, r.attempts) {
        let loc = ctx.at(b);
        ctx.err(
            loc,
            &p(path, "budget"),
            "with `min_per_second: 0`, a budget of `0%` allows no retry at all; raise one of them (or leave out `retries`)",
        );
    }
    r.buffer_body = ctx.size(
        &raw.buffer_body,
        &p(path, "buffer_body"),
        r.buffer_body,
        0,
        64 << 20,
    );
    r
}

/// `circuit_breaker`.
pub(super) fn breaker(ctx: &mut Ctx<'_>, raw: &RawBreaker, path: &str) -> CircuitBreakerConfig {
    let max_requests = raw.max_requests.as_ref().map(|_| {
        ctx.count(
            &raw.max_requests,
            &p(path, "max_requests"),
            1,
            1,
            u32::MAX.into(),
        ) as usize
    });
    let max_connections = raw.max_connections.as_ref().map(|_| {
        ctx.count(
            &raw.max_connections,
            &p(path, "max_connections"),
            1,
            1,
            u32::MAX.into(),
        ) as usize
    });
    let max_pending = ctx.count(
        &raw.max_pending,
        &p(path, "max_pending"),
        1024,
        0,
        u32::MAX.into(),
    ) as usize;
    if let (Some(v), None) = (&raw.max_pending, &max_connections) {
        let loc = ctx.at(v);
        ctx.err(
            loc,
            &p(path, "max_pending"),
            "`max_pending` counts requests waiting for a connection under `max_connections`; set `max_connections` too",
        );
    }
    let error_rate = raw.error_rate.as_ref().map(|e| {
        let ep = p(path, "error_rate");
        let e = &e.value;
        ErrorRate {
            threshold_percent: ctx.field(&e.threshold, &p(&ep, "threshold"), 50, |s| {
                match parse_percent(s)? {
                    0 => Err("must be above 0%".to_string()),
                    n => Ok(n),
                }
            }),
            min_requests: ctx.count(&e.min_requests, &p(&ep, "min_requests"), 20, 1, 1_000_000)
                as u32,
            window: ctx.timeout(&e.window, &p(&ep, "window"), Duration::from_secs(10)),
            open_for: ctx.timeout(&e.open_for, &p(&ep, "open_for"), Duration::from_secs(30)),
            probes: ctx.count(&e.probes, &p(&ep, "probes"), 3, 1, 1000) as u32,
        }
    });
    CircuitBreakerConfig {
        max_requests,
        max_connections,
        max_pending,
        error_rate,
    }
}

/// `sticky`.
pub(super) fn sticky(ctx: &mut Ctx<'_>, item: &Sp<RawSticky>, path: &str) -> Sticky {
    let raw = &item.value;
    let cookie = ctx.field(
        &raw.cookie,
        &p(path, "cookie"),
        "tollgate_sticky".to_string(),
        |s| {
            let token = !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if token {
                Ok(s.to_string())
            } else {
                Err(format!(
                    "invalid cookie name `{s}`: use letters, digits and !#$%&'*+-.^_`|~"
                ))
            }
        },
    );
    let max_age = raw
        .max_age
        .as_ref()
        .map(|_| ctx.timeout(&raw.max_age, &p(path, "max_age"), Duration::from_secs(3600)));
    let cookie_path = ctx.field(&raw.path, &p(path, "path"), "/".to_string(), |s| {
        if s.starts_with('/') && !s.bytes().any(|b| b == b';' || b.is_ascii_control()) {
            Ok(s.to_string())
        } else {
            Err(format!(
                "invalid cookie path `{s}`: must start with `/` and hold no `;`"
            ))
        }
    });
    let same_site = ctx.field(&raw.same_site, &p(path, "same_site"), None, |s| match s {
        "lax" | "Lax" => Ok(Some("Lax".to_string())),
        "strict" | "Strict" => Ok(Some("Strict".to_string())),
        "none" | "None" => Ok(Some("None".to_string())),
        _ => Err(format!("expected `lax`, `strict` or `none`, got `{s}`")),
    });
    let secure = ctx.field(&raw.secure, &p(path, "secure"), false, parse_bool);
    if let (Some("None"), false, Some(v)) = (same_site.as_deref(), secure, &raw.same_site) {
        let loc = ctx.at(v);
        ctx.err(
            loc,
            &p(path, "same_site"),
            "`same_site: none` needs `secure: true`: browsers drop `SameSite=None` cookies without `Secure`",
        );
    }
    Sticky {
        cookie,
        max_age,
        path: cookie_path,
        secure,
        http_only: ctx.field(&raw.http_only, &p(path, "http_only"), true, parse_bool),
        same_site,
    }
}
