//! A streamed response body's channel: Python sends chunks (from a `StreamingResponse`'s
//! iterator, or an ASGI app's `http.response.body` messages), hyper takes them as the
//! socket takes them. Past `HIGH_WATER` bytes waiting, the sender is asked to wait until
//! the client has taken them down to `LOW_WATER`, so a client that stops reading costs the
//! server a bounded buffer, not the whole stream. The marks are uvicorn's transport's and
//! our WebSocket writer's; each chunk counts `CHUNK_COST` more than its bytes, what holding
//! it costs, so a stream of tiny chunks is bounded too.

use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use pyo3::intern;
use pyo3::prelude::*;
use tokio::sync::mpsc;

use crate::runtime::{Job, LoopSender};

const HIGH_WATER: usize = 64 * 1024;
const LOW_WATER: usize = 16 * 1024;
/// A queued chunk's allocation and its slot in the channel, over its bytes.
const CHUNK_COST: usize = 64;

/// What both ends share.
struct Flow {
    /// Bytes sent and not yet taken by hyper, with `CHUNK_COST` for each chunk.
    unsent: AtomicUsize,
    /// Whether the stream failed before its end.
    aborted: AtomicBool,
    /// Whether a sender waits for `LOW_WATER`.
    draining: AtomicBool,
    /// The future it waits on.
    writable: Mutex<Option<Py<PyAny>>>,
    /// Where the future is resolved: the event loop, once the response is being written.
    to_loop: OnceLock<LoopSender>,
}

/// A streamed body's chunks as they come.
pub struct Chunks {
    rx: mpsc::UnboundedReceiver<Bytes>,
    flow: Arc<Flow>,
}

/// Where a streamed body's chunks are sent from (a loop pass, with the GIL).
pub struct ChunkSender {
    tx: mpsc::UnboundedSender<Bytes>,
    flow: Arc<Flow>,
}

/// A streamed body: its sending end, and what the response reads.
pub fn chunk_channel() -> (ChunkSender, Chunks) {
    let (tx, rx) = mpsc::unbounded_channel();
    let flow = Arc::new(Flow {
        unsent: AtomicUsize::new(0),
        aborted: AtomicBool::new(false),
        draining: AtomicBool::new(false),
        writable: Mutex::new(None),
        to_loop: OnceLock::new(),
    });
    let sender = ChunkSender {
        tx,
        flow: flow.clone(),
    };
    (sender, Chunks { rx, flow })
}

impl ChunkSender {
    /// Queues `chunk`; false once the client has gone.
    pub fn send(&self, chunk: Bytes) -> bool {
        self.flow.unsent.fetch_add(held(&chunk), Ordering::AcqRel);
        self.tx.send(chunk).is_ok()
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Whether the sender should wait (`wait_writable`) before sending more.
    pub fn must_wait(&self) -> bool {
        self.flow.unsent.load(Ordering::Acquire) > HIGH_WATER && !self.tx.is_closed()
    }

    /// Resolves `future` once the client has taken the body down to `LOW_WATER` (or left).
    pub fn wait_writable(&self, py: Python<'_>, future: Py<PyAny>) -> PyResult<()> {
        let flow = &self.flow;
        *lock(&flow.writable) = Some(future);
        flow.draining.store(true, Ordering::Release);
        fence(Ordering::SeqCst);
        let drained = self.tx.is_closed() || flow.unsent.load(Ordering::Acquire) <= LOW_WATER;
        if drained && flow.draining.swap(false, Ordering::AcqRel) {
            return release(py, flow);
        }
        Ok(())
    }

    /// Ends the body unfinished: what was sent goes out, then the connection is closed
    /// without the body's end, so the client sees the response cut, not complete.
    pub fn abort(self) {
        self.flow.aborted.store(true, Ordering::Release);
    }
}

impl Chunks {
    /// Where a waiting sender is let go from.
    pub fn release_on(&self, to_loop: &LoopSender) {
        let _ = self.flow.to_loop.set(to_loop.clone());
    }

    /// The next chunk; `Err` when the stream was aborted.
    pub fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, StreamAborted>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(chunk)) => {
                self.taken(held(&chunk));
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) if self.flow.aborted.load(Ordering::Acquire) => {
                Poll::Ready(Some(Err(StreamAborted)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn taken(&self, bytes: usize) {
        let flow = &self.flow;
        let before = flow.unsent.fetch_sub(bytes, Ordering::AcqRel);
        if before > LOW_WATER && before - bytes <= LOW_WATER {
            self.let_go();
        }
    }

    /// Lets a waiting sender go on, in the loop's next pass.
    fn let_go(&self) {
        let flow = &self.flow;
        if !flow.draining.swap(false, Ordering::AcqRel) {
            return;
        }
        if let Some(to_loop) = flow.to_loop.get() {
            let flow = flow.clone();
            to_loop.send(Job::run(move |py, _| {
                if let Err(err) = release(py, &flow) {
                    crate::runtime::report(py, err);
                }
            }));
        }
    }
}

impl Drop for Chunks {
    /// The client left (or the body ended): a waiting sender hears it.
    fn drop(&mut self) {
        self.rx.close();
        self.let_go();
    }
}

/// What a queued chunk counts for in `Flow::unsent`.
fn held(chunk: &Bytes) -> usize {
    chunk.len() + CHUNK_COST
}

fn release(py: Python<'_>, flow: &Flow) -> PyResult<()> {
    let Some(future) = lock(&flow.writable).take() else {
        return Ok(());
    };
    let future = future.bind(py);
    if !future.call_method0(intern!(py, "done"))?.is_truthy()? {
        future.call_method1(intern!(py, "set_result"), (py.None(),))?;
    }
    Ok(())
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

fn lock<T>(slot: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
