//! Upstreams: balancing, health checks, retries, circuit breaking, sticky
//! sessions.

use super::*;

fn upstream_with(extra: &str) -> String {
    format!(
        "listeners: [{{name: a, address: \"127.0.0.1:1\"}}]\nupstreams:\n  - name: u\n    targets: [{{address: \"127.0.0.1:2\"}}]\n{extra}routes: [{{name: r, upstream: u}}]\n"
    )
}

#[test]
fn balance_algorithms() {
    let c = parse(&upstream_with("")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.upstreams[0].balance, Balance::RoundRobin);
    for (written, want) in [
        ("round_robin", Balance::RoundRobin),
        ("least_connections", Balance::LeastConnections),
        ("least_request", Balance::LeastRequest),
        ("random", Balance::Random),
        ("ip_hash", Balance::IpHash),
    ] {
        let c = parse(&upstream_with(&format!("    balance: {written}\n")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.upstreams[0].balance, want);
        assert_eq!(want.name(), written);
    }
    for (written, want) in [
        (
            "{header: X-User-Id}",
            HashOn::Header(http::HeaderName::from_static("x-user-id")),
        ),
        ("{cookie: session}", HashOn::Cookie("session".into())),
        ("{query: tenant}", HashOn::Query("tenant".into())),
        ("{client_ip: true}", HashOn::ClientIp),
        ("{path: true}", HashOn::Path),
    ] {
        let c = parse(&upstream_with(&format!(
            "    balance: consistent_hash\n    hash_on: {written}\n"
        )))
        .unwrap_or_else(|e| panic!("{written}: {e}"));
        assert_eq!(c.upstreams[0].balance, Balance::ConsistentHash(want));
        assert_eq!(c.upstreams[0].balance.name(), "consistent_hash");
    }
}

#[test]
fn balance_errors() {
    assert_errors(
        &errors(&upstream_with("    balance: fastest\n")),
        &[(
            5,
            "upstreams[0].balance",
            "unknown algorithm `fastest`: expected `round_robin`, `least_connections`, `least_request`, `random`, `ip_hash` or `consistent_hash`",
        )],
    );
    assert_errors(
        &errors(&upstream_with("    balance: consistent_hash\n")),
        &[(
            5,
            "upstreams[0].hash_on",
            "missing required field `hash_on`: `balance: consistent_hash` needs a key",
        )],
    );
    assert_errors(
        &errors(&upstream_with(
            "    balance: ip_hash\n    hash_on: {header: X-A}\n",
        )),
        &[(
            6,
            "upstreams[0].hash_on",
            "only allowed with `balance: consistent_hash`, not with `balance: ip_hash`",
        )],
    );
    assert_errors(
        &errors(&upstream_with("    hash_on: {path: true}\n")),
        &[(
            5,
            "upstreams[0].hash_on",
            "not with the default `balance: round_robin`",
        )],
    );
    let ch = |h: &str| upstream_with(&format!("    balance: consistent_hash\n    hash_on: {h}\n"));
    assert_errors(
        &errors(&ch("{header: X-A, cookie: b}")),
        &[(
            6,
            "upstreams[0].hash_on",
            "exactly one of `header`, `cookie`, `query`, `client_ip: true` or `path: true`, found `header` and `cookie`",
        )],
    );
    assert_errors(
        &errors(&ch("{}")),
        &[(6, "upstreams[0].hash_on", "exactly one of `header`")],
    );
    assert_errors(
        &errors(&ch("{header: \"bad name\"}")),
        &[(
            6,
            "upstreams[0].hash_on.header",
            "invalid header name `bad name`",
        )],
    );
    assert_errors(
        &errors(&ch("{cookie: \"a=b\"}")),
        &[(6, "upstreams[0].hash_on.cookie", "invalid cookie name")],
    );
    assert_errors(
        &errors(&ch("{query: \"\"}")),
        &[(6, "upstreams[0].hash_on.query", "must not be empty")],
    );
    assert_errors(
        &errors(&ch("{client_ip: false}")),
        &[(
            6,
            "upstreams[0].hash_on.client_ip",
            "`client_ip: false` is not supported",
        )],
    );
    assert_errors(
        &errors(&ch("{path: maybe}")),
        &[(6, "upstreams[0].hash_on.path", "expected `true` or `false`")],
    );
    // An unknown key inside `hash_on` is reported like any unknown field.
    let errs = errors(&ch("{heder: X-A}"));
    assert!(
        errs.iter().any(|e| e.path == "upstreams[0].hash_on.heder"),
        "{errs:#?}"
    );
    // A bad algorithm and a bad hash_on are both reported.
    assert_errors(
        &errors(&upstream_with(
            "    balance: nope\n    hash_on: {client_ip: no}\n",
        )),
        &[
            (5, "upstreams[0].balance", "unknown algorithm `nope`"),
            (6, "upstreams[0].hash_on.client_ip", "expected `true`"),
        ],
    );
}

#[test]
fn health_defaults_and_full() {
    let c = parse(&upstream_with("    health: {active: {}}\n")).unwrap_or_else(|e| panic!("{e}"));
    let h = c.upstreams[0].health.clone().expect("health");
    assert_eq!(h.when_all_down, WhenAllDown::Fail);
    assert_eq!(h.passive, None);
    assert_eq!(
        h.active,
        Some(ActiveHealth {
            probe: Probe::Http {
                method: http::Method::GET,
                path: "/".into(),
                host: None,
                expect: vec![(200, 399)],
            },
            interval: secs(5),
            jitter_percent: 10,
            timeout: secs(1),
            healthy: 2,
            unhealthy: 3,
        })
    );
    assert_eq!(parse(&upstream_with("")).unwrap().upstreams[0].health, None);

    let c = parse(&upstream_with(
        "    health:\n      active: {type: http, path: /health, method: HEAD, host: users.internal, expect: [200, 204, 300-308], interval: 250ms, jitter: 0%, timeout: 100ms, healthy: 1, unhealthy: 4}\n      passive: {consecutive_failures: 3, eject_for: 10s, max_eject_for: 1m, max_ejected: 100%}\n      when_all_down: panic\n",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let h = c.upstreams[0].health.clone().expect("health");
    assert_eq!(h.when_all_down, WhenAllDown::Panic);
    let a = h.active.expect("active");
    assert_eq!(
        a.probe,
        Probe::Http {
            method: http::Method::HEAD,
            path: "/health".into(),
            host: Some("users.internal".into()),
            expect: vec![(200, 200), (204, 204), (300, 308)],
        }
    );
    assert_eq!(
        (
            a.interval,
            a.jitter_percent,
            a.timeout,
            a.healthy,
            a.unhealthy
        ),
        (
            Duration::from_millis(250),
            0,
            Duration::from_millis(100),
            1,
            4
        )
    );
    assert_eq!(
        h.passive,
        Some(PassiveHealth {
            consecutive_failures: 3,
            eject_for: secs(10),
            max_eject_for: secs(60),
            max_ejected_percent: 100,
        })
    );

    let c = parse(&upstream_with(
        "    health: {active: {type: tcp}, passive: {eject_for: 10m}}\n",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let h = c.upstreams[0].health.clone().expect("health");
    assert_eq!(h.active.expect("active").probe, Probe::Tcp);
    let p = h.passive.expect("passive");
    // max_eject_for defaults to 300s, or eject_for when that is longer.
    assert_eq!((p.consecutive_failures, p.max_eject_for), (5, secs(600)));
    assert_eq!(p.max_ejected_percent, 50);
}

#[test]
fn health_errors() {
    let h = |s: &str| errors(&upstream_with(&format!("    health: {s}\n")));
    assert_errors(
        &h("{when_all_down: fail}"),
        &[(
            5,
            "upstreams[0].health",
            "`health` needs `active`, `passive` or both",
        )],
    );
    assert_errors(
        &h("{active: {}, when_all_down: retry}"),
        &[(
            5,
            "upstreams[0].health.when_all_down",
            "expected `fail` or `panic`, got `retry`",
        )],
    );
    assert_errors(
        &h("{active: {type: udp}}"),
        &[(
            5,
            "upstreams[0].health.active.type",
            "expected `http` or `tcp`, got `udp`",
        )],
    );
    assert_errors(
        &h("{active: {type: tcp, path: /health}}"),
        &[(
            5,
            "upstreams[0].health.active.path",
            "`path` is only allowed with `type: http`, not with `type: tcp`",
        )],
    );
    assert_errors(
        &h("{active: {path: health, method: get}}"),
        &[
            (5, "upstreams[0].health.active.path", "must start with `/`"),
            (
                5,
                "upstreams[0].health.active.method",
                "invalid method `get`",
            ),
        ],
    );
    assert_errors(
        &h("{active: {expect: [200, 99, 300-200, 2xx]}}"),
        &[
            (
                5,
                "upstreams[0].health.active.expect[1]",
                "invalid status `99`",
            ),
            (
                5,
                "upstreams[0].health.active.expect[2]",
                "invalid range `300-200`",
            ),
            (
                5,
                "upstreams[0].health.active.expect[3]",
                "invalid status `2xx`",
            ),
        ],
    );
    assert_errors(
        &h("{active: {expect: []}}"),
        &[(
            5,
            "upstreams[0].health.active.expect",
            "list at least one status",
        )],
    );
    assert_errors(
        &h("{active: {interval: 0s, timeout: 5, jitter: 10, healthy: 0, unhealthy: 1001}}"),
        &[
            (
                5,
                "upstreams[0].health.active.interval",
                "must be longer than zero",
            ),
            (5, "upstreams[0].health.active.timeout", "missing unit"),
            (5, "upstreams[0].health.active.jitter", "missing `%`"),
            (
                5,
                "upstreams[0].health.active.healthy",
                "must be between 1 and 1000",
            ),
            (
                5,
                "upstreams[0].health.active.unhealthy",
                "must be between 1 and 1000",
            ),
        ],
    );
    assert_errors(
        &h("{active: {jitter: 60%}}"),
        &[(5, "upstreams[0].health.active.jitter", "between 0% and 50%")],
    );
    assert_errors(
        &h("{passive: {consecutive_failures: 0, max_ejected: 150%}}"),
        &[
            (
                5,
                "upstreams[0].health.passive.consecutive_failures",
                "must be between 1 and",
            ),
            (5, "upstreams[0].health.passive.max_ejected", "at most 100%"),
        ],
    );
    assert_errors(
        &h("{passive: {eject_for: 1m, max_eject_for: 30s}}"),
        &[(
            5,
            "upstreams[0].health.passive.max_eject_for",
            "must be at least `eject_for`",
        )],
    );
    // Unknown fields are reported with their path.
    let errs = h("{active: {intervall: 1s}}");
    assert!(
        errs.iter()
            .any(|e| e.path == "upstreams[0].health.active.intervall"),
        "{errs:#?}"
    );
}

#[test]
fn retries_breaker_and_sticky() {
    let c = parse(
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
upstreams:
  - name: a
    targets: [{address: "127.0.0.1:1"}]
    retries: {on: [timeout, 500], methods: all, budget: 10%}
    circuit_breaker: {max_requests: 9, max_connections: 4, error_rate: {threshold: 25%}}
    sticky: {cookie: s}
  - name: b
    targets: [{address: "127.0.0.1:1"}]
routes: [{name: r, upstream: a}]
"#,
    )
    .unwrap();
    let a = &c.upstreams[0];
    let r = a.retries.as_ref().unwrap();
    assert_eq!(r.attempts, 2);
    assert_eq!(
        r.on,
        RetryOn {
            connect_error: false,
            reset: false,
            timeout: true,
            statuses: vec![500]
        }
    );
    assert!(r.non_idempotent);
    assert_eq!(r.budget_percent, 10);
    assert_eq!(a.circuit_breaker.max_requests, Some(9));
    assert_eq!(
        (
            a.circuit_breaker.max_connections,
            a.circuit_breaker.max_pending
        ),
        (Some(4), 1024)
    );
    let e = a.circuit_breaker.error_rate.as_ref().unwrap();
    assert_eq!((e.threshold_percent, e.min_requests, e.probes), (25, 20, 3));
    assert_eq!(a.sticky.as_ref().unwrap().cookie, "s");
    assert!(a.sticky.as_ref().unwrap().http_only);
    assert!(c.upstreams[1].retries.is_none());

    let errs = errors(
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
upstreams:
  - name: a
    targets: [{address: "127.0.0.1:1"}]
    retries: {on: [404, reset], methods: some, backoff: {base: 1s, max: 10ms}}
    circuit_breaker: {max_requests: 0, error_rate: {threshold: 0%}}
    sticky: {cookie: "a b", same_site: sometimes}
routes: [{name: r, upstream: a}]
"#,
    );
    assert_errors(
        &errs,
        &[
            (
                6,
                "upstreams[0].retries.on[0]",
                "status code from 500 to 599, got `404`",
            ),
            (6, "upstreams[0].retries.methods", "`idempotent` or `all`"),
            (6, "upstreams[0].retries.backoff", "must not be shorter"),
            (7, "upstreams[0].circuit_breaker.max_requests", ""),
            (
                7,
                "upstreams[0].circuit_breaker.error_rate.threshold",
                "above 0%",
            ),
            (8, "upstreams[0].sticky.cookie", "invalid cookie name"),
            (
                8,
                "upstreams[0].sticky.same_site",
                "`lax`, `strict` or `none`",
            ),
        ],
    );
    // Settings that are each valid but together do nothing.
    expect_errors(
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
upstreams:
  - name: a
    targets: [{address: "127.0.0.1:1"}]
    retries: {attempts: 2, budget: 0%, min_per_second: 0}
    sticky: {same_site: none}
  - name: b
    targets: [{address: "127.0.0.1:1"}]
    retries: {attempts: 0, budget: 0%, min_per_second: 0}
    sticky: {same_site: none, secure: true}
routes: [{name: r, upstream: a}, {name: s, upstream: b}]
"#,
        &[
            (
                6,
                "upstreams[0].retries.budget",
                "a budget of `0%` allows no retry at all",
            ),
            (
                7,
                "upstreams[0].sticky.same_site",
                "`same_site: none` needs `secure: true`",
            ),
        ],
    );
}

#[test]
fn slow_start_and_dns_refresh() {
    let c = parse(&upstream_with("")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.upstreams[0].slow_start, None);
    assert_eq!(c.upstreams[0].dns_refresh, secs(30));
    let c = parse(&upstream_with(
        "    health: {passive: {}}\n    slow_start: 1m\n    dns_refresh: 5s\n",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.upstreams[0].slow_start, Some(secs(60)));
    assert_eq!(c.upstreams[0].dns_refresh, secs(5));

    // Zero would mean no ramp and a resolver spinning: both must be > 0;
    // a ramp needs health checks to say when a target comes back.
    expect_errors(
        &upstream_with("    health: {passive: {}}\n    slow_start: 0s\n    dns_refresh: 0s\n"),
        &[
            (6, "upstreams[0].slow_start", "longer than zero"),
            (7, "upstreams[0].dns_refresh", "longer than zero"),
        ],
    );
    expect_errors(
        &upstream_with("    slow_start: 10s\n"),
        &[(5, "upstreams[0].slow_start", "needs a `health` section")],
    );
}
