//! Content-Length delimited body decoder.

use bytes::BytesMut;

use crate::chunked::ChunkEvent;

/// Yields exactly `remaining` body bytes, split off the input without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthDecoder {
    remaining: u64,
}

impl LengthDecoder {
    /// A decoder for a body of `length` bytes.
    pub fn new(length: u64) -> Self {
        LengthDecoder { remaining: length }
    }

    /// Body bytes still expected.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// True once all body bytes were returned.
    pub fn is_done(&self) -> bool {
        self.remaining == 0
    }

    /// Returns `Data` with up to `remaining` bytes from the front of `input`,
    /// `NeedMore` when `input` is empty, and `End` once the body is complete
    /// (bytes after the body stay in `input`).
    pub fn decode(&mut self, input: &mut BytesMut) -> ChunkEvent {
        if self.remaining == 0 {
            return ChunkEvent::End { trailers: None };
        }
        if input.is_empty() {
            return ChunkEvent::NeedMore;
        }
        let take = usize::try_from(self.remaining).map_or(input.len(), |r| r.min(input.len()));
        self.remaining = self.remaining.saturating_sub(take as u64);
        ChunkEvent::Data(input.split_to(take).freeze())
    }
}
