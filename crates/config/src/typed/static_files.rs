//! The `static` route target as validated.

use std::path::PathBuf;

use http::HeaderValue;

/// Files served from a directory.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    /// The directory, absolute and canonical (symlinks resolved when the
    /// configuration was loaded).
    pub root: PathBuf,
    /// File served for a directory (`index.html`).
    pub index: String,
    /// List a directory that has no index file (else 404).
    pub listing: bool,
    /// Serve `file.br` / `file.zst` / `file.gz` when the client accepts it.
    pub precompressed: bool,
    /// Serve files whose real path (symlinks resolved) is outside `root`.
    pub follow_symlinks_outside_root: bool,
    /// Serve names starting with `.` (`.well-known` is always served).
    pub allow_hidden: bool,
    /// Extra extension → Content-Type mappings, extensions lowercase without
    /// the dot; they win over the built-in table.
    pub content_types: Vec<(String, HeaderValue)>,
    /// Content-Type of files whose extension is unknown.
    pub default_content_type: HeaderValue,
}
