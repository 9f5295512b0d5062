"""Routes and routers: ``APIRouter`` collects path operations; ``APIRoute`` and
``APIWebSocketRoute`` each compile one of them into what the Rust engine runs.

    router = APIRouter(prefix="/items", tags=["items"])

    @router.get("/{item_id}")
    def read_item(item_id: int):
        return {"item_id": item_id}
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import json
import logging
from enum import Enum
from typing import Any, Awaitable, Callable, Optional, Sequence, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from . import _core, params
from ._asgi_host import mount_entry
from ._paths import Match, compile_path, match_path, route_path
from .background import BackgroundTasks
from .concurrency import run_sync
from .datastructures import Default, DefaultPlaceholder
from .dependencies import (
    RequestContext,
    body_is_flat,
    build_route_dependant,
    flat_body_params,
    own_values,
    solve_async,
    solve_sync,
)
from .exception_handlers import lookup_exception_handler
from .exceptions import (
    HTTPException,
    RequestValidationError,
    ResponseValidationError,
    WebSocketException,
    WebSocketRequestValidationError,
)
from .requests import Request
from .responses import JSONResponse, Response, as_response
from .websockets import WebSocket, WebSocketDisconnect, WebSocketState

logger = logging.getLogger("ignyx.error")

_FAST_KINDS = {
    str: _core.ParamKind.STR,
    int: _core.ParamKind.INT,
    float: _core.ParamKind.FLOAT,
    bool: _core.ParamKind.BOOL,
}
_FAST_SOURCES = {"path": _core.ParamSource.PATH, "query": _core.ParamSource.QUERY}


def _body_allowed(status_code: Optional[int]) -> bool:
    if status_code is None:
        return True
    return not (100 <= status_code < 200 or status_code in (204, 205, 304))


def _is_response_type(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, Response):
        return True
    if get_origin(annotation) is Union:
        return any(_is_response_type(arg) for arg in get_args(annotation))
    return False


def generate_unique_id(route: APIRoute) -> str:
    """FastAPI's default operation id: name + path + method, non-word characters as ``_``."""
    import re

    operation_id = f"{route.name}{route.path_format}"
    operation_id = re.sub(r"\W", "_", operation_id)
    return f"{operation_id}_{sorted(route.methods)[0].lower()}"


