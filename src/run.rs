//! `tollgate run`: start (binding the listeners or taking them from the
//! process being upgraded, or from systemd), serve until a signal, and
//! drain. SIGHUP reloads, SIGUSR2 upgrades, SIGTERM/SIGINT stop.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tollgate_net::{Inherited, Origin};
use tollgate_ops::admin::AdminServer;
use tollgate_proxy::RunningServer;

use crate::admin;
use crate::notify;
use crate::upgrade::successor::Predecessor;
use crate::upgrade::{Relaunch, Upgrader};

/// How long the old admin listener lingers after an upgrade, so the answer
/// to the `POST /upgrade` that caused it is written out.
const ADMIN_LINGER: Duration = Duration::from_millis(300);

/// `tollgate run`: serve until SIGTERM/SIGINT, then drain and exit 0;
/// SIGHUP reloads the configuration file; SIGUSR2 hands over to a new
/// process of the binary and drains.
pub fn run(path: &Path) -> ExitCode {
    // Captured first, while argv, the working directory and PATH are those
    // of the start.
    let relaunch = Relaunch::capture();
    let (predecessor, mut inherited) = match inherited() {
        Ok(found) => found,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return ExitCode::from(1);
        }
    };
    let upgraded = predecessor.is_some();
    match start(path, &mut inherited, relaunch) {
        Ok(started) => {
            // systemd learns the new main pid before the old process, told
            // next, starts to exit.
            notify::ready(upgraded);
            if let Some(p) = predecessor {
                p.ready();
            }
            serve(started)
        }
        Err(e) => {
            eprintln!("{e}");
            if let Some(p) = predecessor {
                p.failed(&e);
            }
            ExitCode::from(1)
        }
    }
}

/// The sockets handed over by the process this one replaces, or else those
/// systemd passed.
fn inherited() -> Result<(Option<Predecessor>, Inherited), String> {
    if let Some((p, sockets)) = Predecessor::connect()? {
        return Ok((Some(p), Inherited::from_upgrade(sockets)));
    }
    let systemd =
        Inherited::from_systemd().map_err(|e| format!("systemd socket activation: {e}"))?;
    Ok((None, systemd))
}

/// What serves once started.
struct Started {
    backend: Arc<admin::Backend>,
    admin: Option<AdminServer>,
    signals: Signals,
    handed_over: watch::Receiver<Option<u32>>,
}

/// Loads the file, binds or takes the listeners, starts the admin API and
/// the workers; the error is the text to print.
fn start(path: &Path, inherited: &mut Inherited, relaunch: Relaunch) -> Result<Started, String> {
    let config = tollgate_config::load(path).map_err(|errors| errors.to_string())?;
    // The event log first, so nothing the start-up does goes unsaid.
    tollgate_ops::logging::install(&config.log)
        .map_err(|e| format!("tollgate: cannot open the log output: {e}"))?;
    // Signal handlers go in before anything is announced, so a SIGTERM sent
    // as soon as the listeners are printed still drains instead of killing.
    let signals =
        Signals::install().map_err(|e| format!("tollgate: cannot install signal handlers: {e}"))?;
    let schemes: Vec<&'static str> = config
        .listeners
        .iter()
        .map(|l| scheme(l.protocol))
        .collect();
    let upgrader = Arc::new(Upgrader::new(relaunch));
    let backend = Arc::new(admin::Backend::new(path, &config, upgrader.clone()));
    // The admin listener comes up first, so `/readyz` answers 503 while the
    // listeners are bound and the snapshot built.
    let admin_scheme = match config.admin.as_ref().and_then(|a| a.tls.as_ref()) {
        Some(_) => "https",
        None => "http",
    };
    let admin = start_admin(&config, &backend, inherited)
        .map_err(|e| format!("tollgate: cannot start the admin API: {e}"))?;
    if let Some(a) = &admin {
        upgrader.set_admin(a.address(), a.socket());
    }
    let server = RunningServer::start_with(config, inherited)
        .map_err(|e| format!("tollgate: cannot start: {e}"))?;
    let leftover = inherited.leftover();
    if !leftover.is_empty() {
        match inherited.origin() {
            Origin::Systemd => {
                return Err(format!(
                    "tollgate: cannot start: systemd passed sockets that no listener is configured on: {}",
                    leftover.join(", ")
                ))
            }
            _ => tracing::warn!(
                sockets = leftover.join(", ").as_str(),
                "upgrade: handed-over sockets no listener uses any more are closed"
            ),
        }
    }
    for ((name, addr), scheme) in server.addresses().iter().zip(schemes) {
        eprintln!("tollgate: listener {name} on {scheme}://{addr}");
    }
    backend.attach(server);
    // Said once the server is attached, so a caller that waits for this
    // line finds `/readyz` ready.
    if let Some(a) = &admin {
        eprintln!("tollgate: admin API on {admin_scheme}://{}", a.address());
    }
    Ok(Started {
        backend,
        admin,
        signals,
        handed_over: upgrader.subscribe(),
    })
}

/// The URL scheme a listener is announced with.
fn scheme(protocol: tollgate_config::ListenerProtocol) -> &'static str {
    use tollgate_config::ListenerProtocol as P;
    match protocol {
        P::Https => "https",
        P::Http => "http",
        P::Tcp => "tcp",
        P::TlsPassthrough => "tls",
        P::Udp => "udp",
    }
}

