//! L4 listeners and PROXY protocol settings.

use std::time::Duration;

use super::*;

const L4: &str = r#"
listeners:
  - name: web
    address: 127.0.0.1:8080
    proxy_protocol: {trusted: [10.0.0.0/8, "::1"]}
  - name: pg
    address: 127.0.0.1:5433
    protocol: tcp
    upstream: db
    idle_timeout: 1h
    proxy_protocol: {trusted: [192.168.0.0/16]}
    limits: {max_connections: 100, header_read_timeout: 2s}
  - name: tls
    address: 127.0.0.1:8443
    protocol: tls_passthrough
    sni:
      - {hosts: [api.example.com, "*.api.example.com"], upstream: api}
      - {hosts: [Web.Example.com], upstream: db}
    upstream: api
  - name: dns
    address: 127.0.0.1:5353
    protocol: udp
    upstream: dns
    max_sessions: 500
upstreams:
  - name: db
    targets: [{address: "127.0.0.1:5432"}]
    balance: consistent_hash
    hash_on: {client_ip: true}
    proxy_protocol: v2
    health: {active: {interval: 1s}}
  - name: api
    targets: [{address: "127.0.0.1:9443"}]
    balance: least_connections
    proxy_protocol: v1
  - name: dns
    targets: [{address: "127.0.0.1:53"}, {address: "127.0.0.1:54"}]
    balance: ip_hash
    health: {active: {type: tcp}}
  - name: http
    targets: [{address: "127.0.0.1:80"}]
    health: {active: {}}
routes:
  - {name: all, upstream: http}
"#;

#[test]
fn l4_listeners_and_proxy_protocol() {
    let c = parse(L4).unwrap_or_else(|e| panic!("{e}"));
    let [web, pg, tls, dns] = &c.listeners[..] else {
        panic!("four listeners")
    };
    assert_eq!(web.protocol, ListenerProtocol::Http);
    assert!(web.l4.is_none());
    assert_eq!(web.proxy_protocol.len(), 2);

    assert_eq!(pg.protocol, ListenerProtocol::Tcp);
    assert_eq!(pg.proxy_protocol[0].to_string(), "192.168.0.0/16");
    assert_eq!(pg.limits.max_connections, 100);
    assert_eq!(pg.limits.header_read_timeout, Duration::from_secs(2));
    let l4 = pg.l4.as_ref().unwrap();
    assert_eq!(l4.upstream, Some(0));
    assert_eq!(l4.idle_timeout, Duration::from_secs(3600));

    assert_eq!(tls.protocol, ListenerProtocol::TlsPassthrough);
    let l4 = tls.l4.as_ref().unwrap();
    assert_eq!(l4.upstream, Some(1));
    assert_eq!(l4.idle_timeout, Duration::from_secs(600));
    assert_eq!(l4.sni.len(), 2);
    assert_eq!(
        l4.sni[0].hosts,
        [
            HostPattern::Exact("api.example.com".into()),
            HostPattern::Suffix(".api.example.com".into())
        ]
    );
    assert_eq!((l4.sni[0].upstream, l4.sni[1].upstream), (1, 0));
    assert_eq!(
        l4.sni[1].hosts,
        [HostPattern::Exact("web.example.com".into())]
    );

    assert_eq!(dns.protocol, ListenerProtocol::Udp);
    let l4 = dns.l4.as_ref().unwrap();
    assert_eq!((l4.upstream, l4.max_sessions), (Some(2), 500));
    assert_eq!(l4.idle_timeout, Duration::from_secs(30));

    let [db, api, udp, http] = &c.upstreams[..] else {
        panic!("four upstreams")
    };
    assert_eq!(db.proxy_protocol, Some(ProxyProtocolVersion::V2));
    assert_eq!(api.proxy_protocol, Some(ProxyProtocolVersion::V1));
    assert_eq!(udp.proxy_protocol, None);
    // Active checks of an upstream only L4 listeners use probe TCP unless
    // told otherwise; a routed upstream keeps the HTTP default.
    let probe = |u: &Upstream| {
        u.health
            .as_ref()
            .unwrap()
            .active
            .as_ref()
            .unwrap()
            .probe
            .clone()
    };
    assert_eq!(probe(db), Probe::Tcp);
    assert_eq!(probe(udp), Probe::Tcp);
    assert!(matches!(probe(http), Probe::Http { .. }));
}

