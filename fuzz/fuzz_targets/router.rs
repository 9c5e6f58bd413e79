//! The router on arbitrary host / path / query / method / header input,
//! over one fixed configuration with every kind of condition (built once).
//!
//! Input layout: fields separated by `\n`: host, path, query, method, then
//! header lines `name: value`. Checked beyond "no panic": `route` agrees with
//! `explain` (the chosen route matches; no route means none matches).

#![no_main]

use std::sync::OnceLock;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use tollgate_proxy::{RouteInput, Router};

const CONFIG: &str = r#"
server: {workers: 1}
access_log: {output: off}
listeners:
  - {name: web, address: 127.0.0.1:0}
  - {name: admin, address: 127.0.0.1:0}
upstreams:
  - {name: u, targets: [{address: "127.0.0.1:9"}]}
routes:
  - {name: any, respond: {body: any}}
  - {name: exact-host, match: {hosts: [api.example.com]}, upstream: u}
  - {name: wildcard-host, match: {hosts: ["*.example.com", "[::1]"]}, upstream: u}
  - {name: prefix, match: {path: {prefix: /api}}, upstream: u}
  - {name: prefix-slash, match: {path: {prefix: /static/}}, upstream: u}
  - {name: exact-path, match: {path: {exact: /api/v1/users/42}}, upstream: u}
  - {name: regex, match: {path: {regex: "/api/v[0-9]+/users/[0-9]+(/.*)?"}}, upstream: u}
  - {name: unicode-regex, match: {path: {regex: "/\\p{L}+/é*"}}, upstream: u}
  - {name: methods, match: {path: {prefix: /m}, methods: [POST, PUT, PURGE]}, upstream: u}
  - name: headers
    match:
      path: {prefix: /m}
      headers:
        - {name: X-Canary, value: "yes"}
        - {name: x-version, regex: "v[0-9]+"}
        - {name: X-Debug, present: true}
    upstream: u
  - name: query
    match:
      path: {prefix: /m}
      query: [{name: mode, value: "fast lane"}, {name: flag, present: true}, {name: "é", regex: "[a-z]*"}]
    upstream: u
  - {name: admin-only, listeners: [admin], match: {path: {prefix: /admin}}, respond: {body: admin}}
  - {name: redirect, match: {hosts: [old.example.com]}, redirect: {to: "https://example.com$path?$query"}}
"#;

fn router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let config = tollgate_config::parse_str_with_env(CONFIG, "router.yaml", |_| None)
            .unwrap_or_else(|e| panic!("fixed fuzz config is invalid:\n{e}"));
        let names: Vec<String> = config.listeners.iter().map(|l| l.name.clone()).collect();
        Router::new(&config.routes, &names)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let mut fields = text.split('\n');
    let host = fields.next().unwrap_or_default();
    let path = fields.next().unwrap_or_default();
    let query = fields.next().filter(|q| !q.is_empty() || selector & 1 == 0);
    let method =
        Method::from_bytes(fields.next().unwrap_or_default().as_bytes()).unwrap_or(Method::GET);
    let mut headers = HeaderMap::new();
    for line in fields {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_bytes(value.trim().as_bytes()),
        ) {
            headers.append(n, v);
        }
    }
    let input = RouteInput {
        // 0 = web, 1 = admin, 2 = no such listener.
        listener: usize::from(selector >> 1) % 3,
        host,
        path,
        query,
        method: &method,
        headers: &headers,
    };
    let router = router();
    let chosen = router.route(&input);
    let explained = router.explain(&input);
    match chosen {
        Some(i) => assert!(
            explained.iter().any(|(j, r)| *j == i && r.is_ok()),
            "route {i} chosen but explain says it does not match"
        ),
        None => assert!(
            explained.iter().all(|(_, r)| r.is_err()),
            "no route chosen but explain finds a match"
        ),
    }
    if let Some(i) = chosen {
        // The chosen route is at least as specific as every other match.
        let best = explained
            .iter()
            .filter_map(|(j, r)| r.as_ref().ok().map(|s| (*j, *s)))
            .max_by_key(|(_, s)| *s)
            .map(|(_, s)| s);
        let mine = explained
            .iter()
            .find(|(j, _)| *j == i)
            .and_then(|(_, r)| r.as_ref().ok().copied());
        assert_eq!(mine, best, "route {i} is not the most specific match");
    }
});
