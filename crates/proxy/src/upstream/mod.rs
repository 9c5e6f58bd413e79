//! The upstream client: pooled HTTP/1.1 connections and shared HTTP/2
//! sessions per target, one set per worker thread, cleartext or TLS.

mod body;
mod h1;
mod h2;
mod pool;
mod resolve;
pub(crate) mod tls;

pub use body::UpstreamBody;
pub(crate) use h1::{exchange, OutgoingRequest};
pub(crate) use h2::{
    describe as describe_h2_error, send as h2_send, H2Sender, H2Session, RelayCount,
};
pub(crate) use pool::{ConnectionLimit, PooledConn, TargetPool};
pub(crate) use resolve::{start_resolver, TargetAddrs};
