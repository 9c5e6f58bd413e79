//! Strict HTTP/1.1 message codec for tollgate (RFC 9112), without I/O.
//!
//! * [`parse_request`] / [`parse_response`] turn a buffered head into a
//!   validated [`RequestHead`] / [`ResponseHead`] with its [`BodyFraming`].
//! * [`ChunkedDecoder`] / [`LengthDecoder`] split body bytes off a `BytesMut`.
//! * `encode_*` append heads and chunks to a `BytesMut`.
//!
//! See `LIFECYCLE.md` for which RFC rules are enforced where.

mod chunked;
mod encode;
mod error;
mod fields;
mod framing;
mod length;
mod limits;
mod request;
mod response;

pub use chunked::{ChunkEvent, ChunkedDecoder};
pub use encode::{
    encode_chunk, encode_last_chunk, encode_request_head, encode_response_head, ConnectionField,
    FramingField, HeadExtras,
};
pub use error::{ChunkError, HeadError};
pub use framing::BodyFraming;
pub use length::LengthDecoder;
pub use limits::HeadLimits;
pub use request::{is_h2_preface, parse_request, RequestHead, H2_PREFACE};
pub use response::{parse_response, parse_response_with_room, ResponseHead};
