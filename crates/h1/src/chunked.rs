//! Incremental chunked transfer-coding decoder (RFC 9112 §7.1).

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;

use crate::error::ChunkError;
use crate::fields::Fields;

/// Cumulative chunk-extension bytes tolerated per body (extensions are
/// ignored, but must not let a peer burn CPU without sending data).
const MAX_EXTENSION_BYTES: usize = 16 * 1024;
/// Hex digits allowed in a chunk size, leading zeros included.
const MAX_SIZE_DIGITS: u8 = 16;
/// Trailer field lines accepted.
const MAX_TRAILER_FIELDS: usize = 64;

/// One step of body decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkEvent {
    /// Body bytes, split off the input without copying.
    Data(Bytes),
    /// The input is exhausted; call again with more bytes.
    NeedMore,
    /// The body is complete; for chunked bodies, any non-empty trailer section.
    End {
        /// Trailer fields, if the trailer section was not empty.
        trailers: Option<HeaderMap>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    SizeBws,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    Trailers,
    Done,
}

/// Incremental decoder for a chunked body; keeps its state across calls.
#[derive(Debug)]
pub struct ChunkedDecoder {
    state: State,
    /// Size being parsed, then bytes left in the current chunk.
    size: u64,
    digits: u8,
    extension_bytes: usize,
    max_trailer_bytes: usize,
    trailer: BytesMut,
    trailer_line_start: usize,
}

impl ChunkedDecoder {
    /// A decoder accepting a trailer section of at most `max_trailer_bytes`
    /// (field lines only; the final empty line is not counted).
    pub fn new(max_trailer_bytes: usize) -> Self {
        ChunkedDecoder {
            state: State::Size,
            size: 0,
            digits: 0,
            extension_bytes: 0,
            max_trailer_bytes,
            trailer: BytesMut::new(),
            trailer_line_start: 0,
        }
    }

    /// True once the last chunk and trailer section have been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes framing from `input` and returns the next event. Data is
    /// split off the front of `input`; bytes after the end of the body are
    /// left in `input`. After `End`, further calls return `End` again with
    /// no trailers and consume nothing.
    pub fn decode(&mut self, input: &mut BytesMut) -> Result<ChunkEvent, ChunkError> {
        loop {
            match self.state {
                State::Data => {
                    if input.is_empty() {
                        return Ok(ChunkEvent::NeedMore);
                    }
                    let take =
                        usize::try_from(self.size).map_or(input.len(), |s| s.min(input.len()));
                    self.size = self.size.saturating_sub(take as u64);
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok(ChunkEvent::Data(input.split_to(take).freeze()));
                }
                State::Trailers => return self.trailers(input),
                State::Done => return Ok(ChunkEvent::End { trailers: None }),
                _ => {
                    let mut used = 0;
                    let mut result = Ok(());
                    for &b in input.iter() {
                        used += 1;
                        result = self.step(b);
                        if result.is_err() || matches!(self.state, State::Data | State::Trailers) {
                            break;
                        }
                    }
                    input.advance(used);
                    result?;
                    if !matches!(self.state, State::Data | State::Trailers) {
                        return Ok(ChunkEvent::NeedMore);
                    }
                }
            }
        }
    }

    /// Advances the framing state machine by one byte.
    fn step(&mut self, b: u8) -> Result<(), ChunkError> {
        match self.state {
            State::Size => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    let digit = (b as char).to_digit(16).unwrap_or(0);
                    self.digits += 1;
                    if self.digits > MAX_SIZE_DIGITS {
                        return Err(ChunkError::SizeOverflow);
                    }
                    self.size = self
                        .size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(u64::from(digit)))
                        .filter(|&s| s < 1 << 63)
                        .ok_or(ChunkError::SizeOverflow)?;
                }
                _ if self.digits == 0 => return Err(ChunkError::InvalidSize),
                b' ' | b'\t' => self.state = State::SizeBws,
                b';' => self.state = State::Extension,
                b'\r' => self.state = State::SizeLf,
                b'\n' => return Err(ChunkError::BareLf),
                _ => return Err(ChunkError::InvalidSize),
            },
            State::SizeBws => match b {
                b' ' | b'\t' => {}
                b';' => self.state = State::Extension,
                _ => return Err(ChunkError::InvalidSize),
            },
            State::Extension => {
                self.extension_bytes += 1;
                if self.extension_bytes > MAX_EXTENSION_BYTES {
                    return Err(ChunkError::ExtensionsTooLarge);
                }
                match b {
                    b'\r' => self.state = State::SizeLf,
                    b'\n' => return Err(ChunkError::BareLf),
                    b'\t' | 0x20..=0x7e | 0x80..=0xff => {}
                    _ => return Err(ChunkError::InvalidExtension),
                }
            }
            State::SizeLf => {
                if b != b'\n' {
                    return Err(ChunkError::BareCr);
                }
                self.digits = 0;
                self.state = if self.size == 0 {
                    State::Trailers
                } else {
                    State::Data
                };
            }
            State::DataCr => match b {
                b'\r' => self.state = State::DataLf,
                b'\n' => return Err(ChunkError::BareLf),
                _ => return Err(ChunkError::MissingCrlf),
            },
            State::DataLf => {
                if b != b'\n' {
                    return Err(ChunkError::BareCr);
                }
                self.state = State::Size;
            }
            State::Data | State::Trailers | State::Done => {}
        }
        Ok(())
    }

    /// Accumulates the trailer section line by line, then parses it.
    fn trailers(&mut self, input: &mut BytesMut) -> Result<ChunkEvent, ChunkError> {
        let limit = self.max_trailer_bytes.saturating_add(2);
        loop {
            let Some(nl) = memchr::memchr(b'\n', input) else {
                if self.trailer.len().saturating_add(input.len()) > limit {
                    return Err(ChunkError::TrailersTooLarge);
                }
                self.trailer.extend_from_slice(input);
                input.clear();
                return Ok(ChunkEvent::NeedMore);
            };
            let line_len = nl + 1;
            if self.trailer.len().saturating_add(line_len) > limit {
                return Err(ChunkError::TrailersTooLarge);
            }
            self.trailer
                .extend_from_slice(input.get(..line_len).unwrap_or_default());
            input.advance(line_len);
            let line = self
                .trailer
                .get(self.trailer_line_start..)
                .unwrap_or_default();
            if !line.ends_with(b"\r\n") {
                return Err(ChunkError::BareLf);
            }
            if line.len() == 2 {
                self.state = State::Done;
                if self.trailer_line_start == 0 {
                    return Ok(ChunkEvent::End { trailers: None });
                }
                let trailers = parse_trailers(&self.trailer)?;
                self.trailer = BytesMut::new();
                return Ok(ChunkEvent::End {
                    trailers: Some(trailers),
                });
            }
            self.trailer_line_start = self.trailer.len();
        }
    }
}

fn parse_trailers(section: &[u8]) -> Result<HeaderMap, ChunkError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_TRAILER_FIELDS];
    match httparse::parse_headers(section, &mut slots) {
        Ok(httparse::Status::Complete((n, fields))) if n == section.len() => {
            Fields::collect_copied(fields).ok_or(ChunkError::InvalidTrailers)
        }
        _ => Err(ChunkError::InvalidTrailers),
    }
}
