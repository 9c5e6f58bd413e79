//! The `cache` policy against scripted upstreams (RFC 9111, RFC 9211):
//! what is stored and for how long, what is served, validated, coalesced,
//! invalidated and purged, counted at the upstream.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tollgate_testkit::{request, HttpResponse, Reply, Tollgate, Upstream};

/// One route `/` → `u` with a cache configured by `cache` (a YAML mapping).
fn cached(up: &Upstream, cache: &str) -> Tollgate {
    Tollgate::for_upstream(
        up,
        &format!("routes:\n  - name: r\n    upstream: u\n    policies:\n      - cache: {cache}\n"),
    )
}

fn get(tg: &Tollgate, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    request(tg.addr("web"), "GET", path, headers, b"")
}

fn status(r: &HttpResponse) -> &str {
    r.header("cache-status").unwrap_or("")
}

fn http_date(t: SystemTime) -> String {
    let mut out = String::new();
    tollgate_core::format_http_date(t, &mut out);
    out
}

/// An origin answering `good` until the returned flag is set, then `bad`.
fn failing_later(good: Reply, bad: Reply) -> (Upstream, Arc<AtomicBool>) {
    let failing = Arc::new(AtomicBool::new(false));
    let flag = failing.clone();
    let up = Upstream::scripted(move |_| {
        if flag.load(Ordering::SeqCst) {
            bad.clone()
        } else {
            good.clone()
        }
    });
    (up, failing)
}

/// Polls `done` every 10 ms for up to 5 s.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn fresh_answers_are_served_from_the_cache_with_age_and_cache_status() {
    let up = Upstream::scripted(|_| {
        Reply::ok("hello")
            .header("cache-control", "max-age=60")
            .header("content-type", "text/plain")
    });
    let tg = cached(&up, "{}");
    let first = get(&tg, "/a", &[]);
    assert_eq!(first.status, 200);
    assert_eq!(
        status(&first),
        "tollgate; fwd=uri-miss; fwd-status=200; stored"
    );
    let second = get(&tg, "/a", &[("X-Request-Id", "second")]);
    assert_eq!(second.text(), "hello");
    assert_eq!(status(&second), "tollgate; hit");
    assert!(second.header("age").unwrap().parse::<u64>().unwrap() <= 1);
    assert_eq!(second.header("content-length"), Some("5"));
    // The request id is the hit's own, never the stored one.
    assert_eq!(second.header("x-request-id"), Some("second"));
    assert_eq!(up.request_count(), 1);
    // Another query is another key.
    assert_eq!(
        status(&get(&tg, "/a?x=1", &[])),
        "tollgate; fwd=uri-miss; fwd-status=200; stored"
    );
    assert_eq!(up.request_count(), 2);
}

#[test]
fn freshness_comes_from_s_maxage_max_age_expires_or_heuristic() {
    let up = Upstream::scripted(|req| {
        let now = SystemTime::now();
        let reply = Reply::ok(req.path.clone()).header("date", &http_date(now));
        match req.path.as_str() {
            // s-maxage wins over max-age in a shared cache.
            "/s" => reply.header("cache-control", "s-maxage=2, max-age=600"),
            "/m" => reply.header("cache-control", "max-age=2"),
            // max-age wins over Expires.
            "/me" => reply
                .header("cache-control", "max-age=2")
                .header("expires", &http_date(now + Duration::from_secs(600))),
            "/e" => reply.header("expires", &http_date(now + Duration::from_secs(2))),
            // 10% of 20 s since Last-Modified.
            "/h" => reply.header("last-modified", &http_date(now - Duration::from_secs(20))),
            // Expires invalid: already stale, but a validator keeps it stored.
            _ => reply.header("expires", "0").header("etag", "\"x\""),
        }
    });
    let tg = cached(&up, "{}");
    let paths = ["/s", "/m", "/me", "/e", "/h"];
    for p in paths {
        get(&tg, p, &[]);
        assert_eq!(
            status(&get(&tg, p, &[])),
            "tollgate; hit",
            "{p} fresh at first"
        );
    }
    get(&tg, "/bad", &[]);
    assert!(status(&get(&tg, "/bad", &[])).contains("fwd=stale"));
    std::thread::sleep(Duration::from_millis(2100));
    for p in paths {
        let r = get(&tg, p, &[]);
        assert!(
            status(&r).contains("fwd=stale"),
            "{p} stale after 2 s: {}",
            status(&r)
        );
    }
}

