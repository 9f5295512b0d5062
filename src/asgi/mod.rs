//! The app as an ASGI application. An ASGI server (uvicorn, hypercorn, granian,
//! httpx's `ASGITransport`) calls `ignyx.Ignyx.__call__` (`python/ignyx/_asgi.py`), which
//! brings each `http` scope here: it is routed, its parameters extracted, its route called
//! and its reply rendered by the same code as the native server's (`crate::http`); only
//! reading the body and sending the reply go through the server's `receive` and `send`.

mod engine_scope;
mod scope;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH};
use http::HeaderMap;
use pyo3::exceptions::PyRuntimeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use crate::app::{App, Engine};
use crate::http::{self as h, Exchange, Reply, ReplyBody, RequestData, Route, Routed};
use crate::layers::Cors;
use crate::router::{self, Match};
use crate::runtime::Awaiter;
use scope::Head;

/// `ignyx._core.AsgiApp`: the compiled app, for an ASGI server.
#[pyclass(module = "ignyx._core", frozen)]
pub struct AsgiApp {
    engine: Arc<Engine>,
}

#[pymethods]
impl AsgiApp {
    /// Compiles `app` (an `App` filled by Python; it is left empty).
    #[new]
    fn new(mut app: PyRefMut<'_, App>) -> PyResult<Self> {
        Ok(Self {
            engine: Arc::new(app.build()?),
        })
    }

    /// The largest request body the app accepts, in bytes.
    #[getter]
    fn max_body_size(&self) -> usize {
        self.engine.http.max_body_size
    }

    /// Routes an `http` scope: the `AsgiCall` of its route, or the engine's own answer as
    /// `(status, headers, body, None)` (404, 405, the trailing-slash redirect, a CORS
    /// preflight; 413 when a routed request's `Content-Length` is over the limit).
    fn route(&self, py: Python<'_>, scope: &Bound<'_, PyDict>) -> PyResult<PyObject> {
        let mut head = Head::of(scope, "http")?;
        head.state = scope.get_item("state")?.map(Bound::unbind);
        let engine = &self.engine.http;
        if let Some(reply) = preflight(engine, &head.parts.method, &head.parts.headers) {
            return Ok(reply_tuple(py, reply, None)?.into_any().unbind());
        }
        let origin = cors_origin(engine, &head.parts.headers);
        let reply = match h::route(engine, &head.parts, &head.path, &head.peers) {
            // Refused before it is read, as on the native server.
            Routed::Route(ref route, _)
                if h::declares_too_large(&head.parts.headers, route.body_limit(engine)) =>
            {
                Reply::declared_too_large()
            }
            Routed::Route(route, params) => {
                name_route(py, scope, &route, &params)?;
                let call = AsgiCall {
                    engine: engine.clone(),
                    route,
                    origin,
                    pending: Mutex::new(Some(Pending::Scope(head, params))),
                    exchange: Mutex::new(None),
                };
                return Ok(Py::new(py, call)?.into_any());
            }
            Routed::Answer(reply) => reply,
        };
        let cors = engine.cors.as_ref().map(|cors| (cors, origin));
        Ok(reply_tuple(py, reply, cors)?.into_any().unbind())
    }

    /// The WebSocket route of a `websocket` scope, as `(call, request_data)`; `call` starts
    /// its handler as the native server does. `None` when no route matches.
    fn websocket(
        &self,
        py: Python<'_>,
        scope: &Bound<'_, PyDict>,
    ) -> PyResult<Option<(Py<PyAny>, Py<h::PyRequestData>)>> {
        let Some(routes) = &self.engine.websockets else {
            return Ok(None);
        };
        let mut head = Head::of(scope, "ws")?;
        head.state = scope.get_item("state")?.map(Bound::unbind);
        let (route, params) = match routes.find(&head.parts.method, &head.path) {
            Match::Found { route, params } => (route.clone(), router::owned(params)),
            _ => return Ok(None),
        };
        let data = head.into_request(params, Bytes::new());
        let data = Py::new(
            py,
            h::PyRequestData {
                data: Arc::new(data),
            },
        )?;
        Ok(Some((route.call.clone_ref(py), data)))
    }
}

