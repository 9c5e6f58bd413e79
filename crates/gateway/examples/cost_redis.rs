//! What a `store: redis` rate-limit decision costs: a redis-server of its
//! own on a free loopback port, `TASKS` concurrent tasks on one
//! current-thread runtime (as a tollgate worker), each deciding in a loop for
//! its own key. Prints per-decision latency (p50, p99) and this process's
//! CPU µs per decision, for `mode: exact` and `mode: approximate`.
//!
//! `cargo run --release -p tollgate-gateway --example cost_redis`

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tollgate_config::{LimitPolicy, Policy};
use tollgate_gateway::ratelimit::redis::RedisStore;
use tollgate_gateway::ratelimit::RateLimiter;

const TASKS: usize = 50;
const RUN: Duration = Duration::from_secs(3);

/// This process's user + system CPU time so far (from /proc, in ticks of
/// 10 ms).
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn limiter(port: u16, mode: &str) -> (Arc<RateLimiter>, Arc<RedisStore>) {
    let yaml = format!(
        "listeners: [{{name: web, address: 127.0.0.1:0}}]\nredis: {{url: \"redis://127.0.0.1:{port}\", timeout: 20ms}}\nroutes:\n  - name: r\n    respond: {{status: 200}}\n    policies:\n      - rate_limit: {{limits: [10000000/s], key: client_ip, store: redis, mode: {mode}}}\n"
    );
    let config = tollgate_config::parse_str(&yaml, "cost.yaml").expect("config");
    let Policy::Limit(LimitPolicy::RateLimit(policy)) = &config.routes[0].policies[0] else {
        unreachable!()
    };
    let store = RedisStore::new(config.redis.clone().expect("redis")).expect("store");
    let limiter = RateLimiter::with_store(Arc::clone(policy), Some(Arc::clone(&store)));
    (Arc::new(limiter), store)
}

fn measure(port: u16, mode: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (limiter, _store) = limiter(port, mode);
    // Warm up: connections made, script loaded.
    rt.block_on(async {
        for _ in 0..200 {
            limiter.decide("warm", None).await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let cpu0 = cpu();
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let limiter = Arc::clone(&limiter);
            rt.spawn(async move {
                let key = format!("10.0.0.{i}");
                let mut times = Vec::new();
                let mut allowed = 0u64;
                while start.elapsed() < RUN {
                    let t = Instant::now();
                    allowed += u64::from(limiter.decide(&key, None).await.allowed);
                    times.push(t.elapsed());
                }
                (times, allowed)
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut allowed = 0;
    for t in tasks {
        let (mut ts, a) = rt.block_on(t).expect("task");
        times.append(&mut ts);
        allowed += a;
    }
    let cpu_used = cpu().saturating_sub(cpu0);
    times.sort();
    let n = times.len().max(1);
    let pct = |p: usize| times[(n * p / 100).min(n - 1)];
    println!(
        "{mode:>11}: {n} decisions ({allowed} allowed) in {:?}: {:.0}/s, p50 {:?}, p99 {:?}, CPU {:.2} µs/decision",
        start.elapsed(),
        n as f64 / start.elapsed().as_secs_f64(),
        pct(50),
        pct(99),
        cpu_used.as_secs_f64() * 1e6 / n as f64,
    );
}

fn main() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let dir = std::env::temp_dir().join(format!("cost_redis_{port}"));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut server = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server on PATH (apt-get install -y redis-server)");
    std::thread::sleep(Duration::from_millis(300));
    for mode in ["exact", "approximate"] {
        measure(port, mode);
    }
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
