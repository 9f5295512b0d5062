"""What the rest of Ignyx calls: the settings of ``FastAPI(telemetry={...})``, the telemetry
of the request in progress (kept in the OpenTelemetry context), and the hooks routes call:
`operation` around their steps, `validation_failed`, `exception`.

Every hook does nothing when no request telemetry is current, so a route compiled with them
costs a context lookup per step; routes get them only when telemetry is on (see
``ignyx.app``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from time import time_ns
from typing import Any, Optional

from typing_extensions import TypedDict

from ..exceptions import HTTPException, RequestValidationError, WebSocketRequestValidationError
from ._otel import Logger, SeverityNumber, Span, StatusCode, Tracer, otel_context

# The method names spans and metrics use as they are; any other is `_OTHER`.
HTTP_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)


class TelemetryConfig(TypedDict, total=False):
    """``FastAPI(telemetry={...})``; each setting left out keeps its default."""

    # Providers to use instead of OpenTelemetry's global ones.
    tracer_provider: Any
    meter_provider: Any
    logger_provider: Any
    # A span per HTTP request and WebSocket connection (default True).
    tracing: bool
    # The http.server.request.duration and http.server.active_requests metrics (True).
    metrics: bool
    # Log records of validation failures and unhandled exceptions (True).
    logs: bool
    # Spans for dependencies, the endpoint, serialization and background tasks (True).
    operation_spans: bool
    # Export by OTLP as the OTEL_* environment says, as serving starts (False, unless the
    # environment has FASTAPI_OTEL_AUTO_CONFIGURE or IGNYX_OTEL_AUTO_CONFIGURE true).
    auto_configure: bool
    # `exclude(scope)` returning True leaves that request or connection untraced.
    exclude: Optional[Callable[[MutableMapping[str, Any]], bool]]


DEFAULTS: TelemetryConfig = {
    "tracer_provider": None,
    "meter_provider": None,
    "logger_provider": None,
    "tracing": True,
    "metrics": True,
    "logs": True,
    "operation_spans": True,
    "auto_configure": False,
    "exclude": None,
}


@dataclass(kw_only=True)
class TelemetryData:
    """What a request or connection carried, for synchronous OpenTelemetry processors to
    read while it is handled (`get_telemetry_data`); filled in as it is handled."""

    request: Any = None
    websocket: Any = None
    # The body as read, before validation.
    body: Any = None
    # The parsed arguments, once dependencies are solved.
    values: Optional[dict[str, Any]] = None
    # The validation errors, with their input.
    errors: Optional[Sequence[Any]] = None


@dataclass(kw_only=True)
class RequestTelemetry:
    """The telemetry of one request or connection in progress."""

    span: Optional[Span]
    span_method: str
    # Set when operation spans are on.
    tracer: Optional[Tracer] = None
    logger: Optional[Logger] = None
    route: Optional[str] = None
    status_code: Optional[int] = None
    data: Optional[TelemetryData] = field(default_factory=TelemetryData)
    exceptions: list[BaseException] = field(default_factory=list, repr=False)


CONTEXT_KEY = otel_context.create_key("ignyx.request")


def current(context: Any = None) -> Optional[RequestTelemetry]:
    value = otel_context.get_value(CONTEXT_KEY, context)
    return value if isinstance(value, RequestTelemetry) else None


def get_telemetry_data(context: Any = None) -> Optional[TelemetryData]:
    """The data of the request or connection handled in `context` (the current one by
    default), or None once it is done."""
    telemetry = current(context)
    return telemetry.data if telemetry is not None else None


def exception_type(exc: BaseException) -> str:
    """``module.Qualified`` (just the name for builtins), as ``error.type`` says it."""
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def normal_close(exc: BaseException) -> bool:
    """A WebSocket closed normally (1000, 1001) is no failure."""
    from ..websockets import WebSocketDisconnect

    return isinstance(exc, WebSocketDisconnect) and exc.code in (1000, 1001)


# Raised by design, not failures of the operation that raised them.
_EXPECTED = (HTTPException, RequestValidationError, WebSocketRequestValidationError)


@contextlib.contextmanager
def operation(name: str, function: Any = None) -> Iterator[None]:
    """A ``fastapi.<name>`` span around one step of the request in progress (`function`
    named in ``code.function.name``), when operation spans are on; else nothing."""
    telemetry = current()
    if telemetry is None or telemetry.tracer is None:
        yield
        return
    attributes = {}
    if function is not None:
        module = getattr(function, "__module__", type(function).__module__)
        qualname = getattr(function, "__qualname__", type(function).__qualname__)
        attributes["code.function.name"] = f"{module}.{qualname}"
    with telemetry.tracer.start_as_current_span(
        f"fastapi.{name}",
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except Exception as exc:
            if name == "background_task" or not (isinstance(exc, _EXPECTED) or normal_close(exc)):
                span.set_attribute("error.type", exception_type(exc))
                span.set_status(StatusCode.ERROR)
            raise


def route_selected(root_path: str, template: str) -> Optional[RequestTelemetry]:
    """Names the route (`template`, under the path the app is served at) that handles the
    request in progress, on its span; returns that request's telemetry."""
    telemetry = current()
    if telemetry is None:
        return None
    telemetry.route = root_path.rstrip("/") + template
    if telemetry.span is not None:
        telemetry.span.set_attribute("http.route", telemetry.route)
        telemetry.span.update_name(f"{telemetry.span_method} {telemetry.route}")
    return telemetry


def validation_failed(exc: Any) -> None:
    """Records a request's failed validation: its errors (and body) in the telemetry data,
    and a ``fastapi.validation.failed`` log record."""
    telemetry = current()
    if telemetry is None:
        return
    errors = exc.errors()
    if telemetry.data is not None:
        if isinstance(exc, RequestValidationError):
            telemetry.data.body = exc.body
        telemetry.data.errors = errors
    if telemetry.logger is not None:
        attributes: dict[str, Any] = {"fastapi.validation.error_count": len(errors)}
        if telemetry.route is not None:
            attributes["http.route"] = telemetry.route
        telemetry.logger.emit(
            event_name="fastapi.validation.failed",
            timestamp=time_ns(),
            severity_number=SeverityNumber.WARN,
            severity_text="WARN",
            body="Request validation failed",
            attributes=attributes,
        )


def exception(exc: BaseException, websocket: bool = False) -> None:
    """Records an exception no handler took, once, with an ERROR log record."""
    telemetry = current()
    if telemetry is None or (websocket and normal_close(exc)):
        return
    if any(seen is exc for seen in telemetry.exceptions):
        return
    telemetry.exceptions.append(exc)
    if telemetry.logger is None or not isinstance(exc, Exception):
        return
    telemetry.logger.emit(
        exception=exc,
        event_name="fastapi.websocket.exception" if websocket else "http.server.request.exception",
        timestamp=time_ns(),
        severity_number=SeverityNumber.ERROR,
        severity_text="ERROR",
        body="Unhandled exception in FastAPI WebSocket connection"
        if websocket
        else "Unhandled exception in FastAPI request",
        attributes={"http.route": telemetry.route} if telemetry.route else None,
    )
