//! Forwarding rules of RFC 9110 §7.6: hop-by-hop fields removed, proxy
//! headers (X-Forwarded-*, Forwarded, Via) written, request ids passed on.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use tollgate_config::{ClientAuth, ForwardMode, Forwarding};
use tollgate_net::tls::CertNames;

/// What the pipeline knows about the client connection.
#[derive(Debug, Clone)]
pub(crate) struct ClientInfo {
    /// The peer address of the connection.
    pub(crate) peer: SocketAddr,
    /// Whether the peer is a trusted proxy (its forwarding headers are kept).
    pub(crate) trusted: bool,
    /// `http` or `https`.
    pub(crate) proto: &'static str,
    /// The verified client certificate (mTLS), for policies and upstreams.
    pub(crate) cert: Option<Arc<ClientCert>>,
}

/// The identity in a verified client certificate.
#[derive(Debug)]
pub(crate) struct ClientCert {
    /// Subject and alternative names, for policies that authorise by
    /// client identity (`mtls_auth`); upstreams get them as headers.
    pub(crate) names: CertNames,
    /// `names.subject` as a header value.
    subject: Option<HeaderValue>,
    /// The alternative names as a header value (`DNS:a, URI:b`).
    alt_names: Option<HeaderValue>,
}

impl ClientCert {
    /// The identity in a DER certificate; `None` when its names cannot be read.
    pub(crate) fn from_der(der: &[u8]) -> Option<Self> {
        let names = CertNames::from_der(der)?;
        let alt = names.alt_names_line();
        Some(Self {
            subject: HeaderValue::from_str(&names.subject).ok(),
            alt_names: (!alt.is_empty())
                .then(|| HeaderValue::from_str(&alt).ok())
                .flatten(),
            names,
        })
    }
}

/// The client certificate headers: every configured name is removed (a
/// client must not forge them, on any listener), then the identity of this
/// connection's verified certificate is written under its listener's names.
pub(crate) fn client_cert_headers(
    headers: &mut HeaderMap,
    strip: &[HeaderName],
    auth: Option<&ClientAuth>,
    cert: Option<&ClientCert>,
) {
    for name in strip {
        headers.remove(name);
    }
    let (Some(auth), Some(cert)) = (auth, cert) else {
        return;
    };
    if let Some(v) = &cert.subject {
        headers.insert(&auth.subject_header, v.clone());
    }
    if let Some(v) = &cert.alt_names {
        headers.insert(&auth.san_header, v.clone());
    }
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
const VIA_VALUE: &str = "1.1 tollgate";

/// The request fields tollgate sets or strips on the way upstream, besides
/// those a configuration names (request id, client certificate fields):
/// forwarding fields, framing and hop-by-hop fields. A client field whose
/// name differs from one of these only by `_` for `-` (CGI/WSGI upstreams
/// fold one into the other) is always removed, whatever the listener's
/// `keep_underscore_headers`. Add a name here whenever tollgate starts
/// setting or stripping one (e.g. the gateway's `x-consumer-name`,
/// `x-consumer-groups`). Lowercase, as `HeaderName`s are.
pub(crate) const MANAGED_FIELDS: &[&str] = &[
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "via",
    "x-request-id",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
];

/// Whether `name` (which contains `_`) is one of [`MANAGED_FIELDS`] or
/// `extra` with `_` written for `-`; case does not matter (names are
/// lowercase already).
pub(crate) fn is_managed_lookalike<'a>(
    name: &HeaderName,
    extra: impl IntoIterator<Item = &'a HeaderName>,
) -> bool {
    let folds_to = |managed: &str| {
        let (a, b) = (name.as_str().as_bytes(), managed.as_bytes());
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.eq_ignore_ascii_case(y) || (*x == b'_' && *y == b'-'))
    };
    MANAGED_FIELDS.iter().any(|m| folds_to(m)) || extra.into_iter().any(|m| folds_to(m.as_str()))
}

/// The Via entry for a message received with `version` (RFC 9110 §7.6.3).
fn via_for(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_10 => "1.0 tollgate",
        http::Version::HTTP_2 => "2 tollgate",
        _ => VIA_VALUE,
    }
}

