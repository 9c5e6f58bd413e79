//! `/metrics` on the admin listener: counts per route and status code,
//! duration histograms, target health, reload counters, both text formats.
//! The text is read back by the small Prometheus text parser below.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tollgate_testkit::{
    get, h2_get, read_line, render, request, tls_get, TcpServer, TempDir, TestCa, TlsOptions,
    TollgateProcess, Upstream,
};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

const CONFIG: &str = r#"
server: {workers: 2, shutdown_timeout: 5s}
access_log: {output: off}
admin: {address: "127.0.0.1:0"}
listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams:
  - name: app
    targets: [{address: "{a}"}]
  - name: checked
    targets: [{address: "{b}"}]
    health:
      active: {type: http, path: /health, interval: 100ms, jitter: 0%, timeout: 500ms, healthy: 1, unhealthy: 1}
routes:
  - {name: teapot, match: {path: {exact: /tea}}, respond: {status: 418, body: no}}
  - {name: checked, match: {path: {prefix: /c/}}, upstream: checked}
  - {name: app, upstream: app}
"#;

/// Series by name and labels (sorted, `k="v"` joined by commas).
type Scrape = BTreeMap<(String, String), f64>;

/// Parses Prometheus text (0.0.4 or OpenMetrics): every sample line.
fn parse(text: &str) -> Scrape {
    let mut out = Scrape::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect(line);
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut labels: Vec<&str> = labels.split(',').filter(|l| !l.is_empty()).collect();
        labels.sort();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().expect(line),
        };
        out.insert((name.to_string(), labels.join(",")), value);
    }
    out
}

fn value(scrape: &Scrape, name: &str, labels: &str) -> Option<f64> {
    scrape.get(&(name.to_string(), labels.to_string())).copied()
}

fn scrape(admin: SocketAddr) -> Scrape {
    let r = get(admin, "/metrics");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    parse(&r.text())
}

struct Setup {
    _dir: TempDir,
    tg: TollgateProcess,
    admin: SocketAddr,
}

fn start(a: &Upstream, b: &Upstream) -> Setup {
    start_with(CONFIG, a, b)
}

fn start_with(config: &str, a: &Upstream, b: &Upstream) -> Setup {
    let text = render(config, &[("a", &a.addr()), ("b", &b.addr())]);
    let dir = TempDir::new();
    let config = dir.write("tollgate.yaml", &text);
    let mut tg = TollgateProcess::start(BIN, &config, &[], &["web"]);
    let admin = tg.admin_addr();
    Setup {
        _dir: dir,
        tg,
        admin,
    }
}

