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

/// One YAML file per field with a scalar (`x`) where the field's list or
/// map belongs: (text, field path, "a list" or "a map", example fragment).
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\", trusted_proxies: x}]\nroutes: [{name: r, respond: {}}]\n",
        "listeners[0].trusted_proxies",
        "a list",
        "trusted_proxies: [10.0.0.0/8]",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\", limits: x}]\nroutes: [{name: r, respond: {}}]\n",
        "listeners[0].limits",
        "a map",
        "limits: {max_headers: 100",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\", ip_filter: {allow: x}}]\nroutes: [{name: r, respond: {}}]\n",
        "listeners[0].ip_filter.allow",
        "a list",
        "allow: [10.0.0.0/8",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\", protocol: https, tls: {certificates: x}}]\nroutes: [{name: r, respond: {}}]\n",
        "listeners[0].tls.certificates",
        "a list",
        "certificates: [{cert: certs/site.pem",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\", protocol: https, tls: x}]\nroutes: [{name: r, respond: {}}]\n",
        "listeners[0].tls",
        "a map",
        "tls: {certificates: [{cert:",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\", protocol: tls_passthrough, sni: x}]\n",
        "listeners[0].sni",
        "a list",
        "sni: [{hosts: [api.example.com], upstream: api}]",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nupstreams: [{name: u, targets: [{address: \"127.0.0.1:2\"}], retries: {on: x}}]\nroutes: [{name: r, upstream: u}]\n",
        "upstreams[0].retries.on",
        "a list",
        "on: [connect_error, reset, 502, 503]",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nupstreams: [{name: u, targets: [{address: \"127.0.0.1:2\"}], health: {active: {expect: x}}}]\nroutes: [{name: r, upstream: u}]\n",
        "upstreams[0].health.active.expect",
        "a list",
        "expect: [\"200\", 2xx]",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nupstreams: [{name: u, targets: [{address: \"127.0.0.1:2\"}], timeouts: x}]\nroutes: [{name: r, upstream: u}]\n",
        "upstreams[0].timeouts",
        "a map",
        "timeouts: {connect: 2s",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nupstreams: [{name: u, targets: [{address: \"127.0.0.1:2\"}], tls: x}]\nroutes: [{name: r, upstream: u}]\n",
        "upstreams[0].tls",
        "a map",
        "tls: {ca: certs/internal-ca.pem}",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}, match: {path: x}}]\n",
        "routes[0].match.path",
        "a map",
        "path: {prefix: /api}",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}, listeners: a}]\n",
        "routes[0].listeners",
        "a list",
        "listeners: [web, websecure]",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}, forwarding: {hide_response_headers: Server}}]\n",
        "routes[0].forwarding.hide_response_headers",
        "a list",
        "hide_response_headers: [Server, X-Powered-By]",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}, policies: [{headers: {request: {set: x}}}]}]\n",
        "routes[0].policies[0].headers.request.set",
        "a map",
        "set: {X-Env: prod}",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}, policies: [{cors: {allow_origins: x}}]}]\n",
        "routes[0].policies[0].cors.allow_origins",
        "a list",
        "allow_origins: [https://app.example.com]",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}, policies: [{methods: GET}]}]\n",
        "routes[0].policies[0].methods",
        "a list",
        "methods: [GET, HEAD]",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}, policies: [{compress: {algorithms: gzip}}]}]\n",
        "routes[0].policies[0].compress.algorithms",
        "a list",
        "algorithms: [zstd, br, gzip]",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}, policies: [{cache: {key: {headers: Accept}}}]}]\n",
        "routes[0].policies[0].cache.key.headers",
        "a list",
        "headers: [Accept-Language]",
    ),
    (
        "listeners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, static: {root: /tmp, content_types: x}}]\n",
        "routes[0].static.content_types",
        "a map",
        "content_types: {wasm: application/wasm}",
    ),
    (
        "server: x\nlisteners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}}]\n",
        "server",
        "a map",
        "server: {workers: 2",
    ),
    (
        "log: x\nlisteners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}}]\n",
        "log",
        "a map",
        "log: {level: info, format: json, output: stderr}",
    ),
    (
        "defaults: {policies: x}\nlisteners: [{name: a, address: \"127.0.0.1:1\"}]\nroutes: [{name: r, respond: {}}]\n",
        "defaults.policies",
        "a list",
        "policies: [{security_headers: {}}]",
    ),
];

#[test]
fn list_and_map_fields_across_the_file_get_a_plain_message() {
    for (text, path, shape, example) in CASES {
        let errs = errors(text);
        let e = errs
            .iter()
            .find(|e| e.path == *path)
            .unwrap_or_else(|| panic!("no error at {path}: {errs:#?}"));
        let want = format!("expected {shape}, e.g. {example}");
        assert!(
            e.message.starts_with(&want),
            "{path}: `{}`, want `{want}`",
            e.message
        );
        assert!(e.location.is_some(), "{path}: no location");
    }
}
