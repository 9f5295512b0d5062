"""The OpenTelemetry API, in one place: what the telemetry modules use of it.

``opentelemetry-api`` is a dependency of Ignyx (as of FastAPI); an environment that lacks
it anyway gets this clear error when telemetry is asked for, and the app runs without
telemetry otherwise (``Ignyx._telemetry_config``).
"""

try:
    from opentelemetry import _logs, metrics, propagate, trace
    from opentelemetry import context as otel_context
    from opentelemetry._logs import Logger, SeverityNumber
    from opentelemetry.propagators.textmap import Getter
    from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
except ImportError as exc:
    raise ImportError(
        "telemetry needs the OpenTelemetry API, a dependency of ignyx: "
        "pip install opentelemetry-api"
    ) from exc

__all__ = [
    "Getter",
    "Logger",
    "SeverityNumber",
    "Span",
    "SpanKind",
    "StatusCode",
    "Tracer",
    "_logs",
    "metrics",
    "otel_context",
    "propagate",
    "trace",
]
