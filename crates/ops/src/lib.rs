//! Operations: what tollgate tells its operators. For now the access log.

mod access_log;
mod time;

pub use access_log::{AccessLog, AccessLogBuffer, AccessRecord};
pub use time::format_rfc3339_millis;
