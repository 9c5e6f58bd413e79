use http::StatusCode;
use tollgate_config::{SoapPolicy, SoapVersion, XmlMapping};

use super::*;

fn policy(version: SoapVersion, qualified: bool) -> SoapPolicy {
    SoapPolicy {
        version,
        operation: "GetPrice".into(),
        namespace: "urn:stock".into(),
        action: "urn:stock#GetPrice".into(),
        qualified,
        fault_status: vec![("Client".into(), StatusCode::BAD_REQUEST)],
        default_fault_status: StatusCode::BAD_GATEWAY,
        mapping: XmlMapping::default(),
        max_body: 1 << 20,
    }
}

#[test]
fn request_envelopes_for_both_versions() {
    let p = policy(SoapVersion::V11, false);
    let xml = envelope(&p, br#"{"symbol":"ACME","@unit":"x"}"#).unwrap();
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><m:GetPrice xmlns:m=\"urn:stock\" unit=\"x\"><symbol>ACME</symbol></m:GetPrice></soap:Body></soap:Envelope>"
    );
    let p = policy(SoapVersion::V12, true);
    let xml = envelope(&p, b"").unwrap();
    assert!(xml.contains("xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\""));
    assert!(
        xml.contains("<GetPrice xmlns=\"urn:stock\"/>")
            || xml.contains("<GetPrice xmlns=\"urn:stock\"></GetPrice>")
    );
    assert_eq!(
        content_type(&p),
        "application/soap+xml; charset=utf-8; action=\"urn:stock#GetPrice\""
    );
    assert!(envelope(&p, b"[1]").is_err());
}

#[test]
fn answers_lose_prefixes_and_declarations() {
    let p = policy(SoapVersion::V11, false);
    let answer = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetPriceResponse xmlns:m="urn:stock"><m:Price>34.5</m:Price></m:GetPriceResponse></s:Body></s:Envelope>"#;
    let SoapAnswer::Result(json) = read_answer(&p, answer).unwrap() else {
        panic!("not a result")
    };
    assert_eq!(
        json.to_json_string(),
        r#"{"GetPriceResponse":{"Price":"34.5"}}"#
    );
    assert!(read_answer(&p, b"<a/>").is_err());
}

#[test]
fn faults_of_both_versions() {
    let p = policy(SoapVersion::V11, false);
    let f11 = br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>bad symbol</faultstring><detail><code>42</code></detail></soap:Fault></soap:Body></soap:Envelope>"#;
    let SoapAnswer::Fault { code, json } = read_answer(&p, f11).unwrap() else {
        panic!("not a fault")
    };
    assert_eq!(code, "Client");
    assert_eq!(
        json.to_json_string(),
        r#"{"faultcode":"soap:Client","faultstring":"bad symbol","detail":{"code":"42"}}"#
    );
    let f12 = br#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code><env:Reason><env:Text xml:lang="en">down</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#;
    let SoapAnswer::Fault { code, json } = read_answer(&p, f12).unwrap() else {
        panic!("not a fault")
    };
    assert_eq!(code, "Receiver");
    assert_eq!(
        json.to_json_string(),
        r#"{"faultcode":"env:Receiver","faultstring":"down","detail":null}"#
    );
}
