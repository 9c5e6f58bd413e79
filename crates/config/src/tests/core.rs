//! Whole files: every field, the defaults, error collection and places,
//! unknown fields, `${ENV}` expansion, the documented example.

use std::collections::HashMap;

use super::*;

const FULL: &str = r#"
server:
  workers: 3
  shutdown_timeout: 1m30s
access_log:
  output: file
  path: /var/log/tollgate/access.log
defaults:
  timeout: 45s
  max_body: 2MiB
  forwarding:
    x_forwarded: replace
    forwarded: append
    via: false
    host: {fixed: "api.internal"}
    hide_response_headers: [Server, X-Powered-By]
    request_id_header: X-Trace-Id
listeners:
  - name: web
    address: 127.0.0.1:8080
    protocol: http
    trusted_proxies: [10.0.0.0/8, "::1", 192.168.1.7]
    limits:
      max_header_bytes: 32KiB
      max_headers: 50
      max_uri_length: 4KiB
      header_read_timeout: 5s
      keepalive_timeout: 30s
      max_connections: 500
    http2:
      max_concurrent_streams: 64
      max_header_list_size: 8KiB
      max_pending_resets: 20
  - name: admin_2
    address: "[::1]:0"
upstreams:
  - name: users
    targets:
      - {address: "127.0.0.1:9001", weight: 5}
      - address: users.internal:80
      - address: "[::1]:9003"
    protocol: h2c
    timeouts: {connect: 250ms, response_header: 10s, read_idle: 20s}
    pool: {max_idle: 0, idle_timeout: 90s}
  - name: plain
    targets: [{address: "localhost:1"}]
routes:
  - name: users-v1
    listeners: [web]
    match:
      hosts: [API.example.com, "*.Example.com"]
      path: {prefix: /v1}
      methods: [GET, POST]
      headers:
        - {name: X-Env, value: prod}
        - {name: X-Id, regex: "[0-9]+"}
        - {name: Authorization, present: true}
      query:
        - {name: debug, value: "1"}
    upstream: users
    rewrite: {strip_prefix: /v1, add_prefix: /api, regex: {pattern: "^/u/(\\d+)$", replace: "/users/$1"}}
    timeout: 30s
    max_body: 1MiB
    forwarding:
      via: true
      host: target
  - name: hello
    match:
      path: {regex: "/hello/[a-z]+"}
    respond: {status: 201, headers: {Content-Type: text/plain, X-B: "2", X-A: "1"}, body: "hello\n"}
  - name: empty
    match: {path: {exact: /empty}}
    respond: {}
  - name: away
    redirect: {to: "https://example.com", status: 301, keep_path: true}
  - name: away-default
    redirect: {to: "https://example.org/$path"}
"#;

