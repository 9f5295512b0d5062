//! The scope of a request the native server read, for the app's Python middleware: built
//! here in one call, and recognised again by the stack's innermost app, which then calls
//! the route the engine matched instead of reading the scope back and routing it again.
//!
//! A middleware may rewrite the scope. The values it could replace are remembered as the
//! objects put in the scope (a replaced one is a different object), and the header list,
//! which may also be changed in place, is compared with the request's headers.

use std::net::SocketAddr;
use std::sync::Arc;

use http::HeaderMap;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use super::scope::header_map;
use crate::http::{
    header_list, http_version, ip_text, PyRequestData, RequestData, RoutedHere, SessionSlot,
};

/// The scope key under which the scope's `Origin` travels.
pub const ORIGIN_KEY: &str = "ignyx.request";

/// `ignyx._core.ScopeOrigin`: the request a scope was built from, and the values put in it.
#[pyclass(module = "ignyx._core", frozen)]
pub struct ScopeOrigin {
    data: Arc<RequestData>,
    /// `(key, object)` for each value a middleware could replace.
    values: Vec<(Py<PyString>, Py<PyAny>)>,
}

/// `ignyx._core.engine_scope(data, app, root_path, state=None)`: Starlette's `http` scope
/// of a request the engine read; `root_path` unless the request has one of its own.
#[pyfunction]
#[pyo3(signature = (data, app, root_path, state = None))]
pub fn engine_scope<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyRequestData>,
    app: &Bound<'py, PyAny>,
    root_path: &Bound<'py, PyAny>,
    state: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let request = data.get().data.clone();
    let scope = PyDict::new(py);
    scope.set_item(intern!(py, "type"), intern!(py, "http"))?;
    scope.set_item(intern!(py, "asgi"), asgi_version(py)?)?;
    scope.set_item(intern!(py, "http_version"), http_version(request.version))?;
    let root_path = if request.root_path.is_empty() {
        root_path.clone()
    } else {
        PyString::new(py, &request.root_path).into_any()
    };
    let client = match &request.named_client {
        Some(named) => (named.host.as_str(), named.port)
            .into_pyobject(py)?
            .into_any(),
        None => address(py, request.client)?,
    };
    let server = address(py, request.server)?;
    let values: [(&Bound<'py, PyString>, Bound<'py, PyAny>); 7] = [
        (
            intern!(py, "method"),
            PyString::new(py, request.method.as_str()).into_any(),
        ),
        (
            intern!(py, "scheme"),
            PyString::new(py, request.scheme).into_any(),
        ),
        (
            intern!(py, "path"),
            PyString::new(py, request.path()).into_any(),
        ),
        (
            intern!(py, "query_string"),
            PyBytes::new(py, request.query_string()).into_any(),
        ),
        (intern!(py, "root_path"), root_path),
        (intern!(py, "client"), client),
        (intern!(py, "server"), server),
    ];
    let mut remembered = Vec::with_capacity(values.len());
    for (key, value) in values {
        scope.set_item(key, &value)?;
        remembered.push((key.clone().unbind(), value.unbind()));
    }
    scope.set_item(
        intern!(py, "raw_path"),
        PyBytes::new(py, request.raw_path()),
    )?;
    scope.set_item(intern!(py, "headers"), header_list(py, &request.headers)?)?;
    scope.set_item(intern!(py, "app"), app)?;
    if let Some(state) = state {
        scope.set_item(intern!(py, "state"), state)?;
    }
    if let Some(session) = &request.session {
        scope.set_item(intern!(py, "session"), session.object(py)?)?;
    }
    let origin = ScopeOrigin {
        data: request,
        values: remembered,
    };
    scope.set_item(intern!(py, ORIGIN_KEY), Py::new(py, origin)?)?;
    Ok(scope)
}

/// What the innermost app of the native server's middleware stack calls: the request as the
/// middleware left it, with the route the engine matched for it.
pub struct Continued {
    pub data: Arc<RequestData>,
    pub routed: (Arc<crate::http::Engine>, Arc<crate::http::Route>),
}

