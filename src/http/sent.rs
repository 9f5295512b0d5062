//! A reply an ASGI app sends as messages (`http.response.start`, then `http.response.body`
//! until `more_body` is false), taken by the engine as it comes. The native server hands
//! one to its app's Python middleware stack as the stack's `send` (and `receive`, which
//! gives the request's body), so no Python code stands between them and the connection.

use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use pyo3::exceptions::{PyConnectionResetError, PyRuntimeError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use super::body::{chunk_channel, ChunkSender};
use super::request::PyRequestData;
use super::response::{header_pair, Reply, ReplyBody};
use crate::runtime::{ready, ready_with};

/// `ignyx._core.SentReply`: what an ASGI app sends, collected into the engine's reply.
#[pyclass(module = "ignyx._core", frozen)]
pub struct SentReply {
    state: Mutex<State>,
}

struct State {
    /// The request's body, until `receive` gives it.
    body: Option<Bytes>,
    /// The status and headers sent, until the first body message.
    head: Option<(StatusCode, HeaderMap)>,
    /// The reply, once known (whole, or streaming through `stream`), until taken.
    reply: Option<Reply>,
    /// Where a streamed body's next chunks go.
    stream: Option<ChunkSender>,
    /// Whether the body has ended.
    complete: bool,
    /// A future to resolve once the reply is known.
    answered: Option<Py<PyAny>>,
}

#[pymethods]
impl SentReply {
    /// The reply to the request of `data`, whose body `receive` gives.
    #[new]
    fn new(data: &Bound<'_, PyRequestData>) -> Self {
        Self {
            state: Mutex::new(State {
                body: Some(data.get().data.body.clone()),
                head: None,
                reply: None,
                stream: None,
                complete: false,
                answered: None,
            }),
        }
    }

    /// ASGI `receive`: the request's body as one `http.request` message; after it, a
    /// future that does not resolve (the engine drops the request when the client leaves).
    fn receive(&self, py: Python<'_>) -> PyResult<PyObject> {
        let body = self.state().body.take();
        match body {
            Some(body) => {
                let message = PyDict::new(py);
                message.set_item(intern!(py, "type"), intern!(py, "http.request"))?;
                message.set_item(intern!(py, "body"), PyBytes::new(py, &body))?;
                message.set_item(intern!(py, "more_body"), false)?;
                Ok(ready_with(py, message.into_any().unbind())?.into_any())
            }
            None => {
                let asyncio = py.import(intern!(py, "asyncio"))?;
                let event_loop = asyncio.call_method0(intern!(py, "get_running_loop"))?;
                Ok(event_loop
                    .call_method0(intern!(py, "create_future"))?
                    .unbind())
            }
        }
    }

    /// ASGI `send`: takes `http.response.start` and `http.response.body` messages. What
    /// it gives is done at once, unless a streamed body is ahead of its client: then it
    /// resolves once the client has caught up.
    fn send(&self, py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<PyObject> {
        let kind = message
            .get_item(intern!(py, "type"))?
            .ok_or_else(|| PyTypeError::new_err("an ASGI message needs a 'type'"))?;
        let kind = kind.extract::<&str>()?;
        let mut state = self.state();
        let mut answered = None;
        match kind {
            "http.response.start" => {
                if state.head.is_some() || state.reply.is_some() || state.complete {
                    return Err(PyRuntimeError::new_err(
                        "Unexpected ASGI message 'http.response.start' sent, after response already started.",
                    ));
                }
                let status = match message.get_item(intern!(py, "status"))? {
                    Some(status) => status.extract::<u16>()?,
                    None => 200,
                };
                let status = StatusCode::from_u16(status)
                    .map_err(|_| PyTypeError::new_err(format!("invalid status code {status}")))?;
                let mut headers = HeaderMap::new();
                if let Some(list) = message.get_item(intern!(py, "headers"))? {
                    for pair in list.try_iter()? {
                        let pair = pair?;
                        let (name, value) = (pair.get_item(0)?, pair.get_item(1)?);
                        let (name, value) = header_pair(&bytes_of(&name)?, &bytes_of(&value)?)?;
                        headers.append(name, value);
                    }
                }
                state.head = Some((status, headers));
            }
            "http.response.body" => {
                let body = match message.get_item(intern!(py, "body"))? {
                    Some(body) => Bytes::from(bytes_of(&body)?),
                    None => Bytes::new(),
                };
                let more = match message.get_item(intern!(py, "more_body"))? {
                    Some(more) => more.is_truthy()?,
                    None => false,
                };
                state.body_message(body, more)?;
                if !more {
                    state.complete = true;
                }
                if state.reply.is_some() {
                    answered = state.answered.take();
                }
            }
            _ => {}
        }
        let mut waited = None;
        if let Some(stream) = state.stream.as_ref().filter(|stream| stream.must_wait()) {
            let asyncio = py.import(intern!(py, "asyncio"))?;
            let event_loop = asyncio.call_method0(intern!(py, "get_running_loop"))?;
            let future = event_loop.call_method0(intern!(py, "create_future"))?;
            stream.wait_writable(py, future.clone().unbind())?;
            waited = Some(future.unbind());
        }
        drop(state);
        if let Some(answered) = answered {
            resolve(py, &answered)?;
        }
        match waited {
            Some(future) => Ok(future),
            None => Ok(ready(py)?.into_any()),
        }
    }

    /// Whether the reply is known (whole, or the start of a stream).
    #[getter]
    fn answered(&self) -> bool {
        let state = self.state();
        state.reply.is_some() || state.complete
    }

    /// Resolves `future` once the reply is known (at once if it is).
    fn answer_to(&self, py: Python<'_>, future: Py<PyAny>) -> PyResult<()> {
        let mut state = self.state();
        if state.reply.is_some() || state.complete {
            drop(state);
            return resolve(py, &future);
        }
        state.answered = Some(future);
        Ok(())
    }

    /// Ends a streamed body: the app has returned without ending it.
    fn close(&self) {
        let mut state = self.state();
        state.stream = None;
        state.complete = true;
    }

    /// Ends a streamed body unfinished: the app failed, and the client sees the body cut.
    fn abort(&self) {
        let mut state = self.state();
        if let Some(stream) = state.stream.take() {
            stream.abort();
        }
        state.complete = true;
    }
}

impl State {
    fn body_message(&mut self, body: Bytes, more: bool) -> PyResult<()> {
        if let Some(stream) = &self.stream {
            // The client has gone: the app hears it as ASGI asks (an OSError from `send`),
            // so a stream it would go on producing stops.
            if stream.is_closed() || (!body.is_empty() && !stream.send(body)) {
                self.stream = None;
                return Err(PyConnectionResetError::new_err("the client disconnected"));
            }
            if !more {
                self.stream = None;
            }
            return Ok(());
        }
        if self.complete || self.reply.is_some() {
            return Err(PyRuntimeError::new_err(
                "Unexpected ASGI message 'http.response.body' sent, after response already completed.",
            ));
        }
        let Some((status, headers)) = self.head.take() else {
            return Err(PyRuntimeError::new_err(
                "Unexpected ASGI message 'http.response.body' sent, before 'http.response.start'.",
            ));
        };
        let body = if more {
            let (tx, rx) = chunk_channel();
            if !body.is_empty() {
                let _ = tx.send(body);
            }
            self.stream = Some(tx);
            ReplyBody::Channel(rx)
        } else {
            ReplyBody::Full(body)
        };
        self.reply = Some(Reply {
            status,
            headers,
            body,
            background: None,
        });
        Ok(())
    }
}

impl SentReply {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The request's body, unless `receive` has given it.
    pub fn take_body(&self) -> Option<Bytes> {
        self.state().body.take()
    }

    /// The reply the app sent; an error when it sent none.
    pub fn take_reply(&self) -> PyResult<Reply> {
        self.state()
            .reply
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("No response returned."))
    }
}

fn resolve(py: Python<'_>, future: &Py<PyAny>) -> PyResult<()> {
    let future = future.bind(py);
    if !future.call_method0(intern!(py, "done"))?.is_truthy()? {
        future.call_method1(intern!(py, "set_result"), (py.None(),))?;
    }
    Ok(())
}

/// `bytes`, or anything else bytes-like (a `bytearray`, a `memoryview`).
fn bytes_of(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    match value.downcast::<PyBytes>() {
        Ok(bytes) => Ok(bytes.as_bytes().to_vec()),
        Err(_) => value.extract(),
    }
}
