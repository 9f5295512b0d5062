//! The request in: its body read within limits, and the request as Python sees it,
//! a Rust object that keeps the parsed HTTP request and turns pieces into Python
//! objects only when asked.

use std::borrow::Cow;
use std::mem::ManuallyDrop;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::request::Parts;
use http::{HeaderMap, Method, StatusCode, Uri, Version};
use http_body::Body as _;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use super::response::Reply;
use super::session::{SessionSeed, SessionSlot};

/// Everything Rust knows about one request, shared with Python without copying.
pub struct RequestData {
    pub method: Method,
    /// The request target: the raw path and the query string are read from it.
    uri: Uri,
    /// The path as routed (Starlette's `scope["path"]`), when that is not the target's own
    /// (it had a `%` to decode, or an ASGI server said so): most requests keep their path
    /// once, in `uri`.
    decoded_path: Option<String>,
    pub version: Version,
    /// Given to a later reply when the request is done (`spare_headers`).
    pub headers: ManuallyDrop<HeaderMap>,
    pub body: Bytes,
    pub path_params: Vec<(String, String)>,
    pub client: Option<SocketAddr>,
    pub server: Option<SocketAddr>,
    pub scheme: &'static str,
    /// The `state` dict of the ASGI scope the request came in (unset on the native server
    /// without Python middleware).
    pub state: OnceLock<Py<PyAny>>,
    /// The ASGI scope's `root_path` (empty on the native server).
    pub root_path: String,
    /// Where the engine routed the request, when the app's Python middleware runs first:
    /// the innermost app of that stack calls the route without routing again.
    pub routed: Option<RoutedHere>,
    /// The client by name, where it has one instead of an address: a TestClient's
    /// `("testclient", 50000)`, or an ASGI server's `scope["client"]` that is no IP.
    pub named_client: Option<std::sync::Arc<NamedClient>>,
    /// Its session, when a sessions layer passed it (`request.session`).
    pub session: Option<Box<SessionSlot>>,
    query: OnceLock<Vec<(String, String)>>,
}

/// A client known by a name and a port rather than a socket address.
#[derive(Debug, PartialEq, Eq)]
pub struct NamedClient {
    pub host: String,
    pub port: u16,
}

/// The route the engine matched for a request, and the engine it belongs to.
pub struct RoutedHere {
    pub engine: std::sync::Arc<super::Engine>,
    pub route: std::sync::Arc<super::Route>,
}

/// The two ends of the connection a request came on (an ASGI server may not say).
#[derive(Clone, Copy, Debug)]
pub struct Peers {
    pub client: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
    /// Whether the request came over TLS (to this server, or to the proxy before it).
    pub secure: bool,
}

impl Drop for RequestData {
    fn drop(&mut self) {
        // SAFETY: the map is not used again: the request is being dropped.
        super::spare_headers::give(unsafe { ManuallyDrop::take(&mut self.headers) });
    }
}

impl RequestData {
    /// The request as routed: its head, the decoded `path` it was routed by when that is
    /// not its target's own, the parameters the route captured, and the body read.
    #[inline(always)]
    pub fn from_parts(
        mut parts: Parts,
        path: Option<String>,
        path_params: Vec<(String, String)>,
        body: Bytes,
        peers: Peers,
        scheme: &'static str,
    ) -> Self {
        let session = match parts.extensions.is_empty() {
            true => None,
            false => parts
                .extensions
                .remove::<SessionSeed>()
                .map(SessionSlot::native),
        };
        Self {
            decoded_path: path.filter(|path| path != parts.uri.path()),
            uri: parts.uri,
            method: parts.method,
            version: parts.version,
            headers: ManuallyDrop::new(parts.headers),
            body,
            path_params,
            client: peers.client,
            server: peers.local,
            scheme,
            state: OnceLock::new(),
            root_path: String::new(),
            routed: None,
            named_client: None,
            session,
            query: OnceLock::new(),
        }
    }

    /// The path as routed, percent-escapes decoded (Starlette's `scope["path"]`).
    pub fn path(&self) -> &str {
        self.decoded_path.as_deref().unwrap_or(self.uri.path())
    }

    /// The path as the client sent it (Starlette's `scope["raw_path"]`).
    pub fn raw_path(&self) -> &[u8] {
        self.uri.path().as_bytes()
    }

    /// What follows the `?` of the target, as sent (Starlette's `scope["query_string"]`).
    pub fn query_string(&self) -> &[u8] {
        self.uri.query().unwrap_or_default().as_bytes()
    }

