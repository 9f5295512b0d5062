//! The response out: what a handler returned turned into a reply, the replies the
//! engine writes on its own (404, 405, 413, 500), and the reply made the response hyper
//! writes.

use std::sync::Mutex;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Response, StatusCode};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use super::body::ResponseBody;
use super::stream;
use crate::json;
use crate::runtime::LoopSender;

/// The response for `reply`; a streamed body and a background task run on the loop.
pub fn respond(reply: Reply, to_loop: &LoopSender) -> Response<ResponseBody> {
    let body = match reply.body {
        ReplyBody::Full(bytes) => ResponseBody::full(bytes),
        ReplyBody::Stream(iterator) => stream::start(iterator, to_loop),
        ReplyBody::Channel(chunks) => ResponseBody::stream(chunks, to_loop),
        ReplyBody::File(file, len) => ResponseBody::file(file, len),
    };
    let mut response = Response::new(body.with_background(reply.background, to_loop));
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers;
    response
}

/// A finished reply, built under the GIL and written without it.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: ReplyBody,
    /// A `BackgroundTask(s)` to run once the body has been sent.
    pub background: Option<Py<PyAny>>,
}

pub enum ReplyBody {
    Full(Bytes),
    /// An iterator (sync or async) of chunks, read on the event loop as the client takes them.
    Stream(Py<PyAny>),
    /// Chunks an ASGI app sends (`SentReply`), as it sends them.
    Channel(super::body::Chunks),
    /// A file of this many bytes, read as the client takes it.
    File(std::fs::File, u64),
}

/// A reply's header map, with room for `own` headers and those added on the way out (CORS's
/// `vary`, the server's `server`, a session's cookie): a map that has to grow on the way out
/// costs a request ~800 instructions. A finished request's map when this thread has one
/// (`spare_headers`).
pub fn reply_headers(own: usize) -> HeaderMap {
    const ADDED_ON_THE_WAY_OUT: usize = 3;
    super::spare_headers::take(own + ADDED_ON_THE_WAY_OUT)
}

static APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
static TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

impl Reply {
    pub fn new(status: StatusCode, content_type: &HeaderValue, body: Bytes) -> Self {
        let mut headers = reply_headers(1);
        headers.insert(CONTENT_TYPE, content_type.clone());
        Self {
            status,
            headers,
            body: ReplyBody::Full(body),
            background: None,
        }
    }

    pub fn json(status: StatusCode, body: impl Into<Bytes>) -> Self {
        Self::new(status, &APPLICATION_JSON, body.into())
    }

    pub fn text(status: StatusCode, body: &'static str) -> Self {
        Self::new(status, &TEXT_PLAIN, Bytes::from_static(body.as_bytes()))
    }

    /// `{"detail": "<reason>"}` as FastAPI writes it for engine-level errors.
    pub fn detail(status: StatusCode, detail: &'static str) -> Self {
        let mut body = Vec::with_capacity(detail.len() + 14);
        body.extend_from_slice(b"{\"detail\":\"");
        body.extend_from_slice(detail.as_bytes());
        body.extend_from_slice(b"\"}");
        Self::json(status, body)
    }

    /// A reply the engine built whole (a CORS preflight answer).
    pub fn full(status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        Self {
            status,
            headers,
            body: ReplyBody::Full(body),
            background: None,
        }
    }

    /// 413 for a `Content-Length` over the route's `max_body_size`, refused before the
    /// body is read (Starlette's body limit answers it in plain text).
    pub fn declared_too_large() -> Self {
        Self::text(StatusCode::PAYLOAD_TOO_LARGE, "Content Too Large")
    }

    /// 413 for a body that went over the route's `max_body_size` while it was read (FastAPI
    /// answers it as an `HTTPException`).
    pub fn too_large() -> Self {
        Self::detail(StatusCode::PAYLOAD_TOO_LARGE, "Content Too Large")
    }

    pub fn not_found() -> Self {
        Self::detail(StatusCode::NOT_FOUND, "Not Found")
    }

    /// FastAPI's 500 (Starlette's `ServerErrorMiddleware`): plain text.
    pub fn internal_error() -> Self {
        Self::text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }
}

