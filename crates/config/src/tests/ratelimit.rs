//! The limiting policies: `rate_limit` (rates, keys, plans, overrides,
//! algorithm, headers), `quota` (calendar windows, fixed offsets) and
//! `concurrency_limit`, with their located errors and their order in the
//! chain.

use super::*;

fn with_policies(policies: &str) -> String {
    format!(
        "listeners: [{{name: web, address: 127.0.0.1:0}}]\nconsumers:\n  - {{name: app, groups: [pro], api_keys: [k1]}}\nroutes:\n  - name: r\n    respond: {{status: 200}}\n    policies:\n{policies}"
    )
}

fn rate_limit(c: &Config, step: usize) -> &RateLimit {
    match &c.routes[0].policies[step] {
        Policy::Limit(LimitPolicy::RateLimit(r)) => r,
        other => panic!("not a rate_limit: {other:?}"),
    }
}

#[test]
fn rate_limit_with_every_field() {
    let c = parse(&with_policies(
        "      - key_auth: {}\n      - rate_limit:\n          limits: [100/s, 1000/min, 5000/h, 100000/day]\n          burst: 20\n          key: consumer\n          algorithm: sliding_window\n          plans: {pro: 200/s, free: [10/s, 100/h]}\n          consumers: {app: 1000/s}\n          store: local\n          mode: exact\n          headers: legacy\n          max_keys: 5000\n",
    ))
    .unwrap();
    let r = rate_limit(&c, 1);
    let rate = |count, secs| Rate {
        count,
        period: secs_d(secs),
    };
    assert_eq!(
        r.limits,
        [
            rate(100, 1),
            rate(1000, 60),
            rate(5000, 3600),
            rate(100000, 86400)
        ]
    );
    assert_eq!(r.burst, 20);
    assert_eq!(r.key, LimitKey::Consumer { written: true });
    assert_eq!(r.algorithm, Algorithm::SlidingWindow);
    assert_eq!(r.plans[0], ("pro".to_string(), vec![rate(200, 1)]));
    assert_eq!(r.plans[1].1, [rate(10, 1), rate(100, 3600)]);
    assert_eq!(r.consumers, [("app".to_string(), vec![rate(1000, 1)])]);
    assert_eq!(r.headers, RateHeaders::Legacy);
    assert_eq!(r.max_keys, 5000);
    assert_eq!(r.name, "rate_limit");
}

fn secs_d(n: u64) -> Duration {
    secs(n)
}

#[test]
fn rate_limit_defaults_and_key_forms() {
    let c = parse(&with_policies(
        "      - rate_limit: {limits: 10/s}\n      - rate_limit: {limits: [1/s], key: client_ip}\n      - rate_limit: {limits: [1/s], key: {header: X-Tenant}}\n      - rate_limit: {limits: [1/s], key: {jwt_claim: sub}}\n      - rate_limit: {limits: [1/s], key: route}\n      - rate_limit: {limits: [1/s], key: \"$http_x_tenant:$path\"}\n",
    ))
    .unwrap();
    let r = rate_limit(&c, 0);
    assert_eq!(r.key, LimitKey::Consumer { written: false });
    assert_eq!(r.algorithm, Algorithm::Gcra);
    assert_eq!(r.burst, 0);
    assert_eq!(r.store, LimitStore::Local);
    assert_eq!(r.headers, RateHeaders::Ietf);
    assert_eq!(rate_limit(&c, 1).key, LimitKey::ClientIp);
    assert_eq!(
        rate_limit(&c, 2).key,
        LimitKey::Header("x-tenant".parse().unwrap())
    );
    assert_eq!(rate_limit(&c, 3).key, LimitKey::JwtClaim("sub".into()));
    assert_eq!(rate_limit(&c, 4).key, LimitKey::Route);
    assert!(matches!(rate_limit(&c, 5).key, LimitKey::Template(_)));
}

#[test]
fn named_policy_name_is_kept_and_shared() {
    let text = "listeners: [{name: web, address: 127.0.0.1:0}]\npolicies:\n  per_ip: {rate_limit: {limits: [5/s], key: client_ip}}\nroutes:\n  - name: a\n    respond: {status: 200}\n    policies: [{use: per_ip}]\n  - name: b\n    respond: {status: 200}\n    policies: [{use: per_ip}]\n";
    let c = parse(text).unwrap();
    let get = |i: usize| match &c.routes[i].policies[0] {
        Policy::Limit(LimitPolicy::RateLimit(r)) => r.clone(),
        _ => panic!(),
    };
    assert_eq!(get(0).name, "per_ip");
    assert!(std::sync::Arc::ptr_eq(&get(0), &get(1)));
}

