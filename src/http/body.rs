//! The response body the server writes: a full buffer or a stream of chunks fed from
//! the event loop, with the response's background task handed to the loop once hyper
//! is done with the body.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pyo3::prelude::*;

pub use super::chunks::{chunk_channel, ChunkSender, Chunks, StreamAborted};
use crate::layers::Encoder;
use crate::runtime::{Job, LoopSender};

pub struct ResponseBody {
    kind: Kind,
    background: Option<(Py<PyAny>, LoopSender)>,
}

enum Kind {
    Full(Option<Bytes>),
    Stream(Chunks),
    /// A stream compressed chunk by chunk; the encoder is taken once its end is written.
    Encoded(Box<(Chunks, Option<Encoder>)>),
    /// A file read as the client takes it.
    File(Box<FileBody>),
}

/// A file sent in chunks: exactly `remaining` more bytes (its size when it was looked at).
/// Each chunk is read when hyper asks for it, on the connection's thread, as nginx reads
/// without aio: a page-cache read is quick, and no thread or buffer is held per transfer.
pub struct FileBody {
    file: std::fs::File,
    remaining: u64,
}

/// The largest chunk of a file read at once.
const FILE_CHUNK: usize = 512 * 1024;

impl ResponseBody {
    pub fn full(bytes: Bytes) -> Self {
        Self {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
            background: None,
        }
    }

    /// A streamed body; a sender waiting for the client is let go on `to_loop`.
    pub fn stream(chunks: Chunks, to_loop: &LoopSender) -> Self {
        chunks.release_on(to_loop);
        Self {
            kind: Kind::Stream(chunks),
            background: None,
        }
    }

    /// A file of `len` bytes, read as the client takes it.
    pub fn file(file: std::fs::File, len: u64) -> Self {
        Self {
            kind: Kind::File(Box::new(FileBody {
                file,
                remaining: len,
            })),
            background: None,
        }
    }

    /// The size of a whole body; None for a stream.
    pub fn whole_len(&self) -> Option<usize> {
        match &self.kind {
            Kind::Full(bytes) => Some(bytes.as_ref().map_or(0, Bytes::len)),
            Kind::Stream(_) | Kind::Encoded(_) | Kind::File(_) => None,
        }
    }

    /// This body through `encoder`: a whole body at once, a stream chunk by chunk (each
    /// flushed, so the client decodes what it has as it comes).
    pub fn encoded(mut self, mut encoder: Encoder) -> Self {
        self.kind = match std::mem::replace(&mut self.kind, Kind::Full(None)) {
            Kind::Full(bytes) => {
                let compressed = encoder.chunk(bytes.as_deref().unwrap_or_default(), false);
                Kind::Full((!compressed.is_empty()).then_some(compressed))
            }
            Kind::Stream(chunks) => Kind::Encoded(Box::new((chunks, Some(encoder)))),
            // Files are served as they are (a compression layer sees them as streams only
            // when they come through Python).
            other @ (Kind::Encoded(_) | Kind::File(_)) => other,
        };
        self
    }

    pub fn with_background(mut self, task: Option<Py<PyAny>>, sender: &LoopSender) -> Self {
        self.background = task.map(|task| (task, sender.clone()));
        self
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = StreamAborted;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match &mut self.kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Stream(chunks) => chunks
                .poll_chunk(cx)
                .map(|chunk| chunk.map(|chunk| chunk.map(Frame::data))),
            Kind::File(file) => file.poll_chunk(),
            Kind::Encoded(encoded) => loop {
                let (chunks, encoder) = &mut **encoded;
                let Some(active) = encoder.as_mut() else {
                    return Poll::Ready(None);
                };
                match chunks.poll_chunk(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Err(aborted))) => return Poll::Ready(Some(Err(aborted))),
                    Poll::Ready(Some(Ok(chunk))) => {
                        let compressed = active.chunk(&chunk, true);
                        if !compressed.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(compressed))));
                        }
                    }
                    Poll::Ready(None) => {
                        let tail = active.chunk(&[], false);
                        *encoder = None;
                        return Poll::Ready(Some(Ok(Frame::data(tail))));
                    }
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(None) => true,
            Kind::File(file) => file.remaining == 0,
            _ => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Kind::Full(None) => SizeHint::with_exact(0),
            Kind::Stream(_) | Kind::Encoded(_) => SizeHint::default(),
            Kind::File(file) => SizeHint::with_exact(file.remaining),
        }
    }
}

impl FileBody {
    fn poll_chunk(&mut self) -> Poll<Option<Result<Frame<Bytes>, StreamAborted>>> {
        use std::io::Read;
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = self.remaining.min(FILE_CHUNK as u64);
        // Read into spare capacity: no zeroing pass over the chunk first.
        let mut chunk = Vec::with_capacity(want as usize);
        match (&mut self.file).take(want).read_to_end(&mut chunk) {
            // The file shrank or failed: the client sees the body cut, not complete.
            Ok(0) | Err(_) => Poll::Ready(Some(Err(StreamAborted))),
            Ok(read) => {
                self.remaining -= read as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
            }
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // hyper drops the body once it has written the last byte (or the client left):
        // that is when background tasks run, after the response, as in Starlette.
        if let Some((task, sender)) = self.background.take() {
            sender.send(Job::run(move |py, tasks| {
                let event_loop = tasks.event_loop(py);
                if let Err(err) =
                    event_loop.call_method1(pyo3::intern!(py, "run_background"), (task,))
                {
                    crate::runtime::report(py, err);
                }
            }));
        }
    }
}
