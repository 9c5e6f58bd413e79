//! The commands of the `tollgate` binary, kept out of `main.rs` so they are
//! testable: each loads the configuration and calls into the crates.

use std::path::Path;
use std::process::ExitCode;

use tollgate_proxy::RunningServer;

/// `tollgate run`: serve until SIGTERM/SIGINT, then drain and exit 0.
pub fn run(path: &Path) -> ExitCode {
    let config = match tollgate_config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
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
    for (name, addr) in server.addresses() {
        eprintln!("tollgate: listener {name} on http://{addr}");
    }
    wait_for_signal();
    eprintln!("tollgate: shutting down, draining in-flight requests");
    server.shutdown();
    ExitCode::SUCCESS
}

/// Blocks until SIGTERM or SIGINT arrives.
fn wait_for_signal() {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tollgate: signal handling unavailable: {e}");
            return;
        }
    };
    rt.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    });
}

/// `tollgate validate`: 0 when the file is valid, 1 with every error listed.
pub fn validate(path: &Path) -> ExitCode {
    match tollgate_config::load(path) {
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
