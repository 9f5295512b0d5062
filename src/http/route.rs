//! A route's compiled plan: how to call the user's code for one request.
//!
//! Python compiles each route once at registration (`ignyx.routing`) into a
//! general entry point `call(request)` and, when every parameter is a plain
//! path or query scalar or the one JSON body, a fast plan (`FastPlan`) that lets
//! Rust convert the parameters and call the endpoint directly (see `extract.rs`).
//! The fast plan only ever accepts input it can convert exactly as pydantic would;
//! anything else falls back to `call`, whose pydantic validation produces FastAPI's
//! 422 body.

use std::sync::Arc;

use http::StatusCode;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::runtime::InlinePolicy;

pub struct Route {
    /// `call(request) -> result` (or a coroutine when `is_async`).
    pub call: Py<PyAny>,
    pub is_async: bool,
    pub fast: Option<Py<FastPlan>>,
    pub status: StatusCode,
    /// Whether this sync route may run on the I/O thread itself.
    pub inline: InlinePolicy,
    /// The Python route object and its endpoint, for ASGI middleware.
    pub object: Option<RouteObject>,
    /// What `call` takes and gives.
    pub kind: RouteKind,
    /// The path it was registered with (`/users/{id}`), as metrics name it.
    pub template: Arc<str>,
    /// Its own largest request body (`max_body_size=` on the route or its router), which
    /// wins over the app's.
    pub max_body_size: Option<usize>,
    /// A `StaticFiles` mount's directories, whose plain file requests the engine answers.
    pub files: Option<Py<super::files::StaticDirectories>>,
}

impl Route {
    /// The largest request body this route accepts: its own limit, else the app's.
    #[inline]
    pub fn body_limit(&self, engine: &super::Engine) -> usize {
        self.max_body_size.unwrap_or(engine.max_body_size)
    }
}

/// The two ways the engine calls a route.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RouteKind {
    /// An endpoint: called with the `Request` (or a fast plan's arguments), it returns
    /// content or a response.
    Endpoint,
    /// The app's Python middleware stack: called with the engine's request data (it builds
    /// its own scope), it answers with what the stack sent (`SentReply`).
    Stack,
}

/// What Starlette's router leaves in the scope (`scope["route"]`, `scope["endpoint"]`):
/// the Python route (`ignyx.routing.APIRoute`...) and its endpoint, read at registration.
pub struct RouteObject {
    pub route: Py<PyAny>,
    pub endpoint: Py<PyAny>,
}

/// `ignyx._core.FastPlan`: the endpoint, called with the converted parameters in order.
#[pyclass(module = "ignyx._core", frozen)]
pub struct FastPlan {
    pub endpoint: Py<PyAny>,
    pub params: Vec<FastParam>,
}

#[pymethods]
impl FastPlan {
    #[new]
    fn new(py: Python<'_>, endpoint: Py<PyAny>, params: Vec<PyRef<'_, FastParam>>) -> Self {
        let params = params.iter().map(|p| p.clone_ref(py)).collect();
        Self { endpoint, params }
    }
}

/// `ignyx._core.FastParam`: one parameter of a fast plan.
#[pyclass(module = "ignyx._core", frozen)]
pub struct FastParam {
    #[pyo3(get)]
    pub source: ParamSource,
    /// The name in the path template or the query string.
    pub name: String,
    pub kind: ParamKind,
    /// `None` when the parameter is required.
    pub default: Option<Py<PyAny>>,
    /// The body's pydantic `SchemaValidator` (`ParamSource::Body` only).
    pub validator: Option<Py<PyAny>>,
}

#[pymethods]
impl FastParam {
    #[new]
    #[pyo3(signature = (source, name, kind, *, required, default = None, validator = None))]
    fn new(
        py: Python<'_>,
        source: ParamSource,
        name: String,
        kind: ParamKind,
        required: bool,
        default: Option<Py<PyAny>>,
        validator: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let reads_body = source == ParamSource::Body;
        if reads_body != (kind == ParamKind::Json) || reads_body != validator.is_some() {
            return Err(PyValueError::new_err(
                "the body, and only it, is read as JSON by a validator",
            ));
        }
        let default = (!required).then(|| default.unwrap_or_else(|| py.None()));
        Ok(Self {
            source,
            name,
            kind,
            default,
            validator,
        })
    }
}

impl FastParam {
    fn clone_ref(&self, py: Python<'_>) -> Self {
        Self {
            source: self.source,
            name: self.name.clone(),
            kind: self.kind,
            default: self.default.as_ref().map(|d| d.clone_ref(py)),
            validator: self.validator.as_ref().map(|v| v.clone_ref(py)),
        }
    }
}

/// `ignyx._core.ParamSource`: where a fast parameter is read.
#[pyclass(module = "ignyx._core", eq, eq_int, frozen, rename_all = "UPPERCASE")]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ParamSource {
    Path,
    Query,
    /// The whole request body.
    Body,
}

/// `ignyx._core.ParamKind`: what a fast parameter is converted to.
#[pyclass(module = "ignyx._core", eq, eq_int, frozen, rename_all = "UPPERCASE")]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ParamKind {
    Str,
    Int,
    Float,
    Bool,
    /// JSON, validated by the parameter's validator.
    Json,
}