#[test]
fn age_counts_the_origin_age_and_the_time_stored() {
    let up = Upstream::scripted(|_| {
        Reply::ok("x")
            .header("cache-control", "max-age=600")
            .header("age", "30")
    });
    let tg = cached(&up, "{}");
    get(&tg, "/", &[]);
    let age = |r: &HttpResponse| r.header("age").unwrap().parse::<u64>().unwrap();
    let hit = get(&tg, "/", &[]);
    assert!((30..=31).contains(&age(&hit)), "{:?}", hit.header("age"));
    std::thread::sleep(Duration::from_millis(1100));
    let later = get(&tg, "/", &[]);
    assert!(
        (31..=32).contains(&age(&later)),
        "{:?}",
        later.header("age")
    );
}

#[test]
fn vary_stores_a_variant_per_request_value() {
    let up = Upstream::scripted(|req| {
        let lang = req
            .headers
            .get("accept-language")
            .map_or("none", |v| v.to_str().unwrap())
            .to_owned();
        Reply::ok(lang)
            .header("cache-control", "max-age=60")
            .header("vary", "Accept-Language")
    });
    let tg = cached(&up, "{}");
    let de = [("Accept-Language", "de")];
    let en = [("Accept-Language", "en")];
    assert!(status(&get(&tg, "/", &de)).contains("fwd=uri-miss"));
    let hit = get(&tg, "/", &de);
    assert_eq!((status(&hit), hit.text().as_str()), ("tollgate; hit", "de"));
    assert!(status(&get(&tg, "/", &en)).contains("fwd=vary-miss; fwd-status=200; stored"));
    assert_eq!(get(&tg, "/", &en).text(), "en");
    assert_eq!(get(&tg, "/", &de).text(), "de");
    assert!(status(&get(&tg, "/", &[])).contains("fwd=vary-miss"));
    assert_eq!(get(&tg, "/", &[]).text(), "none");
    assert_eq!(up.request_count(), 3);
}

#[test]
fn vary_star_is_never_stored() {
    let up = Upstream::scripted(|_| {
        Reply::ok("x")
            .header("cache-control", "max-age=60")
            .header("vary", "*")
    });
    let tg = cached(&up, "{}");
    assert!(status(&get(&tg, "/", &[])).contains("detail=vary-star"));
    assert!(status(&get(&tg, "/", &[])).contains("fwd=uri-miss"));
    assert_eq!(up.request_count(), 2);
}

/// An origin that tags its answer `"v1"` (and a fixed Last-Modified) and
/// answers 304 to a request carrying either validator.
fn validating_origin(cache_control: &'static str, with_etag: bool) -> Upstream {
    let lm = http_date(SystemTime::now() - Duration::from_secs(3600));
    Upstream::scripted(move |req| {
        let inm = req
            .headers
            .get("if-none-match")
            .map(|v| v.to_str().unwrap().to_owned());
        let ims = req
            .headers
            .get("if-modified-since")
            .map(|v| v.to_str().unwrap().to_owned());
        let matched = if with_etag {
            inm.as_deref() == Some("\"v1\"")
        } else {
            ims.as_deref() == Some(lm.as_str())
        };
        let mut reply = if matched {
            Reply::new(304)
                .header("cache-control", "max-age=60")
                .header("x-refreshed", "yes")
        } else {
            Reply::ok("body-v1")
                .header("cache-control", cache_control)
                .header("x-refreshed", "no")
                .header("last-modified", &lm)
        };
        if with_etag {
            reply = reply.header("etag", "\"v1\"");
        }
        reply
    })
}

#[test]
fn stale_answers_are_revalidated_with_the_etag_and_a_304_refreshes_them() {
    let up = validating_origin("max-age=1", true);
    let tg = cached(&up, "{}");
    get(&tg, "/", &[]);
    std::thread::sleep(Duration::from_millis(1100));
    let r = get(&tg, "/", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "body-v1");
    assert!(
        status(&r).starts_with("tollgate; fwd=stale; fwd-status=304; ttl="),
        "{}",
        status(&r)
    );
    // The 304's fields replaced the stored ones (§4.3.4).
    assert_eq!(r.header("x-refreshed"), Some("yes"));
    assert_eq!(r.header("cache-control"), Some("max-age=60"));
    assert_eq!(
        up.last_request().headers.get("if-none-match").unwrap(),
        "\"v1\""
    );
    let hit = get(&tg, "/", &[]);
    assert_eq!(
        (status(&hit), hit.header("x-refreshed")),
        ("tollgate; hit", Some("yes"))
    );
    assert_eq!(up.request_count(), 2);
}

