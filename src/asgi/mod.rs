//! The app as an ASGI application. An ASGI server (uvicorn, hypercorn, granian,
//! httpx's `ASGITransport`) calls `ignyx.Ignyx.__call__` (`python/ignyx/_asgi.py`), which
//! brings each `http` scope here: it is routed, its parameters extracted, its route called
//! and its reply rendered by the same code as the native server's (`crate::http`); only
//! reading the body and sending the reply go through the server's `receive` and `send`.

mod scope;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::app::{App, Engine};
use crate::http::{self as h, Exchange, Reply, ReplyBody, RequestData, Route, Routed};
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
    /// `(status, headers, body, None)` (404, 405, the trailing-slash redirect; 413 when a
    /// routed request's `Content-Length` is over the limit).
    fn route(&self, py: Python<'_>, scope: &Bound<'_, PyDict>) -> PyResult<PyObject> {
        let mut head = Head::of(scope, "http")?;
        head.state = scope.get_item("state")?.map(Bound::unbind);
        let engine = &self.engine.http;
        match h::route(engine, &head.parts, &head.path, head.peers.local) {
            // Refused before it is read, as on the native server.
            Routed::Route(..)
                if h::declares_too_large(&head.parts.headers, engine.max_body_size) =>
            {
                Ok(reply_tuple(py, Reply::too_large())?.into_any().unbind())
            }
            Routed::Route(route, params) => {
                let call = AsgiCall {
                    engine: engine.clone(),
                    route,
                    pending: Mutex::new(Some((head, params))),
                    exchange: Mutex::new(None),
                };
                Ok(Py::new(py, call)?.into_any())
            }
            Routed::Answer(reply) => Ok(reply_tuple(py, reply)?.into_any().unbind()),
        }
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

/// `ignyx._core.AsgiCall`: one routed HTTP request of the ASGI app, from its body to its
/// reply. `start(body)` calls the route; a coroutine it returns is awaited by Python, whose
/// outcome goes back through `settle`/`fail` (an error handler may return one too); then
/// `reply()` gives what to send.
#[pyclass(module = "ignyx._core", frozen)]
pub struct AsgiCall {
    engine: Arc<h::Engine>,
    route: Arc<Route>,
    /// The request until its body arrives.
    pending: Mutex<Option<Pending>>,
    exchange: Mutex<Option<Arc<Exchange>>>,
}

/// A routed request's head and path parameters, waiting for its body.
type Pending = (Head, Vec<(String, String)>);

impl AsgiCall {
    fn exchange(&self) -> PyResult<Arc<Exchange>> {
        lock(&self.exchange)
            .clone()
            .ok_or_else(|| PyRuntimeError::new_err("the call has not started"))
    }
}

#[pymethods]
impl AsgiCall {
    /// Whether the route is `async` (else Python runs `start` off the event loop).
    #[getter]
    fn is_async(&self) -> bool {
        self.route.is_async
    }

    /// The Python route object (`scope["route"]` for ASGI middleware), if any.
    #[getter]
    fn route(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.route.object.as_ref().map(|route| route.clone_ref(py))
    }

    /// The path parameters the route captured, as strings.
    #[getter]
    fn path_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        if let Some((_, params)) = &*lock(&self.pending) {
            for (name, value) in params {
                dict.set_item(name, value)?;
            }
        }
        Ok(dict)
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

    /// Calls the route with the request's `body`; returns the coroutine to await, if any.
    fn start<'py>(&self, py: Python<'py>, body: &[u8]) -> PyResult<Option<Bound<'py, PyAny>>> {
        let (head, params) = lock(&self.pending)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("the call has started already"))?;
        let data = head.into_request(params, Bytes::copy_from_slice(body));
        let exchange = Exchange::kept(self.engine.clone(), self.route.clone(), Arc::new(data));
        *lock(&self.exchange) = Some(exchange.clone());
        Ok(exchange.call_route(py))
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
        reply_tuple(py, Reply::too_large())
    }

    /// `(status, headers, body, background)`: `headers` a list of `(name, value)` bytes
    /// pairs (with `content-length` for a whole body), `body` bytes or an iterator of chunks
    /// (sync or async).
    fn reply<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        match self.exchange()?.take_reply() {
            Ok(reply) => reply_tuple(py, reply),
            Err(_) => Err(PyRuntimeError::new_err("the call has no reply yet")),
        }
    }
}

fn reply_tuple(py: Python<'_>, mut reply: Reply) -> PyResult<Bound<'_, PyTuple>> {
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
    let headers = PyList::empty(py);
    for (name, value) in reply.headers.iter() {
        headers.append((
            PyBytes::new(py, name.as_str().as_bytes()),
            PyBytes::new(py, value.as_bytes()),
        ))?;
    }
    let body = match reply.body {
        ReplyBody::Full(bytes) => PyBytes::new(py, &bytes).into_any(),
        ReplyBody::Stream(iterator) => iterator.into_bound(py),
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

fn lock<T>(slot: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<AsgiApp>()?;
    m.add_class::<AsgiCall>()
}

impl Head {
    fn into_request(self, params: Vec<(String, String)>, body: Bytes) -> RequestData {
        let mut data = RequestData::from_parts(
            self.parts,
            self.full_path,
            params,
            body,
            self.peers,
            self.scheme,
        );
        data.state = self.state;
        data.root_path = self.root_path;
        data
    }
}
