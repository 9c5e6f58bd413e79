use std::sync::atomic::{AtomicUsize, Ordering};

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use tollgate_config::{Gateway, Secret, ServiceEndpoint, TokenSource};

use super::*;

fn policy() -> Introspection {
    Introspection {
        endpoint: ServiceEndpoint {
            upstream: 0,
            path: "/introspect".into(),
            host: None,
            timeout: Duration::from_millis(300),
        },
        client_id: "gw".into(),
        client_secret: Secret("s3cret:&".into()),
        source: TokenSource::Bearer,
        scopes: vec!["read".into()],
        audiences: vec![],
        issuer: None,
        consumer_claims: vec!["sub".into(), "client_id".into()],
        consumer: None,
        cache_ttl: Duration::from_secs(60),
        negative_cache_ttl: Duration::from_secs(5),
        cache_size: 100,
        anonymous: None,
    }
}

fn dir() -> Directory {
    let c = |name: &str| tollgate_config::Consumer {
        name: name.into(),
        ..Default::default()
    };
    Directory::build(&Gateway {
        consumers: vec![c("alice"), c("svc")],
        identity_headers: Default::default(),
    })
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    let v = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    h.insert(AUTHORIZATION, v);
    h
}

/// A call answering `body` with `status` after `delay`, counting calls
/// and keeping the last request body.
fn endpoint(
    status: u16,
    body: &'static str,
    delay: Duration,
    calls: &Arc<AtomicUsize>,
) -> impl Fn(Vec<u8>) -> CallFuture + Sync {
    let calls = calls.clone();
    move |req| {
        calls.fetch_add(1, Ordering::SeqCst);
        assert!(String::from_utf8(req).unwrap().starts_with("token="));
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            Ok((status, body.as_bytes().to_vec()))
        })
    }
}

async fn run(
    rt: &IntrospectionAuth,
    token: &str,
    call: &(dyn Fn(Vec<u8>) -> CallFuture + Sync),
) -> Outcome {
    rt.authenticate(&dir(), &bearer(token), &"/".parse().unwrap(), call)
        .await
}

fn reason(o: &Outcome) -> (u16, &'static str) {
    match o {
        Outcome::Refused(r) => (r.status, r.reason),
        Outcome::Identified(c) | Outcome::Anonymous(c) => panic!("passed as {}", c.name()),
    }
}

#[tokio::test]
async fn concurrent_requests_share_one_call_and_answers_are_cached() {
    let rt = IntrospectionAuth::new(&Arc::new(policy()));
    let calls = Arc::new(AtomicUsize::new(0));
    let call = endpoint(
        200,
        r#"{"active":true,"sub":"alice","scope":"read write"}"#,
        Duration::from_millis(100),
        &calls,
    );
    let (a, b, c, d) = tokio::join!(
        run(&rt, "t1", &call),
        run(&rt, "t1", &call),
        run(&rt, "t1", &call),
        run(&rt, "t1", &call)
    );
    for o in [a, b, c, d] {
        assert!(matches!(o, Outcome::Identified(c) if c.name() == "alice"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(matches!(
        run(&rt, "t1", &call).await,
        Outcome::Identified(_)
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the answer is remembered");
    assert!(rt.in_flight.lock().unwrap().is_empty());
    // The client credentials go as HTTP Basic, form-encoded.
    let basic = STANDARD.encode("gw:s3cret%3A%26");
    assert_eq!(rt.authorization(), format!("Basic {basic}"));
}

#[tokio::test]
async fn inactive_tokens_are_remembered_briefly_and_failures_not_at_all() {
    let rt = IntrospectionAuth::new(&Arc::new(policy()));
    let calls = Arc::new(AtomicUsize::new(0));
    let inactive = endpoint(200, r#"{"active":false}"#, Duration::ZERO, &calls);
    for _ in 0..3 {
        let o = run(&rt, "dead", &inactive).await;
        assert_eq!(reason(&o), (401, "oauth2_introspection:inactive"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let calls = Arc::new(AtomicUsize::new(0));
    let failing = endpoint(500, "", Duration::ZERO, &calls);
    for _ in 0..2 {
        let o = run(&rt, "t2", &failing).await;
        assert_eq!(reason(&o), (503, "oauth2_introspection:unavailable"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let garbage = endpoint(200, r#"{"active":"yes"}"#, Duration::ZERO, &calls);
    assert_eq!(reason(&run(&rt, "t2", &garbage).await).0, 503);

    let slow = endpoint(200, r#"{"active":true}"#, Duration::from_secs(30), &calls);
    let started = Instant::now();
    assert_eq!(reason(&run(&rt, "t3", &slow).await).0, 503);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn scope_audience_expiry_and_consumer_are_checked() {
    let mut p = policy();
    p.audiences = vec!["api".into()];
    let rt = IntrospectionAuth::new(&Arc::new(p));
    let calls = Arc::new(AtomicUsize::new(0));
    let cases: [(&'static str, (u16, &str)); 4] = [
        (
            r#"{"active":true,"sub":"alice","scope":"read","aud":"web"}"#,
            (401, "oauth2_introspection:audience"),
        ),
        (
            r#"{"active":true,"sub":"alice","scope":"write","aud":"api"}"#,
            (403, "oauth2_introspection:scope"),
        ),
        (
            r#"{"active":true,"sub":"nobody","scope":"read","aud":["x","api"]}"#,
            (401, "oauth2_introspection:no_consumer"),
        ),
        (
            r#"{"active":true,"sub":"alice","scope":"read","aud":"api","exp":1000}"#,
            (401, "oauth2_introspection:inactive"),
        ),
    ];
    for (i, (body, want)) in cases.into_iter().enumerate() {
        let call = endpoint(200, body, Duration::ZERO, &calls);
        let o = run(&rt, &format!("tok-{i}"), &call).await;
        assert_eq!(reason(&o), want, "{body}");
    }
    let call = endpoint(
        200,
        r#"{"active":true,"client_id":"svc","scope":"read","aud":"api"}"#,
        Duration::ZERO,
        &calls,
    );
    assert!(matches!(run(&rt, "svc", &call).await, Outcome::Identified(c) if c.name() == "svc"));
    let none = rt
        .authenticate(&dir(), &HeaderMap::new(), &"/".parse().unwrap(), &call)
        .await;
    assert_eq!(reason(&none), (401, "oauth2_introspection:missing"));
}
