//! Accepting PROXY protocol headers on a listener (`proxy_protocol.trusted`):
//! used by HTTP and TCP listeners alike.

use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio::time::Instant;
use tollgate_net::ProxyAddresses;

use crate::server::ListenerCtx;

/// Reads the PROXY header a connection from a trusted peer must start
/// with, by `deadline`: the connection's `header_read_timeout` from
/// accept, which also bounds what the header precedes (a request head, a
/// ClientHello), so the header buys a slow client no extra time. `Ok(Some(_))`: the
/// original endpoints; `Ok(None)`: the peer is not trusted (nothing was
/// read) or its header names no addresses (`LOCAL`, `UNKNOWN`), so the
/// connection's own apply; `Err(())`: close the connection (no valid
/// header in time), already logged.
pub(crate) async fn accept_proxy_header(
    stream: &mut TcpStream,
    peer: SocketAddr,
    ctx: &ListenerCtx,
    deadline: Instant,
) -> Result<Option<ProxyAddresses>, ()> {
    if !ctx.expects_proxy_header(peer.ip()) {
        return Ok(None);
    }
    let read = tollgate_net::proxy_protocol::read_header(stream);
    match tokio::time::timeout_at(deadline, read).await {
        Ok(Ok(header)) => Ok(header.addresses),
        Ok(Err(e)) => {
            tracing::debug!(%peer, "closing: {e}");
            Err(())
        }
        Err(_) => {
            tracing::debug!(%peer, "closing: no PROXY protocol header within header_read_timeout");
            Err(())
        }
    }
}
