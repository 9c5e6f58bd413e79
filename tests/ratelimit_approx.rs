//! `store: redis`, `mode: approximate` on a real redis-server: three
//! tollgate instances share one limit within the documented bound
//! (capacity + nodes × allowance per window), a killed Redis makes
//! `on_store_error` apply with no request waiting for it, and the metric
//! families `/metrics` renders report the store's errors and its breaker.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tollgate_testkit::{request, RedisServer, Tollgate, Upstream};

/// A generous bound for one request on a loaded 2-core CI machine: no
/// request of this mode waits for Redis (the `timeout` is 50 ms).
const BOUND: Duration = Duration::from_millis(500);

fn node(up: &Upstream, redis: &RedisServer, policies: &str) -> Tollgate {
    Tollgate::for_upstream(
        up,
        &format!(
            "redis: {{url: \"{}\", timeout: 50ms}}\nroutes:\n  - name: api\n    upstream: u\n    policies:\n{policies}",
            redis.url()
        ),
    )
}

/// Admitted, refused and other answers of one client sending every
/// `every` until `until`.
fn client(addr: SocketAddr, start: Instant, run: Duration, every: Duration) -> [u64; 3] {
    let mut n = [0u64; 3];
    while start.elapsed() < run {
        match request(addr, "GET", "/x", &[], b"").status {
            200 => n[0] += 1,
            429 => n[1] += 1,
            _ => n[2] += 1,
        }
        std::thread::sleep(every);
    }
    n
}

#[test]
fn approximate_limit_is_shared_by_three_instances_within_its_bound() {
    let redis = RedisServer::start();
    let up = Upstream::echo();
    // 20/s, burst 5, synced every 100 ms: the allowance is ⌊20 × 0.1⌋ = 2.
    let policy = "      - rate_limit: {limits: [20/s], burst: 5, key: route, store: redis, mode: approximate, sync: 100ms, nodes: 3, on_store_error: allow}\n";
    let nodes: Vec<Tollgate> = (0..3).map(|_| node(&up, &redis, policy)).collect();
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr("web")).collect();
    let run = Duration::from_secs(4);
    let start = Instant::now();
    // Two clients per instance, each about 17/s: about 5 × the limit.
    let clients: Vec<_> = addrs
        .iter()
        .flat_map(|&addr| [addr, addr])
        .map(|addr| std::thread::spawn(move || client(addr, start, run, Duration::from_millis(60))))
        .collect();
    let results: Vec<[u64; 3]> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let elapsed = start.elapsed().as_secs_f64();
    let admitted: u64 = results.iter().map(|r| r[0]).sum();
    let refused: u64 = results.iter().map(|r| r[1]).sum();
    let sent = admitted + refused;
    assert_eq!(results.iter().map(|r| r[2]).sum::<u64>(), 0, "{results:?}");
    // The documented bound: per window (1 s) at most capacity (25) +
    // nodes (3) × allowance (2); the sliding window spreads the rate, so
    // over the run: limit × time + capacity + one overshoot per window
    // started (the run touches at most ⌈elapsed⌉ + 1 windows).
    let windows = elapsed.ceil() + 1.0;
    let bound = (20.0 * elapsed + 25.0 + windows * 3.0 * 2.0).ceil() as u64;
    assert!(
        admitted <= bound,
        "admitted {admitted} > {bound} of {sent} ({results:?})"
    );
    // Not absurdly under: at least 0.8 × the limit over the run.
    let floor = (0.8 * 20.0 * elapsed) as u64;
    assert!(
        admitted >= floor,
        "admitted only {admitted} < {floor} of {sent} ({results:?})"
    );
    assert!(
        sent as f64 >= 3.0 * 20.0 * elapsed,
        "clients too slow: {sent}"
    );
    // The counts were synced through the shared store.
    assert!(!redis.cli(&["--scan", "--pattern", "tg:ra:*"]).is_empty());
}

#[test]
fn killed_redis_in_approximate_mode_costs_no_wait_and_shows_in_metrics() {
    let mut redis = RedisServer::start();
    let up = Upstream::echo();
    let policy = "      - rate_limit: {limits: [100000/s], key: route, store: redis, mode: approximate, on_store_error: deny}\n";
    let tg = node(&up, &redis, policy);
    let addr = tg.addr("web");
    assert_eq!(request(addr, "GET", "/x", &[], b"").status, 200);
    let state = || tg.gauge("tollgate_limit_store_breaker_state");
    let errors = || tg.counter("tollgate_limit_store_errors");
    assert_eq!((state(), errors()), (Some(0.0), Some(0)));
    redis.kill();
    // No request waits for Redis; once the syncs fail (the breaker opens
    // after three), `deny` applies.
    let t = Instant::now();
    let mut refused = false;
    while t.elapsed() < Duration::from_secs(5) && !refused {
        let asked = Instant::now();
        let status = request(addr, "GET", "/x", &[], b"").status;
        let took = asked.elapsed();
        assert!(took < BOUND, "a request waited {took:?}");
        assert!(status == 200 || status == 429, "{status}");
        refused = status == 429;
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(refused, "on_store_error deny never applied");
    // Three failed syncs opened the breaker (2 open, 3 probing).
    let failed = errors().unwrap_or(0);
    assert!(failed >= 3, "errors {failed}");
    assert!(
        matches!(state(), Some(s) if s >= 2.0),
        "state {:?}",
        state()
    );
    // Back: the sync task's probe heals the breaker; admitted again.
    redis.restart();
    let back = Instant::now();
    while request(addr, "GET", "/x", &[], b"").status != 200 {
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not back after restart"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(state(), Some(0.0));
}
