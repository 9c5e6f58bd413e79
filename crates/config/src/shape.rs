//! Plain words for a value of the wrong shape.
//!
//! serde-saphyr reports a scalar where a list belongs as `expected sequence
//! start`, and a scalar or list where a map belongs as `expected mapping
//! start`: parser words that do not tell a user what to write. [`explain`]
//! turns them into `expected a list, e.g. targets: [{address: 10.0.0.5:80}]`
//! with an example for the field, taken from [`EXAMPLES`] (keyed by the end
//! of the field path, so `match.headers` and `respond.headers` can differ),
//! or built from the field's name when the table has none.

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    List,
    Map,
}

/// Examples by the end of the field path, list indices written `[]`; the
/// longest key that ends the path wins. Every list and map field of the
/// file has one (a field missing here still gets a generic example).
const EXAMPLES: &[(&str, &str)] = &[
    // Top level.
    (
        "listeners",
        "listeners: [{name: web, address: 0.0.0.0:8080}]",
    ),
    ("listeners[]", "- {name: web, address: 0.0.0.0:8080}"),
    (
        "upstreams",
        "upstreams: [{name: app, targets: [{address: 10.0.0.5:80}]}]",
    ),
    (
        "upstreams[]",
        "- {name: app, targets: [{address: 10.0.0.5:80}]}",
    ),
    ("routes", "routes: [{name: home, respond: {body: hello}}]"),
    ("routes[]", "- {name: home, respond: {body: hello}}"),
    ("policies", "policies: {strict: {security_headers: {}}}"),
    ("server", "server: {workers: 2, shutdown_timeout: 30s}"),
    (
        "access_log",
        "access_log: {output: file, path: /var/log/tollgate/access.log}",
    ),
    ("log", "log: {level: info, format: json, output: stderr}"),
    (
        "admin",
        "admin: {address: 127.0.0.1:9901, token: {file: /etc/tollgate/admin.token}}",
    ),
    ("admin.token", "token: {file: /etc/tollgate/admin.token}"),
    (
        "admin.tls",
        "tls: {certificate: admin.pem, key: admin.key, client_ca: operators-ca.pem}",
    ),
    ("defaults", "defaults: {timeout: 30s, max_body: 10MiB}"),
    // Listeners.
    (
        "listeners[].trusted_proxies",
        "trusted_proxies: [10.0.0.0/8]",
    ),
    (
        "listeners[].limits",
        "limits: {max_headers: 100, header_read_timeout: 10s}",
    ),
    ("http2", "http2: {max_concurrent_streams: 100}"),
    ("sni", "sni: [{hosts: [api.example.com], upstream: api}]"),
    ("sni[]", "- {hosts: [api.example.com], upstream: api}"),
    ("sni[].hosts", "hosts: [api.example.com, \"*.example.com\"]"),
    ("proxy_protocol", "proxy_protocol: {trusted: [10.0.0.0/8]}"),
    (
        "proxy_protocol.trusted",
        "trusted: [10.0.0.0/8, 192.168.1.7]",
    ),
    (
        "ip_filter",
        "ip_filter: {allow: [10.0.0.0/8], deny: [10.0.0.66]}",
    ),
    ("ip_filter.allow", "allow: [10.0.0.0/8, 192.168.1.7]"),
    ("ip_filter.deny", "deny: [10.0.0.66, 172.16.0.0/12]"),
    ("per_client", "per_client: {max_connections: 100}"),
    (
        "listeners[].tls",
        "tls: {certificates: [{cert: certs/site.pem, key: certs/site.key}]}",
    ),
    (
        "certificates",
        "certificates: [{cert: certs/site.pem, key: certs/site.key}]",
    ),
    (
        "certificates[]",
        "- {cert: certs/site.pem, key: certs/site.key}",
    ),
    ("alpn", "alpn: [h2, http/1.1]"),
    (
        "client_auth",
        "client_auth: {mode: required, ca: certs/clients.pem}",
    ),
    ("hsts", "hsts: {max_age: 365d, include_subdomains: true}"),
    ("redirect_https", "redirect_https: {port: 443}"),
    // Upstreams.
    ("targets", "targets: [{address: 10.0.0.5:80}]"),
    ("targets[]", "- {address: 10.0.0.5:80, weight: 2}"),
    ("timeouts", "timeouts: {connect: 2s, response_header: 30s}"),
    ("pool", "pool: {max_idle: 32, idle_timeout: 60s}"),
    ("hash_on", "hash_on: {header: X-User-Id}"),
    ("health", "health: {active: {path: /health, interval: 5s}}"),
    (
        "health.active",
        "active: {path: /health, interval: 5s, timeout: 1s}",
    ),
    ("health.active.expect", "expect: [\"200\", 2xx]"),
    (
        "health.passive",
        "passive: {consecutive_failures: 5, eject_for: 30s}",
    ),
    (
        "retries",
        "retries: {attempts: 2, on: [connect_error, 503]}",
    ),
    ("retries.on", "on: [connect_error, reset, 502, 503]"),
    ("backoff", "backoff: {base: 25ms, max: 250ms}"),
    ("circuit_breaker", "circuit_breaker: {max_requests: 1000}"),
    (
        "error_rate",
        "error_rate: {threshold: 50%, min_requests: 20}",
    ),
    ("sticky", "sticky: {cookie: tg_sticky}"),
    ("upstreams[].tls", "tls: {ca: certs/internal-ca.pem}"),
    (
        "client_cert",
        "client_cert: {cert: certs/client.pem, key: certs/client.key}",
    ),
    // Routes.
    ("routes[].listeners", "listeners: [web, websecure]"),
    (
        "match",
        "match: {hosts: [api.example.com], path: {prefix: /api}}",
    ),
    ("match.hosts", "hosts: [api.example.com, \"*.example.com\"]"),
    ("match.path", "path: {prefix: /api}"),
    ("match.methods", "methods: [GET, POST]"),
    ("match.headers", "headers: [{name: X-Env, value: prod}]"),
    ("match.headers[]", "- {name: X-Env, value: prod}"),
    ("match.query", "query: [{name: debug, present: true}]"),
    ("match.query[]", "- {name: debug, present: true}"),
    ("respond", "respond: {status: 200, body: hello}"),
    ("respond.headers", "headers: {Content-Type: text/plain}"),
    (
        "redirect",
        "redirect: {to: https://example.com/, status: 301}",
    ),
    ("static", "static: {root: /var/www}"),
    ("content_types", "content_types: {wasm: application/wasm}"),
    ("rewrite", "rewrite: {strip_prefix: /api}"),
    (
        "rewrite.regex",
        "regex: {pattern: \"^/v1/(.*)\", replace: /$1}",
    ),
    ("forwarding", "forwarding: {x_forwarded: append, via: on}"),
    (
        "forwarding.hide_response_headers",
        "hide_response_headers: [Server, X-Powered-By]",
    ),
    // Policies (lists in routes and defaults, a map of named ones at the top).
    (
        "routes[].policies",
        "policies: [{use: strict}, {compress: {}}]",
    ),
    ("defaults.policies", "policies: [{security_headers: {}}]"),
    ("policies[]", "- {compress: {}}"),
    ("headers", "headers: {request: {set: {X-Env: prod}}}"),
    (
        "headers.request",
        "request: {set: {X-Env: prod}, remove: [X-Debug]}",
    ),
    (
        "headers.response",
        "response: {set: {X-Frame-Options: DENY}}",
    ),
    ("set", "set: {X-Env: prod}"),
    ("add", "add: {Via: tollgate}"),
    ("remove", "remove: [X-Debug, Server]"),
    ("policies[].methods", "methods: [GET, HEAD]"),
    (
        "security_headers",
        "security_headers: {frame_options: DENY}",
    ),
    ("cors", "cors: {allow_origins: [https://app.example.com]}"),
    ("allow_origins", "allow_origins: [https://app.example.com]"),
    ("allow_methods", "allow_methods: [GET, POST]"),
    (
        "allow_headers",
        "allow_headers: [Authorization, Content-Type]",
    ),
    ("expose_headers", "expose_headers: [X-Request-Id]"),
    ("cache", "cache: {max_size: 256MiB}"),
    ("cache.key", "key: {headers: [Accept-Language]}"),
    ("key.headers", "headers: [Accept-Language]"),
    ("key.cookies", "cookies: [session]"),
    ("heuristic", "heuristic: {fraction: 10%, max: 1d}"),
    ("purge", "purge: {allow: [127.0.0.1]}"),
    ("purge.allow", "allow: [127.0.0.1, 10.0.0.0/8]"),
    ("compress", "compress: {algorithms: [zstd, br, gzip]}"),
    ("algorithms", "algorithms: [zstd, br, gzip]"),
    ("compress.types", "types: [text/*, application/json]"),
    ("levels", "levels: {gzip: 6, br: 4}"),
];