class APIRoute:
    """One path operation and its compiled plan."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        response_model: Any = Default(None),
        status_code: Optional[int] = None,
        tags: Optional[list[Union[str, Enum]]] = None,
        dependencies: Optional[Sequence[params.Depends]] = None,
        summary: Optional[str] = None,
        description: Optional[str] = None,
        response_description: str = "Successful Response",
        responses: Optional[dict[Union[int, str], dict[str, Any]]] = None,
        deprecated: Optional[bool] = None,
        name: Optional[str] = None,
        methods: Optional[Sequence[str]] = None,
        operation_id: Optional[str] = None,
        response_model_include: Any = None,
        response_model_exclude: Any = None,
        response_model_by_alias: bool = True,
        response_model_exclude_unset: bool = False,
        response_model_exclude_defaults: bool = False,
        response_model_exclude_none: bool = False,
        include_in_schema: bool = True,
        response_class: Any = Default(JSONResponse),
        callbacks: Optional[list[Any]] = None,
        openapi_extra: Optional[dict[str, Any]] = None,
        generate_unique_id_function: Callable[[APIRoute], str] = generate_unique_id,
    ) -> None:
        self.path = path
        self.path_format = path.replace(":path}", "}")
        self.endpoint = endpoint
        endpoint_name: str = getattr(endpoint, "__name__", type(endpoint).__name__)
        self.name = name or endpoint_name
        self.methods = {m.upper() for m in (methods or ["GET"])}
        if isinstance(response_model, DefaultPlaceholder):
            annotation = inspect.signature(endpoint).return_annotation
            try:
                from typing import get_type_hints

                annotation = get_type_hints(endpoint).get("return", annotation)
            except Exception:
                pass
            if annotation is inspect.Signature.empty or _is_response_type(annotation):
                response_model = None
            else:
                response_model = annotation
        self.response_model = response_model
        self.status_code = int(status_code) if status_code is not None else None
        self.tags = list(tags or [])
        self.dependencies = list(dependencies or [])
        self.summary = summary
        doc = (inspect.getdoc(endpoint) or "").split("\f")[0] or None
        self.description = description or doc
        self.response_description = response_description
        self.responses = dict(responses or {})
        self.deprecated = deprecated
        self.operation_id = operation_id
        self.response_model_include = response_model_include
        self.response_model_exclude = response_model_exclude
        self.response_model_by_alias = response_model_by_alias
        self.response_model_exclude_unset = response_model_exclude_unset
        self.response_model_exclude_defaults = response_model_exclude_defaults
        self.response_model_exclude_none = response_model_exclude_none
        self.include_in_schema = include_in_schema
        self.response_class = response_class
        self.callbacks = callbacks
        self.openapi_extra = openapi_extra
        self.unique_id = operation_id or generate_unique_id_function(self)

        self.dependant = build_route_dependant(
            endpoint, path=self.path_format, dependencies=self.dependencies
        )
        self.body_fields = flat_body_params(self.dependant)
        self.flat_body = body_is_flat(self.dependant)
        self.response_adapter = (
            TypeAdapter(self.response_model) if self.response_model is not None else None
        )
        # Whether Python builds the Response itself (known now, not per request).
        self._builds_response = (
            self.response_adapter is not None
            or not isinstance(self.response_class, DefaultPlaceholder)
            or not _body_allowed(self.status_code)
        )

    # -- compilation -------------------------------------------------------------

    @property
    def is_async(self) -> bool:
        return self.dependant.needs_async

    def _response_class(self) -> Any:
        cls = self.response_class
        return cls.value if isinstance(cls, DefaultPlaceholder) else cls

    def fast_plan(self) -> Optional[list[_core.FastParam]]:
        """The plan Rust can run alone: plain path/query scalars straight into the endpoint."""
        d = self.dependant
        if (
            d.dependencies
            or d.body_params
            or d.header_params
            or d.cookie_params
            or d.request_param
            or d.websocket_param
            or d.response_param
            or d.background_param
            or d.security_scopes_param
            or self.response_adapter is not None
            or not isinstance(self.response_class, DefaultPlaceholder)
            or not _body_allowed(self.status_code)
        ):
            return None
        by_name = {f.name: f for f in d.path_params + d.query_params}
        plan = []
        for name, param in inspect.signature(self.endpoint).parameters.items():
            field = by_name.get(name)
            if field is None or param.kind is not param.POSITIONAL_OR_KEYWORD:
                return None
            annotation = field.annotation
            optional = False
            if get_origin(annotation) is Union:
                args = [a for a in get_args(annotation) if a is not type(None)]
                if len(args) != 1 or field.required or field.default is not None:
                    return None
                annotation, optional = args[0], True
            kind = _FAST_KINDS.get(annotation) if type(annotation) is type else None
            if kind is None or field.field_info.metadata or field.is_sequence:
                return None
            if field.field_info.default_factory is not None:
                return None
            if optional and field.default is not None:
                return None
            plan.append(
                _core.FastParam(
                    _FAST_SOURCES[field.source],
                    field.alias,
                    kind,
                    required=field.required,
                    default=field.default,
                )
            )
        return plan

    def matches(self, scope: dict[str, Any]) -> tuple[Match, dict[str, Any]]:
        """Starlette's route test: FULL with the child scope (``endpoint``,
        ``path_params``) when path and method match, PARTIAL for the path alone."""
        if scope.get("type") != "http":
            return Match.NONE, {}
        regex, convertors = self._matcher
        params = match_path(regex, convertors, scope)
        if params is None:
            return Match.NONE, {}
        child = {"endpoint": self.endpoint, "path_params": params}
        method = scope.get("method", "GET")
        if method in self.methods or (method == "HEAD" and "GET" in self.methods):
            return Match.FULL, child
        return Match.PARTIAL, child

    @functools.cached_property
    def _matcher(self) -> tuple[Any, dict[str, Any]]:
        regex, _, convertors = compile_path(self.path)
        return regex, convertors

    def compile(self, app: Any) -> dict[str, Any]:
        """What `ignyx._core.App.add_route` takes for this route."""
        self._app = app
        if type(self).get_route_handler is not APIRoute.get_route_handler:
            # A custom route class (FastAPI's recipe): its handler answers, whole.
            return {
                "path": self.path,
                "methods": sorted(self.methods),
                "call": self.get_route_handler(),
                "is_async": True,
                "status_code": self.status_code or 200,
                "route": self,
            }
        fast = self.fast_plan()
        return {
            "path": self.path,
            "methods": sorted(self.methods),
            "call": self._make_call(app),
            "is_async": self.is_async,
            "status_code": self.status_code or 200,
            "fast": _core.FastPlan(self.endpoint, fast) if fast is not None else None,
            "route": self,
        }

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        """The route as one async function of the request that returns its ``Response``:
        what a custom route class wraps (``class TimedRoute(APIRoute)``, FastAPI's hook)."""
        call = self._make_call(getattr(self, "_app", None))
        status_code = self.status_code or 200

        async def handler(request: Request) -> Response:
            result = call(request)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, Response):
                return result
            return JSONResponse(result, status_code=status_code)

        return handler

    def _make_call(self, app: Any) -> Callable[[Request], Any]:
        dependant = self.dependant
        endpoint = self.endpoint
        flat = self.flat_body
        finish = self._finish
        call_sync = not dependant.is_coroutine  # also for callable instances
        policy = dependant.policy
        overrides = getattr(app, "dependency_overrides", None)
        # Decided now rather than per request: a plan without sub-dependencies is only looked
        # up (no solver), and only route-level dependencies leave an unnamed value to drop.
        nested = bool(dependant.dependencies)
        unnamed = any(sub.name is None for sub in dependant.dependencies)

        if not self.is_async:
            solve = solve_sync if nested else own_values

            def call(request: Request) -> Any:
                ctx = RequestContext(request, overrides)
                values = solve(dependant, ctx, flat)
                if ctx.errors:
                    _raise_validation(ctx)
                if unnamed:
                    values.pop(None, None)
                try:
                    result = endpoint(**values)
                except BaseException as exc:
                    if ctx.stack is not None:
                        ctx.stack.__exit__(type(exc), exc, exc.__traceback__)
                    raise
                return finish(result, ctx)

            return call

        async def call_async(request: Request) -> Any:
            ctx = RequestContext(request, overrides)
            if nested:
                values = await solve_async(dependant, ctx, flat)
            else:
                values = own_values(dependant, ctx, flat)
            if ctx.errors:
                _raise_validation(ctx)
            if unnamed:
                values.pop(None, None)
            try:
                if call_sync:
                    # A `def` endpoint with async dependencies: off the loop until quick.
                    result = await run_sync(policy, endpoint, **values)
                else:
                    result = await endpoint(**values)
            except BaseException as exc:
                if ctx.stack is not None:
                    await ctx.stack.__aexit__(type(exc), exc, exc.__traceback__)
                raise
            return finish(result, ctx)

        return call_async

    def _finish(self, result: Any, ctx: RequestContext) -> Any:
        """Applies response_model, response_class, the Response parameter and cleanups."""
        needs_response = (
            self._builds_response
            or ctx.response is not None
            or ctx.background is not None
            or ctx.stack is not None
        )
        if not needs_response:
            return result
        if not isinstance(result, Response):
            status_code = self.status_code
            if ctx.response is not None and ctx.response.status_code:
                status_code = ctx.response.status_code
            status_code = status_code or 200
            if not _body_allowed(status_code):
                result = Response(status_code=status_code)
            elif self.response_adapter is not None:
                result = Response(
                    content=self._serialize(result, self.response_adapter),
                    status_code=status_code,
                    media_type="application/json",
                )
            else:
                result = self._response_class()(result, status_code=status_code)
            if ctx.response is not None:
                result.raw_headers.extend(
                    (k, v) for k, v in ctx.response.raw_headers if k != b"content-length"
                )
        if ctx.background is not None or ctx.stack is not None:
            result.background = _AfterResponse(ctx.stack, ctx.background, result.background)
        return result

    def _serialize(self, result: Any, adapter: TypeAdapter[Any]) -> bytes:
        value = _prepare_content(
            result,
            exclude_unset=self.response_model_exclude_unset,
            exclude_defaults=self.response_model_exclude_defaults,
            exclude_none=self.response_model_exclude_none,
        )
        try:
            validated = adapter.validate_python(value, from_attributes=True)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            for error in errors:
                error["loc"] = ("response", *error["loc"])
            raise ResponseValidationError(errors, body=result) from None
        return adapter.dump_json(
            validated,
            include=self.response_model_include,
            exclude=self.response_model_exclude,
            by_alias=self.response_model_by_alias,
            exclude_unset=self.response_model_exclude_unset,
            exclude_defaults=self.response_model_exclude_defaults,
            exclude_none=self.response_model_exclude_none,
        )


