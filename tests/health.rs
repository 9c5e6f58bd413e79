//! Upstream health: active probes take failing targets out of rotation and
//! bring them back, `when_all_down` decides what happens when none is
//! left, and passive outlier detection ejects targets that fail real
//! requests. Probes run every 100ms here, so each test takes about a second.

use std::time::{Duration, Instant};

use tollgate_testkit::{get, HttpResponse, Tollgate, Upstream};

/// tollgate in front of `targets` with `health` written under the upstream.
fn start(targets: &[&Upstream], health: &str) -> Tollgate {
    Tollgate::in_front_of(targets, &format!("    health:\n{health}"))
}

/// Active HTTP checks every 100ms, out after 2 failures, back after 2 successes.
const ACTIVE: &str = "      active: {type: http, path: /health, interval: 100ms, jitter: 0%, timeout: 500ms, healthy: 2, unhealthy: 2}";

/// Sends requests until `done` holds for one of them, or `limit` passes;
/// returns how long it took.
fn until(tg: &Tollgate, limit: Duration, mut done: impl FnMut(&HttpResponse) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let resp = get(tg.addr("web"), "/");
        if done(&resp) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "condition not reached within {limit:?}; last answer {} {}",
            resp.status,
            resp.text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn failing_health_check_takes_a_target_out_and_back() {
    let a = Upstream::echo();
    let b = Upstream::echo();
    let tg = start(&[&a, &b], ACTIVE);
    // Both healthy: both get traffic, and both are probed on /health.
    for _ in 0..10 {
        assert_eq!(get(tg.addr("web"), "/").status, 200);
    }
    assert!(b.request_count_except("/health") > 0);
    std::thread::sleep(Duration::from_millis(250));
    let probe = b
        .requests()
        .into_iter()
        .find(|r| r.path == "/health")
        .expect("b was probed");
    assert_eq!(probe.method, "GET");
    assert_eq!(probe.headers["connection"], "close");
    assert_eq!(probe.headers["host"], b.addr().to_string());

    // b fails its checks: out after 2 × 100ms (plus a margin).
    b.set_status(500);
    let out = until(&tg, Duration::from_secs(2), |_| {
        let before = b.request_count_except("/health");
        (0..10).all(|_| get(tg.addr("web"), "/").status == 200)
            && b.request_count_except("/health") == before
    });
    assert!(out < Duration::from_millis(1000), "took {out:?}");
    let before = b.request_count_except("/health");
    for _ in 0..20 {
        let resp = get(tg.addr("web"), "/");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("x-upstream-id"), Some(a.id()));
    }
    assert_eq!(b.request_count_except("/health"), before);

    // b recovers: back after 2 good probes.
    b.set_status(0);
    let back = until(&tg, Duration::from_secs(2), |r| {
        r.header("x-upstream-id") == Some(b.id())
    });
    assert!(back < Duration::from_millis(1000), "took {back:?}");

    // The checkers stop with the server, promptly.
    let stopping = Instant::now();
    tg.shutdown();
    assert!(stopping.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_stopped_target_is_taken_out_and_no_request_fails() {
    let a = Upstream::echo();
    let b = Upstream::echo();
    let tg = start(&[&a, &b], ACTIVE);
    let b_id = b.id().to_owned();
    // Both answered, so both have a pooled keep-alive connection.
    for _ in 0..4 {
        assert_eq!(get(tg.addr("web"), "/").status, 200);
    }
    assert!(b.request_count_except("/health") > 0);
    drop(b);
    // Failover covers the refused connections until the checks take b out.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(600) {
        let resp = get(tg.addr("web"), "/");
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.header("x-upstream-id"), Some(a.id()));
    }
    assert_ne!(a.id(), b_id);
}

