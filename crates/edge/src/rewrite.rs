//! Path rewrites: strip a prefix, regex replace with captures, add a prefix.

use std::borrow::Cow;

use tollgate_config::Rewrite;

/// Applies `rw` to `path` in the order strip, regex, add. A path left empty
/// by stripping becomes `/`.
pub fn rewrite_path<'a>(rw: &Rewrite, path: &'a str) -> Cow<'a, str> {
    let mut out: Cow<'a, str> = Cow::Borrowed(path);
    if let Some(prefix) = &rw.strip_prefix {
        if let Some(rest) = strip_segment_prefix(&out, prefix) {
            out = Cow::Owned(if rest.starts_with('/') {
                rest.to_owned()
            } else {
                format!("/{rest}")
            });
        }
    }
    if let Some((re, replacement)) = &rw.regex {
        if let Cow::Owned(s) = re.replace(&out, replacement.as_str()) {
            out = Cow::Owned(s);
        }
    }
    if let Some(prefix) = &rw.add_prefix {
        let base = prefix.trim_end_matches('/');
        out = Cow::Owned(format!("{base}{out}"));
    }
    out
}

/// `path` without `prefix` when the prefix ends at a segment boundary.
fn strip_segment_prefix<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let prefix = prefix.trim_end_matches('/');
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn rw(strip: Option<&str>, regex: Option<(&str, &str)>, add: Option<&str>) -> Rewrite {
        Rewrite {
            strip_prefix: strip.map(str::to_owned),
            regex: regex.map(|(p, r)| (Regex::new(p).unwrap(), r.to_owned())),
            add_prefix: add.map(str::to_owned),
        }
    }

    #[test]
    fn strip_prefix_at_segment_boundary() {
        let r = rw(Some("/v1"), None, None);
        assert_eq!(rewrite_path(&r, "/v1/users"), "/users");
        assert_eq!(rewrite_path(&r, "/v1"), "/");
        assert_eq!(rewrite_path(&r, "/v1x/users"), "/v1x/users");
    }

    #[test]
    fn regex_with_captures_then_add_prefix() {
        let r = rw(None, Some((r"^/u/(\d+)$", "/users/$1")), Some("/api/"));
        assert_eq!(rewrite_path(&r, "/u/42"), "/api/users/42");
        assert_eq!(rewrite_path(&r, "/other"), "/api/other");
    }
}
