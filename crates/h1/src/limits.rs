//! Size limits applied while parsing a message head.

/// Limits for a request or response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Maximum bytes of the whole head (leading CRLFs, start line, fields, final CRLF).
    pub max_head_bytes: usize,
    /// Maximum number of header field lines.
    pub max_headers: usize,
    /// Maximum length of the request-target in bytes.
    pub max_uri_length: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_head_bytes: 32 * 1024,
            max_headers: 100,
            max_uri_length: 8 * 1024,
        }
    }
}
