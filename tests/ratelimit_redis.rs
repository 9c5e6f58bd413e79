//! `store: redis` on a real redis-server: one limit shared by three
//! tollgate instances (exact, on Redis's clock), a quota shared the same
//! way, a Redis Cluster, `on_store_error` when Redis is killed or frozen
//! (no request waits much longer than `timeout`), recovery without a
//! restart, the script loaded again after `SCRIPT FLUSH`, and a master
//! found through a Sentinel.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tollgate_testkit::{request, RedisCluster, RedisSentinel, RedisServer, Tollgate, Upstream};

/// A generous bound for one request while Redis is down or frozen on a
/// loaded 2-core CI machine (the configured `timeout` is 50 ms).
const BOUND: Duration = Duration::from_millis(500);

fn node(up: &Upstream, redis: &str, policies: &str) -> Tollgate {
    Tollgate::for_upstream(
        up,
        &format!(
            "redis: {{{redis}, timeout: 50ms}}\nroutes:\n  - name: api\n    upstream: u\n    policies:\n{policies}"
        ),
    )
}

fn url(r: &RedisServer) -> String {
    format!("url: \"{}\"", r.url())
}

/// Status and how long the request took.
fn timed(addr: SocketAddr) -> (u16, Duration) {
    let t = Instant::now();
    let status = request(addr, "GET", "/x", &[], b"").status;
    (status, t.elapsed())
}

/// The 99th percentile of `times`.
fn p99(times: &mut [Duration]) -> Duration {
    times.sort();
    times[(times.len() * 99 / 100).min(times.len() - 1)]
}

