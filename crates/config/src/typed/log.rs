//! The event log (`log:`): what tollgate tells its operator about itself
//! (health changes, certificate and configuration reloads, DNS changes,
//! L4 errors), apart from the access log.

use std::path::PathBuf;

/// `log:` as validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// Least severe level written; `RUST_LOG`, when set, replaces it.
    pub level: LogLevel,
    /// How each event is written.
    pub format: LogFormat,
    /// Where events go.
    pub output: LogOutput,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            level: LogLevel::Info,
            format: LogFormat::Text,
            output: LogOutput::Stderr,
        }
    }
}

/// Severity threshold of the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Nothing is written.
    Off,
    /// Failures only.
    Error,
    /// Failures and states an operator should look at (a target out).
    Warn,
    /// Also the changes that went well (a target back, a reload applied).
    Info,
    /// Also per-connection detail (refused handshakes, closed relays).
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// The keyword, as written in the file and understood by `RUST_LOG`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

/// Line format of the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `time LEVEL target: message field=value ...`
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`).
    Json,
}

/// Destination of the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogOutput {
    /// Standard error.
    Stderr,
    /// Appended to this file (created when missing).
    File(PathBuf),
}
