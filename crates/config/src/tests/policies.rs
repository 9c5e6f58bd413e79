//! Policies: the chain (`defaults.policies`, named ones with `use`), and the
//! `cache` and `compress` kinds: defaults, every field, errors.

use std::sync::Arc;

use super::*;

const POLICIES: &str = r#"
policies:
  tag:
    headers:
      response: {set: {X-Served-By: "tollgate $request_id"}}
defaults:
  policies:
    - headers: {request: {remove: [X-Debug]}}
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: r
    respond: {status: 200}
    policies:
      - use: tag
      - headers:
          request:
            set: {X-Client: $client_ip}
            add: {X-Trace: "a-$1"}
"#;

#[test]
fn policies_resolve_defaults_then_route_with_named_ones_inlined() {
    let c = parse(POLICIES).unwrap();
    let kinds: Vec<&str> = c.routes[0].policies.iter().map(|p| p.kind()).collect();
    assert_eq!(kinds, ["headers", "headers", "headers"]);
    let Policy::Headers(first) = &c.routes[0].policies[0] else {
        panic!("not a headers policy")
    };
    assert_eq!(
        first.request.remove,
        [http::HeaderName::from_static("x-debug")]
    );
    let Policy::Headers(named) = &c.routes[0].policies[1] else {
        panic!("not a headers policy")
    };
    assert_eq!(named.response.set[0].0, "x-served-by");
    assert_eq!(
        named.response.set[0].1.parts()[1],
        Part::Var(Var::RequestId)
    );
    let Policy::Headers(own) = &c.routes[0].policies[2] else {
        panic!("not a headers policy")
    };
    assert!(own.request.add[0].1.uses_captures());
}

#[test]
fn policy_errors_name_field_and_place() {
    let errs = errors(
        r#"
policies:
  a: {use: b}
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: r
    respond: {status: 200}
    policies:
      - use: nope
      - {}
      - headers: {response: {set: {X-A: $nope}, remove: ["bad name"]}}
"#,
    );
    assert_errors(
        &errs,
        &[
            (3, "policies.a.use", "cannot `use` another"),
            (
                9,
                "routes[0].policies[0].use",
                "unknown policy `nope`; named policies: `a`",
            ),
            (
                10,
                "routes[0].policies[1]",
                "a policy needs exactly one of `use`, `headers`",
            ),
            (
                11,
                "routes[0].policies[2].headers.response.set.X-A",
                "unknown variable `$nope`",
            ),
            (
                11,
                "routes[0].policies[2].headers.response.remove[0]",
                "invalid header name",
            ),
        ],
    );
}

#[test]
fn headers_policies_may_not_set_hop_by_hop_fields() {
    let errs = errors(
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: r
    respond: {status: 200}
    policies:
      - headers:
          request: {set: {TE: trailers}, remove: [te]}
          response: {add: {Connection: close, X-Ok: "1"}}
"#,
    );
    assert_errors(
        &errs,
        &[
            (
                8,
                "routes[0].policies[0].headers.request.set.TE",
                "`te` is a hop-by-hop or framing field",
            ),
            (
                9,
                "routes[0].policies[0].headers.response.add.Connection",
                "`connection` is a hop-by-hop or framing field",
            ),
        ],
    );
}

fn policies(route_policies: &str) -> Vec<Policy> {
    let text = format!(
        "listeners: [{{name: web, address: 127.0.0.1:0}}]\nroutes:\n  - name: r\n    respond: {{}}\n    policies:\n{route_policies}"
    );
    parse(&text).unwrap().routes.remove(0).policies
}

#[test]
fn cache_defaults() {
    let p = policies("      - cache: {}\n");
    let Policy::Cache(c) = &p[0] else {
        panic!("cache expected")
    };
    assert_eq!(c.max_size, 256 << 20);
    assert_eq!(c.max_object_size, 8 << 20);
    assert_eq!(c.key.query, QueryKey::All);
    assert!(c.key.headers.is_empty() && c.key.cookies.is_empty());
    assert_eq!(
        (c.heuristic_percent, c.heuristic_max),
        (10, secs(24 * 3600))
    );
    assert!(!c.store_set_cookie);
    assert_eq!(c.lock_timeout, secs(5));
    assert!(c.purge.is_none());
    assert_eq!(p[0].kind(), "cache");
}

