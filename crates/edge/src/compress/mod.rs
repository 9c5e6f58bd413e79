//! Compression of answers: Accept-Encoding negotiation (`accept`), the
//! decision and field edits (`decide`), and streaming encoders (`encoder`).
//! The proxy's `compress` policy drives these.

pub(crate) mod accept;
mod decide;
mod encoder;

pub use accept::negotiate;
pub use decide::{add_vary, decide, mark_compressed, Decision, RequestSide};
pub use encoder::Encoder;