/// `ignyx._core.continued_route(scope, receive)`: the `AsgiCall` of a scope the native
/// server built for a request it routed (`engine_scope`), or its CORS preflight answer, when
/// the middleware left unchanged what routing reads; else `None` (then `AsgiApp.route`
/// reads the scope). When `receive` is still the engine's own, the call has the body
/// already (`needs_body` is false).
#[pyfunction]
fn continued_route(
    py: Python<'_>,
    scope: &Bound<'_, PyDict>,
    receive: &Bound<'_, PyAny>,
) -> PyResult<Option<PyObject>> {
    let Some(continued) = engine_scope::continued(py, scope)? else {
        return Ok(None);
    };
    let (engine, route) = continued.routed;
    let data = continued.data;
    if let Some(reply) = preflight(&engine, &data.method, &data.headers) {
        return Ok(Some(reply_tuple(py, reply, None)?.into_any().unbind()));
    }
    let has_body = match receive.getattr(intern!(py, "__self__")) {
        Ok(owner) => owner
            .downcast::<h::SentReply>()
            .is_ok_and(|sent| sent.get().take_body().is_some()),
        Err(_) => false,
    };
    name_route(py, scope, &route, &data.path_params)?;
    let origin = cors_origin(&engine, &data.headers);
    let call = AsgiCall {
        engine,
        route,
        origin,
        pending: Mutex::new(Some(Pending::Read(data, has_body))),
        exchange: Mutex::new(None),
    };
    Ok(Some(Py::new(py, call)?.into_any()))
}

/// Leaves in `scope` what Starlette's router does: the route, its endpoint, the path
/// parameters.
fn name_route(
    py: Python<'_>,
    scope: &Bound<'_, PyDict>,
    route: &Route,
    params: &[(String, String)],
) -> PyResult<()> {
    let Some(object) = &route.object else {
        return Ok(());
    };
    scope.set_item(intern!(py, "route"), &object.route)?;
    scope.set_item(intern!(py, "endpoint"), &object.endpoint)?;
    let path_params = PyDict::new(py);
    for (name, value) in params {
        path_params.set_item(name, value)?;
    }
    scope.set_item(intern!(py, "path_params"), path_params)
}

/// `ignyx._core.AsgiCall`: one routed HTTP request of the ASGI app, from its body to its
/// reply. `start(body)` calls the route; a coroutine it returns is awaited by Python, whose
/// outcome goes back through `settle`/`fail` (an error handler may return one too); then
/// `reply()` gives what to send.
#[pyclass(module = "ignyx._core", frozen)]
pub struct AsgiCall {
    engine: Arc<h::Engine>,
    route: Arc<Route>,
    /// The request's `Origin`, when the engine runs CORS around its routes.
    origin: Option<HeaderValue>,
    /// The request until its body arrives.
    pending: Mutex<Option<Pending>>,
    exchange: Mutex<Option<Arc<Exchange>>>,
}

/// A routed request waiting for its body. (It lives inside its `AsgiCall`, so the size
/// of the larger variant costs nothing, where boxing it would cost an allocation.)
#[allow(clippy::large_enum_variant)]
enum Pending {
    /// Read from a scope: its head and path parameters.
    Scope(Head, Vec<(String, String)>),
    /// Read by the native server, with its body; `true` when that body is the one to use
    /// (no middleware has read it, so none can have changed it).
    Read(Arc<RequestData>, bool),
}

impl AsgiCall {
    fn cors(&self) -> Option<(&Cors, Option<HeaderValue>)> {
        let cors = self.engine.cors.as_ref()?;
        Some((cors, self.origin.clone()))
    }