#[test]
fn when_all_down_fail_answers_503() {
    let a = Upstream::echo();
    let tg = start(&[&a], &format!("{ACTIVE}\n      when_all_down: fail"));
    assert_eq!(get(tg.addr("web"), "/").status, 200);
    a.set_status(500);
    until(&tg, Duration::from_secs(2), |r| r.status == 503);
    let resp = get(tg.addr("web"), "/");
    assert_eq!(resp.status, 503);
    let body = resp.json();
    assert_eq!(body["error"], "no healthy target");
    assert!(!body["request_id"].as_str().unwrap_or("").is_empty());
    assert_eq!(resp.header("x-upstream-id"), None);
    // And back once the target recovers.
    a.set_status(0);
    until(&tg, Duration::from_secs(2), |r| r.status == 200);
}

#[test]
fn when_all_down_panic_still_reaches_the_targets() {
    let a = Upstream::echo();
    let b = Upstream::echo();
    let tg = start(&[&a, &b], &format!("{ACTIVE}\n      when_all_down: panic"));
    a.set_status(500);
    b.set_status(500);
    // Long enough for both to be marked down (2 probes, 100ms apart).
    std::thread::sleep(Duration::from_millis(600));
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10 {
        let resp = get(tg.addr("web"), "/");
        // The upstream's own 500, not tollgate's 503.
        assert_eq!(resp.status, 500);
        seen.insert(
            resp.header("x-upstream-id")
                .expect("from a target")
                .to_owned(),
        );
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[test]
fn tcp_checks_take_a_closed_port_out() {
    let a = Upstream::echo();
    let b = Upstream::echo();
    let tg = start(
        &[&a, &b],
        "      active: {type: tcp, interval: 100ms, unhealthy: 2, healthy: 2}\n      when_all_down: fail",
    );
    assert_eq!(get(tg.addr("web"), "/").status, 200);
    drop(b);
    drop(a);
    // Both ports closed: once both are out, 503 rather than a connect error.
    until(&tg, Duration::from_secs(2), |r| r.status == 503);
    assert_eq!(
        get(tg.addr("web"), "/").json()["error"],
        "no healthy target"
    );
}

#[test]
fn passive_checks_eject_a_failing_target_and_bring_it_back() {
    let good = Upstream::echo();
    let bad = Upstream::status(502);
    let tg = start(
        &[&good, &bad],
        "      passive: {consecutive_failures: 3, eject_for: 500ms, max_eject_for: 1s, max_ejected: 50%}",
    );
    let mut failed = 0;
    for _ in 0..30 {
        match get(tg.addr("web"), "/").status {
            200 => {}
            502 => failed += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    // Round robin: the bad target got every other request until its third
    // failure, then nothing.
    assert_eq!(failed, 3);
    assert_eq!(bad.request_count(), 3);
    // Back after eject_for.
    std::thread::sleep(Duration::from_millis(600));
    until(&tg, Duration::from_secs(1), |r| r.status == 502);
    // Ejected again after 3 more failures, now for 2 × 500ms (capped at 1s).
    for _ in 0..10 {
        get(tg.addr("web"), "/");
    }
    assert_eq!(bad.request_count(), 6);
    std::thread::sleep(Duration::from_millis(600));
    for _ in 0..10 {
        assert_eq!(get(tg.addr("web"), "/").status, 200);
    }
    assert_eq!(bad.request_count(), 6, "still ejected after 600ms");
}

#[test]
fn passive_ejection_never_exceeds_max_ejected() {
    let a = Upstream::status(502);
    let b = Upstream::status(502);
    let tg = start(
        &[&a, &b],
        "      passive: {consecutive_failures: 2, eject_for: 10s, max_ejected: 50%}",
    );
    for _ in 0..20 {
        assert_eq!(get(tg.addr("web"), "/").status, 502);
    }
    // One of the two was ejected; the other keeps its traffic.
    let (na, nb) = (a.request_count(), b.request_count());
    assert_eq!(na + nb, 20);
    assert!(na.min(nb) == 2 && na.max(nb) == 18, "a={na} b={nb}");
}
