//! Undoing a body's content coding so it can be edited: gzip, br and zstd,
//! bounded so that a small compressed body cannot grow past the limit
//! (a decompression bomb costs at most `limit` bytes of memory).

use std::io::Read;

/// A content coding the transforms can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// No coding (`identity`, or no `Content-Encoding`).
    Identity,
    /// `gzip` (or the old `x-gzip`).
    Gzip,
    /// `br`.
    Brotli,
    /// `zstd`.
    Zstd,
}

impl Coding {
    /// The coding a `Content-Encoding` value names; `None` for anything else
    /// (an unknown coding, or several stacked).
    pub fn of(content_encoding: Option<&[u8]>) -> Option<Coding> {
        let Some(value) = content_encoding else {
            return Some(Coding::Identity);
        };
        let v = value.trim_ascii();
        if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") {
            Some(Coding::Gzip)
        } else if v.eq_ignore_ascii_case(b"br") {
            Some(Coding::Brotli)
        } else if v.eq_ignore_ascii_case(b"zstd") {
            Some(Coding::Zstd)
        } else if v.eq_ignore_ascii_case(b"identity") || v.is_empty() {
            Some(Coding::Identity)
        } else {
            None
        }
    }
}

/// Why a coded body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Decoded, it is larger than the limit.
    TooLarge,
    /// The data is not valid for its coding.
    Corrupt(String),
}

/// Decodes `data`, refusing output larger than `limit` bytes.
pub fn decode(coding: Coding, data: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let reader: Box<dyn Read + '_> = match coding {
        Coding::Identity => {
            return if data.len() > limit {
                Err(DecodeError::TooLarge)
            } else {
                Ok(data.to_vec())
            }
        }
        Coding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(data)),
        Coding::Brotli => Box::new(brotli::Decompressor::new(data, 4096)),
        Coding::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(data)
                .map_err(|e| DecodeError::Corrupt(e.to_string()))?,
        ),
    };
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
    // One byte past the limit tells "too large" from "exactly the limit".
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_is_decoded_within_the_limit_and_refused_past_it() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[b'a'; 10_000]).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(decode(Coding::Gzip, &gz, 10_000).unwrap().len(), 10_000);
        assert_eq!(decode(Coding::Gzip, &gz, 9_999), Err(DecodeError::TooLarge));
        assert!(matches!(
            decode(Coding::Gzip, b"not gzip", 100),
            Err(DecodeError::Corrupt(_))
        ));
    }

    #[test]
    fn zstd_and_brotli_are_decoded() {
        let z = zstd::stream::encode_all(&b"{\"a\":1}"[..], 3).unwrap();
        assert_eq!(decode(Coding::Zstd, &z, 100).unwrap(), b"{\"a\":1}");
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(b"{\"b\":2}").unwrap();
        }
        assert_eq!(decode(Coding::Brotli, &br, 100).unwrap(), b"{\"b\":2}");
    }

    #[test]
    fn codings_are_read_from_the_field() {
        assert_eq!(Coding::of(None), Some(Coding::Identity));
        assert_eq!(Coding::of(Some(b"GZIP")), Some(Coding::Gzip));
        assert_eq!(Coding::of(Some(b"gzip, br")), None);
        assert_eq!(Coding::of(Some(b"compress")), None);
    }
}
