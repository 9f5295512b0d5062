//! The call: one request's trip through Python. Where the route runs (inline on the
//! I/O thread, stepped in the connection's task, on the sync pool, or in a pass of the
//! event loop), and its result, or its exception through the app's error handler,
//! settled into the reply the connection waits for.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use http::StatusCode;
use pyo3::prelude::*;
use tokio::sync::oneshot;

use super::request::{PyRequestData, RequestData};
use super::response::{self, Reply, ReplyBody};
use super::route::{Route, RouteKind};
use super::sent::SentReply;
use super::{Engine, Shared};
use crate::runtime::{gil, Awaiter, Job, LoopSender, PoolWork, SyncPool, EAGER_TURNS};

/// Runs `route` for the request and waits for its reply.
pub async fn dispatch(shared: &Shared, route: Arc<Route>, data: Arc<RequestData>) -> Reply {
    let engine = shared.engine.clone();
    let event_loop = &shared.event_loop;
    if !route.is_async && route.inline.is_inline() {
        // A route proven quick: run it right here, with no thread switch. It takes no
        // in-flight slot: the limit is on work queued for Python, and this is none.
        let exchange = Exchange::new(engine, route, data, ReplySlot::Kept(None));
        take_gil_for_requests(&shared.pool);
        let reply = event_loop.call_outside_loop(|py| {
            // Timed once the GIL is ours: waiting for it says nothing about the route.
            let started = Instant::now();
            let coroutine = exchange.call_route(py);
            exchange.route.inline.observe_inline(started.elapsed());
            if let Some(coroutine) = coroutine {
                let awaiter = exchange.clone();
                event_loop
                    .sender()
                    .send(Job::Spawn(coroutine.unbind(), awaiter));
            }
            exchange.take_reply()
        });
        return match reply {
            Ok(reply) => reply,
            Err(pending) => later(pending).await,
        };
    }
    let _slot = shared.in_flight.enter().await;
    // An async route is stepped right here, unless a pool thread may be holding the GIL:
    // then each request would wait for it in turn, where the loop's next pass takes it
    // once for all the requests queued by then.
    if route.is_async && !shared.pool.is_busy() {
        let exchange = Exchange::new(engine, route, data, ReplySlot::Kept(None));
        gil::hold();
        let reply = event_loop.call_eagerly(
            |py, tasks| {
                if let Some(coroutine) = exchange.call_route(py) {
                    tasks.spawn(py, exchange.clone(), coroutine, EAGER_TURNS);
                }
                exchange.take_reply()
            },
            Result::is_ok,
        );
        return match reply {
            Ok(reply) => reply,
            Err(pending) => later(pending).await,
        };
    }
    let is_async = route.is_async;
    let (tx, rx) = oneshot::channel();
    let exchange = Exchange::new(engine, route, data, ReplySlot::Channel(tx));
    if is_async {
        event_loop.sender().send(Job::run(move |py, tasks| {
            if let Some(coroutine) = exchange.call_route(py) {
                tasks.spawn(py, exchange.clone(), coroutine, 0);
            }
        }));
    } else {
        // The pool thread is to take the GIL at once, not after this thread's run.
        gil::release();
        shared.pool.submit(exchange);
    }
    later(rx).await
}

/// Keeps the GIL from this request to the next (`gil::hold`) while no pool thread runs
/// Python; lets it go while one does, so that it is handed over between requests.
fn take_gil_for_requests(pool: &SyncPool) {
    match pool.is_busy() {
        true => gil::release(),
        false => gil::hold(),
    }
}

/// The reply that comes through `pending` (a bare 500 if its sender was dropped). Only
/// for that case: an async helper taking both outcomes costs ~200 instructions a request.
async fn later(pending: oneshot::Receiver<Reply>) -> Reply {
    pending.await.unwrap_or_else(|_| Reply::internal_error())
}

/// One request on its way through Python, and where its reply goes.
pub struct Exchange {
    engine: Arc<Engine>,
    route: Arc<Route>,
    data: Arc<RequestData>,
    /// Set once an exception went to the app's error handler.
    failed: AtomicBool,
    /// Whether an exception with no handler of its own goes back to the caller (an ASGI
    /// call, under the app's Python middleware) rather than to the app's error handler.
    errors_out: bool,
    state: Mutex<State>,
}

