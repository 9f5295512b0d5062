"""The telemetry of each HTTP request and WebSocket connection, as FastAPI 0.165 records
it: a SERVER span named ``METHOD /route`` with OpenTelemetry's HTTP attributes (its parent
taken from the request's trace headers), the ``http.server.request.duration`` histogram and
``http.server.active_requests`` counter, and log records, all through the configured
providers. It runs as the outermost Python middleware of an app with telemetry on."""

from __future__ import annotations

import os
from contextlib import nullcontext
from time import perf_counter
from typing import Any, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit

from .._version import __version__
from ..datastructures import Headers
from . import _api
from ._api import HTTP_METHODS, RequestTelemetry, exception_type, normal_close
from ._otel import Getter, SpanKind, StatusCode, _logs, metrics, otel_context, propagate, trace

SCOPE_NAME = "fastapi"
SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"
# The buckets OpenTelemetry's HTTP semantic conventions advise, in seconds.
DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
# Query parameters carrying credentials, written as REDACTED in `url.query`.
SENSITIVE_QUERY = frozenset(
    {"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "sig", "X-Goog-Signature"}
)
# Providers that stand in until an application configures one: telemetry through them is off.
_PLACEHOLDERS = frozenset(
    {
        ("opentelemetry.trace", "ProxyTracerProvider"),
        ("opentelemetry.metrics._internal", "_ProxyMeterProvider"),
        ("opentelemetry._logs._internal", "ProxyLoggerProvider"),
    }
)
_NO_OP = (trace.NoOpTracerProvider, metrics.NoOpMeterProvider, _logs.NoOpLoggerProvider)


class _HeadersGetter(Getter[Headers]):
    def get(self, carrier: Headers, key: str) -> Optional[list[str]]:
        values = carrier.getlist(key)
        if not values:
            return None
        # The baggage propagator reads one value: all of them, joined.
        return [",".join(values)] if key.lower() == "baggage" else values

    def keys(self, carrier: Headers) -> list[str]:
        return list(carrier.keys())


_GETTER = _HeadersGetter()


def placeholder(provider: Any) -> bool:
    """Whether `provider` is OpenTelemetry's stand-in for one not configured yet."""
    cls = type(provider)
    return (cls.__module__, cls.__name__) in _PLACEHOLDERS


def _provider(given: Any, global_provider: Any) -> Optional[Any]:
    """The provider to record through (`given`, else the global one), or None when telemetry
    through it would go nowhere."""
    provider = given if given is not None else global_provider
    if given is None and placeholder(provider):
        return None
    if isinstance(provider, _NO_OP):
        return None
    return provider


def enabled(config: _api.TelemetryConfig) -> bool:
    """Whether any signal has a provider to record through now."""
    return bool(
        (config["tracing"] and _provider(config["tracer_provider"], trace.get_tracer_provider()))
        or (config["metrics"] and _provider(config["meter_provider"], metrics.get_meter_provider()))
        or (config["logs"] and _provider(config["logger_provider"], _logs.get_logger_provider()))
    )


def _server_attributes(scope: dict[str, Any]) -> dict[str, Any]:
    """``server.address`` and ``server.port`` from the Host header (else the socket)."""
    authority = Headers(scope=scope).get("host")
    if authority is None:
        address, port = scope.get("server") or (None, None)
    else:
        try:
            url = urlsplit("//" + authority)
            address, port = url.hostname, url.port
        except ValueError:
            return {}
        if url.username is not None or url.path or url.query or url.fragment:
            return {}
        if port is None:
            default_ports = {"http": 80, "https": 443, "ws": 80, "wss": 443}
            port = default_ports.get(scope.get("scheme", "http"))
    if address is None:
        return {}
    attributes: dict[str, Any] = {"server.address": address}
    if port is not None:
        attributes["server.port"] = port
    return attributes


def _redacted_query(query_string: bytes) -> str:
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return urlencode([(k, "REDACTED" if k in SENSITIVE_QUERY else v) for k, v in pairs])


def _route_of(app: Any, scope: dict[str, Any], status: Optional[int]) -> Optional[str]:
    """The template of the route that took the request (for a 405, the route whose path
    matched), under the path the app is mounted at (a mounted app's routes under
    ``/{path}``)."""
    route = scope.get("route")
    if route is None and status == 405:
        from .._paths import Match

        partial = (r for r in app.routes if r.matches(scope)[0] is Match.PARTIAL)
        route = next(partial, None)
    template = getattr(route, "path_format", None)
    if template is None:
        return None
    prefix = scope.get("app_root_path", scope.get("root_path", "")).rstrip("/")
    return prefix + template


class TelemetryMiddleware:
    def __init__(self, app: Any, config: _api.TelemetryConfig, observed: Any) -> None:
        self.app = app
        self.config = config
        # The Ignyx app observed (its routes name a 405's route).
        self.observed = observed
        known = os.getenv("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "").strip()
        self.known_methods = (
            frozenset(m.strip() for m in known.split(",") if m.strip()) if known else HTTP_METHODS
        )
        self._instruments: Optional[tuple[Any, Any, Any]] = None
        self._tracer: Optional[tuple[Any, Any]] = None

    def _metrics(self, provider: Any) -> tuple[Any, Any]:
        if self._instruments is None or self._instruments[0] is not provider:
            meter = provider.get_meter(SCOPE_NAME, __version__, schema_url=SCHEMA_URL)
            duration = meter.create_histogram(
                "http.server.request.duration",
                unit="s",
                description="Duration of HTTP server requests.",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            )
            active = meter.create_up_down_counter(
                "http.server.active_requests",
                unit="{request}",
                description="Number of active HTTP server requests.",
            )
            self._instruments = (provider, duration, active)
        return self._instruments[1], self._instruments[2]

    def _tracer_of(self, provider: Any) -> Any:
        if self._tracer is None or self._tracer[0] is not provider:
            self._tracer = (
                provider,
                provider.get_tracer(SCOPE_NAME, __version__, schema_url=SCHEMA_URL),
            )
        return self._tracer[1]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        config = self.config
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if config["exclude"] is not None and config["exclude"](scope):
            # Nothing inside (a mounted app's telemetry) observes it either.
            token = otel_context.attach(otel_context.set_value(_api.CONTEXT_KEY, None))
            try:
                await self.app(scope, receive, send)
            finally:
                otel_context.detach(token)
            return
        is_websocket = kind == "websocket"
        tracer_provider = config["tracing"] and _provider(
            config["tracer_provider"], trace.get_tracer_provider()
        )
        meter_provider = (
            config["metrics"]
            and not is_websocket
            and _provider(config["meter_provider"], metrics.get_meter_provider())
        )
        logger_provider = config["logs"] and _provider(
            config["logger_provider"], _logs.get_logger_provider()
        )
        if not (tracer_provider or meter_provider or logger_provider):
            await self.app(scope, receive, send)
            return
        await self._observed(
            scope, receive, send, is_websocket, tracer_provider, meter_provider, logger_provider
        )

    async def _observed(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        is_websocket: bool,
        tracer_provider: Any,
        meter_provider: Any,
        logger_provider: Any,
    ) -> None:
        config = self.config
        original_method = scope.get("method", "")
        method = original_method if original_method in self.known_methods else "_OTHER"
        span_method = "WS" if is_websocket else ("HTTP" if method == "_OTHER" else method)
        attributes: dict[str, Any] = {
            "url.scheme": scope.get("scheme", "ws" if is_websocket else "http")
        }
        if is_websocket:
            attributes["network.protocol.name"] = "websocket"
        else:
            attributes["http.request.method"] = method
            if scope.get("http_version"):
                attributes["network.protocol.version"] = scope["http_version"]
        duration, active = self._metrics(meter_provider) if meter_provider else (None, None)
        active_attributes = {k: v for k, v in attributes.items() if k != "network.protocol.version"}
        if active is not None:
            active.add(1, active_attributes)
        started = perf_counter()
        span = tracer = parent_token = None
        if tracer_provider:
            parent = propagate.extract(Headers(scope=scope), getter=_GETTER)
            parent_token = otel_context.attach(parent)
            tracer = self._tracer_of(tracer_provider)
            span_attributes = {**attributes, **_server_attributes(scope)}
            if not is_websocket:
                span_attributes["url.path"] = scope["path"]
                if scope.get("query_string"):
                    span_attributes["url.query"] = _redacted_query(scope["query_string"])
                if original_method != method:
                    span_attributes["http.request.method_original"] = original_method
            span = tracer.start_span(
                span_method, context=parent, kind=SpanKind.SERVER, attributes=span_attributes
            )
        telemetry = RequestTelemetry(
            span=span,
            span_method=span_method,
            tracer=tracer if config["operation_spans"] else None,
            logger=_logs.get_logger(SCOPE_NAME, __version__, logger_provider, schema_url=SCHEMA_URL)
            if logger_provider
            else None,
        )
        token = otel_context.attach(otel_context.set_value(_api.CONTEXT_KEY, telemetry))
        finished = False
        trailers = disconnected = False

        def finish(error: Optional[BaseException] = None) -> None:
            nonlocal finished
            if finished:
                return
            finished = True
            if error is None and is_websocket and telemetry.exceptions:
                # What a handler's failure would have raised here, had the route not closed
                # the connection itself (1011).
                error = telemetry.exceptions[-1]
            route = telemetry.route or _route_of(self.observed, scope, telemetry.status_code)
            if route is not None:
                telemetry.route = route
                attributes["http.route"] = route
                if span is not None:
                    span.update_name(f"{span_method} {route}")
            if telemetry.status_code is not None:
                attributes["http.response.status_code"] = telemetry.status_code
            failed = error is not None or (
                not is_websocket and (telemetry.status_code or 500) >= 500
            )
            if failed:
                failure = error or (telemetry.exceptions[-1] if telemetry.exceptions else None)
                attributes["error.type"] = (
                    exception_type(failure)
                    if failure is not None
                    else str(telemetry.status_code or "incomplete_response")
                )
            if span is not None:
                span.set_attributes(attributes)
                if failed:
                    span.set_status(StatusCode.ERROR)
            # Recorded while the span is current, for exemplars.
            if duration is not None:
                duration.record(max(0.0, perf_counter() - started), attributes)
            if active is not None:
                active.add(-1, active_attributes)
            if span is not None:
                span.end()

        async def observed_send(message: dict[str, Any]) -> None:
            nonlocal trailers
            kind = message["type"]
            if kind == "http.response.start":
                telemetry.status_code = message["status"]
                trailers = message.get("trailers", False)
            await send(message)
            if (
                (kind == "http.response.body" and not message.get("more_body") and not trailers)
                or (kind == "http.response.trailers" and not message.get("more_trailers"))
                or kind == "http.response.pathsend"
            ):
                finish()

        async def observed_receive() -> dict[str, Any]:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
            return message

        current = (
            trace.use_span(
                span, end_on_exit=False, record_exception=False, set_status_on_exception=False
            )
            if span is not None
            else nullcontext()
        )
        try:
            with current:
                try:
                    await self.app(
                        scope,
                        receive if is_websocket else observed_receive,
                        send if is_websocket else observed_send,
                    )
                except Exception as exc:
                    if is_websocket or telemetry.status_code is not None:
                        _api.exception(exc, is_websocket)
                        finish(None if is_websocket and normal_close(exc) else exc)
                        raise
                    # Where FastAPI observes, Starlette's ServerErrorMiddleware is right
                    # inside: its answer (the app's 500) is what this request's telemetry
                    # sees, and the exception is answered (and recorded) here.
                    await self.observed._answer_error(scope, observed_receive, observed_send, exc)
                    finish(exc)
                except BaseException as exc:
                    _api.exception(exc, is_websocket)
                    finish(None if is_websocket and normal_close(exc) else exc)
                    raise
                finally:
                    if not finished:
                        finish(
                            None
                            if is_websocket
                            else ConnectionError("Client disconnected")
                            if disconnected
                            else RuntimeError("Incomplete ASGI response")
                        )
        finally:
            telemetry.data = None
            telemetry.exceptions.clear()
            otel_context.detach(token)
            if parent_token is not None:
                otel_context.detach(parent_token)
