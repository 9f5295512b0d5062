//! What a connection's tokio task and its Python handler share: the inbox of
//! received messages, the futures Python awaits, and the count of bytes queued
//! for sending.
//!
//! Python runs only on the loop thread, so a waiting `receive()` is an asyncio
//! Future that the loop resolves: the reader queues a message and, when a Future
//! waits, sends one `Wake` job through the loop bridge; the loop then sets the
//! result under the GIL. Both sides bound their queues: the reader stops reading
//! while the inbox is full, and `send_*` asks Python to await a drain once too
//! many bytes wait to be written.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use tokio::sync::Notify;

use super::channel::WsJob;
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
    state: Mutex<State>,
    to_loop: LoopSender,
    unsent: AtomicUsize,
    /// Signalled when Python takes a message from a full inbox.
    pub readable: Notify,
}

#[derive(Default)]
struct State {
    inbox: VecDeque<Incoming>,
    /// Set once the connection is over; later receives get it again.
    closed: Option<(u16, String)>,
    /// The Future a `receive()` awaits.
    receiver: Option<Py<PyAny>>,
    /// The Future a `send_*()` awaits until the writer catches up.
    writable: Option<Py<PyAny>>,
    wake_queued: bool,
}

impl Session {
    pub fn new(to_loop: LoopSender) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::default()),
            to_loop,
            unsent: AtomicUsize::new(0),
            readable: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    // -- the connection's side (no GIL) ----------------------------------------

    /// Queues a received message (ignored once closed) and wakes a waiting `receive()`.
    pub fn push(self: &Arc<Self>, message: Incoming) {
        let mut state = self.lock();
        if state.closed.is_some() {
            return;
        }
        if let Incoming::Closed(code, reason) = &message {
            state.closed = Some((*code, reason.clone()));
            if state.writable.is_some() {
                self.schedule_wake(&mut state);
            }
        }
        state.inbox.push_back(message);
        if state.receiver.is_some() {
            self.schedule_wake(&mut state);
        }
    }

    /// Ends the session as seen from Python, if it is not over already.
    pub fn finish(self: &Arc<Self>, code: u16) {
        self.push(Incoming::Closed(code, String::new()));
    }

    pub fn inbox_full(&self) -> bool {
        self.lock().inbox.len() >= INBOX_LIMIT
    }

    /// The writer wrote `bytes` of queued payload.
    pub fn sent(self: &Arc<Self>, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let before = self.unsent.fetch_sub(bytes, Ordering::AcqRel);
        if before > LOW_WATER && before - bytes <= LOW_WATER {
            let mut state = self.lock();
            if state.writable.is_some() {
                self.schedule_wake(&mut state);
            }
        }
    }

    fn schedule_wake(self: &Arc<Self>, state: &mut State) {
        if !state.wake_queued {
            state.wake_queued = true;
            self.to_loop.send(Job::WebSocket(WsJob::Wake(self.clone())));
        }
    }

    // -- Python's side (loop thread, GIL held) ---------------------------------

    /// Takes the next message, or the close again once the inbox is drained.
    pub fn pop(&self) -> Option<Incoming> {
        let mut state = self.lock();
        self.pop_locked(&mut state)
    }

    fn pop_locked(&self, state: &mut State) -> Option<Incoming> {
        let full = state.inbox.len() >= INBOX_LIMIT;
        match state.inbox.pop_front() {
            Some(message) => {
                if full {
                    self.readable.notify_one();
                }
                Some(message)
            }
            None => state
                .closed
                .as_ref()
                .map(|(code, reason)| Incoming::Closed(*code, reason.clone())),
        }
    }

    pub fn receive(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        self.pop().map(|m| m.into_py(py)).transpose()
    }

    /// Resolves `future` with the next message, now or when one arrives.
    pub fn wait(&self, py: Python<'_>, future: Py<PyAny>) -> PyResult<()> {
        let mut state = self.lock();
        match self.pop_locked(&mut state) {
            Some(message) => {
                drop(state);
                resolve(py, &future, message.into_py(py)?)
            }
            None => {
                state.receiver = Some(future);
                Ok(())
            }
        }
    }

    /// Counts `bytes` queued for sending; true when the sender should await `wait_writable`.
    pub fn queued(&self, bytes: usize) -> bool {
        self.unsent.fetch_add(bytes, Ordering::AcqRel) + bytes > HIGH_WATER
    }

    /// Resolves `future` once the writer is below the low-water mark (or the connection is over).
    pub fn wait_writable(&self, py: Python<'_>, future: Py<PyAny>) -> PyResult<()> {
        let mut state = self.lock();
        if state.closed.is_some() || self.unsent.load(Ordering::Acquire) <= LOW_WATER {
            drop(state);
            return resolve(py, &future, py.None());
        }
        state.writable = Some(future);
        Ok(())
    }

    /// The `Wake` job: hands a message to a waiting `receive()` and releases a waiting sender.
    pub fn wake(&self, py: Python<'_>) {
        let (delivery, writable) = {
            let mut state = self.lock();
            state.wake_queued = false;
            // A receive() that was cancelled leaves its message for the next one.
            if state.receiver.as_ref().is_some_and(|f| is_done(py, f)) {
                state.receiver = None;
            }
            let delivery = if state.receiver.is_some() {
                self.pop_locked(&mut state)
                    .and_then(|m| state.receiver.take().map(|f| (f, m)))
            } else {
                None
            };
            let drained =
                state.closed.is_some() || self.unsent.load(Ordering::Acquire) <= LOW_WATER;
            (delivery, if drained { state.writable.take() } else { None })
        };
        if let Some((future, message)) = delivery {
            let delivered = message.into_py(py).and_then(|m| resolve(py, &future, m));
            if let Err(err) = delivered {
                err.print(py);
            }
        }
        if let Some(future) = writable {
            if let Err(err) = resolve(py, &future, py.None()) {
                err.print(py);
            }
        }
    }
}

fn is_done(py: Python<'_>, future: &Py<PyAny>) -> bool {
    future
        .call_method0(py, pyo3::intern!(py, "done"))
        .and_then(|done| done.is_truthy(py))
        .unwrap_or(true)
}

fn resolve(py: Python<'_>, future: &Py<PyAny>, value: PyObject) -> PyResult<()> {
    if is_done(py, future) {
        return Ok(());
    }
    future
        .call_method1(py, pyo3::intern!(py, "set_result"), (value,))
        .map(drop)
}
