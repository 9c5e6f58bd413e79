//! A value of the wrong shape (a scalar where a list or a map belongs, a
//! list where a map belongs) is reported in plain words with an example.

use super::*;

const LISTENERS: &str = "listeners: [{name: a, address: \"127.0.0.1:1\"}]\n";

#[test]
fn a_scalar_where_targets_belong_asks_for_a_list_with_an_example() {
    let text = format!(
        "{LISTENERS}upstreams:\n  - name: u\n    targets: 127.0.0.1:9301\nroutes: [{{name: r, upstream: u}}]\n"
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].path, "upstreams[0].targets");
    assert_eq!(
        errs[0].message,
        "expected a list, e.g. targets: [{address: 10.0.0.5:80}]"
    );
    assert_eq!(errs[0].location, Some((4, 14)));
}

#[test]
fn list_fields_ask_for_a_list() {
    expect_errors(
        &format!(
            "{LISTENERS}routes:\n  - name: r\n    respond: {{}}\n    match: {{hosts: a.com, methods: GET, headers: X-Env}}\n    policies: {{compress: {{}}}}\n"
        ),
        &[
            (5, "routes[0].match.hosts", "expected a list, e.g. hosts: [api.example.com"),
            (5, "routes[0].match.methods", "expected a list, e.g. methods: [GET, POST]"),
            (5, "routes[0].match.headers", "expected a list, e.g. headers: [{name: X-Env, value: prod}]"),
            (6, "routes[0].policies", "expected a list, e.g. policies: [{use: strict}, {compress: {}}]"),
        ],
    );
    expect_errors(
        "listeners: {name: a}\nroutes: home\n",
        &[
            (
                1,
                "listeners",
                "expected a list, e.g. listeners: [{name: web, address: 0.0.0.0:8080}]",
            ),
            (
                2,
                "routes",
                "expected a list, e.g. routes: [{name: home, respond: {body: hello}}]",
            ),
        ],
    );
}

#[test]
fn map_fields_ask_for_a_map() {
    expect_errors(
        &format!(
            "{LISTENERS}upstreams: [{{name: u, targets: [{{address: \"127.0.0.1:1\"}}], health: yes}}]\nroutes:\n  - {{name: r, upstream: u, match: [/api]}}\n  - {{name: s, respond: {{headers: [a]}}}}\n  - home\npolicies: [strict]\n"
        ),
        &[
            (2, "upstreams[0].health", "expected a map, e.g. health: {active: {path: /health"),
            (4, "routes[0].match", "expected a map, e.g. match: {hosts: [api.example.com]"),
            (5, "routes[1].respond.headers", "expected a map, e.g. headers: {Content-Type: text/plain}"),
            (6, "routes[2]", "expected a map, e.g. - {name: home, respond: {body: hello}}"),
            (7, "policies", "expected a map, e.g. policies: {strict: {security_headers: {}}}"),
        ],
    );
}

#[test]
fn list_items_of_the_wrong_shape_show_one_item() {
    expect_errors(
        &format!(
            "{LISTENERS}upstreams: [{{name: u, targets: [\"127.0.0.1:80\"]}}]\nroutes: [{{name: r, upstream: u}}]\n"
        ),
        &[(
            2,
            "upstreams[0].targets[0]",
            "expected a map, e.g. - {address: 10.0.0.5:80, weight: 2}",
        )],
    );
}