/// Python classes the converter recognises, registered once by the app.
pub struct ResponseTypes {
    response: Py<PyAny>,
    streaming: Py<PyAny>,
    /// `FileResponse`: its file is sent by the engine.
    file: Py<PyAny>,
    content_types: ContentTypes,
    /// What returned objects are, by class.
    kinds: IdentityCache<1, ResultKind>,
}

/// What a returned object is, by its class.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ResultKind {
    /// A `Response` with its body in `body`.
    Full,
    /// A `StreamingResponse` (or a subclass).
    Streaming,
    /// A `FileResponse` (or a subclass): the file at its `path`.
    File,
    /// Another framework's response (Starlette's): `status_code`, `raw_headers`, and a
    /// `body`, or a `body_iterator` when `streaming`.
    Foreign { streaming: bool },
    /// Anything else: a tuple with a status, or content for JSON.
    Content,
}

/// A few values derived from Python objects, found again by the objects' identity: the
/// same few classes and strings come back request after request, so each value is
/// derived once. The cache holds the objects, so an address seen here cannot be reused by
/// another object meanwhile; past `capacity` entries, values are derived every time.
struct IdentityCache<const N: usize, V> {
    capacity: usize,
    seen: Mutex<Vec<([Py<PyAny>; N], V)>>,
}

impl<const N: usize, V: Clone> IdentityCache<N, V> {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            seen: Mutex::new(Vec::new()),
        }
    }

    fn get(
        &self,
        keys: [&Bound<'_, PyAny>; N],
        derive: impl FnOnce() -> PyResult<V>,
    ) -> PyResult<V> {
        let same = |(held, _): &&([Py<PyAny>; N], V)| {
            held.iter().zip(keys).all(|(held, key)| held.is(key))
        };
        if let Ok(seen) = self.seen.lock() {
            if let Some((_, value)) = seen.iter().find(same) {
                return Ok(value.clone());
            }
        }
        let value = derive()?;
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() < self.capacity {
                seen.push((keys.map(|key| key.clone().unbind()), value.clone()));
            }
        }
        Ok(value)
    }
}

impl ResponseTypes {
    pub fn new(
        response: Py<PyAny>,
        streaming: Py<PyAny>,
        file: Py<PyAny>,
        content_type: Py<PyAny>,
    ) -> Self {
        Self {
            response,
            streaming,
            file,
            content_types: ContentTypes::new(content_type),
            kinds: IdentityCache::new(32),
        }
    }

    /// What `obj` is, found with `isinstance` once per class.
    fn kind(&self, obj: &Bound<'_, PyAny>) -> PyResult<ResultKind> {
        let py = obj.py();
        self.kinds.get([obj.get_type().as_any()], || {
            Ok(if !obj.is_instance(self.response.bind(py))? {
                let foreign = obj.hasattr(pyo3::intern!(py, "raw_headers"))?
                    && obj.hasattr(pyo3::intern!(py, "status_code"))?;
                match foreign {
                    true => ResultKind::Foreign {
                        streaming: obj.hasattr(pyo3::intern!(py, "body_iterator"))?,
                    },
                    false => ResultKind::Content,
                }
            } else if obj.is_instance(self.streaming.bind(py))? {
                ResultKind::Streaming
            } else if obj.is_instance(self.file.bind(py))? {
                ResultKind::File
            } else {
                ResultKind::Full
            })
        })
    }
}

/// The content-type of responses whose headers were never built, by `(media_type,
/// charset)`. The value comes from `ignyx.responses._content_type`, the rule
/// `init_headers` uses, so it lives in one place; responses of one class share those
/// strings.
struct ContentTypes {
    rule: Py<PyAny>,
    seen: IdentityCache<2, HeaderValue>,
}

impl ContentTypes {
    fn new(rule: Py<PyAny>) -> Self {
        Self {
            rule,
            seen: IdentityCache::new(16),
        }
    }