#[test]
fn stale_answers_are_revalidated_with_last_modified() {
    let up = validating_origin("max-age=1", false);
    let tg = cached(&up, "{}");
    get(&tg, "/", &[]);
    std::thread::sleep(Duration::from_millis(1100));
    let r = get(&tg, "/", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "body-v1"));
    assert!(status(&r).contains("fwd=stale; fwd-status=304"));
    let sent = up.last_request();
    assert!(sent.headers.contains_key("if-modified-since"));
    assert!(!sent.headers.contains_key("if-none-match"));
    assert_eq!(status(&get(&tg, "/", &[])), "tollgate; hit");
}

#[test]
fn no_cache_answers_are_stored_but_always_revalidated() {
    let up = validating_origin("no-cache", true);
    let tg = cached(&up, "{}");
    assert!(status(&get(&tg, "/", &[])).ends_with("stored"));
    let r = get(&tg, "/", &[]);
    assert_eq!(r.text(), "body-v1");
    assert!(
        status(&r).contains("fwd=stale; fwd-status=304"),
        "{}",
        status(&r)
    );
    assert_eq!(up.request_count(), 2);
}

#[test]
fn a_clients_own_conditionals_are_answered_304_from_a_fresh_entry() {
    let up = validating_origin("max-age=60", true);
    let tg = cached(&up, "{}");
    get(&tg, "/", &[]);
    // Weak comparison: W/"v1" matches "v1".
    let nm = get(&tg, "/", &[("If-None-Match", "\"x\", W/\"v1\"")]);
    assert_eq!(nm.status, 304);
    assert_eq!(nm.header("etag"), Some("\"v1\""));
    assert_eq!(status(&nm), "tollgate; hit");
    assert_eq!(get(&tg, "/", &[("If-None-Match", "\"other\"")]).status, 200);
    let later = http_date(SystemTime::now() + Duration::from_secs(10));
    assert_eq!(
        get(&tg, "/", &[("If-Modified-Since", later.as_str())]).status,
        304
    );
    let long_ago = http_date(SystemTime::now() - Duration::from_secs(86_400));
    assert_eq!(
        get(&tg, "/", &[("If-Modified-Since", long_ago.as_str())]).status,
        200
    );
    assert_eq!(up.request_count(), 1);
}

#[test]
fn no_store_private_and_set_cookie_answers_are_not_stored() {
    let up = Upstream::scripted(|req| {
        let reply = Reply::ok("x");
        match req.path.as_str() {
            "/no-store" => reply.header("cache-control", "no-store, max-age=60"),
            "/private" => reply.header("cache-control", "private, max-age=60"),
            "/cookie" => reply
                .header("cache-control", "max-age=60")
                .header("set-cookie", "s=1"),
            "/302" => Reply::new(302)
                .header("location", "/x")
                .header("etag", "\"a\""),
            _ => reply.header("cache-control", "max-age=60"),
        }
    });
    let tg = cached(&up, "{}");
    for (path, detail) in [
        ("/no-store", "no-store"),
        ("/private", "private"),
        ("/cookie", "set-cookie"),
        ("/302", "status"),
    ] {
        for _ in 0..2 {
            let r = get(&tg, path, &[]);
            assert_eq!(
                status(&r),
                format!(
                    "tollgate; fwd=uri-miss; fwd-status={}; detail={detail}",
                    r.status
                )
            );
        }
    }
    // The request's no-store: this answer is not stored either.
    assert!(status(&get(&tg, "/ok", &[("Cache-Control", "no-store")]))
        .contains("detail=request-no-store"));
    assert_eq!(up.request_count(), 9);
}

#[test]
fn set_cookie_answers_are_stored_without_the_cookie_when_configured() {
    let up = Upstream::scripted(|_| {
        Reply::ok("x")
            .header("cache-control", "max-age=60")
            .header("set-cookie", "s=1")
    });
    let tg = cached(&up, "{store_set_cookie: true}");
    let first = get(&tg, "/", &[]);
    assert_eq!(first.header("set-cookie"), Some("s=1"));
    let hit = get(&tg, "/", &[]);
    assert_eq!(status(&hit), "tollgate; hit");
    assert_eq!(hit.header("set-cookie"), None);
}

#[test]
fn requests_with_authorization_are_shared_only_when_the_answer_allows() {
    let up = Upstream::scripted(|req| {
        let cc = if req.path == "/public" {
            "public, max-age=60"
        } else {
            "max-age=60"
        };
        Reply::ok("x").header("cache-control", cc)
    });
    let tg = cached(&up, "{}");
    let auth = [("Authorization", "Bearer t")];
    assert!(status(&get(&tg, "/plain", &auth)).contains("detail=authorization"));
    assert!(status(&get(&tg, "/plain", &auth)).contains("fwd=uri-miss"));
    assert!(status(&get(&tg, "/public", &auth)).ends_with("stored"));
    assert_eq!(status(&get(&tg, "/public", &auth)), "tollgate; hit");
}

