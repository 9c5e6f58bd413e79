//! The commands of the `tollgate` binary, kept out of `main.rs` so they are
//! testable: each loads the configuration and calls into the crates.

mod admin;
mod notify;
mod run;
mod status;
mod upgrade;

use std::path::Path;
use std::process::ExitCode;

pub use run::run;
pub use status::status;
pub use upgrade_command::upgrade;

mod upgrade_command;

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
