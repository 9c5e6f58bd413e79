//! tollgate's shared vocabulary, free of I/O: the error type every layer
//! returns, the one function that turns it into a response, request ids,
//! HTTP dates and the gRPC rules tollgate applies (content type, deadline,
//! status mapping).

mod error;
pub mod grpc;
mod http_date;
mod json;
mod request_id;

pub use error::{ErrorKind, ErrorSource, ProxyError};
pub use http_date::{civil_from_days, format_http_date, http_date_value, parse_http_date};
pub use json::push_json_string;
pub use request_id::RequestIdGenerator;