#[test]
fn full_file() {
    let c = parse(FULL).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.server.workers, 3);
    assert_eq!(c.server.shutdown_timeout, secs(90));
    assert_eq!(
        c.access_log,
        AccessLog::File("/var/log/tollgate/access.log".into())
    );

    let web = &c.listeners[0];
    assert_eq!(web.name, "web");
    assert_eq!(web.address, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(web.protocol, ListenerProtocol::Http);
    let nets: Vec<String> = web.trusted_proxies.iter().map(|n| n.to_string()).collect();
    assert_eq!(nets, ["10.0.0.0/8", "::1/128", "192.168.1.7/32"]);
    assert_eq!(web.limits.max_header_bytes, 32 * 1024);
    assert_eq!(web.limits.max_headers, 50);
    assert_eq!(web.limits.max_uri_length, 4096);
    assert_eq!(web.limits.header_read_timeout, secs(5));
    assert_eq!(web.limits.keepalive_timeout, secs(30));
    assert_eq!(web.limits.max_connections, 500);
    assert_eq!(web.http2.max_concurrent_streams, 64);
    assert_eq!(web.http2.max_header_list_size, 8192);
    assert_eq!(web.http2.max_pending_resets, 20);
    // Listener defaults.
    let admin = &c.listeners[1];
    assert_eq!(admin.address, "[::1]:0".parse().unwrap());
    assert!(admin.trusted_proxies.is_empty());
    assert_eq!(admin.limits.max_header_bytes, 16 * 1024);
    assert_eq!(admin.limits.max_headers, 100);
    assert_eq!(admin.limits.max_uri_length, 8 * 1024);
    assert_eq!(admin.limits.header_read_timeout, secs(10));
    assert_eq!(admin.limits.keepalive_timeout, secs(75));
    assert_eq!(admin.limits.max_connections, 10_000);
    assert_eq!(admin.http2.max_concurrent_streams, 100);
    assert_eq!(admin.http2.max_header_list_size, 16 * 1024);
    assert_eq!(admin.http2.max_pending_resets, 100);

    let users = &c.upstreams[0];
    assert_eq!(users.name, "users");
    let targets: Vec<_> = users
        .targets
        .iter()
        .map(|t| (t.address.as_str(), t.weight))
        .collect();
    assert_eq!(
        targets,
        [
            ("127.0.0.1:9001", 5),
            ("users.internal:80", 1),
            ("[::1]:9003", 1)
        ]
    );
    assert_eq!(users.protocol, UpstreamProtocol::H2c);
    assert_eq!(users.connect_timeout, Duration::from_millis(250));
    assert_eq!(users.response_header_timeout, secs(10));
    assert_eq!(users.read_idle_timeout, secs(20));
    assert_eq!(users.pool_max_idle, 0);
    assert_eq!(users.pool_idle_timeout, secs(90));
    let plain = &c.upstreams[1];
    assert_eq!(plain.protocol, UpstreamProtocol::Http1);
    assert_eq!(plain.connect_timeout, secs(5));
    assert_eq!(plain.response_header_timeout, secs(60));
    assert_eq!(plain.read_idle_timeout, secs(60));
    assert_eq!(plain.pool_max_idle, 64);
    assert_eq!(plain.pool_idle_timeout, secs(60));

    let r = &c.routes[0];
    assert_eq!(r.name, "users-v1");
    assert_eq!(r.listeners, ["web"]);
    assert_eq!(
        r.matcher.hosts,
        [
            HostPattern::Exact("api.example.com".into()),
            HostPattern::Suffix(".example.com".into())
        ]
    );
    assert!(matches!(&r.matcher.path, Some(PathMatch::Prefix(p)) if p == "/v1"));
    assert_eq!(r.matcher.methods, [http::Method::GET, http::Method::POST]);
    assert_eq!(r.matcher.headers.len(), 3);
    assert_eq!(r.matcher.headers[0].name, "x-env");
    assert!(matches!(&r.matcher.headers[0].value, ValueMatch::Exact(v) if v == "prod"));
    match &r.matcher.headers[1].value {
        ValueMatch::Regex(re) => {
            assert!(re.is_match("123"));
            assert!(!re.is_match("12a"), "header regex is anchored");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(r.matcher.headers[2].value, ValueMatch::Present));
    assert_eq!(r.matcher.query[0].name, "debug");
    assert!(matches!(&r.matcher.query[0].value, ValueMatch::Exact(v) if v == "1"));
    assert!(matches!(r.target, RouteTarget::Upstream(0)));
    let rw = r.rewrite.as_ref().unwrap();
    assert_eq!(rw.strip_prefix.as_deref(), Some("/v1"));
    assert_eq!(rw.add_prefix.as_deref(), Some("/api"));
    let (re, rep) = rw.regex.as_ref().unwrap();
    assert_eq!(re.replace("/u/42", rep.as_str()), "/users/42");
    assert_eq!(r.timeout, secs(30));
    assert_eq!(r.max_body, 1 << 20);
    // Forwarding: route fields override, the rest comes from defaults.
    assert!(r.forwarding.via);
    assert_eq!(r.forwarding.host, HostRewrite::Target);
    assert_eq!(r.forwarding.x_forwarded, ForwardMode::Replace);
    assert_eq!(r.forwarding.forwarded, ForwardMode::Append);
    assert_eq!(
        r.forwarding.hide_response_headers,
        ["server", "x-powered-by"]
    );
    assert_eq!(r.forwarding.request_id_header, "x-trace-id");

    let hello = &c.routes[1];
    assert!(hello.listeners.is_empty());
    match &hello.matcher.path {
        Some(PathMatch::Regex(re)) => {
            assert!(re.is_match("/hello/abc"));
            assert!(!re.is_match("/x/hello/abc"), "anchored at start");
            assert!(!re.is_match("/hello/abc/d"), "anchored at end");
        }
        other => panic!("{other:?}"),
    }
    match &hello.target {
        RouteTarget::Respond(f) => {
            assert_eq!(f.status, 201);
            let h: Vec<_> = f
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
                .collect();
            assert_eq!(
                h,
                [("content-type", "text/plain"), ("x-b", "2"), ("x-a", "1")],
                "order kept"
            );
            assert_eq!(f.body, "hello\n");
        }
        other => panic!("{other:?}"),
    }
    // Inherited from defaults.
    assert_eq!(hello.timeout, secs(45));
    assert_eq!(hello.max_body, 2 << 20);
    assert!(!hello.forwarding.via);
    assert_eq!(
        hello.forwarding.host,
        HostRewrite::Fixed("api.internal".into())
    );

    let empty = &c.routes[2];
    assert!(matches!(&empty.matcher.path, Some(PathMatch::Exact(p)) if p == "/empty"));
    match &empty.target {
        RouteTarget::Respond(f) => {
            assert_eq!(f.status, 200);
            assert!(f.headers.is_empty());
            assert_eq!(f.body, "");
        }
        other => panic!("{other:?}"),
    }
    match (&c.routes[3].target, &c.routes[4].target) {
        (RouteTarget::Redirect(a), RouteTarget::Redirect(b)) => {
            assert_eq!(
                (a.status.as_u16(), a.location.as_written(), a.keep_path),
                (301, "https://example.com", true)
            );
            assert_eq!(
                (b.status.as_u16(), b.location.as_written(), b.keep_path),
                (302, "https://example.org/$path", false)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(c.routes[3].rewrite.is_none());
}

#[test]
fn minimal_file_gets_defaults() {
    let c = parse(
        "listeners:\n  - {name: web, address: \"0.0.0.0:80\"}\nroutes:\n  - name: all\n    respond: {body: ok}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(c.server.workers, cores);
    assert_eq!(c.server.shutdown_timeout, secs(30));
    assert_eq!(c.access_log, AccessLog::Stdout);
    assert!(c.upstreams.is_empty());
    let r = &c.routes[0];
    assert!(r.matcher.hosts.is_empty() && r.matcher.path.is_none() && r.matcher.methods.is_empty());
    assert_eq!(r.timeout, secs(60));
    assert_eq!(r.max_body, 10 << 20);
    let f = &r.forwarding;
    assert_eq!(
        (f.x_forwarded, f.forwarded, f.via),
        (ForwardMode::Append, ForwardMode::Off, true)
    );
    assert_eq!(f.host, HostRewrite::Preserve);
    assert!(f.hide_response_headers.is_empty());
    assert_eq!(f.request_id_header, "x-request-id");

    let c = parse("server: {workers: 0}\naccess_log: {output: off}\nlisteners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}}]\n").unwrap();
    assert_eq!(c.server.workers, cores);
    assert_eq!(c.access_log, AccessLog::Off);
}

#[test]
fn all_validation_errors_are_collected() {
    let text = "\
listeners:
  - name: web
    address: 127.0.0.1:8080
    limits: {max_header_bytes: 512}
  - name: web
    address: 127.0.0.1:8080
upstreams:
  - name: users
    targets: []
  - name: other
    targets:
      - {address: \"10.0.0.1\", weight: 0}
routes:
  - name: a
    upstream: nope
  - name: b
    match:
      path: {regex: \"(\"}
      hosts: [\"a.*.com\", \"x.com:80\"]
      methods: [get]
      headers:
        - {name: \"bad name\", value: x}
    respond: {status: 99}
    redirect: {to: /x}
  - name: c
    listeners: [web, nosuch]
    respond: {headers: {X-Ok: \"a\\u0001b\"}}
    rewrite: {strip_prefix: v1}
    timeout: 0s
  - upstream: users
";
    let errs = errors(text);
    assert_errors(
        &errs,
        &[
            (4, "listeners[0].limits.max_header_bytes", "at least 1KiB"),
            (
                5,
                "listeners[1].name",
                "duplicate listener name `web` (first defined at line 2)",
            ),
            (6, "listeners[1].address", "already used by listener `web`"),
            (9, "upstreams[0].targets", "at least one target"),
            (12, "upstreams[1].targets[0].address", "missing port"),
            (12, "upstreams[1].targets[0].weight", "between 1 and 1000"),
            (
                15,
                "routes[0].upstream",
                "unknown upstream `nope`; defined upstreams: `users`, `other`",
            ),
            (16, "routes[1]", "found `respond` and `redirect`"),
            (18, "routes[1].match.path.regex", "unclosed group"),
            (19, "routes[1].match.hosts[0]", "wildcard"),
            (19, "routes[1].match.hosts[1]", "port"),
            (20, "routes[1].match.methods[0]", "write `GET`"),
            (
                22,
                "routes[1].match.headers[0].name",
                "invalid header name `bad name`",
            ),
            (26, "routes[2].listeners[1]", "unknown listener `nosuch`"),
            (27, "routes[2].respond.headers.X-Ok", "invalid header value"),
            (
                28,
                "routes[2].rewrite",
                "only allowed on routes with `upstream`",
            ),
            (28, "routes[2].rewrite.strip_prefix", "must start with `/`"),
            (29, "routes[2].timeout", "longer than zero"),
            (30, "routes[3].name", "missing required field `name`"),
        ],
    );
    // Columns point at the value.
    let regex_err = errs
        .iter()
        .find(|e| e.path == "routes[1].match.path.regex")
        .unwrap();
    assert_eq!(regex_err.location, Some((18, 21)));
    assert_eq!(
        regex_err.to_string(),
        "test.yaml:18:21: routes[1].match.path.regex: invalid regex `(`: unclosed group"
    );
    // Display is one line per error.
    let all = ConfigErrors(errs).to_string();
    assert_eq!(all.lines().count(), 19, "{all}");
}

#[test]
fn missing_sections_and_references() {
    assert_errors(
        &errors("server: {workers: 2}\n"),
        &[
            (0, "listeners", "define at least one listener"),
            (0, "routes", "define at least one route"),
        ],
    );
    assert_errors(
        &errors("listeners: []\nroutes: []\n"),
        &[
            (1, "listeners", "at least one"),
            (2, "routes", "at least one"),
        ],
    );
    assert_errors(&errors("# nothing\n"), &[(0, "", "empty")]);
    assert_errors(
        &errors(
            "access_log: {output: file}\nlisteners: [{name: \"a b\", address: \"localhost:80\"}]\nroutes: [{name: r}]\n",
        ),
        &[
            (1, "access_log.path", "missing required field `path`"),
            (2, "listeners[0].name", "letters, digits"),
            (2, "listeners[0].address", "host names are not allowed"),
            (3, "routes[0]", "a route needs exactly one of `upstream`, `respond`"),
        ],
    );
    assert_errors(
        &errors("access_log: {output: stdout, path: /x}\nlisteners: [{name: a, address: \"1.2.3.4:5\"}]\nroutes: [{name: r, respond: {}, match: {path: {prefix: /a, exact: /b}, headers: [{name: a}]}}]\n"),
        &[
            (1, "access_log.path", "only allowed with `output: file`"),
            (3, "routes[0].match.path", "found `prefix` and `exact`"),
            (3, "routes[0].match.headers[0]", "exactly one of `value`, `regex` or `present: true`"),
        ],
    );
}

#[test]
fn unknown_field_has_location() {
    let errs = errors("listeners:\n  - name: web\n    adress: 127.0.0.1:80\n");
    // The file is read past the unknown field: `routes` is missing too.
    assert_errors(
        &errs,
        &[
            (0, "routes", "missing required field `routes`"),
            (3, "listeners[0].adress", "unknown field `adress`"),
        ],
    );
    let e = &errs[1];
    assert_eq!(e.location, Some((3, 5)));
    assert_eq!(
        e.to_string(),
        "test.yaml:3:5: listeners[0].adress: unknown field `adress` (did you mean `address`?), \
         expected one of `name`, `address`, `protocol`, `trusted_proxies`, `limits`, `http2`, `upstream`, `sni`, `idle_timeout`, `max_sessions`, `access_log`, `proxy_protocol`, \
         `ip_filter`, `per_client`, `normalize_path`, `encoded_slash`, `keep_underscore_headers`, `tls`, `hsts`, `redirect_https`"
    );
}

#[test]
fn every_unknown_field_is_reported() {
    let text = "\
listeners:
  - name: web
    adress: 127.0.0.1:8080
upstreams:
  - name: users
    targets: [{address: \"10.0.0.1:80\"}]
    timeouts:
      conect: 1s
routes:
  - name: r
    match:
      pathh: {prefix: /}
    upstream: users
";
    let errs = errors(text);
    // Not also `missing required field `address``: the typo says it.
    assert_errors(
        &errs,
        &[
            (
                3,
                "listeners[0].adress",
                "unknown field `adress` (did you mean `address`?), expected one of `name`, `address`,",
            ),
            (
                8,
                "upstreams[0].timeouts.conect",
                "unknown field `conect` (did you mean `connect`?), expected one of `connect`, `response_header`, `read_idle`",
            ),
            (
                12,
                "routes[0].match.pathh",
                "unknown field `pathh` (did you mean `path`?), expected one of `hosts`, `path`, `methods`, `headers`, `query`",
            ),
        ],
    );
    let cols: Vec<_> = errs.iter().map(|e| e.location.unwrap().1).collect();
    assert_eq!(cols, [5, 7, 7]);

    // Fixing the typos gives a valid file.
    let fixed = text
        .replace("adress", "address")
        .replace("conect", "connect")
        .replace("pathh", "path");
    let c = parse(&fixed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.upstreams[0].connect_timeout, secs(1));
}

#[test]
fn unknown_fields_and_bad_values_together() {
    let text = "\
listners:
  - {name: web, address: \"127.0.0.1:80\"}
server: {workers: lots, threads: 4}
routes:
  - name: r
    timeout: 0s
    respond: {status: 200, bdy: hi, headers: {X-Any-Name: ok}}
    forwarding: {host: {fixed: \"a b\\u0001\"}, via: maybe, hide_response_header: [Server]}
";
    assert_errors(
        &errors(text),
        &[
            (
                1,
                "listners",
                "unknown field `listners` (did you mean `listeners`?)",
            ),
            (3, "server.workers", "expected a whole number"),
            (
                3,
                "server.threads",
                "unknown field `threads`, expected one of `workers`, `shutdown_timeout`",
            ),
            (6, "routes[0].timeout", "longer than zero"),
            (
                7,
                "routes[0].respond.bdy",
                "unknown field `bdy` (did you mean `body`?)",
            ),
            (8, "routes[0].forwarding.host.fixed", "invalid header value"),
            (8, "routes[0].forwarding.via", "expected `true` or `false`"),
            (
                8,
                "routes[0].forwarding.hide_response_header",
                "(did you mean `hide_response_headers`?)",
            ),
        ],
    );
    // Flow style: columns point at each key.
    let errs = errors(text);
    let at = |path: &str| errs.iter().find(|e| e.path == path).unwrap().location;
    assert_eq!(at("server.threads"), Some((3, 25)));
    assert_eq!(at("routes[0].respond.bdy"), Some((7, 28)));
    assert_eq!(
        at("routes[0].forwarding.hide_response_header"),
        Some((8, 58))
    );
}

#[test]
fn unknown_fields_after_a_read_error_are_reported() {
    // A value of the wrong shape stops the reading of its field only; the
    // rest of the file is still checked for unknown fields and wrong shapes.
    // Validation needs the whole file, so it does not run.
    let text = "\
listeners:
  - name: web
    address: [1, 2]
    limits: {max_headers: 10, max_body: 1MiB}
upstreams:
  - name: u
    targets: {address: \"10.0.0.1:80\"}
routes:
  - name: r
    match: {pathh: /x}
    timeout: 0s
    forwarding: {host: somewhere}
";
    let errs = errors(text);
    assert_errors(
        &errs,
        &[
            (3, "listeners[0].address", "expected string scalar"),
            (
                4,
                "listeners[0].limits.max_body",
                "unknown field `max_body`",
            ),
            (
                7,
                "upstreams[0].targets",
                "expected a list, e.g. targets: [{address: 10.0.0.5:80}]",
            ),
            (10, "routes[0].match.pathh", "unknown field `pathh`"),
            (
                12,
                "routes[0].forwarding.host",
                "unknown variant `somewhere`",
            ),
        ],
    );
    assert_eq!(errs[0].location, Some((3, 14)));
}

#[test]
fn unknown_fields_with_env_and_odd_keys() {
    let env: HashMap<&str, &str> = [("TG_ADDR", "127.0.0.1:7000")].into();
    let errs = parse_str_with_env(
        "listeners: [{name: web, address: ${TG_ADDR}, 7: x, \"adress\": y}]\nroutes: [{name: r, respond: {}}]\n",
        "env.yaml",
        |n| env.get(n).map(|v| v.to_string()),
    )
    .unwrap_err();
    let shown: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:#?}");
    // Columns after the substitution refer to the file as written.
    assert!(
        shown[0].starts_with("env.yaml:1:46: listeners[0].7: unknown field `7`, expected one of"),
        "{shown:#?}"
    );
    assert!(
        shown[1].starts_with("env.yaml:1:52: listeners[0].adress: unknown field `adress`"),
        "{shown:#?}"
    );
    // Keys of free-form mappings are not fields.
    parse("listeners: [{name: a, address: \"1.2.3.4:5\"}]\nroutes: [{name: r, respond: {headers: {X-Whatever: y}}}]\n")
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn wrong_type_has_location() {
    let errs = errors("listeners:\n  - name: web\n    address: [1, 2]\n");
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].location, Some((3, 14)));
    // A scalar of the wrong kind is a validation error, collected with others.
    assert_errors(
        &errors("server:\n  workers: many\n  shutdown_timeout: 5\nlisteners: [{name: a, address: \"1.2.3.4:5\"}]\nroutes: [{name: r, respond: {}, forwarding: {via: yes, forwarded: false}}]\n"),
        &[
            (2, "server.workers", "expected a whole number"),
            (3, "server.shutdown_timeout", "missing unit"),
            (5, "routes[0].forwarding.via", "expected `true` or `false`"),
            (5, "routes[0].forwarding.forwarded", "expected `append`, `replace` or `off`"),
        ],
    );
    // Unknown keyword in an enum: serde-level, with location.
    let errs = errors("defaults:\n  forwarding:\n    host: somewhere\n");
    assert_eq!(errs[0].location, Some((3, 11)));
    assert!(
        errs[0].message.contains("unknown variant `somewhere`"),
        "{}",
        errs[0].message
    );
}

#[test]
fn yaml_syntax_error_has_location() {
    let errs = errors("listeners:\n  - name: \"web\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].location.is_some(), "{:?}", errs[0]);
    let errs = errors("routes: []\nroutes: []\n");
    assert_eq!(errs[0].location, Some((2, 1)));
    assert_eq!(errs[0].message, "duplicate mapping key: routes");
}

const ENV_FILE: &str = "\
listeners:
  - name: web
    address: ${TG_TEST_ADDR}
routes:
  - name: r
    respond: {body: \"$${NOT_A_VAR} ${TG_TEST_BODY}\", status: ${TG_TEST_STATUS}}
";

#[test]
fn env_set() {
    let env: HashMap<&str, &str> = [
        ("TG_TEST_ADDR", "127.0.0.1:7000"),
        ("TG_TEST_BODY", "hi"),
        ("TG_TEST_STATUS", "42"),
    ]
    .into();
    let errs = parse_str_with_env(ENV_FILE, "env.yaml", |n| env.get(n).map(|v| v.to_string()))
        .unwrap_err();
    // Positions after a substitution map back to the file as written.
    assert_errors(&errs.0, &[(6, "routes[0].respond.status", "out of range")]);
    assert_eq!(errs.0[0].location, Some((6, 62)));

    let env: HashMap<&str, &str> = [
        ("TG_TEST_ADDR", "127.0.0.1:7000"),
        ("TG_TEST_BODY", "hi"),
        ("TG_TEST_STATUS", "202"),
    ]
    .into();
    let c =
        parse_str_with_env(ENV_FILE, "env.yaml", |n| env.get(n).map(|v| v.to_string())).unwrap();
    assert_eq!(c.listeners[0].address, "127.0.0.1:7000".parse().unwrap());
    match &c.routes[0].target {
        RouteTarget::Respond(f) => {
            assert_eq!(f.body, "${NOT_A_VAR} hi");
            assert_eq!(f.status, 202);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn env_unset() {
    let env: HashMap<&str, &str> = [("TG_TEST_BODY", "hi")].into();
    let errs = parse_str_with_env(ENV_FILE, "env.yaml", |n| env.get(n).map(|v| v.to_string()))
        .unwrap_err();
    let shown: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "env.yaml:3:14: environment variable `TG_TEST_ADDR` is not set",
            "env.yaml:6:62: environment variable `TG_TEST_STATUS` is not set",
        ]
    );
}

#[test]
fn env_from_process() {
    // parse_str reads the process environment; a name nobody sets.
    let errs = parse_str("x: ${TOLLGATE_CONFIG_TEST_SURELY_UNSET_VAR}\n", "p.yaml").unwrap_err();
    assert!(errs.0[0]
        .message
        .contains("TOLLGATE_CONFIG_TEST_SURELY_UNSET_VAR"));
}

#[test]
fn documented_example_is_valid() {
    let doc = include_str!("../../../../docs/configuration.md");
    let start = doc.find("## Complete example").unwrap();
    let block = &doc[start..];
    let block = &block[block.find("```yaml\n").unwrap() + 8..];
    let block = &block[..block.find("```").unwrap()];
    let c = parse(block).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.routes.len(), 3);
    assert_eq!(
        c.access_log,
        AccessLog::File("/var/log/tollgate/access.log".into())
    );
}

#[test]
fn read_errors_are_capped() {
    let mut text = String::from("listeners:\n");
    for i in 0..100 {
        text.push_str(&format!("  - {{name: l{i}, address: [x], typo: 1}}\n"));
    }
    let errs = errors(&text);
    assert!(
        errs[0].message.starts_with("stopped after 64 values"),
        "{errs:?}"
    );
    assert_eq!(errs[0].location, None);
    // 64 attempts: 64 unreadable values and the unknown fields before the
    // last one.
    assert_eq!(errs.len(), 1 + 64 + 63, "{errs:#?}");
    assert_eq!(errs.last().unwrap().path, "listeners[63].address");
}