/// Removes the hop-by-hop fields of a message: Connection and every field it
/// names, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade (kept when the
/// message is an upgrade) and Proxy-*. Content-Length goes too unless
/// `keep_length` (HEAD and 304 answers carry the length of a body not sent);
/// otherwise the sender on the other side sets framing itself.
///
/// Returns whether the message carried `TE: trailers`, the one TE value an
/// HTTP/2 hop may pass on (RFC 9113 §8.2.2; gRPC servers require it).
pub(crate) fn strip_hop_by_hop(
    headers: &mut HeaderMap,
    keep_upgrade: bool,
    keep_length: bool,
) -> bool {
    // One pass over the names finds the few fields present; a lookup per
    // possible field would hash ten names for every message.
    let mut present: [Option<HeaderName>; 10] = Default::default();
    let mut count = 0;
    let mut te_trailers = false;
    for name in headers.keys() {
        let hop = is_hop_by_hop(name)
            && !(keep_length && name == header::CONTENT_LENGTH)
            && !(keep_upgrade && name == header::UPGRADE);
        if hop && name == header::TE {
            // Only read when a TE field is present: the common message pays nothing.
            te_trailers = te_names_trailers(headers);
        }
        if hop
            && count < present.len()
            && !present[..count].iter().any(|p| p.as_ref() == Some(name))
        {
            present[count] = Some(name.clone());
            count += 1;
        }
    }
    if let Some(conn) = headers.get(header::CONNECTION) {
        if conn.as_bytes() != b"close" && conn.as_bytes() != b"keep-alive" {
            let named: Vec<HeaderName> = headers
                .get_all(header::CONNECTION)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
                .filter(|n| !(keep_upgrade && n == header::UPGRADE))
                .filter(|n| !(keep_length && n == header::CONTENT_LENGTH))
                .collect();
            for name in named {
                headers.remove(name);
            }
        }
    }
    for name in present.iter().take(count).flatten() {
        headers.remove(name);
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    te_trailers
}

/// Whether the TE fields list `trailers`.
fn te_names_trailers(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::TE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"trailers"))
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TE
        || name == header::TRAILER
        || name == header::TRANSFER_ENCODING
        || name == header::CONTENT_LENGTH
        || name == header::UPGRADE
        || name == header::PROXY_AUTHORIZATION
        || name == header::PROXY_AUTHENTICATE
        || name == KEEP_ALIVE
        || name == PROXY_CONNECTION
}

/// Applies the route's forwarding rules to a request about to go upstream.
/// `host` is the Host the client asked for (with port, as sent).
pub(crate) fn request_headers(
    headers: &mut HeaderMap,
    rules: &Forwarding,
    client: &ClientInfo,
    host: &str,
    version: http::Version,
) {
    let ip = client.peer.ip();
    match rules.x_forwarded {
        ForwardMode::Off => {}
        mode => {
            let keep = mode == ForwardMode::Append && client.trusted;
            append_or_set(headers, &X_FORWARDED_FOR, &ip.to_string(), keep);
            if !(keep && headers.contains_key(&X_FORWARDED_PROTO)) {
                headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static(client.proto));
            }
            if !(keep && headers.contains_key(&X_FORWARDED_HOST)) {
                if let Ok(v) = HeaderValue::from_str(host) {
                    headers.insert(&X_FORWARDED_HOST, v);
                }
            }
        }
    }
    match rules.forwarded {
        ForwardMode::Off => {}
        mode => {
            let keep = mode == ForwardMode::Append && client.trusted;
            let element = forwarded_element(ip, client.proto, host);
            append_or_set(headers, &header::FORWARDED, &element, keep);
        }
    }
    if rules.via {
        append_or_set(headers, &header::VIA, via_for(version), true);
    }
}

/// Applies the route's rules to an upstream response on its way to the client.
pub(crate) fn response_headers(headers: &mut HeaderMap, rules: &Forwarding) {
    for name in &rules.hide_response_headers {
        headers.remove(name);
    }
    if rules.via {
        append_or_set(headers, &header::VIA, VIA_VALUE, true);
    }
}

/// An RFC 7239 element: `for=...;proto=...;host=...`, quoting where needed.
fn forwarded_element(ip: IpAddr, proto: &str, host: &str) -> String {
    let for_value = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("\"[{v6}]\""),
    };
    let host_is_token = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'*+^`|".contains(&b));
    if host_is_token {
        format!("for={for_value};proto={proto};host={host}")
    } else {
        let escaped = host.replace('\\', "\\\\").replace('"', "\\\"");
        format!("for={for_value};proto={proto};host=\"{escaped}\"")
    }
}

