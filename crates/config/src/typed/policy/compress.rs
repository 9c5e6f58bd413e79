//! The `compress` policy as validated.

/// Compression of answers, negotiated with the request's Accept-Encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressPolicy {
    /// Codings offered, most preferred first (ties in the client's
    /// q-values go to the earlier one).
    pub algorithms: Vec<Coding>,
    /// Answers whose length is known and smaller are sent as they are.
    pub min_length: u64,
    /// Media types compressed.
    pub types: Vec<TypePattern>,
    /// gzip level, 1..=9.
    pub gzip_level: u32,
    /// brotli quality, 0..=11.
    pub brotli_level: u32,
    /// zstd level, 1..=22.
    pub zstd_level: i32,
}

/// A content coding tollgate can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// `gzip` (RFC 1952).
    Gzip,
    /// `br` (RFC 7932).
    Brotli,
    /// `zstd` (RFC 8878).
    Zstd,
}

impl Coding {
    /// The token in Accept-Encoding and Content-Encoding.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }
}

/// A media type pattern, lowercase: `text/html`, `text/*` or
/// `application/*+json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypePattern {
    /// One type, `type/subtype`.
    Exact(String),
    /// Every subtype of a type; holds `type/`.
    AnySubtype(String),
    /// Subtypes with a structured suffix; holds (`type/`, `+suffix`).
    Suffix(String, String),
}

impl TypePattern {
    /// Parses a pattern; errors say what is allowed.
    pub fn parse(text: &str) -> Result<Self, String> {
        let lower = text.trim().to_ascii_lowercase();
        let usage =
            "use `type/subtype`, `type/*` or `type/*+suffix`, e.g. `text/*`, `application/*+json`";
        let Some((ty, sub)) = lower.split_once('/') else {
            return Err(format!("invalid media type `{text}`: {usage}"));
        };
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        };
        if !token(ty) {
            return Err(format!("invalid media type `{text}`: {usage}"));
        }
        if sub == "*" {
            return Ok(TypePattern::AnySubtype(format!("{ty}/")));
        }
        if let Some(suffix) = sub.strip_prefix("*+") {
            if token(suffix) {
                return Ok(TypePattern::Suffix(format!("{ty}/"), format!("+{suffix}")));
            }
        }
        if token(sub) {
            return Ok(TypePattern::Exact(lower));
        }
        Err(format!("invalid media type `{text}`: {usage}"))
    }

    /// Whether `media_type` (lowercase, without parameters) matches.
    pub fn matches(&self, media_type: &str) -> bool {
        match self {
            TypePattern::Exact(t) => media_type == t,
            TypePattern::AnySubtype(prefix) => media_type.starts_with(prefix.as_str()),
            TypePattern::Suffix(prefix, suffix) => {
                media_type.len() > prefix.len() + suffix.len()
                    && media_type.starts_with(prefix.as_str())
                    && media_type.ends_with(suffix.as_str())
            }
        }
    }
}

/// The media types compressed when `types` is not written.
pub const DEFAULT_TYPES: &[&str] = &[
    "text/*",
    "application/json",
    "application/*+json",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/xml",
    "application/*+xml",
    "application/wasm",
    "application/x-ndjson",
    "application/graphql-response+json",
    "application/vnd.ms-fontobject",
    "font/ttf",
    "font/otf",
    "image/svg+xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "image/bmp",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_match() {
        let text = TypePattern::parse("Text/*").unwrap();
        assert!(text.matches("text/html"));
        assert!(!text.matches("texts/html"));
        let json = TypePattern::parse("application/*+json").unwrap();
        assert!(json.matches("application/ld+json"));
        assert!(!json.matches("application/json"));
        assert!(!json.matches("application/+json"));
        let exact = TypePattern::parse("application/json").unwrap();
        assert!(exact.matches("application/json"));
        assert!(!exact.matches("application/jsonx"));
        for bad in ["json", "*/*", "text/", "/x", "a b/c", "text/*+"] {
            assert!(TypePattern::parse(bad).is_err(), "{bad}");
        }
        for d in DEFAULT_TYPES {
            TypePattern::parse(d).unwrap();
        }
    }
}