#[test]
fn request_directives_are_honoured() {
    let up = validating_origin("max-age=60", true);
    let tg = cached(&up, "{}");
    let cc = |v: &'static str| [("Cache-Control", v)];
    let miss = get(&tg, "/", &cc("only-if-cached"));
    assert_eq!(miss.status, 504);
    assert!(status(&miss).contains("detail=only-if-cached"));
    assert_eq!(up.request_count(), 0);
    get(&tg, "/", &[]);
    assert_eq!(
        status(&get(&tg, "/", &cc("only-if-cached"))),
        "tollgate; hit"
    );
    for directive in ["no-cache", "max-age=0", "min-fresh=600"] {
        let r = get(&tg, "/", &cc(directive));
        assert!(
            status(&r).contains("fwd=request; fwd-status=304"),
            "{directive}: {}",
            status(&r)
        );
        assert_eq!(r.text(), "body-v1");
    }
    let pragma = get(&tg, "/", &[("Pragma", "no-cache")]);
    assert!(status(&pragma).contains("fwd=request"));
    assert_eq!(
        status(&get(&tg, "/", &cc("max-age=30, min-fresh=10"))),
        "tollgate; hit"
    );
    assert_eq!(up.request_count(), 5);
}

#[test]
fn max_stale_serves_stale_answers_the_client_accepts() {
    let up = Upstream::scripted(|_| Reply::ok("x").header("cache-control", "max-age=1"));
    let tg = cached(&up, "{}");
    get(&tg, "/", &[]);
    std::thread::sleep(Duration::from_millis(1100));
    let r = get(&tg, "/", &[("Cache-Control", "max-stale=60")]);
    assert!(
        status(&r).starts_with("tollgate; hit; ttl=-"),
        "{}",
        status(&r)
    );
    assert!(status(&r).ends_with("detail=max-stale"));
    assert_eq!(up.request_count(), 1);
}

#[test]
fn must_revalidate_answers_are_never_served_stale() {
    let (up, failing) = failing_later(
        Reply::ok("x").header(
            "cache-control",
            "max-age=1, must-revalidate, stale-while-revalidate=60, stale-if-error=60",
        ),
        Reply::new(503).body("down"),
    );
    let tg = cached(&up, "{}");
    get(&tg, "/", &[]);
    std::thread::sleep(Duration::from_millis(1100));
    failing.store(true, Ordering::SeqCst);
    let r = get(&tg, "/", &[("Cache-Control", "max-stale=60")]);
    assert_eq!(r.status, 503);
    assert_eq!(
        status(&r),
        "tollgate; fwd=stale; fwd-status=503; detail=status"
    );
}

#[test]
fn stale_while_revalidate_serves_stale_and_refreshes_once_in_the_background() {
    let n = Arc::new(AtomicUsize::new(0));
    let count = n.clone();
    let up = Upstream::scripted(move |_| {
        let v = count.fetch_add(1, Ordering::SeqCst) + 1;
        if v == 1 {
            return Reply::ok("v1").header("cache-control", "max-age=1, stale-while-revalidate=60");
        }
        // Slow, so the stale requests below all overlap the refresh (and
        // fresh for longer than it took: the exchange's time counts in its age).
        Reply::ok(format!("v{v}"))
            .header("cache-control", "max-age=60, stale-while-revalidate=60")
            .delay(Duration::from_millis(1000))
    });
    let tg = cached(&up, "{}");
    assert_eq!(get(&tg, "/", &[]).text(), "v1");
    std::thread::sleep(Duration::from_millis(1100));
    for _ in 0..3 {
        let r = get(&tg, "/", &[]);
        assert_eq!(r.text(), "v1");
        assert!(
            status(&r).starts_with("tollgate; hit; ttl=-"),
            "{}",
            status(&r)
        );
        assert!(status(&r).ends_with("detail=stale-while-revalidate"));
    }
    wait_for("the refreshed answer", || get(&tg, "/", &[]).text() == "v2");
    assert_eq!(status(&get(&tg, "/", &[])), "tollgate; hit");
    assert_eq!(up.request_count(), 2, "one background refresh");
}

