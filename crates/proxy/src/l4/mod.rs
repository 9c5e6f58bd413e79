//! L4 listeners: bytes and datagrams relayed to an upstream's targets with
//! the same balancers, health state and in-flight counts as HTTP.
//!
//! ```text
//! tcp / tls_passthrough:
//!   accept (max_connections permit)
//!     -> admission (ip_filter, per_client), PROXY header from a trusted peer
//!        (proxy_header.rs; one header_read_timeout from accept with the ClientHello)
//!     -> tls_passthrough: read the ClientHello, route by server name (sni.rs)
//!     -> pick a target, connect, failover on connect errors (connect.rs)
//!     -> PROXY header to the target (upstream `proxy_protocol`), replay sniffed bytes
//!     -> tollgate_net::relay until both sides are done or idle_timeout
//! udp:
//!   datagram -> the client's session (new: admission, max_sessions permit, pick,
//!               connected socket)
//!     -> target; replies -> the listener socket -> the client (udp.rs)
//! ```
//!
//! Each relayed connection and each UDP session holds an `InFlightTicket`
//! (so `least_connections` sees them) and counts as active for the drain
//! on shutdown.

mod connect;
mod proxy_header;
mod sni;
mod tcp;
mod udp;

pub(crate) use proxy_header::accept_proxy_header;
pub(crate) use tcp::accept_loop;
pub(crate) use udp::serve_udp;
