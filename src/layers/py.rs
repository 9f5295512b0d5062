//! The native layers as Python objects: for a Python ASGI stack (a CORS middleware inside
//! a Python one, or the app served by an ASGI server), `ignyx.middleware.cors` calls these.

use std::future::Future;

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use super::cors::{Cors, CorsConfig};
use super::ratelimit::{self, OnError, RateLimit, Storage};
use super::sessions::SessionStore;
use super::{
    Checked, ClientKey, Compression, Encoder, Encoding, Layer, LimitKey, Sessions, TrustedHosts,
};
use crate::store::{resolve, Redis, StoreError};

/// `ignyx._core.CorsLayer`: the engine's CORS, configured like Starlette's `CORSMiddleware`.
#[pyclass(module = "ignyx._core", frozen)]
pub struct CorsLayer {
    pub cors: Cors,
}

#[pymethods]
impl CorsLayer {
    #[new]
    #[pyo3(signature = (**options))]
    fn new(options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let config = config(options)?;
        Ok(Self {
            cors: Cors::new(config).map_err(PyValueError::new_err)?,
        })
    }

    /// The answer to a CORS preflight request, as `(status, headers, body)`; `None` for any
    /// other request.
    fn preflight<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> PyResult<Option<Preflight<'py>>> {
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let Some((status, headers, body)) = self.cors.preflight(&method, &header_map(headers)?)
        else {
            return Ok(None);
        };
        Ok(Some((
            status.as_u16(),
            header_list(py, &headers)?,
            PyBytes::new(py, &body),
        )))
    }

    /// `headers` (a response's) with the CORS headers for a request from `origin` added.
    #[pyo3(signature = (origin, headers))]
    fn apply<'py>(
        &self,
        py: Python<'py>,
        origin: Option<Vec<u8>>,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> PyResult<Bound<'py, PyList>> {
        let origin = origin
            .map(|o| HeaderValue::from_bytes(&o))
            .transpose()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let mut headers = header_map(headers)?;
        self.cors.apply(origin.as_ref(), &mut headers);
        header_list(py, &headers)
    }
}

/// A preflight's answer: status, headers and body.
type Preflight<'py> = (u16, Bound<'py, PyList>, Bound<'py, PyBytes>);

/// A CORS configuration from keyword options, named as Starlette's `CORSMiddleware` names
/// them.
pub fn config(options: Option<&Bound<'_, PyDict>>) -> PyResult<CorsConfig> {
    let mut config = CorsConfig::default();
    let Some(options) = options else {
        return Ok(config);
    };
    for (key, value) in options.iter() {
        let key: String = key.extract()?;
        match key.as_str() {
            "allow_origins" => config.allow_origins = value.extract()?,
            "allow_methods" => config.allow_methods = value.extract()?,
            "allow_headers" => config.allow_headers = value.extract()?,
            "allow_credentials" => config.allow_credentials = value.extract()?,
            "allow_origin_regex" => config.allow_origin_regex = value.extract()?,
            "expose_headers" => config.expose_headers = value.extract()?,
            "max_age" => config.max_age = value.extract()?,
            "allow_private_network" => config.allow_private_network = value.extract()?,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown CORS option {other:?}"
                )))
            }
        }
    }
    Ok(config)
}

fn header_map(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> PyResult<HeaderMap> {
    let mut map = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        let name =
            HeaderName::from_bytes(&name).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let value =
            HeaderValue::from_bytes(&value).map_err(|e| PyValueError::new_err(e.to_string()))?;
        map.append(name, value);
    }
    Ok(map)
}

fn header_list<'py>(py: Python<'py>, headers: &HeaderMap) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for (name, value) in headers {
        list.append((
            PyBytes::new(py, name.as_str().as_bytes()),
            PyBytes::new(py, value.as_bytes()),
        ))?;
    }
    Ok(list)
}

