//! Retries (conditions, budget, body replay), circuit breaking (concurrency
//! cap, error-rate breaker) and sticky sessions, against real upstreams.

use std::time::{Duration, Instant};

use tollgate_testkit::{get, request, Tollgate, Upstream};

#[test]
fn a_503_is_retried_on_another_target() {
    let failing = Upstream::status(503);
    let good = Upstream::echo();
    let tg = Tollgate::in_front_of(
        &[&failing, &good],
        "    retries: {attempts: 2, on: [503], min_per_second: 100}",
    );
    for _ in 0..20 {
        let resp = get(tg.addr("web"), "/");
        assert_eq!(resp.status, 200, "{}", resp.text());
    }
    assert_eq!(good.request_count(), 20);
    // Round robin sends about half of the first attempts to the failing target.
    assert!(
        (5..=15).contains(&failing.request_count()),
        "{}",
        failing.request_count()
    );
}

#[test]
fn a_target_that_drops_connections_loses_no_idempotent_request() {
    let dying = Upstream::closing();
    let good = Upstream::echo();
    let tg = Tollgate::in_front_of(
        &[&dying, &good],
        "    retries: {attempts: 1, on: [reset], min_per_second: 100}",
    );
    for i in 0..30 {
        let resp = request(
            tg.addr("web"),
            "PUT",
            &format!("/item/{i}"),
            &[],
            b"payload",
        );
        assert_eq!(resp.status, 200, "request {i}: {}", resp.text());
        assert_eq!(resp.echo().body, "payload");
    }
    assert!(dying.connection_count() > 0);
}

#[test]
fn the_retry_budget_holds_when_every_target_fails() {
    let a = Upstream::status(503);
    let b = Upstream::status(503);
    let tg = Tollgate::in_front_of(
        &[&a, &b],
        "    retries: {attempts: 3, on: [503], budget: 20%, min_per_second: 0, backoff: {base: 1ms, max: 1ms}}",
    );
    let requests = 100;
    for _ in 0..requests {
        // No retry left: the upstream's own 503 reaches the client.
        assert_eq!(get(tg.addr("web"), "/").status, 503);
    }
    let sent = a.request_count() + b.request_count();
    // Without a budget this would be 400 (1 + 3 attempts each).
    assert!(
        (requests + 15..=requests + 20).contains(&sent),
        "{sent} upstream requests for {requests}"
    );
}

#[test]
fn post_is_not_retried_unless_configured_and_then_its_body_is_replayed() {
    let failing = Upstream::status(502);
    let good = Upstream::echo();
    let tg = Tollgate::in_front_of(
        &[&failing, &good],
        "    retries: {attempts: 1, on: [502], min_per_second: 100}",
    );
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(request(tg.addr("web"), "POST", "/", &[], b"order").status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 502, 502]);
    drop(tg);

    let tg = Tollgate::in_front_of(
        &[&failing, &good],
        "    retries: {attempts: 1, on: [502], methods: all, min_per_second: 100}",
    );
    for _ in 0..4 {
        let resp = request(tg.addr("web"), "POST", "/", &[], b"order-42");
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.echo().body, "order-42");
    }
}

