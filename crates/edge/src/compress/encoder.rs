//! Streaming encoders for gzip, brotli and zstd, fed one body piece at a
//! time and drained as `Bytes`, with a flush for when the upstream pauses.
//!
//! The codecs (flate2 on zlib-rs, brotli, zstd) are used directly, not
//! through async-compression's `AsyncRead` adaptors: those need the body
//! turned into an `AsyncBufRead` and copy every compressed byte through a
//! fixed read buffer, while here the output vector becomes the `Bytes` the
//! writer sends, and the flush-on-pause is under the body's control. They
//! are the same codecs async-compression drives.
//!
//! gzip is framed here around a raw deflate stream whose state (about
//! 300 KiB) is kept per thread and reset between answers: allocating it per
//! answer cost page faults and `madvise` calls as the allocator returned it
//! to the system (measured: about a tenth of the CPU of a 16 KiB answer).

use std::cell::RefCell;
use std::io::{self, Write};

use bytes::Bytes;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use tollgate_config::{Coding, CompressPolicy};

/// brotli window: 1 MiB (lgwin 20), enough for web answers, far less
/// memory per stream than the 4 MiB default.
const BROTLI_LGWIN: u32 = 20;
/// brotli's internal buffer between the encoder and our vector.
const BROTLI_BUFFER: usize = 4096;
/// Deflate states kept per thread for reuse.
const POOLED_DEFLATE: usize = 4;
/// gzip header: deflate, no flags, no mtime, no extra flags, OS unknown (RFC 1952).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

thread_local! {
    /// Idle deflate states by level, reset and ready.
    static DEFLATE: RefCell<Vec<(u32, Compress)>> = const { RefCell::new(Vec::new()) };
}

/// One answer's encoder. Output accumulates until [`Encoder::take`].
pub struct Encoder {
    inner: Inner,
    /// Compressed output not taken yet.
    out: Vec<u8>,
}

enum Inner {
    Gzip(Gzip),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
    Finished,
}

/// A gzip member around a pooled raw deflate state.
struct Gzip {
    /// `None` only after the state went back to the pool.
    deflate: Option<Compress>,
    level: u32,
    crc: Crc,
    /// The header was written.
    started: bool,
}

impl Gzip {
    fn new(level: u32) -> Self {
        let pooled = DEFLATE
            .try_with(|pool| {
                let mut pool = pool.try_borrow_mut().ok()?;
                let i = pool.iter().position(|(l, _)| *l == level)?;
                Some(pool.swap_remove(i).1)
            })
            .ok()
            .flatten();
        Self {
            deflate: Some(pooled.unwrap_or_else(|| Compress::new(Compression::new(level), false))),
            level,
            crc: Crc::new(),
            started: false,
        }
    }

    /// Runs deflate over `input` with `flush` until the input is consumed and
    /// deflate stops with room to spare (zlib's sign that a flush is complete).
    fn run(&mut self, mut input: &[u8], flush: FlushCompress, out: &mut Vec<u8>) -> io::Result<()> {
        if !self.started {
            out.extend_from_slice(&GZIP_HEADER);
            self.started = true;
        }
        let Some(d) = self.deflate.as_mut() else {
            return Err(io::Error::other("gzip stream already finished"));
        };
        loop {
            // deflate writes only into spare capacity.
            out.reserve((input.len() / 2).max(4096));
            let (before_in, before_out) = (d.total_in(), d.total_out());
            let status = d
                .compress_vec(input, out, flush)
                .map_err(|e| io::Error::other(e.to_string()))?;
            input = &input[(d.total_in() - before_in) as usize..];
            let progress = d.total_in() != before_in || d.total_out() != before_out;
            let filled = out.len() == out.capacity();
            match status {
                Status::StreamEnd => return Ok(()),
                _ if (!input.is_empty() || filled) && progress => {}
                _ => return Ok(()),
            }
        }
    }

