"""The exceptions a handler raises to answer with an error, and the ones Ignyx raises itself::

    from ignyx.exceptions import HTTPException

    @app.get("/items/{item_id}")
    async def read_item(item_id: int):
        if item_id not in items:
            raise HTTPException(status_code=404, detail="Item not found")
        return items[item_id]

They behave like Starlette's and FastAPI's, so ``except HTTPException`` and custom exception
handlers written for FastAPI keep working.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Optional, TypedDict

from pydantic import BaseModel, create_model

__all__ = [
    "DependencyScopeError",
    "EndpointContext",
    "FastAPIDeprecationWarning",
    "FastAPIError",
    "HTTPException",
    "IgnyxError",
    "PydanticV1NotSupportedError",
    "RequestErrorModel",
    "RequestValidationError",
    "ResponseValidationError",
    "ValidationException",
    "WebSocketErrorModel",
    "WebSocketException",
    "WebSocketRequestValidationError",
]


# Each status code's reason phrase, as ``http.client.responses`` has them.
_PHRASES = {status.value: status.phrase for status in HTTPStatus}


class HTTPException(Exception):
    """Stops the handler and answers ``{"detail": detail}`` with ``status_code`` and ``headers``.

    ``detail`` may be any JSON-able value; when omitted it is the status's reason phrase
    (``HTTPException(404).detail == "Not Found"``).
    """

    def __init__(
        self,
        status_code: int,
        detail: Any = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        if detail is None:
            detail = _PHRASES.get(status_code, "")
        self.status_code = status_code
        self.detail = detail
        self.headers = headers

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(status_code={self.status_code!r}, detail={self.detail!r})"
        )


class WebSocketException(Exception):
    """Closes a WebSocket with close ``code`` (see ``ignyx.status.WS_*``) and ``reason``."""

    def __init__(self, code: int, reason: Optional[str] = None) -> None:
        self.code = code
        self.reason = reason or ""

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(code={self.code!r}, reason={self.reason!r})"


class FastAPIError(RuntimeError):
    """A mistake in how the app is put together; ``except FastAPIError`` catches Ignyx's own."""


class IgnyxError(FastAPIError):
    """The configuration errors Ignyx raises itself, so both names catch them::

    try:
        build_app()
    except FastAPIError as exc:  # also an IgnyxError
        sys.exit(str(exc))
    """


class DependencyScopeError(IgnyxError):
    """A dependency depends on another whose scope is narrower than its own."""


class PydanticV1NotSupportedError(IgnyxError):
    """A ``pydantic.v1`` model was given where only Pydantic 2 models work."""


class FastAPIDeprecationWarning(UserWarning):
    """A feature the app uses is deprecated; a ``UserWarning``, so Python shows it by default::

    warnings.filterwarnings("error", category=FastAPIDeprecationWarning)
    """


class EndpointContext(TypedDict, total=False):
    """Where the endpoint behind a validation error lives, shown in the error's message."""

    function: str
    path: str
    file: str
    line: int


# The models that name the location of a request's or a WebSocket's validation errors.
RequestErrorModel: type[BaseModel] = create_model("Request")
WebSocketErrorModel: type[BaseModel] = create_model("WebSocket")


class ValidationException(Exception):
    """Base of the validation errors: holds pydantic-style error dicts, read with ``.errors()``.

    ``endpoint_ctx`` (an ``EndpointContext``) says which endpoint failed, in ``str(exc)``.
    """

    def __init__(
        self, errors: Sequence[Any], *, endpoint_ctx: Optional[EndpointContext] = None
    ) -> None:
        self._errors = errors
        self.endpoint_ctx = endpoint_ctx
        context = endpoint_ctx or {}
        self.endpoint_function = context.get("function")
        self.endpoint_path = context.get("path")
        self.endpoint_file = context.get("file")
        self.endpoint_line = context.get("line")

    def errors(self) -> Sequence[Any]:
        return self._errors

    def _endpoint_lines(self) -> str:
        path = f"\n    {self.endpoint_path}" if self.endpoint_path else ""
        if self.endpoint_file and self.endpoint_line and self.endpoint_function:
            place = f'File "{self.endpoint_file}", line {self.endpoint_line}'
            return f"\n  {place}, in {self.endpoint_function}{path}"
        return f"\n  Endpoint: {self.endpoint_path}" if self.endpoint_path else ""

    def __str__(self) -> str:
        count = len(self._errors)
        message = f"{count} validation error{'s' if count != 1 else ''}:\n"
        for error in self._errors:
            message += f"  {error}\n"
        return (message + self._endpoint_lines()).rstrip()


class RequestValidationError(ValidationException):
    """The request did not match the handler's parameters; answered with a 422 by default.

    ``body`` is the request body as it was received, for handlers that want to echo it.
    """

    def __init__(
        self,
        errors: Sequence[Any],
        *,
        body: Any = None,
        endpoint_ctx: Optional[EndpointContext] = None,
    ) -> None:
        super().__init__(errors, endpoint_ctx=endpoint_ctx)
        self.body = body


class WebSocketRequestValidationError(ValidationException):
    """A WebSocket's parameters did not validate; the socket is closed with code 1008."""


class ResponseValidationError(ValidationException):
    """The handler's return value did not match its ``response_model``: a server bug, so a 500."""

    def __init__(
        self,
        errors: Sequence[Any],
        *,
        body: Any = None,
        endpoint_ctx: Optional[EndpointContext] = None,
    ) -> None:
        super().__init__(errors, endpoint_ctx=endpoint_ctx)
        self.body = body
