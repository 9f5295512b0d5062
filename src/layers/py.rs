//! The native layers as Python objects: for a Python ASGI stack (a CORS middleware inside
//! a Python one, or the app served by an ASGI server), `ignyx.middleware.cors` calls these.

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use super::cors::{Cors, CorsConfig};
use super::{Compression, Encoder, Encoding, Layer, Sessions, TrustedHosts};

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
    let get = |key: &str| -> PyResult<Bound<'_, PyAny>> {
        options
            .get_item(key)?
            .ok_or_else(|| PyValueError::new_err(format!("{kind}: {key} is missing")))
    };
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
    let get = |key: &str| -> PyResult<Bound<'_, PyAny>> {
        options
            .get_item(key)?
            .ok_or_else(|| PyValueError::new_err(format!("sessions: {key} is missing")))
    };
    Ok(Sessions::new(
        &get("secret_key")?.extract::<String>()?,
        get("session_cookie")?.extract()?,
        get("max_age")?.extract()?,
        get("path")?.extract()?,
        &get("same_site")?.extract::<String>()?,
        get("https_only")?.extract()?,
        get("domain")?.extract()?,
        get("partitioned")?.extract()?,
    ))
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

    /// The session the request's cookie carries (base64 JSON), if it has a valid one.
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

    /// The `Set-Cookie` value clearing the session.
    fn clear_cookie<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        let value = self.sessions.clear_cookie()?;
        Some(PyBytes::new(py, value.as_bytes()))
    }
}
