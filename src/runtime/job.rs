//! One request's trip through Python: call the route, turn the result (or the
//! exception) into a reply, and send it back to the connection.

use std::sync::{Arc, Mutex};

use http::StatusCode;
use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::app::Engine;
use crate::request::{PyRequestData, RequestData};
use crate::response::{self, Reply};
use crate::route::Route;

/// What the connection is waiting for.
pub struct Exchange {
    pub engine: Arc<Engine>,
    pub route: Arc<Route>,
    pub data: Arc<RequestData>,
    reply: Mutex<ReplySlot>,
}

/// Where the reply goes.
enum ReplySlot {
    /// To the connection, waiting on the other end from another task or thread.
    Channel(oneshot::Sender<Reply>),
    /// Kept for the connection's own task, which is running the route inline.
    Kept(Option<Reply>),
    /// Sent (or the connection stopped waiting).
    Gone,
}

impl Exchange {
    /// An exchange whose reply comes back through a channel.
    pub fn new(
        engine: Arc<Engine>,
        route: Arc<Route>,
        data: Arc<RequestData>,
    ) -> (Arc<Self>, oneshot::Receiver<Reply>) {
        let (tx, rx) = oneshot::channel();
        let exchange = Self::with_slot(engine, route, data, ReplySlot::Channel(tx));
        (exchange, rx)
    }

    /// An exchange for a route run inline by the connection's task, which takes the reply
    /// with `take_reply` (no channel: the reply is usually there when the call returns).
    pub fn inline(engine: Arc<Engine>, route: Arc<Route>, data: Arc<RequestData>) -> Arc<Self> {
        Self::with_slot(engine, route, data, ReplySlot::Kept(None))
    }

    fn with_slot(
        engine: Arc<Engine>,
        route: Arc<Route>,
        data: Arc<RequestData>,
        slot: ReplySlot,
    ) -> Arc<Self> {
        Arc::new(Self {
            engine,
            route,
            data,
            reply: Mutex::new(slot),
        })
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, ReplySlot> {
        self.reply
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn send(&self, reply: Reply) {
        let mut slot = self.slot();
        match std::mem::replace(&mut *slot, ReplySlot::Gone) {
            // The client may have gone; nothing is waiting then.
            ReplySlot::Channel(tx) => drop(tx.send(reply)),
            ReplySlot::Kept(_) => *slot = ReplySlot::Kept(Some(reply)),
            ReplySlot::Gone => {}
        }
    }

    /// The reply an inline call left, or else a channel for the one still to come (an
    /// inline call that handed a coroutine to the event loop).
    pub fn take_reply(&self) -> Result<Reply, oneshot::Receiver<Reply>> {
        let mut slot = self.slot();
        if let ReplySlot::Kept(reply) = &mut *slot {
            if let Some(reply) = reply.take() {
                *slot = ReplySlot::Gone;
                return Ok(reply);
            }
        }
        let (tx, rx) = oneshot::channel();
        *slot = ReplySlot::Channel(tx);
        Err(rx)
    }

    fn request_object(&self, py: Python<'_>) -> PyResult<Py<PyRequestData>> {
        Py::new(
            py,
            PyRequestData {
                data: self.data.clone(),
            },
        )
    }
}

/// Which part of the request's life produced a result or an error.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Phase {
    Handler,
    ErrorHandler,
}

/// Work for the event loop's next pass.
pub enum Job {
    /// Call an async route (while the sync pool is busy, see `service::dispatch`).
    Call(Arc<Exchange>),
    /// Drive a coroutine a sync route (or its error handler) returned.
    Await(Arc<Exchange>, Py<PyAny>, Phase),
    /// Run a response's background task on the event loop.
    Background(Py<PyAny>),
    /// Iterate a streaming response's body into its sink, on the event loop.
    Stream(Py<PyAny>, crate::server::stream::ChunkSink),
    /// Start a WebSocket handler, or resolve what one awaits, on the event loop.
    WebSocket(crate::ws::WsJob),
}

/// What running a piece of Python produced.
pub enum Step<'py> {
    /// The request is answered (or an answer is on its way from the event loop).
    Done,
    /// A coroutine that must be awaited on the event loop.
    Await(Bound<'py, PyAny>, Phase),
}

/// Calls the route: the fast plan when it applies, otherwise the general entry point.
pub fn call_route<'py>(py: Python<'py>, exchange: &Arc<Exchange>) -> Step<'py> {
    let route = &exchange.route;
    let result = (|| {
        if let Some(fast) = &route.fast {
            if let Some(args) = fast.args(py, &exchange.data)? {
                return fast.endpoint.bind(py).call1(args);
            }
        }
        route.call.bind(py).call1((exchange.request_object(py)?,))
    })();
    settle(py, exchange, result, Phase::Handler)
}

/// Turns a Python outcome into a reply, a coroutine to await, or an error reply.
pub fn settle<'py>(
    py: Python<'py>,
    exchange: &Arc<Exchange>,
    result: PyResult<Bound<'py, PyAny>>,
    phase: Phase,
) -> Step<'py> {
    match result {
        Ok(value) if is_coroutine(&value) => Step::Await(value, phase),
        Ok(value) => {
            let status = match phase {
                Phase::Handler => exchange.route.status,
                Phase::ErrorHandler => StatusCode::OK,
            };
            match response::from_result(&value, status, &exchange.engine.types) {
                Ok(reply) => {
                    exchange.send(reply);
                    Step::Done
                }
                Err(err) => fail(py, exchange, err, phase),
            }
        }
        Err(err) => fail(py, exchange, err, phase),
    }
}

/// Hands an exception to the app's error handler; errors inside it become a bare 500.
pub fn fail<'py>(py: Python<'py>, exchange: &Arc<Exchange>, err: PyErr, phase: Phase) -> Step<'py> {
    if phase == Phase::ErrorHandler {
        err.print(py);
        exchange.send(Reply::internal_error());
        return Step::Done;
    }
    // `into_value` attaches the traceback, so the handler can log where it was raised.
    let exc = err.into_value(py);
    let handled = exchange
        .request_object(py)
        .and_then(|request| exchange.engine.error_handler.bind(py).call1((request, exc)));
    settle(py, exchange, handled, Phase::ErrorHandler)
}

fn is_coroutine(value: &Bound<'_, PyAny>) -> bool {
    // SAFETY: a type check on a live object while the GIL is held.
    unsafe { pyo3::ffi::PyCoro_CheckExact(value.as_ptr()) != 0 }
}
