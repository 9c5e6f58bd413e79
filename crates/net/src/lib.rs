//! Sockets: listening sockets shared by worker threads through SO_REUSEPORT,
//! an I/O adapter that replays bytes already read during protocol sniffing,
//! connections that may carry TLS, and TLS itself (`tls`).

mod listen;
mod rewind;
mod stream;
pub mod tls;

pub use listen::{bind_group, set_nodelay};
pub use rewind::Rewind;
pub use stream::{InboundStream, MaybeTls, OutboundStream, OverTcp};
