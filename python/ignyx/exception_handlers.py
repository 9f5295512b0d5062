"""The default exception handlers, for custom handlers that wrap them::

@app.exception_handler(HTTPException)
async def logged(request, exc):
    log(exc)
    return await http_exception_handler(request, exc)
"""

from __future__ import annotations

import math
from typing import Any

from .encoders import jsonable_encoder
from .exceptions import HTTPException, RequestValidationError
from .requests import Request
from .responses import JSONResponse, Response


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


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
