//! Operations: what tollgate tells its operators: the access log and the
//! event log.

mod access_log;
pub mod logging;
mod time;

pub use access_log::{AccessLog, AccessLogBuffer, AccessRecord, L4Record};
pub use time::format_rfc3339_millis;
