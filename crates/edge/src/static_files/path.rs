//! From a request path to a path relative to the root, refusing every way
//! out of it: each segment is percent-decoded on its own and refused when
//! it is `.` or `..`, or holds `/`, `\` or NUL (so `%2e%2e`, `%2f`, `%5c`
//! and `%00` cannot smuggle one in), and names starting with `.` are
//! refused unless hidden files are allowed (`.well-known` always passes).
//! Empty segments are skipped, so `//etc/passwd` stays under the root.
//! This does not rely on path normalization having run.

use std::path::PathBuf;

/// A request path made safe to join onto the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relative {
    /// Decoded segments joined; empty for the root itself.
    pub(crate) path: PathBuf,
    /// The request path ended in `/` (asks for a directory).
    pub(crate) trailing_slash: bool,
}

/// `None` when the path cannot name a file under the root.
pub(crate) fn relative(request_path: &str, allow_hidden: bool) -> Option<Relative> {
    let mut path = PathBuf::new();
    for segment in request_path.split('/').filter(|s| !s.is_empty()) {
        let name = decode(segment)?;
        if name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
            return None;
        }
        if name.starts_with('.') && !allow_hidden && name != ".well-known" {
            return None;
        }
        // A drive or stream name (`C:`, `file::$DATA`) means something
        // else on Windows; nowhere else does a web path need one.
        if cfg!(windows) && name.contains(':') {
            return None;
        }
        path.push(name);
    }
    Some(Relative {
        trailing_slash: request_path.is_empty() || request_path.ends_with('/'),
        path,
    })
}

/// Whether a file name is hidden (starts with `.`), `.well-known` aside.
pub(crate) fn is_hidden(name: &str) -> bool {
    name.starts_with('.') && name != ".well-known"
}

/// Percent-decodes one segment; `None` for a malformed escape or a result
/// that is not UTF-8.
fn decode(segment: &str) -> Option<String> {
    if !segment.contains('%') {
        return Some(segment.to_owned());
    }
    let b = segment.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            // from_str_radix alone would take a sign (`%+f`).
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let s = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(s, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(p: &str) -> Option<String> {
        relative(p, false).map(|r| r.path.to_string_lossy().into_owned())
    }

    #[test]
    fn plain_paths() {
        assert_eq!(rel("/"), Some(String::new()));
        assert_eq!(rel(""), Some(String::new()));
        assert_eq!(rel("/a/b.txt"), Some("a/b.txt".into()));
        assert_eq!(rel("//a///b"), Some("a/b".into()));
        assert_eq!(rel("/my%20file.txt"), Some("my file.txt".into()));
        assert_eq!(rel("/caf%C3%A9"), Some("café".into()));
        assert_eq!(rel("/.well-known/x"), Some(".well-known/x".into()));
        assert_eq!(rel("/a..b/c..."), Some("a..b/c...".into()));
        assert!(relative("/a/", false).unwrap().trailing_slash);
        assert!(!relative("/a", false).unwrap().trailing_slash);
    }

    #[test]
    fn escapes_from_the_root_are_refused() {
        for bad in [
            "/../etc/passwd",
            "/a/../../etc",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc",
            "/a%2f..%2f..%2fetc",
            "/..%5c..%5cetc",
            "/..\\etc",
            "/a%00.txt",
            "/.",
            "/%2e",
            "/.env",
            "/.git/config",
            "/a/%2egit",
            "/%zz",
            "/%c3",
            "/%",
            "/%+f",
            "/%-0",
        ] {
            assert_eq!(rel(bad), None, "{bad}");
        }
        assert_eq!(
            relative("/.env", true).map(|r| r.path),
            Some(PathBuf::from(".env"))
        );
        assert_eq!(relative("/..", true), None, "`..` is never allowed");
    }
}
