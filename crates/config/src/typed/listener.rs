//! Listeners: address, protocol, HTTP limits, and where an L4 listener
//! relays to.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::{EncodedSlash, HostPattern, Hsts, HttpsRedirect, IpFilter, ListenerTls, PerClient};

/// Protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerProtocol {
    /// HTTP/1.1 and HTTP/2 cleartext with prior knowledge, told apart by the connection preface.
    Http,
    /// A TCP byte relay to an upstream (L4).
    Tcp,
    /// TLS relayed without terminating it, to an upstream chosen by the
    /// ClientHello's server name (L4).
    TlsPassthrough,
    /// A UDP datagram relay with per-client sessions (L4).
    Udp,
    /// HTTP/1.1 and HTTP/2 over TLS, chosen by ALPN.
    Https,
}

impl ListenerProtocol {
    /// The name as written in the configuration, e.g. `tls_passthrough`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Tcp => "tcp",
            Self::TlsPassthrough => "tls_passthrough",
            Self::Udp => "udp",
        }
    }

    /// Whether the listener relays bytes or datagrams (no HTTP, no routes).
    pub fn is_l4(&self) -> bool {
        matches!(self, Self::Tcp | Self::TlsPassthrough | Self::Udp)
    }
}

/// One listening socket and the HTTP limits that apply on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Unique name; routes may restrict themselves to listeners by name.
    pub name: String,
    /// Address to bind.
    pub address: SocketAddr,
    /// Protocol spoken.
    pub protocol: ListenerProtocol,
    /// Peers whose X-Forwarded-* / Forwarded headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Request-head and connection limits.
    pub limits: HttpLimits,
    /// HTTP/2 specific limits.
    pub http2: Http2Limits,
    /// Peers that must open every connection with a PROXY protocol header
    /// (v1 or v2), whose client address then replaces theirs; empty when
    /// the listener reads no PROXY headers.
    pub proxy_protocol: Vec<IpNet>,
    /// Where an L4 listener relays to: `Some` exactly for `tcp`,
    /// `tls_passthrough` and `udp` listeners.
    pub l4: Option<L4Listener>,
    /// Client addresses refused at accept (the connection is closed unread).
    pub ip_filter: Option<IpFilter>,
    /// Connection and request-rate caps per client address.
    pub per_client: Option<PerClient>,
    /// Normalize request paths before routing (dot segments, escapes, `//`).
    pub normalize_path: bool,
    /// What normalization does with `%2F`, `%5C` and `\`.
    pub encoded_slash: EncodedSlash,
    /// Request fields whose names contain `_` are forwarded (default: dropped).
    pub keep_underscore_headers: bool,
    /// TLS termination: `Some` exactly when `protocol` is `Https`.
    pub tls: Option<ListenerTls>,
    /// HSTS header on every answer (HTTPS listeners only).
    pub hsts: Option<Hsts>,
    /// Every request is redirected to HTTPS (HTTP listeners only).
    pub redirect_https: Option<HttpsRedirect>,
}

/// What an L4 (`tcp`, `tls_passthrough`, `udp`) listener relays to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L4Listener {
    /// The upstream (index into `Config::upstreams`): always set for `tcp`
    /// and `udp`; for `tls_passthrough` the one used when no `sni` route
    /// matches (`None`: such connections are closed).
    pub upstream: Option<usize>,
    /// `tls_passthrough` only: server name routes, most specific match wins.
    pub sni: Vec<SniRoute>,
    /// A relay (TCP) or session (UDP) ends after this long without traffic.
    pub idle_timeout: Duration,
    /// `udp` only: most client sessions at once (per process).
    pub max_sessions: usize,
    /// One access log line per connection (UDP: per session) when it ends.
    pub access_log: bool,
}

/// A `tls_passthrough` route: server names and the upstream they go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniRoute {
    /// Exact names and `*.` wildcards, lowercase.
    pub hosts: Vec<HostPattern>,
    /// Index into `Config::upstreams`.
    pub upstream: usize,
}

/// Limits on requests and connections accepted by a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest request head (request line + headers) in bytes; larger is 431.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more is 431.
    pub max_headers: usize,
    /// Longest request target in bytes; longer is 414.
    pub max_uri_length: usize,
    /// Time allowed to receive a whole request head (slowloris guard); 408 after.
    pub header_read_timeout: Duration,
    /// How long an idle keep-alive connection is kept open.
    pub keepalive_timeout: Duration,
    /// Longest a write to a client may wait for it to take the bytes
    /// (slow readers); for HTTP/2 also how long a PING may go unanswered.
    pub send_timeout: Duration,
    /// Fewest bytes per second a client must take while an answer is
    /// written to it, over each `send_rate_window` of time spent waiting on
    /// it (slow readers that read a few bytes at a time); 0 turns it off.
    pub min_send_rate: u64,
    /// The span over which `min_send_rate` is judged.
    pub send_rate_window: Duration,
    /// Most open client connections on this listener (per process); further ones wait in the backlog.
    pub max_connections: usize,
}

/// HTTP/2 limits of a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http2Limits {
    /// SETTINGS_MAX_CONCURRENT_STREAMS advertised and enforced.
    pub max_concurrent_streams: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE advertised and enforced.
    pub max_header_list_size: u32,
    /// Stream resets a client may cause on one connection before it is closed (rapid reset).
    pub max_pending_resets: usize,
}
