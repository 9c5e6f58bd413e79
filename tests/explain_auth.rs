//! `tollgate explain -H ...` on the gateway's auth policies: which
//! consumer a static key or token maps to, why one would be refused, and
//! never the credential itself.

use std::process::Command;

use jsonwebtoken::Algorithm;
use serde_json::json;
use tollgate_testkit::jwt::{unix_now, TestKey};
use tollgate_testkit::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn explain(file: &str, headers: &[&str], url: &str) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(["explain", "-c", file]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd.args(["GET", url]).output().expect("run tollgate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn explain_shows_the_consumer_a_credential_maps_to_or_why_not() {
    let dir = TempDir::new();
    let config = dir.write(
        "tollgate.yaml",
        format!(
            r#"listeners: [{{name: web, address: 127.0.0.1:0}}]
consumers:
  - {{name: app, groups: [paid], api_keys: [key-app-0123456789]}}
  - {{name: svc}}
routes:
  - name: keys
    match: {{path: {{prefix: /keys}}}}
    respond: {{status: 200}}
    policies:
      - key_auth: {{}}
      - acl: {{allow: {{groups: [paid]}}}}
  - name: any
    match: {{path: {{prefix: /any}}}}
    respond: {{status: 200}}
    policies:
      - auth:
          any:
            - jwt: {{issuers: [{{issuer: iss, consumer: svc, keys: [{{secret: "{SECRET}"}}]}}]}}
            - key_auth: {{}}
"#
        ),
    );
    let file = config.to_str().unwrap();
    let out = explain(file, &["X-API-Key: key-app-0123456789"], "/keys");
    assert!(out.contains("auth: key_auth: key (sha256:"), "{out}");
    assert!(out.contains("=> consumer app"), "{out}");
    assert!(out.contains("auth: acl allows consumer app"), "{out}");
    assert!(
        !out.contains("key-app-0123456789"),
        "the key is never printed: {out}"
    );

    let out = explain(file, &["X-API-Key: wrong-key"], "/keys");
    assert!(out.contains("key_auth:invalid"), "{out}");
    assert!(!out.contains("wrong-key"), "{out}");

    let key = TestKey::hmac("k", Algorithm::HS256, SECRET.as_bytes());
    let good = key.sign(&json!({"iss": "iss", "sub": "x", "exp": unix_now() + 300}));
    let out = explain(file, &[&format!("Authorization: Bearer {good}")], "/any");
    assert!(out.contains("verified => consumer svc"), "{out}");
    assert!(!out.contains(&good), "the token is never printed: {out}");
    let expired = key.sign(&json!({"iss": "iss", "sub": "x", "exp": unix_now() - 3600}));
    let out = explain(file, &[&format!("Authorization: Bearer {expired}")], "/any");
    assert!(out.contains("jwt:expired"), "{out}");
    let out = explain(file, &["X-API-Key: key-app-0123456789"], "/any");
    assert!(out.contains("any: jwt: no credential, next"), "{out}");
    assert!(out.contains("=> consumer app"), "{out}");
}
