//! `admin.tls`: the admin API over HTTPS, with client certificates from
//! `client_ca` required (instead of, or together with, the token).

use tollgate_testkit::{render, tls_get, TempDir, TestCa, TlsOptions, TollgateProcess};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

const CONFIG: &str = r#"
admin:
  address: "127.0.0.1:0"
  tls: {certificate: admin.pem, key: admin.key, client_ca: operators.pem}
{token}
listeners: [{name: web, address: "127.0.0.1:0"}]
routes: [{name: r, respond: {status: 204}}]
"#;

/// A tollgate whose admin API wants a certificate from the `operators`
/// CA (and with `token`, also the token); the server CA and that CA.
fn start(token: &str) -> (TempDir, TollgateProcess, TestCa, TestCa) {
    let server_ca = TestCa::new("admin server CA");
    let operators = TestCa::new("operators CA");
    let dir = TempDir::new();
    dir.write_pair("admin", &server_ca.server_cert(&["admin.test"]));
    dir.write("operators.pem", operators.cert_pem());
    dir.write("admin.token", "tls-and-token\n");
    let config = dir.write("tollgate.yaml", render(CONFIG, &[("token", &token)]));
    let tg = TollgateProcess::start(BIN, &config, &[], &["web"]);
    (dir, tg, server_ca, operators)
}

#[test]
fn a_client_certificate_from_client_ca_is_required_and_enough() {
    let (_dir, mut tg, server_ca, operators) = start("");
    let admin = tg.admin_addr();
    let plain = TlsOptions::new(&server_ca, "admin.test");

    let no_cert = tls_get(admin, &plain, "/status");
    assert!(
        no_cert.is_err(),
        "served without a client certificate: {no_cert:?}"
    );
    let stranger = TestCa::new("some other CA").client_cert("mallory", &[]);
    let wrong_ca = tls_get(admin, &plain.clone().client_cert(&stranger), "/status");
    assert!(
        wrong_ca.is_err(),
        "served a certificate of another CA: {wrong_ca:?}"
    );

    let operator = operators.client_cert("alice", &[]);
    let ok = tls_get(admin, &plain.clone().client_cert(&operator), "/status")
        .expect("an operator's certificate is let in");
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["ready"], true);
    // The dashboard is served over the same connection kind.
    let page = tls_get(admin, &plain.client_cert(&operator), "/").expect("dashboard");
    assert_eq!(page.status, 200);
}

#[test]
fn with_a_token_too_both_are_needed() {
    let (_dir, mut tg, server_ca, operators) = start("  token: {file: admin.token}");
    let admin = tg.admin_addr();
    let opts =
        TlsOptions::new(&server_ca, "admin.test").client_cert(&operators.client_cert("alice", &[]));
    let without_token = tls_get(admin, &opts, "/status").expect("handshake");
    assert_eq!(without_token.status, 401);
    let mut conn = tollgate_testkit::tls_connect(admin, &opts).expect("handshake");
    let with_token = conn
        .request(
            "GET",
            "admin.test",
            "/status",
            &[("authorization", "Bearer tls-and-token")],
        )
        .expect("answer");
    assert_eq!(with_token.status, 200, "{}", with_token.text());
}