def _prepare_content(value: Any, **dump: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, **dump)
    if isinstance(value, list):
        return [_prepare_content(v, **dump) for v in value]
    if isinstance(value, dict):
        return {k: _prepare_content(v, **dump) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _raise_validation(ctx: RequestContext) -> None:
    body = ctx._body if ctx._body is not None else None
    raise RequestValidationError(ctx.errors, body=body)


class _AfterResponse:
    """Runs after the response is sent: yield-dependency cleanup, then background tasks."""

    def __init__(self, stack: Any, tasks: Optional[BackgroundTasks], previous: Any) -> None:
        self.stack = stack
        self.tasks = tasks
        self.previous = previous

    async def __call__(self) -> None:
        from .concurrency import run_in_threadpool

        if self.stack is not None:
            if hasattr(self.stack, "aclose"):
                await self.stack.aclose()
            else:
                await run_in_threadpool(self.stack.close)
        if self.previous is not None:
            await self.previous()
        if self.tasks is not None:
            await self.tasks()


class APIWebSocketRoute:
    """A WebSocket path operation and its compiled plan (path, query, header and
    cookie parameters and ``Depends`` work as on HTTP routes)."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: Optional[str] = None,
        dependencies: Optional[list[Any]] = None,
    ) -> None:
        self.path = path
        self.path_format = path.replace(":path}", "}")
        self.endpoint = endpoint
        endpoint_name: str = getattr(endpoint, "__name__", "websocket")
        self.name = name or endpoint_name
        self.dependencies = list(dependencies or [])
        self.dependant = build_route_dependant(
            endpoint, path=self.path_format, dependencies=self.dependencies
        )
        self._tasks: set[asyncio.Task] = set()

    def matches(self, scope: dict[str, Any]) -> tuple[Match, dict[str, Any]]:
        """Starlette's route test for a ``websocket`` scope."""
        if scope.get("type") != "websocket":
            return Match.NONE, {}
        regex, convertors = self._matcher
        params = match_path(regex, convertors, scope)
        if params is None:
            return Match.NONE, {}
        return Match.FULL, {"endpoint": self.endpoint, "path_params": params}

    @functools.cached_property
    def _matcher(self) -> tuple[Any, dict[str, Any]]:
        regex, _, convertors = compile_path(self.path)
        return regex, convertors

    def compile(self, app: Any) -> dict[str, Any]:
        """What `ignyx._core.App.add_websocket_route` takes for this route."""
        return {"path": self.path, "call": self._make_call(app)}

    def _make_call(self, app: Any) -> Callable[[Any, Any], asyncio.Task]:
        dependant = self.dependant
        endpoint = self.endpoint
        overrides = getattr(app, "dependency_overrides", None)
        tasks = self._tasks
        nested = bool(dependant.dependencies)

        async def serve(websocket: WebSocket) -> None:
            ctx = RequestContext(websocket, overrides)
            error: Optional[BaseException] = None
            try:
                if nested:
                    values = await solve_async(dependant, ctx, False)
                else:
                    values = own_values(dependant, ctx, False)
                if ctx.errors:
                    raise WebSocketRequestValidationError(ctx.errors)
                values.pop(None, None)
                result = endpoint(**values)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                error = exc
                await _handle_websocket_error(app, websocket, exc)
            finally:
                if ctx.stack is not None:
                    await _exit_dependencies(ctx.stack, error)
                _finish_websocket(websocket)

        def start(data: Any, channel: Any) -> asyncio.Task:
            # Called for each upgrade request: by the engine during a loop pass, or by the
            # ASGI app, which awaits the task.
            task = asyncio.get_running_loop().create_task(serve(WebSocket(data, app, channel)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            return task

        return start


async def _exit_dependencies(stack: Any, error: Optional[BaseException]) -> None:
    """Runs the exit code of `yield` dependencies once the handler is done."""
    exc_info = (type(error), error, error.__traceback__) if error else (None, None, None)
    try:
        if hasattr(stack, "__aexit__"):
            await stack.__aexit__(*exc_info)
        else:
            stack.__exit__(*exc_info)
    except Exception:
        if error is None:
            logger.exception("Exception in a WebSocket dependency's cleanup")


async def _handle_websocket_error(app: Any, websocket: WebSocket, exc: Exception) -> None:
    """What Starlette and FastAPI do with an exception escaping a WebSocket handler."""
    if isinstance(exc, WebSocketDisconnect):
        return  # the client left; nothing to answer
    handlers = getattr(app, "exception_handlers", None) or {}
    handler = lookup_exception_handler(handlers, exc, websocket=True)
    try:
        if handler is not None:
            result = handler(websocket, exc)
            if inspect.isawaitable(result):
                await result
        elif isinstance(exc, WebSocketException):
            await _close_websocket(websocket, exc.code, exc.reason)
        elif isinstance(exc, WebSocketRequestValidationError):
            errors = json.dumps(exc.errors(), default=str)
            await _close_websocket(websocket, 1008, errors)
        elif (
            isinstance(exc, HTTPException)
            and websocket.application_state is WebSocketState.CONNECTING
        ):
            websocket._deny(exc.status_code)
        else:
            _log_websocket_error(websocket, exc)
            await _close_websocket(websocket, 1011, "")
    except Exception as inner:
        _log_websocket_error(websocket, inner)
        await _close_websocket(websocket, 1011, "")


async def _close_websocket(websocket: WebSocket, code: int, reason: str) -> None:
    """Closes unless closed already; an error before `accept()` answers HTTP 500, as uvicorn."""
    state = websocket.application_state
    if state is WebSocketState.CONNECTING and code == 1011:
        websocket._deny(500)
    elif state is not WebSocketState.DISCONNECTED:
        await websocket.close(code, reason)


def _finish_websocket(websocket: WebSocket) -> None:
    """The handler is done: close normally (1000), or 500 if it never answered the handshake."""
    state = websocket.application_state
    if state is WebSocketState.CONNECTED:
        websocket.application_state = WebSocketState.DISCONNECTED
        websocket._channel.close(1000, "")
    elif state is WebSocketState.CONNECTING:
        logger.error("WebSocket handler for %s returned without accepting or closing", websocket)
        websocket._deny(500)


def _log_websocket_error(websocket: WebSocket, exc: BaseException) -> None:
    logger.error(
        "Exception in WebSocket %s",
        websocket._data.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )


# Every method a mounted app may answer.
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


class Mount:
    """An ASGI app under a path prefix (``app.mount("/admin", admin_app, name="admin")``):
    a Starlette or Ignyx app, a WSGI app behind ``WSGIMiddleware``, static files. The app
    sees Starlette's scope for it: ``root_path`` extended by the prefix, the full ``path``."""

    def __init__(
        self,
        path: str,
        app: Any = None,
        routes: Optional[Sequence[Any]] = None,
        name: Optional[str] = None,
    ) -> None:
        assert path == "" or path.startswith("/"), "Routed paths must start with '/'"
        assert app is not None or routes is not None, (
            "Either 'app=...', or 'routes=' must be specified"
        )
        self.path = path.rstrip("/")
        if app is None:
            router = APIRouter()
            router.routes = list(routes or [])
            app = router
        self.app = app
        self.name = name
        self.path_format = self.path + "/{path}"

    @property
    def routes(self) -> list[Any]:
        return list(getattr(self.app, "routes", []) or [])

    def matches(self, scope: dict[str, Any]) -> tuple[Match, dict[str, Any]]:
        """Starlette's mount test: FULL with the child scope (``root_path`` extended)."""
        if scope.get("type") not in ("http", "websocket"):
            return Match.NONE, {}
        regex, _, convertors = compile_path(self.path + "/{path:path}")
        path = route_path(scope)
        found = regex.match(path)
        if found is None:
            return Match.NONE, {}
        params = found.groupdict()
        remaining = "/" + params.pop("path")
        matched = path[: -len(remaining)]
        root_path = scope.get("root_path", "")
        child = {
            "path_params": {**(scope.get("path_params") or {}), **params},
            "app_root_path": scope.get("app_root_path", root_path),
            "root_path": root_path + matched,
            "endpoint": self.app,
        }
        return Match.FULL, child

    def url_path_for(self, name: str, /, **path_params: Any) -> Optional[str]:
        """The path of `name`: this mount itself (``path=`` the rest), or ``"mount:route"``
        in the mounted app; None when neither."""
        if self.name is not None and name == self.name and "path" in path_params:
            rest = str(path_params.pop("path")).lstrip("/")
            return f"{self.path}/{rest}"
        prefix = f"{self.name}:" if self.name is not None else ""
        if self.name is not None and not name.startswith(prefix):
            return None
        inner = getattr(self.app, "url_path_for", None)
        if inner is None:
            return None
        try:
            return self.path + str(inner(name[len(prefix) :], **path_params))
        except LookupError:
            return None

    def compile(self, app: Any) -> dict[str, Any]:
        """What `ignyx._core.App.add_route` takes for this mount: every method, under it."""
        return {
            "path": self.path + "/{path:path}",
            "methods": _ALL_METHODS,
            "call": mount_entry(app, self.path, self.app),
            "is_async": True,
            "status_code": 200,
            "route": self,
        }

    def __repr__(self) -> str:
        return f"Mount(path={self.path!r}, name={self.name!r}, app={self.app!r})"


class Route:
    """A Starlette route: ``endpoint(request)`` answers with a ``Response``, with no
    parameters read from the signature (``app.add_route("/health", health)``)."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Optional[Sequence[str]] = None,
        name: Optional[str] = None,
        include_in_schema: bool = True,
    ) -> None:
        assert path.startswith("/"), "Routed paths must start with '/'"
        self.path = path
        self.endpoint = endpoint
        self.methods = {method.upper() for method in methods or ["GET"]}
        if "GET" in self.methods:
            self.methods.add("HEAD")
        self.name = name or getattr(endpoint, "__name__", type(endpoint).__name__)
        self.include_in_schema = include_in_schema
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)

    def matches(self, scope: dict[str, Any]) -> tuple[Match, dict[str, Any]]:
        if scope.get("type") != "http":
            return Match.NONE, {}
        params = match_path(self.path_regex, self.param_convertors, scope)
        if params is None:
            return Match.NONE, {}
        child = {"endpoint": self.endpoint, "path_params": params}
        return (Match.FULL if scope.get("method") in self.methods else Match.PARTIAL), child

    def compile(self, app: Any) -> dict[str, Any]:
        """What `ignyx._core.App.add_route` takes: the endpoint, called with the request.
        Add-ons' endpoints may answer with Starlette's own responses, taken as ours."""
        endpoint = self.endpoint
        if inspect.iscoroutinefunction(endpoint):

            async def call_async(request: Request) -> Any:
                return as_response(await endpoint(request))

            return self._spec(call_async, True)

        def call(request: Request) -> Any:
            return as_response(endpoint(request))

        return self._spec(call, False)

    def _spec(self, call: Callable[[Request], Any], is_async: bool) -> dict[str, Any]:
        return {
            "path": self.path,
            "methods": sorted(self.methods),
            "call": call,
            "is_async": is_async,
            "status_code": 200,
            "route": self,
        }


class APIRouter:
    """A group of path operations with a shared prefix, tags, dependencies and responses."""

    def __init__(
        self,
        *,
        prefix: str = "",
        tags: Optional[list[Union[str, Enum]]] = None,
        dependencies: Optional[Sequence[params.Depends]] = None,
        default_response_class: Any = Default(JSONResponse),
        responses: Optional[dict[Union[int, str], dict[str, Any]]] = None,
        deprecated: Optional[bool] = None,
        include_in_schema: bool = True,
        generate_unique_id_function: Callable[[APIRoute], str] = generate_unique_id,
        route_class: type[APIRoute] = APIRoute,
        **_: Any,
    ) -> None:
        self.route_class = route_class
        if prefix:
            assert prefix.startswith("/"), "A path prefix must start with '/'"
            assert not prefix.endswith("/"), "A path prefix must not end with '/'"
        self.prefix = prefix
        self.tags = list(tags or [])
        self.dependencies = list(dependencies or [])
        self.default_response_class = default_response_class
        self.responses = dict(responses or {})
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.generate_unique_id_function = generate_unique_id_function
        self.routes: list[Any] = []

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> APIRoute:
        tags = self.tags + list(kwargs.pop("tags", None) or [])
        dependencies = self.dependencies + list(kwargs.pop("dependencies", None) or [])
        responses = {**self.responses, **(kwargs.pop("responses", None) or {})}
        response_class = kwargs.pop("response_class", Default(JSONResponse))
        if isinstance(response_class, DefaultPlaceholder):
            response_class = self.default_response_class
        deprecated = kwargs.pop("deprecated", None)
        include = kwargs.pop("include_in_schema", True) and self.include_in_schema
        route_class = kwargs.pop("route_class_override", None) or self.route_class
        route = route_class(
            self.prefix + path,
            endpoint,
            tags=tags,
            dependencies=dependencies,
            responses=responses,
            response_class=response_class,
            deprecated=deprecated if deprecated is not None else self.deprecated,
            include_in_schema=include,
            generate_unique_id_function=kwargs.pop(
                "generate_unique_id_function", self.generate_unique_id_function
            ),
            **kwargs,
        )
        self.routes.append(route)
        return route

    def api_route(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        def decorator(func: Callable) -> Callable:
            self.add_api_route(path, func, **kwargs)
            return func

        return decorator

    def _method(self, method: str, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self.api_route(path, methods=[method], **kwargs)

    def get(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("DELETE", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("HEAD", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("OPTIONS", path, **kwargs)

    def trace(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("TRACE", path, **kwargs)

    def websocket(
        self, path: str, name: Optional[str] = None, *, dependencies: Any = None
    ) -> Callable[[Callable], Callable]:
        def decorator(func: Callable) -> Callable:
            self.add_api_websocket_route(path, func, name=name, dependencies=dependencies)
            return func

        return decorator

    def add_api_websocket_route(
        self, path: str, endpoint: Callable, name: Optional[str] = None, dependencies: Any = None
    ) -> None:
        deps = self.dependencies + list(dependencies or [])
        self.routes.append(
            APIWebSocketRoute(self.prefix + path, endpoint, name=name, dependencies=deps)
        )

    def include_router(
        self,
        router: APIRouter,
        *,
        prefix: str = "",
        tags: Optional[list[Union[str, Enum]]] = None,
        dependencies: Optional[Sequence[params.Depends]] = None,
        responses: Optional[dict[Union[int, str], dict[str, Any]]] = None,
        deprecated: Optional[bool] = None,
        include_in_schema: bool = True,
        default_response_class: Any = Default(JSONResponse),
        **_: Any,
    ) -> None:
        """Adds `router`'s routes under `prefix`, with extra tags, dependencies and responses."""
        if prefix:
            assert prefix.startswith("/"), "A path prefix must start with '/'"
            assert not prefix.endswith("/"), "A path prefix must not end with '/'"
        for route in router.routes:
            if isinstance(route, APIRoute):
                response_class = route.response_class
                if isinstance(response_class, DefaultPlaceholder) and not isinstance(
                    default_response_class, DefaultPlaceholder
                ):
                    response_class = default_response_class
                self.add_api_route(
                    prefix + route.path,
                    route.endpoint,
                    response_model=route.response_model,
                    status_code=route.status_code,
                    tags=list(tags or []) + route.tags,
                    dependencies=list(dependencies or []) + route.dependencies,
                    summary=route.summary,
                    description=route.description,
                    response_description=route.response_description,
                    responses={**(responses or {}), **route.responses},
                    deprecated=route.deprecated or deprecated,
                    methods=route.methods,
                    operation_id=route.operation_id,
                    response_model_include=route.response_model_include,
                    response_model_exclude=route.response_model_exclude,
                    response_model_by_alias=route.response_model_by_alias,
                    response_model_exclude_unset=route.response_model_exclude_unset,
                    response_model_exclude_defaults=route.response_model_exclude_defaults,
                    response_model_exclude_none=route.response_model_exclude_none,
                    include_in_schema=route.include_in_schema and include_in_schema,
                    response_class=response_class,
                    name=route.name,
                    callbacks=route.callbacks,
                    openapi_extra=route.openapi_extra,
                    route_class_override=type(route),
                )
            elif isinstance(route, APIWebSocketRoute):
                self.add_api_websocket_route(
                    prefix + route.path,
                    route.endpoint,
                    name=route.name,
                    dependencies=list(dependencies or []) + route.dependencies,
                )


__all__ = ["APIRoute", "APIRouter", "APIWebSocketRoute", "BackgroundTasks", "generate_unique_id"]