#[test]
fn the_breaker_opens_on_errors_then_half_opens_and_closes() {
    let up = Upstream::status(500);
    let tg = Tollgate::in_front_of(
        &[&up],
        "    circuit_breaker: {error_rate: {threshold: 50%, min_requests: 4, window: 10s, open_for: 1s, probes: 1}}",
    );
    // The breaker opens with the fourth failure: after `opened_after`,
    // before `opened_by`; `open_for` counts from then, not from the loop
    // below (a loaded machine may take long between the two).
    let mut opened_after = Instant::now();
    for i in 0..4 {
        if i == 3 {
            opened_after = Instant::now();
        }
        assert_eq!(get(tg.addr("web"), "/").status, 500);
    }
    // Open: answered at once, the upstream sees nothing.
    let open = get(tg.addr("web"), "/");
    let opened_by = Instant::now();
    assert_eq!(open.status, 503);
    assert!(
        open.text().contains("circuit breaker open"),
        "{}",
        open.text()
    );
    assert_eq!(up.request_count(), 4);

    up.set_status(200);
    let still_open = opened_after + Duration::from_millis(900);
    while Instant::now() < still_open {
        assert_eq!(get(tg.addr("web"), "/").status, 503);
        std::thread::sleep(Duration::from_millis(100));
    }
    let half_open = opened_by + Duration::from_millis(1050);
    std::thread::sleep(half_open.saturating_duration_since(Instant::now()));
    // Half-open: the probe succeeds, which closes the breaker.
    assert_eq!(get(tg.addr("web"), "/").status, 200);
    for _ in 0..5 {
        assert_eq!(get(tg.addr("web"), "/").status, 200);
    }
}

#[test]
fn max_requests_answers_503_at_once_when_full() {
    let slow = Upstream::slow(Duration::from_millis(600));
    let tg = Tollgate::in_front_of(&[&slow], "    circuit_breaker: {max_requests: 2}");
    let addr = tg.addr("web");
    let started = Instant::now();
    let handles: Vec<_> = (0..5)
        .map(|_| std::thread::spawn(move || (get(addr, "/").status, Instant::now())))
        .collect();
    let results: Vec<(u16, Instant)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let refused: Vec<_> = results.iter().filter(|(s, _)| *s == 503).collect();
    assert_eq!((ok, refused.len()), (2, 3), "{results:?}");
    for (_, at) in refused {
        assert!(at.duration_since(started) < Duration::from_millis(500));
    }
    // The slots come back when the answers are over.
    assert_eq!(get(addr, "/").status, 200);
}