    fn get(
        &self,
        media_type: &Bound<'_, PyAny>,
        charset: &Bound<'_, PyAny>,
    ) -> PyResult<HeaderValue> {
        self.seen.get([media_type, charset], || {
            let value = self
                .rule
                .bind(media_type.py())
                .call1((media_type, charset))?;
            HeaderValue::from_bytes(value.downcast::<PyBytes>()?.as_bytes())
                .map_err(|_| PyTypeError::new_err("invalid media_type"))
        })
    }
}

/// Converts a handler's return value into a reply.
///
/// A `Response` is taken as built; a `(content, status)` or `(content, status, headers)`
/// tuple sets the status (the original Ignyx README's form); anything else is JSON.
pub fn from_result(
    obj: &Bound<'_, PyAny>,
    status: StatusCode,
    types: &ResponseTypes,
) -> PyResult<Reply> {
    // The commonest results first: plain content, then responses, by class.
    if obj.is_exact_instance_of::<PyDict>() || obj.is_exact_instance_of::<PyList>() {
        return Ok(Reply::json(status, json::dumps(obj)?));
    }
    match types.kind(obj)? {
        ResultKind::Full => return from_response(obj, false, types),
        ResultKind::Streaming => return from_response(obj, true, types),
        ResultKind::File => return from_file(obj, types),
        ResultKind::Foreign { streaming } => return from_foreign(obj, streaming),
        ResultKind::Content => {}
    }
    if let Ok(tuple) = obj.downcast_exact::<PyTuple>() {
        if matches!(tuple.len(), 2 | 3) {
            if let Ok(code) = tuple.get_item(1)?.extract::<u16>() {
                let status = StatusCode::from_u16(code)
                    .map_err(|_| PyTypeError::new_err(format!("invalid status code {code}")))?;
                let content = tuple.get_item(0)?;
                let mut reply = match types.kind(&content)? {
                    ResultKind::Content => Reply::json(status, json::dumps(&content)?),
                    ResultKind::Foreign { streaming } => {
                        let mut reply = from_foreign(&content, streaming)?;
                        reply.status = status;
                        reply
                    }
                    kind => {
                        let mut reply =
                            from_response(&content, kind == ResultKind::Streaming, types)?;
                        reply.status = status;
                        reply
                    }
                };
                if tuple.len() == 3 {
                    let headers = tuple.get_item(2)?;
                    let headers = headers.downcast::<PyDict>()?;
                    for (k, v) in headers.iter() {
                        let (name, value) = header_pair(
                            k.extract::<&str>()?.as_bytes(),
                            v.extract::<&str>()?.as_bytes(),
                        )?;
                        reply.headers.insert(name, value);
                    }
                }
                return Ok(reply);
            }
        }
    }
    Ok(Reply::json(status, json::dumps(obj)?))
}

fn from_response(
    obj: &Bound<'_, PyAny>,
    streaming: bool,
    types: &ResponseTypes,
) -> PyResult<Reply> {
    let py = obj.py();
    let code: u16 = obj.getattr(pyo3::intern!(py, "status_code"))?.extract()?;
    let status = StatusCode::from_u16(code)
        .map_err(|_| PyTypeError::new_err(format!("invalid status code {code}")))?;
    let raw = obj.getattr(pyo3::intern!(py, "_raw_headers"))?;
    let mut headers = if raw.is_none() {
        default_headers(obj, types)?
    } else {
        let raw = raw.downcast::<PyList>()?;
        let mut headers = reply_headers(raw.len());
        for pair in raw.iter() {
            let pair = pair.downcast::<PyTuple>()?;
            let name = pair.get_item(0)?;
            let value = pair.get_item(1)?;
            let (name, value) = header_pair(
                name.downcast::<PyBytes>()?.as_bytes(),
                value.downcast::<PyBytes>()?.as_bytes(),
            )?;
            headers.append(name, value);
        }
        headers
    };
    let background = obj.getattr(pyo3::intern!(py, "background"))?;
    let background = (!background.is_none()).then(|| background.unbind());
    let body = if streaming {
        headers.remove(http::header::CONTENT_LENGTH);
        ReplyBody::Stream(obj.getattr(pyo3::intern!(py, "body_iterator"))?.unbind())
    } else {
        let body = obj.getattr(pyo3::intern!(py, "body"))?;
        ReplyBody::Full(Bytes::copy_from_slice(
            body.downcast::<PyBytes>()?.as_bytes(),
        ))
    };
    Ok(Reply {
        status,
        headers,
        body,
        background,
    })
}

