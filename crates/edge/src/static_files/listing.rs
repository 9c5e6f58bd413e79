//! Directory listings (`listing: true`): a plain HTML page of the entries,
//! names escaped for HTML and links percent-encoded, hidden entries left
//! out unless hidden files are served.

use std::fmt::Write;
use std::path::Path;

use super::path::is_hidden;

/// Most entries a listing shows; a larger directory is cut off (and says so).
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// The listing page of `dir`, requested as `request_path` (ending in `/`).
pub(crate) fn render(
    dir: &Path,
    request_path: &str,
    allow_hidden: bool,
) -> std::io::Result<String> {
    let mut entries: Vec<(String, bool)> = Vec::new();
    let mut cut = false;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        // Names that are not UTF-8 could not be requested by a path we
        // decode as UTF-8, so they are not shown either.
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !allow_hidden && is_hidden(&name) {
            continue;
        }
        if entries.len() == MAX_ENTRIES {
            cut = true;
            break;
        }
        let is_dir = entry.path().is_dir();
        entries.push((name, is_dir));
    }
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut title = String::new();
    escape_html(request_path, &mut title);
    let mut page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title></head>\n<body>\n<h1>Index of {title}</h1>\n<ul>\n"
    );
    if request_path != "/" {
        page.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for (name, is_dir) in &entries {
        let slash = if *is_dir { "/" } else { "" };
        page.push_str("<li><a href=\"");
        encode_href(name, &mut page);
        page.push_str(slash);
        page.push_str("\">");
        escape_html(name, &mut page);
        page.push_str(slash);
        page.push_str("</a></li>\n");
    }
    page.push_str("</ul>\n");
    if cut {
        let _ = writeln!(
            page,
            "<p>Only the first {MAX_ENTRIES} entries are shown.</p>"
        );
    }
    page.push_str("</body></html>\n");
    Ok(page)
}

fn escape_html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Percent-encodes everything but unreserved characters, so a name is one
/// relative path segment (`:` or `?` in it cannot start a scheme or query).
fn encode_href(name: &str, out: &mut String) {
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        let mut s = String::new();
        escape_html("<a href=\"x\">&'", &mut s);
        assert_eq!(s, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let mut s = String::new();
        encode_href("a b:c?é", &mut s);
        assert_eq!(s, "a%20b%3Ac%3F%C3%A9");
    }
}
