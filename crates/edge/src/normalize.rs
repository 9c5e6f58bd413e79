//! Request path normalization before routing, so that one resource has one
//! spelling and a route restriction cannot be bypassed by writing its path
//! another way (`/admin/../public`, `/%61dmin`, `//admin`):
//!
//! - percent-escapes of unreserved characters are decoded (`%41` → `A`,
//!   `%7E` → `~`, `%2E` → `.`), all other escapes get uppercase hex;
//! - dot segments are removed (RFC 3986 §5.2.4) after that decoding, so
//!   `%2e%2e` counts as `..`; a `..` that would climb above `/` is refused;
//! - empty segments are merged (`//` → `/`);
//! - `%00` and malformed escapes are refused;
//! - encoded slashes and backslashes (`%2F`, `%5C`, `\`) follow
//!   [`EncodedSlash`]: kept encoded (never a separator), refused, or
//!   decoded to `/`.
//!
//! The common case, a path with none of these, is one scan and no
//! allocation. The result is idempotent: normalizing it again changes nothing.

use std::borrow::Cow;

use tollgate_config::EncodedSlash;

/// Why a path was refused (the request is answered 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// `%` not followed by two hex digits.
    BadEscape,
    /// `%00`: no file system or application expects a NUL in a path.
    Nul,
    /// A `..` segment would climb above the root.
    AboveRoot,
    /// An encoded slash or a backslash, refused by configuration.
    EncodedSlash,
}

impl PathError {
    /// A short description for the error answer.
    pub fn message(self) -> &'static str {
        match self {
            PathError::BadEscape => "invalid percent-encoding in path",
            PathError::Nul => "encoded NUL in path",
            PathError::AboveRoot => "path climbs above the root",
            PathError::EncodedSlash => "encoded slash or backslash in path",
        }
    }
}

/// The normalized form of `path` (borrowed when nothing changes). Paths
/// that do not start with `/` (`*`) are returned unchanged.
pub fn normalize_path(path: &str, slashes: EncodedSlash) -> Result<Cow<'_, str>, PathError> {
    if !path.starts_with('/') || is_normal(path.as_bytes()) {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = decode(path.as_bytes(), slashes)?;
    Ok(Cow::Owned(remove_dot_segments(&decoded)?))
}

