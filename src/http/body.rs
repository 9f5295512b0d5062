//! The response body the server writes: a full buffer or a stream of chunks fed from
//! the event loop, with the response's background task handed to the loop once hyper
//! is done with the body.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pyo3::prelude::*;
use tokio::sync::mpsc;

use crate::runtime::{Job, LoopSender};

pub struct ResponseBody {
    kind: Kind,
    background: Option<(Py<PyAny>, LoopSender)>,
}

enum Kind {
    Full(Option<Bytes>),
    Stream(Chunks),
}

/// A streamed body's chunks as they come, and whether the stream failed before its end.
pub struct Chunks {
    rx: mpsc::UnboundedReceiver<Bytes>,
    aborted: Arc<AtomicBool>,
}

/// Where a streamed body's chunks are sent from (the event loop, a pool thread).
pub struct ChunkSender {
    tx: mpsc::UnboundedSender<Bytes>,
    aborted: Arc<AtomicBool>,
}

/// A streamed body: its sending end, and what the response reads.
pub fn chunk_channel() -> (ChunkSender, Chunks) {
    let (tx, rx) = mpsc::unbounded_channel();
    let aborted = Arc::new(AtomicBool::new(false));
    let sender = ChunkSender {
        tx,
        aborted: aborted.clone(),
    };
    (sender, Chunks { rx, aborted })
}

impl ChunkSender {
    /// Queues `chunk`; false once the client has gone.
    pub fn send(&self, chunk: Bytes) -> bool {
        self.tx.send(chunk).is_ok()
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Ends the body unfinished: what was sent goes out, then the connection is closed
    /// without the body's end, so the client sees the response cut, not complete.
    pub fn abort(self) {
        self.aborted.store(true, Ordering::Release);
    }
}

/// The error that makes hyper drop the connection of a body cut short.
#[derive(Debug)]
pub struct StreamAborted;

impl std::fmt::Display for StreamAborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the response body failed before its end")
    }
}

impl std::error::Error for StreamAborted {}

impl ResponseBody {
    pub fn full(bytes: Bytes) -> Self {
        Self {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
            background: None,
        }
    }

    pub fn stream(chunks: Chunks) -> Self {
        Self {
            kind: Kind::Stream(chunks),
            background: None,
        }
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
            Kind::Stream(chunks) => match chunks.rx.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
                Poll::Ready(None) if chunks.aborted.load(Ordering::Acquire) => {
                    Poll::Ready(Some(Err(StreamAborted)))
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, Kind::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Kind::Full(None) => SizeHint::with_exact(0),
            Kind::Stream(_) => SizeHint::default(),
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
