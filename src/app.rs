//! The compiled application: HTTP and WebSocket routes, CORS and the Python hooks
//! the engine calls. Python fills an `App` once (`ignyx.app.Ignyx._compile`);
//! serving freezes it into an `Engine` shared by every connection.

use std::sync::Arc;

use http::{Method, StatusCode};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::http::{self as h, FastPlan, Hooks, ResponseTypes, Route, RouteKind, RouteObject};
use crate::layers::{cors_config, layer_of, Cors, Layers};
use crate::router::Router;
use crate::runtime::InlinePolicy;
use crate::ws::{self, WsRoute};

pub struct Engine {
    pub http: Arc<h::Engine>,
    /// WebSocket routes; `None` when the app has none.
    pub websockets: Option<Arc<ws::Routes>>,
}

/// `ignyx._core.App`: the builder Python fills before serving.
#[pyclass(module = "ignyx._core")]
pub struct App {
    router: Router<Arc<Route>>,
    cors: Option<Cors>,
    layers: Layers,
    hooks: Option<(ResponseTypes, Hooks)>,
    stack: Option<h::Stack>,
    redirect_slashes: bool,
    max_body_size: usize,
    websockets: Option<ws::Routes>,
}

#[pymethods]
impl App {
    #[new]
    #[pyo3(signature = (*, redirect_slashes = true, max_body_size = 16 * 1024 * 1024))]
    fn new(redirect_slashes: bool, max_body_size: usize) -> Self {
        Self {
            router: Router::default(),
            cors: None,
            layers: Layers::default(),
            hooks: None,
            stack: None,
            redirect_slashes,
            max_body_size,
            websockets: None,
        }
    }

    /// Registers the Python pieces the engine calls back into: the response classes it
    /// recognises, `content_type(response_class)`, `request_class(request_data, app)`, and
    /// `error_handler(request, exc)`, and `inner_error_handler(request, exc)` for routes
    /// called under Python middleware.
    #[pyo3(signature = (
        *, response_class, streaming_class, file_class, content_type, request_class, app,
        error_handler, inner_error_handler
    ))]
    #[allow(clippy::too_many_arguments)]
    fn set_hooks(
        &mut self,
        response_class: Py<PyAny>,
        streaming_class: Py<PyAny>,
        file_class: Py<PyAny>,
        content_type: Py<PyAny>,
        request_class: Py<PyAny>,
        app: Py<PyAny>,
        error_handler: Py<PyAny>,
        inner_error_handler: Py<PyAny>,
    ) {
        let types = ResponseTypes::new(response_class, streaming_class, file_class, content_type);
        let hooks = Hooks {
            request_class,
            app,
            error_handler,
            inner_error_handler,
        };
        self.hooks = Some((types, hooks));
    }

    /// Adds one route: `call(request)` answers it, or `fast` when its parameters convert.
    /// `route` is the Python route object, which ASGI middleware finds in `scope["route"]`.
    #[pyo3(signature = (
        path, methods, call, *, is_async, status_code, fast = None, route = None,
        max_body_size = None, files = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn add_route(
        &mut self,
        py: Python<'_>,
        path: &str,
        methods: Vec<String>,
        call: Py<PyAny>,
        is_async: bool,
        status_code: u16,
        fast: Option<Py<FastPlan>>,
        route: Option<Py<PyAny>>,
        max_body_size: Option<usize>,
        files: Option<Py<h::StaticDirectories>>,
    ) -> PyResult<()> {
        let methods = methods
            .iter()
            .map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let status = StatusCode::from_u16(status_code)
            .map_err(|_| PyValueError::new_err(format!("invalid status code {status_code}")))?;
        let object = route.map(|route| {
            let endpoint = match route.bind(py).getattr(pyo3::intern!(py, "endpoint")) {
                Ok(endpoint) => endpoint.unbind(),
                Err(_) => py.None(),
            };
            RouteObject { route, endpoint }
        });
        let route = Arc::new(Route {
            call,
            is_async,
            fast,
            status,
            inline: InlinePolicy::default(),
            object,
            kind: RouteKind::Endpoint,
            template: Arc::from(path),
            max_body_size,
            files,
        });
        self.router
            .insert(path, &methods, route)
            .map_err(PyValueError::new_err)
    }

    /// Adds a WebSocket route: `call(request_data, channel)` starts its handler on the loop.
    fn add_websocket_route(&mut self, path: &str, call: Py<PyAny>) -> PyResult<()> {
        self.websockets
            .get_or_insert_with(Router::default)
            .insert(path, &[Method::GET], Arc::new(WsRoute { call }))
            .map_err(PyValueError::new_err)
    }

    /// Turns on CORS in the engine right around the routes (inside every Python
    /// middleware), configured like Starlette's `CORSMiddleware`.
    #[pyo3(signature = (**options))]
    fn set_cors(&mut self, options: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        self.cors = Some(cors(options)?);
        Ok(())
    }

    /// The native middleware every request passes when the app has no Python middleware,
    /// outermost first: `(kind, options)` pairs (`ignyx.middleware`'s classes describe
    /// themselves so).
    fn set_layers(&mut self, layers: Vec<(String, Bound<'_, PyDict>)>) -> PyResult<()> {
        self.layers = self::layers(layers)?;
        Ok(())
    }

    /// Hands every HTTP request to `entry(request_data)`, the app's Python middleware stack,
    /// which ends in the app's routes (`ignyx._asgi_host.stack_entry`); `layers`, the native
    /// middleware outside every Python one, outermost first.
    #[pyo3(signature = (entry, *, layers = Vec::new()))]
    fn set_middleware_stack(
        &mut self,
        entry: Py<PyAny>,
        layers: Vec<(String, Bound<'_, PyDict>)>,
    ) -> PyResult<()> {
        let entry = Arc::new(Route {
            call: entry,
            is_async: true,
            fast: None,
            status: StatusCode::OK,
            inline: InlinePolicy::default(),
            object: None,
            kind: RouteKind::Stack,
            template: Arc::from(""),
            max_body_size: None,
            files: None,
        });
        let layers = self::layers(layers)?;
        self.stack = Some(h::Stack { entry, layers });
        Ok(())
    }
}

impl App {
    /// Moves the routes out into an engine; the builder is left empty.
    pub fn build(&mut self) -> PyResult<Engine> {
        let (types, hooks) = self
            .hooks
            .take()
            .ok_or_else(|| PyValueError::new_err("App.set_hooks was not called"))?;
        let http = h::Engine {
            router: std::mem::take(&mut self.router),
            cors: self.cors.take(),
            layers: std::mem::take(&mut self.layers),
            stack: self.stack.take(),
            types,
            hooks,
            redirect_slashes: self.redirect_slashes,
            max_body_size: self.max_body_size,
        };
        Ok(Engine {
            http: Arc::new(http),
            websockets: self.websockets.take().map(Arc::new),
        })
    }
}

fn layers(described: Vec<(String, Bound<'_, PyDict>)>) -> PyResult<Layers> {
    let layers = described
        .iter()
        .map(|(kind, options)| layer_of(kind, options))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(Layers::new(layers))
}

fn cors(options: Option<&Bound<'_, PyDict>>) -> PyResult<Cors> {
    Cors::new(cors_config(options)?).map_err(PyValueError::new_err)
}

pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<App>()
}
