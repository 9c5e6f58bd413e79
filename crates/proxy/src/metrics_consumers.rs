//! Per-consumer series (`metrics: {consumers: [...]}` or `{top_consumers:
//! N}`): requests by consumer and status class. Counted only for requests
//! an auth policy identified, and only when configured, in a map per
//! worker thread (in `Carried`, under a lock no other worker takes);
//! bounded by the consumers the file defines plus `other`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tollgate_config::ConsumerMetrics;
use tollgate_ops::metrics::{Family, Value};

use crate::server::WorkerSlot;

/// Status classes, in slot order.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// One worker thread's counts: consumer name → requests per status class.
pub(crate) type ConsumerCounts = Arc<Mutex<BTreeMap<String, [u64; 5]>>>;

/// Counts one request of `consumer` answered with `status` under `mode`.
pub(crate) fn count(counts: &ConsumerCounts, mode: &ConsumerMetrics, consumer: &str, status: u16) {
    let name = match mode {
        ConsumerMetrics::Off => return,
        ConsumerMetrics::Listed(names) if !names.iter().any(|n| n == consumer) => "other",
        _ => consumer,
    };
    let class = usize::from(status / 100).clamp(1, 5) - 1;
    let mut map = counts.lock().unwrap_or_else(|p| p.into_inner());
    match map.get_mut(name) {
        Some(c) => c[class] += 1,
        None => {
            let mut c = [0; 5];
            c[class] = 1;
            map.insert(name.to_string(), c);
        }
    }
}

/// The family summed over the worker threads; with `top_consumers: N`,
/// the N consumers with the most requests and `other` for the rest.
pub(crate) fn families(slots: &[Arc<WorkerSlot>], mode: &ConsumerMetrics) -> Vec<Family> {
    if *mode == ConsumerMetrics::Off {
        return Vec::new();
    }
    let mut sums: BTreeMap<String, [u64; 5]> = BTreeMap::new();
    for slot in slots {
        let counts = slot.load_full().metrics.carried().consumers.clone();
        let map = counts.lock().unwrap_or_else(|p| p.into_inner());
        for (name, c) in map.iter() {
            let sum = sums.entry(name.clone()).or_default();
            for (s, v) in sum.iter_mut().zip(c) {
                *s += v;
            }
        }
    }
    if let ConsumerMetrics::Top(n) = mode {
        sums = top(sums, *n);
    }
    let series = sums
        .into_iter()
        .flat_map(|(name, c)| {
            CLASSES
                .iter()
                .zip(c)
                .filter(|(_, v)| *v > 0)
                .map(move |(class, v)| {
                    let labels = vec![("consumer", name.clone()), ("class", class.to_string())];
                    (labels, Value::Counter(v))
                })
        })
        .collect();
    vec![Family {
        name: "tollgate_consumer_requests",
        help: "Requests by the consumer an auth policy identified and status class (opt-in: metrics.consumers / metrics.top_consumers).",
        series,
    }]
}

/// The `n` consumers with the most requests (ties by name); the others
/// folded into `other`.
fn top(sums: BTreeMap<String, [u64; 5]>, n: usize) -> BTreeMap<String, [u64; 5]> {
    let mut ranked: Vec<(String, [u64; 5])> = sums.into_iter().collect();
    ranked.sort_by(|a, b| {
        let total = |c: &[u64; 5]| c.iter().sum::<u64>();
        total(&b.1).cmp(&total(&a.1)).then_with(|| a.0.cmp(&b.0))
    });
    let mut out = BTreeMap::new();
    let mut other = [0u64; 5];
    for (i, (name, c)) in ranked.into_iter().enumerate() {
        if i < n && name != "other" {
            out.insert(name, c);
        } else {
            for (o, v) in other.iter_mut().zip(c) {
                *o += v;
            }
        }
    }
    if other.iter().any(|v| *v > 0) {
        out.insert("other".to_string(), other);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_keeps_the_busiest_and_folds_the_rest() {
        let sums: BTreeMap<String, [u64; 5]> = [
            ("a".to_string(), [0, 5, 0, 0, 0]),
            ("b".to_string(), [0, 1, 0, 0, 0]),
            ("c".to_string(), [0, 2, 0, 1, 0]),
        ]
        .into_iter()
        .collect();
        let t = top(sums, 2);
        assert_eq!(t.keys().collect::<Vec<_>>(), ["a", "c", "other"]);
        assert_eq!(t["other"], [0, 1, 0, 0, 0]);
    }

    #[test]
    fn listed_mode_counts_others_as_other() {
        let counts = ConsumerCounts::default();
        let mode = ConsumerMetrics::Listed(vec!["a".into()]);
        count(&counts, &mode, "a", 200);
        count(&counts, &mode, "z", 503);
        count(&counts, &ConsumerMetrics::Off, "a", 200);
        let map = counts.lock().unwrap();
        assert_eq!(map["a"], [0, 1, 0, 0, 0]);
        assert_eq!(map["other"], [0, 0, 0, 0, 1]);
    }
}
