//! The gateway: `consumers` (credentials, duplicates), `${file:PATH}`
//! secrets, `identity_headers`, and the `key_auth` and `acl` policies with
//! their order in the chain.

use super::*;

const BCRYPT: &str = "$2y$04$abcdefghijklmnopqrstuu5Qb0Nc5mXb1Rn2Yo2PpN6l5q9m1mLc2";
const ARGON: &str = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

fn consumers_yaml(consumers: &str, policies: &str) -> String {
    format!(
        "listeners: [{{name: web, address: 127.0.0.1:0}}]\nconsumers:\n{consumers}routes:\n  - name: r\n    respond: {{status: 200}}\n    policies:\n{policies}"
    )
}

#[test]
fn consumers_with_every_credential_kind() {
    let digest = "a1f4c5b2e4d7d4e0ad1e0d6ba0d9a9eb5b1d1d3f1c1a0b5f9e6c7d8e9f0a1b2c";
    let text = consumers_yaml(
        &format!(
            r#"  - name: mobile
    groups: [paid, paid, beta]
    metadata: {{tier: gold}}
    api_keys: ["secret", "sha256:{digest}"]
    basic_auth:
      - {{username: ann, password_hash: "{BCRYPT}"}}
      - {{username: bob, password_hash: "{ARGON}"}}
    jwt:
      - {{issuer: "https://id.example.com", value: "user-1"}}
      - {{issuer: "https://id.example.com", claim: client_id, value: "app"}}
    mtls: [{{subject: "CN=mobile"}}, {{san: mobile.example.com}}]
"#
        ),
        "      - key_auth: {}\n",
    );
    let c = parse(&text).unwrap();
    let m = &c.gateway.consumers[0];
    assert_eq!(m.name, "mobile");
    assert_eq!(m.groups, ["paid", "beta"]);
    assert_eq!(m.metadata, [("tier".to_string(), "gold".to_string())]);
    // `secret` as given and its digest as written are the same key.
    assert_eq!(m.api_keys[0], KeyDigest::of(b"secret"));
    assert_eq!(m.api_keys.len(), 2);
    assert_eq!(m.basic_auth[0].hash.scheme, HashScheme::Bcrypt);
    assert_eq!(m.basic_auth[1].hash.scheme, HashScheme::Argon2id);
    assert_eq!(m.jwt[0].claim, "sub");
    assert_eq!(m.jwt[1].claim, "client_id");
    assert_eq!(m.mtls[1], MtlsMapping::San("mobile.example.com".into()));
    // The default identity headers and key source.
    assert_eq!(c.gateway.identity_headers.name, "x-consumer-name");
    let Policy::Gateway(GatewayPolicy::KeyAuth(k)) = &c.routes[0].policies[0] else {
        panic!("not key_auth");
    };
    assert_eq!(k.sources, [KeySource::Header("x-api-key".parse().unwrap())]);
    // Secrets never show in Debug output.
    let debug = format!("{c:?}");
    assert!(
        !debug.contains(BCRYPT) && !debug.contains("secret\""),
        "{debug}"
    );
}

#[test]
fn duplicate_credentials_and_bad_hashes_are_located() {
    let text = consumers_yaml(
        r#"  - name: a
    api_keys: ["k1"]
    basic_auth: [{username: ann, password_hash: "plain-password"}]
    jwt: [{issuer: i, value: v}]
  - name: b
    api_keys: ["other", "sha256:6ab9f1eb8f7d3388f4f9d586f66e99fd54080df2c446f0e58668b09c08a16dd0"]
    jwt: [{issuer: i, value: v}]
  - name: a
    api_keys: ["sha256:xyz"]
"#,
        "      - key_auth: {}\n",
    );
    expect_errors(
        &text,
        &[
            (
                5,
                "consumers[0].basic_auth[0].password_hash",
                "plain passwords are refused",
            ),
            (
                8,
                "consumers[1].api_keys[1]",
                "already a credential of consumer `a` (line 4)",
            ),
            (
                9,
                "consumers[1].jwt[0]",
                "already a credential of consumer `a`",
            ),
            (10, "consumers[2].name", "duplicate consumer name `a`"),
            (11, "consumers[2].api_keys[0]", "64 hexadecimal digits"),
        ],
    );
    // `sha256:` of `k1` is the same credential as `k1`; the message never
    // carries the key itself.
    assert!(errors(&text).iter().all(|e| !e.message.contains("k1")));
}

