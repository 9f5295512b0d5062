"""WebSocket routes: ``APIWebSocketRoute`` (parameters and ``Depends`` as on HTTP routes)
and Starlette's plain ``WebSocketRoute`` (``endpoint(websocket)``), each compiled into
what the engine starts for an upgrade."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
from typing import Any, Callable, Coroutine, Optional

from .._paths import Match, compile_path, match_path
from .._runtime import USER_FAULTS
from ..dependencies import (
    RequestContext,
    build_route_dependant,
    own_values,
    solve_async,
)
from ..exception_handlers import lookup_exception_handler
from ..exceptions import (
    HTTPException,
    WebSocketException,
    WebSocketRequestValidationError,
)
from ..websockets import WebSocket, WebSocketDisconnect, WebSocketState

logger = logging.getLogger("ignyx.error")


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
        _take_unannotated_connection(self.dependant, endpoint)
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

    def compile_websocket(self, app: Any) -> dict[str, Any]:
        """What `ignyx._core.App.add_websocket_route` takes for this route."""
        return {"path": self.path, "call": self._make_call(app)}

    def _make_call(self, app: Any) -> Callable[[Any, Any], asyncio.Task]:
        serve = self._serve(app)
        tasks = self._tasks

        def start(data: Any, channel: Any) -> asyncio.Task:
            # Called for each upgrade request: by the engine during a loop pass, or by the
            # ASGI app, which awaits the task.
            task = asyncio.get_running_loop().create_task(serve(WebSocket(data, app, channel)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            return task

        return start

    def _serve(self, app: Any) -> Callable[[WebSocket], Coroutine[Any, Any, None]]:
        """The handler of one connection: its parameters solved, the endpoint called."""
        dependant = self.dependant
        endpoint = self.endpoint
        overrides = getattr(app, "dependency_overrides", None)
        nested = bool(dependant.dependencies)

        telemetry = _telemetry_hooks(app)
        operation = telemetry.operation if telemetry is not None else _untraced
        template = compile_path(self.path)[1]

        async def serve(websocket: WebSocket) -> None:
            ctx = RequestContext(websocket, overrides)
            error: Optional[BaseException] = None
            data = None
            if telemetry is not None:
                observed = telemetry.route_selected(websocket.scope.get("root_path", ""), template)
                data = observed.data if observed is not None else None
                if data is not None:
                    data.websocket = websocket
            try:
                with operation("dependencies", endpoint):
                    if nested:
                        values = await solve_async(dependant, ctx, False)
                    else:
                        values = own_values(dependant, ctx, False)
                    if data is not None:
                        data.values, data.errors = values, ctx.errors
                if ctx.errors:
                    invalid = WebSocketRequestValidationError(ctx.errors)
                    if telemetry is not None:
                        telemetry.validation_failed(invalid)
                    raise invalid
                values.pop(None, None)
                with operation("endpoint", endpoint):
                    result = endpoint(**values)
                    if inspect.isawaitable(result):
                        await result
            except USER_FAULTS as exc:
                error = exc
                await _handle_websocket_error(app, websocket, exc)
            finally:
                if ctx.stack is not None:
                    await _exit_dependencies(ctx.stack, error)
                _finish_websocket(websocket)

        return serve


class WebSocketRoute(APIWebSocketRoute):
    """Starlette's plain WebSocket route: ``endpoint(websocket)``, with nothing read from
    its signature (``app.add_websocket_route("/ws", endpoint)``)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, name: Optional[str] = None):
        super().__init__(path, _no_parameters, name=name or getattr(endpoint, "__name__", None))
        self.endpoint = endpoint

    def _serve(self, app: Any) -> Callable[[WebSocket], Coroutine[Any, Any, None]]:
        endpoint = self.endpoint

        async def serve(websocket: WebSocket) -> None:
            try:
                await endpoint(websocket)
            except USER_FAULTS as exc:
                await _handle_websocket_error(app, websocket, exc)
            finally:
                _finish_websocket(websocket)

        return serve


def _take_unannotated_connection(dependant: Any, endpoint: Callable[..., Any]) -> None:
    """Gives the connection to the handler of Ignyx's first README, ``async def
    handler(ws):``: when no parameter is annotated ``WebSocket``, the first one with neither
    annotation nor default (not a path parameter) is the connection, where FastAPI would
    read a required query parameter. Annotated parameters are read as FastAPI reads them."""
    if dependant.websocket_param is not None:
        return
    queried = {field.name: field for field in dependant.query_params}
    for name, parameter in inspect.signature(endpoint).parameters.items():
        if (
            name in queried
            and parameter.annotation is parameter.empty
            and parameter.default is parameter.empty
        ):
            dependant.query_params.remove(queried[name])
            dependant.websocket_param = name
            return


def _telemetry_hooks(app: Any) -> Any:
    """`ignyx.telemetry._api` when the app has telemetry on, else None."""
    if getattr(app, "_telemetry", None) is None:
        return None
    from ..telemetry import _api

    return _api


def _untraced(name: str, function: Any) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


def _no_parameters() -> None:
    """What a plain WebSocket route's plan is built from: it reads no parameters."""


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


async def _handle_websocket_error(app: Any, websocket: WebSocket, exc: BaseException) -> None:
    """What Starlette and FastAPI do with an exception escaping a WebSocket handler."""
    if isinstance(exc, WebSocketDisconnect):
        _unhandled(app, exc)  # the client left; nothing to answer
        return
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
            _unhandled(app, exc)
            _log_websocket_error(websocket, exc)
            await _close_websocket(websocket, 1011, "")
    except Exception as inner:
        _log_websocket_error(websocket, inner)
        await _close_websocket(websocket, 1011, "")


def _unhandled(app: Any, exc: BaseException) -> None:
    """Tells the connection's telemetry, when the app has it on, of an exception no handler
    took (a normal close is none)."""
    if getattr(app, "_telemetry", None) is not None:
        from ..telemetry import _api

        _api.exception(exc, websocket=True)


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
