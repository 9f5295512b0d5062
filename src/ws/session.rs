//! What a connection's tokio task and its Python handler share: the inbox of
//! received messages, the futures Python awaits, and the count of bytes queued
//! for sending.
//!
//! Python runs only during the event loop's passes, so a waiting `receive()` is an
//! asyncio Future that the loop resolves: Python parks the Future and raises a flag;
//! the reader (a tokio task, without the GIL) queues a message and, if it is the one
//! to lower the flag, queues one job for the loop, which sets the result under the
//! GIL in its next pass. The two sides share atomics and channels, not a lock held
//! across Python code. Both sides bound their queues: the
//! reader stops reading while the inbox is full, and `send_*` asks Python to
//! await a drain once too many bytes wait to be written.

use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crossbeam_channel::{Receiver, Sender};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use tokio::sync::Notify;

use crate::runtime::{Job, LoopSender};

/// Received messages held for Python before the reader stops reading.
const INBOX_LIMIT: usize = 16;
/// Bytes queued for the writer past which a sender awaits a drain...
const HIGH_WATER: usize = 64 * 1024;
/// ...until this few are left.
const LOW_WATER: usize = 16 * 1024;

/// A message for Python.
pub enum Incoming {
    Text(String),
    Binary(Vec<u8>),
    /// The connection is over: the client's close code (1005 when it gave none,
    /// 1006 when it vanished) and reason.
    Closed(u16, String),
}

impl Incoming {
    /// `str`, `bytes`, or `(code, reason)` once closed.
    fn into_py(self, py: Python<'_>) -> PyResult<PyObject> {
        Ok(match self {
            Incoming::Text(text) => PyString::new(py, &text).into_any().unbind(),
            Incoming::Binary(data) => PyBytes::new(py, &data).into_any().unbind(),
            Incoming::Closed(code, reason) => PyTuple::new(
                py,
                [
                    code.into_pyobject(py)?.into_any(),
                    PyString::new(py, &reason).into_any(),
                ],
            )?
            .into_any()
            .unbind(),
        })
    }
}

pub struct Session {
    inbox: (Sender<Incoming>, Receiver<Incoming>),
    /// Set once the connection is over; later receives get it again.
    closed: OnceLock<(u16, String)>,
    to_loop: LoopSender,
    unsent: AtomicUsize,
    /// Raised while `receiver` waits; whoever lowers it delivers (or has the loop deliver).
    receiving: AtomicBool,
    /// Raised while `writable` waits for the writer to catch up.
    draining: AtomicBool,
    /// The Future a `receive()` awaits (touched during loop passes only).
    receiver: Mutex<Option<Py<PyAny>>>,
    /// The Future a `send_*()` awaits (touched during loop passes only).
    writable: Mutex<Option<Py<PyAny>>>,
    /// Signalled when Python takes a message from a full inbox.
    pub readable: Notify,
}

impl Session {
    pub fn new(to_loop: LoopSender) -> Arc<Self> {
        Arc::new(Self {
            inbox: crossbeam_channel::unbounded(),
            closed: OnceLock::new(),
            to_loop,
            unsent: AtomicUsize::new(0),
            receiving: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            receiver: Mutex::new(None),
            writable: Mutex::new(None),
            readable: Notify::new(),
        })
    }

    // -- the connection's side (no GIL) ----------------------------------------

    /// Queues a received message (ignored once closed) and wakes a waiting `receive()`.
    pub fn push(self: &Arc<Self>, message: Incoming) {
        if let Incoming::Closed(code, reason) = &message {
            if self.closed.set((*code, reason.clone())).is_err() {
                return;
            }
            if self.draining.swap(false, Ordering::AcqRel) {
                self.to_loop.send(self.job(Self::release));
            }
        } else if self.closed.get().is_some() {
            return;
        }
        let _ = self.inbox.0.send(message);
        // Pairs with the fence in `arm`: either Python sees this message or we see its flag.
        fence(Ordering::SeqCst);
        if self.receiving.swap(false, Ordering::AcqRel) {
            self.to_loop.send(self.job(Self::deliver));
        }
    }