struct State {
    reply: ReplySlot,
    /// The Python `Request`, built once: for the route's general entry point, or for the
    /// error handler of a fast-plan call. Exception handlers see the request the route
    /// saw, with its `state` and the body it read. Let go of with the reply, under the
    /// GIL (a Python object dropped without it waits in a pool that every GIL take checks).
    request: Option<Py<PyAny>>,
}

/// Where the reply goes.
enum ReplySlot {
    /// To the connection, waiting on the other end from another task or thread.
    Channel(oneshot::Sender<Reply>),
    /// Kept for the connection's own task, which is running the route inline.
    Kept(Option<Reply>),
    /// Sent (or the connection stopped waiting).
    Gone,
    /// No reply: the exception going back to the caller instead (`errors_out`).
    Unhandled(PyErr),
}

impl Exchange {
    /// The exchange of an ASGI call (`AsgiCall`): its caller takes the reply itself
    /// (`take_reply`), and an exception with no handler of its own goes back to it
    /// (`take_unhandled`), to go on out through the app's Python middleware as in Starlette.
    pub fn asgi(engine: Arc<Engine>, route: Arc<Route>, data: Arc<RequestData>) -> Arc<Self> {
        Self::with(engine, route, data, ReplySlot::Kept(None), true)
    }

    fn new(
        engine: Arc<Engine>,
        route: Arc<Route>,
        data: Arc<RequestData>,
        slot: ReplySlot,
    ) -> Arc<Self> {
        Self::with(engine, route, data, slot, false)
    }

    fn with(
        engine: Arc<Engine>,
        route: Arc<Route>,
        data: Arc<RequestData>,
        slot: ReplySlot,
        errors_out: bool,
    ) -> Arc<Self> {
        Arc::new(Self {
            engine,
            route,
            data,
            failed: AtomicBool::new(false),
            errors_out,
            state: Mutex::new(State {
                reply: slot,
                request: None,
            }),
        })
    }

    /// The exception that is to go on out through the middleware instead of a reply.
    pub fn take_unhandled(&self) -> Option<PyErr> {
        let mut state = self.state();
        match std::mem::replace(&mut state.reply, ReplySlot::Gone) {
            ReplySlot::Unhandled(err) => Some(err),
            slot => {
                state.reply = slot;
                None
            }
        }
    }

    /// Keeps `err` for the caller to raise, in place of a reply.
    fn keep_unhandled(&self, err: PyErr) {
        self.state().reply = ReplySlot::Unhandled(err);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers the request (called with the GIL held), with its session's cookie.
    fn send(&self, py: Python<'_>, mut reply: Reply) {
        if let ReplyBody::File(..) = reply.body {
            if let Some(range) = self.data.headers.get(http::header::RANGE) {
                let if_range = self.data.headers.get(http::header::IF_RANGE);
                super::ranges::apply(&mut reply, range, if_range);
            }
        }
        if let Some(session) = &self.data.session {
            let failed = self.failed.load(Ordering::Relaxed)
                && reply.status == StatusCode::INTERNAL_SERVER_ERROR;
            if let Err(err) = session.settle(py, failed) {
                // A session that cannot be stored (a value JSON has no form for) is a 500.
                crate::runtime::report(py, err);
                reply = Reply::internal_error();
            }
        }
        let mut state = self.state();
        let request = state.request.take();
        match std::mem::replace(&mut state.reply, ReplySlot::Gone) {
            // The client may have gone; nothing is waiting then.
            ReplySlot::Channel(tx) => drop(tx.send(reply)),
            ReplySlot::Kept(_) => state.reply = ReplySlot::Kept(Some(reply)),
            ReplySlot::Gone | ReplySlot::Unhandled(_) => {}
        }
        drop(state);
        drop(request);
    }

    /// The reply an inline call left, or else a channel for the one still to come (an
    /// inline call that handed a coroutine to the event loop).
    pub fn take_reply(&self) -> Result<Reply, oneshot::Receiver<Reply>> {
        let mut state = self.state();
        if let ReplySlot::Kept(reply) = &mut state.reply {
            if let Some(reply) = reply.take() {
                state.reply = ReplySlot::Gone;
                return Ok(reply);
            }
        }
        let (tx, rx) = oneshot::channel();
        state.reply = ReplySlot::Channel(tx);
        Err(rx)
    }

    /// The request's Python `Request`, built on first use.
    fn request<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(request) = &self.state().request {
            return Ok(request.bind(py).clone());
        }
        let data = self.request_data(py)?;
        let hooks = &self.engine.hooks;
        let request = hooks.request_class.bind(py).call1((data, &hooks.app))?;
        self.state().request = Some(request.clone().unbind());
        Ok(request)
    }