#[test]
fn stale_if_error_serves_stale_on_5xx_and_on_connect_errors() {
    let (up, failing) = failing_later(
        Reply::ok("good").header("cache-control", "max-age=1, stale-if-error=60"),
        Reply::new(502).body("bad"),
    );
    let tg = cached(&up, "{}");
    get(&tg, "/", &[]);
    std::thread::sleep(Duration::from_millis(1100));
    failing.store(true, Ordering::SeqCst);
    let r = get(&tg, "/", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "good"));
    assert!(
        status(&r).starts_with("tollgate; fwd=stale; fwd-status=502; ttl=-"),
        "{}",
        status(&r)
    );
    assert!(status(&r).ends_with("detail=stale-if-error"));
    drop(up);
    let r = get(&tg, "/", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "good"));
    assert!(
        status(&r).starts_with("tollgate; fwd=stale; ttl=-"),
        "{}",
        status(&r)
    );
    assert!(status(&r).ends_with("detail=stale-if-error"));
}

#[test]
fn concurrent_misses_of_one_key_make_one_origin_request() {
    let up = Upstream::scripted(|_| {
        Reply::ok("shared")
            .header("cache-control", "max-age=60")
            .delay(Duration::from_millis(1000))
    });
    let tg = cached(&up, "{}");
    let addr = tg.addr("web");
    let answers: Vec<HttpResponse> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(move || request(addr, "GET", "/slow", &[], b"")))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(answers
        .iter()
        .all(|r| r.status == 200 && r.text() == "shared"));
    assert_eq!(up.request_count(), 1);
    let collapsed = answers
        .iter()
        .filter(|r| status(r) == "tollgate; hit; collapsed")
        .count();
    assert_eq!(
        collapsed,
        7,
        "{:?}",
        answers.iter().map(status).collect::<Vec<_>>()
    );
}

#[test]
fn answers_over_the_object_size_limit_stream_through_uncached() {
    let big = "x".repeat(4096);
    let body = big.clone();
    let up = Upstream::scripted(move |req| {
        let reply = Reply::ok(body.clone()).header("cache-control", "max-age=60");
        match req.path.as_str() {
            // Unknown length: the copy is given up while streaming.
            "/chunked" => reply.chunked(&[&body[..3000], &body[3000..]], Duration::from_millis(10)),
            "/small" => Reply::ok("small").header("cache-control", "max-age=60"),
            _ => reply,
        }
    });
    let tg = cached(&up, "{max_object_size: 1KiB}");
    let r = get(&tg, "/big", &[]);
    assert_eq!(r.text(), big);
    assert!(status(&r).ends_with("detail=too-large"));
    for _ in 0..2 {
        let r = get(&tg, "/chunked", &[]);
        assert_eq!(r.text(), big);
        assert!(status(&r).contains("fwd=uri-miss"), "{}", status(&r));
    }
    get(&tg, "/small", &[]);
    assert_eq!(status(&get(&tg, "/small", &[])), "tollgate; hit");
    assert_eq!(up.request_count(), 4);
}

#[test]
fn head_and_byte_ranges_are_served_from_a_stored_get() {
    let body: String = (0..100)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let stored = body.clone();
    let up = Upstream::scripted(move |_| {
        Reply::ok(stored.clone())
            .header("cache-control", "max-age=60")
            .header("etag", "\"r1\"")
    });
    let tg = cached(&up, "{}");
    let addr = tg.addr("web");
    // HEAD before anything is stored goes to the origin and stores nothing.
    let head = request(addr, "HEAD", "/r", &[], b"");
    assert!(status(&head).contains("fwd=uri-miss"));
    assert_eq!(up.last_request().method, "HEAD");
    get(&tg, "/r", &[]);
    let head = request(addr, "HEAD", "/r", &[], b"");
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("content-length"), Some("100"));
    assert_eq!(status(&head), "tollgate; hit");
    let range = |r: &str| get(&tg, "/r", &[("Range", r)]);
    let r = range("bytes=10-19");
    assert_eq!((r.status, r.text()), (206, body[10..20].to_owned()));
    assert_eq!(r.header("content-range"), Some("bytes 10-19/100"));
    assert_eq!(range("bytes=-5").text(), body[95..]);
    assert_eq!(range("bytes=90-").text(), body[90..]);
    let r = range("bytes=200-");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */100"));
    assert_eq!(range("bytes=0-1,5-6").status, 200);
    assert_eq!(range("bytes=abc").status, 200);
    let if_range = get(&tg, "/r", &[("Range", "bytes=0-1"), ("If-Range", "\"r0\"")]);
    assert_eq!((if_range.status, if_range.body.len()), (200, 100));
    let if_range = get(&tg, "/r", &[("Range", "bytes=0-1"), ("If-Range", "\"r1\"")]);
    assert_eq!(if_range.status, 206);
    assert_eq!(up.request_count(), 2);
    // A range that misses goes to the origin as it is and is not stored.
    let miss = get(&tg, "/other", &[("Range", "bytes=0-1")]);
    assert!(status(&miss).contains("detail=range"));
    assert_eq!(up.last_request().headers.get("range").unwrap(), "bytes=0-1");
}

