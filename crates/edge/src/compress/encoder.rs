//! Streaming encoders for gzip, brotli and zstd, fed one body piece at a
//! time and drained as `Bytes`, with a flush for when the upstream pauses.
//!
//! The codecs (flate2 on zlib-rs, brotli, zstd) are used directly, not
//! through async-compression's `AsyncRead` adaptors: those need the body
//! turned into an `AsyncBufRead` and copy every compressed byte through a
//! fixed read buffer, while here the output vector becomes the `Bytes` the
//! writer sends, and the flush-on-pause is under the body's control. They
//! are the same codecs async-compression drives.

use std::io::{self, Write};

use bytes::Bytes;
use flate2::write::GzEncoder;
use tollgate_config::{Coding, CompressPolicy};

/// brotli window: 1 MiB (lgwin 20), enough for web answers, far less
/// memory per stream than the 4 MiB default.
const BROTLI_LGWIN: u32 = 20;
/// brotli's internal buffer between the encoder and our vector.
const BROTLI_BUFFER: usize = 4096;

/// One answer's encoder. Output accumulates until [`Encoder::take`].
pub struct Encoder {
    inner: Inner,
    /// Output of a finished brotli stream (its writer is consumed by finishing).
    done: Vec<u8>,
}

enum Inner {
    Gzip(GzEncoder<Vec<u8>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
    Finished,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.inner {
            Inner::Gzip(_) => "gzip",
            Inner::Brotli(_) => "br",
            Inner::Zstd(_) => "zstd",
            Inner::Finished => "finished",
        };
        f.debug_struct("Encoder").field("coding", &kind).finish()
    }
}

impl Encoder {
    /// An encoder for `coding` at the policy's level; `length` is the
    /// body's length when known (zstd sizes its window by it).
    pub fn new(coding: Coding, policy: &CompressPolicy, length: Option<u64>) -> io::Result<Self> {
        let inner = match coding {
            Coding::Gzip => Inner::Gzip(GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(policy.gzip_level.min(9)),
            )),
            Coding::Brotli => Inner::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                BROTLI_BUFFER,
                policy.brotli_level.min(11),
                BROTLI_LGWIN,
            ))),
            Coding::Zstd => {
                let mut z = zstd::stream::write::Encoder::new(Vec::new(), policy.zstd_level)?;
                if length.is_some() {
                    z.set_pledged_src_size(length)?;
                }
                Inner::Zstd(z)
            }
        };
        Ok(Self {
            inner,
            done: Vec::new(),
        })
    }

    /// Compresses `data` (output may stay inside the codec until later).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.inner {
            Inner::Gzip(e) => e.write_all(data),
            Inner::Brotli(e) => e.write_all(data),
            Inner::Zstd(e) => e.write_all(data),
            Inner::Finished => Err(io::Error::other("write after finish")),
        }
    }

    /// Pushes out everything written so far as complete compressed data,
    /// so the client can decode it now (a sync flush).
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Gzip(e) => e.flush(),
            Inner::Brotli(e) => e.flush(),
            Inner::Zstd(e) => e.flush(),
            Inner::Finished => Ok(()),
        }
    }

    /// Ends the stream (trailer, checksum); [`Encoder::take`] then has the rest.
    pub fn finish(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.inner, Inner::Finished) {
            Inner::Gzip(mut e) => {
                e.try_finish()?;
                self.done = std::mem::take(e.get_mut());
            }
            Inner::Brotli(e) => self.done = e.into_inner(),
            Inner::Zstd(mut e) => {
                e.do_finish()?;
                self.done = std::mem::take(e.get_mut());
            }
            Inner::Finished => {}
        }
        Ok(())
    }

    /// Compressed bytes ready to send.
    pub fn ready(&self) -> usize {
        match &self.inner {
            Inner::Gzip(e) => e.get_ref().len(),
            Inner::Brotli(e) => e.get_ref().len(),
            Inner::Zstd(e) => e.get_ref().len(),
            Inner::Finished => self.done.len(),
        }
    }

    /// Takes the compressed bytes ready so far (empty when none).
    pub fn take(&mut self) -> Bytes {
        let out = match &mut self.inner {
            Inner::Gzip(e) => e.get_mut(),
            Inner::Brotli(e) => e.get_mut(),
            Inner::Zstd(e) => e.get_mut(),
            Inner::Finished => &mut self.done,
        };
        Bytes::from(std::mem::take(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn policy() -> CompressPolicy {
        CompressPolicy {
            algorithms: vec![Coding::Zstd, Coding::Brotli, Coding::Gzip],
            min_length: 0,
            types: Vec::new(),
            gzip_level: 6,
            brotli_level: 4,
            zstd_level: 3,
        }
    }

    pub(crate) fn decode(coding: Coding, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match coding {
            Coding::Gzip => {
                flate2::read::GzDecoder::new(data)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Coding::Brotli => {
                brotli::Decompressor::new(data, 4096)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Coding::Zstd => out = zstd::stream::decode_all(data).unwrap(),
        }
        out
    }

    #[test]
    fn round_trips_with_flushes_in_between() {
        let text: Vec<u8> = (0..2000)
            .flat_map(|i| format!("line {i} of some text\n").into_bytes())
            .collect();
        for coding in [Coding::Gzip, Coding::Brotli, Coding::Zstd] {
            let mut e = Encoder::new(coding, &policy(), None).unwrap();
            let mut out = Vec::new();
            let (a, b) = text.split_at(1000);
            e.write(a).unwrap();
            e.flush().unwrap();
            let first = e.take();
            assert!(!first.is_empty(), "{coding:?}: a flush produces output");
            out.extend_from_slice(&first);
            e.write(b).unwrap();
            e.finish().unwrap();
            out.extend_from_slice(&e.take());
            assert_eq!(e.ready(), 0);
            assert_eq!(decode(coding, &out), text, "{coding:?}");
            let mut e2 = Encoder::new(coding, &policy(), Some(text.len() as u64)).unwrap();
            e2.write(&text).unwrap();
            e2.finish().unwrap();
            let whole = e2.take();
            assert!(whole.len() < text.len() / 4, "{coding:?} compresses");
            assert_eq!(decode(coding, &whole), text, "{coding:?}");
        }
    }

    #[test]
    fn streamed_output_decodes_to_the_input() {
        let text: Vec<u8> = (0..500)
            .flat_map(|i| format!("{{\"n\":{i}}}\n").into_bytes())
            .collect();
        for coding in [Coding::Gzip, Coding::Brotli, Coding::Zstd] {
            let mut e = Encoder::new(coding, &policy(), None).unwrap();
            let mut out = Vec::new();
            for piece in text.chunks(777) {
                e.write(piece).unwrap();
                e.flush().unwrap();
                out.extend_from_slice(&e.take());
            }
            e.finish().unwrap();
            out.extend_from_slice(&e.take());
            assert_eq!(decode(coding, &out), text, "{coding:?}");
        }
    }
}
