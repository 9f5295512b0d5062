"""The default exception handlers, for custom handlers that wrap them::

@app.exception_handler(HTTPException)
async def logged(request, exc):
    log(exc)
    return await http_exception_handler(request, exc)

and ``lookup_exception_handler``, which picks the handler an exception goes to.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from .encoders import jsonable_encoder
from .exceptions import HTTPException, RequestValidationError, WebSocketRequestValidationError
from .requests import Request
from .responses import JSONResponse, Response
from .status import WS_1008_POLICY_VIOLATION

if TYPE_CHECKING:  # the handlers of HTTP errors need nothing of WebSockets
    from .websockets import WebSocket


async def http_exception_handler(request: Request, exc: HTTPException) -> Response:
    """FastAPI's default: ``{"detail": ...}`` with the exception's status and headers."""
    headers = getattr(exc, "headers", None)
    if exc.status_code < 200 or exc.status_code in (204, 205, 304):
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


async def request_validation_exception_handler(
    request: Request, exc: RequestValidationError
) -> JSONResponse:
    """FastAPI's default: 422 with ``{"detail": [errors]}``."""
    content = {"detail": jsonable_encoder(exc.errors())}
    try:
        return JSONResponse(status_code=422, content=content)
    except ValueError:
        # An input such as 1e400 is inf, which JSON cannot carry: report it as text
        # rather than failing with a 500 on bad input.
        return JSONResponse(status_code=422, content=_finite(content))


async def websocket_request_validation_exception_handler(
    websocket: WebSocket, exc: WebSocketRequestValidationError
) -> None:
    """FastAPI's default: closes the socket with 1008 and the errors, as JSON, as reason."""
    reason = json.dumps(jsonable_encoder(exc.errors()))
    await websocket.close(code=WS_1008_POLICY_VIOLATION, reason=reason)


def lookup_exception_handler(
    handlers: Mapping[Union[int, type], Callable[..., Any]],
    exc: BaseException,
    *,
    websocket: bool = False,
    catch_alls: bool = True,
) -> Optional[Callable[..., Any]]:
    """The handler registered for `exc`: for an ``HTTPException`` the one for its status code,
    else the one for the nearest class of its MRO; None when there is none.

    With `websocket`, as in Starlette, what only answers HTTP requests does not apply: status
    codes, the catch-alls (``Exception``, ``BaseException``) and FastAPI's default handlers.
    Without `catch_alls`, the handlers Starlette's ``ServerErrorMiddleware`` runs, outside the
    app's middleware, do not apply: the catch-alls and the one for status 500.
    """
    catch_alls = catch_alls and not websocket
    if not websocket and isinstance(exc, HTTPException) and exc.status_code in handlers:
        if catch_alls or exc.status_code != 500:
            return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if not catch_alls and cls in _CATCH_ALLS:
            return None
        if cls in handlers:
            handler = handlers[cls]
            if websocket and handler in _HTTP_DEFAULTS:
                return None
            return handler
    return None


_CATCH_ALLS = (Exception, BaseException)
_HTTP_DEFAULTS = (http_exception_handler, request_validation_exception_handler)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