    fn write(&mut self, data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        self.crc.update(data);
        self.run(data, FlushCompress::None, out)
    }

    fn flush(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        self.run(&[], FlushCompress::Sync, out)
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        self.run(&[], FlushCompress::Finish, out)?;
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        out.extend_from_slice(&self.crc.amount().to_le_bytes());
        self.release();
        Ok(())
    }

    /// Resets the deflate state and keeps it for the next answer.
    fn release(&mut self) {
        if let Some(mut d) = self.deflate.take() {
            d.reset();
            let level = self.level;
            // `try_`: an encoder dropped while its thread exits finds no pool.
            let _ = DEFLATE.try_with(|pool| {
                if let Ok(mut pool) = pool.try_borrow_mut() {
                    if pool.len() < POOLED_DEFLATE {
                        pool.push((level, d));
                    }
                }
            });
        }
    }
}

impl Drop for Gzip {
    fn drop(&mut self) {
        // An answer cut short still gives its state back.
        self.release();
    }
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
            Coding::Gzip => Inner::Gzip(Gzip::new(policy.gzip_level.clamp(1, 9))),
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
            out: Vec::new(),
        })
    }

    /// Compresses `data` (output may stay inside the codec until later).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.inner {
            Inner::Gzip(g) => g.write(data, &mut self.out),
            Inner::Brotli(e) => e.write_all(data),
            Inner::Zstd(e) => e.write_all(data),
            Inner::Finished => Err(io::Error::other("write after finish")),
        }
    }

    /// Pushes out everything written so far as complete compressed data,
    /// so the client can decode it now (a sync flush).
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Gzip(g) => g.flush(&mut self.out),
            Inner::Brotli(e) => e.flush(),
            Inner::Zstd(e) => e.flush(),
            Inner::Finished => Ok(()),
        }
    }

    /// Ends the stream (trailer, checksum); [`Encoder::take`] then has the rest.
    pub fn finish(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.inner, Inner::Finished) {
            Inner::Gzip(mut g) => g.finish(&mut self.out)?,
            Inner::Brotli(e) => {
                let rest = e.into_inner();
                self.out.extend_from_slice(&rest);
            }
            Inner::Zstd(mut e) => {
                e.do_finish()?;
                self.out.extend_from_slice(e.get_ref());
            }
            Inner::Finished => {}
        }
        Ok(())
    }

    /// Compressed bytes ready to send.
    pub fn ready(&self) -> usize {
        self.out.len()
            + match &self.inner {
                Inner::Brotli(e) => e.get_ref().len(),
                Inner::Zstd(e) => e.get_ref().len(),
                Inner::Gzip(_) | Inner::Finished => 0,
            }
    }

    /// Takes the compressed bytes ready so far (empty when none).
    pub fn take(&mut self) -> Bytes {
        match &mut self.inner {
            Inner::Brotli(e) => self.out.append(e.get_mut()),
            Inner::Zstd(e) => self.out.append(e.get_mut()),
            Inner::Gzip(_) | Inner::Finished => {}
        }
        Bytes::from(std::mem::take(&mut self.out))
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
    fn gzip_states_are_reused_and_empty_bodies_are_valid() {
        for _ in 0..3 {
            let mut e = Encoder::new(Coding::Gzip, &policy(), None).unwrap();
            e.finish().unwrap();
            assert_eq!(decode(Coding::Gzip, &e.take()), b"");
            // A stream dropped half way gives its state back too.
            let mut cut = Encoder::new(Coding::Gzip, &policy(), None).unwrap();
            cut.write(b"partial").unwrap();
        }
        assert!(DEFLATE.with_borrow(|p| !p.is_empty() && p.len() <= POOLED_DEFLATE));
        let big: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut e = Encoder::new(Coding::Gzip, &policy(), None).unwrap();
        e.write(&big).unwrap();
        e.finish().unwrap();
        assert_eq!(decode(Coding::Gzip, &e.take()), big);
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
