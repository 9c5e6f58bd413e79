//! The dashboard's history: every [`INTERVAL`] the admin thread sums the
//! same per-worker counters `/metrics` reads into one [`Sample`], and keeps
//! the last [`KEEP`] of them. Rates, error rates and latency quantiles are
//! differences between two samples, so no Prometheus is needed to watch
//! tollgate, and the data path does no extra work for the dashboard.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::metrics::{Family, Value as Metric, DURATION_BUCKETS};

/// How often a sample is taken.
pub(crate) const INTERVAL: Duration = Duration::from_secs(2);
/// How many samples are kept: five minutes at [`INTERVAL`].
pub(crate) const KEEP: usize = 150;
/// The span latency quantiles are computed over.
const QUANTILE_SPAN: Duration = Duration::from_secs(60);

/// Counts of one route or upstream since start.
#[derive(Debug, Clone, Default, PartialEq)]
struct Traffic {
    requests: u64,
    /// Answers with a 5xx status.
    errors: u64,
    /// Duration histogram, per bucket (not cumulative), `+Inf` last.
    buckets: [u64; 15],
}

/// Every counter the dashboard shows, at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sample {
    at: Option<SystemTime>,
    routes: BTreeMap<String, Traffic>,
    upstreams: BTreeMap<String, Traffic>,
    /// Auth decisions by (policy, result).
    auth: BTreeMap<(String, String), u64>,
    /// Limit refusals by policy.
    limits: BTreeMap<String, u64>,
    /// Requests by consumer, from any counter with a `consumer` label.
    consumers: BTreeMap<String, u64>,
}

impl Sample {
    /// Sums `families` taken at `at`.
    pub(crate) fn of(families: &[Family], at: SystemTime) -> Self {
        let mut s = Sample {
            at: Some(at),
            ..Sample::default()
        };
        for f in families {
            for (labels, value) in &f.series {
                s.add(f.name, labels, value);
            }
        }
        s
    }