    /// The same request with other `headers` or `body` (what ASGI middleware changed), not
    /// yet routed.
    pub fn altered(&self, py: Python<'_>, headers: Option<HeaderMap>, body: Option<Bytes>) -> Self {
        let state = OnceLock::new();
        if let Some(shared) = self.state.get() {
            let _ = state.set(shared.clone_ref(py));
        }
        Self {
            method: self.method.clone(),
            uri: self.uri.clone(),
            decoded_path: self.decoded_path.clone(),
            version: self.version,
            headers: ManuallyDrop::new(headers.unwrap_or_else(|| HeaderMap::clone(&self.headers))),
            body: body.unwrap_or_else(|| self.body.clone()),
            path_params: self.path_params.clone(),
            client: self.client,
            server: self.server,
            scheme: self.scheme,
            state,
            root_path: self.root_path.clone(),
            routed: None,
            named_client: self.named_client.clone(),
            session: self.session.as_ref().map(|slot| slot.duplicate(py)),
            query: OnceLock::new(),
        }
    }

    /// Query pairs, `+` and percent-escapes decoded, blank values kept (like `parse_qsl`).
    pub fn query(&self) -> &[(String, String)] {
        self.query.get_or_init(|| {
            form_urlencoded::parse(self.query_string())
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

/// The path as routed (Starlette's `scope["path"]`): percent-escapes decoded. Without
/// escapes there is nothing to decode (the http crate has checked it is UTF-8): the raw
/// path is borrowed.
pub fn decoded_path(raw_path: &str) -> Cow<'_, str> {
    if raw_path.contains('%') {
        Cow::Owned(
            percent_decode_str(raw_path)
                .decode_utf8_lossy()
                .into_owned(),
        )
    } else {
        Cow::Borrowed(raw_path)
    }
}

/// What RFC 9112 asks of a request's framing that hyper leaves to the server: an HTTP/1.1
/// request names exactly one `Host` (§3.2: else 400), and its `Transfer-Encoding` is
/// `chunked` alone (§6.1: another coding is not implemented, 501; §7: chunked twice is
/// invalid, 400). Either way the connection is closed after the answer.
pub fn framing_error(version: Version, headers: &HeaderMap) -> Option<Reply> {
    let bad = |status, detail| {
        let mut reply = Reply::detail(status, detail);
        reply
            .headers
            .insert(CONNECTION, http::HeaderValue::from_static("close"));
        Some(reply)
    };
    // One pass over the few headers a request has costs less than two lookups.
    let (mut hosts, mut chunked) = (0, 0);
    for (name, value) in headers {
        if *name == HOST {
            hosts += 1;
        } else if *name == TRANSFER_ENCODING {
            let value = String::from_utf8_lossy(value.as_bytes());
            for coding in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                if !coding.eq_ignore_ascii_case("chunked") {
                    return bad(StatusCode::NOT_IMPLEMENTED, "Not Implemented");
                }
                chunked += 1;
            }
        }
    }
    if version == Version::HTTP_11 && hosts != 1 {
        return bad(StatusCode::BAD_REQUEST, "Bad Request");
    }
    if chunked > 1 {
        return bad(StatusCode::BAD_REQUEST, "Bad Request");
    }
    None
}

/// Whether `Content-Length` announces a body over `limit` bytes (refused before reading it).
pub fn declares_too_large(headers: &HeaderMap, limit: usize) -> bool {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
}

/// Reads the whole request body, refusing one over `limit` bytes (413, before reading it
/// when `Content-Length` says so) or one that does not arrive within `timeout` (408).
pub async fn read_body(
    body: Incoming,
    limit: usize,
    timeout: Duration,
    headers: &HeaderMap,
) -> Result<Bytes, Reply> {
    if declares_too_large(headers, limit) {
        return Err(Reply::declared_too_large());
    }
    // Most requests have no body: no timer, no collecting.
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err))
            if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(Reply::too_large())
        }
        Ok(Err(_)) => Err(Reply::detail(StatusCode::BAD_REQUEST, "Bad Request")),
        Err(_) => Err(Reply::detail(
            StatusCode::REQUEST_TIMEOUT,
            "Request Timeout",
        )),
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
        self.data.path()
    }

    #[getter]
    fn raw_path<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.data.raw_path())
    }

    #[getter]
    fn query_string<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.data.query_string())
    }

    #[getter]
    fn http_version(&self) -> &'static str {
        http_version(self.data.version)
    }

    #[getter]
    fn scheme(&self) -> &'static str {
        self.data.scheme
    }

    /// The request's session object, when a sessions middleware gave it one.
    #[getter]
    fn session(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.data
            .session
            .as_ref()
            .map(|slot| slot.object(py))
            .transpose()
    }

    #[getter]
    fn client(&self) -> Option<(String, u16)> {
        if let Some(named) = &self.data.named_client {
            return Some((named.host.clone(), named.port));
        }
        self.data.client.map(|a| (ip_text(a.ip()), a.port()))
    }

    #[getter]
    fn server(&self) -> Option<(String, u16)> {
        self.data.server.map(|a| (ip_text(a.ip()), a.port()))
    }

    /// Raw header pairs as ASGI gives them: lower-cased names, bytes values, in order.
    #[getter]
    fn raw_headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        header_list(py, &self.data.headers)
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

    /// The ASGI scope's `root_path`: where a proxy or a mount put the app ("" on the native
    /// server).
    #[getter]
    fn root_path(&self) -> &str {
        &self.data.root_path
    }

    /// The `state` dict of the ASGI scope the request came in; `None` on the native server.
    #[getter]
    fn state(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.data.state.get().map(|state| state.clone_ref(py))
    }
}

