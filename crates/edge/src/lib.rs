//! The reverse-proxy edge role, independent of the data path: path
//! rewrites, the HTTP cache (RFC 9111) and compression.

pub mod cache;
pub mod compress;
mod rewrite;

pub use rewrite::rewrite_path;