/// A native layer from its Python description: `("cors", {...})`, `("trusted_hosts",
/// {"allowed_hosts": [...], "www_redirect": bool})`, `("https_redirect", {})` or
/// `("compression", {"minimum_size", "encodings", "gzip_level", "brotli_quality",
/// "zstd_level", "exclude_content_types"})`.
pub fn layer_of(kind: &str, options: &Bound<'_, PyDict>) -> PyResult<Layer> {
    let get = |key: &str| option(options, kind, key);
    let invalid = |message: String| PyValueError::new_err(message);
    Ok(match kind {
        "cors" => Layer::Cors(Box::new(
            Cors::new(config(Some(options))?).map_err(invalid)?,
        )),
        "trusted_hosts" => Layer::TrustedHosts(
            TrustedHosts::new(
                get("allowed_hosts")?.extract()?,
                get("www_redirect")?.extract()?,
            )
            .map_err(invalid)?,
        ),
        "https_redirect" => Layer::HttpsRedirect,
        "compression" => Layer::Compression(
            Compression::new(
                get("minimum_size")?.extract()?,
                &get("encodings")?.extract::<Vec<String>>()?,
                get("gzip_level")?.extract()?,
                get("brotli_quality")?.extract()?,
                get("zstd_level")?.extract()?,
                &get("exclude_content_types")?.extract::<Vec<String>>()?,
            )
            .map_err(invalid)?,
        ),
        "sessions" => Layer::Sessions(std::sync::Arc::new(sessions(options)?)),
        "rate_limit" => {
            let key = match get("key")?.extract::<String>()?.as_str() {
                "client" => LimitKey::Client,
                other => match other.strip_prefix("header:") {
                    Some(name) => {
                        LimitKey::Header(HeaderName::from_bytes(name.trim().as_bytes()).map_err(
                            |_| invalid(format!("rate limit: invalid header name {name:?}")),
                        )?)
                    }
                    None => return Err(invalid(format!("rate limit: unknown key {other:?}"))),
                },
            };
            Layer::RateLimit(std::sync::Arc::new(rate_limit(options)?), key)
        }
        other => return Err(invalid(format!("unknown native layer {other:?}"))),
    })
}

/// `ignyx._core.CompressionLayer`: the engine's compression, for a compression middleware
/// that runs in Python (inside another Python middleware, or under an ASGI server).
#[pyclass(module = "ignyx._core", frozen)]
pub struct CompressionLayer {
    compression: Compression,
}

#[pymethods]
impl CompressionLayer {
    #[new]
    #[pyo3(signature = (**options))]
    fn new(options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let options = options.ok_or_else(|| PyValueError::new_err("compression options needed"))?;
        match layer_of("compression", options)? {
            Layer::Compression(compression) => Ok(Self { compression }),
            _ => unreachable!("layer_of gives the kind asked for"),
        }
    }

    #[getter]
    fn minimum_size(&self) -> usize {
        self.compression.minimum_size
    }

    /// The coding (`"gzip"`, `"br"`, `"zstd"`) to answer a request with these headers.
    fn negotiate(&self, headers: Vec<(Vec<u8>, Vec<u8>)>) -> PyResult<Option<&'static str>> {
        let headers = header_map(headers)?;
        Ok(self.compression.negotiate(&headers).map(Encoding::token))
    }

    /// Whether a response with `status` and `headers` may be compressed, by its headers.
    fn applies(&self, status: u16, headers: Vec<(Vec<u8>, Vec<u8>)>) -> PyResult<bool> {
        let status =
            http::StatusCode::from_u16(status).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(self.compression.applies(status, &header_map(headers)?))
    }

    /// A compressor for one response body.
    fn encoder(&self, encoding: &str) -> PyResult<BodyEncoder> {
        let encoding = Encoding::parse(encoding)
            .ok_or_else(|| PyValueError::new_err(format!("unknown encoding {encoding:?}")))?;
        Ok(BodyEncoder {
            encoder: std::sync::Mutex::new(self.compression.encoder(encoding)),
        })
    }
}

/// `ignyx._core.BodyEncoder`: one body's compressor.
#[pyclass(module = "ignyx._core", frozen)]
pub struct BodyEncoder {
    encoder: std::sync::Mutex<Encoder>,
}

#[pymethods]
impl BodyEncoder {
    /// `data` compressed: flushed when `more`, the stream finished when not.
    fn chunk<'py>(
        &self,
        py: Python<'py>,
        data: &[u8],
        more: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let mut encoder = self
            .encoder
            .lock()
            .map_err(|_| PyValueError::new_err("encoder poisoned"))?;
        Ok(PyBytes::new(py, &encoder.chunk(data, more)))
    }
}

