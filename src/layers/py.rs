//! The native layers as Python objects: for a Python ASGI stack (a CORS middleware inside
//! a Python one, or the app served by an ASGI server), `ignyx.middleware.cors` calls these.

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use super::cors::{Cors, CorsConfig};

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
