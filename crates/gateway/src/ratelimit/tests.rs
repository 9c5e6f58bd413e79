//! The limiter against its table: exactness with several threads, plans
//! and overrides, several limits at once, bounded memory.

use std::sync::Arc;
use std::time::Duration;

use tollgate_config::{Algorithm, Consumer, LimitKey, LimitStore, Rate, RateHeaders, RateLimit};

use super::*;

const S: u64 = 1_000_000_000;

fn policy(limits: &[(u64, u64)], burst: u64, algorithm: Algorithm) -> Arc<RateLimit> {
    Arc::new(RateLimit {
        name: "default".into(),
        limits: limits
            .iter()
            .map(|&(count, secs)| Rate {
                count,
                period: Duration::from_secs(secs),
            })
            .collect(),
        burst,
        key: LimitKey::ClientIp,
        algorithm,
        plans: vec![(
            "pro".into(),
            vec![Rate {
                count: 50,
                period: Duration::from_secs(1),
            }],
        )],
        consumers: vec![(
            "vip".into(),
            vec![Rate {
                count: 500,
                period: Duration::from_secs(1),
            }],
        )],
        store: LimitStore::Local,
        headers: RateHeaders::Ietf,
        max_keys: 1000,
    })
}

fn consumer(name: &str, groups: &[&str]) -> Consumer {
    Consumer {
        name: name.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        metadata: Vec::new(),
        api_keys: Vec::new(),
        basic_auth: Vec::new(),
        jwt: Vec::new(),
        mtls: Vec::new(),
    }
}

#[test]
fn exact_with_many_threads_for_both_algorithms() {
    for algorithm in [Algorithm::Gcra, Algorithm::SlidingWindow] {
        // 20 per minute with a burst of 5: in a few milliseconds, exactly 25 pass.
        let limiter = Arc::new(RateLimiter::new(policy(&[(20, 60)], 5, algorithm)));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let l = Arc::clone(&limiter);
                std::thread::spawn(move || {
                    (0..50).filter(|_| l.check_at("k", None, S).allowed).count()
                })
            })
            .collect();
        let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(admitted, 25, "{algorithm:?}");
    }
}

#[test]
fn every_limit_must_pass_and_refusals_charge_none() {
    // 10/s and 12/min: the minute limit bites first.
    let limiter = RateLimiter::new(policy(&[(10, 1), (12, 60)], 0, Algorithm::Gcra));
    let admitted = (0..10)
        .filter(|_| limiter.check_at("k", None, S).allowed)
        .count();
    assert_eq!(admitted, 10);
    let v = limiter.check_at("k", None, S);
    assert!(!v.allowed);
    // The refusing limit is the per-second one (shorter wait: 100 ms).
    assert_eq!((v.quota, v.window), (10, 1));
    assert_eq!(v.reset, Duration::from_millis(100));
    assert_eq!(v.reset_secs(), 1);
    // Two seconds later: the per-second limit is fresh, the minute has 2 left.
    let v = limiter.check_at("k", None, 3 * S);
    assert!(v.allowed);
    assert_eq!((v.quota, v.window, v.remaining), (12, 60, 1));
}

#[test]
fn plans_and_overrides_choose_the_limits() {
    let p = policy(&[(10, 1)], 0, Algorithm::Gcra);
    assert_eq!(limits_for(&p, None)[0].count, 10);
    assert_eq!(limits_for(&p, Some(&consumer("a", &["free"])))[0].count, 10);
    assert_eq!(
        limits_for(&p, Some(&consumer("a", &["x", "pro"])))[0].count,
        50
    );
    // An override wins over the plan.
    assert_eq!(
        limits_for(&p, Some(&consumer("vip", &["pro"])))[0].count,
        500
    );
    let limiter = RateLimiter::new(p);
    let pro = consumer("b", &["pro"]);
    let n = (0..100)
        .filter(|_| limiter.check_at("b", Some(&pro), S).allowed)
        .count();
    assert_eq!(n, 50);
}

#[test]
fn keys_are_separate_and_memory_is_bounded() {
    let limiter = RateLimiter::new(policy(&[(1, 1)], 0, Algorithm::Gcra));
    assert!(limiter.check_at("a", None, S).allowed);
    assert!(!limiter.check_at("a", None, S).allowed);
    assert!(limiter.check_at("b", None, S).allowed);
    // 10 000 distinct keys with max_keys 1000: the table stays bounded.
    for i in 0..10_000u64 {
        limiter.check_at(&format!("k{i}"), None, S + i);
    }
    assert!(limiter.keys() <= 1000 + table::SHARDS, "{}", limiter.keys());
    // A key that went idle and was dropped starts fresh, as it would anyway.
    assert!(limiter.check_at("a", None, 10 * S).allowed);
}

#[test]
fn remaining_and_reset_at_the_edges() {
    let limiter = RateLimiter::new(policy(&[(3, 3)], 0, Algorithm::Gcra));
    let first = limiter.check_at("k", None, S);
    assert_eq!(
        (first.allowed, first.remaining, first.quota, first.window),
        (true, 2, 3, 3)
    );
    assert_eq!(first.reset, Duration::from_secs(1));
    limiter.check_at("k", None, S);
    let last = limiter.check_at("k", None, S);
    assert_eq!((last.allowed, last.remaining), (true, 0));
    assert_eq!(last.reset, Duration::from_secs(3));
    let refused = limiter.check_at("k", None, S);
    assert_eq!((refused.allowed, refused.remaining), (false, 0));
    assert_eq!(refused.reset_secs(), 1);
    let after = limiter.check_at("k", None, 4 * S);
    assert_eq!((after.allowed, after.remaining), (true, 2));
}