#[test]
fn rate_limit_errors_are_located() {
    expect_errors(
        &with_policies(
            "      - rate_limit: {limits: [10/s, 5/month, ten/s], burst: -1, algorithm: leaky, headers: draft}\n      - rate_limit: {limits: [], key: {cookie: a}, store: redis, mode: approximate}\n      - rate_limit: {limits: 1/s, key: clientip, consumers: {nobody: 1/s}}\n      - rate_limit: {burst: 1}\n",
        ),
        &[
            (8, "routes[0].policies[0].rate_limit.limits[1]", "use the `quota` policy for months"),
            (8, "routes[0].policies[0].rate_limit.limits[2]", "invalid rate `ten/s`"),
            (8, "routes[0].policies[0].rate_limit.burst", "whole number"),
            (8, "routes[0].policies[0].rate_limit.algorithm", "unknown algorithm `leaky`"),
            (8, "routes[0].policies[0].rate_limit.headers", "unknown headers `draft`"),
            (9, "routes[0].policies[1].rate_limit.limits", "at least one rate"),
            (9, "routes[0].policies[1].rate_limit.key", "exactly one of `header` or `jwt_claim`"),
            (9, "routes[0].policies[1].rate_limit.store", "`store: redis` needs a top-level `redis:` block"),
            (9, "routes[0].policies[1].rate_limit.mode", "the local store is exact"),
            (10, "routes[0].policies[2].rate_limit.key", "unknown key `clientip`"),
            (10, "routes[0].policies[2].rate_limit.consumers.nobody", "unknown consumer `nobody`"),
            (11, "routes[0].policies[3].rate_limit.limits", "missing required field `limits`"),
        ],
    );
}

#[test]
fn consumer_keyed_limit_needs_an_auth_policy_before_it() {
    expect_errors(
        &with_policies(
            "      - rate_limit: {limits: [1/s], key: consumer}\n      - rate_limit: {limits: [1/s], plans: {pro: 2/s}}\n      - quota: {limit: 10/day, key: consumer}\n      - key_auth: {}\n      - rate_limit: {limits: [1/s], key: consumer}\n",
        ),
        &[
            (8, "routes[0].policies[0]", "`rate_limit` counts by consumer but no auth policy"),
            (9, "routes[0].policies[1]", "`rate_limit` counts by consumer"),
            (10, "routes[0].policies[2]", "`quota` counts by consumer"),
        ],
    );
    // The default key (consumer, else client IP) needs no auth policy.
    parse(&with_policies("      - rate_limit: {limits: [1/s]}\n")).unwrap();
}

#[test]
fn quota_calendar_windows_and_offsets() {
    let c = parse(&with_policies(
        "      - quota: {limit: 100000/month}\n      - quota: {limit: 500/day, time_zone: \"+02:00\", key: client_ip, headers: none}\n      - quota: {limit: 5/day, time_zone: \"-05:30\"}\n",
    ))
    .unwrap();
    let q = |i: usize| match &c.routes[0].policies[i] {
        Policy::Limit(LimitPolicy::Quota(q)) => q.clone(),
        _ => panic!(),
    };
    assert_eq!(
        (q(0).count, q(0).per, q(0).utc_offset),
        (100000, Calendar::Month, 0)
    );
    assert_eq!(
        (q(1).count, q(1).per, q(1).utc_offset),
        (500, Calendar::Day, 7200)
    );
    assert_eq!(q(1).headers, RateHeaders::None);
    assert_eq!(q(2).utc_offset, -(5 * 3600 + 30 * 60));
    expect_errors(
        &with_policies(
            "      - quota: {limit: 10/h, time_zone: Europe/Paris}\n      - quota: {time_zone: \"+25:00\"}\n",
        ),
        &[
            (8, "routes[0].policies[0].quota.limit", "use count/day or count/month"),
            (8, "routes[0].policies[0].quota.time_zone", "zone names are not supported"),
            (9, "routes[0].policies[1].quota.limit", "missing required field `limit`"),
            (9, "routes[0].policies[1].quota.time_zone", "invalid time zone `+25:00`"),
        ],
    );
}

#[test]
fn concurrency_limit_fields_and_errors() {
    let c = parse(&with_policies(
        "      - concurrency_limit: {max: 10, key: client_ip}\n",
    ))
    .unwrap();
    let Policy::Limit(LimitPolicy::Concurrency(l)) = &c.routes[0].policies[0] else {
        panic!()
    };
    assert_eq!((l.max, &l.key), (10, &LimitKey::ClientIp));
    expect_errors(
        &with_policies("      - concurrency_limit: {max: 0}\n      - concurrency_limit: {}\n"),
        &[
            (
                8,
                "routes[0].policies[0].concurrency_limit.max",
                "at least 1",
            ),
            (
                9,
                "routes[0].policies[1].concurrency_limit.max",
                "missing required field `max`",
            ),
        ],
    );
}

