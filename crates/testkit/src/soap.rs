//! A small SOAP service for the `soap` policy's tests: a real HTTP/1.1
//! server (the scripted upstream) that speaks SOAP 1.1 (`text/xml`) or 1.2
//! (`application/soap+xml`), chosen by the request's Content-Type.
//!
//! It reads the `<symbol>` of the call: `FAIL` is answered with a Fault of
//! the caller (`Client` / `Sender`), `DOWN` with a Fault of the server
//! (`Server` / `Receiver`), anything else with
//! `<m:GetPriceResponse><m:Price>34.5</m:Price><m:Symbol>…</m:Symbol>`.
//! Faults carry status 500 (1.1) or 400/500 (1.2), as the specs say.

use crate::scripted::Reply;
use crate::upstream::{RecordedRequest, Upstream};

const ENV_11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const ENV_12: &str = "http://www.w3.org/2003/05/soap-envelope";

impl Upstream {
    /// The SOAP service described in this module's doc.
    pub fn soap_service() -> Self {
        Upstream::scripted(answer)
    }
}

fn answer(req: &RecordedRequest) -> Reply {
    let ct = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let v12 = ct.starts_with("application/soap+xml");
    let body = String::from_utf8_lossy(&req.body);
    let symbol = body
        .split_once("<symbol>")
        .and_then(|(_, rest)| rest.split_once("</symbol>"))
        .map_or("", |(s, _)| s)
        .to_owned();
    let (status, content) = match (symbol.as_str(), v12) {
        ("FAIL", false) => (500, fault_11("soap:Client", "unknown symbol")),
        ("DOWN", false) => (500, fault_11("soap:Server", "quotes are down")),
        ("FAIL", true) => (400, fault_12("soap:Sender", "unknown symbol")),
        ("DOWN", true) => (500, fault_12("soap:Receiver", "quotes are down")),
        _ => (
            200,
            format!(
                "<m:GetPriceResponse xmlns:m=\"urn:stock\"><m:Price>34.5</m:Price><m:Symbol>{symbol}</m:Symbol></m:GetPriceResponse>"
            ),
        ),
    };
    let env = if v12 { ENV_12 } else { ENV_11 };
    let xml = format!(
        "<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"{env}\"><soap:Body>{content}</soap:Body></soap:Envelope>"
    );
    let ct = if v12 {
        "application/soap+xml; charset=utf-8"
    } else {
        "text/xml; charset=utf-8"
    };
    Reply::new(status).body(xml).header("content-type", ct)
}

fn fault_11(code: &str, reason: &str) -> String {
    format!(
        "<soap:Fault><faultcode>{code}</faultcode><faultstring>{reason}</faultstring><detail><e:Why xmlns:e=\"urn:err\">{reason}</e:Why></detail></soap:Fault>"
    )
}

fn fault_12(code: &str, reason: &str) -> String {
    format!(
        "<soap:Fault><soap:Code><soap:Value>{code}</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang=\"en\">{reason}</soap:Text></soap:Reason><soap:Detail><e:Why xmlns:e=\"urn:err\">{reason}</e:Why></soap:Detail></soap:Fault>"
    )
}
