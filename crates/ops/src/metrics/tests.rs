use super::*;

fn sample() -> Vec<Family> {
    let mut buckets = [0; 15];
    buckets[bucket_of(0.003)] += 1;
    buckets[bucket_of(0.2)] += 2;
    buckets[bucket_of(30.0)] += 1;
    vec![
        Family {
            name: "tollgate_requests",
            help: "Requests answered.",
            series: vec![(
                vec![("route", "api".into()), ("code", "200".into())],
                Value::Counter(7),
            )],
        },
        Family {
            name: "tollgate_request_duration_seconds",
            help: "Time from request head to last byte sent.",
            series: vec![(
                vec![("route", "api".into())],
                Value::Histogram { sum: 30.5, buckets },
            )],
        },
        Family {
            name: "tollgate_empty",
            help: "Never written: no series.",
            series: vec![],
        },
    ]
}

#[test]
fn prometheus_text_has_counters_and_cumulative_buckets() {
    let text = encode(sample(), false);
    assert!(
        text.contains("# TYPE tollgate_requests_total counter"),
        "{text}"
    );
    assert!(
        text.contains("tollgate_requests_total{route=\"api\",code=\"200\"} 7"),
        "{text}"
    );
    assert!(
        text.contains("tollgate_request_duration_seconds_bucket{le=\"0.005\",route=\"api\"} 1")
            || text
                .contains("tollgate_request_duration_seconds_bucket{route=\"api\",le=\"0.005\"} 1"),
        "{text}"
    );
    assert!(text.contains("le=\"0.25\"} 3"), "{text}");
    assert!(text.contains("le=\"+Inf\"} 4"), "{text}");
    assert!(
        text.contains("tollgate_request_duration_seconds_count{route=\"api\"} 4"),
        "{text}"
    );
    assert!(!text.contains("tollgate_empty"), "{text}");
    assert!(!text.contains("# EOF"), "{text}");
}

#[test]
fn openmetrics_ends_with_eof() {
    let text = encode(sample(), true);
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains("tollgate_requests_total{route=\"api\",code=\"200\"} 7"),
        "{text}"
    );
}

#[test]
fn buckets_are_upper_inclusive() {
    assert_eq!(bucket_of(0.005), 0);
    assert_eq!(bucket_of(0.0051), 1);
    assert_eq!(bucket_of(10.0), 13);
    assert_eq!(bucket_of(10.1), 14);
}