#[test]
fn redis_store_with_every_field() {
    let text = format!(
        "{}redis: {{url: redis://127.0.0.1:6379, username: app, password: \"s3cret\", database: 2, pool: 4, timeout: 50ms}}\n",
        with_policies(
            "      - rate_limit: {limits: [10/s], store: redis, mode: exact, sync: 50ms, on_store_error: deny, nodes: 3}\n      - rate_limit: {limits: [10/s], store: redis}\n      - quota: {limit: 10/day, store: redis, on_store_error: allow}\n"
        )
    );
    let c = parse(&text).unwrap();
    let redis = c.redis.as_ref().unwrap();
    assert_eq!(
        redis.servers,
        RedisServers::Standalone("127.0.0.1:6379".into())
    );
    assert_eq!(
        (redis.username.as_deref(), redis.password.as_deref()),
        (Some("app"), Some("s3cret"))
    );
    assert_eq!((redis.database, redis.pool, redis.tls), (2, 4, false));
    assert_eq!(redis.timeout, std::time::Duration::from_millis(50));
    // The password never shows in a debug print (logs).
    assert!(!format!("{redis:?}").contains("s3cret"));
    assert_eq!(
        rate_limit(&c, 0).store,
        LimitStore::Redis(SharedStore {
            mode: StoreMode::Exact,
            on_error: OnStoreError::Deny,
            nodes: 3,
        })
    );
    // Defaults: exact, `local` on store errors, one node.
    assert_eq!(
        rate_limit(&c, 1).store,
        LimitStore::Redis(SharedStore {
            mode: StoreMode::Exact,
            on_error: OnStoreError::Local,
            nodes: 1,
        })
    );
    let Policy::Limit(LimitPolicy::Quota(q)) = &c.routes[0].policies[2] else {
        panic!()
    };
    // `approximate` syncs every 100 ms unless `sync` says otherwise.
    let approx = |sync: &str| {
        let text = format!(
            "{}redis: {{url: redis://127.0.0.1:6379}}\n",
            with_policies(&format!(
                "      - rate_limit: {{limits: [10/s], store: redis, mode: approximate{sync}, nodes: 3}}\n"
            ))
        );
        rate_limit(&parse(&text).unwrap(), 0).store
    };
    let ms = std::time::Duration::from_millis;
    for (sync, want) in [("", ms(100)), (", sync: 250ms", ms(250))] {
        assert_eq!(
            approx(sync),
            LimitStore::Redis(SharedStore {
                mode: StoreMode::Approximate { sync: want },
                on_error: OnStoreError::Local,
                nodes: 3,
            })
        );
    }
    assert!(matches!(
        q.store,
        LimitStore::Redis(SharedStore {
            on_error: OnStoreError::Allow,
            ..
        })
    ));
    // Defaults of the block; a cluster from `urls`; sentinels.
    let c = parse(&format!(
        "{}redis: {{urls: [\"rediss://10.0.0.1:7000\", \"rediss://10.0.0.2:7000\"]}}\n",
        with_policies("      - rate_limit: {limits: [1/s]}\n")
    ))
    .unwrap();
    let redis = c.redis.unwrap();
    assert_eq!(
        redis.servers,
        RedisServers::Cluster(vec!["10.0.0.1:7000".into(), "10.0.0.2:7000".into()])
    );
    assert_eq!(
        (redis.tls, redis.pool, redis.timeout),
        (true, 2, std::time::Duration::from_millis(20))
    );
    let c = parse(&format!(
        "{}redis: {{urls: [\"redis://10.0.0.1:26379\"], sentinel: {{master: mymaster}}}}\n",
        with_policies("      - rate_limit: {limits: [1/s]}\n")
    ))
    .unwrap();
    assert!(matches!(
        c.redis.unwrap().servers,
        RedisServers::Sentinel { master, .. } if master == "mymaster"
    ));
}

#[test]
fn redis_errors_are_located() {
    expect_errors(
        &format!(
            "{}redis:\n  url: http://127.0.0.1:6379\n  timeout: 0s\n  pool: 0\n",
            with_policies(
                "      - rate_limit: {limits: [1/s], sync: 1s}\n      - quota: {limit: 1/day, store: redis, mode: approximate}\n      - rate_limit: {limits: [1/s], store: redis, mode: approximate, sync: 0s}\n"
            )
        ),
        &[
            (8, "routes[0].policies[0].rate_limit.sync", "applies to `store: redis` only"),
            (9, "routes[0].policies[1].quota.mode", "a quota is counted exactly"),
            (10, "routes[0].policies[2].rate_limit.sync", "longer than zero"),
            (12, "redis.url", "expected `redis://host:port`"),
            (13, "redis.timeout", "longer than zero"),
            (14, "redis.pool", "between 1 and 64"),
        ],
    );
    expect_errors(
        &format!(
            "{}redis: {{url: \"redis://:pw@127.0.0.1:6379\", urls: [\"redis://a:1\"]}}\n",
            with_policies("      - rate_limit: {limits: [1/s]}\n")
        ),
        &[
            (9, "redis", "exactly one of `url`"),
            (9, "redis.url", "not in the URL"),
        ],
    );
}