/// True when the path has no escape, no backslash, no empty segment and no
/// dot segment: the quick scan of the common case.
fn is_normal(p: &[u8]) -> bool {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'%' | b'\\' => return false,
            b'/' => {
                let rest = &p[i + 1..];
                let dot_segment = matches!(
                    rest,
                    [b'.'] | [b'.', b'.'] | [b'.', b'/', ..] | [b'.', b'.', b'/', ..]
                );
                // An empty segment other than the last one (`/a//b`; a
                // trailing `/` is kept).
                if dot_segment || rest.first() == Some(&b'/') {
                    return false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    true
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Decodes unreserved escapes, uppercases the others, and applies the
/// slash policy. Bytes other than escapes and `\` are copied, so the
/// result is UTF-8 whenever the input is.
fn decode(p: &[u8], slashes: EncodedSlash) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        let b = p[i];
        let (value, raw_backslash) = match b {
            b'%' => {
                let (Some(h), Some(l)) = (
                    p.get(i + 1).copied().and_then(hex),
                    p.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(PathError::BadEscape);
                };
                i += 3;
                (h << 4 | l, false)
            }
            b'\\' => {
                i += 1;
                (b'\\', true)
            }
            _ => {
                out.push(b);
                i += 1;
                continue;
            }
        };
        match value {
            0 => return Err(PathError::Nul),
            b'/' | b'\\' => match slashes {
                EncodedSlash::Reject => return Err(PathError::EncodedSlash),
                EncodedSlash::Decode => out.push(b'/'),
                EncodedSlash::Keep => {
                    out.extend_from_slice(if value == b'/' { b"%2F" } else { b"%5C" })
                }
            },
            v if unreserved(v) && !raw_backslash => out.push(v),
            v => out.extend_from_slice(&[b'%', HEX[usize::from(v >> 4)], HEX[usize::from(v & 15)]]),
        }
    }
    Ok(out)
}

/// Removes `.`, `..` and empty segments of a path starting with `/`; a
/// trailing `/` (or a final dot segment) leaves a trailing `/`.
fn remove_dot_segments(p: &[u8]) -> Result<String, PathError> {
    let mut kept: Vec<&[u8]> = Vec::new();
    let mut trailing = false;
    for segment in p[1..].split(|&b| b == b'/') {
        trailing = true;
        match segment {
            b"" | b"." => {}
            b".." => {
                kept.pop().ok_or(PathError::AboveRoot)?;
            }
            s => {
                kept.push(s);
                trailing = false;
            }
        }
    }
    let mut out = Vec::with_capacity(p.len());
    for s in &kept {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if trailing || kept.is_empty() {
        out.push(b'/');
    }
    // Only ASCII was replaced in a UTF-8 input, so this cannot fail; the
    // error is mapped rather than unwrapped all the same.
    String::from_utf8(out).map_err(|_| PathError::BadEscape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(p: &str) -> Result<String, PathError> {
        normalize_path(p, EncodedSlash::Keep).map(Cow::into_owned)
    }

    #[test]
    fn plain_paths_are_borrowed() {
        for p in [
            "/",
            "/a",
            "/a/b/",
            "/a.b/c..d/.e/..f",
            "/x?",
            "/~u/-_.",
            "*",
            "",
        ] {
            assert!(
                matches!(normalize_path(p, EncodedSlash::Keep), Ok(Cow::Borrowed(_))),
                "{p}"
            );
        }
    }

    #[test]
    fn dot_segments_and_slashes() {
        let cases = [
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/a/b/..", "/a/"),
            ("/a/b/.", "/a/b/"),
            ("/a/b/../", "/a/"),
            ("/./", "/"),
            ("/.", "/"),
            ("//", "/"),
            ("//a//b//", "/a/b/"),
            ("/admin/../public", "/public"),
            ("/a/./../b/./c/../d", "/b/d"),
            ("/a/.../b", "/a/.../b"),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn escapes() {
        let cases = [
            ("/%41%62%7e", "/Ab~"),
            ("/%7E%2d%5F%2E", "/~-_."),
            ("/a%2fb", "/a%2Fb"),
            ("/a%2Fb", "/a%2Fb"),
            ("/%3a%3F%25", "/%3A%3F%25"),
            ("/%252e%252e/", "/%252e%252e/"),
            ("/a/%2E%2e/b", "/b"),
            ("/a/.%2e/b", "/b"),
            ("/a\\b", "/a%5Cb"),
            ("/a%5cb", "/a%5Cb"),
            ("/..%5c..%5cetc", "/..%5C..%5Cetc"),
            ("/caf%C3%A9", "/caf%C3%A9"),
            ("/é", "/é"),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn refusals() {
        let cases = [
            ("/..", PathError::AboveRoot),
            ("/../etc/passwd", PathError::AboveRoot),
            ("/a/../..", PathError::AboveRoot),
            ("/%2e%2e/etc", PathError::AboveRoot),
            ("/a%00b", PathError::Nul),
            ("/a%", PathError::BadEscape),
            ("/a%4", PathError::BadEscape),
            ("/a%zz", PathError::BadEscape),
            ("/a%%41", PathError::BadEscape),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input), Err(want), "{input}");
        }
    }

    #[test]
    fn slash_policies() {
        let reject = |p| normalize_path(p, EncodedSlash::Reject).map(Cow::into_owned);
        let decode = |p| normalize_path(p, EncodedSlash::Decode).map(Cow::into_owned);
        assert_eq!(reject("/a%2Fb"), Err(PathError::EncodedSlash));
        assert_eq!(reject("/a\\b"), Err(PathError::EncodedSlash));
        assert_eq!(reject("/a%5Cb"), Err(PathError::EncodedSlash));
        assert_eq!(reject("/a%41"), Ok("/aA".into()));
        assert_eq!(decode("/a%2Fb"), Ok("/a/b".into()));
        assert_eq!(decode("/a\\..\\b"), Ok("/b".into()));
        assert_eq!(decode("/public%2F..%2Fadmin"), Ok("/admin".into()));
        assert_eq!(decode("/x%2F..%2F.."), Err(PathError::AboveRoot));
        assert_eq!(
            norm("/public%2F..%2Fadmin"),
            Ok("/public%2F..%2Fadmin".into())
        );
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        let inputs = [
            "/a/./b/../c//d/",
            "/%2e%2E/x",
            "/x/%2e%2E/y",
            "/%41%2f%5c\\%7e%20",
            "/a/..%2F../b",
            "/%252F",
            "/.%2e/",
        ];
        for mode in [
            EncodedSlash::Keep,
            EncodedSlash::Decode,
            EncodedSlash::Reject,
        ] {
            for p in inputs {
                if let Ok(once) = normalize_path(p, mode) {
                    let twice = normalize_path(&once, mode);
                    assert_eq!(twice.as_deref(), Ok(&*once), "{p} {mode:?}");
                }
            }
        }
    }

    /// The fuzz target's properties on stable: many random paths built
    /// from the tokens that matter (dots, slashes, escapes, backslashes).
    #[test]
    fn random_paths_keep_the_invariants() {
        let tokens: Vec<&str> =
            "/ / . .. a %2e %2E %2f %2F %5c \\ %41 %7e %00 % %z %e2%82%ac é ~ %25 b.c"
                .split(' ')
                .collect();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let mut path = String::from("/");
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut n = seed;
            for _ in 0..(seed % 12) {
                path.push_str(tokens[(n % tokens.len() as u64) as usize]);
                n /= tokens.len() as u64;
                if n == 0 {
                    n = seed.rotate_left(17);
                }
            }
            for mode in [
                EncodedSlash::Keep,
                EncodedSlash::Reject,
                EncodedSlash::Decode,
            ] {
                let Ok(once) = normalize_path(&path, mode) else {
                    continue;
                };
                let twice = normalize_path(&once, mode);
                assert_eq!(twice.as_deref(), Ok(&*once), "{path:?} {mode:?}");
                assert!(once.starts_with('/'));
                assert!(!once.contains("//") && !once.contains('\\'), "{once:?}");
                assert!(!once.ends_with("/.") && !once.ends_with("/.."), "{once:?}");
                assert!(!once.contains("/./") && !once.contains("/../"), "{once:?}");
            }
        }
    }
}
