//! The reshaping policies: `transform`, `json_to_xml`, `xml_to_json`,
//! `soap`: defaults, every field, located errors.

use super::*;

fn route(policies: &str) -> String {
    format!(
        "listeners: [{{name: web, address: 127.0.0.1:0}}]\nroutes:\n  - name: r\n    respond: {{status: 200}}\n    policies:\n{policies}"
    )
}

fn reshape(text: &str) -> Reshape {
    let c = parse(text).unwrap_or_else(|e| panic!("{e:?}"));
    match &c.routes[0].policies[0] {
        Policy::Reshape(r) => r.clone(),
        other => panic!("not a reshaping policy: {other:?}"),
    }
}

#[test]
fn transform_reads_every_field_with_defaults() {
    let r = reshape(&route(
        r#"      - transform:
          request:
            headers: {set: {X-A: "$method"}, remove: [X-B]}
            query: {remove: [debug], rename: {q: query}, set: {page: "1"}, add: {who: $client_ip}}
            body:
              - {set: /a~1b, value: "$http_x_user"}
              - {add: /list/-, json: {k: [1, true]}}
              - {remove: /secret}
              - {rename: /old, to: new}
              - {move: /from, to: /to/x}
          response:
            status: {404: 200}
"#,
    ));
    let Reshape::Transform(t) = r else { panic!() };
    assert_eq!(t.max_body, 1024 * 1024);
    assert_eq!(t.compressed, Compressed::Decode);
    assert_eq!(t.request.headers.set.len(), 1);
    assert_eq!(
        t.request.query.rename,
        [("q".to_owned(), "query".to_owned())]
    );
    assert_eq!(t.request.query.add[0].0, "who");
    assert_eq!(t.request.body.len(), 5);
    let BodyEdit::Set(p, EditValue::Template(_)) = &t.request.body[0] else {
        panic!("{:?}", t.request.body[0])
    };
    assert_eq!(p.tokens, ["a/b"]);
    let BodyEdit::Add(_, EditValue::Json(v)) = &t.request.body[1] else {
        panic!()
    };
    assert_eq!(v, &serde_json::json!({"k": [1, true]}));
    let BodyEdit::Move(from, to) = &t.request.body[4] else {
        panic!()
    };
    assert_eq!((from.tokens.len(), to.tokens.len()), (1, 2));
    assert_eq!(
        t.response.status,
        [(http::StatusCode::NOT_FOUND, http::StatusCode::OK)]
    );
}

#[test]
fn transform_errors_are_located() {
    let errs = errors(&route(
        r#"      - transform:
          compressed: maybe
          max_body: 100MiB
          request:
            status: {404: 200}
            body:
              - {set: no-slash, value: x}
              - {remove: /a, set: /b}
              - {set: /a}
              - {rename: /a}
              - {set: /a, value: "$nope"}
          response:
            query: {remove: [a]}
            status: {404: 999}
"#,
    ));
    assert_errors(
        &errs,
        &[
            (
                7,
                "routes[0].policies[0].transform.compressed",
                "`decode` or `skip`",
            ),
            (8, "routes[0].policies[0].transform.max_body", "at most"),
            (
                10,
                "routes[0].policies[0].transform.request.status",
                "answers only",
            ),
            (
                12,
                "routes[0].policies[0].transform.request.body[0].set",
                "must start with `/`",
            ),
            (
                13,
                "routes[0].policies[0].transform.request.body[1]",
                "exactly one of",
            ),
            (
                14,
                "routes[0].policies[0].transform.request.body[2]",
                "need a `value`",
            ),
            (
                15,
                "routes[0].policies[0].transform.request.body[3].to",
                "missing required field",
            ),
            (
                16,
                "routes[0].policies[0].transform.request.body[4].value",
                "variable",
            ),
            (
                18,
                "routes[0].policies[0].transform.response.query",
                "requests only",
            ),
            (
                19,
                "routes[0].policies[0].transform.response.status.404",
                "not a status code",
            ),
        ],
    );
}

#[test]
fn xml_policies_default_to_their_usual_side() {
    let Reshape::Xml(x) = reshape(&route("      - json_to_xml: {}\n")) else {
        panic!()
    };
    assert!(x.to_xml && x.on_request && !x.on_response);
    assert_eq!(x.mapping, XmlMapping::default());
    let Reshape::Xml(x) = reshape(&route(
        "      - xml_to_json: {on: both, arrays: [/o/i], infer_types: true, attribute_prefix: '-', max_depth: 8}\n",
    )) else {
        panic!()
    };
    assert!(!x.to_xml && x.on_request && x.on_response);
    assert_eq!(x.mapping.arrays, ["/o/i"]);
    assert_eq!(x.mapping.attribute_prefix, "-");
    assert!(x.mapping.infer_types);
    assert_eq!(x.mapping.max_depth, 8);
    let errs = errors(&route(
        "      - xml_to_json: {on: sideways, arrays: [o/i]}\n",
    ));
    assert_errors(
        &errs,
        &[
            (
                6,
                "routes[0].policies[0].xml_to_json.on",
                "`request`, `response` or `both`",
            ),
            (
                6,
                "routes[0].policies[0].xml_to_json.arrays[0]",
                "element path",
            ),
        ],
    );
}

#[test]
fn soap_needs_an_operation_and_maps_faults() {
    let Reshape::Soap(s) = reshape(&route(
        "      - soap: {version: '1.2', operation: GetPrice, namespace: 'urn:x', fault_status: {Sender: 422}}\n",
    )) else {
        panic!()
    };
    assert_eq!(s.version, SoapVersion::V12);
    let status = |code: &str| s.fault_status.iter().find(|(c, _)| c == code).unwrap().1;
    assert_eq!(status("Sender"), http::StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(status("Receiver"), http::StatusCode::BAD_GATEWAY);
    assert_eq!(status("Client"), http::StatusCode::BAD_REQUEST);
    let errs = errors(&route("      - soap: {version: '2', operation: 'a b'}\n"));
    assert_errors(
        &errs,
        &[
            (
                6,
                "routes[0].policies[0].soap.namespace",
                "missing required field",
            ),
            (6, "routes[0].policies[0].soap.version", "1.1"),
            (
                6,
                "routes[0].policies[0].soap.operation",
                "not an XML element name",
            ),
        ],
    );
}
