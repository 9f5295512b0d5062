"""The default exception handlers, for custom handlers that wrap them::

@app.exception_handler(HTTPException)
async def logged(request, exc):
    log(exc)
    return await http_exception_handler(request, exc)
"""

from __future__ import annotations

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
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(exc.errors())})
