//! The commands of the `tollgate` binary, kept out of `main.rs` so they are
//! testable: each loads the configuration and calls into the crates.

mod admin;
mod status;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use tollgate_ops::admin::AdminServer;
use tollgate_proxy::RunningServer;

pub use status::status;

/// `tollgate run`: serve until SIGTERM/SIGINT, then drain and exit 0;
/// SIGHUP reloads the configuration file.
pub fn run(path: &Path) -> ExitCode {
    let config = match tollgate_config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(1);
        }
    };
    // The event log first, so nothing the start-up does goes unsaid.
    if let Err(e) = tollgate_ops::logging::install(&config.log) {
        eprintln!("tollgate: cannot open the log output: {e}");
        return ExitCode::from(1);
    }
    // Signal handlers go in before anything is announced, so a SIGTERM sent
    // as soon as the listeners are printed still drains instead of killing.
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tollgate: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let schemes: Vec<&'static str> = config
        .listeners
        .iter()
        .map(|l| match l.protocol {
            tollgate_config::ListenerProtocol::Https => "https",
            tollgate_config::ListenerProtocol::Http => "http",
            tollgate_config::ListenerProtocol::Tcp => "tcp",
            tollgate_config::ListenerProtocol::TlsPassthrough => "tls",
            tollgate_config::ListenerProtocol::Udp => "udp",
        })
        .collect();
    let backend = Arc::new(admin::Backend::new(path, &config));
    // The admin listener comes up first, so `/readyz` answers 503 while the
    // listeners are bound and the snapshot built.
    let admin_scheme = match config.admin.as_ref().and_then(|a| a.tls.as_ref()) {
        Some(_) => "https",
        None => "http",
    };
    let admin = match start_admin(&config, &backend) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tollgate: cannot start the admin API: {e}");
            return ExitCode::from(1);
        }
    };
    let server = match RunningServer::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tollgate: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    for ((name, addr), scheme) in server.addresses().iter().zip(schemes) {
        eprintln!("tollgate: listener {name} on {scheme}://{addr}");
    }
    backend.attach(server);
    // Said once the server is attached, so a caller that waits for this
    // line finds `/readyz` ready.
    if let Some(a) = &admin {
        eprintln!("tollgate: admin API on {admin_scheme}://{}", a.address());
    }
    while signals.wait() == Wakeup::Reload {
        // The same path as the admin API's `POST /reload`; it logs the outcome.
        backend.reload_file(false);
    }
    backend.mark_draining();
    eprintln!("tollgate: shutting down, draining in-flight requests");
    // `/readyz` says 503 while the workers drain; the admin listener
    // closes once they are done.
    if let Some(server) = backend.detach() {
        server.shutdown();
    }
    if let Some(a) = admin {
        a.stop();
    }
    ExitCode::SUCCESS
}

/// Starts the admin listener when the file has `admin:`, reading its token.
fn start_admin(
    config: &tollgate_config::Config,
    backend: &Arc<admin::Backend>,
) -> Result<Option<AdminServer>, String> {
    let Some(a) = &config.admin else {
        return Ok(None);
    };
    let token = a.token.as_ref().map(|t| t.read()).transpose()?;
    let tls = a.tls.as_ref().map(admin_tls).transpose()?;
    AdminServer::start_with_tls(a.address, token, backend.clone(), a.metrics_public, tls)
        .map(Some)
        .map_err(|e| format!("{}: {e}", a.address))
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
}

/// SIGTERM, SIGINT and SIGHUP, registered with the OS and waited for later.
struct Signals {
    runtime: tokio::runtime::Runtime,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let _guard = runtime.enter();
            let term = signal(SignalKind::terminate())?;
            let int = signal(SignalKind::interrupt())?;
            let hup = signal(SignalKind::hangup())?;
            Ok(Self {
                runtime,
                term,
                int,
                hup,
            })
        }
        #[cfg(not(unix))]
        Ok(Self { runtime })
    }

    /// Blocks until a signal arrives and says which.
    fn wait(&mut self) -> Wakeup {
        #[cfg(unix)]
        return self.runtime.block_on(async {
            tokio::select! {
                _ = self.term.recv() => Wakeup::Stop,
                _ = self.int.recv() => Wakeup::Stop,
                _ = self.hup.recv() => Wakeup::Reload,
            }
        });
        #[cfg(not(unix))]
        self.runtime.block_on(async {
            let _ = tokio::signal::ctrl_c().await;
            Wakeup::Stop
        })
    }
}

/// `tollgate validate`: 0 when the file is valid, 1 with every error listed.
pub fn validate(path: &Path) -> ExitCode {
    // Files named by the configuration (certificates, keys) are read too:
    // a file that would stop `run` makes the configuration invalid.
    let loaded = tollgate_config::load(path).and_then(|c| {
        let errors = tollgate_proxy::check_files(&c);
        if errors.is_empty() {
            Ok(c)
        } else {
            Err(tollgate_config::ConfigErrors(errors))
        }
    });
    match loaded {
        Ok(c) => {
            println!(
                "{}: valid ({} listeners, {} upstreams, {} routes)",
                path.display(),
                c.listeners.len(),
                c.upstreams.len(),
                c.routes.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} error(s)", path.display(), errors.0.len());
            ExitCode::from(1)
        }
    }
}

/// `tollgate explain`: the way of one request through the configuration.
pub fn explain(
    path: &Path,
    listener: Option<&str>,
    headers: &[String],
    method: &str,
    url: &str,
) -> ExitCode {
    let config = match tollgate_config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(1);
        }
    };
    let mut pairs = Vec::new();
    for h in headers {
        match h.split_once(':') {
            Some((n, v)) => pairs.push((n.trim().to_owned(), v.trim().to_owned())),
            None => {
                eprintln!("tollgate: header {h:?} is not `Name: value`");
                return ExitCode::from(2);
            }
        }
    }
    match tollgate_proxy::explain(&config, method, url, &pairs, listener) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate: {e}");
            ExitCode::from(2)
        }
    }
}