    /// A job for the loop: `step` on this session, its error printed.
    fn job(self: &Arc<Self>, step: fn(&Self, Python<'_>) -> PyResult<()>) -> Job {
        let session = self.clone();
        Job::run(move |py, _| {
            if let Err(err) = step(&session, py) {
                crate::runtime::report(py, err);
            }
        })
    }

    /// Ends the session as seen from Python, if it is not over already.
    pub fn finish(self: &Arc<Self>, code: u16) {
        self.push(Incoming::Closed(code, String::new()));
    }

    pub fn inbox_full(&self) -> bool {
        self.inbox.1.len() >= INBOX_LIMIT
    }

    /// The writer wrote `bytes` of queued payload.
    pub fn sent(self: &Arc<Self>, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let before = self.unsent.fetch_sub(bytes, Ordering::AcqRel);
        if before > LOW_WATER
            && before - bytes <= LOW_WATER
            && self.draining.swap(false, Ordering::AcqRel)
        {
            self.to_loop.send(self.job(Self::release));
        }
    }

    // -- Python's side (a loop pass, GIL held) ---------------------------------

    /// Takes the next message, or the close again once the inbox is drained.
    fn pop(&self) -> Option<Incoming> {
        let full = self.inbox.1.len() >= INBOX_LIMIT;
        match self.inbox.1.try_recv() {
            Ok(message) => {
                if full {
                    self.readable.notify_one();
                }
                Some(message)
            }
            Err(_) => self
                .closed
                .get()
                .map(|(code, reason)| Incoming::Closed(*code, reason.clone())),
        }
    }

    pub fn receive(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        self.pop().map(|m| m.into_py(py)).transpose()
    }

    /// Resolves `future` with the next message, now or when one arrives.
    pub fn wait(&self, py: Python<'_>, future: Py<PyAny>) -> PyResult<()> {
        if let Some(message) = self.pop() {
            return set_result(py, &future, message.into_py(py)?);
        }
        *lock(&self.receiver) = Some(future);
        self.arm(py)
    }

    /// Raises the flag for the reader, unless a message slipped in meanwhile.
    fn arm(&self, py: Python<'_>) -> PyResult<()> {
        self.receiving.store(true, Ordering::Release);
        fence(Ordering::SeqCst);
        let ready = !self.inbox.1.is_empty() || self.closed.get().is_some();
        if ready && self.receiving.swap(false, Ordering::AcqRel) {
            return self.deliver(py);
        }
        Ok(())
    }

    /// The `Received` job: hands the next message to the waiting Future.
    fn deliver(&self, py: Python<'_>) -> PyResult<()> {
        let Some(future) = lock(&self.receiver).take() else {
            return Ok(());
        };
        if is_done(py, &future) {
            // A cancelled receive(): its message stays queued for the next one.
            return Ok(());
        }
        match self.pop() {
            Some(message) => set_result(py, &future, message.into_py(py)?),
            None => {
                *lock(&self.receiver) = Some(future);
                self.arm(py)
            }
        }
    }

    /// Counts `bytes` queued for sending; true when the sender should await `wait_writable`.
    pub fn queued(&self, bytes: usize) -> bool {
        self.unsent.fetch_add(bytes, Ordering::AcqRel) + bytes > HIGH_WATER
    }

    /// Resolves `future` once the writer is below the low-water mark (or the connection is over).
    pub fn wait_writable(&self, py: Python<'_>, future: Py<PyAny>) -> PyResult<()> {
        *lock(&self.writable) = Some(future);
        self.draining.store(true, Ordering::Release);
        fence(Ordering::SeqCst);
        let drained =
            self.closed.get().is_some() || self.unsent.load(Ordering::Acquire) <= LOW_WATER;
        if drained && self.draining.swap(false, Ordering::AcqRel) {
            return self.release(py);
        }
        Ok(())
    }

    /// The `Drained` job: lets the waiting sender go on.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        match lock(&self.writable).take() {
            Some(future) if !is_done(py, &future) => set_result(py, &future, py.None()),
            _ => Ok(()),
        }
    }
}

/// Ends the session as Python sees it (1006) when dropped, unless it ended already: held by
/// whatever serves the connection, so Python hears of it however that ends.
pub struct Ended(pub Arc<Session>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.finish(1006);
    }
}

fn lock<T>(slot: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn is_done(py: Python<'_>, future: &Py<PyAny>) -> bool {
    future
        .call_method0(py, pyo3::intern!(py, "done"))
        .and_then(|done| done.is_truthy(py))
        .unwrap_or(true)
}

fn set_result(py: Python<'_>, future: &Py<PyAny>, value: PyObject) -> PyResult<()> {
    future
        .call_method1(py, pyo3::intern!(py, "set_result"), (value,))
        .map(drop)
}