    fn exchange(&self) -> PyResult<Arc<Exchange>> {
        lock(&self.exchange)
            .clone()
            .ok_or_else(|| PyRuntimeError::new_err("the call has not started"))
    }
}

#[pymethods]
impl AsgiCall {
    /// The largest request body the route accepts, in bytes.
    #[getter]
    fn max_body_size(&self) -> usize {
        self.route.body_limit(&self.engine)
    }

    /// Whether the route is `async` (else Python runs `start` off the event loop).
    #[getter]
    fn is_async(&self) -> bool {
        self.route.is_async
    }

    /// Whether this `def` route has proven quick enough to run on the event loop itself
    /// (the native server's `InlinePolicy`); until then it runs in the threadpool.
    #[getter]
    fn inline(&self) -> bool {
        self.route.inline.is_inline()
    }

    /// How long `start` took in the threadpool, in seconds.
    fn observe_pooled(&self, seconds: f64) {
        let took = Duration::try_from_secs_f64(seconds).unwrap_or_default();
        self.route.inline.observe_pooled(took);
    }

    /// How long `start` took on the event loop, in seconds.
    fn observe_inline(&self, seconds: f64) {
        let took = Duration::try_from_secs_f64(seconds).unwrap_or_default();
        self.route.inline.observe_inline(took);
    }

    /// Whether Python must read the body from `receive` and pass it to `start`.
    #[getter]
    fn needs_body(&self) -> bool {
        !matches!(&*lock(&self.pending), Some(Pending::Read(_, true)))
    }

    /// Calls the route with the request's `body` (`None` when the call has it); returns
    /// the coroutine to await, if any.
    #[pyo3(signature = (body = None))]
    fn start<'py>(
        &self,
        py: Python<'py>,
        body: Option<&[u8]>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let pending = lock(&self.pending)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("the call has started already"))?;
        let data = match (pending, body) {
            (Pending::Scope(head, params), body) => {
                let body = Bytes::copy_from_slice(body.unwrap_or_default());
                Arc::new(head.into_request(params, body))
            }
            (Pending::Read(data, _), Some(body)) if *data.body != *body => {
                Arc::new(data.altered(py, None, Some(Bytes::copy_from_slice(body))))
            }
            (Pending::Read(data, _), _) => data,
        };
        let exchange = Exchange::asgi(self.engine.clone(), self.route.clone(), data);
        *lock(&self.exchange) = Some(exchange.clone());
        Ok(exchange.call_route(py))
    }

    /// `start` for a `def` route that runs on the event loop (`inline`): in a copy of the
    /// current context, as the threadpool would run it, and timed for the route's policy.
    #[pyo3(signature = (body = None))]
    fn start_inline<'py>(
        &self,
        py: Python<'py>,
        body: Option<&[u8]>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let started = Instant::now();
        let result = in_context_copy(py, || self.start(py, body));
        self.route.inline.observe_inline(started.elapsed());
        result
    }

    /// What the awaited coroutine returned; returns the next coroutine to await, if any.
    fn settle<'py>(
        &self,
        py: Python<'py>,
        value: Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(self.exchange()?.settle(py, Ok(value)))
    }

    /// What the awaited coroutine raised; returns the next coroutine to await, if any.
    fn fail<'py>(
        &self,
        py: Python<'py>,
        exc: Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(self.exchange()?.settle(py, Err(PyErr::from_value(exc))))
    }

    /// 413, for a body that turned out to be over the limit while it was read.
    fn too_large<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        reply_tuple(py, Reply::too_large(), self.cors())
    }

    /// `(status, headers, body, background)`: `headers` a list of `(name, value)` bytes
    /// pairs (with `content-length` for a whole body), `body` bytes or an iterator of chunks
    /// (sync or async).
    fn reply<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let exchange = self.exchange()?;
        if let Some(unhandled) = exchange.take_unhandled() {
            return Err(unhandled);
        }
        match exchange.take_reply() {
            Ok(reply) => reply_tuple(py, reply, self.cors()),
            Err(_) => Err(PyRuntimeError::new_err("the call has no reply yet")),
        }
    }
}

