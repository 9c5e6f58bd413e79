//! tollgate's shared vocabulary, free of I/O: the error type every layer
//! returns, the one function that turns it into a response, and request ids.

mod error;
mod json;
mod request_id;

pub use error::{ErrorKind, ErrorSource, ProxyError};
pub use json::push_json_string;
pub use request_id::RequestIdGenerator;
