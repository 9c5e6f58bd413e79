//! Why a mapping was refused, in words a 400 answer or a log line can use.

use std::fmt;

/// A refused document or value, in either direction of the mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    /// The document has a `<!DOCTYPE`: DTDs are never read (XXE, entity expansion).
    DoctypeRefused,
    /// An entity other than the five predefined ones, or a bad character reference.
    UnknownEntity(String),
    /// The input is larger than `limits.max_bytes`.
    TooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// Elements nest deeper than `limits.max_depth`.
    TooDeep {
        /// The depth limit that was exceeded.
        limit: usize,
    },
    /// More elements and attributes than `limits.max_nodes`.
    TooManyNodes {
        /// The node limit that was exceeded.
        limit: usize,
    },
    /// The input is not UTF-8.
    NotUtf8,
    /// The XML is not well-formed (the reader's reason and byte offset).
    Malformed(String),
    /// The input is not JSON.
    InvalidJson(String),
    /// A name that is not an XML name (an element, attribute or prefix).
    InvalidName(String),
    /// A JSON shape or character that has no XML form.
    Unrepresentable(String),
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::DoctypeRefused => {
                f.write_str("XML document type declarations (DOCTYPE) are not accepted")
            }
            XmlError::UnknownEntity(e) => write!(f, "XML entity not accepted: &{e};"),
            XmlError::TooLarge { limit } => write!(f, "XML input larger than {limit} bytes"),
            XmlError::TooDeep { limit } => write!(f, "XML elements nested deeper than {limit}"),
            XmlError::TooManyNodes { limit } => {
                write!(
                    f,
                    "XML document has more than {limit} elements and attributes"
                )
            }
            XmlError::NotUtf8 => f.write_str("XML input is not UTF-8"),
            XmlError::Malformed(why) => write!(f, "malformed XML: {why}"),
            XmlError::InvalidJson(why) => write!(f, "invalid JSON: {why}"),
            XmlError::InvalidName(n) => write!(f, "not an XML name: {n:?}"),
            XmlError::Unrepresentable(why) => write!(f, "no XML form: {why}"),
        }
    }
}

impl std::error::Error for XmlError {}