#[test]
fn cache_fields() {
    let p = policies(
        r#"      - cache:
          max_size: 64MiB
          max_object_size: 1MiB
          key: {query: {include: [id, page]}, headers: [X-Tenant], cookies: [lang]}
          heuristic: {fraction: 20%, max: 1h}
          store_set_cookie: true
          lock_timeout: 250ms
          purge: {method: BAN, allow: [10.0.0.0/8, "::1"]}
"#,
    );
    let Policy::Cache(c) = &p[0] else {
        panic!("cache expected")
    };
    assert_eq!((c.max_size, c.max_object_size), (64 << 20, 1 << 20));
    assert_eq!(
        c.key.query,
        QueryKey::Include(vec!["id".into(), "page".into()])
    );
    assert_eq!(c.key.headers, ["x-tenant"]);
    assert_eq!(c.key.cookies, ["lang"]);
    assert_eq!((c.heuristic_percent, c.heuristic_max), (20, secs(3600)));
    assert!(c.store_set_cookie);
    assert_eq!(c.lock_timeout, std::time::Duration::from_millis(250));
    let purge = c.purge.as_ref().unwrap();
    assert_eq!(purge.method.as_str(), "BAN");
    assert_eq!(purge.allow.len(), 2);
    let p = policies("      - cache: {key: {query: none}, purge: {}}\n");
    let Policy::Cache(c) = &p[0] else {
        panic!("cache expected")
    };
    assert_eq!(c.key.query, QueryKey::None);
    let purge = c.purge.as_ref().unwrap();
    assert_eq!(purge.method.as_str(), "PURGE");
    assert_eq!(purge.allow.len(), 2, "loopback by default");
}

#[test]
fn a_named_cache_is_one_definition_wherever_it_is_used() {
    let text = r#"
policies:
  shared: {cache: {}}
defaults:
  policies: [{cache: {}}]
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - {name: a, respond: {}, policies: [{use: shared}]}
  - {name: b, respond: {}, policies: [{use: shared}, {cache: {}}]}
"#;
    let c = parse(text).unwrap();
    let cache = |r: usize, i: usize| match &c.routes[r].policies[i] {
        Policy::Cache(c) => c.clone(),
        _ => panic!("cache expected"),
    };
    assert!(
        Arc::ptr_eq(&cache(0, 0), &cache(1, 0)),
        "defaults: one store"
    );
    assert!(Arc::ptr_eq(&cache(0, 1), &cache(1, 1)), "named: one store");
    assert!(!Arc::ptr_eq(&cache(0, 1), &cache(1, 2)), "inline: its own");
}

#[test]
fn compress_defaults_and_fields() {
    let p = policies("      - compress: {}\n");
    let Policy::Compress(c) = &p[0] else {
        panic!("compress expected")
    };
    assert_eq!(c.algorithms, [Coding::Zstd, Coding::Brotli, Coding::Gzip]);
    assert_eq!(c.min_length, 1024);
    assert_eq!(c.types.len(), DEFAULT_TYPES.len());
    assert_eq!((c.gzip_level, c.brotli_level, c.zstd_level), (6, 4, 3));
    let p = policies(
        "      - compress: {algorithms: [gzip], min_length: 0, types: [text/html, \"application/*+json\"], levels: {gzip: 9, br: 11, zstd: 19}}\n",
    );
    let Policy::Compress(c) = &p[0] else {
        panic!("compress expected")
    };
    assert_eq!(c.algorithms, [Coding::Gzip]);
    assert_eq!(c.min_length, 0);
    assert_eq!(
        c.types,
        [
            TypePattern::Exact("text/html".into()),
            TypePattern::Suffix("application/".into(), "+json".into())
        ]
    );
    assert_eq!((c.gzip_level, c.brotli_level, c.zstd_level), (9, 11, 19));
}

#[test]
fn cache_and_compress_errors_name_field_and_place() {
    let errs = errors(
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: r
    respond: {}
    policies:
      - cache:
          max_size: 1KiB
          max_object_size: 2GiB
          key: {headers: ["bad name"], cookies: ["a;b"]}
          heuristic: {fraction: 200%}
          lock_timeout: soon
          purge: {method: get, allow: [nowhere]}
      - compress:
          algorithms: [gzip, deflate, gzip]
          min_length: -1
          types: [json, "*/*"]
          levels: {gzip: 0, br: 12, zstd: 23}
      - {cache: {}, compress: {}}
"#,
    );
    let c = |f: &str| format!("routes[0].policies[0].cache.{f}");
    let z = |f: &str| format!("routes[0].policies[1].compress.{f}");
    assert_errors(
        &errs,
        &[
            (8, &c("max_size"), "must be at least 1MiB"),
            (9, &c("max_object_size"), "must be at most 1GiB"),
            (10, &c("key.headers[0]"), "invalid header name"),
            (10, &c("key.cookies[0]"), "invalid name"),
            (11, &c("heuristic.fraction"), "at most 100%"),
            (12, &c("lock_timeout"), "invalid duration"),
            (13, &c("purge.method"), "case-sensitive"),
            (13, &c("purge.allow[0]"), "invalid address"),
            (15, &z("algorithms[1]"), "unknown algorithm `deflate`"),
            (15, &z("algorithms[2]"), "listed twice"),
            (16, &z("min_length"), "must not be negative"),
            (17, &z("types[0]"), "invalid media type"),
            (17, &z("types[1]"), "invalid media type"),
            (18, &z("levels.gzip"), "between 1 and 9"),
            (18, &z("levels.br"), "between 0 and 11"),
            (18, &z("levels.zstd"), "between 1 and 22"),
            (19, "routes[0].policies[2]", "found `cache` and `compress`"),
        ],
    );
}
