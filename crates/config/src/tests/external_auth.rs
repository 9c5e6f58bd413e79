//! `oauth2_introspection`, `forward_auth` and `auth: {any: [...]}`:
//! defaults, `${file:}` secrets, and located errors.

use super::*;

const HEAD: &str = "listeners: [{name: web, address: 127.0.0.1:0}]
upstreams:
  - {name: idp, targets: [{address: 127.0.0.1:9}]}
consumers:
  - {name: app, api_keys: [k-app-0123456789]}
  - {name: guest}
routes:
  - name: r
    respond: {status: 200}
    policies:
";

fn with(policies: &str) -> String {
    format!("{HEAD}{policies}")
}

#[test]
fn introspection_forward_auth_and_any_with_their_defaults() {
    let c = parse(&with(
        r#"      - oauth2_introspection:
          endpoint: {upstream: idp, path: /introspect}
          client_id: gw
          client_secret: s3cret
          scopes: [read]
      - forward_auth:
          endpoint: {upstream: idp, path: /check, timeout: 1s}
          response_headers: [X-User]
      - auth:
          any: [{key_auth: {}}, {jwt: {issuers: [{issuer: i, keys: [{secret: "0123456789abcdef0123456789abcdef"}]}]}}]
          anonymous: guest
      - acl: {allow: {consumers: [app]}}
"#,
    ))
    .unwrap();
    let p = &c.routes[0].policies;
    let Policy::Gateway(GatewayPolicy::Introspection(i)) = &p[0] else {
        panic!("{:?}", p[0]);
    };
    assert_eq!(i.endpoint.timeout, secs(2));
    assert_eq!(i.source, TokenSource::Bearer);
    assert_eq!(i.consumer_claims, ["sub", "client_id"]);
    assert_eq!((i.cache_ttl, i.negative_cache_ttl), (secs(300), secs(5)));
    assert!(!format!("{i:?}").contains("s3cret"));
    let Policy::Gateway(GatewayPolicy::ForwardAuth(f)) = &p[1] else {
        panic!()
    };
    assert_eq!(f.request_headers, ["authorization", "cookie"]);
    assert!(!f.fail_open && f.consumer_header.is_none());
    assert_eq!(f.max_body, 64 << 10);
    let Policy::Gateway(GatewayPolicy::Any(a)) = &p[2] else {
        panic!()
    };
    assert_eq!(a.methods.len(), 2);
    assert_eq!(a.anonymous.as_deref(), Some("guest"));
}

#[test]
fn the_client_secret_can_come_from_a_file() {
    let dir = TempDir::new("introspection-secret");
    let path = dir.0.join("secret");
    std::fs::write(&path, "from-file\n").unwrap();
    let text = with(&format!(
        "      - oauth2_introspection:\n          endpoint: {{upstream: idp, path: /i}}\n          client_id: gw\n          client_secret: \"${{file:{}}}\"\n",
        path.display()
    ));
    let c = parse_str_with_env(&text, "test.yaml", |_| None).unwrap();
    let Policy::Gateway(GatewayPolicy::Introspection(i)) = &c.routes[0].policies[0] else {
        panic!()
    };
    assert_eq!(i.client_secret.0, "from-file");
}

#[test]
fn external_auth_errors_are_located() {
    expect_errors(
        &with(
            r#"      - oauth2_introspection:
          endpoint: {upstream: nope, path: introspect}
          client_id: "a:b"
      - forward_auth: {fail_open: maybe}
"#,
        ),
        &[
            (
                12,
                "routes[0].policies[0].oauth2_introspection.client_secret",
                "missing required field",
            ),
            (
                12,
                "routes[0].policies[0].oauth2_introspection.endpoint.upstream",
                "unknown upstream `nope`",
            ),
            (
                12,
                "routes[0].policies[0].oauth2_introspection.endpoint.path",
                "not an absolute path",
            ),
            (
                13,
                "routes[0].policies[0].oauth2_introspection.client_id",
                "cannot hold `:`",
            ),
            (
                14,
                "routes[0].policies[1].forward_auth.endpoint",
                "missing required field `endpoint`",
            ),
            (
                14,
                "routes[0].policies[1].forward_auth.fail_open",
                "expected `true` or `false`",
            ),
        ],
    );
}

#[test]
fn any_takes_auth_methods_without_anonymous_and_needs_two() {
    expect_errors(
        &with(
            r#"      - auth:
          any: [{key_auth: {anonymous: guest}}, {acl: {allow: {groups: [x]}}}]
      - auth: {any: [{key_auth: {}}]}
"#,
        ),
        &[
            (
                12,
                "routes[0].policies[0].auth.any[0]",
                "cannot have its own `anonymous`",
            ),
            (
                12,
                "routes[0].policies[0].auth.any[1]",
                "cannot be one of `any`'s methods",
            ),
            (13, "routes[0].policies[1].auth.any", "at least two"),
        ],
    );
}

#[test]
fn forward_auth_identifies_only_with_a_consumer_header() {
    let acl = "      - acl: {allow: {consumers: [app]}}\n";
    let fa = "      - forward_auth: {endpoint: {upstream: idp, path: /c}}\n";
    expect_errors(
        &with(&format!("{fa}{acl}")),
        &[(12, "routes[0].policies[1]", "needs an identity")],
    );
    let named =
        "      - forward_auth: {endpoint: {upstream: idp, path: /c}, consumer_header: X-User}\n";
    parse(&with(&format!("{named}{acl}"))).unwrap();
}
