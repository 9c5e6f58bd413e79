//! `/metrics`: the admin listener's Prometheus exposition.
//!
//! The counters live where the work happens (per worker, in `proxy`);
//! at scrape time the backend sums them into [`Family`] values, plain data
//! with label strings, and [`encode`] writes them with `prometheus-client`
//! through a [`Collector`] that holds only that scrape's values. Nothing is
//! registered up front, so a series exists only when something reported it.

use std::fmt::Write;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// OpenTelemetry's advisory bucket bounds for `http.server.request.duration`,
/// in seconds; the last bucket (`+Inf`) is implied.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The value of one series.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A monotonic count.
    Counter(u64),
    /// A value that goes up and down.
    Gauge(f64),
    /// A histogram over [`DURATION_BUCKETS`]: `buckets[i]` counts the
    /// observations in bucket `i` alone (not cumulative); the extra last
    /// entry is `+Inf`.
    Histogram {
        /// Sum of the observations.
        sum: f64,
        /// Count per bucket, [`DURATION_BUCKETS`] then `+Inf`.
        buckets: [u64; 15],
    },
}

/// One metric family: a name, its help text and its series.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The name without the `_total` suffix of counters (the encoder adds it).
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Each series' labels (name, value) and value; all of one kind.
    pub series: Vec<(Vec<(&'static str, String)>, Value)>,
}

/// The scrape's families, encoded by `prometheus-client`.
#[derive(Debug)]
struct Scrape(Vec<Family>);

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.0 {
            let Some((_, first)) = family.series.first() else {
                continue;
            };
            let kind = match first {
                Value::Counter(_) => MetricType::Counter,
                Value::Gauge(_) => MetricType::Gauge,
                Value::Histogram { .. } => MetricType::Histogram,
            };
            let mut metric = encoder.encode_descriptor(family.name, family.help, None, kind)?;
            for (labels, value) in &family.series {
                let labels: Vec<(&str, &str)> =
                    labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let series = metric.encode_family(&labels)?;
                Sample(value).encode(series)?;
            }
        }
        Ok(())
    }
}

/// One value, encoded through the metric encoder of its series.
struct Sample<'a>(&'a Value);

impl EncodeMetric for Sample<'_> {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        match self.0 {
            Value::Counter(v) => encoder.encode_counter::<NoLabelSet, _, u64>(v, None),
            Value::Gauge(v) => encoder.encode_gauge(v),
            Value::Histogram { sum, buckets } => {
                let count = buckets.iter().sum();
                let bounds = DURATION_BUCKETS.iter().copied().chain([f64::INFINITY]);
                let pairs: Vec<(f64, u64)> = bounds.zip(buckets.iter().copied()).collect();
                encoder.encode_histogram::<NoLabelSet>(*sum, count, &pairs, None)
            }
        }
    }

    fn metric_type(&self) -> MetricType {
        match self.0 {
            Value::Counter(_) => MetricType::Counter,
            Value::Gauge(_) => MetricType::Gauge,
            Value::Histogram { .. } => MetricType::Histogram,
        }
    }
}

/// The families as Prometheus text format 0.0.4, or as OpenMetrics text
/// (with its `# EOF`) when `openmetrics`.
pub fn encode(families: Vec<Family>, openmetrics: bool) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape(families)));
    let mut out = String::new();
    let written = if openmetrics {
        prometheus_client::encoding::text::encode(&mut out, &registry)
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
    };
    if written.is_err() {
        // Writing to a String cannot fail; a label the encoder refuses
        // is the only way here, and a partial page would mislead.
        out.clear();
        let _ = writeln!(out, "# metrics could not be encoded");
    }
    out
}

/// The bucket index of `seconds` in [`DURATION_BUCKETS`] (14 for `+Inf`).
pub fn bucket_of(seconds: f64) -> usize {
    DURATION_BUCKETS
        .iter()
        .position(|b| seconds <= *b)
        .unwrap_or(DURATION_BUCKETS.len())
}

#[cfg(test)]
mod tests;
