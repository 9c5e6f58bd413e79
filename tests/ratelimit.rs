//! `rate_limit` on real sockets: exact with several workers and concurrent
//! clients, the answer's fields at the edges (first, last allowed, first
//! refused), plans chosen by the consumer's group, the access log's
//! `limit`, and counters kept across a reload of an unchanged policy.

use std::sync::Arc;

use tollgate_testkit::{h2_request, render, request, TempDir, Tollgate, Upstream};

fn route_with(policies: &str) -> String {
    format!("routes:\n  - name: api\n    upstream: u\n    policies:\n{policies}")
}

#[test]
fn several_workers_and_concurrent_clients_admit_exactly_limit_plus_burst() {
    let up = Upstream::echo();
    let tg = Tollgate::start(&render(
        r#"
server: {workers: 4, shutdown_timeout: 5s}
access_log: {output: off}
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
{routes}"#,
        &[
            ("up", &up.addr()),
            // 10 per minute: the emission interval (6 s) is far longer than
            // the test, so exactly limit + burst pass.
            (
                "routes",
                &route_with("      - rate_limit: {limits: [10/min], burst: 5, key: route}\n"),
            ),
        ],
    ));
    let addr = tg.addr("web");
    let statuses = Arc::new(std::sync::Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let statuses = Arc::clone(&statuses);
            std::thread::spawn(move || {
                for _ in 0..6 {
                    let resp = request(addr, "GET", "/x", &[], b"");
                    if resp.status == 429 {
                        let wait: u64 = resp.header("retry-after").unwrap().parse().unwrap();
                        assert!((1..=6).contains(&wait), "{wait}");
                    }
                    statuses.lock().unwrap().push(resp.status);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let statuses = statuses.lock().unwrap();
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((admitted, refused), (15, 33), "{statuses:?}");
}

#[test]
fn ietf_fields_at_the_edges_and_retry_after_rounded_up() {
    let up = Upstream::echo();
    let tg = Tollgate::for_upstream(
        &up,
        &format!(
            "policies:\n  per_ip: {{rate_limit: {{limits: [3/min], key: client_ip}}}}\n{}",
            route_with("      - use: per_ip\n")
        ),
    );
    let addr = tg.addr("web");
    let get = || request(addr, "GET", "/x", &[], b"");
    let first = get();
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("ratelimit-policy"),
        Some("\"per_ip\";q=3;w=60")
    );
    // Full again 20 s after the first (one emission interval).
    assert_eq!(first.header("ratelimit"), Some("\"per_ip\";r=2;t=20"));
    assert_eq!(get().header("ratelimit"), Some("\"per_ip\";r=1;t=40"));
    let last = get();
    assert_eq!(last.status, 200);
    let fields = last.header("ratelimit").unwrap().to_string();
    assert!(fields.starts_with("\"per_ip\";r=0;t="), "{fields}");
    let refused = get();
    assert_eq!(refused.status, 429);
    // The true wait is just under 20 s: rounded up, never shorter.
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((19..=20).contains(&wait), "{wait}");
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some("\"per_ip\";q=3;w=60")
    );
    assert_eq!(
        refused.header("ratelimit"),
        Some(format!("\"per_ip\";r=0;t={wait}").as_str())
    );
    // HTTP/2 requests share the count and get the same refusal.
    let h2 = h2_request(addr, "GET", "/x", &[], b"");
    assert_eq!(h2.status, 429);
    assert!(h2.header("retry-after").is_some());
}

#[test]
fn legacy_fields_and_none() {
    let up = Upstream::echo();
    let tg = Tollgate::for_upstream(
        &up,
        "routes:\n  - name: a\n    match: {path: {prefix: /a}}\n    upstream: u\n    policies:\n      - rate_limit: {limits: [2/h], headers: legacy, key: client_ip}\n  - name: b\n    upstream: u\n    policies:\n      - rate_limit: {limits: [1/h], headers: none, key: client_ip}\n",
    );
    let addr = tg.addr("web");
    let a = request(addr, "GET", "/a", &[], b"");
    assert_eq!(a.header("x-ratelimit-limit"), Some("2"));
    assert_eq!(a.header("x-ratelimit-remaining"), Some("1"));
    assert_eq!(a.header("x-ratelimit-reset"), Some("1800"));
    assert!(a.header("ratelimit").is_none());
    let b = request(addr, "GET", "/b", &[], b"");
    assert_eq!(b.status, 200);
    assert!(b.header("ratelimit").is_none() && b.header("x-ratelimit-limit").is_none());
    let b = request(addr, "GET", "/b", &[], b"");
    assert_eq!(b.status, 429);
    assert_eq!(b.header("retry-after"), Some("3600"));
}

const CONSUMERS: &str = r#"
consumers:
  - {name: pro-app, groups: [pro], api_keys: ["key-pro-0123456789"]}
  - {name: free-app, groups: [free], api_keys: ["key-free-0123456789"]}
"#;

#[test]
fn plans_follow_the_consumer_group_and_the_log_names_the_policy() {
    let up = Upstream::echo();
    let dir = TempDir::tagged("ratelimit-log");
    let log = dir.path().join("access.log");
    let tg = Tollgate::start(&render(
        r#"
server: {workers: 2}
access_log: {output: file, path: "{log}"}
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
{consumers}{routes}"#,
        &[
            ("up", &up.addr()),
            ("log", &log.display()),
            ("consumers", &CONSUMERS),
            (
                "routes",
                &route_with("      - key_auth: {}\n      - rate_limit: {limits: [1/h], key: consumer, plans: {pro: 4/h}}\n"),
            ),
        ],
    ));
    let addr = tg.addr("web");
    let count = |key: &str| {
        (0..6)
            .filter(|_| request(addr, "GET", "/", &[("X-API-Key", key)], b"").status == 200)
            .count()
    };
    assert_eq!(count("key-pro-0123456789"), 4);
    assert_eq!(count("key-free-0123456789"), 1);
    drop(tg);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let refused: Vec<_> = lines.iter().filter(|l| l["status"] == 429).collect();
    assert_eq!(refused.len(), 7, "{text}");
    assert!(
        refused
            .iter()
            .all(|l| l["limit"] == "rate_limit:rate_limit"),
        "{text}"
    );
    assert!(lines
        .iter()
        .filter(|l| l["status"] == 200)
        .all(|l| l["limit"].is_null()));
}

#[test]
fn a_reload_keeps_the_counters_of_an_unchanged_policy() {
    let up = Upstream::echo();
    let config = |limit: &str, extra_route: &str| {
        format!(
            "listeners:\n  - {{name: web, address: 127.0.0.1:0}}\nupstreams:\n  - {{name: u, targets: [{{address: \"{}\"}}]}}\nroutes:\n{extra_route}  - name: api\n    upstream: u\n    policies:\n      - rate_limit: {{limits: [{limit}], key: client_ip}}\n",
            up.addr(),
        )
    };
    let tg = Tollgate::start_with_defaults(&config("2/h", ""));
    let addr = tg.addr("web");
    let status = || request(addr, "GET", "/x", &[], b"").status;
    assert_eq!((status(), status(), status()), (200, 200, 429));
    let other = "  - {name: other, match: {path: {prefix: /other}}, upstream: u}\n";
    tg.reload_with_defaults(&config("2/h", other)).unwrap();
    assert_eq!(status(), 429, "an unchanged policy keeps its counts");
    tg.reload_with_defaults(&config("3/h", other)).unwrap();
    assert_eq!(status(), 200, "a changed policy starts afresh");
}

#[test]
fn concurrency_limit_holds_until_the_body_ends() {
    use std::time::{Duration, Instant};
    // Four chunks 400 ms apart: the answer's body lasts over a second
    // after its head.
    let up = Upstream::streaming(&["a", "b", "c", "d"], Duration::from_millis(400));
    let tg = Tollgate::for_upstream(
        &up,
        &route_with("      - concurrency_limit: {max: 1, key: route}\n"),
    );
    let addr = tg.addr("web");
    let first = std::thread::spawn(move || request(addr, "GET", "/slow", &[], b""));
    let deadline = Instant::now() + Duration::from_secs(10);
    // Once two chunks went out, the head is long answered but the body
    // is not over.
    while up.chunk_times().len() < 2 {
        assert!(Instant::now() < deadline, "the first answer never streamed");
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = request(addr, "GET", "/x", &[], b"");
    assert_eq!(second.status, 429);
    assert_eq!(second.header("retry-after"), Some("1"));
    let first = first.join().unwrap();
    assert_eq!((first.status, first.text()), (200, "abcd".to_string()));
    // The body ended: the permit is back.
    let third = request(addr, "GET", "/x", &[], b"");
    assert_eq!(third.status, 200);
}

#[test]
fn a_quota_counts_per_day_and_survives_a_reload() {
    let up = Upstream::echo();
    let config = |extra_route: &str| {
        format!(
            "listeners:\n  - {{name: web, address: 127.0.0.1:0}}\nupstreams:\n  - {{name: u, targets: [{{address: \"{}\"}}]}}\npolicies:\n  daily: {{quota: {{limit: 2/day, key: client_ip}}}}\nroutes:\n{extra_route}  - name: api\n    upstream: u\n    policies: [{{use: daily}}]\n",
            up.addr(),
        )
    };
    let tg = Tollgate::start_with_defaults(&config(""));
    let addr = tg.addr("web");
    let get = || request(addr, "GET", "/x", &[], b"");
    let first = get();
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("ratelimit-policy"),
        Some("\"daily\";q=2;w=86400")
    );
    let fields = first.header("ratelimit").unwrap().to_string();
    assert!(fields.starts_with("\"daily\";r=1;t="), "{fields}");
    assert_eq!(get().status, 200);
    let refused = get();
    assert_eq!(refused.status, 429);
    // Until the next midnight UTC.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let to_midnight = 86_400 - now % 86_400;
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(wait.abs_diff(to_midnight) <= 2, "{wait} vs {to_midnight}");
    let other = "  - {name: other, match: {path: {prefix: /other}}, upstream: u}\n";
    tg.reload_with_defaults(&config(other)).unwrap();
    assert_eq!(get().status, 429, "the unchanged quota keeps its count");
}