#[test]
fn an_l4_only_file_needs_no_routes() {
    let c = parse(
        "listeners: [{name: t, address: \"127.0.0.1:1\", protocol: tcp, upstream: u}]\nupstreams: [{name: u, targets: [{address: \"127.0.0.1:2\"}]}]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.routes.is_empty());
    let l4 = c.listeners[0].l4.as_ref().unwrap();
    assert_eq!(l4.idle_timeout, Duration::from_secs(600));
    assert_eq!(l4.max_sessions, 10_000);
    assert!(c.listeners[0].proxy_protocol.is_empty());
    // ... but an HTTP listener still does.
    expect_errors(
        "listeners: [{name: t, address: \"127.0.0.1:1\"}]\n",
        &[(0, "routes", "missing required field `routes`")],
    );
}

#[test]
fn l4_listener_errors() {
    expect_errors(
        r#"listeners:
  - name: t
    address: 127.0.0.1:1
    protocol: tcp
    trusted_proxies: [10.0.0.0/8]
    http2: {max_concurrent_streams: 5}
    limits: {max_connections: 5, max_headers: 10, keepalive_timeout: 5s}
    sni: [{hosts: [a.example], upstream: u}]
    max_sessions: 5
    idle_timeout: 0s
  - {name: n, address: "127.0.0.1:2", protocol: tcp}
  - {name: x, address: "127.0.0.1:3", protocol: tcp, upstream: nope}
upstreams: [{name: u, targets: [{address: "127.0.0.1:9"}]}]
"#,
        &[
            (
                2,
                "listeners[0].upstream",
                "missing required field `upstream`",
            ),
            (
                5,
                "listeners[0].trusted_proxies",
                "only allowed on `http` listeners",
            ),
            (6, "listeners[0].http2", "only allowed on `http` listeners"),
            (
                7,
                "listeners[0].limits.max_headers",
                "applies to `http` listeners only",
            ),
            (
                7,
                "listeners[0].limits.keepalive_timeout",
                "applies to `http` listeners only",
            ),
            (
                8,
                "listeners[0].sni",
                "only allowed on `tls_passthrough` listeners",
            ),
            (
                9,
                "listeners[0].max_sessions",
                "only allowed on `udp` listeners",
            ),
            (10, "listeners[0].idle_timeout", "longer than zero"),
            (
                11,
                "listeners[1].upstream",
                "missing required field `upstream`",
            ),
            (
                12,
                "listeners[2].upstream",
                "unknown upstream `nope`; defined upstreams: `u`",
            ),
        ],
    );
    expect_errors(
        "listeners: [{name: y, address: \"127.0.0.1:4\", protocol: sctp}]\nroutes: [{name: r, respond: {}}]\n",
        &[(1, "listeners[0].protocol", "expected `http`, `https`, `tcp`, `tls_passthrough` or `udp`")],
    );
}

#[test]
fn tls_passthrough_and_udp_errors() {
    expect_errors(
        r#"listeners:
  - {name: a, address: "127.0.0.1:1", protocol: tls_passthrough}
  - name: b
    address: 127.0.0.1:2
    protocol: tls_passthrough
    sni:
      - {hosts: [x.example, "*"], upstream: u}
      - {hosts: [X.example, "[::1]", "*.y.example"]}
      - {hosts: [], upstream: nope}
  - {name: c, address: "127.0.0.1:3", protocol: tls_passthrough, sni: []}
  - name: d
    address: 127.0.0.1:4
    protocol: udp
    upstream: u
    limits: {max_connections: 5}
    proxy_protocol: {trusted: [10.0.0.0/8]}
  - name: e
    address: 127.0.0.1:5
    proxy_protocol: {trusted: []}
    upstream: u
    idle_timeout: 5s
  - {name: f, address: "127.0.0.1:6", proxy_protocol: {trusted: [nonsense]}}
upstreams: [{name: u, targets: [{address: "127.0.0.1:9"}]}]
routes: [{name: r, respond: {}}]
"#,
        &[
            (
                2,
                "listeners[0].sni",
                "needs `sni` routes, a default `upstream`, or both",
            ),
            (
                7,
                "listeners[1].sni[0].hosts[1]",
                "`*` alone is not a host pattern",
            ),
            (
                8,
                "listeners[1].sni[1].upstream",
                "missing required field `upstream`",
            ),
            (
                8,
                "listeners[1].sni[1].hosts[0]",
                "`x.example` is already routed by listeners[1].sni[0]",
            ),
            (8, "listeners[1].sni[1].hosts[1]", "never IP addresses"),
            (
                9,
                "listeners[1].sni[2].hosts",
                "list at least one server name",
            ),
            (9, "listeners[1].sni[2].upstream", "unknown upstream `nope`"),
            (10, "listeners[2].sni", "list at least one route"),
            (15, "listeners[3].limits", "not allowed on `udp` listeners"),
            (
                16,
                "listeners[3].proxy_protocol",
                "not read on `udp` listeners",
            ),
            (
                19,
                "listeners[4].proxy_protocol.trusted",
                "list at least one CIDR",
            ),
            (
                20,
                "listeners[4].upstream",
                "only allowed on `tcp`, `tls_passthrough` and `udp` listeners",
            ),
            (
                21,
                "listeners[4].idle_timeout",
                "only allowed on `tcp`, `tls_passthrough` and `udp` listeners",
            ),
            (
                22,
                "listeners[5].proxy_protocol.trusted[0]",
                "invalid address `nonsense`",
            ),
        ],
    );
}

#[test]
fn what_l4_listeners_require_of_upstreams_and_routes() {
    expect_errors(
        r#"listeners:
  - {name: web, address: "127.0.0.1:1"}
  - {name: t, address: "127.0.0.1:2", protocol: tcp, upstream: a}
  - {name: d, address: "127.0.0.1:3", protocol: udp, upstream: b}
upstreams:
  - name: a
    targets: [{address: "127.0.0.1:9"}]
    balance: consistent_hash
    hash_on: {header: X-User}
    protocol: h2c
    proxy_protocol: v3
  - name: b
    targets: [{address: "127.0.0.1:9"}]
    proxy_protocol: v1
    health: {active: {type: http}}
  - name: c
    targets: [{address: "127.0.0.1:9"}]
    proxy_protocol: v2
routes:
  - {name: r1, listeners: [web, t], upstream: c}
"#,
        &[
            (
                9,
                "upstreams[0].hash_on",
                "needs an HTTP request, but upstream `a` is used by `tcp` listener `t`",
            ),
            (10, "upstreams[0].protocol", "`protocol: h2c` means nothing"),
            (
                11,
                "upstreams[0].proxy_protocol",
                "expected `v1` or `v2`, got `v3`",
            ),
            (
                14,
                "upstreams[1].proxy_protocol",
                "only sent on TCP connections",
            ),
            (15, "upstreams[1].health.active.type", "must be `type: tcp`"),
            (
                20,
                "routes[0].listeners[1]",
                "listener `t` is a `tcp` listener",
            ),
            (
                20,
                "routes[0].upstream",
                "upstream `c` sends PROXY protocol headers",
            ),
        ],
    );
    // Routes in a file without an HTTP listener can never match.
    expect_errors(
        "listeners: [{name: t, address: \"127.0.0.1:1\", protocol: tcp, upstream: u}]\nupstreams: [{name: u, targets: [{address: \"127.0.0.1:2\"}]}]\nroutes: [{name: r, respond: {}}]\n",
        &[(3, "routes", "there is none")],
    );
    // An unknown field in the new sections is reported like any other.
    let errs = parse(
        "listeners: [{name: t, address: \"127.0.0.1:1\", protocol: tls_passthrough, sni: [{hosts: [a.b], upstream: u, hots: 1}], proxy_protocol: {trusted: [\"::1\"], versions: 1}}]\nupstreams: [{name: u, targets: [{address: \"127.0.0.1:2\"}]}]\n",
    )
    .unwrap_err()
    .0;
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "listeners[0].sni[0].hots",
            "listeners[0].proxy_protocol.versions"
        ],
        "{errs:#?}"
    );
}

