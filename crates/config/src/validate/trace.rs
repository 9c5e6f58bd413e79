//! `tracing:`: the OTLP endpoint, the sampling ratio and the export
//! queue; `metrics:`: the per-consumer series.

use std::time::Duration;

use super::Ctx;
use crate::raw::{RawMetrics, RawOtlp, RawTracing, Sp};
use crate::typed::{ConsumerMetrics, Gateway, OtlpEndpoint, Tracing};

/// The path OTLP/HTTP collectors take traces on.
const TRACES_PATH: &str = "/v1/traces";

/// Validates `tracing:`; absent means tracing is off.
pub(super) fn tracing(ctx: &mut Ctx<'_>, raw: Option<&Sp<RawTracing>>) -> Option<Tracing> {
    let raw = raw?;
    let r = &raw.value;
    let otlp = match &r.otlp {
        Some(o) => otlp(ctx, o),
        None => {
            let loc = ctx.at(raw);
            ctx.err(loc, "tracing.otlp", "missing required field `otlp`");
            None
        }
    };
    let sample_ratio = ctx.field(&r.sample_ratio, "tracing.sample_ratio", 1.0, |s| {
        let v = s.trim_end_matches('%');
        let n: f64 = v
            .parse()
            .map_err(|_| format!("expected a number from 0 to 1 (or `5%`), got `{s}`"))?;
        let n = if v.len() < s.len() { n / 100.0 } else { n };
        if !(0.0..=1.0).contains(&n) {
            return Err(format!("must be between 0 and 1 (0% and 100%), got `{s}`"));
        }
        Ok(n)
    });
    let service_name = ctx.field(
        &r.service_name,
        "tracing.service_name",
        "tollgate".into(),
        |s| {
            if s.is_empty() {
                return Err("must not be empty".into());
            }
            Ok(s.to_string())
        },
    );
    let queue = ctx.count(&r.queue, "tracing.queue", 2048, 1, 1 << 20) as usize;
    let batch = ctx.count(&r.batch, "tracing.batch", 512, 1, 65536) as usize;
    let batch_delay = ctx.timeout(
        &r.batch_delay,
        "tracing.batch_delay",
        Duration::from_secs(1),
    );
    Some(Tracing {
        otlp: otlp?,
        sample_ratio,
        service_name,
        queue,
        batch,
        batch_delay,
    })
}

fn otlp(ctx: &mut Ctx<'_>, raw: &Sp<RawOtlp>) -> Option<OtlpEndpoint> {
    let r = &raw.value;
    let timeout = ctx.timeout(&r.timeout, "tracing.otlp.timeout", Duration::from_secs(10));
    let loc = ctx.at(raw);
    let endpoint = ctx.required(&r.endpoint, loc, "tracing.otlp.endpoint")?;
    let (host, port, path) = ctx.value(endpoint, "tracing.otlp.endpoint", parse_endpoint)?;
    Some(OtlpEndpoint {
        host,
        port,
        path,
        timeout,
    })
}

/// `http://host[:port][/path]`: the collector's address and path.
fn parse_endpoint(s: &str) -> Result<(String, u16, String), String> {
    let uri: http::Uri = s.parse().map_err(|_| {
        format!("expected a URL such as `http://127.0.0.1:4318/v1/traces`, got `{s}`")
    })?;
    match uri.scheme_str() {
        Some("http") => {}
        // The exporter speaks plain HTTP: a collector on the same host or
        // network (its usual place) needs no TLS.
        Some("https") => {
            return Err(format!(
                "`https` is not supported: send to a collector over `http`, got `{s}`"
            ))
        }
        _ => return Err(format!("expected an `http://` URL, got `{s}`")),
    }
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("the URL names no host: `{s}`"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let path = match uri.path() {
        "" | "/" => TRACES_PATH.to_string(),
        p => p.to_string(),
    };
    Ok((host, uri.port_u16().unwrap_or(4318), path))
}

/// Validates `metrics:`: `consumers` (defined names) or `top_consumers`
/// (1..=1000), not both; absent means no per-consumer series.
pub(super) fn consumer_metrics(
    ctx: &mut Ctx<'_>,
    raw: Option<&Sp<RawMetrics>>,
    gateway: &Gateway,
) -> ConsumerMetrics {
    let Some(raw) = raw else {
        return ConsumerMetrics::Off;
    };
    let r = &raw.value;
    let given = [
        r.consumers.as_ref().map(|_| "consumers"),
        r.top_consumers.as_ref().map(|_| "top_consumers"),
    ];
    let loc = ctx.at(raw);
    if !ctx.exactly_one(
        loc,
        "metrics",
        &given,
        "`metrics` needs exactly one of `consumers` or `top_consumers`",
    ) {
        return ConsumerMetrics::Off;
    }
    if r.top_consumers.is_some() {
        let n = ctx.count(&r.top_consumers, "metrics.top_consumers", 10, 1, 1000);
        return ConsumerMetrics::Top(n as usize);
    }
    let defined: Vec<&str> = gateway.consumers.iter().map(|c| c.name.as_str()).collect();
    let mut names = Vec::new();
    for (i, name) in r.consumers.iter().flat_map(|l| &l.value).enumerate() {
        let path = format!("metrics.consumers[{i}]");
        if name.value == "other" {
            let loc = ctx.at(name);
            ctx.err(
                loc,
                &path,
                "`other` is the series of every consumer not listed",
            );
        } else if ctx.reference("consumer", name, &path, &defined).is_some() {
            names.push(name.value.clone());
        }
    }
    ConsumerMetrics::Listed(names)
}