#[test]
fn secrets_are_read_from_files_relative_to_the_config() {
    let dir = TempDir::new("secret");
    std::fs::write(dir.0.join("key"), "from-file\n").unwrap();
    let yaml = consumers_yaml(
        "  - {name: a, api_keys: [\"${file:key}\"]}\n",
        "      - key_auth: {}\n",
    );
    let path = dir.0.join("tollgate.yaml");
    std::fs::write(&path, &yaml).unwrap();
    let c = load(&path).unwrap();
    assert_eq!(
        c.gateway.consumers[0].api_keys,
        [KeyDigest::of(b"from-file")]
    );

    std::fs::write(&path, yaml.replace("${file:key}", "${file:missing}")).unwrap();
    let errs = load(&path).unwrap_err().0;
    assert_eq!(errs[0].location, Some((3, 27)), "{errs:?}");
    assert!(
        errs[0].message.contains("cannot read secret file"),
        "{errs:?}"
    );
}

#[test]
fn key_auth_sources_anonymous_and_identity_headers() {
    let text = format!(
        "identity_headers: {{name: X-User, groups: X-Roles, metadata: {{tier: X-Tier}}}}\n{}",
        consumers_yaml(
            "  - {name: guest}\n",
            "      - key_auth:\n          sources: [{header: X-Key}, {query: api_key}, {cookie: k}]\n          anonymous: guest\n",
        )
    );
    let c = parse(&text).unwrap();
    let h = &c.gateway.identity_headers;
    assert_eq!(h.name, "x-user");
    assert_eq!(
        h.metadata,
        [("tier".to_string(), "x-tier".parse().unwrap())]
    );
    let Policy::Gateway(GatewayPolicy::KeyAuth(k)) = &c.routes[0].policies[0] else {
        panic!("not key_auth");
    };
    assert_eq!(
        k.sources,
        [
            KeySource::Header("x-key".parse().unwrap()),
            KeySource::Query("api_key".into()),
            KeySource::Cookie("k".into())
        ]
    );
    assert_eq!(k.anonymous.as_deref(), Some("guest"));

    expect_errors(
        &consumers_yaml(
            "  - {name: guest}\n",
            "      - key_auth: {anonymous: nobody, sources: [{header: X-Key, query: k}]}\n",
        ),
        &[(
            8,
            "routes[0].policies[0].key_auth.sources[0]",
            "exactly one of `header`, `query` or `cookie`, found",
        )],
    );
    expect_errors(
        &consumers_yaml(
            "  - {name: guest}\n",
            "      - key_auth: {anonymous: nobody}\n",
        ),
        &[(
            8,
            "routes[0].policies[0].key_auth.anonymous",
            "unknown consumer `nobody`",
        )],
    );
}

#[test]
fn acl_needs_an_auth_policy_before_it() {
    expect_errors(
        &consumers_yaml(
            "  - {name: a, groups: [paid]}\n",
            "      - acl: {allow: {groups: [paid]}}\n      - key_auth: {}\n      - acl: {deny: {consumers: [a, zed]}}\n",
        ),
        &[
            (8, "routes[0].policies[0]", "`acl` needs an identity but no auth policy"),
            (10, "routes[0].policies[2].acl.deny.consumers[1]", "unknown consumer `zed`"),
        ],
    );
    // An auth policy in `defaults` runs first, so a route's acl may follow it.
    let text = consumers_yaml(
        "  - {name: a, groups: [paid]}\n",
        "      - acl: {allow: {groups: [paid]}}\n",
    )
    .replace("routes:", "defaults: {policies: [{key_auth: {}}]}\nroutes:");
    let c = parse(&text).unwrap();
    let kinds: Vec<&str> = c.routes[0].policies.iter().map(|p| p.kind()).collect();
    assert_eq!(kinds, ["key_auth", "acl"]);
    expect_errors(
        &consumers_yaml(
            "  - {name: a}\n",
            "      - headers: {request: {set: {X-Who: $consumer}}}\n      - key_auth: {}\n      - headers: {request: {set: {X-Who: $consumer}}}\n",
        ),
        &[(8, "routes[0].policies[0]", "`headers` with `$consumer`")],
    );
    expect_errors(
        &consumers_yaml("  - {name: a}\n", "      - acl: {}\n"),
        &[(8, "routes[0].policies[0].acl", "needs `allow` or `deny`")],
    );
}

