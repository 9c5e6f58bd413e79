//! The request's host as a policy chain reads it: copied out of the request
//! (policies change the request's fields while they read the host), kept
//! inline when it is short so a chain does not allocate for it.

/// Longest host kept inline; longer ones go to the heap.
const INLINE: usize = 64;

/// A copy of the request's host (lowercase, without port).
pub(crate) enum HostCopy {
    /// A host of at most [`INLINE`] bytes.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// A longer host.
    Heap(Box<str>),
}

impl HostCopy {
    /// A copy of `host`.
    pub(crate) fn of(host: &str) -> Self {
        let b = host.as_bytes();
        match u8::try_from(b.len()) {
            Ok(len) if b.len() <= INLINE => {
                let mut bytes = [0u8; INLINE];
                bytes[..b.len()].copy_from_slice(b);
                HostCopy::Inline { len, bytes }
            }
            _ => HostCopy::Heap(host.into()),
        }
    }

    /// The host.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Copied from a `str` whole: always UTF-8.
            HostCopy::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            HostCopy::Heap(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_hosts_read_back_whole() {
        for host in ["", "api.example", "ünïcode.example", &"h".repeat(64)] {
            let copy = HostCopy::of(host);
            assert!(matches!(copy, HostCopy::Inline { .. }), "{host}");
            assert_eq!(copy.as_str(), host);
        }
        let long = format!("{}.example", "a".repeat(80));
        let copy = HostCopy::of(&long);
        assert!(matches!(copy, HostCopy::Heap(_)));
        assert_eq!(copy.as_str(), long);
    }
}