    /// The request data as Python reads it.
    fn request_data(&self, py: Python<'_>) -> PyResult<Py<PyRequestData>> {
        let data = self.data.clone();
        Py::new(py, PyRequestData { data })
    }

    /// Calls the route, the fast plan when it applies, and settles what it gave; returns
    /// the coroutine to await when it gave one.
    pub fn call_route<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        let route = &self.route;
        let result = (|| {
            if let Some(fast) = &route.fast {
                let fast = fast.get();
                if let Some(called) = fast.call(py, &self.data)? {
                    return Ok(called);
                }
            }
            match route.kind {
                RouteKind::Endpoint => route.call.bind(py).call1((self.request(py)?,)),
                RouteKind::Stack => route.call.bind(py).call1((self.request_data(py)?,)),
            }
        })();
        self.settle(py, result)
    }

    /// Hands an exception to the app's error handler; errors inside it become a bare 500.
    /// Under Python middleware (`errors_out`), only an exception with a handler of its own
    /// (an `HTTPException`, a validation error, a class the app registered) is answered
    /// here; any other, and any raised by a handler, is kept for the caller to raise.
    fn fail<'py>(&self, py: Python<'py>, err: PyErr) -> Option<Bound<'py, PyAny>> {
        if self.failed.swap(true, Ordering::Relaxed) {
            if self.errors_out {
                self.keep_unhandled(err);
            } else {
                crate::runtime::report(py, err);
                self.send(py, Reply::internal_error());
            }
            return None;
        }
        let hooks = &self.engine.hooks;
        let (handler, kept) = match self.errors_out {
            true => (&hooks.inner_error_handler, Some(err.clone_ref(py))),
            false => (&hooks.error_handler, None),
        };
        // `into_value` attaches the traceback, so the handler can log where it was raised.
        let exc = err.into_value(py);
        let handled = (self.request(py)).and_then(|request| handler.bind(py).call1((request, exc)));
        match (handled, kept) {
            // No handler inside the middleware: the exception goes on out.
            (Ok(response), Some(err)) if response.is_none() => {
                self.keep_unhandled(err);
                None
            }
            (handled, _) => self.settle(py, handled),
        }
    }
}

impl Awaiter for Exchange {
    /// Turns a Python outcome into the reply, a coroutine to await, or an error reply.
    fn settle<'py>(
        &self,
        py: Python<'py>,
        outcome: PyResult<Bound<'py, PyAny>>,
    ) -> Option<Bound<'py, PyAny>> {
        match outcome {
            Ok(value) if is_coroutine(&value) => Some(value),
            Ok(value) => {
                let status = match self.failed.load(Ordering::Relaxed) {
                    false => self.route.status,
                    true => StatusCode::OK,
                };
                let sent = match self.route.kind {
                    RouteKind::Endpoint => None,
                    // What the middleware stack sent as ASGI messages.
                    RouteKind::Stack => value.downcast_exact::<SentReply>().ok(),
                };
                let reply = match sent {
                    Some(sent) => sent.get().take_reply(),
                    None => response::from_result(&value, status, &self.engine.types),
                };
                match reply {
                    Ok(reply) => {
                        self.send(py, reply);
                        None
                    }
                    Err(err) => self.fail(py, err),
                }
            }
            Err(err) => self.fail(py, err),
        }
    }
}

impl PoolWork for Exchange {
    fn run(self: Arc<Self>, py: Python<'_>, to_loop: &LoopSender) {
        let started = Instant::now();
        let coroutine = self.call_route(py);
        self.route.inline.observe_pooled(started.elapsed());
        if let Some(coroutine) = coroutine {
            to_loop.send(Job::Spawn(coroutine.unbind(), self));
        }
    }
}

fn is_coroutine(value: &Bound<'_, PyAny>) -> bool {
    // SAFETY: a type check on a live object while the GIL is held.
    unsafe { pyo3::ffi::PyCoro_CheckExact(value.as_ptr()) != 0 }
}