#[test]
fn unsafe_methods_invalidate_the_uri_and_its_location() {
    let up = Upstream::scripted(|req| match req.method.as_str() {
        "POST" if req.path == "/fail" => Reply::new(500),
        "POST" | "DELETE" => Reply::new(201)
            .header("location", "/b")
            .header("content-location", "http://elsewhere.test/c"),
        _ => Reply::ok(req.path.clone()).header("cache-control", "max-age=60"),
    });
    let tg = cached(&up, "{}");
    let addr = tg.addr("web");
    for p in ["/a", "/b", "/fail"] {
        get(&tg, p, &[]);
        assert_eq!(status(&get(&tg, p, &[])), "tollgate; hit", "{p}");
    }
    let post = request(addr, "POST", "/a", &[], b"x");
    assert_eq!(post.status, 201);
    assert_eq!(status(&post), "tollgate; fwd=method; fwd-status=201");
    assert!(status(&get(&tg, "/a", &[])).contains("fwd=uri-miss"));
    assert!(status(&get(&tg, "/b", &[])).contains("fwd=uri-miss"));
    // An error answer invalidates nothing.
    assert_eq!(request(addr, "POST", "/fail", &[], b"").status, 500);
    assert_eq!(status(&get(&tg, "/fail", &[])), "tollgate; hit");
    assert_eq!(request(addr, "DELETE", "/a", &[], b"").status, 201);
    assert!(status(&get(&tg, "/a", &[])).contains("fwd=uri-miss"));
}

#[test]
fn purge_by_key_and_by_prefix_from_allowed_networks_only() {
    let up =
        Upstream::scripted(|req| Reply::ok(req.path.clone()).header("cache-control", "max-age=60"));
    let tg = Tollgate::for_upstream(
        &up,
        r#"
routes:
  - name: open
    match: {path: {prefix: /open}}
    upstream: u
    policies: [{cache: {purge: {allow: [127.0.0.0/8]}}}]
  - name: closed
    match: {path: {prefix: /closed}}
    upstream: u
    policies: [{cache: {purge: {method: BAN, allow: [10.0.0.0/8]}}}]
"#,
    );
    let addr = tg.addr("web");
    for p in [
        "/open/x?q=1",
        "/open/img/1",
        "/open/img/2",
        "/open/imgs",
        "/closed/x",
    ] {
        get(&tg, p, &[]);
    }
    let purged = request(addr, "PURGE", "/open/x?q=1", &[], b"");
    assert_eq!(
        (purged.status, purged.text().as_str()),
        (200, "{\"purged\":1}\n")
    );
    assert!(status(&get(&tg, "/open/x?q=1", &[])).contains("fwd=uri-miss"));
    let purged = request(addr, "PURGE", "/open/img/*", &[], b"");
    assert_eq!(purged.text(), "{\"purged\":2}\n");
    assert!(status(&get(&tg, "/open/img/1", &[])).contains("fwd=uri-miss"));
    assert_eq!(status(&get(&tg, "/open/imgs", &[])), "tollgate; hit");
    let denied = request(addr, "BAN", "/closed/x", &[], b"");
    assert_eq!(denied.status, 403);
    assert!(denied.text().contains("not allowed"), "{}", denied.text());
    assert_eq!(status(&get(&tg, "/closed/x", &[])), "tollgate; hit");
    // Without `purge` the method is just another unsafe method.
    assert_eq!(
        up.requests().iter().filter(|r| r.method == "BAN").count(),
        0
    );
}

#[test]
fn a_named_cache_is_one_store_for_every_route_using_it() {
    let up = Upstream::scripted(|_| Reply::ok("x").header("cache-control", "max-age=60"));
    let tg = Tollgate::for_upstream(
        &up,
        r#"
policies:
  shared: {cache: {max_size: 16MiB}}
routes:
  - {name: a, match: {headers: [{name: X-Route, value: a}]}, upstream: u, policies: [{use: shared}]}
  - {name: b, match: {headers: [{name: X-Route, value: b}]}, upstream: u, policies: [{use: shared}]}
  - {name: c, match: {headers: [{name: X-Route, value: c}]}, upstream: u, policies: [{cache: {}}]}
"#,
    );
    get(&tg, "/k", &[("X-Route", "a")]);
    assert_eq!(
        status(&get(&tg, "/k", &[("X-Route", "b")])),
        "tollgate; hit"
    );
    assert!(status(&get(&tg, "/k", &[("X-Route", "c")])).contains("fwd=uri-miss"));
}