fn sessions(options: &Bound<'_, PyDict>) -> PyResult<Sessions> {
    let get = |key: &str| option(options, "sessions", key);
    let store = match get("backend")?.extract::<Option<String>>()? {
        None => None,
        Some(url) => {
            let timeout = seconds(get("timeout")?.extract()?, "sessions")?;
            Some(SessionStore {
                redis: Redis::open(&url, timeout).map_err(PyValueError::new_err)?,
                prefix: get("key_prefix")?.extract()?,
                report: python_report("ignyx.middleware.sessions", "report_store_failure"),
            })
        }
    };
    let sessions = Sessions::new(
        &get("secret_key")?.extract::<String>()?,
        get("session_cookie")?.extract()?,
        get("max_age")?.extract()?,
        get("path")?.extract()?,
        &get("same_site")?.extract::<String>()?,
        get("https_only")?.extract()?,
        get("domain")?.extract()?,
        get("partitioned")?.extract()?,
    );
    Ok(match store {
        Some(store) => sessions.with_store(store),
        None => sessions,
    })
}

/// Option `key` of a layer's options (`what` names the layer in the error).
fn option<'py>(options: &Bound<'py, PyDict>, what: &str, key: &str) -> PyResult<Bound<'py, PyAny>> {
    options
        .get_item(key)?
        .ok_or_else(|| PyValueError::new_err(format!("{what}: {key} is missing")))
}

/// A positive number of seconds, from Python.
fn seconds(value: f64, what: &str) -> PyResult<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(value)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| PyValueError::new_err(format!("{what}: timeout must be positive seconds")))
}

/// Reports a failure of the store through the Python function `module.name(message)`
/// (which logs it), each kind of failure (the message up to its first `": "`) at most once
/// a second: while Redis is down every request fails, and the log must not repeat it for
/// each.
fn python_report(module: &'static str, name: &'static str) -> Box<dyn Fn(&str) + Send + Sync> {
    let reported = std::sync::Mutex::new(Vec::<(String, std::time::Instant)>::new());
    Box::new(move |message: &str| {
        let kind = message.split(": ").next().unwrap_or(message);
        {
            let mut last = reported.lock().unwrap_or_else(|p| p.into_inner());
            let now = std::time::Instant::now();
            match last.iter_mut().find(|(seen, _)| seen == kind) {
                Some((_, at)) if at.elapsed() < std::time::Duration::from_secs(1) => return,
                Some((_, at)) => *at = now,
                None => last.push((kind.to_owned(), now)),
            }
        }
        Python::with_gil(|py| {
            let logged = py
                .import(module)
                .and_then(|module| module.getattr(name))
                .and_then(|report| report.call1((message,)));
            if let Err(error) = logged {
                error.print(py);
            }
        });
    })
}

/// `ignyx._core.SessionLayer`: the engine's session cookies, for a session middleware that
/// runs in Python (inside another Python middleware, or under an ASGI server).
#[pyclass(module = "ignyx._core", frozen)]
pub struct SessionLayer {
    sessions: Sessions,
}

#[pymethods]
impl SessionLayer {
    #[new]
    #[pyo3(signature = (**options))]
    fn new(options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let options = options.ok_or_else(|| PyValueError::new_err("session options needed"))?;
        Ok(Self {
            sessions: sessions(options)?,
        })
    }

    /// What the request's cookie carries, if it has a valid one: the session as base64
    /// JSON, or with a store the session's id.
    fn read<'py>(
        &self,
        py: Python<'py>,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
        now: u64,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let headers = header_map(headers)?;
        Ok(self
            .sessions
            .read(&headers, now)
            .map(|p| PyBytes::new(py, &p)))
    }

    /// The `Set-Cookie` value storing the session `json`.
    fn set_cookie<'py>(
        &self,
        py: Python<'py>,
        json: &[u8],
        now: u64,
    ) -> Option<Bound<'py, PyBytes>> {
        let value = self.sessions.set_cookie(json, now)?;
        Some(PyBytes::new(py, value.as_bytes()))
    }

    /// The `Set-Cookie` value carrying a stored session's `id`.
    fn id_cookie<'py>(&self, py: Python<'py>, id: &str, now: u64) -> Option<Bound<'py, PyBytes>> {
        let value = self.sessions.id_cookie(id, now)?;
        Some(PyBytes::new(py, value.as_bytes()))
    }

    /// A new id for a stored session.
    #[staticmethod]
    fn new_id() -> String {
        super::new_session_id()
    }

    /// The `Set-Cookie` value clearing the session.
    fn clear_cookie<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        let value = self.sessions.clear_cookie()?;
        Some(PyBytes::new(py, value.as_bytes()))
    }
}

