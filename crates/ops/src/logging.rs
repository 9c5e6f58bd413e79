//! The event log: installs the process's `tracing` subscriber, so events
//! from every crate (health changes, certificate and configuration reloads,
//! DNS changes, L4 errors) become lines an operator can read.
//!
//! - One line per event: `text` (`time LEVEL target: message key=value`)
//!   or `json` (one object: `timestamp`, `level`, `target`, `fields` with
//!   `message` and the event's fields).
//! - The level comes from `log.level`; `RUST_LOG`, when set and valid,
//!   replaces it (with its full syntax, e.g. `info,tollgate_proxy=debug`).
//! - The subscriber is process-wide and installed once, by the binary at
//!   start; a second [`install`] changes nothing and reports it, so code
//!   that starts tollgate several times in one process never panics.

use std::fs::OpenOptions;
use std::io;
use std::sync::Mutex;

use tollgate_config::{Log, LogFormat, LogOutput};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// What [`install`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    /// The subscriber is in place.
    Yes,
    /// Another subscriber was already installed in this process; it stays.
    AlreadySet,
}

/// Installs the event log `cfg` describes, for the whole process. Fails
/// only when the output file cannot be opened.
pub fn install(cfg: &Log) -> io::Result<Installed> {
    let filter = filter(cfg, std::env::var("RUST_LOG").ok().as_deref());
    let result = match &cfg.output {
        LogOutput::Stderr => try_init(cfg.format, filter, io::stderr),
        LogOutput::File(path) => {
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            try_init(cfg.format, filter, Mutex::new(file))
        }
    };
    Ok(if result {
        Installed::Yes
    } else {
        Installed::AlreadySet
    })
}

/// The level filter: `RUST_LOG` when set and valid, else `log.level`.
/// Without `RUST_LOG`, the HTTP/2 library is held at `warn`: its `debug`
/// lines are per frame, never what `level: debug` is asked for.
fn filter(cfg: &Log, rust_log: Option<&str>) -> EnvFilter {
    if let Some(spec) = rust_log.filter(|s| !s.trim().is_empty()) {
        match EnvFilter::try_new(spec) {
            Ok(f) => return f,
            // The subscriber is not there yet to say so.
            Err(e) => eprintln!("tollgate: RUST_LOG ignored ({e}); using log.level"),
        }
    }
    let level = cfg.level.as_str();
    EnvFilter::new(format!("{level},h2=warn"))
}

/// Sets the global subscriber; false when one was already set.
fn try_init<W>(format: LogFormat, filter: EnvFilter, writer: W) -> bool
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false);
    match format {
        LogFormat::Text => builder.try_init().is_ok(),
        LogFormat::Json => builder.json().try_init().is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tollgate_config::LogLevel;

    use super::*;

    /// A writer that keeps what is written, for one test's subscriber.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// The lines written by `emit` under a subscriber built like
    /// [`install`]'s, set for this thread only.
    fn lines(format: LogFormat, level: LogLevel, rust_log: Option<&str>, emit: fn()) -> String {
        let cfg = Log {
            level,
            format,
            output: LogOutput::Stderr,
        };
        let out = Captured::default();
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter(&cfg, rust_log))
            .with_writer(out.clone())
            .with_ansi(false);
        match format {
            LogFormat::Text => tracing::subscriber::with_default(builder.finish(), emit),
            LogFormat::Json => tracing::subscriber::with_default(builder.json().finish(), emit),
        }
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn unhealthy() {
        tracing::warn!(
            upstream = "app",
            target = "10.0.0.5:80",
            reason = "status 500",
            "target unhealthy"
        );
        tracing::debug!("detail");
    }

    #[test]
    fn text_lines_carry_the_message_and_fields() {
        let text = lines(LogFormat::Text, LogLevel::Info, None, unhealthy);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains(" WARN "), "{text}");
        assert!(
            text.contains(
                "target unhealthy upstream=\"app\" target=\"10.0.0.5:80\" reason=\"status 500\""
            ),
            "{text}"
        );
    }

    #[test]
    fn json_lines_are_one_object_each() {
        let text = lines(LogFormat::Json, LogLevel::Debug, None, unhealthy);
        assert_eq!(text.lines().count(), 2, "{text}");
        let first = text.lines().next().unwrap();
        assert!(first.starts_with('{') && first.ends_with('}'), "{first}");
        assert!(first.contains("\"level\":\"WARN\""), "{first}");
        assert!(
            first.contains("\"fields\":{\"message\":\"target unhealthy\",\"upstream\":\"app\""),
            "{first}"
        );
    }

    #[test]
    fn rust_log_replaces_the_level() {
        let quiet = lines(LogFormat::Text, LogLevel::Info, Some("error"), unhealthy);
        assert_eq!(quiet, "");
        let loud = lines(LogFormat::Text, LogLevel::Warn, Some("debug"), unhealthy);
        assert!(loud.contains("detail"), "{loud}");
        let off = lines(LogFormat::Text, LogLevel::Off, None, unhealthy);
        assert_eq!(off, "");
    }

    #[test]
    fn installing_twice_keeps_the_first_and_does_not_panic() {
        let cfg = Log::default();
        let first = install(&cfg).unwrap();
        let second = install(&cfg).unwrap();
        assert_eq!(second, Installed::AlreadySet, "first: {first:?}");
    }
}
