//! Operations: what tollgate tells its operators: the access log, the
//! event log, the admin API (`admin/`, its own listener and thread),
//! metrics encoding and span export (`trace/`).

mod access_log;
pub mod admin;
pub mod logging;
pub mod metrics;
mod time;
pub mod trace;

pub use access_log::{AccessLog, AccessLogBuffer, AccessRecord, L4Record};
pub use time::format_rfc3339_millis;