#[test]
fn sticky_cookie_binds_a_client_to_its_target() {
    let a = Upstream::echo();
    let b = Upstream::echo();
    let tg = Tollgate::in_front_of(
        &[&a, &b],
        "    sticky: {cookie: srv, max_age: 1h, same_site: lax}",
    );
    let first = get(tg.addr("web"), "/");
    assert_eq!(first.status, 200);
    let set = first.header("set-cookie").expect("set-cookie").to_owned();
    assert!(set.starts_with("srv="), "{set}");
    assert!(
        set.contains("; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    let served_by = first.header("x-upstream-id").unwrap().to_owned();
    for _ in 0..10 {
        let resp = request(
            tg.addr("web"),
            "GET",
            "/",
            &[("Cookie", &format!("x=1; {cookie}"))],
            b"",
        );
        assert_eq!(resp.header("x-upstream-id"), Some(served_by.as_str()));
        // Already bound: no new cookie.
        assert_eq!(resp.header("set-cookie"), None);
    }
    // An unknown id is replaced.
    let resp = request(tg.addr("web"), "GET", "/", &[("Cookie", "srv=0000")], b"");
    assert!(resp
        .header("set-cookie")
        .is_some_and(|c| c.starts_with("srv=")));
}

#[test]
fn sticky_sessions_move_when_the_target_is_down() {
    let a = Upstream::echo();
    let b = Upstream::echo();
    let tg = Tollgate::in_front_of(
        &[&a, &b],
        "    sticky: {cookie: srv}\n    health: {passive: {consecutive_failures: 1, eject_for: 30s}}",
    );
    // Find the cookie of each target.
    let mut cookies = std::collections::HashMap::new();
    for _ in 0..4 {
        let r = get(tg.addr("web"), "/");
        let id = r.header("x-upstream-id").unwrap().to_owned();
        let c = r
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        cookies.insert(id, c);
    }
    let cookie_a = cookies[a.id()].clone();
    drop(a);
    // The first request fails over on connect; the client is re-bound to b.
    let resp = request(tg.addr("web"), "GET", "/", &[("Cookie", &cookie_a)], b"");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("x-upstream-id"), Some(b.id()));
    assert!(resp.header("set-cookie").is_some());
}

#[test]
fn target_state_shows_health_in_flight_latency_and_the_breaker() {
    let slow = Upstream::slow(Duration::from_millis(400));
    let dead = tollgate_testkit::unused_addr();
    let tg = Tollgate::in_front_of(
        &[slow.addr(), dead],
        "    health:
      active: {type: tcp, interval: 100ms, timeout: 100ms, unhealthy: 1, healthy: 1}
    circuit_breaker: {error_rate: {threshold: 50%}}",
    );
    let addr = tg.addr("web");
    let deadline = Instant::now() + Duration::from_secs(5);
    // The dead target is out after one failed probe.
    loop {
        let s = &tg.upstream_states()[0];
        if !s.targets[1].available {
            let (ok, why, _) = s.targets[1].last_check.clone().expect("a check ran");
            assert!(!ok && !why.is_empty(), "{why}");
            assert!(!s.targets[1].healthy);
            break;
        }
        assert!(Instant::now() < deadline, "dead target never marked down");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pending = std::thread::spawn(move || get(addr, "/").status);
    // While the slow request runs it counts as in flight.
    let deadline = Instant::now() + Duration::from_secs(2);
    while tg.upstream_states()[0].targets[0].in_flight != 1 {
        assert!(Instant::now() < deadline, "request never seen in flight");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(pending.join().unwrap(), 200);
    let s = &tg.upstream_states()[0];
    assert_eq!(s.name, "pool");
    assert_eq!(s.targets[0].in_flight, 0);
    assert!(s.targets[0].available && s.targets[0].healthy);
    let latency = s.targets[0].latency.expect("latency recorded");
    assert!(latency >= Duration::from_millis(380), "{latency:?}");
    assert_eq!(s.breaker, Some(tollgate_proxy::BreakerState::Closed));
}

#[test]
fn slow_start_ramps_a_recovered_target_up() {
    let steady = Upstream::echo();
    let back = Upstream::status(503);
    let tg = Tollgate::in_front_of(
        &[&steady, &back],
        "    slow_start: 3s
    health:
      active: {type: http, path: /health, interval: 50ms, timeout: 1s, unhealthy: 1, healthy: 1}",
    );
    let wait_for = |available: bool| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while tg.upstream_states()[0].targets[1].available != available {
            assert!(
                Instant::now() < deadline,
                "target never became available={available}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for(false);
    back.set_status(200);
    wait_for(true);
    let share_of_back = |n: usize| {
        let before = back.request_count_except("/health");
        for _ in 0..n {
            assert_eq!(get(tg.addr("web"), "/").status, 200);
        }
        (back.request_count_except("/health") - before) as f64 / n as f64
    };
    let early = share_of_back(200);
    // Right after it came back it gets a small part of its half.
    assert!(early < 0.25, "early share {early}");
    std::thread::sleep(Duration::from_secs(3));
    let late = share_of_back(200);
    assert!((0.4..=0.6).contains(&late), "late share {late}");
}

#[test]
fn dns_named_targets_are_resolved_and_shown() {
    let up = Upstream::echo();
    let name = format!("localhost:{}", up.addr().port());
    let tg = Tollgate::in_front_of(&[name.as_str()], "    dns_refresh: 100ms");
    // localhost may also resolve to ::1, where nothing listens: failover
    // is per target, so retry a few times rather than assume the order.
    let ok = (0..4).any(|_| get(tg.addr("web"), "/").status == 200);
    assert!(ok);
    let resolved = &tg.upstream_states()[0].targets[0].resolved;
    assert!(resolved.contains(&up.addr()), "{resolved:?}");
}

#[test]
fn max_connections_queues_up_to_max_pending_and_refuses_the_rest() {
    let slow = Upstream::slow(Duration::from_millis(400));
    let tg = Tollgate::in_front_of(
        &[&slow],
        "    circuit_breaker: {max_connections: 1, max_pending: 1}\n    timeouts: {connect: 3s}",
    );
    let addr = tg.addr("web");
    let handles: Vec<_> = (0..3)
        .map(|i| {
            std::thread::spawn(move || {
                // Staggered so the first holds the connection, the second
                // waits, the third finds the queue full.
                std::thread::sleep(Duration::from_millis(60 * i));
                let started = Instant::now();
                let resp = get(addr, "/");
                (resp.status, resp.text(), started.elapsed())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results[0].0, 200, "{results:?}");
    // The waiting request got the first one's connection once it was free.
    assert_eq!(results[1].0, 200, "{results:?}");
    assert!(results[1].2 >= Duration::from_millis(600), "{results:?}");
    assert_eq!(results[2].0, 503, "{results:?}");
    assert!(
        results[2].1.contains("too many requests waiting"),
        "{results:?}"
    );
    assert!(results[2].2 < Duration::from_millis(300), "{results:?}");
    assert_eq!(slow.connection_count(), 1);
}

/// A request refused by the upstream's own connection limit is answered at
/// once: not retried (every target shares the limit) and not counted
/// against the target by passive health.
#[test]
fn a_connection_limit_refusal_is_neither_retried_nor_a_target_failure() {
    let slow = Upstream::slow(Duration::from_millis(400));
    let tg = Tollgate::in_front_of(
        &[&slow],
        "    circuit_breaker: {max_connections: 1, max_pending: 0}
    retries: {attempts: 3, on: [connect_error], backoff: {base: 2s, max: 2s}}
    health:
      passive: {consecutive_failures: 1, eject_for: 10s}",
    );
    let addr = tg.addr("web");
    let holder = std::thread::spawn(move || get(addr, "/").status);
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let refused = get(addr, "/");
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(
        refused.text().contains("too many requests waiting"),
        "{}",
        refused.text()
    );
    assert!(started.elapsed() < Duration::from_millis(250));
    assert_eq!(holder.join().unwrap(), 200);
    // Still in rotation.
    assert_eq!(get(addr, "/").status, 200);
    assert!(tg.upstream_states()[0].targets[0].available);
}

/// Idle connections pooled for one target count under `max_connections`,
/// but must not starve the other targets: a request that finds the cap
/// taken by idle connections elsewhere closes one of them and connects.
#[test]
fn idle_connections_of_one_target_do_not_starve_another() {
    let a = Upstream::slow(Duration::from_millis(200));
    let b = Upstream::echo();
    // Weights 3:1: the first two requests both go to a, the third to b.
    let tg = Tollgate::in_front_of(
        &[(&a, 3), (&b, 1)],
        "    circuit_breaker: {max_connections: 2}\n    timeouts: {connect: 500ms}",
    );
    let addr = tg.addr("web");
    let both: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || get(addr, "/").status))
        .collect();
    for h in both {
        assert_eq!(h.join().unwrap(), 200);
    }
    assert_eq!(a.connection_count(), 2);
    // a's two connections are idle in its pool, holding the cap.
    let started = Instant::now();
    let resp = get(addr, "/");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("x-upstream-id"), Some(b.id()));
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[test]
fn refusals_by_the_connection_cap_do_not_open_the_breaker() {
    let slow = Upstream::slow(Duration::from_millis(300));
    let tg = Tollgate::in_front_of(
        &[&slow],
        "    circuit_breaker: {max_connections: 1, max_pending: 0, error_rate: {threshold: 50%, min_requests: 4, open_for: 30s}}",
    );
    let addr = tg.addr("web");
    let handles: Vec<_> = (0..6)
        .map(|i| {
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20 * i));
                get(addr, "/").status
            })
        })
        .collect();
    let mut statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 503, 503, 503, 503, 503]);
    // Five of six were refused by tollgate's own cap, not failed by the
    // upstream: the breaker stays closed.
    assert_eq!(get(addr, "/").status, 200);
    assert_eq!(
        tg.upstream_states()[0].breaker,
        Some(tollgate_proxy::BreakerState::Closed)
    );
}