/// The request and route of `scope`, when it was built by `engine_scope` for a request the
/// engine routed, and no middleware changed what routing or the route reads (its method,
/// path, query, root path, scheme or addresses). Changed headers or state are taken over.
pub fn continued(py: Python<'_>, scope: &Bound<'_, PyDict>) -> PyResult<Option<Continued>> {
    let Some(origin) = scope.get_item(intern!(py, ORIGIN_KEY))? else {
        return Ok(None);
    };
    let Ok(origin) = origin.downcast::<ScopeOrigin>() else {
        return Ok(None);
    };
    let origin = origin.get();
    let Some(RoutedHere { engine, route }) = &origin.data.routed else {
        return Ok(None);
    };
    for (key, value) in &origin.values {
        match scope.get_item(key.bind(py))? {
            Some(now) if now.is(value) => {}
            _ => return Ok(None),
        }
    }
    let mut data = origin.data.clone();
    let headers = match scope.get_item(intern!(py, "headers"))? {
        Some(list) => list,
        None => return Ok(None),
    };
    if !same_headers(&headers, &data.headers)? {
        // Not a valid header list: the full scope reader says what is wrong.
        let Ok(headers) = header_map(&headers) else {
            return Ok(None);
        };
        data = Arc::new(data.altered(py, Some(headers), None));
    }
    if let Some(state) = scope.get_item(intern!(py, "state"))? {
        let kept = data.state.get_or_init(|| state.clone().unbind());
        if !kept.is(&state) {
            let mut altered = data.altered(py, None, None);
            altered.state = std::sync::OnceLock::from(state.unbind());
            data = Arc::new(altered);
        }
    }
    if let Some(session) = scope.get_item(intern!(py, "session"))? {
        // A Python session middleware's session (or the engine's, passed along).
        let same = match &data.session {
            Some(slot) => slot.object(py)?.is(&session),
            None => false,
        };
        if !same {
            let mut altered = data.altered(py, None, None);
            altered.session = Some(Box::new(SessionSlot::Scope(session.unbind())));
            data = Arc::new(altered);
        }
    }
    Ok(Some(Continued {
        data,
        routed: (engine.clone(), route.clone()),
    }))
}

/// Whether the header list `list` holds exactly `headers`, in order.
fn same_headers(list: &Bound<'_, PyAny>, headers: &HeaderMap) -> PyResult<bool> {
    let Ok(list) = list.downcast::<PyList>() else {
        return Ok(false);
    };
    if list.len() != headers.len() {
        return Ok(false);
    }
    for (item, (name, value)) in list.iter().zip(headers.iter()) {
        let Ok(pair) = item.downcast::<PyTuple>() else {
            return Ok(false);
        };
        if pair.len() != 2 {
            return Ok(false);
        }
        let (n, v) = (pair.get_borrowed_item(0)?, pair.get_borrowed_item(1)?);
        let (Ok(n), Ok(v)) = (n.downcast::<PyBytes>(), v.downcast::<PyBytes>()) else {
            return Ok(false);
        };
        if n.as_bytes() != name.as_str().as_bytes() || v.as_bytes() != value.as_bytes() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `(host, port)`, or `None`.
fn address(py: Python<'_>, address: Option<SocketAddr>) -> PyResult<Bound<'_, PyAny>> {
    match address {
        Some(a) => Ok((ip_text(a.ip()), a.port()).into_pyobject(py)?.into_any()),
        None => Ok(py.None().into_bound(py)),
    }
}

/// `scope["asgi"]`, one dict for every scope, as Starlette's servers share theirs.
fn asgi_version(py: Python<'_>) -> PyResult<&Bound<'_, PyDict>> {
    static VERSION: GILOnceCell<Py<PyDict>> = GILOnceCell::new();
    let version = VERSION.get_or_try_init(py, || -> PyResult<_> {
        let dict = PyDict::new(py);
        dict.set_item("version", "3.0")?;
        dict.set_item("spec_version", "2.4")?;
        Ok(dict.unbind())
    })?;
    Ok(version.bind(py))
}

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ScopeOrigin>()?;
    m.add_function(wrap_pyfunction!(engine_scope, m)?)
}
