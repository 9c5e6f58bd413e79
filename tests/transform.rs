//! The reshaping policies on real sockets: `transform` (JSON body edits of
//! answers and requests with variables, Content-Length, gzip answers,
//! streaming kept without a body edit, max_body, query edits, status
//! mapping, HTTP/2), `json_to_xml` / `xml_to_json` (round trips, XXE and
//! entity expansion refused) and `soap` (answers and Faults, 1.1 and 1.2).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use tollgate_testkit::serde_json::{json, Value};
use tollgate_testkit::{connect, h2_request, request, HttpResponse, Reply, Tollgate, Upstream};

fn start(up: &Upstream, policies: &str) -> Tollgate {
    Tollgate::for_upstream(
        up,
        &format!("routes:\n  - name: r\n    upstream: u\n    policies:\n{policies}"),
    )
}

fn json_of(r: &HttpResponse) -> Value {
    tollgate_testkit::serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", r.text()))
}

fn length_is_exact(r: &HttpResponse) {
    let len: usize = r
        .header("content-length")
        .unwrap_or_else(|| panic!("no content-length: {:?}", r.headers))
        .parse()
        .unwrap();
    assert_eq!(len, r.body.len());
}

fn json_answer(body: &'static str) -> Upstream {
    Upstream::scripted(move |_| {
        Reply::ok(body)
            .header("content-type", "application/json")
            .header("etag", "\"v1\"")
    })
}

const ANSWER_EDITS: &str = r#"      - key_auth: {}
      - transform:
          response:
            headers: {set: {X-Edited: "yes"}}
            body:
              - {set: /who, value: "$consumer via $http_x_tenant"}
              - {add: /items/0, json: {first: true}}
              - {remove: /secret}
              - {rename: /user/fullName, to: name}
              - {move: /user/id, to: /id}
              - {set: /meta/version, json: 2}
"#;

