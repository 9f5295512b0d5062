//! An ASGI scope read into the request head the HTTP layer routes and Python reads.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, Method, Request, Uri, Version};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::http::{NamedClient, Peers};

/// What routing and the request need from a scope; the body comes later.
pub struct Head {
    pub parts: Parts,
    /// The path the app routes by: `scope["path"]` without `scope["root_path"]`, as
    /// Starlette routes.
    pub path: String,
    /// `scope["path"]`, whole (what `request.url` shows).
    pub full_path: String,
    pub root_path: String,
    pub peers: Peers,
    pub scheme: &'static str,
    /// `scope["state"]`, which handlers see as `request.state`.
    pub state: Option<Py<PyAny>>,
    /// `scope["client"]` when its host is a name, not an IP address.
    pub named_client: Option<Arc<NamedClient>>,
    /// `scope["session"]`, a Python session middleware's.
    pub session: Option<Py<PyAny>>,
}

/// Characters of a decoded path that must be escaped again to form a URI.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

impl Head {
    /// Reads `scope`; `default_scheme` when it names none ("http" or "ws").
    pub fn of(scope: &Bound<'_, PyDict>, default_scheme: &'static str) -> PyResult<Self> {
        let path: String = required(scope, "path")?;
        let root_path: String = optional(scope, "root_path")?.unwrap_or_default();
        let route_path = match path.strip_prefix(root_path.as_str()) {
            Some(rest) if !root_path.is_empty() && (rest.is_empty() || rest.starts_with('/')) => {
                if rest.is_empty() {
                    "/".to_owned()
                } else {
                    rest.to_owned()
                }
            }
            _ => path.clone(),
        };
        let raw_path: Option<Vec<u8>> = optional(scope, "raw_path")?;
        let target_path = match raw_path {
            Some(raw) if !raw.is_empty() => raw,
            _ => utf8_percent_encode(&path, PATH).to_string().into_bytes(),
        };
        let query: Vec<u8> = optional(scope, "query_string")?.unwrap_or_default();
        let mut target = target_path;
        if !query.is_empty() {
            target.push(b'?');
            target.extend_from_slice(&query);
        }
        let uri = Uri::try_from(target)
            .map_err(|e| PyValueError::new_err(format!("invalid request target: {e}")))?;

        let method: String = optional(scope, "method")?.unwrap_or_else(|| "GET".to_owned());
        let version = match optional::<String>(scope, "http_version")?.as_deref() {
            Some("1.0") => Version::HTTP_10,
            Some("2") | Some("2.0") => Version::HTTP_2,
            _ => Version::HTTP_11,
        };
        let mut request = Request::new(());
        *request.method_mut() = Method::from_bytes(method.as_bytes())
            .map_err(|e| PyValueError::new_err(format!("invalid method: {e}")))?;
        *request.uri_mut() = uri;
        *request.version_mut() = version;
        *request.headers_mut() = headers(scope)?;
        let (parts, ()) = request.into_parts();

        let scheme = match optional::<String>(scope, "scheme")?.as_deref() {
            Some("https") => "https",
            Some("ws") => "ws",
            Some("wss") => "wss",
            Some("http") => "http",
            _ => default_scheme,
        };
        Ok(Self {
            parts,
            path: route_path,
            full_path: path,
            root_path,
            peers: Peers {
                client: address(scope, "client")?,
                local: address(scope, "server")?,
                secure: matches!(scheme, "https" | "wss"),
            },
            scheme,
            state: None,
            named_client: named_client(scope)?,
            session: scope.get_item("session")?.map(Bound::unbind),
        })
    }
}

fn required<'py, T: FromPyObject<'py>>(scope: &Bound<'py, PyDict>, key: &str) -> PyResult<T> {
    match scope.get_item(key)? {
        Some(value) => value.extract(),
        None => Err(PyValueError::new_err(format!("the scope has no {key:?}"))),
    }
}

fn optional<'py, T: FromPyObject<'py>>(
    scope: &Bound<'py, PyDict>,
    key: &str,
) -> PyResult<Option<T>> {
    match scope.get_item(key)? {
        Some(value) if !value.is_none() => value.extract().map(Some),
        _ => Ok(None),
    }
}

/// `scope["headers"]`: an iterable of `(name, value)` byte pairs.
fn headers(scope: &Bound<'_, PyDict>) -> PyResult<HeaderMap> {
    match scope.get_item("headers")? {
        Some(items) => header_map(&items),
        None => Ok(HeaderMap::new()),
    }
}

/// An ASGI header list (pairs may be tuples or lists: Mangum sends lists) as a `HeaderMap`.
pub fn header_map(items: &Bound<'_, PyAny>) -> PyResult<HeaderMap> {
    let mut map = HeaderMap::new();
    for pair in items.try_iter()? {
        let pair = pair?;
        let (name, value) = (pair.get_item(0)?, pair.get_item(1)?);
        let name = HeaderName::from_bytes(&bytes_of(&name)?)
            .map_err(|e| PyValueError::new_err(format!("invalid header name: {e}")))?;
        let value = HeaderValue::from_bytes(&bytes_of(&value)?)
            .map_err(|e| PyValueError::new_err(format!("invalid header value: {e}")))?;
        map.append(name, value);
    }
    Ok(map)
}

/// `bytes`, or anything else bytes-like (a `bytearray`), as bytes.
fn bytes_of<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    match value.downcast::<PyBytes>() {
        Ok(bytes) => Ok(Cow::Borrowed(bytes.as_bytes())),
        Err(_) => value.extract::<Vec<u8>>().map(Cow::Owned),
    }
}

/// `scope["client"]` when it names its host (`("testclient", 50000)`) instead of giving an
/// IP address, which `address` reads.
fn named_client(scope: &Bound<'_, PyDict>) -> PyResult<Option<Arc<NamedClient>>> {
    let Some(value) = scope.get_item("client")? else {
        return Ok(None);
    };
    let (Ok(host), Ok(port)) = (value.get_item(0), value.get_item(1)) else {
        return Ok(None);
    };
    let (Ok(host), Ok(port)) = (host.extract::<String>(), port.extract::<Option<u16>>()) else {
        return Ok(None);
    };
    if host.parse::<IpAddr>().is_ok() {
        return Ok(None);
    }
    let port = port.unwrap_or(0);
    Ok(Some(Arc::new(NamedClient { host, port })))
}

/// `scope["client"]` or `scope["server"]`: `(host, port)`, or `None` (also for a host that is
/// not an IP address, such as a Unix socket's path).
fn address(scope: &Bound<'_, PyDict>, key: &str) -> PyResult<Option<SocketAddr>> {
    let Some(value) = scope.get_item(key)? else {
        return Ok(None);
    };
    if value.is_none() {
        return Ok(None);
    }
    // A tuple or a list of two.
    let (Ok(host), Ok(port)) = (value.get_item(0), value.get_item(1)) else {
        return Ok(None);
    };
    let (Ok(host), Ok(port)) = (host.extract::<String>(), port.extract::<Option<u16>>()) else {
        return Ok(None);
    };
    Ok(host
        .parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port.unwrap_or(0))))
}