#[test]
fn keys_can_include_headers_and_cookies_and_leave_out_the_query() {
    let n = Arc::new(AtomicUsize::new(0));
    let count = n.clone();
    let up = Upstream::scripted(move |_| {
        let v = count.fetch_add(1, Ordering::SeqCst);
        Reply::ok(format!("{v}")).header("cache-control", "max-age=60")
    });
    let tg = cached(
        &up,
        "{key: {query: {exclude: [utm]}, headers: [X-Tenant], cookies: [lang]}}",
    );
    let a = [("X-Tenant", "a"), ("Cookie", "lang=de; other=1")];
    let first = get(&tg, "/p?id=1&utm=x", &a).text();
    assert_eq!(
        get(
            &tg,
            "/p?id=1&utm=y",
            &[("X-Tenant", "a"), ("Cookie", "other=2; lang=de")]
        )
        .text(),
        first
    );
    assert_ne!(
        get(&tg, "/p?id=1", &[("X-Tenant", "b"), ("Cookie", "lang=de")]).text(),
        first
    );
    assert_ne!(
        get(&tg, "/p?id=1", &[("X-Tenant", "a"), ("Cookie", "lang=fr")]).text(),
        first
    );
    assert_ne!(get(&tg, "/p?id=2", &a).text(), first);
}

#[test]
fn hits_are_served_over_http2_too() {
    let up = Upstream::scripted(|_| Reply::ok("h2").header("cache-control", "max-age=60"));
    let tg = cached(&up, "{}");
    get(&tg, "/", &[]);
    let r = tollgate_testkit::h2_get(tg.addr("web"), "/");
    assert_eq!((r.status, r.text().as_str()), (200, "h2"));
    assert_eq!(status(&r), "tollgate; hit");
}

#[test]
fn cache_then_compress_stores_one_compressed_variant_per_accept_encoding() {
    let text = "compressible text ".repeat(200);
    let body = text.clone();
    let up = Upstream::scripted(move |_| {
        Reply::ok(body.clone())
            .header("cache-control", "max-age=60")
            .header("content-type", "text/plain")
            .header("etag", "\"t1\"")
    });
    let tg = Tollgate::for_upstream(
        &up,
        "routes:\n  - name: r\n    upstream: u\n    policies: [{cache: {}}, {compress: {algorithms: [gzip]}}]\n",
    );
    let gz = [("Accept-Encoding", "gzip")];
    let first = get(&tg, "/", &gz);
    assert_eq!(first.header("content-encoding"), Some("gzip"));
    assert!(status(&first).ends_with("stored"));
    let hit = get(&tg, "/", &gz);
    assert_eq!(status(&hit), "tollgate; hit");
    assert_eq!(hit.header("content-encoding"), Some("gzip"));
    assert_eq!(hit.header("etag"), Some("W/\"t1\""));
    assert_eq!(hit.header("vary"), Some("Accept-Encoding"));
    assert_eq!(hit.body, first.body);
    let mut plain = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&hit.body[..]), &mut plain)
        .unwrap();
    assert_eq!(plain, text);
    let identity = get(&tg, "/", &[]);
    assert!(status(&identity).contains("fwd=vary-miss"));
    assert_eq!(identity.header("content-encoding"), None);
    assert_eq!(identity.text(), text);
    assert_eq!(status(&get(&tg, "/", &[])), "tollgate; hit");
    assert_eq!(up.request_count(), 2);
}

#[test]
fn compress_then_cache_stores_identity_and_compresses_each_hit() {
    let text = "compressible text ".repeat(200);
    let body = text.clone();
    let up = Upstream::scripted(move |_| {
        Reply::ok(body.clone())
            .header("cache-control", "max-age=60")
            .header("content-type", "text/plain")
    });
    let tg = Tollgate::for_upstream(
        &up,
        "routes:\n  - name: r\n    upstream: u\n    policies: [{compress: {algorithms: [gzip]}}, {cache: {}}]\n",
    );
    assert_eq!(get(&tg, "/", &[]).text(), text);
    let hit = get(&tg, "/", &[("Accept-Encoding", "gzip")]);
    assert_eq!(status(&hit), "tollgate; hit");
    assert_eq!(hit.header("content-encoding"), Some("gzip"));
    assert_eq!(up.request_count(), 1);
}