/// Serves until stopped or handed over, then drains.
fn serve(mut started: Started) -> ExitCode {
    let backend = &started.backend;
    let upgraded = loop {
        match started.signals.wait(&mut started.handed_over) {
            Wakeup::Reload => {
                // The same path as the admin API's `POST /reload`; it logs
                // the outcome and tells systemd.
                backend.reload_file(false, "SIGHUP");
            }
            Wakeup::Upgrade => match backend.upgrade_now() {
                Ok(_) => break true,
                Err(why) => tracing::error!(reason = why.as_str(), "upgrade failed; still serving"),
            },
            Wakeup::HandedOver => break true,
            Wakeup::Stop => break false,
        }
    };
    backend.mark_draining();
    if upgraded {
        backend.stop_accepting();
        let pid = (*started.handed_over.borrow()).unwrap_or(0);
        tracing::info!(
            new_pid = pid,
            "upgrade: the new process serves; this one stops accepting and drains"
        );
        // The new process answers on the admin socket now.
        std::thread::sleep(ADMIN_LINGER);
        if let Some(a) = started.admin.take() {
            a.stop();
        }
    } else {
        notify::stopping();
        eprintln!("tollgate: shutting down, draining in-flight requests");
    }
    // `/readyz` says 503 while the workers drain; the admin listener
    // closes once they are done.
    if let Some(server) = backend.detach() {
        server.shutdown();
    }
    if let Some(a) = started.admin {
        a.stop();
    }
    ExitCode::SUCCESS
}

/// Starts the admin listener when the file has `admin:`, reading its token,
/// on the inherited socket when there is one.
fn start_admin(
    config: &tollgate_config::Config,
    backend: &Arc<admin::Backend>,
    inherited: &mut Inherited,
) -> Result<Option<AdminServer>, String> {
    let Some(a) = &config.admin else {
        return Ok(None);
    };
    let token = a.token.as_ref().map(|t| t.read()).transpose()?;
    let tls = a.tls.as_ref().map(admin_tls).transpose()?;
    let named = |e: std::io::Error| format!("{}: {e}", a.address);
    match inherited.take_admin(a.address).map_err(named)? {
        Some(socket) => {
            AdminServer::start_on(socket, token, backend.clone(), a.metrics_public, tls)
        }
        None => {
            AdminServer::start_with_tls(a.address, token, backend.clone(), a.metrics_public, tls)
        }
    }
    .map(Some)
    .map_err(named)
}

/// The admin listener's rustls configuration, built as an HTTPS
/// listener's is (same file reading, same client verification), with
/// client certificates required when `client_ca` is given.
fn admin_tls(tls: &tollgate_config::AdminTls) -> Result<Arc<rustls::ServerConfig>, String> {
    use tollgate_config::{Alpn, ClientAuth, ClientAuthMode, ListenerTls, TlsVersion};
    let listener = ListenerTls {
        certificates: vec![tls.certificate.clone()],
        default_certificate: 0,
        min_version: TlsVersion::Tls12,
        alpn: vec![Alpn::Http11],
        session_tickets: false,
        session_cache: 0,
        handshake_timeout: std::time::Duration::from_secs(10),
        reload_interval: None,
        client_auth: tls.client_ca.clone().map(|ca| ClientAuth {
            mode: ClientAuthMode::Required,
            ca,
            // Unused: admin requests go to no upstream.
            subject_header: http::HeaderName::from_static("x-client-cert-subject"),
            san_header: http::HeaderName::from_static("x-client-cert-san"),
        }),
    };
    tollgate_net::tls::ServerTls::build(&listener)
        .map(|t| t.config.clone())
        .map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            format!("admin.tls: {}", lines.join("; "))
        })
}

/// Why [`Signals::wait`] returned.
#[derive(Debug, PartialEq, Eq)]
enum Wakeup {
    /// SIGTERM or SIGINT: drain and exit.
    Stop,
    /// SIGHUP: reload the configuration.
    Reload,
    /// SIGUSR2: start the new binary and hand over.
    Upgrade,
    /// An upgrade asked through the admin API succeeded: drain and exit.
    HandedOver,
}

/// SIGTERM, SIGINT, SIGHUP and SIGUSR2, registered with the OS and waited
/// for later.
struct Signals {
    runtime: tokio::runtime::Runtime,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let _guard = runtime.enter();
        let term = signal(SignalKind::terminate())?;
        let int = signal(SignalKind::interrupt())?;
        let hup = signal(SignalKind::hangup())?;
        let usr2 = signal(SignalKind::user_defined2())?;
        Ok(Self {
            runtime,
            term,
            int,
            hup,
            usr2,
        })
    }

    /// Blocks until a signal arrives or `handed_over` changes; says which.
    fn wait(&mut self, handed_over: &mut watch::Receiver<Option<u32>>) -> Wakeup {
        self.runtime.block_on(async {
            tokio::select! {
                _ = self.term.recv() => Wakeup::Stop,
                _ = self.int.recv() => Wakeup::Stop,
                _ = self.hup.recv() => Wakeup::Reload,
                _ = self.usr2.recv() => Wakeup::Upgrade,
                Ok(()) = handed_over.changed() => Wakeup::HandedOver,
            }
        })
    }
}
