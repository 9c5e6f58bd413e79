//! Edits of a request's query string: remove, rename, set, add, applied in
//! that order. Parameter names are compared after percent-decoding (and `+`
//! read as a space), so `a%5Fb` and `a_b` are the same parameter.
//! Parameters that are not edited keep their exact spelling and order;
//! names and values written by an edit are percent-encoded.

use std::borrow::Cow;

/// The query edits of one request, values already rendered.
#[derive(Debug, Default)]
pub struct QueryEdits<'a> {
    /// Names whose parameters are dropped.
    pub remove: &'a [String],
    /// `(old, new)`: parameters renamed, values kept.
    pub rename: &'a [(String, String)],
    /// Replaces every parameter of that name with one, or appends it.
    pub set: Vec<(&'a str, String)>,
    /// Appended after the existing parameters.
    pub add: Vec<(&'a str, String)>,
}

impl QueryEdits<'_> {
    /// True when there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty()
            && self.rename.is_empty()
            && self.set.is_empty()
            && self.add.is_empty()
    }
}

/// The edited query, without `?`; `None` when no parameter is left.
pub fn edit_query(query: Option<&str>, edits: &QueryEdits<'_>) -> Option<String> {
    // (decoded name, the pair as written or rewritten)
    let mut pairs: Vec<(String, String)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let name = p.split_once('=').map_or(p, |(n, _)| n);
            (decode(name).into_owned(), p.to_owned())
        })
        .collect();
    pairs.retain(|(name, _)| !edits.remove.iter().any(|r| r == name));
    for (old, new) in edits.rename {
        for (name, written) in pairs.iter_mut().filter(|(n, _)| n == old) {
            let value = written.split_once('=').map(|(_, v)| v);
            *written = match value {
                Some(v) => format!("{}={v}", encode(new)),
                None => encode(new),
            };
            name.clone_from(new);
        }
    }
    for (name, value) in &edits.set {
        let pair = format!("{}={}", encode(name), encode(value));
        match pairs.iter().position(|(n, _)| n == name) {
            Some(first) => {
                pairs[first].1 = pair;
                let mut i = 0;
                pairs.retain(|(n, _)| {
                    i += 1;
                    i - 1 == first || n != name
                });
            }
            None => pairs.push(((*name).to_owned(), pair)),
        }
    }
    for (name, value) in &edits.add {
        pairs.push((
            (*name).to_owned(),
            format!("{}={}", encode(name), encode(value)),
        ));
    }
    if pairs.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (i, (_, pair)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(pair);
    }
    Some(out)
}

/// Percent-decodes a query name (`+` is a space); bad escapes stay as written.
fn decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn edits_apply_in_order_and_keep_the_rest_as_written() {
        let remove = names(&["debug"]);
        let rename = vec![("q".to_owned(), "query".to_owned())];
        let edits = QueryEdits {
            remove: &remove,
            rename: &rename,
            set: vec![("page", "2".into())],
            add: vec![("who", "a b&c".into())],
        };
        let out = edit_query(Some("q=x%20y&debug=1&page=1&page=5&keep=%41"), &edits);
        assert_eq!(
            out.as_deref(),
            Some("query=x%20y&page=2&keep=%41&who=a%20b%26c")
        );
    }

    #[test]
    fn names_compare_decoded_and_empty_results_drop_the_query() {
        let remove = names(&["a_b", "c d"]);
        let edits = QueryEdits {
            remove: &remove,
            ..QueryEdits::default()
        };
        assert_eq!(edit_query(Some("a%5Fb=1&c+d=2"), &edits), None);
        assert_eq!(edit_query(Some("x=%"), &edits).as_deref(), Some("x=%"));
    }
}
