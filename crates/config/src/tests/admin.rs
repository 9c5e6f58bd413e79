//! `admin:`: the admin API's address and token.

use super::*;

const REST: &str =
    "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}}]\n";

#[test]
fn absent_means_no_admin_listener() {
    assert_eq!(parse(REST).unwrap().admin, None);
}

#[test]
fn present_block_defaults_to_loopback_9901_without_token() {
    let c = parse(&format!("admin: {{}}\n{REST}")).unwrap();
    assert_eq!(
        c.admin,
        Some(Admin {
            address: "127.0.0.1:9901".parse().unwrap(),
            token: None,
            metrics_public: false,
            tls: None,
            metrics: true,
        })
    );
}

#[test]
fn tls_with_client_ca_lets_a_non_loopback_address_go_without_token() {
    let c = parse(&format!(
        "admin:\n  address: \"0.0.0.0:9443\"\n  tls: {{certificate: a.pem, key: a.key, client_ca: ca.pem}}\n{REST}"
    ))
    .unwrap();
    let tls = c.admin.unwrap().tls.unwrap();
    assert_eq!(tls.certificate.cert.path, std::path::Path::new("./a.pem"));
    assert_eq!(tls.certificate.key.path, std::path::Path::new("./a.key"));
    assert_eq!(
        tls.client_ca.unwrap().path,
        std::path::Path::new("./ca.pem")
    );
    // Without client_ca, TLS alone authenticates nobody.
    expect_errors(
        &format!("admin:\n  address: \"0.0.0.0:9443\"\n  tls: {{certificate: a.pem, key: a.key}}\n{REST}"),
        &[(2, "admin.address", "0.0.0.0:9443 is not a loopback address")],
    );
    expect_errors(
        &format!("admin:\n  tls: {{certificate: a.pem}}\n{REST}"),
        &[(2, "admin.tls.key", "missing required field `key`")],
    );
}

#[test]
fn token_from_file_or_env() {
    let c = parse(&format!(
        "admin: {{address: \"0.0.0.0:9000\", token: {{file: admin.token}}}}\n{REST}"
    ))
    .unwrap();
    let admin = c.admin.unwrap();
    assert_eq!(admin.address, "0.0.0.0:9000".parse().unwrap());
    // Relative to the file's directory, like every other path.
    assert_eq!(
        admin.token,
        Some(SecretSource::File("./admin.token".into()))
    );
    let c = parse(&format!("admin: {{token: {{env: ADMIN_TOKEN}}}}\n{REST}")).unwrap();
    assert_eq!(
        c.admin.unwrap().token,
        Some(SecretSource::Env("ADMIN_TOKEN".into()))
    );
}

#[test]
fn non_loopback_address_without_token_is_refused() {
    expect_errors(
        &format!("admin:\n  address: \"0.0.0.0:9901\"\n{REST}"),
        &[(2, "admin.address", "0.0.0.0:9901 is not a loopback address")],
    );
    // IPv6 loopback is fine without a token.
    assert!(parse(&format!("admin: {{address: \"[::1]:9901\"}}\n{REST}")).is_ok());
}

#[test]
fn bad_values_are_located() {
    expect_errors(
        &format!("admin:\n  address: nowhere\n  token: {{file: a, env: B}}\n  colour: red\n{REST}"),
        &[
            (2, "admin.address", "expected `ip:port`"),
            (3, "admin.token", "give either `file` or `env`, not both"),
            (4, "admin.colour", "unknown field `colour`"),
        ],
    );
    expect_errors(
        &format!("admin: {{token: {{}}}}\n{REST}"),
        &[(1, "admin.token", "expected `{file: PATH}` or `{env: NAME}`")],
    );
}

#[test]
fn secret_source_reads_file_and_env_trimmed() {
    let dir = TempDir::new("admin-token");
    let path = dir.0.join("t");
    std::fs::write(&path, "s3cret\n").unwrap();
    assert_eq!(SecretSource::File(path).read().unwrap(), "s3cret");
    let missing = SecretSource::Env("TOLLGATE_TEST_SURELY_UNSET_VAR".into())
        .read()
        .unwrap_err();
    assert!(missing.contains("is not set"), "{missing}");
}

#[test]
fn the_admin_address_must_not_be_a_listener_s() {
    expect_errors(
        &format!("admin:\n  address: \"127.0.0.1:1\"\n{REST}"),
        &[(
            2,
            "admin.address",
            "address 127.0.0.1:1 is already used by listener `a`",
        )],
    );
}

#[test]
fn metrics_can_be_turned_off() {
    let c = parse(&format!("admin: {{metrics: false}}\n{REST}")).unwrap();
    assert!(!c.admin.unwrap().metrics);
    expect_errors(
        &format!("admin:\n  metrics: sometimes\n{REST}"),
        &[(2, "admin.metrics", "")],
    );
}

#[test]
fn metrics_public_is_a_flag_off_by_default() {
    let c = parse(&format!("admin: {{metrics_public: true}}\n{REST}")).unwrap();
    assert!(c.admin.unwrap().metrics_public);
    expect_errors(
        &format!("admin:\n  metrics_public: maybe\n{REST}"),
        &[(2, "admin.metrics_public", "")],
    );
}
