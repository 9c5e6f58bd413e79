//! The reverse-proxy edge role: what happens to a request's URL and headers
//! at the edge, before it is forwarded.

mod rewrite;

pub use rewrite::rewrite_path;