#[test]
fn body_edits_change_json_answers_with_variables_and_an_exact_length() {
    let up = json_answer(r#"{"secret":"s","user":{"id":7,"fullName":"Ann"},"items":[1,2]}"#);
    let tg = Tollgate::for_upstream(
        &up,
        &format!(
            "consumers:\n  - name: mobile\n    api_keys: [\"key-mobile-0123456789\"]\nroutes:\n  - name: r\n    upstream: u\n    policies:\n{ANSWER_EDITS}"
        ),
    );
    let headers = [("X-API-Key", "key-mobile-0123456789"), ("X-Tenant", "acme")];
    let r = request(tg.addr("web"), "GET", "/", &headers, b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        r#"{"user":{"name":"Ann"},"items":[{"first":true},1,2],"who":"mobile via acme","id":7,"meta":{"version":2}}"#
    );
    length_is_exact(&r);
    assert_eq!(r.header("x-edited"), Some("yes"));
    // The upstream's validator described other bytes.
    assert_eq!(r.header("etag"), None);
    // Over HTTP/2 the same answer, with its exact length.
    let r = h2_request(tg.addr("web"), "GET", "/", &headers, b"");
    assert_eq!(r.status, 200);
    assert_eq!(json_of(&r)["who"], "mobile via acme");
    length_is_exact(&r);
}

#[test]
fn request_bodies_and_queries_are_edited_before_forwarding() {
    let up = Upstream::echo();
    let tg = start(
        &up,
        r#"      - transform:
          request:
            headers: {remove: [X-Debug], set: {X-Via: "$method"}}
            query:
              remove: [debug]
              rename: {q: query}
              set: {page: "1"}
              add: {client: "$http_x_client"}
            body:
              - {set: /source, value: "$http_x_client"}
              - {remove: /password}
              - {rename: /nm, to: name}
"#,
    );
    let body = br#"{"nm":"Ann","password":"hunter2","n":[1]}"#;
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Client", "app 1"),
        ("X-Debug", "1"),
    ];
    let r = request(
        tg.addr("web"),
        "POST",
        "/p?q=a&debug=1&page=9",
        &headers,
        body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let echo = r.echo();
    assert_eq!(echo.body, r#"{"name":"Ann","n":[1],"source":"app 1"}"#);
    assert_eq!(echo.body_len, echo.body.len() as u64);
    assert_eq!(
        echo.headers["content-length"],
        [echo.body.len().to_string()]
    );
    assert_eq!(echo.path, "/p?query=a&page=1&client=app%201");
    assert!(!echo.headers.contains_key("x-debug"));
    assert_eq!(echo.headers["x-via"], ["POST"]);
    // Over HTTP/2 the same edits, the new length sent upstream.
    let r = h2_request(tg.addr("web"), "POST", "/p?q=a", &headers, body);
    assert_eq!(r.status, 200, "{}", r.text());
    let echo = r.echo();
    assert_eq!(echo.body, r#"{"name":"Ann","n":[1],"source":"app 1"}"#);
    assert_eq!(
        echo.headers["content-length"],
        [echo.body.len().to_string()]
    );
    // A body that is not JSON (by its type) streams through unedited.
    let plain = [("Content-Type", "text/plain"), ("X-Client", "c")];
    let r = request(tg.addr("web"), "POST", "/p", &plain, b"{\"password\":1}");
    assert_eq!(r.echo().body, "{\"password\":1}");
    // A JSON-typed body that is not JSON is refused.
    let r = request(tg.addr("web"), "POST", "/p", &headers, b"{nope");
    assert_eq!(r.status, 400, "{}", r.text());
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[test]
fn gzip_answers_are_decoded_and_edited_or_left_alone_by_config() {
    let up = Upstream::scripted(|_| {
        Reply::ok(gzip(br#"{"a":1,"drop":true}"#))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
    });
    let edit = "          response: {body: [{remove: /drop}]}\n";
    let tg = start(&up, &format!("      - transform:\n{edit}"));
    let r = request(
        tg.addr("web"),
        "GET",
        "/",
        &[("Accept-Encoding", "gzip")],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.text(), r#"{"a":1}"#);
    length_is_exact(&r);
    let tg = start(
        &up,
        &format!("      - transform:\n          compressed: skip\n{edit}"),
    );
    let r = request(
        tg.addr("web"),
        "GET",
        "/",
        &[("Accept-Encoding", "gzip")],
        b"",
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, r#"{"a":1,"drop":true}"#);
}

#[test]
fn answers_stream_when_no_body_edit_applies() {
    let up = Upstream::scripted(|_| {
        Reply::ok("")
            .header("content-type", "text/plain")
            .chunked(&["first ", "second ", "last"], Duration::from_millis(400))
    });
    // A body edit is configured, but the answer is not JSON; the header
    // edit still applies.
    let tg = start(
        &up,
        "      - transform:\n          response: {headers: {set: {X-T: '1'}}, body: [{remove: /a}]}\n",
    );
    let mut stream = connect(tg.addr("web"));
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut first_at = None;
    while Instant::now() < deadline {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
        if first_at.is_none() && String::from_utf8_lossy(&seen).contains("first") {
            first_at = Some(Instant::now());
        }
    }
    let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
    assert!(text.contains("x-t: 1"), "{text}");
    assert!(text.contains("last"), "{text}");
    let sent = up.chunk_times();
    assert_eq!(sent.len(), 3);
    let first_at = first_at.expect("first chunk seen");
    assert!(
        first_at < sent[2],
        "the first bytes reached the client only after the upstream sent the last"
    );
}

#[test]
fn bodies_over_max_body_are_413_on_requests_and_502_on_answers() {
    let big = format!("{{\"a\":\"{}\"}}", "x".repeat(4000));
    let body: &'static str = Box::leak(big.clone().into_boxed_str());
    let up = json_answer(body);
    let tg = start(
        &up,
        "      - transform:\n          max_body: 1KiB\n          request: {body: [{remove: /a}]}\n          response: {body: [{remove: /a}]}\n",
    );
    let json_type = [("Content-Type", "application/json")];
    let r = request(tg.addr("web"), "POST", "/", &json_type, big.as_bytes());
    assert_eq!(r.status, 413, "{}", r.text());
    let r = request(tg.addr("web"), "GET", "/", &[], b"");
    assert_eq!(r.status, 502, "{}", r.text());
    // Small enough: edited.
    let r = request(tg.addr("web"), "POST", "/", &json_type, br#"{"a":1,"b":2}"#);
    assert_eq!(r.status, 502, "the answer is still too large: {}", r.text());
    assert_eq!(up.last_request().body.as_ref(), br#"{"b":2}"#);
}

#[test]
fn answer_statuses_are_mapped() {
    let up = Upstream::status(404);
    let tg = start(
        &up,
        "      - transform:\n          response: {status: {404: 200, 500: 503}}\n",
    );
    let r = request(tg.addr("web"), "GET", "/", &[], b"");
    assert_eq!(r.status, 200);
}

/// An upstream that answers with the request's body and type.
fn mirror() -> Upstream {
    Upstream::scripted(|req| {
        let ct = req
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        Reply::ok(req.body.clone()).header("content-type", &ct)
    })
}

#[test]
fn json_documents_round_trip_through_xml() {
    let up = mirror();
    let tg = start(
        &up,
        "      - json_to_xml: {}\n      - xml_to_json: {arrays: [/orders/order]}\n",
    );
    let table = [
        json!({"orders": {"@id": "o1", "order": ["only one"]}}),
        json!({"orders": {"order": [{"@n": "1", "#text": "a"}, "b", "c"]}}),
        json!({"s:Env": {"@xmlns:s": "urn:x", "s:Body": {"v": "1"}}}),
        json!({"p": {"b": "you", "#text": "Hi  there"}}),
        json!({"a": {"x": "<&>", "y": ""}}),
    ];
    let ct = [("Content-Type", "application/json")];
    for doc in table {
        let body = tollgate_testkit::serde_json::to_vec(&doc).unwrap();
        let r = request(tg.addr("web"), "POST", "/", &ct, &body);
        assert_eq!(r.status, 200, "{doc}: {}", r.text());
        assert_eq!(json_of(&r), doc, "round trip of {doc}");
        assert!(up.last_request().body.starts_with(b"<"), "upstream got XML");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}

#[test]
fn xml_answers_become_json_with_the_documented_mapping() {
    let up = Upstream::scripted(|req| {
        let xml = match req.path.as_str() {
            "/one" => r#"<orders><order id="1">a</order></orders>"#,
            "/many" => r#"<orders><order id="1">a</order><order id="2">b</order></orders>"#,
            "/mixed" => r#"<p>Hi <b>you</b> there</p>"#,
            _ => r#"<x:a xmlns:x="urn:x" k="v"><x:b>1</x:b></x:a>"#,
        };
        Reply::ok(xml).header("content-type", "application/xml")
    });
    let tg = start(&up, "      - xml_to_json: {arrays: [/orders/order]}\n");
    let get = |path| json_of(&request(tg.addr("web"), "GET", path, &[], b""));
    assert_eq!(
        get("/one"),
        json!({"orders": {"order": [{"@id": "1", "#text": "a"}]}})
    );
    assert_eq!(
        get("/many"),
        json!({"orders": {"order": [{"@id": "1", "#text": "a"}, {"@id": "2", "#text": "b"}]}})
    );
    assert_eq!(
        get("/mixed"),
        json!({"p": {"b": "you", "#text": "Hi  there"}})
    );
    assert_eq!(
        get("/ns"),
        json!({"x:a": {"@xmlns:x": "urn:x", "@k": "v", "x:b": "1"}})
    );
}

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"#;

const XXE: &str = r#"<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<foo>&xxe;</foo>"#;

#[test]
fn xxe_and_entity_expansion_are_refused_quickly() {
    let up = Upstream::scripted(|req| {
        let doc = if req.path == "/laughs" {
            BILLION_LAUGHS
        } else {
            XXE
        };
        Reply::ok(doc).header("content-type", "application/xml")
    });
    let tg = start(&up, "      - xml_to_json: {on: both}\n");
    let xml = [("Content-Type", "application/xml")];
    for doc in [BILLION_LAUGHS, XXE] {
        let began = Instant::now();
        let r = request(tg.addr("web"), "POST", "/in", &xml, doc.as_bytes());
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("DOCTYPE"), "{}", r.text());
        assert!(began.elapsed() < Duration::from_secs(5));
    }
    // Neither reached the upstream.
    assert_eq!(up.request_count(), 0);
    for path in ["/laughs", "/xxe"] {
        let began = Instant::now();
        let r = request(tg.addr("web"), "GET", path, &[], b"");
        assert_eq!(r.status, 502, "{}", r.text());
        assert!(!r.text().contains("passwd") && !r.text().contains("lol"));
        assert!(began.elapsed() < Duration::from_secs(5));
    }
}

fn soap_route(version: &str) -> String {
    format!(
        "      - soap:\n          version: \"{version}\"\n          operation: GetPrice\n          namespace: urn:stock\n          action: urn:stock#GetPrice\n"
    )
}

#[test]
fn soap_11_calls_answers_and_faults() {
    let up = Upstream::soap_service();
    let tg = start(&up, &soap_route("1.1"));
    let ct = [("Content-Type", "application/json")];
    let r = request(
        tg.addr("web"),
        "GET",
        "/price",
        &ct,
        br#"{"symbol":"ACME"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        json_of(&r),
        json!({"GetPriceResponse": {"Price": "34.5", "Symbol": "ACME"}})
    );
    length_is_exact(&r);
    let sent = up.last_request();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.headers["soapaction"], "\"urn:stock#GetPrice\"");
    assert!(sent.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/xml"));
    let body = String::from_utf8_lossy(&sent.body);
    assert!(
        body.contains("<m:GetPrice xmlns:m=\"urn:stock\"><symbol>ACME</symbol></m:GetPrice>"),
        "{body}"
    );
    let r = request(
        tg.addr("web"),
        "POST",
        "/price",
        &ct,
        br#"{"symbol":"FAIL"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        json_of(&r),
        json!({"faultcode": "soap:Client", "faultstring": "unknown symbol", "detail": {"Why": "unknown symbol"}})
    );
    let r = request(
        tg.addr("web"),
        "POST",
        "/price",
        &ct,
        br#"{"symbol":"DOWN"}"#,
    );
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(json_of(&r)["faultcode"], "soap:Server");
}

#[test]
fn soap_12_calls_answers_and_faults_with_a_configured_status() {
    let up = Upstream::soap_service();
    let tg = start(
        &up,
        &format!(
            "{}          fault_status: {{Receiver: 503}}\n",
            soap_route("1.2")
        ),
    );
    let ct = [("Content-Type", "application/json")];
    let r = request(tg.addr("web"), "POST", "/", &ct, br#"{"symbol":"ACME"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json_of(&r)["GetPriceResponse"]["Price"], "34.5");
    let sent = up.last_request();
    assert_eq!(
        sent.headers["content-type"],
        "application/soap+xml; charset=utf-8; action=\"urn:stock#GetPrice\""
    );
    assert!(!sent.headers.contains_key("soapaction"));
    let r = request(tg.addr("web"), "POST", "/", &ct, br#"{"symbol":"FAIL"}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        json_of(&r),
        json!({"faultcode": "soap:Sender", "faultstring": "unknown symbol", "detail": {"Why": "unknown symbol"}})
    );
    let r = request(tg.addr("web"), "POST", "/", &ct, br#"{"symbol":"DOWN"}"#);
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(json_of(&r)["faultstring"], "quotes are down");
}
