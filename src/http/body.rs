//! The response body the server writes: a full buffer or a stream of chunks fed from
//! the event loop, with the response's background task handed to the loop once hyper
//! is done with the body.

use std::pin::Pin;
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
    Stream(mpsc::UnboundedReceiver<Bytes>),
}

impl ResponseBody {
    pub fn full(bytes: Bytes) -> Self {
        Self {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
            background: None,
        }
    }

    pub fn stream(chunks: mpsc::UnboundedReceiver<Bytes>) -> Self {
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
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match &mut self.kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Stream(chunks) => chunks.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b)))),
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
                    err.print(py);
                }
            }));
        }
    }
}
