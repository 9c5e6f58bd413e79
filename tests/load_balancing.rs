//! Load-balancing algorithms chosen per upstream with `balance` (and
//! `hash_on` for consistent hashing), observed through echo upstreams that
//! answer with `x-upstream-id`.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tollgate_testkit::{get, request, Tollgate, Upstream};

/// tollgate in front of `a` and `b` (weights `wa`, `wb`) with `extra`
/// written into the upstream (e.g. `balance: random`).
fn start(a: &Upstream, wa: u32, b: &Upstream, wb: u32, extra: &str) -> Tollgate {
    Tollgate::in_front_of(&[(a, wa), (b, wb)], extra)
}

/// The upstream that answered.
fn upstream_id(resp: &tollgate_testkit::HttpResponse) -> String {
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.header("x-upstream-id")
        .expect("x-upstream-id")
        .to_owned()
}

#[test]
fn weighted_round_robin_shares_traffic_by_weight() {
    let heavy = Upstream::echo();
    let light = Upstream::echo();
    let tg = start(&heavy, 3, &light, 1, "    balance: round_robin");
    let total = 400;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..total {
        *counts
            .entry(upstream_id(&get(tg.addr("web"), "/")))
            .or_default() += 1;
    }
    let share = |id: &str| 100.0 * counts.get(id).copied().unwrap_or(0) as f64 / total as f64;
    assert!((share(heavy.id()) - 75.0).abs() <= 2.0, "{counts:?}");
    assert!((share(light.id()) - 25.0).abs() <= 2.0, "{counts:?}");
}

#[test]
fn consistent_hash_on_a_header_is_sticky_and_spreads() {
    let a = Upstream::echo();
    let b = Upstream::echo();
    let tg = start(
        &a,
        1,
        &b,
        1,
        "    balance: consistent_hash\n    hash_on: {header: X-User-Id}",
    );
    let mut chosen: HashMap<String, String> = HashMap::new();
    for round in 0..5 {
        for user in 0..20 {
            let value = format!("user-{user}");
            let resp = request(tg.addr("web"), "GET", "/", &[("X-User-Id", &value)], b"");
            let id = upstream_id(&resp);
            let first = chosen.entry(value.clone()).or_insert_with(|| id.clone());
            assert_eq!(*first, id, "{value} moved in round {round}");
        }
    }
    let used: HashSet<&String> = chosen.values().collect();
    assert_eq!(
        used.len(),
        2,
        "20 keys all went to one upstream: {chosen:?}"
    );
}

#[test]
fn consistent_hash_on_a_cookie_and_a_query_parameter() {
    let a = Upstream::echo();
    let b = Upstream::echo();
    for (hash_on, header, path) in [
        ("{cookie: sid}", "a=1; sid=S; z=2", "/"),
        ("{query: tenant}", "", "/x?y=1&tenant=T"),
    ] {
        let tg = start(
            &a,
            1,
            &b,
            1,
            &format!("    balance: consistent_hash\n    hash_on: {hash_on}"),
        );
        // Without the key the pick would fall back to round robin and
        // alternate, so two requests in a row reaching the same upstream
        // means the key was read.
        for i in 0..10 {
            let (header, path) = (
                header.replace('S', &format!("s{}", i % 2)),
                path.replace('T', &format!("t{}", i % 2)),
            );
            let headers: Vec<(&str, &str)> = if header.is_empty() {
                Vec::new()
            } else {
                vec![("Cookie", header.as_str())]
            };
            let first = upstream_id(&request(tg.addr("web"), "GET", &path, &headers, b""));
            let again = upstream_id(&request(tg.addr("web"), "GET", &path, &headers, b""));
            assert_eq!(first, again, "{hash_on}: {header} {path}");
        }
    }
}

#[test]
fn ip_hash_keeps_one_client_on_one_upstream() {
    let a = Upstream::echo();
    let b = Upstream::echo();
    let tg = start(&a, 1, &b, 1, "    balance: ip_hash");
    let ids: HashSet<String> = (0..30)
        .map(|_| upstream_id(&get(tg.addr("web"), "/")))
        .collect();
    assert_eq!(ids.len(), 1, "127.0.0.1 reached {ids:?}");
}

