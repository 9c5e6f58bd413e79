//! Connections on HTTPS listeners: the TLS handshake (bounded by the
//! listener's handshake timeout, failures closed quietly), then HTTP/2 or
//! HTTP/1.1 as ALPN chose, with the verified client certificate's identity.

use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tollgate_net::tls::{is_h2, ServerTls};
use tollgate_net::InboundStream;

use super::{h1, h2, ListenerCtx};
use crate::forward::{ClientCert, ClientInfo};
use crate::metrics_edge::Handshake;
use crate::snapshot::Worker;

/// Serves one connection accepted at `accepted`: plain HTTP directly,
/// HTTPS after the handshake. The time limits count from accept (a PROXY
/// header read before counts too): `header_read_timeout` for a plain
/// connection's first request head, `handshake_timeout` for the handshake,
/// after which the first head has its own `header_read_timeout`.
pub(crate) async fn serve(
    tcp: TcpStream,
    accepted: Instant,
    client: ClientInfo,
    ctx: Arc<ListenerCtx>,
    worker: Arc<Worker>,
    shutdown: watch::Receiver<bool>,
) {
    match ctx.tls.clone() {
        None => {
            let first_head_by = accepted + ctx.limits.header_read_timeout;
            let stream = InboundStream::Plain(tcp);
            h1::serve(stream, first_head_by, client, ctx, worker, shutdown).await;
        }
        // Boxed: the handshake state is large and plain connections never need it.
        Some(tls) => Box::pin(serve_tls(tcp, accepted, tls, client, ctx, worker, shutdown)).await,
    }
}

async fn serve_tls(
    tcp: TcpStream,
    accepted: Instant,
    tls: Arc<ServerTls>,
    mut client: ClientInfo,
    ctx: Arc<ListenerCtx>,
    worker: Arc<Worker>,
    shutdown: watch::Receiver<bool>,
) {
    let peer = client.peer;
    let accept = tls.accept(tcp);
    let stream = tokio::select! {
        done = tokio::time::timeout_at(accepted + tls.handshake_timeout, accept) => match done {
            Ok(Ok(stream)) => stream,
            // Scanners, old clients and clients refusing our certificate:
            // routine on the internet, not worth more than a debug line.
            Ok(Err(e)) => {
                tracing::debug!(%peer, "TLS handshake failed: {e}");
                worker.metrics.carried().edge.handshake(Handshake::Failed);
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                worker.metrics.carried().edge.handshake(Handshake::TimedOut);
                return;
            }
        },
        // A client accepted just before a shutdown (or an upgrade's
        // hand-over) still gets a moment to finish its handshake.
        () = async {
            super::stopping(shutdown.clone()).await;
            tokio::time::sleep(super::h1::FIRST_REQUEST_GRACE).await;
        } => return,
    };
    let conn = stream.get_ref().1;
    let version = conn.protocol_version().map(u16::from);
    worker
        .metrics
        .carried()
        .edge
        .handshake(Handshake::Ok(version));
    let h2 = is_h2(conn.alpn_protocol());
    client.cert = conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|der| ClientCert::from_der(der))
        .map(Arc::new);
    let stream = InboundStream::Tls(Box::new(stream));
    if h2 {
        Box::pin(h2::serve(stream, Vec::new(), client, ctx, worker, shutdown)).await;
    } else {
        let first_head_by = Instant::now() + ctx.limits.header_read_timeout;
        h1::serve(stream, first_head_by, client, ctx, worker, shutdown).await;
    }
}
