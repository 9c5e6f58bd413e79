//! The scrape: every worker's counters summed by name into metric
//! families, and the upstream state (health, breakers) read as gauges.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use tollgate_balance::BreakerState;
use tollgate_ops::metrics::{Family, Value};

use crate::metrics::{HistogramSum, Totals};
use crate::server::WorkerSlot;
use crate::state::UpstreamState;

/// The sums of every worker's current generation and retired ones.
pub(crate) fn totals(slots: &[Arc<WorkerSlot>]) -> Totals {
    let mut totals = Totals::default();
    for slot in slots {
        let worker = slot.load_full();
        worker.metrics.add_to(&mut totals);
        let retired = worker.metrics.carried().retired.lock();
        totals.merge(&retired.unwrap_or_else(|p| p.into_inner()));
    }
    totals
}

/// Open connections and requests in flight per listener, summed over
/// the worker threads; `names` are the listeners' names by index.
pub(crate) fn listener_families(slots: &[Arc<WorkerSlot>], names: &[String]) -> Vec<Family> {
    let mut connections = vec![0i64; names.len()];
    let mut in_flight = vec![0i64; names.len()];
    for slot in slots {
        let gauges = slot.load_full().metrics.carried().gauges.clone();
        for (sum, g) in connections.iter_mut().zip(&*gauges.connections) {
            *sum += g.load(Relaxed);
        }
        for (sum, g) in in_flight.iter_mut().zip(&*gauges.in_flight) {
            *sum += g.load(Relaxed);
        }
    }
    let series = |values: Vec<i64>| {
        names
            .iter()
            .zip(values)
            .map(|(n, v)| (vec![("listener", n.clone())], Value::Gauge(v as f64)))
            .collect()
    };
    vec![
        Family {
            name: "tollgate_open_connections",
            help: "Client connections open now (HTTP listeners), by listener.",
            series: series(connections),
        },
        Family {
            name: "tollgate_requests_in_flight",
            help: "HTTP requests received and not yet answered in full, by listener.",
            series: series(in_flight),
        },
    ]
}

/// The labels of a per-target series.
fn target_labels(upstream: &str, target: &str) -> Vec<(&'static str, String)> {
    vec![
        ("upstream", upstream.to_string()),
        ("target", target.to_string()),
    ]
}

/// The request families of `totals`: requests, durations, bytes.
pub(crate) fn request_families(t: &Totals) -> Vec<Family> {
    let route = |name: &str| vec![("route", name.to_string())];
    let upstream = |name: &str| vec![("upstream", name.to_string())];
    let histogram = |h: &HistogramSum| Value::Histogram {
        sum: h.sum_nanos as f64 / 1e9,
        buckets: h.buckets,
    };
    vec![
        Family {
            name: "tollgate_requests",
            help: "Requests answered, by listener, route (empty: none matched), its upstream \
                   and status code.",
            series: t
                .requests
                .iter()
                .map(|((l, r, u, code), n)| {
                    let mut labels = vec![("listener", l.clone())];
                    labels.extend(route(r));
                    if !u.is_empty() {
                        labels.push(("upstream", u.clone()));
                    }
                    labels.push(("code", code.to_string()));
                    (labels, Value::Counter(*n))
                })
                .collect(),
        },
        Family {
            name: "tollgate_request_duration_seconds",
            help: "Time from the request head received to the last byte sent, by route.",
            series: t
                .durations
                .iter()
                .map(|(r, h)| (route(r), histogram(h)))
                .collect(),
        },
        Family {
            name: "tollgate_upstream_duration_seconds",
            help: "Time from sending upstream to its response head, by upstream.",
            series: t
                .upstream_durations
                .iter()
                .map(|(u, h)| (vec![("upstream", u.clone())], histogram(h)))
                .collect(),
        },
        Family {
            name: "tollgate_target_connect_duration_seconds",
            help: "Time to get a connection (about none when an idle one was reused) for \
                   attempts that got an answer, by upstream and target.",
            series: t
                .target_connect
                .iter()
                .map(|((u, target), h)| (target_labels(u, target), histogram(h)))
                .collect(),
        },
        Family {
            name: "tollgate_target_response_head_duration_seconds",
            help: "Time from sending upstream to its response head, by upstream and target.",
            series: t
                .target_head
                .iter()
                .map(|((u, target), h)| (target_labels(u, target), histogram(h)))
                .collect(),
        },
        Family {
            name: "tollgate_upstream_retries",
            help:
                "Retries sent (another attempt after a failure or a retryable status), by upstream.",
            series: t
                .retries
                .iter()
                .map(|(u, n)| (upstream(u), Value::Counter(*n)))
                .collect(),
        },
        Family {
            name: "tollgate_retry_budget_refusals",
            help: "Retries the retry budget refused, by upstream.",
            series: t
                .budget_refusals
                .iter()
                .map(|(u, n)| (upstream(u), Value::Counter(*n)))
                .collect(),
        },
        Family {
            name: "tollgate_auth_decisions",
            help: "Requests an auth policy decided, by policy and result (ok, or why it refused).",
            series: t
                .decisions
                .auth
                .iter()
                .map(|(a, n)| {
                    let (policy, result) = a.split_once(':').unwrap_or((a.as_str(), "ok"));
                    let labels = vec![("policy", policy.to_owned()), ("result", result.to_owned())];
                    (labels, Value::Counter(*n))
                })
                .collect(),
        },
        Family {
            name: "tollgate_limit_refusals",
            help: "Requests refused by a rate_limit, quota or concurrency_limit policy, by policy.",
            series: t
                .decisions
                .limited
                .iter()
                .map(|(l, n)| (vec![("policy", l.clone())], Value::Counter(*n)))
                .collect(),
        },
        Family {
            name: "tollgate_validation_failures",
            help: "Requests a validate policy refused (side=request) and answers it reported as not matching their schema (side=answer), by route.",
            series: t
                .decisions
                .validation
                .iter()
                .map(|((r, side), n)| {
                    let labels = vec![("route", r.clone()), ("side", (*side).to_owned())];
                    (labels, Value::Counter(*n))
                })
                .collect(),
        },
        Family {
            name: "tollgate_request_body_bytes",
            help: "Request body bytes received, by route.",
            series: t
                .bytes_in
                .iter()
                .map(|(r, n)| (route(r), Value::Counter(*n)))
                .collect(),
        },
        Family {
            name: "tollgate_response_body_bytes",
            help: "Response body bytes sent, by route.",
            series: t
                .bytes_out
                .iter()
                .map(|(r, n)| (route(r), Value::Counter(*n)))
                .collect(),
        },
    ]
}