#[test]
fn least_connections_prefers_the_fast_upstream() {
    let slow = Upstream::slow(Duration::from_millis(300));
    let fast = Upstream::echo();
    let tg = Arc::new(start(&slow, 1, &fast, 1, "    balance: least_connections"));
    let (threads, per_thread) = (8, 10);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let tg = tg.clone();
            std::thread::spawn(move || {
                (0..per_thread)
                    .map(|_| upstream_id(&get(tg.addr("web"), "/")))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let ids: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("client thread"))
        .collect();
    let to_fast = ids.iter().filter(|i| *i == fast.id()).count();
    assert_eq!(ids.len(), threads * per_thread);
    // Round robin would send half to the slow one.
    assert!(
        to_fast * 100 >= ids.len() * 80,
        "fast got {to_fast} of {}",
        ids.len()
    );
}

#[test]
fn least_request_learns_the_slow_upstream() {
    let slow = Upstream::slow(Duration::from_millis(100));
    let fast = Upstream::echo();
    let tg = start(&slow, 1, &fast, 1, "    balance: least_request");
    let to_slow = (0..30)
        .filter(|_| upstream_id(&get(tg.addr("web"), "/")) == slow.id())
        .count();
    assert!(to_slow <= 3, "slow got {to_slow} of 30");
}

#[test]
fn random_reaches_both_upstreams() {
    let a = Upstream::echo();
    let b = Upstream::echo();
    let tg = start(&a, 1, &b, 1, "    balance: random");
    for _ in 0..100 {
        upstream_id(&get(tg.addr("web"), "/"));
    }
    assert!(a.request_count() >= 10, "a got {}", a.request_count());
    assert!(b.request_count() >= 10, "b got {}", b.request_count());
    assert_eq!(a.request_count() + b.request_count(), 100);
}

/// `tollgate validate` on `yaml`: (success, stderr).
fn validate(yaml: &str) -> (bool, String) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let path =
        std::env::temp_dir().join(format!("tollgate-lb-{}-{nanos}.yaml", std::process::id()));
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["validate", "-c", path.to_str().unwrap()])
        .output()
        .expect("run tollgate");
    let _ = std::fs::remove_file(&path);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_balance_and_missing_hash_on_are_config_errors() {
    let config = |extra: &str| {
        format!(
            "listeners: [{{name: web, address: \"127.0.0.1:0\"}}]\nupstreams:\n  - name: pool\n    targets: [{{address: \"127.0.0.1:9\"}}]\n{extra}routes: [{{name: all, upstream: pool}}]\n"
        )
    };
    let (ok, err) = validate(&config("    balance: fastest\n"));
    assert!(!ok);
    assert!(err.contains(":5:"), "{err}");
    assert!(
        err.contains("upstreams[0].balance: unknown algorithm `fastest`: expected `round_robin`, `least_connections`, `least_request`, `random`, `ip_hash` or `consistent_hash`"),
        "{err}"
    );

    let (ok, err) = validate(&config("    balance: consistent_hash\n"));
    assert!(!ok);
    assert!(
        err.contains("upstreams[0].hash_on: missing required field `hash_on`"),
        "{err}"
    );

    let (ok, err) = validate(&config("    balance: random\n    hash_on: {path: true}\n"));
    assert!(!ok);
    assert!(
        err.contains(
            "upstreams[0].hash_on: `hash_on` is only allowed with `balance: consistent_hash`"
        ),
        "{err}"
    );

    let (ok, err) = validate(&config(
        "    balance: consistent_hash\n    hash_on: {header: X-User-Id}\n",
    ));
    assert!(ok, "{err}");
}

/// A target that refuses connections got nothing of the request, so the
/// request fails over to another target instead of failing (HTTP/1.1 and
/// HTTP/2 upstreams alike).
#[test]
fn connect_failure_fails_over_to_another_target() {
    for (live, extra) in [
        (Upstream::echo(), ""),
        (Upstream::h2c_echo(), "    protocol: h2c"),
    ] {
        let dead = tollgate_testkit::unused_addr();
        let tg = Tollgate::in_front_of(&[dead, live.addr()], extra);
        for i in 0..20 {
            let resp = get(tg.addr("web"), &format!("/r{i}"));
            assert_eq!(resp.status, 200, "{extra} request {i}: {}", resp.text());
        }
        assert_eq!(live.request_count(), 20, "{extra}");
    }
}

/// With every target refusing connections the answer is a 502.
#[test]
fn all_targets_down_is_a_bad_gateway() {
    let (a, b) = (
        tollgate_testkit::unused_addr(),
        tollgate_testkit::unused_addr(),
    );
    let tg = Tollgate::in_front_of(&[a, b], "");
    assert_eq!(get(tg.addr("web"), "/").status, 502);
}