#[test]
fn exact_limit_is_shared_by_three_instances() {
    let redis = RedisServer::start();
    let up = Upstream::echo();
    let policy = "      - rate_limit: {limits: [20/s], burst: 5, key: route, store: redis, on_store_error: allow}\n";
    let nodes: Vec<Tollgate> = (0..3).map(|_| node(&up, &url(&redis), policy)).collect();
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr("web")).collect();
    let run = Duration::from_secs(3);
    let start = Instant::now();
    // One client per instance, each about 40/s: about 6 × the limit.
    let clients: Vec<_> = addrs
        .iter()
        .map(|&addr| {
            std::thread::spawn(move || {
                let (mut ok, mut refused, mut other) = (0u64, 0u64, 0u64);
                while start.elapsed() < run {
                    match request(addr, "GET", "/x", &[], b"").status {
                        200 => ok += 1,
                        429 => refused += 1,
                        _ => other += 1,
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
                (ok, refused, other)
            })
        })
        .collect();
    let results: Vec<(u64, u64, u64)> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let elapsed = start.elapsed().as_secs_f64();
    let admitted: u64 = results.iter().map(|r| r.0).sum();
    let refused: u64 = results.iter().map(|r| r.1).sum();
    assert_eq!(results.iter().map(|r| r.2).sum::<u64>(), 0, "{results:?}");
    // At most limit × time × 1.01 + capacity (20 + 5), for all three
    // together: three separate local limits would admit about 3×.
    let bound = (20.0 * elapsed * 1.01 + 25.0).ceil() as u64;
    assert!(
        admitted <= bound,
        "admitted {admitted} > {bound} ({results:?})"
    );
    assert!(admitted >= 40, "admitted only {admitted} ({results:?})");
    assert!(refused > 0, "{results:?}");
    assert!(!redis.cli(&["--scan", "--pattern", "tg:rl:*"]).is_empty());
}

#[test]
fn sliding_window_and_quota_are_shared_through_redis() {
    let redis = RedisServer::start();
    let up = Upstream::echo();
    let policies = "      - quota: {limit: 4/day, key: route, store: redis, on_store_error: allow}\n      - rate_limit: {limits: [3/min], algorithm: sliding_window, key: client_ip, store: redis, on_store_error: allow}\n";
    let a = node(&up, &url(&redis), policies);
    let b = node(&up, &url(&redis), policies);
    let statuses: Vec<u16> = [&a, &b, &a, &b]
        .iter()
        .map(|n| request(n.addr("web"), "GET", "/x", &[], b"").status)
        .collect();
    // The window admits 3 per minute across both nodes; the refused
    // fourth was not charged to the quota (it ran first): 3 counted.
    assert_eq!(statuses, [200, 200, 200, 429]);
    let counted = redis.cli(&["--scan", "--pattern", "tg:q:*"]);
    let key = counted.lines().next().expect("a quota key in redis");
    assert_eq!(redis.cli(&["get", key]).trim(), "4");
}

#[test]
fn killed_redis_follows_on_store_error_quickly_and_recovers() {
    let mut redis = RedisServer::start();
    let up = Upstream::echo();
    // Never refused while Redis answers; refused while it cannot.
    let tg = node(
        &up,
        &url(&redis),
        "      - rate_limit: {limits: [100000/s], key: route, store: redis, on_store_error: deny}\n",
    );
    let addr = tg.addr("web");
    assert_eq!(timed(addr).0, 200);
    redis.kill();
    let mut times = Vec::new();
    for _ in 0..40 {
        let (status, took) = timed(addr);
        assert_eq!(status, 429, "Redis is down: on_store_error deny");
        assert!(took < BOUND, "a request waited {took:?}");
        times.push(took);
    }
    let p = p99(&mut times);
    assert!(p < BOUND, "p99 {p:?}");
    redis.restart();
    let back = Instant::now();
    while timed(addr).0 != 200 {
        // The breaker probes again within a second (doubling from 200 ms).
        assert!(
            back.elapsed() < Duration::from_secs(3),
            "not back after restart"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The restarted server (fresh statistics) decided it.
    assert!(redis
        .cli(&["info", "commandstats"])
        .contains("cmdstat_evalsha"));
}

#[test]
fn frozen_redis_costs_no_request_more_than_the_bound() {
    let redis = RedisServer::start();
    let up = Upstream::echo();
    // `local`: 10/min shared by 2 nodes is 5/min in this process.
    let tg = node(
        &up,
        &url(&redis),
        "      - rate_limit: {limits: [10/min], key: route, store: redis, on_store_error: local, nodes: 2}\n",
    );
    let addr = tg.addr("web");
    assert_eq!(timed(addr).0, 200);
    redis.freeze();
    let mut statuses = Vec::new();
    let mut times = Vec::new();
    for _ in 0..12 {
        let (status, took) = timed(addr);
        assert!(took < BOUND, "a request waited {took:?} on a frozen Redis");
        statuses.push(status);
        times.push(took);
    }
    redis.thaw();
    // The process's own share: 5 admitted, the rest refused.
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert!(p99(&mut times) < BOUND);
}

#[test]
fn a_flushed_script_is_loaded_again() {
    let redis = RedisServer::start();
    let up = Upstream::echo();
    // `allow` on errors: only Redis can refuse the third request.
    let tg = node(
        &up,
        &url(&redis),
        "      - rate_limit: {limits: [2/min], key: route, store: redis, on_store_error: allow}\n",
    );
    let addr = tg.addr("web");
    assert_eq!(timed(addr).0, 200);
    assert_eq!(redis.cli(&["script", "flush"]).trim(), "OK");
    assert_eq!(timed(addr).0, 200);
    assert_eq!(timed(addr).0, 429);
}

#[test]
fn a_redis_cluster_holds_the_shared_limit() {
    let cluster = RedisCluster::start();
    let up = Upstream::echo();
    let urls: Vec<String> = cluster.urls().iter().map(|u| format!("\"{u}\"")).collect();
    let redis = format!("urls: [{}]", urls.join(", "));
    let policy = "      - rate_limit: {limits: [3/min, 100/h], key: client_ip, store: redis, on_store_error: allow}\n";
    let a = Tollgate::for_upstream(
        &up,
        &format!("redis: {{{redis}, timeout: 2s}}\nroutes:\n  - name: api\n    upstream: u\n    policies:\n{policy}"),
    );
    let b = Tollgate::for_upstream(
        &up,
        &format!("redis: {{{redis}, timeout: 2s}}\nroutes:\n  - name: api\n    upstream: u\n    policies:\n{policy}"),
    );
    let statuses: Vec<u16> = [&a, &b, &a, &b]
        .iter()
        .map(|n| request(n.addr("web"), "GET", "/x", &[], b"").status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429]);
    // Both limits' keys of the decision sit on one node (one slot).
    let holding: Vec<usize> = cluster
        .nodes()
        .iter()
        .map(|n| n.cli(&["--scan", "--pattern", "tg:rl:*"]).lines().count())
        .collect();
    assert_eq!(holding.iter().sum::<usize>(), 2, "{holding:?}");
    assert!(holding.contains(&2), "{holding:?}");
}

#[test]
fn a_master_found_through_a_sentinel_holds_the_shared_limit() {
    let master = RedisServer::start();
    let sentinel = RedisSentinel::watching(&master);
    let up = Upstream::echo();
    let redis = format!(
        "urls: [\"{}\"], sentinel: {{master: {}}}",
        sentinel.url(),
        RedisSentinel::MASTER
    );
    let policy =
        "      - rate_limit: {limits: [2/min], key: route, store: redis, on_store_error: allow}\n";
    let a = Tollgate::for_upstream(
        &up,
        &format!("redis: {{{redis}, timeout: 2s}}\nroutes:\n  - name: api\n    upstream: u\n    policies:\n{policy}"),
    );
    let b = Tollgate::for_upstream(
        &up,
        &format!("redis: {{{redis}, timeout: 2s}}\nroutes:\n  - name: api\n    upstream: u\n    policies:\n{policy}"),
    );
    let statuses: Vec<u16> = [&a, &b, &a]
        .iter()
        .map(|n| request(n.addr("web"), "GET", "/x", &[], b"").status)
        .collect();
    // Shared (two nodes, one limit of 2), so not a local fallback (each
    // node alone would admit its own 2), and kept at the master the
    // sentinel named.
    assert_eq!(statuses, [200, 200, 429]);
    assert!(!master.cli(&["--scan", "--pattern", "tg:rl:*"]).is_empty());
}