/// The message for a serde error at field `path` when it is about a value
/// of the wrong shape; `None` for any other message.
pub(crate) fn explain(path: &str, message: &str) -> Option<String> {
    let shape = if message.starts_with("expected sequence") {
        Shape::List
    } else if message.starts_with("expected mapping") {
        Shape::Map
    } else {
        return None;
    };
    let what = match shape {
        Shape::List => "a list",
        Shape::Map => "a map",
    };
    Some(format!("expected {what}, e.g. {}", example(path, shape)))
}

/// The example for `path`: the table's longest matching key, else one
/// built from the field's name.
fn example(path: &str, shape: Shape) -> String {
    let path = without_indices(path);
    let found = EXAMPLES
        .iter()
        .filter(|(key, _)| ends_with_field(&path, key))
        .max_by_key(|(key, _)| key.len());
    if let Some((_, example)) = found {
        return (*example).to_owned();
    }
    let field = path.rsplit('.').next().unwrap_or_default();
    match (shape, field.strip_suffix("[]")) {
        (Shape::List, Some(_)) => "- [a, b]".into(),
        (Shape::List, None) => format!("{field}: [a, b]"),
        (Shape::Map, Some(_)) => "- {name: value}".into(),
        (Shape::Map, None) => format!("{field}: {{name: value}}"),
    }
}

