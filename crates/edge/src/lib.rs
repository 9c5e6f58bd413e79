//! The reverse-proxy edge role, independent of the data path: what happens
//! at the edge before (or instead of) forwarding: path normalization and
//! rewrites, redirects to HTTPS, static files, IP filters, per-client caps,
//! CORS, the HTTP cache (RFC 9111) and compression; validators and byte
//! ranges (`validators`, `range`) serve both the cache and static files.

pub mod cache;
pub mod client_limits;
pub mod compress;
pub mod cors;
mod https;
mod ip_filter;
mod normalize;
pub mod range;
mod rewrite;
pub mod static_files;
#[cfg(test)]
mod test_support;
pub mod validators;

pub use https::https_location;
pub use ip_filter::ip_allowed;
pub use normalize::{normalize_path, PathError};
pub use rewrite::rewrite_path;