/// A `FileResponse`: its headers, and its file opened to be sent as the client takes it.
fn from_file(obj: &Bound<'_, PyAny>, types: &ResponseTypes) -> PyResult<Reply> {
    let py = obj.py();
    let mut reply = from_response(obj, false, types)?;
    let head_only: bool = obj
        .getattr(pyo3::intern!(py, "send_header_only"))?
        .extract()?;
    if head_only {
        return Ok(reply);
    }
    let path: std::path::PathBuf = obj.getattr(pyo3::intern!(py, "path"))?.extract()?;
    let size: u64 = obj
        .getattr(pyo3::intern!(py, "stat_result"))?
        .getattr(pyo3::intern!(py, "st_size"))?
        .extract()?;
    let file = std::fs::File::open(&path).map_err(|_| {
        pyo3::exceptions::PyRuntimeError::new_err(format!(
            "File at path {} does not exist.",
            path.display()
        ))
    })?;
    reply.body = ReplyBody::File(file, size);
    Ok(reply)
}

/// Another framework's response, taken as it is: its status, its headers as they are,
/// its body or its body's iterator, its background task.
fn from_foreign(obj: &Bound<'_, PyAny>, streaming: bool) -> PyResult<Reply> {
    let py = obj.py();
    let code: u16 = obj.getattr(pyo3::intern!(py, "status_code"))?.extract()?;
    let status = StatusCode::from_u16(code)
        .map_err(|_| PyTypeError::new_err(format!("invalid status code {code}")))?;
    let mut headers = HeaderMap::new();
    for pair in obj.getattr(pyo3::intern!(py, "raw_headers"))?.try_iter()? {
        let pair = pair?;
        let name: Vec<u8> = pair.get_item(0)?.extract()?;
        let value: Vec<u8> = pair.get_item(1)?.extract()?;
        let (name, value) = header_pair(&name, &value)?;
        headers.append(name, value);
    }
    let background = match obj.getattr(pyo3::intern!(py, "background")) {
        Ok(task) if !task.is_none() => Some(task.unbind()),
        _ => None,
    };
    let body = if streaming {
        headers.remove(http::header::CONTENT_LENGTH);
        ReplyBody::Stream(obj.getattr(pyo3::intern!(py, "body_iterator"))?.unbind())
    } else {
        let body: Vec<u8> = obj.getattr(pyo3::intern!(py, "body"))?.extract()?;
        ReplyBody::Full(Bytes::from(body))
    };
    Ok(Reply {
        status,
        headers,
        body,
        background,
    })
}

/// The headers of a response whose `raw_headers` were never built: its content-type, as
/// `Response.init_headers` would write it. hyper adds the
/// content-length from the body, leaving it out where HTTP forbids it (1xx, 204, 304).
fn default_headers(obj: &Bound<'_, PyAny>, types: &ResponseTypes) -> PyResult<HeaderMap> {
    let py = obj.py();
    let mut headers = reply_headers(1);
    let media_type = obj.getattr(pyo3::intern!(py, "media_type"))?;
    if media_type.is_none() {
        return Ok(headers);
    }
    let charset = obj.getattr(pyo3::intern!(py, "charset"))?;
    headers.insert(
        CONTENT_TYPE,
        types.content_types.get(&media_type, &charset)?,
    );
    Ok(headers)
}

pub fn header_pair(name: &[u8], value: &[u8]) -> PyResult<(HeaderName, HeaderValue)> {
    let name = HeaderName::from_bytes(name).map_err(|_| {
        PyTypeError::new_err(format!(
            "invalid header name {:?}",
            String::from_utf8_lossy(name)
        ))
    })?;
    let value = HeaderValue::from_bytes(value)
        .map_err(|_| PyTypeError::new_err(format!("invalid value for header {name}")))?;
    Ok((name, value))
}