/// Polls the scrape until `done` holds, for at most 10 s.
fn until(admin: SocketAddr, mut done: impl FnMut(&Scrape) -> bool) -> Scrape {
    let start = Instant::now();
    loop {
        let s = scrape(admin);
        if done(&s) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not reached: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn requests_are_counted_per_route_and_code_with_durations() {
    let (a, b) = (Upstream::echo(), Upstream::echo());
    let s = start(&a, &b);
    let web = s.tg.addr("web");
    let mut measured = Duration::ZERO;
    for _ in 0..7 {
        let t = Instant::now();
        assert_eq!(get(web, "/tea").status, 418);
        measured += t.elapsed();
    }
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(get(web, "/x").status, 200);
        measured += t.elapsed();
    }
    let requests = "tollgate_requests_total";
    // A request is counted just after its last byte is written.
    let m = until(s.admin, |m| {
        value(
            m,
            requests,
            r#"code="200",listener="web",route="app",upstream="app""#,
        ) == Some(5.0)
    });
    assert_eq!(
        value(&m, requests, r#"code="418",listener="web",route="teapot""#),
        Some(7.0)
    );
    assert_eq!(
        value(
            &m,
            requests,
            r#"code="200",listener="web",route="app",upstream="app""#
        ),
        Some(5.0)
    );
    assert_eq!(
        value(&m, requests, r#"code="200",listener="web",route="teapot""#),
        None
    );
    let count = |route: &str| {
        let labels = format!(r#"route="{route}""#);
        value(&m, "tollgate_request_duration_seconds_count", &labels)
    };
    assert_eq!(count("teapot"), Some(7.0));
    assert_eq!(count("app"), Some(5.0));
    let inf = value(
        &m,
        "tollgate_request_duration_seconds_bucket",
        r#"le="+Inf",route="app""#,
    );
    assert_eq!(inf, Some(5.0));
    // Each request's time inside tollgate is within what the client saw
    // (plus slack: the server reads its clock just after the last write).
    let sum: f64 = ["teapot", "app"]
        .iter()
        .map(|r| {
            let labels = format!(r#"route="{r}""#);
            value(&m, "tollgate_request_duration_seconds_sum", &labels).unwrap()
        })
        .sum();
    assert!(
        sum > 0.0 && sum <= measured.as_secs_f64() + 0.5,
        "{sum} vs {measured:?}"
    );
    let upstream = value(
        &m,
        "tollgate_upstream_duration_seconds_count",
        r#"upstream="app""#,
    );
    assert_eq!(upstream, Some(5.0));
    assert_eq!(
        value(
            &m,
            "tollgate_response_body_bytes_total",
            r#"route="teapot""#
        ),
        Some(14.0)
    );
    assert_eq!(
        value(
            &m,
            "tollgate_build_info",
            &format!(r#"version="{}""#, env!("CARGO_PKG_VERSION"))
        ),
        Some(1.0)
    );
}

#[test]
fn openmetrics_is_served_when_asked_for() {
    let (a, b) = (Upstream::echo(), Upstream::echo());
    let s = start(&a, &b);
    assert_eq!(get(s.tg.addr("web"), "/tea").status, 418);
    let labels = r#"code="418",listener="web",route="teapot""#;
    until(s.admin, |m| {
        value(m, "tollgate_requests_total", labels) == Some(1.0)
    });
    let accept = ("accept", "application/openmetrics-text; version=1.0.0");
    let r = request(s.admin, "GET", "/metrics", &[accept], b"");
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = r.text();
    assert!(text.ends_with("# EOF\n"), "{text}");
    let m = parse(&text);
    assert_eq!(value(&m, "tollgate_requests_total", labels), Some(1.0));
}

#[test]
fn target_health_flips_when_a_target_dies() {
    let (a, b) = (Upstream::echo(), Upstream::echo());
    let b_addr = b.addr().to_string();
    let s = start(&a, &b);
    let up = format!(r#"target="{b_addr}",upstream="checked""#);
    until(s.admin, |m| {
        value(m, "tollgate_target_up", &up) == Some(1.0)
    });
    drop(b);
    until(s.admin, |m| {
        value(m, "tollgate_target_up", &up) == Some(0.0)
    });
}

#[test]
fn reloads_are_counted_and_request_counts_survive_them() {
    let (a, b) = (Upstream::echo(), Upstream::echo());
    let s = start(&a, &b);
    for _ in 0..3 {
        assert_eq!(get(s.tg.addr("web"), "/tea").status, 418);
    }
    let labels = r#"code="418",listener="web",route="teapot""#;
    let m = until(s.admin, |m| {
        value(m, "tollgate_requests_total", labels) == Some(3.0)
    });
    assert_eq!(value(&m, "tollgate_config_reloads_total", ""), Some(0.0));
    assert!(value(&m, "tollgate_config_info", "").is_none());
    let r = request(s.admin, "POST", "/reload", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    // The old generation's counts join the totals once its last
    // connection is gone.
    let m = until(s.admin, |m| {
        value(m, "tollgate_requests_total", labels) == Some(3.0)
    });
    assert_eq!(value(&m, "tollgate_config_reloads_total", ""), Some(1.0));
    assert_eq!(
        value(&m, "tollgate_config_reload_failures_total", ""),
        Some(0.0)
    );
    assert!(value(&m, "tollgate_config_last_reload_timestamp_seconds", "").unwrap() > 1e9);
    assert!(m.keys().any(|(n, _)| n == "tollgate_config_info"));
}

#[test]
fn open_connections_and_requests_in_flight_are_gauges_per_listener() {
    let (a, b) = (
        Upstream::slow(Duration::from_millis(1500)),
        Upstream::echo(),
    );
    let s = start(&a, &b);
    let web = s.tg.addr("web");
    let slow = std::thread::spawn(move || get(web, "/slow").status);
    let busy = until(s.admin, |m| {
        value(m, "tollgate_requests_in_flight", r#"listener="web""#) == Some(1.0)
    });
    assert_eq!(
        value(&busy, "tollgate_open_connections", r#"listener="web""#),
        Some(1.0)
    );
    assert_eq!(slow.join().unwrap(), 200);
    until(s.admin, |m| {
        value(m, "tollgate_requests_in_flight", r#"listener="web""#) == Some(0.0)
            && value(m, "tollgate_open_connections", r#"listener="web""#) == Some(0.0)
    });
}

#[test]
fn http2_requests_are_counted_too() {
    let (a, b) = (Upstream::echo(), Upstream::echo());
    let s = start(&a, &b);
    for _ in 0..3 {
        assert_eq!(h2_get(s.tg.addr("web"), "/tea").status, 418);
    }
    let labels = r#"code="418",listener="web",route="teapot""#;
    // Counted, and out of flight, when the answer's body ends.
    let m = until(s.admin, |m| {
        value(m, "tollgate_requests_total", labels) == Some(3.0)
            && value(m, "tollgate_requests_in_flight", r#"listener="web""#) == Some(0.0)
    });
    let count = value(
        &m,
        "tollgate_request_duration_seconds_count",
        r#"route="teapot""#,
    );
    assert_eq!(count, Some(3.0));
}

/// Both targets answer 503; up to 3 retries each, under a 20 % budget.
const RETRYING: &str = r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: off}
admin: {address: "127.0.0.1:0"}
listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams:
  - name: flaky
    targets: [{address: "{a}"}, {address: "{b}"}]
    retries: {attempts: 3, on: [503], budget: 20%, min_per_second: 0, backoff: {base: 1ms, max: 1ms}}
routes:
  - {name: all, upstream: flaky}
"#;

#[test]
fn retries_and_budget_refusals_are_counted_per_upstream() {
    let (a, b) = (Upstream::status(503), Upstream::status(503));
    let s = start_with(RETRYING, &a, &b);
    let requests = 50;
    for _ in 0..requests {
        assert_eq!(get(s.tg.addr("web"), "/").status, 503);
    }
    let m = until(s.admin, |m| {
        value(
            m,
            "tollgate_requests_total",
            r#"code="503",listener="web",route="all",upstream="flaky""#,
        ) == Some(50.0)
    });
    let sent = (a.request_count() + b.request_count()) as f64;
    let retries = value(&m, "tollgate_upstream_retries_total", r#"upstream="flaky""#);
    // Every upstream request past the first of each client request is a retry.
    assert_eq!(retries, Some(sent - requests as f64));
    let refused = value(
        &m,
        "tollgate_retry_budget_refusals_total",
        r#"upstream="flaky""#,
    );
    // The budget refused most: each request wanted a retry, few got one.
    assert!(refused.unwrap() >= 25.0, "{refused:?}");
}

#[test]
fn metrics_public_opens_only_metrics_without_the_token() {
    let config = CONFIG.replace(
        r#"admin: {address: "127.0.0.1:0"}"#,
        r#"admin: {address: "127.0.0.1:0", token: {env: ADMIN_TOKEN}, metrics_public: true}"#,
    );
    let (a, b) = (Upstream::echo(), Upstream::echo());
    let text = render(&config, &[("a", &a.addr()), ("b", &b.addr())]);
    let dir = TempDir::new();
    let path = dir.write("tollgate.yaml", &text);
    let env = [("ADMIN_TOKEN", "t0ken")];
    let mut tg = TollgateProcess::start(BIN, &path, &env, &["web"]);
    let admin = tg.admin_addr();
    assert_eq!(get(admin, "/metrics").status, 200);
    assert_eq!(get(admin, "/status").status, 401);
    let auth = ("authorization", "Bearer t0ken");
    assert_eq!(request(admin, "GET", "/status", &[auth], b"").status, 200);
}

/// Auth outcomes and limit refusals are counted by policy and result.
#[test]
fn auth_decisions_and_limit_refusals_are_counted() {
    let (a, b) = (Upstream::echo(), Upstream::echo());
    let s = start_with(
        r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: off}
admin: {address: "127.0.0.1:0"}
listeners: [{name: web, address: "127.0.0.1:0"}]
consumers: [{name: app, api_keys: [k-app]}]
upstreams:
  - {name: a, targets: [{address: "{a}"}]}
  - {name: b, targets: [{address: "{b}"}]}
routes:
  - name: limited
    upstream: a
    policies:
      - key_auth: {}
      - rate_limit: {limits: [1/min], key: consumer}
"#,
        &a,
        &b,
    );
    let web = s.tg.addr("web");
    let call = |key: Option<&str>| {
        let headers: Vec<(&str, &str)> = key.iter().map(|k| ("x-api-key", *k)).collect();
        request(web, "GET", "/x", &headers, b"").status
    };
    assert_eq!(call(None), 401);
    assert_eq!(call(Some("wrong")), 401);
    assert_eq!(call(Some("k-app")), 200);
    assert_eq!(call(Some("k-app")), 429);
    let scrape = until(s.admin, |m| {
        value(
            m,
            "tollgate_auth_decisions_total",
            r#"policy="key_auth",result="ok""#,
        ) == Some(2.0)
    });
    let auth = |result: &str| {
        value(
            &scrape,
            "tollgate_auth_decisions_total",
            &format!(r#"policy="key_auth",result="{result}""#),
        )
    };
    assert_eq!(auth("missing"), Some(1.0));
    assert_eq!(auth("invalid"), Some(1.0));
    let refused: Vec<_> = scrape
        .iter()
        .filter(|((name, _), _)| name == "tollgate_limit_refusals_total")
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(*refused[0].1, 1.0, "{refused:?}");
    assert!(refused[0].0 .1.contains("rate_limit"), "{refused:?}");
}

#[test]
fn metrics_false_counts_no_request_but_keeps_health() {
    let (a, b) = (Upstream::echo(), Upstream::echo());
    let config = CONFIG.replace(
        r#"admin: {address: "127.0.0.1:0"}"#,
        r#"admin: {address: "127.0.0.1:0", metrics: false}"#,
    );
    assert_ne!(config, CONFIG);
    let s = start_with(&config, &a, &b);
    let web = s.tg.addr("web");
    for _ in 0..5 {
        assert_eq!(get(web, "/x").status, 200);
    }
    assert_eq!(a.request_count(), 5);
    // The last answer's bookkeeping may end just after its client read it:
    // waited for, as the health check is.
    let m = until(s.admin, |m| {
        value(
            m,
            "tollgate_target_up",
            &format!(r#"target="{}",upstream="checked""#, b.addr()),
        ) == Some(1.0)
            && value(m, "tollgate_requests_in_flight", r#"listener="web""#) == Some(0.0)
    });
    // No request family at all; the gauges per listener stay.
    let counted = |name: &str| {
        name == "tollgate_requests_total"
            || [
                "tollgate_request_",
                "tollgate_response_",
                "tollgate_upstream_",
            ]
            .iter()
            .any(|p| name.starts_with(p))
    };
    assert!(!m.keys().any(|(name, _)| counted(name)), "{m:?}");
    assert_eq!(
        value(&m, "tollgate_requests_in_flight", r#"listener="web""#),
        Some(0.0)
    );
}

#[test]
fn tls_cache_compression_l4_and_certificate_series_are_counted() {
    let up = Upstream::echo();
    let cacheable = Upstream::with_headers(&[("cache-control", "max-age=600")]);
    let echo = TcpServer::echo();
    let ca = TestCa::new("metrics CA");
    let dir = TempDir::new();
    let (cert, key) = dir.write_pair("site", &ca.server_cert(&["localhost"]));
    let config = render(
        r#"
server: {workers: 2, shutdown_timeout: 5s}
access_log: {output: off}
admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
  - name: secure
    address: "127.0.0.1:0"
    protocol: https
    tls: {certificates: [{cert: "{cert}", key: "{key}"}]}
  - {name: pg, address: "127.0.0.1:0", protocol: tcp, upstream: echo}
upstreams:
  - {name: app, targets: [{address: "{up}"}]}
  - {name: echo, targets: [{address: "{echo}"}]}
  - {name: origin, targets: [{address: "{cacheable}"}]}
routes:
  - {name: cached, match: {path: {prefix: /c}}, upstream: origin, policies: [{cache: {}}]}
  - name: app
    upstream: app
    policies: [{compress: {min_length: 1}}]
"#,
        &[
            ("cert", &cert.display()),
            ("key", &key.display()),
            ("up", &up.addr()),
            ("echo", &echo.addr()),
            ("cacheable", &cacheable.addr()),
        ],
    );
    let file = dir.write("tollgate.yaml", &config);
    let mut tg = TollgateProcess::start(BIN, &file, &[], &["web", "secure", "pg"]);
    let admin = tg.admin_addr();
    // Three TLS 1.3 handshakes, one TLS 1.2, two failures (plain text).
    let opts = TlsOptions::new(&ca, "localhost");
    for _ in 0..3 {
        assert_eq!(tls_get(tg.addr("secure"), &opts, "/").unwrap().status, 200);
    }
    let tls12 = TlsOptions::new(&ca, "localhost").tls12_only();
    assert_eq!(tls_get(tg.addr("secure"), &tls12, "/").unwrap().status, 200);
    for _ in 0..2 {
        let _ = tollgate_testkit::raw_request(tg.addr("secure"), b"GET / HTTP/1.1\r\n\r\n");
    }
    // Two gzip answers, one br, one not compressed (no Accept-Encoding).
    let web = tg.addr("web");
    for coding in ["gzip", "gzip", "br"] {
        let r = request(web, "GET", "/", &[("accept-encoding", coding)], b"");
        assert_eq!(r.header("content-encoding"), Some(coding));
    }
    assert_eq!(get(web, "/").header("content-encoding"), None);
    // A miss, two hits, a POST passed by.
    for _ in 0..3 {
        assert_eq!(get(web, "/c/page").status, 200);
    }
    assert_eq!(request(web, "POST", "/c/page", &[], b"x").status, 200);
    assert_eq!(cacheable.request_count(), 2);
    // Two L4 connections: 6 bytes in and echoed back, then nothing.
    {
        let mut c = std::net::TcpStream::connect(tg.addr("pg")).unwrap();
        std::io::Write::write_all(&mut c, b"hello\n").unwrap();
        assert_eq!(read_line(&mut c), "hello");
    }
    drop(std::net::TcpStream::connect(tg.addr("pg")).unwrap());
    let m = until(admin, |m| {
        value(m, "tollgate_l4_connections_total", r#"listener="pg""#) == Some(2.0)
            && value(
                m,
                "tollgate_tls_handshake_failures_total",
                r#"reason="error""#,
            ) == Some(2.0)
    });
    let v = |name: &str, labels: &str| value(&m, name, labels);
    assert_eq!(
        v("tollgate_tls_handshakes_total", r#"version="TLSv1.3""#),
        Some(3.0)
    );
    assert_eq!(
        v("tollgate_tls_handshakes_total", r#"version="TLSv1.2""#),
        Some(1.0)
    );
    assert_eq!(
        v("tollgate_compressions_total", r#"encoding="gzip""#),
        Some(2.0)
    );
    assert_eq!(
        v("tollgate_compressions_total", r#"encoding="br""#),
        Some(1.0)
    );
    assert_eq!(v("tollgate_compressions_total", r#"encoding="zstd""#), None);
    assert_eq!(
        v("tollgate_cache_lookups_total", r#"result="miss""#),
        Some(1.0)
    );
    assert_eq!(
        v("tollgate_cache_lookups_total", r#"result="hit""#),
        Some(2.0)
    );
    assert_eq!(
        v("tollgate_cache_lookups_total", r#"result="bypass""#),
        Some(1.0)
    );
    assert_eq!(v("tollgate_cache_lookups_total", r#"result="stale""#), None);
    assert_eq!(
        v("tollgate_l4_received_bytes_total", r#"listener="pg""#),
        Some(6.0)
    );
    assert_eq!(
        v("tollgate_l4_sent_bytes_total", r#"listener="pg""#),
        Some(6.0)
    );
    // HTTP listeners have no L4 series.
    assert_eq!(
        v("tollgate_l4_connections_total", r#"listener="web""#),
        None
    );
    // The certificate's expiry, in the future.
    let expiry: Vec<f64> = m
        .iter()
        .filter(|((name, labels), _)| {
            name == "tollgate_certificate_expiry_timestamp_seconds"
                && labels.contains(r#"listener="secure""#)
                && labels.contains("site.pem")
        })
        .map(|(_, v)| *v)
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert_eq!(expiry.len(), 1, "{m:?}");
    assert!(expiry[0] > now + 3600.0, "{expiry:?}");
}

/// tollgate with three consumers behind key_auth and `metrics` as given.
fn consumer_setup(metrics: &str, a: &Upstream, b: &Upstream) -> Setup {
    let config = format!(
        r#"
server: {{workers: 2, shutdown_timeout: 5s}}
access_log: {{output: off}}
admin: {{address: "127.0.0.1:0"}}
{metrics}
listeners: [{{name: web, address: "127.0.0.1:0"}}]
consumers:
  - {{name: alpha, api_keys: [k-alpha]}}
  - {{name: beta, api_keys: [k-beta]}}
  - {{name: gamma, api_keys: [k-gamma]}}
upstreams:
  - {{name: a, targets: [{{address: "{{a}}"}}]}}
  - {{name: b, targets: [{{address: "{{b}}"}}]}}
routes:
  - {{name: keyed, upstream: a, policies: [{{key_auth: {{}}}}]}}
"#
    );
    start_with(&config, a, b)
}

/// Sends `n` requests with API key `key`.
fn calls(web: SocketAddr, key: &str, n: usize) {
    for _ in 0..n {
        let r = request(web, "GET", "/x", &[("x-api-key", key)], b"");
        assert_eq!(r.status, 200);
    }
}

#[test]
fn per_consumer_series_are_opt_in_and_bounded() {
    let (a, b) = (Upstream::echo(), Upstream::echo());
    let series = |m: &Scrape| -> Vec<(String, f64)> {
        m.iter()
            .filter(|((name, _), _)| name == "tollgate_consumer_requests_total")
            .map(|((_, labels), v)| (labels.clone(), *v))
            .collect()
    };
    // Listed: alpha by name, the others as `other`.
    let s = consumer_setup("metrics: {consumers: [alpha]}", &a, &b);
    let web = s.tg.addr("web");
    calls(web, "k-alpha", 3);
    calls(web, "k-beta", 2);
    calls(web, "k-gamma", 1);
    assert_eq!(request(web, "GET", "/x", &[], b"").status, 401);
    let m = until(s.admin, |m| {
        series(m).iter().map(|(_, v)| v).sum::<f64>() == 6.0
    });
    assert_eq!(
        series(&m),
        [
            (r#"class="2xx",consumer="alpha""#.to_string(), 3.0),
            (r#"class="2xx",consumer="other""#.to_string(), 3.0),
        ]
    );
    drop(s);
    // Top 2: the two busiest by name, the rest folded into `other`.
    let s = consumer_setup("metrics: {top_consumers: 2}", &a, &b);
    let web = s.tg.addr("web");
    calls(web, "k-alpha", 1);
    calls(web, "k-beta", 4);
    calls(web, "k-gamma", 2);
    let m = until(s.admin, |m| {
        series(m).iter().map(|(_, v)| v).sum::<f64>() == 7.0
    });
    assert_eq!(
        series(&m),
        [
            (r#"class="2xx",consumer="beta""#.to_string(), 4.0),
            (r#"class="2xx",consumer="gamma""#.to_string(), 2.0),
            (r#"class="2xx",consumer="other""#.to_string(), 1.0),
        ]
    );
    drop(s);
    // Off unless asked for.
    let s = consumer_setup("", &a, &b);
    calls(s.tg.addr("web"), "k-alpha", 2);
    let m = until(s.admin, |m| {
        value(
            m,
            "tollgate_requests_total",
            r#"code="200",listener="web",route="keyed",upstream="a""#,
        ) == Some(2.0)
    });
    assert!(series(&m).is_empty(), "{m:?}");
}

/// Two HTTP listeners sharing one route.
const TWO_LISTENERS: &str = r#"
server: {workers: 2, shutdown_timeout: 5s}
access_log: {output: off}
admin: {address: "127.0.0.1:0"}
listeners:
  - {name: web, address: "127.0.0.1:0"}
  - {name: alt, address: "127.0.0.1:0"}
upstreams: [{name: app, targets: [{address: "{a}"}]}]
routes:
  - {name: tea, match: {path: {prefix: /tea}}, respond: {status: 418}}
  - {name: app, upstream: app}
"#;

#[test]
fn requests_are_counted_per_listener() {
    let a = Upstream::echo();
    let text = render(TWO_LISTENERS, &[("a", &a.addr())]);
    let dir = TempDir::new();
    let config = dir.write("tollgate.yaml", &text);
    let mut tg = TollgateProcess::start(BIN, &config, &[], &["web", "alt"]);
    let admin = tg.admin_addr();
    for _ in 0..3 {
        assert_eq!(get(tg.addr("web"), "/x").status, 200);
    }
    for _ in 0..2 {
        assert_eq!(get(tg.addr("alt"), "/x").status, 200);
        assert_eq!(get(tg.addr("alt"), "/tea").status, 418);
    }
    assert_eq!(get(tg.addr("web"), "/tea").status, 418);
    let requests = "tollgate_requests_total";
    let m = until(admin, |m| {
        value(m, requests, r#"code="418",listener="web",route="tea""#) == Some(1.0)
    });
    let app = |listener: &str| {
        let labels = format!(r#"code="200",listener="{listener}",route="app",upstream="app""#);
        value(&m, requests, &labels)
    };
    assert_eq!(app("web"), Some(3.0));
    assert_eq!(app("alt"), Some(2.0));
    assert_eq!(
        value(&m, requests, r#"code="418",listener="alt",route="tea""#),
        Some(2.0)
    );
    // Every request is in exactly one series.
    let total: f64 = m
        .iter()
        .filter(|((name, _), _)| name == requests)
        .map(|(_, v)| v)
        .sum();
    assert_eq!(total, 8.0);
}

#[test]
fn connect_and_response_head_times_are_kept_per_target() {
    let a = Upstream::slow(Duration::from_millis(100));
    let b = Upstream::echo();
    let s = start(&a, &b);
    for _ in 0..4 {
        assert_eq!(get(s.tg.addr("web"), "/x").status, 200);
    }
    let target = format!(r#"target="{}",upstream="app""#, a.addr());
    let head = "tollgate_target_response_head_duration_seconds";
    let connect = "tollgate_target_connect_duration_seconds";
    let m = until(s.admin, |m| {
        value(m, &format!("{head}_count"), &target) == Some(4.0)
    });
    // Every answered attempt has both; the head waited for the delay.
    assert_eq!(value(&m, &format!("{connect}_count"), &target), Some(4.0));
    let head_sum = value(&m, &format!("{head}_sum"), &target).unwrap();
    assert!(head_sum >= 0.4, "{head_sum}");
    let connect_sum = value(&m, &format!("{connect}_sum"), &target).unwrap();
    assert!(connect_sum < head_sum, "{connect_sum} {head_sum}");
    // The other upstream's target answered nothing but health checks.
    let other = format!(r#"target="{}",upstream="checked""#, b.addr());
    assert_eq!(value(&m, &format!("{head}_count"), &other), None);
}