    fn add(&mut self, family: &str, labels: &[(&'static str, String)], value: &Metric) {
        let label = |name: &str| labels.iter().find(|(k, _)| *k == name).map(|(_, v)| v);
        match (family, value) {
            ("tollgate_requests", Metric::Counter(n)) => {
                let error = label("code").is_some_and(|c| c.starts_with('5'));
                let count = |t: &mut Traffic| {
                    t.requests += n;
                    t.errors += if error { *n } else { 0 };
                };
                if let Some(r) = label("route") {
                    count(self.routes.entry(r.clone()).or_default());
                }
                if let Some(u) = label("upstream") {
                    count(self.upstreams.entry(u.clone()).or_default());
                }
            }
            ("tollgate_request_duration_seconds", Metric::Histogram { buckets, .. }) => {
                if let Some(r) = label("route") {
                    add_buckets(
                        &mut self.routes.entry(r.clone()).or_default().buckets,
                        buckets,
                    );
                }
            }
            ("tollgate_upstream_duration_seconds", Metric::Histogram { buckets, .. }) => {
                if let Some(u) = label("upstream") {
                    let t = self.upstreams.entry(u.clone()).or_default();
                    add_buckets(&mut t.buckets, buckets);
                }
            }
            ("tollgate_auth_decisions", Metric::Counter(n)) => {
                let key = (
                    label("policy").cloned().unwrap_or_default(),
                    label("result").cloned().unwrap_or_default(),
                );
                *self.auth.entry(key).or_default() += n;
            }
            ("tollgate_limit_refusals", Metric::Counter(n)) => {
                let policy = label("policy").cloned().unwrap_or_default();
                *self.limits.entry(policy).or_default() += n;
            }
            (name, Metric::Counter(n)) if name.ends_with("requests") => {
                if let Some(c) = label("consumer") {
                    *self.consumers.entry(c.clone()).or_default() += n;
                }
            }
            _ => {}
        }
    }
}

fn add_buckets(into: &mut [u64; 15], from: &[u64; 15]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

/// The last [`KEEP`] samples, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Ring {
    samples: VecDeque<Sample>,
}

impl Ring {
    /// Adds `sample`, forgetting the oldest beyond [`KEEP`].
    pub(crate) fn push(&mut self, sample: Sample) {
        if self.samples.len() == KEEP {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    /// `/dashboard/data`: per route and upstream the request rate and
    /// error rate of the last interval and their history, latency
    /// quantiles over the last minute; refusals and top consumers.
    pub(crate) fn data(&self) -> Value {
        let newest = self.samples.back().cloned().unwrap_or_default();
        let minute_ago = self.sample_before(QUANTILE_SPAN);
        let traffic = |pick: fn(&Sample) -> &BTreeMap<String, Traffic>| -> Vec<Value> {
            pick(&newest)
                .iter()
                .map(|(name, now)| {
                    let series = self.series(|s| pick(s).get(name).cloned().unwrap_or_default());
                    let old = pick(minute_ago).get(name).cloned().unwrap_or_default();
                    traffic_json(name, now, &old, series)
                })
                .collect()
        };
        let total = self.series(|s| {
            let mut t = Traffic::default();
            for r in s.routes.values() {
                t.requests += r.requests;
                t.errors += r.errors;
            }
            t
        });
        let auth: Vec<Value> = newest
            .auth
            .iter()
            .map(|((policy, result), n)| {
                let before = minute_ago.auth.get(&(policy.clone(), result.clone()));
                json!({ "policy": policy, "result": result, "count": n,
                        "last_minute": n.saturating_sub(before.copied().unwrap_or(0)) })
            })
            .collect();
        let limits: Vec<Value> = newest
            .limits
            .iter()
            .map(|(policy, n)| {
                let before = minute_ago.limits.get(policy).copied().unwrap_or(0);
                json!({ "policy": policy, "count": n, "last_minute": n.saturating_sub(before) })
            })
            .collect();
        let mut consumers: Vec<(&String, &u64)> = newest.consumers.iter().collect();
        consumers.sort_by(|a, b| b.1.cmp(a.1));
        json!({
            "interval_seconds": INTERVAL.as_secs(),
            "samples": self.samples.len(),
            "at": newest.at.map(epoch_millis),
            "total": series_json(&total),
            "routes": traffic(|s| &s.routes),
            "upstreams": traffic(|s| &s.upstreams),
            "auth": auth,
            "limits": limits,
            "consumers": consumers.iter().take(10)
                .map(|(c, n)| json!({ "name": c, "requests": n })).collect::<Vec<_>>(),
        })
    }

    /// The newest sample taken at least `span` before the newest one, or
    /// the oldest kept.
    fn sample_before(&self, span: Duration) -> &Sample {
        static EMPTY: Sample = Sample {
            at: None,
            routes: BTreeMap::new(),
            upstreams: BTreeMap::new(),
            auth: BTreeMap::new(),
            limits: BTreeMap::new(),
            consumers: BTreeMap::new(),
        };
        let Some(newest) = self.samples.back().and_then(|s| s.at) else {
            return &EMPTY;
        };
        self.samples
            .iter()
            .rev()
            .find(|s| s.at.is_some_and(|at| at + span <= newest))
            .or(self.samples.front())
            .unwrap_or(&EMPTY)
    }

    /// Per interval between consecutive samples: (seconds, Δ of `of`).
    fn series(&self, of: impl Fn(&Sample) -> Traffic) -> Vec<(f64, Traffic)> {
        let values: Vec<(Option<SystemTime>, Traffic)> =
            self.samples.iter().map(|s| (s.at, of(s))).collect();
        values
            .windows(2)
            .map(|w| {
                let secs = match (w[0].0, w[1].0) {
                    (Some(a), Some(b)) => b.duration_since(a).unwrap_or_default().as_secs_f64(),
                    _ => 0.0,
                };
                (secs, delta(&w[1].1, &w[0].1))
            })
            .collect()
    }
}

/// `now - old`, counter by counter (a counter that went back, as after a
/// reload renamed things, counts as 0).
fn delta(now: &Traffic, old: &Traffic) -> Traffic {
    let mut buckets = [0; 15];
    for (i, b) in buckets.iter_mut().enumerate() {
        *b = now.buckets[i].saturating_sub(old.buckets[i]);
    }
    Traffic {
        requests: now.requests.saturating_sub(old.requests),
        errors: now.errors.saturating_sub(old.errors),
        buckets,
    }
}

/// Requests per second and error rate per interval, and the last ones.
fn series_json(series: &[(f64, Traffic)]) -> Value {
    let rate = |(secs, t): &(f64, Traffic)| {
        if *secs > 0.0 {
            t.requests as f64 / secs
        } else {
            0.0
        }
    };
    let error_rate = |(_, t): &(f64, Traffic)| {
        if t.requests > 0 {
            t.errors as f64 / t.requests as f64
        } else {
            0.0
        }
    };
    json!({
        "rps": series.last().map_or(0.0, rate),
        "error_rate": series.last().map_or(0.0, error_rate),
        "rps_series": series.iter().map(rate).collect::<Vec<_>>(),
        "error_series": series.iter().map(error_rate).collect::<Vec<_>>(),
    })
}

/// One route's or upstream's rates, history and latency quantiles.
fn traffic_json(name: &str, now: &Traffic, old: &Traffic, series: Vec<(f64, Traffic)>) -> Value {
    let mut v = series_json(&series);
    let recent = delta(now, old);
    v["name"] = json!(name);
    v["requests"] = json!(now.requests);
    v["errors"] = json!(now.errors);
    for (key, q) in [("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)] {
        v[key] = json!(quantile(&recent.buckets, q).map(|s| s * 1000.0));
    }
    v
}

/// The `q` quantile of a histogram, interpolated linearly inside its
/// bucket (as Prometheus' `histogram_quantile` does); `None` when empty.
/// Past the last finite bound the answer is that bound.
pub(crate) fn quantile(buckets: &[u64; 15], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut seen = 0u64;
    for (i, &n) in buckets.iter().enumerate() {
        if n > 0 && (seen + n) as f64 >= rank {
            let Some(&upper) = DURATION_BUCKETS.get(i) else {
                return DURATION_BUCKETS.last().copied();
            };
            let lower = if i == 0 { 0.0 } else { DURATION_BUCKETS[i - 1] };
            let within = (rank - seen as f64) / n as f64;
            return Some(lower + (upper - lower) * within.clamp(0.0, 1.0));
        }
        seen += n;
    }
    DURATION_BUCKETS.last().copied()
}

fn epoch_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests(route: &str, code: u16, n: u64) -> Family {
        Family {
            name: "tollgate_requests",
            help: "",
            series: vec![(
                vec![
                    ("route", route.to_string()),
                    ("upstream", "app".to_string()),
                    ("code", code.to_string()),
                ],
                Metric::Counter(n),
            )],
        }
    }

    #[test]
    fn rates_come_from_the_difference_of_two_samples() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1000);
        let mut ring = Ring::default();
        ring.push(Sample::of(&[requests("api", 200, 10)], t0));
        let later = [requests("api", 200, 30), requests("api", 502, 10)];
        ring.push(Sample::of(&later, t0 + Duration::from_secs(2)));
        let data = ring.data();
        let api = &data["routes"][0];
        assert_eq!(api["name"], "api");
        assert_eq!(api["rps"], 15.0); // (40 - 10) / 2 s
        assert_eq!(api["error_rate"], 1.0 / 3.0);
        assert_eq!(data["upstreams"][0]["name"], "app");
        assert_eq!(data["total"]["rps"], 15.0);
    }

    #[test]
    fn the_ring_keeps_five_minutes() {
        let mut ring = Ring::default();
        for i in 0..KEEP + 10 {
            ring.push(Sample::of(
                &[],
                UNIX_EPOCH + Duration::from_secs(i as u64 * 2),
            ));
        }
        assert_eq!(ring.samples.len(), KEEP);
    }

    #[test]
    fn quantiles_interpolate_inside_a_bucket() {
        let mut b = [0u64; 15];
        b[0] = 50; // <= 5 ms
        b[1] = 50; // 5-10 ms
        let p50 = quantile(&b, 0.5).unwrap();
        assert!((p50 - 0.005).abs() < 1e-9, "{p50}");
        let p99 = quantile(&b, 0.99).unwrap();
        assert!(p99 > 0.009 && p99 <= 0.01, "{p99}");
        assert_eq!(quantile(&[0; 15], 0.5), None);
        let mut slow = [0u64; 15];
        slow[14] = 1; // +Inf
        assert_eq!(quantile(&slow, 0.5), Some(10.0));
    }
}