#[test]
fn upgrades_bypass_the_cache_and_compression() {
    use std::io::Write;
    let up = Upstream::websocket_echo();
    let tg = Tollgate::for_upstream(
        &up,
        "routes:\n  - name: r\n    upstream: u\n    policies: [{cache: {}}, {compress: {min_length: 0}}]\n",
    );
    let mut stream = tollgate_testkit::connect(tg.addr("web"));
    write!(
        stream,
        "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Accept-Encoding: gzip\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {}\r\n\r\n",
        tollgate_testkit::WEBSOCKET_KEY
    )
    .unwrap();
    let head = tollgate_testkit::read_until(&mut stream, b"\r\n\r\n");
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert_eq!(tollgate_testkit::parse_status(&head), 101, "{text}");
    assert!(
        text.contains("cache-status: tollgate; fwd=bypass; fwd-status=101"),
        "{text}"
    );
    assert!(!text.contains("content-encoding"), "{text}");
    stream.write_all(b"ping").unwrap();
    assert_eq!(tollgate_testkit::read_until(&mut stream, b"ping"), b"ping");
}

/// RFC 9213: `CDN-Cache-Control` speaks to shared caches and wins over
/// `Cache-Control` (a fresh CDN max-age stores even with `no-store`; CDN
/// `no-store`/`private` refuse what Cache-Control would store); the field
/// names obeyed are configurable.
#[test]
fn cdn_cache_control_takes_precedence_over_cache_control() {
    let up = Upstream::scripted(|r| {
        let reply = Reply::ok("x");
        match r.path.as_str() {
            "/cdn-fresh" => reply
                .header("cache-control", "no-store")
                .header("cdn-cache-control", "max-age=60"),
            "/cdn-no-store" => reply
                .header("cache-control", "max-age=60")
                .header("cdn-cache-control", "no-store"),
            "/cdn-private" => reply
                .header("cache-control", "public, max-age=60")
                .header("CDN-Cache-Control", "private"),
            "/cdn-stale" => reply
                .header("cache-control", "max-age=60")
                .header("cdn-cache-control", "max-age=0"),
            _ => reply
                .header("cache-control", "no-store")
                .header("tollgate-cache-control", "max-age=60"),
        }
    });
    let tg = cached(&up, "{}");
    get(&tg, "/cdn-fresh", &[]);
    let hit = get(&tg, "/cdn-fresh", &[]);
    assert_eq!(status(&hit), "tollgate; hit");
    // Clients still get the origin's own Cache-Control.
    assert_eq!(hit.header("cache-control"), Some("no-store"));
    for path in ["/cdn-no-store", "/cdn-private"] {
        let first = get(&tg, path, &[]);
        assert!(
            !status(&first).contains("stored"),
            "{path}: {}",
            status(&first)
        );
        assert!(
            status(&get(&tg, path, &[])).contains("fwd=uri-miss"),
            "{path}"
        );
    }
    get(&tg, "/cdn-stale", &[]);
    assert!(!status(&get(&tg, "/cdn-stale", &[])).contains("hit"));
    // Another targeted field only when configured.
    assert!(!status(&get(&tg, "/own", &[])).contains("stored"));
    let own = cached(&up, "{targeted_cache_control: [Tollgate-Cache-Control]}");
    get(&own, "/own", &[]);
    assert_eq!(status(&get(&own, "/own", &[])), "tollgate; hit");
    // With only Tollgate-Cache-Control obeyed, CDN-Cache-Control is ignored.
    assert!(!status(&get(&own, "/cdn-fresh", &[])).contains("stored"));
}

/// RFC 9111 §5.1: of a list-valued Age the first member counts; an Age
/// that is not a number makes the answer stale instead of being ignored.
#[test]
fn list_valued_or_broken_age_is_not_ignored() {
    let up = Upstream::scripted(|r| {
        let age = if r.path == "/list" {
            "7200, 0"
        } else {
            "old, 0"
        };
        Reply::ok("x")
            .header("cache-control", "max-age=3600")
            .header("age", age)
    });
    let tg = cached(&up, "{}");
    for path in ["/list", "/broken"] {
        get(&tg, path, &[]);
        let again = get(&tg, path, &[]);
        assert!(
            !status(&again).contains("hit"),
            "{path}: an answer 2 h old with max-age=3600 was served fresh: {}",
            status(&again)
        );
    }
    assert_eq!(up.request_count(), 4);
}

/// A 204 marked `stored` is really reused: nobody polls the body of a 204,
/// so it is stored at once rather than when its (absent) body ends.
#[test]
fn stored_204_answers_are_reused() {
    let up = Upstream::scripted(|_| Reply::new(204).header("cache-control", "max-age=60"));
    let tg = cached(&up, "{}");
    let first = get(&tg, "/empty", &[]);
    assert_eq!(first.status, 204);
    assert!(status(&first).ends_with("stored"), "{}", status(&first));
    let second = get(&tg, "/empty", &[]);
    assert_eq!(second.status, 204);
    assert_eq!(status(&second), "tollgate; hit");
    assert_eq!(second.header("content-length"), None);
    assert_eq!(up.request_count(), 1);
}