#[test]
fn what_only_http_uses_is_an_error_on_l4() {
    // Request settings on a relay would be ignored: each is an error naming
    // the field (connection filters do apply).
    expect_errors(
        r#"listeners:
  - name: t
    address: 127.0.0.1:1
    protocol: tcp
    upstream: u
    ip_filter: {allow: [10.0.0.0/8]}
    per_client: {max_connections: 5, rate: 10/s}
    normalize_path: false
    encoded_slash: reject
    redirect_https: {}
upstreams:
  - name: u
    targets: [{address: "127.0.0.1:2"}]
    health: {passive: {}}
    retries: {attempts: 1}
    sticky: {cookie: s}
    circuit_breaker: {max_requests: 10}
    slow_start: 30s
"#,
        &[
            (
                7,
                "listeners[0].per_client.rate",
                "limits HTTP requests; a `tcp` listener has none",
            ),
            (
                8,
                "listeners[0].normalize_path",
                "a `tcp` listener relays bytes",
            ),
            (9, "listeners[0].encoded_slash", "relays bytes"),
            (10, "listeners[0].redirect_https", "relays bytes"),
            (
                15,
                "upstreams[0].retries",
                "`retries` applies to HTTP requests, but upstream `u` is only used by `tcp` listener `t`",
            ),
            (16, "upstreams[0].sticky", "applies to HTTP requests"),
            (
                17,
                "upstreams[0].circuit_breaker",
                "applies to HTTP requests",
            ),
            (18, "upstreams[0].slow_start", "applies to HTTP requests"),
        ],
    );
    // An upstream that routes use too keeps them (for its HTTP requests).
    parse(
        r#"listeners:
  - {name: web, address: "127.0.0.1:1"}
  - {name: t, address: "127.0.0.1:2", protocol: tcp, upstream: u}
upstreams:
  - name: u
    targets: [{address: "127.0.0.1:3"}]
    health: {passive: {}}
    retries: {attempts: 1}
    slow_start: 30s
routes: [{name: r, upstream: u}]
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn access_log_is_on_for_l4_listeners_unless_turned_off() {
    let c = parse(
        "listeners:\n  - {name: a, address: \"127.0.0.1:1\", protocol: tcp, upstream: u}\n  - {name: b, address: \"127.0.0.1:2\", protocol: udp, upstream: u, access_log: false}\nupstreams: [{name: u, targets: [{address: \"127.0.0.1:9\"}]}]\n",
    )
    .unwrap();
    let on: Vec<bool> = c
        .listeners
        .iter()
        .map(|l| l.l4.as_ref().unwrap().access_log)
        .collect();
    assert_eq!(on, [true, false]);
    expect_errors(
        "listeners:\n  - {name: a, address: \"127.0.0.1:1\", protocol: tcp, upstream: u, access_log: maybe}\n  - {name: w, address: \"127.0.0.1:2\", access_log: false}\nupstreams: [{name: u, targets: [{address: \"127.0.0.1:9\"}]}]\nroutes: [{name: r, respond: {}}]\n",
        &[
            (2, "listeners[0].access_log", "maybe"),
            (3, "listeners[1].access_log", "only allowed on `tcp`, `tls_passthrough` and `udp` listeners"),
        ],
    );
}