/// A rate limit from its options: `limit` ("100/minute"), `storage` ("memory://" or a
/// Redis URL), `key_prefix`, `fail_open`, `timeout` (seconds) and `headers`.
fn rate_limit(options: &Bound<'_, PyDict>) -> PyResult<RateLimit> {
    let get = |key: &str| option(options, "rate limit", key);
    let windows = ratelimit::parse_rule(&get("limit")?.extract::<String>()?)
        .map_err(PyValueError::new_err)?;
    let storage_url: String = get("storage")?.extract()?;
    let timeout = seconds(get("timeout")?.extract()?, "rate limit")?;
    let storage = match storage_url.as_str() {
        "memory://" | "memory" => Storage::Memory(Default::default()),
        url => Storage::Redis {
            redis: Redis::open(url, timeout).map_err(PyValueError::new_err)?,
            prefix: get("key_prefix")?.extract()?,
        },
    };
    let on_error = match get("fail_open")?.extract::<bool>()? {
        true => OnError::Open,
        false => OnError::Closed,
    };
    let report = python_report("ignyx.ratelimit", "report_storage_failure");
    Ok(RateLimit::new(
        windows,
        storage,
        on_error,
        get("headers")?.extract()?,
        report,
    ))
}

/// `ignyx._core.RateLimiter(**options)`: a rate limit for Python to ask (the middleware
/// keyed by a Python function, or a route's `RateLimit` dependency).
#[pyclass(module = "ignyx._core", frozen)]
pub struct RateLimiter {
    limit: std::sync::Arc<RateLimit>,
}

#[pymethods]
impl RateLimiter {
    #[new]
    #[pyo3(signature = (**options))]
    fn new(options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let options = options.ok_or_else(|| PyValueError::new_err("rate limit options needed"))?;
        Ok(Self {
            limit: std::sync::Arc::new(rate_limit(options)?),
        })
    }

    /// Counts a request from `key`; `future` gets `None` when it passes without headers,
    /// `(0, headers, b"")` when it passes with them, or `(status, headers, body)`: the
    /// answer refusing it.
    fn check(&self, py: Python<'_>, future: Py<PyAny>, key: String) -> PyResult<()> {
        let limit = self.limit.clone();
        let key = ClientKey::Text(key.into());
        let checking = async move {
            let checked = limit.check(&key).await;
            (limit, checked)
        };
        // A limit kept in memory decides at once, here.
        let mut checking = Box::pin(checking);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        if let std::task::Poll::Ready((limit, checked)) = checking.as_mut().poll(&mut context) {
            let outcome = checked_to_python(py, &limit, checked)?;
            future.call_method1(py, pyo3::intern!(py, "set_result"), (outcome,))?;
            return Ok(());
        }
        Redis::spawn_task(async move {
            let (limit, checked) = checking.await;
            Python::with_gil(|py| {
                let outcome =
                    checked_to_python(py, &limit, checked).map_err(|e| StoreError(e.to_string()));
                resolve(py, &future, outcome);
            });
        });
        Ok(())
    }
}

fn checked_to_python(py: Python<'_>, limit: &RateLimit, checked: Checked) -> PyResult<PyObject> {
    Ok(match checked {
        Checked::Pass(None) => py.None(),
        Checked::Pass(Some(verdict)) => {
            let mut headers = HeaderMap::with_capacity(4);
            limit.write_headers(&verdict, &mut headers);
            (0, header_list(py, &headers)?, PyBytes::new(py, b""))
                .into_pyobject(py)?
                .into_any()
                .unbind()
        }
        Checked::Refused((status, headers, body)) => (
            status.as_u16(),
            header_list(py, &headers)?,
            PyBytes::new(py, &body),
        )
            .into_pyobject(py)?
            .into_any()
            .unbind(),
    })
}