/// Appends `value` to the field's existing values as one comma list when
/// `keep`, or replaces them.
fn append_or_set(headers: &mut HeaderMap, name: &HeaderName, value: &str, keep: bool) {
    let combined = if keep {
        let existing: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if existing.is_empty() {
            value.to_owned()
        } else {
            format!("{}, {value}", existing.join(", "))
        }
    } else {
        value.to_owned()
    };
    if let Ok(v) = HeaderValue::from_str(&combined) {
        headers.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_config::HostRewrite;

    fn rules(x: ForwardMode, fwd: ForwardMode) -> Forwarding {
        Forwarding {
            x_forwarded: x,
            forwarded: fwd,
            via: true,
            host: HostRewrite::Preserve,
            hide_response_headers: vec![HeaderName::from_static("server")],
            request_id_header: HeaderName::from_static("x-request-id"),
            upgrades: vec!["websocket".into()],
            refuse_underscore_headers: false,
        }
    }

    fn client(trusted: bool) -> ClientInfo {
        ClientInfo {
            peer: "10.0.0.9:4000".parse().unwrap(),
            trusted,
            proto: "http",
            cert: None,
        }
    }

    #[test]
    fn connection_named_fields_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, X-Secret, te"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        h.insert("proxy-authorization", HeaderValue::from_static("Basic x"));
        h.insert("x-keep", HeaderValue::from_static("1"));
        assert!(strip_hop_by_hop(&mut h, false, false), "TE: trailers seen");
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("x-keep"));
    }

    #[test]
    fn te_trailers_is_reported_only_when_listed() {
        let mut h = HeaderMap::new();
        h.insert("te", HeaderValue::from_static("gzip;q=0.5, Trailers"));
        assert!(strip_hop_by_hop(&mut h, false, false));
        assert!(!h.contains_key("te"));
        h.insert("te", HeaderValue::from_static("gzip"));
        assert!(!strip_hop_by_hop(&mut h, false, false));
        assert!(!strip_hop_by_hop(&mut HeaderMap::new(), false, false));
    }

    #[test]
    fn upgrade_survives_on_upgrade_requests() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("Upgrade"));
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        strip_hop_by_hop(&mut h, true, false);
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["connection"], "upgrade");
    }

    #[test]
    fn untrusted_forwarded_for_is_replaced() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
        request_headers(
            &mut h,
            &rules(ForwardMode::Append, ForwardMode::Off),
            &client(false),
            "a.com",
            http::Version::HTTP_11,
        );
        assert_eq!(h["x-forwarded-for"], "10.0.0.9");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "a.com");
        assert_eq!(h["via"], "1.1 tollgate");
    }

    #[test]
    fn trusted_forwarded_for_is_appended() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
        h.insert("forwarded", HeaderValue::from_static("for=1.2.3.4"));
        request_headers(
            &mut h,
            &rules(ForwardMode::Append, ForwardMode::Append),
            &client(true),
            "a.com:80",
            http::Version::HTTP_11,
        );
        assert_eq!(h["x-forwarded-for"], "1.2.3.4, 10.0.0.9");
        assert_eq!(
            h["forwarded"],
            "for=1.2.3.4, for=10.0.0.9;proto=http;host=\"a.com:80\""
        );
    }

    #[test]
    fn replace_mode_ignores_trust() {
        let mut h = HeaderMap::new();
        h.insert("forwarded", HeaderValue::from_static("for=1.2.3.4"));
        request_headers(
            &mut h,
            &rules(ForwardMode::Off, ForwardMode::Replace),
            &client(true),
            "a.com",
            http::Version::HTTP_11,
        );
        assert_eq!(h["forwarded"], "for=10.0.0.9;proto=http;host=a.com");
        assert!(!h.contains_key("x-forwarded-for"));
    }

    #[test]
    fn ipv6_forwarded_is_quoted() {
        assert_eq!(
            forwarded_element("::1".parse().unwrap(), "https", "h"),
            "for=\"[::1]\";proto=https;host=h"
        );
    }

    #[test]
    fn hidden_response_headers_go() {
        let mut h = HeaderMap::new();
        h.insert("server", HeaderValue::from_static("apache"));
        response_headers(&mut h, &rules(ForwardMode::Off, ForwardMode::Off));
        assert!(!h.contains_key("server"));
        assert_eq!(h["via"], "1.1 tollgate");
    }
}
