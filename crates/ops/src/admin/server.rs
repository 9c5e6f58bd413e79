//! The admin listener: one thread (`tollgate-admin`) with a single-threaded
//! tokio runtime, serving HTTP/1.1 connections with hyper.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::dashboard::ring::{Sample, INTERVAL};
use super::routes::{answer, Shared};
use super::AdminBackend;

/// A running admin listener; [`AdminServer::stop`] ends it.
#[derive(Debug)]
pub struct AdminServer {
    address: SocketAddr,
    /// A duplicate of the listening socket, for an upgrade's hand-over.
    socket: std::net::TcpListener,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl AdminServer {
    /// Binds `address` now (so a bind error is the caller's to report) and
    /// serves the admin API on a thread of its own. With `token`, every
    /// request must carry `Authorization: Bearer <token>` (but `/metrics`
    /// when `metrics_public`).
    pub fn start(
        address: SocketAddr,
        token: Option<String>,
        backend: Arc<dyn AdminBackend>,
        metrics_public: bool,
    ) -> io::Result<Self> {
        Self::start_with_tls(address, token, backend, metrics_public, None)
    }

    /// [`AdminServer::start`], speaking HTTPS with `tls` when given: with
    /// a client certificate verifier in it (`admin.tls.client_ca`), a
    /// caller without a certificate from those CAs cannot even connect.
    pub fn start_with_tls(
        address: SocketAddr,
        token: Option<String>,
        backend: Arc<dyn AdminBackend>,
        metrics_public: bool,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind(address)?;
        Self::start_on(listener, token, backend, metrics_public, tls)
    }

    /// [`AdminServer::start`] on a socket already listening (inherited
    /// from the process this one replaces, or from systemd).
    pub fn start_on(
        listener: std::net::TcpListener,
        token: Option<String>,
        backend: Arc<dyn AdminBackend>,
        metrics_public: bool,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let socket = listener.try_clone()?;
        let address = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            token,
            backend,
            metrics_public,
            ring: Default::default(),
        });
        let thread = std::thread::Builder::new()
            .name("tollgate-admin".into())
            .spawn(move || runtime.block_on(serve(listener, shared, tls, stopped)))?;
        Ok(Self {
            address,
            socket,
            stop,
            thread: Some(thread),
        })
    }

    /// The bound address (the port the OS chose when given port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The listening socket, for an upgrade's hand-over.
    pub fn socket(&self) -> &std::net::TcpListener {
        &self.socket
    }

    /// Stops accepting and waits for the thread; open admin connections
    /// are dropped (answers in progress are not waited for).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Accepts until `stopped` turns true; each connection is a task.
async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut stopped: watch::Receiver<bool>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "admin listener cannot start");
            return;
        }
    };
    tokio::spawn(sample(shared.clone()));
    loop {
        let (stream, _) = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!(error = %e, "admin accept failed");
                    continue;
                }
            },
        };
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Some(acceptor) = acceptor else {
                return connection(stream, shared).await;
            };
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => connection(tls, shared).await,
                // No certificate, one from another CA, or not TLS at all.
                Ok(Err(e)) => tracing::debug!(error = %e, "admin TLS handshake failed"),
                Err(_) => tracing::debug!("admin TLS handshake timed out"),
            }
        });
    }
}

/// Longest an admin TLS handshake may take.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves HTTP/1.1 admin requests on one connection until it closes.
async fn connection<S>(stream: S, shared: Arc<Shared>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(answer(&shared, req).await) }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// Takes one dashboard sample now and every [`INTERVAL`] after, until the
/// runtime stops with the listener.
async fn sample(shared: Arc<Shared>) {
    let mut every = tokio::time::interval(INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let families = shared.backend.metrics();
        let sample = Sample::of(&families, std::time::SystemTime::now());
        shared
            .ring
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sample);
    }
}
