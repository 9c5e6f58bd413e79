//! A response body compressed while it streams.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use tollgate_core::{ErrorKind, ErrorSource, ProxyError};
use tollgate_edge::compress::Encoder;

use crate::body::ResponseBody;

/// Compressed output is handed on once this much is ready (sooner when
/// the upstream pauses or ends).
const EMIT_AT: usize = 16 * 1024;

/// The answer's body passed through an encoder. When the upstream has
/// nothing more for the moment, what was written so far is flushed and
/// sent, so streams (server-sent events, long polls) arrive promptly.
#[derive(Debug)]
pub struct CompressBody {
    inner: ResponseBody,
    encoder: Encoder,
    /// Input written since the last flush.
    unflushed: bool,
    /// The upstream body ended and the encoder was finished.
    finished: bool,
}

impl CompressBody {
    /// Compresses `inner` with `encoder`.
    pub(crate) fn new(inner: ResponseBody, encoder: Encoder) -> Self {
        Self {
            inner,
            encoder,
            unflushed: false,
            finished: false,
        }
    }

    /// Polls for the next compressed piece.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ProxyError>>> {
        loop {
            if self.finished {
                let out = self.encoder.take();
                return Poll::Ready((!out.is_empty()).then(|| Ok(Frame::data(out))));
            }
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    // Trailers are dropped: they may describe the uncompressed bytes.
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if data.is_empty() {
                        continue;
                    }
                    self.encoder.write(&data).map_err(encoder_error)?;
                    self.unflushed = true;
                    if self.encoder.ready() >= EMIT_AT {
                        return Poll::Ready(Some(Ok(Frame::data(self.encoder.take()))));
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    self.encoder.finish().map_err(encoder_error)?;
                    self.finished = true;
                }
                Poll::Pending => {
                    if self.unflushed {
                        self.encoder.flush().map_err(encoder_error)?;
                        self.unflushed = false;
                    }
                    let out = self.encoder.take();
                    if out.is_empty() {
                        return Poll::Pending;
                    }
                    return Poll::Ready(Some(Ok(Frame::data(out))));
                }
            }
        }
    }

    /// Whether everything was sent.
    pub(crate) fn is_end_stream(&self) -> bool {
        self.finished && self.encoder.ready() == 0
    }
}

fn encoder_error(e: std::io::Error) -> ProxyError {
    ProxyError::new(
        ErrorSource::Internal,
        ErrorKind::Internal,
        format!("compression failed: {e}"),
    )
}
