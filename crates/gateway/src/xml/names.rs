//! XML names (`Name` and namespace `QName` productions of XML 1.0 and
//! Namespaces in XML), checked on both sides so that neither direction
//! produces a document the other cannot read.

use super::XmlError;

/// Checks a qualified name: `local` or `prefix:local`, each an NCName.
pub(super) fn check(name: &str) -> Result<(), XmlError> {
    let mut parts = name.split(':');
    let ok = match (parts.next(), parts.next(), parts.next()) {
        (Some(local), None, _) => is_ncname(local),
        (Some(prefix), Some(local), None) => is_ncname(prefix) && is_ncname(local),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(XmlError::InvalidName(name.to_owned()))
    }
}

fn is_ncname(s: &str) -> bool {
    // Nearly every name is ASCII: checked by bytes, the same rule.
    if s.is_ascii() {
        let b = s.as_bytes();
        let start = |c: &u8| c.is_ascii_alphabetic() || *c == b'_';
        let rest = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.');
        return b.first().is_some_and(start) && b[1..].iter().all(rest);
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if is_start(c) => chars.all(is_name_char),
        _ => false,
    }
}

fn is_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_start(c)
        || matches!(c,
            '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Whether a character may appear in an XML 1.0 document at all (even
/// written as a character reference).
pub(super) fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}
