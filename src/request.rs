//! The request as Python sees it: a Rust object that keeps the parsed HTTP
//! request and turns pieces into Python objects only when asked.

use std::net::SocketAddr;
use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderMap, Method, Version};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

/// Everything Rust knows about one request, shared with Python without copying.
pub struct RequestData {
    pub method: Method,
    /// Percent-decoded path, as routed (Starlette's `scope["path"]`).
    pub path: String,
    pub raw_path: Bytes,
    pub query_string: Bytes,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub path_params: Vec<(String, String)>,
    pub client: Option<SocketAddr>,
    pub server: Option<SocketAddr>,
    pub scheme: &'static str,
    query: OnceLock<Vec<(String, String)>>,
}

impl RequestData {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        method: Method,
        path: String,
        raw_path: Bytes,
        query_string: Bytes,
        version: Version,
        headers: HeaderMap,
        body: Bytes,
        client: Option<SocketAddr>,
        server: Option<SocketAddr>,
    ) -> Self {
        Self {
            method,
            path,
            raw_path,
            query_string,
            version,
            headers,
            body,
            path_params: Vec::new(),
            client,
            server,
            scheme: "http",
            query: OnceLock::new(),
        }
    }

    /// Query pairs, `+` and percent-escapes decoded, blank values kept (like `parse_qsl`).
    pub fn query(&self) -> &[(String, String)] {
        self.query.get_or_init(|| {
            form_urlencoded::parse(&self.query_string)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
    }

    /// The last value for `name`, as Starlette's `QueryParams.get` gives.
    pub fn query_last(&self, name: &str) -> Option<&str> {
        self.query()
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub fn http_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// `ignyx._core.RequestData`: wrapped by `ignyx.requests.Request`.
#[pyclass(name = "RequestData", module = "ignyx._core", frozen)]
pub struct PyRequestData {
    pub data: std::sync::Arc<RequestData>,
}

#[pymethods]
impl PyRequestData {
    #[getter]
    fn method(&self) -> &str {
        self.data.method.as_str()
    }

    #[getter]
    fn path(&self) -> &str {
        &self.data.path
    }

    #[getter]
    fn raw_path<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.data.raw_path)
    }

    #[getter]
    fn query_string<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.data.query_string)
    }

    #[getter]
    fn http_version(&self) -> &'static str {
        http_version(self.data.version)
    }

    #[getter]
    fn scheme(&self) -> &'static str {
        self.data.scheme
    }

    #[getter]
    fn client(&self) -> Option<(String, u16)> {
        self.data.client.map(|a| (a.ip().to_string(), a.port()))
    }

    #[getter]
    fn server(&self) -> Option<(String, u16)> {
        self.data.server.map(|a| (a.ip().to_string(), a.port()))
    }

    /// Raw header pairs as ASGI gives them: lower-cased names, bytes values, in order.
    #[getter]
    fn raw_headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for (name, value) in self.data.headers.iter() {
            let pair = PyTuple::new(
                py,
                [
                    PyBytes::new(py, name.as_str().as_bytes()),
                    PyBytes::new(py, value.as_bytes()),
                ],
            )?;
            list.append(pair)?;
        }
        Ok(list)
    }

    /// The first value of header `name` (case-insensitive), decoded as latin-1.
    fn header(&self, name: &str) -> Option<String> {
        self.data.headers.get(name).map(|v| latin1(v.as_bytes()))
    }

    /// Every value of header `name`, in order.
    fn header_all(&self, name: &str) -> Vec<String> {
        self.data
            .headers
            .get_all(name)
            .iter()
            .map(|v| latin1(v.as_bytes()))
            .collect()
    }

    /// The last value of query parameter `name`, decoded.
    fn query(&self, name: &str) -> Option<&str> {
        self.data.query_last(name)
    }

    /// Every value of query parameter `name`, in order.
    fn query_all(&self, name: &str) -> Vec<&str> {
        self.data
            .query()
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// All decoded query pairs, in order.
    fn query_items(&self) -> Vec<(&str, &str)> {
        self.data
            .query()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn path_param(&self, name: &str) -> Option<&str> {
        self.data.path_param(name)
    }

    #[getter]
    fn path_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (k, v) in &self.data.path_params {
            dict.set_item(PyString::new(py, k), PyString::new(py, v))?;
        }
        Ok(dict)
    }

    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.data.body)
    }
}

/// Header values are bytes; Starlette decodes them as latin-1, so every byte maps to one char.
fn latin1(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.is_ascii() => s.to_owned(),
        _ => bytes.iter().map(|&b| b as char).collect(),
    }
}

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRequestData>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(query: &'static str) -> RequestData {
        RequestData::new(
            Method::GET,
            "/".into(),
            Bytes::from_static(b"/"),
            Bytes::from_static(query.as_bytes()),
            Version::HTTP_11,
            HeaderMap::new(),
            Bytes::new(),
            None,
            None,
        )
    }

    #[test]
    fn query_is_percent_decoded_and_keeps_repeats() {
        let d = data("name=hello%20world&q=a&q=b&plus=a+b&empty=");
        assert_eq!(d.query_last("name"), Some("hello world"));
        assert_eq!(d.query_last("q"), Some("b"));
        assert_eq!(d.query_last("plus"), Some("a b"));
        assert_eq!(d.query_last("empty"), Some(""));
        assert_eq!(d.query_last("missing"), None);
    }

    #[test]
    fn latin1_maps_every_byte() {
        assert_eq!(latin1(b"abc"), "abc");
        assert_eq!(latin1(&[0xe9]), "\u{e9}");
    }
}