fn jwt_yaml(jwt: &str) -> String {
    consumers_yaml("  - {name: a}\n", &format!("      - jwt:\n{jwt}"))
}

#[test]
fn jwt_defaults_and_every_field() {
    let c = parse(&jwt_yaml(
        r#"          issuers:
            - issuer: https://id
              audiences: [api]
              consumer: a
              keys: [{pem: keys/id.pem, kid: k1, algorithm: PS256}, {jwks: keys/set.json}]
          source: {cookie: token}
          leeway: 1m
          max_token_size: 4KiB
          require_exp: false
          typ: at+jwt
          claims_to_headers: {sub: X-User}
          cache_size: 5
"#,
    ))
    .unwrap();
    let Policy::Gateway(GatewayPolicy::Jwt(j)) = &c.routes[0].policies[0] else {
        panic!("not jwt");
    };
    assert_eq!(j.source, TokenSource::Cookie("token".into()));
    assert_eq!(
        (j.leeway, j.max_token_size, j.require_exp, j.cache_size),
        (secs(60), 4096, false, 5)
    );
    assert_eq!(j.issuers[0].keys[0].algorithm, Some(JwtAlgorithm::PS256));
    assert_eq!(j.issuers[0].consumer.as_deref(), Some("a"));
    assert!(
        matches!(&j.issuers[0].keys[1].material, KeyMaterial::Jwks(f) if f.path.ends_with("keys/set.json"))
    );

    let d = parse(&jwt_yaml(&format!(
        "          issuers: [{{issuer: i, keys: [{{secret: \"{}\"}}]}}]\n",
        "s".repeat(32)
    )))
    .unwrap();
    let Policy::Gateway(GatewayPolicy::Jwt(j)) = &d.routes[0].policies[0] else {
        panic!("not jwt");
    };
    assert_eq!(j.source, TokenSource::Bearer);
    assert_eq!(
        (j.leeway, j.max_token_size, j.require_exp),
        (secs(30), 8192, true)
    );
    assert_eq!(j.issuers[0].keys[0].algorithm, None);
    assert!(
        !format!("{j:?}").contains(&"s".repeat(32)),
        "the secret shows in Debug"
    );
}

#[test]
fn jwt_key_errors_are_located() {
    let secret = "s".repeat(40);
    expect_errors(
        &jwt_yaml(&format!(
            r#"          issuers:
            - issuer: https://none
              keys: [{{pem: a.pem, algorithm: none}}]
            - issuer: https://unknown
              keys: [{{pem: a.pem, algorithm: RS257}}]
            - issuer: https://short
              keys: [{{secret: "{secret}", algorithm: HS384}}]
            - issuer: https://mixed
              keys: [{{secret: "{secret}"}}, {{pem: a.pem}}]
            - issuer: https://empty
          leeway: 10m
"#
        )),
        &[
            (
                11,
                "routes[0].policies[0].jwt.issuers[0].keys[0].algorithm",
                "`none` is not an algorithm",
            ),
            (
                13,
                "routes[0].policies[0].jwt.issuers[1].keys[0].algorithm",
                "unknown algorithm `RS257`",
            ),
            (
                15,
                "routes[0].policies[0].jwt.issuers[2].keys[0].secret",
                "at least 48 bytes",
            ),
            (
                16,
                "routes[0].policies[0].jwt.issuers[3].keys",
                "cannot be mixed",
            ),
            (
                18,
                "routes[0].policies[0].jwt.issuers[4].keys",
                "has no keys",
            ),
            (19, "routes[0].policies[0].jwt.leeway", "at most 5m"),
        ],
    );
}

