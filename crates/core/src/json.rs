//! JSON string literals, written by hand: the error bodies and the access
//! log are small fixed shapes that need no serializer.

use std::fmt::Write;

/// Appends `s` to `out` as a JSON string literal: quotes and backslashes
/// escaped, control characters and DEL as `\uXXXX` (`\n`, `\r`, `\t` short).
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_json_requires() {
        let mut s = String::new();
        push_json_string(&mut s, "a\"b\\c\nd\u{1}\u{7f}é");
        assert_eq!(s, r#""a\"b\\c\nd\u0001\u007fé""#);
    }
}
