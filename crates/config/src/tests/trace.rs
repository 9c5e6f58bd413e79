//! `tracing:`: the OTLP endpoint, sampling and the export queue.

use super::*;

const REST: &str =
    "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}}]\n";

#[test]
fn absent_means_off() {
    assert_eq!(parse(REST).unwrap().tracing, None);
}

#[test]
fn defaults_apply_to_an_endpoint_alone() {
    let c = parse(&format!(
        "tracing: {{otlp: {{endpoint: \"http://collector.local\"}}}}\n{REST}"
    ))
    .unwrap();
    assert_eq!(
        c.tracing,
        Some(Tracing {
            otlp: OtlpEndpoint {
                host: "collector.local".into(),
                port: 4318,
                path: "/v1/traces".into(),
                timeout: Duration::from_secs(10),
            },
            sample_ratio: 1.0,
            service_name: "tollgate".into(),
            queue: 2048,
            batch: 512,
            batch_delay: Duration::from_secs(1),
        })
    );
}

#[test]
fn every_field_is_read() {
    let c = parse(&format!(
        "tracing: {{otlp: {{endpoint: \"http://[::1]:9000/otel/traces\", timeout: 2s}}, \
         sample_ratio: 5%, service_name: edge, queue: 10, batch: 3, batch_delay: 50ms}}\n{REST}"
    ))
    .unwrap();
    let t = c.tracing.unwrap();
    assert_eq!(t.otlp.host, "::1");
    assert_eq!(t.otlp.port, 9000);
    assert_eq!(t.otlp.authority(), "[::1]:9000");
    assert_eq!(t.otlp.path, "/otel/traces");
    assert_eq!(t.otlp.timeout, Duration::from_secs(2));
    assert!((t.sample_ratio - 0.05).abs() < 1e-9);
    assert_eq!(t.service_name, "edge");
    assert_eq!((t.queue, t.batch), (10, 3));
    assert_eq!(t.batch_delay, Duration::from_millis(50));
    let c = parse(&format!(
        "tracing: {{otlp: {{endpoint: \"http://127.0.0.1:4318\"}}, sample_ratio: 0}}\n{REST}"
    ))
    .unwrap();
    assert_eq!(c.tracing.unwrap().sample_ratio, 0.0);
}

#[test]
fn bad_values_are_located() {
    expect_errors(
        &format!(
            "tracing: {{otlp: {{endpoint: \"https://c:4318\"}}, sample_ratio: 1.5, queue: 0, \
             batch_delay: 0s, exporter: grpc}}\n{REST}"
        ),
        &[
            (1, "tracing.otlp.endpoint", "`https` is not supported"),
            (1, "tracing.sample_ratio", "must be between 0 and 1"),
            (1, "tracing.queue", "must be between 1 and"),
            (1, "tracing.batch_delay", "must be longer than zero"),
            (1, "tracing.exporter", "unknown field"),
        ],
    );
    expect_errors(
        &format!("tracing: {{sample_ratio: 0.5}}\n{REST}"),
        &[(1, "tracing.otlp", "missing required field `otlp`")],
    );
    expect_errors(
        &format!("tracing: {{otlp: {{endpoint: \"collector:4318\"}}}}\n{REST}"),
        &[(1, "tracing.otlp.endpoint", "expected an `http://` URL")],
    );
}

const CONSUMERS: &str = "consumers: [{name: app, api_keys: [k1]}, {name: web, api_keys: [k2]}]\n";

#[test]
fn per_consumer_metrics_are_opt_in_and_bounded() {
    assert_eq!(parse(REST).unwrap().consumer_metrics, ConsumerMetrics::Off);
    let c = parse(&format!("metrics: {{consumers: [app]}}\n{CONSUMERS}{REST}")).unwrap();
    assert_eq!(
        c.consumer_metrics,
        ConsumerMetrics::Listed(vec!["app".into()])
    );
    let c = parse(&format!("metrics: {{top_consumers: 5}}\n{CONSUMERS}{REST}")).unwrap();
    assert_eq!(c.consumer_metrics, ConsumerMetrics::Top(5));
    expect_errors(
        &format!("metrics: {{consumers: [app, nobody, other]}}\n{CONSUMERS}{REST}"),
        &[
            (1, "metrics.consumers[1]", "unknown consumer `nobody`"),
            (1, "metrics.consumers[2]", "`other` is the series"),
        ],
    );
    expect_errors(
        &format!("metrics: {{consumers: [app], top_consumers: 0}}\n{CONSUMERS}{REST}"),
        &[(
            1,
            "metrics",
            "exactly one of `consumers` or `top_consumers`",
        )],
    );
    expect_errors(
        &format!("metrics: {{top_consumers: 0}}\n{CONSUMERS}{REST}"),
        &[(1, "metrics.top_consumers", "must be between 1 and 1000")],
    );
}