#[test]
fn require_needs_a_jwt_or_key_auth_before_it() {
    expect_errors(
        &consumers_yaml(
            "  - {name: a}\n",
            "      - require: {scopes: {all_of: [read]}}\n",
        ),
        &[(8, "routes[0].policies[0]", "`require` needs an identity")],
    );
    let ok = jwt_yaml(&format!(
        "          issuers: [{{issuer: i, keys: [{{secret: \"{}\"}}]}}]\n      - require: {{claims: {{role: {{any_of: [admin]}}}}, scopes: {{all_of: [read]}}}}\n",
        "s".repeat(32)
    ));
    let c = parse(&ok).unwrap();
    let Policy::Gateway(GatewayPolicy::Require(r)) = &c.routes[0].policies[1] else {
        panic!("not require");
    };
    assert_eq!(r.claims[0].0, "role");
    assert_eq!(r.scopes.as_ref().unwrap().all_of, ["read"]);
}

#[test]
fn basic_auth_defaults_and_realm_errors() {
    let c = parse(&consumers_yaml(
        "  - {name: a}\n",
        "      - basic_auth: {}\n",
    ))
    .unwrap();
    let Policy::Gateway(GatewayPolicy::BasicAuth(b)) = &c.routes[0].policies[0] else {
        panic!("not basic_auth");
    };
    assert_eq!(
        (b.realm.as_str(), b.cache_size, b.cache_ttl),
        ("tollgate", 10_000, secs(300))
    );
    expect_errors(
        &consumers_yaml(
            "  - {name: a}\n",
            "      - basic_auth: {realm: 'a\"b', cache_ttl: 0s, anonymous: zed}\n",
        ),
        &[
            (8, "routes[0].policies[0].basic_auth.realm", "without `\"`"),
            (
                8,
                "routes[0].policies[0].basic_auth.cache_ttl",
                "longer than zero",
            ),
            (
                8,
                "routes[0].policies[0].basic_auth.anonymous",
                "unknown consumer `zed`",
            ),
        ],
    );
}

#[test]
fn jwks_endpoints_name_an_upstream_and_take_defaults() {
    let text = jwt_yaml(
        "          issuers: [{issuer: i, jwks_endpoint: {upstream: idp, path: /jwks.json}}]\n",
    )
    .replace(
        "consumers:",
        "upstreams: [{name: idp, targets: [{address: 127.0.0.1:9}]}]\nconsumers:",
    );
    let c = parse(&text).unwrap();
    let Policy::Gateway(GatewayPolicy::Jwt(j)) = &c.routes[0].policies[0] else {
        panic!("not jwt");
    };
    let e = j.issuers[0].jwks_endpoint.as_ref().unwrap();
    assert_eq!(
        (e.upstream, e.path.as_str(), e.host.as_deref()),
        (0, "/jwks.json", None)
    );
    assert_eq!(
        (e.min_ttl, e.max_ttl, e.refetch_interval, e.timeout),
        (secs(60), secs(3600), secs(30), secs(5))
    );
    expect_errors(
        &jwt_yaml(&format!(
            "          issuers: [{{issuer: i, keys: [{{secret: \"{}\"}}], jwks_endpoint: {{upstream: nope, path: jwks, min_ttl: 2h}}}}]\n",
            "s".repeat(32)
        )),
        &[
            (9, "routes[0].policies[0].jwt.issuers[0].jwks_endpoint.max_ttl", "must not be shorter"),
            (9, "routes[0].policies[0].jwt.issuers[0].jwks_endpoint.upstream", "unknown upstream `nope`"),
            (9, "routes[0].policies[0].jwt.issuers[0].jwks_endpoint.path", "not an absolute path"),
        ],
    );
}