/// `routes[3].match.headers[0]` → `routes[].match.headers[]`.
fn without_indices(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

/// Whether `key` is the whole of `path` or its end after a `.`.
fn ends_with_field(path: &str, key: &str) -> bool {
    path == key
        || path
            .strip_suffix(key)
            .is_some_and(|head| head.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_key_wins_and_indices_do_not_matter() {
        assert_eq!(
            example("routes[2].match.headers", Shape::List),
            "headers: [{name: X-Env, value: prod}]"
        );
        assert_eq!(
            example("routes[0].respond.headers", Shape::Map),
            "headers: {Content-Type: text/plain}"
        );
        assert_eq!(
            example("upstreams[4].targets[1]", Shape::Map),
            "- {address: 10.0.0.5:80, weight: 2}"
        );
        // `policies` alone is the top-level map; in a route it is a list.
        assert_eq!(
            example("policies", Shape::Map),
            "policies: {strict: {security_headers: {}}}"
        );
        assert_eq!(
            example("routes[0].policies", Shape::List),
            "policies: [{use: strict}, {compress: {}}]"
        );
    }

    #[test]
    fn fields_missing_from_the_table_get_a_generic_example() {
        assert_eq!(example("x.new_list", Shape::List), "new_list: [a, b]");
        assert_eq!(example("x.new_map", Shape::Map), "new_map: {name: value}");
        assert_eq!(example("x.items[0]", Shape::Map), "- {name: value}");
        assert_eq!(explain("a", "unknown field `b`"), None);
    }
}
