//! The reverse-proxy edge role: what happens to a request's URL and headers
//! at the edge, before it is forwarded (path rewrites, redirects to HTTPS).

mod https;
mod rewrite;

pub use https::https_location;
pub use rewrite::rewrite_path;
