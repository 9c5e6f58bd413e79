//! Validation of listeners: address, trusted proxies, limits, and the
//! connection-level security settings (IP filter, per-client caps, path
//! normalization; their details are in `security.rs`).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::str::FromStr;
use std::time::Duration;

use super::{net, p, Ctx, Loc};
use crate::raw::*;
use crate::typed::*;

/// Returns the listener, its name when valid, and the address location
/// (`None` when the address is missing or invalid).
pub(super) fn listener(
    ctx: &mut Ctx<'_>,
    item: &Sp<RawListener>,
    path: &str,
) -> (Listener, Option<String>, Option<Loc>) {
    let raw = &item.value;
    let here = ctx.at(item);
    let name = ctx
        .required(&raw.name, here, &p(path, "name"))
        .and_then(|n| {
            let ok = n
                .value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                let loc = ctx.at(n);
                ctx.err(
                    loc,
                    &p(path, "name"),
                    format!(
                        "invalid listener name `{}`: use letters, digits, `_` and `-` only",
                        n.value
                    ),
                );
            }
            ok.then(|| n.value.clone())
        });
    let mut address = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
    let mut addr_loc = None;
    if let Some(a) = ctx.required(&raw.address, here, &p(path, "address")) {
        match SocketAddr::from_str(&a.value) {
            Ok(addr) => {
                address = addr;
                addr_loc = Some(ctx.at(a));
            }
            Err(_) => {
                let loc = ctx.at(a);
                ctx.err(
                    loc,
                    &p(path, "address"),
                    format!(
                        "invalid address `{}`: expected ip:port such as `127.0.0.1:8080`, `0.0.0.0:80` or `\"[::1]:8080\"` (host names are not allowed)",
                        a.value
                    ),
                );
            }
        }
    }
    let protocol = ctx.field(
        &raw.protocol,
        &p(path, "protocol"),
        ListenerProtocol::Http,
        |s| match s {
            "http" => Ok(ListenerProtocol::Http),
            "https" => Ok(ListenerProtocol::Https),
            "tcp" => Ok(ListenerProtocol::Tcp),
            "tls_passthrough" => Ok(ListenerProtocol::TlsPassthrough),
            "udp" => Ok(ListenerProtocol::Udp),
            _ => Err(format!(
                "unsupported protocol `{s}`: expected `http`, `https`, `tcp`, `tls_passthrough` or `udp`"
            )),
        },
    );
    let trusted_proxies = raw
        .trusted_proxies
        .as_ref()
        .map(|list| ctx.each(list, &p(path, "trusted_proxies"), net))
        .unwrap_or_default();
    let limits = limits(ctx, raw.limits.as_ref(), &p(path, "limits"));
    let http2 = http2(ctx, raw.http2.as_ref(), &p(path, "http2"));
    let ip_filter = raw
        .ip_filter
        .as_ref()
        .map(|f| super::security::ip_filter(ctx, f, &p(path, "ip_filter")));
    let per_client = raw
        .per_client
        .as_ref()
        .map(|c| super::security::per_client(ctx, c, &p(path, "per_client")));
    let normalize_path = ctx.field(
        &raw.normalize_path,
        &p(path, "normalize_path"),
        true,
        crate::units::parse_bool,
    );
    let encoded_slash = ctx.field(
        &raw.encoded_slash,
        &p(path, "encoded_slash"),
        EncodedSlash::Keep,
        super::security::encoded_slash,
    );
    let keep_underscore_headers = ctx.field(
        &raw.keep_underscore_headers,
        &p(path, "keep_underscore_headers"),
        false,
        crate::units::parse_bool,
    );
    let (tls, hsts, redirect_https) =
        super::tls::listener_parts(ctx, raw, here, path, protocol, &limits);
    let listener = Listener {
        name: name.clone().unwrap_or_default(),
        address,
        protocol,
        trusted_proxies,
        limits,
        http2,
        // Filled in by `l4::listeners` once upstreams are known.
        proxy_protocol: Vec::new(),
        l4: None,
        ip_filter,
        per_client,
        normalize_path,
        encoded_slash,
        keep_underscore_headers,
        tls,
        hsts,
        redirect_https,
    };
    (listener, name, addr_loc)
}

fn limits(ctx: &mut Ctx<'_>, raw: Option<&Sp<RawLimits>>, path: &str) -> HttpLimits {
    let mut l = HttpLimits {
        max_header_bytes: 16 << 10,
        max_headers: 100,
        max_uri_length: 8 << 10,
        header_read_timeout: Duration::from_secs(10),
        keepalive_timeout: Duration::from_secs(75),
        send_timeout: Duration::from_secs(60),
        min_send_rate: 1 << 10,
        send_rate_window: Duration::from_secs(30),
        max_connections: 10_000,
    };
    let Some(raw) = raw else { return l };
    let raw = &raw.value;
    let max = usize::MAX as u64;
    l.max_header_bytes = ctx.size(
        &raw.max_header_bytes,
        &p(path, "max_header_bytes"),
        l.max_header_bytes as u64,
        1 << 10,
        max,
    ) as usize;
    l.max_headers = ctx.count(
        &raw.max_headers,
        &p(path, "max_headers"),
        l.max_headers as u64,
        1,
        max,
    ) as usize;
    l.max_uri_length = ctx.size(
        &raw.max_uri_length,
        &p(path, "max_uri_length"),
        l.max_uri_length as u64,
        1,
        max,
    ) as usize;
    l.header_read_timeout = ctx.timeout(
        &raw.header_read_timeout,
        &p(path, "header_read_timeout"),
        l.header_read_timeout,
    );
    l.keepalive_timeout = ctx.timeout(
        &raw.keepalive_timeout,
        &p(path, "keepalive_timeout"),
        l.keepalive_timeout,
    );
    l.send_timeout = ctx.timeout(&raw.send_timeout, &p(path, "send_timeout"), l.send_timeout);
    l.min_send_rate = ctx.size(
        &raw.min_send_rate,
        &p(path, "min_send_rate"),
        l.min_send_rate,
        0,
        u64::from(u32::MAX),
    );
    l.send_rate_window = ctx.timeout(
        &raw.send_rate_window,
        &p(path, "send_rate_window"),
        l.send_rate_window,
    );
    l.max_connections = ctx.count(
        &raw.max_connections,
        &p(path, "max_connections"),
        l.max_connections as u64,
        1,
        max,
    ) as usize;
    l
}

fn http2(ctx: &mut Ctx<'_>, raw: Option<&Sp<RawHttp2>>, path: &str) -> Http2Limits {
    let mut h = Http2Limits {
        max_concurrent_streams: 100,
        max_header_list_size: 16 << 10,
        max_pending_resets: 100,
    };
    let Some(raw) = raw else { return h };
    let raw = &raw.value;
    let u32max = u64::from(u32::MAX);
    h.max_concurrent_streams = ctx.count(
        &raw.max_concurrent_streams,
        &p(path, "max_concurrent_streams"),
        100,
        1,
        u32max,
    ) as u32;
    h.max_header_list_size = ctx.size(
        &raw.max_header_list_size,
        &p(path, "max_header_list_size"),
        16 << 10,
        1 << 10,
        u32max,
    ) as u32;
    h.max_pending_resets = ctx.count(
        &raw.max_pending_resets,
        &p(path, "max_pending_resets"),
        100,
        1,
        usize::MAX as u64,
    ) as usize;
    h
}
