//! Bodies of static answers. Small files are read whole; larger ones are
//! streamed in chunks read on tokio's blocking pool, one chunk in flight at
//! a time, so a large file never sits in memory and the worker's event
//! loop never waits on the disk.

use std::fs::File;
use std::future::Future;
use std::io::Read;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::task::JoinHandle;

/// Bytes read per blocking call when streaming.
pub(crate) const CHUNK: u64 = 128 * 1024;

/// The body of a static answer.
#[derive(Debug)]
pub enum StaticBody {
    /// No body (HEAD, 304, redirects).
    Empty,
    /// In memory: a small file, or a directory listing.
    Full(Bytes),
    /// Streamed from an open file.
    File(FileBody),
}

/// The rest of a file (or of a byte range of it), read chunk by chunk.
#[derive(Debug)]
pub struct FileBody {
    file: Option<File>,
    remaining: u64,
    reading: Option<JoinHandle<(File, std::io::Result<Vec<u8>>)>>,
}

impl FileBody {
    /// Streams `len` bytes of `file` from its current position.
    pub(crate) fn new(file: File, len: u64) -> Self {
        Self {
            file: Some(file),
            remaining: len,
            reading: None,
        }
    }

    /// Bytes still to come.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// The next chunk; `None` at the end. A file that shrank while being
    /// sent is an error (the promised length can no longer be kept).
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Bytes>>> {
        loop {
            if let Some(reading) = &mut self.reading {
                let joined = std::task::ready!(std::pin::Pin::new(reading).poll(cx));
                self.reading = None;
                return Poll::Ready(Some(match joined {
                    Ok((file, Ok(data))) if !data.is_empty() => {
                        self.file = Some(file);
                        self.remaining -= (data.len() as u64).min(self.remaining);
                        Ok(Bytes::from(data))
                    }
                    Ok((_, Ok(_))) => Err(std::io::ErrorKind::UnexpectedEof.into()),
                    Ok((_, Err(e))) => Err(e),
                    Err(e) => Err(std::io::Error::other(e)),
                }));
            }
            if self.remaining == 0 {
                return Poll::Ready(None);
            }
            let Some(file) = self.file.take() else {
                return Poll::Ready(None);
            };
            let want = self.remaining.min(CHUNK);
            self.reading = Some(tokio::task::spawn_blocking(move || {
                let mut file = file;
                let read = read_up_to(&mut file, want);
                (file, read)
            }));
        }
    }
}

/// Reads up to `want` bytes (fewer only at the end of the file).
pub(crate) fn read_up_to(file: &mut File, want: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(usize::try_from(want).unwrap_or(usize::MAX));
    file.by_ref().take(want).read_to_end(&mut buf)?;
    Ok(buf)
}
