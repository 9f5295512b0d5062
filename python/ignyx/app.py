"""The application: routes, middleware, exception handlers, lifespan, and ``run``::

    app = Ignyx()

    @app.get("/")
    def hello():
        return {"message": "Ignyx is live"}

    app.run(host="0.0.0.0", port=8000)

Routes are compiled into the Rust engine's plan when serving starts.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import sys
from contextlib import AsyncExitStack
from typing import Any, Callable, Optional, Sequence, Union

from . import params
from ._deprecation import ON_EVENT, ROOT_PATH, warn_deprecated
from .datastructures import Default, State
from .encoders import jsonable_encoder
from .exception_handlers import (
    http_exception_handler,
    lookup_exception_handler,
    request_validation_exception_handler,
)
from .exceptions import HTTPException, RequestValidationError
from .middleware import CORSMiddleware, Middleware
from .requests import Request
from .responses import FileResponse, JSONResponse, Response, StreamingResponse, _content_type
from .routing import APIRoute, APIRouter, Mount, generate_unique_id
from .routing.limits import FormLimits, checked_max_body_size

logger = logging.getLogger("ignyx.error")

# What the engine is told for an app with ``max_body_size=None``.
_UNLIMITED = 2**63 - 1
# The environment variables that turn telemetry's automatic export on, as FastAPI's does.
_AUTO_CONFIGURE = ("FASTAPI_OTEL_AUTO_CONFIGURE", "IGNYX_OTEL_AUTO_CONFIGURE")
# Those from which OpenTelemetry's API loads a global provider with no code setting one.
_OTEL_PROVIDERS = (
    "OTEL_PYTHON_TRACER_PROVIDER",
    "OTEL_PYTHON_METER_PROVIDER",
    "OTEL_PYTHON_LOGGER_PROVIDER",
)


def _register_json_fallback() -> None:
    # Types the Rust JSON writer does not know natively go through FastAPI's encoder.
    from . import _core

    _core.set_json_fallback(jsonable_encoder)


class Ignyx:
    """A FastAPI-compatible application served by the Rust engine.

    Its OpenAPI document and docs pages are titled "Ignyx" unless given ``title=``.
    """

    # The title when none is given: the class's own name, as FastAPI's app is "FastAPI".
    _default_title = "Ignyx"

    def __init__(
        self,
        *,
        debug: bool = False,
        title: Optional[str] = None,
        summary: Optional[str] = None,
        description: str = "",
        version: str = "0.1.0",
        openapi_url: Optional[str] = "/openapi.json",
        openapi_tags: Optional[list[dict[str, Any]]] = None,
        openapi_external_docs: Optional[dict[str, Any]] = None,
        servers: Optional[list[dict[str, Any]]] = None,
        dependencies: Optional[Sequence[params.Depends]] = None,
        default_response_class: Any = Default(JSONResponse),
        redirect_slashes: bool = True,
        docs_url: Optional[str] = "/docs",
        redoc_url: Optional[str] = "/redoc",
        swagger_ui_oauth2_redirect_url: Optional[str] = "/docs/oauth2-redirect",
        swagger_ui_init_oauth: Optional[dict[str, Any]] = None,
        swagger_ui_parameters: Optional[dict[str, Any]] = None,
        swagger_js_url: Optional[str] = None,
        swagger_css_url: Optional[str] = None,
        swagger_favicon_url: Optional[str] = None,
        redoc_js_url: Optional[str] = None,
        exception_handlers: Optional[dict[Union[int, type], Callable[..., Any]]] = None,
        on_startup: Optional[Sequence[Callable[[], Any]]] = None,
        on_shutdown: Optional[Sequence[Callable[[], Any]]] = None,
        lifespan: Optional[Callable[[Any], Any]] = None,
        terms_of_service: Optional[str] = None,
        contact: Optional[dict[str, Any]] = None,
        license_info: Optional[dict[str, Any]] = None,
        root_path: str = "",
        root_path_in_servers: bool = True,
        webhooks: Optional[APIRouter] = None,
        responses: Optional[dict[Union[int, str], dict[str, Any]]] = None,
        deprecated: Optional[bool] = None,
        include_in_schema: bool = True,
        generate_unique_id_function: Callable[[APIRoute], str] = generate_unique_id,
        separate_input_output_schemas: bool = True,
        max_body_size: Optional[int] = 16 * 1024 * 1024,
        form_limits: Optional[FormLimits] = None,
        middleware: Optional[Sequence[Middleware]] = None,
        telemetry: Optional[dict[str, Any]] = None,
        **extra: Any,
    ) -> None:
        self.debug = debug
        # `ignyx.telemetry.TelemetryConfig`; on when serving starts with a provider configured.
        self.telemetry_settings = dict(telemetry or {})
        self._telemetry: Optional[dict[str, Any]] = None
        self.title = self._default_title if title is None else title
        self.summary = summary
        self.description = description
        self.version = version
        self.openapi_url = openapi_url
        self.openapi_tags = openapi_tags
        self.openapi_external_docs = openapi_external_docs
        self.servers = servers or []
        self.docs_url = docs_url
        self.redoc_url = redoc_url
        self.swagger_ui_oauth2_redirect_url = swagger_ui_oauth2_redirect_url
        self.swagger_ui_init_oauth = swagger_ui_init_oauth
        self.swagger_ui_parameters = swagger_ui_parameters
        self.swagger_js_url = swagger_js_url
        self.swagger_css_url = swagger_css_url
        self.swagger_favicon_url = swagger_favicon_url
        self.redoc_js_url = redoc_js_url
        self.terms_of_service = terms_of_service
        self.contact = contact
        self.license_info = license_info
        if root_path:
            warn_deprecated(ROOT_PATH)
        self.root_path = root_path
        self.root_path_in_servers = root_path_in_servers
        self.webhooks = webhooks or APIRouter()
        self.separate_input_output_schemas = separate_input_output_schemas
        self.redirect_slashes = redirect_slashes
        # The engine's limit for routes without their own (None: none at all; unlike
        # FastAPI, 16 MiB by default, so a server is not one large upload from running out
        # of memory).
        self.max_body_size = checked_max_body_size(max_body_size)
        self.extra = extra
        self.state = State()
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        self.exception_handlers: dict[Union[int, type], Callable[..., Any]] = {
            HTTPException: http_exception_handler,
            RequestValidationError: request_validation_exception_handler,
            **(exception_handlers or {}),
        }
        # Outermost first; `add_middleware` inserts at the front, as in Starlette.
        self.user_middleware: list[Any] = list(middleware or [])
        self._asgi_stack: Any = None
        # Set by TestClient(raise_server_exceptions=True) to re-raise unhandled errors in tests.
        self._exception_sink: Optional[Callable[[BaseException], None]] = None
        self._lifespan_state: dict[str, Any] = {}
        self._lifespan_stack: Optional[AsyncExitStack] = None
        self.openapi_schema: Optional[dict[str, Any]] = None
        self._openapi_routes: tuple[int, ...] = ()
        self.router = APIRouter(
            dependencies=dependencies,
            default_response_class=default_response_class,
            responses=responses,
            deprecated=deprecated,
            include_in_schema=include_in_schema,
            generate_unique_id_function=generate_unique_id_function,
            on_startup=on_startup,
            on_shutdown=on_shutdown,
            lifespan=lifespan,
            form_limits=form_limits,
        )

    # -- routes ----------------------------------------------------------------

    @property
    def routes(self) -> list[Any]:
        return self.router.routes

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> APIRoute:
        return self.router.add_api_route(path, endpoint, **kwargs)

    def api_route(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self.router.api_route(path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self.router.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self.router.post(path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self.router.put(path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self.router.patch(path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self.router.delete(path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self.router.head(path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self.router.options(path, **kwargs)

    def trace(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self.router.trace(path, **kwargs)

    def websocket(self, path: str, name: Optional[str] = None, **kwargs: Any):
        return self.router.websocket(path, name, **kwargs)

    def include_router(self, router: APIRouter, **kwargs: Any) -> None:
        self.router.include_router(router, **kwargs)

    def add_route(
        self,
        path: str,
        route: Callable[..., Any],
        methods: Optional[Sequence[str]] = None,
        name: Optional[str] = None,
        include_in_schema: bool = True,
    ) -> None:
        """A Starlette route: ``route(request)`` returns the ``Response``."""
        self.router.add_route(
            path, route, methods=methods, name=name, include_in_schema=include_in_schema
        )

    def add_websocket_route(
        self, path: str, route: Callable[..., Any], name: Optional[str] = None
    ) -> None:
        """A Starlette WebSocket route: ``route(websocket)``."""
        self.router.add_websocket_route(path, route, name=name)

    def mount(self, path: str, app: Any, name: Optional[str] = None) -> None:
        """Serves the ASGI `app` under `path` (Starlette's ``Mount``)."""
        self.router.routes.append(Mount(path, app=app, name=name))

    def url_path_for(self, name: str, /, **path_params: Any) -> str:
        """The path of the route called `name`; ``"mount:route"`` looks inside a mount."""
        for route in self.routes:
            if isinstance(route, Mount):
                path = route.url_path_for(name, **dict(path_params))
                if path is not None:
                    return path
            elif getattr(route, "name", None) == name:
                path = route.path_format
                for key, value in path_params.items():
                    path = path.replace("{" + key + "}", str(value))
                return path
        raise LookupError(f"No route named {name!r}")

    # -- middleware and errors ---------------------------------------------------

    def add_middleware(self, middleware_class: Any, *args: Any, **kwargs: Any) -> None:
        """Adds any ASGI middleware, built as ``middleware_class(app, *args, **kwargs)``; the
        last added is the outermost. ``CORSMiddleware`` may also be given as an instance,
        ``add_middleware(CORSMiddleware(allow_origins=["*"]))``."""
        if inspect.isclass(middleware_class):
            entry: Any = Middleware(middleware_class, *args, **kwargs)
        elif args or kwargs:
            raise TypeError("options are given to the middleware class, not to an instance")
        elif hasattr(middleware_class, "_install"):
            entry = middleware_class
        else:
            raise TypeError(f"{middleware_class!r} is not a middleware class")
        self.user_middleware.insert(0, entry)
        self._asgi_stack = None

    def middleware(self, middleware_type: str) -> Callable[[Callable], Callable]:
        """``@app.middleware("http")``: a function of ``(request, call_next)`` around every
        HTTP request (a ``BaseHTTPMiddleware``)."""
        if middleware_type != "http":
            raise ValueError('Currently only middleware("http") is supported.')
        from .middleware.base import BaseHTTPMiddleware

        def decorator(func: Callable) -> Callable:
            self.add_middleware(BaseHTTPMiddleware, dispatch=func)
            return func

        return decorator

    def _middleware_layers(self, *, native: bool = True) -> tuple[list[Any], list[Any], Any]:
        """The app's middleware as the engine runs it: `(outer, python, inner)`. `outer`,
        outermost first, are the native layers (CORS, GZip, TrustedHost, HTTPSRedirect) that
        come before any Python middleware: the engine runs them, on the `native` server.
        `python` are ASGI middleware run in Python (native classes among them run there as
        ASGI middleware). `inner` is a CORS layer added first, inside every Python middleware:
        the engine runs it right around the routes. Telemetry's middleware comes first."""
        entries = list(self.user_middleware)
        layers = [_native_layer(entry) for entry in entries]
        inner = None
        python_present = any(layer is None for layer in layers)
        if layers and isinstance(layers[-1], CORSMiddleware) and (python_present or not native):
            inner, entries, layers = layers[-1], entries[:-1], layers[:-1]
        outer: list[Any] = []
        if native and self._telemetry is None:
            while layers and layers[0] is not None:
                outer.append(layers.pop(0))
                entries.pop(0)
        if self._telemetry is not None:
            # Outside everything, as FastAPI observes requests: in Python, ahead of the rest.
            from .telemetry._middleware import TelemetryMiddleware

            observed = Middleware(TelemetryMiddleware, config=self._telemetry, observed=self)
            entries = [observed, *entries]
        return outer, entries, inner

    def _telemetry_config(self) -> Optional[dict[str, Any]]:
        """The telemetry settings, when telemetry is on: one of the signals asked for has a
        provider configured (checked when serving starts, as
        routes are compiled for it); else None, and the app runs without it."""
        environment = (os.getenv(name, "") for name in _AUTO_CONFIGURE)
        automatic = any(value.lower() == "true" for value in environment)
        provided = "opentelemetry" in sys.modules or any(
            name in os.environ for name in _OTEL_PROVIDERS
        )
        if not (self.telemetry_settings or automatic or provided):
            # No provider can have been set (setting one imports the API): telemetry is
            # off, and the OpenTelemetry API is not imported to say so.
            return None
        try:
            from .telemetry import _api, _middleware
        except ImportError as exc:
            # The OpenTelemetry API (a dependency) is missing: the app runs without telemetry.
            if self.telemetry_settings:
                logger.warning("Telemetry is off: %s", exc)
            return None

        config: dict[str, Any] = {
            **_api.DEFAULTS,
            "auto_configure": automatic,
            **self.telemetry_settings,
        }
        if config["auto_configure"]:
            from .telemetry import _environment

            try:
                _environment.configure(config)
            except ValueError as exc:  # telemetry's set-up must not keep the app from serving
                logger.warning("Automatic telemetry configuration failed: %s", exc)
        return config if _middleware.enabled(config) else None  # type: ignore[arg-type]

    def _build_stack(self, entries: Sequence[Any]) -> Any:
        """The ASGI app of `entries` (outermost first) around the app's own routes."""
        from . import _asgi

        app: Any = functools.partial(_asgi.serve, self)
        for entry in reversed(entries):
            if isinstance(entry, Middleware):
                cls, args, kwargs = entry
                app = cls(app, *args, **kwargs)
            else:
                entry.app = app
                app = entry
        return app

    def exception_handler(self, exc_class_or_status_code: Union[int, type]) -> Callable:
        def decorator(func: Callable) -> Callable:
            self.exception_handlers[exc_class_or_status_code] = func
            return func

        return decorator

    def add_exception_handler(self, key: Union[int, type], handler: Callable) -> None:
        self.exception_handlers[key] = handler

    def _handle_error(self, request: Request, exc: BaseException) -> Any:
        """Called by the engine with any exception a route raised, and the request the route
        saw (its ``state``, the body it read); returns the response."""
        handler = lookup_exception_handler(self.exception_handlers, exc)
        if handler is not None:
            return handler(request, exc)
        logger.error(
            "Exception in %s %s",
            request.method,
            request.url.path,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        if self._telemetry is not None:
            from .telemetry import _api

            _api.exception(exc)
        if self._exception_sink is not None:
            self._exception_sink(exc)
        handler = self.exception_handlers.get(500) or self.exception_handlers.get(Exception)
        if handler is not None:
            return handler(request, exc)
        return Response("Internal Server Error", status_code=500, media_type="text/plain")

    def _handle_error_inside(self, request: Request, exc: BaseException) -> Any:
        """Called by the engine with an exception a route raised under the app's Python
        middleware: only one with a handler of its own (an ``HTTPException``, a validation
        error, a class the app registered) is answered there, as by Starlette's
        ``ExceptionMiddleware``. For any other it returns None, and the exception goes on out
        through the middleware (whose ``call_next`` raises it) to `_handle_error`."""
        handler = lookup_exception_handler(self.exception_handlers, exc, catch_alls=False)
        return None if handler is None else handler(request, exc)

    # -- ASGI ----------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The app as an ASGI 3 application (``uvicorn main:app``), served by the same
        compiled routes as ``app.run``, inside its middleware."""
        scope["app"] = self
        stack = self._asgi_stack
        if stack is None:
            self._telemetry = self._telemetry_config()
            # An innermost CORS layer runs in the engine (`_compile`); the rest here.
            _, python, _ = self._middleware_layers(native=False)
            stack = self._asgi_stack = self._build_stack(python)
        if scope["type"] != "http":
            return await stack(scope, receive, send)
        started = False

        async def sending(message: dict[str, Any]) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await stack(scope, receive, sending)
        except Exception as exc:
            if started:
                raise
            await self._answer_error(scope, receive, send, exc)

    async def _answer_error(self, scope: Any, receive: Any, send: Any, exc: Exception) -> None:
        """Answers an exception that went on out through the app's Python middleware, as
        Starlette's ``ServerErrorMiddleware`` does outside them: with the app's handler for
        500 or ``Exception``, or its plain 500 (`_handle_error`, which logs it)."""
        response = self._handle_error(Request(scope, receive), exc)
        if inspect.isawaitable(response):
            response = await response
        await response(scope, receive, send)

    # -- lifespan ----------------------------------------------------------------

    def on_event(self, event_type: str) -> Callable:
        """``@app.on_event("startup")``: the router's (not run when the app has a lifespan).
        Deprecated, as in FastAPI: it warns, and ``lifespan=`` is the way."""
        warn_deprecated(ON_EVENT, DeprecationWarning)

        def decorator(func: Callable) -> Callable:
            self.router.add_event_handler(event_type, func)
            return func

        return decorator

    def add_event_handler(self, event_type: str, func: Callable) -> None:
        self.router.add_event_handler(event_type, func)

    async def _startup(self) -> None:
        """Enters the router's lifespan; the state it yields reaches every request."""
        self._lifespan_stack = AsyncExitStack()
        lifespan = self.router.lifespan_context(self)
        state = await self._lifespan_stack.enter_async_context(lifespan)
        if state:
            self._lifespan_state = dict(state)

    async def _shutdown(self) -> None:
        if self._lifespan_stack is not None:
            stack, self._lifespan_stack = self._lifespan_stack, None
            await stack.aclose()
        if self._telemetry is not None and self._telemetry["auto_configure"]:
            from .telemetry import _environment

            await asyncio.get_running_loop().run_in_executor(None, _environment.flush)

    # -- serving -----------------------------------------------------------------

    def _all_routes(self) -> list[Any]:
        from .openapi.docs import docs_routes

        return list(self.routes) + docs_routes(self)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document of the app, generated once (again if routes were added)."""
        routes = (*map(id, self.routes), *map(id, self.webhooks.routes))
        if self.openapi_schema is None or self._openapi_routes != routes:
            from .openapi.utils import get_openapi

            self.openapi_schema = get_openapi(
                title=self.title,
                version=self.version,
                openapi_version="3.1.0",
                summary=self.summary,
                description=self.description,
                terms_of_service=self.terms_of_service,
                contact=self.contact,
                license_info=self.license_info,
                routes=self.routes,
                webhooks=self.webhooks.routes,
                tags=self.openapi_tags,
                servers=self.servers,
                separate_input_output_schemas=self.separate_input_output_schemas,
                external_docs=self.openapi_external_docs,
            )
            self._openapi_routes = routes
        return self.openapi_schema

    def _compile(self, *, middleware: bool = True) -> Any:
        """Builds the engine's route table; called when serving starts. Without
        `middleware` (the app under an ASGI server, which runs them in Python itself), the
        engine runs only the native layer right around the routes."""
        from . import _core

        _register_json_fallback()
        self._telemetry = self._telemetry_config()
        limit = self.max_body_size if self.max_body_size is not None else _UNLIMITED
        core = _core.App(redirect_slashes=self.redirect_slashes, max_body_size=limit)
        core.set_hooks(
            response_class=Response,
            streaming_class=StreamingResponse,
            file_class=FileResponse,
            content_type=_content_type,
            request_class=Request,
            app=self,
            error_handler=self._handle_error,
            inner_error_handler=self._handle_error_inside,
        )
        outer, python, inner = self._middleware_layers(native=middleware)
        if inner is not None:
            inner._install(core)
        websocket_stack = None
        native = [layer.native() for layer in outer]
        if middleware and python:
            from ._asgi_host import stack_entry, websocket_stack_entry

            stack = self._build_stack(python)
            core.set_middleware_stack(stack_entry(self, stack), layers=native)
            websocket_stack = websocket_stack_entry(self, stack)
        elif native:
            core.set_layers(native)
        for route in self._all_routes():
            # HTTP routes compile, WebSocket routes compile_websocket; a mount does both.
            if hasattr(route, "compile"):
                core.add_route(**route.compile(self))
            if hasattr(route, "compile_websocket"):
                spec = route.compile_websocket(self)
                if websocket_stack is not None:
                    # Through the middleware, whose innermost app serves the route.
                    spec["call"] = websocket_stack
                core.add_websocket_route(**spec)
        return core

    def run(
        self,
        host: Optional[str] = None,
        port: Optional[int] = None,
        *,
        workers: Optional[int] = None,
        root_path: Optional[str] = None,
        metrics: Union[int, bool, None] = None,
        **settings: Any,
    ) -> None:
        """Serves the app until SIGINT/SIGTERM, on 127.0.0.1:8000 unless told otherwise.

        Takes the settings of ``ignyx run`` as keyword arguments (``workers=4``,
        ``uds="/run/app.sock"``, ``timeout_keep_alive=10``...; ``ignyx.config.Config`` lists
        them); ``IGNYX_*`` environment variables set the ones not given. ``metrics=9100``
        (or ``True``, for 9100) serves Prometheus metrics on that port, as
        ``metrics_port=9100`` does."""
        from . import importer
        from .config import settings_for
        from .launch import launch
        from .logs import configure_logging

        if importer.loading:
            logger.info("app.run() skipped: the ignyx command serves this app")
            return

        given = {"host": host, "port": port, "workers": workers, "root_path": root_path}
        if metrics is not None and metrics is not False:
            given["metrics_port"] = 9100 if metrics is True else metrics
        config = settings_for({**given, **settings})
        if config.reload:
            # Reloading restarts a process that imports the app anew, by its path.
            raise ValueError("reload needs the app's path: serve it with `ignyx dev main.py`")
        configure_logging(config.log_level, config.log_config)
        code = launch(lambda: self, config)
        if code:
            raise SystemExit(code)


def _native_layer(entry: Any) -> Any:
    """The middleware the engine can run itself for `entry` (CORS, GZip and compression,
    TrustedHost, HTTPSRedirect, sessions, rate limits), built; or None."""
    if isinstance(entry, Middleware):
        cls, args, kwargs = entry
        layer = cls(None, *args, **kwargs) if _is_native(cls) else None
    else:
        layer = entry if _is_native(type(entry)) else None
    # A rate limit keyed by a Python function runs in Python.
    return layer if getattr(layer, "runs_natively", True) else None


def _is_native(cls: Any) -> bool:
    """Whether `cls` is one of the middleware classes in `_NATIVE` itself (a subclass may do
    something else, so it runs in Python). Looked up by name, so that an app imports only
    the middleware it uses: a class given to the app has had its module imported."""
    where = (getattr(cls, "__module__", None), getattr(cls, "__qualname__", None))
    return where in _NATIVE and getattr(sys.modules.get(where[0]), where[1], None) is cls


_NATIVE = frozenset(
    {
        ("ignyx.middleware.cors", "CORSMiddleware"),
        ("ignyx.middleware.compression", "CompressionMiddleware"),
        ("ignyx.middleware.compression", "GZipMiddleware"),
        ("ignyx.middleware.trustedhost", "TrustedHostMiddleware"),
        ("ignyx.middleware.httpsredirect", "HTTPSRedirectMiddleware"),
        ("ignyx.middleware.sessions", "SessionMiddleware"),
        ("ignyx.middleware.ratelimit", "RateLimitMiddleware"),
    }
)


class FastAPI(Ignyx):
    """``Ignyx`` under FastAPI's name, for apps moved from FastAPI: the same application,
    titled "FastAPI" by default in its OpenAPI document and docs pages, as FastAPI's::

        app = FastAPI()
        app.openapi()["info"]["title"]  # "FastAPI"
    """

    _default_title = "FastAPI"


__all__ = ["FastAPI", "Ignyx", "http_exception_handler", "request_validation_exception_handler"]