/// The answer of the engine's CORS layer to a preflight request, if it is one.
fn preflight(engine: &h::Engine, method: &http::Method, headers: &HeaderMap) -> Option<Reply> {
    let (status, headers, body) = engine.cors.as_ref()?.preflight(method, headers)?;
    Some(Reply::full(status, headers, body))
}

/// The request's `Origin`, kept for the CORS layer's response headers.
fn cors_origin(engine: &h::Engine, headers: &HeaderMap) -> Option<HeaderValue> {
    engine.cors.as_ref()?;
    headers.get(http::header::ORIGIN).cloned()
}

/// `reply` as `(status, headers, body, background)`, with the CORS layer's headers.
fn reply_tuple<'py>(
    py: Python<'py>,
    mut reply: Reply,
    cors: Option<(&Cors, Option<HeaderValue>)>,
) -> PyResult<Bound<'py, PyTuple>> {
    if let Some((cors, origin)) = cors {
        cors.apply(origin.as_ref(), &mut reply.headers);
    }
    // What hyper adds on the native server, an ASGI server expects from the app.
    if let ReplyBody::Full(bytes) = &reply.body {
        let status = reply.status.as_u16();
        let has_body = status >= 200 && status != 204 && status != 304;
        if has_body && !reply.headers.contains_key(CONTENT_LENGTH) {
            reply
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        }
    }
    let headers = h::header_list(py, &reply.headers)?;
    let body = match reply.body {
        ReplyBody::Full(bytes) => PyBytes::new(py, &bytes).into_any(),
        ReplyBody::Stream(iterator) => iterator.into_bound(py),
        ReplyBody::File(file, len) => Py::new(py, h::FileChunks::new(file, len))?
            .into_bound(py)
            .into_any(),
        // Only the native server's middleware stack sends through a `SentReply`.
        ReplyBody::Channel(_) => {
            return Err(PyRuntimeError::new_err(
                "a reply sent as ASGI messages cannot be sent again",
            ))
        }
    };
    let background = match reply.background {
        Some(task) => task.into_bound(py),
        None => py.None().into_bound(py),
    };
    PyTuple::new(
        py,
        [
            reply.status.as_u16().into_pyobject(py)?.into_any(),
            headers.into_any(),
            body,
            background,
        ],
    )
}

/// Runs `f` in a copy of the current `contextvars` context: what it sets stays there.
fn in_context_copy<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    // SAFETY: the GIL is held; the copy is a new reference, entered and left on this
    // thread, then released.
    let context = unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyContext_CopyCurrent())? };
    if unsafe { pyo3::ffi::PyContext_Enter(context.as_ptr()) } != 0 {
        return Err(PyErr::fetch(py));
    }
    let result = f();
    if unsafe { pyo3::ffi::PyContext_Exit(context.as_ptr()) } != 0 {
        return Err(PyErr::fetch(py));
    }
    result
}

fn lock<T>(slot: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    engine_scope::init(m)?;
    m.add_function(wrap_pyfunction!(continued_route, m)?)?;
    m.add_class::<AsgiApp>()?;
    m.add_class::<AsgiCall>()
}

impl Head {
    fn into_request(self, params: Vec<(String, String)>, body: Bytes) -> RequestData {
        let mut data = RequestData::from_parts(
            self.parts,
            Some(self.full_path),
            params,
            body,
            self.peers,
            self.scheme,
        );
        if let Some(state) = self.state {
            let _ = data.state.set(state);
        }
        data.root_path = self.root_path;
        data.named_client = self.named_client;
        data.session = self
            .session
            .map(|session| Box::new(h::SessionSlot::Scope(session)));
        data
    }
}