/// Raw header pairs as ASGI gives them: lower-cased names, bytes values, in order.
pub fn header_list<'py>(py: Python<'py>, headers: &HeaderMap) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for (name, value) in headers.iter() {
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

/// An address as text; IPv4 without the formatting machinery, which costs more than the
/// rest of the scope.
pub fn ip_text(ip: IpAddr) -> String {
    let mut text = String::with_capacity(15);
    push_ip(&mut text, ip);
    text
}

/// `ip` written at the end of `out`, an IPv4 address digit by digit (no formatter).
pub fn push_ip(out: &mut String, ip: IpAddr) {
    let IpAddr::V4(v4) = ip else {
        let _ = std::fmt::Write::write_fmt(out, format_args!("{ip}"));
        return;
    };
    for (index, octet) in v4.octets().into_iter().enumerate() {
        if index > 0 {
            out.push('.');
        }
        if octet >= 100 {
            out.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            out.push(char::from(b'0' + octet / 10 % 10));
        }
        out.push(char::from(b'0' + octet % 10));
    }
}

/// Header values are bytes; Starlette decodes them as latin-1, so every byte maps to one char.
fn latin1(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.is_ascii() => s.to_owned(),
        _ => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// The answer to a request in an HTTP version the server was told not to speak.
pub fn version_refused() -> Reply {
    let mut reply = Reply::new(
        StatusCode::HTTP_VERSION_NOT_SUPPORTED,
        &http::HeaderValue::from_static("text/plain; charset=utf-8"),
        Bytes::from_static(b"HTTP Version Not Supported"),
    );
    reply
        .headers
        .insert(CONNECTION, http::HeaderValue::from_static("close"));
    reply
}

/// An HTTP/2 request names its host in the `:authority` pseudo-header, which hyper keeps in
/// the URI: it becomes the `Host` header an HTTP/1.1 request would have sent, which URLs
/// are built from.
pub fn host_from_authority<B>(req: &mut http::Request<B>) {
    if req.headers().contains_key(HOST) {
        return;
    }
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str().as_bytes().to_vec());
    if let Some(value) = authority.and_then(|a| http::HeaderValue::from_bytes(&a).ok()) {
        req.headers_mut().insert(HOST, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(query: &'static str) -> RequestData {
        let (parts, ()) = http::Request::get(format!("/?{query}"))
            .body(())
            .expect("a valid request")
            .into_parts();
        let peers = Peers {
            client: Some(([127, 0, 0, 1], 1234).into()),
            local: Some(([127, 0, 0, 1], 8000).into()),
            secure: false,
        };
        RequestData::from_parts(parts, None, Vec::new(), Bytes::new(), peers, "http")
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
    fn ipv4_text_is_the_usual_dotted_form() {
        for ip in ["0.0.0.0", "127.0.0.1", "10.20.100.255", "192.168.1.9"] {
            assert_eq!(ip_text(ip.parse().unwrap()), ip);
        }
        assert_eq!(ip_text("::1".parse().unwrap()), "::1");
    }

    #[test]
    fn latin1_maps_every_byte() {
        assert_eq!(latin1(b"abc"), "abc");
        assert_eq!(latin1(&[0xe9]), "\u{e9}");
    }
}
