//! Sockets and the byte-level protocols around them: listening sockets
//! shared by worker threads through SO_REUSEPORT (TCP and UDP), an I/O
//! adapter that replays bytes already read during protocol sniffing, the L4
//! byte relay, the PROXY protocol (v1 and v2), and the TLS ClientHello
//! reader that finds the server name for SNI routing without terminating TLS,
//! connections that may carry TLS, and TLS itself (`tls`); listening sockets
//! inherited from a replaced process or from systemd (`inherit`).

pub mod client_hello;
pub mod inherit;
mod listen;
pub mod proxy_protocol;
mod relay;
mod rewind;
mod stream;
pub mod tls;

pub use client_hello::{read_server_name, sniff_server_name, ClientHelloError, Sniffed};
pub use inherit::{HandedSocket, Inherited, Origin, SocketKind};
pub use listen::{bind_group, bind_udp_group, set_nodelay};
pub use proxy_protocol::{ProxyAddresses, ProxyHeader, ProxyHeaderError, ProxyVersion};
pub use relay::{
    relay, RelayConfig, RelayEnd, RelayOutcome, RELAY_INITIAL_BUFFER, RELAY_MAX_BUFFER,
};
pub use rewind::Rewind;
pub use stream::{InboundStream, MaybeTls, OutboundStream, OverTcp};