/// The shared store's failed calls and breaker state, when `redis:` is
/// configured (read from the store itself: one per process).
pub(crate) fn store_families(
    store: Option<&tollgate_gateway::ratelimit::redis::RedisStore>,
) -> Vec<Family> {
    let Some(store) = store else {
        return Vec::new();
    };
    let labels = || vec![("store", "redis".to_owned())];
    vec![
        Family {
            name: "tollgate_limit_store_errors",
            help: "Calls to the rate-limit store that failed or got no answer within its timeout (the breaker's skipped calls are not counted).",
            series: vec![(labels(), Value::Counter(store.errors()))],
        },
        Family {
            name: "tollgate_limit_store_breaker_state",
            help: "The rate-limit store's breaker: 0 healthy, 1 failing, 2 open (on_store_error applies), 3 probing.",
            series: vec![(labels(), Value::Gauge(f64::from(store.state_code())))],
        },
    ]
}

/// Spans by fate when `tracing:` is on (no series without it).
pub(crate) fn trace_families(tracer: Option<&tollgate_ops::trace::Tracer>) -> Vec<Family> {
    let Some(stats) = tracer.map(|t| t.stats()) else {
        return Vec::new();
    };
    let counter = |n: u64| vec![(Vec::new(), Value::Counter(n))];
    vec![
        Family {
            name: "tollgate_trace_spans_exported",
            help: "Spans the OTLP collector accepted.",
            series: counter(stats.exported),
        },
        Family {
            name: "tollgate_trace_spans_dropped",
            help: "Spans dropped because the export queue was full.",
            series: counter(stats.dropped),
        },
        Family {
            name: "tollgate_trace_spans_failed",
            help:
                "Spans lost with an export request that failed (no connection, timeout, not 2xx).",
            series: counter(stats.failed),
        },
    ]
}

/// Per-target health and per-upstream breaker state, as gauges.
pub(crate) fn upstream_families(states: &[UpstreamState]) -> Vec<Family> {
    let mut health = Vec::new();
    let mut breaker = Vec::new();
    for u in states {
        for t in &u.targets {
            let labels = vec![("upstream", u.name.clone()), ("target", t.address.clone())];
            health.push((labels, Value::Gauge(f64::from(u8::from(t.available)))));
        }
        if let Some(state) = u.breaker {
            for (name, s) in [
                ("closed", BreakerState::Closed),
                ("open", BreakerState::Open),
                ("half_open", BreakerState::HalfOpen),
            ] {
                let labels = vec![("upstream", u.name.clone()), ("state", name.to_string())];
                breaker.push((labels, Value::Gauge(f64::from(u8::from(state == s)))));
            }
        }
    }
    vec![
        Family {
            name: "tollgate_target_up",
            help: "1 when a target may be sent requests (healthy and not ejected), else 0.",
            series: health,
        },
        Family {
            name: "tollgate_breaker_state",
            help: "1 for the state each upstream's breaker is in, 0 for the others.",
            series: breaker,
        },
    ]
}
